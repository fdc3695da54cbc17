//! What the receiver's analysis costs per frame, in process, on frames already in L1: no DPDK,
//! no driver, so the figure is the analysis alone (the rate benchmarks in `vflag-bench` carry
//! the driver's cost too). Bursts of 32 frames, 16 flows, as `vflag-dp --fwd gen --flows 16`
//! sends them; the best of several trials of each kind, the kinds interleaved trial by trial so
//! a slower stretch of the machine hits them alike.
//!
//! `cargo bench -p vflag-dp --bench analysis [-- --quick]`; under `cargo test` one short trial.
//!
//! Prints ns per frame for: our own frame in order (the common case of a soak), a non-IP frame
//! (what net_null's zeroed frames are), and a foreign UDP frame (counted by 5-tuple), also in
//! the 60 bytes a tester that counts the FCS sends as "64". Exits 1 if the analysis did not see
//! the frames as the kinds they were built as: then the figures would not be what they say.

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

use vflag_dp::analysis::{AnalysisConfig, ClassCounts, RxAnalysis};
use vflag_dp::frame::{FlowAddrs, TEMPLATE_HLEN};
use vflag_dp::gen::{GenLane, GenSpec};
use vflag_dp::payload;

const BURST: usize = 32;
const FLOWS: u16 = 16;
const FRAME_LEN: usize = 64;
/// A "64-byte" frame of generators that count the FCS (TRex, most switch-side testers): an
/// IP length of 46, too short for our payload.
const SHORT_FRAME_LEN: usize = 60;
/// What the stamped TX TSC trails the receive time by: a plausible same-host latency.
const LATENCY_TICKS: u64 = 3_000;

/// One frame in a buffer of its own, cache-line aligned as an mbuf's data is.
#[repr(align(64))]
#[derive(Clone, Copy)]
struct Buf {
    bytes: [u8; 128],
}

impl Buf {
    const EMPTY: Buf = Buf { bytes: [0; 128] };

    /// Its first `LEN` bytes (a constant, as the rest of the loop's figures assume).
    fn frame<const LEN: usize>(&self) -> &[u8] {
        &self.bytes[..LEN]
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// Writing the sequence numbers and TX TSCs alone: subtracted from `Own`.
    Stamp,
    Own,
    NonIp,
    Foreign,
    ForeignShort,
}

const KINDS: [Kind; 5] = [Kind::Stamp, Kind::Own, Kind::NonIp, Kind::Foreign, Kind::ForeignShort];

struct Bench {
    analysis: RxAnalysis,
    own: Vec<Buf>,
    non_ip: Vec<Buf>,
    foreign: Vec<Buf>,
    /// The same flows as `foreign`, in SHORT_FRAME_LEN-byte frames.
    foreign_short: Vec<Buf>,
    /// The sequence number of the burst's first frame of every flow.
    seq: u64,
    now: u64,
    /// Frames of each kind handed to the analysis, to check its counts against.
    fed: ClassCounts,
}

/// A burst of `gen` frames: flow 0..16 twice over, as a generator lane sends them.
fn burst_of(spec: &GenSpec) -> Vec<Buf> {
    let ids: Vec<u16> = (0..FLOWS).collect();
    let mut lane = GenLane::new(spec, &ids, None);
    let len = usize::from(spec.frame_len);
    let mut bufs = vec![Buf::EMPTY; BURST];
    for b in bufs.iter_mut() {
        lane.fill(&mut b.bytes[..len], 0);
    }
    bufs
}

impl Bench {
    fn new() -> Bench {
        let analysis = RxAnalysis::new(&AnalysisConfig {
            track_flows: 4096,
            tuple_capacity: 4096,
            // Nothing here is a gap: the clock below is made up.
            gap_tsc: 1 << 50,
            attribution_tsc: 1 << 49,
            tsc_hz: 2_000_000_000,
            run_id: None,
        });
        let base = FlowAddrs::default();
        let mut b = Bench {
            analysis,
            own: burst_of(&GenSpec { base, frame_len: FRAME_LEN as u16, run_id: Some(7) }),
            non_ip: vec![Buf::EMPTY; BURST],
            foreign: burst_of(&GenSpec { base, frame_len: FRAME_LEN as u16, run_id: None }),
            foreign_short: burst_of(&GenSpec { base, frame_len: SHORT_FRAME_LEN as u16, run_id: None }),
            seq: 0,
            now: 1 << 32,
            fed: ClassCounts::default(),
        };
        // The first frame of each flow takes the slow path (the run and the flow are new):
        // one burst before timing.
        b.stamp(0);
        b.analyse_own();
        b
    }

    fn stamp(&mut self, b: u64) {
        // Spread over a few latency buckets, as real arrivals are.
        let tx = self.now - LATENCY_TICKS + (b & 7) * 40;
        for (i, buf) in self.own.iter_mut().enumerate() {
            let seq = self.seq + (i / usize::from(FLOWS)) as u64;
            payload::write_seq_tsc(&mut buf.bytes[TEMPLATE_HLEN..FRAME_LEN], seq, tx + i as u64 * 9);
        }
    }

    fn analyse_own(&mut self) {
        self.analysis.on_frames(self.now, black_box(&self.own).iter().map(Buf::frame::<FRAME_LEN>));
        self.seq += (BURST / usize::from(FLOWS)) as u64;
        self.fed.tracked += BURST as u64;
    }

    /// `bursts` bursts of `kind`; returns ns per frame.
    fn trial(&mut self, kind: Kind, bursts: u64) -> f64 {
        let t = Instant::now();
        for b in 0..bursts {
            self.now += 400;
            match kind {
                Kind::Stamp => {
                    self.stamp(b);
                    black_box(&mut self.own);
                }
                Kind::Own => {
                    self.stamp(b);
                    self.analyse_own();
                }
                Kind::NonIp => {
                    self.analysis.on_frames(self.now, black_box(&self.non_ip).iter().map(Buf::frame::<FRAME_LEN>));
                    self.fed.non_ip += BURST as u64;
                }
                Kind::Foreign => {
                    self.analysis.on_frames(self.now, black_box(&self.foreign).iter().map(Buf::frame::<FRAME_LEN>));
                    self.fed.foreign += BURST as u64;
                }
                Kind::ForeignShort => {
                    self.analysis
                        .on_frames(self.now, black_box(&self.foreign_short).iter().map(Buf::frame::<SHORT_FRAME_LEN>));
                    self.fed.foreign += BURST as u64;
                }
            }
        }
        t.elapsed().as_nanos() as f64 / (bursts * BURST as u64) as f64
    }

    /// Did every frame take the path it was built for, with no loss, reorder or duplicate?
    fn check(&self) -> Result<(), String> {
        let a = &self.analysis;
        let c = &a.counts;
        let seen = (c.tracked, c.non_ip, c.foreign, a.lost, a.reordered, a.duplicates);
        let fed = (self.fed.tracked, self.fed.non_ip, self.fed.foreign, 0, 0, 0);
        if seen != fed {
            return Err(format!(
                "the analysis counted (tracked, non-IP, foreign, lost, reordered, duplicates) = {seen:?}, \
                 but was fed {fed:?}"
            ));
        }
        if a.tuples.len() != usize::from(FLOWS) {
            return Err(format!("{} foreign 5-tuples counted, {FLOWS} sent", a.tuples.len()));
        }
        Ok(())
    }
}

fn main() -> ExitCode {
    // cargo bench passes --bench; cargo test (--all-targets) does not, and gets one short
    // trial, as libtest's own benchmarks get one run: a check that the paths still count right.
    let args: Vec<String> = std::env::args().collect();
    let (trials, bursts) = match (args.iter().any(|a| a == "--bench"), args.iter().any(|a| a == "--quick")) {
        (false, _) => (1, 2_000),
        (true, true) => (3, 20_000),
        (true, false) => (15, 200_000),
    };
    let mut bench = Bench::new();
    let mut best = [f64::MAX; KINDS.len()];
    for _ in 0..trials {
        for (i, &kind) in KINDS.iter().enumerate() {
            best[i] = best[i].min(bench.trial(kind, bursts));
        }
    }
    if let Err(e) = bench.check() {
        eprintln!("analysis bench: error: {e}");
        return ExitCode::FAILURE;
    }
    let [stamp, own, non_ip, foreign, foreign_short] = best;
    println!(
        "analysis per frame (best of {trials} trial(s) of {bursts} bursts of {BURST}, {FLOWS} flows, \
         {FRAME_LEN}-byte frames in L1):"
    );
    println!("  own frame in order  {:6.2} ns  (stamping it: {stamp:.2} ns, not counted)", own - stamp);
    println!("  non-IP frame        {non_ip:6.2} ns");
    println!("  foreign UDP frame   {foreign:6.2} ns");
    println!("  ... of {SHORT_FRAME_LEN} bytes     {foreign_short:6.2} ns  (a 64-byte frame counted with its FCS)");
    ExitCode::SUCCESS
}
