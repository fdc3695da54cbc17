//! The soak's report: what ran, every flap's figures, totals and the verdict; written as JSON
//! (schema `vflag-ctl.soak.v1`) and as a Markdown table that also reads well on a terminal.

use std::fmt::Write;

use serde::Serialize;

use super::analyze::{FlapResult, LinkWindow, Unexplained, Window};
use super::failover::{dist, short_ms, Dist, Resolution};
use super::markdown::md;
use super::outputs::Files;
use super::rx_report::Generator;
use super::verdict::{Limits, LossTotals, Verdict};
use crate::mlx5::counters::Link;

pub const SCHEMA: &str = "vflag-ctl.soak.v1";

#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// "lab" (the emulated lab, both sides run here), "lab-vf" (its DUT on an emulated VF) or "dut"
    /// (a receiver on real hardware).
    pub mode: &'static str,
    pub bond: Option<String>,
    /// The lab bond's transmit hash (`--bond-hash`; null for active-backup and off the lab).
    pub bond_hash: Option<&'static str>,
    pub flaps: usize,
    pub interval_ms: u64,
    pub down_ms: u64,
    pub links: Vec<String>,
    pub link_choice: String,
    /// How each flap failed its link: carrier, admin or lacp (`--flap-kind`).
    pub flap_kind: &'static str,
    pub seed: Option<u64>,
    pub flows: Option<u16>,
    pub rate: Option<String>,
    /// Lab: the run id the generator sends and the receiver tracks.
    pub run_id: Option<u16>,
    /// `--reflect`: the DUT reflected and the far side measured the round trip.
    pub reflect: bool,
    pub limits: Limits,
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
    /// Over the judged flaps (not cut short, not overlapping): the per-flap outage, the
    /// loss-derived time and the restore time, ms; null over none.
    pub failover_ms: Option<Dist>,
    pub loss_derived_ms: Option<Dist>,
    pub restore_ms: Option<Dist>,
    /// Judged flaps whose link did not carry its share again before the next flap (or the end).
    pub not_restored: usize,
    /// Flaps that went down while an earlier flap's link was still out.
    pub overlapping: usize,
    /// Lab: what the generator says it sent (`gen.json`); null when it wrote no report.
    pub generator: Option<Generator>,
    /// Whether latency was measured (else why not) and each window over the judged flaps.
    pub latency: super::latency::Summary,
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
    /// The shortest outage the run can see; shorter ones show as "< N ms".
    pub resolution: Resolution,
    pub flaps: Vec<FlapResult>,
    /// The NIC across each flap (the DUT's card, or the lab model's with `--vf`): the steps of
    /// each flap from the sampled LAG, PFs, bond and kernel log; null on a lab without `--vf`.
    pub lag: Option<super::lag::LagTimeline>,
    /// `--reflect`: the round trip as the far side measured it, and the DUT's egress split.
    pub round_trip: Option<super::round_trip::RoundTrip>,
    /// The far side's vflag-dp (the lab's generator, or `--peer-cmd`'s): its command line and
    /// whether its report was fetched.
    pub far_side: Option<super::peer::FarSide>,
    /// `--traffic-cmd`: the foreign generator and its stop.
    pub traffic: Option<super::traffic::TrafficReport>,
    pub unexplained_outages: Vec<Unexplained>,
    /// Real hardware: `vflag-ctl verify` before anything started (or why not).
    pub preflight: super::preflight::PreflightReport,
    /// What the soak ran on: NIC, firmware, driver, kernel, DPDK, bond, LAG, VFs.
    pub environment: super::environment::Environment,
    /// The offload checked before the first flap and after each.
    pub integrity: super::integrity::IntegrityReport,
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
    // A flap cut short by an interrupt was not measured to its end; an overlapping one measures
    // the schedule.
    let judged: Vec<&FlapResult> = flaps.iter().filter(|f| !f.cut_short && f.overlaps.is_none()).collect();
    let outages: Vec<f64> = judged.iter().map(|f| f.outage_ms).collect();
    let restores: Vec<&FlapResult> = judged.iter().copied().filter(|f| f.restore.is_some()).collect();
    Totals {
        failover_ms: dist(outages.iter().copied()),
        loss_derived_ms: dist(judged.iter().filter_map(|f| f.failover.loss_derived_ms)),
        restore_ms: dist(restores.iter().filter_map(|f| f.restore.as_ref()?.restore_ms)),
        not_restored: restores.iter().filter(|f| f.restore.as_ref().is_some_and(|r| r.restore_ms.is_none())).count(),
        overlapping: flaps.iter().filter(|f| f.overlaps.is_some()).count(),
        generator: None,
        latency: Default::default(),
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

/// "--gap-ms 10, 10 x a flow's 0.8 ms frame interval; the receiver's figure".
fn resolution_text(r: &Resolution) -> String {
    let interval =
        r.flow_interval_ms.map_or(String::new(), |i| format!(", {} x a flow's {i:.2} ms frame interval", r.k));
    let from = if r.from == "receiver" { "the receiver's figure" } else { "from the soak's settings" };
    format!("the receiver's --gap-ms {}{interval}; {from}", r.gap_ms)
}

/// "the generator sent 15.2 kpps of the 20.0 kpps asked (24.0% short): ...", when it fell short.
pub fn generator_warning(g: &Generator) -> Option<String> {
    let (asked, pct) = (g.rate_pps?, g.short_of_rate_pct?);
    Some(format!(
        "the generator sent {:.1} kpps of the {:.1} kpps asked ({pct:.1}% short): the offered load was not what was asked",
        g.achieved_pps / 1e3,
        asked / 1e3
    ))
}

/// A flap's notes cell: what makes its row read differently.
fn notes(f: &FlapResult) -> Vec<String> {
    let mut n = Vec::new();
    if f.cut_short {
        n.push("cut short, not judged".to_string());
    } else if !f.recovered {
        n.push("NOT RECOVERED".to_string());
    }
    if let Some(o) = &f.overlaps {
        n.push(format!("overlaps flap {}: {} still out, not judged", o.flap, md(&o.links.join("+"))));
    }
    if let Some(next) = f.overlapped_by {
        n.push(format!("flap {next} came before this link was back"));
    }
    if let Some(x) = f.restore.as_ref().filter(|x| x.return_episodes > 0) {
        n.push(format!("return cost {} frames in {} episode(s)", x.return_lost, x.return_episodes));
    }
    if f.late > 0 {
        n.push(format!("{} frames arrived late, not lost", f.late));
    }
    if f.failover.below_resolution && f.lost > 0 {
        n.push("outage under the resolution: see loss-derived".to_string());
    }
    n
}

fn dist_text(d: &Option<Dist>, show: impl Fn(f64) -> String) -> String {
    match d {
        None => "-".into(),
        Some(d) => format!("{} / {} / {} / {}", show(d.min), show(d.median), show(d.p99), show(d.max)),
    }
}

/// "Over 3 judged flaps (min / median / p99 / max, ms): outage ...; loss-derived ...; restore ...".
fn distribution_line(r: &SoakReport) -> Option<String> {
    let t = &r.totals;
    let n = t.failover_ms.as_ref()?.n;
    let res = &r.resolution;
    let not = if t.not_restored > 0 { format!(" ({} not restored)", t.not_restored) } else { String::new() };
    Some(format!(
        "Over {n} judged flap(s), min / median / p99 / max ms: outage {}; loss-derived {}; restore {}{not}.",
        dist_text(&t.failover_ms, |v| res.show(v)),
        dist_text(&t.loss_derived_ms, |v| format!("{v:.1}")),
        dist_text(&t.restore_ms, |v| format!("{v:.0}")),
    ))
}

/// The summary a person reads first, before any per-flap row (a 1,000-flap soak has 1,000):
/// the distribution over the judged flaps, how many flaps failed, and the verdict.
fn summary(r: &SoakReport) -> String {
    let mut s = String::from("## Summary\n\n");
    let t = &r.totals;
    let res = &r.resolution;
    if let Some(n) = t.failover_ms.as_ref().map(|d| d.n) {
        let _ = writeln!(s, "| over {n} judged flap(s), ms | n | min | median | p99 | max |");
        s.push_str("|---|---:|---:|---:|---:|---:|\n");
        let show_res = |v: f64| res.show(v);
        let one = |v: f64| format!("{v:.1}");
        let whole = |v: f64| format!("{v:.0}");
        type Show<'a> = &'a dyn Fn(f64) -> String;
        let rows: [(&str, &Option<Dist>, Show); 3] = [
            ("outage (failover)", &t.failover_ms, &show_res),
            ("loss-derived", &t.loss_derived_ms, &one),
            ("restore", &t.restore_ms, &whole),
        ];
        for (name, d, show) in rows {
            match d {
                Some(d) => {
                    let _ = writeln!(
                        s,
                        "| {name} | {} | {} | {} | {} | {} |",
                        d.n,
                        show(d.min),
                        show(d.median),
                        show(d.p99),
                        show(d.max)
                    );
                }
                None => {
                    let _ = writeln!(s, "| {name} | 0 | - | - | - | - |");
                }
            }
        }
        s.push('\n');
    }
    let failed: std::collections::BTreeSet<usize> = r.verdict.failures.iter().filter_map(|f| f.flap).collect();
    let not_judged = r.flaps.iter().filter(|f| f.cut_short || f.overlaps.is_some()).count();
    let _ = writeln!(
        s,
        "Flaps: {} of {} done, {} failed, {} not judged (cut short or overlapping), {} not restored.\n",
        t.flaps_done,
        t.flaps_planned,
        failed.len(),
        not_judged,
        t.not_restored
    );
    let whole_soak = r.verdict.failures.iter().filter(|f| f.flap.is_none()).count();
    let verdict = if r.verdict.pass {
        "PASS".to_string()
    } else {
        format!(
            "FAIL ({} failed check(s): {} per flap, {whole_soak} of the whole soak; listed at the end)",
            r.verdict.failures.len(),
            r.verdict.failures.len() - whole_soak
        )
    };
    let _ = writeln!(s, "Verdict: {verdict}\n");
    s
}

/// The per-flap table, totals and verdict as Markdown.
pub fn markdown(r: &SoakReport) -> String {
    let mut s = String::new();
    let set = &r.settings;
    let _ = writeln!(
        s,
        "Soak ({}{}): {} of {} {} flaps, {} ms down every {} s, links {}\n",
        set.mode,
        set.bond.as_ref().map(|b| format!(", bond {b}")).unwrap_or_default(),
        r.totals.flaps_done,
        r.totals.flaps_planned,
        set.flap_kind,
        set.down_ms,
        set.interval_ms as f64 / 1e3,
        set.link_choice
    );
    let res = &r.resolution;
    let n = short_ms(res.ms);
    let _ = writeln!(
        s,
        "Resolution: outages under {n} ms are not seen ({}); such figures show as \"< {n}\".\n",
        resolution_text(res)
    );
    s.push_str(&super::preflight::markdown(&r.preflight, &r.environment));
    if let Some(g) = r.totals.generator.as_ref().and_then(generator_warning) {
        let _ = writeln!(s, "Warning: {g}\n");
    }
    if let Some(e) = r.far_side.as_ref().and_then(|f| f.fetch_error.as_ref()) {
        let _ = writeln!(s, "Warning: the far side's report was not fetched: {}\n", md(e));
    }
    if r.traffic.is_some() {
        let _ = writeln!(
            s,
            "Traffic: a foreign generator (--traffic-cmd); each flap's outage is the silence of its flows, \
             followed by 5-tuple, and its loss is estimated from their pace.\n"
        );
    }
    s.push_str(&summary(r));
    s.push_str("## Per flap\n\n");
    s.push_str(
        "| flap | link | down at s | down ms | flows hit | outage ms | per-flow min / median / p99 ms \
         | all-traffic outage ms | lost | loss-derived ms | first / last loss ms | episodes | restore ms | notes |\n",
    );
    s.push_str("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for f in &r.flaps {
        let fo = &f.failover;
        let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| res.show(v));
        let instant = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.0}"));
        let _ = writeln!(
            s,
            "| {} | {} | {:.3} | {:.0} | {} | {} | {} / {} / {} | {} | {} | {} | {} / {} | {} | {} | {} |",
            f.number,
            md(&f.links.join("+")),
            f.down_s,
            f.down_ms,
            f.flows_hit,
            res.show(f.outage_ms),
            opt(fo.flow_outage_ms.min),
            opt(fo.flow_outage_ms.median),
            opt(fo.flow_outage_ms.p99),
            res.show(f.total_outage_ms),
            f.lost,
            fo.loss_derived_ms.map_or("-".to_string(), |v| format!("{v:.1}")),
            instant(fo.first_loss_ms),
            instant(fo.last_loss_ms),
            fo.episodes.len(),
            match &f.restore {
                None => "-".to_string(),
                Some(x) => x.restore_ms.map_or("not restored".to_string(), |v| format!("{v:.0}")),
            },
            notes(f).join("; ")
        );
    }
    let _ = writeln!(s);
    let by = if r.members.is_empty() { "received" } else { "per bond member" };
    let _ = writeln!(s, "Traffic {by}, before, during and after each flap:\n");
    s.push_str("| flap | before | during | after |\n|---:|---|---|---|\n");
    for f in &r.flaps {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            f.number,
            shares_text(&f.before, &r.members),
            shares_text(&f.during, &r.members),
            shares_text(&f.after, &r.members)
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
    s.push_str(&super::latency::markdown(
        r.flaps.iter().filter_map(|f| Some((f.number, f.latency.as_ref()?))),
        &r.totals.latency,
    ));
    if let Some(rt) = &r.round_trip {
        let names: Vec<String> = r.link_counters.iter().map(|l| l.name.clone()).collect();
        s.push_str(&super::round_trip::markdown(rt, &names));
    }
    if let Some(l) = &r.lag {
        s.push_str(&super::lag::markdown(l));
    }
    s.push_str(&super::preflight::integrity_markdown(&r.integrity));
    if let Some(t) = &r.totals.tracked {
        let _ = writeln!(s, "Tracked frames: {} received, {} lost ({:.4}%).", t.received, t.lost, t.loss_pct);
    }
    let _ = writeln!(
        s,
        "Outage per flap: max {} ms, mean {} ms.{}",
        res.show(r.totals.max_outage_ms),
        res.show(r.totals.mean_outage_ms),
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
    if let Some(line) = distribution_line(r) {
        let _ = writeln!(s, "{line}");
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
    for n in &r.verdict.notes {
        let _ = writeln!(s, "Note: {n}");
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
    use crate::soak::failover::{Episode, Failover, FlowDist};
    use crate::soak::restore::{Overlap, Restore};

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
            late: 0,
            recovered: true,
            cut_short: false,
            before: window(vec![50.0, 50.0], 20_000.0),
            during: window(vec![0.0, 100.0], 15_000.0),
            after: window(vec![49.4, 50.6], 20_000.0),
            failover: Failover {
                flow_outage_ms: FlowDist { min: Some(3.0), median: Some(480.0), p99: Some(510.0), max: 512.3 },
                loss_derived_ms: Some(453.9),
                first_loss_ms: Some(-2.0),
                last_loss_ms: Some(510.3),
                episodes: vec![Episode {
                    start_ms: -2.0,
                    duration_ms: 512.3,
                    flows: 8,
                    foreign_flows: 0,
                    lost: 4539,
                    loss_derived_ms: None,
                    after_up: false,
                }],
                ..Default::default()
            },
            restore: Some(Restore {
                by: "members",
                rejoined_ms: Some(2890.0),
                restore_ms: Some(2912.0),
                return_episodes: 0,
                return_lost: 0,
            }),
            overlaps: None,
            overlapped_by: None,
            latency: None,
        };
        let tracked = Some(LossTotals { received: 100_000, lost: 4539, loss_pct: 4.3426, ..Default::default() });
        SoakReport {
            schema: SCHEMA,
            settings: Settings {
                mode: "lab",
                bond: Some("lacp".into()),
                bond_hash: Some("l34"),
                flaps: 1,
                interval_ms: 6000,
                down_ms: 500,
                links: vec!["s0".into(), "s1".into()],
                link_choice: "alternate".into(),
                flap_kind: "carrier",
                seed: None,
                flows: Some(16),
                rate: Some("20000".into()),
                run_id: Some(7),
                reflect: false,
                limits: Limits::default(),
            },
            started_unix_s: 1.0,
            complete: true,
            interrupted: false,
            members: vec!["p0".into(), "p1".into()],
            link_counters: Vec::new(),
            link_counters_error: None,
            totals: totals(std::slice::from_ref(&flap), 1, tracked, (vec![48.0, 52.0], Vec::new()), 12.0),
            resolution: Resolution::of(None, None, Some(16), Some(20_000.0)),
            flaps: vec![flap],
            lag: None,
            round_trip: None,
            far_side: None,
            traffic: None,
            unexplained_outages: vec![],
            preflight: Default::default(),
            environment: Default::default(),
            integrity: Default::default(),
            verdict: Verdict {
                pass: false,
                failures: vec![crate::soak::verdict::Failure {
                    flap: Some(1),
                    check: crate::soak::verdict::OUTAGE,
                    line: "flap 1: outage 512.3 ms > --max-outage-ms 400".into(),
                }],
                soak_checks: vec![],
                notes: vec![],
            },
            files: Files::default(),
        }
    }

    fn rows(md: &str) -> Vec<&str> {
        md.lines().filter(|l| l.starts_with("| 1 |")).collect()
    }

    #[test]
    fn table_has_a_row_per_flap_with_its_figures() {
        let md = markdown(&sample());
        let rows = rows(&md);
        assert_eq!(
            rows[0],
            "| 1 | s0 | 6.250 | 500 | 8 | 512.3 | < 10 / 480.0 / 510.0 | < 10 | 4539 | 453.9 | -2 / 510 | 1 | 2912 |  |"
        );
        assert_eq!(
            rows[1],
            "| 1 | p0 50% / p1 50% (20.0 kpps) | p0 0% / p1 100% (15.0 kpps) | p0 49% / p1 51% (20.0 kpps) |"
        );
        assert!(md.contains(
            "Resolution: outages under 10 ms are not seen (the receiver's --gap-ms 10, 10 x a flow's 0.80 ms frame \
             interval; from the soak's settings); such figures show as \"< 10\"."
        ), "{md}");
        assert!(
            md.contains(
                "Over 1 judged flap(s), min / median / p99 / max ms: outage 512.3 / 512.3 / 512.3 / 512.3; \
             loss-derived 453.9 / 453.9 / 453.9 / 453.9; restore 2912 / 2912 / 2912 / 2912."
            ),
            "{md}"
        );
        assert!(!md.contains("Warning"), "{md}");
        assert!(md.contains("Soak (lab, bond lacp): 1 of 1 carrier flaps, 500 ms down every 6 s, links alternate"));
        assert!(md.contains("Tracked frames: 100000 received, 4539 lost (4.3426%)."));
        assert!(md.contains("Outage per flap: max 512.3 ms, mean 512.3 ms. Shares over the run: p0 48.0%, p1 52.0%."));
        assert!(md.contains("Verdict: FAIL\n- flap 1: outage 512.3 ms > --max-outage-ms 400"));
    }

    /// soak.json grows by a fixed record per flap: a 1,000-flap soak's is a few MB, not more.
    #[test]
    fn the_json_grows_by_a_bounded_record_per_flap() {
        let size = |n: usize| {
            let mut r = sample();
            let flap = r.flaps[0].clone();
            r.flaps = (1..=n).map(|number| FlapResult { number, ..flap.clone() }).collect();
            serde_json::to_string_pretty(&r).unwrap().len()
        };
        let per_flap = (size(1001) - size(1)) / 1000;
        assert!(per_flap < 16_000, "{per_flap} bytes a flap");
    }

    /// A person reads the distribution, the failed flaps and the verdict first; the rows after.
    #[test]
    fn the_summary_comes_before_the_per_flap_rows() {
        let mut r = sample();
        let flap = r.flaps[0].clone();
        r.flaps = (1..=1000).map(|n| FlapResult { number: n, ..flap.clone() }).collect();
        let outages: Vec<f64> = (1..=1000).map(|n| n as f64).collect();
        r.totals = Totals { failover_ms: dist(outages), flaps_done: 1000, flaps_planned: 1000, ..r.totals.clone() };
        let md = markdown(&r);
        let at = |needle: &str| md.find(needle).unwrap_or_else(|| panic!("{needle:?} missing:\n{md}"));
        assert!(at("## Summary") < at("| outage (failover) | 1000 | < 10 | 500.0 | 990.0 | 1000.0 |"), "{md}");
        assert!(at("| outage (failover) |") < at("Flaps: 1000 of 1000 done, 1 failed, 0 not judged"));
        assert!(
            at("Flaps: 1000 of 1000 done") < at("Verdict: FAIL (1 failed check(s): 1 per flap, 0 of the whole soak")
        );
        assert!(at("Verdict: FAIL (") < at("## Per flap"));
        assert!(at("## Per flap") < at("| 1 | s0 |") && at("| 1000 | s0 |") > at("## Per flap"));
        assert!(md.contains("| loss-derived | 1 | 453.9 |"), "{md}");
        // The failures are listed whole at the end, after every row.
        assert!(at("Verdict: FAIL\n- flap 1:") > at("| 1000 | s0 |"));
        r.verdict.pass = true;
        r.verdict.failures.clear();
        assert!(markdown(&r).contains("Flaps: 1000 of 1000 done, 0 failed, 0 not judged (cut short or overlapping), 0 not restored.\n\nVerdict: PASS\n\n## Per flap"));
    }

    #[test]
    fn names_cannot_break_the_table_or_become_markup() {
        let mut r = sample();
        r.flaps[0].links = vec!["a|b<script>".into()];
        r.members = vec!["p*0*".into(), "p`1`|".into()];
        let t = markdown(&r);
        let rows = rows(&t);
        assert!(rows[0].starts_with("| 1 | a\\|b\\<script\\> | 6.250 |"), "{t}");
        assert!(rows[1].contains("p\\*0\\* 50% / p\\`1\\`\\| 50%"), "{t}");
        // The rows still have their 14 and 4 cells: every | left is a separator.
        assert_eq!(rows[0].replace("\\|", "").matches('|').count(), 15, "{t}");
        assert_eq!(rows[1].replace("\\|", "").matches('|').count(), 5, "{t}");
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
    fn overlaps_short_generators_and_odd_flaps_read_as_such() {
        let mut r = sample();
        let mut second = r.flaps[0].clone();
        second.number = 2;
        second.links = vec!["s1".into()];
        second.overlaps = Some(Overlap { flap: 1, links: vec!["s0".into()], rejoined_ms: None });
        second.restore.as_mut().unwrap().restore_ms = None;
        second.restore.as_mut().unwrap().return_episodes = 2;
        second.restore.as_mut().unwrap().return_lost = 40;
        second.failover = Failover { below_resolution: true, ..Default::default() };
        second.outage_ms = 0.0;
        r.flaps[0].overlapped_by = Some(2);
        r.flaps.push(second);
        r.totals = Totals {
            generator: Some(Generator::new(7, 16, Some(20_000.0), 15_200.0)),
            ..totals(&r.flaps, 2, None, (vec![], vec![]), 12.0)
        };
        r.verdict.notes = vec!["flap 2: s1 went down while s0 was still out of the aggregation".into()];
        let md = markdown(&r);
        let row = md.lines().find(|l| l.starts_with("| 2 |")).expect(&md);
        assert_eq!(
            row,
            "| 2 | s1 | 6.250 | 500 | 8 | < 10 | - / - / - | < 10 | 4539 | - | - / - | 0 | not restored | overlaps flap 1: s0 still out, not judged; return cost 40 frames in 2 episode(s); outage under the resolution: see loss-derived |"
        );
        assert!(rows(&md)[0].ends_with("| flap 2 came before this link was back |"), "{md}");
        assert!(md.contains(
            "Warning: the generator sent 15.2 kpps of the 20.0 kpps asked (24.0% short): the offered load was not what was asked"
        ), "{md}");
        assert!(md.contains("Note: flap 2: s1 went down while s0"), "{md}");
        // A far side whose report did not come back, named with its command escaped; a
        // foreign generator's figures say what they are.
        r.far_side = Some(crate::soak::peer::FarSide {
            fetch_error: Some("`ssh peer|x cat /tmp/r` failed (exit 255)".into()),
            ..Default::default()
        });
        r.traffic = Some(Default::default());
        let md = markdown(&r);
        assert!(
            md.contains(r"Warning: the far side's report was not fetched: \`ssh peer\|x cat /tmp/r\` failed"),
            "{md}"
        );
        assert!(md.contains("Traffic: a foreign generator (--traffic-cmd)"), "{md}");
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["far_side"]["fetched"], false);
        // The overlapping flap is left out of the distributions.
        assert_eq!((r.totals.failover_ms.unwrap().n, r.totals.overlapping, r.totals.not_restored), (1, 1, 0));
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["flaps"][1]["overlaps"]["flap"], 1);
        assert_eq!(v["flaps"][1]["restore"]["restore_ms"], serde_json::Value::Null);
        assert_eq!(v["flaps"][1]["failover"]["below_resolution"], true);
        assert_eq!(v["totals"]["generator"]["short_of_rate_pct"], 24.0);
        assert_eq!(v["resolution"]["ms"], 10.0);
        // No flaps at all: no distribution line, no panic.
        r.flaps.clear();
        r.totals = totals(&[], 0, None, (vec![], vec![]), 0.0);
        assert!(!markdown(&r).contains("judged flap"));
    }

    #[test]
    fn json_carries_schema_flaps_and_verdict() {
        let v = serde_json::to_value(sample()).unwrap();
        assert_eq!(v["schema"], SCHEMA);
        assert_eq!(v["flaps"][0]["during"]["shares_pct"][1], 100.0);
        assert_eq!(v["totals"]["tracked"]["lost"], 4539);
        assert_eq!(v["verdict"]["pass"], false);
        let f = &v["flaps"][0];
        assert_eq!(f["failover"]["episodes"][0]["lost"], 4539);
        assert_eq!(f["failover"]["flow_outage_ms"]["median"], 480.0);
        assert_eq!(f["restore"]["restore_ms"], 2912.0);
        assert_eq!(v["totals"]["restore_ms"]["median"], 2912.0);
    }
}
