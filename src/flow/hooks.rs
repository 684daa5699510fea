//! What the installed git hooks do (`dvx hook <name>`, run by git).
//!
//! post-checkout, post-merge and post-rewrite check out the data the new `dvx.lock` pins
//! (lazily unless installed with `--eager`), only when `dvx.lock` changed and never in the
//! middle of a rebase (post-rewrite after a rebase runs as the rebase ends, and follows
//! its result). A branch checkout also follows git's branch ([`super::follow`]), which is
//! all that happens when the pin did not change (`git checkout -b feature`). pre-push
//! refuses a push whose commits pin dvx commits that are not in this repository. A hook
//! that fails leaves the data as it was: checkout plans every path before it touches one.

use super::follow::{self, Following};
use super::pin::{pinned_at, switch_to_pin};
use super::switch::{SwitchOptions, Switched};
use super::{Error, git_of};
use crate::git::GitRepo;
use crate::git::pin::{self, Pin};
use crate::progress::Progress;
use crate::repo::RepoLock;
use crate::workspace::Workspace;

/// How the hooks check out, and what git told them.
#[derive(Debug, Clone)]
pub struct HookOptions<'a> {
    pub switch: SwitchOptions<'a>,
    /// `GIT_REFLOG_ACTION`, which git sets for the commands it runs (read by the caller).
    pub reflog_action: Option<&'a str>,
}

/// What a hook did.
#[derive(Debug)]
pub struct HookReport {
    /// A git branch switch followed (without a checkout).
    pub followed: Following,
    pub outcome: HookOutcome,
}

/// What a hook did about the data.
#[derive(Debug)]
pub enum HookOutcome {
    /// Nothing to do: not a branch checkout, a rebase replaying commits, a squash merge,
    /// or `dvx.lock` did not change.
    Skipped,
    /// The new git commit has no `dvx.lock`: the data was left as it was.
    NoPin,
    /// The data is at the pinned commit already.
    AtPin,
    /// The pinned data was checked out.
    Switched(Box<Switched>),
}

/// Whether git is replaying commits: a rebase's state is there, or git says so through
/// `GIT_REFLOG_ACTION` (which the caller reads from the environment). `git pull
/// --rebase` sets the action `pull --rebase` for all it does, including the plain
/// fast-forward it makes when there is nothing to replay, so only an action that starts
/// with `rebase` counts.
pub fn in_rebase(git: &GitRepo, reflog_action: Option<&str>) -> bool {
    git.rebase_in_progress() || reflog_action.is_some_and(|a| a.starts_with("rebase"))
}

/// The bytes of `dvx.lock` at a git revision, for "did the pin change": a revision git
/// cannot read counts as having none.
fn pin_bytes(git: &GitRepo, rev: &str) -> Option<Vec<u8>> {
    pin::bytes_at(git, rev).ok().flatten()
}

/// post-checkout: `prev` and `new` are the commits git moved between; `branch_checkout`
/// is git's flag (false for `git checkout -- <file>`).
pub fn post_checkout(
    ws: &Workspace,
    lock: &RepoLock,
    prev: &str,
    new: &str,
    branch_checkout: bool,
    options: &HookOptions,
    progress: &dyn Progress,
) -> Result<HookReport, Error> {
    let git = git_of(ws, "hooks")?;
    if !branch_checkout || in_rebase(git, options.reflog_action) {
        return Ok(skipped());
    }
    if pin_bytes(git, prev) == pin_bytes(git, new) {
        return Ok(HookReport {
            followed: follow::follow_git_branch(ws, lock, &options.switch.who)?,
            outcome: HookOutcome::Skipped,
        });
    }
    follow_pin(ws, lock, git, &options.switch, progress)
}

/// post-merge: `squash` is git's flag.
pub fn post_merge(
    ws: &Workspace,
    lock: &RepoLock,
    squash: bool,
    options: &HookOptions,
    progress: &dyn Progress,
) -> Result<HookReport, Error> {
    let git = git_of(ws, "hooks")?;
    if squash
        || in_rebase(git, options.reflog_action)
        || pin_bytes(git, "ORIG_HEAD") == pin_bytes(git, "HEAD")
    {
        return Ok(skipped());
    }
    follow_pin(ws, lock, git, &options.switch, progress)
}

/// post-rewrite: `rebase` says whether git rewrote for a rebase (else an amend);
/// `rewritten` is git's input, `<old> <new> [<extra>]` per line.
pub fn post_rewrite(
    ws: &Workspace,
    lock: &RepoLock,
    rebase: bool,
    rewritten: &str,
    options: &HookOptions,
    progress: &dyn Progress,
) -> Result<HookReport, Error> {
    let git = git_of(ws, "hooks")?;
    // git runs post-rewrite for a rebase just before it removes the rebase's state, so
    // only an amend can be "during a rebase" (one step of it: the rebase's own
    // post-rewrite follows the pin when it ends).
    if !rebase && in_rebase(git, options.reflog_action) {
        return Ok(skipped());
    }
    let Some(head) = git.head().map(|h| h.hex()) else {
        return Ok(skipped());
    };
    // The commit HEAD replaced; after a rebase whose last commit was dropped, the
    // branch's old tip.
    let before =
        rewritten_from(rewritten, &head).or_else(|| rebase.then(|| "ORIG_HEAD".to_owned()));
    if before.is_some_and(|b| pin_bytes(git, &b) == pin_bytes(git, &head)) {
        // `git rebase <upstream> <branch>` switches branch on the way; the rebase's end
        // is where dvx sees it.
        return Ok(HookReport {
            followed: follow::follow_git_branch(ws, lock, &options.switch.who)?,
            outcome: HookOutcome::Skipped,
        });
    }
    follow_pin(ws, lock, git, &options.switch, progress)
}

fn skipped() -> HookReport {
    HookReport {
        followed: Following::Unchanged,
        outcome: HookOutcome::Skipped,
    }
}

/// The commit that `new` replaced, from post-rewrite's input.
fn rewritten_from(input: &str, new: &str) -> Option<String> {
    input.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let old = fields.next()?;
        (fields.next()? == new).then(|| old.to_owned())
    })
}

/// Check out what `dvx.lock` pins at git's HEAD, on git's branch when dvx follows git.
fn follow_pin(
    ws: &Workspace,
    lock: &RepoLock,
    git: &GitRepo,
    options: &SwitchOptions<'_>,
    progress: &dyn Progress,
) -> Result<HookReport, Error> {
    if pin_bytes(git, "HEAD").is_none() {
        return Ok(HookReport {
            followed: follow::follow_git_branch(ws, lock, &options.who)?,
            outcome: HookOutcome::NoPin,
        });
    }
    let pin = pinned_at(ws, "HEAD")?;
    if ws.repo().refs().head_commit()? == Some(pin.commit) {
        return Ok(HookReport {
            followed: follow::follow_git_branch(ws, lock, &options.who)?,
            outcome: HookOutcome::AtPin,
        });
    }
    Ok(HookReport {
        followed: Following::Unchanged,
        outcome: HookOutcome::Switched(Box::new(switch_to_pin(ws, lock, &pin, options, progress)?)),
    })
}

/// pre-push: refuse to push git commits whose pinned data is not here (it could never be
/// fetched). `refs` is git's input: `<local ref> <local sha> <remote ref> <remote sha>`
/// per line.
pub fn pre_push(ws: &Workspace, refs: &str) -> Result<(), Error> {
    let git = git_of(ws, "hooks")?;
    let mut missing = Vec::new();
    for line in refs.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [local_ref, local_sha, ..] = fields.as_slice() else {
            continue;
        };
        // A deleted ref is pushed as the null id, which pins nothing.
        let Some(bytes) = pin_bytes(git, local_sha) else {
            continue;
        };
        let where_ = format!("{local_ref}:{}", pin::FILE_NAME);
        let pin = Pin::parse_bytes(&bytes, &where_)?;
        if ws.repo().store().read_commit(&pin.commit).is_err() {
            missing.push(format!("{where_} pins {}", pin.commit.short()));
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::PushRefused { missing })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_commit_a_rewrite_replaced() {
        let input = "aaa bbb\nccc ddd extra\n";
        assert_eq!(rewritten_from(input, "ddd").as_deref(), Some("ccc"));
        assert_eq!(rewritten_from(input, "bbb").as_deref(), Some("aaa"));
        assert_eq!(rewritten_from(input, "eee"), None);
        assert_eq!(rewritten_from("", "bbb"), None);
    }
}
