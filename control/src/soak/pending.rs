//! The soak's own output files (soak.json, soak.md, soak.svg), made ready before anything
//! starts: each is a temporary file created beside its target, so a path that cannot be
//! written stops the soak at once, naming it, instead of after a whole run. At the end the
//! contents go into the temporary file and it is renamed over the target (a reader never sees
//! half); one never committed (an error, an early stop) is removed.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

pub struct Pending {
    target: PathBuf,
    tmp: PathBuf,
    file: Option<File>,
}

impl Pending {
    pub fn prepare(target: &Path) -> Result<Pending> {
        if target.is_dir() {
            bail!("cannot write {}: it is a directory", target.display());
        }
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = target.with_file_name(format!(".{name}.tmp"));
        let file = File::create(&tmp).with_context(|| format!("cannot write {}", target.display()))?;
        Ok(Pending { target: target.to_path_buf(), tmp, file: Some(file) })
    }

    pub fn commit(mut self, contents: &[u8]) -> Result<()> {
        let written = self.file.take().map_or(Ok(()), |mut f| f.write_all(contents).and_then(|()| f.sync_all()));
        written
            .and_then(|()| std::fs::rename(&self.tmp, &self.target))
            .with_context(|| format!("writing {}", self.target.display()))
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        // After a commit the temporary name is gone already.
        let _ = std::fs::remove_file(&self.tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_whole_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("soak.json");
        std::fs::write(&target, "old").unwrap();
        let p = Pending::prepare(&target).unwrap();
        assert!(dir.path().join(".soak.json.tmp").exists(), "ready before the run");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old", "untouched until the end");
        p.commit(b"{}\n").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "{}\n");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["soak.json"]);
    }

    #[test]
    fn an_unwritable_target_is_named_at_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("soak.json")).unwrap();
        let e = Pending::prepare(&dir.path().join("soak.json")).err().unwrap();
        assert_eq!(e.to_string(), format!("cannot write {}/soak.json: it is a directory", dir.path().display()));
        let e = Pending::prepare(Path::new("/nonexistent-dir/soak.json")).err().unwrap();
        assert_eq!(format!("{e:#}"), "cannot write /nonexistent-dir/soak.json: No such file or directory (os error 2)");
        assert!(Pending::prepare(Path::new("/proc/version")).is_err(), "procfs takes no new files");
    }

    #[test]
    fn one_never_committed_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        drop(Pending::prepare(&dir.path().join("soak.md")).unwrap());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
