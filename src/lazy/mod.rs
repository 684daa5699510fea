//! Lazy bytes: which of the checked-out commit's bytes this work tree holds, moved in
//! from a remote and out again.
//!
//! Owns the flows that need a remote and the work tree together: pulling the bytes of
//! some paths or globs ([`paths`]), of the inputs of the run that made a file
//! ([`artifact`], `dvx pull --for`), freeing the bytes a remote verifiably holds
//! ([`drop`]), checking that a remote holds what the local refs need ([`check`], `dvx
//! fsck --remote`), and, for a fresh clone, fetching the history the pinned commit needs
//! and checking it out lazily first ([`bootstrap`]). Each command calls one of them. Does
//! not own the rules of each step: selecting and writing files is `workspace`'s, where
//! the bytes come from is `remote::source`'s, which run made a file is `lineage`'s.
//!
//! Invariants: every flow that writes runs under the repository lock (a guard passed
//! in) and keeps the write order: objects (fetched and flushed), then the index, then
//! refs; `drop` deletes a local object only after the remote's catalog listed it and
//! after the index no longer names it as fetched.

pub mod artifact;
pub mod bootstrap;
pub mod check;
pub mod drop;
pub mod paths;

use crate::hash::ObjectId;
use crate::{flow, git, history, lineage, remote, store, sync, workspace};

/// What went wrong in a lazy-bytes flow.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No commit is checked out and nothing says which one to take (no `dvx.lock`).
    #[error("no commit is checked out, and there is no dvx.lock naming one")]
    NothingCheckedOut,
    /// The commit `dvx.lock` pins is neither local nor on the remote.
    #[error("dvx.lock pins commit {}, which remote '{remote}' does not have", commit.short())]
    PinNotOnRemote { commit: ObjectId, remote: String },
    /// Bytes a drop would free that the remote does not hold, or holds damaged.
    #[error(
        "remote '{remote}' does not have the bytes of {count} file(s): {list}{}",
        damage.as_ref().map(|why| format!(" ({why})")).unwrap_or_default()
    )]
    NotOnRemote {
        remote: String,
        count: usize,
        list: String,
        /// How the remote's copy is damaged where it lists one (the first found); `None`
        /// when it simply lacks them.
        damage: Option<String>,
        ids: Vec<ObjectId>,
    },
    #[error(transparent)]
    Remote(#[from] remote::Error),
    #[error(transparent)]
    Sync(#[from] sync::Error),
    #[error(transparent)]
    Workspace(#[from] workspace::Error),
    #[error(transparent)]
    History(#[from] history::Error),
    #[error(transparent)]
    Lineage(#[from] lineage::Error),
    #[error(transparent)]
    Flow(#[from] flow::Error),
    #[error(transparent)]
    Pin(#[from] git::pin::Error),
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// Up to ten items, then how many more: for messages that name what they refuse.
fn listed(items: &[String]) -> String {
    let shown = items[..items.len().min(10)].join(", ");
    match items.len().saturating_sub(10) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}
