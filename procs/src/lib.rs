//! The child processes of vflag's tools (the soak's receiver, far side and foreign generator;
//! the benchmark's vflag-dp and testpmd): each in its own process group, so a Ctrl-C on the
//! terminal reaches only the tool, which then stops them in order (the whole group, by SIGTERM
//! or the signal the child asks for) and reads their reports. Output goes to a log file per
//! child. Each child is started under `setpriv --pdeathsig TERM`, so a tool killed with
//! SIGKILL takes its children with it instead of leaving them at full CPU under PID 1 (no
//! `unsafe` `pre_exec` prctl); a far side behind ssh, which no signal reaches, stops when its
//! input pipe closes.
#![forbid(unsafe_code)]

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
    pub name: String,
    child: Child,
    pub log: PathBuf,
    status: Option<ExitStatus>,
    /// The write end of its standard input, for a child run with `--stop-on-eof`: closed when
    /// it is stopped, and by the kernel if this process dies, so a far side started through a
    /// command (ssh, `ip netns exec`) stops too.
    stdin: Option<ChildStdin>,
    /// What `stop` sends the group first.
    stop_signal: Signal,
}

impl Proc {
    pub fn spawn(name: &str, argv: &[String], log: &Path) -> Result<Proc> {
        Self::start(name, argv, log, false)
    }

    /// As [`Proc::spawn`], with its standard input a pipe that this process holds.
    pub fn spawn_fed(name: &str, argv: &[String], log: &Path) -> Result<Proc> {
        Self::start(name, argv, log, true)
    }

    /// Stopped by `signal` (DPDK's testpmd and vflag-dp also take SIGINT) instead of SIGTERM.
    pub fn stopped_by(mut self, signal: Signal) -> Proc {
        self.stop_signal = signal;
        self
    }

    fn start(name: &str, argv: &[String], log: &Path, fed: bool) -> Result<Proc> {
        if !on_path(&argv[0]) {
            bail!("starting the {name}: {}: no such program", argv[0]);
        }
        if !on_path(SETPRIV) {
            bail!("starting the {name}: {SETPRIV} (util-linux) is missing; without it a killed {} would leave its children running", tool());
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
        Ok(Proc { name: name.into(), child, log: log.to_path_buf(), status: None, stdin, stop_signal: Signal::SIGTERM })
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

    /// SIGTERM (or its `stopped_by` signal) to its process group (vflag-dp then writes its
    /// report and closes its ports; a script's children go too), SIGKILL if it has not exited
    /// within `grace`. A fed child's input is closed first and it gets half of `grace` to stop
    /// on that alone: a far side behind ssh has to write its report before the ssh that
    /// carries it goes.
    pub fn stop(&mut self, grace: Duration) -> Option<ExitStatus> {
        self.stop_unless_hurried(grace, &|| false)
    }

    /// As `stop`, but killed at once when `hurried` turns true while it waits (a second
    /// Ctrl-C).
    pub fn stop_unless_hurried(&mut self, grace: Duration, hurried: &dyn Fn() -> bool) -> Option<ExitStatus> {
        if self.stdin.take().is_some() && self.wait(grace / 2).is_some() {
            return self.status;
        }
        if self.exited().is_some() {
            return self.status;
        }
        // Its own group (`process_group(0)`): the group's id is its pid.
        let group = Pid::from_raw(self.child.id() as i32);
        let _ = killpg(group, self.stop_signal);
        let t0 = Instant::now();
        while self.exited().is_none() && t0.elapsed() < grace && !hurried() {
            std::thread::sleep(Duration::from_millis(20));
        }
        if self.status.is_some() {
            return self.status;
        }
        if !hurried() {
            eprintln!("{}: the {} did not stop within {:?}; killed", tool(), self.name, grace);
        }
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

/// This tool's name, for messages: `vflag-ctl`, `vflag-bench`.
fn tool() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| Some(p.file_name()?.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "vflag".into())
}

/// Whether an executable named `program` is on PATH (or is a path that exists).
pub fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if program.contains('/') {
        return executable(Path::new(program));
    }
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|d| executable(&d.join(program))))
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
    fn a_child_asks_for_its_stop_signal_and_a_hurried_stop_kills_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let argv: Vec<String> = ["sh", "-c", "trap 'exit 5' INT; trap '' TERM; while :; do sleep 0.05; done"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut p = Proc::spawn("int child", &argv, &dir.path().join("i.log")).unwrap().stopped_by(Signal::SIGINT);
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(p.stop(Duration::from_secs(5)).and_then(|s| s.code()), Some(5), "SIGINT ran its trap");
        let argv: Vec<String> =
            ["sh", "-c", "trap '' TERM; while :; do sleep 0.05; done"].iter().map(|s| s.to_string()).collect();
        let mut p = Proc::spawn("deaf child", &argv, &dir.path().join("d.log")).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let t0 = Instant::now();
        let st = p.stop_unless_hurried(Duration::from_secs(30), &|| true).unwrap();
        assert_eq!(st.code(), None, "killed");
        assert!(t0.elapsed() < Duration::from_secs(5), "without waiting out the grace");
    }

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
            .args(["--exact", "tests::killed_parent_helper", "--test-threads", "1"])
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
