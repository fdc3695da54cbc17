//! The rate timeline: frames per bin (default 10 ms) for every port and bond member, built by
//! the main lcore from counter samples. Outages take their offered rate from it, and load
//! balance its shares before and after link changes.

pub use vflag_contract::report::Bin;

/// A sample of running totals: per port and per member, rx and tx.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    pub rx: Vec<u64>,
    pub tx: Vec<u64>,
    pub member_rx: Vec<u64>,
    pub member_tx: Vec<u64>,
}

pub struct Timeline {
    bin_s: f64,
    bins: Vec<Bin>,
    start: Option<(f64, Totals)>,
}

fn delta(a: &[u64], b: &[u64]) -> Vec<u64> {
    a.iter().zip(b).map(|(x, y)| y.saturating_sub(*x)).collect()
}

impl Timeline {
    pub fn new(bin_s: f64) -> Self {
        Timeline { bin_s, bins: Vec::new(), start: None }
    }

    /// Feeds the totals seen at `t_s`; closes a bin once it is `bin_s` wide.
    pub fn sample(&mut self, t_s: f64, now: &Totals) {
        let Some((t0, base)) = &self.start else {
            self.start = Some((t_s, now.clone()));
            return;
        };
        if t_s - t0 + 1e-9 >= self.bin_s {
            self.bins.push(Bin {
                t_s: *t0,
                width_s: t_s - t0,
                rx: delta(&base.rx, &now.rx),
                tx: delta(&base.tx, &now.tx),
                member_rx: delta(&base.member_rx, &now.member_rx),
                member_tx: delta(&base.member_tx, &now.member_tx),
            });
            self.start = Some((t_s, now.clone()));
        }
    }

    pub fn bins(&self) -> &[Bin] {
        &self.bins
    }

    /// Received frames per second over all ports in `[from, to)`, from the bins inside it.
    pub fn rx_rate(&self, from: f64, to: f64) -> f64 {
        let (mut frames, mut secs) = (0u64, 0.0);
        for b in self.bins.iter().filter(|b| b.t_s >= from && b.t_s + b.width_s <= to + 1e-9) {
            frames += b.rx.iter().sum::<u64>();
            secs += b.width_s;
        }
        if secs > 0.0 {
            frames as f64 / secs
        } else {
            0.0
        }
    }

    /// Each member's frames (rx + tx) in `[from, to)`.
    pub fn member_frames(&self, from: f64, to: f64) -> Vec<u64> {
        let mut out: Vec<u64> = Vec::new();
        for b in self.bins.iter().filter(|b| b.t_s >= from && b.t_s < to) {
            if out.is_empty() {
                out = vec![0; b.member_rx.len()];
            }
            for (i, o) in out.iter_mut().enumerate() {
                *o += b.member_rx.get(i).copied().unwrap_or(0) + b.member_tx.get(i).copied().unwrap_or(0);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(rx: u64, m0: u64, m1: u64) -> Totals {
        Totals { rx: vec![rx], tx: vec![0], member_rx: vec![m0, m1], member_tx: vec![0, 0] }
    }

    #[test]
    fn bins_hold_the_frames_counted_in_them() {
        let mut t = Timeline::new(0.01);
        t.sample(0.000, &totals(0, 0, 0));
        t.sample(0.005, &totals(50, 25, 25));
        t.sample(0.010, &totals(100, 50, 50));
        t.sample(0.020, &totals(300, 150, 150));
        t.sample(0.031, &totals(300, 150, 150));
        let b = t.bins();
        assert_eq!(b.len(), 3);
        assert_eq!((b[0].rx[0], b[1].rx[0], b[2].rx[0]), (100, 200, 0));
        assert!((b[2].width_s - 0.011).abs() < 1e-9);
        assert!((t.rx_rate(0.0, 0.02) - 15_000.0).abs() < 1e-6);
        assert_eq!(t.rx_rate(5.0, 6.0), 0.0);
    }

    #[test]
    fn member_frames_over_a_window() {
        let mut t = Timeline::new(1.0);
        t.sample(0.0, &totals(0, 0, 0));
        t.sample(1.0, &totals(100, 50, 50));
        t.sample(2.0, &totals(200, 150, 50)); // member 1 went quiet
        assert_eq!(t.member_frames(0.0, 1.0), vec![50, 50]);
        assert_eq!(t.member_frames(1.0, 2.0), vec![100, 0]);
        assert_eq!(t.member_frames(0.0, 2.0), vec![150, 50]);
        assert!(t.member_frames(9.0, 10.0).is_empty());
    }
}
