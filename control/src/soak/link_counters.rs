//! The links' own counters during a soak (`--link-counters`). On real VF-LAG the VF cannot see
//! which link a frame came in on; the PFs can. A thread samples every link every 50 or 100 ms
//! ([`period`]) into `links.jsonl` (schema `vflag-ctl.counters.v1`, as `vflag-ctl counters
//! --watch` writes it) and keeps each link's receive count, so the report can split every
//! window of the soak over the links.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::mlx5::counters::{self, Link};
use crate::mlx5::sysfs::SysFs;
use crate::mlx5::Env;
use crate::runner::{Runner, SystemRunner};

/// How often to sample: often enough that the second half of a short flap (the "during"
/// window) holds a few samples. Reading sysfs costs nothing; `ethtool -S` is a process each
/// time, so PFs are read ten times a second.
pub fn period(links: &[Link]) -> Duration {
    if links.iter().any(|l| l.source == counters::Source::Phy) {
        Duration::from_millis(100)
    } else {
        Duration::from_millis(50)
    }
}

/// Frames received per link over wall-clock time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkSeries {
    pub names: Vec<String>,
    /// (unix seconds, rx packets of each link), in time order.
    pub samples: Vec<(f64, Vec<u64>)>,
    /// The same instants' tx packets of each link: on VF-LAG the VF's egress, as the NIC
    /// hashed it over the PFs (in the lab, the representor's over the host links).
    pub tx_samples: Vec<(f64, Vec<u64>)>,
}

/// The most samples a series keeps: at 50 ms, the first 55 minutes at full rate. A longer soak
/// drops every other sample (counters are running totals: the frames between the samples kept
/// are all still counted) and samples half as often from then on, so a soak of hours keeps ~10
/// MB of samples, not ~9 MB an hour.
pub const MAX_SAMPLES: usize = 1 << 16;

impl LinkSeries {
    /// Every other sample dropped (the first and the last kept): the same frames between any two
    /// samples kept, at half the resolution.
    pub fn thin(&mut self) {
        for s in [&mut self.samples, &mut self.tx_samples] {
            let last = s.pop();
            let mut i = 0;
            s.retain(|_| {
                i += 1;
                i % 2 == 1
            });
            s.extend(last);
        }
    }

    /// The transmit side as a series of its own, so every window rule applies to it alike.
    pub fn transmitted(&self) -> LinkSeries {
        LinkSeries { names: self.names.clone(), samples: self.tx_samples.clone(), tx_samples: Vec::new() }
    }

    /// Each link's frames between the first and the last sample inside [from, to] (unix
    /// seconds), and the seconds between those two samples; None with fewer than two samples
    /// inside. Only samples inside count: interpolating across the window's edge would credit
    /// it with frames from beyond, such as a link's first frames after it came back up.
    /// A counter that went back (a driver reset) adds nothing for that interval.
    pub fn rx_between(&self, from: f64, to: f64) -> Option<(Vec<f64>, f64)> {
        let lo = self.samples.partition_point(|(t, _)| *t < from);
        let hi = self.samples.partition_point(|(t, _)| *t <= to);
        let inside = self.samples.get(lo..hi).filter(|s| s.len() >= 2)?;
        let mut frames = vec![0.0; self.names.len()];
        for w in inside.windows(2) {
            for (f, (a, b)) in frames.iter_mut().zip(w[0].1.iter().zip(&w[1].1)) {
                *f += b.saturating_sub(*a) as f64;
            }
        }
        Some((frames, inside[inside.len() - 1].0 - inside[0].0))
    }

    /// Each link's rate between successive samples, at their midpoints: (unix s, frames/s).
    pub fn rates(&self) -> Vec<Vec<(f64, f64)>> {
        let mut out = vec![Vec::new(); self.names.len()];
        for w in self.samples.windows(2) {
            let ((t0, c0), (t1, c1)) = (&w[0], &w[1]);
            if t1 <= t0 {
                continue;
            }
            for (o, (a, b)) in out.iter_mut().zip(c0.iter().zip(c1)) {
                o.push(((t0 + t1) / 2.0, b.saturating_sub(*a) as f64 / (t1 - t0)));
            }
        }
        out
    }
}

/// The links to sample on this host, each with the best counters it has. `given` comes from
/// --link-counters (each must be an interface here); without it, `fallback` (--links, or the
/// lab's host links) when all of its names are interfaces here, else none.
pub fn choose(given: &[String], fallback: &[String]) -> Result<Vec<Link>> {
    let mut runner = SystemRunner;
    let sleep = |_: Duration| {};
    choose_in(&mut this_host(&mut runner, &sleep), given, fallback)
}

/// This host's /sys, commands run for real.
fn this_host<'a>(runner: &'a mut SystemRunner, sleep: &'a dyn Fn(Duration)) -> Env<'a> {
    Env {
        sys: SysFs::new("/sys"),
        debugfs: SysFs::new("/sys/kernel/debug"),
        dmesg_file: None,
        runner: runner as &mut dyn Runner,
        sleep,
    }
}

fn choose_in(env: &mut Env, given: &[String], fallback: &[String]) -> Result<Vec<Link>> {
    if !given.is_empty() {
        return given
            .iter()
            .map(|n| {
                counters::detect(env, n).map_err(|e| cli_exit::BadUsage(format!("--link-counters {n}: {e}")).into())
            })
            .collect();
    }
    let found: Vec<Link> = fallback.iter().filter_map(|n| counters::detect(env, n).ok()).collect();
    Ok(if found.len() == fallback.len() { found } else { Vec::new() })
}

/// Each link's receive rate between its last two samples, for the progress line.
#[derive(Clone, Default)]
pub struct LiveRates {
    names: Vec<String>,
    pps: Arc<Mutex<Vec<f64>>>,
}

impl LiveRates {
    /// `links p0 10.0k, p1 10.0k` (frames/s); empty before two samples.
    pub fn status(&self) -> String {
        let pps = self.pps.lock().map(|p| p.clone()).unwrap_or_default();
        if pps.is_empty() {
            return String::new();
        }
        let per: Vec<String> = self.names.iter().zip(&pps).map(|(n, r)| format!("{n} {:.1}k", r / 1e3)).collect();
        format!("links {}", per.join(", "))
    }

    /// (link, frames/s) between the last two samples; empty before two samples.
    pub fn pairs(&self) -> Vec<(String, f64)> {
        let pps = self.pps.lock().map(|p| p.clone()).unwrap_or_default();
        self.names.iter().cloned().zip(pps).collect()
    }

    fn set(&self, r: &counters::Record) {
        let pps: Option<Vec<f64>> = r.links.iter().map(|l| l.rx_pps).collect();
        if let (Some(pps), Ok(mut slot)) = (pps, self.pps.lock()) {
            *slot = pps;
        }
    }
}

/// The sampling thread; stopped by [`LinkWatch::finish`] or when dropped.
pub struct LinkWatch {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<(LinkSeries, Option<String>)>>,
    live: LiveRates,
}

impl LinkWatch {
    /// Starts sampling `links` (on this host's /sys, commands run for real), each record also
    /// appended to `jsonl`.
    pub fn start(links: Vec<Link>, jsonl: &Path) -> Result<LinkWatch> {
        let file = File::create(jsonl).with_context(|| format!("creating {}", jsonl.display()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let live = LiveRates { names: links.iter().map(|l| l.name.clone()).collect(), ..Default::default() };
        let rates = live.clone();
        let thread = std::thread::Builder::new()
            .name("link-counters".into())
            .spawn(move || {
                let mut runner = SystemRunner;
                let sleep = |d: Duration| std::thread::sleep(d);
                sample_until(&mut this_host(&mut runner, &sleep), &links, file, &flag, &rates)
            })
            .context("starting the link-counter thread")?;
        Ok(LinkWatch { stop, thread: Some(thread), live })
    }

    /// The latest rates, as the thread updates them.
    pub fn live(&self) -> LiveRates {
        self.live.clone()
    }

    /// Stops sampling: what was sampled, and why sampling stopped early if it did.
    pub fn finish(mut self) -> (LinkSeries, Option<String>) {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(done)) => done,
            _ => (LinkSeries::default(), Some("the link-counter thread panicked".into())),
        }
    }
}

impl Drop for LinkWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Samples every link each [`period`] until `stop`, writing each record to `out`.
fn sample_until(
    env: &mut Env,
    links: &[Link],
    mut out: impl Write,
    stop: &AtomicBool,
    live: &LiveRates,
) -> (LinkSeries, Option<String>) {
    let mut series = LinkSeries { names: links.iter().map(|l| l.name.clone()).collect(), ..Default::default() };
    let start = Instant::now();
    let clock = || (start.elapsed().as_secs_f64(), super::clock::unix_now());
    // Past MAX_SAMPLES, every other sample is dropped and from then on one in `every` kept, so
    // the whole soak has one resolution (links.jsonl still gets every record); the last one is
    // kept whatever, so the series ends where sampling did.
    let (mut every, mut n, mut skipped) = (1usize, 0usize, None);
    let done = counters::watch(env, links, period(links), 0, stop, &clock, &mut |r| {
        writeln!(out, "{}", serde_json::to_string(r)?)?;
        live.set(r);
        let rx = (r.t_unix_s, r.links.iter().map(|l| l.phy.rx_packets).collect());
        let tx = (r.t_unix_s, r.links.iter().map(|l| l.phy.tx_packets).collect());
        n += 1;
        if (n - 1) % every != 0 {
            skipped = Some((rx, tx));
            return Ok(());
        }
        skipped = None;
        series.samples.push(rx);
        series.tx_samples.push(tx);
        if series.samples.len() >= MAX_SAMPLES {
            series.thin();
            every *= 2;
        }
        Ok(())
    });
    if let Some((rx, tx)) = skipped {
        series.samples.push(rx);
        series.tx_samples.push(tx);
    }
    (series, done.err().map(|e| format!("{e:#}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlx5::counters::Source;
    use crate::mlx5::testing::fake;
    use crate::runner::{Output, Recorder};

    /// A recorded `ethtool -S` of the seed's host.
    fn stats(file: &str) -> Output {
        Output { stdout: fake::text(file), ..Default::default() }
    }

    fn series() -> LinkSeries {
        LinkSeries {
            names: vec!["p0".into(), "p1".into()],
            samples: vec![
                (100.0, vec![0, 0]),
                (100.1, vec![100, 100]),
                (100.2, vec![100, 300]),
                (100.3, vec![50, 500]),
            ],
            tx_samples: vec![(100.0, vec![0, 0]), (100.1, vec![30, 10]), (100.2, vec![60, 20]), (100.3, vec![90, 30])],
        }
    }

    #[test]
    fn thinning_keeps_every_frame_between_the_samples_kept() {
        let mut s = series();
        s.samples.push((100.4, vec![60, 700]));
        s.tx_samples.push((100.4, vec![120, 40]));
        let before = s.rx_between(100.0, 100.4).unwrap().0;
        s.thin();
        let times: Vec<f64> = s.samples.iter().map(|x| x.0).collect();
        assert_eq!(times, [100.0, 100.2, 100.4], "the first, every other, the last");
        assert_eq!(s.tx_samples.iter().map(|x| x.0).collect::<Vec<_>>(), times);
        // Link 0's reset (100 -> 50) now falls inside a longer interval: its frames after the
        // reset are counted from the sample before it, as any reset between samples is.
        assert_eq!(s.rx_between(100.0, 100.4).unwrap().0[1], before[1], "link 1: every frame");
        assert_eq!(s.transmitted().rx_between(100.0, 100.4).unwrap().0, vec![120.0, 40.0]);
    }

    #[test]
    fn windows_count_between_the_samples_inside_them() {
        let s = series();
        let near = |got: Option<(Vec<f64>, f64)>, frames: [f64; 2], secs: f64| {
            let (f, t) = got.expect("covered");
            assert!(f == frames && (t - secs).abs() < 1e-9, "{f:?} over {t}");
        };
        near(s.rx_between(100.0, 100.1), [100.0, 100.0], 0.1);
        // Only 100.1 and 100.2 lie inside: not the frames before or after them.
        near(s.rx_between(100.05, 100.25), [0.0, 200.0], 0.1);
        // Link 0's counter went back (a reset) in the last interval: it adds nothing there.
        near(s.rx_between(99.0, 101.0), [100.0, 500.0], 0.3);
        assert_eq!(s.rx_between(100.05, 100.15), None, "one sample inside is no interval");
        assert_eq!(s.rx_between(101.0, 102.0), None);
        assert_eq!(LinkSeries::default().rx_between(0.0, 1.0), None);
        // The transmit side is read by the same rule.
        near(s.transmitted().rx_between(100.05, 100.35), [60.0, 20.0], 0.2);
        let r = s.rates();
        assert_eq!(r.len(), 2);
        assert!((r[1][1].0 - 100.15).abs() < 1e-9 && (r[1][1].1 - 2000.0).abs() < 1e-6, "{r:?}");
        assert_eq!(r[0][2].1, 0.0, "a counter that went back has no negative rate");
    }

    #[test]
    fn the_progress_line_shows_each_links_rate() {
        let live = LiveRates { names: vec!["enp1s0f0np0".into(), "enp1s0f1np1".into()], ..Default::default() };
        assert_eq!(live.status(), "");
        let link = |name: &str, pps: Option<f64>| counters::LinkRecord {
            name: name.into(),
            pci: None,
            source: Source::Phy,
            operstate: "up".into(),
            bond_state: None,
            mii_status: None,
            phy: counters::Phy::default(),
            rx_pps: pps,
            tx_pps: None,
            rx_mbps: None,
            tx_mbps: None,
            rx_share_pct: None,
            counter_reset: false,
            tx_share_pct: None,
        };
        let rec = |a: Option<f64>, b: Option<f64>| counters::Record {
            schema: counters::SCHEMA,
            t_unix_s: 0.0,
            t_s: 0.0,
            interval_s: Some(0.1),
            links: vec![link("enp1s0f0np0", a), link("enp1s0f1np1", b)],
        };
        live.set(&rec(Some(10_000.0), Some(0.0)));
        assert_eq!(live.status(), "links enp1s0f0np0 10.0k, enp1s0f1np1 0.0k");
        live.set(&rec(Some(1.0), None));
        assert_eq!(
            live.status(),
            "links enp1s0f0np0 10.0k, enp1s0f1np1 0.0k",
            "a sample without every rate is skipped"
        );
    }

    #[test]
    fn links_given_must_exist_and_the_fallback_is_taken_whole_or_not_at_all() {
        let mut r = Recorder::default();
        r.answer("ethtool -S enp1s0f0np0", stats("ethtool-S-enp1s0f0np0.txt"), false);
        r.answer("ethtool -S enp1s0f1np1", stats("ethtool-S-enp1s0f1np1.txt"), false);
        let sleep = |_: Duration| {};
        let mut env = fake::fixture_env("up", &mut r, &sleep);
        let pfs = vec!["enp1s0f0np0".to_string(), "enp1s0f1np1".to_string()];
        let got = choose_in(&mut env, &[], &pfs).unwrap();
        assert_eq!(got, vec![Link::phy("enp1s0f0np0", "0000:01:00.0"), Link::phy("enp1s0f1np1", "0000:01:00.1")]);
        // Switch ports named in --links are not interfaces here: no link counters, no error.
        assert!(choose_in(&mut env, &[], &["enp1s0f0np0".into(), "Ethernet1/1".into()]).unwrap().is_empty());
        let e = choose_in(&mut env, &["enp1s0f0np0".into(), "swp1".into()], &pfs).unwrap_err();
        assert!(e.downcast_ref::<cli_exit::BadUsage>().is_some(), "exit 2");
        assert_eq!(e.to_string(), "--link-counters swp1: no network interface 'swp1' on this host");
        let bond = choose_in(&mut env, &["vf-bond".into()], &[]).unwrap();
        assert_eq!(bond[0].source, Source::Netdev);
        assert_eq!(period(&bond), Duration::from_millis(50), "sysfs reads are cheap");
    }

    #[test]
    fn samples_phy_counters_to_json_lines_until_stopped() {
        let mut r = Recorder::default();
        r.answer("ethtool -S enp1s0f0np0", stats("ethtool-S-enp1s0f0np0.txt"), true);
        r.answer("ethtool -S enp1s0f1np1", stats("ethtool-S-enp1s0f1np1.txt"), true);
        r.answer("ethtool -S enp1s0f0np0", stats("ethtool-S-enp1s0f0np0-1s.txt"), false);
        r.answer("ethtool -S enp1s0f1np1", stats("ethtool-S-enp1s0f1np1-1s.txt"), false);
        // The end of the third period's sleep asks the sampler to stop: three samples.
        let stop = AtomicBool::new(false);
        let slept = std::cell::Cell::new(Duration::ZERO);
        let sleep = |d: Duration| {
            slept.set(slept.get() + d);
            stop.store(slept.get() >= 3 * Duration::from_millis(100), Ordering::Relaxed);
        };
        let mut env = fake::fixture_env("up", &mut r, &sleep);
        let links = vec![Link::phy("enp1s0f0np0", "0000:01:00.0"), Link::phy("enp1s0f1np1", "0000:01:00.1")];
        let mut out = Vec::new();
        let live = LiveRates { names: vec!["pf0".into(), "pf1".into()], ..Default::default() };
        let (s, err) = sample_until(&mut env, &links, &mut out, &stop, &live);
        assert_eq!(err, None);
        // The test's sleeps return at once, so the rates are huge: only the line's shape counts.
        assert!(live.status().starts_with("links pf0 ") && live.status().contains(", pf1 "), "{}", live.status());
        assert_eq!(s.names, vec!["enp1s0f0np0", "enp1s0f1np1"]);
        assert_eq!(period(&links), Duration::from_millis(100), "ethtool -S is a process per read");
        let counts: Vec<&Vec<u64>> = s.samples.iter().map(|(_, c)| c).collect();
        assert_eq!(
            counts,
            vec![&vec![10_000_000, 9_000_000], &vec![11_000_000, 10_000_000], &vec![11_000_000, 10_000_000]]
        );
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 3);
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["schema"], counters::SCHEMA);
            assert_eq!(v["links"][1]["source"], "phy");
        }
    }

    #[test]
    fn a_failing_link_ends_sampling_with_the_reason_and_keeps_what_was_sampled() {
        let mut r = Recorder::default();
        r.answer("ethtool -S enp1s0f0np0", stats("ethtool-S-enp1s0f0np0.txt"), true);
        r.answer(
            "ethtool -S enp1s0f0np0",
            Output { code: 1, stderr: "no such device".into(), ..Default::default() },
            false,
        );
        let sleep = |_: Duration| {};
        let mut env = fake::fixture_env("up", &mut r, &sleep);
        let links = vec![Link { name: "enp1s0f0np0".into(), pci: None, source: Source::Phy }];
        let live = LiveRates::default();
        let (s, err) = sample_until(&mut env, &links, std::io::sink(), &AtomicBool::new(false), &live);
        assert_eq!(live.status(), "", "one sample gives no rate");
        assert_eq!(s.samples.len(), 1);
        assert_eq!(err.as_deref(), Some("`ethtool -S enp1s0f0np0` failed (exit 1): no such device"));
    }
}
