# Sourced by the set-up scripts: the Debian packages they need, and the archive
# this machine's apt already uses.
#
#   need_command debootstrap debootstrap       # command, then the package(s) that bring it
#   need_command podman podman catatonit || say "skipping Podman"
#
# A fresh machine lacks more than one expects (the image build once died with
# "debootstrap is missing" halfway through `npm run demo`). So every command a
# set-up script calls that is not in Debian's required set goes through
# need_command: as root with apt-get it installs the package; anywhere else it
# says which package to install and how, and returns 1 (which stops a script
# under `set -e`). test/setup-scripts.test.ts fails when a script calls a
# command that neither this nor Debian's required set provides.

# Installs only what is named: recommends would change behaviour quietly (with
# them, Podman would pick crun instead of runc).
need_command() { # command package...
  local cmd="$1"; shift
  command -v "$cmd" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    printf '\033[1m[packages]\033[0m installing %s (for %s)\n' "$*" "$cmd" >&2
    # A fresh machine's package lists may be empty or stale: refresh them once per run.
    if [ -z "${NANOCLAW_APT_UPDATED:-}" ]; then
      apt-get update -qq >/dev/null || printf '[packages] apt-get update failed; trying the lists this machine has\n' >&2
      NANOCLAW_APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null &&
      command -v "$cmd" >/dev/null 2>&1 && return 0
    printf '\033[31m[packages] installing %s did not give %s (the errors from apt-get are above)\033[0m\n' "$*" "$cmd" >&2
    return 1
  fi
  printf '\033[31m[packages] %s is missing: it comes with the Debian package %s. Install it (on Debian or Ubuntu, as root: apt-get install --no-install-recommends %s) and run again.\033[0m\n' \
    "$cmd" "$*" "$*" >&2
  return 1
}

# First archive URI the host's apt sources use for a suite (one-line .list and
# deb822 .sources formats), so downloads go wherever this machine is already
# allowed to reach. Prints nothing when no source names the suite.
apt_uri_for_suite() { # suite
  local suite="$1" f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v s="$suite" '$1 == "deb" {
      i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
      if ($(i + 1) == s) { print $i; exit } }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v s="$suite" 'BEGIN { RS = "" } {
      uri = ""; deb = 0; hit = 0; n = split($0, line, "\n")
      for (j = 1; j <= n; j++) {
        m = split(line[j], w, /[ \t]+/)
        if (w[1] == "URIs:") uri = w[2]
        for (k = 2; k <= m; k++) {
          if (w[1] == "Types:" && w[k] == "deb") deb = 1
          if (w[1] == "Suites:" && w[k] == s) hit = 1
        }
      }
      if (deb && hit && uri != "") { print uri; exit } }' "$f"
  done
}
