//! One run of vflag-dp: start the EAL, set up ports and the mbuf pool, launch the forwarding
//! lcores, watch them from the main lcore (rates, link events, outages, stop conditions), then
//! stop cleanly: final statistics, verdict, JSON report, ports stopped and closed, EAL cleaned up.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use dpdk::eal::Eal;
use dpdk::lcore::{RunningLcore, LCORE_PANICKED};
use dpdk::link_events::LinkWatch;
use dpdk::port::{self, PortInfo};
use dpdk::{clock, DpdkError};

use crate::analysis::RxAnalysis;
use crate::cli::Config;
use crate::events::EventLog;
use crate::interleave;
use crate::launch::{self, LaunchedLcore};
use crate::monitor::{Members, Monitor, MonitorConfig};
use crate::report::{self, GeneratorReport, PortReport, Report};
use crate::stop::Stop;
use crate::verdict::{self, Figures, NotTracked, Verdict};
use crate::{bond, ports, preflight, results};
use outfile::OutFile;

/// Time given to queued frames to leave before the ports stop.
const DRAIN: Duration = Duration::from_millis(200);

/// How a run ended, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    /// A --max-* / --min-* threshold failed.
    Fail,
}

pub fn run(cfg: Config) -> Result<Outcome> {
    // First, so that no way out (a signal included) leaves the reserved temp file behind.
    let signals = Stop::install("vflag-dp").context("installing the signal handlers")?;
    if cfg.run.stop_on_eof {
        signals.on_eof("vflag-dp", std::io::stdin()).context("watching standard input")?;
    }
    // The output files before anything else: a path that cannot be written fails now, not
    // after the run.
    let json_out =
        cfg.run.json.as_deref().map(|p| OutFile::reserve("--json", p)).transpose().map_err(anyhow::Error::msg)?;
    let junit_out =
        cfg.run.junit.as_deref().map(|p| OutFile::reserve("--junit", p)).transpose().map_err(anyhow::Error::msg)?;
    let events = EventLog::open(cfg.run.events.as_deref()).with_context(|| {
        format!("--events {}", cfg.run.events.as_deref().unwrap_or(std::path::Path::new("")).display())
    })?;
    if !cfg.eal.no_huge {
        preflight::check_hugepages().map_err(anyhow::Error::msg)?;
    }

    // DPDK's own failure for a held prefix says "Success (errno 0)": name the holder instead,
    // before the EAL starts (and again if it fails, for a holder that came in between).
    let prefix_in_use = || {
        let prefix = cfg.eal.primary_prefix()?;
        let pid = dpdk::eal::prefix_holder(&prefix)?;
        Some(anyhow::anyhow!("--file-prefix {prefix} is in use by pid {pid}: give each DPDK process its own"))
    };
    if let Some(e) = prefix_in_use() {
        return Err(e);
    }
    let eal = Eal::init(&cfg.eal.eal_args())
        .map_err(|e| prefix_in_use().unwrap_or_else(|| anyhow::anyhow!("{e}: {}", eal_hint(&e))))?;
    let infos = ports::discover_ports(&cfg.eal, &cfg.ports)?;
    let members = bond_members(&cfg)?;
    let pool = ports::create_pool(&eal, &cfg.ports, cfg.eal.fwd_lcores.len(), cfg.forwarding.burst, &infos)?;
    let mut open = ports::OpenPorts(Vec::new());
    let mut watch = LinkWatch::new(4096);
    let descs = ports::setup_ports(&cfg.ports, cfg.eal.lacp_timers_ms(), &eal, &infos, &pool, &mut open, &mut watch)?;
    for &m in &members.ids {
        watch.watch(m, port::info(m).is_ok_and(|i| i.lsc_interrupt))?;
    }
    if signals.requested() {
        bail!("interrupted during set-up");
    }
    ports::wait_for_links(&cfg.ports, &infos, signals.flag());

    let port_ids: Vec<u16> = infos.iter().map(|p| p.id).collect();
    let macs: Vec<[u8; 6]> = port_ids.iter().map(|&p| port::mac(p).unwrap_or_default()).collect();
    for &p in port_ids.iter().chain(&members.ids) {
        port::stats_reset(p).ok();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let started_unix_s = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
    let (t0, tsc0) = (Instant::now(), clock::tsc());
    let plan = launch::plan(
        &launch::Spec {
            fwd_lcores: &cfg.eal.fwd_lcores,
            rxq: cfg.ports.rxq,
            forwarding: &cfg.forwarding,
            gen: &cfg.gen,
            rx: &cfg.rx,
            run_id: cfg.run_id,
            count: cfg.run.count,
            lacp: cfg.eal.lacp(),
        },
        open.queues()?,
        &macs,
        &pool,
        &stop,
        clock::tsc_hz(),
        tsc0,
    )?;
    let launched = plan.launched;
    let analysing = launched.iter().filter(|l| l.analysis.is_some()).count();
    // The lcores' jobs hold queue handles borrowed from `open`: the scope waits for every
    // lcore before it returns, and `StopLcores` stops them first on every way out.
    let (mut monitor, reason, panicked) = eal.scope(|lcores| -> Result<_> {
        let _stop_on_exit = StopLcores(&stop);
        let mut running = Vec::new();
        for (lcore, job) in plan.jobs {
            running.push(lcores.launch(lcore, move || job.run())?);
        }
        for idle in cfg.eal.fwd_lcores.iter().filter(|l| !launched.iter().any(|x| x.lcore == **l)) {
            println!("lcore {idle}: no stream to poll (more forwarding lcores than port queues)");
        }
        println!(
            "forwarding: mode {}, {} port(s), {} stream(s) on lcore(s) {:?}{}; Ctrl-C to stop",
            cfg.forwarding.mode.name(),
            port_ids.len(),
            plan.streams,
            launched.iter().map(|l| l.lcore).collect::<Vec<_>>(),
            plan.run_id.map(|r| format!(", run id {r}, {} flows", cfg.gen.flows)).unwrap_or_default()
        );

        let mut monitor = Monitor::new(
            MonitorConfig {
                mode: cfg.forwarding.mode,
                bin_ms: cfg.rx.bin_ms,
                stats_interval_s: cfg.run.stats_interval_s,
                count: cfg.run.count,
                duration_s: cfg.run.duration_s,
                bond: cfg.eal.bond.is_some(),
                vdevs: cfg.eal.vdevs.clone(),
            },
            &infos,
            &members,
            analysing,
            events,
            t0,
            tsc0,
        );
        match crate::telemetry::register() {
            Ok(shared) => monitor.publish_to(shared),
            Err(e) => eprintln!("vflag-dp: warning: telemetry commands not registered: {e}"),
        }
        let start = crate::events::Event::start(&cfg, plan.run_id, started_unix_s);
        monitor.events.write(start.t_s, start.what);
        let reason = monitor.watch(&launched, signals.flag(), &mut watch, &plan.gaps);
        stop.store(true, Ordering::Relaxed);
        Ok((monitor, reason, join(running)))
    })?;
    let duration_s = t0.elapsed().as_secs_f64();
    signals.sleep_unless_hurried(DRAIN);
    watch.poll();
    monitor.take_link_events(&watch);
    monitor.take_gaps(&plan.gaps, &launched);
    let final_stats = monitor.sample();

    let (report, figures, verdict) = build_report(
        &cfg,
        &eal,
        &infos,
        &descs,
        &macs,
        &final_stats,
        &members,
        &launched,
        monitor,
        Run { tsc0, started_unix_s, duration_s, reason, run_id: plan.run_id },
    );
    print!("{}", report::render(&report));
    let written = match json_out {
        Some(out) => report::write_json(&report, out).map_err(anyhow::Error::msg),
        None => Ok(()),
    };
    let junit_written = match junit_out {
        Some(out) => {
            out.commit(junit_report(&report, &figures, &verdict).to_xml().as_bytes()).map_err(anyhow::Error::msg)
        }
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
    written?;
    junit_written?;
    if let Some(line) = report.generator.as_ref().and_then(GeneratorReport::shortfall_line) {
        eprintln!("vflag-dp: warning: {line}");
    }
    for f in &report.verdict.failures {
        eprintln!("vflag-dp: FAIL: {f}");
    }
    Ok(if report.verdict.pass { Outcome::Pass } else { Outcome::Fail })
}

struct Run {
    tsc0: u64,
    started_unix_s: f64,
    duration_s: f64,
    reason: report::StopReason,
    run_id: Option<u16>,
}

#[allow(clippy::too_many_arguments)]
fn build_report(
    cfg: &Config,
    eal: &Eal,
    infos: &[PortInfo],
    descs: &[port::Descriptors],
    macs: &[[u8; 6]],
    final_stats: &[port::Stats],
    members: &Members,
    launched: &[LaunchedLcore],
    mut monitor: Monitor,
    run: Run,
) -> (Report, Figures, Verdict) {
    let snapshots: Vec<_> =
        launched.iter().flat_map(|l| l.streams.iter().map(move |(s, c)| (l.lcore, *s, c.snapshot()))).collect();
    let streams = report::stream_reports(&snapshots);
    let mut ports: Vec<PortReport> = infos
        .iter()
        .zip(descs)
        .zip(macs)
        .zip(final_stats)
        .map(|(((i, d), m), s)| ports::port_report(i, *d, m, s))
        .collect();
    let totals = report::finish(&mut ports, &streams, run.duration_s);
    // The rate it achieved once traffic began: a bond refuses frames until LACP has
    // converged (its own LACP frames go out before), which is the link's doing, not the
    // generator's; a generator that cannot keep up is short all along.
    let from = monitor.timeline.sending_from_s(cfg.rate_pps()).unwrap_or(0.0);
    let sending_s = run.duration_s - from.min(run.duration_s);
    let achieved = if sending_s > 0.0 { totals.tx_packets as f64 / sending_s } else { 0.0 };
    let generator = run.run_id.map(|id| GeneratorReport::new(id, cfg.gen.flows, cfg.rate_pps(), achieved));
    let analysis = merged_analysis(launched).map(|a| results::analysis_report(&a, run.tsc0));
    let load_balance = results::load_balance(
        &members.names,
        &members.ids,
        &monitor.member_totals(),
        &streams,
        &monitor.timeline,
        &monitor.link_events,
    );
    // The longest time all traffic, or any tracked flow, went without frames.
    let flow_max = analysis.iter().flat_map(|a| a.flow_outages.iter().map(|o| o.longest_ms));
    let figures = Figures {
        // An outage still open at the end is reported, not judged: the sender may simply have
        // stopped first.
        max_outage_ms: monitor
            .outages
            .iter()
            .filter(|o| !o.open)
            .map(|o| o.duration_ms)
            .chain(flow_max)
            .reduce(f64::max),
        lost: analysis.as_ref().map_or(0, |a| a.tracked.lost),
        expected: analysis.as_ref().map_or(0, |a| a.tracked.received + a.tracked.lost),
        not_tracked: analysis
            .as_ref()
            .map(|a| NotTracked { other_run: a.frames.other_run, untracked_flow: a.frames.untracked_flow }),
        member_shares: load_balance.member_shares(),
    };
    let verdict = verdict::judge(&figures, &cfg.limits);
    let end = crate::events::What::<()>::End { stop_reason: run.reason, verdict: verdict.to_report() };
    monitor.events.write(run.duration_s, end);
    let report = Report {
        schema: report::SCHEMA.into(),
        vflag_version: env!("CARGO_PKG_VERSION").into(),
        dpdk_version: eal.version(),
        settings: cfg.clone(),
        started_unix_s: run.started_unix_s,
        duration_s: run.duration_s,
        stop_reason: run.reason,
        ports,
        streams,
        link_events: std::mem::take(&mut monitor.link_events),
        totals,
        generator,
        analysis,
        interleave: cfg
            .rx
            .interleave_ms
            .map(|ms| interleave::report(&launch::interleave_totals(launched), clock::tsc_hz(), ms)),
        outages: std::mem::take(&mut monitor.outages),
        load_balance,
        // Moved, not copied: a long run's timeline is its largest part.
        timeline: monitor.timeline.take_bins(),
        verdict: verdict.to_report(),
    };
    (report, figures, verdict)
}

/// `--junit`: the verdict's thresholds as testcases, and what ran as the suite's properties.
fn junit_report(r: &Report, figures: &Figures, verdict: &Verdict) -> junit::Testsuites {
    use junit::Property as P;
    let stop = serde_json::to_value(r.stop_reason).ok().and_then(|v| v.as_str().map(str::to_string));
    let mut properties = vec![
        P::new("fwd", r.settings.forwarding.mode.name()),
        P::new("dpdk_version", &r.dpdk_version),
        P::new("stop_reason", stop.unwrap_or_default()),
        P::new("ports", r.ports.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(",")),
        P::new("pass", r.verdict.pass),
    ];
    if let Some(a) = &r.analysis {
        properties.push(P::new("run_id", a.run_id.map(|id| id.to_string()).unwrap_or_default()));
    }
    let run = verdict::RunFacts { started_unix_s: r.started_unix_s, duration_s: r.duration_s, properties };
    verdict::junit(verdict, figures, run)
}

/// The analysing lcores' final states, merged into one.
fn merged_analysis(launched: &[LaunchedLcore]) -> Option<RxAnalysis> {
    let mut merged: Option<RxAnalysis> = None;
    for (_, slot) in launched.iter().filter_map(|l| l.analysis.as_ref()) {
        let Some(a) = slot.lock().unwrap_or_else(|p| p.into_inner()).take() else { continue };
        match merged.as_mut() {
            Some(m) => m.merge(a),
            None => merged = Some(a),
        }
    }
    merged
}

/// Members of the bonds given with --vdev, by device name and port id.
fn bond_members(cfg: &Config) -> Result<Members> {
    let mut m = Members::default();
    for v in cfg.eal.all_vdevs() {
        let Some((bond, names)) = bond::members(&v) else { continue };
        for n in names {
            let id = port::port_by_name(&n).with_context(|| format!("bond {bond}: member {n} has no port"))?;
            m.names.push(n);
            m.ids.push(id);
        }
    }
    Ok(m)
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

/// Waits for every launched lcore; returns those that panicked.
fn join(running: Vec<RunningLcore<'_>>) -> Vec<u32> {
    running
        .into_iter()
        .filter_map(|r| {
            let lcore = r.lcore();
            (r.join() == LCORE_PANICKED).then_some(lcore)
        })
        .collect()
}

/// Sets the lcores' stop flag when dropped: on a way out of the lcore scope that did not stop
/// them (a failed launch, a panic), they stop before the scope waits for them.
struct StopLcores<'a>(&'a AtomicBool);

impl Drop for StopLcores<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
