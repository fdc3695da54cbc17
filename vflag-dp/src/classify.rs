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
        }
    }
}
