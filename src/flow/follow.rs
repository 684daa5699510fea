//! dvx's current branch follows git's branch switches.
//!
//! dvx remembers, per work tree, the git branch it last saw (`.dvx/GIT_BRANCH`, see
//! docs/format.md). When git's current branch has changed since (a `git checkout` or
//! `git switch` to branch X, seen by the post-checkout hook or by the next dvx command),
//! dvx goes to its own branch X without touching a file: it creates X at HEAD's commit
//! when X is absent, or moves HEAD to X when X is at HEAD's commit. So a `dvx commit`
//! made after `git checkout -b feature` lands on dvx's `feature`.
//!
//! Between git's switches, dvx's own branch commands win: they record git's branch as
//! seen ([`record_git_branch`]). While git is detached dvx keeps its branch; while a
//! rebase replays commits on a detached HEAD nothing is recorded, so its end is no
//! switch.
//!
//! When dvx cannot follow without touching files or another work tree ([`Blocked`]: its
//! branch X is at another commit than the work tree's data, another work tree has X
//! checked out, or X is no valid dvx branch name), it stays where it is, says why, and
//! tries again next time; `commit` and `merge` refuse meanwhile ([`follow_or_refuse`]),
//! so no commit lands on a branch git is not on. An explicit `dvx checkout` settles it.
//!
//! `core.follow_git_branch = false` turns following off; a repository without git
//! integration has nothing to follow.

use std::fs;
use std::path::PathBuf;

use super::Error;
use crate::git::GitHead;
use crate::hash::ObjectId;
use crate::object::Signature;
use crate::refs::{self, Expected, HEADS, Head};
use crate::repo::{Repo, RepoLock};
use crate::workspace::Workspace;

/// The per-work-tree file holding the git branch dvx last saw.
pub const STATE_FILE: &str = "GIT_BRANCH";

/// Why dvx could not follow git to a branch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Blocked {
    /// dvx's branch of that name is at another commit than the work tree's data (HEAD's
    /// commit): switching to it without touching files would show the difference as
    /// staged changes, and a commit would take this data onto that branch.
    #[error("dvx's branch '{branch}' is at {}, and the work tree has {}", tip.short(), head.map(|h| h.short()).unwrap_or_else(|| "no commit".into()))]
    AtAnotherCommit {
        branch: String,
        tip: ObjectId,
        head: Option<ObjectId>,
    },
    /// Another work tree has that dvx branch checked out.
    #[error("dvx's branch '{branch}' is checked out at {}", worktree.display())]
    CheckedOutElsewhere { branch: String, worktree: PathBuf },
    /// git's branch name is not a valid dvx branch name.
    #[error("{0}")]
    InvalidName(String),
}

/// What following did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Following {
    /// Nothing to do: no git switch since dvx last looked (or following is off).
    Unchanged,
    /// dvx went to its branch `branch`, as git did, without touching a file.
    Switched {
        branch: String,
        /// The branch was created, at this commit (`None`: no commit yet, only HEAD
        /// names it).
        created: Option<Option<ObjectId>>,
    },
    /// git is on `git_branch`; dvx stays where it is (on `dvx_branch`, or detached).
    Blocked {
        git_branch: String,
        dvx_branch: Option<String>,
        why: Blocked,
    },
}

/// git's HEAD as dvx records it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Branch(String),
    Detached,
}

impl Seen {
    fn render(&self) -> String {
        match self {
            Seen::Branch(name) => format!("ref: {HEADS}{name}\n"),
            Seen::Detached => "detached\n".to_owned(),
        }
    }

    /// The file's content; anything else reads as no record (following then simply
    /// happens again, which never touches a file).
    fn parse(text: &str) -> Option<Seen> {
        let line = text.strip_suffix('\n')?;
        if line == "detached" {
            return Some(Seen::Detached);
        }
        let name = line.strip_prefix("ref: ")?.strip_prefix(HEADS)?;
        (!name.is_empty()).then(|| Seen::Branch(name.to_owned()))
    }
}

fn read_seen(repo: &Repo) -> Option<Seen> {
    Seen::parse(&fs::read_to_string(repo.local_file(STATE_FILE)).ok()?)
}

fn write_seen(repo: &Repo, seen: &Seen) -> Result<(), Error> {
    let path = repo.local_file(STATE_FILE);
    if read_seen(repo).as_ref() == Some(seen) {
        return Ok(());
    }
    // Not durable: losing it to a power cut only makes the next command follow again.
    repo.temps()
        .write(&path, seen.render().as_bytes())
        .map_err(|source| Error::Write { path, source })
}

/// git's HEAD now, when there is something to follow: `None` without git, with
/// following off, or while a rebase replays commits on a detached HEAD.
fn git_now(ws: &Workspace) -> Result<Option<Seen>, Error> {
    let Some(git) = ws.git() else {
        return Ok(None);
    };
    if !ws.repo().config().core.follow_git_branch {
        return Ok(None);
    }
    Ok(match git.current_head()? {
        GitHead::Branch(name) => Some(Seen::Branch(name)),
        GitHead::Detached if git.rebase_in_progress() => None,
        GitHead::Detached => Some(Seen::Detached),
    })
}

/// Whether git's HEAD changed since dvx last looked: a cheap check without the lock, so
/// read-only commands take the lock only when there is something to follow.
pub fn pending(ws: &Workspace) -> Result<bool, Error> {
    Ok(git_now(ws)?.is_some_and(|now| read_seen(ws.repo()).as_ref() != Some(&now)))
}

/// What following git to `name` would do.
enum Plan {
    /// HEAD is on that branch already.
    AlreadyThere,
    /// Point HEAD at the branch; create it (at HEAD's commit, if any) when `create`.
    Go {
        create: bool,
        at: Option<ObjectId>,
    },
    Blocked(Blocked),
}

fn plan(repo: &Repo, name: &str) -> Result<Plan, Error> {
    if let Err(e) = refs::validate_name(name, "branch") {
        return Ok(Plan::Blocked(Blocked::InvalidName(e.to_string())));
    }
    let full = format!("{HEADS}{name}");
    if repo.refs().read_head()? == Head::Branch(full.clone()) {
        return Ok(Plan::AlreadyThere);
    }
    if let Some(worktree) = repo.other_worktree_on(&full) {
        return Ok(Plan::Blocked(Blocked::CheckedOutElsewhere {
            branch: name.to_owned(),
            worktree,
        }));
    }
    let head = repo.refs().head_commit()?;
    Ok(match repo.refs().get(&full)? {
        None => Plan::Go {
            create: true,
            at: head,
        },
        Some(tip) if Some(tip) == head => Plan::Go {
            create: false,
            at: head,
        },
        Some(tip) => Plan::Blocked(Blocked::AtAnotherCommit {
            branch: name.to_owned(),
            tip,
            head,
        }),
    })
}

/// Follow a git branch switch, if there was one since dvx last looked: see the module
/// documentation. `who` signs the reflog entries.
pub fn follow_git_branch(
    ws: &Workspace,
    lock: &RepoLock,
    who: &Signature,
) -> Result<Following, Error> {
    let repo = ws.repo();
    let Some(now) = git_now(ws)? else {
        return Ok(Following::Unchanged);
    };
    if read_seen(repo).as_ref() == Some(&now) {
        return Ok(Following::Unchanged);
    }
    let Seen::Branch(name) = &now else {
        // git detached: dvx keeps its branch.
        write_seen(repo, &now)?;
        return Ok(Following::Unchanged);
    };
    let full = format!("{HEADS}{name}");
    let message = format!("checkout: moving to {name}, following git");
    let followed = match plan(repo, name)? {
        Plan::AlreadyThere => Following::Unchanged,
        Plan::Go { create, at } => {
            if create && let Some(at) = at {
                repo.update_ref(lock, &full, Expected::Absent, Some(at), who, &message)?;
            }
            repo.set_head(lock, &Head::Branch(full), who, &message)?;
            Following::Switched {
                branch: name.clone(),
                created: create.then_some(at),
            }
        }
        Plan::Blocked(why) => {
            // Not recorded: dvx tries again next time, until a dvx checkout settles it.
            return Ok(Following::Blocked {
                git_branch: name.clone(),
                dvx_branch: repo.refs().read_head()?.branch().map(str::to_owned),
                why,
            });
        }
    };
    write_seen(repo, &now)?;
    Ok(followed)
}

/// [`follow_git_branch`] for flows that move the current branch (`commit`, `merge`): when
/// dvx cannot follow, they refuse instead of moving a branch git is not on.
pub fn follow_or_refuse(
    ws: &Workspace,
    lock: &RepoLock,
    who: &Signature,
) -> Result<Following, Error> {
    match follow_git_branch(ws, lock, who)? {
        Following::Blocked {
            git_branch,
            dvx_branch,
            why,
        } => Err(Error::NotFollowed {
            git_branch,
            dvx_branch,
            why: Box::new(why),
        }),
        followed => Ok(followed),
    }
}

/// Record git's current branch as seen, after an explicit dvx branch command: it wins
/// until git switches again.
pub fn record_git_branch(ws: &Workspace, lock: &RepoLock) -> Result<(), Error> {
    debug_assert!(lock.guards(ws.repo()), "the lock of another work tree");
    match git_now(ws)? {
        Some(now) => write_seen(ws.repo(), &now),
        None => Ok(()),
    }
}

/// The branch git is on, when dvx follows git (else `None`, also while git is
/// detached): where a switch to a pin goes instead of the pin's `branch` key.
pub fn git_branch_to_follow(ws: &Workspace) -> Result<Option<String>, Error> {
    Ok(match git_now(ws)? {
        Some(Seen::Branch(name)) => Some(name),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_file_round_trips_and_tolerates_damage() {
        for seen in [Seen::Branch("feature/x".into()), Seen::Detached] {
            assert_eq!(Seen::parse(&seen.render()), Some(seen));
        }
        assert_eq!(
            Seen::Branch("main".into()).render(),
            "ref: refs/heads/main\n"
        );
        for damaged in [
            "",
            "ref: refs/heads/\n",
            "ref: refs/tags/v1\n",
            "main\n",
            "detached",
        ] {
            assert_eq!(Seen::parse(damaged), None, "{damaged:?}");
        }
    }
}
