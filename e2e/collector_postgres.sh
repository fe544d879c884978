#!/usr/bin/env bash
# Collector replicas sharing a real PostgreSQL, with real processes:
#  1. a PostgreSQL server of our own: `initdb` into the temp dir as the `postgres` user (via
#     runuser when root), `pg_ctl start` on a local port, stopped at the end;
#  2. three `apitap collector --store postgres://…` replicas (migrations applied at startup by
#     whichever comes first);
#  3. 12 agents, each pushing 4 growing snapshots of its own traffic to ONE service, round-robin
#     across the replicas, all at once (each source has its own row: pushes of different
#     sources write different rows, snapshots of one source race on its row across
#     replicas); replica 2 is killed -9 mid-run and restarted;
#  4. every replica then serves the same spec and the exact counts (sources, exchanges,
#     pushes), the same versions (a versions read settles the service first, so the history
#     is current on whichever replica answers), and /readyz is ok.
# Skips when PostgreSQL is missing, unless CI is set (then it fails).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
. "$ROOT/e2e/lib.sh"
if [ -z "${APITAP:-}" ]; then  # always rebuild: never test a stale binary
  (cd "$ROOT" && cargo build -q -p apitap)
  APITAP="$ROOT/target/debug/apitap"
fi
e2e_require_cmd curl python3
PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2> /dev/null | sort -V | tail -1 || true)"
[ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ] || e2e_skip "PostgreSQL not installed (apt-get install postgresql)"
T="$E2E_TMP"
PGPORT="${APITAP_E2E_PGPORT:-18851}"
PORTS=("${APITAP_E2E_PORT0:-18810}" "${APITAP_E2E_PORT1:-18811}" "${APITAP_E2E_PORT2:-18812}")

# 1. PostgreSQL, owned by an unprivileged user (the server refuses to run as root).
mkdir -p "$T/pg" "$T/pgsock"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ "$(id -u)" = 0 ]; then chown postgres "$T/pg" "$T/pgsock"; chmod 755 "$T"; fi
as_pg "$PGBIN/initdb" -D "$T/pg/data" -U postgres --auth=trust -E UTF8 > "$T/initdb.log" 2>&1 \
    || { cat "$T/initdb.log" >&2; e2e_fail "initdb"; exit 1; }
as_pg "$PGBIN/pg_ctl" -D "$T/pg/data" -l "$T/pg/server.log" -w -t 60 \
    -o "-p $PGPORT -k $T/pgsock -c listen_addresses=127.0.0.1 -c fsync=on" start > /dev/null \
    || { cat "$T/pg/server.log" >&2; e2e_fail "pg_ctl start"; exit 1; }
stop_pg() { as_pg "$PGBIN/pg_ctl" -D "$T/pg/data" -m fast -w stop > /dev/null 2>&1 || true; }
# keep the script's exit status: e2e_cleanup exits with the status it finds in \$?, which
# stop_pg would otherwise reset to 0 (a failed run then passed in test.sh)
trap 'rc=$?; stop_pg; (exit "$rc"); e2e_cleanup' EXIT
"$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -qc "CREATE DATABASE apitap" \
    || { e2e_fail "create database"; exit 1; }
STORE="postgres://postgres@127.0.0.1:$PGPORT/apitap"
e2e_pass "PostgreSQL started on port $PGPORT"

# 2. Three replicas.
declare -a CPIDS
launch_replica() {  # index: starts it in the background
    local i=$1
    "$APITAP" collector --listen "127.0.0.1:${PORTS[$i]}" --store "$STORE" --token tok-0123456789 \
        2> "$T/collector$i.log" &
    CPIDS[$i]=$!
    E2E_PIDS+=("${CPIDS[$i]}")
}
await_replica() {  # index: waits until it listens
    local i=$1 k
    for k in $(seq 1 150); do
        grep -q "listening on" "$T/collector$i.log" && return 0
        kill -0 "${CPIDS[$i]}" 2> /dev/null || break
        sleep 0.1
    done
    cat "$T/collector$i.log" >&2
    e2e_fail "replica $i did not start"
    exit 1
}
# All three at once: the migrations race and must be applied exactly once.
for i in 0 1 2; do launch_replica "$i"; done
for i in 0 1 2; do await_replica "$i"; done
AUTH=(-H "Authorization: Bearer tok-0123456789")
for i in 0 1 2; do
    e2e_check "replica $i ready (store answers)" curl -fsS -o /dev/null "http://127.0.0.1:${PORTS[$i]}/readyz"
done

# 3. Agents: 12 sources × 4 growing snapshots, learned from HAR files.
python3 - "$T" <<'PY'
import json, sys, os
t = sys.argv[1]
total = 0
for a in range(12):
    entries = []
    for k in range(60 + 7 * a):
        i = k + 1
        path = [f"/items/{i}", f"/users/{i % 9 + 1}/orders", "/health", f"/a{a}/things/{i}"][k % 4]
        method = "POST" if k % 5 == 0 else "GET"
        status = 500 if k % 11 == 0 else 200
        body = json.dumps({"id": i, "name": f"n{i}", "ok": True})
        entries.append({"startedDateTime": "2024-05-01T10:00:00.000Z", "time": 5 + k % 40,
            "request": {"method": method, "url": f"http://fleet.local{path}", "httpVersion": "HTTP/1.1",
                        "headers": [{"name": "Host", "value": "fleet.local"}], "queryString": [], "cookies": [],
                        "headersSize": -1, "bodySize": 0},
            "response": {"status": status, "statusText": "", "httpVersion": "HTTP/1.1",
                         "headers": [{"name": "Content-Type", "value": "application/json"}], "cookies": [],
                         "content": {"size": len(body), "mimeType": "application/json", "text": body},
                         "redirectURL": "", "headersSize": -1, "bodySize": len(body)},
            "cache": {}, "timings": {"send": 0, "wait": 5, "receive": 0}})
    total += len(entries)
    for s in range(1, 5):
        part = entries[: len(entries) * s // 4]
        json.dump({"log": {"version": "1.2", "creator": {"name": "e2e", "version": "1"}, "entries": part}},
                  open(os.path.join(t, f"agent{a}-{s}.har"), "w"))
open(os.path.join(t, "total"), "w").write(str(total))
PY
for a in $(seq 0 11); do
    for s in 1 2 3 4; do
        "$APITAP" learn "$T/agent$a-$s.har" --format model --source "agent$a" -o "$T/agent$a-$s.json" 2> /dev/null
    done
done
e2e_pass "48 snapshots learned"

push_all() {  # pushes every snapshot in order per agent, agents in parallel, replicas round-robin
    local a s n=0
    for a in $(seq 0 11); do
        (
            for s in 1 2 3 4; do
                local r=$(( (a + s) % 3 ))
                "$APITAP" push "$T/agent$a-$s.json" --upstream "http://127.0.0.1:${PORTS[$r]}" \
                    --service fleet --token tok-0123456789 --timeout 60s 2>> "$T/push$a.log" \
                    || echo "agent$a snapshot $s failed" >> "$T/push-failures"
                # spread the snapshots (a push takes a few ms now): the kill lands mid-run
                sleep "0.$(( (a * 7 + s * 3) % 5 + 3 ))"
            done
        ) &
    done
}
push_all
pushes_done() { curl -fsS "${AUTH[@]}" "http://127.0.0.1:${PORTS[0]}/v1/services" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s[0]["pushes"] if s else 0)'; }
for k in $(seq 1 200); do DONE=$(pushes_done); [ "$DONE" -ge 10 ] && break; sleep 0.05; done
kill -9 "${CPIDS[2]}"; wait "${CPIDS[2]}" 2> /dev/null || true
e2e_log "replica 2 killed -9 after $DONE of 48 pushes"
sleep 1
launch_replica 2
await_replica 2
wait_pushes() { local p; for p in $(jobs -p); do case " ${E2E_PIDS[*]} " in *" $p "*) ;; *) wait "$p" || true;; esac; done; }
wait_pushes
e2e_check "every push was acknowledged (retries across the restart)" test ! -s "$T/push-failures"
e2e_check "replica 2 restarted and ready" curl -fsS -o /dev/null "http://127.0.0.1:${PORTS[2]}/readyz"

# 4. Every replica serves the same, exact, model.
TOTAL=$(cat "$T/total")
for i in 0 1 2; do
    U="http://127.0.0.1:${PORTS[$i]}"
    curl -fsS "${AUTH[@]}" "$U/v1/services" > "$T/services$i.json"
    curl -fsS "${AUTH[@]}" "$U/v1/services/fleet/openapi.json" > "$T/spec$i.json"
    curl -fsS "${AUTH[@]}" "$U/v1/services/fleet/versions" > "$T/versions$i.json"
    e2e_check "replica $i: 12 sources, exactly $TOTAL exchanges, every push counted" python3 - "$T/services$i.json" "$TOTAL" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
assert len(s) == 1 and s[0]["service"] == "fleet", s
# A push committed by the killed replica before it answered is resent: counted twice.
assert s[0]["sources"] == 12 and s[0]["observed"] == int(sys.argv[2]) and s[0]["pushes"] >= 48, s
PY
done
e2e_check "the three replicas serve the same spec" cmp -s "$T/spec0.json" "$T/spec1.json"
e2e_check "… and replica 2 too" cmp -s "$T/spec0.json" "$T/spec2.json"
e2e_check "the same versions everywhere" sh -c "cmp -s '$T/versions0.json' '$T/versions1.json' && cmp -s '$T/versions0.json' '$T/versions2.json'"
e2e_check "the spec has the learned paths" grep -q '"/users/{' "$T/spec0.json"
# The independent merge of every final snapshot, pushed to a fresh embedded collector, is the
# same model as the one the replicas built concurrently.
# the log exists before the poll reads it (a background redirect may not have run yet,
# and a failed sed under `set -eo pipefail` would end the script)
: > "$T/ref.log"
"$APITAP" collector --listen 127.0.0.1:0 --data-dir "$T/ref" 2> "$T/ref.log" &
E2E_PIDS+=("$!")
for k in $(seq 1 100); do REF=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$T/ref.log" | head -1); [ -n "$REF" ] && break; sleep 0.1; done
for a in $(seq 0 11); do "$APITAP" push "$T/agent$a-4.json" --upstream "$REF" --service fleet --timeout 20s; done
curl -fsS "$REF/v1/services/fleet/model" > "$T/ref-model.json"
curl -fsS "${AUTH[@]}" "http://127.0.0.1:${PORTS[1]}/v1/services/fleet/model" > "$T/pg-model.json"
e2e_check "replicas' model equals the sequential merge of the final snapshots" python3 -c "
import json, sys
a = json.load(open('$T/ref-model.json')); b = json.load(open('$T/pg-model.json'))
sys.exit(0 if a == b else 1)"
# `apitap push --source`: the same model pushed as two runs merges as two sources.
"$APITAP" push "$T/agent0-4.json" --upstream "$REF" --service runs --source run-a --timeout 20s
"$APITAP" push "$T/agent0-4.json" --upstream "$REF" --service runs --source run-b --timeout 20s
"$APITAP" push "$T/agent0-4.json" --upstream "$REF" --service runs --source run-b --timeout 20s
e2e_check "push --source: two runs are two sources, counts summed once each" python3 -c "
import json, sys, urllib.request
s = {x['service']: x for x in json.load(urllib.request.urlopen('$REF/v1/services'))}
one = json.load(open('$T/agent0-4.json'))
n = sum(v['stats']['observed'] for v in one['sources'].values())
r = s['runs']
sys.exit(0 if r['sources'] == 2 and r['observed'] == 2 * n else 1)"
e2e_summary
