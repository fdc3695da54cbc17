//! Pass or fail: every flap recovered, and the figures within the limits the user gave.

use serde::Serialize;

use super::analyze::{FlapResult, Unexplained};

use vflag_contract::value::LossLimit;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Limits {
    pub max_outage_ms: Option<f64>,
    pub max_loss: Option<LossLimit>,
    pub min_member_share: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Verdict {
    pub pass: bool,
    /// One line per failed check, naming the figure and the limit (in the JSON: the lines).
    #[serde(serialize_with = "lines")]
    pub failures: Vec<Failure>,
    /// The whole-soak checks that were judged, passed or not (each a testcase of `--junit`).
    #[serde(skip)]
    pub soak_checks: Vec<&'static str>,
    /// What was shown but not judged, and why (overlapping flaps).
    pub notes: Vec<String>,
}

/// A failed check: its flap (None: the whole soak), which check, and the line saying why.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub flap: Option<usize>,
    pub check: &'static str,
    pub line: String,
}

fn lines<S: serde::Serializer>(f: &[Failure], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(f.iter().map(|f| &f.line))
}

/// The whole-soak check of `--reflect`.
pub const ROUND_TRIP: &str = "round trip measured";

impl Verdict {
    /// A check of one flap failed.
    pub(super) fn flap(&mut self, flap: usize, check: &'static str, line: String) {
        self.failures.push(Failure { flap: Some(flap), check, line });
    }

    /// A check of the whole soak was judged.
    pub(super) fn judged(&mut self, check: &'static str) {
        if !self.soak_checks.contains(&check) {
            self.soak_checks.push(check);
        }
    }

    /// A check of the whole soak failed.
    pub(super) fn soak(&mut self, check: &'static str, line: String) {
        self.judged(check);
        self.failures.push(Failure { flap: None, check, line });
    }

    /// `--reflect`: the far side must have measured the round trip, else the soak judged only
    /// the way in while saying it judged both.
    /// `unfetched`: why the far side's report could not be fetched, when it could not.
    pub fn round_trip(&mut self, rt: Option<&super::round_trip::RoundTrip>, unfetched: Option<&str>) {
        match rt {
            Some(r) if r.received > 0 => self.judged(ROUND_TRIP),
            Some(r) => self.soak(
                ROUND_TRIP,
                format!("round trip: none of the far side's {} frames came back (see gen.log)", r.sent),
            ),
            None => self.soak(
                ROUND_TRIP,
                match unfetched {
                    Some(e) => format!("round trip: the far side's report was not fetched: {e} (see gen.log)"),
                    None => "round trip: the far side wrote no report (see gen.log)".into(),
                },
            ),
        }
        self.pass = self.failures.is_empty();
    }

    /// `--reflect`: the way back is judged as the way in is, flap by flap (those the receive
    /// side judges: not cut short, not overlapping): `--max-outage-ms` against the round trip's
    /// longest flow silence, `--min-member-share` against the DUT's egress split over the links
    /// before and after each flap.
    pub fn round_trip_limits(
        &mut self,
        limits: &Limits,
        rt: &super::round_trip::RoundTrip,
        flaps: &[FlapResult],
        links: &[String],
    ) {
        let judged = |n: usize| flaps.iter().any(|f| f.number == n && !f.cut_short && f.overlaps.is_none());
        for f in rt.flaps.iter().filter(|f| judged(f.flap)) {
            if let Some(max) = limits.max_outage_ms.filter(|max| f.longest_flow_ms > *max) {
                self.flap(
                    f.flap,
                    OUTAGE,
                    format!(
                        "flap {}: round trip: {} flow(s) silent up to {:.1} ms > --max-outage-ms {max}",
                        f.flap, f.flows_hit, f.longest_flow_ms
                    ),
                );
            }
            let Some(min) = limits.min_member_share else { continue };
            let overlapped = flaps.iter().any(|x| x.number == f.flap && x.overlapped_by.is_some());
            let windows = if overlapped {
                &[("before", &f.egress_before)][..]
            } else {
                &[("before", &f.egress_before), ("after", &f.egress_after)][..]
            };
            for &(when, w) in windows {
                let Some(w) = w else {
                    let line = format!("flap {} egress {when}: no link counters measured the DUT's transmit", f.flap);
                    self.flap(f.flap, SHARE, line);
                    continue;
                };
                for (l, s) in links.iter().zip(&w.shares_pct).filter(|(_, s)| **s < min) {
                    let line =
                        format!("flap {} egress {when}: {l} carried {s:.1}% < --min-member-share {min}%", f.flap);
                    self.flap(f.flap, SHARE, line);
                }
            }
        }
        self.pass = self.failures.is_empty();
    }

    /// The failure lines, as soak.json has them.
    #[cfg(test)]
    pub fn lines(&self) -> Vec<&str> {
        self.failures.iter().map(|f| f.line.as_str()).collect()
    }
}

/// The checks, as `--junit` names them (a flap's are its failures' `type`; the whole soak's
/// are testcases of their own).
pub const RECOVERED: &str = "recovered";
pub const OUTAGE: &str = "--max-outage-ms";
pub const UNEXPLAINED: &str = "outages with no flap (--max-outage-ms)";
pub const LOSS: &str = "loss over the soak (--max-loss)";
pub const SHARE: &str = "--min-member-share";
pub const SHARES_MEASURED: &str = "shares measured (--min-member-share)";

/// Tracked totals of the whole soak.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LossTotals {
    pub received: u64,
    pub lost: u64,
    pub loss_pct: f64,
    /// vflag-dp frames the receiver did not track: another run's (a stale generator, a
    /// forged frame), or flows beyond its --track-flows.
    pub other_run: u64,
    pub untracked_flow: u64,
}

/// `members`: the receiver's bond members; `links`: the links whose counters were sampled.
/// `--min-member-share` judges the members' shares, else (a VF sees no members) the links'.
pub fn judge(
    limits: &Limits,
    flaps: &[FlapResult],
    unexplained: &[Unexplained],
    loss: Option<LossTotals>,
    members: &[String],
    links: &[String],
) -> Verdict {
    let mut v = Verdict { notes: flaps.iter().filter_map(overlap_note).collect(), ..Verdict::default() };
    // A flap the soak was interrupted in has no after-window to judge it by; one that went down
    // while an earlier flap's link was still out measures the schedule, not the failover.
    let flaps: Vec<&FlapResult> = flaps.iter().filter(|f| !f.cut_short && f.overlaps.is_none()).collect();
    for f in flaps.iter().filter(|f| !f.recovered) {
        v.flap(
            f.number,
            RECOVERED,
            format!("flap {}: traffic did not resume after {} came back", f.number, f.links.join("+")),
        );
    }
    if let Some(max) = limits.max_outage_ms {
        for f in flaps.iter().filter(|f| f.outage_ms > max) {
            v.flap(
                f.number,
                OUTAGE,
                format!("flap {}: outage {:.1} ms > --max-outage-ms {max}", f.number, f.outage_ms),
            );
        }
        v.judged(UNEXPLAINED);
        for u in unexplained.iter().filter(|u| u.duration_ms > max) {
            v.soak(
                UNEXPLAINED,
                format!("outage at {:.3} s with no flap: {:.1} ms > --max-outage-ms {max}", u.start_s, u.duration_ms),
            );
        }
    }
    if limits.max_loss.is_some() {
        v.judged(LOSS);
    }
    match (limits.max_loss, loss) {
        // A loss figure over a minority of the frames judged too little to pass on.
        (Some(_), Some(l)) if l.other_run + l.untracked_flow > l.received => v.soak(
            LOSS,
            format!(
                "--max-loss: only {} of {} vflag-dp frames were tracked ({} of another run, {} of flows beyond \
             --track-flows); the loss figure covers too little to judge",
                l.received,
                l.received + l.other_run + l.untracked_flow,
                l.other_run,
                l.untracked_flow
            ),
        ),
        (Some(LossLimit::Frames(max)), Some(l)) if l.lost > max => {
            v.soak(LOSS, format!("lost {} tracked frames > --max-loss {max}", l.lost))
        }
        (Some(LossLimit::Percent(max)), Some(l)) if l.loss_pct > max => {
            v.soak(LOSS, format!("lost {:.4}% of tracked frames > --max-loss {max}%", l.loss_pct))
        }
        (Some(_), None) => v.soak(
            LOSS,
            "--max-loss: no tracked traffic was received to count loss on (foreign traffic, as from \
             --traffic-cmd, carries no sequence numbers: judge its flows' outages with --max-outage-ms)"
                .into(),
        ),
        _ => {}
    }
    if let Some(min) = limits.min_member_share {
        v.judged(SHARES_MEASURED);
        if members.is_empty() && links.is_empty() {
            v.soak(
                SHARES_MEASURED,
                "--min-member-share: no shares were measured (the receiver has no bond members; \
                 give --link-counters with the links)"
                    .into(),
            );
        }
        // Shares only mean something while every link is up: before each flap and after it.
        for f in &flaps {
            // The next flap came before this one's link was back: its after-window is not steady.
            let windows = if f.overlapped_by.is_some() {
                &[("before", &f.before)][..]
            } else {
                &[("before", &f.before), ("after", &f.after)][..]
            };
            for &(when, w) in windows {
                let (names, shares) = if !members.is_empty() {
                    (members, Some(&w.shares_pct))
                } else {
                    (links, w.links.as_ref().map(|l| &l.shares_pct))
                };
                let Some(shares) = shares else {
                    if !names.is_empty() {
                        v.flap(f.number, SHARE, format!("flap {} {when}: no link counters cover it", f.number));
                    }
                    continue;
                };
                for (m, s) in names.iter().zip(shares).filter(|(_, s)| **s < min) {
                    v.flap(
                        f.number,
                        SHARE,
                        format!("flap {} {when}: {m} carried {s:.1}% < --min-member-share {min}%", f.number),
                    );
                }
            }
        }
    }
    v.pass = v.failures.is_empty();
    v
}

/// "flap 2: s1 went down while s0 was still out of the aggregation (it rejoined 2.9 s after up);
/// not judged, nor flap 1's after-window".
fn overlap_note(f: &FlapResult) -> Option<String> {
    let o = f.overlaps.as_ref()?;
    let back = match o.rejoined_ms {
        Some(ms) => format!("it rejoined {:.1} s after up", ms / 1e3),
        None => "it had not rejoined before it went down again or the soak ended".into(),
    };
    Some(format!(
        "flap {}: {} went down while {} was still out of the aggregation ({back}); not judged, nor flap {}'s after-window",
        f.number,
        f.links.join("+"),
        o.links.join("+"),
        o.flap
    ))
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use crate::soak::analyze::{LinkWindow, Window};

    pub fn flap(number: usize, outage_ms: f64, recovered: bool, after: Vec<f64>) -> FlapResult {
        FlapResult {
            number,
            links: vec!["s0".into()],
            down_s: 1.0,
            up_s: 1.5,
            down_ms: 500.0,
            outage_ms,
            total_outage_ms: 0.0,
            flows_hit: 4,
            lost: 10,
            late: 0,
            recovered,
            cut_short: false,
            before: Window { shares_pct: vec![50.0, 50.0], ..Default::default() },
            during: Window::default(),
            after: Window { shares_pct: after, ..Default::default() },
            failover: Default::default(),
            restore: None,
            overlaps: None,
            overlapped_by: None,
            latency: None,
        }
    }

    fn members() -> Vec<String> {
        vec!["p0".into(), "p1".into()]
    }

    #[test]
    fn passes_within_limits_and_names_each_failure() {
        let limits =
            Limits { max_outage_ms: Some(600.0), max_loss: Some(LossLimit::Frames(100)), min_member_share: Some(30.0) };
        let loss = Some(LossTotals { received: 1000, lost: 20, loss_pct: 2.0, ..Default::default() });
        let ok = [flap(1, 550.0, true, vec![48.0, 52.0])];
        let v = judge(&limits, &ok, &[], loss, &members(), &[]);
        assert!(v.pass && v.failures.is_empty(), "{v:?}");
        assert_eq!(v.soak_checks, [UNEXPLAINED, LOSS, SHARES_MEASURED], "every whole-soak check is judged, passed");
        assert!(v.notes.is_empty());

        let bad = [flap(1, 700.0, true, vec![80.0, 20.0]), flap(2, 100.0, false, vec![50.0, 50.0])];
        let unexplained = [Unexplained { start_s: 0.5, duration_ms: 900.0, flows: 0, lost: 0 }];
        let lossy = Some(LossTotals { received: 1000, lost: 200, loss_pct: 20.0, ..Default::default() });
        let v = judge(&limits, &bad, &unexplained, lossy, &members(), &[]);
        assert!(!v.pass);
        assert_eq!(
            v.lines(),
            vec![
                "flap 2: traffic did not resume after s0 came back",
                "flap 1: outage 700.0 ms > --max-outage-ms 600",
                "outage at 0.500 s with no flap: 900.0 ms > --max-outage-ms 600",
                "lost 200 tracked frames > --max-loss 100",
                "flap 1 after: p1 carried 20.0% < --min-member-share 30%",
            ]
        );
        let pct = Limits { max_loss: Some(LossLimit::Percent(1.0)), ..Default::default() };
        assert_eq!(
            judge(&pct, &ok, &[], lossy, &members(), &[]).lines(),
            vec!["lost 20.0000% of tracked frames > --max-loss 1%"]
        );
        assert!(!judge(&pct, &ok, &[], None, &members(), &[]).pass, "a loss limit with nothing tracked cannot pass");
        // One stray frame tracked, the real run's thousand not: no 0% loss PASS.
        let stray = Some(LossTotals { received: 1, other_run: 1000, ..Default::default() });
        let zero = Limits { max_loss: Some(LossLimit::Frames(0)), ..Default::default() };
        assert_eq!(
            judge(&zero, &ok, &[], stray, &members(), &[]).lines(),
            ["--max-loss: only 1 of 1001 vflag-dp frames were tracked (1000 of another run, 0 of flows beyond \
              --track-flows); the loss figure covers too little to judge"]
        );
        let few = Some(LossTotals { received: 1000, other_run: 5, untracked_flow: 5, ..Default::default() });
        assert!(judge(&zero, &ok, &[], few, &members(), &[]).pass, "a few left out: judged as usual");
    }

    #[test]
    fn each_failure_knows_its_flap_and_check_and_the_json_keeps_the_lines() {
        let limits =
            Limits { max_outage_ms: Some(600.0), max_loss: Some(LossLimit::Frames(100)), min_member_share: Some(30.0) };
        let bad = [flap(1, 700.0, true, vec![80.0, 20.0]), flap(2, 100.0, false, vec![50.0, 50.0])];
        let lossy = Some(LossTotals { received: 1000, lost: 200, loss_pct: 20.0, ..Default::default() });
        let v = judge(&limits, &bad, &[], lossy, &members(), &[]);
        let who: Vec<(Option<usize>, &str)> = v.failures.iter().map(|f| (f.flap, f.check)).collect();
        assert_eq!(who, [(Some(2), RECOVERED), (Some(1), OUTAGE), (None, LOSS), (Some(1), SHARE)]);
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["failures"], serde_json::json!(v.lines()));
        assert_eq!(json.as_object().unwrap().len(), 3, "pass, failures and notes: {json}");
    }

    #[test]
    fn without_members_the_share_limit_judges_the_link_counters_or_fails() {
        let limits = Limits { min_member_share: Some(30.0), ..Default::default() };
        let links = vec!["enp1s0f0np0".to_string(), "enp1s0f1np1".to_string()];
        let on_links = |before: Vec<f64>, after: Option<Vec<f64>>| {
            let w = |s: Vec<f64>| Window {
                links: Some(LinkWindow { shares_pct: s, ..Default::default() }),
                ..Default::default()
            };
            let mut f = flap(1, 100.0, true, vec![]);
            f.before = w(before);
            f.after = after.map_or_else(Window::default, w);
            f
        };
        let ok = [on_links(vec![45.0, 55.0], Some(vec![50.0, 50.0]))];
        assert_eq!(judge(&limits, &ok, &[], None, &[], &links).lines(), Vec::<&str>::new());
        let skewed = [on_links(vec![45.0, 55.0], Some(vec![90.0, 10.0]))];
        assert_eq!(
            judge(&limits, &skewed, &[], None, &[], &links).lines(),
            vec!["flap 1 after: enp1s0f1np1 carried 10.0% < --min-member-share 30%"]
        );
        let uncovered = [on_links(vec![50.0, 50.0], None)];
        assert_eq!(
            judge(&limits, &uncovered, &[], None, &[], &links).lines(),
            vec!["flap 1 after: no link counters cover it"]
        );
        // A VF with nothing to split it by cannot pass a share limit.
        let v = judge(&limits, &ok, &[], None, &[], &[]);
        assert!(!v.pass);
        assert!(v.lines()[0].starts_with("--min-member-share: no shares were measured"), "{:?}", v.failures);
    }

    #[test]
    fn a_flap_cut_short_by_an_interrupt_is_not_judged() {
        let limits = Limits { max_outage_ms: Some(100.0), min_member_share: Some(30.0), ..Default::default() };
        let mut cut = flap(2, 900.0, false, vec![100.0, 0.0]);
        cut.cut_short = true;
        let v = judge(&limits, &[flap(1, 50.0, true, vec![50.0, 50.0]), cut.clone()], &[], None, &members(), &[]);
        assert_eq!(v.lines(), Vec::<&str>::new());
        cut.cut_short = false;
        let v = judge(&limits, &[cut], &[], None, &members(), &[]);
        assert_eq!(v.failures.len(), 3, "{:?}", v.failures);
    }

    #[test]
    fn an_overlapping_flap_is_a_note_not_a_failure() {
        use crate::soak::restore::Overlap;
        let limits = Limits { max_outage_ms: Some(100.0), min_member_share: Some(30.0), ..Default::default() };
        // Flap 1's link is still out when flap 2 takes the other down: all traffic stops.
        let mut first = flap(1, 5.0, true, vec![0.0, 100.0]);
        first.overlapped_by = Some(2);
        let mut second = flap(2, 1300.0, false, vec![0.0, 0.0]);
        second.links = vec!["s1".into()];
        second.overlaps = Some(Overlap { flap: 1, links: vec!["s0".into()], rejoined_ms: Some(2900.0) });
        let v = judge(&limits, &[first.clone(), second.clone()], &[], None, &members(), &[]);
        assert!(v.failures.is_empty(), "{:?}", v.failures);
        assert_eq!(
            v.notes,
            ["flap 2: s1 went down while s0 was still out of the aggregation (it rejoined 2.9 s after up); \
              not judged, nor flap 1's after-window"]
        );
        // Without the overlap both would fail.
        (first.overlapped_by, second.overlaps) = (None, None);
        assert_eq!(judge(&limits, &[first, second], &[], None, &members(), &[]).failures.len(), 5);
    }

    #[test]
    fn the_way_back_is_judged_as_the_way_in() {
        use crate::soak::round_trip::{FlapRoundTrip, RoundTrip};
        let limits = Limits { max_outage_ms: Some(100.0), min_member_share: Some(30.0), ..Default::default() };
        let split = |a: f64| Some(LinkWindow { shares_pct: vec![a, 100.0 - a], ..Default::default() });
        let back = |n: usize, ms: f64, after: f64| FlapRoundTrip {
            flap: n,
            flows_hit: 3,
            longest_flow_ms: ms,
            egress_before: split(60.0),
            egress_after: split(after),
            ..Default::default()
        };
        let rt = RoundTrip { flaps: vec![back(1, 40.0, 62.0), back(2, 250.0, 90.0)], ..Default::default() };
        let flaps = [flap(1, 10.0, true, vec![50.0, 50.0]), flap(2, 10.0, true, vec![50.0, 50.0])];
        let links = vec!["p0".to_string(), "p1".to_string()];
        let mut v = judge(&limits, &flaps, &[], None, &members(), &[]);
        v.round_trip_limits(&limits, &rt, &flaps, &links);
        assert_eq!(
            v.lines(),
            [
                "flap 2: round trip: 3 flow(s) silent up to 250.0 ms > --max-outage-ms 100",
                "flap 2 egress after: p1 carried 10.0% < --min-member-share 30%",
            ]
        );
        assert!(!v.pass);
        // A flap cut short is not judged on the way back either; egress no counter measured fails.
        let mut cut = flaps.clone();
        cut[1].cut_short = true;
        let rt = RoundTrip {
            flaps: vec![FlapRoundTrip { egress_before: None, ..back(1, 40.0, 62.0) }, back(2, 250.0, 90.0)],
            ..Default::default()
        };
        let mut v = judge(&limits, &cut, &[], None, &members(), &[]);
        v.round_trip_limits(&limits, &rt, &cut, &links);
        assert_eq!(v.lines(), ["flap 1 egress before: no link counters measured the DUT's transmit"]);
    }
}
