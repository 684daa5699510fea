//! `dvx drop <paths>`: free the local bytes a remote verifiably holds.
//!
//! As git-annex's drop does, the remote is asked first: every id must be in its catalog
//! (a pack index it lists, or a large object it stores), and what holds it must stand:
//! the pack there at least as long as its index says, the large object's seek table
//! sound against its id and length. Else nothing happens and the files are named, with
//! the damage found. The packed bytes are not re-read (`fsck --remote` does that).
//! Then the files leave the work tree and become not fetched (index), and their
//! objects leave the local store unless a fetched file of some work tree still uses
//! them. Refs are not considered: an object a commit needs may go, because
//! the remote holds it and a pull brings it back. `gc` never needs the network; freeing
//! what a remote holds is this command's job.

use std::path::{Path, PathBuf};

use super::{Error, listed};
use crate::hash::ObjectId;
use crate::path::RepoPath;
use crate::remote::RemoteSource;
use crate::remote::transfer::catalog::Doubt;
use crate::repo::RepoLock;
use crate::workspace::{self, Workspace};

/// What a drop did.
#[derive(Debug, Default)]
pub struct Dropped {
    /// Files deleted from the work tree (now not fetched).
    pub deleted: Vec<RepoPath>,
    /// Files selected (deleted, or not in the work tree already).
    pub files: usize,
    /// Objects removed from the local store, with their sizes.
    pub freed: Vec<(ObjectId, u64)>,
    /// Objects kept because a fetched file of some work tree uses them.
    pub kept: usize,
}

/// Drop the files `specs` (paths or globs, relative to `cwd`) select, if `source`'s
/// remote holds every one of their objects.
pub fn drop(
    ws: &Workspace,
    lock: &RepoLock,
    cwd: &Path,
    specs: &[PathBuf],
    source: &RemoteSource,
) -> Result<Dropped, Error> {
    let mut index = ws.load_index()?;
    let plan = workspace::plan_drop(ws, &index, cwd, specs, source)?;
    let ids = plan.ids();
    let unsound = source.remote()?.unsound(&ids)?;
    if !unsound.is_empty() {
        let absent: Vec<ObjectId> = unsound.iter().map(|(id, _)| *id).collect();
        let named: Vec<String> = plan
            .files
            .iter()
            .filter(|(_, id)| absent.binary_search(id).is_ok())
            .map(|(path, _)| path.to_string())
            .collect();
        // Say why only where the remote lists the object but cannot back it: a lost or
        // cut pack, a damaged large object.
        let damage = unsound.iter().find_map(|(_, doubt)| match doubt {
            Doubt::Damaged(why) => Some(why.clone()),
            Doubt::Absent => None,
        });
        return Err(Error::NotOnRemote {
            remote: source.name().to_owned(),
            count: named.len(),
            list: listed(&named),
            damage,
            ids: absent,
        });
    }
    let done = workspace::apply_drop(ws, lock, &mut index, &plan)?;
    let needed = workspace::still_needed(ws, &index, &ids)?;
    let store = ws.repo().store();
    let mut out = Dropped {
        deleted: done.deleted,
        files: plan.files.len(),
        ..Dropped::default()
    };
    let mut freeing = Vec::with_capacity(ids.len());
    for id in ids {
        if needed.contains(&id) {
            out.kept += 1;
        } else {
            freeing.push(id);
        }
    }
    out.freed = store.remove_all(&freeing)?;
    Ok(out)
}
