//! The DPDK source: a tree, or a tarball unpacked into the work directory. A tree is DPDK when
//! it has a VERSION file and a top-level meson.build declaring `project('DPDK'`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// A DPDK tree ready to configure.
#[derive(Debug, Clone)]
pub struct Source {
    pub dir: PathBuf,
    /// The VERSION file's first line, e.g. `22.11.11` or `24.11.6`.
    pub version: String,
}

const TARBALL_ENDINGS: [&str; 6] = [".tar.xz", ".tar.gz", ".tgz", ".tar.bz2", ".tar.zst", ".tar"];

pub fn is_tarball(p: &Path) -> bool {
    let name = p.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    TARBALL_ENDINGS.iter().any(|e| name.ends_with(e))
}

/// Checks that `dir` is a DPDK tree and reads its version.
pub fn open_tree(dir: &Path) -> Result<Source> {
    let not_dpdk = |why: &str| anyhow::anyhow!("'{}' is not a DPDK source tree ({why})", dir.display());
    if !dir.is_dir() {
        return Err(not_dpdk("not a directory"));
    }
    let meson = std::fs::read_to_string(dir.join("meson.build")).map_err(|_| not_dpdk("no meson.build"))?;
    if !meson.contains("project('DPDK'") {
        return Err(not_dpdk("its meson.build is not project('DPDK')"));
    }
    let version = std::fs::read_to_string(dir.join("VERSION")).map_err(|_| not_dpdk("no VERSION file"))?;
    let version = version.lines().next().unwrap_or("").trim().to_string();
    if version.is_empty() {
        return Err(not_dpdk("empty VERSION file"));
    }
    Ok(Source { dir: dir.to_path_buf(), version })
}

/// Unpacks a tarball under `work` (once: an unpacked tree from the same tarball is reused) and
/// opens the one DPDK tree inside.
pub fn unpack(tarball: &Path, work: &Path, tarball_id: &str) -> Result<Source> {
    if !tarball.is_file() {
        bail!("tarball '{}' not found", tarball.display());
    }
    let dest = work.join(format!("src-{tarball_id}"));
    if !dest.join(".unpacked").exists() {
        let _ = std::fs::remove_dir_all(&dest);
        std::fs::create_dir_all(&dest).with_context(|| format!("creating {}", dest.display()))?;
        let out = Command::new("tar")
            .arg("-xf")
            .arg(tarball)
            .arg("-C")
            .arg(&dest)
            .output()
            .context("cannot run tar (apt-get install tar xz-utils)")?;
        if !out.status.success() {
            bail!("tar could not unpack '{}': {}", tarball.display(), String::from_utf8_lossy(&out.stderr).trim());
        }
        std::fs::write(dest.join(".unpacked"), b"")?;
    }
    // Release tarballs hold one top directory (dpdk-22.11.11/, dpdk-stable-24.11.6/).
    let tops: Vec<PathBuf> =
        std::fs::read_dir(&dest)?.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect();
    match tops.as_slice() {
        [one] => open_tree(one),
        _ if dest.join("meson.build").exists() => open_tree(&dest),
        _ => bail!("'{}' does not unpack to one DPDK tree", tarball.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_tree(meson: &str, version: Option<&str>) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("meson.build"), meson).unwrap();
        if let Some(v) = version {
            std::fs::write(d.path().join("VERSION"), v).unwrap();
        }
        d
    }

    #[test]
    fn a_dpdk_tree_is_recognised_with_its_version() {
        let d = fake_tree("project('DPDK', 'c',\n  version: run_command(...))\n", Some("24.11.6\n"));
        assert_eq!(open_tree(d.path()).unwrap().version, "24.11.6");
    }

    #[test]
    fn other_trees_are_refused_saying_why() {
        let other = fake_tree("project('qemu', 'c')\n", Some("9.0\n"));
        let e = open_tree(other.path()).unwrap_err().to_string();
        assert!(e.contains("is not a DPDK source tree") && e.contains("project('DPDK')"), "{e}");
        let no_version = fake_tree("project('DPDK', 'c')\n", None);
        assert!(open_tree(no_version.path()).unwrap_err().to_string().contains("no VERSION"));
        let empty = tempfile::tempdir().unwrap();
        assert!(open_tree(empty.path()).unwrap_err().to_string().contains("no meson.build"));
        assert!(open_tree(Path::new("/nonexistent/dpdk")).unwrap_err().to_string().contains("not a directory"));
    }

    #[test]
    fn tarballs_are_told_by_their_name() {
        for t in ["dpdk_22.11.11.orig.tar.xz", "dpdk-24.11.tar.gz", "x.tgz"] {
            assert!(is_tarball(Path::new(t)), "{t}");
        }
        assert!(!is_tarball(Path::new("/usr/src/dpdk")));
    }

    #[test]
    fn a_tarball_unpacks_to_its_tree_once() {
        let src = fake_tree("project('DPDK', 'c')\n", Some("22.11.11\n"));
        let stage = tempfile::tempdir().unwrap();
        let top = stage.path().join("dpdk-22.11.11");
        std::fs::create_dir(&top).unwrap();
        for f in ["meson.build", "VERSION"] {
            std::fs::copy(src.path().join(f), top.join(f)).unwrap();
        }
        let tarball = stage.path().join("dpdk.tar.gz");
        let ok = Command::new("tar")
            .args(["-czf", tarball.to_str().unwrap(), "-C", stage.path().to_str().unwrap(), "dpdk-22.11.11"])
            .status()
            .unwrap();
        assert!(ok.success());
        let work = tempfile::tempdir().unwrap();
        let s = unpack(&tarball, work.path(), "abc").unwrap();
        assert_eq!(s.version, "22.11.11");
        assert!(s.dir.ends_with("src-abc/dpdk-22.11.11"));
        // Unpacked once: a marker file in the tree survives a second call.
        std::fs::write(s.dir.join("marker"), b"").unwrap();
        let again = unpack(&tarball, work.path(), "abc").unwrap();
        assert!(again.dir.join("marker").exists());
        let e = unpack(&stage.path().join("missing.tar.xz"), work.path(), "x").unwrap_err().to_string();
        assert!(e.contains("not found"), "{e}");
    }
}
