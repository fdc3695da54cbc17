//! Packets per 5-tuple, for traffic of any origin, with each flow's arrivals (first and last
//! frame, pace) so that its silences show: a fixed-size open-addressing table, allocated once,
//! so the hot path never allocates. When it is full (`--track-foreign`), new flows are counted
//! as overflow rather than tracked.

use crate::arrivals::{Arrivals, Silence};
use crate::classify::FiveTuple;

/// A 5-tuple as two words: the addresses, then ports and protocol with [`USED`] set, so a probe
/// compares two words and an empty slot (all zero) matches no key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Key(u64, u64);

const USED: u64 = 1 << 63;

impl Key {
    #[inline]
    fn of(k: &FiveTuple) -> Key {
        let a = u64::from(u32::from_be_bytes(k.src)) << 32 | u64::from(u32::from_be_bytes(k.dst));
        Key(a, USED | u64::from(k.sport) << 24 | u64::from(k.dport) << 8 | u64::from(k.proto))
    }

    fn tuple(self) -> FiveTuple {
        FiveTuple {
            src: ((self.0 >> 32) as u32).to_be_bytes(),
            dst: (self.0 as u32).to_be_bytes(),
            proto: self.1 as u8,
            sport: (self.1 >> 24) as u16,
            dport: (self.1 >> 8) as u16,
        }
    }

    fn used(self) -> bool {
        self.1 & USED != 0
    }

    #[inline]
    fn hash(self) -> usize {
        let h = (self.0 ^ self.1.rotate_left(29)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (h ^ (h >> 31)) as usize
    }
}

/// One cache line per flow: a frame touches one line.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(64))]
struct Slot {
    key: Key,
    packets: u64,
    arrivals: Arrivals,
}

pub struct FlowTable {
    slots: Vec<Slot>,
    mask: usize,
    len: usize,
    /// Flows it takes; the slots are at most 3/4 full then, so a probe ends.
    capacity: usize,
    pub overflow: u64,
}

/// A flow in the table, as reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub tuple: FiveTuple,
    pub packets: u64,
    pub arrivals: Arrivals,
}

impl FlowTable {
    /// A table for up to `capacity` flows (0: none, every frame is overflow).
    pub fn new(capacity: usize) -> Self {
        let size = (capacity.max(3) * 4 / 3).next_power_of_two();
        FlowTable { slots: vec![Slot::default(); size], mask: size - 1, len: 0, capacity, overflow: 0 }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The slot of `key`, claimed if new; None when the table is full.
    #[inline(always)]
    fn slot(&mut self, key: Key) -> Option<&mut Slot> {
        let mut i = key.hash() & self.mask;
        loop {
            let k = self.slots[i].key;
            if k == key {
                return Some(&mut self.slots[i]);
            }
            if !k.used() {
                if self.len >= self.capacity {
                    return None;
                }
                self.len += 1;
                self.slots[i].key = key;
                return Some(&mut self.slots[i]);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// A frame of flow `k` at TSC `now`: counted, and the flow's silence it ended when it was
    /// an outage (longer than `gap_tsc` and than [`crate::arrivals::K`] of its intervals).
    #[inline]
    pub fn record(&mut self, k: &FiveTuple, now: u64, gap_tsc: u64) -> Option<Silence> {
        match self.slot(Key::of(k)) {
            Some(s) => {
                s.packets += 1;
                s.arrivals.on_frame(now, s.packets, gap_tsc)
            }
            None => {
                self.overflow += 1;
                None
            }
        }
    }

    /// Every flow with its packets and arrivals (off the hot path).
    pub fn entries(&self) -> impl Iterator<Item = Entry> + '_ {
        self.slots.iter().filter(|s| s.key.used()).map(|s| Entry {
            tuple: s.key.tuple(),
            packets: s.packets,
            arrivals: s.arrivals,
        })
    }

    /// Adds another table's flows (merging lcores at the end of a run).
    pub fn merge(&mut self, other: &FlowTable) {
        for e in other.entries() {
            match self.slot(Key::of(&e.tuple)) {
                Some(s) => {
                    s.packets += e.packets;
                    s.arrivals.merge(&e.arrivals);
                }
                None => self.overflow += e.packets,
            }
        }
        self.overflow += other.overflow;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(i: u16) -> FiveTuple {
        FiveTuple { src: [10, 0, 0, 1], dst: [10, 0, 0, 2], proto: 17, sport: i, dport: 9 }
    }

    /// (tuple, packets) of every flow, by source port.
    fn counts(ft: &FlowTable) -> Vec<(FiveTuple, u64)> {
        let mut e: Vec<_> = ft.entries().map(|e| (e.tuple, e.packets)).collect();
        e.sort_by_key(|(k, n)| (k.sport, *n));
        e
    }

    const GAP: u64 = 1_000;

    #[test]
    fn counts_per_flow_with_its_first_and_last_frame() {
        let mut ft = FlowTable::new(100);
        assert!(ft.is_empty());
        for i in 0..50 {
            for j in 0..=i {
                ft.record(&t(i), 10 + u64::from(j), GAP);
            }
        }
        assert_eq!(ft.len(), 50);
        assert!(!ft.is_empty());
        let e = counts(&ft);
        assert_eq!(e[0], (t(0), 1));
        assert_eq!(e[49], (t(49), 50));
        assert_eq!(ft.overflow, 0);
        let last = ft.entries().find(|e| e.tuple == t(49)).unwrap().arrivals;
        assert_eq!((last.first, last.last), (10, 59));
    }

    #[test]
    fn a_flow_that_stops_and_resumes_reports_its_silence() {
        let mut ft = FlowTable::new(16);
        for i in 1..=100 {
            assert_eq!(ft.record(&t(1), i * 10, GAP), None);
            assert_eq!(ft.record(&t(2), i * 10, GAP), None);
        }
        // Flow 1 stops for 5_000 ticks; flow 2 carries on.
        for i in 101..600 {
            assert_eq!(ft.record(&t(2), i * 10, GAP), None);
        }
        let s = ft.record(&t(1), 6_000, GAP).expect("flow 1's silence");
        assert_eq!((s.start_tsc, s.end_tsc, s.lost_est), (1_000, 6_000, 499));
    }

    #[test]
    fn full_table_counts_overflow_instead_of_growing() {
        let mut ft = FlowTable::new(8);
        let size = ft.slots.len();
        for i in 0..1000 {
            ft.record(&t(i), 1, GAP);
            ft.record(&t(i), 2, GAP);
        }
        assert_eq!(ft.slots.len(), size, "never reallocates");
        assert_eq!(ft.len(), 8);
        assert_eq!(ft.capacity(), 8);
        assert_eq!(ft.entries().map(|e| e.packets).sum::<u64>() + ft.overflow, 2000);
        // Known flows still count when the table is full.
        let known = ft.entries().next().unwrap().tuple;
        let before = ft.entries().find(|e| e.tuple == known).unwrap().packets;
        ft.record(&known, 3, GAP);
        assert_eq!(ft.entries().find(|e| e.tuple == known).unwrap().packets, before + 1);
    }

    #[test]
    fn a_table_of_no_flows_counts_everything_as_overflow() {
        let mut ft = FlowTable::new(0);
        for i in 0..10 {
            assert_eq!(ft.record(&t(i), 1, GAP), None);
        }
        assert_eq!((ft.len(), ft.overflow), (0, 10));
    }

    #[test]
    fn keys_round_trip_and_the_zero_tuple_is_a_flow() {
        let zero = FiveTuple::default();
        let ones = FiveTuple { src: [255; 4], dst: [255; 4], proto: 255, sport: u16::MAX, dport: u16::MAX };
        let mixed = FiveTuple { src: [1, 2, 3, 4], dst: [5, 6, 7, 8], proto: 6, sport: 0x1234, dport: 0xabcd };
        let mut ft = FlowTable::new(16);
        for (i, k) in [zero, ones, mixed].iter().enumerate() {
            assert_eq!(Key::of(k).tuple(), *k);
            for n in 0..=i {
                ft.record(k, n as u64, GAP);
            }
        }
        let mut e: Vec<_> = ft.entries().map(|e| (e.tuple, e.packets)).collect();
        e.sort_by_key(|(_, n)| *n);
        assert_eq!(e, vec![(zero, 1), (ones, 2), (mixed, 3)]);
    }

    #[test]
    fn merge_adds_counts_and_spans() {
        let (mut a, mut b) = (FlowTable::new(16), FlowTable::new(16));
        for n in 0..3 {
            a.record(&t(1), 100 + n, GAP);
        }
        for n in 0..4 {
            b.record(&t(1), 10 + n, GAP);
        }
        for n in 0..5 {
            b.record(&t(2), n, GAP);
        }
        a.merge(&b);
        assert_eq!(counts(&a), vec![(t(1), 7), (t(2), 5)]);
        let one = a.entries().find(|e| e.tuple == t(1)).unwrap().arrivals;
        assert_eq!((one.first, one.last), (10, 102));
        // A full table counts the other's new flows as overflow.
        let mut small = FlowTable::new(1);
        small.record(&t(9), 1, GAP);
        small.merge(&b);
        assert_eq!((small.len(), small.overflow), (1, 9));
    }
}
