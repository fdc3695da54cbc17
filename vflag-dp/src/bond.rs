//! Bonds given on the command line (`--vdev net_bonding0,mode=2,slave=net_memif0,...`): which
//! devices are members, so their own counters (a bond port only sums them) can be read.

/// A bond vdev's name and its members' device names, or None if `vdev` is not a bond.
/// (`--bond` adds such a vdev; see `Config::bond_vdev`.)
/// Accepts DPDK 22.11's `slave=` and 23.11's `member=`.
pub fn members(vdev: &str) -> Option<(String, Vec<String>)> {
    let mut parts = vdev.split(',');
    let name = parts.next()?.trim();
    if !(name.starts_with("net_bonding") || name.starts_with("net_bond") || name.starts_with("eth_bond")) {
        return None;
    }
    let members = parts
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| matches!(k.trim(), "slave" | "member"))
        .map(|(_, v)| v.trim().to_string())
        .collect();
    Some((name.to_string(), members))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_members_under_either_key() {
        assert_eq!(
            members("net_bonding0,mode=2,slave=net_memif0,slave=net_memif1,xmit_policy=l34"),
            Some(("net_bonding0".into(), vec!["net_memif0".into(), "net_memif1".into()]))
        );
        assert_eq!(
            members("net_bonding1,mode=4,member=0000:01:00.0,member=0000:01:00.1"),
            Some(("net_bonding1".into(), vec!["0000:01:00.0".into(), "0000:01:00.1".into()]))
        );
        assert_eq!(members("net_memif0,role=server"), None);
        assert_eq!(members("net_bonding0,mode=1"), Some(("net_bonding0".into(), vec![])));
    }
}
