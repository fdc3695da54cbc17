//! What the mlx5 driver does on a link event, for the lab's VF (`lab up --vf`): a thread polls
//! the host ends' carrier every 5 ms; on a change it swaps the representor's transmit hash for
//! the one of the live links (a dead link's buckets go to the live one, and come back with it),
//! then writes what mlx5 would show: the debugfs tree `mlx5/<pci>/lag/` in the formats of the
//! kernel's `drivers/net/ethernet/mellanox/mlx5/core/lag/debugfs.c`, and the kernel log lines
//! of `lag/lag.c` (`mlx5_modify_lag` → `mlx5_lag_print_mapping`: "lag map active ports: %s",
//! the 1-based tx-enabled ports joined by ", "; the activation's "shared_fdb:%d mode:%s" and
//! "Operation mode is single FDB") and of `en_main.c` (`mlx5e_update_carrier`: "Link up",
//! "Link down", printed by `netdev_info` as `mlx5_core PCI NETDEV: ...`). 5.14-5.17 printed
//! "modify lag map port 1:%d port 2:%d" instead, 5.18 a header and a line per port; 5.19 and
//! 6.x print the lines above (`tests/fixtures/mlx5/README.md`). Modelled: kernel 6.x, hash
//! mode, two ports, shared FDB with native FDB selection (flags prints both lines since 5.19).
//! The link's line is stamped when the carrier change was seen, the map's when the new hash
//! was in place. The lab has no kernel bond: the model also shows one over the host ends as
//! the bonding driver would in sysfs (`bond_files`), for the soak's NIC sampling.
//!
//! A carrier change while no vflag process runs the model (`lab flap --vf`, a soak, `lab model
//! --vf`) is not remapped: the hash keeps the old mapping.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

use super::vf::{self, VfSpec, PF_PCI};
use super::LabSpec;
use crate::runner::{Cmd, Runner, SystemRunner};

/// Which links are tx-enabled: bit 0 link 0, bit 1 link 1. None alive is the native mapping,
/// as `mlx5_infer_tx_affinity_mapping` keeps it, so it maps as both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Live(u8);

impl Live {
    pub const BOTH: Live = Live(3);
    pub const ALL: [Live; 3] = [Live(3), Live(1), Live(2)];

    /// From the links' carriers.
    pub fn of(carrier: [bool; 2]) -> Live {
        match carrier {
            [true, false] => Live(1),
            [false, true] => Live(2),
            _ => Live(3),
        }
    }

    pub fn bits(self) -> u8 {
        self.0
    }

    /// debugfs `mapping` in hash mode (and the log's list): the tx-enabled ports, 1-based.
    pub fn ports(self) -> Vec<u8> {
        (0..2).filter(|i| self.0 & (1 << i) != 0).map(|i| i + 1).collect()
    }
}

/// What mlx5 shows for the LAG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mlx5View {
    pub active: bool,
    pub live: Live,
    /// The host ends, as the PFs' netdevs.
    pub netdevs: [String; 2],
}

impl Mlx5View {
    pub fn activated(lab: &LabSpec) -> Mlx5View {
        Mlx5View { active: true, live: Live::BOTH, netdevs: [lab.links[0].0.clone(), lab.links[1].0.clone()] }
    }

    /// (file, contents) of `mlx5/<pci>/lag/`, as debugfs.c's `*_show` print them. While the
    /// LAG is inactive only `state` and `members` read (the others fail with EINVAL): absent.
    pub fn files(&self) -> Vec<(&'static str, String)> {
        let members = format!("{}\n{}\n", PF_PCI[0], PF_PCI[1]);
        if !self.active {
            return vec![("state", "disabled\n".into()), ("members", members)];
        }
        let mapping: String = self.live.ports().iter().map(|p| format!("{p}\n")).collect();
        vec![
            ("state", "active\n".into()),
            ("type", "switchdev\n".into()),
            ("port_sel_mode", "hash\n".into()),
            ("flags", "shared_fdb:on\nfdb_selection_mode:native\n".into()),
            ("mapping", mapping),
            ("members", members),
        ]
    }

    /// Writes the tree for both PFs (one LAG: both show the same), each file atomically.
    pub fn write(&self, vf: &VfSpec) -> Result<()> {
        for pci in PF_PCI {
            let dir = vf.debugfs_root().join("mlx5").join(pci).join("lag");
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            for (name, text) in self.files() {
                write_atomic(&dir.join(name), &text)?;
            }
            for gone in ["type", "port_sel_mode", "flags", "mapping"] {
                if !self.active {
                    let _ = std::fs::remove_file(dir.join(gone));
                }
            }
        }
        Ok(())
    }

    /// The lines `mlx5_activate_lag` logs in hash mode with a shared FDB.
    pub fn activation_lines(&self, at: f64) -> String {
        [
            format!("lag map active ports: {}", join_ports(self.live)),
            "shared_fdb:1 mode:hash".to_string(),
            "Operation mode is single FDB".to_string(),
        ]
        .iter()
        .map(|m| log_line(at, PF_PCI[0], None, m))
        .collect()
    }
}

/// The bond the model shows over the PFs (the seed's name).
pub const BOND: &str = "vf-bond";

/// Where the model shows its bond as sysfs would (`<run>/sys`): the lab has no kernel bond
/// (DPDK's bonding is not the kernel's), so the bond is the model's, read by the same reader
/// as a real host's `/sys`.
pub fn bond_sys_root(vf: &VfSpec) -> PathBuf {
    vf.run_dir.join("sys")
}

/// (file under the sysfs root, contents) of the bond over `netdevs` as the bonding driver
/// shows it: `class/net/BOND/bonding/{mode,slaves}` (802.3ad, the seed's mode), each member's
/// `bonding_slave/mii_status` (`up`/`down`, as miimon sees the carrier) and `state`
/// (`active`/`backup`: a member without carrier leaves the active aggregator).
pub fn bond_files(netdevs: &[String; 2], carrier: [bool; 2]) -> Vec<(String, String)> {
    let mut files = vec![
        (format!("class/net/{BOND}/bonding/mode"), "802.3ad 4\n".to_string()),
        (format!("class/net/{BOND}/bonding/slaves"), format!("{} {}\n", netdevs[0], netdevs[1])),
    ];
    for (n, up) in netdevs.iter().zip(carrier) {
        let (mii, state) = if up { ("up", "active") } else { ("down", "backup") };
        files.push((format!("class/net/{n}/bonding_slave/mii_status"), format!("{mii}\n")));
        files.push((format!("class/net/{n}/bonding_slave/state"), format!("{state}\n")));
    }
    files
}

/// Writes the bond's view, each file atomically.
pub fn write_bond(vf: &VfSpec, netdevs: &[String; 2], carrier: [bool; 2]) -> Result<()> {
    let root = bond_sys_root(vf);
    for (rel, text) in bond_files(netdevs, carrier) {
        let path = root.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        write_atomic(&path, &text)?;
    }
    Ok(())
}

fn join_ports(live: Live) -> String {
    live.ports().iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ")
}

/// A dmesg line: `[  1234.567890] mlx5_core PCI[ NETDEV]: MESSAGE` (printk's `[%5lu.%06lu]`).
pub fn log_line(at: f64, pci: &str, netdev: Option<&str>, msg: &str) -> String {
    let micros = (at * 1e6).round() as u64;
    let dev = netdev.map(|n| format!("{pci} {n}")).unwrap_or_else(|| pci.to_string());
    format!("[{:>5}.{:06}] mlx5_core {dev}: {msg}\n", micros / 1_000_000, micros % 1_000_000)
}

/// The bonding driver's miimon line for a member (bond_main.c's `slave_info`, which prints
/// `BOND: (slave MEMBER): ...`); the model's bond notices as soon as the carrier changes.
pub fn bond_line(at: f64, member: &str, up: bool) -> String {
    let what = if up {
        "link status definitely up, 10000 Mbps full duplex"
    } else {
        "link status definitely down, disabling slave"
    };
    let micros = (at * 1e6).round() as u64;
    format!("[{:>5}.{:06}] {BOND}: (slave {member}): {what}\n", micros / 1_000_000, micros % 1_000_000)
}

/// The lines of one carrier change: the link's when it was seen (`seen`, uptime s), then the
/// new map when it was in place (`done`), if it changed.
pub fn change_lines(seen: f64, done: f64, netdevs: &[String; 2], before: [bool; 2], after: [bool; 2]) -> String {
    let mut s = String::new();
    for i in 0..2 {
        if before[i] != after[i] {
            s.push_str(&log_line(seen, PF_PCI[i], Some(&netdevs[i]), if after[i] { "Link up" } else { "Link down" }));
            s.push_str(&bond_line(seen, &netdevs[i], after[i]));
        }
    }
    if Live::of(before) != Live::of(after) {
        s.push_str(&log_line(done, PF_PCI[0], None, &format!("lag map active ports: {}", join_ports(Live::of(after)))));
    }
    s
}

/// Seconds since boot, as printk stamps them: /proc/uptime's first field.
pub fn uptime_now() -> f64 {
    std::fs::read_to_string("/proc/uptime").ok().and_then(|t| t.split_whitespace().next()?.parse().ok()).unwrap_or(0.0)
}

/// Writes `path.tmp`, then renames it over `path`.
pub fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
}

/// Appends to the log in one write.
pub fn append_log(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    f.write_all(text.as_bytes()).with_context(|| format!("writing {}", path.display()))
}

/// One remap the model made.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Remap {
    /// The carriers seen.
    pub carrier: [bool; 2],
    pub live: Live,
    /// When the change was seen, and when the new hash and the mapping were in place.
    #[serde(skip)]
    pub seen: Instant,
    #[serde(skip)]
    pub done: Instant,
    /// The `tc filter replace` failed: its message (the mapping is still written).
    pub error: Option<String>,
}

/// Runs the model; `LagModel::start` returns its guard.
pub struct LagModel;

/// Stops the model's thread on drop.
pub struct LagModelGuard {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    remaps: Arc<Mutex<Vec<Remap>>>,
}

impl LagModelGuard {
    /// The remaps so far, oldest first.
    pub fn remaps(&self) -> Vec<Remap> {
        self.remaps.lock().map(|r| r.clone()).unwrap_or_default()
    }

    pub fn stop(mut self) -> Vec<Remap> {
        self.halt();
        self.remaps()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for LagModelGuard {
    fn drop(&mut self) {
        self.halt();
    }
}

/// A host end's carrier: `/sys/class/net/NAME/carrier` is `1` (unreadable: an admin-down link).
pub fn carrier(sys_root: &Path, name: &str) -> bool {
    std::fs::read_to_string(sys_root.join("class/net").join(name).join("carrier")).is_ok_and(|t| t.trim() == "1")
}

pub const POLL: Duration = Duration::from_millis(5);

impl LagModel {
    /// The model on this host: carriers from /sys, commands as processes. The lab with its VF
    /// must be up (`vf::up`).
    pub fn start(lab: &LabSpec, vf: &VfSpec) -> Result<LagModelGuard> {
        let idx = vf::host_ifindexes(&mut SystemRunner, lab)?;
        LagModel::start_with(lab, vf, idx, PathBuf::from("/sys"), Box::new(SystemRunner), POLL)
    }

    /// The model with another sysfs root and runner (tests).
    pub fn start_with(
        lab: &LabSpec,
        vf: &VfSpec,
        ifindex: [u32; 2],
        sys_root: PathBuf,
        mut runner: Box<dyn Runner + Send>,
        poll: Duration,
    ) -> Result<LagModelGuard> {
        let stop = Arc::new(AtomicBool::new(false));
        let remaps = Arc::new(Mutex::new(Vec::new()));
        let (lab, vf) = (lab.clone(), vf.clone());
        let netdevs = [lab.links[0].0.clone(), lab.links[1].0.clone()];
        // What the hash and the tree show now: `up` left both live; a model that stopped with
        // a link down left the tree saying so.
        let mut shown = read_shown(&vf).unwrap_or([true, true]);
        let (uptime0, t0) = (uptime_now(), Instant::now());
        // The bond's view as the carriers were last acted on (a lab brought up before the
        // model wrote one has none yet).
        let _ = write_bond(&vf, &netdevs, shown);
        let (s, m) = (stop.clone(), remaps.clone());
        let thread = std::thread::Builder::new()
            .name("lag-model".into())
            .spawn(move || {
                while !s.load(Ordering::SeqCst) {
                    let now = [carrier(&sys_root, &netdevs[0]), carrier(&sys_root, &netdevs[1])];
                    if now != shown {
                        let seen = Instant::now();
                        let live = Live::of(now);
                        // The bond's view first, as soon as the carrier is seen: a bond's
                        // miimon notices, and its notice is what makes mlx5 remap.
                        let mut error = write_bond(&vf, &netdevs, now).err().map(|e| format!("{e:#}"));
                        if live != Live::of(shown) {
                            let args = vf::replace_args(&vf, &vf.object(ifindex, live));
                            let args: Vec<&str> = args.iter().map(String::as_str).collect();
                            if let Err(e) = runner.check(&Cmd::new("tc", &args)) {
                                error.get_or_insert(format!("{e:#}"));
                            }
                        }
                        let view = Mlx5View { active: true, live, netdevs: netdevs.clone() };
                        if let Err(e) = view.write(&vf) {
                            error.get_or_insert(format!("{e:#}"));
                        }
                        // The carrier's line when it was seen, the map's when it was in place
                        // (after the hash swap), as the kernel prints them.
                        let at = |i: Instant| uptime0 + i.duration_since(t0).as_secs_f64();
                        let lines = change_lines(at(seen), at(Instant::now()), &netdevs, shown, now);
                        let _ = append_log(&vf.kern_log(), &lines);
                        let _ =
                            write_atomic(&vf.run_dir.join("carrier"), &format!("{} {}\n", now[0] as u8, now[1] as u8));
                        if let Ok(mut r) = m.lock() {
                            r.push(Remap { carrier: now, live, seen, done: Instant::now(), error });
                        }
                        shown = now;
                    }
                    std::thread::sleep(poll);
                }
            })
            .context("starting the LAG model's thread")?;
        let _ = lab;
        Ok(LagModelGuard { stop, thread: Some(thread), remaps })
    }
}

/// The carriers the model last acted on (`<run>/carrier`), if one ran.
fn read_shown(vf: &VfSpec) -> Option<[bool; 2]> {
    let t = std::fs::read_to_string(vf.run_dir.join("carrier")).ok()?;
    let mut w = t.split_whitespace().map(|x| x == "1");
    Some([w.next()?, w.next()?])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlx5::sysfs::SysFs;
    use crate::runner::Recorder;

    #[test]
    fn the_debugfs_files_are_as_debugfs_c_prints_them() {
        let lab = LabSpec::default();
        let mut v = Mlx5View::activated(&lab);
        let files: std::collections::BTreeMap<_, _> = v.files().into_iter().collect();
        assert_eq!(files["state"], "active\n");
        assert_eq!(files["type"], "switchdev\n");
        assert_eq!(files["port_sel_mode"], "hash\n");
        assert_eq!(files["flags"], "shared_fdb:on\nfdb_selection_mode:native\n");
        assert_eq!(files["mapping"], "1\n2\n");
        assert_eq!(files["members"], "0000:01:00.0\n0000:01:00.1\n");
        v.live = Live::of([false, true]);
        assert_eq!(v.files()[4], ("mapping", "2\n".to_string()));
        v.live = Live::of([false, false]);
        assert_eq!(v.files()[4], ("mapping", "1\n2\n".to_string()), "none live: the native mapping");
        v.active = false;
        assert_eq!(v.files().iter().map(|f| f.0).collect::<Vec<_>>(), ["state", "members"]);
    }

    #[test]
    fn log_lines_are_dmesg_shaped_and_read_back_by_the_mlx5_parser() {
        assert_eq!(
            log_line(12.3456789, "0000:01:00.0", None, "lag map active ports: 2"),
            "[   12.345679] mlx5_core 0000:01:00.0: lag map active ports: 2\n"
        );
        assert_eq!(
            log_line(123456.5, "0000:01:00.1", Some("p1"), "Link down"),
            "[123456.500000] mlx5_core 0000:01:00.1 p1: Link down\n"
        );
        let nd = ["p0".to_string(), "p1".to_string()];
        let down = change_lines(5.0, 5.04, &nd, [true, true], [false, true]);
        assert_eq!(
            down,
            "[    5.000000] mlx5_core 0000:01:00.0 p0: Link down\n\
             [    5.000000] vf-bond: (slave p0): link status definitely down, disabling slave\n\
             [    5.040000] mlx5_core 0000:01:00.0: lag map active ports: 2\n"
        );
        let both = change_lines(6.0, 6.0, &nd, [false, true], [false, false]);
        assert!(both.ends_with("lag map active ports: 1, 2\n"), "{both}");
        let v = Mlx5View::activated(&LabSpec::default());
        let log = format!("{}{down}", v.activation_lines(1.0));
        let lines = crate::mlx5::dmesg::lag_lines(&log);
        use crate::mlx5::dmesg::LagKind;
        assert_eq!(lines[0].kind, LagKind::ActivePorts(vec![1, 2]));
        assert_eq!(lines[1].kind, LagKind::Mode { shared_fdb: true, mode: "hash".into() });
        assert_eq!(lines[2].kind, LagKind::SingleFdb);
        assert_eq!(lines.last().unwrap().kind, LagKind::ActivePorts(vec![2]));
    }

    #[test]
    fn the_model_remaps_on_a_carrier_change_and_back() {
        let dir = tempfile::tempdir().unwrap();
        let lab = LabSpec::default();
        let mut vf = VfSpec::new(&lab);
        vf.run_dir = dir.path().join("run");
        std::fs::create_dir_all(&vf.run_dir).unwrap();
        let sys = dir.path().join("sys");
        for h in ["p0", "p1"] {
            std::fs::create_dir_all(sys.join("class/net").join(h)).unwrap();
            std::fs::write(sys.join("class/net").join(h).join("carrier"), "1\n").unwrap();
        }
        let g = LagModel::start_with(&lab, &vf, [7, 9], sys.clone(), Box::new(Recorder::default()), POLL).unwrap();
        std::thread::sleep(Duration::from_millis(30));
        assert!(g.remaps().is_empty(), "nothing changed");
        std::fs::write(sys.join("class/net/p0/carrier"), "0\n").unwrap();
        let mapping = vf.debugfs_root().join("mlx5/0000:01:00.0/lag/mapping");
        let t0 = Instant::now();
        while std::fs::read_to_string(&mapping).ok().as_deref() != Some("2\n") {
            assert!(t0.elapsed() < Duration::from_secs(2), "no remap");
            std::thread::sleep(Duration::from_millis(2));
        }
        // The bond's view: the member without carrier is down and out of the aggregator.
        let member = |f: &str| std::fs::read_to_string(bond_sys_root(&vf).join("class/net/p0/bonding_slave").join(f));
        assert_eq!((member("mii_status").unwrap(), member("state").unwrap()), ("down\n".into(), "backup\n".into()));
        let (members, _) = crate::mlx5::discover::read_members(&SysFs::new(bond_sys_root(&vf)), BOND).unwrap();
        assert_eq!(members.iter().map(|m| m.active()).collect::<Vec<_>>(), [false, true]);
        std::fs::write(sys.join("class/net/p0/carrier"), "1\n").unwrap();
        while std::fs::read_to_string(&mapping).ok().as_deref() != Some("1\n2\n") {
            assert!(t0.elapsed() < Duration::from_secs(2), "no remap back");
            std::thread::sleep(Duration::from_millis(2));
        }
        let remaps = g.stop();
        assert_eq!(remaps.iter().map(|r| r.live).collect::<Vec<_>>(), [Live(2), Live(3)]);
        let log = std::fs::read_to_string(vf.kern_log()).unwrap();
        assert!(log.contains("mlx5_core 0000:01:00.0 p0: Link down\n"), "{log}");
        assert!(log.contains("lag map active ports: 2\n") && log.contains("p0: Link up\n"), "{log}");
    }

    #[test]
    fn the_mlx5_reader_reads_the_tree_as_a_real_cards() {
        let dir = tempfile::tempdir().unwrap();
        let lab = LabSpec::default();
        let mut vf = VfSpec::new(&lab);
        vf.run_dir = dir.path().to_path_buf();
        let mut v = Mlx5View::activated(&lab);
        v.live = Live::of([false, true]);
        v.write(&vf).unwrap();
        let (mut r, sleep) = (Recorder::default(), |_| {});
        let env = crate::mlx5::Env {
            sys: crate::mlx5::sysfs::SysFs::new(dir.path().join("nosys")),
            debugfs: crate::mlx5::sysfs::SysFs::new(vf.debugfs_root()),
            dmesg_file: None,
            runner: &mut r,
            sleep: &sleep,
        };
        let s = crate::mlx5::lagstate::read(&env, PF_PCI[1], None);
        assert_eq!(s.active, Some(true));
        assert_eq!(
            (s.kind.as_deref(), s.port_sel_mode.as_deref(), s.shared_fdb),
            (Some("switchdev"), Some("hash"), Some(true))
        );
        assert_eq!(s.mapping, ["2"]);
        assert_eq!(s.members, ["0000:01:00.0", "0000:01:00.1"]);
    }

    #[test]
    fn the_model_replaces_the_filter_with_the_live_links_program() {
        // The runner the thread owns is moved in; what it ran is seen through the tree and the
        // remaps, the command line through `replace_args`.
        let lab = LabSpec::default();
        let mut vf = VfSpec::new(&lab);
        vf.run_dir = PathBuf::from("/run/vflag/lab-sw");
        assert_eq!(
            vf::replace_args(&vf, &vf.object([7, 9], Live::of([true, false]))).join(" "),
            "filter replace dev vf0rep ingress pref 1 handle 1 bpf da obj /run/vflag/lab-sw/lag_hash-7-9-1.o sec tc"
        );
    }
}
