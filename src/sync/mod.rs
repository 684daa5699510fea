//! Sync: moving refs and metadata between a repository and its remotes.
//!
//! Owns the flows behind `dvx remote`, `push`, `fetch`, `pull` (without paths), `clone`
//! and the pre-push hook's data push: which remotes are configured and how to reach them
//! ([`remotes`]), which local objects a remote lacks and moving its refs after them
//! ([`push`]), bringing a remote's commits, trees and run records and recording its
//! branches as `refs/remotes/<remote>/<branch>` ([`fetch`]), fetching and then joining
//! the current branch with its upstream ([`pull`]), a new repository from a remote
//! ([`clone`]), how far a branch is ahead of or behind its upstream ([`upstream`]), the
//! bytes a commit needs ([`blobs`]), and the pre-push hook ([`pre_push`]). Does not own
//! the remote's layout or transfers (`remote`), merging (`flow::merge`) or checking out
//! (`workspace`): it puts them in order.
//!
//! Invariants (docs/format.md, "Remotes"): every object a ref's commit reaches is on
//! the remote before the ref moves there, and a remote ref moves only by creating its
//! next number (a push that lost a race is refused, never overwrites); nothing a fetch
//! brings enters the store unverified, and local refs move only after everything they
//! reach is in the store and flushed; tags never move without `--force`. Writing
//! commands take the repository lock's guard; an upload runs without it (it writes only
//! to the remote), and the remote-tracking refs it moves take it after.

pub mod blobs;
pub mod clone;
pub mod fetch;
pub mod pre_push;
pub mod pull;
pub mod push;
pub mod remotes;
pub mod upstream;

use std::path::PathBuf;

use crate::hash::ObjectId;
use crate::remote::{self, RefKind};
use crate::{flow, git, history, refs, repo, store, workspace};

pub use remotes::{Connected, connect};

/// What went wrong moving data between a repository and a remote.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no remote is configured")]
    NoRemote,
    #[error("several remotes are configured ({}) and none is the default", names.join(", "))]
    NoDefaultRemote { names: Vec<String> },
    #[error(
        "no remote named '{name}' is configured{}",
        remote::settings::configured_list(known)
    )]
    UnknownRemote { name: String, known: Vec<String> },
    #[error("a remote named '{0}' already exists")]
    RemoteExists(String),
    #[error("'{key}' is not a remote setting (settings: {}; credentials: {})", remote::settings::PLAIN_KEYS.join(", "), remote::settings::SECRET_KEYS.join(", "))]
    UnknownSetting { key: String },
    #[error(
        "remote.{remote}.{key} is a credential: it may only go into .dvx/config.local.toml, never into the tracked .dvx/config.toml"
    )]
    SecretNotLocal { remote: String, key: String },
    /// `value` is masked (a credential as `***`, a URL without user info or query).
    #[error("remote.{remote}.{key}: '{value}' is not valid: {why}")]
    BadSetting {
        remote: String,
        key: String,
        value: String,
        why: String,
    },
    #[error(
        "remote directory {} lies inside the work tree",
        path.display()
    )]
    RemoteInWorkTree { path: PathBuf },
    #[error(
        "remote '{remote}' is defined only in .dvx/config.local.toml; a setting for it in the tracked .dvx/config.toml would share a remote that has no URL there"
    )]
    RemoteOnlyLocal { remote: String, key: String },
    /// A push that is not a fast-forward, or that lost a race with another push.
    #[error("{} {name} on remote {url}: the remote has commits you do not have{}", kind.what(), at.map(|a| format!(" (it is at {})", a.short())).unwrap_or_default())]
    Rejected {
        kind: RefKind,
        name: String,
        /// The remote's name and URL.
        remote: String,
        url: String,
        at: Option<ObjectId>,
    },
    #[error("tag {name} on remote {url} is at {}, not at {} (tags do not move)", theirs.short(), ours.short())]
    TagMoved {
        name: String,
        url: String,
        theirs: ObjectId,
        ours: ObjectId,
    },
    /// HEAD is on no branch, and `needed_by` needs one.
    #[error("HEAD is detached: {}", match needed_by {
        BranchFor::Push => "name the branch to push",
        BranchFor::Pull => "a pull moves the current branch, and there is none",
    })]
    Detached { needed_by: BranchFor },
    #[error("branch '{0}' has no commits yet")]
    Unborn(String),
    #[error("no branch or tag named '{0}'")]
    NoSuchRef(String),
    #[error("no branch or tag named '{name}' on remote {url}")]
    NotOnRemote { name: String, url: String },
    #[error(
        "{count} file(s) to push are neither in the local store nor on remote {url}: {}",
        missing_list(files, *count)
    )]
    BytesMissing {
        url: String,
        count: usize,
        /// Paths (in the commit named) and ids, the first few.
        files: Vec<(String, ObjectId)>,
    },
    /// A pull that failed after its fetch: the fetch's refs moved, and `fetched` says
    /// what it brought (as git prints `From …` before a merge's error).
    #[error("{source}")]
    AfterFetch {
        fetched: Box<fetch::FetchReport>,
        #[source]
        source: Box<Error>,
    },
    /// Bytes a pull or clone needs that neither this store nor the remote holds.
    #[error(
        "{path} ({}) is neither here nor on remote {url}{}",
        id.short(),
        if *count > 1 { format!(", nor are the bytes of {} more file(s)", count - 1) } else { String::new() }
    )]
    FileNotOnRemote {
        path: String,
        id: ObjectId,
        /// Distinct objects the remote lacks, this one included.
        count: usize,
        url: String,
    },
    #[error("{} {name} on remote {url} points at commit {}, which the remote does not have", kind.what(), id.short())]
    DanglingRef {
        kind: RefKind,
        name: String,
        url: String,
        id: ObjectId,
    },
    #[error("remote {remote} has no branch '{branch}' to pull into '{branch}'")]
    NoUpstream { remote: String, branch: String },
    #[error("pulling needs a merge commit, and no author identity is configured")]
    NoIdentity,
    #[error("{}: {why}", path.display())]
    CloneTarget { path: PathBuf, why: &'static str },
    #[error(
        "push refused: {} neither in this repository nor on remote {url} ({})",
        if missing.len() == 1 { "1 pinned dvx commit is".to_owned() } else { format!("{} pinned dvx commits are", missing.len()) },
        missing.join(", ")
    )]
    PinnedNotAnywhere { url: String, missing: Vec<String> },
    #[error(transparent)]
    Remote(#[from] remote::Error),
    #[error(transparent)]
    Flow(#[from] flow::Error),
    #[error(transparent)]
    Workspace(#[from] workspace::Error),
    #[error(transparent)]
    History(#[from] history::Error),
    #[error(transparent)]
    Repo(#[from] repo::Error),
    #[error(transparent)]
    Refs(#[from] refs::Error),
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error(transparent)]
    Git(#[from] git::Error),
    #[error(transparent)]
    Pin(#[from] git::pin::Error),
}

impl From<remote::settings::Error> for Error {
    fn from(e: remote::settings::Error) -> Error {
        Error::Remote(e.into())
    }
}

impl From<remote::url::Error> for Error {
    fn from(e: remote::url::Error) -> Error {
        Error::Remote(e.into())
    }
}

impl From<remote::backend::Error> for Error {
    fn from(e: remote::backend::Error) -> Error {
        Error::Remote(e.into())
    }
}

/// What needed a current branch ([`Error::Detached`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BranchFor {
    /// A push with no ref named pushes the current branch.
    Push,
    /// A pull moves the current branch.
    Pull,
}

/// Why no remote was chosen, as this module's error.
impl From<remote::settings::Unchosen> for Error {
    fn from(e: remote::settings::Unchosen) -> Error {
        match e {
            remote::settings::Unchosen::NoRemote => Error::NoRemote,
            remote::settings::Unchosen::NoDefault { names } => Error::NoDefaultRemote { names },
        }
    }
}

/// The first files named, and how many more there are (`count` in all).
fn missing_list(files: &[(String, ObjectId)], count: usize) -> String {
    let mut list = files
        .iter()
        .map(|(path, id)| format!("{path} ({})", id.short()))
        .collect::<Vec<_>>()
        .join(", ");
    if count > files.len() {
        list.push_str(&format!(" and {} more", count - files.len()));
    }
    list
}

/// Progress whose phase is named by the flow ("pushing 1,204 files"), not by the
/// transfer under it.
pub(crate) struct Phase<'a> {
    inner: &'a dyn crate::progress::Progress,
    name: String,
}

impl<'a> Phase<'a> {
    pub(crate) fn new(inner: &'a dyn crate::progress::Progress, name: String) -> Phase<'a> {
        Phase { inner, name }
    }
}

impl crate::progress::Progress for Phase<'_> {
    fn start(&self, _what: &str, total: Option<u64>, unit: crate::progress::Unit) {
        self.inner.start(&self.name, total, unit);
    }

    fn advance(&self, n: u64) {
        self.inner.advance(n);
    }

    fn finish(&self) {
        self.inner.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_of_missing_files_says_how_many_it_leaves_out() {
        let id = ObjectId::of(b"x");
        let files = vec![("data/a.csv".to_owned(), id)];
        let short = id.short();
        assert_eq!(missing_list(&files, 1), format!("data/a.csv ({short})"));
        assert_eq!(
            missing_list(&files, 12),
            format!("data/a.csv ({short}) and 11 more")
        );
    }
}
