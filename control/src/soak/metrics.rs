//! `--metrics FILE`: the soak's running figures for Prometheus, as a node_exporter textfile
//! (the Prometheus text exposition format 0.0.4, no `# EOF`: that is OpenMetrics', and the
//! textfile collector reads the Prometheus format). Rewritten whole each second from the same
//! sample the progress line shows (`FILE.tmp`, then renamed over FILE, so a scrape never reads
//! half a file), and once more when the soak ends, with the verdict.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use outfile::OutFile;

/// What one rewrite of the file shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    /// Running (traffic started, not yet stopped).
    pub up: bool,
    /// The report is written (`verdict` holds its outcome).
    pub finished: bool,
    pub flaps_done: usize,
    /// None while watching flaps done by hand (`--duration`).
    pub flaps_planned: Option<usize>,
    pub rx_pps: f64,
    /// (bond member, frames/s) between the receiver's last two samples.
    pub members: Vec<(String, f64)>,
    /// (link, frames/s) from the links' own counters.
    pub links: Vec<(String, f64)>,
    /// Outages of all traffic the receiver reported, and the last and longest, ms.
    pub outages: usize,
    pub last_outage_ms: Option<f64>,
    pub max_outage_ms: Option<f64>,
    /// Tracked frames received and lost so far (None: the receiver tracks none).
    pub tracked: Option<(u64, u64)>,
    pub samples: u64,
    /// The verdict once the report is written.
    pub pass: Option<bool>,
    /// vflag-ctl's own peak resident memory (VmHWM), bytes: a long soak's memory, watched.
    pub peak_rss_bytes: Option<u64>,
    pub updated_unix_s: f64,
}

/// The file, checked writable before traffic starts and rewritten whole each time.
#[derive(Debug)]
pub struct MetricsFile {
    path: PathBuf,
    /// `--out`, the label that tells two soaks' files apart in one collector directory.
    soak: String,
    /// The last figures written, so a soak that ends on an error says it stopped.
    last: Figures,
    warned: bool,
}

impl MetricsFile {
    /// Creates FILE (through FILE.tmp) with the figures of a soak not yet started: a path that
    /// cannot be written is one line naming it, before anything runs.
    pub fn create(path: &Path, out: &Path) -> Result<MetricsFile, String> {
        let m = MetricsFile {
            path: path.to_path_buf(),
            soak: out.display().to_string(),
            last: Figures::default(),
            warned: false,
        };
        OutFile::reserve("--metrics", path)?.commit(render(&m.soak, &m.last).as_bytes())?;
        Ok(m)
    }

    /// Rewrites the file; a failure is a warning (once), the soak goes on.
    pub fn write(&mut self, f: Figures) {
        let result =
            OutFile::reserve("--metrics", &self.path).and_then(|o| o.commit(render(&self.soak, &f).as_bytes()));
        if let Err(e) = result {
            if !self.warned {
                eprintln!("vflag-ctl: warning: {e} (the live figures stop there; the soak goes on)");
                self.warned = true;
            }
        }
        self.last = f;
    }
}

impl Drop for MetricsFile {
    /// A soak that ends without its report (an error, Ctrl-C before traffic) is no longer up.
    fn drop(&mut self) {
        if self.last.up && !self.last.finished {
            let f = Figures { up: false, updated_unix_s: super::clock::unix_now(), ..self.last.clone() };
            self.write(f);
        }
    }
}

/// This process's peak resident memory, from `/proc/self/status` (`VmHWM:  1234 kB`).
pub fn peak_rss_bytes() -> Option<u64> {
    vm_hwm(&std::fs::read_to_string("/proc/self/status").ok()?)
}

fn vm_hwm(status: &str) -> Option<u64> {
    let kb = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().strip_suffix("kB")?;
    kb.trim().parse::<u64>().ok().map(|k| k * 1024)
}

/// A label value as the exposition format quotes it.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// A float as the format writes it (`NaN`, `+Inf` spelled its way).
fn value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

/// One metric family: HELP and TYPE, then each sample with the soak's label first.
fn family(s: &mut String, soak: &str, name: &str, kind: &str, help: &str, samples: &[(Option<(&str, &str)>, f64)]) {
    let _ = writeln!(s, "# HELP vflag_soak_{name} {help}");
    let _ = writeln!(s, "# TYPE vflag_soak_{name} {kind}");
    for (extra, v) in samples {
        let extra = extra.map(|(k, v)| format!(",{k}=\"{}\"", label(v))).unwrap_or_default();
        let _ = writeln!(s, "vflag_soak_{name}{{soak=\"{}\"{extra}}} {}", label(soak), value(*v));
    }
}

/// The file's text.
pub fn render(soak: &str, f: &Figures) -> String {
    let mut s = String::new();
    let one = |v: f64| [(None, v)];
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    family(&mut s, soak, "up", "gauge", "1 while the soak runs traffic, 0 before and after.", &one(flag(f.up)));
    family(&mut s, soak, "finished", "gauge", "1 once the soak wrote its report.", &one(flag(f.finished)));
    if let Some(p) = f.pass {
        family(&mut s, soak, "pass", "gauge", "The verdict: 1 pass, 0 fail (present once finished).", &one(flag(p)));
    }
    family(&mut s, soak, "flaps_done", "gauge", "Flaps done so far.", &one(f.flaps_done as f64));
    if let Some(p) = f.flaps_planned {
        family(&mut s, soak, "flaps_planned", "gauge", "Flaps the schedule plans.", &one(p as f64));
    }
    family(&mut s, soak, "rx_pps", "gauge", "Frames per second the receiver took in, all ports.", &one(f.rx_pps));
    if !f.members.is_empty() {
        let m: Vec<_> = f.members.iter().map(|(n, v)| (Some(("member", n.as_str())), *v)).collect();
        family(&mut s, soak, "member_rx_pps", "gauge", "Frames per second each bond member took in.", &m);
    }
    if !f.links.is_empty() {
        let l: Vec<_> = f.links.iter().map(|(n, v)| (Some(("link", n.as_str())), *v)).collect();
        family(&mut s, soak, "link_rx_pps", "gauge", "Frames per second each link took in, from its own counters.", &l);
    }
    family(
        &mut s,
        soak,
        "outages_total",
        "counter",
        "Outages of all traffic the receiver reported.",
        &one(f.outages as f64),
    );
    if let Some(v) = f.last_outage_ms {
        family(&mut s, soak, "outage_last_ms", "gauge", "The last outage's length, ms.", &one(v));
    }
    if let Some(v) = f.max_outage_ms {
        family(&mut s, soak, "outage_max_ms", "gauge", "The longest outage so far, ms.", &one(v));
    }
    if let Some((received, lost)) = f.tracked {
        family(&mut s, soak, "tracked_received_total", "counter", "Tracked frames received.", &one(received as f64));
        family(&mut s, soak, "tracked_lost_total", "counter", "Tracked frames lost.", &one(lost as f64));
        let sent = received + lost;
        let pct = if sent > 0 { lost as f64 * 100.0 / sent as f64 } else { 0.0 };
        family(&mut s, soak, "loss_percent", "gauge", "Tracked frames lost, % of those sent.", &one(pct));
    }
    family(&mut s, soak, "samples_total", "counter", "Receiver samples taken in.", &one(f.samples as f64));
    if let Some(b) = f.peak_rss_bytes {
        family(
            &mut s,
            soak,
            "ctl_peak_rss_bytes",
            "gauge",
            "vflag-ctl's peak resident memory (VmHWM).",
            &one(b as f64),
        );
    }
    family(&mut s, soak, "updated_unix_seconds", "gauge", "When this file was written.", &one(f.updated_unix_s));
    s
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A check of the text exposition format as Prometheus' parser applies it: every line a
    /// HELP, a TYPE or a sample; a family's HELP and TYPE before its samples and once; each
    /// name and label name valid, label values quoted, values numbers. Returns the samples.
    /// A sample: its name, its labels, its value.
    pub(crate) type Sample = (String, Vec<(String, String)>, f64);

    pub(crate) fn parse(text: &str) -> Result<Vec<Sample>, String> {
        let name_ok = |n: &str| {
            let mut c = n.chars();
            c.next().is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
                && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
        };
        let (mut typed, mut helped, mut seen_samples) =
            (Vec::<String>::new(), Vec::<String>::new(), Vec::<String>::new());
        let mut out = Vec::new();
        if !text.ends_with('\n') {
            return Err("the last line has no newline".into());
        }
        for (i, line) in text.lines().enumerate() {
            let at = |e: String| format!("line {}: {e}: {line}", i + 1);
            if let Some(rest) = line.strip_prefix("# ") {
                let (kw, rest) = rest.split_once(' ').ok_or_else(|| at("bare comment".into()))?;
                let (name, arg) = rest.split_once(' ').ok_or_else(|| at("no text".into()))?;
                if !name_ok(name) || seen_samples.iter().any(|n| n == name) {
                    return Err(at("bad name, or after its samples".into()));
                }
                match kw {
                    "HELP" if !helped.contains(&name.to_string()) => helped.push(name.into()),
                    "TYPE" if !typed.contains(&name.to_string()) => {
                        if !["counter", "gauge", "untyped", "summary", "histogram"].contains(&arg) {
                            return Err(at(format!("type {arg}")));
                        }
                        typed.push(name.into())
                    }
                    _ => return Err(at("a second HELP or TYPE, or an unknown keyword".into())),
                }
                continue;
            }
            let (head, v) = line.rsplit_once(' ').ok_or_else(|| at("no value".into()))?;
            let v: f64 = match v {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                "NaN" => f64::NAN,
                v => v.parse().map_err(|_| at(format!("value {v}")))?,
            };
            let (name, labels) = match head.split_once('{') {
                None => (head, Vec::new()),
                Some((n, l)) => {
                    let l = l.strip_suffix('}').ok_or_else(|| at("unclosed labels".into()))?;
                    let mut labels = Vec::new();
                    let mut rest = l;
                    while !rest.is_empty() {
                        let (k, r) = rest.split_once("=\"").ok_or_else(|| at("label without =\"".into()))?;
                        if !name_ok(k) || k.starts_with("__") {
                            return Err(at(format!("label name {k}")));
                        }
                        // The value ends at the first quote no backslash escapes.
                        let (mut val, mut chars, mut end) = (String::new(), r.char_indices(), None);
                        while let Some((j, c)) = chars.next() {
                            match c {
                                '\\' => match chars.next() {
                                    Some((_, 'n')) => val.push('\n'),
                                    Some((_, e @ ('\\' | '"'))) => val.push(e),
                                    _ => return Err(at("bad escape".into())),
                                },
                                '"' => {
                                    end = Some(j);
                                    break;
                                }
                                c => val.push(c),
                            }
                        }
                        let end = end.ok_or_else(|| at("unclosed label value".into()))?;
                        labels.push((k.to_string(), val));
                        rest = r[end + 1..].strip_prefix(',').unwrap_or(&r[end + 1..]);
                    }
                    (n, labels)
                }
            };
            if !name_ok(name) || !typed.iter().any(|t| t == name) || !helped.iter().any(|t| t == name) {
                return Err(at("a sample without its HELP and TYPE first, or a bad name".into()));
            }
            if seen_samples.last().map(String::as_str) != Some(name) {
                if seen_samples.iter().any(|n| n == name) {
                    return Err(at("a family's samples not together".into()));
                }
                seen_samples.push(name.into());
            }
            out.push((name.to_string(), labels, v));
        }
        Ok(out)
    }

    fn running() -> Figures {
        Figures {
            up: true,
            flaps_done: 3,
            flaps_planned: Some(1000),
            rx_pps: 20_000.0,
            members: vec![("p0".into(), 10_000.0), ("p1".into(), 10_000.5)],
            links: vec![("s\"0\\".into(), 9_999.0)],
            outages: 2,
            last_outage_ms: Some(12.5),
            max_outage_ms: Some(480.0),
            tracked: Some((99_000, 1_000)),
            samples: 42,
            updated_unix_s: 1_796_629_190.25,
            ..Default::default()
        }
    }

    #[test]
    fn the_running_figures_are_valid_exposition_text() {
        let text = render("/tmp/out", &running());
        let samples = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let get = |name: &str, label: Option<(&str, &str)>| {
            samples
                .iter()
                .find(|(n, l, _)| n == name && label.is_none_or(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v)))
                .map(|s| s.2)
        };
        assert_eq!(get("vflag_soak_up", None), Some(1.0));
        assert_eq!(get("vflag_soak_flaps_done", None), Some(3.0));
        assert_eq!(get("vflag_soak_flaps_planned", None), Some(1000.0));
        assert_eq!(get("vflag_soak_member_rx_pps", Some(("member", "p1"))), Some(10_000.5));
        assert_eq!(get("vflag_soak_link_rx_pps", Some(("link", "s\"0\\"))), Some(9_999.0), "escaped and read back");
        assert_eq!(get("vflag_soak_loss_percent", None), Some(1.0));
        assert_eq!(get("vflag_soak_outage_max_ms", None), Some(480.0));
        assert_eq!(get("vflag_soak_pass", None), None, "no verdict before the report");
        assert!(samples.iter().all(|(_, l, _)| l[0] == ("soak".to_string(), "/tmp/out".to_string())));
        assert!(text.contains("vflag_soak_link_rx_pps{soak=\"/tmp/out\",link=\"s\\\"0\\\\\"} 9999\n"), "{text}");
        assert!(!text.contains("# EOF"), "Prometheus text format, not OpenMetrics");
        // Finished: the verdict, not up.
        let done = render("o", &Figures { up: false, finished: true, pass: Some(false), ..running() });
        let samples = parse(&done).unwrap();
        assert!(samples.iter().any(|(n, _, v)| n == "vflag_soak_pass" && *v == 0.0));
        assert!(samples.iter().any(|(n, _, v)| n == "vflag_soak_finished" && *v == 1.0));
    }

    #[test]
    fn peak_memory_is_read_from_proc_status() {
        assert_eq!(vm_hwm("Name:\tvflag-ctl\nVmPeak:\t  9000 kB\nVmHWM:\t    6476 kB\n"), Some(6476 * 1024));
        assert_eq!(vm_hwm("VmRSS: 1 kB\n"), None);
        assert!(peak_rss_bytes().is_some_and(|b| b > 0), "this process has one");
        let text = render("o", &Figures { peak_rss_bytes: Some(6_631_424), ..running() });
        assert!(text.contains("vflag_soak_ctl_peak_rss_bytes{soak=\"o\"} 6631424\n"), "{text}");
        parse(&text).unwrap();
    }

    #[test]
    fn the_checker_refuses_what_prometheus_refuses() {
        for bad in [
            "vflag_x 1\n",                                   // no HELP/TYPE
            "# HELP a x\n# TYPE a gauge\na{b=\"c} 1\n",      // unclosed value
            "# HELP a x\n# TYPE a gauge\na 1\n# HELP a y\n", // HELP after samples
            "# HELP a x\n# TYPE a gauge\na one\n",           // not a number
            "# HELP 1a x\n# TYPE 1a gauge\n1a 1\n",          // bad name
            "# HELP a x\n# TYPE a gauge\na 1",               // no final newline
            "# HELP a x\n# TYPE a meter\na 1\n",             // unknown type
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_file_is_created_before_the_soak_and_rewritten_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("vflag.prom");
        let mut m = MetricsFile::create(&p, Path::new("out")).unwrap();
        let first = std::fs::read_to_string(&p).unwrap();
        assert!(first.contains("vflag_soak_up{soak=\"out\"} 0\n"), "{first}");
        m.write(running());
        assert!(std::fs::read_to_string(&p).unwrap().contains("vflag_soak_flaps_done{soak=\"out\"} 3\n"));
        drop(m);
        let last = std::fs::read_to_string(&p).unwrap();
        assert!(last.contains("vflag_soak_up{soak=\"out\"} 0\n") && last.contains("flaps_done{soak=\"out\"} 3\n"));
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, ["vflag.prom"], "no temporary file left");
        // A directory that is not there is named before anything starts.
        let e = MetricsFile::create(&dir.path().join("none/x.prom"), Path::new("out")).unwrap_err();
        assert!(e.starts_with("--metrics ") && e.contains("none/x.prom"), "{e}");
    }
}
