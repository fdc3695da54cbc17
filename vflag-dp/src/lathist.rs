//! A latency histogram cheap enough for every frame: integer log-linear buckets over TSC ticks
//! (32 per power of two, under 3.2% relative error), no floating point and no allocation when
//! recording. At the end of a run it is converted to nanoseconds in an `hdrhistogram` for the
//! percentiles.
//!
//! The frames of a burst mostly fall in the same bucket, and a counter bumped by one frame after
//! another makes each wait for the previous store (measured on one machine: 42% of the tracked
//! frame's cost; within the noise on another). So each bucket has [`LANES`] counters, and the
//! caller spreads consecutive frames over them.

use hdrhistogram::Histogram;

const SUB_BITS: u32 = 5;
const SUB: usize = 1 << SUB_BITS;
const BUCKETS: usize = 64 * SUB;
/// Counters per bucket; a power of two.
const LANES: usize = 4;

/// Longer than this, a latency is not believed (see [`TickHist::to_ns`]).
const MAX_LATENCY_S: u64 = 10;

#[derive(Debug, Clone)]
pub struct TickHist {
    /// Lane-major: lane `l`'s counter of bucket `i` is at `l * BUCKETS + i`.
    counts: Box<[u64; LANES * BUCKETS]>,
}

impl Default for TickHist {
    fn default() -> Self {
        TickHist { counts: Box::new([0; LANES * BUCKETS]) }
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

/// The middle of bucket `i`, in ticks.
fn midpoint(i: usize) -> u64 {
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
        self.counts[at & (LANES * BUCKETS - 1)] += 1;
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Bucket `i`'s count, all lanes together.
    fn bucket(&self, i: usize) -> u64 {
        (0..LANES).map(|l| self.counts[l * BUCKETS + i]).sum()
    }

    pub fn clear(&mut self) {
        self.counts.fill(0);
    }

    pub fn add(&mut self, o: &TickHist) {
        for (a, b) in self.counts.iter_mut().zip(o.counts.iter()) {
            *a += b;
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
