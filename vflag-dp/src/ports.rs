//! Port set-up for a run: find the ports the EAL probed, create the mbuf pool, configure and
//! start every port (stopped and closed again on drop; the lcores' queue handles borrow them),
//! and read their final counters.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use dpdk::eal::Eal;
use dpdk::link_events::LinkWatch;
use dpdk::mempool::{self, Mempool};
use dpdk::port::{self, Port, PortConfig, PortInfo};
use dpdk::queue::Queues;
use serde::Serialize;

use crate::eal_config::EalConfig;
use crate::parse::{self, format_mac};
use crate::{bond, stats};
use vflag_contract::report::PortReport;

const MEMPOOL_CACHE: u32 = 250;

/// The ports' part of the settings (`--rxq` ... `--link-wait`; in the report's `settings` under
/// these names).
#[derive(Debug, Clone, Serialize)]
pub struct PortsConfig {
    #[serde(serialize_with = "parse::ser_opt_mac")]
    pub mac: Option<[u8; 6]>,
    pub rxq: u16,
    pub txq: u16,
    pub rxd: u16,
    pub txd: u16,
    pub mbufs: Option<u32>,
    pub mbuf_size: u16,
    pub mtu: Option<u16>,
    pub rx_scatter: bool,
    pub promisc: bool,
    pub link_wait_s: f64,
}

/// The ports the run drives. Members of a bond given with --vdev are left to their bond (in
/// 22.11 the bond only takes them over when it is configured, after discovery).
pub fn discover_ports(eal: &EalConfig, cfg: &PortsConfig) -> Result<Vec<PortInfo>> {
    let member_names: Vec<String> =
        eal.all_vdevs().iter().filter_map(|v| bond::members(v)).flat_map(|(_, m)| m).collect();
    let members: Vec<u16> = member_names.iter().filter_map(|n| port::port_by_name(n)).collect();
    let ids: Vec<u16> = port::available_ports().into_iter().filter(|p| !members.contains(p)).collect();
    if ids.is_empty() {
        let asked: Vec<&str> = eal.allow.iter().chain(&eal.vdevs).map(String::as_str).collect();
        bail!(
            "no ethernet port found for {}: is the device present and bound to a DPDK-capable driver \
             (vfio-pci; for mlx5, mlx5_core with rdma-core)?",
            asked.join(", ")
        );
    }
    let infos = ids.iter().map(|&p| port::info(p)).collect::<std::result::Result<Vec<_>, _>>()?;
    for dev in &eal.allow {
        let addr = dev.split(',').next().unwrap_or(dev);
        let is_member = member_names.iter().any(|m| m.starts_with(addr));
        if !is_member && !infos.iter().any(|i| i.name.starts_with(addr)) {
            bail!("device {addr} gave no port: is it present and bound to a DPDK-capable driver?");
        }
    }
    for p in &infos {
        if cfg.rxq > p.max_rx_queues || cfg.txq > p.max_tx_queues {
            bail!(
                "port {} ({}) has at most {} rx / {} tx queues: --rxq {} --txq {} is too many",
                p.id,
                p.name,
                p.max_rx_queues,
                p.max_tx_queues,
                cfg.rxq,
                cfg.txq
            );
        }
    }
    Ok(infos)
}

/// `fwd_lcores` and `burst`: the lcores' caches and bursts hold mbufs too.
pub fn create_pool<'eal>(
    eal: &'eal Eal,
    cfg: &PortsConfig,
    fwd_lcores: usize,
    burst: u16,
    infos: &[PortInfo],
) -> Result<Mempool<'eal>> {
    let buf_size = cfg.mbuf_size;
    let per_port = u32::from(cfg.rxq) * u32::from(cfg.rxd) + u32::from(cfg.txq) * u32::from(cfg.txd);
    let lcores = fwd_lcores as u32 + 1;
    let streams = infos.len() as u32 * u32::from(cfg.rxq);
    let wanted =
        per_port * infos.len() as u32 + lcores * (MEMPOOL_CACHE + u32::from(burst)) + streams * u32::from(burst) + 1024;
    let count = cfg.mbufs.unwrap_or(wanted.max(8192));
    let socket = infos.first().map_or(-1, |p| p.socket);
    let pool = eal
        .pktmbuf_pool("vflag_mbufs", count, MEMPOOL_CACHE, buf_size, socket)
        .map_err(|e| anyhow::anyhow!("{e}: lower --mbufs or give DPDK more memory (hugepages, -m)"))?;
    Ok(pool)
}

/// Ethernet header, one VLAN tag and FCS: what a frame of some MTU adds to it.
const FRAME_OVERHEAD: u32 = 14 + 4 + 4;

/// Whether `p` receives into chained mbufs: asked (--rx-scatter), or needed by --mtu (its
/// longest frame does not fit one mbuf's data room). A port whose driver cannot is refused.
fn rx_scatter(cfg: &PortsConfig, p: &PortInfo) -> Result<bool> {
    let room = u32::from(cfg.mbuf_size - mempool::headroom());
    let longest = cfg.mtu.map(|m| u32::from(m) + FRAME_OVERHEAD);
    let needed = longest.is_some_and(|l| l > room);
    if (cfg.rx_scatter || needed) && !p.rx_scatter {
        let why = match longest {
            Some(l) if needed && !cfg.rx_scatter => format!(
                "frames of --mtu {} (up to {l} bytes) do not fit one mbuf (--mbuf-size {}: {room} bytes after the \
                 headroom), and",
                cfg.mtu.unwrap_or_default(),
                cfg.mbuf_size
            ),
            _ => "--rx-scatter asks for chained mbufs, but".to_string(),
        };
        bail!(
            "port {} ({}): {why} its driver {} cannot receive into chained mbufs (no rx scatter offload){}",
            p.id,
            p.name,
            p.driver,
            if needed {
                format!("; give --mbuf-size {} or more", longest.unwrap_or_default() + u32::from(mempool::headroom()))
            } else {
                String::new()
            }
        );
    }
    Ok(cfg.rx_scatter || needed)
}

/// Ports that are started; stopped and closed on drop, on every path out of a run. The queue
/// handles borrow them, so no lcore polls a port once it is dropped.
pub struct OpenPorts<'eal>(pub Vec<Port<'eal>>);

impl OpenPorts<'_> {
    /// Every port's queue handles, in port order (once).
    pub fn queues(&self) -> Result<Vec<Queues<'_>>> {
        Ok(self.0.iter().map(Port::queues).collect::<std::result::Result<_, _>>()?)
    }
}

impl Drop for OpenPorts<'_> {
    fn drop(&mut self) {
        for mut p in self.0.drain(..) {
            if let Err(e) = p.stop() {
                eprintln!("vflag-dp: warning: {e}");
            }
            if let Err(e) = p.close() {
                eprintln!("vflag-dp: warning: {e}");
            }
        }
    }
}

/// `lacp_timers_ms`: set on an 802.3ad bond (`EalConfig::lacp_timers_ms`).
pub fn setup_ports<'eal>(
    cfg: &PortsConfig,
    lacp_timers_ms: Option<(u32, u32)>,
    eal: &'eal Eal,
    infos: &[PortInfo],
    pool: &'eal Mempool<'_>,
    open: &mut OpenPorts<'eal>,
    watch: &mut LinkWatch,
) -> Result<Vec<port::Descriptors>> {
    let mut descs = Vec::new();
    for (i, p) in infos.iter().enumerate() {
        let mut handle = eal.take_port(p.id)?;
        let pc = PortConfig {
            rx_queues: cfg.rxq,
            tx_queues: cfg.txq,
            rx_desc: cfg.rxd,
            tx_desc: cfg.txd,
            rss: cfg.rxq > 1,
            lsc_interrupt: true,
            fast_free: true,
            mtu: cfg.mtu,
            rx_scatter: rx_scatter(cfg, p)?,
        };
        let d = handle.configure(&pc, pool).with_context(|| match cfg.mtu {
            Some(m) => format!(
                "port {} ({}) with --mtu {m}: the device receives frames of at most {} bytes",
                p.id, p.name, p.max_rx_pktlen
            ),
            None => format!("port {} ({})", p.id, p.name),
        })?;
        descs.push(d);
        if i == 0 {
            if let Some(mac) = cfg.mac {
                handle.set_mac(mac).with_context(|| format!("setting port {} MAC to {}", p.id, format_mac(&mac)))?;
            }
        }
        match handle.set_promiscuous(cfg.promisc) {
            Ok(()) => {}
            Err(e) if e.errno == libc::ENOTSUP => {}
            Err(e) => return Err(e.into()),
        }
        watch.watch(p.id, p.lsc_interrupt)?;
        handle.start().with_context(|| format!("starting port {} ({})", p.id, p.name))?;
        if let Some((periodic, timeout)) = lacp_timers_ms {
            if p.driver.contains("bond") {
                port::bond_lacp_timers(p.id, periodic, timeout)
                    .with_context(|| format!("--lacp-rate on port {} ({})", p.id, p.name))?;
                println!("port {}: LACPDU every {periodic} ms, partner given up after {timeout} ms", p.id);
            }
        }
        open.0.push(handle);
        let mac = port::mac(p.id).map(|m| format_mac(&m)).unwrap_or_default();
        println!(
            "port {}: {} ({}) mac {mac}, {} rxq x {} desc, {} txq x {} desc{}",
            p.id,
            p.name,
            p.driver,
            cfg.rxq,
            d.rx,
            cfg.txq,
            d.tx,
            if pc.rx_scatter { ", rx scatter (chained mbufs)" } else { "" }
        );
    }
    Ok(descs)
}

pub fn wait_for_links(cfg: &PortsConfig, infos: &[PortInfo], signalled: &AtomicBool) {
    let deadline = Instant::now() + Duration::from_secs_f64(cfg.link_wait_s);
    loop {
        let links: Vec<_> = infos.iter().map(|p| port::link(p.id, false).ok()).collect();
        let all_up = links.iter().all(|l| l.is_some_and(|l| l.up));
        if all_up || Instant::now() >= deadline || signalled.load(Ordering::Relaxed) {
            for (p, l) in infos.iter().zip(&links) {
                println!("port {}: link {}", p.id, stats::link_text(l.as_ref()));
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The report of one port, with its counters `s` as totalled over the run.
pub fn port_report(info: &PortInfo, d: port::Descriptors, mac: &[u8; 6], s: &port::Stats) -> PortReport {
    let link = port::link(info.id, false).unwrap_or_default();
    let xstats = port::xstats(info.id).unwrap_or_default().into_iter().filter(|(_, v)| *v != 0).collect();
    PortReport {
        id: info.id,
        name: info.name.clone(),
        driver: info.driver.clone(),
        mac: format_mac(mac),
        rx_desc: d.rx,
        tx_desc: d.tx,
        link_up: link.up,
        link_speed_mbps: link.speed_mbps,
        rx_packets: s.rx_packets,
        rx_missed: s.rx_missed,
        rx_nombuf: s.rx_nombuf,
        rx_errors: s.rx_errors,
        rx_bytes: s.rx_bytes,
        tx_packets: s.tx_packets,
        tx_dropped: 0,
        tx_errors: s.tx_errors,
        tx_bytes: s.tx_bytes,
        rx_pps_avg: 0.0,
        tx_pps_avg: 0.0,
        xstats,
    }
}
