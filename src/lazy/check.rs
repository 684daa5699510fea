//! `dvx fsck --remote`: does the remote hold everything the local refs reach, and is
//! what it holds sound?
//!
//! The local side: every commit, tree, run record and blob reachable from a ref or a
//! detached HEAD (a local commit or tree that cannot be read stops the check: plain
//! `dvx fsck` reports such damage). The remote side is `remote::check`'s: every pack
//! index, pack and large object read and verified; and the remote's refs, each readable
//! and naming a commit the remote holds.

use super::Error;
use crate::hash::ObjectId;
use crate::history::reach;
use crate::progress::Progress;
use crate::remote::check::Report;
use crate::remote::transfer::catalog::Doubt;
use crate::remote::{self, RefKind, Remote, RemoteSource};
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
    let remote = source.remote()?;
    let mut report = remote.check(&wanted, progress)?;
    report.damaged.extend(check_refs(&remote)?);
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

/// The remote's own refs: each must read, and name a commit the remote holds (else
/// `fetch`, `pull` and `clone` fail there). One line of damage per broken ref; a ref
/// file that cannot be read hides the others of its kind (the listing stops there).
fn check_refs(remote: &Remote) -> Result<Vec<String>, Error> {
    let mut damaged = Vec::new();
    let mut targets = Vec::new();
    for kind in [RefKind::Branch, RefKind::Tag] {
        match remote.refs(kind) {
            Ok(refs) => targets.extend(
                refs.into_iter()
                    .filter_map(|r| Some((kind, r.name, r.target?))),
            ),
            Err(remote::Error::Refs(e @ remote::refs::Error::Corrupt { .. })) => {
                damaged.push(e.to_string())
            }
            Err(e) => return Err(e.into()),
        }
    }
    let ids: Vec<ObjectId> = targets.iter().map(|(_, _, id)| *id).collect();
    let unsound = remote.unsound(&ids)?;
    for (kind, name, id) in targets {
        if let Some((_, doubt)) = unsound.iter().find(|(u, _)| *u == id) {
            let why = match doubt {
                Doubt::Absent => "it is not there",
                Doubt::Damaged(why) => why.as_str(),
            };
            let kind = match kind {
                RefKind::Branch => "branch",
                RefKind::Tag => "tag",
            };
            damaged.push(format!(
                "{kind} {name} points at commit {id}, which the remote cannot provide ({why})"
            ));
        }
    }
    Ok(damaged)
}
