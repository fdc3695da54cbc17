//! Ethernet frames: the Eth/IPv4/UDP template txonly sends, MAC rewriting for mac/macswap, and
//! the header fields --verbose prints. Pure byte work; bounds are checked, nothing panics on
//! short input.

pub const ETH_HLEN: usize = 14;
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// An 802.1Q tag, and an 802.1ad (QinQ) outer tag.
pub const ETHERTYPE_VLAN: u16 = 0x8100;
pub const ETHERTYPE_QINQ: u16 = 0x88a8;
pub const IPV4_HLEN: usize = 20;
pub const UDP_HLEN: usize = 8;
/// Headers txonly writes into each frame (the payload is left as the mbuf holds it, as testpmd).
pub const TEMPLATE_HLEN: usize = ETH_HLEN + IPV4_HLEN + UDP_HLEN;

/// The addresses of one flow. The default is testpmd's txonly flow: 198.18.0.1:9 -> 198.18.0.2:9
/// (RFC 2544's benchmarking range), towards testpmd's default peer MAC 02:00:00:00:00:00.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowAddrs {
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    pub src_ip: [u8; 4],
    pub dst_ip: [u8; 4],
    pub sport: u16,
    pub dport: u16,
}

impl Default for FlowAddrs {
    fn default() -> Self {
        FlowAddrs {
            src_mac: [0; 6],
            dst_mac: [2, 0, 0, 0, 0, 0],
            src_ip: [198, 18, 0, 1],
            dst_ip: [198, 18, 0, 2],
            sport: 9,
            dport: 9,
        }
    }
}

/// Builds the Eth/IPv4/UDP headers of a `frame_len`-byte frame of flow `a`.
pub fn udp_template(a: &FlowAddrs, frame_len: u16) -> [u8; TEMPLATE_HLEN] {
    let mut h = [0u8; TEMPLATE_HLEN];
    h[0..6].copy_from_slice(&a.dst_mac);
    h[6..12].copy_from_slice(&a.src_mac);
    h[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip_len = frame_len.saturating_sub(ETH_HLEN as u16);
    let ip = &mut h[ETH_HLEN..ETH_HLEN + IPV4_HLEN];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
    ip[8] = 64; // TTL
    ip[9] = 17; // UDP
    ip[12..16].copy_from_slice(&a.src_ip);
    ip[16..20].copy_from_slice(&a.dst_ip);
    let csum = ipv4_checksum(ip);
    ip[10..12].copy_from_slice(&csum.to_be_bytes());
    let udp = &mut h[ETH_HLEN + IPV4_HLEN..];
    udp[0..2].copy_from_slice(&a.sport.to_be_bytes());
    udp[2..4].copy_from_slice(&a.dport.to_be_bytes());
    udp[4..6].copy_from_slice(&ip_len.saturating_sub(IPV4_HLEN as u16).to_be_bytes());
    h
}

/// The IPv4 header checksum (RFC 1071) over `hdr` with its checksum field taken as zero.
pub fn ipv4_checksum(hdr: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for (i, pair) in hdr.chunks(2).enumerate() {
        if i == 5 {
            continue; // the checksum field itself
        }
        let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Swaps source and destination MAC (frames shorter than 12 bytes are left alone).
#[inline]
pub fn swap_macs(frame: &mut [u8]) {
    if frame.len() >= 12 {
        let (dst, rest) = frame.split_at_mut(6);
        dst.swap_with_slice(&mut rest[..6]);
    }
}

/// Sets destination and source MAC.
#[inline]
pub fn set_macs(frame: &mut [u8], dst: &[u8; 6], src: &[u8; 6]) {
    if frame.len() >= 12 {
        frame[0..6].copy_from_slice(dst);
        frame[6..12].copy_from_slice(src);
    }
}

/// The header fields --verbose prints: (dst, src, ethertype), looking through one 802.1Q or
/// 802.1ad tag, as the receiver's classifier does.
pub fn eth_summary(frame: &[u8]) -> Option<([u8; 6], [u8; 6], u16)> {
    let dst: [u8; 6] = frame.get(0..6)?.try_into().ok()?;
    let src: [u8; 6] = frame.get(6..12)?.try_into().ok()?;
    let mut ty = u16::from_be_bytes(frame.get(12..14)?.try_into().ok()?);
    if ty == ETHERTYPE_VLAN || ty == ETHERTYPE_QINQ {
        if let Some(inner) = frame.get(16..18) {
            ty = u16::from_be_bytes([inner[0], inner[1]]);
        }
    }
    Some((dst, src, ty))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: [u8; 6] = [0x52, 0x54, 0, 0, 0, 2];
    const DST: [u8; 6] = [0x52, 0x54, 0, 0, 0, 1];

    fn addrs() -> FlowAddrs {
        FlowAddrs { src_mac: SRC, dst_mac: DST, ..Default::default() }
    }

    #[test]
    fn template_has_the_right_lengths_and_a_valid_checksum() {
        let h = udp_template(&addrs(), 64);
        assert_eq!(&h[0..6], &DST);
        assert_eq!(&h[6..12], &SRC);
        assert_eq!(&h[12..14], &[0x08, 0x00]);
        assert_eq!(u16::from_be_bytes([h[16], h[17]]), 50, "IP total length = 64 - 14");
        assert_eq!(u16::from_be_bytes([h[38], h[39]]), 30, "UDP length = 50 - 20");
        // A correct header sums (with its checksum) to 0xffff.
        let ip = &h[14..34];
        let mut sum: u32 = ip.chunks(2).map(|p| u32::from(u16::from_be_bytes([p[0], p[1]]))).sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        assert_eq!(sum, 0xffff);
    }

    #[test]
    fn checksum_matches_a_known_header() {
        // The classic example header from RFC 1071 discussions: 0xb861 expected.
        let hdr = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8,
            0x00, 0xc7,
        ];
        assert_eq!(ipv4_checksum(&hdr), 0xb861);
    }

    #[test]
    fn mac_rewrites() {
        let mut f = udp_template(&addrs(), 64).to_vec();
        swap_macs(&mut f);
        assert_eq!(&f[0..6], &SRC);
        assert_eq!(&f[6..12], &DST);
        set_macs(&mut f, &[0xff; 6], &[2; 6]);
        assert_eq!(&f[0..12], &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 2, 2, 2, 2, 2]);
        let mut short = [1u8, 2, 3];
        swap_macs(&mut short);
        set_macs(&mut short, &DST, &SRC);
        assert_eq!(short, [1, 2, 3]);
    }

    #[test]
    fn summary_reads_vlan_and_rejects_short_frames() {
        let f = udp_template(&addrs(), 64);
        assert_eq!(eth_summary(&f), Some((DST, SRC, 0x0800)));
        let mut tagged = f[..12].to_vec();
        tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x05, 0x86, 0xdd]);
        assert_eq!(eth_summary(&tagged).unwrap().2, 0x86dd);
        tagged[12..14].copy_from_slice(&ETHERTYPE_QINQ.to_be_bytes());
        assert_eq!(eth_summary(&tagged).unwrap().2, 0x86dd, "an 802.1ad tag is looked through too");
        assert_eq!(eth_summary(&f[..13]), None);
        assert_eq!(eth_summary(&[]), None);
    }
}
