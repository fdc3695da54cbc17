//! Every host command goes through one [`Runner`]: real processes in use, a recorder with
//! scripted answers in tests, so a plan's exact commands can be checked without a host.
//! sysfs writes (`echo 4 > .../sriov_numvfs`) are commands too, so they are recorded and
//! answered the same way.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use procs::on_path;

/// A command line: the program and its arguments, or a write of one value to a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    pub program: String,
    pub args: Vec<String>,
    /// `echo VALUE > PATH`: no process runs, the value is written to the file.
    pub write_to: Option<FileWrite>,
}

/// Where a write goes: `path` is the file written (under a fixture root in tests), `shown` is
/// the path as the operator knows it (`/sys/...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileWrite {
    pub path: PathBuf,
    pub shown: String,
}

impl Cmd {
    pub fn new(program: &str, args: &[&str]) -> Cmd {
        Cmd { program: program.to_string(), args: args.iter().map(|a| a.to_string()).collect(), write_to: None }
    }

    /// `echo value > shown`, writing to `path`.
    pub fn write(value: &str, path: &Path, shown: &str) -> Cmd {
        Cmd {
            program: "echo".into(),
            args: vec![value.to_string()],
            write_to: Some(FileWrite { path: path.to_path_buf(), shown: shown.to_string() }),
        }
    }
}

impl std::fmt::Display for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.program)?;
        for a in &self.args {
            write!(f, " {a}")?;
        }
        if let Some(w) = &self.write_to {
            write!(f, " > {}", w.shown)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn ok(&self) -> bool {
        self.code == 0
    }
}

pub trait Runner {
    fn run(&mut self, cmd: &Cmd) -> Result<Output>;

    /// Whether `program` can be run (found on PATH).
    fn has_program(&mut self, program: &str) -> bool {
        on_path(program)
    }

    /// Runs `cmd` and fails, naming the command and its stderr, if it exits non-zero.
    fn check(&mut self, cmd: &Cmd) -> Result<Output> {
        let out = self.run(cmd)?;
        if !out.ok() {
            anyhow::bail!("`{cmd}` failed (exit {}): {}", out.code, out.stderr.trim());
        }
        Ok(out)
    }
}

/// Runs commands as processes.
pub struct SystemRunner;

impl Runner for SystemRunner {
    fn run(&mut self, cmd: &Cmd) -> Result<Output> {
        if let Some(w) = &cmd.write_to {
            return Ok(write_file(&w.path, &cmd.args.join(" ")));
        }
        let out = std::process::Command::new(&cmd.program)
            .args(&cmd.args)
            .output()
            .with_context(|| format!("cannot run `{cmd}` (is {} installed?)", cmd.program))?;
        Ok(Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

/// Writes `value` and a newline in one write, as `echo` does; a refusal (sysfs answers EBUSY,
/// EINVAL, ...) is a failed command with the shell's message, not an error of the runner.
fn write_file(path: &Path, value: &str) -> Output {
    use std::io::Write;
    let res = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|mut f| f.write_all(format!("{value}\n").as_bytes()));
    match res {
        Ok(()) => Output::default(),
        Err(e) => Output { code: 1, stderr: format!("echo: write error: {e}"), ..Default::default() },
    }
}

/// Records every command and answers from a script: the first rule whose prefix matches the
/// command line wins; unmatched commands succeed with empty output.
#[cfg(test)]
#[derive(Default)]
pub struct Recorder {
    pub log: Vec<Cmd>,
    rules: std::collections::VecDeque<(String, Output, bool)>,
    /// Programs that `has_program` says are missing.
    pub missing: Vec<String>,
}

#[cfg(test)]
impl Recorder {
    /// Answers commands starting with `prefix` with `out` (every time, or once).
    pub fn answer(&mut self, prefix: &str, out: Output, once: bool) -> &mut Self {
        self.rules.push_back((prefix.to_string(), out, once));
        self
    }

    pub fn lines(&self) -> Vec<String> {
        self.log.iter().map(Cmd::to_string).collect()
    }
}

#[cfg(test)]
impl Runner for Recorder {
    fn has_program(&mut self, program: &str) -> bool {
        !self.missing.iter().any(|m| m == program)
    }

    fn run(&mut self, cmd: &Cmd) -> Result<Output> {
        self.log.push(cmd.clone());
        let line = cmd.to_string();
        if let Some(i) = self.rules.iter().position(|(p, _, _)| line.starts_with(p.as_str())) {
            let out = self.rules[i].1.clone();
            if self.rules[i].2 {
                self.rules.remove(i);
            }
            return Ok(out);
        }
        Ok(Output::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorder_logs_and_answers_by_prefix() {
        let mut r = Recorder::default();
        r.answer("ip netns list", Output { stdout: "sw\n".into(), ..Default::default() }, false);
        r.answer(
            "ip link add",
            Output { code: 2, stderr: "RTNETLINK answers: File exists".into(), ..Default::default() },
            true,
        );
        assert_eq!(r.run(&Cmd::new("ip", &["netns", "list"])).unwrap().stdout, "sw\n");
        let e = r.check(&Cmd::new("ip", &["link", "add", "p0"])).unwrap_err().to_string();
        assert!(e.contains("`ip link add p0` failed (exit 2): RTNETLINK answers: File exists"), "{e}");
        assert!(r.check(&Cmd::new("ip", &["link", "add", "p0"])).is_ok(), "a once-rule is used up");
        assert_eq!(r.lines(), vec!["ip netns list", "ip link add p0", "ip link add p0"]);
    }

    #[test]
    fn system_runner_runs_processes() {
        let out = SystemRunner.run(&Cmd::new("sh", &["-c", "echo hi; echo err >&2; exit 3"])).unwrap();
        assert_eq!((out.code, out.stdout.as_str(), out.stderr.as_str()), (3, "hi\n", "err\n"));
        assert!(SystemRunner.run(&Cmd::new("/nonexistent/tool", &[])).unwrap_err().to_string().contains("cannot run"));
        assert!(SystemRunner.has_program("sh") && !SystemRunner.has_program("no-such-tool-vflag"));
    }

    #[test]
    fn writes_are_commands_shown_as_echo() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sriov_numvfs");
        std::fs::write(&file, "0\n").unwrap();
        let cmd = Cmd::write("4", &file, "/sys/class/net/p0/device/sriov_numvfs");
        assert_eq!(cmd.to_string(), "echo 4 > /sys/class/net/p0/device/sriov_numvfs");
        assert!(SystemRunner.check(&cmd).is_ok());
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "4\n");
        let missing = Cmd::write("1", &dir.path().join("no/such/file"), "/sys/bus/pci/drivers/x/bind");
        let e = SystemRunner.check(&missing).unwrap_err().to_string();
        assert!(e.contains("`echo 1 > /sys/bus/pci/drivers/x/bind` failed (exit 1): echo: write error:"), "{e}");
    }
}
