//! Branch rules: creating, moving, deleting and renaming branches.
//!
//! Owns what may happen to a branch, as git has it: names follow git's rules; an
//! existing branch moves only when forced, and never while a work tree has it checked
//! out; a branch is deleted only when merged into HEAD (or forced), and never while a
//! work tree (this one, or another: main or linked) has it checked out; a rename keeps
//! HEAD on the branch here and is refused while another work tree has it checked out.
//! Does not own checking out (`workspace`) or how refs are stored (`refs`).
//!
//! Each function runs under the repository lock (its guard is a parameter); every ref
//! moves by compare-and-swap.

use super::Error;
use super::merge::is_ancestor;
use crate::hash::ObjectId;
use crate::object::Signature;
use crate::refs::{self, Expected, HEADS, Head};
use crate::repo::{BranchChange, Repo, RepoLock};

fn full_name(name: &str) -> String {
    format!("{HEADS}{name}")
}

fn is_current(repo: &Repo, full: &str) -> Result<bool, Error> {
    Ok(matches!(repo.refs().read_head()?, Head::Branch(b) if b == full))
}

/// Create branch `name` at `target`; with `force`, move it there if it exists.
pub fn create(
    repo: &Repo,
    lock: &RepoLock,
    name: &str,
    target: ObjectId,
    force: bool,
    who: &Signature,
    message: &str,
) -> Result<(), Error> {
    refs::validate_name(name, "branch")?;
    let full = full_name(name);
    let existing = repo.refs().get(&full)?;
    if existing.is_some() && !force {
        return Err(Error::BranchExists(name.to_owned()));
    }
    if existing.is_some() && is_current(repo, &full)? {
        return Err(Error::CurrentBranch {
            name: name.to_owned(),
            change: BranchChange::Move,
        });
    }
    // Also a branch with no commits yet that another work tree is on: creating it would
    // give that work tree a history it never had.
    let change = if existing.is_some() {
        BranchChange::Move
    } else {
        BranchChange::Create
    };
    repo.ensure_not_checked_out_elsewhere(&full, change)?;
    let expected = existing.map(Expected::Is).unwrap_or(Expected::Absent);
    repo.update_ref(lock, &full, expected, Some(target), who, message)?;
    Ok(())
}

/// Delete branch `name`; unless `force`, only when it is merged into HEAD. Returns the
/// commit it pointed at.
pub fn delete(
    repo: &Repo,
    lock: &RepoLock,
    name: &str,
    force: bool,
    who: &Signature,
) -> Result<ObjectId, Error> {
    let full = full_name(name);
    let refs = repo.refs();
    let Some(tip) = refs.get(&full)? else {
        return Err(Error::NoSuchBranch(name.to_owned()));
    };
    if is_current(repo, &full)? {
        return Err(Error::CurrentBranch {
            name: name.to_owned(),
            change: BranchChange::Delete,
        });
    }
    repo.ensure_not_checked_out_elsewhere(&full, BranchChange::Delete)?;
    if !force {
        let merged = match refs.head_commit()? {
            Some(head) => is_ancestor(repo.store(), tip, head)?,
            None => false,
        };
        if !merged {
            return Err(Error::NotMerged(name.to_owned()));
        }
    }
    repo.update_ref(lock, &full, Expected::Is(tip), None, who, "branch: deleted")?;
    Ok(tip)
}

/// Rename branch `old` to `new`; HEAD follows when it is on `old` here.
pub fn rename(
    repo: &Repo,
    lock: &RepoLock,
    old: &str,
    new: &str,
    who: &Signature,
) -> Result<(), Error> {
    refs::validate_name(new, "branch")?;
    let (old_full, new_full) = (full_name(old), full_name(new));
    let refs = repo.refs();
    let Some(tip) = refs.get(&old_full)? else {
        return Err(Error::NoSuchBranch(old.to_owned()));
    };
    if refs.get(&new_full)?.is_some() {
        return Err(Error::BranchExists(new.to_owned()));
    }
    repo.ensure_not_checked_out_elsewhere(&old_full, BranchChange::Rename)?;
    repo.ensure_not_checked_out_elsewhere(&new_full, BranchChange::Create)?;
    let message = format!("branch: renamed {old} to {new}");
    repo.update_ref(lock, &new_full, Expected::Absent, Some(tip), who, &message)?;
    if is_current(repo, &old_full)? {
        repo.set_head(lock, &Head::Branch(new_full), who, &message)?;
    }
    repo.update_ref(lock, &old_full, Expected::Is(tip), None, who, &message)?;
    Ok(())
}

/// Before the first commit, give the unborn branch HEAD is on another name, as
/// `git checkout -b` does then: no ref exists yet, so only HEAD changes.
pub fn rename_unborn(
    repo: &Repo,
    lock: &RepoLock,
    name: &str,
    who: &Signature,
) -> Result<(), Error> {
    refs::validate_name(name, "branch")?;
    let full = full_name(name);
    if repo.refs().get(&full)?.is_some() {
        return Err(Error::BranchExists(name.to_owned()));
    }
    repo.ensure_not_checked_out_elsewhere(&full, BranchChange::CheckOut)?;
    repo.set_head(
        lock,
        &Head::Branch(full),
        who,
        "checkout: new unborn branch",
    )?;
    Ok(())
}
