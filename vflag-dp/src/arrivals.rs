//! One foreign flow's arrivals: when it was first and last heard from, and its pace, so that
//! a flow of any origin (a switch-side tester, TRex, dpdk-testpmd) shows its own outage when a
//! LAG member fails and only the flows hashed to it stop. A foreign flow has no sequence
//! numbers: its pace is what marks a silence, and its rate times the silence is what it lost.
//!
//! Frames of one receive burst share a timestamp, so the pace is kept per *arrival instant*
//! (a burst that held the flow's frames): the mean time between instants and the mean frames
//! per instant, both as exponentially weighted means (weight 1/8). A flow that arrives in
//! clumps (a generator's tx bursts) then has a long interval and many frames per instant, not
//! a silence after every clump; a flow that changes its rate is followed within a few instants.

/// A silence is an outage when it is over this many of the flow's mean intervals (the same
/// rule as for vflag-dp's own flows) and over `--gap-ms`.
pub const K: u64 = 10;
/// Instants seen before the flow's pace is trusted: a flow heard only a few times is not steady.
pub const SETTLED: u32 = 8;

/// A flow's arrival history. 36 bytes; lives in a slot of the flow table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Arrivals {
    /// TSC of the first frame.
    pub first: u64,
    /// TSC of the latest arrival instant.
    pub last: u64,
    /// Mean ticks between arrival instants x 16 (weighted; the fraction keeps the integer
    /// mean from settling a few ticks off).
    interval_x16: u64,
    /// Mean frames per instant x 16 (weighted).
    per_instant_x16: u32,
    /// Frames at `last` so far.
    this_instant: u32,
    /// Arrival instants so far (saturating).
    instants: u32,
}

/// A steady flow's silence, found when it resumed: from its last frame before to its first
/// after, and its pace before it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Silence {
    pub start_tsc: u64,
    pub end_tsc: u64,
    /// Frames it would have brought at its pace, less the one instant that ended it.
    pub lost_est: u64,
    /// Frames per tick before the silence.
    pub rate_per_tick: f64,
}

/// An exponentially weighted mean, weight 1/8, in integers.
#[inline(always)]
fn ewma(mean: u64, sample: u64) -> u64 {
    mean - (mean >> 3) + (sample >> 3)
}

impl Arrivals {
    /// A frame of this flow at `now` (TSC, never earlier than the last frame's on one lcore).
    /// Returns the silence it ended, if the flow was steady and the silence is an outage.
    #[inline(always)]
    pub fn on_frame(&mut self, now: u64, gap_tsc: u64) -> Option<Silence> {
        if now == self.last && self.instants > 0 {
            self.this_instant = self.this_instant.saturating_add(1);
            return None;
        }
        if self.instants == 0 {
            *self = Arrivals { first: now, last: now, this_instant: 1, instants: 1, ..Arrivals::default() };
            return None;
        }
        let dt = now.saturating_sub(self.last);
        let frames_x16 = u64::from(self.this_instant) * 16;
        let silence = if self.instants >= SETTLED
            && dt > gap_tsc
            && dt.saturating_mul(16) > self.interval_x16.saturating_mul(K)
        {
            Some(self.silence(now, dt))
        } else {
            None
        };
        let first_interval = self.instants == 1;
        let dt_x16 = dt.saturating_mul(16);
        self.interval_x16 = if first_interval { dt_x16 } else { ewma(self.interval_x16, dt_x16) };
        let per_instant = if first_interval { frames_x16 } else { ewma(u64::from(self.per_instant_x16), frames_x16) };
        self.per_instant_x16 = u32::try_from(per_instant).unwrap_or(u32::MAX);
        self.instants = self.instants.saturating_add(1);
        self.last = now;
        self.this_instant = 1;
        silence
    }

    #[cold]
    #[inline(never)]
    fn silence(&self, now: u64, dt: u64) -> Silence {
        let rate_per_tick = self.rate_per_tick();
        let missed_instants = dt as f64 * 16.0 / self.interval_x16.max(1) as f64 - 1.0;
        let per_instant = f64::from(self.per_instant_x16) / 16.0;
        Silence {
            start_tsc: self.last,
            end_tsc: now,
            lost_est: (missed_instants * per_instant).max(0.0) as u64,
            rate_per_tick,
        }
    }

    /// Frames per tick at the flow's recent pace (0 until it has two instants).
    pub fn rate_per_tick(&self) -> f64 {
        if self.instants < 2 || self.interval_x16 == 0 {
            return 0.0;
        }
        f64::from(self.per_instant_x16) / self.interval_x16 as f64
    }

    /// Mean ticks between arrival instants (None until it has two).
    pub fn interval(&self) -> Option<u64> {
        (self.instants >= 2).then_some(self.interval_x16 / 16)
    }

    /// The same flow as seen by another lcore (end of run): the span of both, the pace of the
    /// one that heard it more often.
    pub fn merge(&mut self, o: &Arrivals) {
        if o.instants == 0 {
            return;
        }
        if self.instants == 0 {
            *self = *o;
            return;
        }
        let (first, last) = (self.first.min(o.first), self.last.max(o.last));
        if o.instants > self.instants {
            *self = *o;
        }
        self.first = first;
        self.last = last;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const GAP: u64 = 10_000;

    /// Feeds (time, frames) instants; returns the silences found.
    fn feed(a: &mut Arrivals, instants: impl IntoIterator<Item = (u64, u32)>) -> Vec<Silence> {
        let mut out = Vec::new();
        for (t, n) in instants {
            for _ in 0..n {
                out.extend(a.on_frame(t, GAP));
            }
        }
        out
    }

    #[test]
    fn a_steady_flow_has_no_silence_and_knows_its_rate() {
        let mut a = Arrivals::default();
        assert!(feed(&mut a, (1..=1000).map(|i| (i * 100, 1))).is_empty());
        assert_eq!((a.first, a.last), (100, 100_000));
        assert_eq!(a.interval(), Some(100));
        assert!((a.rate_per_tick() - 0.01).abs() < 1e-9);
    }

    #[test]
    fn a_steady_flow_that_stops_and_resumes_is_one_silence_with_its_loss() {
        let mut a = Arrivals::default();
        feed(&mut a, (1..=100).map(|i| (i * 100, 2)));
        // Silent from 10_000 to 60_000: 499 instants of 2 frames missed.
        let s = feed(&mut a, [(60_000, 2), (60_100, 2)]);
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!((s[0].start_tsc, s[0].end_tsc), (10_000, 60_000));
        assert_eq!(s[0].lost_est, 998);
        assert!((s[0].rate_per_tick - 0.02).abs() < 1e-9);
    }

    #[test]
    fn a_silence_under_gap_or_under_k_intervals_is_not_an_outage() {
        // Under --gap-ms: 9_000 ticks, though 90 intervals.
        let mut a = Arrivals::default();
        feed(&mut a, (1..=50).map(|i| (i * 100, 1)));
        assert!(feed(&mut a, [(5_000 + 9_000, 1)]).is_empty());
        // Over --gap-ms but a slow flow: 8 intervals of 2_000.
        let mut b = Arrivals::default();
        feed(&mut b, (1..=50).map(|i| (i * 2_000, 1)));
        assert!(feed(&mut b, [(100_000 + 16_000, 1)]).is_empty());
    }

    #[test]
    fn a_flow_heard_a_few_times_is_not_judged() {
        let mut a = Arrivals::default();
        feed(&mut a, (1..u64::from(SETTLED)).map(|i| (i * 100, 1)));
        assert!(feed(&mut a, [(1_000_000, 1)]).is_empty());
    }

    #[test]
    fn bursty_arrivals_are_paced_by_instant_not_by_frame() {
        // 32 frames in one receive burst every 5_000 ticks: 50% of --gap-ms between clumps, a
        // hundred times the per-frame interval, and no silence.
        let mut a = Arrivals::default();
        assert!(feed(&mut a, (1..=200).map(|i| (i * 5_000, 32))).is_empty());
        assert_eq!(a.interval(), Some(5_000));
        assert!((a.rate_per_tick() - 32.0 / 5_000.0).abs() < 1e-9);
        // A real stop still shows: 200_000 ticks is 40 clumps.
        let s = feed(&mut a, [(1_200_000, 32)]);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].lost_est, 39 * 32);
    }

    #[test]
    fn a_rate_change_is_followed() {
        let mut a = Arrivals::default();
        feed(&mut a, (1..=200).map(|i| (i * 100, 1)));
        // Twice as fast: never a silence, and the interval follows.
        assert!(feed(&mut a, (1..=200).map(|i| (20_000 + i * 50, 1))).is_empty());
        assert!(a.interval().unwrap() <= 51, "{:?}", a.interval());
        // 300 times slower (15_000 ticks between frames, over --gap-ms): the first long interval
        // is a silence, as it must be (nothing tells it from a stop), then the flow's new pace
        // is learnt and it is not one again.
        let s = feed(&mut a, (1..=100).map(|i| (30_000 + i * 15_000, 1)));
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!(s[0].start_tsc, 30_000);
    }

    #[test]
    fn merge_keeps_the_span_of_both_and_the_busier_pace() {
        let (mut a, mut b) = (Arrivals::default(), Arrivals::default());
        feed(&mut a, (1..=10).map(|i| (1_000 + i * 100, 1)));
        feed(&mut b, (1..=50).map(|i| (i * 10, 1)));
        let mut m = a;
        m.merge(&b);
        assert_eq!((m.first, m.last), (10, 2_000));
        assert_eq!(m.interval(), Some(10));
        let mut e = Arrivals::default();
        e.merge(&a);
        assert_eq!(e, a);
        a.merge(&Arrivals::default());
        assert_eq!(m.interval(), Some(10));
    }

    proptest! {
        /// A flow paced within a factor of two of its mean never shows a silence.
        #[test]
        fn jittered_steady_traffic_is_never_an_outage(
            base in 50u64..2_000,
            jitter in proptest::collection::vec(0u64..1000, 20..400),
            per in 1u32..40,
        ) {
            let mut a = Arrivals::default();
            let mut t = 1u64;
            for j in jitter {
                t += base / 2 + base * j / 1000;
                for _ in 0..per {
                    prop_assert!(a.on_frame(t, GAP.min(base * 5)).is_none());
                }
            }
        }

        /// A stop of a settled steady flow, long enough to be one, is found once, spanning the
        /// stop exactly, with a loss estimate within one instant of what it missed.
        #[test]
        fn a_stop_is_found_once_with_its_span(
            interval in 50u64..2_000,
            before in (SETTLED as u64 + 8)..300,
            missed in 12u64..500,
            per in 1u32..8,
        ) {
            let mut a = Arrivals::default();
            let mut found = Vec::new();
            let times = (1..=before).chain(before + missed..before + missed + 50);
            for i in times {
                for _ in 0..per {
                    found.extend(a.on_frame(i * interval, interval * 5));
                }
            }
            prop_assert_eq!(found.len(), 1);
            prop_assert_eq!((found[0].start_tsc, found[0].end_tsc), (before * interval, (before + missed) * interval));
            let want = (missed - 1) * u64::from(per);
            prop_assert!(found[0].lost_est.abs_diff(want) <= u64::from(per), "{} vs {}", found[0].lost_est, want);
        }
    }
}
