//! The flows behind dvx's commands: what moves HEAD, what `dvx.lock` says, and how dvx
//! keeps in step with git.
//!
//! Owns one library function per flow, so a command only parses, calls one of them and
//! renders its report: committing ([`commit`]), switching to a revision or a new branch
//! ([`switch`]), the pin ([`pin`]: the pin at a git revision, switching to a pin,
//! re-pinning), following git's branch switches ([`follow`]), merging ([`merge`]: `dvx
//! merge`, resolving a conflicted `dvx.lock`, the merge driver), and the git hooks
//! ([`hooks`]: what post-checkout, post-merge and post-rewrite do, the pre-push check).
//! Does not own the rules of each step (the branch and tag rules and the merge-commit
//! builder are `history`'s, checking out is `workspace`'s, reading pins is `git::pin`'s):
//! it puts them in order.
//!
//! Invariants: a flow that writes runs under the repository lock, which its caller takes
//! once per command and passes down as a [`RepoLock`] guard (the merge driver, which git
//! runs in the middle of its own merge, writes only objects and git's file, and takes
//! none); inside it the write order is objects, index, refs, then `dvx.lock`, last.

pub mod commit;
pub mod follow;
pub mod hooks;
pub mod merge;
pub mod pin;
pub mod switch;

use std::path::PathBuf;

use crate::hash::ObjectId;
use crate::path::RepoPath;
use crate::{git, history, refs, repo, store, workspace};

pub use follow::{Blocked, Following};
pub use switch::{SwitchOptions, Switched};

#[cfg(doc)]
use crate::repo::RepoLock;

/// What went wrong in a flow.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flow that needs git (`what` names it: `--git`, the hooks, `--git-conflict`) in a
    /// repository without git integration.
    #[error("this repository has no git integration")]
    NoGit { what: &'static str },
    #[error("{rev} has no {}", git::pin::FILE_NAME)]
    NoPin { rev: String },
    #[error("{where_} pins dvx commit {}, which is not in this repository", commit.short())]
    PinnedCommitMissing { where_: String, commit: ObjectId },
    #[error("dvx.lock has no merge conflict")]
    NoPinConflict,
    #[error(
        "the data is at {}, not at the commit our side of dvx.lock pins ({})",
        head.map(|h| h.short()).unwrap_or_else(|| "no commit".into()),
        ours.short()
    )]
    NotAtOurPin {
        head: Option<ObjectId>,
        ours: ObjectId,
    },
    #[error("merge stopped: {count} path(s) changed on both sides: {list}")]
    MergeConflicts {
        count: usize,
        list: String,
        paths: Vec<RepoPath>,
    },
    /// A merge's checkout of its result would lose local changes (git: "Your local
    /// changes … would be overwritten by merge").
    #[error("merge would overwrite local changes in {count} path(s): {list}")]
    MergeWouldOverwrite {
        count: usize,
        list: String,
        paths: Vec<RepoPath>,
    },
    #[error("a branch named '{0}' already exists")]
    NewBranchExists(String),
    #[error(
        "push refused: {} not in this repository ({})",
        if missing.len() == 1 { "1 pinned dvx commit is".to_owned() } else { format!("{} pinned dvx commits are", missing.len()) },
        missing.join(", ")
    )]
    PushRefused { missing: Vec<String> },
    /// git switched to a branch dvx could not follow; a commit or merge now would land on
    /// a branch git is not on.
    #[error(
        "git is on branch '{git_branch}', but dvx is on {}: {why}",
        dvx_branch.as_deref().map(|b| format!("branch '{b}'")).unwrap_or_else(|| "a detached HEAD".into())
    )]
    NotFollowed {
        git_branch: String,
        dvx_branch: Option<String>,
        why: Box<Blocked>,
    },
    #[error("no author identity is configured")]
    NoIdentity,
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Workspace(#[from] workspace::Error),
    #[error(transparent)]
    History(#[from] history::Error),
    #[error(transparent)]
    Git(#[from] git::Error),
    #[error(transparent)]
    Pin(#[from] git::pin::Error),
    #[error(transparent)]
    Repo(#[from] repo::Error),
    #[error(transparent)]
    Refs(#[from] refs::Error),
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// The git work tree, or the error naming what needed one.
fn git_of<'a>(ws: &'a workspace::Workspace, what: &'static str) -> Result<&'a git::GitRepo, Error> {
    ws.git().ok_or(Error::NoGit { what })
}
