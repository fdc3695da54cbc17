//! Classifies received frames without trusting them: Ethernet (one VLAN tag looked through),
//! IPv4 with its 5-tuple, UDP payload. Never panics and never reads past the frame or past the
//! IPv4 total length, whatever the bytes.

use crate::frame::{ETHERTYPE_IPV4, ETHERTYPE_QINQ, ETHERTYPE_VLAN, ETH_HLEN};

/// A flow's identity: IPv4 addresses, L4 protocol and ports (0 for non-UDP/TCP or fragments).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FiveTuple {
    pub src: [u8; 4],
    pub dst: [u8; 4],
    pub proto: u8,
    pub sport: u16,
    pub dport: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class<'a> {
    /// Shorter than an Ethernet header (or a VLAN tag cut off).
    Short,
    /// Not IPv4 (ARP, IPv6, LACP, ...): its ethertype.
    NonIp(u16),
    /// Claims to be IPv4 but its header is inconsistent or cut off.
    Malformed,
    /// IPv4; `udp_payload` is set for UDP with a complete header, bounded by the IP length.
    Ipv4 { tuple: FiveTuple, udp_payload: Option<&'a [u8]> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classified<'a> {
    pub vlan: bool,
    pub class: Class<'a>,
}

#[inline]
pub fn classify(f: &[u8]) -> Classified<'_> {
    let short = |vlan| Classified { vlan, class: Class::Short };
    let Some(ty) = be16(f, 12) else { return short(false) };
    let (vlan, ty, l3) = if ty == ETHERTYPE_VLAN || ty == ETHERTYPE_QINQ {
        match be16(f, 16) {
            Some(inner) => (true, inner, ETH_HLEN + 4),
            None => return short(true),
        }
    } else {
        (false, ty, ETH_HLEN)
    };
    if ty != ETHERTYPE_IPV4 {
        return Classified { vlan, class: Class::NonIp(ty) };
    }
    Classified { vlan, class: ipv4(f.get(l3..).unwrap_or(&[])) }
}

fn ipv4(ip: &[u8]) -> Class<'_> {
    let Some(&vihl) = ip.first() else { return Class::Malformed };
    let ihl = usize::from(vihl & 0x0f) * 4;
    if vihl >> 4 != 4 || ihl < 20 || ip.len() < ihl {
        return Class::Malformed;
    }
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    if total < ihl || total > ip.len() {
        return Class::Malformed;
    }
    let ip = &ip[..total]; // Ethernet padding beyond the IP length is not payload.
    let proto = ip[9];
    let mut tuple = FiveTuple {
        src: [ip[12], ip[13], ip[14], ip[15]],
        dst: [ip[16], ip[17], ip[18], ip[19]],
        proto,
        sport: 0,
        dport: 0,
    };
    let fragment = u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0;
    let l4 = &ip[ihl..];
    if fragment || !(proto == 17 || proto == 6) || l4.len() < 4 {
        return Class::Ipv4 { tuple, udp_payload: None };
    }
    tuple.sport = u16::from_be_bytes([l4[0], l4[1]]);
    tuple.dport = u16::from_be_bytes([l4[2], l4[3]]);
    let udp_payload = (proto == 17).then(|| l4.get(8..)).flatten();
    Class::Ipv4 { tuple, udp_payload }
}

/// The shape testers send, read at fixed offsets: untagged IPv4 with a 20-byte header,
/// unfragmented UDP, an IP length that covers the UDP header and stays inside the frame. Its
/// 5-tuple and UDP payload (bounded by the IP length), exactly as [`classify`] gives them; None
/// for any other frame, which [`classify`] then reads in full.
#[inline]
pub fn plain_udp(f: &[u8]) -> Option<(FiveTuple, &[u8])> {
    let h: &[u8; PLAIN_UDP_HLEN] = f.get(..PLAIN_UDP_HLEN)?.try_into().ok()?;
    let ip_len = usize::from(u16::from_be_bytes([h[16], h[17]]));
    let fragment = u16::from_be_bytes([h[20], h[21]]) & 0x3fff != 0;
    let shape = h[12..15] == [0x08, 0x00, 0x45] && h[23] == 17 && !fragment;
    if !shape || ip_len < 28 || ip_len > f.len() - ETH_HLEN {
        return None;
    }
    Some((plain_udp_tuple(h), &f[PLAIN_UDP_HLEN..ETH_HLEN + ip_len]))
}

/// The 5-tuple of a frame already known to have [`plain_udp`]'s shape.
#[inline]
pub fn plain_udp_tuple(h: &[u8; PLAIN_UDP_HLEN]) -> FiveTuple {
    let port = |at: usize| u16::from_be_bytes([h[at], h[at + 1]]);
    FiveTuple {
        src: [h[26], h[27], h[28], h[29]],
        dst: [h[30], h[31], h[32], h[33]],
        proto: 17,
        sport: port(34),
        dport: port(36),
    }
}

/// Ethernet, a 20-byte IPv4 header and UDP's.
pub const PLAIN_UDP_HLEN: usize = ETH_HLEN + 20 + 8;

#[inline]
fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{udp_template, FlowAddrs};

    fn frame(len: u16) -> Vec<u8> {
        let mut f = udp_template(&FlowAddrs::default(), len).to_vec();
        f.resize(len as usize, 0xaa);
        f
    }

    #[test]
    fn reads_udp_five_tuple_and_payload() {
        let f = frame(64);
        let c = classify(&f);
        assert!(!c.vlan);
        let Class::Ipv4 { tuple, udp_payload } = c.class else { panic!("{c:?}") };
        assert_eq!(tuple, FiveTuple { src: [198, 18, 0, 1], dst: [198, 18, 0, 2], proto: 17, sport: 9, dport: 9 });
        assert_eq!(udp_payload.unwrap().len(), 64 - 42);
    }

    #[test]
    fn padding_beyond_ip_length_is_not_payload() {
        let mut f = frame(64);
        f.extend_from_slice(&[0; 10]); // e.g. a driver that reports the padded length
        let Class::Ipv4 { udp_payload, .. } = classify(&f).class else { panic!() };
        assert_eq!(udp_payload.unwrap().len(), 22);
    }

    #[test]
    fn vlan_short_nonip_malformed() {
        let f = frame(64);
        let mut tagged = f[..12].to_vec();
        tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x0a]);
        tagged.extend_from_slice(&f[12..]);
        let c = classify(&tagged);
        assert!(c.vlan);
        assert!(matches!(c.class, Class::Ipv4 { .. }));
        assert_eq!(classify(&tagged[..15]).class, Class::Short);
        assert_eq!(classify(&f[..13]).class, Class::Short);
        let mut arp = f.clone();
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(classify(&arp).class, Class::NonIp(0x0806));
        let mut bad = f.clone();
        bad[14] = 0x46; // IHL 24 but options absent is fine; total length 50 < 24? no: make it lie
        bad[16..18].copy_from_slice(&200u16.to_be_bytes());
        assert_eq!(classify(&bad).class, Class::Malformed);
        let mut v6 = f.clone();
        v6[14] = 0x65;
        assert_eq!(classify(&v6).class, Class::Malformed);
        assert_eq!(classify(&f[..20]).class, Class::Malformed);
    }

    #[test]
    fn plain_udp_reads_testers_frames_and_leaves_the_rest() {
        for len in [60u16, 64, 1518] {
            let f = frame(len);
            let (tuple, p) = plain_udp(&f).unwrap();
            assert_eq!(classify(&f).class, Class::Ipv4 { tuple, udp_payload: Some(p) }, "{len}");
            assert_eq!(p.len(), usize::from(len) - 42);
        }
        let f = frame(64);
        assert_eq!(plain_udp(&f[..41]), None, "cut inside the UDP header");
        let mut tcp = f.clone();
        tcp[23] = 6;
        let mut options = f.clone();
        options[14] = 0x46;
        let mut fragment = f.clone();
        fragment[21] = 1;
        let mut long = f.clone();
        long[16..18].copy_from_slice(&51u16.to_be_bytes());
        let mut no_udp_header = f.clone();
        no_udp_header[16..18].copy_from_slice(&27u16.to_be_bytes());
        for (what, g) in
            [("tcp", tcp), ("options", options), ("fragment", fragment), ("long", long), ("short", no_udp_header)]
        {
            assert_eq!(plain_udp(&g), None, "{what}");
        }
    }

    #[test]
    fn fragments_and_other_protocols_have_no_ports() {
        let mut f = frame(64);
        f[20] = 0x20; // more fragments
        let Class::Ipv4 { tuple, udp_payload } = classify(&f).class else { panic!() };
        assert_eq!((tuple.sport, tuple.dport, udp_payload), (0, 0, None));
        let mut icmp = frame(64);
        icmp[23] = 1;
        let Class::Ipv4 { tuple, udp_payload } = classify(&icmp).class else { panic!() };
        assert_eq!((tuple.proto, tuple.sport, udp_payload), (1, 0, None));
    }
}

/// Arbitrary and mutated bytes: never a panic, never a slice outside the frame.
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;
    use crate::frame::{udp_template, FlowAddrs};
    use crate::payload;

    fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
        let c = classify(bytes);
        if let Class::Ipv4 { udp_payload: Some(p), .. } = c.class {
            let start = p.as_ptr() as usize - bytes.as_ptr() as usize;
            prop_assert!(start + p.len() <= bytes.len());
            let _ = payload::read(p);
        }
        let _ = payload::read(bytes);
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..160)) {
            check(&bytes)?;
        }

        #[test]
        fn mutated_valid_frames(
            len in 0usize..96,
            vlan in any::<bool>(),
            flips in proptest::collection::vec((0usize..96, any::<u8>()), 0..10),
        ) {
            let mut f = udp_template(&FlowAddrs::default(), 90).to_vec();
            f.resize(90, 0);
            if vlan {
                f.splice(12..12, [0x81, 0x00, 0x00, 0x07]);
            }
            for (at, b) in flips {
                if let Some(x) = f.get_mut(at) {
                    *x = b;
                }
            }
            f.truncate(len);
            check(&f)?;
            // What the fast read accepts, classify reads the same.
            if let Some((tuple, p)) = plain_udp(&f) {
                prop_assert_eq!(classify(&f), Classified { vlan: false, class: Class::Ipv4 { tuple, udp_payload: Some(p) } });
            }
        }
    }
}
