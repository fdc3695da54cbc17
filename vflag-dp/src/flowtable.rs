//! Packets per 5-tuple, for traffic of any origin: a fixed-size open-addressing table, allocated
//! once, so counting on the hot path never allocates. When it is full, new flows are counted
//! as overflow rather than tracked.

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

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    key: Key,
    packets: u64,
}

pub struct FlowTable {
    slots: Vec<Slot>,
    mask: usize,
    len: usize,
    pub overflow: u64,
}

impl FlowTable {
    /// A table for up to `capacity` flows (rounded up to a power of two, kept at most 3/4 full).
    pub fn new(capacity: usize) -> Self {
        let size = (capacity.max(4) * 4 / 3).next_power_of_two();
        FlowTable { slots: vec![Slot::default(); size], mask: size - 1, len: 0, overflow: 0 }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    pub fn add(&mut self, k: &FiveTuple, packets: u64) {
        let key = Key::of(k);
        let mut i = key.hash() & self.mask;
        let full = (self.len + 1) * 4 > self.slots.len() * 3;
        loop {
            let s = &mut self.slots[i];
            if s.key == key {
                s.packets += packets;
                return;
            }
            if !s.key.used() {
                if full {
                    self.overflow += packets;
                    return;
                }
                *s = Slot { key, packets };
                self.len += 1;
                return;
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Every flow and its packets (off the hot path).
    pub fn entries(&self) -> impl Iterator<Item = (FiveTuple, u64)> + '_ {
        self.slots.iter().filter(|s| s.key.used()).map(|s| (s.key.tuple(), s.packets))
    }

    /// Adds another table's counts (merging lcores at the end of a run).
    pub fn merge(&mut self, other: &FlowTable) {
        for (k, n) in other.entries() {
            self.add(&k, n);
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

    #[test]
    fn counts_per_flow() {
        let mut ft = FlowTable::new(100);
        assert!(ft.is_empty());
        for i in 0..50 {
            for _ in 0..=i {
                ft.add(&t(i), 1);
            }
        }
        assert_eq!(ft.len(), 50);
        assert!(!ft.is_empty());
        let mut e: Vec<_> = ft.entries().collect();
        e.sort_by_key(|(k, _)| k.sport);
        assert_eq!(e[0], (t(0), 1));
        assert_eq!(e[49], (t(49), 50));
        assert_eq!(ft.overflow, 0);
    }

    #[test]
    fn full_table_counts_overflow_instead_of_growing() {
        let mut ft = FlowTable::new(8);
        let size = ft.slots.len();
        for i in 0..1000 {
            ft.add(&t(i), 2);
        }
        assert_eq!(ft.slots.len(), size, "never reallocates");
        assert!(ft.len() * 4 <= size * 3);
        assert_eq!(ft.entries().map(|(_, n)| n).sum::<u64>() + ft.overflow, 2000);
        // Known flows still count when the table is full.
        let known = ft.entries().next().unwrap().0;
        let before = ft.entries().find(|(k, _)| *k == known).unwrap().1;
        ft.add(&known, 1);
        assert_eq!(ft.entries().find(|(k, _)| *k == known).unwrap().1, before + 1);
    }

    #[test]
    fn keys_round_trip_and_the_zero_tuple_is_a_flow() {
        let zero = FiveTuple::default();
        let ones = FiveTuple { src: [255; 4], dst: [255; 4], proto: 255, sport: u16::MAX, dport: u16::MAX };
        let mixed = FiveTuple { src: [1, 2, 3, 4], dst: [5, 6, 7, 8], proto: 6, sport: 0x1234, dport: 0xabcd };
        let mut ft = FlowTable::new(16);
        for (i, k) in [zero, ones, mixed].iter().enumerate() {
            assert_eq!(Key::of(k).tuple(), *k);
            ft.add(k, i as u64 + 1);
        }
        let mut e: Vec<_> = ft.entries().collect();
        e.sort_by_key(|(_, n)| *n);
        assert_eq!(e, vec![(zero, 1), (ones, 2), (mixed, 3)]);
    }

    #[test]
    fn merge_adds_counts() {
        let (mut a, mut b) = (FlowTable::new(16), FlowTable::new(16));
        a.add(&t(1), 3);
        b.add(&t(1), 4);
        b.add(&t(2), 5);
        a.merge(&b);
        let mut e: Vec<_> = a.entries().collect();
        e.sort_by_key(|(k, _)| k.sport);
        assert_eq!(e, vec![(t(1), 7), (t(2), 5)]);
    }
}
