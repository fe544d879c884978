#!/usr/bin/env bash
# The same committed real-world traffic through mitmproxy2swagger (outside CI), scored the
# same way as eval/real/run.sh, for comparison: HAR from `apitap exchanges --format har
# --bodies`, then mitmproxy2swagger run twice as its README says (the first run lists the
# paths under `x-path-templates` prefixed `ignore:`; a user removes that prefix to keep them;
# here all are kept, the most favourable choice), then score.py.
#
#   eval/real/compare_mitm.sh [CASE...]     # needs network access to PyPI once
#
# mitmproxy2swagger is installed into $M2S_VENV (default /tmp/realeval-m2s).
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
KIT=""
for c in "${APITAP_EVAL_KIT:-}" "$ROOT/../shared/eval" /work/shared/eval; do
  [ -n "$c" ] && [ -f "$c/score.py" ] && { KIT="$(cd "$c" && pwd)"; break; }
done
[ -n "$KIT" ] || { echo "compare_mitm: evaluation kit not found" >&2; exit 1; }
APITAP=${APITAP:-$ROOT/target/release/apitap}
M2S_VENV=${M2S_VENV:-/tmp/realeval-m2s}
[ -x "$M2S_VENV/bin/mitmproxy2swagger" ] || {
  python3 -m venv "$M2S_VENV" && "$M2S_VENV/bin/pip" install -q mitmproxy2swagger; } || exit 1
OUT=${OUT:-$(mktemp -d /tmp/apitap-real-mitm.XXXXXX)}
mkdir -p "$OUT/learned"
cases=("$@")
if [ ${#cases[@]} -eq 0 ]; then
  for d in "$HERE"/cases/*/; do [ -f "$d/capture.pcap.gz" ] && cases+=("$(basename "$d")"); done
fi
for c in "${cases[@]}"; do
  "$APITAP" exchanges "$HERE/cases/$c/capture.pcap.gz" --format har --bodies > "$OUT/$c.raw.har"
  # mitmproxy2swagger 0.14.0 crashes on any non-JSON request body read from a HAR (it calls
  # .decode on the str that parse_qsl returns): such bodies are dropped from its input.
  python3 - "$OUT/$c.raw.har" "$OUT/$c.har" <<'PY'
import json, sys
har = json.load(open(sys.argv[1]))
dropped = 0
for e in har["log"]["entries"]:
    pd = e["request"].get("postData")
    if pd and pd.get("text"):
        try:
            json.loads(pd["text"])
        except ValueError:
            pd["text"] = ""
            pd.pop("params", None)
            dropped += 1
json.dump(har, open(sys.argv[2], "w"))
print(f"compare_mitm: {sys.argv[2]}: {len(har['log']['entries'])} entries, {dropped} non-JSON request bodies dropped", file=sys.stderr)
PY
  prefix=$(python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["log"]["entries"]; u=e[0]["request"]["url"]; print(u.split("/")[0]+"//"+u.split("/")[2])' "$OUT/$c.har")
  rm -f "$OUT/learned/$c.yaml"
  "$M2S_VENV/bin/mitmproxy2swagger" -i "$OUT/$c.har" -o "$OUT/learned/$c.yaml" -p "$prefix" -f har > "$OUT/$c.m2s1.log" 2>&1 || echo "compare_mitm: $c: first run failed: $(tail -1 "$OUT/$c.m2s1.log")" >&2
  sed -i 's/^\(\s*- \)ignore:/\1/' "$OUT/learned/$c.yaml"
  "$M2S_VENV/bin/mitmproxy2swagger" -i "$OUT/$c.har" -o "$OUT/learned/$c.yaml" -p "$prefix" -f har > "$OUT/$c.m2s2.log" 2>&1 || echo "compare_mitm: $c: second run failed: $(tail -1 "$OUT/$c.m2s2.log")" >&2
done
python3 "$HERE/score_cases.py" --kit "$KIT" --label "mitmproxy2swagger $("$M2S_VENV/bin/pip" show mitmproxy2swagger 2>/dev/null | awk '/^Version/{print $2}')" \
  --learned-dir "$OUT/learned" --failures "$OUT/failures.md" --json "$OUT/metrics.json" "${cases[@]}"
echo "(mitmproxy2swagger specs in $OUT/learned)"
