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

/// Turns an IPv4 frame back to where it came from, as a far-side reflector: MACs, IPv4
/// addresses and (UDP, TCP; not a later fragment) ports swapped, through up to two VLAN tags.
/// The payload is kept, and no checksum changes: the IPv4 header sum and the UDP/TCP pseudo
/// header sum are the same with their halves swapped. False, leaving the frame as it was, for
/// anything else (ARP, IPv6, LACPDUs, a truncated header).
#[inline]
pub fn reflect(frame: &mut [u8]) -> bool {
    let mut l3 = ETH_HLEN;
    for _ in 0..2 {
        match frame.get(l3 - 2..l3) {
            Some(&[a, b]) if matches!(u16::from_be_bytes([a, b]), ETHERTYPE_VLAN | ETHERTYPE_QINQ) => l3 += 4,
            _ => break,
        }
    }
    if frame.get(l3 - 2..l3) != Some(&ETHERTYPE_IPV4.to_be_bytes()[..]) {
        return false;
    }
    let Some(&vihl) = frame.get(l3) else { return false };
    let ihl = usize::from(vihl & 0x0f) * 4;
    if vihl >> 4 != 4 || ihl < IPV4_HLEN || frame.len() < l3 + ihl {
        return false;
    }
    let proto = frame[l3 + 9];
    let later_fragment = u16::from_be_bytes([frame[l3 + 6], frame[l3 + 7]]) & 0x1fff != 0;
    let l4 = l3 + ihl;
    let ports = matches!(proto, 6 | 17) && !later_fragment;
    if ports && frame.len() < l4 + 4 {
        return false;
    }
    swap_macs(frame);
    let (src, dst) = frame[l3 + 12..l3 + 20].split_at_mut(4);
    src.swap_with_slice(dst);
    if ports {
        let (sp, dp) = frame[l4..l4 + 4].split_at_mut(2);
        sp.swap_with_slice(dp);
    }
    true
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

    /// The ones' complement sum of `b` (16-bit words), folded.
    fn sum16(b: &[u8]) -> u32 {
        let mut s: u32 = b.chunks(2).map(|p| u32::from(u16::from_be_bytes([p[0], *p.get(1).unwrap_or(&0)]))).sum();
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        s
    }

    #[test]
    fn reflect_swaps_addresses_and_ports_and_keeps_payload_and_checksums() {
        let a = FlowAddrs { sport: 1024, dport: 9, src_ip: [198, 18, 0, 7], ..addrs() };
        let mut f = udp_template(&a, 80).to_vec();
        f.extend((0..38).map(|i| i as u8));
        let before = f.clone();
        assert!(reflect(&mut f));
        assert_eq!((&f[0..6], &f[6..12]), (&SRC[..], &DST[..]));
        assert_eq!((&f[26..30], &f[30..34]), (&[198, 18, 0, 2][..], &[198, 18, 0, 7][..]));
        assert_eq!((u16::from_be_bytes([f[34], f[35]]), u16::from_be_bytes([f[36], f[37]])), (9, 1024));
        assert_eq!(&f[38..], &before[38..], "the payload is kept");
        assert_eq!(sum16(&f[14..34]), 0xffff, "the IPv4 checksum still holds");
        assert_eq!(sum16(&f[26..38]), sum16(&before[26..38]), "the UDP pseudo header sums the same");
        assert!(reflect(&mut f));
        assert_eq!(f, before, "reflecting twice gives the frame back");
    }

    #[test]
    fn reflect_looks_through_vlan_tags_and_leaves_other_frames_alone() {
        let plain = udp_template(&addrs(), 64);
        let mut tagged = plain[..12].to_vec();
        tagged.extend_from_slice(&[0x88, 0xa8, 0, 1, 0x81, 0x00, 0, 2]);
        tagged.extend_from_slice(&plain[12..]);
        assert!(reflect(&mut tagged));
        assert_eq!(&tagged[34..38], &[198, 18, 0, 2], "the source IP, 8 bytes further on");
        // ICMP: addresses swapped, no ports.
        let mut icmp = plain.to_vec();
        icmp[23] = 1;
        let tail = icmp[34..38].to_vec();
        assert!(reflect(&mut icmp));
        assert_eq!(&icmp[34..38], &tail[..]);
        // Not IPv4, or cut short: refused and unchanged.
        for mut other in [
            {
                let mut lacp = plain.to_vec();
                lacp[12..14].copy_from_slice(&0x8809u16.to_be_bytes());
                lacp
            },
            plain[..30].to_vec(),
            plain[..36].to_vec(),
            {
                let mut v6 = plain.to_vec();
                v6[14] = 0x65;
                v6
            },
            Vec::new(),
        ] {
            let was = other.clone();
            assert!(!reflect(&mut other), "{was:?}");
            assert_eq!(other, was);
        }
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
