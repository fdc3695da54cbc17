//! What the host has: the two PFs of one mlx5 card (netdev, PCI address, SR-IOV counts, VFs
//! and their drivers, eswitch mode, representors), the bond they are in, the bonding module
//! and the LAG state. A host VF-LAG cannot run on is refused with one line saying why.

use anyhow::{bail, Result};
use serde::Serialize;

use super::lagstate::{self, LagState};
use super::pci::Addr;
use super::sysfs::{SysFs, IFF_UP};
use super::{parse, Env};

/// The tools the procedure runs.
pub const TOOLS: &[&str] = &["devlink", "ethtool", "tc", "ip"];

#[derive(Debug, Clone, Serialize)]
pub struct Host {
    /// The card: PCI domain, bus and device (`0000:01:00`).
    pub card: String,
    /// Function 0, then function 1.
    pub pfs: Vec<Pf>,
    /// The bond the PFs are in, or the one named by `--bond` if it exists.
    pub bond: Option<Bond>,
    pub bonding_module: Module,
    pub lag: LagState,
}

#[derive(Debug, Clone, Serialize)]
pub struct Pf {
    pub netdev: String,
    pub pci: String,
    pub driver: String,
    /// `p0`, `p1` (the uplink's phys_port_name).
    pub port_name: Option<String>,
    pub sriov_totalvfs: u32,
    pub sriov_numvfs: u32,
    /// Where SR-IOV puts the VFs (None on kernels that do not show it).
    pub sriov_offset: Option<u32>,
    pub sriov_stride: Option<u32>,
    /// `legacy` or `switchdev`, from devlink; None when devlink could not tell.
    pub eswitch: Option<String>,
    /// What devlink said when it could not tell.
    pub eswitch_error: Option<String>,
    pub admin_up: bool,
    pub operstate: String,
    pub master: Option<String>,
    pub vfs: Vec<Vf>,
    pub representors: Vec<Rep>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Vf {
    pub index: u32,
    pub pci: String,
    /// The bound driver (`mlx5_core`, `vfio-pci`), None when unbound.
    pub driver: Option<String>,
    pub netdev: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rep {
    pub netdev: String,
    /// `pf0vf0`, ...
    pub port_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bond {
    pub name: String,
    /// `802.3ad`, `active-backup`, ... None when the interface is not a bond.
    pub mode: Option<String>,
    pub slaves: Vec<String>,
    pub xmit_hash_policy: Option<String>,
    pub miimon: Option<u32>,
    pub admin_up: bool,
    pub operstate: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Module {
    pub loaded: bool,
    /// Loaded, or `modprobe -n` finds it.
    pub available: bool,
}

/// What a command needs of the host beyond the card.
#[derive(Debug, Clone, Copy)]
pub struct Needs {
    pub tools: &'static [&'static str],
    pub bonding: bool,
}

pub const FOR_SETUP: Needs = Needs { tools: TOOLS, bonding: true };
pub const FOR_TEARDOWN: Needs = Needs { tools: TOOLS, bonding: false };
pub const FOR_COUNTERS: Needs = Needs { tools: &["ethtool"], bonding: false };

/// Finds the card (or checks the two named ports) and reads its state; `bond_name` is the
/// bond to report when the PFs are in none.
pub fn discover(env: &mut Env, pfs: Option<&[String]>, bond_name: &str, needs: Needs) -> Result<Host> {
    let missing: Vec<&str> = needs.tools.iter().copied().filter(|t| !env.runner.has_program(t)).collect();
    if !missing.is_empty() {
        bail!("missing tools: {} (install iproute2 for ip, tc and devlink, and ethtool)", missing.join(", "));
    }
    let (first, second) = match pfs {
        Some(names) => named_ports(env, names)?,
        None => find_ports(env)?,
    };
    let card = first.1.card();
    let mut out = Vec::new();
    for (netdev, addr) in [first, second] {
        out.push(read_pf(env, &netdev, &addr)?);
    }
    let master = out.iter().find_map(|p| p.master.clone());
    let bond = read_bond(env, master.as_deref().unwrap_or(bond_name));
    let bonding_module = module(env, "bonding");
    if needs.bonding && !bonding_module.available {
        bail!(
            "the bonding module is not available for this kernel (not loaded, and `modprobe -n bonding` finds none): \
             install it (Debian: the kernel's linux-image package; some distributions: linux-modules-extra)"
        );
    }
    let log = env.kernel_log();
    let lag = lagstate::read(env, &out[0].pci, log.as_deref());
    Ok(Host { card, pfs: out, bond, bonding_module, lag })
}

/// A port of a card: (netdev, PCI address).
type Port = (String, Addr);

/// mlx5 uplinks: netdevs of mlx5_core PCI functions that are not VFs or representors.
fn mlx5_ports(env: &Env) -> (Vec<Port>, Vec<(String, String)>) {
    let mut ports = Vec::new();
    let mut others = Vec::new();
    for name in env.sys.list("class/net") {
        let dev = format!("class/net/{name}/device");
        let Some(driver) = env.sys.link_name(&format!("{dev}/driver")) else { continue };
        if driver != "mlx5_core" {
            others.push((name, driver));
            continue;
        }
        let is_vf = env.sys.exists(&format!("{dev}/physfn"));
        let is_rep = env.sys.read(&format!("class/net/{name}/phys_port_name")).is_some_and(|p| p.starts_with("pf"));
        if let (false, false, Some(addr)) = (is_vf, is_rep, env.sys.link_name(&dev).as_deref().and_then(Addr::parse)) {
            ports.push((name, addr));
        }
    }
    ports.sort_by_key(|p| p.1);
    (ports, others)
}

fn find_ports(env: &Env) -> Result<(Port, Port)> {
    let (ports, others) = mlx5_ports(env);
    if ports.is_empty() {
        let seen: Vec<String> = others.iter().map(|(n, d)| format!("{n} ({d})")).collect();
        bail!(
            "no mlx5_core network port found{}: VF-LAG needs an NVIDIA/Mellanox ConnectX-5/6/7",
            if seen.is_empty() { String::new() } else { format!(" (ports here: {})", seen.join(", ")) }
        );
    }
    let mut cards: Vec<String> = ports.iter().map(|p| p.1.card()).collect();
    cards.dedup();
    let dual: Vec<&String> = cards.iter().filter(|c| ports.iter().filter(|p| &p.1.card() == *c).count() >= 2).collect();
    match dual.as_slice() {
        [card] => {
            let on: Vec<&Port> = ports.iter().filter(|p| &p.1.card() == *card).collect();
            pair(on[0], on[1])
        }
        [] if ports.len() == 1 => {
            bail!("only one mlx5 port ({} at {}): VF-LAG bonds the two ports of one card", ports[0].0, ports[0].1)
        }
        [] => bail!(
            "the mlx5 ports {} are on different cards: VF-LAG bonds the two ports of one card",
            ports.iter().map(|p| format!("{} ({})", p.0, p.1)).collect::<Vec<_>>().join(", ")
        ),
        _ => bail!(
            "several dual-port mlx5 cards ({}): choose the two ports with --pfs",
            dual.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn named_ports(env: &Env, names: &[String]) -> Result<(Port, Port)> {
    let mut ports = Vec::new();
    for name in names {
        let dev = format!("class/net/{name}/device");
        if !env.sys.exists(&format!("class/net/{name}")) {
            bail!("no network interface {name}");
        }
        let driver = env.sys.link_name(&format!("{dev}/driver"));
        if driver.as_deref() != Some("mlx5_core") {
            bail!(
                "{name} is driven by {}, not mlx5_core: VF-LAG needs an NVIDIA/Mellanox ConnectX-5/6/7",
                driver.as_deref().unwrap_or("no PCI driver")
            );
        }
        if env.sys.exists(&format!("{dev}/physfn")) {
            bail!("{name} is a VF, not a physical port");
        }
        let Some(addr) = env.sys.link_name(&dev).as_deref().and_then(Addr::parse) else {
            bail!("{name} has no PCI address");
        };
        ports.push((name.clone(), addr));
    }
    ports.sort_by_key(|p| p.1);
    pair(&ports[0], &ports[1])
}

/// Two ports of one card, functions 0 and 1.
fn pair(a: &Port, b: &Port) -> Result<(Port, Port)> {
    if a.1.card() != b.1.card() {
        bail!("{} ({}) and {} ({}) are on different cards: VF-LAG bonds the two ports of one card", a.0, a.1, b.0, b.1);
    }
    if (a.1.function, b.1.function) != (0, 1) {
        bail!("{} ({}) and {} ({}) are not functions 0 and 1 of their card", a.0, a.1, b.0, b.1);
    }
    Ok((a.clone(), b.clone()))
}

fn read_pf(env: &mut Env, netdev: &str, addr: &Addr) -> Result<Pf> {
    let pci = addr.to_string();
    let dev = format!("bus/pci/devices/{pci}");
    let total_file = format!("{dev}/sriov_totalvfs");
    // A value that is no count (garbage, or beyond u32 as 4294967296 is) is not "SR-IOV off".
    let totalvfs = match env.sys.read(&total_file) {
        None => 0,
        Some(text) => match env.sys.read_u64(&total_file).map(u32::try_from) {
            Some(Ok(n)) => n,
            _ => bail!("{netdev} ({pci}): /sys/{total_file} reads '{text}', which is not a VF count"),
        },
    };
    if totalvfs == 0 {
        bail!(
            "SR-IOV is not enabled in the firmware of {netdev} ({pci}): sriov_totalvfs is {}; enable it with \
             `mlxconfig -d {pci} set SRIOV_EN=1 NUM_OF_VFS=8` and reboot",
            if env.sys.exists(&format!("{dev}/sriov_totalvfs")) { "0" } else { "absent" }
        );
    }
    let sys = env.sys.clone();
    let read_u32 = |f: &str| sys.read_u64(&format!("{dev}/{f}")).map(|v| v as u32);
    let mut vfs = Vec::new();
    let mut links: Vec<(u32, String)> =
        env.sys.list(&dev).into_iter().filter_map(|e| Some((e.strip_prefix("virtfn")?.parse().ok()?, e))).collect();
    links.sort();
    for (index, link) in links {
        let Some(vf) = env.sys.link_name(&format!("{dev}/{link}")) else { continue };
        vfs.push(Vf {
            index,
            driver: env.sys.link_name(&format!("bus/pci/devices/{vf}/driver")),
            netdev: env.sys.list(&format!("bus/pci/devices/{vf}/net")).into_iter().next(),
            pci: vf,
        });
    }
    let (eswitch, eswitch_error) = if env.runner.has_program("devlink") {
        let out = env.run("devlink", &["dev", "eswitch", "show", &format!("pci/{pci}")])?;
        match parse::eswitch_mode(&out.stdout) {
            Some(m) if out.ok() => (Some(m), None),
            _ => (None, Some(first_line(&out.stderr).unwrap_or("no mode in devlink's answer").to_string())),
        }
    } else {
        (None, Some("devlink is not installed".to_string()))
    };
    let net = format!("class/net/{netdev}");
    Ok(Pf {
        netdev: netdev.to_string(),
        driver: "mlx5_core".to_string(),
        port_name: env.sys.read(&format!("{net}/phys_port_name")),
        sriov_totalvfs: totalvfs,
        sriov_numvfs: read_u32("sriov_numvfs").unwrap_or(0),
        sriov_offset: read_u32("sriov_offset"),
        sriov_stride: read_u32("sriov_stride"),
        eswitch,
        eswitch_error,
        admin_up: env.sys.read_u64(&format!("{net}/flags")).is_some_and(|f| f & IFF_UP != 0),
        operstate: env.sys.read(&format!("{net}/operstate")).unwrap_or_default(),
        master: env.sys.link_name(&format!("{net}/master")),
        vfs,
        representors: representors(env, &pci),
        pci,
    })
}

/// Representors of a PF: netdevs of its PCI function named `pfNvfM` by phys_port_name.
pub fn representors(env: &Env, pf_pci: &str) -> Vec<Rep> {
    let mut reps: Vec<Rep> = env
        .sys
        .list("class/net")
        .into_iter()
        .filter(|n| env.sys.link_name(&format!("class/net/{n}/device")).as_deref() == Some(pf_pci))
        .filter_map(|n| {
            let port_name = env.sys.read(&format!("class/net/{n}/phys_port_name"))?;
            is_vf_rep(&port_name).then_some(Rep { netdev: n, port_name })
        })
        .collect();
    reps.sort_by(|a, b| a.port_name.cmp(&b.port_name));
    reps
}

fn is_vf_rep(port_name: &str) -> bool {
    port_name.strip_prefix("pf").and_then(|r| r.split_once("vf")).is_some_and(|(p, v)| {
        !p.is_empty() && !v.is_empty() && p.chars().all(|c| c.is_ascii_digit()) && v.chars().all(|c| c.is_ascii_digit())
    })
}

pub fn read_bond(env: &Env, name: &str) -> Option<Bond> {
    let net = format!("class/net/{name}");
    if !env.sys.exists(&net) {
        return None;
    }
    let first_word = |f: &str| {
        env.sys.read(&format!("{net}/bonding/{f}")).and_then(|v| v.split_whitespace().next().map(str::to_string))
    };
    Some(Bond {
        name: name.to_string(),
        mode: first_word("mode"),
        slaves: env
            .sys
            .read(&format!("{net}/bonding/slaves"))
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default(),
        xmit_hash_policy: first_word("xmit_hash_policy"),
        miimon: first_word("miimon").and_then(|m| m.parse().ok()),
        admin_up: env.sys.read_u64(&format!("{net}/flags")).is_some_and(|f| f & IFF_UP != 0),
        operstate: env.sys.read(&format!("{net}/operstate")).unwrap_or_default(),
    })
}

/// A bond member as the bonding driver shows it (`class/net/M/bonding_slave/`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    pub name: String,
    /// `up`, `down`, `going down` or `going back` (miimon's view of the link).
    pub mii_status: Option<String>,
    /// `active` or `backup` (in 802.3ad: in the active aggregator or not).
    pub state: Option<String>,
}

impl Member {
    /// Carrying the bond's traffic as far as the bond knows: its link up and not a backup.
    pub fn active(&self) -> bool {
        self.mii_status.as_deref().is_none_or(|m| m == "up") && self.state.as_deref() != Some("backup")
    }
}

/// The members of bond `name` under `sys` (`bonding/slaves`, each member's
/// `bonding_slave/{mii_status,state}`) and `bonding/active_slave` (set in active-backup mode,
/// empty in the others); None when there is no such bond.
pub fn read_members(sys: &SysFs, name: &str) -> Option<(Vec<Member>, Option<String>)> {
    let slaves = sys.read(&format!("class/net/{name}/bonding/slaves"))?;
    let members = slaves
        .split_whitespace()
        .map(|m| Member {
            name: m.to_string(),
            mii_status: sys.read(&format!("class/net/{m}/bonding_slave/mii_status")),
            state: sys.read(&format!("class/net/{m}/bonding_slave/state")),
        })
        .collect();
    let active = sys.read(&format!("class/net/{name}/bonding/active_slave")).filter(|a| !a.is_empty());
    Some((members, active))
}

fn module(env: &mut Env, name: &str) -> Module {
    if env.sys.exists(&format!("module/{name}")) {
        return Module { loaded: true, available: true };
    }
    let available = env.runner.has_program("modprobe")
        && env.run("modprobe", &["--dry-run", "--quiet", name]).is_ok_and(|o| o.ok());
    Module { loaded: false, available }
}

fn first_line(s: &str) -> Option<&str> {
    s.lines().map(str::trim).find(|l| !l.is_empty())
}

impl Pf {
    /// The VFs there will be with `n` per PF: the existing ones when there are `n`, else
    /// where SR-IOV will put them.
    pub fn vfs_for(&self, n: u32) -> Result<Vec<String>> {
        if self.sriov_numvfs == n && self.vfs.len() == n as usize {
            return Ok(self.vfs.iter().map(|v| v.pci.clone()).collect());
        }
        let (Some(offset), Some(stride), Some(pf)) = (self.sriov_offset, self.sriov_stride, Addr::parse(&self.pci))
        else {
            bail!(
                "cannot tell where the VFs of {} will be (no sriov_offset/sriov_stride in sysfs): create them first \
                 (echo {n} > /sys/class/net/{}/device/sriov_numvfs) and run again",
                self.netdev,
                self.netdev
            );
        };
        (0..n)
            .map(|i| pf.vf(offset, stride, i).map(|a| a.to_string()))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| anyhow::anyhow!("the VFs of {} would lie past the last PCI bus", self.netdev))
    }

    /// The representor of VF `vf` (from 0): the existing netdev, or the name udev will give it
    /// (`enp1s0f0np0` -> `enp1s0f0npf0vf0`).
    pub fn representor_for(&self, vf: u32) -> String {
        let pfnum = Addr::parse(&self.pci).map_or(0, |a| a.function);
        let port_name = format!("pf{pfnum}vf{vf}");
        if let Some(r) = self.representors.iter().find(|r| r.port_name == port_name) {
            return r.netdev.clone();
        }
        let base =
            self.port_name.as_deref().and_then(|p| self.netdev.strip_suffix(&format!("n{p}"))).unwrap_or(&self.netdev);
        format!("{base}n{port_name}")
    }

    pub fn rep_port_name(&self, vf: u32) -> String {
        format!("pf{}vf{vf}", Addr::parse(&self.pci).map_or(0, |a| a.function))
    }
}

/// The table `vflag-ctl discover` prints.
pub fn render(h: &Host) -> String {
    let mut s = format!("card {} (mlx5_core)\n", h.card);
    s += &format!(
        "{:<6} {:<14} {:<13} {:<9} {:<10} {:<6} {:<10}\n",
        "port", "netdev", "pci", "vfs/max", "eswitch", "link", "master"
    );
    for (i, p) in h.pfs.iter().enumerate() {
        s += &format!(
            "{:<6} {:<14} {:<13} {:<9} {:<10} {:<6} {:<10}\n",
            i,
            p.netdev,
            p.pci,
            format!("{}/{}", p.sriov_numvfs, p.sriov_totalvfs),
            p.eswitch.as_deref().unwrap_or("unknown"),
            if p.admin_up { p.operstate.as_str() } else { "down" },
            p.master.as_deref().unwrap_or("-")
        );
    }
    for p in &h.pfs {
        if p.vfs.is_empty() {
            s += &format!("VFs of {}: none\n", p.netdev);
        } else {
            let vfs: Vec<String> = p
                .vfs
                .iter()
                .map(|v| {
                    format!(
                        "{} ({}{})",
                        v.pci,
                        v.driver.as_deref().unwrap_or("unbound"),
                        v.netdev.as_ref().map_or(String::new(), |n| format!(", {n}"))
                    )
                })
                .collect();
            s += &format!("VFs of {}: {}\n", p.netdev, vfs.join(", "));
        }
        if !p.representors.is_empty() {
            let reps: Vec<String> = p.representors.iter().map(|r| format!("{} ({})", r.netdev, r.port_name)).collect();
            s += &format!("representors of {}: {}\n", p.netdev, reps.join(", "));
        }
        if let Some(e) = &p.eswitch_error {
            s += &format!("eswitch of {}: unknown ({e})\n", p.netdev);
        }
    }
    s += &match &h.bond {
        Some(b) => format!(
            "bond {}: mode {}, slaves {}, xmit_hash_policy {}, miimon {}, {}\n",
            b.name,
            b.mode.as_deref().unwrap_or("(not a bond)"),
            if b.slaves.is_empty() { "none".to_string() } else { b.slaves.join(" ") },
            b.xmit_hash_policy.as_deref().unwrap_or("-"),
            b.miimon.map_or("-".to_string(), |m| m.to_string()),
            if b.admin_up { "up" } else { "down" }
        ),
        None => "bond: none\n".to_string(),
    };
    s += &format!(
        "bonding module: {}\n",
        if h.bonding_module.loaded {
            "loaded"
        } else if h.bonding_module.available {
            "available"
        } else {
            "absent"
        }
    );
    s += &format!(
        "hardware LAG: {} ({})\n",
        match h.lag.active {
            Some(true) => "active",
            Some(false) => "not active",
            None => "unknown",
        },
        h.lag.detail
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlx5::testing::fake::{self, FakeHost};
    use crate::runner::{Output, Recorder};

    fn out(name: &str) -> Output {
        Output { stdout: fake::text(name), ..Default::default() }
    }

    #[test]
    fn the_bonds_members_and_their_state_as_the_bonding_driver_shows_them() {
        let sys = SysFs::new(fake::fixtures().join("up/sys"));
        let (members, active) = read_members(&sys, "vf-bond").unwrap();
        assert_eq!(members.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["enp1s0f0np0", "enp1s0f1np1"]);
        assert!(members.iter().all(Member::active), "{members:?}");
        assert_eq!(active, None, "802.3ad sets no active_slave");
        assert!(read_members(&sys, "nobond").is_none());
        let down = Member { name: "p".into(), mii_status: Some("down".into()), state: Some("active".into()) };
        let backup = Member { name: "p".into(), mii_status: Some("up".into()), state: Some("backup".into()) };
        assert!(!down.active() && !backup.active());
    }

    fn discover_at(root: &std::path::Path, r: &mut Recorder, pfs: Option<&[String]>) -> Result<Host> {
        let sleep = |_| {};
        let mut env = fake::env_at(root, r, &sleep);
        discover(&mut env, pfs, "vf-bond", FOR_SETUP)
    }

    fn legacy() -> Recorder {
        let mut r = Recorder::default();
        r.answer("devlink dev eswitch show pci/0000:01:00.0", out("devlink-legacy-0.txt"), false);
        r.answer("devlink dev eswitch show pci/0000:01:00.1", out("devlink-legacy-1.txt"), false);
        r
    }

    #[test]
    fn finds_the_seeds_card_before_and_after() {
        let mut r = legacy();
        let h = discover_at(&fake::fixtures().join("seed"), &mut r, None).unwrap();
        assert_eq!(h.card, "0000:01:00");
        let pfs: Vec<(&str, &str, u32, u32)> =
            h.pfs.iter().map(|p| (p.netdev.as_str(), p.pci.as_str(), p.sriov_numvfs, p.sriov_totalvfs)).collect();
        assert_eq!(pfs, [("enp1s0f0np0", "0000:01:00.0", 0, 8), ("enp1s0f1np1", "0000:01:00.1", 0, 8)]);
        assert_eq!(h.pfs[0].eswitch.as_deref(), Some("legacy"));
        assert!(h.pfs.iter().all(|p| p.vfs.is_empty() && p.representors.is_empty() && p.master.is_none()));
        assert_eq!(h.bond, None);
        assert_eq!(h.bonding_module, Module { loaded: false, available: true });
        assert_eq!(h.lag.active, Some(false));
        assert!(r.lines().contains(&"modprobe --dry-run --quiet bonding".to_string()));
        assert_eq!(h.pfs[1].vfs_for(4).unwrap(), ["0000:01:04.2", "0000:01:04.3", "0000:01:04.4", "0000:01:04.5"]);
        assert_eq!(h.pfs[0].representor_for(0), "enp1s0f0npf0vf0");

        let mut r = Recorder::default();
        r.answer("devlink dev eswitch show pci/0000:01:00.0", out("devlink-switchdev-0.txt"), false);
        let h = discover_at(&fake::fixtures().join("up"), &mut r, None).unwrap();
        let p1 = &h.pfs[1];
        assert_eq!((p1.sriov_numvfs, p1.vfs.len(), p1.master.as_deref()), (4, 4, Some("vf-bond")));
        assert_eq!(
            p1.vfs[3],
            Vf {
                index: 3,
                pci: "0000:01:04.5".into(),
                driver: Some("mlx5_core".into()),
                netdev: Some("enp1s0f1v3".into())
            }
        );
        assert_eq!(p1.representors[0], Rep { netdev: "enp1s0f1npf1vf0".into(), port_name: "pf1vf0".into() });
        assert_eq!(h.pfs[0].eswitch.as_deref(), Some("switchdev"));
        assert_eq!(p1.eswitch, None, "devlink said nothing for it");
        let b = h.bond.as_ref().unwrap();
        assert_eq!((b.mode.as_deref(), b.slaves.len(), b.miimon, b.admin_up), (Some("802.3ad"), 2, Some(100), true));
        assert_eq!((h.bonding_module.loaded, h.lag.active), (true, Some(true)));
        let table = render(&h);
        assert!(table.contains("1      enp1s0f1np1    0000:01:00.1  4/8       unknown    up     vf-bond"), "{table}");
        assert!(table.contains("hardware LAG: active (debugfs"), "{table}");
    }

    #[test]
    fn named_ports_are_checked() {
        let seed = fake::fixtures().join("seed");
        let names = |a: &str, b: &str| vec![a.to_string(), b.to_string()];
        let h = discover_at(&seed, &mut legacy(), Some(&names("enp1s0f1np1", "enp1s0f0np0"))).unwrap();
        assert_eq!(h.pfs[0].netdev, "enp1s0f0np0", "ordered by function");
        let e = |a, b| discover_at(&seed, &mut legacy(), Some(&names(a, b))).unwrap_err().to_string();
        assert_eq!(
            e("eno1", "enp1s0f0np0"),
            "eno1 is driven by e1000e, not mlx5_core: VF-LAG needs an NVIDIA/Mellanox ConnectX-5/6/7"
        );
        assert_eq!(e("enp9s0", "enp1s0f0np0"), "no network interface enp9s0");
    }

    /// A copy of the seed with the second port moved to card 0000:02:00.
    fn two_cards() -> tempfile::TempDir {
        let dir = fake::copy_fixture("seed");
        let sys = dir.path().join("sys");
        let old = "devices/pci0000:00/0000:00:01.0/0000:01:00.1";
        let new = "devices/pci0000:00/0000:00:02.0/0000:02:00.0";
        std::fs::create_dir_all(sys.join("devices/pci0000:00/0000:00:02.0")).unwrap();
        std::fs::rename(sys.join(old), sys.join(new)).unwrap();
        let net = sys.join(new).join("net/enp1s0f1np1");
        std::fs::remove_file(net.join("device")).unwrap();
        std::os::unix::fs::symlink("../../../0000:02:00.0", net.join("device")).unwrap();
        std::fs::remove_file(sys.join("class/net/enp1s0f1np1")).unwrap();
        std::os::unix::fs::symlink(format!("../../{new}/net/enp1s0f1np1"), sys.join("class/net/enp1s0f1np1")).unwrap();
        dir
    }

    #[test]
    fn refusals_are_one_line_and_precise() {
        let refuse = |dir: &std::path::Path, r: &mut Recorder| {
            let e = discover_at(dir, r, None).unwrap_err().to_string();
            assert_eq!(e.lines().count(), 1, "{e}");
            e
        };
        // Ports on different cards.
        let d = two_cards();
        assert_eq!(
            refuse(d.path(), &mut legacy()),
            "the mlx5 ports enp1s0f0np0 (0000:01:00.0), enp1s0f1np1 (0000:02:00.0) are on different cards: \
             VF-LAG bonds the two ports of one card"
        );
        let names = ["enp1s0f0np0".to_string(), "enp1s0f1np1".to_string()];
        let e = discover_at(d.path(), &mut legacy(), Some(&names)).unwrap_err().to_string();
        assert!(
            e.starts_with("enp1s0f0np0 (0000:01:00.0) and enp1s0f1np1 (0000:02:00.0) are on different cards"),
            "{e}"
        );
        // Not mlx5: the driver is another.
        let d = fake::copy_fixture("seed");
        for f in ["0000:01:00.0", "0000:01:00.1"] {
            let link = d.path().join(format!("sys/devices/pci0000:00/0000:00:01.0/{f}/driver"));
            std::fs::remove_file(&link).unwrap();
            std::os::unix::fs::symlink("../../../../bus/pci/drivers/ixgbe", &link).unwrap();
        }
        assert_eq!(
            refuse(d.path(), &mut legacy()),
            "no mlx5_core network port found (ports here: eno1 (e1000e), enp1s0f0np0 (ixgbe), enp1s0f1np1 (ixgbe)): \
             VF-LAG needs an NVIDIA/Mellanox ConnectX-5/6/7"
        );
        // SR-IOV off in the firmware.
        let d = fake::copy_fixture("seed");
        std::fs::write(d.path().join("sys/devices/pci0000:00/0000:00:01.0/0000:01:00.1/sriov_totalvfs"), "0\n")
            .unwrap();
        let e = refuse(d.path(), &mut legacy());
        assert!(
            e.starts_with("SR-IOV is not enabled in the firmware of enp1s0f1np1 (0000:01:00.1): sriov_totalvfs is 0"),
            "{e}"
        );
        assert!(e.contains("mlxconfig -d 0000:01:00.1 set SRIOV_EN=1"), "{e}");
        // A count beyond u32 (it used to wrap to 0 and read as SR-IOV off) or no number at all.
        for bad in ["4294967296", "lots"] {
            std::fs::write(d.path().join("sys/devices/pci0000:00/0000:00:01.0/0000:01:00.1/sriov_totalvfs"), bad)
                .unwrap();
            assert_eq!(
                refuse(d.path(), &mut legacy()),
                format!(
                    "enp1s0f1np1 (0000:01:00.1): /sys/bus/pci/devices/0000:01:00.1/sriov_totalvfs reads '{bad}', \
                     which is not a VF count"
                )
            );
        }
        // Missing tools.
        let mut r = legacy();
        r.missing = vec!["devlink".into(), "tc".into()];
        let e = refuse(&fake::fixtures().join("seed"), &mut r);
        assert!(e.starts_with("missing tools: devlink, tc"), "{e}");
        assert!(r.log.is_empty(), "nothing ran");
        // No bonding module.
        let mut r = legacy();
        r.answer("modprobe --dry-run --quiet bonding", Output { code: 1, ..Default::default() }, false);
        let e = refuse(&fake::fixtures().join("seed"), &mut r);
        assert!(e.starts_with("the bonding module is not available for this kernel"), "{e}");
        // A single port.
        let d = fake::copy_fixture("seed");
        std::fs::remove_file(d.path().join("sys/class/net/enp1s0f1np1")).unwrap();
        assert_eq!(
            refuse(d.path(), &mut legacy()),
            "only one mlx5 port (enp1s0f0np0 at 0000:01:00.0): VF-LAG bonds the two ports of one card"
        );
    }

    #[test]
    fn the_simulated_host_after_up_reads_like_the_committed_up_fixture() {
        let mut h = FakeHost::seed();
        crate::mlx5::testing::up_on(&mut h, &crate::mlx5::plan::Setup::default()).unwrap();
        let root = h.root();
        let sleep = |_| {};
        let mut env = fake::env_at(&root, &mut h, &sleep);
        let sim = discover(&mut env, None, "vf-bond", FOR_SETUP).unwrap();
        let mut r = Recorder::default();
        r.answer("devlink dev eswitch show", out("devlink-switchdev-0.txt"), false);
        let fixture = discover_at(&fake::fixtures().join("up"), &mut r, None).unwrap();
        let summary = |h: &Host| {
            h.pfs
                .iter()
                .map(|p| (p.sriov_numvfs, p.vfs.clone(), p.representors.clone(), p.master.clone(), p.admin_up))
                .collect::<Vec<_>>()
        };
        assert_eq!(summary(&sim), summary(&fixture));
        assert_eq!((sim.bond.map(|b| b.slaves), sim.lag.active), (fixture.bond.map(|b| b.slaves), fixture.lag.active));
    }
}
