//! `vflag-ctl sweep`: a matrix of soaks in one command. Each cell (a bond, hash, flap kind,
//! link choice, flow count and rate) is one `vflag-ctl soak`, run as a child in a directory of
//! its own, one after the other; every other soak option is passed to each cell as it is. The
//! whole matrix is checked before the first cell starts (a bad value exits 2; a cell the soak
//! would refuse for its combination is left out and listed as not applicable). On the lab each
//! soak brings the lab up with its cell's bond and takes it down; on real hardware the host's
//! VF-LAG is brought to each cell's bond (`host.rs`) and put back afterwards. A failed or
//! erred cell does not stop the sweep; Ctrl-C stops the running cell (which writes its report)
//! and the rest are not run.

mod host;
mod matrix;
mod report;
mod run;

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use clap::Args;
use cli_exit::BadUsage;

use crate::claim::{self, Claim};
use crate::soak::SoakArgs;
use matrix::{Cell, Given, MatrixFile};
use report::{CellReport, NotApplicable, SweepReport};

#[derive(Debug, Args)]
pub struct SweepArgs {
    /// The matrix from a TOML file: the axes below (a value or a list), `lab = true`,
    /// `soak_args = [...]` and `up_args = [...]` (one argv element each). An axis given as an
    /// option replaces the file's; soak options after -- follow the file's.
    #[arg(long, value_name = "FILE")]
    pub matrix: Option<PathBuf>,
    /// Every cell on the emulated lab (each cell's soak brings it up and takes it down).
    #[arg(long)]
    pub lab: bool,
    /// Bond modes: active-backup, xor, lacp [default: lacp].
    #[arg(long, value_delimiter = ',', value_name = "MODES", help_heading = "Axes (comma-separated)")]
    pub bond: Vec<String>,
    /// Transmit hashes of xor and lacp: l2, l23, l34 [default: l34]. The lab's bonds take it;
    /// on real hardware `vflag-ctl up --xmit-hash-policy` sets it on the host's bond.
    #[arg(long, value_delimiter = ',', value_name = "HASHES", help_heading = "Axes (comma-separated)")]
    pub bond_hash: Vec<String>,
    /// Flap kinds: carrier, admin, lacp [default: carrier].
    #[arg(long, value_delimiter = ',', value_name = "KINDS", help_heading = "Axes (comma-separated)")]
    pub flap_kind: Vec<String>,
    /// Which link each flap takes: alternate, random, both, or an index [default: alternate].
    #[arg(long, value_delimiter = ',', value_name = "CHOICES", help_heading = "Axes (comma-separated)")]
    pub link: Vec<String>,
    /// Flows [default: 16].
    #[arg(long, value_delimiter = ',', value_name = "COUNTS", help_heading = "Axes (comma-separated)")]
    pub flows: Vec<String>,
    /// Generator rates, frames/s (20000, 50k, 0.1M) [default: 20000].
    #[arg(long, value_delimiter = ',', value_name = "RATES", help_heading = "Axes (comma-separated)")]
    pub rate: Vec<String>,
    /// Where sweep.json, sweep.md, junit.xml and a directory per cell (cells/NN-NAME) go.
    #[arg(long, default_value = "vflag-sweep")]
    pub out: PathBuf,
    /// Real hardware: more `vflag-ctl up` options for each cell's bring-up, as one string
    /// (e.g. "--num-vfs 8 --order switchdev-first"); the host, bond, VF and MAC come from the
    /// soak's options (--pfs, --sysfs-root, --bond-name, --dut-args).
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    pub up_args: Option<String>,
    /// The soak options every cell gets, after `--` (e.g. -- --flaps 2 --interval 3s).
    #[arg(last = true, value_name = "SOAK OPTIONS")]
    pub soak_args: Vec<String>,
}

/// The matrix, checked: what runs, on what, with which options.
struct Plan {
    lab: bool,
    pass: Vec<String>,
    up_args: Vec<String>,
    axes: matrix::Axes,
    /// Each cell with its soak's options as parsed.
    cells: Vec<(Cell, SoakArgs)>,
    not_applicable: Vec<NotApplicable>,
    /// The lab's (or the DUT's) claim key, for the sweep's own.
    claim: (String, String),
}

fn plan(a: &SweepArgs) -> Result<Plan> {
    let file = a.matrix.as_deref().map(MatrixFile::read).transpose()?.unwrap_or_default();
    let from_file = a.matrix.as_deref().map(matrix::file_key);
    let given = Given {
        bond: a.bond.clone(),
        bond_hash: a.bond_hash.clone(),
        flap_kind: a.flap_kind.clone(),
        link: a.link.clone(),
        flows: a.flows.clone(),
        rate: a.rate.clone(),
    };
    // Each source checked on its own, so a bad value is named where it was given.
    if let Some(f) = &from_file {
        file.axes.axes(f)?;
    }
    given.axes(&matrix::option_name)?;
    let axes = given.over(file.axes.clone()).axes(&matrix::option_name)?;
    let lab = a.lab || file.lab;
    let pass: Vec<String> = file.soak_args.iter().chain(&a.soak_args).cloned().collect();
    matrix::refuse_set_by_sweep(&pass)?;
    let up_args = match &a.up_args {
        Some(s) => crate::soak::split_words("--up-args", s).map_err(|e| BadUsage(e.to_string()))?,
        None => file.up_args.clone(),
    };
    if lab && !up_args.is_empty() {
        return Err(BadUsage("--up-args is for real hardware; the lab's bonds come from the cells".into()).into());
    }
    let all = axes.cells();
    let mut cells: Vec<(Cell, SoakArgs)> = Vec::new();
    let mut not_applicable = Vec::new();
    let mut claim = (String::new(), String::new());
    for c in all {
        let argv = c.argv(lab, &pass, &a.out.join("cells").join(&c.name));
        let named = |e: String| BadUsage(format!("cell {} ({}): {e}", c.number, c.name));
        let (args, spec) = crate::soak::parse_argv(&argv).map_err(named)?;
        if let Err(e) = args.bond_fit() {
            not_applicable.push(NotApplicable {
                name: c.name.clone(),
                params: c.params.clone(),
                reason: e.to_string(),
            });
            continue;
        }
        let n_links = if args.lab { spec.links.len() } else { args.links.len().max(1) };
        args.validate(n_links, 1).map_err(|e| named(e.to_string()))?;
        claim = if args.lab {
            claim::lab(&spec.ns)
        } else {
            claim::dut(&crate::soak::split_words("--dut-args", args.dut_args.as_deref().unwrap_or_default())?)
        };
        cells.push((Cell { number: cells.len() + 1, ..c }, args));
    }
    if cells.is_empty() {
        let why: Vec<String> = not_applicable.iter().map(|n| format!("{}: {}", n.name, n.reason)).collect();
        return Err(BadUsage(format!("no cell of the matrix can run ({})", why.join("; "))).into());
    }
    Ok(Plan { lab, pass, up_args, axes, cells, not_applicable, claim })
}

/// Real hardware: how the host is changed, and how it was.
struct Hardware {
    cmds: host::HostCmds,
    before: host::State,
}

fn hardware(p: &Plan) -> Result<Option<Hardware>> {
    if p.lab {
        return Ok(None);
    }
    let args = &p.cells[0].1;
    let words = crate::soak::split_words("--dut-args", args.dut_args.as_deref().unwrap_or_default())?;
    let setup = args.nic.setup(&words);
    let cmds = host::HostCmds::new(args, &setup, &p.up_args)?;
    // `up`'s own parser checks --up-args now, not at the first cell.
    let probe = cmds.up(&host::Conf::new(p.cells[0].0.params.bond, p.cells[0].0.params.bond_hash));
    crate::mlx5::cli::parse_argv(&probe).map_err(|e| BadUsage(format!("--up-args: {e}")))?;
    cli_exit::require_root("sweep", "it brings the host's VF-LAG to each cell's bond with vflag-ctl up and down")?;
    let before = args.nic.with_env(|env| host::read(env, args, &setup)).context("reading the host before the sweep")?;
    Ok(Some(Hardware { cmds, before }))
}

pub fn sweep(a: &SweepArgs) -> Result<u8> {
    let p = plan(a)?;
    let hw = hardware(&p)?;
    if p.lab {
        cli_exit::require_root("sweep --lab", "each cell's soak brings the lab up and flaps its links")?;
    }
    let exe = std::env::current_exe().context("finding vflag-ctl itself")?;
    // One sweep per lab or DUT; each cell's soak then takes the soak's own claim.
    let (key, what) = &p.claim;
    let _claim = Claim::take(&claim::run_dir(), &format!("sweep-{key}"), what, "sweep")?;
    std::fs::create_dir_all(a.out.join("cells")).with_context(|| format!("creating --out {}", a.out.display()))?;
    let n = p.cells.len();
    let dirs: Vec<PathBuf> = p.cells.iter().map(|(c, _)| c.dir(&a.out, n)).collect();
    let mut r = SweepReport {
        schema: report::SCHEMA,
        complete: false,
        interrupted: false,
        started_unix_s: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64()),
        place: if p.lab { "lab" } else { "hardware" },
        axes: p.axes.clone(),
        soak_args: p.pass.clone(),
        cells: p.cells.iter().zip(&dirs).map(|((c, _), d)| CellReport::not_run(c, d)).collect(),
        not_applicable: p.not_applicable.clone(),
        host_before: hw.as_ref().map(|h| h.before.describe()),
        host_restore: None,
        environment: None,
    };
    // Written before the first cell: an --out that cannot take them stops the sweep now.
    r.write(&a.out)?;
    let mut signals = run::Signals::install()?;
    println!(
        "sweep: {n} cell(s){}, reports in {}",
        if p.not_applicable.is_empty() {
            String::new()
        } else {
            format!(" ({} not applicable)", p.not_applicable.len())
        },
        a.out.display()
    );
    let mut host_now = hw.as_ref().map(|h| h.before.clone());
    for (i, ((cell, _), dir)) in p.cells.iter().zip(&dirs).enumerate() {
        if signals.check() {
            break;
        }
        println!("[{}/{n}] {}: running, its output in {}", i + 1, cell.name, dir.join(run::CELL_LOG).display());
        let prepared = match (&hw, &mut host_now) {
            (Some(h), Some(now)) => bring_host(&exe, &h.cmds, now, cell, dir),
            _ => Ok(()),
        };
        let finished = match prepared {
            // A signal while the host was being set up: the cell is not started.
            Ok(()) if signals.check() => break,
            Ok(()) => run::cell(&exe, &cell.argv(p.lab, &p.pass, dir), dir, &mut signals),
            Err(e) => run::Finished {
                exit_code: None,
                outcome: run::Outcome::Error,
                headline: None,
                env: None,
                environment: None,
                error: Some(e),
                time_s: 0.0,
            },
        };
        r.cells[i].set(&finished);
        if r.environment.is_none() {
            r.environment = finished.environment.clone();
        }
        println!("{}", report::progress_line(i + 1, n, &r.cells[i]));
        r.interrupted = signals.check();
        r.write(&a.out)?;
    }
    r.interrupted = signals.check();
    r.complete = !r.interrupted && r.count(run::Outcome::NotRun) == 0;
    if let (Some(h), Some(now)) = (&hw, &host_now) {
        r.host_restore = Some(restore_host(&exe, &h.cmds, now, &h.before, &a.out));
    }
    r.write(&a.out)?;
    println!(
        "sweep: {} pass, {} fail, {} error, {} not run{}; {}",
        r.count(run::Outcome::Pass),
        r.count(run::Outcome::Fail),
        r.count(run::Outcome::Error),
        r.count(run::Outcome::NotRun),
        if r.interrupted { " (interrupted)" } else { "" },
        a.out.join(report::TABLE).display()
    );
    Ok(r.exit_code())
}

/// Brings the host to the cell's bond; what it is afterwards is in `now`.
fn bring_host(
    exe: &std::path::Path,
    cmds: &host::HostCmds,
    now: &mut host::State,
    cell: &Cell,
    dir: &std::path::Path,
) -> Result<(), String> {
    let want = host::Conf::new(cell.params.bond, cell.params.bond_hash);
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    for (i, step) in cmds.to(now, &want).iter().enumerate() {
        println!("  host: vflag-ctl {}", step.join(" "));
        if let Err(e) = run::host_step(exe, step, &dir.join(format!("host-{}-{}.log", i + 1, step[0]))) {
            *now = host::State::Other(format!("unknown after a failed step: {e}"));
            return Err(format!("bringing the host to {}: {e}", want.describe()));
        }
    }
    *now = host::State::Up(want);
    Ok(())
}

/// Puts the host back as it was; what that did, in words.
fn restore_host(
    exe: &std::path::Path,
    cmds: &host::HostCmds,
    now: &host::State,
    before: &host::State,
    out: &std::path::Path,
) -> String {
    let steps = cmds.restore(now, before);
    if steps.is_empty() {
        return format!("left as it was ({})", before.describe());
    }
    for (i, step) in steps.iter().enumerate() {
        println!("  host: vflag-ctl {}", step.join(" "));
        if let Err(e) = run::host_step(exe, step, &out.join(format!("host-restore-{}-{}.log", i + 1, step[0]))) {
            eprintln!("vflag-ctl: warning: putting the host back: {e}");
            return format!("putting it back failed: {e}");
        }
    }
    match before {
        host::State::Up(_) => format!("put back ({})", before.describe()),
        _ => format!("taken down (it was: {})", before.describe()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(a: &[&str]) -> SweepArgs {
        #[derive(Parser)]
        struct T {
            #[command(flatten)]
            s: SweepArgs,
        }
        T::try_parse_from(std::iter::once("t").chain(a.iter().copied())).unwrap().s
    }

    fn err(a: &[&str]) -> String {
        plan(&args(a)).err().unwrap().to_string()
    }

    #[test]
    fn cells_the_soak_refuses_for_their_combination_are_left_out_and_the_rest_renumbered() {
        let p =
            plan(&args(&["--lab", "--bond", "xor,lacp", "--flap-kind", "lacp,carrier", "--", "--flaps", "1"])).unwrap();
        let names: Vec<String> = p.cells.iter().map(|(c, _)| format!("{}:{}", c.number, c.name)).collect();
        assert_eq!(
            names,
            ["1:xor-l34-carrier-alternate-16f", "2:lacp-l34-lacp-alternate-16f", "3:lacp-l34-carrier-alternate-16f"]
        );
        assert_eq!(p.not_applicable.len(), 1);
        assert_eq!(p.not_applicable[0].name, "xor-l34-lacp-alternate-16f");
        assert_eq!(
            p.not_applicable[0].reason,
            "--flap-kind lacp needs --bond lacp: with --bond xor no LACPDUs flow to drop"
        );
        assert_eq!(p.claim.0, "lab-sw");
        // Each cell's soak parsed as `vflag-ctl soak` parses it.
        assert_eq!(p.cells[1].1.flap_kind, crate::soak::FlapKind::Lacp);
        assert_eq!(p.cells[1].1.flaps, 1);
    }

    #[test]
    fn a_cell_the_soak_would_refuse_stops_the_sweep_before_it_starts_naming_the_cell() {
        assert_eq!(
            err(&["--lab", "--bond", "xor", "--", "--interval", "1s"]),
            "cell 1 (xor-l34-carrier-alternate-16f): --interval 1s is too short for --down-ms 500: it must exceed the down time by at least 1 s"
        );
        assert!(err(&["--lab", "--", "--flapz", "2"])
            .starts_with("cell 1 (lacp-l34-carrier-alternate-16f): error: unexpected argument '--flapz'"));
        assert_eq!(
            err(&["--lab", "--", "--rate", "5"]),
            "--rate after --: it is an axis: give it to the sweep (--rate A,B)"
        );
        assert!(err(&["--lab", "--bond", "xor", "--flap-kind", "lacp"])
            .starts_with("no cell of the matrix can run (xor-l34-lacp"));
        assert_eq!(
            err(&["--lab", "--up-args", "--num-vfs 8"]),
            "--up-args is for real hardware; the lab's bonds come from the cells"
        );
        assert!(err(&["--matrix", "/nonexistent/m.toml"]).starts_with("--matrix /nonexistent/m.toml: "));
    }

    #[test]
    fn a_matrix_file_gives_the_axes_and_the_soak_options() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("m.toml");
        std::fs::write(
            &m,
            "lab = true\nbond = [\"active-backup\", \"xor\"]\nflows = 32\nsoak_args = [\"--flaps\", \"2\"]\n",
        )
        .unwrap();
        let p =
            plan(&args(&["--matrix", m.to_str().unwrap(), "--flap-kind", "carrier,admin", "--", "--down-ms", "400"]))
                .unwrap();
        assert!(p.lab);
        assert_eq!(p.pass, ["--flaps", "2", "--down-ms", "400"]);
        assert_eq!(p.cells.len(), 4);
        assert_eq!(p.cells[3].0.name, "xor-l34-admin-alternate-32f");
        assert_eq!((p.cells[3].1.flaps, p.cells[3].1.down_ms), (2, 400));
        std::fs::write(&m, "bond = \"xor\"\nflows = 0\n").unwrap();
        assert_eq!(
            err(&["--matrix", m.to_str().unwrap()]),
            format!("--matrix {}: flows '0': expected a number of flows, 1 to 65535", m.display())
        );
    }

    #[test]
    fn on_real_hardware_the_cells_soak_gets_no_hash_and_up_args_are_checked_by_ups_parser() {
        let hw = [
            "--bond",
            "xor,lacp",
            "--bond-hash",
            "l23",
            "--up-args",
            "--num-vfs 8",
            "--flap-kind",
            "admin",
            "--",
            "--dut-args",
            "-a 0000:01:00.2 --mac 52:54:00:00:00:01",
            "--links",
            "enp1s0f0np0,enp1s0f1np1",
        ];
        let p = plan(&args(&hw)).unwrap();
        assert!(!p.lab);
        assert_eq!(p.up_args, ["--num-vfs", "8"]);
        let argv = p.cells[0].0.argv(false, &p.pass, std::path::Path::new("d"));
        assert!(!argv.contains(&"--bond-hash".to_string()) && !argv.contains(&"--lab".to_string()), "{argv:?}");
        assert_eq!(p.claim.0, "dut-0000:01:00.2");
        let args = &p.cells[0].1;
        let setup = args.nic.setup(&crate::soak::split_words("--dut-args", args.dut_args.as_deref().unwrap()).unwrap());
        let cmds = host::HostCmds::new(args, &setup, &p.up_args).unwrap();
        let up = cmds.up(&host::Conf::new(p.cells[0].0.params.bond, p.cells[0].0.params.bond_hash));
        assert_eq!(
            up.join(" "),
            "up --mode xor --xmit-hash-policy layer2+3 --bond vf-bond --block 22 --vf 0000:01:00.2 \
             --vf-mac 52:54:00:00:00:01 --num-vfs 8"
        );
        assert!(crate::mlx5::cli::parse_argv(&up).is_ok());
        let too_many = host::HostCmds::new(args, &setup, &["--num-vfs".into(), "99".into()]).unwrap();
        let bad = too_many.up(&host::Conf::new(vflag_contract::value::BondMode::Xor, None));
        assert!(crate::mlx5::cli::parse_argv(&bad).unwrap_err().contains("at most 64 VFs per PF"), "{bad:?}");
    }

    /// The host steps as children: a stand-in vflag-ctl that logs its argv (and fails `up
    /// --mode lacp`), so the state the sweep keeps and the logs it leaves are those of real runs.
    #[test]
    fn host_steps_run_in_order_and_a_failed_one_errs_the_cell_and_leaves_the_state_unknown() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let calls = dir.path().join("calls");
        let exe = dir.path().join("vflag-ctl");
        std::fs::write(
            &exe,
            format!(
                "#!/bin/sh\necho \"$*\" >> {}\ncase \"$*\" in 'up --mode lacp'*) echo 'vflag-ctl: error: step 9 failed' >&2; exit 1;; esac\n",
                calls.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let p = plan(&args(&[
            "--bond",
            "xor,lacp",
            "--flap-kind",
            "admin",
            "--",
            "--dut-args",
            "-a 0000:01:00.2",
            "--links",
            "enp1s0f0np0,enp1s0f1np1",
        ]))
        .unwrap();
        let a = &p.cells[0].1;
        let setup = a.nic.setup(&["-a".to_string(), "0000:01:00.2".to_string()]);
        let cmds = host::HostCmds::new(a, &setup, &[]).unwrap();
        let mut now = host::State::Down;
        let cell_dir = dir.path().join("c1");
        bring_host(&exe, &cmds, &mut now, &p.cells[0].0, &cell_dir).unwrap();
        assert_eq!(
            now,
            host::State::Up(host::Conf::new(vflag_contract::value::BondMode::Xor, p.cells[0].0.params.bond_hash))
        );
        let e = bring_host(&exe, &cmds, &mut now, &p.cells[1].0, &dir.path().join("c2")).unwrap_err();
        assert!(e.starts_with("bringing the host to 802.3ad layer3+4: `vflag-ctl up --mode lacp"), "{e}");
        assert!(e.ends_with("failed (exit 1): vflag-ctl: error: step 9 failed"), "{e}");
        assert!(matches!(now, host::State::Other(_)));
        let said = restore_host(&exe, &cmds, &now, &host::State::Down, dir.path());
        assert_eq!(said, "taken down (it was: VF-LAG down)");
        let calls = std::fs::read_to_string(&calls).unwrap();
        let steps: Vec<&str> = calls.lines().map(|l| l.split(" --").next().unwrap()).collect();
        assert_eq!(steps, ["up", "down", "up", "down"], "{calls}");
        assert!(cell_dir.join("host-1-up.log").is_file() && dir.path().join("host-restore-1-down.log").is_file());
    }
}
