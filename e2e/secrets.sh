#!/usr/bin/env bash
# End-to-end: no planted secret or PII value leaves apitap, and hostile inputs end cleanly.
#
# Usage (root, for tcpdump and the live agent): e2e/secrets.sh   APITAP=path/to/apitap
#
# 1. A real Python HTTP server on loopback (e2e/planted_traffic.py) and a real client that
#    plants secrets and PII in JSON and form bodies, query strings, headers, cookies and path
#    segments (three users, many rounds: repetition must not turn a secret into an enum);
#    tcpdump captures it, and a live `apitap agent` on `lo` watches it at the same time.
# 2. `apitap --log debug learn` writes OpenAPI JSON, YAML and the native model, with and
#    without --examples; the agent's /v1/endpoints, /v1/model, /v1/openapi.json, /metrics and
#    its debug log are fetched. Not one planted value may appear in any of them.
# 3. The inventory is there: x-apitap-pii with the email, phone, ssn, card, iban classes, and
#    the agent's apitap_http_pii_exchanges_total counts exchanges of each of them.
# 4. Hostile `diff` inputs (small crafted files): /dev/zero, deep nesting (JSON and YAML
#    flow), an allOf that refers to itself, properties that refer back to their schema: each
#    ends within seconds with a clear error (or, for the legitimate recursion, a result).
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
. "$HERE/lib.sh"

[ "$(id -u)" = 0 ] || e2e_skip "needs root (tcpdump, live capture on lo)"
e2e_require_cmd tcpdump python3 curl timeout

APITAP="${APITAP:-}"
if [ -z "$APITAP" ]; then
    (cd "$ROOT" && cargo build -q --release -p apitap) || { echo "FAIL: cannot build apitap"; exit 1; }
    APITAP="$ROOT/target/release/apitap"
fi
e2e_log "using $APITAP"

T="$E2E_TMP"
PORT="${E2E_SECRETS_PORT:-18950}"
ADMIN="$((PORT + 1))"

python3 "$HERE/planted_traffic.py" serve "$PORT" 2> "$T/server.log" &
E2E_PIDS+=($!)
python3 -c "
import socket, time
for _ in range(100):
    try:
        socket.create_connection(('127.0.0.1', $PORT), 0.2).close(); break
    except OSError:
        time.sleep(0.1)
else:
    raise SystemExit(1)" || { e2e_fail "planted server did not start"; e2e_summary; exit 1; }

tcpdump -i lo -U -s 0 -w "$T/planted.pcap" "tcp port $PORT" 2> "$T/tcpdump.log" &
TCPDUMP=$!
E2E_PIDS+=($TCPDUMP)
"$APITAP" --log debug agent -i lo --filter "tcp port $PORT" --listen "127.0.0.1:$ADMIN" \
    --snapshot-interval 0.5 2> "$T/agent.log" &
E2E_PIDS+=($!)
for _ in $(seq 50); do
    curl -fsS "http://127.0.0.1:$ADMIN/readyz" > /dev/null 2>&1 && grep -q "listening on" "$T/tcpdump.log" && break
    sleep 0.2
done
sleep 1

e2e_check "client sent the planted traffic" python3 "$HERE/planted_traffic.py" client "$PORT" 12
sleep 2
kill -INT "$TCPDUMP" 2> /dev/null
wait "$TCPDUMP" 2> /dev/null
sleep 1.5

for p in v1/endpoints v1/model v1/openapi.json metrics; do
    curl -fsS "http://127.0.0.1:$ADMIN/$p" > "$T/agent-$(echo "$p" | tr / -)" 2> /dev/null \
        || e2e_fail "agent /$p"
done
e2e_check "agent learned the planted endpoints" grep -q '/v1/lookup/ssn/' "$T/agent-v1-endpoints"

for ex in "" --examples; do
    tag="${ex:-plain}"
    "$APITAP" --log debug learn "$T/planted.pcap" $ex -o "$T/learn-$tag.json" 2> "$T/learn-$tag.log" \
        || e2e_fail "learn $tag"
    "$APITAP" --log debug learn "$T/planted.pcap" $ex --format openapi-yaml -o "$T/learn-$tag.yaml" 2>> "$T/learn-$tag.log"
    "$APITAP" --log debug learn "$T/planted.pcap" $ex --format model -o "$T/learn-$tag.model.json" 2>> "$T/learn-$tag.log"
done

python3 "$HERE/planted_traffic.py" values > "$T/values.txt"
leaks=0
for f in "$T"/learn-* "$T"/agent-* "$T/agent.log"; do
    while IFS= read -r v; do
        if grep -qF -- "$v" "$f"; then
            e2e_log "LEAK: '$v' in $(basename "$f")"
            leaks=$((leaks + 1))
        fi
    done < "$T/values.txt"
done
e2e_log "planted values: $(wc -l < "$T/values.txt"), leaks: $leaks"
e2e_check "zero planted values in learn (json/yaml/model, with and without --examples), agent endpoints/model/spec/metrics, debug logs" test "$leaks" = 0
e2e_check "exports are not empty" test "$(grep -c . "$T/learn-plain.json")" -gt 50

python3 - "$T/learn-plain.json" <<'PY' && e2e_pass "x-apitap-pii inventory has email, phone, ssn, card, iban, secret" || e2e_fail "x-apitap-pii inventory"
import json, sys
doc = json.load(open(sys.argv[1]))
seen = set()
def walk(v):
    if isinstance(v, dict):
        if isinstance(v.get("x-apitap-pii"), dict):
            seen.update(v["x-apitap-pii"])
        for x in v.values():
            walk(x)
    elif isinstance(v, list):
        for x in v:
            walk(x)
walk(doc)
need = {"email", "phone", "ssn", "card", "iban", "secret"}
print("classes:", sorted(seen))
sys.exit(0 if need <= seen else 1)
PY
python3 - "$T/agent-metrics" <<'PY' && e2e_pass "agent PII metric counts exchanges with email, phone, ssn, card, iban, secret" || e2e_fail "agent PII metric"
import re, sys
seen = set()
for line in open(sys.argv[1]):
    m = re.match(r'apitap_http_pii_exchanges_total\{.*pii_class="(\w+)".*\} (\d+)', line)
    if m and int(m.group(2)) > 0:
        seen.add(m.group(1))
print("metric classes:", sorted(seen))
sys.exit(0 if {"email", "phone", "ssn", "card", "iban", "secret"} <= seen else 1)
PY
python3 - "$T/learn-plain.json" <<'PY' && e2e_pass "PII path segments are parameters" || e2e_fail "PII path segments are parameters"
import json, sys
paths = sorted(json.load(open(sys.argv[1]))["paths"])
print(paths)
need = ["/v1/lookup/ssn/{", "/v1/cards/{", "/v1/accounts/{"]
sys.exit(0 if all(any(p.startswith(n) for p in paths) for n in need) else 1)
PY

# --- hostile diff inputs ---
printf '{"openapi":"3.1.0","info":{"title":"t","version":"1"},"paths":{}}' > "$T/ok.json"
hostile() { # NAME FILE EXPECTED-ERROR-SUBSTRING
    local name="$1" file="$2" want="$3" rc
    timeout 60 "$APITAP" diff "$file" "$T/ok.json" > "$T/diff.out" 2> "$T/diff.err"
    rc=$?
    if [ "$rc" != 124 ] && [ "$rc" != 0 ] && grep -q -- "$want" "$T/diff.err"; then
        e2e_pass "diff $name: clear error ($(head -c 160 "$T/diff.err" | tr '\n' ' '))"
    else
        e2e_fail "diff $name: rc=$rc, stderr: $(head -c 300 "$T/diff.err")"
    fi
}
hostile "/dev/zero" /dev/zero "larger than"
python3 -c 'print("[" * 100000 + "]" * 100000)' > "$T/deep.json"
hostile "100k-deep JSON" "$T/deep.json" "nested deeper"
python3 -c 'print("a: " + "[" * 100000 + "]" * 100000)' > "$T/deep.yaml"
hostile "100k-deep YAML flow" "$T/deep.yaml" "nested deeper"
cat > "$T/cycle.json" <<'JSON'
{"openapi":"3.1.0","info":{"title":"t","version":"1"},
 "paths":{"/x":{"get":{"responses":{"200":{"description":"ok","content":{"application/json":{"schema":{"$ref":"#/components/schemas/A"}}}}}}}},
 "components":{"schemas":{"A":{"allOf":[{"$ref":"#/components/schemas/A"}]}}}}
JSON
cp "$T/cycle.json" "$T/ok-cycle.json"
timeout 60 "$APITAP" diff "$T/cycle.json" "$T/ok-cycle.json" > "$T/diff.out" 2> "$T/diff.err"
rc=$?
if [ "$rc" != 124 ] && grep -q "cycle" "$T/diff.err"; then
    e2e_pass "diff allOf self-reference: clear error ($(head -c 160 "$T/diff.err"))"
else
    e2e_fail "diff allOf self-reference: rc=$rc $(head -c 300 "$T/diff.err")"
fi
cat > "$T/tree.json" <<'JSON'
{"openapi":"3.1.0","info":{"title":"t","version":"1"},
 "paths":{"/x":{"get":{"responses":{"200":{"description":"ok","content":{"application/json":{"schema":{"$ref":"#/components/schemas/N"}}}}}}}},
 "components":{"schemas":{"N":{"type":"object","properties":{"l":{"$ref":"#/components/schemas/N"},"r":{"$ref":"#/components/schemas/N"}}}}}}
JSON
cp "$T/tree.json" "$T/tree2.json"
e2e_check "diff of self-referring properties ends quickly (was exponential)" timeout 20 "$APITAP" diff "$T/tree.json" "$T/tree2.json"

e2e_summary
