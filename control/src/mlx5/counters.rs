//! Per-link counters for load balance: on real VF-LAG the VF cannot see its links, so the
//! split comes from the PFs' physical-port counters (`ethtool -S`: `rx_packets_phy`,
//! `tx_packets_phy`, `rx_bytes_phy`, `tx_bytes_phy`) and the bond's view of each member. Any
//! other interface (a veth of the emulated lab) is read from its netdev statistics in sysfs.
//!
//! Each sample is one JSON line, schema `vflag-ctl.counters.v1`:
//! `{"schema", "t_unix_s", "t_s" (since the first sample), "interval_s" (since the previous
//! sample; null in the first), "links": [{"name", "pci" (null for a virtual device), "source"
//! ("phy" or "netdev": where the counters come from), "operstate", "bond_state"
//! (active/backup, null outside a bond), "mii_status", "rx_packets", "tx_packets", "rx_bytes",
//! "tx_bytes" (the counters), "rx_pps", "tx_pps", "rx_mbps", "tx_mbps" (rates over the
//! interval; null in the first sample and when a counter went back), "rx_share_pct",
//! "tx_share_pct" (the link's part of all links' packets: over the interval, or of the totals
//! in the first sample; null when there were none)}]}`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{bail, Result};
use serde::Serialize;

use super::Env;

pub const SCHEMA: &str = "vflag-ctl.counters.v1";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Phy {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
}

/// The four physical-port counters from `ethtool -S DEV`.
pub fn parse_ethtool_s(dev: &str, text: &str) -> Result<Phy> {
    let get = |key: &str| -> Result<u64> {
        let value = text.lines().find_map(|l| {
            let (k, v) = l.trim().split_once(':')?;
            (k == key).then(|| v.trim())
        });
        match value {
            None => bail!("`ethtool -S {dev}` has no {key}: is it an mlx5 physical port?"),
            Some(v) => v.parse().map_err(|_| anyhow::anyhow!("`ethtool -S {dev}`: {key} is '{v}', not a count")),
        }
    };
    Ok(Phy {
        rx_packets: get("rx_packets_phy")?,
        tx_packets: get("tx_packets_phy")?,
        rx_bytes: get("rx_bytes_phy")?,
        tx_bytes: get("tx_bytes_phy")?,
    })
}

/// Where a link's counters come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The mlx5 physical port's counters (`ethtool -S`, `*_phy`): every frame on the wire,
    /// also those the eswitch steers to a VF without the PF's netdev seeing them.
    Phy,
    /// The netdev's own statistics (`/sys/class/net/DEV/statistics/`): any interface. On an
    /// mlx5 PF in switchdev mode they miss the VF's hardware-steered traffic, so a PF with
    /// `*_phy` counters is always read through `ethtool -S`.
    Netdev,
}

impl Source {
    /// Where the counters are read, as an operator would look.
    pub fn describe(self) -> &'static str {
        match self {
            Source::Phy => "ethtool -S *_phy",
            Source::Netdev => "netdev statistics",
        }
    }
}

/// A link to sample: its netdev, PCI address and counter source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    pub name: String,
    pub pci: Option<String>,
    pub source: Source,
}

impl Link {
    /// An mlx5 PF, read through its physical-port counters.
    pub fn phy(name: &str, pci: &str) -> Link {
        Link { name: name.into(), pci: Some(pci.into()), source: Source::Phy }
    }
}

/// The link `name` on this host, with the best counters it has: `*_phy` where `ethtool -S`
/// shows them, else the netdev's statistics.
pub fn detect(env: &mut Env, name: &str) -> Result<Link> {
    let net = format!("class/net/{name}");
    if name.is_empty() || name.contains('/') || !env.sys.exists(&format!("{net}/statistics/rx_packets")) {
        bail!("no network interface '{name}' on this host");
    }
    let phy = env
        .run("ethtool", &["-S", name])
        .ok()
        .filter(|o| o.ok())
        .is_some_and(|o| parse_ethtool_s(name, &o.stdout).is_ok());
    if !phy && env.sys.link_name(&format!("{net}/device/driver")).as_deref() == Some("mlx5_core") {
        // Its netdev statistics would miss what the eswitch steers to the VFs: refuse them.
        bail!("'{name}' is an mlx5 port, but `ethtool -S {name}` shows no *_phy counters (is ethtool installed?)");
    }
    Ok(Link {
        name: name.into(),
        pci: env.sys.link_name(&format!("{net}/device")),
        source: if phy { Source::Phy } else { Source::Netdev },
    })
}

/// The four counters of a netdev's sysfs statistics.
fn read_netdev(env: &Env, dev: &str) -> Result<Phy> {
    let get = |key: &str| -> Result<u64> {
        let rel = format!("class/net/{dev}/statistics/{key}");
        env.sys.read_u64(&rel).ok_or_else(|| anyhow::anyhow!("cannot read {}", super::sysfs::SysFs::shown(&rel)))
    };
    Ok(Phy {
        rx_packets: get("rx_packets")?,
        tx_packets: get("tx_packets")?,
        rx_bytes: get("rx_bytes")?,
        tx_bytes: get("tx_bytes")?,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub phy: Phy,
    pub operstate: String,
    pub bond_state: Option<String>,
    pub mii_status: Option<String>,
}

pub fn sample(env: &mut Env, link: &Link) -> Result<Sample> {
    let phy = match link.source {
        Source::Phy => {
            let out = env.run("ethtool", &["-S", &link.name])?;
            if !out.ok() {
                bail!("`ethtool -S {}` failed (exit {}): {}", link.name, out.code, out.stderr.trim());
            }
            parse_ethtool_s(&link.name, &out.stdout)?
        }
        Source::Netdev => read_netdev(env, &link.name)?,
    };
    let net = format!("class/net/{}", link.name);
    Ok(Sample {
        phy,
        operstate: env.sys.read(&format!("{net}/operstate")).unwrap_or_else(|| "unknown".into()),
        bond_state: env.sys.read(&format!("{net}/bonding_slave/state")),
        mii_status: env.sys.read(&format!("{net}/bonding_slave/mii_status")),
    })
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkRecord {
    pub name: String,
    pub pci: Option<String>,
    pub source: Source,
    pub operstate: String,
    pub bond_state: Option<String>,
    pub mii_status: Option<String>,
    #[serde(flatten)]
    pub phy: Phy,
    pub rx_pps: Option<f64>,
    pub tx_pps: Option<f64>,
    pub rx_mbps: Option<f64>,
    pub tx_mbps: Option<f64>,
    pub rx_share_pct: Option<f64>,
    pub tx_share_pct: Option<f64>,
    /// A counter went back or jumped beyond any link's rate since the last sample: its rates
    /// are null for this interval, not absurd.
    pub counter_reset: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    pub schema: &'static str,
    pub t_unix_s: f64,
    pub t_s: f64,
    pub interval_s: Option<f64>,
    pub links: Vec<LinkRecord>,
}

/// Faster than any port: 800 Gb/s of 64-byte frames is 1.19 G frames/s, 100 GB/s of bytes.
const MAX_PLAUSIBLE_PER_S: f64 = 2e11;

/// The rate between two readings; None when the counter went back (a reset) or jumped further
/// than any link could carry in the time (a wrap, a reset to a large value, a garbled read).
fn rate(now: u64, before: u64, secs: f64) -> Option<f64> {
    (now >= before && secs > 0.0).then(|| (now - before) as f64 / secs).filter(|r| *r <= MAX_PLAUSIBLE_PER_S)
}

/// Each value's part of their sum, in %; None when the sum is 0 or a value is unknown.
fn shares(values: &[Option<f64>]) -> Vec<Option<f64>> {
    let known: Option<Vec<f64>> = values.iter().copied().collect();
    let sum: f64 = known.as_ref().map_or(0.0, |k| k.iter().sum());
    values.iter().map(|v| v.filter(|_| sum > 0.0).map(|v| 100.0 * v / sum)).collect()
}

/// One record from this sample and the one before (at `prev_t`).
pub fn record(links: &[Link], now: &[Sample], t_s: f64, t_unix_s: f64, prev: Option<(&[Sample], f64)>) -> Record {
    let interval = prev.map(|(_, t)| t_s - t);
    let mut out: Vec<LinkRecord> = links
        .iter()
        .zip(now)
        .enumerate()
        .map(|(i, (l, s))| {
            let before = prev.map(|(p, _)| p[i].phy);
            let r = |f: fn(&Phy) -> u64| before.zip(interval).and_then(|(b, secs)| rate(f(&s.phy), f(&b), secs));
            let fields: [fn(&Phy) -> u64; 4] = [|p| p.rx_packets, |p| p.tx_packets, |p| p.rx_bytes, |p| p.tx_bytes];
            let counter_reset = before.zip(interval).is_some_and(|_| fields.iter().any(|f| r(*f).is_none()));
            LinkRecord {
                counter_reset,
                name: l.name.clone(),
                pci: l.pci.clone(),
                source: l.source,
                operstate: s.operstate.clone(),
                bond_state: s.bond_state.clone(),
                mii_status: s.mii_status.clone(),
                phy: s.phy,
                rx_pps: r(|p| p.rx_packets),
                tx_pps: r(|p| p.tx_packets),
                rx_mbps: r(|p| p.rx_bytes).map(|b| b * 8.0 / 1e6),
                tx_mbps: r(|p| p.tx_bytes).map(|b| b * 8.0 / 1e6),
                rx_share_pct: None,
                tx_share_pct: None,
            }
        })
        .collect();
    let basis = |rx: bool| -> Vec<Option<f64>> {
        out.iter()
            .map(|l| match (prev.is_some(), rx) {
                (true, true) => l.rx_pps,
                (true, false) => l.tx_pps,
                (false, true) => Some(l.phy.rx_packets as f64),
                (false, false) => Some(l.phy.tx_packets as f64),
            })
            .collect()
    };
    let (rx, tx) = (shares(&basis(true)), shares(&basis(false)));
    for (l, (r, t)) in out.iter_mut().zip(rx.into_iter().zip(tx)) {
        l.rx_share_pct = r;
        l.tx_share_pct = t;
    }
    Record { schema: SCHEMA, t_unix_s, t_s, interval_s: interval, links: out }
}

/// The lines printed for one record.
pub fn render(r: &Record) -> String {
    let num = |v: Option<f64>, d: usize| v.map_or("-".to_string(), |v| format!("{v:.d$}"));
    let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}%"));
    let mut s = String::new();
    for l in &r.links {
        let state = match (&l.bond_state, &l.mii_status) {
            (Some(b), Some(m)) => format!("{}, {b}, mii {m}", l.operstate),
            (Some(b), None) => format!("{}, {b}", l.operstate),
            _ => l.operstate.clone(),
        };
        if r.interval_s.is_some() {
            s += &format!(
                "[{:>8.1}s] {:<14} {:<22} rx {:>12} pps {:>10} Mbps {:>6} | tx {:>12} pps {:>10} Mbps {:>6}\n",
                r.t_s,
                l.name,
                state,
                num(l.rx_pps, 0),
                num(l.rx_mbps, 1),
                pct(l.rx_share_pct),
                num(l.tx_pps, 0),
                num(l.tx_mbps, 1),
                pct(l.tx_share_pct)
            );
        } else {
            s += &format!(
                "{:<14} {:<22} rx {:>14} packets {:>6} | tx {:>14} packets {:>6}\n",
                l.name,
                state,
                l.phy.rx_packets,
                pct(l.rx_share_pct),
                l.phy.tx_packets,
                pct(l.tx_share_pct)
            );
        }
    }
    s
}

/// Samples every `interval` until `count` samples (0: until `stop`), handing each record to
/// `emit`. `clock` gives (seconds since an origin, unix seconds).
pub fn watch(
    env: &mut Env,
    links: &[Link],
    interval: Duration,
    count: u64,
    stop: &AtomicBool,
    clock: &dyn Fn() -> (f64, f64),
    emit: &mut dyn FnMut(&Record) -> Result<()>,
) -> Result<u64> {
    let mut prev: Option<(Vec<Sample>, f64)> = None;
    let (t0, _) = clock();
    let mut n = 0;
    loop {
        let (t, unix) = clock();
        let now: Vec<Sample> = match links.iter().map(|l| sample(env, l)).collect::<Result<_>>() {
            Ok(now) => now,
            // A Ctrl-C to the process group also kills the ethtool child: that is the stop.
            Err(_) if stop.load(Ordering::Relaxed) => return Ok(n),
            Err(e) => return Err(e),
        };
        let rec = record(links, &now, t - t0, unix, prev.as_ref().map(|(s, t)| (s.as_slice(), *t)));
        emit(&rec)?;
        n += 1;
        prev = Some((now, t - t0));
        if (count != 0 && n >= count) || stop.load(Ordering::Relaxed) {
            return Ok(n);
        }
        // In slices, so that a signal's stop is seen within one, whatever the interval.
        let mut left = interval;
        while !left.is_zero() {
            if stop.load(Ordering::Relaxed) {
                return Ok(n);
            }
            let d = left.min(WAKE);
            (env.sleep)(d);
            left -= d;
        }
        if stop.load(Ordering::Relaxed) {
            return Ok(n);
        }
    }
}

/// The longest a stop waits in `watch`.
const WAKE: Duration = Duration::from_millis(50);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlx5::testing::fake;
    use crate::runner::{Output, Recorder};

    fn out(name: &str) -> Output {
        Output { stdout: fake::text(name), ..Default::default() }
    }

    fn links() -> Vec<Link> {
        vec![Link::phy("enp1s0f0np0", "0000:01:00.0"), Link::phy("enp1s0f1np1", "0000:01:00.1")]
    }

    #[test]
    fn parses_the_phy_counters_of_a_recorded_ethtool_s() {
        let p = parse_ethtool_s("enp1s0f0np0", &fake::text("ethtool-S-enp1s0f0np0.txt")).unwrap();
        // The _phy counters, not rx_packets (the netdev's) or rx_vport_unicast_packets.
        assert_eq!(p, Phy { rx_packets: 10_000_000, tx_packets: 50_000, rx_bytes: 640_000_000, tx_bytes: 3_200_000 });
        let e = parse_ethtool_s("veth0", "NIC statistics:\n     peer_ifindex: 5\n     rx_queue_0_packets: 1\n")
            .unwrap_err();
        assert_eq!(e.to_string(), "`ethtool -S veth0` has no rx_packets_phy: is it an mlx5 physical port?");
        // Present but no number: named as such, not as missing.
        let garbled =
            fake::text("ethtool-S-enp1s0f0np0.txt").replace("rx_packets_phy: 10000000", "rx_packets_phy: 1e7x");
        let e = parse_ethtool_s("enp1s0f0np0", &garbled).unwrap_err();
        assert_eq!(e.to_string(), "`ethtool -S enp1s0f0np0`: rx_packets_phy is '1e7x', not a count");
    }

    #[test]
    fn a_counter_that_resets_or_jumps_gives_no_rate_and_says_so() {
        let link = Link { name: "veth0".into(), pci: None, source: Source::Netdev };
        let sample = |rx: u64| Sample {
            phy: Phy { rx_packets: rx, tx_packets: 5, rx_bytes: rx * 64, tx_bytes: 320 },
            operstate: "up".into(),
            bond_state: None,
            mii_status: None,
        };
        let rec = |a: u64, b: u64| {
            let r = record(std::slice::from_ref(&link), &[sample(b)], 1.0, 1001.0, Some((&[sample(a)], 0.0)));
            (r.links[0].rx_pps, r.links[0].counter_reset)
        };
        assert_eq!(rec(1000, 2000), (Some(1000.0), false));
        assert_eq!(rec(5_000_000, 10), (None, true), "a reset");
        assert_eq!(rec(10, u64::MAX / 64), (None, true), "a jump of 2.9e17 in a second");
        assert_eq!(rec(0, 1 << 40), (None, true), "a 2^40 jump in one second");
    }

    #[test]
    fn rates_and_shares_over_two_samples_to_json_lines() {
        let mut r = Recorder::default();
        r.answer("ethtool -S enp1s0f0np0", out("ethtool-S-enp1s0f0np0.txt"), true);
        r.answer("ethtool -S enp1s0f1np1", out("ethtool-S-enp1s0f1np1.txt"), true);
        r.answer("ethtool -S enp1s0f0np0", out("ethtool-S-enp1s0f0np0-1s.txt"), true);
        r.answer("ethtool -S enp1s0f1np1", out("ethtool-S-enp1s0f1np1-1s.txt"), true);
        let t = std::cell::Cell::new(Duration::ZERO);
        let sleep = |d: Duration| t.set(t.get() + d);
        let mut env = fake::fixture_env("up", &mut r, &sleep);
        let clock = || (t.get().as_secs_f64(), 1_700_000_000.0 + t.get().as_secs_f64());
        let mut got = Vec::new();
        let n = watch(&mut env, &links(), Duration::from_secs(1), 2, &AtomicBool::new(false), &clock, &mut |rec| {
            got.push(serde_json::to_value(rec)?);
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 2);
        let first = &got[0];
        assert_eq!(first["schema"], SCHEMA);
        assert_eq!(first["interval_s"], serde_json::Value::Null);
        assert_eq!(first["links"][0]["rx_pps"], serde_json::Value::Null);
        // The first sample shares the totals: 10 M and 9 M packets.
        let share = first["links"][0]["rx_share_pct"].as_f64().unwrap();
        assert!((share - 100.0 * 10.0 / 19.0).abs() < 1e-9, "{share}");
        let l0 = &got[1]["links"][0];
        assert_eq!(got[1]["interval_s"], 1.0);
        assert_eq!((l0["rx_pps"].as_f64(), l0["tx_pps"].as_f64()), (Some(1_000_000.0), Some(10.0)));
        assert_eq!(l0["rx_mbps"].as_f64(), Some(512.0));
        assert_eq!((l0["rx_share_pct"].as_f64(), l0["tx_share_pct"].as_f64()), (Some(50.0), Some(50.0)));
        assert_eq!(
            (l0["name"].as_str(), l0["bond_state"].as_str(), l0["mii_status"].as_str()),
            (Some("enp1s0f0np0"), Some("active"), Some("up"))
        );
        assert_eq!(l0["rx_packets"], 11_000_000);
        // Every record is one line of JSON.
        for g in &got {
            assert!(!serde_json::to_string(g).unwrap().contains('\n'));
        }
    }

    #[test]
    fn a_stop_ends_the_watch_within_a_slice_and_a_child_killed_with_it_is_no_error() {
        let mut r = Recorder::default();
        r.answer("ethtool -S enp1s0f0np0", out("ethtool-S-enp1s0f0np0.txt"), false);
        r.answer("ethtool -S enp1s0f1np1", out("ethtool-S-enp1s0f1np1.txt"), false);
        let stop = AtomicBool::new(false);
        let slept = std::cell::Cell::new(Duration::ZERO);
        // The signal arrives during the first slice of an hour's interval.
        let sleep = |d: Duration| {
            slept.set(slept.get() + d);
            stop.store(true, Ordering::Relaxed);
        };
        let mut env = fake::fixture_env("up", &mut r, &sleep);
        let clock = || (0.0, 1_700_000_000.0);
        let n = watch(&mut env, &links(), Duration::from_secs(3600), 0, &stop, &clock, &mut |_| Ok(())).unwrap();
        assert_eq!((n, slept.get()), (1, WAKE));

        // The same Ctrl-C killed ethtool: the failed sample is the stop, not an error.
        let mut r = Recorder::default();
        r.answer("ethtool -S enp1s0f0np0", out("ethtool-S-enp1s0f0np0.txt"), true);
        r.answer("ethtool -S enp1s0f1np1", out("ethtool-S-enp1s0f1np1.txt"), true);
        let killed = Output { code: -1, stderr: "killed by signal 2".into(), ..Default::default() };
        r.answer("ethtool -S enp1s0f0np0", killed, false);
        let stop = AtomicBool::new(false);
        let calls = std::cell::Cell::new(0);
        let clock = || {
            calls.set(calls.get() + 1);
            stop.store(calls.get() > 1, Ordering::Relaxed);
            (0.0, 1_700_000_000.0)
        };
        let sleep = |_: Duration| {};
        let mut env = fake::fixture_env("up", &mut r, &sleep);
        assert_eq!(watch(&mut env, &links(), Duration::from_millis(10), 0, &stop, &clock, &mut |_| Ok(())).unwrap(), 1);
    }

    #[test]
    fn a_pf_is_read_from_its_phy_counters_and_other_links_from_their_statistics() {
        let mut r = Recorder::default();
        r.answer("ethtool -S enp1s0f0np0", out("ethtool-S-enp1s0f0np0.txt"), false);
        // What ethtool says of a bond (and of a veth, a different table without *_phy).
        let none = Output { code: 94, stderr: "no stats available".into(), ..Default::default() };
        r.answer("ethtool -S vf-bond", none, false);
        r.answer(
            "ethtool -S eno1",
            Output { stdout: "NIC statistics:\n     rx_packets: 5000\n".into(), ..Default::default() },
            false,
        );
        let sleep = |_: Duration| {};
        let mut env = fake::fixture_env("up", &mut r, &sleep);
        let pf = detect(&mut env, "enp1s0f0np0").unwrap();
        assert_eq!(pf, Link::phy("enp1s0f0np0", "0000:01:00.0"));
        // The wire's 10 M frames, not the netdev's 1234 of the switchdev slow path.
        assert_eq!(sample(&mut env, &pf).unwrap().phy.rx_packets, 10_000_000);
        let bond = detect(&mut env, "vf-bond").unwrap();
        assert_eq!((bond.source, bond.pci.as_deref()), (Source::Netdev, None));
        let s = sample(&mut env, &bond).unwrap();
        assert_eq!(s.phy, Phy { rx_packets: 2434, tx_packets: 1127, rx_bytes: 2434 * 64, tx_bytes: 1127 * 64 });
        assert_eq!(s.operstate, "up");
        let eno = detect(&mut env, "eno1").unwrap();
        assert_eq!((eno.source, eno.pci.as_deref()), (Source::Netdev, Some("0000:00:1f.6")));
        // An mlx5 port whose ethtool -S gives no *_phy counters is refused, not read wrongly.
        let e = detect(&mut env, "enp1s0f1np1").unwrap_err().to_string();
        assert_eq!(
            e,
            "'enp1s0f1np1' is an mlx5 port, but `ethtool -S enp1s0f1np1` shows no *_phy counters (is ethtool installed?)"
        );
        for bad in ["nosuch0", "", "../net/eno1"] {
            assert_eq!(
                detect(&mut env, bad).unwrap_err().to_string(),
                format!("no network interface '{bad}' on this host")
            );
        }
        let gone = Link { name: "nosuch0".into(), pci: None, source: Source::Netdev };
        let e = sample(&mut env, &gone).unwrap_err().to_string();
        assert_eq!(e, "cannot read /sys/class/net/nosuch0/statistics/rx_packets");
        let rec = record(&[bond], &[s], 0.0, 0.0, None);
        let v = serde_json::to_value(&rec).unwrap();
        assert_eq!((v["links"][0]["source"].as_str(), v["links"][0]["pci"].is_null()), (Some("netdev"), true));
    }

    #[test]
    fn a_counter_that_went_back_has_no_rate() {
        let links = links();
        let s = |rx: u64| Sample {
            phy: Phy { rx_packets: rx, tx_packets: 0, rx_bytes: rx * 64, tx_bytes: 0 },
            operstate: "up".into(),
            bond_state: None,
            mii_status: None,
        };
        let before = [s(1000), s(1000)];
        let now = [s(10), s(2000)];
        let r = record(&links, &now, 2.0, 0.0, Some((&before, 1.0)));
        assert_eq!((r.links[0].rx_pps, r.links[1].rx_pps), (None, Some(1000.0)));
        assert_eq!(r.links[1].rx_share_pct, None, "no share when a link's rate is unknown");
        assert_eq!(r.links[0].tx_share_pct, None, "no share of nothing");
        let text = render(&r);
        assert!(
            text.contains("enp1s0f1np1    up                     rx         1000 pps        0.5 Mbps      -"),
            "{text}"
        );
    }
}
