//! Link-state changes as timestamped events. Ports that raise link interrupts deliver them from
//! DPDK's interrupt thread through a lock-free queue; the others are polled by [`LinkWatch::poll`].

use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam_queue::ArrayQueue;

use crate::clock;
use crate::error::{DpdkError, Result};
use crate::port::{self, Link, PortId};
use dpdk_sys::ffi;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkEvent {
    pub port: PortId,
    /// TSC when the change was seen.
    pub tsc: u64,
    pub link: Link,
}

struct Shared {
    queue: ArrayQueue<LinkEvent>,
    overflow: AtomicU64,
}

/// Watches ports' links. Dropping it unregisters the interrupt callbacks.
pub struct LinkWatch {
    shared: Arc<Shared>,
    interrupt_ports: Vec<PortId>,
    polled: Vec<(PortId, Option<Link>)>,
}

impl LinkWatch {
    pub fn new(capacity: usize) -> Self {
        LinkWatch {
            shared: Arc::new(Shared { queue: ArrayQueue::new(capacity.max(1)), overflow: AtomicU64::new(0) }),
            interrupt_ports: Vec::new(),
            polled: Vec::new(),
        }
    }

    /// Watches `port`: by interrupt callback if `interrupt` (the port was configured with LSC
    /// interrupts), else by polling. Call before the port starts so no change is missed.
    pub fn watch(&mut self, port: PortId, interrupt: bool) -> Result<()> {
        if !interrupt {
            self.polled.push((port, None));
            return Ok(());
        }
        let arg = Arc::as_ptr(&self.shared) as *mut c_void;
        // SAFETY: `arg` points into `shared`, which this watch keeps alive until it unregisters.
        let ret = unsafe { ffi::rte_eth_dev_callback_register(port, ffi::RTE_ETH_EVENT_INTR_LSC, Some(on_lsc), arg) };
        DpdkError::check(ret, || format!("rte_eth_dev_callback_register(port {port}, LSC)"))?;
        self.interrupt_ports.push(port);
        Ok(())
    }

    /// Checks polled ports for a change (a cheap, non-blocking query per port).
    pub fn poll(&mut self) {
        for (port, last) in &mut self.polled {
            if let Ok(now) = port::link(*port, false) {
                if last.is_none_or(|l| l.up != now.up) {
                    if last.is_some() {
                        push(&self.shared, LinkEvent { port: *port, tsc: clock::tsc(), link: now });
                    }
                    *last = Some(now);
                }
            }
        }
    }

    /// Takes the events queued so far, oldest first.
    pub fn drain(&self) -> Vec<LinkEvent> {
        std::iter::from_fn(|| self.shared.queue.pop()).collect()
    }

    /// Events lost because the queue was full.
    pub fn overflowed(&self) -> u64 {
        self.shared.overflow.load(Ordering::Relaxed)
    }
}

impl Drop for LinkWatch {
    fn drop(&mut self) {
        let arg = Arc::as_ptr(&self.shared) as *mut c_void;
        for &port in &self.interrupt_ports {
            // -EAGAIN while the callback runs: retry, so `shared` is never freed under it.
            for _ in 0..1000 {
                // SAFETY: unregisters the callback registered with the same arguments.
                let ret = unsafe {
                    ffi::rte_eth_dev_callback_unregister(port, ffi::RTE_ETH_EVENT_INTR_LSC, Some(on_lsc), arg)
                };
                if ret != -libc::EAGAIN {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
    }
}

fn push(shared: &Shared, ev: LinkEvent) {
    if shared.queue.push(ev).is_err() {
        shared.overflow.fetch_add(1, Ordering::Relaxed);
    }
}

unsafe extern "C" fn on_lsc(port: u16, _event: ffi::rte_eth_event_type, arg: *mut c_void, _ret: *mut c_void) -> c_int {
    let tsc = clock::tsc();
    // Never unwind into DPDK's interrupt thread.
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: `arg` is the Shared registered by LinkWatch::watch, alive until unregistered.
        let shared = unsafe { &*(arg as *const Shared) };
        let link = port::link(port, false).unwrap_or_default();
        push(shared, LinkEvent { port, tsc, link });
    });
    0
}
