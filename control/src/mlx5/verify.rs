//! `vflag-ctl verify`: a checklist of what VF-LAG needs, each item pass, fail or unknown with
//! the reason. It passes only when every required item passes.

use anyhow::Result;
use serde::Serialize;

use super::check::{find_flower, FilterAt, Want};
use super::discover::Host;
use super::dmesg;
use super::parse::{Filter, Ingress};
use super::plan::Setup;
use super::Env;
use vflag_contract::value::BondMode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    pub name: String,
    pub status: Status,
    /// Items that are not required inform; they do not fail the verdict.
    pub required: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub schema: &'static str,
    pub pass: bool,
    pub items: Vec<Item>,
}

struct List(Vec<Item>);

impl List {
    fn add(&mut self, name: String, status: Status, detail: String) {
        self.0.push(Item { name, status, required: true, detail });
    }

    fn pass_if(&mut self, name: String, ok: bool, detail: String) {
        self.add(name, if ok { Status::Pass } else { Status::Fail }, detail);
    }

    fn info(&mut self, name: String, status: Status, detail: String) {
        self.0.push(Item { name, status, required: false, detail });
    }

    /// An item decided by a state check.
    fn want(&mut self, env: &mut Env, name: String, want: Want) -> Result<()> {
        let s = want.check(env)?;
        self.pass_if(name, s.holds, s.now);
        Ok(())
    }
}

/// Checks the host; `mode` is the bond mode expected (None: any the NIC offloads).
pub fn verify(env: &mut Env, host: &Host, setup: &Setup, mode: Option<BondMode>) -> Result<Verdict> {
    let mut l = List(Vec::new());
    let pfs = &host.pfs;
    for p in pfs {
        let name = format!("eswitch of {} is switchdev", p.netdev);
        match &p.eswitch {
            Some(m) => l.pass_if(name, m == "switchdev", format!("pci/{}: mode {m}", p.pci)),
            None => l.add(name, Status::Unknown, p.eswitch_error.clone().unwrap_or_default()),
        }
    }
    for p in pfs {
        l.want(env, format!("hw-tc-offload on {}", p.netdev), Want::TcOffload { dev: p.netdev.clone(), on: true })?;
    }
    let b = &setup.bond;
    let bond = host.bond.as_ref().filter(|x| &x.name == b);
    let name =
        format!("bond {b} in mode {}", mode.map_or("802.3ad, active-backup or balance-xor", |m| m.kernel_name()));
    match bond.and_then(|x| x.mode.as_deref()) {
        None => l.add(
            name,
            Status::Fail,
            format!("{b} {}", if bond.is_some() { "is not a bond" } else { "does not exist" }),
        ),
        Some(m) => {
            let offloaded = ["802.3ad", "active-backup", "balance-xor"].contains(&m);
            let ok = mode.map_or(offloaded, |want| want.kernel_name() == m);
            let why = if offloaded {
                String::new()
            } else {
                "; the NIC does not offload it (kernel: \"Can't activate LAG offload, TX type isn't supported\")"
                    .to_string()
            };
            l.pass_if(name, ok, format!("mode {m}{why}"));
        }
    }
    for p in pfs {
        let name = format!("{} in {b} and up", p.netdev);
        let in_bond = p.master.as_deref() == Some(b.as_str());
        let detail = match (&p.master, p.admin_up, p.operstate.as_str()) {
            (None, _, _) => "in no bond".to_string(),
            (Some(m), _, _) if m != b => format!("in {m}"),
            (_, false, _) => "enslaved, but down".to_string(),
            (_, true, "up") => "enslaved, up".to_string(),
            (_, true, s) => format!("enslaved, up but operstate {s} (no carrier: cable or switch port?)"),
        };
        l.pass_if(name, in_bond && p.admin_up && p.operstate == "up", detail);
    }
    match bond {
        Some(x) => l.pass_if(
            format!("bond {b} up"),
            x.admin_up,
            format!("{}, operstate {}", if x.admin_up { "up" } else { "down" }, x.operstate),
        ),
        None => l.add(format!("bond {b} up"), Status::Fail, format!("{b} does not exist")),
    }
    let lag = &host.lag;
    let kernel = lag.failures.iter().flat_map(|f| dmesg::explain_lines(f)).collect::<Vec<_>>().join("; ");
    let detail = if kernel.is_empty() { lag.detail.clone() } else { format!("{}; {kernel}", lag.detail) };
    let status = match lag.active {
        Some(true) => Status::Pass,
        Some(false) => Status::Fail,
        None => Status::Unknown,
    };
    l.add("hardware LAG active".into(), status, detail);
    if lag.active == Some(true) {
        let single = lag.shared_fdb == Some(true);
        let switchdev = !matches!(lag.kind.as_deref(), Some(k) if k != "switchdev");
        let status = match lag.shared_fdb {
            None => Status::Unknown,
            Some(_) if single && switchdev => Status::Pass,
            Some(_) => Status::Fail,
        };
        let detail = format!(
            "type {}, port_sel_mode {}, shared_fdb {}",
            lag.kind.as_deref().unwrap_or("?"),
            lag.port_sel_mode.as_deref().unwrap_or("?"),
            lag.shared_fdb.map_or("?", |s| if s { "on" } else { "off" })
        );
        l.info("LAG is switchdev with one shared FDB".into(), status, detail);
    }
    let vfs: Vec<_> = pfs.iter().flat_map(|p| &p.vfs).collect();
    let unbound: Vec<&str> = vfs.iter().filter(|v| v.driver.is_none()).map(|v| v.pci.as_str()).collect();
    let too_many = pfs.iter().find(|p| p.sriov_numvfs > 64);
    let (ok, detail) = match (vfs.is_empty(), unbound.is_empty(), too_many) {
        (_, _, Some(p)) => (
            false,
            format!(
                "{} has {} VFs; {}",
                p.netdev,
                p.sriov_numvfs,
                dmesg::explain_lines("PF is configured with more than 64 VFs")[0]
            ),
        ),
        (true, _, _) => (false, "no VFs".to_string()),
        (false, true, _) => {
            let mut drivers: Vec<&str> = vfs.iter().filter_map(|v| v.driver.as_deref()).collect();
            drivers.dedup();
            (true, format!("{} VFs, bound to {}", vfs.len(), drivers.join(", ")))
        }
        (false, false, _) => (false, format!("unbound: {}", unbound.join(" "))),
    };
    l.pass_if("VFs exist and are bound".into(), ok, detail);
    let rep = representor(host, setup);
    l.want(env, format!("hw-tc-offload on representor {rep}"), Want::TcOffload { dev: rep.clone(), on: true })?;
    for dev in [b.as_str(), pfs[0].netdev.as_str(), pfs[1].netdev.as_str()] {
        let want = Want::Ingress { dev: dev.to_string(), ingress: Ingress::Block(setup.block) };
        l.want(env, format!("{dev} ingress on shared block {}", setup.block), want)?;
    }
    let at = FilterAt::Block(setup.block);
    let rule = find_flower(env, &at, &setup.vf_mac, false, &rep)?;
    let name = format!("flower rule dst_mac {} -> {rep} on block {}", setup.vf_mac, setup.block);
    l.pass_if(name, rule.is_some(), if rule.is_some() { "present".into() } else { "no such rule".into() });
    let (status, detail) = offloaded(rule.as_ref());
    l.add("flower rule offloaded (in_hw)".into(), status, detail);
    if setup.reverse_rule {
        let want = Want::Flower {
            at: FilterAt::Dev(rep.clone()),
            mac: setup.vf_mac.clone(),
            src: true,
            to: b.clone(),
            present: true,
        };
        l.want(env, format!("reverse rule src_mac {} on {rep} -> {b}", setup.vf_mac), want)?;
    }
    match env.kernel_log() {
        None => l.info(
            "kernel log".into(),
            Status::Unknown,
            "cannot read it (dmesg needs root; or give --dmesg-file)".into(),
        ),
        Some(log) => {
            let failures = dmesg::LogVerdict::of(&dmesg::lag_lines(&log)).failures_after;
            if failures.is_empty() {
                l.info("kernel log".into(), Status::Pass, "no known VF-LAG failure since the last activation".into());
            } else {
                let seen: Vec<String> = failures.iter().flat_map(|f| dmesg::explain_lines(f)).collect();
                l.info("kernel log".into(), Status::Fail, seen.join("; "));
            }
        }
    }
    let pass = l.0.iter().all(|i| !i.required || i.status == Status::Pass);
    Ok(Verdict { schema: "vflag-ctl.verify.v1", pass, items: l.0 })
}

/// The representor the rule redirects to: as given, else the one of the VF the setup names
/// (VF 0 of the first PF when it names none).
pub fn representor(host: &Host, setup: &Setup) -> String {
    let pfs = &host.pfs;
    let vf_lists: Vec<Vec<String>> = pfs.iter().map(|p| p.vfs.iter().map(|v| v.pci.clone()).collect()).collect();
    let rule_vf = setup
        .vf
        .as_ref()
        .and_then(|want| {
            vf_lists.iter().enumerate().find_map(|(p, l)| l.iter().position(|v| v == want).map(|i| (p, i as u32)))
        })
        .unwrap_or((0, 0));
    setup.representor.clone().unwrap_or_else(|| pfs[rule_vf.0].representor_for(rule_vf.1))
}

/// Whether the rule found is in the NIC: `in_hw` passes; `not_in_hw` (tc kept it in software)
/// and no rule fail; a tc that shows neither flag is unknown.
pub fn offloaded(rule: Option<&Filter>) -> (Status, String) {
    match rule.map(|r| r.in_hw) {
        None => (Status::Fail, "no rule".to_string()),
        Some(Some(true)) => (Status::Pass, "in_hw".to_string()),
        Some(Some(false)) => {
            (Status::Fail, "not_in_hw: the NIC did not take it (hw-tc-offload off, or not switchdev)".to_string())
        }
        Some(None) => (Status::Unknown, "tc shows neither in_hw nor not_in_hw".to_string()),
    }
}

/// The table `vflag-ctl verify` prints.
pub fn render(v: &Verdict) -> String {
    let mut s = String::new();
    let width = v.items.iter().map(|i| i.name.len() + if i.required { 0 } else { 7 }).max().unwrap_or(0);
    for i in &v.items {
        let status = match i.status {
            Status::Pass => "pass",
            Status::Fail => "FAIL",
            Status::Unknown => "unknown",
        };
        let name = if i.required { i.name.clone() } else { format!("{} (info)", i.name) };
        s += &format!("{status:<8} {name:<width$}  {}\n", i.detail);
    }
    let count = |st: Status| v.items.iter().filter(|i| i.required && i.status == st).count();
    s += &format!(
        "verify: {} passed, {} failed, {} unknown: {}\n",
        count(Status::Pass),
        count(Status::Fail),
        count(Status::Unknown),
        if v.pass { "VF-LAG is up" } else { "VF-LAG is NOT up" }
    );
    s
}

/// `verify --junit`: one testcase per item. A required item that fails or is unknown is a
/// `<failure>` (either makes verify exit 3, so the CI run is red exactly when verify fails);
/// an `(info)` item that is not a pass is `<skipped>` with its reason, since it never fails
/// the run. Every item's detail is its system-out.
pub fn junit(v: &Verdict) -> junit::Testsuites {
    const CLASS: &str = "vflag.verify";
    let cases = v
        .items
        .iter()
        .map(|i| {
            let name = if i.required { i.name.clone() } else { format!("{} (info)", i.name) };
            let mut c = junit::Testcase::new(CLASS, name);
            let status = match i.status {
                Status::Pass => "pass",
                Status::Fail => "fail",
                Status::Unknown => "unknown",
            };
            c.properties = vec![junit::Property::new("status", status), junit::Property::new("required", i.required)];
            c.system_out = Some(i.detail.clone());
            match (i.status, i.required) {
                (Status::Pass, _) => {}
                (_, true) => c.fail(status, &[format!("{status}: {}", i.detail)]),
                (_, false) => {
                    c.outcome = junit::Outcome::Skipped {
                        message: format!("{status} (info, does not fail verify): {}", i.detail),
                    }
                }
            }
            c
        })
        .collect();
    junit::Testsuites {
        name: "vflag-ctl verify".into(),
        suites: vec![junit::Testsuite {
            name: CLASS.into(),
            timestamp_unix_s: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .ok()
                .map(|d| d.as_secs_f64()),
            properties: vec![junit::Property::new("pass", v.pass)],
            cases,
            ..Default::default()
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlx5::discover::{discover, FOR_TEARDOWN};
    use crate::mlx5::testing::fake;
    use crate::runner::{Output, Recorder};

    fn out(name: &str) -> Output {
        Output { stdout: fake::text(name), ..Default::default() }
    }

    /// Answers of a healthy up host (the seed's outputs).
    fn healthy() -> Recorder {
        healthy_with_log(out("dmesg-seed.log"))
    }

    fn healthy_with_log(dmesg: Output) -> Recorder {
        let mut r = Recorder::default();
        r.answer("devlink dev eswitch show pci/0000:01:00.0", out("devlink-switchdev-0.txt"), false);
        r.answer("devlink dev eswitch show pci/0000:01:00.1", out("devlink-switchdev-1.txt"), false);
        r.answer("ethtool -k", out("ethtool-k-on.txt"), false);
        r.answer("tc qdisc show dev", out("tc-qdisc-block22.txt"), false);
        r.answer("tc filter show block 22", out("tc-filter-block22.txt"), false);
        r.answer("dmesg", dmesg, false);
        r
    }

    fn run(root: &std::path::Path, r: &mut Recorder, setup: &Setup, mode: Option<BondMode>) -> Verdict {
        let sleep = |_| {};
        let mut env = fake::env_at(root, r, &sleep);
        let host = discover(&mut env, None, &setup.bond, FOR_TEARDOWN).unwrap();
        verify(&mut env, &host, setup, mode).unwrap()
    }

    fn item<'a>(v: &'a Verdict, name: &str) -> &'a Item {
        v.items.iter().find(|i| i.name.starts_with(name)).unwrap_or_else(|| panic!("no item {name}: {v:?}"))
    }

    #[test]
    fn the_seeds_host_after_the_procedure_passes_every_item() {
        let v = run(&fake::fixtures().join("up"), &mut healthy(), &Setup::default(), Some(BondMode::Lacp));
        let bad: Vec<&Item> = v.items.iter().filter(|i| i.status != Status::Pass).collect();
        assert!(v.pass && bad.is_empty(), "{bad:?}");
        assert_eq!(v.items.len(), 18);
        assert_eq!(item(&v, "flower rule offloaded").detail, "in_hw");
        assert_eq!(item(&v, "LAG is switchdev").detail, "type switchdev, port_sel_mode hash, shared_fdb on");
        let table = render(&v);
        assert!(table.ends_with("verify: 16 passed, 0 failed, 0 unknown: VF-LAG is up\n"), "{table}");
    }

    #[test]
    fn each_broken_part_fails_its_item_with_the_reason() {
        let mut r = Recorder::default();
        r.answer("devlink dev eswitch show pci/0000:01:00.0", out("devlink-switchdev-0.txt"), false);
        r.answer("devlink dev eswitch show pci/0000:01:00.1", out("devlink-legacy-1.txt"), false);
        r.answer("ethtool -k enp1s0f0npf0vf0", out("ethtool-k-off.txt"), false);
        r.answer("ethtool -k", out("ethtool-k-on.txt"), false);
        r.answer("tc qdisc show dev vf-bond", out("tc-qdisc-none.txt"), false);
        r.answer("tc qdisc show dev", out("tc-qdisc-block22.txt"), false);
        r.answer("tc filter show block 22", out("tc-filter-block22-not-in-hw.txt"), false);
        r.answer("dmesg", out("dmesg-vfs-bound.log"), false);
        let dir = fake::copy_fixture("up");
        let sys = dir.path().join("sys");
        std::fs::write(sys.join("kernel/debug/mlx5/0000:01:00.0/lag/state"), "disabled\n").unwrap();
        std::fs::write(sys.join("class/net/enp1s0f1np1/operstate"), "down\n").unwrap();
        std::fs::remove_file(sys.join("bus/pci/devices/0000:01:04.4/driver")).unwrap();
        let v = run(dir.path(), &mut r, &Setup::default(), None);
        assert!(!v.pass);
        let fail = |name: &str, detail: &str| {
            let i = item(&v, name);
            assert_eq!(i.status, Status::Fail, "{i:?}");
            assert!(i.detail.contains(detail), "{name}: {}", i.detail);
        };
        fail("eswitch of enp1s0f1np1", "pci/0000:01:00.1: mode legacy");
        fail("enp1s0f1np1 in vf-bond and up", "operstate down (no carrier");
        fail("hardware LAG active", "state: disabled");
        fail("hardware LAG active", "kernel: \"Failed to activate VF LAG\"");
        fail("VFs exist and are bound", "unbound: 0000:01:04.4");
        fail("hw-tc-offload on representor enp1s0f0npf0vf0", "is off");
        fail("vf-bond ingress on shared block 22", "vf-bond has no ingress qdisc");
        fail("flower rule offloaded", "not_in_hw");
        fail("kernel log", "Make sure all VFs are unbound");
        assert_eq!(item(&v, "eswitch of enp1s0f0np0").status, Status::Pass);
        assert_eq!(item(&v, "flower rule dst_mac").status, Status::Pass, "present, though not in hardware");
        assert!(!item(&v, "kernel log").required);
    }

    #[test]
    fn a_mode_the_nic_does_not_offload_and_a_lag_nobody_can_see() {
        let dir = fake::copy_fixture("up");
        let sys = dir.path().join("sys");
        std::fs::write(sys.join("class/net/vf-bond/bonding/mode"), "balance-rr 0\n").unwrap();
        std::fs::remove_dir_all(sys.join("kernel/debug/mlx5")).unwrap();
        std::fs::remove_file(sys.join("class/infiniband/mlx5_bond_0")).unwrap();
        let denied = "dmesg: read kernel buffer failed: Operation not permitted";
        let mut r = healthy_with_log(Output { code: 1, stderr: denied.into(), ..Default::default() });
        let v = run(dir.path(), &mut r, &Setup::default(), None);
        let mode = item(&v, "bond vf-bond in mode");
        assert_eq!(mode.status, Status::Fail);
        assert!(mode.detail.contains("TX type isn't supported"), "{}", mode.detail);
        let lag = item(&v, "hardware LAG active");
        assert_eq!(lag.status, Status::Unknown);
        assert!(lag.detail.contains("mount -t debugfs"), "{}", lag.detail);
        assert_eq!(item(&v, "kernel log").status, Status::Unknown);
        assert!(!v.pass, "unknown is not a pass");
        assert!(render(&v).contains("1 unknown"));
        // Asked for active-backup, an 802.3ad bond fails.
        let v = run(&fake::fixtures().join("up"), &mut healthy(), &Setup::default(), Some(BondMode::ActiveBackup));
        assert_eq!(item(&v, "bond vf-bond in mode active-backup").status, Status::Fail);
    }

    #[test]
    fn junit_fails_exactly_what_fails_verify() {
        let it =
            |name: &str, status, required| Item { name: name.into(), status, required, detail: format!("{name}!") };
        let v = Verdict {
            schema: "vflag-ctl.verify.v1",
            pass: false,
            items: vec![
                it("eswitch <p0> & \"x\"", Status::Pass, true),
                it("bond up", Status::Fail, true),
                it("hardware LAG active", Status::Unknown, true),
                it("kernel log", Status::Fail, false),
                it("LAG type", Status::Pass, false),
            ],
        };
        let xml = junit(&v).to_xml();
        let d = roxmltree::Document::parse(&xml).unwrap();
        let cases: Vec<_> = d.descendants().filter(|n| n.has_tag_name("testcase")).collect();
        let got: Vec<(&str, Option<&str>, Option<&str>)> = cases
            .iter()
            .map(|c| {
                let what = c.children().find(|e| e.is_element() && e.tag_name().name() != "properties");
                let what = what.filter(|e| !e.has_tag_name("system-out"));
                (
                    c.attribute("name").unwrap(),
                    what.map(|e| e.tag_name().name()),
                    what.and_then(|e| e.attribute("message")),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("eswitch <p0> & \"x\"", None, None),
                ("bond up", Some("failure"), Some("fail: bond up!")),
                ("hardware LAG active", Some("failure"), Some("unknown: hardware LAG active!")),
                ("kernel log (info)", Some("skipped"), Some("fail (info, does not fail verify): kernel log!")),
                ("LAG type (info)", None, None),
            ]
        );
        let suite = d.descendants().find(|n| n.has_tag_name("testsuite")).unwrap();
        assert_eq!(["tests", "failures", "skipped"].map(|a| suite.attribute(a).unwrap()), ["5", "2", "1"]);
    }

    #[test]
    fn more_than_64_vfs_is_explained() {
        let dir = fake::copy_fixture("up");
        std::fs::write(dir.path().join("sys/class/net/enp1s0f0np0/device/sriov_numvfs"), "80\n").unwrap();
        let v = run(dir.path(), &mut healthy(), &Setup::default(), None);
        let i = item(&v, "VFs exist");
        assert_eq!(i.status, Status::Fail);
        assert!(
            i.detail.contains("enp1s0f0np0 has 80 VFs") && i.detail.contains("use --num-vfs 64 or fewer"),
            "{}",
            i.detail
        );
    }
}
