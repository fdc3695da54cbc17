#!/usr/bin/env bash
# The test command: installs what is needed (setup.sh), then runs every test of the workspace:
# unit tests, the safe DPDK API against a real EAL, and vflag-dp end to end on net_null, memif,
# af_packet over veth in a test-made namespace, and against dpdk-testpmd.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo test --workspace --release "$@"
