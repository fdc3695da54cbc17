//! Reads a running DPDK process's port counters through its telemetry socket
//! (`/var/run/dpdk/<file-prefix>/dpdk_telemetry.v2`, `/ethdev/stats,<port>`). dpdk-testpmd and
//! vflag-dp answer it alike, so both are measured the same way, without parsing their output.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use nix::sys::socket::{connect, socket, AddressFamily, SockFlag, SockType, UnixAddr};

/// Where a process with this `--file-prefix` keeps its runtime files.
pub fn runtime_dir(file_prefix: &str) -> PathBuf {
    dpdk::eal::runtime_dir(file_prefix)
}

pub fn socket_path(file_prefix: &str) -> PathBuf {
    runtime_dir(file_prefix).join("dpdk_telemetry.v2")
}

/// One connection to a process's telemetry socket.
pub struct Telemetry {
    sock: std::fs::File,
    buf: Vec<u8>,
}

/// A port's packet counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortPackets {
    pub rx: u64,
    pub tx: u64,
}

impl Telemetry {
    pub fn connect(path: &Path) -> Result<Telemetry> {
        let fd: OwnedFd = socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC, None)
            .context("telemetry socket")?;
        let addr = UnixAddr::new(path).with_context(|| format!("telemetry socket path {}", path.display()))?;
        connect(std::os::fd::AsRawFd::as_raw_fd(&fd), &addr)
            .with_context(|| format!("cannot connect to {}", path.display()))?;
        let mut t = Telemetry { sock: std::fs::File::from(fd), buf: vec![0; 64 * 1024] };
        // The server greets first (version, pid, max output length).
        t.read_message().context("telemetry greeting")?;
        Ok(t)
    }

    fn read_message(&mut self) -> Result<serde_json::Value> {
        let n = self.sock.read(&mut self.buf)?;
        if n == 0 {
            bail!("telemetry socket closed");
        }
        serde_json::from_slice(&self.buf[..n]).context("telemetry reply is not JSON")
    }

    /// Sends one command and returns the value under the command's name.
    pub fn query(&mut self, cmd: &str) -> Result<serde_json::Value> {
        self.sock.write_all(cmd.as_bytes())?;
        let mut reply = self.read_message()?;
        let key = cmd.split(',').next().unwrap_or(cmd);
        match reply.get_mut(key) {
            Some(v) if !v.is_null() => Ok(v.take()),
            _ => bail!("telemetry: no answer to {cmd}: {reply}"),
        }
    }

    pub fn port_packets(&mut self, port: u16) -> Result<PortPackets> {
        parse_stats(&self.query(&format!("/ethdev/stats,{port}"))?)
    }

    pub fn interleave(&mut self) -> Result<Interleave> {
        parse_interleave(&self.query("/vflag/interleave")?)
    }
}

/// vflag-dp's `/vflag/interleave` counters: frames and TSC ticks per mode, summed over the
/// receiving lcores.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Interleave {
    pub lcores: u64,
    pub tsc_hz: u64,
    /// Plain, then analysing.
    pub packets: [u64; 2],
    pub tsc: [u64; 2],
}

impl Interleave {
    /// Mpps of each mode between `earlier` and this reading: the frames received in that mode
    /// over the time the lcores spent in it (ticks summed over lcores, so divided by them).
    pub fn rates_since(&self, earlier: &Interleave) -> [f64; 2] {
        let rate = |m: usize| {
            let packets = self.packets[m].saturating_sub(earlier.packets[m]) as f64;
            let secs = self.tsc[m].saturating_sub(earlier.tsc[m]) as f64
                / self.lcores.max(1) as f64
                / self.tsc_hz.max(1) as f64;
            if secs > 0.0 {
                packets / secs / 1e6
            } else {
                0.0
            }
        };
        [rate(0), rate(1)]
    }
}

/// A `/vflag/interleave` answer.
pub fn parse_interleave(v: &serde_json::Value) -> Result<Interleave> {
    let get = |k: &str| {
        v.get(k).and_then(serde_json::Value::as_u64).with_context(|| {
            format!("no {k} in /vflag/interleave answer {v} (is the measured process vflag-dp with --interleave-ms?)")
        })
    };
    Ok(Interleave {
        lcores: get("lcores")?,
        tsc_hz: get("tsc_hz")?,
        packets: [get("plain_packets")?, get("analysing_packets")?],
        tsc: [get("plain_tsc")?, get("analysing_tsc")?],
    })
}

/// `ipackets`/`opackets` of an `/ethdev/stats` answer.
pub fn parse_stats(v: &serde_json::Value) -> Result<PortPackets> {
    let get = |k: &str| v.get(k).and_then(serde_json::Value::as_u64).with_context(|| format!("no {k} in {v}"));
    Ok(PortPackets { rx: get("ipackets")?, tx: get("opackets")? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_answer_is_read() {
        // As DPDK 22.11 answers /ethdev/stats,0 (abridged).
        let v: serde_json::Value = serde_json::from_str(
            r#"{"ipackets": 1200, "opackets": 34, "ibytes": 76800, "obytes": 2176, "imissed": 0,
                "q_ipackets": [1200], "q_opackets": [34]}"#,
        )
        .unwrap();
        assert_eq!(parse_stats(&v).unwrap(), PortPackets { rx: 1200, tx: 34 });
        let broken: serde_json::Value = serde_json::from_str(r#"{"ipackets": 5}"#).unwrap();
        assert!(parse_stats(&broken).unwrap_err().to_string().contains("opackets"));
    }

    #[test]
    fn interleave_answer_gives_each_modes_rate() {
        // As vflag-dp answers /vflag/interleave: two lcores, a 1 GHz TSC.
        let at = |pp: u64, pt: u64, ap: u64, at: u64| {
            let v = serde_json::json!({"lcores": 2, "tsc_hz": 1_000_000_000u64, "slices": 8,
                "plain_packets": pp, "plain_tsc": pt, "analysing_packets": ap, "analysing_tsc": at});
            parse_interleave(&v).unwrap()
        };
        let (a, b) = (at(0, 0, 0, 0), at(40_000_000, 2_000_000_000, 36_000_000, 2_000_000_000));
        // Each lcore spent 1 s in each mode: 40 and 36 Mpps over both.
        assert_eq!(b.rates_since(&a), [40.0, 36.0]);
        assert_eq!(a.rates_since(&a), [0.0, 0.0]);
        let plain = serde_json::json!({});
        assert!(parse_interleave(&plain).unwrap_err().to_string().contains("--interleave-ms"));
    }

    #[test]
    fn socket_path_follows_the_prefix() {
        let p = socket_path("vb-7");
        assert!(p.ends_with("dpdk/vb-7/dpdk_telemetry.v2"), "{}", p.display());
        if nix::unistd::geteuid().is_root() {
            assert!(p.starts_with("/var/run/dpdk"));
        }
    }
}
