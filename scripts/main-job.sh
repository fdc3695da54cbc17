#!/usr/bin/env bash
# The main job: a failover soak on the emulated VF-LAG lab. Installs what is needed, builds
# vflag, brings the lab up (namespace "sw" as the switch, veth pairs p0/s0 and p1/s1 as the two
# links), runs the generator in the switch namespace and the receiver on the host, each on a
# DPDK 802.3ad bond, flaps the links in turn, prints the per-flap table and writes the JSON
# report and SVG plot to target/main-job/. The lab is taken down afterwards.
# Settings (environment): BOND (lacp, xor, active-backup), FLAPS (3), INTERVAL (8s),
# DOWN_MS (500). Exit code: the soak's (0 pass, 3 a threshold failed, 1 error).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release -q -p vflag-dp -p vflag-control
bond=${BOND:-lacp}
limits=(--max-outage-ms 500)
# Shares only mean something where the bond spreads flows.
[ "$bond" = active-backup ] || limits+=(--min-member-share 30)
exec target/release/vflag-ctl soak --lab --bond "$bond" --flaps "${FLAPS:-3}" --interval "${INTERVAL:-8s}" \
    --down-ms "${DOWN_MS:-500}" --flows 16 --rate 20000 "${limits[@]}" --out target/main-job
