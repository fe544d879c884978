#!/usr/bin/env bash
# End-to-end: real HTTP/2 (h2c) and gRPC traffic between two network namespaces, captured
# with tcpdump, decoded by both `apitap exchanges` and tshark's HTTP/2 dissector; method,
# :path, :status and grpc-status must agree on every stream (e2e/h2/compare.py).
#
# Peers: nghttpd (server), curl --http2-prior-knowledge, nghttp, h2load (clients); a Python
# grpcio server and client (e2e/h2/shop.py, e2e/h2/shop.proto: unary and streaming methods,
# nested and repeated messages, gzip, errors). Then a capture cut mid-connection: apitap
# must report no wrong value for it (never invent a path) and recover most of them.
# Last, the agent live (`apitap agent --netns`) on the same gRPC and h2c traffic: its
# /metrics has the RPC metrics with the right service, method and status labels, the h2c
# requests in http_server_*, and passes `promtool check metrics`.
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
e2e_require_cmd tcpdump tshark editcap curl python3 nghttpd nghttp h2load promtool
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

# --- the agent live on gRPC and h2c traffic --------------------------------------------------
ADMIN="$((20000 + $$ % 20000))"
"$APITAP" agent --netns "/var/run/netns/$E2E_NS_SRV" -i "$E2E_IF_SRV" \
    --filter "tcp port $PORT or tcp port $GPORT" --listen "127.0.0.1:$ADMIN" \
    --snapshot-interval 0.5 --service shop --log info 2> "$T/agent.log" &
E2E_PIDS+=("$!")
agent_ready() {
    for _ in $(seq 1 100); do
        curl -sf --max-time 2 "http://127.0.0.1:$ADMIN/readyz" > /dev/null && return 0
        sleep 0.1
    done
    return 1
}
e2e_check "agent (--netns) ready" agent_ready
e2e_check "grpcio client against the live agent" \
    e2e_cli python3 "$HERE/h2/shop.py" client "$GPORT" 2 --host "$E2E_SRV_IP"
e2e_check "h2c requests against the live agent" e2e_cli bash -c \
    "for i in 1 2 3; do curl -sS --http2-prior-knowledge -o /dev/null $B/user.json; done && \
     curl -sS --http2-prior-knowledge -o /dev/null $B/nope"
sleep 3 # idle flows are not needed: exchanges finish per stream; wait for the snapshot
curl -sf "http://127.0.0.1:$ADMIN/metrics" > "$T/metrics.txt"
promtool_ok() { promtool check metrics < "$1" > "$T/promtool.txt" 2>&1 && [ ! -s "$T/promtool.txt" ]; }
e2e_check "promtool check metrics accepts the agent's /metrics" promtool_ok "$T/metrics.txt"
e2e_check "RPC metrics: learned service/method, grpc-status labels, h2c in http_server_*" \
    python3 - "$T/metrics.txt" <<'PY'
import re, sys
series = {}
for l in open(sys.argv[1]):
    m = re.match(r'^(\w+)\{(.*)\} (\S+)$', l.strip())
    if m:
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2)))
        series.setdefault(m.group(1), []).append((labels, float(m.group(3))))
rpc = {(l["rpc_service"], l["rpc_method"], l["rpc_grpc_status_code"]): v
       for l, v in series.get("rpc_server_call_duration_seconds_count", [])
       if l.get("rpc_system") == "grpc" and l.get("service_name") == "shop"}
bad = []
for m in ["GetItem", "ListItems", "PlaceOrder", "Chat"]:
    if not any(k[:2] == ("shop.v1.Shop", m) and k[2] == "0" for k in rpc):
        bad.append(f"no OK series for {m}")
for code in ["5", "3"]:
    if ("shop.v1.Shop", "GetItem", code) not in rpc:
        bad.append(f"no GetItem series with status {code}")
if any(k[0] == "_other" for k in rpc):
    bad.append("calls recorded under _other although their methods were learned")
http = {(l["http_request_method"], l["http_route"], l["http_response_status_code"]): v
        for l, v in series.get("http_server_request_duration_seconds_count", [])}
if http.get(("GET", "/user.json", "200")) != 3.0:
    bad.append(f"h2c GET /user.json 200 x3 missing: {http}")
if any("/shop.v1.Shop/" in k[1] for k in http):
    bad.append("gRPC calls counted as HTTP requests")
print("\n".join(bad) or f"rpc series {sorted(rpc.items())}")
sys.exit(1 if bad else 0)
PY

e2e_summary
