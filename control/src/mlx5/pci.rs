//! PCI addresses (`0000:01:00.2`): which card a function is on, and where SR-IOV puts a PF's
//! VFs (routing ID = PF's + `sriov_offset` + n x `sriov_stride`, as the kernel computes it), so
//! a plan can name the VFs before they exist.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Addr {
    pub domain: u32,
    pub bus: u8,
    pub device: u8,
    pub function: u8,
}

impl Addr {
    pub fn parse(s: &str) -> Option<Addr> {
        let (domain, rest) = s.split_once(':')?;
        let (bus, rest) = rest.split_once(':')?;
        let (device, function) = rest.split_once('.')?;
        let a = Addr {
            domain: u32::from_str_radix(domain, 16).ok()?,
            bus: u8::from_str_radix(bus, 16).ok()?,
            device: u8::from_str_radix(device, 16).ok()?,
            function: function.parse().ok()?,
        };
        (domain.len() == 4 && bus.len() == 2 && device.len() == 2 && a.device < 32 && a.function < 8).then_some(a)
    }

    /// The card: domain, bus and device, without the function (`0000:01:00`).
    pub fn card(&self) -> String {
        format!("{:04x}:{:02x}:{:02x}", self.domain, self.bus, self.device)
    }

    fn routing_id(&self) -> u32 {
        (self.bus as u32) << 8 | (self.device as u32) << 3 | self.function as u32
    }

    /// The address of VF `n` (from 0) of this PF.
    pub fn vf(&self, offset: u32, stride: u32, n: u32) -> Option<Addr> {
        let rid = self.routing_id() + offset + n * stride;
        (rid <= 0xffff).then_some(Addr {
            domain: self.domain,
            bus: (rid >> 8) as u8,
            device: ((rid >> 3) & 0x1f) as u8,
            function: (rid & 7) as u8,
        })
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.card(), self.function)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let a = Addr::parse("0000:01:00.1").unwrap();
        assert_eq!((a.bus, a.device, a.function, a.card()), (1, 0, 1, "0000:01:00".to_string()));
        assert_eq!(a.to_string(), "0000:01:00.1");
        for bad in ["01:00.0", "0000:01:00", "0000:01:20.0", "0000:01:00.8", "zzzz:01:00.0"] {
            assert_eq!(Addr::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn vf_addresses_follow_offset_and_stride_as_in_the_seed() {
        let pf0 = Addr::parse("0000:01:00.0").unwrap();
        let pf1 = Addr::parse("0000:01:00.1").unwrap();
        let vfs0: Vec<String> = (0..4).map(|n| pf0.vf(2, 1, n).unwrap().to_string()).collect();
        let vfs1: Vec<String> = (0..4).map(|n| pf1.vf(33, 1, n).unwrap().to_string()).collect();
        assert_eq!(vfs0, ["0000:01:00.2", "0000:01:00.3", "0000:01:00.4", "0000:01:00.5"]);
        assert_eq!(vfs1, ["0000:01:04.2", "0000:01:04.3", "0000:01:04.4", "0000:01:04.5"]);
        // Past function 7 the device number moves on.
        assert_eq!(pf0.vf(2, 1, 6).unwrap().to_string(), "0000:01:01.0");
    }
}
