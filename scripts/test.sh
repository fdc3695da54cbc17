#!/usr/bin/env bash
# The test command: installs what is needed (setup.sh), then runs every test of the workspace:
# unit and property tests, the safe DPDK API against a real EAL, and vflag-dp end to end on
# net_null, memif, af_packet over veth in test-made namespaces, a DPDK bond, and against
# dpdk-testpmd. Ends with one summary line over all test binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# --all-targets: library, binary and integration tests. It skips doc tests, and the `dpdk`
# crate's are the compile-fail proofs that a queue handle cannot be shared, cloned or outlive
# its port: they run on their own.
cargo test --workspace --release --all-targets --no-fail-fast "$@" 2>&1 | tee "$log" || status=$?
cargo test --release --doc -p dpdk 2>&1 | tee -a "$log" || status=$?
source scripts/test-summary.sh
test_summary summary "$log"
exit "$status"
