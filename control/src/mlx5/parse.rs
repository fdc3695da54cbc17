//! Parsers of what devlink, ethtool and tc print, in their text forms (the forms the seed and
//! operators' logs show).

use serde::Serialize;

/// `devlink dev eswitch show pci/X`: `pci/0000:01:00.0: mode switchdev inline-mode none ...`.
pub fn eswitch_mode(text: &str) -> Option<String> {
    let mut words = text.split_whitespace();
    words.find(|w| *w == "mode")?;
    words.next().map(str::to_string)
}

/// A feature's state from `ethtool -k DEV` (`hw-tc-offload: on`, `hw-tc-offload: off [fixed]`).
pub fn feature(text: &str, name: &str) -> Option<bool> {
    text.lines().find_map(|l| {
        let (k, v) = l.trim().split_once(':')?;
        (k == name).then(|| v.split_whitespace().next() == Some("on"))
    })
}

/// `ethtool -i DEV`: the driver, its version and the firmware; an empty field is None.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DriverInfo {
    pub driver: Option<String>,
    pub version: Option<String>,
    pub firmware: Option<String>,
}

pub fn driver_info(text: &str) -> DriverInfo {
    let field = |name: &str| {
        text.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == name).then(|| v.trim().to_string()).filter(|v| !v.is_empty())
        })
    };
    DriverInfo { driver: field("driver"), version: field("version"), firmware: field("firmware-version") }
}

/// The ingress qdisc of a device, from `tc qdisc show dev DEV`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ingress {
    None,
    /// An ingress qdisc with its own filters (no shared block).
    Own,
    Block(u32),
}

pub fn ingress(text: &str) -> Ingress {
    let Some(line) = text.lines().find(|l| l.starts_with("qdisc ingress ") || l.starts_with("qdisc clsact ")) else {
        return Ingress::None;
    };
    let mut words = line.split_whitespace();
    match words.find(|w| *w == "ingress_block").and_then(|_| words.next()).and_then(|b| b.parse().ok()) {
        Some(b) => Ingress::Block(b),
        None => Ingress::Own,
    }
}

/// One filter from `tc filter show block N` / `tc filter show dev DEV ingress`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Filter {
    pub protocol: String,
    pub pref: u32,
    pub kind: String,
    pub dst_mac: Option<String>,
    pub src_mac: Option<String>,
    /// `mirred (Egress Redirect to device X)`.
    pub redirect_to: Option<String>,
    /// Some(true) for `in_hw`, Some(false) for `not_in_hw`, None when tc says neither.
    pub in_hw: Option<bool>,
    pub skip_sw: bool,
}

/// The filters with a handle (tc prints a header line per priority before them).
pub fn filters(text: &str) -> Vec<Filter> {
    let mut out: Vec<Filter> = Vec::new();
    let mut current: Option<Filter> = None;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("filter ") {
            out.extend(current.take());
            let words: Vec<&str> = t.split_whitespace().collect();
            if !words.iter().any(|w| *w == "handle" || *w == "fh") {
                continue;
            }
            let after = |key: &str| words.iter().position(|w| *w == key).and_then(|i| words.get(i + 1)).copied();
            let mut f = Filter {
                protocol: after("protocol").unwrap_or("all").to_string(),
                pref: after("pref").and_then(|p| p.parse().ok()).unwrap_or(0),
                // `pref 1 flower`: the classifier follows the priority.
                kind: words.iter().position(|w| *w == "pref").and_then(|i| words.get(i + 2)).unwrap_or(&"").to_string(),
                ..Default::default()
            };
            flags(&words, &mut f);
            current = Some(f);
            continue;
        }
        let Some(f) = current.as_mut() else { continue };
        let words: Vec<&str> = t.split_whitespace().collect();
        match words.first().copied() {
            Some("dst_mac") => f.dst_mac = words.get(1).map(|m| m.to_lowercase()),
            Some("src_mac") => f.src_mac = words.get(1).map(|m| m.to_lowercase()),
            _ => flags(&words, f),
        }
        if let Some(i) = t.find("Redirect to device ") {
            let dev = t[i + "Redirect to device ".len()..].split([')', ' ']).next().unwrap_or("");
            f.redirect_to = Some(dev.to_string());
        }
    }
    out.extend(current);
    out
}

fn flags(words: &[&str], f: &mut Filter) {
    for w in words {
        match *w {
            "in_hw" => f.in_hw = Some(true),
            "not_in_hw" => f.in_hw = Some(false),
            "skip_sw" => f.skip_sw = true,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_info_takes_ethtool_i_fields_and_leaves_empty_ones_out() {
        let d = driver_info(&crate::mlx5::testing::fake::text("ethtool-i-enp1s0f0np0.txt"));
        assert_eq!(d.driver.as_deref(), Some("mlx5_core"));
        assert_eq!(d.version.as_deref(), Some("6.1.0-13-amd64"));
        assert_eq!(d.firmware.as_deref(), Some("22.36.1010 (MT_0000000359)"));
        let veth = driver_info("driver: veth\nversion: 1.0\nfirmware-version: \nbus-info: \n");
        assert_eq!((veth.driver.as_deref(), veth.firmware), (Some("veth"), None));
    }

    const FLOWER: &str = "filter protocol ip pref 1 flower chain 0 \n\
        filter protocol ip pref 1 flower chain 0 handle 0x1 \n  dst_mac 52:54:00:00:00:01\n  eth_type ipv4\n  in_hw in_hw_count 2\n\
        \taction order 1: mirred (Egress Redirect to device enp1s0f0npf0vf0) stolen\n\tindex 1 ref 1 bind 1\n\n";

    #[test]
    fn eswitch_modes() {
        assert_eq!(
            eswitch_mode("pci/0000:01:00.0: mode switchdev inline-mode none encap-mode basic\n").as_deref(),
            Some("switchdev")
        );
        assert_eq!(eswitch_mode("pci/0000:01:00.0: mode legacy inline-mode none").as_deref(), Some("legacy"));
        assert_eq!(eswitch_mode(""), None);
    }

    #[test]
    fn features() {
        let k = "Features for enp1s0f0np0:\nrx-checksumming: on\nhw-tc-offload: on\nl2-fwd-offload: off [fixed]\n";
        assert_eq!(feature(k, "hw-tc-offload"), Some(true));
        assert_eq!(feature(k, "l2-fwd-offload"), Some(false));
        assert_eq!(feature(k, "macsec-hw-offload"), None);
        assert_eq!(feature("hw-tc-offload: off [fixed]", "hw-tc-offload"), Some(false));
    }

    #[test]
    fn ingress_qdiscs() {
        let block = "qdisc mq 0: root \nqdisc fq_codel 0: parent :1 limit 10240p\nqdisc ingress ffff: parent ffff:fff1 ingress_block 22 ---------------- \n";
        assert_eq!(ingress(block), Ingress::Block(22));
        assert_eq!(ingress("qdisc ingress ffff: parent ffff:fff1 ---------------- \n"), Ingress::Own);
        assert_eq!(ingress("qdisc noqueue 0: root refcnt 2 \n"), Ingress::None);
        assert_eq!(ingress(""), Ingress::None);
    }

    #[test]
    fn flower_filters_in_hw_and_not() {
        let f = filters(FLOWER);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(
            f[0],
            Filter {
                protocol: "ip".into(),
                pref: 1,
                kind: "flower".into(),
                dst_mac: Some("52:54:00:00:00:01".into()),
                src_mac: None,
                redirect_to: Some("enp1s0f0npf0vf0".into()),
                in_hw: Some(true),
                skip_sw: false
            }
        );
        let soft = FLOWER.replace("in_hw in_hw_count 2", "not_in_hw");
        assert_eq!(filters(&soft)[0].in_hw, Some(false));
        assert!(filters("").is_empty());
        // u32 puts the flags on the handle line, as this kernel prints it.
        let u32 = "filter protocol ip pref 1 u32 chain 0 \nfilter protocol ip pref 1 u32 chain 0 fh 800::800 order 2048 key ht 800 bkt 0 terminal flowid not_in_hw \n  match 00000000/00000000 at 0\n\taction order 1: mirred (Egress Redirect to device vb) stolen\n";
        let u = filters(u32);
        assert_eq!((u[0].kind.as_str(), u[0].in_hw, u[0].redirect_to.as_deref()), ("u32", Some(false), Some("vb")));
    }
}
