//! The results: a table for the terminal, JSON (schema `vflag-bench.v1`) and a Markdown table
//! for the README.

use std::fmt::Write as _;

use serde::Serialize;

use crate::cases::{Kind, Settings};
use crate::summary::Spread;

#[derive(Debug, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub started_unix_s: u64,
    /// The DPDK vflag-dp was built against.
    pub dpdk_version: &'static str,
    pub tsc_hz: u64,
    pub settings: Settings,
    pub rounds: usize,
    pub warmup_s: f64,
    pub window_s: f64,
    pub cases: Vec<CaseResult>,
    /// Stopped by SIGINT/SIGTERM: `cases` holds those that finished.
    pub interrupted: bool,
    /// The floors given with --check / --check-analysis, and whether every ratio held.
    pub check: Check,
}

#[derive(Debug, Serialize)]
pub struct SideResult {
    pub label: &'static str,
    pub mpps: Spread,
    pub cycles_per_packet: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct CaseResult {
    pub name: &'static str,
    pub what: &'static str,
    pub kind: Kind,
    pub baseline: SideResult,
    pub compared: SideResult,
    /// compared / baseline, medians.
    pub ratio: Option<f64>,
    /// compared / baseline, each side's best round: when a device's rate is bimodal (memif on
    /// a VM), the medians may compare one mode with the other; the best rounds compare the
    /// fast mode with itself.
    pub best_ratio: Option<f64>,
    /// The floor this case's ratio was checked against, and the outcome.
    pub floor: Option<f64>,
    pub pass: Option<bool>,
}

#[derive(Debug, Default, Serialize)]
pub struct Check {
    pub vs_testpmd_floor: Option<f64>,
    pub analysis_floor: Option<f64>,
    pub passed: bool,
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{x:.digits$}"))
}

fn spread(s: &Spread) -> String {
    if s.rounds.len() > 1 {
        format!("{:.2} ({:.2}-{:.2})", s.median, s.min, s.max)
    } else {
        format!("{:.2}", s.median)
    }
}

/// One row of cells per case: name, both sides' Mpps, ratios, cycles per packet, check.
fn rows(r: &Report) -> Vec<[String; 8]> {
    r.cases
        .iter()
        .map(|c| {
            [
                c.name.to_string(),
                format!("{}: {}", c.baseline.label, spread(&c.baseline.mpps)),
                format!("{}: {}", c.compared.label, spread(&c.compared.mpps)),
                opt(c.ratio, 3),
                opt(c.best_ratio, 3),
                opt(c.baseline.cycles_per_packet, 1),
                opt(c.compared.cycles_per_packet, 1),
                match (c.pass, c.floor) {
                    (Some(true), Some(f)) => format!("ok (>= {f})"),
                    (Some(false), Some(f)) => format!("FAIL (< {f})"),
                    _ => String::new(),
                },
            ]
        })
        .collect()
}

const HEADER: [&str; 8] =
    ["case", "baseline Mpps", "compared Mpps", "ratio", "best", "cyc/pkt base", "cyc/pkt comp", "check"];

pub fn table(r: &Report) -> String {
    let rows = rows(r);
    let mut widths: Vec<usize> = HEADER.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &[&str]| {
        let parts: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        let _ = writeln!(out, "{}", parts.join("  ").trim_end());
    };
    line(&mut out, &HEADER);
    for row in &rows {
        line(&mut out, &row.iter().map(String::as_str).collect::<Vec<_>>());
    }
    let _ = writeln!(
        out,
        "Mpps: median (min-max) of {} round(s), {:.1} s windows after {:.1} s warm-up; ratio of the medians, best: of the best rounds; cycles/packet at TSC {:.3} GHz; DPDK {}",
        r.rounds,
        r.window_s,
        r.warmup_s,
        r.tsc_hz as f64 / 1e9,
        r.dpdk_version
    );
    out
}

pub fn markdown(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| case | what | baseline, Mpps | compared, Mpps | ratio | best | cycles/packet |");
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for c in &r.cases {
        let _ = writeln!(
            out,
            "| {} | {} | {}: {} | {}: {} | {} | {} | {} / {} |",
            c.name,
            c.what,
            c.baseline.label,
            spread(&c.baseline.mpps),
            c.compared.label,
            spread(&c.compared.mpps),
            opt(c.ratio, 3),
            opt(c.best_ratio, 3),
            opt(c.baseline.cycles_per_packet, 0),
            opt(c.compared.cycles_per_packet, 0),
        );
    }
    let _ = writeln!(
        out,
        "\nMedian (min-max) of {} rounds, sides alternating; ratio of the medians, best: of the best rounds; {:.0} s windows after {:.0} s warm-up; burst {}, \
         {}/{} descriptors, {} mbufs; DPDK {}; TSC {:.2} GHz.",
        r.rounds,
        r.window_s,
        r.warmup_s,
        r.settings.burst,
        r.settings.rxd,
        r.settings.txd,
        r.settings.mbufs,
        r.dpdk_version,
        r.tsc_hz as f64 / 1e9
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        let side =
            |label, v: &[f64]| SideResult { label, mpps: Spread::of(v).unwrap(), cycles_per_packet: Some(100.0) };
        Report {
            schema: "vflag-bench.v1",
            started_unix_s: 1,
            dpdk_version: "22.11.11",
            tsc_hz: 2_000_000_000,
            settings: Settings::example(),
            rounds: 3,
            warmup_s: 2.0,
            window_s: 3.0,
            cases: vec![CaseResult {
                name: "null-rxonly",
                what: "rxonly on a net_null port",
                kind: Kind::VsTestpmd,
                baseline: side("dpdk-testpmd", &[70.0, 72.0, 71.0]),
                compared: side("vflag-dp", &[75.0, 77.0, 76.0]),
                ratio: Some(76.0 / 71.0),
                best_ratio: Some(77.0 / 72.0),
                floor: Some(1.0),
                pass: Some(true),
            }],
            interrupted: false,
            check: Check { vs_testpmd_floor: Some(1.0), analysis_floor: None, passed: true },
        }
    }

    #[test]
    fn table_and_markdown_carry_the_figures() {
        let r = report();
        let t = table(&r);
        assert!(t.contains("dpdk-testpmd: 71.00 (70.00-72.00)"), "{t}");
        assert!(t.contains("vflag-dp: 76.00 (75.00-77.00)"), "{t}");
        assert!(t.contains("1.070") && t.contains("1.069") && t.contains("ok (>= 1)"), "{t}");
        let m = markdown(&r);
        let row = m.lines().find(|l| l.starts_with("| null-rxonly")).unwrap();
        assert_eq!(row.matches('|').count(), 8, "{row}");
        assert!(row.contains("| 1.070 | 1.069 |") && row.contains("100 / 100"), "{row}");
    }

    #[test]
    fn json_has_the_schema_and_ratios() {
        let v = serde_json::to_value(report()).unwrap();
        assert_eq!(v["schema"], "vflag-bench.v1");
        assert_eq!(v["cases"][0]["kind"], "vs-testpmd");
        assert_eq!(v["cases"][0]["baseline"]["mpps"]["median"], 71.0);
        assert_eq!(v["check"]["passed"], true);
        assert!(v["settings"].get("testpmd").is_none(), "paths are not settings");
    }
}
