//! `--verbose`: one line per received packet, as testpmd's `set verbose 1`. Off the fast path:
//! the forwarding loop calls it only when the option is on.

use std::io::Write;

use dpdk::mbuf::{Burst, MbufInfo};

use crate::frame;
use crate::parse::format_mac;

pub fn print_burst(port: u16, queue: u16, burst: &Burst) {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let _ = writeln!(out, "port {port}/queue {queue}: received {} packets", burst.len());
    for i in 0..burst.len() {
        let _ = writeln!(out, "  {}", packet_line(burst.packet(i), &burst.info(i)));
    }
}

/// `src=.. - dst=.. - type=0x0800 - length=60 - nb_segs=1 - RSS hash=0x..`
pub fn packet_line(bytes: &[u8], info: &MbufInfo) -> String {
    let mut line = match frame::eth_summary(bytes) {
        Some((dst, src, ty)) => format!("src={} - dst={} - type=0x{ty:04x}", format_mac(&src), format_mac(&dst)),
        None => format!("runt frame of {} bytes", bytes.len()),
    };
    line.push_str(&format!(" - length={} - nb_segs={}", info.pkt_len, info.nb_segs));
    if let Some(h) = info.rss_hash {
        line.push_str(&format!(" - RSS hash=0x{h:x}"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(len: u32, rss: Option<u32>) -> MbufInfo {
        MbufInfo { pkt_len: len, data_len: len as u16, nb_segs: 1, rss_hash: rss, packet_type: 0, ol_flags: 0 }
    }

    #[test]
    fn line_names_macs_type_length_and_hash() {
        let a = frame::FlowAddrs {
            src_mac: [0x52, 0x54, 0, 0, 0, 2],
            dst_mac: [0x52, 0x54, 0, 0, 0, 1],
            ..Default::default()
        };
        let f = frame::udp_template(&a, 64);
        let l = packet_line(&f, &info(64, Some(0xbeef)));
        assert_eq!(
            l,
            "src=52:54:00:00:00:02 - dst=52:54:00:00:00:01 - type=0x0800 - length=64 - nb_segs=1 - RSS hash=0xbeef"
        );
        assert_eq!(packet_line(&f[..5], &info(5, None)), "runt frame of 5 bytes - length=5 - nb_segs=1");
    }
}
