//! The one place that turns a clap parse error into what the vflag binaries promise: help and
//! version print as clap has them (exit 0); a usage error is one line on stderr naming the bad
//! value, prefixed by the program's name, and exit 2.

use std::process::ExitCode;

/// Exit code of a usage error, shared by all vflag binaries (1 is a runtime error, 3 a failed verdict).
pub const USAGE: u8 = 2;

/// Parses the command line, or returns the exit code after printing help, version or the error.
pub fn parse<C: clap::Parser>(prog: &str) -> Result<C, ExitCode> {
    C::try_parse().map_err(|e| report(prog, e))
}

/// Prints `e` as help/version (exit 0) or as one usage line (exit 2).
fn report(prog: &str, e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    eprintln!("{prog}: {}", one_line(&e.render().to_string()));
    ExitCode::from(USAGE)
}

/// Folds clap's multi-line message into one line, keeping possible values and tips but not the
/// usage synopsis or the pointer to `--help`.
fn one_line(msg: &str) -> String {
    msg.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[arg(long, value_parser = ["rxonly", "io"])]
        fwd: String,
    }

    #[test]
    fn clap_messages_fold_to_one_line() {
        let msg = "error: invalid value 'bogus' for '--fwd <FWD>'\n  [possible values: rxonly, io]\n\nFor more information, try '--help'.\n";
        assert_eq!(
            super::one_line(msg),
            "error: invalid value 'bogus' for '--fwd <FWD>' [possible values: rxonly, io]"
        );
    }

    #[test]
    fn a_real_clap_error_keeps_the_bad_value_and_the_choices() {
        let e = Cli::try_parse_from(["x", "--fwd", "bogus"]).unwrap_err();
        let line = super::one_line(&e.render().to_string());
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains("'bogus'") && line.contains("rxonly, io"), "{line}");
        assert!(!line.contains("Usage:") && !line.contains("--help"), "{line}");
    }
}
