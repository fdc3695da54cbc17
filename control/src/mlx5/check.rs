//! The state each step establishes, and whether the host is in it now. `apply` asks before a
//! step (in place: skip it) and after (no effect: stop).

use anyhow::Result;
use serde::Serialize;

use super::parse::{self, Ingress};
use super::sysfs::IFF_UP;
use super::{lagstate, Env};

/// Where a filter is attached: a shared block, or a device's own ingress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterAt {
    Block(u32),
    Dev(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "want", rename_all = "snake_case")]
pub enum Want {
    /// `sriov_numvfs` of the PF reads `n`, and (n > 0) its VFs are at `vfs`.
    NumVfs {
        pf: String,
        n: u32,
        vfs: Vec<String>,
    },
    /// The VF is bound to `driver` (None: unbound).
    VfDriver {
        vf: String,
        driver: Option<String>,
    },
    Eswitch {
        pci: String,
        mode: String,
    },
    /// `hw-tc-offload` of the device.
    TcOffload {
        dev: String,
        on: bool,
    },
    ModuleLoaded {
        name: String,
    },
    BondMode {
        bond: String,
        mode: String,
    },
    /// A bonding option (`xmit_hash_policy`, `miimon`) reads `value`.
    BondOption {
        bond: String,
        option: String,
        value: String,
    },
    /// The interface does not exist.
    Absent {
        dev: String,
    },
    /// Down, or already enslaved to `bond` (then it needs no taking down).
    DownOrEnslaved {
        dev: String,
        bond: String,
    },
    Master {
        dev: String,
        master: Option<String>,
    },
    AdminUp {
        dev: String,
        up: bool,
    },
    LagActive {
        pf_pci: String,
    },
    Ingress {
        dev: String,
        ingress: Ingress,
    },
    /// A flower rule matching `mac` (destination, or source when `src`) that redirects to
    /// `to` is (or is not) there.
    Flower {
        at: FilterAt,
        mac: String,
        src: bool,
        to: String,
        present: bool,
    },
}

/// Whether the state holds, and what the host shows (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub holds: bool,
    pub now: String,
}

fn seen(holds: bool, now: String) -> Result<Seen> {
    Ok(Seen { holds, now })
}

/// Whether a netdev exists.
fn exists(env: &Env, dev: &str) -> bool {
    env.sys.exists(&format!("class/net/{dev}"))
}

fn admin_up(env: &Env, dev: &str) -> bool {
    env.sys.read_u64(&format!("class/net/{dev}/flags")).is_some_and(|f| f & IFF_UP != 0)
}

impl Want {
    pub fn check(&self, env: &mut Env) -> Result<Seen> {
        match self {
            Want::NumVfs { pf, n, vfs } => {
                let dev = format!("class/net/{pf}/device");
                let now = env.sys.read(&format!("{dev}/sriov_numvfs")).unwrap_or_else(|| "absent".into());
                if now != n.to_string() {
                    return seen(false, format!("sriov_numvfs of {pf} is {now}"));
                }
                let mut actual: Vec<(u32, String)> = env
                    .sys
                    .list(&dev)
                    .into_iter()
                    .filter_map(|e| Some((e.strip_prefix("virtfn")?.parse().ok()?, e)))
                    .filter_map(|(i, e)| Some((i, env.sys.link_name(&format!("{dev}/{e}"))?)))
                    .collect();
                actual.sort();
                let actual: Vec<String> = actual.into_iter().map(|(_, a)| a).collect();
                if &actual != vfs {
                    return seen(false, format!("{pf} has VFs {} where the plan has {}", list(&actual), list(vfs)));
                }
                seen(true, format!("sriov_numvfs of {pf} is {now}"))
            }
            Want::VfDriver { vf, driver } => {
                if !env.sys.exists(&format!("bus/pci/devices/{vf}")) {
                    return seen(false, format!("VF {vf} does not exist"));
                }
                let now = env.sys.link_name(&format!("bus/pci/devices/{vf}/driver"));
                seen(
                    &now == driver,
                    format!("VF {vf} is {}", now.map_or("unbound".into(), |d| format!("bound to {d}"))),
                )
            }
            Want::Eswitch { pci, mode } => {
                let out = env.run("devlink", &["dev", "eswitch", "show", &format!("pci/{pci}")])?;
                let now = parse::eswitch_mode(&out.stdout);
                let shown = now.clone().unwrap_or_else(|| format!("unknown ({})", out.stderr.trim()));
                seen(now.as_deref() == Some(mode.as_str()), format!("eswitch of {pci} is {shown}"))
            }
            Want::TcOffload { dev, on } => {
                if !exists(env, dev) {
                    return seen(!on, format!("{dev} does not exist"));
                }
                let out = env.run("ethtool", &["-k", dev])?;
                let now = parse::feature(&out.stdout, "hw-tc-offload");
                let shown = now.map_or("unknown".to_string(), |b| if b { "on".into() } else { "off".into() });
                seen(now == Some(*on), format!("hw-tc-offload of {dev} is {shown}"))
            }
            Want::ModuleLoaded { name } => {
                let loaded = env.sys.exists(&format!("module/{name}"));
                seen(loaded, format!("module {name} is {}", if loaded { "loaded" } else { "not loaded" }))
            }
            Want::BondMode { bond, mode } => {
                let now = env.sys.read(&format!("class/net/{bond}/bonding/mode"));
                let first = now.as_deref().and_then(|m| m.split_whitespace().next());
                let shown = match (exists(env, bond), first) {
                    (false, _) => format!("{bond} does not exist"),
                    (true, None) => format!("{bond} is not a bond"),
                    (true, Some(m)) => format!("{bond} is a bond in mode {m}"),
                };
                seen(first == Some(mode.as_str()), shown)
            }
            Want::BondOption { bond, option, value } => {
                let now = env.sys.read(&format!("class/net/{bond}/bonding/{option}"));
                let first = now.as_deref().and_then(|m| m.split_whitespace().next()).unwrap_or("absent");
                seen(first == value, format!("{option} of {bond} is {first}"))
            }
            Want::Absent { dev } => {
                let there = exists(env, dev);
                seen(!there, format!("{dev} {}", if there { "exists" } else { "does not exist" }))
            }
            Want::DownOrEnslaved { dev, bond } => {
                let master = env.sys.link_name(&format!("class/net/{dev}/master"));
                let up = admin_up(env, dev);
                let now = match &master {
                    Some(m) => format!("{dev} is in {m}"),
                    None => format!("{dev} is {}", if up { "up" } else { "down" }),
                };
                seen(master.as_deref() == Some(bond.as_str()) || (!up && exists(env, dev)), now)
            }
            Want::Master { dev, master } => {
                let now = env.sys.link_name(&format!("class/net/{dev}/master"));
                seen(&now == master, format!("{dev} is {}", now.map_or("in no bond".into(), |m| format!("in {m}"))))
            }
            Want::AdminUp { dev, up } => {
                let now = admin_up(env, dev);
                let state = env.sys.read(&format!("class/net/{dev}/operstate")).unwrap_or_else(|| "absent".into());
                seen(
                    now == *up && exists(env, dev),
                    format!("{dev} is {} (operstate {state})", if now { "up" } else { "down" }),
                )
            }
            Want::LagActive { pf_pci } => {
                let log = env.kernel_log();
                let s = lagstate::read(env, pf_pci, log.as_deref());
                seen(s.active == Some(true), s.detail)
            }
            Want::Ingress { dev, ingress } => {
                let out = env.run("tc", &["qdisc", "show", "dev", dev])?;
                let now = if out.ok() { parse::ingress(&out.stdout) } else { Ingress::None };
                let shown = match now {
                    Ingress::None => "no ingress qdisc".to_string(),
                    Ingress::Own => "an ingress qdisc of its own".to_string(),
                    Ingress::Block(b) => format!("an ingress qdisc on block {b}"),
                };
                seen(now == *ingress, format!("{dev} has {shown}"))
            }
            Want::Flower { at, mac, src, to, present } => {
                let f = find_flower(env, at, mac, *src, to)?;
                let now = match &f {
                    Some(f) => format!(
                        "the rule is there ({})",
                        match f.in_hw {
                            Some(true) => "in_hw",
                            Some(false) => "not_in_hw",
                            None => "no offload flag",
                        }
                    ),
                    None => "no such rule".to_string(),
                };
                seen(f.is_some() == *present, now)
            }
        }
    }
}

/// The flower filter at `at` matching `mac` and redirecting to `to`, if there is one.
pub fn find_flower(env: &mut Env, at: &FilterAt, mac: &str, src: bool, to: &str) -> Result<Option<parse::Filter>> {
    let out = match at {
        FilterAt::Block(b) => env.run("tc", &["filter", "show", "block", &b.to_string()])?,
        FilterAt::Dev(d) => env.run("tc", &["filter", "show", "dev", d, "ingress"])?,
    };
    if !out.ok() {
        return Ok(None);
    }
    let mac = mac.to_lowercase();
    Ok(parse::filters(&out.stdout).into_iter().find(|f| {
        let m = if src { &f.src_mac } else { &f.dst_mac };
        f.kind == "flower" && m.as_deref() == Some(mac.as_str()) && f.redirect_to.as_deref() == Some(to)
    }))
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "none".to_string()
    } else {
        v.join(" ")
    }
}
