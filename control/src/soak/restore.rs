//! After the link comes back: when it is back in the aggregation (rejoined: it carries traffic
//! again) and when it carries its share again (restored, RFC 6412's reversion), from the
//! receiver's member timeline or, where the receiver sees no members (a VF), the links' own
//! counters. Also which flaps overlap: a link went down while an earlier flap's link was still
//! out of the aggregation.

use serde::Serialize;

use super::seen::Seen;

/// Frames per link over time in receiver seconds, with running sums so any window is two
/// lookups.
pub struct Traffic {
    /// "members" (the receiver's 10 ms bins) or "links" (the links' counter samples).
    pub by: &'static str,
    /// Bin starts and ends.
    starts: Vec<f64>,
    ends: Vec<f64>,
    /// Running sums per link: `sums[l][i]` = frames of bins before `i`.
    sums: Vec<Vec<f64>>,
    /// The window a share is read over: short, yet wider than one bin's noise.
    pub window_s: f64,
}

/// A share is read over at least this long a window.
const WINDOW_S: f64 = 0.15;
/// Within this many points of its share before the flap, a link has its share back.
pub const SHARE_POINTS: f64 = 5.0;
/// Back in the aggregation: the link carries at least this part of its usual rate.
const REJOIN_PART: f64 = 0.25;
/// Restored only while the traffic is mostly flowing (not a trickle between outages).
const RATE_PART: f64 = 0.5;

impl Traffic {
    pub fn of(seen: Seen) -> Option<Traffic> {
        let rx = seen.rx;
        let n = rx.timeline.iter().map(|b| b.member_rx.len()).max().unwrap_or(0);
        let mut bins: Vec<(f64, f64, Vec<f64>)> = Vec::new();
        let by = if n > 0 {
            for b in &rx.timeline {
                let mut v: Vec<f64> = b.member_rx.iter().map(|&x| x as f64).collect();
                v.resize(n, 0.0);
                bins.push((b.t_s, b.t_s + b.width_s, v));
            }
            "members"
        } else {
            let l = seen.links?;
            for w in l.samples.windows(2) {
                let ((t0, c0), (t1, c1)) = (&w[0], &w[1]);
                if t1 > t0 {
                    let v = c0.iter().zip(c1).map(|(a, b)| b.saturating_sub(*a) as f64).collect();
                    bins.push((t0 - rx.started_unix_s, t1 - rx.started_unix_s, v));
                }
            }
            "links"
        };
        let links = bins.iter().map(|b| b.2.len()).max().unwrap_or(0);
        if bins.is_empty() || links == 0 {
            return None;
        }
        let mut widths: Vec<f64> = bins.iter().map(|b| b.1 - b.0).collect();
        widths.sort_by(f64::total_cmp);
        let mut sums = vec![vec![0.0]; links];
        for (_, _, v) in &bins {
            for (l, s) in sums.iter_mut().enumerate() {
                s.push(s.last().copied().unwrap_or(0.0) + v.get(l).copied().unwrap_or(0.0));
            }
        }
        Some(Traffic {
            by,
            window_s: WINDOW_S.max(2.0 * widths[widths.len() / 2]),
            starts: bins.iter().map(|b| b.0).collect(),
            ends: bins.iter().map(|b| b.1).collect(),
            sums,
        })
    }

    pub fn links(&self) -> usize {
        self.sums.len()
    }

    /// Each link's frames/s over the bins [from, to) counts (the timeline's one window rule,
    /// [`vflag_contract::window`]), and the span they cover.
    fn rates(&self, from: f64, to: f64) -> (Vec<f64>, f64) {
        let std::ops::Range { start: lo, end: hi } = vflag_contract::window::range(&self.starts, &self.ends, from, to);
        let span = if hi > lo { self.ends[hi - 1] - self.starts[lo] } else { 0.0 };
        let rates = self.sums.iter().map(|s| if span > 0.0 { (s[hi] - s[lo]) / span } else { 0.0 }).collect();
        (rates, span)
    }

    /// The first bin start from `from` whose `hold` windows in a row satisfy `ok`, the last
    /// ending by `until` + `slack` s. Holding two windows, a share passing through on its way
    /// elsewhere (0% to 80%) is not taken for one held.
    fn first(&self, from: f64, until: f64, hold: usize, slack: f64, ok: impl Fn(&[f64], f64) -> bool) -> Option<f64> {
        let lo = self.starts.partition_point(|&t| t < from);
        let w = self.window_s;
        let holds = |t: f64| {
            let (r, span) = self.rates(t, t + w);
            span > 0.0 && ok(&r, r.iter().sum())
        };
        self.starts[lo..]
            .iter()
            .take_while(|&&t| t + hold as f64 * w <= until + slack + 1e-9)
            .copied()
            .find(|&t| (0..hold).all(|k| holds(t + k as f64 * w)))
    }

    /// The first bin at or after `from` in which every one of `links` carried a frame.
    fn first_frames(&self, from: f64, links: &[usize]) -> Option<f64> {
        let lo = self.starts.partition_point(|&t| t < from);
        (lo..self.starts.len())
            .find(|&i| links.iter().all(|&l| self.sums.get(l).is_some_and(|s| s[i + 1] > s[i])))
            .map(|i| self.starts[i])
    }
}

/// The state a flap's link is to return to: the rate and each link's share in the
/// before-window of the last flap that started with every link in.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub rate_pps: f64,
    pub shares_pct: Vec<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Restore {
    /// What it was read from: "members" or "links".
    pub by: &'static str,
    /// Up to when the link carries traffic again, ms after up (null: not before it went down
    /// again, or the end).
    pub rejoined_ms: Option<f64>,
    /// Up to when it carries its share again (within 5 points of its share before), ms after
    /// up; null: not restored before the next flap (or the end).
    pub restore_ms: Option<f64>,
    /// Loss episodes that began after up, and their frames: what the return cost.
    pub return_episodes: usize,
    pub return_lost: u64,
}

/// `failed`: the links the flap took down; `restore_until`: the next flap's down (or the end);
/// `rejoin_until`: when one of these links next went down (or the end).
pub fn restore(
    t: &Traffic,
    r: &Reference,
    failed: &[usize],
    up_s: f64,
    restore_until: f64,
    rejoin_until: f64,
) -> Restore {
    let usual = |l: usize| r.rate_pps * r.shares_pct.get(l).copied().unwrap_or(0.0) / 100.0;
    // Carrying is no share that could pass through: one window, which may end a little after
    // the link next went down.
    let rejoined = t
        .first(up_s, rejoin_until, 1, t.window_s / 2.0, |rates, _| {
            failed.iter().all(|&l| rates.get(l).is_some_and(|&x| x >= REJOIN_PART * usual(l)))
        })
        .map(|w| t.first_frames(w, failed).unwrap_or(w).max(up_s));
    let restored = t
        .first(up_s, restore_until, 2, 0.0, |rates, total| {
            total > 0.0
                && total >= RATE_PART * r.rate_pps
                && failed.iter().all(|&l| {
                    let share = rates.get(l).copied().unwrap_or(0.0) * 100.0 / total;
                    (share - r.shares_pct.get(l).copied().unwrap_or(0.0)).abs() <= SHARE_POINTS
                })
        })
        .map(|w| rejoined.filter(|&j| j <= w + t.window_s).map_or(w, |j| w.max(j)));
    Restore {
        by: t.by,
        rejoined_ms: rejoined.map(|s| (s - up_s) * 1e3),
        restore_ms: restored.map(|s| (s - up_s) * 1e3),
        return_episodes: 0,
        return_lost: 0,
    }
}

/// A flap can be restored only from a state where its link carried a share and another link
/// did too (on an active-backup bond one link carries everything: nothing reverts).
pub fn measurable(r: &Reference, failed: &[usize]) -> bool {
    let carrying = r.shares_pct.iter().filter(|s| **s >= SHARE_POINTS).count();
    r.rate_pps > 0.0 && carrying >= 2 && failed.iter().all(|&l| r.shares_pct.get(l).is_some_and(|s| *s >= SHARE_POINTS))
}

/// The earlier flap whose link was still out of the aggregation when this one went down.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overlap {
    pub flap: usize,
    pub links: Vec<String>,
    /// When that link rejoined, ms after its up (null: not before it went down again, or the
    /// end).
    pub rejoined_ms: Option<f64>,
}

/// Flap `i` of `downs` overlaps the latest earlier flap of a link not yet rejoined at its
/// down. `rejoined_s[j]`: when flap j's links rejoined (receiver s; None: never seen).
pub fn overlap(i: usize, downs: &[(f64, f64, Vec<usize>)], rejoined_s: &[Option<f64>]) -> Option<usize> {
    let down_i = downs.get(i)?.0;
    (0..i).rev().find(|&j| {
        let (_, up_j, links_j) = &downs[j];
        // Only the latest flap of each link says whether it is out now.
        let latest = !(j + 1..i).any(|k| downs[k].2.iter().any(|l| links_j.contains(l)));
        let measured = j < rejoined_s.len();
        latest && *up_j <= down_i && measured && !matches!(rejoined_s[j], Some(s) if s <= down_i)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soak::link_counters::LinkSeries;
    use crate::soak::rx_report::tests::report;

    fn members() -> Vec<String> {
        vec!["p0".into(), "p1".into()]
    }

    /// 10 ms bins for `secs` seconds, 100 frames each, split by `p0_share(t)`.
    fn bins(secs: f64, p0: impl Fn(f64) -> u64) -> crate::soak::rx_report::RxReport {
        let n = (secs * 100.0) as usize;
        let mut r = report(&vec![(0, 0); n]);
        for (i, b) in r.timeline.iter_mut().enumerate() {
            let t = i as f64 * 0.01;
            let a = p0(t);
            b.t_s = t;
            b.width_s = 0.01;
            b.member_rx = vec![a, 100 - a];
        }
        r
    }

    fn half() -> Reference {
        Reference { rate_pps: 10_000.0, shares_pct: vec![50.0, 50.0] }
    }

    #[test]
    fn restore_is_when_the_link_carries_its_share_again() {
        // Link 0 down 1.0-1.5 s; LACP takes it back at 3.0 s.
        let r = bins(6.0, |t| if (1.0..3.0).contains(&t) { 0 } else { 50 });
        let m = members();
        let t = Traffic::of(Seen { rx: &r, members: &m, links: None }).unwrap();
        assert_eq!((t.by, t.links()), ("members", 2));
        let x = restore(&t, &half(), &[0], 1.5, 6.0, 6.0);
        let (j, s) = (x.rejoined_ms.unwrap(), x.restore_ms.unwrap());
        assert!((j - 1500.0).abs() < 15.0, "rejoined at 3.0 s: {x:?}");
        assert!((s - 1500.0).abs() < 20.0, "restored within a window of it: {x:?}");
        // Cut by the next flap at 2.5 s: not restored.
        assert_eq!(restore(&t, &half(), &[0], 1.5, 2.5, 2.5).restore_ms, None);
        // Back 100 ms before it went down again: rejoined, too short a time to call it restored.
        let x = restore(&t, &half(), &[0], 1.5, 3.1, 3.1);
        assert_eq!(x.restore_ms, None);
        assert!((x.rejoined_ms.unwrap() - 1500.0).abs() < 15.0, "{x:?}");
        // A 10 ms bin's noise does not decide it: one bin at 50% while still out is not a restore.
        let noisy = bins(6.0, |t| if (1.0..3.0).contains(&t) && (t - 2.0).abs() > 0.004 { 0 } else { 50 });
        let t = Traffic::of(Seen { rx: &noisy, members: &m, links: None }).unwrap();
        assert!(restore(&t, &half(), &[0], 1.5, 6.0, 6.0).restore_ms.unwrap() > 1400.0);
    }

    #[test]
    fn a_link_back_in_but_off_its_share_has_rejoined_not_restored() {
        // Back at 2.0 s, but carrying 80% (its partner is down now): rejoined, not restored.
        let r = bins(4.0, |t| if (1.0..2.0).contains(&t) { 0 } else { 80 });
        let m = members();
        let t = Traffic::of(Seen { rx: &r, members: &m, links: None }).unwrap();
        let x = restore(&t, &half(), &[0], 1.5, 4.0, 4.0);
        assert!((x.rejoined_ms.unwrap() - 500.0).abs() < 15.0, "{x:?}");
        assert_eq!(x.restore_ms, None);
        // Nothing at all: neither.
        let dead = bins(4.0, |_| 0);
        let mut dead = dead;
        for b in &mut dead.timeline {
            b.member_rx = vec![0, 0];
        }
        let t = Traffic::of(Seen { rx: &dead, members: &m, links: None }).unwrap();
        assert_eq!(restore(&t, &half(), &[0], 1.5, 4.0, 4.0), Restore { by: "members", ..Default::default() });
        // Active-backup: one link carried everything, nothing to restore.
        assert!(!measurable(&Reference { rate_pps: 1.0, shares_pct: vec![100.0, 0.0] }, &[0]));
        assert!(measurable(&half(), &[0]));
        assert!(!measurable(&Reference { rate_pps: f64::NAN, shares_pct: vec![50.0, 50.0] }, &[0]));
    }

    #[test]
    fn without_members_the_links_counters_are_read() {
        let mut r = report(&[(0, 0); 40]);
        for b in &mut r.timeline {
            b.member_rx.clear();
        }
        let m: Vec<String> = vec![];
        assert!(Traffic::of(Seen { rx: &r, members: &m, links: None }).is_none(), "nothing to read");
        // Samples every 100 ms from receiver time 0: link 0 silent 1.0-2.0 s.
        let mut c = [0u64, 0];
        let samples = (0..=40)
            .map(|i| {
                let out = (1000.0 + i as f64 * 0.1, c.to_vec());
                c[0] += if (10..20).contains(&i) { 0 } else { 100 };
                c[1] += 100;
                out
            })
            .collect();
        let links = LinkSeries { names: vec!["a".into(), "b".into()], samples, ..Default::default() };
        let t = Traffic::of(Seen { rx: &r, members: &m, links: Some(&links) }).unwrap();
        assert_eq!(t.by, "links");
        assert!((t.window_s - 0.2).abs() < 1e-9, "two sample intervals");
        let x = restore(&t, &Reference { rate_pps: 2000.0, shares_pct: vec![50.0, 50.0] }, &[0], 1.5, 4.0, 4.0);
        assert!((x.restore_ms.unwrap() - 500.0).abs() < 1e-6, "{x:?}");
    }

    #[test]
    fn a_flap_overlaps_when_an_earlier_link_is_still_out() {
        // Flap 1 takes 0 down 0-0.5 and it rejoins at 3.5; flap 2 takes 1 down at 1.5.
        let downs = vec![(0.0, 0.5, vec![0]), (1.5, 2.0, vec![1]), (5.0, 5.5, vec![0])];
        assert_eq!(overlap(1, &downs, &[Some(3.5)]), Some(0));
        assert_eq!(overlap(1, &downs, &[Some(1.0)]), None, "back before");
        assert_eq!(overlap(1, &downs, &[None]), Some(0), "never back");
        assert_eq!(overlap(0, &downs, &[]), None);
        // Flap 3: link 1 (flap 2) rejoined at 4.0, and link 0's latest flap is flap 1, back at 3.5.
        assert_eq!(overlap(2, &downs, &[Some(3.5), Some(4.0)]), None);
        assert_eq!(overlap(2, &downs, &[Some(3.5), Some(6.0)]), Some(1));
        assert_eq!(overlap(9, &downs, &[]), None, "no such flap");
    }
}
