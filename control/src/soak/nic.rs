//! Real hardware: the mlx5 card and VF-LAG set-up under the soak's DUT, named with the same
//! options as `vflag-ctl verify` (`--sysfs-root`, `--debugfs-root`, `--dmesg-file`, `--pfs`;
//! the bond as `--bond-name`, since the soak's `--bond` is the lab's bond mode), and the host
//! read through them. What the soak checks and samples on the NIC starts from here.

use anyhow::Result;
use clap::Args;

use crate::mlx5::cli::{with_env, HostArgs};
use crate::mlx5::discover::{self, Host, FOR_TEARDOWN};
use crate::mlx5::plan::Setup;
use crate::mlx5::Env;
use crate::names::ifname;

#[derive(Debug, Clone, Args)]
pub struct NicArgs {
    #[command(flatten)]
    pub host: HostArgs,
    /// The bond over the two PFs (verify's --bond).
    #[arg(long, default_value = "vf-bond", value_parser = ifname, value_name = "NAME")]
    pub bond_name: String,
    /// The VF's representor [default: found by phys_port_name].
    #[arg(long, value_parser = ifname, value_name = "NETDEV")]
    pub representor: Option<String>,
    /// The shared tc block of the bond's and PFs' ingress.
    #[arg(long, default_value_t = 22, value_parser = clap::value_parser!(u32).range(1..))]
    pub block: u32,
}

impl NicArgs {
    /// Whether any of these was given: on the lab they mean nothing, and are refused.
    pub fn given(&self) -> Option<&'static str> {
        let h = &self.host;
        [
            ("--sysfs-root", h.sysfs_root != std::path::Path::new("/sys")),
            ("--debugfs-root", h.debugfs_root.is_some()),
            ("--dmesg-file", h.dmesg_file.is_some()),
            ("--pfs", h.pfs.is_some()),
            ("--bond-name", self.bond_name != "vf-bond"),
            ("--representor", self.representor.is_some()),
            ("--block", self.block != 22),
        ]
        .into_iter()
        .find_map(|(o, g)| g.then_some(o))
    }

    /// What verify expects of the host, for the VF and MAC the DUT's vflag-dp opens and sets
    /// (`-a`/`--allow` and `--mac` in `--dut-args`; the seed's MAC when it sets none).
    pub fn setup(&self, dut_words: &[String]) -> Setup {
        let value = |names: &[&str]| {
            dut_words.iter().enumerate().find_map(|(i, w)| {
                names.iter().find_map(|n| match w.strip_prefix(n) {
                    Some("") => dut_words.get(i + 1).cloned(),
                    Some(v) => v.strip_prefix('=').map(str::to_string),
                    None => None,
                })
            })
        };
        let defaults = Setup::default();
        Setup {
            bond: self.bond_name.clone(),
            // The device's devargs are not part of its address.
            vf: value(&["-a", "--allow"]).map(|a| a.split(',').next().unwrap_or_default().to_string()),
            vf_mac: value(&["--mac"]).map(|m| m.to_lowercase()).unwrap_or(defaults.vf_mac.clone()),
            representor: self.representor.clone(),
            block: self.block,
            ..defaults
        }
    }

    /// Runs `f` with the host these options name: real processes, sysfs and debugfs at the
    /// roots given.
    pub fn with_env<T>(&self, f: impl FnOnce(&mut Env) -> Result<T>) -> Result<T> {
        with_env(&self.host, f)
    }

    /// The card: its two PFs, VFs, representors, bond and LAG.
    pub fn discover(&self, env: &mut Env) -> Result<Host> {
        discover::discover(env, self.host.pf_names(), &self.bond_name, FOR_TEARDOWN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        nic: NicArgs,
    }

    fn nic(args: &[&str]) -> NicArgs {
        Cli::try_parse_from(std::iter::once("t").chain(args.iter().copied())).unwrap().nic
    }

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn the_setup_takes_the_vf_and_mac_the_dut_opens() {
        let s = nic(&["--bond-name", "bond0", "--block", "7"])
            .setup(&words("--lcores 1-2 -a 0000:01:00.3,dv_flow_en=1 --mac=52:54:00:00:00:AA"));
        assert_eq!(s.bond, "bond0");
        assert_eq!(s.block, 7);
        assert_eq!(s.vf.as_deref(), Some("0000:01:00.3"));
        assert_eq!(s.vf_mac, "52:54:00:00:00:aa");
        let s = nic(&[]).setup(&words("--allow 0000:01:00.2"));
        assert_eq!(
            (s.vf.as_deref(), s.vf_mac.as_str(), s.bond.as_str()),
            (Some("0000:01:00.2"), "52:54:00:00:00:01", "vf-bond")
        );
    }

    #[test]
    fn options_given_are_named_and_defaults_are_not() {
        assert_eq!(nic(&[]).given(), None);
        assert_eq!(nic(&["--pfs", "a,b"]).given(), Some("--pfs"));
        assert_eq!(nic(&["--bond-name", "b1"]).given(), Some("--bond-name"));
        assert!(Cli::try_parse_from(["t", "--bond-name", "a/b"]).is_err());
    }
}
