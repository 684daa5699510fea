//! Merge bases and three-way merges of trees at file level.
//!
//! A path takes whichever side changed it relative to the merge base; a path both sides
//! changed differently is a conflict, unless a strategy (`ours`, `theirs`) resolves every
//! conflict one way. As in git, the merge is per file, never per directory: a directory
//! changed on both sides (or deleted on one side and changed on the other) is merged
//! file by file, so only files changed on one side and deleted or changed differently on
//! the other conflict, and a file on one side where the other keeps files below the
//! same name is a file/directory conflict at that name.
//!
//! [`join`] is the one place a merge commit is built: `dvx merge`, `dvx merge
//! --git-conflict` and the `dvx.lock` merge driver all go through it.

use std::collections::HashSet;

use super::Error;
use super::commit::normalize_message;
use super::log::Walk;
use crate::hash::ObjectId;
use crate::object::{Commit, Encode, EntryKind, GitLink, Signature, Tree, TreeEntry};
use crate::path::RepoPath;
use crate::repo::Repo;
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

/// How `theirs` joined `ours` (see [`join`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Joined {
    /// `theirs` is already part of `ours`: nothing to do.
    UpToDate,
    /// `ours` is part of `theirs` (or there is no `ours`): `theirs` itself is the result.
    FastForward,
    /// A two-parent merge commit was stored and flushed.
    Merged {
        commit: ObjectId,
        /// Conflicts the strategy resolved.
        resolved: Vec<RepoPath>,
    },
    /// The trees conflict and no strategy resolves them: nothing was written.
    Conflicts(Vec<RepoPath>),
}

/// What a merge commit records besides its parents and tree.
#[derive(Debug, Clone)]
pub struct MergeCommit {
    /// How to resolve conflicts; `None` stops at the first dry run that finds any.
    pub strategy: Option<Strategy>,
    pub author: Signature,
    /// Tidied as `commit` tidies messages.
    pub message: String,
    /// The git commit the code is at, if known.
    pub git: Option<GitLink>,
}

/// Join `theirs` into `ours`, the one merge-commit builder: up to date when `ours`
/// contains `theirs`; a fast-forward when `theirs` contains `ours` (or there is no
/// `ours`); otherwise the three-way merge of their trees, first as a dry run (so a merge
/// with conflicts and no strategy writes nothing), then stored with a two-parent commit
/// `[ours, theirs]`, and flushed. Objects need no lock: they are created by rename and
/// never change, so the `dvx.lock` merge driver, which git runs, uses this too.
pub fn join(
    repo: &Repo,
    ours: Option<ObjectId>,
    theirs: ObjectId,
    how: &MergeCommit,
) -> Result<Joined, Error> {
    let store = repo.store();
    let ours = match ours {
        Some(ours) if is_ancestor(store, theirs, ours)? => return Ok(Joined::UpToDate),
        Some(ours) if !is_ancestor(store, ours, theirs)? => ours,
        _ => return Ok(Joined::FastForward),
    };
    let dry = merge_commits(store, ours, theirs, how.strategy, false)?;
    if !dry.conflicts.is_empty() && how.strategy.is_none() {
        return Ok(Joined::Conflicts(dry.conflicts));
    }
    let merged = merge_commits(store, ours, theirs, how.strategy, true)?;
    let commit = Commit {
        tree: merged.tree,
        parents: vec![ours, theirs],
        author: how.author.clone(),
        message: normalize_message(&how.message),
        git: how.git.clone(),
        runs: Vec::new(),
        extensions: Vec::new(),
    };
    let id = store.put(&commit)?;
    repo.flush_objects()?;
    Ok(Joined::Merged {
        commit: id,
        resolved: merged.conflicts,
    })
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
    let mut conflicts = merger.conflicts;
    conflicts.sort();
    Ok(TreeMerge {
        tree,
        size,
        conflicts,
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

/// The entry if it is a file or symlink, not a directory.
fn file(e: Option<&TreeEntry>) -> Option<&TreeEntry> {
    e.filter(|e| e.kind != EntryKind::Dir)
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

    /// Merge one name of a directory. Whole entries equal on two sides are settled at
    /// once; otherwise the merge goes file by file, as git's does: the files below the
    /// name (where a side has a directory) and the file or symlink at the name are merged
    /// apart, so a directory deleted on one side and changed on the other conflicts only
    /// at the files changed on one side and deleted on the other.
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
        let conflicts_before = self.conflicts.len();
        let below = if dir_id(b).or(dir_id(o)).or(dir_id(t)).is_some() {
            self.merge_dir(path, dir_id(b), dir_id(o), dir_id(t))?
        } else {
            None
        };
        let conflicts_below = self.conflicts.len() > conflicts_before;
        let conflicts_before = self.conflicts.len();
        let here = self.merge_file(path, file(b), file(o), file(t));
        let conflict_here = self.conflicts.len() > conflicts_before;
        let below = below.map(|(id, size)| TreeEntry {
            name: path.file_name().to_owned(),
            kind: EntryKind::Dir,
            executable: false,
            root: dir_id(o).is_some() && o.is_some_and(|e| e.root)
                || dir_id(t).is_some() && t.is_some_and(|e| e.root),
            size,
            id,
        });
        // A file here on one side and files below on the other (under either strategy,
        // so the conflicts found do not depend on it): git's file/directory conflict. The
        // strategy's side decides which stays.
        let file_possible = here.is_some() || conflict_here;
        let dir_possible = below.is_some() || conflicts_below;
        if !(file_possible && dir_possible) {
            return Ok(below.or(here));
        }
        if !conflict_here {
            self.conflicts.push(path.clone());
        }
        let side = match self.strategy {
            Some(Strategy::Theirs) => t,
            Some(Strategy::Ours) | None => o,
        };
        Ok(if dir_id(side).is_some() { below } else { here })
    }

    /// Three-way merge of the file or symlink at `path` (a directory on a side counts as
    /// no file there).
    fn merge_file(
        &mut self,
        path: &RepoPath,
        b: Option<&TreeEntry>,
        o: Option<&TreeEntry>,
        t: Option<&TreeEntry>,
    ) -> Option<TreeEntry> {
        if same(o, t) {
            return o.map(|o| TreeEntry {
                root: o.root || t.is_some_and(|t| t.root),
                ..o.clone()
            });
        }
        if same(b, o) {
            return t.cloned();
        }
        if same(b, t) {
            return o.cloned();
        }
        self.conflicts.push(path.clone());
        match self.strategy {
            Some(Strategy::Theirs) => t.cloned(),
            Some(Strategy::Ours) | None => o.cloned(),
        }
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

    /// A tree from `(path, content)` pairs; the top-level names are roots, as `dvx add`
    /// of each makes them.
    fn tree_of(store: &Store, files: &[(&str, &str)]) -> ObjectId {
        fn build(store: &Store, files: &[(Vec<&str>, &str)], top: bool) -> Tree {
            let mut names: Vec<&str> = files.iter().map(|(p, _)| p[0]).collect();
            names.dedup();
            let entries = names
                .into_iter()
                .map(|name| {
                    let here: Vec<(Vec<&str>, &str)> = files
                        .iter()
                        .filter(|(p, _)| p[0] == name)
                        .map(|(p, c)| (p[1..].to_vec(), *c))
                        .collect();
                    if here.len() == 1 && here[0].0.is_empty() {
                        let bytes = here[0].1.as_bytes();
                        TreeEntry {
                            name: name.into(),
                            kind: EntryKind::File,
                            executable: false,
                            root: top,
                            size: bytes.len() as u64,
                            id: ObjectId::of(bytes),
                        }
                    } else {
                        let sub = build(store, &here, false);
                        TreeEntry {
                            name: name.into(),
                            kind: EntryKind::Dir,
                            executable: false,
                            root: top,
                            size: sub.size(),
                            id: store.put(&sub).expect("put"),
                        }
                    }
                })
                .collect();
            Tree::from_unsorted(entries)
        }
        let mut split: Vec<(Vec<&str>, &str)> = files
            .iter()
            .map(|(p, c)| (p.split('/').collect(), *c))
            .collect();
        split.sort();
        store.put(&build(store, &split, true)).expect("put")
    }

    /// The files of a merged tree as `(path, content id)`.
    fn files_of(store: &Store, tree: ObjectId) -> Vec<(String, ObjectId)> {
        crate::history::diff::files_under(store, tree, &RepoPath::root())
            .expect("files")
            .into_iter()
            .map(|(p, item)| (p.to_string(), item.id.expect("stored")))
            .collect()
    }

    fn expect_files(files: &[(&str, &str)]) -> Vec<(String, ObjectId)> {
        files
            .iter()
            .map(|(p, c)| ((*p).to_owned(), ObjectId::of(c.as_bytes())))
            .collect()
    }

    fn paths(list: &[&str]) -> Vec<RepoPath> {
        list.iter()
            .map(|p| RepoPath::new(p).expect("path"))
            .collect()
    }

    /// Base, ours, theirs; then for each strategy (none, ours, theirs) the conflicts
    /// (the same whatever the strategy) and the merged files.
    #[allow(clippy::type_complexity)]
    const CASES: &[(
        &str,
        &[(&str, &str)],
        &[(&str, &str)],
        &[(&str, &str)],
        &[&str],
        &[(&str, &str)],
        &[(&str, &str)],
    )] = &[
        (
            "a directory deleted on one side, a file added in it on the other",
            &[("top/d/a", "1"), ("top/d/b", "2"), ("top/k", "k")],
            &[("top/k", "k")],
            &[
                ("top/d/a", "1"),
                ("top/d/b", "2"),
                ("top/d/new", "n"),
                ("top/k", "k"),
            ],
            &[],
            &[("top/d/new", "n"), ("top/k", "k")],
            &[("top/d/new", "n"), ("top/k", "k")],
        ),
        (
            "a directory deleted on one side, a file in it changed on the other",
            &[("top/d/a", "1"), ("top/d/b", "2"), ("top/k", "k")],
            &[("top/k", "k")],
            &[
                ("top/d/a", "1'"),
                ("top/d/b", "2"),
                ("top/d/new", "n"),
                ("top/k", "k"),
            ],
            &["top/d/a"],
            &[("top/d/new", "n"), ("top/k", "k")],
            &[("top/d/a", "1'"), ("top/d/new", "n"), ("top/k", "k")],
        ),
        (
            "a whole root deleted on one side, a file added to it on the other",
            &[("data/a", "1")],
            &[("other/x", "x")],
            &[("data/a", "1"), ("data/new", "n")],
            &[],
            &[("data/new", "n"), ("other/x", "x")],
            &[("data/new", "n"), ("other/x", "x")],
        ),
        (
            "a file replaced by directories on both sides",
            &[("top/p", "file"), ("top/k", "k")],
            &[("top/p/a", "a"), ("top/k", "k")],
            &[("top/p/b", "b"), ("top/k", "k")],
            &[],
            &[("top/k", "k"), ("top/p/a", "a"), ("top/p/b", "b")],
            &[("top/k", "k"), ("top/p/a", "a"), ("top/p/b", "b")],
        ),
        (
            "a directory replaced by a file on one side, changed on the other",
            &[("top/p/x", "x"), ("top/k", "k")],
            &[("top/p", "file"), ("top/k", "k")],
            &[("top/p/x", "x'"), ("top/k", "k")],
            &["top/p", "top/p/x"],
            &[("top/k", "k"), ("top/p", "file")],
            &[("top/k", "k"), ("top/p/x", "x'")],
        ),
        (
            "a file changed on one side, replaced by a directory on the other",
            &[("top/p", "file"), ("top/k", "k")],
            &[("top/p", "file'"), ("top/k", "k")],
            &[("top/p/y", "y"), ("top/k", "k")],
            &["top/p"],
            &[("top/k", "k"), ("top/p", "file'")],
            &[("top/k", "k"), ("top/p/y", "y")],
        ),
        (
            "a file added where the other side added files below the same name",
            &[("top/k", "k")],
            &[("top/k", "k"), ("top/p", "file")],
            &[("top/k", "k"), ("top/p/y", "y")],
            &["top/p"],
            &[("top/k", "k"), ("top/p", "file")],
            &[("top/k", "k"), ("top/p/y", "y")],
        ),
    ];

    /// Regression: a directory deleted on one side and changed on the other was one
    /// conflict at the directory ("changed on both sides: top/d"), and `--strategy
    /// theirs` brought the deleted files back. As in git, the merge is per file.
    #[test]
    fn merges_file_by_file_never_per_directory() {
        let (_d, store) = Store::scratch();
        for (what, base, ours, theirs, conflicts, with_ours, with_theirs) in CASES {
            let (b, o, t) = (
                tree_of(&store, base),
                tree_of(&store, ours),
                tree_of(&store, theirs),
            );
            for (strategy, expected) in [
                (None, with_ours),
                (Some(Strategy::Ours), with_ours),
                (Some(Strategy::Theirs), with_theirs),
            ] {
                let merged = merge_trees(&store, Some(b), o, t, strategy, true).expect("merge");
                assert_eq!(merged.conflicts, paths(conflicts), "{what}, {strategy:?}");
                if strategy.is_some() || conflicts.is_empty() {
                    assert_eq!(
                        files_of(&store, merged.tree),
                        expect_files(expected),
                        "{what}, {strategy:?}"
                    );
                }
                let dry = merge_trees(&store, Some(b), o, t, strategy, false).expect("merge");
                assert_eq!(dry.tree, merged.tree, "{what}: a dry run computes the same");
            }
        }
    }

    #[test]
    fn a_root_deleted_on_one_side_stays_a_root_where_the_other_added_to_it() {
        let (_d, store) = Store::scratch();
        let base = tree_of(&store, &[("data/a", "1")]);
        let ours = tree_of(&store, &[("other/x", "x")]);
        let theirs = tree_of(&store, &[("data/a", "1"), ("data/new", "n")]);
        let merged = merge_trees(&store, Some(base), ours, theirs, None, true).expect("merge");
        let top = store.read_tree(&merged.tree).expect("top");
        assert!(top.get("data").expect("data").root);
        assert!(top.get("other").expect("other").root);
        let data = store
            .read_tree(&top.get("data").expect("data").id)
            .expect("data");
        assert!(data.entries.iter().all(|e| !e.root));
    }

    fn signature(time: i64) -> Signature {
        Signature {
            name: "A".into(),
            email: "a@b".into(),
            time,
            tz_minutes: 0,
        }
    }

    /// A commit of `files` on `parents`, stored.
    fn commit_of(repo: &Repo, files: &[(&str, &str)], parents: &[ObjectId], time: i64) -> ObjectId {
        let tree = tree_of(repo.store(), files);
        repo.store()
            .put(&Commit {
                tree,
                parents: parents.to_vec(),
                author: signature(time),
                message: format!("at {time}\n"),
                git: None,
                runs: Vec::new(),
                extensions: Vec::new(),
            })
            .expect("put")
    }

    fn how(strategy: Option<Strategy>) -> MergeCommit {
        MergeCommit {
            strategy,
            author: signature(99),
            message: "  Merge side  \n\n".into(),
            git: None,
        }
    }

    #[test]
    fn join_is_the_one_merge_commit_builder() {
        let (_d, repo) = Repo::scratch();
        let base = commit_of(&repo, &[("d/a", "1"), ("d/b", "2")], &[], 1);
        let ours = commit_of(&repo, &[("d/a", "1'"), ("d/b", "2")], &[base], 2);
        let theirs = commit_of(&repo, &[("d/a", "1"), ("d/b", "2'")], &[base], 3);
        let join = |o, t, s| join(&repo, o, t, &how(s)).expect("join");
        assert_eq!(join(Some(ours), base, None), Joined::UpToDate);
        assert_eq!(join(Some(ours), ours, None), Joined::UpToDate);
        assert_eq!(join(Some(base), ours, None), Joined::FastForward);
        assert_eq!(join(None, ours, None), Joined::FastForward);
        let Joined::Merged { commit, resolved } = join(Some(ours), theirs, None) else {
            panic!("two diverged sides merge");
        };
        assert!(resolved.is_empty());
        let merged = repo.store().read_commit(&commit).expect("stored");
        assert_eq!(merged.parents, [ours, theirs]);
        assert_eq!(merged.message, "Merge side\n", "tidied as commit tidies");
        assert_eq!(merged.author, signature(99));
        assert_eq!(
            files_of(repo.store(), merged.tree),
            expect_files(&[("d/a", "1'"), ("d/b", "2'")])
        );
    }

    #[test]
    fn a_join_with_conflicts_and_no_strategy_writes_nothing() {
        let (_d, repo) = Repo::scratch();
        let base = commit_of(&repo, &[("a", "1")], &[], 1);
        let ours = commit_of(&repo, &[("a", "ours")], &[base], 2);
        let theirs = commit_of(&repo, &[("a", "theirs")], &[base], 3);
        let before = repo.store().list().expect("list").len();
        assert_eq!(
            join(&repo, Some(ours), theirs, &how(None)).expect("join"),
            Joined::Conflicts(paths(&["a"]))
        );
        assert_eq!(repo.store().list().expect("list").len(), before);
        let Joined::Merged { commit, resolved } =
            join(&repo, Some(ours), theirs, &how(Some(Strategy::Theirs))).expect("join")
        else {
            panic!("a strategy resolves the conflict");
        };
        assert_eq!(resolved, paths(&["a"]));
        let tree = repo.store().read_commit(&commit).expect("commit").tree;
        assert_eq!(
            files_of(repo.store(), tree),
            expect_files(&[("a", "theirs")])
        );
    }
}
