//! Per-flap figures from the receiver's report and the times the soak took links down and up:
//! how long flows were silent, what was lost, and which members carried traffic before, during
//! and after each flap.

use serde::Serialize;

use super::failover::{self, Failover};
use super::latency::{self, FlapLatency, FlapTimes};
use super::link_counters::LinkSeries;
use super::restore::{self, Overlap, Reference, Restore, Traffic};
use super::rx_report::RxReport;
use super::seen::Seen;

/// A flap as it was carried out, in wall-clock seconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlapRecord {
    pub number: usize,
    pub links: Vec<String>,
    /// The links' indices (in the order of the members and link counters).
    pub link_idx: Vec<usize>,
    pub down_unix_s: f64,
    pub up_unix_s: f64,
    /// The soak was interrupted while the link was down or before the flap's after-window was
    /// over: the flap is reported but not judged.
    pub cut_short: bool,
}

/// Traffic in one window of time.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Window {
    pub from_s: f64,
    pub to_s: f64,
    /// Frames/s received on the bond (or the VF).
    pub rate_pps: f64,
    /// Each member's share of the frames, % (empty when the receiver sees no members).
    pub shares_pct: Vec<f64>,
    /// Members that carried at least 5% of the frames.
    pub carrying: Vec<String>,
    /// The same window on the links' own counters (`--link-counters`); null without them.
    pub links: Option<LinkWindow>,
}

/// A window's frames as the links counted them (on real VF-LAG: the PFs).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LinkWindow {
    /// Frames/s received over all the links.
    pub rate_pps: f64,
    /// Each link's share, % (all 0 when none received anything).
    pub shares_pct: Vec<f64>,
    /// Links that carried at least 5% of the frames.
    pub carrying: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlapResult {
    pub number: usize,
    pub links: Vec<String>,
    /// Seconds since the receiver started.
    pub down_s: f64,
    pub up_s: f64,
    pub down_ms: f64,
    /// The longest time any tracked flow was silent (all traffic, when none is tracked), ms.
    pub outage_ms: f64,
    /// The longest time no frame at all arrived, ms (0 when other links carried on).
    pub total_outage_ms: f64,
    /// Tracked flows that fell silent.
    pub flows_hit: usize,
    /// Tracked frames lost from this flap to the next, less those that arrived late.
    pub lost: u64,
    /// Frames the flap's loss episodes counted missing that arrived afterwards, out of order
    /// (e.g. held in a downed link's transmit ring until it came back): late, not lost.
    pub late: u64,
    /// Traffic flowed again before the next flap (or the end).
    pub recovered: bool,
    /// Interrupted before the flap was over: shown, not judged.
    pub cut_short: bool,
    pub before: Window,
    pub during: Window,
    pub after: Window,
    /// Loss episodes, first/last loss, the per-flow outages and the loss-derived time.
    pub failover: Failover,
    /// When the link rejoined and carried its share again; null where that cannot be
    /// measured (one link carried everything before, or nothing shows the links' split).
    pub restore: Option<Restore>,
    /// This flap's link went down while an earlier flap's link was still out of the
    /// aggregation: shown, not judged.
    pub overlaps: Option<Overlap>,
    /// The later flap that went down before this one's link rejoined.
    pub overlapped_by: Option<usize>,
    /// Tracked frames' latency before, during and after; null when not measured (`latency`).
    pub latency: Option<FlapLatency>,
}

impl FlapResult {
    /// Its times as the latency windows take them: during runs to the restore, else the up.
    fn latency_times(&self) -> FlapTimes {
        let restored_ms = self.restore.as_ref().and_then(|r| r.restore_ms);
        FlapTimes {
            down_s: self.down_s,
            up_s: self.up_s,
            back_s: self.up_s + restored_ms.map_or(0.0, |ms| ms / 1e3),
            judged: !self.cut_short && self.overlaps.is_none(),
        }
    }
}

/// Sets each flap's `latency` (null when not measured) and sums them up over the judged ones.
pub fn measure_latency(
    flaps: &mut [FlapResult],
    samples: &[latency::Sample],
    ready_s: f64,
    clock: latency::Clock,
) -> latency::Summary {
    let times: Vec<FlapTimes> = flaps.iter().map(FlapResult::latency_times).collect();
    let (per_flap, summary) = latency::measure(&times, samples, ready_s, clock);
    for (f, l) in flaps.iter_mut().zip(per_flap) {
        f.latency = l;
    }
    summary
}

/// An outage that no flap explains.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unexplained {
    pub start_s: f64,
    pub duration_ms: f64,
    pub flows: usize,
    pub lost: u64,
}

/// Windows shorter than this are not worth a share.
const MAX_WINDOW_S: f64 = 2.0;
/// An outage starts at the last frame before the link went down, a little before the command
/// that took it down returned.
const LEAD_S: f64 = 0.1;
/// A member carrying less than this share of a window does not count as carrying it.
const CARRYING_PCT: f64 = 5.0;

/// Names of those whose share is at least [`CARRYING_PCT`].
fn carrying(shares_pct: &[f64], names: &[String]) -> Vec<String> {
    shares_pct.iter().zip(names).filter(|(s, _)| **s >= CARRYING_PCT).map(|(_, m)| m.clone()).collect()
}

/// [from_s, to_s) in receiver seconds.
pub fn window(seen: Seen, from_s: f64, to_s: f64) -> Window {
    let (frames, _) = seen.rx.member_frames(from_s, to_s);
    let shares_pct = shares(&frames);
    let at = |s: f64| seen.rx.started_unix_s + s;
    let links = seen.links.and_then(|l| {
        let (frames, span) = l.rx_between(at(from_s), at(to_s))?;
        let shares_pct = shares_f64(&frames);
        Some(LinkWindow {
            rate_pps: if span > 0.0 { frames.iter().sum::<f64>() / span } else { 0.0 },
            carrying: carrying(&shares_pct, &l.names),
            shares_pct,
        })
    });
    Window {
        from_s,
        to_s,
        rate_pps: seen.rx.rx_rate(from_s, to_s),
        carrying: carrying(&shares_pct, seen.members),
        shares_pct,
        links,
    }
}

/// Tracked frames lost by `t_s`, from the receiver's samples (cumulative, in time order), and
/// the time of the sample that says so.
fn lost_by(series: &[(f64, u64)], t_s: f64) -> (f64, u64) {
    series.iter().take_while(|(t, _)| *t <= t_s).last().copied().unwrap_or((f64::NEG_INFINITY, 0))
}

/// Which links a flap took down: its record's, else those that carried before and not during.
fn failed_links(idx: &[usize], before: &Window, during: &Window, n: usize) -> Vec<usize> {
    let given: Vec<usize> = idx.iter().copied().filter(|&l| l < n).collect();
    if !given.is_empty() {
        return given;
    }
    let (b, d) = match (&before.links, &during.links) {
        (Some(b), Some(d)) if before.shares_pct.is_empty() => (&b.shares_pct, &d.shares_pct),
        _ => (&before.shares_pct, &during.shares_pct),
    };
    (0..n.min(b.len()))
        .filter(|&l| b[l] >= CARRYING_PCT && !matches!(d.get(l), Some(s) if *s >= CARRYING_PCT))
        .collect()
}

/// The failed links' share of a window, %: the members' where there are, else the links'.
fn share_of(w: &Window, failed: &[usize]) -> f64 {
    let shares = if w.shares_pct.iter().any(|s| *s > 0.0) {
        &w.shares_pct
    } else {
        match &w.links {
            Some(l) => &l.shares_pct,
            None => return 0.0,
        }
    };
    failed.iter().filter_map(|&l| shares.get(l)).sum()
}

/// The before-window as a state to return to, on what the traffic is read from.
fn reference(w: &Window, by: &str) -> Reference {
    match (&w.links, by) {
        (Some(l), "links") => Reference { rate_pps: l.rate_pps, shares_pct: l.shares_pct.clone() },
        _ => Reference { rate_pps: w.rate_pps, shares_pct: w.shares_pct.clone() },
    }
}

/// Restore and overlap, flap after flap: whether a flap overlaps depends on when the earlier
/// flaps' links rejoined. `failed`: each flap's links; `end_s`: the end of the run.
fn follow(seen: Seen, out: &mut [FlapResult], failed: &[Vec<usize>], end_s: f64) {
    let Some(traffic) = Traffic::of(seen) else { return };
    let downs: Vec<(f64, f64, Vec<usize>)> =
        out.iter().zip(failed).map(|(f, l)| (f.down_s, f.up_s, l.clone())).collect();
    let mut rejoined_s: Vec<Option<f64>> = Vec::new();
    let mut usual: Option<Reference> = None;
    for i in 0..out.len() {
        let ov = restore::overlap(i, &downs, &rejoined_s);
        if let Some(j) = ov {
            out[i].overlaps = Some(Overlap {
                flap: out[j].number,
                links: out[j].links.clone(),
                rejoined_ms: rejoined_s[j].filter(|s| s.is_finite()).map(|s| (s - downs[j].1) * 1e3),
            });
            out[j].overlapped_by = Some(out[i].number);
        }
        // An overlapping flap's before-window is no state to return to: keep the last one that was.
        if ov.is_none() || usual.is_none() {
            usual = Some(reference(&out[i].before, traffic.by));
        }
        let r = usual.as_ref().expect("set above");
        let (up_s, links) = (downs[i].1, &downs[i].2);
        let restore_until = downs.get(i + 1).map_or(end_s, |d| d.0);
        let rejoin_until = downs[i + 1..].iter().find(|d| d.2.iter().any(|l| links.contains(l))).map_or(end_s, |d| d.0);
        if !restore::measurable(r, links) || links.iter().any(|&l| l >= traffic.links()) {
            // A return that cannot be seen labels no overlap: taken as back at once.
            rejoined_s.push(Some(f64::NEG_INFINITY));
            continue;
        }
        let mut x = restore::restore(&traffic, r, links, up_s, restore_until, rejoin_until);
        rejoined_s.push(x.rejoined_ms.map(|m| up_s + m / 1e3));
        let back: Vec<_> = out[i].failover.episodes.iter().filter(|e| e.after_up).collect();
        (x.return_episodes, x.return_lost) = (back.len(), back.iter().map(|e| e.lost).sum());
        out[i].restore = Some(x);
    }
}

/// `ready_s`: when traffic was flowing before the first flap (receiver time). `lost_series`:
/// the receiver's running loss; a flap's loss is its episodes' plus what else the running loss
/// grew by from the flap to the next one (to `lost_total` after the last). `resolution_ms`:
/// the shortest outage the run can see.
pub fn flaps(
    seen: Seen,
    records: &[FlapRecord],
    ready_s: f64,
    lost_series: &[(f64, u64)],
    resolution_ms: f64,
) -> Vec<FlapResult> {
    let rx = seen.rx;
    let lost_total = rx.analysis.as_ref().map_or(0, |a| a.tracked.lost);
    let t = |unix: f64| unix - rx.started_unix_s;
    let end_s = rx.duration_s;
    let flow_outages = rx.analysis.as_ref().map(|a| a.flow_outages.as_slice()).unwrap_or_default();
    let tracked = rx.analysis.as_ref().is_some_and(|a| a.tracked.received > 0);
    let foreign_only = rx.analysis.as_ref().is_some_and(|a| a.tracked.received == 0 && a.frames.foreign > 0);
    let n_links = seen.members.len().max(seen.links.map_or(0, |l| l.names.len()));
    let mut failed = Vec::new();
    let mut out: Vec<FlapResult> = records
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let (down_s, up_s) = (t(f.down_unix_s), t(f.up_unix_s));
            let prev_s = if i == 0 { ready_s } else { t(records[i - 1].up_unix_s) };
            let next_s = records.get(i + 1).map_or(end_s, |n| t(n.down_unix_s));
            let (attr_from, attr_to) =
                (down_s - LEAD_S, records.get(i + 1).map_or(f64::INFINITY, |n| t(n.down_unix_s) - LEAD_S));
            let inside = |start: f64| start >= attr_from && start < attr_to;
            let outages: Vec<_> = rx.outages.iter().filter(|o| inside(o.start_s)).collect();
            let total_outage_ms = outages.iter().map(|o| o.duration_ms).fold(0.0, f64::max);
            let mine: Vec<_> = flow_outages.iter().filter(|o| inside(o.start_s)).collect();
            let flow_ms = mine.iter().map(|o| o.longest_ms).fold(0.0, f64::max);
            // A flow's loss shows in the running loss when it resumes, which may be in the next
            // flap's period: the episodes' own loss is the flap's, and the running loss adds
            // only what no episode that resumed in this period accounts for.
            let (from_t, from_lost) = lost_by(lost_series, down_s);
            let (to_t, to_lost) =
                if i + 1 < records.len() { lost_by(lost_series, next_s) } else { (f64::INFINITY, lost_total) };
            let resumed: u64 =
                flow_outages.iter().filter(|o| o.end_s > from_t && o.end_s <= to_t).map(|o| o.lost).sum();
            // The running loss is net of late arrivals: when it grew by less than this flap's
            // episodes that resumed in the period counted, the difference arrived after all
            // (never more, so other loss in the period only makes `late` smaller).
            let growth = to_lost.saturating_sub(from_lost);
            let mine_resumed: u64 = mine.iter().filter(|o| o.end_s > from_t && o.end_s <= to_t).map(|o| o.lost).sum();
            let late = mine_resumed.saturating_sub(growth);
            let lost = mine.iter().map(|o| o.lost).sum::<u64>() - late + growth.saturating_sub(resumed);
            let before_w = MAX_WINDOW_S.min((down_s - prev_s) / 2.0).max(0.0);
            let after_w = MAX_WINDOW_S.min((next_s - up_s) / 2.0).max(0.0);
            let after = window(seen, next_s - after_w, next_s);
            let before = window(seen, down_s - before_w, down_s);
            let during = window(seen, down_s + (up_s - down_s) / 2.0, up_s);
            // The flows' own silences: vflag-dp's tracked flows, or a foreign generator's
            // followed by 5-tuple (`--traffic-cmd`), when those are all the traffic there is.
            let outage_ms = if tracked || foreign_only { flow_ms.max(total_outage_ms) } else { total_outage_ms };
            let links = failed_links(&f.link_idx, &before, &during, n_links);
            let failover = failover::failover(&failover::Inputs {
                down_s,
                up_s,
                flow_outages: &mine,
                outages: &outages,
                lost,
                outage_ms,
                resolution_ms,
                before_pps: before.rate_pps.max(before.links.as_ref().map_or(0.0, |l| l.rate_pps)),
                failed_share_pct: share_of(&before, &links),
            });
            failed.push(links);
            FlapResult {
                number: f.number,
                links: f.links.clone(),
                down_s,
                up_s,
                down_ms: (up_s - down_s) * 1e3,
                outage_ms,
                total_outage_ms,
                flows_hit: mine.iter().map(|o| o.flows).max().unwrap_or(0),
                lost,
                late,
                recovered: after.rate_pps > 0.0,
                cut_short: f.cut_short,
                before,
                during,
                after,
                failover,
                restore: None,
                overlaps: None,
                overlapped_by: None,
                latency: None,
            }
        })
        .collect();
    follow(seen, &mut out, &failed, end_s);
    out
}

/// Outages and flow outages after traffic was flowing (`ready_s`) and before the first flap.
pub fn unexplained(rx: &RxReport, records: &[FlapRecord], ready_s: f64) -> Vec<Unexplained> {
    let first = records.first().map_or(f64::INFINITY, |f| f.down_unix_s - rx.started_unix_s - LEAD_S);
    let before_flaps = |start: f64| start >= ready_s && start < first;
    let mut out: Vec<Unexplained> = rx
        .outages
        .iter()
        .filter(|o| before_flaps(o.start_s))
        .map(|o| Unexplained { start_s: o.start_s, duration_ms: o.duration_ms, flows: 0, lost: o.lost.unwrap_or(0) })
        .collect();
    let flow = rx.analysis.as_ref().map(|a| a.flow_outages.as_slice()).unwrap_or_default();
    for o in flow.iter().filter(|o| before_flaps(o.start_s)) {
        // A silence of every flow is already listed as an outage of all traffic.
        if let Some(u) = out.iter_mut().find(|u| (u.start_s - o.start_s).abs() < 0.05) {
            u.flows = o.flows;
            u.lost = u.lost.max(o.lost);
            u.duration_ms = u.duration_ms.max(o.longest_ms);
        } else {
            out.push(Unexplained { start_s: o.start_s, duration_ms: o.longest_ms, flows: o.flows, lost: o.lost });
        }
    }
    out.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    out
}

/// Real hardware with flaps done by hand: every silence after traffic flowed is one flap,
/// its link unknown.
/// Restore is not measured: when the cable went back is not known.
pub fn observed(seen: Seen, ready_s: f64, resolution_ms: f64) -> Vec<FlapResult> {
    let rx = seen.rx;
    let silences = unexplained(rx, &[], ready_s);
    silences
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let end_s = u.start_s + u.duration_ms / 1e3;
            let prev_s = if i == 0 { ready_s } else { silences[i - 1].start_s + silences[i - 1].duration_ms / 1e3 };
            let next_s = silences.get(i + 1).map_or(rx.duration_s, |n| n.start_s);
            let before_w = MAX_WINDOW_S.min((u.start_s - prev_s) / 2.0).max(0.0);
            let after_w = MAX_WINDOW_S.min((next_s - end_s) / 2.0).max(0.0);
            let near = |start: f64| (start - u.start_s).abs() < 0.05;
            let outages: Vec<_> = rx.outages.iter().filter(|o| near(o.start_s)).collect();
            let total_outage_ms = outages.iter().map(|o| o.duration_ms).fold(0.0, f64::max);
            let flow = rx.analysis.as_ref().map(|a| a.flow_outages.as_slice()).unwrap_or_default();
            let mine: Vec<_> = flow.iter().filter(|o| near(o.start_s)).collect();
            let after = window(seen, next_s - after_w, next_s);
            let before = window(seen, u.start_s - before_w, u.start_s);
            let during = window(seen, u.start_s, end_s);
            let n_links = seen.members.len().max(seen.links.map_or(0, |l| l.names.len()));
            let links = failed_links(&[], &before, &during, n_links);
            let failover = failover::failover(&failover::Inputs {
                down_s: u.start_s,
                up_s: f64::INFINITY,
                flow_outages: &mine,
                outages: &outages,
                lost: u.lost,
                outage_ms: u.duration_ms,
                resolution_ms,
                before_pps: before.rate_pps,
                failed_share_pct: share_of(&before, &links),
            });
            FlapResult {
                number: i + 1,
                links: vec!["?".into()],
                down_s: u.start_s,
                up_s: end_s,
                down_ms: u.duration_ms,
                outage_ms: u.duration_ms,
                total_outage_ms,
                flows_hit: u.flows,
                lost: u.lost,
                late: 0,
                recovered: after.rate_pps > 0.0,
                cut_short: false,
                before,
                during,
                after,
                failover,
                restore: None,
                overlaps: None,
                overlapped_by: None,
                latency: None,
            }
        })
        .collect()
}

/// Each value's share of the sum, % (all 0 when the sum is).
pub fn shares(values: &[u64]) -> Vec<f64> {
    shares_f64(&values.iter().map(|&v| v as f64).collect::<Vec<f64>>())
}

fn shares_f64(values: &[f64]) -> Vec<f64> {
    let total: f64 = values.iter().sum();
    values.iter().map(|&v| if total > 0.0 { v * 100.0 / total } else { 0.0 }).collect()
}

/// Each link's share of everything the links received over the soak, % (empty without
/// link counters).
pub fn link_shares(links: Option<&LinkSeries>) -> Vec<f64> {
    let Some(l) = links else { return Vec::new() };
    match (l.samples.first(), l.samples.last()) {
        (Some(a), Some(b)) => l.rx_between(a.0, b.0).map(|(f, _)| shares_f64(&f)).unwrap_or_default(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soak::rx_report::tests::report;
    use vflag_contract::report::{AnalysisReport as Analysis, Outage, TrackedTotals as Tracked};

    fn members() -> Vec<String> {
        vec!["p0".into(), "p1".into()]
    }

    fn seen<'a>(rx: &'a RxReport, members: &'a [String]) -> Seen<'a> {
        Seen { rx, members, links: None }
    }

    /// 10 s at 100 ms bins: both members 50/50, member 0 silent from 4.0 to 4.6 s (a flap of
    /// link 0 from 4.0 to 4.5), then 50/50 again.
    fn flapped() -> RxReport {
        let bins: Vec<(u64, u64)> = (0..100).map(|i| if (40..46).contains(&i) { (0, 100) } else { (50, 50) }).collect();
        let mut r = report(&bins);
        r.analysis = Some(Analysis {
            tracked: Tracked { received: 10_000, lost: 480, loss_pct: 4.6, ..Default::default() },
            flow_outages: vec![
                crate::soak::failover::tests::fo(1.0, 1, 50.0, 2),
                crate::soak::failover::tests::fo(3.99, 8, 610.0, 480),
            ],
            ..Default::default()
        });
        r
    }

    fn record(down: f64, up: f64) -> FlapRecord {
        FlapRecord {
            number: 1,
            links: vec!["s0".into()],
            link_idx: vec![0],
            down_unix_s: 1000.0 + down,
            up_unix_s: 1000.0 + up,
            cut_short: false,
        }
    }

    #[test]
    fn frames_an_episode_missed_that_arrived_later_are_late_not_lost() {
        // The episode counted 480 missing when its flows resumed; by the next sample the
        // running loss had grown by only 30: 450 arrived after all (held in the downed link's
        // ring), as the receiver's final loss (30) says.
        let mut r = flapped();
        r.analysis.as_mut().unwrap().flow_outages.remove(0);
        r.analysis.as_mut().unwrap().tracked.lost = 30;
        let series = [(3.9, 0), (5.0, 480), (6.0, 30)];
        let f = &flaps(seen(&r, &members()), &[record(4.0, 4.5)], 0.5, &series, 10.0)[0];
        assert_eq!((f.lost, f.late), (30, 450));
        assert!(f.failover.loss_derived_ms.is_some_and(|ms| ms > 0.0), "from the 30 lost: {:?}", f.failover);
        // Nothing arrived late: all of it is lost, none late.
        r.analysis.as_mut().unwrap().tracked.lost = 480;
        let series = [(3.9, 0), (5.0, 480)];
        let f = &flaps(seen(&r, &members()), &[record(4.0, 4.5)], 0.5, &series, 10.0)[0];
        assert_eq!((f.lost, f.late), (480, 0));
    }

    #[test]
    fn a_member_flap_shows_its_silence_loss_and_shares() {
        let mut r = flapped();
        // The 2 lost before the flap and its episode's 480, nothing late.
        r.analysis.as_mut().unwrap().tracked.lost = 482;
        let series = [(3.5, 2), (4.2, 2), (4.7, 300)];
        let f = &flaps(seen(&r, &members()), &[record(4.0, 4.5)], 0.5, &series, 10.0)[0];
        assert!((f.down_s - 4.0).abs() < 1e-9 && (f.down_ms - 500.0).abs() < 1e-6, "{f:?}");
        assert_eq!((f.outage_ms, f.total_outage_ms, f.flows_hit), (610.0, 0.0, 8));
        assert_eq!(f.lost, 480, "its episode's loss (the running loss adds nothing it does not explain)");
        assert!(f.recovered);
        assert_eq!(f.before.shares_pct, vec![50.0, 50.0]);
        assert_eq!((f.before.from_s, f.before.to_s), (2.25, 4.0), "half the time since ready, at most 2 s");
        assert_eq!(f.during.shares_pct, vec![0.0, 100.0]);
        assert_eq!(f.during.carrying, vec!["p1".to_string()]);
        assert_eq!(f.after.carrying, members());
        assert!((f.after.rate_pps - 1000.0).abs() < 1e-6, "{}", f.after.rate_pps);
        // The short silence at 1.0 s came before any flap.
        let u = unexplained(&r, &[record(4.0, 4.5)], 0.5);
        assert_eq!(u, vec![Unexplained { start_s: 1.0, duration_ms: 50.0, flows: 1, lost: 2 }]);
    }

    /// `--traffic-cmd`: only a foreign generator's frames, followed by 5-tuple. The flap's
    /// outage is its flows' silence (the other link carried on: no outage of all traffic), and
    /// the limits judge that; a loss limit has no tracked frame to count and says so.
    #[test]
    fn a_foreign_generators_flows_give_the_flaps_figures_and_verdict() {
        let mut r = flapped();
        let mut o = crate::soak::failover::tests::fo(3.99, 8, 610.0, 0);
        (o.foreign_flows, o.foreign_lost_est, o.offered_pps) = (8, 300, 500.0);
        o.loss_derived_ms = Some(600.0);
        r.analysis = Some(Analysis {
            frames: vflag_contract::report::ClassCounts { foreign: 9_700, ..Default::default() },
            flow_outages: vec![o],
            ..Default::default()
        });
        let f = flaps(seen(&r, &members()), &[record(4.0, 4.5)], 0.5, &[], 10.0);
        let x = &f[0];
        assert_eq!((x.outage_ms, x.total_outage_ms, x.flows_hit, x.lost), (610.0, 0.0, 8, 0));
        let fo = &x.failover;
        assert_eq!((fo.episodes.len(), fo.episodes[0].foreign_flows), (1, 8), "{fo:?}");
        assert_eq!((fo.flow_outage_ms.median, fo.flow_outage_ms.max), (Some(610.0), 610.0));
        assert_eq!((fo.foreign_lost_est, fo.offered_pps), (300.0, Some(500.0)));
        assert_eq!(fo.loss_derived_ms, Some(600.0), "the foreign frames lost / the hit flows' rate");
        let limits = crate::soak::verdict::Limits {
            max_outage_ms: Some(500.0),
            max_loss: Some(vflag_contract::value::LossLimit::Frames(10)),
            min_member_share: None,
        };
        let v = crate::soak::verdict::judge(&limits, &f, &[], None, &members(), &[]);
        assert!(!v.pass);
        assert_eq!(
            v.lines(),
            [
                "flap 1: outage 610.0 ms > --max-outage-ms 500",
                "--max-loss: no tracked traffic was received to count loss on (foreign traffic, as from \
                 --traffic-cmd, carries no sequence numbers: judge its flows' outages with --max-outage-ms)"
            ]
        );
        let limits = crate::soak::verdict::Limits { max_outage_ms: Some(700.0), ..Default::default() };
        assert!(crate::soak::verdict::judge(&limits, &f, &[], None, &members(), &[]).pass);
    }

    #[test]
    fn a_total_outage_counts_and_no_traffic_after_is_not_recovered() {
        let bins: Vec<(u64, u64)> = (0..60).map(|i| if i >= 40 { (0, 0) } else { (50, 50) }).collect();
        let mut r = report(&bins);
        r.outages = vec![Outage { start_s: 3.98, duration_ms: 2020.0, lost: None, ..Default::default() }];
        let f = &flaps(seen(&r, &members()), &[record(4.0, 4.5)], 0.0, &[], 10.0)[0];
        assert_eq!((f.outage_ms, f.total_outage_ms), (2020.0, 2020.0), "untracked: the outage of all traffic");
        assert!(!f.recovered);
        assert!(f.after.carrying.is_empty());
        assert!(unexplained(&r, &[record(4.0, 4.5)], 0.0).is_empty());
    }

    #[test]
    fn silences_before_traffic_flowed_do_not_count() {
        let r = flapped();
        assert!(unexplained(&r, &[record(4.0, 4.5)], 1.5).is_empty(), "1.0 s is before ready at 1.5 s");
    }

    #[test]
    fn watched_flaps_are_the_silences_after_ready() {
        let r = flapped();
        let f = observed(seen(&r, &members()), 2.0, 10.0);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!((f[0].number, f[0].flows_hit, f[0].lost, f[0].outage_ms), (1, 8, 480, 610.0));
        assert!((f[0].down_s - 3.99).abs() < 1e-9);
        assert_eq!(f[0].during.carrying, vec!["p1".to_string()]);
        assert!(f[0].recovered);
        assert_eq!(observed(seen(&r, &members()), 0.0, 10.0).len(), 2);
        assert_eq!(shares(&[1, 3]), vec![25.0, 75.0]);
        assert_eq!(shares(&[0, 0]), vec![0.0, 0.0]);
    }

    #[test]
    fn link_counters_split_the_windows_where_the_receiver_sees_no_members() {
        // A VF: no members. The PFs' counters, sampled every 100 ms from receiver time 0
        // (unix 1000): 1000 frames/s each, link 0 silent from 4.0 to 4.5 s.
        let mut r = flapped();
        for b in &mut r.timeline {
            b.member_rx.clear();
        }
        r.load_balance.members.clear();
        let mut c = [0u64, 0u64];
        let samples = (0..=100)
            .map(|i| {
                let t = 1000.0 + i as f64 * 0.1;
                let out = (t, c.to_vec());
                c[0] += if (40..45).contains(&i) { 0 } else { 100 };
                c[1] += 100;
                out
            })
            .collect();
        let links =
            LinkSeries { names: vec!["enp1s0f0np0".into(), "enp1s0f1np1".into()], samples, ..Default::default() };
        let with_links = Seen { rx: &r, members: &[], links: Some(&links) };
        let f = &flaps(with_links, &[record(4.0, 4.5)], 0.5, &[], 10.0)[0];
        assert!(f.before.shares_pct.iter().all(|s| *s == 0.0) && f.before.carrying.is_empty(), "no members");
        let (before, during, after) =
            (f.before.links.as_ref().unwrap(), f.during.links.as_ref().unwrap(), f.after.links.as_ref().unwrap());
        assert_eq!(before.shares_pct, vec![50.0, 50.0]);
        assert!((before.rate_pps - 2000.0).abs() < 1e-6, "{}", before.rate_pps);
        assert_eq!(during.shares_pct, vec![0.0, 100.0]);
        assert_eq!(during.carrying, vec!["enp1s0f1np1".to_string()]);
        assert_eq!(after.carrying.len(), 2);
        // Over the run: 9.5 s of link 0 against 10 s of link 1.
        let run = link_shares(Some(&links));
        assert!((run[0] - 100.0 * 95.0 / 195.0).abs() < 1e-9, "{run:?}");
        assert!(link_shares(None).is_empty());
        assert_eq!(flaps(seen(&r, &[]), &[record(4.0, 4.5)], 0.5, &[], 10.0)[0].during.links, None);
    }

    #[test]
    fn outages_go_to_the_flap_whose_period_they_start_in() {
        let mut r = flapped();
        // 2 before the flaps, 8 at flap 1, 480 at flap 2, nothing late.
        r.analysis.as_mut().unwrap().tracked.lost = 490;
        let recs = [record(2.0, 2.3), FlapRecord { number: 2, ..record(4.0, 4.5) }];
        let series = [(1.9, 2), (2.5, 10), (3.9, 10), (4.6, 400)];
        let f = flaps(seen(&r, &members()), &recs, 0.0, &series, 10.0);
        assert_eq!((f[0].flows_hit, f[0].lost), (0, 8));
        assert_eq!((f[1].flows_hit, f[1].lost), (8, 480), "its episode's loss");
        // Flap 1's "after" ends where flap 2 starts.
        assert_eq!(f[0].after.to_s, 4.0);
    }

    /// 10 ms bins over `secs`: 20 frames a bin, each member's share from `p0(t)` (%), none
    /// while `silent(t)`.
    fn timeline(secs: f64, p0: impl Fn(f64) -> u64, silent: impl Fn(f64) -> bool) -> RxReport {
        let n = (secs * 100.0).round() as usize;
        let mut r = report(&vec![(0, 0); n]);
        for (i, b) in r.timeline.iter_mut().enumerate() {
            let t = i as f64 * 0.01;
            let a = if silent(t) { 0 } else { p0(t) * 20 / 100 };
            let rest = if silent(t) { 0 } else { 20 - a };
            (b.t_s, b.width_s, b.member_rx, b.rx) = (t, 0.01, vec![a, rest], vec![a + rest]);
        }
        r
    }

    #[test]
    fn restore_is_measured_and_a_flap_before_it_overlaps() {
        // LACP: link 0 down 2.0-2.4 s and back in the aggregation at 5.4 s; link 1 down
        // 4.0-4.4 s while link 0 is still out (nothing flows) and back at 7.4 s.
        let p0 = |t: f64| match t {
            t if t < 2.0 => 50,
            t if t < 5.4 => 0,
            t if t < 7.4 => 100,
            _ => 50,
        };
        let r = timeline(10.0, p0, |t| (4.0..5.4).contains(&t));
        let recs = [record(2.0, 2.4), FlapRecord { number: 2, link_idx: vec![1], ..record(4.0, 4.4) }];
        let f = flaps(seen(&r, &members()), &recs, 0.5, &[], 10.0);
        let first = f[0].restore.as_ref().expect("measured");
        assert!((first.rejoined_ms.unwrap() - 3000.0).abs() < 20.0, "{first:?}");
        assert_eq!(first.restore_ms, None, "flap 2 came first");
        assert_eq!(f[0].overlapped_by, Some(2));
        let o = f[1].overlaps.as_ref().expect("flap 2 overlaps");
        assert_eq!((o.flap, o.links.clone()), (1, vec!["s0".to_string()]));
        assert!((o.rejoined_ms.unwrap() - 3000.0).abs() < 20.0, "{o:?}");
        // Flap 2's link is back at 7.4 s, its share the 50% before flap 1 (not its 100% before
        // flap 2, when link 0 was out).
        let second = f[1].restore.as_ref().unwrap();
        assert!((second.restore_ms.unwrap() - 3000.0).abs() < 20.0, "{second:?}");
        // The same flaps 4 s apart, each link back 1 s after up: neither overlaps.
        let p0 = |t: f64| match t {
            t if (2.0..3.4).contains(&t) => 0,
            t if (6.0..7.4).contains(&t) => 100,
            _ => 50,
        };
        let r = timeline(10.0, p0, |_| false);
        let recs = [record(2.0, 2.4), FlapRecord { number: 2, link_idx: vec![1], ..record(6.0, 6.4) }];
        let f = flaps(seen(&r, &members()), &recs, 0.5, &[], 10.0);
        assert!(f.iter().all(|f| f.overlaps.is_none() && f.overlapped_by.is_none()), "{f:?}");
        for x in &f {
            let ms = x.restore.as_ref().unwrap().restore_ms.unwrap();
            assert!((ms - 1000.0).abs() < 20.0, "{x:?}");
        }
        // No timeline at all: no restore, no overlap, no panic.
        let empty = report(&[]);
        let f = flaps(seen(&empty, &members()), &recs, 0.0, &[], 10.0);
        assert!(f.iter().all(|f| f.restore.is_none() && f.overlaps.is_none()));
        assert!(flaps(seen(&empty, &members()), &[], 0.0, &[], 10.0).is_empty());
    }

    #[test]
    fn a_loss_under_the_resolution_gets_a_loss_derived_time() {
        // 52 frames lost, no silence long enough to see: 52 / (2000 pps x 50%) = 52 ms.
        let mut r = timeline(10.0, |_| 50, |_| false);
        r.analysis = Some(Analysis {
            tracked: Tracked { received: 10_000, lost: 52, loss_pct: 0.5, ..Default::default() },
            ..Default::default()
        });
        let f = &flaps(seen(&r, &members()), &[record(4.0, 4.5)], 0.5, &[(3.5, 0), (4.5, 52)], 10.0)[0];
        assert_eq!((f.outage_ms, f.lost, f.flows_hit), (0.0, 52, 0));
        assert!(f.failover.below_resolution);
        assert!((f.failover.loss_derived_ms.unwrap() - 52.0).abs() < 1e-6, "{:?}", f.failover);
        assert_eq!(f.failover.offered_from, Some("before-window"));
    }
}
