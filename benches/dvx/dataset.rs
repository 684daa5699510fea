//! The benchmark dataset: many small files in nested directories plus a few large ones,
//! all random bytes from the seed, so every run (and every machine) sees the same bytes.

use std::collections::{BTreeSet, HashSet};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::Result;
use crate::rng::SplitMix64;

/// Directory of the small files, relative to the dataset (and repository) root.
pub const SMALL_DIR: &str = "data";
/// Directory of the large files.
pub const LARGE_DIR: &str = "big";

const KIB: u64 = 1024;
const SMALL_MIN: u64 = KIB;
const SMALL_MAX: u64 = 64 * KIB;
/// Files per leaf directory, and directories per level below the top one.
const FILES_PER_DIR: usize = 100;
const FAN_OUT: usize = 10;
/// Write large files in chunks of this size.
const CHUNK: usize = 8 << 20;

/// PRNG stream bases, far apart so streams never collide: small file `i` uses stream `i`.
const LARGE_STREAM: u64 = 1 << 62;
const PICK_STREAM: u64 = 1 << 61;
const CHANGE_STREAM: u64 = 1 << 60;

/// A file of the dataset, relative to its root.
pub struct FileSpec {
    pub rel: PathBuf,
    pub size: u64,
}

pub struct Dataset {
    pub root: PathBuf,
    pub seed: u64,
    pub small: Vec<FileSpec>,
    pub large: Vec<FileSpec>,
}

impl Dataset {
    pub fn small_bytes(&self) -> u64 {
        self.small.iter().map(|f| f.size).sum()
    }

    pub fn large_bytes(&self) -> u64 {
        self.large.iter().map(|f| f.size).sum()
    }

    pub fn small_dir(&self) -> PathBuf {
        self.root.join(SMALL_DIR)
    }

    pub fn large_dir(&self) -> PathBuf {
        self.root.join(LARGE_DIR)
    }
}

/// Write `files` small files and `large` files of `large_bytes` each under `root`.
pub fn generate(
    root: &Path,
    seed: u64,
    files: usize,
    large: usize,
    large_bytes: u64,
) -> Result<Dataset> {
    generate_sized(
        root,
        seed,
        files,
        (SMALL_MIN, SMALL_MAX),
        large,
        large_bytes,
    )
}

/// [`generate`] with small files of `min..max` bytes (the remote scenarios use their own
/// size ranges).
pub fn generate_sized(
    root: &Path,
    seed: u64,
    files: usize,
    (min, max): (u64, u64),
    large: usize,
    large_bytes: u64,
) -> Result<Dataset> {
    let small: Vec<FileSpec> = (0..files).map(|i| small_spec(seed, i, min, max)).collect();
    let large: Vec<FileSpec> = (0..large).map(|j| large_spec(j, large_bytes)).collect();
    create_parents(root, small.iter().chain(&large))?;
    small
        .par_iter()
        .enumerate()
        .try_for_each(|(i, spec)| write_small(root, seed, i, spec))?;
    large
        .par_iter()
        .enumerate()
        .try_for_each(|(j, spec)| write_large(root, seed, j, spec))?;
    Ok(Dataset {
        root: root.to_path_buf(),
        seed,
        small,
        large,
    })
}

/// Small file `i`: three directory levels, [`FILES_PER_DIR`] files per leaf, `min..max`
/// bytes.
fn small_spec(seed: u64, i: usize, min: u64, max: u64) -> FileSpec {
    let leaf = i / FILES_PER_DIR;
    let rel = Path::new(SMALL_DIR)
        .join(format!("t{:03}", leaf / (FAN_OUT * FAN_OUT)))
        .join(format!("m{}", (leaf / FAN_OUT) % FAN_OUT))
        .join(format!("l{}", leaf % FAN_OUT))
        .join(format!("f{i:07}.bin"));
    let size = small_rng(seed, i).in_range(min, max);
    FileSpec { rel, size }
}

fn large_spec(j: usize, size: u64) -> FileSpec {
    FileSpec {
        rel: Path::new(LARGE_DIR).join(format!("large-{j}.bin")),
        size,
    }
}

/// The stream of small file `i`: its first draw is the size, the rest the contents.
fn small_rng(seed: u64, i: usize) -> SplitMix64 {
    SplitMix64::stream(seed, i as u64)
}

fn create_parents<'a>(root: &Path, files: impl Iterator<Item = &'a FileSpec>) -> Result<()> {
    let dirs: BTreeSet<&Path> = files.filter_map(|f| f.rel.parent()).collect();
    for dir in dirs {
        let dir = root.join(dir);
        fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    }
    Ok(())
}

fn write_small(root: &Path, seed: u64, i: usize, spec: &FileSpec) -> Result<()> {
    let mut rng = small_rng(seed, i);
    rng.next_u64(); // the size draw
    let path = root.join(&spec.rel);
    fs::write(&path, rng.bytes(to_usize(spec.size)))
        .map_err(|e| format!("write {}: {e}", path.display()))
}

fn write_large(root: &Path, seed: u64, j: usize, spec: &FileSpec) -> Result<()> {
    let path = root.join(&spec.rel);
    let err = |e: io::Error| format!("write {}: {e}", path.display());
    let mut rng = SplitMix64::stream(seed, LARGE_STREAM + j as u64);
    let mut file = File::create(&path).map_err(err)?;
    let mut buf = vec![0; CHUNK];
    let mut left = spec.size;
    while left > 0 {
        let n = to_usize(left.min(CHUNK as u64));
        rng.fill(&mut buf[..n]);
        file.write_all(&buf[..n]).map_err(err)?;
        left -= n as u64;
    }
    Ok(())
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).expect("file sizes fit in memory on a 64-bit machine")
}

/// A small file rewritten by [`modify_one_percent`]: its hash before and after.
pub struct Change {
    pub rel: PathBuf,
    pub old: blake3::Hash,
    pub new: blake3::Hash,
}

/// Rewrite 1% of the small files (at least one) under `root` with new random bytes and
/// sizes. Each file is replaced (unlinked, then written anew), never written in place:
/// a checkout may have hard-linked it to a read-only object in the store.
pub fn modify_one_percent(root: &Path, dataset: &Dataset) -> Result<Vec<Change>> {
    pick_one_percent(dataset.seed, dataset.small.len())
        .into_iter()
        .map(|i| replace_file(root, &dataset.small[i].rel, dataset.seed, i))
        .collect()
}

/// Distinct small-file numbers, 1% of `n` (at least one), chosen from the seed.
fn pick_one_percent(seed: u64, n: usize) -> Vec<usize> {
    let want = n.div_ceil(100).min(n);
    let mut rng = SplitMix64::stream(seed, PICK_STREAM);
    let mut picked = HashSet::with_capacity(want);
    let mut order = Vec::with_capacity(want);
    while order.len() < want {
        let i = to_usize(rng.next_u64() % n as u64);
        if picked.insert(i) {
            order.push(i);
        }
    }
    order
}

fn replace_file(root: &Path, rel: &Path, seed: u64, i: usize) -> Result<Change> {
    let path = root.join(rel);
    let err = |e: io::Error| format!("rewrite {}: {e}", path.display());
    let old = blake3::hash(&fs::read(&path).map_err(err)?);
    let mut rng = SplitMix64::stream(seed, CHANGE_STREAM + i as u64);
    let size = rng.in_range(SMALL_MIN, SMALL_MAX);
    let bytes = rng.bytes(to_usize(size));
    fs::remove_file(&path).map_err(err)?;
    fs::write(&path, &bytes).map_err(err)?;
    Ok(Change {
        rel: rel.to_path_buf(),
        old,
        new: blake3::hash(&bytes),
    })
}

/// Check that every changed file under `root` holds its old (`want_new == false`) or new
/// contents, i.e. that a checkout really switched the files.
pub fn verify_changes(root: &Path, changes: &[Change], want_new: bool) -> Result<()> {
    let wrong = changes
        .par_iter()
        .filter(|c| {
            let want = if want_new { c.new } else { c.old };
            fs::read(root.join(&c.rel)).ok().map(|b| blake3::hash(&b)) != Some(want)
        })
        .count();
    if wrong > 0 {
        let which = if want_new { "new" } else { "old" };
        return Err(format!(
            "{wrong} of {} changed files do not hold their {which} contents",
            changes.len()
        ));
    }
    Ok(())
}

/// Read every file under `dir`, in parallel, so that a timed step starts with its input
/// in the page cache whatever the kernel has evicted since it was written: the dvx step
/// and the limit it is compared with then start from the same state.
pub fn warm(dir: &Path) -> Result<()> {
    let files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok().filter(|e| e.file_type().is_file()))
        .map(walkdir::DirEntry::into_path)
        .collect();
    files.par_iter().try_for_each(|path| {
        let read = File::open(path).and_then(|mut f| io::copy(&mut f, &mut io::sink()));
        read.map(|_| ())
            .map_err(|e| format!("read {}: {e}", path.display()))
    })
}

/// Number of files under `dir` and their total size (symlinks followed, so a checkout
/// that links files counts the same as one that copies them).
pub fn tree_stats(dir: &Path) -> Result<(usize, u64)> {
    let mut files = 0;
    let mut bytes = 0;
    for entry in walkdir::WalkDir::new(dir).follow_links(true) {
        let entry = entry.map_err(|e| e.to_string())?;
        if entry.file_type().is_file() {
            let meta = entry
                .metadata()
                .map_err(|e| format!("stat {}: {e}", entry.path().display()))?;
            files += 1;
            bytes += meta.len();
        }
    }
    Ok((files, bytes))
}

/// Check that `dir` holds exactly `files` files totalling `bytes`.
pub fn verify_tree(dir: &Path, files: usize, bytes: u64) -> Result<()> {
    let (found, size) = tree_stats(dir)?;
    if (found, size) != (files, bytes) {
        return Err(format!(
            "{} holds {found} files ({size} bytes), expected {files} ({bytes} bytes)",
            dir.display()
        ));
    }
    Ok(())
}
