#!/usr/bin/env bash
# An agent killed -9 at random moments under steady traffic loses at most about one checkpoint
# interval of learning per kill. Real processes: a collector, a JSON HTTP server on loopback,
# a client sending requests at a steady rate, and `apitap agent` capturing on `lo` with
# `--spool-dir` and `--checkpoint-interval`; the agent is killed -9 four times at random
# moments (traffic pauses only while no agent runs) and restarted, then stopped cleanly.
# At the end: exchanges counted by the collector vs requests sent while an agent ran.
# Needs root (packet capture); skips otherwise unless CI is set. Outside CI, the baseline
# without checkpoints and the default interval: CHECKPOINT_S=0 SEGMENT_S=10 and
# CHECKPOINT_S=10 (figures in e2e/README.md).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
. "$ROOT/e2e/lib.sh"
if [ -z "${APITAP:-}" ]; then  # always rebuild: never test a stale binary
  (cd "$ROOT" && cargo build -q -p apitap)
  APITAP="$ROOT/target/debug/apitap"
fi
[ "$(id -u)" = 0 ] || e2e_skip "needs root (packet capture on lo)"
e2e_require_cmd curl python3
T="$E2E_TMP"
APP_PORT="${APITAP_E2E_APP_PORT:-18820}"
ADMIN_PORT="${APITAP_E2E_ADMIN_PORT:-18821}"
CKPT="${CHECKPOINT_S:-2}"

# the log exists before the poll reads it (a background redirect may not have run yet,
# and a failed sed under `set -eo pipefail` would end the script)
: > "$T/collector.log"
"$APITAP" collector --listen 127.0.0.1:0 --data-dir "$T/col" 2> "$T/collector.log" &
E2E_PIDS+=("$!")
for k in $(seq 1 100); do COL=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$T/collector.log" | head -1); [ -n "$COL" ] && break; sleep 0.1; done
[ -n "$COL" ] || { e2e_fail "collector did not start"; exit 1; }

python3 - "$APP_PORT" <<'PY' &
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(s):
        b = json.dumps({"id": 1, "name": "x"}).encode()
        s.send_response(200); s.send_header("Content-Type", "application/json")
        s.send_header("Content-Length", str(len(b))); s.end_headers(); s.wfile.write(b)
    def log_message(s, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
E2E_PIDS+=("$!")

python3 - "$APITAP" "$COL" "$APP_PORT" "$ADMIN_PORT" "$T" "$CKPT" <<'PY' > "$T/result" || { cat "$T/result"; e2e_fail "driver"; }
import json, os, random, signal, subprocess, sys, time, urllib.request
apitap, col, app, admin, t, ckpt = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], float(sys.argv[6])
RATE = 40  # requests per second asked (the measured rate is reported)
def start():
    p = subprocess.Popen([apitap, "agent", "-i", "lo", "-f", f"tcp port {app}", "--listen", f"127.0.0.1:{admin}",
        "--service", "ckpt", "--upstream", col, "--push-interval", "60s", "--spool-dir", f"{t}/spool",
        "--checkpoint-interval", f"{ckpt}s", "--snapshot-interval", "0.5", "--immediate"],
        stdout=subprocess.DEVNULL, stderr=open(f"{t}/agent.log", "a"))
    for _ in range(200):
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{admin}/readyz", timeout=1).status == 200:
                time.sleep(0.5)  # the capture is open once ready; a margin for the first ring
                return p
        except Exception:
            pass
        time.sleep(0.1)
    raise SystemExit("agent not ready")
active = 0.0
def traffic(seconds):
    global active
    n = 0
    t0 = time.time()
    end = t0 + seconds
    while time.time() < end:
        urllib.request.urlopen(f"http://127.0.0.1:{app}/items/{n % 50 + 1}", timeout=5).read()
        n += 1
        time.sleep(1.0 / RATE)
    active += time.time() - t0
    return n
random.seed(int(os.environ.get("SEED", "7")))
# Run lengths between kills scale with SEGMENT_S (default: the checkpoint interval); set it
# to compare intervals on the same traffic, e.g. CHECKPOINT_S=0 (checkpoints off) SEGMENT_S=10.
seg = float(os.environ.get("SEGMENT_S", "0")) or ckpt
sent, kills = 0, 0
for _ in range(4):
    p = start()
    sent += traffic(random.uniform(seg * 1.5, seg * 4))
    p.send_signal(signal.SIGKILL); p.wait(); kills += 1
    time.sleep(0.3)
p = start()
sent += traffic(3)
time.sleep(1)
p.send_signal(signal.SIGTERM); p.wait(timeout=60)
svc = json.load(urllib.request.urlopen(f"{col}/v1/services"))
seen = svc[0]["observed"] if svc else 0
print(json.dumps({"sent": sent, "observed": seen, "lost": sent - seen, "kills": kills, "rate": round(sent / active, 1), "checkpoint_s": ckpt}))
PY
cat "$T/result" >&2
python3 - "$T/result" <<'PY' && e2e_pass "kill -9 x4: lost exchanges under one checkpoint interval per kill" || e2e_fail "kill -9: too much lost"
import json, sys
r = json.load(open(sys.argv[1]))
# One checkpoint interval at the measured rate, plus a snapshot interval and a write.
per_kill = r["rate"] * (r["checkpoint_s"] + 1.0)
print(f"sent {r['sent']}, observed {r['observed']}, lost {r['lost']} over {r['kills']} kills "
      f"({r['lost'] / max(r['kills'], 1):.1f} per kill; bound {per_kill:.0f} per kill)", file=sys.stderr)
assert r["observed"] > 0 and r["lost"] >= 0, r
assert r["lost"] <= r["kills"] * per_kill, r
PY
e2e_summary
