//! The command-line contract every vflag binary shares: help and version print as clap has them
//! (exit 0); a usage error, clap's or a binary's own check (`BadUsage`), is one line on stderr
//! naming the bad value, prefixed by the program's name, and exit 2; a command that needs root
//! says so before it starts (`require_root`).

use std::process::ExitCode;

/// Exit code of a usage error, shared by all vflag binaries (1 is a runtime error, 3 a failed verdict).
pub const USAGE: u8 = 2;

/// A bad option found by a binary's own checks (after clap's): exit 2, not 1.
#[derive(Debug)]
pub struct BadUsage(pub String);

impl std::fmt::Display for BadUsage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadUsage {}

/// A command that needs root, run without it: "WHAT needs root (WHY)" (exit 1: the command line
/// was right, the caller was not).
#[derive(Debug)]
pub struct NotRoot {
    what: String,
    why: String,
}

impl std::fmt::Display for NotRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} needs root ({})", self.what, self.why)
    }
}

impl std::error::Error for NotRoot {}

/// Refuses to go on unless the effective user is root, as the kernel sees it (`geteuid`).
pub fn require_root(what: &str, why: &str) -> Result<(), NotRoot> {
    if nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    Err(NotRoot { what: what.into(), why: why.into() })
}

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
pub fn one_line(msg: &str) -> String {
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
    fn not_root_names_the_command_and_why() {
        let e = super::NotRoot { what: "lab up".into(), why: "it changes namespaces".into() };
        assert_eq!(e.to_string(), "lab up needs root (it changes namespaces)");
        // The tests run as whoever runs them: the answer is the kernel's.
        assert_eq!(super::require_root("x", "y").is_ok(), nix::unistd::geteuid().is_root());
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
