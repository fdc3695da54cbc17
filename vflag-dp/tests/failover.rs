//! Failover and load-balance measurement end to end: tracked traffic from `--fwd gen` into the
//! analysing receiver over memif, a real link flap on a veth pair (af_packet), an outage found
//! in foreign traffic from dpdk-testpmd, a DPDK bond spreading flows over two members, and the
//! verdict's exit code 3.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Frames a generator produced: sent, plus refused by the driver (their sequence numbers were
/// used, so the receiver sees them as lost).
fn generated(report: &serde_json::Value) -> u64 {
    report["streams"].as_array().unwrap().iter().map(|s| u(&s["tx_packets"]) + u(&s["tx_dropped"])).sum()
}

#[test]
fn tracked_traffic_over_memif_arrives_whole() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let sock = tmp_path(&dir, "t.sock");
    let (rx_json, tx_json, xml) = (tmp_path(&dir, "rx.json"), tmp_path(&dir, "tx.json"), tmp_path(&dir, "rx.xml"));
    let mut rx = args(&["--lcores", "0-1", "--count", "200000", "--duration", "30", "--vdev"]);
    rx.push(format!("net_memif0,role=server,socket={}", sock.display()));
    rx.extend(eal_light(&unique("trx")));
    rx.extend(args(&["--max-loss", "0", "--json", rx_json.to_str().unwrap(), "--junit", xml.to_str().unwrap()]));
    let rx_child = vflag(&rx).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let mut tx = args(&["--lcores", PEER_LCORES, "--fwd", "gen", "--flows", "16", "--count", "200000"]);
    tx.extend(args(&["--dst-mac", "52:54:00:00:00:01", "--duration", "6", "--vdev"]));
    tx.push(format!("net_memif0,role=client,socket={}", sock.display()));
    tx.extend(eal_light(&unique("ttx")));
    tx.extend(args(&["--json", tx_json.to_str().unwrap()]));
    let tx_child = vflag(&tx).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let rx_out = wait_bounded(rx_child, Duration::from_secs(40));
    let tx_out = wait_bounded(tx_child, Duration::from_secs(40));
    assert_eq!(rx_out.status.code(), Some(0), "{}", text(&rx_out));
    assert_eq!(tx_out.status.code(), Some(0), "{}", text(&tx_out));

    let (r, t) = (read_json(&rx_json), read_json(&tx_json));
    assert_eq!(u(&t["totals"]["tx_packets"]), 200_000);
    assert_eq!(t["generator"]["flows"], 16);
    let a = &r["analysis"];
    assert_eq!(a["run_id"], t["generator"]["run_id"], "the receiver tracked this generator's run");
    assert_eq!(u(&a["tracked"]["received"]), 200_000);
    for k in ["lost", "reordered", "duplicates", "stale"] {
        assert_eq!(u(&a["tracked"][k]), 0, "{k}: {a}");
    }
    let flows = a["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 16);
    assert!(flows.iter().all(|fl| u(&fl["received"]) == 12_500), "flows share the count evenly");
    assert_eq!(u(&a["frames"]["foreign"]), 0);
    assert_eq!(u(&a["latency_ns"]["count"]), 200_000);
    assert!(u(&a["latency_ns"]["p50"]) > 0);
    assert_eq!(r["verdict"]["pass"], true);
    assert_eq!(junit::schema::cases(&xml), [("max loss 0 frames".to_string(), "passed", String::new())]);
}

/// A real flap: the switch-side end of a veth pair goes down for 300 ms under tracked traffic.
#[test]
fn a_link_flap_is_one_outage_with_its_loss_and_link_events() {
    let _g = serial();
    let ns = VethNs::new("flap");
    let dir = tempfile::tempdir().unwrap();
    let (rx_json, tx_json, ev) = (tmp_path(&dir, "rx.json"), tmp_path(&dir, "tx.json"), tmp_path(&dir, "e.jsonl"));
    let xml = tmp_path(&dir, "rx.xml");
    let mut rx = args(&["--lcores", "0-1", "--vdev", "net_af_packet0,iface=vb", "--duration", "6", "--gap-ms", "50"]);
    rx.extend(eal_light(&unique("frx")).into_iter().filter(|a| a != "--stats-interval" && a != "0"));
    rx.extend(args(&["--stats-interval", "500ms", "--max-outage-ms", "50", "--json", rx_json.to_str().unwrap()]));
    rx.extend(args(&["--events", ev.to_str().unwrap(), "--max-loss", "100%", "--junit", xml.to_str().unwrap()]));
    let rx_child = ns.vflag(&rx).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    let mut tx = args(&["--lcores", PEER_LCORES, "--fwd", "gen", "--flows", "16", "--rate", "20000"]);
    tx.extend(args(&["--duration", "3.5", "--vdev", "net_af_packet0,iface=va"]));
    tx.extend(eal_light(&unique("ftx")));
    tx.extend(args(&["--json", tx_json.to_str().unwrap()]));
    let tx_child = ns.vflag_peer(&tx).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1800));
    ns.set_link("va", false);
    std::thread::sleep(Duration::from_millis(300));
    ns.set_link("va", true);
    let tx_out = wait_bounded(tx_child, Duration::from_secs(30));
    let rx_out = wait_bounded(rx_child, Duration::from_secs(30));
    assert_eq!(tx_out.status.code(), Some(0), "{}", text(&tx_out));
    // The 300 ms outage breaks --max-outage-ms 50: exit 3, and one line says so.
    assert_eq!(rx_out.status.code(), Some(3), "{}", text(&rx_out));
    let stderr = String::from_utf8_lossy(&rx_out.stderr);
    let fails: Vec<&str> = stderr.lines().filter(|l| l.starts_with("vflag-dp: FAIL: ")).collect();
    assert_eq!(fails.len(), 1, "{}", text(&rx_out));
    assert!(fails[0].contains("exceeds --max-outage-ms 50"), "{}", text(&rx_out));

    let (r, t) = (read_json(&rx_json), read_json(&tx_json));
    let outages = r["outages"].as_array().unwrap();
    // The flap's, and the silence after the generator stopped (3.5 s of the receiver's 6):
    // still open at the end, reported as such and not judged.
    assert_eq!(outages.len(), 2, "{}", text(&rx_out));
    let (o, last) = (&outages[0], &outages[1]);
    assert_eq!((o["open"].as_bool(), last["open"].as_bool()), (Some(false), Some(true)), "{last}");
    assert!(f(&last["duration_ms"]) > 1000.0 && f(&last["end_s"]) > 5.0, "{last}");
    let ms = f(&o["duration_ms"]);
    assert!((200.0..1000.0).contains(&ms), "outage of {ms} ms for a 300 ms flap");
    let a = &r["analysis"]["tracked"];
    let lost = u(&a["lost"]);
    assert!(lost > 0);
    assert_eq!(lost, generated(&t) - u(&a["received"]), "lost = generated - received");
    assert_eq!(u(&o["lost"]), lost, "the loss belongs to the outage");
    assert!(f(&o["loss_derived_ms"]) > 100.0, "{o}");
    // The figures, for whoever runs this with --nocapture.
    eprintln!(
        "300 ms flap: outage {ms:.1} ms, {lost} of {} frames lost, loss-derived outage {:.1} ms",
        generated(&t),
        f(&o["loss_derived_ms"])
    );
    // The link going down and up was seen, timestamped, and matched to the outage.
    let links = r["link_events"].as_array().unwrap();
    assert!(links.iter().any(|e| e["up"] == false) && links.iter().any(|e| e["up"] == true), "{links:?}");
    assert!(!o["link_events"].as_array().unwrap().is_empty(), "{o}");
    assert_eq!(r["verdict"]["pass"], false);
    // One testcase per threshold: the outage one failed with the line stderr had.
    let cases = junit::schema::cases(&xml);
    let want = fails[0].strip_prefix("vflag-dp: FAIL: ").unwrap().to_string();
    assert_eq!(
        cases,
        [("max outage 50 ms".to_string(), "failure", want), ("max loss 100%".to_string(), "passed", String::new())]
    );
    // The event log has the outage and link events as they happened, every line as the
    // contract reads it (what vflag-ctl soak follows).
    let log = std::fs::read_to_string(&ev).unwrap();
    let kinds: Vec<String> = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["event"].as_str().unwrap().to_string())
        .collect();
    for k in ["start", "link", "outage", "sample", "end"] {
        assert!(kinds.iter().any(|x| x == k), "no {k} event in {kinds:?}");
    }
    for line in log.lines() {
        vflag_contract::events::parse_line(line).unwrap();
    }
    let typed = vflag_contract::report::read(&rx_json).unwrap();
    assert_eq!((typed.outages.len(), typed.verdict.pass), (2, false));
    // Each sample's latency covers the tracked frames since the previous one: every frame is
    // in exactly one (the generator stopped seconds before the receiver's last sample), and
    // samples before the generator started have none.
    use vflag_contract::events::What;
    let samples: Vec<_> = log
        .lines()
        .filter_map(|l| match vflag_contract::events::parse_line(l).unwrap().what {
            What::Sample { latency, .. } => Some(latency),
            _ => None,
        })
        .collect();
    assert!(samples[0].is_none(), "no tracked frame 0.5 s in: {:?}", samples[0]);
    let with: Vec<_> = samples.iter().flatten().collect();
    for l in &with {
        assert_eq!(l.hist.iter().map(|b| b[1]).sum::<u64>(), l.frames, "{l:?}");
        assert!(l.hist.windows(2).all(|w| w[0][0] < w[1][0]), "ascending: {l:?}");
        let (p50, p99, max) = (l.p50_ns.unwrap(), l.p99_ns.unwrap(), l.max_ns.unwrap());
        assert!(0 < p50 && p50 <= p99 && p99 <= max && max < 10_000_000_000, "one host, one clock: {l:?}");
        assert_eq!(l.implausible, 0, "{l:?}");
    }
    assert_eq!(with.iter().map(|l| l.frames).sum::<u64>(), u(&a["received"]), "{with:?}");
}

/// Foreign traffic (dpdk-testpmd txonly): an outage is found from the silence alone when
/// testpmd is paused for 300 ms.
#[test]
fn an_outage_in_foreign_traffic_is_found_from_the_gap() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let sock = tmp_path(&dir, "f.sock");
    let json = tmp_path(&dir, "rx.json");
    let mut rx = args(&["--lcores", "0-1", "--duration", "5", "--gap-ms", "50", "--vdev"]);
    rx.push(format!("net_memif0,role=server,socket={}", sock.display()));
    rx.extend(eal_light(&unique("orx")));
    rx.extend(args(&["--json", json.to_str().unwrap()]));
    let rx_child = vflag(&rx).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let tp = std::process::Command::new("dpdk-testpmd")
        .args(["-l", "0,1", "--main-lcore", "1", "--no-pci", "--no-huge", "-m", "256", "--file-prefix"])
        .arg(unique("otp"))
        .arg("--vdev")
        .arg(format!("net_memif0,role=client,socket={}", sock.display()))
        .args(["--", "--forward-mode=txonly", "--total-num-mbufs=8192", "--stats-period", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2000));
    sig(&tp, "STOP");
    std::thread::sleep(Duration::from_millis(300));
    sig(&tp, "CONT");
    let out = wait_bounded(rx_child, Duration::from_secs(30));
    sig(&tp, "KILL");
    let _ = wait_bounded(tp, Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = read_json(&json);
    let a = &r["analysis"];
    assert!(u(&a["frames"]["foreign"]) > 0);
    assert_eq!(u(&a["frames"]["tracked"]), 0);
    assert!(u(&a["foreign_flows"]["count"]) >= 1);
    let outages = r["outages"].as_array().unwrap();
    let paused: Vec<_> = outages.iter().filter(|o| f(&o["duration_ms"]) >= 200.0).collect();
    assert_eq!(paused.len(), 1, "{}", text(&out));
    let ms = f(&paused[0]["duration_ms"]);
    assert!(ms < 1500.0, "outage of {ms} ms for a 300 ms pause");
    assert!(paused[0]["lost"].is_null(), "no loss figure without tracked traffic");
}

/// A DPDK bond (balance-xor, l34) over two veth links on each side: 16 flows spread over both
/// members, shares reported, and --min-member-share passes.
#[test]
fn a_bond_spreads_flows_over_both_members() {
    let _g = serial();
    let ns = VethNs::with_pairs("bond", &[("va0", "vb0"), ("va1", "vb1")]);
    let dir = tempfile::tempdir().unwrap();
    let (rx_json, tx_json) = (tmp_path(&dir, "rx.json"), tmp_path(&dir, "tx.json"));
    let bond = "net_bonding0,mode=2,slave=net_af_packet0,slave=net_af_packet1,xmit_policy=l34";
    let bond = if dpdk_member_key() == "member" { bond.replace("slave=", "member=") } else { bond.to_string() };
    let side = |a: &str, b: &str| args(&["--vdev", a, "--vdev", b, "--vdev", &bond]);
    let mut rx = args(&["--lcores", "0-1", "--duration", "5", "--min-member-share", "20"]);
    rx.extend(side("net_af_packet0,iface=vb0", "net_af_packet1,iface=vb1"));
    rx.extend(eal_light(&unique("brx")));
    rx.extend(args(&["--json", rx_json.to_str().unwrap()]));
    let rx_child = ns.vflag(&rx).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let mut tx =
        args(&["--lcores", PEER_LCORES, "--fwd", "gen", "--flows", "16", "--rate", "20000", "--duration", "3"]);
    tx.extend(side("net_af_packet0,iface=va0", "net_af_packet1,iface=va1"));
    tx.extend(eal_light(&unique("btx")));
    tx.extend(args(&["--json", tx_json.to_str().unwrap()]));
    let tx_out = run_bounded(ns.vflag_peer(&tx), Duration::from_secs(30));
    let rx_out = wait_bounded(rx_child, Duration::from_secs(30));
    assert_eq!(tx_out.status.code(), Some(0), "{}", text(&tx_out));
    assert_eq!(rx_out.status.code(), Some(0), "{}", text(&rx_out));
    let (r, t) = (read_json(&rx_json), read_json(&tx_json));
    assert_eq!(r["ports"].as_array().unwrap().len(), 1, "only the bond is driven");
    assert_eq!(r["ports"][0]["driver"], "net_bonding");
    for (rep, dir) in [(&r, "rx_share_pct"), (&t, "tx_share_pct")] {
        let members = rep["load_balance"]["members"].as_array().unwrap();
        assert_eq!(members.len(), 2);
        for m in members {
            let share = f(&m[dir]);
            assert!((30.0..=70.0).contains(&share), "{dir} {share}: {members:?}");
        }
    }
    assert!(f(&r["load_balance"]["member_fairness_rx"]) > 0.9);
    assert_eq!(u(&r["analysis"]["tracked"]["lost"]), 0);
    assert_eq!(r["analysis"]["flows"].as_array().unwrap().len(), 16);
    assert_eq!(r["verdict"]["pass"], true);
}

/// The bonding devargs key of the DPDK vflag-dp was built against (22.11: slave, 23.11+:
/// member).
fn dpdk_member_key() -> &'static str {
    dpdk::version::BOND_MEMBER_KEY
}

/// A running vflag-dp answers `dpdk-telemetry.py` with its own /vflag/* commands.
#[test]
fn telemetry_answers_while_running() {
    let _g = serial();
    let prefix = unique("tele");
    let dir = tempfile::tempdir().unwrap();
    let json = tmp_path(&dir, "rx.json");
    let mut a = args(&["--lcores", "0-1", "--vdev", "net_null0", "--duration", "4", "--json", json.to_str().unwrap()]);
    a.extend(eal_light(&prefix));
    let child = vflag(&a).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(2000));
    let mut q = std::process::Command::new("dpdk-telemetry.py")
        .args(["-f", &prefix])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = q.stdin.take().unwrap();
        stdin.write_all(b"/vflag/stats\n/vflag/tracking\n/vflag/outages\n").unwrap();
    }
    let answer = wait_bounded(q, Duration::from_secs(10));
    let out = wait_bounded(child, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&answer.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let find =
        |cmd: &str| lines.iter().find_map(|v| v.get(cmd).cloned()).unwrap_or_else(|| panic!("no {cmd}: {lines:?}"));
    let stats = find("/vflag/stats");
    assert_eq!(stats["mode"], "rxonly");
    assert!(u(&stats["port0_rx_packets"]) > 0, "{stats}");
    assert_eq!(u(&stats["port0_link_up"]), 1);
    assert!(find("/vflag/tracking").get("lost").is_some());
    // The outages so far, as the final report has them: net_null never stops sending, so
    // an outage here is the receiver itself descheduled on a loaded host (the count is not
    // this test's to judge), and it can only grow after the query.
    let report = read_json(&json);
    let outages = report["outages"].as_array().unwrap().len() as u64;
    assert!(u(&find("/vflag/outages")["count"]) <= outages, "telemetry ahead of the report: {report}");
}

/// dpdk-testpmd as the switch-side tester (`--txonly-multi-flow`, many foreign flows) on two
/// veth links, one forwarding lcore each (its flows' source addresses carry the lcore id, so
/// each link has flows of its own), into vflag-dp's bond over the two. One link goes down for
/// 600 ms: the receiver finds each of that link's flows silent for about the flap's length,
/// from their pace alone, and the other link's flows untouched.
#[test]
fn a_flap_under_testpmd_traffic_silences_only_the_failed_links_foreign_flows() {
    let _g = serial();
    assert!(have_testpmd(), "dpdk-testpmd is not installed (scripts/setup.sh installs it)");
    let ns = VethNs::with_pairs("tpf", &[("va0", "vb0"), ("va1", "vb1")]);
    let dir = tempfile::tempdir().unwrap();
    let json = tmp_path(&dir, "rx.json");
    let mut rx = args(&["--lcores", "0-1", "--duration", "7", "--gap-ms", "50", "--bond", "xor"]);
    rx.extend(args(&["--vdev", "net_af_packet0,iface=vb0", "--vdev", "net_af_packet1,iface=vb1"]));
    rx.extend(eal_light(&unique("tpfr")));
    rx.extend(args(&["--json", json.to_str().unwrap()]));
    let rx_child = ns.vflag(&rx).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    // Forwarding lcores 0 and 2 share CPU 0, away from the receiver's forwarding lcore.
    let tp = std::process::Command::new("ip")
        .args(["netns", "exec", &ns.peer, "dpdk-testpmd", "--lcores", "0@0,1@1,2@0", "--main-lcore", "1"])
        .args(["--no-pci", "--no-huge", "-m", "256", "--file-prefix"])
        .arg(unique("tpft"))
        .args(["--vdev", "net_af_packet0,iface=va0", "--vdev", "net_af_packet1,iface=va1"])
        .args(["--", "--forward-mode=txonly", "--txonly-multi-flow", "--nb-cores=2", "--total-num-mbufs=16384"])
        .args(["--stats-period", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(3000));
    ns.set_link("va0", false);
    std::thread::sleep(Duration::from_millis(600));
    ns.set_link("va0", true);
    let out = wait_bounded(rx_child, Duration::from_secs(30));
    sig(&tp, "KILL");
    let _ = wait_bounded(tp, Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = read_json(&json);
    let a = &r["analysis"];
    assert_eq!(u(&a["frames"]["tracked"]), 0);
    let flows = u(&a["foreign_flows"]["count"]);
    assert!(flows >= 64, "testpmd's multi-flow traffic from two lcores: {}", a["foreign_flows"]);
    assert_eq!(u(&a["foreign_flows"]["overflow"]), 0);
    let down = r["link_events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["up"] == false)
        .map(|e| f(&e["t_s"]))
        .unwrap_or_else(|| panic!("the member's carrier loss was seen: {}", r["link_events"]));
    let near: Vec<&serde_json::Value> =
        a["flow_outages"].as_array().unwrap().iter().filter(|o| (f(&o["start_s"]) - down).abs() < 0.25).collect();
    assert_eq!(near.len(), 1, "one failover at the flap ({down:.3} s): {}", a["flow_outages"]);
    let o = near[0];
    let hit = u(&o["flows"]);
    eprintln!("600 ms flap under testpmd: {hit} of {flows} foreign flows silent: {o}");
    assert_eq!(u(&o["foreign_flows"]), hit, "{o}");
    // The failed link's flows, half of them; none of the other link's.
    assert_eq!(hit * 2, flows, "{hit} of {flows} flows hit: {o}");
    for k in ["min_ms", "median_ms", "longest_ms"] {
        assert!((450.0..1500.0).contains(&f(&o[k])), "{k} near the 600 ms flap: {o}");
    }
    assert!(u(&o["foreign_lost_est"]) > 0, "{o}");
    assert!((300.0..2000.0).contains(&f(&o["loss_derived_ms"])), "{o}");
    // The other link carried on: all traffic never stopped for long.
    for t in r["outages"].as_array().unwrap().iter().filter(|o| o["open"] == false) {
        assert!(f(&t["duration_ms"]) < 200.0, "no outage of all traffic: {t}");
    }
    assert!(f(&a["resolution"]["ms"]) >= 50.0, "{}", a["resolution"]);
}

/// `--bond` on both sides over two veth links: runs the generator and the receiver against
/// each other and returns (receiver report, generator report).
/// With `flap_at`, the generator side's first link goes down for 300 ms that long after it starts.
fn bond_pair(
    tag: &str,
    mode: &str,
    rx_secs: &str,
    tx_secs: &str,
    flap_at: Option<Duration>,
) -> (serde_json::Value, serde_json::Value) {
    let ns = VethNs::with_pairs(tag, &[("va0", "vb0"), ("va1", "vb1")]);
    let dir = tempfile::tempdir().unwrap();
    let (rx_json, tx_json) = (tmp_path(&dir, "rx.json"), tmp_path(&dir, "tx.json"));
    let mut rx = args(&["--lcores", "0-1", "--duration", rx_secs, "--bond", mode]);
    rx.extend(args(&["--vdev", "net_af_packet0,iface=vb0", "--vdev", "net_af_packet1,iface=vb1"]));
    rx.extend(eal_light(&unique(&format!("{tag}r"))));
    rx.extend(args(&["--json", rx_json.to_str().unwrap()]));
    let rx_child = ns.vflag(&rx).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    let mut tx = args(&["--lcores", PEER_LCORES, "--fwd", "gen", "--flows", "16", "--rate", "20000", "--bond", mode]);
    tx.extend(args(&[
        "--duration",
        tx_secs,
        "--vdev",
        "net_af_packet0,iface=va0",
        "--vdev",
        "net_af_packet1,iface=va1",
    ]));
    tx.extend(eal_light(&unique(&format!("{tag}t"))));
    tx.extend(args(&["--json", tx_json.to_str().unwrap()]));
    let tx_child = ns.vflag_peer(&tx).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    if let Some(at) = flap_at {
        std::thread::sleep(at);
        ns.set_link("va0", false);
        std::thread::sleep(Duration::from_millis(300));
        ns.set_link("va0", true);
    }
    let tx_out = wait_bounded(tx_child, Duration::from_secs(40));
    let rx_out = wait_bounded(rx_child, Duration::from_secs(40));
    assert_eq!(tx_out.status.code(), Some(0), "{}", text(&tx_out));
    assert_eq!(rx_out.status.code(), Some(0), "{}", text(&rx_out));
    (read_json(&rx_json), read_json(&tx_json))
}

fn member_shares(r: &serde_json::Value, key: &str) -> Vec<f64> {
    r["load_balance"]["members"].as_array().unwrap().iter().map(|m| f(&m[key])).collect()
}

/// --bond lacp: LACP converges between the two DPDK bonds (each side keeps both rx and tx
/// bursts going), 16 flows spread over both links, and when one link fails for 300 ms the bond
/// takes the member out (af_packet cannot report carrier; vflag-dp tells the bond) and the
/// other link carries every flow: silences far shorter than the flap, no outage of all traffic.
#[test]
fn bond_lacp_converges_spreads_and_survives_a_member_flap() {
    let _g = serial();
    let (r, t) = bond_pair("lacp", "lacp", "12", "10", Some(Duration::from_secs(6)));
    assert_eq!(r["ports"][0]["driver"], "net_bonding");
    let a = &r["analysis"]["tracked"];
    assert!(u(&a["received"]) > 20_000, "traffic flowed after LACP converged: {a}");
    // 300 ms of the failed link's half of 20 kpps would be ~3000 frames.
    assert!(u(&a["lost"]) < 1500, "the bond failed over instead of black-holing the link: {a}");
    // (The generator stops before the receiver: the silence after it is open, not a failover.)
    for o in r["outages"].as_array().unwrap().iter().filter(|o| o["open"] == false) {
        assert!(f(&o["duration_ms"]) < 150.0, "no long outage of all traffic: {o}");
    }
    for fo in r["analysis"]["flow_outages"].as_array().unwrap() {
        assert!(f(&fo["longest_ms"]) < 200.0, "flows moved to the other link well before the 300 ms flap ended: {fo}");
    }
    let downs: Vec<_> = r["link_events"].as_array().unwrap().iter().filter(|e| e["up"] == false).collect();
    assert_eq!(downs.len(), 1, "the member's carrier loss was seen: {}", r["link_events"]);
    // Over the whole run: the failed member carried nothing while down and while LACP took it
    // back (a few seconds), so the split is uneven but both carried a real part.
    for share in member_shares(&r, "rx_share_pct").into_iter().chain(member_shares(&t, "tx_share_pct")) {
        assert!((15.0..=85.0).contains(&share), "share {share}");
    }
    // Each member took in LACP frames from its peer.
    for m in r["load_balance"]["members"].as_array().unwrap() {
        assert!(u(&m["tx_packets"]) > 0, "LACPDUs sent on {m}");
    }
}

/// --bond active-backup: one link carries everything.
#[test]
fn bond_active_backup_uses_one_link() {
    let _g = serial();
    let (r, _) = bond_pair("ab", "active-backup", "5", "3", None);
    let mut shares = member_shares(&r, "rx_share_pct");
    shares.sort_by(f64::total_cmp);
    assert_eq!(shares, vec![0.0, 100.0]);
    assert!(u(&r["analysis"]["tracked"]["received"]) > 20_000);
}

/// The interface under an af_packet receiver is deleted mid-run: its link reads as down, and the
/// printed line and the event say the interface is gone. The run still ends in order.
#[test]
fn a_deleted_af_packet_interface_is_link_down_and_gone() {
    let _g = serial();
    let ns = VethNs::new("gone");
    let dir = tempfile::tempdir().unwrap();
    let (json, ev) = (tmp_path(&dir, "rx.json"), tmp_path(&dir, "e.jsonl"));
    let mut rx = args(&["--lcores", "0-1", "--vdev", "net_af_packet0,iface=vb", "--duration", "4"]);
    rx.extend(eal_light(&unique("grx")));
    rx.extend(args(&["--json", json.to_str().unwrap(), "--events", ev.to_str().unwrap()]));
    let child = ns.vflag(&rx).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(2000));
    let st = std::process::Command::new("ip").args(["-n", &ns.name, "link", "del", "vb"]).status().unwrap();
    assert!(st.success(), "ip link del vb");
    let out = wait_bounded(child, Duration::from_secs(30));
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("interface vb is gone"), "{all}");
    let r = read_json(&json);
    let links = r["link_events"].as_array().unwrap();
    assert!(links.iter().any(|e| e["port"] == 0 && e["up"] == false), "no link down: {links:?}\n{all}");
    let log = std::fs::read_to_string(&ev).unwrap();
    let gone = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .any(|e| e["event"] == "link" && e["up"] == false && e["gone"] == "vb");
    assert!(gone, "no link event saying vb is gone:\n{log}");
}
