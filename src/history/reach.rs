//! What is reachable from a set of commits and trees.
//!
//! Commits lead to their parents, trees and run records; trees to their entries; run
//! records to the trees and blobs of their deps and outs. Blobs are marked without
//! being read. A commit, tree or run record that cannot be read is recorded as missing,
//! with what led to it. Blobs may legitimately be absent when a remote holds
//! them (not fetched), so gc only marks them; fsck, with no remote to fetch from, also
//! checks them against the store's listing and records absent ones with the paths that
//! need them.

use std::collections::{HashMap, HashSet};

use super::Error;
use crate::hash::ObjectId;
use crate::object::{Encode, EntryKind, RunRecord};
use crate::path::RepoPath;
use crate::store::{self, Store};

/// Paths listed at most per missing blob (a blob at the same path in many commits is
/// listed once; one copied to very many paths is not listed in full).
const MAX_PATHS: usize = 10;

/// An object that should be there and is not (or cannot be decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub id: ObjectId,
    pub kind: &'static str,
    /// What pointed at it (for a blob: the commit and the ref the walk came from, or the
    /// index).
    pub via: String,
    pub problem: String,
    /// For a blob: the paths that need it (the first few), from the top.
    pub paths: Vec<RepoPath>,
}

/// Accumulates reachable objects.
pub struct Marker<'a> {
    store: &'a Store,
    pub seen: HashSet<ObjectId>,
    pub missing: Vec<Missing>,
    /// When set, the ids in the store, sorted: blobs not among them are missing.
    present: Option<&'a [ObjectId]>,
    /// Where each absent blob is in `missing`, so later paths join its entry.
    absent_blobs: HashMap<ObjectId, usize>,
}

/// One tree still to walk: its id, what led to it, and where it lies.
struct Pending {
    id: ObjectId,
    via: String,
    dir: RepoPath,
}

impl<'a> Marker<'a> {
    /// A marker that only marks blobs (gc: absent blobs may be on a remote).
    pub fn new(store: &'a Store) -> Marker<'a> {
        Marker {
            store,
            seen: HashSet::new(),
            missing: Vec::new(),
            present: None,
            absent_blobs: HashMap::new(),
        }
    }

    /// A marker that also records blobs absent from `present` (the store's ids, sorted)
    /// as missing, with their paths: a stat-free check, since the ids are already listed.
    pub fn checking_blobs(store: &'a Store, present: &'a [ObjectId]) -> Marker<'a> {
        debug_assert!(present.windows(2).all(|w| w[0] <= w[1]));
        Marker {
            present: Some(present),
            ..Marker::new(store)
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
            paths: Vec::new(),
        });
    }

    /// Mark a commit and everything it reaches; `via` names what points at it (a ref).
    pub fn commit(&mut self, id: ObjectId, via: &str) {
        let mut stack = vec![(id, via.to_owned())];
        while let Some((id, reached_by)) = stack.pop() {
            if !self.seen.insert(id) {
                continue;
            }
            match self.store.read_commit(&id) {
                Ok(commit) => {
                    let here = format!("commit {}", id.short());
                    // Blobs name their commit and the ref the walk started from.
                    let origin = format!("{here} from {via}");
                    self.walk_tree(commit.tree, &here, RepoPath::root(), &origin);
                    for run in commit.runs {
                        self.run(run, &origin);
                    }
                    for parent in commit.parents {
                        stack.push((parent, here.clone()));
                    }
                }
                Err(e) => self.note(id, "commit", &reached_by, e.into()),
            }
        }
    }

    /// Mark a run record and the trees and blobs of its deps and outs; `via` names the
    /// commit that lists it.
    fn run(&mut self, id: ObjectId, via: &str) {
        if !self.seen.insert(id) {
            return;
        }
        let record = self.store.read(&id).and_then(|bytes| {
            RunRecord::decode(&bytes).map_err(|source| store::Error::Decode {
                id,
                kind: "run record",
                source,
            })
        });
        match record {
            Ok(record) => {
                let here = format!("run record {} in {via}", id.short());
                for artifact in record.deps.iter().chain(&record.outs) {
                    match artifact.kind {
                        EntryKind::Dir => {
                            self.walk_tree(artifact.id, &here, artifact.path.clone(), &here)
                        }
                        EntryKind::File | EntryKind::Symlink => {
                            self.blob_at(artifact.id, &artifact.path, &here)
                        }
                    }
                }
            }
            Err(e) => self.note(id, "run record", via, e.into()),
        }
    }

    /// Mark a tree and everything below it.
    pub fn tree(&mut self, id: ObjectId, via: &str) {
        self.walk_tree(id, via, RepoPath::root(), via);
    }

    /// Mark a tree that lies at `dir` (an index entry for a directory that is not
    /// fetched), so blobs below it are named by their full paths; `origin` names what
    /// needs them.
    pub fn tree_at(&mut self, id: ObjectId, via: &str, dir: &RepoPath, origin: &str) {
        self.walk_tree(id, via, dir.clone(), origin);
    }

    fn walk_tree(&mut self, id: ObjectId, via: &str, dir: RepoPath, origin: &str) {
        let mut stack = vec![Pending {
            id,
            via: via.to_owned(),
            dir,
        }];
        while let Some(Pending { id, via, dir }) = stack.pop() {
            if !self.seen.insert(id) {
                continue;
            }
            match self.store.read_tree(&id) {
                Ok(tree) => {
                    for e in tree.entries {
                        match e.kind {
                            EntryKind::Dir => stack.push(Pending {
                                id: e.id,
                                via: format!("tree {}", id.short()),
                                dir: dir.join_unchecked(&e.name),
                            }),
                            EntryKind::File | EntryKind::Symlink => {
                                self.blob_below(e.id, &dir, &e.name, origin)
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

    /// Mark a blob that `path` in `origin` needs, recording it as missing when blobs are
    /// checked and it is absent.
    pub fn blob_at(&mut self, id: ObjectId, path: &RepoPath, origin: &str) {
        self.seen.insert(id);
        if self.is_absent(&id) {
            self.record_absent(id, || path.clone(), origin);
        }
    }

    /// [`Marker::blob_at`] for the entry `name` of the tree at `dir`; the path is only
    /// built for an absent blob.
    fn blob_below(&mut self, id: ObjectId, dir: &RepoPath, name: &str, via: &str) {
        self.seen.insert(id);
        if self.is_absent(&id) {
            self.record_absent(id, || dir.join_unchecked(name), via);
        }
    }

    fn is_absent(&self, id: &ObjectId) -> bool {
        self.present
            .is_some_and(|ids| ids.binary_search(id).is_err())
    }

    fn record_absent(&mut self, id: ObjectId, path: impl FnOnce() -> RepoPath, via: &str) {
        match self.absent_blobs.get(&id) {
            Some(&at) => {
                let entry = &mut self.missing[at];
                if entry.paths.len() < MAX_PATHS {
                    let path = path();
                    if !entry.paths.contains(&path) {
                        entry.paths.push(path);
                    }
                }
            }
            None => {
                self.absent_blobs.insert(id, self.missing.len());
                self.missing.push(Missing {
                    id,
                    kind: "blob",
                    via: via.to_owned(),
                    problem: "not in the local store".into(),
                    paths: vec![path()],
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::{Artifact, Commit, Origin, Signature, Tree, TreeEntry};

    fn entry(name: &str, kind: EntryKind, id: ObjectId) -> TreeEntry {
        TreeEntry {
            name: name.into(),
            kind,
            executable: false,
            root: false,
            size: 1,
            id,
        }
    }

    #[test]
    fn absent_blobs_are_missing_with_their_paths_only_when_checked() {
        let (_dir, store) = Store::scratch();
        let here = store.put_bytes(b"here").expect("put");
        let gone = ObjectId::of(b"gone");
        let sub = store
            .put(&Tree::from_unsorted(vec![
                entry("copy", EntryKind::File, gone),
                entry("here", EntryKind::File, here),
            ]))
            .expect("put");
        let top = store
            .put(&Tree::from_unsorted(vec![
                entry("gone", EntryKind::File, gone),
                entry("sub", EntryKind::Dir, sub),
            ]))
            .expect("put");

        // gc's marker: absent blobs may be on a remote.
        let mut marker = Marker::new(&store);
        marker.tree(top, "test");
        assert!(marker.missing.is_empty());
        assert!(marker.seen.contains(&gone));

        let mut present = store.list().expect("list");
        present.sort();
        let mut marker = Marker::checking_blobs(&store, &present);
        let dir = RepoPath::new("data").expect("path");
        marker.tree_at(top, "index entry data", &dir, "the index");
        let path = RepoPath::new("elsewhere/gone").expect("path");
        marker.blob_at(gone, &path, "the index");
        marker.blob_at(here, &path, "the index");
        let paths: Vec<&str> = marker.missing[0].paths.iter().map(|p| p.as_str()).collect();
        assert_eq!(marker.missing.len(), 1, "{:?}", marker.missing);
        assert_eq!(marker.missing[0].id, gone);
        assert_eq!(marker.missing[0].kind, "blob");
        assert_eq!(marker.missing[0].via, "the index");
        assert_eq!(paths, ["data/gone", "data/sub/copy", "elsewhere/gone"]);
    }

    fn commit_listing(store: &Store, runs: Vec<ObjectId>) -> ObjectId {
        let tree = store.put(&Tree::default()).expect("put");
        store
            .put(&Commit {
                tree,
                parents: vec![],
                author: Signature {
                    name: "A".into(),
                    email: "a@b".into(),
                    time: 0,
                    tz_minutes: 0,
                },
                message: "m\n".into(),
                git: None,
                runs,
                extensions: vec![],
            })
            .expect("put")
    }

    /// gc keeps what a run record names even where no tree names it, and a run record
    /// that cannot be read stops it (reported as missing, with the commit that lists it).
    #[test]
    fn run_records_lead_to_their_deps_and_outs() {
        let (_dir, store) = Store::scratch();
        let input = store.put_bytes(b"input").expect("put");
        let below = store.put_bytes(b"checkpoint").expect("put");
        let outs = store
            .put(&Tree::from_unsorted(vec![entry(
                "e1.pt",
                EntryKind::File,
                below,
            )]))
            .expect("put");
        let artifact = |path: &str, kind, id| Artifact {
            path: RepoPath::new(path).expect("path"),
            kind,
            executable: false,
            size: 1,
            id,
        };
        let run = store
            .put(&RunRecord {
                command: vec!["train".into()],
                origin: Origin::Ran,
                cwd: RepoPath::root(),
                deps: vec![artifact("data.csv", EntryKind::File, input)],
                code: vec![],
                outs: vec![artifact("ckpt", EntryKind::Dir, outs)],
                env: vec![],
                exit_code: 0,
                started: 0,
                ended: 0,
                git: None,
                extensions: vec![],
            })
            .expect("put");
        let commit = commit_listing(&store, vec![run]);
        let mut marker = Marker::new(&store);
        marker.commit(commit, "refs/heads/main");
        assert!(marker.missing.is_empty(), "{:?}", marker.missing);
        for id in [run, input, outs, below] {
            assert!(marker.seen.contains(&id), "{id:?} is reachable");
        }

        let gone = ObjectId::of(b"no such run");
        let commit = commit_listing(&store, vec![gone]);
        let mut marker = Marker::new(&store);
        marker.commit(commit, "refs/heads/main");
        assert_eq!(marker.missing.len(), 1);
        assert_eq!(marker.missing[0].id, gone);
        assert_eq!(marker.missing[0].kind, "run record");
        assert!(marker.missing[0].via.contains(&commit.short()));
    }
}
