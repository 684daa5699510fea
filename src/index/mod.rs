//! The index: stat cache and stage.
//!
//! Owns: the entry for every tracked path of this work tree (what is staged), the stat
//! data that lets `status` skip unchanged files, the tracked roots (paths given to `add`),
//! and a cache of tree ids per unchanged directory, so commit and staged diffs cost
//! O(changed directories). Does not own hashing files or reading trees (workspace,
//! history) — it is pure bookkeeping over its two files (see [`file`]).
//!
//! Invariants: entries are sorted component-wise (a directory is one contiguous run);
//! no entry lies below a [`Kind::Tree`] entry; a cached tree id is dropped as soon as any
//! path below its directory changes. Writing changes only `index.delta` unless the
//! change set has grown large, so a command that changes a few entries of a million does
//! not rewrite the whole index. A no-op command writes nothing. An entry whose stat data
//! was racy in the file holding it is smudged before that file is rewritten, so it never
//! becomes trusted by moving to a newer file.

mod base;
mod entry;
pub mod file;

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::ops::Bound;
use std::path::{Path, PathBuf};

pub use entry::{Entry, Kind, Stat};

use crate::atomic::{self, TempArea};
use crate::hash::ObjectId;
use crate::path::{RepoPath, compare};
use base::{Base, Bytes};

const BASE_FILE: &str = "index";
const DELTA_FILE: &str = "index.delta";

/// Below this many changed entries the delta is rewritten instead of the base.
const MIN_DELTA: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the index {} is damaged: {source}", path.display())]
    Corrupt {
        path: PathBuf,
        #[source]
        source: file::DecodeError,
    },
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A cached directory tree: its id and the total bytes below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CachedTree {
    pub id: ObjectId,
    pub size: u64,
}

/// One child of a directory in the index.
#[derive(Debug)]
pub enum Child<'a> {
    /// A file, symlink or unexpanded tree directly in the directory.
    Entry(&'a Entry),
    /// A directory with entries below it.
    Dir(RepoPath),
}

/// The index of one work tree.
#[derive(Debug, Default)]
pub struct Index {
    dir: PathBuf,
    /// The base file's entries, decoded as they are asked for.
    base: Base,
    base_sum: Option<ObjectId>,
    generation: u64,
    /// Changes over `base`: loaded from the delta file plus this session's.
    overlay: BTreeMap<RepoPath, Option<Entry>>,
    roots: Vec<RepoPath>,
    trees: BTreeMap<RepoPath, CachedTree>,
    base_mtime_ns: i64,
    delta_mtime_ns: i64,
    changed: bool,
    /// The next write must be a full base (after `replace_all`).
    force_base: bool,
    /// Entries that were racy in the file they were last written to, with the stat data
    /// they had there. Rewriting that file would make them look older than it and so
    /// trusted: they are smudged first (see [`Index::smudge_racy`]).
    racy: Vec<(RepoPath, Stat)>,
}

/// The identity of the index's two files as they are on disk: equal stamps mean the same
/// index, since every write of either file replaces it by rename (a new inode, new
/// times). A status that remembers what it found can check this without reading them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stamp {
    pub base: Option<Stat>,
    pub delta: Option<Stat>,
}

/// The [`Stamp`] of the index kept in `dir` now.
pub fn stamp(dir: &Path) -> Result<Stamp, Error> {
    let one = |name: &str| {
        let path = dir.join(name);
        match fs::symlink_metadata(&path) {
            Ok(m) => Ok(Some(Stat::from_metadata(&m))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::Io { path, source }),
        }
    };
    Ok(Stamp {
        base: one(BASE_FILE)?,
        delta: one(DELTA_FILE)?,
    })
}

/// The `stat.size` of a smudged entry: no file has it, so the stat data never matches and
/// the file is read again (git smudges the same way, with size 0).
pub(crate) const SMUDGED_SIZE: u64 = u64::MAX;

fn mtime_ns(path: &Path) -> io::Result<i64> {
    Ok(Stat::from_metadata(&fs::metadata(path)?).mtime_ns)
}

/// A file's bytes (mapped where possible) and modification time, both from one open;
/// `None` when there is no file.
fn map_optional(path: &Path) -> Result<Option<(Bytes, i64)>, Error> {
    let file = match fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(io_err(path)(source)),
    };
    let metadata = file.metadata().map_err(io_err(path))?;
    let mtime = Stat::from_metadata(&metadata).mtime_ns;
    #[cfg(unix)]
    if metadata.len() > 0 {
        let len = usize::try_from(metadata.len()).map_err(|_| {
            io_err(path)(io::Error::new(
                io::ErrorKind::InvalidData,
                "index too large",
            ))
        })?;
        let mapped = base::Mapped::new(&file, len).map_err(io_err(path))?;
        return Ok(Some((Bytes::Mapped(mapped), mtime)));
    }
    let mut bytes = Vec::new();
    io::Read::read_to_end(&mut &file, &mut bytes).map_err(io_err(path))?;
    Ok(Some((Bytes::Owned(bytes), mtime)))
}

/// A file's bytes and modification time, both from one open (a writer may replace or
/// remove the file at any moment); `None` when there is no file.
fn read_optional(path: &Path) -> Result<Option<(Vec<u8>, i64)>, Error> {
    let mut file = match fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(io_err(path)(source)),
    };
    let mut bytes = Vec::new();
    io::Read::read_to_end(&mut file, &mut bytes).map_err(io_err(path))?;
    let mtime = Stat::from_metadata(&file.metadata().map_err(io_err(path))?).mtime_ns;
    Ok(Some((bytes, mtime)))
}

impl Index {
    /// Load the index kept in `dir` (a work tree's `.dvx/`). No file means an empty index.
    pub fn load(dir: &Path) -> Result<Index, Error> {
        let mut index = Index {
            dir: dir.to_path_buf(),
            ..Index::default()
        };
        // The delta is read first. A writer replaces the base before it removes the delta,
        // so whatever happens in between, the pair read is consistent: a delta with its
        // base, a stale delta (ignored) with a newer base, or a newer base alone. Read the
        // other way round, an old base could meet a delta already removed, losing the
        // changes it held.
        let delta_path = dir.join(DELTA_FILE);
        let delta_file = read_optional(&delta_path)?;
        let base_path = dir.join(BASE_FILE);
        let mut racy_in_base = Vec::new();
        if let Some((bytes, mtime)) = map_optional(&base_path)? {
            let scanned = base::scan(bytes, mtime).map_err(|source| Error::Corrupt {
                path: base_path.clone(),
                source,
            })?;
            index.base = scanned.base;
            index.roots = scanned.roots;
            index.trees = scanned.trees.into_iter().collect();
            index.generation = scanned.generation;
            index.base_sum = Some(scanned.sum);
            index.base_mtime_ns = mtime;
            racy_in_base = scanned.racy;
        }
        if let Some((bytes, mtime)) = delta_file {
            let (delta, _): (file::Delta, _) =
                file::decode(file::DELTA_MAGIC, &bytes).map_err(|source| Error::Corrupt {
                    path: delta_path.clone(),
                    source,
                })?;
            // A delta naming another base is left over from a crash after a base rewrite;
            // the base already holds its changes.
            if Some(delta.base) == index.base_sum {
                index.overlay = delta.changes.into_iter().collect();
                index.roots = delta.roots;
                index.trees = delta.trees.into_iter().collect();
                index.delta_mtime_ns = mtime;
            }
        }
        let delta_cutoff = index.delta_mtime_ns;
        let racy_in_base = racy_in_base
            .into_iter()
            .map(|i| index.base.entry(i))
            .filter(|e| !index.overlay.contains_key(&e.path));
        let racy_in_delta =
            (index.overlay.values().flatten()).filter(|e| is_racy_at(e, delta_cutoff));
        index.racy = racy_in_base
            .chain(racy_in_delta)
            .map(|e| (e.path.clone(), e.stat))
            .collect();
        Ok(index)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        let mut n = self.base.len() as isize;
        for (path, change) in &self.overlay {
            let in_base = self.base_position(path).is_ok();
            n += match (in_base, change.is_some()) {
                (true, false) => -1,
                (false, true) => 1,
                _ => 0,
            };
        }
        n as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn base_position(&self, path: &RepoPath) -> Result<usize, usize> {
        self.base.position(path)
    }

    pub fn get(&self, path: &RepoPath) -> Option<&Entry> {
        match self.overlay.get(path) {
            Some(change) => change.as_ref(),
            None => self.base_position(path).ok().map(|i| self.base.entry(i)),
        }
    }

    /// Every entry, in path order.
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        // Every entry will be visited: decode them all at once, on all cores.
        self.base.decode_all();
        Merged {
            base: &self.base,
            at: 0,
            end: self.base.len(),
            overlay: self.overlay.iter().peekable(),
        }
    }

    /// Entries at or below `dir`, in path order.
    pub fn iter_under<'a>(&'a self, dir: &'a RepoPath) -> impl Iterator<Item = &'a Entry> + 'a {
        let start = self
            .base
            .partition_point(|p| compare(p, dir.as_str()).is_lt());
        let end = self
            .base
            .partition_point(|p| compare(p, dir.as_str()).is_lt() || within(p, dir));
        Merged {
            base: &self.base,
            at: start,
            end,
            overlay: self
                .overlay
                .range::<RepoPath, _>((Bound::Included(dir), Bound::Unbounded))
                .take_while(move |(p, _)| p.is_within(dir))
                .peekable(),
        }
    }

    /// The first entry after `key` in path order, skipping everything below `key` when
    /// `skip_below` is set.
    fn next_after(&self, key: &RepoPath, skip_below: bool) -> Option<&Entry> {
        let before = |p: &str| compare(p, key.as_str()).is_le() || (skip_below && within(p, key));
        let mut bi = self.base.partition_point(before);
        let mut overlay = self
            .overlay
            .range::<RepoPath, _>((Bound::Excluded(key), Bound::Unbounded))
            .skip_while(|(p, _)| before(p.as_str()))
            .peekable();
        loop {
            let from_base = (bi < self.base.len()).then(|| self.base.entry(bi));
            match (from_base, overlay.peek()) {
                (None, None) => return None,
                (Some(b), None) => return Some(b),
                (Some(b), Some((p, _))) if b.path < **p => return Some(b),
                (b, Some((p, change))) => {
                    if b.is_some_and(|b| b.path == **p) {
                        bi += 1;
                    }
                    match change {
                        Some(e) => return Some(e),
                        None => {
                            overlay.next();
                        }
                    }
                }
            }
        }
    }

    /// The direct children of `dir`: entries in it and subdirectories with entries below.
    pub fn children(&self, dir: &RepoPath) -> Vec<Child<'_>> {
        let mut out = Vec::new();
        let mut cursor = self.next_after(dir, false);
        while let Some(e) = cursor {
            let Some(rest) = e.path.strip_dir(dir) else {
                break;
            };
            match rest.find('/') {
                None => {
                    out.push(Child::Entry(e));
                    cursor = self.next_after(&e.path, true);
                }
                Some(i) => {
                    let sub = dir.join_unchecked(&rest[..i]);
                    cursor = self.next_after(&sub, true);
                    out.push(Child::Dir(sub));
                }
            }
        }
        out
    }

    /// True when some entry lies at or below `path`.
    pub fn has_under(&self, path: &RepoPath) -> bool {
        self.iter_under(path).next().is_some()
    }

    /// An unexpanded [`Kind::Tree`] entry at or above `path`, if any.
    pub fn tree_entry_covering(&self, path: &RepoPath) -> Option<&Entry> {
        path.ancestors()
            .skip(1)
            .chain(std::iter::once(path.clone()))
            .find_map(|p| self.get(&p).filter(|e| e.kind == Kind::Tree))
    }

    fn invalidate_trees(&mut self, path: &RepoPath) {
        if self.trees.is_empty() {
            return;
        }
        for dir in path.ancestors() {
            self.trees.remove(&dir);
        }
        self.trees.remove(path);
    }

    /// Add or replace an entry. A path is a file or a directory, never both: a new entry
    /// replaces a file or symlink entry at one of its ancestors (a file that became a
    /// directory) and every entry below it (a directory that became a file). Without
    /// this, `add` of `x/y` where the file `x` was kept both, and the next tree build
    /// silently dropped one of them.
    pub fn upsert(&mut self, entry: Entry) {
        match self.get(&entry.path) {
            Some(old) if *old == entry => return,
            // An existing entry already obeys the rule; only new paths can break it.
            Some(_) => {}
            None => {
                let files_above: Vec<RepoPath> = entry
                    .path
                    .ancestors()
                    .filter(|dir| self.get(dir).is_some_and(|e| e.kind != Kind::Tree))
                    .collect();
                for dir in &files_above {
                    self.remove(dir);
                }
                debug_assert!(
                    self.tree_entry_covering(&entry.path).is_none(),
                    "expand a not-fetched directory before adding below it"
                );
                if self
                    .next_after(&entry.path, false)
                    .is_some_and(|next| next.path.is_within(&entry.path))
                {
                    self.remove_under(&entry.path);
                }
            }
        }
        self.invalidate_trees(&entry.path);
        self.changed = true;
        self.overlay.insert(entry.path.clone(), Some(entry));
    }

    /// Replace an entry with one that differs only in stat data or the not-fetched flag
    /// (a refresh: the content is unchanged). Keeps the tree cache, since no id changed.
    pub fn refresh(&mut self, fresh: Entry) {
        let Some(old) = self.get(&fresh.path) else {
            return;
        };
        debug_assert!(
            old.id == fresh.id && old.kind == fresh.kind,
            "a refresh keeps the content"
        );
        if *old != fresh {
            self.changed = true;
            self.overlay.insert(fresh.path.clone(), Some(fresh));
        }
    }

    /// Remove an entry; returns it.
    pub fn remove(&mut self, path: &RepoPath) -> Option<Entry> {
        let old = self.get(path).cloned()?;
        self.invalidate_trees(path);
        self.changed = true;
        if self.base_position(path).is_ok() {
            self.overlay.insert(path.clone(), None);
        } else {
            self.overlay.remove(path);
        }
        Some(old)
    }

    /// Remove every entry at or below `dir`; returns how many.
    pub fn remove_under(&mut self, dir: &RepoPath) -> usize {
        let paths: Vec<RepoPath> = self.iter_under(dir).map(|e| e.path.clone()).collect();
        for p in &paths {
            self.remove(p);
        }
        paths.len()
    }

    /// Replace every entry at once (a full checkout); the tree cache is cleared.
    pub fn replace_all(&mut self, entries: Vec<Entry>) {
        debug_assert!(entries.windows(2).all(|w| w[0].path < w[1].path));
        self.overlay.clear();
        self.trees.clear();
        self.base = Base::Owned(entries);
        // Nothing here has been written yet: every entry is racy until it is.
        self.base_mtime_ns = 0;
        self.racy.clear();
        self.changed = true;
        self.force_base = true;
    }

    /// Paths given to `add` (files and directories), sorted.
    pub fn roots(&self) -> &[RepoPath] {
        &self.roots
    }

    /// The root that `path` lies in, if any.
    pub fn root_covering(&self, path: &RepoPath) -> Option<&RepoPath> {
        self.roots.iter().find(|r| path.is_within(r))
    }

    /// Track `path` as a root. A root inside an existing root adds nothing; roots inside
    /// `path` are absorbed. Returns whether anything changed.
    pub fn add_root(&mut self, path: RepoPath) -> bool {
        if self.root_covering(&path).is_some() {
            return false;
        }
        // Root flags live in the parent's tree, so those cached trees are stale now.
        let absorbed: Vec<RepoPath> = self
            .roots
            .iter()
            .filter(|r| r.is_within(&path))
            .cloned()
            .collect();
        for r in &absorbed {
            self.invalidate_trees(r);
        }
        self.roots.retain(|r| !r.is_within(&path));
        self.invalidate_trees(&path);
        let at = self.roots.partition_point(|r| *r < path);
        self.roots.insert(at, path);
        self.changed = true;
        true
    }

    /// Stop tracking `path` as a root (exactly that path).
    pub fn remove_root(&mut self, path: &RepoPath) -> bool {
        let before = self.roots.len();
        self.roots.retain(|r| r != path);
        let removed = self.roots.len() != before;
        if removed {
            self.invalidate_trees(path);
            self.changed = true;
        }
        removed
    }

    /// Whether `path` is exactly a root.
    pub fn is_root(&self, path: &RepoPath) -> bool {
        self.roots.binary_search(path).is_ok()
    }

    /// Every cached directory tree.
    pub fn cached_trees(&self) -> impl Iterator<Item = (&RepoPath, &CachedTree)> {
        self.trees.iter()
    }

    pub fn cached_tree(&self, dir: &RepoPath) -> Option<CachedTree> {
        self.trees.get(dir).copied()
    }

    pub fn cache_tree(&mut self, dir: RepoPath, tree: CachedTree) {
        if self.trees.get(&dir) != Some(&tree) {
            self.trees.insert(dir, tree);
            self.changed = true;
        }
    }

    /// Whether an entry's stat data cannot be trusted: the file may have changed within
    /// the same timestamp tick as the index file that recorded it (git's racy rule).
    pub fn is_racy(&self, entry: &Entry) -> bool {
        let cutoff = if self.overlay.contains_key(&entry.path) {
            self.delta_mtime_ns
        } else {
            self.base_mtime_ns
        };
        // An entry recorded in this session (not yet written) is always racy.
        cutoff == 0 || entry.stat.mtime_ns >= cutoff
    }

    /// Whether anything changed since load or the last write.
    pub fn is_changed(&self) -> bool {
        self.changed
    }

    /// Persist the changes: the delta when it is small, otherwise a new base, each by a
    /// temp file in `temps` renamed into place. Writes nothing when nothing changed.
    /// `durable` adds fsyncs (file and directory). Outside this crate the index is
    /// written through `Workspace::write_index`, which takes the repository lock's guard.
    pub(crate) fn write(&mut self, temps: &TempArea, durable: bool) -> Result<(), Error> {
        if !self.changed {
            return Ok(());
        }
        let threshold = MIN_DELTA.max(self.base.len() / 8);
        let delta_fits =
            self.base_sum.is_some() && !self.force_base && self.overlay.len() <= threshold;
        self.smudge_racy(!delta_fits);
        if delta_fits {
            self.write_delta(temps, durable)?;
        } else {
            self.write_base(temps, durable)?;
        }
        self.changed = false;
        Ok(())
    }

    /// Smudge the entries that were racy in the file about to be rewritten (the base, or
    /// the delta for the entries in it), unless this session recorded them anew. The new
    /// file is younger than their mtime, so without this the racy rule would trust stat
    /// data that an edit in the same timestamp tick left unchanged (git's racy-git
    /// problem, solved the same way).
    fn smudge_racy(&mut self, base_write: bool) {
        for (path, stat) in std::mem::take(&mut self.racy) {
            let Some(entry) = self.get(&path) else {
                continue;
            };
            if entry.stat != stat {
                // Recorded anew by this session: the racy rule applies to the new file.
                continue;
            }
            if base_write || self.overlay.contains_key(&path) {
                let mut smudged = entry.clone();
                smudged.stat.size = SMUDGED_SIZE;
                self.overlay.insert(path, Some(smudged));
            } else {
                // Stays in the base, which is not rewritten.
                self.racy.push((path, stat));
            }
        }
    }

    fn write_file(
        temps: &TempArea,
        path: &Path,
        bytes: &[u8],
        durable: bool,
    ) -> Result<i64, Error> {
        if durable {
            temps.write_durable(path, bytes)
        } else {
            temps.write(path, bytes)
        }
        .map_err(io_err(path))?;
        mtime_ns(path).map_err(io_err(path))
    }

    fn tree_list(&self) -> Vec<(RepoPath, CachedTree)> {
        self.trees.iter().map(|(p, t)| (p.clone(), *t)).collect()
    }

    fn write_delta(&mut self, temps: &TempArea, durable: bool) -> Result<(), Error> {
        let delta = file::Delta {
            base: self.base_sum.expect("a delta is only written over a base"),
            changes: self
                .overlay
                .iter()
                .map(|(p, e)| (p.clone(), e.clone()))
                .collect(),
            roots: self.roots.clone(),
            trees: self.tree_list(),
        };
        let (bytes, _) = file::encode(file::DELTA_MAGIC, &delta);
        let path = self.dir.join(DELTA_FILE);
        self.delta_mtime_ns = Self::write_file(temps, &path, &bytes, durable)?;
        let cutoff = self.delta_mtime_ns;
        let racy: Vec<_> = self
            .overlay
            .values()
            .flatten()
            .filter(|e| is_racy_at(e, cutoff))
            .map(|e| (e.path.clone(), e.stat))
            .collect();
        self.racy.extend(racy);
        Ok(())
    }

    fn write_base(&mut self, temps: &TempArea, durable: bool) -> Result<(), Error> {
        // Fold the overlay into the base in place (no copy of a million entries); from
        // here on the in-memory index is the new base, written or not.
        let base = std::mem::take(&mut self.base).into_vec();
        let overlay = std::mem::take(&mut self.overlay);
        let entries = fold(base, overlay);
        self.force_base = true;
        let file = file::Base {
            generation: self.generation + 1,
            entries,
            roots: self.roots.clone(),
            trees: self.tree_list(),
        };
        let (bytes, sum) = file::encode(file::BASE_MAGIC, &file);
        self.base = Base::Owned(file.entries);
        let path = self.dir.join(BASE_FILE);
        self.base_mtime_ns = Self::write_file(temps, &path, &bytes, durable)?;
        drop(bytes);
        // The new base holds every change; the old delta names the old base's checksum,
        // so even if this removal is lost to a crash the delta is ignored.
        let delta = self.dir.join(DELTA_FILE);
        match atomic::remove_file(&delta) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(Error::Io {
                    path: delta,
                    source,
                });
            }
        }
        self.generation = file.generation;
        self.base_sum = Some(sum);
        self.delta_mtime_ns = 0;
        self.force_base = false;
        let cutoff = self.base_mtime_ns;
        self.racy = (0..self.base.len())
            .map(|i| self.base.entry(i))
            .filter(|e| is_racy_at(e, cutoff))
            .map(|e| (e.path.clone(), e.stat))
            .collect();
        Ok(())
    }
}

/// Whether `entry`'s stat data is racy in a file written at `cutoff` (nanoseconds): its
/// mtime is not older. Entries without stat data (not fetched) never are.
fn is_racy_at(entry: &Entry, cutoff: i64) -> bool {
    !entry.not_fetched && entry.stat.size != SMUDGED_SIZE && entry.stat.mtime_ns >= cutoff
}

/// The sorted base with the sorted changes applied, consuming both.
fn fold(base: Vec<Entry>, overlay: BTreeMap<RepoPath, Option<Entry>>) -> Vec<Entry> {
    let mut out = Vec::with_capacity(base.len() + overlay.len());
    let mut changes = overlay.into_iter().peekable();
    for entry in base {
        while let Some((_, change)) = changes.next_if(|(p, _)| *p < entry.path) {
            out.extend(change);
        }
        match changes.next_if(|(p, _)| *p == entry.path) {
            Some((_, change)) => out.extend(change),
            None => out.push(entry),
        }
    }
    out.extend(changes.filter_map(|(_, change)| change));
    out
}

/// Whether the path `p` is `dir` or lies below it.
fn within(p: &str, dir: &RepoPath) -> bool {
    let d = dir.as_str();
    d.is_empty()
        || (p.len() >= d.len()
            && p.starts_with(d)
            && (p.len() == d.len() || p.as_bytes()[d.len()] == b'/'))
}

/// Merge-join of the sorted base (positions `at..end`) with the sorted overlay of
/// changes.
struct Merged<'a, I: Iterator<Item = (&'a RepoPath, &'a Option<Entry>)>> {
    base: &'a Base,
    at: usize,
    end: usize,
    overlay: std::iter::Peekable<I>,
}

impl<'a, I: Iterator<Item = (&'a RepoPath, &'a Option<Entry>)>> Iterator for Merged<'a, I> {
    type Item = &'a Entry;

    fn next(&mut self) -> Option<&'a Entry> {
        loop {
            let next_base = (self.at < self.end).then(|| self.base.path(self.at));
            let take_base = match (next_base, self.overlay.peek()) {
                (None, None) => return None,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some(b), Some((p, _))) => compare(b, p.as_str()).is_lt(),
            };
            if take_base {
                self.at += 1;
                return Some(self.base.entry(self.at - 1));
            }
            let (path, change) = self.overlay.next().expect("checked non-empty");
            if next_base.is_some_and(|b| b == path.as_str()) {
                self.at += 1;
            }
            if let Some(e) = change {
                return Some(e);
            }
        }
    }
}

#[cfg(test)]
mod tests;
