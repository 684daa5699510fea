//! `dvx reset [<rev>] -- <paths>`: the stage takes paths from a commit; the work tree is
//! left alone.
//!
//! As `git reset -- <paths>` (and `git restore --staged`): below each path, the index
//! becomes what HEAD (or `<rev>`) has there, root flags included, so `status` shows no
//! staged change for it afterwards. A path the commit lacks leaves the stage (its file
//! stays, untracked). Files are never read or written, so a reset costs what the
//! differences cost: equal directories are skipped by id, and a directory that is not
//! fetched is expanded only where an entry below it changes.
//!
//! Invariant: nothing outside `.dvx/index` changes; a path known to neither the stage
//! nor the commit is an error, and nothing is changed then.

use std::path::{Path, PathBuf};

use super::restore::entry_for;
use super::{Error, Workspace, expand_to, resolve_path};
use crate::hash::ObjectId;
use crate::history::diff::{self, IndexSource, TreeSource};
use crate::index::Index;
use crate::path::RepoPath;
use crate::repo::RepoLock;
use crate::store::Store;

/// What a reset changed in the stage.
#[derive(Debug, Default)]
pub struct ResetReport {
    /// Paths whose staged version is now the commit's.
    pub updated: Vec<RepoPath>,
    /// Paths that left the stage: the commit does not have them.
    pub removed: Vec<RepoPath>,
}

/// Reset the stage at `paths` (relative to `cwd`) to commit `source` (named `rev`, for
/// errors), or to HEAD; with no commit at all (an unborn branch), the paths leave the
/// stage.
pub fn reset(
    ws: &Workspace,
    lock: &RepoLock,
    cwd: &Path,
    paths: &[PathBuf],
    source: Option<(ObjectId, &str)>,
) -> Result<ResetReport, Error> {
    let store = ws.repo().store();
    let (commit, rev) = match source {
        Some((id, rev)) => (Some(id), rev),
        None => (ws.repo().refs().head_commit()?, "HEAD"),
    };
    let tree = match commit {
        Some(id) => Some(store.read_commit(&id)?.tree),
        None => None,
    };
    let mut index = ws.load_index()?;
    let mut targets = Vec::new();
    for arg in paths {
        let path = resolve_path(ws.root(), cwd, arg)?;
        let staged = index.has_under(&path) || index.tree_entry_covering(&path).is_some();
        let committed = match tree {
            Some(tree) => diff::lookup(store, tree, &path)?.is_some(),
            None => false,
        };
        if !staged && !committed {
            return Err(Error::NotStagedOrCommitted {
                path,
                rev: rev.to_owned(),
            });
        }
        targets.push(path);
    }

    let options = diff::Options {
        collapse_added: false,
        filter: targets.clone(),
    };
    let changes = diff::diff(
        &IndexSource {
            index: &index,
            store,
        },
        &TreeSource { store, tree },
        &options,
    )?
    .changes;
    let mut report = ResetReport::default();
    for change in changes {
        match (&change.old, &change.new) {
            // A directory whose root flag alone differs: the roots are set below.
            (Some(old), Some(new)) if old.is_dir() && new.is_dir() => {}
            (Some(old), Some(new)) if old.same_content(new) => {}
            (_, None) => {
                expand_to(&mut index, store, &change.path)?;
                index.remove(&change.path);
                report.removed.push(change.path);
            }
            (_, Some(new)) => {
                expand_to(&mut index, store, &change.path)?;
                let mut entry = entry_for(change.path.clone(), new);
                // Whether the file is in the work tree does not change: an entry that
                // was not fetched stays so, and a path new to the stage is not fetched
                // only when its bytes are not here (else a missing file is "deleted").
                entry.not_fetched = match index.get(&change.path) {
                    Some(previous) => previous.not_fetched,
                    None => !store.contains(&entry.id),
                };
                index.upsert(entry);
                report.updated.push(change.path);
            }
        }
    }
    for path in &targets {
        set_roots(&mut index, store, tree, path)?;
    }
    ws.write_index(lock, &mut index)?;
    Ok(report)
}

/// Make the roots at or below `path` those of `tree` there.
fn set_roots(
    index: &mut Index,
    store: &Store,
    tree: Option<ObjectId>,
    path: &RepoPath,
) -> Result<(), Error> {
    let mut wanted = Vec::new();
    if let Some(tree) = tree
        && let Some(item) = diff::lookup(store, tree, path)?
    {
        if item.root {
            wanted.push(path.clone());
        } else if item.is_dir() {
            roots_below(
                store,
                item.id.expect("stored items have ids"),
                path,
                &mut wanted,
            )?;
        }
    }
    let stale: Vec<RepoPath> = index
        .roots()
        .iter()
        .filter(|r| r.is_within(path) && !wanted.contains(r))
        .cloned()
        .collect();
    for root in &stale {
        index.remove_root(root);
    }
    for root in wanted {
        index.add_root(root);
    }
    Ok(())
}

/// The roots below directory `dir` (tree `id`). Roots never nest, so the walk stops at
/// each one: its cost is the directories above the roots, not the files.
fn roots_below(
    store: &Store,
    id: ObjectId,
    dir: &RepoPath,
    out: &mut Vec<RepoPath>,
) -> Result<(), Error> {
    for entry in &store.read_tree(&id)?.entries {
        let path = dir.join_unchecked(&entry.name);
        if entry.root {
            out.push(path);
        } else if entry.kind == crate::object::EntryKind::Dir {
            roots_below(store, entry.id, &path, out)?;
        }
    }
    Ok(())
}
