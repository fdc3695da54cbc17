//! Test helpers: the committed fixture trees (`control/tests/fixtures/mlx5/`), and `FakeHost`,
//! a simulated mlx5 host. It starts as a copy of the seed's tree and changes it as a kernel
//! would when commands run (VFs appear, the bond forms, the LAG activates only with every VF
//! unbound and both eswitches in switchdev), so `up`, `verify` and `down` can run end to end.

use std::collections::BTreeMap;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use tempfile::TempDir;

use crate::mlx5::parse::Ingress;
use crate::mlx5::sysfs::SysFs;
use crate::mlx5::Env;
use crate::runner::{Cmd, Output, Runner};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mlx5")
}

/// A recorded command output (`out/NAME`).
pub fn text(name: &str) -> String {
    std::fs::read_to_string(fixtures().join("out").join(name)).unwrap()
}

/// An Env on a tree holding `sys/` (debugfs in `sys/kernel/debug`), the kernel log unread.
pub fn env_at<'a>(root: &Path, runner: &'a mut dyn Runner, sleep: &'a dyn Fn(Duration)) -> Env<'a> {
    Env {
        sys: SysFs::new(root.join("sys")),
        debugfs: SysFs::new(root.join("sys/kernel/debug")),
        dmesg_file: None,
        runner,
        sleep,
    }
}

/// An Env on a committed fixture (`seed` or `up`), to read only.
pub fn fixture_env<'a>(name: &str, runner: &'a mut dyn Runner, sleep: &'a dyn Fn(Duration)) -> Env<'a> {
    env_at(&fixtures().join(name), runner, sleep)
}

/// A copy of a fixture tree to change (symlinks kept as symlinks).
pub fn copy_fixture(name: &str) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixtures().join(name), dir.path());
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let t = e.file_type().unwrap();
        if t.is_symlink() {
            symlink(std::fs::read_link(&src).unwrap(), &dst).unwrap();
        } else if t.is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// The seed's VFs: PF0's, then PF1's.
pub const SEED_VFS: [&str; 8] = [
    "0000:01:00.2",
    "0000:01:00.3",
    "0000:01:00.4",
    "0000:01:00.5",
    "0000:01:04.2",
    "0000:01:04.3",
    "0000:01:04.4",
    "0000:01:04.5",
];

/// The seed's `echo VF > /sys/bus/pci/drivers/mlx5_core/{unbind,bind}` lines, in its order.
pub fn vf_writes(what: &str) -> Vec<String> {
    SEED_VFS.iter().map(|v| format!("echo {v} > /sys/bus/pci/drivers/mlx5_core/{what}")).collect()
}

const PCI: &str = "devices/pci0000:00/0000:00:01.0";
const PFS: [(&str, &str); 2] = [("enp1s0f0np0", "0000:01:00.0"), ("enp1s0f1np1", "0000:01:00.1")];

fn fail(code: i32, stderr: &str) -> Output {
    Output { code, stderr: format!("{stderr}\n"), ..Default::default() }
}

fn ok(stdout: String) -> Output {
    Output { stdout, ..Default::default() }
}

/// A filter the fake holds.
#[derive(Debug, Clone)]
struct Rule {
    at: String,
    mac: String,
    src: bool,
    to: String,
}

/// A simulated mlx5 host (the seed's card) that answers commands as the kernel would.
pub struct FakeHost {
    pub dir: TempDir,
    pub log: Vec<String>,
    eswitch: BTreeMap<String, String>,
    tc_offload: BTreeMap<String, bool>,
    qdiscs: BTreeMap<String, Ingress>,
    rules: Vec<Rule>,
    kernel_log: Vec<String>,
    /// Commands starting with these fail with the output given (failure injection).
    pub fail_on: Vec<(String, Output)>,
    /// ConnectX-6 Lx: no eswitch mode change while the PF has VFs.
    pub no_mode_change_with_vfs: bool,
    /// The firmware refuses to create the LAG.
    pub lag_refused: bool,
    /// The LAG forms this many kernel-log reads after the bond does (the driver's bond work
    /// runs later); 0: at once.
    pub lag_delay: u32,
    pending: Option<u32>,
    lag_on: bool,
    lag_hidden: bool,
    /// The stamp of the kernel log's next lines (a flap's), else a line count.
    uptime: Option<f64>,
}

impl FakeHost {
    /// The seed's host before the procedure.
    pub fn seed() -> FakeHost {
        FakeHost {
            dir: copy_fixture("seed"),
            log: Vec::new(),
            eswitch: PFS.iter().map(|(_, p)| (p.to_string(), "legacy".to_string())).collect(),
            tc_offload: BTreeMap::new(),
            qdiscs: BTreeMap::new(),
            rules: Vec::new(),
            kernel_log: Vec::new(),
            fail_on: Vec::new(),
            no_mode_change_with_vfs: false,
            lag_refused: false,
            lag_delay: 0,
            pending: None,
            lag_on: false,
            lag_hidden: false,
            uptime: None,
        }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    pub fn sys(&self) -> SysFs {
        SysFs::new(self.dir.path().join("sys"))
    }

    /// The commands that changed something (not the reads).
    pub fn changes(&self) -> Vec<String> {
        self.log.iter().filter(|l| !is_read(l)).cloned().collect()
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.dir.path().join("sys").join(rel)
    }

    fn put(&self, rel: &str, v: &str) {
        let p = self.p(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, format!("{v}\n")).unwrap();
    }

    fn link(&self, rel: &str, target: &str) {
        let p = self.p(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let _ = std::fs::remove_file(&p);
        symlink(target, p).unwrap();
    }

    fn rm(&self, rel: &str) {
        let p = self.p(rel);
        if p.is_symlink() || p.is_file() {
            let _ = std::fs::remove_file(&p);
        } else {
            let _ = std::fs::remove_dir_all(&p);
        }
    }

    fn exists(&self, dev: &str) -> bool {
        self.p(&format!("class/net/{dev}")).exists()
    }

    fn sysfs(&self) -> SysFs {
        self.sys()
    }

    fn pf_of(&self, pci: &str) -> Option<(usize, &'static str)> {
        PFS.iter().position(|(_, p)| *p == pci).map(|i| (i, PFS[i].0))
    }

    fn numvfs(&self, fnum: usize) -> u32 {
        self.sysfs().read_u64(&format!("{PCI}/{}/sriov_numvfs", PFS[fnum].1)).unwrap_or(0) as u32
    }

    fn vfs(&self, fnum: usize) -> Vec<String> {
        let dev = format!("{PCI}/{}", PFS[fnum].1);
        (0..self.numvfs(fnum)).filter_map(|k| self.sysfs().link_name(&format!("{dev}/virtfn{k}"))).collect()
    }

    fn bound(&self, vf: &str) -> bool {
        self.p(&format!("{PCI}/{vf}/driver")).is_symlink()
    }

    fn netdev(&self, dev_dir: &str, name: &str, port_name: Option<&str>) {
        let d = format!("{dev_dir}/net/{name}");
        self.put(&format!("{d}/flags"), "0x1003");
        self.put(&format!("{d}/operstate"), "up");
        if let Some(p) = port_name {
            self.put(&format!("{d}/phys_port_name"), p);
        }
        let bdf = Path::new(dev_dir).file_name().unwrap().to_string_lossy().into_owned();
        self.link(&format!("{d}/device"), &format!("../../../{bdf}"));
        self.link(&format!("class/net/{name}"), &format!("../../{d}"));
    }

    fn rep_name(fnum: usize, k: usize) -> String {
        format!("enp1s0f{fnum}npf{fnum}vf{k}")
    }

    fn make_reps(&self, fnum: usize) {
        for k in 0..self.numvfs(fnum) as usize {
            self.netdev(&format!("{PCI}/{}", PFS[fnum].1), &Self::rep_name(fnum, k), Some(&format!("pf{fnum}vf{k}")));
        }
    }

    fn drop_reps(&mut self, fnum: usize) {
        for k in 0..64 {
            let name = Self::rep_name(fnum, k);
            if self.exists(&name) {
                self.rm(&format!("class/net/{name}"));
                self.rm(&format!("{PCI}/{}/net/{name}", PFS[fnum].1));
                self.tc_offload.remove(&name);
                self.qdiscs.remove(&name);
            }
        }
    }

    fn bind(&self, vf: &str, fnum: usize, k: usize) {
        self.link(&format!("{PCI}/{vf}/driver"), "../../../../bus/pci/drivers/mlx5_core");
        self.link(&format!("bus/pci/drivers/mlx5_core/{vf}"), &format!("../../../../{PCI}/{vf}"));
        self.netdev(&format!("{PCI}/{vf}"), &format!("enp1s0f{fnum}v{k}"), None);
    }

    fn unbind(&self, vf: &str) {
        self.rm(&format!("{PCI}/{vf}/driver"));
        self.rm(&format!("bus/pci/drivers/mlx5_core/{vf}"));
        for n in self.sysfs().list(&format!("{PCI}/{vf}/net")) {
            self.rm(&format!("class/net/{n}"));
        }
        self.rm(&format!("{PCI}/{vf}/net"));
    }

    fn set_numvfs(&mut self, fnum: usize, n: u32) -> Output {
        let now = self.numvfs(fnum);
        if now != 0 && n != 0 {
            return fail(1, "echo: write error: Device or resource busy");
        }
        let pf = PFS[fnum].1;
        if n == 0 {
            for vf in self.vfs(fnum) {
                self.unbind(&vf);
                self.rm(&format!("{PCI}/{vf}"));
                self.rm(&format!("bus/pci/devices/{vf}"));
            }
            for k in 0..now {
                self.rm(&format!("{PCI}/{pf}/virtfn{k}"));
            }
            self.drop_reps(fnum);
        }
        self.put(&format!("{PCI}/{pf}/sriov_numvfs"), &n.to_string());
        let offset = if fnum == 0 { 2 } else { 33 };
        let pf_addr = crate::mlx5::pci::Addr::parse(pf).unwrap();
        for k in 0..n as usize {
            let vf = pf_addr.vf(offset, 1, k as u32).unwrap().to_string();
            self.put(&format!("{PCI}/{vf}/vendor"), "0x15b3");
            self.link(&format!("{PCI}/{vf}/physfn"), &format!("../{pf}"));
            self.link(&format!("{PCI}/{pf}/virtfn{k}"), &format!("../{vf}"));
            self.link(&format!("bus/pci/devices/{vf}"), &format!("../../../{PCI}/{vf}"));
            self.bind(&vf, fnum, k);
        }
        if n > 0 && self.eswitch[pf] == "switchdev" {
            self.make_reps(fnum);
        }
        Output::default()
    }

    fn vf_driver(&mut self, vf: &str, bind: bool) -> Output {
        if !self.p(&format!("{PCI}/{vf}")).exists() {
            return fail(1, "echo: write error: No such device");
        }
        match (bind, self.bound(vf)) {
            (true, true) => return fail(1, "echo: write error: Device or resource busy"),
            (false, false) => return fail(1, "echo: write error: No such device"),
            _ => {}
        }
        if bind {
            let fnum = (0..2).find(|&f| self.vfs(f).iter().any(|v| v == vf)).unwrap();
            let k = self.vfs(fnum).iter().position(|v| v == vf).unwrap();
            self.bind(vf, fnum, k);
        } else {
            self.unbind(vf);
        }
        Output::default()
    }

    fn set_eswitch(&mut self, pci: &str, mode: &str) -> Output {
        let Some((fnum, _)) = self.pf_of(pci) else { return fail(1, "devlink answers: No such device") };
        if self.eswitch[pci] == mode {
            return Output::default();
        }
        if self.no_mode_change_with_vfs && self.numvfs(fnum) > 0 {
            return fail(1, "Error: mlx5_core: Can't change eswitch mode while VFs are enabled.\nkernel answers: Operation not supported");
        }
        if self.vfs(fnum).iter().any(|v| self.bound(v)) {
            return fail(1, "devlink answers: Device or resource busy");
        }
        self.eswitch.insert(pci.to_string(), mode.to_string());
        if mode == "switchdev" {
            self.make_reps(fnum);
        } else {
            self.drop_reps(fnum);
        }
        self.tc_offload.insert(PFS[fnum].0.to_string(), false);
        Output::default()
    }

    fn flags(&self, dev: &str) -> u64 {
        self.sysfs().read_u64(&format!("class/net/{dev}/flags")).unwrap_or(0)
    }

    fn set_flags(&self, dev: &str, flags: u64) {
        self.put(&format!("class/net/{dev}/flags"), &format!("{flags:#x}"));
        self.put(&format!("class/net/{dev}/operstate"), if flags & 1 != 0 { "up" } else { "down" });
    }

    fn slaves(&self, bond: &str) -> Vec<String> {
        self.sysfs()
            .read(&format!("class/net/{bond}/bonding/slaves"))
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    }

    fn lag_active(&self) -> bool {
        self.lag_on
    }

    /// A host where nothing shows the LAG: no debugfs, no RDMA device, dmesg refused.
    pub fn hide_lag(&mut self) {
        self.lag_hidden = true;
        self.rm("kernel/debug/mlx5");
    }

    /// What the mlx5 LAG code does when a bond's membership changes.
    fn lag_event(&mut self) {
        let masters: Vec<Option<String>> =
            PFS.iter().map(|(n, _)| self.sysfs().link_name(&format!("class/net/{n}/master"))).collect();
        let bonded = match (&masters[0], &masters[1]) {
            (Some(a), Some(b)) if a == b => self.slaves(a).len() == 2,
            _ => false,
        };
        let switchdev = self.eswitch.values().all(|m| m == "switchdev");
        let vfs_bound = (0..2).flat_map(|f| self.vfs(f)).any(|v| self.bound(&v));
        let pf0 = "0000:01:00.0";
        if bonded && switchdev && !self.lag_active() {
            if vfs_bound || self.lag_refused {
                self.klog(pf0, "Failed to activate VF LAG");
                self.klog(pf0, "Make sure all VFs are unbound prior to VF LAG activation or deactivation");
                return;
            }
            if self.lag_delay > 0 {
                self.pending = Some(self.lag_delay);
            } else {
                self.activate();
            }
        } else if !bonded && self.lag_active() {
            if vfs_bound {
                self.klog(pf0, "Failed to deactivate VF LAG; driver restart required");
                self.klog(pf0, "Make sure all VFs are unbound prior to VF LAG activation or deactivation");
            }
            self.lag_on = false;
            if self.lag_hidden {
                return;
            }
            for (_, pf) in PFS {
                let d = format!("kernel/debug/mlx5/{pf}/lag");
                self.put(&format!("{d}/state"), "disabled");
                for f in ["type", "port_sel_mode", "flags", "mapping"] {
                    self.rm(&format!("{d}/{f}"));
                }
            }
        }
    }

    fn activate(&mut self) {
        self.pending = None;
        self.lag_on = true;
        if self.lag_hidden {
            return;
        }
        for (_, pf) in PFS {
            let d = format!("kernel/debug/mlx5/{pf}/lag");
            self.put(&format!("{d}/state"), "active");
            self.put(&format!("{d}/type"), "switchdev");
            self.put(&format!("{d}/port_sel_mode"), "hash");
            self.put(&format!("{d}/flags"), "shared_fdb:on\nfdb_selection_mode:native");
            self.put(&format!("{d}/mapping"), "1\n2");
        }
        let pf0 = "0000:01:00.0";
        self.klog(pf0, "lag map active ports: 1, 2");
        self.klog(pf0, "shared_fdb:1 mode:hash");
        self.klog(pf0, "Operation mode is single FDB");
    }

    fn klog(&mut self, pci: &str, msg: &str) {
        if self.lag_hidden {
            return;
        }
        let at = self.uptime.unwrap_or(100.0 + self.kernel_log.len() as f64);
        self.kernel_log.push(format!("[{at:>12.6}] mlx5_core {pci}: {msg}"));
    }

    /// Takes PF `fnum`'s link down or up as the kernel sees a cable pulled and put back, at
    /// uptime `at` (the log's stamps): en_main.c's carrier change (`carrier`, `operstate`, "Link
    /// down"), the bond's (its member's `mii_status` and `state`, bond_main.c's "link status
    /// definitely down, disabling slave"), and with the LAG active
    /// lag.c's remap: debugfs `mapping` to the live port(s) and "lag map active ports: %s" (6.x).
    pub fn flap(&mut self, fnum: usize, up: bool, at: f64) {
        self.uptime = Some(at);
        let (pf, pci) = PFS[fnum];
        self.put(&format!("class/net/{pf}/carrier"), if up { "1" } else { "0" });
        self.put(&format!("class/net/{pf}/operstate"), if up { "up" } else { "down" });
        self.kernel_log.push(format!("[{at:>12.6}] mlx5_core {pci} {pf}: Link {}", if up { "up" } else { "down" }));
        if self.p(&format!("class/net/{pf}/bonding_slave")).exists() {
            self.put(&format!("class/net/{pf}/bonding_slave/mii_status"), if up { "up" } else { "down" });
            self.put(&format!("class/net/{pf}/bonding_slave/state"), if up { "active" } else { "backup" });
            let bond = self.sysfs().link_name(&format!("class/net/{pf}/master")).unwrap_or_default();
            let what = if up {
                "link status definitely up, 100000 Mbps full duplex"
            } else {
                "link status definitely down, disabling slave"
            };
            self.kernel_log.push(format!("[{at:>12.6}] {bond}: (slave {pf}): {what}"));
        }
        let live: Vec<String> = PFS
            .iter()
            .enumerate()
            .filter(|(_, (n, _))| self.sysfs().read(&format!("class/net/{n}/carrier")).as_deref() != Some("0"))
            .map(|(i, _)| (i + 1).to_string())
            .collect();
        // Both down: mlx5_infer_tx_enabled falls back to every port (the native mapping).
        let live = if live.is_empty() { vec!["1".to_string(), "2".to_string()] } else { live };
        if self.lag_active() && !self.lag_hidden {
            let shown = self.sysfs().read(&format!("kernel/debug/mlx5/{}/lag/mapping", PFS[0].1));
            if shown.as_deref() != Some(live.join("\n").as_str()) {
                for (_, p) in PFS {
                    self.put(&format!("kernel/debug/mlx5/{p}/lag/mapping"), &live.join("\n"));
                }
                self.klog(PFS[0].1, &format!("lag map active ports: {}", live.join(", ")));
            }
        }
        self.uptime = None;
    }

    fn ip(&mut self, a: &[&str]) -> Output {
        match a {
            ["link", "add", name, "type", "bond", "mode", mode, opts @ ..] => {
                if self.exists(name) {
                    return fail(2, "RTNETLINK answers: File exists");
                }
                let num = ["balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad"]
                    .iter()
                    .position(|m| m == mode)
                    .unwrap();
                let d = format!("devices/virtual/net/{name}");
                self.put(&format!("{d}/flags"), "0x1402");
                self.put(&format!("{d}/operstate"), "down");
                self.put(&format!("{d}/bonding/mode"), &format!("{mode} {num}"));
                self.put(&format!("{d}/bonding/slaves"), "");
                self.put(&format!("{d}/bonding/xmit_hash_policy"), "layer2 0");
                self.put(&format!("{d}/bonding/miimon"), "100");
                self.link(&format!("class/net/{name}"), &format!("../../{d}"));
                for kv in opts.chunks(2) {
                    self.put(&format!("{d}/bonding/{}", kv[0]), &format!("{} 1", kv[1]));
                }
                Output::default()
            }
            ["link", "set", dev, "type", "bond", opt, value] => {
                self.put(&format!("class/net/{dev}/bonding/{opt}"), value);
                Output::default()
            }
            ["link", "set", dev, state @ ("up" | "down")] => {
                if !self.exists(dev) {
                    return fail(1, &format!("Cannot find device \"{dev}\""));
                }
                let f = self.flags(dev);
                self.set_flags(dev, if *state == "up" { f | 1 } else { f & !1 });
                Output::default()
            }
            ["link", "set", dev, "master", bond] => {
                if self.sysfs().read(&format!("class/net/{bond}/bonding/mode")).is_none() {
                    return fail(2, "RTNETLINK answers: Operation not supported");
                }
                self.link(&format!("class/net/{dev}/master"), &format!("../../../../../virtual/net/{bond}"));
                let mut s = self.slaves(bond);
                s.push(dev.to_string());
                self.put(&format!("class/net/{bond}/bonding/slaves"), &s.join(" "));
                self.put(&format!("class/net/{dev}/bonding_slave/state"), "active");
                self.put(&format!("class/net/{dev}/bonding_slave/mii_status"), "up");
                self.set_flags(dev, self.flags(dev) | 0x800);
                self.lag_event();
                Output::default()
            }
            ["link", "set", dev, "nomaster"] => {
                if let Some(bond) = self.sysfs().link_name(&format!("class/net/{dev}/master")) {
                    let s: Vec<String> = self.slaves(&bond).into_iter().filter(|s| s != dev).collect();
                    self.put(&format!("class/net/{bond}/bonding/slaves"), &s.join(" "));
                    self.rm(&format!("class/net/{dev}/master"));
                    self.rm(&format!("class/net/{dev}/bonding_slave"));
                    // Leaving a bond closes the device.
                    self.set_flags(dev, self.flags(dev) & !0x801);
                    self.lag_event();
                }
                Output::default()
            }
            ["link", "del", dev] => {
                if !self.exists(dev) {
                    return fail(1, &format!("Cannot find device \"{dev}\""));
                }
                for s in self.slaves(dev) {
                    self.ip(&["link", "set", &s, "nomaster"]);
                }
                self.rm(&format!("devices/virtual/net/{dev}"));
                self.rm(&format!("class/net/{dev}"));
                self.qdiscs.remove(*dev);
                self.prune_rules();
                Output::default()
            }
            _ => panic!("the fake host does not know `ip {}`", a.join(" ")),
        }
    }

    /// Filters go with the qdiscs that hold them: a block's with its last qdisc.
    fn prune_rules(&mut self) {
        let blocks: Vec<String> = self
            .qdiscs
            .values()
            .filter_map(|q| if let Ingress::Block(b) = q { Some(format!("block {b}")) } else { None })
            .collect();
        let own: Vec<String> =
            self.qdiscs.iter().filter(|(_, q)| **q == Ingress::Own).map(|(d, _)| format!("dev {d}")).collect();
        self.rules.retain(|r| blocks.contains(&r.at) || own.contains(&r.at));
    }

    fn tc(&mut self, a: &[&str]) -> Output {
        match a {
            ["qdisc", "show", "dev", dev] => {
                if !self.exists(dev) {
                    return fail(1, &format!("Cannot find device \"{dev}\""));
                }
                let q = match self.qdiscs.get(*dev) {
                    None | Some(Ingress::None) => String::new(),
                    Some(Ingress::Own) => "qdisc ingress ffff: parent ffff:fff1 ---------------- \n".into(),
                    Some(Ingress::Block(b)) => {
                        format!("qdisc ingress ffff: parent ffff:fff1 ingress_block {b} ---------------- \n")
                    }
                };
                ok(format!("qdisc mq 0: root \n{q}"))
            }
            ["qdisc", "add", "dev", dev, rest @ ..] => {
                if !self.exists(dev) {
                    return fail(1, &format!("Cannot find device \"{dev}\""));
                }
                if self.qdiscs.contains_key(*dev) {
                    return fail(2, "Error: Exclusivity flag on, cannot modify.");
                }
                let q = match rest {
                    ["ingress_block", b, "ingress"] => Ingress::Block(b.parse().unwrap()),
                    ["ingress"] => Ingress::Own,
                    _ => panic!("tc qdisc add {rest:?}"),
                };
                self.qdiscs.insert(dev.to_string(), q);
                Output::default()
            }
            ["qdisc", "del", "dev", dev, "ingress"] => {
                if self.qdiscs.remove(*dev).is_none() {
                    return fail(2, "Error: Invalid handle.");
                }
                self.prune_rules();
                Output::default()
            }
            ["filter", "add", kind, target, .., "flower", which, mac, "action", "mirred", "egress", "redirect", "dev", to] =>
            {
                let at = format!("{kind} {target}");
                let held = match *kind {
                    "block" => self.qdiscs.values().any(|q| matches!(q, Ingress::Block(b) if b.to_string() == *target)),
                    _ => self.qdiscs.contains_key(*target),
                };
                if !held {
                    return fail(1, &format!("Cannot find {at}"));
                }
                if !self.exists(to) {
                    return fail(1, &format!("Cannot find device \"{to}\""));
                }
                self.rules.push(Rule { at, mac: mac.to_string(), src: *which == "src_mac", to: to.to_string() });
                Output::default()
            }
            ["filter", "show", kind, target, ..] => {
                let at = format!("{kind} {target}");
                let in_hw =
                    self.tc_offload.iter().filter(|(d, on)| **on && PFS.iter().any(|(p, _)| p == *d)).count() == 2;
                let mut s = String::new();
                for r in self.rules.iter().filter(|r| r.at == at) {
                    s += &format!(
                        "filter protocol ip pref 1 flower chain 0 \nfilter protocol ip pref 1 flower chain 0 handle 0x1 \n  {} {}\n  eth_type ipv4\n  {}\n\taction order 1: mirred (Egress Redirect to device {}) stolen\n\tindex 1 ref 1 bind 1\n\n",
                        if r.src { "src_mac" } else { "dst_mac" },
                        r.mac,
                        if in_hw { "in_hw in_hw_count 2" } else { "not_in_hw" },
                        r.to
                    );
                }
                ok(s)
            }
            _ => panic!("the fake host does not know `tc {}`", a.join(" ")),
        }
    }

    fn answer(&mut self, cmd: &Cmd) -> Output {
        if let Some(w) = &cmd.write_to {
            let rel = w.path.strip_prefix(self.dir.path().join("sys")).unwrap().to_string_lossy().into_owned();
            let v = cmd.args.join(" ");
            if let Some(pf) = rel.strip_prefix("class/net/").and_then(|r| r.strip_suffix("/device/sriov_numvfs")) {
                let fnum = PFS.iter().position(|(n, _)| *n == pf).unwrap();
                return self.set_numvfs(fnum, v.parse().unwrap());
            }
            return match rel.as_str() {
                "bus/pci/drivers/mlx5_core/unbind" => self.vf_driver(&v, false),
                "bus/pci/drivers/mlx5_core/bind" => self.vf_driver(&v, true),
                _ => panic!("the fake host does not know writes to {rel}"),
            };
        }
        let args: Vec<&str> = cmd.args.iter().map(String::as_str).collect();
        match (cmd.program.as_str(), args.as_slice()) {
            ("devlink", ["dev", "eswitch", "show", dev]) => {
                let pci = dev.trim_start_matches("pci/");
                match self.eswitch.get(pci) {
                    Some(m) => ok(format!("{dev}: mode {m} inline-mode none encap-mode basic\n")),
                    None => fail(1, "devlink answers: No such device"),
                }
            }
            ("devlink", ["dev", "eswitch", "set", dev, "mode", mode]) => {
                self.set_eswitch(dev.trim_start_matches("pci/"), mode)
            }
            ("ethtool", ["-k", dev]) => match self.exists(dev) {
                true => ok(text("ethtool-k-off.txt").replace("enp1s0f0np0", dev).replace(
                    "hw-tc-offload: off",
                    &format!("hw-tc-offload: {}", if self.tc_offload.get(*dev) == Some(&true) { "on" } else { "off" }),
                )),
                false => fail(1, "netlink error: no device matches name"),
            },
            ("ethtool", ["-i", dev]) => match PFS.iter().find(|(n, _)| n == dev) {
                Some((_, pci)) => ok(text("ethtool-i-enp1s0f0np0.txt").replace("0000:01:00.0", pci)),
                None if self.exists(dev) => ok(text("ethtool-i-enp1s0f0np0.txt")),
                None => fail(1, "netlink error: no device matches name"),
            },
            ("ethtool", ["-K", dev, "hw-tc-offload", v]) => {
                if !self.exists(dev) {
                    return fail(1, "netlink error: no device matches name");
                }
                self.tc_offload.insert(dev.to_string(), *v == "on");
                Output::default()
            }
            ("modprobe", ["--dry-run", "--quiet", "bonding"]) => Output::default(),
            ("modprobe", ["bonding", _mode]) => {
                std::fs::create_dir_all(self.p("module/bonding")).unwrap();
                Output::default()
            }
            ("ip", a) => self.ip(a),
            ("tc", a) => self.tc(a),
            ("dmesg", []) if self.lag_hidden => fail(1, "dmesg: read kernel buffer failed: Operation not permitted"),
            ("dmesg", []) => {
                match self.pending {
                    Some(1) => self.activate(),
                    Some(n) => self.pending = Some(n - 1),
                    None => {}
                }
                ok(self.kernel_log.iter().map(|l| format!("{l}\n")).collect())
            }
            _ => panic!("the fake host does not know `{cmd}`"),
        }
    }
}

/// Commands that only look.
pub fn is_read(line: &str) -> bool {
    line == "dmesg"
        || line.starts_with("modprobe --dry-run")
        || line.starts_with("ethtool -k ")
        || line.starts_with("ethtool -S ")
        || line.starts_with("ethtool -i ")
        || line.contains(" show")
}

impl Runner for FakeHost {
    fn run(&mut self, cmd: &Cmd) -> Result<Output> {
        let line = cmd.to_string();
        self.log.push(line.clone());
        if let Some((_, o)) = self.fail_on.iter().find(|(p, _)| line.starts_with(p.as_str())) {
            return Ok(o.clone());
        }
        Ok(self.answer(cmd))
    }

    fn has_program(&mut self, _: &str) -> bool {
        true
    }
}
