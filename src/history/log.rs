//! Walking history, newest first.

use std::collections::{BinaryHeap, HashSet};

use super::Error;
use super::diff::lookup;
use crate::hash::ObjectId;
use crate::object::Commit;
use crate::path::RepoPath;
use crate::store::Store;

/// Commits reachable from `starts`, newest first (by commit time, then id), each once.
pub struct Walk<'a> {
    store: &'a Store,
    queue: BinaryHeap<(i64, ObjectId)>,
    seen: HashSet<ObjectId>,
}

impl<'a> Walk<'a> {
    pub fn new(store: &'a Store, starts: &[ObjectId]) -> Result<Walk<'a>, Error> {
        let mut walk = Walk {
            store,
            queue: BinaryHeap::new(),
            seen: HashSet::new(),
        };
        for id in starts {
            walk.push(*id)?;
        }
        Ok(walk)
    }

    fn push(&mut self, id: ObjectId) -> Result<(), Error> {
        if self.seen.insert(id) {
            let time = self.store.read_commit(&id)?.author.time;
            self.queue.push((time, id));
        }
        Ok(())
    }
}

impl Iterator for Walk<'_> {
    type Item = Result<(ObjectId, Commit), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let (_, id) = self.queue.pop()?;
        let commit = match self.store.read_commit(&id) {
            Ok(c) => c,
            Err(e) => return Some(Err(e.into())),
        };
        for parent in &commit.parents {
            if let Err(e) = self.push(*parent) {
                return Some(Err(e));
            }
        }
        Some(Ok((id, commit)))
    }
}

/// Whether `commit` changed anything at or below one of `paths` compared with its
/// parents: a merge that matches any parent there is skipped, as in git.
pub fn touches(store: &Store, commit: &Commit, paths: &[RepoPath]) -> Result<bool, Error> {
    let here: Vec<_> = paths
        .iter()
        .map(|p| lookup(store, commit.tree, p).map(|i| i.map(|i| (i.kind, i.id, i.executable))))
        .collect::<Result<_, _>>()?;
    if commit.parents.is_empty() {
        return Ok(here.iter().any(Option::is_some));
    }
    for parent in &commit.parents {
        let tree = store.read_commit(parent)?.tree;
        let there: Vec<_> = paths
            .iter()
            .map(|p| lookup(store, tree, p).map(|i| i.map(|i| (i.kind, i.id, i.executable))))
            .collect::<Result<_, _>>()?;
        if there == here {
            return Ok(false);
        }
    }
    Ok(true)
}
