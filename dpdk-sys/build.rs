//! Finds the installed DPDK with pkg-config, generates bindings with bindgen, builds the C shim
//! with DPDK's own cflags and links DPDK's shared libraries (so the EAL loads the installed PMDs
//! from its plugin directory, as dpdk-testpmd does).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// DPDK releases whose API differences the Rust code keys on (`cfg(dpdk_ge_23_11)`, ...).
const VERSION_CFGS: &[(u32, u32)] = &[(23, 11), (24, 7), (24, 11)];

fn main() {
    println!("cargo:rerun-if-env-changed=DPDK_PREFIX");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    for f in ["src/wrapper.h", "src/shim.h", "src/shim.c"] {
        println!("cargo:rerun-if-changed={f}");
    }
    for (major, minor) in VERSION_CFGS {
        println!("cargo::rustc-check-cfg=cfg(dpdk_ge_{major}_{minor})");
    }

    let dpdk = Dpdk::find().unwrap_or_else(|msg| {
        eprintln!("\nerror: {msg}\n");
        std::process::exit(1);
    });
    println!("cargo:warning=dpdk-sys: linking DPDK {} (libdir {})", dpdk.version, dpdk.libdir);

    let (major, minor) = parse_version(&dpdk.version).unwrap_or_else(|| {
        eprintln!("\nerror: pkg-config reports an unreadable DPDK version '{}'\n", dpdk.version);
        std::process::exit(1);
    });
    for (m, n) in VERSION_CFGS {
        if (major, minor) >= (*m, *n) {
            println!("cargo:rustc-cfg=dpdk_ge_{m}_{n}");
        }
    }
    println!("cargo:rustc-env=VFLAG_DPDK_BUILD_VERSION={}", dpdk.version);
    // Exported to dependents' build scripts as DEP_RTE_EAL_LIBDIR / DEP_RTE_EAL_VERSION.
    println!("cargo:libdir={}", dpdk.libdir);
    println!("cargo:version={}", dpdk.version);

    build_shim(&dpdk);
    generate_bindings(&dpdk);
    link(&dpdk);
}

struct Dpdk {
    version: String,
    cflags: Vec<String>,
    libs: Vec<String>,
    libdir: String,
}

impl Dpdk {
    fn find() -> Result<Dpdk, String> {
        let mut pkg_path: Vec<String> = Vec::new();
        if let Ok(prefix) = env::var("DPDK_PREFIX") {
            let prefix = PathBuf::from(prefix);
            if !prefix.is_dir() {
                return Err(format!(
                    "DPDK_PREFIX={} is not a directory (build DPDK into it first, e.g. with meson-wrapper)",
                    prefix.display()
                ));
            }
            for sub in ["lib/x86_64-linux-gnu/pkgconfig", "lib64/pkgconfig", "lib/pkgconfig"] {
                pkg_path.push(prefix.join(sub).display().to_string());
            }
        }
        if let Ok(p) = env::var("PKG_CONFIG_PATH") {
            pkg_path.push(p);
        }
        let run = |args: &[&str]| -> Result<String, String> {
            let out =
                Command::new("pkg-config").args(args).env("PKG_CONFIG_PATH", pkg_path.join(":")).output().map_err(
                    |e| format!("cannot run pkg-config ({e}): install it with `apt-get install pkg-config`"),
                )?;
            if !out.status.success() {
                return Err(format!(
                    "DPDK not found: `pkg-config {}` failed ({}). Install DPDK's development files \
                     (`apt-get install dpdk dpdk-dev libdpdk-dev pkg-config`), or set DPDK_PREFIX to an \
                     installed prefix, or PKG_CONFIG_PATH to the directory holding libdpdk.pc",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        };
        let version = run(&["--modversion", "libdpdk"])?;
        let cflags = split_flags(&run(&["--cflags", "libdpdk"])?);
        let libs = split_flags(&run(&["--libs", "libdpdk"])?);
        let libdir = run(&["--variable=libdir", "libdpdk"])?;
        Ok(Dpdk { version, cflags, libs, libdir })
    }
}

/// Splits pkg-config output into flags, keeping `-include FILE` as one flag pair.
fn split_flags(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

fn parse_version(v: &str) -> Option<(u32, u32)> {
    let mut it = v.split('.');
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

fn build_shim(dpdk: &Dpdk) {
    let mut build = cc::Build::new();
    build.file("src/shim.c").opt_level(3).warnings(true);
    let mut flags = dpdk.cflags.iter();
    while let Some(flag) = flags.next() {
        if flag == "-include" {
            if let Some(file) = flags.next() {
                build.flag("-include").flag(file);
            }
        } else if let Some(dir) = flag.strip_prefix("-I") {
            build.include(dir);
        } else {
            // -march=... among them: DPDK's inline functions may need the ISA it was built for.
            build.flag(flag);
        }
    }
    // The shim is linked into executables, never into a shared library: initial-exec TLS makes
    // the lcore-id reads in inlined mempool-cache code plain loads instead of __tls_get_addr calls.
    build.flag("-ftls-model=initial-exec");
    if has_bond_lib(dpdk) {
        build.define("VFLAG_HAVE_BOND", None);
    }
    build.compile("vflag_dpdk_shim");
}

fn generate_bindings(dpdk: &Dpdk) {
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("bindings.rs");
    let bindings = bindgen::Builder::default()
        .header("src/wrapper.h")
        .clang_args(&dpdk.cflags)
        .clang_arg(format!("-I{}", Path::new("src").display()))
        // No rte_eal_init: the shim's vflag_eal_init wraps it (25.11's EAL exits on a bad argument).
        .allowlist_function(
            "rte_eal_(cleanup|remote_launch|wait_lcore|process_type)|rte_lcore_(count|is_enabled)|rte_get_main_lcore\
             |rte_socket_id\
             |rte_strerror|rte_get_tsc_hz|rte_version|rte_pktmbuf_pool_create|rte_pktmbuf_free_bulk\
             |rte_mempool_(free|avail_count|in_use_count)|rte_eth_find_next_owned_by\
             |rte_eth_dev_(info_get|configure|start|stop|close|socket_id|get_name_by_port\
             |default_mac_addr_set|adjust_nb_rx_tx_desc|callback_register|callback_unregister\
             |count_avail|is_valid_port|set_link_up|set_link_down|get_port_by_name)\
             |rte_eth_(rx_queue_setup|tx_queue_setup|promiscuous_enable|promiscuous_disable\
             |promiscuous_get|macaddr_get|stats_get|stats_reset|xstats_get|xstats_get_names\
             |xstats_reset)|rte_telemetry_register_cmd|rte_tel_data_(start_dict|add_dict_string\
             |add_dict_int|add_dict_u64|add_dict_uint)|vflag_.*",
        )
        .allowlist_var("vflag_.*|RTE_ETH_EVENT_.*|RTE_MAX_ETHPORTS|RTE_MAX_LCORE|RTE_ETH_NAME_MAX_LEN")
        .allowlist_type("rte_eth_event_type|rte_tel_data|vflag_.*")
        .default_enum_style(bindgen::EnumVariation::Consts)
        .prepend_enum_name(false)
        .derive_default(true)
        .layout_tests(false)
        .generate_comments(false)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate()
        .unwrap_or_else(|e| {
            eprintln!("\nerror: bindgen could not parse DPDK's headers ({e}); install clang and libclang-dev\n");
            std::process::exit(1);
        });
    bindings.write_to_file(out).expect("write bindings.rs");
}

/// The bonding PMD is a plugin that pkg-config does not list; the shim calls its member API
/// directly, so it is linked when the library is there.
fn has_bond_lib(dpdk: &Dpdk) -> bool {
    Path::new(&dpdk.libdir).join("librte_net_bond.so").exists()
}

fn link(dpdk: &Dpdk) {
    if has_bond_lib(dpdk) {
        println!("cargo:rustc-link-lib=dylib=rte_net_bond");
    }
    // pkg-config decides what is linked; shared libraries, so PMD plugins load at EAL init.
    let mut search = vec![dpdk.libdir.clone()];
    for flag in &dpdk.libs {
        if let Some(dir) = flag.strip_prefix("-L") {
            search.push(dir.to_string());
        } else if let Some(lib) = flag.strip_prefix("-l") {
            println!("cargo:rustc-link-lib=dylib={lib}");
        }
    }
    for dir in search {
        println!("cargo:rustc-link-search=native={dir}");
    }
}
