//! The last phase: the receiver's report read, each flap's figures (`analyze`, latency), the
//! verdict (limits, offload integrity, the round trip), the NIC's steps, and soak.json,
//! soak.md, soak.svg and `--junit` committed; the exit code.

use std::path::Path;

use anyhow::{Context, Result};

use super::converge::Ready;
use super::prepare::Prepared;
use super::session::Session;
use super::stop::Stopped;
use super::watch::Ran;
use crate::soak::analyze::{self, FlapResult, Unexplained};
use crate::soak::args::{parse_rate, SoakArgs};
use crate::soak::failover::Resolution;
use crate::soak::lag;
use crate::soak::link_counters::LinkSeries;
use crate::soak::outputs::{self, Reserved};
use crate::soak::report::{self, Settings, SoakReport};
use crate::soak::round_trip::{self, RoundTrip};
use crate::soak::rx_report::{self, RxReport};
use crate::soak::schedule::Schedule;
use crate::soak::seen::Seen;
use crate::soak::verdict::{self, LossTotals, Verdict};
use crate::soak::{junit, latency, plot};

/// Builds, writes and prints the report; the exit code: 0 pass, 3 fail, 1 interrupted.
pub fn report(
    args: &SoakArgs,
    run: &mut Prepared,
    s: &mut Session,
    ran: &Ran,
    ready: Ready,
    stopped: Stopped,
) -> Result<u8> {
    let Stopped { remaps, nic, rx_status, traffic, far_side, link_series, link_error } = stopped;
    let rx = rx_report::read(Path::new(&run.files.rx_report)).with_context(|| {
        format!("the receiver wrote no report (exit {rx_status:?}); its last lines:\n{}", s.rx.log_tail(8))
    })?;
    let members = if s.members.is_empty() {
        rx.load_balance.members.iter().map(|m| m.name.clone()).collect()
    } else {
        s.members.clone()
    };
    let seen = Seen { rx: &rx, members: &members, links: link_series.as_ref() };
    let ready_s = ready.unix_s - rx.started_unix_s;
    let Figures { flaps, unexplained, latency, resolution } = figures(args, seen, ran, ready_s, &s.live.lost_series);
    // The soak's generator says what it sent: an offered load short of the asked one is named.
    let generator = far_side.as_ref().and_then(|_| rx_report::read_generator(&args.out.join(outputs::GEN_REPORT)));
    if let Some(w) = generator.as_ref().and_then(report::generator_warning) {
        eprintln!("vflag-ctl: warning: {w}");
    }
    let tracked = loss_totals(&rx);
    let counter_names: Vec<String> = run.counter_links.iter().map(|l| l.name.clone()).collect();
    let mut verdict = verdict::judge(&args.limits(), &flaps, &unexplained, tracked, &members, &counter_names);
    run.pre.integrity.judge(&mut verdict);
    run.pre.environment.dpdk_from_receiver(&rx.dpdk_version);
    let unfetched = far_side.as_ref().and_then(|f| f.fetch_error.as_deref());
    let round_trip = args
        .reflect
        .then(|| {
            judge_round_trip(args, &rx, &flaps, ran, link_series.as_ref(), unfetched, &counter_names, &mut verdict)
        })
        .flatten();
    let planned = if args.observing() { flaps.len() } else { run.schedule.flaps };
    let lag = nic.map(|(series, note)| {
        let mut t = lag::timeline(&series, &ran.records, &flaps, if args.lab { "lab model" } else { "hardware" });
        t.note = note.or(t.note);
        if let Some((remaps, now, now_unix)) = remaps {
            t.model_remaps = lag::model_remaps(remaps, now, now_unix, rx.started_unix_s);
        }
        t
    });
    let shares = analyze::shares(&rx.load_balance.members.iter().map(|m| m.rx_packets).collect::<Vec<_>>());
    let report = SoakReport {
        schema: report::SCHEMA,
        settings: Settings { run_id: s.run_id, ..settings(args, &run.schedule, run.seed, &run.link_names) },
        started_unix_s: rx.started_unix_s,
        complete: ran.complete,
        interrupted: !ran.complete,
        members: members.clone(),
        link_counters: run.counter_links.clone(),
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
        preflight: run.pre.report.clone(),
        environment: run.pre.environment.clone(),
        integrity: run.pre.integrity.report(),
        verdict,
        files: run.files.clone(),
    };
    let reserved = run.reserved.take().context("the soak's files were committed already")?;
    write(&report, &rx, link_series.as_ref(), reserved)?;
    s.flaps_done = report.flaps.len();
    s.finish_metrics(report.verdict.pass);
    Ok(show(&report, planned))
}

/// What the receiver's report says of each flap, and of the whole soak.
struct Figures {
    flaps: Vec<FlapResult>,
    unexplained: Vec<Unexplained>,
    latency: latency::Summary,
    resolution: Resolution,
}

fn figures(args: &SoakArgs, seen: Seen, ran: &Ran, ready_s: f64, lost_series: &[(f64, u64)]) -> Figures {
    let resolution = resolution(args, seen.rx);
    let (mut flaps, unexplained) = if args.observing() {
        (analyze::observed(seen, ready_s, resolution.ms), Vec::new())
    } else {
        let flaps = analyze::flaps(seen, &ran.records, ready_s, lost_series, resolution.ms);
        (flaps, analyze::unexplained(seen.rx, &ran.records, ready_s))
    };
    let samples = latency::read_samples(Path::new(&args.out.join(outputs::RX_EVENTS)));
    let clock = latency::clock(args.lab || args.same_clock);
    let latency = analyze::measure_latency(&mut flaps, &samples, ready_s, clock);
    Figures { flaps, unexplained, latency, resolution }
}

/// The tracked frames' totals, when the receiver tracked any.
fn loss_totals(rx: &RxReport) -> Option<LossTotals> {
    rx.analysis.as_ref().filter(|a| a.tracked.received + a.frames.other_run + a.frames.untracked_flow > 0).map(|a| {
        LossTotals {
            received: a.tracked.received,
            lost: a.tracked.lost,
            loss_pct: a.tracked.loss_pct,
            other_run: a.frames.other_run,
            untracked_flow: a.frames.untracked_flow,
        }
    })
}

/// `--reflect`: the far side's report measured per flap and judged (a report not fetched is
/// named in the verdict).
#[allow(clippy::too_many_arguments)]
fn judge_round_trip(
    args: &SoakArgs,
    rx: &RxReport,
    flaps: &[FlapResult],
    ran: &Ran,
    links: Option<&LinkSeries>,
    unfetched: Option<&str>,
    counter_names: &[String],
    verdict: &mut Verdict,
) -> Option<RoundTrip> {
    let far = vflag_contract::report::read(&args.out.join(outputs::GEN_REPORT)).ok();
    let rt = far.as_ref().map(|f| round_trip::measure(f, rx, flaps, &ran.records, links));
    verdict.round_trip(rt.as_ref(), unfetched);
    if let Some(r) = &rt {
        verdict.round_trip_limits(&args.limits(), r, flaps, counter_names);
    }
    rt
}

/// Prints the tables and where the files are; the exit code. An interrupted soak is an error
/// whatever its figures say: it did not run what was asked.
fn show(report: &SoakReport, planned: usize) -> u8 {
    println!("\n{}", report::markdown(report));
    let f = &report.files;
    let junit = f.junit.as_ref().map(|j| format!("  junit: {j}")).unwrap_or_default();
    println!("report: {}  table: {}  plot: {}{junit}", f.report, f.table, f.plot);
    if report.interrupted {
        eprintln!("vflag-ctl: {}", interrupted_line(&report.flaps, planned));
        1
    } else if !report.verdict.pass {
        3
    } else {
        0
    }
}

/// soak.json, soak.md, `--junit` and soak.svg, each renamed over its target whole.
fn write(r: &SoakReport, rx: &RxReport, links: Option<&LinkSeries>, out: Reserved) -> Result<()> {
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
        j.commit(junit::junit(r).to_xml().as_bytes()).map_err(anyhow::Error::msg)?;
    }
    let svg = plot::svg(rx, &r.members, &r.flaps, links, r.lag.as_ref(), &title);
    out.plot.commit(svg.as_bytes()).map_err(anyhow::Error::msg)
}

/// The receiver's resolution, else one from what the soak asked of it: its `--gap-ms` (in
/// `--dut-args`, else vflag-dp's default) and, in the lab, the flows and rate.
fn resolution(args: &SoakArgs, rx: &RxReport) -> Resolution {
    let words =
        args.dut_args.as_deref().and_then(|d| crate::soak::words::split("--dut-args", d).ok()).unwrap_or_default();
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

fn settings(args: &SoakArgs, schedule: &Schedule, seed: u64, links: &[String]) -> Settings {
    Settings {
        mode: match (args.lab, args.vf) {
            (true, true) => "lab-vf",
            (true, false) => "lab",
            _ => "dut",
        },
        bond: args.lab.then(|| args.bond.name().to_string()),
        bond_hash: args.bond_hash().filter(|_| args.lab).map(|h| h.name()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soak::analyze::FlapRecord;

    fn args(a: &[&str]) -> SoakArgs {
        crate::soak::args::parse_for_test(a).unwrap()
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
    fn the_settings_carry_the_lab_bonds_hash() {
        let schedule = Schedule {
            flaps: 1,
            interval: std::time::Duration::from_secs(3),
            down: std::time::Duration::from_millis(300),
            choice: crate::soak::LinkChoice::Alternate,
            links: 2,
        };
        let hash = |a: &[&str]| settings(&args(a), &schedule, 0, &[]).bond_hash;
        assert_eq!(hash(&["--lab", "--bond", "xor", "--bond-hash", "l23"]), Some("l23"));
        assert_eq!(hash(&["--lab", "--bond", "lacp"]), Some("l34"), "the default hash");
        assert_eq!(hash(&["--lab", "--bond", "active-backup"]), None, "no hash to choose");
        assert_eq!(hash(&["--dut-args", "-a x", "--duration", "5s"]), None, "the DUT's bond is the host's");
    }
}
