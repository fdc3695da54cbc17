//! What the mlx5 driver does on a link event, for the lab's VF (`lab up --vf`): a thread polls the
//! host ends' carrier every 5 ms; on a change it swaps the representor's transmit hash for the one
//! of the live links (a dead link's buckets go to the live one, and come back with it), then writes
//! what mlx5 would show (`card_view.rs`): the debugfs tree `mlx5/<pci>/lag/` in the formats of the
//! kernel's `drivers/net/ethernet/mellanox/mlx5/core/lag/debugfs.c`, and the kernel log lines of
//! `lag/lag.c` (`mlx5_modify_lag` → `mlx5_lag_print_mapping`: "lag map active ports: %s", the
//! 1-based tx-enabled ports joined by ", "; the activation's "shared_fdb:%d mode:%s" and "Operation
//! mode is single FDB") and of `en_main.c` (`mlx5e_update_carrier`: "Link up", "Link down", printed
//! by `netdev_info` as `mlx5_core PCI NETDEV: ...`). 5.14-5.17 printed "modify lag map port 1:%d
//! port 2:%d" instead, 5.18 a header and a line per port; 5.19 and 6.x print the lines above
//! (`tests/fixtures/mlx5/README.md`). Modelled: kernel 6.x, hash mode, two ports, shared FDB with
//! native FDB selection (flags prints both lines since 5.19). The link's line is stamped when the
//! carrier change was seen, the map's when the new hash was in place. The lab has no kernel bond:
//! the model also shows one over the host ends as the bonding driver would in sysfs (`bond_files`),
//! for the soak's NIC sampling.
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

use super::card_view::{append_log, change_lines, uptime_now, write_atomic, write_bond, Live, Mlx5View};
use super::vf::{self, VfSpec};
use super::LabSpec;
use crate::runner::{Cmd, Runner, SystemRunner};

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
        let _ = write_bond(&vf.bond_sys_root(), &netdevs, shown);
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
                        let mut error = write_bond(&vf.bond_sys_root(), &netdevs, now).err().map(|e| format!("{e:#}"));
                        if live != Live::of(shown) {
                            let args = vf::replace_args(&vf, &vf.object(ifindex, live));
                            let args: Vec<&str> = args.iter().map(String::as_str).collect();
                            if let Err(e) = runner.check(&Cmd::new("tc", &args)) {
                                error.get_or_insert(format!("{e:#}"));
                            }
                        }
                        let view = Mlx5View { active: true, live, netdevs: netdevs.clone() };
                        if let Err(e) = view.write(&vf.debugfs_root()) {
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
    use crate::lab::card_view::{BOND, PF_PCI};
    use crate::mlx5::sysfs::SysFs;
    use crate::runner::Recorder;

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
        let member = |f: &str| std::fs::read_to_string(vf.bond_sys_root().join("class/net/p0/bonding_slave").join(f));
        assert_eq!((member("mii_status").unwrap(), member("state").unwrap()), ("down\n".into(), "backup\n".into()));
        let (members, _) = crate::mlx5::discover::read_members(&SysFs::new(vf.bond_sys_root()), BOND).unwrap();
        assert_eq!(members.iter().map(|m| m.active()).collect::<Vec<_>>(), [false, true]);
        std::fs::write(sys.join("class/net/p0/carrier"), "1\n").unwrap();
        while std::fs::read_to_string(&mapping).ok().as_deref() != Some("1\n2\n") {
            assert!(t0.elapsed() < Duration::from_secs(2), "no remap back");
            std::thread::sleep(Duration::from_millis(2));
        }
        let remaps = g.stop();
        assert_eq!(remaps.iter().map(|r| r.live).collect::<Vec<_>>(), [Live::of([false, true]), Live::BOTH]);
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
        v.write(&vf.debugfs_root()).unwrap();
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
