//! The harness end to end, briefly: a quick run on real DPDK processes writes well-formed JSON
//! and Markdown; floors decide the exit code; bad options are refused before anything starts.
//! Ratios are printed by the harness, never asserted here (shared machines are noisy).

use std::process::{Command, Output};
use std::sync::Mutex;

const BIN: &str = env!("CARGO_BIN_EXE_vflag-bench");

/// DPDK processes busy-poll both CPUs: one run at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn bench(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("vflag-bench runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn a_quick_run_measures_every_side_and_writes_json_and_markdown() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let (json, md) = (dir.path().join("b.json"), dir.path().join("b.md"));
    let cases = "null-rxonly,memif-64,analysis-null,interleaved-null";
    let before = runtime_dirs();
    let out =
        bench(&["--quick", "--cases", cases, "--json", json.to_str().unwrap(), "--markdown", md.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["schema"], "vflag-bench.v1");
    assert!(v["tsc_hz"].as_u64().unwrap() > 100_000_000);
    let got: Vec<&str> = v["cases"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(got, cases.split(',').collect::<Vec<_>>());
    for c in v["cases"].as_array().unwrap() {
        for side in ["baseline", "compared"] {
            let mpps = c[side]["mpps"]["median"].as_f64().unwrap();
            assert!(mpps > 0.0, "{} {side} carried no traffic: {c}", c["name"]);
            assert!(c[side]["cycles_per_packet"].as_f64().unwrap() > 0.0);
        }
        let ratio = c["ratio"].as_f64().unwrap();
        let want =
            c["compared"]["mpps"]["median"].as_f64().unwrap() / c["baseline"]["mpps"]["median"].as_f64().unwrap();
        assert!((ratio - want).abs() < 1e-9, "ratio is compared/baseline: {c}");
        assert!(c["pass"].is_null(), "no floor given, nothing checked");
    }
    assert_eq!(v["cases"][0]["baseline"]["label"], "dpdk-testpmd");
    assert_eq!(v["cases"][2]["kind"], "tracking");
    // Interleaved: both figures from one vflag-dp, plain and analysing slices alike.
    assert_eq!(v["cases"][3]["kind"], "tracking");
    assert_eq!(v["cases"][3]["baseline"]["label"], "plain");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.lines().any(|l| l.starts_with("memif-64") && l.contains("vflag-dp:")), "{table}");
    let md = std::fs::read_to_string(&md).unwrap();
    assert_eq!(
        md.lines()
            .filter(|l| ["| null-", "| memif-", "| analysis-", "| interleaved-"].iter().any(|p| l.starts_with(p)))
            .count(),
        4,
        "{md}"
    );
    // Every process was stopped and its runtime directory removed.
    let left: Vec<String> = runtime_dirs().into_iter().filter(|d| !before.contains(d)).collect();
    assert!(left.is_empty(), "runtime directories left behind: {left:?}");
}

/// DPDK runtime directories of harness processes (prefixes start with "vb").
fn runtime_dirs() -> Vec<String> {
    std::fs::read_dir("/var/run/dpdk")
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|n| n.starts_with("vb"))
        .collect()
}

#[test]
fn a_ratio_under_its_floor_exits_3_naming_the_case() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    // No vflag-dp run is 1000 times faster than dpdk-testpmd: the check must fail.
    let out = bench(&["--quick", "--cases", "null-txonly", "--check", "1000"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("null-txonly: ratio") && err.contains("under the floor 1000"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL (< 1000)"));
}

#[test]
fn sigterm_stops_the_processes_and_reports_the_finished_cases() {
    use std::io::BufRead;
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("b.json");
    let before = runtime_dirs();
    let args = ["--cases", "null-txonly,null-rxonly", "--rounds", "1", "--warmup", "500ms", "--window", "2s"];
    let mut child = Command::new(BIN)
        .args(args)
        .args(["--json", json.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once the second case is under way, stop the harness.
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let mut line = String::new();
    while err.read_line(&mut line).unwrap() > 0 {
        seen.push_str(&line);
        if line.starts_with("vflag-bench: null-txonly") {
            break;
        }
        line.clear();
    }
    assert!(seen.contains("vflag-bench: null-txonly"), "{seen}");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let t0 = std::time::Instant::now();
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(t0.elapsed() < std::time::Duration::from_secs(15), "stopped in {:?}", t0.elapsed());
    assert_eq!(status.code(), Some(1), "{seen}{rest}");
    assert!(rest.contains("interrupted: 1 of 2 case(s) measured"), "{rest}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["interrupted"], true);
    let names: Vec<&str> = v["cases"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["null-rxonly"], "cases run in the harness's order");
    let left: Vec<String> = runtime_dirs().into_iter().filter(|d| !before.contains(d)).collect();
    assert!(left.is_empty(), "runtime directories left behind: {left:?}");
}

#[test]
fn bad_options_are_refused_in_one_line() {
    for (args, needle) in [
        (&["--cases", "null-rxonly,warp-drive"][..], "'warp-drive'"),
        (&["--check", "0"][..], "--check 0"),
        (&["--check-analysis", "-1"][..], "-1"),
        (&["--window", "10ms"][..], "--window"),
        (&["--rounds", "0"][..], "0"),
    ] {
        let out = bench(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

/// The output files are created before any case runs: a path that cannot be written is one
/// line naming it, exit 1, at once, and leaves no temp file.
#[test]
fn unwritable_output_files_are_refused_before_any_case() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    for (opt, path) in [("--json", "/proc/version"), ("--markdown", d), ("--json", "/nonexistent-dir/x.json")] {
        let t = std::time::Instant::now();
        let out = bench(&["--quick", "--cases", "null-rxonly", opt, path]);
        assert_eq!(out.status.code(), Some(1), "{opt} {path}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{opt} {path}: {err}");
        assert!(err.starts_with(&format!("vflag-bench: error: {opt} {path}: ")), "{err}");
        assert!(t.elapsed() < std::time::Duration::from_secs(2), "{opt} {path} took {:?}", t.elapsed());
    }
    assert_eq!(std::fs::read_dir(d).unwrap().count(), 0);
    assert!(!std::path::Path::new("/proc/version.tmp").exists());
}

#[test]
fn the_case_list_names_every_case() {
    let out = bench(&["--list"]);
    assert_eq!(out.status.code(), Some(0));
    let list = String::from_utf8_lossy(&out.stdout);
    for name in [
        "null-rxonly",
        "null-io",
        "null-txonly",
        "memif-64",
        "memif-1518",
        "analysis-null",
        "analysis-memif",
        "interleaved-null",
        "interleaved-memif",
        "gen-null",
    ] {
        assert!(list.lines().any(|l| l.starts_with(name)), "{name} in {list}");
    }
}
