//! Making a commit from the stage and moving HEAD's branch to it.

use super::{Error, build};
use crate::hash::ObjectId;
use crate::index::Index;
use crate::object::{Commit, GitLink, Signature};
use crate::refs::{Expected, Head};
use crate::repo::{Repo, RepoLock};

/// What to commit.
#[derive(Debug, Clone)]
pub struct NewCommit {
    pub message: String,
    pub author: Signature,
    /// Commit even when the stage matches HEAD.
    pub allow_empty: bool,
    /// The git commit the code is at.
    pub git: Option<GitLink>,
}

/// What `commit` made.
#[derive(Debug, Clone)]
pub struct Committed {
    pub id: ObjectId,
    pub tree: ObjectId,
    pub parent: Option<ObjectId>,
    /// The branch that moved (`None` when HEAD is detached).
    pub branch: Option<String>,
    /// Files in the new commit's tree, bytes.
    pub size: u64,
}

/// Snapshot the index as a commit on top of HEAD, under the repository lock.
///
/// Order: trees and the commit are written and flushed, then the index (whose tree cache
/// now names them), then the branch moves by compare-and-swap from the parent it was
/// built on.
pub fn commit(
    repo: &Repo,
    lock: &RepoLock,
    index: &mut Index,
    new: NewCommit,
) -> Result<Committed, Error> {
    commit_with_runs(repo, lock, index, new, Vec::new())
}

/// [`commit`] with run records (lineage), already stored, listed in the commit.
pub fn commit_with_runs(
    repo: &Repo,
    lock: &RepoLock,
    index: &mut Index,
    new: NewCommit,
    runs: Vec<ObjectId>,
) -> Result<Committed, Error> {
    debug_assert!(lock.guards(repo), "the lock of another work tree");
    // As git: a message that is empty once tidied is refused, before anything is written.
    let message = normalize_message(&new.message);
    if message.trim().is_empty() {
        return Err(Error::EmptyMessage);
    }
    let store = repo.store();
    let parent = repo.refs().head_commit()?;
    let tree = build::write_tree(index, store)?;
    if !new.allow_empty {
        let parent_tree = match parent {
            Some(p) => Some(store.read_commit(&p)?.tree),
            None => None,
        };
        let empty_and_unborn = parent.is_none() && tree.size == 0 && index.is_empty();
        if parent_tree == Some(tree.id) || empty_and_unborn {
            return Err(Error::NothingToCommit(parent));
        }
    }
    let commit = Commit {
        tree: tree.id,
        parents: parent.into_iter().collect(),
        author: new.author.clone(),
        message,
        git: new.git,
        runs,
        extensions: Vec::new(),
    };
    let id = store.put(&commit)?;
    repo.flush_objects()?;
    index.write(lock.temps(), repo.config().core.fsync)?;
    let kind = if parent.is_none() {
        "commit (initial)"
    } else {
        "commit"
    };
    let branch = advance_head(
        repo,
        lock,
        parent,
        id,
        &new.author,
        &format!("{kind}: {}", commit.summary()),
    )?;
    Ok(Committed {
        id,
        tree: tree.id,
        parent,
        branch,
        size: tree.size,
    })
}

/// Move HEAD (its branch, or HEAD itself when detached) from `expected` to `new`.
/// Returns the branch that moved.
pub fn advance_head(
    repo: &Repo,
    lock: &RepoLock,
    expected: Option<ObjectId>,
    new: ObjectId,
    who: &Signature,
    message: &str,
) -> Result<Option<String>, Error> {
    match repo.refs().read_head()? {
        Head::Branch(name) => {
            let want = match expected {
                Some(id) => Expected::Is(id),
                None => Expected::Absent,
            };
            repo.update_ref(lock, &name, want, Some(new), who, message)?;
            Ok(name.strip_prefix(crate::refs::HEADS).map(str::to_owned))
        }
        Head::Detached(_) => {
            repo.set_head(lock, &Head::Detached(new), who, message)?;
            Ok(None)
        }
    }
}

/// Trailing whitespace trimmed, one final newline, like git's default cleanup.
pub fn normalize_message(message: &str) -> String {
    let lines: Vec<&str> = message.lines().map(str::trim_end).collect();
    let mut text = lines.join("\n").trim().to_owned();
    text.push('\n');
    text
}
