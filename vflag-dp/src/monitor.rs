//! The main lcore's watch over a run: stop conditions (signal, --duration, --count, generators
//! done), counters of ports and bond members every tick (kept monotonic, fed to the timeline),
//! link events and outages as they happen, periodic rate lines and `--events` samples.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use dpdk::clock;
use dpdk::link_events::{LinkEvent, LinkWatch};
use dpdk::port::{self, PortInfo};

use crate::counters::StreamCounters;
use crate::events::{EventLog, MemberSample, PortSample, Tracking, What};
use crate::kernel_link::{self, KernelLink};
use crate::latency_window::LatencyWindow;
use crate::launch::LaunchedLcore;
use crate::mode::FwdMode;
use crate::outage::{self, Gap, Outage};
use crate::report::{LinkEventReport, StopReason};
use crate::stats::{self, MonotonicStats, Rates};
use crate::telemetry;
use crate::timeline::{Timeline, Totals};

/// gen-rx with --count: how long the frames sent last are waited for, at most, once all are
/// sent (it stops as soon as as many have come back).
const RETURN_WAIT: Duration = Duration::from_millis(300);

/// Bond members watched beside the ports: their device names and port ids.
#[derive(Debug, Clone, Default)]
pub struct Members {
    pub names: Vec<String>,
    pub ids: Vec<u16>,
}

/// What the main lcore's watch is told of the settings.
#[derive(Debug, Clone)]
pub struct MonitorConfig {
    pub mode: FwdMode,
    /// The rate timeline's bin width.
    pub bin_ms: u64,
    /// Rate lines this often; 0: none.
    pub stats_interval_s: f64,
    /// `--count`: frames to receive before stopping (a generator's count is its lanes' quota).
    pub count: Option<u64>,
    pub duration_s: Option<f64>,
    /// `--bond` stacked a bond over the devices: the members' carrier changes are applied to it.
    pub bond: bool,
    /// The devices given: an af_packet one's kernel interface has its carrier watched.
    pub vdevs: Vec<String>,
}

pub struct Monitor<'a> {
    watch: MonitorConfig,
    infos: &'a [PortInfo],
    members: &'a Members,
    t0: Instant,
    tsc0: u64,
    tsc_hz: f64,
    pub link_events: Vec<LinkEventReport>,
    /// Each port's last reported link state: two sources (DPDK's link and the kernel's carrier
    /// of an af_packet member, which newer DPDK also reports) telling the same change make
    /// one event.
    last_up: std::collections::HashMap<u16, bool>,
    counters: Vec<MonotonicStats>,
    member_counters: Vec<MonotonicStats>,
    pub timeline: Timeline,
    pub events: EventLog,
    /// Gaps reported by each analysing lcore, by lcore index.
    pub gaps: Vec<Vec<Gap>>,
    pub outages: Vec<Outage>,
    /// Start TSCs of the outages already reported.
    reported: std::collections::HashSet<u64>,
    tracked: bool,
    kernel_links: Vec<KernelLink>,
    telemetry: Option<telemetry::Shared>,
    ticks: u64,
    /// The tracked frames' latency at the previous sample, for each sample's interval.
    latency: LatencyWindow,
}

impl<'a> Monitor<'a> {
    pub fn new(
        watch: MonitorConfig,
        infos: &'a [PortInfo],
        members: &'a Members,
        analysing_lcores: usize,
        events: EventLog,
        t0: Instant,
        tsc0: u64,
    ) -> Self {
        let kernel_links = watch
            .vdevs
            .iter()
            .filter_map(|v| kernel_link::iface_of(v))
            .filter_map(|(dev, iface)| Some(KernelLink::new(port::port_by_name(&dev)?, iface)))
            .collect();
        Monitor {
            timeline: Timeline::new(watch.bin_ms as f64 / 1e3),
            watch,
            infos,
            members,
            t0,
            tsc0,
            tsc_hz: clock::tsc_hz().max(1) as f64,
            link_events: Vec::new(),
            last_up: std::collections::HashMap::new(),
            counters: vec![MonotonicStats::default(); infos.len()],
            member_counters: vec![MonotonicStats::default(); members.ids.len()],
            events,
            gaps: vec![Vec::new(); analysing_lcores],
            outages: Vec::new(),
            reported: std::collections::HashSet::new(),
            tracked: false,
            kernel_links,
            telemetry: None,
            ticks: 0,
            latency: LatencyWindow::new(clock::tsc_hz()),
        }
    }

    /// Values for `/vflag/*` telemetry are refreshed into `shared` from now on.
    pub fn publish_to(&mut self, shared: telemetry::Shared) {
        self.telemetry = Some(shared);
    }

    fn refresh_telemetry(&self, ports: &[port::Stats], launched: &[LaunchedLcore]) {
        let Some(shared) = &self.telemetry else { return };
        let mut stats =
            vec![telemetry::s("mode", self.watch.mode.name()), telemetry::u("uptime_ms", (self.now_s() * 1e3) as u64)];
        for (p, s) in self.infos.iter().zip(ports) {
            let up = port::link(p.id, false).is_ok_and(|l| l.up);
            stats.push(telemetry::u(format!("port{}_rx_packets", p.id), s.rx_packets));
            stats.push(telemetry::u(format!("port{}_tx_packets", p.id), s.tx_packets));
            stats.push(telemetry::u(format!("port{}_rx_missed", p.id), s.rx_missed));
            stats.push(telemetry::u(format!("port{}_link_up", p.id), u64::from(up)));
        }
        for (n, s) in self.members.names.iter().zip(self.member_totals()) {
            stats.push(telemetry::u(format!("member_{n}_rx_packets"), s.rx_packets));
            stats.push(telemetry::u(format!("member_{n}_tx_packets"), s.tx_packets));
        }
        let tracking = live_tracking(launched)
            .map(|l| {
                vec![
                    telemetry::u("tracked", l.tracked),
                    telemetry::u("lost", l.lost),
                    telemetry::u("reordered", l.reordered),
                    telemetry::u("duplicates", l.duplicates),
                    telemetry::u("foreign", l.foreign),
                ]
            })
            .unwrap_or_default();
        let mut outages = vec![telemetry::u("count", self.outages.len() as u64)];
        if let Some(last) = self.outages.last() {
            outages.push(telemetry::u("last_start_ms", (last.start_s * 1e3) as u64));
            outages.push(telemetry::u("last_duration_us", (last.duration_ms * 1e3) as u64));
        }
        if let Some(max) = self.outages.iter().map(|o| o.duration_ms).reduce(f64::max) {
            outages.push(telemetry::u("max_duration_us", (max * 1e3) as u64));
        }
        let interleave = interleave_values(&crate::launch::interleave_totals(launched), clock::tsc_hz());
        let mut p = shared.lock().unwrap_or_else(|e| e.into_inner());
        *p = telemetry::Published { stats, tracking, outages, interleave };
    }

    fn now_s(&self) -> f64 {
        self.t0.elapsed().as_secs_f64()
    }

    /// Runs until a stop condition holds and says which.
    pub fn watch(
        &mut self,
        launched: &[LaunchedLcore],
        signalled: &AtomicBool,
        links: &mut LinkWatch,
        gaps: &crossbeam_queue::ArrayQueue<(usize, Gap)>,
    ) -> StopReason {
        let all: Vec<&StreamCounters> =
            launched.iter().flat_map(|l| l.streams.iter().map(|(_, c)| c.as_ref())).collect();
        let interval =
            (self.watch.stats_interval_s > 0.0).then(|| Duration::from_secs_f64(self.watch.stats_interval_s));
        let tick = Duration::from_millis(self.watch.bin_ms.min(10));
        let mut last = (Instant::now(), self.sample());
        let rx_target = match self.watch.mode {
            FwdMode::Txonly | FwdMode::Gen | FwdMode::GenRx => None,
            _ => self.watch.count,
        };
        let mut sent_all = None;
        loop {
            std::thread::sleep(tick);
            // Every tick, so a driver's counter reset loses at most one tick of counts.
            let totals = self.sample();
            links.poll();
            self.take_link_events(links);
            self.take_gaps(gaps, launched);
            self.ticks += 1;
            if self.ticks % 10 == 1 {
                self.refresh_telemetry(&totals, launched);
            }
            if signalled.load(Ordering::Relaxed) {
                return StopReason::Signal;
            }
            if self.watch.duration_s.is_some_and(|d| self.now_s() >= d) {
                return StopReason::Duration;
            }
            // A generator that has sent its --count holds its ports up until --duration ends,
            // so that a peer can still read its counters (memif drops them on disconnect).
            if self.watch.duration_s.is_none() && all.iter().all(|c| c.is_done()) {
                // gen-rx: the last frames sent may still be on their way back.
                let since = *sent_all.get_or_insert_with(Instant::now);
                let back = || {
                    let (rx, tx) =
                        all.iter().map(|c| c.snapshot()).fold((0, 0), |(r, t), s| (r + s.rx_packets, t + s.tx_packets));
                    rx >= tx
                };
                if self.watch.mode != FwdMode::GenRx || back() || since.elapsed() >= RETURN_WAIT {
                    return StopReason::Done;
                }
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

    /// Reads every port's and member's counters, feeds the timeline, and returns the ports'
    /// totals since the run started.
    pub fn sample(&mut self) -> Vec<port::Stats> {
        for (p, m) in self.infos.iter().zip(&mut self.counters) {
            if let Ok(s) = port::stats(p.id) {
                m.update(s);
            }
        }
        for (&id, m) in self.members.ids.iter().zip(&mut self.member_counters) {
            if let Ok(s) = port::stats(id) {
                m.update(s);
            }
        }
        let mut ports: Vec<port::Stats> = self.counters.iter().map(MonotonicStats::total).collect();
        let members: Vec<port::Stats> = self.member_counters.iter().map(MonotonicStats::total).collect();
        // A bond's own counters are its active members' sum: a member that leaves (carrier
        // loss) takes its count away, and its return adds all of it again. The members' own
        // counters are the truth, so the bond's are their sum.
        if let (true, Some(bond), false) = (self.watch.bond, ports.first_mut(), members.is_empty()) {
            *bond = stats::sum(&members);
        }
        let t = self.now_s();
        self.timeline.sample(
            t,
            &Totals {
                rx: ports.iter().map(|s| s.rx_packets).collect(),
                tx: ports.iter().map(|s| s.tx_packets).collect(),
                member_rx: members.iter().map(|s| s.rx_packets).collect(),
                member_tx: members.iter().map(|s| s.tx_packets).collect(),
            },
        );
        ports
    }

    /// Each bond member's counters over the run.
    pub fn member_totals(&self) -> Vec<port::Stats> {
        self.member_counters.iter().map(MonotonicStats::total).collect()
    }

    fn print_rates(
        &mut self,
        before: &(Instant, Vec<port::Stats>),
        after: &(Instant, Vec<port::Stats>),
        launched: &[LaunchedLcore],
    ) {
        let secs = after.0.duration_since(before.0).as_secs_f64();
        let t = self.now_s();
        let mut sample = Vec::new();
        for ((p, b), a) in self.infos.iter().zip(&before.1).zip(&after.1) {
            let dropped: u64 = launched
                .iter()
                .flat_map(|l| l.streams.iter())
                .filter(|(s, _)| s.tx_port == p.id)
                .map(|(_, c)| c.snapshot().tx_dropped)
                .sum();
            let link = port::link(p.id, false).ok();
            let r = Rates::between(b, a, secs);
            let line =
                stats::periodic_line(t, p.id, &r, a.rx_missed, a.rx_nombuf, dropped, &stats::link_text(link.as_ref()));
            println!("{line}");
            sample.push(PortSample {
                port: p.id,
                rx_pps: r.rx_pps,
                tx_pps: r.tx_pps,
                rx_packets: a.rx_packets,
                tx_packets: a.tx_packets,
                link_up: link.is_some_and(|l| l.up),
            });
        }
        let members: Vec<_> = self
            .members
            .names
            .iter()
            .zip(self.member_totals())
            .map(|(n, s)| MemberSample { name: n.clone(), rx_packets: s.rx_packets, tx_packets: s.tx_packets })
            .collect();
        let live = live_tracking(launched);
        if let Some(l) = &live {
            println!(
                "[{t:8.1}s] tracked rx {} lost {} reordered {} duplicates {} | foreign {} | outages {}",
                l.tracked,
                l.lost,
                l.reordered,
                l.duplicates,
                l.foreign,
                self.outages.len()
            );
        }
        let cells: Vec<&crate::lathist::Cells> = launched.iter().filter_map(|l| l.latency.as_deref()).collect();
        let latency = self.latency.interval(&cells);
        self.events.write(t, What::<()>::Sample { ports: sample, members, tracking: live, latency });
    }

    /// A port's or bond member's name ("?" for one this run does not know).
    fn port_name(&self, port: u16) -> &str {
        self.infos
            .iter()
            .find(|p| p.id == port)
            .map(|p| p.name.as_str())
            .or_else(|| self.members.ids.iter().position(|&m| m == port).map(|i| self.members.names[i].as_str()))
            .unwrap_or("?")
    }

    pub fn take_link_events(&mut self, links: &LinkWatch) {
        let sysfs = std::path::Path::new("/sys/class/net");
        let mut kernel: Vec<LinkEvent> = Vec::new();
        // Ports whose interface was deleted, by interface name: their events say so.
        let mut gone: Vec<(u16, String)> = Vec::new();
        for k in &mut self.kernel_links {
            if let Some(state) = k.poll(sysfs) {
                let link = port::Link { up: state.up(), ..port::link(k.port, false).unwrap_or_default() };
                kernel.push(LinkEvent { port: k.port, tsc: clock::tsc(), link });
                if state == kernel_link::State::Gone {
                    gone.push((k.port, k.iface.clone()));
                }
            }
        }
        for e in &kernel {
            self.tell_bond(e.port, e.link.up);
        }
        for LinkEvent { port, tsc, link } in links.drain().into_iter().chain(kernel) {
            let iface_gone = gone.iter().find(|g| g.0 == port).map(|g| g.1.as_str());
            if self.last_up.insert(port, link.up) == Some(link.up) {
                if let Some(iface) = iface_gone {
                    // Down already (carrier lost before the deletion): say that it is gone.
                    let t_s = (tsc as i128 - self.tsc0 as i128) as f64 / self.tsc_hz;
                    println!("[{t_s:9.3}s] port {port}: interface {iface} is gone");
                    let name = self.port_name(port).to_string();
                    let ev = What::<()>::Link { port, name, up: false, speed_mbps: 0, gone: Some(iface.to_string()) };
                    self.events.write(t_s, ev);
                }
                continue;
            }
            let t_s = (tsc as i128 - self.tsc0 as i128) as f64 / self.tsc_hz;
            let name = self.port_name(port);
            let why = iface_gone.map(|i| format!(" (interface {i} is gone)")).unwrap_or_default();
            println!("[{t_s:9.3}s] port {port} ({name}): link {}{why}", stats::link_text(Some(&link)));
            let ev = What::<()>::Link {
                port,
                name: name.to_string(),
                up: link.up,
                speed_mbps: link.speed_mbps,
                gone: iface_gone.map(str::to_string),
            };
            self.events.write(t_s, ev);
            self.link_events.push(LinkEventReport { t_s, port, up: link.up, speed_mbps: link.speed_mbps });
        }
    }

    /// A bond member on a kernel interface (af_packet, af_xdp) whose carrier changed: its driver
    /// reports the link as always up, so the bond would never fail over. Taking the member out
    /// of the bond on carrier loss and back in on its return gives the bond what a NIC's link
    /// interrupt gives it (in 802.3ad mode LACP then renegotiates the returning member).
    fn tell_bond(&self, member: u16, up: bool) {
        let Some(bond) = self.infos.first().filter(|_| self.watch.bond) else { return };
        if !self.members.ids.contains(&member) {
            return;
        }
        if let Err(e) = port::bond_member_set(bond.id, member, up) {
            eprintln!("vflag-dp: warning: {e}");
        }
    }

    /// Collects the lcores' gaps and reports every new outage (a time when all were silent).
    pub fn take_gaps(&mut self, queue: &crossbeam_queue::ArrayQueue<(usize, Gap)>, launched: &[LaunchedLcore]) {
        let mut new = false;
        while let Some((i, g)) = queue.pop() {
            if let Some(list) = self.gaps.get_mut(i) {
                list.push(g);
                new = true;
            }
        }
        if !new {
            return;
        }
        let live = live_tracking(launched);
        self.tracked = live.as_ref().is_some_and(|l| l.tracked > 0);
        // An lcore that never received anything has no gaps but is not evidence of traffic.
        let receiving: Vec<Vec<Gap>> = self
            .gaps
            .iter()
            .zip(launched.iter().filter(|l| l.analysis.is_some()))
            .filter(|(_, l)| l.streams.iter().any(|(_, c)| c.snapshot().rx_packets > 0))
            .map(|(g, _)| g.clone())
            .collect();
        let links: Vec<(f64, u16, bool)> = self.link_events.iter().map(|e| (e.t_s, e.port, e.up)).collect();
        for g in outage::intersect(&receiving) {
            if !self.reported.insert(g.start_tsc) {
                continue;
            }
            let known = self.outages.len();
            let t_start = (g.start_tsc as f64 - self.tsc0 as f64) / self.tsc_hz;
            let offered = self.timeline.rx_rate(t_start - 1.0, t_start);
            let o = outage::outage(&g, self.tsc0, self.tsc_hz, self.tracked, offered, &links);
            let lost = o.lost.map(|l| format!(", {l} tracked frames lost")).unwrap_or_default();
            let derived = o.loss_derived_ms.map(|d| format!(", loss-derived {d:.1} ms")).unwrap_or_default();
            let open = if o.open { " (still silent at the end of the run)" } else { "" };
            println!(
                "[{:9.3}s] outage {}: {:.1} ms without frames{lost}{derived}{open}",
                o.start_s,
                known + 1,
                o.duration_ms
            );
            self.events.write(o.start_s, What::<()>::Outage(o.clone()));
            self.outages.push(o);
        }
        self.outages.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
        prune_gaps(&mut self.gaps, &mut self.reported);
    }
}

/// Forgets the gaps no later gap can overlap, and the outages only they could repeat, so a
/// long run keeps a few gaps, not every silence since it began (each new gap intersected them
/// all: memory and time growing with the run). An lcore's gaps come in time order, and its
/// next silence starts after the frame that ended its last one; so once every lcore has
/// reported a gap, one that ended before the earliest of their last ends overlaps nothing to
/// come. An intersection starts no earlier than its gaps, so an outage key below the earliest
/// gap kept cannot come back.
fn prune_gaps(gaps: &mut [Vec<Gap>], reported: &mut std::collections::HashSet<u64>) {
    let Some(horizon) = gaps.iter().map(|l| l.last().map(|g| g.end_tsc)).collect::<Option<Vec<u64>>>() else {
        return;
    };
    let Some(&horizon) = horizon.iter().min() else { return };
    for list in gaps.iter_mut() {
        list.retain(|g| g.end_tsc >= horizon);
    }
    let floor = gaps.iter().filter_map(|l| l.first().map(|g| g.start_tsc)).min().unwrap_or(horizon).min(horizon);
    reported.retain(|&k| k >= floor);
}

/// `/vflag/interleave`: frames and ticks per mode summed over the lcores (empty when not
/// interleaving), so a reader can take rates over its own window.
fn interleave_values(per_lcore: &[crate::interleave::SliceTotals], tsc_hz: u64) -> telemetry::Dict {
    if per_lcore.is_empty() {
        return Vec::new();
    }
    let sum = |f: &dyn Fn(&crate::interleave::SliceTotals) -> u64| per_lcore.iter().map(f).sum::<u64>();
    vec![
        telemetry::u("lcores", per_lcore.len() as u64),
        telemetry::u("tsc_hz", tsc_hz),
        telemetry::u("slices", sum(&|t| t.slices)),
        telemetry::u("plain_packets", sum(&|t| t.packets[0])),
        telemetry::u("plain_tsc", sum(&|t| t.tsc[0])),
        telemetry::u("analysing_packets", sum(&|t| t.packets[1])),
        telemetry::u("analysing_tsc", sum(&|t| t.tsc[1])),
    ]
}

pub fn live_tracking(launched: &[LaunchedLcore]) -> Option<Tracking> {
    let mut any = false;
    let mut t = Tracking::default();
    for (live, _) in launched.iter().filter_map(|l| l.analysis.as_ref()) {
        any = true;
        t.tracked += live.tracked.load(Ordering::Relaxed);
        t.lost += live.lost.load(Ordering::Relaxed);
        t.reordered += live.reordered.load(Ordering::Relaxed);
        t.duplicates += live.duplicates.load(Ordering::Relaxed);
        t.foreign += live.foreign.load(Ordering::Relaxed);
    }
    any.then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn gap(s: u64, e: u64) -> Gap {
        Gap { start_tsc: s, end_tsc: e, lost: 0, open: false }
    }

    /// Pruning keeps what later gaps can still overlap: the outages found afterwards are those
    /// the whole lists give, and none is found twice.
    #[test]
    fn pruned_gaps_find_the_same_outages_and_stay_few() {
        let mut gaps = vec![vec![gap(0, 10), gap(20, 30)], vec![gap(5, 25)]];
        let mut reported: HashSet<u64> = outage::intersect(&gaps).iter().map(|g| g.start_tsc).collect();
        assert_eq!(reported, HashSet::from([5, 20]));
        let whole = gaps.clone();
        prune_gaps(&mut gaps, &mut reported);
        assert_eq!(gaps, vec![vec![gap(20, 30)], vec![gap(5, 25)]], "A's first gap ended before B's last");
        assert_eq!(reported, HashSet::from([5, 20]));
        // Later gaps: the new outages are the same with the pruned lists as with the whole ones.
        let later = |mut g: Vec<Vec<Gap>>| {
            g[0].push(gap(40, 50));
            g[1].push(gap(45, 60));
            outage::intersect(&g).into_iter().map(|g| g.start_tsc).collect::<HashSet<u64>>()
        };
        let (pruned, all) = (later(gaps.clone()), later(whole));
        assert_eq!(pruned.difference(&reported).collect::<Vec<_>>(), [&45]);
        assert_eq!(all.difference(&reported).collect::<Vec<_>>(), [&45]);
        // An lcore with no gap yet: nothing is forgotten.
        let mut one_silent = vec![vec![gap(0, 10), gap(20, 30)], vec![]];
        prune_gaps(&mut one_silent, &mut reported);
        assert_eq!(one_silent[0].len(), 2);
        // One lcore, a thousand silences: one kept.
        let mut many = vec![(0..1000).map(|i| gap(i * 100, i * 100 + 20)).collect::<Vec<_>>()];
        let mut keys: HashSet<u64> = (0..1000).map(|i| i * 100).collect();
        prune_gaps(&mut many, &mut keys);
        assert_eq!((many[0].len(), keys.len()), (1, 1));
    }
}
