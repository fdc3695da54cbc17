//! The forwarding lcores' loops, one per mode. Per-lcore state only, one writer per counter,
//! whole bursts, no allocation, no locks and no formatting (except with --verbose).

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use crossbeam_queue::ArrayQueue;
use dpdk::clock;
use dpdk::mbuf::Burst;
use dpdk::mempool::Mempool;
use dpdk::queue::{RxQueue, TxQueue};

use crate::analysis::{LiveAnalysis, RxAnalysis};
use crate::counters::{StreamCounters, StreamTally};
use crate::frame;
use crate::gen::GenLane;
use crate::interleave::{Interleaving, SliceTotals};
use crate::mode::FwdMode;
use crate::outage::Gap;
use crate::topology::Stream;
use crate::verbose;

/// One stream as its lcore runs it: its queues (the only way to its ports' bursts, borrowed
/// from the open ports for `'p`) and, for the report, their ids.
pub struct StreamJob<'p> {
    pub stream: Stream,
    pub rxq: RxQueue<'p>,
    pub txq: TxQueue<'p>,
    pub counters: Arc<StreamCounters>,
    /// Generators: frames left to send (never dropped). None: unlimited.
    pub quota: Option<u64>,
    /// Generators: the flows this stream sends.
    pub gen: Option<GenLane>,
    /// mac mode: (destination, source) written into every frame.
    pub macs: ([u8; 6], [u8; 6]),
}

/// The receiver's analysis for one lcore, and where its results go.
pub struct LcoreAnalysis {
    pub state: RxAnalysis,
    /// This lcore's index, tagged onto the gaps it reports.
    pub index: usize,
    pub live: Arc<LiveAnalysis>,
    pub gaps: Arc<ArrayQueue<(usize, Gap)>>,
    /// Filled with the final state when the lcore stops (one lock, off the hot path).
    pub result: Arc<Mutex<Option<RxAnalysis>>>,
    /// --interleave-ms: alternate plain and analysing slices.
    pub interleave: Option<Interleaving>,
}

/// Everything one forwarding lcore needs; moved onto that lcore.
pub struct LcoreJob<'p> {
    pub mode: FwdMode,
    pub streams: Vec<StreamJob<'p>>,
    pub burst: u16,
    pub pkt_size: u16,
    pub verbose: bool,
    /// Where the generator's mbufs come from (borrowed: the pool outlives every lcore).
    pub pool: &'p Mempool<'p>,
    pub stop: Arc<AtomicBool>,
    pub analysis: Option<LcoreAnalysis>,
    /// The ports are an 802.3ad bond: receive-only lcores flush tx, send-only lcores poll rx,
    /// so LACP frames flow both ways (DPDK asks for both at least every 100 ms).
    pub lacp: bool,
}

/// A stream's run-time state on its lcore: its job, totals and its own burst (so packets a
/// driver refused stay with the stream that generated them).
struct Lane<'p> {
    job: StreamJob<'p>,
    tally: StreamTally,
    burst: Burst<'p>,
}

/// Idle passes between two checks of the clock for closing gaps.
const IDLE_CHECK: u32 = 256;
/// Passes between two LACP services (well under 100 ms even with full bursts).
const LACP_EVERY: u32 = 1024;
/// --interleave-ms: passes between two reads of the clock (alike in both modes, so the slice
/// bookkeeping costs both the same).
const CLOCK_EVERY: u32 = 64;

/// Receive-only lcores of an 802.3ad bond: an empty tx burst on every stream.
fn lacp_flush_tx(lanes: &[Lane]) {
    for lane in lanes {
        lane.job.txq.flush();
    }
}

impl<'p> LcoreJob<'p> {
    /// Runs until `stop` is set (or every stream's quota is met). Returns 0.
    pub fn run(mut self) -> i32 {
        let streams = std::mem::take(&mut self.streams);
        let mut lanes: Vec<Lane> =
            streams.into_iter().map(|job| Lane { job, tally: StreamTally::default(), burst: Burst::new() }).collect();
        match self.mode {
            FwdMode::Rxonly | FwdMode::Reflect => {
                let reflect = self.mode == FwdMode::Reflect;
                match self.analysis.take() {
                    Some(mut a) => {
                        match a.interleave.take() {
                            Some(il) => self.receive_interleaved(&mut lanes, &mut a, &il),
                            None => self.receive_tracked(&mut lanes, &mut a, reflect),
                        }
                        Self::keep_result(a);
                    }
                    None if reflect => self.poll(&mut lanes, reflect_back),
                    None => self.poll(&mut lanes, |_, b, _| b.free_all()),
                }
            }
            FwdMode::Io => self.poll(&mut lanes, forward),
            FwdMode::Mac => self.poll(&mut lanes, |job, b, t| {
                let (dst, src) = job.macs;
                b.for_each_data(|_, f| frame::set_macs(f, &dst, &src));
                forward(job, b, t)
            }),
            FwdMode::Macswap => self.poll(&mut lanes, |job, b, t| {
                b.for_each_data(|_, f| frame::swap_macs(f));
                forward(job, b, t)
            }),
            FwdMode::Txonly | FwdMode::Gen => self.generate(&mut lanes, None),
            FwdMode::GenRx => {
                let mut a = self.analysis.take();
                self.generate(&mut lanes, a.as_mut());
                if let Some(mut a) = a {
                    Self::finish_tracked(&mut a);
                    Self::keep_result(a);
                }
            }
        }
        for lane in &lanes {
            lane.job.counters.publish(&lane.tally);
        }
        0
    }

    /// The receive side of the forwarding modes: rx a burst per stream, hand it to `then`.
    fn poll<F>(&self, lanes: &mut [Lane], mut then: F)
    where
        F: FnMut(&StreamJob, &mut Burst, &mut StreamTally),
    {
        let mut passes: u32 = 0;
        while !self.stop.load(Relaxed) {
            self.plain_pass(lanes, &mut then);
            passes += 1;
            if self.lacp && passes >= LACP_EVERY {
                passes = 0;
                lacp_flush_tx(lanes);
            }
        }
    }

    /// One burst from every stream, each handed to `then`.
    #[inline(always)]
    fn plain_pass<F>(&self, lanes: &mut [Lane], then: &mut F)
    where
        F: FnMut(&StreamJob, &mut Burst, &mut StreamTally),
    {
        for lane in lanes.iter_mut() {
            let n = lane.job.rxq.rx_burst(&mut lane.burst, self.burst);
            if n == 0 {
                continue;
            }
            lane.tally.rx_packets += u64::from(n);
            if self.verbose {
                verbose::print_burst(lane.job.stream.rx_port, lane.job.stream.rx_queue, &lane.burst);
            }
            then(&lane.job, &mut lane.burst, &mut lane.tally);
            lane.job.counters.publish(&lane.tally);
        }
    }

    /// Hands the final analysis to the main lcore (one lock, off the hot path).
    fn keep_result(a: LcoreAnalysis) {
        *a.result.lock().unwrap_or_else(|p| p.into_inner()) = Some(a.state);
    }

    /// rxonly and reflect with analysis: every burst is timestamped once and each frame
    /// classified; a reflector then sends it back.
    fn receive_tracked(&self, lanes: &mut [Lane], a: &mut LcoreAnalysis, reflect: bool) {
        let mut idle: u32 = 0;
        let mut passes: u32 = 0;
        while !self.stop.load(Relaxed) {
            passes += 1;
            if self.lacp && passes >= LACP_EVERY {
                passes = 0;
                lacp_flush_tx(lanes);
            }
            let got = self.tracked_pass(lanes, a, reflect);
            Self::idle_check(a, got, &mut idle);
        }
        Self::finish_tracked(a);
    }

    /// After every IDLE_CHECK passes in a row with nothing received, the clock closes gaps.
    #[inline(always)]
    fn idle_check(a: &mut LcoreAnalysis, got: bool, idle: &mut u32) {
        if got {
            *idle = 0;
            return;
        }
        *idle += 1;
        if *idle == IDLE_CHECK {
            *idle = 0;
            if let Some(g) = a.state.on_idle(clock::tsc()) {
                let _ = a.gaps.push((a.index, g));
                a.state.publish(&a.live);
            }
        }
    }

    /// One burst from every stream, analysed, then freed or (`reflect`) sent back. Returns
    /// whether any frame arrived.
    #[inline(always)]
    fn tracked_pass(&self, lanes: &mut [Lane], a: &mut LcoreAnalysis, reflect: bool) -> bool {
        let mut got = false;
        self.plain_pass(lanes, &mut |job, burst, tally| {
            got = true;
            if let Some(g) = a.state.on_burst(clock::tsc(), burst) {
                let _ = a.gaps.push((a.index, g));
            }
            if reflect {
                reflect_back(job, burst, tally);
            } else {
                burst.free_all();
            }
            a.state.publish(&a.live);
        });
        got
    }

    fn finish_tracked(a: &mut LcoreAnalysis) {
        for g in a.state.finish(clock::tsc()).into_iter().flatten() {
            let _ = a.gaps.push((a.index, g));
        }
        a.state.publish(&a.live);
    }

    /// --interleave-ms: slices of plain receiving and of analysing, one after the other, each
    /// ended by the clock; the frames and ticks of each go to its mode's totals. (The analysis
    /// was set up to find no gaps: to it, a plain slice is a silence.)
    fn receive_interleaved(&self, lanes: &mut [Lane], a: &mut LcoreAnalysis, il: &Interleaving) {
        let mut totals = SliceTotals::default();
        let mut analysing = false;
        let mut passes: u32 = 0;
        let received = |lanes: &[Lane]| lanes.iter().map(|l| l.tally.rx_packets).sum::<u64>();
        while !self.stop.load(Relaxed) {
            let (t0, rx0) = (clock::tsc(), received(lanes));
            let end = t0 + il.slice_tsc;
            if analysing {
                self.slice(lanes, end, &mut passes, |l| {
                    self.tracked_pass(l, a, false);
                });
            } else {
                self.slice(lanes, end, &mut passes, |l| self.plain_pass(l, &mut |_, b, _| b.free_all()));
            }
            totals.add(analysing, received(lanes) - rx0, clock::tsc() - t0);
            totals.publish(&il.live);
            analysing = !analysing;
        }
        Self::finish_tracked(a);
    }

    /// Runs `pass` until TSC `end` (or a stop), reading the clock every CLOCK_EVERY passes.
    #[inline(always)]
    fn slice(&self, lanes: &mut [Lane], end: u64, passes: &mut u32, mut pass: impl FnMut(&mut [Lane])) {
        while !self.stop.load(Relaxed) {
            for _ in 0..CLOCK_EVERY {
                pass(lanes);
            }
            *passes += CLOCK_EVERY;
            if self.lacp && *passes >= LACP_EVERY {
                *passes = 0;
                lacp_flush_tx(lanes);
            }
            if clock::tsc() >= end {
                break;
            }
        }
    }

    /// txonly and gen: allocate, write each frame, send. With a quota, refused frames are
    /// retried (none lost); without, they are freed and counted as TX-dropped, as testpmd does.
    /// gen-rx (`analysis`): between two sending passes a receiving one analyses what came back,
    /// and it goes on receiving after the quota is sent, until the stop.
    fn generate(&self, lanes: &mut [Lane<'p>], mut analysis: Option<&mut LcoreAnalysis>) {
        for lane in lanes.iter().filter(|l| l.job.quota == Some(0)) {
            lane.job.counters.mark_done();
        }
        let mut active = lanes.iter().filter(|l| l.job.quota != Some(0)).count();
        let mut passes: u32 = 0;
        // Its own burst: a lane's burst may hold frames waiting to be sent again.
        let mut scratch = Burst::new();
        let mut idle: u32 = 0;
        while !self.stop.load(Relaxed) && (active > 0 || analysis.is_some()) {
            passes = passes.wrapping_add(1);
            if let Some(a) = analysis.as_deref_mut() {
                let got = self.tracked_pass(lanes, a, false);
                Self::idle_check(a, got, &mut idle);
            } else if self.lacp && passes >= LACP_EVERY {
                passes = 0;
                // Send-only lcores of an 802.3ad bond: rx bursts let the bond take in LACP
                // frames; whatever else arrives is counted and freed.
                for lane in lanes.iter_mut() {
                    lane.tally.rx_packets += u64::from(lane.job.rxq.rx_burst(&mut scratch, self.burst));
                    scratch.free_all();
                }
            }
            for lane in lanes.iter_mut() {
                let (job, burst, tally) = (&mut lane.job, &mut lane.burst, &mut lane.tally);
                let mut want = match job.quota {
                    Some(q) => {
                        let left = q - tally.tx_packets - burst.len() as u64;
                        if left == 0 && burst.is_empty() {
                            continue;
                        }
                        left.min(u64::from(self.burst)) as u16
                    }
                    None => self.burst,
                };
                let now = clock::tsc();
                let Some(g) = job.gen.as_mut() else { continue };
                if let Some(p) = &g.pacer {
                    want = p.due(now, want);
                }
                let held = burst.len();
                if want > 0 && burst.alloc(self.pool, want) {
                    burst.fill_from(held, self.pkt_size, |_, f| g.fill(f, now));
                    if let Some(p) = g.pacer.as_mut() {
                        p.sent(u64::from(want));
                    }
                }
                tally.tx_packets += u64::from(job.txq.tx_burst(burst));
                if job.quota.is_none() {
                    tally.tx_dropped += burst.len() as u64;
                    burst.free_all();
                } else if burst.is_empty() && Some(tally.tx_packets) == job.quota {
                    job.counters.mark_done();
                    active -= 1;
                }
                job.counters.publish(tally);
            }
        }
    }
}

/// reflect: frames that are not IPv4 are freed and counted, the rest turned round and sent
/// back.
#[inline]
fn reflect_back(job: &StreamJob, burst: &mut Burst, tally: &mut StreamTally) {
    tally.not_reflected += burst.retain_data(|_, f| frame::reflect(f)) as u64;
    forward(job, burst, tally);
}

/// Sends the burst to the stream's tx queue; what the driver refuses is freed and counted.
#[inline]
fn forward(job: &StreamJob, burst: &mut Burst, tally: &mut StreamTally) {
    tally.tx_packets += u64::from(job.txq.tx_burst(burst));
    tally.tx_dropped += burst.len() as u64;
    burst.free_all();
}
