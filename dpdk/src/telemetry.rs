//! Commands for DPDK telemetry (`dpdk-telemetry.py`): a command name, its help, and a closure
//! that returns a flat dictionary. DPDK's callback has no context pointer, so one callback
//! looks the command up in a registry. It runs on DPDK's telemetry thread, never the hot path.

use std::ffi::{c_char, c_int, CStr, CString};
use std::sync::Mutex;

use crate::error::{DpdkError, Result};
use dpdk_sys::ffi;

/// A dictionary value.
#[derive(Debug, Clone, PartialEq)]
pub enum TelValue {
    U64(u64),
    I64(i64),
    Str(String),
}

type Provider = Box<dyn Fn() -> Vec<(String, TelValue)> + Send + Sync>;

static REGISTRY: Mutex<Vec<(CString, Provider)>> = Mutex::new(Vec::new());

/// Registers `cmd` (e.g. `/vflag/stats`). Call after EAL init. A command can be registered once
/// per process (DPDK keeps it until exit).
pub fn register<F>(cmd: &str, help: &str, provider: F) -> Result<()>
where
    F: Fn() -> Vec<(String, TelValue)> + Send + Sync + 'static,
{
    let ccmd = CString::new(cmd).map_err(|_| DpdkError::new("telemetry command name", libc::EINVAL))?;
    // DPDK keeps the help pointer: leak it, once per command.
    let chelp: &'static CStr =
        Box::leak(CString::new(help).map_err(|_| DpdkError::new("telemetry help", libc::EINVAL))?.into_boxed_c_str());
    REGISTRY.lock().unwrap_or_else(|p| p.into_inner()).push((ccmd.clone(), Box::new(provider)));
    // SAFETY: both strings are valid NUL-terminated; DPDK copies the name and keeps `help`.
    let ret = unsafe { ffi::rte_telemetry_register_cmd(ccmd.as_ptr(), Some(dispatch), chelp.as_ptr()) };
    DpdkError::check(ret, || format!("rte_telemetry_register_cmd({cmd})"))
}

unsafe extern "C" fn dispatch(cmd: *const c_char, _params: *const c_char, d: *mut ffi::rte_tel_data) -> c_int {
    let run = || -> c_int {
        // SAFETY: DPDK passes the NUL-terminated command it matched.
        let cmd = unsafe { CStr::from_ptr(cmd) };
        let reg = REGISTRY.lock().unwrap_or_else(|p| p.into_inner());
        let Some((_, provider)) = reg.iter().find(|(c, _)| c.as_c_str() == cmd) else { return -libc::EINVAL };
        let values = provider();
        // SAFETY: `d` is the output container DPDK handed to this callback.
        unsafe { ffi::rte_tel_data_start_dict(d) };
        for (k, v) in values {
            let Ok(key) = CString::new(k) else { continue };
            // SAFETY: valid container and NUL-terminated strings; DPDK copies them.
            unsafe {
                match v {
                    TelValue::U64(x) => add_u64(d, key.as_ptr(), x),
                    TelValue::I64(x) => add_i64(d, key.as_ptr(), x),
                    TelValue::Str(s) => {
                        let s = CString::new(s).unwrap_or_default();
                        ffi::rte_tel_data_add_dict_string(d, key.as_ptr(), s.as_ptr())
                    }
                };
            }
        }
        0
    };
    // Never unwind into DPDK's telemetry thread.
    std::panic::catch_unwind(run).unwrap_or(-libc::EFAULT)
}

/// 23.11 widened `add_dict_int` from `int` to `int64_t`.
#[cfg(dpdk_ge_23_11)]
unsafe fn add_i64(d: *mut ffi::rte_tel_data, k: *const c_char, v: i64) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { ffi::rte_tel_data_add_dict_int(d, k, v) }
}

#[cfg(not(dpdk_ge_23_11))]
unsafe fn add_i64(d: *mut ffi::rte_tel_data, k: *const c_char, v: i64) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { ffi::rte_tel_data_add_dict_int(d, k, v.clamp(i32::MIN.into(), i32::MAX.into()) as i32) }
}

/// 23.11 renamed `add_dict_u64` to `add_dict_uint`.
#[cfg(dpdk_ge_23_11)]
unsafe fn add_u64(d: *mut ffi::rte_tel_data, k: *const c_char, v: u64) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { ffi::rte_tel_data_add_dict_uint(d, k, v) }
}

#[cfg(not(dpdk_ge_23_11))]
unsafe fn add_u64(d: *mut ffi::rte_tel_data, k: *const c_char, v: u64) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { ffi::rte_tel_data_add_dict_u64(d, k, v) }
}
