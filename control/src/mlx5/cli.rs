//! The mlx5 commands of `vflag-ctl`: discover, plan, up, down, verify, counters. Options are
//! checked by clap's parsers (a bad value is one line, exit 2); the host is read through one
//! [`Env`], with real processes and real sysfs unless the roots point elsewhere.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::names::ifname;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use outfile::OutFile;
use serde::Serialize;

use super::apply::{self, Event, StepFailed};
use super::check::Want;
use super::discover::{self, Host, Needs, FOR_COUNTERS, FOR_SETUP, FOR_TEARDOWN};
use super::plan::{self, Order, Plan, Setup};
use super::sysfs::SysFs;
use super::{counters, verify, Env};
use crate::runner::{Runner, SystemRunner};
use cli_exit::BadUsage;
use vflag_contract::value::BondMode;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// mlx5 VF-LAG: find the card's two ports and show their SR-IOV, eswitch, VFs,
    /// representors, bond and LAG state.
    Discover {
        #[command(flatten)]
        host: HostArgs,
        /// The bond to report when the PFs are in none.
        #[arg(long, default_value = "vf-bond")]
        bond: String,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// mlx5 VF-LAG: print the commands that bring it up on this host, in order.
    Plan(Report),
    /// mlx5 VF-LAG: bring it up, step by step, each checked before (in place: skipped) and after.
    Up {
        #[command(flatten)]
        host: HostArgs,
        #[command(flatten)]
        setup: SetupArgs,
        /// Print the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// mlx5 VF-LAG: take it down in reverse order (PFs out of the bond, legacy mode, no VFs).
    Down {
        #[command(flatten)]
        host: HostArgs,
        #[command(flatten)]
        setup: SetupArgs,
        /// Keep the VFs (bound to mlx5_core again) instead of setting sriov_numvfs to 0.
        #[arg(long)]
        keep_vfs: bool,
        /// Print the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// mlx5 VF-LAG: check it is up (exit 0), or say what is not (exit 3).
    Verify {
        #[command(flatten)]
        report: Report,
        /// Also write the checklist as JUnit XML (for Jenkins, GitLab): a testcase per item; a
        /// required item that fails or is unknown is a failure, an (info) item not passing is skipped.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
    },
    /// mlx5 VF-LAG: the PFs' physical-port counters and bond member state, per link.
    Counters {
        #[command(flatten)]
        host: HostArgs,
        /// Sample every --interval until Ctrl-C (or --count samples); print rates and shares.
        #[arg(long)]
        watch: bool,
        /// Time between samples (1s, 500ms), 10ms to 1h.
        #[arg(long, default_value = "1s", value_parser = parse_interval)]
        interval: Duration,
        /// Stop after this many samples (with --watch; 0: until Ctrl-C).
        #[arg(long, default_value_t = 0)]
        count: u64,
        /// Append each sample as a JSON line (schema vflag-ctl.counters.v1) to this file.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// The options of the commands that only report: plan and verify.
#[derive(Debug, Args)]
pub struct Report {
    #[command(flatten)]
    host: HostArgs,
    #[command(flatten)]
    setup: SetupArgs,
    /// As JSON.
    #[arg(long)]
    json: bool,
}

/// Where the host is read from.
#[derive(Debug, Clone, Args)]
pub struct HostArgs {
    /// The sysfs to read and write (a fixture tree in tests).
    #[arg(long, default_value = "/sys", value_name = "DIR")]
    pub sysfs_root: PathBuf,
    /// debugfs [default: SYSFS_ROOT/kernel/debug].
    #[arg(long, value_name = "DIR")]
    pub debugfs_root: Option<PathBuf>,
    /// Read the kernel log from this file instead of running dmesg.
    #[arg(long, value_name = "FILE")]
    pub dmesg_file: Option<PathBuf>,
    /// The two ports (PF netdevs) [default: the two ports of the one dual-port mlx5 card].
    #[arg(long, value_parser = parse_pfs, value_name = "PF0,PF1")]
    pub pfs: Option<PfPair>,
}

impl HostArgs {
    /// The PFs named with --pfs.
    pub fn pf_names(&self) -> Option<&[String]> {
        self.pfs.as_ref().map(|p| p.0.as_slice())
    }

    /// debugfs, as given or under the sysfs root.
    pub fn debugfs(&self) -> PathBuf {
        self.debugfs_root.clone().unwrap_or_else(|| self.sysfs_root.join("kernel/debug"))
    }
}

/// What to set up (and what verify expects).
#[derive(Debug, Clone, Args)]
pub struct SetupArgs {
    /// The bond's name.
    #[arg(long, default_value = "vf-bond", value_parser = ifname)]
    bond: String,
    /// Bond mode [default: 802.3ad; verify: any of the three].
    #[arg(long, value_enum)]
    mode: Option<BondMode>,
    /// The bond's xmit_hash_policy [default: the kernel's, layer2].
    #[arg(long, value_parser = ["layer2", "layer2+3", "layer3+4", "encap2+3", "encap3+4", "vlan+srcmac"])]
    xmit_hash_policy: Option<String>,
    /// The bond's MII link monitoring interval, ms [default: the kernel's, 100].
    #[arg(long)]
    miimon: Option<u32>,
    /// VFs per PF.
    #[arg(long, default_value_t = 4, value_parser = parse_num_vfs)]
    num_vfs: u32,
    /// The VF whose traffic the rule steers, by PCI address [default: VF 0 of the first PF].
    #[arg(long, value_parser = parse_pci, value_name = "PCI")]
    vf: Option<String>,
    /// The MAC the rule matches: the one vflag-dp sets on the VF (--mac).
    #[arg(long, default_value = "52:54:00:00:00:01", value_parser = parse_mac, value_name = "MAC")]
    vf_mac: String,
    /// The VF's representor [default: found by phys_port_name, or named as udev does].
    #[arg(long, value_parser = ifname, value_name = "NETDEV")]
    representor: Option<String>,
    /// The shared tc block of the bond's and PFs' ingress.
    #[arg(long, default_value_t = 22, value_parser = clap::value_parser!(u32).range(1..))]
    block: u32,
    /// Also redirect the VF's traffic from its representor to the bond (src_mac rule).
    #[arg(long)]
    reverse_rule: bool,
    /// auto (VFs first; switchdev first if the card refuses switchdev with VFs), vfs-first
    /// (the seed, ConnectX-5/6 Dx), switchdev-first (ConnectX-6 Lx).
    #[arg(long, value_enum, default_value = "auto")]
    order: Order,
    /// How long up waits for the LAG to become active after enslaving the PFs.
    #[arg(long, default_value = "5s", value_parser = vflag_contract::value::duration)]
    lag_timeout: Duration,
}

/// A sampling interval: 0 would spin, hours would make a Ctrl-C wait that long.
fn parse_interval(s: &str) -> Result<Duration, String> {
    let d = vflag_contract::value::duration(s)?;
    if !(Duration::from_millis(10)..=Duration::from_secs(3600)).contains(&d) {
        return Err(format!("'{s}' is outside 10ms..1h"));
    }
    Ok(d)
}

fn parse_mac(s: &str) -> Result<String, String> {
    let bytes: Vec<Option<u8>> =
        s.split(':').map(|b| (b.len() == 2).then(|| u8::from_str_radix(b, 16).ok()).flatten()).collect();
    if bytes.len() != 6 || bytes.iter().any(Option::is_none) {
        return Err(format!("'{s}' is not a MAC address (six hex bytes, e.g. 52:54:00:00:00:01)"));
    }
    if bytes[0].unwrap_or(0) & 1 != 0 {
        return Err(format!("'{s}' is a multicast address; a VF's MAC is unicast"));
    }
    Ok(s.to_lowercase())
}

fn parse_pci(s: &str) -> Result<String, String> {
    super::pci::Addr::parse(s)
        .map(|a| a.to_string())
        .ok_or_else(|| format!("'{s}' is not a PCI address (DDDD:BB:DD.F, e.g. 0000:01:00.2)"))
}

fn parse_num_vfs(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(n @ 1..=64) => Ok(n),
        Ok(n) if n > 64 => Err(format!(
            "{n}: VF-LAG works with at most 64 VFs per PF (kernel: \"PF is configured with more than 64 VFs\")"
        )),
        _ => Err(format!("'{s}' is not a number of VFs (1-64)")),
    }
}

/// `--pfs`: exactly two interface names.
#[derive(Debug, Clone)]
pub struct PfPair(pub Vec<String>);

fn parse_pfs(s: &str) -> Result<PfPair, String> {
    let names: Vec<&str> = s.split(',').collect();
    if names.len() != 2 {
        return Err(format!("'{s}': give the two ports, PF0,PF1 (e.g. enp1s0f0np0,enp1s0f1np1)"));
    }
    names.into_iter().map(ifname).collect::<Result<_, _>>().map(PfPair)
}

impl SetupArgs {
    pub(crate) fn setup(&self, keep_vfs: bool) -> Setup {
        Setup {
            bond: self.bond.clone(),
            mode: self.mode.unwrap_or(BondMode::Lacp),
            xmit_hash_policy: self.xmit_hash_policy.clone(),
            miimon: self.miimon,
            num_vfs: self.num_vfs,
            vf: self.vf.clone(),
            vf_mac: self.vf_mac.clone(),
            representor: self.representor.clone(),
            block: self.block,
            reverse_rule: self.reverse_rule,
            order: self.order,
            lag_timeout: self.lag_timeout,
            keep_vfs,
        }
    }
}

/// Runs `f` with the host of `args`: real processes, sysfs at the root given.
pub fn with_env<T>(args: &HostArgs, f: impl FnOnce(&mut Env) -> Result<T>) -> Result<T> {
    let sleep = |d: Duration| std::thread::sleep(d);
    let mut runner = SystemRunner;
    let mut env = Env {
        sys: SysFs::new(&args.sysfs_root),
        debugfs: SysFs::new(args.debugfs()),
        dmesg_file: args.dmesg_file.clone(),
        runner: &mut runner as &mut dyn Runner,
        sleep: &sleep,
    };
    f(&mut env)
}

fn host(env: &mut Env, args: &HostArgs, bond: &str, needs: Needs) -> Result<Host> {
    discover::discover(env, args.pf_names(), bond, needs)
}

/// Runs one mlx5 command; returns the exit code.
pub fn run(cmd: Command) -> Result<u8> {
    match cmd {
        Command::Discover { host: h, bond, json } => with_env(&h, |env| {
            let found = host(env, &h, &bond, FOR_SETUP)?;
            print!("{}", if json { serde_json::to_string_pretty(&found)? + "\n" } else { discover::render(&found) });
            Ok(0)
        }),
        Command::Plan(Report { host: h, setup, json }) => with_env(&h, |env| {
            let s = setup.setup(false);
            let found = host(env, &h, &s.bond, FOR_SETUP)?;
            let p = plan::up(&found, &s, &env.sys, s.order)?;
            print_plan(env, &p, s.order, json)?;
            Ok(0)
        }),
        Command::Up { host: h, setup, dry_run } => {
            let s = setup.setup(false);
            if !dry_run {
                cli_exit::require_root("up", "it writes sysfs, sets the eswitch mode and builds the bond")?;
            }
            with_env(&h, |env| bring(env, &h, &s, Way::Up, dry_run))
        }
        Command::Down { host: h, setup, keep_vfs, dry_run } => {
            let s = setup.setup(keep_vfs);
            if keep_vfs && s.order == Order::SwitchdevFirst {
                return Err(BadUsage(
                    "--keep-vfs with --order switchdev-first: that card leaves switchdev only without VFs".into(),
                )
                .into());
            }
            if !dry_run {
                cli_exit::require_root("down", "it takes the bond and the VF-LAG down")?;
            }
            with_env(&h, |env| bring(env, &h, &s, Way::Down, dry_run))
        }
        Command::Verify { report: Report { host: h, setup, json }, junit } => {
            // Before the host is read: an unwritable path is named at once.
            let out =
                junit.as_deref().map(|p| OutFile::reserve("--junit", p)).transpose().map_err(anyhow::Error::msg)?;
            with_env(&h, |env| {
                let s = setup.setup(false);
                let found = host(env, &h, &s.bond, FOR_TEARDOWN)?;
                let v = verify::verify(env, &found, &s, setup.mode)?;
                print!("{}", if json { serde_json::to_string_pretty(&v)? + "\n" } else { verify::render(&v) });
                if let Some(out) = out {
                    out.commit(verify::junit(&v).to_xml().as_bytes()).map_err(anyhow::Error::msg)?;
                }
                Ok(if v.pass { 0 } else { 3 })
            })
        }
        Command::Counters { host: h, watch, interval, count, out } => with_env(&h, |env| {
            let found = host(env, &h, "vf-bond", FOR_COUNTERS)?;
            counters_cmd(env, &found, watch, interval, count, out)
        }),
    }
}

#[derive(Serialize)]
struct PlanJson<'a> {
    schema: &'static str,
    title: &'a str,
    order: Order,
    steps: Vec<StepJson<'a>>,
}

#[derive(Serialize)]
struct StepJson<'a> {
    line: String,
    in_place: bool,
    want: &'a Want,
    hint: &'a str,
}

/// Prints the plan; the leading steps whose state is there are marked in place (later ones
/// are checked when `up` reaches them, after the steps before have run).
fn print_plan(env: &mut Env, p: &Plan, order: Order, json: bool) -> Result<()> {
    let mut in_place = Vec::new();
    let mut leading = true;
    for s in &p.steps {
        leading = leading && s.want.check(env)?.holds;
        in_place.push(leading);
    }
    if json {
        let steps = p
            .steps
            .iter()
            .zip(&in_place)
            .map(|(s, &in_place)| StepJson { line: s.line(), in_place, want: &s.want, hint: &s.hint })
            .collect();
        let j = PlanJson { schema: "vflag-ctl.plan.v1", title: &p.title, order, steps };
        println!("{}", serde_json::to_string_pretty(&j)?);
        return Ok(());
    }
    println!("# {}", p.title);
    if order == Order::Auto {
        println!("# order: VFs first; if switchdev is refused while VFs exist, up starts again switchdev-first");
    }
    for (s, done) in p.steps.iter().zip(&in_place) {
        println!("{}{}", if *done { "# in place: " } else { "" }, s.line());
    }
    if in_place.iter().all(|d| *d) {
        println!("# nothing to do: every step is in place");
    }
    Ok(())
}

/// How to undo: the same host and names, `down`.
fn rollback_hint(h: &HostArgs, s: &Setup) -> String {
    let mut cmd = String::from("vflag-ctl down");
    if h.sysfs_root != Path::new("/sys") {
        cmd += &format!(" --sysfs-root {}", h.sysfs_root.display());
    }
    if let Some(p) = &h.pfs {
        cmd += &format!(" --pfs {}", p.0.join(","));
    }
    cmd += &format!(" --bond {} --block {}", s.bond, s.block);
    if s.reverse_rule {
        cmd += " --reverse-rule";
    }
    format!("`{cmd}` (it undoes only what is in place)")
}

fn print_event(e: Event) {
    match e {
        Event::Done(s, _) => println!("+ {}", s.line()),
        Event::InPlace(s, now) => println!("= {}    (in place: {now})", s.line()),
        Event::Note(n) => println!("note: {n}"),
    }
}

/// Whether `e` is the eswitch refusing a mode change while the PF has VFs (ConnectX-6 Lx).
fn refused_with_vfs(e: &anyhow::Error, env: &Env) -> bool {
    let Some(f) = e.downcast_ref::<StepFailed>() else { return false };
    let Want::Eswitch { pci, .. } = &f.want else { return false };
    env.sys.read_u64(&format!("bus/pci/devices/{pci}/sriov_numvfs")).is_some_and(|n| n > 0)
}

/// `plan::up` or `plan::down`.
type Planner = fn(&Host, &Setup, &SysFs, Order) -> Result<Plan>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    Up,
    Down,
}

/// Plans and applies `up` or `down`. With --order auto, when the eswitch refuses a mode
/// change while the PF has VFs (ConnectX-6 Lx), it reads the host again and goes on in the
/// switchdev-first order, which handles the VFs first.
fn bring(env: &mut Env, h: &HostArgs, s: &Setup, way: Way, dry_run: bool) -> Result<u8> {
    let (needs, make): (Needs, Planner) = match way {
        Way::Up => (FOR_SETUP, plan::up),
        Way::Down => (FOR_TEARDOWN, plan::down),
    };
    let found = host(env, h, &s.bond, needs)?;
    let p = make(&found, s, &env.sys, s.order)?;
    if dry_run {
        print_plan(env, &p, s.order, false)?;
        return Ok(0);
    }
    println!("{}", p.title);
    let rollback = match way {
        Way::Up => rollback_hint(h, s),
        Way::Down => "run `vflag-ctl down` again once the cause is fixed".to_string(),
    };
    let done = match apply::apply(env, &p, &rollback, &mut print_event) {
        Ok(d) => d,
        Err(e) if s.order == Order::Auto && !s.keep_vfs && refused_with_vfs(&e, env) => {
            println!(
                "note: the eswitch refused a mode change while VFs exist (ConnectX-6 Lx does): going on, VFs first"
            );
            for line in e.to_string().lines() {
                println!("note:   {line}");
            }
            let now = host(env, h, &s.bond, needs)?;
            apply::apply(env, &make(&now, s, &env.sys, Order::SwitchdevFirst)?, &rollback, &mut print_event)?
        }
        Err(e) => return Err(e),
    };
    match way {
        Way::Up => summary("up", &done, "check it with `vflag-ctl verify`"),
        Way::Down => summary("down", &done, "the PFs are out of the bond, in legacy mode"),
    }
    Ok(0)
}

fn summary(what: &str, done: &apply::Applied, then: &str) {
    let total = done.ran.len() + done.in_place;
    if done.ran.is_empty() {
        println!("VF-LAG {what}: nothing to do, all {total} steps were in place");
    } else {
        println!("VF-LAG {what}: {} of {total} steps ran, {} were in place; {then}", done.ran.len(), done.in_place);
    }
}

fn counters_cmd(
    env: &mut Env,
    found: &Host,
    watch: bool,
    interval: Duration,
    count: u64,
    out: Option<PathBuf>,
) -> Result<u8> {
    let links: Vec<counters::Link> = found.pfs.iter().map(|p| counters::Link::phy(&p.netdev, &p.pci)).collect();
    let mut file = match &out {
        Some(p) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("opening --out {}", p.display()))?,
        ),
        None => None,
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).context("installing signal handlers")?;
    }
    let start = Instant::now();
    let unix = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
    let clock = || (start.elapsed().as_secs_f64(), unix());
    let mut emit = |r: &counters::Record| -> Result<()> {
        print!("{}", counters::render(r));
        if let Some(f) = file.as_mut() {
            writeln!(f, "{}", serde_json::to_string(r)?)?;
            f.flush()?;
        }
        Ok(())
    };
    let n = if watch { count } else { 1 };
    counters::watch(env, &links, interval, n, &stop, &clock, &mut emit)?;
    Ok(0)
}

/// `vflag-ctl up|down|...` words (the command first) parsed as vflag-ctl parses them: a sweep's
/// host steps on real hardware, checked before any runs. The error is one line.
pub fn parse_argv(argv: &[String]) -> std::result::Result<Command, String> {
    #[derive(clap::Parser)]
    #[command(name = "vflag-ctl")]
    struct One {
        #[command(subcommand)]
        cmd: Command,
    }
    let words = ["vflag-ctl".to_string()].into_iter().chain(argv.iter().cloned());
    <One as clap::Parser>::try_parse_from(words).map(|o| o.cmd).map_err(|e| cli_exit::one_line(&e.render().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlx5::testing::fake::{self, FakeHost};

    fn args(h: &FakeHost) -> HostArgs {
        HostArgs { sysfs_root: h.root().join("sys"), debugfs_root: None, dmesg_file: None, pfs: None }
    }

    #[test]
    fn connectx_6_lx_refusing_switchdev_with_vfs_goes_switchdev_first_up_and_down() {
        let mut h = FakeHost::seed();
        h.no_mode_change_with_vfs = true;
        let a = args(&h);
        let (root, s, sleep) = (h.root(), Setup::default(), |_| {});
        {
            let mut env = fake::env_at(&root, &mut h, &sleep);
            assert_eq!(bring(&mut env, &a, &s, Way::Up, false).unwrap(), 0);
        }
        let changes = h.changes();
        let at = |l: &str| changes.iter().position(|c| c == l).unwrap_or_else(|| panic!("{l} not run: {changes:?}"));
        let refused = at("devlink dev eswitch set pci/0000:01:00.0 mode switchdev");
        assert_eq!(changes[refused + 1], "echo 0 > /sys/class/net/enp1s0f0np0/device/sriov_numvfs");
        assert_eq!(changes[refused + 2], "echo 0 > /sys/class/net/enp1s0f1np1/device/sriov_numvfs");
        assert_eq!(changes[refused + 3], "devlink dev eswitch set pci/0000:01:00.0 mode switchdev");
        assert_eq!(changes[refused + 5], "echo 4 > /sys/class/net/enp1s0f0np0/device/sriov_numvfs");
        let mut env = fake::env_at(&root, &mut h, &sleep);
        let host = discover::discover(&mut env, None, "vf-bond", FOR_TEARDOWN).unwrap();
        assert!(verify::verify(&mut env, &host, &s, None).unwrap().pass);
        // Down: legacy is refused with VFs too; they go first.
        assert_eq!(bring(&mut env, &a, &s, Way::Down, false).unwrap(), 0);
        drop(env);
        let changes = h.changes();
        assert_eq!(
            changes[changes.len() - 5..],
            [
                "devlink dev eswitch set pci/0000:01:00.1 mode legacy",
                "echo 0 > /sys/class/net/enp1s0f1np1/device/sriov_numvfs",
                "echo 0 > /sys/class/net/enp1s0f0np0/device/sriov_numvfs",
                "devlink dev eswitch set pci/0000:01:00.1 mode legacy",
                "devlink dev eswitch set pci/0000:01:00.0 mode legacy",
            ],
            "refused, then VFs first"
        );
    }

    #[test]
    fn the_seeds_order_asked_for_on_connectx_6_lx_fails_with_the_hint() {
        let mut h = FakeHost::seed();
        h.no_mode_change_with_vfs = true;
        let a = args(&h);
        let (root, sleep) = (h.root(), |_| {});
        let s = Setup { order: Order::VfsFirst, ..Setup::default() };
        let mut env = fake::env_at(&root, &mut h, &sleep);
        let e = bring(&mut env, &a, &s, Way::Up, false).unwrap_err().to_string();
        assert!(e.contains("failed: devlink dev eswitch set pci/0000:01:00.0 mode switchdev"), "{e}");
        assert!(e.contains("Can't change eswitch mode while VFs are enabled"), "{e}");
        assert!(e.contains("use --order switchdev-first"), "{e}");
        assert!(
            e.contains(&format!(
                "to roll back: `vflag-ctl down --sysfs-root {}/sys --bond vf-bond --block 22`",
                root.display()
            )),
            "{e}"
        );
    }

    #[test]
    fn value_parsers_name_the_bad_value() {
        assert_eq!(
            parse_mac("52:54:00:00:00:0G").unwrap_err(),
            "'52:54:00:00:00:0G' is not a MAC address (six hex bytes, e.g. 52:54:00:00:00:01)"
        );
        assert!(parse_mac("01:00:5e:00:00:01").unwrap_err().contains("multicast"));
        assert_eq!(parse_mac("52:54:00:AA:00:01").unwrap(), "52:54:00:aa:00:01");
        assert!(parse_num_vfs("65").unwrap_err().contains("at most 64 VFs"));
        assert!(parse_num_vfs("0").is_err() && parse_num_vfs("x").is_err());
        assert!(parse_pci("01:00.2").unwrap_err().contains("not a PCI address"));
        assert!(ifname("a/b").is_err() && ifname("sixteen-chars-xx").is_err());
        assert_eq!(parse_interval("0"), Err("'0' is outside 10ms..1h".into()));
        assert_eq!(parse_interval("5ms"), Err("'5ms' is outside 10ms..1h".into()));
        assert_eq!(parse_interval("2h"), Err("'2h' is outside 10ms..1h".into()));
        assert_eq!(parse_interval("10ms"), Ok(Duration::from_millis(10)));
        assert_eq!(parse_interval("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(vflag_contract::value::duration("1500ms").unwrap(), Duration::from_millis(1500));
    }
}
