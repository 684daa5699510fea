//! gc: deleting local objects nothing can reach.
//!
//! Owns: the roots (every ref; every work tree's HEAD, index (entries and cached trees)
//! and interrupted checkout; reflog entries younger than the grace period, since a
//! deleted branch keeps its reflog until it expires; and every dvx commit that
//! `dvx.lock` names in any git commit reachable from a git ref, so `git checkout v1.2`
//! never names data that gc took), and deleting what they do not reach. It stands
//! above `workspace` because its roots are every work tree's state and git's history;
//! what is reachable from a root is `history::reach`'s answer.
//!
//! Invariants: nothing younger than two hours is deleted, so gc never races a running
//! `add` (or push); a root that cannot be read stops gc before anything is deleted; a
//! store shared with other clones (`core.store`) is never collected, since their roots
//! are out of sight.

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use crate::git::{self, GitRepo, pin};
use crate::hash::ObjectId;
use crate::history::reach::Marker;
use crate::index::{self, Index, Kind};
use crate::refs::{self, Head, Refs};
use crate::repo::{Repo, RepoLock};
use crate::store;
use crate::workspace::interrupted_checkout_in;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Deleting on an incomplete picture could take what a broken root still needs.
    #[error(
        "{kind} {id} needed by {via} cannot be read ({problem}); gc stopped without deleting anything"
    )]
    RootUnreadable {
        kind: &'static str,
        id: ObjectId,
        via: String,
        problem: String,
    },
    /// The store is shared (`core.store`): other clones keep objects in it whose roots
    /// gc cannot see, so deleting "unreachable" objects could take their data.
    #[error(
        "the object store {} is shared with other clones (core.store); gc cannot see what they need, so it deletes nothing",
        dir.display()
    )]
    SharedStore { dir: std::path::PathBuf },
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error(transparent)]
    Refs(#[from] refs::Error),
    #[error(transparent)]
    Index(#[from] index::Error),
    /// Reading git history for pins failed: deleting without knowing every pin could
    /// take pinned data.
    #[error(transparent)]
    Git(#[from] git::Error),
}

/// Objects younger than this are never deleted.
pub const MIN_AGE: Duration = Duration::from_secs(2 * 3600);
/// Default reflog grace period.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(14 * 24 * 3600);

/// How to collect.
#[derive(Debug, Clone)]
pub struct Options {
    pub dry_run: bool,
    /// Reflog entries younger than this keep their commits.
    pub grace: Duration,
    /// The current time, seconds since the epoch (injectable for tests).
    pub now: i64,
}

/// What gc found and did.
#[derive(Debug, Default)]
pub struct Report {
    /// Unreachable objects deleted (or, in a dry run, that would be).
    pub removed: Vec<(ObjectId, u64)>,
    pub freed_bytes: u64,
    /// Unreachable objects kept because they are younger than two hours.
    pub kept_young: usize,
    /// Objects in the store that are reachable.
    pub reachable: usize,
    /// Stale temp files removed.
    pub temp_files: usize,
}

/// The order to delete unreachable objects in, so that a gc cut short leaves a store
/// where every commit still there is whole: commits first, each before its parents (a
/// reflog entry whose commit is still there is followed by `fsck` through its parents
/// and trees), then everything else, which nothing left names.
fn deletion_order(store: &store::Store, candidates: Vec<(ObjectId, u64)>) -> Vec<(ObjectId, u64)> {
    let mut parents: HashMap<ObjectId, Vec<ObjectId>> = HashMap::new();
    let mut rest = Vec::new();
    let mut sizes = HashMap::new();
    for (id, size) in candidates {
        match read_commit_if_one(store, &id) {
            Some(commit) => {
                parents.insert(id, commit.parents);
                sizes.insert(id, size);
            }
            None => rest.push((id, size)),
        }
    }
    // Kahn's algorithm over the candidate commits: a commit goes once no remaining
    // candidate names it as a parent.
    let mut children: HashMap<ObjectId, usize> = parents.keys().map(|id| (*id, 0)).collect();
    for ps in parents.values() {
        for p in ps {
            if let Some(n) = children.get_mut(p) {
                *n += 1;
            }
        }
    }
    let mut ready: Vec<ObjectId> = children
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(id, _)| *id)
        .collect();
    ready.sort();
    let mut order = Vec::with_capacity(parents.len() + rest.len());
    while let Some(id) = ready.pop() {
        for p in &parents[&id] {
            if let Some(n) = children.get_mut(p) {
                *n -= 1;
                if *n == 0 {
                    ready.push(*p);
                }
            }
        }
        order.push((id, sizes[&id]));
    }
    // A cycle cannot happen (ids are hashes of content naming the parents); anything
    // left over goes last all the same.
    let placed: std::collections::HashSet<ObjectId> = order.iter().map(|(id, _)| *id).collect();
    order.extend(
        parents
            .keys()
            .filter(|id| !placed.contains(id))
            .map(|id| (*id, sizes[id])),
    );
    order.extend(rest);
    order
}

/// The commit stored under `id`, if it is one (a blob is never read whole for this: only
/// its first bytes, to see whether they are a commit's header).
fn read_commit_if_one(store: &store::Store, id: &ObjectId) -> Option<crate::object::Commit> {
    use std::io::Read;
    let mut header = [0u8; crate::object::HEADER_LEN];
    store.open(id).ok()?.read_exact(&mut header).ok()?;
    if crate::object::kind_of(&header) != Some(crate::object::Kind::Commit) {
        return None;
    }
    store.read_commit(id).ok()
}

/// The root commits and trees gc keeps.
fn mark_roots(
    repo: &Repo,
    git: Option<&GitRepo>,
    options: &Options,
    marker: &mut Marker,
) -> Result<(), Error> {
    let refs = repo.refs();
    for (name, id) in refs.list("refs/")? {
        marker.commit(id, &name);
    }
    let horizon = options.now - options.grace.as_secs() as i64;
    for dir in repo.worktree_dirs() {
        let wt_refs = Refs::new(repo.common_dir().to_path_buf(), dir.clone());
        if let Ok(Head::Detached(id)) = wt_refs.read_head() {
            marker.commit(id, "HEAD");
        }
        for (name, log) in wt_refs.all_reflogs()? {
            for entry in log.iter().filter(|e| e.who.time >= horizon) {
                for id in [entry.old, entry.new].into_iter().flatten() {
                    marker.commit(id, &format!("reflog of {name}"));
                }
            }
        }
        mark_index(&dir, marker)?;
        if let Some(id) = interrupted_checkout_in(&dir) {
            marker.commit(id, "an interrupted checkout");
        }
    }
    if let Some(git) = git {
        // A pin may name data made in another clone and never fetched here: there is
        // nothing to keep then, and it is not damage.
        for (commit, via) in pinned_commits(repo.root(), git)? {
            if repo.store().contains(&commit) {
                marker.commit(commit, &via);
            }
        }
    }
    Ok(())
}

fn mark_index(dir: &Path, marker: &mut Marker) -> Result<(), Error> {
    let index = Index::load(dir)?;
    for e in index.iter() {
        match e.kind {
            Kind::Tree => marker.tree(e.id, &format!("index entry {}", e.path)),
            Kind::File | Kind::Symlink => marker.blob(e.id),
        }
    }
    // Cached trees are reused by the next commit, so they must stay.
    for (dir, tree) in index.cached_trees() {
        marker.tree(tree.id, &format!("the index's cached tree for {dir}"));
    }
    Ok(())
}

/// Every dvx commit named by `dvx.lock` in any git commit reachable from a git ref, and
/// in the work tree.
fn pinned_commits(root: &Path, git: &GitRepo) -> Result<Vec<(ObjectId, String)>, Error> {
    let mut out = Vec::new();
    if let Ok(text) = std::fs::read_to_string(root.join(pin::FILE_NAME)) {
        out.extend(
            pin::pinned_by(&text)
                .into_iter()
                .map(|id| (id, "dvx.lock".to_owned())),
        );
    }
    let mut seen_text: HashMap<Vec<u8>, Vec<ObjectId>> = HashMap::new();
    // A git error stops gc: deleting without knowing every pin could take pinned data.
    for c in git.all_commits()? {
        let Some(bytes) = pin::bytes_at(git, &c)? else {
            continue;
        };
        let pinned = seen_text
            .entry(bytes.clone())
            .or_insert_with(|| pin::pinned_by(&String::from_utf8_lossy(&bytes)))
            .clone();
        let via = format!("dvx.lock in git commit {}", &c[..c.len().min(10)]);
        out.extend(pinned.into_iter().map(|id| (id, via.clone())));
    }
    Ok(out)
}

/// Delete unreachable objects older than two hours (in a dry run, only say which).
pub fn collect(
    repo: &Repo,
    lock: &RepoLock,
    git: Option<&GitRepo>,
    options: &Options,
) -> Result<Report, Error> {
    debug_assert!(lock.guards(repo), "the lock of this work tree");
    let store = repo.store();
    if repo.store_is_shared() {
        return Err(Error::SharedStore {
            dir: store
                .objects_dir()
                .parent()
                .unwrap_or(store.objects_dir())
                .to_path_buf(),
        });
    }
    let mut marker = Marker::new(store);
    mark_roots(repo, git, options, &mut marker)?;
    let (reachable, missing) = marker.finish();
    if let Some(m) = missing.into_iter().next() {
        return Err(Error::RootUnreadable {
            kind: m.kind,
            id: m.id,
            via: m.via,
            problem: m.problem,
        });
    }
    let mut report = Report::default();
    let young = |modified: std::io::Result<std::time::SystemTime>| -> bool {
        let secs = modified
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs() as i64)
            .unwrap_or(i64::MAX);
        options.now - secs < MIN_AGE.as_secs() as i64
    };
    let mut candidates = Vec::new();
    let mut packed = std::collections::HashSet::new();
    for id in store.list()? {
        if reachable.contains(&id) {
            report.reachable += 1;
            continue;
        }
        // A packed copy goes with its pack (below), a loose one here; an object may
        // have both (a checkout that hard-links unpacks one), and then goes only if its
        // loose copy does.
        let in_pack = store.packed(&id).is_some();
        let Some(meta) = store.metadata(&id) else {
            if in_pack {
                packed.insert(id);
            }
            continue;
        };
        if young(meta.modified()) {
            report.kept_young += 1;
            continue;
        }
        if in_pack {
            packed.insert(id);
        }
        candidates.push((id, meta.len()));
    }
    for (id, size) in deletion_order(store, candidates) {
        if !options.dry_run && !store.remove_unless_young(&id, &young)? {
            // An `add` in another work tree reused it meanwhile (and freshened it).
            report.kept_young += 1;
            packed.remove(&id);
            continue;
        }
        report.freed_bytes += size;
        report.removed.push((id, size));
    }
    // Packed objects go a pack at a time, after the loose ones: a pack whose objects all
    // go is deleted, one that keeps some is rewritten with those; a young pack is kept
    // whole, as a young object is.
    // Only blobs are ever packed (format.md, "Local packs"), so the order above, which
    // keeps a commit's tree and parents until the commit is gone, does not reach here.
    let taken = store.remove_packed(&packed, &young, options.dry_run)?;
    let loose_removed: std::collections::HashSet<ObjectId> =
        report.removed.iter().map(|(id, _)| *id).collect();
    let taken_ids: std::collections::HashSet<ObjectId> = taken.iter().map(|t| t.0).collect();
    // Kept: in a pack kept whole (young, or holding damage), and not counted above.
    report.kept_young += packed
        .iter()
        .filter(|id| !taken_ids.contains(id) && !loose_removed.contains(id))
        .count();
    for (id, size) in taken {
        if !loose_removed.contains(&id) {
            report.freed_bytes += size;
            report.removed.push((id, size));
        }
    }
    report.temp_files += store.sweep_unindexed_packs(&young, options.dry_run);
    // What killed processes left: their sessions (whatever their age: a session whose
    // lock is free belongs to nobody), then loose temp files of older builds.
    if !options.dry_run {
        report.temp_files += store.temps().sweep().unwrap_or(0);
    }
    if let Ok(rd) = fs::read_dir(store.tmp_dir()) {
        for entry in rd.flatten() {
            let loose = entry
                .file_name()
                .to_str()
                .is_some_and(|name| !crate::atomic::TempArea::is_session_entry(name));
            if loose
                && entry
                    .metadata()
                    .map(|m| m.is_file() && !young(m.modified()))
                    .unwrap_or(false)
            {
                if !options.dry_run {
                    let _ = crate::atomic::remove_file(&entry.path());
                }
                report.temp_files += 1;
            }
        }
    }
    Ok(report)
}
