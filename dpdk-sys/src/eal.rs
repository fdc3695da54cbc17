//! EAL start-up and shutdown, and running closures on worker lcores.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::os::fd::AsRawFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{DpdkError, Result};
use crate::ffi;

/// Exit value of an lcore closure that panicked (the panic is caught, never crosses FFI).
pub const LCORE_PANICKED: i32 = -0x7ffe;

static INITIALISED: AtomicBool = AtomicBool::new(false);

/// The running EAL. Dropping it runs `rte_eal_cleanup`; drop ports and mempools first.
pub struct Eal {
    // rte_eal_init may keep pointers into argv (e.g. for --vdev strings): keep them alive.
    _argv: Vec<CString>,
}

impl Eal {
    /// Starts the EAL with `args` (EAL options only; argv[0] is added). Once per process.
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
        Ok(Eal { _argv: argv })
    }

    /// Number of lcores the EAL runs (main included).
    pub fn lcore_count(&self) -> u32 {
        // SAFETY: plain getter after init.
        unsafe { ffi::rte_lcore_count() }
    }

    /// Runs `f` on worker lcore `lcore`. Its return value comes back from [`Eal::wait`].
    pub fn launch<F>(&self, lcore: u32, f: F) -> Result<()>
    where
        F: FnOnce() -> i32 + Send + 'static,
    {
        let job: Box<Job> = Box::new(Box::new(f));
        let arg = Box::into_raw(job) as *mut c_void;
        // SAFETY: the trampoline takes back ownership of `arg` exactly once.
        let ret = unsafe { ffi::rte_eal_remote_launch(Some(lcore_trampoline), arg, lcore) };
        if ret != 0 {
            // Not launched: reclaim the closure so it is dropped here.
            // SAFETY: `arg` came from Box::into_raw above and was not consumed.
            drop(unsafe { Box::from_raw(arg as *mut Job) });
            return Err(DpdkError::new(format!("rte_eal_remote_launch(lcore {lcore})"), ret));
        }
        Ok(())
    }

    /// Waits for the closure on `lcore` to return and gives its value
    /// ([`LCORE_PANICKED`] if it panicked).
    pub fn wait(&self, lcore: u32) -> i32 {
        // SAFETY: waits on a worker lcore id; returns at once if it is idle.
        unsafe { ffi::rte_eal_wait_lcore(lcore) }
    }

    /// The DPDK version string of the running library (e.g. "DPDK 22.11.11").
    pub fn version(&self) -> String {
        // SAFETY: rte_version returns a static NUL-terminated string.
        unsafe { CStr::from_ptr(ffi::rte_version()) }.to_string_lossy().into_owned()
    }
}

impl Drop for Eal {
    fn drop(&mut self) {
        // SAFETY: no DPDK object is used after the Eal is dropped (callers drop ports first).
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

type Job = Box<dyn FnOnce() -> i32 + Send>;

unsafe extern "C" fn lcore_trampoline(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the Box<Job> leaked by `launch`, handed to exactly one lcore.
    let job = unsafe { Box::from_raw(arg as *mut Job) };
    catch_unwind(AssertUnwindSafe(job)).unwrap_or(LCORE_PANICKED)
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
