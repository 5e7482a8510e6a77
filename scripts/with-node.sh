#!/usr/bin/env bash
# Runs a command with the project's Node (see scripts/env.sh) first on PATH.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
exec "$@"
