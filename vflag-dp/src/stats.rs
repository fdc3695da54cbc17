//! Rates between two samples of port counters, and the periodic per-port line.

use dpdk_sys::port::{Link, Stats};

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
        Some(l) if l.up => format!(
            "up {} {}",
            speed_text(l.speed_mbps),
            if l.full_duplex {
                "full-duplex"
            } else {
                "half-duplex"
            }
        ),
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
pub fn periodic_line(
    t_s: f64,
    port: u16,
    r: &Rates,
    missed: u64,
    nombuf: u64,
    tx_dropped: u64,
    link: &str,
) -> String {
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
        let a = Stats {
            rx_packets: 1000,
            rx_bytes: 64_000,
            ..Default::default()
        };
        let b = Stats {
            rx_packets: 3000,
            rx_bytes: 192_000,
            tx_packets: 500,
            ..Default::default()
        };
        let r = Rates::between(&a, &b, 2.0);
        assert_eq!(r.rx_pps, 1000.0);
        assert_eq!(r.tx_pps, 250.0);
        assert!((r.rx_mbps - 0.512).abs() < 1e-9);
        assert_eq!(Rates::between(&a, &b, 0.0), Rates::default());
        // Counters reset by the driver (after < before) give 0, not a wrapped huge rate.
        assert_eq!(Rates::between(&b, &a, 1.0).rx_pps, 0.0);
    }

    #[test]
    fn link_texts() {
        let up = Link {
            up: true,
            speed_mbps: 10_000,
            full_duplex: true,
            autoneg: false,
        };
        assert_eq!(link_text(Some(&up)), "up 10 Gbps full-duplex");
        assert_eq!(
            link_text(Some(&Link {
                speed_mbps: 100,
                ..up
            })),
            "up 100 Mbps full-duplex"
        );
        assert_eq!(link_text(Some(&Link::default())), "down");
        assert_eq!(link_text(None), "unknown");
    }

    #[test]
    fn periodic_line_shows_rates_drops_and_link() {
        let r = Rates {
            rx_pps: 12_345_000.0,
            tx_pps: 0.0,
            rx_mbps: 6319.8,
            tx_mbps: 0.0,
        };
        let l = periodic_line(3.0, 0, &r, 1, 2, 3, "up 10 Gbps full-duplex");
        assert!(
            l.starts_with("[     3.0s] port 0 rx   12.345 Mpps    6319.8 Mbps"),
            "{l}"
        );
        assert!(
            l.contains("missed 1 nombuf 2 tx-dropped 3 | link up 10 Gbps full-duplex"),
            "{l}"
        );
    }
}
