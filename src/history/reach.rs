//! What is reachable from a set of commits and trees, by kind.
//!
//! Commits lead to their parents, trees and run records; trees to their entries; run
//! records to the trees and blobs of their deps and outs. Blobs are marked without
//! being read. A commit, tree or run record that cannot be read is recorded as missing,
//! with what led to it. Blobs may legitimately be absent when a remote holds
//! them (not fetched), so gc only marks them; fsck, with no remote to fetch from, also
//! checks them against the store's listing and records absent ones with the paths that
//! need them.
//!
//! An "already have" set ([`Marker::with_have`]) names commits whose whole closure is
//! skipped: what a receiver holding them lacks is what is left, as in git's push
//! negotiation, where the remote's refs are the commits it has.

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

/// The objects a walk reached, by kind. An object that could not be read is not here
/// (it is [`Missing`]).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reachable {
    pub commits: HashSet<ObjectId>,
    pub trees: HashSet<ObjectId>,
    /// Named by a tree or the index; not read, so not necessarily local.
    pub blobs: HashSet<ObjectId>,
    /// Run records named by commits (none until lineage records runs).
    pub runs: HashSet<ObjectId>,
}

impl Reachable {
    pub fn contains(&self, id: &ObjectId) -> bool {
        self.commits.contains(id)
            || self.trees.contains(id)
            || self.blobs.contains(id)
            || self.runs.contains(id)
    }

    /// Objects of every kind.
    pub fn len(&self) -> usize {
        self.commits.len() + self.trees.len() + self.blobs.len() + self.runs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Accumulates reachable objects.
pub struct Marker<'a> {
    store: &'a Store,
    reached: Reachable,
    /// The closure of the "already have" commits: skipped by every walk.
    have: HashSet<ObjectId>,
    /// Commits and trees that could not be read, each reported once in `missing`.
    unreadable: HashSet<ObjectId>,
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
            reached: Reachable::default(),
            have: HashSet::new(),
            unreadable: HashSet::new(),
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

    /// Skip everything reachable from `commits` (what a receiver already has): the
    /// walks that follow neither report nor enter it. A commit or tree of theirs that is
    /// not local is passed over silently; the receiver has it, and what lies below it
    /// cannot be known here, so it is not skipped.
    pub fn with_have(mut self, commits: &[ObjectId]) -> Marker<'a> {
        let mut stack: Vec<ObjectId> = commits.to_vec();
        let mut trees = Vec::new();
        while let Some(id) = stack.pop() {
            if !self.have.insert(id) {
                continue;
            }
            let Ok(commit) = self.store.read_commit(&id) else {
                continue;
            };
            trees.push(commit.tree);
            self.have.extend(commit.runs);
            stack.extend(commit.parents);
        }
        while let Some(id) = trees.pop() {
            if !self.have.insert(id) {
                continue;
            }
            let Ok(tree) = self.store.read_tree(&id) else {
                continue;
            };
            for e in tree.entries {
                match e.kind {
                    EntryKind::Dir => trees.push(e.id),
                    EntryKind::File | EntryKind::Symlink => {
                        self.have.insert(e.id);
                    }
                }
            }
        }
        self
    }

    /// What the walks so far reached (minus the "already have" closure).
    pub fn reached(&self) -> &Reachable {
        &self.reached
    }

    /// The objects reached, and those that should be there and are not.
    pub fn finish(self) -> (Reachable, Vec<Missing>) {
        (self.reached, self.missing)
    }

    /// Not to be walked (again): reached, unreadable, or already had.
    fn skip(&self, id: &ObjectId, reached: impl Fn(&Reachable) -> &HashSet<ObjectId>) -> bool {
        reached(&self.reached).contains(id)
            || self.unreadable.contains(id)
            || self.have.contains(id)
    }

    fn note(&mut self, id: ObjectId, kind: &'static str, via: &str, err: Error) {
        let problem = match err {
            Error::Store(store::Error::Missing { .. }) => "not in the local store".to_owned(),
            other => other.to_string(),
        };
        self.unreadable.insert(id);
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
            if self.skip(&id, |r| &r.commits) {
                continue;
            }
            match self.store.read_commit(&id) {
                Ok(commit) => {
                    self.reached.commits.insert(id);
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
        if self.skip(&id, |r| &r.runs) {
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
                self.reached.runs.insert(id);
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
            if self.skip(&id, |r| &r.trees) {
                continue;
            }
            match self.store.read_tree(&id) {
                Ok(tree) => {
                    self.reached.trees.insert(id);
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
        if !self.have.contains(&id) {
            self.reached.blobs.insert(id);
        }
    }

    /// Mark a blob that `path` in `origin` needs, recording it as missing when blobs are
    /// checked and it is absent.
    pub fn blob_at(&mut self, id: ObjectId, path: &RepoPath, origin: &str) {
        self.blob(id);
        if self.is_absent(&id) {
            self.record_absent(id, || path.clone(), origin);
        }
    }

    /// [`Marker::blob_at`] for the entry `name` of the tree at `dir`; the path is only
    /// built for an absent blob.
    fn blob_below(&mut self, id: ObjectId, dir: &RepoPath, name: &str, via: &str) {
        self.blob(id);
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

/// Everything reachable from `commits` except the closure of `have` (commits the
/// receiver already has): for a push, the objects a remote whose refs point at `have`
/// lacks. A commit or tree on the way that cannot be read is an error naming it.
pub fn reachable(
    store: &Store,
    commits: &[ObjectId],
    have: &[ObjectId],
) -> Result<Reachable, Error> {
    let mut marker = Marker::new(store).with_have(have);
    for id in commits {
        marker.commit(*id, "the commits asked for");
    }
    let (reached, missing) = marker.finish();
    match missing.into_iter().next() {
        Some(m) => Err(Error::Unreadable {
            kind: m.kind,
            id: m.id,
            via: m.via,
            problem: m.problem,
        }),
        None => Ok(reached),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::{Artifact, Origin, Tree, TreeEntry};

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
        assert!(marker.reached().blobs.contains(&gone));

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

    fn commit(
        store: &Store,
        tree: ObjectId,
        parents: Vec<ObjectId>,
        runs: Vec<ObjectId>,
    ) -> ObjectId {
        use crate::object::{Commit, Signature};
        store
            .put(&Commit {
                tree,
                parents,
                author: Signature {
                    name: "T".into(),
                    email: "t@example.com".into(),
                    time: 0,
                    tz_minutes: 0,
                },
                message: "m\n".into(),
                git: None,
                runs,
                extensions: Vec::new(),
            })
            .expect("put commit")
    }

    /// Two commits: the first has `data/a` and `data/b`; the second changes `b` and adds
    /// `c`, sharing the first's `a`.
    struct History {
        store: Store,
        _dir: tempfile::TempDir,
        first: ObjectId,
        second: ObjectId,
        first_tree: ObjectId,
        second_tree: ObjectId,
        first_data: ObjectId,
        second_data: ObjectId,
        a: ObjectId,
        b1: ObjectId,
        b2: ObjectId,
        c: ObjectId,
        run: ObjectId,
    }

    fn history() -> History {
        let (dir, store) = Store::scratch();
        let (a, b1, b2, c) = (
            store.put_bytes(b"a").expect("put"),
            store.put_bytes(b"b1").expect("put"),
            store.put_bytes(b"b2").expect("put"),
            store.put_bytes(b"c").expect("put"),
        );
        let dir_of = |tree: ObjectId| entry("data", EntryKind::Dir, tree);
        let first_data = store
            .put(&Tree::from_unsorted(vec![
                entry("a", EntryKind::File, a),
                entry("b", EntryKind::File, b1),
            ]))
            .expect("put");
        let second_data = store
            .put(&Tree::from_unsorted(vec![
                entry("a", EntryKind::File, a),
                entry("b", EntryKind::File, b2),
                entry("c", EntryKind::Symlink, c),
            ]))
            .expect("put");
        let first_tree = store
            .put(&Tree::from_unsorted(vec![dir_of(first_data)]))
            .expect("put");
        let second_tree = store
            .put(&Tree::from_unsorted(vec![dir_of(second_data)]))
            .expect("put");
        // A run that read `data/a` and wrote `data/c`, both in the second tree.
        let artifact = |path: &str, kind, id| Artifact {
            path: RepoPath::new(path).expect("path"),
            kind,
            executable: false,
            size: 1,
            id,
        };
        let run = store
            .put(&RunRecord {
                command: vec!["make".into()],
                origin: Origin::Ran,
                cwd: RepoPath::root(),
                deps: vec![artifact("data/a", EntryKind::File, a)],
                code: vec![],
                outs: vec![artifact("data/c", EntryKind::Symlink, c)],
                env: vec![],
                exit_code: 0,
                started: 0,
                ended: 0,
                git: None,
                extensions: vec![],
            })
            .expect("put");
        let first = commit(&store, first_tree, Vec::new(), Vec::new());
        let second = commit(&store, second_tree, vec![first], vec![run]);
        History {
            store,
            _dir: dir,
            first,
            second,
            first_tree,
            second_tree,
            first_data,
            second_data,
            a,
            b1,
            b2,
            c,
            run,
        }
    }

    fn set(ids: &[ObjectId]) -> HashSet<ObjectId> {
        ids.iter().copied().collect()
    }

    #[test]
    fn reachability_is_typed_by_kind() {
        let h = history();
        let reached = reachable(&h.store, &[h.second], &[]).expect("walk");
        assert_eq!(reached.commits, set(&[h.first, h.second]));
        assert_eq!(
            reached.trees,
            set(&[h.first_tree, h.second_tree, h.first_data, h.second_data])
        );
        assert_eq!(reached.blobs, set(&[h.a, h.b1, h.b2, h.c]));
        assert_eq!(reached.runs, set(&[h.run]));
        assert_eq!(reached.len(), 11);
        assert!(reached.contains(&h.run) && reached.contains(&h.c));
    }

    #[test]
    fn the_closure_of_the_have_set_is_skipped() {
        let h = history();
        // A receiver that has the first commit lacks only what the second added.
        let lacks = reachable(&h.store, &[h.second], &[h.first]).expect("walk");
        assert_eq!(lacks.commits, set(&[h.second]));
        assert_eq!(lacks.trees, set(&[h.second_tree, h.second_data]));
        assert_eq!(
            lacks.blobs,
            set(&[h.b2, h.c]),
            "a is shared with the first commit"
        );
        assert_eq!(lacks.runs, set(&[h.run]));

        // Having everything leaves nothing; having nothing (or only commits this store
        // does not know) leaves everything.
        assert!(
            reachable(&h.store, &[h.second], &[h.second])
                .expect("walk")
                .is_empty()
        );
        let unknown = ObjectId::of(b"a commit only the remote knows");
        assert_eq!(
            reachable(&h.store, &[h.second], &[unknown]).expect("walk"),
            reachable(&h.store, &[h.second], &[]).expect("walk")
        );
        // Wanting what is had is nothing to send.
        assert!(
            reachable(&h.store, &[h.first], &[h.second])
                .expect("walk")
                .is_empty()
        );
    }

    #[test]
    fn an_unreadable_wanted_object_is_an_error_naming_it() {
        let h = history();
        h.store.remove(&h.second_data).expect("rm");
        match reachable(&h.store, &[h.second], &[]) {
            Err(Error::Unreadable { kind, id, .. }) => {
                assert_eq!((kind, id), ("tree", h.second_data));
            }
            other => panic!("expected an unreadable tree, got {other:?}"),
        }
        // A have-set whose closure cannot be read in full still skips what it can, and
        // is no error: the receiver has it.
        assert!(
            reachable(&h.store, &[h.first], &[h.second])
                .expect("walk")
                .is_empty()
        );
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
        let empty = store.put(&Tree::default()).expect("put");
        let listing = commit(&store, empty, vec![], vec![run]);
        let mut marker = Marker::new(&store);
        marker.commit(listing, "refs/heads/main");
        assert!(marker.missing.is_empty(), "{:?}", marker.missing);
        let reached = marker.reached();
        assert!(reached.runs.contains(&run), "the run record is reachable");
        assert!(
            reached.trees.contains(&outs),
            "its out directory is reachable"
        );
        for blob in [input, below] {
            assert!(reached.blobs.contains(&blob), "{blob:?} is reachable");
        }

        let gone = ObjectId::of(b"no such run");
        let listing = commit(&store, empty, vec![], vec![gone]);
        let mut marker = Marker::new(&store);
        marker.commit(listing, "refs/heads/main");
        assert_eq!(marker.missing.len(), 1);
        assert_eq!(marker.missing[0].id, gone);
        assert_eq!(marker.missing[0].kind, "run record");
        assert!(marker.missing[0].via.contains(&listing.short()));
    }
}
