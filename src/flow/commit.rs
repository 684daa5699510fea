//! `dvx commit`: follow git's branch, record the stage as a commit, re-pin.

use super::follow::{self, Following};
use super::{Error, pin};
use crate::history::commit::{self, Committed, NewCommit};
use crate::object::{GitLink, Signature};
use crate::repo::RepoLock;
use crate::workspace::Workspace;

/// What to commit.
#[derive(Debug, Clone)]
pub struct CommitOptions {
    pub message: String,
    pub author: Signature,
    /// Commit even when the stage matches HEAD.
    pub allow_empty: bool,
    /// Run `git add` on the files git should commit (`dvx.lock`, changed `.gitignore`s).
    pub git_add: bool,
}

/// What `commit` did.
#[derive(Debug)]
pub struct CommitReport {
    /// A git branch switch followed first.
    pub followed: Following,
    pub committed: Committed,
    /// The git commit the code is at (and whether it was dirty), as recorded.
    pub git: Option<GitLink>,
    /// The files git should commit with the pin (`git add` ran on them when
    /// `staged_in_git`).
    pub git_files: Vec<String>,
    pub staged_in_git: bool,
}

/// Commit the stage on HEAD's branch (after following a git branch switch; refused when
/// dvx cannot follow it), then point `dvx.lock` at the new commit. Order: objects, index,
/// ref, then the pin, all under `lock`; `git add` last.
pub fn commit(
    ws: &Workspace,
    lock: &RepoLock,
    options: CommitOptions,
) -> Result<CommitReport, Error> {
    let followed = follow::follow_or_refuse(ws, lock, &options.author)?;
    let mut index = ws.load_index()?;
    // The code's state is read before dvx.lock changes it.
    let git = match ws.git() {
        Some(g) => g.head_with_dirtiness()?,
        None => None,
    };
    let new = NewCommit {
        message: options.message,
        author: options.author,
        allow_empty: options.allow_empty,
        git: git.clone(),
    };
    let committed = match commit::commit(ws.repo(), lock, &mut index, new) {
        Ok(committed) => committed,
        Err(e @ crate::history::Error::NothingToCommit(_)) => {
            // A commit killed after moving the branch and before re-pinning, run again:
            // nothing is left to commit, but the pin must still follow HEAD.
            pin::repin(ws, lock)?;
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };
    pin::repin(ws, lock)?;
    let mut git_files = Vec::new();
    if let Some(g) = ws.git() {
        git_files = g.files_to_stage()?;
        if options.git_add {
            g.stage(&git_files)?;
        }
    }
    Ok(CommitReport {
        followed,
        committed,
        git,
        git_files,
        staged_in_git: options.git_add,
    })
}
