//! Rates between two samples of port counters, and the periodic per-port line.

use dpdk::port::{Link, Stats};

/// A port's counters made monotonic: some drivers (memif on disconnect) reset their counters,
/// which would make a run's totals and rates jump backwards. A counter seen going down is taken
/// as reset, and what it had counted is kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MonotonicStats {
    base: Stats,
    last: Stats,
}

impl MonotonicStats {
    pub fn update(&mut self, now: Stats) {
        let pairs = [
            (&mut self.base.rx_packets, self.last.rx_packets, now.rx_packets),
            (&mut self.base.tx_packets, self.last.tx_packets, now.tx_packets),
            (&mut self.base.rx_bytes, self.last.rx_bytes, now.rx_bytes),
            (&mut self.base.tx_bytes, self.last.tx_bytes, now.tx_bytes),
            (&mut self.base.rx_missed, self.last.rx_missed, now.rx_missed),
            (&mut self.base.rx_errors, self.last.rx_errors, now.rx_errors),
            (&mut self.base.tx_errors, self.last.tx_errors, now.tx_errors),
            (&mut self.base.rx_nombuf, self.last.rx_nombuf, now.rx_nombuf),
        ];
        for (base, last, now) in pairs {
            if now < last {
                *base += last;
            }
        }
        self.last = now;
    }

    /// Everything counted since the first sample.
    pub fn total(&self) -> Stats {
        let (b, l) = (&self.base, &self.last);
        Stats {
            rx_packets: b.rx_packets + l.rx_packets,
            tx_packets: b.tx_packets + l.tx_packets,
            rx_bytes: b.rx_bytes + l.rx_bytes,
            tx_bytes: b.tx_bytes + l.tx_bytes,
            rx_missed: b.rx_missed + l.rx_missed,
            rx_errors: b.rx_errors + l.rx_errors,
            tx_errors: b.tx_errors + l.tx_errors,
            rx_nombuf: b.rx_nombuf + l.rx_nombuf,
        }
    }
}

/// Counters added up: a bond's from its members'.
pub fn sum(all: &[Stats]) -> Stats {
    let mut t = Stats::default();
    for s in all {
        t.rx_packets += s.rx_packets;
        t.tx_packets += s.tx_packets;
        t.rx_bytes += s.rx_bytes;
        t.tx_bytes += s.tx_bytes;
        t.rx_missed += s.rx_missed;
        t.rx_errors += s.rx_errors;
        t.tx_errors += s.tx_errors;
        t.rx_nombuf += s.rx_nombuf;
    }
    t
}

/// Per-second rates over an interval.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rates {
    pub rx_pps: f64,
    pub tx_pps: f64,
    pub rx_mbps: f64,
    pub tx_mbps: f64,
}

impl Rates {
    pub fn between(before: &Stats, after: &Stats, secs: f64) -> Rates {
        if secs <= 0.0 {
            return Rates::default();
        }
        let d = |a: u64, b: u64| b.saturating_sub(a) as f64 / secs;
        Rates {
            rx_pps: d(before.rx_packets, after.rx_packets),
            tx_pps: d(before.tx_packets, after.tx_packets),
            rx_mbps: d(before.rx_bytes, after.rx_bytes) * 8.0 / 1e6,
            tx_mbps: d(before.tx_bytes, after.tx_bytes) * 8.0 / 1e6,
        }
    }
}

pub fn link_text(link: Option<&Link>) -> String {
    match link {
        Some(l) if l.up => {
            format!("up {} {}", speed_text(l.speed_mbps), if l.full_duplex { "full-duplex" } else { "half-duplex" })
        }
        Some(_) => "down".into(),
        None => "unknown".into(),
    }
}

fn speed_text(mbps: u32) -> String {
    match mbps {
        0 => "speed unknown".into(),
        u32::MAX => "speed unknown".into(),
        m if m >= 1000 && m % 1000 == 0 => format!("{} Gbps", m / 1000),
        m => format!("{m} Mbps"),
    }
}

/// `[   3.0s] port 0 rx  12.345 Mpps  6319.8 Mbps | tx   0.000 Mpps ... | missed 0 nombuf 0 tx-dropped 0 | link up 10 Gbps full-duplex`
pub fn periodic_line(t_s: f64, port: u16, r: &Rates, missed: u64, nombuf: u64, tx_dropped: u64, link: &str) -> String {
    format!(
        "[{t_s:8.1}s] port {port} rx {:8.3} Mpps {:9.1} Mbps | tx {:8.3} Mpps {:9.1} Mbps | missed {missed} nombuf {nombuf} tx-dropped {tx_dropped} | link {link}",
        r.rx_pps / 1e6,
        r.rx_mbps,
        r.tx_pps / 1e6,
        r.tx_mbps
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_over_an_interval() {
        let a = Stats { rx_packets: 1000, rx_bytes: 64_000, ..Default::default() };
        let b = Stats { rx_packets: 3000, rx_bytes: 192_000, tx_packets: 500, ..Default::default() };
        let r = Rates::between(&a, &b, 2.0);
        assert_eq!(r.rx_pps, 1000.0);
        assert_eq!(r.tx_pps, 250.0);
        assert!((r.rx_mbps - 0.512).abs() < 1e-9);
        assert_eq!(Rates::between(&a, &b, 0.0), Rates::default());
        // Counters reset by the driver (after < before) give 0, not a wrapped huge rate.
        assert_eq!(Rates::between(&b, &a, 1.0).rx_pps, 0.0);
    }

    #[test]
    fn monotonic_stats_survive_a_driver_reset() {
        let mut m = MonotonicStats::default();
        m.update(Stats { rx_packets: 100, rx_bytes: 6400, tx_packets: 5, ..Default::default() });
        m.update(Stats { rx_packets: 150, rx_bytes: 9600, tx_packets: 5, ..Default::default() });
        assert_eq!(m.total().rx_packets, 150);
        // The driver reset its counters (memif on disconnect), then counted 10 more.
        m.update(Stats { rx_packets: 10, rx_bytes: 640, ..Default::default() });
        let t = m.total();
        assert_eq!((t.rx_packets, t.rx_bytes, t.tx_packets), (160, 10_240, 5));
        m.update(Stats { rx_packets: 12, rx_bytes: 768, ..Default::default() });
        assert_eq!(m.total().rx_packets, 162);
    }

    #[test]
    fn a_bond_made_monotonic_counts_a_returning_member_twice_and_the_members_sum_does_not() {
        // The bond's counters are its active members' sum: member b (100 sent) leaves, then
        // returns. Taken as a reset, the bond's counter would count b's 100 again.
        let s = |tx: u64| Stats { tx_packets: tx, ..Default::default() };
        let mut bond = MonotonicStats::default();
        for total in [200, 100, 210] {
            bond.update(s(total));
        }
        assert_eq!(bond.total().tx_packets, 410, "the double count the members' sum avoids");
        let (a, b) = (s(110), s(100));
        assert_eq!(sum(&[a, b]).tx_packets, 210);
        assert_eq!(sum(&[]), Stats::default());
    }

    #[test]
    fn link_texts() {
        let up = Link { up: true, speed_mbps: 10_000, full_duplex: true, autoneg: false };
        assert_eq!(link_text(Some(&up)), "up 10 Gbps full-duplex");
        assert_eq!(link_text(Some(&Link { speed_mbps: 100, ..up })), "up 100 Mbps full-duplex");
        assert_eq!(link_text(Some(&Link::default())), "down");
        assert_eq!(link_text(None), "unknown");
    }

    #[test]
    fn periodic_line_shows_rates_drops_and_link() {
        let r = Rates { rx_pps: 12_345_000.0, tx_pps: 0.0, rx_mbps: 6319.8, tx_mbps: 0.0 };
        let l = periodic_line(3.0, 0, &r, 1, 2, 3, "up 10 Gbps full-duplex");
        assert!(l.starts_with("[     3.0s] port 0 rx   12.345 Mpps    6319.8 Mbps"), "{l}");
        assert!(l.contains("missed 1 nombuf 2 tx-dropped 3 | link up 10 Gbps full-duplex"), "{l}");
    }
}
