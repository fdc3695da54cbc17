//! vflag-meson: builds a DPDK source tree (or release tarball) with meson and ninja into a
//! private prefix, with only the drivers vflag needs, for dpdk-sys to use through DPDK_PREFIX.
//! An unchanged source with unchanged options is not built again. Exit codes: 0 built or up
//! to date, 1 failed, 2 bad usage.
#![forbid(unsafe_code)]

mod options;
mod source;
mod stamp;
mod tools;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;

#[derive(Debug, Parser)]
#[command(name = "vflag-meson", version, about = "Build DPDK from source into a prefix for vflag (DPDK_PREFIX)")]
struct Cli {
    /// A DPDK source tree or release tarball [default: $DPDK_SRC].
    #[arg(long, env = "DPDK_SRC")]
    src: PathBuf,
    /// Where to install [default: $DPDK_PREFIX, else target/dpdk/<version>].
    #[arg(long, env = "DPDK_PREFIX")]
    prefix: Option<PathBuf>,
    /// Build and unpack directory.
    #[arg(long, default_value = "target/dpdk/work")]
    work: PathBuf,
    /// Parallel compile jobs [default: the CPU count].
    #[arg(short, long)]
    jobs: Option<usize>,
    /// Build even when the prefix is up to date.
    #[arg(long)]
    force: bool,
    /// Print what would be run, build nothing.
    #[arg(long)]
    dry_run: bool,
}

fn main() -> ExitCode {
    let cli: Cli = match cli_exit::parse("vflag-meson") {
        Ok(c) => c,
        Err(code) => return code,
    };
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vflag-meson: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn absolute(p: &Path) -> Result<PathBuf> {
    Ok(if p.is_absolute() { p.to_path_buf() } else { std::env::current_dir()?.join(p) })
}

fn run(cli: &Cli) -> Result<()> {
    tools::check(tools::on_path, tools::python_has_elftools)?;
    let work = absolute(&cli.work)?;
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let src_path = absolute(&cli.src)?;
    let (src, fingerprint) = if source::is_tarball(&src_path) {
        let id = stamp::of_file(&src_path).with_context(|| format!("reading {}", src_path.display()))?;
        (source::unpack(&src_path, &work, &id)?, id)
    } else {
        let s = source::open_tree(&src_path)?;
        let id = stamp::of_tree(&s.dir)?;
        (s, id)
    };
    let prefix = match &cli.prefix {
        Some(p) => absolute(p)?,
        None => absolute(Path::new("target/dpdk"))?.join(&src.version),
    };
    let optional = options::Optional::detect(tools::pkg_config_has);
    let drivers = options::drivers(optional);
    let mut args = options::meson_args(&prefix, &drivers, &options::declared_options(&src.dir));
    let native = work.join("meson-python.ini");
    std::fs::write(&native, tools::native_file(&tools::meson_python()))
        .with_context(|| format!("writing {}", native.display()))?;
    args.push(format!("--native-file={}", native.display()));
    let want = stamp::Stamp { version: src.version.clone(), fingerprint, meson_args: args.clone() };
    println!("vflag-meson: DPDK {} from {}", src.version, src.dir.display());
    for s in optional.skipped() {
        println!("vflag-meson: {s}");
    }
    if !cli.force && stamp::up_to_date(&prefix, &want) {
        println!("vflag-meson: up to date in {}", prefix.display());
        println!("DPDK_PREFIX={}", prefix.display());
        return Ok(());
    }
    let build = work.join(format!("build-{}", src.version));
    if cli.dry_run {
        println!("meson setup {} {} {}", build.display(), src.dir.display(), args.join(" "));
        println!("ninja -C {}{}", build.display(), cli.jobs.map_or(String::new(), |j| format!(" -j {j}")));
        println!("meson install -C {}", build.display());
        return Ok(());
    }
    // Options or source changed: configure from scratch rather than trust an old build dir.
    let _ = std::fs::remove_dir_all(&build);
    let t0 = Instant::now();
    let meson_log = build.join("meson-logs/meson-log.txt");
    println!("vflag-meson: configuring ({})", drivers.join(","));
    tools::run_logged(
        "meson setup",
        Command::new("meson").arg("setup").arg(&build).arg(&src.dir).args(&args),
        &work.join("configure.log"),
        Some(&meson_log),
    )?;
    println!("vflag-meson: compiling (log: {})", work.join("ninja.log").display());
    let mut ninja = Command::new("ninja");
    ninja.arg("-C").arg(&build);
    if let Some(j) = cli.jobs {
        ninja.args(["-j", &j.to_string()]);
    }
    tools::run_logged("ninja", &mut ninja, &work.join("ninja.log"), None)?;
    let _ = std::fs::remove_dir_all(&prefix);
    tools::run_logged(
        "meson install",
        Command::new("meson").arg("install").arg("-C").arg(&build),
        &work.join("install.log"),
        None,
    )?;
    stamp::write(&prefix, &want)?;
    println!("vflag-meson: DPDK {} installed in {} in {:.0?}", src.version, prefix.display(), t0.elapsed());
    println!("DPDK_PREFIX={}", prefix.display());
    Ok(())
}
