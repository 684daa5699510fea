//! Which files are tracked at or below some paths, and which of them are absent.
//!
//! Owns: the one walk of the index that goes through not-fetched directories (an
//! unexpanded directory is one index entry holding a tree id; its files are read from
//! the stored tree), for `ls`, `cat`, restore and a pull that fetches what is absent
//! below a path. Whether bytes are local is asked of the [`ObjectSource`], never
//! decided here. Does not change the index.
//!
//! A file is *absent* when its bytes are in neither the work tree (its entry is not
//! fetched) nor the local store.

use std::collections::HashSet;

use rayon::prelude::*;

use super::Error;
use crate::hash::ObjectId;
use crate::history::diff::{self, Item};
use crate::index::{Entry, Index, Kind};
use crate::object::EntryKind;
use crate::path::RepoPath;
use crate::store::{ObjectSource, Store};

/// One tracked file or symlink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedFile {
    pub path: RepoPath,
    /// Its kind, executable bit, size and id (always set).
    pub item: Item,
    /// Its bytes are here: in the work tree, or in the local store.
    pub local: bool,
}

impl TrackedFile {
    pub fn id(&self) -> ObjectId {
        self.item.id.expect("tracked files have ids")
    }
}

/// Every file and symlink the index tracks at or below one of `paths` (the root path for
/// all), through not-fetched directories, in path order and without repeats.
pub fn tracked_files(
    index: &Index,
    objects: &dyn ObjectSource,
    paths: &[RepoPath],
) -> Result<Vec<TrackedFile>, Error> {
    let mut out = Vec::new();
    let mut ask = Vec::new();
    for path in paths {
        if let Some(cover) = index.tree_entry_covering(path) {
            let below = match path.strip_dir(&cover.path) {
                Some(rel) => RepoPath::new(rel).expect("a part of a valid path is valid"),
                None => RepoPath::root(),
            };
            let files = stored_files(objects, cover.id, &cover.path, &below)?;
            ask.extend(out.len()..out.len() + files.len());
            out.extend(files);
            continue;
        }
        for entry in index.iter_under(path) {
            match entry.kind {
                Kind::Tree => {
                    let files = stored_files(objects, entry.id, &entry.path, &RepoPath::root())?;
                    ask.extend(out.len()..out.len() + files.len());
                    out.extend(files);
                }
                Kind::File | Kind::Symlink => {
                    // A fetched entry's file is in the work tree (and its bytes were
                    // stored when it was added or written), so only the others are
                    // asked.
                    if entry.not_fetched {
                        ask.push(out.len());
                    }
                    out.push(TrackedFile {
                        path: entry.path.clone(),
                        item: item_of(entry),
                        local: true,
                    });
                }
            }
        }
    }
    settle_local(objects, &mut out, &ask);
    if paths.len() > 1 {
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out.dedup_by(|a, b| a.path == b.path);
    }
    Ok(out)
}

/// The tracked files at or below `paths` whose bytes are absent: what a pull of those
/// paths has to fetch.
pub fn absent_files(
    index: &Index,
    objects: &dyn ObjectSource,
    paths: &[RepoPath],
) -> Result<Vec<TrackedFile>, Error> {
    let mut files = tracked_files(index, objects, paths)?;
    files.retain(|f| !f.local);
    Ok(files)
}

/// Every file and symlink at or below `path` in the stored tree `tree` (a commit's),
/// `local` when the local store has its bytes.
pub fn commit_files(
    objects: &dyn ObjectSource,
    tree: ObjectId,
    path: &RepoPath,
) -> Result<Vec<TrackedFile>, Error> {
    let mut files = stored_files(objects, tree, &RepoPath::root(), path)?;
    let ask: Vec<usize> = (0..files.len()).collect();
    settle_local(objects, &mut files, &ask);
    Ok(files)
}

/// What the index tracks at `path`: a file or symlink (with its id), or a directory
/// (with its tree id when it is one not-fetched entry, else none). Not tracked is
/// [`Error::NotTracked`].
pub fn tracked_item(index: &Index, store: &Store, path: &RepoPath) -> Result<Item, Error> {
    let not_tracked = || Error::NotTracked { path: path.clone() };
    if let Some(cover) = index.tree_entry_covering(path) {
        let Some(rel) = path.strip_dir(&cover.path) else {
            return Ok(Item::for_tree(cover.id, cover.size));
        };
        let rel = RepoPath::new(rel).expect("a part of a valid path is valid");
        return diff::lookup(store, cover.id, &rel)?.ok_or_else(not_tracked);
    }
    if let Some(entry) = index.get(path) {
        return Ok(item_of(entry));
    }
    if index.has_under(path) {
        // A directory of the index: no entry of its own, entries below.
        return Ok(Item {
            name: path.file_name().to_owned(),
            kind: EntryKind::Dir,
            executable: false,
            root: index.is_root(path),
            size: 0,
            id: None,
        });
    }
    Err(not_tracked())
}

/// The files of the stored tree `tree` (lying at `at` in the work tree) at or below
/// `below` (relative to `at`), with their paths from the top; `local` is left for
/// [`settle_local`], so that one question covers every stored tree a walk meets.
fn stored_files(
    objects: &dyn ObjectSource,
    tree: ObjectId,
    at: &RepoPath,
    below: &RepoPath,
) -> Result<Vec<TrackedFile>, Error> {
    let files = diff::files_under(objects.store(), tree, below)?;
    Ok(files
        .into_par_iter()
        .map(|(rel, item)| TrackedFile {
            path: at.join_path(&rel),
            local: false,
            item,
        })
        .collect())
}

/// Set `local` of `files[i]` for each `i` of `ask`, asking the store of all at once: a
/// walk may meet a million files in a thousand not-fetched directories, and each
/// question looks at every fan-out directory it touches.
fn settle_local(objects: &dyn ObjectSource, files: &mut [TrackedFile], ask: &[usize]) {
    let ids: Vec<ObjectId> = ask.iter().filter_map(|&i| files[i].item.id).collect();
    let absent: HashSet<ObjectId> = objects.missing(&ids).into_iter().collect();
    for &i in ask {
        files[i].local = files[i].item.id.is_some_and(|id| !absent.contains(&id));
    }
}

/// The tree item an index entry stands for (a not-fetched directory's is its tree).
pub(super) fn item_of(entry: &Entry) -> Item {
    Item {
        name: entry.path.file_name().to_owned(),
        kind: entry.kind.into(),
        executable: entry.executable,
        root: false,
        size: entry.size,
        id: Some(entry.id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::{Tree, TreeEntry};

    fn path(p: &str) -> RepoPath {
        RepoPath::new(p).expect("path")
    }

    fn file_entry(name: &str, id: ObjectId) -> TreeEntry {
        TreeEntry {
            name: name.into(),
            kind: EntryKind::File,
            executable: false,
            root: false,
            size: 1,
            id,
        }
    }

    fn listed(files: &[TrackedFile]) -> Vec<(&str, bool)> {
        files.iter().map(|f| (f.path.as_str(), f.local)).collect()
    }

    /// An index with a fetched file, a not-fetched file whose bytes are local, one whose
    /// bytes are absent, and a not-fetched directory `lazy/` (one tree entry) holding a
    /// local and an absent file and a subdirectory.
    fn fixture() -> (tempfile::TempDir, Store, Index) {
        let (dir, store) = Store::scratch();
        let here = store.put_bytes(b"here").expect("put");
        let gone = ObjectId::of(b"gone");
        let sub = store
            .put(&Tree::from_unsorted(vec![file_entry("deep", gone)]))
            .expect("put");
        let mut sub_entry = file_entry("sub", sub);
        sub_entry.kind = EntryKind::Dir;
        let lazy = store
            .put(&Tree::from_unsorted(vec![
                file_entry("a", here),
                file_entry("b", gone),
                sub_entry,
            ]))
            .expect("put");
        let index_dir = dir.path().join("index");
        std::fs::create_dir_all(&index_dir).expect("mkdir");
        let mut index = Index::load(&index_dir).expect("empty index");
        let mut fetched = Entry::not_fetched(path("data/fetched"), Kind::File, false, gone, 4);
        fetched.not_fetched = false;
        index.upsert(fetched);
        index.upsert(Entry::not_fetched(
            path("data/stored"),
            Kind::File,
            false,
            here,
            4,
        ));
        index.upsert(Entry::not_fetched(
            path("data/absent"),
            Kind::File,
            false,
            gone,
            4,
        ));
        index.upsert(Entry::not_fetched(path("lazy"), Kind::Tree, false, lazy, 3));
        (dir, store, index)
    }

    #[test]
    fn files_are_listed_through_not_fetched_directories_with_their_locality() {
        let (_dir, store, index) = fixture();
        let all = tracked_files(&index, &store, &[RepoPath::root()]).expect("files");
        assert_eq!(
            listed(&all),
            [
                ("data/absent", false),
                ("data/fetched", true),
                ("data/stored", true),
                ("lazy/a", true),
                ("lazy/b", false),
                ("lazy/sub/deep", false),
            ]
        );
        let below =
            tracked_files(&index, &store, &[path("lazy/sub"), path("data/stored")]).expect("files");
        assert_eq!(
            listed(&below),
            [("data/stored", true), ("lazy/sub/deep", false)]
        );
        let absent = absent_files(&index, &store, &[RepoPath::root()]).expect("absent");
        assert_eq!(
            listed(&absent),
            [
                ("data/absent", false),
                ("lazy/b", false),
                ("lazy/sub/deep", false)
            ]
        );
        assert!(
            tracked_files(&index, &store, &[path("nothing")])
                .expect("files")
                .is_empty()
        );
    }

    /// The store, counting the questions [`ObjectSource::missing`] is asked.
    struct Counting<'a> {
        store: &'a Store,
        questions: std::sync::atomic::AtomicUsize,
    }

    impl ObjectSource for Counting<'_> {
        fn store(&self) -> &Store {
            self.store
        }
        fn has(&self, id: &ObjectId) -> bool {
            ObjectSource::has(self.store, id)
        }
        fn missing(&self, ids: &[ObjectId]) -> Vec<ObjectId> {
            self.questions
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.store.missing(ids)
        }
        fn open(
            &self,
            id: &ObjectId,
        ) -> Result<Box<dyn std::io::Read + Send>, crate::store::Error> {
            ObjectSource::open(self.store, id)
        }
        fn read_range(
            &self,
            id: &ObjectId,
            offset: u64,
            len: u64,
        ) -> Result<Vec<u8>, crate::store::Error> {
            ObjectSource::read_range(self.store, id, offset, len)
        }
        fn fetch(
            &self,
            ids: &[ObjectId],
            progress: &dyn crate::progress::Progress,
        ) -> Result<crate::store::Fetched, crate::store::Error> {
            ObjectSource::fetch(self.store, ids, progress)
        }
    }

    #[test]
    fn the_store_is_asked_once_however_many_not_fetched_directories_a_walk_meets() {
        let (_dir, store, mut index) = fixture();
        let lazy = index.get(&path("lazy")).expect("entry").id;
        for i in 0..3 {
            index.upsert(Entry::not_fetched(
                path(&format!("more/lazy{i}")),
                Kind::Tree,
                false,
                lazy,
                3,
            ));
        }
        let counting = Counting {
            store: &store,
            questions: Default::default(),
        };
        let all = tracked_files(&index, &counting, &[RepoPath::root()]).expect("files");
        assert_eq!(all.len(), 15);
        assert_eq!(
            all.iter()
                .filter(|f| f.local)
                .map(|f| f.path.as_str())
                .collect::<Vec<_>>(),
            [
                "data/fetched",
                "data/stored",
                "lazy/a",
                "more/lazy0/a",
                "more/lazy1/a",
                "more/lazy2/a"
            ]
        );
        assert_eq!(counting.questions.into_inner(), 1);
    }

    #[test]
    fn an_item_is_found_in_the_index_or_in_the_tree_of_a_not_fetched_directory() {
        let (_dir, store, index) = fixture();
        let item = |p: &str| tracked_item(&index, &store, &path(p));
        assert_eq!(
            item("data/stored").expect("file").id,
            Some(ObjectId::of(b"here"))
        );
        assert_eq!(
            item("lazy/a").expect("file").id,
            Some(ObjectId::of(b"here"))
        );
        assert!(item("lazy/sub").expect("dir").is_dir());
        assert!(item("lazy").expect("tree entry").is_dir());
        let data = item("data").expect("index directory");
        assert!(data.is_dir());
        assert_eq!(data.id, None);
        assert!(matches!(item("lazy/nope"), Err(Error::NotTracked { .. })));
        assert!(matches!(item("nope"), Err(Error::NotTracked { .. })));
    }

    #[test]
    fn files_of_a_commit_tree_say_whether_the_store_has_them() {
        let (_dir, store, index) = fixture();
        let lazy = index.get(&path("lazy")).expect("entry").id;
        let files = commit_files(&store, lazy, &path("sub")).expect("files");
        assert_eq!(listed(&files), [("sub/deep", false)]);
        let files = commit_files(&store, lazy, &RepoPath::root()).expect("files");
        assert_eq!(
            listed(&files),
            [("a", true), ("b", false), ("sub/deep", false)]
        );
    }
}
