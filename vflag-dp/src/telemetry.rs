//! vflag-dp's DPDK telemetry commands, so `dpdk-telemetry.py -f PREFIX` can query a running soak:
//! `/vflag/stats` (per-port counters, rates, links), `/vflag/tracking` (tracked traffic),
//! `/vflag/outages` and, with --interleave-ms, `/vflag/interleave`. The main lcore refreshes the values; the telemetry thread reads them.

use std::sync::{Arc, Mutex};

use anyhow::Result;
use dpdk::telemetry::{self, TelValue};

pub type Dict = Vec<(String, TelValue)>;

#[derive(Debug, Default)]
pub struct Published {
    pub stats: Dict,
    pub tracking: Dict,
    pub outages: Dict,
    pub interleave: Dict,
}

pub type Shared = Arc<Mutex<Published>>;

/// Which part of [`Published`] a command answers with.
type Pick = fn(&Published) -> Dict;

pub fn register() -> Result<Shared> {
    let shared: Shared = Arc::new(Mutex::new(Published::default()));
    let cmds: [(&str, &str, Pick); 4] = [
        ("/vflag/stats", "vflag-dp per-port counters, rates and links", |p| p.stats.clone()),
        ("/vflag/tracking", "vflag-dp tracked traffic: received, lost, reordered, duplicates", |p| p.tracking.clone()),
        ("/vflag/outages", "vflag-dp outages so far: count, last and longest", |p| p.outages.clone()),
        ("/vflag/interleave", "vflag-dp --interleave-ms: frames and TSC ticks per mode, summed over lcores", |p| {
            p.interleave.clone()
        }),
    ];
    for (cmd, help, pick) in cmds {
        let s = Arc::clone(&shared);
        telemetry::register(cmd, help, move || pick(&s.lock().unwrap_or_else(|e| e.into_inner())))?;
    }
    Ok(shared)
}

pub fn u(k: impl Into<String>, v: u64) -> (String, TelValue) {
    (k.into(), TelValue::U64(v))
}

pub fn s(k: impl Into<String>, v: impl Into<String>) -> (String, TelValue) {
    (k.into(), TelValue::Str(v.into()))
}
