//! The build tools: present or a one-line error naming the package, and runs whose output goes
//! to a log, with the log's last lines in the error when they fail.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

/// (program, what to install) for each tool the build needs.
const TOOLS: [(&str, &str); 5] =
    [("meson", "meson"), ("ninja", "ninja-build"), ("cc", "gcc"), ("pkg-config", "pkg-config"), ("python3", "python3")];

/// Whether `program` is on PATH.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

/// Fails on the first missing tool, naming the package to install.
pub fn check(on_path: impl Fn(&str) -> bool, python_has_elftools: impl Fn() -> bool) -> Result<()> {
    for (prog, package) in TOOLS {
        if !on_path(prog) {
            bail!("{prog} not found: apt-get install {package}");
        }
    }
    // DPDK's build scripts read ELF files with pyelftools.
    if !python_has_elftools() {
        bail!("python3 has no elftools module: apt-get install python3-pyelftools");
    }
    Ok(())
}

/// The Python that runs meson (its `#!` line). DPDK's build scripts run under it: the packages
/// that install meson install pyelftools for it, not for another python3 first on PATH (pyenv,
/// a venv).
pub fn meson_python() -> String {
    let meson =
        std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).map(|d| d.join("meson")).find(|m| m.is_file()));
    meson
        .and_then(|m| std::fs::read_to_string(m).ok())
        .and_then(|text| interpreter(text.lines().next()?))
        .unwrap_or_else(|| "python3".to_string())
}

/// Whether meson's Python can import elftools.
pub fn python_has_elftools() -> bool {
    Command::new(meson_python())
        .args(["-c", "import elftools"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A meson native file naming `python` as the Python of `find_installation('python3')`.
/// Without it meson takes the first python3 on PATH: up to 24.11 DPDK then fell back to
/// `meson runpython` when that one lacked elftools, but 25.11 requires elftools of whichever
/// python3 it finds, and stops.
pub fn native_file(python: &str) -> String {
    let quoted = python.replace('\\', "\\\\").replace('\'', "\\'");
    format!("[binaries]\npython = '{quoted}'\n")
}

/// The interpreter of a `#!` line (`#!/usr/bin/python3`, `#!/usr/bin/env python3`).
fn interpreter(shebang: &str) -> Option<String> {
    let mut words = shebang.strip_prefix("#!")?.split_whitespace();
    let first = words.next()?;
    if first.ends_with("/env") {
        words.next().map(str::to_string)
    } else {
        Some(first.to_string())
    }
}

pub fn pkg_config_has(name: &str) -> bool {
    Command::new("pkg-config").args(["--exists", name]).status().is_ok_and(|s| s.success())
}

/// The last `n` non-empty lines of a file.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Runs `cmd` with its output in `log`; on failure the error names the step and shows the last
/// lines of `explain` (meson's own log for a configure, else `log`).
pub fn run_logged(step: &str, cmd: &mut Command, log: &Path, explain: Option<&Path>) -> Result<()> {
    let out = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let status = cmd
        .stdout(out.try_clone()?)
        .stderr(out)
        .status()
        .with_context(|| format!("{step}: cannot run {:?}", cmd.get_program()))?;
    if !status.success() {
        let from = explain.filter(|p| p.is_file()).unwrap_or(log);
        bail!("{step} failed ({status}); the last lines of {}:\n{}", from.display(), tail(from, 20));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_tool_names_its_package() {
        let e = check(|p| p != "ninja", || true).unwrap_err().to_string();
        assert_eq!(e, "ninja not found: apt-get install ninja-build");
        let e = check(|_| true, || false).unwrap_err().to_string();
        assert!(e.contains("python3-pyelftools"), "{e}");
        assert!(check(|_| true, || true).is_ok());
    }

    #[test]
    fn the_python_behind_meson_is_read_from_its_shebang() {
        assert_eq!(interpreter("#!/usr/bin/python3").as_deref(), Some("/usr/bin/python3"));
        assert_eq!(interpreter("#!/usr/bin/env python3.11").as_deref(), Some("python3.11"));
        assert_eq!(interpreter("import sys"), None);
    }

    #[test]
    fn the_native_file_names_meson_s_python() {
        assert_eq!(native_file("/usr/bin/python3"), "[binaries]\npython = '/usr/bin/python3'\n");
        assert_eq!(native_file("/opt/it's/py"), "[binaries]\npython = '/opt/it\\'s/py'\n");
    }

    #[test]
    fn a_failed_step_shows_the_end_of_its_log() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("step.log");
        let e = run_logged(
            "configure",
            Command::new("sh").args(["-c", "echo one; echo two; echo 'ERROR: Dependency numa not found' >&2; exit 1"]),
            &log,
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("configure failed"), "{e}");
        assert!(e.ends_with("one\ntwo\nERROR: Dependency numa not found"), "{e}");
        let meson_log = d.path().join("meson-log.txt");
        std::fs::write(&meson_log, "line\nmeson says why\n").unwrap();
        let e =
            run_logged("configure", Command::new("false").arg("x"), &log, Some(&meson_log)).unwrap_err().to_string();
        assert!(e.contains("meson says why") && e.contains("meson-log.txt"), "{e}");
        assert!(run_logged("ok", &mut Command::new("true"), &log, None).is_ok());
    }
}
