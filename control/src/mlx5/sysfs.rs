//! Reads of sysfs (and debugfs) under a root that tests point at a fixture tree. Paths are
//! given relative to the root (`class/net/enp1s0f0np0/flags`) and shown as the operator knows
//! them (`/sys/class/net/...`), whatever the root.

use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct SysFs {
    root: PathBuf,
}

impl SysFs {
    pub fn new(root: impl Into<PathBuf>) -> SysFs {
        SysFs { root: root.into() }
    }

    /// The real path of `rel` (under the root).
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// `rel` as shown in commands and messages.
    pub fn shown(rel: &str) -> String {
        format!("/sys/{rel}")
    }

    /// The file's content, trimmed; None if it is absent or unreadable.
    pub fn read(&self, rel: &str) -> Option<String> {
        std::fs::read_to_string(self.path(rel)).ok().map(|s| s.trim().to_string())
    }

    pub fn read_u64(&self, rel: &str) -> Option<u64> {
        let v = self.read(rel)?;
        match v.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => v.parse().ok(),
        }
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.path(rel).exists()
    }

    /// Entry names of a directory, sorted; empty if it is absent.
    pub fn list(&self, rel: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.path(rel))
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        names.sort();
        names
    }

    /// The last component of where the symlink `rel` points (`driver` -> `mlx5_core`,
    /// `master` -> `vf-bond`, `virtfn0` -> `0000:01:00.2`).
    pub fn link_name(&self, rel: &str) -> Option<String> {
        let target = std::fs::read_link(self.path(rel)).ok()?;
        target.file_name().map(|n| n.to_string_lossy().into_owned())
    }
}

/// The interface flags bit that `ip link set X up` sets (IFF_UP).
pub const IFF_UP: u64 = 0x1;

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> SysFs {
        SysFs::new(crate::mlx5::testing::fake::fixtures().join(name).join("sys"))
    }

    #[test]
    fn reads_the_seed_fixture() {
        let up = fixture("up");
        assert_eq!(up.read("class/net/enp1s0f0np0/device/sriov_numvfs").as_deref(), Some("4"));
        assert_eq!(up.read_u64("class/net/enp1s0f0np0/flags"), Some(0x1803));
        assert_eq!(up.link_name("class/net/enp1s0f0np0/device/driver").as_deref(), Some("mlx5_core"));
        assert_eq!(up.link_name("class/net/enp1s0f0np0/master").as_deref(), Some("vf-bond"));
        assert_eq!(up.link_name("class/net/enp1s0f1np1/device/virtfn0").as_deref(), Some("0000:01:04.2"));
        assert!(up.list("class/net").contains(&"enp1s0f0npf0vf0".to_string()));
        assert_eq!(up.read("class/net/nothing/flags"), None);
        assert!(up.list("class/nothing").is_empty());
        assert_eq!(SysFs::shown("bus/pci/drivers/mlx5_core/unbind"), "/sys/bus/pci/drivers/mlx5_core/unbind");
    }
}
