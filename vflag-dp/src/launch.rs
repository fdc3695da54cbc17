//! Builds each forwarding lcore's job from the settings: its streams, generator lanes (flows
//! dealt so each has one writer, rate split evenly) and receiver analysis, with the shared
//! handles the main lcore reads. Each stream gets the handles of the rx and tx queue it polls.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use crossbeam_queue::ArrayQueue;
use dpdk::mempool::Mempool;
use dpdk::queue::{Queues, RxQueue, TxQueue};

use crate::analysis::{LiveAnalysis, RxAnalysis, RxOptions};
use crate::counters::StreamCounters;
use crate::frame::FlowAddrs;
use crate::fwd::{LcoreAnalysis, LcoreJob, StreamJob};
use crate::gen::{self, GenLane, GenOptions, GenSpec, Pacer};
use crate::interleave::{Interleaving, LiveInterleave, SliceTotals};
use crate::mode::{Forwarding, FwdMode};
use crate::outage::Gap;
use crate::topology::{self, Stream};

/// An analysing lcore's live totals, and the slot its final state arrives in.
pub type AnalysisHandles = (Arc<LiveAnalysis>, Arc<Mutex<Option<RxAnalysis>>>);

/// What the main lcore keeps of a launched lcore.
pub struct LaunchedLcore {
    pub lcore: u32,
    pub streams: Vec<(Stream, Arc<StreamCounters>)>,
    pub analysis: Option<AnalysisHandles>,
    /// --interleave-ms: the lcore's totals per mode.
    pub interleave: Option<Arc<LiveInterleave>>,
    /// An analysing lcore's latency counters, read live for the events' intervals.
    pub latency: Option<Arc<crate::lathist::Cells>>,
}

/// Every interleaving lcore's totals as last published.
pub fn interleave_totals(launched: &[LaunchedLcore]) -> Vec<SliceTotals> {
    launched.iter().filter_map(|l| l.interleave.as_ref()).map(|live| live.read()).collect()
}

/// Everything the lcores share with the main lcore.
pub struct Plan<'p> {
    pub jobs: Vec<(u32, LcoreJob<'p>)>,
    pub launched: Vec<LaunchedLcore>,
    pub gaps: Arc<ArrayQueue<(usize, Gap)>>,
    pub run_id: Option<u16>,
    pub streams: usize,
}

/// The parts of the settings the lcores are built from.
pub struct Spec<'a> {
    pub fwd_lcores: &'a [u32],
    /// Rx queues per port: one stream each.
    pub rxq: u16,
    pub forwarding: &'a Forwarding,
    pub gen: &'a GenOptions,
    pub rx: &'a RxOptions,
    pub run_id: Option<u16>,
    /// Generators: frames to send in all (never dropped).
    pub count: Option<u64>,
    /// The ports are an 802.3ad bond.
    pub lacp: bool,
}

/// A run id for tracked traffic, different from one run to the next.
pub fn new_run_id() -> u16 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    (t ^ std::process::id().rotate_left(7)) as u16
}

/// The ports' queue handles, each taken by the one stream that polls or sends on it.
struct QueueHandles<'p> {
    ports: Vec<u16>,
    rx: Vec<Vec<Option<RxQueue<'p>>>>,
    tx: Vec<Vec<Option<TxQueue<'p>>>>,
}

impl<'p> QueueHandles<'p> {
    fn new(queues: Vec<Queues<'p>>) -> Self {
        let ports = queues.iter().map(|q| q.port).collect();
        let (rx, tx) = queues
            .into_iter()
            .map(|q| (q.rx.into_iter().map(Some).collect(), q.tx.into_iter().map(Some).collect()))
            .unzip();
        QueueHandles { ports, rx, tx }
    }

    /// The handles of stream `s`'s rx and tx queue; each queue goes to one stream only.
    fn take(&mut self, s: &Stream) -> Result<(RxQueue<'p>, TxQueue<'p>)> {
        let index = |port| self.ports.iter().position(|&p| p == port);
        let (rx_i, tx_i) = (index(s.rx_port), index(s.tx_port));
        let rx = rx_i.and_then(|i| self.rx[i].get_mut(usize::from(s.rx_queue))?.take());
        let rx = rx.with_context(|| format!("rx queue {} of port {} is not set up", s.rx_queue, s.rx_port))?;
        let tx = tx_i.and_then(|i| self.tx[i].get_mut(usize::from(s.tx_queue))?.take());
        let tx = tx.with_context(|| format!("tx queue {} of port {} is not set up", s.tx_queue, s.tx_port))?;
        Ok((rx, tx))
    }
}

/// The lcores' jobs: the streams of the ports whose queues are `queues` (in port order, with
/// their MACs in `macs`), dealt to the forwarding lcores.
pub fn plan<'p>(
    cfg: &Spec,
    queues: Vec<Queues<'p>>,
    macs: &[[u8; 6]],
    pool: &'p Mempool<'p>,
    stop: &Arc<AtomicBool>,
    tsc_hz: u64,
    start_tsc: u64,
) -> Result<Plan<'p>> {
    let port_ids: Vec<u16> = queues.iter().map(|q| q.port).collect();
    let mut handles = QueueHandles::new(queues);
    let mode = cfg.forwarding.mode;
    let streams = topology::streams(&port_ids, cfg.rxq, mode);
    let generating = mode.generates();
    let quotas: Vec<Option<u64>> = match (generating, cfg.count) {
        (true, Some(n)) => topology::split_count(n, streams.len()).into_iter().map(Some).collect(),
        _ => vec![None; streams.len()],
    };
    let run_id = mode.tracked_gen().then(|| cfg.run_id.unwrap_or_else(new_run_id));
    let flows = if mode.tracked_gen() { cfg.gen.flows } else { 1 };
    let lane_pps = cfg.gen.rate_pps(cfg.forwarding.pkt_size).map(|pps| pps / streams.len().max(1) as f64);
    let gaps = Arc::new(ArrayQueue::new(4096));
    // gen-rx tracks its own frames coming back, and only them.
    let analysis_cfg = cfg.rx.analysis_config(tsc_hz, if mode == FwdMode::GenRx { run_id } else { cfg.run_id });
    let mut jobs = Vec::new();
    let mut launched = Vec::new();
    let mut lane_index = 0;
    let mut analysis_index = 0;
    for (lcore, lcore_streams) in cfg.fwd_lcores.iter().zip(topology::assign(&streams, cfg.fwd_lcores.len())) {
        if lcore_streams.is_empty() {
            continue;
        }
        let mut stream_jobs = Vec::new();
        for s in &lcore_streams {
            let i = port_ids.iter().position(|&p| p == s.tx_port).unwrap_or(0);
            let dst_mac = cfg.gen.dst_mac.unwrap_or([2, 0, 0, 0, 0, s.tx_port as u8]);
            let gen = generating.then(|| {
                let spec = GenSpec {
                    base: FlowAddrs {
                        src_mac: cfg.gen.src_mac.unwrap_or(macs[i]),
                        dst_mac,
                        src_ip: cfg.gen.src_ip.octets(),
                        dst_ip: cfg.gen.dst_ip.octets(),
                        sport: if mode.tracked_gen() { 1024 } else { 9 },
                        dport: 9,
                    },
                    frame_len: cfg.forwarding.pkt_size,
                    run_id,
                };
                let ids = gen::lane_flows(flows, lane_index, streams.len());
                GenLane::new(&spec, &ids, lane_pps.map(|pps| Pacer::new(pps, tsc_hz, start_tsc)))
            });
            let (rxq, txq) = handles.take(s)?;
            stream_jobs.push(StreamJob {
                stream: *s,
                rxq,
                txq,
                counters: Arc::new(StreamCounters::default()),
                quota: quotas[lane_index],
                gen,
                macs: (dst_mac, macs[i]),
            });
            lane_index += 1;
        }
        let analysis = (mode.analyses() && cfg.rx.track).then(|| {
            analysis_index += 1;
            LcoreAnalysis {
                state: RxAnalysis::new(&analysis_cfg),
                index: analysis_index - 1,
                live: Arc::new(LiveAnalysis::default()),
                gaps: Arc::clone(&gaps),
                result: Arc::new(Mutex::new(None)),
                interleave: cfg.rx.interleave_ms.map(|ms| Interleaving {
                    slice_tsc: u64::from(ms) * tsc_hz / 1000,
                    live: Arc::new(LiveInterleave::default()),
                }),
            }
        });
        launched.push(LaunchedLcore {
            lcore: *lcore,
            streams: stream_jobs.iter().map(|j| (j.stream, Arc::clone(&j.counters))).collect(),
            analysis: analysis.as_ref().map(|a| (Arc::clone(&a.live), Arc::clone(&a.result))),
            interleave: analysis.as_ref().and_then(|a| a.interleave.as_ref()).map(|il| Arc::clone(&il.live)),
            latency: analysis.as_ref().map(|a| a.state.latency.shared()),
        });
        jobs.push((
            *lcore,
            LcoreJob {
                mode,
                streams: stream_jobs,
                burst: cfg.forwarding.burst,
                pkt_size: cfg.forwarding.pkt_size,
                verbose: cfg.forwarding.verbose,
                pool,
                stop: Arc::clone(stop),
                analysis,
                lacp: cfg.lacp,
            },
        ));
    }
    Ok(Plan { jobs, launched, gaps, run_id, streams: streams.len() })
}
