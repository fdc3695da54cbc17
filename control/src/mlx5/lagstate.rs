//! Whether the card's hardware LAG is active, from the best source there is:
//! 1. debugfs `mlx5/<pf pci>/lag/` (kernel >= 5.19): `state`, `type`, `port_sel_mode`,
//!    `flags`, `mapping`, `members` (all but `state` and `members` fail to read while the LAG
//!    is inactive);
//! 2. an RDMA device `mlx5_bond_*` in `/sys/class/infiniband` (mlx5_ib makes one per LAG);
//! 3. the kernel log's LAG lines (the last activation, and failures after it).

use serde::Serialize;

use super::dmesg::{self, LogVerdict};
use super::Env;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Debugfs,
    Infiniband,
    KernelLog,
    /// Nothing could tell.
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LagState {
    pub source: Source,
    /// None when no source could tell.
    pub active: Option<bool>,
    /// `switchdev` for VF-LAG (debugfs `type`).
    pub kind: Option<String>,
    /// `hash`, `queue_affinity` or `mpesw` (debugfs `port_sel_mode`, or the log's `mode:`).
    pub port_sel_mode: Option<String>,
    pub shared_fdb: Option<bool>,
    /// debugfs `mapping` lines (`1`, `2` in hash mode; `1:1`, `2:2` in queue affinity).
    pub mapping: Vec<String>,
    /// The PFs in the LAG (debugfs `members`).
    pub members: Vec<String>,
    /// Known failures in the kernel log after the last activation.
    pub failures: Vec<&'static str>,
    /// One line: where the facts came from and what they say.
    pub detail: String,
}

impl LagState {
    fn new(source: Source, active: Option<bool>, detail: String) -> LagState {
        LagState {
            source,
            active,
            kind: None,
            port_sel_mode: None,
            shared_fdb: None,
            mapping: Vec::new(),
            members: Vec::new(),
            failures: Vec::new(),
            detail,
        }
    }
}

/// The debugfs directory of a PF's LAG, relative to the debugfs root.
pub fn debugfs_dir(pf_pci: &str) -> String {
    format!("mlx5/{pf_pci}/lag")
}

/// The ports (1-based) debugfs `mapping` sends traffic to: hash mode lists the active ports
/// (`2`), queue affinity each port's target (`1:2`, `2:2`).
pub fn mapping_ports(mapping: &[String]) -> Vec<u32> {
    let mut ports: Vec<u32> =
        mapping.iter().filter_map(|l| l.rsplit(':').next().and_then(|p| p.trim().parse().ok())).collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// Reads the LAG state of the card whose first PF is `pf_pci`. `log` is the kernel log when
/// it could be read.
pub fn read(env: &Env, pf_pci: &str, log: Option<&str>) -> LagState {
    let failures = log.map(|l| LogVerdict::of(&dmesg::lag_lines(l)).failures_after).unwrap_or_default();
    let dir = debugfs_dir(pf_pci);
    if let Some(state) = env.debugfs.read(&format!("{dir}/state")) {
        let lines = |f: &str| -> Vec<String> {
            env.debugfs.read(&format!("{dir}/{f}")).map(|t| t.lines().map(str::to_string).collect()).unwrap_or_default()
        };
        let flags = lines("flags");
        let mut s = LagState::new(Source::Debugfs, Some(state == "active"), String::new());
        s.kind = env.debugfs.read(&format!("{dir}/type"));
        s.port_sel_mode = env.debugfs.read(&format!("{dir}/port_sel_mode"));
        s.shared_fdb = flags.iter().find_map(|f| f.strip_prefix("shared_fdb:")).map(|v| v == "on");
        s.mapping = lines("mapping");
        s.members = lines("members");
        s.failures = failures;
        s.detail = format!(
            "debugfs {dir}/state: {state}{}",
            if state == "active" {
                format!(
                    ", type {}, port_sel_mode {}, shared_fdb {}, mapping {}",
                    s.kind.as_deref().unwrap_or("?"),
                    s.port_sel_mode.as_deref().unwrap_or("?"),
                    s.shared_fdb.map_or("?", |b| if b { "on" } else { "off" }),
                    if s.mapping.is_empty() { "?".to_string() } else { s.mapping.join(" ") }
                )
            } else {
                String::new()
            }
        );
        return s;
    }
    let bonds: Vec<String> =
        env.sys.list("class/infiniband").into_iter().filter(|d| d.starts_with("mlx5_bond_")).collect();
    if let Some(b) = bonds.first() {
        let mut s = LagState::new(Source::Infiniband, Some(true), format!("RDMA device {b} exists (no debugfs)"));
        s.failures = failures;
        return s;
    }
    if let Some(l) = log {
        let v = LogVerdict::of(&dmesg::lag_lines(l));
        if let Some(active) = v.active() {
            let detail = match (&v.last_activation, v.failures_after.first()) {
                (_, Some(f)) => format!("kernel log: \"{f}\""),
                (Some(a), None) => format!("kernel log: \"{a}\" (the last activation logged; no debugfs)"),
                (None, None) => unreachable!("active() is None without either"),
            };
            let mut s = LagState::new(Source::KernelLog, Some(active), detail);
            s.port_sel_mode = v.mode.clone();
            s.shared_fdb = v.shared_fdb.or(v.single_fdb.then_some(true));
            s.failures = v.failures_after;
            return s;
        }
    }
    LagState::new(
        Source::None,
        None,
        "no LAG facts: no debugfs (mount -t debugfs none /sys/kernel/debug), no mlx5_bond_* RDMA device, \
         no LAG lines in the kernel log"
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlx5::testing::fake;

    #[test]
    fn debugfs_of_the_up_fixture_is_an_active_switchdev_hash_lag() {
        let (mut r, sleep) = (crate::runner::Recorder::default(), |_| {});
        let env = fake::fixture_env("up", &mut r, &sleep);
        let s = read(&env, "0000:01:00.0", None);
        assert_eq!((s.source, s.active), (Source::Debugfs, Some(true)));
        assert_eq!(
            (s.kind.as_deref(), s.port_sel_mode.as_deref(), s.shared_fdb),
            (Some("switchdev"), Some("hash"), Some(true))
        );
        assert_eq!(s.mapping, ["1", "2"]);
        assert_eq!(s.members, ["0000:01:00.0", "0000:01:00.1"]);
        assert!(
            s.detail.contains("state: active, type switchdev, port_sel_mode hash, shared_fdb on, mapping 1 2"),
            "{}",
            s.detail
        );
    }

    #[test]
    fn mapping_lines_of_either_mode_name_the_live_ports() {
        let m = |l: &[&str]| mapping_ports(&l.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(m(&["1", "2"]), [1, 2]);
        assert_eq!(m(&["2"]), [2]);
        assert_eq!(m(&["1:2", "2:2"]), [2]);
        assert_eq!(m(&["1:1", "2:2"]), [1, 2]);
        assert!(m(&[]).is_empty());
    }

    #[test]
    fn inactive_in_debugfs_with_the_failure_from_the_log() {
        let (mut r, sleep) = (crate::runner::Recorder::default(), |_| {});
        let env = fake::fixture_env("seed", &mut r, &sleep);
        let log = "[ 5.0] mlx5_core 0000:01:00.0: Failed to activate VF LAG\n";
        let s = read(&env, "0000:01:00.0", Some(log));
        assert_eq!((s.source, s.active, s.kind.clone()), (Source::Debugfs, Some(false), None));
        assert_eq!(s.failures, ["Failed to activate VF LAG"]);
    }

    #[test]
    fn falls_back_to_infiniband_then_the_log_then_nothing() {
        let dir = fake::copy_fixture("up");
        std::fs::remove_dir_all(dir.path().join("sys/kernel/debug/mlx5")).unwrap();
        let (mut r, sleep) = (crate::runner::Recorder::default(), |_| {});
        let env = fake::env_at(dir.path(), &mut r, &sleep);
        let s = read(&env, "0000:01:00.0", None);
        assert_eq!((s.source, s.active), (Source::Infiniband, Some(true)));
        std::fs::remove_file(dir.path().join("sys/class/infiniband/mlx5_bond_0")).unwrap();
        let s = read(&env, "0000:01:00.0", Some(&fake::text("dmesg-seed.log")));
        assert_eq!(
            (s.source, s.active, s.port_sel_mode.as_deref(), s.shared_fdb),
            (Source::KernelLog, Some(true), Some("hash"), Some(true))
        );
        let s = read(&env, "0000:01:00.0", Some("[ 1.0] eth0: link up\n"));
        assert_eq!((s.source, s.active), (Source::None, None));
        assert!(s.detail.contains("mount -t debugfs"), "{}", s.detail);
    }
}
