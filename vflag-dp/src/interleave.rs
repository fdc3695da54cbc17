//! `--interleave-ms`: what the analysis costs, measured inside one process. Each receiving
//! lcore alternates slices of plain receiving and analysing on the same ports, so both modes
//! see the same load, the same memory and the same neighbours; on a shared machine, separate
//! runs drift by more than the cost being measured. Each lcore keeps its own totals per mode
//! and publishes them after every slice; the main lcore sums them.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

pub use vflag_contract::report::{InterleaveReport, ModeRate};

/// --interleave-ms on one lcore: how long a slice lasts and where the lcore's totals go.
pub struct Interleaving {
    pub slice_tsc: u64,
    pub live: std::sync::Arc<LiveInterleave>,
}

/// One lcore's totals per mode (index 0 plain, 1 analysing), single writer.
#[derive(Debug, Default)]
pub struct LiveInterleave {
    packets: [AtomicU64; 2],
    tsc: [AtomicU64; 2],
    slices: AtomicU64,
}

/// What a receiving lcore counts while it interleaves (kept on the lcore, published per slice).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SliceTotals {
    pub packets: [u64; 2],
    pub tsc: [u64; 2],
    pub slices: u64,
}

impl SliceTotals {
    /// A slice ended: `packets` received in `tsc` ticks, analysing or not.
    pub fn add(&mut self, analysing: bool, packets: u64, tsc: u64) {
        let m = usize::from(analysing);
        self.packets[m] += packets;
        self.tsc[m] += tsc;
        self.slices += 1;
    }

    pub fn publish(&self, live: &LiveInterleave) {
        for m in 0..2 {
            live.packets[m].store(self.packets[m], Relaxed);
            live.tsc[m].store(self.tsc[m], Relaxed);
        }
        live.slices.store(self.slices, Relaxed);
    }
}

impl LiveInterleave {
    pub fn read(&self) -> SliceTotals {
        SliceTotals {
            packets: [self.packets[0].load(Relaxed), self.packets[1].load(Relaxed)],
            tsc: [self.tsc[0].load(Relaxed), self.tsc[1].load(Relaxed)],
            slices: self.slices.load(Relaxed),
        }
    }
}

/// Sums the lcores' totals (each lcore adds its own rate in each mode).
pub fn report(per_lcore: &[SliceTotals], tsc_hz: u64, slice_ms: u32) -> InterleaveReport {
    let hz = tsc_hz.max(1) as f64;
    let lcores = per_lcore.len().max(1) as f64;
    let mode = |m: usize| {
        let packets = per_lcore.iter().map(|t| t.packets[m]).sum();
        let seconds = per_lcore.iter().map(|t| t.tsc[m] as f64 / hz).sum::<f64>() / lcores;
        let pps: f64 =
            per_lcore.iter().filter(|t| t.tsc[m] > 0).map(|t| t.packets[m] as f64 * hz / t.tsc[m] as f64).sum();
        ModeRate { packets, seconds, mpps: pps / 1e6 }
    };
    let (plain, analysing) = (mode(0), mode(1));
    let ratio = (plain.mpps > 0.0).then(|| analysing.mpps / plain.mpps);
    InterleaveReport { slice_ms, slices: per_lcore.iter().map(|t| t.slices).sum(), plain, analysing, ratio }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_add_up_per_mode() {
        let mut t = SliceTotals::default();
        t.add(false, 1000, 50);
        t.add(true, 800, 50);
        t.add(false, 1000, 50);
        assert_eq!(t, SliceTotals { packets: [2000, 800], tsc: [100, 50], slices: 3 });
        let live = LiveInterleave::default();
        t.publish(&live);
        assert_eq!(live.read(), t);
    }

    #[test]
    fn rates_and_ratio_come_from_each_modes_own_time() {
        // 1 GHz: plain 20 M frames in 1 s, analysing 9 M frames in 0.5 s.
        let t = SliceTotals { packets: [20_000_000, 9_000_000], tsc: [1_000_000_000, 500_000_000], slices: 40 };
        let r = report(&[t], 1_000_000_000, 25);
        assert_eq!((r.plain.mpps, r.analysing.mpps), (20.0, 18.0));
        assert_eq!((r.plain.seconds, r.analysing.seconds), (1.0, 0.5));
        assert_eq!(r.ratio, Some(0.9));
        assert_eq!((r.slices, r.slice_ms), (40, 25));
    }

    #[test]
    fn lcores_add_their_rates() {
        let a = SliceTotals { packets: [10_000_000, 8_000_000], tsc: [1_000_000_000, 1_000_000_000], slices: 2 };
        let b = SliceTotals { packets: [5_000_000, 5_000_000], tsc: [500_000_000, 500_000_000], slices: 2 };
        let r = report(&[a, b], 1_000_000_000, 10);
        assert_eq!((r.plain.mpps, r.analysing.mpps), (20.0, 18.0));
        assert_eq!(r.plain.seconds, 0.75);
        assert_eq!(r.slices, 4);
    }

    #[test]
    fn no_plain_traffic_gives_no_ratio() {
        let r = report(&[SliceTotals::default()], 1_000_000_000, 10);
        assert_eq!(r.ratio, None);
        assert_eq!(r.plain.mpps, 0.0);
    }
}
