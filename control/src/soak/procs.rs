//! The soak's child processes (the receiver, the lab's generator): each in its own process
//! group, so a Ctrl-C on the terminal reaches only vflag-ctl, which then stops them in order
//! and reads their reports. Output goes to a log file per child.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

pub struct Proc {
    pub name: &'static str,
    child: Child,
    pub log: PathBuf,
    status: Option<ExitStatus>,
}

impl Proc {
    pub fn spawn(name: &'static str, argv: &[String], log: &Path) -> Result<Proc> {
        let out = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        let child = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting the {name}: {}", argv.join(" ")))?;
        Ok(Proc { name, child, log: log.to_path_buf(), status: None })
    }

    /// The exit status, once it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// SIGTERM (vflag-dp then writes its report and closes its ports), SIGKILL if it has not
    /// exited within `grace`.
    pub fn stop(&mut self, grace: Duration) -> Option<ExitStatus> {
        if self.exited().is_some() {
            return self.status;
        }
        let child = &mut self.child;
        let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
        let t0 = Instant::now();
        while t0.elapsed() < grace {
            if let Ok(Some(s)) = child.try_wait() {
                self.status = Some(s);
                return self.status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("vflag-ctl: the {} did not stop within {:?}; killed", self.name, grace);
        let _ = child.kill();
        self.status = child.wait().ok();
        self.status
    }

    /// The last `n` lines of its output, for error messages.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.exited().is_none() {
            self.stop(Duration::from_secs(5));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_with_sigterm_and_keeps_output() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("x.log");
        let argv: Vec<String> =
            ["sh", "-c", "trap 'echo stopped; exit 7' TERM; echo started; while :; do sleep 0.05; done"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        let mut p = Proc::spawn("test child", &argv, &log).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert!(p.exited().is_none());
        let st = p.stop(Duration::from_secs(5)).unwrap();
        assert_eq!(st.code(), Some(7), "it got SIGTERM and ran its trap");
        assert_eq!(p.log_tail(5), "started\nstopped");
        assert_eq!(p.log_tail(1), "stopped");
    }

    #[test]
    fn a_child_that_ignores_sigterm_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let argv: Vec<String> =
            ["sh", "-c", "trap '' TERM; while :; do sleep 0.05; done"].iter().map(|s| s.to_string()).collect();
        let mut p = Proc::spawn("stubborn child", &argv, &dir.path().join("y.log")).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let st = p.stop(Duration::from_millis(300)).unwrap();
        assert_eq!(st.code(), None, "killed by a signal");
        let e = Proc::spawn("missing", &["/nonexistent/bin".to_string()], &dir.path().join("z.log"));
        assert!(e.err().unwrap().to_string().contains("starting the missing"));
    }
}
