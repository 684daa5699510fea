//! dvx benchmark harness: `cargo bench --bench dvx`.
//!
//! Generates a deterministic dataset (many small files in nested directories, a few large
//! ones), then times the real `dvx` binary on it: `add`, a no-op `status`, `commit`, a
//! full restore, switching between commits that differ in 1% of the files, `log` over a
//! long history, and the peak memory of `add` and `status` per tracked file.
//!
//! Absolute seconds say little on their own: they depend on the disk, the page cache and
//! the core count. So the same run, on the same bytes and the same filesystem, also
//! measures the physical limits dvx is held to: `cp -r` + `sync` (writing the bytes),
//! BLAKE3 over every file (hashing them), and `git status` (the no-op everybody compares
//! with). Each dvx number is reported as a ratio to its limit, and the targets are
//! ratios, so results compare across machines and runs.
//!
//! Every command is a separate process, timed from spawn to exit; its peak RSS comes from
//! `wait4` in a small wrapper process (see `measure`). Each scenario fails soft, so a
//! half-built dvx still yields the limits and whatever works, and each checks that dvx
//! really did the work (bytes stored, files restored) before its time counts. Misses are
//! reported, never turned into a failing exit: speed is measured here, not asserted.
//! Settings, output and targets: see `bench/README.md`.

#![allow(
    clippy::disallowed_methods,
    reason = "the crate's clippy.toml routes dvx's own writes through dvx::atomic; the \
              harness writes benchmark inputs and logs, where plain writes are right"
)]

// The modules live in benches/dvx/ (a crate root looks next to itself by default).
#[path = "dvx/config.rs"]
mod config;
#[path = "dvx/dataset.rs"]
mod dataset;
#[path = "dvx/limits.rs"]
mod limits;
#[path = "dvx/measure.rs"]
mod measure;
#[path = "dvx/remote.rs"]
mod remote;
#[path = "dvx/report.rs"]
mod report;
#[path = "dvx/rng.rs"]
mod rng;
#[path = "dvx/scenarios.rs"]
mod scenarios;
#[path = "dvx/settle.rs"]
mod settle;
// The S3 protocol server the tests use (s3s + s3s-fs, in this process).
#[path = "../tests/e2e/s3_server.rs"]
mod s3_server;
#[path = "dvx/tiny.rs"]
mod tiny;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use config::{Config, Scenario, Selection};
use dataset::Dataset;
use limits::{Limits, Wanted};
use measure::Runner;
use report::Report;
use settle::Quiet;

/// Errors are messages: every one ends up printed next to the scenario it broke.
pub type Result<T> = std::result::Result<T, String>;

const GIB: f64 = (1u64 << 30) as f64;
/// The wrapper and `true` take a few MiB; far more means the measuring is broken (as
/// when memory primed in the wrapper showed up in every command's peak RSS).
const RSS_FLOOR_EXPECTED_KIB: u64 = 64 << 10;

fn main() {
    if let Some(code) = measure::run_as_wrapper() {
        std::process::exit(code);
    }
    if let Err(e) = run() {
        eprintln!("dvx bench: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<()> {
    let config = Config::from_env()?;
    let work = create_work_dir(&config.base_dir)?;
    let (window, why) = match config.settle_secs {
        Some(secs) => (
            Duration::from_secs(secs),
            Some("DVX_BENCH_SETTLE_SECS".into()),
        ),
        None => settle::window_of(work.path()),
    };
    let runner = Runner::new(
        work.path().join("logs"),
        config.dvx.clone(),
        config.prime_mib,
        Quiet::new(window),
    )?;
    print_settings(&config, work.path(), window, why.as_deref());
    let rss_floor = rss_floor(&runner);

    let generated = if needs_dataset(&config.selection) {
        Some(generate(&config, &work.path().join("dataset"))?)
    } else {
        None
    };
    let dataset = generated.as_ref().map(|(d, _)| d);
    let limits = measure_limits(&runner, &config, dataset, work.path());
    let report = run_scenarios(&runner, &config, dataset, &limits, work.path());

    println!("\n== results ==\n{}", report.table());
    let mut config_json = config_json(&config, generated.as_ref());
    config_json["rss_floor_kib"] = json!(rss_floor);
    config_json["settle_secs"] = json!(window.as_secs());
    match report.write_json(&config.json_path, &config_json, &limits_json(&limits)) {
        Ok(()) => println!("results written to {}", config.json_path.display()),
        Err(e) => println!("warning: {e}"),
    }
    finish(work, config.keep)
}

fn create_work_dir(base: &Path) -> Result<tempfile::TempDir> {
    fs::create_dir_all(base).map_err(|e| format!("create {}: {e}", base.display()))?;
    tempfile::Builder::new()
        .prefix("dvx-bench-")
        .tempdir_in(base)
        .map_err(|e| format!("create a work dir in {}: {e}", base.display()))
}

/// The peak RSS the wrapper reports for a trivial command: part of every memory number.
fn rss_floor(runner: &Runner) -> Option<u64> {
    match runner.rss_floor_kib() {
        Ok(kib) => {
            println!("  RSS floor  : {kib} KiB (wrapper + `true`; part of every memory row)");
            if kib > RSS_FLOOR_EXPECTED_KIB {
                println!(
                    "  warning    : an RSS floor above {} MiB means something inflates every \
                     memory row",
                    RSS_FLOOR_EXPECTED_KIB >> 10
                );
            }
            Some(kib)
        }
        Err(e) => {
            println!("  RSS floor  : unknown: {e}");
            None
        }
    }
}

fn measure_limits(
    runner: &Runner,
    config: &Config,
    dataset: Option<&Dataset>,
    work: &Path,
) -> Limits {
    let Some(dataset) = dataset else {
        return Limits::default();
    };
    println!("\n== limits ==");
    limits::measure(runner, dataset, work, &wanted_limits(&config.selection))
}

fn run_scenarios(
    runner: &Runner,
    config: &Config,
    dataset: Option<&Dataset>,
    limits: &Limits,
    work: &Path,
) -> Report {
    println!("\n== dvx ==");
    let mut report = Report::default();
    let sel = &config.selection;
    if let Some(d) = dataset {
        let chain = scenarios::dvx_chain(runner, d, limits, sel, work, &mut report);
        if sel.reports(Scenario::Dvc) {
            scenarios::dvc(runner, d, &chain, work, &mut report);
        }
        if sel.reports(Scenario::AddLink) {
            scenarios::add_link(runner, d, limits, work, &mut report);
        }
    }
    if sel.reports(Scenario::Tiny) {
        let files = if config.tiny > 0 {
            config.tiny
        } else {
            1_000_000
        };
        tiny::run(runner, files, config.seed, work, &mut report);
    }
    scenarios::log(runner, config, work, &mut report);
    remote::run(runner, config, work, &mut report);
    report
}

/// Every scenario except `log_10k`, `tiny` and the remote ones (which make their own)
/// works on the generated dataset.
fn needs_dataset(sel: &Selection) -> bool {
    Scenario::ALL
        .into_iter()
        .any(|s| !matches!(s, Scenario::Log10k | Scenario::Tiny) && !s.is_remote() && sel.runs(s))
}

fn wanted_limits(sel: &Selection) -> Wanted {
    Wanted {
        small: sel.reports(Scenario::AddSmall)
            || sel.reports(Scenario::RestoreAll)
            || sel.reports(Scenario::AddLink),
        large: sel.reports(Scenario::AddLarge),
        git_status: sel.reports(Scenario::StatusNoop),
    }
}

fn print_settings(config: &Config, work: &Path, settle: Duration, why: Option<&str>) {
    println!("dvx benchmark");
    println!("  dvx binary : {}", config.dvx.display());
    println!("  work dir   : {}", work.display());
    println!("  scenarios  : {}", config.selection.names().join(", "));
    println!(
        "  dataset    : {} small files (1-64 KiB), {} large files of {} bytes, seed {}",
        config.files, config.large, config.large_bytes, config.seed
    );
    println!(
        "  primed     : {} MiB of memory touched and freed before each timed command",
        config.prime_mib
    );
    match why.filter(|_| !settle.is_zero()) {
        Some(why) => println!(
            "  settle     : {} s after the run's last removal before remote_small and \
             remote_bulk: {why}",
            settle.as_secs()
        ),
        None => println!("  settle     : none"),
    }
}

/// Write the dataset, then flush it so no later measurement pays for these writes.
fn generate(config: &Config, root: &Path) -> Result<(Dataset, f64)> {
    println!("\n== dataset ==");
    let start = Instant::now();
    let large = if config.selection.runs(Scenario::AddLarge) {
        config.large
    } else {
        0
    };
    let dataset = dataset::generate(root, config.seed, config.files, large, config.large_bytes)?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "  {} small files ({:.2} GiB) and {} large ({:.2} GiB) written in {secs:.1} s",
        dataset.small.len(),
        dataset.small_bytes() as f64 / GIB,
        dataset.large.len(),
        dataset.large_bytes() as f64 / GIB,
    );
    let mut sync = std::process::Command::new("sync");
    let synced = sync.status().map_err(|e| format!("sync: {e}"))?;
    if !synced.success() {
        return Err(format!("sync failed: {synced}"));
    }
    Ok((dataset, secs))
}

fn config_json(config: &Config, generated: Option<&(Dataset, f64)>) -> Value {
    let dataset = generated.map(|(d, _)| d);
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    json!({
        "files": config.files,
        "large_files": config.large,
        "large_bytes": config.large_bytes,
        "seed": config.seed,
        "small_bytes_total": dataset.map(Dataset::small_bytes),
        "large_bytes_total": dataset.map(Dataset::large_bytes),
        "generate_secs": generated.map(|(_, secs)| secs),
        "log_commits": config.log_commits,
        "remote_files": config.remote_files,
        "lazy_files": config.lazy_files,
        "tiny_files": config.tiny,
        "prime_mib": config.prime_mib,
        "scenarios": config.selection.names(),
        "cores": cores,
    })
}

fn limits_json(limits: &Limits) -> Value {
    json!({
        "cp_sync_small": limits.cp_small,
        "blake3_small": limits.hash_small,
        "cp_sync_blake3_small": limits.cp_hash_small(),
        "cp_sync_large": limits.cp_large,
        "blake3_large": limits.hash_large,
        "git_status_porcelain": limits.git_status,
    })
}

/// Delete the work dir, or keep it with `DVX_BENCH_KEEP=1`.
fn finish(work: tempfile::TempDir, keep: bool) -> Result<()> {
    if keep {
        println!("work dir kept: {}", work.keep().display());
        return Ok(());
    }
    let path = work.path().to_path_buf();
    work.close()
        .map_err(|e| format!("remove {}: {e}", path.display()))
}
