#!/usr/bin/env bash
# Overhead of the apitap agent on the application it watches (a script, not a timed test).
#
# Usage (root): bench/overhead.sh      APITAP=path/to/apitap  DURATION=10  CONNS=32  THREADS=1
#               RATE=20000 CONNS=40 bench/overhead.sh    (paced to about 20,000 requests/s)
#
# nginx (one worker, JSON answers for /users/{id}) runs in a server network namespace; wrk
# drives it from a client namespace over a veth pair. ROUNDS (default 3) alternating runs
# without and with the agent capturing the server's veth
# (`ip netns exec SRV apitap agent`); ratios compare medians (the machine is shared, so noisy).
# Reports throughput and p99 latency ratios, the agent's CPU (from process_cpu_seconds_total)
# and peak RSS (VmHWM), packets captured and kernel/interface/queue drops at that load, and
# writes bench-out/overhead.md. Targets (issue 4): <= 5 % throughput loss, zero kernel drops
# at 20,000 requests/s on a 2-core machine, RSS under 100 MB.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
. "$ROOT/e2e/lib.sh"

e2e_require_root_netns
for pkg in nginx wrk; do
    command -v "$pkg" > /dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" > /dev/null 2>&1
done
e2e_require_cmd nginx wrk curl python3
APITAP="${APITAP:-$ROOT/target/release/apitap}"
[ -x "$APITAP" ] || (cd "$ROOT" && cargo build -q --release -p apitap) || exit 1
DURATION="${DURATION:-10}"
CONNS="${CONNS:-32}"
THREADS="${THREADS:-1}"
PORT=8080
ADMIN=19464
T="$E2E_TMP"
OUT="$ROOT/bench-out"
mkdir -p "$OUT"

e2e_setup_netns
mkdir -p "$T/nginx"
cat > "$T/nginx.conf" << EOF
worker_processes 1;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $T/nginx; proxy_temp_path $T/nginx; fastcgi_temp_path $T/nginx;
    uwsgi_temp_path $T/nginx; scgi_temp_path $T/nginx;
    keepalive_requests 1000000;
    server {
        listen $E2E_SRV_IP:$PORT;
        default_type application/json;
        location ~ ^/users/([0-9]+)\$ { return 200 '{"id":\$1,"name":"user","active":true}'; }
        location / { return 404 '{"error":"not_found"}'; }
    }
}
EOF
e2e_bg_srv nginx -c "$T/nginx.conf" -g 'daemon off;'
e2e_wait_port "$E2E_SRV_IP" "$PORT" || { echo "nginx did not start"; exit 1; }
cat > "$T/ids.lua" << 'EOF'
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/users/" .. (n % 1000))
end
EOF
# RATE=N: pace each connection (wrk's delay(), whole milliseconds) to about N requests/s in
# total; needs CONNS >= N/1000 (e.g. RATE=20000 CONNS=40: 2 ms between a connection's requests).
if [ -n "${RATE:-}" ]; then
    echo "delay = function() return $(( CONNS * 1000 / RATE )) end" >> "$T/ids.lua"
fi

# wrk → "rps p99_ms"
run_wrk() {
    e2e_cli wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$T/ids.lua" \
        "http://$E2E_SRV_IP:$PORT/" > "$T/wrk-$1.txt" 2>&1
    python3 - "$T/wrk-$1.txt" << 'EOF'
import re, sys
t = open(sys.argv[1]).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
m = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", t)
p99 = float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
print(f"{rps:.0f} {p99:.3f}")
EOF
}

metric() { awk -v p="$1" 'index($0, p) == 1 {s += $NF} END {print s + 0}' "$2"; }

ROUNDS="${ROUNDS:-3}"
RPS_OFF=(); P99_OFF=(); RPS_ON=(); P99_ON=()
HWM_KB=0
: > "$T/deltas.txt"
for r in $(seq 1 "$ROUNDS"); do
    echo "round $r/$ROUNDS: without the agent ..." >&2
    read -r a b < <(run_wrk "off$r"); RPS_OFF+=("$a"); P99_OFF+=("$b")
    echo "round $r/$ROUNDS: with the agent ..." >&2
    e2e_bg_srv "$APITAP" agent -i "$E2E_IF_SRV" --filter "tcp port $PORT" --listen "127.0.0.1:$ADMIN" --log warn
    AGENT_PID=$E2E_LAST_PID   # `ip netns exec` execs the agent: same pid
    for i in $(seq 1 50); do e2e_srv curl -sf "http://127.0.0.1:$ADMIN/readyz" > /dev/null && break; sleep 0.1; done
    e2e_srv curl -sf "http://127.0.0.1:$ADMIN/metrics" > "$T/m0.txt"
    read -r a b < <(run_wrk "on$r"); RPS_ON+=("$a"); P99_ON+=("$b")
    sleep 2   # let the pipeline finish the tail
    e2e_srv curl -sf "http://127.0.0.1:$ADMIN/metrics" > "$T/m1.txt"
    h=$(awk '/^VmHWM:/ {print $2}' "/proc/$AGENT_PID/status" 2> /dev/null || echo 0)
    [ "${h:-0}" -gt "$HWM_KB" ] && HWM_KB=$h
    python3 "$HERE/metrics_delta.py" "$T/m0.txt" "$T/m1.txt" >> "$T/deltas.txt"
    kill -TERM "$AGENT_PID" 2> /dev/null
    wait "$AGENT_PID" 2> /dev/null
done
python3 "$HERE/overhead_report.py" "$T/deltas.txt" "${RPS_OFF[*]}" "${P99_OFF[*]}" \
    "${RPS_ON[*]}" "${P99_ON[*]}" "$HWM_KB" "$DURATION" "$CONNS" "$OUT/overhead.md"
