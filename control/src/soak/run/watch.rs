//! The watch: one more interval after the last flap (its after-window, the offload checked at
//! its end), or, with no flaps planned (`--duration` alone), the whole soak while the operator
//! flaps links by hand.

use std::time::{Duration, Instant};

use anyhow::Result;

use super::prepare::Prepared;
use super::session::Session;
use crate::soak::analyze::FlapRecord;
use crate::soak::args::SoakArgs;
use crate::soak::integrity::When;

/// What the flap or watch phase did.
pub struct Ran {
    pub records: Vec<FlapRecord>,
    /// It ran to its end (not interrupted).
    pub complete: bool,
}

/// Watches until the schedule's end; the last flap is cut short when interrupted.
pub fn after_flaps(run: &mut Prepared, s: &mut Session, start: Instant, mut records: Vec<FlapRecord>) -> Result<Ran> {
    s.phase = "watching after the last flap".into();
    let end = start + run.schedule.total();
    let complete = s.sleep_checked(end, &mut run.pre.integrity, When::AfterFlap(records.len()))?;
    if !complete {
        if let Some(last) = records.last_mut() {
            last.cut_short = true;
        }
    }
    Ok(Ran { records, complete })
}

/// `--duration` without flaps: watches for that long, the offload checked first and at the end.
pub fn observe(args: &SoakArgs, run: &mut Prepared, s: &mut Session, start: Instant) -> Result<Ran> {
    let d = args.duration.unwrap_or_default();
    s.phase = format!("watching for {} s (flap links by hand)", d.as_secs_f64());
    let integrity = &mut run.pre.integrity;
    let began = s.check_integrity(integrity, When::BeforeFlaps, Duration::from_secs(2))?;
    let complete = began && s.sleep_checked(start + d, integrity, When::End)?;
    Ok(Ran { records: Vec::new(), complete })
}
