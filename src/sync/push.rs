//! `dvx push`: send what a remote lacks, then move its refs.
//!
//! Owns: which local refs a push sends (the current branch, named branches and tags,
//! every branch, every tag), the fast-forward rule for branches and the never-move rule
//! for tags, the upload of everything the pushed commits reach that the remote's refs do
//! not (reachability with the remote's ref targets as the "already have" set, blobs
//! directory by directory so a directory's files share packs), moving the remote refs
//! last, deleting remote refs, recording the remote's default branch on the first push,
//! and the remote-tracking refs a push moves ([`record`]).
//!
//! Invariants: a remote ref moves only after every object its commit reaches is on the
//! remote; a push that is not a fast-forward, or that another push beat (the next seq
//! already exists), moves nothing and says "the remote has commits you do not have"; a
//! blob that is neither local nor on the remote stops the push before any byte is sent.
//! Every push reads the remote's manifest and refs first, so wrong credentials fail even
//! when nothing is new.

use std::collections::{HashMap, HashSet};

use super::{BranchFor, Connected, Error, Phase};
use crate::hash::ObjectId;
use crate::history::diff;
use crate::history::merge::is_ancestor;
use crate::history::reach::{self, Reachable};
use crate::object::{EntryKind, Signature};
use crate::path::RepoPath;
use crate::progress::Progress;
use crate::refs::{self, Expected, HEADS, Head, TAGS};
use crate::remote::{self, RefKind, Remote, RemoteRef, TransferStats, transfer};
use crate::repo::{Repo, RepoLock};
use crate::store::Store;
use crate::workspace::Workspace;

/// Files named at most in an error about bytes that are nowhere.
const NAMED: usize = 10;

/// What to push.
#[derive(Debug, Clone, Default)]
pub struct PushRequest {
    /// Branches or tags by name (`main`, `v1`, `refs/tags/v1`); none: the current branch.
    pub refs: Vec<String>,
    /// Every branch.
    pub all: bool,
    /// Every tag.
    pub tags: bool,
    /// Remote branches or tags to delete (instead of pushing).
    pub delete: Vec<String>,
    /// Check every object the pushed refs reach against the remote's catalog, not only
    /// those its refs do not reach yet, and send what it lacks: a remote that lost
    /// objects (a pack deleted by hand after `fsck --remote` found it damaged) is made
    /// whole again, though its refs are up to date.
    pub repair: bool,
}

/// What happened to one remote ref.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Updated,
    UpToDate,
    Deleted,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            Outcome::UpToDate => "up-to-date",
            Outcome::Deleted => "deleted",
        }
    }
}

/// One remote ref a push looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    pub kind: RefKind,
    pub name: String,
    /// Its value on the remote before.
    pub old: Option<ObjectId>,
    /// Its value now (`None`: deleted).
    pub new: Option<ObjectId>,
    pub outcome: Outcome,
}

/// What `dvx push` did.
#[derive(Debug, Clone)]
pub struct PushReport {
    /// The remote's name and URL.
    pub remote: String,
    pub url: String,
    pub refs: Vec<Pushed>,
    /// The upload (objects, bytes, requests) plus the requests for refs and the manifest.
    pub stats: TransferStats,
    /// The remote was empty and is a dvx remote now.
    pub initialised: bool,
    /// The remote had no default branch, and now has this one.
    pub default_branch: Option<String>,
    /// The remote's default branch, deleted by this push: the remote has none now (the
    /// next branch pushed becomes it), so `dvx clone` never looks for a branch that is
    /// gone.
    pub default_deleted: Option<String>,
}

/// A local ref to push.
struct Selected {
    kind: RefKind,
    name: String,
    commit: ObjectId,
}

/// Push as `request` says to `connected`. Takes no lock: it writes only to the remote
/// (the remote-tracking refs are [`record`]'s, under the lock).
pub fn push(
    ws: &Workspace,
    connected: &Connected,
    request: &PushRequest,
    progress: &dyn Progress,
) -> Result<PushReport, Error> {
    let repo = ws.repo();
    let remote = &connected.remote;
    let start = std::time::Instant::now();
    let mut requests = 1u64;
    let (manifest, initialised) = match remote.manifest()? {
        Some(m) => (m, false),
        None => {
            // A listing (only an empty location becomes a dvx remote) and the manifest.
            requests += 2;
            remote.init_if_empty()?
        }
    };
    let mut report = PushReport {
        remote: connected.name.clone(),
        url: remote.url().to_owned(),
        refs: Vec::new(),
        stats: TransferStats::default(),
        initialised,
        default_branch: None,
        default_deleted: None,
    };
    let on_remote = RemoteRefs::read(remote, &mut requests)?;
    if !request.delete.is_empty() {
        for name in &request.delete {
            report.refs.push(delete(connected, name, &mut requests)?);
        }
        if let Some(default) = &manifest.default_branch
            && report
                .refs
                .iter()
                .any(|p| p.kind == RefKind::Branch && p.name == *default)
        {
            remote.set_default_branch(None)?;
            requests += 2;
            report.default_deleted = Some(default.clone());
        }
        report.stats = TransferStats {
            requests,
            elapsed: start.elapsed(),
            ..TransferStats::default()
        };
        return Ok(report);
    }
    let selected = select(repo, request)?;
    // Decide every ref before sending anything: one refusal stops the whole push.
    let mut moves = Vec::new();
    for s in &selected {
        let state = on_remote.state(remote, s.kind, &s.name, &mut requests)?;
        match state.target {
            Some(at) if at == s.commit => report.refs.push(Pushed {
                kind: s.kind,
                name: s.name.clone(),
                old: Some(at),
                new: Some(at),
                outcome: Outcome::UpToDate,
            }),
            Some(at) if s.kind == RefKind::Tag => {
                return Err(Error::TagMoved {
                    name: s.name.clone(),
                    url: remote.url().into(),
                    theirs: at,
                    ours: s.commit,
                });
            }
            Some(at) if !fast_forward(repo.store(), at, s.commit)? => {
                return Err(Error::Rejected {
                    kind: s.kind,
                    name: s.name.clone(),
                    remote: connected.name.clone(),
                    url: remote.url().into(),
                    at: Some(at),
                });
            }
            _ => moves.push((s, state)),
        }
    }
    // A repair trusts no ref: everything the pushed refs reach is checked (the upload
    // skips what the remote's catalog holds).
    let (wants, have): (Vec<ObjectId>, Vec<ObjectId>) = if request.repair {
        (selected.iter().map(|s| s.commit).collect(), Vec::new())
    } else {
        let wants = moves.iter().map(|(s, _)| s.commit).collect();
        (wants, on_remote.targets())
    };
    if !wants.is_empty() {
        report.stats = upload_closure(repo, remote, &wants, &have, progress)?;
    }
    for (s, state) in moves {
        match remote.update_ref(s.kind, &s.name, state.seq, Some(&s.commit)) {
            Ok(_) => {}
            Err(remote::Error::Refs(remote::refs::Error::Moved { .. })) => {
                return Err(lost_race(connected, s.kind, &s.name));
            }
            Err(e) => return Err(e.into()),
        }
        requests += 1;
        report.refs.push(Pushed {
            kind: s.kind,
            name: s.name.clone(),
            old: state.target,
            new: Some(s.commit),
            outcome: if state.target.is_some() {
                Outcome::Updated
            } else {
                Outcome::Created
            },
        });
    }
    if manifest.default_branch.is_none()
        && let Some(branch) = default_branch(repo, &report.refs)?
    {
        remote.set_default_branch(Some(&branch))?;
        requests += 2;
        report.default_branch = Some(branch);
    }
    report.stats.requests += requests;
    report.stats.elapsed = start.elapsed();
    Ok(report)
}

/// The branch a first push makes the remote's default: the current one if it was
/// pushed, else the first branch pushed.
fn default_branch(repo: &Repo, pushed: &[Pushed]) -> Result<Option<String>, Error> {
    let branches: Vec<&str> = pushed
        .iter()
        .filter(|p| p.kind == RefKind::Branch && p.new.is_some())
        .map(|p| p.name.as_str())
        .collect();
    let head = repo.refs().read_head()?;
    Ok(match head.branch() {
        Some(current) if branches.contains(&current) => Some(current.to_owned()),
        _ => branches.first().map(|b| (*b).to_owned()),
    })
}

/// Whether moving a remote branch from `theirs` to `ours` loses nothing: `theirs` is
/// local and an ancestor of `ours`.
fn fast_forward(store: &Store, theirs: ObjectId, ours: ObjectId) -> Result<bool, Error> {
    Ok(store.contains(&theirs) && is_ancestor(store, theirs, ours)?)
}

/// The local refs `request` names.
fn select(repo: &Repo, request: &PushRequest) -> Result<Vec<Selected>, Error> {
    let refs = repo.refs();
    let mut out: Vec<Selected> = Vec::new();
    if request.refs.is_empty() && !request.all && !request.tags {
        let name = match refs.read_head()? {
            Head::Branch(full) => full[HEADS.len()..].to_owned(),
            Head::Detached(_) => {
                return Err(Error::Detached {
                    needed_by: BranchFor::Push,
                });
            }
        };
        let commit = refs
            .get(&format!("{HEADS}{name}"))?
            .ok_or_else(|| Error::Unborn(name.clone()))?;
        out.push(Selected {
            kind: RefKind::Branch,
            name,
            commit,
        });
    }
    for name in &request.refs {
        let found = if let Some(branch) = name.strip_prefix(HEADS) {
            refs.get(name)?.map(|c| (RefKind::Branch, branch, c))
        } else if let Some(tag) = name.strip_prefix(TAGS) {
            refs.get(name)?.map(|c| (RefKind::Tag, tag, c))
        } else if let Some(c) = refs.get(&format!("{HEADS}{name}"))? {
            Some((RefKind::Branch, name.as_str(), c))
        } else {
            refs.get(&format!("{TAGS}{name}"))?
                .map(|c| (RefKind::Tag, name.as_str(), c))
        };
        let (kind, short, commit) = found.ok_or_else(|| Error::NoSuchRef(name.clone()))?;
        out.push(Selected {
            kind,
            name: short.to_owned(),
            commit,
        });
    }
    if request.all {
        for (full, commit) in refs.list(HEADS)? {
            out.push(Selected {
                kind: RefKind::Branch,
                name: full[HEADS.len()..].to_owned(),
                commit,
            });
        }
    }
    if request.tags {
        for (full, commit) in refs.list(TAGS)? {
            out.push(Selected {
                kind: RefKind::Tag,
                name: full[TAGS.len()..].to_owned(),
                commit,
            });
        }
    }
    let mut seen = HashSet::new();
    out.retain(|s| seen.insert((s.kind, s.name.clone())));
    Ok(out)
}

/// Another push moved the remote ref between our read and our write: say where it is
/// now (one more read; if that fails too, the error says less).
fn lost_race(connected: &Connected, kind: RefKind, name: &str) -> Error {
    let at = connected
        .remote
        .read_ref(kind, name)
        .ok()
        .and_then(|state| state.target);
    Error::Rejected {
        kind,
        name: name.to_owned(),
        remote: connected.name.clone(),
        url: connected.remote.url().into(),
        at,
    }
}

/// Delete remote branch or tag `name` (a branch if both exist) with a tombstone.
fn delete(connected: &Connected, name: &str, requests: &mut u64) -> Result<Pushed, Error> {
    let remote = &connected.remote;
    let candidates: Vec<(RefKind, &str)> = if let Some(b) = name.strip_prefix(HEADS) {
        vec![(RefKind::Branch, b)]
    } else if let Some(t) = name.strip_prefix(TAGS) {
        vec![(RefKind::Tag, t)]
    } else {
        vec![(RefKind::Branch, name), (RefKind::Tag, name)]
    };
    for (kind, short) in candidates {
        *requests += 1;
        let state = remote.read_ref(kind, short)?;
        let Some(old) = state.target else { continue };
        match remote.update_ref(kind, short, state.seq, None) {
            Ok(_) => {}
            Err(remote::Error::Refs(remote::refs::Error::Moved { .. })) => {
                return Err(lost_race(connected, kind, short));
            }
            Err(e) => return Err(e.into()),
        }
        *requests += 1;
        return Ok(Pushed {
            kind,
            name: short.to_owned(),
            old: Some(old),
            new: None,
            outcome: Outcome::Deleted,
        });
    }
    Err(Error::NotOnRemote {
        name: name.to_owned(),
        url: remote.url().into(),
    })
}

/// The remote's live branches and tags, as read at the start of a push.
pub(super) struct RemoteRefs {
    live: HashMap<(RefKind, String), RemoteRef>,
}

impl RemoteRefs {
    pub(super) fn read(remote: &Remote, requests: &mut u64) -> Result<RemoteRefs, Error> {
        let mut live = HashMap::new();
        for kind in [RefKind::Branch, RefKind::Tag] {
            let refs = remote.refs(kind)?;
            *requests += 1 + refs.len() as u64;
            for r in refs {
                live.insert((kind, r.name.clone()), r);
            }
        }
        Ok(RemoteRefs { live })
    }

    /// A ref's state: from the listing, or (never created, or deleted) read alone for
    /// its seq.
    fn state(
        &self,
        remote: &Remote,
        kind: RefKind,
        name: &str,
        requests: &mut u64,
    ) -> Result<RemoteRef, Error> {
        match self.live.get(&(kind, name.to_owned())) {
            Some(r) => Ok(r.clone()),
            None => {
                *requests += 1;
                Ok(remote.read_ref(kind, name)?)
            }
        }
    }

    /// The commits the remote's refs point at: what it already has.
    pub(super) fn targets(&self) -> Vec<ObjectId> {
        let mut ids: Vec<ObjectId> = self.live.values().filter_map(|r| r.target).collect();
        ids.sort();
        ids.dedup();
        ids
    }
}

/// Upload everything `wants` reach that the closure of `have` (the remote's ref
/// targets) does not. Blobs go first, directory by directory through the wanted commits' trees,
/// then trees, run records and commits, so the metadata a fetch reads lies together.
pub(super) fn upload_closure(
    repo: &Repo,
    remote: &Remote,
    wants: &[ObjectId],
    have: &[ObjectId],
    progress: &dyn Progress,
) -> Result<TransferStats, Error> {
    let store = repo.store();
    let reached = reach::reachable(store, wants, have)?;
    let ordered = upload_order(store, wants, &reached)?;
    let phase = Phase::new(
        progress,
        format!("pushing {}", plural(reached.blobs.len(), "file", "files")),
    );
    match remote.upload(store, &ordered, &phase) {
        Ok(stats) => Ok(stats),
        Err(remote::Error::Transfer(transfer::Error::Missing { url, count, ids })) => {
            Err(Error::BytesMissing {
                url,
                count,
                files: name_files(store, wants, &ids)?,
            })
        }
        Err(e) => Err(e.into()),
    }
}

fn upload_order(
    store: &Store,
    wants: &[ObjectId],
    reached: &Reachable,
) -> Result<Vec<ObjectId>, Error> {
    let mut out = Vec::with_capacity(reached.len());
    let mut seen = HashSet::new();
    // Depth first through the new trees only: a tree holding a new blob is new itself
    // (its id names its entries), so no new blob is missed, and directories the remote
    // has are never read.
    let mut stack: Vec<ObjectId> = Vec::new();
    for want in wants.iter().rev() {
        stack.push(store.read_commit(want)?.tree);
    }
    let mut visited = HashSet::new();
    while let Some(tree) = stack.pop() {
        if !reached.trees.contains(&tree) || !visited.insert(tree) {
            continue;
        }
        let entries = store.read_tree(&tree)?.entries;
        // Files of this directory first, in name order; then its subdirectories, in
        // name order (pushed in reverse, so the first pops first).
        for e in &entries {
            if e.kind != EntryKind::Dir && reached.blobs.contains(&e.id) && seen.insert(e.id) {
                out.push(e.id);
            }
        }
        stack.extend(
            entries
                .iter()
                .rev()
                .filter(|e| e.kind == EntryKind::Dir)
                .map(|e| e.id),
        );
    }
    for set in [
        &reached.blobs,
        &reached.trees,
        &reached.runs,
        &reached.commits,
    ] {
        let mut rest: Vec<ObjectId> = set
            .iter()
            .filter(|id| !seen.contains(*id))
            .copied()
            .collect();
        rest.sort();
        seen.extend(rest.iter().copied());
        out.extend(rest);
    }
    Ok(out)
}

/// Paths for `ids` in the wanted commits' trees (the first few), for the error.
fn name_files(
    store: &Store,
    wants: &[ObjectId],
    ids: &[ObjectId],
) -> Result<Vec<(String, ObjectId)>, Error> {
    let wanted: HashSet<&ObjectId> = ids.iter().collect();
    let mut named: Vec<(String, ObjectId)> = Vec::new();
    let mut done = HashSet::new();
    for want in wants {
        let tree = store.read_commit(want)?.tree;
        for (path, item) in diff::files_under(store, tree, &RepoPath::root())? {
            if let Some(id) = item.id
                && wanted.contains(&id)
                && done.insert(id)
            {
                named.push((path.to_string(), id));
            }
        }
    }
    for id in ids {
        if done.insert(*id) {
            named.push(("(an earlier commit)".into(), *id));
        }
    }
    named.truncate(NAMED);
    Ok(named)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Point the remote-tracking refs at what the push left on the remote
/// (`refs/remotes/<remote>/<branch>`), as git does after a push.
pub fn record(
    ws: &Workspace,
    lock: &RepoLock,
    report: &PushReport,
    who: &Signature,
) -> Result<(), Error> {
    let repo = ws.repo();
    for pushed in report.refs.iter().filter(|p| p.kind == RefKind::Branch) {
        let full = refs::remote_tracking(&report.remote, &pushed.name);
        let current = repo.refs().get(&full)?;
        if current == pushed.new {
            continue;
        }
        let expected = current.map(Expected::Is).unwrap_or(Expected::Absent);
        let message = match pushed.outcome {
            Outcome::Deleted => "push: deleted".to_owned(),
            _ => format!("push: {}", pushed.outcome.name()),
        };
        repo.update_ref(lock, &full, expected, pushed.new, who, &message)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::{Commit, Tree, TreeEntry};

    fn entry(name: &str, kind: EntryKind, id: ObjectId) -> TreeEntry {
        TreeEntry {
            name: name.into(),
            kind,
            executable: false,
            root: false,
            size: 1,
            id,
        }
    }

    fn commit(store: &Store, tree: ObjectId, parents: Vec<ObjectId>) -> ObjectId {
        store
            .put(&Commit {
                tree,
                parents,
                author: Signature {
                    name: "T".into(),
                    email: "t@example.com".into(),
                    time: 1_700_000_000,
                    tz_minutes: 0,
                },
                message: "m\n".into(),
                git: None,
                runs: Vec::new(),
                extensions: Vec::new(),
            })
            .expect("put commit")
    }

    /// New files go directory by directory, each directory's files in name order, so
    /// they share packs; files only older commits have follow; metadata comes last, and
    /// nothing the remote already has is listed.
    #[test]
    fn uploads_list_files_by_directory_then_metadata() {
        let (_dir, store) = Store::scratch();
        let put = |b: &[u8]| store.put_bytes(b).expect("put");
        let (a, b, c, z, old, shared) = (
            put(b"a"),
            put(b"b"),
            put(b"c"),
            put(b"z"),
            put(b"old"),
            put(b"s"),
        );
        let tree = |entries: Vec<TreeEntry>| store.put(&Tree::from_unsorted(entries)).expect("put");
        let had = tree(vec![entry("s", EntryKind::File, shared)]);
        let sub = tree(vec![entry("c", EntryKind::File, c)]);
        let data = tree(vec![
            entry("b", EntryKind::File, b),
            entry("sub", EntryKind::Dir, sub),
            entry("a", EntryKind::File, a),
            entry("kept", EntryKind::Dir, had),
        ]);
        let top = tree(vec![
            entry("z", EntryKind::File, z),
            entry("data", EntryKind::Dir, data),
        ]);
        let old_tree = tree(vec![entry("old", EntryKind::File, old)]);
        let remote_has = commit(&store, had, Vec::new());
        let first = commit(&store, old_tree, vec![remote_has]);
        let second = commit(&store, top, vec![first]);
        let reached = reach::reachable(&store, &[second], &[remote_has]).expect("reach");
        let order = upload_order(&store, &[second], &reached).expect("order");
        assert_eq!(&order[..5], &[z, a, b, c, old]);
        assert!(!order.contains(&shared) && !order.contains(&had));
        let mut metadata = vec![top, data, sub, old_tree];
        metadata.sort();
        assert_eq!(&order[5..9], metadata.as_slice());
        let mut commits = vec![first, second];
        commits.sort();
        assert_eq!(&order[9..], commits.as_slice());
    }
}
