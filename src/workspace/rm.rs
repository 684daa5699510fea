//! `dvx rm`: stop tracking paths, and delete their files unless `--cached`.
//!
//! Like `git rm`, it never loses the only copy of some bytes without `-f`: a file with
//! changes not staged is refused, and so is deleting a file whose staged bytes HEAD's
//! commit does not hold (once untracked, they would only be an unreferenced object that
//! gc removes). `--cached` keeps the file, so only staged bytes that are in neither HEAD
//! nor the file stop it.

use std::path::{Path, PathBuf};

use super::compare::{FileState, check_entry};
use super::real_dirs::RealDirs;
use super::{Error, Workspace, expand_to, read_err_at, resolve_path, write_err};
use crate::git::ignore_block;
use crate::history::diff::{self, Item};
use crate::index::{Entry, Index, Kind};
use crate::object::EntryKind;
use crate::path::RepoPath;
use crate::repo::RepoLock;
use crate::store::Store;

/// What `rm` did.
#[derive(Debug, Default)]
pub struct RmReport {
    /// Index entries removed (files, and unexpanded directories counted once), and roots
    /// dropped that had no entries (an added directory whose files were all deleted).
    pub untracked: Vec<RepoPath>,
    /// Files deleted from the work tree.
    pub deleted_files: usize,
    /// `.gitignore` files changed.
    pub gitignores_changed: Vec<PathBuf>,
}

/// Untrack `paths` (relative to `cwd`). Without `cached`, their files are deleted too.
/// Unless `force`, a file with changes not staged is refused, and so is a file whose
/// staged bytes HEAD does not have (deleting it, or with `cached` untracking it when the
/// file no longer holds them, would lose them).
pub fn rm(
    ws: &Workspace,
    lock: &RepoLock,
    cwd: &Path,
    paths: &[PathBuf],
    cached: bool,
    force: bool,
) -> Result<RmReport, Error> {
    let root = ws.root();
    let store = ws.repo().store();
    let mut index = ws.load_index()?;
    let mut targets = Vec::new();
    for arg in paths {
        let path = resolve_path(root, cwd, arg)?;
        expand_to(&mut index, store, &path)?;
        // A root with no entries (a directory whose files were all deleted) can still be
        // dropped.
        let has_root = index.roots().iter().any(|r| r.is_within(&path));
        if !index.has_under(&path) && !has_root {
            return Err(Error::NotTracked { path });
        }
        targets.push(path);
    }
    // Check every file before deleting any.
    if !force {
        let head_tree = match ws.repo().refs().head_commit()? {
            Some(id) => Some(store.read_commit(&id)?.tree),
            None => None,
        };
        for target in &targets {
            check_nothing_is_lost(root, &index, store, head_tree, target, cached)?;
        }
    }
    let mut report = RmReport::default();
    let mut dropped_roots = Vec::new();
    let mut real_dirs = RealDirs::new(root);
    for target in &targets {
        let entries: Vec<_> = index.iter_under(target).cloned().collect();
        for e in entries {
            if !cached && e.kind != Kind::Tree && !e.not_fetched && real_dirs.lead_to(&e.path) {
                let abs = e.path.to_fs_path(root);
                match crate::atomic::remove_file(&abs) {
                    Ok(()) => {
                        report.deleted_files += 1;
                        prune_empty_dirs(root, &e.path);
                    }
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                    Err(err) => return Err(write_err(&abs)(err)),
                }
            }
            index.remove(&e.path);
            report.untracked.push(e.path);
        }
        let roots: Vec<RepoPath> = index
            .roots()
            .iter()
            .filter(|r| r.is_within(target))
            .cloned()
            .collect();
        for r in roots {
            index.remove_root(&r);
            dropped_roots.push(r.clone());
            if ws.git().is_some()
                && !r.is_root()
                && let Some(file) = ignore_block::remove(root, lock, &r).map_err(write_err(root))?
                && !report.gitignores_changed.contains(&file)
            {
                report.gitignores_changed.push(file);
            }
        }
    }
    for r in dropped_roots {
        if !report.untracked.iter().any(|p| p.is_within(&r)) {
            report.untracked.push(r);
        }
    }
    ws.write_index(lock, &mut index)?;
    Ok(report)
}

/// Refuse (unless forced) when untracking the entries at or below `target` would lose
/// bytes: a file with changes not staged would be deleted (or is damaged store bytes),
/// or staged bytes HEAD does not have are about to leave both the index and the work
/// tree.
fn check_nothing_is_lost(
    root: &Path,
    index: &Index,
    store: &Store,
    head_tree: Option<crate::hash::ObjectId>,
    target: &RepoPath,
    cached: bool,
) -> Result<(), Error> {
    // HEAD's files below the target, read once and only if some entry needs them.
    let mut committed: Option<Vec<(RepoPath, Item)>> = None;
    for e in index.iter_under(target) {
        if e.kind == Kind::Tree {
            continue;
        }
        let state = check_entry(root, index, store, e, None).map_err(read_err_at(root, &e.path))?;
        let would_lose_staged = match &state {
            // The file holds the staged bytes: they go only if the file is deleted.
            FileState::Clean | FileState::Restat(_) => !cached && !e.not_fetched,
            FileState::Modified { .. } | FileState::Corrupt if !cached => {
                return Err(Error::LocalChanges {
                    path: e.path.clone(),
                });
            }
            // The file no longer holds the staged bytes; untracking drops the last
            // reference to them.
            FileState::Modified { .. } | FileState::Corrupt => true,
            // Nothing is deleted: the file is already gone, or its bytes were never here.
            FileState::Deleted | FileState::NotFetched | FileState::Fetched(_) => false,
        };
        if !would_lose_staged {
            continue;
        }
        let head = match &committed {
            Some(files) => files,
            None => committed.insert(match head_tree {
                Some(tree) => diff::files_under(store, tree, target)?,
                None => Vec::new(),
            }),
        };
        if !in_head(head, e) {
            return Err(if cached {
                Error::StagedDiffersFromFileAndHead {
                    path: e.path.clone(),
                }
            } else {
                Error::StagedNotCommitted {
                    path: e.path.clone(),
                }
            });
        }
    }
    Ok(())
}

/// Whether HEAD's commit (`head`, its files sorted by path) holds `entry`'s bytes at the
/// same path.
fn in_head(head: &[(RepoPath, Item)], entry: &Entry) -> bool {
    let kind = match entry.kind {
        Kind::File => EntryKind::File,
        Kind::Symlink => EntryKind::Symlink,
        Kind::Tree => EntryKind::Dir,
    };
    head.binary_search_by(|(p, _)| p.cmp(&entry.path))
        .is_ok_and(|i| head[i].1.id == Some(entry.id) && head[i].1.kind == kind)
}

/// Remove the directories above `path` that are now empty, up to (not including) the
/// repository root. Directories with anything left in them stay.
pub(super) fn prune_empty_dirs(root: &Path, path: &RepoPath) {
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d.is_root() || crate::atomic::remove_dir(&d.to_fs_path(root)).is_err() {
            break;
        }
        dir = d.parent();
    }
}
