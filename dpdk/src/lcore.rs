//! Running closures on worker lcores, scoped as `std::thread::scope` scopes threads: every lcore
//! launched in [`Eal::scope`] is waited for before it returns, on every way out (a result, an
//! error, a panic), so a closure may borrow what outlives the scope (the queue handles, which
//! borrow the ports, which borrow the EAL). A closure's panic is caught on its lcore and never
//! unwinds into C; it becomes [`LCORE_PANICKED`].

use std::cell::RefCell;
use std::ffi::{c_int, c_void};
use std::marker::PhantomData;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use dpdk_sys::ffi;

use crate::eal::{current_lcore, Eal};
use crate::error::{DpdkError, Result};

/// Exit value of an lcore closure that panicked (the panic is caught, never crosses FFI).
pub const LCORE_PANICKED: i32 = -0x7ffe;

/// The lcores launched in one [`Eal::scope`]. Lives on the main lcore (not `Sync`).
pub struct LcoreScope<'scope, 'env: 'scope> {
    /// Lcores launched and not yet joined: waited for when the scope ends.
    running: RefCell<Vec<u32>>,
    main: u32,
    /// Invariance over both lifetimes, as `std::thread::Scope` has.
    _scope: PhantomData<&'scope mut &'scope ()>,
    _env: PhantomData<&'env mut &'env Eal>,
}

/// A closure running on a worker lcore; [`RunningLcore::join`] waits for its value.
#[derive(Debug)]
pub struct RunningLcore<'scope> {
    lcore: u32,
    running: &'scope RefCell<Vec<u32>>,
}

impl Eal {
    /// Runs `f` with a scope to launch lcores in. Every lcore launched in it has returned by
    /// the time `scope` does, also when `f` returns early or panics (the panic goes on after
    /// the wait). The lcores' closures must end by themselves: a closure that never returns
    /// keeps `scope` waiting, as a thread that never ends keeps `std::thread::scope` waiting,
    /// so a caller whose lcores loop until a flag is set sets it on every way out of `f`.
    pub fn scope<'env, T>(&'env self, f: impl for<'scope> FnOnce(&'scope LcoreScope<'scope, 'env>) -> T) -> T {
        // SAFETY: plain getter after init.
        let main = unsafe { ffi::rte_get_main_lcore() };
        let scope = LcoreScope { running: RefCell::new(Vec::new()), main, _scope: PhantomData, _env: PhantomData };
        let result = catch_unwind(AssertUnwindSafe(|| f(&scope)));
        for lcore in scope.running.take() {
            // SAFETY: a worker lcore this scope launched; waits for its closure to return.
            unsafe { ffi::rte_eal_wait_lcore(lcore) };
        }
        result.unwrap_or_else(|panic| resume_unwind(panic))
    }
}

impl<'scope> LcoreScope<'scope, '_> {
    /// Runs `f` on worker lcore `lcore`; refused for the main lcore, an lcore the EAL does not
    /// run, one already busy, or when not called from the main lcore (DPDK launches from there).
    pub fn launch<F>(&'scope self, lcore: u32, f: F) -> Result<RunningLcore<'scope>>
    where
        F: FnOnce() -> i32 + Send + 'scope,
    {
        let what = || format!("rte_eal_remote_launch(lcore {lcore})");
        if current_lcore() != self.main {
            return Err(DpdkError::new(
                format!("{} from lcore {} (not the main lcore)", what(), current_lcore()),
                libc::EPERM,
            ));
        }
        // SAFETY: plain getter; DPDK checks the id against RTE_MAX_LCORE.
        if lcore == self.main || unsafe { ffi::rte_lcore_is_enabled(lcore) } == 0 {
            return Err(DpdkError::new(format!("{} (not a worker lcore of this EAL)", what()), libc::EINVAL));
        }
        let job: Box<Job<'scope>> = Box::new(Box::new(f));
        let arg = Box::into_raw(job) as *mut c_void;
        // SAFETY: the trampoline takes back ownership of `arg` exactly once. The closure may
        // borrow for 'scope: the scope waits for this lcore before 'scope ends.
        let ret = unsafe { ffi::rte_eal_remote_launch(Some(lcore_trampoline), arg, lcore) };
        if ret != 0 {
            // Not launched: reclaim the closure so it is dropped here.
            // SAFETY: `arg` came from Box::into_raw above and was not consumed.
            drop(unsafe { Box::from_raw(arg as *mut Job<'scope>) });
            return Err(DpdkError::new(what(), ret));
        }
        self.running.borrow_mut().push(lcore);
        Ok(RunningLcore { lcore, running: &self.running })
    }
}

impl RunningLcore<'_> {
    pub fn lcore(&self) -> u32 {
        self.lcore
    }

    /// Waits for the closure to return and gives its value ([`LCORE_PANICKED`] if it panicked).
    pub fn join(self) -> i32 {
        self.running.borrow_mut().retain(|&l| l != self.lcore);
        // SAFETY: a worker lcore its scope launched and nobody has waited for yet.
        unsafe { ffi::rte_eal_wait_lcore(self.lcore) }
    }
}

type Job<'scope> = Box<dyn FnOnce() -> i32 + Send + 'scope>;

unsafe extern "C" fn lcore_trampoline(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the Box<Job> leaked by `launch`, handed to exactly one lcore. Its
    // lifetime is erased here; the scope that launched it outlives the call.
    let job = unsafe { Box::from_raw(arg as *mut Job<'static>) };
    catch_unwind(AssertUnwindSafe(job)).unwrap_or(LCORE_PANICKED)
}
