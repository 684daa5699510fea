//! Turning the index into tree objects.
//!
//! A directory whose tree id is cached in the index is reused as is; only directories on
//! the path of a change are encoded and written again, so a commit that changes one file
//! writes only the trees from that file up to the root.

use super::Error;
use crate::index::{CachedTree, Child, Index, Kind};
use crate::object::{EntryKind, Tree, TreeEntry};
use crate::path::RepoPath;
use crate::store::Store;

/// Write the trees for the whole index (only the ones not cached) and cache their ids.
/// Returns the root tree.
pub fn write_tree(index: &mut Index, store: &Store) -> Result<CachedTree, Error> {
    let root = RepoPath::root();
    match build_dir(index, store, &root)? {
        Some(tree) => Ok(tree),
        None => {
            let empty = Tree::default();
            let id = store.put(&empty)?;
            Ok(CachedTree { id, size: 0 })
        }
    }
}

/// What one child of a directory becomes in its tree.
enum Planned {
    Ready(TreeEntry),
    Subdir(RepoPath, bool),
}

fn build_dir(
    index: &mut Index,
    store: &Store,
    dir: &RepoPath,
) -> Result<Option<CachedTree>, Error> {
    if let Some(cached) = index.cached_tree(dir) {
        return Ok(Some(cached));
    }
    let planned: Vec<Planned> = index
        .children(dir)
        .into_iter()
        .map(|child| match child {
            Child::Entry(e) => Planned::Ready(TreeEntry {
                name: e.path.file_name().to_owned(),
                kind: e.kind.into(),
                executable: e.kind == Kind::File && e.executable,
                root: index.is_root(&e.path),
                size: e.size,
                id: e.id,
            }),
            Child::Dir(sub) => {
                let root = index.is_root(&sub);
                Planned::Subdir(sub, root)
            }
        })
        .collect();
    let mut entries = Vec::with_capacity(planned.len());
    for p in planned {
        match p {
            Planned::Ready(e) => entries.push(e),
            Planned::Subdir(sub, root) => {
                if let Some(tree) = build_dir(index, store, &sub)? {
                    entries.push(TreeEntry {
                        name: sub.file_name().to_owned(),
                        kind: EntryKind::Dir,
                        executable: false,
                        root,
                        size: tree.size,
                        id: tree.id,
                    });
                }
            }
        }
    }
    if entries.is_empty() {
        return Ok(None);
    }
    // Children come in component order, which within one directory is bytewise name
    // order: already sorted.
    let tree = Tree { entries };
    let cached = CachedTree {
        id: store.put(&tree)?,
        size: tree.size(),
    };
    index.cache_tree(dir.clone(), cached);
    Ok(Some(cached))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::ObjectId;
    use crate::index::{Entry, Stat};
    use crate::object::Encode;

    fn entry(path: &str) -> Entry {
        Entry {
            path: RepoPath::new(path).expect("valid"),
            kind: Kind::File,
            executable: false,
            id: ObjectId::of(path.as_bytes()),
            size: path.len() as u64,
            stat: Stat::default(),
            not_fetched: false,
            linked: false,
        }
    }

    #[test]
    fn builds_nested_trees_and_rewrites_only_changed_ones() {
        let (_d, store) = Store::scratch();
        let mut index = Index::default();
        for p in ["a/x", "a/y", "b/z", "c"] {
            index.upsert(entry(p));
        }
        index.add_root(RepoPath::new("a").expect("p"));
        let first = write_tree(&mut index, &store).expect("build");
        let root = store.read_tree(&first.id).expect("root tree");
        let names: Vec<_> = root
            .entries
            .iter()
            .map(|e| (e.name.as_str(), e.kind, e.root))
            .collect();
        assert_eq!(
            names,
            [
                ("a", EntryKind::Dir, true),
                ("b", EntryKind::Dir, false),
                ("c", EntryKind::File, false)
            ]
        );
        assert_eq!(first.size, 3 + 3 + 3 + 1);
        let b_tree = index
            .cached_tree(&RepoPath::new("b").expect("p"))
            .expect("cached");

        index.upsert(entry("a/w"));
        assert!(index.cached_tree(&RepoPath::new("b").expect("p")).is_some());
        let second = write_tree(&mut index, &store).expect("rebuild");
        assert_ne!(first.id, second.id);
        let root = store.read_tree(&second.id).expect("root");
        assert_eq!(root.get("b").map(|e| e.id), Some(b_tree.id));
        assert_eq!(
            Tree::decode(&store.read(&second.id).expect("bytes")).expect("valid"),
            root
        );
    }
}
