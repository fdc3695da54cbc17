//! The soak's picture: receive rate per bond member over time (the total when the receiver sees
//! no members, as on a VF, with each link's rate from its own counters when they were sampled),
//! each flap a shaded band from link down to link up. Plain SVG, so it opens in any browser and
//! embeds in Markdown.

use std::fmt::Write;

use super::analyze::FlapResult;
use super::failover::short_ms;
use super::lag::{FlapSteps, LagTimeline};
use super::link_counters::LinkSeries;
use super::rx_report::RxReport;

const W: f64 = 900.0;
const H: f64 = 360.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 36.0;
const BOTTOM: f64 = 44.0;
const COLORS: [&str; 4] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd"];

/// Rate series: (label, points of (t_s, frames/s)).
type Series = (String, Vec<(f64, f64)>);

/// The least room between two flap labels, px ("999 s0" in 12 px type).
const LABEL_GAP: f64 = 48.0;

/// Re-bins the receiver's timeline into about 400 points per series.
fn series(rx: &RxReport, members: &[String]) -> Vec<Series> {
    let Some(last) = rx.timeline.last() else { return Vec::new() };
    let span = last.t_s + last.width_s;
    // Whole receiver bins per point (no aliasing), at least 50 ms, about 400 points.
    let bin = last.width_s.max(1e-3);
    let step = ((span / 400.0).max(0.05) / bin).ceil() * bin;
    let n_members = rx.timeline.iter().map(|b| b.member_rx.len()).max().unwrap_or(0);
    let labels: Vec<String> = if n_members == 0 {
        vec!["received".into()]
    } else {
        (0..n_members).map(|i| members.get(i).cloned().unwrap_or_else(|| format!("member {i}"))).collect()
    };
    let buckets = (span / step).ceil() as usize;
    let mut sums = vec![vec![0u64; buckets.max(1)]; labels.len()];
    for b in &rx.timeline {
        let k = ((b.t_s / step) as usize).min(buckets.saturating_sub(1));
        if n_members == 0 {
            sums[0][k] += b.rx.iter().sum::<u64>();
        } else {
            for (s, v) in sums.iter_mut().zip(&b.member_rx) {
                s[k] += v;
            }
        }
    }
    labels
        .into_iter()
        .zip(sums)
        .map(|(l, s)| (l, s.iter().enumerate().map(|(k, &v)| ((k as f64 + 0.5) * step, v as f64 / step)).collect()))
        .collect()
}

/// A round axis maximum at or above `v`: 1, 2 or 5 times a power of ten.
fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * p).find(|&c| c >= v).unwrap_or(10.0 * p)
}

fn rate_label(pps: f64) -> String {
    if pps >= 1e6 {
        format!("{:.1} Mpps", pps / 1e6)
    } else if pps >= 1e3 {
        format!("{:.0} kpps", pps / 1e3)
    } else {
        format!("{pps:.0} pps")
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Each link's rate from its counters, in receiver seconds.
fn link_series(rx: &RxReport, links: &LinkSeries) -> Vec<Series> {
    let rates = links.rates();
    links
        .names
        .iter()
        .zip(rates)
        .map(|(n, r)| {
            let points = r.into_iter().map(|(t, v)| (t - rx.started_unix_s, v));
            (format!("{n} (link)"), points.filter(|(t, _)| (0.0..=rx.duration_s).contains(t)).collect())
        })
        .collect()
}

/// `links`: the links' counters, drawn when the receiver sees no members.
/// The NIC's steps drawn per flap: name, color, and whether it counts from the up command.
const STEPS: [(&str, &str, bool); 6] = [
    ("carrier down", "#8c564b", false),
    ("bond notices", "#e377c2", false),
    ("LAG remaps", "#d62728", false),
    ("carrier up", "#8c564b", true),
    ("LAG restores", "#2ca02c", true),
    ("shares rebalance", "#17becf", true),
];

fn step_values(f: &FlapSteps) -> [Option<f64>; 6] {
    [
        f.carrier_down_ms,
        f.bond_noticed_ms,
        f.lag_remapped_ms,
        f.carrier_up_ms,
        f.lag_restored_ms,
        f.shares_rebalanced_ms,
    ]
}

/// `links`: the links' counters, drawn when the receiver sees no members; `lag`: the NIC's
/// steps per flap, a tick each at the top of the plot.
pub fn svg(
    rx: &RxReport,
    members: &[String],
    flaps: &[FlapResult],
    links: Option<&LinkSeries>,
    lag: Option<&LagTimeline>,
    title: &str,
) -> String {
    let mut data = series(rx, members);
    let no_members = rx.timeline.iter().all(|b| b.member_rx.is_empty());
    if let Some(l) = links.filter(|_| no_members) {
        data.extend(link_series(rx, l));
    }
    let t_max = rx.timeline.last().map_or(1.0, |b| b.t_s + b.width_s).max(1.0);
    let y_max = nice_max(data.iter().flat_map(|(_, p)| p.iter().map(|q| q.1)).fold(0.0, f64::max) * 1.05);
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let x = |t: f64| LEFT + t / t_max * pw;
    let y = |v: f64| TOP + ph - v / y_max * ph;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(s, r#"<text x="{LEFT}" y="20" font-size="14">{}</text>"#, esc(title));
    // A label per flap while they fit; with hundreds (a long soak) one every LABEL_GAP pixels,
    // the rest named in their band's title, so the labels stay text and not a smear.
    let mut labelled_at = f64::NEG_INFINITY;
    for f in flaps {
        let (x0, x1) = (x(f.down_s.max(0.0)), x(f.up_s.min(t_max)));
        let loss = f.failover.loss_derived_ms.map_or(String::new(), |v| format!(", loss-derived {v:.1} ms"));
        let restore = match f.restore.as_ref().map(|r| r.restore_ms) {
            Some(Some(ms)) => format!(", restored {ms:.0} ms after up"),
            Some(None) => ", not restored".into(),
            None => String::new(),
        };
        let overlap = f.overlaps.as_ref().map_or(String::new(), |o| format!(", overlaps flap {}", o.flap));
        // An overlapping flap is drawn darker: both links were out.
        let opacity = if f.overlaps.is_some() { 0.3 } else { 0.15 };
        let _ = writeln!(
            s,
            r##"<rect class="flap" x="{x0:.1}" y="{TOP}" width="{:.1}" height="{ph}" fill="#d62728" fill-opacity="{opacity}"><title>flap {}: {} down {:.0} ms, outage {:.1} ms{loss}{restore}{overlap}</title></rect>"##,
            (x1 - x0).max(1.0),
            f.number,
            esc(&f.links.join("+")),
            f.down_ms,
            f.outage_ms
        );
        // Where the link carried its share again.
        if let Some(ms) = f.restore.as_ref().and_then(|r| r.restore_ms) {
            let xr = x((f.up_s + ms / 1e3).min(t_max));
            let _ = writeln!(
                s,
                r##"<line class="restore" x1="{xr:.1}" x2="{xr:.1}" y1="{TOP}" y2="{:.1}" stroke="#2ca02c" stroke-dasharray="4 3"><title>flap {}: restored {ms:.0} ms after up</title></line>"##,
                TOP + ph,
                f.number
            );
        }
        if x0 - labelled_at >= LABEL_GAP {
            labelled_at = x0;
            let _ = writeln!(
                s,
                r##"<text class="flap-label" x="{x0:.1}" y="{:.1}" fill="#d62728">{} {}</text>"##,
                TOP - 4.0,
                f.number,
                esc(&f.links.join("+"))
            );
        }
    }
    // The NIC's steps: a tick per step at the top of the plot, its name and time as a title.
    for st in lag.map(|l| l.flaps.as_slice()).unwrap_or_default() {
        let Some(f) = flaps.iter().find(|f| f.number == st.flap) else { continue };
        for ((name, color, from_up), v) in STEPS.iter().zip(step_values(st)) {
            let Some(ms) = v else { continue };
            let t = if *from_up { f.up_s } else { f.down_s } + ms / 1e3;
            let xs = x(t.clamp(0.0, t_max));
            let after = if *from_up { "up" } else { "down" };
            let _ = writeln!(
                s,
                r##"<line class="nic-step" data-step="{name}" x1="{xs:.1}" x2="{xs:.1}" y1="{TOP}" y2="{:.1}" stroke="{color}" stroke-width="2"><title>flap {}: {name} {} ms after {after}</title></line>"##,
                TOP + 10.0,
                f.number,
                short_ms(ms)
            );
        }
    }
    // Their key goes under the series' legend: beside the title it would run into it.
    if lag.is_some_and(|l| !l.flaps.is_empty()) {
        let (lx, top) = (W - RIGHT - 150.0, TOP + 16.0 + (data.len() as f64 + 0.5) * 16.0);
        let _ = writeln!(s, r##"<text x="{lx}" y="{:.1}" font-size="10">NIC: ticks at the top</text>"##, top + 4.0);
        for (i, (name, color, _)) in STEPS.iter().enumerate() {
            let ly = top + (i as f64 + 1.0) * 13.0;
            let _ = writeln!(
                s,
                r##"<line x1="{lx}" x2="{lx}" y1="{:.1}" y2="{:.1}" stroke="{color}" stroke-width="2"/><text x="{:.1}" y="{:.1}" font-size="10" fill="{color}">{name}</text>"##,
                ly - 5.0,
                ly + 5.0,
                lx + 8.0,
                ly + 4.0
            );
        }
    }
    // Axes, grid and tick labels: steps of 1, 2 or 5 times a power of ten.
    let lead = (y_max / 10f64.powf(y_max.log10().floor())).round();
    let steps = if lead == 2.0 { 4 } else { 5 };
    for i in 0..=steps {
        let v = y_max * i as f64 / steps as f64;
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            W - RIGHT,
            y(v),
            y(v),
            LEFT - 6.0,
            y(v) + 4.0,
            rate_label(v)
        );
    }
    let t_step = nice_max(t_max / 8.0);
    let mut t = 0.0;
    while t <= t_max + 1e-9 {
        let _ = writeln!(
            s,
            r##"<line x1="{0:.1}" x2="{0:.1}" y1="{1:.1}" y2="{2:.1}" stroke="#888"/><text x="{0:.1}" y="{3:.1}" text-anchor="middle">{4}</text>"##,
            x(t),
            TOP + ph,
            TOP + ph + 5.0,
            TOP + ph + 18.0,
            t
        );
        t += t_step;
    }
    let _ = writeln!(
        s,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">seconds since the receiver started</text>"##,
        LEFT + pw / 2.0,
        H - 6.0
    );
    let _ = writeln!(s, r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>"##);
    for (i, (label, points)) in data.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let pts: Vec<String> = points.iter().map(|&(t, v)| format!("{:.1},{:.1}", x(t), y(v))).collect();
        let _ = writeln!(
            s,
            r#"<polyline class="series" fill="none" stroke="{color}" stroke-width="1.5" points="{}"><title>{}</title></polyline>"#,
            pts.join(" "),
            esc(label)
        );
        let lx = W - RIGHT - 150.0;
        let ly = TOP + 16.0 + i as f64 * 16.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx}" x2="{:.1}" y1="{ly}" y2="{ly}" stroke="{color}" stroke-width="3"/><text x="{:.1}" y="{:.1}">{} rx</text>"#,
            lx + 18.0,
            lx + 24.0,
            ly + 4.0,
            esc(label)
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soak::analyze::{flaps, FlapRecord};
    use crate::soak::rx_report::tests::report;
    use crate::soak::seen::Seen;

    #[test]
    fn well_formed_with_one_band_per_flap_and_a_line_per_member() {
        let bins: Vec<(u64, u64)> = (0..100).map(|i| if (40..46).contains(&i) { (0, 100) } else { (50, 50) }).collect();
        let rx = report(&bins);
        let members = vec!["p0".to_string(), "p<1>".to_string()];
        let recs: Vec<FlapRecord> = [(4.0, 4.5), (7.0, 7.5)]
            .iter()
            .enumerate()
            .map(|(i, &(d, u))| FlapRecord {
                number: i + 1,
                links: vec![format!("s{i}")],
                link_idx: vec![i],
                down_unix_s: 1000.0 + d,
                up_unix_s: 1000.0 + u,
                cut_short: false,
            })
            .collect();
        let fl = flaps(Seen { rx: &rx, members: &members, links: None }, &recs, 0.0, &[], 10.0);
        let text = svg(&rx, &members, &fl, None, None, "lacp soak & more");
        let doc = roxmltree::Document::parse(&text).expect("well-formed SVG");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        let class = |c: &str| root.descendants().filter(|n| n.attribute("class") == Some(c)).collect::<Vec<_>>();
        let bands = class("flap");
        assert_eq!(bands.len(), 2);
        // A restore marker per flap: flap 1's where both links carry 50% again, at 4.6 s.
        let marks = class("restore");
        assert_eq!(marks.len(), 2, "{text}");
        let xr: f64 = marks[0].attribute("x1").unwrap().parse().unwrap();
        assert!((xr - (LEFT + 0.46 * (W - LEFT - RIGHT))).abs() < 0.2, "{xr}");
        assert!(bands[0].children().any(|c| c.text().is_some_and(|t| t.contains("restored"))), "{text}");
        // The first band spans 4.0-4.5 s of a 10 s plot.
        let x0: f64 = bands[0].attribute("x").unwrap().parse().unwrap();
        let w: f64 = bands[0].attribute("width").unwrap().parse().unwrap();
        assert!((x0 - (LEFT + 0.4 * (W - LEFT - RIGHT))).abs() < 0.2, "{x0}");
        assert!((w - 0.05 * (W - LEFT - RIGHT)).abs() < 0.2, "{w}");
        assert_eq!(class("flap-label").len(), 2, "both flaps labelled: there is room");
        let lines = class("series");
        assert_eq!(lines.len(), 2);
        assert!(text.contains("p&lt;1&gt; rx"), "labels are escaped");
        // Member 0's line drops to the bottom of the plot during the flap.
        let bottom = format!("{:.1}", TOP + (H - TOP - BOTTOM));
        assert!(lines[0].attribute("points").unwrap().split(' ').any(|p| p.ends_with(&format!(",{bottom}"))));
    }

    /// A 1,000-flap soak: a band per flap (each titled), but labels only where they fit.
    #[test]
    fn a_thousand_flaps_keep_their_bands_and_labels_that_fit() {
        let rx = report(&vec![(50, 50); 8000]);
        let members = vec!["p0".to_string(), "p1".to_string()];
        let recs: Vec<FlapRecord> = (0..1000)
            .map(|i| FlapRecord {
                number: i + 1,
                links: vec![format!("s{}", i % 2)],
                link_idx: vec![i % 2],
                down_unix_s: 1000.0 + 0.5 + i as f64 * 0.79,
                up_unix_s: 1000.0 + 0.55 + i as f64 * 0.79,
                cut_short: false,
            })
            .collect();
        let fl = flaps(Seen { rx: &rx, members: &members, links: None }, &recs, 0.0, &[], 10.0);
        let text = svg(&rx, &members, &fl, None, None, "long");
        let doc = roxmltree::Document::parse(&text).expect("well-formed SVG");
        let class = |c: &str| doc.descendants().filter(|n| n.attribute("class") == Some(c)).count();
        assert_eq!(class("flap"), 1000);
        let labels = class("flap-label");
        assert!((2..=((W - LEFT - RIGHT) / LABEL_GAP) as usize + 1).contains(&labels), "{labels}");
        assert!(text.len() < 1000 * 600, "bounded per flap: {} bytes", text.len());
    }

    #[test]
    fn the_nics_steps_are_ticks_where_they_happened() {
        let rx = report(&[(50, 50); 100]);
        let members = vec!["p0".to_string(), "p1".to_string()];
        let rec = FlapRecord {
            number: 1,
            links: vec!["s0".into()],
            link_idx: vec![0],
            down_unix_s: 1004.0,
            up_unix_s: 1004.5,
            cut_short: false,
        };
        let fl = flaps(Seen { rx: &rx, members: &members, links: None }, &[rec], 0.0, &[], 10.0);
        let steps =
            FlapSteps { flap: 1, lag_remapped_ms: Some(100.0), lag_restored_ms: Some(50.0), ..Default::default() };
        let lag = LagTimeline { flaps: vec![steps], ..Default::default() };
        let text = svg(&rx, &members, &fl, None, Some(&lag), "t");
        let doc = roxmltree::Document::parse(&text).expect("well-formed SVG");
        let ticks: Vec<_> = doc.descendants().filter(|n| n.attribute("class") == Some("nic-step")).collect();
        assert_eq!(ticks.len(), 2, "{text}");
        let xat = |i: usize| ticks[i].attribute("x1").unwrap().parse::<f64>().unwrap();
        // 4.1 s (remap) and 4.55 s (restore) of a 10 s plot.
        assert!((xat(0) - (LEFT + 0.41 * (W - LEFT - RIGHT))).abs() < 0.2, "{}", xat(0));
        assert!((xat(1) - (LEFT + 0.455 * (W - LEFT - RIGHT))).abs() < 0.2, "{}", xat(1));
        assert!(text.contains("flap 1: LAG remaps 100 ms after down"), "{text}");
        assert!(text.contains("NIC: "), "a key");
    }

    #[test]
    fn no_members_plots_the_total_and_empty_is_still_valid() {
        let mut rx = report(&[(5, 5), (5, 5)]);
        for b in &mut rx.timeline {
            b.member_rx.clear();
        }
        let text = svg(&rx, &[], &[], None, None, "vf");
        assert!(text.contains("<title>received</title>"));
        roxmltree::Document::parse(&text).unwrap();
        // The PFs' counters add a line per link (receiver time: unix 1000 is 0 s).
        let links = LinkSeries {
            names: vec!["enp1s0f0np0".into(), "enp1s0f1np1".into()],
            samples: vec![(1000.0, vec![0, 0]), (1000.1, vec![10, 5]), (1000.2, vec![20, 10])],
            ..Default::default()
        };
        let text = svg(&rx, &[], &[], Some(&links), None, "vf");
        let doc = roxmltree::Document::parse(&text).unwrap();
        let lines: Vec<_> = doc.descendants().filter(|n| n.attribute("class") == Some("series")).collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(text.contains("<title>enp1s0f1np1 (link)</title>"), "{text}");
        assert_eq!(lines[1].attribute("points").unwrap().split(' ').count(), 2, "a point per sample interval");
        let empty = report(&[]);
        roxmltree::Document::parse(&svg(&empty, &[], &[], Some(&links), None, "nothing")).unwrap();
        assert_eq!((nice_max(0.0), nice_max(3.2), nice_max(20_001.0)), (1.0, 5.0, 50_000.0));
    }
}
