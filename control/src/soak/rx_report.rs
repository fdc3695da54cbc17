//! The receiver's and the generator's vflag-dp reports, as the soak reads them: the contract's
//! report type (`vflag_contract::report`, schema checked on reading), so a field vflag-dp
//! renames is a refused report here, not a silent zero.

use std::path::Path;

use anyhow::{anyhow, Result};
pub use vflag_contract::report::{FlowOutage, GeneratorReport as Generator, Outage, Resolution};

pub type RxReport = vflag_contract::report::Report;

/// The receiver's report; the error names the file and what is wrong with it.
pub fn read(path: &Path) -> Result<RxReport> {
    vflag_contract::report::read(path).map_err(|e| anyhow!(e))
}

/// The `generator` section of a generator's report; None when unreadable or absent (the soak
/// then says nothing of the generator's rate rather than guessing).
pub fn read_generator(path: &Path) -> Option<Generator> {
    vflag_contract::report::read(path).ok()?.generator
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use vflag_contract::report::{Bin, LoadBalance, MemberReport as Member, SCHEMA};

    /// A receiver report with two members: `bins` of 100 ms as (member 0, member 1) frames.
    pub fn report(bins: &[(u64, u64)]) -> RxReport {
        RxReport {
            schema: SCHEMA.into(),
            started_unix_s: 1000.0,
            duration_s: bins.len() as f64 * 0.1,
            timeline: bins
                .iter()
                .enumerate()
                .map(|(i, &(a, b))| Bin {
                    t_s: i as f64 * 0.1,
                    width_s: 0.1,
                    rx: vec![a + b],
                    member_rx: vec![a, b],
                    ..Default::default()
                })
                .collect(),
            load_balance: LoadBalance {
                members: vec![
                    Member {
                        name: "net_af_packet0".into(),
                        rx_packets: bins.iter().map(|b| b.0).sum(),
                        ..Default::default()
                    },
                    Member {
                        name: "net_af_packet1".into(),
                        rx_packets: bins.iter().map(|b| b.1).sum(),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn reports_are_read_through_the_contract_and_other_schemas_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("rx.json");
        let mut r = report(&[(10, 0), (10, 10)]);
        r.generator = Some(Generator::new(7, 16, Some(20_000.0), 19_000.0));
        std::fs::write(&p, serde_json::to_string(&r).unwrap()).unwrap();
        let back = read(&p).unwrap();
        assert_eq!(back.member_frames(0.0, 0.2).0, vec![20, 10]);
        assert_eq!(read_generator(&p), r.generator);
        std::fs::write(&p, serde_json::to_string(&r).unwrap().replace(SCHEMA, "vflag-dp.report.v1")).unwrap();
        let e = format!("{:#}", read(&p).unwrap_err());
        assert!(e.contains("rx.json") && e.contains("report schema 'vflag-dp.report.v1'"), "{e}");
        assert_eq!(read_generator(&p), None);
        assert!(read(&dir.path().join("none.json")).is_err());
    }
}
