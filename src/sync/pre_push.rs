//! The pre-push git hook: push the data the pushed git commits pin, as git-lfs does.
//!
//! Owns: which dvx commits a `git push` needs on the remote (the one `dvx.lock` pins in
//! every git commit the push sends) and uploading everything they reach that the default
//! remote lacks. No ref moves on the remote (the dvx branches are `dvx push`'s); a
//! pinned commit that is neither here nor on the remote refuses the push. With no remote
//! configured the hook keeps its older check: it refuses a push whose pinned commits
//! are not here (`flow::hooks::pre_push`).

use super::push::{RemoteRefs, upload_closure};
use super::{Connected, Error};
use crate::flow;
use crate::git::pin::{self, Pin};
use crate::hash::ObjectId;
use crate::progress::Progress;
use crate::remote::TransferStats;
use crate::workspace::Workspace;

/// What the hook did.
#[derive(Debug, Default)]
pub struct PrePushReport {
    /// The remote the data went to (`None`: no remote is configured; only checked).
    pub remote: Option<String>,
    /// The dvx commits the pushed git commits pin.
    pub pinned: Vec<ObjectId>,
    pub stats: TransferStats,
}

/// Run the hook for git's input (`<local ref> <local sha> <remote ref> <remote sha>`
/// per line) against `connected`, the default remote, if there is one.
pub fn pre_push(
    ws: &Workspace,
    connected: Option<&Connected>,
    input: &str,
    progress: &dyn Progress,
) -> Result<PrePushReport, Error> {
    let Some(connected) = connected else {
        flow::hooks::pre_push(ws, input)?;
        return Ok(PrePushReport::default());
    };
    let git = ws.git().ok_or(flow::Error::NoGit { what: "hooks" })?;
    let store = ws.repo().store();
    let remote = &connected.remote;
    // Contact the remote first: the push must not go ahead on credentials that fail.
    let mut requests = 1u64;
    if remote.manifest()?.is_none() {
        remote.init_if_empty()?;
        requests += 2;
    }
    let mut pinned: Vec<(ObjectId, String)> = Vec::new();
    for line in input.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [local_ref, local_sha, _, remote_sha] = fields.as_slice() else {
            continue;
        };
        // A deleted ref is pushed as the null id: nothing to send.
        if local_sha.bytes().all(|b| b == b'0') {
            continue;
        }
        let old = (!remote_sha.bytes().all(|b| b == b'0')).then_some(*remote_sha);
        for commit in git.commits_to_push(local_sha, old)? {
            let Some(bytes) = pin::bytes_at(git, &commit)? else {
                continue;
            };
            let where_ = format!(
                "{local_ref}:{} at {}",
                pin::FILE_NAME,
                &commit[..10.min(commit.len())]
            );
            let pin = Pin::parse_bytes(&bytes, &where_)?;
            if !pinned.iter().any(|(id, _)| *id == pin.commit) {
                pinned.push((pin.commit, where_));
            }
        }
    }
    let (wants, elsewhere): (Vec<_>, Vec<_>) = pinned
        .iter()
        .partition(|(id, _)| store.read_commit(id).is_ok());
    let elsewhere_ids: Vec<ObjectId> = elsewhere.iter().map(|(id, _)| *id).collect();
    let nowhere = if elsewhere_ids.is_empty() {
        Vec::new()
    } else {
        remote.missing(&elsewhere_ids)?
    };
    if !nowhere.is_empty() {
        return Err(Error::PinnedNotAnywhere {
            url: remote.url().into(),
            missing: elsewhere
                .iter()
                .filter(|(id, _)| nowhere.contains(id))
                .map(|(id, where_)| format!("{where_} pins {}", id.short()))
                .collect(),
        });
    }
    let wants: Vec<ObjectId> = wants.iter().map(|(id, _)| *id).collect();
    let mut stats = TransferStats::default();
    if !wants.is_empty() {
        let have = RemoteRefs::read(remote, &mut requests)?.targets();
        stats = upload_closure(ws.repo(), remote, &wants, &have, progress)?;
    }
    stats.requests += requests;
    Ok(PrePushReport {
        remote: Some(connected.name.clone()),
        pinned: pinned.into_iter().map(|(id, _)| id).collect(),
        stats,
    })
}
