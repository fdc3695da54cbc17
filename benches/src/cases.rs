//! The benchmark cases: for each, two sides run on the same virtual devices with the same
//! lcores, burst, descriptors and mbuf count (or, interleaved, one vflag-dp gives both). A side is one or two processes (a memif pair:
//! receiver first, then the generator) and the port counter that measures it.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// What every process gets alike.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub burst: u16,
    pub rxd: u16,
    pub txd: u16,
    pub mbufs: u32,
    /// EAL memory per process, MB.
    pub mem_mb: u32,
    /// No hugepages (`--no-huge`): slower, but runs anywhere.
    pub no_huge: bool,
    #[serde(skip)]
    pub testpmd: PathBuf,
    #[serde(skip)]
    pub vflag_dp: PathBuf,
}

#[cfg(test)]
impl Settings {
    /// The defaults of the command line, with vflag-dp at a path the tests can recognise.
    pub(crate) fn example() -> Self {
        Settings {
            burst: 32,
            rxd: 1024,
            txd: 1024,
            mbufs: 16384,
            mem_mb: 256,
            no_huge: false,
            testpmd: "dpdk-testpmd".into(),
            vflag_dp: "/x/vflag-dp".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// vflag-dp against dpdk-testpmd: the ratio says whether vflag-dp keeps up.
    VsTestpmd,
    /// vflag-dp's analysing mode against its plain one: the ratio is what the analysis costs.
    Tracking,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Counter {
    Rx,
    Tx,
}

/// One process to start: its program, arguments and `--file-prefix`.
#[derive(Debug, Clone)]
pub struct Proc {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub prefix: String,
}

/// One side of a comparison, as started for one round.
#[derive(Debug, Clone)]
pub struct Side {
    /// In start order; the measured process is `procs[measured]`.
    pub procs: Vec<Proc>,
    pub measured: usize,
    pub ports: Vec<u16>,
    pub counter: Counter,
}

/// How a side's processes are made for one round (a fresh prefix and socket each time).
pub type SideFn = Box<dyn Fn(&Settings, &mut Names) -> Side>;

pub struct Case {
    pub name: &'static str,
    pub what: &'static str,
    pub kind: Kind,
    /// The baseline (dpdk-testpmd, or vflag-dp's plain mode) and the side compared with it.
    pub labels: [&'static str; 2],
    pub sides: Sides,
}

/// How a case's two figures are taken.
pub enum Sides {
    /// Each side started on its own, the sides alternating round by round.
    Apart([SideFn; 2]),
    /// One vflag-dp with --interleave-ms gives both figures (plain and analysing slices of
    /// the same run, read from its `/vflag/interleave` telemetry).
    Interleaved(SideFn),
}

/// Unique file prefixes and memif socket paths for this harness run.
pub struct Names {
    pub tag: String,
    pub dir: PathBuf,
    n: u32,
}

impl Names {
    pub fn new(dir: &Path) -> Names {
        Names { tag: format!("vb{}", std::process::id() % 100_000), dir: dir.to_path_buf(), n: 0 }
    }

    fn next(&mut self) -> String {
        self.n += 1;
        format!("{}-{}", self.tag, self.n)
    }

    fn socket(&mut self) -> String {
        let name = self.next();
        self.dir.join(format!("{name}.sock")).display().to_string()
    }
}

/// The forwarding lcore of the measured process is 1; a memif peer forwards on lcore 0, so the
/// two busy lcores never share a CPU.
#[derive(Clone, Copy)]
enum Lcores {
    Main0Fwd1,
    Main1Fwd0,
}

/// A DPDK mode and the frames it sends.
#[derive(Clone, Copy)]
struct Mode {
    fwd: &'static str,
    pkt_size: u16,
    /// vflag-dp only: analyse received frames (rxonly) or send tracked frames (gen).
    tracked: bool,
    /// vflag-dp generators only: a --count, so frames the peer's ring refuses are sent again
    /// instead of dropped (an unlimited generator that drops most of what it builds slows a
    /// memif receiver down several times over).
    count: Option<u64>,
    /// vflag-dp rxonly only: alternate plain and analysing slices of this many ms.
    interleave_ms: Option<u32>,
    /// dpdk-testpmd txonly only: `--txonly-multi-flow` (the source address varies per frame).
    multi_flow: bool,
}

const fn mode(fwd: &'static str) -> Mode {
    Mode { fwd, pkt_size: 64, tracked: false, count: None, interleave_ms: None, multi_flow: false }
}

fn testpmd(s: &Settings, names: &mut Names, vdevs: &[String], lc: Lcores, m: Mode) -> Proc {
    let prefix = names.next();
    let main = match lc {
        Lcores::Main0Fwd1 => "0",
        Lcores::Main1Fwd0 => "1",
    };
    let mut args: Vec<String> = vec!["-l".into(), "0,1".into(), "--main-lcore".into(), main.into(), "--no-pci".into()];
    args.extend(eal_common(s, &prefix, vdevs));
    args.push("--".into());
    args.extend([
        format!("--forward-mode={}", m.fwd),
        format!("--total-num-mbufs={}", s.mbufs),
        format!("--burst={}", s.burst),
        format!("--rxd={}", s.rxd),
        format!("--txd={}", s.txd),
        format!("--txpkts={}", m.pkt_size),
        // Without a stats period (or -i) testpmd reads stdin and exits at its end.
        "--stats-period=60".into(),
    ]);
    if m.multi_flow {
        args.push("--txonly-multi-flow".into());
    }
    Proc { program: s.testpmd.clone(), args, prefix }
}

fn vflag(s: &Settings, names: &mut Names, vdevs: &[String], lc: Lcores, m: Mode) -> Proc {
    let prefix = names.next();
    let lcores = match lc {
        Lcores::Main0Fwd1 => "0-1",
        Lcores::Main1Fwd0 => "1,0",
    };
    let fwd = if m.tracked && m.fwd == "txonly" { "gen" } else { m.fwd };
    let mut args: Vec<String> = vec!["--lcores".into(), lcores.into()];
    args.extend(eal_common(s, &prefix, vdevs));
    args.extend([
        "--fwd".into(),
        fwd.into(),
        "--mbufs".into(),
        s.mbufs.to_string(),
        "--burst".into(),
        s.burst.to_string(),
        "--rxd".into(),
        s.rxd.to_string(),
        "--txd".into(),
        s.txd.to_string(),
        "--pkt-size".into(),
        m.pkt_size.to_string(),
        "--stats-interval".into(),
        "0".into(),
    ]);
    if fwd == "gen" {
        args.extend(["--flows".into(), "16".into()]);
    }
    if let Some(n) = m.count {
        args.extend(["--count".into(), n.to_string()]);
    }
    if !m.tracked && m.fwd == "rxonly" {
        args.push("--no-track".into());
    }
    if let Some(ms) = m.interleave_ms {
        args.extend(["--interleave-ms".into(), ms.to_string()]);
    }
    Proc { program: s.vflag_dp.clone(), args, prefix }
}

/// EAL options both tools take in the same spelling.
fn eal_common(s: &Settings, prefix: &str, vdevs: &[String]) -> Vec<String> {
    let mut a = vec!["--file-prefix".to_string(), prefix.to_string(), "-m".into(), s.mem_mb.to_string()];
    if s.no_huge {
        a.push("--no-huge".into());
    }
    for v in vdevs {
        a.extend(["--vdev".to_string(), v.clone()]);
    }
    a
}

type MakeProc = fn(&Settings, &mut Names, &[String], Lcores, Mode) -> Proc;

/// One process on net_null ports.
fn null_side(make: MakeProc, ports: u16, m: Mode, counter: Counter) -> SideFn {
    Box::new(move |s, names| {
        let vdevs: Vec<String> = (0..ports).map(|i| format!("net_null{i}")).collect();
        Side {
            procs: vec![make(s, names, &vdevs, Lcores::Main0Fwd1, m)],
            measured: 0,
            ports: (0..ports).collect(),
            counter,
        }
    })
}

/// A memif pair: the receiver (server, measured) and the generator (client).
fn memif_side(make_rx: MakeProc, rx: Mode, make_tx: MakeProc, tx: Mode) -> SideFn {
    Box::new(move |s, names| {
        let sock = names.socket();
        let rx_proc = make_rx(s, names, &[format!("net_memif0,role=server,socket={sock}")], Lcores::Main0Fwd1, rx);
        let tx_proc = make_tx(s, names, &[format!("net_memif0,role=client,socket={sock}")], Lcores::Main1Fwd0, tx);
        Side { procs: vec![rx_proc, tx_proc], measured: 0, ports: vec![0], counter: Counter::Rx }
    })
}

fn sized(m: Mode, pkt_size: u16) -> Mode {
    Mode { pkt_size, ..m }
}

fn tracked(m: Mode) -> Mode {
    Mode { tracked: true, ..m }
}

/// Slices of 10 ms: hundreds per measuring window, each long enough that switching costs
/// nothing.
fn interleaved(m: Mode) -> Mode {
    Mode { tracked: true, interleave_ms: Some(10), ..m }
}

/// Foreign traffic in many flows, as a switch-side generator sends it.
fn many_flows(m: Mode) -> Mode {
    Mode { multi_flow: true, ..m }
}

/// A generator that never runs out within a benchmark and never drops.
fn lossless(m: Mode) -> Mode {
    Mode { count: Some(1 << 40), ..m }
}

/// Every case, in the order they run and are reported.
pub fn all() -> Vec<Case> {
    let (rx, io, tx) = (mode("rxonly"), mode("io"), mode("txonly"));
    let vs = |name, what, a: SideFn, b: SideFn| Case {
        name,
        what,
        kind: Kind::VsTestpmd,
        labels: ["dpdk-testpmd", "vflag-dp"],
        sides: Sides::Apart([a, b]),
    };
    let cost = |name, what, a: SideFn, b: SideFn| Case {
        name,
        what,
        kind: Kind::Tracking,
        labels: ["plain", "analysing"],
        sides: Sides::Apart([a, b]),
    };
    let cost_in_one = |name, what, side: SideFn| Case {
        name,
        what,
        kind: Kind::Tracking,
        labels: ["plain", "analysing"],
        sides: Sides::Interleaved(side),
    };
    vec![
        vs(
            "null-rxonly",
            "rxonly on a net_null port",
            null_side(testpmd, 1, rx, Counter::Rx),
            null_side(vflag, 1, rx, Counter::Rx),
        ),
        vs(
            "null-io",
            "io between two net_null ports (rx of both)",
            null_side(testpmd, 2, io, Counter::Rx),
            null_side(vflag, 2, io, Counter::Rx),
        ),
        vs(
            "null-txonly",
            "txonly on a net_null port",
            null_side(testpmd, 1, tx, Counter::Tx),
            null_side(vflag, 1, tx, Counter::Tx),
        ),
        vs(
            "memif-64",
            "txonly -> rxonly over memif, two processes, 64-byte frames (receiver's rx)",
            memif_side(testpmd, rx, testpmd, tx),
            memif_side(vflag, rx, vflag, tx),
        ),
        vs(
            "memif-1518",
            "txonly -> rxonly over memif, two processes, 1518-byte frames (receiver's rx)",
            memif_side(testpmd, sized(rx, 1518), testpmd, sized(tx, 1518)),
            memif_side(vflag, sized(rx, 1518), vflag, sized(tx, 1518)),
        ),
        vs(
            "tracked-null",
            "rxonly on a net_null port: dpdk-testpmd plain vs vflag-dp analysing every frame",
            null_side(testpmd, 1, rx, Counter::Rx),
            null_side(vflag, 1, tracked(rx), Counter::Rx),
        ),
        vs(
            "tracked-memif",
            "rxonly fed by vflag-dp gen (16 flows) over memif: dpdk-testpmd plain vs vflag-dp analysing",
            memif_side(testpmd, rx, vflag, lossless(tracked(tx))),
            memif_side(vflag, tracked(rx), vflag, lossless(tracked(tx))),
        ),
        cost(
            "analysis-null",
            "vflag-dp rxonly: analysing every frame vs --no-track, on a net_null port",
            null_side(vflag, 1, rx, Counter::Rx),
            null_side(vflag, 1, tracked(rx), Counter::Rx),
        ),
        cost(
            "analysis-memif",
            "vflag-dp rxonly fed by gen (16 flows) over memif: analysing vs --no-track",
            memif_side(vflag, rx, vflag, lossless(tracked(tx))),
            memif_side(vflag, tracked(rx), vflag, lossless(tracked(tx))),
        ),
        cost_in_one(
            "interleaved-null",
            "vflag-dp rxonly on a net_null port, one run: 10 ms slices analysing and not, alternating",
            null_side(vflag, 1, interleaved(rx), Counter::Rx),
        ),
        cost_in_one(
            "interleaved-memif",
            "vflag-dp rxonly fed by gen (16 flows) over memif, one run: 10 ms slices analysing and not",
            memif_side(vflag, interleaved(rx), vflag, lossless(tracked(tx))),
        ),
        cost_in_one(
            "interleaved-foreign",
            "vflag-dp rxonly fed by dpdk-testpmd txonly (many flows) over memif, one run: 10 ms slices analysing and not",
            memif_side(vflag, interleaved(rx), testpmd, many_flows(tx)),
        ),
        cost(
            "gen-null",
            "vflag-dp gen (16 tracked flows) vs txonly, on a net_null port",
            null_side(vflag, 1, tx, Counter::Tx),
            null_side(vflag, 1, tracked(tx), Counter::Tx),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings::example()
    }

    fn side(case: &str, i: usize) -> Side {
        let cases = all();
        let c = cases.iter().find(|c| c.name == case).unwrap();
        let f = match &c.sides {
            Sides::Apart(s) => &s[i],
            Sides::Interleaved(s) => s,
        };
        f(&settings(), &mut Names::new(Path::new("/tmp/d")))
    }

    fn value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
        args.iter().position(|a| a == flag).map(|i| args[i + 1].as_str())
    }

    #[test]
    fn both_tools_get_the_same_devices_lcores_and_sizes() {
        let t = side("null-io", 0);
        let v = side("null-io", 1);
        let (ta, va) = (&t.procs[0].args, &v.procs[0].args);
        assert_eq!(t.procs[0].program, Path::new("dpdk-testpmd"));
        assert_eq!(v.procs[0].program, Path::new("/x/vflag-dp"));
        let vdevs = |a: &[String]| a.iter().filter(|x| x.starts_with("net_null")).cloned().collect::<Vec<_>>();
        assert_eq!(vdevs(ta), ["net_null0", "net_null1"]);
        assert_eq!(vdevs(ta), vdevs(va));
        assert_eq!((value(ta, "-l"), value(ta, "--main-lcore")), (Some("0,1"), Some("0")));
        assert_eq!(value(va, "--lcores"), Some("0-1"));
        for (tp, vf, want) in [
            ("--total-num-mbufs=16384", "--mbufs", "16384"),
            ("--burst=32", "--burst", "32"),
            ("--rxd=1024", "--rxd", "1024"),
            ("--txd=1024", "--txd", "1024"),
            ("--forward-mode=io", "--fwd", "io"),
        ] {
            assert!(ta.contains(&tp.to_string()), "{tp} in {ta:?}");
            assert_eq!(value(va, vf), Some(want));
        }
        assert_eq!((t.ports.clone(), t.counter), (vec![0, 1], Counter::Rx));
        assert!(va.contains(&"--no-track".to_string()) || value(va, "--fwd") != Some("rxonly"));
    }

    #[test]
    fn memif_pairs_share_a_socket_and_forward_on_different_lcores() {
        let s = side("memif-1518", 1);
        assert_eq!(s.procs.len(), 2);
        let (rx, tx) = (&s.procs[0].args, &s.procs[1].args);
        let sock = |a: &[String]| value(a, "--vdev").unwrap().rsplit("socket=").next().unwrap().to_string();
        assert_eq!(sock(rx), sock(tx));
        assert!(value(rx, "--vdev").unwrap().contains("role=server"));
        assert_eq!((value(rx, "--lcores"), value(tx, "--lcores")), (Some("0-1"), Some("1,0")));
        assert_eq!((value(rx, "--fwd"), value(tx, "--fwd")), (Some("rxonly"), Some("txonly")));
        assert_eq!(value(tx, "--pkt-size"), Some("1518"));
        assert!(rx.contains(&"--no-track".to_string()), "vs testpmd: the plain receiver");
        let t = side("memif-1518", 0);
        assert!(t.procs[1].args.contains(&"--txpkts=1518".to_string()));
        assert_eq!(value(&t.procs[1].args, "--main-lcore"), Some("1"));
        assert_ne!(s.procs[0].prefix, s.procs[1].prefix);
    }

    #[test]
    fn analysis_cases_differ_only_in_tracking() {
        let (plain, analysing) = (side("analysis-memif", 0), side("analysis-memif", 1));
        assert!(plain.procs[0].args.contains(&"--no-track".to_string()));
        assert!(!analysing.procs[0].args.contains(&"--no-track".to_string()));
        for s in [&plain, &analysing] {
            assert_eq!(value(&s.procs[1].args, "--fwd"), Some("gen"), "fed tracked frames either way");
            assert!(value(&s.procs[1].args, "--count").is_some(), "a generator that retries");
        }
        let (tx, gen) = (side("gen-null", 0), side("gen-null", 1));
        assert_eq!(value(&tx.procs[0].args, "--fwd"), Some("txonly"));
        assert_eq!(value(&gen.procs[0].args, "--fwd"), Some("gen"));
        assert_eq!(gen.counter, Counter::Tx);
    }

    #[test]
    fn tracked_cases_set_vflag_dps_analysing_receiver_against_testpmds_plain_one() {
        for name in ["tracked-null", "tracked-memif"] {
            let cases = all();
            assert_eq!(cases.iter().find(|c| c.name == name).unwrap().kind, Kind::VsTestpmd);
            let (t, v) = (side(name, 0), side(name, 1));
            assert_eq!(t.procs[0].program, Path::new("dpdk-testpmd"), "{name}");
            assert!(t.procs[0].args.contains(&"--forward-mode=rxonly".to_string()));
            assert_eq!(value(&v.procs[0].args, "--fwd"), Some("rxonly"));
            assert!(!v.procs[0].args.contains(&"--no-track".to_string()), "{name}: the analysis must be on");
        }
        // Over memif both receivers are fed alike: vflag-dp's generator, 16 tracked flows.
        let (t, v) = (side("tracked-memif", 0), side("tracked-memif", 1));
        let feeder = |s: &Side| {
            assert_eq!(s.procs[1].program, Path::new("/x/vflag-dp"));
            let a = &s.procs[1].args;
            (
                value(a, "--fwd").map(str::to_string),
                value(a, "--flows").map(str::to_string),
                value(a, "--count").is_some(),
            )
        };
        assert_eq!(feeder(&t), (Some("gen".into()), Some("16".into()), true));
        assert_eq!(feeder(&t), feeder(&v));
    }

    #[test]
    fn the_foreign_case_feeds_the_interleaved_receiver_testpmds_many_flows() {
        let s = side("interleaved-foreign", 0);
        let (rx, tx) = (&s.procs[0], &s.procs[1]);
        assert_eq!(value(&rx.args, "--interleave-ms"), Some("10"));
        assert!(!rx.args.contains(&"--no-track".to_string()));
        assert_eq!(tx.program, Path::new("dpdk-testpmd"));
        for want in ["--forward-mode=txonly", "--txonly-multi-flow"] {
            assert!(tx.args.contains(&want.to_string()), "{want} in {:?}", tx.args);
        }
        assert!(!side("memif-64", 0).procs[1].args.contains(&"--txonly-multi-flow".to_string()));
    }

    #[test]
    fn interleaved_cases_run_one_analysing_receiver_that_alternates() {
        for name in ["interleaved-null", "interleaved-memif"] {
            let cases = all();
            let c = cases.iter().find(|c| c.name == name).unwrap();
            assert!(matches!(c.sides, Sides::Interleaved(_)), "{name}");
            assert_eq!(c.kind, Kind::Tracking);
            let rx = &side(name, 0).procs[0].args;
            assert_eq!(value(rx, "--fwd"), Some("rxonly"));
            assert_eq!(value(rx, "--interleave-ms"), Some("10"));
            assert!(!rx.contains(&"--no-track".to_string()), "{name}: the analysis must be on");
        }
        let feeder = &side("interleaved-memif", 0).procs[1].args;
        assert_eq!(value(feeder, "--fwd"), Some("gen"));
        assert!(value(feeder, "--interleave-ms").is_none());
    }

    #[test]
    fn case_names_are_unique() {
        let cases = all();
        let mut names: Vec<&str> = cases.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), cases.len());
    }
}
