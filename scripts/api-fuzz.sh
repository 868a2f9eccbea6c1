#!/usr/bin/env bash
# Generated requests against the OpenAPI document: starts the release server on its own
# port with a fresh data folder and runs schemathesis (from PyPI, installed by setup.sh)
# over every operation. It fails on any 5xx and on any response that contradicts the
# document: its status, media type, body schema or headers.
#
# Left out: the SSE stream (without `message` it follows a conversation forever), and
# the checks that the server accepts every schema-valid body and refuses every invalid
# one, since the server checks more than the schema says (an upload needs a file part;
# a path must name a file inside the project).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO_ROOT"

TARGET="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
case "$TARGET" in /*) ;; *) TARGET="$REPO_ROOT/$TARGET" ;; esac
PORT="${REPOWIKI_FUZZ_PORT:-3190}"
DATA="$(mktemp -d)"
LOG="$DATA/server.log"

# Limits that would answer 429 to a fuzzer's pace are lifted; everything else is default,
# SQLite in the fresh folder included (the jobs it starts must not outlive it in a shared
# PostgreSQL, where other tests' servers would take them up).
env -u DATABASE_URL -u REDIS_URL LEPTOS_SITE_ADDR="127.0.0.1:$PORT" LEPTOS_SITE_ROOT="$REPO_ROOT/target/site" \
  LEPTOS_OUTPUT_NAME=repowiki REPOWIKI_DATA_DIR="$DATA" \
  REPOWIKI_REST_REQUESTS_PER_SEC=100000 REPOWIKI_MODEL_CALLS_PER_MIN=100000 \
  REPOWIKI_OFFLINE_TOKENS_PER_SEC=5000 RUST_LOG=warn \
  "$TARGET/release/server" >"$LOG" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$DATA"' EXIT

for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
  sleep 0.1
done

"$REPO_ROOT/.tools/schemathesis/bin/schemathesis" run "http://127.0.0.1:$PORT/api/openapi.json" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
  --exclude-path '/api/chat/stream/{conversation_id}' \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "${REPOWIKI_FUZZ_EXAMPLES:-50}" \
  --request-timeout 20 \
  --seed "${REPOWIKI_FUZZ_SEED:-1}" \
  --no-color
