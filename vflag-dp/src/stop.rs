//! SIGINT/SIGTERM. The first asks for an orderly stop. More within [`GRACE`] of it are the same
//! stop delivered again (`timeout` signals its child and then its process group; a terminal's
//! Ctrl-C reaches the whole group), so they are ignored. One after that asks to hurry: the
//! stop skips its waits, but still writes the report. The process never exits from a signal.
//!
//! The handler only wakes a thread (`signal_hook::iterator`); the timing is decided there, in
//! ordinary code, and read by the loops through two flags.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Signals this soon after the first are taken as the same stop.
pub const GRACE: Duration = Duration::from_secs(2);

/// What one signal means, given when the first arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    /// The first: stop in order.
    Stop,
    /// Within the grace period of the first: nothing new.
    Repeat,
    /// Later: stop now, skipping waits.
    Hurry,
}

/// Decides what a signal arriving at `now` means, and records the first.
pub fn classify(first: &mut Option<Instant>, now: Instant) -> Meaning {
    match *first {
        None => {
            *first = Some(now);
            Meaning::Stop
        }
        Some(t) if now.saturating_duration_since(t) < GRACE => Meaning::Repeat,
        Some(_) => Meaning::Hurry,
    }
}

/// The stop state that the signals set and the run reads.
#[derive(Debug, Clone, Default)]
pub struct Stop {
    requested: Arc<AtomicBool>,
    hurried: Arc<AtomicBool>,
}

impl Stop {
    /// Takes over SIGINT and SIGTERM for the rest of the process; `prog` names it in the line a
    /// hurrying signal prints.
    pub fn install(prog: &'static str) -> std::io::Result<Stop> {
        let stop = Stop::default();
        let mut signals = Signals::new([SIGINT, SIGTERM])?;
        let s = stop.clone();
        std::thread::Builder::new().name("vflag-signals".into()).spawn(move || {
            let mut first = None;
            for sig in signals.forever() {
                match classify(&mut first, Instant::now()) {
                    Meaning::Stop => s.requested.store(true, Ordering::Relaxed),
                    Meaning::Repeat => {}
                    Meaning::Hurry => {
                        s.hurried.store(true, Ordering::Relaxed);
                        eprintln!("{prog}: signal {sig} again: stopping without waiting");
                    }
                }
            }
        })?;
        Ok(stop)
    }

    /// A stop was asked for.
    pub fn requested(&self) -> bool {
        self.requested.load(Ordering::Relaxed)
    }

    /// A later signal asked the stop to skip its waits.
    pub fn hurried(&self) -> bool {
        self.hurried.load(Ordering::Relaxed)
    }

    /// --stop-on-eof: a thread reads `input` (standard input) to its end, then asks for an
    /// orderly stop, as SIGTERM would. Whatever arrives is discarded.
    pub fn on_eof(&self, prog: &'static str, mut input: impl std::io::Read + Send + 'static) -> std::io::Result<()> {
        let requested = Arc::clone(&self.requested);
        std::thread::Builder::new().name("vflag-stdin".into()).spawn(move || {
            let mut buf = [0u8; 256];
            while matches!(input.read(&mut buf), Ok(n) if n > 0) {}
            if !requested.swap(true, Ordering::Relaxed) {
                eprintln!("{prog}: standard input closed: stopping");
            }
        })?;
        Ok(())
    }

    /// The flag of [`Stop::requested`], for loops that take one.
    pub fn flag(&self) -> &AtomicBool {
        &self.requested
    }

    /// Sleeps `d` in short slices, ending early if the stop is hurried.
    pub fn sleep_unless_hurried(&self, d: Duration) {
        let end = Instant::now() + d;
        while !self.hurried() {
            let now = Instant::now();
            if now >= end {
                return;
            }
            std::thread::sleep((end - now).min(Duration::from_millis(10)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_within_the_grace_period_are_one_stop_and_a_later_one_hurries() {
        let t0 = Instant::now();
        let mut first = None;
        assert_eq!(classify(&mut first, t0), Meaning::Stop);
        assert_eq!(classify(&mut first, t0), Meaning::Repeat, "the same signal via the group");
        assert_eq!(classify(&mut first, t0 + GRACE - Duration::from_millis(1)), Meaning::Repeat);
        assert_eq!(classify(&mut first, t0 + GRACE), Meaning::Hurry);
        assert_eq!(classify(&mut first, t0 + GRACE * 5), Meaning::Hurry);
        assert_eq!(first, Some(t0), "the grace period runs from the first signal");
    }

    #[test]
    fn the_end_of_input_asks_for_a_stop() {
        let stop = Stop::default();
        let (mut tx, rx) = std::os::unix::net::UnixStream::pair().unwrap();
        stop.on_eof("test", rx).unwrap();
        std::io::Write::write_all(&mut tx, b"anything").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert!(!stop.requested(), "input that goes on is no stop");
        drop(tx);
        let t = Instant::now();
        while !stop.requested() && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(stop.requested());
    }

    #[test]
    fn a_hurried_stop_cuts_a_sleep_short() {
        let stop = Stop::default();
        stop.hurried.store(true, Ordering::Relaxed);
        let t = Instant::now();
        stop.sleep_unless_hurried(Duration::from_secs(5));
        assert!(t.elapsed() < Duration::from_secs(1));
        assert!(!stop.requested());
    }
}
