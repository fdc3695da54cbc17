//! vflag-dp: a testpmd-style DPDK dataplane for VF-LAG bring-up and failover tests.
//! Exit codes: 0 done (and every threshold held), 1 runtime error (EAL, device, port), 2 bad
//! usage, 3 a --max-*/--min-* threshold failed.
#![forbid(unsafe_code)]

mod analysis;
mod balance;
mod bond;
mod classify;
mod cli;
mod counters;
mod events;
mod flowtable;
mod frame;
mod fwd;
mod gen;
mod kernel_link;
mod lathist;
mod launch;
mod monitor;
mod outage;
mod parse;
mod payload;
mod ports;
mod preflight;
mod report;
mod results;
mod run;
mod seqtrack;
mod stats;
mod telemetry;
mod timeline;
mod topology;
mod verbose;
mod verdict;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| eprintln!("vflag-dp: internal error: {info}")));
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => return clap_exit(e),
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

/// Help and version print as clap has them; usage errors become one line and exit 2.
fn clap_exit(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    eprintln!("vflag-dp: {}", one_line(&e.render().to_string()));
    ExitCode::from(2)
}

/// Folds clap's multi-line message into one line, keeping possible values and tips.
fn one_line(msg: &str) -> String {
    msg.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn clap_messages_fold_to_one_line() {
        let msg = "error: invalid value 'bogus' for '--fwd <FWD>'\n  [possible values: rxonly, io]\n\nFor more information, try '--help'.\n";
        assert_eq!(
            super::one_line(msg),
            "error: invalid value 'bogus' for '--fwd <FWD>' [possible values: rxonly, io]"
        );
    }
}
