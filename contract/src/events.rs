//! vflag-dp's `--events` JSON Lines: one object a line, `{"event": kind, "t_s": seconds since
//! the run started, ...}`, flushed as it happens so a soak follows the run live. The first line
//! is `start`, carrying [`SCHEMA`]; a reader refuses another version, an unknown kind or a
//! line that does not parse, rather than reading zeros.

use serde::{Deserialize, Serialize};

use crate::report::{Outage, StopReason, Verdict};

pub const SCHEMA: &str = "vflag-dp.events.v1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event<S = serde_json::Value> {
    pub t_s: f64,
    #[serde(flatten)]
    pub what: What<S>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum What<S = serde_json::Value> {
    /// The ports are up and traffic may flow.
    Start {
        schema: String,
        settings: S,
        /// gen: the run id its frames carry.
        run_id: Option<u16>,
        started_unix_s: f64,
    },
    /// A port or bond member's link changed.
    Link {
        port: u16,
        name: String,
        up: bool,
        speed_mbps: u32,
        /// The port's kernel interface was deleted (then `up` is false).
        gone: Option<String>,
    },
    /// No frame at all arrived for a while (`t_s` is its start).
    Outage(Outage),
    /// Every --stats-interval: counters so far.
    Sample {
        ports: Vec<PortSample>,
        members: Vec<MemberSample>,
        /// Tracked traffic so far (None: nothing is analysed).
        tracking: Option<Tracking>,
        /// The tracked frames' latency since the previous sample (None: none arrived).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        latency: Option<SampleLatency>,
    },
    /// The run is over; the report follows.
    End { stop_reason: StopReason, verdict: Verdict },
}

impl<S> Event<S> {
    pub fn start(settings: S, run_id: Option<u16>, started_unix_s: f64) -> Event<S> {
        Event { t_s: 0.0, what: What::Start { schema: SCHEMA.into(), settings, run_id, started_unix_s } }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PortSample {
    pub port: u16,
    pub rx_pps: f64,
    pub tx_pps: f64,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub link_up: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemberSample {
    pub name: String,
    pub rx_packets: u64,
    pub tx_packets: u64,
}

/// Live totals of all analysing lcores.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tracking {
    pub tracked: u64,
    pub lost: u64,
    pub reordered: u64,
    pub duplicates: u64,
    pub foreign: u64,
}

/// A sample's latency of the tracked frames that arrived since the previous sample, so a
/// reader merges samples into any window by adding the counts of equal `ns`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SampleLatency {
    /// Tracked frames with a believable latency.
    pub frames: u64,
    /// Null when `frames` is 0.
    pub p50_ns: Option<u64>,
    pub p99_ns: Option<u64>,
    pub max_ns: Option<u64>,
    /// `[ns, frames]` per non-empty bucket (16 per power of two), `ns` its middle, ascending.
    pub hist: Vec<[u64; 2]>,
    /// Frames over 10 s or stamped after they arrived: the ends do not share a clock.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub implausible: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// One line of an events file. The `start` line's schema is checked here, so a reader that
/// takes every line through this refuses another version at the first line.
pub fn parse_line(line: &str) -> Result<Event, String> {
    let ev: Event = serde_json::from_str(line).map_err(|e| format!("not a {SCHEMA} event ({e}): {line}"))?;
    if let What::Start { schema, .. } = &ev.what {
        if schema != SCHEMA {
            return Err(format!(
                "events schema '{schema}', expected '{SCHEMA}' (vflag-dp and vflag-ctl from different builds?)"
            ));
        }
    }
    Ok(ev)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<S: Serialize>(e: &Event<S>) -> String {
        serde_json::to_string(e).unwrap()
    }

    #[test]
    fn every_kind_reads_back_as_written() {
        let sample = What::Sample {
            ports: vec![PortSample { port: 2, rx_packets: 10, link_up: true, ..Default::default() }],
            members: vec![MemberSample { name: "m0".into(), rx_packets: 4, tx_packets: 0 }],
            tracking: Some(Tracking { tracked: 10, lost: 1, ..Default::default() }),
            latency: Some(SampleLatency {
                frames: 3,
                p50_ns: Some(1056),
                p99_ns: Some(4224),
                max_ns: Some(4224),
                hist: vec![[1056, 2], [4224, 1]],
                implausible: 0,
            }),
        };
        let all = [
            Event::start(serde_json::json!({"fwd": "rxonly"}), Some(7), 1e9),
            Event {
                t_s: 1.5,
                what: What::Link { port: 0, name: "m0".into(), up: false, speed_mbps: 0, gone: Some("veth0".into()) },
            },
            Event { t_s: 2.0, what: What::Outage(Outage { start_s: 2.0, duration_ms: 30.0, ..Default::default() }) },
            Event { t_s: 2.5, what: sample },
            Event { t_s: 3.0, what: What::End { stop_reason: StopReason::Signal, verdict: Verdict::default() } },
        ];
        for e in all {
            let text = line(&e);
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert!(v["event"].is_string() && v["t_s"].is_number(), "{text}");
            assert_eq!(parse_line(&text).unwrap(), e);
        }
        let outage = line(&Event { t_s: 2.0, what: What::<()>::Outage(Outage::default()) });
        assert!(outage.contains(r#""event":"outage""#) && outage.contains(r#""duration_ms""#), "flat: {outage}");
    }

    #[test]
    fn another_version_an_unknown_kind_or_a_renamed_field_is_refused() {
        let start = line(&Event::start((), None, 5.0));
        let e = parse_line(&start.replace(SCHEMA, "vflag-dp.events.v0")).unwrap_err();
        assert!(e.contains("events schema 'vflag-dp.events.v0'"), "{e}");
        assert!(parse_line(r#"{"event":"party","t_s":1}"#).unwrap_err().contains("party"));
        let s = line(&Event::<()> {
            t_s: 1.0,
            what: What::Sample { ports: vec![PortSample::default()], members: vec![], tracking: None, latency: None },
        });
        let e = parse_line(&s.replace("rx_packets", "rx_frames")).unwrap_err();
        assert!(e.contains("rx_packets"), "{e}");
        assert!(parse_line("not json").is_err());
    }
}
