//! Running one cell: its soak as a child (`vflag-ctl soak ...`, through `procs`: its own process
//! group, and it dies with the sweep), waited on; on Ctrl-C or SIGTERM it is sent SIGINT, as
//! the soak's own Ctrl-C, and given [`CELL_GRACE`] to stop its processes and write its report
//! (a second signal kills it at once). Then its outcome, from its exit code and its soak.json.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use procs::Proc;
use serde::Serialize;
use serde_json::Value;

use crate::headline::{read_soak_dir, Headline, HostEnv};

/// How long an interrupted cell has to stop its processes, write its report and take its lab
/// down before it is killed.
pub const CELL_GRACE: Duration = Duration::from_secs(60);
/// A host step (`vflag-ctl up|down`) is waited for: stopping one half-way leaves the host
/// half set up.
const HOST_STEP_LIMIT: Duration = Duration::from_secs(600);
/// The cell's own output, in its directory.
pub const CELL_LOG: &str = "soak.log";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The soak passed its verdict (exit 0).
    Pass,
    /// It ran and its verdict failed (exit 3).
    Fail,
    /// It could not run or finish (exit 1 or 2, a lab or host that would not come up, an
    /// interrupt), or left no report.
    Error,
    /// The sweep was interrupted before it.
    NotRun,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Error => "error",
            Outcome::NotRun => "not-run",
        }
    }
}

/// What a finished cell left: its exit code and report.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    pub exit_code: Option<i32>,
    pub outcome: Outcome,
    pub headline: Option<Headline>,
    pub env: Option<HostEnv>,
    /// soak.json's `environment`, as it is.
    pub environment: Option<Value>,
    pub error: Option<String>,
    pub time_s: f64,
}

/// The signals the sweep was sent: the first stops the running cell, a second hurries it.
pub struct Signals {
    pub flag: std::sync::Arc<AtomicBool>,
    pub interrupted: bool,
}

impl Signals {
    pub fn install() -> anyhow::Result<Signals> {
        let flag = std::sync::Arc::new(AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(sig, std::sync::Arc::clone(&flag))?;
        }
        Ok(Signals { flag, interrupted: false })
    }

    /// Whether a signal came; the flag is cleared so that a second one can be told apart.
    pub fn check(&mut self) -> bool {
        if self.flag.swap(false, Ordering::SeqCst) {
            self.interrupted = true;
        }
        self.interrupted
    }
}

/// Runs `exe argv` in `dir` until it exits or the sweep is interrupted.
pub fn cell(exe: &Path, argv: &[String], dir: &Path, signals: &mut Signals) -> Finished {
    let t0 = Instant::now();
    let log = dir.join(CELL_LOG);
    let full: Vec<String> = std::iter::once(exe.display().to_string()).chain(argv.iter().cloned()).collect();
    let started = std::fs::create_dir_all(dir)
        .map_err(|e| format!("creating {}: {e}", dir.display()))
        .and_then(|()| Proc::spawn("soak", &full, &log).map_err(|e| format!("{e:#}")));
    let mut p = match started {
        Ok(p) => p.stopped_by(Signal::SIGINT),
        Err(e) => return finished(None, dir, &e, t0),
    };
    let status = loop {
        if let Some(st) = p.exited() {
            break Some(st);
        }
        if signals.check() {
            println!("interrupted: stopping the cell's soak (up to {} s for its report)", CELL_GRACE.as_secs());
            let flag = std::sync::Arc::clone(&signals.flag);
            break p.stop_unless_hurried(CELL_GRACE, &|| flag.load(Ordering::SeqCst));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let code = status.and_then(|s| s.code());
    finished(code, dir, &p.log_tail(20), t0)
}

/// A host step (`vflag-ctl up|down ...`), its output in `log`; Err with its tail if it failed.
pub fn host_step(exe: &Path, argv: &[String], log: &Path) -> Result<(), String> {
    let full: Vec<String> = std::iter::once(exe.display().to_string()).chain(argv.iter().cloned()).collect();
    let shown = format!("vflag-ctl {}", argv.join(" "));
    let mut p = Proc::spawn("host step", &full, log).map_err(|e| format!("`{shown}`: {e:#}"))?;
    let code = p.wait(HOST_STEP_LIMIT).map(|s| s.code());
    match code {
        Some(Some(0)) => Ok(()),
        Some(c) => Err(format!(
            "`{shown}` failed (exit {}): {}",
            c.map_or("by a signal".into(), |c| c.to_string()),
            error_lines(&p.log_tail(20))
        )),
        None => {
            p.stop(Duration::from_secs(5));
            Err(format!("`{shown}` did not finish within {} s", HOST_STEP_LIMIT.as_secs()))
        }
    }
}

fn finished(code: Option<i32>, dir: &Path, tail: &str, t0: Instant) -> Finished {
    let (outcome, error, report) = outcome(code, read_soak_dir(dir).map_err(|e| format!("{e:#}")), tail);
    let (headline, env, environment) = match report {
        Some((h, e, r)) => (Some(h), Some(e), Some(r["environment"].clone()).filter(|v| !v.is_null())),
        None => (None, None, None),
    };
    Finished { exit_code: code, outcome, headline, env, environment, error, time_s: t0.elapsed().as_secs_f64() }
}

type Report = (Headline, HostEnv, Value);

/// The outcome from the soak's exit code (0 pass, 3 fail, else an error) and its report; the
/// error line from the report (an interrupt) or the output's tail (what the soak said).
pub fn outcome(
    code: Option<i32>,
    report: Result<Report, String>,
    tail: &str,
) -> (Outcome, Option<String>, Option<Report>) {
    match (code, report) {
        (Some(0), Ok(r)) if r.0.pass => (Outcome::Pass, None, Some(r)),
        (Some(0), Ok(r)) => (Outcome::Error, Some("exit 0 but soak.json's verdict is not a pass".into()), Some(r)),
        (Some(0), Err(e)) => (Outcome::Error, Some(format!("exit 0 but no report: {e}")), None),
        (Some(3), Ok(r)) if r.0.interrupted => (Outcome::Fail, Some(interrupted(&r.0)), Some(r)),
        (Some(3), Ok(r)) => (Outcome::Fail, None, Some(r)),
        (Some(3), Err(e)) => (Outcome::Error, Some(format!("exit 3 but no report: {e}")), None),
        (c, Ok(r)) if r.0.interrupted => (Outcome::Error, Some(with_code(c, &interrupted(&r.0))), Some(r)),
        (c, Ok(r)) => (Outcome::Error, Some(with_code(c, &error_lines(tail))), Some(r)),
        (c, Err(_)) => (Outcome::Error, Some(with_code(c, &error_lines(tail))), None),
    }
}

fn interrupted(h: &Headline) -> String {
    format!("interrupted after {} of {} flaps", h.flaps_done, h.flaps_planned)
}

fn with_code(code: Option<i32>, what: &str) -> String {
    match code {
        Some(c) => format!("exit {c}: {what}"),
        None => format!("killed by a signal: {what}"),
    }
}

/// What a failed vflag-ctl said: its `vflag-ctl: ...` lines, else the last lines it printed.
pub fn error_lines(tail: &str) -> String {
    let said: Vec<&str> = tail.lines().filter(|l| l.starts_with("vflag-ctl:")).collect();
    let lines: Vec<&str> = if said.is_empty() {
        let all: Vec<&str> = tail.lines().filter(|l| !l.trim().is_empty()).collect();
        all[all.len().saturating_sub(3)..].to_vec()
    } else {
        said
    };
    if lines.is_empty() {
        "no output".into()
    } else {
        lines.join(" / ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(pass: bool, interrupted: bool) -> Result<Report, String> {
        let h = Headline { pass, interrupted, flaps_done: 1, flaps_planned: 3, ..Default::default() };
        Ok((h, HostEnv::default(), serde_json::json!({})))
    }

    fn of(code: Option<i32>, r: Result<Report, String>, tail: &str) -> (Outcome, Option<String>) {
        let (o, e, _) = outcome(code, r, tail);
        (o, e)
    }

    #[test]
    fn the_outcome_is_the_soaks_exit_code_checked_against_its_report() {
        assert_eq!(of(Some(0), report(true, false), ""), (Outcome::Pass, None));
        assert_eq!(of(Some(3), report(false, false), ""), (Outcome::Fail, None));
        assert_eq!(
            of(Some(3), report(false, true), ""),
            (Outcome::Fail, Some("interrupted after 1 of 3 flaps".into())),
            "what ran failed"
        );
        assert_eq!(
            of(Some(1), report(true, true), "x\n"),
            (Outcome::Error, Some("exit 1: interrupted after 1 of 3 flaps".into()))
        );
        let tail = "lab up: namespace sw\nvflag-ctl: error: lab sw is in use by a soak, vflag-ctl pid 7\n";
        assert_eq!(
            of(Some(1), Err("reading o/soak.json: No such file".into()), tail),
            (Outcome::Error, Some("exit 1: vflag-ctl: error: lab sw is in use by a soak, vflag-ctl pid 7".into()))
        );
        assert_eq!(
            of(Some(2), Err("none".into()), "vflag-ctl: --rate 'x': bad\n"),
            (Outcome::Error, Some("exit 2: vflag-ctl: --rate 'x': bad".into()))
        );
        assert_eq!(
            of(None, Err("none".into()), "a\nb\n\nc\nd\n"),
            (Outcome::Error, Some("killed by a signal: b / c / d".into()))
        );
        assert_eq!(of(Some(0), report(false, false), "").0, Outcome::Error, "a pass needs a passing report");
        assert!(of(Some(0), Err("no soak.json".into()), "").1.unwrap().contains("no report: no soak.json"));
        assert_eq!(of(Some(1), Err("x".into()), "").1.unwrap(), "exit 1: no output");
    }

    #[test]
    fn a_host_step_that_fails_says_what_it_said() {
        let dir = tempfile::tempdir().unwrap();
        let sh = Path::new("/bin/sh");
        let argv: Vec<String> =
            ["-c", "echo step; echo 'vflag-ctl: error: no mlx5 card' >&2; exit 1"].map(String::from).to_vec();
        let e = host_step(sh, &argv, &dir.path().join("up.log")).unwrap_err();
        assert!(e.ends_with("failed (exit 1): vflag-ctl: error: no mlx5 card"), "{e}");
        assert!(host_step(sh, &["-c".into(), "exit 0".into()], &dir.path().join("ok.log")).is_ok());
    }

    #[test]
    fn a_cell_that_cannot_start_is_an_error_with_why() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Signals { flag: Default::default(), interrupted: false };
        let f = cell(Path::new("/nonexistent/vflag-ctl"), &[], &dir.path().join("c"), &mut s);
        assert_eq!((f.outcome, f.exit_code), (Outcome::Error, None));
        assert!(f.error.unwrap().contains("/nonexistent/vflag-ctl: no such program"));
    }

    #[test]
    fn an_interrupted_cell_gets_sigint_and_its_report_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let cell_dir = dir.path().join("c");
        // A stand-in soak: on SIGINT it writes an interrupted report and exits 1, as the soak does.
        let r = serde_json::json!({"schema": crate::soak::SCHEMA, "complete": false, "interrupted": true,
            "verdict": {"pass": false, "failures": []}, "totals": {"flaps_done": 1, "flaps_planned": 4}});
        let written = dir.path().join("r.json");
        std::fs::write(&written, r.to_string()).unwrap();
        let script = format!(
            "trap 'cp {} {}/soak.json; echo \"vflag-ctl: interrupted\" >&2; exit 1' INT; \
             echo running; while :; do sleep 0.05; done",
            written.display(),
            cell_dir.display()
        );
        let mut s = Signals { flag: Default::default(), interrupted: false };
        let flag = std::sync::Arc::clone(&s.flag);
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(500));
            flag.store(true, Ordering::SeqCst);
        });
        let f = cell(Path::new("/bin/sh"), &["-c".into(), script], &cell_dir, &mut s);
        t.join().unwrap();
        assert!(s.interrupted);
        assert_eq!((f.outcome, f.exit_code), (Outcome::Error, Some(1)));
        assert_eq!(f.error.as_deref(), Some("exit 1: interrupted after 1 of 4 flaps"));
        assert!(f.headline.unwrap().interrupted);
        assert!(std::fs::read_to_string(cell_dir.join(CELL_LOG)).unwrap().starts_with("running"));
    }
}
