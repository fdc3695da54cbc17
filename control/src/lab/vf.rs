//! `vflag-ctl lab up --vf`: the lab as the hardware VF-LAG looks to its VF. Besides the lab, a
//! veth pair `vf0` (the VF, where the DUT runs) and `vf0rep` (its representor). Ingress: both
//! host ends share ingress block 22, whose one u32 match-all filter redirects to the
//! representor (the seed's mirred rule; this kernel has no flower), so the frames arrive on the
//! VF. Egress: the representor's tc ingress runs `control/bpf/lag_hash.c`, which hashes each
//! frame into a bucket and redirects it to the host link that bucket maps to, as the mlx5 port
//! selection table does in hash mode. The program is built once per set of live links into the
//! run directory; [`super::lag_model::LagModel`] swaps them on a carrier change.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use super::card_view::{self, Live, PF_PCI};
use super::{LabSpec, MARK};
use crate::runner::{Cmd, Runner};

/// The transmit hash, built at `lab up --vf` time.
pub const LAG_HASH_C: &str = include_str!("../../bpf/lag_hash.c");

/// The tc preference and handle of the representor's BPF filter.
const PREF: &str = "1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VfSpec {
    /// The VF: the netdev the DUT's vflag-dp opens (`--vdev net_af_packet0,iface=VF`).
    pub vf: String,
    /// Its representor.
    pub rep: String,
    /// The ingress block both host ends share.
    pub block: u32,
    /// Where the programs, the debugfs-shaped tree and kern.log live.
    pub run_dir: PathBuf,
}

impl VfSpec {
    /// `vf0`, `vf0rep`, block 22, run directory `/run/vflag/lab-NS` (under `VFLAG_RUN_DIR`).
    pub fn new(lab: &LabSpec) -> VfSpec {
        VfSpec { vf: "vf0".into(), rep: "vf0rep".into(), block: 22, run_dir: run_dir(lab) }
    }

    /// The netdev the DUT should use.
    pub fn dut_iface(&self) -> &str {
        &self.vf
    }

    /// The debugfs root of the model (`<run>/debug`): `mlx5/<pci>/lag/{state,...}` under it,
    /// as under `/sys/kernel/debug` on a real card (`mlx5::lagstate::read` reads either).
    pub fn debugfs_root(&self) -> PathBuf {
        self.run_dir.join("debug")
    }

    /// Where the model shows its bond as sysfs would (`<run>/sys`): the lab has no kernel bond
    /// (DPDK's bonding is not the kernel's), so the bond is the model's, read by the same reader
    /// as a real host's `/sys`.
    pub fn bond_sys_root(&self) -> PathBuf {
        self.run_dir.join("sys")
    }

    /// The kernel-log-shaped file of the model.
    pub fn kern_log(&self) -> PathBuf {
        self.run_dir.join("kern.log")
    }

    /// The program for a set of live links and the host ends' ifindexes.
    pub fn object(&self, ifindex: [u32; 2], live: Live) -> PathBuf {
        self.run_dir.join(format!("lag_hash-{}-{}-{}.o", ifindex[0], ifindex[1], live.bits()))
    }
}

/// `/run/vflag/lab-NS`: the lab's run directory (beside its lock file).
pub fn run_dir(lab: &LabSpec) -> PathBuf {
    crate::claim::run_dir().join(format!("lab-{}", lab.ns))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VfState {
    pub vf: String,
    pub rep: String,
    pub vf_exists: bool,
    /// Both ends carry the lab's alias.
    pub ours: bool,
    pub vf_up: bool,
    pub rep_up: bool,
    /// Per host end: an ingress qdisc on the block.
    pub host_on_block: Vec<bool>,
    /// The block's redirect to the representor.
    pub redirect: bool,
    /// The representor's BPF filter (the transmit hash).
    pub hash: bool,
}

impl VfState {
    pub fn complete(&self) -> bool {
        self.vf_exists
            && self.ours
            && self.vf_up
            && self.rep_up
            && self.host_on_block.iter().all(|b| *b)
            && self.redirect
            && self.hash
    }
}

fn tc(r: &mut dyn Runner, args: &[&str]) -> String {
    r.run(&Cmd::new("tc", args)).map(|o| if o.ok() { o.stdout } else { String::new() }).unwrap_or_default()
}

pub fn status(r: &mut dyn Runner, lab: &LabSpec, vf: &VfSpec) -> Result<VfState> {
    let links = super::parse_links(&r.check(&Cmd::new("ip", &["-o", "link", "show"]))?.stdout);
    let find = |n: &str| links.iter().find(|(name, _, _)| name == n);
    let (v, p) = (find(&vf.vf), find(&vf.rep));
    let block = format!("ingress_block {} ", vf.block);
    let host_on_block = lab
        .links
        .iter()
        .map(|(h, _)| find(h).is_some() && tc(r, &["qdisc", "show", "dev", h, "ingress"]).contains(&block))
        .collect();
    let b = vf.block.to_string();
    let filters = tc(r, &["filter", "show", "block", &b]);
    let redirect = filters.contains("mirred") && filters.contains(&format!("to device {})", vf.rep));
    let hash = p.is_some() && tc(r, &["filter", "show", "dev", &vf.rep, "ingress"]).contains(" bpf ");
    Ok(VfState {
        vf: vf.vf.clone(),
        rep: vf.rep.clone(),
        vf_exists: v.is_some(),
        ours: v.is_some_and(|l| l.2.as_deref() == Some(MARK)) && p.is_some_and(|l| l.2.as_deref() == Some(MARK)),
        vf_up: v.is_some_and(|l| l.1),
        rep_up: p.is_some_and(|l| l.1),
        host_on_block,
        redirect,
        hash,
    })
}

/// An interface's ifindex, from `ip -o link show dev NAME` (`7: p0@if6: ...`).
fn ifindex(r: &mut dyn Runner, name: &str) -> Result<u32> {
    let out = r.check(&Cmd::new("ip", &["-o", "link", "show", "dev", name]))?.stdout;
    out.split(':').next().and_then(|n| n.trim().parse().ok()).with_context(|| format!("no ifindex for {name}"))
}

/// Where `asm/types.h` is for this architecture (Debian's multiarch include directory).
fn multiarch_include() -> Option<String> {
    let d = format!("/usr/include/{}-linux-gnu", std::env::consts::ARCH);
    Path::new(&d).join("asm").is_dir().then_some(d)
}

enum Made {
    Vf,
    Qdisc(String),
    Clsact,
}

/// Brings the lab up with its VF. Returns the commands that changed something (none when all
/// was in place). On a failure it undoes its own steps (and the lab, when it made it).
pub fn up(r: &mut dyn Runner, lab: &LabSpec, vf: &VfSpec) -> Result<Vec<String>> {
    if lab.links.len() != 2 {
        bail!("a VF-LAG joins two links: the lab has {}", lab.links.len());
    }
    let lab_was_up = super::status(r, lab)?.complete();
    let mut done = super::up(r, lab)?;
    let st = status(r, lab, vf)?;
    if st.vf_exists && !st.ours {
        bail!("interface {} exists and is not the lab's (no alias {MARK}): choose other names with --vf-names", vf.vf);
    }
    let mut made = Vec::new();
    let result = vf_steps(r, lab, vf, &st, &mut made, &mut done);
    if let Err(e) = result {
        let mut undone = Vec::new();
        for m in made.iter().rev() {
            let cmd = match m {
                Made::Vf => Cmd::new("ip", &["link", "del", &vf.vf]),
                Made::Qdisc(h) => Cmd::new("tc", &["qdisc", "del", "dev", h, "ingress"]),
                Made::Clsact => Cmd::new("tc", &["qdisc", "del", "dev", &vf.rep, "clsact"]),
            };
            let _ = r.run(&cmd);
            undone.push(cmd.to_string());
        }
        if !lab_was_up {
            if let Ok(d) = super::down(r, lab) {
                undone.extend(d);
            }
        }
        let undo = if undone.is_empty() { String::new() } else { format!("; undone: {}", undone.join(", ")) };
        bail!("lab up --vf failed: {e:#}{undo}");
    }
    Ok(done)
}

fn step(r: &mut dyn Runner, done: &mut Vec<String>, program: &str, args: &[&str]) -> Result<()> {
    let cmd = Cmd::new(program, args);
    r.check(&cmd)?;
    done.push(cmd.to_string());
    Ok(())
}

fn vf_steps(
    r: &mut dyn Runner,
    lab: &LabSpec,
    vf: &VfSpec,
    st: &VfState,
    made: &mut Vec<Made>,
    done: &mut Vec<String>,
) -> Result<()> {
    let (v, p) = (vf.vf.as_str(), vf.rep.as_str());
    if !st.vf_exists {
        step(r, done, "ip", &["link", "add", v, "type", "veth", "peer", "name", p])?;
        made.push(Made::Vf);
        for n in [v, p] {
            step(r, done, "ip", &["link", "set", n, "alias", MARK])?;
            // A quiet VF: no IPv6 router solicitations in the links' counters.
            step(r, done, "sysctl", &["-qw", &format!("net.ipv6.conf.{n}.disable_ipv6=1")])?;
        }
    }
    for (n, up) in [(v, st.vf_up), (p, st.rep_up)] {
        if !up || !st.vf_exists {
            step(r, done, "ip", &["link", "set", n, "up"])?;
        }
    }
    let b = vf.block.to_string();
    for ((h, _), on) in lab.links.iter().zip(&st.host_on_block) {
        if !on {
            step(r, done, "tc", &["qdisc", "add", "dev", h, "ingress_block", &b, "ingress"])?;
            made.push(Made::Qdisc(h.clone()));
        }
    }
    if !st.redirect {
        let rule = ["protocol", "all", "pref", "1", "u32", "match", "u32", "0", "0"];
        let mut args = vec!["filter", "add", "block", &b];
        args.extend(rule);
        args.extend(["action", "mirred", "egress", "redirect", "dev", p]);
        step(r, done, "tc", &args)?;
    }
    // The transmit hash: one object per set of live links, for these ifindexes.
    std::fs::create_dir_all(&vf.run_dir).with_context(|| format!("creating {}", vf.run_dir.display()))?;
    let src = vf.run_dir.join("lag_hash.c");
    let stale = std::fs::read_to_string(&src).ok().as_deref() != Some(LAG_HASH_C);
    if stale {
        card_view::write_atomic(&src, LAG_HASH_C)?;
    }
    let idx = [ifindex(r, &lab.links[0].0)?, ifindex(r, &lab.links[1].0)?];
    for live in Live::ALL {
        let obj = vf.object(idx, live);
        if obj.exists() && !stale {
            continue;
        }
        let (d0, d1, dl) = (
            format!("-DLINK0_IFINDEX={}", idx[0]),
            format!("-DLINK1_IFINDEX={}", idx[1]),
            format!("-DLIVE={}", live.bits()),
        );
        let (srcs, objs) = (src.display().to_string(), obj.display().to_string());
        let mut args = vec!["-O2", "-target", "bpf"];
        let inc = multiarch_include().map(|d| format!("-I{d}"));
        if let Some(i) = &inc {
            args.push(i);
        }
        args.extend([&d0[..], &d1, &dl, "-c", &srcs, "-o", &objs]);
        step(r, done, "clang", &args)?;
    }
    if !st.hash {
        let q = tc(r, &["qdisc", "show", "dev", p, "clsact"]);
        if !q.contains("clsact") {
            step(r, done, "tc", &["qdisc", "add", "dev", p, "clsact"])?;
            made.push(Made::Clsact);
        }
        step(
            r,
            done,
            "tc",
            &replace_args(vf, &vf.object(idx, Live::BOTH)).iter().map(String::as_str).collect::<Vec<_>>(),
        )?;
    }
    // What mlx5 shows once the LAG is active (both ports), unless a model already wrote it.
    if !vf.debugfs_root().join("mlx5").join(PF_PCI[0]).join("lag/state").exists() {
        let m = card_view::Mlx5View::activated(lab);
        m.write(&vf.debugfs_root())?;
        card_view::write_bond(&vf.bond_sys_root(), &m.netdevs, [true, true])?;
        card_view::append_log(&vf.kern_log(), &m.activation_lines(card_view::uptime_now()))?;
    }
    Ok(())
}

/// `tc filter replace dev REP ingress pref 1 handle 1 bpf da obj OBJ sec tc`.
pub fn replace_args(vf: &VfSpec, obj: &Path) -> Vec<String> {
    ["filter", "replace", "dev", &vf.rep, "ingress", "pref", PREF, "handle", "1", "bpf", "da", "obj"]
        .iter()
        .map(|s| s.to_string())
        .chain([obj.display().to_string(), "sec".into(), "tc".into()])
        .collect()
}

/// The host ends' ifindexes, for the model.
pub fn host_ifindexes(r: &mut dyn Runner, lab: &LabSpec) -> Result<[u32; 2]> {
    Ok([ifindex(r, &lab.links[0].0)?, ifindex(r, &lab.links[1].0)?])
}

/// Removes the VF, the host ends' ingress qdiscs on the block, the run directory, then the lab.
pub fn down(r: &mut dyn Runner, lab: &LabSpec, vf: &VfSpec) -> Result<Vec<String>> {
    let st = status(r, lab, vf)?;
    let mut done = Vec::new();
    for ((h, _), on) in lab.links.iter().zip(&st.host_on_block) {
        if *on {
            step(r, &mut done, "tc", &["qdisc", "del", "dev", h, "ingress"])?;
        }
    }
    if st.vf_exists && st.ours {
        step(r, &mut done, "ip", &["link", "del", &vf.vf])?;
    }
    if vf.run_dir.exists() {
        std::fs::remove_dir_all(&vf.run_dir).with_context(|| format!("removing {}", vf.run_dir.display()))?;
        done.push(format!("rm -r {}", vf.run_dir.display()));
    }
    done.extend(super::down(r, lab)?);
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::{Output, Recorder};

    fn out(s: &str) -> Output {
        Output { stdout: s.into(), ..Default::default() }
    }

    fn spec(dir: &Path) -> (LabSpec, VfSpec) {
        let lab = LabSpec::default();
        let mut vf = VfSpec::new(&lab);
        vf.run_dir = dir.join("lab-sw");
        (lab, vf)
    }

    #[test]
    fn up_on_a_bare_host_makes_the_lab_the_vf_the_block_and_the_hash() {
        let dir = tempfile::tempdir().unwrap();
        let (lab, vf) = spec(dir.path());
        let mut r = Recorder::default();
        r.answer("ip -o link show dev p0", out("7: p0@if6: <UP>\n"), false);
        r.answer("ip -o link show dev p1", out("9: p1@if8: <UP>\n"), false);
        r.answer("ip -o link show", out(""), false);
        let done = up(&mut r, &lab, &vf).unwrap();
        let run = vf.run_dir.display().to_string();
        let vfpart: Vec<&str> = done.iter().skip(12).map(String::as_str).collect();
        let inc = multiarch_include().map(|d| format!("-I{d} ")).unwrap_or_default();
        let cc = |l: u8| {
            format!("clang -O2 -target bpf {inc}-DLINK0_IFINDEX=7 -DLINK1_IFINDEX=9 -DLIVE={l} -c {run}/lag_hash.c -o {run}/lag_hash-7-9-{l}.o")
        };
        assert_eq!(
            vfpart,
            [
                "ip link add vf0 type veth peer name vf0rep",
                "ip link set vf0 alias vflag-lab",
                "sysctl -qw net.ipv6.conf.vf0.disable_ipv6=1",
                "ip link set vf0rep alias vflag-lab",
                "sysctl -qw net.ipv6.conf.vf0rep.disable_ipv6=1",
                "ip link set vf0 up",
                "ip link set vf0rep up",
                "tc qdisc add dev p0 ingress_block 22 ingress",
                "tc qdisc add dev p1 ingress_block 22 ingress",
                "tc filter add block 22 protocol all pref 1 u32 match u32 0 0 action mirred egress redirect dev vf0rep",
                &cc(3),
                &cc(1),
                &cc(2),
                "tc qdisc add dev vf0rep clsact",
                &format!(
                    "tc filter replace dev vf0rep ingress pref 1 handle 1 bpf da obj {run}/lag_hash-7-9-3.o sec tc"
                ),
            ]
        );
        assert_eq!(std::fs::read_to_string(vf.run_dir.join("lag_hash.c")).unwrap(), LAG_HASH_C);
        let lag = vf.debugfs_root().join("mlx5/0000:01:00.1/lag");
        assert_eq!(std::fs::read_to_string(lag.join("mapping")).unwrap(), "1\n2\n");
        let log = std::fs::read_to_string(vf.kern_log()).unwrap();
        assert!(log.contains("mlx5_core 0000:01:00.0: lag map active ports: 1, 2\n"), "{log}");
    }

    #[test]
    fn up_again_only_reads_and_a_failure_undoes_the_vf_parts() {
        let dir = tempfile::tempdir().unwrap();
        let (lab, vf) = spec(dir.path());
        // Everything in place (objects built): only reads.
        std::fs::create_dir_all(&vf.run_dir).unwrap();
        std::fs::write(vf.run_dir.join("lag_hash.c"), LAG_HASH_C).unwrap();
        for l in Live::ALL {
            std::fs::write(vf.object([7, 9], l), "").unwrap();
        }
        let host = "1: lo: <LOOPBACK,UP>\n7: p0@if6: <BROADCAST,UP> x\\    alias vflag-lab\n\
            9: p1@if8: <BROADCAST,UP> x\\    alias vflag-lab\n\
            11: vf0rep@vf0: <BROADCAST,UP> x\\    alias vflag-lab\n12: vf0@vf0rep: <BROADCAST,UP> x\\    alias vflag-lab\n";
        let mut r = Recorder::default();
        r.answer("ip netns list", out("sw\n"), false);
        r.answer("ip -o link show dev p0", out("7: p0@if6: <UP>\n"), false);
        r.answer("ip -o link show dev p1", out("9: p1@if8: <UP>\n"), false);
        r.answer("ip -o link show", out(host), false);
        r.answer("ip -n sw -o link show", out("6: s0@if7: <UP>\n8: s1@if9: <UP>\n"), false);
        r.answer(
            "tc qdisc show dev p",
            out("qdisc ingress ffff: parent ffff:fff1 ingress_block 22 ----------------\n"),
            false,
        );
        r.answer(
            "tc filter show block 22",
            out("filter protocol all pref 1 u32 chain 0 fh 800::800 order 2048 key ht 800 bkt 0 terminal flowid not_in_hw\n  match 00000000/00000000 at 0\n\taction order 1: mirred (Egress Redirect to device vf0rep) stolen\n"),
            false,
        );
        r.answer(
            "tc filter show dev vf0rep ingress",
            out("filter protocol all pref 1 bpf chain 0 handle 0x1 lag_hash-7-9-3.o:[tc] direct-action\n"),
            false,
        );
        assert!(status(&mut r, &lab, &vf).unwrap().complete());
        assert_eq!(up(&mut r, &lab, &vf).unwrap(), Vec::<String>::new());

        // A failing clang: the VF, the qdiscs and the lab it made are removed again.
        let dir = tempfile::tempdir().unwrap();
        let (lab, vf) = spec(dir.path());
        let mut r = Recorder::default();
        r.answer("ip -o link show dev", out("7: p0@if6: <UP>\n"), false);
        r.answer("ip -o link show", out(""), false);
        r.answer(
            "clang",
            Output { code: 1, stderr: "fatal error: 'bpf/bpf_helpers.h' file not found".into(), ..Default::default() },
            false,
        );
        let e = up(&mut r, &lab, &vf).unwrap_err().to_string();
        assert!(e.contains("bpf_helpers.h"), "{e}");
        assert!(e.contains("undone: tc qdisc del dev p1 ingress, tc qdisc del dev p0 ingress, ip link del vf0"), "{e}");
    }

    #[test]
    fn down_removes_the_qdiscs_the_vf_the_run_directory_and_the_lab() {
        let dir = tempfile::tempdir().unwrap();
        let (lab, vf) = spec(dir.path());
        std::fs::create_dir_all(&vf.run_dir).unwrap();
        let host = "7: p0@if6: <UP> x\\    alias vflag-lab\n9: p1@if8: <UP> x\\    alias vflag-lab\n\
            12: vf0@vf0rep: <UP> x\\    alias vflag-lab\n11: vf0rep@vf0: <UP> x\\    alias vflag-lab\n";
        let mut r = Recorder::default();
        r.answer("ip netns list", out("sw\n"), false);
        r.answer("ip -o link show", out(host), false);
        r.answer("ip -n sw -o link show", out("6: s0@if7: <UP>\n8: s1@if9: <UP>\n"), false);
        r.answer("tc qdisc show dev p", out("qdisc ingress ffff: parent ffff:fff1 ingress_block 22 ---\n"), false);
        let done = down(&mut r, &lab, &vf).unwrap();
        assert_eq!(
            done,
            [
                "tc qdisc del dev p0 ingress".to_string(),
                "tc qdisc del dev p1 ingress".into(),
                "ip link del vf0".into(),
                format!("rm -r {}", vf.run_dir.display()),
                "ip link del p0".into(),
                "ip link del p1".into(),
                "ip netns del sw".into(),
            ]
        );
        assert!(!vf.run_dir.exists());
    }
}
