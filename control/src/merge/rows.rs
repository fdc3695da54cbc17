//! The merged report's rows: one per plain soak and one per sweep cell (plus one for a sweep
//! that did not run to its end), each with its environment, outcome, headline figures and, when
//! it did not pass, the reasons in one line each.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use super::collect::Run;
use super::sweep::{self, Cell, SweepReport};
use crate::headline::{read_soak_dir, Headline, HostEnv};

pub use super::sweep::CellOutcome as Outcome;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A plain `vflag-ctl soak`.
    Soak,
    /// One cell of a sweep.
    SweepCell,
    /// The sweep itself, when it did not run to its end or had no cells.
    Sweep,
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The host's label (its directory's name, or `--host-name-from env`).
    pub host: String,
    /// The run's directory, relative to the host's ("." for the host's directory itself).
    pub run: String,
    pub kind: Kind,
    /// "soak" for a plain soak, the cell's name for a sweep cell.
    pub cell: String,
    /// The settings that tell runs apart (`bond=lacp hash=l34 flap=carrier …`).
    pub settings: String,
    pub params: BTreeMap<String, String>,
    pub outcome: Outcome,
    pub env: HostEnv,
    /// Null for a cell that did not run or ended in an error before its report.
    pub headline: Option<Headline>,
    /// Why it did not pass, one line each (empty when it passed).
    pub problems: Vec<String>,
}

impl Row {
    /// What matches the same run on another host: the cell and its settings.
    pub fn key(&self) -> String {
        if self.settings.is_empty() {
            self.cell.clone()
        } else {
            format!("{} {}", self.cell, self.settings)
        }
    }
}

/// The rows of one host's runs (their `host` still empty: the label may come from them).
pub fn rows(base: &Path, runs: &[Run]) -> Result<Vec<Row>> {
    let mut out = Vec::new();
    for r in runs {
        match r {
            Run::Soak(d) => out.push(soak_row(base, d)?),
            Run::Sweep(d) => out.extend(sweep_rows(base, d, &sweep::read(d)?)),
        }
    }
    Ok(out)
}

fn relative(base: &Path, dir: &Path) -> String {
    match dir.strip_prefix(base) {
        Ok(p) if p.as_os_str().is_empty() => ".".into(),
        Ok(p) => p.display().to_string(),
        Err(_) => dir.display().to_string(),
    }
}

fn settings_text(params: &[(&str, String)]) -> String {
    params.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
}

fn params_map(params: &[(&str, String)]) -> BTreeMap<String, String> {
    params.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn soak_row(base: &Path, dir: &Path) -> Result<Row> {
    let (h, env, report) = read_soak_dir(dir)?;
    let s = &report["settings"];
    let params: Vec<(&str, String)> = [("bond", &s["bond"]), ("flap", &s["flap_kind"])]
        .into_iter()
        .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_string())))
        .collect();
    let mut problems = h.failures.clone();
    if !h.complete {
        let how = if h.interrupted { " (interrupted)" } else { "" };
        problems.push(format!("ran {} of {} flaps{how}", h.flaps_done, h.flaps_planned));
    }
    if !h.pass && problems.is_empty() {
        problems.push("the soak's verdict is fail".into());
    }
    // A soak that did not run to its end judged too little to pass a merged report.
    let outcome = if h.pass && h.complete { Outcome::Pass } else { Outcome::Fail };
    Ok(Row {
        host: String::new(),
        run: relative(base, dir),
        kind: Kind::Soak,
        cell: "soak".into(),
        settings: settings_text(&params),
        params: params_map(&params),
        outcome,
        env,
        headline: Some(h),
        problems,
    })
}

fn sweep_rows(base: &Path, dir: &Path, s: &SweepReport) -> Vec<Row> {
    let run = relative(base, dir);
    let mut out: Vec<Row> = s.cells.iter().map(|c| cell_row(&cell_run(base, dir, c), s, c)).collect();
    let unfinished = if s.cells.is_empty() {
        Some("the sweep has no cells".to_string())
    } else if !s.complete {
        Some(format!("the sweep did not run to its end{}", if s.interrupted { " (interrupted)" } else { "" }))
    } else {
        None
    };
    if let Some(why) = unfinished {
        out.push(Row {
            host: String::new(),
            run,
            kind: Kind::Sweep,
            cell: "sweep".into(),
            settings: String::new(),
            params: BTreeMap::new(),
            outcome: Outcome::Error,
            env: HostEnv::from_environment(&s.environment),
            headline: None,
            problems: vec![why],
        });
    }
    out
}

/// Where the cell's own soak directory is here, relative to the host's (its soak.md has the
/// per-flap detail): the sweep's `dir` below the sweep directory, or, when the sweep wrote the
/// DUT's absolute path, its last component there; else the sweep's own directory.
fn cell_run(base: &Path, sweep_dir: &Path, c: &Cell) -> String {
    let here = c.dir.as_deref().map(Path::new).and_then(|d| {
        let d = if d.is_relative() { sweep_dir.join(d) } else { sweep_dir.join(d.file_name()?) };
        d.is_dir().then_some(d)
    });
    relative(base, here.as_deref().unwrap_or(sweep_dir))
}

fn cell_row(run: &str, s: &SweepReport, c: &Cell) -> Row {
    let params = c.params.settings();
    let exit = c.exit_code.map_or(String::new(), |n| format!(" (exit code {n})"));
    let failures = c.headline.as_ref().map(|h| h.failures.clone()).unwrap_or_default();
    let problems = match c.outcome {
        Outcome::Pass => vec![],
        Outcome::Fail if !failures.is_empty() => failures,
        Outcome::Fail => vec![c.error.clone().unwrap_or(format!("the soak's verdict is fail{exit}"))],
        Outcome::Error => vec![c.error.clone().unwrap_or(format!("the soak ended in an error{exit}"))],
        Outcome::NotRun => vec![c.error.clone().unwrap_or("not run".into())],
    };
    Row {
        host: String::new(),
        run: run.to_string(),
        kind: Kind::SweepCell,
        cell: c.name.clone(),
        settings: settings_text(&params),
        params: params_map(&params),
        outcome: c.outcome,
        env: s.cell_env(c),
        headline: c.headline.clone(),
        problems,
    }
}

/// The hostname the host's runs recorded, when they agree on one.
pub fn recorded_hostname(rows: &[Row]) -> Result<String, String> {
    let mut names: Vec<&str> = rows.iter().filter_map(|r| r.env.hostname.as_deref()).collect();
    names.sort_unstable();
    names.dedup();
    match names.as_slice() {
        [one] => Ok(one.to_string()),
        [] => Err("no report in it records a hostname".into()),
        many => Err(format!("its reports record different hostnames ({})", many.join(", "))),
    }
}

/// For tests here and in the other modules: a soak.json as `vflag-ctl soak` writes it, cut to
/// what the merge reads.
/// One host of the merge.
#[derive(Debug, Clone, Serialize)]
pub struct Host {
    pub name: String,
    pub dir: String,
    /// Its first run's environment (every row carries its own).
    pub env: HostEnv,
}

#[cfg(test)]
pub fn soak_fixture(pass: bool, firmware: &str) -> serde_json::Value {
    serde_json::json!({
        "schema": crate::soak::SCHEMA, "complete": true, "interrupted": false,
        "settings": {"mode": "dut", "bond": "lacp", "flap_kind": "carrier", "flaps": 3},
        "environment": {"host": "mlx5", "hostname": "dut-a", "nic": "ConnectX-6 Dx", "firmware": firmware,
                        "kernel": "6.1.0-13-amd64", "dpdk": "DPDK 22.11.4"},
        "totals": {"flaps_planned": 3, "flaps_done": 3,
                   "tracked": {"received": 100000, "lost": 40, "loss_pct": 0.04},
                   "shares_pct": [50.0, 50.0], "link_shares_pct": [],
                   "failover_ms": {"n": 3, "min": 8.0, "median": 9.0, "p99": 11.5, "max": 11.5},
                   "restore_ms": {"n": 3, "min": 200.0, "median": 250.0, "p99": 300.0, "max": 300.0}, "not_restored": 0},
        "verdict": {"pass": pass, "failures": if pass { serde_json::json!([]) } else {
            serde_json::json!([{"flap": 2, "check": "max-outage", "line": "flap 2: outage 61 ms > 50 ms"}]) }}
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn host_dir(files: &[(&str, Value)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (rel, v) in files {
            let p = d.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, v.to_string()).unwrap();
        }
        d
    }

    fn rows_in(d: &Path) -> Result<Vec<Row>> {
        rows(d, &super::super::collect::runs(d)?)
    }

    #[test]
    fn a_soak_is_one_row_with_its_settings_and_figures() {
        let d = host_dir(&[("soak-1/soak.json", soak_fixture(true, "22.39.1002"))]);
        let r = rows_in(d.path()).unwrap();
        assert_eq!(r.len(), 1);
        let r = &r[0];
        assert_eq!((r.run.as_str(), r.kind, r.cell.as_str()), ("soak-1", Kind::Soak, "soak"));
        assert_eq!((r.settings.as_str(), r.key()), ("bond=lacp flap=carrier", "soak bond=lacp flap=carrier".into()));
        assert_eq!((r.outcome, r.problems.len()), (Outcome::Pass, 0));
        assert_eq!(r.env.firmware.as_deref(), Some("22.39.1002"));
        assert_eq!(r.headline.as_ref().unwrap().worst_failover_ms, Some(11.5));
    }

    #[test]
    fn a_failed_or_unfinished_soak_fails_with_its_reasons() {
        let d = host_dir(&[("s/soak.json", soak_fixture(false, "x"))]);
        let r = &rows_in(d.path()).unwrap()[0];
        assert_eq!((r.outcome, r.problems.clone()), (Outcome::Fail, vec!["flap 2: outage 61 ms > 50 ms".into()]));

        let mut v = soak_fixture(true, "x");
        (v["complete"], v["interrupted"], v["totals"]["flaps_done"]) = (json!(false), json!(true), json!(1));
        let d = host_dir(&[("s/soak.json", v)]);
        let r = &rows_in(d.path()).unwrap()[0];
        assert_eq!((r.outcome, r.problems.clone()), (Outcome::Fail, vec!["ran 1 of 3 flaps (interrupted)".into()]));
    }

    #[test]
    fn a_sweep_is_a_row_per_cell_and_its_cells_soak_json_is_not_read_again() {
        let mut v = sweep::tests::fixture("22.36.1010");
        v["cells"][1]["dir"] = json!("/var/tmp/vflag-sweep/cells/lacp-l34-admin");
        let d = host_dir(&[
            ("sweep/sweep.json", v),
            // A cell's own soak.json, unreadable on purpose: the merge takes the cell from sweep.json.
            ("sweep/cells/lacp-l34-carrier/soak.json", json!({"schema": "broken"})),
        ]);
        let r = rows_in(d.path()).unwrap();
        let got: Vec<(&str, &str, Outcome)> = r.iter().map(|r| (r.run.as_str(), r.cell.as_str(), r.outcome)).collect();
        assert_eq!(
            got,
            [
                ("sweep/cells/lacp-l34-carrier", "lacp-l34-carrier", Outcome::Pass),
                ("sweep", "lacp-l34-admin", Outcome::Fail)
            ],
            "a cell's directory when it is here, else the sweep's"
        );
        assert_eq!(r[1].settings, "bond=lacp hash=l34 flap=admin link=0 flows=64 rate=20kpps");
        assert_eq!(r[1].problems.len(), 2);
        assert!(r.iter().all(|r| r.env.firmware.as_deref() == Some("22.36.1010")));
    }

    #[test]
    fn an_unfinished_sweep_adds_a_row_that_fails_and_a_not_run_cell_says_so() {
        let mut v = sweep::tests::fixture("x");
        (v["complete"], v["interrupted"]) = (json!(false), json!(true));
        v["cells"][1]["outcome"] = json!("not-run");
        v["cells"][1]["headline"] = Value::Null;
        let d = host_dir(&[("sweep.json", v)]);
        let r = rows_in(d.path()).unwrap();
        assert_eq!((r[1].outcome, r[1].problems.clone()), (Outcome::NotRun, vec!["not run".into()]));
        assert_eq!((r[2].run.as_str(), r[2].kind, r[2].outcome), (".", Kind::Sweep, Outcome::Error));
        assert_eq!(r[2].problems, ["the sweep did not run to its end (interrupted)"]);
    }

    #[test]
    fn a_corrupt_soak_json_is_an_error_naming_the_file() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("s")).unwrap();
        std::fs::write(d.path().join("s/soak.json"), "{\"schema\": \"vflag-ctl.soak.v1\", ").unwrap();
        let e = format!("{:#}", rows_in(d.path()).unwrap_err());
        assert!(e.contains(&d.path().join("s/soak.json").display().to_string()), "{e}");
    }

    #[test]
    fn the_recorded_hostname_only_when_the_runs_agree() {
        let d = host_dir(&[("a/soak.json", soak_fixture(true, "x")), ("b/soak.json", soak_fixture(true, "x"))]);
        let mut r = rows_in(d.path()).unwrap();
        assert_eq!(recorded_hostname(&r), Ok("dut-a".into()));
        r[1].env.hostname = Some("dut-b".into());
        assert_eq!(recorded_hostname(&r), Err("its reports record different hostnames (dut-a, dut-b)".into()));
        r.iter_mut().for_each(|r| r.env.hostname = None);
        assert!(recorded_hostname(&r).is_err());
    }
}
