//! Comparing two trees: stored trees, the index, or a mix.
//!
//! Both sides are [`Source`]s that list one directory at a time. Directories whose ids
//! are equal on both sides are skipped without being read, so comparing two commits that
//! differ in a few files costs O(changed directories), not O(files).

use super::Error;
use crate::hash::ObjectId;
use crate::index::{Child, Index};
use crate::object::{EntryKind, Tree};
use crate::path::RepoPath;
use crate::store::Store;

/// One name in a directory listing, from either side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub name: String,
    pub kind: EntryKind,
    pub executable: bool,
    /// Added to dvx as a unit (see `TreeEntry::root`).
    pub root: bool,
    pub size: u64,
    /// `None` for an index directory whose tree id is not cached.
    pub id: Option<ObjectId>,
}

impl Item {
    pub fn is_dir(&self) -> bool {
        self.kind == EntryKind::Dir
    }

    /// Same content and mode (root flags aside).
    pub fn same_content(&self, other: &Item) -> bool {
        self.kind == other.kind
            && self.id.is_some()
            && self.id == other.id
            && self.executable == other.executable
    }

    fn from_tree_entry(e: &crate::object::TreeEntry) -> Item {
        Item {
            name: e.name.clone(),
            kind: e.kind,
            executable: e.executable,
            root: e.root,
            size: e.size,
            id: Some(e.id),
        }
    }

    /// The item standing for a whole tree (the root of a commit).
    pub fn for_tree(id: ObjectId, size: u64) -> Item {
        Item {
            name: String::new(),
            kind: EntryKind::Dir,
            executable: false,
            root: false,
            size,
            id: Some(id),
        }
    }
}

/// Something that can list directories.
pub trait Source {
    /// The item for the top directory, `None` when there is nothing at all.
    fn top(&self) -> Result<Option<Item>, Error>;

    /// The children of `dir`, sorted by name; `item` is `dir`'s own item.
    fn list(&self, dir: &RepoPath, item: &Item) -> Result<Vec<Item>, Error>;
}

/// Items of a stored tree, sorted by name.
pub fn tree_items(tree: &Tree) -> Vec<Item> {
    tree.entries.iter().map(Item::from_tree_entry).collect()
}

/// A stored tree (a commit's), or nothing.
pub struct TreeSource<'a> {
    pub store: &'a Store,
    pub tree: Option<ObjectId>,
}

impl Source for TreeSource<'_> {
    fn top(&self) -> Result<Option<Item>, Error> {
        match self.tree {
            None => Ok(None),
            Some(id) => {
                let size = self.store.read_tree(&id)?.size();
                Ok(Some(Item::for_tree(id, size)))
            }
        }
    }

    fn list(&self, _dir: &RepoPath, item: &Item) -> Result<Vec<Item>, Error> {
        let id = item.id.expect("stored trees always have ids");
        Ok(tree_items(&self.store.read_tree(&id)?))
    }
}

/// The index as a tree. Unexpanded (not fetched) directories are read from the store.
pub struct IndexSource<'a> {
    pub index: &'a Index,
    pub store: &'a Store,
}

impl Source for IndexSource<'_> {
    fn top(&self) -> Result<Option<Item>, Error> {
        if self.index.is_empty() {
            return Ok(None);
        }
        let cached = self.index.cached_tree(&RepoPath::root());
        Ok(Some(Item {
            name: String::new(),
            kind: EntryKind::Dir,
            executable: false,
            root: false,
            size: cached.map(|c| c.size).unwrap_or(0),
            id: cached.map(|c| c.id),
        }))
    }

    fn list(&self, dir: &RepoPath, item: &Item) -> Result<Vec<Item>, Error> {
        if !dir.is_root() && self.index.tree_entry_covering(dir).is_some() {
            let id = item
                .id
                .expect("items below a tree entry come from stored trees");
            return Ok(tree_items(&self.store.read_tree(&id)?));
        }
        let items = self
            .index
            .children(dir)
            .into_iter()
            .map(|child| match child {
                Child::Entry(e) => Item {
                    name: e.path.file_name().to_owned(),
                    kind: e.kind.into(),
                    executable: e.executable,
                    root: self.index.is_root(&e.path),
                    size: e.size,
                    id: Some(e.id),
                },
                Child::Dir(sub) => {
                    let cached = self.index.cached_tree(&sub);
                    Item {
                        name: sub.file_name().to_owned(),
                        kind: EntryKind::Dir,
                        executable: false,
                        root: self.index.is_root(&sub),
                        size: cached.map(|c| c.size).unwrap_or(0),
                        id: cached.map(|c| c.id),
                    }
                }
            })
            .collect();
        Ok(items)
    }
}

/// A difference at one path. File-level, except for a directory that only one side has
/// when [`Options::collapse_added`] is set, and a directory whose root flag alone changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: RepoPath,
    pub old: Option<Item>,
    pub new: Option<Item>,
}

/// What to compare.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Report a directory that only the new side has as one entry instead of its files.
    pub collapse_added: bool,
    /// Only paths at or below one of these (empty: everything).
    pub filter: Vec<RepoPath>,
}

/// The differences, and the new side's directories that were listed (with their items),
/// which a checkout can cache as tree ids.
#[derive(Debug, Default)]
pub struct Output {
    pub changes: Vec<Entry>,
    pub listed_new: Vec<(RepoPath, Item)>,
}

/// Compare `old` with `new`.
pub fn diff(old: &dyn Source, new: &dyn Source, options: &Options) -> Result<Output, Error> {
    let mut walker = Walker {
        old,
        new,
        options,
        out: Output::default(),
    };
    let (a, b) = (old.top()?, new.top()?);
    if let (Some(x), Some(y)) = (&a, &b)
        && x.id.is_some()
        && x.id == y.id
    {
        return Ok(walker.out);
    }
    walker.walk(&RepoPath::root(), a.as_ref(), b.as_ref())?;
    Ok(walker.out)
}

struct Walker<'a> {
    old: &'a dyn Source,
    new: &'a dyn Source,
    options: &'a Options,
    out: Output,
}

impl Walker<'_> {
    fn relevant(&self, path: &RepoPath) -> bool {
        self.options.filter.is_empty()
            || self
                .options
                .filter
                .iter()
                .any(|f| path.is_within(f) || f.is_within(path))
    }

    fn wanted(&self, path: &RepoPath) -> bool {
        self.options.filter.is_empty() || self.options.filter.iter().any(|f| path.is_within(f))
    }

    fn emit(&mut self, path: RepoPath, old: Option<&Item>, new: Option<&Item>) {
        if self.wanted(&path) {
            self.out.changes.push(Entry {
                path,
                old: old.cloned(),
                new: new.cloned(),
            });
        }
    }

    fn walk(&mut self, dir: &RepoPath, a: Option<&Item>, b: Option<&Item>) -> Result<(), Error> {
        let a_items = match a {
            Some(item) => self.old.list(dir, item)?,
            None => Vec::new(),
        };
        let b_items = match b {
            Some(item) => {
                let items = self.new.list(dir, item)?;
                self.out.listed_new.push((dir.clone(), item.clone()));
                items
            }
            None => Vec::new(),
        };
        let (mut i, mut j) = (0, 0);
        while i < a_items.len() || j < b_items.len() {
            let order = match (a_items.get(i), b_items.get(j)) {
                (Some(x), Some(y)) => x.name.as_bytes().cmp(y.name.as_bytes()),
                (Some(_), None) => std::cmp::Ordering::Less,
                _ => std::cmp::Ordering::Greater,
            };
            let (x, y) = match order {
                std::cmp::Ordering::Less => {
                    i += 1;
                    (a_items.get(i - 1), None)
                }
                std::cmp::Ordering::Greater => {
                    j += 1;
                    (None, b_items.get(j - 1))
                }
                std::cmp::Ordering::Equal => {
                    i += 1;
                    j += 1;
                    (a_items.get(i - 1), b_items.get(j - 1))
                }
            };
            let name = x
                .or(y)
                .map(|it| it.name.as_str())
                .expect("one side has the name");
            let path = dir.join_unchecked(name);
            if !self.relevant(&path) {
                continue;
            }
            self.compare(path, x, y)?;
        }
        Ok(())
    }

    fn compare(&mut self, path: RepoPath, x: Option<&Item>, y: Option<&Item>) -> Result<(), Error> {
        match (x, y) {
            (Some(x), Some(y)) if x.is_dir() && y.is_dir() => {
                if x.root != y.root {
                    self.emit(path.clone(), Some(x), Some(y));
                }
                if x.id.is_none() || x.id != y.id {
                    self.walk(&path, Some(x), Some(y))?;
                }
            }
            (Some(x), Some(y)) if !x.is_dir() && !y.is_dir() => {
                if !x.same_content(y) || x.root != y.root {
                    self.emit(path, Some(x), Some(y));
                }
            }
            (Some(x), Some(y)) => {
                // A file replaced by a directory, or the reverse.
                if x.is_dir() {
                    self.walk(&path, Some(x), None)?;
                    self.emit(path, None, Some(y));
                } else {
                    self.emit(path.clone(), Some(x), None);
                    self.added(path, y)?;
                }
            }
            (Some(x), None) => {
                if x.is_dir() {
                    self.walk(&path, Some(x), None)?;
                } else {
                    self.emit(path, Some(x), None);
                }
            }
            (None, Some(y)) => self.added(path, y)?,
            (None, None) => {}
        }
        Ok(())
    }

    fn added(&mut self, path: RepoPath, y: &Item) -> Result<(), Error> {
        if y.is_dir() && !self.options.collapse_added {
            self.walk(&path, None, Some(y))
        } else {
            self.emit(path, None, Some(y));
            Ok(())
        }
    }
}

/// How a file changed, for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileStatus {
    Added,
    Deleted,
    Modified,
    /// Same bytes at a new path.
    Renamed {
        from: RepoPath,
    },
}

/// The executable bit before and after, when it changed on a file both sides have
/// (`chmod +x`: a change even when the bytes are the same).
pub fn mode_change(old: Option<&Item>, new: Option<&Item>) -> Option<(bool, bool)> {
    let (old, new) = (old?, new?);
    let files = old.kind == EntryKind::File && new.kind == EntryKind::File;
    (files && old.executable != new.executable).then_some((old.executable, new.executable))
}

/// A file-level change with renames paired up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub path: RepoPath,
    pub status: FileStatus,
    pub old: Option<Item>,
    pub new: Option<Item>,
}

impl FileChange {
    /// See [`mode_change`].
    pub fn mode_change(&self) -> Option<(bool, bool)> {
        mode_change(self.old.as_ref(), self.new.as_ref())
    }

    /// Whether the bytes (or the kind) changed, as opposed to the mode alone.
    pub fn content_changed(&self) -> bool {
        match (&self.old, &self.new) {
            (Some(old), Some(new)) => old.kind != new.kind || old.id != new.id,
            _ => true,
        }
    }
}

/// Turn raw differences into file changes: a deletion and an addition of the same id
/// become a rename; directory-level entries (root flags) are dropped.
pub fn file_changes(changes: Vec<Entry>) -> Vec<FileChange> {
    let mut deleted: std::collections::HashMap<ObjectId, Vec<usize>> = Default::default();
    for (i, c) in changes.iter().enumerate() {
        if let (Some(old), None) = (&c.old, &c.new)
            && !old.is_dir()
            && let Some(id) = old.id
        {
            deleted.entry(id).or_default().push(i);
        }
    }
    let mut paired = vec![false; changes.len()];
    let mut renamed_from: Vec<Option<usize>> = vec![None; changes.len()];
    for (i, c) in changes.iter().enumerate() {
        if let (None, Some(new)) = (&c.old, &c.new)
            && !new.is_dir()
            && let Some(list) = new.id.and_then(|id| deleted.get_mut(&id))
            && let Some(pos) = list.iter().position(|&d| !paired[d])
        {
            let d = list[pos];
            paired[d] = true;
            renamed_from[i] = Some(d);
        }
    }
    let mut out = Vec::new();
    for (i, c) in changes.iter().enumerate() {
        if paired[i] {
            continue;
        }
        let is_dir = c
            .old
            .as_ref()
            .or(c.new.as_ref())
            .is_some_and(|it| it.is_dir());
        if is_dir && c.old.is_some() && c.new.is_some() {
            continue;
        }
        let status = match (&c.old, &c.new, renamed_from[i]) {
            (None, Some(_), Some(d)) => FileStatus::Renamed {
                from: changes[d].path.clone(),
            },
            (None, Some(_), None) => FileStatus::Added,
            (Some(_), None, _) => FileStatus::Deleted,
            _ => FileStatus::Modified,
        };
        let old = match renamed_from[i] {
            Some(d) => changes[d].old.clone(),
            None => c.old.clone(),
        };
        out.push(FileChange {
            path: c.path.clone(),
            status,
            old,
            new: c.new.clone(),
        });
    }
    out
}

/// The item at `path` in a stored tree.
pub fn lookup(store: &Store, tree: ObjectId, path: &RepoPath) -> Result<Option<Item>, Error> {
    let mut current = Item::for_tree(tree, 0);
    for name in path.components() {
        if !current.is_dir() {
            return Ok(None);
        }
        let id = current.id.expect("stored trees always have ids");
        let tree = store.read_tree(&id)?;
        match tree.get(name) {
            Some(e) => current = Item::from_tree_entry(e),
            None => return Ok(None),
        }
    }
    Ok(Some(current))
}

/// Every file and symlink at or below `path` in a stored tree, with its path.
pub fn files_under(
    store: &Store,
    tree: ObjectId,
    path: &RepoPath,
) -> Result<Vec<(RepoPath, Item)>, Error> {
    let empty = TreeSource { store, tree: None };
    let full = TreeSource {
        store,
        tree: Some(tree),
    };
    let options = Options {
        collapse_added: false,
        filter: if path.is_root() {
            Vec::new()
        } else {
            vec![path.clone()]
        },
    };
    Ok(diff(&empty, &full, &options)?
        .changes
        .into_iter()
        .filter_map(|c| c.new.map(|item| (c.path, item)))
        .collect())
}
