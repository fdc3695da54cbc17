//! What a soak's figures are read from, once it stopped: the receiver's report, its bond
//! members' names, and the links' counter samples when they were taken.

use super::link_counters::LinkSeries;
use super::rx_report::RxReport;

/// What the windows are read from: the receiver's report, its bond members' names, and the
/// links' counters when they were sampled.
#[derive(Clone, Copy)]
pub struct Seen<'a> {
    pub rx: &'a RxReport,
    pub members: &'a [String],
    pub links: Option<&'a LinkSeries>,
}
