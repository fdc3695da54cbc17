//! The end-of-run sections of the report built from the lcores' merged state: tracked traffic
//! (per flow, latency), foreign flows, load balance over bond members, queues and flows.

use std::net::Ipv4Addr;

use dpdk_sys::port::Stats;
use serde::Serialize;

use crate::analysis::{ClassCounts, RxAnalysis};
use crate::balance::{jain, shares};
use crate::outage::{flow_outages, FlowOutage};
use crate::report::{LinkEventReport, StreamReport};
use crate::timeline::Timeline;

#[derive(Debug, Clone, Serialize)]
pub struct AnalysisReport {
    pub run_id: Option<u16>,
    pub frames: ClassCounts,
    pub tracked: TrackedTotals,
    pub flows: Vec<FlowReport>,
    /// Jain's index over the tracked flows' received frames.
    pub flow_fairness: Option<f64>,
    pub latency_ns: Option<Latency>,
    pub foreign_flows: ForeignFlows,
    /// Times when some flows, tracked or foreign, went silent while others may have carried
    /// on (a LAG member failing): grouped per-flow silences over --gap-ms.
    pub flow_outages: Vec<FlowOutage>,
    /// The shortest outage this run can see.
    pub resolution: Resolution,
    /// Flow silences not kept (more than the lcores had room for).
    pub flow_gaps_dropped: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TrackedTotals {
    pub received: u64,
    pub lost: u64,
    /// lost / (received + lost), %.
    pub loss_pct: f64,
    pub reordered: u64,
    pub duplicates: u64,
    /// Frames that could not be placed in their flow's sequence (too old, or a jump beyond
    /// what the flow can have sent).
    pub stale: u64,
    /// Flows that restarted their sequence (two frames in a row that could not be placed).
    pub resyncs: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FlowReport {
    pub flow: u16,
    pub received: u64,
    pub lost: u64,
    pub reordered: u64,
    pub duplicates: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub count: u64,
    pub min: u64,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ForeignFlow {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub proto: u8,
    pub sport: u16,
    pub dport: u16,
    pub packets: u64,
    /// First and last frame, seconds since the run started.
    pub first_s: f64,
    pub last_s: f64,
    /// Its recent rate, frames/s.
    pub rate_pps: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ForeignFlows {
    pub count: usize,
    /// Flows followed per lcore (`--track-foreign`).
    pub capacity: usize,
    /// Frames of flows the table had no room for (counted, their silences not seen).
    pub overflow: u64,
    pub fairness: Option<f64>,
    /// The busiest flows, most first (at most 32).
    pub top: Vec<ForeignFlow>,
}

pub fn analysis_report(a: &RxAnalysis, tsc0: u64) -> AnalysisReport {
    let flows: Vec<FlowReport> = a
        .flows
        .iter()
        .enumerate()
        .map(|(i, f)| (i, &f.seq))
        .filter(|(_, f)| f.started())
        .map(|(i, f)| FlowReport {
            flow: i as u16,
            received: f.received,
            lost: f.lost,
            reordered: f.reordered,
            duplicates: f.duplicates,
        })
        .collect();
    let received: u64 = flows.iter().map(|f| f.received).sum();
    let lost: u64 = flows.iter().map(|f| f.lost).sum();
    let h = a.latency.to_ns(a.tsc_hz);
    let latency = (!h.is_empty()).then(|| Latency {
        count: h.len(),
        min: h.min(),
        mean: h.mean(),
        p50: h.value_at_quantile(0.5),
        p90: h.value_at_quantile(0.9),
        p99: h.value_at_quantile(0.99),
        p999: h.value_at_quantile(0.999),
        max: h.max(),
    });
    let hz = a.tsc_hz.max(1) as f64;
    let at = |t: u64| (t as f64 - tsc0 as f64) / hz;
    let mut foreign: Vec<ForeignFlow> = a
        .tuples
        .entries()
        .map(|e| ForeignFlow {
            src: e.tuple.src.into(),
            dst: e.tuple.dst.into(),
            proto: e.tuple.proto,
            sport: e.tuple.sport,
            dport: e.tuple.dport,
            packets: e.packets,
            first_s: at(e.arrivals.first),
            last_s: at(e.arrivals.last),
            rate_pps: e.arrivals.rate_per_tick() * hz,
        })
        .collect();
    let intervals: Vec<f64> =
        a.flow_intervals().chain(a.tuples.entries().filter_map(|e| e.arrivals.interval()).map(|t| t as f64)).collect();
    foreign.sort_by_key(|f| std::cmp::Reverse(f.packets));
    let fairness = jain(&foreign.iter().map(|f| f.packets).collect::<Vec<_>>());
    AnalysisReport {
        run_id: a.run_id,
        frames: a.counts,
        tracked: TrackedTotals {
            received,
            lost,
            loss_pct: if received + lost == 0 { 0.0 } else { lost as f64 * 100.0 / (received + lost) as f64 },
            reordered: flows.iter().map(|f| f.reordered).sum(),
            duplicates: flows.iter().map(|f| f.duplicates).sum(),
            stale: a.stale,
            resyncs: a.resyncs,
        },
        flow_fairness: jain(&flows.iter().map(|f| f.received).collect::<Vec<_>>()),
        flows,
        latency_ns: latency,
        flow_outages: flow_outages(&a.flow_gaps, tsc0, hz),
        resolution: Resolution::new(a.gap_tsc() as f64 / hz * 1e3, intervals, hz),
        flow_gaps_dropped: a.flow_gaps_dropped,
        foreign_flows: ForeignFlows {
            count: a.tuples.len(),
            capacity: a.tuples.capacity(),
            overflow: a.tuples.overflow,
            fairness,
            top: foreign.into_iter().take(32).collect(),
        },
    }
}

/// The shortest outage the run can see: a flow's silence counts when it is longer than
/// `--gap-ms` and than k of the flow's own intervals, so that is the resolution; anything
/// shorter shows only as loss.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resolution {
    pub gap_ms: f64,
    /// The median over flows of each one's mean time between arrivals, ms (None: no flow
    /// was heard twice).
    pub flow_interval_ms: Option<f64>,
    pub k: u64,
    /// max(gap_ms, k x flow_interval_ms).
    pub ms: f64,
}

impl Resolution {
    /// `intervals`: each flow's mean ticks between arrivals.
    pub fn new(gap_ms: f64, mut intervals: Vec<f64>, tsc_hz: f64) -> Resolution {
        intervals.sort_by(f64::total_cmp);
        let flow_interval_ms = intervals.get(intervals.len() / 2).map(|t| t / tsc_hz * 1e3);
        let k = crate::arrivals::K;
        let ms = flow_interval_ms.map_or(gap_ms, |i| gap_ms.max(i * k as f64));
        Resolution { gap_ms, flow_interval_ms, k, ms }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct MemberReport {
    pub name: String,
    pub port: u16,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_share_pct: f64,
    pub tx_share_pct: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct QueueShare {
    pub port: u16,
    pub queue: u16,
    pub rx_packets: u64,
    pub share_pct: f64,
}

/// How member shares moved around one member link change: 1 s before and 1 s after.
#[derive(Debug, Clone, Serialize)]
pub struct ShareShift {
    pub t_s: f64,
    pub member: String,
    pub up: bool,
    pub shares_before_pct: Vec<f64>,
    pub shares_after_pct: Vec<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoadBalance {
    /// On real VF-LAG the VF cannot see its links: per-link counters come from the PFs
    /// (`vflag-ctl counters`), not from here; `members` is then empty.
    pub members: Vec<MemberReport>,
    pub member_fairness_rx: Option<f64>,
    pub member_fairness_tx: Option<f64>,
    pub queues: Vec<QueueShare>,
    pub queue_fairness: Option<f64>,
    pub shifts: Vec<ShareShift>,
}

impl LoadBalance {
    /// Each member's share of the direction that carried traffic (rx if any, else tx).
    pub fn member_shares(&self) -> Vec<(String, f64)> {
        let rx: u64 = self.members.iter().map(|m| m.rx_packets).sum();
        self.members.iter().map(|m| (m.name.clone(), if rx > 0 { m.rx_share_pct } else { m.tx_share_pct })).collect()
    }
}

pub fn load_balance(
    names: &[String],
    ids: &[u16],
    member_stats: &[Stats],
    streams: &[StreamReport],
    timeline: &Timeline,
    links: &[LinkEventReport],
) -> LoadBalance {
    let rx: Vec<u64> = member_stats.iter().map(|s| s.rx_packets).collect();
    let tx: Vec<u64> = member_stats.iter().map(|s| s.tx_packets).collect();
    let (rx_sh, tx_sh) = (shares(&rx), shares(&tx));
    let members = names
        .iter()
        .zip(ids)
        .enumerate()
        .map(|(i, (n, &id))| MemberReport {
            name: n.clone(),
            port: id,
            rx_packets: rx[i],
            tx_packets: tx[i],
            rx_share_pct: rx_sh[i],
            tx_share_pct: tx_sh[i],
        })
        .collect();
    let q: Vec<u64> = streams.iter().map(|s| s.rx_packets).collect();
    let q_sh = shares(&q);
    let queues = streams
        .iter()
        .zip(&q_sh)
        .map(|(s, sh)| QueueShare {
            port: s.stream.rx_port,
            queue: s.stream.rx_queue,
            rx_packets: s.rx_packets,
            share_pct: *sh,
        })
        .collect();
    let shifts = links
        .iter()
        .filter_map(|e| {
            let i = ids.iter().position(|&m| m == e.port)?;
            Some(ShareShift {
                t_s: e.t_s,
                member: names[i].clone(),
                up: e.up,
                shares_before_pct: shares(&timeline.member_frames(e.t_s - 1.0, e.t_s)),
                shares_after_pct: shares(&timeline.member_frames(e.t_s, e.t_s + 1.0)),
            })
        })
        .collect();
    LoadBalance {
        members,
        member_fairness_rx: jain(&rx),
        member_fairness_tx: jain(&tx),
        queue_fairness: jain(&q),
        queues,
        shifts,
    }
}
