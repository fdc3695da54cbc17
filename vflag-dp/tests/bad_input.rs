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
    // A JUnit file needs a threshold to have testcases.
    assert_usage_error(
        &["--lcores", "0-1", "--vdev", "net_null0", "--junit", "/tmp/never.xml"],
        "--junit /tmp/never.xml",
    );
    assert!(!std::path::Path::new("/tmp/never.xml.tmp").exists());
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

/// An output file that cannot be written is found before the EAL starts, not after the run: one
/// line naming the path, exit 1, quickly, and no temp file left beside it.
#[test]
fn unwritable_output_files_are_refused_before_the_eal() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_string();
    let missing = format!("{d}/no-such-dir/x.json");
    for (opt, path) in [
        ("--json", "/proc/version"),
        ("--json", d.as_str()),
        ("--json", "/nonexistent-dir/x.json"),
        ("--json", missing.as_str()),
        ("--events", d.as_str()),
        ("--events", "/nonexistent-dir/e.jsonl"),
        ("--junit", "/proc/version"),
        ("--junit", d.as_str()),
    ] {
        let t = std::time::Instant::now();
        let prefix = unique("outf");
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
            "--max-loss",
            "0",
            opt,
            path,
        ]);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(1), "{opt} {path}\n{all}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{opt} {path}: want one line\n{all}");
        assert!(lines[0].starts_with(&format!("vflag-dp: error: {opt} {path}: ")), "{all}");
        assert!(out.stdout.is_empty() && !stderr.contains("EAL"), "the EAL must not start: {all}");
        assert!(t.elapsed() < Duration::from_secs(2), "{opt} {path} took {:?}", t.elapsed());
    }
    assert!(!std::path::Path::new("/proc/version.tmp").exists());
    assert!(!std::path::Path::new(&format!("{d}.tmp")).exists(), "no temp file beside the directory");
    assert_eq!(std::fs::read_dir(&d).unwrap().count(), 0, "nothing left in {d}");
}

/// A run that ends in an error after the output file was reserved leaves no temp file.
#[test]
fn a_failed_run_leaves_no_temp_file() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let prefix = unique("tmpf");
    let out = run(&[
        "--lcores",
        "0-1",
        "-a",
        "0000:99:1f.7",
        "--no-huge",
        "-m",
        "256",
        "--file-prefix",
        &prefix,
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no report and no temp file: {}", text(&out));
}

/// A --file-prefix that a running DPDK process holds is named with that process's pid, before
/// the EAL starts (DPDK itself says "rte_eal_init failed: Success").
#[test]
fn a_file_prefix_in_use_names_the_process_holding_it() {
    let _g = serial();
    let prefix = unique("held");
    let mut a = args(&["--lcores", "0-1", "--vdev", "net_null0", "--duration", "10"]);
    a.extend(eal_light(&prefix));
    let mut holder =
        vflag(&a).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::null()).spawn().unwrap();
    // Running once it prints the forwarding line (the EAL holds the prefix by then).
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(holder.stdout.take().unwrap()));
    assert!(lines.any(|l| l.is_ok_and(|l| l.starts_with("forwarding:"))), "the first run did not start");
    let t = std::time::Instant::now();
    let out =
        run(&["--lcores", PEER_LCORES, "--vdev", "net_null0", "--no-huge", "-m", "256", "--file-prefix", &prefix]);
    let took = t.elapsed();
    let _ = holder.kill();
    let _ = holder.wait();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let want = format!("vflag-dp: error: --file-prefix {prefix} is in use by pid {}", holder.id());
    assert!(stderr.lines().last().is_some_and(|l| l.starts_with(&want)), "want {want:?}\n{all}");
    assert!(!stderr.contains("EAL:"), "found before the EAL starts: {all}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{prefix}"));
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
