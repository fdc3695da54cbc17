//! Finds the runs in one host's directory of fetched reports: every soak directory (with a
//! `soak.json`) and every sweep directory (with a `sweep.json`), at any depth up to
//! [`MAX_DEPTH`] (Ansible's `fetch` keeps the DUT's whole path under `reports/HOST/`), in name
//! order so that the merged report comes out the same every time.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// How deep below the host's directory a run is looked for: deep enough for a fetched absolute
/// path, bounded so that a wrong DIR (`/`) is not crawled whole.
pub const MAX_DEPTH: usize = 10;

pub const SOAK_JSON: &str = "soak.json";
pub const SWEEP_JSON: &str = "sweep.json";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Run {
    Soak(PathBuf),
    /// Its cells' soak directories are below it and are read from sweep.json, not again.
    Sweep(PathBuf),
}

/// Every run under `dir`; an error when there is none (a host whose fetch brought nothing must
/// not vanish from the merged report) or a directory cannot be read.
pub fn runs(dir: &Path) -> Result<Vec<Run>> {
    let mut found = Vec::new();
    walk(dir, 0, &mut found)?;
    if found.is_empty() {
        bail!("{}: no report in it (no {SWEEP_JSON} or {SOAK_JSON} within {MAX_DEPTH} levels)", dir.display());
    }
    Ok(found)
}

fn walk(dir: &Path, depth: usize, found: &mut Vec<Run>) -> Result<()> {
    // A sweep first: its directory may hold a soak.json of its own cells' too.
    if dir.join(SWEEP_JSON).is_file() {
        found.push(Run::Sweep(dir.to_path_buf()));
        return Ok(());
    }
    if dir.join(SOAK_JSON).is_file() {
        found.push(Run::Soak(dir.to_path_buf()));
        return Ok(());
    }
    if depth == MAX_DEPTH {
        return Ok(());
    }
    let mut subdirs = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let e = e.with_context(|| format!("reading {}", dir.display()))?;
        // Not through symlinks: a link back up would loop, and a fetched tree has none.
        if e.file_type().with_context(|| format!("reading {}", e.path().display()))?.is_dir() {
            subdirs.push(e.path());
        }
    }
    subdirs.sort();
    for d in subdirs {
        walk(&d, depth + 1, found)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(root: &Path, rel: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "{}").unwrap();
    }

    #[test]
    fn soaks_and_sweeps_in_name_order_and_not_a_sweeps_cells_again() {
        let d = tempfile::tempdir().unwrap();
        touch(d.path(), "b/soak/soak.json");
        touch(d.path(), "a/sweep/sweep.json");
        touch(d.path(), "a/sweep/cell-1/soak.json");
        touch(d.path(), "a/sweep/cell-2/soak.json");
        touch(d.path(), "a/old/soak.json");
        std::fs::write(d.path().join("soak.md"), "not a directory").unwrap();
        let got = runs(d.path()).unwrap();
        assert_eq!(
            got,
            vec![
                Run::Soak(d.path().join("a/old")),
                Run::Sweep(d.path().join("a/sweep")),
                Run::Soak(d.path().join("b/soak"))
            ]
        );
    }

    #[test]
    fn a_report_in_the_directory_itself_and_at_the_depth_bound() {
        let d = tempfile::tempdir().unwrap();
        touch(d.path(), SOAK_JSON);
        assert_eq!(runs(d.path()).unwrap(), vec![Run::Soak(d.path().to_path_buf())]);

        let d = tempfile::tempdir().unwrap();
        let deep: String = (0..MAX_DEPTH).map(|i| format!("d{i}/")).collect();
        touch(d.path(), &format!("{deep}soak.json"));
        assert_eq!(runs(d.path()).unwrap().len(), 1, "at depth {MAX_DEPTH}: found");
        touch(d.path(), &format!("{deep}deeper/sweep.json"));
        assert_eq!(runs(d.path()).unwrap().len(), 1, "below it: not looked for");
    }

    #[test]
    fn no_report_is_an_error_naming_the_directory() {
        let d = tempfile::tempdir().unwrap();
        touch(d.path(), "x/soak.md");
        let e = runs(d.path()).unwrap_err().to_string();
        assert!(e.starts_with(&d.path().display().to_string()) && e.contains("no report"), "{e}");
    }

    #[test]
    fn symlinked_directories_are_not_followed() {
        let d = tempfile::tempdir().unwrap();
        touch(d.path(), "real/soak.json");
        std::os::unix::fs::symlink(d.path().join("real"), d.path().join("link")).unwrap();
        std::os::unix::fs::symlink(d.path(), d.path().join("loop")).unwrap();
        assert_eq!(runs(d.path()).unwrap(), vec![Run::Soak(d.path().join("real"))]);
    }
}
