//! One soak, start to finish: start the receiver (and in the lab the generator), wait until the
//! bond carries traffic, flap links on the schedule while showing progress, stop both sides,
//! then build, write and judge the report. Whatever happens, the children are stopped, links
//! are left up, and a lab the soak brought up is taken down (unless --keep).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use outfile::OutFile;

use super::analyze::{self, FlapRecord};
use super::args::{parse_rate, SoakArgs};
use super::clock::unix_now;
use super::failover::Resolution;
use super::flappers::{CmdFlapper, Flapper, LabFlapper};
use super::integrity::{Integrity, When};
use super::lab_dpdk::{lacp_rate, LAB_MEMORY};
use super::latency;
use super::link_counters::{self, LinkSeries, LinkWatch, LiveRates};
use super::live::{EventTail, Live};
use super::peer::Peer;
use super::plot;
use super::procs::Proc;
use super::report::{self, Files, Settings, SoakReport};
use super::rx_report::{self, RxReport};
use super::schedule::{PlannedFlap, Schedule};
use super::seen::Seen;
use super::traffic::Traffic;
use super::verdict::{self, LossTotals};
use crate::lab::{self, LabSpec};
use crate::runner::SystemRunner;
use cli_exit::BadUsage;

/// The exit code: 0 pass, 3 fail, 1 error (an interrupted soak that did not fail).
pub fn soak(args: &SoakArgs, spec: &LabSpec) -> Result<u8> {
    let seed =
        args.seed.unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64));
    let n_links = if args.lab { spec.links.len() } else { args.links.len().max(1) };
    let schedule = args.validate(n_links, seed).map_err(|e| BadUsage(e.to_string()))?;
    let vflag_dp = find_vflag_dp(args.vflag_dp.as_deref())?;
    // On real hardware, a bad --link-counters is refused before anything starts.
    let counter_links = if args.lab { Vec::new() } else { link_counters::choose(&args.link_counters, &args.links)? };
    if args.lab {
        cli_exit::require_root("soak --lab", "it brings the lab up and flaps its links")?;
    }
    // One soak per lab or DUT: taken before anything (even --out) is touched.
    let (key, what) = if args.lab {
        crate::claim::lab(&spec.ns)
    } else {
        crate::claim::dut(&super::words::split("--dut-args", args.dut_args.as_deref().unwrap_or_default())?)
    };
    let mut claim = crate::claim::Claim::take(&crate::claim::run_dir(), &key, &what, "soak")?;
    // Real hardware: verify's checklist must pass before --out or anything else is touched.
    let mut pre = super::preflight::run(args)?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating --out {}", args.out.display()))?;
    // A previous soak's files must not be read as this one's.
    for name in [
        "soak.json",
        "soak.md",
        "soak.svg",
        "rx.json",
        "rx-events.jsonl",
        "rx.log",
        "gen.json",
        "gen.log",
        "traffic.log",
        "traffic.stop.log",
        "links.jsonl",
        "nic.jsonl",
    ] {
        let _ = std::fs::remove_file(args.out.join(name));
    }
    // Ready before anything starts: a path that cannot be written is found now, not at the end.
    let outputs = Outputs {
        report: reserve(&args.out, "soak.json")?,
        table: reserve(&args.out, "soak.md")?,
        plot: reserve(&args.out, "soak.svg")?,
        junit: match &args.junit {
            Some(p) => {
                // As for soak.json: a CI job must not read an earlier soak's verdict as this one's.
                if std::fs::metadata(p).is_ok_and(|m| m.is_file()) {
                    let _ = std::fs::remove_file(p);
                }
                Some(OutFile::reserve("--junit", p).map_err(anyhow::Error::msg)?)
            }
            None => None,
        },
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).context("installing signal handlers")?;
    }
    let mut files = Files {
        report: path(&args.out, "soak.json"),
        table: path(&args.out, "soak.md"),
        plot: path(&args.out, "soak.svg"),
        rx_report: path(&args.out, "rx.json"),
        rx_events: path(&args.out, "rx-events.jsonl"),
        rx_log: path(&args.out, "rx.log"),
        gen_log: args.soak_generates().then(|| path(&args.out, "gen.log")),
        gen_report: args.soak_generates().then(|| path(&args.out, "gen.json")),
        traffic_log: args.traffic_cmd.is_some().then(|| path(&args.out, "traffic.log")),
        links: None,
        nic: None,
        junit: args.junit.as_ref().map(|p| p.display().to_string()),
    };
    // Declared before the processes, so it is dropped after they are stopped.
    let mut lab_guard = None;
    let vf = args.vf.then(|| lab::vf::VfSpec::new(spec));
    let mut flapper: Box<dyn Flapper> = if args.lab {
        let made = match &vf {
            Some(v) => !lab::vf::status(&mut SystemRunner, spec, v)?.complete(),
            None => !lab::status(&mut SystemRunner, spec)?.complete(),
        };
        if made {
            let done = match &vf {
                Some(v) => lab::vf::up(&mut SystemRunner, spec, v)?,
                None => lab::up(&mut SystemRunner, spec)?,
            };
            println!("lab up: namespace {}, {} command(s)", spec.ns, done.len());
        } else {
            println!("lab already up: namespace {} (left up afterwards)", spec.ns);
        }
        lab_guard = Some(LabGuard { spec: spec.clone(), vf: vf.clone(), teardown: made && !args.keep });
        Box::new(LabFlapper::new(spec.clone(), args.flap_kind))
    } else {
        Box::new(CmdFlapper::new(args.links.clone(), args.flap_templates()?, args.flap_kind)?)
    };
    // The lab's model of the NIC's LAG remaps on every carrier change while the soak runs.
    let lag_model = vf.as_ref().map(|v| lab::lag_model::LagModel::start(spec, v)).transpose()?;
    pre.lab_is_up(args, spec, vf.as_ref());
    if let Some(v) = &vf {
        println!(
            "LAG model: {} -> {} (hash over {}), debugfs {}",
            v.dut_iface(),
            v.rep,
            spec.links.iter().map(|l| l.0.as_str()).collect::<Vec<_>>().join("+"),
            v.debugfs_root().display()
        );
    }
    // The NIC's own state (LAG, PFs, bond, kernel log), sampled through the soak.
    let nic = super::nic_watch::start(args, spec, vf.as_ref(), &args.out);
    files.nic = nic.file.clone();
    // A VF has no members: the links' split comes from the host links' counters.
    let members: Vec<String> =
        if args.lab && vf.is_none() { spec.links.iter().map(|(h, _)| h.clone()).collect() } else { Vec::new() };
    let link_names: Vec<String> = (0..n_links).map(|l| flapper.name(l)).collect();
    // The lab's host links are where its bond receives, as the PFs are on real VF-LAG.
    let host_links: Vec<String> = spec.links.iter().map(|(h, _)| h.clone()).collect();
    let counter_links = if args.lab { link_counters::choose(&[], &host_links)? } else { counter_links };
    let mut link_watch = None;
    if !counter_links.is_empty() {
        let out = path(&args.out, "links.jsonl");
        let names: Vec<String> =
            counter_links.iter().map(|l| format!("{} ({})", l.name, l.source.describe())).collect();
        println!("link counters: {} -> {out}", names.join(", "));
        link_watch = Some(LinkWatch::start(counter_links.clone(), Path::new(&out))?);
        files.links = Some(out);
    }

    // The soak's generator sends this run, and the receiver tracks only it: frames of any
    // other run (an earlier soak's generator) cannot be taken for this one's.
    let run_id = (args.lab || args.peer_cmd.is_some()).then(|| fastrand::u16(1..));
    let peer = args.soak_generates().then(|| Peer::new(args, spec, run_id.unwrap_or_default())).transpose()?;
    let rx_argv = receiver_argv(args, spec, vf.as_ref(), &vflag_dp, &files, run_id);
    println!("receiver: {}", rx_argv.join(" "));
    let rx = Proc::spawn("receiver", &rx_argv, Path::new(&files.rx_log))?;
    claim.add_child(rx.pid(), "receiver");
    let mut s = Soak {
        stop,
        tail: EventTail::new(Path::new(&files.rx_events)),
        live: Live::default(),
        rx,
        gen: None,
        traffic: None,
        tty: std::io::stdout().is_terminal(),
        members,
        link_rates: link_watch.as_ref().map(LinkWatch::live),
        t0: Instant::now(),
        last_progress: Instant::now(),
        phase: "starting".into(),
    };
    s.wait_for(Duration::from_secs(30), "the receiver did not start", |l| l.started_unix_s.is_some())?;
    let mut gen_argv = Vec::new();
    if let Some(p) = &peer {
        gen_argv = p.argv(args, spec, &vflag_dp, run_id.unwrap_or_default())?;
        println!("generator: {}", gen_argv.join(" "));
        let gen = p.start(&gen_argv, Path::new(files.gen_log.as_deref().unwrap_or_default()))?;
        claim.add_child(gen.pid(), "generator");
        s.gen = Some(gen);
    }
    let traffic_log = files.traffic_log.clone().unwrap_or_default();
    s.traffic = Traffic::start(args.traffic_cmd.as_deref(), args.traffic_stop_cmd.as_deref(), Path::new(&traffic_log))?;
    if let Some(t) = &s.traffic {
        println!("traffic: {} -> {traffic_log}", args.traffic_cmd.as_deref().unwrap_or_default());
        claim.add_child(t.pid(), "traffic generator");
    }
    let spread = args.lab && vf.is_none() && args.bond.spreads();
    s.phase = "waiting for traffic".into();
    let what = if spread { "no traffic on every bond member" } else { "no traffic" };
    if !s.wait_for(args.converge_timeout, what, |l| l.carrying(spread))? {
        return s.finish_interrupted_early(lab_guard);
    }
    let ready = (Instant::now(), unix_now());
    s.note(&format!("traffic flowing: {}", s.live.status(&s.display_members())));

    let observing = args.observing();
    let (records, complete) = if observing {
        let d = args.duration.unwrap_or_default();
        s.phase = format!("watching for {} s (flap links by hand)", d.as_secs_f64());
        let start = s.check_integrity(&mut pre.integrity, When::BeforeFlaps, Duration::from_secs(2))?;
        let done = start && s.sleep_checked(ready.0 + d, &mut pre.integrity, When::End)?;
        (Vec::new(), done)
    } else {
        s.flap_all(&schedule, ready.0, flapper.as_mut(), &link_names, &mut pre.integrity)?
    };
    let interrupted = !complete;
    flapper.restore();

    s.phase = "stopping".into();
    s.note("stopping the receiver, then the generator");
    let remaps = lag_model.map(|m| (m.stop(), Instant::now(), unix_now()));
    let nic = nic.finish();
    let rx_status = s.rx.stop(Duration::from_secs(20));
    s.read_events()?;
    if let Some(g) = s.gen.as_mut() {
        g.stop(Duration::from_secs(20));
    }
    let traffic = s.traffic.as_mut().and_then(Traffic::stop);
    // Its report, written on the far side, copied into --out once it has stopped.
    let far_side = peer.map(|p| p.fetch(&mut SystemRunner, gen_argv, &args.out.join("gen.json")));
    if let Some(e) = far_side.as_ref().and_then(|f| f.fetch_error.as_ref()) {
        eprintln!("vflag-ctl: warning: the far side's report was not fetched: {e}");
    }
    let (link_series, link_error) = match link_watch.take().map(LinkWatch::finish) {
        Some((series, error)) => (Some(series), error),
        None => (None, None),
    };
    if let Some(e) = &link_error {
        eprintln!("vflag-ctl: warning: link counters stopped early: {e}");
    }
    let rx = rx_report::read(Path::new(&files.rx_report)).with_context(|| {
        format!("the receiver wrote no report (exit {:?}); its last lines:\n{}", rx_status, s.rx.log_tail(8))
    })?;
    let members = if s.members.is_empty() {
        rx.load_balance.members.iter().map(|m| m.name.clone()).collect()
    } else {
        s.members.clone()
    };
    let ready_s = ready.1 - rx.started_unix_s;
    let seen = Seen { rx: &rx, members: &members, links: link_series.as_ref() };
    let resolution = resolution(args, &rx);
    let (mut flaps, unexplained) = if observing {
        (analyze::observed(seen, ready_s, resolution.ms), Vec::new())
    } else {
        let flaps = analyze::flaps(seen, &records, ready_s, &s.live.lost_series, resolution.ms);
        (flaps, analyze::unexplained(&rx, &records, ready_s))
    };
    let samples = latency::read_samples(Path::new(&files.rx_events));
    let latency = analyze::measure_latency(&mut flaps, &samples, ready_s, latency::clock(args.lab || args.same_clock));
    // The soak's generator says what it sent: an offered load short of the asked one is named.
    let generator = far_side.as_ref().and_then(|_| rx_report::read_generator(&args.out.join("gen.json")));
    if let Some(w) = generator.as_ref().and_then(report::generator_warning) {
        eprintln!("vflag-ctl: warning: {w}");
    }
    let tracked =
        rx.analysis.as_ref().filter(|a| a.tracked.received + a.frames.other_run + a.frames.untracked_flow > 0).map(
            |a| LossTotals {
                received: a.tracked.received,
                lost: a.tracked.lost,
                loss_pct: a.tracked.loss_pct,
                other_run: a.frames.other_run,
                untracked_flow: a.frames.untracked_flow,
            },
        );
    let shares =
        crate::soak::analyze::shares(&rx.load_balance.members.iter().map(|m| m.rx_packets).collect::<Vec<_>>());
    let counter_names: Vec<String> = counter_links.iter().map(|l| l.name.clone()).collect();
    let mut verdict = verdict::judge(&args.limits(), &flaps, &unexplained, tracked, &members, &counter_names);
    pre.integrity.judge(&mut verdict);
    pre.environment.dpdk_from_receiver(&rx.dpdk_version);
    let round_trip = if args.reflect {
        let far = vflag_contract::report::read(&args.out.join("gen.json")).ok();
        let rt = far.as_ref().map(|f| super::round_trip::measure(f, &rx, &flaps, &records, link_series.as_ref()));
        verdict.round_trip(rt.as_ref(), far_side.as_ref().and_then(|f| f.fetch_error.as_deref()));
        if let Some(r) = &rt {
            verdict.round_trip_limits(&args.limits(), r, &flaps, &counter_names);
        }
        rt
    } else {
        None
    };
    let planned = if observing { flaps.len() } else { schedule.flaps };
    let lag = nic.map(|(series, note)| {
        let source = if args.lab { "lab model" } else { "hardware" };
        let mut t = super::lag::timeline(&series, &records, &flaps, source);
        t.note = note.or(t.note);
        if let Some((remaps, now, now_unix)) = remaps {
            t.model_remaps = super::lag::model_remaps(remaps, now, now_unix, rx.started_unix_s);
        }
        t
    });
    let report = SoakReport {
        schema: report::SCHEMA,
        settings: Settings { run_id, ..settings(args, &schedule, seed, &link_names) },
        started_unix_s: rx.started_unix_s,
        complete,
        interrupted,
        members: members.clone(),
        link_counters: counter_links,
        link_counters_error: link_error,
        totals: report::Totals {
            generator,
            latency,
            ..report::totals(
                &flaps,
                planned,
                tracked,
                (shares, analyze::link_shares(link_series.as_ref())),
                rx.duration_s,
            )
        },
        resolution,
        flaps,
        lag,
        round_trip,
        far_side,
        traffic,
        unexplained_outages: unexplained,
        preflight: pre.report.clone(),
        environment: pre.environment.clone(),
        integrity: pre.integrity.report(),
        verdict,
        files: files.clone(),
    };
    write_outputs(&report, &rx, link_series.as_ref(), outputs)?;
    println!("\n{}", report::markdown(&report));
    let junit = files.junit.as_ref().map(|j| format!("  junit: {j}")).unwrap_or_default();
    println!("report: {}  table: {}  plot: {}{junit}", files.report, files.table, files.plot);
    drop(s);
    drop(lab_guard);
    // An interrupted soak is an error whatever its figures say: it did not run what was asked.
    Ok(if interrupted {
        eprintln!("vflag-ctl: {}", interrupted_line(&report.flaps, planned));
        1
    } else if !report.verdict.pass {
        3
    } else {
        0
    })
}

/// The receiver's resolution, else one from what the soak asked of it: its `--gap-ms` (in
/// `--dut-args`, else vflag-dp's default) and, in the lab, the flows and rate.
fn resolution(args: &SoakArgs, rx: &RxReport) -> Resolution {
    let words = args.dut_args.as_deref().and_then(|d| super::words::split("--dut-args", d).ok()).unwrap_or_default();
    let gap_ms = words.iter().enumerate().find_map(|(i, w)| match w.strip_prefix("--gap-ms") {
        Some("") => words.get(i + 1)?.parse().ok(),
        Some(v) => v.strip_prefix('=')?.parse().ok(),
        None => None,
    });
    let rate = if args.soak_generates() { parse_rate(&args.rate).ok() } else { None };
    Resolution::of(
        rx.analysis.as_ref().map(|a| &a.resolution),
        gap_ms,
        args.soak_generates().then_some(args.flows),
        rate,
    )
}

/// "interrupted after 2 of 5 flaps (flap 2 cut short, not judged); ...".
fn interrupted_line(flaps: &[analyze::FlapResult], planned: usize) -> String {
    let cut: Vec<String> = flaps.iter().filter(|f| f.cut_short).map(|f| f.number.to_string()).collect();
    let cut = if cut.is_empty() { String::new() } else { format!(" (flap {} cut short, not judged)", cut.join(", ")) };
    format!("interrupted after {} of {planned} flaps{cut}; the report covers what ran", flaps.len())
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

/// The soak's own files, prepared before the run.
struct Outputs {
    report: OutFile,
    table: OutFile,
    plot: OutFile,
    junit: Option<OutFile>,
}

fn reserve(out: &Path, name: &str) -> Result<OutFile> {
    OutFile::reserve("--out", &out.join(name)).map_err(anyhow::Error::msg)
}

fn write_outputs(r: &SoakReport, rx: &RxReport, links: Option<&LinkSeries>, out: Outputs) -> Result<()> {
    let per = match (r.members.is_empty(), r.link_counters.is_empty()) {
        (false, _) => "per member",
        (true, false) => "in all and per link",
        (true, true) => "in all",
    };
    let title = format!(
        "vflag soak: {}{}, {} flap(s) - receive rate {per}",
        r.settings.mode,
        r.settings.bond.as_ref().map(|b| format!(" {b}")).unwrap_or_default(),
        r.flaps.len()
    );
    out.report.commit((serde_json::to_string_pretty(r)? + "\n").as_bytes()).map_err(anyhow::Error::msg)?;
    out.table.commit(report::markdown(r).as_bytes()).map_err(anyhow::Error::msg)?;
    if let Some(j) = out.junit {
        j.commit(super::junit::junit(r).to_xml().as_bytes()).map_err(anyhow::Error::msg)?;
    }
    let svg = plot::svg(rx, &r.members, &r.flaps, links, r.lag.as_ref(), &title);
    out.plot.commit(svg.as_bytes()).map_err(anyhow::Error::msg)
}

fn settings(args: &SoakArgs, schedule: &Schedule, seed: u64, links: &[String]) -> Settings {
    Settings {
        mode: match (args.lab, args.vf) {
            (true, true) => "lab-vf",
            (true, false) => "lab",
            _ => "dut",
        },
        bond: args.lab.then(|| args.bond.name().to_string()),
        flaps: schedule.flaps,
        interval_ms: schedule.interval.as_millis() as u64,
        down_ms: schedule.down.as_millis() as u64,
        links: links.to_vec(),
        link_choice: args.link.clone(),
        flap_kind: args.flap_kind.name(),
        seed: (args.link == "random").then_some(seed),
        flows: args.soak_generates().then_some(args.flows),
        rate: args.soak_generates().then(|| args.rate.clone()),
        run_id: None,
        reflect: args.reflect,
        limits: args.limits(),
    }
}

/// `--vflag-dp`, else the vflag-dp beside this binary (one cargo target directory), else PATH.
fn find_vflag_dp(given: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = given {
        if !p.is_file() {
            return Err(BadUsage(format!("--vflag-dp {}: no such file", p.display())).into());
        }
        return Ok(p.to_path_buf());
    }
    let beside = std::env::current_exe().ok().and_then(|e| e.parent().map(|d| d.join("vflag-dp")));
    if let Some(p) = beside.filter(|p| p.is_file()) {
        return Ok(p);
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("vflag-dp")).find(|p| p.is_file()))
        .unwrap_or_default();
    on_path
        .context("vflag-dp not found beside vflag-ctl or on PATH (build it: cargo build --release, or give --vflag-dp)")
}

fn receiver_argv(
    args: &SoakArgs,
    spec: &LabSpec,
    vf: Option<&lab::vf::VfSpec>,
    bin: &Path,
    f: &Files,
    run_id: Option<u16>,
) -> Vec<String> {
    let mut v = vec![bin.display().to_string()];
    if let Some(d) = &args.dut_args {
        // Checked by `validate`: it splits.
        v.extend(super::words::split("--dut-args", d).unwrap_or_default());
    } else {
        v.extend(["--lcores".into(), args.rx_lcores.clone()]);
        v.extend(LAB_MEMORY.iter().map(|s| s.to_string()));
        v.extend(["--file-prefix".into(), format!("vflag-soak-rx{}", std::process::id())]);
        if let Some(vf) = vf {
            // One port and no bond, as the real VF: the NIC joins the links.
            v.extend(["--vdev".into(), format!("net_af_packet0,iface={}", vf.dut_iface())]);
        } else {
            for (i, (host, _)) in spec.links.iter().enumerate() {
                v.extend(["--vdev".into(), format!("net_af_packet{i},iface={host}")]);
            }
            v.extend(["--bond".into(), args.bond.name().into(), "--link-wait".into(), "10s".into()]);
            v.extend(lacp_rate(args));
        }
    }
    if let Some(r) = run_id {
        v.extend(["--run-id".into(), r.to_string()]);
    }
    let fwd = if args.reflect { "reflect" } else { "rxonly" };
    v.extend(["--fwd".into(), fwd.into(), "--stats-interval".into(), super::latency::SAMPLE_INTERVAL.into()]);
    v.extend(["--events".into(), f.rx_events.clone(), "--json".into(), f.rx_report.clone()]);
    v
}

/// Takes the lab down when the soak brought it up.
struct LabGuard {
    spec: LabSpec,
    vf: Option<lab::vf::VfSpec>,
    teardown: bool,
}

impl Drop for LabGuard {
    fn drop(&mut self) {
        if !self.teardown {
            return;
        }
        let done = match &self.vf {
            Some(v) => lab::vf::down(&mut SystemRunner, &self.spec, v),
            None => lab::down(&mut SystemRunner, &self.spec),
        };
        match done {
            Ok(_) => println!("lab down: namespace {} and its links removed", self.spec.ns),
            Err(e) => eprintln!("vflag-ctl: warning: taking the lab down failed: {e:#}"),
        }
    }
}

struct Soak {
    stop: Arc<AtomicBool>,
    tail: EventTail,
    live: Live,
    rx: Proc,
    gen: Option<Proc>,
    /// `--traffic-cmd`'s generator.
    traffic: Option<Traffic>,
    tty: bool,
    members: Vec<String>,
    /// The links' rates from their counters, shown where the receiver has no members (a VF).
    link_rates: Option<LiveRates>,
    t0: Instant,
    last_progress: Instant,
    phase: String,
}

impl Soak {
    fn display_members(&self) -> Vec<String> {
        if self.members.is_empty() {
            (0..self.live.member_pps.len()).map(|i| format!("m{i}")).collect()
        } else {
            self.members.clone()
        }
    }

    /// A line that stays (flaps, phases), clearing a progress line on a terminal first.
    fn note(&mut self, line: &str) {
        let t = self.t0.elapsed().as_secs_f64();
        if self.tty {
            print!("\r\x1b[K");
        }
        println!("[{t:7.1}s] {line}");
    }

    fn progress(&mut self) {
        if self.last_progress.elapsed() < Duration::from_secs(1) {
            return;
        }
        self.last_progress = Instant::now();
        let t = self.t0.elapsed().as_secs_f64();
        let mut line = format!("[{t:7.1}s] {} | {}", self.phase, self.live.status(&self.display_members()));
        if let Some(links) = self.link_rates.as_ref().filter(|_| self.live.member_pps.is_empty()) {
            let status = links.status();
            if !status.is_empty() {
                line = format!("{line} | {status}");
            }
        }
        if self.tty {
            print!("\r\x1b[K{line}");
            let _ = std::io::stdout().flush();
        } else {
            println!("{line}");
        }
    }

    /// Takes in the receiver's new events; one that breaks the contract ends the soak.
    fn read_events(&mut self) -> Result<()> {
        for ev in self.tail.poll().map_err(|e| anyhow::anyhow!("the receiver's events: {e}"))? {
            self.live.feed(&ev);
        }
        Ok(())
    }

    /// One step of every wait: read events, show progress, notice Ctrl-C and dead children.
    fn tick(&mut self) -> Result<bool> {
        self.read_events()?;
        self.progress();
        for p in std::iter::once(&mut self.rx).chain(self.gen.as_mut()) {
            if let Some(st) = p.exited() {
                bail!("the {} exited early ({st}); its last lines:\n{}", p.name, p.log_tail(8));
            }
        }
        if let Some((st, tail)) = self.traffic.as_mut().and_then(Traffic::failed) {
            bail!("the --traffic-cmd generator failed ({st}); its last lines:\n{tail}");
        }
        Ok(!self.stop.load(Ordering::Relaxed))
    }

    /// Sleeps until `deadline`; false when interrupted.
    fn sleep_until(&mut self, deadline: Instant) -> Result<bool> {
        loop {
            if !self.tick()? {
                return Ok(false);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(true);
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(20)));
        }
    }

    /// Sleeps until `deadline`, the offload checked just before it (off the flaps' timing:
    /// the check starts early enough to end by then); false when interrupted.
    fn sleep_checked(&mut self, deadline: Instant, integrity: &mut Integrity, when: When) -> Result<bool> {
        let lead = integrity.lead(deadline.saturating_duration_since(Instant::now()));
        if !self.sleep_until(deadline - lead)? {
            return Ok(false);
        }
        Ok(self.check_integrity(integrity, when, lead)? && self.sleep_until(deadline)?)
    }

    /// The offload checked now, for at most `limit`; false when interrupted.
    fn check_integrity(&mut self, integrity: &mut Integrity, when: When, limit: Duration) -> Result<bool> {
        if !integrity.applies() {
            return Ok(true);
        }
        match integrity.check(when, limit, || self.tick())? {
            Some(line) => {
                self.note(&line);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Waits until `cond` holds at two successive receiver samples; false when interrupted.
    fn wait_for(&mut self, timeout: Duration, what: &str, cond: impl Fn(&Live) -> bool) -> Result<bool> {
        let t0 = Instant::now();
        let (mut seen, mut samples) = (0, u64::MAX);
        while t0.elapsed() < timeout {
            if !self.tick()? {
                return Ok(false);
            }
            if self.live.samples != samples {
                samples = self.live.samples;
                seen = if cond(&self.live) { seen + 1 } else { 0 };
                if seen >= 2 {
                    return Ok(true);
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let gen =
            self.gen.as_ref().map(|g| format!("\ngenerator's last lines:\n{}", g.log_tail(6))).unwrap_or_default();
        bail!(
            "{what} within {:?} ({}); receiver's last lines:\n{}{gen}",
            timeout,
            self.live.status(&self.display_members()),
            self.rx.log_tail(6)
        )
    }

    /// Runs the schedule; returns what was done and whether all of it was.
    fn flap_all(
        &mut self,
        schedule: &Schedule,
        start: Instant,
        flapper: &mut dyn Flapper,
        names: &[String],
        integrity: &mut Integrity,
    ) -> Result<(Vec<FlapRecord>, bool)> {
        let plan = schedule.plan();
        let mut records: Vec<FlapRecord> = Vec::new();
        for PlannedFlap { number, at, links } in &plan {
            self.phase = format!("before flap {number}/{}", plan.len());
            let when = if *number == 1 { When::BeforeFlaps } else { When::AfterFlap(number - 1) };
            if !self.sleep_checked(start + *at, integrity, when)? {
                // The previous flap's after-window ran until now: it is not over.
                if let Some(last) = records.last_mut() {
                    last.cut_short = true;
                }
                return Ok((records, false));
            }
            let label: Vec<String> =
                links.iter().map(|&l| names.get(l).cloned().unwrap_or_else(|| flapper.name(l))).collect();
            // The flap starts when its command does: the link can go down at any point while
            // `ip` runs (tens of ms under load), so a time taken after it would let the loss
            // begin before the flap.
            let down_unix_s = unix_now();
            for &l in links {
                flapper.set(l, false)?;
            }
            let cmd_ms = (unix_now() - down_unix_s) * 1e3;
            self.note(&format!("flap {number}/{}: {} down (command {cmd_ms:.0} ms)", plan.len(), label.join("+")));
            self.phase = format!("flap {number}/{}: {} down", plan.len(), label.join("+"));
            let completed = self.sleep_until(Instant::now() + schedule.down)?;
            let up_unix_s = unix_now();
            for &l in links {
                flapper.set(l, true)?;
            }
            self.note(&format!(
                "flap {number}/{}: {} up after {:.0} ms",
                plan.len(),
                label.join("+"),
                (up_unix_s - down_unix_s) * 1e3
            ));
            records.push(FlapRecord {
                number: *number,
                links: label,
                link_idx: links.clone(),
                down_unix_s,
                up_unix_s,
                cut_short: !completed,
            });
            if !completed {
                return Ok((records, false));
            }
        }
        self.phase = "watching after the last flap".into();
        let done = self.sleep_checked(start + schedule.total(), integrity, When::AfterFlap(plan.len()))?;
        if !done {
            if let Some(last) = records.last_mut() {
                last.cut_short = true;
            }
        }
        Ok((records, done))
    }

    /// Ctrl-C before traffic flowed: nothing to report; stop and clean up.
    fn finish_interrupted_early(mut self, lab_guard: Option<LabGuard>) -> Result<u8> {
        self.note("interrupted before traffic flowed; stopping");
        self.rx.stop(Duration::from_secs(10));
        if let Some(g) = self.gen.as_mut() {
            g.stop(Duration::from_secs(10));
        }
        drop(self);
        drop(lab_guard);
        Ok(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> SoakArgs {
        crate::soak::args::parse_for_test(a).unwrap()
    }

    fn files() -> Files {
        Files { rx_events: "o/e.jsonl".into(), rx_report: "o/rx.json".into(), ..Default::default() }
    }

    #[test]
    fn lab_command_lines_put_a_bond_over_each_side() {
        let a = args(&["--lab", "--bond", "xor", "--flows", "32", "--rate", "50k"]);
        let spec = LabSpec::default();
        let rx = receiver_argv(&a, &spec, None, Path::new("/b/vflag-dp"), &files(), Some(7)).join(" ");
        assert!(
            rx.starts_with("/b/vflag-dp --lcores 0-1 --no-huge -m 256 --mbufs 8192 --file-prefix vflag-soak-rx"),
            "{rx}"
        );
        assert!(
            rx.ends_with(
                "--vdev net_af_packet0,iface=p0 --vdev net_af_packet1,iface=p1 --bond xor --link-wait 10s \
             --run-id 7 --fwd rxonly --stats-interval 100ms --events o/e.jsonl --json o/rx.json"
            ),
            "{rx}"
        );
        // Two-ended: the DUT reflects (the far side's argv: peer.rs).
        let a = args(&["--lab", "--bond", "xor", "--reflect", "--peer-cmd", "ip netns exec 'my ns'"]);
        let rx = receiver_argv(&a, &spec, None, Path::new("/b/vflag-dp"), &files(), Some(7));
        assert!(rx.join(" ").contains("--fwd reflect"), "{rx:?}");
    }

    #[test]
    fn dut_receiver_takes_the_users_arguments() {
        let a = args(&["--dut-args", "--lcores 1-2 -a 0000:01:00.2 --mac 52:54:00:00:00:01", "--duration", "60s"]);
        let rx = receiver_argv(&a, &LabSpec::default(), None, Path::new("vflag-dp"), &files(), None).join(" ");
        assert_eq!(
            rx,
            "vflag-dp --lcores 1-2 -a 0000:01:00.2 --mac 52:54:00:00:00:01 --fwd rxonly --stats-interval 100ms \
             --events o/e.jsonl --json o/rx.json"
        );
    }

    #[test]
    fn an_interrupted_soak_names_the_flap_it_cut_short() {
        let rx = crate::soak::rx_report::tests::report(&[(50, 50); 20]);
        let rec = |n: usize, cut_short| FlapRecord {
            number: n,
            links: vec!["s0".into()],
            link_idx: vec![0],
            down_unix_s: 1000.0 + n as f64,
            up_unix_s: 1000.3 + n as f64,
            cut_short,
        };
        let members = ["p0".to_string(), "p1".to_string()];
        let seen = Seen { rx: &rx, members: &members, links: None };
        let flaps = analyze::flaps(seen, &[rec(1, false), rec(2, true)], 0.0, &[], 10.0);
        assert_eq!(
            interrupted_line(&flaps, 5),
            "interrupted after 2 of 5 flaps (flap 2 cut short, not judged); the report covers what ran"
        );
        assert_eq!(interrupted_line(&flaps[..1], 5), "interrupted after 1 of 5 flaps; the report covers what ran");
    }

    #[test]
    fn the_resolution_comes_from_the_receiver_else_from_what_the_soak_asked() {
        let rx = crate::soak::rx_report::tests::report(&[]);
        let lab = resolution(&args(&["--lab", "--flows", "16", "--rate", "1000"]), &rx);
        assert_eq!((lab.ms, lab.from), (160.0, "settings"), "16 ms between a flow's frames, x 10");
        for dut in ["-a 0000:01:00.2 --gap-ms 25", "-a 0000:01:00.2 --gap-ms=25"] {
            let r = resolution(&args(&["--dut-args", dut, "--duration", "5s"]), &rx);
            assert_eq!((r.gap_ms, r.ms, r.flow_interval_ms), (25.0, 25.0, None), "{dut}");
        }
        assert_eq!(resolution(&args(&["--dut-args", "-a x", "--duration", "5s"]), &rx).ms, 10.0);
    }

    #[test]
    fn a_missing_vflag_dp_is_named() {
        let e = find_vflag_dp(Some(Path::new("/nonexistent/vflag-dp"))).unwrap_err();
        assert!(e.to_string().contains("--vflag-dp /nonexistent/vflag-dp: no such file"));
    }
}
