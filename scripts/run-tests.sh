#!/usr/bin/env bash
# Runs the compiled test files with node's test runner. Test files share one
# Docker engine, so they run one file at a time (each file runs its own tests
# in parallel where it says so).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$NANOCLAW_ROOT"
if [ "$#" -gt 0 ]; then files=("$@"); else mapfile -t files < <(find dist/test -name '*.test.js' | sort); fi
exec node --test --test-concurrency=1 --test-reporter=spec --test-timeout=600000 "${files[@]}"
