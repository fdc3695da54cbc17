//! The emulated VF-LAG lab: a namespace playing the switch, and one veth pair per link with
//! the host end outside (where the DPDK bond sits, as the VF on its LAG) and the switch end
//! inside. `up` is idempotent and undoes its own steps if one fails; `down` removes exactly
//! what the lab made (host ends carry the alias `vflag-lab`); `flap` takes a switch-side end
//! down and up, as a switch port or cable would.

use anyhow::{bail, Result};
use serde::Serialize;

use crate::runner::{Cmd, Runner};
use cli_exit::BadUsage;

pub mod card_view;
pub mod lag_model;
pub mod vf;

/// The alias that marks an interface as the lab's own.
pub const MARK: &str = "vflag-lab";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabSpec {
    pub ns: String,
    /// (host end, switch end) per link.
    pub links: Vec<(String, String)>,
}

#[derive(Debug, Clone, clap::Args)]
/// The lab's names on the command line (`lab` and `soak`): the namespace and the links.
pub struct LabNames {
    /// The namespace playing the switch.
    #[arg(long, default_value = "sw", global = true)]
    pub ns: String,
    /// Host ends of the links (where the DPDK bond runs), comma-separated.
    #[arg(long, default_value = "p0,p1", value_delimiter = ',', global = true)]
    pub host_links: Vec<String>,
    /// Switch ends of the links, inside the namespace, comma-separated.
    #[arg(long, default_value = "s0,s1", value_delimiter = ',', global = true)]
    pub switch_links: Vec<String>,
}

impl LabNames {
    /// The lab they name, each name checked (exit 2 naming it).
    pub fn spec(&self) -> Result<LabSpec> {
        let n = self;
        if n.host_links.len() != n.switch_links.len() || n.host_links.is_empty() {
            return Err(BadUsage(format!(
                "--host-links {} and --switch-links {} must name the same number of links",
                n.host_links.join(","),
                n.switch_links.join(",")
            ))
            .into());
        }
        for (opt, name) in n
            .host_links
            .iter()
            .map(|l| ("--host-links", l))
            .chain(n.switch_links.iter().map(|l| ("--switch-links", l)))
            .chain([("--ns", &n.ns)])
        {
            crate::names::ifname(name).map_err(|e| BadUsage(format!("{opt} {e}")))?;
        }
        Ok(LabSpec {
            ns: n.ns.clone(),
            links: n.host_links.iter().cloned().zip(n.switch_links.iter().cloned()).collect(),
        })
    }
}

impl Default for LabSpec {
    fn default() -> Self {
        LabSpec { ns: "sw".into(), links: vec![("p0".into(), "s0".into()), ("p1".into(), "s1".into())] }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkState {
    pub host: String,
    pub switch: String,
    pub host_exists: bool,
    /// The host end carries the lab's alias.
    pub ours: bool,
    pub host_up: bool,
    pub switch_exists: bool,
    pub switch_up: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabState {
    pub ns: String,
    pub ns_exists: bool,
    /// Interfaces in the namespace that are not the lab's (besides lo).
    pub foreign_in_ns: Vec<String>,
    pub links: Vec<LinkState>,
}

impl LabState {
    /// Everything exists, is the lab's, and is up.
    pub fn complete(&self) -> bool {
        self.ns_exists && self.links.iter().all(|l| l.ours && l.host_up && l.switch_exists && l.switch_up)
    }

    /// Nothing of the lab is left.
    pub fn clean(&self) -> bool {
        !self.ns_exists && self.links.iter().all(|l| !l.ours)
    }
}

/// One `ip -o link` line: (name, admin up, alias).
pub(crate) fn parse_links(text: &str) -> Vec<(String, bool, Option<String>)> {
    text.lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ": ");
            parts.next()?;
            let name = parts.next()?.split('@').next()?.trim().to_string();
            let rest = parts.next().unwrap_or("");
            let flags = rest.split('>').next().unwrap_or("");
            let up = flags.trim_start_matches('<').split(',').any(|f| f == "UP");
            let alias = rest.split(" alias ").nth(1).map(|a| a.split(['\\', ' ']).next().unwrap_or("").to_string());
            Some((name, up, alias))
        })
        .collect()
}

pub fn status(r: &mut dyn Runner, spec: &LabSpec) -> Result<LabState> {
    let ns_list = r.check(&Cmd::new("ip", &["netns", "list"]))?.stdout;
    let ns_exists = ns_list.lines().any(|l| l.split_whitespace().next() == Some(spec.ns.as_str()));
    let host = parse_links(&r.check(&Cmd::new("ip", &["-o", "link", "show"]))?.stdout);
    let inside = if ns_exists {
        parse_links(&r.check(&Cmd::new("ip", &["-n", &spec.ns, "-o", "link", "show"]))?.stdout)
    } else {
        Vec::new()
    };
    let links: Vec<LinkState> = spec
        .links
        .iter()
        .map(|(h, s)| {
            let he = host.iter().find(|(n, _, _)| n == h);
            let se = inside.iter().find(|(n, _, _)| n == s);
            LinkState {
                host: h.clone(),
                switch: s.clone(),
                host_exists: he.is_some(),
                ours: he.is_some_and(|(_, _, a)| a.as_deref() == Some(MARK)),
                host_up: he.is_some_and(|(_, up, _)| *up),
                switch_exists: se.is_some(),
                switch_up: se.is_some_and(|(_, up, _)| *up),
            }
        })
        .collect();
    let foreign_in_ns = inside
        .iter()
        .map(|(n, _, _)| n.clone())
        .filter(|n| n != "lo" && !spec.links.iter().any(|(_, s)| s == n))
        .collect();
    Ok(LabState { ns: spec.ns.clone(), ns_exists, foreign_in_ns, links })
}

/// What `up` made, so a failure half-way can be undone.
enum Made {
    Ns(String),
    Link(String),
}

/// Brings the lab up; returns the commands that changed something (none when it was up).
pub fn up(r: &mut dyn Runner, spec: &LabSpec) -> Result<Vec<String>> {
    let st = status(r, spec)?;
    for l in &st.links {
        if l.host_exists && !l.ours {
            bail!(
                "interface {} exists and is not the lab's (no alias {MARK}): choose other names with --host-links",
                l.host
            );
        }
        if l.ours && !l.switch_exists {
            bail!(
                "link {} is half there (no {} in namespace {}): run `vflag-ctl lab down` first",
                l.host,
                l.switch,
                spec.ns
            );
        }
        if !l.host_exists && l.switch_exists {
            bail!(
                "namespace {} already holds an interface {}: choose other names with --switch-links",
                spec.ns,
                l.switch
            );
        }
    }
    if !st.foreign_in_ns.is_empty() {
        bail!(
            "namespace {} exists and holds other interfaces ({}): choose another with --ns",
            spec.ns,
            st.foreign_in_ns.join(", ")
        );
    }
    let mut made: Vec<Made> = Vec::new();
    let mut done: Vec<String> = Vec::new();
    let result = (|| -> Result<()> {
        if !st.ns_exists {
            run(r, &mut done, &["netns", "add", &spec.ns])?;
            made.push(Made::Ns(spec.ns.clone()));
            // A quiet switch: no IPv6 router or neighbour solicitations on the links.
            run_any(
                r,
                &mut done,
                "ip",
                &["netns", "exec", &spec.ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"],
            )?;
        }
        for (l, (h, s)) in st.links.iter().zip(&spec.links) {
            if !l.host_exists {
                run(r, &mut done, &["link", "add", h, "type", "veth", "peer", "name", s, "netns", &spec.ns])?;
                made.push(Made::Link(h.clone()));
                run(r, &mut done, &["link", "set", h, "alias", MARK])?;
                run_any(r, &mut done, "sysctl", &["-qw", &format!("net.ipv6.conf.{h}.disable_ipv6=1")])?;
            }
            if !l.host_up || !l.host_exists {
                run(r, &mut done, &["link", "set", h, "up"])?;
            }
            if !l.switch_up || !l.host_exists {
                run(r, &mut done, &["-n", &spec.ns, "link", "set", s, "up"])?;
            }
        }
        Ok(())
    })();
    if let Err(e) = result {
        let mut undone = Vec::new();
        for m in made.iter().rev() {
            let cmd = match m {
                Made::Link(h) => Cmd::new("ip", &["link", "del", h]),
                Made::Ns(ns) => Cmd::new("ip", &["netns", "del", ns]),
            };
            let _ = r.run(&cmd);
            undone.push(cmd.to_string());
        }
        let undo = if undone.is_empty() { String::new() } else { format!("; undone: {}", undone.join(", ")) };
        bail!("lab up failed: {e:#}{undo}");
    }
    Ok(done)
}

/// Removes what the lab made: its veth pairs, and the namespace once nothing else is in it.
pub fn down(r: &mut dyn Runner, spec: &LabSpec) -> Result<Vec<String>> {
    let st = status(r, spec)?;
    let mut done = Vec::new();
    for l in st.links.iter().filter(|l| l.ours) {
        run(r, &mut done, &["link", "del", &l.host])?;
    }
    if st.ns_exists {
        if st.foreign_in_ns.is_empty() {
            run(r, &mut done, &["netns", "del", &spec.ns])?;
        } else {
            bail!(
                "namespace {} holds interfaces that are not the lab's ({}): left in place",
                spec.ns,
                st.foreign_in_ns.join(", ")
            );
        }
    }
    Ok(done)
}

/// Takes link `index`'s switch end down for `down_ms`, then up again. `sleep` is passed in
/// so tests need not wait.
pub fn flap(r: &mut dyn Runner, spec: &LabSpec, index: usize, down_ms: u64, sleep: &dyn Fn(u64)) -> Result<()> {
    set_switch_link(r, spec, index, false)?;
    sleep(down_ms);
    set_switch_link(r, spec, index, true)
}

/// Sets link `index`'s switch end up or down, as a switch port or a pulled cable would.
pub fn set_switch_link(r: &mut dyn Runner, spec: &LabSpec, index: usize, up: bool) -> Result<()> {
    let Some((_, s)) = spec.links.get(index) else {
        bail!("link {index}: the lab has links 0 to {}", spec.links.len().saturating_sub(1));
    };
    r.check(&Cmd::new("ip", &["-n", &spec.ns, "link", "set", s, if up { "up" } else { "down" }]))?;
    Ok(())
}

fn run(r: &mut dyn Runner, done: &mut Vec<String>, args: &[&str]) -> Result<()> {
    run_any(r, done, "ip", args)
}

fn run_any(r: &mut dyn Runner, done: &mut Vec<String>, program: &str, args: &[&str]) -> Result<()> {
    let cmd = Cmd::new(program, args);
    r.check(&cmd)?;
    done.push(cmd.to_string());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::{Output, Recorder};

    fn out(s: &str) -> Output {
        Output { stdout: s.into(), ..Default::default() }
    }

    const HOST_NONE: &str =
        "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN\\    link/loopback 00:00:00:00:00:00\n";
    const HOST_LAB: &str = "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536\\    link/loopback 00:00:00:00:00:00\n\
        7: p0@if6: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP\\    link/ether 0a:00:00:00:00:01 brd ff:ff:ff:ff:ff:ff link-netns sw\\    alias vflag-lab\n\
        9: p1@if8: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP\\    link/ether 0a:00:00:00:00:02 brd ff:ff:ff:ff:ff:ff link-netns sw\\    alias vflag-lab\n";
    const NS_LAB: &str = "1: lo: <LOOPBACK> mtu 65536\\    link/loopback\n\
        6: s0@if7: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500\\    link/ether\n\
        8: s1@if9: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500\\    link/ether\n";

    #[test]
    fn parses_ip_one_line_output() {
        let l = parse_links(HOST_LAB);
        assert_eq!(l[1], ("p0".to_string(), true, Some("vflag-lab".to_string())));
        assert_eq!(l[0].2, None);
        let down = parse_links("3: s0@if2: <BROADCAST,MULTICAST> mtu 1500 state DOWN\n");
        assert_eq!(down[0], ("s0".to_string(), false, None));
    }

    #[test]
    fn up_on_a_bare_host_runs_the_whole_sequence() {
        let mut r = Recorder::default();
        r.answer("ip -o link show", out(HOST_NONE), false);
        let done = up(&mut r, &LabSpec::default()).unwrap();
        assert_eq!(
            done,
            vec![
                "ip netns add sw",
                "ip netns exec sw sysctl -qw net.ipv6.conf.all.disable_ipv6=1",
                "ip link add p0 type veth peer name s0 netns sw",
                "ip link set p0 alias vflag-lab",
                "sysctl -qw net.ipv6.conf.p0.disable_ipv6=1",
                "ip link set p0 up",
                "ip -n sw link set s0 up",
                "ip link add p1 type veth peer name s1 netns sw",
                "ip link set p1 alias vflag-lab",
                "sysctl -qw net.ipv6.conf.p1.disable_ipv6=1",
                "ip link set p1 up",
                "ip -n sw link set s1 up",
            ]
        );
    }

    #[test]
    fn up_again_changes_nothing() {
        let mut r = Recorder::default();
        r.answer("ip netns list", out("sw (id: 0)\n"), false);
        r.answer("ip -o link show", out(HOST_LAB), false);
        r.answer("ip -n sw -o link show", out(NS_LAB), false);
        assert!(up(&mut r, &LabSpec::default()).unwrap().is_empty());
        assert!(status(&mut r, &LabSpec::default()).unwrap().complete());
        // Only reads were run.
        assert!(r.lines().iter().all(|l| l.contains("list") || l.contains("show")), "{:?}", r.lines());
    }

    #[test]
    fn refuses_names_that_are_not_the_labs() {
        let mut r = Recorder::default();
        r.answer("ip -o link show", out("4: p0: <BROADCAST,UP> mtu 1500\\    link/ether\n"), false);
        let e = up(&mut r, &LabSpec::default()).unwrap_err().to_string();
        assert!(e.contains("interface p0 exists and is not the lab's"), "{e}");
        assert!(!r.lines().iter().any(|l| l.contains("add")), "nothing was changed");

        let mut r = Recorder::default();
        r.answer("ip netns list", out("sw\n"), false);
        r.answer("ip -o link show", out(HOST_NONE), false);
        r.answer("ip -n sw -o link show", out("1: lo: <LOOPBACK>\n5: eth9: <UP>\n"), false);
        let e = up(&mut r, &LabSpec::default()).unwrap_err().to_string();
        assert!(e.contains("namespace sw exists and holds other interfaces (eth9)"), "{e}");
    }

    #[test]
    fn a_failed_step_undoes_what_was_made() {
        let mut r = Recorder::default();
        r.answer("ip -o link show", out(HOST_NONE), false);
        r.answer(
            "ip link add p1",
            Output { code: 2, stderr: "RTNETLINK answers: Operation not permitted".into(), ..Default::default() },
            false,
        );
        let e = up(&mut r, &LabSpec::default()).unwrap_err().to_string();
        assert!(e.contains("`ip link add p1 type veth peer name s1 netns sw` failed"), "{e}");
        assert!(e.contains("undone: ip link del p0, ip netns del sw"), "{e}");
        let lines = r.lines();
        assert_eq!(&lines[lines.len() - 2..], ["ip link del p0", "ip netns del sw"]);
    }

    #[test]
    fn down_removes_exactly_the_labs_parts() {
        let mut r = Recorder::default();
        r.answer("ip netns list", out("sw\n"), false);
        r.answer("ip -o link show", out(HOST_LAB), false);
        r.answer("ip -n sw -o link show", out(NS_LAB), false);
        assert_eq!(
            down(&mut r, &LabSpec::default()).unwrap(),
            vec!["ip link del p0", "ip link del p1", "ip netns del sw"]
        );
    }

    #[test]
    fn flap_takes_the_switch_end_down_then_up() {
        let mut r = Recorder::default();
        let slept = std::cell::Cell::new(0);
        flap(&mut r, &LabSpec::default(), 1, 500, &|ms| slept.set(ms)).unwrap();
        assert_eq!(r.lines(), vec!["ip -n sw link set s1 down", "ip -n sw link set s1 up"]);
        assert_eq!(slept.get(), 500);
        assert!(flap(&mut r, &LabSpec::default(), 2, 1, &|_| {})
            .unwrap_err()
            .to_string()
            .contains("link 2: the lab has links 0 to 1"));
    }
}
