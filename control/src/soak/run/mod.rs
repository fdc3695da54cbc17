//! One soak, start to finish, in its phases: `prepare` (the checks, the claim, the pre-flight,
//! `--out`, the lab, the watchers), `start` (the receiver, then the generator or a foreign
//! one), `converge` (traffic on the bond), `flap` (the schedule, then the watch after the last
//! flap) or `watch` alone (flaps by hand), `stop` (both sides, in order, and what they left),
//! `report` (analyze, judge, write). Whatever happens, the children are stopped, links are
//! left up, and a lab the soak brought up is taken down (unless --keep): the guards drop in
//! that order.

mod converge;
mod flap;
mod lab_guard;
mod prepare;
mod report;
mod session;
mod start;
mod stop;
mod watch;

use anyhow::Result;

use super::args::SoakArgs;
use crate::lab::LabSpec;

/// The exit code: 0 pass, 3 fail, 1 error (an interrupted soak that did not fail).
pub fn soak(args: &SoakArgs, spec: &LabSpec) -> Result<u8> {
    let mut run = prepare::prepare(args, spec)?;
    // Declared after `run`: the processes stop before the watchers and the lab go.
    let mut s = start::start(args, spec, &mut run)?;
    let Some(ready) = converge::converge(args, &run, &mut s)? else {
        return Ok(s.finish_interrupted_early(run));
    };
    let ran = if args.observing() {
        watch::observe(args, &mut run, &mut s, ready.at)?
    } else {
        flap::flap_all(&mut run, &mut s, ready.at)?
    };
    run.flapper.restore();
    let stopped = stop::stop(args, &mut run, &mut s)?;
    let code = report::report(args, &mut run, &mut s, &ran, ready, stopped)?;
    drop(s);
    drop(run);
    Ok(code)
}
