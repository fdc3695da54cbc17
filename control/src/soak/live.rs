//! Follows the receiver's `--events` JSON Lines as they are written: per-member receive rates
//! between samples, outages so far, tracked loss; and the progress line made from them.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use vflag_contract::events::{self, Event, What};

/// Reads whole lines appended to a file since the last call.
pub struct EventTail {
    path: PathBuf,
    pos: u64,
    partial: String,
    line: u64,
}

impl EventTail {
    pub fn new(path: &Path) -> Self {
        EventTail { path: path.to_path_buf(), pos: 0, partial: String::new(), line: 0 }
    }

    /// The events written since the last call. A line that is not an event of this build's
    /// contract is an error naming the file and line: a soak that read it anyway would count
    /// zeros where the receiver said something else.
    pub fn poll(&mut self) -> Result<Vec<Event>, String> {
        let Ok(mut f) = File::open(&self.path) else { return Ok(Vec::new()) };
        // Truncated or recreated: start over.
        if f.metadata().is_ok_and(|m| m.len() < self.pos) {
            self.pos = 0;
            self.line = 0;
            self.partial.clear();
        }
        if f.seek(SeekFrom::Start(self.pos)).is_err() {
            return Ok(Vec::new());
        }
        let mut buf = String::new();
        let Ok(n) = f.read_to_string(&mut buf) else { return Ok(Vec::new()) };
        self.pos += n as u64;
        self.partial.push_str(&buf);
        let Some(last_nl) = self.partial.rfind('\n') else { return Ok(Vec::new()) };
        let complete: String = self.partial.drain(..=last_nl).collect();
        let mut out = Vec::new();
        for l in complete.lines() {
            self.line += 1;
            let ev = events::parse_line(l).map_err(|e| format!("{} line {}: {e}", self.path.display(), self.line))?;
            out.push(ev);
        }
        Ok(out)
    }
}

/// What the receiver has said so far.
#[derive(Debug, Clone, Default)]
pub struct Live {
    pub started_unix_s: Option<f64>,
    /// (t_s, rx packets per member, rx packets of all ports) of the last two samples.
    last: Option<(f64, Vec<u64>, u64)>,
    /// Frames/s per member and in all, between the last two samples.
    pub member_pps: Vec<f64>,
    pub rx_pps: f64,
    pub samples: u64,
    pub outages: usize,
    /// The last outage's length and the longest so far, ms.
    pub last_outage_ms: Option<f64>,
    pub max_outage_ms: Option<f64>,
    /// Whether the receiver tracks frames (its samples carry `tracking`).
    pub tracking: bool,
    pub tracked: u64,
    pub lost: u64,
    /// (t_s, tracked frames lost so far) at every sample: loss per flap comes from these, as
    /// a flow's loss shows when it resumes, which need not be at the end of its silence.
    pub lost_series: Vec<(f64, u64)>,
}

impl Live {
    pub fn feed(&mut self, ev: &Event) {
        let t = ev.t_s;
        match &ev.what {
            What::Start { started_unix_s, .. } => self.started_unix_s = Some(*started_unix_s),
            What::Outage(o) => {
                self.outages += 1;
                self.last_outage_ms = Some(o.duration_ms);
                self.max_outage_ms = Some(self.max_outage_ms.unwrap_or(0.0).max(o.duration_ms));
            }
            What::Sample { ports, members, tracking, .. } => {
                let members: Vec<u64> = members.iter().map(|m| m.rx_packets).collect();
                // The members' sum where there are members: a bond's own counters jump when a
                // member leaves and rejoins it.
                let rx: u64 =
                    if members.is_empty() { ports.iter().map(|p| p.rx_packets).sum() } else { members.iter().sum() };
                if let Some((t0, m0, rx0)) = &self.last {
                    let dt = t - t0;
                    if dt > 0.0 {
                        self.member_pps =
                            members.iter().zip(m0).map(|(a, b)| a.saturating_sub(*b) as f64 / dt).collect();
                        self.rx_pps = rx.saturating_sub(*rx0) as f64 / dt;
                    }
                }
                self.last = Some((t, members, rx));
                self.samples += 1;
                if let Some(tr) = tracking {
                    self.tracking = true;
                    self.tracked = tr.tracked;
                    self.lost = tr.lost;
                    self.lost_series.push((t, self.lost));
                }
            }
            What::Link { .. } | What::End { .. } => {}
        }
    }

    /// Traffic is flowing (rates known from two samples); with `spread`, on every member.
    pub fn carrying(&self, spread: bool) -> bool {
        self.samples >= 2
            && self.rx_pps > 0.0
            && (!spread || (!self.member_pps.is_empty() && self.member_pps.iter().all(|&r| r > 0.0)))
    }

    /// `rx 20.0 kpps (p0 10.0k, p1 10.0k) | outages 1 | lost 1234`
    pub fn status(&self, members: &[String]) -> String {
        let per: Vec<String> =
            members.iter().zip(&self.member_pps).map(|(m, r)| format!("{m} {:.1}k", r / 1e3)).collect();
        let per = if per.is_empty() { String::new() } else { format!(" ({})", per.join(", ")) };
        format!("rx {:.1} kpps{per} | outages {} | lost {}", self.rx_pps / 1e3, self.outages, self.lost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use vflag_contract::events::{MemberSample, PortSample, Tracking};

    fn line(e: &Event) -> String {
        serde_json::to_string(e).unwrap()
    }

    #[test]
    fn tail_returns_only_whole_new_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.jsonl");
        let mut t = EventTail::new(&p);
        assert!(t.poll().unwrap().is_empty(), "no file yet");
        let mut f = File::create(&p).unwrap();
        let start = line(&Event::start(serde_json::json!({}), None, 5.5));
        let end =
            line(&Event { t_s: 1.0, what: What::End { stop_reason: Default::default(), verdict: Default::default() } });
        let (head, tail) = end.split_at(10);
        write!(f, "{start}\n{head}").unwrap();
        let first = t.poll().unwrap();
        assert_eq!(first.len(), 1);
        assert!(matches!(first[0].what, What::Start { started_unix_s, .. } if started_unix_s == 5.5));
        writeln!(f, "{tail}").unwrap();
        let second = t.poll().unwrap();
        assert!(matches!((second.len(), &second[0].what), (1, What::End { .. })));
        assert!(t.poll().unwrap().is_empty());
        // A line of another contract stops the reading, naming the file and line.
        writeln!(f, "{}", start.replace(events::SCHEMA, "vflag-dp.events.v0")).unwrap();
        let e = t.poll().unwrap_err();
        assert!(e.contains("e.jsonl line 3") && e.contains("events schema 'vflag-dp.events.v0'"), "{e}");
        writeln!(f, r#"{{"event":"sample","t_s":2,"ports":[{{"port":0,"rx_frames":1}}]}}"#).unwrap();
        assert!(t.poll().unwrap_err().contains("line 4"));
    }

    fn sample(t: f64, m0: u64, m1: u64, lost: u64) -> Event {
        Event {
            t_s: t,
            what: What::Sample {
                ports: vec![PortSample { port: 2, rx_packets: m0 + m1, ..Default::default() }],
                members: vec![
                    MemberSample { name: "a".into(), rx_packets: m0, tx_packets: 0 },
                    MemberSample { name: "b".into(), rx_packets: m1, tx_packets: 0 },
                ],
                tracking: Some(Tracking { tracked: m0 + m1, lost, ..Default::default() }),
                latency: None,
            },
        }
    }

    #[test]
    fn rates_between_samples_and_convergence() {
        let mut l = Live::default();
        l.feed(&Event::start(serde_json::json!({}), None, 100.0));
        l.feed(&sample(0.5, 0, 0, 0));
        assert!(!l.carrying(false), "one sample gives no rate");
        l.feed(&sample(1.0, 5_000, 0, 0));
        assert!(l.carrying(false) && !l.carrying(true), "one member only");
        l.feed(&sample(1.5, 10_000, 5_000, 3));
        assert!(l.carrying(true));
        assert_eq!(l.member_pps, vec![10_000.0, 10_000.0]);
        let outage = |ms| Event {
            t_s: 1.6,
            what: What::Outage(vflag_contract::report::Outage { duration_ms: ms, ..Default::default() }),
        };
        l.feed(&outage(40.0));
        l.feed(&outage(12.0));
        assert_eq!((l.last_outage_ms, l.max_outage_ms), (Some(12.0), Some(40.0)));
        let names = vec!["p0".to_string(), "p1".to_string()];
        assert_eq!(l.status(&names), "rx 20.0 kpps (p0 10.0k, p1 10.0k) | outages 2 | lost 3");
        assert_eq!(l.started_unix_s, Some(100.0));
        assert_eq!(l.lost_series, vec![(0.5, 0), (1.0, 0), (1.5, 3)]);
    }
}
