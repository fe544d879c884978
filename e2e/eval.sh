#!/usr/bin/env bash
# Learning quality, measured: for every spec (the shared evaluation kit's and ours in
# eval/specs), serve it with the kit's mock server on loopback, drive realistic traffic,
# capture it with tcpdump, learn with `apitap learn` from the capture AND from the HAR the
# driver wrote, validate the learned OpenAPI with openapi-spec-validator, and score it
# against the spec with the kit's scorer. Thresholds (issue 3): operation F1 >= 0.95,
# response property recall >= 0.90, no spurious concrete-path endpoints.
#
#   e2e/eval.sh            # all specs
#   EVAL_N=1000 e2e/eval.sh specs/library.yaml
#
# Needs root (tcpdump). Prints `N passed, N failed`; exits non-zero on any failure.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
KIT=""
for c in "${APITAP_EVAL_KIT:-}" "$ROOT/../shared/eval" /work/shared/eval; do
  [ -n "$c" ] && [ -f "$c/score.py" ] && { KIT="$(cd "$c" && pwd)"; break; }
done
if [ -z "$KIT" ]; then echo "eval: evaluation kit not found (../shared/eval)"; exit 1; fi
if [ "$(id -u)" -ne 0 ]; then
  if [ -n "${CI:-}" ]; then echo "eval: needs root for tcpdump"; exit 1; fi
  echo "SKIP eval: needs root for tcpdump"; exit 0
fi
if [ -z "${APITAP:-}" ]; then  # always rebuild: never test a stale binary
  (cd "$ROOT" && cargo build -q -p apitap) || exit 1
  APITAP=$ROOT/target/debug/apitap
fi
N=${EVAL_N:-600}
WORK=$(mktemp -d /tmp/apitap-eval.XXXXXX)
[ -n "${E2E_KEEP:-}" ] || trap 'rm -rf "$WORK"' EXIT
passed=0; failed=0
ok()   { echo "ok   - $*"; passed=$((passed+1)); }
fail() { echo "FAIL - $*"; failed=$((failed+1)); }

specs=("$@")
if [ ${#specs[@]} -eq 0 ]; then
  specs=("$KIT"/specs/*.yaml "$ROOT"/eval/specs/*.yaml)
fi
port=18460
printf '%-14s %-7s %6s %6s %6s %9s %7s %7s %7s %9s\n' spec input opF1 opP opR spurious respR types formats composite > "$WORK/table"
for spec in "${specs[@]}"; do
  name=$(basename "$spec" .yaml)
  case_dir="$WORK/$name"
  port=$((port+1))
  if ! bash "$KIT/make_case.sh" "$spec" "$case_dir" "$port" "$N" > "$WORK/$name.make.log" 2>&1; then
    fail "$name: traffic generation failed ($(tail -2 "$WORK/$name.make.log" | tr '\n' ' '))"; continue
  fi
  for input in pcap har; do
    src="$case_dir/traffic.$input"
    out="$case_dir/learned-$input.json"
    if ! "$APITAP" learn "$src" -o "$out" 2> "$case_dir/learn-$input.err"; then
      fail "$name/$input: apitap learn failed: $(tail -1 "$case_dir/learn-$input.err")"; continue
    fi
    if python3 -m openapi_spec_validator "$out" > "$case_dir/validate-$input.log" 2>&1; then
      ok "$name/$input: learned spec is valid OpenAPI"
    else
      fail "$name/$input: learned spec rejected by openapi-spec-validator: $(tail -3 "$case_dir/validate-$input.log" | tr '\n' ' ')"
    fi
    python3 "$KIT/score.py" "$out" "$case_dir/spec.yaml" > "$case_dir/score-$input.txt" 2>&1
    verdict=$(python3 - "$case_dir/score-$input.txt" "$name" "$input" "$WORK/table" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
rep = json.loads(text[: text.rindex("}") + 1])
ops, tmpl = rep["operations"], rep["templating"]
resp = rep["response_properties"]["recall"]
types = rep["types"]["agreement"]; fmts = rep["formats"]["recall"]
comp = rep.get("composite", {})
comp = comp.get("score", comp) if isinstance(comp, dict) else comp
with open(sys.argv[4], "a") as t:
    t.write("%-14s %-7s %6.3f %6.3f %6.3f %9d %7.3f %7.3f %7.3f %9s\n" % (sys.argv[2], sys.argv[3], ops["f1"], ops["precision"], ops["recall"], tmpl["spurious_concrete_paths"], resp, types, fmts, comp))
bad = []
if ops["f1"] < 0.95: bad.append("operation F1 %.3f < 0.95 (missing %s, extra %s)" % (ops["f1"], ops["missing"][:3], ops["extra"][:3]))
if resp < 0.90: bad.append("response property recall %.3f < 0.90 (%s)" % (resp, rep["response_properties"]["missing_examples"][:3]))
if tmpl["spurious_concrete_paths"] > 0: bad.append("spurious concrete paths: %s" % tmpl["spurious_examples"][:3])
print("; ".join(bad) if bad else "OK F1=%.3f respR=%.3f" % (ops["f1"], resp))
PY
)
    case "$verdict" in
      OK*) ok "$name/$input: ${verdict#OK }" ;;
      *) fail "$name/$input: $verdict" ;;
    esac
  done
done
echo
cat "$WORK/table"
echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
