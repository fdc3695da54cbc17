//! `--junit FILE`: the soak's verdict as JUnit XML, for CI servers. One testcase per planned
//! flap (failed with its verdict lines; skipped when an interrupt cut it short or came before
//! it), one per whole-soak check that was judged (loss, outages with no flap, shares measured),
//! and one saying whether the soak ran to its end (an error when interrupted). A flap's figures
//! are its testcase's properties, and a line of them its system-out.

use junit::{Outcome, Property, Testcase, Testsuite, Testsuites};

use super::analyze::{FlapResult, Window};
use super::report::SoakReport;
use super::verdict;
use vflag_contract::value::LossLimit;

pub const CLASS: &str = "vflag.soak";

pub fn junit(r: &SoakReport) -> Testsuites {
    let mut cases: Vec<Testcase> = r.flaps.iter().map(|f| flap_case(r, f)).collect();
    for n in r.flaps.len() + 1..=r.totals.flaps_planned {
        cases.push(Testcase {
            outcome: Outcome::Skipped { message: "not run: the soak was interrupted before it".into() },
            ..Testcase::new(CLASS, format!("flap {n}"))
        });
    }
    for &check in &r.verdict.soak_checks {
        let mut c = Testcase::new(CLASS, check);
        c.properties = soak_properties(r, check);
        let lines: Vec<String> = r
            .verdict
            .failures
            .iter()
            .filter(|f| f.flap.is_none() && f.check == check)
            .map(|f| f.line.clone())
            .collect();
        if !lines.is_empty() {
            c.fail(check, &lines);
        }
        cases.push(c);
    }
    let mut complete = Testcase::new(CLASS, "soak ran to its end");
    complete.time_s = r.totals.duration_s;
    if r.interrupted {
        let message = format!(
            "interrupted after {} of {} flaps; the figures cover what ran",
            r.flaps.len(),
            r.totals.flaps_planned
        );
        complete.outcome = Outcome::Error { kind: "interrupted".into(), message, text: String::new() };
    }
    cases.push(complete);
    let mode = match &r.settings.bond {
        Some(b) => format!("{} {b}", r.settings.mode),
        None => r.settings.mode.to_string(),
    };
    Testsuites {
        name: "vflag-ctl soak".into(),
        suites: vec![Testsuite {
            name: format!("{CLASS} ({mode})"),
            timestamp_unix_s: Some(r.started_unix_s),
            time_s: r.totals.duration_s,
            properties: suite_properties(r),
            cases,
        }],
    }
}

fn flap_case(r: &SoakReport, f: &FlapResult) -> Testcase {
    let mut c = Testcase::new(CLASS, format!("flap {} ({})", f.number, f.links.join("+")));
    let end = if f.after.to_s > f.down_s { f.after.to_s } else { f.up_s };
    c.time_s = end - f.down_s;
    c.properties = vec![
        Property::new("links", f.links.join("+")),
        Property::new("down_s", format!("{:.3}", f.down_s)),
        Property::new("up_s", format!("{:.3}", f.up_s)),
        Property::new("down_ms", format!("{:.1}", f.down_ms)),
        Property::new("outage_ms", format!("{:.1}", f.outage_ms)),
        Property::new("total_outage_ms", format!("{:.1}", f.total_outage_ms)),
        Property::new("flows_hit", f.flows_hit),
        Property::new("lost", f.lost),
        Property::new("recovered", f.recovered),
        Property::new("cut_short", f.cut_short),
    ];
    let links: Vec<&str> = r.link_counters.iter().map(|l| l.name.as_str()).collect();
    for (when, w) in [("before", &f.before), ("during", &f.during), ("after", &f.after)] {
        c.properties.push(Property::new(format!("{when}.rate_pps"), format!("{:.0}", w.rate_pps)));
        for (m, s) in r.members.iter().zip(&w.shares_pct) {
            c.properties.push(Property::new(format!("{when}.share_pct.{m}"), format!("{s:.1}")));
        }
        if let Some(l) = &w.links {
            for (name, s) in links.iter().zip(&l.shares_pct) {
                c.properties.push(Property::new(format!("{when}.link_share_pct.{name}"), format!("{s:.1}")));
            }
        }
    }
    c.properties.extend(super::latency::properties(f.latency.as_ref()));
    c.properties.extend(super::lag::properties(r.lag.as_ref(), f.number));
    c.system_out = Some(figures_line(r, f, &links));
    if f.cut_short {
        c.outcome = Outcome::Skipped { message: "cut short by an interrupt, not judged".into() };
        return c;
    }
    let failed: Vec<&verdict::Failure> = r.verdict.failures.iter().filter(|x| x.flap == Some(f.number)).collect();
    if !failed.is_empty() {
        let lines: Vec<String> = failed.iter().map(|x| x.line.clone()).collect();
        let mut kinds: Vec<&str> = failed.iter().map(|x| x.check).collect();
        kinds.dedup();
        c.fail(&kinds.join(","), &lines);
    }
    c
}

/// "outage 512.3 ms (all traffic 0.0 ms), 8 flows hit, 4539 lost, down 500 ms, recovered;
/// before p0 50.0% / p1 50.0% (20.0 kpps); during ...; after ...".
fn figures_line(r: &SoakReport, f: &FlapResult, links: &[&str]) -> String {
    let window = |w: &Window| {
        let mut parts: Vec<String> = r.members.iter().zip(&w.shares_pct).map(|(m, s)| format!("{m} {s:.1}%")).collect();
        if let Some(l) = &w.links {
            parts.extend(links.iter().zip(&l.shares_pct).map(|(n, s)| format!("link {n} {s:.1}%")));
        }
        let shares = if parts.is_empty() { String::new() } else { format!("{} ", parts.join(" / ")) };
        format!("{shares}({:.1} kpps)", w.rate_pps / 1e3)
    };
    format!(
        "outage {:.1} ms (all traffic {:.1} ms), {} flows hit, {} lost, down {:.0} ms, {}; before {}; during {}; after {}",
        f.outage_ms,
        f.total_outage_ms,
        f.flows_hit,
        f.lost,
        f.down_ms,
        if f.recovered { "recovered" } else { "NOT recovered" },
        window(&f.before),
        window(&f.during),
        window(&f.after)
    )
}

fn soak_properties(r: &SoakReport, check: &str) -> Vec<Property> {
    let limits = &r.settings.limits;
    let mut p = Vec::new();
    if check == verdict::LOSS {
        if let Some(l) = limits.max_loss {
            p.push(Property::new(
                "limit",
                match l {
                    LossLimit::Frames(n) => n.to_string(),
                    LossLimit::Percent(x) => format!("{x}%"),
                },
            ));
        }
        if let Some(t) = &r.totals.tracked {
            p.push(Property::new("received", t.received));
            p.push(Property::new("lost", t.lost));
            p.push(Property::new("loss_pct", format!("{:.4}", t.loss_pct)));
            p.push(Property::new("other_run", t.other_run));
            p.push(Property::new("untracked_flow", t.untracked_flow));
        }
    } else if check == verdict::UNEXPLAINED {
        if let Some(m) = limits.max_outage_ms {
            p.push(Property::new("limit_ms", m));
        }
        p.push(Property::new("outages", r.unexplained_outages.len()));
        let longest = r.unexplained_outages.iter().map(|u| u.duration_ms).fold(0.0, f64::max);
        p.push(Property::new("longest_ms", format!("{longest:.1}")));
    } else if check == verdict::SHARES_MEASURED {
        if let Some(m) = limits.min_member_share {
            p.push(Property::new("limit_pct", m));
        }
        p.push(Property::new("members", r.members.join(",")));
        let links: Vec<&str> = r.link_counters.iter().map(|l| l.name.as_str()).collect();
        p.push(Property::new("link_counters", links.join(",")));
    }
    p
}

fn suite_properties(r: &SoakReport) -> Vec<Property> {
    let s = &r.settings;
    let t = &r.totals;
    let mut p = vec![
        Property::new("mode", s.mode),
        Property::new("flaps_planned", t.flaps_planned),
        Property::new("flaps_done", t.flaps_done),
        Property::new("interval_ms", s.interval_ms),
        Property::new("down_ms", s.down_ms),
        Property::new("links", s.links.join(",")),
        Property::new("link_choice", &s.link_choice),
        Property::new("max_outage_ms", format!("{:.1}", t.max_outage_ms)),
        Property::new("mean_outage_ms", format!("{:.1}", t.mean_outage_ms)),
        Property::new("duration_s", format!("{:.1}", t.duration_s)),
        Property::new("interrupted", r.interrupted),
        Property::new("pass", r.verdict.pass),
    ];
    let optional = [
        ("bond", s.bond.clone()),
        ("seed", s.seed.map(|x| x.to_string())),
        ("flows", s.flows.map(|x| x.to_string())),
        ("rate", s.rate.clone()),
        ("run_id", s.run_id.map(|x| x.to_string())),
        ("tracked_received", t.tracked.map(|x| x.received.to_string())),
        ("tracked_lost", t.tracked.map(|x| x.lost.to_string())),
        ("report", Some(r.files.report.clone())),
    ];
    p.extend(optional.into_iter().filter_map(|(k, v)| v.map(|v| Property::new(k, v))));
    p.extend(super::latency::suite_properties(&t.latency));
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soak::report::tests::sample;
    use crate::soak::verdict::Failure;

    fn parse(xml: &str) -> roxmltree::Document<'_> {
        roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("{e}\n{xml}"))
    }

    fn cases<'a>(d: &'a roxmltree::Document<'a>) -> Vec<roxmltree::Node<'a, 'a>> {
        d.descendants().filter(|n| n.has_tag_name("testcase")).collect()
    }

    fn child<'a>(n: roxmltree::Node<'a, 'a>, tag: &str) -> Option<roxmltree::Node<'a, 'a>> {
        n.children().find(|c| c.has_tag_name(tag))
    }

    #[test]
    fn a_failed_flap_carries_its_lines_and_figures_and_the_whole_soak_checks_follow() {
        let mut r = sample();
        r.verdict.soak_checks = vec![verdict::LOSS];
        r.verdict.failures.push(Failure {
            flap: None,
            check: verdict::LOSS,
            line: "lost 4539 tracked frames > --max-loss 100".into(),
        });
        r.settings.limits.max_loss = Some(LossLimit::Frames(100));
        let xml = junit(&r).to_xml();
        let d = parse(&xml);
        let c = cases(&d);
        let names: Vec<&str> = c.iter().filter_map(|n| n.attribute("name")).collect();
        assert_eq!(names, ["flap 1 (s0)", verdict::LOSS, "soak ran to its end"]);
        assert!(c.iter().all(|n| n.attribute("classname") == Some(CLASS)));
        let f = child(c[0], "failure").expect("flap 1 failed");
        assert_eq!(f.attribute("message"), Some("flap 1: outage 512.3 ms > --max-outage-ms 400"));
        assert_eq!(f.attribute("type"), Some(verdict::OUTAGE));
        let props: Vec<(&str, &str)> = c[0]
            .descendants()
            .filter(|n| n.has_tag_name("property"))
            .map(|n| (n.attribute("name").unwrap(), n.attribute("value").unwrap()))
            .collect();
        for want in [("outage_ms", "512.3"), ("lost", "4539"), ("recovered", "true"), ("during.share_pct.p1", "100.0")]
        {
            assert!(props.contains(&want), "{want:?} in {props:?}");
        }
        let out = child(c[0], "system-out").unwrap().text().unwrap();
        assert!(out.starts_with("outage 512.3 ms (all traffic 0.0 ms), 8 flows hit, 4539 lost"), "{out}");
        let loss = child(c[1], "failure").unwrap();
        assert_eq!(loss.attribute("message"), Some("lost 4539 tracked frames > --max-loss 100"));
        assert!(child(c[2], "error").is_none() && child(c[2], "failure").is_none());
        let suite = d.descendants().find(|n| n.has_tag_name("testsuite")).unwrap();
        assert_eq!((suite.attribute("tests"), suite.attribute("failures")), (Some("3"), Some("2")));
        assert_eq!(suite.attribute("timestamp"), Some("1970-01-01T00:00:01"));
    }

    #[test]
    fn an_interrupted_soak_skips_what_it_did_not_judge_and_is_an_error() {
        let mut r = sample();
        r.flaps[0].cut_short = true;
        r.verdict.failures.clear();
        r.verdict.pass = true;
        r.totals.flaps_planned = 3;
        r.interrupted = true;
        let xml = junit(&r).to_xml();
        let d = parse(&xml);
        let c = cases(&d);
        let names: Vec<&str> = c.iter().filter_map(|n| n.attribute("name")).collect();
        assert_eq!(names, ["flap 1 (s0)", "flap 2", "flap 3", "soak ran to its end"]);
        for n in &c[..3] {
            assert!(child(*n, "skipped").is_some(), "{xml}");
        }
        assert_eq!(
            child(c[3], "error").unwrap().attribute("message"),
            Some("interrupted after 1 of 3 flaps; the figures cover what ran")
        );
    }
}
