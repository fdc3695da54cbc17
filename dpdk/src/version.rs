//! Differences between DPDK releases that callers see, chosen at build time from the version
//! pkg-config reported (`cfg(dpdk_ge_23_11)` and friends, emitted by build.rs).

/// The DPDK version this crate was built against (pkg-config's `--modversion libdpdk`).
pub const BUILD_VERSION: &str = env!("VFLAG_DPDK_BUILD_VERSION");

/// The `net_bonding` devargs key naming a bond member: 23.11 renamed `slave` to `member`.
#[cfg(dpdk_ge_23_11)]
pub const BOND_MEMBER_KEY: &str = "member";
#[cfg(not(dpdk_ge_23_11))]
pub const BOND_MEMBER_KEY: &str = "slave";

/// `major.minor` of [`BUILD_VERSION`].
pub fn build_major_minor() -> (u32, u32) {
    let mut it = BUILD_VERSION.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_key_follows_the_release() {
        let v = build_major_minor();
        assert!(v.0 >= 20, "version {BUILD_VERSION}");
        let want = if v >= (23, 11) { "member" } else { "slave" };
        assert_eq!(BOND_MEMBER_KEY, want);
    }
}
