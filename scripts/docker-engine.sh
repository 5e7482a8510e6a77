#!/usr/bin/env bash
# Makes sure a Docker engine answers on /var/run/docker.sock, with gVisor
# registered as its runtime "runsc". As root on Debian/Ubuntu it installs what
# is missing (Debian's docker.io; runsc from Debian 13, see scripts/gvisor.sh)
# and starts dockerd in the background: these machines have no systemd.
# Anywhere else it says what to install.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/system-packages.sh"
say() { printf '\033[1m[docker]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[docker] %s\033[0m\n' "$*" >&2; exit 1; }

engine_up() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
NO_ENGINE="No Docker engine found. Install Docker Engine (https://docs.docker.com/engine/install/) and start it, then run again."

if [ "$(id -u)" != 0 ]; then
  engine_up && exit 0
  command -v dockerd >/dev/null 2>&1 || die "$NO_ENGINE"
  die "Docker is installed but its engine is not answering. Start it (for example 'sudo systemctl start docker') and make sure your user may use /var/run/docker.sock."
fi
if ! command -v apt-get >/dev/null 2>&1; then
  engine_up && exit 0
  command -v dockerd >/dev/null 2>&1 || die "$NO_ENGINE"
fi

need_command dockerd docker.io
need_command docker docker.io
need_command pgrep procps
RUNSC=""
if command -v apt-get >/dev/null 2>&1; then
  RUNSC="$(bash "$ROOT/scripts/gvisor.sh")" || say "gVisor is not set up (see above); containers still run under runc"
fi

# The runsc path the running engine knows, empty when none is registered.
registered_runsc() { docker info --format '{{with index .Runtimes "runsc"}}{{.Path}}{{end}}' 2>/dev/null; }
dockerd_pid() { cat /var/run/docker.pid 2>/dev/null; }

# A restarted dockerd needs the old one gone first: both would claim the same
# socket, pid file and containerd state.
stop_dockerd() {
  local pid; pid="$(dockerd_pid)"
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || return 0
  say "stopping dockerd ($pid)"
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 1
  done
  die "dockerd ($pid) did not stop within 60 s; stop it, then run again"
}

if engine_up; then
  [ -z "$RUNSC" ] || [ "$(registered_runsc)" = "$RUNSC" ] && exit 0
  # dockerd re-reads its runtimes on SIGHUP, and running containers carry on.
  say "dockerd knows runsc as '$(registered_runsc)'; reloading its configuration for $RUNSC"
  kill -HUP "$(dockerd_pid)" 2>/dev/null || true
  for _ in $(seq 1 10); do
    [ "$(registered_runsc)" = "$RUNSC" ] && exit 0
    sleep 1
  done
  say "the reload did not take (see /var/log/nanoclaw-dockerd.log); restarting dockerd"
  stop_dockerd
fi

# A dockerd that died leaves its pid file behind; a second one refuses to start.
if [ -f /var/run/docker.pid ] && ! kill -0 "$(dockerd_pid)" 2>/dev/null; then
  rm -f /var/run/docker.pid
fi
if ! pgrep -x dockerd >/dev/null; then
  say "starting dockerd (log: /var/log/nanoclaw-dockerd.log)"
  setsid nohup dockerd >>/var/log/nanoclaw-dockerd.log 2>&1 </dev/null &
fi
for _ in $(seq 1 60); do
  engine_up && { say "engine $(docker version --format '{{.Server.Version}}') is up"; exit 0; }
  sleep 1
done
die "dockerd did not come up within 60 s; see /var/log/nanoclaw-dockerd.log"
