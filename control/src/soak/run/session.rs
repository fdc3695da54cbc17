//! The soak while its processes run: the receiver's events taken in, the progress line, Ctrl-C
//! and dead children noticed at every step of every wait, and the offload checked on time.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use super::prepare::Prepared;
use crate::soak::clock::unix_now;
use crate::soak::integrity::{Integrity, When};
use crate::soak::link_counters::{LinkWatch, LiveRates};
use crate::soak::live::{EventTail, Live};
use crate::soak::metrics::{Figures, MetricsFile};
use crate::soak::peer::Peer;
use crate::soak::traffic::Traffic;
use procs::Proc;

/// The soak's processes and what their events showed so far.
pub struct Session {
    stop: Arc<AtomicBool>,
    tail: EventTail,
    pub live: Live,
    pub rx: Proc,
    pub gen: Option<Proc>,
    /// `--traffic-cmd`'s generator.
    pub traffic: Option<Traffic>,
    tty: bool,
    pub members: Vec<String>,
    /// The links' rates from their counters, shown where the receiver has no members (a VF).
    link_rates: Option<LiveRates>,
    /// The far side when the soak runs the generator, and the argv it ran with.
    pub peer: Option<(Peer, Vec<String>)>,
    /// The run the soak's generator sends and the receiver tracks.
    pub run_id: Option<u16>,
    t0: Instant,
    last_progress: Instant,
    pub phase: String,
    /// `--metrics`: rewritten with the progress line, from the same figures.
    pub metrics: Option<MetricsFile>,
    pub flaps_done: usize,
    /// None while watching flaps done by hand.
    pub flaps_planned: Option<usize>,
}

impl Session {
    /// The session of a receiver just spawned, its events read from `events`.
    pub fn new(run: &Prepared, rx: Proc, events: &Path, run_id: Option<u16>) -> Session {
        Session {
            peer: None,
            run_id,
            stop: Arc::clone(&run.stop),
            tail: EventTail::new(events),
            live: Live::default(),
            rx,
            gen: None,
            traffic: None,
            tty: std::io::stdout().is_terminal(),
            members: run.members.clone(),
            link_rates: run.link_watch.as_ref().map(LinkWatch::live),
            t0: Instant::now(),
            last_progress: Instant::now(),
            phase: "starting".into(),
            metrics: None,
            flaps_done: 0,
            flaps_planned: None,
        }
    }

    pub fn display_members(&self) -> Vec<String> {
        if self.members.is_empty() {
            (0..self.live.member_pps.len()).map(|i| format!("m{i}")).collect()
        } else {
            self.members.clone()
        }
    }

    /// A line that stays (flaps, phases), clearing a progress line on a terminal first.
    pub fn note(&mut self, line: &str) {
        let t = self.t0.elapsed().as_secs_f64();
        if self.tty {
            print!("\r\x1b[K");
        }
        println!("[{t:7.1}s] {line}");
    }

    fn progress(&mut self) {
        if self.last_progress.elapsed() < Duration::from_secs(1) {
            return;
        }
        self.last_progress = Instant::now();
        let t = self.t0.elapsed().as_secs_f64();
        let mut line = format!("[{t:7.1}s] {} | {}", self.phase, self.live.status(&self.display_members()));
        if let Some(links) = self.link_rates.as_ref().filter(|_| self.live.member_pps.is_empty()) {
            let status = links.status();
            if !status.is_empty() {
                line = format!("{line} | {status}");
            }
        }
        if self.tty {
            print!("\r\x1b[K{line}");
            let _ = std::io::stdout().flush();
        } else {
            println!("{line}");
        }
        let f = self.figures(true);
        if let Some(m) = self.metrics.as_mut() {
            m.write(f);
        }
    }

    /// The running figures `--metrics` shows, from the sample the progress line shows.
    fn figures(&self, up: bool) -> Figures {
        let l = &self.live;
        Figures {
            up,
            flaps_done: self.flaps_done,
            flaps_planned: self.flaps_planned,
            rx_pps: l.rx_pps,
            members: self.display_members().into_iter().zip(l.member_pps.iter().copied()).collect(),
            links: self.link_rates.as_ref().map(LiveRates::pairs).unwrap_or_default(),
            outages: l.outages,
            last_outage_ms: l.last_outage_ms,
            max_outage_ms: l.max_outage_ms,
            tracked: l.tracking.then_some((l.tracked, l.lost)),
            samples: l.samples,
            peak_rss_bytes: crate::soak::metrics::peak_rss_bytes(),
            updated_unix_s: unix_now(),
            ..Default::default()
        }
    }

    /// The last `--metrics` rewrite: the soak stopped, its report written with this verdict.
    pub fn finish_metrics(&mut self, pass: bool) {
        let f = Figures { finished: true, pass: Some(pass), ..self.figures(false) };
        if let Some(m) = self.metrics.as_mut() {
            m.write(f);
        }
    }

    /// Takes in the receiver's new events; one that breaks the contract ends the soak.
    pub fn read_events(&mut self) -> Result<()> {
        for ev in self.tail.poll().map_err(|e| anyhow::anyhow!("the receiver's events: {e}"))? {
            self.live.feed(&ev);
        }
        Ok(())
    }

    /// One step of every wait: read events, show progress, notice Ctrl-C and dead children.
    fn tick(&mut self) -> Result<bool> {
        self.read_events()?;
        self.progress();
        for p in std::iter::once(&mut self.rx).chain(self.gen.as_mut()) {
            if let Some(st) = p.exited() {
                bail!("the {} exited early ({st}); its last lines:\n{}", p.name, p.log_tail(8));
            }
        }
        if let Some((st, tail)) = self.traffic.as_mut().and_then(Traffic::failed) {
            bail!("the --traffic-cmd generator failed ({st}); its last lines:\n{tail}");
        }
        Ok(!self.stop.load(Ordering::Relaxed))
    }

    /// Sleeps until `deadline`; false when interrupted.
    pub fn sleep_until(&mut self, deadline: Instant) -> Result<bool> {
        loop {
            if !self.tick()? {
                return Ok(false);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(true);
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(20)));
        }
    }

    /// Sleeps until `deadline`, the offload checked just before it (off the flaps' timing:
    /// the check starts early enough to end by then); false when interrupted.
    pub fn sleep_checked(&mut self, deadline: Instant, integrity: &mut Integrity, when: When) -> Result<bool> {
        let lead = integrity.lead(deadline.saturating_duration_since(Instant::now()));
        if !self.sleep_until(deadline - lead)? {
            return Ok(false);
        }
        Ok(self.check_integrity(integrity, when, lead)? && self.sleep_until(deadline)?)
    }

    /// The offload checked now, for at most `limit`; false when interrupted.
    pub fn check_integrity(&mut self, integrity: &mut Integrity, when: When, limit: Duration) -> Result<bool> {
        if !integrity.applies() {
            return Ok(true);
        }
        match integrity.check(when, limit, || self.tick())? {
            Some(line) => {
                self.note(&line);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Waits until `cond` holds at two successive receiver samples; false when interrupted.
    pub fn wait_for(&mut self, timeout: Duration, what: &str, cond: impl Fn(&Live) -> bool) -> Result<bool> {
        let t0 = Instant::now();
        let (mut seen, mut samples) = (0, u64::MAX);
        while t0.elapsed() < timeout {
            if !self.tick()? {
                return Ok(false);
            }
            if self.live.samples != samples {
                samples = self.live.samples;
                seen = if cond(&self.live) { seen + 1 } else { 0 };
                if seen >= 2 {
                    return Ok(true);
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let gen =
            self.gen.as_ref().map(|g| format!("\ngenerator's last lines:\n{}", g.log_tail(6))).unwrap_or_default();
        bail!(
            "{what} within {:?} ({}); receiver's last lines:\n{}{gen}",
            timeout,
            self.live.status(&self.display_members()),
            self.rx.log_tail(6)
        )
    }

    /// Ctrl-C before traffic flowed: nothing to report; stop and clean up.
    pub fn finish_interrupted_early(mut self, run: Prepared) -> u8 {
        self.note("interrupted before traffic flowed; stopping");
        self.rx.stop(Duration::from_secs(10));
        if let Some(g) = self.gen.as_mut() {
            g.stop(Duration::from_secs(10));
        }
        drop(self);
        drop(run);
        1
    }
}
