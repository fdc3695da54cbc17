//! What the lab's card shows, as mlx5 and the bonding driver would: the debugfs tree
//! `mlx5/<pci>/lag/` in the formats of the kernel's `drivers/net/ethernet/mellanox/mlx5/core/
//! lag/debugfs.c`, the kernel log lines of `lag/lag.c` and `en_main.c` (`mlx5_core PCI NETDEV:
//! ...`), and a bond over the host ends in sysfs (`bond_files`). Written by `lab up --vf` once
//! and by the LAG model (`lag_model.rs`) on every carrier change; only files, no commands.

use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use super::LabSpec;

/// The made-up PCI names of the two PFs (the seed's): link 0's, link 1's.
pub const PF_PCI: [&str; 2] = ["0000:01:00.0", "0000:01:00.1"];

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

    /// Writes the tree under the debugfs root for both PFs (one LAG: both show the same), each
    /// file atomically.
    pub fn write(&self, debugfs_root: &Path) -> Result<()> {
        for pci in PF_PCI {
            let dir = debugfs_root.join("mlx5").join(pci).join("lag");
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

/// Writes the bond's view under the sysfs root, each file atomically.
pub fn write_bond(root: &Path, netdevs: &[String; 2], carrier: [bool; 2]) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
