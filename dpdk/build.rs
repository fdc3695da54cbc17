//! Passes on what dpdk-sys's build script found (it exports it through `links = "rte_eal"`):
//! the DPDK version, as `VFLAG_DPDK_BUILD_VERSION`, and the `cfg(dpdk_ge_X_Y)` flags of the
//! releases whose API differences this crate keys on.

use std::env;

/// Releases whose differences the safe API keys on (the shim hides the others).
const VERSION_CFGS: &[(u32, u32)] = &[(23, 11)];

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_RTE_EAL_VERSION");
    for (major, minor) in VERSION_CFGS {
        println!("cargo::rustc-check-cfg=cfg(dpdk_ge_{major}_{minor})");
    }
    let version = env::var("DEP_RTE_EAL_VERSION").expect("dpdk-sys exports the DPDK version (DEP_RTE_EAL_VERSION)");
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let found = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    for (m, n) in VERSION_CFGS {
        if found >= (*m, *n) {
            println!("cargo:rustc-cfg=dpdk_ge_{m}_{n}");
        }
    }
    println!("cargo:rustc-env=VFLAG_DPDK_BUILD_VERSION={version}");
}
