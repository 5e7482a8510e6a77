#!/usr/bin/env bash
# Installs gVisor's runsc from Debian 13 (trixie) as /usr/local/bin/runsc and
# registers it with Docker as the runtime "runsc" in /etc/docker/daemon.json
# (or $NANOCLAW_DOCKER_DAEMON_JSON).
# Prints the registered path on stdout. Needs root, apt-get and Debian's
# archive keyring; safe to run again (a current runsc is left alone).
#
# Why trixie's: Debian 12's runsc (0~20221219) rejects a statx flag that
# bookworm's coreutils pass, so `ls`, `stat` and `find` fail with EINVAL inside
# the sandbox. Trixie's package (0~20240729) is a static binary that runs on
# Debian 12 too. apt fetches it, so the archive's signed Release file and the
# package's hash are checked; it works from a temporary source list and list
# folder, and nothing is installed with dpkg, so the host's own apt sources,
# lists and package state stay exactly as they were.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/env.sh"
source "$ROOT/scripts/system-packages.sh"
say() { printf '\033[1m[gvisor]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[gvisor] %s\033[0m\n' "$*" >&2; exit 1; }

RUNSC=/usr/local/bin/runsc
MIN_VERSION=0.0~20240729
SUITE=trixie
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
# Another file for an engine configured elsewhere (rootless Docker: ~/.config/docker/daemon.json).
DAEMON_JSON="${NANOCLAW_DOCKER_DAEMON_JSON:-/etc/docker/daemon.json}"

# "runsc version 0.0~20240729.0" -> 0.0~20240729.0; nothing when it does not run.
runsc_version() { { "$1" --version 2>/dev/null || true; } | awk 'NR == 1 && $2 == "version" { print $3 }'; }
current() { local v; v="$(runsc_version "$1")"; [ -n "$v" ] && dpkg --compare-versions "$v" ge "$MIN_VERSION"; }

install_runsc() {
  [ -f "$KEYRING" ] || die "$KEYRING is missing, so trixie's signatures cannot be checked: apt-get install debian-archive-keyring"
  local mirror deb version
  mirror="$(apt_uri_for_suite bookworm | head -n1)"
  mirror="${mirror:-http://deb.debian.org/debian}"
  tmp="$(mktemp -d)"
  mkdir -p "$tmp/lists/partial" "$tmp/parts" "$tmp/download"
  # apt downloads as the unprivileged _apt user where it exists.
  chmod 755 "$tmp" && { chown _apt "$tmp/download" 2>/dev/null || true; }
  echo "deb [signed-by=$KEYRING] $mirror $SUITE main" >"$tmp/sources.list"
  # Empty pkgcache/srcpkgcache: apt would otherwise rewrite the host's binary
  # cache from these lists.
  local apt=(-o "Dir::State::Lists=$tmp/lists" -o "Dir::Etc::SourceList=$tmp/sources.list"
    -o "Dir::Etc::SourceParts=$tmp/parts" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
    -o Acquire::Languages=none)
  say "fetching runsc from Debian $SUITE ($mirror), signature-checked"
  apt-get "${apt[@]}" update -qq >/dev/null || die "apt-get update for $SUITE failed (above); is $mirror reachable?"
  (cd "$tmp/download" && apt-get "${apt[@]}" download -qq runsc >/dev/null) ||
    die "apt-get download runsc from $SUITE failed (above)"
  deb="$(echo "$tmp"/download/runsc_*.deb)"
  [ -f "$deb" ] || die "apt-get download left no runsc package in $tmp/download"
  version="$(dpkg-deb -f "$deb" Version)"
  dpkg --compare-versions "$version" ge "$MIN_VERSION" || die "$SUITE offers runsc $version, older than $MIN_VERSION"
  dpkg -x "$deb" "$tmp/root"
  current "$tmp/root/usr/bin/runsc" || die "runsc $version from $SUITE does not run here"
  # Through a temporary name, so a sandbox starting meanwhile sees the old file or the new one, never half of one.
  install -m 0755 "$tmp/root/usr/bin/runsc" "$RUNSC.new"
  mv -f "$RUNSC.new" "$RUNSC"
  say "installed gVisor $(runsc_version "$RUNSC") as $RUNSC"
}

tmp=""
trap '[ -z "$tmp" ] || rm -rf "$tmp"' EXIT
if ! current "$RUNSC"; then
  old="$(runsc_version "$RUNSC")"
  [ -z "$old" ] || say "$RUNSC is gVisor $old, older than $MIN_VERSION; replacing it"
  install_runsc
fi

# --network=none: gVisor's own network stack fails in some VMs. --host-uds=open:
# without it, connecting to the Unix sockets the host mounts in fails with EPERM.
# Other keys of an existing daemon.json are kept; a runsc entry pointing at an
# older build (Debian 12's /usr/bin/runsc) is replaced.
mkdir -p "$(dirname "$DAEMON_JSON")"
node - "$DAEMON_JSON" "$RUNSC" <<'JS'
const fs = require('node:fs');
const [file, path] = process.argv.slice(2);
let conf = {};
try {
  conf = JSON.parse(fs.readFileSync(file, 'utf8'));
} catch (err) {
  if (err.code !== 'ENOENT') {
    console.error(`[gvisor] ${file} could not be read as JSON (${err.message}); fix it, then run again`);
    process.exit(1);
  }
}
const want = { path, runtimeArgs: ['--network=none', '--host-uds=open'] };
if (JSON.stringify(conf.runtimes?.runsc) !== JSON.stringify(want)) {
  conf.runtimes = { ...conf.runtimes, runsc: want };
  fs.writeFileSync(`${file}.new`, JSON.stringify(conf, null, 2) + '\n');
  fs.renameSync(`${file}.new`, file);
  console.error(`[gvisor] registered ${path} as the runtime "runsc" in ${file}`);
}
JS
echo "$RUNSC"
