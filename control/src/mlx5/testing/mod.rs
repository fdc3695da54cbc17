//! Test helpers, compiled for tests only: the committed fixture trees and `FakeHost`, a
//! simulated mlx5 host (`fake.rs`); a fake host brought up or down as `vflag-ctl up|down`
//! would (`run_plan`, `up_on`), for the tests of the mlx5 modules and the soak's hardware
//! paths; and the link and shared-block steps run for real in a namespace (`real_steps.rs`).

pub mod fake;
mod real_steps;

use anyhow::Result;

use super::apply::{apply, Applied};
use super::discover::{self, FOR_SETUP, FOR_TEARDOWN};
use super::plan::{self, Order, Setup};
use fake::FakeHost;

/// Discovers the fake host, plans up (or down) in `order` and applies it.
pub fn run_plan(h: &mut FakeHost, s: &Setup, order: Order, up: bool) -> Result<Applied> {
    let sleep = |_| {};
    let root = h.root();
    let mut env = fake::env_at(&root, h, &sleep);
    let host = discover::discover(&mut env, None, &s.bond, if up { FOR_SETUP } else { FOR_TEARDOWN })?;
    let p = if up { plan::up(&host, s, &env.sys, order)? } else { plan::down(&host, s, &env.sys, order)? };
    apply(&mut env, &p, "vflag-ctl down", &mut |_| {})
}

/// Brings the fake host up as `vflag-ctl up` would.
pub fn up_on(h: &mut FakeHost, s: &Setup) -> Result<Applied> {
    run_plan(h, s, s.order, true)
}
