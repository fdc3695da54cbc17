//! Per-flow sequence tracking: received, lost (sequence gaps), reordered (late arrivals that fill
//! a gap), duplicated and stale (too old to tell). A lost frame that arrives late stops being
//! lost and counts as reordered, so no frame is counted twice. Fixed size, no allocation.
//!
//! One frame cannot poison a flow: a sequence number far beyond what the flow can have sent
//! since (the caller's bound, from the flow's rate), or far behind the window, is set aside as
//! stale. Only if the next frame continues from it does the flow resync there (a restarted or
//! another sender), counted in `resyncs` and without any loss for the jump. A frame its stamp
//! says was sent before the flow's newest never starts a resync: that is an old frame let out
//! late (a downed link's transmit ring flushed seconds later), and resyncing to it would count
//! everything since as lost when the flow's own sequence carries on.

/// How many recent sequence numbers a flow remembers, to tell late frames from duplicates.
pub const WINDOW: u64 = 1024;
const WORDS: usize = (WINDOW / 64) as usize;
/// `next` before the first frame: no 48-bit sequence number equals it, so the in-order test
/// alone also says the flow has started.
const NOT_STARTED: u64 = u64::MAX;

/// Hot fields first: the in-order path reads only `next` and `missing` and bumps `received`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[repr(C)]
pub struct FlowSeq {
    /// The next sequence number expected.
    next: u64,
    /// How many bits of `gone` are set: while 0 (no loss in the window), an in-order frame
    /// needs no bitmap work.
    missing: u64,
    pub received: u64,
    /// The first sequence number seen: anything older was sent before we listened.
    first: u64,
    pub lost: u64,
    pub reordered: u64,
    pub duplicates: u64,
    pub stale: u64,
    /// Times the flow restarted its sequence at a frame that could not be placed.
    pub resyncs: u64,
    /// The last frame set aside as stale: a resync if the next one follows it.
    candidate: u64,
    /// Bit `s % WINDOW` is set when `s` (within `[next - WINDOW, next)`) was skipped and has not
    /// arrived since.
    gone: [u64; WORDS],
}

impl Default for FlowSeq {
    fn default() -> Self {
        FlowSeq {
            next: NOT_STARTED,
            missing: 0,
            received: 0,
            first: 0,
            lost: 0,
            reordered: 0,
            duplicates: 0,
            stale: 0,
            resyncs: 0,
            candidate: NOT_STARTED,
            gone: [0; WORDS],
        }
    }
}

/// What one frame did to its flow's counters (the caller keeps per-lcore totals from it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SeqEffect {
    pub new_lost: u64,
    pub late: bool,
    pub duplicate: bool,
    pub stale: bool,
    /// The flow restarted its sequence at this frame's predecessor.
    pub resync: bool,
}

impl FlowSeq {
    pub fn started(&self) -> bool {
        self.next != NOT_STARTED
    }

    /// The in-order frame with no loss in the window (the common case), taken if `s` is one.
    #[inline(always)]
    pub fn try_in_order(&mut self, s: u64) -> bool {
        if s == self.next && self.missing == 0 {
            self.next = s + 1;
            self.received += 1;
            true
        } else {
            false
        }
    }

    #[inline]
    fn gone_bit(&self, s: u64) -> bool {
        let i = (s % WINDOW) as usize;
        self.gone[i / 64] & (1 << (i % 64)) != 0
    }

    /// Sets or clears the slot of `s`, keeping `missing` in step.
    #[inline]
    fn set_gone(&mut self, s: u64, on: bool) {
        let i = (s % WINDOW) as usize;
        let (w, bit) = (i / 64, 1u64 << (i % 64));
        let was = self.gone[w] & bit != 0;
        if on && !was {
            self.gone[w] |= bit;
            self.missing += 1;
        } else if !on && was {
            self.gone[w] &= !bit;
            self.missing -= 1;
        }
    }

    /// Frames from the first one seen to the highest: what the sender sent meanwhile.
    pub fn span(&self) -> u64 {
        if self.started() {
            self.next - self.first
        } else {
            0
        }
    }

    /// Accounts for frame `s` of this flow, with no bound on how far it may jump (tests).
    #[cfg(test)]
    pub fn observe(&mut self, s: u64) -> SeqEffect {
        self.observe_within(s, u64::MAX, false)
    }

    /// Accounts for frame `s` of this flow; a jump ahead of more than `max_jump` frames is
    /// not believed unless the next frame confirms it. `sent_earlier`: the frame was sent
    /// before the newest one the flow has placed, so it cannot be a restarted sender's.
    #[inline]
    pub fn observe_within(&mut self, s: u64, max_jump: u64, sent_earlier: bool) -> SeqEffect {
        if self.try_in_order(s) {
            return SeqEffect::default();
        }
        self.observe_other(s, max_jump, sent_earlier)
    }

    /// Everything but the clean in-order frame: first frames, gaps, late frames, duplicates,
    /// frames that cannot be placed.
    #[inline(never)]
    fn observe_other(&mut self, s: u64, max_jump: u64, sent_earlier: bool) -> SeqEffect {
        if !self.started() {
            // Frames before the first one seen were sent before we listened: not lost.
            self.first = s;
            self.next = s + 1;
            self.received = 1;
            return SeqEffect::default();
        }
        let placeable =
            if s >= self.next { s - self.next <= max_jump } else { self.next - s <= WINDOW && s >= self.first };
        if !placeable {
            return self.set_aside(s, sent_earlier);
        }
        self.candidate = NOT_STARTED;
        if s >= self.next {
            let gap = s - self.next;
            // The slots from `next` to `s` now stand for the skipped frames; `s`'s own slot
            // drops whatever older frame it stood for.
            if gap >= WINDOW {
                self.gone = [u64::MAX; WORDS];
                self.missing = WINDOW;
            } else {
                for m in self.next..s {
                    self.set_gone(m, true);
                }
            }
            self.set_gone(s, false);
            self.next = s + 1;
            self.received += 1;
            self.lost += gap;
            return SeqEffect { new_lost: gap, ..Default::default() };
        }
        if !self.gone_bit(s) {
            self.duplicates += 1;
            return SeqEffect { duplicate: true, ..Default::default() };
        }
        self.set_gone(s, false);
        self.received += 1;
        self.reordered += 1;
        self.lost -= 1;
        SeqEffect { late: true, ..Default::default() }
    }

    /// A frame that cannot be placed: stale, unless it follows the previous such frame, in
    /// which case the flow starts again from that one (and both count as received). An old
    /// frame (`sent_earlier`) is stale and leaves no candidate behind.
    fn set_aside(&mut self, s: u64, sent_earlier: bool) -> SeqEffect {
        if sent_earlier {
            self.candidate = NOT_STARTED;
            self.stale += 1;
            return SeqEffect { stale: true, ..Default::default() };
        }
        if self.candidate != NOT_STARTED && s == self.candidate + 1 {
            self.first = self.candidate;
            self.next = s + 1;
            self.gone = [0; WORDS];
            self.missing = 0;
            self.stale -= 1;
            self.received += 2;
            self.resyncs += 1;
            self.candidate = NOT_STARTED;
            return SeqEffect { resync: true, ..Default::default() };
        }
        self.candidate = s;
        self.stale += 1;
        SeqEffect { stale: true, ..Default::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(seqs: &[u64]) -> FlowSeq {
        let mut f = FlowSeq::default();
        for &s in seqs {
            f.observe(s);
        }
        f
    }

    #[test]
    fn in_order_is_clean() {
        let f = run(&(0..5000).collect::<Vec<_>>());
        assert_eq!((f.received, f.lost, f.reordered, f.duplicates, f.stale), (5000, 0, 0, 0, 0));
    }

    #[test]
    fn first_frame_sets_the_baseline() {
        let f = run(&[100, 101, 102]);
        assert_eq!((f.received, f.lost), (3, 0));
    }

    #[test]
    fn gaps_are_lost() {
        let f = run(&[0, 1, 2, 10, 11]);
        assert_eq!((f.received, f.lost), (5, 7));
    }

    #[test]
    fn a_late_frame_fills_its_gap_once() {
        let mut f = FlowSeq::default();
        for s in [0, 1, 3] {
            f.observe(s);
        }
        assert_eq!(f.lost, 1);
        assert_eq!(f.observe(2), SeqEffect { late: true, ..Default::default() });
        assert_eq!((f.received, f.lost, f.reordered), (4, 0, 1));
        // The same frame again is a duplicate, not a second late arrival.
        assert!(f.observe(2).duplicate);
        assert_eq!((f.lost, f.reordered, f.duplicates), (0, 1, 1));
    }

    #[test]
    fn duplicates_of_the_latest_frame() {
        let f = run(&[0, 1, 1, 1, 2]);
        assert_eq!((f.received, f.duplicates, f.lost), (3, 2, 0));
    }

    #[test]
    fn older_than_the_window_is_stale() {
        let mut seqs: Vec<u64> = (0..3000).collect();
        seqs.push(10); // 2990 behind
        let f = run(&seqs);
        assert_eq!((f.stale, f.duplicates, f.reordered), (1, 0, 0));
    }

    #[test]
    fn window_slots_are_reused_correctly_across_wraps() {
        // Lose s = WINDOW+5, then let the window wrap several times: the old slot of the lost
        // frame must not make a new frame look like a duplicate.
        let mut f = FlowSeq::default();
        for s in 0..WINDOW + 5 {
            f.observe(s);
        }
        for s in WINDOW + 6..4 * WINDOW {
            f.observe(s);
        }
        assert_eq!(f.lost, 1);
        assert!(!f.observe(4 * WINDOW).duplicate);
        // The lost frame arrives, but far too late to tell: stale, still lost.
        f.observe(WINDOW + 5);
        assert_eq!((f.lost, f.stale, f.duplicates), (1, 1, 0));
    }

    #[test]
    fn a_gap_wider_than_the_window() {
        let mut f = run(&[0, 1, 5000, 5001]);
        assert_eq!(f.lost, 4998);
        // A frame inside the gap but within the window after it is late, not a duplicate.
        assert!(f.observe(4990).late);
        assert_eq!(f.lost, 4997);
    }

    #[test]
    fn frames_older_than_the_first_seen_are_stale_not_late() {
        let f = run(&[170, 0, 171]);
        assert_eq!((f.received, f.lost, f.reordered, f.stale), (2, 0, 0, 1));
    }

    #[test]
    fn one_frame_far_ahead_is_stale_and_does_not_poison_the_flow() {
        let mut f = FlowSeq::default();
        for s in 0..100 {
            f.observe_within(s, 2000, false);
        }
        assert!(f.observe_within((1 << 48) - 1, 2000, false).stale);
        for s in 100..200 {
            f.observe_within(s, 2000, false);
        }
        assert_eq!((f.received, f.lost, f.stale, f.resyncs), (200, 0, 1, 0));
        // A real gap within the bound is loss as before.
        f.observe_within(1500, 2000, false);
        assert_eq!(f.lost, 1300);
    }

    #[test]
    fn a_forged_first_frame_is_left_behind_by_the_real_sequence() {
        let mut f = FlowSeq::default();
        f.observe_within((1 << 48) - 1, 2000, false);
        assert!(f.observe_within(0, 2000, false).stale, "behind the first frame seen");
        assert!(f.observe_within(1, 2000, false).resync, "the next frame follows it: the flow restarts at 0");
        for s in 2..50 {
            f.observe_within(s, 2000, false);
        }
        assert_eq!((f.received, f.lost, f.stale, f.resyncs), (51, 0, 0, 1));
        assert_eq!(f.span(), 50);
    }

    #[test]
    fn a_restarted_sender_resyncs_once_without_loss() {
        let mut f = FlowSeq::default();
        for s in 5000..9000 {
            f.observe_within(s, 2000, false);
        }
        for s in 0..10 {
            f.observe_within(s, 2000, false);
        }
        assert_eq!((f.received, f.lost, f.stale, f.resyncs), (4010, 0, 0, 1));
        // Afterwards a loss is found as usual.
        f.observe_within(12, 2000, false);
        assert_eq!(f.lost, 2, "10 and 11");
    }

    #[test]
    fn old_frames_let_out_late_are_stale_and_the_flow_carries_on_without_loss() {
        let mut f = FlowSeq::default();
        for s in 0..5000 {
            f.observe_within(s, 2000, false);
        }
        // A burst of frames sent seconds ago, consecutive, far behind the window: were they a
        // restarted sender's, the flow would resync to them and then lose 3,000 at once.
        for s in 1000..1100 {
            let e = f.observe_within(s, 2000, true);
            assert!(e.stale && !e.resync, "{s}: {e:?}");
        }
        for s in 5000..5100 {
            f.observe_within(s, 2000, false);
        }
        assert_eq!((f.received, f.lost, f.stale, f.resyncs), (5100, 0, 100, 0));
        // Without the send stamps' word the same burst resyncs the flow: the loss they cause.
        let mut g = FlowSeq::default();
        for s in (0..5000).chain(1000..1100).chain(5000..5100) {
            g.observe_within(s, u64::MAX, false);
        }
        assert_eq!((g.resyncs, g.lost), (1, 3900));
    }

    #[test]
    fn reordered_pairs() {
        let f = run(&[0, 2, 1, 4, 3, 5]);
        assert_eq!((f.received, f.lost, f.reordered, f.duplicates), (6, 0, 2, 0));
    }
}

/// Any arrival order with drops and duplicates: the counters stay consistent.
#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn counters_add_up(seqs in proptest::collection::vec(0u64..600, 1..400)) {
            let mut f = FlowSeq::default();
            for &s in &seqs {
                f.observe(s);
            }
            // Every frame is counted once, whatever happened.
            prop_assert_eq!(f.received + f.duplicates + f.stale, seqs.len() as u64);
            if f.resyncs > 0 {
                // Two frames in a row behind the first one restarted the flow: the model
                // below (one baseline) no longer applies.
                return Ok(());
            }
            let first = seqs[0];
            let mut unique: Vec<u64> = seqs.iter().copied().filter(|&s| s >= first).collect();
            unique.sort_unstable();
            unique.dedup();
            // Within the window, nothing is stale: every frame is new, late or a duplicate.
            prop_assert_eq!(f.stale, seqs.iter().filter(|&&s| s < first).count() as u64);
            prop_assert_eq!(f.received, unique.len() as u64);
            prop_assert_eq!(f.received + f.duplicates + f.stale, seqs.len() as u64);
            let span = unique.last().unwrap() - first + 1;
            prop_assert_eq!(f.received + f.lost, span, "received + lost covers first..=highest");
        }

        #[test]
        fn no_frame_claims_more_loss_than_the_bound(
            seqs in proptest::collection::vec(prop_oneof![0u64..600, Just((1u64 << 48) - 1)], 1..400),
        ) {
            let mut f = FlowSeq::default();
            let mut most = 0;
            for &s in &seqs {
                most = most.max(f.observe_within(s, 100, false).new_lost);
            }
            prop_assert!(most <= 100);
            prop_assert_eq!(f.received + f.duplicates + f.stale, seqs.len() as u64);
        }
    }
}
