//! Outages: periods with no received frames longer than `--gap-ms`. Each forwarding lcore finds
//! its own gaps (one timestamp per burst); the port's outages are the times when every lcore was
//! in a gap. Tracked traffic adds how many frames were lost, and the loss-derived outage
//! (lost / offered rate, as RFC 6413 derives convergence time) sits beside the measured gap.

use crate::classify::FiveTuple;
pub use vflag_contract::report::{FlowOutage, Outage};

/// Which flow went silent: one of vflag-dp's own (by flow id) or a foreign 5-tuple.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowRef {
    Tracked(u16),
    Foreign(FiveTuple),
}

/// One flow's silence, TSC from its last frame before to its first frame after.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlowGap {
    pub flow: FlowRef,
    pub start_tsc: u64,
    pub end_tsc: u64,
    /// Frames of this flow that the silence swallowed: a tracked flow's sequence jump when it
    /// resumed; a foreign flow's estimate, the silence at its pace before it.
    pub lost: u64,
    /// The flow's rate before the silence, frames per TSC tick.
    pub rate_per_tick: f64,
}

impl FlowGap {
    pub fn foreign(&self) -> bool {
        matches!(self.flow, FlowRef::Foreign(_))
    }
}

/// One lcore's silence: from its last frame before to its first frame after (TSC), and the
/// tracked frames found lost from the gap's start until shortly after it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    pub start_tsc: u64,
    pub end_tsc: u64,
    pub lost: u64,
    /// Still silent when the run ended (`end_tsc` is then the end of the run).
    pub open: bool,
}

/// Finds gaps on one lcore. Owned by that lcore; fixed size.
#[derive(Debug, Clone)]
pub struct GapDetector {
    gap_tsc: u64,
    attribution_tsc: u64,
    last_rx: u64,
    pending: Option<(Gap, u64)>,
}

impl GapDetector {
    /// `gap_tsc`: the shortest silence that counts; `attribution_tsc`: how long after a gap ends
    /// newly found losses still belong to it (flows resume one by one).
    pub fn new(gap_tsc: u64, attribution_tsc: u64) -> Self {
        GapDetector { gap_tsc: gap_tsc.max(1), attribution_tsc, last_rx: 0, pending: None }
    }

    /// A burst arrived at `now`; `lost_total` is the lcore's running count of lost frames.
    /// Returns a gap once its loss attribution window has closed.
    #[inline]
    pub fn on_rx(&mut self, now: u64, lost_total: u64) -> Option<Gap> {
        let done = self.flush(now, lost_total);
        if self.last_rx != 0 && now.saturating_sub(self.last_rx) > self.gap_tsc {
            let gap = Gap { start_tsc: self.last_rx, end_tsc: now, lost: 0, open: false };
            // A new gap closes the previous one's window early.
            let earlier = self.pending.take().map(|(g, base)| Gap { lost: lost_total.saturating_sub(base), ..g });
            self.pending = Some((gap, lost_total));
            self.last_rx = now;
            return earlier.or(done);
        }
        self.last_rx = now;
        done
    }

    /// Closes the pending gap if its window has passed (call when idle, too).
    #[inline]
    pub fn flush(&mut self, now: u64, lost_total: u64) -> Option<Gap> {
        match self.pending {
            Some((g, base)) if now.saturating_sub(g.end_tsc) >= self.attribution_tsc => {
                self.pending = None;
                Some(Gap { lost: lost_total.saturating_sub(base), ..g })
            }
            _ => None,
        }
    }

    /// Ends the run at `now`: whatever is pending is returned as it stands, and a silence
    /// still running (longer than a gap) as an open gap: traffic that stopped for good is an
    /// outage too, not nothing.
    pub fn finish(&mut self, now: u64, lost_total: u64) -> [Option<Gap>; 2] {
        let pending = self.pending.take().map(|(g, base)| Gap { lost: lost_total.saturating_sub(base), ..g });
        let silent = self.last_rx != 0 && now.saturating_sub(self.last_rx) > self.gap_tsc;
        let open = silent.then_some(Gap { start_tsc: self.last_rx, end_tsc: now, lost: 0, open: true });
        [pending, open]
    }
}

/// The times when every lcore was silent: the intersection of all lcores' gap lists (each
/// sorted by start). Losses of every gap that overlaps an outage are added to it.
pub fn intersect(per_lcore: &[Vec<Gap>]) -> Vec<Gap> {
    let Some((first, rest)) = per_lcore.split_first() else { return Vec::new() };
    let mut acc: Vec<Gap> = first.clone();
    for list in rest {
        let mut out = Vec::new();
        for a in &acc {
            for b in list {
                let (s, e) = (a.start_tsc.max(b.start_tsc), a.end_tsc.min(b.end_tsc));
                if s < e {
                    // Open only if every lcore's silence ran to the end.
                    out.push(Gap { start_tsc: s, end_tsc: e, lost: a.lost + b.lost, open: a.open && b.open });
                }
            }
        }
        acc = out;
    }
    acc.sort_by_key(|g| g.start_tsc);
    acc
}

/// Turns a gap into an outage report. `offered_pps` comes from the rate timeline.
pub fn outage(g: &Gap, tsc0: u64, tsc_hz: f64, tracked: bool, offered_pps: f64, links: &[(f64, u16, bool)]) -> Outage {
    let at = |t: u64| (t as f64 - tsc0 as f64) / tsc_hz;
    let (start_s, end_s) = (at(g.start_tsc), at(g.end_tsc));
    let lost = tracked.then_some(g.lost);
    Outage {
        start_s,
        end_s,
        duration_ms: (end_s - start_s) * 1e3,
        lost,
        offered_pps,
        loss_derived_ms: lost.filter(|_| offered_pps > 0.0).map(|l| l as f64 / offered_pps * 1e3),
        link_events: links.iter().copied().filter(|(t, _, _)| *t >= start_s - 1.0 && *t <= end_s + 1.0).collect(),
        open: g.open,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(s: u64, e: u64, lost: u64) -> Gap {
        Gap { start_tsc: s, end_tsc: e, lost, open: false }
    }

    #[test]
    fn steady_traffic_has_no_gap() {
        let mut d = GapDetector::new(100, 50);
        for t in (1..10_000).step_by(10) {
            assert_eq!(d.on_rx(t, 0), None);
        }
        assert_eq!(d.finish(10_050, 0), [None, None], "silent 59 ticks at the end: under a gap");
    }

    #[test]
    fn a_silence_is_reported_after_its_attribution_window_with_its_losses() {
        let mut d = GapDetector::new(100, 50);
        d.on_rx(1000, 0);
        d.on_rx(1010, 0);
        assert_eq!(d.on_rx(1500, 7), None, "gap 1010..1500 found, window still open");
        assert_eq!(d.on_rx(1520, 9), None);
        // 2 more losses found while flows resume, then the window closes.
        assert_eq!(d.on_rx(1560, 9), Some(g(1010, 1500, 2)));
        assert_eq!(d.on_rx(1570, 9), None);
    }

    #[test]
    fn idle_flush_and_finish_close_a_pending_gap() {
        let mut d = GapDetector::new(100, 50);
        d.on_rx(10, 0);
        d.on_rx(500, 3);
        assert_eq!(d.flush(520, 5), None);
        assert_eq!(d.flush(560, 5), Some(g(10, 500, 2)));
        let mut d = GapDetector::new(100, 50);
        d.on_rx(10, 0);
        d.on_rx(500, 3);
        assert_eq!(d.finish(510, 4), [Some(g(10, 500, 1)), None]);
    }

    #[test]
    fn a_silence_running_at_the_end_is_an_open_gap() {
        let mut d = GapDetector::new(100, 50);
        assert_eq!(d.finish(5_000, 0), [None, None], "nothing ever arrived: no evidence of traffic");
        d.on_rx(10, 0);
        d.on_rx(20, 0);
        let open = Gap { start_tsc: 20, end_tsc: 900, lost: 0, open: true };
        assert_eq!(d.finish(900, 0), [None, Some(open)]);
        // Across lcores, open only where every lcore's silence ran to the end.
        let closed = g(30, 400, 1);
        assert_eq!(intersect(&[vec![open], vec![closed]]), vec![g(30, 400, 1)]);
        let both = intersect(&[vec![open], vec![Gap { start_tsc: 50, ..open }]]);
        assert_eq!(both, vec![Gap { start_tsc: 50, ..open }]);
    }

    #[test]
    fn back_to_back_gaps_are_both_reported() {
        let mut d = GapDetector::new(100, 1000);
        d.on_rx(10, 0);
        assert_eq!(d.on_rx(300, 1), None);
        assert_eq!(d.on_rx(600, 4), Some(g(10, 300, 3)));
        assert_eq!(d.finish(610, 4), [Some(g(300, 600, 0)), None]);
    }

    #[test]
    fn outages_are_when_every_lcore_was_silent() {
        let a = vec![g(100, 200, 1), g(500, 900, 2)];
        let b = vec![g(150, 250, 4), g(600, 700, 8), g(800, 1000, 16)];
        assert_eq!(intersect(&[a.clone(), b]), vec![g(150, 200, 5), g(600, 700, 10), g(800, 900, 18)]);
        assert_eq!(intersect(std::slice::from_ref(&a)), a);
        assert_eq!(intersect(&[a, vec![]]), vec![]);
        assert_eq!(intersect(&[]), vec![]);
    }

    #[test]
    fn outage_report_derives_convergence_from_loss() {
        let links = [(0.4, 0, false), (0.9, 0, true), (4.4, 0, true), (5.0, 0, false)];
        let o = outage(&g(1_500, 4_500, 300), 1_000, 1_000.0, true, 1_000.0, &links);
        assert!((o.start_s - 0.5).abs() < 1e-9 && (o.end_s - 3.5).abs() < 1e-9);
        assert!((o.duration_ms - 3000.0).abs() < 1e-6);
        assert_eq!(o.lost, Some(300));
        assert!((o.loss_derived_ms.unwrap() - 300.0).abs() < 1e-9);
        assert_eq!(o.link_events, vec![(0.4, 0, false), (0.9, 0, true), (4.4, 0, true)]);
        let foreign = outage(&g(1_500, 4_500, 0), 1_000, 1_000.0, false, 1_000.0, &links);
        assert_eq!((foreign.lost, foreign.loss_derived_ms), (None, None));
    }
}

/// The value at quantile `q` of sorted `v` (nearest rank).
fn quantile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let rank = (q * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// Groups per-flow gaps that overlap into flow outages, in time order.
pub fn flow_outages(gaps: &[FlowGap], tsc0: u64, tsc_hz: f64) -> Vec<FlowOutage> {
    use std::collections::HashMap;

    /// Per flow in a group: its silence (ticks) and rate (frames per tick).
    #[derive(Default)]
    struct Group {
        start: u64,
        end: u64,
        flows: HashMap<FlowRef, (u64, f64)>,
        lost: u64,
        foreign_lost: u64,
    }
    let mut sorted = gaps.to_vec();
    sorted.sort_by_key(|g| g.start_tsc);
    let at = |t: u64| (t as f64 - tsc0 as f64) / tsc_hz;
    let close = |g: Group| {
        let mut ms: Vec<f64> = g.flows.values().map(|(t, _)| *t as f64 / tsc_hz * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        let offered_pps: f64 = g.flows.values().map(|(_, r)| r * tsc_hz).sum();
        let lost = g.lost + g.foreign_lost;
        FlowOutage {
            start_s: at(g.start),
            end_s: at(g.end),
            flows: g.flows.len(),
            foreign_flows: g.flows.keys().filter(|f| matches!(f, FlowRef::Foreign(_))).count(),
            min_ms: ms.first().copied().unwrap_or(0.0),
            median_ms: quantile(&ms, 0.5),
            p99_ms: quantile(&ms, 0.99),
            longest_ms: ms.last().copied().unwrap_or(0.0),
            lost: g.lost,
            foreign_lost_est: g.foreign_lost,
            offered_pps,
            loss_derived_ms: (offered_pps > 0.0).then(|| lost as f64 / offered_pps * 1e3),
        }
    };
    let mut out: Vec<FlowOutage> = Vec::new();
    let mut open: Option<Group> = None;
    for g in sorted {
        if open.as_ref().is_none_or(|cur| g.start_tsc > cur.end) {
            out.extend(open.take().map(close));
            open = Some(Group { start: g.start_tsc, end: g.end_tsc, ..Group::default() });
        }
        let cur = open.as_mut().expect("opened above");
        cur.end = cur.end.max(g.end_tsc);
        let flow = cur.flows.entry(g.flow).or_insert((0, g.rate_per_tick));
        flow.0 += g.end_tsc - g.start_tsc;
        if g.foreign() {
            cur.foreign_lost += g.lost;
        } else {
            cur.lost += g.lost;
        }
    }
    out.extend(open.map(close));
    out
}

#[cfg(test)]
mod flow_tests {
    use super::*;
    use crate::classify::FiveTuple;

    fn fg(flow: u16, s: u64, e: u64) -> FlowGap {
        FlowGap {
            flow: FlowRef::Tracked(flow),
            start_tsc: s,
            end_tsc: e,
            lost: u64::from(flow) * 10,
            rate_per_tick: 0.1,
        }
    }

    fn foreign(sport: u16, s: u64, e: u64, lost: u64) -> FlowGap {
        let tuple = FiveTuple { src: [10, 0, 0, 1], dst: [10, 0, 0, 2], proto: 17, sport, dport: 9 };
        FlowGap { flow: FlowRef::Foreign(tuple), start_tsc: s, end_tsc: e, lost, rate_per_tick: 0.2 }
    }

    #[test]
    fn overlapping_flow_gaps_are_one_failover() {
        // Flows 1 and 3 stop around t=1.0 s for ~0.5 s; flow 2 stops alone later.
        let gaps = [fg(3, 1_010, 1_480), fg(1, 1_000, 1_500), fg(2, 5_000, 5_100), fg(1, 1_500, 1_520)];
        let o = flow_outages(&gaps, 0, 1_000.0);
        assert_eq!(o.len(), 2);
        assert_eq!((o[0].flows, o[0].foreign_flows, o[0].start_s, o[0].end_s), (2, 0, 1.0, 1.52));
        // Flow 1 was silent twice in it: 500 + 20 ms.
        assert_eq!((o[0].min_ms, o[0].median_ms, o[0].longest_ms), (470.0, 470.0, 520.0));
        assert_eq!(o[0].lost, 30 + 10 + 10, "every grouped gap's loss counts");
        // Two flows at 100 frames/s lost 50 frames: 250 ms each, on average.
        assert!((o[0].offered_pps - 200.0).abs() < 1e-9);
        assert!((o[0].loss_derived_ms.unwrap() - 250.0).abs() < 1e-9);
        assert_eq!((o[1].flows, o[1].lost), (1, 20));
        assert!(flow_outages(&[], 0, 1.0).is_empty());
    }

    #[test]
    fn foreign_flows_group_with_tracked_ones_and_their_loss_is_kept_apart() {
        let mut gaps = vec![fg(1, 1_000, 1_300), foreign(7, 1_005, 1_205, 40), foreign(8, 1_010, 1_110, 20)];
        gaps.extend((0..97).map(|i| foreign(100 + i, 1_020, 1_120 + i as u64, 1)));
        let o = flow_outages(&gaps, 0, 1_000.0);
        assert_eq!(o.len(), 1);
        let o = &o[0];
        assert_eq!((o.flows, o.foreign_flows, o.lost, o.foreign_lost_est), (100, 99, 10, 40 + 20 + 97));
        assert_eq!((o.min_ms, o.longest_ms), (100.0, 300.0));
        assert_eq!(o.median_ms, 148.0, "the 50th of 100 silences");
        assert_eq!(o.p99_ms, 200.0);
        assert!((o.offered_pps - (100.0 + 99.0 * 200.0)).abs() < 1e-6);
    }

    #[test]
    fn quantiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!((quantile(&v, 0.5), quantile(&v, 0.99), quantile(&v, 1.0)), (50.0, 99.0, 100.0));
        assert_eq!((quantile(&[3.0], 0.99), quantile(&[], 0.5)), (3.0, 0.0));
    }
}
