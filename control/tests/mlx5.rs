//! `vflag-ctl discover|plan|up|down|verify|counters` as built, on the fixture trees of the
//! seed's host (`tests/fixtures/mlx5/`). devlink, ethtool, tc, ip, modprobe and dmesg are
//! stand-ins on PATH that log their command line and answer from recorded outputs, so nothing
//! on this machine is touched and every command the binary ran can be checked.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_vflag-ctl");
const TOOLS: [&str; 6] = ["devlink", "ethtool", "tc", "ip", "modprobe", "dmesg"];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mlx5")
}

fn out(name: &str) -> String {
    fixtures().join("out").join(name).display().to_string()
}

/// The stand-in tools and what they answer.
struct Tools {
    dir: tempfile::TempDir,
}

const SCRIPT: &str = r#"#!/bin/sh
# A stand-in: logs its command line, answers from the first rule whose prefix matches.
if [ $# -gt 0 ]; then line="${0##*/} $*"; else line="${0##*/}"; fi
printf '%s\n' "$line" >> "$FAKE/log"
while IFS='|' read -r prefix code file; do
  case "$line" in
    "$prefix"*)
      if [ -n "$file" ]; then
        if [ "$code" = 0 ]; then /bin/cat "$file"; else /bin/cat "$file" >&2; fi
      fi
      exit "$code" ;;
  esac
done < "$FAKE/answers"
exit 0
"#;

impl Tools {
    /// All the tools, answering as the seed's host before the procedure.
    fn new(answers: &[(&str, i32, Option<String>)]) -> Tools {
        Tools::with(&TOOLS, answers)
    }

    fn with(tools: &[&str], answers: &[(&str, i32, Option<String>)]) -> Tools {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("bin")).unwrap();
        for t in tools {
            let p = dir.path().join("bin").join(t);
            std::fs::write(&p, SCRIPT).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let rules: String =
            answers.iter().map(|(p, c, f)| format!("{p}|{c}|{}\n", f.clone().unwrap_or_default())).collect();
        std::fs::write(dir.path().join("answers"), rules).unwrap();
        std::fs::write(dir.path().join("log"), "").unwrap();
        Tools { dir }
    }

    fn log(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap().lines().map(str::to_string).collect()
    }

    fn ctl(&self, args: &[&str]) -> (i32, String, String) {
        let o = Command::new(BIN)
            .args(args)
            .env("PATH", self.dir.path().join("bin"))
            .env("FAKE", self.dir.path())
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into(),
            String::from_utf8_lossy(&o.stderr).into(),
        )
    }
}

fn legacy() -> Vec<(&'static str, i32, Option<String>)> {
    vec![
        ("devlink dev eswitch show pci/0000:01:00.0", 0, Some(out("devlink-legacy-0.txt"))),
        ("devlink dev eswitch show pci/0000:01:00.1", 0, Some(out("devlink-legacy-1.txt"))),
        ("ethtool -k", 0, Some(out("ethtool-k-off.txt"))),
    ]
}

fn healthy() -> Vec<(&'static str, i32, Option<String>)> {
    vec![
        ("devlink dev eswitch show pci/0000:01:00.0", 0, Some(out("devlink-switchdev-0.txt"))),
        ("devlink dev eswitch show pci/0000:01:00.1", 0, Some(out("devlink-switchdev-1.txt"))),
        ("ethtool -k", 0, Some(out("ethtool-k-on.txt"))),
        ("ethtool -S enp1s0f0np0", 0, Some(out("ethtool-S-enp1s0f0np0.txt"))),
        ("ethtool -S enp1s0f1np1", 0, Some(out("ethtool-S-enp1s0f1np1.txt"))),
        ("tc qdisc show dev", 0, Some(out("tc-qdisc-block22.txt"))),
        ("tc filter show block 22", 0, Some(out("tc-filter-block22.txt"))),
        ("dmesg", 0, Some(out("dmesg-seed.log"))),
    ]
}

fn root(name: &str) -> String {
    fixtures().join(name).join("sys").display().to_string()
}

fn is_read(l: &str) -> bool {
    l == "dmesg"
        || l.starts_with("modprobe --dry-run")
        || l.starts_with("ethtool -k ")
        || l.starts_with("ethtool -S ")
        || l.starts_with("ethtool -i ")
        || l.contains(" show")
}

#[test]
fn plan_on_the_seeds_host_prints_the_seeds_procedure() {
    let t = Tools::new(&legacy());
    let seed = root("seed");
    let (code, stdout, err) = t.ctl(&["plan", "--sysfs-root", &seed]);
    assert_eq!(code, 0, "{err}");
    let commands: Vec<&str> =
        stdout.lines().filter(|l| !l.starts_with('#') && *l != "ip link set vf-bond up").collect();
    let want = std::fs::read_to_string(fixtures().join("out/seed-commands.txt")).unwrap();
    assert_eq!(commands, want.lines().collect::<Vec<_>>());
    assert!(
        stdout.starts_with("# VF-LAG up: enp1s0f0np0 + enp1s0f1np1 (card 0000:01:00), bond vf-bond mode 802.3ad\n"),
        "{stdout}"
    );
    assert!(t.log().iter().all(|l| is_read(l)), "plan only looks: {:?}", t.log());
    // up --dry-run prints the same.
    let (code, dry, _) = t.ctl(&["up", "--dry-run", "--sysfs-root", &seed]);
    assert_eq!((code, dry), (0, stdout));
    // As JSON: every step with its state, none in place yet.
    let (code, json, _) = t.ctl(&["plan", "--json", "--sysfs-root", &seed, "--mode", "active-backup"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["schema"], "vflag-ctl.plan.v1");
    let steps = v["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 37);
    assert!(steps.iter().all(|s| s["in_place"] == false));
    assert_eq!(steps[15]["line"], "ip link add vf-bond type bond mode active-backup");
    assert_eq!(steps[15]["want"]["want"], "bond_mode");
}

#[test]
fn discover_reads_the_card_as_a_table_and_as_json() {
    let t = Tools::new(&healthy());
    let (code, table, err) = t.ctl(&["discover", "--sysfs-root", &root("up")]);
    assert_eq!(code, 0, "{err}");
    assert!(table.contains("0      enp1s0f0np0    0000:01:00.0  4/8       switchdev  up     vf-bond"), "{table}");
    assert!(table.contains("representors of enp1s0f0np0: enp1s0f0npf0vf0 (pf0vf0)"), "{table}");
    assert!(table.contains("bond vf-bond: mode 802.3ad, slaves enp1s0f0np0 enp1s0f1np1"), "{table}");
    let (code, json, _) = t.ctl(&["discover", "--json", "--sysfs-root", &root("up")]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["pfs"][1]["vfs"][0]["pci"], "0000:01:04.2");
    assert_eq!(v["lag"]["source"], "debugfs");
    assert_eq!(v["lag"]["active"], true);
}

#[test]
fn up_on_a_host_already_up_runs_nothing() {
    let t = Tools::new(&healthy());
    let (code, stdout, err) = t.ctl(&["up", "--sysfs-root", &root("up")]);
    assert_eq!(code, 0, "{stdout}{err}");
    assert!(stdout.contains("VF-LAG up: nothing to do, all 29 steps were in place"), "{stdout}");
    assert!(stdout.contains("= tc filter add block 22 protocol 0x0800 parent ffff: prio 1 flower dst_mac 52:54:00:00:00:01 action mirred egress redirect dev enp1s0f0npf0vf0    (in place: the rule is there (in_hw))"), "{stdout}");
    assert!(t.log().iter().all(|l| is_read(l)), "{:?}", t.log());
    let (code, stdout, _) = t.ctl(&["plan", "--sysfs-root", &root("up")]);
    assert_eq!(code, 0);
    assert!(stdout.lines().skip(2).all(|l| l.starts_with("# ")), "{stdout}");
    assert!(stdout.ends_with("# nothing to do: every step is in place\n"), "{stdout}");
}

/// A copy of a fixture tree, for commands that write.
fn copy(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let st = Command::new("cp").arg("-a").arg(fixtures().join(name).join("sys")).arg(dir.path()).status().unwrap();
    assert!(st.success());
    dir
}

#[test]
fn up_stops_at_the_first_step_without_effect_and_says_how_to_roll_back() {
    let t = Tools::new(&legacy());
    let dir = copy("seed");
    let sys = dir.path().join("sys").display().to_string();
    let (code, stdout, err) = t.ctl(&["up", "--sysfs-root", &sys]);
    assert_eq!(code, 1, "{stdout}{err}");
    // The write reached the file, but no kernel made the VFs: the check after it says so.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("sys/class/net/enp1s0f0np0/device/sriov_numvfs")).unwrap(),
        "4\n"
    );
    assert!(err.contains("step 1/37 failed: echo 4 > /sys/class/net/enp1s0f0np0/device/sriov_numvfs"), "{err}");
    assert!(
        err.contains("said: no effect: enp1s0f0np0 has VFs none where the plan has 0000:01:00.2 0000:01:00.3"),
        "{err}"
    );
    assert!(err.contains("hint: sriov_numvfs takes a new count only from 0"), "{err}");
    assert!(t.log().iter().all(|l| is_read(l)), "nothing else ran: {:?}", t.log());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("sys/class/net/enp1s0f1np1/device/sriov_numvfs")).unwrap(),
        "0\n"
    );
}

#[test]
fn verify_passes_on_the_up_host_and_fails_with_reasons_otherwise() {
    let t = Tools::new(&healthy());
    let up = root("up");
    let (code, table, err) = t.ctl(&["verify", "--sysfs-root", &up, "--mode", "802.3ad"]);
    assert_eq!(code, 0, "{table}{err}");
    assert!(table.ends_with("verify: 16 passed, 0 failed, 0 unknown: VF-LAG is up\n"), "{table}");
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("verify.xml").display().to_string();
    let (code, json, _) =
        t.ctl(&["verify", "--json", "--sysfs-root", &up, "--dmesg-file", &out("dmesg-vfs-bound.log"), "--junit", &xml]);
    // The old failure in the log is an (info) item: skipped, not failed, as verify passes.
    let cases = junit::schema::cases(Path::new(&xml));
    assert_eq!(cases.len(), 18, "{cases:?}");
    let not_passed: Vec<_> = cases.iter().filter(|c| c.1 != "passed").collect();
    assert_eq!(not_passed.len(), 1, "{cases:?}");
    assert_eq!((not_passed[0].0.as_str(), not_passed[0].1), ("kernel log (info)", "skipped"));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        (code, &v["schema"], &v["pass"]),
        (0, &serde_json::json!("vflag-ctl.verify.v1"), &serde_json::json!(true))
    );
    let log = v["items"].as_array().unwrap().iter().find(|i| i["name"] == "kernel log").unwrap();
    assert_eq!(
        (&log["status"], &log["required"]),
        (&serde_json::json!("fail"), &serde_json::json!(false)),
        "an old failure informs"
    );

    let mut broken = healthy();
    broken.insert(0, ("tc filter show block 22", 0, Some(out("tc-filter-block22-not-in-hw.txt"))));
    broken.insert(0, ("devlink dev eswitch show pci/0000:01:00.1", 0, Some(out("devlink-legacy-1.txt"))));
    let t = Tools::new(&broken);
    let (code, table, _) = t.ctl(&["verify", "--sysfs-root", &up, "--junit", &xml]);
    assert_eq!(code, 3, "{table}");
    let failed: Vec<_> = junit::schema::cases(Path::new(&xml)).into_iter().filter(|c| c.1 == "failure").collect();
    assert_eq!(
        failed,
        [
            ("eswitch of enp1s0f1np1 is switchdev".into(), "failure", "fail: pci/0000:01:00.1: mode legacy".into()),
            (
                "flower rule offloaded (in_hw)".into(),
                "failure",
                "fail: not_in_hw: the NIC did not take it (hw-tc-offload off, or not switchdev)".into()
            ),
        ]
    );
    assert!(table.contains("FAIL     eswitch of enp1s0f1np1 is switchdev"), "{table}");
    assert!(table.contains("FAIL     flower rule offloaded (in_hw)"), "{table}");
    assert!(table.ends_with("verify: 14 passed, 2 failed, 0 unknown: VF-LAG is NOT up\n"), "{table}");
}

#[test]
fn counters_sample_once_or_watch_into_json_lines() {
    let t = Tools::new(&healthy());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.jsonl");
    let f = file.display().to_string();
    let (code, stdout, err) = t.ctl(&["counters", "--sysfs-root", &root("up"), "--out", &f]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("enp1s0f0np0    up, active, mii up     rx       10000000 packets  52.6%"), "{stdout}");
    let (code, stdout, err) =
        t.ctl(&["counters", "--watch", "--count", "2", "--interval", "50ms", "--sysfs-root", &root("up"), "--out", &f]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(stdout.lines().filter(|l| l.starts_with('[')).count(), 2, "{stdout}");
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(&file).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3, "appended");
    for l in &lines {
        assert_eq!(l["schema"], "vflag-ctl.counters.v1");
        assert_eq!(l["links"].as_array().unwrap().len(), 2);
        for key in
            ["rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "rx_pps", "rx_share_pct", "bond_state", "operstate"]
        {
            assert!(l["links"][0].get(key).is_some(), "{key}");
        }
    }
    // The recorded counters do not move: 0 pps, and no share of nothing.
    assert_eq!(
        (lines[2]["links"][0]["rx_pps"].as_f64(), &lines[2]["links"][0]["rx_share_pct"]),
        (Some(0.0), &serde_json::Value::Null)
    );
}

fn one_line_error(code: i32, err: &str, want_code: i32, has: &str) {
    assert_eq!(code, want_code, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(has), "{err}");
}

#[test]
fn counters_need_only_ethtool() {
    let t = Tools::with(&["ethtool"], &healthy());
    let (code, stdout, err) = t.ctl(&["counters", "--sysfs-root", &root("up")]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert_eq!(t.log(), ["ethtool -S enp1s0f0np0", "ethtool -S enp1s0f1np1"]);
}

#[test]
fn refusals_are_one_line_with_exit_1() {
    let seed = root("seed");
    let t = Tools::with(&["ethtool", "ip", "modprobe", "dmesg"], &legacy());
    let (code, _, err) = t.ctl(&["plan", "--sysfs-root", &seed]);
    one_line_error(code, &err, 1, "vflag-ctl: error: missing tools: devlink, tc");
    let mut no_bonding = legacy();
    no_bonding.insert(0, ("modprobe --dry-run --quiet bonding", 1, None));
    let t = Tools::new(&no_bonding);
    let (code, _, err) = t.ctl(&["plan", "--sysfs-root", &seed]);
    one_line_error(code, &err, 1, "the bonding module is not available for this kernel");
    let t = Tools::new(&legacy());
    let (code, _, err) = t.ctl(&["discover", "--sysfs-root", &seed, "--pfs", "eno1,enp1s0f0np0"]);
    one_line_error(code, &err, 1, "eno1 is driven by e1000e, not mlx5_core");
    let (code, _, err) = t.ctl(&["up", "--sysfs-root", &seed, "--num-vfs", "2", "--vf", "0000:01:00.7", "--dry-run"]);
    one_line_error(code, &err, 1, "--vf 0000:01:00.7 is not a VF of enp1s0f0np0 or enp1s0f1np1 (their VFs: 0000:01:00.2 0000:01:00.3 0000:01:04.2 0000:01:04.3)");
    let (code, _, err) = t.ctl(&["verify", "--sysfs-root", &seed, "--junit", "/proc/version"]);
    one_line_error(code, &err, 1, "vflag-ctl: error: --junit /proc/version: cannot create /proc/version.tmp");
}

#[test]
fn bad_values_are_one_line_with_exit_2() {
    let t = Tools::new(&legacy());
    let seed = root("seed");
    for (args, names) in [
        (vec!["plan", "--vf-mac", "52:54:00:00:00"], "'52:54:00:00:00' is not a MAC address"),
        (vec!["up", "--mode", "balance-rr"], "'balance-rr'"),
        (vec!["plan", "--num-vfs", "65"], "at most 64 VFs"),
        (vec!["plan", "--pfs", "enp1s0f0np0"], "--pfs"),
        (vec!["plan", "--xmit-hash-policy", "layer9"], "'layer9'"),
        (vec!["verify", "--vf", "1:0.2"], "'1:0.2' is not a PCI address"),
        (vec!["counters", "--interval", "soon"], "'soon' is not a duration"),
        (vec!["down", "--keep-vfs", "--order", "switchdev-first"], "--keep-vfs with --order switchdev-first"),
    ] {
        let mut a = args.clone();
        a.extend(["--sysfs-root", &seed]);
        let (code, _, err) = t.ctl(&a);
        one_line_error(code, &err, 2, names);
    }
    assert!(t.log().is_empty(), "nothing ran: {:?}", t.log());
}

#[test]
fn down_dry_run_on_the_up_host_lists_the_reverse_order() {
    let t = Tools::new(&healthy());
    let (code, stdout, err) = t.ctl(&["down", "--dry-run", "--sysfs-root", &root("up")]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(lines.first(), Some(&"tc qdisc del dev enp1s0f1np1 ingress"));
    assert_eq!(lines.last(), Some(&"echo 0 > /sys/class/net/enp1s0f0np0/device/sriov_numvfs"));
    assert_eq!(lines.len(), 22);
}

/// git keeps no empty directory: a fixture directory with nothing in it would pass here and be
/// missing from a fresh clone (as `module/bonding` once was), so every one must hold a file.
#[test]
fn fixture_trees_have_no_empty_directories() {
    fn empty_dirs(dir: &Path, found: &mut Vec<PathBuf>) {
        let mut entries = 0;
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            entries += 1;
            if e.file_type().unwrap().is_dir() {
                empty_dirs(&e.path(), found);
            }
        }
        if entries == 0 {
            found.push(dir.to_path_buf());
        }
    }
    let mut found = Vec::new();
    empty_dirs(&fixtures(), &mut found);
    assert!(found.is_empty(), "empty fixture directories (add the file the kernel puts there): {found:?}");
}

/// `soak --dut-args` on the fixture trees: the pre-flight is `verify`'s checklist, run after the
/// argument checks and before anything starts. The receiver is a stand-in vflag-dp that logs
/// that it ran and exits, so a pre-flight that passes is seen letting the soak go on to start
/// it (the soak then stops there: there is no NIC to receive on).
struct Soak {
    tools: Tools,
    dir: tempfile::TempDir,
}

impl Soak {
    fn new(answers: &[(&str, i32, Option<String>)]) -> Soak {
        use std::os::unix::fs::PermissionsExt;
        let tools = Tools::new(answers);
        let dir = tempfile::tempdir().unwrap();
        let dp = dir.path().join("vflag-dp");
        std::fs::write(&dp, format!("#!/bin/sh\necho \"$@\" > {}/dp-ran\nexit 1\n", dir.path().display())).unwrap();
        std::fs::set_permissions(&dp, std::fs::Permissions::from_mode(0o755)).unwrap();
        Soak { tools, dir }
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    fn run(&self, sysfs: &str, extra: &[&str]) -> (i32, String, String) {
        // The stand-ins first; setpriv (which starts the receiver) from the system.
        let path = format!("{}:/usr/bin:/bin", self.tools.dir.path().join("bin").display());
        let o = Command::new(BIN)
            .args(["soak", "--dut-args", "--lcores 1-2 -a 0000:01:00.2 --mac 52:54:00:00:00:01", "--duration", "5s"])
            .args(["--sysfs-root", sysfs, "--vflag-dp"])
            .arg(self.dir.path().join("vflag-dp"))
            .arg("--out")
            .arg(self.out())
            .args(extra)
            .env("PATH", path)
            .env("FAKE", self.tools.dir.path())
            .env("VFLAG_RUN_DIR", self.dir.path().join("run"))
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into(),
            String::from_utf8_lossy(&o.stderr).into(),
        )
    }

    fn receiver_ran(&self) -> Option<String> {
        std::fs::read_to_string(self.dir.path().join("dp-ran")).ok()
    }
}

#[test]
fn a_hardware_soak_without_vf_lag_is_refused_before_anything_starts() {
    let s = Soak::new(&legacy());
    let (code, stdout, err) = s.run(&root("seed"), &[]);
    assert_eq!(code, 1, "{stdout}{err}");
    assert!(stdout.contains("verify: ") && stdout.contains("VF-LAG is NOT up"), "verify's table: {stdout}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines[0],
        "vflag-ctl: error: pre-flight: VF-LAG is not in place (vflag-ctl verify fails); nothing started \
         (--no-verify skips this check):"
    );
    for want in [
        "  FAIL eswitch of enp1s0f0np0 is switchdev: pci/0000:01:00.0: mode legacy",
        "  FAIL hw-tc-offload on enp1s0f0np0: hw-tc-offload of enp1s0f0np0 is off",
        "  FAIL bond vf-bond in mode 802.3ad, active-backup or balance-xor: vf-bond does not exist",
        "  FAIL flower rule offloaded (in_hw): no rule",
    ] {
        assert!(lines.contains(&want), "{want}: {err}");
    }
    assert!(lines[1..].iter().all(|l| l.starts_with("  FAIL ") || l.starts_with("  unknown ")), "{err}");
    assert!(!s.out().exists(), "--out untouched");
    assert_eq!(s.receiver_ran(), None, "no receiver started");
    assert!(s.tools.log().iter().all(|l| is_read(l)), "the pre-flight only reads: {:?}", s.tools.log());
}

#[test]
fn a_hardware_soak_on_vf_lag_passes_the_pre_flight_and_starts_the_receiver() {
    let mut answers = healthy();
    answers.push(("ethtool -i", 0, Some(out("ethtool-i-enp1s0f0np0.txt"))));
    let s = Soak::new(&answers);
    let (code, stdout, err) = s.run(&root("up"), &[]);
    assert!(stdout.contains("verify: 16 passed, 0 failed, 0 unknown: VF-LAG is up"), "{stdout}{err}");
    // Past the pre-flight: the receiver ran with the DUT's arguments (and, a stand-in, exited).
    let ran = s.receiver_ran().unwrap_or_else(|| panic!("the receiver did not start: {stdout}{err}"));
    assert!(ran.starts_with("--lcores 1-2 -a 0000:01:00.2 --mac 52:54:00:00:00:01 --fwd rxonly"), "{ran}");
    assert_eq!(code, 1, "the stand-in receiver exits at once: {err}");
    assert!(err.contains("the receiver exited early"), "{err}");
    assert!(s.tools.log().iter().all(|l| is_read(l)), "{:?}", s.tools.log());

    // --no-verify on the host without VF-LAG: no checklist, straight to the receiver.
    let s = Soak::new(&legacy());
    let (code, stdout, err) = s.run(&root("seed"), &["--no-verify"]);
    assert!(stdout.contains("pre-flight: verify skipped (--no-verify)"), "{stdout}{err}");
    assert!(!stdout.contains("VF-LAG is NOT up"), "{stdout}");
    assert!(s.receiver_ran().is_some(), "{stdout}{err}");
    assert_eq!(code, 1, "{err}");
    assert!(!s.tools.log().iter().any(|l| l.starts_with("tc filter")), "verify did not run: {:?}", s.tools.log());
}
