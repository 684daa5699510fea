//! `dvx merge`: fast-forward, or a three-way merge commit, then check it out.

use super::checkout::{CheckoutMode, CheckoutOptions, CheckoutReport, HeadMove, switch};
use super::{Error, Workspace};
use crate::hash::ObjectId;
use crate::history::commit::normalize_message;
use crate::history::merge::{Strategy, is_ancestor, merge_commits};
use crate::object::{Commit, GitLink, Signature};
use crate::path::RepoPath;
use crate::progress::Progress;

/// What a merge did.
#[derive(Debug)]
pub enum MergeOutcome {
    /// `theirs` is already part of HEAD.
    UpToDate,
    /// HEAD moved forward to `theirs`.
    FastForward(ObjectId, CheckoutReport),
    /// A merge commit was made and checked out.
    Merged {
        commit: ObjectId,
        /// Conflicts resolved by the strategy.
        resolved: Vec<RepoPath>,
        report: CheckoutReport,
    },
}

/// How to merge.
#[derive(Debug, Clone)]
pub struct MergeOptions {
    pub theirs: ObjectId,
    /// For the message: what the user called `theirs`.
    pub name: String,
    pub strategy: Option<Strategy>,
    pub message: Option<String>,
    pub who: Signature,
    pub git: Option<GitLink>,
}

/// Merge `options.theirs` into HEAD. With conflicts and no strategy nothing changes and
/// the conflicting paths are returned in the error.
pub fn merge(
    ws: &Workspace,
    options: &MergeOptions,
    progress: &dyn Progress,
) -> Result<MergeOutcome, Error> {
    let lock = ws.repo().lock()?;
    let mut index = ws.load_index()?;
    let repo = ws.repo();
    let store = repo.store();
    let ours = repo.refs().head_commit()?;
    let theirs = options.theirs;
    let checkout = |target, message: String| CheckoutOptions {
        target,
        head: HeadMove::Advance,
        mode: CheckoutMode::Eager,
        force: false,
        who: options.who.clone(),
        message,
    };
    let ours = match ours {
        Some(ours) if is_ancestor(store, theirs, ours)? => return Ok(MergeOutcome::UpToDate),
        Some(ours) if !is_ancestor(store, ours, theirs)? => ours,
        // Nothing yet, or theirs is ahead: move forward.
        _ => {
            let message = format!("merge {}: fast-forward", options.name);
            let report = switch(
                ws,
                &lock,
                &mut index,
                &checkout(theirs, message),
                store,
                progress,
            )?;
            return Ok(MergeOutcome::FastForward(theirs, report));
        }
    };
    // A dry run first, so a merge with conflicts writes nothing at all.
    let dry = merge_commits(store, ours, theirs, options.strategy, false)?;
    if !dry.conflicts.is_empty() && options.strategy.is_none() {
        return Err(Error::MergeConflicts {
            count: dry.conflicts.len(),
            list: dry
                .conflicts
                .iter()
                .take(10)
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            paths: dry.conflicts,
        });
    }
    let merged = merge_commits(store, ours, theirs, options.strategy, true)?;
    let branch = repo.refs().read_head()?.branch().map(str::to_owned);
    let message = normalize_message(&options.message.clone().unwrap_or_else(|| match &branch {
        Some(b) => format!("Merge {} into {b}", options.name),
        None => format!("Merge {}", options.name),
    }));
    let commit = Commit {
        tree: merged.tree,
        parents: vec![ours, theirs],
        author: options.who.clone(),
        message,
        git: options.git.clone(),
        runs: Vec::new(),
        extensions: Vec::new(),
    };
    let id = store.put(&commit)?;
    repo.flush_objects()?;
    let report = switch(
        ws,
        &lock,
        &mut index,
        &checkout(id, format!("merge {}", options.name)),
        store,
        progress,
    )?;
    Ok(MergeOutcome::Merged {
        commit: id,
        resolved: merged.conflicts,
        report,
    })
}
