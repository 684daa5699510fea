//! Merging: `dvx merge <rev>`, `dvx merge --git-conflict` (a conflicted `dvx.lock` after
//! `git merge`), and the `dvx.lock` merge driver git runs.
//!
//! All three join two commits through the one merge-commit builder,
//! [`crate::history::merge::join`]: up to date, fast-forward, or a two-parent merge
//! commit. The first two then check the result out (moving HEAD's branch by
//! compare-and-swap) and write `dvx.lock`, under the repository lock. The driver runs inside git's own merge,
//! without the lock: it stores objects (safe for concurrent writers: each is created by
//! rename) and writes only the file git gave it, never the work tree or a ref; the
//! post-merge hook then checks the result out.

use std::fs;
use std::path::Path;

use super::follow::{self, Following};
use super::pin::{ensure_local, repin_moved};
use super::{Error, git_of};
use crate::git::pin::{self, Pin};
use crate::hash::ObjectId;
use crate::history::merge::{self as history_merge, Joined, MergeCommit, Strategy, is_ancestor};
use crate::object::Signature;
use crate::path::RepoPath;
use crate::progress::Progress;
use crate::repo::{Repo, RepoLock};
use crate::store::ObjectSource;
use crate::workspace::{self, CheckoutMode, CheckoutOptions, CheckoutReport, HeadMove, Workspace};

/// How to merge into HEAD.
#[derive(Debug, Clone)]
pub struct MergeOptions {
    pub theirs: ObjectId,
    /// For the message: what the user called `theirs`.
    pub name: String,
    pub strategy: Option<Strategy>,
    pub message: Option<String>,
    pub who: Signature,
}

/// What a merge did to HEAD.
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

/// What `dvx merge` did.
#[derive(Debug)]
pub struct MergeReport {
    /// A git branch switch followed first.
    pub followed: Following,
    pub outcome: MergeOutcome,
    /// Whether `dvx.lock` was rewritten.
    pub pin_changed: bool,
}

/// `dvx merge <rev>`: merge `options.theirs` into HEAD, check the result out, re-pin.
/// With conflicts and no strategy nothing changes and the conflicting paths are in the
/// error.
/// The files the result writes come from `objects` (a remote-backed source fetches what
/// is not local, as an eager checkout does; bytes it cannot provide stay not fetched).
pub fn merge(
    ws: &Workspace,
    lock: &RepoLock,
    options: &MergeOptions,
    objects: &dyn ObjectSource,
    progress: &dyn Progress,
) -> Result<MergeReport, Error> {
    let followed = follow::follow_or_refuse(ws, lock, &options.who)?;
    let outcome = merge_into_head(ws, lock, options, objects, progress)?;
    // A merge moves HEAD like a commit does: the pin follows (and stays as it is when
    // the merge lands on the commit it names already).
    let pin_changed = repin_moved(ws, lock)?;
    Ok(MergeReport {
        followed,
        outcome,
        pin_changed,
    })
}

/// Whether merging `theirs` into HEAD makes a merge commit (which needs an author): HEAD
/// has a commit and neither side contains the other. A fast-forward, or a merge that is
/// up to date, only moves HEAD.
pub fn makes_commit(repo: &Repo, theirs: ObjectId) -> Result<bool, Error> {
    let Some(ours) = repo.refs().head_commit()? else {
        return Ok(false);
    };
    Ok(!is_ancestor(repo.store(), ours, theirs)? && !is_ancestor(repo.store(), theirs, ours)?)
}

fn merge_into_head(
    ws: &Workspace,
    lock: &RepoLock,
    options: &MergeOptions,
    objects: &dyn ObjectSource,
    progress: &dyn Progress,
) -> Result<MergeOutcome, Error> {
    let repo = ws.repo();
    let mut index = ws.load_index()?;
    let ours = repo.refs().head_commit()?;
    let branch = repo.refs().read_head()?.branch().map(str::to_owned);
    let message = options.message.clone().unwrap_or_else(|| match &branch {
        Some(b) => format!("Merge {} into {b}", options.name),
        None => format!("Merge {}", options.name),
    });
    let how = MergeCommit {
        strategy: options.strategy,
        author: options.who.clone(),
        message,
        git: match ws.git() {
            Some(g) => g.head_with_dirtiness()?,
            None => None,
        },
    };
    let checkout = |target, message: String| CheckoutOptions {
        target,
        head: HeadMove::Advance,
        mode: CheckoutMode::Eager,
        force: false,
        who: options.who.clone(),
        message,
    };
    Ok(
        match history_merge::join(repo, ours, options.theirs, &how)? {
            Joined::UpToDate => {
                // A merge killed after moving HEAD, run again: its checkout is done.
                workspace::settle_finished_checkout(repo, lock)?;
                MergeOutcome::UpToDate
            }
            Joined::FastForward => {
                let message = format!("merge {}: fast-forward", options.name);
                let report = workspace::switch(
                    ws,
                    lock,
                    &mut index,
                    &checkout(options.theirs, message),
                    objects,
                    progress,
                )
                .map_err(as_merge)?;
                MergeOutcome::FastForward(options.theirs, report)
            }
            Joined::Merged { commit, resolved } => {
                let message = format!("merge {}", options.name);
                let report = workspace::switch(
                    ws,
                    lock,
                    &mut index,
                    &checkout(commit, message),
                    objects,
                    progress,
                )
                .map_err(as_merge)?;
                MergeOutcome::Merged {
                    commit,
                    resolved,
                    report,
                }
            }
            Joined::Conflicts(paths) => {
                return Err(Error::MergeConflicts {
                    count: paths.len(),
                    list: paths
                        .iter()
                        .take(10)
                        .map(|p| p.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    paths,
                });
            }
        },
    )
}

/// A checkout refusing to lose local changes, said as the merge it is part of (which
/// has no `--force`).
fn as_merge(e: workspace::Error) -> Error {
    match e {
        workspace::Error::WouldOverwrite { count, list, paths } => {
            Error::MergeWouldOverwrite { count, list, paths }
        }
        e => e.into(),
    }
}

/// What `dvx merge --git-conflict` did.
#[derive(Debug)]
pub struct ConflictResolved {
    pub followed: Following,
    pub outcome: MergeOutcome,
    /// The commit `dvx.lock` pins now (staged in git).
    pub pinned: ObjectId,
}

/// `dvx merge --git-conflict`: merge the two pins of a conflicted `dvx.lock` into HEAD
/// (which must be at our side's pin), check out the result, write `dvx.lock` and stage it
/// in git, so `git commit` finishes the merge.
pub fn resolve_git_conflict(
    ws: &Workspace,
    lock: &RepoLock,
    strategy: Option<Strategy>,
    message: Option<String>,
    who: &Signature,
    progress: &dyn Progress,
) -> Result<ConflictResolved, Error> {
    let git = git_of(ws, "--git-conflict")?;
    let followed = follow::follow_or_refuse(ws, lock, who)?;
    let (ours, theirs) = pin::conflict_sides(git, ws.root())?.ok_or(Error::NoPinConflict)?;
    ensure_local(ws, &ours, "dvx.lock (ours)")?;
    ensure_local(ws, &theirs, "dvx.lock (theirs)")?;
    let refs = ws.repo().refs();
    let head = refs.head_commit()?;
    if head != Some(ours.commit) {
        return Err(Error::NotAtOurPin {
            head,
            ours: ours.commit,
        });
    }
    let options = MergeOptions {
        theirs: theirs.commit,
        name: format!("dvx.lock of the other side ({})", theirs.commit.short()),
        strategy,
        message,
        who: who.clone(),
    };
    // Git's merge is done; its post-merge hook brings bytes as every hook does. This
    // writes what is local.
    let outcome = merge_into_head(ws, lock, &options, ws.repo().store(), progress)?;
    let pinned = refs
        .head_commit()?
        .expect("a merge leaves HEAD on a commit");
    Pin {
        commit: pinned,
        branch: refs
            .read_head()?
            .branch()
            .map(str::to_owned)
            .or(ours.branch),
    }
    .write(ws.root(), lock)?;
    git.stage(&[pin::FILE_NAME.to_owned()])?;
    Ok(ConflictResolved {
        followed,
        outcome,
        pinned,
    })
}

/// What the merge driver did with git's `OURS` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriverOutcome {
    /// Both sides pin the same commit: the file stays.
    Same,
    /// The file now pins this (the newer side, or a new merge commit).
    Merged(Pin),
    /// A pinned commit is not local: the file stays conflicted.
    NotLocal,
    /// The pinned data versions conflict in this many paths; both pins were left in the
    /// file between conflict markers.
    Conflicts(usize),
}

/// The merge driver git runs for `dvx.lock` (`%A` is `ours_file`, where the result goes;
/// `%B` is `theirs_file`). dvx finds the merge base in its own graph, which knows more
/// than git's common ancestor file. `who` signs a merge commit; without one, only a
/// merge that needs no new commit succeeds.
pub fn merge_driver(
    ws: &Workspace,
    ours_file: &Path,
    theirs_file: &Path,
    who: Option<&Signature>,
) -> Result<DriverOutcome, Error> {
    let repo = ws.repo();
    let store = repo.store();
    let read = |path: &Path, side: &str| -> Result<Pin, Error> {
        let text = fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Pin::parse(&text, &format!("dvx.lock ({side})"))?)
    };
    let (ours, theirs) = (read(ours_file, "ours")?, read(theirs_file, "theirs")?);
    if ours.commit == theirs.commit {
        return Ok(DriverOutcome::Same);
    }
    if store.read_commit(&ours.commit).is_err() || store.read_commit(&theirs.commit).is_err() {
        return Ok(DriverOutcome::NotLocal);
    }
    let write = |text: String| {
        // git's file lies in the work tree: its temp file goes to dvx's temp area.
        ws.repo()
            .temps()
            .write(ours_file, text.as_bytes())
            .map_err(|source| Error::Write {
                path: ours_file.to_path_buf(),
                source,
            })
    };
    let author = match who {
        Some(who) => who.clone(),
        None if needs_commit(ws, &ours, &theirs)? => return Err(Error::NoIdentity),
        // One side contains the other: `join` makes no commit, so nobody signs one.
        None => Signature {
            name: String::new(),
            email: String::new(),
            time: 0,
            tz_minutes: 0,
        },
    };
    let how = MergeCommit {
        strategy: None,
        author,
        message: "Merge pinned data versions (git merge of dvx.lock)\n".into(),
        git: None,
    };
    let joined = match history_merge::join(repo, Some(ours.commit), theirs.commit, &how)? {
        Joined::UpToDate => ours.commit,
        Joined::FastForward => theirs.commit,
        Joined::Merged { commit, .. } => commit,
        Joined::Conflicts(paths) => {
            // Leave both sides in the file, as git would for text.
            write(format!(
                "<<<<<<< ours\n{}=======\n{}>>>>>>> theirs\n",
                ours.render(),
                theirs.render()
            ))?;
            return Ok(DriverOutcome::Conflicts(paths.len()));
        }
    };
    let merged = Pin {
        commit: joined,
        branch: ours.branch.or(theirs.branch),
    };
    write(merged.render())?;
    Ok(DriverOutcome::Merged(merged))
}

/// Whether joining the two pins needs a new merge commit (neither contains the other).
fn needs_commit(ws: &Workspace, ours: &Pin, theirs: &Pin) -> Result<bool, Error> {
    let store = ws.repo().store();
    Ok(
        !history_merge::is_ancestor(store, theirs.commit, ours.commit)?
            && !history_merge::is_ancestor(store, ours.commit, theirs.commit)?,
    )
}
