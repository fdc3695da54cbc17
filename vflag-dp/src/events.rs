//! `--events FILE`: JSON Lines written as things happen (run start, link changes, outages,
//! periodic samples, end), one flushed line each, so a soak can be followed with `tail -f`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use serde::Serialize;

pub struct EventLog {
    out: Option<BufWriter<File>>,
    failed: bool,
}

impl EventLog {
    pub fn open(path: Option<&Path>) -> std::io::Result<Self> {
        let out = path.map(File::create).transpose()?.map(BufWriter::new);
        Ok(EventLog { out, failed: false })
    }

    /// Writes `{"event": kind, "t_s": t, ...fields}`. A write error is reported once, then
    /// the log stops (the run goes on).
    pub fn write<T: Serialize>(&mut self, kind: &str, t_s: f64, fields: &T) {
        let Some(out) = self.out.as_mut() else { return };
        let mut v = serde_json::json!({ "event": kind, "t_s": t_s });
        if let (Some(map), Ok(serde_json::Value::Object(extra))) = (v.as_object_mut(), serde_json::to_value(fields)) {
            map.extend(extra);
        }
        let ok = serde_json::to_writer(&mut *out, &v).is_ok() && out.write_all(b"\n").is_ok() && out.flush().is_ok();
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
        log.write("link", 1.5, &serde_json::json!({"port": 0, "up": false}));
        // Readable before the log is closed: every line is flushed.
        let text = std::fs::read_to_string(&p).unwrap();
        let v: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!((v["event"].as_str(), v["t_s"].as_f64(), v["up"].as_bool()), (Some("link"), Some(1.5), Some(false)));
        log.write("end", 2.0, &serde_json::json!({}));
        assert_eq!(std::fs::read_to_string(&p).unwrap().lines().count(), 2);
        let mut none = EventLog::open(None).unwrap();
        none.write("x", 0.0, &serde_json::json!({}));
    }
}
