//! The steps of the plan this kernel can run for real (links down and up, ingress qdiscs on a
//! shared block, and their removal), run by `apply` in a network namespace the test makes,
//! where veth interfaces play the PFs and the bond under the seed's names. The checks read the
//! namespace's own sysfs through `/proc/<pid>/root/sys` of a process inside it.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;

use super::fake::{self, FakeHost};
use crate::mlx5::apply::apply;
use crate::mlx5::check::Want;
use crate::mlx5::discover::{self, FOR_SETUP, FOR_TEARDOWN};
use crate::mlx5::parse::Ingress;
use crate::mlx5::plan::{self, Order, Plan, Setup};
use crate::mlx5::sysfs::SysFs;
use crate::mlx5::Env;
use crate::runner::{Cmd, Output, Runner, SystemRunner};

/// A namespace with the seed's PF and bond names as veth ends; removed on drop.
struct Netns {
    name: String,
    inside: Child,
}

fn ip(args: &[&str]) {
    let st = Command::new("ip").args(args).status().unwrap();
    assert!(st.success(), "ip {}", args.join(" "));
}

impl Netns {
    fn new() -> Netns {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!("vflm{}x{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        ip(&["netns", "add", &name]);
        // From here on the guard removes it whatever happens.
        let mut ns = Netns { name: name.clone(), inside: Command::new("true").spawn().unwrap() };
        ip(&["-n", &name, "link", "add", "enp1s0f0np0", "type", "veth", "peer", "name", "enp1s0f1np1"]);
        ip(&["-n", &name, "link", "add", "vf-bond", "type", "veth", "peer", "name", "vf-peer"]);
        for dev in ["enp1s0f0np0", "enp1s0f1np1", "vf-peer"] {
            ip(&["-n", &name, "link", "set", dev, "up"]);
        }
        let _ = ns.inside.wait();
        ns.inside =
            Command::new("ip").args(["netns", "exec", &name, "sleep", "600"]).stdout(Stdio::null()).spawn().unwrap();
        let t0 = Instant::now();
        while !ns.sys().exists("class/net/vf-bond") {
            assert!(t0.elapsed() < Duration::from_secs(5), "the namespace's sysfs never showed up");
            std::thread::sleep(Duration::from_millis(20));
        }
        ns
    }

    fn sys(&self) -> SysFs {
        SysFs::new(format!("/proc/{}/root/sys", self.inside.id()))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = self.inside.kill();
        let _ = self.inside.wait();
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}

/// Runs every command inside the namespace; records them as given.
struct InNetns {
    ns: String,
    log: Vec<String>,
}

impl Runner for InNetns {
    fn run(&mut self, cmd: &Cmd) -> Result<Output> {
        assert!(cmd.write_to.is_none(), "no sysfs writes in the namespace: {cmd}");
        self.log.push(cmd.to_string());
        let mut args = vec!["netns", "exec", &self.ns, &cmd.program];
        args.extend(cmd.args.iter().map(String::as_str));
        SystemRunner.run(&Cmd::new("ip", &args))
    }
}

/// The plan's steps this kernel supports: links down and up, and ingress qdiscs.
fn runnable(p: &Plan) -> Plan {
    let ok = |l: &str| {
        (l.starts_with("ip link set ") && (l.ends_with(" up") || l.ends_with(" down")))
            || l.starts_with("tc qdisc add dev ")
            || l.starts_with("tc qdisc del dev ")
    };
    Plan { title: p.title.clone(), steps: p.steps.iter().filter(|s| ok(&s.line())).cloned().collect(), rep: None }
}

/// The seed's plan (up or down) from the simulated host.
fn seed_plan(up: bool) -> Plan {
    let mut h = FakeHost::seed();
    let s = Setup::default();
    if !up {
        super::up_on(&mut h, &s).unwrap();
    }
    let (root, sleep) = (h.root(), |_| {});
    let mut env = fake::env_at(&root, &mut h, &sleep);
    let host = discover::discover(&mut env, None, "vf-bond", if up { FOR_SETUP } else { FOR_TEARDOWN }).unwrap();
    let p = if up { plan::up(&host, &s, &env.sys, Order::Auto) } else { plan::down(&host, &s, &env.sys, Order::Auto) };
    runnable(&p.unwrap())
}

fn qdisc(env: &mut Env, dev: &str) -> Ingress {
    let out = env.run("tc", &["qdisc", "show", "dev", dev]).unwrap();
    crate::mlx5::parse::ingress(&out.stdout)
}

#[test]
fn link_and_shared_block_steps_run_for_real_in_a_namespace() {
    let ns = Netns::new();
    let mut runner = InNetns { ns: ns.name.clone(), log: Vec::new() };
    let sleep = |_| {};
    let mut env = Env { sys: ns.sys(), debugfs: ns.sys(), dmesg_file: None, runner: &mut runner, sleep: &sleep };

    let up = seed_plan(true);
    let lines: Vec<String> = up.steps.iter().map(|s| s.line()).collect();
    assert_eq!(
        lines,
        [
            "ip link set enp1s0f0np0 down",
            "ip link set enp1s0f1np1 down",
            "ip link set enp1s0f0np0 up",
            "ip link set enp1s0f1np1 up",
            "ip link set vf-bond up",
            "tc qdisc add dev vf-bond ingress_block 22 ingress",
            "tc qdisc add dev enp1s0f0np0 ingress_block 22 ingress",
            "tc qdisc add dev enp1s0f1np1 ingress_block 22 ingress",
        ]
    );
    let done = apply(&mut env, &up, "", &mut |_| {}).unwrap();
    assert_eq!(done.ran, lines, "each step ran, and its check saw the effect in the namespace");
    for dev in ["vf-bond", "enp1s0f0np0", "enp1s0f1np1"] {
        assert_eq!(qdisc(&mut env, dev), Ingress::Block(22), "{dev}");
        let want = Want::AdminUp { dev: dev.into(), up: true };
        assert!(want.check(&mut env).unwrap().holds, "{dev} is up");
    }
    // The three share one block: tc knows it by number.
    assert!(env.run("tc", &["filter", "show", "block", "22"]).unwrap().ok());

    // Again: the qdiscs and the bond are in place. A PF counts as ready for the bond when it
    // is down or already enslaved; veths are never enslaved (no bonding here), so their
    // down/up runs again.
    let again = apply(&mut env, &up, "", &mut |_| {}).unwrap();
    assert_eq!(again.ran, lines[..4]);
    assert_eq!(again.in_place, 4);

    let down = seed_plan(false);
    let lines: Vec<String> = down.steps.iter().map(|s| s.line()).collect();
    assert_eq!(
        lines[..3],
        [
            "tc qdisc del dev enp1s0f1np1 ingress",
            "tc qdisc del dev enp1s0f0np0 ingress",
            "tc qdisc del dev vf-bond ingress"
        ]
    );
    let done = apply(&mut env, &down, "", &mut |_| {}).unwrap();
    assert_eq!(done.ran[..3], lines[..3]);
    for dev in ["vf-bond", "enp1s0f0np0", "enp1s0f1np1"] {
        assert_eq!(qdisc(&mut env, dev), Ingress::None, "{dev}");
    }
    assert!(!env.run("tc", &["filter", "show", "block", "22"]).unwrap().ok(), "the block went with its last qdisc");
    drop(env);
    assert!(runner.log.iter().all(|l| !l.contains("/sys/")), "nothing touched the host's sysfs");
}

#[test]
fn a_real_tc_refusal_stops_the_run_with_tcs_message() {
    let ns = Netns::new();
    // Something else's ingress qdisc, not on the block, is on one PF.
    ip(&["netns", "exec", &ns.name, "tc", "qdisc", "add", "dev", "enp1s0f1np1", "ingress"]);
    let mut runner = InNetns { ns: ns.name.clone(), log: Vec::new() };
    let sleep = |_| {};
    let mut env = Env { sys: ns.sys(), debugfs: ns.sys(), dmesg_file: None, runner: &mut runner, sleep: &sleep };
    let e = apply(&mut env, &seed_plan(true), "vflag-ctl down", &mut |_| {}).unwrap_err().to_string();
    assert!(e.contains("failed: tc qdisc add dev enp1s0f1np1 ingress_block 22 ingress"), "{e}");
    assert!(e.contains("said: exit 2:"), "tc's own message: {e}");
    assert!(e.contains("an ingress qdisc not on this block may be there"), "{e}");
    drop(env);
    assert_eq!(
        runner.log.iter().rfind(|l| l.starts_with("tc qdisc add")).unwrap(),
        "tc qdisc add dev enp1s0f1np1 ingress_block 22 ingress"
    );
}
