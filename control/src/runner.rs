//! Every host command goes through one [`Runner`]: real processes in use, a recorder with
//! scripted answers in tests, so a plan's exact commands can be checked without a host.

use anyhow::{Context, Result};

/// A command line: the program and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    pub program: String,
    pub args: Vec<String>,
}

impl Cmd {
    pub fn new(program: &str, args: &[&str]) -> Cmd {
        Cmd { program: program.to_string(), args: args.iter().map(|a| a.to_string()).collect() }
    }
}

impl std::fmt::Display for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.program)?;
        for a in &self.args {
            write!(f, " {a}")?;
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

/// Records every command and answers from a script: the first rule whose prefix matches the
/// command line wins; unmatched commands succeed with empty output.
#[cfg(test)]
#[derive(Default)]
pub struct Recorder {
    pub log: Vec<Cmd>,
    rules: std::collections::VecDeque<(String, Output, bool)>,
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
    }
}
