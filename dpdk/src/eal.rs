//! EAL start-up and shutdown, and which ports this process drives (the lcores are in
//! [`crate::lcore`]).

use std::ffi::{c_char, c_int, CStr, CString};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{DpdkError, Result};
use dpdk_sys::ffi;

static INITIALISED: AtomicBool = AtomicBool::new(false);

/// The running EAL. Dropping it runs `rte_eal_cleanup`; the port and queue handles borrow it,
/// so they are gone by then (drop mempools first too).
pub struct Eal {
    // rte_eal_init may keep pointers into argv (e.g. for --vdev strings): keep them alive.
    _argv: Vec<CString>,
    /// Port ids whose [`crate::port::Port`] handle was taken (one handle per port).
    ports_taken: Vec<AtomicBool>,
}

impl Eal {
    /// Starts the EAL with `args` (EAL options only; `argv[0]` is added). Once per process.
    pub fn init(args: &[String]) -> Result<Eal> {
        if INITIALISED.swap(true, Ordering::SeqCst) {
            return Err(DpdkError::new("rte_eal_init (called twice)", libc::EALREADY));
        }
        let mut argv: Vec<CString> = vec![CString::new("vflag").unwrap()];
        for a in args {
            argv.push(
                CString::new(a.as_str())
                    .map_err(|_| DpdkError::new(format!("EAL argument {a:?} contains NUL"), libc::EINVAL))?,
            );
        }
        let mut ptrs: Vec<*mut c_char> = argv.iter().map(|s| s.as_ptr() as *mut c_char).collect();
        ptrs.push(std::ptr::null_mut());
        // SAFETY: argv holds NUL-terminated strings that outlive the EAL (kept in `Eal`); the EAL
        // may permute the pointer array, which we own and do not read again.
        let ret = unsafe { ffi::vflag_eal_init((ptrs.len() - 1) as c_int, ptrs.as_mut_ptr()) };
        if ret < 0 {
            return Err(DpdkError::from_rte_errno("rte_eal_init"));
        }
        let ports_taken = (0..ffi::RTE_MAX_ETHPORTS).map(|_| AtomicBool::new(false)).collect();
        Ok(Eal { _argv: argv, ports_taken })
    }

    /// Marks port `id` taken; whether it already was.
    pub(crate) fn port_taken(&self, id: u16) -> bool {
        let Some(taken) = self.ports_taken.get(usize::from(id)) else { return true };
        taken.swap(true, Ordering::SeqCst)
    }

    /// Number of lcores the EAL runs (main included).
    pub fn lcore_count(&self) -> u32 {
        // SAFETY: plain getter after init.
        unsafe { ffi::rte_lcore_count() }
    }

    /// The DPDK version string of the running library (e.g. "DPDK 22.11.11").
    pub fn version(&self) -> String {
        // SAFETY: rte_version returns a static NUL-terminated string.
        unsafe { CStr::from_ptr(ffi::rte_version()) }.to_string_lossy().into_owned()
    }
}

impl Drop for Eal {
    fn drop(&mut self) {
        // SAFETY: no port or queue handle is left (they borrow the Eal), and every lcore
        // launched in a scope has returned (the scope borrows it too).
        unsafe { ffi::rte_eal_cleanup() };
    }
}

/// Where an EAL with `--file-prefix prefix` keeps its runtime files, by DPDK's rule:
/// `/var/run/dpdk/<prefix>` for root, else `$XDG_RUNTIME_DIR/dpdk/<prefix>` (or `/tmp/dpdk/...`).
pub fn runtime_dir(prefix: &str) -> PathBuf {
    // SAFETY: getuid cannot fail and touches no memory.
    let base = if unsafe { libc::getuid() } == 0 {
        PathBuf::from("/var/run")
    } else {
        std::env::var_os("XDG_RUNTIME_DIR").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from)
    };
    base.join("dpdk").join(prefix)
}

/// The pid of the primary process that holds `--file-prefix prefix`, if one runs: while it
/// does, it keeps a write lock on `<runtime dir>/config`, which a second primary would fail to
/// take (and 22.11's `rte_eal_init` then reports errno 0). None when the file is missing,
/// unlocked, or the holder's pid is not visible (another pid namespace).
pub fn prefix_holder(prefix: &str) -> Option<u32> {
    let file = std::fs::File::open(runtime_dir(prefix).join("config")).ok()?;
    // SAFETY: flock is plain data; all-zero is a valid value before the fields are set.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_WRLCK as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    // l_start 0, l_len 0: the whole file.
    // SAFETY: F_GETLK on an open descriptor writes only into `lock`, which outlives the call.
    let ret = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut lock) };
    if ret != 0 || lock.l_type == libc::F_UNLCK as libc::c_short {
        return None;
    }
    u32::try_from(lock.l_pid).ok().filter(|&p| p > 0)
}

/// The calling thread's lcore id (`u32::MAX` on a non-EAL thread).
pub fn current_lcore() -> u32 {
    // SAFETY: reads a thread-local.
    unsafe { ffi::vflag_lcore_id() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_without_a_locked_config_has_no_holder() {
        let prefix = format!("vflag-unit-{}", std::process::id());
        assert_eq!(prefix_holder(&prefix), None, "no runtime directory");
        let dir = runtime_dir(&prefix);
        assert!(dir.ends_with(format!("dpdk/{prefix}")));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config"), [0u8; 64]).unwrap();
        // A config a process left behind (killed, or stopped without cleanup) holds no lock.
        let free = prefix_holder(&prefix);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(free, None);
    }
}
