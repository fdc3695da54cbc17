//! What the lab-running integration tests share: one lab soak at a time, a lab with names of
//! its own that is taken down on drop, a run bounded in time, and reading what came out.
// Each test binary uses some of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const CTL: &str = env!("CARGO_BIN_EXE_vflag-ctl");

/// Soaks take both cores: one at a time within a test binary (`scripts/test.sh` runs the
/// binaries one after another).
static SERIAL: Mutex<()> = Mutex::new(());

pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The vflag-dp built beside vflag-ctl.
pub fn vflag_dp() -> PathBuf {
    let p = Path::new(CTL).with_file_name("vflag-dp");
    assert!(p.is_file(), "{} missing: build the workspace (cargo test --workspace builds it)", p.display());
    p
}

/// A lab with names of its own (`prefix` keeps one test file's from another's, `tag` one
/// test's from the next); removed on drop, whatever the test did.
pub struct Lab {
    pub ns: String,
    pub host: [String; 2],
    pub switch: [String; 2],
}

impl Lab {
    pub fn new(prefix: &str, tag: &str) -> Lab {
        let id = std::process::id() % 10_000;
        Lab {
            ns: format!("{prefix}{tag}{id}"),
            host: [format!("h0{tag}{id}"), format!("h1{tag}{id}")],
            switch: [format!("w0{tag}{id}"), format!("w1{tag}{id}")],
        }
    }

    /// The options that name this lab.
    pub fn names(&self) -> Vec<String> {
        vec![
            "--ns".into(),
            self.ns.clone(),
            "--host-links".into(),
            self.host.join(","),
            "--switch-links".into(),
            self.switch.join(","),
        ]
    }

    /// Brings the lab up by hand, as an operator would before a hardware-mode soak.
    pub fn up(&self) {
        let up = Command::new(CTL).args(["lab", "up"]).args(self.names()).output().unwrap();
        assert!(up.status.success(), "{}", text(&up));
    }

    /// Neither its namespace nor its host links are left.
    pub fn gone(&self) -> bool {
        let ns = Command::new("ip").args(["netns", "list"]).output().unwrap();
        let links = Command::new("ip").args(["-o", "link", "show"]).output().unwrap();
        let (ns, links) = (String::from_utf8_lossy(&ns.stdout), String::from_utf8_lossy(&links.stdout));
        !ns.split_whitespace().any(|w| w == self.ns) && !self.host.iter().any(|h| links.contains(&format!(": {h}@")))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new(CTL).args(["lab", "down"]).args(self.names()).output();
    }
}

/// Runs `c` to its end within `limit`; past it, SIGINT, and the test fails.
pub fn run_bounded(mut c: Command, limit: Duration) -> Output {
    let child = c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    let t0 = Instant::now();
    let watchdog = std::thread::spawn(move || {
        while t0.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(200));
            if !Path::new(&format!("/proc/{pid}")).exists() {
                return;
            }
        }
        let _ = Command::new("kill").args(["-INT", &pid.to_string()]).status();
    });
    let out = child.wait_with_output().unwrap();
    let _ = watchdog.join();
    assert!(t0.elapsed() < limit, "ran past {limit:?}: {}", text(&out));
    out
}

/// stdout then stderr, for assertion messages.
pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

pub fn read_json(path: &Path) -> serde_json::Value {
    let t = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&t).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The pids of the processes whose command line holds `needle`.
pub fn pids_with(needle: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let zombie = stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z'));
            !zombie
                && std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
        .collect()
}
