//! Rust access to the installed DPDK: raw bindings ([`ffi`]), the C shim for DPDK's inline
//! hot-path functions, and a small safe API over both. All of vflag's `unsafe` lives here.

pub mod clock;
pub mod eal;
pub mod error;
pub mod ffi;
pub mod link_events;
pub mod mbuf;
pub mod mempool;
pub mod port;
pub mod telemetry;
pub mod version;

pub use error::{DpdkError, Result};
pub use version::BUILD_VERSION;
