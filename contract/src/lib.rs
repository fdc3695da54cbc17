//! The contract between vflag-dp and vflag-ctl: vflag-dp writes its report ([`report`]) and
//! its event lines ([`events`]) with these types and vflag-ctl reads them with the same types,
//! so a renamed or retyped field is a compile error or a refused file, never a silent zero.
//! Each file carries a schema version ([`report::SCHEMA`], [`events::SCHEMA`]) that both sides
//! check. [`value`] holds the option values both command lines take (durations, rates, loss
//! limits, bond modes), parsed one way; [`window`] the one rule of which timeline bins a window
//! counts.
//!
//! No DPDK here: vflag-ctl builds on hosts without it.

pub mod events;
pub mod report;
pub mod value;
pub mod window;
