//! vflag-dp's dataplane as a library: the binary (`main.rs`) parses the command line and calls
//! [`run::run`]; the benchmarks in `benches/` drive the hot-path pieces (the receiver's
//! analysis, the generator's frames) in process.
#![forbid(unsafe_code)]

pub mod analysis;
pub mod arrivals;
pub mod balance;
pub mod bond;
pub mod classify;
pub mod cli;
pub mod counters;
pub mod eal_config;
pub mod events;
pub mod flowtable;
pub mod frame;
pub mod fwd;
pub mod gen;
pub mod interleave;
pub mod kernel_link;
pub mod latency_window;
pub mod lathist;
pub mod launch;
pub mod mode;
pub mod monitor;
pub mod outage;
pub mod parse;
pub mod payload;
pub mod ports;
pub mod preflight;
pub mod report;
pub mod results;
pub mod run;
pub mod seqtrack;
pub mod stats;
pub mod stop;
pub mod telemetry;
pub mod timeline;
pub mod topology;
pub mod verbose;
pub mod verdict;
