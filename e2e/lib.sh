# Helpers for apitap end-to-end tests. Source it: `. "$(dirname "$0")/lib.sh"`.
#
# - e2e_require_root_netns: skip (exit 0) when not root or `ip netns` is unusable, unless
#   CI is set (then fail).
# - e2e_setup_netns: creates two network namespaces of our own (apitap-srv-$$ and
#   apitap-cli-$$) joined by a veth pair with addresses in a private /30 that exists only
#   inside them (10.213.<n>.1 server, .2 client); offloads are switched off (if ethtool is
#   there) so a capture sees real, checksummed, MTU-sized segments.
# - e2e_srv CMD... / e2e_cli CMD...: run a command in the server / client namespace.
# - e2e_bg_srv CMD...: same, in the background; the pid is remembered and killed on exit.
# - e2e_pass / e2e_fail / e2e_check / e2e_summary: test counting; the summary prints
#   "N passed, N failed" and returns non-zero if anything failed.
# Everything (processes, namespaces with their veth, the temp dir) is torn down on EXIT.
# No traffic ever leaves the two namespaces.

E2E_NS_SRV="apitap-srv-$$"
E2E_NS_CLI="apitap-cli-$$"
E2E_NET="10.213.$(( $$ % 250 + 1 ))"
E2E_SRV_IP="$E2E_NET.1"
E2E_CLI_IP="$E2E_NET.2"
E2E_IF_SRV="ats$(( $$ % 100000000 ))"   # interface names are at most 15 characters
E2E_IF_CLI="atc$(( $$ % 100000000 ))"
E2E_PIDS=()
E2E_PASSED=0
E2E_FAILED=0
E2E_TMP="$(mktemp -d "${TMPDIR:-/tmp}/apitap-e2e.XXXXXX")"
E2E_KEEP="${E2E_KEEP:-}"   # set to keep the temp dir (captures, outputs) for debugging

e2e_log() { printf '[e2e] %s\n' "$*" >&2; }

# Skip (or fail under CI) with a reason.
e2e_skip() {
    if [ -n "${CI:-}" ]; then
        echo "FAIL: $* (CI is set, so this is not a skip)" >&2
        exit 1
    fi
    echo "SKIP: $*" >&2
    exit 0
}

e2e_require_root_netns() {
    [ "$(id -u)" = 0 ] || e2e_skip "needs root (network namespaces)"
    command -v ip > /dev/null || e2e_skip "iproute2 'ip' not installed"
    ip netns list > /dev/null 2>&1 || e2e_skip "'ip netns' unavailable"
}

# e2e_require_cmd NAME...: skip (fail under CI) if a tool is missing.
e2e_require_cmd() {
    local c
    for c in "$@"; do
        command -v "$c" > /dev/null || e2e_skip "'$c' not installed"
    done
}

e2e_cleanup() {
    local rc=$?
    local p
    for p in "${E2E_PIDS[@]}"; do
        kill "$p" 2> /dev/null || true
    done
    for p in "${E2E_PIDS[@]}"; do
        wait "$p" 2> /dev/null || true
    done
    # Anything still running inside our own namespaces was started by this test.
    local ns
    for ns in "$E2E_NS_SRV" "$E2E_NS_CLI"; do
        if ip netns list 2> /dev/null | grep -qw "$ns"; then
            for p in $(ip netns pids "$ns" 2> /dev/null); do
                kill "$p" 2> /dev/null || true
            done
            ip netns del "$ns" 2> /dev/null || true
        fi
    done
    if [ -n "$E2E_KEEP" ]; then
        e2e_log "kept $E2E_TMP"
    else
        rm -rf "$E2E_TMP"
    fi
    exit "$rc"
}
trap e2e_cleanup EXIT
trap 'exit 130' INT TERM

e2e_setup_netns() {
    ip netns add "$E2E_NS_SRV" || e2e_skip "cannot create network namespace"
    ip netns add "$E2E_NS_CLI" || e2e_skip "cannot create network namespace"
    ip link add "$E2E_IF_SRV" netns "$E2E_NS_SRV" type veth peer name "$E2E_IF_CLI" netns "$E2E_NS_CLI" \
        || e2e_skip "cannot create veth pair"
    ip -n "$E2E_NS_SRV" addr add "$E2E_SRV_IP/30" dev "$E2E_IF_SRV"
    ip -n "$E2E_NS_CLI" addr add "$E2E_CLI_IP/30" dev "$E2E_IF_CLI"
    ip -n "$E2E_NS_SRV" link set lo up
    ip -n "$E2E_NS_CLI" link set lo up
    ip -n "$E2E_NS_SRV" link set "$E2E_IF_SRV" up
    ip -n "$E2E_NS_CLI" link set "$E2E_IF_CLI" up
    if command -v ethtool > /dev/null; then
        ip netns exec "$E2E_NS_SRV" ethtool -K "$E2E_IF_SRV" tso off gso off gro off tx off rx off > /dev/null 2>&1 || true
        ip netns exec "$E2E_NS_CLI" ethtool -K "$E2E_IF_CLI" tso off gso off gro off tx off rx off > /dev/null 2>&1 || true
    else
        e2e_log "ethtool missing: offloads stay on (captured TCP checksums may be unset, segments may exceed the MTU)"
    fi
    # Wait until both ends report the link up.
    local i
    for i in $(seq 1 50); do
        if ip -n "$E2E_NS_SRV" -o link show dev "$E2E_IF_SRV" | grep -q "state UP" &&
            ip -n "$E2E_NS_CLI" -o link show dev "$E2E_IF_CLI" | grep -q "state UP"; then
            return 0
        fi
        sleep 0.1
    done
    e2e_log "warning: veth link not reported UP; continuing"
}

e2e_srv() { ip netns exec "$E2E_NS_SRV" "$@"; }
e2e_cli() { ip netns exec "$E2E_NS_CLI" "$@"; }

# e2e_bg_srv CMD...: start in the server namespace in the background; sets E2E_LAST_PID.
e2e_bg_srv() {
    ip netns exec "$E2E_NS_SRV" "$@" &
    E2E_LAST_PID=$!
    E2E_PIDS+=("$E2E_LAST_PID")
}

# e2e_wait_port HOST PORT [TRIES]: wait until a TCP port accepts connections (from the client ns).
e2e_wait_port() {
    local i
    for i in $(seq 1 "${3:-100}"); do
        if e2e_cli python3 -c "import socket,sys; socket.create_connection(('$1', $2), 0.2).close()" 2> /dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

e2e_pass() { E2E_PASSED=$((E2E_PASSED + 1)); echo "ok   - $*"; }
e2e_fail() { E2E_FAILED=$((E2E_FAILED + 1)); echo "FAIL - $*"; }

# e2e_check NAME CMD...: pass if CMD succeeds.
e2e_check() {
    local name="$1"; shift
    if "$@"; then e2e_pass "$name"; else e2e_fail "$name"; fi
}

e2e_summary() {
    echo "$E2E_PASSED passed, $E2E_FAILED failed"
    [ "$E2E_FAILED" = 0 ] && [ "$E2E_PASSED" -gt 0 ]
}
