//! The part of vflag-dp's JSON report (schema `vflag-dp.report.v1`) that the soak reads from
//! the receiver: its timeline, outages, tracked loss and bond members.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

pub const SCHEMA: &str = "vflag-dp.report.v1";

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RxReport {
    pub schema: String,
    /// Wall-clock start; every `t_s` below counts from it.
    pub started_unix_s: f64,
    pub duration_s: f64,
    #[serde(default)]
    pub timeline: Vec<Bin>,
    #[serde(default)]
    pub outages: Vec<Outage>,
    pub analysis: Option<Analysis>,
    #[serde(default)]
    pub load_balance: LoadBalance,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Bin {
    pub t_s: f64,
    pub width_s: f64,
    pub rx: Vec<u64>,
    #[serde(default)]
    pub member_rx: Vec<u64>,
}

/// A time when no frame at all arrived.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Outage {
    pub start_s: f64,
    pub duration_ms: f64,
    pub lost: Option<u64>,
    /// The receive rate before it, frames/s.
    #[serde(default)]
    pub offered_pps: f64,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Analysis {
    pub tracked: Tracked,
    #[serde(default)]
    pub frames: Frames,
    #[serde(default)]
    pub flow_outages: Vec<FlowOutage>,
    /// The shortest outage the receiver can see; absent from older receivers.
    #[serde(default)]
    pub resolution: Option<Resolution>,
}

/// `ms` = max(`gap_ms`, `k` x the median per-flow frame interval).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq)]
pub struct Resolution {
    #[serde(default)]
    pub gap_ms: f64,
    #[serde(default)]
    pub flow_interval_ms: Option<f64>,
    #[serde(default)]
    pub k: f64,
    #[serde(default)]
    pub ms: f64,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Tracked {
    pub received: u64,
    pub lost: u64,
    pub loss_pct: f64,
}

/// vflag-dp frames the receiver counted but did not track.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Frames {
    #[serde(default)]
    pub other_run: u64,
    #[serde(default)]
    pub untracked_flow: u64,
}

/// Flows falling silent together (the flows hashed to a failed link): one loss episode. The
/// fields after `lost` come from newer receivers; older ones leave them out (None or 0 here).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FlowOutage {
    pub start_s: f64,
    /// When the last of its flows resumed (0 from a report without it: then start + longest).
    #[serde(default)]
    pub end_s: f64,
    pub flows: usize,
    pub longest_ms: f64,
    #[serde(default)]
    pub lost: u64,
    /// How many of `flows` were foreign 5-tuples, not vflag-dp's own.
    #[serde(default)]
    pub foreign_flows: usize,
    /// The per-flow silences' distribution (`longest_ms` is its max).
    #[serde(default)]
    pub min_ms: Option<f64>,
    #[serde(default)]
    pub median_ms: Option<f64>,
    #[serde(default)]
    pub p99_ms: Option<f64>,
    /// Foreign frames lost, estimated as silence x flow rate.
    #[serde(default)]
    pub foreign_lost_est: f64,
    /// The hit flows' summed rate before their silences, frames/s (0: not given).
    #[serde(default)]
    pub offered_pps: f64,
    #[serde(default)]
    pub loss_derived_ms: Option<f64>,
}

impl FlowOutage {
    pub fn end(&self) -> f64 {
        if self.end_s > self.start_s {
            self.end_s
        } else {
            self.start_s + self.longest_ms / 1e3
        }
    }
}

/// The generator's own account of what it sent (its `--json` report's `generator`).
#[derive(Debug, Clone, Copy, Default, Deserialize, serde::Serialize, PartialEq)]
pub struct Generator {
    pub rate_pps: Option<f64>,
    pub achieved_pps: f64,
    /// Set when it sent more than 5% under the asked rate.
    #[serde(default)]
    pub short_of_rate_pct: Option<f64>,
}

/// The `generator` section of a generator's report; None when unreadable or absent.
pub fn read_generator(path: &Path) -> Option<Generator> {
    #[derive(Deserialize)]
    struct GenReport {
        generator: Option<Generator>,
    }
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str::<GenReport>(&text).ok()?.generator
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct LoadBalance {
    #[serde(default)]
    pub members: Vec<Member>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Member {
    pub name: String,
    pub rx_packets: u64,
}

impl RxReport {
    pub fn parse(text: &str) -> Result<RxReport> {
        let r: RxReport = serde_json::from_str(text).context("not a vflag-dp report")?;
        if r.schema != SCHEMA {
            bail!("report schema '{}', expected '{SCHEMA}' (vflag-dp and vflag-ctl from different builds?)", r.schema);
        }
        Ok(r)
    }

    pub fn read(path: &Path) -> Result<RxReport> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        RxReport::parse(&text).with_context(|| format!("in {}", path.display()))
    }

    /// Bins whose middle lies in [from, to).
    fn bins_in(&self, from: f64, to: f64) -> impl Iterator<Item = &Bin> {
        self.timeline.iter().filter(move |b| {
            let mid = b.t_s + b.width_s / 2.0;
            mid >= from && mid < to
        })
    }

    /// Frames each member received in the bins of [from, to), and the span they cover (s).
    pub fn member_frames(&self, from: f64, to: f64) -> (Vec<u64>, f64) {
        let n = self.load_balance.members.len().max(self.timeline.first().map_or(0, |b| b.member_rx.len()));
        let mut sum = vec![0u64; n];
        let mut span = 0.0;
        for b in self.bins_in(from, to) {
            for (s, v) in sum.iter_mut().zip(&b.member_rx) {
                *s += v;
            }
            span += b.width_s;
        }
        (sum, span)
    }

    /// Frames/s received over the bins of [from, to): the members' sum where there are members
    /// (a bond's own counters jump when a member leaves and rejoins it), else all ports'.
    pub fn rx_rate(&self, from: f64, to: f64) -> f64 {
        let (mut frames, mut span) = (0u64, 0.0);
        for b in self.bins_in(from, to) {
            frames += if b.member_rx.is_empty() { b.rx.iter().sum::<u64>() } else { b.member_rx.iter().sum() };
            span += b.width_s;
        }
        if span > 0.0 {
            frames as f64 / span
        } else {
            0.0
        }
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A receiver report with two members: `bins` of 100 ms as (member 0, member 1) frames.
    pub fn report(bins: &[(u64, u64)]) -> RxReport {
        RxReport {
            schema: SCHEMA.into(),
            started_unix_s: 1000.0,
            duration_s: bins.len() as f64 * 0.1,
            timeline: bins
                .iter()
                .enumerate()
                .map(|(i, &(a, b))| Bin { t_s: i as f64 * 0.1, width_s: 0.1, rx: vec![a + b], member_rx: vec![a, b] })
                .collect(),
            load_balance: LoadBalance {
                members: vec![
                    Member { name: "net_af_packet0".into(), rx_packets: bins.iter().map(|b| b.0).sum() },
                    Member { name: "net_af_packet1".into(), rx_packets: bins.iter().map(|b| b.1).sum() },
                ],
            },
            ..Default::default()
        }
    }

    #[test]
    fn windows_take_the_bins_whose_middle_they_hold() {
        let r = report(&[(10, 0), (10, 10), (0, 10), (5, 5)]);
        let (f, span) = r.member_frames(0.1, 0.3);
        assert_eq!(f, vec![10, 20]);
        assert!((span - 0.2).abs() < 1e-9);
        assert!((r.rx_rate(0.0, 0.4) - 125.0).abs() < 1e-6, "{}", r.rx_rate(0.0, 0.4));
        assert_eq!(r.rx_rate(5.0, 6.0), 0.0);
    }

    #[test]
    fn reads_vflag_dp_json_and_refuses_other_schemas() {
        let text = r#"{"schema":"vflag-dp.report.v1","started_unix_s":1.5,"duration_s":2.0,
            "timeline":[{"t_s":0.0,"width_s":0.01,"rx":[3],"tx":[0],"member_rx":[1,2],"member_tx":[0,0]}],
            "outages":[{"start_s":1.0,"end_s":1.3,"duration_ms":300.0,"lost":12,"offered_pps":1.0}],
            "analysis":{"tracked":{"received":5,"lost":12,"loss_pct":0.1},
              "flow_outages":[{"start_s":1.0,"end_s":1.4,"flows":3,"longest_ms":400.0,"lost":7}]},
            "load_balance":{"members":[{"name":"m0","port":0,"rx_packets":1},{"name":"m1","port":1,"rx_packets":2}]},
            "link_events":[{"t_s":1.0,"port":0,"up":false,"speed_mbps":0}]}"#;
        let r = RxReport::parse(text).unwrap();
        assert_eq!(r.timeline[0].member_rx, vec![1, 2]);
        assert_eq!(r.outages[0].lost, Some(12));
        let o = &r.analysis.as_ref().unwrap().flow_outages[0];
        assert_eq!((o.lost, o.end_s, o.median_ms, o.offered_pps), (7, 1.4, None, 0.0), "older fields default");
        assert_eq!(r.analysis.as_ref().unwrap().resolution, None);
        let newer = text.replace(
            r#""lost":7}]"#,
            r#""lost":7,"foreign_flows":1,"min_ms":20.0,"median_ms":300.0,"p99_ms":399.0,
              "foreign_lost_est":2.5,"offered_pps":3000.0,"loss_derived_ms":3.2}],
              "resolution":{"gap_ms":10.0,"flow_interval_ms":0.8,"k":10,"ms":10.0}"#,
        );
        let a = RxReport::parse(&newer).unwrap().analysis.unwrap();
        let o = &a.flow_outages[0];
        assert_eq!((o.foreign_flows, o.median_ms, o.p99_ms, o.offered_pps), (1, Some(300.0), Some(399.0), 3000.0));
        assert_eq!(a.resolution.unwrap().ms, 10.0);
        assert_eq!(r.load_balance.members[1].name, "m1");
        let e = RxReport::parse(&text.replace("report.v1", "report.v9")).unwrap_err().to_string();
        assert!(e.contains("report schema 'vflag-dp.report.v9'"), "{e}");
        assert!(RxReport::parse("{}").is_err());
    }
}
