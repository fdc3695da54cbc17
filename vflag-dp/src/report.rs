//! The final report: built from port counters and stream counters at the end of a run, printed
//! as testpmd-style blocks and written as JSON (`--json`, schema [`SCHEMA`]).

use std::fmt::Write as _;

use crate::cli::Config;
use crate::counters::StreamSnapshot;
use crate::topology::Stream;
use outfile::OutFile;
pub use vflag_contract::report::{
    GeneratorReport, LinkEventReport, PortReport, StopReason, StreamReport, Totals, RATE_SHORTFALL_PCT, SCHEMA,
};

/// The report as vflag-dp writes it: its settings are its own `Config`.
pub type Report = vflag_contract::report::Report<Config>;

/// Per-stream results with their lcore, in lcore order.
pub fn stream_reports(streams: &[(u32, Stream, StreamSnapshot)]) -> Vec<StreamReport> {
    streams
        .iter()
        .map(|(lcore, s, snap)| StreamReport {
            lcore: *lcore,
            stream: *s,
            rx_packets: snap.rx_packets,
            tx_packets: snap.tx_packets,
            tx_dropped: snap.tx_dropped,
            not_reflected: snap.not_reflected,
        })
        .collect()
}

/// Fills each port's TX-dropped from the streams that send on it, its average rates, and the totals.
pub fn finish(ports: &mut [PortReport], streams: &[StreamReport], duration_s: f64) -> Totals {
    let per_s = |n: u64| {
        if duration_s > 0.0 {
            n as f64 / duration_s
        } else {
            0.0
        }
    };
    let mut t = Totals::default();
    for p in ports.iter_mut() {
        p.tx_dropped = streams.iter().filter(|s| s.stream.tx_port == p.id).map(|s| s.tx_dropped).sum();
        p.rx_pps_avg = per_s(p.rx_packets);
        p.tx_pps_avg = per_s(p.tx_packets);
        t.rx_packets += p.rx_packets;
        t.rx_missed += p.rx_missed;
        t.rx_nombuf += p.rx_nombuf;
        t.rx_errors += p.rx_errors;
        t.tx_packets += p.tx_packets;
        t.tx_dropped += p.tx_dropped;
        t.tx_errors += p.tx_errors;
    }
    t.not_reflected = streams.iter().map(|s| s.not_reflected).sum();
    t.rx_pps_avg = per_s(t.rx_packets);
    t.tx_pps_avg = per_s(t.tx_packets);
    t
}

/// The end-of-run text, laid out as testpmd's forward statistics.
pub fn render(r: &Report) -> String {
    let mut s = String::new();
    for p in &r.ports {
        let _ =
            writeln!(s, "\n  ---------------------- Forward statistics for port {:<2} ----------------------", p.id);
        let _ = writeln!(s, "  ({} {}, {}, link {})", p.driver, p.name, p.mac, if p.link_up { "up" } else { "down" });
        let _ =
            writeln!(s, "  RX-packets: {:<14} RX-missed: {:<14} RX-bytes:  {}", p.rx_packets, p.rx_missed, p.rx_bytes);
        let _ = writeln!(s, "  RX-errors:  {:<14} RX-nombuf: {}", p.rx_errors, p.rx_nombuf);
        let _ = writeln!(
            s,
            "  TX-packets: {:<14} TX-dropped: {:<13} TX-bytes:  {}",
            p.tx_packets, p.tx_dropped, p.tx_bytes
        );
        let _ = writeln!(s, "  TX-errors:  {}", p.tx_errors);
        let _ = writeln!(s, "  Average: RX {:.3} Mpps, TX {:.3} Mpps", p.rx_pps_avg / 1e6, p.tx_pps_avg / 1e6);
    }
    let _ = writeln!(s, "\n  Per lcore/stream:");
    for st in &r.streams {
        let _ = writeln!(
            s,
            "  lcore {:<3} port {}/queue {} -> port {}/queue {}: RX-packets: {:<14} TX-packets: {:<14} TX-dropped: {}",
            st.lcore,
            st.stream.rx_port,
            st.stream.rx_queue,
            st.stream.tx_port,
            st.stream.tx_queue,
            st.rx_packets,
            st.tx_packets,
            st.tx_dropped
        );
    }
    let t = &r.totals;
    let _ = writeln!(s, "\n  +++++++++++++++ Accumulated forward statistics for all ports +++++++++++++++");
    let _ = writeln!(s, "  RX-packets: {:<14} RX-missed: {:<14} RX-nombuf: {}", t.rx_packets, t.rx_missed, t.rx_nombuf);
    let _ =
        writeln!(s, "  TX-packets: {:<14} TX-dropped: {:<13} TX-errors: {}", t.tx_packets, t.tx_dropped, t.tx_errors);
    if t.not_reflected > 0 {
        let _ = writeln!(s, "  Not reflected (not IPv4, freed): {}", t.not_reflected);
    }
    let _ = writeln!(
        s,
        "  Duration: {:.3} s ({}), RX {:.3} Mpps, TX {:.3} Mpps",
        r.duration_s,
        serde_json::to_value(r.stop_reason).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
        t.rx_pps_avg / 1e6,
        t.tx_pps_avg / 1e6
    );
    let _ = writeln!(s, "  ++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++");
    render_analysis(&mut s, r);
    s
}

/// Tracked traffic, outages, load balance and the verdict, when there is something to say.
fn render_analysis(s: &mut String, r: &Report) {
    if let Some(g) = &r.generator {
        let asked = g.rate_pps.map_or("as fast as it can".to_string(), |p| format!("{:.3} Mpps asked", p / 1e6));
        let _ = writeln!(
            s,
            "\n  Generator: run {}, {} flows, {asked}, {:.3} Mpps sent{}",
            g.run_id,
            g.flows,
            g.achieved_pps / 1e6,
            g.short_of_rate_pct.map(|p| format!(" ({p:.1}% short of the asked rate)")).unwrap_or_default()
        );
    }
    if let Some(a) = &r.analysis {
        let t = &a.tracked;
        let _ = writeln!(
            s,
            "\n  Tracked{}: {} received, {} lost ({:.4}%), {} reordered, {} duplicates in {} flows",
            a.run_id.map(|r| format!(" (run {r})")).unwrap_or_default(),
            t.received,
            t.lost,
            t.loss_pct,
            t.reordered,
            t.duplicates,
            a.flows.len()
        );
        let f = &a.frames;
        if f.other_run + f.untracked_flow + t.stale + t.resyncs > 0 {
            let _ = writeln!(
                s,
                "  Not tracked: {} of another run, {} of flows beyond --track-flows; {} stale (could not be placed), {} resyncs",
                f.other_run, f.untracked_flow, t.stale, t.resyncs
            );
        }
        let _ = writeln!(
            s,
            "  Other frames: {} foreign IPv4 in {} flows, {} non-IP, {} malformed, {} short, {} VLAN-tagged",
            f.foreign, a.foreign_flows.count, f.non_ip, f.malformed, f.short, f.vlan
        );
        if a.foreign_flows.overflow > 0 {
            let _ = writeln!(
                s,
                "  Foreign flows beyond --track-foreign {}: {} frames counted, their outages not seen",
                a.foreign_flows.capacity, a.foreign_flows.overflow
            );
        }
        if !a.flow_outages.is_empty() {
            let _ = writeln!(
                s,
                "  Flow outages ({}): times when some flows went silent (resolution {:.1} ms):",
                a.flow_outages.len(),
                a.resolution.ms
            );
            for (i, o) in a.flow_outages.iter().enumerate() {
                let foreign =
                    if o.foreign_flows > 0 { format!(" ({} foreign)", o.foreign_flows) } else { String::new() };
                let derived = o.loss_derived_ms.map(|d| format!(", loss-derived {d:.1} ms")).unwrap_or_default();
                let _ = writeln!(
                    s,
                    "  {:>3}. at {:9.3} s: {} flow(s){foreign} silent, median {:.1} ms, longest {:.1} ms{derived}",
                    i + 1,
                    o.start_s,
                    o.flows,
                    o.median_ms,
                    o.longest_ms
                );
            }
        }
        if let Some(l) = &a.latency_ns {
            let _ = writeln!(
                s,
                "  Latency (ns): min {} p50 {} p90 {} p99 {} p99.9 {} max {}",
                l.min, l.p50, l.p90, l.p99, l.p999, l.max
            );
        }
    }
    if let Some(il) = &r.interleave {
        let _ = writeln!(
            s,
            "\n  Interleaved ({} slices of {} ms): plain {:.3} Mpps, analysing {:.3} Mpps, ratio {}",
            il.slices,
            il.slice_ms,
            il.plain.mpps,
            il.analysing.mpps,
            il.ratio.map_or("-".into(), |r| format!("{r:.3}"))
        );
        let _ = writeln!(s, "  (tracking saw the analysing slices only: the plain slices' frames count as lost)");
    }
    if !r.outages.is_empty() {
        let _ = writeln!(s, "\n  Outages ({}):", r.outages.len());
        for (i, o) in r.outages.iter().enumerate() {
            let lost = o.lost.map_or("-".to_string(), |l| l.to_string());
            let derived = o.loss_derived_ms.map_or("-".to_string(), |d| format!("{d:.1}"));
            let open = if o.open { " (still silent at the end: at least this long; not judged)" } else { "" };
            let _ = writeln!(
                s,
                "  {:>3}. at {:9.3} s: {:9.1} ms without frames, lost {lost}, loss-derived {derived} ms, {} link event(s){open}",
                i + 1,
                o.start_s,
                o.duration_ms,
                o.link_events.len()
            );
        }
    }
    let lb = &r.load_balance;
    if !lb.members.is_empty() {
        let _ = writeln!(s, "\n  Bond members:");
        for m in &lb.members {
            let _ = writeln!(
                s,
                "  {:<16} port {:<3} RX {:<14} ({:5.1}%)  TX {:<14} ({:5.1}%)",
                m.name, m.port, m.rx_packets, m.rx_share_pct, m.tx_packets, m.tx_share_pct
            );
        }
        let j = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.3}"));
        let _ = writeln!(s, "  Jain fairness: rx {} tx {}", j(lb.member_fairness_rx), j(lb.member_fairness_tx));
    }
    if !r.verdict.checked.is_empty() {
        let _ = writeln!(s, "\n  Verdict: {}", if r.verdict.pass { "PASS" } else { "FAIL" });
        for f in &r.verdict.failures {
            let _ = writeln!(s, "  FAIL: {f}");
        }
    }
}

/// Writes the report into the file reserved at the start; it replaces the target whole.
/// Serialized straight into the file: a long run's text (its timeline) is never held whole.
pub fn write_json(r: &Report, out: OutFile) -> Result<(), String> {
    out.commit_with(|w| {
        serde_json::to_writer_pretty(&mut *w, r).map_err(std::io::Error::other)?;
        w.write_all(b"\n")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn stream(rx_port: u16, tx_port: u16) -> Stream {
        Stream { rx_port, rx_queue: 0, tx_port, tx_queue: 0 }
    }

    fn sample_report() -> Report {
        let streams = stream_reports(&[
            (1, stream(0, 1), StreamSnapshot { rx_packets: 100, tx_packets: 90, tx_dropped: 10, not_reflected: 0 }),
            (1, stream(1, 0), StreamSnapshot { rx_packets: 50, tx_packets: 50, tx_dropped: 0, not_reflected: 4 }),
        ]);
        let mut ports = vec![
            PortReport { id: 0, rx_packets: 100, tx_packets: 50, ..Default::default() },
            PortReport { id: 1, rx_packets: 50, tx_packets: 90, rx_missed: 3, ..Default::default() },
        ];
        let totals = finish(&mut ports, &streams, 2.0);
        let cli = crate::cli::Cli::parse_from(["vflag-dp", "--lcores", "0-1", "--vdev", "net_null0"]);
        Report {
            schema: SCHEMA.into(),
            vflag_version: "test".into(),
            dpdk_version: "DPDK test".into(),
            settings: Config::from_cli(cli, None).unwrap(),
            started_unix_s: 0.0,
            duration_s: 2.0,
            stop_reason: StopReason::Duration,
            ports,
            streams,
            link_events: vec![LinkEventReport { t_s: 1.5, port: 1, up: false, speed_mbps: 0 }],
            totals,
            generator: None,
            analysis: None,
            interleave: None,
            outages: vec![],
            load_balance: crate::results::load_balance(&[], &[], &[], &[], &crate::timeline::Timeline::new(0.01), &[]),
            timeline: vec![],
            verdict: Default::default(),
        }
    }

    #[test]
    fn tx_dropped_goes_to_the_sending_port_and_totals_add_up() {
        let r = sample_report();
        assert_eq!(r.ports[1].tx_dropped, 10, "stream 0->1 dropped 10 on port 1");
        assert_eq!(r.ports[0].tx_dropped, 0);
        assert_eq!(r.totals.rx_packets, 150);
        assert_eq!(r.totals.tx_packets, 140);
        assert_eq!(r.totals.tx_dropped, 10);
        assert_eq!(r.totals.rx_missed, 3);
        assert_eq!(r.totals.not_reflected, 4, "summed over the streams");
        assert!(render(&r).contains("Not reflected (not IPv4, freed): 4"));
        assert_eq!(r.totals.rx_pps_avg, 75.0);
        assert_eq!(r.ports[0].rx_pps_avg, 50.0);
    }

    #[test]
    fn json_has_schema_settings_and_flat_streams() {
        let v = serde_json::to_value(sample_report()).unwrap();
        assert_eq!(v["schema"], SCHEMA);
        assert_eq!(v["settings"]["fwd"], "rxonly");
        assert_eq!(v["settings"]["main_lcore"], 0);
        assert_eq!(v["stop_reason"], "duration");
        assert_eq!(v["streams"][0]["rx_port"], 0);
        assert_eq!(v["streams"][0]["tx_port"], 1);
        assert_eq!(v["streams"][0]["tx_dropped"], 10);
        assert_eq!(v["link_events"][0]["up"], false);
    }

    #[test]
    fn rendered_text_has_testpmd_labels() {
        let text = render(&sample_report());
        for label in ["Forward statistics for port 0", "RX-packets: 100", "TX-dropped: 10", "RX-missed: 3"] {
            assert!(text.contains(label), "missing {label:?} in\n{text}");
        }
        assert!(text.contains("Accumulated forward statistics for all ports"));
        assert!(text.contains("Duration: 2.000 s (duration)"));
    }

    #[test]
    fn a_generator_short_of_its_rate_says_so() {
        let g = GeneratorReport::new(7, 16, Some(2e6), 1.43e6);
        assert_eq!(g.short_of_rate_pct.map(|p| (p * 10.0).round() / 10.0), Some(28.5));
        assert_eq!(g.shortfall_line().unwrap(), "the generator sent 1.430 Mpps of the 2.000 Mpps asked (28.5% short)");
        let mut r = sample_report();
        r.generator = Some(g);
        assert!(render(&r)
            .contains("Generator: run 7, 16 flows, 2.000 Mpps asked, 1.430 Mpps sent (28.5% short of the asked rate)"));
        // Within 5%, or no rate asked: nothing to say.
        assert_eq!(GeneratorReport::new(7, 16, Some(2e6), 1.91e6).short_of_rate_pct, None);
        assert_eq!(GeneratorReport::new(7, 16, None, 1.0e6).shortfall_line(), None);
    }

    #[test]
    fn json_is_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        write_json(&sample_report(), OutFile::reserve("--json", &path).unwrap()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v["totals"]["rx_packets"], 150);
        assert!(!dir.path().join("r.json.tmp").exists());
    }
}
