//! The tracked payload vflag-dp's generator puts after the UDP header, so a receiver can tell
//! its own frames from foreign traffic and count loss, reordering, duplicates and latency.
//! 22 bytes, little endian, so it fits a 64-byte frame (14 + 20 + 8 + 22):
//!
//! | bytes | field |
//! |---|---|
//! | 0..4 | magic `VFLG` |
//! | 4..6 | run id (random per generator run) |
//! | 6..8 | flow id |
//! | 8..14 | per-flow sequence number (48 bits) |
//! | 14..22 | TX TSC |

pub const LEN: usize = 22;
pub const MAGIC: [u8; 4] = *b"VFLG";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tracked {
    pub run_id: u16,
    pub flow_id: u16,
    pub seq: u64,
    pub tx_tsc: u64,
}

/// Writes the parts that stay the same for every frame of a flow.
pub fn write_fixed(buf: &mut [u8], run_id: u16, flow_id: u16) {
    if buf.len() >= 8 {
        buf[0..4].copy_from_slice(&MAGIC);
        buf[4..6].copy_from_slice(&run_id.to_le_bytes());
        buf[6..8].copy_from_slice(&flow_id.to_le_bytes());
    }
}

/// Writes the per-frame parts: sequence number and TX TSC.
#[inline]
pub fn write_seq_tsc(buf: &mut [u8], seq: u64, tsc: u64) {
    if buf.len() >= LEN {
        buf[8..14].copy_from_slice(&seq.to_le_bytes()[..6]);
        buf[14..22].copy_from_slice(&tsc.to_le_bytes());
    }
}

/// A payload as three little-endian words: magic, run and flow (bytes 0..8); flow and the
/// 48-bit sequence (6..14); the TX TSC. The receiver's hot path reads these and compares the
/// magic and the run id at once. Shifts, not masks, take the fields apart: a 48-bit mask is a
/// 10-byte constant the loop would load into a register for every frame.
#[derive(Debug, Clone, Copy)]
pub struct Words([u64; 3]);

impl Words {
    #[inline(always)]
    pub fn of(p: &[u8; LEN]) -> Words {
        let word = |at: usize| {
            u64::from_le_bytes([p[at], p[at + 1], p[at + 2], p[at + 3], p[at + 4], p[at + 5], p[at + 6], p[at + 7]])
        };
        Words([word(0), word(6), word(14)])
    }

    /// Magic and run id (shifted to the top 48 bits), to compare with [`head_of`] the run.
    #[inline(always)]
    pub fn head(&self) -> u64 {
        self.0[0] << 16
    }

    #[inline(always)]
    pub fn flow_id(&self) -> u16 {
        (self.0[0] >> 48) as u16
    }

    #[inline(always)]
    pub fn seq(&self) -> u64 {
        self.0[1] >> 16
    }

    #[inline(always)]
    pub fn tx_tsc(&self) -> u64 {
        self.0[2]
    }
}

/// What [`Words::head`] is for frames of run `run_id`.
pub fn head_of(run_id: u16) -> u64 {
    (u64::from(u32::from_le_bytes(MAGIC)) | u64::from(run_id) << 32) << 16
}

/// A head no payload has (a head's low 16 bits are zero): the run is not known yet.
pub const NO_HEAD: u64 = u64::MAX;

/// Reads a tracked payload, if `udp_payload` starts with one.
#[inline]
pub fn read(udp_payload: &[u8]) -> Option<Tracked> {
    let w = Words::of(udp_payload.get(..LEN)?.try_into().ok()?);
    if w.0[0] as u32 != u32::from_le_bytes(MAGIC) {
        return None;
    }
    Some(Tracked { run_id: (w.0[0] >> 32) as u16, flow_id: w.flow_id(), seq: w.seq(), tx_tsc: w.tx_tsc() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut b = [0u8; LEN];
        write_fixed(&mut b, 0xbeef, 7);
        write_seq_tsc(&mut b, 0x1234_5678_9abc, u64::MAX - 1);
        assert_eq!(read(&b), Some(Tracked { run_id: 0xbeef, flow_id: 7, seq: 0x1234_5678_9abc, tx_tsc: u64::MAX - 1 }));
    }

    #[test]
    fn the_head_is_magic_and_run_at_once() {
        let mut b = [0u8; LEN];
        write_fixed(&mut b, 0xbeef, 0xffff);
        write_seq_tsc(&mut b, 3, 9);
        let w = Words::of(&b);
        assert_eq!(w.head(), head_of(0xbeef));
        assert_ne!(w.head(), head_of(0xbeee));
        assert_eq!((w.flow_id(), w.seq(), w.tx_tsc()), (0xffff, 3, 9));
        b[3] = b'X';
        assert_ne!(Words::of(&b).head(), head_of(0xbeef));
        // Before the run is known no head matches, whatever the payload.
        assert!((0..=u16::MAX).all(|r| head_of(r) != NO_HEAD));
        assert_ne!(Words::of(&[0xff; LEN]).head(), NO_HEAD);
    }

    #[test]
    fn sequence_is_48_bits() {
        let mut b = [0u8; LEN];
        write_fixed(&mut b, 1, 1);
        write_seq_tsc(&mut b, (1 << 48) + 4, 0);
        assert_eq!(read(&b).unwrap().seq, 4);
    }

    #[test]
    fn rejects_short_and_foreign_payloads() {
        let mut b = [0u8; LEN];
        write_fixed(&mut b, 1, 1);
        assert_eq!(read(&b[..LEN - 1]), None);
        b[0] = b'X';
        assert_eq!(read(&b), None);
        assert_eq!(read(&[]), None);
        // Writers never write past a short buffer.
        let mut short = [0u8; 5];
        write_fixed(&mut short, 1, 1);
        write_seq_tsc(&mut short, 1, 1);
        assert_eq!(short, [0; 5]);
    }
}
