//! The TSC: cheap timestamps for the hot path, converted to time off it.

use dpdk_sys::ffi;

/// Reads the time-stamp counter: the instruction itself on x86_64 (what `rte_rdtsc` is there,
/// without the call into the shim), the shim's `rte_rdtsc` elsewhere.
#[inline(always)]
pub fn tsc() -> u64 {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: rdtsc has no preconditions.
    unsafe {
        std::arch::x86_64::_rdtsc()
    }
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: rdtsc has no preconditions.
    unsafe {
        ffi::vflag_tsc()
    }
}

/// TSC ticks per second, as the EAL measured it (valid after EAL init).
pub fn tsc_hz() -> u64 {
    // SAFETY: plain getter.
    unsafe { ffi::rte_get_tsc_hz() }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tsc_moves_forward() {
        let a = super::tsc();
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(super::tsc() > a);
    }
}
