#!/usr/bin/env bash
# End-to-end test of the apitap container image as a sidecar.
#
# Usage (root or docker group): e2e/docker.sh     APITAP=path/to/release/apitap to pick the binary
#
# Without an image registry: builds a Debian base image with debootstrap (e2e/docker/base.sh,
# cached), a tools image (python3 + curl) from it, and the apitap image from the Dockerfile
# with the host-built release binary (BINARY_SOURCE=prebuilt). Then:
#   app:    the JSON demo API (demo_api.py) in its own container on a private network,
#   agent:  `docker run --net=container:app --cap-drop ALL --cap-add NET_RAW apitap agent`,
#           as the image's non-root user with only the file capability,
#   client: a third container sending curl traffic to the app,
# and checks the learned endpoints, the metrics (promtool), the HEALTHCHECK, the user, and
# that `docker stop` (SIGTERM) ends the agent with status 0 within seconds.
# No Docker engine: prints SKIP and exits 0, even under CI.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
PASSED=0
FAILED=0
ok() { PASSED=$((PASSED + 1)); echo "ok   - $*"; }
bad() { FAILED=$((FAILED + 1)); echo "FAIL - $*"; }
check() { local n="$1"; shift; if "$@"; then ok "$n"; else bad "$n"; fi; }
log() { printf '[e2e-docker] %s\n' "$*" >&2; }
summary() { echo "$PASSED passed, $FAILED failed"; [ "$FAILED" = 0 ] && [ "$PASSED" -gt 0 ]; }

if ! command -v docker > /dev/null || ! docker info > /dev/null 2>&1; then
    echo "SKIP: no Docker engine running (docker info failed); the container e2e test did not run"
    exit 0
fi

BASE=apitap-base:bookworm
TOOLS=apitap-e2e-tools:bookworm
IMAGE="apitap:e2e-$$"
NET="apitap-e2e-$$"
APP="apitap-app-$$"
AGENT="apitap-agent-$$"
PORT=18080
T="$(mktemp -d "${TMPDIR:-/tmp}/apitap-docker.XXXXXX")"
cleanup() {
    local rc=$?
    docker rm -f "$AGENT" "$APP" > /dev/null 2>&1 || true
    docker network rm "$NET" > /dev/null 2>&1 || true
    docker image rm "$IMAGE" > /dev/null 2>&1 || true
    [ -n "${E2E_KEEP:-}" ] && log "kept $T" || rm -rf "$T"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- images ------------------------------------------------------------------------------
"$HERE/docker/base.sh" "$BASE" >&2 || { bad "build the base image with debootstrap"; summary; exit 1; }
if ! docker image inspect "$TOOLS" > /dev/null 2>&1; then
    log "building $TOOLS"
    docker build -q -t "$TOOLS" --build-arg BASE="$BASE" -f "$HERE/docker/tools.Dockerfile" "$HERE/docker" > "$T/tools-build.log" 2>&1 \
        || { cat "$T/tools-build.log" >&2; bad "build the tools image"; summary; exit 1; }
fi
if [ -z "${APITAP:-}" ]; then
    # Always (re)build: a stale binary left in target/ must never be the one tested.
    log "building the release binary"
    (cd "$ROOT" && cargo build -q --release -p apitap) || { bad "cargo build --release"; summary; exit 1; }
    APITAP="$ROOT/target/release/apitap"
fi
mkdir -p "$ROOT/target/docker"
cp "$APITAP" "$ROOT/target/docker/apitap"
strip "$ROOT/target/docker/apitap" 2> /dev/null || true
log "building $IMAGE from the Dockerfile (prebuilt binary)"
if docker build -t "$IMAGE" --build-arg BINARY_SOURCE=prebuilt \
    --build-arg BUILD_IMAGE="$BASE" --build-arg RUNTIME_IMAGE="$BASE" "$ROOT" > "$T/build.log" 2>&1; then
    ok "docker build of the apitap image"
else
    tail -30 "$T/build.log" >&2
    bad "docker build of the apitap image"
    summary
    exit 1
fi
SIZE=$(docker image inspect -f '{{.Size}}' "$IMAGE")
log "image size: $((SIZE / 1024 / 1024)) MiB"

# ---- containers --------------------------------------------------------------------------
docker network create "$NET" > /dev/null
docker run -d --name "$APP" --network "$NET" -v "$ROOT/e2e/demo_api.py:/demo_api.py:ro" \
    "$TOOLS" python3 /demo_api.py 0.0.0.0 "$PORT" > /dev/null
docker run -d --name "$AGENT" --net "container:$APP" --cap-drop ALL --cap-add NET_RAW \
    --health-interval 1s --health-start-period 1s \
    "$IMAGE" agent --filter "tcp port $PORT" --service demo-api --snapshot-interval 0.5 \
    --log-format json > /dev/null
client() { docker run --rm --network "$NET" "$TOOLS" "$@"; }

wait_healthy() {
    local i s
    for i in $(seq 1 60); do
        s=$(docker inspect -f '{{.State.Health.Status}}' "$AGENT" 2> /dev/null)
        [ "$s" = healthy ] && return 0
        [ "$(docker inspect -f '{{.State.Running}}' "$AGENT")" = true ] || break
        sleep 0.5
    done
    echo "  health: ${s:-unknown}"; docker logs "$AGENT" 2>&1 | tail -5
    return 1
}
check "agent container becomes healthy (HEALTHCHECK: apitap healthcheck)" wait_healthy
check "agent runs as uid 10001" bash -c "[ \"\$(docker exec $AGENT cat /proc/self/status | awk '/^Uid:/ {print \$2}')\" = 10001 ]"
check "agent holds CAP_NET_RAW only (effective set 0x2000)" bash -c \
    "docker exec $AGENT cat /proc/1/status | grep -q '^CapEff:.*0000000000002000$'"

# ---- traffic from a third container --------------------------------------------------------
client sh -c "
    for i in \$(seq 1 25); do curl -s -o /dev/null http://$APP:$PORT/users/\$i; done
    for i in 1 2 3; do curl -s -o /dev/null -X POST -H 'Content-Type: application/json' -d '{\"name\":\"n\",\"age\":3}' http://$APP:$PORT/users; done
    curl -s -o /dev/null http://$APP:$PORT/users/9999
    curl -s -o /dev/null -X DELETE http://$APP:$PORT/users/4
" || bad "client traffic"
sleep 2

client curl -sf "http://$APP:9464/v1/endpoints" > "$T/endpoints.json"
check "learned endpoints and counts match the traffic" python3 - "$T/endpoints.json" << 'EOF'
import json, sys
rows = json.load(open(sys.argv[1]))
got = {(r["method"], r["template"]): r["count"] for r in rows}
want = {("GET", "/users/{userId}"): 26, ("POST", "/users"): 3, ("DELETE", "/users/{userId}"): 1}
if got != want:
    print(f"  got {got}, want {want}"); sys.exit(1)
EOF
client curl -sf "http://$APP:9464/v1/openapi.json" > "$T/openapi.json"
check "OpenAPI spec served" python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert '/users/{userId}' in d['paths']" "$T/openapi.json"
client curl -sf "http://$APP:9464/metrics" > "$T/metrics.txt"
if command -v promtool > /dev/null; then
    check "promtool check metrics accepts /metrics" bash -c "promtool check metrics < '$T/metrics.txt' && [ -z \"\$(promtool check metrics < '$T/metrics.txt' 2>&1)\" ]"
fi
check "RED metric for POST /users (service_name=demo-api) is 3" grep -q \
    '^http_server_request_duration_seconds_count{http_request_method="POST",http_response_status_code="201",http_route="/users",service_name="demo-api"} 3$' "$T/metrics.txt"
check "no kernel or queue drops" bash -c "! grep -E '^apitap_(kernel|queue)_drops_total' '$T/metrics.txt' | grep -vq ' 0\$'"

# ---- SIGTERM -------------------------------------------------------------------------------
stop_ok() {
    local t0 t1 rc
    t0=$(date +%s)
    docker stop -t 10 "$AGENT" > /dev/null
    t1=$(date +%s)
    rc=$(docker inspect -f '{{.State.ExitCode}}' "$AGENT")
    echo "  stopped in $((t1 - t0)) s, exit status $rc"
    [ "$rc" = 0 ] && [ $((t1 - t0)) -le 5 ]
}
check "docker stop (SIGTERM): exit status 0 within 5 s" stop_ok
check "JSON logs" bash -c "docker logs $AGENT 2>&1 | python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin if l.strip()]'"

summary
