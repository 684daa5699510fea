//! `dvx checkout [REV] -- <paths>`: put tracked files back from the store.
//!
//! Without a revision, paths return to what the index records (local edits are
//! discarded, as with `git checkout -- path`). With one, the index and the files take
//! that revision's version of the paths; HEAD does not move.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::compare::{FileState, check_entry};
use super::materialize::Materializer;
use super::{Error, Workspace, expand_to, expand_tree_entry, read_err, resolve_path};
use crate::hash::ObjectId;
use crate::history::diff::{self, Item};
use crate::index::{Entry, Index, Kind, Stat};
use crate::object::EntryKind;
use crate::path::RepoPath;
use crate::progress::{Progress, Unit};

/// What a restore did.
#[derive(Debug, Default)]
pub struct RestoreReport {
    /// Files written.
    pub restored: Vec<RepoPath>,
    /// Files that already matched.
    pub unchanged: usize,
    /// Files whose bytes are not in the local store (left as not fetched).
    pub not_fetched: Vec<RepoPath>,
}

/// Restore `paths` (relative to `cwd`) from the index, or from commit `source`.
pub fn restore(
    ws: &Workspace,
    cwd: &Path,
    paths: &[PathBuf],
    source: Option<(ObjectId, &str)>,
    progress: &dyn Progress,
) -> Result<RestoreReport, Error> {
    let _lock = ws.repo().lock()?;
    let root = ws.root();
    let store = ws.repo().store();
    let mut index = ws.load_index()?;
    let mut targets: Vec<Entry> = Vec::new();
    for arg in paths {
        let path = resolve_path(root, cwd, arg)?;
        match source {
            None => targets.extend(index_targets(&mut index, store, &path)?),
            Some((commit, rev)) => {
                let tree = store.read_commit(&commit)?.tree;
                let Some(item) = diff::lookup(store, tree, &path)? else {
                    return Err(crate::history::Error::NoSuchPath {
                        path: path.to_string(),
                        rev: rev.to_owned(),
                    }
                    .into());
                };
                if item.root {
                    index.add_root(path.clone());
                }
                for (p, item) in diff::files_under(store, tree, &path)? {
                    targets.push(entry_for(p, &item));
                }
            }
        }
    }
    targets.sort_by(|a, b| a.path.cmp(&b.path));
    targets.dedup_by(|a, b| a.path == b.path);
    for t in &targets {
        expand_to(&mut index, store, &t.path)?;
    }
    let report = write_entries(ws, &mut index, targets, progress)?;
    ws.write_index(&mut index)?;
    Ok(report)
}

/// An index entry (not yet fetched) for a file item of a stored tree.
pub(super) fn entry_for(path: RepoPath, item: &Item) -> Entry {
    let kind = match item.kind {
        EntryKind::File => Kind::File,
        EntryKind::Symlink => Kind::Symlink,
        EntryKind::Dir => Kind::Tree,
    };
    Entry::not_fetched(
        path,
        kind,
        item.executable,
        item.id.expect("stored items have ids"),
        item.size,
    )
}

/// The index's entries at or below `path`, with unexpanded directories expanded.
fn index_targets(
    index: &mut Index,
    store: &crate::store::Store,
    path: &RepoPath,
) -> Result<Vec<Entry>, Error> {
    expand_to(index, store, path)?;
    loop {
        let tree = index
            .iter_under(path)
            .find(|e| e.kind == Kind::Tree)
            .map(|e| e.path.clone());
        match tree {
            Some(dir) => expand_tree_entry(index, store, &dir)?,
            None => break,
        }
    }
    let entries: Vec<Entry> = index.iter_under(path).cloned().collect();
    if entries.is_empty() {
        return Err(Error::NotTracked { path: path.clone() });
    }
    Ok(entries)
}

/// Make the work tree and the index hold `targets` (entries whose stat is ignored):
/// files that already match are only re-stated, files whose bytes are local are
/// written, the rest are recorded as not fetched.
pub(super) fn write_entries(
    ws: &Workspace,
    index: &mut Index,
    targets: Vec<Entry>,
    progress: &dyn Progress,
) -> Result<RestoreReport, Error> {
    let root = ws.root();
    let store = ws.repo().store();
    let materializer = Materializer::new(root, store, ws.repo().link_kinds());
    let total: u64 = targets.iter().map(|t| t.size).sum();
    progress.start("checking out", Some(total), Unit::Bytes);
    enum Outcome {
        Written(Entry),
        Same(Entry),
        Absent(Entry),
    }
    let outcomes: Vec<Outcome> = targets
        .into_par_iter()
        .map(|mut target| {
            let size = target.size;
            // Compare against the target itself: a zero stat forces a content check.
            target.stat = Stat::default();
            target.not_fetched = false;
            let state = check_entry(root, index, store, &target, None)
                .map_err(read_err(&target.path.to_fs_path(root)))?;
            let outcome = match state {
                FileState::Restat(stat) | FileState::Fetched(stat) => {
                    target.stat = stat;
                    Outcome::Same(target)
                }
                _ if !store.contains(&target.id) => {
                    target.not_fetched = true;
                    Outcome::Absent(target)
                }
                _ => {
                    let (stat, linked) = materializer.write(&target)?;
                    target.stat = stat;
                    target.linked = linked;
                    Outcome::Written(target)
                }
            };
            progress.advance(size);
            Ok::<_, Error>(outcome)
        })
        .collect::<Result<_, _>>()?;
    progress.finish();
    let mut report = RestoreReport::default();
    for outcome in outcomes {
        match outcome {
            Outcome::Written(e) => {
                report.restored.push(e.path.clone());
                index.upsert(e);
            }
            Outcome::Same(e) => {
                report.unchanged += 1;
                index.upsert(e);
            }
            Outcome::Absent(e) => {
                report.not_fetched.push(e.path.clone());
                index.upsert(e);
            }
        }
    }
    Ok(report)
}
