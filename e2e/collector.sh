#!/usr/bin/env bash
# The collector with real processes and a real browser:
#  1. learn a model from a HAR with `apitap learn --format model`, push it with
#     `apitap push` (gzip, bearer token) to a running `apitap collector`;
#  2. the web page, rendered by headless Chromium (`--dump-dom`), lists the service and its
#     endpoints with count, error rate and latency, and the sensitive-data inventory (field,
#     PII class, count; no value); a screenshot is saved (E2E_KEEP=1 keeps it);
#  3. a push with a wrong token fails with exit 1 and changes nothing;
#  4. kill -9 and restart: the service and its spec are still there.
# Skips when chromium is missing, unless CI is set (then it fails).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
. "$ROOT/e2e/lib.sh"
if [ -z "${APITAP:-}" ]; then  # always rebuild: never test a stale binary
  (cd "$ROOT" && cargo build -q -p apitap)
  APITAP="$ROOT/target/debug/apitap"
fi
e2e_require_cmd curl python3
CHROMIUM="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
[ -n "$CHROMIUM" ] || e2e_skip "chromium not installed (apt-get install chromium)"
T="$E2E_TMP"

python3 - "$T/traffic.har" <<'PY'
import json, sys
entries = []
def e(method, url, status, body, ms):
    entries.append({"startedDateTime": "2024-05-01T10:00:00.000Z", "time": ms,
        "request": {"method": method, "url": url, "httpVersion": "HTTP/1.1", "headers": [{"name": "Host", "value": "shop.local"}],
                    "queryString": [], "cookies": [], "headersSize": -1, "bodySize": 0},
        "response": {"status": status, "statusText": "", "httpVersion": "HTTP/1.1",
                     "headers": [{"name": "Content-Type", "value": "application/json"}], "cookies": [],
                     "content": {"size": len(body), "mimeType": "application/json", "text": body},
                     "redirectURL": "", "headersSize": -1, "bodySize": len(body)},
        "cache": {}, "timings": {"send": 0, "wait": ms, "receive": 0}})
for i in range(1, 41):
    e("GET", f"http://shop.local/products/{i}", 200 if i % 10 else 500, json.dumps({"id": i, "name": f"p{i}", "price": i * 1.5, "seller": {"email": f"seller{i}@example.com"}}), 5 + i)
for i in range(1, 11):
    e("POST", "http://shop.local/orders", 201, json.dumps({"order": i}), 20)
json.dump({"log": {"version": "1.2", "creator": {"name": "e2e", "version": "1"}, "entries": entries}}, open(sys.argv[1], "w"))
PY
"$APITAP" learn "$T/traffic.har" --format model -o "$T/model.json"

start_collector() {
    # the log exists before the poll reads it (a background redirect may not have run yet,
    # and a failed sed under `set -eo pipefail` would end the script)
    : > "$T/collector.log"
    "$APITAP" collector --listen "127.0.0.1:${PORT:-0}" --data-dir "$T/data" --token "e2e-token-0123456789" 2> "$T/collector.log" &
    CPID=$!
    E2E_PIDS+=("$CPID")
    local i
    for i in $(seq 1 100); do
        URL=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$T/collector.log" | head -1)
        [ -n "$URL" ] && break
        sleep 0.1
    done
    [ -n "$URL" ] || { cat "$T/collector.log" >&2; e2e_fail "collector did not start"; exit 1; }
}
start_collector
PORT="${URL##*:}"

e2e_check "apitap push delivers the model" "$APITAP" push "$T/model.json" --upstream "$URL" --service shop --token e2e-token-0123456789 --timeout 10s
if "$APITAP" push "$T/model.json" --upstream "$URL" --service other --token wrong --timeout 1s 2> "$T/push-bad.log"; then
    e2e_fail "push with a wrong token must fail"
else
    e2e_check "wrong token: exit 1 with HTTP 401" grep -q "401" "$T/push-bad.log"
fi
AUTH=(-H "Authorization: Bearer e2e-token-0123456789")
e2e_check "reads need the token" test "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/services")" = 401
e2e_check "only the authenticated service exists" test "$(curl -fsS "${AUTH[@]}" "$URL/v1/services" | python3 -c 'import json,sys; print([s["service"] for s in json.load(sys.stdin)])')" = "['shop']"

# The browser cannot send a bearer token: a small local proxy adds it.
python3 - "$URL" "$T/proxy.port" <<'PY' &
import http.server, sys, urllib.request
up = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(s):
        r = urllib.request.urlopen(urllib.request.Request(up + s.path, headers={"Authorization": "Bearer e2e-token-0123456789"}))
        body = r.read(); s.send_response(r.status)
        s.send_header("Content-Type", r.headers.get("Content-Type", "text/html")); s.send_header("Content-Length", str(len(body)))
        s.end_headers(); s.wfile.write(body)
    def log_message(s, *a): pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[2], "w").write(str(srv.server_address[1]))
srv.serve_forever()
PY
E2E_PIDS+=("$!")
for i in $(seq 1 50); do [ -s "$T/proxy.port" ] && break; sleep 0.1; done
PAGE="http://127.0.0.1:$(cat "$T/proxy.port")"
timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --user-data-dir="$T/chrome" \
    --dump-dom "$PAGE/" > "$T/dom.html" 2> "$T/chrome.log" || true
timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --user-data-dir="$T/chrome" \
    --window-size=1200,800 --screenshot="$T/collector.png" "$PAGE/" > /dev/null 2>&1 || true
python3 - "$T/dom.html" <<'PY' && e2e_pass "browser DOM has the services and endpoints tables" || e2e_fail "browser DOM check"
import sys
from html.parser import HTMLParser
class P(HTMLParser):
    def __init__(s):
        super().__init__(); s.rows = []; s.cur = None; s.cell = None; s.table = None
    def handle_starttag(s, tag, a):
        a = dict(a)
        if tag == "table": s.table = a.get("id") or a.get("class")
        if tag == "tr": s.cur = []
        if tag == "td" and s.cur is not None: s.cell = ""
    def handle_endtag(s, tag):
        if tag == "td" and s.cell is not None: s.cur.append(s.cell.strip()); s.cell = None
        if tag == "tr" and s.cur: s.rows.append((s.table, s.cur)); s.cur = None
    def handle_data(s, d):
        if s.cell is not None: s.cell += d
p = P(); p.feed(open(sys.argv[1]).read())
svc = [r for t, r in p.rows if t == "services"]
eps = [r for t, r in p.rows if t == "endpoints"]
print("services:", svc); print("endpoints:", eps)
assert svc and svc[0][0] == "shop" and svc[0][1] == "2" and svc[0][2] == "50", svc
get = [r for r in eps if r[1] == "GET"]
post = [r for r in eps if r[1] == "POST"]
assert get and get[0][2].startswith("/products/{") and get[0][3] == "40" and get[0][4] == "10.0%", get
assert post and post[0][2] == "/orders" and post[0][3] == "10" and post[0][4] == "0.0%", post
assert get[0][5].endswith("ms") and get[0][6].endswith("ms"), get
# the sensitive-data inventory: class and count, never the value
pii = [r for t, r in p.rows if t == "pii"]
print("pii:", pii)
assert ["GET", get[0][2], "response 200: seller.email", "email 36"] in pii, pii
assert ["GET", get[0][2], "response 500: seller.email", "email 4"] in pii, pii
assert "example.com" not in open(sys.argv[1]).read()
PY
e2e_check "screenshot written" test -s "$T/collector.png"
if [ -n "$E2E_KEEP" ]; then e2e_log "screenshot: $T/collector.png"; fi

# kill -9 and restart on the same port: everything is still there
kill -9 "$CPID"; wait "$CPID" 2> /dev/null || true
start_collector
curl -fsS "${AUTH[@]}" "$URL/v1/services/shop/openapi.json" > "$T/spec.json"
e2e_check "after kill -9: spec still served" grep -q '"/orders"' "$T/spec.json"
e2e_check "after kill -9: one version" test "$(curl -fsS "${AUTH[@]}" "$URL/v1/services/shop/versions" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 1
e2e_summary
