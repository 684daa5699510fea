//! `dvx checkout <rev>` and `dvx checkout -b <new>`: which way HEAD moves, then the
//! checkout, then `dvx.lock`.
//!
//! A name that is a branch switches to that branch (even when a tag of the same name,
//! which revisions resolve first, names another commit: the files must be the
//! branch's); `HEAD` stays on the current branch; anything else detaches HEAD. Both
//! forms first follow a git branch switch that happened meanwhile, then record git's
//! branch as seen (an explicit checkout wins until git switches again), and point
//! `dvx.lock` at the new HEAD, last. Leaving commits that only a detached HEAD reached is
//! reported, as git warns.

use super::follow::{self, Following};
use super::{Error, pin};
use crate::hash::ObjectId;
use crate::history::{self, branch, detached};
use crate::object::Signature;
use crate::progress::Progress;
use crate::refs::{Expected, HEADS, Head};
use crate::repo::RepoLock;
use crate::store::ObjectSource;
use crate::workspace::{self, CheckoutMode, CheckoutOptions, CheckoutReport, HeadMove, Workspace};

/// How a switch checks out.
#[derive(Clone)]
pub struct SwitchOptions<'a> {
    pub mode: CheckoutMode,
    /// Throw local changes away (`git checkout -f`).
    pub force: bool,
    /// Signs the reflog entries.
    pub who: Signature,
    /// Where bytes come from: the local store, or a remote-backed source that an eager
    /// checkout fetches the absent ones from (a lazy one never asks it to).
    pub objects: &'a dyn ObjectSource,
}

impl std::fmt::Debug for SwitchOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SwitchOptions")
            .field("mode", &self.mode)
            .field("force", &self.force)
            .field("who", &self.who)
            .field("fetches_from", &self.objects.fetches_from())
            .finish()
    }
}

/// What a switch did.
#[derive(Debug)]
pub struct Switched {
    /// A git branch switch followed first.
    pub followed: Following,
    /// The commit checked out.
    pub target: ObjectId,
    /// The branch HEAD is on now; `None` when detached.
    pub branch: Option<String>,
    pub report: CheckoutReport,
    /// Whether `dvx.lock` was rewritten (never when following the pin).
    pub pin_changed: bool,
    /// Commits only the detached HEAD reached before, newest first: nothing but the
    /// reflog keeps them now.
    pub left_behind: Vec<ObjectId>,
    /// When following a pin detached HEAD instead of taking a branch: which one, and why.
    pub branch_not_taken: Option<NotTaken>,
}

/// Why a switch to a pin did not take the branch git (or the pin) named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotTaken {
    /// The branch is at `tip`, which is not an ancestor of the pinned commit.
    Elsewhere { branch: String, tip: ObjectId },
    /// Another work tree has the branch checked out.
    CheckedOutElsewhere {
        branch: String,
        worktree: std::path::PathBuf,
    },
}

/// What `dvx checkout -b` did.
#[derive(Debug)]
pub enum NewBranch {
    /// No commit yet: the unborn branch HEAD is on got the new name.
    Unborn {
        followed: Following,
    },
    /// HEAD was on that branch already, at the commit asked for (dvx had followed git
    /// onto it): nothing to do.
    AlreadyOn {
        followed: Following,
        branch: String,
    },
    Switched(Box<Switched>),
}

/// `dvx checkout <rev>`, `rev` already resolved to `target`.
pub fn to_revision(
    ws: &Workspace,
    lock: &RepoLock,
    rev: &str,
    target: ObjectId,
    options: &SwitchOptions<'_>,
    progress: &dyn Progress,
) -> Result<Switched, Error> {
    let followed = follow_quietly(ws, lock, &options.who)?;
    let refs = ws.repo().refs();
    let branch = format!("{HEADS}{rev}");
    let current = match refs.read_head()? {
        Head::Branch(b) if rev == "HEAD" || rev == "@" => Some(b),
        _ => None,
    };
    let (target, head) = match (current, refs.get(&branch)?) {
        (Some(current), _) => (target, HeadMove::Switch(current)),
        (None, Some(tip)) => (tip, HeadMove::Switch(branch)),
        (None, None) => (target, HeadMove::Detach),
    };
    let message = format!("checkout: moving to {rev}");
    let mut switched = switch(ws, lock, target, head, options, &message, progress)?;
    switched.pin_changed = pin::repin(ws, lock)?;
    switched.followed = followed;
    Ok(switched)
}

/// `dvx checkout -b <name> [<start>]`: create the branch at `start` (default HEAD's
/// commit) and switch to it.
pub fn to_new_branch(
    ws: &Workspace,
    lock: &RepoLock,
    name: &str,
    start: Option<ObjectId>,
    options: &SwitchOptions<'_>,
    progress: &dyn Progress,
) -> Result<NewBranch, Error> {
    let followed = follow_quietly(ws, lock, &options.who)?;
    let repo = ws.repo();
    crate::refs::validate_name(name, "branch")?;
    let full = format!("{HEADS}{name}");
    let Some(at) = start.or(repo.refs().head_commit()?) else {
        branch::rename_unborn(repo, lock, name, &options.who).map_err(|e| match e {
            history::Error::BranchExists(name) => Error::NewBranchExists(name),
            e => e.into(),
        })?;
        follow::record_git_branch(ws, lock)?;
        return Ok(NewBranch::Unborn { followed });
    };
    if let Some(tip) = repo.refs().get(&full)? {
        // `git checkout -b feature` then `dvx checkout -b feature`, as before dvx
        // followed git: the branch is there already, where it was asked for.
        if repo.refs().read_head()? == Head::Branch(full) && tip == at {
            follow::record_git_branch(ws, lock)?;
            return Ok(NewBranch::AlreadyOn {
                followed,
                branch: name.to_owned(),
            });
        }
        return Err(Error::NewBranchExists(name.to_owned()));
    }
    let head = HeadMove::SetBranch {
        branch: full,
        expected: Expected::Absent,
    };
    let message = format!("checkout: moving to new branch {name}");
    let mut switched = switch(ws, lock, at, head, options, &message, progress)?;
    switched.pin_changed = pin::repin(ws, lock)?;
    switched.followed = followed;
    Ok(NewBranch::Switched(Box::new(switched)))
}

/// Follow a git branch switch before an explicit checkout; when dvx cannot, the checkout
/// settles it, so that is no news.
fn follow_quietly(ws: &Workspace, lock: &RepoLock, who: &Signature) -> Result<Following, Error> {
    Ok(match follow::follow_git_branch(ws, lock, who)? {
        Following::Blocked { .. } => Following::Unchanged,
        followed => followed,
    })
}

/// Check out `target`, moving HEAD as `head` says; then record git's branch as seen and
/// find the commits a detached HEAD left behind. `dvx.lock` is the caller's to write.
pub(super) fn switch(
    ws: &Workspace,
    lock: &RepoLock,
    target: ObjectId,
    head: HeadMove,
    options: &SwitchOptions<'_>,
    message: &str,
    progress: &dyn Progress,
) -> Result<Switched, Error> {
    let repo = ws.repo();
    let before = repo.refs().read_head()?;
    let checkout = CheckoutOptions {
        target,
        head,
        mode: options.mode,
        force: options.force,
        who: options.who.clone(),
        message: message.to_owned(),
    };
    let mut index = ws.load_index()?;
    let report = workspace::switch(ws, lock, &mut index, &checkout, options.objects, progress)?;
    follow::record_git_branch(ws, lock)?;
    let left_behind = match before {
        // Only a warning depends on it: a history that cannot be walked (damage fsck
        // reports) leaves it out rather than failing a checkout that is done.
        Head::Detached(old) => detached::left_behind(repo, old, Some(target)).unwrap_or_default(),
        Head::Branch(_) => Vec::new(),
    };
    Ok(Switched {
        followed: Following::Unchanged,
        target,
        branch: repo.refs().read_head()?.branch().map(str::to_owned),
        report,
        pin_changed: false,
        left_behind,
        branch_not_taken: None,
    })
}
