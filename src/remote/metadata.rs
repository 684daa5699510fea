//! Fetching history from a remote: commits, trees and run records, never file contents.
//!
//! Owns: bringing the closure of some commits (their ancestors, every tree below them,
//! the run records they list) into the local store, verified like every download, so
//! that a clone with no history can plan a checkout, trace a file, or pull a path.
//! Blobs are left on the remote: what the work tree needs of them is a pull's business.
//! Does not move any ref (the caller does, after this returns, so a ref never names a
//! commit whose history is not local) and does not decide which commits are wanted.
//!
//! The walk goes wave by wave: each wave's objects are downloaded in one batch (the
//! remote's pack indexes read once, whole, and cached first, so later waves cost only
//! their ranged GETs), then decoded to find the next wave: parents and trees of commits,
//! subtrees of trees. Objects already local are read locally and walked through, so a
//! walk cut short earlier is completed, not trusted.

use std::collections::HashSet;

use super::{Error, Remote, TransferStats};
use crate::hash::ObjectId;
use crate::object::{Encode, EntryKind, RunRecord};
use crate::path::RepoPath;
use crate::progress::{Progress, Unit};
use crate::store::source::distinct;
use crate::store::{self, Store};
use crate::workspace::never_tracked;

/// What a metadata fetch brought.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// Commits, trees and run records downloaded (the rest of the closure was local).
    pub commits: usize,
    pub trees: usize,
    pub runs: usize,
    /// What it cost: the pack indexes read, and the downloads.
    pub stats: TransferStats,
}

/// What a queued object is, known from what named it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Commit,
    /// The top tree of a commit.
    RootTree,
    Tree,
    Run,
}

/// Bring every commit, tree and run record reachable from `commits` into `store` from
/// `remote`, each verified before it enters; the store is flushed at the end. An object
/// the remote does not hold is an error naming it.
pub fn fetch_history(
    remote: &Remote,
    store: &Store,
    commits: &[ObjectId],
    progress: &dyn Progress,
) -> Result<Fetched, Error> {
    let mut out = Fetched::default();
    let before = remote.totals();
    // By kind too: a tree that is a commit's top tree somewhere and a subtree elsewhere
    // is checked for both places.
    let mut seen: HashSet<(ObjectId, Kind)> = HashSet::new();
    let mut wave: Vec<(ObjectId, Kind)> = commits
        .iter()
        .filter(|id| seen.insert((**id, Kind::Commit)))
        .map(|id| (*id, Kind::Commit))
        .collect();
    let mut indexes_loaded = false;
    progress.start("fetching history", None, Unit::Files);
    while !wave.is_empty() {
        let absent: Vec<ObjectId> = distinct(
            &wave
                .iter()
                .filter(|(id, _)| !store.contains(id))
                .map(|(id, _)| *id)
                .collect::<Vec<_>>(),
        );
        if !absent.is_empty() {
            if !indexes_loaded {
                remote.load_indexes()?;
                indexes_loaded = true;
            }
            remote.download(store, &absent, progress)?;
            let mut absent: HashSet<ObjectId> = absent.into_iter().collect();
            for (id, kind) in &wave {
                if absent.remove(id) {
                    match kind {
                        Kind::Commit => out.commits += 1,
                        Kind::Tree | Kind::RootTree => out.trees += 1,
                        Kind::Run => out.runs += 1,
                    }
                }
            }
        }
        let mut next = Vec::new();
        for (id, kind) in wave {
            let mut push = |id: ObjectId, kind: Kind| {
                if seen.insert((id, kind)) {
                    next.push((id, kind));
                }
            };
            match kind {
                Kind::Commit => {
                    let commit = store.read_commit(&id).map_err(transfer_err)?;
                    push(commit.tree, Kind::RootTree);
                    for parent in commit.parents {
                        push(parent, Kind::Commit);
                    }
                    for run in commit.runs {
                        push(run, Kind::Run);
                    }
                }
                Kind::Tree | Kind::RootTree => {
                    for entry in store.read_tree(&id).map_err(transfer_err)?.entries {
                        if let Some(why) = hostile(&entry.name, kind == Kind::RootTree) {
                            return Err(Error::HostileTree {
                                url: remote.url().to_owned(),
                                tree: id,
                                name: entry.name,
                                why,
                            });
                        }
                        if entry.kind == EntryKind::Dir {
                            push(entry.id, Kind::Tree);
                        }
                    }
                }
                // A run record's deps and outs are ids of its commit's tree, walked above;
                // it is only checked to be one.
                Kind::Run => {
                    let bytes = store.read(&id).map_err(transfer_err)?;
                    RunRecord::decode(&bytes)
                        .map_err(|source| store::Error::Decode {
                            id,
                            kind: "run record",
                            source,
                        })
                        .map_err(transfer_err)?;
                }
            }
        }
        wave = next;
    }
    progress.finish();
    store.flush().map_err(transfer_err)?;
    out.stats = remote.totals().since(&before);
    Ok(out)
}

/// Why a name in a fetched tree must never reach a work tree (`at_top`: in a commit's top
/// tree, where `dvx.lock` is git's pin), or `None`. Names are already valid (no `/`, not
/// `.` or `..`: decoding checks that); these would overwrite dvx's or git's own files.
fn hostile(name: &str, at_top: bool) -> Option<&'static str> {
    if name == crate::git::pin::FILE_NAME {
        return at_top.then_some("the pin of the data version, which git tracks");
    }
    let path = RepoPath::new(name).ok()?;
    never_tracked(&path)
}

fn transfer_err(e: store::Error) -> Error {
    Error::Transfer(e.into())
}
