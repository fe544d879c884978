#!/usr/bin/env bash
# Overhead of the apitap agent on the application it watches, against tcpdump (a script, not
# a timed test).
#
# Usage (root): bench/overhead.sh      APITAP=path/to/apitap (default target/dist/apitap, built
#               with `--profile dist` if missing)  DURATION=8  ROUNDS=3
#               MODES="unpaced paced"  RATE=15000 (paced load)  CONNS=32  THREADS=1
#               RECORD=FILE: tcpdump writes its phase's packets to FILE instead of /dev/null
#               (a capture of this traffic for bench/replay.sh; use with ROUNDS=1)
#               APITAP_BASE=path/to/base/apitap: a fourth phase per round runs that binary the
#               same way ("base"), so before/after are measured in one run
#               AGENT_ARGS="--fanout 2": extra flags for both agents
#               BASE_ARGS="...": when set, the base agent's flags instead of AGENT_ARGS (one
#               binary with and without a flag: APITAP_BASE=$APITAP BASE_ARGS=--queued)
#               SMAPS=1: the agents' memory at their peak RSS, by kind (kernel ring, binary
#               and libraries, heap, stacks), in bench-out/overhead-smaps-PHASE.txt
#               PERF=1: `perf record -e cpu-clock` (a software clock: works without hardware
#               counters, e.g. in a VM) on each agent during its wrk run; its samples by
#               binary (the kernel's share is `[kernel.kallsyms]`) and its top symbols, in
#               bench-out/overhead-perf-PHASE-MODEROUND.txt. (Clock-tick stime/utime from /proc
#               cannot split kernel from user time here: ticks land on the wake-ups they
#               cause, and read 68-89 % kernel for a paced agent whose samples show ~2 %.)
#
# nginx (one worker, JSON answers for /users/{id}) runs in a server network namespace; wrk
# drives it from a client namespace over a veth pair. For each load mode (unpaced: as fast
# as wrk goes; paced: about RATE requests/s) ROUNDS alternating rounds of three phases:
# no capture, `tcpdump -w /dev/null` on the server's veth, `apitap agent` on it (same
# snaplen, kernel buffer and port filter). The machine may be shared, so absolute numbers
# are noisy: ratios are taken within a round, then the median over rounds. Reports per mode:
# throughput and p99 of the app per phase, CPU per request of tcpdump and of the agent
# (scheduler run time from /proc over the wrk run / requests completed) and their ratio, context
# switches per 1,000 requests (all threads, voluntary + involuntary: each wake-up adds to the
# cost of the requests it serves, most at a paced load), the agent's peak RSS (VmHWM, per
# binary), and kernel + queue drops (tcpdump's own count; the agent's metrics). Writes
# bench-out/overhead.md. Targets (issue 13): agent <= 4x tcpdump CPU per request, throughput
# with the agent >= 0.97x with tcpdump, p99 added <= 0.3 ms paced, RSS <= 64 MB, zero drops.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
. "$ROOT/e2e/lib.sh"

e2e_require_root_netns
[ -n "${PERF:-}" ] && ! command -v perf > /dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q linux-perf > /dev/null 2>&1
for pkg in nginx wrk tcpdump; do
    command -v "$pkg" > /dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" > /dev/null 2>&1
done
e2e_require_cmd nginx wrk curl python3 tcpdump
# the build that ships (the Dockerfile's profile), not the test build
APITAP="${APITAP:-$ROOT/target/dist/apitap}"
[ -x "$APITAP" ] || (cd "$ROOT" && cargo build -q --profile dist -p apitap) || exit 1
DURATION="${DURATION:-8}"
CONNS="${CONNS:-32}"
THREADS="${THREADS:-1}"
RATE="${RATE:-15000}"
MODES="${MODES:-unpaced paced}"
PORT=8080
ADMIN=19464
T="$E2E_TMP"
OUT="$ROOT/bench-out"
mkdir -p "$OUT"
TCK=$(getconf CLK_TCK)

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
# ids.lua: unpaced; paced.lua adds wrk's delay() (whole ms per connection): CONNS_PACED
# connections at about RATE requests/s in total. A connection sends one request per delay
# plus response time, so the delay is 2 ms and the connections are sized for 2.5 ms per
# request (2 ms plus ~0.5 ms of response time on the veth): sized for the delay alone,
# RATE=15000 held only ~12,000 req/s (2026-12-03). The report gives the rate reached.
cat > "$T/ids.lua" << 'EOF'
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/users/" .. (n % 1000))
end
EOF
CONNS_PACED=$(( (RATE * 5 + 1999) / 2000 ))
cp "$T/ids.lua" "$T/paced.lua"
echo "delay = function() return 2 end" >> "$T/paced.lua"

# run_wrk NAME MODE → "rps p99_ms requests"
run_wrk() {
    local script="$T/ids.lua" conns="$CONNS"
    if [ "$2" = paced ]; then script="$T/paced.lua"; conns="$CONNS_PACED"; fi
    e2e_cli wrk -t"$THREADS" -c"$conns" -d"${DURATION}s" --latency -s "$script" \
        "http://$E2E_SRV_IP:$PORT/" > "$T/wrk-$1.txt" 2>&1
    python3 - "$T/wrk-$1.txt" << 'EOF'
import re, sys
t = open(sys.argv[1]).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
m = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", t)
p99 = float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
n = int(re.search(r"(\d+) requests in", t).group(1))
print(f"{rps:.0f} {p99:.3f} {n}")
EOF
}

# Context switches (voluntary + involuntary, all threads) of a process so far: how often it
# was woken or preempted.
switches() { cat /proc/"$1"/task/*/status 2> /dev/null | awk '/ctxt_switches/ {s += $2} END {print s + 0}'; }

# CPU seconds of a process so far: the scheduler's run time of its live threads, kept in
# nanoseconds (/proc/PID/task/*/schedstat, first field). A thread that exits takes its time
# with it: the agent's capture (and pipeline) threads live as long as it does, and a
# blocking thread tokio ends after 10 s idle holds at most the milliseconds of one /metrics
# render. /proc/PID/stat's utime+stime come in clock ticks (10 ms): a paced tcpdump phase
# used 1-2 ticks, so its CPU per request was known to +-50 %. Falls back to the ticks where
# schedstat is missing (a kernel without CONFIG_SCHED_INFO).
cpu_s() {
    local t
    t=$(cat /proc/"$1"/task/*/schedstat 2> /dev/null | awk '{s += $1} END {if (NR) printf "%.9f", s / 1e9}')
    [ -n "$t" ] && { echo "$t"; return; }
    awk -v t="$TCK" '{print ($14 + $15) / t}' "/proc/$1/stat" 2> /dev/null || echo 0
}

# smaps_peak PID FILE: until PID exits, keeps in FILE its /proc/PID/smaps at the highest Rss
# seen (sampled every 0.2 s).
smaps_peak() {
    local max=0 rss
    while [ -d "/proc/$1" ]; do
        rss=$(awk '/^Rss:/ {print $2}' "/proc/$1/smaps_rollup" 2> /dev/null)
        if [ -n "$rss" ] && [ "$rss" -gt "$max" ]; then
            max=$rss
            cat "/proc/$1/smaps" > "$2.tmp" 2> /dev/null && mv "$2.tmp" "$2"
        fi
        sleep 0.2
    done
}

# perf_split DATA: of perf samples, the share by binary (`[kernel.kallsyms]` is kernel mode),
# then the top symbols.
perf_split() {
    perf report -i "$1" --stdio --sort dso 2> /dev/null | grep -E '^ +[0-9.]+%' || echo "no samples"
    echo
    perf report -i "$1" --stdio --no-children --sort dso,sym 2> /dev/null | grep -E '^ +[0-9.]+%' | head -40
}

# agent_phase PHASE BINARY: one round's agent phase (PHASE is agent or base).
agent_phase() {
    local phase=$1 bin=$2 pid c0 c1 a b n h drops sp= pp=
    echo "$mode round $r/$ROUNDS: $phase $bin ..." >&2
    local args=${AGENT_ARGS:-}
    [ "$phase" = base ] && [ -n "${BASE_ARGS+x}" ] && args=$BASE_ARGS
    # shellcheck disable=SC2086
    e2e_bg_srv "$bin" agent -i "$E2E_IF_SRV" --filter "tcp port $PORT" --listen "127.0.0.1:$ADMIN" --log warn $args
    pid=$E2E_LAST_PID   # `ip netns exec` execs the agent: same pid
    if [ -n "${SMAPS:-}" ]; then
        smaps_peak "$pid" "$T/smaps-$phase-$mode$r.txt" &
        sp=$!
    fi
    for i in $(seq 1 50); do e2e_srv curl -sf "http://127.0.0.1:$ADMIN/readyz" > /dev/null && break; sleep 0.1; done
    e2e_srv curl -sf "http://127.0.0.1:$ADMIN/metrics" > "$T/m0.txt"
    c0=$(cpu_s "$pid")
    x0=$(switches "$pid")
    if [ -n "${PERF:-}" ]; then
        perf record -q -e cpu-clock -F 2000 -p "$pid" -o "$T/perf-$phase-$mode$r.data" > /dev/null 2>&1 &
        pp=$!
    fi
    read -r a b n < <(run_wrk "$phase-$mode$r" "$mode")
    sleep 1   # let the pipeline finish the tail (its CPU belongs to these requests)
    if [ -n "$pp" ]; then
        kill -INT "$pp" 2> /dev/null
        wait "$pp" 2> /dev/null
        perf_split "$T/perf-$phase-$mode$r.data" > "$OUT/overhead-perf-$phase-$mode$r.txt"
    fi
    c1=$(cpu_s "$pid")
    x1=$(switches "$pid")
    e2e_srv curl -sf "http://127.0.0.1:$ADMIN/metrics" > "$T/m1.txt"
    h=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2> /dev/null || echo 0)
    # kernel + interface + queue drops
    drops=$(python3 "$HERE/metrics_delta.py" "$T/m0.txt" "$T/m1.txt" | awk '{print $2 + $3 + $4}')
    echo "$mode $r $phase $a $b $n $(python3 -c "print($c1 - $c0)") ${drops:-0} ${h:-0} $((x1 - x0))" >> "$T/rows.txt"
    kill -TERM "$pid" 2> /dev/null
    wait "$pid" 2> /dev/null
    if [ -n "$sp" ]; then
        wait "$sp" 2> /dev/null
        [ -f "$T/smaps-$phase-$mode$r.txt" ] && python3 "$HERE/smaps_budget.py" "$T/smaps-$phase-$mode$r.txt" \
            > "$OUT/overhead-smaps-$phase-$mode$r.txt"
    fi
}

ROUNDS="${ROUNDS:-3}"
: > "$T/rows.txt"
for mode in $MODES; do
    for r in $(seq 1 "$ROUNDS"); do
        echo "$mode round $r/$ROUNDS: no capture ..." >&2
        read -r a b n < <(run_wrk "off-$mode$r" "$mode")
        echo "$mode $r off $a $b $n 0 0" >> "$T/rows.txt"

        echo "$mode round $r/$ROUNDS: tcpdump ..." >&2
        e2e_bg_srv tcpdump -i "$E2E_IF_SRV" -w "${RECORD:-/dev/null}" -s 262144 -B 32768 -n "tcp port $PORT" 2> "$T/tcpdump.err"
        TD_PID=$E2E_LAST_PID
        sleep 1
        c0=$(cpu_s "$TD_PID")
        x0=$(switches "$TD_PID")
        read -r a b n < <(run_wrk "tcpdump-$mode$r" "$mode")
        c1=$(cpu_s "$TD_PID")
        x1=$(switches "$TD_PID")
        kill -INT "$TD_PID" 2> /dev/null
        wait "$TD_PID" 2> /dev/null
        td_drops=$(awk '/dropped by kernel/ {print $1}' "$T/tcpdump.err")
        echo "$mode $r tcpdump $a $b $n $(python3 -c "print($c1 - $c0)") ${td_drops:-0} 0 $((x1 - x0))" >> "$T/rows.txt"

        agent_phase agent "$APITAP"
        [ -n "${APITAP_BASE:-}" ] && agent_phase base "$APITAP_BASE"
    done
done
cp "$T/rows.txt" "$OUT/overhead-rows.txt"
python3 "$HERE/overhead_report.py" "$T/rows.txt" "$DURATION" "$CONNS/$CONNS_PACED" "$RATE" \
    "$("$APITAP" --version 2> /dev/null | head -1)${APITAP_BASE:+ (base: $APITAP_BASE)}" "$OUT/overhead.md"
