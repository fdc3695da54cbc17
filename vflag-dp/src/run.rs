//! One run of vflag-dp: start the EAL, set up ports and the mbuf pool, launch the forwarding
//! lcores, watch them from the main lcore (rates, link events, stop conditions), then stop
//! cleanly: final statistics, JSON report, ports stopped and closed, EAL cleaned up.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use dpdk_sys::eal::{Eal, LCORE_PANICKED};
use dpdk_sys::link_events::LinkWatch;
use dpdk_sys::port;
use dpdk_sys::{clock, DpdkError};

use crate::cli::{Config, FwdMode};
use crate::counters::StreamCounters;
use crate::fwd::{LcoreJob, StreamJob};
use crate::report::{self, PortReport, Report};
use crate::topology::{self, Stream};
use crate::{frame, monitor, ports, preflight};

/// Time given to queued frames to leave before the ports stop.
const DRAIN: Duration = Duration::from_millis(200);

/// A forwarding lcore that was launched, and the counters of the streams it polls.
pub struct LaunchedLcore {
    pub lcore: u32,
    pub streams: Vec<(Stream, Arc<StreamCounters>)>,
}

pub fn run(cfg: Config) -> Result<()> {
    if !cfg.no_huge {
        preflight::check_hugepages().map_err(anyhow::Error::msg)?;
    }
    let signalled = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second signal while stopping ends the process at once.
        signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(&signalled))?;
        signal_hook::flag::register(sig, Arc::clone(&signalled))?;
    }

    let eal = Eal::init(&cfg.eal_args()).map_err(|e| anyhow::anyhow!("{e}: {}", eal_hint(&e)))?;
    let infos = ports::discover_ports(&cfg)?;
    let pool = Arc::new(ports::create_pool(&cfg, &infos)?);
    let mut open = ports::OpenPorts(Vec::new());
    let mut watch = LinkWatch::new(4096);
    let descs = ports::setup_ports(&cfg, &infos, &pool, &mut open, &mut watch)?;
    if signalled.load(Ordering::Relaxed) {
        bail!("interrupted during set-up");
    }
    ports::wait_for_links(&cfg, &infos, &signalled);

    let port_ids: Vec<u16> = infos.iter().map(|p| p.id).collect();
    let macs: Vec<[u8; 6]> = port_ids.iter().map(|&p| port::mac(p).unwrap_or_default()).collect();
    let streams = topology::streams(&port_ids, cfg.rxq, cfg.fwd);
    let per_lcore = topology::assign(&streams, cfg.fwd_lcores.len());
    let quotas = match (cfg.fwd, cfg.count) {
        (FwdMode::Txonly, Some(n)) => topology::split_count(n, streams.len()).into_iter().map(Some).collect(),
        _ => vec![None; streams.len()],
    };

    for &p in &port_ids {
        port::stats_reset(p).ok();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut launched: Vec<LaunchedLcore> = Vec::new();
    let mut quota_iter = quotas.into_iter();
    let started_unix_s = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
    let (t0, tsc0) = (Instant::now(), clock::tsc());
    for (lcore, lcore_streams) in cfg.fwd_lcores.iter().zip(per_lcore) {
        if lcore_streams.is_empty() {
            println!("lcore {lcore}: no stream to poll (more forwarding lcores than port queues)");
            continue;
        }
        let jobs: Vec<StreamJob> = lcore_streams
            .iter()
            .map(|s| {
                let i = port_ids.iter().position(|&p| p == s.tx_port).unwrap_or(0);
                StreamJob {
                    stream: *s,
                    counters: Arc::new(StreamCounters::default()),
                    quota: quota_iter.next().flatten(),
                    template: frame::udp_template(macs[i], dst_mac(&cfg, s.tx_port), cfg.pkt_size),
                }
            })
            .collect();
        launched.push(LaunchedLcore {
            lcore: *lcore,
            streams: jobs.iter().map(|j| (j.stream, Arc::clone(&j.counters))).collect(),
        });
        let job = LcoreJob {
            mode: cfg.fwd,
            streams: jobs,
            burst: cfg.burst,
            pkt_size: cfg.pkt_size,
            verbose: cfg.verbose,
            pool: Arc::clone(&pool),
            stop: Arc::clone(&stop),
        };
        if let Err(e) = eal.launch(*lcore, move || job.run()) {
            stop.store(true, Ordering::Relaxed);
            join(&eal, &launched);
            return Err(e.into());
        }
    }
    println!(
        "forwarding: mode {}, {} port(s), {} stream(s) on lcore(s) {:?}; Ctrl-C to stop",
        cfg.fwd.name(),
        port_ids.len(),
        streams.len(),
        launched.iter().map(|l| l.lcore).collect::<Vec<_>>()
    );

    let mut monitor = monitor::Monitor::new(&cfg, &infos, t0, tsc0);
    let reason = monitor.watch(&launched, &signalled, &mut watch);
    stop.store(true, Ordering::Relaxed);
    let panicked = join(&eal, &launched);
    let duration_s = t0.elapsed().as_secs_f64();
    std::thread::sleep(DRAIN);
    watch.poll();
    monitor.take_link_events(&watch);
    let final_stats = monitor.sample();

    let snapshots: Vec<_> =
        launched.iter().flat_map(|l| l.streams.iter().map(move |(s, c)| (l.lcore, *s, c.snapshot()))).collect();
    let stream_reports = report::stream_reports(&snapshots);
    let mut ports: Vec<PortReport> = infos
        .iter()
        .zip(&descs)
        .zip(&macs)
        .zip(&final_stats)
        .map(|(((i, d), m), s)| ports::port_report(i, *d, m, s))
        .collect();
    let totals = report::finish(&mut ports, &stream_reports, duration_s);
    let report = Report {
        schema: report::SCHEMA,
        vflag_version: env!("CARGO_PKG_VERSION"),
        dpdk_version: eal.version(),
        settings: cfg.clone(),
        started_unix_s,
        duration_s,
        stop_reason: reason,
        ports,
        streams: stream_reports,
        link_events: monitor.link_events,
        totals,
    };
    print!("{}", report::render(&report));
    let written = match &cfg.json {
        Some(path) => report::write_json(&report, path).with_context(|| format!("writing --json {}", path.display())),
        None => Ok(()),
    };
    drop(watch);
    drop(open);
    println!("ports stopped and closed");
    drop(pool);
    drop(eal);
    if !panicked.is_empty() {
        bail!("forwarding lcore(s) {panicked:?} panicked (a bug; the message is above)");
    }
    written
}

/// What to tell the user when the EAL will not start.
fn eal_hint(e: &DpdkError) -> &'static str {
    match e.errno {
        libc::EACCES => "cannot use hugepages or devices: run as root, reserve hugepages or pass --no-huge -m 512",
        libc::ENOMEM => "not enough memory: reserve more hugepages or lower -m / --mbufs",
        libc::EALREADY => "another EAL is running with this --file-prefix: give each process its own",
        libc::EINVAL => "an EAL argument was rejected (see DPDK's message above)",
        libc::ENODEV | libc::ENOENT => "a device could not be probed: check -a/--vdev and the driver binding",
        _ => "see DPDK's messages above",
    }
}

fn dst_mac(cfg: &Config, tx_port: u16) -> [u8; 6] {
    // testpmd's default peer address: 02:00:00:00:00:<port>.
    cfg.dst_mac.unwrap_or([2, 0, 0, 0, 0, tx_port as u8])
}

/// Waits for every launched lcore; returns those that panicked.
fn join(eal: &Eal, launched: &[LaunchedLcore]) -> Vec<u32> {
    launched.iter().filter(|l| eal.wait(l.lcore) == LCORE_PANICKED).map(|l| l.lcore).collect()
}
