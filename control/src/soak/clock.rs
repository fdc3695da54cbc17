//! Wall-clock time as the soak records it: every event it times (flap commands, samples of
//! the links and the NIC, checks) is in Unix seconds, which the receiver's `started_unix_s`
//! turns into receiver time.

use std::time::{SystemTime, UNIX_EPOCH};

pub fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}
