//! Sweeps end to end on a lab of their own (names no one else uses): the 3x2 matrix
//! (every bond mode, carrier and admin flaps), a failing cell that does not stop the next, and
//! Ctrl-C mid-sweep. Short soaks (one or two flaps, 3 s apart): the matrix is what is tested.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{pids_with, read_json as read, run_bounded, serial, text, vflag_dp, Lab, CTL};

/// The soak options naming `lab` and a short soak: what every cell gets after `--`.
fn soak_args(lab: &Lab, flaps: &str) -> Vec<String> {
    let mut v: Vec<String> = vec!["--vflag-dp".into(), vflag_dp().display().to_string()];
    v.extend(lab.names());
    v.extend(["--flaps", flaps, "--interval", "3s", "--down-ms", "300"].map(String::from));
    v
}

fn sweep(out: &Path, axes: &[&str], pass: &[String]) -> Command {
    let mut c = Command::new(CTL);
    c.args(["sweep", "--lab", "--out"]).arg(out).args(axes).arg("--").args(pass);
    c.stdin(Stdio::null());
    c
}

/// sweep.json, sweep.md and junit.xml say the same of every cell, and each cell that ran has
/// its own directory with its soak's report.
fn check_consistent(out: &Path) -> Value {
    let r = read(&out.join("sweep.json"));
    assert_eq!(r["schema"], "vflag-ctl.sweep.v1");
    let cells = r["cells"].as_array().unwrap();
    let md = std::fs::read_to_string(out.join("sweep.md")).unwrap();
    let cases = junit::schema::cases(&out.join("junit.xml"));
    assert_eq!(cases.len(), cells.len() + r["not_applicable"].as_array().unwrap().len());
    for (i, c) in cells.iter().enumerate() {
        let name = c["name"].as_str().unwrap();
        let outcome = c["outcome"].as_str().unwrap();
        let row = md
            .lines()
            .find(|l| l.starts_with(&format!("| {} | {name} |", i + 1)))
            .unwrap_or_else(|| panic!("no row for {name}: {md}"));
        assert!(row.contains(&format!(" | {outcome} | ")), "{row}");
        let want = match outcome {
            "pass" => "passed",
            "fail" => "failure",
            "error" => "error",
            _ => "skipped",
        };
        assert_eq!((cases[i].0.as_str(), cases[i].1), (name, want));
        let dir = PathBuf::from(c["dir"].as_str().unwrap());
        assert!(dir.starts_with(out.join("cells")) && dir.file_name().unwrap().to_str().unwrap().ends_with(name));
        if outcome != "not-run" {
            let soak = read(&dir.join("soak.json"));
            assert_eq!(soak["schema"], "vflag-ctl.soak.v1");
            assert_eq!(soak["verdict"]["pass"].as_bool(), c["headline"]["pass"].as_bool(), "{name}");
            assert!(dir.join("junit.xml").is_file() && dir.join("soak.log").is_file(), "{name}");
        }
    }
    r
}

/// The acceptance: `--bond active-backup,xor,lacp --flap-kind carrier,admin`, six
/// cells, each its own soak; every cell must run to a verdict (a fail is recorded with its
/// reasons; an error fails the test).
#[test]
fn a_three_by_two_sweep_runs_every_cell_to_a_verdict() {
    let _g = serial();
    let lab = Lab::new("sw", "m");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sweep");
    let t0 = Instant::now();
    let axes = ["--bond", "active-backup,xor,lacp", "--flap-kind", "carrier,admin"];
    let o = run_bounded(sweep(&out, &axes, &soak_args(&lab, "1")), Duration::from_secs(240));
    let took = t0.elapsed();
    let md = std::fs::read_to_string(out.join("sweep.md")).unwrap_or_default();
    println!("{md}\n3x2 sweep took {:.0} s", took.as_secs_f64());
    let r = check_consistent(&out);
    let cells = r["cells"].as_array().unwrap();
    let names: Vec<&str> = cells.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "active-backup-carrier-alternate-16f",
            "active-backup-admin-alternate-16f",
            "xor-l34-carrier-alternate-16f",
            "xor-l34-admin-alternate-16f",
            "lacp-l34-carrier-alternate-16f",
            "lacp-l34-admin-alternate-16f",
        ]
    );
    for c in cells {
        let outcome = c["outcome"].as_str().unwrap();
        assert!(outcome == "pass" || outcome == "fail", "every cell ran to a verdict: {c}\n{}", text(&o));
        let h = &c["headline"];
        assert_eq!((h["complete"].as_bool(), h["flaps_done"].as_u64()), (Some(true), Some(1)), "{c}");
        if outcome == "fail" {
            assert!(!h["failures"].as_array().unwrap().is_empty(), "a fail says why: {c}");
        }
        assert!(h["worst_failover_ms"].is_number(), "{c}");
        // The cell's soak ran the bond and hash the cell names.
        let soak = read(&Path::new(c["dir"].as_str().unwrap()).join("soak.json"));
        let e = &soak["environment"];
        assert_eq!(e["bond_mode"], c["params"]["bond"], "{e}");
        assert_eq!(e["xmit_hash_policy"], c["params"]["bond_hash"], "{e}");
        assert_eq!(c["params"]["flap_kind"], soak["settings"]["flap_kind"], "{}", soak["settings"]);
    }
    assert_eq!(r["environment"]["host"], "lab");
    assert_eq!((r["complete"].as_bool(), r["interrupted"].as_bool()), (Some(true), Some(false)));
    let any_fail = cells.iter().any(|c| c["outcome"] == "fail");
    assert_eq!(o.status.code(), Some(if any_fail { 3 } else { 0 }), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    for (i, n) in names.iter().enumerate() {
        assert!(
            stdout.contains(&format!("[{}/6] {n}: {}, worst failover ", i + 1, cells[i]["outcome"].as_str().unwrap())),
            "{stdout}"
        );
    }
    assert!(md.contains("| bond | carrier | admin |"), "the pivot: {md}");
    assert!(lab.gone(), "each cell took its lab down");
}

/// A cell whose verdict fails (both links down at once for 300 ms, under a 250 ms outage
/// limit) does not stop the next (one link at a time, well under it), and the sweep exits 3.
#[test]
fn a_failing_cell_does_not_stop_the_next_and_the_sweep_exits_3() {
    let _g = serial();
    let lab = Lab::new("sw", "f");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sweep");
    let mut pass = soak_args(&lab, "1");
    pass.extend(["--max-outage-ms".into(), "250".into()]);
    let o = run_bounded(sweep(&out, &["--bond", "xor", "--link", "both,alternate"], &pass), Duration::from_secs(120));
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let r = check_consistent(&out);
    let cells = r["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 2);
    assert_eq!(
        (cells[0]["name"].as_str(), cells[0]["outcome"].as_str()),
        (Some("xor-l34-carrier-both-16f"), Some("fail"))
    );
    assert_eq!(cells[0]["exit_code"], 3);
    let failures = cells[0]["headline"]["failures"].to_string();
    assert!(failures.contains("250"), "the outage limit failed it: {failures}");
    assert_eq!(cells[1]["name"], "xor-l34-carrier-alternate-16f");
    assert_eq!(cells[1]["outcome"], "pass", "the next cell ran after the failure: {}", cells[1]);
    let md = std::fs::read_to_string(out.join("sweep.md")).unwrap();
    assert!(md.contains("- xor-l34-carrier-both-16f (fail): "), "{md}");
    assert!(lab.gone());
}

/// Ctrl-C in the second of three cells: that cell's soak stops and writes its report, the
/// third is not run, the sweep's files say so, and no DPDK process or lab is left.
#[test]
fn ctrl_c_mid_sweep_stops_the_running_cell_and_writes_what_ran() {
    let _g = serial();
    let lab = Lab::new("sw", "i");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sweep");
    let axes = ["--bond", "xor", "--flows", "8,16,32"];
    let mut child: Child =
        sweep(&out, &axes, &soak_args(&lab, "3")).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let t0 = Instant::now();
    let mut seen = String::new();
    let second_log = out.join("cells/02-xor-l34-carrier-alternate-16f/soak.log");
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        seen += &format!("{line}\n");
        if line.starts_with("[2/3] ") && line.contains(": running") {
            // Wait for the second cell's traffic, then Ctrl-C the sweep (its group is its own).
            while !std::fs::read_to_string(&second_log).unwrap_or_default().contains("traffic flowing") {
                assert!(t0.elapsed() < Duration::from_secs(90), "no traffic in cell 2: {seen}");
                std::thread::sleep(Duration::from_millis(100));
            }
            let second =
                run_bounded(sweep(&dir.path().join("other"), &axes, &soak_args(&lab, "3")), Duration::from_secs(10));
            assert_eq!(second.status.code(), Some(1), "one sweep per lab: {}", text(&second));
            assert!(text(&second).contains("is in use by a sweep"), "{}", text(&second));
            let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
        }
        assert!(t0.elapsed() < Duration::from_secs(150), "{seen}");
    }
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "interrupted, as the soak: {seen}{err}");
    let r = check_consistent(&out);
    assert_eq!((r["complete"].as_bool(), r["interrupted"].as_bool()), (Some(false), Some(true)));
    let outcomes: Vec<&str> = r["cells"].as_array().unwrap().iter().map(|c| c["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["pass", "error", "not-run"], "{seen}");
    let cut = &r["cells"][1];
    assert_eq!(cut["exit_code"], 1);
    assert!(cut["error"].as_str().unwrap().starts_with("exit 1: interrupted after "), "{cut}");
    assert_eq!(cut["headline"]["interrupted"], true, "the cell wrote its report: {cut}");
    assert!(!out.join("cells/03-xor-l34-carrier-alternate-32f").exists(), "the third never started");
    assert!(seen.contains("sweep: 1 pass, 0 fail, 1 error, 1 not run (interrupted)"), "{seen}");
    for needle in [&lab.ns, &lab.host[0]] {
        assert!(pids_with(needle).is_empty(), "a process of the lab is left: {needle}");
    }
    assert!(lab.gone(), "the interrupted cell took its lab down");
}
