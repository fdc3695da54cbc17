//! The safe API over `dpdk-sys` (the raw bindings and C shim): what vflag's other crates use,
//! all `#![forbid(unsafe_code)]`. The split follows rust-vmm's `kvm-bindings`/`kvm-ioctls`:
//! the bindings follow DPDK's releases, this crate owns the rules that make calling them safe.
//!
//! - [`eal::Eal`]: the EAL, started once; [`Eal::take_port`] gives one [`port::Port`] handle
//!   per port id, and [`Eal::scope`] launches closures on worker lcores and waits for every one
//!   before it returns ([`lcore`]).
//! - [`port::Port::configure`] sets up queues and [`port::Port::queues`] hands out one
//!   [`queue::RxQueue`]/[`queue::TxQueue`] per queue: `Send`, not `Clone`, not `Sync`, borrowing
//!   the port (and so the EAL). Bursts go through them only (`rxq.rx_burst(&mut burst, max)`,
//!   `txq.tx_burst(&mut burst)`, `txq.flush()`); no safe function bursts on a raw id.
//! - [`Eal::pktmbuf_pool`] makes a [`mempool::Mempool`] that borrows the EAL; the ports that
//!   receive into it and the [`mbuf::Burst`]s holding its mbufs (a burst owns them) borrow the
//!   pool. Then [`link_events`], [`telemetry`], [`clock`] (the TSC), [`version`] (release
//!   differences) and [`error::DpdkError`].

pub mod clock;
pub mod eal;
pub mod error;
pub mod lcore;
pub mod link_events;
pub mod mbuf;
pub mod mempool;
pub mod port;
pub mod queue;
pub mod telemetry;
pub mod version;

pub use eal::Eal;
pub use error::{DpdkError, Result};
pub use version::BUILD_VERSION;
