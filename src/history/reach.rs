//! What is reachable from a set of commits and trees.
//!
//! Commits lead to their parents, trees and run records; trees to their entries. Blobs
//! are marked without being read (they may legitimately be absent: not fetched). A
//! commit or tree that cannot be read is recorded as missing, with what led to it.

use std::collections::HashSet;

use super::Error;
use crate::hash::ObjectId;
use crate::object::EntryKind;
use crate::store::{self, Store};

/// An object that should be there and is not (or cannot be decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub id: ObjectId,
    pub kind: &'static str,
    /// What pointed at it.
    pub via: String,
    pub problem: String,
}

/// Accumulates reachable objects.
pub struct Marker<'a> {
    store: &'a Store,
    pub seen: HashSet<ObjectId>,
    pub missing: Vec<Missing>,
}

impl<'a> Marker<'a> {
    pub fn new(store: &'a Store) -> Marker<'a> {
        Marker {
            store,
            seen: HashSet::new(),
            missing: Vec::new(),
        }
    }

    fn note(&mut self, id: ObjectId, kind: &'static str, via: &str, err: Error) {
        let problem = match err {
            Error::Store(store::Error::Missing { .. }) => "not in the local store".to_owned(),
            other => other.to_string(),
        };
        self.missing.push(Missing {
            id,
            kind,
            via: via.to_owned(),
            problem,
        });
    }

    /// Mark a commit and everything it reaches.
    pub fn commit(&mut self, id: ObjectId, via: &str) {
        let mut stack = vec![(id, via.to_owned())];
        while let Some((id, via)) = stack.pop() {
            if !self.seen.insert(id) {
                continue;
            }
            match self.store.read_commit(&id) {
                Ok(commit) => {
                    let here = format!("commit {}", id.short());
                    self.tree(commit.tree, &here);
                    for run in commit.runs {
                        self.seen.insert(run);
                    }
                    for parent in commit.parents {
                        stack.push((parent, here.clone()));
                    }
                }
                Err(e) => self.note(id, "commit", &via, e.into()),
            }
        }
    }

    /// Mark a tree and everything below it.
    pub fn tree(&mut self, id: ObjectId, via: &str) {
        let mut stack = vec![(id, via.to_owned())];
        while let Some((id, via)) = stack.pop() {
            if !self.seen.insert(id) {
                continue;
            }
            match self.store.read_tree(&id) {
                Ok(tree) => {
                    for e in tree.entries {
                        match e.kind {
                            EntryKind::Dir => stack.push((e.id, format!("tree {}", id.short()))),
                            EntryKind::File | EntryKind::Symlink => {
                                self.seen.insert(e.id);
                            }
                        }
                    }
                }
                Err(e) => self.note(id, "tree", &via, e.into()),
            }
        }
    }

    /// Mark a blob (not read).
    pub fn blob(&mut self, id: ObjectId) {
        self.seen.insert(id);
    }
}
