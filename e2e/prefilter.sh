#!/usr/bin/env bash
# The agent's kernel prefilter: what it never parses (UDP here) is dropped by the BPF filter
# in the kernel, before user space, and so are the ports the user's --filter excludes.
#
# An agent without --filter and one with --filter 'not port 18081' capture the server's
# veth (`ip netns exec SRV apitap agent`); the client namespace sends a UDP flood (python,
# ~20,000 datagrams) and HTTP to two TCP ports. Checks, from each agent's
# apitap_packets_captured_total: the UDP flood moved the counter by (almost) nothing, the
# HTTP exchanges did reach it, and the excluded port never did. Runs in ~15 s.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
. "$HERE/lib.sh"

e2e_require_root_netns
e2e_require_cmd curl python3
APITAP="${APITAP:-}"
if [ -z "$APITAP" ]; then
    (cd "$ROOT" && cargo build -q --release -p apitap) || { echo "FAIL: cannot build apitap"; exit 1; }
    APITAP="$ROOT/target/release/apitap"
fi
e2e_log "using $APITAP"
PORT=18080
PORT2=18081
ADMIN_A=19464
ADMIN_B=19465
T="$E2E_TMP"

e2e_setup_netns
e2e_bg_srv python3 "$HERE/demo_api.py" "$E2E_SRV_IP" "$PORT" 2> "$T/demo-api.log"
e2e_bg_srv python3 "$HERE/demo_api.py" "$E2E_SRV_IP" "$PORT2" 2> "$T/demo-api2.log"
e2e_wait_port "$E2E_SRV_IP" "$PORT" || { e2e_fail "demo API did not start"; e2e_summary; exit 1; }
e2e_wait_port "$E2E_SRV_IP" "$PORT2" || { e2e_fail "demo API did not start"; e2e_summary; exit 1; }

e2e_bg_srv "$APITAP" agent -i "$E2E_IF_SRV" --listen "127.0.0.1:$ADMIN_A" --log warn
e2e_bg_srv "$APITAP" agent -i "$E2E_IF_SRV" --filter "not port $PORT2" \
    --listen "127.0.0.1:$ADMIN_B" --log warn
admin() { e2e_srv curl -sf --max-time 5 "http://127.0.0.1:$1/metrics"; }
ready() {
    local i
    for i in $(seq 1 100); do
        e2e_srv curl -sf --max-time 2 "http://127.0.0.1:$1/readyz" > /dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}
e2e_check "agent (no --filter) ready" ready "$ADMIN_A"
e2e_check "agent (--filter 'not port $PORT2') ready" ready "$ADMIN_B"
packets() { admin "$1" | awk '/^apitap_packets_captured_total/ {s += $NF} END {print s + 0}'; }

a0=$(packets "$ADMIN_A"); b0=$(packets "$ADMIN_B")
e2e_cli python3 - "$E2E_SRV_IP" << 'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
payload = b"x" * 512
for i in range(20000):
    s.sendto(payload, (sys.argv[1], 9000 + i % 16))
EOF
sleep 1
a1=$(packets "$ADMIN_A"); b1=$(packets "$ADMIN_B")
e2e_log "UDP flood of 20000 datagrams: captured +$((a1 - a0)) (no filter), +$((b1 - b0)) (user filter)"
# a few packets may be ARP-free TCP keepalives etc.; a flood reaching user space is 20,000
e2e_check "UDP flood never reaches user space (no --filter)" test $((a1 - a0)) -lt 50
e2e_check "UDP flood never reaches user space (--filter)" test $((b1 - b0)) -lt 50

for i in $(seq 1 20); do
    e2e_cli curl -sf --max-time 5 "http://$E2E_SRV_IP:$PORT2/users/$i" > /dev/null
done
sleep 1
b2=$(packets "$ADMIN_B"); a2=$(packets "$ADMIN_A")
e2e_check "the excluded port never reaches user space" test $((b2 - b1)) -lt 10
e2e_check "TCP still reaches the agent without a filter" test $((a2 - a1)) -ge 100
for i in $(seq 1 20); do
    e2e_cli curl -sf --max-time 5 "http://$E2E_SRV_IP:$PORT/users/$i" > /dev/null
done
sleep 1
b3=$(packets "$ADMIN_B")
e2e_check "TCP on other ports reaches the agent with the user filter" test $((b3 - b2)) -ge 100
e2e_summary
