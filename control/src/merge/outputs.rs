//! The merge's files: merged.json (schema `vflag-ctl.merged.v1`) and the JUnit XML, one
//! testsuite per host and one testcase per row. A row that did not run counts as an error in
//! JUnit, as it does in the exit code: a merged report that judged too little must not pass.

use junit::{Outcome as JOutcome, Property, Testcase, Testsuite, Testsuites};
use serde::Serialize;

use super::rows::{Host, Outcome, Row};

pub const SCHEMA: &str = "vflag-ctl.merged.v1";
pub const MARKDOWN: &str = "merged.md";
pub const JSON: &str = "merged.json";
pub const JUNIT: &str = "junit.xml";
pub const CLASS: &str = "vflag.merge";

#[derive(Debug, Serialize)]
pub struct Files {
    pub markdown: String,
    pub json: String,
    pub junit: String,
}

#[derive(Debug, Serialize)]
pub struct Merged<'a> {
    pub schema: &'static str,
    /// Every row passed.
    pub pass: bool,
    /// The one line the table starts with.
    pub summary: String,
    pub hosts: &'a [Host],
    pub rows: &'a [Row],
    pub files: Files,
}

pub fn junit(hosts: &[Host], rows: &[Row]) -> Testsuites {
    let suites = hosts
        .iter()
        .map(|h| {
            let mine: Vec<&Row> = rows.iter().filter(|r| r.host == h.name).collect();
            let e = &h.env;
            let mut properties = vec![Property::new("dir", &h.dir)];
            for (k, v) in [
                ("hostname", &e.hostname),
                ("nic", &e.nic),
                ("firmware", &e.firmware),
                ("kernel", &e.kernel),
                ("dpdk", &e.dpdk),
            ] {
                if let Some(v) = v {
                    properties.push(Property::new(k, v));
                }
            }
            let cases = mine.iter().map(|r| case(r, mine.iter().filter(|o| o.key() == r.key()).count() > 1)).collect();
            Testsuite { name: h.name.clone(), properties, cases, ..Default::default() }
        })
        .collect();
    Testsuites { name: "vflag-ctl report merge".into(), suites }
}

/// `twice`: the same cell ran more than once on this host; its run directory tells them apart.
fn case(r: &Row, twice: bool) -> Testcase {
    let name = if twice { format!("{} ({})", r.key(), r.run) } else { r.key() };
    let mut c = Testcase::new(CLASS, name);
    c.properties.push(Property::new("run", &r.run));
    for (k, v) in [("nic", &r.env.nic), ("firmware", &r.env.firmware), ("kernel", &r.env.kernel), ("dpdk", &r.env.dpdk)]
    {
        if let Some(v) = v {
            c.properties.push(Property::new(k, v));
        }
    }
    if let Some(h) = &r.headline {
        let mut figures = Vec::new();
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                figures.push(format!("{k} {v}"));
                c.properties.push(Property::new(k, v));
            }
        };
        put("worst_failover_ms", h.worst_failover_ms.map(|v| format!("{v:.1}")));
        put("worst_restore_ms", h.worst_restore_ms.map(|v| format!("{v:.1}")));
        put("not_restored", Some(h.not_restored.to_string()));
        put("lost", h.lost.map(|v| v.to_string()));
        put("loss_pct", h.loss_pct.map(|v| format!("{v:.3}")));
        put(
            "shares_pct",
            (!h.shares_pct.is_empty())
                .then(|| h.shares_pct.iter().map(|s| format!("{s:.1}")).collect::<Vec<_>>().join("/")),
        );
        c.system_out = Some(figures.join(", "));
    }
    let problem = |kind: &str| JOutcome::Error {
        kind: kind.into(),
        message: r.problems.first().cloned().unwrap_or_default(),
        text: r.problems.join("\n"),
    };
    match r.outcome {
        Outcome::Pass => {}
        Outcome::Fail => c.fail("verdict", &r.problems),
        Outcome::Error => c.outcome = problem("error"),
        Outcome::NotRun => c.outcome = problem("not-run"),
    }
    c
}

#[cfg(test)]
mod tests {
    use super::super::rows::Kind;
    use super::*;
    use crate::headline::{Headline, HostEnv};

    fn row(host: &str, cell: &str, outcome: Outcome, problems: &[&str]) -> Row {
        Row {
            host: host.into(),
            run: "sweep".into(),
            kind: Kind::SweepCell,
            cell: cell.into(),
            settings: "flap=carrier".into(),
            params: Default::default(),
            outcome,
            env: HostEnv { firmware: Some("22.36.1010".into()), ..Default::default() },
            headline: (outcome != Outcome::NotRun).then(|| Headline {
                worst_failover_ms: Some(12.34),
                shares_pct: vec![50.0, 50.0],
                ..Default::default()
            }),
            problems: problems.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn a_suite_per_host_and_a_case_per_row_with_outcomes_as_the_exit_code_counts_them() {
        let hosts = [
            Host {
                name: "h1".into(),
                dir: "r/h1".into(),
                env: HostEnv { nic: Some("CX6".into()), ..Default::default() },
            },
            Host { name: "h2".into(), dir: "r/h2".into(), env: HostEnv::default() },
        ];
        let rows = [
            row("h1", "a", Outcome::Pass, &[]),
            row("h1", "b", Outcome::Fail, &["flap 1: outage 95 ms > 50 ms"]),
            row("h2", "a", Outcome::Error, &["receiver died"]),
            row("h2", "b", Outcome::NotRun, &["not run"]),
        ];
        let j = junit(&hosts, &rows);
        assert_eq!(
            j.suites.iter().map(|s| (s.name.as_str(), s.cases.len())).collect::<Vec<_>>(),
            [("h1", 2), ("h2", 2)]
        );
        assert_eq!(j.suites[0].properties, [Property::new("dir", "r/h1"), Property::new("nic", "CX6")]);
        let c = &j.suites[0].cases;
        assert_eq!((c[0].name.as_str(), &c[0].outcome), ("a flap=carrier", &JOutcome::Passed));
        assert!(c[0].properties.contains(&Property::new("worst_failover_ms", "12.3")), "{:?}", c[0].properties);
        assert_eq!(c[0].system_out.as_deref(), Some("worst_failover_ms 12.3, not_restored 0, shares_pct 50.0/50.0"));
        assert!(
            matches!(&c[1].outcome, JOutcome::Failure { message, .. } if message == "flap 1: outage 95 ms > 50 ms")
        );
        let c = &j.suites[1].cases;
        assert!(
            matches!(&c[0].outcome, JOutcome::Error { kind, message, .. } if kind == "error" && message == "receiver died")
        );
        assert!(matches!(&c[1].outcome, JOutcome::Error { kind, .. } if kind == "not-run"));

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("j.xml");
        std::fs::write(&file, j.to_xml()).unwrap();
        let cases = junit::schema::cases(&file);
        assert_eq!(cases.iter().map(|c| c.1).collect::<Vec<_>>(), ["passed", "failure", "error", "error"]);
    }
}
