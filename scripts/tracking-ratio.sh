#!/usr/bin/env bash
# What the receiver's analysis costs: vflag-dp rxonly with analysis (default) against
# --no-track, alternating rounds, (1) fed by `gen` over a memif pair (two processes, one lcore
# each) and (2) on a net_null pair (frames never touched by the driver: the worst case).
# Prints the median Mpps of each and the ratio. Usage: scripts/tracking-ratio.sh [ROUNDS]
# (root, hugepages, a release build)
set -euo pipefail
rounds=${1:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
dp="$here/target/release/vflag-dp"
[ -x "$dp" ] || { echo "build first: cargo build --release" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print 0; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
mpps() { grep -o 'RX [0-9.]* Mpps' "$1" | tail -1 | awk '{print $2}'; }

memif_round() { # $1: extra receiver option
    local sock="$tmp/m.sock" n=30000000
    rm -f "$sock"
    "$dp" --lcores 0-1 --file-prefix tr-rx -m 256 --vdev "net_memif0,role=server,socket=$sock" \
        --count $n --duration 60 --stats-interval 0 $1 >"$tmp/rx.log" 2>&1 &
    local rx=$!
    sleep 1
    "$dp" --lcores 1,0 --file-prefix tr-tx -m 256 --vdev "net_memif0,role=client,socket=$sock" \
        --fwd gen --flows 16 --count $n --duration 65 --stats-interval 0 >/dev/null 2>&1 &
    local tx=$!
    wait $rx
    kill -INT $tx 2>/dev/null || true
    wait $tx || true
    mpps "$tmp/rx.log"
}

null_round() {
    "$dp" --lcores 0-1 --file-prefix tr-null -m 512 --vdev net_null0 --mbufs 16384 --duration 4 \
        --stats-interval 0 $1 >"$tmp/null.log" 2>&1
    mpps "$tmp/null.log"
}

printf '%-28s %12s %12s %7s\n' case tracked_Mpps plain_Mpps ratio
for case in memif null; do
    : >"$tmp/t"; : >"$tmp/p"
    for _ in $(seq "$rounds"); do
        "${case}_round" "" >>"$tmp/t"
        "${case}_round" --no-track >>"$tmp/p"
    done
    t=$(median <"$tmp/t"); p=$(median <"$tmp/p")
    echo "  rounds: tracked $(tr "\n" " " <"$tmp/t")/ plain $(tr "\n" " " <"$tmp/p")" >&2
    label=$([ "$case" = memif ] && echo "memif, gen 16 flows" || echo "net_null pair")
    printf '%-28s %12.3f %12.3f %7.3f\n' "$label" "$t" "$p" "$(awk -v a="$t" -v b="$p" 'BEGIN{print (b>0)?a/b:0}')"
done
