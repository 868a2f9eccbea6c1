#!/usr/bin/env bash
# Installs what is missing, builds for release and serves RepoWiki at
# http://127.0.0.1:3000 on its embedded defaults: SQLite in ./data, the offline provider.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
"$REPO_ROOT/scripts/setup.sh"
cd "$REPO_ROOT"
exec cargo leptos serve --release --precompress
