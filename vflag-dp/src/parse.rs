//! Parsers for command-line values. Each error names the bad value and why it is bad.

pub use vflag_contract::value::{duration, loss_limit, percent, rate, LossLimit, Rate};

/// An lcore list such as `1-2` or `0,2-3`, in the order given. Rejects duplicates.
pub fn lcore_list(s: &str) -> Result<Vec<u32>, String> {
    let mut out: Vec<u32> = Vec::new();
    if s.trim().is_empty() {
        return Err("empty lcore list".into());
    }
    for part in s.split(',') {
        let part = part.trim();
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (lcore_id(a, s)?, lcore_id(b, s)?),
            None => {
                let id = lcore_id(part, s)?;
                (id, id)
            }
        };
        if lo > hi {
            return Err(format!("lcore range '{part}' runs backwards"));
        }
        for id in lo..=hi {
            if out.contains(&id) {
                return Err(format!("lcore {id} appears twice in '{s}'"));
            }
            out.push(id);
        }
    }
    Ok(out)
}

fn lcore_id(tok: &str, whole: &str) -> Result<u32, String> {
    let tok = tok.trim();
    match tok.parse::<u32>() {
        Ok(v) if v < 1024 => Ok(v),
        Ok(v) => Err(format!("lcore {v} is too large (max 1023)")),
        Err(_) => Err(format!("'{tok}' in '{whole}' is not an lcore number")),
    }
}

/// A unicast MAC address `52:54:00:00:00:01` (also accepts `-` separators).
pub fn mac(s: &str) -> Result<[u8; 6], String> {
    let addr = any_mac(s)?;
    if addr[0] & 1 != 0 {
        return Err(format!("MAC address '{s}' is multicast; a port address must be unicast"));
    }
    Ok(addr)
}

/// A MAC address, unicast or not (a destination may be broadcast).
pub fn any_mac(s: &str) -> Result<[u8; 6], String> {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    let bad = || format!("'{s}' is not a MAC address (want six hex bytes like 52:54:00:00:00:01)");
    if parts.len() != 6 {
        return Err(bad());
    }
    let mut out = [0u8; 6];
    for (o, p) in out.iter_mut().zip(&parts) {
        if p.is_empty() || p.len() > 2 {
            return Err(bad());
        }
        *o = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    Ok(out)
}

pub fn format_mac(m: &[u8; 6]) -> String {
    format!("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5])
}

/// A PCI device for the EAL allow-list: `[DDDD:]BB:DD.F[,devargs]`. Returns it with the domain
/// filled in and the device arguments kept.
pub fn pci_device(s: &str) -> Result<String, String> {
    let (addr, args) = match s.split_once(',') {
        Some((a, rest)) => (a, Some(rest)),
        None => (s, None),
    };
    let bad = || format!("'{s}' is not a PCI address (want DDDD:BB:DD.F, e.g. 0000:01:00.2)");
    let parts: Vec<&str> = addr.split(':').collect();
    let (domain, bus, devfn) = match parts.as_slice() {
        [d, b, df] => (*d, *b, *df),
        [b, df] => ("0000", *b, *df),
        _ => return Err(bad()),
    };
    let (dev, func) = devfn.split_once('.').ok_or_else(bad)?;
    let hex = |t: &str, max_len: usize, max: u32| -> Result<u32, String> {
        if t.is_empty() || t.len() > max_len {
            return Err(bad());
        }
        let v = u32::from_str_radix(t, 16).map_err(|_| bad())?;
        if v > max {
            return Err(bad());
        }
        Ok(v)
    };
    let d = hex(domain, 4, 0xffff)?;
    let b = hex(bus, 2, 0xff)?;
    let dv = hex(dev, 2, 0x1f)?;
    let f = hex(func, 1, 7)?;
    let norm = format!("{d:04x}:{b:02x}:{dv:02x}.{f:x}");
    Ok(match args {
        Some(a) if !a.is_empty() => format!("{norm},{a}"),
        Some(_) => return Err(bad()),
        None => norm,
    })
}

/// The CPUs this machine has online (`/sys/devices/system/cpu/online`).
pub fn online_cpus() -> Option<Vec<u32>> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online").ok()?;
    lcore_list(text.trim()).ok()
}

/// An optional MAC as the report's `settings` show it (`52:54:00:00:00:01`, or null).
pub fn ser_opt_mac<S: serde::Serializer>(m: &Option<[u8; 6]>, s: S) -> Result<S::Ok, S::Error> {
    match m {
        Some(m) => s.serialize_some(&format_mac(m)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lcore_lists() {
        assert_eq!(lcore_list("1-2").unwrap(), vec![1, 2]);
        assert_eq!(lcore_list("0,2-4").unwrap(), vec![0, 2, 3, 4]);
        assert_eq!(lcore_list("3,1").unwrap(), vec![3, 1]);
        assert_eq!(lcore_list(" 5 ").unwrap(), vec![5]);
    }

    #[test]
    fn bad_lcore_lists_name_the_value() {
        assert!(lcore_list("1-x").unwrap_err().contains("'x'"));
        assert!(lcore_list("2-1").unwrap_err().contains("backwards"));
        assert!(lcore_list("1,1").unwrap_err().contains("lcore 1 appears twice"));
        assert!(lcore_list("0-2,2").unwrap_err().contains("appears twice"));
        assert!(lcore_list("").unwrap_err().contains("empty"));
        assert!(lcore_list("4096").unwrap_err().contains("too large"));
        assert!(lcore_list("1,,2").is_err());
    }

    #[test]
    fn macs() {
        assert_eq!(mac("52:54:00:00:00:01").unwrap(), [0x52, 0x54, 0, 0, 0, 1]);
        assert_eq!(mac("52-54-00-AB-cd-0F").unwrap(), [0x52, 0x54, 0, 0xab, 0xcd, 0x0f]);
        assert!(mac("52:54:00:00:00").unwrap_err().contains("'52:54:00:00:00'"));
        assert!(mac("52:54:00:00:00:0g").is_err());
        assert!(mac("52:54:00:00:00:001").is_err());
        assert!(mac("01:00:5e:00:00:01").unwrap_err().contains("multicast"));
        assert_eq!(any_mac("ff:ff:ff:ff:ff:ff").unwrap(), [0xff; 6]);
        assert_eq!(format_mac(&[0x52, 0x54, 0, 0, 0, 1]), "52:54:00:00:00:01");
    }

    #[test]
    fn pci_devices() {
        assert_eq!(pci_device("0000:01:00.2").unwrap(), "0000:01:00.2");
        assert_eq!(pci_device("01:00.2").unwrap(), "0000:01:00.2");
        assert_eq!(pci_device("0000:3B:00.1").unwrap(), "0000:3b:00.1");
        assert_eq!(pci_device("0000:01:00.2,dv_flow_en=1").unwrap(), "0000:01:00.2,dv_flow_en=1");
        for bad in ["0000:01:00", "0000:01:20.0", "0000:01:00.8", "zz:00.0", "1:2:3:4.0", "0000:01:00.2,"] {
            assert!(pci_device(bad).unwrap_err().contains(&format!("'{bad}'")), "{bad}");
        }
    }
}

/// An IPv4 address.
pub fn ipv4(s: &str) -> Result<[u8; 4], String> {
    s.trim().parse::<std::net::Ipv4Addr>().map(|a| a.octets()).map_err(|_| format!("'{s}' is not an IPv4 address"))
}

#[cfg(test)]
mod gen_option_tests {
    use super::*;

    #[test]
    fn ipv4_addresses() {
        assert_eq!(ipv4("198.18.0.1").unwrap(), [198, 18, 0, 1]);
        assert!(ipv4("198.18.0").unwrap_err().contains("'198.18.0'"));
    }
}
