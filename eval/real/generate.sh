#!/usr/bin/env bash
# Regenerates one real-world case (outside CI): (re)installs and starts the real server on
# loopback, drives it with its real client, captures the traffic with tcpdump filtered to the
# server's port, and rewrites eval/real/cases/CASE/{capture.pcap.gz,spec.json}.
#
#   sudo eval/real/generate.sh docker        # one case
#   sudo eval/real/generate.sh all
#
# Needs root (tcpdump, apt). Uses $APITAP (default: target/release/apitap) to list the
# exchanges for reduce_spec.py. Ports 18600-18699. Every server process started here is
# stopped by pid on exit.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
APITAP=${APITAP:-$ROOT/target/release/apitap}
VENV=${REALEVAL_VENV:-/tmp/realeval-venv}
WORK=$(mktemp -d /tmp/realeval-gen.XXXXXX)
PIDS=()
cleanup() {
  # children first (gunicorn workers, kernels), then the processes started here, by pid
  for p in "${PIDS[@]}"; do pkill -TERM -P "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
  sleep 1
  for p in "${PIDS[@]}"; do pkill -KILL -P "$p" 2>/dev/null || true; kill -9 "$p" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

apt_install() {
  local missing=()
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}
venv() {
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "$@"
}
wait_port() {  # PORT [tries]
  for _ in $(seq 1 "${2:-100}"); do
    (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.2
  done
  echo "generate: nothing listens on port $1" >&2; return 1
}
start_capture() {  # PORT
  tcpdump -i lo -s 0 -U -w "$WORK/capture.pcap" "tcp port $1" 2> "$WORK/tcpdump.log" &
  CAP_PID=$!; PIDS+=("$CAP_PID")
  sleep 1
}
finish() {  # CASE PUBLISHED_SPEC [reduce args...]
  local case=$1 spec=$2; shift 2
  sleep 1; kill "$CAP_PID"; wait "$CAP_PID" 2>/dev/null || true
  local dir="$HERE/cases/$case"
  mkdir -p "$dir"
  gzip -9 -n -c "$WORK/capture.pcap" > "$dir/capture.pcap.gz"
  "$APITAP" exchanges "$dir/capture.pcap.gz" --format jsonl --bodies > "$WORK/exchanges.jsonl"
  python3 "$HERE/reduce_spec.py" "$spec" "$WORK/exchanges.jsonl" -o "$dir/spec.json" "$@"
  echo "generate: $case: $(wc -l < "$WORK/exchanges.jsonl") exchanges, capture $(du -h "$dir/capture.pcap.gz" | cut -f1)"
}

case_docker() {
  # Docker Engine API (the local daemon) driven by the docker CLI through a loopback TCP
  # relay of the daemon's unix socket. Spec: moby's api/swagger.yaml at the daemon's
  # version (published-spec.yaml.gz, from github.com/moby/moby tag v20.10.24, API 1.41).
  apt_install socat tcpdump busybox-static
  local port=18601
  socat TCP-LISTEN:$port,bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:/var/run/docker.sock &
  PIDS+=($!)
  wait_port $port
  DOCKER_HOST=tcp://127.0.0.1:$port python3 "$HERE/cases/docker/workload.py" --seed 8 --phase setup
  start_capture $port
  DOCKER_HOST=tcp://127.0.0.1:$port python3 "$HERE/cases/docker/workload.py" --seed 8
  gunzip -c "$HERE/cases/docker/published-spec.yaml.gz" > "$WORK/published.yaml"
  finish docker "$WORK/published.yaml" --multi-segment name
}

case_kinto() {
  # Kinto (memory backend; accounts, history and permissions endpoint enabled) driven by the
  # kinto-http client. Spec: the server's own OpenAPI at /v1/__api__.
  apt_install tcpdump
  venv kinto==26.5.0 kinto-http==11.11.0
  local port=18602
  (cd "$WORK" && "$VENV/bin/kinto" init --ini kinto.ini --backend memory --cache-backend memory >/dev/null)
  sed -i -e 's/^#\( *kinto.plugins.history\)/ \1/' \
         -e 's/^# kinto.experimental_permissions_endpoint = false/kinto.experimental_permissions_endpoint = true/' \
         "$WORK/kinto.ini"
  (cd "$WORK" && exec "$VENV/bin/kinto" start --ini kinto.ini --port $port -q) > "$WORK/server.log" 2>&1 &
  PIDS+=($!)
  wait_port $port
  curl -sf "http://127.0.0.1:$port/v1/__api__" > "$WORK/published.json"
  cp "$WORK/published.json" "$HERE/cases/kinto/published-spec.json"
  start_capture $port
  "$VENV/bin/python" "$HERE/cases/kinto/workload.py" --server "http://127.0.0.1:$port/v1" --seed 8
  finish kinto "$WORK/published.json"
}

case_alertmanager() {
  # Prometheus Alertmanager (Debian prometheus-alertmanager 0.25) driven by amtool. Spec:
  # api/v2/openapi.yaml of prometheus/alertmanager at tag v0.25.0 (published-spec.yaml.gz).
  apt_install tcpdump prometheus-alertmanager
  local port=18603
  cat > "$WORK/am.yml" <<'YML'
route:
  receiver: default
  group_by: [alertname, service]
  routes:
    - matchers: [severity="critical"]
      receiver: pager
receivers:
  - name: default
  - name: pager
YML
  prometheus-alertmanager --config.file="$WORK/am.yml" --storage.path="$WORK/am-data" \
    --web.listen-address=127.0.0.1:$port --cluster.listen-address= > "$WORK/server.log" 2>&1 &
  PIDS+=($!)
  wait_port $port
  start_capture $port
  python3 "$HERE/cases/alertmanager/workload.py" --url "http://127.0.0.1:$port" --seed 8
  gunzip -c "$HERE/cases/alertmanager/published-spec.yaml.gz" > "$WORK/published.yaml"
  finish alertmanager "$WORK/published.yaml"
}

case_httpbin() {
  # httpbin (PyPI httpbin + flasgger, under gunicorn) driven by python-requests. Spec: the
  # server's own Swagger 2.0 at /spec.json.
  apt_install tcpdump
  venv httpbin==0.10.4 flasgger==0.9.7.1 gunicorn==27.0.1 requests==2.34.2
  local port=18604
  "$VENV/bin/gunicorn" -b 127.0.0.1:$port -w 2 httpbin:app > "$WORK/server.log" 2>&1 &
  PIDS+=($!)
  wait_port $port
  curl -sf --retry 5 --retry-all-errors "http://127.0.0.1:$port/spec.json" > "$WORK/published.json"
  cp "$WORK/published.json" "$HERE/cases/httpbin/published-spec.json"
  start_capture $port
  "$VENV/bin/python" "$HERE/cases/httpbin/workload.py" --url "http://127.0.0.1:$port" --seed 8
  finish httpbin "$WORK/published.json"
}

case_jupyter() {
  # Jupyter Server (PyPI jupyter-server, ipykernel, terminals) REST API driven by
  # python-requests as JupyterLab's front end calls it. Spec: jupyter_server/services/api/api.yaml
  # shipped inside the package.
  apt_install tcpdump
  venv jupyter-server==2.21.1 jupyter-server-terminals==0.5.4 ipykernel==7.4.0 requests==2.34.2
  local port=18605
  mkdir -p "$WORK/nb"
  "$VENV/bin/jupyter-server" --ServerApp.ip=127.0.0.1 --ServerApp.port=$port --ServerApp.port_retries=0 \
    --ServerApp.open_browser=False --IdentityProvider.token=realeval-token --allow-root \
    --ServerApp.root_dir="$WORK/nb" > "$WORK/server.log" 2>&1 &
  PIDS+=($!)
  wait_port $port
  local spec
  spec=$("$VENV/bin/python" -c 'import jupyter_server, os; print(os.path.join(os.path.dirname(jupyter_server.__file__), "services/api/api.yaml"))')
  gzip -9 -n -c "$spec" > "$HERE/cases/jupyter/published-spec.yaml.gz"
  start_capture $port
  "$VENV/bin/python" "$HERE/cases/jupyter/workload.py" --url "http://127.0.0.1:$port" --token realeval-token --seed 8
  finish jupyter "$spec" --multi-segment path
}

case_pdns() {
  # PowerDNS Authoritative (Debian pdns-server + pdns-backend-sqlite3 4.7) with its HTTP API,
  # driven by python-requests. Spec: docs/http-api/swagger/authoritative-api-swagger.yaml of
  # PowerDNS/pdns at tag auth-4.7.3 (published-spec.yaml.gz).
  apt_install tcpdump sqlite3 pdns-server pdns-backend-sqlite3
  venv requests==2.34.2
  local port=18606 dnsport=18607
  mkdir -p "$WORK/pdns"
  sqlite3 "$WORK/pdns/pdns.sqlite3" < /usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql
  cat > "$WORK/pdns/pdns.conf" <<CONF
launch=gsqlite3
gsqlite3-database=$WORK/pdns/pdns.sqlite3
gsqlite3-dnssec=yes
local-address=127.0.0.1
local-port=$dnsport
api=yes
api-key=realeval-key
webserver=yes
webserver-address=127.0.0.1
webserver-port=$port
webserver-allow-from=127.0.0.0/8
socket-dir=$WORK/pdns
guardian=no
daemon=no
disable-syslog=yes
primary=yes
CONF
  pdns_server --config-dir="$WORK/pdns" > "$WORK/server.log" 2>&1 &
  PIDS+=($!)
  wait_port $port
  start_capture $port
  "$VENV/bin/python" "$HERE/cases/pdns/workload.py" --url "http://127.0.0.1:$port" --key realeval-key --seed 8
  gunzip -c "$HERE/cases/pdns/published-spec.yaml.gz" > "$WORK/published.yaml"
  finish pdns "$WORK/published.yaml" --literal server_id=localhost
}

case_matrix() {
  # Synapse (PyPI matrix-synapse, sqlite) driven by the matrix-nio client library. Spec: the
  # Matrix client-server API of matrix-org/matrix-spec at tag v1.19 (data/api/client-server,
  # one OpenAPI 3.1 file per module), bundled into one document by cases/matrix/bundle_spec.py
  # (published-spec.json.gz; set MATRIX_SPEC=CHECKOUT to re-bundle).
  apt_install tcpdump
  venv matrix-synapse==1.163.2 matrix-nio==0.26.0
  local port=18608
  mkdir -p "$WORK/mx"
  (cd "$WORK/mx" && "$VENV/bin/python" -m synapse.app.homeserver --server-name realeval.local \
    --config-path "$WORK/mx/homeserver.yaml" --data-directory "$WORK/mx" --generate-config --report-stats=no >/dev/null)
  "$VENV/bin/python" - "$WORK/mx/homeserver.yaml" $port <<'PY'
import sys, yaml
p, port = sys.argv[1], int(sys.argv[2])
c = yaml.safe_load(open(p))
c["listeners"] = [{"port": port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": False,
                   "x_forwarded": False, "resources": [{"names": ["client", "media"], "compress": False}]}]
c["enable_registration"] = True
c["enable_registration_without_verification"] = True
c["trusted_key_servers"] = []
c["suppress_key_server_warning"] = True
c["report_stats"] = False
for k in ("rc_message", "rc_registration", "rc_login", "rc_joins", "rc_invites", "rc_admin_redaction",
          "rc_3pid_validation", "rc_media_create", "rc_presence", "rc_delayed_event_mgmt", "rc_room_creation"):
    c[k] = {"per_second": 1000, "burst_count": 1000}
c["rc_login"] = {k: {"per_second": 1000, "burst_count": 1000} for k in ("address", "account", "failed_attempts")}
c["rc_joins"] = {k: {"per_second": 1000, "burst_count": 1000} for k in ("local", "remote")}
c["rc_invites"] = {k: {"per_second": 1000, "burst_count": 1000} for k in ("per_room", "per_user", "per_issuer")}
yaml.safe_dump(c, open(p, "w"))
PY
  (cd "$WORK/mx" && exec "$VENV/bin/python" -m synapse.app.homeserver --config-path "$WORK/mx/homeserver.yaml") > "$WORK/server.log" 2>&1 &
  PIDS+=($!)
  wait_port $port 300
  if [ -n "${MATRIX_SPEC:-}" ]; then
    "$VENV/bin/python" "$HERE/cases/matrix/bundle_spec.py" "$MATRIX_SPEC" -o "$WORK/published.json"
    gzip -9 -n -c "$WORK/published.json" > "$HERE/cases/matrix/published-spec.json.gz"
  fi
  gunzip -c "$HERE/cases/matrix/published-spec.json.gz" > "$WORK/published.json"
  start_capture $port
  "$VENV/bin/python" "$HERE/cases/matrix/workload.py" --url "http://127.0.0.1:$port" --seed 8
  finish matrix "$WORK/published.json" --optional-last stateKey
}

case_prefect() {
  # Prefect server (FastAPI, sqlite) driven by Prefect's own Python client. Spec: the
  # server's own /api/openapi.json.
  apt_install tcpdump
  venv prefect==3.9.1
  local port=18609
  export PREFECT_HOME="$WORK/prefect" PREFECT_API_URL="http://127.0.0.1:$port/api"
  export PREFECT_SERVER_ANALYTICS_ENABLED=false PREFECT_SERVER_UI_ENABLED=false
  "$VENV/bin/prefect" server start --host 127.0.0.1 --port $port --no-services > "$WORK/server.log" 2>&1 &
  PIDS+=($!)
  wait_port $port 600
  curl -sf --retry 10 --retry-all-errors "http://127.0.0.1:$port/api/openapi.json" > "$WORK/published.json"
  gzip -9 -n -c "$WORK/published.json" > "$HERE/cases/prefect/published-spec.json.gz"
  start_capture $port
  "$VENV/bin/python" "$HERE/cases/prefect/workload.py" --seed 8
  finish prefect "$WORK/published.json"
}

cases=("$@")
[ ${#cases[@]} -gt 0 ] || { echo "usage: $0 CASE...|all" >&2; exit 2; }
if [ "${cases[0]}" = all ]; then cases=(docker kinto alertmanager httpbin jupyter pdns matrix prefect); fi
for c in "${cases[@]}"; do
  "case_$c"
done
