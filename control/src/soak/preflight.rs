//! Before a soak on real hardware starts anything: `vflag-ctl verify`'s checklist on the card
//! the options name (`--sysfs-root`, `--pfs`, `--bond-name`, ...; the VF and MAC from
//! `--dut-args`). It passes as verify does (exit 0: every required item passes, an unknown is
//! not a pass); otherwise the soak stops with the failing items, one line each, and nothing
//! started. `--no-verify` skips it. The card read here also gives the environment and the
//! target of the offload checks around the flaps; the lab's come once the lab is up.

use std::fmt::Write;
use std::path::Path;

use anyhow::{bail, Result};
use serde::Serialize;

use super::args::SoakArgs;
use super::environment::{self, Environment};
use super::integrity::{Integrity, IntegrityReport, NicTarget};
use crate::lab::vf::VfSpec;
use crate::lab::LabSpec;
use crate::mlx5::discover::Host;
use crate::mlx5::plan::Setup;
use crate::mlx5::verify::{self, Status};
use crate::mlx5::Env;
use crate::runner::SystemRunner;

/// soak.json's `preflight`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PreflightReport {
    /// "passed", "skipped (--no-verify)" or "not applicable (the lab has no mlx5 card)".
    pub verify: String,
    /// verify's checklist, as `vflag-ctl verify --json` prints it.
    pub result: Option<verify::Verdict>,
    /// --no-verify on a host whose card could not be read: why (no offload checks then).
    pub discover_error: Option<String>,
}

pub struct Preflight {
    pub report: PreflightReport,
    pub environment: Environment,
    pub integrity: Integrity,
}

/// Real hardware: verify (unless --no-verify), the environment and the offload checks' target.
/// The lab: nothing yet (see [`Preflight::lab_is_up`]).
pub fn run(args: &SoakArgs) -> Result<Preflight> {
    if args.lab {
        return Ok(Preflight {
            report: PreflightReport {
                verify: "not applicable (the lab has no mlx5 card)".into(),
                ..Default::default()
            },
            environment: Environment::default(),
            integrity: Integrity::not_applicable("the lab is not up yet"),
        });
    }
    let words = super::words::split("--dut-args", args.dut_args.as_deref().unwrap_or_default())?;
    let setup = args.nic.setup(&words);
    args.nic.with_env(|env| on_card(env, args, &setup, Path::new("/proc")))
}

/// The pre-flight on the card `env` shows.
fn on_card(env: &mut Env, args: &SoakArgs, setup: &Setup, proc_root: &Path) -> Result<Preflight> {
    let host = match args.nic.discover(env) {
        Ok(h) => h,
        Err(e) if args.no_verify => {
            println!("pre-flight: skipped (--no-verify); the mlx5 card could not be read: {e:#}");
            let why = format!("the mlx5 card could not be read (--no-verify): {e:#}");
            return Ok(Preflight {
                report: PreflightReport {
                    verify: "skipped (--no-verify)".into(),
                    result: None,
                    discover_error: Some(format!("{e:#}")),
                },
                environment: Environment {
                    host: "mlx5".into(),
                    hostname: environment::hostname(proc_root),
                    kernel: environment::kernel(proc_root),
                    ..Default::default()
                },
                integrity: Integrity::not_applicable(why),
            });
        }
        Err(e) => bail!("pre-flight: {e:#}\n(the soak verifies VF-LAG before it starts; --no-verify skips this)"),
    };
    let report = if args.no_verify {
        println!("pre-flight: verify skipped (--no-verify)");
        PreflightReport { verify: "skipped (--no-verify)".into(), ..Default::default() }
    } else {
        let v = verify::verify(env, &host, setup, None)?;
        print!("pre-flight (vflag-ctl verify):\n{}", verify::render(&v));
        if !v.pass {
            bail!("{}", refusal(&v));
        }
        PreflightReport { verify: "passed".into(), result: Some(v), discover_error: None }
    };
    let environment = environment::nic(env, &host, proc_root);
    let integrity = Integrity::nic(args.nic.host.clone(), target(&host, setup));
    Ok(Preflight { report, environment, integrity })
}

/// The offload checks' target: what verify checked.
fn target(host: &Host, setup: &Setup) -> NicTarget {
    NicTarget {
        bond: setup.bond.clone(),
        pfs: [host.pfs[0].netdev.clone(), host.pfs[1].netdev.clone()],
        pf_pci: host.pfs[0].pci.clone(),
        representor: verify::representor(host, setup),
        block: setup.block,
        vf_mac: setup.vf_mac.clone(),
    }
}

/// "pre-flight: VF-LAG is not in place ...", then each required item that did not pass.
fn refusal(v: &verify::Verdict) -> String {
    let mut s = String::from(
        "pre-flight: VF-LAG is not in place (vflag-ctl verify fails); nothing started (--no-verify skips this check):",
    );
    for i in v.items.iter().filter(|i| i.required && i.status != Status::Pass) {
        let status = if i.status == Status::Fail { "FAIL" } else { "unknown" };
        let _ = write!(s, "\n  {status} {}: {}", i.name, i.detail);
    }
    s
}

impl Preflight {
    /// The lab is up (and with --vf its LAG model running): what it is, and with --vf the
    /// offload checks' lab equivalents; the bond-to-bond lab has no offload to check.
    pub fn lab_is_up(&mut self, args: &SoakArgs, spec: &LabSpec, v: Option<&VfSpec>) {
        if !args.lab {
            return;
        }
        self.environment = environment::lab(&mut SystemRunner, args, spec, v, Path::new("/proc"));
        self.integrity = match v {
            Some(v) => Integrity::lab(spec, v),
            None => Integrity::not_applicable("not applicable: the bond-to-bond lab (no --vf) has no NIC offload"),
        };
    }
}

/// soak.md's lines: the environment and the pre-flight.
pub fn markdown(pre: &PreflightReport, env: &Environment) -> String {
    let verify = match &pre.result {
        Some(v) => {
            let n = v.items.iter().filter(|i| i.required).count();
            format!("{} ({n} required items)", pre.verify)
        }
        None => pre.verify.clone(),
    };
    format!("{}Pre-flight verify: {}.\n\n", env.markdown(), super::markdown::md(&verify))
}

/// soak.md's offload integrity: a line per check run, with what failed.
pub fn integrity_markdown(r: &IntegrityReport) -> String {
    let mut s = String::new();
    if !r.checked {
        let _ = writeln!(s, "Offload integrity: {}.\n", r.why_not.as_deref().unwrap_or("not checked"));
        return s;
    }
    let _ = writeln!(s, "Offload integrity ({}):\n", super::markdown::md(r.target.as_deref().unwrap_or_default()));
    s.push_str("| when | checks | result |\n|---|---:|---|\n");
    for rec in &r.records {
        let when = match rec.when {
            super::integrity::When::BeforeFlaps => "before the first flap".to_string(),
            super::integrity::When::AfterFlap(n) => format!("after flap {n}"),
            super::integrity::When::End => "at the end".to_string(),
        };
        let result = if rec.pass {
            let na: Vec<String> = rec
                .checks
                .iter()
                .filter(|c| c.status == super::integrity::Status::NotApplicable)
                .map(|c| format!("{}: {}", c.name, c.detail))
                .collect();
            if na.is_empty() {
                "ok".to_string()
            } else {
                format!("ok ({})", na.join("; "))
            }
        } else {
            let bad: Vec<String> = rec
                .checks
                .iter()
                .filter(|c| matches!(c.status, super::integrity::Status::Fail | super::integrity::Status::Unknown))
                .map(|c| format!("{}: {}", c.name, c.detail))
                .collect();
            format!("FAIL: {}", bad.join("; "))
        };
        let _ = writeln!(s, "| {when} | {} | {} |", rec.checks.len(), super::markdown::md(&result));
    }
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlx5::testing::fake::{self, FakeHost};

    fn args(extra: &[&str]) -> SoakArgs {
        let base = ["--dut-args", "--lcores 1-2 -a 0000:01:00.2 --mac 52:54:00:00:00:01", "--duration", "5s"];
        crate::soak::args::parse_for_test(&[&base[..], extra].concat()).unwrap()
    }

    fn preflight(h: &mut FakeHost, a: &SoakArgs) -> Result<Preflight> {
        let (root, sleep) = (h.root(), |_| {});
        let words = super::super::words::split("--dut-args", a.dut_args.as_deref().unwrap()).unwrap();
        let mut env = fake::env_at(&root, h, &sleep);
        on_card(&mut env, a, &a.nic.setup(&words), Path::new("/nonexistent"))
    }

    #[test]
    fn a_host_without_vf_lag_is_refused_with_each_failing_item() {
        let e = preflight(&mut FakeHost::seed(), &args(&[])).err().unwrap().to_string();
        let lines: Vec<&str> = e.lines().collect();
        assert!(lines[0].starts_with("pre-flight: VF-LAG is not in place"), "{e}");
        assert!(lines.contains(&"  FAIL eswitch of enp1s0f0np0 is switchdev: pci/0000:01:00.0: mode legacy"), "{e}");
        assert!(
            lines
                .contains(&"  FAIL bond vf-bond in mode 802.3ad, active-backup or balance-xor: vf-bond does not exist"),
            "{e}"
        );
        assert!(lines.iter().skip(1).all(|l| l.starts_with("  FAIL ") || l.starts_with("  unknown ")), "{e}");
    }

    #[test]
    fn an_up_host_passes_and_names_the_target_the_flaps_are_checked_on() {
        let mut h = FakeHost::seed();
        crate::mlx5::testing::up_on(&mut h, &Setup::default()).unwrap();
        let p = preflight(&mut h, &args(&[])).unwrap();
        assert_eq!(p.report.verify, "passed");
        assert!(p.report.result.as_ref().unwrap().pass);
        assert_eq!(p.environment.nic.as_deref(), Some("ConnectX-6 Dx"));
        assert!(p.integrity.report().target.unwrap().contains("flower dst_mac 52:54:00:00:00:01 -> enp1s0f0npf0vf0"));
        // The VF the DUT opens decides the representor (VF 0 of the first PF here).
        let md = markdown(&p.report, &p.environment);
        assert!(md.ends_with("Pre-flight verify: passed (16 required items).\n\n"), "{md}");
    }

    #[test]
    fn no_verify_skips_the_checklist_but_still_reads_the_card() {
        let mut h = FakeHost::seed();
        let p = preflight(&mut h, &args(&["--no-verify"])).unwrap();
        assert_eq!(p.report.verify, "skipped (--no-verify)");
        assert!(p.report.result.is_none());
        assert!(p.integrity.report().checked, "the offload checks still run, and fail on a host without VF-LAG");
        assert!(!h.log.iter().any(|l| l.starts_with("tc filter")), "no verify ran: {:?}", h.log);
        // A host with no mlx5 card at all: nothing to check, said so.
        let dir = tempfile::tempdir().unwrap();
        let (mut r, sleep) = (crate::runner::Recorder::default(), |_| {});
        let mut env = fake::env_at(dir.path(), &mut r, &sleep);
        let a = args(&["--no-verify"]);
        let p = on_card(&mut env, &a, &Setup::default(), Path::new("/nonexistent")).unwrap();
        let i = p.integrity.report();
        assert!(!i.checked);
        assert!(i.why_not.unwrap().starts_with("the mlx5 card could not be read (--no-verify): "));
        assert!(p.report.discover_error.is_some());
    }
}
