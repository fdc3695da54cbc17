//! Soaks end to end on a lab of their own (a namespace and veth pairs with names no one else
//! uses): all three bond modes, a failing verdict, Ctrl-C mid-soak, the real-hardware mode
//! driven through flap commands (a receiver on the lab's bond, and on an emulated VF that sees
//! no links), and bad options. Each test leaves no namespace or veth behind.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{pids_with, read_json, run_bounded, serial, text, vflag_dp, Lab, CTL};

fn soak(lab: &Lab, out: &Path, extra: &[&str]) -> Command {
    soak_with(&vflag_dp(), lab, out, extra)
}

/// A lab soak with the vflag-dp at `dp`.
fn soak_with(dp: &Path, lab: &Lab, out: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(CTL);
    c.args(["soak", "--lab", "--vflag-dp"]).arg(dp).arg("--out").arg(out).args(lab.names()).args(extra);
    c.stdin(Stdio::null());
    c
}

fn read(out: &Path) -> serde_json::Value {
    read_json(&out.join("soak.json"))
}

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn shares(w: &serde_json::Value) -> Vec<f64> {
    w["shares_pct"].as_array().unwrap().iter().map(f).collect()
}

/// What every finished lab soak must show: each flap done and recovered, outages under a
/// generous bound, the table and a well-formed plot with a band per flap.
fn check_common(r: &serde_json::Value, out: &Path, flaps: usize) {
    assert_eq!(r["schema"], "vflag-ctl.soak.v1");
    assert_eq!((r["complete"].as_bool(), r["interrupted"].as_bool()), (Some(true), Some(false)));
    let fl = r["flaps"].as_array().unwrap();
    assert_eq!(fl.len(), flaps);
    for (i, x) in fl.iter().enumerate() {
        assert_eq!(x["number"], i + 1);
        assert_eq!(x["recovered"], true, "{x}");
        assert!(f(&x["outage_ms"]) < 300.0, "failover within 300 ms of a 400 ms flap: {x}");
        assert!((300.0..1500.0).contains(&f(&x["down_ms"])), "{x}");
        assert!(f(&x["after"]["rate_pps"]) > 15_000.0, "traffic back at the offered 20 kpps: {x}");
    }
    assert!(r["totals"]["tracked"]["received"].as_u64().unwrap() > 100_000);
    // 16 flows at 20 kpps: each flow's frames 0.8 ms apart, so the receiver's 10 ms gap decides.
    assert!((10.0..=20.0).contains(&f(&r["resolution"]["ms"])), "{}", r["resolution"]);
    let md = std::fs::read_to_string(out.join("soak.md")).unwrap();
    assert!(md.contains("Resolution: outages under "), "{md}");
    assert!(md.contains("| loss-derived ms | first / last loss ms | episodes | restore ms |"), "{md}");
    for x in fl {
        let fo = &x["failover"];
        assert!(fo["episodes"].is_array() && fo["below_resolution"].is_boolean(), "{x}");
        // Lost frames over the failed link's rate: a failover of a few ms to a few hundred.
        if x["lost"].as_u64().unwrap() > 0 {
            assert!((0.0..300.0).contains(&f(&fo["loss_derived_ms"])), "{x}");
        }
        if f(&x["outage_ms"]) < f(&r["resolution"]["ms"]) {
            assert_eq!(fo["below_resolution"], true, "{x}");
            let row = md.lines().find(|l| l.starts_with(&format!("| {} | ", x["number"]))).unwrap();
            assert!(row.contains(" | < "), "shown as under the resolution, not 0.0: {row}");
        }
    }
    // A row per flap in the failover table, the traffic split, the link counters' table and
    // the latency table (the lab's ends share a clock).
    // (The summary's rows name a figure, not a flap number.)
    let flap_rows =
        md.lines().filter(|l| l.strip_prefix("| ").is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit())));
    assert_eq!(flap_rows.count(), 4 * flaps, "{md}");
    assert!(md.find("## Summary") < md.find("## Per flap"), "{md}");
    let svg = std::fs::read_to_string(out.join("soak.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("class=\"flap\"").count(), flaps);
    assert_eq!(svg.matches("class=\"series\"").count(), 2, "a line per member");
    check_link_counters(r, out);
}

/// The lab samples its host links' kernel counters beside the bond's: both count the same
/// frames, so each window's split must agree.
fn check_link_counters(r: &serde_json::Value, out: &Path) {
    let names: Vec<&str> = r["link_counters"].as_array().unwrap().iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(serde_json::json!(names), r["members"], "the host links, in the members' order");
    assert!(r["link_counters"].as_array().unwrap().iter().all(|l| l["source"] == "netdev"), "veths: sysfs");
    let lines = std::fs::read_to_string(out.join("links.jsonl")).unwrap();
    assert!(lines.lines().count() >= 20, "sampled every 100 ms: {}", lines.lines().count());
    for x in r["flaps"].as_array().unwrap() {
        for w in [&x["before"], &x["during"], &x["after"]] {
            let links = &w["links"];
            assert!(links.is_object(), "every window is covered by the samples: {x}");
            for (m, l) in shares(w).iter().zip(shares(links)) {
                assert!((m - l).abs() < 5.0, "bond members and links agree within 5 points: {w}");
            }
        }
        assert_eq!(x["during"]["links"]["carrying"], x["during"]["carrying"], "{x}");
    }
    assert_eq!(r["totals"]["link_shares_pct"].as_array().unwrap().len(), 2);
}

#[test]
fn lacp_soak_spreads_fails_over_and_rebalances() {
    let _g = serial();
    let lab = Lab::new("sk", "l");
    let dir = tempfile::tempdir().unwrap();
    // LACP takes a returning member back after ~3 s: the interval leaves room for that.
    let args = ["--bond", "lacp", "--flaps", "2", "--interval", "6s", "--down-ms", "400", "--min-member-share", "30"];
    let xml = dir.path().join("junit.xml");
    let xml_arg = xml.display().to_string();
    let out =
        run_bounded(soak(&lab, dir.path(), &[&args[..], &["--junit", &xml_arg]].concat()), Duration::from_secs(90));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = read(dir.path());
    check_common(&r, dir.path(), 2);
    assert_eq!(r["integrity"]["checked"], false, "{}", r["integrity"]);
    assert!(r["integrity"]["why_not"].as_str().unwrap().contains("the bond-to-bond lab (no --vf) has no NIC offload"));
    assert_eq!(r["environment"]["nic"], "lab bond (veth)");
    let passed = |name: String| (name, "passed", String::new());
    assert_eq!(
        junit::schema::cases(&xml),
        [
            passed(format!("flap 1 ({})", lab.switch[0])),
            passed(format!("flap 2 ({})", lab.switch[1])),
            passed("shares measured (--min-member-share)".into()),
            passed("soak ran to its end".into()),
        ]
    );
    let junit_text = std::fs::read_to_string(&xml).unwrap();
    assert!(junit_text.contains("<property name=\"outage_ms\" value=\""), "the flaps' figures: {junit_text}");
    assert_eq!(r["files"]["junit"], xml_arg.as_str());
    for (i, x) in r["flaps"].as_array().unwrap().iter().enumerate() {
        let down = i % 2; // alternate: link 0, then link 1
        assert_eq!(x["links"][0], lab.switch[down]);
        for w in [&x["before"], &x["after"]] {
            assert!(shares(w).iter().all(|s| (30.0..=70.0).contains(s)), "both members carry: {w}");
        }
        assert_eq!(x["during"]["carrying"], serde_json::json!([lab.host[1 - down]]), "the other link took it all: {x}");
    }
    // LACP takes the returning link back after ~3 s; restore is measured before the next flap.
    for x in r["flaps"].as_array().unwrap() {
        assert_eq!(x["restore"]["by"], "members", "{x}");
        assert!((300.0..5000.0).contains(&f(&x["restore"]["restore_ms"])), "{x}");
        assert!(f(&x["restore"]["rejoined_ms"]) <= f(&x["restore"]["restore_ms"]) + 1.0, "{x}");
        assert!(x["overlaps"].is_null() && x["overlapped_by"].is_null(), "{x}");
    }
    assert_eq!(r["totals"]["restore_ms"]["n"], 2, "{}", r["totals"]);
    assert_eq!(r["totals"]["not_restored"], 0);
    // One host, one clock: latency before, during and after every flap. The other link carries
    // on during the flap, so every window has tracked frames.
    let lat = &r["totals"]["latency"];
    assert!(lat["measured"] == true && lat["why_not"].is_null() && lat["judged_flaps"] == 2, "{lat}");
    for x in r["flaps"].as_array().unwrap() {
        let down = f(&x["down_s"]);
        for when in ["before", "during", "after"] {
            let w = &x["latency"][when];
            assert!(w["frames"].as_u64().unwrap() > 0 && w["samples"].as_u64().unwrap() > 0, "{when}: {x}");
            let (p50, p99, max) = (f(&w["p50_ns"]), f(&w["p99_ns"]), f(&w["max_ns"]));
            assert!(0.0 < p50 && p50 <= p99 && p99 <= max && max < 1e10, "{when}: {w}");
        }
        // The windows follow each other around the down command, as the samples fall.
        let (b, d, a) = (&x["latency"]["before"], &x["latency"]["during"], &x["latency"]["after"]);
        assert!(f(&b["to_s"]) <= down + 0.1 && f(&d["from_s"]) >= down - 0.1, "within a sample: {x}");
        assert!(f(&d["to_s"]) <= f(&a["from_s"]) + 1e-9, "{x}");
    }
    let md = std::fs::read_to_string(dir.path().join("soak.md")).unwrap();
    assert!(md.contains("One-way latency of tracked frames, p50 / p99 (frames)"), "{md}");
    assert!(md.contains("Latency over 2 judged flap(s), p50 / p99 (frames): before "), "{md}");
    assert!(junit_text.contains("<property name=\"latency.during.p99_ns\" value=\""), "{junit_text}");
    // Within reach of 20 kpps and not above it: the bond's sent count is its members' (a
    // member's return after a flap once counted its frames again: 35 kpps "achieved").
    let achieved = r["totals"]["generator"]["achieved_pps"].as_f64().unwrap();
    assert!((15_000.0..20_500.0).contains(&achieved), "{}", r["totals"]);
    let o = text(&out);
    assert!(o.contains("flap 1/2") && o.contains("Verdict: PASS"), "{o}");
    assert!(o.contains("Over 2 judged flap(s), min / median / p99 / max ms: outage "), "{o}");
    assert!(!o.contains("the generator sent"), "20 kpps is within reach: {o}");
    assert!(lab.gone(), "the soak took its lab down");
}

#[test]
fn fast_lacp_flaps_that_overlap_are_labelled_not_failed() {
    let _g = serial();
    let lab = Lab::new("sk", "f");
    let dir = tempfile::tempdir().unwrap();
    // 1.5 s apart, shorter than LACP's ~3 s rejoin: flap 2 takes link 1 down while link 0 is
    // still out of the aggregation, and flap 3 link 0 while link 1 is.
    let args =
        ["--bond", "lacp", "--flaps", "3", "--interval", "1500ms", "--down-ms", "400", "--min-member-share", "30"];
    let out = run_bounded(soak(&lab, dir.path(), &args), Duration::from_secs(60));
    let o = text(&out);
    // What was judged passed: flap 1's before-window; the rest measured the schedule.
    assert_eq!(out.status.code(), Some(0), "{o}");
    let r = read(dir.path());
    let fl = r["flaps"].as_array().unwrap();
    assert!(fl[0]["overlaps"].is_null(), "{}", fl[0]);
    assert_eq!(fl[0]["overlapped_by"], 2, "{}", fl[0]);
    assert_eq!(fl[0]["restore"]["restore_ms"], serde_json::Value::Null, "not back before flap 2: {}", fl[0]);
    for x in &fl[1..] {
        assert!(x["overlaps"]["flap"].as_u64().unwrap() < x["number"].as_u64().unwrap(), "{x}");
    }
    assert_eq!(fl[1]["overlaps"]["links"][0], lab.switch[0]);
    let notes: Vec<&str> = r["verdict"]["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    assert_eq!(notes.len(), 2, "{notes:?}");
    let want =
        format!("flap 2: {} went down while {} was still out of the aggregation (", lab.switch[1], lab.switch[0]);
    assert!(notes[0].starts_with(&want), "{notes:?}");
    assert!(o.contains(&format!("Note: {want}")), "{o}");
    let md = std::fs::read_to_string(dir.path().join("soak.md")).unwrap();
    let row = md.lines().find(|l| l.starts_with("| 2 | ")).unwrap();
    assert!(row.contains(&format!("overlaps flap 1: {} still out, not judged", lab.switch[0])), "{row}");
    assert_eq!(r["totals"]["overlapping"], 2);
    assert_eq!(r["totals"]["failover_ms"]["n"], 1, "only flap 1 is judged: {}", r["totals"]);
    assert!(lab.gone());
}

#[test]
fn xor_soak_with_an_impossible_share_limit_fails_with_exit_3() {
    let _g = serial();
    let lab = Lab::new("sk", "x");
    let dir = tempfile::tempdir().unwrap();
    // No member can carry 60% while two share 16 flows evenly.
    let args = ["--bond", "xor", "--flaps", "1", "--interval", "5s", "--down-ms", "400", "--min-member-share", "60"];
    let xml = dir.path().join("junit.xml");
    let xml_arg = xml.display().to_string();
    let out =
        run_bounded(soak(&lab, dir.path(), &[&args[..], &["--junit", &xml_arg]].concat()), Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let r = read(dir.path());
    check_common(&r, dir.path(), 1);
    let x = &r["flaps"][0];
    assert!(shares(&x["before"]).iter().all(|s| (30.0..=70.0).contains(s)), "xor spreads 16 flows: {x}");
    assert!(x["lost"].as_u64().unwrap() < 2_000, "the bond moved the failed link's flows: {x}");
    // xor takes the link back at once.
    assert!(f(&x["restore"]["restore_ms"]) < 1000.0, "{x}");
    let failures: Vec<String> =
        r["verdict"]["failures"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    assert!(failures.len() >= 2, "before and after the flap: {failures:?}");
    for f in &failures {
        assert!(f.starts_with("flap 1 ") && f.ends_with("% < --min-member-share 60%"), "{failures:?}");
    }
    // The flap's testcase carries every one of its lines; the whole-soak check passed.
    let cases = junit::schema::cases(&xml);
    let outcomes: Vec<(&str, &str)> = cases.iter().map(|(n, o, _)| (n.as_str(), *o)).collect();
    let flap1 = format!("flap 1 ({})", lab.switch[0]);
    assert_eq!(
        outcomes,
        [
            (flap1.as_str(), "failure"),
            ("shares measured (--min-member-share)", "passed"),
            ("soak ran to its end", "passed")
        ]
    );
    assert!(cases[0].2.starts_with(&failures[0]), "{cases:?}");
    let junit_text = std::fs::read_to_string(&xml).unwrap();
    let d = roxmltree::Document::parse(&junit_text).unwrap();
    let failure = d.descendants().find(|n| n.has_tag_name("failure")).unwrap();
    assert_eq!(failure.text(), Some(failures.join("\n").as_str()));
    assert!(text(&out).contains("Verdict: FAIL"));
    assert!(lab.gone());
}

#[test]
fn active_backup_soak_moves_traffic_to_the_other_link() {
    let _g = serial();
    let lab = Lab::new("sk", "a");
    let dir = tempfile::tempdir().unwrap();
    let args = ["--bond", "active-backup", "--flaps", "2", "--interval", "4s", "--down-ms", "400"];
    let out = run_bounded(soak(&lab, dir.path(), &args), Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = read(dir.path());
    check_common(&r, dir.path(), 2);
    for x in r["flaps"].as_array().unwrap() {
        for w in [&x["before"], &x["during"], &x["after"]] {
            assert_eq!(w["carrying"].as_array().unwrap().len(), 1, "one member at a time: {x}");
        }
    }
    // Flap 1 takes the first (active) link down: traffic moves to the second and stays there.
    let x = &r["flaps"][0];
    assert_eq!(x["before"]["carrying"][0], lab.host[0]);
    assert_eq!(x["during"]["carrying"][0], lab.host[1]);
    assert!(x["restore"].is_null(), "one link carried everything: nothing reverts: {x}");
    assert!(lab.gone());
}

#[test]
fn ctrl_c_mid_soak_writes_what_ran_and_tears_the_lab_down() {
    let _g = serial();
    let lab = Lab::new("sk", "c");
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("junit.xml");
    let xml_arg = xml.display().to_string();
    let args = ["--bond", "xor", "--flaps", "5", "--interval", "3s", "--down-ms", "300", "--junit", &xml_arg];
    let mut child: Child = soak(&lab, dir.path(), &args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let t0 = Instant::now();
    let mut seen = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("traffic flowing") {
            // One soak per lab: a second one, and `lab down`, are refused while it runs.
            let other = tempfile::tempdir().unwrap();
            let holder = format!("lab {} is in use by a soak, vflag-ctl pid {}", lab.ns, child.id());
            let second = run_bounded(soak(&lab, other.path(), &args), Duration::from_secs(10));
            assert_eq!(second.status.code(), Some(1), "{}", text(&second));
            assert_eq!(String::from_utf8_lossy(&second.stderr).trim(), format!("vflag-ctl: error: {holder}"));
            assert!(!other.path().join("rx.log").exists(), "the second soak started nothing");
            let down = Command::new(CTL).args(["lab", "down"]).args(lab.names()).output().unwrap();
            assert_eq!(down.status.code(), Some(1), "{}", text(&down));
            assert!(text(&down).contains(&holder), "{}", text(&down));
        }
        if line.contains("flap 1/5:") && line.contains(" up after ") {
            let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "{seen}");
    }
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    let status = child.wait().unwrap();
    // Interrupted in flap 1's after-window: whatever that window shows, the soak says it was
    // interrupted (exit 1), not that traffic failed to resume (exit 3).
    assert_eq!(status.code(), Some(1), "interrupted is not a pass nor a fail: {seen}{err}");
    assert!(err.contains("interrupted after 1 of 5 flaps (flap 1 cut short, not judged)"), "{err}");
    let r = read(dir.path());
    assert_eq!((r["complete"].as_bool(), r["interrupted"].as_bool()), (Some(false), Some(true)));
    assert_eq!(r["totals"]["flaps_planned"], 5);
    assert_eq!(r["totals"]["flaps_done"], 1, "{}", r["totals"]);
    assert_eq!(r["flaps"][0]["cut_short"], true, "{}", r["flaps"][0]);
    assert!(!r["verdict"]["failures"].to_string().contains("did not resume"), "{}", r["verdict"]);
    assert!(seen.contains("Interrupted: the figures cover what ran."), "{seen}");
    // The JUnit file too: the flap cut short and those never run skipped, the soak an error.
    let cases = junit::schema::cases(&xml);
    let outcomes: Vec<(&str, &str)> = cases.iter().map(|(n, o, _)| (n.as_str(), *o)).collect();
    let flap1 = format!("flap 1 ({})", lab.switch[0]);
    assert_eq!(
        outcomes,
        [
            (flap1.as_str(), "skipped"),
            ("flap 2", "skipped"),
            ("flap 3", "skipped"),
            ("flap 4", "skipped"),
            ("flap 5", "skipped"),
            ("soak ran to its end", "error"),
        ]
    );
    assert_eq!(cases[5].2, "interrupted after 1 of 5 flaps; the figures cover what ran");
    assert!(lab.gone(), "Ctrl-C still took the lab down");
}

#[test]
fn hardware_mode_runs_the_receiver_from_dut_args_and_flaps_with_commands() {
    let _g = serial();
    let lab = Lab::new("sk", "d");
    let dir = tempfile::tempdir().unwrap();
    lab.up();
    let mut gen = switch_generator(&lab, "skdg");
    let dut = format!(
        "--lcores 0-1 --no-huge -m 256 --mbufs 8192 --file-prefix skdr{} --vdev net_af_packet0,iface={} \
         --vdev net_af_packet1,iface={} --bond xor",
        std::process::id(),
        lab.host[0],
        lab.host[1]
    );
    let mut c = hardware_soak(&lab, dir.path(), &dut);
    // As a VF-LAG host reads its PFs: the host ends' own counters.
    c.args(["--link-counters", &lab.host.join(",")]);
    let out = run_bounded(c, Duration::from_secs(60));
    let _ = gen.kill();
    let _ = gen.wait();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = read(dir.path());
    assert_eq!(r["settings"]["mode"], "dut");
    let x = &r["flaps"][0];
    assert_eq!(x["links"][0], lab.switch[1]);
    assert_eq!(x["recovered"], true);
    // The receiver's bond members, named as the receiver reported them.
    assert_eq!(r["members"], serde_json::json!(["net_af_packet0", "net_af_packet1"]));
    assert_eq!(x["during"]["carrying"], serde_json::json!(["net_af_packet0"]), "{x}");
    assert_eq!(x["during"]["links"]["carrying"], serde_json::json!([lab.host[0]]), "{x}");
    assert!(shares(&x["before"]["links"]).iter().all(|s| (30.0..=70.0).contains(s)), "xor spreads 16 flows: {x}");
    let md = std::fs::read_to_string(dir.path().join("soak.md")).unwrap();
    assert!(
        md.contains(&format!("Received per link, from the links' own counters: {} (netdev statistics)", lab.host[0])),
        "{md}"
    );
    // The generator is not the soak's: its clock is not known to be the receiver's.
    assert_eq!(r["totals"]["latency"]["measured"], false);
    assert!(r["totals"]["latency"]["why_not"].as_str().unwrap().contains("--same-clock"), "{}", r["totals"]);
    assert!(x["latency"].is_null(), "{x}");
    assert!(md.contains("Latency: not measured: the traffic comes from a generator"), "{md}");
    // Skipped, and said so; with no mlx5 card to read there is no offload to check.
    assert_eq!(r["preflight"]["verify"], "skipped (--no-verify)");
    assert_eq!(r["integrity"]["checked"], false, "{}", r["integrity"]);
    assert!(r["integrity"]["why_not"].as_str().unwrap().starts_with("the mlx5 card could not be read"));
    assert_eq!(r["environment"]["host"], "mlx5");
    assert!(r["environment"]["dpdk"].as_str().unwrap().starts_with("DPDK "), "{}", r["environment"]);
    assert!(md.contains("Pre-flight verify: skipped (--no-verify)."), "{md}");
    // This host has no mlx5 card: the soak goes on without the NIC, and says so.
    assert!(r["lag"]["note"].as_str().unwrap().starts_with("not sampled: "), "{}", r["lag"]);
    assert!(md.contains("The NIC across each flap (hardware):\n\nNot sampled: "), "{md}");
    assert!(text(&out).contains("vflag-ctl: warning: the NIC is not sampled"), "{}", text(&out));
    assert!(!lab.gone(), "a lab the soak did not make stays");
}

/// The "switch side" of a hardware-mode soak: any generator; here vflag-dp with an xor bond
/// over the switch ends, 16 flows at 20 000 frames/s for at most 40 s.
fn switch_generator(lab: &Lab, prefix: &str) -> Child {
    Command::new("ip")
        .args(["netns", "exec", &lab.ns])
        .arg(vflag_dp())
        .args(["--lcores", "1,0", "--no-huge", "-m", "256", "--mbufs", "8192", "--stats-interval", "0"])
        .args(["--file-prefix", &format!("{prefix}{}", std::process::id())])
        .args(["--vdev", &format!("net_af_packet0,iface={}", lab.switch[0])])
        .args(["--vdev", &format!("net_af_packet1,iface={}", lab.switch[1])])
        .args(["--bond", "xor", "--fwd", "gen", "--flows", "16", "--rate", "20000", "--duration", "40"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// A hardware-mode soak of one 400 ms flap of link `--link 1`, the flaps done on the switch
/// ends by command, as an operator's commands would reach a switch.
fn hardware_soak(lab: &Lab, out: &Path, dut: &str) -> Command {
    let mut c = Command::new(CTL);
    c.args(["soak", "--vflag-dp"]).arg(vflag_dp()).arg("--out").arg(out);
    c.args(["--dut-args", dut, "--links", &lab.switch.join(",")]);
    c.args(["--flap-down-cmd", &format!("ip -n {} link set {{link}} down", lab.ns)]);
    c.args(["--flap-up-cmd", &format!("ip -n {} link set {{link}} up", lab.ns)]);
    c.args(["--flaps", "1", "--interval", "4s", "--down-ms", "400", "--link", "1"]);
    // No mlx5 card here: the pre-flight verify would refuse the soak.
    c.arg("--no-verify");
    c.stdin(Stdio::null());
    c
}

/// An emulated VF on the lab's host ends, as VF-LAG steers a VF's traffic: a veth pair (the
/// VF, and its representor), and one ingress block shared by both host ends whose filter
/// redirects every frame to the representor (the seed's block 22 and its mirred rule; u32
/// stands in for flower, which this kernel lacks). A receiver on the VF sees one port and no
/// links. The pair goes on drop; the qdiscs go with the lab.
struct Vf {
    vf: String,
    rep: String,
}

impl Vf {
    fn new(lab: &Lab, tag: &str) -> Vf {
        let id = std::process::id() % 10_000;
        let vf = Vf { vf: format!("vf{tag}{id}"), rep: format!("vr{tag}{id}") };
        let block = (1000 + id).to_string();
        let sh = |args: &[&str]| {
            let o = Command::new(args[0]).args(&args[1..]).output().unwrap();
            assert!(o.status.success(), "{args:?}: {}", text(&o));
        };
        sh(&["ip", "link", "add", &vf.vf, "type", "veth", "peer", "name", &vf.rep]);
        sh(&["ip", "link", "set", &vf.vf, "up"]);
        sh(&["ip", "link", "set", &vf.rep, "up"]);
        for h in &lab.host {
            sh(&["tc", "qdisc", "add", "dev", h, "ingress_block", &block, "ingress"]);
        }
        let rule = ["protocol", "all", "u32", "match", "u32", "0", "0", "action", "mirred", "egress", "redirect"];
        let mut filter = vec!["tc", "filter", "add", "block", &block];
        filter.extend(rule);
        filter.extend(["dev", &vf.rep]);
        sh(&filter);
        vf
    }
}

impl Drop for Vf {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.vf]).output();
    }
}

#[test]
fn hardware_mode_on_an_emulated_vf_splits_the_traffic_by_the_links_counters() {
    let _g = serial();
    let lab = Lab::new("sk", "v");
    let dir = tempfile::tempdir().unwrap();
    lab.up();
    let vf = Vf::new(&lab, "v");
    let mut gen = switch_generator(&lab, "skvg");
    let dut = format!(
        "--lcores 0-1 --no-huge -m 256 --mbufs 8192 --file-prefix skvr{} --vdev net_af_packet0,iface={}",
        std::process::id(),
        vf.vf
    );
    let mut c = hardware_soak(&lab, dir.path(), &dut);
    // The PFs' counters are the only split there is: the share limit must be judged on them.
    c.args(["--link-counters", &lab.host.join(","), "--min-member-share", "30"]);
    let out = run_bounded(c, Duration::from_secs(60));
    let _ = gen.kill();
    let _ = gen.wait();
    let o = text(&out);
    assert_eq!(out.status.code(), Some(0), "{o}");
    assert!(o.contains(&format!("| links {} ", lab.host[0])), "the progress line shows the links' rates: {o}");
    let r = read(dir.path());
    assert_eq!(r["members"], serde_json::json!([]), "a VF sees no links");
    let x = &r["flaps"][0];
    assert_eq!(x["recovered"], true, "{x}");
    for w in [&x["before"], &x["after"]] {
        assert!(shares(&w["links"]).iter().all(|s| (30.0..=70.0).contains(s)), "both links carry: {x}");
        assert!((15_000.0..25_000.0).contains(&f(&w["rate_pps"])), "the VF gets all 20 kpps: {x}");
    }
    assert_eq!(x["during"]["links"]["carrying"], serde_json::json!([lab.host[0]]), "{x}");
    assert!(f(&x["during"]["rate_pps"]) > 15_000.0, "the other link carried the VF's traffic: {x}");
    // The VF sees no members: restore comes from the links' counters (xor: at once).
    assert_eq!(x["restore"]["by"], "links", "{x}");
    assert!(f(&x["restore"]["restore_ms"]) < 1500.0, "{x}");
    assert_eq!(r["verdict"]["pass"], true);
    let svg = std::fs::read_to_string(dir.path().join("soak.svg")).unwrap();
    assert_eq!(svg.matches("class=\"series\"").count(), 3, "the VF's total and a line per link");
    drop(vf);
    assert!(!lab.gone(), "a lab the soak did not make stays");
}

/// Real hardware with the far side run by the soak: `--peer-cmd` (a stand-in ssh into the lab's
/// namespace, the "peer host"), the far side's own ports in `--peer-args`, its vflag-dp in
/// `--peer-vflag-dp`; the soak adds the rest, sending to the VF's MAC from `--dut-args`, and
/// fetches its report.
#[test]
fn hardware_mode_runs_the_far_side_through_the_peer_command() {
    let _g = serial();
    let lab = Lab::new("sk", "p");
    let dir = tempfile::tempdir().unwrap();
    let bin = tempfile::tempdir().unwrap();
    lab.up();
    let vf = Vf::new(&lab, "p");
    let id = std::process::id();
    let dut = format!(
        "--lcores 0-1 --no-huge -m 256 --mbufs 8192 --file-prefix skpr{id} --vdev net_af_packet0,iface={} \
         --mac 02:00:00:00:aa:01",
        vf.vf
    );
    let peer = format!("{} peerhost ip netns exec {}", fake_ssh(bin.path()), lab.ns);
    let far = format!(
        "--lcores 1,0 --no-huge -m 256 --mbufs 8192 --file-prefix skpg{id} --vdev net_af_packet0,iface={} \
         --vdev net_af_packet1,iface={} --bond xor --link-wait 10s",
        lab.switch[0], lab.switch[1]
    );
    let mut c = hardware_soak(&lab, dir.path(), &dut);
    c.args(["--link-counters", &lab.host.join(","), "--peer-cmd", &peer, "--peer-args", &far]);
    c.arg("--peer-vflag-dp").arg(vflag_dp()).args(["--flows", "16", "--rate", "20k"]);
    let out = run_bounded(c, Duration::from_secs(60));
    let o = text(&out);
    assert_eq!(out.status.code(), Some(0), "{o}");
    let r = read(dir.path());
    assert_eq!(r["settings"]["mode"], "dut");
    assert_eq!((r["settings"]["flows"].as_u64(), r["settings"]["rate"].as_str()), (Some(16), Some("20k")));
    let argv: Vec<&str> = r["far_side"]["argv"].as_array().unwrap().iter().map(|w| w.as_str().unwrap()).collect();
    let at = |opt: &str| argv.iter().position(|w| *w == opt).map(|i| argv[i + 1]);
    assert_eq!((argv[1], at("--dst-mac"), at("--fwd")), ("peerhost", Some("02:00:00:00:aa:01"), Some("gen")));
    assert_eq!(r["far_side"]["fetched"], true, "{}", r["far_side"]);
    // Both sides got one run id: the receiver tracked the far side's frames and no others.
    let run_id = r["settings"]["run_id"].as_u64().unwrap();
    assert_eq!(at("--run-id"), Some(run_id.to_string().as_str()));
    let t = &r["totals"]["tracked"];
    assert!(t["received"].as_u64().unwrap() > 50_000 && t["other_run"] == 0, "{t}");
    assert!(f(&r["totals"]["generator"]["achieved_pps"]) > 15_000.0, "{}", r["totals"]);
    let x = &r["flaps"][0];
    assert_eq!(x["recovered"], true, "{x}");
    assert_eq!(x["during"]["links"]["carrying"], serde_json::json!([lab.host[0]]), "{x}");
    assert_eq!(r["verdict"]["pass"], true);
    assert!(pids_with(&format!("skpg{id}")).is_empty(), "the far side stopped");
    drop(vf);
    assert!(!lab.gone(), "a lab the soak did not make stays");
}

#[test]
fn bad_options_get_one_line_and_exit_2_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let (p1, p2) = (dir.path().join("p1"), dir.path().join("p2"));
    let hostile = format!("x;touch {},$(touch {})", p1.display(), p2.display());
    let peer_hostile = format!("-a y;touch {} --json=$(touch {})", p1.display(), p2.display());
    for (args, want) in [
        (
            vec![
                "soak",
                "--dut-args",
                "-a 0000:01:00.2",
                "--links",
                &hostile,
                "--flap-down-cmd",
                "echo DOWN {link}",
                "--flap-up-cmd",
                "echo UP {link}",
            ],
            "is not a link name",
        ),
        (vec!["soak"], "--lab"),
        (vec!["soak", "--lab", "--rate", "fast"], "--rate 'fast'"),
        (vec!["soak", "--lab", "--interval", "1s", "--down-ms", "500"], "--interval 1s is too short"),
        (vec!["soak", "--lab", "--link", "7"], "--link 7"),
        (vec!["soak", "--lab", "--vflag-dp", "/nonexistent/vflag-dp"], "--vflag-dp /nonexistent/vflag-dp"),
        (
            vec![
                "soak",
                "--dut-args",
                "-a 0000:01:00.2",
                "--duration",
                "5s",
                "--link-counters",
                "nosuch0",
                "--out",
                "/nonexistent/o",
            ],
            "--link-counters nosuch0: no network interface 'nosuch0' on this host",
        ),
        (vec!["lab", "up", "--ns", "$(touch /tmp/vflag-p0)"], "--ns '$(touch /tmp/vflag-p0)' is not an interface name"),
        (
            vec![
                "soak",
                "--dut-args",
                "-a 0000:01:00.2",
                "--duration",
                "5s",
                "--peer-cmd",
                "ssh peer",
                "--peer-args",
                "-a x",
            ],
            "--peer-cmd on real hardware needs --mac MAC in --dut-args",
        ),
        (
            vec![
                "soak",
                "--dut-args",
                "--mac 52:54:00:00:00:01",
                "--duration",
                "5s",
                "--peer-cmd",
                "ssh peer",
                "--peer-args",
                &peer_hostile,
            ],
            "--peer-args: leave --json=$(touch",
        ),
        (vec!["soak", "--lab", "--traffic-cmd", "tester", "--reflect"], "--traffic-cmd with --reflect"),
        (vec!["soak", "--dut-args", "-a x", "--duration", "5s", "--reflect"], "--reflect needs --peer-cmd"),
    ] {
        let out = Command::new(CTL).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing started");
    }
    assert!(!p1.exists() && !p2.exists(), "a link name reached a shell");
}

#[test]
fn an_output_that_cannot_be_written_stops_the_soak_before_it_starts() {
    let lab = Lab::new("sk", "o");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("soak.json")).unwrap();
    let t0 = Instant::now();
    let out = run_bounded(soak(&lab, dir.path(), &["--flaps", "1"]), Duration::from_secs(10));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(err.trim(), format!("vflag-ctl: error: --out {}/soak.json: is a directory", dir.path().display()));
    assert!(t0.elapsed() < Duration::from_secs(3), "found before anything started");
    assert!(lab.gone(), "no lab was brought up");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["soak.json"], "no temporary file and no child's log left");

    // The same for --junit.
    let dir = tempfile::tempdir().unwrap();
    let (out_dir, bad) = (dir.path().join("out"), dir.path().join("junit.xml"));
    std::fs::create_dir(&bad).unwrap();
    let bad_arg = bad.display().to_string();
    let out = run_bounded(soak(&lab, &out_dir, &["--flaps", "1", "--junit", &bad_arg]), Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        format!("vflag-ctl: error: --junit {bad_arg}: is a directory")
    );
    assert!(lab.gone(), "no lab was brought up");
    assert_eq!(std::fs::read_dir(&out_dir).unwrap().count(), 0, "no temporary file left in --out");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "nothing beside --junit but --out");
}

#[test]
fn a_soak_killed_outright_leaves_no_dpdk_process_and_lab_down_cleans_up() {
    let _g = serial();
    let lab = Lab::new("sk", "k");
    let dir = tempfile::tempdir().unwrap();
    let args = ["--bond", "xor", "--flaps", "3", "--interval", "3s", "--down-ms", "300"];
    let mut child: Child = soak(&lab, dir.path(), &args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let (pid, t0) = (child.id(), Instant::now());
    // The children's file prefixes carry the soak's pid.
    let mine = format!("vflag-soak-rx{pid}");
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        if line.unwrap().contains("traffic flowing") {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "no traffic");
    }
    assert_eq!(pids_with(&mine).len(), 1, "the receiver runs");
    assert_eq!(pids_with(&format!("vflag-soak-gen{pid}")).len(), 1, "the generator runs");
    child.kill().unwrap();
    child.wait().unwrap();
    let t1 = Instant::now();
    while !(pids_with(&mine).is_empty() && pids_with(&format!("vflag-soak-gen{pid}")).is_empty())
        && t1.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(pids_with(&mine).is_empty(), "the receiver outlived its SIGKILLed soak");
    assert!(pids_with(&format!("vflag-soak-gen{pid}")).is_empty(), "the generator outlived its SIGKILLed soak");
    assert!(!lab.gone(), "nothing ran to take the lab down");
    // The kernel dropped the dead soak's lock: lab down is not refused.
    let down = Command::new(CTL).args(["lab", "down"]).args(lab.names()).output().unwrap();
    assert!(down.status.success(), "{}", text(&down));
    assert!(lab.gone());
}

/// Runs `lab down --vf` on drop, so a failed VF soak leaves no VF pair behind.
struct VfLabDown<'a>(&'a Lab);

impl Drop for VfLabDown<'_> {
    fn drop(&mut self) {
        let _ = Command::new(CTL).args(["lab", "down", "--vf"]).args(self.0.names()).output();
    }
}

/// `soak --lab --vf`: the DUT sees one port and no bond; the lab's model of the NIC's LAG
/// remaps the transmit hash when a link loses carrier, and the split comes from the host
/// links' counters.
#[test]
fn a_vf_soak_lets_the_lag_model_remap_and_splits_by_the_links_counters() {
    let _g = serial();
    let lab = Lab::new("sk", "v");
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("junit.xml");
    let xml_arg = xml.display().to_string();
    let args = ["--vf", "--bond", "xor", "--flaps", "2", "--interval", "4s", "--min-member-share", "30"];
    let out =
        run_bounded(soak(&lab, dir.path(), &[&args[..], &["--junit", &xml_arg]].concat()), Duration::from_secs(60));
    // The soak takes the VF down with the lab; this is for a soak that did not get there.
    let _vf = VfLabDown(&lab);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = read(dir.path());
    assert_eq!(r["settings"]["mode"], "lab-vf");
    assert!(r["members"].as_array().unwrap().is_empty(), "a VF has no bond members");
    for (i, x) in r["flaps"].as_array().unwrap().iter().enumerate() {
        let during = shares(&x["during"]["links"]);
        assert!(during[i] < 5.0 && during[1 - i] > 95.0, "flap {i}: the other link carries all: {x}");
        for w in [&x["before"], &x["after"]] {
            assert!(shares(&w["links"]).iter().all(|s| (30.0..=70.0).contains(s)), "both links carry: {x}");
        }
    }
    // The NIC as sampled (the hardware reader on the model's debugfs tree, kern.log and bond
    // view, and the host ends' own carrier): each flap's steps, present and in order.
    assert_eq!(r["lag"]["source"], "lab model");
    let lag = r["lag"]["flaps"].as_array().unwrap();
    assert_eq!(lag.len(), 2, "{}", r["lag"]);
    let nic = std::fs::read_to_string(dir.path().join("nic.jsonl")).unwrap();
    // On a failure, what was sampled after the first read.
    let changes: Vec<&str> = nic.lines().skip(10).collect();
    for (i, l) in lag.iter().enumerate() {
        let why = format!("{l}\nsampled after the first read:\n{}", changes.join("\n"));
        assert_eq!(l["ports"], serde_json::json!([i + 1]), "{why}");
        let step = |k: &str| f(&l[k]);
        let (down, bond, remap) = (step("carrier_down_ms"), step("bond_noticed_ms"), step("lag_remapped_ms"));
        let (up, restore, rebalance) = (step("carrier_up_ms"), step("lag_restored_ms"), step("shares_rebalanced_ms"));
        // A step may show a little before its command returned (the carrier goes with it).
        assert!((-100.0..300.0).contains(&down) && (-100.0..300.0).contains(&up), "carrier seen: {why}");
        assert!(down <= remap && remap < 300.0, "the LAG remapped after the carrier went: {why}");
        assert!(down <= bond && bond < 300.0, "the bond noticed after the carrier went: {why}");
        assert!(up <= restore && restore < 300.0, "the LAG restored after the carrier came: {why}");
        assert!(restore <= rebalance + 150.0, "shares rebalance after the LAG restores (150 ms windows): {why}");
        assert!(l["traffic_recovered_ms"].is_number() || l["outage"] == false, "{why}");
    }
    assert!(!r["lag"]["model_remaps"].as_array().unwrap().is_empty(), "{}", r["lag"]);
    let header: serde_json::Value = serde_json::from_str(nic.lines().next().unwrap()).unwrap();
    assert_eq!(header["schema"], "vflag-ctl.nic.v1");
    assert!(nic.contains("\"what\":\"log\"") && nic.contains("\"what\":\"member\""), "{nic}");
    assert!(text(&out).contains("The NIC across each flap (lab model)"), "{}", text(&out));
    let svg = std::fs::read_to_string(dir.path().join("soak.svg")).unwrap();
    assert!(svg.contains("class=\"nic-step\""), "the steps are drawn");
    let junit_text = std::fs::read_to_string(&xml).unwrap();
    assert!(junit_text.contains("<property name=\"nic.lag_remapped_ms\" value=\""), "{junit_text}");
    check_lab_integrity(&r, dir.path(), 2);
    assert!(lab.gone());
}

/// The lab VF's offload integrity, before the first flap and after each: the host ends on the
/// block, the redirect to the representor, the representor up, the LAG model active with both
/// ports; in_hw said not to apply to veth, not faked.
fn check_lab_integrity(r: &serde_json::Value, out: &Path, flaps: u64) {
    let i = &r["integrity"];
    assert_eq!(i["checked"], true, "{i}");
    let recs = i["records"].as_array().unwrap();
    let when: Vec<(&str, Option<u64>)> =
        recs.iter().map(|x| (x["when"].as_str().unwrap(), x["flap"].as_u64())).collect();
    let mut want = vec![("before_flaps", None)];
    want.extend((1..=flaps).map(|n| ("after_flap", Some(n))));
    assert_eq!(when, want, "{i}");
    for x in recs {
        assert_eq!(x["pass"], true, "{x}");
        let checks = x["checks"].as_array().unwrap();
        let status = |name: &str| {
            let c = checks.iter().find(|c| c["name"].as_str().unwrap().starts_with(name));
            c.unwrap_or_else(|| panic!("no check {name}: {x}"))["status"].as_str().unwrap().to_string()
        };
        assert_eq!(status("redirect on block 22 -> vf0rep"), "pass");
        assert_eq!(status("representor vf0rep up"), "pass");
        assert_eq!(status("LAG active (the lab's model)"), "pass");
        assert_eq!(status("LAG maps both ports"), "pass");
        assert_eq!(status("offloaded (in_hw)"), "not_applicable");
        assert_eq!(
            checks.iter().filter(|c| c["name"].as_str().unwrap().ends_with("ingress on shared block 22")).count(),
            2
        );
        assert!(x["took_ms"].as_f64().unwrap() < 2000.0, "bounded: {x}");
    }
    assert_eq!(r["environment"]["host"], "lab-vf");
    assert_eq!(r["environment"]["port_sel_mode"], "hash", "read from the model's debugfs");
    assert_eq!(r["environment"]["driver"], "veth");
    assert!(r["environment"]["firmware"].is_null(), "veth has none: {}", r["environment"]);
    let md = std::fs::read_to_string(out.join("soak.md")).unwrap();
    assert!(md.contains("| after flap 1 | 7 | ok (offloaded (in_hw): not applicable (veth)) |"), "{md}");
    assert!(md.contains("Pre-flight verify: not applicable (the lab has no mlx5 card)."), "{md}");
}

/// A stand-in for ssh in `dir`: drops its first argument (the host) and runs the rest as its
/// child rather than exec'ing it, so the far side outlives it and stops only when its input
/// closes, as a process behind a real ssh does.
fn fake_ssh(dir: &Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join("fake-ssh");
    std::fs::write(&p, "#!/bin/sh\nshift\n\"$@\"\n").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p.display().to_string()
}

/// `--reflect`, two-ended: the DUT reflects on the emulated VF, the far side (started through
/// `--peer-cmd`, here a stand-in ssh) generates and receives, so the round trip is measured;
/// its report is fetched back through the same command. The DUT's egress, hashed over the
/// host links by the lab's LAG, leaves the flapped link and comes back.
#[test]
fn a_two_ended_vf_soak_measures_the_round_trip_and_the_egress_split() {
    let _g = serial();
    let lab = Lab::new("sk", "r");
    let dir = tempfile::tempdir().unwrap();
    let bin = tempfile::tempdir().unwrap();
    let peer = format!("{} 'peer host' ip netns exec {}", fake_ssh(bin.path()), lab.ns);
    let args = ["--vf", "--bond", "xor", "--reflect", "--peer-cmd", &peer, "--flaps", "2", "--interval", "4s"];
    let out = run_bounded(soak(&lab, dir.path(), &args), Duration::from_secs(60));
    let _vf = VfLabDown(&lab);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = read(dir.path());
    assert_eq!(r["settings"]["reflect"], true);
    // The far side ran through the peer command, wrote its report there, and it came back.
    let far = &r["far_side"];
    assert_eq!(far["argv"][1], "peer host", "{far}");
    assert!(far["argv"].as_array().unwrap().iter().any(|w| w == "--stop-on-eof"), "{far}");
    assert_eq!((far["fetched"].as_bool(), far["fetch_error"].as_str()), (Some(true), None), "{far}");
    let remote = far["report"].as_str().unwrap();
    assert!(remote.starts_with("/tmp/vflag-soak-") && !Path::new(remote).exists(), "removed there: {far}");
    let gen: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("gen.json")).unwrap()).unwrap();
    // One run id, given to both sides: the far side sent it, the reflector tracked it.
    let run_id = &r["settings"]["run_id"];
    assert!(run_id.as_u64().is_some_and(|id| id > 0), "{}", r["settings"]);
    assert_eq!(&gen["generator"]["run_id"], run_id, "{}", gen["generator"]);
    let rx: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("rx.json")).unwrap()).unwrap();
    assert_eq!(&rx["analysis"]["run_id"], run_id);
    let rt = &r["round_trip"];
    let (received, lost) = (rt["received"].as_u64().unwrap(), rt["lost"].as_u64().unwrap());
    assert!(received > 50_000, "4 s x 2 at 20 kpps came back: {rt}");
    assert!(lost * 100 < received, "a flap loses little of the round trip: {rt}");
    assert_eq!(rt["lost_in"].as_u64().unwrap() + rt["lost_back"].as_u64().unwrap(), lost, "{rt}");
    assert!(f(&rt["latency_p50_us"]) > 0.0, "{rt}");
    let flaps = rt["flaps"].as_array().unwrap();
    assert_eq!(flaps.len(), 2, "{rt}");
    for (i, x) in flaps.iter().enumerate() {
        let during = shares(&x["egress_during"]);
        assert!(during[i] < 5.0 && during[1 - i] > 95.0, "flap {i}: the egress left the link: {x}");
        for w in [&x["egress_before"], &x["egress_after"]] {
            assert!(shares(w).iter().all(|s| *s > 10.0), "the hash spreads the egress over both: {x}");
        }
    }
    assert!(text(&out).contains("Round trip (far side)"), "{}", text(&out));
    assert!(lab.gone());
}

/// A two-ended soak killed outright: the local end of the peer command dies with it
/// (`setpriv --pdeathsig`), the far side's input closes, and the far side's vflag-dp, which
/// the stand-in ssh keeps as its child, stops on that alone (`--stop-on-eof`).
#[test]
fn a_killed_two_ended_soak_leaves_no_far_side_running() {
    let _g = serial();
    let lab = Lab::new("sk", "x");
    let dir = tempfile::tempdir().unwrap();
    let bin = tempfile::tempdir().unwrap();
    let peer = format!("{} peerhost ip netns exec {}", fake_ssh(bin.path()), lab.ns);
    let args = ["--vf", "--bond", "xor", "--reflect", "--peer-cmd", &peer, "--flaps", "2", "--interval", "4s"];
    let mut child: Child = soak(&lab, dir.path(), &args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let _vf = VfLabDown(&lab);
    let (pid, t0) = (child.id(), Instant::now());
    let far = format!("vflag-soak-gen{pid}");
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        if line.unwrap().contains("traffic flowing") {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "no traffic");
    }
    assert_eq!(pids_with(&far).len(), 2, "the stand-in ssh and the far side's vflag-dp, its child");
    child.kill().unwrap();
    child.wait().unwrap();
    let t1 = Instant::now();
    while !pids_with(&far).is_empty() && t1.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let left = pids_with(&far);
    for p in &left {
        let _ = Command::new("kill").args(["-KILL", &p.to_string()]).status();
    }
    assert!(left.is_empty(), "the far side outlived its SIGKILLed soak: {left:?}");
    assert!(pids_with(&format!("vflag-soak-rx{pid}")).is_empty(), "the reflector too");
    let _ = Command::new(CTL).args(["lab", "down", "--vf"]).args(lab.names()).output();
    assert!(lab.gone());
}

/// `--traffic-cmd`: dpdk-testpmd (txonly, many flows, one port per switch end) in the lab's
/// namespace instead of the lab's generator. Its frames carry no sequence numbers: each flap's
/// outage is the silence of its flows, followed by 5-tuple; `--max-outage-ms` judges it, and
/// `--max-loss` fails for want of any tracked frame, saying so.
#[test]
fn a_foreign_generators_flows_give_each_flaps_outage() {
    let _g = serial();
    let lab = Lab::new("sk", "t");
    let dir = tempfile::tempdir().unwrap();
    let stopped = dir.path().join("stopped");
    let testpmd = format!(
        "ip netns exec {} dpdk-testpmd --lcores 0@0,1@1,2@0 --main-lcore 1 --no-pci --no-huge -m 256 \
         --file-prefix sktp{} --vdev net_af_packet0,iface={} --vdev net_af_packet1,iface={} -- \
         --forward-mode=txonly --txonly-multi-flow --nb-cores=2 --total-num-mbufs=16384 --stats-period 1",
        lab.ns,
        std::process::id(),
        lab.switch[0],
        lab.switch[1]
    );
    let stop = format!("touch '{}'", stopped.display());
    let args = [
        "--bond",
        "xor",
        "--traffic-cmd",
        &testpmd,
        "--traffic-stop-cmd",
        &stop,
        "--flaps",
        "2",
        "--interval",
        "4s",
        "--down-ms",
        "500",
        "--max-outage-ms",
        "3000",
        "--max-loss",
        "0",
    ];
    let out = run_bounded(soak(&lab, dir.path(), &args), Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(stopped.exists(), "--traffic-stop-cmd ran");
    assert!(pids_with(&format!("sktp{}", std::process::id())).is_empty(), "testpmd was stopped");
    let r = read(dir.path());
    assert_eq!(r["traffic"]["stop_exit"], 0, "{}", r["traffic"]);
    assert!(r["far_side"].is_null() && r["settings"]["flows"].is_null(), "no vflag-dp generator ran");
    assert!(std::fs::read_to_string(dir.path().join("traffic.log")).unwrap().contains("txonly"));
    let flaps = r["flaps"].as_array().unwrap();
    assert_eq!(flaps.len(), 2);
    for x in flaps {
        let (fo, ep0) = (&x["failover"], &x["failover"]["episodes"][0]);
        eprintln!(
            "flap {}: outage {} ms over {} foreign flows (median {} ms), all-traffic {} ms, est. lost {}, loss-derived {} ms",
            x["number"], x["outage_ms"], ep0["foreign_flows"], fo["flow_outage_ms"]["median"], x["total_outage_ms"],
            fo["foreign_lost_est"], fo["loss_derived_ms"]
        );
        let outage = f(&x["outage_ms"]);
        assert!((300.0..2000.0).contains(&outage), "the flapped link's flows were silent about 500 ms: {x}");
        assert!(f(&x["total_outage_ms"]) < 300.0, "the other link's flows carried on: {x}");
        let ep = &x["failover"]["episodes"][0];
        assert!(ep["foreign_flows"].as_u64().unwrap() > 0 && ep["foreign_flows"] == ep["flows"], "{x}");
        assert!(f(&x["failover"]["foreign_lost_est"]) > 0.0, "{x}");
        assert_eq!(x["recovered"], true, "{x}");
    }
    let lines: Vec<&str> = r["verdict"]["failures"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("--max-loss: no tracked traffic was received"), "{lines:?}");
    assert!(lab.gone());
}

/// `--flap-kind lacp`: LACPDUs stop on one link while its carrier stays up, so only LACP's
/// timeout (the lab's bonds run `--lacp-rate fast`: a LACPDU a second, given up after 3 s)
/// moves the link's flows; they are silent for about that long.
#[test]
fn a_lacp_flap_is_noticed_by_lacps_timeout_alone() {
    let _g = serial();
    let lab = Lab::new("sk", "l");
    let dir = tempfile::tempdir().unwrap();
    let args = ["--flap-kind", "lacp", "--flaps", "1", "--interval", "12s", "--down-ms", "6000"];
    let out = run_bounded(soak(&lab, dir.path(), &args), Duration::from_secs(90));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = read(dir.path());
    assert_eq!(r["settings"]["flap_kind"], "lacp");
    let x = &r["flaps"][0];
    let outage = f(&x["outage_ms"]);
    assert!((800.0..3600.0).contains(&outage), "the flows of the link are silent until LACP gives up: {x}");
    assert!(f(&x["total_outage_ms"]) < 500.0, "the other link carried on: {x}");
    let during = shares(&x["during"]["links"]);
    assert!(during[0] < 40.0, "the link stopped carrying once LACP gave up on it: {x}");
    assert!(lab.gone());
}

/// The samples of a node_exporter textfile (Prometheus text format 0.0.4), checked as its
/// parser checks them: every line a HELP, a TYPE or a sample `name{labels} value`, a family's
/// HELP and TYPE before its samples, names valid. Returns (name, labels text, value).
fn prometheus_samples(text: &str) -> Vec<(String, String, f64)> {
    let valid = |n: &str| {
        !n.is_empty()
            && !n.starts_with(|c: char| c.is_ascii_digit())
            && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    let (mut help, mut typed, mut out) = (Vec::new(), Vec::new(), Vec::new());
    assert!(text.ends_with('\n'), "{text}");
    for line in text.lines() {
        let words: Vec<&str> = line.splitn(4, ' ').collect();
        match words[..] {
            ["#", "HELP", name, _] => help.push(name.to_string()),
            ["#", "TYPE", name, kind] => {
                assert!(["gauge", "counter"].contains(&kind), "{line}");
                typed.push(name.to_string())
            }
            _ => {
                let (head, v) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
                let (name, labels) = head.split_once('{').unwrap_or((head, "}"));
                assert!(valid(name) && name.starts_with("vflag_soak_"), "{line}");
                assert!(labels.ends_with('}') && labels.starts_with("soak=\""), "{line}");
                assert!(help.iter().any(|h| h == name) && typed.iter().any(|t| t == name), "HELP/TYPE first: {line}");
                out.push((name.to_string(), labels.trim_end_matches('}').to_string(), v.parse().unwrap()));
            }
        }
    }
    out
}

fn metric(samples: &[(String, String, f64)], name: &str, label: &str) -> Option<f64> {
    samples.iter().find(|(n, l, _)| n == name && l.contains(label)).map(|s| s.2)
}

/// `--metrics`: the file exists before traffic, is rewritten whole while the soak runs (rates
/// per member and link, flaps done, outages, loss) and says finished and the verdict at the end.
#[test]
fn metrics_file_follows_the_soak_live_and_ends_with_the_verdict() {
    let _g = serial();
    let lab = Lab::new("sk", "m");
    let dir = tempfile::tempdir().unwrap();
    let prom = dir.path().join("textfile").join("vflag.prom");
    // A directory that is not there: one line naming the file, before anything starts.
    let prom_arg = prom.display().to_string();
    let out = run_bounded(soak(&lab, &dir.path().join("out"), &["--metrics", &prom_arg]), Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr)
        .starts_with(&format!("vflag-ctl: error: --metrics {prom_arg}: cannot create")));
    assert!(lab.gone() && !dir.path().join("out").join("rx.log").exists(), "nothing started");

    std::fs::create_dir(prom.parent().unwrap()).unwrap();
    let args = ["--bond", "xor", "--flaps", "2", "--interval", "2500ms", "--down-ms", "300", "--metrics", &prom_arg];
    let mut child =
        soak(&lab, &dir.path().join("out"), &args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (mut seen, mut during) = (String::new(), None);
    let t0 = Instant::now();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if line.starts_with("receiver: ") {
            // Created before the receiver started.
            assert!(prom.exists(), "{seen}");
        }
        if line.contains("flap 2/2:") && line.contains(" down ") {
            // Read while the soak runs: rewritten each second, so after flap 1 ended (2 s ago).
            during = Some(std::fs::read_to_string(&prom).unwrap());
        }
        seen.push_str(&line);
        seen.push('\n');
        assert!(t0.elapsed() < Duration::from_secs(60), "{seen}");
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{seen}");
    let during = during.unwrap_or_else(|| panic!("flap 2 never went down:\n{seen}"));
    let s = prometheus_samples(&during);
    let (m0, m1) = (format!("member=\"{}\"", lab.host[0]), format!("member=\"{}\"", lab.host[1]));
    assert_eq!(metric(&s, "vflag_soak_up", ""), Some(1.0), "{during}");
    assert_eq!(metric(&s, "vflag_soak_finished", ""), Some(0.0), "{during}");
    assert_eq!(metric(&s, "vflag_soak_flaps_done", ""), Some(1.0), "{during}");
    assert_eq!(metric(&s, "vflag_soak_flaps_planned", ""), Some(2.0), "{during}");
    assert!(metric(&s, "vflag_soak_rx_pps", "").unwrap() > 5_000.0, "{during}");
    assert!(
        metric(&s, "vflag_soak_member_rx_pps", &m0).is_some() && metric(&s, "vflag_soak_member_rx_pps", &m1).is_some(),
        "{during}"
    );
    assert!(metric(&s, "vflag_soak_tracked_received_total", "").unwrap() > 10_000.0, "{during}");
    assert!(metric(&s, "vflag_soak_pass", "").is_none(), "no verdict while running: {during}");
    let after = std::fs::read_to_string(&prom).unwrap();
    let s = prometheus_samples(&after);
    assert_eq!(metric(&s, "vflag_soak_up", ""), Some(0.0), "{after}");
    assert_eq!(metric(&s, "vflag_soak_finished", ""), Some(1.0), "{after}");
    assert_eq!(metric(&s, "vflag_soak_pass", ""), Some(1.0), "{after}");
    assert_eq!(metric(&s, "vflag_soak_flaps_done", ""), Some(2.0), "{after}");
    // The figures agree with the report's.
    let r = read(&dir.path().join("out"));
    let lost = r["totals"]["tracked"]["lost"].as_u64().unwrap() as f64;
    assert!((metric(&s, "vflag_soak_tracked_lost_total", "").unwrap() - lost).abs() <= lost * 0.05 + 50.0, "{after}");
    let left: Vec<_> = std::fs::read_dir(prom.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["vflag.prom"], "no temporary file left beside it");
    assert!(lab.gone());
}

/// A vflag-dp that, started as the soak's receiver, first fails `fail` times as DPDK's
/// af_packet driver does when another process holds its fanout group id, then runs. Written
/// into `dir` with the count of its failures.
fn losing_the_fanout_race(dir: &Path, fail: usize) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).unwrap();
    let script = dir.join("vflag-dp");
    let count = dir.join("failures");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n\
             case \" $* \" in *rx.json*)\n\
               n=$(cat {count} 2>/dev/null || echo 0)\n\
               if [ \"$n\" -lt {fail} ]; then\n\
                 echo $((n + 1)) > {count}\n\
                 echo 'af_packet: could not set PACKET_FANOUT on AF_PACKET socket for pa1: Invalid argument' >&2\n\
                 exit 1\n\
               fi;;\n\
             esac\n\
             exec {real} \"$@\"\n",
            count = count.display(),
            real = vflag_dp().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

#[test]
fn a_receiver_that_loses_the_fanout_race_is_started_again_twice_at_most() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let args = ["--bond", "xor", "--flaps", "1", "--interval", "3s", "--down-ms", "300"];
    let again = "holds its af_packet fanout group id; starting it again";
    // Lost once: started again, and the soak runs as any other.
    let lab = Lab::new("sk", "r");
    let once = losing_the_fanout_race(&dir.path().join("once"), 1);
    let out = dir.path().join("out-once");
    let got = run_bounded(soak_with(&once, &lab, &out, &args), Duration::from_secs(60));
    assert_eq!(got.status.code(), Some(0), "{}", text(&got));
    assert_eq!(text(&got).matches(again).count(), 1, "{}", text(&got));
    check_common(&read(&out), &out, 1);
    assert!(lab.gone());
    drop(lab);
    // Lost every time: after three starts, an error with the driver's line.
    let lab = Lab::new("sk", "r");
    let always = losing_the_fanout_race(&dir.path().join("always"), 9);
    let got = run_bounded(soak_with(&always, &lab, &dir.path().join("out-always"), &args), Duration::from_secs(60));
    assert_eq!(got.status.code(), Some(1), "{}", text(&got));
    assert_eq!(text(&got).matches(again).count(), 2, "{}", text(&got));
    assert!(text(&got).contains("could not set PACKET_FANOUT"), "{}", text(&got));
    assert_eq!(std::fs::read_to_string(dir.path().join("always/failures")).unwrap().trim(), "3");
    assert!(lab.gone());
}
