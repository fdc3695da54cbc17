//! DPDK's errno-style failures as a Rust error naming the call that failed.

use std::ffi::CStr;
use std::fmt;

use dpdk_sys::ffi;

/// A DPDK call failed: which call, on what, and DPDK's errno (positive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpdkError {
    pub call: String,
    pub errno: i32,
}

pub type Result<T> = std::result::Result<T, DpdkError>;

impl DpdkError {
    pub fn new(call: impl Into<String>, errno: i32) -> Self {
        DpdkError { call: call.into(), errno: errno.abs() }
    }

    /// For calls that return -1 and set `rte_errno`.
    pub(crate) fn from_rte_errno(call: impl Into<String>) -> Self {
        // SAFETY: reads the calling thread's rte_errno.
        let errno = unsafe { ffi::vflag_errno() };
        Self::new(call, errno)
    }

    /// Turns DPDK's "0 or negative errno" convention into a Result.
    pub(crate) fn check(ret: i32, call: impl FnOnce() -> String) -> Result<()> {
        if ret < 0 {
            Err(Self::new(call(), ret))
        } else {
            Ok(())
        }
    }
}

impl fmt::Display for DpdkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SAFETY: rte_strerror returns a pointer to a static or thread-local NUL-terminated string.
        let msg = unsafe { CStr::from_ptr(ffi::rte_strerror(self.errno)) };
        write!(f, "{} failed: {} (errno {})", self.call, msg.to_string_lossy(), self.errno)
    }
}

impl std::error::Error for DpdkError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_maps_negative_returns_to_errors() {
        assert!(DpdkError::check(0, || "x".into()).is_ok());
        assert!(DpdkError::check(3, || "x".into()).is_ok());
        let e = DpdkError::check(-libc::ENODEV, || "rte_eth_dev_start(port 1)".into()).unwrap_err();
        assert_eq!(e.errno, libc::ENODEV);
        assert_eq!(e.call, "rte_eth_dev_start(port 1)");
    }

    #[test]
    fn display_names_the_call_and_the_reason() {
        let e = DpdkError::new("rte_eth_dev_configure(port 0)", -libc::EINVAL);
        let s = e.to_string();
        assert!(s.starts_with("rte_eth_dev_configure(port 0) failed: "), "{s}");
        assert!(s.contains("Invalid argument"), "{s}");
        assert!(s.ends_with("(errno 22)"), "{s}");
    }
}
