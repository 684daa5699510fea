//! The work tree as an index, for diffs against it.
//!
//! Loads the index and, in memory only, replaces every changed entry with what is on
//! disk now: modified files re-hashed, deleted ones dropped, new files under tracked
//! directories hashed and added. Not-fetched paths keep their recorded ids (they count
//! as unchanged). A file found below a not-fetched directory is judged as `add` judges
//! it: the directory is expanded (in memory), so a file its tree lacks is new and one it
//! has counts only if its bytes differ. Nothing is written.

use std::path::Path;

use rayon::prelude::*;

use super::compare::{FileState, check_entry, hash_path};
use super::real_dirs;
use super::walk::{Found, walk};
use super::{Error, Workspace, expand_to, read_err, read_err_at};
use crate::index::{Entry, Index, Kind};
use crate::path::RepoPath;
use crate::stat::FileKind;

/// The index with the work tree's changes applied in memory.
pub fn worktree_index(ws: &Workspace, filter: &[RepoPath]) -> Result<Index, Error> {
    let root = ws.root();
    let store = ws.repo().store();
    let mut index = ws.load_index()?;
    let wanted =
        |p: &RepoPath| filter.is_empty() || filter.iter().any(|f| p.is_within(f) || f.is_within(p));
    let entries: Vec<Entry> = index.iter().filter(|e| wanted(&e.path)).cloned().collect();
    let states: Vec<(Entry, FileState)> = entries
        .into_par_iter()
        .map(|e| {
            let state =
                check_entry(root, &index, store, &e, None).map_err(read_err_at(root, &e.path))?;
            Ok::<_, Error>((e, state))
        })
        .collect::<Result<_, _>>()?;
    for (mut e, state) in states {
        match state {
            FileState::Modified {
                id,
                size,
                kind,
                executable,
                stat,
            } => {
                e.id = id;
                e.size = size;
                e.kind = kind;
                e.executable = executable;
                e.stat = stat;
                index.upsert(e);
            }
            FileState::Deleted => {
                index.remove(&e.path);
            }
            _ => {}
        }
    }
    let roots: Vec<RepoPath> = index
        .roots()
        .iter()
        .filter(|r| wanted(r))
        .cloned()
        .collect();
    for r in roots {
        if !real_dirs::is_real_dir(root, &r) {
            continue;
        }
        let walked = walk(root, &r, ws.git().is_some())?;
        let untracked: Vec<Found> = walked
            .files
            .into_iter()
            .filter(|f| index.get(&f.path).is_none())
            .collect();
        for f in &untracked {
            expand_to(&mut index, store, &f.path)?;
        }
        let changed: Vec<Option<Entry>> = untracked
            .par_iter()
            .map(|f| match index.get(&f.path) {
                // Below a not-fetched directory whose tree has this path.
                Some(entry) => changed_entry(root, &index, store, entry, f),
                None => hash_new(root, f).map(Some),
            })
            .collect::<Result<_, _>>()?;
        for e in changed.into_iter().flatten() {
            index.upsert(e);
        }
    }
    Ok(index)
}

/// `entry` (not fetched) with what `f` holds now, or `None` when it holds the recorded
/// bytes (fetched by hand).
fn changed_entry(
    root: &Path,
    index: &Index,
    store: &crate::store::Store,
    entry: &Entry,
    f: &Found,
) -> Result<Option<Entry>, Error> {
    let state = check_entry(root, index, store, entry, Some(f.observed()))
        .map_err(read_err_at(root, &f.path))?;
    let FileState::Modified {
        id,
        size,
        kind,
        executable,
        stat,
    } = state
    else {
        return Ok(None);
    };
    Ok(Some(Entry {
        id,
        size,
        kind,
        executable,
        stat,
        not_fetched: false,
        ..entry.clone()
    }))
}

fn hash_new(root: &Path, f: &Found) -> Result<Entry, Error> {
    let abs = f.path.to_fs_path(root);
    let (id, size) = hash_path(&abs, f.kind).map_err(read_err(&abs))?;
    let kind = if f.kind == FileKind::Symlink {
        Kind::Symlink
    } else {
        Kind::File
    };
    let mut e = Entry::not_fetched(f.path.clone(), kind, f.stat.is_executable(), id, size);
    e.not_fetched = false;
    Ok(e)
}
