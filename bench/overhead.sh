#!/usr/bin/env bash
# Overhead of the apitap agent on the application it watches (a script, not a timed test).
#
# Usage (root): bench/overhead.sh      APITAP=path/to/apitap  DURATION=10  CONNS=32  THREADS=1
#
# nginx (one worker, JSON answers for /users/{id}) runs in a server network namespace; wrk
# drives it from a client namespace over a veth pair. Three runs in one go, so the machine's
# state is comparable: without the agent, with the agent capturing the server's veth
# (`ip netns exec SRV apitap agent`), and without again (the baseline is the mean of both).
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

echo "baseline 1 ..." >&2
read -r RPS_A P99_A < <(run_wrk base1)
echo "with the agent ..." >&2
e2e_bg_srv "$APITAP" agent -i "$E2E_IF_SRV" --filter "tcp port $PORT" --listen "127.0.0.1:$ADMIN" --log warn
AGENT_NS_PID=$E2E_LAST_PID
for i in $(seq 1 50); do e2e_srv curl -sf "http://127.0.0.1:$ADMIN/readyz" > /dev/null && break; sleep 0.1; done
AGENT_PID=$(pgrep -P "$AGENT_NS_PID" -x apitap || echo "$AGENT_NS_PID")
e2e_srv curl -sf "http://127.0.0.1:$ADMIN/metrics" > "$T/m0.txt"
read -r RPS_B P99_B < <(run_wrk agent)
sleep 2
e2e_srv curl -sf "http://127.0.0.1:$ADMIN/metrics" > "$T/m1.txt"
HWM_KB=$(awk '/^VmHWM:/ {print $2}' "/proc/$AGENT_PID/status" 2> /dev/null || echo 0)
RSS_KB=$(awk '/^VmRSS:/ {print $2}' "/proc/$AGENT_PID/status" 2> /dev/null || echo 0)
kill -TERM "$AGENT_PID" 2> /dev/null
echo "baseline 2 ..." >&2
read -r RPS_C P99_C < <(run_wrk base2)

python3 - "$T/m0.txt" "$T/m1.txt" "$RPS_A" "$P99_A" "$RPS_B" "$P99_B" "$RPS_C" "$P99_C" "$HWM_KB" "$RSS_KB" "$DURATION" "$CONNS" "$OUT/overhead.md" << 'EOF'
import sys
def load(p):
    d = {}
    for l in open(p):
        if l.startswith("#") or not l.strip():
            continue
        k, v = l.rsplit(" ", 1)
        name = k.split("{")[0]
        d[name] = d.get(name, 0.0) + float(v)
        d[k] = float(v)
    return d
m0, m1 = load(sys.argv[1]), load(sys.argv[2])
ra, pa, rb, pb, rc, pc = map(float, sys.argv[3:9])
hwm, rss, dur, conns = int(sys.argv[9]), int(sys.argv[10]), float(sys.argv[11]), sys.argv[12]
base_rps, base_p99 = (ra + rc) / 2, (pa + pc) / 2
d = lambda k: m1.get(k, 0) - m0.get(k, 0)
pk = d("apitap_packets_captured_total")
kd, idr, qd = d("apitap_kernel_drops_total"), d("apitap_interface_drops_total"), d("apitap_queue_drops_total")
cpu = d("process_cpu_seconds_total")
ex = d("apitap_exchanges_total")
req = rb * dur
lines = [
    "# apitap agent overhead",
    "",
    f"wrk {dur:.0f} s, {conns} connections, nginx (1 worker) in a network namespace, agent on the server veth.",
    "",
    "| | requests/s | p99 latency (ms) |",
    "|---|---:|---:|",
    f"| without agent (run 1) | {ra:.0f} | {pa:.3f} |",
    f"| with agent | {rb:.0f} | {pb:.3f} |",
    f"| without agent (run 2) | {rc:.0f} | {pc:.3f} |",
    "",
    f"- throughput ratio (with / mean without): **{rb / base_rps:.3f}** ({(1 - rb / base_rps) * 100:+.1f} % loss)",
    f"- p99 latency ratio: **{pb / base_p99:.3f}**",
    f"- agent CPU: {cpu:.2f} s over ~{dur:.0f} s of load = **{cpu / dur * 100:.0f} % of one core**",
    f"- agent peak RSS (VmHWM): **{hwm / 1024:.1f} MiB** (RSS at the end {rss / 1024:.1f} MiB)",
    f"- packets captured: {pk:.0f}; exchanges learned: {ex:.0f} (wrk completed ~{req:.0f})",
    f"- drops at {rb:.0f} requests/s: kernel **{kd:.0f}**, interface {idr:.0f}, queue **{qd:.0f}** "
    f"(drop rate {(kd + idr + qd) / max(pk + kd + qd, 1) * 100:.3f} %)",
]
text = "\n".join(lines) + "\n"
open(sys.argv[13], "w").write(text)
print(text)
EOF
