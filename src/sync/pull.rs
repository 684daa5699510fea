//! `dvx pull [remote]` without paths: fetch, join the current branch with its upstream,
//! then make every path of the current commit local (DVC's `pull`). `--lazy` stops after
//! the branch moved: bytes that are not local stay not fetched.
//!
//! Owns the order of those steps, and which branch is the upstream: the remote's branch
//! of the current branch's name (`refs/remotes/<remote>/<branch>`). Does not own the
//! merge (`flow::merge`: fast-forward, or a merge commit, checked out, `dvx.lock` last)
//! or how bytes arrive (`blobs`).
//!
//! Invariant: everything runs under the one repository lock the caller holds; a merge
//! that would lose local changes, or that conflicts, stops before the work tree changes
//! (the fetched refs stay fetched, as with `git pull`).

use super::blobs::{self, MadeLocal};
use super::fetch::{self, FetchOptions, FetchReport};
use super::{BranchFor, Connected, Error};
use crate::flow::merge::{self, MergeOptions, MergeReport};
use crate::hash::ObjectId;
use crate::object::Signature;
use crate::progress::Progress;
use crate::refs;
use crate::remote::TransferStats;
use crate::repo::RepoLock;
use crate::workspace::Workspace;

/// How to pull.
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// Stop once the branch moved: no bytes are fetched.
    pub lazy: bool,
    /// Signs the reflog entries and a merge commit.
    pub who: Signature,
    /// `who` is a configured identity (a merge commit needs one; a fast-forward does
    /// not).
    pub identity: bool,
}

/// What `dvx pull` did.
#[derive(Debug)]
pub struct PullReport {
    pub fetch: FetchReport,
    /// `<remote>/<branch>`, the upstream.
    pub upstream: String,
    /// `None` when the remote has no such branch (and HEAD has a commit): nothing was
    /// joined, the current commit's files were still made local.
    pub merge: Option<MergeReport>,
    /// The bytes brought (before the merge, and for paths still not fetched after it),
    /// and the files written after the merge (`None` with `--lazy`).
    pub bytes: Option<MadeLocal>,
}

/// Pull the current branch from `connected`.
pub fn pull(
    ws: &Workspace,
    lock: &RepoLock,
    connected: &Connected,
    options: &PullOptions,
    progress: &dyn Progress,
) -> Result<PullReport, Error> {
    let repo = ws.repo();
    let Some(branch) = repo.refs().read_head()?.branch().map(str::to_owned) else {
        return Err(Error::Detached {
            needed_by: BranchFor::Pull,
        });
    };
    let fetched = fetch::fetch(
        ws,
        lock,
        connected,
        &FetchOptions {
            force: false,
            who: options.who.clone(),
        },
        progress,
    )?;
    match join_and_make_local(ws, lock, connected, options, &branch, progress) {
        Ok((upstream, merge, bytes)) => Ok(PullReport {
            fetch: fetched,
            upstream,
            merge,
            bytes,
        }),
        // The fetch is done and its refs moved: the caller can still say what it brought.
        Err(source) => Err(Error::AfterFetch {
            fetched: Box::new(fetched),
            source: Box::new(source),
        }),
    }
}

/// After the fetch: join `branch` with its upstream, then make every path local (unless
/// lazy). The upstream's name, the merge, and the bytes brought.
fn join_and_make_local(
    ws: &Workspace,
    lock: &RepoLock,
    connected: &Connected,
    options: &PullOptions,
    branch: &str,
    progress: &dyn Progress,
) -> Result<(String, Option<MergeReport>, Option<MadeLocal>), Error> {
    let repo = ws.repo();
    let name = format!("{}/{branch}", connected.name);
    let theirs = repo
        .refs()
        .get(&refs::remote_tracking(&connected.name, branch))?;
    let merged = match theirs {
        Some(theirs) => Some(join(ws, lock, connected, options, theirs, &name, progress)?),
        // A branch the remote does not have: nothing to join, but its files can still be
        // made local (a `git clone` whose pinned data was pushed by the pre-push hook).
        None if repo.refs().head_commit()?.is_some() => None,
        None => {
            return Err(Error::NoUpstream {
                remote: connected.name.clone(),
                branch: branch.to_owned(),
            });
        }
    };
    let bytes = if options.lazy {
        None
    } else {
        let mut made = blobs::make_local(ws, lock, connected, progress)?;
        let early = merged.as_ref().map(|(_, e)| e.clone()).unwrap_or_default();
        made.stats.objects += early.objects;
        made.stats.bytes += early.bytes;
        made.stats.requests += early.requests;
        made.stats.skipped += early.skipped;
        made.stats.elapsed += early.elapsed;
        Some(made)
    };
    Ok((name, merged.map(|(m, _)| m), bytes))
}

/// Fast-forward or merge HEAD with `theirs` (the upstream), its bytes fetched first
/// unless lazy, so the merge writes its files at once.
fn join(
    ws: &Workspace,
    lock: &RepoLock,
    connected: &Connected,
    options: &PullOptions,
    theirs: ObjectId,
    name: &str,
    progress: &dyn Progress,
) -> Result<(MergeReport, TransferStats), Error> {
    let repo = ws.repo();
    if !options.identity && merge::makes_commit(repo, theirs)? {
        return Err(Error::NoIdentity);
    }
    let early = if options.lazy {
        TransferStats::default()
    } else {
        let files = blobs::absent_in_commit(repo, theirs)?;
        blobs::download(repo, connected, &files, progress)?
    };
    let merged = merge::merge(
        ws,
        lock,
        &MergeOptions {
            theirs,
            name: name.to_owned(),
            strategy: None,
            message: None,
            who: options.who.clone(),
        },
        // Its bytes were downloaded above (unless lazy, and then none are wanted).
        repo.store(),
        progress,
    )?;
    Ok((merged, early))
}
