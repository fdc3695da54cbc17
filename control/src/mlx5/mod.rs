//! VF-LAG on an mlx5 host: find the card (`discover`), work out the seed's procedure for it
//! (`plan`), apply it step by step with a check before and after each (`apply`), undo it
//! (`plan::down`), check the result (`verify`), and watch the per-link counters (`counters`).
//!
//! Every read of the host goes through [`Env`]: sysfs and debugfs under roots that tests point
//! at fixture trees, the kernel log from `dmesg` or a file, and commands through the
//! [`Runner`], which also carries the sysfs writes.

pub mod apply;
pub mod check;
pub mod cli;
pub mod counters;
pub mod discover;
pub mod dmesg;
pub mod lagstate;
pub mod parse;
pub mod pci;
pub mod plan;
pub mod sysfs;
pub mod verify;

#[cfg(test)]
pub mod testing;

use std::path::PathBuf;
use std::time::Duration;

use crate::runner::{Cmd, Output, Runner};
use sysfs::SysFs;

/// The host as the mlx5 commands see it.
pub struct Env<'a> {
    pub sys: SysFs,
    /// debugfs (`/sys/kernel/debug`), where mlx5 shows its LAG (`mlx5/<pci>/lag/`).
    pub debugfs: SysFs,
    /// The kernel log from this file instead of `dmesg`.
    pub dmesg_file: Option<PathBuf>,
    pub runner: &'a mut dyn Runner,
    /// How waits wait (tests pass one that returns at once).
    pub sleep: &'a dyn Fn(Duration),
}

impl Env<'_> {
    pub fn run(&mut self, program: &str, args: &[&str]) -> anyhow::Result<Output> {
        self.runner.run(&Cmd::new(program, args))
    }

    /// The kernel log, or None when it cannot be read (dmesg needs root on most hosts).
    pub fn kernel_log(&mut self) -> Option<String> {
        match &self.dmesg_file {
            Some(f) => std::fs::read_to_string(f).ok(),
            None => self.run("dmesg", &[]).ok().filter(|o| o.ok()).map(|o| o.stdout),
        }
    }
}
