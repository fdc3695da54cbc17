//! `--reflect`: the far side's view of the round trip (switch -> VF -> switch), read from its
//! gen-rx report, and the DUT's egress split over the links from their transmit counters. The
//! DUT's reflector measures the way in; what the round trip lost beyond that was lost on the
//! way back.

use serde::Serialize;
use vflag_contract::report::Report;

use super::analyze::{self, FlapRecord, LinkWindow};
use super::link_counters::LinkSeries;
use super::rx_report::RxReport;
use super::seen::Seen;

/// A far-side figure this long after a flap's link came back still belongs to that flap.
const AFTER_S: f64 = 2.0;

/// The round trip over the whole soak, and per flap.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RoundTrip {
    /// Tracked frames the far side sent, got back and lost.
    pub sent: u64,
    pub received: u64,
    pub lost: u64,
    pub loss_pct: f64,
    /// Of those lost, lost on the way in (the DUT's reflector counted them) and, the rest, on
    /// the way back.
    pub lost_in: u64,
    pub lost_back: u64,
    /// Round-trip latency over the soak, µs (one clock: the far side's).
    pub latency_p50_us: Option<f64>,
    pub latency_p99_us: Option<f64>,
    pub latency_max_us: Option<f64>,
    /// The DUT's egress share on each link over the soak, %, from the links' tx counters.
    pub egress_shares_pct: Vec<f64>,
    pub flaps: Vec<FlapRoundTrip>,
}

/// One flap as the far side saw it, and where the DUT's egress went.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FlapRoundTrip {
    pub flap: usize,
    /// The longest round-trip silence of all traffic starting in the flap (0: none), ms.
    pub outage_ms: f64,
    /// The round trip's flow outages starting in the flap: flows hit, longest silence, lost.
    pub flows_hit: usize,
    pub longest_flow_ms: f64,
    pub lost: u64,
    /// The DUT's egress over the links before, during and after the flap (null without tx
    /// counters).
    pub egress_before: Option<LinkWindow>,
    pub egress_during: Option<LinkWindow>,
    pub egress_after: Option<LinkWindow>,
}

/// Builds the round trip from the far side's report `far`, the DUT's reflector report `rx`
/// (and its windows per flap, `flaps`), the flap records and the links' counters.
pub fn measure(
    far: &Report,
    rx: &RxReport,
    flaps: &[analyze::FlapResult],
    records: &[FlapRecord],
    links: Option<&LinkSeries>,
) -> RoundTrip {
    let back = far.analysis.as_ref().map(|a| a.tracked.clone()).unwrap_or_default();
    let lost_in = rx.analysis.as_ref().map_or(0, |a| a.tracked.lost);
    let sent = far.totals.tx_packets;
    let lat = far.analysis.as_ref().and_then(|a| a.latency_ns.clone()).filter(|l| l.count > 0);
    let tx = links.map(LinkSeries::transmitted);
    let tx_seen = tx.as_ref().map(|t| Seen { rx, members: &[], links: Some(t) });
    // Far-side seconds are since its own start; flaps are in unix time.
    let far_unix = |s: f64| far.started_unix_s + s;
    let per_flap = records
        .iter()
        .map(|r| {
            let within = |s: f64| (r.down_unix_s..r.up_unix_s + AFTER_S).contains(&far_unix(s));
            let outages: Vec<_> = far.outages.iter().filter(|o| within(o.start_s)).collect();
            let flows: Vec<_> =
                far.analysis.iter().flat_map(|a| &a.flow_outages).filter(|o| within(o.start_s)).collect();
            let f = flaps.iter().find(|f| f.number == r.number);
            let egress = |w: Option<&analyze::Window>| {
                let (seen, w) = (tx_seen?, w?);
                analyze::window(seen, w.from_s, w.to_s).links
            };
            FlapRoundTrip {
                flap: r.number,
                outage_ms: outages.iter().map(|o| o.duration_ms).fold(0.0, f64::max),
                flows_hit: flows.iter().map(|o| o.flows).max().unwrap_or(0),
                longest_flow_ms: flows.iter().map(|o| o.longest_ms).fold(0.0, f64::max),
                lost: flows.iter().map(|o| o.lost).sum(),
                egress_before: egress(f.map(|f| &f.before)),
                egress_during: egress(f.map(|f| &f.during)),
                egress_after: egress(f.map(|f| &f.after)),
            }
        })
        .collect();
    RoundTrip {
        sent,
        received: back.received,
        lost: back.lost,
        loss_pct: back.loss_pct,
        lost_in: lost_in.min(back.lost),
        lost_back: back.lost.saturating_sub(lost_in),
        latency_p50_us: lat.as_ref().map(|l| l.p50 as f64 / 1e3),
        latency_p99_us: lat.as_ref().map(|l| l.p99 as f64 / 1e3),
        latency_max_us: lat.as_ref().map(|l| l.max as f64 / 1e3),
        egress_shares_pct: analyze::link_shares(tx.as_ref()),
        flaps: per_flap,
    }
}

/// The table's lines for the round trip.
pub fn markdown(rt: &RoundTrip, links: &[String]) -> String {
    let us = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.0}"));
    let shares = |w: &Option<LinkWindow>| {
        w.as_ref()
            .map_or("-".to_string(), |w| w.shares_pct.iter().map(|s| format!("{s:.0}")).collect::<Vec<_>>().join("/"))
    };
    let mut s = format!(
        "\nRound trip (far side): {} sent, {} back, {} lost ({:.4}%: {} on the way in, {} on the way back); latency p50 {} µs, p99 {} µs, max {} µs\n",
        rt.sent,
        rt.received,
        rt.lost,
        rt.loss_pct,
        rt.lost_in,
        rt.lost_back,
        us(rt.latency_p50_us),
        us(rt.latency_p99_us),
        us(rt.latency_max_us)
    );
    if !rt.egress_shares_pct.is_empty() {
        let each: Vec<String> = rt.egress_shares_pct.iter().zip(links).map(|(p, l)| format!("{l} {p:.1}%")).collect();
        s += &format!("DUT egress over the links: {}\n", each.join(", "));
    }
    if !rt.flaps.is_empty() {
        s +=
            "\n| flap | all-traffic outage ms | flows hit | longest flow ms | lost | egress before | during | after |\n";
        s += "|---|---|---|---|---|---|---|---|\n";
        for f in &rt.flaps {
            s += &format!(
                "| {} | {} | {} | {:.1} | {} | {} | {} | {} |\n",
                f.flap,
                // No silence of all traffic at all is not a 0 ms one.
                if f.outage_ms > 0.0 { format!("{:.1}", f.outage_ms) } else { "none".to_string() },
                f.flows_hit,
                f.longest_flow_ms,
                f.lost,
                shares(&f.egress_before),
                shares(&f.egress_during),
                shares(&f.egress_after)
            );
        }
    }
    // A blank line ends the table: the next part must not run into it.
    s + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use vflag_contract::report::{AnalysisReport, FlowOutage, Latency, Outage, TrackedTotals};

    fn far() -> Report {
        Report {
            started_unix_s: 999.0,
            analysis: Some(AnalysisReport {
                tracked: TrackedTotals { received: 9_900, lost: 100, loss_pct: 1.0, ..Default::default() },
                latency_ns: Some(Latency {
                    count: 9_900,
                    p50: 80_000,
                    p99: 900_000,
                    max: 2_000_000,
                    ..Default::default()
                }),
                flow_outages: vec![
                    FlowOutage {
                        start_s: 2.2,
                        end_s: 2.5,
                        flows: 8,
                        longest_ms: 300.0,
                        lost: 90,
                        ..Default::default()
                    },
                    FlowOutage {
                        start_s: 30.0,
                        end_s: 30.1,
                        flows: 1,
                        longest_ms: 100.0,
                        lost: 10,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }),
            outages: vec![Outage { start_s: 2.21, end_s: 2.23, duration_ms: 20.0, ..Default::default() }],
            totals: vflag_contract::report::Totals { tx_packets: 10_000, ..Default::default() },
            ..Default::default()
        }
    }

    #[test]
    fn the_round_trip_splits_its_loss_and_gives_each_flap_what_started_in_it() {
        let mut rx = crate::soak::rx_report::tests::report(&[(10, 10); 60]);
        rx.analysis = Some(AnalysisReport {
            tracked: TrackedTotals { received: 9_960, lost: 40, ..Default::default() },
            ..Default::default()
        });
        // Flap 1: down at unix 1001.0 (far side 2.0 s), up at 1001.5.
        let records = vec![FlapRecord {
            number: 1,
            links: vec!["l0".into()],
            link_idx: vec![0],
            down_unix_s: 1001.0,
            up_unix_s: 1001.5,
            cut_short: false,
        }];
        let rt = measure(&far(), &rx, &[], &records, None);
        assert_eq!((rt.sent, rt.received, rt.lost), (10_000, 9_900, 100));
        assert_eq!((rt.lost_in, rt.lost_back), (40, 60), "the reflector's loss was the way in");
        assert_eq!((rt.latency_p50_us, rt.latency_p99_us), (Some(80.0), Some(900.0)));
        let f = &rt.flaps[0];
        assert_eq!((f.flap, f.flows_hit, f.lost), (1, 8, 90), "the flow outage at 30 s is no part of it");
        assert_eq!((f.outage_ms, f.longest_flow_ms), (20.0, 300.0));
        assert_eq!(f.egress_during, None, "no tx counters, no egress");
        let md = markdown(&rt, &[]);
        assert!(md.contains("100 lost (1.0000%: 40 on the way in, 60 on the way back)"), "{md}");
        assert!(md.contains("| 1 | 20.0 | 8 | 300.0 | 90 | - | - | - |"), "{md}");
    }

    #[test]
    fn the_egress_split_comes_from_the_links_tx_counters() {
        let rx = crate::soak::rx_report::tests::report(&[(10, 10); 30]);
        // rx.started_unix_s is 1000; link 1 stops transmitting from 1001.0 to 1002.0.
        let mut tx = Vec::new();
        let (mut a, mut b) = (0u64, 0u64);
        for i in 0..=30 {
            let t = 1000.0 + i as f64 * 0.1;
            tx.push((t, vec![a, b]));
            a += 100;
            b += if (1001.0..1002.0).contains(&t) { 0 } else { 100 };
        }
        let links = LinkSeries { names: vec!["l0".into(), "l1".into()], samples: tx.clone(), tx_samples: tx };
        let w = |from_s: f64, to_s: f64| analyze::Window { from_s, to_s, ..Default::default() };
        let mut f = crate::soak::verdict::tests::flap(1, 0.0, true, vec![]);
        (f.before, f.during, f.after) = (w(0.0, 0.9), w(1.1, 1.9), w(2.1, 2.9));
        let records = vec![FlapRecord {
            number: 1,
            links: vec!["l1".into()],
            link_idx: vec![1],
            down_unix_s: 1001.0,
            up_unix_s: 1002.0,
            cut_short: false,
        }];
        let rt = measure(&far(), &rx, &[f], &records, Some(&links));
        let fl = &rt.flaps[0];
        assert_eq!(fl.egress_before.as_ref().unwrap().shares_pct, vec![50.0, 50.0]);
        assert_eq!(fl.egress_during.as_ref().unwrap().shares_pct, vec![100.0, 0.0]);
        assert_eq!(fl.egress_after.as_ref().unwrap().shares_pct, vec![50.0, 50.0]);
        let mut rt = rt;
        let md = markdown(&rt, &links.names);
        assert!(md.contains("| 1 | 20.0 | 8 | 300.0 | 90 | 50/50 | 100/0 | 50/50 |"), "{md}");
        rt.flaps[0].outage_ms = 0.0;
        let md = markdown(&rt, &links.names);
        assert!(md.contains("| 1 | none | 8 |"), "no silence of all traffic is not a 0 ms one: {md}");
        assert!(md.ends_with("|\n\n"), "a blank line ends the table");
    }
}
