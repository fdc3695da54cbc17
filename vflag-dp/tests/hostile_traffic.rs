//! Traffic made to fool the receiver's verdict, replayed through a real driver (`net_pcap`
//! reading a capture written here): a stray frame of another run arriving first, a forged
//! sequence number, and a run id the receiver is told to track that is hardly there.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use vflag_dp::frame::FlowAddrs;
use vflag_dp::gen::{GenLane, GenSpec};

/// `n` frames of run `run` over `flows` flows, as the generator makes them.
fn frames(run: u16, flows: u16, n: usize) -> Vec<Vec<u8>> {
    let spec = GenSpec { base: FlowAddrs::default(), frame_len: 64, run_id: Some(run) };
    let ids: Vec<u16> = (0..flows).collect();
    let mut lane = GenLane::new(&spec, &ids, None);
    (0..n)
        .map(|i| {
            let mut f = vec![0u8; 64];
            lane.fill(&mut f, 1_000 + i as u64);
            f
        })
        .collect()
}

/// A classic pcap file (microsecond timestamps, Ethernet).
fn write_pcap(path: &Path, frames: &[Vec<u8>]) {
    let mut b = Vec::new();
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65_535, 1] {
        if v == 0x0004_0002 {
            b.extend_from_slice(&2u16.to_le_bytes());
            b.extend_from_slice(&4u16.to_le_bytes());
        } else {
            b.extend_from_slice(&v.to_le_bytes());
        }
    }
    for (i, f) in frames.iter().enumerate() {
        for v in [1 + i as u32 / 1_000_000, i as u32 % 1_000_000, f.len() as u32, f.len() as u32] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(f);
    }
    std::fs::write(path, b).unwrap();
}

/// 1 frame of run 7, then run 9's 1000 frames with one forged sequence number among them.
fn hostile_capture(path: &Path) {
    let mut all = frames(7, 1, 1);
    let real = frames(9, 4, 1000);
    let mut forged = real[500].clone();
    // The payload's 48-bit sequence number (after Ethernet, IPv4 and UDP, 8 bytes in).
    forged[42 + 8..42 + 14].copy_from_slice(&[0xff; 6]);
    all.extend_from_slice(&real[..500]);
    all.push(forged);
    all.extend_from_slice(&real[500..]);
    write_pcap(path, &all);
}

fn receive(pcap: &Path, json: &Path, prefix: &str, extra: &[&str]) -> std::process::Output {
    let vdev = format!("net_pcap0,rx_pcap={},tx_pcap=/dev/null", pcap.display());
    let mut a = args(&["--lcores", "0-1", "--vdev", &vdev, "--fwd", "rxonly", "--duration", "2"]);
    a.extend(eal_light(prefix));
    a.extend(args(&["--json", json.to_str().unwrap()]));
    a.extend(args(extra));
    run_bounded(vflag(&a), Duration::from_secs(30))
}

#[test]
fn a_stray_first_frame_and_a_forged_sequence_do_not_fool_the_verdict() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let (pcap, json) = (tmp_path(&dir, "hostile.pcap"), tmp_path(&dir, "r.json"));
    hostile_capture(&pcap);
    let out = receive(&pcap, &json, &unique("hs"), &["--max-loss", "0"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let a = &read_json(&json)["analysis"];
    assert_eq!(a["run_id"], 9, "the run most frames belong to");
    // The stray frame, and run 9's frames of the burst in which it won, are another run's.
    let (tracked, other) = (u(&a["frames"]["tracked"]), u(&a["frames"]["other_run"]));
    assert_eq!(tracked + other, 1002, "{a}");
    assert!((2..=1 + 512).contains(&other), "at most the stray frame and one burst: {a}");
    let t = &a["tracked"];
    assert_eq!((u(&t["received"]), u(&t["lost"]), u(&t["stale"])), (tracked - 1, 0, 1), "{t}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("Tracked (run 9): {} received, 0 lost", tracked - 1)), "{stdout}");
    let not_tracked = format!("Not tracked: {other} of another run, 0 of flows beyond --track-flows; 1 stale");
    assert!(stdout.contains(&not_tracked), "{stdout}");
}

#[test]
fn a_loss_limit_over_a_run_that_is_hardly_there_fails_with_the_reason() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let (pcap, json) = (tmp_path(&dir, "hostile.pcap"), tmp_path(&dir, "r.json"));
    hostile_capture(&pcap);
    let out = receive(&pcap, &json, &unique("hr"), &["--max-loss", "0", "--run-id", "7"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "FAIL: --max-loss 0: only 1 of 1002 vflag-dp frames were tracked (1001 of another run, 0 of flows \
             beyond --track-flows); the loss figure covers too little to judge"
        ),
        "{stderr}"
    );
    let r = read_json(&json);
    assert_eq!(r["analysis"]["run_id"], 7);
    assert_eq!(r["verdict"]["pass"], false);
}
