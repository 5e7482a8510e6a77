#!/usr/bin/env bash
# Builds the agent image (default nanoclaw-agent:latest, or $NANOCLAW_CONTAINER_IMAGE, the same variable the gateway reads).
#
#   bash image/build.sh                 offline: no container registry needed
#   bash image/build.sh --online        FROM node:24-bookworm-slim (needs Docker Hub + npm)
#   bash image/build.sh --refresh-base  rebuild the Debian base too (picks up security updates)
#
# scripts/setup.sh runs this on every `npm test`, after `npm ci` (root and
# runner/) and `tsc`. So the no-change path must be fast: the image carries a
# label with a hash of everything it is built from, and when that matches we
# stop before touching the network, debootstrap or `docker build`.
#
# Offline path (the default; these machines reach no registry):
#   1. base: debootstrap a Debian bookworm minbase with a few tools, from the
#      mirror the host's apt already uses, and `docker import` it as
#      nanoclaw-base:<recipe hash>. Cached: skipped while that tag exists.
#   2. stage a small build context in a temp dir (never the repo root: its
#      node_modules is huge): the host's Node binary, runner/node_modules
#      pruned to this platform (its Bun binary moved out to sit beside Node),
#      the entrypoint script, the compiled runner and protocol.
#   3. `docker build --network none` with image/Dockerfile.offline, smoke-test
#      the result under the sandbox's flags, and only then tag it.
# All downloading happens on the host: package downloads inside `docker build`
# are not reliable here.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/system-packages.sh
say() { printf '\033[1m[image]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[image] %s\033[0m\n' "$*" >&2; exit 1; }

IMAGE="${NANOCLAW_CONTAINER_IMAGE:-nanoclaw-agent:latest}"
LABEL=org.nanoclaw.inputs
MODE=offline REFRESH_BASE=0
for arg in "$@"; do
  case "$arg" in
    --online) MODE=online ;;
    --refresh-base) REFRESH_BASE=1 ;;
    -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$arg' (try --help)" ;;
  esac
done

# The base image: Debian's smallest variant plus only what an agent's shell
# commands need. Changing any of these (or build_base below) changes the tag.
SUITE=bookworm
VARIANT=minbase
BASE_PACKAGES="ca-certificates,curl,git,procps,ripgrep,less"
case "$(uname -m)" in
  x86_64) DEB_ARCH=amd64 NPM_CPU=x64 BUN_PACKAGE=@oven/bun-linux-x64 ;;
  aarch64|arm64) DEB_ARCH=arm64 NPM_CPU=arm64 BUN_PACKAGE=@oven/bun-linux-aarch64 ;;
  *) die "unsupported CPU $(uname -m): the agent image is built for x86_64 or aarch64" ;;
esac
SDK_CLI="runner/node_modules/@anthropic-ai/claude-agent-sdk-linux-$NPM_CPU/claude"
# Bun, the runner's other runtime (container.runnerRuntime), comes as an
# optional npm package of runner/ for this CPU.
BUN_BIN="runner/node_modules/$BUN_PACKAGE/bin/bun"

# --- inputs -------------------------------------------------------------------

MIRROR="$(apt_uri_for_suite "$SUITE" | head -n1)"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="$(apt_uri_for_suite "$SUITE-security" | head -n1)"
SECURITY_MIRROR="${SECURITY_MIRROR:-http://deb.debian.org/debian-security}"

# Node for the image: the project's own (scripts/setup.sh unpacks Node 24 there
# when the machine's is too old), else the one on PATH.
NODE_BIN="$ROOT/.tools/node/bin/node"
[ -x "$NODE_BIN" ] || NODE_BIN="$(command -v node || true)"
[ -n "$NODE_BIN" ] || die "no Node found: run 'bash scripts/setup.sh' first"
NODE_VERSION="$("$NODE_BIN" -v)"
[ "$(echo "$NODE_VERSION" | sed 's/^v//; s/\..*//')" -ge 22 ] ||
  die "Node $NODE_VERSION at $NODE_BIN is too old for the image (need >= 22): run 'bash scripts/setup.sh'"

# The agent's uid/gid: the gateway's AGENT_UID (src/sandbox/profile.ts) is the
# one source, so the image's user and the workspace owner cannot drift apart.
AGENT_UID="$(sed -n 's/^export const AGENT_UID = \([0-9][0-9]*\);.*/\1/p' src/sandbox/profile.ts)"
[ -n "$AGENT_UID" ] || die "src/sandbox/profile.ts has no line 'export const AGENT_UID = <number>;' to take the agent's uid from"

[ -f dist/runner/src/main.js ] || die "dist/runner/src/main.js is missing: run npm run build first"
[ -d dist/src/protocol ] || die "dist/src/protocol is missing: run npm run build first"

sha() { sha256sum | cut -c1-"$1"; }

# Tag of the base for this recipe: the function that builds it plus its inputs.
# declare -f means editing build_base retires the old base by itself.
base_tag() {
  local recipe
  recipe="$(declare -f build_base; echo "$SUITE $VARIANT $DEB_ARCH $BASE_PACKAGES $MIRROR $SECURITY_MIRROR")"
  echo "nanoclaw-base:$(printf '%s' "$recipe" | sha 16)"
}

# Hash of everything the final image is built from. Only files are read here
# (no docker build, no network), which keeps the no-change path well under a
# second. runner/node_modules is covered by its lock file: setup.sh runs
# `npm ci` whenever the lock changes.
inputs_hash() {
  {
    echo "mode=$MODE node=$NODE_VERSION uid=$AGENT_UID"
    [ "$MODE" = online ] || base_tag
    find image dist/runner/src dist/src/protocol -type f -print0 | sort -z | xargs -0 sha256sum
    sha256sum runner/package-lock.json
  } | sha 64
}

# --- steps ----------------------------------------------------------------------

# Runs a long, chatty step with its output in a log; shows the log's tail only
# when it fails, so a failure explains itself without scrolling.
logged() { # log-file command...
  local log="$1"; shift
  if ! "$@" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    die "failed: $* (full log: $log)"
  fi
}

build_base() { # tag
  local tag="$1" rootfs="$WORK/rootfs" log="$LOG_DIR/nanoclaw-image-debootstrap.log"
  [ "$(id -u)" = 0 ] || die "building the base image needs root (debootstrap); run as root, or use --online"
  need_command debootstrap debootstrap

  say "debootstrap $SUITE ($VARIANT + $BASE_PACKAGES) from $MIRROR; takes a few minutes, log: $log"
  logged "$log" debootstrap --variant="$VARIANT" --arch="$DEB_ARCH" --include="$BASE_PACKAGES" \
    "$SUITE" "$rootfs" "$MIRROR"

  # debootstrap installs the suite as of its last point release; bring it up
  # to date with bookworm-updates and bookworm-security, still on the host.
  say "applying $SUITE-updates and $SUITE-security"
  cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
SOURCES
  cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
  logged "$LOG_DIR/nanoclaw-image-upgrade.log" chroot "$rootfs" sh -c \
    'export DEBIAN_FRONTEND=noninteractive; apt-get update && apt-get -y upgrade && apt-get clean'

  # Trim what a sandbox never uses (keeping the packages' copyright files).
  # Docker provides /dev, resolv.conf and the hostname at run time; the apt
  # lists are stale the moment they are written.
  find "$rootfs/usr/share/doc" -type f ! -name copyright -delete
  find "$rootfs/usr/share/doc" -depth -type d -empty -delete
  (cd "$rootfs" && rm -rf ./var/lib/apt/lists/* ./var/cache/apt/*.bin ./var/cache/debconf/*-old \
    ./var/log/* ./usr/share/man/* ./usr/share/info/* ./usr/share/locale/* \
    ./etc/resolv.conf ./etc/hostname ./dev/*)

  say "importing the base as $tag"
  tar --numeric-owner -C "$rootfs" -c . | docker import --message "debootstrap $SUITE $VARIANT" - "$tag" >/dev/null
  rm -rf "$rootfs"
  # Untag bases of older recipes; docker keeps any layers an image still uses.
  docker image ls --format '{{.Repository}}:{{.Tag}}' nanoclaw-base | grep -vxF "$tag" |
    xargs -r docker image rm >/dev/null 2>&1 || true
}

# --- skip when nothing changed -------------------------------------------------
current_label() {
  docker image inspect --format "{{ index .Config.Labels \"$LABEL\" }}" "$IMAGE" 2>/dev/null || true
}
INPUTS="$(inputs_hash)"
if [ "$REFRESH_BASE" = 0 ] && [ "$(current_label)" = "$INPUTS" ]; then
  say "$IMAGE is up to date"
  exit 0
fi

# Parallel runs (two test suites at once) would both build; let one wait for
# the other, then look again.
if command -v flock >/dev/null; then
  exec 9>"${TMPDIR:-/tmp}/nanoclaw-image.lock"
  if ! flock -n 9; then
    say "another image build is running; waiting for it"
    flock 9
    if [ "$REFRESH_BASE" = 0 ] && [ "$(current_label)" = "$INPUTS" ]; then
      say "$IMAGE is up to date"
      exit 0
    fi
  fi
fi
docker version >/dev/null 2>&1 || die "the Docker engine is not answering: run 'bash scripts/docker-engine.sh'"

LOG_DIR="${TMPDIR:-/tmp}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/nanoclaw-image.XXXXXX")"
# A debootstrap that dies midway can leave /proc or /sys mounted inside the
# rootfs: unmount those first, and never let rm cross into another filesystem.
cleanup() {
  awk -v w="$WORK/" 'index($2, w) == 1 { print $2 }' /proc/mounts 2>/dev/null | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT

# --- 1. the base (offline path) -------------------------------------------------
BASE_TAG=""
if [ "$MODE" = offline ]; then
  BASE_TAG="$(base_tag)"
  if [ "$REFRESH_BASE" = 1 ] || ! docker image inspect "$BASE_TAG" >/dev/null 2>&1; then
    build_base "$BASE_TAG"
  else
    say "base $BASE_TAG is cached"
  fi
fi

# --- 2. the build context ---------------------------------------------------------
say "staging the build context"
CTX="$WORK/context"
mkdir -p "$CTX/runner/dist/runner" "$CTX/runner/dist/src"
cp runner/package.json runner/package-lock.json "$CTX/runner/"
# Keeps the repo's relative layout (dist/runner/src next to dist/src/protocol),
# so the runner's `../../src/protocol/...` imports resolve unchanged.
cp -a dist/runner/src "$CTX/runner/dist/runner/src"
cp -a dist/src/protocol "$CTX/runner/dist/src/protocol"
# Only those two folders go in, so a runner import that reaches elsewhere in
# dist/src would work on the host and fail in every container. Catch it here.
while IFS=: read -r file spec; do
  [ -f "$(dirname "$CTX/runner/$file")/$spec" ] || die "$file imports '$spec', which the image does not\
 include: the runner may import only from runner/src and src/protocol"
done < <(cd "$CTX/runner" && grep -roE --include='*.js' "(from|import|import\() *['\"]\.\.?/[^'\"]+" dist |
  sed -E "s/:(from|import|import\() *['\"]/:/")

# The entrypoint: picks node or bun by NANOCLAW_RUNNER_RUNTIME.
cp -p image/nanoclaw-runner "$CTX/nanoclaw-runner"
if [ "$MODE" = online ]; then
  cp image/Dockerfile "$CTX/Dockerfile"
else
  cp image/Dockerfile.offline "$CTX/Dockerfile"
  cp "$NODE_BIN" "$CTX/node"
  [ -f runner/node_modules/.package-lock.json ] ||
    die "runner/node_modules is missing: run 'bash scripts/setup.sh' (it runs npm ci in runner/)"
  [ -x "$SDK_CLI" ] || die "$SDK_CLI is missing or not executable: reinstall with 'rm -rf runner/node_modules && bash scripts/setup.sh'"
  # Hard links: ~400 MB staged in an instant, on the same filesystem. The
  # pruning below only unlinks, so the host's files are never changed.
  cp -al runner/node_modules "$CTX/runner/node_modules" 2>/dev/null ||
    { rm -rf "$CTX/runner/node_modules"; cp -a runner/node_modules "$CTX/runner/node_modules"; }
  pruned="$("$NODE_BIN" image/prune-platform-packages.mjs "$CTX/runner/node_modules" "$NPM_CPU")"
  [ -z "$pruned" ] || say "left out packages for other platforms: $(echo "$pruned" | tr '\n' ' ')"
  # Bun goes to /usr/local/bin beside Node, not also in node_modules (~100 MB):
  # move the staged link out and drop its package. The host's copy stays.
  [ -x "$BUN_BIN" ] || die "$BUN_BIN is missing or not executable: reinstall with 'rm -rf runner/node_modules && bash scripts/setup.sh'"
  mv "$CTX/$BUN_BIN" "$CTX/bun"
  rm -rf "$CTX/runner/node_modules/@oven"
fi

# --- 3. build, smoke-test, tag -------------------------------------------------------
say "docker build ($MODE, context $(du -sh "$CTX" | cut -f1)); log: $LOG_DIR/nanoclaw-image-build.log"
build_args=(--force-rm --iidfile "$WORK/iid" --label "$LABEL=$INPUTS" --build-arg "AGENT_UID=$AGENT_UID")
# Offline, the build has no network at all: a step that tries to download fails
# here, loudly, instead of hanging on a flaky connection.
[ "$MODE" = online ] || build_args+=(--network none --build-arg "BASE_IMAGE=$BASE_TAG")
logged "$LOG_DIR/nanoclaw-image-build.log" docker build "${build_args[@]}" "$CTX"
NEW_ID="$(cat "$WORK/iid")"

# The image must work under the sandbox's own flags before it replaces the
# current one; an untagged failure costs nothing, a tagged one would be
# skipped as "up to date" on the next run.
say "smoke test: node and bun, the runner's dependencies and the Claude CLI, as uid $AGENT_UID with no network"
# shellcheck disable=SC2054 # the commas belong to --tmpfs's options
sandbox=(docker run --rm --read-only --cap-drop ALL --security-opt no-new-privileges --network none
  --user "$AGENT_UID:$AGENT_UID" --tmpfs /tmp --tmpfs "/home/agent:uid=$AGENT_UID,gid=$AGENT_UID" --pids-limit 256 --memory 1g)
logged "$LOG_DIR/nanoclaw-image-smoke.log" "${sandbox[@]}" --workdir /opt/nanoclaw/runner \
  --entrypoint /usr/local/bin/node "$NEW_ID" --input-type=module -e "
    await import('@anthropic-ai/claude-agent-sdk');
    console.log(process.version, process.arch);"
logged "$LOG_DIR/nanoclaw-image-smoke.log" "${sandbox[@]}" --workdir /opt/nanoclaw/runner \
  --entrypoint /usr/local/bin/bun "$NEW_ID" -e "
    await import('@anthropic-ai/claude-agent-sdk');
    console.log('bun', Bun.version, process.arch);"
# The entrypoint starts the runner on each runtime: without a token (no host
# here) the runner gets as far as its first check, having loaded all its
# modules, and says what is missing.
for runtime in node bun; do
  out="$("${sandbox[@]}" -e "NANOCLAW_RUNNER_RUNTIME=$runtime" "$NEW_ID" 2>&1 || true)"
  echo "$out" >>"$LOG_DIR/nanoclaw-image-smoke.log"
  echo "$out" | grep -q 'NANOCLAW_TOKEN is not set' ||
    die "the entrypoint did not start the runner on $runtime: $out (log: $LOG_DIR/nanoclaw-image-smoke.log)"
done
logged "$LOG_DIR/nanoclaw-image-smoke.log" "${sandbox[@]}" \
  --entrypoint "/opt/nanoclaw/$SDK_CLI" "$NEW_ID" --version
# The image's own user must be the one the gateway runs as and gives the
# workspace to, and no file may carry a setuid or setgid bit (the Dockerfiles
# strip them; this catches one that a later step brings back). As root with
# the default capabilities, so find can see into every folder.
# shellcheck disable=SC2016 # expanded inside the container
logged "$LOG_DIR/nanoclaw-image-smoke.log" docker run --rm --network none --user 0 --entrypoint /bin/sh "$NEW_ID" -c '
  set -e
  [ "$(id -u agent):$(id -g agent)" = "$1:$1" ] || { echo "user agent is $(id agent), not uid/gid $1"; exit 1; }
  [ "$(stat -c %u:%g /workspace)" = "$1:$1" ] || { echo "/workspace belongs to $(stat -c %u:%g /workspace), not $1:$1"; exit 1; }
  found="$(find / -xdev -perm /6000 -type f)"
  [ -z "$found" ] || { echo "files with a setuid or setgid bit:"; echo "$found"; exit 1; }' sh "$AGENT_UID"

docker tag "$NEW_ID" "$IMAGE"
# Drop agent images that no tag names any more (the ones this build replaced);
# docker skips any that a container still uses, and prune can only remove
# untagged images, so nothing anyone named goes.
docker image prune --force --filter "label=$LABEL" >/dev/null 2>&1 || true
say "built $IMAGE ($(docker image inspect --format '{{.Size}}' "$IMAGE" | awk '{ printf "%d MB", $1 / 1e6 }'))"
