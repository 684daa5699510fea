//! `dvx pull <paths or globs>`: bring the bytes of some tracked paths of the checked-out
//! commit into the work tree, through an [`ObjectSource`].
//!
//! Owns: selecting tracked files by pathspec (through not-fetched directories, reading
//! only the stored trees on the way), and writing the ones that are not fetched: their
//! absent bytes fetched in one batch, then written, and their index entries recorded as
//! fetched (a not-fetched directory is expanded only along the paths written, so one file
//! of a directory of 100k files costs that file and the trees above it). Files already in
//! the work tree are left as they are, edited or not; a file someone put where a
//! not-fetched one goes is never overwritten (refused before anything is written) unless
//! it holds exactly the tracked bytes, and then it is only recorded. Does not own where
//! bytes come from (the source) or moving HEAD.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use super::compare::{FileState, check_entry};
use super::on_arrival::WriteOnArrival;
use super::pathspec::Pathspec;
use super::restore::{Existing, entry_for, write_entries};
use super::tracked::{TrackedFile, tracked_files};
use super::{Error, Workspace, expand_to, link_rule, read_err_at, write_err};
use crate::hash::ObjectId;
use crate::index::{Entry, Index, Kind};
use crate::path::RepoPath;
use crate::progress::Progress;
use crate::repo::RepoLock;
use crate::store::source::distinct;
use crate::store::{Arrivals, Fetched, ObjectSource};

/// What a pull of paths did.
#[derive(Debug, Default)]
pub struct PullReport {
    /// Files written (their bytes are in the work tree now).
    pub written: Vec<RepoPath>,
    /// Files selected whose bytes were in the work tree already.
    pub already: usize,
    /// Files the source could not provide: still not fetched.
    pub unavailable: Vec<RepoPath>,
    /// What the source's fetch did.
    pub fetched: Fetched,
}

/// Every tracked file that `specs` (typed relative to `cwd`) select, through not-fetched
/// directories, in path order. A spec that selects nothing is an error naming it.
pub fn select(
    ws: &Workspace,
    index: &Index,
    cwd: &Path,
    specs: &[PathBuf],
    objects: &dyn ObjectSource,
) -> Result<Vec<TrackedFile>, Error> {
    let mut out = Vec::new();
    for arg in specs {
        let spec = Pathspec::parse(ws.root(), cwd, arg)?;
        let mut files = tracked_files(index, objects, std::slice::from_ref(&spec.base))?;
        if spec.is_glob() {
            files.retain(|f| spec.matches(&f.path));
        }
        if files.is_empty() {
            return Err(Error::NoMatch { spec: spec.text });
        }
        out.extend(files);
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out.dedup_by(|a, b| a.path == b.path);
    Ok(out)
}

/// Bring the bytes of the files `specs` select into the work tree: see the module docs.
pub fn pull(
    ws: &Workspace,
    lock: &RepoLock,
    cwd: &Path,
    specs: &[PathBuf],
    objects: &dyn ObjectSource,
    progress: &dyn Progress,
) -> Result<PullReport, Error> {
    let index = ws.load_index()?;
    let files = select(ws, &index, cwd, specs, objects)?;
    pull_files(ws, lock, index, files, objects, progress)
}

/// Write `files` (tracked files of `index`, as [`select`] lists them) that are not
/// fetched, fetching their absent bytes through `objects` first.
pub fn pull_files(
    ws: &Workspace,
    lock: &RepoLock,
    mut index: Index,
    files: Vec<TrackedFile>,
    objects: &dyn ObjectSource,
    progress: &dyn Progress,
) -> Result<PullReport, Error> {
    debug_assert!(lock.guards(ws.repo()), "the lock of this work tree");
    let mut report = PullReport::default();
    let mut targets: Vec<Entry> = Vec::new();
    // Blobs of targets the local store lacks (`select` asked the source, once per file).
    let mut absent: Vec<ObjectId> = Vec::new();
    for file in files {
        match index.get(&file.path) {
            // In the work tree (edited or not): a pull leaves it alone.
            Some(entry) if !entry.not_fetched => report.already += 1,
            Some(entry) => targets.push(entry.clone()),
            None => targets.push(entry_for(file.path.clone(), &file.item)),
        }
        if targets.last().is_some_and(|t| t.path == file.path) && !file.local {
            absent.push(file.id());
        }
    }
    let vacant = refuse_overwrites(ws, &index, &targets)?;
    let mut absent = distinct(&absent);
    // Symlinks are judged (`link_rule`) before any file is written, and files are written
    // as the fetch brings them: a link's target, a few bytes, is fetched ahead.
    let allowed = ws.repo().config().core.external_symlinks;
    let links = || targets.iter().filter(|t| t.kind == Kind::Symlink);
    if !allowed && links().next().is_some() {
        let link_ids: HashSet<ObjectId> = links().map(|t| t.id).collect();
        let (ahead, rest): (Vec<ObjectId>, Vec<ObjectId>) =
            absent.iter().partition(|id| link_ids.contains(id));
        if !ahead.is_empty() {
            report.fetched.absorb(objects.fetch(&ahead, progress)?);
            absent = rest;
        }
        link_rule::check_targets(objects.store(), allowed, links().map(|t| (&t.path, &t.id)))?;
    }
    let mut on_arrival = Vec::new();
    if !absent.is_empty() {
        // Files with nothing at their paths are written as their bytes arrive, from the
        // bytes the fetch verified (no second read and hash of each object); the rest,
        // and any whose bytes did not come with the fetch, are written from the store
        // below.
        let fetched: HashSet<ObjectId> = absent.iter().copied().collect();
        let mut wait = Vec::new();
        let mut rest = Vec::new();
        for (t, vacant) in targets.into_iter().zip(vacant) {
            if vacant && t.kind == Kind::File && fetched.contains(&t.id) {
                wait.push(t);
            } else {
                rest.push(t);
            }
        }
        let writer = Arc::new(WriteOnArrival::new(ws, wait));
        let arrivals: Arc<dyn Arrivals> = writer.clone();
        report
            .fetched
            .absorb(objects.fetch_announcing(&absent, progress, &arrivals)?);
        let written = writer.finish()?;
        on_arrival = written.written;
        targets = rest;
        targets.extend(written.waiting);
        targets.sort_by(|a, b| a.path.cmp(&b.path));
    }
    if targets.is_empty() && on_arrival.is_empty() {
        return Ok(report);
    }
    let store = objects.store();
    // Files written as their bytes arrived (all of them, in a fresh clone) are flushed on
    // a thread of their own while the index is brought up to date here: expanding
    // directories and recording 20k entries took a tenth of a second, which the flush's
    // wait on the disk now hides. When `write_entries` has files to write too, its one
    // flush covers both kinds, as before. Either way the index is written after it.
    let arrived = !on_arrival.is_empty();
    let repo = ws.repo();
    let beside = arrived && targets.is_empty() && repo.config().core.fsync;
    let (written, flushed) = std::thread::scope(|scope| {
        let flush = beside.then(|| scope.spawn(|| repo.flush_worktree()));
        let written = (|| {
            for t in targets.iter().chain(&on_arrival) {
                expand_to(&mut index, store, &t.path)?;
            }
            let written =
                write_entries(ws, &mut index, targets, Existing::Check, objects, progress)?;
            for entry in &on_arrival {
                report.written.push(entry.path.clone());
            }
            for entry in on_arrival {
                index.upsert(entry);
            }
            Ok::<_, Error>(written)
        })();
        let flushed = flush.map_or(Ok(()), |flush| {
            flush
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        });
        (written, flushed)
    });
    // What went wrong first (before the flush ended, or without it) is what is reported.
    let written = written?;
    flushed.map_err(write_err(ws.root()))?;
    if arrived && !beside && written.restored.is_empty() {
        repo.flush_worktree().map_err(write_err(ws.root()))?;
    }
    // The fetched objects are flushed after the files, not before: nothing names them
    // until the index is written, and on the same file system the work tree's flush has
    // written them out too (one pass of the file system, not two).
    if !report.fetched.fetched.is_empty() {
        repo.flush_objects()?;
    }
    ws.write_index(lock, &mut index)?;
    report.already += written.unchanged;
    report.written.extend(written.restored);
    report.written.sort();
    report.unavailable = written.not_fetched;
    Ok(report)
}

/// Refuse, before anything is fetched or written, when a file that is not what the
/// index records stands where a not-fetched file goes: someone put it there, and a pull
/// must not lose it. Says, per target, whether nothing stands at its path.
fn refuse_overwrites(ws: &Workspace, index: &Index, targets: &[Entry]) -> Result<Vec<bool>, Error> {
    let root = ws.root();
    let store = ws.repo().store();
    let states: Vec<(bool, Option<RepoPath>)> = targets
        .par_iter()
        .map(|t| {
            let state =
                check_entry(root, index, store, t, None).map_err(read_err_at(root, &t.path))?;
            Ok(match state {
                FileState::Modified { .. } | FileState::Corrupt => (false, Some(t.path.clone())),
                FileState::NotFetched | FileState::Deleted => (true, None),
                _ => (false, None),
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let mut in_the_way = Vec::new();
    let mut vacant = Vec::with_capacity(states.len());
    for (free, path) in states {
        vacant.push(free);
        in_the_way.extend(path);
    }
    if in_the_way.is_empty() {
        return Ok(vacant);
    }
    in_the_way.sort();
    let shown: Vec<String> = in_the_way.iter().take(10).map(|p| p.to_string()).collect();
    let more = in_the_way.len().saturating_sub(10);
    Err(Error::InTheWay {
        count: in_the_way.len(),
        list: if more > 0 {
            format!("{} and {more} more", shown.join(", "))
        } else {
            shown.join(", ")
        },
        paths: in_the_way,
    })
}
