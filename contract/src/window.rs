//! The one rule that says which bins of a rate timeline a window counts, for vflag-dp's figures
//! (an outage's offered rate, the member shares around a link change) and the soak's (rates,
//! shares and restore over the receiver's bins or the links' counter samples) alike.
//!
//! **A bin belongs to the window `[from, to)` that holds its middle.**
//!
//! Why the middle: bins tile time, so windows that tile time take every bin exactly once (two
//! adjacent windows neither share the bin across their edge nor drop it), and an edge off the
//! bin grid moves the window by at most half a bin, early or late alike. Taking only the bins
//! wholly inside would always shrink the window, lose the frames between adjacent windows, and
//! leave a window narrower than a bin empty. A rate divides by the span of the bins taken, not
//! by the window's, so a window the bins cover only in part is not diluted.

use std::ops::Range;

/// The instant the rule looks at: the middle of the bin from `start_s` to `end_s`.
fn middle(start_s: f64, end_s: f64) -> f64 {
    start_s + (end_s - start_s) / 2.0
}

/// Whether the bin from `start_s` to `end_s` is counted in the window `[from, to)`.
pub fn holds(from: f64, to: f64, start_s: f64, end_s: f64) -> bool {
    let m = middle(start_s, end_s);
    m >= from && m < to
}

/// The bins counted in `[from, to)`, as an index range, for a timeline of bins in time order
/// (`starts[i]` to `ends[i]`, not overlapping): the same rule as [`holds`], found by binary
/// search for readers that sum many windows.
pub fn range(starts: &[f64], ends: &[f64], from: f64, to: f64) -> Range<usize> {
    // The first bin whose middle is at or after `t` (bins in time order have ordered middles).
    let first_from = |t: f64| {
        let (mut lo, mut hi) = (0, starts.len().min(ends.len()));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if middle(starts[mid], ends[mid]) < t {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    };
    let lo = first_from(from);
    lo..first_from(to).max(lo)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bins of 10 ms from 0 to 50 ms.
    fn grid() -> (Vec<f64>, Vec<f64>) {
        let starts: Vec<f64> = (0..5).map(|i| i as f64 * 0.01).collect();
        let ends = starts.iter().map(|s| s + 0.01).collect();
        (starts, ends)
    }

    fn taken(from: f64, to: f64) -> Vec<usize> {
        let (s, e) = grid();
        let by_holds: Vec<usize> = (0..s.len()).filter(|&i| holds(from, to, s[i], e[i])).collect();
        assert_eq!(range(&s, &e, from, to).collect::<Vec<_>>(), by_holds, "[{from}, {to}): both forms agree");
        by_holds
    }

    #[test]
    fn a_bin_straddling_an_edge_goes_to_the_window_holding_its_middle() {
        assert_eq!(taken(0.0, 0.02), [0, 1], "on the grid: the bins inside");
        // Bin 1 (10-20 ms) straddles 14 ms: its middle (15 ms) is after it, so the later
        // window has it; at 16 ms the earlier one has it.
        assert_eq!(taken(0.0, 0.014), [0]);
        assert_eq!(taken(0.014, 0.03), [1, 2]);
        assert_eq!(taken(0.0, 0.016), [0, 1]);
        assert_eq!(taken(0.016, 0.03), [2]);
        // A window narrower than a bin still takes the bin whose middle it holds.
        assert_eq!(taken(0.013, 0.017), [1]);
    }

    #[test]
    fn adjacent_windows_take_every_bin_once() {
        for edge in [0.0, 0.005, 0.013, 0.015, 0.02, 0.049] {
            let mut both = taken(-1.0, edge);
            both.extend(taken(edge, 1.0));
            assert_eq!(both, [0, 1, 2, 3, 4], "edge {edge}");
        }
    }

    #[test]
    fn empty_and_outside_windows_take_nothing() {
        assert!(taken(0.02, 0.02).is_empty(), "an empty window");
        assert!(taken(0.03, 0.01).is_empty(), "a reversed one");
        assert!(taken(0.05, 9.0).is_empty(), "past the end");
        assert!(taken(0.046, 9.0).is_empty(), "from after the last bin's middle");
        assert!(taken(-9.0, 0.0).is_empty(), "before the start");
        assert!(range(&[], &[], 0.0, 1.0).is_empty(), "no bins");
    }
}
