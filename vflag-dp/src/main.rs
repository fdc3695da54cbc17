//! vflag-dp: a testpmd-style DPDK dataplane for VF-LAG bring-up and failover tests.
//! Exit codes: 0 done (and every threshold held), 1 runtime error (EAL, device, port), 2 bad
//! usage, 3 a --max-*/--min-* threshold failed.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use vflag_dp::{cli, parse, run};

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| eprintln!("vflag-dp: internal error: {info}")));
    let cli: cli::Cli = match cli_exit::parse("vflag-dp") {
        Ok(c) => c,
        Err(code) => return code,
    };
    let cfg = match cli::Config::from_cli(cli, parse::online_cpus().as_deref()) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("vflag-dp: error: {msg}");
            return ExitCode::from(2);
        }
    };
    match run::run(cfg) {
        Ok(run::Outcome::Pass) => ExitCode::SUCCESS,
        Ok(run::Outcome::Fail) => ExitCode::from(3),
        Err(e) => {
            eprintln!("vflag-dp: error: {e:#}");
            ExitCode::from(1)
        }
    }
}
