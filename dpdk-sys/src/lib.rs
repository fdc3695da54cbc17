//! Raw access to the installed DPDK: the bindings bindgen generates ([`ffi`]) and the C shim
//! (`src/shim.c`) for what bindgen cannot bind: DPDK's inline hot-path functions and the
//! structures whose layout changes between releases. `build.rs` finds DPDK (`DPDK_PREFIX`
//! first, then pkg-config) and links it.
//!
//! Nothing here is safe to call: every function is `unsafe` and takes raw ids and pointers.
//! The safe API (typed port and queue handles, the EAL's scoped lcore launches, bursts that
//! own their mbufs) is the `dpdk` crate on top, as rust-vmm splits `kvm-bindings` from
//! `kvm-ioctls`: the bindings change with each DPDK release, the safe API with vflag, and
//! `unsafe` code lives in these two crates only.

pub mod ffi;
