//! The cache: a stamp in the prefix records which source (its version and a fingerprint of its
//! files) was built with which options. The same stamp and an installed libdpdk.pc mean there
//! is nothing to do.

use std::path::Path;

use anyhow::Result;
use serde::{Deserialize, Serialize};

pub const FILE: &str = ".vflag-meson.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub version: String,
    pub fingerprint: String,
    pub meson_args: Vec<String>,
}

/// FNV-1a, 64 bits: a fingerprint, not a security measure.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn eat(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn hex(&self) -> String {
        format!("{:016x}", self.0)
    }
}

/// A tarball's fingerprint: its bytes.
pub fn of_file(path: &Path) -> Result<String> {
    let mut h = Fnv::new();
    h.eat(&std::fs::read(path)?);
    Ok(h.hex())
}

/// A tree's fingerprint: every file's path, size and modification time (a changed or patched
/// tree builds again). Build and VCS directories are not part of the source.
pub fn of_tree(dir: &Path) -> Result<String> {
    let mut files = Vec::new();
    collect(dir, dir, &mut files)?;
    files.sort();
    let mut h = Fnv::new();
    for f in &files {
        h.eat(f.as_bytes());
        h.eat(b"\n");
    }
    Ok(h.hex())
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        let ty = e.file_type()?;
        if ty.is_dir() {
            if name == ".git" || name.starts_with("build") {
                continue;
            }
            collect(root, &e.path(), out)?;
        } else if ty.is_file() {
            let m = e.metadata()?;
            let mtime = m.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
            let rel = e.path().strip_prefix(root).unwrap_or(&e.path()).display().to_string();
            out.push(format!("{rel} {} {}", m.len(), mtime.map_or(0, |d| d.as_nanos())));
        }
    }
    Ok(())
}

pub fn read(prefix: &Path) -> Option<Stamp> {
    serde_json::from_str(&std::fs::read_to_string(prefix.join(FILE)).ok()?).ok()
}

pub fn write(prefix: &Path, s: &Stamp) -> Result<()> {
    std::fs::write(prefix.join(FILE), serde_json::to_string_pretty(s)? + "\n")?;
    Ok(())
}

/// Installed and built from the same source with the same options.
pub fn up_to_date(prefix: &Path, want: &Stamp) -> bool {
    read(prefix).as_ref() == Some(want) && prefix.join("lib/pkgconfig/libdpdk.pc").is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_fingerprint_changes_with_its_files_but_not_with_build_dirs() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("VERSION"), "22.11.11\n").unwrap();
        std::fs::create_dir(d.path().join("lib")).unwrap();
        std::fs::write(d.path().join("lib/a.c"), "int a;").unwrap();
        let first = of_tree(d.path()).unwrap();
        assert_eq!(of_tree(d.path()).unwrap(), first, "stable");
        std::fs::create_dir(d.path().join("build-x")).unwrap();
        std::fs::write(d.path().join("build-x/out.o"), "x").unwrap();
        assert_eq!(of_tree(d.path()).unwrap(), first, "build output is not source");
        std::fs::write(d.path().join("lib/a.c"), "int a = 1;").unwrap();
        assert_ne!(of_tree(d.path()).unwrap(), first, "an edited file");
    }

    #[test]
    fn up_to_date_needs_the_same_stamp_and_an_install() {
        let p = tempfile::tempdir().unwrap();
        let s = Stamp { version: "24.11.6".into(), fingerprint: "ab".into(), meson_args: vec!["-Dtests=false".into()] };
        assert!(!up_to_date(p.path(), &s), "nothing built yet");
        write(p.path(), &s).unwrap();
        assert!(!up_to_date(p.path(), &s), "a stamp without libdpdk.pc");
        std::fs::create_dir_all(p.path().join("lib/pkgconfig")).unwrap();
        std::fs::write(p.path().join("lib/pkgconfig/libdpdk.pc"), "").unwrap();
        assert!(up_to_date(p.path(), &s));
        let other = Stamp { meson_args: vec![], ..s.clone() };
        assert!(!up_to_date(p.path(), &other), "other options build again");
        let f = p.path().join("t.tar");
        std::fs::write(&f, b"abc").unwrap();
        assert_eq!(of_file(&f).unwrap(), of_file(&f).unwrap());
    }
}
