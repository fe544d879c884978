#!/usr/bin/env bash
# Live-agent flood (issue 10's attack against a real server; outside CI, minutes).
#
# Usage (root): bench/flood.sh [REQUESTS]     APITAP=path/to/apitap, default 200000 requests
#               AGENT_ARGS="--buffer-mib 4 ..." adds agent flags, SNAPSHOT_S the snapshot interval (1)
#
# A real keep-alive HTTP/1.1 server (bench/flood_live.py serve) runs in a server namespace;
# `apitap agent` runs beside it (`ip netns exec`, a sidecar), capturing on the namespace's
# veth with default settings. From a client namespace:
#   - the flood: wrk (8 connections) sends REQUESTS GETs spread over 1,000 `Host` values and
#     64x64 word paths (`/alpha/bravo`), as fast as the server answers;
#   - at the same time, the legitimate client (bench/flood_live.py legit) sends 10 operations
#     x LEGIT_ROUNDS (default 100) with ids, UUIDs, query strings and JSON bodies.
# Then: the agent's peak RSS (VmHWM) and CPU time, kernel/queue drops, `_other`, operations in
# /v1/openapi.json and rows in /v1/endpoints, and every legitimate operation's learned count
# against the count sent. Exit 1 when peak RSS >= 256 MB, the export exceeds 1,000
# operations, or a legitimate operation is missing or miscounted.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
. "$ROOT/e2e/lib.sh"

e2e_require_root_netns
e2e_require_cmd wrk python3 curl

REQUESTS="${1:-200000}"
LEGIT_ROUNDS="${LEGIT_ROUNDS:-100}"
LEGIT_SECONDS="${LEGIT_SECONDS:-15}"
APITAP="${APITAP:-$ROOT/target/release/apitap}"
[ -x "$APITAP" ] || { echo "build it first: cargo build --release -p apitap"; exit 1; }
PORT=18090
ADMIN=19490
T="$E2E_TMP"

e2e_setup_netns
e2e_bg_srv python3 "$HERE/flood_live.py" serve "$E2E_SRV_IP" "$PORT" "$T/answered" 2> "$T/server.log"
e2e_wait_port "$E2E_SRV_IP" "$PORT" || { e2e_fail "server did not start"; exit 1; }
e2e_bg_srv "$APITAP" agent --filter "tcp port $PORT" --listen "127.0.0.1:$ADMIN" \
    --snapshot-interval "${SNAPSHOT_S:-1}" --log info ${AGENT_ARGS:-} 2> "$T/agent.log"
AGENT=$E2E_LAST_PID
admin() { e2e_srv curl -sf --max-time 10 "http://127.0.0.1:$ADMIN$1"; }
for _ in $(seq 100); do admin /readyz > /dev/null 2>&1 && break; sleep 0.1; done
sleep 1
# the agent process itself (ip netns exec execs it, so the pid is the agent's)
agent_pid() { e2e_srv pgrep -n -f "apitap agent --filter tcp port $PORT" || echo "$AGENT"; }
APID=$(agent_pid)

cat > "$T/flood.lua" << 'EOF'
local words = {"alpha","bravo","charlie","delta","echo","foxtrot","golf","hotel","india",
"juliet","kilo","lima","mike","november","oscar","papa","quebec","romeo","sierra","tango",
"uniform","victor","whiskey","xray","yankee","zulu","amber","azure","beige","black","blue",
"bronze","brown","coral","cream","cyan","gold","gray","green","indigo","ivory","jade","khaki",
"lemon","lilac","lime","linen","magenta","maroon","mint","navy","olive","orange","peach",
"pearl","pink","plum","purple","red","rose","ruby","salmon","sand","silver"}
local counter, per_thread = 0, 0
local threads = {}
function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  per_thread = tonumber(args[1])
  math.randomseed(id * 7919)
end
function request()
  local path = "/" .. words[math.random(64)] .. "/" .. words[math.random(64)]
  local host = "h" .. math.random(0, 999) .. ".flood.test"
  return wrk.format("GET", path, {["Host"] = host, ["User-Agent"] = "flood"})
end
function response(status, headers, body)
  counter = counter + 1
  if counter >= per_thread then wrk.thread:stop() end
end
EOF

THREADS=2
CPU0=$(awk '{print $14 + $15}' "/proc/$APID/stat")
e2e_log "flood: $REQUESTS requests over 1,000 Hosts x 64x64 paths; legit: $((LEGIT_ROUNDS * 10)) requests over ${LEGIT_SECONDS}s"
T0=$(date +%s.%N)
e2e_cli python3 "$HERE/flood_live.py" legit "$E2E_SRV_IP" "$PORT" "$LEGIT_ROUNDS" "$LEGIT_SECONDS" \
    "$T/legit.json" 2> "$T/legit.log" &
LEGIT=$!
E2E_PIDS+=("$LEGIT")
# wrk's threads stop after their share (flood.lua), but wrk itself sleeps out -d: the
# server's count of answered requests says when the flood is over, then wrk is stopped.
e2e_cli wrk -t"$THREADS" -c8 -d900s --timeout 10s -s "$T/flood.lua" \
    "http://$E2E_SRV_IP:$PORT/" -- "$((REQUESTS / THREADS))" > "$T/wrk.txt" 2>&1 &
WRK=$!
E2E_PIDS+=("$WRK")
wait "$LEGIT"
WANT=$((REQUESTS + LEGIT_ROUNDS * 10))
for _ in $(seq 1800); do
    [ "$(cat "$T/answered" 2> /dev/null || echo 0)" -ge "$WANT" ] && break
    sleep 0.5
done
T1=$(date +%s.%N)
kill "$WRK" 2> /dev/null  # `ip netns exec` execs wrk: this is its pid
e2e_log "answered $(cat "$T/answered") requests / $(cat "$T/legit.log")"
sleep 4   # the agent drains its queue; a snapshot interval and a little

admin /metrics > "$T/metrics.txt"
admin /v1/endpoints > "$T/endpoints.json"
admin /v1/openapi.json > "$T/openapi.json"
HWM_KB=$(awk '/^VmHWM/ {print $2}' "/proc/$APID/status")
CPU1=$(awk '{print $14 + $15}' "/proc/$APID/stat")
TICK=$(getconf CLK_TCK)
python3 - "$T" "$HWM_KB" "$(( CPU1 - CPU0 ))" "$TICK" "$T0" "$T1" << 'EOF'
import json, re, sys
t, hwm_kb, ticks, tick, t0, t1 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
m = {}
for line in open(t + "/metrics.txt"):
    if line.startswith("#"):
        continue
    k, _, v = line.rpartition(" ")
    name = k.split("{")[0]
    try:
        m[name] = m.get(name, 0) + float(v)
    except ValueError:
        pass
legit = json.load(open(t + "/legit.json"))
sent_flood = int(open(t + "/answered").read()) - sum(legit.values())
spec = json.load(open(t + "/openapi.json"))
ops = sum(1 for item in spec.get("paths", {}).values() for k in item
          if k in ("get", "put", "post", "delete", "patch", "head", "options", "trace"))
rows = json.load(open(t + "/endpoints.json"))
legit = json.load(open(t + "/legit.json"))
shape = lambda p: re.sub(r"\{[^}]*\}", "{}", p)
got = {}
for r in rows:
    got[(r["method"], shape(r["template"]))] = got.get((r["method"], shape(r["template"])), 0) + r["count"]
print("flood requests answered: %d in %.1f s" % (sent_flood, t1 - t0))
print("agent peak RSS (VmHWM): %.1f MB; agent CPU: %.1f s" % (hwm_kb / 1024, ticks / tick))
print("exchanges learned: %d; kernel drops: %d; queue drops: %d; interface drops: %d; _other: %d" % (
    m.get("apitap_exchanges_total", 0), m.get("apitap_kernel_drops_total", 0),
    m.get("apitap_queue_drops_total", 0), m.get("apitap_interface_drops_total", 0),
    m.get("apitap_learn_other_total", 0)))
print("operations exported (OpenAPI): %d; /v1/endpoints rows: %d" % (ops, len(rows)))
ok = hwm_kb < 256 * 1024 and ops <= 1000
found = 0
for op, n in legit.items():
    meth, path = op.split(" ", 1)
    c = got.get((meth, shape(path)))
    status = "ok" if c == n else "MISSING" if c is None else "count %d != sent %d" % (c, n)
    found += c is not None
    ok &= c == n
    print("  legit %-32s sent %4d learned %s  %s" % (op, n, c, status))
print("legitimate operations found: %d/%d" % (found, len(legit)))
print("RESULT:", "PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
EOF
