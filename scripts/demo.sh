#!/usr/bin/env bash
# The main job on built-in sample data: installs what it needs (Debian, as root), builds
# apitap, prints the first HTTP exchanges found in the sample captures, learns an OpenAPI
# 3.1 spec from them, and prints the learned endpoint table.
#
# The samples (samples/*.pcap.gz) are real loopback captures of a mock payments API and a
# mock fleet-telemetry API (eval/specs/), driven by the evaluation kit's traffic driver.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo build --release -p apitap
bin=target/release/apitap
out=${OUT:-target/demo}
mkdir -p "$out"
echo "== the first exchanges found in samples/payments.pcap.gz"
"$bin" exchanges samples/payments.pcap.gz --no-progress | head -3 | jq -c '{ts, method, host, uri, status, latency_ms, response_body_len}'
echo
echo "== learning from samples/*.pcap.gz"
"$bin" learn samples/*.pcap.gz --format openapi-yaml -o "$out/openapi.yaml"
"$bin" learn samples/*.pcap.gz --format openapi-json -o "$out/openapi.json"
"$bin" learn samples/*.pcap.gz --format model -o "$out/model.json"
echo "wrote $out/openapi.yaml, $out/openapi.json and $out/model.json"
echo
echo "== learned endpoints"
jq -r '.paths | to_entries[] | .key as $p | .value | to_entries[] | select(.key|test("^(get|put|post|delete|patch|head|options)$")) | "\(.key|ascii_upcase)\t\($p)\t\(.value.responses|keys|join(","))"' "$out/openapi.json" | awk -F'\t' '{printf "%-8s %-48s %s\n", $1, $2, $3}'
