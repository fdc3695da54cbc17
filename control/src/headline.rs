//! One soak in a line: the figures a sweep's matrix cell and a merged report's row show (the
//! verdict, worst failover and restore, loss, member shares), read back from a `soak.json`, and
//! the environment columns (NIC, firmware, kernel, DPDK) that tell hosts apart.
//!
//! It reads the JSON rather than the soak's own types so that it also reads reports another
//! host or an older vflag wrote: a field it cannot find stays empty instead of failing the row.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::soak::short_ms;
use crate::soak::SCHEMA;

/// A soak's outcome and headline figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Headline {
    /// The verdict: passed every check.
    pub pass: bool,
    /// Every planned flap ran and both sides stopped as asked.
    pub complete: bool,
    pub interrupted: bool,
    pub flaps_done: usize,
    pub flaps_planned: usize,
    /// The longest per-flap outage over the judged flaps, ms (null: none judged).
    pub worst_failover_ms: Option<f64>,
    /// The shortest outage the soak could see, ms: a failover under it shows as "< N" (null:
    /// a report from before it was read here).
    #[serde(default)]
    pub resolution_ms: Option<f64>,
    /// The longest restore time, ms (null: nothing had to restore).
    pub worst_restore_ms: Option<f64>,
    /// Judged flaps whose link did not carry its share again.
    pub not_restored: usize,
    /// Tracked frames lost over the soak, and as a share of those sent (null: none tracked,
    /// e.g. a foreign generator).
    pub lost: Option<u64>,
    pub loss_pct: Option<f64>,
    /// Each member's share of the traffic, % (the links' counters where the soak had them).
    pub shares_pct: Vec<f64>,
    /// The verdict's failure lines, as soak.md words them.
    pub failures: Vec<String>,
}

/// What a row says the soak ran on: the columns that tell one DUT (or one firmware) from another.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostEnv {
    /// The machine's hostname (a report before it was recorded: null).
    pub hostname: Option<String>,
    pub nic: Option<String>,
    pub firmware: Option<String>,
    pub kernel: Option<String>,
    pub dpdk: Option<String>,
}

impl Headline {
    /// From a parsed `soak.json`; an error only when it is not a soak report at all.
    pub fn from_soak_json(r: &Value) -> Result<Headline> {
        if r["schema"] != SCHEMA {
            bail!("not a soak report (schema {}, expected {SCHEMA})", r["schema"]);
        }
        let t = &r["totals"];
        let f64s = |v: &Value| -> Vec<f64> { v.as_array().into_iter().flatten().filter_map(Value::as_f64).collect() };
        let link_shares = f64s(&t["link_shares_pct"]);
        Ok(Headline {
            pass: r["verdict"]["pass"].as_bool().unwrap_or(false),
            complete: r["complete"].as_bool().unwrap_or(false),
            interrupted: r["interrupted"].as_bool().unwrap_or(false),
            flaps_done: t["flaps_done"].as_u64().unwrap_or(0) as usize,
            flaps_planned: t["flaps_planned"].as_u64().unwrap_or(0) as usize,
            worst_failover_ms: t["failover_ms"]["max"].as_f64(),
            resolution_ms: r["resolution"]["ms"].as_f64().filter(|v| *v > 0.0),
            worst_restore_ms: t["restore_ms"]["max"].as_f64(),
            not_restored: t["not_restored"].as_u64().unwrap_or(0) as usize,
            lost: t["tracked"]["lost"].as_u64(),
            loss_pct: t["tracked"]["loss_pct"].as_f64(),
            // The links' own counters see every frame; the members' shares are the receiver's.
            shares_pct: if link_shares.is_empty() { f64s(&t["shares_pct"]) } else { link_shares },
            failures: r["verdict"]["failures"]
                .as_array()
                .into_iter()
                .flatten()
                // soak.json lists each as its line; an object with a `line` is read too.
                .filter_map(|x| x.as_str().or_else(|| x["line"].as_str()).map(str::to_string))
                .collect(),
        })
    }
}

impl Headline {
    /// The worst failover as the soak's own table shows an outage: "< 10" under the
    /// resolution (never a bare 0.0), "-" when no flap was judged.
    pub fn failover_text(&self) -> String {
        match (self.worst_failover_ms, self.resolution_ms) {
            (None, _) => "-".into(),
            (Some(v), Some(res)) if v < res => format!("< {}", short_ms(res)),
            (Some(v), _) => format!("{v:.1}"),
        }
    }
}

impl HostEnv {
    pub fn from_soak_json(r: &Value) -> HostEnv {
        HostEnv::from_environment(&r["environment"])
    }

    /// From a soak's `environment` object (also what sweep.json carries as its own).
    pub fn from_environment(e: &Value) -> HostEnv {
        let s = |k: &str| e[k].as_str().map(str::to_string);
        HostEnv {
            hostname: s("hostname"),
            nic: s("nic"),
            firmware: s("firmware"),
            kernel: s("kernel"),
            dpdk: s("dpdk"),
        }
    }
}

/// Reads `dir/soak.json`: its headline and environment, and the whole report.
pub fn read_soak_dir(dir: &Path) -> Result<(Headline, HostEnv, Value)> {
    let path = dir.join("soak.json");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let r: Value = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let h = Headline::from_soak_json(&r).with_context(|| path.display().to_string())?;
    Ok((h, HostEnv::from_soak_json(&r), r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report() -> Value {
        json!({
            "schema": SCHEMA, "complete": true, "interrupted": false,
            "resolution": {"gap_ms": 10.0, "k": 8.0, "ms": 10.0, "from": "receiver"},
            "environment": {"hostname": "dut1", "nic": "ConnectX-6 Dx", "firmware": "22.36.1010", "kernel": "6.1.0", "dpdk": "DPDK 22.11.11"},
            "totals": {
                "flaps_planned": 3, "flaps_done": 3,
                "tracked": {"received": 1000, "lost": 12, "loss_pct": 1.2},
                "shares_pct": [40.0, 60.0], "link_shares_pct": [50.5, 49.5],
                "failover_ms": {"n": 3, "min": 1.0, "median": 2.0, "p99": 9.0, "max": 9.0},
                "restore_ms": null, "not_restored": 0
            },
            "verdict": {"pass": false, "failures": [{"flap": 2, "check": "max-outage", "line": "flap 2: 9 ms > 5 ms"}]}
        })
    }

    #[test]
    fn reads_the_verdict_and_the_worst_figures() {
        let h = Headline::from_soak_json(&report()).unwrap();
        assert!(!h.pass && h.complete && !h.interrupted);
        assert_eq!((h.flaps_done, h.flaps_planned), (3, 3));
        assert_eq!((h.worst_failover_ms, h.worst_restore_ms), (Some(9.0), None));
        assert_eq!((h.lost, h.loss_pct), (Some(12), Some(1.2)));
        assert_eq!(h.shares_pct, vec![50.5, 49.5], "the links' counters first");
        assert_eq!(h.failures, vec!["flap 2: 9 ms > 5 ms".to_string()]);
        // As the soak writes them: the lines themselves.
        let mut r = report();
        r["verdict"]["failures"] = json!(["flap 1: outage 319.7 ms > --max-outage-ms 250"]);
        let h = Headline::from_soak_json(&r).unwrap();
        assert_eq!(h.failures, vec!["flap 1: outage 319.7 ms > --max-outage-ms 250".to_string()]);
        let e = HostEnv::from_soak_json(&report());
        assert_eq!((e.firmware.as_deref(), e.hostname.as_deref()), (Some("22.36.1010"), Some("dut1")));
    }

    #[test]
    fn without_link_counters_the_members_shares_and_without_tracking_no_loss() {
        let mut r = report();
        r["totals"]["link_shares_pct"] = json!([]);
        r["totals"]["tracked"] = Value::Null;
        let h = Headline::from_soak_json(&r).unwrap();
        assert_eq!(h.shares_pct, vec![40.0, 60.0]);
        assert_eq!((h.lost, h.loss_pct), (None, None));
    }

    #[test]
    fn a_failover_under_the_resolution_reads_as_the_soaks_table_has_it() {
        let mut h = Headline::from_soak_json(&report()).unwrap();
        assert_eq!((h.resolution_ms, h.failover_text()), (Some(10.0), "< 10".to_string()), "9 ms under 10");
        h.worst_failover_ms = Some(0.0);
        assert_eq!(h.failover_text(), "< 10", "no bare 0.0");
        h.worst_failover_ms = Some(13.04);
        assert_eq!(h.failover_text(), "13.0");
        h.resolution_ms = Some(12.5);
        h.worst_failover_ms = Some(3.0);
        assert_eq!(h.failover_text(), "< 12.5");
        h.resolution_ms = None;
        assert_eq!(h.failover_text(), "3.0", "an older report without one: the figure");
        h.worst_failover_ms = None;
        assert_eq!(h.failover_text(), "-");
    }

    #[test]
    fn another_schema_is_refused_with_what_it_was() {
        let e = Headline::from_soak_json(&json!({"schema": "vflag-dp.v1"})).unwrap_err();
        assert!(e.to_string().contains("vflag-dp.v1"), "{e}");
    }
}
