//! What gets built: only the drivers vflag needs, testpmd, no tests or docs, shared libraries,
//! into the prefix. Options a release does not know are left out (22.11 and 24.11 differ), so
//! the option list comes from the tree's own meson_options.txt (meson.options in newer trees).

use std::collections::BTreeSet;
use std::path::Path;

/// Always built: the buses, the ring mempool, and the PMDs of the lab and the tests.
pub const BASE_DRIVERS: [&str; 10] = [
    "bus/pci",
    "bus/vdev",
    "bus/auxiliary",
    "mempool/ring",
    "net/bonding",
    "net/null",
    "net/ring",
    "net/memif",
    "net/af_packet",
    "net/tap",
];

/// Drivers that need libraries the machine may not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Optional {
    /// net/af_xdp: libxdp and libbpf development files.
    pub af_xdp: bool,
    /// common/mlx5 and net/mlx5: rdma-core's libibverbs and libmlx5 development files.
    pub mlx5: bool,
    /// net/pcap (the tests replay crafted traffic through it): libpcap development files.
    pub pcap: bool,
}

impl Optional {
    /// Asks pkg-config for each library (`has` answers whether a pkg-config name exists).
    pub fn detect(has: impl Fn(&str) -> bool) -> Optional {
        Optional {
            af_xdp: has("libxdp") && has("libbpf"),
            mlx5: has("libibverbs") && has("libmlx5"),
            pcap: has("libpcap"),
        }
    }

    /// One line per driver left out, saying what to install for it.
    pub fn skipped(&self) -> Vec<String> {
        let mut v = Vec::new();
        if !self.af_xdp {
            v.push("net/af_xdp skipped: no libxdp/libbpf (apt-get install libxdp-dev libbpf-dev)".to_string());
        }
        if !self.mlx5 {
            v.push("net/mlx5 skipped: no rdma-core (apt-get install libibverbs-dev)".to_string());
        }
        if !self.pcap {
            v.push("net/pcap skipped: no libpcap (apt-get install libpcap-dev)".to_string());
        }
        v
    }
}

pub fn drivers(opt: Optional) -> Vec<&'static str> {
    let mut d: Vec<&str> = BASE_DRIVERS.to_vec();
    if opt.af_xdp {
        d.push("net/af_xdp");
    }
    if opt.mlx5 {
        d.extend(["common/mlx5", "net/mlx5"]);
    }
    if opt.pcap {
        d.push("net/pcap");
    }
    d
}

/// The option names a tree declares (`option('name', ...)`).
pub fn declared_options(tree: &Path) -> BTreeSet<String> {
    let text = ["meson_options.txt", "meson.options"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(tree.join(f)).ok())
        .collect::<Vec<_>>()
        .join("\n");
    text.match_indices("option(")
        .filter_map(|(i, m)| {
            let rest = text[i + m.len()..].trim_start();
            let quote = rest.chars().next().filter(|c| *c == '\'' || *c == '"')?;
            let name = &rest[1..];
            Some(name[..name.find(quote)?].to_string())
        })
        .collect()
}

/// `meson setup` arguments (after the build and source directories).
pub fn meson_args(prefix: &Path, drivers: &[&str], declared: &BTreeSet<String>) -> Vec<String> {
    let mut a = vec![
        format!("--prefix={}", prefix.display()),
        // One libdir on every distribution, so DPDK_PREFIX/lib/pkgconfig always holds libdpdk.pc.
        "--libdir=lib".to_string(),
        "--buildtype=release".to_string(),
        "-Ddefault_library=shared".to_string(),
        format!("-Denable_drivers={}", drivers.join(",")),
    ];
    let mut set = |name: &str, value: &str| {
        if declared.contains(name) {
            a.push(format!("-D{name}={value}"));
        }
    };
    // testpmd is what the tests compare with; no other app.
    set("enable_apps", "test-pmd");
    set("tests", "false");
    set("enable_docs", "false");
    set("enable_kmods", "false");
    set("examples", "");
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drivers_follow_what_the_machine_has() {
        let none = Optional { af_xdp: false, mlx5: false, pcap: false };
        assert_eq!(drivers(none), BASE_DRIVERS.to_vec());
        assert_eq!(none.skipped().len(), 3);
        let all = Optional::detect(|_| true);
        let d = drivers(all);
        assert!(d.contains(&"net/af_xdp") && d.contains(&"net/mlx5") && d.contains(&"common/mlx5"));
        assert!(d.contains(&"net/pcap"));
        assert!(all.skipped().is_empty());
        // af_xdp needs both libraries.
        assert!(!Optional::detect(|n| n == "libbpf").af_xdp);
    }

    #[test]
    fn only_options_the_tree_declares_are_passed() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("meson_options.txt"),
            "option('tests', type: 'boolean', value: true)\noption(\"enable_docs\", type: 'boolean')\n\
             option('disable_drivers', type: 'string')\n",
        )
        .unwrap();
        let declared = declared_options(d.path());
        assert_eq!(
            declared.iter().map(String::as_str).collect::<Vec<_>>(),
            ["disable_drivers", "enable_docs", "tests"]
        );
        let a = meson_args(Path::new("/p"), &["net/null", "net/ring"], &declared);
        assert_eq!(
            a,
            [
                "--prefix=/p",
                "--libdir=lib",
                "--buildtype=release",
                "-Ddefault_library=shared",
                "-Denable_drivers=net/null,net/ring",
                "-Dtests=false",
                "-Denable_docs=false",
            ]
        );
        // A newer tree that can limit the apps gets testpmd only.
        std::fs::write(d.path().join("meson.options"), "option('enable_apps', type: 'string')\n").unwrap();
        let a = meson_args(Path::new("/p"), &["net/null"], &declared_options(d.path()));
        assert!(a.contains(&"-Denable_apps=test-pmd".to_string()), "{a:?}");
    }
}
