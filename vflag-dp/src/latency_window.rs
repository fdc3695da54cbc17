//! The latency of tracked frames between two `--events` samples: the difference of the lcores'
//! histograms since the previous sample, merged, in buckets coarse enough for a line of JSON
//! and exact enough to merge into any window (a reader adds the counts of equal values).
//!
//! Read by the monitor from the lcores' live counters ([`crate::lathist::Cells`]): nothing is
//! added to the hot path.

use crate::lathist::{self, Cells, BUCKETS, SUB_BITS};

/// Fine buckets per coarse one: 32 per power of two become 16, each under 1/16 of its value
/// wide, so a bucket's middle is within 3.2% of any latency in it.
const MERGE: usize = 2;
const COARSE: usize = BUCKETS / MERGE;

/// Longer than this, a latency is not believed: the ends do not share a clock (as in
/// [`lathist::TickHist::to_ns`]).
const MAX_LATENCY_S: u64 = 10;

/// One interval's latencies: the `latency` field of a `sample` event.
pub use vflag_contract::events::SampleLatency as Interval;

/// The monitor's memory of the lcores' histograms at the previous sample.
pub struct LatencyWindow {
    ns_per_tick: f64,
    /// Fine buckets from here on are not believed.
    believable: usize,
    /// Per lcore, each fine bucket's count (lanes summed) at the previous sample.
    prev: Vec<Vec<u64>>,
}

impl LatencyWindow {
    pub fn new(tsc_hz: u64) -> Self {
        let hz = tsc_hz.max(1);
        LatencyWindow {
            ns_per_tick: 1e9 / hz as f64,
            believable: lathist::bucket_of(hz.saturating_mul(MAX_LATENCY_S)).min(BUCKETS),
            prev: Vec::new(),
        }
    }

    /// What the lcores' histograms (in the same order every call) gained since the last call;
    /// None when no tracked frame arrived in between.
    pub fn interval(&mut self, lcores: &[&Cells]) -> Option<Interval> {
        self.prev.resize(lcores.len(), vec![0; BUCKETS]);
        let mut coarse = vec![0u64; COARSE];
        let mut implausible = 0;
        for (cells, prev) in lcores.iter().zip(self.prev.iter_mut()) {
            for (i, p) in prev.iter_mut().enumerate() {
                let now = lathist::bucket_sum(cells, i);
                let d = gained(*p, now);
                *p = now;
                if i < self.believable {
                    coarse[i / MERGE] += d;
                } else {
                    implausible += d;
                }
            }
        }
        self.summary(&coarse, implausible)
    }

    fn summary(&self, coarse: &[u64], implausible: u64) -> Option<Interval> {
        let frames: u64 = coarse.iter().sum();
        if frames == 0 && implausible == 0 {
            return None;
        }
        let hist: Vec<[u64; 2]> = coarse
            .iter()
            .enumerate()
            .filter(|(_, &n)| n > 0)
            .map(|(c, &n)| [((coarse_mid(c) as f64 * self.ns_per_tick).round() as u64).max(1), n])
            .collect();
        Some(Interval {
            frames,
            p50_ns: quantile(&hist, 0.5),
            p99_ns: quantile(&hist, 0.99),
            max_ns: hist.last().map(|b| b[0]),
            hist,
            implausible,
        })
    }
}

/// A counter's growth between two reads. It only shrinks when the lcore cleared it (the run it
/// tracks was re-elected, early in a run): then what it holds now is what came since.
fn gained(prev: u64, now: u64) -> u64 {
    if now >= prev {
        now - prev
    } else {
        now
    }
}

/// The middle of coarse bucket `c` in ticks: its fine buckets are one octave's, equally wide.
fn coarse_mid(c: usize) -> u64 {
    let first = c * MERGE;
    let width = if first < 2 << SUB_BITS { 1 } else { 1u64 << ((first >> SUB_BITS) - 1) };
    lathist::midpoint(first) - width / 2 + width * MERGE as u64 / 2
}

/// The value at quantile `q` of `[value, count]` pairs in ascending order: the smallest value
/// with at least `ceil(q * n)` frames at or below it.
pub fn quantile(hist: &[[u64; 2]], q: f64) -> Option<u64> {
    let n: u64 = hist.iter().map(|b| b[1]).sum();
    if n == 0 {
        return None;
    }
    let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
    let mut seen = 0;
    hist.iter()
        .find(|b| {
            seen += b[1];
            seen >= rank
        })
        .map(|b| b[0])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lathist::TickHist;

    #[test]
    fn coarse_buckets_hold_their_values() {
        // Every value lies in its coarse bucket, whose middle is within 1/32 of it.
        for v in (64..200_000u64).step_by(7).chain([1 << 30, 3 << 33]) {
            let c = lathist::bucket_of(v) / MERGE;
            let m = coarse_mid(c) as f64;
            assert!((m - v as f64).abs() / v as f64 <= 1.0 / 32.0 + 1e-12, "{v} -> {m}");
        }
        // Below 64 ticks the buckets are one tick wide: two make a coarse one.
        assert_eq!(coarse_mid(lathist::bucket_of(10) / MERGE), 11);
    }

    #[test]
    fn quantiles_by_hand() {
        let h = [[100, 50], [200, 49], [900, 1]];
        assert_eq!(quantile(&h, 0.5), Some(100));
        assert_eq!(quantile(&h, 0.51), Some(200));
        assert_eq!(quantile(&h, 0.99), Some(200));
        assert_eq!(quantile(&h, 0.995), Some(900));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn intervals_are_differences_merged_over_lcores() {
        // A 1 GHz clock: one tick per ns. 1024 ticks is a coarse bucket's low end (a power of
        // two), its middle 1056 (the coarse bucket is 64 ticks wide); 4096's middle is 4224.
        let (mut a, mut b) = (TickHist::default(), TickHist::default());
        let (ca, cb) = (a.shared(), b.shared());
        let mut w = LatencyWindow::new(1_000_000_000);
        assert_eq!(w.interval(&[&ca, &cb]), None, "nothing tracked yet");
        for lane in 0..30 {
            a.record(1024, lane);
        }
        for lane in 0..10 {
            b.record(4096, lane);
        }
        let first = w.interval(&[&ca, &cb]).expect("40 frames");
        assert_eq!(first.frames, 40);
        assert_eq!(first.hist, vec![[1056, 30], [4224, 10]]);
        assert_eq!((first.p50_ns, first.p99_ns, first.max_ns), (Some(1056), Some(4224), Some(4224)));
        // Only what came since: 5 more on one lcore.
        for lane in 0..5 {
            b.record(4096, lane);
        }
        let second = w.interval(&[&ca, &cb]).expect("5 frames");
        assert_eq!((second.frames, second.hist.clone()), (5, vec![[4224, 5]]));
        assert_eq!(second.p50_ns, Some(4224));
        assert_eq!(w.interval(&[&ca, &cb]), None, "nothing since");
        // A cleared histogram (a re-elected run) starts over: its new counts are new frames.
        a.clear();
        a.record(1024, 0);
        assert_eq!(w.interval(&[&ca, &cb]).map(|i| i.frames), Some(1));
    }

    #[test]
    fn implausible_latencies_are_counted_apart() {
        let mut h = TickHist::default();
        let cells = h.shared();
        let mut w = LatencyWindow::new(1_000_000_000);
        // Over 10 s, and stamped after arrival (wrapped).
        h.record(20_000_000_000, 0);
        h.record(0u64.wrapping_sub(5), 1);
        let i = w.interval(&[&cells]).expect("implausible frames are said");
        assert_eq!((i.frames, i.implausible, i.p50_ns), (0, 2, None));
        assert!(i.hist.is_empty());
        let json = serde_json::to_value(&i).unwrap();
        assert_eq!(json["implausible"], 2);
        h.record(500, 0);
        let json = serde_json::to_value(w.interval(&[&cells]).unwrap()).unwrap();
        assert!(json.get("implausible").is_none(), "left out when 0: {json}");
        assert_eq!(json["frames"], 1);
    }
}
