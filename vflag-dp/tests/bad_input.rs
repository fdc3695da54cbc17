//! Bad input: one line naming the bad value, exit 2, before the EAL starts (no EAL output).
//! Environment and device failures: one closing line with a hint, exit 1, never a panic.

mod common;

use std::time::Duration;

use common::*;

fn run(args: &[&str]) -> std::process::Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    run_bounded(vflag(&args), Duration::from_secs(30))
}

fn assert_usage_error(args: &[&str], needle: &str) {
    let out = run(args);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}\n{all}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "want exactly one line for {args:?}\n{all}");
    assert!(lines[0].starts_with("vflag-dp: "), "{all}");
    assert!(lines[0].contains(needle), "line should name {needle:?}: {all}");
    assert!(out.stdout.is_empty(), "nothing on stdout: {all}");
    assert!(!stderr.contains("EAL:"), "EAL must not start: {all}");
}

#[test]
fn bad_lcore_lists() {
    assert_usage_error(&["--lcores", "1-x", "--vdev", "net_null0"], "'x'");
    assert_usage_error(&["--lcores", "0,0", "--vdev", "net_null0"], "lcore 0 appears twice");
    assert_usage_error(&["--lcores", "0-1,1", "--vdev", "net_null0"], "lcore 1 appears twice");
    assert_usage_error(&["--lcores", "0,999", "--vdev", "net_null0"], "lcore 999 does not exist");
    assert_usage_error(&["--lcores", "0", "--vdev", "net_null0"], "no forwarding lcore");
}

#[test]
fn more_lcores_than_this_machine_has() {
    let cpus = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
    let last: u32 = cpus.trim().rsplit(['-', ',']).next().unwrap().parse().unwrap();
    let list = format!("0-{}", last + 1);
    assert_usage_error(&["--lcores", &list, "--vdev", "net_null0"], &format!("lcore {} does not exist", last + 1));
}

#[test]
fn bad_mac_pci_and_mode() {
    assert_usage_error(&["--lcores", "0-1", "-a", "0000:01:00.2", "--mac", "52:54:00:00:00:0g"], "52:54:00:00:00:0g");
    assert_usage_error(&["--lcores", "0-1", "-a", "0000:01:00.2", "--mac", "01:00:5e:00:00:01"], "multicast");
    assert_usage_error(&["--lcores", "0-1", "-a", "0000:01:00"], "'0000:01:00'");
    assert_usage_error(&["--lcores", "0-1", "-a", "0000:01:00.9"], "'0000:01:00.9'");
    assert_usage_error(&["--lcores", "0-1", "--vdev", "net_null0", "--fwd", "bogus"], "'bogus'");
    assert_usage_error(&["--lcores", "0-1", "--vdev", "net_null0", "--duration", "soon"], "'soon'");
    assert_usage_error(&["--lcores", "0-1", "--vdev", "net_null0", "--burst", "9999"], "9999");
    assert_usage_error(&["--lcores", "0-1", "--vdev", "net_null0", "--rxq", "2", "--txq", "1"], "--txq 1");
    assert_usage_error(&["--lcores", "0-1"], "no device");
    assert_usage_error(&["--lcores", "0-1", "--vdev", "net_null0", "--no-such-option"], "--no-such-option");
}

#[test]
fn help_exits_zero() {
    let out = run(&["--help"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("--lcores"));
}

#[test]
fn missing_device_is_a_runtime_error_naming_it() {
    let _g = serial();
    let prefix = unique("nodev");
    let out = run(&["--lcores", "0-1", "-a", "0000:99:1f.7", "--no-huge", "-m", "256", "--file-prefix", &prefix]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.starts_with("vflag-dp: error: "), "{all}");
    assert!(last.contains("0000:99:1f.7"), "{all}");
    assert!(!stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"), "{all}");
}

#[test]
fn rejected_eal_option_is_a_runtime_error_with_a_hint() {
    let _g = serial();
    let prefix = unique("badeal");
    let out = run(&[
        "--lcores",
        "0-1",
        "--vdev",
        "net_null0",
        "--no-huge",
        "-m",
        "256",
        "--file-prefix",
        &prefix,
        "--eal",
        "--definitely-not-an-eal-option",
    ]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    let last = String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or_default().to_string();
    assert!(last.starts_with("vflag-dp: error: rte_eal_init failed"), "{all}");
    assert!(last.contains("EAL argument"), "{all}");
}

#[test]
fn the_hardware_command_fails_clearly_without_the_nic() {
    let _g = serial();
    let prefix = unique("hw");
    let cpus = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
    let has_cpu2 = cpus.trim().rsplit(['-', ',']).next().unwrap().parse::<u32>().unwrap() >= 2;
    let out = run(&[
        "--lcores",
        "1-2",
        "-a",
        "0000:01:00.2",
        "--mac",
        "52:54:00:00:00:01",
        "--file-prefix",
        &prefix,
        "--no-huge",
        "-m",
        "256",
    ]);
    let all = text(&out);
    let last = String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or_default().to_string();
    if has_cpu2 {
        assert_eq!(out.status.code(), Some(1), "{all}");
        assert!(last.contains("0000:01:00.2"), "{all}");
    } else {
        assert_eq!(out.status.code(), Some(2), "{all}");
        assert!(last.contains("lcore 2 does not exist"), "{all}");
    }
}

/// Without root, hugepages are refused before the EAL starts, with the fix in one line.
#[test]
fn hugepages_without_permission_are_refused_before_eal() {
    let _g = serial();
    let mut cmd = std::process::Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN]).args([
        "--lcores",
        "0-1",
        "--vdev",
        "net_null0",
        "--file-prefix",
        &unique("nobody"),
        "--duration",
        "1",
    ]);
    let out = run_bounded(cmd, Duration::from_secs(30));
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{all}");
    assert!(stderr.contains("no permission to use hugepages") && stderr.contains("--no-huge"), "{all}");
}

/// The same user can run on virtual devices without hugepages.
#[test]
fn non_root_runs_with_no_huge() {
    let _g = serial();
    let mut cmd = std::process::Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
        .args(["--lcores", "0-1", "--vdev", "net_null0", "--file-prefix", &unique("nobody2"), "--duration", "0.5"])
        .args(["--no-huge", "-m", "256", "--mbufs", "8192"]);
    let out = run_bounded(cmd, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn bad_frame_and_mbuf_sizes() {
    let base = ["--lcores", "0-1", "--vdev", "net_null0"];
    let with = |more: &[&'static str]| base.iter().chain(more).copied().collect::<Vec<_>>();
    assert_usage_error(&with(&["--mbuf-size", "100"]), "'100'");
    assert_usage_error(&with(&["--mbuf-size", "70000"]), "'70000'");
    assert_usage_error(&with(&["--mtu", "20"]), "'20'");
    assert_usage_error(&with(&["--pkt-size", "9601"]), "'9601'");
    // A generated frame must fit one mbuf: the size it needs is named.
    assert_usage_error(&with(&["--fwd", "gen", "--pkt-size", "9000"]), "--pkt-size 9000 does not fit one mbuf");
    assert_usage_error(&with(&["--fwd", "txonly", "--pkt-size", "3000", "--mbuf-size", "3127"]), "--mbuf-size 3128");
}

/// Chained mbufs on a port whose driver cannot receive into them (net_null has no rx scatter):
/// one closing line naming the port and what to change, exit 1.
#[test]
fn rx_scatter_on_a_driver_without_it_is_refused() {
    let _g = serial();
    for (more, needle) in [
        (&["--rx-scatter"][..], "--rx-scatter asks for chained mbufs"),
        (&["--mtu", "9000"][..], "give --mbuf-size 9150 or more"),
    ] {
        let mut a = args(&["--lcores", "0-1", "--vdev", "net_null0", "--duration", "0.2"]);
        a.extend(eal_light(&unique("scat")));
        a.extend(args(more));
        let out = run_bounded(vflag(&a), Duration::from_secs(30));
        let all = text(&out);
        assert_eq!(out.status.code(), Some(1), "{all}");
        let last = String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or_default().to_string();
        assert!(last.starts_with("vflag-dp: error: port 0 (net_null0): "), "{all}");
        assert!(last.contains("cannot receive into chained mbufs") && last.contains(needle), "{all}");
    }
}
