#!/usr/bin/env bash
# Long soaks: memory and report size against the number of flaps. Runs the same lab soak (the
# emulated VF, two-ended: every watcher and both vflag-dp processes run) at FLAPS_SMALL (10)
# and FLAPS_LARGE (200) flaps, as fast as the schedule allows (--interval 1100ms --down-ms 100),
# samples the peak resident memory (VmHWM, /proc/PID/status) of vflag-ctl and of each vflag-dp
# while it runs, and prints, for each soak: each process's resident memory at every tenth of the
# flaps (the trajectory: flat once the bounds are reached), the peak of each process, the size of each report
# file, and then the growth per flap and per hour of soaking between the two, extrapolated to
# 1,000 flaps of the default schedule (8 s apart: 8,000 s) as if the growth went on (it does
# not past the bounds: vflag-dp's timeline at 2^16 bins, ~11 min at 10 ms; the soak's
# link-counter and latency series at ~55 min; see docs/performance.md). Figures are printed,
# not asserted.
# Needs root (the lab); one heavy job at a time: run it under `flock /tmp/vflag-heavy.lock`.
# Settings (environment): FLAPS_SMALL, FLAPS_LARGE, INTERVAL (1100ms), DOWN_MS (100),
# OUT (target/long-soak-bench), CTL (target/release/vflag-ctl).
set -euo pipefail
cd "$(dirname "$0")/.."
small=${FLAPS_SMALL:-10}
large=${FLAPS_LARGE:-200}
interval=${INTERVAL:-1100ms}
down=${DOWN_MS:-100}
out=${OUT:-target/long-soak-bench}
ctl=${CTL:-target/release/vflag-ctl}
[ -x "$ctl" ] || { echo "long-soak-bench: $ctl missing: cargo build --release -p vflag-dp -p vflag-control" >&2; exit 2; }
# A lab of its own names, so a lab someone else has up is not touched.
lab=(--ns lsb --host-links lsbh0,lsbh1 --switch-links lsbs0,lsbs1)

# VmHWM (the peak) and VmRSS (now) of a pid in kB (0 once it is gone).
hwm() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# The pids of the vflag-dp processes below a pid (receiver, and the generator under ip netns exec).
dp_below() {
    ps -e -o pid=,ppid=,comm= | awk -v root="$1" '
        { parent[$1] = $2; comm[$1] = $3 }
        END { for (p in comm) if (comm[p] == "vflag-dp") { q = p; while (q in parent && q != root && q > 1) q = parent[q]; if (q == root) print p } }'
}

# run FLAPS: one soak; prints "flaps ctl_kB rx_kB gen_kB seconds" on its last line.
run() {
    local n=$1 dir="$out/flaps-$1" pid ctl_peak=0 rx_peak=0 gen_peak=0 metrics=()
    rm -rf "$dir"
    # The live figures too, where this build has them (a build before them is measured as is).
    if "$ctl" soak --help | grep -q -- --metrics; then metrics=(--metrics "$dir/metrics.prom"); fi
    "$ctl" soak --lab --vf --bond xor --reflect --peer-cmd "ip netns exec lsb" "${lab[@]}" \
        --flaps "$n" --interval "$interval" --down-ms "$down" --flows 16 --rate 20000 \
        "${metrics[@]}" --out "$dir" >"$out/flaps-$n.log" 2>&1 &
    pid=$!
    local next_mark=$(( n / 10 )) done_now
    SECONDS=0
    # The receiver is the first vflag-dp started (the lower pid), the generator the second.
    while kill -0 "$pid" 2>/dev/null; do
        ctl_peak=$(( $(hwm "$pid") > ctl_peak ? $(hwm "$pid") : ctl_peak ))
        mapfile -t dps < <(dp_below "$pid" | sort -n)
        if [ "${#dps[@]}" -ge 1 ]; then v=$(hwm "${dps[0]}"); rx_peak=$(( v > rx_peak ? v : rx_peak )); fi
        if [ "${#dps[@]}" -ge 2 ]; then v=$(hwm "${dps[1]}"); gen_peak=$(( v > gen_peak ? v : gen_peak )); fi
        # The trajectory: resident memory now at each tenth of the flaps (flat once the bounds
        # are reached is the point; a peak alone cannot tell flat from still growing).
        done_now=$(awk '/^vflag_soak_flaps_done/ {print $2}' "$dir/metrics.prom" 2>/dev/null || true)
        if [ -n "$done_now" ] && [ "$n" -ge 10 ] && [ "$done_now" -ge "$next_mark" ] && [ "${#dps[@]}" -ge 2 ]; then
            printf '  at %4d flaps (%4d s): RSS vflag-ctl %6d kB, receiver %6d kB, far side %6d kB\n' \
                "$done_now" "$SECONDS" "$(rss "$pid")" "$(rss "${dps[0]}")" "$(rss "${dps[1]}")" >&2
            next_mark=$(( next_mark + n / 10 ))
        fi
        sleep 0.1
    done
    local rc=0
    wait "$pid" || rc=$?
    # vflag-ctl's peak after its report (when the file says it): sampling can miss the end.
    local said
    said=$(awk '/^vflag_soak_ctl_peak_rss_bytes/ {printf "%d", $2 / 1024}' "$dir/metrics.prom" 2>/dev/null)
    [ -n "$said" ] && [ "$said" -gt "$ctl_peak" ] && ctl_peak=$said
    # Per hour of soaking: the receiver's own run time.
    local secs
    secs=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["duration_s"])' "$dir/rx.json" 2>/dev/null || echo 0)
    echo "soak of $n flaps: exit $rc, $(printf '%.0f' "$secs") s of traffic; peak RSS (VmHWM): vflag-ctl ${ctl_peak} kB, receiver vflag-dp ${rx_peak} kB, far-side vflag-dp ${gen_peak} kB" >&2
    for f in soak.json soak.md soak.svg rx.json gen.json rx-events.jsonl links.jsonl nic.jsonl metrics.prom; do
        [ -f "$dir/$f" ] && printf '  %-13s %10d bytes\n' "$f" "$(stat -c %s "$dir/$f")" >&2
    done
    echo "$n $ctl_peak $rx_peak $gen_peak $secs"
}

mkdir -p "$out"
read -r n1 c1 r1 g1 s1 < <(run "$small" | tail -1)
read -r n2 c2 r2 g2 s2 < <(run "$large" | tail -1)
size() { stat -c %s "$out/flaps-$1/$2" 2>/dev/null || echo 0; }
echo
echo "growth from $n1 to $n2 flaps ($(printf '%.0f' "$s1") s to $(printf '%.0f' "$s2") s of soak):"
for p in "vflag-ctl $c1 $c2" "receiver $r1 $r2" "far-side $g1 $g2"; do
    set -- $p
    awk -v name="$1" -v a="$2" -v b="$3" -v n1="$n1" -v n2="$n2" -v s1="$s1" -v s2="$s2" 'BEGIN {
        per_flap = (b - a) / (n2 - n1); per_hour = (b - a) / (s2 - s1) * 3600
        printf "  %-10s peak %6d -> %6d kB: %+.1f kB per flap, %+.0f kB per hour; 1,000 flaps of 8 s if linear: ~%.0f kB\n",
            name, a, b, per_flap, per_hour, a + per_hour * 8000 / 3600 }'
done
for f in soak.json soak.md soak.svg rx.json rx-events.jsonl links.jsonl nic.jsonl; do
    awk -v f="$f" -v a="$(size "$n1" "$f")" -v b="$(size "$n2" "$f")" -v n1="$n1" -v n2="$n2" -v s1="$s1" -v s2="$s2" 'BEGIN {
        printf "  %-13s %9d -> %9d bytes: %+.0f bytes per flap, %+.1f MB per hour\n",
            f, a, b, (b - a) / (n2 - n1), (b - a) / (s2 - s1) * 3600 / 1e6 }'
done
