//! Pass or fail against the user's thresholds. Each failed threshold is one line naming the
//! figure and the limit; the run then exits 3.

use serde::Serialize;

use crate::parse::LossLimit;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Verdict {
    pub pass: bool,
    /// Thresholds given (none: the run passes by default).
    pub checked: Vec<String>,
    pub failures: Vec<String>,
}

/// The figures a verdict looks at.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    /// Longest outage of all traffic or of any tracked flow, ms (None: no outage).
    pub max_outage_ms: Option<f64>,
    /// Tracked frames lost, and tracked frames expected (received + lost).
    pub lost: u64,
    pub expected: u64,
    /// Each bond member's share of received (or sent) frames, % (name, share).
    pub member_shares: Vec<(String, f64)>,
}

pub struct Limits {
    pub max_outage_ms: Option<f64>,
    pub max_loss: Option<LossLimit>,
    pub min_member_share: Option<f64>,
}

pub fn judge(f: &Figures, l: &Limits) -> Verdict {
    let mut v = Verdict::default();
    if let Some(max) = l.max_outage_ms {
        v.checked.push(format!("max outage {max} ms"));
        if let Some(o) = f.max_outage_ms.filter(|o| *o > max) {
            v.failures.push(format!("outage of {o:.1} ms exceeds --max-outage-ms {max}"));
        }
    }
    match l.max_loss {
        Some(LossLimit::Packets(max)) => {
            v.checked.push(format!("max loss {max} frames"));
            if f.lost > max {
                v.failures.push(format!("{} frames lost exceeds --max-loss {max}", f.lost));
            }
        }
        Some(LossLimit::Percent(max)) => {
            v.checked.push(format!("max loss {max}%"));
            let pct = if f.expected == 0 { 0.0 } else { f.lost as f64 * 100.0 / f.expected as f64 };
            if pct > max {
                v.failures.push(format!("loss of {pct:.4}% ({} frames) exceeds --max-loss {max}%", f.lost));
            }
        }
        None => {}
    }
    if let Some(min) = l.min_member_share {
        v.checked.push(format!("min member share {min}%"));
        if f.member_shares.is_empty() {
            v.failures.push(format!("--min-member-share {min}% given but no bond member was seen"));
        }
        for (name, share) in &f.member_shares {
            if *share < min {
                v.failures
                    .push(format!("member {name} carried {share:.1}% of the traffic, under --min-member-share {min}%"));
            }
        }
    }
    v.pass = v.failures.is_empty();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits { max_outage_ms: Some(500.0), max_loss: Some(LossLimit::Percent(1.0)), min_member_share: Some(30.0) }
    }

    #[test]
    fn passes_within_limits() {
        let f = Figures {
            max_outage_ms: Some(120.0),
            lost: 5,
            expected: 10_000,
            member_shares: vec![("net_memif0".into(), 48.0), ("net_memif1".into(), 52.0)],
        };
        let v = judge(&f, &limits());
        assert!(v.pass, "{v:?}");
        assert_eq!(v.checked.len(), 3);
    }

    #[test]
    fn each_failure_names_figure_and_limit() {
        let f = Figures {
            max_outage_ms: Some(812.5),
            lost: 300,
            expected: 10_000,
            member_shares: vec![("m0".into(), 95.0), ("m1".into(), 5.0)],
        };
        let v = judge(&f, &limits());
        assert!(!v.pass);
        assert_eq!(
            v.failures,
            vec![
                "outage of 812.5 ms exceeds --max-outage-ms 500".to_string(),
                "loss of 3.0000% (300 frames) exceeds --max-loss 1%".to_string(),
                "member m1 carried 5.0% of the traffic, under --min-member-share 30%".to_string(),
            ]
        );
        let v = judge(
            &Figures { lost: 11, ..Default::default() },
            &Limits { max_outage_ms: None, max_loss: Some(LossLimit::Packets(10)), min_member_share: None },
        );
        assert_eq!(v.failures, vec!["11 frames lost exceeds --max-loss 10".to_string()]);
    }

    #[test]
    fn no_limits_pass() {
        let v = judge(
            &Figures { lost: 1_000_000, ..Default::default() },
            &Limits { max_outage_ms: None, max_loss: None, min_member_share: None },
        );
        assert!(v.pass && v.checked.is_empty());
    }

    #[test]
    fn member_share_limit_without_members_fails() {
        let v =
            judge(&Figures::default(), &Limits { max_outage_ms: None, max_loss: None, min_member_share: Some(10.0) });
        assert!(!v.pass);
    }
}
