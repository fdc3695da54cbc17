//! Classifies received frames without trusting them: Ethernet (one VLAN tag looked through),
//! IPv4 with its 5-tuple, UDP payload. Never panics and never reads past the frame or past the
//! IPv4 total length, whatever the bytes.
//!
//! A frame is the bytes at hand and its whole length: a jumbo frame received into chained mbufs
//! is read from its first segment, which holds every header for any sane MTU and mbuf size
//! ([`classify_frame`], [`plain_udp_frame`]), while its IPv4 total length is checked against
//! the whole frame's. No header byte lies past [`HEADERS_MAX`]; a caller whose first segment is
//! shorter gathers that much first (`RxAnalysis` does).

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

/// The most bytes of a frame that classification reads: Ethernet, one VLAN tag, IPv4 with the
/// longest options, UDP's header and vflag-dp's payload.
pub const HEADERS_MAX: usize = ETH_HLEN + 4 + 60 + 8 + crate::payload::LEN;

/// A whole frame, all of it in `f`.
#[inline]
pub fn classify(f: &[u8]) -> Classified<'_> {
    classify_frame(f, f.len())
}

/// A frame of `len` bytes of which `head` holds the first ones: all of them, or at least
/// [`HEADERS_MAX`] (a chained frame's first segment). The IPv4 total length is checked against
/// `len`; the UDP payload is bounded by the IP length and by `head`. A `len` shorter than
/// `head` is taken as `head`'s.
#[inline]
pub fn classify_frame(head: &[u8], len: usize) -> Classified<'_> {
    let f = head;
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
    let frame_ip_len = len.max(f.len()) - l3; // l3 <= f.len() here: the ethertype was read
    Classified { vlan, class: ipv4(f.get(l3..).unwrap_or(&[]), frame_ip_len) }
}

/// `ip`: the IP packet's bytes at hand; `frame_ip_len`: how long it is in the whole frame.
fn ipv4(ip: &[u8], frame_ip_len: usize) -> Class<'_> {
    let Some(&vihl) = ip.first() else { return Class::Malformed };
    let ihl = usize::from(vihl & 0x0f) * 4;
    if vihl >> 4 != 4 || ihl < 20 || ip.len() < ihl {
        return Class::Malformed;
    }
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    if total < ihl || total > frame_ip_len {
        return Class::Malformed;
    }
    // Ethernet padding beyond the IP length is not payload; what is not at hand is not read.
    let ip = &ip[..total.min(ip.len())];
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
    plain_udp_frame(f, f.len())
}

/// [`plain_udp`] of a frame of `len` bytes of which `head` holds the first ones (as
/// [`classify_frame`]): the payload is bounded by the IP length and by `head`.
#[inline]
pub fn plain_udp_frame(head: &[u8], len: usize) -> Option<(FiveTuple, &[u8])> {
    let f = head;
    let h: &[u8; PLAIN_UDP_HLEN] = f.get(..PLAIN_UDP_HLEN)?.try_into().ok()?;
    let ip_len = usize::from(u16::from_be_bytes([h[16], h[17]]));
    let fragment = u16::from_be_bytes([h[20], h[21]]) & 0x3fff != 0;
    let shape = h[12..15] == [0x08, 0x00, 0x45] && h[23] == 17 && !fragment;
    if !shape || ip_len < 28 || ip_len > len.max(f.len()) - ETH_HLEN {
        return None;
    }
    Some((plain_udp_tuple(h), &f[PLAIN_UDP_HLEN..(ETH_HLEN + ip_len).min(f.len())]))
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
    fn a_chained_frame_is_read_from_its_first_segment() {
        // A 9000-byte frame whose first segment holds 2048 bytes (tap, 2176-byte mbufs).
        let f = frame(9000);
        let head = &f[..2048];
        assert_eq!(classify(head).class, Class::Malformed, "read as if the segment were the frame");
        let Class::Ipv4 { tuple, udp_payload } = classify_frame(head, 9000).class else { panic!() };
        let Class::Ipv4 { tuple: whole, udp_payload: all } = classify(&f).class else { panic!() };
        assert_eq!(tuple, whole);
        let p = udp_payload.unwrap();
        assert_eq!((p.len(), all.unwrap().len()), (2048 - 42, 9000 - 42), "the payload stops with the segment");
        assert_eq!(plain_udp_frame(head, 9000), Some((whole, p)));
        assert_eq!(plain_udp(head), None);
        // The IP length is still checked, against the whole frame.
        assert_eq!(classify_frame(head, 3000).class, Class::Malformed);
        assert_eq!(plain_udp_frame(head, 3000), None);
        // A length shorter than the bytes at hand (no sane driver) is taken as theirs.
        assert_eq!(classify_frame(&f[..64], 10), classify(&f[..64]));
        assert_eq!(classify_frame(&f[..5], 9000).class, Class::Short);
        const { assert!(HEADERS_MAX == 14 + 4 + 60 + 8 + 22) };
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

        /// A first segment of HEADERS_MAX bytes or more reads as the whole frame would, the
        /// payload ending where the segment does.
        #[test]
        fn a_first_segment_reads_as_the_whole_frame(
            len in HEADERS_MAX..400,
            cut in HEADERS_MAX..400,
            vlan in any::<bool>(),
            flips in proptest::collection::vec((0usize..100, any::<u8>()), 0..6),
        ) {
            let mut f = udp_template(&FlowAddrs::default(), len as u16).to_vec();
            f.resize(len, 0x5a);
            if vlan {
                f.splice(12..12, [0x81, 0x00, 0x00, 0x07]);
            }
            for (at, b) in flips {
                f[at] = b;
            }
            let cut = cut.min(f.len());
            let (part, whole) = (classify_frame(&f[..cut], f.len()), classify(&f));
            prop_assert_eq!(part.vlan, whole.vlan);
            match (part.class, whole.class) {
                (Class::Ipv4 { tuple: a, udp_payload: pa }, Class::Ipv4 { tuple: b, udp_payload: pb }) => {
                    prop_assert_eq!(a, b);
                    prop_assert_eq!(pa.is_some(), pb.is_some());
                    if let (Some(pa), Some(pb)) = (pa, pb) {
                        let at = pb.as_ptr() as usize - f.as_ptr() as usize;
                        prop_assert_eq!(pa, &pb[..pb.len().min(cut - at)]);
                    }
                }
                (a, b) => prop_assert_eq!(a, b),
            }
            let (part, whole) = (plain_udp_frame(&f[..cut], f.len()), plain_udp(&f));
            prop_assert_eq!(part.map(|(t, _)| t), whole.map(|(t, _)| t));
        }
    }
}
