//! `dvx fsck --remote`: does the remote hold everything the local refs reach, and is
//! what it holds sound?
//!
//! The local side: every commit, tree, run record and blob reachable from a ref or a
//! detached HEAD (a local commit or tree that cannot be read stops the check: plain
//! `dvx fsck` reports such damage). The remote side is `remote::check`'s: every pack
//! index, pack and large object read and verified.

use super::Error;
use crate::hash::ObjectId;
use crate::history::reach;
use crate::progress::Progress;
use crate::remote::RemoteSource;
use crate::remote::check::Report;
use crate::workspace::Workspace;

/// What checking a remote found.
#[derive(Debug)]
pub struct RemoteCheck {
    pub report: Report,
    /// The objects the local refs reach that the remote lacks, with their kind
    /// (`commit`, `tree`, `run record`, `blob`), sorted by id.
    pub absent: Vec<(&'static str, ObjectId)>,
}

impl RemoteCheck {
    pub fn is_clean(&self) -> bool {
        self.report.is_clean()
    }
}

/// Check `source`'s remote against what this repository's refs reach.
pub fn check_remote(
    ws: &Workspace,
    source: &RemoteSource,
    progress: &dyn Progress,
) -> Result<RemoteCheck, Error> {
    let repo = ws.repo();
    let refs = repo.refs();
    let mut tips: Vec<ObjectId> = refs
        .list("refs/")
        .map_err(crate::history::Error::from)?
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    tips.extend(refs.head_commit().map_err(crate::history::Error::from)?);
    let reached = reach::reachable(repo.store(), &tips, &[])?;
    let wanted: Vec<ObjectId> = reached
        .commits
        .iter()
        .chain(&reached.trees)
        .chain(&reached.runs)
        .chain(&reached.blobs)
        .copied()
        .collect();
    let report = source.remote()?.check(&wanted, progress)?;
    let kind = |id: &ObjectId| {
        if reached.commits.contains(id) {
            "commit"
        } else if reached.trees.contains(id) {
            "tree"
        } else if reached.runs.contains(id) {
            "run record"
        } else {
            "blob"
        }
    };
    let absent = report.absent.iter().map(|id| (kind(id), *id)).collect();
    Ok(RemoteCheck { report, absent })
}
