//! One foreign flow's arrivals: when it was first and last heard from, and its pace, so that
//! a flow of any origin (a switch-side tester, TRex, dpdk-testpmd) shows its own outage when a
//! LAG member fails and only the flows hashed to it stop. A foreign flow has no sequence
//! numbers: its pace is what marks a silence, and its rate times the silence is what it lost.
//!
//! Frames of one receive burst share a timestamp, so the pace is kept per *arrival instant*
//! (a burst that held the flow's frames): a flow that arrives in clumps (a generator's tx
//! bursts) then has a long interval and many frames per instant, not a silence after every
//! clump. The pace is measured over windows of [`WINDOW`] instants (ticks and frames over the
//! window: a subtraction each, no division), so a frame that starts an instant costs a compare
//! and a count, and one that does not costs a compare. A silence ends the window and folds
//! into the pace at once, so a flow that slows down is judged by its new pace from its next
//! frame on.

/// A silence is an outage when it is over this many of the flow's mean intervals (the same
/// rule as for vflag-dp's own flows) and over `--gap-ms`.
pub const K: u64 = 10;
/// Instants per window of pace; a flow's first window is its settling time (a flow heard
/// only a few times is not steady, and is not judged).
pub const WINDOW: u16 = 16;

/// A flow's arrival history. 40 bytes; lives in a slot of the flow table beside the flow's
/// key and frame count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrivals {
    /// TSC of the first frame.
    pub first: u64,
    /// TSC of the latest arrival instant.
    pub last: u64,
    /// TSC when the current window began.
    window_start: u64,
    /// Ticks of the last window (a mean interval x [`WINDOW`]); `u32::MAX` until one closed.
    window_ticks: u32,
    /// Frames of the last window (a mean per instant x [`WINDOW`]).
    window_frames: u32,
    /// The flow's frame count (low 32 bits) when the current window began.
    window_packets: u32,
    /// Instants in the current window.
    instants: u16,
}

impl Default for Arrivals {
    fn default() -> Self {
        Arrivals {
            first: 0,
            last: 0,
            window_start: 0,
            window_ticks: u32::MAX,
            window_frames: 0,
            window_packets: 0,
            instants: 0,
        }
    }
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

const WINDOW_U64: u64 = WINDOW as u64;

impl Arrivals {
    /// A frame of this flow at `now` (TSC, never earlier than the last frame's on one lcore);
    /// `packets`: the flow's frames so far, this one included. Returns the silence it ended,
    /// if the flow was steady and the silence is an outage.
    #[inline(always)]
    pub fn on_frame(&mut self, now: u64, packets: u64, gap_tsc: u64) -> Option<Silence> {
        if packets == 1 {
            self.start(now, packets);
            return None;
        }
        if now == self.last {
            return None;
        }
        let dt = now - self.last;
        // Over --gap-ms and over K mean intervals (K x ticks / WINDOW); u32::MAX ticks, before
        // the first window closed, is beyond any silence.
        let limit = gap_tsc.max(K * u64::from(self.window_ticks) / WINDOW_U64);
        if dt > limit {
            return Some(self.silence(now, packets, dt));
        }
        self.last = now;
        self.instants += 1;
        if self.instants == WINDOW {
            self.close_window(now, packets);
        }
        None
    }

    #[cold]
    fn start(&mut self, now: u64, packets: u64) {
        *self = Arrivals {
            first: now,
            last: now,
            window_start: now,
            window_packets: packets as u32,
            ..Arrivals::default()
        };
    }

    #[inline(never)]
    fn close_window(&mut self, now: u64, packets: u64) {
        self.window_ticks = u32::try_from(now - self.window_start).unwrap_or(u32::MAX - 1);
        self.window_frames = (packets as u32).wrapping_sub(self.window_packets);
        self.window_start = now;
        self.window_packets = packets as u32;
        self.instants = 0;
    }

    /// The silence as found, and the pace folded with it (weight 1/8): a flow that slowed
    /// down is not one silence after another. A new window starts here.
    #[cold]
    #[inline(never)]
    fn silence(&mut self, now: u64, packets: u64, dt: u64) -> Silence {
        let ticks = f64::from(self.window_ticks);
        let missed_instants = dt as f64 * WINDOW_U64 as f64 / ticks - 1.0;
        let per_instant = f64::from(self.window_frames) / WINDOW_U64 as f64;
        let s = Silence {
            start_tsc: self.last,
            end_tsc: now,
            lost_est: (missed_instants * per_instant).max(0.0) as u64,
            rate_per_tick: self.rate_per_tick(),
        };
        let folded = u64::from(self.window_ticks) / 8 * 7 + dt * WINDOW_U64 / 8;
        self.window_ticks = u32::try_from(folded).unwrap_or(u32::MAX - 1);
        self.last = now;
        self.window_start = now;
        self.window_packets = packets as u32;
        self.instants = 0;
        s
    }

    /// Frames per tick at the flow's recent pace (0 until a window closed).
    pub fn rate_per_tick(&self) -> f64 {
        match self.window_ticks {
            0 | u32::MAX => 0.0,
            t => f64::from(self.window_frames) / f64::from(t),
        }
    }

    /// Mean ticks between arrival instants (None until a window closed).
    pub fn interval(&self) -> Option<u64> {
        (self.window_ticks != u32::MAX).then(|| u64::from(self.window_ticks) / WINDOW_U64)
    }

    /// The same flow as seen by another lcore (end of run): the span of both, the pace of the
    /// one that measured one.
    pub fn merge(&mut self, o: &Arrivals) {
        if o.first == 0 && o.last == 0 {
            return;
        }
        if self.first == 0 && self.last == 0 {
            *self = *o;
            return;
        }
        let (first, last) = (self.first.min(o.first), self.last.max(o.last));
        if self.interval().is_none() {
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

    /// A flow's arrivals and its frame count, as the flow table keeps them.
    #[derive(Default)]
    struct Flow {
        a: Arrivals,
        packets: u64,
    }

    impl Flow {
        fn frame(&mut self, t: u64, gap: u64) -> Option<Silence> {
            self.packets += 1;
            self.a.on_frame(t, self.packets, gap)
        }
    }

    /// Feeds (time, frames) instants; returns the silences found.
    fn feed(f: &mut Flow, instants: impl IntoIterator<Item = (u64, u32)>) -> Vec<Silence> {
        let mut out = Vec::new();
        for (t, n) in instants {
            for _ in 0..n {
                out.extend(f.frame(t, GAP));
            }
        }
        out
    }

    #[test]
    fn a_steady_flow_has_no_silence_and_knows_its_rate() {
        let mut a = Flow::default();
        assert!(feed(&mut a, (1..=1000).map(|i| (i * 100, 1))).is_empty());
        assert_eq!((a.a.first, a.a.last), (100, 100_000));
        assert_eq!(a.a.interval(), Some(100));
        assert!((a.a.rate_per_tick() - 0.01).abs() < 1e-9);
    }

    #[test]
    fn a_steady_flow_that_stops_and_resumes_is_one_silence_with_its_loss() {
        let mut a = Flow::default();
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
        let mut a = Flow::default();
        feed(&mut a, (1..=50).map(|i| (i * 100, 1)));
        assert!(feed(&mut a, [(5_000 + 9_000, 1)]).is_empty());
        // Over --gap-ms but a slow flow: 8 intervals of 2_000.
        let mut b = Flow::default();
        feed(&mut b, (1..=50).map(|i| (i * 2_000, 1)));
        assert!(feed(&mut b, [(100_000 + 16_000, 1)]).is_empty());
    }

    #[test]
    fn a_flow_heard_a_few_times_is_not_judged() {
        let mut a = Flow::default();
        feed(&mut a, (1..=u64::from(WINDOW)).map(|i| (i * 100, 1)));
        assert!(feed(&mut a, [(1_000_000, 1)]).is_empty());
    }

    #[test]
    fn bursty_arrivals_are_paced_by_instant_not_by_frame() {
        // 32 frames in one receive burst every 5_000 ticks: 50% of --gap-ms between clumps, a
        // hundred times the per-frame interval, and no silence.
        let mut a = Flow::default();
        assert!(feed(&mut a, (1..=200).map(|i| (i * 5_000, 32))).is_empty());
        assert_eq!(a.a.interval(), Some(5_000));
        assert!((a.a.rate_per_tick() - 32.0 / 5_000.0).abs() < 1e-9);
        // A real stop still shows: 200_000 ticks is 40 clumps.
        let s = feed(&mut a, [(1_200_000, 32)]);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].lost_est, 39 * 32);
    }

    #[test]
    fn a_rate_change_is_followed() {
        let mut a = Flow::default();
        feed(&mut a, (1..=200).map(|i| (i * 100, 1)));
        // Twice as fast: never a silence, and the interval follows.
        assert!(feed(&mut a, (1..=200).map(|i| (20_000 + i * 50, 1))).is_empty());
        assert_eq!(a.a.interval(), Some(50));
        // 300 times slower (15_000 ticks between frames, over --gap-ms): the first long interval
        // is a silence, as it must be (nothing tells it from a stop), then the flow's new pace
        // is learnt and it is not one again.
        let s = feed(&mut a, (1..=100).map(|i| (30_000 + i * 15_000, 1)));
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!(s[0].start_tsc, 30_000);
    }

    #[test]
    fn merge_keeps_the_span_of_both_and_a_measured_pace() {
        let (mut a, mut b) = (Flow::default(), Flow::default());
        feed(&mut a, (1..=10).map(|i| (1_000 + i * 100, 1)));
        feed(&mut b, (1..=50).map(|i| (i * 10, 1)));
        let mut m = a.a;
        m.merge(&b.a);
        assert_eq!((m.first, m.last), (10, 2_000));
        assert_eq!(m.interval(), Some(10));
        let mut e = Arrivals::default();
        e.merge(&a.a);
        assert_eq!(e, a.a);
        m.merge(&Arrivals::default());
        assert_eq!((m.first, m.interval()), (10, Some(10)));
    }

    proptest! {
        /// A flow paced within a factor of two of its mean never shows a silence.
        #[test]
        fn jittered_steady_traffic_is_never_an_outage(
            base in 50u64..2_000,
            jitter in proptest::collection::vec(0u64..1000, 20..400),
            per in 1u32..40,
        ) {
            let mut a = Flow::default();
            let mut t = 1u64;
            for j in jitter {
                t += base / 2 + base * j / 1000;
                for _ in 0..per {
                    prop_assert!(a.frame(t, GAP.min(base * 5)).is_none());
                }
            }
        }

        /// A stop of a settled steady flow, long enough to be one, is found once, spanning the
        /// stop exactly, with a loss estimate within one instant of what it missed.
        #[test]
        fn a_stop_is_found_once_with_its_span(
            interval in 50u64..2_000,
            before in (2 * WINDOW as u64)..300,
            missed in 12u64..500,
            per in 1u32..8,
        ) {
            let mut a = Flow::default();
            let mut found = Vec::new();
            let times = (1..=before).chain(before + missed..before + missed + 50);
            for i in times {
                for _ in 0..per {
                    found.extend(a.frame(i * interval, interval * 5));
                }
            }
            prop_assert_eq!(found.len(), 1);
            prop_assert_eq!((found[0].start_tsc, found[0].end_tsc), (before * interval, (before + missed) * interval));
            let want = (missed - 1) * u64::from(per);
            prop_assert!(found[0].lost_est.abs_diff(want) <= u64::from(per), "{} vs {}", found[0].lost_est, want);
        }
    }
}
