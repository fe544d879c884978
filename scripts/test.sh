#!/usr/bin/env bash
# Runs every test: formatting, lints, that the fuzz targets build, unit/property/integration
# tests (including the Zeek/Suricata conformance test over ../shared/corpus), and the
# end-to-end scripts.
set -euo pipefail
cd "$(dirname "$0")/.."
export APITAP_REQUIRE_VALIDATOR=${APITAP_REQUIRE_VALIDATOR:-1}
echo "== cargo fmt"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== fuzz targets build"
# The fuzz crates (engine/, model/, collector/fuzz) are their own workspaces, run outside
# CI with cargo-fuzz on nightly; checked here on stable so an API change cannot leave a
# target that no longer compiles (engine/fuzz's hpack did, until 2026-12-06).
for d in engine/fuzz model/fuzz collector/fuzz; do
  CARGO_TARGET_DIR=target/fuzz-check cargo check --manifest-path "$d/Cargo.toml" --locked --bins
done
echo "== cargo test"
cargo build --workspace --locked
cargo_status=0
cargo test --workspace --locked --no-fail-fast 2>&1 | tee target/test-output.txt || cargo_status=$?
# The end-to-end scripts all test this one freshly built release binary.
cargo build --release --locked -p apitap
export APITAP="$PWD/target/release/apitap"
passed=0; failed=0
shopt -s nullglob
for t in e2e/*.sh; do
  case "$t" in e2e/lib.sh) continue ;; esac
  echo "== $t"
  if bash "$t"; then passed=$((passed+1)); else failed=$((failed+1)); echo "FAILED: $t"; fi
done
echo "e2e: $passed passed, $failed failed"
if [ "$cargo_status" -ne 0 ]; then echo "cargo test failed (exit $cargo_status)"; exit 1; fi
[ "$failed" -eq 0 ]
