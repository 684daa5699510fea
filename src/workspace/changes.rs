//! `dvx diff`'s question: what changed, file by file, between a commit and another
//! commit, the stage, or the work tree; and the bytes of either side of a change.
//!
//! The work tree is compared through [`worktree_index`] (the index with the work tree's
//! changes applied in memory), so nothing is written. Bytes come from the store,
//! checked against their id, or, for the work-tree side, from the file itself when it
//! still holds exactly those bytes; never through a symlinked directory.

use super::real_dirs;
use super::{Error, Workspace, worktree_index};
use crate::hash::ObjectId;
use crate::history::diff::{self, FileChange, IndexSource, Source, TreeSource};
use crate::path::RepoPath;
use crate::stat::FileKind;

/// The newer side of a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Commit(ObjectId),
    /// The index (`diff --cached`).
    Stage,
    /// The files on disk.
    WorkTree,
}

/// The file changes from commit `old` (or nothing, before the first commit) to `new`,
/// limited to `filter` (every path when empty). Renames are paired.
pub fn changes(
    ws: &Workspace,
    old: Option<ObjectId>,
    new: Side,
    filter: &[RepoPath],
) -> Result<Vec<FileChange>, Error> {
    let store = ws.repo().store();
    let tree_of = |commit: Option<ObjectId>| -> Result<Option<ObjectId>, Error> {
        Ok(match commit {
            Some(id) => Some(store.read_commit(&id)?.tree),
            None => None,
        })
    };
    let old = TreeSource {
        store,
        tree: tree_of(old)?,
    };
    let options = diff::Options {
        collapse_added: false,
        filter: filter.to_vec(),
    };
    let changes = match new {
        Side::Commit(commit) => {
            let new = TreeSource {
                store,
                tree: tree_of(Some(commit))?,
            };
            diff::diff(&old, &new, &options)?.changes
        }
        Side::Stage | Side::WorkTree => {
            let index = match new {
                Side::Stage => ws.load_index()?,
                _ => worktree_index(ws, filter)?,
            };
            let new = IndexSource {
                index: &index,
                store,
            };
            diff::diff(&old as &dyn Source, &new, &options)?.changes
        }
    };
    Ok(diff::file_changes(changes))
}

/// The bytes of `id`, the version of `path` on one side of a change: from the store
/// (checked against the id, so a damaged object is never shown), else, for the work-tree
/// side, from the file if it holds exactly those bytes. `None` when neither has them.
pub fn content(ws: &Workspace, path: &RepoPath, id: ObjectId, worktree: bool) -> Option<Vec<u8>> {
    if let Ok(bytes) = ws.repo().store().read(&id) {
        return Some(bytes);
    }
    if !worktree {
        return None;
    }
    // Only a regular file in the work tree itself, never one beyond a symlink.
    let observed = real_dirs::lstat(ws.root(), path).ok()?;
    if observed.kind != FileKind::File {
        return None;
    }
    let bytes = std::fs::read(path.to_fs_path(ws.root())).ok()?;
    (ObjectId::of(&bytes) == id).then_some(bytes)
}
