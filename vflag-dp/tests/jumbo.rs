//! Jumbo frames received into chained mbufs by a real driver (issue 19 item 10): vflag-dp's
//! generator sends 9000- and 3000-byte tracked frames over net_af_packet on a veth pair with a
//! 9000-byte MTU; in the receiver's namespace a bridge takes them to a net_tap device, whose
//! driver with --rx-scatter reads each into 2176-byte mbufs: 5 segments for 9000 bytes, 2 for
//! 3000. Every one must count as vflag-dp's own frame, none as malformed.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// EAL and run options of one side, with its own mbuf count.
fn side(prefix: &str, mbufs: &str) -> Vec<String> {
    args(&["--no-huge", "-m", "256", "--mbufs", mbufs, "--file-prefix", prefix, "--stats-interval", "0"])
}

fn link_exists(ns: &str, dev: &str) -> bool {
    Command::new("ip")
        .args(["-n", ns, "link", "show", dev])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn jumbo_frames_in_chained_mbufs_are_tracked_not_malformed() {
    let _g = serial();
    let ns = VethNs::new("jmb");
    let tap = format!("{}t", unique("j"));
    ns.ip(&["-n", &ns.peer, "link", "set", "va", "mtu", "9000"]);
    ns.ip(&["-n", &ns.name, "link", "set", "vb", "mtu", "9000"]);
    let dir = tempfile::tempdir().unwrap();
    let (rx_json, tx_json) = (tmp_path(&dir, "rx.json"), tmp_path(&dir, "tx.json"));

    // The receiver: net_tap, default 2176-byte mbufs (2048 bytes of data in the first segment),
    // rx scatter. --verbose shows each frame's length and segments.
    let mut rx = args(&["--lcores", "0-1", "--vdev", &format!("net_tap0,iface={tap}"), "--rx-scatter", "--verbose"]);
    rx.extend(side(&unique("jrx"), "8192"));
    rx.extend(args(&["--duration", "9", "--json", rx_json.to_str().unwrap()]));
    // Its stdout (a line per frame) to a file: a pipe nobody reads would fill and stop it.
    let rx_log = tmp_path(&dir, "rx.log");
    let log_file = std::fs::File::create(&rx_log).unwrap();
    let rx_child = ns.vflag(&rx).stdout(log_file).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !link_exists(&ns.name, &tap) {
        assert!(Instant::now() < deadline, "{tap} did not appear in {}", ns.name);
        std::thread::sleep(Duration::from_millis(50));
    }
    ns.ip(&["-n", &ns.name, "link", "add", "jbr", "type", "bridge"]);
    ns.ip(&["-n", &ns.name, "link", "set", &tap, "mtu", "9000"]);
    for dev in ["vb", tap.as_str()] {
        ns.ip(&["-n", &ns.name, "link", "set", dev, "master", "jbr"]);
    }
    ns.ip(&["-n", &ns.name, "link", "set", "jbr", "mtu", "9000", "up"]);
    std::thread::sleep(Duration::from_millis(1000));

    // The generator: single-segment frames, so mbufs that hold 9000 bytes, and af_packet frames
    // as large (its receive ring must fit an mbuf too).
    let mut sent = Vec::new();
    for (size, n) in [("9000", 1000u64), ("3000", 1000)] {
        let mut tx = args(&["--lcores", PEER_LCORES, "--fwd", "gen", "--flows", "4", "--pkt-size", size]);
        tx.extend(args(&["--mbuf-size", "10368", "--rate", "20000", "--count", &n.to_string(), "--vdev"]));
        tx.push("net_af_packet0,iface=va,blocksz=20480,framesz=10240,framecnt=256".into());
        tx.extend(side(&unique(&format!("jtx{size}")), "2048"));
        tx.extend(args(&["--json", tx_json.to_str().unwrap()]));
        let out = run_bounded(ns.vflag_peer(&tx), Duration::from_secs(30));
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert_eq!(u(&read_json(&tx_json)["totals"]["tx_packets"]), n, "{}", text(&out));
        sent.push(n);
    }
    let rx_out = wait_bounded(rx_child, Duration::from_secs(30));
    let stdout = std::fs::read_to_string(&rx_log).unwrap();
    let all = format!(
        "{}\nstdout (last lines):\n{}",
        text(&rx_out),
        stdout.lines().rev().take(40).collect::<Vec<_>>().join("\n")
    );
    assert_eq!(rx_out.status.code(), Some(0), "{all}");
    let chained = |len: &str, segs: &str| {
        stdout.lines().filter(|l| l.contains(&format!("length={len} - nb_segs={segs}"))).count() as u64
    };
    let (big, mid) = (chained("9000", "5"), chained("3000", "2"));
    // The kernel may drop a few on the way; most arrive, and arrive chained.
    assert!(big > sent[0] * 9 / 10 && mid > sent[1] * 9 / 10, "9000 x5: {big}, 3000 x2: {mid}\n{all}");

    let r = read_json(&rx_json);
    let frames = &r["analysis"]["frames"];
    assert_eq!(r["ports"][0]["driver"], "net_tap", "{}", r["ports"][0]);
    assert_eq!(u(&frames["malformed"]), 0, "{frames}");
    // The first generator's run is the one tracked; the second's frames are another run's.
    // Either way each is recognised as vflag-dp's own, read from its first segment.
    assert_eq!(u(&frames["tracked"]), big, "{frames}");
    assert_eq!(u(&frames["other_run"]), mid, "{frames}");
    assert_eq!(u(&r["analysis"]["tracked"]["received"]), big);
    // What the port counted in bytes is the frames' whole lengths.
    let bytes = u(&r["ports"][0]["rx_bytes"]);
    let others = u(&r["ports"][0]["rx_packets"]) - big - mid;
    assert!(bytes >= big * 9000 + mid * 3000 && others < 10, "{bytes} bytes, {others} other frames: {}", r["ports"][0]);
}
