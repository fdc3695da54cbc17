//! The files a soak writes under `--out`, each named here once: the ones it clears before it
//! starts (a previous soak's must not be read as this one's), the ones it reserves before any
//! process (a path that cannot be written is found then, not at the end), and the paths
//! soak.json lists.

use std::path::Path;

use anyhow::Result;
use outfile::OutFile;
use serde::Serialize;

/// The soak's JSON (`vflag-ctl.soak.v1`).
pub const REPORT: &str = "soak.json";
/// Its Markdown tables.
pub const TABLE: &str = "soak.md";
/// Its SVG plot.
pub const PLOT: &str = "soak.svg";
/// The receiver's `--json` report.
pub const RX_REPORT: &str = "rx.json";
/// The receiver's `--events` JSON Lines.
pub const RX_EVENTS: &str = "rx-events.jsonl";
/// The receiver's output.
pub const RX_LOG: &str = "rx.log";
/// The far side's report, fetched after it stopped.
pub const GEN_REPORT: &str = "gen.json";
/// The far side's output.
pub const GEN_LOG: &str = "gen.log";
/// `--traffic-cmd`'s output.
pub const TRAFFIC_LOG: &str = "traffic.log";
/// `--traffic-stop-cmd`'s output: named by `traffic.rs` beside [`TRAFFIC_LOG`].
pub const TRAFFIC_STOP_LOG: &str = "traffic.stop.log";
/// The links' counter samples (`vflag-ctl.counters.v1`).
pub const LINKS: &str = "links.jsonl";
/// The NIC's sampled changes (`vflag-ctl.nic.v1`).
pub const NIC: &str = "nic.jsonl";

/// Every file a soak writes under `--out`.
const ALL: [&str; 12] =
    [REPORT, TABLE, PLOT, RX_REPORT, RX_EVENTS, RX_LOG, GEN_REPORT, GEN_LOG, TRAFFIC_LOG, TRAFFIC_STOP_LOG, LINKS, NIC];

/// Removes a previous soak's files from `--out`.
pub fn clear_previous(out: &Path) {
    for name in ALL {
        let _ = std::fs::remove_file(out.join(name));
    }
}

/// `--out/NAME` as soak.json shows it.
pub fn path(out: &Path, name: &str) -> String {
    out.join(name).display().to_string()
}

/// The soak's files, as soak.json lists them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Files {
    pub report: String,
    pub table: String,
    pub plot: String,
    pub rx_report: String,
    pub rx_events: String,
    pub rx_log: String,
    pub gen_log: Option<String>,
    /// The far side's report, fetched from it.
    pub gen_report: Option<String>,
    /// `--traffic-cmd`'s output.
    pub traffic_log: Option<String>,
    /// The links' counter samples (`--link-counters`), schema `vflag-ctl.counters.v1`.
    pub links: Option<String>,
    /// The NIC's sampled changes (LAG, PFs, bond, kernel log), schema `vflag-ctl.nic.v1`.
    pub nic: Option<String>,
    /// `--junit`: the verdict as JUnit XML.
    pub junit: Option<String>,
}

impl Files {
    /// This soak's files: the generator's when the soak runs it, traffic.log with
    /// `--traffic-cmd`; `links` and `nic` are set once their watchers started.
    pub fn new(out: &Path, generates: bool, traffic: bool, junit: Option<&Path>) -> Files {
        Files {
            report: path(out, REPORT),
            table: path(out, TABLE),
            plot: path(out, PLOT),
            rx_report: path(out, RX_REPORT),
            rx_events: path(out, RX_EVENTS),
            rx_log: path(out, RX_LOG),
            gen_log: generates.then(|| path(out, GEN_LOG)),
            gen_report: generates.then(|| path(out, GEN_REPORT)),
            traffic_log: traffic.then(|| path(out, TRAFFIC_LOG)),
            links: None,
            nic: None,
            junit: junit.map(|p| p.display().to_string()),
        }
    }
}

/// The soak's own files, reserved before anything starts and committed whole at the end.
pub struct Reserved {
    pub report: OutFile,
    pub table: OutFile,
    pub plot: OutFile,
    pub junit: Option<OutFile>,
}

impl Reserved {
    pub fn new(out: &Path, junit: Option<&Path>) -> Result<Reserved> {
        let reserve = |name| OutFile::reserve("--out", &out.join(name)).map_err(anyhow::Error::msg);
        Ok(Reserved {
            report: reserve(REPORT)?,
            table: reserve(TABLE)?,
            plot: reserve(PLOT)?,
            junit: match junit {
                Some(p) => {
                    // As for soak.json: a CI job must not read an earlier soak's verdict as this one's.
                    if std::fs::metadata(p).is_ok_and(|m| m.is_file()) {
                        let _ = std::fs::remove_file(p);
                    }
                    Some(OutFile::reserve("--junit", p).map_err(anyhow::Error::msg)?)
                }
                None => None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stop_log_is_where_traffic_rs_puts_it() {
        assert_eq!(Path::new(TRAFFIC_LOG).with_extension("stop.log"), Path::new(TRAFFIC_STOP_LOG));
    }

    #[test]
    fn a_previous_soaks_files_are_cleared_and_only_they() {
        let dir = tempfile::tempdir().unwrap();
        for name in ALL.iter().chain(&["mine.txt"]) {
            std::fs::write(dir.path().join(name), "old").unwrap();
        }
        clear_previous(dir.path());
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, ["mine.txt"]);
    }

    #[test]
    fn the_generators_and_traffics_files_only_when_they_run() {
        let f = Files::new(Path::new("o"), false, true, None);
        assert_eq!(
            (f.report.as_str(), f.gen_log, f.traffic_log.as_deref()),
            ("o/soak.json", None, Some("o/traffic.log"))
        );
        let f = Files::new(Path::new("o"), true, false, Some(Path::new("j.xml")));
        assert_eq!((f.gen_report.as_deref(), f.junit.as_deref()), (Some("o/gen.json"), Some("j.xml")));
    }
}
