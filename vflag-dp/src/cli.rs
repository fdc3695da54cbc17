//! The command line: clap options in groups (each its own `--help` section), and their
//! validation into a [`Config`] before the EAL starts. `Config` is made of the parts the lower
//! layers take, each only its own: the EAL's ([`EalConfig`]), the ports' ([`PortsConfig`]), the
//! forwarding loops' ([`Forwarding`]), the generator's ([`GenOptions`]), the receiver's
//! ([`RxOptions`]) and the verdict's ([`Limits`]).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser};
use serde::Serialize;

use crate::analysis::RxOptions;
pub use crate::eal_config::{BondHash, BondMode, EalConfig, LacpRate};
use crate::gen::GenOptions;
pub use crate::mode::{Forwarding, FwdMode};
use crate::parse;
use crate::ports::PortsConfig;
use crate::verdict::Limits;

#[derive(Debug, Parser)]
#[command(
    name = "vflag-dp",
    version,
    about = "testpmd-style DPDK dataplane for VF-LAG: forward, generate, receive and count",
    after_help = "Example, on the VF of an mlx5 VF-LAG:\n  vflag-dp --lcores 1-2 -a 0000:01:00.2 --mac 52:54:00:00:00:01\n\
                  On virtual devices:\n  vflag-dp --lcores 0-1 --vdev net_null0 --vdev net_null1 --fwd io --no-huge -m 512 --duration 5"
)]
pub struct Cli {
    #[command(flatten)]
    pub eal: EalArgs,
    #[command(flatten)]
    pub ports: PortArgs,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub gen: GenArgs,
    #[command(flatten)]
    pub rx: RxArgs,
    #[command(flatten)]
    pub verdict: VerdictArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The EAL: lcores, devices, memory and other EAL options.
#[derive(Debug, Args)]
#[command(next_help_heading = "EAL")]
pub struct EalArgs {
    /// Lcores to use (list/ranges, e.g. 1-2 or 0,2-3): the first is the main lcore, the rest forward.
    #[arg(long, value_name = "LIST", value_parser = parse_lcores)]
    pub lcores: Option<Lcores>,
    /// PCI device to use (EAL allow-list), e.g. 0000:01:00.2; repeatable.
    #[arg(short = 'a', long = "allow", value_name = "PCI", value_parser = parse::pci_device)]
    pub allow: Vec<String>,
    /// Virtual device, e.g. net_null0 or net_memif0,role=server; repeatable.
    #[arg(long, value_name = "DEV")]
    pub vdev: Vec<String>,
    /// EAL --file-prefix (needed to run two DPDK processes side by side).
    #[arg(long, value_name = "NAME")]
    pub file_prefix: Option<String>,
    /// Run without hugepages (EAL --no-huge); pair it with -m.
    #[arg(long)]
    pub no_huge: bool,
    /// Memory to reserve in MB (EAL -m).
    #[arg(short = 'm', long, value_name = "MB", value_parser = clap::value_parser!(u32).range(16..))]
    pub memory: Option<u32>,
    /// Any other EAL options, as one string (e.g. --eal "--log-level=pmd.net.mlx5:debug").
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    pub eal: Option<String>,
}

/// The ports: queues, descriptors, mbufs, MTU, MAC, the bond.
#[derive(Debug, Args)]
#[command(next_help_heading = "Ports")]
pub struct PortArgs {
    /// Set port 0's MAC address (like testpmd `mac_addr set 0 MAC`).
    #[arg(long, value_name = "MAC", value_parser = parse::mac)]
    pub mac: Option<[u8; 6]>,
    /// Rx queues per port (RSS spreads flows over them; queues are spread over forwarding lcores).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub rxq: u16,
    /// Tx queues per port [default: same as --rxq].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub txq: Option<u16>,
    /// Rx descriptors per queue.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u16).range(16..))]
    pub rxd: u16,
    /// Tx descriptors per queue.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u16).range(16..))]
    pub txd: u16,
    /// Mbufs in the pool [default: enough for all queues, lcore caches and bursts].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1024..))]
    pub mbufs: Option<u32>,
    /// Data room of each mbuf in bytes, the 128-byte headroom included (as testpmd's
    /// --mbuf-size) [default: 2176]. A received frame longer than the rest arrives in chained
    /// mbufs (see --rx-scatter); a generated one must fit in one.
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u16).range(MBUF_SIZE_MIN..))]
    pub mbuf_size: Option<u16>,
    /// The ports' MTU in bytes, e.g. 9000 for jumbo frames [default: the device's]. When a frame
    /// of this MTU does not fit one mbuf, --rx-scatter is implied.
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u16).range(68..))]
    pub mtu: Option<u16>,
    /// Receive frames longer than one mbuf into chained mbufs (the device's rx scatter offload;
    /// a port whose driver has none is refused).
    #[arg(long)]
    pub rx_scatter: bool,
    /// Leave promiscuous mode off.
    #[arg(long)]
    pub no_promisc: bool,
    /// How long to wait at start for every port's link to come up.
    #[arg(long, default_value = "5s", value_parser = parse::duration)]
    pub link_wait: Duration,
    /// Stack a DPDK bond (net_bonding) over all the given devices and run on the bond.
    #[arg(long, value_enum)]
    pub bond: Option<BondMode>,
    /// The bond's transmit hash (xor, lacp): l34 spreads flows that differ in IP or ports.
    #[arg(long, value_enum, default_value = "l34")]
    pub bond_hash: BondHash,
    /// --bond lacp: how often LACPDUs go out and how soon a silent partner is given up. slow is
    /// DPDK's (every 29 s, given up after 90 s); fast is Linux's `lacp_rate fast` (1 s, 3 s).
    #[arg(long, value_enum, default_value = "slow")]
    pub lacp_rate: LacpRate,
}

/// What the forwarding lcores do, and how long.
#[derive(Debug, Args)]
#[command(next_help_heading = "Forwarding and run")]
pub struct RunArgs {
    /// Forwarding mode.
    #[arg(long, value_enum, default_value = "rxonly")]
    pub fwd: FwdMode,
    /// Packets per rx/tx burst (1-512).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=512))]
    pub burst: u16,
    /// Stop after this many packets: sent (txonly: never dropped, retried; with --duration the
    /// ports then stay up until it ends) or received (other modes).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// Run this long (e.g. 30, 30s, 500ms, 2m) [default: until Ctrl-C].
    #[arg(long, value_parser = parse::duration)]
    pub duration: Option<Duration>,
    /// Stop (cleanly, as on SIGTERM) when standard input closes: a far side started over ssh or
    /// `ip netns exec` then stops with the soak that started it, whatever way the soak ends.
    #[arg(long)]
    pub stop_on_eof: bool,
}

/// What gen and txonly send.
#[derive(Debug, Args)]
#[command(next_help_heading = "Generator")]
pub struct GenArgs {
    /// Frame length of generated packets in bytes, without FCS (txonly: 60-9600; gen: 64-9600;
    /// over 2048, raise --mbuf-size to hold it).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(60..=9600))]
    pub pkt_size: u16,
    /// Destination MAC of generated (txonly) and mac-mode frames [default: 02:00:00:00:00:PORT].
    #[arg(long, value_name = "MAC", value_parser = parse::any_mac)]
    pub dst_mac: Option<[u8; 6]>,
    /// gen: source MAC [default: the sending port's MAC].
    #[arg(long, value_name = "MAC", value_parser = parse::any_mac)]
    pub src_mac: Option<[u8; 6]>,
    /// gen: first source IPv4 address; flow i uses this plus i.
    #[arg(long, value_name = "IP", default_value = "198.18.0.1", value_parser = parse::ipv4)]
    pub src_ip: [u8; 4],
    /// gen: destination IPv4 address.
    #[arg(long, value_name = "IP", default_value = "198.18.0.2", value_parser = parse::ipv4)]
    pub dst_ip: [u8; 4],
    /// gen: distinct flows (the source IP steps per flow, so LAG and RSS hashes spread them).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..))]
    pub flows: u16,
    /// gen/txonly: rate for the whole run, frames/s (100000, 1.5Mpps) or on the wire (500Mbps, 10Gbps)
    /// [default: as fast as possible].
    #[arg(long, value_parser = parse::rate)]
    pub rate: Option<parse::Rate>,
    /// gen: the run id to send; rxonly: the only run id to track (others count as other_run)
    /// [default: gen picks one; rxonly tracks the run most of the first frames belong to].
    #[arg(long, value_name = "ID")]
    pub run_id: Option<u16>,
}

/// What rxonly, reflect and gen-rx make of received frames.
#[derive(Debug, Args)]
#[command(next_help_heading = "Receiver and analysis")]
pub struct RxArgs {
    /// rxonly, reflect, gen-rx: do not analyse received frames (plain counting, like testpmd's rxonly).
    #[arg(long)]
    pub no_track: bool,
    /// rxonly: the shortest silence that counts as an outage, ms.
    #[arg(long, default_value_t = 10.0)]
    pub gap_ms: f64,
    /// rxonly benchmark: alternate slices of this many ms with and without the analysis on each
    /// receiving lcore and report both rates (what the analysis costs, measured in one process;
    /// no outages are detected in this mode).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub interleave_ms: Option<u32>,
    /// Width of the rate timeline's bins, ms.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub bin_ms: u64,
    /// rxonly: how many flow ids of vflag-dp's own traffic to track per lcore.
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub track_flows: u32,
    /// rxonly: how many foreign 5-tuples (traffic vflag-dp did not send) to follow per lcore,
    /// each with its arrivals so that its own outages show; frames of flows beyond it are
    /// counted as overflow. 0 counts foreign frames without following any flow.
    #[arg(long, value_name = "N", default_value_t = 65_536, value_parser = clap::value_parser!(u32).range(0..=1_048_576))]
    pub track_foreign: u32,
}

/// The thresholds the run passes or fails (exit 3).
#[derive(Debug, Args)]
#[command(next_help_heading = "Verdict")]
pub struct VerdictArgs {
    /// Fail (exit 3) if any outage lasts longer than this, ms.
    #[arg(long)]
    pub max_outage_ms: Option<f64>,
    /// Fail if more tracked frames are lost than this (frames, or % like 0.1%).
    #[arg(long, value_parser = parse::loss_limit)]
    pub max_loss: Option<parse::LossLimit>,
    /// Fail if a bond member carries less than this share of the traffic, %.
    #[arg(long, value_parser = parse::percent)]
    pub min_member_share: Option<f64>,
}

/// What is printed and written while and after it runs.
#[derive(Debug, Args)]
#[command(next_help_heading = "Output")]
pub struct OutputArgs {
    /// Print per-port rates this often; 0 turns them off.
    #[arg(long, default_value = "1s", value_parser = parse::duration)]
    pub stats_interval: Duration,
    /// Print every received packet (port/queue, MACs, ethertype, length, RSS hash).
    #[arg(long)]
    pub verbose: bool,
    /// Write events (link changes, outages, periodic samples) as JSON Lines as they happen.
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// Write the final report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write the verdict as JUnit XML (for Jenkins, GitLab): a testcase per threshold given
    /// (--max-loss, --max-outage-ms, --min-member-share).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

/// The smallest --mbuf-size: the headroom and a minimum frame, with room to spare.
const MBUF_SIZE_MIN: i64 = 256;

/// An lcore list as given on the command line (one value, many lcores).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lcores(pub Vec<u32>);

fn parse_lcores(s: &str) -> Result<Lcores, String> {
    parse::lcore_list(s).map(Lcores)
}

/// When the run stops and what it writes: the main lcore's part.
#[derive(Debug, Clone, Serialize)]
pub struct RunControl {
    pub count: Option<u64>,
    pub duration_s: Option<f64>,
    pub stop_on_eof: bool,
    pub stats_interval_s: f64,
    pub events: Option<PathBuf>,
    pub json: Option<PathBuf>,
    pub junit: Option<PathBuf>,
}

/// Validated settings, checked before the EAL starts. The report's `settings` is this, its
/// parts flattened into one object of the names it always had.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    #[serde(flatten)]
    pub eal: EalConfig,
    #[serde(flatten)]
    pub ports: PortsConfig,
    #[serde(flatten)]
    pub forwarding: Forwarding,
    #[serde(flatten)]
    pub gen: GenOptions,
    #[serde(flatten)]
    pub rx: RxOptions,
    /// gen: the run id sent; rxonly: the only one tracked.
    pub run_id: Option<u16>,
    #[serde(flatten)]
    pub limits: Limits,
    #[serde(flatten)]
    pub run: RunControl,
}

impl Config {
    /// Checks what clap cannot, and what needs several options together: lcores against this
    /// machine, queue counts, the frame against the mbuf, limits against the mode, file paths.
    pub fn from_cli(cli: Cli, online: Option<&[u32]>) -> Result<Config, String> {
        let Some(Lcores(lcores)) = cli.eal.lcores.clone() else {
            return Err("--lcores is required (e.g. --lcores 1-2: main lcore 1, forwarding lcore 2)".into());
        };
        if lcores.len() < 2 {
            return Err(format!(
                "--lcores {} gives no forwarding lcore: list the main lcore and at least one more",
                lcores[0]
            ));
        }
        if let Some(online) = online {
            if let Some(bad) = lcores.iter().find(|l| !online.contains(l)) {
                return Err(format!(
                    "lcore {bad} does not exist on this machine (online CPUs: {})",
                    online.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
                ));
            }
        }
        let txq = cli.ports.txq.unwrap_or(cli.ports.rxq);
        if txq < cli.ports.rxq {
            return Err(format!(
                "--txq {txq} is less than --rxq {}: each forwarding stream needs its own tx queue",
                cli.ports.rxq
            ));
        }
        if cli.eal.allow.is_empty() && cli.eal.vdev.is_empty() {
            // Probing every device on the host would take NICs the user did not name.
            return Err("no device given: name the port with -a PCI or --vdev DEV".into());
        }
        if let Some(v) = cli.eal.vdev.iter().find(|v| v.trim().is_empty() || v.starts_with('-')) {
            return Err(format!("--vdev '{v}' is not a device name (e.g. net_null0)"));
        }
        if cli.run.fwd.tracked_gen() && cli.gen.pkt_size < 64 {
            return Err(format!(
                "--pkt-size {} is too small for gen: tracked frames need at least 64 bytes",
                cli.gen.pkt_size
            ));
        }
        let mbuf_size = cli.ports.mbuf_size.unwrap_or_else(dpdk::mempool::default_buf_size);
        let headroom = dpdk::mempool::headroom();
        let generates = cli.run.fwd.generates();
        if generates && u32::from(cli.gen.pkt_size) + u32::from(headroom) > u32::from(mbuf_size) {
            return Err(format!(
                "--pkt-size {} does not fit one mbuf: --mbuf-size {mbuf_size} holds {} bytes after the {headroom}-byte \
                 headroom; give --mbuf-size {} or more",
                cli.gen.pkt_size,
                mbuf_size - headroom,
                u32::from(cli.gen.pkt_size) + u32::from(headroom)
            ));
        }
        if cli.rx.no_track && cli.run.fwd == FwdMode::GenRx {
            // gen-rx exists to analyse what comes back: without the analysis its report is empty.
            return Err(
                "--no-track with --fwd gen-rx: gen-rx analyses the frames that come back; use --fwd gen to only send"
                    .into(),
            );
        }
        if !(cli.rx.gap_ms.is_finite() && cli.rx.gap_ms > 0.0) {
            return Err(format!("--gap-ms {} must be a positive number of milliseconds", cli.rx.gap_ms));
        }
        if let Some(ms) = cli.rx.interleave_ms {
            if cli.run.fwd != FwdMode::Rxonly || cli.rx.no_track {
                return Err(format!(
                    "--interleave-ms {ms} compares analysing with plain receiving: it needs --fwd rxonly without --no-track"
                ));
            }
            // Frames of the plain slices look lost to the analysis, and their time silent.
            if cli.verdict.max_loss.is_some() || cli.verdict.max_outage_ms.is_some() {
                return Err(format!(
                    "--interleave-ms {ms} is a benchmark of the analysis: loss and outages are not measured, so --max-loss and --max-outage-ms do not apply"
                ));
            }
        }
        if let Some(j) = &cli.output.junit {
            if cli.verdict.max_loss.is_none()
                && cli.verdict.max_outage_ms.is_none()
                && cli.verdict.min_member_share.is_none()
            {
                return Err(format!(
                    "--junit {}: there is nothing to report without a threshold: give --max-loss, --max-outage-ms or --min-member-share",
                    j.display()
                ));
            }
        }
        if let Some(m) = cli.verdict.max_outage_ms {
            if !(m.is_finite() && m >= 0.0) {
                return Err(format!("--max-outage-ms {m} must be zero or positive"));
            }
        }
        if let Some(p) = &cli.eal.file_prefix {
            if p.is_empty() || p.contains('/') {
                return Err(format!("--file-prefix '{p}' must be a non-empty name without '/'"));
            }
        }
        if cli.ports.lacp_rate != LacpRate::Slow && cli.ports.bond != Some(BondMode::Lacp) {
            return Err("--lacp-rate fast needs --bond lacp (the bond whose LACP it sets)".into());
        }
        if cli.ports.bond.is_some() && cli.eal.vdev.iter().any(|v| crate::bond::members(v).is_some()) {
            return Err("--bond stacks its own net_bonding device: do not also give one with --vdev".into());
        }
        let eal_extra = match &cli.eal.eal {
            Some(s) => shlex::split(s).ok_or_else(|| format!("--eal '{s}' has unbalanced quotes"))?,
            None => Vec::new(),
        };
        let Cli { eal, ports, run, gen, rx, verdict, output } = cli;
        Ok(Config {
            eal: EalConfig {
                main_lcore: lcores[0],
                fwd_lcores: lcores[1..].to_vec(),
                allow: eal.allow,
                vdevs: eal.vdev,
                file_prefix: eal.file_prefix,
                no_huge: eal.no_huge,
                memory_mb: eal.memory,
                eal_extra,
                bond: ports.bond,
                bond_hash: ports.bond_hash,
                lacp_rate: ports.lacp_rate,
            },
            ports: PortsConfig {
                mac: ports.mac,
                rxq: ports.rxq,
                txq,
                rxd: ports.rxd,
                txd: ports.txd,
                mbufs: ports.mbufs,
                mbuf_size,
                mtu: ports.mtu,
                rx_scatter: ports.rx_scatter,
                promisc: !ports.no_promisc,
                link_wait_s: ports.link_wait.as_secs_f64(),
            },
            forwarding: Forwarding { mode: run.fwd, burst: run.burst, pkt_size: gen.pkt_size, verbose: output.verbose },
            gen: GenOptions {
                dst_mac: gen.dst_mac,
                src_mac: gen.src_mac,
                src_ip: gen.src_ip.into(),
                dst_ip: gen.dst_ip.into(),
                flows: gen.flows,
                rate: gen.rate,
            },
            rx: RxOptions {
                track: !rx.no_track,
                gap_ms: rx.gap_ms,
                interleave_ms: rx.interleave_ms,
                bin_ms: rx.bin_ms,
                track_flows: rx.track_flows,
                track_foreign: rx.track_foreign,
            },
            run_id: gen.run_id,
            limits: Limits {
                max_outage_ms: verdict.max_outage_ms,
                max_loss: verdict.max_loss,
                min_member_share: verdict.min_member_share,
            },
            run: RunControl {
                count: run.count,
                duration_s: run.duration.map(|d| d.as_secs_f64()),
                stop_on_eof: run.stop_on_eof,
                stats_interval_s: output.stats_interval.as_secs_f64(),
                events: output.events,
                json: output.json,
                junit: output.junit,
            },
        })
    }

    /// The --rate in frames per second for the whole run (None: as fast as possible).
    pub fn rate_pps(&self) -> Option<f64> {
        self.gen.rate_pps(self.forwarding.pkt_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(args: &str) -> Result<Config, String> {
        let argv = std::iter::once("vflag-dp").chain(args.split_whitespace());
        let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
        Config::from_cli(cli, Some(&[0, 1, 2, 3]))
    }

    #[test]
    fn the_hardware_command_maps_to_eal_args() {
        let c = cfg("--lcores 1-2 -a 0000:01:00.2 --mac 52:54:00:00:00:01").unwrap();
        assert_eq!(c.eal.main_lcore, 1);
        assert_eq!(c.eal.fwd_lcores, vec![2]);
        assert_eq!(c.forwarding.mode, FwdMode::Rxonly);
        assert_eq!(c.ports.mac, Some([0x52, 0x54, 0, 0, 0, 1]));
        assert_eq!(c.eal.eal_args(), ["-l", "1,2", "--main-lcore", "1", "-a", "0000:01:00.2"]);
    }

    #[test]
    fn the_round_trip_modes_generate_analyse_or_both() {
        let r = cfg("--lcores 0-1 --vdev net_null0 --fwd reflect --stop-on-eof").unwrap();
        assert_eq!(r.forwarding.mode, FwdMode::Reflect);
        assert!(r.run.stop_on_eof);
        assert!(r.forwarding.mode.analyses() && !r.forwarding.mode.generates());
        let g = cfg("--lcores 0-1 --vdev net_null0 --fwd gen-rx --flows 8").unwrap();
        assert!(g.forwarding.mode.analyses() && g.forwarding.mode.generates() && g.forwarding.mode.tracked_gen());
        assert_eq!(serde_json::to_value(g.forwarding.mode).unwrap(), "gen-rx", "as on the command line");
        assert_eq!(g.forwarding.mode.name(), "gen-rx");
        let e = cfg("--lcores 0-1 --vdev net_null0 --fwd gen-rx --pkt-size 60").unwrap_err();
        assert!(e.contains("--pkt-size 60"), "{e}");
        let e = cfg("--lcores 0-1 --vdev net_null0 --fwd reflect --interleave-ms 10").unwrap_err();
        assert!(e.contains("--interleave-ms 10"), "{e}");
        let e = cfg("--lcores 0-1 --vdev net_null0 --fwd gen-rx --no-track").unwrap_err();
        assert!(e.contains("--no-track") && e.contains("gen-rx"), "{e}");
        assert!(!cfg("--lcores 0-1 --vdev net_null0 --fwd reflect --no-track").unwrap().rx.track);
    }

    #[test]
    fn the_settings_keep_one_object_of_the_names_they_always_had() {
        // The report's `settings` (and the `start` event's): the parts flattened, so a reader
        // (the soak reads `settings.bond`) sees the 49 names it always did.
        let c = cfg("--lcores 0-1 --vdev net_null0 --mac 52:54:00:00:00:01 --fwd gen --rate 1Mpps --max-loss 0 \
                     --duration 2 --bond lacp --json r.json")
        .unwrap();
        let v = serde_json::to_value(&c).unwrap();
        let mut want: serde_json::Value = serde_json::from_str(
            r#"{
            "main_lcore": 0, "fwd_lcores": [1], "allow": [], "vdevs": ["net_null0"],
            "mac": "52:54:00:00:00:01", "dst_mac": null, "fwd": "gen", "rxq": 1, "txq": 1, "rxd": 1024,
            "txd": 1024, "burst": 32, "mbufs": null, "pkt_size": 64, "mbuf_size": 2176, "mtu": null,
            "rx_scatter": false, "src_mac": null, "src_ip": "198.18.0.1", "dst_ip": "198.18.0.2",
            "flows": 64, "track": true, "gap_ms": 10.0, "interleave_ms": null, "bin_ms": 10,
            "track_flows": 4096, "track_foreign": 65536, "run_id": null, "events": null,
            "max_outage_ms": null, "min_member_share": null, "count": null, "promisc": true,
            "duration_s": 2.0, "stop_on_eof": false, "stats_interval_s": 1.0, "link_wait_s": 5.0,
            "verbose": false, "json": "r.json", "junit": null, "file_prefix": null, "no_huge": false,
            "memory_mb": null, "eal_extra": [], "bond": "lacp", "bond_hash": "l34", "lacp_rate": "slow"
            }"#,
        )
        .unwrap();
        want["rate"] = serde_json::to_value(parse::rate("1Mpps").unwrap()).unwrap();
        want["max_loss"] = serde_json::to_value(parse::loss_limit("0").unwrap()).unwrap();
        assert_eq!(v.as_object().unwrap().len(), 49);
        assert_eq!(v, want);
    }

    #[test]
    fn vdevs_only_skip_pci_and_pass_memory_options() {
        let c = cfg("--lcores 0-1 --vdev net_null0 --vdev net_null1 --no-huge -m 512 --file-prefix t1").unwrap();
        assert_eq!(
            c.eal.eal_args(),
            [
                "-l",
                "0,1",
                "--main-lcore",
                "0",
                "--no-pci",
                "--vdev",
                "net_null0",
                "--vdev",
                "net_null1",
                "--file-prefix",
                "t1",
                "--no-huge",
                "-m",
                "512"
            ]
        );
    }

    #[test]
    fn bond_is_stacked_over_every_device() {
        let c =
            cfg("--lcores 0-1 --vdev net_af_packet0,iface=vb0 --vdev net_af_packet1,iface=vb1 --bond lacp").unwrap();
        let key = dpdk::version::BOND_MEMBER_KEY;
        let want = format!("net_bonding0,mode=4,{key}=net_af_packet0,{key}=net_af_packet1,xmit_policy=l34");
        assert_eq!(c.eal.bond_vdev().as_deref(), Some(want.as_str()));
        assert_eq!(c.eal.eal_args().last(), Some(&want));
        assert!(c.eal.lacp());
        let ab = cfg("--lcores 0-1 -a 0000:01:00.0 -a 0000:01:00.1 --bond active-backup --bond-hash l2").unwrap();
        assert_eq!(ab.eal.bond_vdev().unwrap(), format!("net_bonding0,mode=1,{key}=0000:01:00.0,{key}=0000:01:00.1"));
        assert!(!ab.eal.lacp());
        assert!(cfg("--lcores 0-1 --vdev net_null0 --bond xor --vdev net_bonding0,mode=2,slave=net_null0")
            .unwrap_err()
            .contains("--bond stacks its own"));
        assert!(cfg("--lcores 0-1 --vdev net_null0 --bond bogus").unwrap_err().contains("'bogus'"));
        let fast = cfg("--lcores 0-1 --vdev net_null0 --vdev net_null1 --bond lacp --lacp-rate fast").unwrap();
        assert_eq!(fast.eal.lacp_rate.timers_ms(), Some((1000, 3000)), "Linux's lacp_rate fast");
        assert_eq!(cfg("--lcores 0-1 --vdev net_null0 --bond lacp").unwrap().eal.lacp_rate.timers_ms(), None);
        assert_eq!(
            cfg("--lcores 0-1 --vdev net_null0 --bond xor --lacp-rate fast").unwrap_err(),
            "--lacp-rate fast needs --bond lacp (the bond whose LACP it sets)"
        );
    }

    #[test]
    fn extra_eal_args_are_split_like_a_shell() {
        let argv = ["vflag-dp", "--lcores", "0-1", "--vdev", "net_null0", "--eal", "--log-level='lib.eal:debug' -n 4"];
        let c = Config::from_cli(Cli::try_parse_from(argv).unwrap(), None).unwrap();
        assert_eq!(c.eal.eal_extra, ["--log-level=lib.eal:debug", "-n", "4"]);
    }

    #[test]
    fn the_primary_prefix_is_the_last_one_given() {
        let prefix = |args: &str| cfg(&format!("--lcores 0-1 --vdev net_null0 {args}")).unwrap().eal.primary_prefix();
        assert_eq!(prefix(""), Some("rte".into()));
        assert_eq!(prefix("--file-prefix a"), Some("a".into()));
        assert_eq!(prefix("--file-prefix a --eal=--file-prefix=b"), Some("b".into()));
        assert_eq!(prefix("--file-prefix a --eal=--in-memory"), None);
        assert_eq!(prefix("--eal=--proc-type=auto"), None);
    }

    #[test]
    fn bad_settings_are_named() {
        assert!(cfg("--lcores 1 --vdev net_null0").unwrap_err().contains("no forwarding lcore"));
        assert!(cfg("--lcores 1-5 --vdev net_null0").unwrap_err().contains("lcore 4 does not exist"));
        assert!(cfg("--lcores 0-1").unwrap_err().contains("no device"));
        assert!(cfg("--lcores 0-1 --vdev net_null0 --rxq 2 --txq 1").unwrap_err().contains("--txq 1"));
        assert!(cfg("--vdev net_null0").unwrap_err().contains("--lcores is required"));
        assert!(cfg("--lcores 0-1 --vdev net_null0 --fwd bogus").unwrap_err().contains("bogus"));
        assert!(cfg("--lcores 0-1 --vdev net_null0 --burst 0").is_err());
        assert!(cfg("--lcores 0-1 --vdev net_null0 --burst 513").is_err());
        assert!(cfg("--lcores 0-1 --vdev net_null0 --fwd gen --pkt-size 60").unwrap_err().contains("--pkt-size 60"));
        // Jumbo frames: a generated one must fit one mbuf; a received one may be chained.
        let e = cfg("--lcores 0-1 --vdev net_null0 --fwd gen --pkt-size 9000").unwrap_err();
        assert!(e.contains("--mbuf-size 2176 holds 2048 bytes") && e.contains("--mbuf-size 9128 or more"), "{e}");
        let c = cfg("--lcores 0-1 --vdev net_null0 --fwd gen --pkt-size 9000 --mbuf-size 9128").unwrap();
        assert_eq!(
            (c.forwarding.pkt_size, c.ports.mbuf_size, c.ports.mtu, c.ports.rx_scatter),
            (9000, 9128, None, false)
        );
        let c = cfg("--lcores 0-1 --vdev net_null0 --mtu 9000 --rx-scatter").unwrap();
        assert_eq!((c.ports.mbuf_size, c.ports.mtu, c.ports.rx_scatter), (2176, Some(9000), true));
        assert!(cfg("--lcores 0-1 --vdev net_null0 --mbuf-size 255").is_err());
        assert!(cfg("--lcores 0-1 --vdev net_null0 --gap-ms 0").unwrap_err().contains("--gap-ms 0"));
        assert!(cfg("--lcores 0-1 --vdev net_null0 --rate fast").unwrap_err().contains("'fast'"));
        assert!(cfg("--lcores 0-1 --vdev net_null0 --max-loss lots").unwrap_err().contains("'lots'"));
    }

    #[test]
    fn junit_needs_a_threshold() {
        let e = cfg("--lcores 0-1 --vdev net_null0 --junit v.xml").unwrap_err();
        assert!(
            e.starts_with("--junit v.xml: ") && e.contains("--max-loss, --max-outage-ms or --min-member-share"),
            "{e}"
        );
        for t in ["--max-loss 0", "--max-outage-ms 50", "--min-member-share 10"] {
            let c = cfg(&format!("--lcores 0-1 --vdev net_null0 --junit v.xml {t}")).unwrap();
            assert_eq!(c.run.junit.as_deref(), Some(std::path::Path::new("v.xml")), "{t}");
        }
    }

    #[test]
    fn interleaving_needs_an_analysing_receiver_and_no_loss_limits() {
        let c = cfg("--lcores 0-1 --vdev net_null0 --interleave-ms 10").unwrap();
        assert_eq!(c.rx.interleave_ms, Some(10));
        assert!(c.rx.track);
        for bad in ["--fwd io", "--no-track", "--fwd gen"] {
            let e = cfg(&format!("--lcores 0-1 --vdev net_null0 --interleave-ms 10 {bad}")).unwrap_err();
            assert!(e.contains("--interleave-ms 10") && e.contains("rxonly"), "{bad}: {e}");
        }
        for bad in ["--max-loss 0", "--max-outage-ms 50"] {
            let e = cfg(&format!("--lcores 0-1 --vdev net_null0 --interleave-ms 10 {bad}")).unwrap_err();
            assert!(e.contains("--max-loss and --max-outage-ms do not apply"), "{bad}: {e}");
        }
        assert!(cfg("--lcores 0-1 --vdev net_null0 --interleave-ms 0").is_err());
    }
}
