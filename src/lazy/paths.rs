//! `dvx pull <paths or globs>...`: the bytes of just those paths of the checked-out
//! commit, from a remote.
//!
//! One file inside a directory of 100k files costs that file (a ranged read of its pack
//! entry) and the index data that finds it (a few KiB of pack index, or none when the
//! index is cached), not the directory: the selection reads only the local trees on the
//! way, and the fetch asks the remote for exactly the absent ids. A plain `dvx pull` in
//! a fresh `git clone` is every path of the pinned commit ([`pull_pinned`]).

use std::path::{Path, PathBuf};

use super::Error;
use super::bootstrap::{Bootstrapped, ensure_checked_out};
use crate::object::Signature;
use crate::path::RepoPath;
use crate::progress::Progress;
use crate::remote::RemoteSource;
use crate::repo::RepoLock;
use crate::workspace::{self, PullReport, Workspace};

/// What a pull of paths did.
#[derive(Debug)]
pub struct Pulled {
    /// In a fresh clone: the pinned commit's history fetched and checked out lazily first.
    pub bootstrapped: Option<Box<Bootstrapped>>,
    pub report: PullReport,
}

/// Bring the bytes of the files `specs` (paths or globs, relative to `cwd`) select into
/// the work tree, fetching what is not local from `source`.
pub fn pull_paths(
    ws: &Workspace,
    lock: &RepoLock,
    cwd: &Path,
    specs: &[PathBuf],
    source: &RemoteSource,
    who: &Signature,
    progress: &dyn Progress,
) -> Result<Pulled, Error> {
    let bootstrapped = ensure_checked_out(ws, lock, source, who, progress)?;
    let report = workspace::pull(ws, lock, cwd, specs, source, progress)?;
    Ok(Pulled {
        bootstrapped,
        report,
    })
}

/// `dvx pull` where nothing is checked out and `dvx.lock` pins a commit (a fresh `git
/// clone`, see [`super::bootstrap::awaits_pin`]): check the pinned commit out lazily,
/// then, unless `lazy`, bring in the bytes of every path of it. A commit without files
/// pulls nothing.
pub fn pull_pinned(
    ws: &Workspace,
    lock: &RepoLock,
    source: &RemoteSource,
    who: &Signature,
    lazy: bool,
    progress: &dyn Progress,
) -> Result<Pulled, Error> {
    let bootstrapped = ensure_checked_out(ws, lock, source, who, progress)?;
    let report = if lazy {
        PullReport::default()
    } else {
        let index = ws.load_index()?;
        let files = workspace::tracked_files(&index, source, &[RepoPath::root()])?;
        workspace::pull_files(ws, lock, index, files, source, progress)?
    };
    Ok(Pulled {
        bootstrapped,
        report,
    })
}
