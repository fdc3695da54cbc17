//! Runs a plan: for each step, skip it if its state is in place; else run it, then check the
//! state is there. The first step that fails (or has no effect) stops the run with the
//! command, what it said, a hint, what the kernel log explains, and how to roll back.

use std::fmt;
use std::time::Duration;

use anyhow::Result;

use super::check::Want;
use super::plan::{Action, Plan, Step};
use super::{discover, dmesg, lagstate, Env};

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
pub fn apply(env: &mut Env, plan: &Plan, rollback: &str, report: &mut dyn FnMut(Event)) -> Result<Applied> {
    let mut steps = plan.steps.clone();
    let total = steps.len();
    // Log lines past this count are the run's (a ring buffer that wraps meanwhile hides some).
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
                if !seen.holds && lag_unseen(env, &step.want) {
                    // Nothing can tell: say so and go on; `verify` will say unknown.
                    report(Event::Note(&format!("cannot see whether the LAG is active ({}); going on", seen.now)));
                    done.ran.push(step.line());
                    report(Event::Done(step, &seen.now));
                    continue;
                }
                if !seen.holds {
                    let said = format!(
                        "the LAG did not become active within {}: {}",
                        humantime::format_duration(*timeout),
                        seen.now
                    );
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

/// Whether no source shows the LAG state (no debugfs, no RDMA device, no log lines).
fn lag_unseen(env: &mut Env, want: &Want) -> bool {
    let Want::LagActive { pf_pci } = want else { return false };
    let log = env.kernel_log();
    lagstate::read(env, pf_pci, log.as_deref()).source == lagstate::Source::None
}

fn one_line(s: &str) -> String {
    let lines: Vec<&str> = s.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    if lines.is_empty() {
        "(no message)".to_string()
    } else {
        lines.join(" | ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlx5::discover::{self, FOR_SETUP, FOR_TEARDOWN};
    use crate::mlx5::plan::{self, Order, Setup};
    use crate::mlx5::testing::fake::{self, FakeHost};
    use crate::mlx5::testing::{run_plan, up_on};
    use crate::mlx5::verify;
    use crate::runner::Runner;
    use crate::runner::{Cmd, Output};
    use vflag_contract::value::BondMode;

    fn env_of(h: &mut FakeHost) -> (std::path::PathBuf, &mut FakeHost) {
        (h.root(), h)
    }

    fn verdict(h: &mut FakeHost, s: &Setup) -> verify::Verdict {
        let sleep = |_| {};
        let (root, h) = env_of(h);
        let mut env = fake::env_at(&root, h, &sleep);
        let host = discover::discover(&mut env, None, &s.bond, FOR_TEARDOWN).unwrap();
        verify::verify(&mut env, &host, s, None).unwrap()
    }

    fn failed(v: &verify::Verdict) -> Vec<String> {
        v.items.iter().filter(|i| i.required && i.status != verify::Status::Pass).map(|i| i.name.clone()).collect()
    }

    #[test]
    fn up_runs_the_plan_then_verify_passes_then_up_again_changes_nothing() {
        for mode in [BondMode::Lacp, BondMode::ActiveBackup, BondMode::Xor] {
            let s = Setup { mode, reverse_rule: true, ..Setup::default() };
            let mut h = FakeHost::seed();
            assert!(!verdict(&mut h, &s).pass);
            let done = up_on(&mut h, &s).unwrap();
            // Every command of the plan ran, in order, and nothing else changed the host.
            let ran: Vec<&String> = done.ran.iter().filter(|l| !l.starts_with('#')).collect();
            assert_eq!(h.changes().iter().collect::<Vec<_>>(), ran);
            // The fake's LAG forms as the second PF joins: the wait finds it active.
            assert_eq!((done.ran.len(), done.in_place), (38, 1), "{mode:?}");
            let v = verdict(&mut h, &s);
            assert!(v.pass, "{mode:?}: {:?}", failed(&v));
            assert_eq!(v.items.iter().filter(|i| i.required).count(), 17);

            let before = h.log.len();
            let again = up_on(&mut h, &s).unwrap();
            assert!(again.ran.is_empty(), "{:?}", again.ran);
            // With the LAG formed the VFs need no unbinding: 8 steps fewer.
            assert_eq!(again.in_place, 31);
            assert!(h.log[before..].iter().all(|l| fake::is_read(l)), "only reads: {:?}", &h.log[before..]);
        }
    }

    #[test]
    fn down_leaves_the_host_as_before_and_again_changes_nothing() {
        let s = Setup::default();
        let mut h = FakeHost::seed();
        up_on(&mut h, &s).unwrap();
        let done = run_plan(&mut h, &s, Order::Auto, false).unwrap();
        assert_eq!(done.ran.len(), 22, "{:?}", done.ran);
        let sys = h.sys();
        for pf in ["enp1s0f0np0", "enp1s0f1np1"] {
            assert_eq!(sys.read(&format!("class/net/{pf}/device/sriov_numvfs")).as_deref(), Some("0"));
            assert_eq!(sys.read(&format!("class/net/{pf}/flags")).as_deref(), Some("0x1003"), "{pf} up, in no bond");
        }
        assert!(!sys.exists("class/net/vf-bond") && !sys.exists("class/net/enp1s0f0npf0vf0"));
        assert_eq!(sys.read("kernel/debug/mlx5/0000:01:00.0/lag/state").as_deref(), Some("disabled"));
        assert!(h.log.iter().any(|l| l == "devlink dev eswitch set pci/0000:01:00.0 mode legacy"));
        // Every VF was unbound before the LAG broke up: the kernel logged no failure.
        let log = h.run(&crate::runner::Cmd::new("dmesg", &[])).unwrap().stdout;
        assert!(crate::mlx5::dmesg::explain(&log).is_empty(), "{log}");
        let before = h.log.len();
        assert!(run_plan(&mut h, &s, Order::Auto, false).unwrap().ran.is_empty());
        assert!(h.log[before..].iter().all(|l| fake::is_read(l)));
        // And it comes up again.
        assert!(up_on(&mut h, &s).is_ok());
        assert!(verdict(&mut h, &s).pass);
    }

    #[test]
    fn a_failure_at_any_step_stops_there_with_the_command_its_error_and_a_hint() {
        let s = Setup::default();
        let mut clean = FakeHost::seed();
        let all = up_on(&mut clean, &s).unwrap().ran;
        let commands: Vec<&String> = all.iter().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(commands.len(), 36);
        // One simulated host per failure; two threads share them out.
        let check = |i: usize, line: &str| {
            let mut h = FakeHost::seed();
            h.fail_on.push((
                line.to_string(),
                Output { code: 2, stderr: "RTNETLINK answers: Operation not permitted\n".into(), ..Default::default() },
            ));
            let e = up_on(&mut h, &s).unwrap_err();
            let f = e.downcast_ref::<StepFailed>().unwrap_or_else(|| panic!("{line}: {e:#}"));
            assert_eq!(f.line, line);
            assert!(f.said.contains("exit 2: RTNETLINK answers: Operation not permitted"), "{}", f.said);
            assert!(!f.hint.is_empty());
            let msg = e.to_string();
            assert!(msg.contains(&format!("failed: {line}")), "{msg}");
            if i == 0 {
                assert!(msg.contains("nothing was changed before it"), "{msg}");
            } else {
                assert!(msg.contains("to roll back: vflag-ctl down"), "{msg}");
            }
            // The failing command was the last one that changed anything.
            assert_eq!(h.changes().last().map(String::as_str), Some(line));
            assert_eq!(h.changes().len(), i + 1, "{line}");
        };
        std::thread::scope(|sc| {
            for half in [0, 1] {
                let (check, commands) = (&check, &commands);
                sc.spawn(move || {
                    for (i, line) in commands.iter().enumerate().filter(|(i, _)| i % 2 == half) {
                        check(i, line);
                    }
                });
            }
        });
    }

    #[test]
    fn a_step_without_effect_stops_the_run() {
        let s = Setup::default();
        let mut h = FakeHost::seed();
        // The command "succeeds" but nothing changes.
        h.fail_on.push(("ethtool -K enp1s0f1np1 hw-tc-offload on".into(), Output::default()));
        let e = up_on(&mut h, &s).unwrap_err().to_string();
        assert!(e.contains("failed: ethtool -K enp1s0f1np1 hw-tc-offload on"), "{e}");
        assert!(e.contains("no effect: hw-tc-offload of enp1s0f1np1 is off"), "{e}");
        assert!(e.contains("hint: hw-tc-offload needs the eswitch in switchdev mode"), "{e}");
        assert_eq!(h.changes().last().unwrap(), "ethtool -K enp1s0f1np1 hw-tc-offload on");
    }

    #[test]
    fn an_unbind_without_effect_stops_before_switchdev() {
        let mut h = FakeHost::seed();
        // The write "succeeds" but the VF stays bound: the check after it stops the run.
        h.fail_on.push(("echo 0000:01:00.2 > /sys/bus/pci/drivers/mlx5_core/unbind".into(), Output::default()));
        let e = up_on(&mut h, &Setup::default()).unwrap_err().to_string();
        assert!(e.contains("no effect: VF 0000:01:00.2 is bound to mlx5_core"), "{e}");
        assert!(!h.changes().iter().any(|l| l.starts_with("devlink")), "{:?}", h.changes());
    }

    #[test]
    fn switchdev_with_vfs_still_bound_fails_with_the_hint() {
        let mut h = FakeHost::seed();
        let (root, sleep) = (h.root(), |_| {});
        let mut env = fake::env_at(&root, &mut h, &sleep);
        let host = discover::discover(&mut env, None, "vf-bond", FOR_SETUP).unwrap();
        let mut p = plan::up(&host, &Setup::default(), &env.sys, Order::VfsFirst).unwrap();
        // The seed's procedure without its unbinding, as a hand-typed run might go.
        p.steps.retain(|s| !s.line().ends_with("/unbind"));
        let e = apply(&mut env, &p, "vflag-ctl down", &mut |_| {}).unwrap_err().to_string();
        assert!(e.contains("step 3/29 failed: devlink dev eswitch set pci/0000:01:00.0 mode switchdev"), "{e}");
        assert!(e.contains("said: exit 1: devlink answers: Device or resource busy"), "{e}");
        assert!(e.contains("hint: VFs must be unbound before switchdev"), "{e}");
        assert!(e.contains("changed before it: 2 step(s)"), "{e}");
    }

    #[test]
    fn up_waits_for_a_lag_that_forms_late_then_binds_the_vfs() {
        let mut h = FakeHost::seed();
        h.lag_delay = 3;
        let polls = std::cell::Cell::new(0);
        let sleep = |d| {
            assert_eq!(d, POLL);
            polls.set(polls.get() + 1)
        };
        let root = h.root();
        let s = Setup::default();
        let mut env = fake::env_at(&root, &mut h, &sleep);
        let host = discover::discover(&mut env, None, "vf-bond", FOR_SETUP).unwrap();
        let p = plan::up(&host, &s, &env.sys, Order::Auto).unwrap();
        let done = apply(&mut env, &p, "", &mut |_| {}).unwrap();
        let wait = done.ran.iter().position(|l| l.starts_with("# wait")).expect("the wait ran");
        assert!(done.ran[wait + 1].ends_with("/bind"), "{:?}", done.ran);
        assert!((1..=3).contains(&polls.get()), "{}", polls.get());
    }

    #[test]
    fn a_half_configured_host_whose_lag_failed_is_repaired() {
        // By hand: VFs made and left bound, switchdev, the bond formed: the LAG fails.
        let mut h = FakeHost::seed();
        let sys = h.sys();
        let run = |h: &mut FakeHost, c: Cmd| assert!(h.run(&c).unwrap().ok(), "{c}");
        for pf in ["enp1s0f0np0", "enp1s0f1np1"] {
            run(&mut h, Cmd::write("4", &sys.path(&format!("class/net/{pf}/device/sriov_numvfs")), "-"));
        }
        let unbind = sys.path("bus/pci/drivers/mlx5_core/unbind");
        let bind = sys.path("bus/pci/drivers/mlx5_core/bind");
        let vfs = fake::SEED_VFS;
        for vf in vfs {
            run(&mut h, Cmd::write(vf, &unbind, "-"));
        }
        for pci in ["pci/0000:01:00.0", "pci/0000:01:00.1"] {
            run(&mut h, Cmd::new("devlink", &["dev", "eswitch", "set", pci, "mode", "switchdev"]));
        }
        for vf in vfs {
            run(&mut h, Cmd::write(vf, &bind, "-"));
        }
        run(&mut h, Cmd::new("ip", &["link", "add", "vf-bond", "type", "bond", "mode", "802.3ad"]));
        for pf in ["enp1s0f0np0", "enp1s0f1np1"] {
            run(&mut h, Cmd::new("ip", &["link", "set", pf, "master", "vf-bond"]));
        }
        let log = h.run(&Cmd::new("dmesg", &[])).unwrap().stdout;
        assert!(log.contains("Failed to activate VF LAG"), "{log}");
        let before = h.changes().len();
        up_on(&mut h, &Setup::default()).unwrap();
        let fix = h.changes()[before..].to_vec();
        // Out of the bond first, VFs unbound, in again: the LAG forms; then the VFs come back.
        assert_eq!(fix[..2], ["ip link set enp1s0f0np0 nomaster", "ip link set enp1s0f1np1 nomaster"]);
        assert_eq!(fix[2..10], fake::vf_writes("unbind")[..]);
        let at = |l: &str| fix.iter().position(|x| x == l).unwrap();
        assert!(
            at("ip link set enp1s0f1np1 master vf-bond")
                < at("echo 0000:01:00.2 > /sys/bus/pci/drivers/mlx5_core/bind")
        );
        assert!(verdict(&mut h, &Setup::default()).pass);
    }

    #[test]
    fn with_nothing_showing_the_lag_up_goes_on_and_verify_says_unknown() {
        let mut h = FakeHost::seed();
        h.hide_lag();
        let s = Setup::default();
        let notes = std::cell::RefCell::new(Vec::new());
        let sleep = |_| {};
        let root = h.root();
        {
            let mut env = fake::env_at(&root, &mut h, &sleep);
            let host = discover::discover(&mut env, None, "vf-bond", FOR_SETUP).unwrap();
            let p = plan::up(&host, &s, &env.sys, Order::Auto).unwrap();
            apply(&mut env, &p, "", &mut |e| {
                if let Event::Note(n) = e {
                    notes.borrow_mut().push(n.to_string())
                }
            })
            .unwrap();
        }
        assert_eq!(notes.borrow().len(), 1);
        assert!(
            notes.borrow()[0].starts_with("cannot see whether the LAG is active (no LAG facts"),
            "{:?}",
            notes.borrow()
        );
        let v = verdict(&mut h, &s);
        assert_eq!(failed(&v), ["hardware LAG active"]);
        // Again: nothing changes; the VFs are not unbound to find out.
        let before = h.changes().len();
        up_on(&mut h, &s).unwrap();
        assert_eq!(h.changes().len(), before);
    }

    #[test]
    fn a_lag_that_never_activates_stops_before_the_vfs_are_bound_and_is_explained() {
        let mut h = FakeHost::seed();
        h.lag_refused = true;
        let polls = std::cell::Cell::new(0);
        let sleep = |_| polls.set(polls.get() + 1);
        let root = h.root();
        let s = Setup::default();
        let mut env = fake::env_at(&root, &mut h, &sleep);
        let host = discover::discover(&mut env, None, "vf-bond", FOR_SETUP).unwrap();
        let p = plan::up(&host, &s, &env.sys, Order::Auto).unwrap();
        let e = apply(&mut env, &p, "vflag-ctl down", &mut |_| {}).unwrap_err().to_string();
        assert!(
            e.contains("the LAG did not become active within 5s: debugfs mlx5/0000:01:00.0/lag/state: disabled"),
            "{e}"
        );
        assert!(e.contains("kernel: \"Failed to activate VF LAG\""), "{e}");
        // The failure in the log ends the wait at once.
        assert_eq!(polls.get(), 1);
        assert!(!h.changes().iter().any(|l| l.ends_with("/bind")), "no VF was bound again");
    }

    #[test]
    fn a_representor_named_otherwise_is_found_by_its_port_name() {
        let s = Setup::default();
        let mut h = FakeHost::seed();
        let root = h.root();
        let sleep = |_| {};
        let mut env = fake::env_at(&root, &mut h, &sleep);
        let host = discover::discover(&mut env, None, "vf-bond", FOR_SETUP).unwrap();
        let mut p = plan::up(&host, &s, &env.sys, Order::Auto).unwrap();
        // As if udev would name it eth5: the plan predicted enp1s0f0npf0vf0.
        let r = p.rep.as_mut().unwrap();
        r.planned = "eth5".into();
        for st in p.steps.iter_mut() {
            st.rename("enp1s0f0npf0vf0", "eth5");
        }
        let mut notes = Vec::new();
        let done = apply(&mut env, &p, "", &mut |e| {
            if let Event::Note(n) = e {
                notes.push(n.to_string())
            }
        })
        .unwrap();
        assert_eq!(notes, ["representor pf0vf0 is enp1s0f0npf0vf0, not eth5"]);
        assert!(done.ran.iter().any(|l| l.ends_with("redirect dev enp1s0f0npf0vf0")));
    }
}
