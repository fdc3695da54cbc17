//! The third phase: wait until the receiver's events show traffic (on every bond member when
//! the lab's bond spreads it) at two samples in a row.

use std::time::Instant;

use anyhow::Result;

use super::prepare::Prepared;
use super::session::Session;
use crate::soak::args::SoakArgs;
use crate::soak::clock::unix_now;

/// When traffic flowed: the instant the flaps are scheduled from, and its wall clock.
#[derive(Clone, Copy)]
pub struct Ready {
    pub at: Instant,
    pub unix_s: f64,
}

/// None when interrupted first.
pub fn converge(args: &SoakArgs, run: &Prepared, s: &mut Session) -> Result<Option<Ready>> {
    let spread = args.lab && run.vf.is_none() && args.bond.spreads();
    s.phase = "waiting for traffic".into();
    let what = if spread { "no traffic on every bond member" } else { "no traffic" };
    if !s.wait_for(args.converge_timeout, what, |l| l.carrying(spread))? {
        return Ok(None);
    }
    let ready = Ready { at: Instant::now(), unix_s: unix_now() };
    s.note(&format!("traffic flowing: {}", s.live.status(&s.display_members())));
    Ok(Some(ready))
}
