//! A latency histogram cheap enough for every frame: integer log-linear buckets over TSC ticks
//! (32 per power of two, under 3.2% relative error), no floating point and no allocation when
//! recording. At the end of a run it is converted to nanoseconds in an `hdrhistogram` for the
//! percentiles.
//!
//! The frames of a burst mostly fall in the same bucket, and a counter bumped by one frame after
//! another makes each wait for the previous store (measured on one machine: 42% of the tracked
//! frame's cost; within the noise on another). So each bucket has [`LANES`] counters, and the
//! caller spreads consecutive frames over them.
//!
//! The counters are relaxed atomics with one writer (the lcore): a load and a store, the same
//! instructions as a plain increment on x86, so the monitor can read them while the run goes
//! on ([`TickHist::shared`], [`Cells`]) at no cost to the frame.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use hdrhistogram::Histogram;

pub(crate) const SUB_BITS: u32 = 5;
const SUB: usize = 1 << SUB_BITS;
pub(crate) const BUCKETS: usize = 64 * SUB;
/// Counters per bucket; a power of two.
pub(crate) const LANES: usize = 4;
const CELLS: usize = LANES * BUCKETS;

/// Longer than this, a latency is not believed (see [`TickHist::to_ns`]).
const MAX_LATENCY_S: u64 = 10;

/// The counters, lane-major: lane `l`'s counter of bucket `i` is at `l * BUCKETS + i`.
pub type Cells = [AtomicU64; CELLS];

#[derive(Debug)]
pub struct TickHist {
    counts: Arc<Cells>,
}

impl Default for TickHist {
    fn default() -> Self {
        let cells: Arc<[AtomicU64]> = (0..CELLS).map(|_| AtomicU64::new(0)).collect();
        TickHist { counts: cells.try_into().expect("CELLS counters") }
    }
}

/// Bucket of `v`: with `shift` the bits below the top SUB_BITS + 1, `v >> shift` lies in
/// [SUB, 2 * SUB) and each shift owns SUB buckets; values under 2 * SUB are their own bucket
/// (shift 0). Branch-free: it runs for every tracked frame.
#[inline]
fn index(v: u64) -> usize {
    let shift = (63 - (v | SUB as u64).leading_zeros()) - SUB_BITS;
    ((shift as usize) << SUB_BITS) + (v >> shift) as usize
}

/// The bucket of a latency of `ticks` (for bounds such as [`TickHist::to_ns`]'s 10 s).
pub(crate) fn bucket_of(ticks: u64) -> usize {
    index(ticks)
}

/// The middle of bucket `i`, in ticks.
pub(crate) fn midpoint(i: usize) -> u64 {
    if i < SUB {
        return i as u64;
    }
    let shift = (i >> SUB_BITS) - 1;
    let low = ((SUB + (i & (SUB - 1))) as u64) << shift;
    low + (1u64 << shift) / 2
}

impl TickHist {
    /// Counts one latency on lane `lane % LANES`: frames recorded one after another on
    /// different lanes do not wait for each other.
    #[inline]
    pub fn record(&mut self, ticks: u64, lane: u64) {
        // index() is always below BUCKETS (a power of two): the mask only spares a bounds check.
        let at = (lane as usize % LANES) * BUCKETS + index(ticks);
        // One writer: load and store, not a locked read-modify-write.
        let c = &self.counts[at & (CELLS - 1)];
        c.store(c.load(Relaxed) + 1, Relaxed);
    }

    /// The counters, for a reader while this histogram is being written (the monitor).
    pub fn shared(&self) -> Arc<Cells> {
        Arc::clone(&self.counts)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Relaxed)).sum()
    }

    /// Bucket `i`'s count, all lanes together.
    fn bucket(&self, i: usize) -> u64 {
        bucket_sum(&self.counts, i)
    }

    pub fn clear(&mut self) {
        for c in self.counts.iter() {
            c.store(0, Relaxed);
        }
    }

    pub fn add(&mut self, o: &TickHist) {
        for (a, b) in self.counts.iter().zip(o.counts.iter()) {
            a.store(a.load(Relaxed) + b.load(Relaxed), Relaxed);
        }
    }

    /// The same distribution in nanoseconds, for percentiles. Latencies over 10 s (and frames
    /// stamped after they arrived, which wrap to huge values) mean the two ends do not share a
    /// clock: they are left out here rather than tested for on every frame.
    pub fn to_ns(&self, tsc_hz: u64) -> Histogram<u64> {
        let mut h = Histogram::<u64>::new_with_bounds(1, 1_000_000_000_000, 3).expect("histogram bounds");
        let ns_per_tick = 1e9 / tsc_hz.max(1) as f64;
        let shared_clock = index(tsc_hz.max(1).saturating_mul(MAX_LATENCY_S));
        for i in 0..shared_clock.min(BUCKETS) {
            let c = self.bucket(i);
            if c > 0 {
                let ns = ((midpoint(i) as f64 * ns_per_tick) as u64).max(1);
                h.saturating_record_n(ns, c);
            }
        }
        h
    }
}

/// Bucket `i`'s count in `cells`, all lanes together.
pub(crate) fn bucket_sum(cells: &Cells, i: usize) -> u64 {
    (0..LANES).map(|l| cells[l * BUCKETS + i].load(Relaxed)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_tight() {
        let mut last = 0;
        for v in (0..100_000u64).chain([1 << 40, u64::MAX / 3, u64::MAX]) {
            let i = index(v);
            assert!(i >= last, "index not monotonic at {v}");
            assert!(i < BUCKETS);
            last = i;
            if v > 0 {
                let m = midpoint(i) as f64;
                assert!((m - v as f64).abs() / v as f64 <= 1.0 / 32.0 + 1e-12, "{v} -> {m}");
            }
        }
        assert_eq!(index(31), 31);
        assert_eq!(midpoint(31), 31);
    }

    #[test]
    fn percentiles_in_nanoseconds() {
        let mut h = TickHist::default();
        // A 2 GHz clock: 2 ticks per ns. 90 frames at 1 us, 10 at 100 us, spread over all
        // lanes (and lane numbers past LANES): each bucket sums its lanes.
        for i in 0..90 {
            h.record(2_000, i * 7);
        }
        for i in 0..10 {
            h.record(200_000, i);
        }
        let ns = h.to_ns(2_000_000_000);
        assert_eq!(ns.len(), 100);
        let p50 = ns.value_at_quantile(0.5) as f64;
        let p99 = ns.value_at_quantile(0.99) as f64;
        assert!((p50 - 1_000.0).abs() / 1_000.0 < 0.035, "{p50}");
        assert!((p99 - 100_000.0).abs() / 100_000.0 < 0.035, "{p99}");
        // Over 10 s, or stamped after arrival (wrapped): recorded, but not believed.
        h.record(21_000_000_000, 1);
        h.record(0u64.wrapping_sub(300), u64::MAX);
        assert_eq!(h.to_ns(2_000_000_000).len(), 100);
        let mut other = TickHist::default();
        other.record(2_000, 3);
        h.add(&other);
        assert_eq!(h.len(), 103);
        assert_eq!(h.to_ns(2_000_000_000).count_between(900, 1_100), 91);
    }
}
