//! The commit graph of dataset versions.
//!
//! Owns: building trees and commits from the index ([`build`], [`commit`]), the branch
//! and tag rules ([`branch`], [`tag`]), comparing
//! trees with each other or with the index ([`diff`]), what a revision string means
//! ([`revision`]), walking history ([`log`]), three-way merges and the one merge-commit
//! builder ([`merge`]), what is reachable ([`reach`]) for gc, fsck and push, which
//! commits a detached HEAD leaves behind ([`detached`]), and checking the repository
//! ([`fsck`]). Does not touch the work tree, and does not read git (gc, whose roots
//! include git history, is a room of its own).
//!
//! Invariants: objects are written (and flushed) before the index that caches them and
//! before the ref that points at them; a ref only moves by compare-and-swap.

pub mod branch;
pub mod build;
pub mod commit;
pub mod detached;
pub mod diff;
pub mod fsck;
pub mod log;
pub mod merge;
pub mod reach;
pub mod revision;
pub mod tag;

use crate::hash::ObjectId;
use crate::{index, refs, repo, store};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown revision '{0}'")]
    UnknownRevision(String),
    #[error("revision '{spec}' is ambiguous: {}", candidates.iter().map(|c| c.short()).collect::<Vec<_>>().join(", "))]
    Ambiguous {
        spec: String,
        candidates: Vec<ObjectId>,
    },
    #[error("'{0}': the two revisions have no common ancestor")]
    NoMergeBase(String),
    #[error("'{0}' names {1}, not a commit")]
    NotACommit(String, &'static str),
    #[error("HEAD has no commits yet")]
    NoCommits,
    #[error("'{spec}': commit {id} has no parent {n}")]
    NoParent {
        spec: String,
        id: ObjectId,
        n: usize,
    },
    #[error("aborting commit due to an empty commit message")]
    EmptyMessage,
    #[error("nothing to commit: the stage matches {}", .0.map(|id| id.short()).unwrap_or_else(|| "the empty tree".into()))]
    NothingToCommit(Option<ObjectId>),
    #[error("path '{path}' does not exist in {rev}")]
    NoSuchPath { path: String, rev: String },
    #[error("no branch named '{0}'")]
    NoSuchBranch(String),
    #[error("a branch named '{0}' already exists")]
    BranchExists(String),
    #[error("cannot {} the current branch '{name}'", change.verb())]
    CurrentBranch {
        name: String,
        change: repo::BranchChange,
    },
    #[error("branch '{0}' is not merged into HEAD; deleting it could lose commits")]
    NotMerged(String),
    #[error("tag '{name}' already exists (at {})", at.short())]
    TagExists { name: String, at: ObjectId },
    #[error("no tag named '{0}'")]
    NoSuchTag(String),
    #[error("{kind} {id} (reached from {via}) cannot be read: {problem}")]
    Unreadable {
        kind: &'static str,
        id: ObjectId,
        via: String,
        problem: String,
    },
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error(transparent)]
    Refs(#[from] refs::Error),
    #[error(transparent)]
    Index(#[from] index::Error),
    #[error(transparent)]
    Repo(#[from] repo::Error),
}
