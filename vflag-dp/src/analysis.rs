//! The receiver's analysis on one forwarding lcore: every frame is classified; vflag-dp's own
//! frames are tracked per flow (loss, reordering, duplicates, latency), all IPv4 traffic is
//! counted per 5-tuple, and silences become gaps. State is allocated before the lcore starts;
//! the hot path only updates it. Totals are published with plain stores for the main lcore.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use dpdk::mbuf::{Burst, Frame};
use serde::Serialize;
pub use vflag_contract::report::ClassCounts;

use crate::classify::{
    classify_frame, plain_udp_frame, plain_udp_tuple, Class, FiveTuple, HEADERS_MAX, PLAIN_UDP_HLEN,
};
use crate::flowtable::FlowTable;
use crate::frame::{ETHERTYPE_IPV4, ETHERTYPE_QINQ, ETHERTYPE_VLAN};
use crate::lathist::TickHist;
use crate::outage::{FlowGap, FlowRef, Gap, GapDetector};
use crate::payload;
use crate::seqtrack::{FlowSeq, WINDOW};

/// Until this many of vflag-dp's frames have arrived (on this lcore), the run tracked is the
/// one most of them belong to: a stray frame of another run arriving first cannot take over.
pub const ELECTION_FRAMES: u64 = 256;
/// Other runs counted during the election; more than this many at once are not candidates.
const RIVALS: usize = 4;
/// A flow heard from only once has no known rate: a jump beyond this many frames is not
/// believed unless the next frame confirms it.
const MAX_JUMP_UNKNOWN_RATE: u64 = 1 << 20;

/// The payload of vflag-dp's own frame in its usual shape, in a frame whose ethertype the
/// caller found to be IPv4: no options, UDP, not a fragment, an IP length that covers the
/// payload. Word loads and masks, so the common frame costs a handful of compares; whether the
/// payload is ours is left to the caller. (The ethertype is not read again: the caller's test
/// of it is the one that sorts every frame.) `classify::plain_udp` checks the same shape for
/// any IP length, off this path; both are held to `classify` by property tests. `f` is the
/// frame's first segment, `len` the whole frame's length (a jumbo frame in chained mbufs).
#[inline(always)]
fn own_ipv4_payload(f: &[u8], len: usize) -> Option<&[u8; payload::LEN]> {
    const PAYLOAD_AT: usize = crate::frame::TEMPLATE_HLEN;
    const MIN_IP_LEN: usize = 20 + 8 + payload::LEN;
    let h: &[u8; PAYLOAD_AT + payload::LEN] = f.get(..PAYLOAD_AT + payload::LEN)?.try_into().ok()?;
    let be32 = |at: usize| u32::from_be_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
    // Version 4 with a 20-byte header.
    let plain_v4 = h[14] == 0x45;
    // No fragment offset or more-fragments flag (any TTL), protocol UDP.
    let unfragmented_udp = be32(20) & 0x3fff_00ff == 0x0000_0011;
    // The IP length covers the payload and stays within the frame: MIN_IP_LEN <= ip_len <=
    // len - 14, as one unsigned compare (the first segment holds at least 14 + MIN_IP_LEN
    // bytes here, and a driver makes len at least that; wrapping, so one that did not cannot
    // make it panic).
    let ip_len = usize::from(u16::from_be_bytes([h[16], h[17]]));
    let ip_len_fits = ip_len.wrapping_sub(MIN_IP_LEN) <= len.wrapping_sub(14 + MIN_IP_LEN);
    if !(plain_v4 && unfragmented_udp && ip_len_fits) {
        return None;
    }
    h[PAYLOAD_AT..].try_into().ok()
}

/// vflag-dp's own frame in its usual shape, read.
#[cfg(test)]
fn own_frame(f: &[u8]) -> Option<payload::Tracked> {
    if f.get(12..14)? != ETHERTYPE_IPV4.to_be_bytes() {
        return None;
    }
    payload::read(own_ipv4_payload(f, f.len())?)
}

/// Live totals of one lcore's analysis, single writer.
#[derive(Debug, Default)]
#[repr(align(64))]
pub struct LiveAnalysis {
    pub tracked: AtomicU64,
    pub lost: AtomicU64,
    pub reordered: AtomicU64,
    pub duplicates: AtomicU64,
    pub foreign: AtomicU64,
}

/// The receiver's part of the settings (`--no-track` ... `--track-foreign`; in the report's
/// `settings` under these names).
#[derive(Debug, Clone, Serialize)]
pub struct RxOptions {
    /// Analyse received frames (not `--no-track`).
    pub track: bool,
    pub gap_ms: f64,
    pub interleave_ms: Option<u32>,
    /// Width of the rate timeline's bins.
    pub bin_ms: u64,
    pub track_flows: u32,
    pub track_foreign: u32,
}

impl RxOptions {
    /// Each lcore's analysis, in TSC ticks at `tsc_hz`; `run_id`: the run to track from the
    /// start (None: elected from the first frames).
    pub fn analysis_config(&self, tsc_hz: u64, run_id: Option<u16>) -> AnalysisConfig {
        AnalysisConfig {
            track_flows: self.track_flows as usize,
            tuple_capacity: self.track_foreign as usize,
            // Interleaving, the plain slices would be silences to the analysis: no gap is sought.
            gap_tsc: if self.interleave_ms.is_some() { u64::MAX } else { (self.gap_ms * tsc_hz as f64 / 1e3) as u64 },
            // Losses found up to 5 gap lengths (at least 50 ms) after a gap still belong to it.
            attribution_tsc: ((self.gap_ms * 5.0).max(50.0) * tsc_hz as f64 / 1e3) as u64,
            tsc_hz,
            run_id,
        }
    }
}

pub struct AnalysisConfig {
    pub track_flows: usize,
    /// Foreign 5-tuples followed per lcore (`--track-foreign`).
    pub tuple_capacity: usize,
    pub gap_tsc: u64,
    pub attribution_tsc: u64,
    pub tsc_hz: u64,
    /// `--run-id`: track only this run, from the start.
    pub run_id: Option<u16>,
}

/// One tracked flow on one lcore: its sequence, and when it was first and last heard from
/// (per-flow silences show failovers that only some flows see, as when a LAG member fails and
/// the others carry on). What a frame in order touches sits in the first cache line.
#[derive(Debug, Clone, Default)]
#[repr(C, align(64))]
pub struct TrackedFlow {
    last: u64,
    first: u64,
    /// The send stamp of the newest frame placed in the sequence: a frame stamped earlier that
    /// cannot be placed is an old one let out late, not a restarted sender.
    newest_tx: u64,
    pub seq: FlowSeq,
}

/// Flow gaps kept per lcore (reserved up front, so memory is touched only as gaps come; more
/// are counted, not kept). A failover of 65,536 foreign flows takes at most that many.
const MAX_FLOW_GAPS: usize = 1 << 20;

pub struct RxAnalysis {
    pub flows: Vec<TrackedFlow>,
    pub flow_gaps: Vec<FlowGap>,
    pub flow_gaps_dropped: u64,
    gap_tsc: u64,
    pub run_id: Option<u16>,
    /// The run was given (`--run-id`): no election.
    run_fixed: bool,
    /// Other runs' frames while the election is open: (run, frames).
    rivals: [(u16, u64); RIVALS],
    /// The slot of `rivals` whose run outnumbered the tracked one in this burst.
    challenger: Option<usize>,
    pub counts: ClassCounts,
    pub tuples: FlowTable,
    /// One-way latency of tracked frames in TSC ticks (meaningful when both ends share the
    /// host's TSC).
    pub latency: TickHist,
    pub tsc_hz: u64,
    gaps: GapDetector,
    /// The payload head (magic and run id) of this run's frames, once the run is known;
    /// until then a value no head has.
    own_head: u64,
    /// Frames of the current burst sent down the rare paths (which count them in `counts`).
    rare_in_burst: u64,
    pub lost: u64,
    pub reordered: u64,
    pub duplicates: u64,
    pub stale: u64,
    pub resyncs: u64,
}

impl RxAnalysis {
    pub fn new(c: &AnalysisConfig) -> Self {
        let hz = c.tsc_hz.max(1);
        RxAnalysis {
            flows: vec![TrackedFlow::default(); c.track_flows],
            flow_gaps: Vec::with_capacity(MAX_FLOW_GAPS),
            flow_gaps_dropped: 0,
            gap_tsc: c.gap_tsc.max(1),
            run_id: c.run_id,
            run_fixed: c.run_id.is_some(),
            rivals: [(0, 0); RIVALS],
            challenger: None,
            counts: ClassCounts::default(),
            tuples: FlowTable::new(c.tuple_capacity),
            latency: TickHist::default(),
            tsc_hz: hz,
            gaps: GapDetector::new(c.gap_tsc, c.attribution_tsc),
            own_head: c.run_id.map_or(payload::NO_HEAD, payload::head_of),
            rare_in_burst: 0,
            lost: 0,
            reordered: 0,
            duplicates: 0,
            stale: 0,
            resyncs: 0,
        }
    }

    /// Analyses a received burst that arrived at TSC `now`. Returns a gap that just closed.
    #[inline]
    pub fn on_burst(&mut self, now: u64, burst: &mut Burst) -> Option<Gap> {
        self.on_frames(now, burst.frames());
        self.gaps.on_rx(now, self.lost)
    }

    /// Nothing arrived: lets a pending gap close on time.
    #[inline]
    pub fn on_idle(&mut self, now: u64) -> Option<Gap> {
        self.gaps.flush(now, self.lost)
    }

    /// The run ended at `now`: the pending gap, and the silence still running if there is one.
    pub fn finish(&mut self, now: u64) -> [Option<Gap>; 2] {
        self.gaps.finish(now, self.lost)
    }

    /// One frame on its own (tests; the lcores go by bursts).
    #[cfg(test)]
    pub fn on_frame(&mut self, now: u64, f: &[u8]) {
        self.on_frames(now, std::iter::once(f));
    }

    /// Frames that arrived together at `now`. A counter in memory bumped once per frame
    /// makes each frame wait for the previous one's store, and a loop with calls in it keeps
    /// few values in registers across them. So the common own frame in order bumps no
    /// counter: it is what is left of the burst when the non-IP frames (a register) and the
    /// frames sent down the rare paths (counted in memory, off the common path) are taken away.
    /// A frame is its first segment and its whole length: a jumbo frame in chained mbufs is
    /// read from its first segment, where its headers are (gathered first on the rare path when
    /// they are not).
    #[inline]
    pub fn on_frames<'f, F: Into<Frame<'f>>>(&mut self, now: u64, frames: impl ExactSizeIterator<Item = F>) {
        let n = frames.len() as u64;
        self.rare_in_burst = 0;
        let mut non_ip = 0u64;
        for f in frames {
            let f: Frame<'f> = f.into();
            let h = f.head();
            // Most frames are our own: recognise them with a few word compares, without
            // building the 5-tuple. Anything unusual (VLAN, options, fragments) takes the full
            // path.
            // Read here rather than with classify's be16: in this form the compiler compares
            // the raw bytes against byte-swapped constants, two instructions fewer per frame.
            let ethertype = h.get(12..14).map(|e| u16::from_be_bytes([e[0], e[1]]));
            match ethertype {
                Some(ETHERTYPE_IPV4) => match own_ipv4_payload(h, f.len()) {
                    Some(p) if self.on_tracked_in_order(now, &payload::Words::of(p)) => {}
                    Some(p) => {
                        self.rare_in_burst += 1;
                        match payload::read(p) {
                            Some(t) => self.on_tracked_other(now, t),
                            None => self.on_foreign_udp(now, h, f.len()),
                        }
                    }
                    None => {
                        self.rare_in_burst += 1;
                        self.on_other(now, &f);
                    }
                },
                // Untagged and not IPv4 (ARP, LACP, IPv6; a driver's zeroed frames): counted
                // without the full parse.
                Some(e) if e != ETHERTYPE_VLAN && e != ETHERTYPE_QINQ => non_ip += 1,
                _ => {
                    self.rare_in_burst += 1;
                    self.on_other(now, &f);
                }
            }
        }
        self.counts.tracked += n - non_ip - self.rare_in_burst;
        self.counts.non_ip += non_ip;
        if self.challenger.is_some() {
            self.settle_election();
        }
    }

    /// UDP that is not ours, in the shape `own_ipv4_payload` checked (a superset of
    /// `plain_udp`'s): counted by its 5-tuple without parsing the frame again.
    /// `head`: the first segment, which `own_ipv4_payload` found long enough; `len`: the frame's.
    #[inline(never)]
    fn on_foreign_udp(&mut self, now: u64, head: &[u8], len: usize) {
        let Some(h) = head.get(..PLAIN_UDP_HLEN).and_then(|h| h.try_into().ok()) else {
            return self.on_other_bytes(now, head, len);
        };
        self.on_foreign(now, &plain_udp_tuple(h));
    }

    /// A foreign IPv4 frame: counted by its 5-tuple, whose silence, if it ended one, is a
    /// flow gap as a tracked flow's is.
    #[inline(always)]
    fn on_foreign(&mut self, now: u64, tuple: &FiveTuple) {
        self.counts.foreign += 1;
        if let Some(s) = self.tuples.record(tuple, now, self.gap_tsc) {
            self.push_flow_gap(FlowGap {
                flow: FlowRef::Foreign(*tuple),
                start_tsc: s.start_tsc,
                end_tsc: s.end_tsc,
                lost: s.lost_est,
                rate_per_tick: s.rate_per_tick,
            });
        }
    }

    #[cold]
    #[inline(never)]
    fn push_flow_gap(&mut self, gap: FlowGap) {
        if self.flow_gaps.len() < MAX_FLOW_GAPS {
            self.flow_gaps.push(gap);
        } else {
            self.flow_gaps_dropped += 1;
        }
    }

    /// Frames that are not ours in the usual shape. Plain UDP (what a switch-side generator
    /// sends, frame after frame) is read at fixed offsets; anything else is classified in full.
    #[inline(never)]
    fn on_other(&mut self, now: u64, f: &Frame<'_>) {
        if f.is_segmented() && f.head().len() < HEADERS_MAX {
            return self.on_split_headers(now, f);
        }
        self.on_other_bytes(now, f.head(), f.len());
    }

    /// A chained frame whose first segment is too short for every header it may have (a
    /// driver that splits headers from payload; no usual mbuf size does this): its start is
    /// gathered across segments into a buffer on the stack, then read as any other.
    #[cold]
    #[inline(never)]
    fn on_split_headers(&mut self, now: u64, f: &Frame<'_>) {
        let mut buf = [0u8; HEADERS_MAX];
        let head = f.gather(&mut buf);
        self.on_other_bytes(now, head, f.len());
    }

    /// [`Self::on_other`] of a frame of `len` bytes whose headers are in `head`.
    fn on_other_bytes(&mut self, now: u64, head: &[u8], len: usize) {
        if let Some((tuple, udp_payload)) = plain_udp_frame(head, len) {
            return self.on_ipv4(now, tuple, Some(udp_payload));
        }
        let c = classify_frame(head, len);
        self.counts.vlan += u64::from(c.vlan);
        match c.class {
            Class::Short => self.counts.short += 1,
            Class::NonIp(_) => self.counts.non_ip += 1,
            Class::Malformed => self.counts.malformed += 1,
            Class::Ipv4 { tuple, udp_payload } => self.on_ipv4(now, tuple, udp_payload),
        }
    }

    /// An IPv4 frame: tracked if its UDP payload is one of ours, else counted by 5-tuple.
    #[inline]
    fn on_ipv4(&mut self, now: u64, tuple: FiveTuple, udp_payload: Option<&[u8]>) {
        match udp_payload.and_then(payload::read) {
            Some(t) => self.on_tracked_other(now, t),
            None => self.on_foreign(now, &tuple),
        }
    }

    /// The common tracked frame (this run, a tracked flow, the next in sequence with no loss
    /// pending, the flow not silent): taken here, inline, and true; anything else is left to
    /// [`Self::on_tracked_other`]. The magic and the run id are one compare.
    #[inline(always)]
    fn on_tracked_in_order(&mut self, now: u64, w: &payload::Words) -> bool {
        if w.head() != self.own_head {
            return false;
        }
        let Some(flow) = self.flows.get_mut(usize::from(w.flow_id())) else { return false };
        let common = now.wrapping_sub(flow.last) <= self.gap_tsc && flow.seq.try_in_order(w.seq());
        if common {
            flow.last = now;
            flow.newest_tx = w.tx_tsc();
            // Consecutive frames differ in flow or in sequence: a lane each.
            self.latency.record(now.wrapping_sub(w.tx_tsc()), u64::from(w.flow_id()) ^ w.seq());
        }
        common
    }

    /// Any other frame with a tracked payload (the first of the run, out of order, after a
    /// loss or a silence, another run's, an untracked flow's): counted here.
    #[inline(never)]
    fn on_tracked_other(&mut self, now: u64, t: payload::Tracked) {
        if self.run_id != Some(t.run_id) && !self.elect(t.run_id) {
            self.counts.other_run += 1;
            return;
        }
        let i = usize::from(t.flow_id);
        let Some(flow) = self.flows.get_mut(i) else {
            self.counts.untracked_flow += 1;
            return;
        };
        self.counts.tracked += 1;
        let mut silent = false;
        let heard = flow.seq.received;
        if !flow.seq.started() {
            flow.first = now;
        } else if heard >= 2 {
            let silence = now.saturating_sub(flow.last);
            // A silence counts when it is over --gap-ms and over 10 of the flow's own mean
            // intervals (a slow flow is not an outage; its pace is known after two frames).
            silent = silence > self.gap_tsc && silence > (flow.last - flow.first) / (heard - 1) * 10;
        }
        // Frames heard before the silence, over the time they took (before a resync restarts it).
        let rate_per_tick = heard.saturating_sub(1) as f64 / flow.last.saturating_sub(flow.first).max(1) as f64;
        // Only a flow whose sequence is confirmed (two frames or more) has a newest stamp to
        // trust: a forged first frame must not keep the real sender from resyncing.
        let sent_earlier = flow.seq.span() >= 2 && t.tx_tsc < flow.newest_tx;
        let e = flow.seq.observe_within(t.seq, max_jump(&flow.seq, flow.first, flow.last, now), sent_earlier);
        if e.resync {
            flow.newest_tx = t.tx_tsc;
        } else if !e.stale {
            flow.newest_tx = flow.newest_tx.max(t.tx_tsc);
        }
        if e.resync {
            // The sequence starts again here: so does the flow's pace.
            flow.first = now;
            self.resyncs += 1;
            self.stale = self.stale.saturating_sub(1);
        }
        let gap = silent.then_some(FlowGap {
            flow: FlowRef::Tracked(t.flow_id),
            start_tsc: flow.last,
            end_tsc: now,
            lost: e.new_lost,
            rate_per_tick,
        });
        flow.last = now;
        self.stale += u64::from(e.stale);
        self.lost += e.new_lost;
        if e.late {
            self.lost -= 1;
            self.reordered += 1;
        }
        self.duplicates += u64::from(e.duplicate);
        self.latency.record(now.wrapping_sub(t.tx_tsc), u64::from(t.flow_id) ^ t.seq);
        if let Some(g) = gap {
            self.push_flow_gap(g);
        }
    }

    /// A frame of run `run`, not the one tracked: whether it is tracked. The first run seen is
    /// taken. Until [`ELECTION_FRAMES`] of vflag-dp's frames have arrived, another run's frames
    /// are counted, and a run with more frames than the tracked one becomes the challenger;
    /// [`Self::settle_election`] decides at the end of the burst, when the tracked run's count
    /// includes the burst's in-order frames. Rare: a few frames, at the start.
    #[inline(never)]
    fn elect(&mut self, run: u16) -> bool {
        if self.run_id.is_none() {
            self.adopt(run);
            return true;
        }
        if self.run_fixed || self.counts.tracked + self.counts.other_run >= ELECTION_FRAMES {
            return false;
        }
        let slot = match self.rivals.iter().position(|r| r.1 > 0 && r.0 == run) {
            Some(i) => i,
            None => match self.rivals.iter().position(|r| r.1 == 0) {
                Some(i) => i,
                None => return false,
            },
        };
        self.rivals[slot] = (run, self.rivals[slot].1 + 1);
        if self.rivals[slot].1 > self.counts.tracked {
            self.challenger = Some(slot);
        }
        false
    }

    /// End of a burst with a challenger: if its run still has more frames than the tracked
    /// one, it is tracked from the next frame on, and everything tracked so far moves to
    /// `other_run` (the challenger's own earlier frames are there already, never sequenced).
    #[cold]
    #[inline(never)]
    fn settle_election(&mut self) {
        let Some(slot) = self.challenger.take() else { return };
        let (run, frames) = self.rivals[slot];
        if frames <= self.counts.tracked {
            return;
        }
        self.rivals[slot] = (self.run_id.unwrap_or(run), self.counts.tracked);
        self.counts.other_run += std::mem::take(&mut self.counts.tracked);
        for f in self.flows.iter_mut() {
            *f = TrackedFlow::default();
        }
        // Foreign flows' silences stand whichever run is tracked.
        self.flow_gaps.retain(FlowGap::foreign);
        self.latency.clear();
        (self.lost, self.reordered, self.duplicates, self.stale, self.resyncs) = (0, 0, 0, 0, 0);
        self.adopt(run);
    }

    fn adopt(&mut self, run: u16) {
        self.run_id = Some(run);
        self.own_head = payload::head_of(run);
    }

    /// The shortest silence that counts, ticks (`--gap-ms`).
    pub fn gap_tsc(&self) -> u64 {
        self.gap_tsc
    }

    /// Each tracked flow's mean ticks between frames, for flows heard at least twice.
    pub fn flow_intervals(&self) -> impl Iterator<Item = f64> + '_ {
        self.flows
            .iter()
            .filter(|f| f.seq.received >= 2 && f.last > f.first)
            .map(|f| (f.last - f.first) as f64 / (f.seq.received - 1) as f64)
    }

    /// Publishes the running totals (plain stores; this lcore is the only writer).
    #[inline]
    pub fn publish(&self, live: &LiveAnalysis) {
        live.tracked.store(self.counts.tracked, Relaxed);
        live.lost.store(self.lost, Relaxed);
        live.reordered.store(self.reordered, Relaxed);
        live.duplicates.store(self.duplicates, Relaxed);
        live.foreign.store(self.counts.foreign, Relaxed);
    }

    /// Adds another lcore's results (end of run). Lcores that elected different runs (each
    /// saw a part of the traffic): the run with more tracked frames is kept, the other's
    /// frames count as other_run.
    pub fn merge(&mut self, o: RxAnalysis) {
        if self.run_id.is_none() {
            self.run_id = o.run_id;
        }
        if o.run_id.is_some() && o.run_id != self.run_id {
            let loser = if o.counts.tracked > self.counts.tracked { std::mem::replace(self, o) } else { o };
            let mut counts = loser.counts;
            counts.other_run += std::mem::take(&mut counts.tracked);
            self.counts.add(&counts);
            self.tuples.merge(&loser.tuples);
            self.flow_gaps.extend(loser.flow_gaps.iter().filter(|g| g.foreign()));
            return;
        }
        for (a, b) in self.flows.iter_mut().zip(&o.flows) {
            let (a, b) = (&mut a.seq, &b.seq);
            if b.started() {
                a.received += b.received;
                a.lost += b.lost;
                a.reordered += b.reordered;
                a.duplicates += b.duplicates;
                a.stale += b.stale;
                if !a.started() {
                    *a = b.clone();
                }
            }
        }
        self.counts.add(&o.counts);
        self.flow_gaps.extend_from_slice(&o.flow_gaps);
        self.flow_gaps_dropped += o.flow_gaps_dropped;
        self.tuples.merge(&o.tuples);
        self.latency.add(&o.latency);
        self.lost += o.lost;
        self.reordered += o.reordered;
        self.duplicates += o.duplicates;
        self.stale += o.stale;
        self.resyncs += o.resyncs;
    }
}

/// How far ahead a flow's next frame may jump and be believed: what the flow can have sent
/// since its last frame, at four times the pace it kept so far (frames sent, from its
/// sequence, per tick since its first frame), plus the reorder window.
#[inline]
fn max_jump(seq: &FlowSeq, first_tsc: u64, last_tsc: u64, now: u64) -> u64 {
    let heard_for = last_tsc.saturating_sub(first_tsc);
    if !seq.started() || seq.span() < 2 || heard_for == 0 {
        return MAX_JUMP_UNKNOWN_RATE;
    }
    let since = u128::from(now.saturating_sub(last_tsc));
    let can_have_sent = 4 * u128::from(seq.span()) * since / u128::from(heard_for);
    WINDOW.saturating_add(u64::try_from(can_have_sent).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::classify;
    use crate::frame::FlowAddrs;
    use crate::gen::{GenLane, GenSpec};

    fn config() -> AnalysisConfig {
        AnalysisConfig {
            track_flows: 8,
            tuple_capacity: 64,
            gap_tsc: 100,
            attribution_tsc: 50,
            tsc_hz: 1_000_000_000,
            run_id: None,
        }
    }

    fn analysis() -> RxAnalysis {
        RxAnalysis::new(&config())
    }

    fn frames(flows: u16, n: usize, run: u16) -> Vec<[u8; 64]> {
        let spec = GenSpec { base: FlowAddrs::default(), frame_len: 64, run_id: Some(run) };
        let ids: Vec<u16> = (0..flows).collect();
        let mut lane = GenLane::new(&spec, &ids, None);
        (0..n)
            .map(|i| {
                let mut f = [0u8; 64];
                lane.fill(&mut f, 1_000 + i as u64);
                f
            })
            .collect()
    }

    #[test]
    fn own_frames_are_tracked_per_flow_with_latency() {
        let mut a = analysis();
        for f in frames(4, 400, 9) {
            a.on_frame(2_000, &f);
        }
        assert_eq!(a.counts.tracked, 400);
        assert_eq!((a.lost, a.reordered, a.duplicates), (0, 0, 0));
        assert!(a.flows[..4].iter().all(|f| f.seq.received == 100));
        assert_eq!(a.latency.len(), 400);
        let ns = a.latency.to_ns(a.tsc_hz);
        assert!(ns.max() <= 1_040 && ns.min() >= 580, "{} {}", ns.min(), ns.max());
    }

    #[test]
    fn losses_reordering_and_other_runs() {
        let mut a = analysis();
        let fs = frames(1, 10, 3);
        for i in [0, 1, 2, 5, 4, 6, 6] {
            a.on_frame(5_000, &fs[i]);
        }
        assert_eq!((a.lost, a.reordered, a.duplicates), (1, 1, 1), "3 lost, 4 late, 6 twice");
        for f in frames(1, 2, 4) {
            a.on_frame(5_000, &f);
        }
        assert_eq!(a.counts.other_run, 2);
    }

    #[test]
    fn foreign_and_odd_frames_are_counted_not_tracked() {
        let mut a = analysis();
        let plain = crate::frame::udp_template(&FlowAddrs::default(), 64);
        let mut f = plain.to_vec();
        f.resize(64, 0);
        a.on_frame(1, &f);
        a.on_frame(1, &f[..10]);
        let mut arp = f.clone();
        arp[12] = 0x08;
        arp[13] = 0x06;
        a.on_frame(1, &arp);
        assert_eq!((a.counts.foreign, a.counts.short, a.counts.non_ip, a.counts.tracked), (1, 1, 1, 0));
        assert_eq!(a.tuples.len(), 1);
        // A flow id beyond what is tracked is counted, not indexed.
        for f in frames(10, 10, 1).iter().skip(9) {
            a.on_frame(1, f);
        }
        assert_eq!(a.counts.untracked_flow, 1);
    }

    #[test]
    fn a_mixed_burst_is_counted_class_by_class() {
        // The common classes are counted by subtraction from the burst's length: every frame
        // must still land in exactly one class.
        let mut a = analysis();
        let own = frames(2, 6, 4);
        let mut arp = own[0];
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        let mut tagged = [0u8; 68];
        tagged[..12].copy_from_slice(&own[0][..12]);
        tagged[12..16].copy_from_slice(&[0x81, 0x00, 0x00, 0x05]);
        tagged[16..].copy_from_slice(&own[0][12..]);
        let other_run = frames(1, 1, 5)[0];
        let burst: Vec<&[u8]> = vec![&own[0], &own[1], &arp, &own[2], &own[0][..9], &tagged, &own[3], &other_run, &arp];
        a.on_frames(2_000, burst.into_iter());
        let c = a.counts;
        assert_eq!((c.tracked, c.non_ip, c.short, c.other_run, c.vlan), (5, 2, 1, 1, 1), "{c:?}");
        assert_eq!((a.lost, a.duplicates), (0, 1), "own[0] came twice: once tagged");
    }

    #[test]
    fn the_fast_path_agrees_with_the_full_parser() {
        for f in frames(3, 6, 2) {
            let full = match classify(&f).class {
                Class::Ipv4 { udp_payload, .. } => udp_payload.and_then(payload::read),
                _ => None,
            };
            assert_eq!(own_frame(&f), full);
            assert!(full.is_some());
            // Cut, fragmented, or with an IP length short of the payload: not taken as ours.
            assert_eq!(own_frame(&f[..60]), None);
            let mut frag = f;
            frag[20] = 0x20;
            assert_eq!(own_frame(&frag), None);
            let mut short_ip = f;
            short_ip[16..18].copy_from_slice(&40u16.to_be_bytes());
            assert_eq!(own_frame(&short_ip), None);
            // IP options, another IP version, another ethertype: not the usual shape.
            for (at, byte) in [(14, 0x46), (14, 0x65), (13, 0x06)] {
                let mut g = f;
                g[at] = byte;
                assert_eq!(own_frame(&g), None, "byte {at} = {byte:#x}");
            }
            // The IP length's bounds, in a 64-byte frame and in one padded to 80 bytes.
            let with_ip_len = |frame: &[u8], ip_len: u16| {
                let mut g = frame.to_vec();
                g[16..18].copy_from_slice(&ip_len.to_be_bytes());
                own_frame(&g)
            };
            let mut padded = f.to_vec();
            padded.resize(80, 0);
            for (frame, ip_len, ours) in [
                (&f[..], 0, false),
                (&f[..], 49, false),
                (&f[..], 50, true),
                (&f[..], 51, false),
                (&f[..], u16::MAX, false),
                (&padded[..], 50, true),
                (&padded[..], 66, true),
                (&padded[..], 67, false),
            ] {
                assert_eq!(with_ip_len(frame, ip_len).is_some(), ours, "ip_len {ip_len} in {} bytes", frame.len());
            }
        }
    }

    #[test]
    fn a_silent_flow_is_a_flow_gap_and_a_slow_one_is_not() {
        let mut a = analysis(); // gap: 100 ticks
        let fs = frames(2, 400, 1);
        // Both flows every 10 ticks until t=200; then flow 1 falls silent until t=700.
        let mut t = 0;
        for (i, f) in fs.iter().enumerate() {
            let flow = i % 2;
            if flow == 1 && (200..700).contains(&t) {
                t += 5;
                continue;
            }
            a.on_frame(t, f);
            t += 5;
        }
        assert_eq!(a.flow_gaps.len(), 1, "{:?}", a.flow_gaps);
        let g = a.flow_gaps[0];
        assert_eq!(g.flow, FlowRef::Tracked(1));
        assert!(g.end_tsc - g.start_tsc > 400);
        assert_eq!(g.lost, 50, "flow 1's frames sent while it was silent");
        assert_eq!(a.lost, 50);
        // A flow that is always slow (one frame every 500 ticks) has no gaps.
        let mut slow = analysis();
        for (i, f) in frames(1, 6, 1).iter().enumerate() {
            slow.on_frame(i as u64 * 500, f);
        }
        assert!(slow.flow_gaps.is_empty(), "a steady 500-tick pace: {:?}", slow.flow_gaps);
    }

    /// A foreign UDP frame of source port `sport` (a switch-side tester's flow).
    fn foreign_frame(sport: u16) -> Vec<u8> {
        let addrs = FlowAddrs { sport, ..FlowAddrs::default() };
        let mut f = crate::frame::udp_template(&addrs, 64).to_vec();
        f.resize(64, 0);
        f
    }

    #[test]
    fn foreign_flows_that_stop_while_others_carry_on_are_flow_gaps() {
        // 8 foreign flows every 10 ticks; the odd ones (a failed member's) are silent from
        // t=1_000 to t=1_600 (gap 100 ticks), the even ones carry on.
        let mut a = analysis();
        let flows: Vec<Vec<u8>> = (0..8).map(|i| foreign_frame(1000 + i)).collect();
        for t in (10..3_000).step_by(10) {
            let burst: Vec<&[u8]> = flows
                .iter()
                .enumerate()
                .filter(|(i, _)| i % 2 == 0 || !(1_000..1_600).contains(&t))
                .map(|(_, f)| f.as_slice())
                .collect();
            a.on_frames(t, burst.into_iter());
        }
        assert_eq!((a.counts.foreign, a.tuples.len()), (8 * 299 - 4 * 60, 8));
        assert_eq!(a.flow_gaps.len(), 4, "{:?}", a.flow_gaps);
        assert!(a.flow_gaps.iter().all(|g| g.foreign() && (g.start_tsc, g.end_tsc) == (990, 1_600)));
        // Each missed 60 frames at one every 10 ticks; the estimate misses at most one.
        assert!(a.flow_gaps.iter().all(|g| (59..=60).contains(&g.lost)), "{:?}", a.flow_gaps);
        let sports: Vec<u16> = a
            .flow_gaps
            .iter()
            .filter_map(|g| match g.flow {
                FlowRef::Foreign(t) => Some(t.sport),
                FlowRef::Tracked(_) => None,
            })
            .collect();
        assert!(sports.iter().all(|p| p % 2 == 1), "only the stopped flows: {sports:?}");
        let o = crate::outage::flow_outages(&a.flow_gaps, 0, 1_000.0);
        assert_eq!((o.len(), o[0].flows, o[0].foreign_flows), (1, 4, 4));
        assert!((o[0].offered_pps - 400.0).abs() < 1.0, "4 flows at 100/s: {}", o[0].offered_pps);
        // A table of no foreign flows counts them and sees no silence.
        let mut none = RxAnalysis::new(&AnalysisConfig { tuple_capacity: 0, ..config() });
        for t in (10..3_000).step_by(10) {
            let burst: Vec<&[u8]> =
                flows.iter().enumerate().filter(|(i, _)| *i == 0 || t < 1_000).map(|(_, f)| f.as_slice()).collect();
            none.on_frames(t, burst.into_iter());
        }
        assert!(none.flow_gaps.is_empty());
        assert_eq!(none.tuples.overflow, none.counts.foreign);
    }

    #[test]
    fn a_new_election_keeps_the_foreign_flows_silences() {
        let mut a = analysis();
        let f = foreign_frame(5);
        for t in (10..=200).step_by(10) {
            a.on_frame(t, &f);
        }
        a.on_frame(1_000, &f);
        assert_eq!(a.flow_gaps.len(), 1);
        // Run 3 is tracked first, then run 4 outnumbers it and takes over.
        a.on_frames(1_010, frames(1, 2, 3).iter().map(|f| f.as_slice()));
        a.on_frames(1_020, frames(1, 5, 4).iter().map(|f| f.as_slice()));
        assert_eq!(a.run_id, Some(4));
        assert_eq!(a.flow_gaps.len(), 1, "the foreign flow's silence stands");
    }

    /// `n` own frames of `len` bytes, of flows `flows` in turn.
    fn long_frames(len: u16, n: usize, flows: &[u16]) -> Vec<Vec<u8>> {
        let spec = GenSpec { base: FlowAddrs::default(), frame_len: len, run_id: Some(7) };
        let mut lane = GenLane::new(&spec, flows, None);
        (0..n)
            .map(|i| {
                let mut f = vec![0u8; usize::from(len)];
                lane.fill(&mut f, 1_000 + i as u64);
                f
            })
            .collect()
    }

    /// `f` cut where a driver with `first`-byte first segments and `rest`-byte later ones
    /// would cut it (tap with 2176-byte mbufs: 2048, then 2176 each).
    fn segments(f: &[u8], first: usize, rest: usize) -> Vec<&[u8]> {
        let (head, mut tail) = f.split_at(first.min(f.len()));
        let mut segs = vec![head];
        while !tail.is_empty() {
            let (s, t) = tail.split_at(rest.min(tail.len()));
            segs.push(s);
            tail = t;
        }
        segs
    }

    #[test]
    fn jumbo_frames_in_chained_mbufs_are_tracked_not_malformed() {
        // Issue 19 item 10: 9000-byte frames in 5 segments and 3000-byte ones in 2 were all
        // malformed (their IP length was checked against the first segment alone).
        let mut a = analysis();
        let (jumbo, mid) = (long_frames(9000, 6, &[0, 1]), long_frames(3000, 6, &[2, 3]));
        let chains: Vec<Vec<&[u8]>> = jumbo.iter().chain(&mid).map(|f| segments(f, 2048, 2176)).collect();
        assert_eq!((chains[0].len(), chains[6].len()), (5, 2));
        a.on_frames(2_000, chains.iter().map(|c| Frame::from_segments(c)));
        let c = a.counts;
        assert_eq!((c.tracked, c.malformed, c.foreign), (12, 0, 0), "{c:?}");
        assert_eq!((a.lost, a.reordered, a.duplicates), (0, 0, 0));
        // Foreign ones: UDP with another payload, and a VLAN-tagged own frame (the full parse).
        let mut foreign = jumbo[0].clone();
        foreign[42] ^= 0xff;
        let mut tagged = jumbo[1][..12].to_vec();
        tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]);
        tagged.extend_from_slice(&jumbo[1][12..]);
        let segs = [segments(&foreign, 2048, 2176), segments(&tagged, 2048, 2176)];
        a.on_frames(2_000, segs.iter().map(|c| Frame::from_segments(c)));
        let c = a.counts;
        assert_eq!((c.tracked, c.foreign, c.vlan, c.malformed), (13, 1, 1, 0), "{c:?}");
        assert_eq!(a.duplicates, 1, "jumbo[1] came twice: once tagged");
        // An IP length longer than the whole frame is still malformed, chained or not.
        let mut lying = mid[0].clone();
        lying[16..18].copy_from_slice(&8986u16.to_be_bytes());
        a.on_frames(2_000, [Frame::from_segments(&segments(&lying, 2048, 2176))].into_iter());
        assert_eq!(a.counts.malformed, 1);
    }

    #[test]
    fn headers_split_over_segments_are_gathered() {
        // A first segment too short for the headers (a header-splitting driver): the frame's
        // start is gathered across segments, and it counts as it would whole.
        let mut a = analysis();
        let own = long_frames(3000, 4, &[0, 1]);
        for (f, first) in own.iter().zip([10, 20, 41, 63]) {
            let segs = segments(f, first, 16);
            let whole: Vec<u8> = segs.concat();
            assert_eq!(whole.len(), 3000);
            a.on_frames(2_000, [Frame::from_segments(&segs)].into_iter());
        }
        assert_eq!((a.counts.tracked, a.counts.malformed, a.counts.short), (4, 0, 0), "{:?}", a.counts);
        assert_eq!((a.lost, a.duplicates), (0, 0));
        let mut udp = crate::frame::udp_template(&FlowAddrs::default(), 200).to_vec();
        udp.resize(200, 0);
        a.on_frames(2_000, [Frame::from_segments(&segments(&udp, 30, 7))].into_iter());
        assert_eq!(a.counts.foreign, 1);
        assert_eq!(a.tuples.entries().next().map(|e| (e.tuple.sport, e.packets)), Some((9, 1)));
    }

    #[test]
    fn a_stray_frame_of_another_run_first_does_not_take_the_run() {
        let mut a = analysis();
        a.on_frame(1_000, &frames(1, 1, 7)[0]);
        assert_eq!(a.run_id, Some(7), "the first run seen is taken...");
        for f in frames(4, 1000, 9) {
            a.on_frame(2_000, &f);
        }
        assert_eq!(a.run_id, Some(9), "...until most frames turn out to be another's");
        assert_eq!(
            (a.counts.tracked, a.counts.other_run),
            (998, 1 + 2),
            "run 9's first two frames were counted before it won"
        );
        assert_eq!((a.lost, a.stale), (0, 0));
        // Once the election is over, a run cannot take over any more.
        for f in frames(1, 2000, 7) {
            a.on_frame(3_000, &f);
        }
        assert_eq!((a.run_id, a.counts.tracked, a.counts.other_run), (Some(9), 998, 2003));
    }

    #[test]
    fn the_election_is_settled_per_burst_with_its_in_order_frames_counted() {
        // One burst: run 7 in order (the fast path, counted at the burst's end), then fewer
        // frames of run 9 than run 7 has in all, though more than it had before the burst.
        let mut a = analysis();
        let sevens = frames(4, 20, 7);
        let nines = frames(4, 12, 9);
        let burst: Vec<&[u8]> = sevens.iter().chain(&nines).map(|f| &f[..]).collect();
        a.on_frames(1_000, burst.into_iter());
        assert_eq!((a.run_id, a.counts.tracked, a.counts.other_run), (Some(7), 20, 12));
        // Then a burst where run 9 has the most: it takes over, and the counts stay exact.
        let more: Vec<[u8; 64]> = frames(4, 40, 9);
        a.on_frames(2_000, more.iter().map(|f| &f[..]));
        assert_eq!(a.run_id, Some(9));
        assert_eq!((a.counts.tracked, a.counts.other_run), (0, 72), "what came before the switch is another run's");
        // From the next burst on, run 9 is tracked, and only what is sequenced counts.
        a.on_frames(3_000, more.iter().map(|f| &f[..]));
        assert_eq!((a.counts.tracked, a.counts.other_run), (40, 72));
        assert_eq!(a.counts.tracked, a.flows.iter().map(|f| f.seq.received).sum::<u64>(), "tracked = sequenced");
        assert_eq!(a.lost, 0);
    }

    #[test]
    fn a_given_run_id_is_the_only_one_tracked() {
        let mut a = RxAnalysis::new(&AnalysisConfig { run_id: Some(9), ..config() });
        for f in frames(2, 300, 7) {
            a.on_frame(1_000, &f);
        }
        for f in frames(2, 10, 9) {
            a.on_frame(2_000, &f);
        }
        assert_eq!((a.run_id, a.counts.tracked, a.counts.other_run), (Some(9), 10, 300));
    }

    #[test]
    fn old_frames_let_out_late_do_not_resync_a_flow_but_a_restarted_sender_does() {
        let mut a = analysis();
        let fs = frames(1, 5100, 9);
        let mut now = 1_000;
        let mut feed = |a: &mut RxAnalysis, f: &[u8; 64], step: u64| {
            now += step;
            a.on_frame(now, f);
        };
        fs[..5000].iter().for_each(|f| feed(&mut a, f, 10));
        // A downed link's transmit ring let out long after, in one go: consecutive frames,
        // stamped when they were sent. At their pace, the jump back to the flow's own
        // sequence a while later would be believed, and counted lost.
        fs[1000..1003].iter().for_each(|f| feed(&mut a, f, 1));
        feed(&mut a, &fs[5000], 1000);
        fs[5001..].iter().for_each(|f| feed(&mut a, f, 10));
        assert_eq!((a.lost, a.stale, a.resyncs), (0, 3, 0));
        assert_eq!(a.flows[0].seq.received, 5100);
        // The sender restarts: its sequence begins again, stamped after everything before.
        let spec = GenSpec { base: FlowAddrs::default(), frame_len: 64, run_id: Some(9) };
        let mut lane = GenLane::new(&spec, &[0], None);
        for i in 0..50 {
            let mut f = [0u8; 64];
            lane.fill(&mut f, 1_000_000 + i);
            feed(&mut a, &f, 10);
        }
        assert_eq!((a.lost, a.stale, a.resyncs), (0, 3, 1), "one resync, no loss for the jump back");
    }

    #[test]
    fn a_forged_sequence_number_is_stale_not_a_huge_loss() {
        let mut a = analysis();
        let fs = frames(1, 200, 9);
        for (i, f) in fs[..100].iter().enumerate() {
            a.on_frame(1_000 + i as u64 * 10, f);
        }
        let mut forged = fs[100];
        // The payload's sequence number (48 bits, little-endian) set to its largest value.
        let at = crate::frame::TEMPLATE_HLEN + 8;
        forged[at..at + 6].copy_from_slice(&[0xff; 6]);
        a.on_frame(2_000, &forged);
        for (i, f) in fs[100..].iter().enumerate() {
            a.on_frame(2_010 + i as u64 * 10, f);
        }
        assert_eq!((a.counts.tracked, a.lost, a.stale, a.resyncs), (201, 0, 1, 0));
        assert_eq!(a.flows[0].seq.received, 200);
    }

    #[test]
    fn merging_lcores_adds_up() {
        let (mut a, mut b) = (analysis(), analysis());
        let fs = frames(2, 20, 1);
        for (i, f) in fs.iter().enumerate() {
            if i % 2 == 0 {
                a.on_frame(2_000, f)
            } else {
                b.on_frame(2_000, f)
            }
        }
        a.merge(b);
        assert_eq!(a.counts.tracked, 20);
        assert_eq!(a.flows[0].seq.received + a.flows[1].seq.received, 20);
        assert_eq!(a.latency.len(), 20);
    }

    /// What `classify` alone makes of one frame seen first by a fresh analysis: the reference
    /// every fast path of `on_frames` must agree with.
    fn reference(f: &[u8], track_flows: usize) -> (ClassCounts, Option<FiveTuple>) {
        let mut c = ClassCounts::default();
        let k = classify(f);
        c.vlan = u64::from(k.vlan);
        let mut tuple = None;
        match k.class {
            Class::Short => c.short = 1,
            Class::NonIp(_) => c.non_ip = 1,
            Class::Malformed => c.malformed = 1,
            Class::Ipv4 { tuple: t, udp_payload } => match udp_payload.and_then(payload::read) {
                Some(p) if usize::from(p.flow_id) < track_flows => c.tracked = 1,
                Some(_) => c.untracked_flow = 1,
                None => {
                    c.foreign = 1;
                    tuple = Some(t);
                }
            },
        }
        (c, tuple)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        /// Own, foreign UDP, TCP and tagged frames, bytes changed and cut: the fast paths count
        /// each as `classify` does, and a foreign frame under the 5-tuple `classify` reads.
        #[test]
        fn fast_paths_agree_with_classify(
            seed in 0usize..4,
            len in 0usize..96,
            flips in proptest::collection::vec((0usize..96, proptest::prelude::any::<u8>()), 0..6),
        ) {
            let mut f = frames(3, 3, 9)[2].to_vec();
            f.resize(90, 0);
            match seed {
                1 => f[43] ^= 0xff, // the magic broken: foreign UDP
                2 => f[23] = 6,     // TCP
                3 => f.splice(12..12, [0x81, 0x00, 0x00, 0x07]).for_each(drop),
                _ => {}
            }
            for (at, b) in flips {
                if let Some(x) = f.get_mut(at) {
                    *x = b;
                }
            }
            f.truncate(len);
            let mut a = analysis();
            a.on_frame(1_000, &f);
            let (want, tuple) = reference(&f, a.flows.len());
            proptest::prop_assert_eq!(a.counts, want);
            let seen: Vec<_> = a.tuples.entries().map(|e| (e.tuple, e.packets)).collect();
            proptest::prop_assert_eq!(seen, tuple.map(|t| (t, 1)).into_iter().collect::<Vec<_>>());
        }

        /// The same frames cut into chained segments anywhere: counted exactly as whole.
        #[test]
        fn segments_count_as_the_whole_frame(
            seed in 0usize..4,
            len in 0usize..96,
            flips in proptest::collection::vec((0usize..96, proptest::prelude::any::<u8>()), 0..6),
            first in 0usize..100,
            rest in 1usize..40,
        ) {
            let mut f = frames(3, 3, 9)[2].to_vec();
            f.resize(90, 0);
            match seed {
                1 => f[43] ^= 0xff,
                2 => f[23] = 6,
                3 => f.splice(12..12, [0x81, 0x00, 0x00, 0x07]).for_each(drop),
                _ => {}
            }
            for (at, b) in flips {
                if let Some(x) = f.get_mut(at) {
                    *x = b;
                }
            }
            f.truncate(len);
            let (mut whole, mut cut) = (analysis(), analysis());
            whole.on_frame(1_000, &f);
            let segs = segments(&f, first, rest);
            cut.on_frames(1_000, [Frame::from_segments(&segs)].into_iter());
            proptest::prop_assert_eq!(cut.counts, whole.counts);
            proptest::prop_assert_eq!(cut.tuples.entries().collect::<Vec<_>>(), whole.tuples.entries().collect::<Vec<_>>());
        }
    }
}
