//! Per-stream counters: written by exactly one forwarding lcore (plain loads and stores, no
//! locked instructions), read by the main lcore for periodic and final statistics.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

/// One stream's counters, on a cache line of its own so lcores never share a written line.
#[derive(Debug, Default)]
#[repr(align(64))]
pub struct StreamCounters {
    rx_packets: AtomicU64,
    tx_packets: AtomicU64,
    tx_dropped: AtomicU64,
    not_reflected: AtomicU64,
    /// The stream has nothing left to do (txonly --count reached).
    done: AtomicBool,
}

/// A point-in-time copy of a stream's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamSnapshot {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub tx_dropped: u64,
    /// --fwd reflect: received frames freed, not sent back (not IPv4).
    pub not_reflected: u64,
}

/// The writer's side: local totals published with a plain store after each burst.
#[derive(Debug, Default)]
pub struct StreamTally {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub tx_dropped: u64,
    /// --fwd reflect: received frames freed, not sent back (not IPv4).
    pub not_reflected: u64,
}

impl StreamCounters {
    /// Publishes the writer's totals (single writer: a store, not a read-modify-write).
    #[inline]
    pub fn publish(&self, t: &StreamTally) {
        self.rx_packets.store(t.rx_packets, Relaxed);
        self.tx_packets.store(t.tx_packets, Relaxed);
        self.tx_dropped.store(t.tx_dropped, Relaxed);
        self.not_reflected.store(t.not_reflected, Relaxed);
    }

    pub fn mark_done(&self) {
        self.done.store(true, Relaxed);
    }

    pub fn is_done(&self) -> bool {
        self.done.load(Relaxed)
    }

    pub fn snapshot(&self) -> StreamSnapshot {
        StreamSnapshot {
            rx_packets: self.rx_packets.load(Relaxed),
            tx_packets: self.tx_packets.load(Relaxed),
            tx_dropped: self.tx_dropped.load(Relaxed),
            not_reflected: self.not_reflected.load(Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_then_snapshot() {
        let c = StreamCounters::default();
        let mut t = StreamTally::default();
        t.rx_packets += 32;
        t.tx_packets += 30;
        t.tx_dropped += 2;
        c.publish(&t);
        assert_eq!(c.snapshot(), StreamSnapshot { rx_packets: 32, tx_packets: 30, tx_dropped: 2, not_reflected: 0 });
        assert!(!c.is_done());
        c.mark_done();
        assert!(c.is_done());
        assert_eq!(std::mem::align_of::<StreamCounters>(), 64);
    }
}
