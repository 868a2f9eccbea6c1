# Sourced by the other scripts: puts the project's tools first on PATH. npm's binaryen
# (wasm-opt 132) must shadow Debian's wasm-opt 108, which silently breaks hydration.
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$REPO_ROOT/node_modules/.bin:$HOME/.cargo/bin:$PATH"
