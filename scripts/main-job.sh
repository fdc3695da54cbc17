#!/usr/bin/env bash
# The main job: a two-ended failover soak on the emulated VF-LAG lab. Installs what is needed,
# builds vflag, brings the lab up with its emulated VF (namespace "sw" as the switch, veth pairs
# p0/s0 and p1/s1 as the two links, vf0/vf0rep as the VF and its representor, the lab's model of
# the NIC's LAG hashing the VF's egress over the links), runs vflag-dp reflecting on the VF and
# vflag-dp generating and receiving in the switch namespace (on a DPDK bond), flaps the links in
# turn, prints the per-flap tables (both directions) and writes the JSON report and SVG plot to
# target/main-job/. The lab is taken down afterwards.
# Settings (environment): VF (1; 0 runs the bond-to-bond lab instead), BOND (xor on the VF,
# lacp without it; also active-backup), FLAPS (3), INTERVAL (8s), DOWN_MS (500).
# Exit code: the soak's (0 pass, 3 a threshold failed, 1 error).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release -q -p vflag-dp -p vflag-control
if [ "${VF:-1}" = 1 ]; then
    bond=${BOND:-xor}
    mode=(--vf --reflect)
else
    bond=${BOND:-lacp}
    mode=()
fi
limits=(--max-outage-ms 500)
# Shares only mean something where the bond spreads flows.
[ "$bond" = active-backup ] || limits+=(--min-member-share 30)
exec target/release/vflag-ctl soak --lab "${mode[@]}" --bond "$bond" --flaps "${FLAPS:-3}" \
    --interval "${INTERVAL:-8s}" --down-ms "${DOWN_MS:-500}" --flows 16 --rate 20000 "${limits[@]}" \
    --out target/main-job "$@"
