//! The forwarding modes, and what a forwarding lcore's loop is told of the command line: the
//! mode, the burst, the generated frame's length, `--verbose`. The loop sees this part only.

use clap::ValueEnum;
use serde::Serialize;

/// Forwarding modes, as dpdk-testpmd's `--forward-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FwdMode {
    /// Receive and free (count only).
    Rxonly,
    /// Forward unchanged to the peer port.
    Io,
    /// Forward to the peer port with src = its MAC, dst = --dst-mac.
    Mac,
    /// Forward to the peer port with source and destination MAC swapped.
    Macswap,
    /// Generate Eth/IPv4/UDP frames on every port (testpmd's txonly: one flow, no payload).
    Txonly,
    /// Generate tracked traffic: many flows, each frame with run id, flow id, sequence and TX TSC.
    Gen,
    /// The far end of a round trip: send each IPv4 frame back out of the port it came in on,
    /// MACs, IPs and ports swapped, the payload kept (after analysing it, unless --no-track);
    /// other frames are counted as not reflected and freed.
    Reflect,
    /// gen and rxonly in one: generate tracked traffic on every port and analyse what comes
    /// back (from a reflector), so loss, outages and latency are of the round trip.
    GenRx,
}

impl FwdMode {
    /// Whether the mode sends frames of its own.
    pub fn generates(self) -> bool {
        matches!(self, FwdMode::Txonly | FwdMode::Gen | FwdMode::GenRx)
    }

    /// Whether its frames are tracked (run id, flow id, sequence, TX TSC).
    pub fn tracked_gen(self) -> bool {
        matches!(self, FwdMode::Gen | FwdMode::GenRx)
    }

    /// Whether received frames are analysed (unless --no-track).
    pub fn analyses(self) -> bool {
        matches!(self, FwdMode::Rxonly | FwdMode::Reflect | FwdMode::GenRx)
    }

    /// The name used on the command line.
    pub fn name(self) -> String {
        self.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default()
    }
}

/// The options every forwarding loop runs by (in the report's `settings` under the same names).
#[derive(Debug, Clone, Serialize)]
pub struct Forwarding {
    #[serde(rename = "fwd")]
    pub mode: FwdMode,
    /// Packets per rx/tx burst.
    pub burst: u16,
    /// Length of a generated frame, bytes without FCS.
    pub pkt_size: u16,
    /// Print every received packet.
    pub verbose: bool,
}
