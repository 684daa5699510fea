//! How far the current branch is ahead of or behind its upstream, for `dvx status`.
//!
//! Owns: which branch is the upstream (the default remote's branch of the same name,
//! `refs/remotes/<remote>/<branch>`, as `dvx pull` joins it) and counting the commits
//! each side has that the other lacks, as `git status` does. Reads only local refs and
//! commits: no network I/O (the counts are as of the last fetch or push).

use std::collections::HashSet;

use super::{Error, remotes};
use crate::hash::ObjectId;
use crate::refs;
use crate::store::Store;
use crate::workspace::Workspace;

/// The current branch against its upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracking {
    /// `<remote>/<branch>`, as people write it.
    pub upstream: String,
    pub upstream_commit: ObjectId,
    /// Commits on the branch that the upstream does not have.
    pub ahead: usize,
    /// Commits on the upstream that the branch does not have.
    pub behind: usize,
}

/// The current branch's upstream and the counts; `None` when HEAD is detached, no remote
/// is configured, or the remote has no branch of that name (as far as this clone knows).
pub fn tracking(ws: &Workspace) -> Result<Option<Tracking>, Error> {
    let repo = ws.repo();
    let Some(branch) = repo.refs().read_head()?.branch().map(str::to_owned) else {
        return Ok(None);
    };
    let Some(remote) = remotes::default_name(repo)? else {
        return Ok(None);
    };
    let Some(upstream_commit) = repo.refs().get(&refs::remote_tracking(&remote, &branch))? else {
        return Ok(None);
    };
    let ours = repo.refs().head_commit()?;
    let store = repo.store();
    let upstream_side = closure(store, Some(upstream_commit))?;
    let our_side = closure(store, ours)?;
    Ok(Some(Tracking {
        upstream: format!("{remote}/{branch}"),
        upstream_commit,
        ahead: our_side.difference(&upstream_side).count(),
        behind: upstream_side.difference(&our_side).count(),
    }))
}

fn closure(store: &Store, tip: Option<ObjectId>) -> Result<HashSet<ObjectId>, Error> {
    let mut seen = HashSet::new();
    let mut stack: Vec<ObjectId> = tip.into_iter().collect();
    while let Some(id) = stack.pop() {
        if seen.insert(id) {
            stack.extend(store.read_commit(&id)?.parents);
        }
    }
    Ok(seen)
}
