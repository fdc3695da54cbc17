//! The end-of-run sections of the report built from the lcores' merged state: tracked traffic
//! (per flow, latency), foreign flows, load balance over bond members, queues and flows.

use dpdk::port::Stats;

use crate::analysis::RxAnalysis;
use crate::balance::{jain, shares};
use crate::outage::flow_outages;
use crate::report::{LinkEventReport, StreamReport};
use crate::timeline::Timeline;
pub use vflag_contract::report::{
    AnalysisReport, FlowReport, ForeignFlow, ForeignFlows, Latency, LoadBalance, MemberReport, QueueShare, Resolution,
    ShareShift, TrackedTotals,
};

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
        resolution: Resolution::new(a.gap_tsc() as f64 / hz * 1e3, intervals, hz, crate::arrivals::K),
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
