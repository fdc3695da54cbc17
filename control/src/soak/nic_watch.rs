//! The NIC's own state through a soak: a thread reads, every 50 ms, the card's LAG in debugfs
//! (`mlx5/<pci>/lag/`: state, type, port_sel_mode, mapping), each PF's carrier and operstate,
//! the bond's members (`bonding/slaves`, `bonding/active_slave`, each member's
//! `bonding_slave/{mii_status,state}`) and the kernel log's new LAG lines, and records what
//! changed, stamped in wall-clock seconds, into `nic.jsonl` (schema `vflag-ctl.nic.v1`) and
//! memory. The same reader runs on real hardware (`--sysfs-root`, `--debugfs-root`, `dmesg` or
//! `--dmesg-file`) and on the lab's emulated VF, where the LAG model writes the debugfs tree,
//! the kernel log and the bond's sysfs view under `/run/vflag/lab-NS/` (the PFs' carrier there
//! is the kernel's own, the host ends').

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

use super::args::SoakArgs;
use crate::lab::card_view::{self, PF_PCI};
use crate::lab::vf::VfSpec;
use crate::lab::LabSpec;
use crate::mlx5::discover::{self, Host, Member};
use crate::mlx5::dmesg::{self, LagKind};
use crate::mlx5::lagstate::{self, Source};
use crate::mlx5::sysfs::SysFs;
use crate::mlx5::Env;
use crate::runner::{Runner, SystemRunner};

pub const SCHEMA: &str = "vflag-ctl.nic.v1";
/// How often sysfs and debugfs are read: a few reads per carrier change of a 100 ms miimon.
pub const PERIOD: Duration = Duration::from_millis(50);
/// `dmesg` is a process printing the whole ring buffer (up to megabytes on a busy host) each
/// time: every 50 ms it would take a good part of a core beside the DUT. Its lines carry their
/// printk stamps, so reading it every 500 ms costs no precision, only lateness of the record.
/// A log file (`--dmesg-file`, the lab's kern.log) is read incrementally at every tick instead.
pub const DMESG_PERIOD: Duration = Duration::from_millis(500);

/// What is watched.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Target {
    /// The PFs, port 1 first: (netdev, PCI address).
    pub pfs: Vec<(String, String)>,
    pub bond: Option<String>,
    /// Where the bond was read: `sysfs`, or `lab model` (its view under the run directory).
    pub bond_from: &'static str,
    /// `dmesg`, or the file the kernel log was read from.
    pub log: String,
}

/// The roots the reads go to.
#[derive(Debug, Clone)]
pub struct Roots {
    pub sys: PathBuf,
    pub debugfs: PathBuf,
    /// Where the bond's `class/net/BOND/bonding` is: the sysfs root on hardware.
    pub bond_sys: PathBuf,
    /// The kernel log from this file; None: `dmesg`.
    pub log_file: Option<PathBuf>,
}

impl Target {
    /// The card `discover` found: its PFs, and the bond they are in (else the one named).
    pub fn of_host(host: &Host, log: Option<&Path>) -> Target {
        Target {
            pfs: host.pfs.iter().map(|p| (p.netdev.clone(), p.pci.clone())).collect(),
            bond: host.bond.as_ref().filter(|b| b.mode.is_some()).map(|b| b.name.clone()),
            bond_from: "sysfs",
            log: log.map_or("dmesg".into(), |p| p.display().to_string()),
        }
    }

    /// The lab's emulated card: the host ends as the PFs, the model's tree, log and bond view.
    pub fn lab(spec: &LabSpec, vf: &VfSpec) -> (Target, Roots) {
        let target = Target {
            pfs: spec.links.iter().zip(PF_PCI).map(|((h, _), p)| (h.clone(), p.to_string())).collect(),
            bond: Some(card_view::BOND.into()),
            bond_from: "lab model",
            log: vf.kern_log().display().to_string(),
        };
        let roots = Roots {
            sys: PathBuf::from("/sys"),
            debugfs: vf.debugfs_root(),
            bond_sys: vf.bond_sys_root(),
            log_file: Some(vf.kern_log()),
        };
        (target, roots)
    }
}

/// The LAG as debugfs (or the fallbacks of `lagstate`) shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LagView {
    pub source: Source,
    pub active: Option<bool>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub port_sel_mode: Option<String>,
    pub mapping: Vec<String>,
}

/// One kernel log line about the LAG or a PF's link.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogLine {
    pub pci: Option<String>,
    /// printk's stamp, seconds since boot.
    pub uptime_s: f64,
    pub message: String,
    pub kind: LagKind,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "what", rename_all = "snake_case")]
pub enum Change {
    Lag(LagView),
    Link {
        netdev: String,
        carrier: Option<bool>,
        operstate: Option<String>,
    },
    Member {
        bond: String,
        name: String,
        mii_status: Option<String>,
        state: Option<String>,
    },
    ActiveSlave {
        bond: String,
        name: Option<String>,
    },
    /// The bond is gone (or was never there).
    NoBond {
        bond: String,
    },
    Log(LogLine),
}

/// A change and when it happened: when a read first saw it, or a log line's printk stamp.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub t_unix_s: f64,
    #[serde(flatten)]
    pub change: Change,
}

/// What one read of the host shows.
#[derive(Debug, Clone, PartialEq)]
struct Snapshot {
    lag: LagView,
    links: Vec<(Option<bool>, Option<String>)>,
    bond: Option<(Vec<Member>, Option<String>)>,
}

enum LogReader {
    /// Bytes of the file already read.
    File { path: PathBuf, offset: u64 },
    /// The last `dmesg` read (unix s), and the newest stamp taken with its messages.
    Dmesg { last_read: f64, newest: Option<(f64, Vec<String>)> },
}

impl LogReader {
    /// New text of the log, if it is time to read it and it can be read.
    fn read(&mut self, env: &mut Env, now_unix: f64, last: bool) -> Result<Option<String>, String> {
        match self {
            LogReader::File { path, offset } => {
                let mut f = File::open(&*path).map_err(|e| format!("{}: {e}", path.display()))?;
                let len = f.metadata().map(|m| m.len()).unwrap_or(0);
                if len < *offset {
                    // Rotated or truncated: it starts again.
                    *offset = 0;
                }
                let mut bytes = Vec::new();
                f.seek(SeekFrom::Start(*offset))
                    .and_then(|_| f.read_to_end(&mut bytes))
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                // Whole lines only; a line being written is read next time.
                let whole = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                *offset += whole as u64;
                Ok(Some(String::from_utf8_lossy(&bytes[..whole]).into_owned()))
            }
            LogReader::Dmesg { last_read, .. } => {
                if !last && now_unix - *last_read < DMESG_PERIOD.as_secs_f64() {
                    return Ok(None);
                }
                *last_read = now_unix;
                env.kernel_log().map(Some).ok_or_else(|| "dmesg could not be read (it needs root)".to_string())
            }
        }
    }
}

/// Reads the host tick after tick and keeps what changed.
pub struct Sampler {
    target: Target,
    last: Option<Snapshot>,
    log: LogReader,
    /// Wall clock minus uptime. /proc/uptime shows 10 ms steps and lags the true uptime by
    /// up to one, so each reading's difference is at or above the true offset: the smallest
    /// seen is the closest.
    offset_s: f64,
    /// Log lines stamped before the soak began are not its own.
    since_uptime: Option<f64>,
    pub events: Vec<Event>,
    /// Why the kernel log could not be read, if it could not (said once).
    pub log_error: Option<String>,
}

impl Sampler {
    /// `log_file`: the kernel log from a file, read from its current end; None: `dmesg`.
    pub fn new(target: Target, log_file: Option<&Path>) -> Sampler {
        let log = match log_file {
            Some(p) => {
                LogReader::File { path: p.to_path_buf(), offset: std::fs::metadata(p).map(|m| m.len()).unwrap_or(0) }
            }
            None => LogReader::Dmesg { last_read: f64::NEG_INFINITY, newest: None },
        };
        Sampler {
            target,
            last: None,
            log,
            offset_s: f64::INFINITY,
            since_uptime: None,
            events: Vec::new(),
            log_error: None,
        }
    }

    fn read(&self, env: &Env, bond_sys: &SysFs) -> Snapshot {
        let lag = lagstate::read(env, self.target.pfs.first().map_or("", |p| p.1.as_str()), None);
        let links = self
            .target
            .pfs
            .iter()
            .map(|(n, _)| {
                // An admin-down link's carrier does not read (EINVAL): its operstate tells.
                (
                    env.sys.read(&format!("class/net/{n}/carrier")).map(|c| c == "1"),
                    env.sys.read(&format!("class/net/{n}/operstate")),
                )
            })
            .collect();
        Snapshot {
            lag: LagView {
                source: lag.source,
                active: lag.active,
                kind: lag.kind,
                port_sel_mode: lag.port_sel_mode,
                mapping: lag.mapping,
            },
            links,
            bond: self.target.bond.as_ref().and_then(|b| discover::read_members(bond_sys, b)),
        }
    }

    /// One read at `now` (unix s, uptime s read together): the events it found, also kept.
    /// `last`: the soak's final read, which reads the log whatever its period.
    pub fn tick(&mut self, env: &mut Env, bond_sys: &SysFs, now: (f64, f64), last: bool) -> Vec<Event> {
        let (unix, uptime) = now;
        self.offset_s = self.offset_s.min(unix - uptime);
        let since = *self.since_uptime.get_or_insert(uptime);
        let snap = self.read(env, bond_sys);
        let mut new: Vec<Change> = Vec::new();
        let prev = self.last.as_ref();
        if prev.map(|p| &p.lag) != Some(&snap.lag) {
            new.push(Change::Lag(snap.lag.clone()));
        }
        for (i, (netdev, _)) in self.target.pfs.iter().enumerate() {
            if prev.map(|p| &p.links[i]) != Some(&snap.links[i]) {
                let (carrier, operstate) = snap.links[i].clone();
                new.push(Change::Link { netdev: netdev.clone(), carrier, operstate });
            }
        }
        if let Some(bond) = &self.target.bond {
            new.extend(bond_changes(bond, prev.map(|p| &p.bond), &snap.bond));
        }
        self.last = Some(snap);
        let mut events: Vec<Event> = new.into_iter().map(|change| Event { t_unix_s: unix, change }).collect();
        // A log that could not be read is not tried again (dmesg refused: no root).
        let log = if self.log_error.is_some() { Ok(None) } else { self.log.read(env, unix, last) };
        match log {
            Ok(Some(text)) => events.extend(self.log_events(&text, since)),
            Ok(None) => {}
            Err(e) => {
                self.log_error.get_or_insert(e);
            }
        }
        self.events.extend(events.iter().cloned());
        events
    }

    /// The LAG and link lines of `text` stamped since the soak began and not taken before.
    fn log_events(&mut self, text: &str, since: f64) -> Vec<Event> {
        let offset = self.offset_s;
        let mut out = Vec::new();
        for l in dmesg::lag_lines(text) {
            let Some(at) = l.uptime_s.filter(|&u| u >= since) else { continue };
            // `dmesg` prints the whole buffer each time: only what is newer than the newest
            // line taken (or as new, with a message not yet taken at that stamp) is new.
            if let LogReader::Dmesg { newest, .. } = &mut self.log {
                match newest {
                    Some((t, msgs)) if at < *t || (at == *t && msgs.contains(&l.message)) => continue,
                    Some((t, msgs)) if at == *t => msgs.push(l.message.clone()),
                    _ => *newest = Some((at, vec![l.message.clone()])),
                }
            }
            let change = Change::Log(LogLine { pci: l.pci, uptime_s: at, message: l.message, kind: l.kind });
            out.push(Event { t_unix_s: at + offset, change });
        }
        out
    }
}

/// The bond's changes from `prev` to `now`, member by member.
fn bond_changes(
    bond: &str,
    prev: Option<&Option<(Vec<Member>, Option<String>)>>,
    now: &Option<(Vec<Member>, Option<String>)>,
) -> Vec<Change> {
    let Some((members, active)) = now else {
        return match prev {
            Some(None) => Vec::new(),
            _ => vec![Change::NoBond { bond: bond.to_string() }],
        };
    };
    let before = prev.and_then(|p| p.as_ref());
    let mut out: Vec<Change> = members
        .iter()
        .filter(|m| before.is_none_or(|(b, _)| !b.contains(m)))
        .map(|m| Change::Member {
            bond: bond.to_string(),
            name: m.name.clone(),
            mii_status: m.mii_status.clone(),
            state: m.state.clone(),
        })
        .collect();
    if before.is_none_or(|(_, a)| a != active) {
        out.push(Change::ActiveSlave { bond: bond.to_string(), name: active.clone() });
    }
    out
}

/// What the sampling gave.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NicSeries {
    pub target: Option<Target>,
    pub events: Vec<Event>,
    /// Why part of it could not be read (the kernel log, the thread).
    pub error: Option<String>,
}

/// The sampling thread; stopped by [`NicWatch::finish`] or when dropped.
pub struct NicWatch {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<NicSeries>>,
}

/// Wall clock and uptime, read one after the other.
fn now() -> (f64, f64) {
    (super::clock::unix_now(), card_view::uptime_now())
}

impl NicWatch {
    /// Starts sampling `target` under `roots` (commands run for real), each change appended to
    /// `jsonl` after its header line.
    pub fn start(target: Target, roots: Roots, jsonl: &Path) -> Result<NicWatch> {
        let mut file = File::create(jsonl).with_context(|| format!("creating {}", jsonl.display()))?;
        let header = serde_json::json!({ "schema": SCHEMA, "target": &target });
        writeln!(file, "{header}").with_context(|| format!("writing {}", jsonl.display()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("nic-watch".into())
            .spawn(move || {
                let mut runner = SystemRunner;
                let sleep = |d: Duration| std::thread::sleep(d);
                let mut env = Env {
                    sys: SysFs::new(&roots.sys),
                    debugfs: SysFs::new(&roots.debugfs),
                    dmesg_file: None,
                    runner: &mut runner as &mut dyn Runner,
                    sleep: &sleep,
                };
                let bond_sys = SysFs::new(&roots.bond_sys);
                let mut s = Sampler::new(target.clone(), roots.log_file.as_deref());
                let mut write_error = None;
                loop {
                    let t0 = Instant::now();
                    let last = flag.load(Ordering::Relaxed);
                    for e in s.tick(&mut env, &bond_sys, now(), last) {
                        if let Err(err) = serde_json::to_string(&e).map(|l| writeln!(file, "{l}")) {
                            write_error.get_or_insert(format!("nic.jsonl: {err}"));
                        }
                    }
                    if last {
                        break;
                    }
                    std::thread::sleep(PERIOD.saturating_sub(t0.elapsed()));
                }
                let _ = file.flush();
                NicSeries { target: Some(target), events: s.events, error: s.log_error.or(write_error) }
            })
            .context("starting the NIC sampling thread")?;
        Ok(NicWatch { stop, thread: Some(thread) })
    }

    /// Stops after one last read: everything sampled.
    pub fn finish(mut self) -> NicSeries {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(s)) => s,
            _ => NicSeries { error: Some("the NIC sampling thread panicked".into()), ..Default::default() },
        }
    }
}

impl Drop for NicWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The soak's NIC sampling: running, or why not.
pub struct NicRun {
    pub watch: Option<NicWatch>,
    /// Why the NIC is not sampled on this DUT (the soak goes on without it).
    pub note: Option<String>,
    pub file: Option<String>,
}

impl NicRun {
    pub fn finish(self) -> Option<(NicSeries, Option<String>)> {
        match (self.watch, self.note) {
            (Some(w), _) => Some((w.finish(), None)),
            (None, Some(note)) => Some((NicSeries::default(), Some(note))),
            (None, None) => None,
        }
    }
}

/// Starts sampling for a soak: the lab's emulated card (`--lab --vf`), or the DUT's card found
/// through `--sysfs-root`/`--pfs`/`--bond-name`... A card that cannot be read is a warning:
/// the soak goes on without it. A lab without `--vf` has no NIC to watch.
pub fn start(args: &SoakArgs, spec: &LabSpec, vf: Option<&VfSpec>, out: &Path) -> NicRun {
    let file = out.join(super::outputs::NIC);
    let (target, roots) = match (args.lab, vf) {
        (true, Some(vf)) => Target::lab(spec, vf),
        (true, None) => return NicRun { watch: None, note: None, file: None },
        (false, _) => match args.nic.with_env(|env| args.nic.discover(env)) {
            Ok(host) => {
                let h = &args.nic.host;
                let roots = Roots {
                    sys: h.sysfs_root.clone(),
                    debugfs: h.debugfs(),
                    bond_sys: h.sysfs_root.clone(),
                    log_file: h.dmesg_file.clone(),
                };
                (Target::of_host(&host, h.dmesg_file.as_deref()), roots)
            }
            Err(e) => {
                let note = format!("not sampled: {e:#}");
                eprintln!("vflag-ctl: warning: the NIC is {note}");
                return NicRun { watch: None, note: Some(note), file: None };
            }
        },
    };
    let pfs: Vec<String> = target.pfs.iter().map(|(n, p)| format!("{n} ({p})")).collect();
    match NicWatch::start(target.clone(), roots, &file) {
        Ok(w) => {
            println!(
                "NIC: {}, bond {}, log {} -> {}",
                pfs.join(", "),
                target.bond.as_deref().unwrap_or("none"),
                target.log,
                file.display()
            );
            NicRun { watch: Some(w), note: None, file: Some(file.display().to_string()) }
        }
        Err(e) => {
            let note = format!("not sampled: {e:#}");
            eprintln!("vflag-ctl: warning: the NIC is {note}");
            NicRun { watch: None, note: Some(note), file: None }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlx5::testing::fake::FakeHost;

    /// The seed's host after `up`, its VF-LAG active.
    pub fn host_up() -> FakeHost {
        let mut host = FakeHost::seed();
        crate::mlx5::testing::up_on(&mut host, &crate::mlx5::plan::Setup::default()).unwrap();
        host
    }

    fn target() -> Target {
        Target {
            pfs: vec![("enp1s0f0np0".into(), "0000:01:00.0".into()), ("enp1s0f1np1".into(), "0000:01:00.1".into())],
            bond: Some("vf-bond".into()),
            bond_from: "sysfs",
            log: "dmesg".into(),
        }
    }

    /// Uptime is wall clock minus 1000 s here: the lines `up` logged (at 100 s and on) were
    /// before the soak.
    fn at(unix: f64) -> (f64, f64) {
        (unix, unix - 1000.0)
    }

    fn what(e: &Event) -> String {
        match &e.change {
            Change::Lag(l) => format!("lag {}", l.mapping.join(",")),
            Change::Link { netdev, carrier, .. } => format!("link {netdev} {carrier:?}"),
            Change::Member { name, mii_status, state, .. } => {
                format!("member {name} {} {}", mii_status.as_deref().unwrap_or("?"), state.as_deref().unwrap_or("?"))
            }
            Change::ActiveSlave { name, .. } => format!("active_slave {name:?}"),
            Change::NoBond { .. } => "no bond".into(),
            Change::Log(l) => format!("log {}", l.message),
        }
    }

    #[test]
    fn a_flap_in_the_middle_of_sampling_is_recorded_change_by_change() {
        let mut host = host_up();
        let root = host.root();
        let sys = SysFs::new(root.join("sys"));
        let mut s = Sampler::new(target(), None);
        let tick = |host: &mut FakeHost, s: &mut Sampler, unix: f64| {
            let sleep = |_| {};
            let mut env = crate::mlx5::testing::fake::env_at(&root, host, &sleep);
            s.tick(&mut env, &sys, at(unix), false).iter().map(what).collect::<Vec<_>>()
        };
        // The first read is the baseline: everything, as it is.
        let first = tick(&mut host, &mut s, 2000.0);
        assert_eq!(
            first,
            [
                "lag 1,2",
                "link enp1s0f0np0 Some(true)",
                "link enp1s0f1np1 Some(true)",
                "member enp1s0f0np0 up active",
                "member enp1s0f1np1 up active",
                "active_slave None"
            ]
        );
        assert!(tick(&mut host, &mut s, 2000.05).is_empty(), "nothing changed, nothing recorded");
        // Port 1 loses its carrier 10 ms before the next read (uptime 1000.06); dmesg is not
        // read again until 500 ms after the last read.
        host.flap(0, false, 2000.06 - 1000.0);
        let down = tick(&mut host, &mut s, 2000.1);
        assert_eq!(down, ["lag 2", "link enp1s0f0np0 Some(false)", "member enp1s0f0np0 down backup"]);
        let log = tick(&mut host, &mut s, 2000.5);
        assert_eq!(
            log,
            [
                "log Link down",
                "log vf-bond: (slave enp1s0f0np0): link status definitely down, disabling slave",
                "log lag map active ports: 2"
            ]
        );
        // The log's lines carry their printk stamps, as wall clock.
        let stamped: Vec<f64> =
            s.events.iter().filter(|e| matches!(e.change, Change::Log(_))).map(|e| e.t_unix_s).collect();
        assert!(stamped.iter().all(|t| (t - 2000.06).abs() < 1e-6), "{stamped:?}");
        host.flap(0, true, 2000.7 - 1000.0);
        let up = tick(&mut host, &mut s, 2001.0);
        assert_eq!(
            up,
            [
                "lag 1,2",
                "link enp1s0f0np0 Some(true)",
                "member enp1s0f0np0 up active",
                "log Link up",
                "log vf-bond: (slave enp1s0f0np0): link status definitely up, 100000 Mbps full duplex",
                "log lag map active ports: 1, 2"
            ]
        );
        // dmesg prints the whole buffer again: nothing taken twice.
        assert!(tick(&mut host, &mut s, 2001.6).is_empty());
        assert_eq!(s.events.len(), 6 + 3 + 3 + 6);
        assert_eq!(s.log_error, None);
    }

    #[test]
    fn log_lines_from_before_the_soak_are_not_its_own_and_a_file_is_read_as_it_grows() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("kern.log");
        std::fs::write(&log, "[  500.000000] mlx5_core 0000:01:00.0: lag map active ports: 2\n").unwrap();
        let sys = SysFs::new(dir.path().join("nosys"));
        let (mut r, sleep) = (crate::runner::Recorder::default(), |_| {});
        let mut env = crate::mlx5::testing::fake::env_at(dir.path(), &mut r, &sleep);
        let mut s = Sampler::new(Target { bond: None, ..target() }, Some(&log));
        let first: Vec<String> = s.tick(&mut env, &sys, (1000.0, 600.0), false).iter().map(what).collect();
        assert!(!first.iter().any(|w| w.starts_with("log")), "{first:?}");
        let line = card_view::log_line(600.25, "0000:01:00.0", None, "lag map active ports: 1, 2");
        // Half a line: read when it is whole.
        card_view::append_log(&log, &line[..20]).unwrap();
        assert!(s.tick(&mut env, &sys, (1000.3, 600.3), false).is_empty());
        card_view::append_log(&log, &line[20..]).unwrap();
        let e = s.tick(&mut env, &sys, (1000.35, 600.35), false);
        assert_eq!(e.iter().map(what).collect::<Vec<_>>(), ["log lag map active ports: 1, 2"]);
        assert!((e[0].t_unix_s - 1000.25).abs() < 1e-9);
        // No dmesg ran: the file is the log.
        assert!(r.log.is_empty(), "{:?}", r.log);
    }

    #[test]
    fn a_flap_logged_by_each_kernel_gives_the_same_timeline() {
        // `--dmesg-file` grows by a flap of port 1 as 6.x, 5.18 and 5.15 print it: the remap
        // and the restore come from the map lines, the carrier from en_main.c's.
        for name in ["dmesg-flap-6x.log", "dmesg-flap-5.18.log", "dmesg-flap-5.15.log"] {
            let dir = tempfile::tempdir().unwrap();
            let log = dir.path().join("kern.log");
            std::fs::write(&log, "").unwrap();
            let sys = SysFs::new(dir.path().join("nosys"));
            let (mut r, sleep) = (crate::runner::Recorder::default(), |_| {});
            let mut env = crate::mlx5::testing::fake::env_at(dir.path(), &mut r, &sleep);
            let mut s = Sampler::new(target(), Some(&log));
            // Wall clock 10000 s is uptime 5200 s.
            s.tick(&mut env, &sys, (10_000.0, 5200.0), false);
            card_view::append_log(&log, &crate::mlx5::testing::fake::text(name)).unwrap();
            s.tick(&mut env, &sys, (10_001.5, 5201.5), false);
            let series = NicSeries { target: Some(s.target.clone()), events: s.events.clone(), error: None };
            let flap = crate::soak::analyze::FlapRecord {
                number: 1,
                links: vec!["enp1s0f0np0".into()],
                link_idx: vec![0],
                down_unix_s: 10_000.1,
                up_unix_s: 10_001.1,
                cut_short: false,
            };
            let t = crate::soak::lag::timeline(&series, &[flap], &[], "hardware");
            let f = &t.flaps[0];
            let ms = |v: Option<f64>| v.map(|v| (v * 10.0).round() / 10.0);
            assert_eq!(
                (ms(f.carrier_down_ms), ms(f.lag_remapped_ms), f.lag_remapped_by),
                (Some(18.4), Some(114.9), Some("kernel log")),
                "{name}"
            );
            assert_eq!(ms(f.bond_noticed_ms), Some(114.1), "bond_main.c's line: {name}");
            assert_eq!((ms(f.carrier_up_ms), ms(f.lag_restored_ms)), (Some(20.6), Some(103.3)), "{name}");
        }
    }

    #[test]
    fn on_hardware_the_card_is_found_through_the_soaks_host_options() {
        use clap::Parser;
        #[derive(Parser)]
        struct T {
            #[command(flatten)]
            a: SoakArgs,
        }
        let out = tempfile::tempdir().unwrap();
        let log = out.path().join("kern.log");
        std::fs::write(&log, "").unwrap();
        let sys = crate::mlx5::testing::fake::fixtures().join("up/sys");
        let (sys, log_arg) = (sys.display().to_string(), log.display().to_string());
        let dut = ["--dut-args", "-a 0000:01:00.2", "--duration", "5s"];
        let args =
            T::try_parse_from(["t", "--sysfs-root", &sys, "--dmesg-file", &log_arg].iter().chain(&dut)).unwrap().a;
        let run = start(&args, &LabSpec::default(), None, out.path());
        assert_eq!(run.note, None);
        std::thread::sleep(Duration::from_millis(120));
        let (series, note) = run.finish().unwrap();
        assert_eq!(note, None);
        let t = series.target.unwrap();
        assert_eq!(
            t.pfs,
            [("enp1s0f0np0".to_string(), "0000:01:00.0".to_string()), ("enp1s0f1np1".into(), "0000:01:00.1".into())]
        );
        assert_eq!((t.bond.as_deref(), t.bond_from, t.log.as_str()), (Some("vf-bond"), "sysfs", log_arg.as_str()));
        assert!(
            series.events.iter().any(|e| matches!(&e.change, Change::Lag(l) if l.mapping == ["1", "2"])),
            "{:?}",
            series.events
        );
        let jsonl = std::fs::read_to_string(out.path().join("nic.jsonl")).unwrap();
        assert!(jsonl.starts_with("{\"schema\":\"vflag-ctl.nic.v1\""), "{jsonl}");
        // A host with no such card: a note, and the soak goes on.
        let none = out.path().join("none");
        let bad = none.display().to_string();
        let args = T::try_parse_from(["t", "--sysfs-root", &bad].iter().chain(&dut)).unwrap().a;
        let run = start(&args, &LabSpec::default(), None, out.path());
        assert!(run.watch.is_none() && run.note.as_deref().unwrap().starts_with("not sampled: "));
    }

    #[test]
    fn a_kernel_log_that_cannot_be_read_is_said_once_and_not_tried_again() {
        let mut host = host_up();
        host.hide_lag();
        let root = host.root();
        let sys = SysFs::new(root.join("sys"));
        let sleep = |_| {};
        let mut s = Sampler::new(target(), None);
        let before = host.log.iter().filter(|c| *c == "dmesg").count();
        for unix in [2000.0, 2000.6, 2001.2] {
            let mut env = crate::mlx5::testing::fake::env_at(&root, &mut host, &sleep);
            s.tick(&mut env, &sys, at(unix), false);
        }
        assert_eq!(s.log_error.as_deref(), Some("dmesg could not be read (it needs root)"));
        assert_eq!(host.log.iter().filter(|c| *c == "dmesg").count(), before + 1, "{:?}", host.log);
    }

    #[test]
    fn the_uptime_offset_is_the_smallest_seen() {
        // /proc/uptime truncates to 10 ms: the readings' offsets are at or above the truth.
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("kern.log");
        std::fs::write(&log, "").unwrap();
        let sys = SysFs::new(dir.path().join("nosys"));
        let (mut r, sleep) = (crate::runner::Recorder::default(), |_| {});
        let mut env = crate::mlx5::testing::fake::env_at(dir.path(), &mut r, &sleep);
        let mut s = Sampler::new(Target { bond: None, ..target() }, Some(&log));
        for (unix, up) in [(1000.009, 100.0), (1000.051, 100.05), (1000.1, 100.09)] {
            s.tick(&mut env, &sys, (unix, up), false);
        }
        assert!((s.offset_s - 900.001).abs() < 1e-9, "{}", s.offset_s);
    }

    #[test]
    fn events_serialize_flat_with_what_they_are() {
        let e = Event {
            t_unix_s: 1.5,
            change: Change::Member {
                bond: "vf-bond".into(),
                name: "p0".into(),
                mii_status: Some("down".into()),
                state: None,
            },
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["what"], "member");
        assert_eq!((v["t_unix_s"].as_f64(), v["name"].as_str()), (Some(1.5), Some("p0")));
        let l = Event {
            t_unix_s: 2.0,
            change: Change::Log(LogLine {
                pci: None,
                uptime_s: 1.0,
                message: "lag map active ports: 2".into(),
                kind: LagKind::ActivePorts(vec![2]),
            }),
        };
        let v = serde_json::to_value(&l).unwrap();
        assert_eq!((v["what"].as_str(), v["kind"]["active_ports"][0].as_u64()), (Some("log"), Some(2)));
    }
}
