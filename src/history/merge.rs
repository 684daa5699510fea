//! Merge bases and three-way merges of trees at file level.
//!
//! A path takes whichever side changed it relative to the merge base; a path both sides
//! changed differently is a conflict, unless a strategy (`ours`, `theirs`) resolves every
//! conflict one way. Directories changed on both sides are merged entry by entry.

use std::collections::HashSet;

use super::Error;
use super::log::Walk;
use crate::hash::ObjectId;
use crate::object::{Encode, EntryKind, Tree, TreeEntry};
use crate::path::RepoPath;
use crate::store::Store;

/// How to resolve conflicting paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    Ours,
    Theirs,
}

/// Whether `ancestor` is `of` or one of its ancestors.
pub fn is_ancestor(store: &Store, ancestor: ObjectId, of: ObjectId) -> Result<bool, Error> {
    for step in Walk::new(store, &[of])? {
        if step?.0 == ancestor {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The most recent common ancestor of `a` and `b`, if any.
pub fn merge_base(store: &Store, a: ObjectId, b: ObjectId) -> Result<Option<ObjectId>, Error> {
    let mut of_a = HashSet::new();
    for step in Walk::new(store, &[a])? {
        of_a.insert(step?.0);
    }
    for step in Walk::new(store, &[b])? {
        let (id, _) = step?;
        if of_a.contains(&id) {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// Merge the trees of two commits against their merge base (see [`merge_trees`]).
pub fn merge_commits(
    store: &Store,
    ours: ObjectId,
    theirs: ObjectId,
    strategy: Option<Strategy>,
    write: bool,
) -> Result<TreeMerge, Error> {
    let tree_of = |id: ObjectId| -> Result<ObjectId, Error> { Ok(store.read_commit(&id)?.tree) };
    let base = merge_base(store, ours, theirs)?.map(tree_of).transpose()?;
    merge_trees(
        store,
        base,
        tree_of(ours)?,
        tree_of(theirs)?,
        strategy,
        write,
    )
}

/// The result of merging two trees.
#[derive(Debug, Clone)]
pub struct TreeMerge {
    pub tree: ObjectId,
    pub size: u64,
    /// Paths both sides changed differently (resolved by the strategy if one was given).
    pub conflicts: Vec<RepoPath>,
}

/// Merge `ours` and `theirs` against `base`. With `write`, the merged trees are stored;
/// without, only their ids are computed (a dry run that changes nothing).
pub fn merge_trees(
    store: &Store,
    base: Option<ObjectId>,
    ours: ObjectId,
    theirs: ObjectId,
    strategy: Option<Strategy>,
    write: bool,
) -> Result<TreeMerge, Error> {
    let mut merger = Merger {
        store,
        strategy,
        write,
        conflicts: Vec::new(),
    };
    let (mut tree, size) = merger
        .merge_dir(&RepoPath::root(), base, Some(ours), Some(theirs))?
        .unwrap_or_else(|| (Tree::default().id(), 0));
    if write && size == 0 {
        store.put(&Tree::default())?;
    }
    // One side may have added `data` as a root and the other `data/x`: the result must
    // not nest roots, as no index-built tree does (it would read as a phantom change).
    if write && let Some(normalized) = clear_nested_roots(store, tree, false)? {
        tree = normalized;
    }
    Ok(TreeMerge {
        tree,
        size,
        conflicts: merger.conflicts,
    })
}

/// Rewrite a stored tree so that no root flag lies below another; `None` if it already
/// holds. Reads the whole tree, which a merge can afford.
fn clear_nested_roots(
    store: &Store,
    id: ObjectId,
    under_root: bool,
) -> Result<Option<ObjectId>, Error> {
    let mut tree = store.read_tree(&id)?;
    let mut changed = false;
    for e in &mut tree.entries {
        let below_root = under_root || e.root;
        if under_root && e.root {
            e.root = false;
            changed = true;
        }
        if e.kind == EntryKind::Dir
            && let Some(new_id) = clear_nested_roots(store, e.id, below_root)?
        {
            e.id = new_id;
            changed = true;
        }
    }
    Ok(if changed {
        Some(store.put(&tree)?)
    } else {
        None
    })
}

struct Merger<'a> {
    store: &'a Store,
    strategy: Option<Strategy>,
    write: bool,
    conflicts: Vec<RepoPath>,
}

fn same(x: Option<&TreeEntry>, y: Option<&TreeEntry>) -> bool {
    match (x, y) {
        (None, None) => true,
        (Some(x), Some(y)) => x.kind == y.kind && x.id == y.id && x.executable == y.executable,
        _ => false,
    }
}

fn dir_id(e: Option<&TreeEntry>) -> Option<ObjectId> {
    e.filter(|e| e.kind == EntryKind::Dir).map(|e| e.id)
}

impl Merger<'_> {
    fn read(&self, id: Option<ObjectId>) -> Result<Tree, Error> {
        Ok(match id {
            Some(id) => self.store.read_tree(&id)?,
            None => Tree::default(),
        })
    }

    fn merge_dir(
        &mut self,
        dir: &RepoPath,
        base: Option<ObjectId>,
        ours: Option<ObjectId>,
        theirs: Option<ObjectId>,
    ) -> Result<Option<(ObjectId, u64)>, Error> {
        let (b, o, t) = (self.read(base)?, self.read(ours)?, self.read(theirs)?);
        let mut names: Vec<&str> = b
            .entries
            .iter()
            .chain(&o.entries)
            .chain(&t.entries)
            .map(|e| e.name.as_str())
            .collect();
        names.sort_by(|x, y| x.as_bytes().cmp(y.as_bytes()));
        names.dedup();
        let mut entries = Vec::new();
        for name in names {
            let path = dir.join_unchecked(name);
            if let Some(e) = self.merge_entry(&path, b.get(name), o.get(name), t.get(name))? {
                entries.push(e);
            }
        }
        if entries.is_empty() {
            return Ok(None);
        }
        let tree = Tree { entries };
        let size = tree.size();
        let id = if self.write {
            self.store.put(&tree)?
        } else {
            tree.id()
        };
        Ok(Some((id, size)))
    }

    fn merge_entry(
        &mut self,
        path: &RepoPath,
        b: Option<&TreeEntry>,
        o: Option<&TreeEntry>,
        t: Option<&TreeEntry>,
    ) -> Result<Option<TreeEntry>, Error> {
        if same(o, t) {
            return Ok(o.map(|o| TreeEntry {
                root: o.root || t.is_some_and(|t| t.root),
                ..o.clone()
            }));
        }
        if same(b, o) {
            return Ok(t.cloned());
        }
        if same(b, t) {
            return Ok(o.cloned());
        }
        if let (Some(od), Some(td)) = (dir_id(o), dir_id(t)) {
            let merged = self.merge_dir(path, dir_id(b), Some(od), Some(td))?;
            return Ok(merged.map(|(id, size)| TreeEntry {
                name: path.file_name().to_owned(),
                kind: EntryKind::Dir,
                executable: false,
                root: o.is_some_and(|e| e.root) || t.is_some_and(|e| e.root),
                size,
                id,
            }));
        }
        self.conflicts.push(path.clone());
        Ok(match self.strategy {
            Some(Strategy::Theirs) => t.cloned(),
            Some(Strategy::Ours) | None => o.cloned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::TreeEntry;

    fn file(name: &str, root: bool) -> TreeEntry {
        TreeEntry {
            name: name.into(),
            kind: EntryKind::File,
            executable: false,
            root,
            size: 1,
            id: ObjectId::of(name.as_bytes()),
        }
    }

    fn dir(store: &Store, name: &str, root: bool, entries: Vec<TreeEntry>) -> TreeEntry {
        let tree = Tree::from_unsorted(entries);
        TreeEntry {
            name: name.into(),
            kind: EntryKind::Dir,
            executable: false,
            root,
            size: tree.size(),
            id: store.put(&tree).expect("put"),
        }
    }

    #[test]
    fn a_merge_never_nests_roots() {
        let (_d, store) = Store::scratch();
        // Ours added `data` as a whole; theirs added `data/x` on its own, and `data/y`.
        let ours = vec![dir(&store, "data", true, vec![file("x", false)])];
        let theirs = vec![dir(
            &store,
            "data",
            false,
            vec![file("x", true), file("y", false)],
        )];
        let ours = store.put(&Tree::from_unsorted(ours)).expect("put");
        let theirs = store.put(&Tree::from_unsorted(theirs)).expect("put");
        let merged =
            merge_trees(&store, None, ours, theirs, Some(Strategy::Ours), true).expect("merge");
        let top = store.read_tree(&merged.tree).expect("top");
        let data = top.get("data").expect("data");
        assert!(data.root);
        let below = store.read_tree(&data.id).expect("data tree");
        assert!(below.entries.iter().all(|e| !e.root), "{below:?}");
        assert_eq!(below.entries.len(), 2);
    }
}
