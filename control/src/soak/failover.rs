//! A flap's failover in RFC 6412/6413 and RFC 3357 terms: its loss episodes (RFC 3357 loss
//! periods: the receiver's flow-outage groups), the first- and last-loss instants, the
//! per-flow outage distribution, and the loss-derived convergence time (lost / offered rate of
//! the flows hit), which still shows a failover shorter than the receiver's resolution.

use serde::Serialize;

use super::rx_report::{self, FlowOutage, Outage};

/// vflag-dp's `--gap-ms` default (vflag-dp/src/cli.rs) and its rule that a silence must also
/// be over 10 of the flow's own frame intervals (analysis.rs).
pub const DEFAULT_GAP_MS: f64 = 10.0;
pub const GAP_INTERVALS: f64 = 10.0;

/// The shortest outage the run can see: `ms` = max(`gap_ms`, `k` x a flow's frame interval).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Resolution {
    pub gap_ms: f64,
    pub flow_interval_ms: Option<f64>,
    pub k: f64,
    pub ms: f64,
    /// "receiver" (its report says) or "settings" (worked out from the soak's own settings).
    pub from: &'static str,
}

impl Resolution {
    /// The receiver's figure when its report has one, else one from the settings: `gap_ms`
    /// (the receiver's `--gap-ms`), and each flow's interval from the flows and the rate.
    pub fn of(
        rx: Option<&rx_report::Resolution>,
        gap_ms: Option<f64>,
        flows: Option<u16>,
        rate_pps: Option<f64>,
    ) -> Self {
        if let Some(r) = rx.filter(|r| r.ms.is_finite() && r.ms > 0.0) {
            let k = if r.k > 0 { r.k as f64 } else { GAP_INTERVALS };
            return Resolution {
                gap_ms: r.gap_ms,
                flow_interval_ms: r.flow_interval_ms,
                k,
                ms: r.ms,
                from: "receiver",
            };
        }
        let gap_ms = gap_ms.filter(|g| g.is_finite() && *g > 0.0).unwrap_or(DEFAULT_GAP_MS);
        let interval = match (flows, rate_pps) {
            (Some(n), Some(r)) if n > 0 && r.is_finite() && r > 0.0 => Some(f64::from(n) / r * 1e3),
            _ => None,
        };
        let ms = gap_ms.max(interval.map_or(0.0, |i| GAP_INTERVALS * i));
        Resolution { gap_ms, flow_interval_ms: interval, k: GAP_INTERVALS, ms, from: "settings" }
    }

    /// An outage figure as the table shows it: "< 10" below the resolution, never a bare 0.0.
    pub fn show(&self, ms: f64) -> String {
        if ms < self.ms {
            format!("< {}", short_ms(self.ms))
        } else {
            format!("{ms:.1}")
        }
    }
}

/// 10 for 10.0, 12.5 for 12.5.
pub fn short_ms(v: f64) -> String {
    if (v - v.round()).abs() < 0.05 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// One loss episode of a flap: flows silent together, times relative to the flap's down.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Episode {
    pub start_ms: f64,
    pub duration_ms: f64,
    pub flows: usize,
    /// Of `flows`, foreign 5-tuples (not vflag-dp's own).
    pub foreign_flows: usize,
    pub lost: u64,
    /// The receiver's loss-derived time of this episode, ms, when it gives one.
    pub loss_derived_ms: Option<f64>,
    /// It began after the link came back up: the return cost frames.
    pub after_up: bool,
}

/// The per-flow outages' distribution, ms; min, median and p99 are null where the receiver
/// did not give them (older receivers give only the longest).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FlowDist {
    pub min: Option<f64>,
    pub median: Option<f64>,
    pub p99: Option<f64>,
    pub max: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Failover {
    pub flow_outage_ms: FlowDist,
    /// (lost + foreign lost) / offered rate of the flows hit, ms (RFC 6412's loss-derived
    /// convergence time); null when no rate is known.
    pub loss_derived_ms: Option<f64>,
    /// The offered rate it divides by, frames/s, and where that came from: "receiver" (the hit
    /// flows' rate) or "before-window" (the before-window rate x the failed links' share).
    pub offered_pps: Option<f64>,
    pub offered_from: Option<&'static str>,
    /// Foreign frames lost, as the receiver estimated them.
    pub foreign_lost_est: f64,
    /// First- and last-loss instants, ms after the down command (null: no episode seen).
    pub first_loss_ms: Option<f64>,
    pub last_loss_ms: Option<f64>,
    pub episodes: Vec<Episode>,
    /// The flap's outage was shorter than the resolution: it shows as "< N ms".
    pub below_resolution: bool,
}

/// What one flap's failover is worked out from.
pub struct Inputs<'a> {
    pub down_s: f64,
    pub up_s: f64,
    /// The receiver's flow outages that start in this flap's period.
    pub flow_outages: &'a [&'a FlowOutage],
    /// Its outages of all traffic (the episodes when nothing is tracked).
    pub outages: &'a [&'a Outage],
    pub lost: u64,
    /// The flap's outage figure (as judged) and the resolution.
    pub outage_ms: f64,
    pub resolution_ms: f64,
    /// The before-window's rate and the failed links' share of it, %.
    pub before_pps: f64,
    pub failed_share_pct: f64,
}

pub fn failover(i: &Inputs) -> Failover {
    let rel = |t: f64| (t - i.down_s) * 1e3;
    // A silence that lost nothing (a stalled receiver catching up) is no loss episode.
    let lossy: Vec<&FlowOutage> =
        i.flow_outages.iter().copied().filter(|o| o.lost > 0 || o.foreign_lost_est > 0).collect();
    let mut episodes: Vec<Episode> = lossy
        .iter()
        .map(|o| Episode {
            start_ms: rel(o.start_s),
            duration_ms: o.longest_ms,
            flows: o.flows,
            foreign_flows: o.foreign_flows,
            lost: o.lost,
            loss_derived_ms: o.loss_derived_ms.filter(|v| v.is_finite()),
            after_up: o.start_s >= i.up_s,
        })
        .collect();
    if episodes.is_empty() {
        episodes = i
            .outages
            .iter()
            .filter(|o| o.lost != Some(0))
            .map(|o| Episode {
                start_ms: rel(o.start_s),
                duration_ms: o.duration_ms,
                flows: 0,
                foreign_flows: 0,
                lost: o.lost.unwrap_or(0),
                loss_derived_ms: None,
                after_up: o.start_s >= i.up_s,
            })
            .collect();
    }
    episodes.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
    // The biggest episode is the failover; its figures stand for the flap's.
    let main = lossy.iter().max_by_key(|o| o.flows);
    let max = episodes.iter().map(|e| e.duration_ms).fold(0.0, f64::max);
    let one_flow = main.is_some_and(|o| o.flows == 1 && lossy.len() == 1);
    let flow_outage_ms = FlowDist {
        min: if one_flow {
            Some(max)
        } else {
            let mins = lossy.iter().map(|o| o.min_ms);
            (!lossy.is_empty()).then(|| mins.fold(f64::INFINITY, f64::min))
        },
        median: if one_flow { Some(max) } else { main.map(|o| o.median_ms) },
        p99: if one_flow { Some(max) } else { main.map(|o| o.p99_ms) },
        max,
    };
    let foreign_lost_est = lossy.iter().map(|o| o.foreign_lost_est).sum::<u64>() as f64;
    let fallback = i.before_pps * i.failed_share_pct / 100.0;
    // The hit flows' rate; an outage of all traffic hit every flow, at the rate before it.
    let all = i
        .outages
        .iter()
        .filter(|o| o.lost != Some(0))
        .map(|o| o.offered_pps)
        .filter(|r| r.is_finite() && *r > 0.0)
        .reduce(f64::max);
    let receiver = all.or(main.map(|o| o.offered_pps));
    let (offered_pps, offered_from) = match receiver.filter(|r| r.is_finite() && *r > 0.0) {
        Some(r) => (Some(r), Some("receiver")),
        None if fallback.is_finite() && fallback > 0.0 => (Some(fallback), Some("before-window")),
        None => (None, None),
    };
    let loss_derived_ms = offered_pps.map(|r| (i.lost as f64 + foreign_lost_est) / r * 1e3);
    Failover {
        flow_outage_ms,
        loss_derived_ms,
        offered_pps,
        offered_from,
        foreign_lost_est,
        first_loss_ms: episodes.first().map(|e| e.start_ms),
        last_loss_ms: episodes.iter().map(|e| e.start_ms + e.duration_ms).reduce(f64::max),
        below_resolution: i.outage_ms < i.resolution_ms,
        episodes,
    }
}

/// min / median / p99 / max over flaps (nearest rank); null over none.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Dist {
    pub n: usize,
    pub min: f64,
    pub median: f64,
    pub p99: f64,
    pub max: f64,
}

pub fn dist(values: impl IntoIterator<Item = f64>) -> Option<Dist> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let rank = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    Some(Dist { n: v.len(), min: v[0], median: rank(0.5), p99: rank(0.99), max: v[v.len() - 1] })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A receiver's flow outage of `flows` flows each silent `longest_ms`.
    pub(crate) fn fo(start_s: f64, flows: usize, longest_ms: f64, lost: u64) -> FlowOutage {
        FlowOutage {
            start_s,
            end_s: start_s + longest_ms / 1e3,
            flows,
            longest_ms,
            min_ms: longest_ms,
            median_ms: longest_ms,
            p99_ms: longest_ms,
            lost,
            ..Default::default()
        }
    }

    fn inputs<'a>(fo: &'a [&'a FlowOutage], lost: u64, outage_ms: f64) -> Inputs<'a> {
        Inputs {
            down_s: 4.0,
            up_s: 4.5,
            flow_outages: fo,
            outages: &[],
            lost,
            outage_ms,
            resolution_ms: 10.0,
            before_pps: 20_000.0,
            failed_share_pct: 50.0,
        }
    }

    #[test]
    fn an_outage_under_the_resolution_still_shows_in_the_loss_derived_time() {
        // 52 frames lost, no flow silent long enough to be seen: 52 / 10 kpps = 5.2 ms.
        let f = failover(&inputs(&[], 52, 0.0));
        assert!(f.below_resolution && f.episodes.is_empty(), "{f:?}");
        assert!((f.loss_derived_ms.unwrap() - 5.2).abs() < 1e-9, "{f:?}");
        assert_eq!((f.offered_pps, f.offered_from), (Some(10_000.0), Some("before-window")));
        assert_eq!((f.first_loss_ms, f.last_loss_ms), (None, None));
        let r = Resolution::of(None, None, Some(16), Some(20_000.0));
        assert_eq!((r.gap_ms, r.ms, r.from), (10.0, 10.0, "settings"));
        assert!((r.flow_interval_ms.unwrap() - 0.8).abs() < 1e-12);
        assert_eq!((r.show(0.0), r.show(9.9), r.show(12.34)), ("< 10".into(), "< 10".into(), "12.3".into()));
        // A slow flow: 16 flows at 1 kpps, 16 ms apart, so silences under 160 ms go unseen.
        assert_eq!(Resolution::of(None, Some(5.0), Some(16), Some(1000.0)).ms, 160.0);
        let rx = rx_report::Resolution { gap_ms: 10.0, flow_interval_ms: Some(2.5), k: 10, ms: 25.0 };
        let r = Resolution::of(Some(&rx), None, None, None);
        assert_eq!((r.ms, r.from, r.show(3.0)), (25.0, "receiver", "< 25".into()));
        assert_eq!(Resolution::of(None, Some(f64::NAN), None, None).ms, DEFAULT_GAP_MS, "odd --gap-ms: default");
    }

    #[test]
    fn several_gaps_in_one_flap_are_several_episodes() {
        let a = fo(3.99, 8, 40.0, 300);
        let b = fo(4.2, 2, 15.0, 20);
        let back = fo(4.6, 3, 12.0, 30);
        let stall = fo(4.3, 16, 11.0, 0);
        let f = failover(&inputs(&[&b, &a, &stall, &back], 350, 40.0));
        let starts: Vec<i64> = f.episodes.iter().map(|e| e.start_ms.round() as i64).collect();
        assert_eq!(starts, [-10, 200, 600], "in time order, relative to the down command; the stall lost nothing");
        assert_eq!(f.episodes.iter().map(|e| e.after_up).collect::<Vec<_>>(), [false, false, true]);
        assert_eq!(f.first_loss_ms.map(f64::round), Some(-10.0));
        assert_eq!(f.last_loss_ms.map(f64::round), Some(612.0));
        // The shortest silence of any lossy group; median and p99 those of the largest group.
        assert_eq!(f.flow_outage_ms, FlowDist { min: Some(12.0), median: Some(40.0), p99: Some(40.0), max: 40.0 });
        assert!(!f.below_resolution);
        // No flow rate from the receiver: the before-window's 10 kpps on the failed link.
        assert!((f.loss_derived_ms.unwrap() - 35.0).abs() < 1e-9);
    }

    #[test]
    fn the_receivers_distribution_and_offered_rate_are_used_when_it_gives_them() {
        let a = FlowOutage {
            foreign_flows: 2,
            min_ms: 20.0,
            median_ms: 30.0,
            p99_ms: 39.0,
            foreign_lost_est: 100,
            offered_pps: 8000.0,
            ..fo(4.0, 8, 40.0, 300)
        };
        let f = failover(&inputs(&[&a], 300, 40.0));
        assert_eq!(f.flow_outage_ms, FlowDist { min: Some(20.0), median: Some(30.0), p99: Some(39.0), max: 40.0 });
        assert_eq!(f.offered_from, Some("receiver"));
        assert!((f.loss_derived_ms.unwrap() - 50.0).abs() < 1e-9, "(300 + 100) / 8 kpps");
        // One flow: its silence is every figure.
        let one = fo(4.0, 1, 33.0, 5);
        assert_eq!(failover(&inputs(&[&one], 5, 33.0)).flow_outage_ms.median, Some(33.0));
        // Nothing to divide by: no loss-derived figure rather than inf or NaN.
        let none = Inputs { before_pps: f64::NAN, ..inputs(&[], 5, 0.0) };
        assert_eq!(failover(&none).loss_derived_ms, None);
        // Untracked: the outages of all traffic are the episodes.
        let o = Outage {
            start_s: 4.1,
            end_s: 4.13,
            duration_ms: 30.0,
            lost: None,
            offered_pps: 20_000.0,
            ..Default::default()
        };
        let f = failover(&Inputs { outages: &[&o], ..inputs(&[], 200, 30.0) });
        assert_eq!(f.episodes.len(), 1);
        assert_eq!(f.episodes[0].flows, 0);
        assert_eq!((f.offered_from, f.loss_derived_ms), (Some("receiver"), Some(10.0)), "all traffic was hit");
        // A stall of all traffic that lost nothing says nothing of the rate of the flows hit.
        let stall = Outage { lost: Some(0), ..o };
        let f = failover(&Inputs { outages: &[&stall], ..inputs(&[], 200, 30.0) });
        assert_eq!((f.offered_from, f.episodes.len()), (Some("before-window"), 0));
    }

    #[test]
    fn distributions_over_flaps_take_the_nearest_rank() {
        assert_eq!(dist([]), None);
        assert_eq!(dist([f64::NAN]), None);
        let d = dist([5.0, 1.0, 3.0, 2.0, 4.0]).unwrap();
        assert_eq!((d.n, d.min, d.median, d.p99, d.max), (5, 1.0, 3.0, 5.0, 5.0));
        let d = dist((1..=200).map(f64::from)).unwrap();
        assert_eq!((d.median, d.p99), (100.0, 198.0));
    }
}
