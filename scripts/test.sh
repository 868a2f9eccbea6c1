#!/usr/bin/env bash
# Installs what is missing and runs every test: formatting and lints, unit and
# integration tests of the server and the app crate, then the browser tests in Chromium against the real release server.
# With DATABASE_URL pointing at PostgreSQL, the storage tests run there too; with REDIS_URL
# the scale-out tests start two servers sharing it (they say "skipped: REDIS_URL unset" without).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
"$REPO_ROOT/scripts/setup.sh"
cd "$REPO_ROOT"

step() { printf '\n==> %s\n' "$*"; }

step "format and lints (rustfmt, leptosfmt for view! macros, clippy with warnings as errors)"
cargo fmt --all --check
leptosfmt --check app/src
cargo clippy --workspace --all-targets -- -D warnings
step "dependencies: licenses, banned crates, sources (cargo deny, offline: deny.toml)"
# cargo deny reads the manifest of every package in Cargo.lock, also those of other
# platforms (Windows, UEFI) that no build here downloads: fetch them first (quick once
# they are cached), or a fresh machine fails this step.
cargo fetch --locked
cargo deny --offline check --hide-inclusion-graph bans licenses sources

# Property tests draw from a fixed seed here, so the test command is deterministic;
# unset PROPTEST_RNG_SEED (or set another) to search new inputs.
export PROPTEST_RNG_SEED="${PROPTEST_RNG_SEED:-20261203}"
step "server: unit and integration tests"
cargo test -p server
step "app: protocol and UI state tests (cargo leptos test skips this crate)"
cargo test -p app --features ssr

# The browser tests run what users run: the release build that scripts/run.sh serves (same
# profile, wasm-opt and JS minification). The debug build is not tested in the browser:
# it once hydrated where the release build could not.
step "browser tests: release build, then Playwright in Chromium"
cargo leptos build --release --precompress
# The browser tests check the default, zero-setup configuration: SQLite, one instance.
(cd end2end && env -u DATABASE_URL -u REDIS_URL npx playwright test)

step "API fuzzing: generated requests against the OpenAPI document (schemathesis)"
"$REPO_ROOT/scripts/api-fuzz.sh"
