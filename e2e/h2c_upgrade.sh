#!/usr/bin/env bash
# End-to-end: HTTP/2 reached by the HTTP/1.1 `Upgrade: h2c` dance (not prior knowledge),
# between two network namespaces, captured with tcpdump and decoded by `apitap exchanges`
# and by tshark (HTTP on the port, which follows the 101 into its HTTP/2 dissector).
#
# Server: Debian apache2 with mod_http2 (`Protocols h2c http/1.1`, mpm_event), a config of
# our own in the temp dir. Clients: `curl --http2` (sends `Upgrade: h2c` + HTTP2-Settings on
# its first request, then reuses the upgraded connection for the next URLs as streams 3, 5,
# …) and `nghttp -u` (same, several URIs at once).
#
# Checks (e2e/h2/upgrade_check.py): every request tshark sees on the upgraded connections
# (the HTTP/1.1 one that carried the Upgrade, and the HTTP/2 streams after it) is exactly one
# apitap exchange with the same method, path and final status (the upgraded request's
# answer is the HTTP/2 stream 1 response, not the 101); streams after the upgrade are
# `version: "HTTP/2"` with their stream id; no exchange is a leftover 101.
#
# Usage (root): e2e/h2c_upgrade.sh      APITAP=path/to/apitap picks the binary (default
# target/debug/apitap, built if missing). E2E_KEEP=1 keeps the temp dir. Prints ok/FAIL lines
# and "N passed, N failed"; non-zero exit on any failure. Without root or `ip netns` it
# skips (exit 0), unless CI is set.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
# shellcheck source=e2e/lib.sh
. "$HERE/lib.sh"

e2e_require_root_netns
e2e_require_cmd tcpdump tshark curl python3 nghttp apache2
MODS=/usr/lib/apache2/modules
[ -f "$MODS/mod_http2.so" ] || e2e_skip "apache2 mod_http2 not installed"

PORT="${E2E_PORT:-18790}"
if [ -z "${APITAP:-}" ]; then
    APITAP="$ROOT/target/debug/apitap"
    [ -x "$APITAP" ] || (cd "$ROOT" && cargo build -q -p apitap) || { echo "FAIL - build apitap"; exit 1; }
fi
T="$E2E_TMP"
e2e_log "namespaces $E2E_NS_SRV / $E2E_NS_CLI, apache2 h2c on $E2E_SRV_IP:$PORT, temp $T"
e2e_setup_netns

mkdir -p "$T/www/api" "$T/apache"
printf '{"id":1,"name":"ada"}\n' > "$T/www/api/user.json"
printf '<p>hi</p>\n' > "$T/www/index.html"
head -c 50000 /dev/zero | tr '\0' 'a' > "$T/www/big.txt"
chmod -R a+rX "$T"
cat > "$T/apache/httpd.conf" << EOF
ServerRoot "$T/apache"
ServerName apitap-e2e
DefaultRuntimeDir "$T/apache"
PidFile "$T/apache/httpd.pid"
ErrorLog "$T/apache/error.log"
LogLevel warn http2:info
Listen $E2E_SRV_IP:$PORT
LoadModule mpm_event_module $MODS/mod_mpm_event.so
LoadModule authz_core_module $MODS/mod_authz_core.so
LoadModule mime_module $MODS/mod_mime.so
TypesConfig /etc/mime.types
LoadModule http2_module $MODS/mod_http2.so
User www-data
Group www-data
Protocols h2c http/1.1
H2Upgrade on
KeepAlive On
KeepAliveTimeout 30
Timeout 30
DocumentRoot "$T/www"
<Directory "$T/www">
    Require all granted
</Directory>
EOF
e2e_bg_srv apache2 -f "$T/apache/httpd.conf" -DFOREGROUND
e2e_wait_port "$E2E_SRV_IP" "$PORT" || {
    cat "$T/apache/error.log" >&2
    e2e_fail "apache2 listening"
    e2e_summary
    exit 1
}

e2e_bg_srv tcpdump -i "$E2E_IF_SRV" -n -s 0 -U --immediate-mode -w "$T/up.pcap" "tcp port $PORT" 2> "$T/tcpdump.err"
CAP_PID=$E2E_LAST_PID
for _ in $(seq 1 100); do
    grep -q "listening on" "$T/tcpdump.err" 2> /dev/null && break
    sleep 0.1
done

B="http://$E2E_SRV_IP:$PORT"
# curl --http2 upgrades its first request. (apache answers curl's next request on the same
# upgraded connection with GOAWAY "timeout", so one URL per curl; nghttp covers the streams
# after stream 1.)
for u in /api/user.json /nope "/missing/thing?x=1"; do
    e2e_check "curl --http2 $u: upgraded to HTTP/2" \
        bash -c "[ \"\$(ip netns exec $E2E_NS_CLI curl -sS --http2 -o /dev/null -w '%{http_version}' '$B$u')\" = 2 ]"
done
# (apache sometimes answers only stream 1 then sends GOAWAY "timeout": retried)
nghttp_u() {
    local i
    for i in 1 2 3 4 5; do
        e2e_cli nghttp -u -n "$B/index.html" "$B/api/user.json" "$B/gone" 2>&1 | grep -q "not processed" || return 0
    done
    return 1
}
e2e_check "nghttp -u: upgrade, then two more streams on the connection" nghttp_u
sleep 0.5
kill "$CAP_PID" 2> /dev/null
wait "$CAP_PID" 2> /dev/null

e2e_check "apitap agrees with tshark on every request of the upgraded connections" \
    python3 "$HERE/h2/upgrade_check.py" "$APITAP" "$T/up.pcap" "$PORT"
e2e_summary
