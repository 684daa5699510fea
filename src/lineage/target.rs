//! The file a lineage question is about: a path, and the id of the bytes it has.
//!
//! With a revision, the path's blob (or tree) in that commit. Without one, the bytes in
//! the work tree now: a tracked file whose stat data still matches its index entry is not
//! read again; an edited or untracked file (a checkpoint copied under another name) is
//! hashed; a path that is not fetched has its recorded id. A directory is taken as HEAD
//! has it (its tree id), since a directory's id exists only in a commit.

use std::io;
use std::path::Path;

use super::Error;
use crate::hash::ObjectId;
use crate::history::{self, diff};
use crate::index::Kind;
use crate::object::EntryKind;
use crate::path::RepoPath;
use crate::stat::{FileKind, Observed};
use crate::workspace::{self, FileState, Workspace, check_entry, hash_path, resolve_path};

/// A path and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub path: RepoPath,
    pub kind: EntryKind,
    pub id: ObjectId,
    pub size: u64,
    /// Where to look for the run that made it: the revision asked about, else HEAD (empty
    /// before the first commit).
    pub scope: Vec<ObjectId>,
}

/// Resolve `path` (relative to `cwd`) in commit `rev` (its id, and the revision as the
/// user typed it), or in the work tree.
pub fn resolve(
    ws: &Workspace,
    cwd: &Path,
    path: &Path,
    rev: Option<(ObjectId, &str)>,
) -> Result<Target, Error> {
    let root = ws.root();
    let repo = ws.repo();
    let store = repo.store();
    let rp = resolve_path(root, cwd, path)?;
    if let Some((commit, spec)) = rev {
        return in_commit(ws, commit, spec, rp);
    }
    let head = repo.refs().head_commit().map_err(history::Error::from)?;
    let scope: Vec<ObjectId> = head.into_iter().collect();
    let index = ws.load_index()?;
    let abs = rp.to_fs_path(root);
    let observed = match Observed::lstat(&abs) {
        Ok(o) => Some(o),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            None
        }
        Err(source) => return Err(Error::Read { path: abs, source }),
    };
    if let Some(o) = observed.filter(|o| matches!(o.kind, FileKind::File | FileKind::Symlink)) {
        let entry = index.get(&rp).filter(|e| e.kind != Kind::Tree);
        let state = match entry {
            Some(e) => Some(
                check_entry(root, &index, store, e, Some(o)).map_err(|source| Error::Read {
                    path: abs.clone(),
                    source,
                })?,
            ),
            None => None,
        };
        let (id, size) = match (entry, state) {
            (Some(e), Some(FileState::Clean | FileState::Restat(_) | FileState::Fetched(_))) => {
                (e.id, e.size)
            }
            (_, Some(FileState::Modified { id, size, .. })) => (id, size),
            _ => hash_path(&abs, o.kind).map_err(|source| Error::Read {
                path: abs.clone(),
                source,
            })?,
        };
        let kind = if o.kind == FileKind::Symlink {
            EntryKind::Symlink
        } else {
            EntryKind::File
        };
        return Ok(Target {
            path: rp,
            kind,
            id,
            size,
            scope,
        });
    }
    // Nothing readable there: a path that is not fetched, or a directory.
    if let Some(e) = index.get(&rp).filter(|e| e.kind != Kind::Tree) {
        let kind = if e.kind == Kind::Symlink {
            EntryKind::Symlink
        } else {
            EntryKind::File
        };
        return Ok(Target {
            path: rp,
            kind,
            id: e.id,
            size: e.size,
            scope,
        });
    }
    if let Some(cover) = index.tree_entry_covering(&rp) {
        if cover.path == rp {
            return Ok(Target {
                path: rp,
                kind: EntryKind::Dir,
                id: cover.id,
                size: cover.size,
                scope,
            });
        }
        let below = rp.strip_dir(&cover.path).unwrap_or_default();
        let rel = RepoPath::new(below).expect("the rest of a valid path is valid");
        if let Some(item) = diff::lookup(store, cover.id, &rel)? {
            return Ok(Target {
                path: rp,
                kind: item.kind,
                id: item.id.expect("stored trees always have ids"),
                size: item.size,
                scope,
            });
        }
    }
    let is_dir = observed.is_some_and(|o| o.kind == FileKind::Dir);
    match head {
        Some(head) if is_dir || index.has_under(&rp) => in_commit(ws, head, "HEAD", rp),
        _ => Err(workspace::Error::NoSuchPath {
            path: path.to_path_buf(),
        }
        .into()),
    }
}

/// What commit `commit` (named `spec`) holds at `path`.
fn in_commit(
    ws: &Workspace,
    commit: ObjectId,
    spec: &str,
    path: RepoPath,
) -> Result<Target, Error> {
    let store = ws.repo().store();
    let tree = store.read_commit(&commit)?.tree;
    let item = diff::lookup(store, tree, &path)?.ok_or_else(|| history::Error::NoSuchPath {
        path: path.to_string(),
        rev: spec.to_owned(),
    })?;
    Ok(Target {
        path,
        kind: item.kind,
        id: item.id.expect("stored trees always have ids"),
        size: item.size,
        scope: vec![commit],
    })
}
