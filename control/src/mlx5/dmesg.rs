//! The kernel log's mlx5 LAG lines: what activation looks like (`lag map active ports: 1, 2`,
//! `lag map: port 1:1 port 2:2`, `shared_fdb:1 mode:hash`, `Operation mode is single FDB`) and
//! the failures worth explaining. The same explanations serve commands' stderr, where the
//! kernel's netlink messages (`Can't activate LAG offload, ...`) also appear.

use serde::Serialize;

/// A failure the kernel reports, what it means and what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Known {
    pub text: &'static str,
    pub meaning: &'static str,
    pub fix: &'static str,
}

pub const KNOWN: &[Known] = &[
    Known {
        text: "Failed to activate VF LAG",
        meaning: "the driver could not create the hardware LAG when both PFs joined the bond",
        fix: "unbind every VF before the PFs are enslaved, keep both PFs in switchdev, then enslave again \
              (vflag-ctl down, then vflag-ctl up)",
    },
    Known {
        text: "Make sure all VFs are unbound prior to VF LAG activation or deactivation",
        meaning: "VFs were bound to a driver while the LAG formed or broke up",
        fix: "unbind all VFs (echo PCI > /sys/bus/pci/drivers/mlx5_core/unbind), then re-enslave the PFs",
    },
    Known {
        text: "Failed to deactivate VF LAG",
        meaning: "the LAG could not be torn down, usually because VFs were still bound",
        fix: "unbind all VFs before releasing the PFs; a driver restart may be needed",
    },
    Known {
        text: "Can't enable single FDB mode",
        meaning: "the shared FDB of VF-LAG needs both eswitches in switchdev mode with vport metadata matching",
        fix: "put both PFs in switchdev (devlink dev eswitch set pci/... mode switchdev) before enslaving them; \
              check the firmware supports VF-LAG",
    },
    Known {
        text: "Can't activate LAG offload, TX type isn't supported",
        meaning: "the bond mode is not one the NIC offloads (balance-rr, broadcast, balance-tlb, balance-alb)",
        fix: "use --mode 802.3ad, active-backup or balance-xor",
    },
    Known {
        text: "PF is configured with more than 64 VFs",
        meaning: "LAG is not offloaded while a PF has more than 64 VFs",
        fix: "use --num-vfs 64 or fewer",
    },
    Known {
        text: "Failed to create LAG",
        meaning: "the firmware refused CREATE_LAG (the errno in parentheses); the bond stays a software bond",
        fix: "check both PFs are in switchdev with no VF bound, and that the firmware supports VF-LAG (mlxconfig); \
              then vflag-ctl down and up",
    },
    Known {
        text: "Failed to modify LAG",
        meaning: "the firmware refused to remap the ports after a link event: the LAG stays active, but its \
                  transmit may still use the failed port",
        fix: "update the firmware; until then a flap may black-hole the failed port's share of traffic",
    },
];

/// Failures after which the LAG is still active (a refused remap, not a refused LAG).
const NOT_FATAL: &[&str] = &["Failed to modify LAG"];

/// Every known failure mentioned in `text`, once each, in the table's order.
pub fn explain(text: &str) -> Vec<Known> {
    KNOWN.iter().filter(|k| text.contains(k.text)).copied().collect()
}

/// The explanations as lines for a message.
pub fn explain_lines(text: &str) -> Vec<String> {
    explain(text).iter().map(|k| format!("kernel: \"{}\": {}; fix: {}", k.text, k.meaning, k.fix)).collect()
}

/// One mlx5 LAG line of the log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LagLine {
    /// The PCI address the driver printed (`mlx5_core 0000:01:00.0: ...`).
    pub pci: Option<String>,
    /// printk's stamp, seconds since boot (`[  123.456789]`); None under `dmesg -T`.
    pub uptime_s: Option<f64>,
    pub message: String,
    pub kind: LagKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LagKind {
    /// `lag map active ports: 1, 2` (hash mode): the ports carrying traffic.
    ActivePorts(Vec<u32>),
    /// `lag map: port 1:1 port 2:2` (queue affinity): each port's TX goes to this port.
    Affinity(Vec<(u32, u32)>),
    /// `shared_fdb:1 mode:hash`.
    Mode {
        shared_fdb: bool,
        mode: String,
    },
    /// `Operation mode is single FDB`.
    SingleFdb,
    /// en_main.c's carrier change of a PF netdev: `mlx5_core PCI NETDEV: Link down`.
    Link {
        netdev: String,
        up: bool,
    },
    /// The bonding driver's miimon (bond_main.c, `slave_info`): `BOND: (slave MEMBER): link
    /// status definitely down, disabling slave` / `... definitely up, N Mbps full duplex`.
    Bond {
        bond: String,
        member: String,
        up: bool,
    },
    Failure(&'static str),
}

impl LagKind {
    /// The ports (1-based) a mapping line sends traffic to: hash mode's active ports, or the
    /// targets of queue affinity's `port N:M` pairs. None for lines that are no mapping.
    pub fn live_ports(&self) -> Option<Vec<u32>> {
        match self {
            LagKind::ActivePorts(p) => Some(p.clone()),
            LagKind::Affinity(pairs) => {
                let mut p: Vec<u32> = pairs.iter().map(|&(_, to)| to).collect();
                p.sort_unstable();
                p.dedup();
                Some(p)
            }
            _ => None,
        }
    }
}

/// The LAG lines of a kernel log (`dmesg`, with or without `-T`), oldest first. Every format
/// of `lag/lag.c` from 5.14 on (see `tests/fixtures/mlx5/README.md`): 5.19+ `lag map active
/// ports: 1, 2` and `lag map: port 1:1 port 2:2`; 5.18's `lag map:` / `modify lag map`
/// followed by one `port N:M` (`map port N:M`) line per port; 5.14-5.17's `lag map port 1:1
/// port 2:2[ shared_fdb(1)[, mode:hash]]` and `modify lag map port 1:2 port 2:2`.
pub fn lag_lines(log: &str) -> Vec<LagLine> {
    let mut out: Vec<LagLine> = Vec::new();
    // 5.18 printed a map over several lines: the header, then a line per port.
    let mut gathering = false;
    for line in log.lines() {
        let (pci, netdev, message) = split_mlx5(line);
        if gathering {
            if let (Some(pair), Some(LagKind::Affinity(pairs))) =
                (port_line(message), out.last_mut().map(|l| &mut l.kind))
            {
                pairs.push(pair);
                continue;
            }
            gathering = false;
        }
        for kind in classify(message, netdev) {
            gathering = matches!(&kind, LagKind::Affinity(p) if p.is_empty());
            out.push(LagLine { pci: pci.clone(), uptime_s: uptime_of(line), message: message.to_string(), kind });
        }
    }
    out
}

/// printk's `[  123.456789] ` stamp.
fn uptime_of(line: &str) -> Option<f64> {
    line.trim_start().strip_prefix('[')?.split_once(']')?.0.trim().parse().ok()
}

/// (`0000:01:00.0`, the netdev if printed, the message) of `[...] mlx5_core 0000:01:00.0[
/// NETDEV]: message`; other lines whole.
fn split_mlx5(line: &str) -> (Option<String>, Option<&str>, &str) {
    if let Some(i) = line.find("mlx5_core ") {
        let rest = &line[i + "mlx5_core ".len()..];
        if let Some((dev, msg)) = rest.split_once(": ") {
            let mut words = dev.split(' ');
            if let (Some(pci), netdev, None) = (words.next(), words.next(), words.next()) {
                return (Some(pci.to_string()), netdev, msg.trim());
            }
        }
    }
    // Lines without the driver prefix (a netlink message in stderr, a -T timestamp only).
    let msg = match line.trim_start().strip_prefix('[') {
        Some(rest) => rest.split_once("] ").map_or(line, |(_, m)| m),
        None => line,
    };
    (None, None, msg.trim())
}

/// `N:M` pairs among the words (`port 1:2 port 2:2`, `mode:hash` is none).
fn pairs(text: &str) -> Vec<(u32, u32)> {
    text.split(|c: char| c.is_whitespace() || c == ',')
        .filter_map(|w| {
            let (a, b) = w.split_once(':')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .collect()
}

/// 5.18's per-port line after a map header: `port 1:2` or `map port 1:2`.
fn port_line(msg: &str) -> Option<(u32, u32)> {
    let rest = msg.strip_prefix("map ").unwrap_or(msg).strip_prefix("port ")?;
    match pairs(rest).as_slice() {
        [p] => Some(*p),
        _ => None,
    }
}

fn classify(msg: &str, netdev: Option<&str>) -> Vec<LagKind> {
    if let Some(ports) = msg.strip_prefix("lag map active ports:") {
        return vec![LagKind::ActivePorts(ports.split(',').filter_map(|p| p.trim().parse().ok()).collect())];
    }
    let map = msg.strip_prefix("modify lag map").or_else(|| msg.strip_prefix("lag map"));
    if let Some(map) = map {
        let mut kinds = vec![LagKind::Affinity(pairs(map))];
        // 5.14-5.17's activation: `... shared_fdb(1)` and from 5.16 `, mode:hash`.
        if let Some((_, fdb)) = map.split_once("shared_fdb(") {
            let mode = map.split_once("mode:").map_or("queue_affinity", |(_, m)| m.trim());
            kinds.push(LagKind::Mode { shared_fdb: fdb.starts_with('1'), mode: mode.to_string() });
        }
        return kinds;
    }
    if let Some(rest) = msg.strip_prefix("shared_fdb:") {
        return rest
            .split_once(" mode:")
            .map(|(fdb, mode)| LagKind::Mode { shared_fdb: fdb.trim() == "1", mode: mode.trim().to_string() })
            .into_iter()
            .collect();
    }
    if msg.starts_with("Operation mode is single FDB") {
        return vec![LagKind::SingleFdb];
    }
    if let (Some(n), "Link up" | "Link down") = (netdev, msg) {
        return vec![LagKind::Link { netdev: n.to_string(), up: msg == "Link up" }];
    }
    if let Some((bond, rest)) = msg.split_once(": (slave ") {
        let (member, what) = rest.split_once("): ").unwrap_or_default();
        let up = match what {
            w if w.starts_with("link status definitely down") => false,
            w if w.starts_with("link status definitely up") => true,
            _ => return Vec::new(),
        };
        return vec![LagKind::Bond { bond: bond.to_string(), member: member.to_string(), up }];
    }
    KNOWN.iter().find(|k| msg.contains(k.text)).map(|k| LagKind::Failure(k.text)).into_iter().collect()
}

/// What the log says of the LAG now: the last activation and any failure after it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LogVerdict {
    /// The last activation line (`lag map ...`), if any.
    pub last_activation: Option<String>,
    /// Failures logged after the last activation (or anywhere, with none).
    pub failures_after: Vec<&'static str>,
    pub shared_fdb: Option<bool>,
    pub mode: Option<String>,
    pub single_fdb: bool,
}

impl LogVerdict {
    pub fn of(lines: &[LagLine]) -> LogVerdict {
        let mut v = LogVerdict::default();
        for l in lines {
            match &l.kind {
                LagKind::Failure(t) => {
                    if !v.failures_after.contains(t) && !NOT_FATAL.contains(t) {
                        v.failures_after.push(t)
                    }
                }
                LagKind::ActivePorts(_) | LagKind::Affinity(_) => {
                    v.last_activation = Some(l.message.clone());
                    v.failures_after.clear();
                }
                LagKind::Mode { shared_fdb, mode } => {
                    v.shared_fdb = Some(*shared_fdb);
                    v.mode = Some(mode.clone());
                }
                LagKind::SingleFdb => v.single_fdb = true,
                LagKind::Link { .. } | LagKind::Bond { .. } => {}
            }
        }
        v
    }

    /// Active per the log: an activation with no failure after it.
    pub fn active(&self) -> Option<bool> {
        match (&self.last_activation, self.failures_after.is_empty()) {
            (_, false) => Some(false),
            (Some(_), true) => Some(true),
            (None, true) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeds_log_is_an_active_hash_lag_with_single_fdb() {
        let all = lag_lines(&crate::mlx5::testing::fake::text("dmesg-seed.log"));
        // The PFs' carrier lines (a -T log: no uptime stamps) come with the netdev.
        assert_eq!(all[0].kind, LagKind::Link { netdev: "enp1s0f0np0".into(), up: false });
        assert!(all.iter().all(|l| l.uptime_s.is_none()));
        let lines: Vec<LagLine> = all.into_iter().filter(|l| !matches!(l.kind, LagKind::Link { .. })).collect();
        assert_eq!(
            lines.iter().map(|l| &l.kind).collect::<Vec<_>>(),
            vec![
                &LagKind::ActivePorts(vec![1, 2]),
                &LagKind::Mode { shared_fdb: true, mode: "hash".into() },
                &LagKind::SingleFdb
            ]
        );
        assert_eq!(lines[0].pci.as_deref(), Some("0000:01:00.0"));
        let v = LogVerdict::of(&lines);
        assert_eq!(v.active(), Some(true));
        assert_eq!((v.shared_fdb, v.mode.as_deref(), v.single_fdb), (Some(true), Some("hash"), true));
    }

    #[test]
    fn queue_affinity_maps_and_remaps() {
        let log = "[ 100.1] mlx5_core 0000:01:00.0: lag map: port 1:1 port 2:2\n\
                   [ 130.5] mlx5_core 0000:01:00.0: lag map: port 1:2 port 2:2\n";
        let lines = lag_lines(log);
        assert_eq!(lines[1].kind, LagKind::Affinity(vec![(1, 2), (2, 2)]));
        assert_eq!(LogVerdict::of(&lines).last_activation.as_deref(), Some("lag map: port 1:2 port 2:2"));
    }

    #[test]
    fn every_kernels_map_lines_give_the_live_ports() {
        // 6.x / 5.19+: one line; the printk stamp and the netdev of en_main.c's link lines.
        let v6 = "[ 5200.118431] mlx5_core 0000:01:00.0 enp1s0f0np0: Link down\n\
                  [ 5200.118790] mlx5_core 0000:01:00.0: lag map active ports: 2\n";
        let l = lag_lines(v6);
        assert_eq!(l[0].kind, LagKind::Link { netdev: "enp1s0f0np0".into(), up: false });
        assert_eq!((l[0].pci.as_deref(), l[0].uptime_s), (Some("0000:01:00.0"), Some(5200.118431)));
        assert_eq!(l[1].kind.live_ports(), Some(vec![2]));
        // The bond's miimon, as the seed's host logged its own lines.
        let bond = "[ 5200.21] vf-bond: (slave enp1s0f0np0): link status definitely down, disabling slave\n\
                    [ 5201.20] vf-bond: (slave enp1s0f0np0): link status definitely up, 100000 Mbps full duplex\n\
                    [ 5201.21] vf-bond: (slave enp1s0f0np0): Enslaving as a backup interface with a down link\n";
        let kinds: Vec<LagKind> = lag_lines(bond).into_iter().map(|l| l.kind).collect();
        let b = |up| LagKind::Bond { bond: "vf-bond".into(), member: "enp1s0f0np0".into(), up };
        assert_eq!(kinds, [b(false), b(true)]);
        // 5.18: a header, then a line per port (each its own printk).
        let v518 = "[ 10.0] mlx5_core 0000:01:00.0: modify lag map\n\
                    [ 10.0] mlx5_core 0000:01:00.0: \tmap port 1:2\n\
                    [ 10.0] mlx5_core 0000:01:00.0: \tmap port 2:2\n\
                    [ 12.0] mlx5_core 0000:01:00.0: lag map:\n\
                    [ 12.0] mlx5_core 0000:01:00.0: \tport 1:1\n\
                    [ 12.0] mlx5_core 0000:01:00.0: \tport 2:2\n\
                    [ 12.0] mlx5_core 0000:01:00.0: shared_fdb:1 mode:hash\n";
        let l = lag_lines(v518);
        assert_eq!(
            l.iter().map(|x| x.kind.clone()).collect::<Vec<_>>(),
            [
                LagKind::Affinity(vec![(1, 2), (2, 2)]),
                LagKind::Affinity(vec![(1, 1), (2, 2)]),
                LagKind::Mode { shared_fdb: true, mode: "hash".into() }
            ]
        );
        assert_eq!(l[0].kind.live_ports(), Some(vec![2]));
        // 5.14-5.17: activation with shared_fdb (and the mode from 5.16), then a remap.
        let v515 = "[ 7.5] mlx5_core 0000:01:00.0: lag map port 1:1 port 2:2 shared_fdb(1), mode:hash\n\
                    [ 9.5] mlx5_core 0000:01:00.0: modify lag map port 1:1 port 2:1\n";
        let l = lag_lines(v515);
        assert_eq!(l[0].kind, LagKind::Affinity(vec![(1, 1), (2, 2)]));
        assert_eq!(l[1].kind, LagKind::Mode { shared_fdb: true, mode: "hash".into() });
        assert_eq!(l[2].kind.live_ports(), Some(vec![1]));
        let v514 = "[ 7.5] mlx5_core 0000:01:00.0: lag map port 1:1 port 2:2 shared_fdb(0)\n";
        assert_eq!(lag_lines(v514)[1].kind, LagKind::Mode { shared_fdb: false, mode: "queue_affinity".into() });
        assert_eq!(LogVerdict::of(&lag_lines(v515)).active(), Some(true));
    }

    #[test]
    fn errors_carry_the_function_and_pid_and_a_refused_remap_keeps_the_lag() {
        // mlx5_core_err prefixes "%s:%d:(pid %d): " (mlx5_core.h).
        let log = "[ 10.0] mlx5_core 0000:01:00.0: lag map active ports: 1, 2\n\
                   [ 20.0] mlx5_core 0000:01:00.0: mlx5_modify_lag:390:(pid 812): Failed to modify LAG (-5)\n";
        let lines = lag_lines(log);
        assert_eq!(lines[1].kind, LagKind::Failure("Failed to modify LAG"));
        assert_eq!(LogVerdict::of(&lines).active(), Some(true), "a refused remap leaves the LAG active");
        let log = "[ 10.0] mlx5_core 0000:01:00.0: mlx5_create_lag:421:(pid 9): Failed to create LAG (-22)\n";
        assert_eq!(LogVerdict::of(&lag_lines(log)).active(), Some(false));
    }

    #[test]
    fn failures_after_the_last_activation_mean_not_active() {
        let log = "[ 10.0] mlx5_core 0000:01:00.0: lag map active ports: 1, 2\n\
                   [ 50.0] mlx5_core 0000:01:00.0: Failed to activate VF LAG\n\
                   [ 50.0] mlx5_core 0000:01:00.0: Make sure all VFs are unbound prior to VF LAG activation or deactivation\n";
        let v = LogVerdict::of(&lag_lines(log));
        assert_eq!(v.active(), Some(false));
        assert_eq!(v.failures_after.len(), 2);
        assert_eq!(LogVerdict::of(&lag_lines("nothing here\n")).active(), None);
    }

    #[test]
    fn explains_each_known_failure_once() {
        for k in KNOWN {
            let got = explain(&format!("Error: mlx5_core: {}.\n{}", k.text, k.text));
            assert_eq!(got, vec![*k], "{}", k.text);
        }
        let lines = explain_lines("Warning: mlx5_core: Can't activate LAG offload, TX type isn't supported.");
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains("use --mode 802.3ad, active-backup or balance-xor"), "{}", lines[0]);
        assert!(explain("all fine").is_empty());
    }
}
