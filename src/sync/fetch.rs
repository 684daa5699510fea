//! `dvx fetch`: bring a remote's history, never its file contents.
//!
//! Owns: reading the remote's branches and tags, downloading the commits, trees and run
//! records they reach that are not local (level by level: each round downloads what the
//! last one named, in one batch of ranged reads), and then recording the remote's
//! branches as remote-tracking refs (`refs/remotes/<remote>/<branch>`, reflogged; one
//! for a branch the remote no longer has is deleted) and its tags as local tags (a tag
//! that exists locally at another commit is left alone unless forced). In a git
//! repository, the commit `dvx.lock` pins is fetched too when the remote has it and it
//! is not local, so `dvx checkout --git HEAD` can follow the code.
//!
//! Invariants: every tree and commit reachable from a ref is local ("only blobs may be
//! absent"): refs move only after everything their commits reach (blobs aside) is in the
//! store, verified and flushed; a commit already reachable from a local ref is complete,
//! and so is every tree of a local ref's commit, so the walk stops there. A remote ref
//! that points at a commit the remote lacks is refused before anything is fetched. A
//! fetched tree naming `.git`, `.dvx`, an ignore file, or `dvx.lock` at the top is
//! refused, naming the tree, and no ref moves.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use super::remotes::tracking_branches;
use super::{Connected, Error, Phase};
use crate::hash::ObjectId;
use crate::object::{DecodeError, Encode, EntryKind, RunRecord, Signature};
use crate::path::RepoPath;
use crate::progress::Progress;
use crate::refs::{self, Expected, TAGS};
use crate::remote::{self, RefKind, Remote, RemoteRef, TransferStats};
use crate::repo::{Repo, RepoLock};
use crate::store::{self, Store};
use crate::workspace::{Workspace, never_tracked};

/// How to fetch.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Move local tags that the remote has at another commit.
    pub force: bool,
    /// Signs the reflog entries.
    pub who: Signature,
}

/// A remote-tracking branch after a fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchUpdate {
    /// The branch's name on the remote.
    pub name: String,
    /// The remote-tracking ref before, and now (`None`: the remote no longer has the
    /// branch, and the ref was deleted).
    pub old: Option<ObjectId>,
    pub new: Option<ObjectId>,
}

/// What a fetch did with one of the remote's tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagOutcome {
    /// Created locally.
    New,
    /// The local tag was there already, at the same commit.
    Same,
    /// The local tag was at another commit and was moved (`--force`).
    Moved,
    /// The local tag is at another commit and was left there.
    Skipped,
}

impl TagOutcome {
    pub fn name(self) -> &'static str {
        match self {
            TagOutcome::New => "new",
            TagOutcome::Same => "same",
            TagOutcome::Moved => "moved",
            TagOutcome::Skipped => "skipped",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagUpdate {
    pub name: String,
    /// The local tag before.
    pub local: Option<ObjectId>,
    /// The remote's.
    pub remote: ObjectId,
    pub outcome: TagOutcome,
}

/// What `dvx fetch` did.
#[derive(Debug, Clone)]
pub struct FetchReport {
    pub remote: String,
    pub url: String,
    /// Every branch the remote has, and those it no longer has.
    pub branches: Vec<BranchUpdate>,
    pub tags: Vec<TagUpdate>,
    /// The branch the remote says `dvx clone` checks out.
    pub default_branch: Option<String>,
    /// Downloads (commits, trees, run records), plus the requests for refs.
    pub stats: TransferStats,
}

/// Fetch from `connected` under the repository lock.
pub fn fetch(
    ws: &Workspace,
    lock: &RepoLock,
    connected: &Connected,
    options: &FetchOptions,
    progress: &dyn Progress,
) -> Result<FetchReport, Error> {
    let repo = ws.repo();
    let remote = &connected.remote;
    let start = Instant::now();
    let manifest = remote.require_manifest()?;
    let branches = remote.refs(RefKind::Branch)?;
    let tags = remote.refs(RefKind::Tag)?;
    let requests = 3 + (branches.len() + tags.len()) as u64;
    let mut tips: Vec<ObjectId> = branches
        .iter()
        .chain(&tags)
        .filter_map(|r| r.target)
        .collect();
    tips.sort();
    tips.dedup();
    let absent: Vec<ObjectId> = tips
        .iter()
        .filter(|id| !repo.store().contains(id))
        .copied()
        .collect();
    let pinned = pinned_elsewhere(ws)?;
    if !absent.is_empty() || pinned.is_some() {
        remote.load_indexes()?;
        let missing = remote.missing(&absent)?;
        if let Some(id) = missing.first() {
            let r = branches
                .iter()
                .chain(&tags)
                .find(|r| r.target == Some(*id))
                .expect("a missing target is some ref's");
            return Err(Error::DanglingRef {
                kind: r.kind,
                name: r.name.clone(),
                url: remote.url().into(),
                id: *id,
            });
        }
        if let Some(pin) = pinned
            && remote.missing(&[pin])?.is_empty()
        {
            tips.push(pin);
        }
    }
    let mut stats = fetch_history(repo, remote, &tips, progress)?;
    stats.requests += requests;
    repo.flush_objects()?;
    let branches = record_branches(repo, lock, &connected.name, &branches, &options.who)?;
    let tags = record_tags(repo, lock, &tags, options)?;
    stats.elapsed = start.elapsed();
    Ok(FetchReport {
        remote: connected.name.clone(),
        url: remote.url().to_owned(),
        branches,
        tags,
        default_branch: manifest.default_branch,
        stats,
    })
}

/// The commit `dvx.lock` pins in the work tree, when it is not local.
fn pinned_elsewhere(ws: &Workspace) -> Result<Option<ObjectId>, Error> {
    if ws.git().is_none() {
        return Ok(None);
    }
    // An unreadable pin is `status`'s to report; fetching goes on without it.
    Ok(crate::git::pin::Pin::read(ws.root())
        .ok()
        .flatten()
        .map(|pin| pin.commit)
        .filter(|id| !ws.repo().store().contains(id)))
}

/// What a walk wants of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Commit,
    /// A commit's top tree (where `dvx.lock` is git's pin).
    RootTree,
    Tree,
    Run,
}

/// Make the history of `tips` local: every commit, tree and run record they reach that
/// is not, downloaded level by level and verified as it arrives. Blobs stay where they
/// are. The caller flushes the store before a ref names any of it.
pub(super) fn fetch_history(
    repo: &Repo,
    remote: &Remote,
    tips: &[ObjectId],
    progress: &dyn Progress,
) -> Result<TransferStats, Error> {
    let store = repo.store();
    let mut stats = TransferStats::default();
    let local_tips = local_tips(repo)?;
    if tips.iter().all(|id| local_tips.contains(id)) {
        return Ok(stats);
    }
    let known = commit_closure(store, &local_tips)?;
    let have_trees = tree_closure(store, &local_tips)?;
    let mut seen: HashSet<ObjectId> = HashSet::new();
    let mut frontier: Vec<(ObjectId, Want)> = tips
        .iter()
        .filter(|id| !known.contains(id) && seen.insert(**id))
        .map(|id| (*id, Want::Commit))
        .collect();
    let phase = Phase::new(progress, "fetching history".into());
    while !frontier.is_empty() {
        let absent: Vec<ObjectId> = frontier
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| !store.contains(id))
            .collect();
        if !absent.is_empty() {
            let got = remote.download(store, &absent, &phase)?;
            stats.objects += got.objects;
            stats.bytes += got.bytes;
            stats.requests += got.requests;
        }
        let mut next = Vec::new();
        let mut want = |id: ObjectId, what: Want, next: &mut Vec<(ObjectId, Want)>| {
            let done = match what {
                Want::Commit => known.contains(&id),
                Want::Tree | Want::RootTree => have_trees.contains(&id),
                Want::Run => false,
            };
            if !done && seen.insert(id) {
                next.push((id, what));
            }
        };
        for (id, what) in frontier {
            match what {
                Want::Commit => {
                    let commit = store.read_commit(&id)?;
                    want(commit.tree, Want::RootTree, &mut next);
                    for run in commit.runs {
                        want(run, Want::Run, &mut next);
                    }
                    for parent in commit.parents {
                        want(parent, Want::Commit, &mut next);
                    }
                }
                Want::Tree | Want::RootTree => {
                    let tree = match store.read_tree(&id) {
                        // Decoding refuses `.git` and `.dvx` before the check below
                        // sees them: the same refusal, naming the remote.
                        Err(store::Error::Decode {
                            source: DecodeError::Reserved(name),
                            ..
                        }) => {
                            // `.GIT` is `.git` on a case-insensitive file system.
                            let why = hostile(&name, what == Want::RootTree)
                                .unwrap_or("which is git's or dvx's own directory");
                            return Err(remote::Error::HostileTree {
                                url: remote.url().to_owned(),
                                tree: id,
                                name,
                                why,
                            }
                            .into());
                        }
                        read => read?,
                    };
                    for entry in tree.entries {
                        if let Some(why) = hostile(&entry.name, what == Want::RootTree) {
                            return Err(remote::Error::HostileTree {
                                url: remote.url().to_owned(),
                                tree: id,
                                name: entry.name,
                                why,
                            }
                            .into());
                        }
                        if entry.kind == EntryKind::Dir {
                            want(entry.id, Want::Tree, &mut next);
                        }
                    }
                }
                Want::Run => {
                    let record = read_run(store, &id)?;
                    for artifact in record.deps.iter().chain(&record.outs) {
                        if artifact.kind == EntryKind::Dir {
                            want(artifact.id, Want::Tree, &mut next);
                        }
                    }
                }
            }
        }
        frontier = next;
    }
    Ok(stats)
}

/// Why a name in a fetched tree must never reach a work tree (`at_top`: in a commit's top
/// tree, where `dvx.lock` is git's pin), or `None`. Names are already valid (no `/`, not
/// `.` or `..`: decoding checks that); these would overwrite dvx's or git's own files.
/// The refs that would name such a tree do not move.
fn hostile(name: &str, at_top: bool) -> Option<&'static str> {
    if name == crate::git::pin::FILE_NAME {
        return at_top.then_some("the pin of the data version, which git tracks");
    }
    let path = RepoPath::new(name).ok()?;
    never_tracked(&path)
}

fn read_run(store: &Store, id: &ObjectId) -> Result<RunRecord, Error> {
    let bytes = store.read(id)?;
    RunRecord::decode(&bytes).map_err(|source| {
        store::Error::Decode {
            id: *id,
            kind: "run record",
            source,
        }
        .into()
    })
}

/// Every ref's commit and a detached HEAD's: complete by the store's invariant.
fn local_tips(repo: &Repo) -> Result<HashSet<ObjectId>, Error> {
    let mut tips: HashSet<ObjectId> = repo
        .refs()
        .list("refs/")?
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    if let Some(head) = repo.refs().head_commit()? {
        tips.insert(head);
    }
    Ok(tips)
}

/// The commits reachable from `tips` (commits only; their trees are not read).
fn commit_closure(store: &Store, tips: &HashSet<ObjectId>) -> Result<HashSet<ObjectId>, Error> {
    let mut seen = HashSet::new();
    let mut stack: Vec<ObjectId> = tips.iter().copied().collect();
    while let Some(id) = stack.pop() {
        if seen.insert(id) {
            stack.extend(store.read_commit(&id)?.parents);
        }
    }
    Ok(seen)
}

/// Every tree of the tips' own commits (not of their ancestors): a new commit usually
/// shares most of its directories with one of them, and the walk stops there.
fn tree_closure(store: &Store, tips: &HashSet<ObjectId>) -> Result<HashSet<ObjectId>, Error> {
    let mut seen = HashSet::new();
    let mut stack: Vec<ObjectId> = Vec::new();
    for tip in tips {
        stack.push(store.read_commit(tip)?.tree);
    }
    while let Some(id) = stack.pop() {
        if seen.insert(id) {
            for entry in store.read_tree(&id)?.entries {
                if entry.kind == EntryKind::Dir && !seen.contains(&entry.id) {
                    stack.push(entry.id);
                }
            }
        }
    }
    Ok(seen)
}

/// Point `refs/remotes/<remote>/*` at the remote's branches; delete those of branches
/// it no longer has (first, so a branch `a` can replace a former `a/b`).
fn record_branches(
    repo: &Repo,
    lock: &RepoLock,
    remote: &str,
    branches: &[RemoteRef],
    who: &Signature,
) -> Result<Vec<BranchUpdate>, Error> {
    let local: HashMap<String, ObjectId> = tracking_branches(repo, remote)?.into_iter().collect();
    let on_remote: HashSet<&str> = branches.iter().map(|b| b.name.as_str()).collect();
    let mut updates = Vec::new();
    let mut gone: Vec<(&String, &ObjectId)> = local
        .iter()
        .filter(|(name, _)| !on_remote.contains(name.as_str()))
        .collect();
    gone.sort();
    for (name, old) in gone {
        repo.update_ref(
            lock,
            &refs::remote_tracking(remote, name),
            Expected::Is(*old),
            None,
            who,
            "fetch: pruned (the remote no longer has the branch)",
        )?;
        updates.push(BranchUpdate {
            name: name.clone(),
            old: Some(*old),
            new: None,
        });
    }
    for branch in branches {
        let Some(new) = branch.target else { continue };
        let old = local.get(&branch.name).copied();
        if old != Some(new) {
            let message = match old {
                None => "fetch: storing head",
                Some(_) => "fetch: update",
            };
            repo.update_ref(
                lock,
                &refs::remote_tracking(remote, &branch.name),
                old.map(Expected::Is).unwrap_or(Expected::Absent),
                Some(new),
                who,
                message,
            )?;
        }
        updates.push(BranchUpdate {
            name: branch.name.clone(),
            old,
            new: Some(new),
        });
    }
    updates.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(updates)
}

/// Create the remote's tags locally; a local tag at another commit moves only with
/// `force`.
fn record_tags(
    repo: &Repo,
    lock: &RepoLock,
    tags: &[RemoteRef],
    options: &FetchOptions,
) -> Result<Vec<TagUpdate>, Error> {
    let mut out = Vec::new();
    for tag in tags {
        let Some(target) = tag.target else { continue };
        let full = format!("{TAGS}{}", tag.name);
        let local = repo.refs().get(&full)?;
        let outcome = match local {
            None => {
                repo.update_ref(
                    lock,
                    &full,
                    Expected::Absent,
                    Some(target),
                    &options.who,
                    "fetch: new tag",
                )?;
                TagOutcome::New
            }
            Some(at) if at == target => TagOutcome::Same,
            Some(at) if options.force => {
                repo.update_ref(
                    lock,
                    &full,
                    Expected::Is(at),
                    Some(target),
                    &options.who,
                    "fetch: forced tag update",
                )?;
                TagOutcome::Moved
            }
            Some(_) => TagOutcome::Skipped,
        };
        out.push(TagUpdate {
            name: tag.name.clone(),
            local,
            remote: target,
            outcome,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::{Commit, Tree, TreeEntry};
    use crate::progress::Silent;
    use crate::remote::{Credentials, Environment, RemoteUrl, Settings};

    fn who() -> Signature {
        Signature {
            name: "T".into(),
            email: "t@example.com".into(),
            time: 1_700_000_000,
            tz_minutes: 0,
        }
    }

    /// A commit of one directory `data` holding `files`, on top of `parents`.
    fn commit(store: &Store, files: &[&[u8]], parents: Vec<ObjectId>) -> ObjectId {
        let entries = files
            .iter()
            .enumerate()
            .map(|(i, bytes)| TreeEntry {
                name: format!("f{i}"),
                kind: EntryKind::File,
                executable: false,
                root: false,
                size: bytes.len() as u64,
                id: store.put_bytes(bytes).expect("put"),
            })
            .collect();
        let data = store.put(&Tree::from_unsorted(entries)).expect("put");
        let top = store
            .put(&Tree::from_unsorted(vec![TreeEntry {
                name: "data".into(),
                kind: EntryKind::Dir,
                executable: false,
                root: true,
                size: 0,
                id: data,
            }]))
            .expect("put");
        store
            .put(&Commit {
                tree: top,
                parents,
                author: who(),
                message: "m\n".into(),
                git: None,
                runs: Vec::new(),
                extensions: Vec::new(),
            })
            .expect("put")
    }

    /// History comes over, blobs do not, and a second fetch downloads only what is new:
    /// it stops at commits a local ref reaches.
    #[test]
    fn history_arrives_without_blobs_and_only_once() {
        let (_a_dir, a) = Repo::scratch();
        let (_b_dir, b) = Repo::scratch();
        let dir = tempfile::tempdir().expect("tempdir");
        let url = RemoteUrl::Directory(dir.path().join("remote"));
        let remote = Remote::open(
            &url,
            &Settings::default(),
            &Credentials::default(),
            &Environment::new(),
            true,
        )
        .expect("open");
        let first = commit(a.store(), &[b"one", b"two"], Vec::new());
        let second = commit(a.store(), &[b"one", b"three"], vec![first]);
        let upload = |tip| {
            let reached = crate::history::reach::reachable(a.store(), &[tip], &[]).expect("reach");
            let ids: Vec<ObjectId> = reached
                .blobs
                .iter()
                .chain(&reached.trees)
                .chain(&reached.commits)
                .copied()
                .collect();
            remote.upload(a.store(), &ids, &Silent).expect("upload");
        };
        upload(second);

        let stats = fetch_history(&b, &remote, &[first], &Silent).expect("fetch");
        assert_eq!(stats.objects, 3, "one commit, two trees");
        assert!(b.store().read_commit(&first).is_ok());
        assert!(!b.store().contains(&ObjectId::of(b"one")), "no blob");
        let lock = b.lock().expect("lock");
        b.update_ref(
            &lock,
            "refs/remotes/origin/main",
            Expected::Absent,
            Some(first),
            &who(),
            "fetch",
        )
        .expect("ref");
        let stats = fetch_history(&b, &remote, &[second], &Silent).expect("fetch");
        assert_eq!(stats.objects, 3, "only the new commit and its two trees");
        let stats = fetch_history(&b, &remote, &[second], &Silent).expect("fetch");
        assert_eq!(stats.objects, 0);
    }
}
