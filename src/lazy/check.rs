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
use crate::remote::{self, RefKind, Remote, RemoteRef, RemoteSource};
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
    let remote = source.remote()?;
    let (mut damaged, targets) = remote_refs(&remote)?;
    // The remote's ref targets are asked about with the rest (no request of their own).
    let wanted: Vec<ObjectId> = reached
        .commits
        .iter()
        .chain(&reached.trees)
        .chain(&reached.runs)
        .chain(&reached.blobs)
        .copied()
        .chain(
            targets
                .iter()
                .filter_map(|r| r.target)
                .filter(|id| !reached.commits.contains(id)),
        )
        .collect();
    let mut report = remote.check(&wanted, progress)?;
    for r in &targets {
        if let Some(id) = r.target
            && report.absent.binary_search(&id).is_ok()
        {
            damaged.push(format!(
                "{} {} points at commit {id}, which the remote does not hold",
                r.kind.what(),
                r.name
            ));
        }
    }
    // A target only the remote's refs want is damage of the ref, said above.
    report.absent.retain(|id| {
        reached.commits.contains(id) || !targets.iter().any(|r| r.target == Some(*id))
    });
    report.damaged.extend(damaged);
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

/// The remote's own refs: those that do not read (one line of damage each; a ref file
/// that cannot be read hides the others of its kind, as the listing stops there), and
/// the live rest, each with its target.
fn remote_refs(remote: &Remote) -> Result<(Vec<String>, Vec<RemoteRef>), Error> {
    let mut damaged = Vec::new();
    let mut live = Vec::new();
    for kind in [RefKind::Branch, RefKind::Tag] {
        match remote.refs(kind) {
            Ok(refs) => live.extend(refs),
            Err(remote::Error::Refs(e @ remote::refs::Error::Corrupt { .. })) => {
                damaged.push(e.to_string())
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok((damaged, live))
}
