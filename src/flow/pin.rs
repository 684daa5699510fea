//! The pin's flows: the pinned commit at a git revision, switching to it (`dvx checkout
//! --git`, the hooks), and pointing `dvx.lock` at HEAD after a command moved it.
//!
//! Following the pin never rewrites `dvx.lock` (so `git checkout` leaves it clean);
//! commands that move HEAD on the user's behalf (`commit`, `checkout <rev>`, `merge`)
//! re-pin, so the file always names the data the work tree has. Either way `dvx.lock` is
//! written under the repository lock, after everything else.

use super::follow;
use super::switch::{NotTaken, SwitchOptions, Switched, switch};
use super::{Error, git_of};
use crate::git::pin::{self, Pin};
use crate::history::merge::is_ancestor;
use crate::progress::Progress;
use crate::refs::{self, Expected, HEADS};
use crate::repo::RepoLock;
use crate::workspace::{HeadMove, Workspace};

/// The pin `dvx.lock` holds at git revision `git_rev`, whose commit must be local.
pub fn pinned_at(ws: &Workspace, git_rev: &str) -> Result<Pin, Error> {
    let git = git_of(ws, "--git")?;
    let pin = pin::at_revision(git, git_rev)?.ok_or_else(|| Error::NoPin {
        rev: git_rev.to_owned(),
    })?;
    ensure_local(ws, &pin, &format!("{git_rev}:{}", pin::FILE_NAME))?;
    Ok(pin)
}

/// Refuse a pin whose commit is not in the local store (`where_` names the pin).
pub(super) fn ensure_local(ws: &Workspace, pin: &Pin, where_: &str) -> Result<(), Error> {
    if ws.repo().store().read_commit(&pin.commit).is_err() {
        return Err(Error::PinnedCommitMissing {
            where_: where_.to_owned(),
            commit: pin.commit,
        });
    }
    Ok(())
}

/// `dvx checkout --git <git_rev>`: check out the data `dvx.lock` pins at that revision.
pub fn checkout_git(
    ws: &Workspace,
    lock: &RepoLock,
    git_rev: &str,
    options: &SwitchOptions<'_>,
    progress: &dyn Progress,
) -> Result<Switched, Error> {
    let pin = pinned_at(ws, git_rev)?;
    switch_to_pin(ws, lock, &pin, options, progress)
}

/// Check out a pinned commit, on a branch when one fits: git's current branch when dvx
/// follows git (and git is on one), else the pin's `branch` key. HEAD goes to that branch
/// when it is at the pinned commit, fast-forwards it when it is behind, creates it when
/// absent, and otherwise (or when another work tree has it checked out) detaches at the
/// pinned commit. Never rewrites `dvx.lock`.
pub fn switch_to_pin(
    ws: &Workspace,
    lock: &RepoLock,
    pin: &Pin,
    options: &SwitchOptions<'_>,
    progress: &dyn Progress,
) -> Result<Switched, Error> {
    let repo = ws.repo();
    let target = pin.commit;
    let candidate = match follow::git_branch_to_follow(ws)? {
        Some(branch) => Some(branch),
        None => pin.branch.clone(),
    };
    let mut not_taken = None;
    let head = match candidate {
        Some(name) if refs::validate_name(&name, "branch").is_ok() => {
            let full = format!("{HEADS}{name}");
            let here = repo.refs().read_head()? == refs::Head::Branch(full.clone());
            let elsewhere = if here {
                None
            } else {
                repo.other_worktree_on(&full)
            };
            match (elsewhere, repo.refs().get(&full)?) {
                // Another work tree is on that branch: this one follows the pin detached,
                // never onto (or moving) the other's branch.
                (Some(worktree), _) => {
                    not_taken = Some(NotTaken::CheckedOutElsewhere {
                        branch: name,
                        worktree,
                    });
                    HeadMove::Detach
                }
                (None, Some(tip)) if tip == target => HeadMove::Switch(full),
                (None, Some(tip)) if is_ancestor(repo.store(), tip, target)? => {
                    HeadMove::SetBranch {
                        branch: full,
                        expected: Expected::Is(tip),
                    }
                }
                (None, Some(tip)) => {
                    not_taken = Some(NotTaken::Elsewhere { branch: name, tip });
                    HeadMove::Detach
                }
                (None, None) => HeadMove::SetBranch {
                    branch: full,
                    expected: Expected::Absent,
                },
            }
        }
        _ => HeadMove::Detach,
    };
    let mut switched = switch(
        ws,
        lock,
        target,
        head,
        options,
        "checkout: follow dvx.lock",
        progress,
    )?;
    switched.branch_not_taken = not_taken;
    Ok(switched)
}

/// Point `dvx.lock` at HEAD's commit and branch, under the repository lock and after
/// everything else the command wrote. Returns whether the file changed; `false` without
/// git integration or without a commit.
pub fn repin(ws: &Workspace, lock: &RepoLock) -> Result<bool, Error> {
    repin_with(ws, lock, Branch::Rewrite)
}

/// [`repin`] after a merge or pull: a pin that already names HEAD's commit is left as
/// it is. The pin names a commit; its branch only hints which branch a switch to it
/// takes, so rewriting the file for the branch alone would hand git a change to commit
/// after a fresh clone's first pull of exactly the data the code pins.
pub fn repin_moved(ws: &Workspace, lock: &RepoLock) -> Result<bool, Error> {
    repin_with(ws, lock, Branch::KeepOnSameCommit)
}

/// Whether a pin naming HEAD's commit gets HEAD's branch too.
#[derive(PartialEq, Eq)]
enum Branch {
    Rewrite,
    KeepOnSameCommit,
}

fn repin_with(ws: &Workspace, lock: &RepoLock, branch: Branch) -> Result<bool, Error> {
    if ws.git().is_none() {
        return Ok(false);
    }
    let refs = ws.repo().refs();
    let Some(commit) = refs.head_commit()? else {
        return Ok(false);
    };
    if branch == Branch::KeepOnSameCommit
        && let Ok(Some(pinned)) = Pin::read(ws.root())
        && pinned.commit == commit
    {
        return Ok(false);
    }
    let branch = refs.read_head()?.branch().map(str::to_owned);
    Ok(Pin { commit, branch }.write(ws.root(), lock)?)
}
