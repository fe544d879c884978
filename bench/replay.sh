#!/usr/bin/env bash
# Instructions the live agent spends per exchange, counted by callgrind (load-independent,
# unlike CPU time on a shared machine): runs the agent's live pipeline over a capture
# (`agent_replay`, the example around `apitap::agent::replay`: same batches, pipeline,
# learner, route table and metrics as `apitap agent`) under `valgrind --tool=callgrind`.
#
# Usage: bench/replay.sh CAPTURE [REPLAY_BIN]     (REPLAY_BIN default: the release example)
#        OUT=dir to keep callgrind.out (default: a temp dir, removed)
#        REPLAY_ARGS="--queued": flags for agent_replay (--queued: packets copied into batches
#        as a capture thread feeding a pipeline thread does; --learn-all; --filter EXPR)
# Prints: capture, packets, exchanges, total Ir, Ir per exchange. Look inside with
# `callgrind_annotate --inclusive=yes $OUT/callgrind.out`.
#
# A capture shaped like bench/overhead.sh's traffic (nginx, keep-alive GETs):
#   RECORD=/tmp/nginx.pcap MODES=unpaced ROUNDS=1 DURATION=2 bench/overhead.sh
#   tcpdump -r /tmp/nginx.pcap -w /tmp/nginx-200k.pcap -c 200000
# One with JSON bodies: target/release/gen-capture --out /tmp/gen.pcap --connections 1500
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
CAP="${1:?usage: bench/replay.sh CAPTURE [REPLAY_BIN]}"
BIN="${2:-$ROOT/target/release/examples/agent_replay}"
if [ ! -x "$BIN" ]; then
    (cd "$ROOT" && cargo build -q --release -p apitap --example agent_replay)
fi
command -v valgrind > /dev/null || { echo "valgrind is not installed" >&2; exit 1; }
KEEP="${OUT:-}"
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
# shellcheck disable=SC2086
valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out" "$BIN" "$CAP" ${REPLAY_ARGS:-} \
    > /dev/null 2> "$OUT/valgrind.log"
read -r packets exchanges < <(awk '/^packets / {print $2, $4}' "$OUT/valgrind.log")
ir=$(awk '/ refs:/ {gsub(",", "", $NF); print $NF}' "$OUT/valgrind.log")
python3 -c "import sys; p, e, i = sys.argv[1:4]; print(f'{sys.argv[4]}: packets {int(float(p))} exchanges {int(float(e))} Ir {int(i):,} Ir/exchange {int(i) / max(float(e), 1):,.0f}')" \
    "$packets" "$exchanges" "$ir" "$(basename "$CAP")"
[ -n "$KEEP" ] || rm -rf "$OUT"
