#!/usr/bin/env bash
# Installs whatever is missing to build, run and test RepoWiki, from the package
# registries only (crates.io, npm, Debian). Quick when everything is already there.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO_ROOT"

CARGO_LEPTOS_VERSION=0.3.10
step() { printf '\n==> %s\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if ! cargo leptos --version 2>/dev/null | grep -q " $CARGO_LEPTOS_VERSION"; then
  step "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 25 minutes on 2 cores)"
  cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked
fi

CARGO_DENY_VERSION=0.20.2
if ! cargo deny --version 2>/dev/null | grep -q " $CARGO_DENY_VERSION"; then
  step "installing cargo-deny $CARGO_DENY_VERSION (licenses, bans, sources; about 5 minutes)"
  cargo install cargo-deny --version "$CARGO_DENY_VERSION" --locked
fi

LEPTOSFMT_VERSION=0.1.33
if ! leptosfmt --version 2>/dev/null | grep -q " $LEPTOSFMT_VERSION"; then
  step "installing leptosfmt $LEPTOSFMT_VERSION (formats view! macros; about 3 minutes)"
  cargo install leptosfmt --version "$LEPTOSFMT_VERSION" --locked
fi

# The CLI must match the wasm-bindgen crate in Cargo.lock exactly. Installed without
# --locked: its own lock file pins crates that need a newer rustc.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION\$"; then
  step "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 6 minutes)"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

if [ ! -x node_modules/.bin/tailwindcss ] || [ ! -x node_modules/.bin/wasm-opt ] \
  || [ ! -x node_modules/.bin/playwright ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "installing Tailwind CSS, binaryen and Playwright from npm"
  # Playwright's own browser download cannot work offline; Debian's Chromium is used.
  # `npm install` rather than `npm ci`: npm 11 writes lock files without the other
  # platforms' optional packages and then refuses them in `npm ci`. The committed lock
  # still pins every version.
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund
fi

# highlight.js and mermaid are served from public/vendor, copied from node_modules
# (npm's postinstall does it too, but only when npm install runs).
[ -f public/vendor/mermaid.min.js ] || node frontend/copy-vendor.mjs

# schemathesis generates requests from the OpenAPI document (scripts/api-fuzz.sh); it
# lives in its own virtual environment under .tools/, not in the system's Python.
SCHEMATHESIS_VERSION=4.32.5
if ! .tools/schemathesis/bin/schemathesis --version 2>/dev/null | grep -q " $SCHEMATHESIS_VERSION\$"; then
  step "installing schemathesis $SCHEMATHESIS_VERSION from PyPI (API fuzzing; about 1 minute)"
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y python3-venv
  fi
  rm -rf .tools/schemathesis
  python3 -m venv .tools/schemathesis
  .tools/schemathesis/bin/pip install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
fi

# python-socketio, the seeds' other Socket.IO client, for the Socket.IO tests
# (end2end/python/socketio_client.py); its own virtual environment too.
PYTHON_SOCKETIO_VERSION=5.18.1
if ! .tools/socketio/bin/pip show python-socketio 2>/dev/null | grep -q "^Version: $PYTHON_SOCKETIO_VERSION\$"; then
  step "installing python-socketio $PYTHON_SOCKETIO_VERSION from PyPI (Socket.IO client tests)"
  rm -rf .tools/socketio
  python3 -m venv .tools/socketio
  .tools/socketio/bin/pip install --quiet "python-socketio[client]==$PYTHON_SOCKETIO_VERSION"
fi

if [ ! -x /usr/bin/chromium ]; then
  step "installing Debian's Chromium for the browser tests"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y chromium
fi
