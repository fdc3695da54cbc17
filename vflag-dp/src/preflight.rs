//! Checks of the host made before the EAL starts, so that common set-up mistakes get a one-line
//! error with the fix instead of a page of EAL messages.

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

/// Whether a hugetlbfs is mounted, from a /proc/mounts text.
pub fn hugetlbfs_mounted(mounts: &str) -> bool {
    mounts.lines().any(|l| l.split_whitespace().nth(2) == Some("hugetlbfs"))
}

/// Errors with a hint when the EAL could not get hugepages.
pub fn check_hugepages() -> Result<(), String> {
    if free_hugepages(Path::new("/sys")) == Some(0) {
        return Err("no free hugepages: reserve some (echo 1024 > /proc/sys/vm/nr_hugepages) \
                    or run without them (--no-huge -m 512)"
            .into());
    }
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    if !mounts.is_empty() && !hugetlbfs_mounted(&mounts) {
        return Err("no hugetlbfs is mounted: mount -t hugetlbfs none /dev/hugepages (or use --no-huge -m 512)".into());
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
        assert!(hugetlbfs_mounted(with));
        assert!(!hugetlbfs_mounted("sysfs /sys sysfs rw 0 0\n"));
    }
}
