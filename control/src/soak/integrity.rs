//! Offload integrity around the flaps: before the first flap and after each one (just before
//! the next, or the end), is the VF-LAG still in the NIC? On real hardware: the bond's and both
//! PFs' ingress on the shared block, the flower rule to the representor present and `in_hw`,
//! the representor up, the LAG active with both ports mapped (verify's `Want`s and parsers). On
//! the lab with `--vf`: the lab's equivalents (the host ends on block 22, the redirect to the
//! representor, the representor up, the LAG model's debugfs state); `in_hw` does not apply to
//! veth. A check that fails fails its flap (the one before the first flap: the soak).
//!
//! The checks run tc and read sysfs, so they run in a thread while the soak keeps reading the
//! receiver's events, bounded by the time left before the next flap: never on a flap's timing.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

use super::clock::unix_now;
use super::verdict::Verdict;
use crate::lab::vf::{self, VfSpec};
use crate::lab::LabSpec;
use crate::mlx5::check::{find_flower, FilterAt, Want};
use crate::mlx5::cli::{with_env, HostArgs};
use crate::mlx5::parse::Ingress;
use crate::mlx5::sysfs::SysFs;
use crate::mlx5::{lagstate, verify, Env};
use crate::runner::{Runner, SystemRunner};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    /// Could not tell (tc said neither in_hw nor not_in_hw, a check that did not finish): not
    /// a pass, as in verify.
    Unknown,
    /// Not on this kind of link (in_hw on veth).
    NotApplicable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub detail: String,
}

impl Check {
    fn new(name: impl Into<String>, status: Status, detail: impl Into<String>) -> Check {
        Check { name: name.into(), status, detail: detail.into() }
    }

    fn of(name: impl Into<String>, holds: bool, detail: impl Into<String>) -> Check {
        Check::new(name, if holds { Status::Pass } else { Status::Fail }, detail)
    }

    fn want(env: &mut Env, name: impl Into<String>, want: Want) -> Result<Check> {
        let s = want.check(env)?;
        Ok(Check::of(name, s.holds, s.now))
    }

    fn failed(&self) -> bool {
        matches!(self.status, Status::Fail | Status::Unknown)
    }
}

/// When a check ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "when", content = "flap", rename_all = "snake_case")]
pub enum When {
    /// Before the first flap (or, watching flaps done by hand, before the watch).
    BeforeFlaps,
    /// After flap N's up: just before the next flap, or the end.
    AfterFlap(usize),
    /// Watching flaps done by hand: at the end of the watch.
    End,
}

impl When {
    fn label(self) -> String {
        match self {
            When::BeforeFlaps => "before the first flap".into(),
            When::AfterFlap(n) => format!("after flap {n}"),
            When::End => "at the end".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Record {
    #[serde(flatten)]
    pub when: When,
    pub t_unix_s: f64,
    pub took_ms: f64,
    /// Every check passed or does not apply.
    pub pass: bool,
    pub checks: Vec<Check>,
}

/// soak.json's `integrity`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IntegrityReport {
    pub checked: bool,
    /// Why not, when not checked.
    pub why_not: Option<String>,
    /// What the checks look at.
    pub target: Option<String>,
    pub records: Vec<Record>,
}

/// The mlx5 host's VF-LAG set-up, as the pre-flight found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NicTarget {
    pub bond: String,
    pub pfs: [String; 2],
    /// The first PF's PCI address: where debugfs shows the LAG.
    pub pf_pci: String,
    pub representor: String,
    pub block: u32,
    pub vf_mac: String,
}

/// What to check, and how.
#[derive(Clone)]
enum Probe {
    Nic(HostArgs, NicTarget),
    Lab(LabSpec, VfSpec),
    /// A check that takes this long (tests of the bound).
    #[cfg(test)]
    Hang(Duration),
}

impl Probe {
    fn run(&self) -> Result<Vec<Check>> {
        match self {
            Probe::Nic(host, t) => with_env(host, |env| nic_checks(env, t)),
            Probe::Lab(spec, v) => lab_checks(&mut SystemRunner, spec, v),
            #[cfg(test)]
            Probe::Hang(d) => {
                std::thread::sleep(*d);
                Ok(vec![Check::new("slow", Status::Pass, "answered")])
            }
        }
    }
}

pub struct Integrity {
    probe: Option<Probe>,
    why_not: Option<String>,
    target: Option<String>,
    records: Vec<Record>,
}

/// The whole-soak checks, as `--junit` names them.
pub const BEFORE: &str = "offload integrity before the first flap";
pub const AT_END: &str = "offload integrity at the end";
/// A flap's check (its failures' type).
pub const AFTER_FLAP: &str = "offload integrity";

/// The longest a check may take; it starts that long before the next flap.
const MAX_LEAD: Duration = Duration::from_secs(2);

impl Integrity {
    pub fn nic(host: HostArgs, t: NicTarget) -> Integrity {
        let target = format!(
            "mlx5 VF-LAG: ingress block {} on {}, {} and {}; flower dst_mac {} -> {} in_hw; {} up; the LAG of {}",
            t.block, t.bond, t.pfs[0], t.pfs[1], t.vf_mac, t.representor, t.representor, t.pf_pci
        );
        Integrity { probe: Some(Probe::Nic(host, t)), why_not: None, target: Some(target), records: Vec::new() }
    }

    pub fn lab(spec: &LabSpec, v: &VfSpec) -> Integrity {
        let hosts: Vec<&str> = spec.links.iter().map(|l| l.0.as_str()).collect();
        let target = format!(
            "the lab's VF-LAG: ingress block {} on {}; its redirect to {}; {} up; the LAG model's debugfs state \
             (in_hw: not applicable, veth)",
            v.block,
            hosts.join(" and "),
            v.rep,
            v.rep
        );
        Integrity {
            probe: Some(Probe::Lab(spec.clone(), v.clone())),
            why_not: None,
            target: Some(target),
            records: Vec::new(),
        }
    }

    pub fn not_applicable(why: impl Into<String>) -> Integrity {
        Integrity { probe: None, why_not: Some(why.into()), target: None, records: Vec::new() }
    }

    /// Whether there is anything to check.
    pub fn applies(&self) -> bool {
        self.probe.is_some()
    }

    /// How long before a deadline `left` away the check starts (zero: no check): half the
    /// time left, at most [`MAX_LEAD`], so it ends before the flap.
    pub fn lead(&self, left: Duration) -> Duration {
        if self.probe.is_none() {
            return Duration::ZERO;
        }
        (left / 2).min(MAX_LEAD)
    }

    /// Runs the checks in a thread for at most `limit`, calling `tick` (the soak's: events,
    /// progress, Ctrl-C) while it waits. The line to show, or None when `tick` says stop.
    pub fn check(
        &mut self,
        when: When,
        limit: Duration,
        mut tick: impl FnMut() -> Result<bool>,
    ) -> Result<Option<String>> {
        let Some(probe) = self.probe.clone() else {
            return Ok(Some(format!(
                "integrity {}: not checked ({})",
                when.label(),
                self.why_not.as_deref().unwrap_or("-")
            )));
        };
        let (t0, t_unix_s) = (Instant::now(), unix_now());
        let (tx, rx) = mpsc::channel();
        // A check that hangs (tc waiting on the kernel) is left behind, not waited for.
        std::thread::Builder::new().name("integrity".into()).spawn(move || {
            let _ = tx.send(probe.run());
        })?;
        let checks = loop {
            match rx.recv_timeout(Duration::from_millis(20)) {
                Ok(Ok(c)) => break c,
                Ok(Err(e)) => break vec![Check::new("integrity check", Status::Unknown, format!("{e:#}"))],
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    break vec![Check::new("integrity check", Status::Unknown, "the check's thread panicked")]
                }
                Err(mpsc::RecvTimeoutError::Timeout) if t0.elapsed() >= limit => {
                    let detail = format!("did not finish within {} ms (tc or sysfs did not answer)", limit.as_millis());
                    break vec![Check::new("integrity check", Status::Unknown, detail)];
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if !tick()? {
                        return Ok(None);
                    }
                }
            }
        };
        let r = self.record(when, t_unix_s, t0.elapsed(), checks);
        Ok(Some(line(r)))
    }

    fn record(&mut self, when: When, t_unix_s: f64, took: Duration, checks: Vec<Check>) -> &Record {
        let pass = !checks.iter().any(Check::failed);
        self.records.push(Record { when, t_unix_s, took_ms: took.as_secs_f64() * 1e3, pass, checks });
        self.records.last().expect("just pushed")
    }

    /// A failed check fails its flap; before the first flap or at the end, the soak.
    pub fn judge(&self, v: &mut Verdict) {
        for r in &self.records {
            let failed = r.checks.iter().filter(|c| c.failed());
            match r.when {
                When::AfterFlap(n) => {
                    for c in failed {
                        v.flap(n, AFTER_FLAP, format!("flap {n}: after up, {}: {}", c.name, c.detail));
                    }
                }
                When::BeforeFlaps | When::End => {
                    let check = if r.when == When::End { AT_END } else { BEFORE };
                    v.judged(check);
                    for c in failed {
                        v.soak(check, format!("offload integrity {}: {}: {}", r.when.label(), c.name, c.detail));
                    }
                }
            }
        }
        v.pass = v.failures.is_empty();
    }

    pub fn report(&self) -> IntegrityReport {
        IntegrityReport {
            checked: self.probe.is_some(),
            why_not: self.why_not.clone(),
            target: self.target.clone(),
            records: self.records.clone(),
        }
    }
}

/// "integrity before the first flap: ok (7 checks, 41 ms)" or "...: FAIL: NAME: DETAIL; ...".
fn line(r: &Record) -> String {
    let failed: Vec<String> =
        r.checks.iter().filter(|c| c.failed()).map(|c| format!("{}: {}", c.name, c.detail)).collect();
    let head = format!("integrity {}", r.when.label());
    if failed.is_empty() {
        format!("{head}: ok ({} checks, {:.0} ms)", r.checks.len(), r.took_ms)
    } else {
        format!("{head}: FAIL: {}", failed.join("; "))
    }
}

/// The hardware checks, as verify names them.
pub fn nic_checks(env: &mut Env, t: &NicTarget) -> Result<Vec<Check>> {
    let mut c = Vec::new();
    for dev in [&t.bond, &t.pfs[0], &t.pfs[1]] {
        let want = Want::Ingress { dev: dev.clone(), ingress: Ingress::Block(t.block) };
        c.push(Check::want(env, format!("{dev} ingress on shared block {}", t.block), want)?);
    }
    let rule = find_flower(env, &FilterAt::Block(t.block), &t.vf_mac, false, &t.representor)?;
    let name = format!("flower rule dst_mac {} -> {} on block {}", t.vf_mac, t.representor, t.block);
    c.push(Check::of(name, rule.is_some(), if rule.is_some() { "present" } else { "no such rule" }));
    let (status, detail) = verify::offloaded(rule.as_ref());
    let status = match status {
        verify::Status::Pass => Status::Pass,
        verify::Status::Fail => Status::Fail,
        verify::Status::Unknown => Status::Unknown,
    };
    c.push(Check::new("flower rule offloaded (in_hw)", status, detail));
    let rep = Want::AdminUp { dev: t.representor.clone(), up: true };
    c.push(Check::want(env, format!("representor {} up", t.representor), rep)?);
    c.extend(lag_checks(env, &t.pf_pci, "hardware LAG active")?);
    Ok(c)
}

/// The LAG active (as verify asks), and both ports in its mapping (debugfs only: a LAG that
/// is active but still leaves a port out did not come back whole).
fn lag_checks(env: &mut Env, pf_pci: &str, name: &str) -> Result<Vec<Check>> {
    let active = Check::want(env, name, Want::LagActive { pf_pci: pf_pci.to_string() })?;
    let mapping = lagstate::read(env, pf_pci, None).mapping;
    let both = if mapping.is_empty() {
        Check::new("LAG maps both ports", Status::NotApplicable, "no debugfs mapping to read")
    } else {
        let ports = mapped_ports(&mapping);
        Check::of("LAG maps both ports", ports == [1, 2], format!("debugfs mapping {}", mapping.join(" ")))
    };
    Ok(vec![active, both])
}

/// The ports traffic goes out of: hash mode lists them (`1`, `2`), queue affinity maps each
/// port to one (`1:1`, `2:2`; `1:2` while port 1 is down).
fn mapped_ports(mapping: &[String]) -> Vec<u8> {
    let mut p: Vec<u8> =
        mapping.iter().filter_map(|l| l.rsplit(':').next().and_then(|x| x.trim().parse().ok())).collect();
    p.sort_unstable();
    p.dedup();
    p
}

/// The lab's equivalents, from `lab::vf::status` and the LAG model's debugfs tree.
pub fn lab_checks(r: &mut dyn Runner, spec: &LabSpec, v: &VfSpec) -> Result<Vec<Check>> {
    let st = vf::status(r, spec, v)?;
    let mut c = Vec::new();
    for ((host, _), on) in spec.links.iter().zip(&st.host_on_block) {
        let detail = if *on { format!("an ingress qdisc on block {}", v.block) } else { "not on the block".into() };
        c.push(Check::of(format!("{host} ingress on shared block {}", v.block), *on, detail));
    }
    let name = format!("redirect on block {} -> {}", v.block, v.rep);
    c.push(Check::of(name, st.redirect, if st.redirect { "present" } else { "no such filter" }));
    c.push(Check::new("offloaded (in_hw)", Status::NotApplicable, "not applicable (veth)"));
    c.push(Check::of(format!("representor {} up", v.rep), st.rep_up, if st.rep_up { "up" } else { "down or absent" }));
    let sleep = |_| {};
    let mut env = Env {
        sys: SysFs::new("/sys"),
        debugfs: SysFs::new(v.debugfs_root()),
        dmesg_file: Some(v.kern_log()),
        runner: r,
        sleep: &sleep,
    };
    c.extend(lag_checks(&mut env, crate::lab::card_view::PF_PCI[0], "LAG active (the lab's model)")?);
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlx5::plan::Setup;
    use crate::mlx5::testing::fake::{self, FakeHost};
    use crate::mlx5::testing::up_on;
    use crate::runner::Cmd;

    fn target() -> NicTarget {
        NicTarget {
            bond: "vf-bond".into(),
            pfs: ["enp1s0f0np0".into(), "enp1s0f1np1".into()],
            pf_pci: "0000:01:00.0".into(),
            representor: "enp1s0f0npf0vf0".into(),
            block: 22,
            vf_mac: "52:54:00:00:00:01".into(),
        }
    }

    fn up() -> FakeHost {
        let mut h = FakeHost::seed();
        up_on(&mut h, &Setup::default()).unwrap();
        h
    }

    fn checks(h: &mut FakeHost) -> Vec<Check> {
        let (root, sleep) = (h.root(), |_| {});
        let mut env = fake::env_at(&root, h, &sleep);
        nic_checks(&mut env, &target()).unwrap()
    }

    fn run(h: &mut FakeHost, cmd: &[&str]) {
        assert!(h.run(&Cmd::new(cmd[0], &cmd[1..])).unwrap().ok(), "{cmd:?}");
    }

    /// A soak's records from the checks after each step, judged.
    fn judged(h: &mut FakeHost, steps: &[&[&[&str]]]) -> (Integrity, Verdict) {
        let mut i = Integrity::nic(
            HostArgs { sysfs_root: h.root().join("sys"), debugfs_root: None, dmesg_file: None, pfs: None },
            target(),
        );
        let c = checks(h);
        i.record(When::BeforeFlaps, 0.0, Duration::ZERO, c);
        for (n, cmds) in steps.iter().enumerate() {
            for cmd in *cmds {
                run(h, cmd);
            }
            let c = checks(h);
            i.record(When::AfterFlap(n + 1), 0.0, Duration::ZERO, c);
        }
        let mut v = Verdict { pass: true, ..Verdict::default() };
        i.judge(&mut v);
        (i, v)
    }

    const FLAP: [&[&str]; 2] =
        [&["ip", "link", "set", "enp1s0f1np1", "down"], &["ip", "link", "set", "enp1s0f1np1", "up"]];

    #[test]
    fn the_seeds_host_up_passes_every_check_flap_after_flap() {
        let mut h = up();
        let (i, v) = judged(&mut h, &[&FLAP, &FLAP]);
        assert!(v.pass, "{:?}", v.failures);
        assert_eq!(v.soak_checks, [BEFORE], "the check before the first flap is a whole-soak check, passed");
        let r = i.report();
        assert_eq!(r.records.len(), 3);
        let names: Vec<&str> = r.records[2].checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "vf-bond ingress on shared block 22",
                "enp1s0f0np0 ingress on shared block 22",
                "enp1s0f1np1 ingress on shared block 22",
                "flower rule dst_mac 52:54:00:00:00:01 -> enp1s0f0npf0vf0 on block 22",
                "flower rule offloaded (in_hw)",
                "representor enp1s0f0npf0vf0 up",
                "hardware LAG active",
                "LAG maps both ports",
            ]
        );
        assert!(r.records.iter().all(|r| r.pass && r.checks.iter().all(|c| c.status == Status::Pass)), "{r:?}");
        assert_eq!(r.records[1].checks[4].detail, "in_hw");
        assert_eq!(r.records[1].checks[7].detail, "debugfs mapping 1 2");
        let json = serde_json::to_value(&r.records[1]).unwrap();
        assert_eq!((json["when"].as_str(), json["flap"].as_u64()), (Some("after_flap"), Some(1)), "{json}");
    }

    #[test]
    fn a_rule_that_falls_back_to_software_fails_that_flap_with_the_reason() {
        let mut h = up();
        // The PF loses hw-tc-offload during flap 2 (a driver reset would): tc keeps the rule
        // in software only.
        let off: [&[&str]; 3] = [FLAP[0], &["ethtool", "-K", "enp1s0f1np1", "hw-tc-offload", "off"], FLAP[1]];
        let (_, v) = judged(&mut h, &[&FLAP, &off]);
        assert!(!v.pass);
        let who: Vec<(Option<usize>, &str)> = v.failures.iter().map(|f| (f.flap, f.check)).collect();
        assert_eq!(who, [(Some(2), AFTER_FLAP)]);
        assert_eq!(
            v.lines(),
            ["flap 2: after up, flower rule offloaded (in_hw): not_in_hw: the NIC did not take it \
              (hw-tc-offload off, or not switchdev)"]
        );
    }

    #[test]
    fn a_block_gone_and_a_representor_down_fail_with_what_the_host_shows() {
        let mut h = up();
        let gone: [&[&str]; 1] = [&["tc", "qdisc", "del", "dev", "enp1s0f0np0", "ingress"]];
        let rep_down: [&[&str]; 1] = [&["ip", "link", "set", "enp1s0f0npf0vf0", "down"]];
        let (_, v) = judged(&mut h, &[&gone, &rep_down]);
        assert_eq!(
            v.lines(),
            [
                "flap 1: after up, enp1s0f0np0 ingress on shared block 22: enp1s0f0np0 has no ingress qdisc",
                "flap 2: after up, enp1s0f0np0 ingress on shared block 22: enp1s0f0np0 has no ingress qdisc",
                "flap 2: after up, representor enp1s0f0npf0vf0 up: enp1s0f0npf0vf0 is down (operstate down)",
            ],
            "the other PF's qdisc still holds the block and its rule: only that PF's check fails"
        );
    }

    #[test]
    fn a_lag_that_did_not_come_back_fails_and_so_does_the_soak_before_the_first_flap() {
        let mut h = up();
        // The PF leaves the bond: the driver tears the LAG down and it stays down.
        let out: [&[&str]; 1] = [&["ip", "link", "set", "enp1s0f1np1", "nomaster"]];
        let (_, v) = judged(&mut h, &[&out]);
        assert_eq!(v.lines(), ["flap 1: after up, hardware LAG active: debugfs mlx5/0000:01:00.0/lag/state: disabled"]);
        // Broken before the first flap: the whole soak fails, named as such.
        let (_, v) = judged(&mut h, &[]);
        assert_eq!(v.failures[0].flap, None);
        assert_eq!(
            v.lines(),
            ["offload integrity before the first flap: hardware LAG active: debugfs mlx5/0000:01:00.0/lag/state: \
              disabled"]
        );
    }

    #[test]
    fn the_mapping_must_name_both_ports_in_either_mode() {
        let m = |v: &[&str]| mapped_ports(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(m(&["1", "2"]), [1, 2]);
        assert_eq!(m(&["2"]), [2]);
        assert_eq!(m(&["1:1", "2:2"]), [1, 2]);
        assert_eq!(m(&["1:2", "2:2"]), [2], "queue affinity with port 1 down");
    }

    #[test]
    fn a_check_that_does_not_finish_is_unknown_and_ctrl_c_stops_the_wait() {
        let hang = |d| Integrity { probe: Some(Probe::Hang(d)), why_not: None, target: None, records: Vec::new() };
        let mut i = hang(Duration::from_secs(5));
        assert_eq!(i.lead(Duration::from_secs(10)), MAX_LEAD);
        assert_eq!(i.lead(Duration::from_millis(600)), Duration::from_millis(300));
        assert_eq!(Integrity::not_applicable("x").lead(Duration::from_secs(10)), Duration::ZERO);
        let (t0, mut ticks) = (Instant::now(), 0);
        let line = i
            .check(When::AfterFlap(3), Duration::from_millis(100), || {
                ticks += 1;
                Ok(true)
            })
            .unwrap();
        assert!(t0.elapsed() < Duration::from_secs(1), "bounded: {:?}", t0.elapsed());
        assert!(ticks >= 3, "the soak kept reading events while it waited: {ticks}");
        assert_eq!(
            line.as_deref(),
            Some("integrity after flap 3: FAIL: integrity check: did not finish within 100 ms (tc or sysfs did not answer)")
        );
        let mut v = Verdict::default();
        i.judge(&mut v);
        assert_eq!(v.failures[0].flap, Some(3));
        // Ctrl-C while it runs: no record, the soak stops.
        let mut i = hang(Duration::from_secs(5));
        assert_eq!(i.check(When::BeforeFlaps, Duration::from_secs(30), || Ok(false)).unwrap(), None);
        assert!(i.report().records.is_empty());
        // One that finishes in time is recorded as it ran.
        let mut i = hang(Duration::from_millis(1));
        let line = i.check(When::BeforeFlaps, Duration::from_secs(5), || Ok(true)).unwrap().unwrap();
        assert!(line.starts_with("integrity before the first flap: ok (1 checks, "), "{line}");
    }

    /// The lab's tc and link answers: both host ends on block 22 (unless `p1_off`), the
    /// redirect, the representor up or down.
    fn lab_host(p1_off: bool, rep_up: bool) -> crate::runner::Recorder {
        let out = |s: &str| crate::runner::Output { stdout: s.into(), ..Default::default() };
        let rep = if rep_up { "<BROADCAST,UP>" } else { "<BROADCAST>" };
        let links = format!(
            "7: p0@if6: <BROADCAST,UP> x\\    alias vflag-lab\n9: p1@if8: <BROADCAST,UP> x\\    alias vflag-lab\n\
             11: vf0rep@vf0: {rep} x\\    alias vflag-lab\n12: vf0@vf0rep: <BROADCAST,UP> x\\    alias vflag-lab\n"
        );
        let block = out("qdisc ingress ffff: parent ffff:fff1 ingress_block 22 ----------------\n");
        let mut r = crate::runner::Recorder::default();
        r.answer("ip -o link show", out(&links), false);
        r.answer("tc qdisc show dev p0", block.clone(), false);
        r.answer("tc qdisc show dev p1", if p1_off { out("") } else { block }, false);
        r.answer(
            "tc filter show block 22",
            out("filter protocol all pref 1 u32 chain 0 fh 800::800 order 2048 key ht 800 bkt 0 terminal flowid \
                 not_in_hw\n  match 00000000/00000000 at 0\n\taction order 1: mirred (Egress Redirect to device \
                 vf0rep) stolen\n"),
            false,
        );
        r.answer("tc filter show dev vf0rep ingress", out("filter protocol all pref 1 bpf chain 0 \n"), false);
        r
    }

    #[test]
    fn the_labs_equivalents_pass_and_fail_as_the_lab_shows_and_in_hw_does_not_apply() {
        use crate::lab::card_view::{Live, Mlx5View};
        let dir = tempfile::tempdir().unwrap();
        let spec = LabSpec::default();
        let mut v = VfSpec::new(&spec);
        v.run_dir = dir.path().to_path_buf();
        let mut view = Mlx5View::activated(&spec);
        view.write(&v.debugfs_root()).unwrap();
        let c = lab_checks(&mut lab_host(false, true), &spec, &v).unwrap();
        let got: Vec<(&str, Status)> = c.iter().map(|c| (c.name.as_str(), c.status)).collect();
        assert_eq!(
            got,
            [
                ("p0 ingress on shared block 22", Status::Pass),
                ("p1 ingress on shared block 22", Status::Pass),
                ("redirect on block 22 -> vf0rep", Status::Pass),
                ("offloaded (in_hw)", Status::NotApplicable),
                ("representor vf0rep up", Status::Pass),
                ("LAG active (the lab's model)", Status::Pass),
                ("LAG maps both ports", Status::Pass),
            ]
        );
        assert_eq!(c[3].detail, "not applicable (veth)");
        // The model still mapping one port, p1 off the block, the representor down.
        view.live = Live::of([true, false]);
        view.write(&v.debugfs_root()).unwrap();
        let mut i = Integrity::lab(&spec, &v);
        let c = lab_checks(&mut lab_host(true, false), &spec, &v).unwrap();
        i.record(When::AfterFlap(1), 0.0, Duration::ZERO, c);
        let mut verdict = Verdict::default();
        i.judge(&mut verdict);
        assert_eq!(
            verdict.lines(),
            [
                "flap 1: after up, p1 ingress on shared block 22: not on the block",
                "flap 1: after up, representor vf0rep up: down or absent",
                "flap 1: after up, LAG maps both ports: debugfs mapping 1",
            ]
        );
        // The model's LAG torn down.
        view.active = false;
        view.write(&v.debugfs_root()).unwrap();
        let c = lab_checks(&mut lab_host(false, true), &spec, &v).unwrap();
        let lag = c.iter().find(|c| c.name.starts_with("LAG active")).unwrap();
        assert_eq!((lag.status, lag.detail.as_str()), (Status::Fail, "debugfs mlx5/0000:01:00.0/lag/state: disabled"));
    }

    #[test]
    fn junit_fails_the_flap_whose_check_failed_and_has_a_case_for_the_one_before_the_flaps() {
        let mut r = crate::soak::report::tests::sample();
        let mut i = Integrity::nic(
            HostArgs { sysfs_root: "/sys".into(), debugfs_root: None, dmesg_file: None, pfs: None },
            target(),
        );
        let ok = vec![Check::new("representor r up", Status::Pass, "r is up (operstate up)")];
        let sw = vec![Check::new("flower rule offloaded (in_hw)", Status::Fail, "not_in_hw")];
        i.record(When::BeforeFlaps, 0.0, Duration::ZERO, ok);
        i.record(When::AfterFlap(1), 0.0, Duration::ZERO, sw);
        r.verdict = Verdict { pass: true, ..Verdict::default() };
        i.judge(&mut r.verdict);
        r.integrity = i.report();
        let xml = crate::soak::junit::junit(&r).to_xml();
        let d = roxmltree::Document::parse(&xml).unwrap();
        let case = |name: &str| {
            d.descendants()
                .find(|n| n.has_tag_name("testcase") && n.attribute("name").is_some_and(|a| a.starts_with(name)))
                .unwrap_or_else(|| panic!("no testcase {name}: {xml}"))
        };
        let failure = case("flap 1").children().find(|n| n.has_tag_name("failure")).unwrap();
        assert_eq!(failure.attribute("type"), Some(AFTER_FLAP));
        assert!(failure.attribute("message").unwrap().contains("flower rule offloaded (in_hw): not_in_hw"), "{xml}");
        assert!(!case(BEFORE).children().any(|n| n.has_tag_name("failure")), "judged, passed: {xml}");
        let md = crate::soak::report::markdown(&r);
        assert!(md.contains("| after flap 1 | 1 | FAIL: flower rule offloaded (in_hw): not_in_hw |"), "{md}");
        assert!(md.contains("- flap 1: after up, flower rule offloaded (in_hw): not_in_hw"), "{md}");
    }
}
