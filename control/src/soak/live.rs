//! Follows the receiver's `--events` JSON Lines as they are written: per-member receive rates
//! between samples, outages so far, tracked loss; and the progress line made from them.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Reads whole lines appended to a file since the last call.
pub struct EventTail {
    path: PathBuf,
    pos: u64,
    partial: String,
}

impl EventTail {
    pub fn new(path: &Path) -> Self {
        EventTail { path: path.to_path_buf(), pos: 0, partial: String::new() }
    }

    pub fn poll(&mut self) -> Vec<Value> {
        let Ok(mut f) = File::open(&self.path) else { return Vec::new() };
        // Truncated or recreated: start over.
        if f.metadata().is_ok_and(|m| m.len() < self.pos) {
            self.pos = 0;
            self.partial.clear();
        }
        if f.seek(SeekFrom::Start(self.pos)).is_err() {
            return Vec::new();
        }
        let mut buf = String::new();
        let Ok(n) = f.read_to_string(&mut buf) else { return Vec::new() };
        self.pos += n as u64;
        self.partial.push_str(&buf);
        let Some(last_nl) = self.partial.rfind('\n') else { return Vec::new() };
        let complete: String = self.partial.drain(..=last_nl).collect();
        complete.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
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
    pub tracked: u64,
    pub lost: u64,
    /// (t_s, tracked frames lost so far) at every sample: loss per flap comes from these, as
    /// a flow's loss shows when it resumes, which need not be at the end of its silence.
    pub lost_series: Vec<(f64, u64)>,
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

impl Live {
    pub fn feed(&mut self, ev: &Value) {
        match ev["event"].as_str() {
            Some("start") => self.started_unix_s = ev["started_unix_s"].as_f64(),
            Some("outage") => self.outages += 1,
            Some("sample") => {
                let t = ev["t_s"].as_f64().unwrap_or(0.0);
                let members: Vec<u64> = ev["members"]
                    .as_array()
                    .map(|a| a.iter().map(|m| u(&m["rx_packets"])).collect())
                    .unwrap_or_default();
                // The members' sum where there are members: a bond's own counters jump when a
                // member leaves and rejoins it.
                let rx: u64 = if members.is_empty() {
                    ev["ports"].as_array().map(|a| a.iter().map(|p| u(&p["rx_packets"])).sum()).unwrap_or(0)
                } else {
                    members.iter().sum()
                };
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
                if let Some(tr) = ev.get("tracking").filter(|v| v.is_object()) {
                    self.tracked = u(&tr["tracked"]);
                    self.lost = u(&tr["lost"]);
                    self.lost_series.push((t, self.lost));
                }
            }
            _ => {}
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

    #[test]
    fn tail_returns_only_whole_new_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.jsonl");
        let mut t = EventTail::new(&p);
        assert!(t.poll().is_empty(), "no file yet");
        let mut f = File::create(&p).unwrap();
        write!(f, "{{\"event\":\"start\",\"t_s\":0,\"started_unix_s\":5.5}}\n{{\"event\":\"sam").unwrap();
        let first = t.poll();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0]["started_unix_s"], 5.5);
        writeln!(f, "ple\",\"t_s\":1}}").unwrap();
        let second = t.poll();
        assert_eq!((second.len(), second[0]["event"].as_str()), (1, Some("sample")));
        assert!(t.poll().is_empty());
    }

    fn sample(t: f64, m0: u64, m1: u64, lost: u64) -> Value {
        serde_json::json!({"event": "sample", "t_s": t,
            "ports": [{"port": 2, "rx_packets": m0 + m1}],
            "members": [{"name": "a", "rx_packets": m0}, {"name": "b", "rx_packets": m1}],
            "tracking": {"tracked": m0 + m1, "lost": lost}})
    }

    #[test]
    fn rates_between_samples_and_convergence() {
        let mut l = Live::default();
        l.feed(&serde_json::json!({"event": "start", "t_s": 0.0, "started_unix_s": 100.0}));
        l.feed(&sample(0.5, 0, 0, 0));
        assert!(!l.carrying(false), "one sample gives no rate");
        l.feed(&sample(1.0, 5_000, 0, 0));
        assert!(l.carrying(false) && !l.carrying(true), "one member only");
        l.feed(&sample(1.5, 10_000, 5_000, 3));
        assert!(l.carrying(true));
        assert_eq!(l.member_pps, vec![10_000.0, 10_000.0]);
        l.feed(&serde_json::json!({"event": "outage", "t_s": 1.6}));
        let names = vec!["p0".to_string(), "p1".to_string()];
        assert_eq!(l.status(&names), "rx 20.0 kpps (p0 10.0k, p1 10.0k) | outages 1 | lost 3");
        assert_eq!(l.started_unix_s, Some(100.0));
        assert_eq!(l.lost_series, vec![(0.5, 0), (1.0, 0), (1.5, 3)]);
    }
}
