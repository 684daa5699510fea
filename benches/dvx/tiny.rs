//! The tiny-file scenario (`DVX_BENCH_TINY=<files>`, e.g. 1000000): status at scale.
//!
//! Many tiny files (16-64 bytes, 100 per leaf directory) are written once into a dvx
//! repository and hard-linked into a git repository, so `dvx status` and `git status
//! --porcelain` look at exactly the same files (same inodes, same page cache). The git
//! side is built with `git fast-import` (one pack instead of a million loose objects)
//! and its index refreshed, so `git status` is clean and fast, as after `git add` +
//! `git commit`. dvx and git are timed in alternation (dvx, git, dvx, git, ...) so a
//! machine whose speed drifts affects both alike; each row is a median.
//!
//! Rows: `tiny add` (info), `tiny status_noop` (target: at most 1.0x git), `tiny memory
//! status` (at most 0.5 KiB per file), `tiny status_1pct` (after 1% of the files were
//! replaced in both repositories; at most 1.2x git), `tiny fsmonitor status_noop` (with
//! `core.fsmonitor`; at most 0.15 s), `tiny add_one` and `tiny commit_one` (one new file
//! added and committed; at most 0.15 s each).

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use rayon::prelude::*;

use crate::Result;
use crate::measure::{Measurement, Runner};
use crate::report::{Report, Row, Target};
use crate::rng::SplitMix64;

const STATUS_MAX: f64 = 1.0;
const STATUS_1PCT_MAX: f64 = 1.2;
const MEMORY_MAX_KIB_PER_FILE: f64 = 0.5;
const WATCHED_STATUS_MAX_SECS: f64 = 0.15;
const ONE_FILE_MAX_SECS: f64 = 0.15;
/// Timed runs per median.
const RUNS: usize = 5;

/// PRNG streams of the tiny files and of their 1% replacements.
const TINY_STREAM: u64 = 1 << 59;
const TINY_CHANGE_STREAM: u64 = 1 << 58;

/// The relative path and bytes of tiny file `i`.
fn tiny_file(seed: u64, i: usize, stream: u64) -> (PathBuf, Vec<u8>) {
    let leaf = i / 100;
    let rel = Path::new("data")
        .join(format!("t{:03}", leaf / 100))
        .join(format!("m{}", (leaf / 10) % 10))
        .join(format!("l{}", leaf % 10))
        .join(format!("f{i:07}.bin"));
    let mut rng = SplitMix64::stream(seed, stream + i as u64);
    let len = rng.in_range(16, 64) as usize;
    (rel, rng.bytes(len))
}

/// Run the tiny-file scenario with `files` files in `work`, pushing its rows.
pub fn run(runner: &Runner, files: usize, seed: u64, work: &Path, report: &mut Report) {
    let dvx_repo = work.join("tiny-dvx");
    let git_repo = work.join("tiny-git");
    if let Err(e) = scenario(runner, files, seed, &dvx_repo, &git_repo, report) {
        report.push(Row::failed("tiny", e));
    }
    // Stop the watcher before its repository goes (it would exit by itself anyway).
    let _ = runner.run(runner.dvx(&dvx_repo, &["fsmonitor", "stop"]));
    for repo in [&dvx_repo, &git_repo] {
        if let Err(e) = runner.remove(repo) {
            println!("  warning: {e}");
        }
    }
}

fn scenario(
    runner: &Runner,
    files: usize,
    seed: u64,
    dvx_repo: &Path,
    git_repo: &Path,
    report: &mut Report,
) -> Result<()> {
    println!("  tiny: writing {files} tiny files");
    generate(dvx_repo, seed, files)?;
    // Hard links: both repositories see the same inodes. Made before `dvx add`, since a
    // new link changes the files' ctime, which dvx records.
    fs::create_dir_all(git_repo).map_err(|e| format!("create {}: {e}", git_repo.display()))?;
    let mut cp = runner.command("cp", git_repo);
    cp.arg("-rl").arg(dvx_repo.join("data")).arg(".");
    runner.run(cp)?;
    println!("  tiny: building the git repository (fast-import)");
    git_setup(runner, git_repo, seed, files)?;
    runner.run(runner.git(dvx_repo, &["init", "-q"]))?;
    runner.run(runner.dvx(dvx_repo, &["init"]))?;
    runner.sync()?;

    let add = runner.measure_synced("tiny_add", runner.dvx(dvx_repo, &["add", "data"]))?;
    report.push(Row::secs("tiny add", add.secs, "-", None, Target::None));
    report.push(Row::memory(
        "tiny memory add",
        add.peak_rss_kib,
        files,
        Target::None,
    ));
    runner.run(runner.dvx(dvx_repo, &["commit", "-m", "base"]))?;

    let (dvx, git) = alternate(runner, "tiny_status", dvx_repo, git_repo)?;
    report.push(Row::secs(
        "tiny status_noop",
        dvx.secs,
        "git status --porcelain",
        Some(git.secs),
        Target::RatioAtMost(STATUS_MAX),
    ));
    report.push(Row::memory(
        "tiny memory status",
        dvx.peak_rss_kib,
        files,
        Target::AtMost(MEMORY_MAX_KIB_PER_FILE),
    ));

    let changed = replace_one_percent(dvx_repo, git_repo, seed, files)?;
    let (dvx, git) = alternate(runner, "tiny_status_1pct", dvx_repo, git_repo)?;
    let unstaged = unstaged_count(runner, dvx_repo, &[])?;
    if unstaged != changed {
        return Err(format!(
            "dvx status lists {unstaged} unstaged paths after {changed} files were replaced"
        ));
    }
    report.push(Row::secs(
        "tiny status_1pct",
        dvx.secs,
        "git status --porcelain",
        Some(git.secs),
        Target::RatioAtMost(STATUS_1PCT_MAX),
    ));

    report.push(watched_status(runner, dvx_repo, changed)?);
    for row in one_file(runner, dvx_repo)? {
        report.push(row);
    }
    Ok(())
}

/// Write the tiny files under `root/data`, in parallel.
fn generate(root: &Path, seed: u64, files: usize) -> Result<()> {
    let leaves = files.div_ceil(100);
    (0..leaves).into_par_iter().try_for_each(|leaf| {
        let (rel, _) = tiny_file(seed, leaf * 100, TINY_STREAM);
        let dir = root.join(rel.parent().expect("a file has a directory"));
        fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        for i in leaf * 100..((leaf + 1) * 100).min(files) {
            let (rel, bytes) = tiny_file(seed, i, TINY_STREAM);
            let path = root.join(rel);
            fs::write(&path, bytes).map_err(|e| format!("write {}: {e}", path.display()))?;
        }
        Ok(())
    })
}

/// A git repository whose HEAD commit holds the tiny files and whose index is fresh:
/// `git fast-import` writes one pack, `git reset` builds the index from HEAD, and the
/// refresh records every file's stat data, as `git add` would have.
fn git_setup(runner: &Runner, repo: &Path, seed: u64, files: usize) -> Result<()> {
    runner.run(runner.git(repo, &["init", "-q"]))?;
    let mut import = runner.git(repo, &["fast-import", "--quiet"]);
    import.stdin(Stdio::piped());
    let mut child = import
        .spawn()
        .map_err(|e| format!("git fast-import: {e}"))?;
    {
        let stdin = child.stdin.take().ok_or("git fast-import: no stdin")?;
        let mut out = BufWriter::with_capacity(1 << 20, stdin);
        let err = |e: std::io::Error| format!("git fast-import: {e}");
        for i in 0..files {
            let (_, bytes) = tiny_file(seed, i, TINY_STREAM);
            write!(out, "blob\nmark :{}\ndata {}\n", i + 1, bytes.len()).map_err(err)?;
            out.write_all(&bytes).map_err(err)?;
            out.write_all(b"\n").map_err(err)?;
        }
        out.write_all(
            b"commit refs/heads/main\ncommitter Bench <bench@example.com> 0 +0000\ndata 5\nbase\n",
        )
        .map_err(err)?;
        for i in 0..files {
            let (rel, _) = tiny_file(seed, i, TINY_STREAM);
            writeln!(out, "M 100644 :{} {}", i + 1, rel.display()).map_err(err)?;
        }
        out.write_all(b"\n").map_err(err)?;
        out.flush().map_err(err)?;
    }
    let status = child.wait().map_err(|e| format!("git fast-import: {e}"))?;
    if !status.success() {
        return Err(format!("git fast-import failed: {status}"));
    }
    runner.run(runner.git(repo, &["symbolic-ref", "HEAD", "refs/heads/main"]))?;
    runner.run(runner.git(repo, &["reset", "-q"]))?;
    runner.run(runner.git(repo, &["update-index", "-q", "--refresh"]))?;
    let status = runner.run(runner.git(repo, &["status", "--porcelain"]))?;
    if !status.trim().is_empty() {
        return Err(format!(
            "git status is not clean after the import: {status:.200}"
        ));
    }
    runner.sync()
}

/// Medians of `dvx status` and `git status --porcelain`, run in alternation after one
/// warm-up each.
fn alternate(
    runner: &Runner,
    label: &str,
    dvx_repo: &Path,
    git_repo: &Path,
) -> Result<(Measurement, Measurement)> {
    let dvx = || runner.dvx(dvx_repo, &["status"]);
    let git = || runner.git(git_repo, &["status", "--porcelain"]);
    runner.measure(label, dvx())?;
    runner.measure(&format!("{label}_git"), git())?;
    let mut a = Vec::new();
    let mut b = Vec::new();
    for _ in 0..RUNS {
        a.push(runner.measure(label, dvx())?);
        b.push(runner.measure(&format!("{label}_git"), git())?);
    }
    Ok((median(a), median(b)))
}

fn median(mut runs: Vec<Measurement>) -> Measurement {
    let peak_rss_kib = runs.iter().map(|m| m.peak_rss_kib).max().unwrap_or(0);
    runs.sort_by(|a, b| a.secs.total_cmp(&b.secs));
    Measurement {
        peak_rss_kib,
        ..runs[runs.len() / 2]
    }
}

/// Replace 1% of the files (at least one) in both repositories with the same new bytes
/// (unlink, then write: the two repositories share inodes). Returns how many.
fn replace_one_percent(dvx_repo: &Path, git_repo: &Path, seed: u64, files: usize) -> Result<usize> {
    let step = 100.min(files.max(1));
    let picked: Vec<usize> = (0..files).step_by(step).map(|i| (i + 37) % files).collect();
    picked.par_iter().try_for_each(|&i| {
        let (rel, _) = tiny_file(seed, i, TINY_STREAM);
        let (_, bytes) = tiny_file(seed, i, TINY_CHANGE_STREAM);
        for repo in [dvx_repo, git_repo] {
            let path = repo.join(&rel);
            fs::remove_file(&path).map_err(|e| format!("remove {}: {e}", path.display()))?;
            fs::write(&path, &bytes).map_err(|e| format!("write {}: {e}", path.display()))?;
        }
        Ok::<_, String>(())
    })?;
    Ok(picked.len())
}

/// How many unstaged changes `dvx status --json` lists; checks the watcher's use when
/// `fsmonitor` is given.
fn unstaged_count(runner: &Runner, repo: &Path, extra: &[&str]) -> Result<usize> {
    let mut args = vec!["status", "--json"];
    args.extend_from_slice(extra);
    let json = runner.run(runner.dvx(repo, &args))?;
    let value: serde_json::Value = serde_json::from_str(&json)
        .map_err(|e| format!("`dvx status --json` printed invalid JSON ({e}): {json:.200}"))?;
    value["unstaged"]
        .as_array()
        .map(Vec::len)
        .ok_or_else(|| "`dvx status --json` has no unstaged list".to_string())
}

/// A no-op status with `core.fsmonitor` on, once the watcher runs and a first status has
/// been remembered.
fn watched_status(runner: &Runner, repo: &Path, changed: usize) -> Result<Row> {
    let local = repo.join(".dvx/config.local.toml");
    fs::write(&local, "[core]\nfsmonitor = true\n")
        .map_err(|e| format!("write {}: {e}", local.display()))?;
    runner.run(runner.dvx(repo, &["fsmonitor", "start"]))?;
    // The first status scans and is remembered; from the second on the watcher answers.
    runner.run(runner.dvx(repo, &["status"]))?;
    let json = runner.run(runner.dvx(repo, &["status", "--json"]))?;
    let value: serde_json::Value =
        serde_json::from_str(&json).map_err(|e| format!("invalid status JSON: {e}"))?;
    if value["fsmonitor"]["used"] != true {
        return Err(format!("the watcher was not used: {}", value["fsmonitor"]));
    }
    let listed = value["unstaged"].as_array().map_or(0, Vec::len);
    if listed != changed {
        return Err(format!(
            "the watcher-assisted status lists {listed} unstaged paths, a full scan {changed}"
        ));
    }
    let m = runner.median("tiny_fsmonitor_status", RUNS, || {
        runner.dvx(repo, &["status"])
    })?;
    Ok(Row::secs(
        "tiny fsmonitor status_noop",
        m.secs,
        "-",
        None,
        Target::AtMost(WATCHED_STATUS_MAX_SECS),
    ))
}

/// `dvx add <one new file>` and `dvx commit`, three times each: medians.
fn one_file(runner: &Runner, repo: &Path) -> Result<Vec<Row>> {
    let mut adds = Vec::new();
    let mut commits = Vec::new();
    for n in 0..3 {
        let rel = format!("data/t000/m0/l0/one-{n}.bin");
        let path = repo.join(&rel);
        fs::write(&path, format!("one more file {n}\n"))
            .map_err(|e| format!("write {}: {e}", path.display()))?;
        adds.push(runner.measure("tiny_add_one", runner.dvx(repo, &["add", &rel]))?);
        commits.push(runner.measure(
            "tiny_commit_one",
            runner.dvx(repo, &["commit", "-m", &format!("one more {n}")]),
        )?);
    }
    let target = Target::AtMost(ONE_FILE_MAX_SECS);
    Ok(vec![
        Row::secs("tiny add_one", median(adds).secs, "-", None, target),
        Row::secs("tiny commit_one", median(commits).secs, "-", None, target),
    ])
}
