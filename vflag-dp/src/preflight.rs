//! Checks of the host made before the EAL starts, so that common set-up mistakes get a one-line
//! error with the fix instead of a page of EAL messages.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Free hugepages of every size, from sysfs (None if sysfs does not say).
pub fn free_hugepages(sysfs: &Path) -> Option<u64> {
    let dir = std::fs::read_dir(sysfs.join("kernel/mm/hugepages")).ok()?;
    let mut total = 0;
    for entry in dir.flatten() {
        let text = std::fs::read_to_string(entry.path().join("free_hugepages")).ok()?;
        total += text.trim().parse::<u64>().ok()?;
    }
    Some(total)
}

/// The mount points of hugetlbfs, from a /proc/mounts text.
pub fn hugetlbfs_mounts(mounts: &str) -> Vec<&str> {
    mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(2) == Some(&"hugetlbfs")).then(|| f.get(1).copied()).flatten()
        })
        .collect()
}

/// Effective uid and gid of this process, from a /proc/self/status text.
pub fn effective_ids(status: &str) -> Option<(u32, u32)> {
    let field = |name: &str| -> Option<u32> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line.split_whitespace().nth(2)?.parse().ok()
    };
    Some((field("Uid:")?, field("Gid:")?))
}

/// Whether a user may create files in a directory with this owner and mode.
pub fn may_write(uid: u32, gid: u32, owner: u32, group: u32, mode: u32) -> bool {
    uid == 0 || (owner == uid && mode & 0o200 != 0) || (group == gid && mode & 0o020 != 0) || mode & 0o002 != 0
}

/// Errors with a hint when the EAL could not get hugepages.
pub fn check_hugepages() -> Result<(), String> {
    if free_hugepages(Path::new("/sys")) == Some(0) {
        return Err("no free hugepages: reserve some (echo 1024 > /proc/sys/vm/nr_hugepages) \
                    or run without them (--no-huge -m 512)"
            .into());
    }
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let dirs = hugetlbfs_mounts(&mounts);
    if !mounts.is_empty() && dirs.is_empty() {
        return Err("no hugetlbfs is mounted: mount -t hugetlbfs none /dev/hugepages (or use --no-huge -m 512)".into());
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some((uid, gid)) = effective_ids(&status) {
        let writable = |d: &&str| std::fs::metadata(d).is_ok_and(|m| may_write(uid, gid, m.uid(), m.gid(), m.mode()));
        if !dirs.is_empty() && !dirs.iter().any(writable) {
            return Err(format!(
                "no permission to use hugepages in {} as uid {uid}: run as root, or use --no-huge -m 512",
                dirs.join(", ")
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_free_pages_of_every_size() {
        let root = tempfile::tempdir().unwrap();
        for (size, free) in [("hugepages-2048kB", "3\n"), ("hugepages-1048576kB", "1\n")] {
            let d = root.path().join("kernel/mm/hugepages").join(size);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("free_hugepages"), free).unwrap();
        }
        assert_eq!(free_hugepages(root.path()), Some(4));
        assert_eq!(free_hugepages(&root.path().join("missing")), None);
    }

    #[test]
    fn finds_hugetlbfs_mounts() {
        let with = "sysfs /sys sysfs rw 0 0\nnone /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n";
        assert_eq!(hugetlbfs_mounts(with), vec!["/dev/hugepages"]);
        assert!(hugetlbfs_mounts("sysfs /sys sysfs rw 0 0\n").is_empty());
    }

    #[test]
    fn reads_effective_ids_and_permissions() {
        let status = "Name:\tvflag-dp\nUid:\t1000\t65534\t65534\t65534\nGid:\t1000\t100\t100\t100\n";
        assert_eq!(effective_ids(status), Some((65534, 100)));
        assert_eq!(effective_ids("Name: x\n"), None);
        assert!(may_write(0, 0, 0, 0, 0o755), "root may write anywhere");
        assert!(!may_write(65534, 65534, 0, 0, 0o755));
        assert!(may_write(65534, 65534, 65534, 0, 0o755));
        assert!(may_write(65534, 100, 0, 100, 0o775));
        assert!(may_write(65534, 100, 0, 0, 0o1777));
    }
}
