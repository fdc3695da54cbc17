//! The matrix: its axes from `--matrix FILE` (TOML) or the options (an option replaces the
//! file's axis), each value checked with the soak's own parsers, and its cells, the cartesian
//! product, in order (bond outermost, rate innermost). Active-backup hashes nothing: its cells
//! take no hash and appear once whatever the hash axis holds.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use clap::ValueEnum;
use serde::{Deserialize, Serialize};

use crate::soak::{parse_rate, FlapKind, LinkChoice};
use cli_exit::BadUsage;
use vflag_contract::value::{BondHash, BondMode};

/// The values of each axis, as given (before the product).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Axes {
    pub bond: Vec<BondMode>,
    pub bond_hash: Vec<BondHash>,
    pub flap_kind: Vec<FlapKind>,
    pub link: Vec<String>,
    pub flows: Vec<u16>,
    /// Frames/s.
    pub rate: Vec<u64>,
}

/// One cell's values: what its soak is given.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Params {
    pub bond: BondMode,
    /// None for active-backup.
    pub bond_hash: Option<BondHash>,
    pub flap_kind: FlapKind,
    pub link: String,
    pub flows: u16,
    /// Frames/s.
    pub rate: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    /// 1-based, in the order cells run.
    pub number: usize,
    /// `xor-l34-carrier-alternate-16f` (and `-20000pps` when the rate axis has several values).
    pub name: String,
    pub params: Params,
}

/// Each axis's values as words, from the options or the file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Given {
    pub bond: Vec<String>,
    pub bond_hash: Vec<String>,
    pub flap_kind: Vec<String>,
    pub link: Vec<String>,
    pub flows: Vec<String>,
    pub rate: Vec<String>,
}

/// What the sweep reads from `--matrix FILE`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MatrixFile {
    pub lab: bool,
    pub axes: Given,
    /// The soak options every cell gets, one argv element each.
    pub soak_args: Vec<String>,
    /// Real hardware: more `vflag-ctl up` options, one argv element each.
    pub up_args: Vec<String>,
}

/// The file's keys; an axis is a value or a list of values (strings or numbers).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileKeys {
    lab: Option<bool>,
    bond: Option<toml::Value>,
    bond_hash: Option<toml::Value>,
    flap_kind: Option<toml::Value>,
    link: Option<toml::Value>,
    flows: Option<toml::Value>,
    rate: Option<toml::Value>,
    soak_args: Option<Vec<String>>,
    up_args: Option<Vec<String>>,
}

impl MatrixFile {
    pub fn read(path: &Path) -> Result<MatrixFile> {
        let named = |what: String| BadUsage(format!("--matrix {}: {what}", path.display()));
        let text = std::fs::read_to_string(path).map_err(|e| named(e.to_string()))?;
        MatrixFile::parse(&text).map_err(|e| named(e).into())
    }

    /// From the file's text; the error is one line, with the line it is about.
    pub fn parse(text: &str) -> Result<MatrixFile, String> {
        let keys: FileKeys = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            let msg = e.message().trim().replace('\n', " ");
            match line {
                Some(l) => format!("line {l}: {msg}"),
                None => msg,
            }
        })?;
        let words = |key: &str, v: Option<toml::Value>| -> Result<Vec<String>, String> {
            let one = |v: &toml::Value| match v {
                toml::Value::String(s) => Ok(s.clone()),
                toml::Value::Integer(i) => Ok(i.to_string()),
                toml::Value::Float(f) => Ok(f.to_string()),
                other => {
                    Err(format!("{key}: expected a string or a number (or a list of them), not a {}", other.type_str()))
                }
            };
            match v {
                None => Ok(Vec::new()),
                Some(toml::Value::Array(a)) if a.is_empty() => Err(format!("{key}: an empty list")),
                Some(toml::Value::Array(a)) => a.iter().map(one).collect(),
                Some(v) => Ok(vec![one(&v)?]),
            }
        };
        Ok(MatrixFile {
            lab: keys.lab.unwrap_or(false),
            axes: Given {
                bond: words("bond", keys.bond)?,
                bond_hash: words("bond_hash", keys.bond_hash)?,
                flap_kind: words("flap_kind", keys.flap_kind)?,
                link: words("link", keys.link)?,
                flows: words("flows", keys.flows)?,
                rate: words("rate", keys.rate)?,
            },
            soak_args: keys.soak_args.unwrap_or_default(),
            up_args: keys.up_args.unwrap_or_default(),
        })
    }
}

impl Given {
    /// Each axis given here, else the file's.
    pub fn over(self, file: Given) -> Given {
        let pick = |a: Vec<String>, b: Vec<String>| if a.is_empty() { b } else { a };
        Given {
            bond: pick(self.bond, file.bond),
            bond_hash: pick(self.bond_hash, file.bond_hash),
            flap_kind: pick(self.flap_kind, file.flap_kind),
            link: pick(self.link, file.link),
            flows: pick(self.flows, file.flows),
            rate: pick(self.rate, file.rate),
        }
    }

    /// Checked with the soak's parsers, each bad value named with `from` (`--` for the options,
    /// the file's name for its keys); an axis not given takes the soak's default.
    pub fn axes(&self, from: &dyn Fn(&str) -> String) -> Result<Axes> {
        fn each<T>(
            words: &[String],
            default: &str,
            opt: String,
            parse: impl Fn(&str) -> Result<T, String>,
        ) -> Result<Vec<T>> {
            let words: Vec<&str> =
                if words.is_empty() { vec![default] } else { words.iter().map(String::as_str).collect() };
            let mut out: Vec<(String, T)> = Vec::new();
            for w in words {
                let v = parse(w.trim()).map_err(|e| BadUsage(format!("{opt} '{w}': {e}")))?;
                if out.iter().any(|(seen, _)| seen == w.trim()) {
                    return Err(BadUsage(format!("{opt} '{w}': given twice")).into());
                }
                out.push((w.trim().to_string(), v));
            }
            Ok(out.into_iter().map(|(_, v)| v).collect())
        }
        fn choice<T: ValueEnum>(s: &str) -> Result<T, String> {
            T::from_str(s, false).map_err(|_| {
                let names: Vec<String> = T::value_variants()
                    .iter()
                    .filter_map(|v| Some(v.to_possible_value()?.get_name().to_string()))
                    .collect();
                format!("expected {}", names.join(", "))
            })
        }
        let link = |s: &str| -> Result<String, String> {
            LinkChoice::parse(s, 0)
                .map(|_| s.to_string())
                .map_err(|_| "expected alternate, random, both or a link index".into())
        };
        let flows = |s: &str| -> Result<u16, String> {
            s.parse::<u16>().ok().filter(|n| *n >= 1).ok_or_else(|| "expected a number of flows, 1 to 65535".into())
        };
        let rate = |s: &str| -> Result<u64, String> {
            let pps = parse_rate(s).map_err(|e| e.to_string())?;
            // The soak asks its generator for whole frames/s.
            Ok(pps.round() as u64).and_then(|r| if r == 0 { Err("below one frame/s".to_string()) } else { Ok(r) })
        };
        Ok(Axes {
            bond: each(&self.bond, "lacp", from("bond"), choice::<BondMode>)?,
            bond_hash: each(&self.bond_hash, "l34", from("bond-hash"), choice::<BondHash>)?,
            flap_kind: each(&self.flap_kind, "carrier", from("flap-kind"), choice::<FlapKind>)?,
            link: each(&self.link, "alternate", from("link"), link)?,
            flows: each(&self.flows, "16", from("flows"), flows)?,
            rate: each(&self.rate, "20000", from("rate"), rate)?,
        })
    }
}

/// How an option names itself in errors: `--bond`.
pub fn option_name(axis: &str) -> String {
    format!("--{axis}")
}

/// How the file names a key in errors: `m.toml: bond_hash`.
pub fn file_key(path: &Path) -> impl Fn(&str) -> String + '_ {
    move |axis| format!("--matrix {}: {}", path.display(), axis.replace('-', "_"))
}

impl Axes {
    /// The cells, in the order they run: the product, active-backup once per other values.
    pub fn cells(&self) -> Vec<Cell> {
        let mut params: Vec<Params> = Vec::new();
        for &bond in &self.bond {
            for &hash in &self.bond_hash {
                for &flap_kind in &self.flap_kind {
                    for link in &self.link {
                        for &flows in &self.flows {
                            for &rate in &self.rate {
                                let p = Params {
                                    bond,
                                    bond_hash: bond.spreads().then_some(hash),
                                    flap_kind,
                                    link: link.clone(),
                                    flows,
                                    rate,
                                };
                                if !params.contains(&p) {
                                    params.push(p);
                                }
                            }
                        }
                    }
                }
            }
        }
        let rates = self.rate.len() > 1;
        params.into_iter().enumerate().map(|(i, p)| Cell { number: i + 1, name: p.name(rates), params: p }).collect()
    }
}

impl Params {
    /// `xor-l34-carrier-alternate-16f`; active-backup has no hash part; a link index is
    /// `link0`; the rate is named only when it varies.
    pub fn name(&self, with_rate: bool) -> String {
        let mut parts = vec![self.bond.name().to_string()];
        parts.extend(self.bond_hash.map(|h| h.name().to_string()));
        parts.push(self.flap_kind.name().to_string());
        parts.push(if self.link.parse::<usize>().is_ok() { format!("link{}", self.link) } else { self.link.clone() });
        parts.push(format!("{}f", self.flows));
        if with_rate {
            parts.push(format!("{}pps", self.rate));
        }
        parts.join("-")
    }

    /// The soak options that make this cell, after the pass-through ones. The hash is the
    /// lab's (real hardware's is the host bond's, set before the cell).
    pub fn soak_options(&self, lab: bool) -> Vec<String> {
        let mut v = vec!["--bond".to_string(), self.bond.name().into()];
        if let (true, Some(h)) = (lab, self.bond_hash) {
            v.extend(["--bond-hash".into(), h.name().into()]);
        }
        v.extend(["--flap-kind".into(), self.flap_kind.name().into(), "--link".into(), self.link.clone()]);
        v.extend(["--flows".into(), self.flows.to_string(), "--rate".into(), self.rate.to_string()]);
        v
    }
}

impl Cell {
    /// `OUT/cells/NN-NAME`, numbered to sort as the cells ran.
    pub fn dir(&self, out: &Path, cells: usize) -> PathBuf {
        let width = cells.to_string().len().max(2);
        out.join("cells").join(format!("{:0width$}-{}", self.number, self.name))
    }

    /// The cell's `vflag-ctl` arguments: `soak`, the pass-through options as given (each one
    /// argv element), then the cell's values and where it writes.
    pub fn argv(&self, lab: bool, pass: &[String], dir: &Path) -> Vec<String> {
        let mut v = vec!["soak".to_string()];
        if lab {
            v.push("--lab".into());
        }
        v.extend(pass.iter().cloned());
        v.extend(self.params.soak_options(lab));
        v.extend(["--out".into(), dir.display().to_string()]);
        v.extend(["--junit".into(), dir.join("junit.xml").display().to_string()]);
        v
    }
}

/// The soak options a sweep sets for every cell: refused among the pass-through ones.
const SET_BY_SWEEP: [&str; 10] =
    ["--lab", "--bond", "--bond-hash", "--flap-kind", "--link", "--flows", "--rate", "--out", "--junit", "--keep"];

/// The pass-through options must leave out what the sweep sets (`--opt=x` too).
pub fn refuse_set_by_sweep(pass: &[String]) -> Result<()> {
    for w in pass {
        let o = w.split_once('=').map_or(w.as_str(), |(o, _)| o);
        if !SET_BY_SWEEP.contains(&o) {
            continue;
        }
        let why = match o {
            "--lab" => "give it to the sweep (vflag-ctl sweep --lab)".to_string(),
            "--out" | "--junit" => "the sweep gives each cell its own, under the sweep's --out".to_string(),
            "--keep" => "each cell's soak takes down the lab it brought up; bring the lab up first (vflag-ctl lab up) to keep it".to_string(),
            axis => format!("it is an axis: give it to the sweep ({axis} A,B)"),
        };
        return Err(anyhow!(BadUsage(format!("{w} after --: {why}"))));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(bond: &str, hash: &str, kind: &str, link: &str, flows: &str, rate: &str) -> Given {
        let w = |s: &str| if s.is_empty() { Vec::new() } else { s.split(',').map(str::to_string).collect() };
        Given { bond: w(bond), bond_hash: w(hash), flap_kind: w(kind), link: w(link), flows: w(flows), rate: w(rate) }
    }

    fn names(cells: &[Cell]) -> Vec<String> {
        cells.iter().map(|c| format!("{}:{}", c.number, c.name)).collect()
    }

    #[test]
    fn the_product_in_order_with_active_backup_once_per_hash() {
        let a = given("active-backup,xor,lacp", "l34,l23", "carrier,admin", "", "", "").axes(&option_name).unwrap();
        let cells = a.cells();
        assert_eq!(
            names(&cells),
            [
                "1:active-backup-carrier-alternate-16f",
                "2:active-backup-admin-alternate-16f",
                "3:xor-l34-carrier-alternate-16f",
                "4:xor-l34-admin-alternate-16f",
                "5:xor-l23-carrier-alternate-16f",
                "6:xor-l23-admin-alternate-16f",
                "7:lacp-l34-carrier-alternate-16f",
                "8:lacp-l34-admin-alternate-16f",
                "9:lacp-l23-carrier-alternate-16f",
                "10:lacp-l23-admin-alternate-16f",
            ]
        );
        assert_eq!(cells[0].params.bond_hash, None);
        assert_eq!(
            cells[2].params,
            Params {
                bond: BondMode::Xor,
                bond_hash: Some(BondHash::L34),
                flap_kind: FlapKind::Carrier,
                link: "alternate".into(),
                flows: 16,
                rate: 20000
            }
        );
        assert_eq!(cells[9].dir(Path::new("o"), cells.len()), Path::new("o/cells/10-lacp-l23-admin-alternate-16f"));
        assert_eq!(cells[0].dir(Path::new("o"), 3), Path::new("o/cells/01-active-backup-carrier-alternate-16f"));
    }

    #[test]
    fn defaults_are_the_soaks_and_a_varying_rate_is_named() {
        let a = Given::default().axes(&option_name).unwrap();
        assert_eq!(names(&a.cells()), ["1:lacp-l34-carrier-alternate-16f"]);
        let a = given("xor", "layer2", "", "alternate,1", "16,64", "20000,0.1M").axes(&option_name).unwrap();
        assert_eq!(a.rate, [20000, 100000]);
        let n = names(&a.cells());
        assert_eq!(n.len(), 8);
        assert_eq!(n[0], "1:xor-l2-carrier-alternate-16f-20000pps");
        assert_eq!(n[7], "8:xor-l2-carrier-link1-64f-100000pps");
    }

    #[test]
    fn bad_values_are_named_with_where_they_came_from() {
        let e = |g: Given| g.axes(&option_name).unwrap_err().to_string();
        assert_eq!(e(given("xor,bogus", "", "", "", "", "")), "--bond 'bogus': expected active-backup, xor, lacp");
        assert_eq!(e(given("", "l4", "", "", "", "")), "--bond-hash 'l4': expected l2, l23, l34");
        assert_eq!(e(given("", "", "cable", "", "", "")), "--flap-kind 'cable': expected carrier, admin, lacp");
        assert_eq!(
            e(given("", "", "", "left", "", "")),
            "--link 'left': expected alternate, random, both or a link index"
        );
        assert_eq!(e(given("", "", "", "", "0", "")), "--flows '0': expected a number of flows, 1 to 65535");
        assert!(e(given("", "", "", "", "", "1Gbps"))
            .starts_with("--rate '1Gbps': --rate '1Gbps': the soak's generator takes frames/s"));
        assert_eq!(e(given("xor,xor", "", "", "", "", "")), "--bond 'xor': given twice");
        let from = file_key(Path::new("m.toml"));
        assert_eq!(
            given("", "x", "", "", "", "").axes(&from).unwrap_err().to_string(),
            "--matrix m.toml: bond_hash 'x': expected l2, l23, l34"
        );
    }

    #[test]
    fn a_matrix_file_takes_values_or_lists_and_options_replace_its_axes() {
        let f = MatrixFile::parse(
            r#"
lab = true
bond = ["xor", "lacp"]
bond_hash = "l23"
flows = [16, 64]
rate = 50000
soak_args = ["--flaps", "2", "--interval", "3s", "--peer-cmd", "ip netns exec 'my ns'"]
"#,
        )
        .unwrap();
        assert!(f.lab);
        assert_eq!(f.axes, given("xor,lacp", "l23", "", "", "16,64", "50000"));
        assert_eq!(f.soak_args[5], "ip netns exec 'my ns'", "one argv element, never split");
        let both = given("", "", "carrier,admin", "", "32", "").over(f.axes.clone());
        assert_eq!(both, given("xor,lacp", "l23", "carrier,admin", "", "32", "50000"));
        assert_eq!(both.axes(&option_name).unwrap().cells().len(), 4);
    }

    #[test]
    fn a_bad_matrix_file_is_one_line_with_the_line_it_is_about() {
        let e = MatrixFile::parse("bond = [\"xor\"]\nbonds = 1\n").unwrap_err();
        assert!(e.starts_with("line 2: unknown field `bonds`"), "{e}");
        assert!(!e.contains('\n'));
        assert_eq!(MatrixFile::parse("flows = []").unwrap_err(), "flows: an empty list");
        assert_eq!(
            MatrixFile::parse("bond = [[\"xor\"]]").unwrap_err(),
            "bond: expected a string or a number (or a list of them), not a array"
        );
        assert!(MatrixFile::parse("bond = \"xor").unwrap_err().starts_with("line 1:"));
        let e = MatrixFile::parse("soak_args = \"--flaps 2\"").unwrap_err();
        assert!(e.starts_with("line 1: invalid type: string"), "{e}");
    }

    #[test]
    fn a_cells_argv_keeps_the_pass_through_words_whole_and_adds_its_own() {
        let a = given("xor", "l23", "admin", "1", "64", "50k").axes(&option_name).unwrap();
        let cell = &a.cells()[0];
        let pass: Vec<String> =
            ["--flaps", "2", "--peer-cmd", "ip netns exec 'a b'; rm -rf /"].map(String::from).to_vec();
        let dir = cell.dir(Path::new("/o"), 1);
        let v = cell.argv(true, &pass, &dir);
        assert_eq!(
            v,
            [
                "soak",
                "--lab",
                "--flaps",
                "2",
                "--peer-cmd",
                "ip netns exec 'a b'; rm -rf /",
                "--bond",
                "xor",
                "--bond-hash",
                "l23",
                "--flap-kind",
                "admin",
                "--link",
                "1",
                "--flows",
                "64",
                "--rate",
                "50000",
                "--out",
                "/o/cells/01-xor-l23-admin-link1-64f",
                "--junit",
                "/o/cells/01-xor-l23-admin-link1-64f/junit.xml",
            ]
        );
        // Real hardware: no --lab, and the hash is the host bond's, not an option.
        let v = cell.argv(false, &pass, &dir);
        assert!(!v.contains(&"--lab".to_string()) && !v.contains(&"--bond-hash".to_string()), "{v:?}");
    }

    #[test]
    fn options_the_sweep_sets_are_refused_after_the_separator() {
        let e = |w: &[&str]| refuse_set_by_sweep(&w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(e(&["--flaps", "2", "--interval=3s", "--max-loss", "1%"]).is_ok());
        assert_eq!(
            e(&["--flows=32"]).unwrap_err().to_string(),
            "--flows=32 after --: it is an axis: give it to the sweep (--flows A,B)"
        );
        assert!(e(&["--out", "x"]).unwrap_err().to_string().contains("its own"));
        assert!(e(&["--keep"]).unwrap_err().to_string().contains("lab up"));
        assert!(e(&["--lab"]).unwrap_err().to_string().contains("vflag-ctl sweep --lab"));
    }
}
