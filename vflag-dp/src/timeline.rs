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

/// The most bins a timeline keeps: at 10 ms, the first 11 minutes at full width. A longer run
/// merges its bins in pairs (all of them, so every part of the run has one width) and closes
/// bins twice as wide from then on; a run of hours keeps ~15 MB of bins, not ~90 MB an hour,
/// and each bin still says its own width.
pub const MAX_BINS: usize = 1 << 16;

pub struct Timeline {
    bin_s: f64,
    bins: Vec<Bin>,
    start: Option<(f64, Totals)>,
    max_bins: usize,
}

fn delta(a: &[u64], b: &[u64]) -> Vec<u64> {
    a.iter().zip(b).map(|(x, y)| y.saturating_sub(*x)).collect()
}

impl Timeline {
    pub fn new(bin_s: f64) -> Self {
        Self::bounded(bin_s, MAX_BINS)
    }

    /// A timeline that keeps at most `max_bins` (even, at least 2) bins.
    pub fn bounded(bin_s: f64, max_bins: usize) -> Self {
        Timeline { bin_s, bins: Vec::new(), start: None, max_bins: max_bins.max(2) }
    }

    /// The width bins close at now: `--bin-ms`, doubled at each merge.
    pub fn bin_s(&self) -> f64 {
        self.bin_s
    }

    /// Every two bins made one, and bins twice as wide from now on.
    fn merge_pairs(&mut self) {
        let old = std::mem::take(&mut self.bins);
        let mut it = old.into_iter();
        while let Some(mut a) = it.next() {
            if let Some(b) = it.next() {
                a.width_s = b.t_s + b.width_s - a.t_s;
                for (x, y) in [
                    (&mut a.rx, b.rx),
                    (&mut a.tx, b.tx),
                    (&mut a.member_rx, b.member_rx),
                    (&mut a.member_tx, b.member_tx),
                ] {
                    if x.len() < y.len() {
                        x.resize(y.len(), 0);
                    }
                    for (x, y) in x.iter_mut().zip(y) {
                        *x += y;
                    }
                }
            }
            self.bins.push(a);
        }
        self.bin_s *= 2.0;
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
            if self.bins.len() >= self.max_bins {
                self.merge_pairs();
            }
        }
    }

    pub fn bins(&self) -> &[Bin] {
        &self.bins
    }

    /// The bins, handed to the report at the end of the run.
    pub fn take_bins(&mut self) -> Vec<Bin> {
        std::mem::take(&mut self.bins)
    }

    /// Frames/s sent in a bin, all ports.
    fn tx_pps(b: &Bin) -> f64 {
        if b.width_s > 0.0 {
            b.tx.iter().sum::<u64>() as f64 / b.width_s
        } else {
            0.0
        }
    }

    /// The start of the first bin that sent at least a tenth of `pps` (of the busiest bin's
    /// rate, when None): when traffic began, past a bond's own LACP frames.
    pub fn sending_from_s(&self, pps: Option<f64>) -> Option<f64> {
        let peak = self.bins.iter().map(Self::tx_pps).fold(0.0, f64::max);
        let floor = pps.unwrap_or(peak) / 10.0;
        self.bins.iter().find(|b| Self::tx_pps(b) >= floor && Self::tx_pps(b) > 0.0).map(|b| b.t_s)
    }

    /// The bins the window `[from, to)` counts: those whose middle it holds, the rule the soak
    /// reads this timeline by too ([`vflag_contract::window`]).
    fn window(&self, from: f64, to: f64) -> impl Iterator<Item = &Bin> {
        // Bins tile time in order: the window is a range, found by binary search (an outage's
        // offered rate is read at every outage, over a timeline of up to MAX_BINS).
        let first = |t: f64| self.bins.partition_point(|b| b.t_s + b.width_s / 2.0 < t);
        let (lo, hi) = (first(from), first(to));
        self.bins[lo..hi.max(lo)].iter().filter(move |b| b.in_window(from, to))
    }

    /// Received frames per second over all ports in `[from, to)`, over the span of its bins.
    pub fn rx_rate(&self, from: f64, to: f64) -> f64 {
        let (mut frames, mut secs) = (0u64, 0.0);
        for b in self.window(from, to) {
            frames += b.rx.iter().sum::<u64>();
            secs += b.width_s;
        }
        if secs > 0.0 {
            frames as f64 / secs
        } else {
            0.0
        }
    }

    /// Each member's frames in `[from, to)`, rx + tx: the shares of whichever way the run
    /// carries traffic (a receiver's are its rx, a generator's its tx).
    pub fn member_frames(&self, from: f64, to: f64) -> Vec<u64> {
        let mut out: Vec<u64> = Vec::new();
        for b in self.window(from, to) {
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
        // The window rule: bin 1 (10-20 ms) goes to the window holding its middle.
        assert!((t.rx_rate(0.0, 0.014) - 10_000.0).abs() < 1e-6, "bin 0 alone");
        assert!((t.rx_rate(0.0, 0.016) - 15_000.0).abs() < 1e-6, "bins 0 and 1");
        assert_eq!(t.rx_rate(5.0, 6.0), 0.0);
        assert_eq!(t.rx_rate(0.01, 0.01), 0.0, "an empty window");
    }

    /// A long run keeps at most its bound of bins: pairs merge, every frame stays counted and
    /// the bins still tile the run; bins close twice as wide afterwards.
    #[test]
    fn a_long_run_merges_its_bins_and_keeps_every_frame() {
        let mut t = Timeline::bounded(0.01, 8);
        // Member 1 joins at sample 50: its counts appear mid-run.
        let at = |i: u64| (i * 10 + if i > 50 { (i - 50) * 3 } else { 0 }, if i > 50 { (i - 50) * 3 } else { 0 });
        for i in 0..=100u64 {
            let (frames, m1) = at(i);
            t.sample(i as f64 * 0.01, &Totals { member_rx: vec![i * 10, m1], ..totals(frames, 0, 0) });
        }
        let b = t.bins();
        assert!(b.len() <= 8, "{}", b.len());
        // Up to the end of the last bin closed (the one still open is not a bin yet).
        let last = b.last().unwrap();
        let (frames, m1) = at(((last.t_s + last.width_s) / 0.01).round() as u64);
        assert_eq!(b.iter().map(|b| b.rx[0]).sum::<u64>(), frames, "every frame counted once");
        assert_eq!(b.iter().map(|b| b.member_rx.get(1).copied().unwrap_or(0)).sum::<u64>(), m1);
        assert!(m1 > 0);
        for w in b.windows(2) {
            assert!((w[0].t_s + w[0].width_s - w[1].t_s).abs() < 1e-9, "bins tile the run: {w:?}");
        }
        assert!((t.bin_s() - 0.16).abs() < 1e-9, "10 ms doubled four times: {}", t.bin_s());
        assert!((b[0].width_s - 0.16).abs() < 1e-9, "{:?}", b[0]);
        // Windows read the merged bins by the same rule.
        let span = last.t_s + last.width_s;
        assert!((t.rx_rate(0.0, 2.0) - frames as f64 / span).abs() < 1e-6, "{}", t.rx_rate(0.0, 2.0));
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
        assert_eq!(t.member_frames(0.6, 2.0), vec![100, 0], "bin 0's middle is before 0.6 s");
        assert_eq!(t.member_frames(0.4, 2.0), vec![150, 50]);
        assert!(t.member_frames(9.0, 10.0).is_empty());
    }

    #[test]
    fn sending_begins_with_the_first_bin_near_the_rate() {
        let mut t = Timeline::new(1.0);
        let sent = |tx: u64| Totals { tx: vec![tx], ..totals(0, 0, 0) };
        t.sample(0.0, &sent(0));
        assert_eq!(t.sending_from_s(Some(100.0)), None);
        t.sample(1.0, &sent(2)); // a bond's LACP frames
        t.sample(2.0, &sent(4));
        t.sample(3.0, &sent(104));
        t.sample(4.0, &sent(204));
        assert_eq!(t.sending_from_s(Some(100.0)), Some(2.0));
        assert_eq!(t.sending_from_s(None), Some(2.0), "a tenth of the busiest bin");
        assert_eq!(t.sending_from_s(Some(1.0)), Some(0.0));
    }
}
