//! One-way latency of the tracked frames around each flap, in RFC 6412/6413 terms: before the
//! failover event, during it (down command to the link restored, else its up command) and
//! after recovery. Merged from the receiver's per-sample histograms (`latency` in its `sample`
//! events: `[ns, frames]` per bucket middle), so each window's p50/p99 is exact to the
//! receiver's bucket resolution (3.2%); a sample counts in the window that holds its middle.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use junit::Property;
use serde::Serialize;
use vflag_contract::events::{self, Event, What};

/// The before-window: this long before the down command (from the previous flap's up at most).
pub const BEFORE_S: f64 = 1.0;
/// The after-window: this long from the restore (to the next flap's down at most).
pub const AFTER_S: f64 = 1.0;
/// What the soak asks of the receiver (`--stats-interval`): a 500 ms flap then spans five
/// samples and a window's edges are within 50 ms of where they should be; the samples stay
/// small (a latency field is a few hundred bytes).
pub const SAMPLE_INTERVAL: &str = "100ms";

/// One sample's tracked latencies over (from_s, to_s], receiver seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub from_s: f64,
    pub to_s: f64,
    /// (bucket middle ns, frames), as the receiver wrote them.
    pub hist: Vec<(u64, u64)>,
    /// Frames whose latency was not believable (over 10 s, or stamped after they arrived).
    pub implausible: u64,
}

/// The samples in the receiver's events file; none when it cannot be read. (The soak's live
/// tail read every line through the contract already: one that does not parse stopped it.)
/// Line by line: the file grows with the soak (tens of MB an hour), its text is never held.
pub fn read_samples(path: &Path) -> Vec<Sample> {
    use std::io::BufRead;
    let Ok(f) = std::fs::File::open(path) else { return Vec::new() };
    samples(std::io::BufReader::new(f).lines().map_while(Result::ok).filter_map(|l| events::parse_line(&l).ok()))
}

/// Each `sample` event's latency with the interval it covers (from the previous sample; the
/// first from the start). Samples without one still end the next one's interval.
/// Past [`MAX_SAMPLES`] samples are merged in pairs, and from then on each kept sample takes
/// twice as many (all of the soak at one resolution, as the receiver's timeline is).
pub fn samples(events: impl IntoIterator<Item = Event>) -> Vec<Sample> {
    bounded_samples(events, MAX_SAMPLES)
}

/// The most latency samples kept: at 100 ms, the first 55 minutes one by one; a soak of hours
/// keeps ~15 MB of histograms, not ~15 MB an hour.
pub const MAX_SAMPLES: usize = 1 << 15;

fn bounded_samples(events: impl IntoIterator<Item = Event>, max: usize) -> Vec<Sample> {
    let mut out: Vec<Sample> = Vec::new();
    let (mut from_s, mut every, mut in_last) = (0.0, 1usize, 0usize);
    for ev in events {
        let What::Sample { latency, .. } = ev.what else { continue };
        if let Some(l) = latency {
            let hist = l.hist.iter().map(|b| (b[0], b[1])).collect();
            let s = Sample { from_s, to_s: ev.t_s, hist, implausible: l.implausible };
            match out.last_mut() {
                Some(last) if in_last < every => {
                    last.absorb(s);
                    in_last += 1;
                }
                _ => {
                    out.push(s);
                    in_last = 1;
                }
            }
            if out.len() >= max.max(2) && in_last == every {
                let old = std::mem::take(&mut out);
                let mut it = old.into_iter();
                while let Some(mut a) = it.next() {
                    if let Some(b) = it.next() {
                        a.absorb(b);
                    }
                    out.push(a);
                }
                every *= 2;
                in_last = every;
            }
        }
        from_s = ev.t_s;
    }
    out
}

impl Sample {
    /// The next sample taken in: one interval, its buckets added by their middle.
    fn absorb(&mut self, next: Sample) {
        let mut hist: BTreeMap<u64, u64> = self.hist.iter().copied().collect();
        for (ns, n) in next.hist {
            *hist.entry(ns).or_default() += n;
        }
        self.hist = hist.into_iter().collect();
        self.to_s = next.to_s;
        self.implausible += next.implausible;
    }
}

/// Latency over some samples: p50, p99 and the largest bucket, ns; null without frames.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    /// Receiver samples merged.
    pub samples: usize,
    /// Tracked frames with a latency in them.
    pub frames: u64,
    pub p50_ns: Option<u64>,
    pub p99_ns: Option<u64>,
    pub max_ns: Option<u64>,
}

/// A flap's window: the time its samples cover (the asked window when none), and its figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Span {
    pub from_s: f64,
    pub to_s: f64,
    #[serde(flatten)]
    pub figures: Figures,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FlapLatency {
    pub before: Span,
    pub during: Span,
    pub after: Span,
}

/// Frames per bucket middle, merged over samples.
#[derive(Debug, Default)]
struct Merged {
    samples: usize,
    counts: BTreeMap<u64, u64>,
}

impl Merged {
    fn add(&mut self, s: &Sample) {
        self.samples += 1;
        for &(ns, n) in &s.hist {
            *self.counts.entry(ns).or_default() += n;
        }
    }

    fn absorb(&mut self, o: &Merged) {
        self.samples += o.samples;
        for (&ns, &n) in &o.counts {
            *self.counts.entry(ns).or_default() += n;
        }
    }

    fn figures(&self) -> Figures {
        Figures {
            samples: self.samples,
            frames: self.counts.values().sum(),
            p50_ns: self.quantile(0.5),
            p99_ns: self.quantile(0.99),
            max_ns: self.counts.keys().next_back().copied(),
        }
    }

    /// The smallest bucket with at least ceil(q * n) frames at or below it (the receiver's rule).
    fn quantile(&self, q: f64) -> Option<u64> {
        let n: u64 = self.counts.values().sum();
        if n == 0 {
            return None;
        }
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let mut seen = 0;
        self.counts
            .iter()
            .find(|(_, &c)| {
                seen += c;
                seen >= rank
            })
            .map(|(&ns, _)| ns)
    }
}

/// The samples whose middle lies in [from_s, to_s), merged, and the time they cover.
fn select(samples: &[Sample], from_s: f64, to_s: f64) -> (Merged, f64, f64) {
    let mut m = Merged::default();
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for s in samples.iter().filter(|s| (from_s..to_s).contains(&((s.from_s + s.to_s) / 2.0))) {
        m.add(s);
        (lo, hi) = (lo.min(s.from_s), hi.max(s.to_s));
    }
    if m.samples == 0 {
        (lo, hi) = (from_s, to_s);
    }
    (m, lo, hi)
}

/// Whether the generator's stamps are read on the receiver's clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Clock {
    /// The lab: both ends on this host, one TSC.
    Shared,
    /// Why not.
    NotShared(&'static str),
}

/// The soak's clock: the lab runs both ends here; on real hardware the traffic comes from a
/// generator the soak does not run, whose TSC is another host's unless the operator says
/// otherwise (`--same-clock`). A TSC of another host can pass for a plausible latency (hosts
/// booted within seconds of each other), so the soak does not guess from the figures.
pub fn clock(shared: bool) -> Clock {
    if shared {
        Clock::Shared
    } else {
        Clock::NotShared(
            "the traffic comes from a generator the soak does not run, on a clock not known to be the receiver's \
             (--same-clock when it runs on this host)",
        )
    }
}

/// Whether the latencies were measured, and over the judged flaps (not cut short, not
/// overlapping) each window's samples merged.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub measured: bool,
    /// Why not, when not.
    pub why_not: Option<String>,
    /// The receiver's `--stats-interval`: how finely the windows' edges fall.
    pub sample_interval: String,
    pub judged_flaps: usize,
    pub before: Figures,
    pub during: Figures,
    pub after: Figures,
}

/// A flap's times as its windows need them, receiver seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlapTimes {
    pub down_s: f64,
    pub up_s: f64,
    /// The link restored (its share back), else its up command.
    pub back_s: f64,
    /// Not cut short nor overlapping: summed up over the soak.
    pub judged: bool,
}

/// Each flap's latency (none when not measured) and their sum. `ready_s`: when traffic flowed
/// before the first flap.
pub fn measure(
    flaps: &[FlapTimes],
    samples: &[Sample],
    ready_s: f64,
    clock: Clock,
) -> (Vec<Option<FlapLatency>>, Summary) {
    let mut sum = Summary { sample_interval: SAMPLE_INTERVAL.into(), ..Summary::default() };
    let frames: u64 = samples.iter().flat_map(|s| &s.hist).map(|b| b.1).sum();
    let implausible: u64 = samples.iter().map(|s| s.implausible).sum();
    let why_not = match clock {
        Clock::NotShared(why) => Some(why.to_string()),
        _ if frames == 0 && implausible == 0 => Some(
            "the receiver's samples hold no latency of tracked frames (none tracked, or a vflag-dp without it)"
                .to_string(),
        ),
        _ if implausible > frames => Some(format!(
            "{implausible} of {} tracked frames were stamped over 10 s before or after they arrived: the ends do not share a clock",
            implausible + frames
        )),
        _ => None,
    };
    if let Some(w) = why_not {
        sum.why_not = Some(w);
        return (vec![None; flaps.len()], sum);
    }
    sum.measured = true;
    let mut all = [Merged::default(), Merged::default(), Merged::default()];
    let mut per_flap = Vec::with_capacity(flaps.len());
    for (i, f) in flaps.iter().enumerate() {
        let lower = if i == 0 { ready_s } else { flaps[i - 1].up_s };
        let next_down = flaps.get(i + 1).map_or(f64::INFINITY, |n| n.down_s);
        let back = f.back_s;
        let windows =
            [((f.down_s - BEFORE_S).max(lower), f.down_s), (f.down_s, back), (back, (back + AFTER_S).min(next_down))];
        let judged = f.judged;
        let spans: Vec<Span> = windows
            .iter()
            .zip(all.iter_mut())
            .map(|(&(a, b), total)| {
                let (m, from_s, to_s) = select(samples, a, b);
                if judged {
                    total.absorb(&m);
                }
                Span { from_s, to_s, figures: m.figures() }
            })
            .collect();
        sum.judged_flaps += usize::from(judged);
        let [before, during, after]: [Span; 3] = spans.try_into().expect("three windows");
        per_flap.push(Some(FlapLatency { before, during, after }));
    }
    [sum.before, sum.during, sum.after] = all.map(|m| m.figures());
    (per_flap, sum)
}

/// "12.3 µs" / "1.25 ms".
fn show_ns(ns: u64) -> String {
    if ns >= 1_000_000 {
        format!("{:.2} ms", ns as f64 / 1e6)
    } else {
        format!("{:.1} µs", ns as f64 / 1e3)
    }
}

/// "p50 / p99 (frames)", or "- (0)" without frames.
fn cell(f: &Figures) -> String {
    match (f.p50_ns, f.p99_ns) {
        (Some(a), Some(b)) => format!("{} / {} ({})", show_ns(a), show_ns(b), f.frames),
        _ => format!("- ({})", f.frames),
    }
}

/// The report's latency part: the table per flap (number, latency) and the judged flaps' line,
/// or why not.
pub fn markdown<'a>(flaps: impl IntoIterator<Item = (usize, &'a FlapLatency)>, sum: &Summary) -> String {
    let mut s = String::new();
    if !sum.measured {
        if let Some(why) = &sum.why_not {
            let _ = writeln!(s, "Latency: not measured: {why}.\n");
        }
        return s;
    }
    let _ = writeln!(
        s,
        "One-way latency of tracked frames, p50 / p99 (frames): {BEFORE_S} s before the down, during (down to \
         restored, else up), {AFTER_S} s after; samples every {}:\n",
        sum.sample_interval
    );
    s.push_str("| flap | before | during | after |\n|---:|---|---|---|\n");
    for (number, l) in flaps {
        let _ = writeln!(
            s,
            "| {number} | {} | {} | {} |",
            cell(&l.before.figures),
            cell(&l.during.figures),
            cell(&l.after.figures)
        );
    }
    let _ = writeln!(s);
    if sum.judged_flaps > 0 {
        let _ = writeln!(
            s,
            "Latency over {} judged flap(s), p50 / p99 (frames): before {}; during {}; after {}.\n",
            sum.judged_flaps,
            cell(&sum.before),
            cell(&sum.during),
            cell(&sum.after)
        );
    }
    s
}

/// A flap testcase's latency properties (`latency.during.p99_ns`, ...); none when not measured.
pub fn properties(l: Option<&FlapLatency>) -> Vec<Property> {
    let Some(l) = l else { return Vec::new() };
    let mut p = Vec::new();
    for (when, w) in [("before", &l.before), ("during", &l.during), ("after", &l.after)] {
        p.push(Property::new(format!("latency.{when}.frames"), w.figures.frames));
        for (what, v) in [("p50_ns", w.figures.p50_ns), ("p99_ns", w.figures.p99_ns), ("max_ns", w.figures.max_ns)] {
            if let Some(v) = v {
                p.push(Property::new(format!("latency.{when}.{what}"), v));
            }
        }
    }
    p
}

/// The suite's: whether latency was measured, or why not.
pub fn suite_properties(sum: &Summary) -> Vec<Property> {
    let mut p = vec![Property::new("latency_measured", sum.measured)];
    if let Some(w) = &sum.why_not {
        p.push(Property::new("latency_why_not", w));
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(from_s: f64, to_s: f64, hist: &[(u64, u64)]) -> Sample {
        Sample { from_s, to_s, hist: hist.to_vec(), implausible: 0 }
    }

    #[test]
    fn samples_are_read_with_their_intervals() {
        let lat = r#""latency": {"frames": 3, "p50_ns": 1000, "p99_ns": 2000, "max_ns": 2000, "hist": [[1000, 2], [2000, 1]]}"#;
        let none =
            r#""latency": {"frames": 0, "p50_ns": null, "p99_ns": null, "max_ns": null, "hist": [], "implausible": 4}"#;
        let lines = [
            r#"{"event": "sample", "t_s": 0.1, "ports": [], "members": []}"#.to_string(),
            format!(r#"{{"event": "sample", "t_s": 0.2, "ports": [], "members": [], {lat}}}"#),
            r#"{"event": "link", "t_s": 0.25, "port": 0, "name": "m0", "up": false, "speed_mbps": 0}"#.to_string(),
            format!(r#"{{"event": "sample", "t_s": 0.3, "ports": [], "members": [], {none}}}"#),
        ];
        assert_eq!(
            samples(lines.iter().map(|l| events::parse_line(l).unwrap())),
            vec![
                s(0.1, 0.2, &[(1000, 2), (2000, 1)]),
                Sample { from_s: 0.2, to_s: 0.3, hist: Vec::new(), implausible: 4 }
            ]
        );
    }

    #[test]
    fn a_long_soaks_samples_are_merged_and_keep_every_frame() {
        let lat =
            |ns: u64| vflag_contract::events::SampleLatency { hist: vec![[ns, 1], [5000, 2]], ..Default::default() };
        let events = (1..=100).map(|i| Event {
            t_s: i as f64 * 0.1,
            what: What::Sample {
                ports: vec![],
                members: vec![],
                tracking: None,
                latency: Some(lat(1000 + (i % 3) * 1000)),
            },
        });
        let got = bounded_samples(events, 8);
        assert!(got.len() <= 8, "{}", got.len());
        assert_eq!(got.iter().flat_map(|s| &s.hist).map(|b| b.1).sum::<u64>(), 300, "every frame");
        assert_eq!(got[0].from_s, 0.0);
        assert!((got.last().unwrap().to_s - 10.0).abs() < 1e-9);
        for w in got.windows(2) {
            assert!((w[0].to_s - w[1].from_s).abs() < 1e-9, "the samples tile the soak: {w:?}");
            assert!(w[0].hist.windows(2).all(|b| b[0].0 < b[1].0), "buckets in order, each once");
        }
    }

    #[test]
    fn merged_quantiles_by_hand() {
        // 60 frames at 10 us, 39 at 20 us, 1 at 1 ms, over two samples: p50 is 10 us (rank
        // 50 of 100), p99 20 us (rank 99), the largest 1 ms.
        let mut m = Merged::default();
        m.add(&s(0.0, 0.1, &[(10_000, 30), (20_000, 39)]));
        m.add(&s(0.1, 0.2, &[(10_000, 30), (1_000_000, 1)]));
        let f = m.figures();
        assert_eq!(
            f,
            Figures { samples: 2, frames: 100, p50_ns: Some(10_000), p99_ns: Some(20_000), max_ns: Some(1_000_000) }
        );
        assert_eq!(Merged::default().figures(), Figures::default(), "no frames, no figures");
    }

    #[test]
    fn windows_take_the_samples_whose_middle_they_hold() {
        let all: Vec<Sample> =
            (0..50).map(|i| s(i as f64 * 0.1, (i + 1) as f64 * 0.1, &[(1000 * (i + 1), 1)])).collect();
        // [1.0, 2.0): the samples ending at 1.1 .. 2.0, middles 1.05 .. 1.95.
        let (m, lo, hi) = select(&all, 1.0, 2.0);
        assert_eq!((m.samples, m.counts.keys().next().copied()), (10, Some(11_000)));
        assert!((lo - 1.0).abs() < 1e-9 && (hi - 2.0).abs() < 1e-9, "{lo} {hi}");
        let (none, lo, hi) = select(&all, 1.01, 1.04);
        assert_eq!((none.samples, lo, hi), (0, 1.01, 1.04), "no sample's middle: the asked window");
    }

    fn flaps_at(downs: &[(f64, f64, Option<f64>)]) -> Vec<FlapTimes> {
        downs
            .iter()
            .map(|&(down_s, up_s, restore_ms)| FlapTimes {
                down_s,
                up_s,
                back_s: up_s + restore_ms.map_or(0.0, |ms| ms / 1e3),
                judged: true,
            })
            .collect()
    }

    fn numbered(l: &[Option<FlapLatency>]) -> Vec<(usize, &FlapLatency)> {
        l.iter().enumerate().filter_map(|(i, l)| Some((i + 1, l.as_ref()?))).collect()
    }

    #[test]
    fn before_during_and_after_each_flap() {
        // 100 ms samples, 10 us latency, 1 ms from 3.0 s to 3.9 s (the flap and its restore),
        // 20 us after.
        let all: Vec<Sample> = (0..80)
            .map(|i| {
                let (a, b) = (i as f64 * 0.1, (i + 1) as f64 * 0.1);
                let ns = if a < 2.95 {
                    10_000
                } else if a < 3.85 {
                    1_000_000
                } else {
                    20_000
                };
                s(a, b, &[(ns, 100)])
            })
            .collect();
        // Down at 3.0, up at 3.5, restored 400 ms after up; a second flap at 6.0 with no restore.
        let mut fl = flaps_at(&[(3.0, 3.5, Some(400.0)), (6.0, 6.5, None)]);
        let (lat, sum) = measure(&fl, &all, 1.5, Clock::Shared);
        let l = lat[0].as_ref().unwrap();
        assert_eq!((l.before.figures.samples, l.before.figures.frames), (10, 1000));
        assert_eq!((l.before.figures.p50_ns, l.before.figures.p99_ns), (Some(10_000), Some(10_000)));
        assert!((l.before.from_s - 2.0).abs() < 1e-9 && (l.before.to_s - 3.0).abs() < 1e-9);
        assert_eq!((l.during.figures.samples, l.during.figures.p50_ns), (9, Some(1_000_000)));
        assert_eq!((l.after.figures.samples, l.after.figures.p99_ns), (10, Some(20_000)));
        // The second: before from its previous flap's up at most (and only 1 s), during to
        // its up (no restore measured), after to the end of the samples.
        let l2 = lat[1].as_ref().unwrap();
        assert_eq!((l2.before.figures.samples, l2.during.figures.samples, l2.after.figures.samples), (10, 5, 10));
        // Over both: the during-windows' 14 samples hold 900 frames at 1 ms and 500 at 20 us.
        assert_eq!(sum.judged_flaps, 2);
        assert_eq!((sum.during.frames, sum.during.p50_ns, sum.during.p99_ns), (1400, Some(1_000_000), Some(1_000_000)));
        assert!(sum.measured && sum.why_not.is_none());
        // A flap cut short is shown but not summed up.
        fl[1].judged = false;
        assert_eq!(measure(&fl, &all, 1.5, Clock::Shared).1.judged_flaps, 1);
        let md = markdown(numbered(&lat), &sum);
        assert!(
            md.contains("| 1 | 10.0 µs / 10.0 µs (1000) | 1.00 ms / 1.00 ms (900) | 20.0 µs / 20.0 µs (1000) |"),
            "{md}"
        );
        let props = properties(lat[0].as_ref());
        assert!(props.contains(&Property::new("latency.during.p99_ns", 1_000_000)), "{props:?}");
    }

    #[test]
    fn not_measured_says_why() {
        let fl = flaps_at(&[(3.0, 3.5, None)]);
        let lat = [s(0.0, 4.0, &[(1000, 10)])];
        let (per_flap, dut) = measure(&fl, &lat, 1.0, clock(false));
        assert!(!dut.measured && dut.why_not.as_deref().unwrap().contains("generator the soak does not run"));
        assert_eq!(per_flap, vec![None]);
        let none = measure(&fl, &[], 1.0, clock(true)).1;
        assert!(none.why_not.unwrap().contains("no latency of tracked frames"));
        let apart = [Sample { implausible: 11, ..s(0.0, 4.0, &[(1000, 10)]) }];
        let (per_flap, apart) = measure(&fl, &apart, 1.0, clock(true));
        assert!(apart.why_not.as_deref().unwrap().starts_with("11 of 21 tracked frames"), "{apart:?}");
        assert!(markdown(numbered(&per_flap), &apart).starts_with("Latency: not measured: 11 of 21"));
        assert_eq!(suite_properties(&apart)[0], Property::new("latency_measured", false));
        assert!(properties(per_flap[0].as_ref()).is_empty());
    }
}
