#!/usr/bin/env bash
# Coverage-guided exploration of every parser of user input (atheris/libFuzzer):
# the model validator and loader, the image loader and front-end, .npy, IDX,
# .npz and the sidecar loader. Each target runs for FUZZ_SECONDS (25) in fresh
# child processes (tests/fuzz/run.py says why), from its seeds and saved
# findings, with libFuzzer's limits: 500 MB peak RSS, 20 s per input.
#
# A finding (crash, traceback, limit exceeded) fails the run, is saved under
# FUZZ_OUT (ci-artifacts/fuzz) and is printed with the command that replays it;
# fix it, then commit the input to tests/fuzz/regressions/TARGET/ so the test
# command replays it for good. This is exploration: it is not part of the test
# command, whose result must not depend on what a random search hits.
#
# Usage: ./scripts/fuzz.sh [TARGET...]    (FUZZ_SECONDS, FUZZ_SEED, FUZZ_OUT)
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
setup_venv "$ALL_EXTRAS"
SECONDS_EACH="${FUZZ_SECONDS:-25}"
SEED="${FUZZ_SEED:-$(date +%s)}"
OUT="${FUZZ_OUT:-$ROOT/ci-artifacts/fuzz}"
mkdir -p "$OUT"
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(model image npy idx npz sidecar)
failed=()
for target in "${targets[@]}"; do
  log="$OUT/$target.log"
  if .venv/bin/python tests/fuzz/run.py "$target" "-max_total_time=$SECONDS_EACH" "-seed=$SEED" \
       -rss_limit_mb=500 -timeout=20 "-artifact_prefix=$OUT/$target-" 2>"$log"; then
    echo "fuzz: $target: $(grep -o 'Done [0-9]* runs.*' "$log" | tail -1), nothing found (seed $SEED)"
  else
    failed+=("$target")
    echo "fuzz: $target FOUND A PROBLEM (seed $SEED); log: $log" >&2
    grep -E "Error|Exception|==[0-9]+==|Test unit written" "$log" | tail -5 >&2 || true
    for finding in "$OUT/$target-"*; do
      [ -f "$finding" ] || continue
      echo "  saved: $finding" >&2
      echo "  replay: .venv/bin/python tests/fuzz/targets.py $target '$finding'" >&2
    done
  fi
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]}: fix them and add each input to tests/fuzz/regressions/<target>/" >&2
  exit 1
fi
