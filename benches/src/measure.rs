//! Runs one side for one round: starts its processes, waits until traffic flows, lets it warm
//! up, then reads the measured port counters at the start and end of a fixed window through
//! DPDK telemetry. Every process is stopped (SIGINT to its group, then SIGKILL) whatever
//! happens, and dies with vflag-bench.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::sys::signal::Signal;
use procs::Proc;
use vflag_dp::stop::Stop;

use crate::cases::{Counter, Side};
use crate::telemetry::{self, Telemetry};

#[derive(Debug, Clone)]
pub struct Timing {
    pub warmup: Duration,
    pub window: Duration,
    /// How long a process may take to start and carry traffic.
    pub start_timeout: Duration,
    /// Set by SIGINT/SIGTERM: every wait checks it, and the processes are stopped on the way
    /// out (without waiting for them once the stop is hurried).
    pub stop: Stop,
}

/// Sleeps `d`, or fails as soon as a stop is asked for.
fn sleep(d: Duration, stop: &Stop) -> Result<()> {
    let end = Instant::now() + d;
    loop {
        if stop.requested() {
            bail!("interrupted");
        }
        let now = Instant::now();
        if now >= end {
            return Ok(());
        }
        std::thread::sleep((end - now).min(Duration::from_millis(50)));
    }
}

/// A started process (in its own group, killed with vflag-bench: `procs`), stopped by SIGINT
/// when dropped, its DPDK runtime directory removed.
struct Running {
    proc_: Proc,
    prefix: String,
    stop: Stop,
}

impl Running {
    fn start(program: &Path, args: &[String], prefix: &str, logs: &Path, stop: &Stop) -> Result<Running> {
        let log = logs.join(format!("{prefix}.log"));
        let argv: Vec<String> = std::iter::once(program.display().to_string()).chain(args.iter().cloned()).collect();
        let proc_ = Proc::spawn(prefix, &argv, &log)?.stopped_by(Signal::SIGINT);
        Ok(Running { proc_, prefix: prefix.to_string(), stop: stop.clone() })
    }

    /// Fails, with the end of its output, if the process has exited.
    fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.proc_.exited() {
            bail!("{} exited early ({status}): {}", self.prefix, log_tail(&self.proc_.log));
        }
        Ok(())
    }

    fn stop(&mut self) {
        // A hurried stop (a signal after the grace period) kills at once.
        let stop = self.stop.clone();
        self.proc_.stop_unless_hurried(Duration::from_secs(10), &|| stop.hurried());
        // DPDK leaves its runtime directory behind; one per round would pile up.
        let _ = std::fs::remove_dir_all(telemetry::runtime_dir(&self.prefix));
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(3)..].join(" | ")
}

/// Waits for a process's telemetry socket and connects to it.
fn connect(p: &mut Running, deadline: Instant, stop: &Stop) -> Result<Telemetry> {
    let path = telemetry::socket_path(&p.prefix);
    loop {
        p.check_alive()?;
        if path.exists() {
            if let Ok(t) = Telemetry::connect(&path) {
                return Ok(t);
            }
        }
        if Instant::now() > deadline {
            bail!("{}: no telemetry socket at {} in time: {}", p.prefix, path.display(), log_tail(&p.proc_.log));
        }
        sleep(Duration::from_millis(50), stop)?;
    }
}

fn counted(t: &mut Telemetry, ports: &[u16], counter: Counter) -> Result<u64> {
    let mut sum = 0;
    for &port in ports {
        let p = t.port_packets(port)?;
        sum += match counter {
            Counter::Rx => p.rx,
            Counter::Tx => p.tx,
        };
    }
    Ok(sum)
}

/// Measures one side: millions of packets per second over the window.
pub fn measure(side: &Side, timing: &Timing, logs: &Path) -> Result<f64> {
    let counter = |t: &mut Telemetry| counted(t, &side.ports, side.counter);
    let (c0, c1, secs) = window(side, timing, logs, counter)?;
    Ok(c1.saturating_sub(c0) as f64 / secs / 1e6)
}

/// Measures a vflag-dp run with --interleave-ms: the plain and the analysing rate over the
/// window, each over the time the receiving lcores spent in that mode.
pub fn measure_interleaved(side: &Side, timing: &Timing, logs: &Path) -> Result<[f64; 2]> {
    let (a, b, _) = window(side, timing, logs, |t| t.interleave())?;
    Ok(b.rates_since(&a))
}

/// Runs one side: starts its processes, waits for traffic, warms up, reads the measured
/// process at both ends of the window, and stops everything. Returns both readings and the
/// window's length in seconds.
fn window<T>(
    side: &Side,
    timing: &Timing,
    logs: &Path,
    mut read: impl FnMut(&mut Telemetry) -> Result<T>,
) -> Result<(T, T, f64)> {
    let deadline = Instant::now() + timing.start_timeout;
    let mut running: Vec<Running> = Vec::new();
    let mut tel = None;
    for (i, proc_) in side.procs.iter().enumerate() {
        let mut r = Running::start(&proc_.program, &proc_.args, &proc_.prefix, logs, &timing.stop)?;
        // The next process may need this one's socket (a memif server): wait until it is up.
        let t = connect(&mut r, deadline, &timing.stop)?;
        if i == side.measured {
            tel = Some(t);
        }
        running.push(r);
    }
    let mut tel = tel.context("no measured process")?;
    // Traffic flows once the counter moves.
    let first = counted(&mut tel, &side.ports, side.counter)?;
    loop {
        sleep(Duration::from_millis(100), &timing.stop)?;
        for r in &mut running {
            r.check_alive()?;
        }
        if counted(&mut tel, &side.ports, side.counter)? > first {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "{}: no traffic within {:?}: {}",
                side.procs[side.measured].prefix,
                timing.start_timeout,
                log_tail(&running[side.measured].proc_.log)
            );
        }
    }
    sleep(timing.warmup, &timing.stop)?;
    let (r0, t0) = (read(&mut tel)?, Instant::now());
    sleep(timing.window, &timing.stop)?;
    let (r1, t1) = (read(&mut tel)?, Instant::now());
    for r in &mut running {
        r.check_alive()?;
    }
    // Generators stop first, so a receiver never sees its peer vanish mid-burst.
    while let Some(mut r) = running.pop() {
        r.stop();
    }
    Ok((r0, r1, (t1 - t0).as_secs_f64()))
}
