#!/usr/bin/env bash
# End-to-end: real HTTP/2 (h2c) and gRPC traffic between two network namespaces, captured
# with tcpdump, decoded by both `apitap exchanges` and tshark's HTTP/2 dissector; method,
# :path, :status and grpc-status must agree on every stream (e2e/h2/compare.py).
#
# Peers: nghttpd (server), curl --http2-prior-knowledge, nghttp, h2load (clients); a Python
# grpcio server and client (e2e/h2/shop.py, e2e/h2/shop.proto: unary and streaming methods,
# nested and repeated messages, gzip, errors). Then a capture cut mid-connection: apitap
# must report no wrong value for it (never invent a path) and recover most of them.
#
# Usage (root): e2e/h2_compare.sh      APITAP=path/to/apitap to pick the binary (default
# target/debug/apitap, built if missing). E2E_KEEP=1 keeps the temp dir. Prints ok/FAIL
# lines and "N passed, N failed"; exit status non-zero on any failure. Without root or
# `ip netns` it skips (exit 0), unless CI is set.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
# shellcheck source=e2e/lib.sh
. "$HERE/lib.sh"

e2e_require_root_netns
e2e_require_cmd tcpdump tshark editcap curl python3 nghttpd nghttp h2load
python3 -c "import grpc, grpc_tools" 2> /dev/null || e2e_skip "python grpcio/grpcio-tools not installed"

PORT="${E2E_PORT:-18780}"
GPORT=$((PORT + 1))
if [ -z "${APITAP:-}" ]; then
    APITAP="$ROOT/target/debug/apitap"
    [ -x "$APITAP" ] || (cd "$ROOT" && cargo build -q -p apitap) || { echo "FAIL - build apitap"; exit 1; }
fi
T="$E2E_TMP"
e2e_log "namespaces $E2E_NS_SRV / $E2E_NS_CLI, server $E2E_SRV_IP:$PORT (h2c) and :$GPORT (gRPC), temp $T"
e2e_setup_netns

mkdir -p "$T/www"
printf '{"id":1,"name":"ada","tags":["x","y"]}\n' > "$T/www/user.json"
head -c 60000 /dev/zero | tr '\0' 'a' > "$T/www/big.txt"

e2e_bg_srv nghttpd --no-tls -d "$T/www" "$PORT"
e2e_bg_srv python3 "$HERE/h2/shop.py" server "$GPORT" --host "$E2E_SRV_IP"
e2e_wait_port "$E2E_SRV_IP" "$PORT" || { e2e_fail "nghttpd listening"; e2e_summary; exit 1; }
e2e_wait_port "$E2E_SRV_IP" "$GPORT" || { e2e_fail "gRPC server listening"; e2e_summary; exit 1; }

capture() { # capture NAME PORT: start tcpdump in the server namespace
    e2e_bg_srv tcpdump -i "$E2E_IF_SRV" -n -s 0 -U --immediate-mode -w "$T/$1.pcap" "tcp port $2" 2> "$T/$1.tcpdump.err"
    CAP_PID=$E2E_LAST_PID
    for _ in $(seq 1 100); do
        grep -q "listening on" "$T/$1.tcpdump.err" 2> /dev/null && return 0
        sleep 0.1
    done
    return 1
}
stop_capture() { sleep 0.5; kill "$CAP_PID" 2> /dev/null; wait "$CAP_PID" 2> /dev/null; }

B="http://$E2E_SRV_IP:$PORT"
# --- h2c clients --------------------------------------------------------------------------
capture h2 "$PORT" || { e2e_fail "tcpdump started"; e2e_summary; exit 1; }
e2e_check "curl --http2-prior-knowledge (GET, 404, POST)" e2e_cli bash -c \
    "curl -sS --http2-prior-knowledge -o /dev/null $B/user.json && \
     curl -sS --http2-prior-knowledge -o /dev/null $B/nope && \
     curl -sS --http2-prior-knowledge -o /dev/null -H 'content-type: application/json' -d '{\"a\":1}' '$B/user.json?q=1'"
e2e_check "nghttp, three paths three times over one connection" \
    e2e_cli nghttp -n -m 3 "$B/user.json" "$B/big.txt" "$B/missing"
e2e_check "h2load, 300 requests on 3 connections, 10 streams each at once" \
    e2e_cli bash -c "h2load -n 300 -c 3 -m 10 $B/user.json > /dev/null"
stop_capture
e2e_check "h2c: apitap agrees with tshark on every stream" \
    python3 "$HERE/h2/compare.py" "$APITAP" "$T/h2.pcap" "$PORT"

# --- gRPC --------------------------------------------------------------------------------
capture grpc "$GPORT" || { e2e_fail "tcpdump started"; e2e_summary; exit 1; }
e2e_check "grpcio client: unary, server/client/bidi streaming, gzip, errors" \
    e2e_cli python3 "$HERE/h2/shop.py" client "$GPORT" 3 --host "$E2E_SRV_IP"
stop_capture
e2e_check "gRPC: apitap agrees with tshark on every stream (incl. grpc-status)" \
    python3 "$HERE/h2/compare.py" "$APITAP" "$T/grpc.pcap" "$GPORT"
"$APITAP" exchanges "$T/grpc.pcap" > "$T/grpc.jsonl"
e2e_check "gRPC: statuses 0, 5 (NOT_FOUND) and 3 (INVALID_ARGUMENT) seen" python3 - "$T/grpc.jsonl" <<'PY'
import json, sys
st = set()
for l in open(sys.argv[1]):
    e = json.loads(l)
    st.update(v for k, v in e["response_headers"] if k == "grpc-status")
sys.exit(0 if {"0", "5", "3"} <= st else f"statuses {st}")
PY
# --- mid-stream pickup ---------------------------------------------------------------------
capture long "$PORT" || { e2e_fail "tcpdump started"; e2e_summary; exit 1; }
e2e_cli bash -c "h2load -n 400 -c 1 -m 4 $B/user.json > /dev/null"
stop_capture
editcap -r "$T/long.pcap" "$T/cut.pcap" 60-10000000 > /dev/null
e2e_check "pickup: the full capture agrees with tshark" \
    python3 "$HERE/h2/compare.py" "$APITAP" "$T/long.pcap" "$PORT"
e2e_check "pickup: capture cut mid-connection: no wrong value, some recovered" \
    python3 "$HERE/h2/compare.py" "$APITAP" "$T/cut.pcap" "$PORT" --truth "$T/long.pcap"

# learned .proto (model/src/proto.rs): protoc accepts it, every method of shop.proto is
# there with its streaming kind
"$APITAP" learn "$T/grpc.pcap" --format proto -o "$T/learned.proto"
e2e_check "gRPC: learn --format proto is accepted by protoc" \
    python3 -m grpc_tools.protoc -I"$T" --descriptor_set_out="$T/learned.pb" "$T/learned.proto"
e2e_check "gRPC: learned .proto has the 4 methods with their streaming kinds" python3 - "$T/learned.proto" <<'PY'
import sys
t = open(sys.argv[1]).read()
want = ["rpc GetItem(GetItemRequest) returns (GetItemResponse);",
        "rpc ListItems(ListItemsRequest) returns (stream ListItemsResponse);",
        "rpc PlaceOrder(stream PlaceOrderRequest) returns (PlaceOrderResponse);",
        "rpc Chat(stream ChatRequest) returns (stream ChatResponse);"]
missing = [w for w in want if w not in t]
sys.exit(f"missing {missing}\n{t}" if missing else 0)
PY

e2e_summary
