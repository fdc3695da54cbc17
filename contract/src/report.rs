//! vflag-dp's end-of-run JSON report (`--json`, schema [`SCHEMA`]): written by vflag-dp,
//! read by `vflag-ctl soak` (the receiver's timeline, outages, loss, members) and from the
//! generator's report (what it sent). `settings` is the run's own command line, as the writer
//! sees it: a type parameter, so vflag-dp writes its `Config` and a reader takes a JSON value.

use std::net::Ipv4Addr;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Version tag of the layout; bumped on any incompatible change, refused by readers otherwise.
pub const SCHEMA: &str = "vflag-dp.report.v2";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// --duration elapsed.
    #[default]
    Duration,
    /// SIGINT or SIGTERM.
    Signal,
    /// --count packets received.
    Count,
    /// Every forwarding lcore finished (txonly --count sent).
    Done,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report<S = serde_json::Value> {
    pub schema: String,
    pub vflag_version: String,
    pub dpdk_version: String,
    pub settings: S,
    /// Wall-clock start; every `t_s` and `start_s` in the report counts from it.
    pub started_unix_s: f64,
    pub duration_s: f64,
    pub stop_reason: StopReason,
    pub ports: Vec<PortReport>,
    pub streams: Vec<StreamReport>,
    pub link_events: Vec<LinkEventReport>,
    pub totals: Totals,
    /// gen: what was generated.
    pub generator: Option<GeneratorReport>,
    /// rxonly: what the received frames were (absent with --no-track).
    pub analysis: Option<AnalysisReport>,
    /// --interleave-ms: the rates with and without the analysis, and their ratio.
    pub interleave: Option<InterleaveReport>,
    /// Times when no frame at all arrived.
    pub outages: Vec<Outage>,
    pub load_balance: LoadBalance,
    /// Frames per --bin-ms bin, per port and per bond member.
    pub timeline: Vec<Bin>,
    pub verdict: Verdict,
}

/// Reads a report and checks its schema; errors name the file.
///
/// Read through a buffer, never as one string: a long soak's report runs to hundreds of
/// megabytes (its rate timeline), and the text beside the parsed report doubled the reader's
/// peak memory. The schema is read first, in a pass of its own, as [`parse`] does.
pub fn read(path: &Path) -> Result<Report, String> {
    #[derive(Deserialize)]
    struct Tag {
        schema: Option<String>,
    }
    let open = || {
        std::fs::File::open(path).map(std::io::BufReader::new).map_err(|e| format!("reading {}: {e}", path.display()))
    };
    let named = |e: String| format!("{}: {e}", path.display());
    let tag: Tag = serde_json::from_reader(open()?).map_err(|e| named(format!("not a vflag-dp report: {e}")))?;
    check_schema(tag.schema.as_deref()).map_err(named)?;
    serde_json::from_reader(open()?).map_err(|e| named(format!("not a {SCHEMA} report: {e}")))
}

fn check_schema(schema: Option<&str>) -> Result<(), String> {
    match schema {
        Some(SCHEMA) => Ok(()),
        Some(other) => {
            Err(format!("report schema '{other}', expected '{SCHEMA}' (vflag-dp and vflag-ctl from different builds?)"))
        }
        None => Err("not a vflag-dp report: no schema".into()),
    }
}

/// A report from its JSON text: the schema first (so another version is named as such, not
/// as a missing field), then the whole layout.
pub fn parse(text: &str) -> Result<Report, String> {
    #[derive(Deserialize)]
    struct Tag {
        schema: Option<String>,
    }
    let tag: Tag = serde_json::from_str(text).map_err(|e| format!("not a vflag-dp report: {e}"))?;
    check_schema(tag.schema.as_deref())?;
    serde_json::from_str(text).map_err(|e| format!("not a {SCHEMA} report: {e}"))
}

impl<S> Report<S> {
    /// The timeline's bins that the window [from, to) counts ([`crate::window`]).
    fn bins_in(&self, from: f64, to: f64) -> impl Iterator<Item = &Bin> {
        self.timeline.iter().filter(move |b| b.in_window(from, to))
    }

    /// Frames each bond member received in the bins of [from, to), and the span they cover (s).
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

/// A generator this much under its asked rate says so.
pub const RATE_SHORTFALL_PCT: f64 = 5.0;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GeneratorReport {
    pub run_id: u16,
    pub flows: u16,
    /// Frames per second asked for (None: as fast as possible).
    pub rate_pps: Option<f64>,
    /// Frames per second sent, over the run.
    pub achieved_pps: f64,
    /// How far, in %, the achieved rate fell short of the asked one, when by more than
    /// [`RATE_SHORTFALL_PCT`]: the offered load was not what the test was set up with.
    pub short_of_rate_pct: Option<f64>,
}

impl GeneratorReport {
    pub fn new(run_id: u16, flows: u16, rate_pps: Option<f64>, achieved_pps: f64) -> GeneratorReport {
        let short = rate_pps
            .filter(|&asked| asked > 0.0)
            .map(|asked| (1.0 - achieved_pps / asked) * 100.0)
            .filter(|&pct| pct > RATE_SHORTFALL_PCT);
        GeneratorReport { run_id, flows, rate_pps, achieved_pps, short_of_rate_pct: short }
    }

    /// "the generator sent 1.430 Mpps of the 2.000 Mpps asked (28.5% short)", when it fell short.
    pub fn shortfall_line(&self) -> Option<String> {
        let (asked, pct) = (self.rate_pps?, self.short_of_rate_pct?);
        Some(format!(
            "the generator sent {:.3} Mpps of the {:.3} Mpps asked ({pct:.1}% short)",
            self.achieved_pps / 1e6,
            asked / 1e6
        ))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PortReport {
    pub id: u16,
    pub name: String,
    pub driver: String,
    pub mac: String,
    pub rx_desc: u16,
    pub tx_desc: u16,
    pub link_up: bool,
    pub link_speed_mbps: u32,
    pub rx_packets: u64,
    pub rx_missed: u64,
    pub rx_nombuf: u64,
    pub rx_errors: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    /// Refused by the driver's tx queue and freed by vflag-dp (testpmd's TX-dropped).
    pub tx_dropped: u64,
    pub tx_errors: u64,
    pub tx_bytes: u64,
    pub rx_pps_avg: f64,
    pub tx_pps_avg: f64,
    /// The driver's extended statistics that are non-zero.
    pub xstats: std::collections::BTreeMap<String, u64>,
}

/// One rx queue and the tx queue its packets (or generated packets) go to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stream {
    pub rx_port: u16,
    pub rx_queue: u16,
    pub tx_port: u16,
    pub tx_queue: u16,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamReport {
    pub lcore: u32,
    #[serde(flatten)]
    pub stream: Stream,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub tx_dropped: u64,
    /// --fwd reflect: received frames that were not IPv4 and so not sent back (freed).
    #[serde(default)]
    pub not_reflected: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LinkEventReport {
    /// Seconds since the ports started.
    pub t_s: f64,
    pub port: u16,
    pub up: bool,
    pub speed_mbps: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub rx_packets: u64,
    pub rx_missed: u64,
    pub rx_nombuf: u64,
    pub rx_errors: u64,
    pub tx_packets: u64,
    pub tx_dropped: u64,
    pub tx_errors: u64,
    pub rx_pps_avg: f64,
    pub tx_pps_avg: f64,
    /// --fwd reflect: received frames not sent back (not IPv4).
    #[serde(default)]
    pub not_reflected: u64,
}

/// Frames by what they turned out to be.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassCounts {
    /// vflag-dp's own frames of the run being tracked.
    pub tracked: u64,
    /// IPv4 frames that are not ours (foreign traffic), counted per 5-tuple.
    pub foreign: u64,
    pub non_ip: u64,
    pub malformed: u64,
    pub short: u64,
    /// Frames with a VLAN tag (also counted in one of the above).
    pub vlan: u64,
    /// vflag-dp frames of another run (an old generator still sending).
    pub other_run: u64,
    /// vflag-dp frames whose flow id is beyond --track-flows.
    pub untracked_flow: u64,
}

impl ClassCounts {
    pub fn add(&mut self, o: &ClassCounts) {
        self.tracked += o.tracked;
        self.foreign += o.foreign;
        self.non_ip += o.non_ip;
        self.malformed += o.malformed;
        self.short += o.short;
        self.vlan += o.vlan;
        self.other_run += o.other_run;
        self.untracked_flow += o.untracked_flow;
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FlowReport {
    pub flow: u16,
    pub received: u64,
    pub lost: u64,
    pub reordered: u64,
    pub duplicates: u64,
}

/// One-way latency of tracked frames, ns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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

/// The shortest outage the run can see: a flow's silence counts when it is longer than
/// `--gap-ms` and than k of the flow's own intervals, so that is the resolution; anything
/// shorter shows only as loss.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
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
    /// `intervals`: each flow's mean ticks between arrivals; `k`: intervals of silence that
    /// make a flow's outage.
    pub fn new(gap_ms: f64, mut intervals: Vec<f64>, tsc_hz: f64, k: u64) -> Resolution {
        intervals.sort_by(f64::total_cmp);
        let flow_interval_ms = intervals.get(intervals.len() / 2).map(|t| t / tsc_hz * 1e3);
        let ms = flow_interval_ms.map_or(gap_ms, |i| gap_ms.max(i * k as f64));
        Resolution { gap_ms, flow_interval_ms, k, ms }
    }
}

/// An outage of all traffic, as reported (and as its `outage` event).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Outage {
    /// Seconds since the run started.
    pub start_s: f64,
    pub end_s: f64,
    pub duration_ms: f64,
    /// Tracked frames lost in it (None when only foreign traffic was seen).
    pub lost: Option<u64>,
    /// Receive rate before the outage, frames per second.
    pub offered_pps: f64,
    /// lost / offered rate, in ms (RFC 6413's loss-derived convergence time).
    pub loss_derived_ms: Option<f64>,
    /// Link changes from 1 s before the outage to 1 s after it: (seconds, port, up).
    pub link_events: Vec<(f64, u16, bool)>,
    /// Still silent when the run ended: `end_s` is the run's end, the outage lasted at least
    /// this long.
    pub open: bool,
}

/// Silences of individual flows that overlap in time, grouped: what a failover looks like when
/// only the flows hashed to the failed link stop. vflag-dp's own flows and foreign 5-tuples
/// alike; a foreign flow's loss is estimated from its pace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FlowOutage {
    pub start_s: f64,
    /// When the last of its flows resumed.
    pub end_s: f64,
    /// Flows that went silent in it.
    pub flows: usize,
    /// Of those, foreign 5-tuples (not vflag-dp's own frames).
    pub foreign_flows: usize,
    /// Each flow's silence (the sum of its silences in the group), over the flows: ms.
    pub min_ms: f64,
    pub median_ms: f64,
    pub p99_ms: f64,
    /// The longest single flow's silence, ms.
    pub longest_ms: f64,
    /// Tracked frames the silent flows lost across their silences (exact, from sequences).
    pub lost: u64,
    /// Foreign frames lost, estimated: each silence times its flow's rate before it.
    pub foreign_lost_est: u64,
    /// The silent flows' rates before their silences, summed: frames/s.
    pub offered_pps: f64,
    /// (lost + foreign_lost_est) / offered_pps, ms: RFC 6412's loss-derived convergence time
    /// over the flows the failure hit.
    pub loss_derived_ms: Option<f64>,
}

/// One mode's share of an interleaved run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ModeRate {
    pub packets: u64,
    /// Time spent in this mode, averaged over the receiving lcores.
    pub seconds: f64,
    /// Millions of frames per second while in this mode (all lcores).
    pub mpps: f64,
}

/// The `interleave` section of the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InterleaveReport {
    pub slice_ms: u32,
    /// Slices run, both modes, all lcores.
    pub slices: u64,
    pub plain: ModeRate,
    pub analysing: ModeRate,
    /// analysing / plain rate: the share of plain rxonly's rate the analysis keeps.
    pub ratio: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemberReport {
    pub name: String,
    pub port: u16,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_share_pct: f64,
    pub tx_share_pct: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueShare {
    pub port: u16,
    pub queue: u16,
    pub rx_packets: u64,
    pub share_pct: f64,
}

/// How member shares moved around one member link change: 1 s before and 1 s after.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShareShift {
    pub t_s: f64,
    pub member: String,
    pub up: bool,
    pub shares_before_pct: Vec<f64>,
    pub shares_after_pct: Vec<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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

/// Frames counted in one bin of the rate timeline.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Bin {
    /// Start of the bin, seconds since the run started.
    pub t_s: f64,
    pub width_s: f64,
    pub rx: Vec<u64>,
    pub tx: Vec<u64>,
    pub member_rx: Vec<u64>,
    pub member_tx: Vec<u64>,
}

impl Bin {
    /// Whether the window [from, to) counts this bin: the one rule, [`crate::window`].
    pub fn in_window(&self, from: f64, to: f64) -> bool {
        crate::window::holds(from, to, self.t_s, self.t_s + self.width_s)
    }
}

/// Pass or fail against the run's thresholds, as the report and the `end` event say it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub pass: bool,
    /// Thresholds given (none: the run passes by default).
    pub checked: Vec<String>,
    /// One line per failed threshold, naming the figure and the limit.
    pub failures: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A receiver report with two members: `bins` of 100 ms as (member 0, member 1) frames.
    fn report(bins: &[(u64, u64)]) -> Report {
        Report {
            schema: SCHEMA.into(),
            timeline: bins
                .iter()
                .enumerate()
                .map(|(i, &(a, b))| Bin {
                    t_s: i as f64 * 0.1,
                    width_s: 0.1,
                    rx: vec![a + b],
                    member_rx: vec![a, b],
                    ..Default::default()
                })
                .collect(),
            load_balance: LoadBalance {
                members: vec![
                    MemberReport { name: "m0".into(), ..Default::default() },
                    MemberReport { name: "m1".into(), ..Default::default() },
                ],
                ..Default::default()
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
    fn a_report_reads_back_as_written_and_other_schemas_are_refused() {
        let mut r = report(&[(3, 4)]);
        r.outages.push(Outage { start_s: 1.0, end_s: 1.3, duration_ms: 300.0, lost: Some(12), ..Default::default() });
        r.analysis = Some(AnalysisReport {
            flow_outages: vec![FlowOutage { start_s: 1.0, end_s: 1.4, flows: 3, lost: 7, ..Default::default() }],
            ..Default::default()
        });
        r.generator = Some(GeneratorReport::new(7, 32, Some(2e6), 1.43e6));
        let text = serde_json::to_string(&r).unwrap();
        let back = parse(&text).unwrap();
        assert_eq!(back.timeline, r.timeline);
        assert_eq!(back.outages, r.outages);
        assert_eq!(back.analysis, r.analysis);
        assert_eq!(
            back.generator.as_ref().and_then(GeneratorReport::shortfall_line).unwrap(),
            "the generator sent 1.430 Mpps of the 2.000 Mpps asked (28.5% short)"
        );

        let old = text.replace(SCHEMA, "vflag-dp.report.v1");
        let e = parse(&old).unwrap_err();
        assert!(e.contains("report schema 'vflag-dp.report.v1', expected 'vflag-dp.report.v2'"), "{e}");
        // A renamed field is an error naming it, not a zero.
        let renamed = text.replace("\"duration_ms\"", "\"length_ms\"");
        assert!(parse(&renamed).unwrap_err().contains("duration_ms"), "{}", parse(&renamed).unwrap_err());
        assert!(parse("{}").unwrap_err().contains("no schema"));
        assert!(parse("[1]").is_err() && parse("").is_err());
    }

    #[test]
    fn the_shortfall_is_named_only_past_five_percent() {
        assert_eq!(GeneratorReport::new(1, 1, Some(100.0), 96.0).short_of_rate_pct, None);
        let short = GeneratorReport::new(1, 1, Some(100.0), 90.0).short_of_rate_pct.unwrap();
        assert!((short - 10.0).abs() < 1e-9);
        assert_eq!(GeneratorReport::new(1, 1, None, 90.0).shortfall_line(), None);
    }

    #[test]
    fn resolution_is_the_gap_or_k_median_intervals() {
        let r = Resolution::new(10.0, vec![3e6, 1e6, 2e6], 1e9, 10);
        assert_eq!((r.flow_interval_ms, r.ms), (Some(2.0), 20.0));
        assert_eq!(Resolution::new(10.0, vec![], 1e9, 10).ms, 10.0);
    }
}
