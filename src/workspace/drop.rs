//! `dvx drop <paths>`, the work tree's half: tracked files become not fetched again.
//!
//! Owns: choosing what a drop would free ([`plan_drop`]: the selected files, refusing
//! those with changes that are not in the index, which only the work tree holds), and
//! doing it ([`apply_drop`]: files deleted, index entries marked not fetched), and which
//! of the freed objects nothing else here still needs ([`still_needed`]: a fetched entry
//! of any work tree's index). Does not own whether a remote holds the bytes: the caller
//! checks that between the plan and the apply, and deletes objects only after both.
//!
//! Invariants: a file is deleted only when it holds exactly the bytes its index entry
//! names (checked when planning, under the same lock as applying); nothing is deleted
//! when anything is refused.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::compare::{FileState, check_entry};
use super::pull::select;
use super::real_dirs;
use super::rm::prune_empty_dirs;
use super::{Error, Workspace, read_err_at, write_err};
use crate::atomic;
use crate::hash::ObjectId;
use crate::index::{Index, Kind, Stat};
use crate::path::RepoPath;
use crate::repo::RepoLock;
use crate::store::ObjectSource;
use crate::store::source::distinct;

/// What a drop would do, decided before anything is touched.
#[derive(Debug, Default)]
pub struct DropPlan {
    /// Fetched files whose work-tree copy goes (it holds the index's bytes, or is gone).
    pub in_worktree: Vec<RepoPath>,
    /// Every selected file with its id: the bytes the remote must hold.
    pub files: Vec<(RepoPath, ObjectId)>,
}

impl DropPlan {
    /// The objects the drop frees, each once.
    pub fn ids(&self) -> Vec<ObjectId> {
        distinct(&self.files.iter().map(|(_, id)| *id).collect::<Vec<_>>())
    }
}

/// What a drop did to the work tree.
#[derive(Debug, Default)]
pub struct Dropped {
    /// Files deleted from the work tree (now not fetched).
    pub deleted: Vec<RepoPath>,
}

/// Select the files `specs` name (typed relative to `cwd`; paths or globs) and check
/// that dropping them loses nothing the index does not record: a file with changes not
/// staged is refused, naming it.
pub fn plan_drop(
    ws: &Workspace,
    index: &Index,
    cwd: &Path,
    specs: &[PathBuf],
    objects: &dyn ObjectSource,
) -> Result<DropPlan, Error> {
    let root = ws.root();
    let store = ws.repo().store();
    let files = select(ws, index, cwd, specs, objects)?;
    let states: Vec<(RepoPath, ObjectId, Option<FileState>)> = files
        .into_par_iter()
        .map(|f| {
            let id = f.id();
            let state = match index.get(&f.path) {
                Some(entry) if entry.kind != Kind::Tree && !entry.not_fetched => Some(
                    check_entry(root, index, store, entry, None)
                        .map_err(read_err_at(root, &f.path))?,
                ),
                _ => None,
            };
            Ok((f.path, id, state))
        })
        .collect::<Result<_, Error>>()?;
    let mut plan = DropPlan::default();
    let mut changed = Vec::new();
    for (path, id, state) in states {
        match state {
            Some(FileState::Modified { .. } | FileState::Corrupt) => changed.push(path),
            Some(_) => {
                plan.in_worktree.push(path.clone());
                plan.files.push((path, id));
            }
            None => plan.files.push((path, id)),
        }
    }
    if !changed.is_empty() {
        let shown: Vec<String> = changed.iter().take(10).map(|p| p.to_string()).collect();
        let more = changed.len().saturating_sub(10);
        return Err(Error::ChangesNotStaged {
            count: changed.len(),
            list: if more > 0 {
                format!("{} and {more} more", shown.join(", "))
            } else {
                shown.join(", ")
            },
        });
    }
    Ok(plan)
}

/// Delete the planned files from the work tree and mark their index entries not
/// fetched; the index is written. The caller planned under this same lock.
pub fn apply_drop(
    ws: &Workspace,
    lock: &RepoLock,
    index: &mut Index,
    plan: &DropPlan,
) -> Result<Dropped, Error> {
    let root = ws.root();
    let mut out = Dropped::default();
    for path in &plan.in_worktree {
        let Some(mut entry) = index.get(path).cloned() else {
            continue;
        };
        let abs = path.to_fs_path(root);
        if real_dirs::lstat(root, path).is_ok_and(|o| o.kind != crate::stat::FileKind::Dir) {
            atomic::remove_file(&abs).map_err(write_err(&abs))?;
            prune_empty_dirs(root, path);
            out.deleted.push(path.clone());
        }
        entry.not_fetched = true;
        entry.linked = false;
        entry.stat = Stat::default();
        index.upsert(entry);
    }
    ws.write_index(lock, index)?;
    Ok(out)
}

/// Of `ids`, those that a fetched entry of any work tree's index (this one's `index`,
/// and the others' as they are on disk) still names: their bytes back a file there.
pub fn still_needed(
    ws: &Workspace,
    index: &Index,
    ids: &[ObjectId],
) -> Result<HashSet<ObjectId>, Error> {
    let wanted: HashSet<ObjectId> = ids.iter().copied().collect();
    let mut needed = HashSet::new();
    let mut mark = |index: &Index| {
        for e in index.iter() {
            if e.kind != Kind::Tree && !e.not_fetched && wanted.contains(&e.id) {
                needed.insert(e.id);
            }
        }
    };
    mark(index);
    let own = ws.repo().local_dir();
    for dir in ws.repo().worktree_dirs() {
        if dir != own {
            mark(&Index::load(&dir)?);
        }
    }
    Ok(needed)
}
