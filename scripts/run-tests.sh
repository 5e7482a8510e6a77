#!/usr/bin/env bash
# Runs the compiled test files with node's test runner, in three groups:
#   unit      need no container engine; run side by side (npm run test:unit runs only these);
#   engine    real containers, each file with its own home and label scope: two files at a time;
#   alone     assertions that hang on timing (idle timers, SIGKILLed gateways, turn timeouts): one at a time.
# Then ON_NODE's files once more with the agent runner on Node instead of Bun.
# A file not listed as unit or alone runs in the engine group, so a new test file is never skipped.
#
#   bash scripts/run-tests.sh                      # everything
#   bash scripts/run-tests.sh --unit               # unit group only
#   bash scripts/run-tests.sh dist/test/x.test.js  # the named files, one at a time
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$NANOCLAW_ROOT"
UNIT="agent-plan dashboard-server text-deltas runner-skills tasks-schedule scheduler task-ops skills skill-ops setup-provider attachment-store attachments builtin-state builtin-providers builtin-tools fake-openai mcp-tools audit audit-durability channel-format control-channel credential-proxy delivery docs egress-policy egress-proxy fake-anthropic mount-policy planted-links runtime-apple setup-scripts store host-tools turn-indicators"
ALONE="failures lifecycle turns pool"
# Run a second time with the runner on Node (the default is Bun), so both runtimes stay tested end to end.
ON_NODE="e2e builtin-engine"
run() { # concurrency files...
  local n="$1"; shift
  [ "$#" -gt 0 ] || return 0
  node --test --test-concurrency="$n" --test-reporter=spec --test-timeout=600000 "$@"
}

if [ "$#" -gt 0 ] && [ "$1" != "--unit" ]; then run 1 "$@"; exit; fi
unit=() engine=() alone=()
while read -r file; do
  name="$(basename "$file" .test.js)"
  case " $UNIT " in *" $name "*) unit+=("$file"); continue ;; esac
  case " $ALONE " in *" $name "*) alone+=("$file"); continue ;; esac
  engine+=("$file")
done < <(find dist/test -name '*.test.js' | sort)

start=$SECONDS status=0
run 4 "${unit[@]}" || status=1
if [ "${1:-}" != "--unit" ]; then
  run 2 "${engine[@]}" || status=1
  run 1 "${alone[@]}" || status=1
  on_node=()
  for name in $ON_NODE; do on_node+=("dist/test/$name.test.js"); done
  echo "again with the runner on Node: $ON_NODE"
  NANOCLAW_CONTAINER_RUNNER_RUNTIME=node run 2 "${on_node[@]}" || status=1
fi
ran="${#unit[@]} unit"
[ "${1:-}" = "--unit" ] || ran="$ran, ${#engine[@]} engine, ${#alone[@]} alone, ${#on_node[@]} again on Node"
echo "test files: $ran; $((SECONDS - start)) s; $([ $status = 0 ] && echo passed || echo FAILED)"
exit $status
