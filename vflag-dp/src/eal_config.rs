//! The EAL's part of the settings: the lcores, the devices (and the bond `--bond` stacks over
//! them), memory, the file prefix and any other EAL options; the EAL's argv from them.

use clap::ValueEnum;
use serde::Serialize;

/// --bond and --bond-hash (the soak's lab bonds take the same values).
pub use vflag_contract::value::{BondHash, BondMode};

/// --lacp-rate: LACP's periodic transmission and partner timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LacpRate {
    Slow,
    Fast,
}

impl LacpRate {
    /// (ms between LACPDUs, ms of silence before the partner is given up); None: DPDK's own.
    pub fn timers_ms(self) -> Option<(u32, u32)> {
        match self {
            LacpRate::Slow => None,
            LacpRate::Fast => Some((1000, 3000)),
        }
    }
}

/// Validated EAL settings (in the report's `settings` under these names).
#[derive(Debug, Clone, Serialize)]
pub struct EalConfig {
    pub main_lcore: u32,
    pub fwd_lcores: Vec<u32>,
    pub allow: Vec<String>,
    pub vdevs: Vec<String>,
    pub file_prefix: Option<String>,
    pub no_huge: bool,
    pub memory_mb: Option<u32>,
    pub eal_extra: Vec<String>,
    pub bond: Option<BondMode>,
    pub bond_hash: BondHash,
    pub lacp_rate: LacpRate,
}

impl EalConfig {
    /// The net_bonding vdev that --bond stacks over every -a and --vdev device.
    pub fn bond_vdev(&self) -> Option<String> {
        let mode = self.bond?.dpdk_mode();
        let key = dpdk::version::BOND_MEMBER_KEY;
        let mut v = format!("net_bonding0,mode={mode}");
        for dev in self.allow.iter().chain(&self.vdevs) {
            let name = dev.split(',').next().unwrap_or(dev);
            v.push_str(&format!(",{key}={name}"));
        }
        if mode != 1 {
            v.push_str(&format!(",xmit_policy={}", self.bond_hash.name()));
        }
        Some(v)
    }

    /// Every vdev of the run: those given, then the bond --bond stacks over them.
    pub fn all_vdevs(&self) -> Vec<String> {
        self.vdevs.iter().cloned().chain(self.bond_vdev()).collect()
    }

    /// The run drives a bond in 802.3ad mode, which needs rx and tx bursts at least every
    /// 100 ms on every lcore, even one that only receives or only sends (LACP frames).
    pub fn lacp(&self) -> bool {
        self.bond == Some(BondMode::Lacp)
            || self
                .vdevs
                .iter()
                .any(|v| crate::bond::members(v).is_some() && v.split(',').any(|kv| kv.trim() == "mode=4"))
    }

    /// LACP's timers (ms between LACPDUs, ms before a silent partner is given up) to set on an
    /// 802.3ad bond; None: DPDK's own, or no such bond.
    pub fn lacp_timers_ms(&self) -> Option<(u32, u32)> {
        self.lacp_rate.timers_ms().filter(|_| self.lacp())
    }

    /// The `--file-prefix` the EAL will take as a primary process (the last one given, also
    /// through `--eal`; DPDK's default `rte`), or None when it takes no prefix lock
    /// (`--in-memory`, `--no-shconf`, or a `--proc-type` that may be secondary).
    pub fn primary_prefix(&self) -> Option<String> {
        let args = self.eal_args();
        let mut prefix = "rte".to_string();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let key = a.split('=').next().unwrap_or_default();
            if matches!(key, "--in-memory" | "--no-shconf" | "--proc-type") {
                return None;
            }
            if key == "--file-prefix" {
                match a.split_once('=') {
                    Some((_, v)) => prefix = v.to_string(),
                    None => prefix = it.next()?.clone(),
                }
            }
        }
        Some(prefix)
    }

    /// The EAL's argv (without argv[0]) for these settings.
    pub fn eal_args(&self) -> Vec<String> {
        let lcores: Vec<String> =
            std::iter::once(self.main_lcore).chain(self.fwd_lcores.iter().copied()).map(|l| l.to_string()).collect();
        let mut a = vec!["-l".to_string(), lcores.join(","), "--main-lcore".into(), self.main_lcore.to_string()];
        for dev in &self.allow {
            a.extend(["-a".into(), dev.clone()]);
        }
        if self.allow.is_empty() {
            a.push("--no-pci".into());
        }
        for v in self.all_vdevs() {
            a.extend(["--vdev".into(), v]);
        }
        if let Some(p) = &self.file_prefix {
            a.extend(["--file-prefix".into(), p.clone()]);
        }
        if self.no_huge {
            a.push("--no-huge".into());
        }
        if let Some(m) = self.memory_mb {
            a.extend(["-m".into(), m.to_string()]);
        }
        a.extend(self.eal_extra.iter().cloned());
        a
    }
}
