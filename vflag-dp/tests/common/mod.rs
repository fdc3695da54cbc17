//! Helpers for the integration tests: run the built vflag-dp (and dpdk-testpmd) with bounded
//! time, read their JSON reports, and make network namespaces that are always removed.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_vflag-dp");

/// The second process of a pair forwards on lcore 0 (its main lcore, 1, mostly sleeps), so the
/// two busy-polling lcores do not share a CPU.
pub const PEER_LCORES: &str = "1,0";

pub fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// DPDK processes busy-poll their lcores: the tests of one binary take turns.
static SERIAL: Mutex<()> = Mutex::new(());

pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// A name unique to this test process and call site, for file prefixes, sockets, namespaces.
pub fn unique(tag: &str) -> String {
    format!("vft{}{}", std::process::id() % 100_000, tag)
}

/// EAL options every test run uses: no hugepages needed, little memory, its own prefix.
pub fn eal_light(prefix: &str) -> Vec<String> {
    ["--no-huge", "-m", "256", "--mbufs", "8192", "--file-prefix", prefix, "--stats-interval", "0"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

pub fn vflag(args: &[String]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args).stdin(Stdio::null());
    c
}

/// Runs a command to completion, killing it after `limit`.
pub fn run_bounded(mut cmd: Command, limit: Duration) -> Output {
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    wait_bounded(child, limit)
}

pub fn wait_bounded(mut child: Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "process did not finish within {limit:?}\nstdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn read_json(path: &Path) -> serde_json::Value {
    let s = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&s).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

pub fn u(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not an unsigned number: {v}"))
}

pub fn sig(child: &Child, name: &str) {
    let ok = Command::new("kill").args([format!("-{name}"), child.id().to_string()]).status().expect("kill");
    assert!(ok.success(), "kill -{name} failed");
}

pub fn tmp_path(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

pub fn have_testpmd() -> bool {
    Command::new("dpdk-testpmd").arg("--help").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

/// Two network namespaces joined by veth pairs: the receiver's (`vb` ends) and the generator's
/// (`va` ends, the switch side), IPv6 off (no stray router or neighbour solicitations). Removed
/// on drop, whether the test passed or not. Two namespaces, because DPDK 24.11's af_packet
/// names its PACKET_FANOUT group pid ^ ifindex, and two processes in one namespace with
/// neighbouring pids and ifindexes can pick the same group for different devices (EINVAL).
pub struct VethNs {
    pub name: String,
    pub peer: String,
}

impl VethNs {
    pub fn new(tag: &str) -> VethNs {
        Self::with_pairs(tag, &[("va", "vb")])
    }

    /// The namespaces with the given (generator end, receiver end) pairs, all up.
    pub fn with_pairs(tag: &str, pairs: &[(&str, &str)]) -> VethNs {
        let name = unique(tag);
        let ns = VethNs { peer: format!("{name}p"), name };
        for n in [&ns.name, &ns.peer] {
            // A namespace left over by an earlier, killed run of the same process id.
            let _ = Command::new("ip").args(["netns", "del", n]).stderr(Stdio::null()).status();
            ns.ip(&["netns", "add", n]);
            for key in ["all", "default"] {
                let st = Command::new("ip")
                    .args(["netns", "exec", n, "sysctl", "-qw", &format!("net.ipv6.conf.{key}.disable_ipv6=1")])
                    .status()
                    .expect("run ip");
                assert!(st.success(), "sysctl in {n} failed");
            }
        }
        for (a, b) in pairs {
            ns.ip(&["-n", &ns.peer, "link", "add", a, "type", "veth", "peer", "name", b, "netns", &ns.name]);
            ns.ip(&["-n", &ns.peer, "link", "set", a, "up"]);
            ns.ip(&["-n", &ns.name, "link", "set", b, "up"]);
        }
        // The kernel reports a new veth's carrier (IFF_RUNNING, operstate UP) up to a second
        // after both ends are up; from 24.11 net_af_packet reports that as its link, and
        // vflag-dp waits for it before it starts. Wait here, so a test's timeline starts with
        // the links up on every release.
        let deadline = Instant::now() + Duration::from_secs(5);
        for (a, b) in pairs {
            for (n, dev) in [(&ns.peer, a), (&ns.name, b)] {
                while !ns.is_up(n, dev) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        ns
    }

    /// Whether a device of namespace `n` has operstate UP (its carrier on).
    fn is_up(&self, n: &str, dev: &str) -> bool {
        let out = Command::new("ip").args(["-n", n, "-o", "link", "show", dev]).output().expect("run ip");
        String::from_utf8_lossy(&out.stdout).contains(" state UP ")
    }

    /// Sets a generator-side link (an `a` end) down or up: a link flap, as a switch port going
    /// down.
    pub fn set_link(&self, dev: &str, up: bool) {
        self.ip(&["-n", &self.peer, "link", "set", dev, if up { "up" } else { "down" }]);
    }

    /// Runs `ip` with these arguments; a failure fails the test.
    pub fn ip(&self, args: &[&str]) {
        let st = Command::new("ip").args(args).status().expect("run ip");
        assert!(st.success(), "ip {args:?} failed");
    }

    /// vflag-dp in the receiver's namespace (the `b` ends).
    pub fn vflag(&self, args: &[String]) -> Command {
        Self::vflag_in(&self.name, args)
    }

    /// vflag-dp in the generator's namespace (the `a` ends).
    pub fn vflag_peer(&self, args: &[String]) -> Command {
        Self::vflag_in(&self.peer, args)
    }

    fn vflag_in(ns: &str, args: &[String]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, BIN]).args(args).stdin(Stdio::null());
        c
    }
}

impl Drop for VethNs {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.peer]).status();
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}
