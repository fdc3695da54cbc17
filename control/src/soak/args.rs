//! `vflag-ctl soak` options, and their checks: everything is validated before the lab or any
//! process starts, each bad value named in one line.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;

use super::flappers::FlapKind;
use super::schedule::{LinkChoice, Schedule};
use super::verdict::Limits;
use super::words::{self, Template};
use vflag_contract::value::{self, BondHash, BondMode, LossLimit};

/// The receiver options the soak gives itself; `--dut-args` must leave them out.
const SET_BY_SOAK: [&str; 5] = ["--json", "--events", "--fwd", "--duration", "--stats-interval"];

/// The far side's options the soak gives itself; `--peer-args` must leave them out.
const PEER_SET_BY_SOAK: [&str; 10] = [
    "--json",
    "--events",
    "--fwd",
    "--duration",
    "--stats-interval",
    "--stop-on-eof",
    "--run-id",
    "--flows",
    "--rate",
    "--dst-mac",
];

// The help's sections (clap `help_heading`).
const LAB: &str = "Lab";
const HARDWARE: &str = "Real hardware";
const TRAFFIC: &str = "Traffic";
const FLAPS: &str = "Flaps";
const VERDICT: &str = "Verdict";
const OUTPUT: &str = "Output";

#[derive(Debug, Clone, Args)]
pub struct SoakArgs {
    /// Run on the emulated lab: bring it up, generator in the switch namespace, receiver here.
    #[arg(long, conflicts_with = "dut_args", help_heading = LAB)]
    pub lab: bool,
    /// vflag-dp's arguments for the receiver on the VF, as one string
    /// (e.g. "--lcores 1-2 -a 0000:01:00.2 --mac 52:54:00:00:00:01"); traffic comes from the
    /// switch side.
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true, help_heading = HARDWARE)]
    pub dut_args: Option<String>,
    /// The DUT on an emulated VF instead of a bond: the links joined as the NIC joins them
    /// (`lab up --vf`: a shared ingress block to the VF's representor, a 5-tuple transmit hash
    /// over the links with carrier), the LAG model remapping on each flap, the split from the
    /// host links' counters. Needs --bond xor or active-backup on the switch side.
    #[arg(long, help_heading = LAB)]
    pub vf: bool,
    /// Both directions. The DUT reflects (`vflag-dp --fwd reflect`: addresses swapped, payload
    /// kept) and the far side generates and receives in one process (`--fwd gen-rx`), so the
    /// round trip's loss, outages and latency are measured on one clock, and the links'
    /// transmit counters give the DUT's egress split per flap. On real hardware it needs
    /// --peer-cmd.
    #[arg(long, help_heading = TRAFFIC)]
    pub reflect: bool,
    /// How to run a command on the traffic side, e.g. "ssh -o BatchMode=yes peer" [lab default:
    /// "ip netns exec NS"]. Split into words as a shell would; the far side's vflag-dp and its
    /// arguments follow as argv (quoted for the remote shell when the command is ssh). It runs
    /// with `--stop-on-eof`, so it stops when the soak does, however the soak ends.
    #[arg(long, value_name = "CMD", help_heading = TRAFFIC)]
    pub peer_cmd: Option<String>,
    /// Real hardware, with --peer-cmd: the far side's own vflag-dp arguments, as one string
    /// (its lcores, `-a`/`--vdev` ports, `--bond` if it bonds, memory); the soak adds the rest
    /// (--fwd, --stop-on-eof, --run-id, --flows, --rate, --dst-mac from --dut-args' --mac, --json).
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true, help_heading = TRAFFIC)]
    pub peer_args: Option<String>,
    /// The far side's vflag-dp [default: `vflag-dp` on the far side's PATH; the lab: this
    /// host's].
    #[arg(long, value_name = "PATH", help_heading = TRAFFIC)]
    pub peer_vflag_dp: Option<String>,
    /// A foreign generator instead of vflag-dp's (e.g. a TRex script): split into words and run
    /// as argv once the receiver is up, in its own process group, output to traffic.log. Its
    /// flows are followed by their 5-tuples: per-flap outages come from those flows' silences.
    #[arg(long, value_name = "CMD", help_heading = TRAFFIC)]
    pub traffic_cmd: Option<String>,
    /// Run at the end, before the --traffic-cmd generator is stopped (SIGTERM, then SIGKILL).
    #[arg(long, value_name = "CMD", requires = "traffic_cmd", help_heading = TRAFFIC)]
    pub traffic_stop_cmd: Option<String>,
    /// The bond mode on both sides.
    #[arg(long, value_enum, default_value = "lacp", help_heading = LAB)]
    pub bond: BondMode,
    /// The lab bonds' transmit hash (xor, lacp), on both sides: l2, l23 or l34 (the kernel's
    /// names too) [default: l34]. Real hardware's is its bond's, set by `vflag-ctl up
    /// --xmit-hash-policy`.
    #[arg(long, value_enum, help_heading = LAB)]
    pub bond_hash: Option<BondHash>,
    /// Flows vflag-dp's generator sends (distinct source IPs, so the l34 hash spreads them): the
    /// lab's, or the far side's under --peer-cmd.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..), help_heading = TRAFFIC)]
    pub flows: u16,
    /// vflag-dp's generator's rate in frames/s (20000, 50k, 0.1M): the lab's, or the far side's.
    #[arg(long, default_value = "20000", help_heading = TRAFFIC)]
    pub rate: String,
    /// How many flaps.
    #[arg(long, default_value_t = 3, help_heading = FLAPS)]
    pub flaps: usize,
    /// Time from one flap to the next, and watched after the last (e.g. 8s, 1500ms).
    #[arg(long, default_value = "8s", value_parser = value::duration, help_heading = FLAPS)]
    pub interval: Duration,
    /// How long each flap keeps its link down, ms.
    #[arg(long, default_value_t = 500, help_heading = FLAPS)]
    pub down_ms: u64,
    /// Which link each flap takes down: alternate, random (see --seed), both (at once) or an index.
    #[arg(long, default_value = "alternate", help_heading = FLAPS)]
    pub link: String,
    /// How a flap fails the link: carrier (its far end goes down), admin (`ip link set LINK
    /// down` on this host), lacp (LACPDUs dropped while the carrier stays up; the lab drops
    /// them on the switch end, real hardware needs --flap-down-cmd/--flap-up-cmd that do it).
    #[arg(long, value_enum, default_value = "carrier", help_heading = FLAPS)]
    pub flap_kind: FlapKind,
    /// Seed for --link random [default: from the clock; the report records it].
    #[arg(long, help_heading = FLAPS)]
    pub seed: Option<u64>,
    /// Names for the links, as {link} in the flap commands (e.g. the PFs or
    /// the switch ports).
    #[arg(long, value_delimiter = ',', value_name = "NAMES", value_parser = crate::names::switch_port, help_heading = HARDWARE)]
    pub links: Vec<String>,
    /// Command that takes a link down, {link} replaced (e.g. "ip link set {link} down").
    #[arg(long, value_name = "CMD", requires = "flap_up_cmd", help_heading = HARDWARE)]
    pub flap_down_cmd: Option<String>,
    /// Command that brings it back up.
    #[arg(long, value_name = "CMD", requires = "flap_down_cmd", help_heading = HARDWARE)]
    pub flap_up_cmd: Option<String>,
    /// Interfaces on this host whose own counters split the traffic per link,
    /// sampled every 100 ms (mlx5 PFs, through `ethtool -S` *_phy) or 50 ms (others, sysfs)
    /// [default: --links, when they are interfaces here; the lab: its host links].
    #[arg(long, value_delimiter = ',', value_name = "NAMES", value_parser = crate::names::ifname, help_heading = HARDWARE)]
    pub link_counters: Vec<String>,
    /// The generator runs on this host, on the receiver's clock (one TSC), so the
    /// tracked frames' one-way latency is measured around each flap (in the lab it always is).
    #[arg(long, help_heading = HARDWARE)]
    pub same_clock: bool,
    /// Without flap commands: how long to watch while someone else flaps links.
    #[arg(long, value_parser = value::duration, help_heading = HARDWARE)]
    pub duration: Option<Duration>,
    /// Fail if a flap silences any flow longer than this, ms.
    #[arg(long, help_heading = VERDICT)]
    pub max_outage_ms: Option<f64>,
    /// Fail if more tracked frames are lost than this, over the whole soak (frames or %).
    #[arg(long, value_parser = value::loss_limit, help_heading = VERDICT)]
    pub max_loss: Option<LossLimit>,
    /// Fail if a member carries less than this share before or after a flap, %.
    #[arg(long, help_heading = VERDICT)]
    pub min_member_share: Option<f64>,
    /// Where the report, table, plot and logs go.
    #[arg(long, default_value = "vflag-soak", help_heading = OUTPUT)]
    pub out: PathBuf,
    /// Also write the verdict as JUnit XML (for Jenkins, GitLab): a testcase per flap, with its
    /// figures as properties, and per whole-soak check.
    #[arg(long, value_name = "FILE", help_heading = OUTPUT)]
    pub junit: Option<PathBuf>,
    /// Also keep the running figures in FILE for Prometheus (node_exporter's textfile
    /// collector: the text format, rewritten whole each second): receive rate per member and
    /// link, flaps done, outages, tracked loss, and the verdict once finished.
    #[arg(long, value_name = "FILE", help_heading = OUTPUT)]
    pub metrics: Option<PathBuf>,
    /// Leave the lab up afterwards.
    #[arg(long, help_heading = LAB)]
    pub keep: bool,
    /// How long to wait for the bond to carry traffic (LACP to converge) before the first flap.
    #[arg(long, default_value = "30s", value_parser = value::duration)]
    pub converge_timeout: Duration,
    /// The receiver's lcores (the first is its main lcore).
    #[arg(long, default_value = "0-1", help_heading = LAB)]
    pub rx_lcores: String,
    /// The generator's lcores (another forwarding lcore than the receiver's on small hosts).
    #[arg(long, default_value = "1,0", help_heading = LAB)]
    pub gen_lcores: String,
    /// The vflag-dp binary [default: next to vflag-ctl, then PATH].
    #[arg(long, value_name = "PATH")]
    pub vflag_dp: Option<PathBuf>,
    /// Skip the pre-flight (`vflag-ctl verify`'s checklist, which must pass
    /// before anything starts); the report says it was skipped.
    #[arg(long, help_heading = HARDWARE)]
    pub no_verify: bool,
    /// The mlx5 card and its VF-LAG set-up, named as for `vflag-ctl verify`.
    #[command(flatten, next_help_heading = HARDWARE)]
    pub nic: super::nic::NicArgs,
}

/// `--rate` as frames/s (`20000`, `50k`, `0.1Mpps`): the lab's generator is asked for frames.
pub fn parse_rate(s: &str) -> Result<f64> {
    match value::rate(s) {
        Ok(r) => r.pps().ok_or_else(|| {
            anyhow::anyhow!(
                "--rate '{s}': the soak's generator takes frames/s (e.g. 20000, 50k or 0.1Mpps), not a bit rate"
            )
        }),
        Err(e) => bail!("--rate {e}"),
    }
}

impl SoakArgs {
    pub fn link_choice(&self, seed: u64) -> Result<LinkChoice> {
        LinkChoice::parse(&self.link, seed)
    }

    /// Real hardware with nobody to flap but the operator: the soak only watches.
    pub fn observing(&self) -> bool {
        self.dut_args.is_some() && self.flap_down_cmd.is_none() && self.flap_kind != FlapKind::Admin
    }

    /// The lab bonds' transmit hash; none for active-backup, which hashes nothing.
    pub fn bond_hash(&self) -> Option<BondHash> {
        self.bond.spreads().then(|| self.bond_hash.unwrap_or(BondHash::L34))
    }

    /// The lab's bond mode against what the soak asks of it: the combinations that cannot run
    /// whatever the other values (a sweep leaves such a cell out of its matrix, saying why).
    pub fn bond_fit(&self) -> Result<()> {
        if !self.lab {
            return Ok(());
        }
        if self.vf && self.bond == BondMode::Lacp {
            bail!("--vf: the lab's model of the NIC's LAG does not speak LACP; give the switch side --bond xor or active-backup");
        }
        if self.flap_kind == FlapKind::Lacp && self.bond != BondMode::Lacp {
            bail!("--flap-kind lacp needs --bond lacp: with --bond {} no LACPDUs flow to drop", self.bond.name());
        }
        if self.bond == BondMode::ActiveBackup {
            if self.bond_hash.is_some() {
                bail!("--bond-hash does not apply to --bond active-backup: one member carries everything, nothing is hashed");
            }
            if self.min_member_share.is_some() {
                bail!("--min-member-share does not apply to --bond active-backup: one member carries everything");
            }
        }
        Ok(())
    }

    pub fn limits(&self) -> Limits {
        Limits { max_outage_ms: self.max_outage_ms, max_loss: self.max_loss, min_member_share: self.min_member_share }
    }

    /// The flap commands as argv templates (checked by `validate`).
    pub fn flap_templates(&self) -> Result<Option<(Template, Template)>> {
        match (&self.flap_down_cmd, &self.flap_up_cmd) {
            (Some(d), Some(u)) => {
                Ok(Some((Template::parse("--flap-down-cmd", d)?, Template::parse("--flap-up-cmd", u)?)))
            }
            _ => Ok(None),
        }
    }

    /// Whether vflag-dp's generator runs on the far side (the lab's own, or `--peer-cmd`), so
    /// `--flows` and `--rate` apply.
    pub fn soak_generates(&self) -> bool {
        self.traffic_cmd.is_none() && (self.lab || self.peer_cmd.is_some())
    }

    /// One traffic source: the lab's generator, the far side's (`--peer-cmd`, `--peer-args`),
    /// a foreign one (`--traffic-cmd`), or on hardware none the soak runs.
    fn validate_traffic_side(&self) -> Result<()> {
        for (opt, v) in [("--peer-cmd", &self.peer_cmd), ("--traffic-cmd", &self.traffic_cmd)] {
            if let Some(c) = v {
                if words::split(opt, c)?.is_empty() {
                    bail!("{opt} '{c}' names no command");
                }
            }
        }
        if let Some(c) = &self.traffic_stop_cmd {
            if words::split("--traffic-stop-cmd", c)?.is_empty() {
                bail!("--traffic-stop-cmd '{c}' names no command");
            }
        }
        if self.traffic_cmd.is_some() {
            if self.reflect {
                bail!("--traffic-cmd with --reflect: the round trip needs vflag-dp's gen-rx on the far side (--peer-cmd), not a foreign generator");
            }
            if self.peer_cmd.is_some() || self.peer_args.is_some() {
                bail!("--traffic-cmd with --peer-cmd/--peer-args: one traffic source, the foreign generator or the far side's vflag-dp");
            }
        }
        if let Some(p) = &self.peer_vflag_dp {
            if p.is_empty() {
                bail!("--peer-vflag-dp '': expected the far side's vflag-dp path");
            }
        }
        if self.lab {
            if self.peer_args.is_some() {
                bail!("--peer-args is for real hardware (--dut-args); the lab builds its far side's arguments");
            }
            return Ok(());
        }
        if self.peer_cmd.is_none() {
            for (opt, given) in [
                ("--reflect", self.reflect),
                ("--peer-args", self.peer_args.is_some()),
                ("--peer-vflag-dp", self.peer_vflag_dp.is_some()),
            ] {
                if given {
                    bail!("{opt} needs --peer-cmd \"ssh -o BatchMode=yes PEER\" (how to run the far side's vflag-dp)");
                }
            }
            return Ok(());
        }
        let Some(p) = &self.peer_args else {
            bail!("--peer-cmd on real hardware needs --peer-args \"...\" (the far side's vflag-dp arguments: its lcores and ports)");
        };
        let far = words::split("--peer-args", p)?;
        if far.is_empty() {
            bail!("--peer-args '{p}': expected vflag-dp arguments, e.g. \"--lcores 1-2 -a 0000:03:00.0\"");
        }
        refuse_set_by_soak("--peer-args", &far, &PEER_SET_BY_SOAK)?;
        let dut = words::split("--dut-args", self.dut_args.as_deref().unwrap_or_default())?;
        if words::value_of(&dut, &["--mac"]).is_none() {
            bail!("--peer-cmd on real hardware needs --mac MAC in --dut-args: the far side sends to the VF's MAC (--dst-mac)");
        }
        if words::value_of(&dut, &["--run-id"]).is_some() {
            bail!("--dut-args: leave --run-id out with --peer-cmd, the soak gives both sides one");
        }
        Ok(())
    }

    /// Checks the options that do not depend on the host; `links` is the number of links.
    pub fn validate(&self, links: usize, seed: u64) -> Result<Schedule> {
        if !self.lab && self.dut_args.is_none() {
            bail!("say where to soak: --lab (the emulated lab) or --dut-args \"...\" (a receiver on real hardware)");
        }
        if self.vf && !self.lab {
            bail!("--vf is the lab's emulated VF (--lab --vf); on real hardware the VF is in --dut-args");
        }
        self.validate_traffic_side()?;
        if self.soak_generates() {
            parse_rate(&self.rate)?;
        }
        if self.lab {
            for (opt, v) in [
                ("--links", !self.links.is_empty()),
                ("--flap-down-cmd", self.flap_down_cmd.is_some()),
                ("--link-counters", !self.link_counters.is_empty()),
            ] {
                if v {
                    bail!("{opt} is for real hardware (--dut-args); the lab flaps its own links");
                }
            }
            if self.no_verify {
                bail!("--no-verify skips real hardware's pre-flight verify (--dut-args); the lab runs none");
            }
            if let Some(opt) = self.nic.given() {
                bail!("{opt} names the mlx5 host for real hardware (--dut-args); the lab has its own links");
            }
            if self.duration.is_some() {
                bail!("--duration is for watching real hardware; a lab soak lasts --flaps x --interval");
            }
            if self.same_clock {
                bail!("--same-clock is for real hardware (--dut-args); the lab's two ends share this host's clock");
            }
        } else if self.bond_hash.is_some() {
            bail!("--bond-hash is the lab's; on real hardware the bond's hash is set with `vflag-ctl up --xmit-hash-policy`");
        }
        if let Some(d) = &self.dut_args {
            let words = words::split("--dut-args", d)?;
            if words.is_empty() {
                bail!("--dut-args '{d}': expected vflag-dp arguments, e.g. \"--lcores 1-2 -a 0000:01:00.2\"");
            }
            refuse_set_by_soak("--dut-args", &words, &SET_BY_SOAK)?;
            let admin = self.flap_kind == FlapKind::Admin;
            if self.flap_down_cmd.is_none() && !admin && self.duration.is_none() {
                bail!("--dut-args without --flap-down-cmd/--flap-up-cmd: give --duration to watch flaps done by hand");
            }
            if self.flap_down_cmd.is_some() && self.links.is_empty() {
                bail!("--flap-down-cmd needs --links NAME,NAME (what {{link}} stands for)");
            }
            if admin && self.flap_down_cmd.is_none() {
                if self.links.is_empty() {
                    bail!("--flap-kind admin needs --links PF,PF (the links this host sets down)");
                }
                for l in &self.links {
                    crate::names::ifname(l).map_err(|e| anyhow::anyhow!("--flap-kind admin: {e}"))?;
                }
                if self.duration.is_some() {
                    bail!("--duration is for watching flaps done by hand; --flap-kind admin flaps on the schedule");
                }
            }
            for (opt, cmd) in [("--flap-down-cmd", &self.flap_down_cmd), ("--flap-up-cmd", &self.flap_up_cmd)] {
                if let Some(c) = cmd {
                    Template::parse(opt, c)?;
                }
            }
        }
        self.bond_fit()?;
        if let Some(m) = self.max_outage_ms {
            if !(m.is_finite() && m >= 0.0) {
                bail!("--max-outage-ms {m}: expected milliseconds >= 0");
            }
        }
        if let Some(s) = self.min_member_share {
            if !(0.0..=100.0).contains(&s) {
                bail!("--min-member-share {s}: expected a percentage 0-100");
            }
        }
        let schedule = Schedule {
            flaps: self.flaps,
            interval: self.interval,
            down: Duration::from_millis(self.down_ms),
            choice: self.link_choice(seed)?,
            links,
        };
        if !self.observing() {
            schedule.validate()?;
        }
        Ok(schedule)
    }
}

/// `opt`'s words must leave out the options the soak sets; `--json=x` is `--json x` to clap,
/// so both spellings are refused.
fn refuse_set_by_soak(opt: &str, words: &[String], set: &[&str]) -> Result<()> {
    for w in words {
        let o = w.split_once('=').map_or(w.as_str(), |(o, _)| o);
        if set.contains(&o) {
            bail!("{opt}: leave {w} out, the soak sets it");
        }
    }
    Ok(())
}

/// The soak's options parsed from words, as the command line would give them (tests).
#[cfg(test)]
pub(crate) fn parse_for_test(args: &[&str]) -> Result<SoakArgs, String> {
    use clap::Parser;
    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: SoakArgs,
    }
    T::try_parse_from(std::iter::once("t").chain(args.iter().copied())).map(|t| t.a).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<SoakArgs, String> {
        parse_for_test(args)
    }

    fn check(args: &[&str]) -> String {
        let a = parse(args).unwrap();
        let n = if a.links.is_empty() { 2 } else { a.links.len() };
        a.validate(n, 1).map(|_| "ok".into()).unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn same_clock_is_for_real_hardware() {
        assert!(parse(&["--dut-args", "-a 0000:01:00.2", "--duration", "60s", "--same-clock"]).unwrap().same_clock);
        assert!(!parse(&["--dut-args", "-a 0000:01:00.2", "--duration", "60s"]).unwrap().same_clock);
        assert_eq!(
            check(&["--lab", "--same-clock"]),
            "--same-clock is for real hardware (--dut-args); the lab's two ends share this host's clock",
            "the lab shares its clock"
        );
    }

    #[test]
    fn defaults_make_a_three_flap_lacp_lab_soak() {
        let a = parse(&["--lab"]).unwrap();
        let s = a.validate(2, 1).unwrap();
        assert_eq!(
            (a.bond, a.flows, s.flaps, s.interval, s.down),
            (BondMode::Lacp, 16, 3, Duration::from_secs(8), Duration::from_millis(500))
        );
        assert_eq!(parse(&["--lab", "--interval", "1500ms"]).unwrap().interval, Duration::from_millis(1500));
        assert_eq!(parse(&["--lab", "--interval", "2.5"]).unwrap().interval, Duration::from_millis(2500));
    }

    #[test]
    fn bad_values_are_named() {
        assert!(check(&[]).contains("--lab"));
        assert!(check(&["--lab", "--rate", "fast"]).contains("--rate 'fast'"));
        assert!(check(&["--lab", "--link", "left"]).contains("--link 'left'"));
        assert!(check(&["--lab", "--flaps", "0"]).contains("--flaps 0"));
        assert!(check(&["--lab", "--min-member-share", "130"]).contains("--min-member-share 130"));
        assert!(check(&["--lab", "--bond", "active-backup", "--min-member-share", "30"]).contains("active-backup"));
        assert!(check(&["--lab", "--links", "a,b"]).contains("--links is for real hardware"));
        assert!(check(&["--lab", "--link-counters", "p0"]).contains("--link-counters is for real hardware"));
        assert!(check(&["--lab", "--no-verify"]).starts_with("--no-verify skips real hardware's pre-flight"));
        assert!(check(&["--dut-args", "-a 0000:01:00.2"]).contains("give --duration"));
        assert!(check(&["--dut-args", "-a 0000:01:00.2 --json x", "--duration", "5s"]).contains("leave --json out"));
        assert!(check(&["--dut-args", "-a x", "--flap-down-cmd", "ip link set down", "--flap-up-cmd", "u {link}"])
            .contains("--flap-down-cmd needs --links"));
        assert!(check(&[
            "--dut-args",
            "-a x",
            "--links",
            "p,q",
            "--flap-down-cmd",
            "ip link set down",
            "--flap-up-cmd",
            "u {link}"
        ])
        .contains("'ip link set down': it must contain {link}"));
        assert!(parse(&["--lab", "--interval", "soon"]).unwrap_err().contains("'soon' is not a duration"));
        assert!(parse(&["--lab", "--max-loss", "x%"]).unwrap_err().contains("'x%' is not a loss limit"));
        assert!(parse(&["--lab", "--dut-args", "-a x"]).is_err(), "one place at a time");
        assert_eq!(check(&["--dut-args", "-a 0000:01:00.2", "--duration", "60s"]), "ok", "watching needs no schedule");
    }

    #[test]
    fn options_the_soak_sets_are_refused_in_any_spelling_and_quotes_are_named() {
        for (dut, opt) in
            [("-a x --json=/x", "--json=/x"), ("-a x --duration=1s", "--duration=1s"), ("--fwd=io", "--fwd=io")]
        {
            assert_eq!(
                check(&["--dut-args", dut, "--duration", "5s"]),
                format!("--dut-args: leave {opt} out, the soak sets it")
            );
        }
        assert_eq!(
            check(&["--dut-args", "-a 0000:01:00.2 --mac '52:54", "--duration", "5s"]),
            "--dut-args '-a 0000:01:00.2 --mac '52:54': the ' at character 23 is never closed"
        );
    }

    #[test]
    fn hostile_link_names_are_refused_before_anything_runs() {
        let e = parse(&["--dut-args", "-a x", "--links", "x;touch /tmp/p1,$(touch /tmp/p2)"]).unwrap_err();
        assert!(e.contains("'x;touch /tmp/p1' is not a link name"), "{e}");
        let e = parse(&["--dut-args", "-a x", "--link-counters", "../../etc"]).unwrap_err();
        assert!(e.contains("'../../etc' is not an interface name"), "{e}");
        assert!(parse(&["--dut-args", "-a x", "--links", "Ethernet1/49,Ethernet1/50"]).is_ok());
    }

    #[test]
    fn flap_kinds_are_checked_against_the_bond_and_the_links() {
        assert_eq!(parse(&["--lab"]).unwrap().flap_kind, FlapKind::Carrier);
        assert_eq!(check(&["--lab", "--flap-kind", "lacp"]), "ok");
        assert_eq!(
            check(&["--lab", "--flap-kind", "lacp", "--bond", "xor"]),
            "--flap-kind lacp needs --bond lacp: with --bond xor no LACPDUs flow to drop"
        );
        assert!(parse(&["--lab", "--flap-kind", "cable"]).unwrap_err().contains("'cable'"));
        // An admin flap on real hardware needs no commands: this host sets its PFs down.
        let a = parse(&["--dut-args", "-a 0000:01:00.2", "--flap-kind", "admin", "--links", "enp1s0f0np0,enp1s0f1np1"])
            .unwrap();
        assert!(!a.observing());
        assert_eq!(a.validate(2, 1).map(|_| "ok").unwrap_or_else(|e| e.to_string().leak()), "ok");
        assert_eq!(
            check(&["--dut-args", "-a 0000:01:00.2", "--flap-kind", "admin"]),
            "--flap-kind admin needs --links PF,PF (the links this host sets down)"
        );
        assert!(check(&["--dut-args", "-a x", "--flap-kind", "admin", "--links", "Ethernet1/49"])
            .contains("'Ethernet1/49' is not an interface name"));
    }

    #[test]
    fn the_bond_hash_is_the_labs_and_hashing_bonds_only() {
        assert_eq!(parse(&["--lab", "--bond", "xor"]).unwrap().bond_hash(), Some(BondHash::L34), "the default");
        assert_eq!(parse(&["--lab", "--bond-hash", "layer2"]).unwrap().bond_hash(), Some(BondHash::L2));
        assert_eq!(parse(&["--lab", "--bond", "active-backup"]).unwrap().bond_hash(), None);
        assert_eq!(check(&["--lab", "--bond", "xor", "--bond-hash", "l23"]), "ok");
        assert_eq!(
            check(&["--lab", "--bond", "active-backup", "--bond-hash", "l23"]),
            "--bond-hash does not apply to --bond active-backup: one member carries everything, nothing is hashed"
        );
        assert_eq!(
            check(&["--dut-args", "-a x", "--duration", "5s", "--bond-hash", "l2"]),
            "--bond-hash is the lab's; on real hardware the bond's hash is set with `vflag-ctl up --xmit-hash-policy`"
        );
        assert!(parse(&["--lab", "--bond-hash", "l4"]).unwrap_err().contains("'l4'"));
    }

    #[test]
    fn a_vf_soak_is_a_lab_soak_without_lacp() {
        assert_eq!(check(&["--lab", "--vf", "--bond", "xor"]), "ok");
        assert!(check(&["--lab", "--vf"]).contains("does not speak LACP"));
        assert_eq!(
            check(&["--dut-args", "-a x", "--duration", "5s", "--vf"]),
            "--vf is the lab's emulated VF (--lab --vf); on real hardware the VF is in --dut-args"
        );
    }

    #[test]
    fn a_two_ended_soak_is_a_lab_soak_with_a_peer_command_that_splits() {
        assert_eq!(check(&["--lab", "--reflect", "--peer-cmd", "ip netns exec sw"]), "ok");
        assert_eq!(
            check(&["--dut-args", "-a x", "--duration", "5s", "--reflect"]),
            "--reflect needs --peer-cmd \"ssh -o BatchMode=yes PEER\" (how to run the far side's vflag-dp)"
        );
        assert!(check(&["--lab", "--peer-cmd", "   "]).contains("names no command"));
        assert!(check(&["--lab", "--peer-cmd", "ssh 'peer"]).contains("is never closed"));
    }

    /// The far side on real hardware: its own arguments, the VF's MAC to send to, and the
    /// options the soak sets refused, each in one line naming the value.
    #[test]
    fn a_hardware_far_side_needs_its_arguments_and_the_vfs_mac() {
        let dut = ["--dut-args", "-a 0000:01:00.2 --mac 52:54:00:00:00:01", "--duration", "5s"];
        let with = |extra: &[&str]| check(&[&dut[..], extra].concat());
        assert_eq!(with(&["--peer-cmd", "ssh peer", "--peer-args", "-a 0000:03:00.0", "--reflect"]), "ok");
        assert_eq!(
            with(&["--peer-cmd", "ssh peer"]),
            "--peer-cmd on real hardware needs --peer-args \"...\" (the far side's vflag-dp arguments: its lcores and ports)"
        );
        assert_eq!(
            with(&["--peer-args", "-a 0000:03:00.0"]),
            "--peer-args needs --peer-cmd \"ssh -o BatchMode=yes PEER\" (how to run the far side's vflag-dp)"
        );
        for (far, opt) in [
            ("-a y --dst-mac 02:00:00:00:00:01", "--dst-mac"),
            ("-a y --run-id=4", "--run-id=4"),
            ("-a y --rate 1M", "--rate"),
            ("--stop-on-eof", "--stop-on-eof"),
            ("-a y --json /tmp/x", "--json"),
        ] {
            assert_eq!(
                with(&["--peer-cmd", "ssh peer", "--peer-args", far]),
                format!("--peer-args: leave {opt} out, the soak sets it")
            );
        }
        assert!(with(&["--peer-cmd", "ssh peer", "--peer-args", "-a 'y"]).contains("--peer-args '-a 'y': the '"));
        assert!(with(&["--peer-cmd", "ssh peer", "--peer-args", "-a y", "--rate", "1Gbps"]).contains("not a bit rate"));
        let no_mac = ["--dut-args", "-a 0000:01:00.2", "--duration", "5s", "--peer-cmd", "ssh peer"];
        assert_eq!(
            check(&[&no_mac[..], &["--peer-args", "-a y"]].concat()),
            "--peer-cmd on real hardware needs --mac MAC in --dut-args: the far side sends to the VF's MAC (--dst-mac)"
        );
        let run_id = ["--dut-args", "--mac 52:54:00:00:00:01 --run-id 3", "--duration", "5s"];
        assert_eq!(
            check(&[&run_id[..], &["--peer-cmd", "ssh peer", "--peer-args", "-a y"]].concat()),
            "--dut-args: leave --run-id out with --peer-cmd, the soak gives both sides one"
        );
        assert_eq!(
            check(&["--lab", "--peer-args", "-a y"]),
            "--peer-args is for real hardware (--dut-args); the lab builds its far side's arguments"
        );
    }

    #[test]
    fn a_foreign_generator_is_the_one_traffic_source() {
        assert_eq!(check(&["--lab", "--traffic-cmd", "ip netns exec sw tester"]), "ok");
        let a = parse(&["--lab", "--traffic-cmd", "t"]).unwrap();
        assert!(!a.soak_generates(), "the lab's own generator is replaced");
        assert!(parse(&["--lab"]).unwrap().soak_generates());
        assert_eq!(
            check(&["--dut-args", "-a x", "--duration", "5s", "--traffic-cmd", "t", "--traffic-stop-cmd", "t stop"]),
            "ok"
        );
        assert_eq!(
            check(&["--lab", "--traffic-cmd", "t", "--reflect"]),
            "--traffic-cmd with --reflect: the round trip needs vflag-dp's gen-rx on the far side (--peer-cmd), not a foreign generator"
        );
        assert_eq!(
            check(&["--lab", "--traffic-cmd", "t", "--peer-cmd", "ip netns exec sw"]),
            "--traffic-cmd with --peer-cmd/--peer-args: one traffic source, the foreign generator or the far side's vflag-dp"
        );
        assert_eq!(check(&["--lab", "--traffic-cmd", " "]), "--traffic-cmd ' ' names no command");
        assert!(check(&["--lab", "--traffic-cmd", "t", "--traffic-stop-cmd", "x 'y"]).contains("is never closed"));
        assert!(parse(&["--lab", "--traffic-stop-cmd", "t"]).is_err(), "a stop command needs a generator");
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("20000").unwrap(), 20_000.0);
        assert_eq!(parse_rate("50k").unwrap(), 50_000.0);
        assert_eq!(parse_rate("0.1Mpps").unwrap(), 100_000.0);
        assert!(parse_rate("-5").is_err() && parse_rate("").is_err());
    }
}

/// `vflag-ctl soak`, as a subcommand of vflag-ctl's own and as a sweep's cells are checked.
#[derive(Debug, clap::Subcommand)]
pub enum SoakCommand {
    /// Failover soak: traffic over the LAG while links flap on a schedule; per-flap report,
    /// plot and verdict (exit 0 pass, 3 fail, 1 error).
    Soak {
        #[command(flatten)]
        args: Box<SoakArgs>,
        // The lab's names: in the soak's help beside its other lab options.
        #[command(flatten, next_help_heading = "Lab")]
        names: crate::lab::LabNames,
    },
}

/// `vflag-ctl soak ...` words (`soak` first) parsed as vflag-ctl parses them, and the lab they
/// name checked: how a sweep checks each cell before any runs. The error is one line.
pub fn parse_argv(argv: &[String]) -> std::result::Result<(SoakArgs, crate::lab::LabSpec), String> {
    #[derive(clap::Parser)]
    #[command(name = "vflag-ctl")]
    struct One {
        #[command(subcommand)]
        cmd: SoakCommand,
    }
    let words = ["vflag-ctl".to_string()].into_iter().chain(argv.iter().cloned());
    let one = <One as clap::Parser>::try_parse_from(words).map_err(|e| cli_exit::one_line(&e.render().to_string()))?;
    let SoakCommand::Soak { args, names } = one.cmd;
    Ok((*args, names.spec().map_err(|e| e.to_string())?))
}
