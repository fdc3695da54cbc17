//! Takes the lab down on every way out when the soak brought it up.

use crate::lab::{self, LabSpec};
use crate::runner::SystemRunner;

pub struct LabGuard {
    pub spec: LabSpec,
    pub vf: Option<lab::vf::VfSpec>,
    pub teardown: bool,
}

impl Drop for LabGuard {
    fn drop(&mut self) {
        if !self.teardown {
            return;
        }
        let done = match &self.vf {
            Some(v) => lab::vf::down(&mut SystemRunner, &self.spec, v),
            None => lab::down(&mut SystemRunner, &self.spec),
        };
        match done {
            Ok(_) => println!("lab down: namespace {} and its links removed", self.spec.ns),
            Err(e) => eprintln!("vflag-ctl: warning: taking the lab down failed: {e:#}"),
        }
    }
}
