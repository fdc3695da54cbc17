//! The fifth phase: the LAG model and the NIC watch stopped, the receiver (SIGTERM: it writes
//! its report), its last events, then the generator and a foreign one; the far side's report
//! fetched; the link counters' last samples.

use std::process::ExitStatus;
use std::time::{Duration, Instant};

use anyhow::Result;

use super::prepare::Prepared;
use super::session::Session;
use crate::lab::lag_model::Remap;
use crate::runner::SystemRunner;
use crate::soak::args::SoakArgs;
use crate::soak::clock::unix_now;
use crate::soak::link_counters::{LinkSeries, LinkWatch};
use crate::soak::nic_watch::NicSeries;
use crate::soak::outputs;
use crate::soak::peer::FarSide;
use crate::soak::traffic::{Traffic, TrafficReport};

/// What the stopped sides left.
pub struct Stopped {
    /// The LAG model's remaps, with the instant and wall clock they were taken at.
    pub remaps: Option<(Vec<Remap>, Instant, f64)>,
    /// What the NIC watch sampled, and a note when it could not.
    pub nic: Option<(NicSeries, Option<String>)>,
    pub rx_status: Option<ExitStatus>,
    pub traffic: Option<TrafficReport>,
    pub far_side: Option<FarSide>,
    pub link_series: Option<LinkSeries>,
    pub link_error: Option<String>,
}

pub fn stop(args: &SoakArgs, run: &mut Prepared, s: &mut Session) -> Result<Stopped> {
    s.phase = "stopping".into();
    s.note("stopping the receiver, then the generator");
    let remaps = run.lag_model.take().map(|m| (m.stop(), Instant::now(), unix_now()));
    let nic = run.nic.take().and_then(|n| n.finish());
    let rx_status = s.rx.stop(Duration::from_secs(20));
    s.read_events()?;
    if let Some(g) = s.gen.as_mut() {
        g.stop(Duration::from_secs(20));
    }
    let traffic = s.traffic.as_mut().and_then(Traffic::stop);
    // Its report, written on the far side, copied into --out once it has stopped.
    let far_side = s.peer.take().map(|(p, argv)| p.fetch(&mut SystemRunner, argv, &args.out.join(outputs::GEN_REPORT)));
    if let Some(e) = far_side.as_ref().and_then(|f| f.fetch_error.as_ref()) {
        eprintln!("vflag-ctl: warning: the far side's report was not fetched: {e}");
    }
    let (link_series, link_error) = match run.link_watch.take().map(LinkWatch::finish) {
        Some((series, error)) => (Some(series), error),
        None => (None, None),
    };
    if let Some(e) = &link_error {
        eprintln!("vflag-ctl: warning: link counters stopped early: {e}");
    }
    Ok(Stopped { remaps, nic, rx_status, traffic, far_side, link_series, link_error })
}
