#!/usr/bin/env bash
# vflag-dp next to dpdk-testpmd on the same net_null vdevs, same lcores, same burst, descriptors
# and mbuf count, in one run, alternating rounds. Prints Mpps per port (median of the periodic
# rates after a warm-up period, both computed from port stats over 1 s windows) and the ratio.
# Usage: scripts/vs-testpmd.sh [SECONDS_PER_ROUND] [ROUNDS]   (root, hugepages, a release build)
set -euo pipefail
secs=${1:-6}
rounds=${2:-2}
here=$(cd "$(dirname "$0")/.." && pwd)
dp="$here/target/release/vflag-dp"
[ -x "$dp" ] || { echo "build first: cargo build --release" >&2; exit 1; }
eal=(-m 512 --vdev net_null0 --vdev net_null1)
common_mbufs=16384
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Median of the numbers on stdin.
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print 0; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

run_testpmd() { # mode -> per-port Mpps of the mode's direction, one value per 1 s sample after warm-up
    local mode=$1 field=Rx-pps
    [ "$mode" = txonly ] && field=Tx-pps
    timeout -s INT "$secs" dpdk-testpmd -l 0,1 --file-prefix vs-tp --no-pci "${eal[@]}" -- \
        --forward-mode="$mode" --total-num-mbufs=$common_mbufs --burst=32 --rxd=1024 --txd=1024 \
        --stats-period 1 >"$tmp/tp.log" 2>&1 </dev/null || true
    grep -o "$field: *[0-9]*" "$tmp/tp.log" | awk '{print $2/1e6}' | tail -n +5
}

run_vflag() {
    local mode=$1 col=1
    [ "$mode" = txonly ] && col=2
    # --no-track: testpmd's rxonly only counts; vflag-dp's analysis is measured by tracking-ratio.sh.
    "$dp" --lcores 0-1 --file-prefix vs-dp "${eal[@]}" --fwd "$mode" --no-track --mbufs $common_mbufs --burst 32 \
        --rxd 1024 --txd 1024 --duration "$secs" >"$tmp/dp.log" 2>&1 </dev/null || { cat "$tmp/dp.log" >&2; exit 1; }
    grep -E '^\[ *[0-9.]+s\] port' "$tmp/dp.log" |
        sed -E 's/.* rx +([0-9.]+) Mpps.*\| tx +([0-9.]+) Mpps.*/\1 \2/' | awk -v c=$col '{print $c}' | tail -n +5
}

printf '%-8s %14s %14s %7s\n' mode testpmd_Mpps vflag_Mpps ratio
for mode in rxonly io txonly; do
    : >"$tmp/tp.all"; : >"$tmp/dp.all"
    for _ in $(seq "$rounds"); do
        run_testpmd "$mode" >>"$tmp/tp.all"
        run_vflag "$mode" >>"$tmp/dp.all"
    done
    tp=$(median <"$tmp/tp.all"); dp_rate=$(median <"$tmp/dp.all")
    ratio=$(awk -v a="$dp_rate" -v b="$tp" 'BEGIN {if (b>0) printf "%.3f", a/b; else print "n/a"}')
    printf '%-8s %14.3f %14.3f %7s\n' "$mode" "$tp" "$dp_rate" "$ratio"
done
