//! Link state of ports that sit on a kernel interface (`net_af_packet`, `net_af_xdp` with
//! `iface=`): those drivers report their link as up from start to stop, so a flap is only
//! visible in the interface's own state, read from sysfs.

use std::path::{Path, PathBuf};

/// A watched kernel interface: the port it backs, and its last known state.
#[derive(Debug, Clone)]
pub struct KernelLink {
    pub port: u16,
    pub iface: String,
    last: Option<State>,
}

/// The kernel interface behind a vdev, if it is one of those drivers: (device name, iface).
pub fn iface_of(vdev: &str) -> Option<(String, String)> {
    let mut parts = vdev.split(',');
    let name = parts.next()?.trim();
    if !(name.starts_with("net_af_packet") || name.starts_with("net_af_xdp") || name.starts_with("eth_af_packet")) {
        return None;
    }
    let iface = parts.filter_map(|kv| kv.split_once('=')).find(|(k, _)| k.trim() == "iface")?.1;
    Some((name.to_string(), iface.trim().to_string()))
}

/// What sysfs shows of an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Up,
    Down,
    /// No such interface (deleted under the running port): its link is down for good.
    Gone,
}

impl State {
    pub fn up(self) -> bool {
        self == State::Up
    }
}

/// An interface's state from its sysfs `operstate` ("up"; "unknown" counts as up when the
/// carrier is there, as for some virtual interfaces). None when it is there but unreadable.
pub fn state(sysfs_net: &Path, iface: &str) -> Option<State> {
    let dir: PathBuf = sysfs_net.join(iface);
    if !dir.exists() {
        return Some(State::Gone);
    }
    let state = std::fs::read_to_string(dir.join("operstate")).ok()?;
    let up = match state.trim() {
        "up" => true,
        "unknown" => std::fs::read_to_string(dir.join("carrier")).is_ok_and(|c| c.trim() == "1"),
        _ => false,
    };
    Some(if up { State::Up } else { State::Down })
}

impl KernelLink {
    pub fn new(port: u16, iface: String) -> Self {
        KernelLink { port, iface, last: None }
    }

    /// The new state if it changed since the last look (the first look sets the baseline).
    /// Gone after down is a change too: the event says the interface went away.
    pub fn poll(&mut self, sysfs_net: &Path) -> Option<State> {
        let now = state(sysfs_net, &self.iface)?;
        let changed = self.last.is_some_and(|l| l != now);
        self.last = Some(now);
        changed.then_some(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_interface_of_kernel_backed_vdevs() {
        assert_eq!(iface_of("net_af_packet0,iface=vb"), Some(("net_af_packet0".into(), "vb".into())));
        assert_eq!(iface_of("net_af_xdp1,start_queue=0,iface=eth1"), Some(("net_af_xdp1".into(), "eth1".into())));
        assert_eq!(iface_of("net_memif0,role=server"), None);
        assert_eq!(iface_of("net_af_packet0"), None);
    }

    #[test]
    fn reports_changes_after_a_baseline() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("vb");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("operstate"), "up\n").unwrap();
        let mut k = KernelLink::new(0, "vb".into());
        assert_eq!(k.poll(root.path()), None, "first look is a baseline");
        std::fs::write(dir.join("operstate"), "lowerlayerdown\n").unwrap();
        assert_eq!(k.poll(root.path()), Some(State::Down));
        assert_eq!(k.poll(root.path()), None);
        std::fs::write(dir.join("operstate"), "unknown\n").unwrap();
        std::fs::write(dir.join("carrier"), "1\n").unwrap();
        assert_eq!(k.poll(root.path()), Some(State::Up));
        assert_eq!(KernelLink::new(0, "gone".into()).poll(root.path()), None, "gone from the start: a baseline");
    }

    #[test]
    fn a_deleted_interface_reads_as_gone_and_link_down() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("vb");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("operstate"), "up\n").unwrap();
        let mut k = KernelLink::new(0, "vb".into());
        assert_eq!(k.poll(root.path()), None);
        std::fs::remove_dir_all(&dir).unwrap();
        let gone = k.poll(root.path());
        assert_eq!(gone, Some(State::Gone));
        assert!(!gone.unwrap().up());
        assert_eq!(k.poll(root.path()), None, "reported once");
        // Present but unreadable is no news, not a change.
        std::fs::create_dir_all(&dir).unwrap();
        let mut k = KernelLink::new(0, "vb".into());
        assert_eq!(state(root.path(), "vb"), None);
        assert_eq!(k.poll(root.path()), None);
    }
}
