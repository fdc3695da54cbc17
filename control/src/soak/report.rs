//! The soak's report: what ran, every flap's figures, totals and the verdict; written as JSON
//! (schema `vflag-ctl.soak.v1`) and as a Markdown table that also reads well on a terminal.

use std::fmt::Write;

use serde::Serialize;

use super::analyze::{FlapResult, LinkWindow, Unexplained, Window};
use super::verdict::{Limits, LossTotals, Verdict};
use crate::mlx5::counters::Link;

pub const SCHEMA: &str = "vflag-ctl.soak.v1";

#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// "lab" (the emulated lab, both sides run here) or "dut" (a receiver on real hardware).
    pub mode: &'static str,
    pub bond: Option<String>,
    pub flaps: usize,
    pub interval_ms: u64,
    pub down_ms: u64,
    pub links: Vec<String>,
    pub link_choice: String,
    pub seed: Option<u64>,
    pub flows: Option<u16>,
    pub rate: Option<String>,
    /// Lab: the run id the generator sends and the receiver tracks.
    pub run_id: Option<u16>,
    pub limits: Limits,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Files {
    pub report: String,
    pub table: String,
    pub plot: String,
    pub rx_report: String,
    pub rx_events: String,
    pub rx_log: String,
    pub gen_log: Option<String>,
    /// The links' counter samples (`--link-counters`), schema `vflag-ctl.counters.v1`.
    pub links: Option<String>,
    /// `--junit`: the verdict as JUnit XML.
    pub junit: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    pub flaps_planned: usize,
    pub flaps_done: usize,
    pub tracked: Option<LossTotals>,
    pub max_outage_ms: f64,
    pub mean_outage_ms: f64,
    /// Each member's share of everything received, %.
    pub shares_pct: Vec<f64>,
    /// Each link's share of everything the links received, % (empty without link counters).
    pub link_shares_pct: Vec<f64>,
    pub duration_s: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SoakReport {
    pub schema: &'static str,
    pub settings: Settings,
    pub started_unix_s: f64,
    /// Every planned flap ran and both sides stopped as asked.
    pub complete: bool,
    pub interrupted: bool,
    pub members: Vec<String>,
    /// The links whose own counters were sampled (name, PCI address, `phy` or `netdev`).
    pub link_counters: Vec<Link>,
    /// Why sampling the link counters stopped before the soak ended, if it did.
    pub link_counters_error: Option<String>,
    pub flaps: Vec<FlapResult>,
    pub unexplained_outages: Vec<Unexplained>,
    pub totals: Totals,
    pub verdict: Verdict,
    pub files: Files,
}

/// `shares`: the members' and the links' shares over the run.
pub fn totals(
    flaps: &[FlapResult],
    planned: usize,
    tracked: Option<LossTotals>,
    shares: (Vec<f64>, Vec<f64>),
    d: f64,
) -> Totals {
    // A flap cut short by an interrupt was not measured to its end.
    let outages: Vec<f64> = flaps.iter().filter(|f| !f.cut_short).map(|f| f.outage_ms).collect();
    Totals {
        flaps_planned: planned,
        flaps_done: flaps.len(),
        tracked,
        max_outage_ms: outages.iter().copied().fold(0.0, f64::max),
        mean_outage_ms: if outages.is_empty() { 0.0 } else { outages.iter().sum::<f64>() / outages.len() as f64 },
        shares_pct: shares.0,
        link_shares_pct: shares.1,
        duration_s: d,
    }
}

/// A name as Markdown text: a `|` would end the table cell, and `<`, `*`, `` ` ``, `[` would
/// turn into markup or HTML where the table is rendered.
pub fn md(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '|' | '\\' | '*' | '`' | '[' | ']' | '<' | '>' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

fn shares_text(w: &Window, members: &[String]) -> String {
    if w.shares_pct.is_empty() || w.shares_pct.iter().all(|s| *s == 0.0) {
        return format!("{:.1} kpps", w.rate_pps / 1e3);
    }
    let parts: Vec<String> = members.iter().zip(&w.shares_pct).map(|(m, s)| format!("{} {s:.0}%", md(m))).collect();
    format!("{} ({:.1} kpps)", parts.join(" / "), w.rate_pps / 1e3)
}

fn link_text(w: &Window, links: &[Link]) -> String {
    match &w.links {
        None => "-".into(),
        Some(LinkWindow { rate_pps, shares_pct, .. }) => {
            let parts: Vec<String> =
                links.iter().zip(shares_pct).map(|(l, s)| format!("{} {s:.0}%", md(&l.name))).collect();
            format!("{} ({:.1} kpps)", parts.join(" / "), rate_pps / 1e3)
        }
    }
}

fn run_shares(names: &[&str], shares: &[f64]) -> String {
    names.iter().zip(shares).map(|(m, s)| format!("{} {s:.1}%", md(m))).collect::<Vec<_>>().join(", ")
}

/// The per-flap table, totals and verdict as Markdown.
pub fn markdown(r: &SoakReport) -> String {
    let mut s = String::new();
    let set = &r.settings;
    let _ = writeln!(
        s,
        "Soak ({}{}): {} of {} flaps, {} ms down every {} s, links {}\n",
        set.mode,
        set.bond.as_ref().map(|b| format!(", bond {b}")).unwrap_or_default(),
        r.totals.flaps_done,
        r.totals.flaps_planned,
        set.down_ms,
        set.interval_ms as f64 / 1e3,
        set.link_choice
    );
    s.push_str("| flap | link | down at s | down ms | outage ms | all-traffic outage ms | flows hit | lost | before | during | after |\n");
    s.push_str("|---:|---|---:|---:|---:|---:|---:|---:|---|---|---|\n");
    for f in &r.flaps {
        let _ = writeln!(
            s,
            "| {} | {} | {:.3} | {:.0} | {:.1} | {:.1} | {} | {} | {} | {} | {}{} |",
            f.number,
            md(&f.links.join("+")),
            f.down_s,
            f.down_ms,
            f.outage_ms,
            f.total_outage_ms,
            f.flows_hit,
            f.lost,
            shares_text(&f.before, &r.members),
            shares_text(&f.during, &r.members),
            shares_text(&f.after, &r.members),
            if f.cut_short {
                " cut short, not judged"
            } else if f.recovered {
                ""
            } else {
                " NOT RECOVERED"
            }
        );
    }
    let _ = writeln!(s);
    if !r.link_counters.is_empty() {
        let names: Vec<String> =
            r.link_counters.iter().map(|l| format!("{} ({})", md(&l.name), l.source.describe())).collect();
        let _ = writeln!(s, "Received per link, from the links' own counters: {}\n", names.join(", "));
        s.push_str("| flap | before | during | after |\n|---:|---|---|---|\n");
        for f in &r.flaps {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                f.number,
                link_text(&f.before, &r.link_counters),
                link_text(&f.during, &r.link_counters),
                link_text(&f.after, &r.link_counters)
            );
        }
        let _ = writeln!(s);
    }
    if let Some(t) = &r.totals.tracked {
        let _ = writeln!(s, "Tracked frames: {} received, {} lost ({:.4}%).", t.received, t.lost, t.loss_pct);
    }
    let _ = writeln!(
        s,
        "Outage per flap: max {:.1} ms, mean {:.1} ms.{}",
        r.totals.max_outage_ms,
        r.totals.mean_outage_ms,
        if r.totals.shares_pct.is_empty() {
            String::new()
        } else {
            let names: Vec<&str> = r.members.iter().map(String::as_str).collect();
            format!(" Shares over the run: {}.", run_shares(&names, &r.totals.shares_pct))
        }
    );
    if !r.totals.link_shares_pct.is_empty() {
        let names: Vec<&str> = r.link_counters.iter().map(|l| l.name.as_str()).collect();
        let _ = writeln!(s, "Link shares over the run: {}.", run_shares(&names, &r.totals.link_shares_pct));
    }
    if let Some(e) = &r.link_counters_error {
        let _ = writeln!(s, "Link counters stopped early: {e}");
    }
    for u in &r.unexplained_outages {
        let _ = writeln!(
            s,
            "Outage with no flap at {:.3} s: {:.1} ms, {} flows, {} lost.",
            u.start_s, u.duration_ms, u.flows, u.lost
        );
    }
    if r.interrupted {
        let _ = writeln!(s, "Interrupted: the figures cover what ran.");
    }
    if r.verdict.pass {
        let _ = writeln!(s, "Verdict: PASS");
    } else {
        let _ = writeln!(s, "Verdict: FAIL");
        for f in &r.verdict.failures {
            let _ = writeln!(s, "- {}", f.line);
        }
    }
    s
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn window(shares: Vec<f64>, rate: f64) -> Window {
        Window { rate_pps: rate, shares_pct: shares, ..Default::default() }
    }

    pub(crate) fn sample() -> SoakReport {
        let flap = FlapResult {
            number: 1,
            links: vec!["s0".into()],
            down_s: 6.25,
            up_s: 6.75,
            down_ms: 500.0,
            outage_ms: 512.3,
            total_outage_ms: 0.0,
            flows_hit: 8,
            lost: 4539,
            recovered: true,
            cut_short: false,
            before: window(vec![50.0, 50.0], 20_000.0),
            during: window(vec![0.0, 100.0], 15_000.0),
            after: window(vec![49.4, 50.6], 20_000.0),
        };
        let tracked = Some(LossTotals { received: 100_000, lost: 4539, loss_pct: 4.3426, ..Default::default() });
        SoakReport {
            schema: SCHEMA,
            settings: Settings {
                mode: "lab",
                bond: Some("lacp".into()),
                flaps: 1,
                interval_ms: 6000,
                down_ms: 500,
                links: vec!["s0".into(), "s1".into()],
                link_choice: "alternate".into(),
                seed: None,
                flows: Some(16),
                rate: Some("20000".into()),
                run_id: Some(7),
                limits: Limits::default(),
            },
            started_unix_s: 1.0,
            complete: true,
            interrupted: false,
            members: vec!["p0".into(), "p1".into()],
            link_counters: Vec::new(),
            link_counters_error: None,
            totals: totals(std::slice::from_ref(&flap), 1, tracked, (vec![48.0, 52.0], Vec::new()), 12.0),
            flaps: vec![flap],
            unexplained_outages: vec![],
            verdict: Verdict {
                pass: false,
                failures: vec![crate::soak::verdict::Failure {
                    flap: Some(1),
                    check: crate::soak::verdict::OUTAGE,
                    line: "flap 1: outage 512.3 ms > --max-outage-ms 400".into(),
                }],
                soak_checks: vec![],
            },
            files: Files::default(),
        }
    }

    #[test]
    fn table_has_a_row_per_flap_with_its_figures() {
        let md = markdown(&sample());
        let row = md.lines().find(|l| l.starts_with("| 1 |")).expect(&md);
        assert_eq!(
            row,
            "| 1 | s0 | 6.250 | 500 | 512.3 | 0.0 | 8 | 4539 | p0 50% / p1 50% (20.0 kpps) | p0 0% / p1 100% (15.0 kpps) | p0 49% / p1 51% (20.0 kpps) |"
        );
        assert!(md.contains("Soak (lab, bond lacp): 1 of 1 flaps, 500 ms down every 6 s, links alternate"));
        assert!(md.contains("Tracked frames: 100000 received, 4539 lost (4.3426%)."));
        assert!(md.contains("Outage per flap: max 512.3 ms, mean 512.3 ms. Shares over the run: p0 48.0%, p1 52.0%."));
        assert!(md.contains("Verdict: FAIL\n- flap 1: outage 512.3 ms > --max-outage-ms 400"));
    }

    #[test]
    fn names_cannot_break_the_table_or_become_markup() {
        let mut r = sample();
        r.flaps[0].links = vec!["a|b<script>".into()];
        r.members = vec!["p*0*".into(), "p`1`|".into()];
        let t = markdown(&r);
        let row = t.lines().find(|l| l.starts_with("| 1 |")).expect(&t);
        assert!(row.starts_with("| 1 | a\\|b\\<script\\> | 6.250 |"), "{row}");
        assert!(row.contains("p\\*0\\* 50% / p\\`1\\`\\| 50%"), "{row}");
        // The row still has its 11 cells: every | left is a separator.
        assert_eq!(row.replace("\\|", "").matches('|').count(), 12, "{row}");
        assert_eq!(md("Ethernet1/49"), "Ethernet1/49");
    }

    #[test]
    fn link_counters_get_a_table_of_their_own() {
        use crate::mlx5::counters::Source;
        let mut r = sample();
        assert!(!markdown(&r).contains("per link"), "no link table without link counters");
        r.link_counters = vec![
            Link::phy("enp1s0f0np0", "0000:01:00.0"),
            Link { name: "veth1".into(), pci: None, source: Source::Netdev },
        ];
        let lw = |s: Vec<f64>, rate: f64| Some(LinkWindow { rate_pps: rate, shares_pct: s, carrying: vec![] });
        r.flaps[0].before.links = lw(vec![51.0, 49.0], 20_100.0);
        r.flaps[0].during.links = lw(vec![0.0, 100.0], 15_000.0);
        r.totals.link_shares_pct = vec![47.5, 52.5];
        r.link_counters_error = Some("`ethtool -S enp1s0f0np0` failed (exit 1): no such device".into());
        let md = markdown(&r);
        assert!(
            md.contains(
                "Received per link, from the links' own counters: enp1s0f0np0 (ethtool -S *_phy), veth1 (netdev statistics)"
            ),
            "{md}"
        );
        assert!(
            md.contains(
                "| 1 | enp1s0f0np0 51% / veth1 49% (20.1 kpps) | enp1s0f0np0 0% / veth1 100% (15.0 kpps) | - |"
            ),
            "{md}"
        );
        assert!(md.contains("Link shares over the run: enp1s0f0np0 47.5%, veth1 52.5%."), "{md}");
        assert!(md.contains("Link counters stopped early: `ethtool -S enp1s0f0np0` failed"), "{md}");
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["link_counters"][0]["source"], "phy");
        assert_eq!(v["flaps"][0]["during"]["links"]["shares_pct"][1], 100.0);
        assert_eq!(v["flaps"][0]["after"]["links"], serde_json::Value::Null);
    }

    #[test]
    fn json_carries_schema_flaps_and_verdict() {
        let v = serde_json::to_value(sample()).unwrap();
        assert_eq!(v["schema"], SCHEMA);
        assert_eq!(v["flaps"][0]["during"]["shares_pct"][1], 100.0);
        assert_eq!(v["totals"]["tracked"]["lost"], 4539);
        assert_eq!(v["verdict"]["pass"], false);
    }
}
