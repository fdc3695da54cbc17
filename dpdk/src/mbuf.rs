//! Bursts of mbufs: the unit the hot path works in. A [`Burst`] owns the mbufs it holds and
//! frees them when dropped, so no packet leaks on an early return. It borrows the pool its
//! mbufs come from (through [`Burst::alloc`], or the receive queue of a port configured with
//! the pool), so it cannot outlive the pool nor the EAL (see [`crate::mempool`]).

use std::marker::PhantomData;

use crate::mempool::Mempool;
use dpdk_sys::ffi;

/// Largest burst a [`Burst`] holds (testpmd's MAX_PKT_BURST).
pub const MAX_BURST: usize = 512;

/// Owned mbufs, plus scratch arrays for their data pointers (kept here so the hot path never
/// initialises a stack array per burst).
pub struct Burst<'pool> {
    /// PREFETCH_AHEAD spare slots at the end, so [`Frames`] can read the slot ahead of any
    /// frame without a bounds test.
    pkts: [*mut ffi::rte_mbuf; MAX_BURST + PREFETCH_AHEAD],
    len: usize,
    data: [*mut u8; MAX_BURST],
    lens: [u16; MAX_BURST],
    _pool: PhantomData<&'pool Mempool<'pool>>,
}

// SAFETY: a Burst exclusively owns its mbufs; DPDK mbufs may be freed or sent from any lcore.
unsafe impl Send for Burst<'_> {}

/// What `--verbose` shows about one received packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MbufInfo {
    pub pkt_len: u32,
    pub data_len: u16,
    pub nb_segs: u16,
    pub rss_hash: Option<u32>,
    pub packet_type: u32,
    pub ol_flags: u64,
}

impl Default for Burst<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'pool> Burst<'pool> {
    pub fn new() -> Self {
        Burst {
            pkts: [std::ptr::null_mut(); MAX_BURST + PREFETCH_AHEAD],
            len: 0,
            data: [std::ptr::null_mut(); MAX_BURST],
            lens: [0; MAX_BURST],
            _pool: PhantomData,
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Where a receive burst of up to `max` packets goes: the first free slot and how many
    /// follow it (for [`crate::queue::RxQueue::rx_burst`]).
    #[inline(always)]
    pub(crate) fn rx_slots(&mut self, max: u16) -> (*mut *mut ffi::rte_mbuf, u16) {
        let room = (MAX_BURST - self.len).min(max as usize) as u16;
        // SAFETY: len <= MAX_BURST, so the pointer stays inside the array.
        (unsafe { self.pkts.as_mut_ptr().add(self.len) }, room)
    }

    /// The driver wrote `n` mbufs (that are now ours) into the slots of [`Self::rx_slots`].
    #[inline(always)]
    pub(crate) fn rx_done(&mut self, n: u16) {
        self.len += n as usize;
    }

    /// The held packets to offer to a tx queue (None when there are none).
    #[inline(always)]
    pub(crate) fn tx_slots(&mut self) -> Option<(*mut *mut ffi::rte_mbuf, u16)> {
        (self.len != 0).then_some((self.pkts.as_mut_ptr(), self.len as u16))
    }

    /// The driver took the first `sent` packets: they are no longer ours, and those it refused
    /// move to the front.
    #[inline(always)]
    pub(crate) fn tx_done(&mut self, sent: u16) {
        let sent = sent as usize;
        if sent < self.len {
            self.pkts.copy_within(sent..self.len, 0);
        }
        self.len -= sent;
    }

    /// Frees every held packet (one bulk call).
    #[inline]
    pub fn free_all(&mut self) {
        if self.len != 0 {
            // SAFETY: pkts[..len] are valid mbufs we own.
            unsafe { ffi::vflag_mbufs_free(self.pkts.as_mut_ptr(), self.len as u32) };
            self.len = 0;
        }
    }

    /// Allocates `n` fresh mbufs from `pool`, appended; all or nothing.
    #[inline]
    pub fn alloc(&mut self, pool: &'pool Mempool<'_>, n: u16) -> bool {
        let n = n.min((MAX_BURST - self.len) as u16);
        // SAFETY: room for n pointers from index len; the pool is valid.
        let ret = unsafe { ffi::vflag_mbuf_alloc_bulk(pool.as_ptr(), self.pkts.as_mut_ptr().add(self.len), n as u32) };
        if ret == 0 {
            self.len += n as usize;
            true
        } else {
            false
        }
    }

    /// Makes packets `from..` single-segment frames of `len` bytes and lets `fill` write each
    /// one. Returns false (and writes nothing) if `len` does not fit an mbuf's data room.
    #[inline]
    pub fn fill_from(&mut self, from: usize, len: u16, mut fill: impl FnMut(usize, &mut [u8])) -> bool {
        let n = self.len.saturating_sub(from);
        if n == 0 {
            return true;
        }
        // SAFETY: pkts[from..len] are ours; the shim checks room before writing lengths.
        let ok = unsafe {
            ffi::vflag_mbufs_set_len(self.pkts.as_mut_ptr().add(from), n as u16, len, self.data.as_mut_ptr())
        };
        if ok == 0 {
            return false;
        }
        for (i, &p) in self.data[..n].iter().enumerate() {
            // SAFETY: each pointer addresses `len` bytes of an mbuf we own exclusively, and the
            // shim verified they fit in its data room.
            let bytes = unsafe { std::slice::from_raw_parts_mut(p, len as usize) };
            fill(from + i, bytes);
        }
        true
    }

    /// Lets `f` read and write the first segment of every held packet (the shim prefetches
    /// every packet's first line before `f` sees the first one).
    #[inline]
    pub fn for_each_data(&mut self, mut f: impl FnMut(usize, &mut [u8])) {
        let n = self.len;
        // SAFETY: pkts[..n] are ours; the shim writes n entries into each array.
        unsafe {
            ffi::vflag_mbufs_data(self.pkts.as_mut_ptr(), n as u16, self.data.as_mut_ptr(), self.lens.as_mut_ptr())
        };
        for i in 0..n {
            // SAFETY: data[i] addresses lens[i] bytes of the first segment of an mbuf we own.
            let bytes = unsafe { std::slice::from_raw_parts_mut(self.data[i], self.lens[i] as usize) };
            f(i, bytes);
        }
    }

    /// As [`Self::for_each_data`], but `f` says whether each packet stays: those it refuses
    /// are freed at once and the rest move up, in order. Returns how many were freed. (The
    /// refused ones are rare, e.g. a reflector's LACPDUs, so each is freed by itself.)
    #[inline]
    pub fn retain_data(&mut self, mut f: impl FnMut(usize, &mut [u8]) -> bool) -> usize {
        let n = self.len;
        // SAFETY: pkts[..n] are ours; the shim writes n entries into each array.
        unsafe {
            ffi::vflag_mbufs_data(self.pkts.as_mut_ptr(), n as u16, self.data.as_mut_ptr(), self.lens.as_mut_ptr())
        };
        let mut kept = 0;
        for i in 0..n {
            // SAFETY: data[i] addresses lens[i] bytes of the first segment of an mbuf we own.
            let bytes = unsafe { std::slice::from_raw_parts_mut(self.data[i], self.lens[i] as usize) };
            if f(i, bytes) {
                self.pkts[kept] = self.pkts[i];
                kept += 1;
            } else {
                // SAFETY: pkts[i] is a valid mbuf we own; it leaves the burst here.
                unsafe { ffi::vflag_mbufs_free(self.pkts.as_mut_ptr().add(i), 1) };
            }
        }
        self.len = kept;
        n - kept
    }

    /// Every held packet as a [`Frame`] (its first segment and its whole length), in order,
    /// read-only, in one pass: while frame
    /// `i` is yielded, the line where frame `i + PREFETCH_AHEAD` usually starts is being loaded
    /// (the pattern of DPDK's l3fwd). The mbuf fields are read inline (offsets from the shim),
    /// so a burst costs no call and no scratch stores.
    #[inline]
    pub fn frames(&mut self) -> Frames<'_> {
        for &m in self.pkts[..self.len].iter().take(PREFETCH_AHEAD) {
            prefetch_usual_data(m);
        }
        let range = self.pkts[..self.len].as_ptr_range();
        Frames { next: range.start, end: range.end, _burst: PhantomData }
    }

    /// The first-segment bytes of held packet `i`, found as [`Self::frames`] finds them.
    pub fn packet(&self, i: usize) -> &[u8] {
        assert!(i < self.len, "packet index {i} out of burst of {}", self.len);
        // SAFETY: pkts[i] is a valid mbuf we own; the borrow of self keeps it alive and
        // unchanged while the slice lives.
        unsafe { first_segment_bytes(self.pkts[i]) }
    }

    /// Appends packet `tail`'s segments to packet `head`'s frame, so that the two are one
    /// chained frame at `head`'s place, and `tail` leaves the burst (the later packets move up
    /// one). False, changing nothing, for indices out of the burst or equal, or a chain that
    /// would have too many segments. What a scattering driver delivers, built by hand (tests).
    pub fn chain(&mut self, head: usize, tail: usize) -> bool {
        if head == tail || head >= self.len || tail >= self.len {
            return false;
        }
        // SAFETY: both are distinct valid mbufs we own; on success the tail's mbufs belong to
        // the head's chain, so the tail's slot is dropped from the burst below.
        if unsafe { ffi::vflag_mbuf_chain(self.pkts[head], self.pkts[tail]) } != 0 {
            return false;
        }
        self.pkts.copy_within(tail + 1..self.len, tail);
        self.len -= 1;
        true
    }

    /// Metadata of held packet `i` (off the hot path: one shim call per packet).
    pub fn info(&self, i: usize) -> MbufInfo {
        assert!(i < self.len, "packet index {i} out of burst of {}", self.len);
        let mut raw = ffi::vflag_mbuf_info::default();
        // SAFETY: pkts[i] is a valid mbuf we own; raw is a valid out-pointer.
        unsafe { ffi::vflag_mbuf_info(self.pkts[i], &mut raw) };
        // SAFETY: reads a constant.
        let rss_flag = unsafe { ffi::vflag_MBUF_F_RX_RSS_HASH };
        MbufInfo {
            pkt_len: raw.pkt_len,
            data_len: raw.data_len,
            nb_segs: raw.nb_segs,
            rss_hash: (raw.ol_flags & rss_flag != 0).then_some(raw.rss_hash),
            packet_type: raw.packet_type,
            ol_flags: raw.ol_flags,
        }
    }
}

/// One received frame as the receive path reads it: the bytes of its first segment (where a
/// frame's headers are, for any sane MTU and mbuf size) and its whole length over every segment
/// (`pkt_len`). A frame of one segment has `head().len() == len()`; a jumbo frame received into
/// chained mbufs has a longer `len()`. [`Frame::gather`] copies the start of the frame across
/// segments, for the rare frame whose headers do not all sit in its first segment.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    head: &'a [u8],
    len: usize,
    rest: Rest<'a>,
}

/// Where a [`Frame`]'s later segments are.
#[derive(Debug, Clone, Copy)]
enum Rest<'a> {
    /// The frame's mbuf (its first segment); the others hang off it. Alive and unchanged for
    /// `'a`: the burst that owns it is borrowed that long.
    Mbuf(*const ffi::rte_mbuf, PhantomData<&'a ffi::rte_mbuf>),
    /// The segments after the head, of a frame built from byte slices.
    Slices(&'a [&'a [u8]]),
}

impl<'a> Frame<'a> {
    /// A frame of one segment: these bytes.
    #[inline]
    pub fn new(bytes: &'a [u8]) -> Frame<'a> {
        Frame { head: bytes, len: bytes.len(), rest: Rest::Slices(&[]) }
    }

    /// A frame made of these segments, in order (tests and benchmarks: what a driver that
    /// chains mbufs would deliver).
    pub fn from_segments(segments: &'a [&'a [u8]]) -> Frame<'a> {
        let (head, rest) = segments.split_first().map_or((&[][..], &[][..]), |(h, r)| (*h, r));
        let len: usize = segments.iter().map(|s| s.len()).sum();
        Frame { head, len, rest: Rest::Slices(rest) }
    }

    /// The first segment's bytes.
    #[inline(always)]
    pub fn head(&self) -> &'a [u8] {
        self.head
    }

    /// The frame's length over all its segments (the mbuf's `pkt_len`). A driver is trusted
    /// to make it at least `head().len()`; callers that subtract from it must not rely on that.
    #[inline(always)]
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// The frame has bytes beyond its first segment.
    #[inline]
    pub fn is_segmented(&self) -> bool {
        self.len() > self.head.len()
    }

    /// Copies the frame's first bytes, across its segments, into `buf` (as many as fit, never
    /// more than the frame has) and returns them. Off the hot path: one call per frame.
    pub fn gather<'b>(&self, buf: &'b mut [u8]) -> &'b [u8] {
        let want = buf.len().min(self.len());
        let got = match self.rest {
            Rest::Mbuf(m, _) => {
                let cap = u32::try_from(want).unwrap_or(u32::MAX);
                // SAFETY: m is a valid mbuf chain, alive and unchanged for 'a (the burst that
                // owns it is borrowed); the shim writes at most `cap` <= buf.len() bytes.
                unsafe { ffi::vflag_mbuf_gather(m, buf.as_mut_ptr(), cap) as usize }
            }
            Rest::Slices(rest) => {
                let mut got = 0;
                for seg in std::iter::once(self.head).chain(rest.iter().copied()) {
                    let n = seg.len().min(want - got);
                    buf[got..got + n].copy_from_slice(&seg[..n]);
                    got += n;
                    if got == want {
                        break;
                    }
                }
                got
            }
        };
        &buf[..got.min(want)]
    }
}

impl<'a> From<&'a [u8]> for Frame<'a> {
    #[inline]
    fn from(bytes: &'a [u8]) -> Frame<'a> {
        Frame::new(bytes)
    }
}

/// The iterator of [`Burst::frames`]: two pointers into the burst, so a receive loop keeps
/// its own counters in registers.
pub struct Frames<'a> {
    next: *const *mut ffi::rte_mbuf,
    end: *const *mut ffi::rte_mbuf,
    _burst: PhantomData<&'a mut [*mut ffi::rte_mbuf]>,
}

impl<'a> Iterator for Frames<'a> {
    type Item = Frame<'a>;

    #[inline(always)]
    fn next(&mut self) -> Option<Frame<'a>> {
        if self.next == self.end {
            return None;
        }
        // SAFETY: next lies in pkts[..len]: a valid mbuf we own, alive and unchanged while the
        // burst is borrowed. The slot PREFETCH_AHEAD on is inside the array (it has that many
        // spare slots); past len it holds a stale pointer or null, which is only prefetched.
        unsafe {
            prefetch_usual_data(*self.next.add(PREFETCH_AHEAD));
            let m = *self.next;
            self.next = self.next.add(1);
            let len = m.cast::<u8>().cast_const().add(ffi::VFLAG_MBUF_PKT_LEN as usize).cast::<u32>().read() as usize;
            Some(Frame { head: first_segment_bytes(m), len, rest: Rest::Mbuf(m, PhantomData) })
        }
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        // SAFETY: both pointers are in the same array, next <= end.
        let n = unsafe { self.end.offset_from(self.next) } as usize;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Frames<'_> {}

/// Frames ahead whose first line is prefetched while one is read.
const PREFETCH_AHEAD: usize = 4;

/// Where an mbuf's first segment starts, and its length (field offsets of this DPDK's
/// `rte_mbuf`, as the shim's header computes them: a pointer and two u16).
///
/// # Safety
/// `m` must be a valid mbuf.
#[inline(always)]
unsafe fn first_segment(m: *mut ffi::rte_mbuf) -> (*const u8, u16) {
    let base = m.cast::<u8>().cast_const();
    let buf = base.add(ffi::VFLAG_MBUF_BUF_ADDR as usize).cast::<*const u8>().read();
    let off = base.add(ffi::VFLAG_MBUF_DATA_OFF as usize).cast::<u16>().read();
    let len = base.add(ffi::VFLAG_MBUF_DATA_LEN as usize).cast::<u16>().read();
    (buf.add(usize::from(off)), len)
}

/// The bytes of an mbuf's first segment.
///
/// # Safety
/// `m` must be a valid mbuf that stays alive and unchanged for `'a`.
#[inline(always)]
unsafe fn first_segment_bytes<'a>(m: *mut ffi::rte_mbuf) -> &'a [u8] {
    let (p, len) = first_segment(m);
    // A valid mbuf's buffer is never null. Said here, the compiler stops testing for it on
    // every frame (a null slice pointer is how it would spell "no more frames").
    std::hint::assert_unchecked(!p.is_null());
    std::slice::from_raw_parts(p, usize::from(len))
}

/// Prefetches where `m`'s frame usually starts, computed from the mbuf's address alone. Reading
/// its `buf_addr` and `data_off` to find the exact line cost about 1.1 cycles per frame over no
/// prefetch on net_null (frames already in L1); this costs about 0.6, and a frame elsewhere (an
/// external buffer, a pool with a private area) only loses the hint.
#[inline(always)]
fn prefetch_usual_data(m: *mut ffi::rte_mbuf) {
    prefetch(m.cast::<u8>().cast_const().wrapping_add(ffi::VFLAG_MBUF_USUAL_DATA as usize));
}

/// Starts loading the cache line at `p` (a hint: no effect on correctness).
#[inline(always)]
fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p.cast::<i8>(), std::arch::x86_64::_MM_HINT_T0)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

impl Drop for Burst<'_> {
    fn drop(&mut self) {
        self.free_all();
    }
}
