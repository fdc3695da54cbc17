//! vflag-bench: vflag-dp against dpdk-testpmd on the same virtual devices, and vflag-dp's
//! analysing modes against its plain ones, alternating sides round by round in one run.
//! Exit codes: 0 done (and every --check floor held), 1 error or interrupted (SIGINT/SIGTERM:
//! the processes are stopped and the finished cases reported), 2 bad usage, 3 a ratio fell
//! under its floor.
#![forbid(unsafe_code)]

mod cases;
mod measure;
mod report;
mod summary;
mod telemetry;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use cli_exit::BadUsage;

use cases::{Case, Kind, Names, Settings, Sides};
use measure::Timing;
use outfile::OutFile;
use report::{CaseResult, Check, Report, SideResult};
use summary::Spread;

#[derive(Debug, Parser)]
#[command(name = "vflag-bench", version, about = "vflag-dp against dpdk-testpmd, side by side, in one run")]
struct Cli {
    /// A short run for CI: 1 round, 0.5 s warm-up, 1 s windows.
    #[arg(long)]
    quick: bool,
    /// Rounds per side (the sides alternate).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    rounds: u32,
    /// Traffic before the window opens.
    #[arg(long, default_value = "2s", value_parser = vflag_contract::value::duration)]
    warmup: Duration,
    /// The measuring window.
    #[arg(long, default_value = "3s", value_parser = vflag_contract::value::duration)]
    window: Duration,
    /// Which cases, comma-separated [default: all; `--list` shows them].
    #[arg(long, value_delimiter = ',')]
    cases: Vec<String>,
    /// List the cases and exit.
    #[arg(long)]
    list: bool,
    /// Write the results as JSON (schema vflag-bench.v1).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write the results as a Markdown table.
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
    /// Exit 3 if any vflag-dp/dpdk-testpmd ratio is under FLOOR (e.g. 1.0).
    #[arg(long, value_name = "FLOOR")]
    check: Option<f64>,
    /// Exit 3 if any analysing/plain ratio is under FLOOR (e.g. 0.9).
    #[arg(long, value_name = "FLOOR")]
    check_analysis: Option<f64>,
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=512))]
    burst: u16,
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u16).range(64..))]
    rxd: u16,
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u16).range(64..))]
    txd: u16,
    #[arg(long, default_value_t = 16384, value_parser = clap::value_parser!(u32).range(4096..))]
    mbufs: u32,
    /// EAL memory per process, MB.
    #[arg(short = 'm', long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(64..))]
    mem: u32,
    /// Run the DPDK processes without hugepages.
    #[arg(long)]
    no_huge: bool,
    /// dpdk-testpmd to compare with.
    #[arg(long, default_value = "dpdk-testpmd")]
    testpmd: PathBuf,
    /// The vflag-dp binary [default: next to vflag-bench].
    #[arg(long)]
    vflag_dp: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli: Cli = match cli_exit::parse("vflag-bench") {
        Ok(c) => c,
        Err(code) => return code,
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) if e.downcast_ref::<BadUsage>().is_some() => {
            eprintln!("vflag-bench: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("vflag-bench: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// The cases named by --cases, in the harness's order.
fn select(all: Vec<Case>, names: &[String]) -> Result<Vec<Case>> {
    if let Some(bad) = names.iter().find(|n| !all.iter().any(|c| c.name == n.as_str())) {
        let known: Vec<&str> = all.iter().map(|c| c.name).collect();
        return Err(BadUsage(format!("--cases: no case '{bad}' (known: {})", known.join(", "))).into());
    }
    Ok(all.into_iter().filter(|c| names.is_empty() || names.iter().any(|n| n == c.name)).collect())
}

fn usage_checks(cli: &Cli) -> Result<()> {
    for (flag, v) in [("--check", cli.check), ("--check-analysis", cli.check_analysis)] {
        if let Some(f) = v {
            if !(f.is_finite() && f > 0.0) {
                return Err(BadUsage(format!("{flag} {f}: the floor must be a ratio above 0, e.g. 0.9")).into());
            }
        }
    }
    if cli.window < Duration::from_millis(200) {
        return Err(BadUsage(format!("--window {:?}: at least 200ms", cli.window)).into());
    }
    Ok(())
}

fn find_program(p: &std::path::Path) -> Option<PathBuf> {
    if p.components().count() > 1 {
        return p.is_file().then(|| p.to_path_buf());
    }
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| PathBuf::from(d).join(p)).find(|c| c.is_file())
}

/// TSC ticks per second, measured against the monotonic clock.
fn tsc_hz() -> u64 {
    let (t0, c0) = (Instant::now(), dpdk::clock::tsc());
    std::thread::sleep(Duration::from_millis(200));
    let (t1, c1) = (Instant::now(), dpdk::clock::tsc());
    ((c1 - c0) as f64 / (t1 - t0).as_secs_f64()) as u64
}

fn run(cli: Cli) -> Result<u8> {
    usage_checks(&cli)?;
    let cases = select(cases::all(), &cli.cases)?;
    if cli.list {
        let width = cases.iter().map(|c| c.name.len()).max().unwrap_or(0);
        for c in &cases {
            println!("{:<width$} {}", c.name, c.what);
        }
        return Ok(0);
    }
    // Before any case runs, so a path that cannot be written fails now, not after the run.
    let reserve = |opt, p: &Option<PathBuf>| p.as_deref().map(|p| OutFile::reserve(opt, p)).transpose();
    let json_out = reserve("--json", &cli.json).map_err(anyhow::Error::msg)?;
    let markdown_out = reserve("--markdown", &cli.markdown).map_err(anyhow::Error::msg)?;
    let testpmd = find_program(&cli.testpmd).with_context(|| {
        format!("{} not found (apt-get install dpdk-dev, or --testpmd PATH)", cli.testpmd.display())
    })?;
    let vflag_dp = cli
        .vflag_dp
        .clone()
        .or_else(|| std::env::current_exe().ok().and_then(|e| e.parent().map(|d| d.join("vflag-dp"))))
        .filter(|p| p.is_file())
        .context("vflag-dp not found next to vflag-bench: build it (cargo build --release) or give --vflag-dp PATH")?;
    cli_exit::require_root("vflag-bench", "DPDK processes with hugepages and their telemetry sockets")?;
    let (rounds, warmup, window) = if cli.quick {
        (1, Duration::from_millis(500), Duration::from_secs(1))
    } else {
        (cli.rounds as usize, cli.warmup, cli.window)
    };
    // vflag-dp's rule: signals within 2 s of the first are that stop again; a later one
    // hurries it (the processes are killed without waiting; the report is still written).
    let stop = vflag_dp::stop::Stop::install("vflag-bench").context("installing the signal handlers")?;
    let settings = Settings {
        burst: cli.burst,
        rxd: cli.rxd,
        txd: cli.txd,
        mbufs: cli.mbufs,
        mem_mb: cli.mem,
        no_huge: cli.no_huge,
        testpmd,
        vflag_dp,
    };
    let timing = Timing { warmup, window, start_timeout: Duration::from_secs(30), stop };
    // The processes' logs and memif sockets; removed at the end.
    let logs = tempfile::Builder::new().prefix("vflag-bench-").tempdir().context("temporary directory")?;
    let mut names = Names::new(logs.path());
    let started_unix_s = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let tsc_hz = tsc_hz();
    let mut results = Vec::new();
    let mut interrupted = false;
    'cases: for case in &cases {
        eprintln!("vflag-bench: {} ({rounds} round(s)): {}", case.name, case.what);
        let mut mpps: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
        for round in 0..rounds {
            let measured = match &case.sides {
                Sides::Apart(sides) => sides.iter().zip(mpps.iter_mut()).try_for_each(|(side, out)| {
                    measure::measure(&side(&settings, &mut names), &timing, logs.path()).map(|v| out.push(v))
                }),
                Sides::Interleaved(side) => {
                    measure::measure_interleaved(&side(&settings, &mut names), &timing, logs.path()).map(|[p, a]| {
                        mpps[0].push(p);
                        mpps[1].push(a);
                    })
                }
            };
            match measured {
                Ok(()) => {}
                // Stopped by a signal: report the cases that finished.
                Err(_) if timing.stop.requested() => {
                    interrupted = true;
                    break 'cases;
                }
                Err(e) => return Err(e.context(format!("case {} round {}", case.name, round + 1))),
            }
        }
        results.push(case_result(case, &mpps, tsc_hz, &cli));
    }
    let passed = results.iter().all(|c| c.pass != Some(false));
    let report = Report {
        schema: "vflag-bench.v1",
        started_unix_s,
        dpdk_version: dpdk::version::BUILD_VERSION,
        tsc_hz,
        settings,
        rounds,
        warmup_s: warmup.as_secs_f64(),
        window_s: window.as_secs_f64(),
        cases: results,
        interrupted,
        check: Check { vs_testpmd_floor: cli.check, analysis_floor: cli.check_analysis, passed },
    };
    print!("{}", report::table(&report));
    if let Some(out) = json_out {
        out.commit((serde_json::to_string_pretty(&report)? + "\n").as_bytes()).map_err(anyhow::Error::msg)?;
    }
    if let Some(out) = markdown_out {
        out.commit(report::markdown(&report).as_bytes()).map_err(anyhow::Error::msg)?;
    }
    for c in report.cases.iter().filter(|c| c.pass == Some(false)) {
        eprintln!(
            "vflag-bench: {}: ratio {} is under the floor {}",
            c.name,
            c.ratio.map_or("-".into(), |r| format!("{r:.3}")),
            c.floor.unwrap_or_default()
        );
    }
    if interrupted {
        eprintln!("vflag-bench: interrupted: {} of {} case(s) measured", report.cases.len(), cases.len());
        return Ok(1);
    }
    Ok(if passed { 0 } else { 3 })
}

fn case_result(case: &Case, mpps: &[Vec<f64>; 2], tsc_hz: u64, cli: &Cli) -> CaseResult {
    let side = |i: usize| {
        let s = Spread::of(&mpps[i]).unwrap_or(Spread { median: 0.0, min: 0.0, max: 0.0, rounds: Vec::new() });
        SideResult { label: case.labels[i], cycles_per_packet: summary::cycles_per_packet(tsc_hz, s.median), mpps: s }
    };
    let (baseline, compared) = (side(0), side(1));
    let ratio = summary::ratio(baseline.mpps.median, compared.mpps.median);
    let best_ratio = summary::ratio(baseline.mpps.max, compared.mpps.max);
    let floor = match case.kind {
        Kind::VsTestpmd => cli.check,
        Kind::Tracking => cli.check_analysis,
    };
    let pass = floor.map(|f| ratio.is_some_and(|r| r >= f));
    CaseResult { name: case.name, what: case.what, kind: case.kind, baseline, compared, ratio, best_ratio, floor, pass }
}
