#!/usr/bin/env bash
# Throughput on virtual devices (the earlier main job): installs what is needed, builds vflag-dp, and runs a
# tracked-traffic generator and the analysing receiver as two DPDK processes joined by a memif
# pair (the receiver plays the VF, with the seed's MAC as destination). Prints the receiver's
# per-second rates, tracked totals and final report with its verdict (no frame may be lost);
# JSON reports go to target/main-job/. PACKETS (default 100000000) sets the count. Exit code:
# the receiver's (0 pass, 3 a threshold failed).
#
# Both sides stop by count, not by time: DPDK 22.11's memif driver can crash a process that is
# still polling when its peer disconnects, so each side stops polling before the other leaves.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release -q -p vflag-dp
dp=target/release/vflag-dp
out=target/main-job
mkdir -p "$out"
packets=${PACKETS:-100000000}
sock=/tmp/vflag-main-job.sock
rm -f "$sock"

# Receiver ("the VF"): rxonly with analysis on lcore 1 until it has every packet (60 s at most).
"$dp" --lcores 0-1 --file-prefix vflag-rx -m 256 --vdev "net_memif0,role=server,socket=$sock" \
    --count "$packets" --duration 60 --max-loss 0 --json "$out/receiver.json" --events "$out/receiver.jsonl" &
rx=$!
sleep 1
# Generator: 64 tracked flows on lcore 0 towards the VF's MAC; sends exactly $packets
# (retrying, never dropping), then holds the link up until the receiver is done.
"$dp" --lcores 1,0 --file-prefix vflag-tx -m 256 --vdev "net_memif0,role=client,socket=$sock" \
    --fwd gen --flows 64 --dst-mac 52:54:00:00:00:01 --count "$packets" --duration 65 --stats-interval 0 \
    --json "$out/generator.json" >"$out/generator.log" 2>&1 &
tx=$!
status=0
wait "$rx" || status=$?
kill -INT "$tx" 2>/dev/null || true
wait "$tx" || true
echo
echo "generator: $(grep -A3 'Accumulated' "$out/generator.log" | grep TX-packets | xargs)"
echo "reports: $out/receiver.json $out/receiver.jsonl $out/generator.json"
exit "$status"
