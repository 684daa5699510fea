//! `dvx checkout [REV] -- <paths>`: put tracked files back from the store.
//!
//! Without a revision, paths return to what the index records (local edits are
//! discarded, as with `git checkout -- path`). With one, the index and the files take
//! that revision's version of the paths; HEAD does not move.
//!
//! Like a checkout, a restore plans first (the files, through not-fetched directories,
//! and which of their bytes are absent), fetches the absent ids through its
//! [`ObjectSource`] in one batch, then writes. Also the writer of checkout's files
//! ([`write_entries`]).

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::compare::{FileState, check_entry};
use super::materialize::Materializer;
use super::tracked::{commit_files, tracked_files};
use super::{Error, Workspace, expand_to, link_rule, read_err_at, resolve_path, write_err};
use crate::hash::ObjectId;
use crate::history::diff::{self, Item};
use crate::index::{Entry, Index, Kind, Stat};
use crate::path::RepoPath;
use crate::progress::{Progress, Unit};
use crate::repo::RepoLock;
use crate::store::ObjectSource;
use crate::store::source::distinct;

/// What a restore did.
#[derive(Debug, Default)]
pub struct RestoreReport {
    /// Files written.
    pub restored: Vec<RepoPath>,
    /// Files that already matched.
    pub unchanged: usize,
    /// Files whose bytes are not in the local store (left as not fetched).
    pub not_fetched: Vec<RepoPath>,
    /// Objects the source fetched into the local store for this restore.
    pub fetched: usize,
}

/// Restore `paths` (relative to `cwd`) from the index, or from commit `source`, with the
/// bytes the local store has (the rest stay not fetched).
pub fn restore(
    ws: &Workspace,
    lock: &RepoLock,
    cwd: &Path,
    paths: &[PathBuf],
    source: Option<(ObjectId, &str)>,
    progress: &dyn Progress,
) -> Result<RestoreReport, Error> {
    restore_from(ws, lock, cwd, paths, source, ws.repo().store(), progress)
}

/// Restore `paths` (relative to `cwd`) from the index, or from commit `rev`, reading
/// bytes through `objects`: the files are planned first, the absent ids fetched in one
/// batch, and then everything is written. What `objects` cannot provide stays not
/// fetched (reported).
pub fn restore_from(
    ws: &Workspace,
    lock: &RepoLock,
    cwd: &Path,
    paths: &[PathBuf],
    rev: Option<(ObjectId, &str)>,
    objects: &dyn ObjectSource,
    progress: &dyn Progress,
) -> Result<RestoreReport, Error> {
    debug_assert!(lock.guards(ws.repo()), "the lock of this work tree");
    let mut index = ws.load_index()?;
    let plan = plan_restore(ws, &index, cwd, paths, rev, objects)?;
    let mut fetched = 0;
    if !plan.absent.is_empty() {
        fetched = objects.fetch(&plan.absent, progress)?.fetched.len();
        if fetched > 0 {
            ws.repo().flush_objects()?;
        }
    }
    let store = objects.store();
    for root in plan.roots {
        index.add_root(root);
    }
    for t in &plan.targets {
        expand_to(&mut index, store, &t.path)?;
    }
    let mut report = write_entries(
        ws,
        &mut index,
        plan.targets,
        Existing::Check,
        objects,
        progress,
    )?;
    ws.write_index(lock, &mut index)?;
    report.fetched = fetched;
    Ok(report)
}

/// What a restore will write, and which of those bytes are absent.
struct RestorePlan {
    /// The files to restore, in path order: index entries (with their stat data), or
    /// not-fetched entries for files of a revision or of a not-fetched directory.
    targets: Vec<Entry>,
    /// Roots of the revision among the paths, for the index.
    roots: Vec<RepoPath>,
    /// Blobs of targets whose bytes are neither in the work tree nor local.
    absent: Vec<ObjectId>,
}

fn plan_restore(
    ws: &Workspace,
    index: &Index,
    cwd: &Path,
    paths: &[PathBuf],
    rev: Option<(ObjectId, &str)>,
    objects: &dyn ObjectSource,
) -> Result<RestorePlan, Error> {
    let root = ws.root();
    let store = objects.store();
    let mut plan = RestorePlan {
        targets: Vec::new(),
        roots: Vec::new(),
        absent: Vec::new(),
    };
    for arg in paths {
        let path = resolve_path(root, cwd, arg)?;
        let files = match rev {
            None => {
                let files = tracked_files(index, objects, std::slice::from_ref(&path))?;
                if files.is_empty() {
                    return Err(Error::NotTracked { path });
                }
                files
            }
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
                    plan.roots.push(path.clone());
                }
                commit_files(objects, tree, &path)?
            }
        };
        for file in files {
            if !file.local {
                plan.absent.push(file.id());
            }
            let entry = match (rev, index.get(&file.path)) {
                // The index's own entry, with the stat data that spares reading a clean
                // file.
                (None, Some(entry)) if entry.kind != Kind::Tree => entry.clone(),
                _ => entry_for(file.path, &file.item),
            };
            plan.targets.push(entry);
        }
    }
    plan.targets.sort_by(|a, b| a.path.cmp(&b.path));
    plan.targets.dedup_by(|a, b| a.path == b.path);
    plan.absent = distinct(&plan.absent);
    Ok(plan)
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
    objects: &dyn ObjectSource,
    progress: &dyn Progress,
) -> Result<RestoreReport, Error> {
    let root = ws.root();
    let store = objects.store();
    let external_symlinks = ws.repo().config().core.external_symlinks;
    // Before the first write: a refused link must not leave the work tree half-updated.
    link_rule::check_targets(
        store,
        external_symlinks,
        targets
            .iter()
            .filter(|t| t.kind == Kind::Symlink)
            .map(|t| (&t.path, &t.id)),
    )?;
    let materializer =
        Materializer::new(root, store, ws.repo().link_kinds()).external_symlinks(external_symlinks);
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
                    .map_err(read_err_at(root, &target.path))?,
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
                // Bytes still absent (the fetch could not bring them): the materializer
                // opens the object first, so that costs no extra lookup and leaves
                // nothing behind.
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
