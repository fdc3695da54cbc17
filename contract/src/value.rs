//! Option values both tools take, parsed and named one way: a duration, a rate, a loss limit,
//! a percentage, a bond mode and its transmit hash. Each parser's error names the bad value in one line (clap puts
//! the option in front of it).

use std::time::Duration;

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

/// A duration: plain seconds (`10`, `1.5`), one unit (`500ms`, `1.5s`, `2m`, `1h`), or
/// humantime's compound form (`1m30s`).
pub fn duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let bad = || format!("'{s}' is not a duration (e.g. 10, 10s, 500ms, 2m)");
    let units = [("ms", 1e-3), ("s", 1.0), ("m", 60.0), ("h", 3600.0)];
    let (num, scale) = units.iter().find_map(|(u, k)| t.strip_suffix(u).map(|n| (n, *k))).unwrap_or((t, 1.0));
    let v = match num.trim().parse::<f64>() {
        Ok(v) => v,
        Err(_) => return humantime::parse_duration(t).map_err(|_| bad()),
    };
    if !v.is_finite() || v < 0.0 {
        return Err(format!("duration '{s}' must be zero or positive"));
    }
    Ok(Duration::from_secs_f64(v * scale))
}

/// A generator rate: frames per second, or a bit rate on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rate {
    Pps(f64),
    Bps(f64),
}

impl Rate {
    /// Frames per second, when the rate was given that way.
    pub fn pps(self) -> Option<f64> {
        match self {
            Rate::Pps(p) => Some(p),
            Rate::Bps(_) => None,
        }
    }
}

/// `--rate`: frames per second (`100000`, `50k`, `0.1M`, `100kpps`, `1.5Mpps`) or a bit rate
/// on the wire (`500Mbps`, `10Gbps`, `1kbps`).
pub fn rate(s: &str) -> Result<Rate, String> {
    let lower = s.trim().to_ascii_lowercase();
    // Longest suffix first: "mbps" before "bps", "kpps" before "k".
    let units: [(&str, f64, bool); 9] = [
        ("gbps", 1e9, false),
        ("mbps", 1e6, false),
        ("kbps", 1e3, false),
        ("bps", 1.0, false),
        ("mpps", 1e6, true),
        ("kpps", 1e3, true),
        ("pps", 1.0, true),
        ("m", 1e6, true),
        ("k", 1e3, true),
    ];
    let (num, scale, pps) =
        units.iter().find_map(|(u, k, p)| lower.strip_suffix(u).map(|n| (n, *k, *p))).unwrap_or((&lower, 1.0, true));
    let v: f64 =
        num.trim().parse().map_err(|_| format!("'{s}' is not a rate (e.g. 100000, 50k, 1.5Mpps, 500Mbps, 10Gbps)"))?;
    if !v.is_finite() || v <= 0.0 {
        return Err(format!("rate '{s}' must be positive"));
    }
    Ok(if pps { Rate::Pps(v * scale) } else { Rate::Bps(v * scale) })
}

/// A loss limit: a number of frames, or a percentage of those tracked.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossLimit {
    Frames(u64),
    Percent(f64),
}

impl std::fmt::Display for LossLimit {
    /// As it was given: `100` or `0.1%`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LossLimit::Frames(n) => write!(f, "{n}"),
            LossLimit::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// `--max-loss`: `100` (frames) or `0.1%`.
pub fn loss_limit(s: &str) -> Result<LossLimit, String> {
    let t = s.trim();
    let bad = || format!("'{s}' is not a loss limit (frames, e.g. 100, or a percentage, e.g. 0.1%)");
    if let Some(p) = t.strip_suffix('%') {
        let v: f64 = p.trim().parse().map_err(|_| bad())?;
        if !(0.0..=100.0).contains(&v) {
            return Err(format!("loss limit '{s}' must be between 0% and 100%"));
        }
        return Ok(LossLimit::Percent(v));
    }
    t.parse().map(LossLimit::Frames).map_err(|_| bad())
}

/// A percentage 0-100 (`30` or `30%`).
pub fn percent(s: &str) -> Result<f64, String> {
    let v: f64 = s.trim().trim_end_matches('%').parse().map_err(|_| format!("'{s}' is not a percentage"))?;
    if !(0.0..=100.0).contains(&v) {
        return Err(format!("percentage '{s}' must be between 0 and 100"));
    }
    Ok(v)
}

/// The LAG's mode: what DPDK's net_bonding runs on the lab's far side and in vflag-dp's
/// `--bond`, and what the hardware LAG is set to (a Linux bond's mode over the PFs). Every
/// command line takes vflag's names and the kernel's (`802.3ad`, `balance-xor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BondMode {
    /// One member carries the traffic; another takes over when it fails (mode 1).
    ActiveBackup,
    /// Flows hashed over the members (balance-xor, mode 2).
    #[value(alias = "balance-xor")]
    Xor,
    /// 802.3ad with LACP (mode 4).
    #[value(alias = "802.3ad")]
    Lacp,
}

impl BondMode {
    /// As the command lines spell it.
    pub fn name(self) -> &'static str {
        match self {
            BondMode::ActiveBackup => "active-backup",
            BondMode::Xor => "xor",
            BondMode::Lacp => "lacp",
        }
    }

    /// As the kernel's bonding driver names it (`ip link add ... mode X`, sysfs `bonding/mode`).
    pub fn kernel_name(self) -> &'static str {
        match self {
            BondMode::ActiveBackup => "active-backup",
            BondMode::Xor => "balance-xor",
            BondMode::Lacp => "802.3ad",
        }
    }

    /// net_bonding's mode number (the kernel's too).
    pub fn dpdk_mode(self) -> u8 {
        match self {
            BondMode::ActiveBackup => 1,
            BondMode::Xor => 2,
            BondMode::Lacp => 4,
        }
    }

    /// Modes that spread flows over every member.
    pub fn spreads(self) -> bool {
        !matches!(self, BondMode::ActiveBackup)
    }
}

/// A bond's transmit hash: which header fields pick the member a frame leaves on. vflag-dp's
/// `--bond-hash` and the soak's take vflag's names (`l34`) and the kernel's (`layer3+4`, as
/// `vflag-ctl up --xmit-hash-policy` sets it on the host's bond).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BondHash {
    /// The MAC addresses.
    #[value(alias = "layer2")]
    L2,
    /// The MAC and IP addresses.
    #[value(alias = "layer2+3")]
    L23,
    /// The IP addresses and the ports.
    #[value(alias = "layer3+4")]
    L34,
}

impl BondHash {
    /// As the command lines spell it (and net_bonding's `xmit_policy`).
    pub fn name(self) -> &'static str {
        match self {
            BondHash::L2 => "l2",
            BondHash::L23 => "l23",
            BondHash::L34 => "l34",
        }
    }

    /// As the kernel's bonding driver names it (`xmit_hash_policy`).
    pub fn kernel_name(self) -> &'static str {
        match self {
            BondHash::L2 => "layer2",
            BondHash::L23 => "layer2+3",
            BondHash::L34 => "layer3+4",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bond_hashes_take_both_spellings() {
        for h in [BondHash::L2, BondHash::L23, BondHash::L34] {
            assert_eq!(BondHash::from_str(h.name(), false), Ok(h));
            assert_eq!(BondHash::from_str(h.kernel_name(), false), Ok(h));
        }
        assert!(BondHash::from_str("l4", false).is_err());
        assert_eq!(serde_json::to_string(&BondHash::L23).unwrap(), "\"l23\"");
    }

    #[test]
    fn durations() {
        assert_eq!(duration("10").unwrap(), Duration::from_secs(10));
        assert_eq!(duration("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(duration("1m30s").unwrap(), Duration::from_secs(90));
        assert!(duration("-1").unwrap_err().contains("'-1'"));
        assert!(duration("soon").unwrap_err().contains("'soon'"));
        assert!(duration("nan").is_err() && duration("inf").is_err() && duration("").is_err());
    }

    #[test]
    fn rates() {
        assert_eq!(rate("100000").unwrap(), Rate::Pps(100_000.0));
        assert_eq!(rate("50k").unwrap(), Rate::Pps(50_000.0));
        assert_eq!(rate("0.1M").unwrap(), Rate::Pps(100_000.0));
        assert_eq!(rate("1.5Mpps").unwrap(), Rate::Pps(1_500_000.0));
        assert_eq!(rate("100kpps").unwrap(), Rate::Pps(100_000.0));
        assert_eq!(rate("500Mbps").unwrap(), Rate::Bps(500e6));
        assert_eq!(rate("10Gbps").unwrap(), Rate::Bps(10e9));
        assert_eq!(rate("10Gbps").unwrap().pps(), None);
        assert!(rate("fast").unwrap_err().contains("'fast'"));
        assert!(rate("0").unwrap_err().contains("positive"));
        assert!(rate("-5k").is_err() && rate("").is_err() && rate("nanpps").is_err());
    }

    #[test]
    fn loss_limits_and_percentages() {
        assert_eq!(loss_limit("1000").unwrap(), LossLimit::Frames(1000));
        assert_eq!(loss_limit("0.5%").unwrap(), LossLimit::Percent(0.5));
        assert!(loss_limit("lots").unwrap_err().contains("'lots'"));
        assert!(loss_limit("120%").unwrap_err().contains("'120%'"));
        assert!(loss_limit("-1").is_err());
        assert_eq!(
            (LossLimit::Frames(7).to_string(), LossLimit::Percent(0.1).to_string()),
            ("7".into(), "0.1%".into())
        );
        assert_eq!(percent("30%").unwrap(), 30.0);
        assert!(percent("101").is_err() && percent("x").unwrap_err().contains("'x'"));
    }

    #[test]
    fn bond_modes_have_one_spelling() {
        for m in BondMode::value_variants() {
            let cli = m.to_possible_value().unwrap().get_name().to_string();
            assert_eq!(cli, m.name());
            assert_eq!(serde_json::to_value(m).unwrap(), serde_json::json!(m.name()));
        }
        for m in BondMode::value_variants() {
            assert_eq!(BondMode::from_str(m.kernel_name(), false), Ok(*m), "the kernel's name is taken too");
        }
        assert_eq!(BondMode::Lacp.dpdk_mode(), 4);
        assert!(BondMode::Xor.spreads() && !BondMode::ActiveBackup.spreads());
    }

    proptest! {
        #[test]
        fn milliseconds_round_trip(ms in 0u64..10_000_000) {
            prop_assert_eq!(duration(&format!("{ms}ms")).unwrap(), Duration::from_millis(ms));
        }

        #[test]
        fn a_limit_prints_as_it_parses(n in 0u64..u64::MAX, p in 0.0f64..=100.0) {
            for l in [LossLimit::Frames(n), LossLimit::Percent(p)] {
                prop_assert_eq!(loss_limit(&l.to_string()).unwrap(), l);
            }
        }
    }
}
