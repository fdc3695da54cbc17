//! Reads a sweep's `sweep.json` (schema `vflag-ctl.sweep.v1`, written by `vflag-ctl sweep`):
//! its cells with their parameters, outcome, headline and environment. Extra fields are
//! ignored, so a newer sweep still merges; a missing required one, or another schema, is an
//! error naming the file.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::headline::{Headline, HostEnv};

pub const SCHEMA: &str = "vflag-ctl.sweep.v1";

#[derive(Debug, Clone, Deserialize)]
pub struct SweepReport {
    // `schema` is checked on the JSON before this is read; `started_unix_s` is not shown.
    pub complete: bool,
    pub interrupted: bool,
    pub cells: Vec<Cell>,
    /// The soak's environment object, for cells that carry no `env` of their own.
    #[serde(default)]
    pub environment: Value,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Cell {
    pub name: String,
    pub params: Params,
    /// The cell's soak directory, as the sweep wrote it (relative to the sweep's, or the DUT's
    /// absolute path).
    pub dir: Option<String>,
    pub exit_code: Option<i64>,
    pub outcome: CellOutcome,
    pub headline: Option<Headline>,
    pub env: Option<HostEnv>,
    pub error: Option<String>,
}

/// The matrix's axes. Each is kept as the JSON value the sweep wrote (a link may be an index
/// or a name, a rate a number or "10kpps"): the merge shows them, it does not compute with them.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Params {
    pub bond: Option<Value>,
    pub bond_hash: Option<Value>,
    pub flap_kind: Option<Value>,
    pub link: Option<Value>,
    pub flows: Option<Value>,
    pub rate: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CellOutcome {
    Pass,
    Fail,
    Error,
    NotRun,
}

impl Params {
    /// The axes that are set, in the matrix's order, as `name=value` settings.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        let axes = [
            ("bond", &self.bond),
            ("hash", &self.bond_hash),
            ("flap", &self.flap_kind),
            ("link", &self.link),
            ("flows", &self.flows),
            ("rate", &self.rate),
        ];
        axes.into_iter().filter_map(|(k, v)| Some((k, shown(v.as_ref()?)?))).collect()
    }
}

/// A parameter as text: a string without its quotes; null is not shown.
fn shown(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        v => Some(v.to_string()),
    }
}

impl SweepReport {
    /// The environment a cell ran in: its own, else the sweep's.
    pub fn cell_env(&self, c: &Cell) -> HostEnv {
        c.env.clone().unwrap_or_else(|| HostEnv::from_environment(&self.environment))
    }
}

/// Reads `dir/sweep.json`.
pub fn read(dir: &Path) -> Result<SweepReport> {
    let path = dir.join(super::collect::SWEEP_JSON);
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let v: Value = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    if v["schema"] != SCHEMA {
        bail!("{}: not a sweep report (schema {}, expected {SCHEMA})", path.display(), v["schema"]);
    }
    serde_json::from_value(v).with_context(|| format!("{}: not a sweep report as {SCHEMA} has it", path.display()))
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use serde_json::json;

    /// A sweep.json as `vflag-ctl sweep` writes it, by hand: two cells, one passed, one failed.
    pub fn fixture(firmware: &str) -> Value {
        json!({
            "schema": SCHEMA, "complete": true, "interrupted": false, "started_unix_s": 1796630400.0,
            "cells": [
                {"name": "lacp-l34-carrier", "params": {"bond": "lacp", "bond_hash": "l34", "flap_kind": "carrier", "link": 0, "flows": 64, "rate": "20kpps"},
                 "dir": "cells/lacp-l34-carrier", "exit_code": 0, "outcome": "pass",
                 "headline": {"pass": true, "complete": true, "interrupted": false, "flaps_done": 2, "flaps_planned": 2,
                              "worst_failover_ms": 12.5, "worst_restore_ms": 310.0, "not_restored": 0,
                              "lost": 25, "loss_pct": 0.05, "shares_pct": [50.2, 49.8], "failures": []},
                 "env": null, "error": null, "a_later_field": 1},
                {"name": "lacp-l34-admin", "params": {"bond": "lacp", "bond_hash": "l34", "flap_kind": "admin", "link": 0, "flows": 64, "rate": "20kpps"},
                 "dir": "cells/lacp-l34-admin", "exit_code": 3, "outcome": "fail",
                 "headline": {"pass": false, "complete": true, "interrupted": false, "flaps_done": 2, "flaps_planned": 2,
                              "worst_failover_ms": 95.0, "worst_restore_ms": null, "not_restored": 1,
                              "lost": 900, "loss_pct": 1.8, "shares_pct": [70.0, 30.0],
                              "failures": ["flap 1: outage 95 ms > 50 ms", "flap 2: link s1 not restored"]},
                 "env": {"hostname": "dut", "nic": "ConnectX-6 Dx", "firmware": firmware, "kernel": "6.1.0", "dpdk": "DPDK 22.11.4"},
                 "error": null}
            ],
            "environment": {"host": "mlx5", "hostname": "dut", "nic": "ConnectX-6 Dx", "firmware": firmware, "kernel": "6.1.0", "dpdk": "DPDK 22.11.4"}
        })
    }

    fn write(v: &Value) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("sweep.json"), v.to_string()).unwrap();
        d
    }

    #[test]
    fn reads_the_cells_their_settings_and_environment() {
        let d = write(&fixture("22.39.1002"));
        let s = read(d.path()).unwrap();
        assert!(s.complete && !s.interrupted);
        assert_eq!(s.cells.len(), 2);
        let (a, b) = (&s.cells[0], &s.cells[1]);
        assert_eq!((a.outcome, b.outcome), (CellOutcome::Pass, CellOutcome::Fail));
        let set: Vec<String> = a.params.settings().iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(set, ["bond=lacp", "hash=l34", "flap=carrier", "link=0", "flows=64", "rate=20kpps"]);
        assert_eq!(b.headline.as_ref().unwrap().failures.len(), 2);
        assert_eq!(s.cell_env(a).firmware.as_deref(), Some("22.39.1002"), "the sweep's, for a cell without one");
        assert_eq!(s.cell_env(b).hostname.as_deref(), Some("dut"));
    }

    #[test]
    fn a_not_run_cell_has_no_headline() {
        let mut v = fixture("x");
        v["cells"][1] = json!({"name": "c", "params": {"bond": "lacp"}, "dir": "cells/c", "exit_code": null,
                                "outcome": "not-run", "headline": null, "env": null, "error": null});
        let s = read(write(&v).path()).unwrap();
        assert_eq!(s.cells[1].outcome, CellOutcome::NotRun);
        assert!(s.cells[1].headline.is_none());
    }

    #[test]
    fn another_schema_or_a_broken_file_is_an_error_naming_it() {
        let d = write(&json!({"schema": "vflag-ctl.soak.v1"}));
        let e = format!("{:#}", read(d.path()).unwrap_err());
        assert!(e.contains("sweep.json") && e.contains("vflag-ctl.soak.v1"), "{e}");

        let mut v = fixture("x");
        v["cells"][0]["outcome"] = json!("maybe");
        let e = format!("{:#}", read(write(&v).path()).unwrap_err());
        assert!(e.contains("sweep.json") && e.contains("maybe"), "{e}");

        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("sweep.json"), "{\"schema\": ").unwrap();
        let e = format!("{:#}", read(d.path()).unwrap_err());
        assert!(e.contains("sweep.json is not JSON"), "{e}");
    }
}
