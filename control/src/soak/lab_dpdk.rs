//! The vflag-dp options both sides of a lab soak share (the DUT's receiver or reflector, and the
//! far side's generator).

use super::args::SoakArgs;

/// Small memory, no hugepages: af_packet copies every frame anyway, and two processes then
/// never compete for hugepages.
pub const LAB_MEMORY: [&str; 5] = ["--no-huge", "-m", "256", "--mbufs", "8192"];

/// A LACP flap is noticed by LACP's timeout alone: both lab bonds run Linux's `lacp_rate
/// fast` (1 s, given up after 3 s) rather than DPDK's 90 s.
pub fn lacp_rate(args: &SoakArgs) -> Vec<String> {
    if args.flap_kind == super::flappers::FlapKind::Lacp {
        vec!["--lacp-rate".into(), "fast".into()]
    } else {
        Vec::new()
    }
}

/// Both lab bonds hash alike (`--bond-hash`, l34 unless given); active-backup hashes nothing.
pub fn bond_hash(args: &SoakArgs) -> Vec<String> {
    args.bond_hash().map(|h| vec!["--bond-hash".into(), h.name().into()]).unwrap_or_default()
}
