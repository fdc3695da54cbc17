//! `--traffic-cmd`: a foreign generator (a TRex script, testpmd) instead of vflag-dp's. Its
//! words run as argv once the receiver is up, in a process group of their own, output to
//! traffic.log; at the end `--traffic-stop-cmd` runs (argv) if given, then the group gets
//! SIGTERM, then SIGKILL. Its frames carry no sequence numbers: the receiver follows its flows
//! by 5-tuple (`--track-foreign`, on by default), and the flaps' outages are those flows'.

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use super::words;
use procs::Proc;

/// How long `--traffic-stop-cmd` may take before it is stopped too.
const STOP_CMD_LIMIT: Duration = Duration::from_secs(30);

pub struct Traffic {
    proc: Proc,
    stop_argv: Option<Vec<String>>,
    stop_log: PathBuf,
    report: Option<TrafficReport>,
}

/// What the soak report says of the foreign generator.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TrafficReport {
    pub argv: Vec<String>,
    /// Its exit code when it ended by itself before the soak stopped it (a script that starts
    /// traffic and returns), else null.
    pub exited_early: Option<i32>,
    pub stop_argv: Option<Vec<String>>,
    /// The stop command's exit code (null: killed after 30 s, or not given).
    pub stop_exit: Option<i32>,
}

impl Traffic {
    /// Starts `--traffic-cmd` when given; `log` is traffic.log.
    pub fn start(cmd: Option<&str>, stop_cmd: Option<&str>, log: &Path) -> Result<Option<Traffic>> {
        let Some(cmd) = cmd else { return Ok(None) };
        let argv = words::split("--traffic-cmd", cmd)?;
        let stop_argv = stop_cmd.map(|c| words::split("--traffic-stop-cmd", c)).transpose()?;
        let proc = Proc::spawn("traffic generator", &argv, log)?;
        let report = TrafficReport { argv, stop_argv: stop_argv.clone(), ..Default::default() };
        Ok(Some(Traffic { proc, stop_argv, stop_log: log.with_extension("stop.log"), report: Some(report) }))
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// A generator that failed (exit non-zero, or a signal) before the soak stopped it; one
    /// that exited 0 may have left its traffic running (a script that starts it and returns).
    pub fn failed(&mut self) -> Option<(ExitStatus, String)> {
        self.proc.exited().filter(|s| !s.success()).map(|s| (s, self.proc.log_tail(8)))
    }

    /// The stop command, then SIGTERM and SIGKILL to the generator's group; what it did.
    pub fn stop(&mut self) -> Option<TrafficReport> {
        let mut report = self.report.take()?;
        report.exited_early = self.proc.exited().map(|s| s.code().unwrap_or(-1));
        if let Some(argv) = &self.stop_argv {
            match Proc::spawn("traffic stop command", argv, &self.stop_log) {
                Ok(mut p) => {
                    report.stop_exit = p.wait(STOP_CMD_LIMIT).and_then(|s| s.code());
                    if report.stop_exit.is_none() {
                        eprintln!(
                            "vflag-ctl: warning: --traffic-stop-cmd did not finish within {STOP_CMD_LIMIT:?}; stopped"
                        );
                    }
                }
                Err(e) => eprintln!("vflag-ctl: warning: --traffic-stop-cmd: {e:#}"),
            }
        }
        self.proc.stop(Duration::from_secs(10));
        Some(report)
    }
}

impl Drop for Traffic {
    /// Every way out runs the stop command too: the traffic may run on a tester elsewhere.
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stop_command_runs_then_the_generators_group_is_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("stopped by command");
        let log = dir.path().join("traffic.log");
        // The generator starts a child of its own: the group's SIGTERM takes both.
        let gen = "sh -c 'sleep 60 & echo child $!; wait'".to_string();
        let stop = format!("touch '{}'", marker.display());
        let mut t = Traffic::start(Some(&gen), Some(&stop), &log).unwrap().unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert!(t.failed().is_none());
        let child: i32 = std::fs::read_to_string(&log).unwrap().trim().trim_start_matches("child ").parse().unwrap();
        let r = t.stop().unwrap();
        assert!(marker.exists(), "the stop command ran, as argv: its path with spaces is one word");
        assert_eq!((r.stop_exit, r.exited_early), (Some(0), None));
        assert_eq!(r.argv, ["sh", "-c", "sleep 60 & echo child $!; wait"]);
        let alive = || {
            std::fs::read_to_string(format!("/proc/{child}/stat"))
                .is_ok_and(|s| s.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z')))
        };
        let t0 = std::time::Instant::now();
        while alive() && t0.elapsed() < Duration::from_secs(3) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!alive(), "the generator's own child went with its group");
        assert!(t.stop().is_none(), "stopped once");
    }

    #[test]
    fn a_generator_that_fails_is_seen_and_none_is_nothing() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Traffic::start(None, None, &dir.path().join("t.log")).unwrap().is_none());
        let mut t =
            Traffic::start(Some("sh -c 'echo no tester; exit 4'"), None, &dir.path().join("t.log")).unwrap().unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let (st, tail) = t.failed().unwrap();
        assert_eq!((st.code(), tail.as_str()), (Some(4), "no tester"));
        assert_eq!(t.stop().unwrap().exited_early, Some(4));
    }
}
