//! The receiver: the DUT's vflag-dp (found beside vflag-ctl, on PATH, or `--vflag-dp`) and its
//! argv: `--dut-args` on real hardware, else the lab's ports (the VF, or a bond over the host
//! ends); then what the soak asks of it: the run id, `--fwd rxonly` (`reflect` with
//! `--reflect`), the sample interval, `--events` and `--json` into `--out`. The far side's argv
//! is `peer.rs`'s.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use cli_exit::BadUsage;

use super::args::SoakArgs;
use super::lab_dpdk::{bond_hash, lacp_rate, LAB_MEMORY};
use super::outputs::Files;
use crate::lab::{self, LabSpec};

/// `--vflag-dp`, else the vflag-dp beside this binary (one cargo target directory), else PATH.
pub fn find_vflag_dp(given: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = given {
        if !p.is_file() {
            return Err(BadUsage(format!("--vflag-dp {}: no such file", p.display())).into());
        }
        return Ok(p.to_path_buf());
    }
    let beside = std::env::current_exe().ok().and_then(|e| e.parent().map(|d| d.join("vflag-dp")));
    if let Some(p) = beside.filter(|p| p.is_file()) {
        return Ok(p);
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("vflag-dp")).find(|p| p.is_file()))
        .unwrap_or_default();
    on_path
        .context("vflag-dp not found beside vflag-ctl or on PATH (build it: cargo build --release, or give --vflag-dp)")
}

/// The receiver's argv, its binary first.
pub fn argv(
    args: &SoakArgs,
    spec: &LabSpec,
    vf: Option<&lab::vf::VfSpec>,
    bin: &Path,
    f: &Files,
    run_id: Option<u16>,
) -> Vec<String> {
    let mut v = vec![bin.display().to_string()];
    if let Some(d) = &args.dut_args {
        // Checked by `validate`: it splits.
        v.extend(super::words::split("--dut-args", d).unwrap_or_default());
    } else {
        v.extend(["--lcores".into(), args.rx_lcores.clone()]);
        v.extend(LAB_MEMORY.iter().map(|s| s.to_string()));
        v.extend(["--file-prefix".into(), format!("vflag-soak-rx{}", std::process::id())]);
        if let Some(vf) = vf {
            // One port and no bond, as the real VF: the NIC joins the links.
            v.extend(["--vdev".into(), format!("net_af_packet0,iface={}", vf.dut_iface())]);
        } else {
            for (i, (host, _)) in spec.links.iter().enumerate() {
                v.extend(["--vdev".into(), format!("net_af_packet{i},iface={host}")]);
            }
            v.extend(["--bond".into(), args.bond.name().into(), "--link-wait".into(), "10s".into()]);
            v.extend(bond_hash(args));
            v.extend(lacp_rate(args));
        }
    }
    if let Some(r) = run_id {
        v.extend(["--run-id".into(), r.to_string()]);
    }
    let fwd = if args.reflect { "reflect" } else { "rxonly" };
    v.extend(["--fwd".into(), fwd.into(), "--stats-interval".into(), super::latency::SAMPLE_INTERVAL.into()]);
    v.extend(["--events".into(), f.rx_events.clone(), "--json".into(), f.rx_report.clone()]);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> SoakArgs {
        crate::soak::args::parse_for_test(a).unwrap()
    }

    fn files() -> Files {
        Files { rx_events: "o/e.jsonl".into(), rx_report: "o/rx.json".into(), ..Default::default() }
    }

    #[test]
    fn lab_command_lines_put_a_bond_over_each_side() {
        let a = args(&["--lab", "--bond", "xor", "--flows", "32", "--rate", "50k"]);
        let spec = LabSpec::default();
        let rx = argv(&a, &spec, None, Path::new("/b/vflag-dp"), &files(), Some(7)).join(" ");
        assert!(
            rx.starts_with("/b/vflag-dp --lcores 0-1 --no-huge -m 256 --mbufs 8192 --file-prefix vflag-soak-rx"),
            "{rx}"
        );
        assert!(
            rx.ends_with(
                "--vdev net_af_packet0,iface=p0 --vdev net_af_packet1,iface=p1 --bond xor --link-wait 10s \
             --bond-hash l34 --run-id 7 --fwd rxonly --stats-interval 100ms --events o/e.jsonl --json o/rx.json"
            ),
            "{rx}"
        );
        let a = args(&["--lab", "--bond", "xor", "--bond-hash", "l2"]);
        let rx = argv(&a, &spec, None, Path::new("/b/vflag-dp"), &files(), Some(7)).join(" ");
        assert!(rx.contains("--bond xor --link-wait 10s --bond-hash l2 --run-id 7"), "{rx}");
        // Two-ended: the DUT reflects (the far side's argv: peer.rs).
        let a = args(&["--lab", "--bond", "xor", "--reflect", "--peer-cmd", "ip netns exec 'my ns'"]);
        let rx = argv(&a, &spec, None, Path::new("/b/vflag-dp"), &files(), Some(7));
        assert!(rx.join(" ").contains("--fwd reflect"), "{rx:?}");
    }

    #[test]
    fn dut_receiver_takes_the_users_arguments() {
        let a = args(&["--dut-args", "--lcores 1-2 -a 0000:01:00.2 --mac 52:54:00:00:00:01", "--duration", "60s"]);
        let rx = argv(&a, &LabSpec::default(), None, Path::new("vflag-dp"), &files(), None).join(" ");
        assert_eq!(
            rx,
            "vflag-dp --lcores 1-2 -a 0000:01:00.2 --mac 52:54:00:00:00:01 --fwd rxonly --stats-interval 100ms \
             --events o/e.jsonl --json o/rx.json"
        );
    }

    #[test]
    fn a_missing_vflag_dp_is_named() {
        let e = find_vflag_dp(Some(Path::new("/nonexistent/vflag-dp"))).unwrap_err();
        assert!(e.to_string().contains("--vflag-dp /nonexistent/vflag-dp: no such file"));
    }
}
