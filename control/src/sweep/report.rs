//! What a sweep writes: `sweep.json` (schema `vflag-ctl.sweep.v1`: every cell's values,
//! outcome, headline figures and environment; the report merge reads it), `sweep.md` (the
//! matrix as a table, a row per cell, and worst failover per bond and flap kind when the other
//! axes hold one value), `junit.xml` (a testcase per cell), and a line per finished cell on
//! stdout. All three are rewritten after each cell, so a sweep cut short still shows what ran.

use std::fmt::Write;
use std::path::Path;

use anyhow::Result;
use junit::{Outcome as JOutcome, Property, Testcase, Testsuite, Testsuites};
use outfile::OutFile;
use serde::Serialize;
use serde_json::Value;

use super::matrix::{Axes, Cell, Params};
use super::run::{Finished, Outcome};
use crate::headline::{Headline, HostEnv};

pub const SCHEMA: &str = "vflag-ctl.sweep.v1";
pub const JSON: &str = "sweep.json";
pub const TABLE: &str = "sweep.md";
pub const JUNIT: &str = "junit.xml";
const CLASS: &str = "vflag.sweep";

#[derive(Debug, Clone, Serialize)]
pub struct SweepReport {
    pub schema: &'static str,
    /// Every cell ran (whatever its outcome).
    pub complete: bool,
    pub interrupted: bool,
    pub started_unix_s: f64,
    /// "lab" or "hardware".
    pub place: &'static str,
    pub axes: Axes,
    /// The soak options every cell was given, as argv.
    pub soak_args: Vec<String>,
    pub cells: Vec<CellReport>,
    /// Cells of the product that cannot run (e.g. a LACP flap on an xor bond), and why.
    pub not_applicable: Vec<NotApplicable>,
    /// Real hardware: the host before the sweep, and what putting it back did.
    pub host_before: Option<String>,
    pub host_restore: Option<String>,
    /// The first finished cell's soak.json `environment`.
    pub environment: Option<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CellReport {
    pub name: String,
    pub params: Params,
    pub dir: String,
    pub exit_code: Option<i32>,
    pub outcome: Outcome,
    pub headline: Option<Headline>,
    pub env: Option<HostEnv>,
    pub error: Option<String>,
    pub time_s: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NotApplicable {
    pub name: String,
    pub params: Params,
    pub reason: String,
}

impl CellReport {
    pub fn not_run(c: &Cell, dir: &Path) -> CellReport {
        CellReport {
            name: c.name.clone(),
            params: c.params.clone(),
            dir: dir.display().to_string(),
            exit_code: None,
            outcome: Outcome::NotRun,
            headline: None,
            env: None,
            error: None,
            time_s: None,
        }
    }

    pub fn set(&mut self, f: &Finished) {
        self.exit_code = f.exit_code;
        self.outcome = f.outcome;
        self.headline = f.headline.clone();
        self.env = f.env.clone();
        self.error = f.error.clone();
        self.time_s = Some(f.time_s);
    }
}

impl SweepReport {
    pub fn count(&self, o: Outcome) -> usize {
        self.cells.iter().filter(|c| c.outcome == o).count()
    }

    /// 0 every cell passed; 3 one failed or erred; interrupted, 1 as the soak (it did not
    /// finish), 3 if a cell that finished failed.
    pub fn exit_code(&self) -> u8 {
        let failed = self.count(Outcome::Fail) > 0;
        if self.interrupted {
            return if failed { 3 } else { 1 };
        }
        if failed || self.count(Outcome::Error) > 0 {
            3
        } else {
            0
        }
    }

    /// Writes the three files (each put in place whole).
    pub fn write(&self, out: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self)? + "\n";
        for (name, text) in [(JSON, json), (TABLE, markdown(self)), (JUNIT, junit(self).to_xml())] {
            OutFile::reserve("--out", &out.join(name))
                .and_then(|f| f.commit(text.as_bytes()))
                .map_err(anyhow::Error::msg)?;
        }
        Ok(())
    }
}

fn ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1}"))
}

fn shares(h: &Headline) -> String {
    if h.shares_pct.is_empty() {
        return "-".into();
    }
    h.shares_pct.iter().map(|s| format!("{s:.1}")).collect::<Vec<_>>().join("/")
}

/// A cell's figures in one line (stdout and JUnit's system-out).
pub fn figures(h: &Headline) -> String {
    let lost = match (h.lost, h.loss_pct) {
        (Some(l), Some(p)) => format!("lost {l} ({p:.3}%)"),
        (Some(l), None) => format!("lost {l}"),
        _ => "loss not tracked".into(),
    };
    format!(
        "worst failover {} ms, worst restore {} ms, {lost}, shares {} %, {}/{} flaps",
        h.failover_text(),
        ms(h.worst_restore_ms),
        shares(h),
        h.flaps_done,
        h.flaps_planned
    )
}

/// The progress line of a finished cell.
pub fn progress_line(n: usize, of: usize, c: &CellReport) -> String {
    let mut s = format!("[{n}/{of}] {}: {}", c.name, c.outcome.name());
    if let Some(h) = &c.headline {
        s += &format!(", {}", figures(h));
    }
    if let Some(e) = &c.error {
        s += &format!(" ({e})");
    }
    if let Some(t) = c.time_s {
        s += &format!(" [{t:.0} s]");
    }
    s
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn markdown(r: &SweepReport) -> String {
    let mut s = String::from("# vflag-ctl sweep\n\n");
    let _ = writeln!(
        s,
        "{} cells on {}: {} pass, {} fail, {} error, {} not run{}.\n",
        r.cells.len(),
        if r.place == "lab" { "the emulated lab" } else { "real hardware" },
        r.count(Outcome::Pass),
        r.count(Outcome::Fail),
        r.count(Outcome::Error),
        r.count(Outcome::NotRun),
        if r.interrupted { " (interrupted)" } else { "" }
    );
    s.push_str(
        "| # | cell | bond | hash | flap | link | flows | rate | result | worst failover ms | worst restore ms | lost | loss % | shares % |\n",
    );
    s.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (i, c) in r.cells.iter().enumerate() {
        let p = &c.params;
        let h = c.headline.as_ref();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            i + 1,
            md_cell(&c.name),
            p.bond.name(),
            p.bond_hash.map_or("-", |h| h.name()),
            p.flap_kind.name(),
            md_cell(&p.link),
            p.flows,
            p.rate,
            c.outcome.name(),
            h.map_or("-".into(), Headline::failover_text),
            h.map_or("-".into(), |h| ms(h.worst_restore_ms)),
            h.and_then(|h| h.lost).map_or("-".into(), |l| l.to_string()),
            h.and_then(|h| h.loss_pct).map_or("-".into(), |l| format!("{l:.3}")),
            h.map_or("-".into(), shares),
        );
    }
    s += &pivot(r);
    let why: Vec<String> = r
        .cells
        .iter()
        .filter_map(|c| {
            let mut lines: Vec<String> = c.error.iter().cloned().collect();
            lines.extend(c.headline.iter().flat_map(|h| h.failures.iter().cloned()));
            (!lines.is_empty()).then(|| format!("- {} ({}): {}", c.name, c.outcome.name(), md_cell(&lines.join("; "))))
        })
        .collect();
    if !why.is_empty() {
        s += "\nWhy:\n\n";
        s += &(why.join("\n") + "\n");
    }
    if !r.not_applicable.is_empty() {
        s += "\nNot applicable (left out of the matrix):\n\n";
        for n in &r.not_applicable {
            let _ = writeln!(s, "- {}: {}", n.name, md_cell(&n.reason));
        }
    }
    if let Some(h) = &r.host_before {
        let _ = writeln!(s, "\nHost before the sweep: {h}.");
    }
    if let Some(h) = &r.host_restore {
        let _ = writeln!(s, "Host after the sweep: {h}.");
    }
    s
}

/// Worst failover, ms, by bond (and hash) and flap kind: only when the other axes hold one
/// value, so each place in the grid is one cell.
fn pivot(r: &SweepReport) -> String {
    let a = &r.axes;
    if a.link.len() > 1 || a.flows.len() > 1 || a.rate.len() > 1 || a.flap_kind.len() < 2 {
        return String::new();
    }
    let rows: Vec<String> = dedup(r.cells.iter().map(|c| bond_label(&c.params)));
    if rows.len() < 2 {
        return String::new();
    }
    let mut s = String::from("\nWorst failover, ms, by bond and flap kind:\n\n| bond |");
    for k in &a.flap_kind {
        s += &format!(" {} |", k.name());
    }
    s += &format!("\n|---|{}\n", "---|".repeat(a.flap_kind.len()));
    for row in rows {
        s += &format!("| {row} |");
        for k in &a.flap_kind {
            let c = r.cells.iter().find(|c| bond_label(&c.params) == row && c.params.flap_kind == *k);
            let v = match c {
                None => "n/a".to_string(),
                Some(c) => match (&c.headline, c.outcome) {
                    (_, Outcome::NotRun) => "not run".into(),
                    (Some(h), o) => {
                        format!("{}{}", h.failover_text(), if o == Outcome::Pass { "" } else { " (fail)" })
                    }
                    (None, o) => o.name().into(),
                },
            };
            s += &format!(" {v} |");
        }
        s.push('\n');
    }
    s
}

fn bond_label(p: &Params) -> String {
    match p.bond_hash {
        Some(h) => format!("{} {}", p.bond.name(), h.name()),
        None => p.bond.name().into(),
    }
}

fn dedup(it: impl Iterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for x in it {
        if !v.contains(&x) {
            v.push(x);
        }
    }
    v
}

/// A testcase per cell (a failed verdict a failure, an error an error, a cell not run skipped)
/// and per cell left out as not applicable (skipped, with why).
pub fn junit(r: &SweepReport) -> Testsuites {
    let mut cases: Vec<Testcase> = r
        .cells
        .iter()
        .map(|c| {
            let mut t = Testcase::new(CLASS, &c.name);
            t.time_s = c.time_s.unwrap_or(0.0);
            t.properties = params_properties(&c.params);
            if let Some(h) = &c.headline {
                t.system_out = Some(figures(h));
                for (k, v) in [("worst_failover_ms", h.worst_failover_ms), ("worst_restore_ms", h.worst_restore_ms)] {
                    if let Some(v) = v {
                        t.properties.push(Property::new(k, v));
                    }
                }
            }
            t.properties.push(Property::new("dir", &c.dir));
            match c.outcome {
                Outcome::Pass => {}
                Outcome::Fail => {
                    let mut lines: Vec<String> = c.headline.iter().flat_map(|h| h.failures.clone()).collect();
                    lines.extend(c.error.clone());
                    if lines.is_empty() {
                        lines.push("the soak's verdict failed".into());
                    }
                    t.fail("verdict", &lines);
                }
                Outcome::Error => {
                    let message = c.error.clone().unwrap_or_else(|| "the soak did not finish".into());
                    t.outcome = JOutcome::Error { kind: "error".into(), message, text: String::new() };
                }
                Outcome::NotRun => {
                    t.outcome = JOutcome::Skipped { message: "not run: the sweep was interrupted before it".into() };
                }
            }
            t
        })
        .collect();
    for n in &r.not_applicable {
        let mut t = Testcase::new(CLASS, &n.name);
        t.properties = params_properties(&n.params);
        t.outcome = JOutcome::Skipped { message: format!("not applicable: {}", n.reason) };
        cases.push(t);
    }
    Testsuites {
        name: "vflag-ctl sweep".into(),
        suites: vec![Testsuite {
            name: format!("{CLASS} ({})", r.place),
            timestamp_unix_s: Some(r.started_unix_s),
            time_s: r.cells.iter().filter_map(|c| c.time_s).sum(),
            properties: vec![Property::new("cells", r.cells.len())],
            cases,
        }],
    }
}

fn params_properties(p: &Params) -> Vec<Property> {
    vec![
        Property::new("bond", p.bond.name()),
        Property::new("bond_hash", p.bond_hash.map_or("-", |h| h.name())),
        Property::new("flap_kind", p.flap_kind.name()),
        Property::new("link", &p.link),
        Property::new("flows", p.flows),
        Property::new("rate", p.rate),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::matrix::{option_name, Given};

    fn sweep() -> SweepReport {
        let g = Given {
            bond: vec!["active-backup".into(), "xor".into()],
            flap_kind: vec!["carrier".into(), "admin".into()],
            ..Default::default()
        };
        let axes = g.axes(&option_name).unwrap();
        let cells: Vec<CellReport> =
            axes.cells().iter().map(|c| CellReport::not_run(c, &Path::new("o/cells").join(&c.name))).collect();
        SweepReport {
            schema: SCHEMA,
            complete: false,
            interrupted: false,
            started_unix_s: 1.8e9,
            place: "lab",
            axes,
            soak_args: vec!["--flaps".into(), "1".into()],
            cells,
            not_applicable: Vec::new(),
            host_before: None,
            host_restore: None,
            environment: None,
        }
    }

    fn headline(pass: bool, failover: f64) -> Headline {
        Headline {
            pass,
            complete: true,
            flaps_done: 1,
            flaps_planned: 1,
            worst_failover_ms: Some(failover),
            lost: Some(12),
            loss_pct: Some(0.05),
            shares_pct: vec![50.5, 49.5],
            failures: if pass { vec![] } else { vec!["flap 1: 9 ms > 5 ms".into()] },
            ..Default::default()
        }
    }

    fn finished(outcome: Outcome, code: i32, h: Option<Headline>, error: Option<&str>) -> Finished {
        Finished {
            exit_code: Some(code),
            outcome,
            headline: h,
            env: None,
            environment: None,
            error: error.map(str::to_string),
            time_s: 12.0,
        }
    }

    #[test]
    fn the_table_has_a_row_per_cell_and_the_pivot_a_place_per_bond_and_flap_kind() {
        let mut r = sweep();
        r.cells[0].set(&finished(Outcome::Pass, 0, Some(headline(true, 210.44)), None));
        r.cells[1].set(&finished(Outcome::Fail, 3, Some(headline(false, 9.0)), None));
        r.cells[2].set(&finished(Outcome::Error, 1, None, Some("exit 1: vflag-ctl: error: lab busy")));
        r.interrupted = true;
        let md = markdown(&r);
        assert!(md.contains("4 cells on the emulated lab: 1 pass, 1 fail, 1 error, 1 not run (interrupted)."), "{md}");
        assert!(
            md.contains("| 1 | active-backup-carrier-alternate-16f | active-backup | - | carrier | alternate | 16 | 20000 | pass | 210.4 | - | 12 | 0.050 | 50.5/49.5 |"),
            "{md}"
        );
        assert!(md.contains("| 3 | xor-l34-carrier-alternate-16f | xor | l34 | carrier | alternate | 16 | 20000 | error | - | - | - | - | - |"), "{md}");
        assert!(
            md.contains("| 4 | xor-l34-admin-alternate-16f | xor | l34 | admin | alternate | 16 | 20000 | not-run |"),
            "{md}"
        );
        assert!(md.contains("| bond | carrier | admin |\n|---|---|---|\n| active-backup | 210.4 | 9.0 (fail) |\n| xor l34 | error | not run |\n"), "{md}");
        assert!(md.contains("- active-backup-admin-alternate-16f (fail): flap 1: 9 ms > 5 ms"), "{md}");
        assert!(md.contains("- xor-l34-carrier-alternate-16f (error): exit 1: vflag-ctl: error: lab busy"), "{md}");
        assert_eq!(r.exit_code(), 3, "interrupted, after a cell failed");
        r.cells[1].outcome = Outcome::Pass;
        assert_eq!(r.exit_code(), 1, "interrupted: as the soak");
        r.interrupted = false;
        assert_eq!(r.exit_code(), 3, "an error");
        r.cells[2].outcome = Outcome::Pass;
        r.cells[3].outcome = Outcome::Pass;
        assert_eq!(r.exit_code(), 0);
    }

    #[test]
    fn the_json_keeps_the_fields_the_merge_reads_and_junit_a_case_per_cell() {
        let mut r = sweep();
        r.cells[0].set(&finished(Outcome::Pass, 0, Some(headline(true, 20.0)), None));
        r.cells[1].set(&finished(Outcome::Fail, 3, Some(headline(false, 9.0)), None));
        r.not_applicable.push(NotApplicable {
            name: "xor-l34-lacp-alternate-16f".into(),
            params: r.cells[2].params.clone(),
            reason: "--flap-kind lacp needs --bond lacp".into(),
        });
        let v: Value = serde_json::to_value(&r).unwrap();
        assert_eq!(v["schema"], SCHEMA);
        let c = &v["cells"][0];
        assert_eq!(
            c["params"],
            serde_json::json!({"bond": "active-backup", "bond_hash": null, "flap_kind": "carrier", "link": "alternate", "flows": 16, "rate": 20000})
        );
        assert_eq!((c["outcome"].as_str(), c["exit_code"].as_i64()), (Some("pass"), Some(0)));
        assert_eq!(c["headline"]["worst_failover_ms"], 20.0);
        assert_eq!(v["cells"][3]["outcome"], "not-run");
        assert_eq!(v["cells"][2]["params"]["bond_hash"], "l34");
        assert_eq!(v["axes"]["bond"], serde_json::json!(["active-backup", "xor"]));
        let dir = tempfile::tempdir().unwrap();
        r.write(dir.path()).unwrap();
        let cases = junit::schema::cases(&dir.path().join(JUNIT));
        let outcomes: Vec<(&str, &str)> = cases.iter().map(|(n, o, _)| (n.as_str(), *o)).collect();
        assert_eq!(
            outcomes,
            [
                ("active-backup-carrier-alternate-16f", "passed"),
                ("active-backup-admin-alternate-16f", "failure"),
                ("xor-l34-carrier-alternate-16f", "skipped"),
                ("xor-l34-admin-alternate-16f", "skipped"),
                ("xor-l34-lacp-alternate-16f", "skipped"),
            ]
        );
        assert_eq!(cases[1].2, "flap 1: 9 ms > 5 ms");
        assert_eq!(cases[4].2, "not applicable: --flap-kind lacp needs --bond lacp");
        let back: Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join(JSON)).unwrap()).unwrap();
        assert_eq!(back, v);
        assert!(std::fs::read_to_string(dir.path().join(TABLE)).unwrap().starts_with("# vflag-ctl sweep\n"));
    }

    #[test]
    fn a_progress_line_says_the_outcome_and_figures() {
        let mut r = sweep();
        r.cells[0].set(&finished(Outcome::Pass, 0, Some(headline(true, 20.0)), None));
        assert_eq!(
            progress_line(1, 4, &r.cells[0]),
            "[1/4] active-backup-carrier-alternate-16f: pass, worst failover 20.0 ms, worst restore - ms, lost 12 (0.050%), shares 50.5/49.5 %, 1/1 flaps [12 s]"
        );
    }
}
