//! The NIC's own LAG across each flap, as the soak saw it: on the lab's emulated VF (`--lab
//! --vf`) the remaps of the lab's LAG model (what mlx5 does on a link event: the dead port's
//! hash buckets to the live one, and back). Per flap: how long after the down command the LAG
//! stopped sending on the failed link, and how long after the up it sent on it again.

use std::fmt::Write;

use serde::Serialize;

use super::analyze::FlapRecord;

/// One remap: when it was in place (receiver seconds), the ports it left live (1-based, as
/// mlx5's debugfs `mapping` shows them), how long it took from the carrier change it answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LagRemap {
    pub t_s: f64,
    pub ports: Vec<u8>,
    pub took_ms: f64,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LagFlap {
    pub flap: usize,
    /// From the down command to the LAG no longer using the failed port(s).
    pub remap_ms: Option<f64>,
    /// From the up command to the LAG using every port again.
    pub restore_ms: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LagTimeline {
    pub remaps: Vec<LagRemap>,
    pub flaps: Vec<LagFlap>,
}

/// Pairs each flap with the first remap after its down that leaves its links out, and the
/// first after its up that uses every port. `started_unix_s` is the receiver's start.
pub fn timeline(remaps: Vec<LagRemap>, records: &[FlapRecord], started_unix_s: f64, ports: usize) -> LagTimeline {
    let flaps = records
        .iter()
        .map(|r| {
            let (down, up) = (r.down_unix_s - started_unix_s, r.up_unix_s - started_unix_s);
            let left_out = |m: &&LagRemap| r.link_idx.iter().all(|&l| !m.ports.contains(&(l as u8 + 1)));
            let remap_ms =
                remaps.iter().filter(|m| m.t_s >= down && m.t_s <= up).find(left_out).map(|m| (m.t_s - down) * 1e3);
            let restore_ms = remaps.iter().find(|m| m.t_s >= up && m.ports.len() == ports).map(|m| (m.t_s - up) * 1e3);
            LagFlap { flap: r.number, remap_ms, restore_ms }
        })
        .collect();
    LagTimeline { remaps, flaps }
}

/// The table's lines for the LAG.
pub fn markdown(t: &LagTimeline) -> String {
    let ms = |v: Option<f64>| v.map_or("not seen".to_string(), |v| format!("{v:.1} ms"));
    let mut s = String::from("The NIC's LAG (the lab's model of mlx5's hash mode), per flap:\n\n");
    s.push_str("| flap | remapped off the link after down | all ports again after up |\n|---:|---:|---:|\n");
    for f in &t.flaps {
        let _ = writeln!(s, "| {} | {} | {} |", f.flap, ms(f.remap_ms), ms(f.restore_ms));
    }
    let failed = t.remaps.iter().filter(|r| r.error.is_some()).count();
    if failed > 0 {
        let _ = writeln!(s, "\n{failed} remap(s) failed to change the transmit hash (see soak.json).");
    }
    s + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(number: usize, link: usize, down: f64, up: f64) -> FlapRecord {
        FlapRecord {
            number,
            links: vec![format!("s{link}")],
            link_idx: vec![link],
            down_unix_s: 1000.0 + down,
            up_unix_s: 1000.0 + up,
            cut_short: false,
        }
    }

    fn remap(t_s: f64, ports: &[u8]) -> LagRemap {
        LagRemap { t_s, ports: ports.to_vec(), took_ms: 3.0, error: None }
    }

    #[test]
    fn each_flap_gets_its_remap_and_its_restore() {
        let remaps = vec![remap(5.012, &[2]), remap(5.520, &[1, 2]), remap(13.009, &[1]), remap(13.515, &[1, 2])];
        let t = timeline(remaps, &[rec(1, 0, 5.0, 5.5), rec(2, 1, 13.0, 13.5)], 1000.0, 2);
        let r = |v: Option<f64>| v.map(|v| (v * 10.0).round() / 10.0);
        assert_eq!(
            t.flaps.iter().map(|f| (f.flap, r(f.remap_ms), r(f.restore_ms))).collect::<Vec<_>>(),
            [(1, Some(12.0), Some(20.0)), (2, Some(9.0), Some(15.0))]
        );
        let md = markdown(&t);
        assert!(md.contains("| 1 | 12.0 ms | 20.0 ms |"), "{md}");
    }

    #[test]
    fn a_remap_that_keeps_the_failed_port_is_not_the_failover() {
        // Port 2 went (a flap of link 1 expected port 2 out): a remap to [1] counts, [2] not.
        let t = timeline(vec![remap(5.01, &[2])], &[rec(1, 1, 5.0, 5.5)], 1000.0, 2);
        assert_eq!((t.flaps[0].remap_ms, t.flaps[0].restore_ms), (None, None));
        assert!(markdown(&t).contains("| 1 | not seen | not seen |"));
    }
}
