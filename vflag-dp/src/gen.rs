//! Frame generation for `txonly` and `gen`: per-flow header templates written whole into each
//! frame, then (for `gen`) the tracked payload's sequence number and TX TSC. Optional pacing
//! against the TSC. Built before the lcores start; nothing here allocates per frame.

use std::net::Ipv4Addr;

use serde::Serialize;

use crate::frame::{self, FlowAddrs, TEMPLATE_HLEN};
use crate::{parse, payload};

/// Bytes every frame of a flow starts with: headers plus the fixed part of the payload.
const FIXED_LEN: usize = TEMPLATE_HLEN + 8;

/// What to generate, for the whole run.
#[derive(Debug, Clone)]
pub struct GenSpec {
    pub base: FlowAddrs,
    pub frame_len: u16,
    /// None: plain txonly frames (no payload, one flow).
    pub run_id: Option<u16>,
}

/// The generator's part of the settings (`--dst-mac` ... `--rate`; in the report's `settings`
/// under these names). Each lane's [`GenSpec`] is made from it.
#[derive(Debug, Clone, Serialize)]
pub struct GenOptions {
    #[serde(serialize_with = "parse::ser_opt_mac")]
    pub dst_mac: Option<[u8; 6]>,
    #[serde(serialize_with = "parse::ser_opt_mac")]
    pub src_mac: Option<[u8; 6]>,
    pub src_ip: Ipv4Addr,
    pub dst_ip: Ipv4Addr,
    pub flows: u16,
    pub rate: Option<parse::Rate>,
}

impl GenOptions {
    /// The --rate in frames per second for the whole run, for frames of `pkt_size` bytes (None:
    /// as fast as possible).
    pub fn rate_pps(&self, pkt_size: u16) -> Option<f64> {
        self.rate.map(|r| match r {
            parse::Rate::Pps(p) => p,
            parse::Rate::Bps(b) => bps_to_pps(b, pkt_size),
        })
    }
}

/// Flow `i`'s addresses: the source IP steps with the flow. Every LAG hash that reads L3
/// (DPDK's and Linux's l23 and l34) and RSS then spread the flows. Stepping the UDP port in
/// lockstep too would cancel out in XOR-folding hashes (seen: all 16 flows on one member).
pub fn flow_addrs(base: &FlowAddrs, i: u16) -> FlowAddrs {
    let ip = u32::from_be_bytes(base.src_ip).wrapping_add(u32::from(i));
    FlowAddrs { src_ip: ip.to_be_bytes(), ..*base }
}

struct FlowGen {
    fixed: [u8; FIXED_LEN],
    seq: u64,
}

/// Paces a lane to a rate: how many frames may go by now.
#[derive(Debug, Clone)]
pub struct Pacer {
    start_tsc: u64,
    per_tick: f64,
    sent: u64,
}

impl Pacer {
    pub fn new(pps: f64, tsc_hz: u64, start_tsc: u64) -> Self {
        Pacer { start_tsc, per_tick: pps / tsc_hz.max(1) as f64, sent: 0 }
    }

    /// Frames due at `now`, at most `max`; the caller then reports what it sent.
    #[inline]
    pub fn due(&self, now: u64, max: u16) -> u16 {
        let owed = (now.saturating_sub(self.start_tsc) as f64 * self.per_tick) as u64;
        owed.saturating_sub(self.sent).min(u64::from(max)) as u16
    }

    #[inline]
    pub fn sent(&mut self, n: u64) {
        self.sent += n;
    }
}

/// One stream's generator: its flows, whose turn is next, and its pacer.
pub struct GenLane {
    flows: Vec<FlowGen>,
    next: usize,
    tracked: bool,
    hdr_len: usize,
    pub pacer: Option<Pacer>,
}

impl GenLane {
    /// A lane sending the flows `flow_ids` of `spec`.
    pub fn new(spec: &GenSpec, flow_ids: &[u16], pacer: Option<Pacer>) -> Self {
        let flows = flow_ids
            .iter()
            .map(|&i| {
                let mut fixed = [0u8; FIXED_LEN];
                let a = flow_addrs(&spec.base, i);
                fixed[..TEMPLATE_HLEN].copy_from_slice(&frame::udp_template(&a, spec.frame_len));
                if let Some(run) = spec.run_id {
                    payload::write_fixed(&mut fixed[TEMPLATE_HLEN..], run, i);
                }
                FlowGen { fixed, seq: 0 }
            })
            .collect();
        let tracked = spec.run_id.is_some();
        GenLane { flows, next: 0, tracked, hdr_len: if tracked { FIXED_LEN } else { TEMPLATE_HLEN }, pacer }
    }

    #[cfg(test)]
    pub fn flow_count(&self) -> usize {
        self.flows.len()
    }

    /// Writes the next flow's frame into `f` (which holds at least the frame length).
    #[inline]
    pub fn fill(&mut self, f: &mut [u8], tsc: u64) {
        let n = self.flows.len();
        if n == 0 {
            return;
        }
        let flow = &mut self.flows[self.next];
        self.next = if self.next + 1 == n { 0 } else { self.next + 1 };
        if let Some(dst) = f.get_mut(..self.hdr_len) {
            dst.copy_from_slice(&flow.fixed[..self.hdr_len]);
        }
        if self.tracked {
            if let Some(p) = f.get_mut(TEMPLATE_HLEN..) {
                payload::write_seq_tsc(p, flow.seq, tsc);
            }
            flow.seq += 1;
        }
    }
}

/// Flow ids of lane `lane` of `lanes`: flows are dealt round-robin, so each flow has one writer.
pub fn lane_flows(flows: u16, lane: usize, lanes: usize) -> Vec<u16> {
    (0..flows).filter(|f| usize::from(*f) % lanes.max(1) == lane).collect()
}

/// Frames per second for a rate in bits per second, counting the wire's per-frame overhead
/// (FCS 4, preamble 8, inter-frame gap 12 bytes), as line-rate generators do.
pub fn bps_to_pps(bps: f64, frame_len: u16) -> f64 {
    bps / ((f64::from(frame_len) + 24.0) * 8.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::{classify, Class};

    fn spec(run: Option<u16>) -> GenSpec {
        GenSpec { base: FlowAddrs { sport: 1024, ..Default::default() }, frame_len: 64, run_id: run }
    }

    #[test]
    fn flows_differ_in_source_ip() {
        let base = FlowAddrs { sport: 1024, ..Default::default() };
        let a = flow_addrs(&base, 0);
        let b = flow_addrs(&base, 300);
        assert_eq!((a.src_ip, a.sport), ([198, 18, 0, 1], 1024));
        assert_eq!((b.src_ip, b.sport), ([198, 18, 1, 45], 1024));
        assert_eq!(b.dst_ip, base.dst_ip);
    }

    /// DPDK's balance-xor l34 hash (src^dst IP, XOR src^dst port, folded) over 2 members must
    /// put half the flows on each.
    #[test]
    fn flows_spread_under_an_xor_folding_lag_hash() {
        let base = FlowAddrs { sport: 1024, ..Default::default() };
        let on_member_1 = (0..16u16)
            .filter(|&i| {
                let a = flow_addrs(&base, i);
                let l3 = u32::from_be_bytes(a.src_ip) ^ u32::from_be_bytes(a.dst_ip);
                let l4 = u32::from(a.sport ^ a.dport);
                let mut h = l3 ^ l4;
                h ^= h >> 16;
                h ^= h >> 8;
                h % 2 == 1
            })
            .count();
        assert_eq!(on_member_1, 8);
    }

    #[test]
    fn tracked_frames_carry_flow_and_sequence() {
        let mut lane = GenLane::new(&spec(Some(77)), &lane_flows(4, 1, 2), None);
        assert_eq!(lane.flow_count(), 2);
        let mut seen = Vec::new();
        for tsc in 0..6u64 {
            let mut f = [0u8; 64];
            lane.fill(&mut f, 1000 + tsc);
            let Class::Ipv4 { tuple, udp_payload } = classify(&f).class else { panic!() };
            let t = payload::read(udp_payload.unwrap()).unwrap();
            assert_eq!(t.run_id, 77);
            assert_eq!(tuple.src[3], 1 + t.flow_id as u8);
            assert_eq!(t.tx_tsc, 1000 + tsc);
            seen.push((t.flow_id, t.seq));
        }
        assert_eq!(seen, vec![(1, 0), (3, 0), (1, 1), (3, 1), (1, 2), (3, 2)]);
    }

    #[test]
    fn plain_frames_have_no_payload_written() {
        let mut lane = GenLane::new(&spec(None), &[0], None);
        let mut f = [0xeeu8; 64];
        lane.fill(&mut f, 5);
        assert!(f[TEMPLATE_HLEN..].iter().all(|&b| b == 0xee));
        let Class::Ipv4 { udp_payload, .. } = classify(&f).class else { panic!() };
        assert_eq!(payload::read(udp_payload.unwrap()), None);
    }

    #[test]
    fn pacer_releases_frames_at_the_rate() {
        let mut p = Pacer::new(1000.0, 1_000_000, 0); // 1000 fps, 1 MHz clock
        assert_eq!(p.due(0, 32), 0);
        assert_eq!(p.due(10_000, 32), 10, "10 ms: 10 frames");
        p.sent(10);
        assert_eq!(p.due(10_000, 32), 0);
        assert_eq!(p.due(1_000_000, 32), 32, "capped at a burst");
    }

    #[test]
    fn flows_are_dealt_to_lanes() {
        assert_eq!(lane_flows(5, 0, 2), vec![0, 2, 4]);
        assert_eq!(lane_flows(5, 1, 2), vec![1, 3]);
        assert_eq!(lane_flows(3, 0, 1), vec![0, 1, 2]);
    }

    #[test]
    fn bit_rates_count_wire_overhead() {
        // 10 Gbps of 64-byte frames is the classic 14.88 Mpps.
        assert!((bps_to_pps(10e9, 60) / 1e6 - 14.88).abs() < 0.01);
    }
}
