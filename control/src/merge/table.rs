//! merged.md, which is also what the merge prints: the hosts with their environment, every
//! row (host, environment columns, cell, outcome, headline figures), and, when the same cell
//! ran on more than one host, a pivot cell x host of outcome and worst failover, where a host
//! that regressed stands out in its column.

use std::fmt::Write;

use super::rows::{Host, Outcome, Row};
use crate::headline::Headline;
use crate::soak::markdown::md;

pub fn markdown(hosts: &[Host], rows: &[Row]) -> String {
    let mut s = String::from("# vflag-ctl report merge\n\n");
    let _ = writeln!(s, "{}\n", summary(hosts, rows));
    s += "## Hosts\n\n| host | hostname | NIC | firmware | kernel | DPDK | rows | passed |\n|---|---|---|---|---|---|---|---|\n";
    for h in hosts {
        let mine: Vec<&Row> = rows.iter().filter(|r| r.host == h.name).collect();
        let e = &h.env;
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            md(&h.name),
            opt(&e.hostname),
            opt(&e.nic),
            opt(&e.firmware),
            opt(&e.kernel),
            opt(&e.dpdk),
            mine.len(),
            mine.iter().filter(|r| r.outcome == Outcome::Pass).count()
        );
    }
    s += "\n## Runs\n\n| host | NIC | firmware | kernel | DPDK | cell | outcome | worst failover ms | worst restore ms | lost (loss %) | shares % |\n\
          |---|---|---|---|---|---|---|---|---|---|---|\n";
    for r in rows {
        let h = r.headline.as_ref();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            md(&r.host),
            opt(&r.env.nic),
            opt(&r.env.firmware),
            opt(&r.env.kernel),
            opt(&r.env.dpdk),
            md(&r.key()),
            outcome_word(r.outcome),
            h.map_or("-".into(), Headline::failover_text),
            h.map_or("-".into(), restore),
            h.map_or("-".into(), loss),
            h.map_or("-".into(), shares)
        );
    }
    if let Some(p) = pivot(hosts, rows) {
        s += "\n## Cell x host (outcome, worst failover ms)\n\n";
        s += &p;
    }
    let failed: Vec<&Row> = rows.iter().filter(|r| r.outcome != Outcome::Pass).collect();
    if !failed.is_empty() {
        s += "\n## Not passed\n\n";
        for r in failed {
            for p in &r.problems {
                let _ = writeln!(s, "- {} {}: {}", md(&r.host), md(&r.key()), md(p));
            }
        }
    }
    s
}

/// "PASS: 3 rows over 2 hosts, 3 passed." or "FAIL: …, 1 failed, 1 not run."
pub fn summary(hosts: &[Host], rows: &[Row]) -> String {
    let count = |o: Outcome| rows.iter().filter(|r| r.outcome == o).count();
    let n = |n: usize, what: &str| if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") };
    let mut s = format!(
        "{}: {} over {}, {} passed",
        if count(Outcome::Pass) == rows.len() { "PASS" } else { "FAIL" },
        n(rows.len(), "row"),
        n(hosts.len(), "host"),
        count(Outcome::Pass)
    );
    for (o, word) in [(Outcome::Fail, "failed"), (Outcome::Error, "errors"), (Outcome::NotRun, "not run")] {
        if count(o) > 0 {
            let _ = write!(s, ", {} {word}", count(o));
        }
    }
    s + "."
}

pub fn outcome_word(o: Outcome) -> &'static str {
    // Capitals for what did not pass: they are what a reader looks for.
    match o {
        Outcome::Pass => "pass",
        Outcome::Fail => "FAIL",
        Outcome::Error => "ERROR",
        Outcome::NotRun => "NOT RUN",
    }
}

fn opt(v: &Option<String>) -> String {
    v.as_deref().map_or("?".into(), md)
}

fn ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1}"))
}

fn restore(h: &Headline) -> String {
    match h.not_restored {
        0 => ms(h.worst_restore_ms),
        n => format!("{} ({n} not restored)", ms(h.worst_restore_ms)),
    }
}

fn loss(h: &Headline) -> String {
    match (h.lost, h.loss_pct) {
        (Some(l), Some(p)) => format!("{l} ({p:.3}%)"),
        (Some(l), None) => l.to_string(),
        _ => "-".into(),
    }
}

fn shares(h: &Headline) -> String {
    if h.shares_pct.is_empty() {
        return "-".into();
    }
    h.shares_pct.iter().map(|s| format!("{s:.1}")).collect::<Vec<_>>().join(" / ")
}

/// The pivot, when there are two hosts or more and at least one cell ran on two of them. A
/// cell that ran twice on one host (two soaks with the same settings) is told apart by its run
/// directory on every host (fetched reports keep the same paths from host to host).
fn pivot(hosts: &[Host], rows: &[Row]) -> Option<String> {
    if hosts.len() < 2 {
        return None;
    }
    let key = |r: &Row| {
        let twice = hosts.iter().any(|h| rows.iter().filter(|o| o.host == h.name && o.key() == r.key()).count() > 1);
        if twice {
            format!("{} ({})", r.key(), r.run)
        } else {
            r.key()
        }
    };
    let mut keys: Vec<String> = Vec::new();
    for r in rows {
        let k = key(r);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let on_hosts = |k: &String| hosts.iter().filter(|h| rows.iter().any(|r| r.host == h.name && key(r) == *k)).count();
    if !keys.iter().any(|k| on_hosts(k) > 1) {
        return None;
    }
    let mut s = String::from("| cell |");
    for h in hosts {
        match &h.env.firmware {
            Some(fw) => {
                let _ = write!(s, " {} (fw {}) |", md(&h.name), md(fw));
            }
            None => {
                let _ = write!(s, " {} |", md(&h.name));
            }
        }
    }
    s += "\n|---|";
    s += &"---|".repeat(hosts.len());
    s += "\n";
    for k in &keys {
        let _ = write!(s, "| {} |", md(k));
        for h in hosts {
            let text = match rows.iter().find(|r| r.host == h.name && key(r) == *k) {
                None => "".into(),
                Some(r) => match r.headline.as_ref().filter(|h| h.worst_failover_ms.is_some()) {
                    Some(h) => format!("{} {}", outcome_word(r.outcome), h.failover_text()),
                    None => outcome_word(r.outcome).into(),
                },
            };
            let _ = write!(s, " {text} |");
        }
        s += "\n";
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::super::rows::Kind;
    use super::*;
    use crate::headline::HostEnv;

    fn env(fw: &str) -> HostEnv {
        HostEnv { firmware: Some(fw.into()), nic: Some("ConnectX-6 Dx".into()), ..Default::default() }
    }

    fn host(name: &str, fw: &str) -> Host {
        Host { name: name.into(), dir: format!("reports/{name}"), env: env(fw) }
    }

    fn row(host: &str, fw: &str, cell: &str, outcome: Outcome, failover: Option<f64>) -> Row {
        Row {
            host: host.into(),
            run: "sweep".into(),
            kind: Kind::SweepCell,
            cell: cell.into(),
            settings: String::new(),
            params: Default::default(),
            outcome,
            env: env(fw),
            headline: failover.map(|f| Headline {
                pass: outcome == Outcome::Pass,
                worst_failover_ms: Some(f),
                lost: Some(7),
                loss_pct: Some(0.0123),
                shares_pct: vec![49.5, 50.5],
                not_restored: usize::from(outcome != Outcome::Pass),
                worst_restore_ms: Some(250.0),
                ..Default::default()
            }),
            problems: if outcome == Outcome::Pass { vec![] } else { vec!["flap 1: outage 95 ms > 50 ms".into()] },
        }
    }

    #[test]
    fn the_table_has_a_row_each_with_its_environment_and_figures() {
        let hosts = [host("h1", "22.36.1010")];
        let rows = [row("h1", "22.36.1010", "c|1", Outcome::Fail, Some(95.04))];
        let t = markdown(&hosts, &rows);
        assert!(t.contains("| h1 | ConnectX-6 Dx | 22.36.1010 | ? | ? | c\\|1 | FAIL | 95.0 | 250.0 (1 not restored) | 7 (0.012%) | 49.5 / 50.5 |"), "{t}");
        assert!(t.contains("- h1 c\\|1: flap 1: outage 95 ms \\> 50 ms"), "{t}");
        assert!(t.starts_with("# vflag-ctl report merge\n\nFAIL: 1 row over 1 host, 0 passed, 1 failed.\n"), "{t}");
        assert!(!t.contains("Cell x host"), "one host: no pivot\n{t}");
    }

    #[test]
    fn the_pivot_shows_which_host_regressed_in_which_cell() {
        let hosts = [host("h1", "22.36.1010"), host("h2", "22.39.1002")];
        let rows = [
            row("h1", "22.36.1010", "carrier", Outcome::Pass, Some(9.0)),
            row("h1", "22.36.1010", "admin", Outcome::Pass, Some(10.0)),
            row("h2", "22.39.1002", "carrier", Outcome::Pass, Some(9.5)),
            row("h2", "22.39.1002", "admin", Outcome::Fail, Some(95.0)),
            row("h2", "22.39.1002", "lacp", Outcome::NotRun, None),
        ];
        let t = markdown(&hosts, &rows);
        let p = &t[t.find("## Cell x host").unwrap()..];
        assert!(p.contains("| cell | h1 (fw 22.36.1010) | h2 (fw 22.39.1002) |\n|---|---|---|\n"), "{p}");
        assert!(
            p.contains("| carrier | pass 9.0 | pass 9.5 |\n| admin | pass 10.0 | FAIL 95.0 |\n| lacp |  | NOT RUN |\n"),
            "{p}"
        );
        assert_eq!(summary(&hosts, &rows), "FAIL: 5 rows over 2 hosts, 3 passed, 1 failed, 1 not run.");
    }

    #[test]
    fn no_pivot_when_no_cell_ran_on_two_hosts_and_twice_on_one_host_is_told_apart() {
        let hosts = [host("h1", "a"), host("h2", "b")];
        let rows = [row("h1", "a", "x", Outcome::Pass, Some(1.0)), row("h2", "b", "y", Outcome::Pass, Some(1.0))];
        assert!(!markdown(&hosts, &rows).contains("Cell x host"));

        let mut twice = row("h1", "a", "x", Outcome::Pass, Some(2.0));
        twice.run = "again".into();
        let rows = [rows[0].clone(), twice, row("h2", "b", "x", Outcome::Pass, Some(3.0))];
        let t = markdown(&hosts, &rows);
        assert!(t.contains("| x (sweep) | pass 1.0 | pass 3.0 |\n| x (again) | pass 2.0 |  |\n"), "{t}");
    }
}
