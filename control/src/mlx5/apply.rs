//! Runs a plan: for each step, skip it if its state is in place; else run it, then check the
//! state is there. The first step that fails (or has no effect) stops the run with the
//! command, what it said, a hint, what the kernel log explains, and how to roll back.

use std::fmt;
use std::time::Duration;

use anyhow::Result;

use super::check::Want;
use super::plan::{Action, Plan, Step};
use super::{discover, dmesg, Env};

/// How often a wait looks again.
pub const POLL: Duration = Duration::from_millis(250);

/// What `apply` tells as it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// The step's state was there already; what the check saw.
    InPlace(&'a Step, &'a str),
    /// The step ran and its state is there now.
    Done(&'a Step, &'a str),
    Note(&'a str),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// The lines of the steps that ran.
    pub ran: Vec<String>,
    pub in_place: usize,
}

/// A step that failed: everything the operator needs to see.
#[derive(Debug, Clone)]
pub struct StepFailed {
    pub number: usize,
    pub total: usize,
    pub line: String,
    pub want: Want,
    /// The command's stderr, or what the check found after it.
    pub said: String,
    pub hint: String,
    /// Explanations of known kernel messages in the stderr or the new log lines.
    pub kernel: Vec<String>,
    pub ran: Vec<String>,
    pub rollback: String,
}

impl fmt::Display for StepFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "step {}/{} failed: {}", self.number, self.total, self.line)?;
        writeln!(f, "  said: {}", self.said)?;
        writeln!(f, "  hint: {}", self.hint)?;
        for k in &self.kernel {
            writeln!(f, "  {k}")?;
        }
        if self.ran.is_empty() {
            write!(f, "  nothing was changed before it")
        } else {
            writeln!(f, "  changed before it: {} step(s), the last `{}`", self.ran.len(), self.ran.last().unwrap())?;
            write!(f, "  to roll back: {}", self.rollback)
        }
    }
}

impl std::error::Error for StepFailed {}

/// Runs `plan`; `report` hears of every step as it ends; `rollback` says how to undo.
pub fn apply(
    env: &mut Env,
    plan: &Plan,
    rollback: &str,
    report: &mut dyn FnMut(Event),
) -> Result<Applied> {
    let mut steps = plan.steps.clone();
    let total = steps.len();
    let log_start = env.kernel_log().map_or(0, |l| l.lines().count());
    let mut rep_resolved = plan.rep.is_none();
    let mut done = Applied::default();
    for i in 0..total {
        if !rep_resolved {
            if let Some(r) = plan.rep.as_ref().filter(|r| steps[i].mentions(&r.planned)) {
                rep_resolved = true;
                let found = discover::representors(env, &r.pf_pci).into_iter().find(|x| x.port_name == r.port_name);
                if let Some(found) = found.filter(|f| f.netdev != r.planned) {
                    report(Event::Note(&format!("representor {} is {}, not {}", r.port_name, found.netdev, r.planned)));
                    steps[i..].iter_mut().for_each(|s| s.rename(&r.planned, &found.netdev));
                }
            }
        }
        let step = &steps[i];
        let before = step.want.check(env)?;
        if before.holds {
            done.in_place += 1;
            report(Event::InPlace(step, &before.now));
            continue;
        }
        let fail = |env: &mut Env, said: String, extra: &str, ran: &[String]| -> anyhow::Error {
            let log = env.kernel_log().unwrap_or_default();
            let new_lines: String = log.lines().skip(log_start).collect::<Vec<_>>().join("\n");
            StepFailed {
                number: i + 1,
                total,
                line: step.line(),
                want: step.want.clone(),
                said,
                hint: step.hint.clone(),
                kernel: dmesg::explain_lines(&format!("{extra}\n{new_lines}")),
                ran: ran.to_vec(),
                rollback: rollback.to_string(),
            }
            .into()
        };
        match &step.action {
            Action::Run(cmd) => {
                let out = env.runner.run(cmd)?;
                if !out.ok() {
                    let said = format!("exit {}: {}", out.code, one_line(&out.stderr));
                    return Err(fail(env, said, &out.stderr, &done.ran));
                }
            }
            Action::WaitLag { timeout, .. } => {
                let polls = (timeout.as_millis() / POLL.as_millis()).max(1) as usize;
                let mut seen = before;
                for _ in 0..polls {
                    (env.sleep)(POLL);
                    seen = step.want.check(env)?;
                    if seen.holds {
                        break;
                    }
                    // A failure the kernel has logged since the run began will not clear.
                    let log = env.kernel_log().unwrap_or_default();
                    let new_lines: Vec<&str> = log.lines().skip(log_start).collect();
                    if !dmesg::explain(&new_lines.join("\n")).is_empty() {
                        break;
                    }
                }
                if !seen.holds {
                    let said = format!("the LAG did not become active within {}: {}", humantime::format_duration(*timeout), seen.now);
                    return Err(fail(env, said, "", &done.ran));
                }
            }
        }
        let after = step.want.check(env)?;
        if !after.holds {
            return Err(fail(env, format!("no effect: {}", after.now), "", &done.ran));
        }
        done.ran.push(step.line());
        report(Event::Done(step, &after.now));
    }
    Ok(done)
}

fn one_line(s: &str) -> String {
    let lines: Vec<&str> = s.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    if lines.is_empty() {
        "(no message)".to_string()
    } else {
        lines.join(" | ")
    }
}
