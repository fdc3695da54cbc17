//! Real hardware: the host's VF-LAG brought to each cell's bond before its soak, and back to
//! how it was after the sweep. The state is read here (discover and verify's checklist, as the
//! soak's pre-flight reads it); the changes are `vflag-ctl up` and `down` run as children,
//! their argv planned here.
//!
//! A cell whose mode or hash differs from the host's takes `down` then `up`: `up` cannot
//! change a bond's mode in place (the bond exists; `ip link add` fails), and mlx5 sets the
//! LAG's port selection when the LAG is created, so a hash changed on a live bond is not
//! sure to reach the NIC. A cell like the host as it is changes nothing.

use anyhow::Result;
use clap::ValueEnum;
use cli_exit::BadUsage;

use crate::mlx5::plan::Setup;
use crate::mlx5::{verify, Env};
use crate::soak::SoakArgs;
use vflag_contract::value::{BondHash, BondMode};

/// The host bond's mode and `xmit_hash_policy` (the kernel's name; none for active-backup,
/// which hashes nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conf {
    pub mode: BondMode,
    pub hash: Option<String>,
}

impl Conf {
    pub fn new(mode: BondMode, hash: Option<BondHash>) -> Conf {
        Conf { mode, hash: hash.filter(|_| mode.spreads()).map(|h| h.kernel_name().to_string()) }
    }

    pub fn describe(&self) -> String {
        match &self.hash {
            Some(h) => format!("{} {h}", self.mode.kernel_name()),
            None => self.mode.kernel_name().to_string(),
        }
    }
}

/// What the host's VF-LAG is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// verify's checklist passes, on a bond in this mode.
    Up(Conf),
    /// No bond over the PFs.
    Down,
    /// Neither: what it is (a bond that does not verify, or a step that failed).
    Other(String),
}

impl State {
    pub fn describe(&self) -> String {
        match self {
            State::Up(c) => format!("VF-LAG up, bond {}", c.describe()),
            State::Down => "VF-LAG down".into(),
            State::Other(s) => s.clone(),
        }
    }
}

/// The host as `setup` (the soak's bond, VF and MAC) expects it.
pub fn read(env: &mut Env, args: &SoakArgs, setup: &Setup) -> Result<State> {
    let host = args.nic.discover(env)?;
    let v = verify::verify(env, &host, setup, None)?;
    let enslaved = host.pfs.iter().any(|p| p.master.is_some());
    let Some(bond) = host.bond.as_ref().filter(|b| b.mode.is_some()) else {
        return Ok(if enslaved {
            State::Other("the PFs are in an interface that is not a bond".into())
        } else {
            State::Down
        });
    };
    let mode_name = bond.mode.clone().unwrap_or_default();
    let Ok(mode) = BondMode::from_str(&mode_name, false) else {
        return Ok(State::Other(format!("bond {} in mode {mode_name}, which VF-LAG does not run on", bond.name)));
    };
    if !v.pass {
        let failing: Vec<&str> = v
            .items
            .iter()
            .filter(|i| i.required && i.status != verify::Status::Pass)
            .map(|i| i.name.as_str())
            .collect();
        return Ok(State::Other(format!(
            "bond {} in mode {mode_name}, VF-LAG not up ({})",
            bond.name,
            failing.join("; ")
        )));
    }
    let hash = bond.xmit_hash_policy.clone().filter(|_| mode.spreads());
    Ok(State::Up(Conf { mode, hash }))
}

/// The `up` options the sweep sets: refused in `--up-args`.
const SET_BY_SWEEP: [&str; 12] = [
    "--mode",
    "--xmit-hash-policy",
    "--sysfs-root",
    "--debugfs-root",
    "--dmesg-file",
    "--pfs",
    "--bond",
    "--representor",
    "--block",
    "--vf",
    "--vf-mac",
    "--dry-run",
];

/// How `vflag-ctl up` and `down` are run for the soak's host.
#[derive(Debug, Clone, PartialEq)]
pub struct HostCmds {
    /// The options both take: the host and set-up the soak names (its --sysfs-root, --pfs,
    /// --bond-name, the VF and MAC of --dut-args), then `--up-args`.
    common: Vec<String>,
}

impl HostCmds {
    pub fn new(args: &SoakArgs, setup: &Setup, up_args: &[String]) -> Result<HostCmds> {
        for w in up_args {
            let o = w.split_once('=').map_or(w.as_str(), |(o, _)| o);
            if SET_BY_SWEEP.contains(&o) {
                return Err(BadUsage(format!(
                    "--up-args: leave {w} out, the sweep sets it (from the cell, or the soak's options after --)"
                ))
                .into());
            }
        }
        let h = &args.nic.host;
        let mut c: Vec<String> = Vec::new();
        let mut opt = |o: &str, v: String| c.extend([o.to_string(), v]);
        if h.sysfs_root != std::path::Path::new("/sys") {
            opt("--sysfs-root", h.sysfs_root.display().to_string());
        }
        if let Some(d) = &h.debugfs_root {
            opt("--debugfs-root", d.display().to_string());
        }
        if let Some(d) = &h.dmesg_file {
            opt("--dmesg-file", d.display().to_string());
        }
        if let Some(p) = h.pf_names() {
            opt("--pfs", p.join(","));
        }
        opt("--bond", setup.bond.clone());
        if let Some(r) = &setup.representor {
            opt("--representor", r.clone());
        }
        opt("--block", setup.block.to_string());
        if let Some(vf) = &setup.vf {
            opt("--vf", vf.clone());
        }
        opt("--vf-mac", setup.vf_mac.clone());
        c.extend(up_args.iter().cloned());
        Ok(HostCmds { common: c })
    }

    pub fn up(&self, to: &Conf) -> Vec<String> {
        let mut v = vec!["up".to_string(), "--mode".into(), to.mode.name().into()];
        if let Some(h) = &to.hash {
            v.extend(["--xmit-hash-policy".into(), h.clone()]);
        }
        v.extend(self.common.iter().cloned());
        v
    }

    pub fn down(&self) -> Vec<String> {
        std::iter::once("down".to_string()).chain(self.common.iter().cloned()).collect()
    }

    /// What brings the host from `now` to `want`.
    pub fn to(&self, now: &State, want: &Conf) -> Vec<Vec<String>> {
        match now {
            State::Up(c) if c == want => Vec::new(),
            State::Down => vec![self.up(want)],
            _ => vec![self.down(), self.up(want)],
        }
    }

    /// What puts the host back as it `was` before the sweep: the same bond if it was up,
    /// else down (a VF-LAG that was neither up nor down is not rebuilt half-way).
    pub fn restore(&self, now: &State, was: &State) -> Vec<Vec<String>> {
        match (was, now) {
            (State::Up(c), _) => self.to(now, c),
            (_, State::Down) => Vec::new(),
            _ => vec![self.down()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlx5::testing::fake::{self, FakeHost};
    use crate::mlx5::testing::{run_plan, up_on};

    fn soak_args(extra: &[&str]) -> SoakArgs {
        let base = ["--dut-args", "-a 0000:01:00.2 --mac 52:54:00:00:00:01", "--flap-kind", "admin"];
        crate::soak::args::parse_for_test(&[&base[..], extra].concat()).unwrap()
    }

    fn setup_of(a: &SoakArgs) -> Setup {
        let words = crate::soak::words::split("--dut-args", a.dut_args.as_deref().unwrap()).unwrap();
        a.nic.setup(&words)
    }

    fn cmds(extra: &[&str], up_args: &[&str]) -> HostCmds {
        let a = soak_args(extra);
        HostCmds::new(&a, &setup_of(&a), &up_args.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn line(v: &[String]) -> String {
        v.join(" ")
    }

    #[test]
    fn the_plan_brings_each_cells_bond_and_puts_the_host_back() {
        let c = cmds(&["--pfs", "enp1s0f0np0,enp1s0f1np1", "--bond-name", "bond9"], &["--num-vfs", "8"]);
        let tail = "--pfs enp1s0f0np0,enp1s0f1np1 --bond bond9 --block 22 --vf 0000:01:00.2 \
                    --vf-mac 52:54:00:00:00:01 --num-vfs 8";
        let xor = Conf::new(BondMode::Xor, Some(BondHash::L34));
        let lacp = Conf::new(BondMode::Lacp, Some(BondHash::L23));
        let ab = Conf::new(BondMode::ActiveBackup, Some(BondHash::L23));
        assert_eq!(ab.hash, None, "active-backup is given no hash");
        // From down: up alone.
        let p: Vec<String> = c.to(&State::Down, &xor).iter().map(|v| line(v)).collect();
        assert_eq!(p, [format!("up --mode xor --xmit-hash-policy layer3+4 {tail}")]);
        // Another bond: down first. The same bond: nothing.
        let p: Vec<String> = c.to(&State::Up(xor.clone()), &lacp).iter().map(|v| line(v)).collect();
        assert_eq!(p, [format!("down {tail}"), format!("up --mode lacp --xmit-hash-policy layer2+3 {tail}")]);
        assert!(c.to(&State::Up(lacp.clone()), &lacp).is_empty());
        let p: Vec<String> = c.to(&State::Other("x".into()), &ab).iter().map(|v| line(v)).collect();
        assert_eq!(p, [format!("down {tail}"), format!("up --mode active-backup {tail}")]);
        // Afterwards: as it was.
        let was = State::Up(Conf { mode: BondMode::Lacp, hash: Some("encap3+4".into()) });
        let p: Vec<String> = c.restore(&State::Up(xor.clone()), &was).iter().map(|v| line(v)).collect();
        assert_eq!(p, [format!("down {tail}"), format!("up --mode lacp --xmit-hash-policy encap3+4 {tail}")]);
        assert_eq!(c.restore(&State::Up(xor.clone()), &State::Down), [c.down()]);
        assert!(c.restore(&State::Down, &State::Down).is_empty());
        assert_eq!(c.restore(&State::Down, &State::Other("half".into())), Vec::<Vec<String>>::new());
        assert_eq!(c.restore(&State::Up(xor), &State::Other("half".into())), [c.down()]);
    }

    #[test]
    fn the_sweep_sets_the_bond_and_host_options_of_up() {
        let a = soak_args(&[]);
        let e = HostCmds::new(&a, &setup_of(&a), &["--mode=xor".to_string()]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--up-args: leave --mode=xor out, the sweep sets it (from the cell, or the soak's options after --)"
        );
        let c = cmds(&["--sysfs-root", "/t/sys", "--dmesg-file", "/t/dmesg"], &[]);
        assert_eq!(
            line(&c.down()),
            "down --sysfs-root /t/sys --dmesg-file /t/dmesg --bond vf-bond --block 22 --vf 0000:01:00.2 \
             --vf-mac 52:54:00:00:00:01"
        );
    }

    /// The planned argv parsed as `vflag-ctl` parses it and applied to the simulated host, as
    /// the child `vflag-ctl up|down` would; the state read back after each.
    fn apply(h: &mut FakeHost, argv: &[String]) -> Result<()> {
        use crate::mlx5::cli::Command;
        let cmd = crate::mlx5::cli::parse_argv(argv).map_err(|e| anyhow::anyhow!("{e}"))?;
        let (setup, up) = match cmd {
            Command::Up { setup, .. } => (setup.setup(false), true),
            Command::Down { setup, keep_vfs, .. } => (setup.setup(keep_vfs), false),
            _ => panic!("{argv:?}"),
        };
        run_plan(h, &setup, setup.order, up).map(|_| ())
    }

    fn state(h: &mut FakeHost, a: &SoakArgs) -> State {
        let (root, sleep) = (h.root(), |_| {});
        let mut env = fake::env_at(&root, h, &sleep);
        read(&mut env, a, &setup_of(a)).unwrap()
    }

    #[test]
    fn on_the_simulated_host_each_cells_bond_is_brought_and_the_host_put_back() {
        let mut h = FakeHost::seed();
        let a = soak_args(&[]);
        let c = HostCmds::new(&a, &setup_of(&a), &[]).unwrap();
        assert_eq!(state(&mut h, &a), State::Down, "the seed before the procedure");
        // The host as an operator left it: VF-LAG up on 802.3ad, the kernel's hash.
        let was_setup = Setup { mode: BondMode::Lacp, xmit_hash_policy: Some("layer2".into()), ..setup_of(&a) };
        up_on(&mut h, &was_setup).unwrap();
        let was = state(&mut h, &a);
        assert_eq!(was, State::Up(Conf { mode: BondMode::Lacp, hash: Some("layer2".into()) }));
        let mut now = was.clone();
        for want in [
            Conf::new(BondMode::Xor, Some(BondHash::L34)),
            Conf::new(BondMode::Xor, Some(BondHash::L23)),
            Conf::new(BondMode::ActiveBackup, None),
            Conf::new(BondMode::Lacp, Some(BondHash::L34)),
        ] {
            for step in c.to(&now, &want) {
                apply(&mut h, &step).unwrap_or_else(|e| panic!("{}: {e:#}", line(&step)));
            }
            now = state(&mut h, &a);
            assert_eq!(now, State::Up(want.clone()));
        }
        // `up` alone cannot change the mode of the bond that is there: why a cell takes down first.
        let up_only = c.up(&Conf::new(BondMode::Xor, Some(BondHash::L34)));
        assert!(apply(&mut h, &up_only).is_err(), "up changed a bond's mode in place");
        now = state(&mut h, &a);
        for step in c.restore(&now, &was) {
            apply(&mut h, &step).unwrap();
        }
        assert_eq!(state(&mut h, &a), was, "back as it was");
        for step in c.restore(&was, &State::Down) {
            apply(&mut h, &step).unwrap();
        }
        assert_eq!(state(&mut h, &a), State::Down);
    }
}
