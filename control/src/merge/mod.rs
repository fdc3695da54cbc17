//! `vflag-ctl report merge DIR...`: the reports of several hosts (each DIR one host's fetched
//! soaks and sweeps, as the Ansible role fetches them into `reports/<inventory_hostname>/`) as
//! one table, JSON and JUnit, with each host's environment (NIC, firmware, kernel, DPDK) on
//! every row. Exit 0 when every row passed, 3 when any did not (each named on stderr), 1 when a
//! report cannot be read, 2 for bad usage.

mod collect;
mod outputs;
mod rows;
mod sweep;
mod table;

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use clap::{Args, ValueEnum};
use cli_exit::BadUsage;
use outfile::OutFile;

use rows::{Host, Outcome, Row};

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Where merged.md, merged.json and junit.xml go (created if missing).
    #[arg(long, default_value = "vflag-merged")]
    out: PathBuf,
    /// The JUnit XML (default: --out/junit.xml).
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Each host's label: its directory's last component (dir; Ansible fetches into
    /// reports/<inventory_hostname>/), or the hostname its reports recorded (env).
    #[arg(long, value_enum, default_value_t = NameFrom::Dir)]
    host_name_from: NameFrom,
    /// One directory per host, holding its soak and sweep directories at any depth.
    #[arg(required = true, value_name = "DIR")]
    dirs: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum NameFrom {
    Dir,
    Env,
}

pub fn merge(a: &MergeArgs) -> Result<u8> {
    check_dirs(a)?;
    // Before reading: an unwritable --out is found at once, and an earlier merge's files are
    // gone, so a merge that fails below leaves nothing a CI job could read as its verdict.
    std::fs::create_dir_all(&a.out).map_err(|e| anyhow!("--out {}: cannot create it: {e}", a.out.display()))?;
    let junit_path = a.junit.clone().unwrap_or_else(|| a.out.join(outputs::JUNIT));
    let (md_path, json_path) = (a.out.join(outputs::MARKDOWN), a.out.join(outputs::JSON));
    for p in [&md_path, &json_path, &junit_path] {
        if std::fs::metadata(p).is_ok_and(|m| m.is_file()) {
            let _ = std::fs::remove_file(p);
        }
    }
    let reserve = |opt, p: &Path| OutFile::reserve(opt, p).map_err(anyhow::Error::msg);
    let (md_file, json_file, junit_file) =
        (reserve("--out", &md_path)?, reserve("--out", &json_path)?, reserve("--junit", &junit_path)?);

    let (hosts, rows) = read_hosts(a)?;
    let table = table::markdown(&hosts, &rows);
    let pass = rows.iter().all(|r| r.outcome == Outcome::Pass);
    let merged = outputs::Merged {
        schema: outputs::SCHEMA,
        pass,
        summary: table::summary(&hosts, &rows),
        hosts: &hosts,
        rows: &rows,
        files: outputs::Files {
            markdown: md_path.display().to_string(),
            json: json_path.display().to_string(),
            junit: junit_path.display().to_string(),
        },
    };
    md_file.commit(table.as_bytes()).map_err(anyhow::Error::msg)?;
    json_file.commit((serde_json::to_string_pretty(&merged)? + "\n").as_bytes()).map_err(anyhow::Error::msg)?;
    junit_file.commit(outputs::junit(&hosts, &rows).to_xml().as_bytes()).map_err(anyhow::Error::msg)?;
    print!("{table}");
    for r in rows.iter().filter(|r| r.outcome != Outcome::Pass) {
        eprintln!(
            "vflag-ctl: {} {} ({}): {}: {}",
            r.host,
            r.key(),
            r.run,
            table::outcome_word(r.outcome),
            r.problems.join("; ")
        );
    }
    println!("merged: {}, {}, {}", md_path.display(), json_path.display(), junit_path.display());
    Ok(if pass { 0 } else { 3 })
}

/// The DIRs as given: a missing one is a mistyped argument (exit 2, before anything is
/// written); two with the same last component would be one host twice under `dir` naming.
fn check_dirs(a: &MergeArgs) -> Result<()> {
    let mut labels: Vec<String> = Vec::new();
    for d in &a.dirs {
        match std::fs::metadata(d) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(BadUsage(format!("DIR {}: not a directory", d.display())).into()),
            Err(e) => return Err(BadUsage(format!("DIR {}: {e}", d.display())).into()),
        }
        if a.host_name_from == NameFrom::Dir {
            let label = dir_label(d)?;
            if labels.contains(&label) {
                return Err(BadUsage(format!(
                    "DIR {}: a second host named {label} (hosts are named by their directory's last component)",
                    d.display()
                ))
                .into());
            }
            labels.push(label);
        }
    }
    Ok(())
}

fn dir_label(d: &Path) -> Result<String> {
    // `reports/h1/` names h1; `.` or `..` name the directory they stand for (not through a
    // symlink otherwise: `reports/h1` linked elsewhere is still h1).
    let last = match d.components().next_back() {
        Some(std::path::Component::Normal(n)) => Some(n.to_os_string()),
        _ => d.canonicalize().ok().and_then(|c| c.file_name().map(|n| n.to_os_string())),
    };
    match last {
        Some(n) => Ok(n.to_string_lossy().into_owned()),
        None => Err(BadUsage(format!(
            "DIR {}: has no name to label its host with (give --host-name-from env)",
            d.display()
        ))
        .into()),
    }
}

fn read_hosts(a: &MergeArgs) -> Result<(Vec<Host>, Vec<Row>)> {
    let (mut hosts, mut all) = (Vec::new(), Vec::new());
    for d in &a.dirs {
        let runs = collect::runs(d)?;
        let mut rows = rows::rows(d, &runs)?;
        let name = match a.host_name_from {
            NameFrom::Dir => dir_label(d)?,
            NameFrom::Env => rows::recorded_hostname(&rows)
                .map_err(|why| anyhow!("{}: {why}; name the hosts by directory (--host-name-from dir)", d.display()))?,
        };
        if let Some(other) = hosts.iter().find(|h: &&Host| h.name == name) {
            bail!(
                "{} and {} both record hostname {name} (two inventory hosts on one machine?); \
                 name the hosts by directory (--host-name-from dir)",
                other.dir,
                d.display()
            );
        }
        for r in &mut rows {
            r.host = name.clone();
        }
        let env = rows[0].env.clone();
        hosts.push(Host { name, dir: d.display().to_string(), env });
        all.extend(rows);
    }
    Ok((hosts, all))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(dirs: &[&Path], from: NameFrom) -> MergeArgs {
        MergeArgs {
            out: PathBuf::from("unused"),
            junit: None,
            host_name_from: from,
            dirs: dirs.iter().map(|d| d.to_path_buf()).collect(),
        }
    }

    #[test]
    fn a_host_is_its_directorys_last_component() {
        assert_eq!(dir_label(Path::new("reports/h1/")).unwrap(), "h1");
        assert_eq!(dir_label(Path::new("reports/h1/.")).unwrap(), "h1");
        assert!(dir_label(Path::new("/")).unwrap_err().downcast_ref::<BadUsage>().is_some());
    }

    #[test]
    fn a_missing_dir_or_one_host_twice_is_bad_usage() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("a/h1")).unwrap();
        std::fs::create_dir_all(d.path().join("b/h1")).unwrap();
        let missing = d.path().join("nope");
        let e = check_dirs(&args(&[&missing], NameFrom::Dir)).unwrap_err();
        assert!(e.downcast_ref::<BadUsage>().is_some() && e.to_string().contains("nope"), "{e}");
        let (a, b) = (d.path().join("a/h1"), d.path().join("b/h1"));
        let e = check_dirs(&args(&[&a, &b], NameFrom::Dir)).unwrap_err();
        assert!(e.to_string().contains("a second host named h1"), "{e}");
        check_dirs(&args(&[&a, &b], NameFrom::Env)).unwrap();
    }

    #[test]
    fn hosts_named_by_their_recorded_hostname_must_differ() {
        let d = tempfile::tempdir().unwrap();
        for h in ["a", "b"] {
            std::fs::create_dir_all(d.path().join(h).join("s")).unwrap();
            std::fs::write(d.path().join(h).join("s/soak.json"), rows::soak_fixture(true, "x").to_string()).unwrap();
        }
        let (a, b) = (d.path().join("a"), d.path().join("b"));
        let (hosts, rows) = read_hosts(&args(&[&a], NameFrom::Env)).unwrap();
        assert_eq!((hosts[0].name.as_str(), rows[0].host.as_str()), ("dut-a", "dut-a"));
        let e = read_hosts(&args(&[&a, &b], NameFrom::Env)).unwrap_err().to_string();
        assert!(e.contains("both record hostname dut-a"), "{e}");
        let (hosts, _) = read_hosts(&args(&[&a, &b], NameFrom::Dir)).unwrap();
        assert_eq!(hosts.iter().map(|h| h.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    }
}
