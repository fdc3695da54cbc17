//! Typed queue handles: the only way to run a burst. Each names a queue that was set up on a
//! port ([`crate::port::Port::queues`] hands each out once per configuration), is `Send` (moved
//! onto the lcore that polls it) but neither `Clone` nor `Sync` (DPDK's burst calls on one queue
//! must not run on two threads at once), and borrows its port, which borrows the [`crate::Eal`]:
//! a queue cannot outlive its port's configuration, nor the EAL. Inside, two `u16`s: a burst
//! through a handle costs what a burst through raw ids did.
//!
//! What the types rule out, checked by the compiler (these examples must not compile): a
//! handle shared with another thread, or copied,
//!
//! ```compile_fail,E0277
//! fn shared<T: Sync>() {}
//! shared::<dpdk::queue::RxQueue<'static>>();
//! ```
//!
//! ```compile_fail,E0277
//! fn copied<T: Clone>() {}
//! copied::<dpdk::queue::TxQueue<'static>>();
//! ```
//!
//! a handle kept past its port, or used after its port is closed:
//!
//! ```compile_fail,E0515
//! fn kept(eal: &dpdk::Eal) -> dpdk::queue::RxQueue<'static> {
//!     let port = eal.take_port(0).unwrap();
//!     port.queues().unwrap().rx.remove(0)
//! }
//! ```
//!
//! ```compile_fail,E0505
//! fn closed(eal: &dpdk::Eal) {
//!     let port = eal.take_port(0).unwrap();
//!     let q = port.queues().unwrap();
//!     port.close().unwrap();
//!     let mut burst = dpdk::mbuf::Burst::new();
//!     q.rx[0].rx_burst(&mut burst, 32);
//! }
//! ```
//!
//! while this, the handles and the burst dropped before the port closes, does:
//!
//! ```no_run
//! fn fine(eal: &dpdk::Eal) {
//!     let port = eal.take_port(0).unwrap();
//!     let q = port.queues().unwrap();
//!     let mut burst = dpdk::mbuf::Burst::new();
//!     q.rx[0].rx_burst(&mut burst, 32);
//!     q.tx[0].tx_burst(&mut burst);
//!     drop(q);
//!     drop(burst);
//!     port.close().unwrap();
//! }
//! ```
//!
//! A burst that received from a queue borrows the queue's port as well (its mbufs come from
//! the port's pool, which outlives the port): it is made after the port and dropped before it.

use std::cell::Cell;
use std::marker::PhantomData;

use dpdk_sys::ffi;

use crate::mbuf::Burst;

/// A port id, as DPDK numbers ports (`crate::port::PortId`).
type PortId = u16;

/// Ties a handle to its port's borrow; `Cell` makes it `Send` but not `Sync`.
type Tie<'p> = PhantomData<(&'p (), Cell<()>)>;

/// One receive queue of a started (or yet to start) port.
#[derive(Debug)]
pub struct RxQueue<'p> {
    port: PortId,
    queue: u16,
    _tie: Tie<'p>,
}

/// One transmit queue of a port.
#[derive(Debug)]
pub struct TxQueue<'p> {
    port: PortId,
    queue: u16,
    _tie: Tie<'p>,
}

/// The queues a port was configured with, indexed by queue id.
#[derive(Debug)]
pub struct Queues<'p> {
    pub port: PortId,
    pub rx: Vec<RxQueue<'p>>,
    pub tx: Vec<TxQueue<'p>>,
}

impl<'p> Queues<'p> {
    /// Only [`crate::port::Port::queues`] makes them: `port` is valid and configured with
    /// `rx` receive and `tx` transmit queues, all set up, and no other handle to them exists.
    pub(crate) fn new(port: PortId, rx: u16, tx: u16) -> Queues<'p> {
        Queues {
            port,
            rx: (0..rx).map(|queue| RxQueue { port, queue, _tie: PhantomData }).collect(),
            tx: (0..tx).map(|queue| TxQueue { port, queue, _tie: PhantomData }).collect(),
        }
    }
}

impl<'p> RxQueue<'p> {
    #[inline]
    pub fn port(&self) -> PortId {
        self.port
    }

    #[inline]
    pub fn queue(&self) -> u16 {
        self.queue
    }

    /// Receives up to `max` packets into `burst`, appended to those it holds. Returns how many.
    /// The mbufs come from the pool the port was configured with, which outlives the port's
    /// borrow `'p`: so does the burst that holds them.
    #[inline]
    pub fn rx_burst(&self, burst: &mut Burst<'p>, max: u16) -> u16 {
        let (slots, room) = burst.rx_slots(max);
        // SAFETY: the handle names a queue set up on a valid port, used by this thread only
        // (the handle is not Sync, and not Clone); `slots` has room for `room` pointers.
        let n = unsafe { ffi::vflag_rx_burst(self.port, self.queue, slots, room) };
        burst.rx_done(n);
        n
    }
}

impl TxQueue<'_> {
    #[inline]
    pub fn port(&self) -> PortId {
        self.port
    }

    #[inline]
    pub fn queue(&self) -> u16 {
        self.queue
    }

    /// Offers every packet `burst` holds. Packets the driver took are no longer ours; those it
    /// refused stay in the burst (moved to the front). Returns how many were sent.
    #[inline]
    pub fn tx_burst(&self, burst: &mut Burst) -> u16 {
        let Some((pkts, n)) = burst.tx_slots() else { return 0 };
        // SAFETY: as for rx; pkts[..n] are valid mbufs the burst owns, and the driver takes
        // ownership of those it sends.
        let sent = unsafe { ffi::vflag_tx_burst(self.port, self.queue, pkts, n) };
        burst.tx_done(sent);
        sent
    }

    /// An empty tx burst: sends nothing of ours, but lets drivers with their own control
    /// frames (a bond in 802.3ad mode and its LACPDUs) send them from this lcore.
    #[inline]
    pub fn flush(&self) {
        let mut none: [*mut ffi::rte_mbuf; 1] = [std::ptr::null_mut()];
        // SAFETY: as for rx; zero packets are offered and the array is valid for the call.
        unsafe { ffi::vflag_tx_burst(self.port, self.queue, none.as_mut_ptr(), 0) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>() {}

    #[test]
    fn handles_are_send_and_index_their_queues() {
        assert_send::<RxQueue<'static>>();
        assert_send::<TxQueue<'static>>();
        let q = Queues::new(3, 2, 4);
        assert_eq!(q.rx.iter().map(|r| (r.port(), r.queue())).collect::<Vec<_>>(), [(3, 0), (3, 1)]);
        assert_eq!(q.tx.iter().map(TxQueue::queue).collect::<Vec<_>>(), [0, 1, 2, 3]);
    }
}
