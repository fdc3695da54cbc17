//! `--events FILE`: JSON Lines written as things happen (run start, link changes, outages,
//! periodic samples, end), one flushed line each, so a soak can be followed with `tail -f`.
//! The lines are `vflag_contract::events::Event`s: what vflag-ctl reads them as.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use serde::Serialize;
pub use vflag_contract::events::{Event, MemberSample, PortSample, Tracking, What};

pub struct EventLog {
    out: Option<BufWriter<File>>,
    failed: bool,
}

impl EventLog {
    pub fn open(path: Option<&Path>) -> std::io::Result<Self> {
        let out = path.map(File::create).transpose()?.map(BufWriter::new);
        Ok(EventLog { out, failed: false })
    }

    /// Writes one event as a line. A write error is reported once, then the log stops (the
    /// run goes on).
    pub fn write<S: Serialize>(&mut self, t_s: f64, what: What<S>) {
        let Some(out) = self.out.as_mut() else { return };
        let ev = Event { t_s, what };
        let ok = serde_json::to_writer(&mut *out, &ev).is_ok() && out.write_all(b"\n").is_ok() && out.flush().is_ok();
        if !ok && !self.failed {
            self.failed = true;
            eprintln!("vflag-dp: warning: writing --events failed; no more events will be written");
            self.out = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_flushed_json_object_per_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.jsonl");
        let mut log = EventLog::open(Some(&p)).unwrap();
        let start = Event::start(serde_json::json!({"fwd": "rxonly"}), None, 100.0);
        log.write(start.t_s, start.what.clone());
        // Readable before the log is closed: every line is flushed; and as the contract reads it.
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(vflag_contract::events::parse_line(text.lines().next().unwrap()).unwrap(), start);
        let link = What::<()>::Link { port: 0, name: "m0".into(), up: false, speed_mbps: 0, gone: None };
        log.write(1.5, link);
        let text = std::fs::read_to_string(&p).unwrap();
        let v: serde_json::Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
        assert_eq!((v["event"].as_str(), v["t_s"].as_f64(), v["up"].as_bool()), (Some("link"), Some(1.5), Some(false)));
        let mut none = EventLog::open(None).unwrap();
        none.write(0.0, What::<()>::Outage(Default::default()));
    }
}
