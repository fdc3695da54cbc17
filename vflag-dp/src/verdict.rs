//! Pass or fail against the user's thresholds. Each failed threshold is one line naming the
//! figure and the limit; the run then exits 3.

use serde::Serialize;

use crate::parse::LossLimit;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Verdict {
    pub pass: bool,
    /// Thresholds given (none: the run passes by default).
    pub checked: Vec<String>,
    /// Which threshold each of `checked` is.
    #[serde(skip)]
    pub kinds: Vec<Threshold>,
    /// One line per failure (in the JSON: the lines).
    #[serde(serialize_with = "lines")]
    pub failures: Vec<Failure>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threshold {
    MaxOutage,
    MaxLoss,
    MinMemberShare,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The index in `checked` of the threshold that failed.
    pub check: usize,
    pub line: String,
}

fn lines<S: serde::Serializer>(f: &[Failure], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(f.iter().map(|f| &f.line))
}

impl Verdict {
    fn check(&mut self, kind: Threshold, what: String) {
        self.checked.push(what);
        self.kinds.push(kind);
    }

    /// The threshold checked last failed.
    fn fail(&mut self, line: String) {
        self.failures.push(Failure { check: self.checked.len().saturating_sub(1), line });
    }

    /// The failure lines, as the report has them.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.failures.iter().map(|f| f.line.as_str())
    }

    /// As the report and the `end` event carry it.
    pub fn to_report(&self) -> vflag_contract::report::Verdict {
        vflag_contract::report::Verdict {
            pass: self.pass,
            checked: self.checked.clone(),
            failures: self.lines().map(str::to_string).collect(),
        }
    }
}

/// The figures a verdict looks at.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    /// Longest outage of all traffic or of any tracked flow, ms (None: no outage).
    pub max_outage_ms: Option<f64>,
    /// Tracked frames lost, and tracked frames expected (received + lost).
    pub lost: u64,
    pub expected: u64,
    /// vflag-dp frames received that were not judged: another run's, or flows beyond
    /// --track-flows (None: the receiver does not analyse).
    pub not_tracked: Option<NotTracked>,
    /// Each bond member's share of received (or sent) frames, % (name, share).
    pub member_shares: Vec<(String, f64)>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct NotTracked {
    pub other_run: u64,
    pub untracked_flow: u64,
}

/// The thresholds given (`--max-outage-ms`, `--max-loss`, `--min-member-share`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Limits {
    pub max_outage_ms: Option<f64>,
    pub max_loss: Option<LossLimit>,
    pub min_member_share: Option<f64>,
}

pub fn judge(f: &Figures, l: &Limits) -> Verdict {
    let mut v = Verdict::default();
    if let Some(max) = l.max_outage_ms {
        v.check(Threshold::MaxOutage, format!("max outage {max} ms"));
        if let Some(o) = f.max_outage_ms.filter(|o| *o > max) {
            v.fail(format!("outage of {o:.1} ms exceeds --max-outage-ms {max}"));
        }
    }
    if let (Some(limit), Some(n)) = (l.max_loss, f.not_tracked) {
        if let Some(why) = judged_too_little(f.expected - f.lost, n) {
            v.check(Threshold::MaxLoss, format!("max loss {}", limit_text(limit)));
            v.fail(format!("--max-loss {}: {why}", limit_text(limit)));
            v.pass = false;
            return finish(v, f, l);
        }
    }
    match l.max_loss {
        Some(LossLimit::Frames(max)) => {
            v.check(Threshold::MaxLoss, format!("max loss {max} frames"));
            if f.lost > max {
                v.fail(format!("{} frames lost exceeds --max-loss {max}", f.lost));
            }
        }
        Some(LossLimit::Percent(max)) => {
            v.check(Threshold::MaxLoss, format!("max loss {max}%"));
            let pct = if f.expected == 0 { 0.0 } else { f.lost as f64 * 100.0 / f.expected as f64 };
            if pct > max {
                v.fail(format!("loss of {pct:.4}% ({} frames) exceeds --max-loss {max}%", f.lost));
            }
        }
        None => {}
    }
    finish(v, f, l)
}

/// Why a loss figure over `tracked` frames says too little, with `n` of vflag-dp's frames
/// left out of it: none tracked, or fewer tracked than left out.
fn judged_too_little(tracked: u64, n: NotTracked) -> Option<String> {
    let left_out = n.other_run + n.untracked_flow;
    let detail = format!("{} of another run, {} of flows beyond --track-flows", n.other_run, n.untracked_flow);
    if tracked == 0 {
        return Some(format!("no tracked frame arrived ({detail}), so there is no loss figure to judge"));
    }
    (left_out > tracked).then(|| {
        format!(
            "only {tracked} of {} vflag-dp frames were tracked ({detail}); the loss figure covers too little to judge",
            tracked + left_out
        )
    })
}

fn limit_text(l: LossLimit) -> String {
    match l {
        LossLimit::Frames(n) => n.to_string(),
        LossLimit::Percent(p) => format!("{p}%"),
    }
}

/// The member-share threshold, then pass or fail.
fn finish(mut v: Verdict, f: &Figures, l: &Limits) -> Verdict {
    if let Some(min) = l.min_member_share {
        v.check(Threshold::MinMemberShare, format!("min member share {min}%"));
        if f.member_shares.is_empty() {
            v.fail(format!("--min-member-share {min}% given but no bond member was seen"));
        }
        for (name, share) in &f.member_shares {
            if *share < min {
                v.fail(format!("member {name} carried {share:.1}% of the traffic, under --min-member-share {min}%"));
            }
        }
    }
    v.pass = v.failures.is_empty();
    v
}

/// What a JUnit file says beside the verdict: when the run started, how long it took, and
/// the run's own facts (suite properties).
pub struct RunFacts {
    pub started_unix_s: f64,
    pub duration_s: f64,
    pub properties: Vec<junit::Property>,
}

/// `--junit`: one testcase per threshold given, failed with its lines; its figure as the
/// testcase's properties and a line of them as its system-out.
pub fn junit(v: &Verdict, f: &Figures, run: RunFacts) -> junit::Testsuites {
    const CLASS: &str = "vflag.dp";
    let cases = v
        .checked
        .iter()
        .zip(&v.kinds)
        .enumerate()
        .map(|(i, (name, kind))| {
            let mut c = junit::Testcase::new(CLASS, name.clone());
            c.time_s = run.duration_s;
            c.properties = figures(f, *kind);
            c.system_out =
                Some(c.properties.iter().map(|p| format!("{} {}", p.name, p.value)).collect::<Vec<_>>().join(", "));
            let lines: Vec<String> = v.failures.iter().filter(|x| x.check == i).map(|x| x.line.clone()).collect();
            if !lines.is_empty() {
                let option = match kind {
                    Threshold::MaxOutage => "--max-outage-ms",
                    Threshold::MaxLoss => "--max-loss",
                    Threshold::MinMemberShare => "--min-member-share",
                };
                c.fail(option, &lines);
            }
            c
        })
        .collect();
    junit::Testsuites {
        name: "vflag-dp".into(),
        suites: vec![junit::Testsuite {
            name: CLASS.into(),
            timestamp_unix_s: Some(run.started_unix_s),
            time_s: run.duration_s,
            properties: run.properties,
            cases,
        }],
    }
}

fn figures(f: &Figures, kind: Threshold) -> Vec<junit::Property> {
    use junit::Property as P;
    match kind {
        Threshold::MaxOutage => {
            vec![P::new("max_outage_ms", f.max_outage_ms.map_or_else(|| "none".into(), |o| format!("{o:.1}")))]
        }
        Threshold::MaxLoss => {
            let pct = if f.expected == 0 { 0.0 } else { f.lost as f64 * 100.0 / f.expected as f64 };
            let mut p =
                vec![P::new("lost", f.lost), P::new("expected", f.expected), P::new("loss_pct", format!("{pct:.4}"))];
            if let Some(n) = f.not_tracked {
                p.push(P::new("other_run", n.other_run));
                p.push(P::new("untracked_flow", n.untracked_flow));
            }
            p
        }
        Threshold::MinMemberShare => {
            f.member_shares.iter().map(|(m, s)| P::new(format!("share_pct.{m}"), format!("{s:.1}"))).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits { max_outage_ms: Some(500.0), max_loss: Some(LossLimit::Percent(1.0)), min_member_share: Some(30.0) }
    }

    #[test]
    fn passes_within_limits() {
        let f = Figures {
            max_outage_ms: Some(120.0),
            lost: 5,
            expected: 10_000,
            member_shares: vec![("net_memif0".into(), 48.0), ("net_memif1".into(), 52.0)],
            not_tracked: None,
        };
        let v = judge(&f, &limits());
        assert!(v.pass, "{v:?}");
        assert_eq!(v.checked.len(), 3);
    }

    #[test]
    fn each_failure_names_figure_and_limit() {
        let f = Figures {
            max_outage_ms: Some(812.5),
            lost: 300,
            expected: 10_000,
            member_shares: vec![("m0".into(), 95.0), ("m1".into(), 5.0)],
            not_tracked: Some(NotTracked::default()),
        };
        let v = judge(&f, &limits());
        assert!(!v.pass);
        assert_eq!(
            v.lines().collect::<Vec<_>>(),
            vec![
                "outage of 812.5 ms exceeds --max-outage-ms 500".to_string(),
                "loss of 3.0000% (300 frames) exceeds --max-loss 1%".to_string(),
                "member m1 carried 5.0% of the traffic, under --min-member-share 30%".to_string(),
            ]
        );
        let v = judge(
            &Figures { lost: 11, ..Default::default() },
            &Limits { max_outage_ms: None, max_loss: Some(LossLimit::Frames(10)), min_member_share: None },
        );
        assert_eq!(v.lines().collect::<Vec<_>>(), ["11 frames lost exceeds --max-loss 10"]);
    }

    #[test]
    fn junit_has_a_testcase_per_threshold_with_its_failures() {
        let f = Figures {
            max_outage_ms: Some(812.5),
            lost: 5,
            expected: 10_000,
            member_shares: vec![("m0".into(), 95.0), ("m1\"<&>".into(), 5.0)],
            not_tracked: Some(NotTracked::default()),
        };
        let v = judge(&f, &limits());
        let run = RunFacts { started_unix_s: 0.0, duration_s: 2.0, properties: vec![] };
        let xml = junit(&v, &f, run).to_xml();
        let d = roxmltree::Document::parse(&xml).unwrap();
        let cases: Vec<_> = d.descendants().filter(|n| n.has_tag_name("testcase")).collect();
        let got: Vec<(&str, Option<&str>)> = cases
            .iter()
            .map(|c| {
                let fail = c.children().find(|n| n.has_tag_name("failure"));
                (c.attribute("name").unwrap(), fail.and_then(|n| n.attribute("message")))
            })
            .collect();
        assert_eq!(
            got,
            [
                ("max outage 500 ms", Some("outage of 812.5 ms exceeds --max-outage-ms 500")),
                ("max loss 1%", None),
                (
                    "min member share 30%",
                    Some("member m1\"<&> carried 5.0% of the traffic, under --min-member-share 30%")
                ),
            ]
        );
        let prop = cases[0].descendants().find(|n| n.has_tag_name("property")).unwrap();
        assert_eq!((prop.attribute("name"), prop.attribute("value")), (Some("max_outage_ms"), Some("812.5")));
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["failures"], serde_json::json!(v.lines().collect::<Vec<_>>()), "the report keeps its lines");
        assert_eq!(json.as_object().unwrap().len(), 3, "{json}");
    }

    #[test]
    fn no_limits_pass() {
        let v = judge(
            &Figures { lost: 1_000_000, ..Default::default() },
            &Limits { max_outage_ms: None, max_loss: None, min_member_share: None },
        );
        assert!(v.pass && v.checked.is_empty());
    }

    #[test]
    fn a_loss_limit_over_too_little_tracked_traffic_fails_with_the_reason() {
        let l = Limits { max_outage_ms: None, max_loss: Some(LossLimit::Frames(0)), min_member_share: None };
        // One stray frame was tracked, a thousand real ones were not.
        let f = Figures {
            expected: 1,
            not_tracked: Some(NotTracked { other_run: 1000, untracked_flow: 0 }),
            ..Default::default()
        };
        let v = judge(&f, &l);
        assert!(!v.pass);
        assert_eq!(
            v.lines().collect::<Vec<_>>(),
            ["--max-loss 0: only 1 of 1001 vflag-dp frames were tracked (1000 of another run, 0 of flows beyond --track-flows); the loss figure covers too little to judge"]
        );
        let none = Figures { not_tracked: Some(NotTracked::default()), ..Default::default() };
        assert_eq!(
            judge(&none, &Limits { max_loss: Some(LossLimit::Percent(1.0)), ..l }).lines().collect::<Vec<_>>(),
            ["--max-loss 1%: no tracked frame arrived (0 of another run, 0 of flows beyond --track-flows), so there is no loss figure to judge"]
        );
        // Some frames left out, most tracked: judged as usual.
        let most = Figures {
            expected: 1000,
            not_tracked: Some(NotTracked { other_run: 3, untracked_flow: 2 }),
            ..Default::default()
        };
        assert!(judge(&most, &l).pass);
    }

    #[test]
    fn member_share_limit_without_members_fails() {
        let v =
            judge(&Figures::default(), &Limits { max_outage_ms: None, max_loss: None, min_member_share: Some(10.0) });
        assert!(!v.pass);
    }
}
