#!/usr/bin/env bash
# Real-world learning quality (issue 8): scores `apitap learn` on the committed captures of
# real servers driven by their real clients (eval/real/cases/*: Docker Engine + docker CLI,
# Kinto + kinto-http, Alertmanager + amtool, httpbin, Jupyter Server, PowerDNS, Synapse +
# matrix-nio, Prefect) against each
# project's published spec reduced to the traffic, with the per-case floors in
# eval/real/thresholds.tsv (a ratchet). No server is needed: regeneration is
# eval/real/generate.sh, outside CI. Prints ok/FAIL lines and `N passed, N failed`.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${APITAP:-}" ]; then  # always rebuild: never test a stale binary
  (cd "$ROOT" && cargo build -q -p apitap) || exit 1
  APITAP=$ROOT/target/debug/apitap
fi
export APITAP
OUT=$(mktemp -d /tmp/apitap-real-e2e.XXXXXX)
[ -n "${E2E_KEEP:-}" ] || trap 'rm -rf "$OUT"' EXIT
OUT=$OUT bash "$ROOT/eval/real/run.sh"
