//! The far side: vflag-dp generating on the traffic side (`--fwd gen`, or `gen-rx` with
//! `--reflect`), run through a command that reaches it (`--peer-cmd`, e.g. ssh; the lab's
//! `ip netns exec NS`). Its argv is built here, it is fed a pipe it stops on when the pipe
//! closes (`--stop-on-eof`: the soak stopping, or dying), and its report, written on the far
//! side to a path built here, is fetched back with `cat` through the same command.

use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use super::args::{parse_rate, SoakArgs};
use super::words;
use crate::lab::LabSpec;
use crate::runner::{Cmd, Runner};
use procs::Proc;

/// How the far side is reached, and where its report is.
#[derive(Debug, Clone)]
pub struct Peer {
    /// The words that run a command there.
    words: Vec<String>,
    /// ssh joins its arguments into one string that the remote shell splits again: each word
    /// after the command's own is quoted for that shell, so it arrives as one argv element.
    remote_shell: bool,
    /// The far side's report: a path with no user text in it, unique to this soak.
    pub report: String,
}

/// What the soak report says of the far side.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FarSide {
    /// The command line it ran (the peer command's words, then vflag-dp's).
    pub argv: Vec<String>,
    /// Its report on the far side, and whether it was fetched into `--out` (gen.json).
    pub report: String,
    pub fetched: bool,
    pub fetch_error: Option<String>,
}

impl Peer {
    pub fn new(args: &SoakArgs, spec: &LabSpec, run_id: u16) -> Result<Peer> {
        let words = match &args.peer_cmd {
            Some(p) => words::split("--peer-cmd", p)?,
            None => ["ip", "netns", "exec", &spec.ns].iter().map(|s| s.to_string()).collect(),
        };
        let remote_shell = words.first().is_some_and(|w| Path::new(w).file_name().is_some_and(|n| n == "ssh"));
        let report = format!("/tmp/vflag-soak-{run_id}-{}.gen.json", std::process::id());
        Ok(Peer { words, remote_shell, report })
    }

    /// `argv` run on the far side: the peer command's words, then `argv`'s.
    fn there(&self, argv: &[String]) -> Vec<String> {
        let quote = |w: &String| match self.remote_shell {
            // A word with a NUL byte cannot be an argument anywhere; it is passed as it is.
            true => shlex::try_quote(w).map_or_else(|_| w.clone(), |q| q.into_owned()),
            false => w.clone(),
        };
        self.words.iter().cloned().chain(argv.iter().map(quote)).collect()
    }

    /// The far side's vflag-dp command line. `local_bin`: this host's vflag-dp, which the lab's
    /// far side (a namespace here) runs.
    pub fn argv(&self, args: &SoakArgs, spec: &LabSpec, local_bin: &Path, run_id: u16) -> Result<Vec<String>> {
        let pps = parse_rate(&args.rate)?;
        let mut v: Vec<String> = Vec::new();
        if args.lab {
            v.push(args.peer_vflag_dp.clone().unwrap_or_else(|| local_bin.display().to_string()));
            v.extend(["--lcores".into(), args.gen_lcores.clone()]);
            v.extend(super::lab_dpdk::LAB_MEMORY.iter().map(|s| s.to_string()));
            v.extend(["--file-prefix".into(), format!("vflag-soak-gen{}", std::process::id())]);
            // A LACP flap drops LACPDUs at the switch end's qdisc, which af_packet skips by default.
            let qdisc = if super::flappers::needs_qdisc(args.flap_kind) { ",qdisc_bypass=0" } else { "" };
            for (i, (_, sw)) in spec.links.iter().enumerate() {
                v.extend(["--vdev".into(), format!("net_af_packet{i},iface={sw}{qdisc}")]);
            }
            v.extend(["--bond".into(), args.bond.name().into(), "--link-wait".into(), "10s".into()]);
            v.extend(super::lab_dpdk::bond_hash(args));
            v.extend(super::lab_dpdk::lacp_rate(args));
        } else {
            v.push(args.peer_vflag_dp.clone().unwrap_or_else(|| "vflag-dp".into()));
            // Checked by `validate`: it splits, and leaves out what is set below.
            v.extend(words::split("--peer-args", args.peer_args.as_deref().unwrap_or_default())?);
        }
        // It stops when its input closes: with the soak, however the soak ends.
        let fwd = if args.reflect { "gen-rx" } else { "gen" };
        v.extend(["--fwd".into(), fwd.into(), "--stop-on-eof".into(), "--run-id".into(), run_id.to_string()]);
        v.extend(["--flows".into(), args.flows.to_string()]);
        v.extend(["--rate".into(), format!("{}", pps.round() as u64)]);
        if !args.lab {
            // To the VF: the switch forwards by destination MAC (checked by `validate`).
            let dut = words::split("--dut-args", args.dut_args.as_deref().unwrap_or_default())?;
            if let Some(mac) = words::value_of(&dut, &["--mac"]) {
                v.extend(["--dst-mac".into(), mac]);
            }
        }
        v.extend(["--stats-interval".into(), "0".into(), "--json".into(), self.report.clone()]);
        Ok(self.there(&v))
    }

    /// Starts it with a pipe for its input, which stopping the `Proc` (or this process dying)
    /// closes.
    pub fn start(&self, argv: &[String], log: &Path) -> Result<Proc> {
        Proc::spawn_fed("generator", argv, log)
    }

    /// After it stopped: its report copied into `to` (`cat` on the far side, its output
    /// captured), then removed there, whatever the copy did.
    pub fn fetch(&self, runner: &mut dyn Runner, argv: Vec<String>, to: &Path) -> FarSide {
        let cat = self.cmd(&["cat", &self.report]);
        let got = match runner.run(&cat) {
            Ok(o) if o.ok() && !o.stdout.trim().is_empty() => {
                std::fs::write(to, o.stdout).map_err(|e| format!("writing {}: {e}", to.display()))
            }
            Ok(o) if o.ok() => Err(format!("`{cat}` printed nothing")),
            Ok(o) => Err(format!("`{cat}` failed (exit {}): {}", o.code, o.stderr.trim())),
            Err(e) => Err(format!("{e:#}")),
        };
        let _ = runner.run(&self.cmd(&["rm", "-f", &self.report]));
        FarSide { argv, report: self.report.clone(), fetched: got.is_ok(), fetch_error: got.err() }
    }

    fn cmd(&self, argv: &[&str]) -> Cmd {
        let v = self.there(&argv.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        Cmd { program: v[0].clone(), args: v[1..].to_vec(), write_to: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::{Output, Recorder};

    fn args(a: &[&str]) -> SoakArgs {
        crate::soak::args::parse_for_test(a).unwrap()
    }

    fn report(run_id: u16) -> String {
        format!("/tmp/vflag-soak-{run_id}-{}.gen.json", std::process::id())
    }

    #[test]
    fn the_labs_far_side_is_its_namespace() {
        let a = args(&["--lab", "--bond", "xor", "--flows", "32", "--rate", "50k"]);
        let spec = LabSpec::default();
        let p = Peer::new(&a, &spec, 7).unwrap();
        let gen = p.argv(&a, &spec, Path::new("/b/vflag-dp"), 7).unwrap().join(" ");
        assert!(gen.starts_with("ip netns exec sw /b/vflag-dp --lcores 1,0 --no-huge"), "{gen}");
        let tail = format!(
            "--vdev net_af_packet0,iface=s0 --vdev net_af_packet1,iface=s1 --bond xor --link-wait 10s \
             --bond-hash l34 --fwd gen --stop-on-eof --run-id 7 --flows 32 --rate 50000 --stats-interval 0 --json {}",
            report(7)
        );
        assert!(gen.ends_with(&tail), "{gen}");
        // The hash asked for; active-backup is given none.
        let a = args(&["--lab", "--bond", "lacp", "--bond-hash", "layer2+3"]);
        let gen = p.argv(&a, &spec, Path::new("/b/vflag-dp"), 7).unwrap().join(" ");
        assert!(gen.contains("--bond lacp --link-wait 10s --bond-hash l23 --fwd gen"), "{gen}");
        let a = args(&["--lab", "--bond", "active-backup"]);
        let gen = p.argv(&a, &spec, Path::new("/b/vflag-dp"), 7).unwrap().join(" ");
        assert!(gen.contains("--bond active-backup --link-wait 10s --fwd gen"), "{gen}");
        // Two-ended: through --peer-cmd, as argv, the far side sends and receives.
        let a = args(&["--lab", "--bond", "xor", "--reflect", "--peer-cmd", "ip netns exec 'my ns'"]);
        let p = Peer::new(&a, &spec, 7).unwrap();
        let gen = p.argv(&a, &spec, Path::new("/b/vflag-dp"), 7).unwrap();
        assert_eq!(gen[..4], ["ip", "netns", "exec", "my ns"], "the peer command's words, one argv element each");
        assert!(gen.join(" ").contains("--fwd gen-rx --stop-on-eof"), "{gen:?}");
    }

    const HOSTILE: &str = "x;touch /tmp/vflag-p1 $(touch /tmp/vflag-p2) 'q\" `id`";

    fn hardware(peer: &str, peer_args: &str) -> SoakArgs {
        args(&[
            "--dut-args",
            "-a 0000:01:00.2 --mac 52:54:00:00:00:01",
            "--duration",
            "60s",
            "--reflect",
            "--peer-cmd",
            peer,
            "--peer-args",
            peer_args,
            "--peer-vflag-dp",
            "/opt/vflag bin/vflag-dp",
            "--flows",
            "8",
            "--rate",
            "1k",
        ])
    }

    #[test]
    fn a_hardware_far_side_takes_the_peer_args_and_sends_to_the_vfs_mac() {
        let a = hardware("fake-ssh peerhost", "--lcores 1-2 -a 0000:03:00.0 --bond xor");
        assert_eq!(a.validate(1, 1).map(|_| "ok").unwrap_or_else(|e| e.to_string().leak()), "ok");
        let p = Peer::new(&a, &LabSpec::default(), 9).unwrap();
        let v = p.argv(&a, &LabSpec::default(), Path::new("/here/vflag-dp"), 9).unwrap();
        let want = format!(
            "fake-ssh|peerhost|/opt/vflag bin/vflag-dp|--lcores|1-2|-a|0000:03:00.0|--bond|xor|--fwd|gen-rx|\
             --stop-on-eof|--run-id|9|--flows|8|--rate|1000|--dst-mac|52:54:00:00:00:01|--stats-interval|0|--json|{}",
            report(9)
        );
        assert_eq!(v.join("|"), want);
    }

    #[test]
    fn hostile_values_stay_one_argv_element_and_ssh_gets_them_quoted() {
        let peer_args = format!("--vdev '{}'", HOSTILE.replace('\'', "'\\''"));
        let a = hardware("/usr/bin/fake-ssh 'peer host'", &peer_args);
        let p = Peer::new(&a, &LabSpec::default(), 9).unwrap();
        let v = p.argv(&a, &LabSpec::default(), Path::new("x"), 9).unwrap();
        assert_eq!(v[..5], ["/usr/bin/fake-ssh", "peer host", "/opt/vflag bin/vflag-dp", "--vdev", HOSTILE]);
        // ssh hands the remote shell one string: each word is quoted so that the shell's split
        // gives back exactly the argv built here.
        let a = hardware("ssh -o BatchMode=yes peer", &peer_args);
        let p = Peer::new(&a, &LabSpec::default(), 9).unwrap();
        let v = p.argv(&a, &LabSpec::default(), Path::new("x"), 9).unwrap();
        assert_eq!(v[..4], ["ssh", "-o", "BatchMode=yes", "peer"], "ssh's own words as they are");
        let remote = v[4..].join(" ");
        let split = shlex::split(&remote).unwrap();
        assert_eq!(split[..3], ["/opt/vflag bin/vflag-dp", "--vdev", HOSTILE], "{remote}");
        assert_eq!(split.last().unwrap(), &report(9));
        // And a real shell splits it the same way, running nothing of it.
        let dir = tempfile::tempdir().unwrap();
        let o = std::process::Command::new("sh")
            .current_dir(dir.path())
            .args(["-c", &format!("printf '%s\\n' {remote}")])
            .output()
            .unwrap();
        let lines: Vec<String> = String::from_utf8(o.stdout).unwrap().lines().map(str::to_string).collect();
        assert_eq!(lines, split);
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none() && !Path::new("/tmp/vflag-p1").exists());
    }

    #[test]
    fn the_report_is_fetched_with_cat_through_the_peer_command_then_removed() {
        let a = hardware("ssh -o BatchMode=yes peer", "-a 0000:03:00.0");
        let p = Peer::new(&a, &LabSpec::default(), 9).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let to = dir.path().join("gen.json");
        let mut r = Recorder::default();
        r.answer("ssh -o BatchMode=yes peer cat", Output { stdout: "{\"x\":1}\n".into(), ..Default::default() }, true);
        let far = p.fetch(&mut r, vec!["a".into()], &to);
        assert_eq!(
            r.lines(),
            [
                format!("ssh -o BatchMode=yes peer cat {}", report(9)),
                format!("ssh -o BatchMode=yes peer rm -f {}", report(9))
            ]
        );
        assert_eq!((far.fetched, far.fetch_error.as_deref()), (true, None));
        assert_eq!(std::fs::read_to_string(&to).unwrap(), "{\"x\":1}\n");
        // A far side that wrote nothing: named, and still removed.
        let mut r = Recorder::default();
        let fail = Output { code: 1, stderr: "cat: /tmp/x: No such file or directory\n".into(), ..Default::default() };
        r.answer("ssh -o BatchMode=yes peer cat", fail, true);
        let far = p.fetch(&mut r, Vec::new(), &dir.path().join("other.json"));
        assert!(!far.fetched);
        assert_eq!(
            far.fetch_error.unwrap(),
            format!(
                "`ssh -o BatchMode=yes peer cat {}` failed (exit 1): cat: /tmp/x: No such file or directory",
                report(9)
            )
        );
        assert_eq!(r.lines().len(), 2, "rm runs whatever cat did");
        assert!(!dir.path().join("other.json").exists());
    }
}
