//! The NIC's own state across each flap, from what [`super::nic_watch`] sampled: per flap a
//! timeline of carrier down -> the bond notices -> the LAG remaps -> traffic recovers, timed
//! from the down command, and carrier up -> the LAG restores -> shares rebalance, timed from
//! the up command; "not seen" where it did not happen. On the lab's emulated VF the sampled
//! host is the LAG model's; the model's own record of its remaps adds how long it took to swap
//! the transmit hash and whether that failed.

use std::fmt::Write;
use std::time::Instant;

use serde::Serialize;

use super::analyze::{FlapRecord, FlapResult};
use super::failover::short_ms;
use super::nic_watch::{Change, Event, NicSeries, Target};
use crate::lab::lag_model::Remap;
use crate::mlx5::discover::Member;
use crate::mlx5::dmesg::LagKind;
use crate::mlx5::lagstate;

/// A step's search starts this long before its command: the command returns after the kernel
/// already acted on it (a veth's peer loses carrier before `ip link set` returns).
const LEAD_S: f64 = 0.1;

/// One remap of the lab's model: when it was in place (receiver seconds), the ports it left
/// live (1-based), how long it took from the carrier change it answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LagRemap {
    pub t_s: f64,
    pub ports: Vec<u8>,
    pub took_ms: f64,
    pub error: Option<String>,
}

/// One flap's steps, ms after its down command (the first four) or its up command (the rest);
/// null: not seen.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FlapSteps {
    pub flap: usize,
    pub links: Vec<String>,
    /// The ports (1-based, as the LAG's mapping numbers them) the flap took down.
    pub ports: Vec<u32>,
    /// Every failed port's PF lost carrier (sysfs `carrier`/`operstate`, or the log's "Link
    /// down").
    pub carrier_down_ms: Option<f64>,
    /// The bond took every failed member out (`mii_status` not up, or `state` backup, or the
    /// bonding driver's "link status definitely down" line).
    pub bond_noticed_ms: Option<f64>,
    /// The LAG stopped sending on the failed ports (debugfs `mapping`, or the log's map line).
    pub lag_remapped_ms: Option<f64>,
    /// `debugfs` or `kernel log`: whichever showed it first.
    pub lag_remapped_by: Option<&'static str>,
    /// The end of the flap's last loss episode before up (null without one: see `outage`).
    pub traffic_recovered_ms: Option<f64>,
    /// Traffic stopped: a loss episode (flows silent, frames lost) began before up. False:
    /// frames lost, if any, formed no outage the receiver could see.
    pub outage: bool,
    pub carrier_up_ms: Option<f64>,
    /// The LAG sent on every port again.
    pub lag_restored_ms: Option<f64>,
    pub lag_restored_by: Option<&'static str>,
    /// The failed links carried their share again (`restore`'s restored instant).
    pub shares_rebalanced_ms: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LagTimeline {
    /// `hardware` or `lab model`.
    pub source: &'static str,
    /// What was sampled; null when nothing was.
    pub target: Option<Target>,
    /// Why the NIC was not sampled, or part of it not (the kernel log).
    pub note: Option<String>,
    /// Changes sampled (`nic.jsonl`).
    pub events: usize,
    pub flaps: Vec<FlapSteps>,
    /// The lab model's own remaps (lab only): its reaction time and any failed hash swap.
    pub model_remaps: Vec<LagRemap>,
}

/// The model's remaps in receiver seconds; `now` and `now_unix` read together.
pub fn model_remaps(remaps: Vec<Remap>, now: Instant, now_unix: f64, started_unix_s: f64) -> Vec<LagRemap> {
    remaps
        .into_iter()
        .map(|m| LagRemap {
            t_s: now_unix - now.duration_since(m.done).as_secs_f64() - started_unix_s,
            ports: m.live.ports(),
            took_ms: m.done.duration_since(m.seen).as_secs_f64() * 1e3,
            error: m.error,
        })
        .collect()
}

/// The port (0-based) a flapped link is: the PF of that name, else the PF in the link's place.
fn port_of(target: &Target, name: &str, idx: usize) -> Option<usize> {
    target.pfs.iter().position(|(n, _)| n == name).or((idx < target.pfs.len()).then_some(idx))
}

/// The instants in [from, to) at which the events show `holds` of a port, first per port; the
/// step happened when it held for every port: the latest of those. None if one never did.
fn all_ports(
    ports: &[usize],
    from: f64,
    to: f64,
    events: &[Event],
    holds: impl Fn(usize, &Change) -> bool,
) -> Option<f64> {
    ports
        .iter()
        .map(|&p| {
            events
                .iter()
                .filter(|e| e.t_unix_s >= from && e.t_unix_s < to && holds(p, &e.change))
                .map(|e| e.t_unix_s)
                .reduce(f64::min)
        })
        .collect::<Option<Vec<f64>>>()
        .and_then(|v| v.into_iter().reduce(f64::max))
}

/// The first instant in [from, to) the LAG's mapping (debugfs, or a map line of the log)
/// met `ok`, and which showed it.
fn first_mapping(from: f64, to: f64, events: &[Event], ok: impl Fn(&[u32]) -> bool) -> Option<(f64, &'static str)> {
    events
        .iter()
        .filter(|e| e.t_unix_s >= from && e.t_unix_s < to)
        .filter_map(|e| match &e.change {
            Change::Lag(l) if l.active == Some(true) && !l.mapping.is_empty() => {
                ok(&lagstate::mapping_ports(&l.mapping)).then_some((e.t_unix_s, "debugfs"))
            }
            Change::Log(l) => l.kind.live_ports().filter(|p| ok(p)).map(|_| (e.t_unix_s, "kernel log")),
            _ => None,
        })
        .reduce(|a, b| if b.0 < a.0 { b } else { a })
}

fn carrier(target: &Target, port: usize, c: &Change, up: bool) -> bool {
    let name = &target.pfs[port].0;
    match c {
        // An admin-down link's carrier does not read: its operstate is down.
        Change::Link { netdev, carrier, operstate } if netdev == name => match carrier {
            Some(c) => *c == up,
            None => !up && operstate.as_deref() == Some("down"),
        },
        Change::Log(l) => matches!(&l.kind, LagKind::Link { netdev, up: u } if netdev == name && *u == up),
        _ => false,
    }
}

fn member_out(target: &Target, port: usize, c: &Change) -> bool {
    let name = &target.pfs[port].0;
    match c {
        Change::Member { name: n, mii_status, state, .. } if n == name => {
            !Member { name: n.clone(), mii_status: mii_status.clone(), state: state.clone() }.active()
        }
        Change::Log(l) => matches!(&l.kind, LagKind::Bond { member, up: false, .. } if member == name),
        _ => false,
    }
}

/// Each flap's steps from the sampled events. `flaps`: the soak's per-flap figures (traffic
/// recovery and the shares' rebalance), by flap number.
pub fn timeline(series: &NicSeries, records: &[FlapRecord], flaps: &[FlapResult], source: &'static str) -> LagTimeline {
    let Some(target) = &series.target else {
        return LagTimeline { source, note: series.error.clone(), ..Default::default() };
    };
    let n = target.pfs.len() as u32;
    let ev = &series.events;
    let steps = records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let ports: Vec<usize> =
                r.links.iter().zip(&r.link_idx).filter_map(|(name, &idx)| port_of(target, name, idx)).collect();
            let (down, up) = (r.down_unix_s, r.up_unix_s);
            // The up half runs to the next flap's down: a step after it is the next flap's.
            let next = records.get(i + 1).map_or(f64::INFINITY, |x| x.down_unix_s);
            let ms = |t: Option<f64>, from: f64| t.map(|t| (t - from) * 1e3);
            let failed: Vec<u32> = ports.iter().map(|&p| p as u32 + 1).collect();
            let remapped = first_mapping(down - LEAD_S, up, ev, |live| {
                !live.is_empty() && failed.iter().all(|f| !live.contains(f))
            });
            let restored = first_mapping(up - LEAD_S, next, ev, |live| live.len() as u32 >= n);
            let result = flaps.iter().find(|f| f.number == r.number);
            let before_up: Vec<_> =
                result.map(|f| f.failover.episodes.iter().filter(|e| !e.after_up).collect()).unwrap_or_default();
            FlapSteps {
                flap: r.number,
                links: r.links.clone(),
                carrier_down_ms: ms(
                    all_ports(&ports, down - LEAD_S, up, ev, |p, c| carrier(target, p, c, false)),
                    down,
                ),
                bond_noticed_ms: ms(all_ports(&ports, down - LEAD_S, up, ev, |p, c| member_out(target, p, c)), down),
                lag_remapped_ms: ms(remapped.map(|r| r.0), down),
                lag_remapped_by: remapped.map(|r| r.1),
                traffic_recovered_ms: before_up.iter().map(|e| e.start_ms + e.duration_ms).reduce(f64::max),
                outage: !before_up.is_empty(),
                carrier_up_ms: ms(all_ports(&ports, up - LEAD_S, next, ev, |p, c| carrier(target, p, c, true)), up),
                lag_restored_ms: ms(restored.map(|r| r.0), up),
                lag_restored_by: restored.map(|r| r.1),
                shares_rebalanced_ms: result.and_then(|f| f.restore.as_ref()).and_then(|r| r.restore_ms),
                ports: failed,
            }
        })
        .collect();
    LagTimeline {
        source,
        target: Some(target.clone()),
        note: series.error.clone(),
        events: ev.len(),
        flaps: steps,
        model_remaps: Vec::new(),
    }
}

/// A flap's steps seen, as JUnit properties (`nic.lag_remapped_ms`, ...).
pub fn properties(t: Option<&LagTimeline>, flap: usize) -> Vec<junit::Property> {
    let Some(f) = t.and_then(|t| t.flaps.iter().find(|f| f.flap == flap)) else { return Vec::new() };
    [
        ("carrier_down_ms", f.carrier_down_ms),
        ("bond_noticed_ms", f.bond_noticed_ms),
        ("lag_remapped_ms", f.lag_remapped_ms),
        ("traffic_recovered_ms", f.traffic_recovered_ms),
        ("carrier_up_ms", f.carrier_up_ms),
        ("lag_restored_ms", f.lag_restored_ms),
        ("shares_rebalanced_ms", f.shares_rebalanced_ms),
    ]
    .into_iter()
    .filter_map(|(name, v)| v.map(|v| junit::Property::new(format!("nic.{name}"), format!("{v:.1}"))))
    .collect()
}

/// The table's lines for the NIC.
pub fn markdown(t: &LagTimeline) -> String {
    let mut s = format!("The NIC across each flap ({}):\n\n", t.source);
    let Some(target) = &t.target else {
        let note = t.note.as_deref().unwrap_or("not sampled: no NIC to read");
        let mut c = note.chars();
        let first: String = c.next().map(|f| f.to_uppercase().collect()).unwrap_or_default();
        let _ = writeln!(s, "{first}{}.\n", c.as_str());
        return s;
    };
    let ms = |v: Option<f64>| v.map_or("not seen".to_string(), |v| format!("{} ms", short_ms(v)));
    let bond = |v: Option<f64>| if target.bond.is_some() { ms(v) } else { "no bond".to_string() };
    let by = |v: Option<f64>, b: Option<&str>| match (v, b) {
        (Some(_), Some(b)) => format!("{} ({b})", ms(v)),
        _ => ms(v),
    };
    s.push_str(
        "| flap | carrier down | bond notices | LAG remaps | traffic recovers | carrier up | LAG restores | shares rebalance |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for f in &t.flaps {
        let traffic = match (f.traffic_recovered_ms, f.outage) {
            (None, false) => "no outage".to_string(),
            (v, _) => ms(v),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {traffic} | {} | {} | {} |",
            f.flap,
            ms(f.carrier_down_ms),
            bond(f.bond_noticed_ms),
            by(f.lag_remapped_ms, f.lag_remapped_by),
            ms(f.carrier_up_ms),
            by(f.lag_restored_ms, f.lag_restored_by),
            ms(f.shares_rebalanced_ms)
        );
    }
    s.push_str("\nThe first four after the down command, the last three after the up command.");
    let _ = write!(s, " Bond read from {}; kernel log from {}.", target.bond_from, target.log);
    if let Some(n) = &t.note {
        let _ = write!(s, " Note: {n}.");
    }
    let failed = t.model_remaps.iter().filter(|r| r.error.is_some()).count();
    if let Some(max) = t.model_remaps.iter().map(|r| r.took_ms).reduce(f64::max) {
        let _ = write!(s, " The model swapped the transmit hash within {} ms of each carrier change.", short_ms(max));
    }
    if failed > 0 {
        let _ = write!(s, " {failed} remap(s) failed to change the transmit hash (see soak.json).");
    }
    s + "\n\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soak::failover::{Episode, Failover};
    use crate::soak::nic_watch::{LagView, LogLine};
    use crate::soak::restore::Restore;

    fn target(bond: bool) -> Target {
        Target {
            pfs: vec![("p0".into(), "0000:01:00.0".into()), ("p1".into(), "0000:01:00.1".into())],
            bond: bond.then(|| "vf-bond".into()),
            bond_from: "sysfs",
            log: "dmesg".into(),
        }
    }

    fn rec(number: usize, link: usize, down: f64, up: f64) -> FlapRecord {
        FlapRecord {
            number,
            links: vec![format!("s{link}")],
            link_idx: vec![link],
            down_unix_s: 1000.0 + down,
            up_unix_s: 1000.0 + up,
            cut_short: false,
        }
    }

    fn ev(t: f64, change: Change) -> Event {
        Event { t_unix_s: 1000.0 + t, change }
    }

    fn link(n: &str, up: bool) -> Change {
        Change::Link { netdev: n.into(), carrier: Some(up), operstate: Some(if up { "up" } else { "down" }.into()) }
    }

    fn member(n: &str, up: bool) -> Change {
        Change::Member {
            bond: "vf-bond".into(),
            name: n.into(),
            mii_status: Some(if up { "up" } else { "down" }.into()),
            state: Some(if up { "active" } else { "backup" }.into()),
        }
    }

    fn mapping(m: &[&str]) -> Change {
        Change::Lag(LagView {
            source: lagstate::Source::Debugfs,
            active: Some(true),
            kind: Some("switchdev".into()),
            port_sel_mode: Some("hash".into()),
            mapping: m.iter().map(|s| s.to_string()).collect(),
        })
    }

    fn log(kind: LagKind) -> Change {
        Change::Log(LogLine { pci: Some("0000:01:00.0".into()), uptime_s: 0.0, message: String::new(), kind })
    }

    fn result(number: usize, episodes: &[(f64, f64, bool)], restore_ms: Option<f64>) -> FlapResult {
        let r = crate::soak::rx_report::tests::report(&[]);
        let members = ["p0".to_string(), "p1".to_string()];
        let seen = crate::soak::seen::Seen { rx: &r, members: &members, links: None };
        let mut f = crate::soak::analyze::flaps(seen, &[rec(number, 0, 1.0, 1.5)], 0.0, &[], 10.0).remove(0);
        f.failover = Failover {
            episodes: episodes
                .iter()
                .map(|&(start_ms, duration_ms, after_up)| Episode {
                    start_ms,
                    duration_ms,
                    flows: 1,
                    foreign_flows: 0,
                    lost: 3,
                    loss_derived_ms: None,
                    after_up,
                })
                .collect(),
            ..Default::default()
        };
        f.restore = Some(Restore { by: "links", restore_ms, ..Default::default() });
        f
    }

    fn r1(v: Option<f64>) -> Option<f64> {
        v.map(|v| (v * 10.0).round() / 10.0)
    }

    #[test]
    fn each_step_in_order_from_its_command() {
        let events = vec![
            ev(4.0, mapping(&["1", "2"])),
            ev(5.004, log(LagKind::Link { netdev: "p0".into(), up: false })),
            ev(5.004, log(LagKind::ActivePorts(vec![2]))),
            ev(5.05, link("p0", false)),
            ev(5.05, mapping(&["2"])),
            ev(5.10, member("p0", false)),
            ev(5.503, log(LagKind::Link { netdev: "p0".into(), up: true })),
            ev(5.55, link("p0", true)),
            ev(5.55, mapping(&["1", "2"])),
            ev(5.60, member("p0", true)),
        ];
        let series = NicSeries { target: Some(target(true)), events, error: None };
        let t = timeline(
            &series,
            &[rec(1, 0, 5.0, 5.5)],
            &[result(1, &[(-2.0, 30.0, false), (510.0, 5.0, true)], Some(150.0))],
            "hardware",
        );
        let f = &t.flaps[0];
        assert_eq!(f.ports, [1]);
        assert_eq!(
            (r1(f.carrier_down_ms), r1(f.bond_noticed_ms), r1(f.lag_remapped_ms), f.lag_remapped_by),
            (Some(4.0), Some(100.0), Some(4.0), Some("kernel log"))
        );
        assert_eq!(f.traffic_recovered_ms, Some(28.0), "the last loss before up ends at 28 ms");
        assert_eq!(
            (r1(f.carrier_up_ms), r1(f.lag_restored_ms), f.lag_restored_by, f.shares_rebalanced_ms),
            (Some(3.0), Some(50.0), Some("debugfs"), Some(150.0))
        );
        let md = markdown(&t);
        assert!(
            md.contains("| 1 | 4 ms | 100 ms | 4 ms (kernel log) | 28 ms | 3 ms | 50 ms (debugfs) | 150 ms |"),
            "{md}"
        );
        let props = properties(Some(&t), 1);
        assert_eq!(props.len(), 7);
        assert_eq!((props[2].name.as_str(), props[2].value.as_str()), ("nic.lag_remapped_ms", "4.0"));
        assert!(properties(Some(&t), 2).is_empty() && properties(None, 1).is_empty());
        let json = serde_json::to_value(&t).unwrap();
        assert_eq!(json["flaps"][0]["lag_remapped_by"], "kernel log");
        assert_eq!(json["target"]["pfs"][1][0], "p1");
    }

    #[test]
    fn what_did_not_happen_is_not_seen_and_no_bond_is_said() {
        // The mapping still uses the failed port: no remap; nothing came back up.
        let events = vec![ev(5.05, link("p0", false)), ev(5.05, mapping(&["1", "2"]))];
        let series = NicSeries { target: Some(target(false)), events, error: None };
        let t = timeline(&series, &[rec(1, 0, 5.0, 5.5)], &[result(1, &[], None)], "hardware");
        let f = &t.flaps[0];
        assert_eq!(
            (f.lag_remapped_ms, f.bond_noticed_ms, f.carrier_up_ms, f.lag_restored_ms),
            (None, None, None, None)
        );
        assert_eq!((f.traffic_recovered_ms, f.outage), (None, false));
        let md = markdown(&t);
        assert!(md.contains("| 1 | 50 ms | no bond | not seen | no outage | not seen | not seen | not seen |"), "{md}");
        // Nothing sampled at all: said, with why.
        let series = NicSeries { error: Some("not sampled: no card".into()), ..Default::default() };
        let none = timeline(&series, &[], &[], "hardware");
        assert!(markdown(&none).contains("Not sampled: no card."), "{}", markdown(&none));
    }

    #[test]
    fn overlapping_flaps_each_take_their_own_steps() {
        // Flap 2 (port 2) goes down before flap 1's port came back in the LAG: flap 1's restore
        // is not seen before flap 2's down; flap 2's remap must leave out port 2 (a map with
        // only port 1), not take flap 1's map without port 1.
        let events = vec![
            ev(5.01, log(LagKind::ActivePorts(vec![2]))),
            ev(5.01, link("p0", false)),
            ev(5.51, link("p0", true)),
            ev(5.61, link("p1", false)),
            ev(5.62, log(LagKind::ActivePorts(vec![1]))),
            ev(6.12, link("p1", true)),
            ev(6.13, log(LagKind::ActivePorts(vec![1, 2]))),
        ];
        let series = NicSeries { target: Some(target(true)), events, error: None };
        let recs = [rec(1, 0, 5.0, 5.5), rec(2, 1, 5.6, 6.1)];
        let t = timeline(&series, &recs, &[], "lab model");
        let (a, b) = (&t.flaps[0], &t.flaps[1]);
        assert_eq!((r1(a.lag_remapped_ms), r1(a.carrier_up_ms), a.lag_restored_ms), (Some(10.0), Some(10.0), None));
        assert_eq!((r1(b.lag_remapped_ms), r1(b.lag_restored_ms)), (Some(20.0), Some(30.0)));
        assert_eq!(b.ports, [2]);
        // Both ports of one flap: mlx5 keeps the native mapping, so there is no remap.
        let both = FlapRecord { links: vec!["s0".into(), "s1".into()], link_idx: vec![0, 1], ..rec(1, 0, 5.0, 5.5) };
        let events = vec![ev(5.01, link("p0", false)), ev(5.02, link("p1", false)), ev(5.03, mapping(&["1", "2"]))];
        let t = timeline(&NicSeries { target: Some(target(true)), events, error: None }, &[both], &[], "hardware");
        assert_eq!((r1(t.flaps[0].carrier_down_ms), t.flaps[0].lag_remapped_ms), (Some(20.0), None));
    }

    #[test]
    fn a_flapped_link_is_the_pf_of_its_name_else_of_its_place() {
        let t = target(true);
        assert_eq!(port_of(&t, "p1", 0), Some(1));
        assert_eq!(port_of(&t, "sw-port-7", 0), Some(0));
        assert_eq!(port_of(&t, "x", 5), None);
    }
}
