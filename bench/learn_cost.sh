#!/usr/bin/env bash
# What learning costs on top of parsing: `apitap learn` vs `apitap exchanges` on the same
# synthetic capture (bench/run.sh's generator), in instructions counted by
# `valgrind --tool=callgrind` (independent of the machine's load) and in user CPU.
#
# Usage: bench/learn_cost.sh [SIZE_GB]   (default 0.05: ~5,000 exchanges, JSON bodies of
#        0.2-8 KB, a quarter gzip)   APITAP=path/to/apitap  BASE=path/to/older/apitap
# With BASE set, the same is measured for that binary too (before → after). Also prints how
# many exchanges adaptive body sampling skipped a body of (does sampling engage here?).
# Target (issue 13): learn <= 1.2x exchanges on the bench capture (bench/run.sh's 1 GB:
# `bench/learn_cost.sh 1.0`, ~5 min per callgrind run). The 0.05 GB default is quick but
# mostly measures the sampler's warm-up (~140 exchanges per endpoint, 62 % of them inspected;
# at 1 GB ~2,600 and 11 %): 5.5x there against 1.47x at 1 GB (2026-12-03); 3.97x and 1.16x on 2026-12-04.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/bench-out"
mkdir -p "$OUT"
SIZE_GB="${1:-0.05}"
APITAP="${APITAP:-$ROOT/target/release/apitap}"
GEN="$ROOT/target/release/gen-capture"
[ -x "$GEN" ] || (cd "$ROOT" && cargo build --release -q -p apitap-bench)
[ -x "$APITAP" ] || (cd "$ROOT" && cargo build --release -q -p apitap)
command -v valgrind > /dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q valgrind > /dev/null 2>&1
PCAP="$OUT/learn-cost-${SIZE_GB}gb.pcap"
[ -s "$PCAP" ] || "$GEN" --out "$PCAP" --size-gb "$SIZE_GB" --seed 1 >&2

# instructions BIN ARGS... → Ir count of the run
instructions() {
    local f
    f=$(mktemp)
    valgrind --tool=callgrind --callgrind-out-file="$f.cg" "$@" > /dev/null 2> "$f"
    awk '/Collected :/ {print $NF}' "$f"
    rm -f "$f" "$f.cg"
}
# usercpu BIN ARGS... → user+sys seconds (best of 3)
usercpu() {
    local best="" t
    for _ in 1 2 3; do
        t=$( { /usr/bin/time -f "%U %S" "$@" > /dev/null 2> /dev/null; } 2>&1 | awk '{print $1 + $2}')
        [ -z "$best" ] && best=$t
        best=$(python3 -c "print(min($best, $t))")
    done
    echo "$best"
}
measure() { # NAME BIN
    local ex le la
    ex=$(instructions "$2" exchanges "$PCAP")
    le=$(instructions "$2" learn "$PCAP" -o /dev/null)
    if "$2" learn --help 2>&1 | grep -q -- --learn-all; then
        la=$(instructions "$2" learn --learn-all "$PCAP" -o /dev/null)
    else
        la=$le
    fi
    python3 -c "
ex, le, la = $ex, $le, $la
print(f'| $1 | {ex/1e6:.0f} M | {le/1e6:.0f} M | {le/ex:.2f}x | {la/1e6:.0f} M | {la/ex:.2f}x |')"
}
# sampled BIN → how many learned exchanges had a body skipped by adaptive sampling (does it
# engage on this capture?), from the native model's per-endpoint `bodies_skipped`
sampled() {
    "$1" learn --format model "$PCAP" 2> /dev/null | python3 -c '
import json, sys
n = s = 0
def walk(o):
    global n, s
    if isinstance(o, dict):
        for ep in (o.get("eps") or {}).values() if isinstance(o.get("eps"), dict) else []:
            n += ep.get("n", 0)
            s += ep.get("bodies_skipped", 0)
        for v in o.values():
            walk(v)
    elif isinstance(o, list):
        for v in o:
            walk(v)
walk(json.load(sys.stdin))
print(f"Sampling: {s:,} of {n:,} learned exchanges had a body skipped ({100 * s / max(n, 1):.1f} %).")'
}
{
    echo "# learn vs exchanges (callgrind instructions, $(basename "$PCAP"))"
    echo
    echo "| binary | exchanges | learn | learn/exchanges | learn --learn-all | all/exchanges |"
    echo "|---|---:|---:|---:|---:|---:|"
    [ -n "${BASE:-}" ] && measure "before ($BASE)" "$BASE"
    measure "after ($APITAP)" "$APITAP"
    echo
    sampled "$APITAP"
} | tee "$OUT/learn-cost.md"
