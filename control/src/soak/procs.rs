//! The soak's child processes (the receiver, the far side's generator, a foreign one): each in
//! its own process group, so a Ctrl-C on the terminal reaches only vflag-ctl, which then stops
//! them in order (the whole group) and reads their reports. Output goes to a log file per
//! child. Each child is started under `setpriv --pdeathsig TERM`, so a vflag-ctl killed with
//! SIGKILL takes its children with it instead of leaving them at full CPU under PID 1 (the
//! crate forbids the `unsafe` a `pre_exec` prctl would need); a far side behind ssh, which no
//! signal reaches, stops when its input pipe closes.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

const SETPRIV: &str = "setpriv";

pub struct Proc {
    pub name: &'static str,
    child: Child,
    pub log: PathBuf,
    status: Option<ExitStatus>,
    /// The write end of its standard input, for a child run with `--stop-on-eof`: closed when
    /// it is stopped, and by the kernel if this process dies, so a far side started through a
    /// command (ssh, `ip netns exec`) stops too.
    stdin: Option<ChildStdin>,
}

impl Proc {
    pub fn spawn(name: &'static str, argv: &[String], log: &Path) -> Result<Proc> {
        Self::start(name, argv, log, false)
    }

    /// As [`Proc::spawn`], with its standard input a pipe that this process holds.
    pub fn spawn_fed(name: &'static str, argv: &[String], log: &Path) -> Result<Proc> {
        Self::start(name, argv, log, true)
    }

    fn start(name: &'static str, argv: &[String], log: &Path, fed: bool) -> Result<Proc> {
        if !crate::runner::on_path(&argv[0]) {
            bail!("starting the {name}: {}: no such program", argv[0]);
        }
        if !crate::runner::on_path(SETPRIV) {
            bail!("starting the {name}: {SETPRIV} (util-linux) is missing; without it a killed vflag-ctl would leave its children running");
        }
        let out = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        let mut child = Command::new(SETPRIV)
            .args(["--pdeathsig", "TERM", "--"])
            .args(argv)
            .stdin(if fed { Stdio::piped() } else { Stdio::null() })
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting the {name}: {}", argv.join(" ")))?;
        let stdin = child.stdin.take();
        Ok(Proc { name, child, log: log.to_path_buf(), status: None, stdin })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status, once it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Waits up to `timeout` for it to exit by itself; its status if it did.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let t0 = Instant::now();
        while self.exited().is_none() && t0.elapsed() < timeout {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.status
    }

    /// SIGTERM to its process group (vflag-dp then writes its report and closes its ports; a
    /// script's children go too), SIGKILL if it has not exited within `grace`. A fed child's
    /// input is closed first and it gets half of `grace` to stop on that alone: a far side
    /// behind ssh has to write its report before the ssh that carries it goes.
    pub fn stop(&mut self, grace: Duration) -> Option<ExitStatus> {
        if self.stdin.take().is_some() && self.wait(grace / 2).is_some() {
            return self.status;
        }
        if self.exited().is_some() {
            return self.status;
        }
        // Its own group (`process_group(0)`): the group's id is its pid.
        let group = Pid::from_raw(self.child.id() as i32);
        let _ = killpg(group, Signal::SIGTERM);
        if self.wait(grace).is_some() {
            return self.status;
        }
        eprintln!("vflag-ctl: the {} did not stop within {:?}; killed", self.name, grace);
        let _ = killpg(group, Signal::SIGKILL);
        self.status = self.child.wait().ok();
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
    use nix::sys::signal::kill;

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
        // The whole group got it: the shell names its `sleep` that SIGTERM ended.
        let log = p.log_tail(5);
        assert!(log.starts_with("started\n") && log.ends_with("\nstopped"), "{log}");
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
        assert_eq!(e.err().unwrap().to_string(), "starting the missing: /nonexistent/bin: no such program");
    }

    /// Run as its own process by the test below: starts a child, then dies by SIGKILL, so no
    #[test]
    fn a_fed_child_sees_its_input_close_when_stopped() {
        let dir = tempfile::tempdir().unwrap();
        // Ignores SIGTERM: only the end of its input makes it exit, with 7.
        let argv: Vec<String> =
            ["sh", "-c", "trap '' TERM; cat >/dev/null; exit 7"].iter().map(|s| s.to_string()).collect();
        let mut p = Proc::spawn_fed("fed", &argv, &dir.path().join("fed.log")).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        assert!(p.exited().is_none(), "it waits on its input");
        assert_eq!(p.stop(Duration::from_secs(5)).and_then(|s| s.code()), Some(7));
    }

    /// Drop, no signal handler and no stop runs.
    #[test]
    fn killed_parent_helper() {
        let Some(pid_file) = std::env::var_os("VFLAG_KILLED_PARENT") else { return };
        let log = Path::new(&pid_file).with_extension("log");
        let p = Proc::spawn("orphan", &["sleep".to_string(), "30".to_string()], &log).unwrap();
        std::fs::write(&pid_file, p.child.id().to_string()).unwrap();
        // setpriv arms the death signal just before it execs the program; a parent killed
        // before that (a window of microseconds, covered by the lock file's child list, see
        // claim.rs) would not take it along.
        let comm = format!("/proc/{}/comm", p.child.id());
        let t0 = Instant::now();
        while std::fs::read_to_string(&comm).is_ok_and(|c| c.trim() != "sleep") && t0.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = kill(nix::unistd::getpid(), Signal::SIGKILL);
    }

    #[test]
    fn a_child_dies_with_a_parent_killed_by_sigkill() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("child.pid");
        let st = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "soak::procs::tests::killed_parent_helper", "--test-threads", "1"])
            .env("VFLAG_KILLED_PARENT", &pid_file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert_eq!(st.code(), None, "the helper died by SIGKILL");
        let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
        // Dead (or a zombie waiting for PID 1 to reap it), not sleeping.
        let alive = || {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z')))
        };
        let t0 = Instant::now();
        while alive() && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let left = alive();
        if left {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        assert!(!left, "the child outlived its SIGKILLed parent");
    }
}
