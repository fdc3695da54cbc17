//! vflag-ctl: the host side of vflag: the emulated VF-LAG lab (`vflag-ctl lab up|down|status|flap`),
//! failover soaks (`vflag-ctl soak`) and matrices of them (`vflag-ctl sweep`), VF-LAG on an mlx5
//! host (`vflag-ctl discover|plan|up|down|verify|counters`), and reports across hosts (`vflag-ctl
//! report merge`). Exit codes: 0 done (soak, sweep: pass; verify: VF-LAG is up; merge: every row
//! passed), 1 failed, 2 bad usage, 3 soak verdict fail (sweep: a cell failed), verify found
//! VF-LAG not up, or a merged row did not pass.
#![forbid(unsafe_code)]

mod claim;
mod headline;
mod lab;
mod merge;
mod mlx5;
mod names;
mod runner;
mod soak;
mod sweep;

use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::{Args, Parser, Subcommand};
use cli_exit::BadUsage;

use lab::{LabNames, LabSpec};
use runner::SystemRunner;

#[derive(Debug, Parser)]
#[command(
    name = "vflag-ctl",
    version,
    about = "VF-LAG host control: mlx5 bring-up and checks, the emulated lab, failover soaks"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Top,
}

#[derive(Debug, Subcommand)]
enum Top {
    /// The emulated VF-LAG lab: a namespace as the switch, veth pairs as the links.
    Lab {
        #[command(subcommand)]
        action: LabAction,
        #[command(flatten)]
        names: LabNames,
        #[command(flatten)]
        vf: VfOpts,
    },
    #[command(flatten)]
    Soak(soak::SoakCommand),
    /// A matrix of soaks in one command: each cell (bond, hash, flap kind, link, flows, rate)
    /// one `soak` in a directory of its own; sweep.json, sweep.md, junit.xml (exit 0 every
    /// cell passed, 3 one failed or erred, 1 error or interrupted).
    Sweep(sweep::SweepArgs),
    /// Reports read back: `merge` puts several hosts' soaks and sweeps in one table, JSON and
    /// JUnit (exit 0 all passed, 3 any did not, 1 error).
    Report {
        #[command(subcommand)]
        action: ReportAction,
    },
    #[command(flatten)]
    Mlx5(mlx5::cli::Command),
}

#[derive(Debug, Subcommand)]
enum ReportAction {
    /// One table, merged.json and JUnit across hosts: each DIR one host's fetched reports
    /// (soak and sweep directories at any depth), each row with the host's NIC, firmware,
    /// kernel and DPDK.
    Merge(merge::MergeArgs),
}

/// The lab as the hardware VF-LAG looks to its VF (`lab up --vf`).
#[derive(Debug, Args)]
struct VfOpts {
    /// With a VF and its representor: the links joined as the NIC joins them (ingress block,
    /// transmit hash), and the mlx5 LAG model (debugfs tree and kernel log in the run directory).
    #[arg(long, global = true)]
    vf: bool,
    /// The VF (where the DUT runs) and its representor.
    #[arg(long, default_value = "vf0,vf0rep", value_delimiter = ',', global = true)]
    vf_names: Vec<String>,
    /// The ingress block both host ends share.
    #[arg(long, default_value_t = 22, global = true)]
    block: u32,
}

#[derive(Debug, Subcommand)]
enum LabAction {
    /// Create the namespace and the veth pairs (idempotent).
    Up,
    /// Remove exactly what `up` created.
    Down,
    /// Say what exists.
    Status {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Take one link down on the switch side, then up again.
    Flap {
        /// Which link (0 = first).
        #[arg(long, default_value_t = 0)]
        link: usize,
        /// How long it stays down, ms.
        #[arg(long, default_value_t = 500)]
        down_ms: u64,
    },
}

fn main() -> ExitCode {
    let cli: Cli = match cli_exit::parse("vflag-ctl") {
        Ok(c) => c,
        Err(code) => return code,
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) if e.downcast_ref::<BadUsage>().is_some() => {
            eprintln!("vflag-ctl: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("vflag-ctl: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> Result<u8> {
    let (action, names, vfo) = match cli.cmd {
        Top::Lab { action, names, vf } => (action, names, vf),
        Top::Soak(soak::SoakCommand::Soak { args, names }) => return soak::soak(&args, &names.spec()?),
        Top::Sweep(args) => return sweep::sweep(&args),
        Top::Mlx5(cmd) => return mlx5::cli::run(cmd),
        Top::Report { action: ReportAction::Merge(a) } => return merge::merge(&a),
    };
    let spec = names.spec()?;
    let r = &mut SystemRunner;
    let vf = vf_spec(&vfo, &spec)?;
    if let Some(vf) = &vf {
        return lab_vf(action, &spec, vf);
    }
    match action {
        LabAction::Up => {
            cli_exit::require_root("lab up", "it creates a namespace and veth pairs")?;
            let _claim = claim_lab(&spec, "lab up")?;
            let done = lab::up(r, &spec)?;
            if done.is_empty() {
                println!("lab already up: namespace {}, links {}", spec.ns, link_list(&spec));
            } else {
                for d in &done {
                    println!("+ {d}");
                }
                println!("lab up: namespace {}, links {}", spec.ns, link_list(&spec));
            }
        }
        LabAction::Down => {
            cli_exit::require_root("lab down", "it removes the lab's namespace and links")?;
            let _claim = claim_lab(&spec, "lab down")?;
            let done = lab::down(r, &spec)?;
            for d in &done {
                println!("+ {d}");
            }
            println!("{}", if done.is_empty() { "nothing of the lab was there" } else { "lab down" });
        }
        LabAction::Status { json } => {
            let st = lab::status(r, &spec)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&st)?);
            } else {
                let state = if st.complete() {
                    "up"
                } else if st.clean() {
                    "down"
                } else {
                    "partial"
                };
                println!("lab {state}: namespace {} {}", st.ns, if st.ns_exists { "exists" } else { "absent" });
                for l in &st.links {
                    println!(
                        "  {} <-> {}/{}: host end {}, switch end {}",
                        l.host,
                        st.ns,
                        l.switch,
                        if !l.host_exists {
                            "absent"
                        } else if !l.ours {
                            "exists (not the lab's)"
                        } else if l.host_up {
                            "up"
                        } else {
                            "down"
                        },
                        if !l.switch_exists {
                            "absent"
                        } else if l.switch_up {
                            "up"
                        } else {
                            "down"
                        }
                    );
                }
            }
        }
        LabAction::Flap { link, down_ms } => {
            if link >= spec.links.len() {
                return Err(BadUsage(format!("--link {link}: the lab has links 0 to {}", spec.links.len() - 1)).into());
            }
            cli_exit::require_root("lab flap", "it sets a switch end down and up")?;
            let _claim = claim_lab(&spec, "lab flap")?;
            let t0 = std::time::Instant::now();
            lab::flap(r, &spec, link, down_ms, &|ms| std::thread::sleep(std::time::Duration::from_millis(ms)))?;
            println!("link {link} ({}) was down for {} ms", spec.links[link].1, t0.elapsed().as_millis());
        }
    }
    Ok(0)
}

fn vf_spec(o: &VfOpts, lab: &LabSpec) -> Result<Option<lab::vf::VfSpec>> {
    if !o.vf {
        return Ok(None);
    }
    let [v, p] = o.vf_names.as_slice() else {
        return Err(BadUsage(format!("--vf-names {}: give the VF and its representor", o.vf_names.join(","))).into());
    };
    for n in [v, p] {
        names::ifname(n).map_err(|e| BadUsage(format!("--vf-names {e}")))?;
    }
    if v == p || lab.links.iter().any(|(h, s)| [h, s].contains(&v) || [h, s].contains(&p)) {
        return Err(BadUsage(format!("--vf-names {v},{p}: two names of their own")).into());
    }
    if lab.links.len() != 2 {
        return Err(BadUsage("--vf: a VF-LAG joins two links".into()).into());
    }
    let mut vf = lab::vf::VfSpec::new(lab);
    (vf.vf, vf.rep, vf.block) = (v.clone(), p.clone(), o.block);
    Ok(Some(vf))
}

/// `lab up|down|status|flap --vf`.
fn lab_vf(action: LabAction, spec: &LabSpec, vf: &lab::vf::VfSpec) -> Result<u8> {
    let r = &mut SystemRunner;
    match action {
        LabAction::Up => {
            cli_exit::require_root("lab up", "it creates a namespace and veth pairs")?;
            let _claim = claim_lab(spec, "lab up")?;
            let done = lab::vf::up(r, spec, vf)?;
            for d in &done {
                println!("+ {d}");
            }
            println!(
                "lab {}: namespace {}, links {}, VF {} (the DUT's netdev; representor {}, block {}); mlx5 view in {}",
                if done.is_empty() { "already up" } else { "up" },
                spec.ns,
                link_list(spec),
                vf.dut_iface(),
                vf.rep,
                vf.block,
                vf.run_dir.display()
            );
        }
        LabAction::Down => {
            cli_exit::require_root("lab down", "it removes the lab's namespace and links")?;
            let _claim = claim_lab(spec, "lab down")?;
            let done = lab::vf::down(r, spec, vf)?;
            for d in &done {
                println!("+ {d}");
            }
            println!("{}", if done.is_empty() { "nothing of the lab was there" } else { "lab down" });
        }
        LabAction::Status { json } => {
            let st = lab::status(r, spec)?;
            let vst = lab::vf::status(r, spec, vf)?;
            if json {
                println!("{}", serde_json::json!({"lab": st, "vf": vst, "run_dir": vf.run_dir}));
            } else {
                let state = if st.complete() && vst.complete() {
                    "up"
                } else if st.clean() && !vst.vf_exists {
                    "down"
                } else {
                    "partial"
                };
                println!("lab {state}: namespace {} {}", st.ns, if st.ns_exists { "exists" } else { "absent" });
                println!(
                    "  VF {} (representor {}): {}, block {} on the host ends: {}, redirect {}, transmit hash {}",
                    vf.vf,
                    vf.rep,
                    if !vst.vf_exists {
                        "absent"
                    } else if !vst.ours {
                        "not the lab's"
                    } else if vst.vf_up && vst.rep_up {
                        "up"
                    } else {
                        "down"
                    },
                    vf.block,
                    vst.host_on_block.iter().map(|b| if *b { "yes" } else { "no" }).collect::<Vec<_>>().join("/"),
                    if vst.redirect { "yes" } else { "no" },
                    if vst.hash { "yes" } else { "no" }
                );
                let m = vf.debugfs_root().join("mlx5").join(lab::card_view::PF_PCI[0]).join("lag/mapping");
                if let Ok(t) = std::fs::read_to_string(&m) {
                    println!("  mapping (active ports): {}", t.split_whitespace().collect::<Vec<_>>().join(", "));
                }
            }
        }
        LabAction::Flap { link, down_ms } => {
            if link >= spec.links.len() {
                return Err(BadUsage(format!("--link {link}: the lab has links 0 to {}", spec.links.len() - 1)).into());
            }
            cli_exit::require_root("lab flap", "it sets a switch end down and up")?;
            let _claim = claim_lab(spec, "lab flap")?;
            if !lab::vf::status(r, spec, vf)?.complete() {
                bail!("the lab's VF {} is not up: run `vflag-ctl lab up --vf` first", vf.vf);
            }
            let model = lab::lag_model::LagModel::start(spec, vf)?;
            let t0 = std::time::Instant::now();
            lab::set_switch_link(r, spec, link, false)?;
            std::thread::sleep(std::time::Duration::from_millis(down_ms));
            let t_up = std::time::Instant::now();
            lab::set_switch_link(r, spec, link, true)?;
            let t_end = std::time::Instant::now();
            // Let the model see the carrier come back.
            std::thread::sleep(std::time::Duration::from_millis(100));
            let remaps = model.stop();
            println!("link {link} ({}) was down for {} ms", spec.links[link].1, t_end.duration_since(t0).as_millis());
            for m in &remaps {
                let since = if m.seen >= t_up { t_up } else { t0 };
                println!(
                    "remap: active ports {} in place {:.1} ms after `ip link set` began{}",
                    m.live.ports().iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", "),
                    m.done.saturating_duration_since(since).as_secs_f64() * 1e3,
                    m.error.as_ref().map(|e| format!(" (tc failed: {e})")).unwrap_or_default()
                );
            }
        }
    }
    Ok(0)
}

/// A lab in use by a soak (or another lab command) is not touched.
fn claim_lab(spec: &LabSpec, holder: &str) -> Result<claim::Claim> {
    let (key, what) = claim::lab(&spec.ns);
    claim::Claim::take(&claim::run_dir(), &key, &what, holder)
}

fn link_list(s: &LabSpec) -> String {
    s.links.iter().map(|(h, w)| format!("{h}<->{w}")).collect::<Vec<_>>().join(", ")
}
