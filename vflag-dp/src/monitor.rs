//! The main lcore's watch over a run: stop conditions (signal, --duration, --count, generators
//! done), periodic per-port rates and link events as they happen.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use dpdk_sys::clock;
use dpdk_sys::link_events::{LinkEvent, LinkWatch};
use dpdk_sys::port::{self, PortInfo};

use crate::cli::{Config, FwdMode};
use crate::counters::StreamCounters;
use crate::report::{LinkEventReport, StopReason};
use crate::run::LaunchedLcore;
use crate::stats::{self, MonotonicStats, Rates};

/// How often the main lcore wakes to check signals, links and stop conditions.
const TICK: Duration = Duration::from_millis(10);

/// The main lcore's view while the run goes on.
pub struct Monitor<'a> {
    cfg: &'a Config,
    infos: &'a [PortInfo],
    t0: Instant,
    tsc0: u64,
    tsc_hz: f64,
    pub link_events: Vec<LinkEventReport>,
    counters: Vec<MonotonicStats>,
}

impl<'a> Monitor<'a> {
    pub fn new(cfg: &'a Config, infos: &'a [PortInfo], t0: Instant, tsc0: u64) -> Self {
        Monitor {
            cfg,
            infos,
            t0,
            tsc0,
            tsc_hz: clock::tsc_hz().max(1) as f64,
            link_events: Vec::new(),
            counters: vec![MonotonicStats::default(); infos.len()],
        }
    }

    /// Runs until a stop condition holds and says which.
    pub fn watch(&mut self, launched: &[LaunchedLcore], signalled: &AtomicBool, links: &mut LinkWatch) -> StopReason {
        let all: Vec<&StreamCounters> =
            launched.iter().flat_map(|l| l.streams.iter().map(|(_, c)| c.as_ref())).collect();
        let interval = (self.cfg.stats_interval_s > 0.0).then(|| Duration::from_secs_f64(self.cfg.stats_interval_s));
        let mut last = (Instant::now(), self.sample());
        let rx_target = match self.cfg.fwd {
            FwdMode::Txonly => None,
            _ => self.cfg.count,
        };
        loop {
            std::thread::sleep(TICK);
            // Every tick, so a driver's counter reset loses at most one tick of counts.
            let totals = self.sample();
            links.poll();
            self.take_link_events(links);
            if signalled.load(Ordering::Relaxed) {
                return StopReason::Signal;
            }
            if self.cfg.duration_s.is_some_and(|d| self.t0.elapsed().as_secs_f64() >= d) {
                return StopReason::Duration;
            }
            // A generator that has sent its --count holds its ports up until --duration ends,
            // so that a peer can still read its counters (memif drops them on disconnect).
            if self.cfg.duration_s.is_none() && all.iter().all(|c| c.is_done()) {
                return StopReason::Done;
            }
            if rx_target.is_some_and(|n| all.iter().map(|c| c.snapshot().rx_packets).sum::<u64>() >= n) {
                return StopReason::Count;
            }
            if let Some(iv) = interval {
                if last.0.elapsed() >= iv {
                    let now = (Instant::now(), totals);
                    self.print_rates(&last, &now, launched);
                    last = now;
                }
            }
        }
    }

    /// Reads every port's counters; returns their totals since the run started.
    pub fn sample(&mut self) -> Vec<port::Stats> {
        for (p, m) in self.infos.iter().zip(&mut self.counters) {
            if let Ok(s) = port::stats(p.id) {
                m.update(s);
            }
        }
        self.counters.iter().map(MonotonicStats::total).collect()
    }

    fn print_rates(
        &self,
        before: &(Instant, Vec<port::Stats>),
        after: &(Instant, Vec<port::Stats>),
        launched: &[LaunchedLcore],
    ) {
        let secs = after.0.duration_since(before.0).as_secs_f64();
        let t = self.t0.elapsed().as_secs_f64();
        for ((p, b), a) in self.infos.iter().zip(&before.1).zip(&after.1) {
            let dropped: u64 = launched
                .iter()
                .flat_map(|l| l.streams.iter())
                .filter(|(s, _)| s.tx_port == p.id)
                .map(|(_, c)| c.snapshot().tx_dropped)
                .sum();
            let link = port::link(p.id, false).ok();
            let line = stats::periodic_line(
                t,
                p.id,
                &Rates::between(b, a, secs),
                a.rx_missed,
                a.rx_nombuf,
                dropped,
                &stats::link_text(link.as_ref()),
            );
            println!("{line}");
        }
    }

    pub fn take_link_events(&mut self, links: &LinkWatch) {
        for LinkEvent { port, tsc, link } in links.drain() {
            let t_s = (tsc as i128 - self.tsc0 as i128) as f64 / self.tsc_hz;
            let name = self.infos.iter().find(|p| p.id == port).map_or("?", |p| p.name.as_str());
            println!("[{t_s:9.3}s] port {port} ({name}): link {}", stats::link_text(Some(&link)));
            self.link_events.push(LinkEventReport { t_s, port, up: link.up, speed_mbps: link.speed_mbps });
        }
    }
}
