#!/usr/bin/env bash
# Scores apitap on the committed real-world captures (no server needed): for every case,
# `apitap learn cases/CASE/capture.pcap.gz --format openapi-json`, score.py against
# cases/CASE/spec.json, a table per case, the false positive/negative operations in
# $OUT/failures.md, and the thresholds in thresholds.tsv (ok/FAIL lines, `N passed, N failed`).
#
#   eval/real/run.sh                 # all cases
#   eval/real/run.sh docker kinto    # some
#   APITAP=target/release/apitap OUT=/tmp/real eval/real/run.sh
#
# Exits non-zero when a threshold fails. Needs python3 + PyYAML and the evaluation kit
# (../shared/eval/score.py, or $APITAP_EVAL_KIT).
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
KIT=""
for c in "${APITAP_EVAL_KIT:-}" "$ROOT/../shared/eval" /work/shared/eval; do
  [ -n "$c" ] && [ -f "$c/score.py" ] && { KIT="$(cd "$c" && pwd)"; break; }
done
if [ -z "$KIT" ]; then echo "FAIL - real eval: evaluation kit not found (../shared/eval)"; exit 1; fi
APITAP=${APITAP:-$ROOT/target/release/apitap}
OUT=${OUT:-$(mktemp -d /tmp/apitap-real.XXXXXX)}
mkdir -p "$OUT/learned"
cases=("$@")
if [ ${#cases[@]} -eq 0 ]; then
  for d in "$HERE"/cases/*/; do [ -f "$d/capture.pcap.gz" ] && cases+=("$(basename "$d")"); done
fi
for c in "${cases[@]}"; do
  if ! "$APITAP" learn "$HERE/cases/$c/capture.pcap.gz" --format openapi-json \
      -o "$OUT/learned/$c.json" 2> "$OUT/learned/$c.err"; then
    echo "learn failed for $c: $(tail -1 "$OUT/learned/$c.err")"
    rm -f "$OUT/learned/$c.json"
  fi
done
python3 "$HERE/score_cases.py" --kit "$KIT" --learned-dir "$OUT/learned" \
  --thresholds "$HERE/thresholds.tsv" --failures "$OUT/failures.md" --json "$OUT/metrics.json" "${cases[@]}"
status=$?
echo "(learned specs, failures.md and metrics.json in $OUT)"
exit $status
