//! `vflag-ctl report merge` on host directories written here by hand, as the Ansible role
//! fetches them: one host with a plain soak, one with a sweep of two cells on another firmware;
//! the table, merged.json and JUnit read back, the exit code; a host with no report, a corrupt
//! one and a missing DIR each refused naming it. These need no DPDK and no lab. The last test
//! merges two real lab soaks (two "hosts" on this machine, each its own lab names, as the
//! Ansible test runs them): it runs DPDK, so the test command runs it in its turn.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

mod common;
use common::{text, Lab, CTL};

fn write(path: &Path, v: &Value) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_string_pretty(v).unwrap()).unwrap();
}

fn env(hostname: &str, firmware: &str) -> Value {
    json!({"host": "mlx5", "hostname": hostname, "nic": "ConnectX-6 Dx", "pci_id": "15b3:101d",
           "firmware": firmware, "driver": "mlx5_core", "kernel": "6.1.0-13-amd64", "dpdk": "DPDK 22.11.4"})
}

/// A soak.json as `vflag-ctl soak` writes it, cut to what the merge reads (and a little more).
fn soak_json(hostname: &str, firmware: &str, pass: bool) -> Value {
    json!({
        "schema": "vflag-ctl.soak.v1", "started_unix_s": 1796630400.0, "complete": true, "interrupted": false,
        "settings": {"mode": "dut", "bond": "lacp", "flaps": 3, "interval_ms": 3000, "down_ms": 300,
                     "links": ["enp1s0f0np0", "enp1s0f1np1"], "link_choice": "alternate", "flap_kind": "carrier"},
        "environment": env(hostname, firmware),
        "totals": {"flaps_planned": 3, "flaps_done": 3, "tracked": {"received": 299880, "lost": 120, "loss_pct": 0.04},
                   "shares_pct": [50.1, 49.9], "link_shares_pct": [50.3, 49.7],
                   "failover_ms": {"n": 3, "min": 7.9, "median": 8.4, "p99": 11.2, "max": 11.2},
                   "restore_ms": {"n": 3, "min": 240.0, "median": 260.0, "p99": 301.0, "max": 301.0}, "not_restored": 0},
        "verdict": {"pass": pass, "failures": if pass { json!([]) } else { json!([{"flap": 1, "check": "max-outage", "line": "flap 1: outage 61 ms > 50 ms"}]) }}
    })
}

fn headline(pass: bool, failover: f64, failures: &[&str]) -> Value {
    json!({"pass": pass, "complete": true, "interrupted": false, "flaps_done": 2, "flaps_planned": 2,
           "worst_failover_ms": failover, "worst_restore_ms": if pass { json!(280.0) } else { Value::Null },
           "not_restored": if pass { 0 } else { 1 }, "lost": 2000, "loss_pct": 0.5,
           "shares_pct": [50.0, 50.0], "failures": failures})
}

/// A sweep.json as `vflag-ctl sweep` writes it (schema vflag-ctl.sweep.v1), by hand: two cells
/// of one bond and hash, carrier and admin flaps; `admin_fails` makes the second one fail.
fn sweep_json(hostname: &str, firmware: &str, admin_fails: bool) -> Value {
    let cell = |kind: &str, pass: bool, failover: f64, failures: &[&str]| {
        json!({"name": format!("lacp-l34-{kind}"),
               "params": {"bond": "lacp", "bond_hash": "l34", "flap_kind": kind, "link": "alternate", "flows": 64, "rate": "20kpps"},
               "dir": format!("cells/lacp-l34-{kind}"), "exit_code": if pass { 0 } else { 3 },
               "outcome": if pass { "pass" } else { "fail" }, "headline": headline(pass, failover, failures),
               "env": null, "error": null})
    };
    json!({
        "schema": "vflag-ctl.sweep.v1", "complete": true, "interrupted": false, "started_unix_s": 1796630400.0,
        "cells": [cell("carrier", true, 9.5, &[]),
                  if admin_fails { cell("admin", false, 95.0, &["flap 1: outage 95 ms > 50 ms", "flap 2: link 1 not restored"]) }
                  else { cell("admin", true, 10.5, &[]) }],
        "environment": env(hostname, firmware)
    })
}

/// reports/h1: a soak on firmware 22.36.1010; reports/h2: a sweep on 22.39.1002 (its cells'
/// own soak dirs below it, unreadable on purpose: the cells are taken from sweep.json).
fn two_hosts(root: &Path, admin_fails: bool) -> (PathBuf, PathBuf) {
    let (h1, h2) = (root.join("reports/h1"), root.join("reports/h2"));
    write(&h1.join("var/tmp/vflag/soak/soak.json"), &soak_json("dut1", "22.36.1010", true));
    std::fs::write(h1.join("var/tmp/vflag/soak/soak.md"), "# the soak's table\n").unwrap();
    write(&h2.join("var/tmp/vflag/sweep/sweep.json"), &sweep_json("dut2", "22.39.1002", admin_fails));
    for kind in ["carrier", "admin"] {
        write(&h2.join(format!("var/tmp/vflag/sweep/cells/lacp-l34-{kind}/soak.json")), &json!({"schema": "partial"}));
    }
    (h1, h2)
}

fn merge(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut c = Command::new(CTL);
    c.args(["report", "merge"]);
    for a in args {
        c.arg(a);
    }
    c.output().unwrap()
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))).unwrap()
}

#[test]
fn two_hosts_merge_into_one_table_json_and_junit_and_a_failed_cell_fails_the_merge() {
    let d = tempfile::tempdir().unwrap();
    let (h1, h2) = two_hosts(d.path(), true);
    let out = d.path().join("merged");
    let o = merge(&[&"--out", &out, &h1, &h2]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines,
        [
            "vflag-ctl: h2 lacp-l34-admin bond=lacp hash=l34 flap=admin link=alternate flows=64 rate=20kpps \
             (var/tmp/vflag/sweep/cells/lacp-l34-admin): FAIL: flap 1: outage 95 ms > 50 ms; flap 2: link 1 not restored"
        ],
        "one line per row that did not pass"
    );

    let m = read_json(&out.join("merged.json"));
    assert_eq!((m["schema"].as_str(), m["pass"].as_bool()), (Some("vflag-ctl.merged.v1"), Some(false)));
    assert_eq!(m["summary"], "FAIL: 3 rows over 2 hosts, 2 passed, 1 failed.");
    let hosts: Vec<(&str, &str)> = m["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["name"].as_str().unwrap(), h["env"]["firmware"].as_str().unwrap()))
        .collect();
    assert_eq!(hosts, [("h1", "22.36.1010"), ("h2", "22.39.1002")]);
    assert_eq!(m["hosts"][1]["dir"], h2.display().to_string());
    let rows: Vec<(&str, &str, &str, &str)> = m["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["host"].as_str().unwrap(),
                r["cell"].as_str().unwrap(),
                r["outcome"].as_str().unwrap(),
                r["run"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("h1", "soak", "pass", "var/tmp/vflag/soak"),
            ("h2", "lacp-l34-carrier", "pass", "var/tmp/vflag/sweep/cells/lacp-l34-carrier"),
            ("h2", "lacp-l34-admin", "fail", "var/tmp/vflag/sweep/cells/lacp-l34-admin"),
        ]
    );
    assert_eq!(m["rows"][0]["settings"], "bond=lacp flap=carrier");
    assert_eq!(m["rows"][0]["headline"]["worst_failover_ms"], 11.2);
    assert_eq!(m["rows"][2]["params"]["flap"], "admin");
    assert_eq!(m["rows"][2]["problems"].as_array().unwrap().len(), 2);

    let md = std::fs::read_to_string(out.join("merged.md")).unwrap();
    for want in [
        "| h1 | ConnectX-6 Dx | 22.36.1010 | 6.1.0-13-amd64 | DPDK 22.11.4 | soak bond=lacp flap=carrier | pass | 11.2 | 301.0 | 120 (0.040%) | 50.3 / 49.7 |",
        "| h2 | ConnectX-6 Dx | 22.39.1002 | 6.1.0-13-amd64 | DPDK 22.11.4 | lacp-l34-admin bond=lacp hash=l34 flap=admin link=alternate flows=64 rate=20kpps | FAIL | 95.0 | - (1 not restored) | 2000 (0.500%) | 50.0 / 50.0 |",
        "| h2 | dut2 | ConnectX-6 Dx | 22.39.1002 | 6.1.0-13-amd64 | DPDK 22.11.4 | 2 | 1 |",
    ] {
        assert!(md.contains(want), "merged.md lacks\n{want}\n{md}");
    }
    assert!(!md.contains("Cell x host"), "no cell ran on both hosts: no pivot\n{md}");
    assert!(String::from_utf8_lossy(&o.stdout).starts_with(&md), "the table is printed\n{}", text(&o));

    let cases = junit::schema::cases(&out.join("junit.xml"));
    let got: Vec<(&str, &str)> = cases.iter().map(|(n, o, _)| (n.as_str(), *o)).collect();
    assert_eq!(
        got,
        [
            ("soak bond=lacp flap=carrier", "passed"),
            ("lacp-l34-carrier bond=lacp hash=l34 flap=carrier link=alternate flows=64 rate=20kpps", "passed"),
            ("lacp-l34-admin bond=lacp hash=l34 flap=admin link=alternate flows=64 rate=20kpps", "failure"),
        ]
    );
    let xml = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let suites: Vec<&str> =
        doc.descendants().filter(|n| n.has_tag_name("testsuite")).map(|n| n.attribute("name").unwrap()).collect();
    assert_eq!(suites, ["h1", "h2"], "a testsuite per host");
}

#[test]
fn the_same_sweep_on_two_firmwares_shows_the_regression_in_the_pivot_and_all_passed_is_exit_0() {
    let d = tempfile::tempdir().unwrap();
    let (old, new) = (d.path().join("fw-old"), d.path().join("fw-new"));
    write(&old.join("sweep/sweep.json"), &sweep_json("dut1", "22.36.1010", false));
    write(&new.join("sweep/sweep.json"), &sweep_json("dut1", "22.39.1002", true));
    let (out, junit) = (d.path().join("m"), d.path().join("ci/merge.xml"));
    std::fs::create_dir(d.path().join("ci")).unwrap();
    let o = merge(&[&"--out", &out, &"--junit", &junit, &old, &new]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let md = std::fs::read_to_string(out.join("merged.md")).unwrap();
    let pivot = "| cell | fw-old (fw 22.36.1010) | fw-new (fw 22.39.1002) |\n|---|---|---|\n\
                 | lacp-l34-carrier bond=lacp hash=l34 flap=carrier link=alternate flows=64 rate=20kpps | pass 9.5 | pass 9.5 |\n\
                 | lacp-l34-admin bond=lacp hash=l34 flap=admin link=alternate flows=64 rate=20kpps | pass 10.5 | FAIL 95.0 |\n";
    assert!(md.contains(pivot), "{md}");
    assert!(junit.is_file() && !out.join("junit.xml").exists(), "--junit puts the XML where it says");
    assert_eq!(read_json(&out.join("merged.json"))["files"]["junit"], junit.display().to_string());

    // Both passing: exit 0, nothing on stderr; the hosts named by their recorded hostname.
    write(&new.join("sweep/sweep.json"), &sweep_json("dut2", "22.39.1002", false));
    let o = merge(&[&"--out", &out, &"--host-name-from", &"env", &old, &new]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(o.stderr.is_empty(), "{}", text(&o));
    let m = read_json(&out.join("merged.json"));
    assert_eq!(
        (m["pass"].as_bool(), m["hosts"][0]["name"].as_str(), m["hosts"][1]["name"].as_str()),
        (Some(true), Some("dut1"), Some("dut2"))
    );
}

#[test]
fn a_host_with_no_report_or_a_corrupt_one_fails_naming_it_and_leaves_no_merged_files() {
    let d = tempfile::tempdir().unwrap();
    let (h1, h2) = two_hosts(d.path(), false);
    let out = d.path().join("merged");
    let o = merge(&[&"--out", &out, &h1, &h2]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(out.join("merged.json").is_file());

    // A host whose fetch brought nothing: exit 1 naming it, and the earlier merge's files gone.
    let empty = d.path().join("reports/h3");
    std::fs::create_dir_all(empty.join("var/tmp")).unwrap();
    let o = merge(&[&"--out", &out, &h1, &h2, &empty]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        err.trim_end(),
        format!("vflag-ctl: error: {}: no report in it (no sweep.json or soak.json within 10 levels)", empty.display())
    );
    for f in ["merged.json", "merged.md", "junit.xml"] {
        assert!(!out.join(f).exists(), "{f} of the earlier merge left behind");
    }
    let left: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
    assert!(left.is_empty(), "no temp file left: {left:?}");

    // A corrupt soak.json: the file named.
    let soak = h1.join("var/tmp/vflag/soak/soak.json");
    std::fs::write(&soak, "{\"schema\": \"vflag-ctl.soak.v1\", \"totals\": ").unwrap();
    let o = merge(&[&"--out", &out, &h1, &h2]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains(&format!("{} is not JSON", soak.display())), "{}", text(&o));

    // A corrupt sweep.json: the file named.
    write(&soak, &soak_json("dut1", "x", true));
    let sweep = h2.join("var/tmp/vflag/sweep/sweep.json");
    let mut v = sweep_json("dut2", "x", false);
    v["cells"][0].as_object_mut().unwrap().remove("outcome");
    write(&sweep, &v);
    let o = merge(&[&"--out", &out, &h1, &h2]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&sweep.display().to_string()) && err.contains("outcome"), "{err}");
}

#[test]
fn a_missing_dir_a_host_twice_or_no_dir_is_bad_usage() {
    let d = tempfile::tempdir().unwrap();
    let (h1, _) = two_hosts(d.path(), false);
    let out = d.path().join("merged");
    let missing = d.path().join("reports/nope");
    let o = merge(&[&"--out", &out, &h1, &missing]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).starts_with(&format!("vflag-ctl: DIR {}: ", missing.display())),
        "{}",
        text(&o)
    );
    assert!(!out.exists(), "nothing written on bad usage");

    let again = d.path().join("elsewhere/h1");
    std::fs::create_dir_all(&again).unwrap();
    let o = merge(&[&"--out", &out, &h1, &again]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("a second host named h1"), "{}", text(&o));

    let o = merge(&[&"--out", &out]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = merge(&[&"--host-name-from", &"inventory", &h1]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("inventory"), "{}", text(&o));
}

#[test]
fn two_real_lab_soaks_merge_with_their_environment() {
    let vflag_dp = Path::new(CTL).with_file_name("vflag-dp");
    assert!(vflag_dp.is_file(), "{} missing: build the workspace", vflag_dp.display());
    let d = tempfile::tempdir().unwrap();
    let mut hosts = Vec::new();
    for n in [1, 2] {
        let lab = Lab::new("mg", &n.to_string());
        let host = d.path().join(format!("reports/lab{n}"));
        let out = host.join("soak");
        let t0 = std::time::Instant::now();
        let o = Command::new(CTL)
            .args(["soak", "--lab", "--flaps", "1", "--interval", "3s", "--down-ms", "300", "--vflag-dp"])
            .arg(&vflag_dp)
            .arg("--out")
            .arg(&out)
            .args(lab.names())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "soak {n} ({:?}): {}", t0.elapsed(), text(&o));
        hosts.push(host);
    }
    let merged = d.path().join("merged");
    let o = merge(&[&"--out", &merged, &hosts[0], &hosts[1]]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let m = read_json(&merged.join("merged.json"));
    assert_eq!(m["pass"], true);
    for (i, name) in ["lab1", "lab2"].iter().enumerate() {
        let (h, r) = (&m["hosts"][i], &m["rows"][i]);
        assert_eq!(
            (h["name"].as_str(), r["host"].as_str(), r["run"].as_str()),
            (Some(*name), Some(*name), Some("soak"))
        );
        assert_eq!(r["env"]["nic"], "lab bond (veth)", "{r}");
        assert!(r["env"]["kernel"].is_string() && r["env"]["dpdk"].as_str().unwrap().starts_with("DPDK "), "{r}");
        assert!(r["headline"]["worst_failover_ms"].as_f64().is_some(), "{r}");
        assert_eq!(r["headline"]["flaps_done"], 1, "{r}");
    }
    let md = std::fs::read_to_string(merged.join("merged.md")).unwrap();
    let key = m["rows"][0]["settings"].as_str().unwrap();
    assert!(md.contains(&format!("| soak {key} | pass ")), "the same soak on both: a pivot row\n{md}");
    let cases = junit::schema::cases(&merged.join("junit.xml"));
    assert_eq!(cases.iter().filter(|c| c.1 == "passed").count(), 2, "{cases:?}");

    // Two inventory hosts on one machine record one hostname: named by it, they are one host twice.
    let o = merge(&[&"--out", &merged, &"--host-name-from", &"env", &hosts[0], &hosts[1]]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("both record hostname"), "{}", text(&o));
}
