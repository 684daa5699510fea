//! The bytes a commit needs, brought from a remote: for `dvx pull` (every path of the
//! current commit made local), an eager `dvx clone`, and nothing else.
//!
//! Owns: which blobs are absent, one batch fetch of them through the remote-backed
//! object source over the flow's connection (`remote::source`: each object verified
//! before it enters the store, the one way bytes come in for every command) and one
//! flush, and writing the not-fetched paths once their bytes are local.
//!
//! Invariant: a file already in the work tree at a not-fetched path (put there by hand)
//! is never overwritten: it is reported as kept, as `status` reports it.

use std::collections::HashSet;
use std::path::PathBuf;

use std::sync::Arc;

use super::{Connected, Error};
use crate::hash::ObjectId;
use crate::index::Kind;
use crate::path::RepoPath;
use crate::progress::Progress;
use crate::remote::{TransferStats, source};
use crate::repo::{Repo, RepoLock};
use crate::store::ObjectSource;
use crate::store::source::distinct;
use crate::workspace::{self, TrackedFile, Workspace};

/// The files of `commit` whose bytes are not in the local store.
pub fn absent_in_commit(repo: &Repo, commit: ObjectId) -> Result<Vec<TrackedFile>, Error> {
    let store = repo.store();
    let tree = store.read_commit(&commit)?.tree;
    let mut files = workspace::commit_files(store, tree, &RepoPath::root())?;
    files.retain(|f| !f.local);
    Ok(files)
}

/// Download the bytes of `files` (those the store lacks) and flush them, before anything
/// names them. A file whose bytes the remote does not hold is an error naming it.
pub fn download(
    repo: &Repo,
    connected: &Connected,
    files: &[TrackedFile],
    progress: &dyn Progress,
) -> Result<TransferStats, Error> {
    let ids = distinct(&files.iter().map(TrackedFile::id).collect::<Vec<_>>());
    if ids.is_empty() {
        return Ok(TransferStats::default());
    }
    let remote = &connected.remote;
    let before = remote.totals();
    let source = source::over(repo.store(), &connected.name, Arc::clone(remote));
    let fetched = source.fetch(&ids, progress)?;
    if !fetched.fetched.is_empty() {
        repo.flush_objects()?;
    }
    // The first such file in path order (`files` come in it), whatever order the
    // download met them in.
    let unavailable: HashSet<&ObjectId> = fetched.unavailable.iter().collect();
    if let Some(first) = files.iter().find(|f| unavailable.contains(&f.id())) {
        return Err(Error::FileNotOnRemote {
            path: first.path.to_string(),
            id: first.id(),
            count: fetched.unavailable.len(),
            url: remote.url().to_owned(),
        });
    }
    let mut stats = remote.totals().since(&before);
    stats.skipped = fetched.already_local as u64;
    Ok(stats)
}

/// What [`make_local`] did.
#[derive(Debug, Default)]
pub struct MadeLocal {
    /// Files written into the work tree.
    pub written: usize,
    /// Not-fetched paths with a file of the user's in the way, left alone.
    pub kept: Vec<RepoPath>,
    pub stats: TransferStats,
}

/// Make every not-fetched path of the work tree local: download the absent blobs, then
/// write the paths from the index (the current commit's versions).
pub fn make_local(
    ws: &Workspace,
    lock: &RepoLock,
    connected: &Connected,
    progress: &dyn Progress,
) -> Result<MadeLocal, Error> {
    let repo = ws.repo();
    let index = ws.load_index()?;
    let absent = workspace::absent_files(&index, repo.store(), &[RepoPath::root()])?;
    let mut report = MadeLocal::default();
    let free = |path: &RepoPath| path.to_fs_path(ws.root()).symlink_metadata().is_err();
    // A not-fetched entry with nothing in its place is written whole; where the user
    // put something, only the files with nothing in their place are.
    let mut targets: Vec<RepoPath> = Vec::new();
    for entry in index.iter().filter(|e| e.not_fetched) {
        if free(&entry.path) {
            targets.push(entry.path.clone());
        } else if entry.kind == Kind::Tree {
            // Rare (a directory the user wrote into by hand): a scan is fine.
            for file in absent.iter().filter(|f| f.path.is_within(&entry.path)) {
                if free(&file.path) {
                    targets.push(file.path.clone());
                } else {
                    report.kept.push(file.path.clone());
                }
            }
        } else {
            report.kept.push(entry.path.clone());
        }
    }
    let kept: HashSet<&RepoPath> = report.kept.iter().collect();
    let wanted: Vec<TrackedFile> = absent
        .into_iter()
        .filter(|f| !kept.contains(&f.path))
        .collect();
    report.stats = download(repo, connected, &wanted, progress)?;
    if !targets.is_empty() {
        let paths: Vec<PathBuf> = targets.iter().map(|p| PathBuf::from(p.as_str())).collect();
        let restored = workspace::restore(ws, lock, ws.root(), &paths, None, progress)?;
        report.written = restored.restored.len();
    }
    Ok(report)
}
