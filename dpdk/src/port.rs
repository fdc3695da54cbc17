//! Ethernet ports: discovery, the [`Port`] handle (configuration and its queue handles,
//! start/stop/close), MAC, link and statistics.

use std::cell::Cell;
use std::ffi::{c_char, CStr};
use std::marker::PhantomData;

use dpdk_sys::ffi;

use crate::eal::Eal;
use crate::error::{DpdkError, Result};
use crate::mempool::Mempool;
use crate::queue::Queues;

pub type PortId = u16;

/// Ports the application may use, in id order (bond members, owned by their bond, excluded).
pub fn available_ports() -> Vec<PortId> {
    let mut ports = Vec::new();
    let mut next: u64 = 0;
    loop {
        // SAFETY: iterates the ethdev table; returns RTE_MAX_ETHPORTS past the last port.
        let p = unsafe { ffi::rte_eth_find_next_owned_by(next as u16, 0) };
        if p >= ffi::RTE_MAX_ETHPORTS as u64 {
            break;
        }
        ports.push(p as PortId);
        next = p + 1;
    }
    ports
}

/// The port of the device called `name` (e.g. a bond member `net_memif0`), if it has one.
pub fn port_by_name(name: &str) -> Option<PortId> {
    let cname = std::ffi::CString::new(name).ok()?;
    let mut id: u16 = 0;
    // SAFETY: a valid NUL-terminated name and out-pointer.
    let ret = unsafe { ffi::rte_eth_dev_get_port_by_name(cname.as_ptr(), &mut id) };
    (ret == 0).then_some(id)
}

/// What the application needs to know about a port before configuring it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortInfo {
    pub id: PortId,
    /// The device name: a PCI address (0000:01:00.2) or a vdev name (net_null0).
    pub name: String,
    pub driver: String,
    pub max_rx_queues: u16,
    pub max_tx_queues: u16,
    pub rss_offloads: u64,
    pub tx_offload_capa: u64,
    /// The device can receive a frame into a chain of mbufs (the rx scatter offload).
    pub rx_scatter: bool,
    /// The longest frame the device says it can receive (Ethernet header to end, no FCS).
    pub max_rx_pktlen: u32,
    /// The device raises link-state-change interrupts (else its link must be polled).
    pub lsc_interrupt: bool,
    pub socket: i32,
}

pub fn info(port: PortId) -> Result<PortInfo> {
    let mut raw = ffi::rte_eth_dev_info::default();
    // SAFETY: raw is a valid out-struct.
    let ret = unsafe { ffi::rte_eth_dev_info_get(port, &mut raw) };
    DpdkError::check(ret, || format!("rte_eth_dev_info_get(port {port})"))?;
    let mut name = [0 as c_char; 128];
    let mut driver = [0 as c_char; 128];
    // SAFETY: buffers are valid for the lengths given; the shim NUL-terminates.
    let ret = unsafe {
        ffi::vflag_port_names(port, name.as_mut_ptr(), name.len() as u32, driver.as_mut_ptr(), driver.len() as u32)
    };
    DpdkError::check(ret, || format!("port names (port {port})"))?;
    // SAFETY: plain getters on a valid port.
    let (flags, socket) = unsafe { (ffi::vflag_port_dev_flags(port), ffi::rte_eth_dev_socket_id(port)) };
    // SAFETY: reads a constant.
    let (lsc_flag, scatter) = unsafe { (ffi::vflag_DEV_FLAG_INTR_LSC, ffi::vflag_RX_OFFLOAD_SCATTER) };
    Ok(PortInfo {
        id: port,
        name: c_buf_to_string(&name),
        driver: c_buf_to_string(&driver),
        max_rx_queues: raw.max_rx_queues,
        max_tx_queues: raw.max_tx_queues,
        rss_offloads: raw.flow_type_rss_offloads,
        tx_offload_capa: raw.tx_offload_capa,
        rx_scatter: raw.rx_offload_capa & scatter != 0,
        max_rx_pktlen: raw.max_rx_pktlen,
        lsc_interrupt: flags & lsc_flag != 0,
        socket,
    })
}

/// A port this process drives, from [`Eal::take_port`]: one handle per port id, so what it
/// configures (its queues) is known. Configuring gives the queue handles ([`Port::queues`]),
/// which borrow the port: it can be stopped, reconfigured or closed only once none is left.
/// Counters, link and MAC are read through the handle or, for ports the process does not
/// drive (a bond's members), by id with the functions below (DPDK checks ids there).
#[derive(Debug)]
pub struct Port<'eal> {
    id: PortId,
    rx_queues: u16,
    tx_queues: u16,
    /// The queue handles of this configuration were handed out.
    queues_given: Cell<bool>,
    _eal: PhantomData<&'eal Eal>,
}

impl Eal {
    /// The handle of port `id`: refused for an id DPDK does not know (ENODEV) or one already
    /// taken from this EAL (EBUSY).
    pub fn take_port(&self, id: PortId) -> Result<Port<'_>> {
        // SAFETY: DPDK checks the id against RTE_MAX_ETHPORTS and its table.
        if unsafe { ffi::rte_eth_dev_is_valid_port(id) } == 0 {
            return Err(DpdkError::new(format!("port {id} (no such port)"), libc::ENODEV));
        }
        if self.port_taken(id) {
            return Err(DpdkError::new(format!("port {id} (already taken)"), libc::EBUSY));
        }
        Ok(Port { id, rx_queues: 0, tx_queues: 0, queues_given: Cell::new(false), _eal: PhantomData })
    }
}

impl<'eal> Port<'eal> {
    #[inline]
    pub fn id(&self) -> PortId {
        self.id
    }

    /// Configures the port and sets up its queues, receiving into `pool`. The queue handles
    /// of this configuration are then had once from [`Port::queues`].
    /// `pool` stays borrowed as long as the port handle lives: its rings hold the pool's mbufs.
    pub fn configure(&mut self, cfg: &PortConfig, pool: &'eal Mempool<'_>) -> Result<Descriptors> {
        (self.rx_queues, self.tx_queues) = (0, 0);
        let d = configure(self.id, cfg, pool)?;
        (self.rx_queues, self.tx_queues) = (cfg.rx_queues, cfg.tx_queues);
        self.queues_given.set(false);
        Ok(d)
    }

    /// The handles of every queue the last [`Port::configure`] set up, once per configuration
    /// (a second call is refused: each queue has one handle).
    pub fn queues(&self) -> Result<Queues<'_>> {
        if self.rx_queues == 0 && self.tx_queues == 0 {
            return Err(DpdkError::new(format!("queues of port {} (not configured)", self.id), libc::EINVAL));
        }
        if self.queues_given.replace(true) {
            return Err(DpdkError::new(format!("queues of port {} (already handed out)", self.id), libc::EBUSY));
        }
        Ok(Queues::new(self.id, self.rx_queues, self.tx_queues))
    }

    pub fn start(&self) -> Result<()> {
        // SAFETY: a valid port id.
        let ret = unsafe { ffi::rte_eth_dev_start(self.id) };
        DpdkError::check(ret, || format!("rte_eth_dev_start(port {})", self.id))
    }

    /// Stops the port; no queue handle is in use (they borrow the port).
    pub fn stop(&mut self) -> Result<()> {
        // SAFETY: a valid port id, and no lcore polls it (no queue handle is alive).
        let ret = unsafe { ffi::rte_eth_dev_stop(self.id) };
        DpdkError::check(ret, || format!("rte_eth_dev_stop(port {})", self.id))
    }

    pub fn info(&self) -> Result<PortInfo> {
        info(self.id)
    }

    pub fn mac(&self) -> Result<[u8; 6]> {
        mac(self.id)
    }

    pub fn set_mac(&self, mac: [u8; 6]) -> Result<()> {
        set_mac(self.id, mac)
    }

    pub fn set_promiscuous(&self, on: bool) -> Result<()> {
        set_promiscuous(self.id, on)
    }

    pub fn link(&self, wait: bool) -> Result<Link> {
        link(self.id, wait)
    }

    pub fn stats(&self) -> Result<Stats> {
        stats(self.id)
    }

    pub fn stats_reset(&self) -> Result<()> {
        stats_reset(self.id)
    }

    /// Closes the port (it frees its queues); the handle goes with it.
    pub fn close(self) -> Result<()> {
        // SAFETY: a valid port id; no queue handle is alive (they borrow the port).
        let ret = unsafe { ffi::rte_eth_dev_close(self.id) };
        DpdkError::check(ret, || format!("rte_eth_dev_close(port {})", self.id))
    }
}

fn c_buf_to_string(buf: &[c_char]) -> String {
    // SAFETY: the shim wrote a NUL-terminated string within the buffer.
    unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned()
}

/// Queue and offload settings for [`Port::configure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortConfig {
    pub rx_queues: u16,
    pub tx_queues: u16,
    pub rx_desc: u16,
    pub tx_desc: u16,
    /// Spread received flows over the rx queues by IP/UDP/TCP hash (needs rx_queues > 1).
    pub rss: bool,
    pub lsc_interrupt: bool,
    /// Tx mbufs all come from one pool and are not shared (lets the driver free them in bulk).
    pub fast_free: bool,
    /// The MTU to configure (None: the device's default).
    pub mtu: Option<u16>,
    /// Receive frames longer than one mbuf into chained mbufs (the rx scatter offload; the
    /// caller checks [`PortInfo::rx_scatter`] first).
    pub rx_scatter: bool,
}

/// Descriptor counts the driver accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Descriptors {
    pub rx: u16,
    pub tx: u16,
}

/// Configures `port` and sets up its queues, receiving into `pool` (for [`Port::configure`],
/// which knows then which queues exist).
fn configure(port: PortId, cfg: &PortConfig, pool: &Mempool<'_>) -> Result<Descriptors> {
    let info = info(port)?;
    // SAFETY: reads constants.
    let (rss_all, fast_free, scatter) =
        unsafe { (ffi::vflag_RSS_HF_IP_UDP_TCP, ffi::vflag_TX_OFFLOAD_MBUF_FAST_FREE, ffi::vflag_RX_OFFLOAD_SCATTER) };
    let conf = ffi::vflag_port_conf {
        nb_rxq: cfg.rx_queues,
        nb_txq: cfg.tx_queues,
        rss_hf: if cfg.rss && cfg.rx_queues > 1 { rss_all & info.rss_offloads } else { 0 },
        tx_offloads: if cfg.fast_free { fast_free & info.tx_offload_capa } else { 0 },
        rx_offloads: if cfg.rx_scatter { scatter } else { 0 },
        mtu: cfg.mtu.unwrap_or(0),
        lsc_intr: u8::from(cfg.lsc_interrupt && info.lsc_interrupt),
    };
    // SAFETY: conf is a valid struct for the duration of the call.
    let ret = unsafe { ffi::vflag_port_configure(port, &conf) };
    DpdkError::check(ret, || {
        let mtu = cfg.mtu.map(|m| format!(", MTU {m}")).unwrap_or_default();
        let scatter = if cfg.rx_scatter { ", rx scatter" } else { "" };
        format!("rte_eth_dev_configure(port {port}, {} rxq, {} txq{mtu}{scatter})", cfg.rx_queues, cfg.tx_queues)
    })?;
    let (mut rxd, mut txd) = (cfg.rx_desc, cfg.tx_desc);
    // SAFETY: valid out-pointers.
    let ret = unsafe { ffi::rte_eth_dev_adjust_nb_rx_tx_desc(port, &mut rxd, &mut txd) };
    DpdkError::check(ret, || format!("rte_eth_dev_adjust_nb_rx_tx_desc(port {port})"))?;
    let socket = info.socket.max(-1);
    for q in 0..cfg.rx_queues {
        // SAFETY: NULL rx_conf selects the driver's defaults; the pool outlives the port.
        let ret = unsafe { ffi::rte_eth_rx_queue_setup(port, q, rxd, socket as u32, std::ptr::null(), pool.as_ptr()) };
        DpdkError::check(ret, || format!("rte_eth_rx_queue_setup(port {port}, queue {q}, {rxd} descriptors)"))?;
    }
    for q in 0..cfg.tx_queues {
        // SAFETY: NULL tx_conf selects the driver's defaults (port-level offloads apply).
        let ret = unsafe { ffi::rte_eth_tx_queue_setup(port, q, txd, socket as u32, std::ptr::null()) };
        DpdkError::check(ret, || format!("rte_eth_tx_queue_setup(port {port}, queue {q}, {txd} descriptors)"))?;
    }
    Ok(Descriptors { rx: rxd, tx: txd })
}

pub fn set_mac(port: PortId, mac: [u8; 6]) -> Result<()> {
    let mut addr = ffi::rte_ether_addr { addr_bytes: mac };
    // SAFETY: addr is a valid address struct.
    let ret = unsafe { ffi::rte_eth_dev_default_mac_addr_set(port, &mut addr) };
    DpdkError::check(ret, || format!("rte_eth_dev_default_mac_addr_set(port {port})"))
}

pub fn mac(port: PortId) -> Result<[u8; 6]> {
    let mut addr = ffi::rte_ether_addr { addr_bytes: [0; 6] };
    // SAFETY: addr is a valid out-struct.
    let ret = unsafe { ffi::rte_eth_macaddr_get(port, &mut addr) };
    DpdkError::check(ret, || format!("rte_eth_macaddr_get(port {port})"))?;
    Ok(addr.addr_bytes)
}

/// Turns promiscuous mode on or off. Drivers without it return ENOTSUP.
pub fn set_promiscuous(port: PortId, on: bool) -> Result<()> {
    // SAFETY: valid port id.
    let ret = unsafe {
        if on {
            ffi::rte_eth_promiscuous_enable(port)
        } else {
            ffi::rte_eth_promiscuous_disable(port)
        }
    };
    DpdkError::check(ret, || format!("promiscuous {} (port {port})", if on { "on" } else { "off" }))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Link {
    pub up: bool,
    pub speed_mbps: u32,
    pub full_duplex: bool,
    pub autoneg: bool,
}

/// The port's link. `wait` lets the driver take up to ~9 s to settle (as rte_eth_link_get).
pub fn link(port: PortId, wait: bool) -> Result<Link> {
    let mut raw = ffi::vflag_link::default();
    // SAFETY: raw is a valid out-struct.
    let ret = unsafe { ffi::vflag_link_get(port, i32::from(wait), &mut raw) };
    DpdkError::check(ret, || format!("rte_eth_link_get(port {port})"))?;
    Ok(Link {
        up: raw.up != 0,
        speed_mbps: raw.speed_mbps,
        full_duplex: raw.full_duplex != 0,
        autoneg: raw.autoneg != 0,
    })
}

/// The port's basic counters (`rte_eth_stats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    /// Dropped by the hardware because no rx descriptor was free.
    pub rx_missed: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_nombuf: u64,
}

pub fn stats(port: PortId) -> Result<Stats> {
    let mut raw = ffi::rte_eth_stats::default();
    // SAFETY: raw is a valid out-struct.
    let ret = unsafe { ffi::rte_eth_stats_get(port, &mut raw) };
    DpdkError::check(ret, || format!("rte_eth_stats_get(port {port})"))?;
    Ok(Stats {
        rx_packets: raw.ipackets,
        tx_packets: raw.opackets,
        rx_bytes: raw.ibytes,
        tx_bytes: raw.obytes,
        rx_missed: raw.imissed,
        rx_errors: raw.ierrors,
        tx_errors: raw.oerrors,
        rx_nombuf: raw.rx_nombuf,
    })
}

/// Adds `member` to, or removes it from, the `net_bonding` port `bond` while it runs: how a
/// member's link change reaches the bond when the member's driver cannot report it itself.
pub fn bond_member_set(bond: PortId, member: PortId, present: bool) -> Result<()> {
    // SAFETY: plain values; the bonding driver checks both port ids.
    let ret = unsafe { ffi::vflag_bond_member_set(bond, member, i32::from(present)) };
    // The bonding API returns -1 without an errno of its own.
    let ret = if ret == -1 { -libc::EINVAL } else { ret };
    let what = if present { "add" } else { "remove" };
    DpdkError::check(ret, || format!("bond member {what} (bond port {bond}, member port {member})"))
}

/// An 802.3ad bond's LACP timers: a LACPDU every `periodic_ms`, a partner silent for
/// `timeout_ms` given up (Linux's `lacp_rate fast` is 1000 and 3000; DPDK's defaults are 29 s
/// and 90 s, since its actor never asks its partner for the short timeout).
pub fn bond_lacp_timers(bond: PortId, periodic_ms: u32, timeout_ms: u32) -> Result<()> {
    // SAFETY: plain values; the bonding driver checks the port id and its mode.
    let ret = unsafe { ffi::vflag_bond_lacp_timers(bond, periodic_ms, timeout_ms) };
    let ret = if ret == -1 { -libc::EINVAL } else { ret };
    DpdkError::check(ret, || format!("LACP timers of bond port {bond} ({periodic_ms} ms, timeout {timeout_ms} ms)"))
}

pub fn stats_reset(port: PortId) -> Result<()> {
    // SAFETY: valid port id.
    let ret = unsafe { ffi::rte_eth_stats_reset(port) };
    DpdkError::check(ret, || format!("rte_eth_stats_reset(port {port})"))
}

/// The driver's extended statistics, by name.
pub fn xstats(port: PortId) -> Result<Vec<(String, u64)>> {
    // SAFETY: a NULL array asks for the count.
    let n = unsafe { ffi::rte_eth_xstats_get_names(port, std::ptr::null_mut(), 0) };
    DpdkError::check(n, || format!("rte_eth_xstats_get_names(port {port})"))?;
    let n = n as usize;
    let mut names = vec![ffi::rte_eth_xstat_name::default(); n];
    let mut values = vec![ffi::rte_eth_xstat::default(); n];
    // SAFETY: both arrays hold n entries.
    let got_names = unsafe { ffi::rte_eth_xstats_get_names(port, names.as_mut_ptr(), n as u32) };
    DpdkError::check(got_names, || format!("rte_eth_xstats_get_names(port {port})"))?;
    // SAFETY: as above.
    let got = unsafe { ffi::rte_eth_xstats_get(port, values.as_mut_ptr(), n as u32) };
    DpdkError::check(got, || format!("rte_eth_xstats_get(port {port})"))?;
    let count = (got as usize).min(got_names as usize).min(n);
    Ok(values[..count]
        .iter()
        .filter_map(|v| {
            let name = names.get(v.id as usize)?;
            Some((c_buf_to_string(&name.name), v.value))
        })
        .collect())
}
