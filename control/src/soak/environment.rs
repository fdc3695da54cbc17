//! What the soak ran on, for soak.json's `environment` and a line of soak.md: the NIC (PCI ids
//! from sysfs and, for the ids below, its name), firmware and driver (`ethtool -i`), kernel,
//! DPDK (the receiver's report), bond mode and hash policy, the LAG's `port_sel_mode`, the VF
//! count. A field nothing here can read stays null.

use std::path::Path;

use serde::Serialize;

use super::args::SoakArgs;
use crate::lab::vf::VfSpec;
use crate::lab::LabSpec;
use crate::mlx5::discover::Host;
use crate::mlx5::sysfs::SysFs;
use crate::mlx5::{lagstate, parse, Env};
use crate::runner::{Cmd, Runner};

/// Mellanox's PCI vendor id, and the PF device ids of the cards VF-LAG runs on, named as the
/// PCI ID Repository (pci.ids, 2023.04.10) names them.
const MELLANOX: &str = "0x15b3";
const CONNECTX: [(&str, &str); 6] = [
    ("0x1017", "ConnectX-5"),
    ("0x1019", "ConnectX-5 Ex"),
    ("0x101b", "ConnectX-6"),
    ("0x101d", "ConnectX-6 Dx"),
    ("0x101f", "ConnectX-6 Lx"),
    ("0x1021", "ConnectX-7"),
];

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Environment {
    /// "mlx5" (a real card), "lab-vf" or "lab".
    pub host: String,
    /// The machine's hostname (`/proc/sys/kernel/hostname`): `report merge --host-name-from env`.
    pub hostname: Option<String>,
    /// The card's name, or what the lab is.
    pub nic: Option<String>,
    /// `vendor:device` from sysfs (`15b3:101d`).
    pub pci_id: Option<String>,
    pub firmware: Option<String>,
    pub driver: Option<String>,
    pub driver_version: Option<String>,
    /// Where the driver and firmware were read (`ethtool -i IFACE`).
    pub driver_from: Option<String>,
    /// This host's kernel (`/proc/sys/kernel/osrelease`).
    pub kernel: Option<String>,
    pub dpdk: Option<String>,
    /// Where the DPDK version came from.
    pub dpdk_from: Option<String>,
    pub bond: Option<String>,
    pub bond_mode: Option<String>,
    pub xmit_hash_policy: Option<String>,
    pub port_sel_mode: Option<String>,
    pub vf_count: Option<u32>,
}

/// The kernel this host runs.
pub fn kernel(proc_root: &Path) -> Option<String> {
    proc_line(proc_root, "sys/kernel/osrelease")
}

/// This machine's name.
pub fn hostname(proc_root: &Path) -> Option<String> {
    proc_line(proc_root, "sys/kernel/hostname")
}

fn proc_line(proc_root: &Path, file: &str) -> Option<String> {
    let k = std::fs::read_to_string(proc_root.join(file)).ok()?;
    Some(k.trim().to_string()).filter(|k| !k.is_empty())
}

/// `ethtool -i IFACE`, through the runner; nothing when it cannot tell.
fn driver_info(r: &mut dyn Runner, iface: &str) -> parse::DriverInfo {
    match r.run(&Cmd::new("ethtool", &["-i", iface])) {
        Ok(o) if o.ok() => parse::driver_info(&o.stdout),
        _ => parse::DriverInfo::default(),
    }
}

fn with_driver(mut e: Environment, r: &mut dyn Runner, iface: &str) -> Environment {
    let d = driver_info(r, iface);
    if d.driver.is_some() {
        e.driver_from = Some(format!("ethtool -i {iface}"));
    }
    (e.driver, e.driver_version, e.firmware) = (d.driver, d.version, d.firmware);
    e
}

/// A real card, as discover found it.
pub fn nic(env: &mut Env, host: &Host, proc_root: &Path) -> Environment {
    let pf = &host.pfs[0];
    let id = |f: &str| env.sys.read(&format!("bus/pci/devices/{}/{f}", pf.pci));
    let (vendor, device) = (id("vendor"), id("device"));
    let name = match (&vendor, &device) {
        (Some(v), Some(d)) if v == MELLANOX => CONNECTX.iter().find(|(id, _)| id == d).map(|(_, n)| n.to_string()),
        _ => None,
    };
    let pci_id = vendor.zip(device).map(|(v, d)| format!("{}:{}", hex(&v), hex(&d)));
    let bond = host.bond.as_ref();
    let e = Environment {
        host: "mlx5".into(),
        nic: name,
        pci_id,
        hostname: hostname(proc_root),
        kernel: kernel(proc_root),
        bond: bond.map(|b| b.name.clone()),
        bond_mode: bond.and_then(|b| b.mode.clone()),
        xmit_hash_policy: bond.and_then(|b| b.xmit_hash_policy.clone()),
        port_sel_mode: host.lag.port_sel_mode.clone(),
        vf_count: Some(host.pfs.iter().map(|p| p.sriov_numvfs).sum()),
        ..Environment::default()
    };
    with_driver(e, env.runner, &pf.netdev)
}

fn hex(id: &str) -> String {
    id.trim_start_matches("0x").to_string()
}

/// The lab: veth links, DPDK bonds on the switch side (and on the DUT without --vf), and with
/// --vf one VF behind the LAG model (its port_sel_mode read from the model's debugfs tree).
pub fn lab(r: &mut dyn Runner, args: &SoakArgs, spec: &LabSpec, v: Option<&VfSpec>, proc_root: &Path) -> Environment {
    let port_sel_mode = v.and_then(|v| {
        let sleep = |_| {};
        let env = Env {
            sys: SysFs::new("/sys"),
            debugfs: SysFs::new(v.debugfs_root()),
            dmesg_file: None,
            runner: &mut *r,
            sleep: &sleep,
        };
        lagstate::read(&env, crate::lab::card_view::PF_PCI[0], None).port_sel_mode
    });
    let e = Environment {
        host: if v.is_some() { "lab-vf" } else { "lab" }.into(),
        nic: Some(if v.is_some() { "lab VF (veth), LAG model" } else { "lab bond (veth)" }.into()),
        hostname: hostname(proc_root),
        kernel: kernel(proc_root),
        bond: Some(if v.is_some() { "the switch side's vflag-dp bond" } else { "vflag-dp bonds, both sides" }.into()),
        bond_mode: Some(args.bond.name().into()),
        // vflag-dp's bonds hash l34 (its --hash default; the soak gives no other).
        xmit_hash_policy: args.bond.spreads().then(|| "l34".into()),
        port_sel_mode,
        vf_count: v.map(|_| 1),
        ..Environment::default()
    };
    let iface = v.map_or(spec.links[0].0.clone(), |v| v.vf.clone());
    with_driver(e, r, &iface)
}

impl Environment {
    /// The DUT's DPDK, as its vflag-dp reports it.
    pub fn dpdk_from_receiver(&mut self, version: &str) {
        if !version.is_empty() {
            self.dpdk = Some(version.to_string());
            self.dpdk_from = Some("the receiver's report (rx.json dpdk_version)".into());
        }
    }

    /// "Environment: ConnectX-6 Dx (15b3:101d), firmware ..., driver ..., kernel ..., DPDK ...;
    /// bond vf-bond 802.3ad layer3+4, port_sel_mode hash, 8 VFs."
    pub fn markdown(&self) -> String {
        let or = |v: &Option<String>| v.clone().unwrap_or_else(|| "?".into());
        let nic = match (&self.nic, &self.pci_id) {
            (Some(n), Some(id)) => format!("{n} ({id})"),
            (Some(n), None) => n.clone(),
            (None, Some(id)) => format!("PCI {id}"),
            (None, None) => "NIC ?".into(),
        };
        let mut bond = format!("bond {} mode {}", or(&self.bond), or(&self.bond_mode));
        if let Some(h) = &self.xmit_hash_policy {
            bond += &format!(" hash {h}");
        }
        format!(
            "Environment: {}, firmware {}, driver {} {}, kernel {}, DPDK {}; {bond}, port_sel_mode {}, VFs {}.\n",
            super::markdown::md(&nic),
            super::markdown::md(&or(&self.firmware)),
            super::markdown::md(&or(&self.driver)),
            super::markdown::md(&or(&self.driver_version)),
            super::markdown::md(&or(&self.kernel)),
            super::markdown::md(or(&self.dpdk).trim_start_matches("DPDK ")),
            super::markdown::md(&or(&self.port_sel_mode)),
            self.vf_count.map_or("?".to_string(), |n| n.to_string())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlx5::discover::{discover, FOR_TEARDOWN};
    use crate::mlx5::plan::Setup;
    use crate::mlx5::testing::fake::{self, FakeHost};
    use crate::mlx5::testing::up_on;

    fn proc_with(kernel: &str) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("sys/kernel")).unwrap();
        std::fs::write(d.path().join("sys/kernel/osrelease"), format!("{kernel}\n")).unwrap();
        std::fs::write(d.path().join("sys/kernel/hostname"), "dut1\n").unwrap();
        d
    }

    #[test]
    fn the_seeds_card_is_named_with_its_firmware_driver_bond_and_lag() {
        let mut h = FakeHost::seed();
        up_on(&mut h, &Setup::default()).unwrap();
        let (root, sleep, proc) = (h.root(), |_| {}, proc_with("6.1.0-13-amd64"));
        let mut env = fake::env_at(&root, &mut h, &sleep);
        let host = discover(&mut env, None, "vf-bond", FOR_TEARDOWN).unwrap();
        let mut e = nic(&mut env, &host, proc.path());
        e.dpdk_from_receiver("DPDK 22.11.4");
        assert_eq!(
            e,
            Environment {
                host: "mlx5".into(),
                hostname: Some("dut1".into()),
                nic: Some("ConnectX-6 Dx".into()),
                pci_id: Some("15b3:101d".into()),
                firmware: Some("22.36.1010 (MT_0000000359)".into()),
                driver: Some("mlx5_core".into()),
                driver_version: Some("6.1.0-13-amd64".into()),
                driver_from: Some("ethtool -i enp1s0f0np0".into()),
                kernel: Some("6.1.0-13-amd64".into()),
                dpdk: Some("DPDK 22.11.4".into()),
                dpdk_from: Some("the receiver's report (rx.json dpdk_version)".into()),
                bond: Some("vf-bond".into()),
                bond_mode: Some("802.3ad".into()),
                xmit_hash_policy: Some("layer2".into()),
                port_sel_mode: Some("hash".into()),
                vf_count: Some(8),
            }
        );
        assert_eq!(
            e.markdown(),
            "Environment: ConnectX-6 Dx (15b3:101d), firmware 22.36.1010 (MT_0000000359), driver mlx5_core \
             6.1.0-13-amd64, kernel 6.1.0-13-amd64, DPDK 22.11.4; bond vf-bond mode 802.3ad hash layer2, \
             port_sel_mode hash, VFs 8.\n"
        );
    }

    #[test]
    fn an_unknown_device_keeps_its_ids_and_no_name_and_unread_fields_stay_null() {
        let dir = fake::copy_fixture("up");
        let dev = dir.path().join("sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/device");
        std::fs::write(dev, "0x1099\n").unwrap();
        let (mut r, sleep) = (crate::runner::Recorder::default(), |_| {});
        r.answer("ethtool -i", crate::runner::Output { code: 1, ..Default::default() }, false);
        let mut env = fake::env_at(dir.path(), &mut r, &sleep);
        let host = discover(&mut env, None, "vf-bond", FOR_TEARDOWN).unwrap();
        let e = nic(&mut env, &host, Path::new("/nonexistent"));
        assert_eq!((e.nic, e.pci_id.as_deref()), (None, Some("15b3:1099")));
        assert_eq!((e.firmware, e.driver, e.driver_from, e.kernel, e.dpdk), (None, None, None, None, None));
        assert_eq!(e.hostname, None);
    }
}
