//! `dvx checkout [REV] -- <paths>`: put tracked files back from the store.
//!
//! Without a revision, paths return to what the index records (local edits are
//! discarded, as with `git checkout -- path`). With one, the index and the files take
//! that revision's version of the paths; HEAD does not move.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::compare::{FileState, check_entry};
use super::materialize::Materializer;
use super::{Error, Workspace, expand_to, expand_tree_entry, read_err, resolve_path, write_err};
use crate::hash::ObjectId;
use crate::history::diff::{self, Item};
use crate::index::{Entry, Index, Kind, Stat};
use crate::path::RepoPath;
use crate::progress::{Progress, Unit};
use crate::repo::RepoLock;

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
    lock: &RepoLock,
    cwd: &Path,
    paths: &[PathBuf],
    source: Option<(ObjectId, &str)>,
    progress: &dyn Progress,
) -> Result<RestoreReport, Error> {
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
    let report = write_entries(ws, &mut index, targets, Existing::Check, progress)?;
    ws.write_index(lock, &mut index)?;
    Ok(report)
}

/// An index entry (not yet fetched) for a file item of a stored tree.
pub(super) fn entry_for(path: RepoPath, item: &Item) -> Entry {
    Entry::not_fetched(
        path,
        item.kind.into(),
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

/// Files per work item at most: a directory with more is split, so one huge directory
/// still keeps every core busy.
const GROUP: usize = 256;

/// Consecutive targets with the same parent directory, in runs of at most [`GROUP`].
fn group_by_directory(targets: Vec<Entry>) -> Vec<Vec<Entry>> {
    let mut groups: Vec<Vec<Entry>> = Vec::new();
    for target in targets {
        let same_dir = groups.last().is_some_and(|g| {
            g.len() < GROUP
                && g.last()
                    .is_some_and(|last| last.path.parent_str() == target.path.parent_str())
        });
        if same_dir {
            groups.last_mut().expect("checked above").push(target);
        } else {
            groups.push(vec![target]);
        }
    }
    groups
}

/// What `write_entries` may assume about the files already at the targets' paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Existing {
    /// Unknown: compare first (through the entry's stat data when it has any), so files
    /// that already match are only re-stated.
    Check,
    /// Known to differ from the targets (the caller compared them): write at once.
    Stale,
}

/// Make the work tree and the index hold `targets`: files whose bytes are local are
/// written, files that already match are left alone, and the rest are recorded as not
/// fetched. A target with stat data (an index entry) is compared through it, so a clean
/// file is not read; a target without (from a stored tree) is hashed if a file is there.
/// New files are flushed to stable storage before the index names them.
pub(super) fn write_entries(
    ws: &Workspace,
    index: &mut Index,
    targets: Vec<Entry>,
    existing: Existing,
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
    // One thread per directory at a time: creating and renaming files in a directory
    // takes its lock, so two threads writing into the same one mostly wait for each other.
    let groups = group_by_directory(targets);
    let outcomes: Vec<Outcome> = groups
        .into_par_iter()
        .flat_map_iter(|group| group.into_iter())
        .map(|mut target| {
            let size = target.size;
            let state = match existing {
                Existing::Check => check_entry(root, index, store, &target, None)
                    .map_err(read_err(&target.path.to_fs_path(root)))?,
                Existing::Stale => FileState::Deleted,
            };
            let outcome = match state {
                // The file is the damaged object itself: writing the object again would
                // only hide the damage.
                FileState::Corrupt => {
                    return Err(Error::Store(crate::store::Error::Corrupt {
                        id: target.id,
                        reason: format!(
                            "'{}' is a hard link to it and was changed in place",
                            target.path
                        ),
                    }));
                }
                FileState::Clean => Outcome::Same(target),
                FileState::Restat(stat) | FileState::Fetched(stat) => {
                    target.stat = stat;
                    target.not_fetched = false;
                    Outcome::Same(target)
                }
                // The materializer opens the object first, so one that is not in the
                // store costs no extra lookup and leaves nothing behind.
                _ => match materializer.write(&target) {
                    Ok((stat, linked)) => {
                        target.stat = stat;
                        target.linked = linked;
                        target.not_fetched = false;
                        Outcome::Written(target)
                    }
                    Err(Error::Store(crate::store::Error::Missing { .. })) => {
                        target.not_fetched = true;
                        target.stat = Stat::default();
                        Outcome::Absent(target)
                    }
                    Err(e) => return Err(e),
                },
            };
            progress.advance(size);
            Ok::<_, Error>(outcome)
        })
        .collect::<Result<_, _>>()?;
    if outcomes.iter().any(|o| matches!(o, Outcome::Written(_))) {
        ws.repo().flush_worktree().map_err(write_err(root))?;
    }
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
