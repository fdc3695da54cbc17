//! `vflag-ctl soak`: traffic across the LAG while links flap, again and again, and a report of
//! how every flap went (per-flap table, JSON, SVG plot) with a pass/fail exit code. On the
//! emulated lab both sides run here; on real hardware the receiver on the VF does, and the far
//! side runs through `--peer-cmd` (or a foreign generator through `--traffic-cmd`).

mod analyze;
pub(crate) mod args;
mod clock;
mod environment;
mod failover;
mod flappers;
mod integrity;
mod junit;
mod lab_dpdk;
mod lag;
mod latency;
mod link_counters;
mod live;
pub(crate) mod markdown;
mod metrics;
mod nic;
mod nic_watch;
mod outputs;
mod peer;
mod plot;
mod preflight;
mod receiver;
mod report;
mod restore;
mod round_trip;
mod run;
mod rx_report;
mod schedule;
mod seen;
mod traffic;
mod verdict;
pub(crate) mod words;

pub use args::{parse_argv, parse_rate, SoakArgs, SoakCommand};
pub use failover::short_ms;
pub use flappers::FlapKind;
pub use report::SCHEMA;
pub use run::soak;
pub use schedule::LinkChoice;
pub use words::split as split_words;
