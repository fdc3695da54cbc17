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
];

/// Every known failure mentioned in `text`, once each, in the table's order.
pub fn explain(text: &str) -> Vec<Known> {
    KNOWN.iter().filter(|k| text.contains(k.text)).copied().collect()
}

/// The explanations as lines for a message.
pub fn explain_lines(text: &str) -> Vec<String> {
    explain(text).iter().map(|k| format!("kernel: \"{}\": {}; fix: {}", k.text, k.meaning, k.fix)).collect()
}

/// One mlx5 LAG line of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LagLine {
    /// The PCI address the driver printed (`mlx5_core 0000:01:00.0: ...`).
    pub pci: Option<String>,
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
    Failure(&'static str),
}

/// The LAG lines of a kernel log (`dmesg`, with or without `-T`), oldest first.
pub fn lag_lines(log: &str) -> Vec<LagLine> {
    log.lines()
        .filter_map(|line| {
            let (pci, message) = split_mlx5(line);
            let kind = classify(message)?;
            Some(LagLine { pci, message: message.to_string(), kind })
        })
        .collect()
}

/// (`0000:01:00.0`, the message) of `[...] mlx5_core 0000:01:00.0: message`; other lines whole.
fn split_mlx5(line: &str) -> (Option<String>, &str) {
    if let Some(i) = line.find("mlx5_core ") {
        let rest = &line[i + "mlx5_core ".len()..];
        if let Some((pci, msg)) = rest.split_once(": ") {
            if !pci.contains(' ') {
                return (Some(pci.to_string()), msg.trim());
            }
        }
    }
    // Lines without the driver prefix (a netlink message in stderr, a -T timestamp only).
    let msg = match line.trim_start().strip_prefix('[') {
        Some(rest) => rest.split_once("] ").map_or(line, |(_, m)| m),
        None => line,
    };
    (None, msg.trim())
}

fn classify(msg: &str) -> Option<LagKind> {
    if let Some(ports) = msg.strip_prefix("lag map active ports:") {
        return Some(LagKind::ActivePorts(ports.split(',').filter_map(|p| p.trim().parse().ok()).collect()));
    }
    if let Some(map) = msg.strip_prefix("lag map:") {
        let pairs = map
            .split_whitespace()
            .filter(|w| *w != "port")
            .filter_map(|w| {
                let (a, b) = w.split_once(':')?;
                Some((a.parse().ok()?, b.parse().ok()?))
            })
            .collect();
        return Some(LagKind::Affinity(pairs));
    }
    if let Some(rest) = msg.strip_prefix("shared_fdb:") {
        let (fdb, mode) = rest.split_once(" mode:")?;
        return Some(LagKind::Mode { shared_fdb: fdb.trim() == "1", mode: mode.trim().to_string() });
    }
    if msg.starts_with("Operation mode is single FDB") {
        return Some(LagKind::SingleFdb);
    }
    KNOWN.iter().find(|k| msg.contains(k.text)).map(|k| LagKind::Failure(k.text))
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
                    if !v.failures_after.contains(t) {
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
        let lines = lag_lines(&crate::mlx5::fake::text("dmesg-seed.log"));
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
