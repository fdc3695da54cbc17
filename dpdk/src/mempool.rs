//! Packet-buffer pools.

use std::ffi::CString;

use crate::error::{DpdkError, Result};
use dpdk_sys::ffi;

/// An mbuf pool (`rte_pktmbuf_pool_create`). Freed on drop: close the ports using it first.
pub struct Mempool {
    raw: *mut ffi::rte_mempool,
}

// SAFETY: DPDK mempools are multi-producer/multi-consumer safe, with per-lcore caches.
unsafe impl Send for Mempool {}
// SAFETY: as above; all operations through a shared reference are thread-safe in DPDK.
unsafe impl Sync for Mempool {}

impl Mempool {
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

    pub fn pktmbuf(name: &str, count: u32, cache: u32, buf_size: u16, socket: i32) -> Result<Mempool> {
        let cname = CString::new(name).map_err(|_| DpdkError::new("mempool name", libc::EINVAL))?;
        // SAFETY: valid NUL-terminated name; DPDK copies it.
        let raw = unsafe { ffi::rte_pktmbuf_pool_create(cname.as_ptr(), count, cache, 0, buf_size, socket) };
        if raw.is_null() {
            return Err(DpdkError::from_rte_errno(format!("rte_pktmbuf_pool_create({name}, {count} mbufs)")));
        }
        Ok(Mempool { raw })
    }

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

impl Drop for Mempool {
    fn drop(&mut self) {
        // SAFETY: the pool is no longer used by any port or lcore (caller's ordering).
        unsafe { ffi::rte_mempool_free(self.raw) };
    }
}
