//! The second phase: the receiver, and once its `start` event is seen the generator (the far
//! side's vflag-dp) or a foreign one (`--traffic-cmd`); each child's pid goes into the claim.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;

use super::prepare::Prepared;
use super::session::Session;
use crate::lab::LabSpec;
use crate::soak::args::SoakArgs;
use crate::soak::peer::Peer;
use crate::soak::receiver;
use crate::soak::traffic::Traffic;
use procs::Proc;

/// How many times the receiver is started when it loses af_packet's fanout race.
const RECEIVER_STARTS: usize = 3;

/// DPDK's af_packet driver takes `(pid ^ ifindex) & 0xffff` as its PACKET_FANOUT group id,
/// unique only within a network namespace: a receiver whose id another process already holds on
/// another interface exits at start with this line. Its next pid gives another id.
fn lost_the_fanout_race(rx: &mut Proc) -> bool {
    rx.exited().is_some() && fanout_taken(&rx.log_tail(20))
}

fn fanout_taken(log: &str) -> bool {
    log.lines().any(|l| l.contains("could not set PACKET_FANOUT"))
}

pub fn start(args: &SoakArgs, spec: &LabSpec, run: &mut Prepared) -> Result<Session> {
    // The soak's generator sends this run, and the receiver tracks only it: frames of any
    // other run (an earlier soak's generator) cannot be taken for this one's.
    let run_id = (args.lab || args.peer_cmd.is_some()).then(|| fastrand::u16(1..));
    let peer = args.soak_generates().then(|| Peer::new(args, spec, run_id.unwrap_or_default())).transpose()?;
    let rx_argv = receiver::argv(args, spec, run.vf.as_ref(), &run.vflag_dp, &run.files, run_id);
    println!("receiver: {}", rx_argv.join(" "));
    let mut attempt = 1;
    let mut s = loop {
        let rx = Proc::spawn("receiver", &rx_argv, Path::new(&run.files.rx_log))?;
        run.claim.add_child(rx.pid(), "receiver");
        let mut s = Session::new(run, rx, Path::new(&run.files.rx_events), run_id);
        match s.wait_for(Duration::from_secs(30), "the receiver did not start", |l| l.started_unix_s.is_some()) {
            Err(_) if attempt < RECEIVER_STARTS && lost_the_fanout_race(&mut s.rx) => {
                s.note("receiver: another DPDK process on this machine holds its af_packet fanout group id; starting it again");
                attempt += 1;
            }
            started => {
                started?;
                break s;
            }
        }
    };
    s.metrics = run.metrics.take();
    if let Some(p) = peer {
        let gen_argv = p.argv(args, spec, &run.vflag_dp, run_id.unwrap_or_default())?;
        println!("generator: {}", gen_argv.join(" "));
        let gen = p.start(&gen_argv, Path::new(run.files.gen_log.as_deref().unwrap_or_default()))?;
        run.claim.add_child(gen.pid(), "generator");
        s.gen = Some(gen);
        s.peer = Some((p, gen_argv));
    }
    let traffic_log = run.files.traffic_log.clone().unwrap_or_default();
    s.traffic = Traffic::start(args.traffic_cmd.as_deref(), args.traffic_stop_cmd.as_deref(), Path::new(&traffic_log))?;
    if let Some(t) = &s.traffic {
        println!("traffic: {} -> {traffic_log}", args.traffic_cmd.as_deref().unwrap_or_default());
        run.claim.add_child(t.pid(), "traffic generator");
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_lost_fanout_race_is_started_again() {
        // As DPDK 22.11's and 24.11's af_packet driver print it.
        let lost = "EAL: Detected CPU lcores: 2\n\
            af_packet: could not set PACKET_FANOUT on AF_PACKET socket for pa1: Invalid argument\n\
            vdev_probe(): failed to initialize net_af_packet1 device\n\
            vflag-dp: error: rte_eal_init failed";
        assert!(fanout_taken(lost));
        assert!(!fanout_taken("vflag-dp: error: --rate 0: must be positive"));
        assert!(!fanout_taken("af_packet: could not bind AF_PACKET socket to pa1"), "another failure stays one");
    }
}
