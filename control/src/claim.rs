//! One user of a lab or DUT at a time. A soak (and `lab up|down|flap`) holds an exclusive
//! flock on `/run/vflag/<lab-NS|dut-DEV>.lock` for as long as it runs; a second one is refused
//! with the holder's pid. The file also lists the holder's children (pid and kernel start
//! time): the kernel drops the lock when its holder dies, however it dies, and whoever takes
//! it next stops any child still running from that list (a start time that no longer matches
//! is another process that reused the pid, and is left alone). A sweep holds its lab or DUT
//! across its cells (`sweep-<key>`): only its own cells' soaks take it meanwhile.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// Where the lock files live; `VFLAG_RUN_DIR` moves them (tests).
pub fn run_dir() -> PathBuf {
    std::env::var_os("VFLAG_RUN_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/run/vflag"))
}

/// A child recorded in the lock file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Child {
    pub pid: u32,
    /// Field 22 of /proc/PID/stat: tells this process from a later one with the same pid.
    pub start: u64,
    pub name: String,
}

/// The held lock. Dropping it (or dying) releases it.
pub struct Claim {
    file: File,
    path: PathBuf,
    /// "lab sw", "DUT 0000:01:00.2": recorded in the file for whoever looks.
    what: String,
    holder: String,
    children: Vec<Child>,
}

impl Claim {
    /// Takes `<dir>/<key>.lock` for `holder` ("soak", "lab down"), or says who holds it. Stops
    /// what a dead earlier holder left running, naming each.
    pub fn take(dir: &Path, key: &str, what: &str, holder: &str) -> Result<Claim> {
        if !key.chars().all(|c| c.is_ascii_alphanumeric() || "._:-".contains(c)) || key.contains("..") {
            bail!("{what}: '{key}' cannot name a lock file");
        }
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(format!("{key}.lock"));
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let (pid, by) = holder_of(&text);
                bail!(
                    "{what} is in use by a {}, vflag-ctl pid {}",
                    by.unwrap_or("another vflag-ctl"),
                    pid.map_or("unknown".to_string(), |p| p.to_string())
                );
            }
            Err(TryLockError::Error(e)) => return Err(e).with_context(|| format!("locking {}", path.display())),
        }
        if !key.starts_with(SWEPT) {
            refuse_if_swept(dir, key, what)?;
        }
        let mut old = String::new();
        file.read_to_string(&mut old).ok();
        for c in children_of(&old) {
            if start_time(c.pid) == Some(c.start) {
                stop_group(c.pid);
                println!("stopped the {} (pid {}) that an earlier vflag-ctl left running", c.name, c.pid);
            }
        }
        let mut claim = Claim { file, path, what: what.to_string(), holder: holder.to_string(), children: Vec::new() };
        claim.save().with_context(|| format!("writing {}", claim.path.display()))?;
        Ok(claim)
    }

    /// Records a child just started, so a later holder can stop it if this one dies.
    pub fn add_child(&mut self, pid: u32, name: &str) {
        if let Some(start) = start_time(pid) {
            self.children.push(Child { pid, start, name: name.to_string() });
            if let Err(e) = self.save() {
                eprintln!("vflag-ctl: warning: writing {}: {e}", self.path.display());
            }
        }
    }

    fn save(&mut self) -> std::io::Result<()> {
        let mut text = format!("pid {}\nholder {}\nwhat {}\n", std::process::id(), self.holder, self.what);
        for c in &self.children {
            text.push_str(&format!("child {} {} {}\n", c.pid, c.start, c.name));
        }
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        self.file.write_all(text.as_bytes())
    }
}

impl Drop for Claim {
    /// A clean exit has stopped its children: none is left to list.
    fn drop(&mut self) {
        self.children.clear();
        let _ = self.save();
    }
}

/// A sweep holds `sweep-<key>` from its first cell to its last, so that nothing else takes the
/// lab or DUT between two cells; each cell's soak, its child, still takes `<key>` itself.
const SWEPT: &str = "sweep-";

/// Refuses `key` while a sweep holds it, unless that sweep is this process's parent (a cell).
fn refuse_if_swept(dir: &Path, key: &str, what: &str) -> Result<()> {
    let path = dir.join(format!("{SWEPT}{key}.lock"));
    let Ok(file) = File::open(&path) else { return Ok(()) };
    match file.try_lock() {
        // Free: released again when `file` closes.
        Ok(()) => Ok(()),
        Err(TryLockError::WouldBlock) => {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            match holder_of(&text).0 {
                Some(pid) if pid == std::os::unix::process::parent_id() => Ok(()),
                pid => bail!(
                    "{what} is in use by a sweep, vflag-ctl pid {}, between two of its cells",
                    pid.map_or("unknown".to_string(), |p| p.to_string())
                ),
            }
        }
        Err(TryLockError::Error(e)) => Err(e).with_context(|| format!("locking {}", path.display())),
    }
}

/// The holder's pid and what it is doing, from a lock file's text.
fn holder_of(text: &str) -> (Option<u32>, Option<&str>) {
    let field = |k: &str| text.lines().find_map(|l| l.strip_prefix(k)).map(str::trim);
    (field("pid ").and_then(|p| p.parse().ok()), field("holder "))
}

fn children_of(text: &str) -> Vec<Child> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.strip_prefix("child ")?.splitn(3, ' ');
            Some(Child { pid: w.next()?.parse().ok()?, start: w.next()?.parse().ok()?, name: w.next()?.to_string() })
        })
        .filter(|c| c.pid > 1)
        .collect()
}

/// A live process's start time; None when there is no such process (or only its zombie).
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: the fields start after the last ')'.
    let rest = stat.rsplit_once(") ")?.1;
    let mut fields = rest.split_whitespace();
    if fields.next()? == "Z" {
        return None;
    }
    // `rest` starts at field 3 (state); the start time is field 22.
    fields.nth(18)?.parse().ok()
}

/// SIGTERM to the child's process group (it leads one, see procs.rs), SIGKILL after 5 s.
fn stop_group(pid: u32) {
    let start = start_time(pid);
    let group = Pid::from_raw(pid as i32);
    if killpg(group, Signal::SIGTERM).is_err() {
        let _ = nix::sys::signal::kill(group, Signal::SIGTERM);
    }
    let t0 = Instant::now();
    while start.is_some() && start_time(pid) == start && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    if start.is_some() && start_time(pid) == start {
        let _ = killpg(group, Signal::SIGKILL);
        let _ = nix::sys::signal::kill(group, Signal::SIGKILL);
    }
}

/// The lock for a lab: its namespace names it.
pub fn lab(ns: &str) -> (String, String) {
    (format!("lab-{ns}"), format!("lab {ns}"))
}

/// The lock for a DUT: the device the receiver's `--dut-args` opens (`-a`/`--allow`, else
/// `--vdev`), so two soaks on one VF refuse each other.
pub fn dut(dut_args: &[String]) -> (String, String) {
    let mut dev = None;
    let mut words = dut_args.iter();
    while let Some(w) = words.next() {
        let value = match w.as_str() {
            "-a" | "--allow" | "--vdev" => words.next().cloned(),
            _ => ["--allow=", "--vdev=", "-a"].iter().find_map(|p| w.strip_prefix(p)).map(str::to_string),
        };
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            dev = Some(v);
            break;
        }
    }
    let dev = dev.unwrap_or_else(|| "default".into());
    let key: String =
        dev.chars().map(|c| if c.is_ascii_alphanumeric() || ".:-".contains(c) { c } else { '_' }).collect();
    (format!("dut-{}", key.replace("..", "_")), format!("DUT {dev}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid() {
        let dir = tempfile::tempdir().unwrap();
        let first = Claim::take(dir.path(), "lab-sw", "lab sw", "soak").unwrap();
        // flock locks are per open file: a second open in this process conflicts as another
        // process's would.
        let e = Claim::take(dir.path(), "lab-sw", "lab sw", "lab down").err().unwrap().to_string();
        assert_eq!(e, format!("lab sw is in use by a soak, vflag-ctl pid {}", std::process::id()));
        assert!(Claim::take(dir.path(), "lab-other", "lab other", "soak").is_ok(), "another lab is free");
        drop(first);
        let again = Claim::take(dir.path(), "lab-sw", "lab sw", "lab down").unwrap();
        assert_eq!(again.holder, "lab down");
    }

    #[test]
    fn a_sweep_keeps_its_lab_from_anyone_but_its_own_cells() {
        let dir = tempfile::tempdir().unwrap();
        let sweep = Claim::take(dir.path(), "sweep-lab-sw", "lab sw", "sweep").unwrap();
        // This process is not the sweep's child: as a plain soak (or `lab down`) between cells.
        let e = Claim::take(dir.path(), "lab-sw", "lab sw", "soak").err().unwrap().to_string();
        assert_eq!(
            e,
            format!("lab sw is in use by a sweep, vflag-ctl pid {}, between two of its cells", std::process::id())
        );
        assert!(Claim::take(dir.path(), "lab-other", "lab other", "soak").is_ok(), "another lab is free");
        drop(sweep);
        assert!(Claim::take(dir.path(), "lab-sw", "lab sw", "soak").is_ok(), "free once the sweep ends");
        // A sweep's lock file left by a sweep that died holds no lock: no refusal.
        assert!(dir.path().join("sweep-lab-sw.lock").exists());
        assert!(Claim::take(dir.path(), "lab-sw", "lab sw", "soak").is_ok());
    }

    #[test]
    fn names_that_would_leave_the_directory_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for key in ["../x", "a/b", "dut-a b", "x..y"] {
            assert!(Claim::take(dir.path(), key, "DUT", "soak").is_err(), "{key}");
        }
    }

    #[test]
    fn the_next_holder_stops_what_a_dead_one_left_and_spares_a_reused_pid() {
        let dir = tempfile::tempdir().unwrap();
        let mut left = Command::new("sleep").arg("30").process_group(0).spawn().unwrap();
        let mut other = Command::new("sleep").arg("30").process_group(0).spawn().unwrap();
        let start = start_time(left.id()).unwrap();
        // As a SIGKILLed soak leaves it: its pid, no lock held, a child listed; and an entry
        // whose start time belongs to an earlier process with the pid `other` now has.
        std::fs::write(
            dir.path().join("lab-sw.lock"),
            format!(
                "pid 999999\nholder soak\nchild {} {start} receiver\nchild {} 1 generator\n",
                left.id(),
                other.id()
            ),
        )
        .unwrap();
        let claim = Claim::take(dir.path(), "lab-sw", "lab sw", "lab down").unwrap();
        let status = left.wait().unwrap();
        assert!(status.code().is_none(), "the leftover receiver was stopped by a signal");
        assert!(start_time(other.id()).is_some(), "a pid reused by another process is left alone");
        let text = std::fs::read_to_string(dir.path().join("lab-sw.lock")).unwrap();
        assert_eq!(text, format!("pid {}\nholder lab down\nwhat lab sw\n", std::process::id()));
        drop(claim);
        other.kill().unwrap();
        other.wait().unwrap();
    }

    #[test]
    fn children_are_listed_while_held_and_cleared_on_a_clean_drop() {
        let dir = tempfile::tempdir().unwrap();
        let mut claim = Claim::take(dir.path(), "dut-0000:01:00.2", "DUT 0000:01:00.2", "soak").unwrap();
        claim.add_child(std::process::id(), "receiver");
        let text = std::fs::read_to_string(dir.path().join("dut-0000:01:00.2.lock")).unwrap();
        let listed = children_of(&text);
        assert_eq!(listed.len(), 1);
        assert_eq!((listed[0].pid, listed[0].name.as_str()), (std::process::id(), "receiver"));
        assert_eq!(Some(listed[0].start), start_time(std::process::id()));
        claim.add_child(u32::MAX, "gone");
        drop(claim);
        let text = std::fs::read_to_string(dir.path().join("dut-0000:01:00.2.lock")).unwrap();
        assert!(children_of(&text).is_empty(), "{text}");
    }

    #[test]
    fn a_dut_is_named_by_the_device_its_receiver_opens() {
        let w = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        let dut = |s: &str| dut(&w(s));
        assert_eq!(dut("--lcores 1-2 -a 0000:01:00.2 --mac 52:54:00:00:00:01").0, "dut-0000:01:00.2");
        assert_eq!(dut("-a0000:01:00.3").0, "dut-0000:01:00.3");
        assert_eq!(dut("--allow=0000:01:04.2").1, "DUT 0000:01:04.2");
        assert_eq!(dut("--vdev net_af_packet0,iface=h0 --vdev x").0, "dut-net_af_packet0_iface_h0");
        assert_eq!(dut("--vdev ../../etc/x").0, "dut-____etc_x");
        assert_eq!(dut("--lcores 1").0, "dut-default");
        assert_eq!(lab("sw"), ("lab-sw".into(), "lab sw".into()));
    }

    #[test]
    fn reads_the_holder_from_the_file() {
        assert_eq!(holder_of("pid 42\nholder soak\n"), (Some(42), Some("soak")));
        assert_eq!(holder_of(""), (None, None));
        assert_eq!(children_of("child 1 5 init\nchild x 1 a\nchild 7 9 the receiver\n").len(), 1);
    }
}
