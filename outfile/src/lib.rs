//! Output files written at the end of a run (vflag-dp's `--json`; vflag-bench's `--json` and
//! `--markdown`; the soak's `soak.json`, `soak.md` and `soak.svg`), reserved before it starts:
//! a temp file is created beside the target at once, so a path that cannot be written fails
//! before any traffic, not after the whole run. The report goes into the temp file and is
//! renamed over the target (never half written); on any other way out the temp file is removed.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct OutFile {
    opt: &'static str,
    path: PathBuf,
    /// Beside `path`, renamed over it by `commit`; None for a device or a pipe (`/dev/null`,
    /// `/dev/stdout`), which is written in place (a rename would replace the device node).
    tmp: Option<PathBuf>,
    file: File,
}

impl OutFile {
    /// Creates the temp file for `path`, given with option `opt`. The error is one line
    /// naming both.
    pub fn reserve(opt: &'static str, path: &Path) -> Result<OutFile, String> {
        let named = |what: String| format!("{opt} {}: {what}", path.display());
        if let Ok(m) = std::fs::metadata(path) {
            if m.is_dir() {
                return Err(named("is a directory".into()));
            }
            if !m.is_file() {
                let file =
                    OpenOptions::new().write(true).open(path).map_err(|e| named(format!("cannot open it: {e}")))?;
                return Ok(OutFile { opt, path: path.to_path_buf(), tmp: None, file });
            }
        }
        let Some(name) = path.file_name() else { return Err(named("not a file name".into())) };
        let mut tmp_name = name.to_os_string();
        tmp_name.push(".tmp");
        let tmp = path.with_file_name(tmp_name);
        let file = File::create(&tmp).map_err(|e| named(format!("cannot create {}: {e}", tmp.display())))?;
        Ok(OutFile { opt, path: path.to_path_buf(), tmp: Some(tmp), file })
    }

    /// Writes `bytes` and puts them in place of the target.
    pub fn commit(self, bytes: &[u8]) -> Result<(), String> {
        self.commit_with(|w| w.write_all(bytes))
    }

    /// Writes what `write` writes (through a buffer: a large report need not be one string
    /// first) and puts it in place of the target.
    pub fn commit_with(mut self, write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<(), String> {
        let named = |what: String| format!("{} {}: {what}", self.opt, self.path.display());
        let mut buf = std::io::BufWriter::new(&mut self.file);
        write(&mut buf).and_then(|()| buf.flush()).map_err(|e| named(format!("writing: {e}")))?;
        drop(buf);
        if let Some(tmp) = &self.tmp {
            std::fs::rename(tmp, &self.path).map_err(|e| named(format!("renaming {} over it: {e}", tmp.display())))?;
            self.tmp = None;
        }
        Ok(())
    }
}

impl Drop for OutFile {
    fn drop(&mut self) {
        if let Some(tmp) = &self.tmp {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }

    #[test]
    fn the_temp_file_exists_from_the_start_and_becomes_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        std::fs::write(&path, "old").unwrap();
        let out = OutFile::reserve("--json", &path).unwrap();
        assert_eq!(entries(dir.path()), ["r.json", "r.json.tmp"]);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old", "the old file stays until the new one is whole");
        out.commit(b"{}\n").unwrap();
        assert_eq!(entries(dir.path()), ["r.json"]);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{}\n");
    }

    #[test]
    fn a_run_that_ends_without_a_report_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        drop(OutFile::reserve("--json", &dir.path().join("r.json")).unwrap());
        assert!(entries(dir.path()).is_empty());
    }

    #[test]
    fn unwritable_paths_are_refused_naming_them() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let e = OutFile::reserve("--json", dir.path()).unwrap_err();
        assert_eq!(e, format!("--json {d}: is a directory"));
        let e = OutFile::reserve("--json", Path::new("/nonexistent-dir/x.json")).unwrap_err();
        assert!(e.starts_with("--json /nonexistent-dir/x.json: cannot create /nonexistent-dir/x.json.tmp: "), "{e}");
        let e = OutFile::reserve("--markdown", Path::new("/proc/version")).unwrap_err();
        assert!(e.starts_with("--markdown /proc/version: cannot create /proc/version.tmp"), "{e}");
        assert!(!e.contains('\n'));
        assert!(entries(dir.path()).is_empty());
    }

    #[test]
    fn a_device_is_written_in_place() {
        OutFile::reserve("--json", Path::new("/dev/null")).unwrap().commit(b"x").unwrap();
        assert!(Path::new("/dev/null").exists());
    }
}
