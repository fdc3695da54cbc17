//! What a flap does to a link (`--flap-kind`), and the flappers that do it: on the lab with
//! its own commands, on real hardware with the operator's (or `ip link` for an admin flap).
//! Every flapper remembers what it left down and puts it back on any way out.

use anyhow::Result;
use clap::ValueEnum;
use serde::Serialize;

use super::words::Template;
use crate::lab::LabSpec;
use crate::runner::{Cmd, Runner, SystemRunner};

/// How a flap fails a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FlapKind {
    /// The far end goes down, so this end loses carrier (a cable pull, a switch port shut).
    Carrier,
    /// The DUT's own end is set down (`ip link set PF down`): the host sees it first.
    Admin,
    /// LACPDUs stop while the carrier stays up: only LACP's own timeout can notice.
    Lacp,
}

impl FlapKind {
    pub fn name(self) -> &'static str {
        match self {
            FlapKind::Carrier => "carrier",
            FlapKind::Admin => "admin",
            FlapKind::Lacp => "lacp",
        }
    }
}

/// The tc priority of the lab's LACPDU drop, so taking it away removes nothing else.
const LACP_DROP_PREF: &str = "49";
/// A classic BPF program: `ldh [12]; jeq #0x8809, 0, 1; ret #2; ret #-1`. In direct-action
/// mode 2 is TC_ACT_SHOT and -1 TC_ACT_UNSPEC (carry on). The ethertype is read from the
/// frame because af_packet's TX ring leaves skb->protocol as the socket's ETH_P_ALL, so a
/// `protocol 0x8809` filter never matches DPDK's LACPDUs. This kernel has cls_bpf but no gact
/// (`action drop`) and no matchall.
const DROP_BYTECODE: &str = "4,40 0 0 12,21 0 1 34825,6 0 0 2,6 0 0 4294967295,";

/// Takes links down and up, and puts back whatever it left down.
pub trait Flapper {
    fn set(&mut self, link: usize, up: bool) -> Result<()>;
    fn name(&self, link: usize) -> String;
    fn restore(&mut self);
}

/// The commands that take one lab link down or bring it back, for a flap kind.
/// - carrier: the switch end (`ip -n NS link set sN down`), so the host end loses carrier;
/// - admin: the host end (`ip link set pN down`), the DUT's own side;
/// - lacp: the switch end's egress drops LACPDUs (a clsact qdisc with one BPF filter that drops
///   the Slow Protocols ethertype, 0x8809), so the DUT stops hearing its partner on that link while
///   frames and carrier carry on. The switch side's af_packet must not bypass the qdisc
///   (`qdisc_bypass=0`, see `needs_qdisc`). Up removes the qdisc with its filter.
pub fn lab_commands(spec: &LabSpec, kind: FlapKind, link: usize, up: bool) -> Option<Vec<Cmd>> {
    let (host, sw) = spec.links.get(link)?;
    let ns = spec.ns.as_str();
    let state = if up { "up" } else { "down" };
    Some(match (kind, up) {
        (FlapKind::Carrier, _) => vec![Cmd::new("ip", &["-n", ns, "link", "set", sw, state])],
        (FlapKind::Admin, _) => vec![Cmd::new("ip", &["link", "set", host, state])],
        (FlapKind::Lacp, false) => vec![
            Cmd::new("ip", &["netns", "exec", ns, "tc", "qdisc", "add", "dev", sw, "clsact"]),
            Cmd::new(
                "ip",
                &[
                    "netns",
                    "exec",
                    ns,
                    "tc",
                    "filter",
                    "add",
                    "dev",
                    sw,
                    "egress",
                    "pref",
                    LACP_DROP_PREF,
                    "protocol",
                    "all",
                    "bpf",
                    "da",
                    "bytecode",
                    DROP_BYTECODE,
                ],
            ),
        ],
        (FlapKind::Lacp, true) => {
            vec![Cmd::new("ip", &["netns", "exec", ns, "tc", "qdisc", "del", "dev", sw, "clsact"])]
        }
    })
}

/// Whether the lab's switch-side af_packet ports must send through the qdisc layer (so a tc
/// filter on their egress sees their frames): only a LACP flap needs it.
pub fn needs_qdisc(kind: FlapKind) -> bool {
    kind == FlapKind::Lacp
}

pub struct LabFlapper {
    pub spec: LabSpec,
    pub kind: FlapKind,
    down: Vec<usize>,
}

impl LabFlapper {
    pub fn new(spec: LabSpec, kind: FlapKind) -> LabFlapper {
        LabFlapper { spec, kind, down: Vec::new() }
    }

    fn apply(&self, link: usize, up: bool) -> Result<()> {
        let Some(cmds) = lab_commands(&self.spec, self.kind, link, up) else {
            anyhow::bail!("link {link}: the lab has links 0 to {}", self.spec.links.len().saturating_sub(1));
        };
        for c in &cmds {
            SystemRunner.check(c)?;
        }
        Ok(())
    }
}

impl Flapper for LabFlapper {
    fn set(&mut self, link: usize, up: bool) -> Result<()> {
        self.apply(link, up)?;
        self.down.retain(|&l| l != link);
        if !up {
            self.down.push(link);
        }
        Ok(())
    }
    fn name(&self, link: usize) -> String {
        let Some((host, sw)) = self.spec.links.get(link) else { return String::new() };
        if self.kind == FlapKind::Admin {
            host.clone()
        } else {
            sw.clone()
        }
    }
    fn restore(&mut self) {
        for l in std::mem::take(&mut self.down) {
            if let Err(e) = self.apply(l, true) {
                eprintln!("vflag-ctl: warning: could not bring link {l} back up: {e:#}");
            }
        }
    }
}

/// Real hardware: the operator's commands, run without a shell, {link} replaced inside their
/// words by the link's name.
pub struct CmdFlapper {
    names: Vec<String>,
    /// Down, up.
    cmds: Option<(Template, Template)>,
    down: Vec<usize>,
}

impl CmdFlapper {
    /// An admin flap without commands of the operator's is `ip link set {link} down|up` here.
    pub fn new(names: Vec<String>, cmds: Option<(Template, Template)>, kind: FlapKind) -> Result<CmdFlapper> {
        let cmds = match (cmds, kind) {
            (None, FlapKind::Admin) => Some((
                Template::parse("--flap-kind admin", "ip link set {link} down")?,
                Template::parse("--flap-kind admin", "ip link set {link} up")?,
            )),
            (c, _) => c,
        };
        Ok(CmdFlapper { names, cmds, down: Vec::new() })
    }

    pub fn command(&self, link: usize, up: bool) -> Option<Cmd> {
        let (down, up_t) = self.cmds.as_ref()?;
        let argv = if up { up_t } else { down }.argv(&self.name(link));
        let (program, rest) = argv.split_first()?;
        Some(Cmd::new(program, &rest.iter().map(String::as_str).collect::<Vec<_>>()))
    }
}

impl Flapper for CmdFlapper {
    fn set(&mut self, link: usize, up: bool) -> Result<()> {
        if let Some(c) = self.command(link, up) {
            SystemRunner.check(&c)?;
        }
        self.down.retain(|&l| l != link);
        if !up {
            self.down.push(link);
        }
        Ok(())
    }
    fn name(&self, link: usize) -> String {
        self.names.get(link).cloned().unwrap_or_else(|| link.to_string())
    }
    fn restore(&mut self) {
        for l in std::mem::take(&mut self.down) {
            if let Some(c) = self.command(l, true) {
                if let Err(e) = SystemRunner.check(&c) {
                    eprintln!("vflag-ctl: warning: could not bring {} back up: {e:#}", self.name(l));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(kind: FlapKind, up: bool) -> Vec<String> {
        lab_commands(&LabSpec::default(), kind, 1, up).unwrap().iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn each_kind_fails_the_link_its_own_way_on_the_lab() {
        assert_eq!(lines(FlapKind::Carrier, false), ["ip -n sw link set s1 down"]);
        assert_eq!(lines(FlapKind::Carrier, true), ["ip -n sw link set s1 up"]);
        assert_eq!(lines(FlapKind::Admin, false), ["ip link set p1 down"]);
        assert_eq!(lines(FlapKind::Admin, true), ["ip link set p1 up"]);
        assert_eq!(
            lines(FlapKind::Lacp, false),
            [
                "ip netns exec sw tc qdisc add dev s1 clsact",
                "ip netns exec sw tc filter add dev s1 egress pref 49 protocol all bpf da bytecode \
                 4,40 0 0 12,21 0 1 34825,6 0 0 2,6 0 0 4294967295,"
            ]
        );
        assert_eq!(lines(FlapKind::Lacp, true), ["ip netns exec sw tc qdisc del dev s1 clsact"]);
        assert!(lab_commands(&LabSpec::default(), FlapKind::Carrier, 2, false).is_none(), "no link 2");
        assert!(needs_qdisc(FlapKind::Lacp) && !needs_qdisc(FlapKind::Carrier));
    }

    #[test]
    fn the_lab_flapper_names_the_end_it_acts_on() {
        assert_eq!(LabFlapper::new(LabSpec::default(), FlapKind::Admin).name(0), "p0");
        assert_eq!(LabFlapper::new(LabSpec::default(), FlapKind::Lacp).name(0), "s0");
    }

    #[test]
    fn flap_commands_name_the_link_and_an_admin_flap_needs_none() {
        let t = |s: &str| Template::parse("t", s).unwrap();
        let f = CmdFlapper::new(
            vec!["enp1s0f0np0".into(), "enp1s0f1np1".into()],
            Some((t("ip link set {link} down"), t("ssh switch 'interface {link}; no shutdown'"))),
            FlapKind::Carrier,
        )
        .unwrap();
        let c = f.command(1, false).unwrap();
        assert_eq!((c.program.as_str(), c.args.join(" ")), ("ip", "link set enp1s0f1np1 down".to_string()));
        let c = f.command(0, true).unwrap();
        assert_eq!(
            (c.program.as_str(), c.args.clone()),
            ("ssh", vec!["switch".into(), "interface enp1s0f0np0; no shutdown".into()])
        );
        let admin = CmdFlapper::new(vec!["enp1s0f0np0".into()], None, FlapKind::Admin).unwrap();
        assert_eq!(admin.command(0, false).unwrap().to_string(), "ip link set enp1s0f0np0 down");
        assert!(CmdFlapper::new(vec!["x".into()], None, FlapKind::Carrier).unwrap().command(0, false).is_none());
    }
}
