#!/usr/bin/env bash
# HTTP/2 cost benchmark (outside CI): the same workload over HTTP/1.1 and h2c, captured,
# then the cost per exchange of `apitap exchanges` on each capture, with a bare libpcap
# read of the same file and tshark as baselines in the same run.
#
# Workload: h2load against Debian apache2 + mod_http2 (`Protocols h2c http/1.1`) in a
# network namespace (e2e/lib.sh): N GETs of a small JSON file on C connections, once with
# `h2load --h1` (HTTP/1.1 keep-alive) and once as h2c prior knowledge (M streams at once per
# connection); tcpdump writes each to a file.
#
# Measures (the machine is shared, so no wall time): callgrind instruction counts (Ir) of
# `apitap exchanges FILE > /dev/null` and of bench/pcap_read (bare libpcap loop), minus each
# one's start-up (the same on an empty capture), divided by the exchanges apitap reports; tshark's user+sys CPU time (callgrind is too slow for it)
# next to apitap's own user+sys time, both over REPEAT runs.
#
# Usage (root): bench/h2_cost.sh [N] [C] [M]   (default 4000 4 10)
#   APITAP=path (default target/release/apitap), E2E_KEEP=1 keeps the captures.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
# shellcheck source=e2e/lib.sh
. "$ROOT/e2e/lib.sh"
e2e_require_root_netns
e2e_require_cmd tcpdump tshark h2load apache2 valgrind cc
N="${1:-4000}" C="${2:-4}" M="${3:-10}" REPEAT="${REPEAT:-5}"
APITAP="${APITAP:-$ROOT/target/release/apitap}"
[ -x "$APITAP" ] || { echo "build it: cargo build --release -p apitap" >&2; exit 1; }
T="$E2E_TMP" MODS=/usr/lib/apache2/modules PORT=18800
cc -O2 -o "$T/pcap_read" "$HERE/pcap_read.c" -lpcap || exit 1
e2e_setup_netns
mkdir -p "$T/www/api" "$T/apache"
printf '{"id":1,"name":"ada","tags":["x","y"]}\n' > "$T/www/api/user.json"
chmod -R a+rX "$T"
cat > "$T/apache/httpd.conf" << CONF
ServerRoot "$T/apache"
ServerName apitap-bench
DefaultRuntimeDir "$T/apache"
PidFile "$T/apache/httpd.pid"
ErrorLog "$T/apache/error.log"
Listen $E2E_SRV_IP:$PORT
LoadModule mpm_event_module $MODS/mod_mpm_event.so
LoadModule authz_core_module $MODS/mod_authz_core.so
LoadModule mime_module $MODS/mod_mime.so
TypesConfig /etc/mime.types
LoadModule http2_module $MODS/mod_http2.so
User www-data
Group www-data
Protocols h2c http/1.1
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 30
DocumentRoot "$T/www"
<Directory "$T/www">
    Require all granted
</Directory>
CONF
e2e_bg_srv apache2 -f "$T/apache/httpd.conf" -DFOREGROUND
e2e_wait_port "$E2E_SRV_IP" "$PORT" || { cat "$T/apache/error.log"; exit 1; }
URL="http://$E2E_SRV_IP:$PORT/api/user.json"

capture() { # capture NAME H2LOAD-ARGS...
    local name=$1
    shift
    e2e_bg_srv tcpdump -i "$E2E_IF_SRV" -n -s 0 -U -w "$T/$name.pcap" "tcp port $PORT" 2> "$T/$name.err"
    local pid=$E2E_LAST_PID
    for _ in $(seq 1 100); do grep -q "listening on" "$T/$name.err" && break; sleep 0.1; done
    e2e_cli h2load "$@" "$URL" | grep -E "^requests:" >&2
    sleep 0.5
    kill "$pid"
    wait "$pid" 2> /dev/null
}
capture h1 --h1 -n "$N" -c "$C"
capture h2c -n "$N" -c "$C" -m "$M"

ir() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 > /dev/null | sed -n 's/.*Collected : //p'; }
cpu() { # user+sys seconds of REPEAT runs
    local s=0 t TIMEFORMAT='%U %S'
    for _ in $(seq 1 "$REPEAT"); do
        t=$( { time "$@" > /dev/null 2>&1; } 2>&1 | tail -1)
        s=$(echo "$s $t" | awk '{print $1 + $2 + $3}')
    done
    echo "$s"
}
# fixed start-up cost: the same programs on a capture with no packets (its file header only)
head -c 24 "$T/h1.pcap" > "$T/empty.pcap"
A0=$(ir "$APITAP" exchanges "$T/empty.pcap")
P0=$(ir "$T/pcap_read" "$T/empty.pcap")
echo "start-up Ir (subtracted): apitap $A0, pcap_read $P0" >&2
printf '%-5s %8s %7s %9s %14s %14s %14s %12s %12s %7s\n' capture packets MB exchanges \
    "apitap Ir/ex" "pcap_read Ir/ex" "apitap-bare" "apitap us/ex" "tshark us/ex" "tshark/apitap"
for name in h1 h2c; do
    f="$T/$name.pcap"
    pk=$("$T/pcap_read" "$f" 2> /dev/null | awk '{print $1; exit}')
    mb=$(stat -c %s "$f" | awk '{printf "%.1f", $1 / 1e6}')
    ex=$("$APITAP" exchanges "$f" | grep -c '"status":')
    a=$(($(ir "$APITAP" exchanges "$f") - A0))
    p=$(($(ir "$T/pcap_read" "$f") - P0))
    if [ "$name" = h1 ]; then d=http; else d=http2; fi
    ac=$(cpu "$APITAP" exchanges "$f")
    tc=$(cpu tshark -n -r "$f" -d "tcp.port==$PORT,$d" -Y "http or http2")
    echo "$name $pk $mb $ex $a $p $ac $tc $REPEAT" | awk '{
        printf "%-5s %8d %7s %9d %14.0f %14.0f %14.0f %12.1f %12.1f %7.1f\n", $1, $2, $3, $4,
            $5 / $4, $6 / $4, ($5 - $6) / $4, $7 / $9 / $4 * 1e6, $8 / $9 / $4 * 1e6, $8 / $7 }'
done
