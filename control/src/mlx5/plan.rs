//! The procedure for this host, as ordered steps: each a command (or a wait) and the state it
//! establishes. `up` follows the seed: SR-IOV, VFs unbound, switchdev, hw-tc-offload, the bond
//! and its PFs, the LAG, VFs bound again, the representor, the shared ingress block and the
//! flower rule. `down` undoes it in reverse. Only the order changes between hosts: ConnectX-6
//! Lx wants switchdev before the VFs exist.

use std::time::Duration;

use anyhow::{bail, Result};
use clap::ValueEnum;
use serde::Serialize;

use super::check::{FilterAt, Want};
use super::discover::{Host, Pf};
use super::lagstate;
use super::parse::Ingress;
use super::sysfs::SysFs;
use crate::runner::Cmd;

/// The bond's mode: the contract's one type, spelled the kernel's way here.
use vflag_contract::value::BondMode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Order {
    /// VFs first, as the seed does; if switchdev is refused while VFs exist, start again in
    /// the switchdev-first order.
    Auto,
    /// sriov_numvfs, then switchdev (ConnectX-5, ConnectX-6 Dx, the seed).
    VfsFirst,
    /// switchdev, then sriov_numvfs (ConnectX-6 Lx refuses switchdev while VFs exist).
    SwitchdevFirst,
}

/// What to set up, from the command line.
#[derive(Debug, Clone, Serialize)]
pub struct Setup {
    pub bond: String,
    pub mode: BondMode,
    pub xmit_hash_policy: Option<String>,
    pub miimon: Option<u32>,
    pub num_vfs: u32,
    /// The VF whose traffic the rule steers (default: VF 0 of the first PF).
    pub vf: Option<String>,
    pub vf_mac: String,
    /// The VF's representor, when udev names it otherwise than `<pf>npfNvfM`.
    pub representor: Option<String>,
    pub block: u32,
    pub reverse_rule: bool,
    pub order: Order,
    pub lag_timeout: Duration,
    pub keep_vfs: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            bond: "vf-bond".into(),
            mode: BondMode::Lacp,
            xmit_hash_policy: None,
            miimon: None,
            num_vfs: 4,
            vf: None,
            vf_mac: "52:54:00:00:00:01".into(),
            representor: None,
            block: 22,
            reverse_rule: false,
            order: Order::Auto,
            lag_timeout: Duration::from_secs(5),
            keep_vfs: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Run(#[serde(serialize_with = "as_line")] Cmd),
    /// Poll until the LAG is active, at most `timeout`.
    WaitLag {
        pf_pci: String,
        timeout: Duration,
    },
}

fn as_line<S: serde::Serializer>(c: &Cmd, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&c.to_string())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub action: Action,
    pub want: Want,
    /// What usually makes this step fail.
    pub hint: String,
}

impl Step {
    fn run(cmd: Cmd, want: Want, hint: impl Into<String>) -> Step {
        Step { action: Action::Run(cmd), want, hint: hint.into() }
    }

    /// The step as a shell line (a wait is a comment).
    pub fn line(&self) -> String {
        match &self.action {
            Action::Run(c) => c.to_string(),
            Action::WaitLag { pf_pci, timeout } => format!(
                "# wait up to {} for the hardware LAG (/sys/kernel/debug/{}/state: active)",
                humantime::format_duration(*timeout),
                lagstate::debugfs_dir(pf_pci)
            ),
        }
    }

    /// Renames the interface `old` to `new` in the command and the state.
    pub fn rename(&mut self, old: &str, new: &str) {
        if let Action::Run(c) = &mut self.action {
            c.args.iter_mut().filter(|a| *a == old).for_each(|a| *a = new.to_string());
        }
        self.want.rename(old, new);
        self.hint = self.hint.replace(old, new);
    }

    pub fn mentions(&self, dev: &str) -> bool {
        matches!(&self.action, Action::Run(c) if c.args.iter().any(|a| a == dev))
    }
}

/// The representor the rules name, and how to find it if udev named it otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepRef {
    pub planned: String,
    pub pf_pci: String,
    pub port_name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub title: String,
    pub steps: Vec<Step>,
    pub rep: Option<RepRef>,
}

/// Builds the steps with the sysfs paths of one host.
struct Steps<'a> {
    sys: &'a SysFs,
    out: Vec<Step>,
}

impl Steps<'_> {
    fn push(&mut self, s: Step) {
        self.out.push(s);
    }

    fn numvfs(&mut self, pf: &Pf, n: u32, vfs: Vec<String>) {
        let rel = format!("class/net/{}/device/sriov_numvfs", pf.netdev);
        let cmd = Cmd::write(&n.to_string(), &self.sys.path(&rel), &SysFs::shown(&rel));
        let hint = "sriov_numvfs takes a new count only from 0 (write 0 first), at most sriov_totalvfs";
        self.push(Step::run(cmd, Want::NumVfs { pf: pf.netdev.clone(), n, vfs }, hint));
    }

    fn vf_driver(&mut self, vf: &str, bind: bool) {
        let rel = format!("bus/pci/drivers/mlx5_core/{}", if bind { "bind" } else { "unbind" });
        let cmd = Cmd::write(vf, &self.sys.path(&rel), &SysFs::shown(&rel));
        let (driver, hint) = if bind {
            (Some("mlx5_core".to_string()), "the VF must exist and be unbound; see the kernel log for mlx5_core errors")
        } else {
            (None, "a VF in use (a VM, a DPDK process) cannot be unbound: stop its user first")
        };
        self.push(Step::run(cmd, Want::VfDriver { vf: vf.to_string(), driver }, hint));
    }

    fn eswitch(&mut self, pf: &Pf, mode: &str) {
        let cmd = Cmd::new("devlink", &["dev", "eswitch", "set", &format!("pci/{}", pf.pci), "mode", mode]);
        let hint = if mode == "switchdev" {
            "VFs must be unbound before switchdev; ConnectX-6 Lx refuses switchdev while VFs exist \
             (use --order switchdev-first)"
        } else {
            "VFs must be unbound, and the PF out of the bond, before leaving switchdev"
        };
        self.push(Step::run(cmd, Want::Eswitch { pci: pf.pci.clone(), mode: mode.to_string() }, hint));
    }

    fn tc_offload(&mut self, dev: &str, on: bool) {
        let v = if on { "on" } else { "off" };
        let cmd = Cmd::new("ethtool", &["-K", dev, "hw-tc-offload", v]);
        let hint = format!("hw-tc-offload needs the eswitch in switchdev mode (ethtool -k {dev} | grep hw-tc-offload)");
        self.push(Step::run(cmd, Want::TcOffload { dev: dev.to_string(), on }, hint));
    }

    fn link(&mut self, args: &[&str], want: Want, hint: &str) {
        let mut all = vec!["link"];
        all.extend_from_slice(args);
        self.push(Step::run(Cmd::new("ip", &all), want, hint));
    }

    fn admin(&mut self, dev: &str, up: bool) {
        let hint = format!("see `ip link show {dev}` and the kernel log");
        self.link(&["set", dev, if up { "up" } else { "down" }], Want::AdminUp { dev: dev.to_string(), up }, &hint);
    }

    fn qdisc_block(&mut self, dev: &str, block: u32) {
        let cmd = Cmd::new("tc", &["qdisc", "add", "dev", dev, "ingress_block", &block.to_string(), "ingress"]);
        let hint =
            format!("an ingress qdisc not on this block may be there: tc qdisc del dev {dev} ingress (or use --block)");
        self.push(Step::run(cmd, Want::Ingress { dev: dev.to_string(), ingress: Ingress::Block(block) }, hint));
    }

    fn qdisc_del(&mut self, dev: &str) {
        let cmd = Cmd::new("tc", &["qdisc", "del", "dev", dev, "ingress"]);
        self.push(Step::run(
            cmd,
            Want::Ingress { dev: dev.to_string(), ingress: Ingress::None },
            format!("see tc qdisc show dev {dev}"),
        ));
    }
}

fn refuse_foreign_drivers(pfs: &[Pf]) -> Result<()> {
    for v in pfs.iter().flat_map(|p| &p.vfs) {
        if let Some(d) = v.driver.as_deref().filter(|d| *d != "mlx5_core") {
            bail!(
                "VF {} is bound to {d} (a VM or DPDK?): VF-LAG needs every VF unbound while the LAG forms or breaks; \
                 release it first",
                v.pci
            );
        }
    }
    Ok(())
}

/// The bond's state must be one `up` can build on.
fn check_bond(host: &Host, setup: &Setup) -> Result<()> {
    for p in &host.pfs {
        if let Some(m) = p.master.as_deref().filter(|m| *m != setup.bond) {
            bail!("{} is in {m}: release it (ip link set {} nomaster) or give --bond {m}", p.netdev, p.netdev);
        }
    }
    let Some(b) = &host.bond else { return Ok(()) };
    if b.name != setup.bond {
        return Ok(());
    }
    match b.mode.as_deref() {
        None => bail!("{} exists and is not a bond: choose another --bond", b.name),
        Some(m) if m != setup.mode.kernel_name() => bail!(
            "bond {} is in mode {m}, not {}: delete it (ip link del {}) or give --mode {m}",
            b.name,
            setup.mode.kernel_name(),
            b.name
        ),
        _ => {}
    }
    let foreign: Vec<&String> = b.slaves.iter().filter(|s| !host.pfs.iter().any(|p| &p.netdev == *s)).collect();
    if !foreign.is_empty() {
        bail!(
            "bond {} has other slaves ({}): VF-LAG needs the two PFs alone in it",
            b.name,
            foreign.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        );
    }
    Ok(())
}

/// The PF and index of the VF the rule steers.
fn rule_vf(pfs: &[Pf], vfs: &[Vec<String>], setup: &Setup) -> Result<(usize, u32)> {
    let Some(want) = &setup.vf else { return Ok((0, 0)) };
    for (p, list) in vfs.iter().enumerate() {
        if let Some(i) = list.iter().position(|v| v == want) {
            return Ok((p, i as u32));
        }
    }
    let all: Vec<&str> = vfs.iter().flatten().map(String::as_str).collect();
    bail!(
        "--vf {want} is not a VF of {} or {} (their VFs: {})",
        pfs[0].netdev,
        pfs[1].netdev,
        if all.is_empty() { "none".to_string() } else { all.join(" ") }
    )
}

fn title(host: &Host, setup: &Setup, what: &str) -> String {
    format!(
        "VF-LAG {what}: {} + {} (card {}), bond {} mode {}",
        host.pfs[0].netdev,
        host.pfs[1].netdev,
        host.card,
        setup.bond,
        setup.mode.kernel_name()
    )
}

/// The steps that bring VF-LAG up on `host`, in `order` (Auto plans as VfsFirst).
pub fn up(host: &Host, setup: &Setup, sys: &SysFs, order: Order) -> Result<Plan> {
    let pfs = &host.pfs;
    let n = setup.num_vfs;
    let switchdev = pfs.iter().all(|p| p.eswitch.as_deref() == Some("switchdev"));
    // ConnectX-6 Lx: switchdev only without VFs, so existing VFs go first.
    let reset_vfs = order == Order::SwitchdevFirst && !switchdev;
    for p in pfs {
        if n > p.sriov_totalvfs {
            bail!("--num-vfs {n}: {} allows at most {} VFs (sriov_totalvfs)", p.netdev, p.sriov_totalvfs);
        }
        if p.sriov_numvfs != 0 && p.sriov_numvfs != n && !reset_vfs {
            bail!(
                "{} already has {} VFs: give --num-vfs {} to use them, or remove them first \
                 (echo 0 > /sys/class/net/{}/device/sriov_numvfs)",
                p.netdev,
                p.sriov_numvfs,
                p.sriov_numvfs,
                p.netdev
            );
        }
    }
    check_bond(host, setup)?;
    let vfs: Vec<Vec<String>> = pfs.iter().map(|p| p.vfs_for(n)).collect::<Result<_>>()?;
    let (rule_pf, rule_index) = rule_vf(pfs, &vfs, setup)?;
    let rep = setup.representor.clone().unwrap_or_else(|| pfs[rule_pf].representor_for(rule_index));
    let enslaved: Vec<&Pf> = pfs.iter().filter(|p| p.master.as_deref() == Some(setup.bond.as_str())).collect();
    let vf_lag = !matches!(host.lag.kind.as_deref(), Some(k) if k != "switchdev");
    // A LAG nothing can see (no debugfs, RDMA device or log) counts as formed once both PFs
    // are in switchdev and in the bond: unbinding the VFs on every run would cut their users.
    let lag_formed = switchdev && enslaved.len() == 2 && host.lag.active != Some(false) && vf_lag;
    // PFs in the bond without a VF-LAG (it failed to form, or it is a RoCE LAG) leave it, so
    // that joining again forms the LAG.
    let release = !lag_formed && (host.lag.active == Some(false) || !vf_lag);
    // VFs must be unbound while the eswitch changes mode and while the LAG forms.
    let unbind = !switchdev || !lag_formed;
    if unbind {
        refuse_foreign_drivers(pfs)?;
    }

    let mut s = Steps { sys, out: Vec::new() };
    if release {
        for p in &enslaved {
            let want = Want::Master { dev: p.netdev.clone(), master: None };
            s.link(&["set", &p.netdev, "nomaster"], want, &format!("see ip -d link show {}", p.netdev));
        }
    }
    if order == Order::SwitchdevFirst {
        if reset_vfs {
            for p in pfs.iter().filter(|p| p.sriov_numvfs != 0) {
                s.numvfs(p, 0, Vec::new());
            }
        }
        for p in pfs {
            s.eswitch(p, "switchdev");
        }
    }
    for (p, list) in pfs.iter().zip(&vfs) {
        s.numvfs(p, n, list.clone());
    }
    if unbind {
        for vf in vfs.iter().flatten() {
            s.vf_driver(vf, false);
        }
    }
    if order != Order::SwitchdevFirst {
        for p in pfs {
            s.eswitch(p, "switchdev");
        }
    }
    for p in pfs {
        s.tc_offload(&p.netdev, true);
    }
    let mode = setup.mode.kernel_name();
    s.push(Step::run(
        Cmd::new("modprobe", &["bonding", &format!("mode={mode}")]),
        Want::ModuleLoaded { name: "bonding".into() },
        "the bonding module must exist for this kernel",
    ));
    let b = setup.bond.as_str();
    let mut create = vec!["add", b, "type", "bond", "mode", mode];
    let hash = setup.xmit_hash_policy.clone().unwrap_or_default();
    let miimon = setup.miimon.map(|m| m.to_string()).unwrap_or_default();
    if setup.xmit_hash_policy.is_some() {
        create.extend(["xmit_hash_policy", hash.as_str()]);
    }
    if setup.miimon.is_some() {
        create.extend(["miimon", miimon.as_str()]);
    }
    let hint = format!("an interface of that name may exist: ip -d link show {b}");
    s.link(&create, Want::BondMode { bond: b.into(), mode: mode.into() }, &hint);
    if host.bond.as_ref().is_some_and(|h| h.name == b) {
        // The bond was there already: its options may need changing.
        for (option, value) in [("xmit_hash_policy", &hash), ("miimon", &miimon)] {
            if !value.is_empty() {
                let want = Want::BondOption { bond: b.into(), option: option.into(), value: value.clone() };
                s.link(
                    &["set", b, "type", "bond", option, value],
                    want,
                    "some options cannot change while slaves are up",
                );
            }
        }
    }
    for p in pfs {
        let want = Want::DownOrEnslaved { dev: p.netdev.clone(), bond: b.into() };
        s.link(&["set", &p.netdev, "down"], want, &format!("see `ip link show {}`", p.netdev));
    }
    for p in pfs {
        let want = Want::Master { dev: p.netdev.clone(), master: Some(b.into()) };
        s.link(&["set", &p.netdev, "master", b], want, "a PF must be down and in no other bond to be enslaved");
    }
    for p in pfs {
        s.admin(&p.netdev, true);
    }
    // The seed leaves the bond down; an 802.3ad bond that is down sends no LACPDUs and a bond
    // that is down watches no links, so it is brought up.
    s.admin(b, true);
    s.push(Step {
        action: Action::WaitLag { pf_pci: pfs[0].pci.clone(), timeout: setup.lag_timeout },
        want: Want::LagActive { pf_pci: pfs[0].pci.clone() },
        hint: "VFs must be unbound and both PFs in switchdev when the second PF joins the bond; \
               the bond mode must be 802.3ad, active-backup or balance-xor"
            .into(),
    });
    for vf in vfs.iter().flatten() {
        s.vf_driver(vf, true);
    }
    s.tc_offload(&rep, true);
    for dev in [b, pfs[0].netdev.as_str(), pfs[1].netdev.as_str()] {
        s.qdisc_block(dev, setup.block);
    }
    let blk = setup.block.to_string();
    let mac = setup.vf_mac.as_str();
    s.push(Step::run(
        Cmd::new(
            "tc",
            &[
                "filter", "add", "block", &blk, "protocol", "0x0800", "parent", "ffff:", "prio", "1", "flower",
                "dst_mac", mac, "action", "mirred", "egress", "redirect", "dev", &rep,
            ],
        ),
        Want::Flower { at: FilterAt::Block(setup.block), mac: mac.into(), src: false, to: rep.clone(), present: true },
        "tc flower (cls_flower) and the representor must exist, with hw-tc-offload on",
    ));
    if setup.reverse_rule {
        let cmd = Cmd::new("tc", &["qdisc", "add", "dev", &rep, "ingress"]);
        s.push(Step::run(
            cmd,
            Want::Ingress { dev: rep.clone(), ingress: Ingress::Own },
            format!("see tc qdisc show dev {rep}"),
        ));
        s.push(Step::run(
            Cmd::new(
                "tc",
                &[
                    "filter", "add", "dev", &rep, "protocol", "0x0800", "parent", "ffff:", "prio", "1", "flower",
                    "src_mac", mac, "action", "mirred", "egress", "redirect", "dev", b,
                ],
            ),
            Want::Flower { at: FilterAt::Dev(rep.clone()), mac: mac.into(), src: true, to: b.into(), present: true },
            "tc flower and the bond must exist",
        ));
    }
    let port_name = pfs[rule_pf].rep_port_name(rule_index);
    Ok(Plan {
        title: title(host, setup, "up"),
        steps: s.out,
        rep: Some(RepRef { planned: rep, pf_pci: pfs[rule_pf].pci.clone(), port_name }),
    })
}

/// The steps that take VF-LAG down again, in the reverse order, leaving the PFs up, in legacy
/// mode, without hw-tc-offload and (unless `keep_vfs`) without VFs.
pub fn down(host: &Host, setup: &Setup, sys: &SysFs, order: Order) -> Result<Plan> {
    let pfs = &host.pfs;
    let b = setup.bond.as_str();
    let mut s = Steps { sys, out: Vec::new() };
    let rep = setup.representor.clone().or_else(|| {
        let vfs: Vec<Vec<String>> = pfs.iter().map(|p| p.vfs.iter().map(|v| v.pci.clone()).collect()).collect();
        rule_vf(pfs, &vfs, setup).ok().map(|(p, i)| pfs[p].representor_for(i))
    });
    if let (true, Some(rep)) = (setup.reverse_rule, &rep) {
        s.qdisc_del(rep);
    }
    for dev in [pfs[1].netdev.as_str(), pfs[0].netdev.as_str(), b] {
        s.qdisc_del(dev);
    }
    let enslaved = pfs.iter().any(|p| p.master.is_some());
    let switchdev = pfs.iter().any(|p| p.eswitch.as_deref() != Some("legacy"));
    // The LAG breaks up and the eswitch leaves switchdev only with every VF unbound.
    if enslaved || switchdev {
        refuse_foreign_drivers(pfs)?;
        for v in pfs.iter().flat_map(|p| &p.vfs) {
            s.vf_driver(&v.pci, false);
        }
    }
    let ours = host.bond.as_ref().filter(|x| x.name == b);
    for p in pfs.iter().rev().filter(|p| p.master.as_deref() == Some(b)) {
        let want = Want::Master { dev: p.netdev.clone(), master: None };
        s.link(&["set", &p.netdev, "nomaster"], want, "VFs must be unbound when the LAG breaks up");
    }
    if let Some(bond) = ours {
        if bond.slaves.iter().all(|x| pfs.iter().any(|p| &p.netdev == x)) {
            s.link(&["del", b], Want::Absent { dev: b.into() }, &format!("see ip -d link show {b}"));
        }
    }
    // Leaving the bond takes a PF down; it was up before it joined.
    for p in pfs.iter().rev().filter(|p| p.master.as_deref() == Some(b)) {
        s.admin(&p.netdev, true);
    }
    for p in pfs.iter().rev() {
        s.tc_offload(&p.netdev, false);
    }
    let legacy = |s: &mut Steps| {
        for p in pfs.iter().rev() {
            s.eswitch(p, "legacy");
        }
    };
    let no_vfs = |s: &mut Steps| {
        for p in pfs.iter().rev() {
            s.numvfs(p, 0, Vec::new());
        }
    };
    if order == Order::SwitchdevFirst {
        no_vfs(&mut s);
        legacy(&mut s);
    } else {
        legacy(&mut s);
        if setup.keep_vfs {
            for v in pfs.iter().flat_map(|p| &p.vfs) {
                s.vf_driver(&v.pci, true);
            }
        } else {
            no_vfs(&mut s);
        }
    }
    Ok(Plan { title: title(host, setup, "down"), steps: s.out, rep: None })
}

impl Want {
    /// Renames the interface `old` to `new` where the state names it.
    pub fn rename(&mut self, old: &str, new: &str) {
        let fix = |s: &mut String| {
            if s == old {
                *s = new.to_string();
            }
        };
        match self {
            Want::TcOffload { dev, .. }
            | Want::Absent { dev }
            | Want::DownOrEnslaved { dev, .. }
            | Want::Master { dev, .. }
            | Want::AdminUp { dev, .. }
            | Want::Ingress { dev, .. } => fix(dev),
            Want::Flower { at, to, .. } => {
                fix(to);
                if let FilterAt::Dev(d) = at {
                    fix(d);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlx5::discover::{self, FOR_SETUP, FOR_TEARDOWN};
    use crate::mlx5::testing::fake::{self, vf_writes, FakeHost};
    use crate::runner::Runner;

    fn lines(p: &Plan) -> Vec<String> {
        p.steps.iter().map(Step::line).collect()
    }

    /// The plan for the fake host in its current state.
    fn plan_on(h: &mut FakeHost, setup: &Setup, order: Order, up_or_down: bool) -> Result<Plan> {
        let sleep = |_| {};
        let root = h.root();
        let mut env = fake::env_at(&root, h, &sleep);
        let needs = if up_or_down { FOR_SETUP } else { FOR_TEARDOWN };
        let host = discover::discover(&mut env, None, &setup.bond, needs)?;
        if up_or_down {
            up(&host, setup, &env.sys, order)
        } else {
            down(&host, setup, &env.sys, order)
        }
    }

    fn seed_plan(setup: &Setup, order: Order) -> Vec<String> {
        lines(&plan_on(&mut FakeHost::seed(), setup, order, true).unwrap())
    }

    const WAIT: &str = "# wait up to 5s for the hardware LAG (/sys/kernel/debug/mlx5/0000:01:00.0/lag/state: active)";

    #[test]
    fn on_the_seeds_host_the_plan_is_the_seeds_procedure() {
        let plan = seed_plan(&Setup::default(), Order::Auto);
        let seed: Vec<String> = fake::text("seed-commands.txt").lines().map(str::to_string).collect();
        assert_eq!(seed.len(), 35);
        // The two additions: the bond is brought up, and the LAG is waited for.
        let without: Vec<String> =
            plan.iter().filter(|l| !l.starts_with('#') && *l != "ip link set vf-bond up").cloned().collect();
        assert_eq!(without, seed);
        let at = |l: &str| plan.iter().position(|x| x == l).unwrap();
        assert_eq!(at("ip link set vf-bond up"), at("ip link set enp1s0f1np1 up") + 1);
        assert_eq!(at(WAIT), at("ip link set vf-bond up") + 1);
        assert_eq!(at("echo 0000:01:00.2 > /sys/bus/pci/drivers/mlx5_core/bind"), at(WAIT) + 1);
    }

    /// The whole sequence, with the parts that vary by option.
    fn expected(bond_create: &str, first: &[&str], tail: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = first.iter().map(|s| s.to_string()).collect();
        v.extend(vf_writes("unbind"));
        if !first.iter().any(|l| l.contains("switchdev")) {
            v.push("devlink dev eswitch set pci/0000:01:00.0 mode switchdev".into());
            v.push("devlink dev eswitch set pci/0000:01:00.1 mode switchdev".into());
        }
        let mode = bond_create.split(" mode ").nth(1).unwrap().split(' ').next().unwrap();
        v.extend([
            "ethtool -K enp1s0f0np0 hw-tc-offload on".to_string(),
            "ethtool -K enp1s0f1np1 hw-tc-offload on".to_string(),
            format!("modprobe bonding mode={mode}"),
            bond_create.to_string(),
        ]);
        v.extend(
            [
                "ip link set enp1s0f0np0 down",
                "ip link set enp1s0f1np1 down",
                "ip link set enp1s0f0np0 master vf-bond",
                "ip link set enp1s0f1np1 master vf-bond",
                "ip link set enp1s0f0np0 up",
                "ip link set enp1s0f1np1 up",
                "ip link set vf-bond up",
                WAIT,
            ]
            .map(String::from),
        );
        v.extend(vf_writes("bind"));
        v.extend(tail.iter().map(|s| s.to_string()));
        v
    }

    const NUMVFS: [&str; 2] = [
        "echo 4 > /sys/class/net/enp1s0f0np0/device/sriov_numvfs",
        "echo 4 > /sys/class/net/enp1s0f1np1/device/sriov_numvfs",
    ];
    const RULES: [&str; 5] = [
        "ethtool -K enp1s0f0npf0vf0 hw-tc-offload on",
        "tc qdisc add dev vf-bond ingress_block 22 ingress",
        "tc qdisc add dev enp1s0f0np0 ingress_block 22 ingress",
        "tc qdisc add dev enp1s0f1np1 ingress_block 22 ingress",
        "tc filter add block 22 protocol 0x0800 parent ffff: prio 1 flower dst_mac 52:54:00:00:00:01 action mirred egress redirect dev enp1s0f0npf0vf0",
    ];

    #[test]
    fn whole_sequence_802_3ad() {
        let want = expected("ip link add vf-bond type bond mode 802.3ad", &NUMVFS, &RULES);
        assert_eq!(seed_plan(&Setup::default(), Order::VfsFirst), want);
    }

    #[test]
    fn whole_sequence_active_backup_with_miimon() {
        let s = Setup { mode: BondMode::ActiveBackup, miimon: Some(50), ..Setup::default() };
        let want = expected("ip link add vf-bond type bond mode active-backup miimon 50", &NUMVFS, &RULES);
        assert_eq!(seed_plan(&s, Order::Auto), want);
    }

    #[test]
    fn whole_sequence_balance_xor_with_hash_block_vf_and_reverse_rule() {
        let s = Setup {
            mode: BondMode::Xor,
            xmit_hash_policy: Some("layer3+4".into()),
            miimon: Some(100),
            block: 7,
            vf: Some("0000:01:04.3".into()),
            vf_mac: "52:54:00:00:00:09".into(),
            reverse_rule: true,
            ..Setup::default()
        };
        let rep = "enp1s0f1npf1vf1";
        let tail = [
            format!("ethtool -K {rep} hw-tc-offload on"),
            "tc qdisc add dev vf-bond ingress_block 7 ingress".into(),
            "tc qdisc add dev enp1s0f0np0 ingress_block 7 ingress".into(),
            "tc qdisc add dev enp1s0f1np1 ingress_block 7 ingress".into(),
            format!("tc filter add block 7 protocol 0x0800 parent ffff: prio 1 flower dst_mac 52:54:00:00:00:09 action mirred egress redirect dev {rep}"),
            format!("tc qdisc add dev {rep} ingress"),
            format!("tc filter add dev {rep} protocol 0x0800 parent ffff: prio 1 flower src_mac 52:54:00:00:00:09 action mirred egress redirect dev vf-bond"),
        ];
        let tail: Vec<&str> = tail.iter().map(String::as_str).collect();
        let want = expected(
            "ip link add vf-bond type bond mode balance-xor xmit_hash_policy layer3+4 miimon 100",
            &NUMVFS,
            &tail,
        );
        assert_eq!(seed_plan(&s, Order::Auto), want);
    }

    #[test]
    fn whole_sequence_switchdev_first_for_connectx_6_lx() {
        let first = [
            "devlink dev eswitch set pci/0000:01:00.0 mode switchdev",
            "devlink dev eswitch set pci/0000:01:00.1 mode switchdev",
            NUMVFS[0],
            NUMVFS[1],
        ];
        let want = expected("ip link add vf-bond type bond mode 802.3ad", &first, &RULES);
        assert_eq!(seed_plan(&Setup::default(), Order::SwitchdevFirst), want);
        // With VFs there already, they go first.
        let mut h = FakeHost::seed();
        std::fs::write(h.sys().path("class/net/enp1s0f0np0/device/sriov_numvfs"), "2\n").unwrap();
        let p = lines(&plan_on(&mut h, &Setup::default(), Order::SwitchdevFirst, true).unwrap());
        assert_eq!(p[0], "echo 0 > /sys/class/net/enp1s0f0np0/device/sriov_numvfs");
        assert_eq!(p[1], "devlink dev eswitch set pci/0000:01:00.0 mode switchdev");
    }

    #[test]
    fn refusals_name_the_problem() {
        let refuse = |h: &mut FakeHost, s: &Setup| plan_on(h, s, Order::Auto, true).unwrap_err().to_string();
        let mut h = FakeHost::seed();
        std::fs::write(h.sys().path("class/net/enp1s0f1np1/device/sriov_numvfs"), "2\n").unwrap();
        let e = refuse(&mut h, &Setup::default());
        assert!(e.contains("enp1s0f1np1 already has 2 VFs: give --num-vfs 2"), "{e}");
        let e = refuse(&mut FakeHost::seed(), &Setup { num_vfs: 9, ..Setup::default() });
        assert!(e.contains("--num-vfs 9: enp1s0f0np0 allows at most 8 VFs"), "{e}");
        let e = refuse(&mut FakeHost::seed(), &Setup { vf: Some("0000:01:07.0".into()), ..Setup::default() });
        assert!(e.contains("--vf 0000:01:07.0 is not a VF of enp1s0f0np0 or enp1s0f1np1"), "{e}");

        let mut h = FakeHost::seed();
        h.run(&Cmd::new("ip", &["link", "add", "vf-bond", "type", "bond", "mode", "balance-rr"])).unwrap();
        let e = refuse(&mut h, &Setup::default());
        assert!(e.contains("bond vf-bond is in mode balance-rr, not 802.3ad: delete it (ip link del vf-bond)"), "{e}");
        h.run(&Cmd::new("ip", &["link", "add", "bond7", "type", "bond", "mode", "802.3ad"])).unwrap();
        h.run(&Cmd::new("ip", &["link", "set", "enp1s0f0np0", "master", "bond7"])).unwrap();
        let e = refuse(&mut h, &Setup::default());
        assert!(
            e.contains("enp1s0f0np0 is in bond7: release it (ip link set enp1s0f0np0 nomaster) or give --bond bond7"),
            "{e}"
        );

        let mut h = FakeHost::seed();
        let sys = h.sys();
        for pf in ["enp1s0f0np0", "enp1s0f1np1"] {
            h.run(&Cmd::write("4", &sys.path(&format!("class/net/{pf}/device/sriov_numvfs")), "x")).unwrap();
        }
        std::fs::remove_file(sys.path("bus/pci/devices/0000:01:00.3/driver")).unwrap();
        std::os::unix::fs::symlink(
            "../../../../bus/pci/drivers/vfio-pci",
            sys.path("bus/pci/devices/0000:01:00.3/driver"),
        )
        .unwrap();
        let e = refuse(&mut h, &Setup::default());
        assert!(e.contains("VF 0000:01:00.3 is bound to vfio-pci"), "{e}");
    }

    #[test]
    fn down_on_an_up_host_reverses_the_procedure() {
        let s = Setup { reverse_rule: true, ..Setup::default() };
        let mut h = FakeHost::seed();
        crate::mlx5::testing::up_on(&mut h, &s).unwrap();
        let mut want: Vec<String> = [
            "tc qdisc del dev enp1s0f0npf0vf0 ingress",
            "tc qdisc del dev enp1s0f1np1 ingress",
            "tc qdisc del dev enp1s0f0np0 ingress",
            "tc qdisc del dev vf-bond ingress",
        ]
        .map(String::from)
        .to_vec();
        want.extend(vf_writes("unbind"));
        want.extend(
            [
                "ip link set enp1s0f1np1 nomaster",
                "ip link set enp1s0f0np0 nomaster",
                "ip link del vf-bond",
                "ip link set enp1s0f1np1 up",
                "ip link set enp1s0f0np0 up",
                "ethtool -K enp1s0f1np1 hw-tc-offload off",
                "ethtool -K enp1s0f0np0 hw-tc-offload off",
                "devlink dev eswitch set pci/0000:01:00.1 mode legacy",
                "devlink dev eswitch set pci/0000:01:00.0 mode legacy",
                "echo 0 > /sys/class/net/enp1s0f1np1/device/sriov_numvfs",
                "echo 0 > /sys/class/net/enp1s0f0np0/device/sriov_numvfs",
            ]
            .map(String::from),
        );
        assert_eq!(lines(&plan_on(&mut h, &s, Order::Auto, false).unwrap()), want);
        // Keeping the VFs binds them again instead.
        let keep = Setup { keep_vfs: true, ..s.clone() };
        let p = lines(&plan_on(&mut h, &keep, Order::Auto, false).unwrap());
        assert_eq!(p[p.len() - 8..], vf_writes("bind")[..]);
        // ConnectX-6 Lx: the VFs go before the eswitch leaves switchdev.
        let p = lines(&plan_on(&mut h, &s, Order::SwitchdevFirst, false).unwrap());
        assert_eq!(
            p[p.len() - 4..],
            [
                "echo 0 > /sys/class/net/enp1s0f1np1/device/sriov_numvfs",
                "echo 0 > /sys/class/net/enp1s0f0np0/device/sriov_numvfs",
                "devlink dev eswitch set pci/0000:01:00.1 mode legacy",
                "devlink dev eswitch set pci/0000:01:00.0 mode legacy",
            ]
        );
    }
}
