#!/usr/bin/env bash
# End-to-end test of the long-running agent in network namespaces.
#
# Usage (root): e2e/netns.sh            APITAP=path/to/apitap to pick the binary
#
# A JSON demo API (demo_api.py) runs in a server namespace; two agents watch it at once:
#   A: `ip netns exec SRV apitap agent` (a sidecar sharing the namespace; admin on the
#      namespace's 127.0.0.1),
#   B: `apitap agent --netns /var/run/netns/SRV` from the host namespace (only the capture
#      joins; admin on the host's 127.0.0.1).
# curl and wrk traffic comes from a client namespace over a veth pair. Checks: the learned
# endpoints and counts match what was sent (both agents), the OpenAPI export, `promtool check
# metrics`, the RED metrics, zero kernel/queue drops, a real Prometheus server scraping agent
# B, and SIGTERM writing the final model within seconds.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
. "$HERE/lib.sh"

e2e_require_root_netns
e2e_require_cmd curl python3
if ! command -v promtool > /dev/null || ! command -v prometheus > /dev/null; then
    e2e_log "installing the prometheus package (promtool and server)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q prometheus > /dev/null 2>&1 || true
fi
e2e_require_cmd promtool prometheus

APITAP="${APITAP:-}"
if [ -z "$APITAP" ]; then
    # Always (re)build: a stale binary left in target/ must never be the one tested.
    (cd "$ROOT" && cargo build -q --release -p apitap) || { echo "FAIL: cannot build apitap"; exit 1; }
    APITAP="$ROOT/target/release/apitap"
fi
e2e_log "using $APITAP"

PORT="${E2E_PORT:-18080}"
ADMIN_A=19464
ADMIN_B="$((20000 + $$ % 20000))"
PROM_PORT="$((ADMIN_B + 1))"
T="$E2E_TMP"

e2e_setup_netns
e2e_bg_srv python3 "$HERE/demo_api.py" "$E2E_SRV_IP" "$PORT" 2> "$T/demo-api.log"
e2e_wait_port "$E2E_SRV_IP" "$PORT" || { e2e_fail "demo API did not start"; e2e_summary; exit 1; }

FILTER="tcp port $PORT"
e2e_bg_srv "$APITAP" agent --filter "$FILTER" --listen "127.0.0.1:$ADMIN_A" \
    --snapshot-interval 0.5 --log info --log-format json 2> "$T/agent-a.log"
PID_A=$E2E_LAST_PID
"$APITAP" agent --netns "/var/run/netns/$E2E_NS_SRV" --filter "$FILTER" \
    --listen "127.0.0.1:$ADMIN_B" --snapshot-interval 0.5 --model-out "$T/model-b.json" \
    --service demo-api --log info 2> "$T/agent-b.log" &
PID_B=$!
E2E_PIDS+=("$PID_B")

admin_a() { e2e_srv curl -sf --max-time 5 "http://127.0.0.1:$ADMIN_A$1"; }
admin_b() { curl -sf --max-time 5 "http://127.0.0.1:$ADMIN_B$1"; }

wait_ready() {
    local i
    for i in $(seq 1 100); do
        "$1" /readyz > /dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}
e2e_check "agent A (ip netns exec) ready" wait_ready admin_a
e2e_check "agent B (--netns) ready" wait_ready admin_b
e2e_check "agent B captures the namespace's interfaces (lo + veth)" \
    grep -q "$E2E_IF_SRV" <(admin_b /metrics)

# ---- traffic -----------------------------------------------------------------------------
BASE="http://$E2E_SRV_IP:$PORT"
UUID1=3f2b8c1e-9d4a-4c2b-8f1e-2a7b9c0d1e2f
UUID2=0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d
c() { e2e_cli curl -s -o /dev/null --max-time 5 "$@"; }
for i in $(seq 1 30); do c "$BASE/users/$i"; done      # 30 x GET /users/{id} 200
for i in 5001 5002 5003; do c "$BASE/users/$i"; done    # 3 x 404
for i in 1 2 3 4 5; do
    c -X POST -H 'Content-Type: application/json' -d "{\"name\":\"n$i\",\"age\":$i}" "$BASE/users"
done                                                    # 5 x POST /users 201
c -X PUT -H 'Content-Type: application/json' -d '{"name":"x"}' "$BASE/users/7"
c -X PUT -H 'Content-Type: application/json' -d '{"name":"y"}' "$BASE/users/8"
c -X DELETE "$BASE/users/9"
for u in $UUID1 $UUID2 $UUID1 $UUID2; do c --compressed "$BASE/orders/$u"; done
for u in $UUID1 $UUID2 $UUID1; do c "$BASE/orders/$u/items"; done
c "$BASE/users?limit=5"; c "$BASE/users?limit=3&chunked=1"
CURL_GET_USER=30
WRK_N=0
if command -v wrk > /dev/null; then
    e2e_cli wrk -t1 -c2 -d2s --latency "$BASE/users/42" > "$T/wrk.txt" 2>&1
    WRK_N=$(awk '/requests in/ {print $1}' "$T/wrk.txt")
    e2e_log "wrk: $WRK_N requests"
else
    e2e_log "wrk not installed: curl traffic only"
fi
sleep 2.5   # a snapshot interval and a little

# ---- learned endpoints -------------------------------------------------------------------
admin_a /v1/endpoints > "$T/ep-a.json"
admin_b /v1/endpoints > "$T/ep-b.json"
check_endpoints() {
    python3 - "$1" "$WRK_N" << 'EOF'
import json, sys
rows = json.load(open(sys.argv[1]))
wrk = int(sys.argv[2])
got = {(r["method"], r["template"]): r["count"] for r in rows}
want = {
    ("GET", "/users/{userId}"): (33 + wrk, 33 + wrk + 2),   # curl 30 + 3 404s + wrk (+ in-flight)
    ("POST", "/users"): (5, 5),
    ("PUT", "/users/{userId}"): (2, 2),
    ("DELETE", "/users/{userId}"): (1, 1),
    ("GET", "/orders/{orderId}"): (4, 4),
    ("GET", "/orders/{orderId}/items"): (3, 3),
    ("GET", "/users"): (2, 2),
}
ok = True
for k, (lo, hi) in want.items():
    n = got.get(k)
    if n is None or not lo <= n <= hi:
        print(f"  {k}: got {n}, want {lo}..{hi}", file=sys.stderr); ok = False
extra = set(got) - set(want)
if extra:
    print(f"  unexpected endpoints: {sorted(extra)}", file=sys.stderr); ok = False
get = next((r for r in rows if (r["method"], r["template"]) == ("GET", "/users/{userId}")), None)
if get and abs(get["error_rate"] - 3 / get["count"]) > 1e-9:
    print(f"  error rate {get['error_rate']} != 3/{get['count']}", file=sys.stderr); ok = False
sys.exit(0 if ok else 1)
EOF
}
e2e_check "agent A learned the endpoints and counts sent" check_endpoints "$T/ep-a.json"
e2e_check "agent B learned the endpoints and counts sent" check_endpoints "$T/ep-b.json"

spec_ok() {
    python3 - "$1" << 'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["openapi"].startswith("3.1"), d.get("openapi")
p = d["paths"]
for path, m in [("/users/{userId}", "get"), ("/users/{userId}", "put"), ("/users", "post"),
                ("/orders/{orderId}/items", "get")]:
    assert m in p.get(path, {}), (path, m, sorted(p))
post = p["/users"]["post"]
schema = json.dumps(post.get("requestBody", {}))
assert "age" in schema and "name" in schema, schema
EOF
}
admin_a /v1/openapi.json > "$T/openapi-a.json"
e2e_check "OpenAPI export (JSON) has the paths, methods and request schema" spec_ok "$T/openapi-a.json"
e2e_check "OpenAPI export (YAML) served" grep -q "^openapi:" <(admin_a /v1/openapi.yaml)
e2e_check "native model served" grep -q '"apitap_model_version":1' <(admin_a /v1/model)

# ---- metrics -----------------------------------------------------------------------------
admin_a /metrics > "$T/metrics-a.txt"
admin_b /metrics > "$T/metrics-b.txt"
promtool_ok() { promtool check metrics < "$1" > "$T/promtool.txt" 2>&1 && [ ! -s "$T/promtool.txt" ]; }
e2e_check "promtool check metrics accepts agent A's /metrics" promtool_ok "$T/metrics-a.txt"
e2e_check "promtool check metrics accepts agent B's /metrics" promtool_ok "$T/metrics-b.txt"
metric() { # FILE PREFIX → value of the first sample starting with PREFIX
    awk -v p="$2" 'index($0, p) == 1 {print $NF; exit}' "$1"
}
red_ok() {
    local file="$1" svc="$2" n
    n=$(metric "$file" "http_server_request_duration_seconds_count{http_request_method=\"POST\",http_response_status_code=\"201\",http_route=\"/users\",service_name=\"$svc\"}")
    [ "${n:-0}" = 5 ] || { echo "  POST /users count: ${n:-none}"; return 1; }
    n=$(metric "$file" "http_server_request_duration_seconds_count{http_request_method=\"GET\",http_response_status_code=\"404\",http_route=\"/users/{userId}\",service_name=\"$svc\"}")
    [ "${n:-0}" = 3 ] || { echo "  GET 404 count: ${n:-none}"; return 1; }
    n=$(metric "$file" "http_server_request_duration_seconds_count{http_request_method=\"DELETE\",http_response_status_code=\"204\",http_route=\"/users/{userId}\",service_name=\"$svc\"}")
    [ "${n:-0}" = 1 ] || { echo "  DELETE count: ${n:-none}"; return 1; }
    ! grep -q 'http_route="/users/[0-9]' "$file" || { echo "  raw path as a route"; return 1; }
}
e2e_check "RED metrics per learned route (agent A, service = Host)" red_ok "$T/metrics-a.txt" "$E2E_SRV_IP:$PORT"
e2e_check "RED metrics per learned route (agent B, --service demo-api)" red_ok "$T/metrics-b.txt" demo-api
no_drops() {
    ! grep -E '^apitap_(kernel|queue)_drops_total' "$1" | grep -vq ' 0$'
}
e2e_check "no kernel or queue drops (agent A)" no_drops "$T/metrics-a.txt"
e2e_check "no kernel or queue drops (agent B)" no_drops "$T/metrics-b.txt"
e2e_check "OpenMetrics on request" bash -c "curl -sf -H 'Accept: application/openmetrics-text' http://127.0.0.1:$ADMIN_B/metrics | tail -1 | grep -qx '# EOF'"

# ---- a real Prometheus scrapes agent B ---------------------------------------------------
mkdir -p "$T/prom"
cat > "$T/prom.yml" << EOF
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: apitap
    static_configs:
      - targets: ["127.0.0.1:$ADMIN_B"]
EOF
prometheus --config.file="$T/prom.yml" --storage.tsdb.path="$T/prom" \
    --web.listen-address="127.0.0.1:$PROM_PORT" > "$T/prometheus.log" 2>&1 &
E2E_PIDS+=("$!")
prom_query_ok() {
    local i v want="$1"
    for i in $(seq 1 60); do
        v=$(curl -sf --max-time 2 "http://127.0.0.1:$PROM_PORT/api/v1/query" \
            --data-urlencode 'query=sum(http_server_request_duration_seconds_count{http_route="/users",http_request_method="POST"})' \
            | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2> /dev/null)
        [ "$v" = "$want" ] && return 0
        sleep 0.5
    done
    echo "  Prometheus answered '${v:-nothing}', want $want"
    return 1
}
e2e_check "Prometheus scraped agent B: POST /users count is 5" prom_query_ok 5

# ---- SIGTERM -----------------------------------------------------------------------------
sigterm_ok() {
    local i
    kill -TERM "$PID_B"
    for i in $(seq 1 50); do
        kill -0 "$PID_B" 2> /dev/null || break
        sleep 0.1
    done
    if kill -0 "$PID_B" 2> /dev/null; then echo "  still running after 5 s"; return 1; fi
    wait "$PID_B"; local rc=$?
    [ "$rc" = 0 ] || { echo "  exit status $rc"; return 1; }
    python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); assert m["apitap_model_version"]==1 and m["sources"]' "$T/model-b.json"
}
e2e_check "SIGTERM: exit 0 within 5 s, final model written" sigterm_ok
e2e_check "final model exports to OpenAPI with the learned paths" \
    bash -c "'$APITAP' diff '$T/model-b.json' '$T/model-b.json' > /dev/null"
e2e_check "JSON logs on request" python3 -c "import json,sys; [json.loads(l) for l in open(sys.argv[1]) if l.strip()]" "$T/agent-a.log"

e2e_summary
