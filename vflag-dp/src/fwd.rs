//! The forwarding lcores' loops, one per mode. Per-lcore state only, one writer per counter,
//! whole bursts, no allocation, no locks and no formatting (except with --verbose).

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

use dpdk_sys::mbuf::Burst;
use dpdk_sys::mempool::Mempool;

use crate::cli::FwdMode;
use crate::counters::{StreamCounters, StreamTally};
use crate::frame;
use crate::topology::Stream;
use crate::verbose;

/// One stream as its lcore runs it.
pub struct StreamJob {
    pub stream: Stream,
    pub counters: Arc<StreamCounters>,
    /// txonly: packets left to send (never dropped); rx modes: not used (the main lcore stops
    /// the run when enough are received). None: unlimited.
    pub quota: Option<u64>,
    /// Headers written into generated frames, or [dst MAC, src MAC] for mac mode.
    pub template: [u8; frame::TEMPLATE_HLEN],
}

/// Everything one forwarding lcore needs; moved onto that lcore.
pub struct LcoreJob {
    pub mode: FwdMode,
    pub streams: Vec<StreamJob>,
    pub burst: u16,
    pub pkt_size: u16,
    pub verbose: bool,
    pub pool: Arc<Mempool>,
    pub stop: Arc<AtomicBool>,
}

/// A stream's run-time state on its lcore: its totals and its own burst (so packets a driver
/// refused stay with the stream that generated them).
struct Lane<'a> {
    job: &'a StreamJob,
    tally: StreamTally,
    burst: Burst,
}

impl LcoreJob {
    /// Runs until `stop` is set (or every stream's quota is met). Returns 0.
    pub fn run(self) -> i32 {
        let mut lanes: Vec<Lane> =
            self.streams.iter().map(|job| Lane { job, tally: StreamTally::default(), burst: Burst::new() }).collect();
        match self.mode {
            FwdMode::Rxonly => self.poll(&mut lanes, |_, b, _| b.free_all()),
            FwdMode::Io => self.poll(&mut lanes, forward),
            FwdMode::Mac => self.poll(&mut lanes, |job, b, t| {
                let (dst, src) = mac_pair(&job.template);
                b.for_each_data(|_, f| frame::set_macs(f, &dst, &src));
                forward(job, b, t)
            }),
            FwdMode::Macswap => self.poll(&mut lanes, |job, b, t| {
                b.for_each_data(|_, f| frame::swap_macs(f));
                forward(job, b, t)
            }),
            FwdMode::Txonly => self.generate(&mut lanes),
        }
        for lane in &lanes {
            lane.job.counters.publish(&lane.tally);
        }
        0
    }

    /// The receive side of every rx-driven mode: rx a burst per stream, hand it to `then`.
    fn poll<F>(&self, lanes: &mut [Lane], then: F)
    where
        F: Fn(&StreamJob, &mut Burst, &mut StreamTally),
    {
        while !self.stop.load(Relaxed) {
            for lane in lanes.iter_mut() {
                let s = lane.job.stream;
                let n = lane.burst.rx(s.rx_port, s.rx_queue, self.burst);
                if n == 0 {
                    continue;
                }
                lane.tally.rx_packets += u64::from(n);
                if self.verbose {
                    verbose::print_burst(s.rx_port, s.rx_queue, &lane.burst);
                }
                then(lane.job, &mut lane.burst, &mut lane.tally);
                lane.job.counters.publish(&lane.tally);
            }
        }
    }

    /// txonly: allocate, write headers, send. With a quota, refused packets are retried (none
    /// lost); without, they are freed and counted as TX-dropped, as testpmd does.
    fn generate(&self, lanes: &mut [Lane]) {
        for lane in lanes.iter().filter(|l| l.job.quota == Some(0)) {
            lane.job.counters.mark_done();
        }
        let mut active = lanes.iter().filter(|l| l.job.quota != Some(0)).count();
        while !self.stop.load(Relaxed) && active > 0 {
            for lane in lanes.iter_mut() {
                let (job, burst, tally) = (lane.job, &mut lane.burst, &mut lane.tally);
                let want = match job.quota {
                    Some(q) => {
                        let left = q - tally.tx_packets - burst.len() as u64;
                        if left == 0 && burst.is_empty() {
                            continue;
                        }
                        left.min(u64::from(self.burst)) as u16
                    }
                    None => self.burst,
                };
                let held = burst.len();
                if want > 0 && burst.alloc(&self.pool, want) {
                    let hdr = &job.template;
                    burst.fill_from(held, self.pkt_size, |_, f| f[..hdr.len()].copy_from_slice(hdr));
                }
                tally.tx_packets += u64::from(burst.tx(job.stream.tx_port, job.stream.tx_queue));
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

/// Sends the burst to the stream's tx queue; what the driver refuses is freed and counted.
#[inline]
fn forward(job: &StreamJob, burst: &mut Burst, tally: &mut StreamTally) {
    tally.tx_packets += u64::from(burst.tx(job.stream.tx_port, job.stream.tx_queue));
    tally.tx_dropped += burst.len() as u64;
    burst.free_all();
}

fn mac_pair(t: &[u8; frame::TEMPLATE_HLEN]) -> ([u8; 6], [u8; 6]) {
    let mut dst = [0u8; 6];
    let mut src = [0u8; 6];
    dst.copy_from_slice(&t[0..6]);
    src.copy_from_slice(&t[6..12]);
    (dst, src)
}
