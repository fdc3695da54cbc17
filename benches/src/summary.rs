//! Figures over rounds: median, min and max, and the ratio of two sides' medians.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub rounds: Vec<f64>,
}

impl Spread {
    pub fn of(values: &[f64]) -> Option<Spread> {
        if values.is_empty() {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
        Some(Spread { median, min: v[0], max: v[n - 1], rounds: values.to_vec() })
    }
}

/// `b / a`, or None when `a` is zero.
pub fn ratio(a: f64, b: f64) -> Option<f64> {
    (a > 0.0).then(|| b / a)
}

/// TSC cycles per packet of one forwarding lcore busy all the time at `mpps`.
pub fn cycles_per_packet(tsc_hz: u64, mpps: f64) -> Option<f64> {
    (mpps > 0.0).then(|| tsc_hz as f64 / (mpps * 1e6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_min_max() {
        let s = Spread::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!(s.rounds, [3.0, 1.0, 2.0], "rounds stay in the order they ran");
        assert_eq!(Spread::of(&[4.0, 1.0, 2.0, 3.0]).unwrap().median, 2.5);
        assert_eq!(Spread::of(&[]), None);
    }

    #[test]
    fn ratios_and_cycles() {
        assert_eq!(ratio(20.0, 25.0), Some(1.25));
        assert_eq!(ratio(0.0, 5.0), None);
        assert_eq!(cycles_per_packet(2_000_000_000, 20.0), Some(100.0));
        assert_eq!(cycles_per_packet(2_000_000_000, 0.0), None);
    }
}
