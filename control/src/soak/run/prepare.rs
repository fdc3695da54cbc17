//! The first phase: everything checked and set up before a process starts. The options (bad
//! ones exit 2), the claim of the lab or DUT (before `--out` is touched), the pre-flight on
//! real hardware, `--out` cleared and the soak's files reserved, the signal handlers, the lab
//! (brought up unless it is), the flapper, the LAG model, and the NIC and link watchers.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use cli_exit::BadUsage;

use super::lab_guard::LabGuard;
use crate::claim::{self, Claim};
use crate::lab::lag_model::{LagModel, LagModelGuard};
use crate::lab::{self, vf::VfSpec, LabSpec};
use crate::mlx5::counters::Link;
use crate::runner::SystemRunner;
use crate::soak::args::SoakArgs;
use crate::soak::flappers::{CmdFlapper, Flapper, LabFlapper};
use crate::soak::link_counters::{self, LinkWatch};
use crate::soak::metrics::MetricsFile;
use crate::soak::nic_watch::{self, NicRun};
use crate::soak::outputs::{self, Files, Reserved};
use crate::soak::preflight::{self, Preflight};
use crate::soak::receiver;
use crate::soak::schedule::Schedule;

/// What the later phases run with. Fields drop in order: the watchers, the LAG model, the
/// flapper, the lab, the files not committed, and the claim last.
pub struct Prepared {
    pub link_watch: Option<LinkWatch>,
    pub nic: Option<NicRun>,
    pub lag_model: Option<LagModelGuard>,
    pub flapper: Box<dyn Flapper>,
    /// Held for its drop: takes down a lab the soak brought up.
    _lab_guard: Option<LabGuard>,
    /// Taken when the report is written.
    pub reserved: Option<Reserved>,
    pub claim: Claim,
    pub pre: Preflight,
    pub files: Files,
    pub schedule: Schedule,
    pub seed: u64,
    pub vflag_dp: PathBuf,
    pub vf: Option<VfSpec>,
    /// Links whose counters are sampled (the lab's host ends, else `--link-counters`).
    pub counter_links: Vec<Link>,
    /// Each flapped link's name, by index.
    pub link_names: Vec<String>,
    /// The lab bond's members (a VF has none; on hardware the receiver's report names them).
    pub members: Vec<String>,
    /// Set by SIGINT/SIGTERM.
    pub stop: Arc<AtomicBool>,
    /// `--metrics`, created before anything runs; the session takes it.
    pub metrics: Option<MetricsFile>,
}

pub fn prepare(args: &SoakArgs, spec: &LabSpec) -> Result<Prepared> {
    let seed =
        args.seed.unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64));
    let n_links = if args.lab { spec.links.len() } else { args.links.len().max(1) };
    let schedule = args.validate(n_links, seed).map_err(|e| BadUsage(e.to_string()))?;
    let vflag_dp = receiver::find_vflag_dp(args.vflag_dp.as_deref())?;
    // On real hardware, a bad --link-counters is refused before anything starts.
    let counter_links = if args.lab { Vec::new() } else { link_counters::choose(&args.link_counters, &args.links)? };
    if args.lab {
        cli_exit::require_root("soak --lab", "it brings the lab up and flaps its links")?;
    }
    let claim = take_claim(args, spec)?;
    // Real hardware: verify's checklist must pass before --out or anything else is touched.
    let pre = preflight::run(args)?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating --out {}", args.out.display()))?;
    outputs::clear_previous(&args.out);
    let reserved = Reserved::new(&args.out, args.junit.as_deref())?;
    let metrics =
        args.metrics.as_deref().map(|p| MetricsFile::create(p, &args.out)).transpose().map_err(anyhow::Error::msg)?;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).context("installing signal handlers")?;
    }
    let files = Files::new(&args.out, args.soak_generates(), args.traffic_cmd.is_some(), args.junit.as_deref());
    let vf = args.vf.then(|| VfSpec::new(spec));
    let (lab_guard, flapper) = lab_and_flapper(args, spec, vf.as_ref())?;
    let link_names: Vec<String> = (0..n_links).map(|l| flapper.name(l)).collect();
    let mut run = Prepared {
        link_watch: None,
        nic: None,
        lag_model: None,
        flapper,
        _lab_guard: lab_guard,
        reserved: Some(reserved),
        claim,
        pre,
        files,
        schedule,
        seed,
        vflag_dp,
        vf,
        counter_links,
        link_names,
        // A VF has no members: the links' split comes from the host links' counters.
        members: if args.lab && !args.vf { spec.links.iter().map(|(h, _)| h.clone()).collect() } else { Vec::new() },
        stop,
        metrics,
    };
    start_watchers(args, spec, &mut run)?;
    Ok(run)
}

/// One soak per lab or DUT: taken before anything (even --out) is touched.
fn take_claim(args: &SoakArgs, spec: &LabSpec) -> Result<Claim> {
    let (key, what) = if args.lab {
        claim::lab(&spec.ns)
    } else {
        claim::dut(&crate::soak::words::split("--dut-args", args.dut_args.as_deref().unwrap_or_default())?)
    };
    Claim::take(&claim::run_dir(), &key, &what, "soak")
}

/// The lab up (only if it is not: a `LabGuard` takes down what the soak brought up) and its
/// flapper; on real hardware the operator's commands.
fn lab_and_flapper(
    args: &SoakArgs,
    spec: &LabSpec,
    vf: Option<&VfSpec>,
) -> Result<(Option<LabGuard>, Box<dyn Flapper>)> {
    if !args.lab {
        let flapper = CmdFlapper::new(args.links.clone(), args.flap_templates()?, args.flap_kind)?;
        return Ok((None, Box::new(flapper)));
    }
    let made = match vf {
        Some(v) => !lab::vf::status(&mut SystemRunner, spec, v)?.complete(),
        None => !lab::status(&mut SystemRunner, spec)?.complete(),
    };
    if made {
        let done = match vf {
            Some(v) => lab::vf::up(&mut SystemRunner, spec, v)?,
            None => lab::up(&mut SystemRunner, spec)?,
        };
        println!("lab up: namespace {}, {} command(s)", spec.ns, done.len());
    } else {
        println!("lab already up: namespace {} (left up afterwards)", spec.ns);
    }
    let guard = LabGuard { spec: spec.clone(), vf: vf.cloned(), teardown: made && !args.keep };
    Ok((Some(guard), Box::new(LabFlapper::new(spec.clone(), args.flap_kind))))
}

/// The lab's LAG model (it remaps on every carrier change while the soak runs), the NIC's own
/// state sampled into nic.jsonl, and the links' counters into links.jsonl.
fn start_watchers(args: &SoakArgs, spec: &LabSpec, run: &mut Prepared) -> Result<()> {
    run.lag_model = run.vf.as_ref().map(|v| LagModel::start(spec, v)).transpose()?;
    run.pre.lab_is_up(args, spec, run.vf.as_ref());
    if let Some(v) = &run.vf {
        println!(
            "LAG model: {} -> {} (hash over {}), debugfs {}",
            v.dut_iface(),
            v.rep,
            spec.links.iter().map(|l| l.0.as_str()).collect::<Vec<_>>().join("+"),
            v.debugfs_root().display()
        );
    }
    let nic = nic_watch::start(args, spec, run.vf.as_ref(), &args.out);
    run.files.nic = nic.file.clone();
    run.nic = Some(nic);
    // The lab's host links are where its bond receives, as the PFs are on real VF-LAG.
    if args.lab {
        let host_links: Vec<String> = spec.links.iter().map(|(h, _)| h.clone()).collect();
        run.counter_links = link_counters::choose(&[], &host_links)?;
    }
    if !run.counter_links.is_empty() {
        let out = outputs::path(&args.out, outputs::LINKS);
        let names: Vec<String> =
            run.counter_links.iter().map(|l| format!("{} ({})", l.name, l.source.describe())).collect();
        println!("link counters: {} -> {out}", names.join(", "));
        run.link_watch = Some(LinkWatch::start(run.counter_links.clone(), Path::new(&out))?);
        run.files.links = Some(out);
    }
    Ok(())
}
