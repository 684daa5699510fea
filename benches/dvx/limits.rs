//! Physical limits, measured in the same run on the same bytes as the dvx scenarios:
//! copying (`cp -r` + `sync`), hashing (BLAKE3, all cores), and git's own no-op status.
//! dvx cannot beat copying the bytes it stores or hashing the bytes it tracks, and users
//! compare `dvx status` with `git status`, so these are the yardsticks.

use std::fs;
use std::path::Path;
use std::time::Instant;

use rayon::prelude::*;

use crate::Result;
use crate::dataset::{self, Dataset};
use crate::measure::Runner;

/// Seconds for each limit; `None` when not needed by the selection or when it failed.
#[derive(Default)]
pub struct Limits {
    pub cp_small: Option<f64>,
    pub hash_small: Option<f64>,
    pub cp_large: Option<f64>,
    pub hash_large: Option<f64>,
    pub git_status: Option<f64>,
}

impl Limits {
    /// Copy, flush and hash the small files: what `dvx add` has to do at minimum.
    pub fn cp_hash_small(&self) -> Option<f64> {
        Some(self.cp_small? + self.hash_small?)
    }
}

/// Which limits to measure.
pub struct Wanted {
    pub small: bool,
    pub large: bool,
    pub git_status: bool,
}

pub fn measure(runner: &Runner, dataset: &Dataset, work: &Path, wanted: &Wanted) -> Limits {
    let mut limits = Limits::default();
    if wanted.small {
        limits.cp_small = soft("cp -r + sync (small)", || {
            copy(runner, &dataset.small_dir(), &work.join("limit-cp-small"))
        });
        limits.hash_small = soft("blake3 (small)", || hash_small(dataset));
    }
    if wanted.large {
        limits.cp_large = soft("cp -r + sync (large)", || {
            copy(runner, &dataset.large_dir(), &work.join("limit-cp-large"))
        });
        limits.hash_large = soft("blake3 (large)", || hash_large(dataset));
    }
    if wanted.git_status {
        limits.git_status = soft("git status --porcelain (small)", || {
            git_status(runner, dataset, &work.join("limit-git"))
        });
    }
    limits
}

/// Run one limit, print its time or failure; failures leave the limit unknown.
fn soft(name: &str, f: impl FnOnce() -> Result<f64>) -> Option<f64> {
    match f() {
        Ok(secs) => {
            println!("  limit {name:<32} {secs:>9.3} s");
            Some(secs)
        }
        Err(e) => {
            println!("  limit {name:<32} FAILED: {e}");
            None
        }
    }
}

/// `cp -r src dst` + `sync`; the copy is deleted afterwards.
pub fn copy(runner: &Runner, src: &Path, dst: &Path) -> Result<f64> {
    let secs = copy_kept(runner, src, dst);
    runner.remove(dst)?;
    secs
}

/// [`copy`], leaving the copy for the caller to remove once its timed steps are done: on
/// a file system that passes over recently freed inodes one by one (ext4 without a
/// journal, see `settle`), removing 20k files slows every file created in the next
/// minutes.
pub fn copy_kept(runner: &Runner, src: &Path, dst: &Path) -> Result<f64> {
    dataset::warm(src)?;
    let mut cp = runner.command("cp", Path::new("."));
    cp.arg("-r").arg(src).arg(dst);
    Ok(runner.measure_synced("limit-cp", cp)?.secs)
}

/// Read and hash every small file, files in parallel on all cores.
fn hash_small(dataset: &Dataset) -> Result<f64> {
    dataset::warm(&dataset.small_dir())?;
    let start = Instant::now();
    dataset.small.par_iter().try_for_each(|f| {
        let path = dataset.root.join(&f.rel);
        let bytes = fs::read(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
        std::hint::black_box(blake3::hash(&bytes));
        Ok::<_, String>(())
    })?;
    Ok(start.elapsed().as_secs_f64())
}

/// Hash each large file with BLAKE3's memory-mapped, multi-threaded mode.
fn hash_large(dataset: &Dataset) -> Result<f64> {
    dataset::warm(&dataset.large_dir())?;
    let start = Instant::now();
    for f in &dataset.large {
        let path = dataset.root.join(&f.rel);
        let mut hasher = blake3::Hasher::new();
        hasher
            .update_mmap_rayon(&path)
            .map_err(|e| format!("hash {}: {e}", path.display()))?;
        std::hint::black_box(hasher.finalize());
    }
    Ok(start.elapsed().as_secs_f64())
}

/// Median of 7 warm `git status --porcelain` runs on a repository that has the small
/// files committed; the repository is deleted afterwards.
fn git_status(runner: &Runner, dataset: &Dataset, repo: &Path) -> Result<f64> {
    let result = committed_git_repo(runner, dataset, repo).and_then(|()| {
        let status = runner.run(runner.git(repo, &["status", "--porcelain"]))?;
        if !status.trim().is_empty() {
            return Err(format!("git status is not clean after commit: {status}"));
        }
        runner.median("limit-git-status", 7, || {
            runner.git(repo, &["status", "--porcelain"])
        })
    });
    runner.remove(repo)?;
    Ok(result?.secs)
}

fn committed_git_repo(runner: &Runner, dataset: &Dataset, repo: &Path) -> Result<()> {
    fs::create_dir_all(repo).map_err(|e| format!("create {}: {e}", repo.display()))?;
    // Hard links, not copies: git only reads the files, and setup is not measured.
    let mut cp = runner.command("cp", repo);
    cp.arg("-rl")
        .arg(dataset.small_dir())
        .arg(dataset::SMALL_DIR);
    runner.run(cp)?;
    runner.run(runner.git(repo, &["init", "-q"]))?;
    // Random bytes do not compress: storing them raw only saves setup time.
    runner.run(runner.git(repo, &["-c", "core.looseCompression=0", "add", "-A"]))?;
    runner.run(runner.git(repo, &["commit", "-q", "-m", "base"]))?;
    runner.sync()
}
