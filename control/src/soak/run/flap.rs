//! The fourth phase: the schedule's flaps, each link taken down and up by the flapper at its
//! time (the offload checked just before), the wall-clock times recorded; then the watch after
//! the last flap (`watch.rs`).

use std::time::Instant;

use anyhow::Result;

use super::prepare::Prepared;
use super::session::Session;
use super::watch::{self, Ran};
use crate::soak::analyze::FlapRecord;
use crate::soak::clock::unix_now;
use crate::soak::flappers::Flapper;
use crate::soak::integrity::When;
use crate::soak::schedule::PlannedFlap;

/// Runs the schedule from `start`; returns what was done and whether all of it was.
pub fn flap_all(run: &mut Prepared, s: &mut Session, start: Instant) -> Result<Ran> {
    let plan = run.schedule.plan();
    let mut records: Vec<FlapRecord> = Vec::new();
    s.flaps_planned = Some(plan.len());
    for PlannedFlap { number, at, links } in &plan {
        s.phase = format!("before flap {number}/{}", plan.len());
        let when = if *number == 1 { When::BeforeFlaps } else { When::AfterFlap(number - 1) };
        if !s.sleep_checked(start + *at, &mut run.pre.integrity, when)? {
            // The previous flap's after-window ran until now: it is not over.
            if let Some(last) = records.last_mut() {
                last.cut_short = true;
            }
            return Ok(Ran { records, complete: false });
        }
        let record = flap(run, s, *number, plan.len(), links)?;
        let completed = !record.cut_short;
        records.push(record);
        s.flaps_done = records.len();
        if !completed {
            return Ok(Ran { records, complete: false });
        }
    }
    watch::after_flaps(run, s, start, records)
}

/// One flap: its links down, the schedule's down time, up again; cut short when interrupted
/// while down.
fn flap(run: &mut Prepared, s: &mut Session, number: usize, of: usize, links: &[usize]) -> Result<FlapRecord> {
    let flapper: &mut dyn Flapper = run.flapper.as_mut();
    let label: Vec<String> =
        links.iter().map(|&l| run.link_names.get(l).cloned().unwrap_or_else(|| flapper.name(l))).collect();
    // The flap starts when its command does: the link can go down at any point while `ip`
    // runs (tens of ms under load), so a time taken after it would let the loss begin before
    // the flap.
    let down_unix_s = unix_now();
    for &l in links {
        flapper.set(l, false)?;
    }
    let cmd_ms = (unix_now() - down_unix_s) * 1e3;
    s.note(&format!("flap {number}/{of}: {} down (command {cmd_ms:.0} ms)", label.join("+")));
    s.phase = format!("flap {number}/{of}: {} down", label.join("+"));
    let completed = s.sleep_until(Instant::now() + run.schedule.down)?;
    let up_unix_s = unix_now();
    for &l in links {
        flapper.set(l, true)?;
    }
    s.note(&format!("flap {number}/{of}: {} up after {:.0} ms", label.join("+"), (up_unix_s - down_unix_s) * 1e3));
    Ok(FlapRecord { number, links: label, link_idx: links.to_vec(), down_unix_s, up_unix_s, cut_short: !completed })
}
