//! When each flap happens and which links it takes down. Times are offsets from the moment the
//! bond carries traffic; every flap starts `interval` after the previous one, and the soak
//! watches one more interval after the last so every flap has a "before" and an "after".

use std::time::Duration;

use anyhow::{bail, Result};

/// Which link each flap takes down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkChoice {
    /// 0, 1, 0, 1, ...
    Alternate,
    /// Drawn per flap from a seeded generator (the seed is in the report, so a run repeats).
    Random { seed: u64 },
    /// Every link at once: a double failure, all traffic stops until the links return.
    Both,
    /// Always this one.
    Fixed(usize),
}

impl LinkChoice {
    /// Parses `alternate`, `random`, `both` or a link index.
    pub fn parse(s: &str, seed: u64) -> Result<LinkChoice> {
        Ok(match s {
            "alternate" => LinkChoice::Alternate,
            "random" => LinkChoice::Random { seed },
            "both" => LinkChoice::Both,
            _ => match s.parse::<usize>() {
                Ok(i) => LinkChoice::Fixed(i),
                Err(_) => bail!("--link '{s}': expected alternate, random, both or a link index"),
            },
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub flaps: usize,
    pub interval: Duration,
    pub down: Duration,
    pub choice: LinkChoice,
    pub links: usize,
}

/// One planned flap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFlap {
    /// 1-based, as printed.
    pub number: usize,
    /// Offset from the start of flapping.
    pub at: Duration,
    pub links: Vec<usize>,
}

impl Schedule {
    pub fn validate(&self) -> Result<()> {
        if self.flaps == 0 {
            bail!("--flaps 0: a soak needs at least one flap");
        }
        if self.links == 0 {
            bail!("no links to flap");
        }
        if self.down.is_zero() {
            bail!("--down-ms 0: a flap needs the link down for some time");
        }
        // The link must be back and traffic settled before the next flap, or flaps overlap.
        if self.interval < self.down + Duration::from_secs(1) {
            bail!(
                "--interval {:?} is too short for --down-ms {}: it must exceed the down time by at least 1 s",
                self.interval,
                self.down.as_millis()
            );
        }
        if let LinkChoice::Fixed(i) = self.choice {
            if i >= self.links {
                bail!("--link {i}: there are links 0 to {}", self.links - 1);
            }
        }
        Ok(())
    }

    pub fn plan(&self) -> Vec<PlannedFlap> {
        let mut rng = match self.choice {
            LinkChoice::Random { seed } => Some(fastrand::Rng::with_seed(seed)),
            _ => None,
        };
        (0..self.flaps)
            .map(|i| PlannedFlap {
                number: i + 1,
                at: self.interval * (i as u32 + 1),
                links: match self.choice {
                    LinkChoice::Alternate => vec![i % self.links],
                    LinkChoice::Random { .. } => vec![rng.as_mut().map_or(0, |r| r.usize(..self.links))],
                    LinkChoice::Both => (0..self.links).collect(),
                    LinkChoice::Fixed(l) => vec![l],
                },
            })
            .collect()
    }

    /// From the first traffic to the end of the watch after the last flap.
    pub fn total(&self) -> Duration {
        self.interval * (self.flaps as u32 + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched(choice: LinkChoice, flaps: usize) -> Schedule {
        Schedule { flaps, interval: Duration::from_secs(5), down: Duration::from_millis(500), choice, links: 2 }
    }

    #[test]
    fn alternate_both_and_fixed_pick_links_in_order() {
        let p = sched(LinkChoice::Alternate, 3).plan();
        assert_eq!(p.iter().map(|f| f.links.clone()).collect::<Vec<_>>(), vec![vec![0], vec![1], vec![0]]);
        assert_eq!(p.iter().map(|f| f.at.as_secs()).collect::<Vec<_>>(), vec![5, 10, 15]);
        assert_eq!(p.iter().map(|f| f.number).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert!(sched(LinkChoice::Both, 2).plan().iter().all(|f| f.links == vec![0, 1]));
        assert!(sched(LinkChoice::Fixed(1), 2).plan().iter().all(|f| f.links == vec![1]));
        assert_eq!(sched(LinkChoice::Alternate, 3).total(), Duration::from_secs(20));
    }

    #[test]
    fn random_repeats_with_its_seed_and_uses_every_link() {
        let a = sched(LinkChoice::Random { seed: 7 }, 40).plan();
        assert_eq!(a, sched(LinkChoice::Random { seed: 7 }, 40).plan());
        assert_ne!(a, sched(LinkChoice::Random { seed: 8 }, 40).plan());
        for l in 0..2 {
            assert!(a.iter().any(|f| f.links == vec![l]), "link {l} never drawn in 40 flaps");
        }
    }

    #[test]
    fn bad_schedules_are_refused_naming_the_value() {
        let e = |s: Schedule| s.validate().unwrap_err().to_string();
        assert!(e(sched(LinkChoice::Alternate, 0)).contains("--flaps 0"));
        assert!(e(Schedule { interval: Duration::from_millis(1200), ..sched(LinkChoice::Alternate, 1) })
            .contains("--interval 1.2s is too short for --down-ms 500"));
        assert!(e(Schedule { down: Duration::ZERO, ..sched(LinkChoice::Alternate, 1) }).contains("--down-ms 0"));
        assert!(e(sched(LinkChoice::Fixed(2), 1)).contains("--link 2: there are links 0 to 1"));
        assert!(sched(LinkChoice::Alternate, 1).validate().is_ok());
        assert_eq!(LinkChoice::parse("random", 3).unwrap(), LinkChoice::Random { seed: 3 });
        assert_eq!(LinkChoice::parse("1", 0).unwrap(), LinkChoice::Fixed(1));
        assert!(LinkChoice::parse("left", 0).unwrap_err().to_string().contains("--link 'left'"));
    }
}
