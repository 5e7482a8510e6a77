#!/usr/bin/env bash
# Makes sure a Docker engine answers on /var/run/docker.sock. Where none is
# installed and we are root on Debian/Ubuntu, installs Debian's docker.io (and
# runsc, gVisor's runtime) and starts dockerd in the background: these machines
# have no systemd. Anywhere else it says what to install.
set -euo pipefail
say() { printf '\033[1m[docker]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[docker] %s\033[0m\n' "$*" >&2; exit 1; }

engine_up() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
engine_up && exit 0

if ! command -v dockerd >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Docker Engine from the distribution's packages (docker.io, runsc)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq docker.io runsc >/dev/null
  else
    die "No Docker engine found. Install Docker Engine (https://docs.docker.com/engine/install/) and start it, then run again."
  fi
fi

if [ "$(id -u)" != 0 ]; then
  die "Docker is installed but its engine is not answering. Start it (for example 'sudo systemctl start docker') and make sure your user may use /var/run/docker.sock."
fi

# Register gVisor as a runtime for later use: runsc's own network stack fails in
# some VMs, and --host-uds=open lets a sandboxed process reach the Unix socket
# the host mounts in.
if command -v runsc >/dev/null 2>&1 && [ ! -f /etc/docker/daemon.json ]; then
  mkdir -p /etc/docker
  cat > /etc/docker/daemon.json <<JSON
{ "runtimes": { "runsc": { "path": "$(command -v runsc)", "runtimeArgs": ["--network=none", "--host-uds=open"] } } }
JSON
fi

# A dockerd that died leaves its pid file behind; a second one refuses to start.
if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
  rm -f /var/run/docker.pid
fi
if ! pgrep -x dockerd >/dev/null; then
  say "starting dockerd (log: /var/log/nanoclaw-dockerd.log)"
  setsid nohup dockerd >/var/log/nanoclaw-dockerd.log 2>&1 < /dev/null &
fi
for _ in $(seq 1 60); do
  engine_up && { say "engine $(docker version --format '{{.Server.Version}}') is up"; exit 0; }
  sleep 1
done
die "dockerd did not come up within 60 s; see /var/log/nanoclaw-dockerd.log"
