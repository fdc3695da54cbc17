//! Packet-buffer pools. A pool is made from the running [`Eal`] and borrows it; the ports that
//! receive into it and the bursts that take mbufs from it borrow the pool (see
//! [`crate::port::Port::configure`], [`crate::mbuf::Burst`]). So the compiler refuses, in
//! turn, a pool made before the EAL, one kept past it, and a pool dropped under a port or a
//! burst:
//!
//! ```compile_fail,E0599
//! let pool = dpdk::mempool::Mempool::pktmbuf("p", 1023, 0, 2176, -1);
//! ```
//!
//! ```compile_fail,E0515
//! fn kept(args: &[String]) -> dpdk::mempool::Mempool<'static> {
//!     let eal = dpdk::Eal::init(args).unwrap();
//!     eal.pktmbuf_pool("p", 1023, 0, 2176, -1).unwrap()
//! }
//! ```
//!
//! ```compile_fail,E0505
//! fn under_a_port(eal: &dpdk::Eal, cfg: &dpdk::port::PortConfig) {
//!     let pool = eal.pktmbuf_pool("p", 1023, 0, 2176, -1).unwrap();
//!     let mut port = eal.take_port(0).unwrap();
//!     port.configure(cfg, &pool).unwrap();
//!     drop(pool);
//!     port.start().unwrap();
//! }
//! ```
//!
//! ```compile_fail,E0505
//! fn under_a_burst(eal: &dpdk::Eal) {
//!     let mut burst = dpdk::mbuf::Burst::new();
//!     let pool = eal.pktmbuf_pool("p", 1023, 0, 2176, -1).unwrap();
//!     burst.alloc(&pool, 32);
//!     drop(pool);
//!     burst.free_all();
//! }
//! ```
//!
//! while this, the burst and the port gone before their pool, does:
//!
//! ```no_run
//! fn fine(eal: &dpdk::Eal, cfg: &dpdk::port::PortConfig) {
//!     let pool = eal.pktmbuf_pool("p", 1023, 0, 2176, -1).unwrap();
//!     let mut port = eal.take_port(0).unwrap();
//!     port.configure(cfg, &pool).unwrap();
//!     let mut burst = dpdk::mbuf::Burst::new();
//!     burst.alloc(&pool, 32);
//!     drop(burst);
//!     port.close().unwrap();
//!     drop(pool);
//! }
//! ```

use std::ffi::CString;
use std::marker::PhantomData;

use crate::eal::Eal;
use crate::error::{DpdkError, Result};
use dpdk_sys::ffi;

/// An mbuf pool (`rte_pktmbuf_pool_create`), made by [`Eal::pktmbuf_pool`]. Freed on drop,
/// unless mbufs of it are still out (see the `Drop` impl).
pub struct Mempool<'eal> {
    raw: *mut ffi::rte_mempool,
    _eal: PhantomData<&'eal Eal>,
}

// SAFETY: DPDK mempools are multi-producer/multi-consumer safe, with per-lcore caches.
unsafe impl Send for Mempool<'_> {}
// SAFETY: as above; all operations through a shared reference are thread-safe in DPDK.
unsafe impl Sync for Mempool<'_> {}

impl Eal {
    /// A pool of `count` mbufs of `buf_size` bytes (headroom included), `cache` per lcore, on
    /// NUMA `socket` (-1: any). `name` must be unique in the process.
    pub fn pktmbuf_pool(&self, name: &str, count: u32, cache: u32, buf_size: u16, socket: i32) -> Result<Mempool<'_>> {
        let cname = CString::new(name).map_err(|_| DpdkError::new("mempool name", libc::EINVAL))?;
        // SAFETY: the EAL runs (self); a valid NUL-terminated name, which DPDK copies.
        let raw = unsafe { ffi::rte_pktmbuf_pool_create(cname.as_ptr(), count, cache, 0, buf_size, socket) };
        if raw.is_null() {
            return Err(DpdkError::from_rte_errno(format!("rte_pktmbuf_pool_create({name}, {count} mbufs)")));
        }
        Ok(Mempool { raw, _eal: PhantomData })
    }
}

/// Default mbuf data room (2048 bytes) plus headroom, as testpmd uses.
pub fn default_buf_size() -> u16 {
    // SAFETY: reads a constant.
    unsafe { ffi::vflag_MBUF_DEFAULT_BUF_SIZE }
}

/// The headroom at the start of every mbuf's data room (RTE_PKTMBUF_HEADROOM): a received
/// frame's first segment has the rest.
pub fn headroom() -> u16 {
    // SAFETY: reads a constant.
    unsafe { ffi::vflag_PKTMBUF_HEADROOM }
}

impl Mempool<'_> {
    /// Free mbufs (including those in lcore caches' view, per DPDK's count).
    pub fn available(&self) -> u32 {
        // SAFETY: valid pool.
        unsafe { ffi::rte_mempool_avail_count(self.raw) }
    }

    pub fn in_use(&self) -> u32 {
        // SAFETY: valid pool.
        unsafe { ffi::rte_mempool_in_use_count(self.raw) }
    }

    pub(crate) fn as_ptr(&self) -> *mut ffi::rte_mempool {
        self.raw
    }
}

impl Drop for Mempool<'_> {
    fn drop(&mut self) {
        // No port is configured with the pool and no burst holds its mbufs (both borrow it),
        // but a port dropped without `close` keeps mbufs in its rings, which the EAL's cleanup
        // frees later: a pool with mbufs out is left to the process's exit, never freed under
        // them.
        if self.in_use() != 0 {
            return;
        }
        // SAFETY: every mbuf is back and nothing refers to the pool any more.
        unsafe { ffi::rte_mempool_free(self.raw) };
    }
}
