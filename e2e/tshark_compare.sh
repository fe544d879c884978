#!/usr/bin/env bash
# End-to-end: real HTTP/1.1 traffic between two network namespaces, captured with tcpdump,
# decoded by both `apitap exchanges` and tshark; the two must agree.
#
# Usage (root): e2e/tshark_compare.sh       APITAP=path/to/apitap to pick the binary
# (default target/debug/apitap, built if missing). E2E_KEEP=1 keeps the temp dir.
# Prints "N passed, N failed"; exit status non-zero on any failure. Without root or
# `ip netns` it skips (exit 0), unless CI is set.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
# shellcheck source=e2e/lib.sh
. "$HERE/lib.sh"

e2e_require_root_netns
e2e_require_cmd tcpdump tshark curl python3

PORT="${E2E_PORT:-18080}"   # deliberately not a well-known HTTP port
APITAP_BUILD=0
if [ -z "${APITAP:-}" ]; then APITAP="$ROOT/target/debug/apitap"; APITAP_BUILD=1; fi
CAP="$E2E_TMP/cap.pcap"
BASE="http://$E2E_SRV_IP:$PORT"
T="$E2E_TMP"

# ---------------------------------------------------------------------------------------
e2e_log "namespaces $E2E_NS_SRV / $E2E_NS_CLI, server $E2E_SRV_IP:$PORT, temp $T"
e2e_setup_netns

e2e_bg_srv python3 "$HERE/demo_api.py" "$E2E_SRV_IP" "$PORT"
SERVER_PID=$E2E_LAST_PID
if ! e2e_wait_port "$E2E_SRV_IP" "$PORT"; then
    e2e_fail "demo API server listening on $E2E_SRV_IP:$PORT"
    e2e_summary; exit 1
fi
e2e_pass "demo API server listening on $E2E_SRV_IP:$PORT"

e2e_bg_srv tcpdump -i "$E2E_IF_SRV" -n -s 0 -U --immediate-mode -w "$CAP" "tcp port $PORT" 2> "$T/tcpdump.err"
TCPDUMP_PID=$E2E_LAST_PID
for _ in $(seq 1 100); do
    grep -q "listening on" "$T/tcpdump.err" 2> /dev/null && break
    sleep 0.1
done
grep -q "listening on" "$T/tcpdump.err" || { e2e_fail "tcpdump started"; cat "$T/tcpdump.err" >&2; e2e_summary; exit 1; }

# ---------------------------------------------------------------------------------------
# Traffic. EXPECTED counts the request/response exchanges we generate.
EXPECTED=0
C=(curl -sS --max-time 10)
JSON=(-H "Content-Type: application/json")
UUID="3f2a8c1e-7b4d-4e9a-9c3b-1d2e3f4a5b6c"
run_cli() { # run_cli N CMD...: run a client command producing N exchanges
    local n="$1"; shift
    if e2e_cli "$@" > "$T/client.out" 2> "$T/client.err"; then
        EXPECTED=$((EXPECTED + n))
        return 0
    fi
    e2e_fail "client: $*"; cat "$T/client.err" >&2
    return 1
}

# keep-alive: five GETs on one connection (one curl, several URLs); one chunked, one 404
run_cli 5 "${C[@]}" "$BASE/users/1" "$BASE/users/2" "$BASE/users?limit=5" \
    "$BASE/users?limit=40&chunked=1" "$BASE/users/5000"
# POSTs with JSON bodies, reusing the connection (--next)
run_cli 2 "${C[@]}" "${JSON[@]}" -d '{"name":"ada","roles":["admin"]}' "$BASE/users" \
    --next "${C[@]}" "${JSON[@]}" -d '{"name":"grace","tags":[1,2,3]}' "$BASE/users"
# PUT, DELETE (204, no body), GET on one connection
run_cli 3 "${C[@]}" -X PUT "${JSON[@]}" -d '{"name":"linus"}' "$BASE/users/7" \
    --next "${C[@]}" -X DELETE "$BASE/users/7" --next "${C[@]}" "$BASE/users/7"
# gzip with Content-Length, then gzip + chunked, on one connection
run_cli 2 "${C[@]}" --compressed "$BASE/orders/$UUID" "$BASE/orders/$UUID/items"
# chunked without gzip
run_cli 1 "${C[@]}" "$BASE/orders/$UUID/items"
# HEAD: headers only
run_cli 1 "${C[@]}" -I "$BASE/users/3"
# unknown path: 404
run_cli 1 "${C[@]}" "$BASE/nope?x=1&y=%20z"
# HTTP/1.0 (server closes after each response)
run_cli 1 "${C[@]}" -0 "$BASE/users/9"
run_cli 1 "${C[@]}" -0 "$BASE/users?limit=3&chunked=1"
# a large response spanning many segments
run_cli 1 "${C[@]}" "$BASE/big"
# a request body larger than one segment
BIGBODY="{\"name\":\"big\",\"blob\":\"$(head -c 6000 /dev/zero | tr '\0' 'x')\"}"
run_cli 1 "${C[@]}" "${JSON[@]}" -d "$BIGBODY" "$BASE/users"
# pipelining: three requests in one write, responses read afterwards
run_cli 3 python3 - "$E2E_SRV_IP" "$PORT" <<'PY'
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
s = socket.create_connection((host, port), 5)
reqs = (b"GET /users/11 HTTP/1.1\r\nHost: %s:%d\r\n\r\n"
        b"GET /users?limit=2 HTTP/1.1\r\nHost: %s:%d\r\n\r\n"
        b"GET /users/12 HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n") % (
    (host.encode(), port) * 3)
s.sendall(reqs)
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
s.close()
n = data.count(b"HTTP/1.1 200 OK")
sys.exit(0 if n == 3 else f"expected 3 responses, got {n}")
PY

# Let tcpdump see the last packets (immediate mode, but the CPU may be busy), then stop it.
sleep 1
kill -INT "$TCPDUMP_PID" 2> /dev/null
wait "$TCPDUMP_PID" 2> /dev/null
kill "$SERVER_PID" 2> /dev/null
e2e_log "tcpdump: $(tail -3 "$T/tcpdump.err" | tr '\n' ' ')"
if [ -s "$CAP" ] && [ "$(capinfos -c -M "$CAP" 2> /dev/null | awk '/Number of packets/ {print $NF}')" -gt 0 ] 2> /dev/null; then
    e2e_pass "tcpdump captured $(capinfos -c -M "$CAP" | awk '/Number of packets/ {print $NF}') packets, $EXPECTED exchanges generated"
else
    e2e_fail "tcpdump captured packets"
fi

# ---------------------------------------------------------------------------------------
# tshark's view: PDML, so pipelined messages in one frame stay separate and
# http.file_data's size is the de-chunked, decompressed body length.
TSHARK=(tshark -n -r "$CAP" -o tcp.reassemble_out_of_order:TRUE -o tcp.desegment_tcp_streams:TRUE
        -o http.desegment_headers:TRUE -o http.desegment_body:TRUE -o http.dechunk_body:TRUE
        -o http.decompress_body:TRUE -d "tcp.port==$PORT,http")
if "${TSHARK[@]}" -T pdml > "$T/cap.pdml" 2> "$T/tshark.err"; then
    e2e_pass "tshark decoded the capture"
else
    e2e_fail "tshark decoded the capture"; cat "$T/tshark.err" >&2
fi

cat > "$T/compare.py" <<'PY'
"""Compare apitap's exchanges with tshark's (PDML) HTTP messages.

tshark rows: per TCP stream, requests and final (non-1xx) responses in wire order, paired
by position (HTTP/1.x responses come in request order; tshark's own request_in is unreliable
for pipelined requests). Row = (method, host, uri, status, request body len, response body
len). Prints one line per check: "PASS name" or "FAIL name: detail"."""
import collections, json, sys
import xml.etree.ElementTree as ET

pdml, jsonl, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])

def tshark_rows():
    streams = collections.OrderedDict()
    malformed = 0
    for _, el in ET.iterparse(pdml, events=("end",)):
        if el.tag != "packet":
            continue
        stream = None
        for proto in el.findall("proto"):
            name = proto.get("name")
            if name == "tcp":
                f = proto.find("field[@name='tcp.stream']")
                stream = int(f.get("show")) if f is not None else None
            elif name == "_ws.malformed":
                malformed += 1
            elif name == "http":
                d = {}
                for f in proto.iter("field"):
                    n = f.get("name")
                    if n in d:
                        continue
                    if n in ("http.request.method", "http.request.uri", "http.host",
                             "http.response.code"):
                        d[n] = f.get("show")
                    elif n == "http.file_data":
                        d[n] = int(f.get("size"))
                reqs, resps = streams.setdefault(stream, ([], []))
                if "http.request.method" in d:
                    reqs.append((d["http.request.method"], d.get("http.host"),
                                 d.get("http.request.uri"), d.get("http.file_data", 0)))
                elif "http.response.code" in d:
                    code = int(d["http.response.code"])
                    if code >= 200:
                        resps.append((code, d.get("http.file_data", 0)))
        el.clear()
    rows = []
    for reqs, resps in streams.values():
        for i in range(max(len(reqs), len(resps))):
            q = reqs[i] if i < len(reqs) else (None, None, None, None)
            r = resps[i] if i < len(resps) else (None, None)
            rows.append((q[0], q[1], q[2], r[0], q[3], r[1]))
    return rows, malformed

def apitap_rows():
    rows, flagged, bad = [], [], 0
    for line in open(jsonl):
        line = line.strip()
        if not line:
            continue
        try:
            e = json.loads(line)
        except ValueError:
            bad += 1
            continue
        st = e.get("status")
        rows.append((e.get("method"), e.get("host"), e.get("uri"), st,
                     e.get("request_body_len") if e.get("method") is not None else None,
                     e.get("response_body_len") if st is not None else None))
        if e.get("flags"):
            flagged.append((e.get("method"), e.get("uri"), e.get("flags")))
    return rows, flagged, bad

results = []
def check(name, ok, detail=""):
    results.append(ok)
    print(("PASS " if ok else "FAIL ") + name + ("" if ok or not detail else ": " + detail))

def show(c, limit=8):
    items = sorted(c.items(), key=repr)
    text = "; ".join(f"{k} x{v}" for k, v in items[:limit]) or "-"
    return text + (f"; ... ({len(items) - limit} more)" if len(items) > limit else "")

ts, malformed = tshark_rows()
check("tshark: no malformed packets", malformed == 0, f"{malformed} malformed")
nreq = sum(1 for r in ts if r[0] is not None)
nresp = sum(1 for r in ts if r[3] is not None)
check(f"tshark found {expected} requests and {expected} responses",
      nreq == expected and nresp == expected, f"{nreq} requests, {nresp} responses")

if jsonl == "-":  # apitap unavailable: tshark-side checks only
    sys.exit(0 if all(results) else 1)
try:
    ap, flagged, bad = apitap_rows()
except OSError as err:
    check("apitap output readable", False, str(err))
    sys.exit(1)
check("apitap output is valid JSON lines", bad == 0 and len(ap) > 0, f"{bad} bad lines, {len(ap)} rows")
check(f"apitap found {len(ts)} exchanges like tshark", len(ap) == len(ts), f"apitap {len(ap)}, tshark {len(ts)}")

key = lambda r: r[:4]
a, t = collections.Counter(map(key, ap)), collections.Counter(map(key, ts))
check("same multiset of (method, host, uri, status)", a == t,
      f"only apitap: {show(a - t)} | only tshark: {show(t - a)}")
a, t = collections.Counter(ap), collections.Counter(ts)
check("same request and response body lengths", a == t,
      f"only apitap: {show(a - t)} | only tshark: {show(t - a)}")
a = collections.Counter((r[:4], r[5]) for r in ap)
t = collections.Counter((r[:4], r[5]) for r in ts)
check("same response body lengths (decoded)", a == t,
      f"only apitap: {show(a - t)} | only tshark: {show(t - a)}")
check("no apitap exchange flagged (clean capture)", not flagged, repr(flagged[:5]))
sys.exit(0 if all(results) else 1)
PY

# ---------------------------------------------------------------------------------------
# apitap's view.
APITAP_OK=0
if [ "$APITAP_BUILD" = 1 ]; then  # always rebuild: never test a stale binary
    e2e_log "building apitap (cargo build -p apitap)"
    (cd "$ROOT" && cargo build -q -p apitap) || true
fi
if [ ! -x "$APITAP" ]; then
    e2e_fail "apitap binary at $APITAP"
elif ! "$APITAP" exchanges --help > /dev/null 2>&1 || ! "$APITAP" exchanges --help 2>&1 | grep -q -- "--filter"; then
    e2e_fail "apitap at $APITAP has an 'exchanges' subcommand"
elif "$APITAP" exchanges "$CAP" > "$T/apitap.jsonl" 2> "$T/apitap.err"; then
    e2e_pass "apitap exchanges exited 0"
    APITAP_OK=1
else
    e2e_fail "apitap exchanges exited 0"; tail -20 "$T/apitap.err" >&2
fi

JSONL="$T/apitap.jsonl"
[ "$APITAP_OK" = 1 ] || JSONL=-   # still run tshark's side of the checks
while IFS= read -r line; do
    case "$line" in
        PASS\ *) e2e_pass "${line#PASS }" ;;
        FAIL\ *) e2e_fail "${line#FAIL }" ;;
        *) echo "$line" ;;
    esac
done < <(python3 "$T/compare.py" "$T/cap.pdml" "$JSONL" "$EXPECTED" 2>&1)

e2e_summary
