//! `dvx checkout <rev>`: switch the work tree to another commit, fully or lazily.
//!
//! A checkout is planned, then applied. [`plan_checkout`] decides what every differing
//! path becomes and lists the blobs it would write that are not local
//! ([`CheckoutPlan::absent`]), touching nothing; the caller may fetch those through its
//! [`ObjectSource`] (an eager checkout does; a lazy one never goes to the network); then
//! [`apply_checkout`] writes from the local store, and bytes still absent become not
//! fetched. [`switch`] does the three steps.
//!
//! Only paths where the index differs from the target are looked at (directories with
//! equal ids are skipped), so switching between commits that differ in 1% of files
//! costs about 1% of a full checkout. Untracked files are never touched.
//!
//! For each differing path P, with I its index entry, H its version in HEAD, W the file
//! and T the target version:
//! - W already equals T: the index takes T, nothing is written (no file at all equals a
//!   T whose bytes are not local: it becomes not fetched, unless a fetch between plan
//!   and apply brought the bytes, and then they are written);
//! - H equals T: P is left alone (a staged or unstaged change carried over, as git does);
//! - W equals I and I equals H (clean), or neither I nor W exists: W becomes T (a file
//!   deleted from the work tree counts as clean here, as in git: its bytes are stored);
//! - otherwise P has local changes that would be lost: refused unless `force`.
//!
//! With `force`, as with `git checkout -f`, every tracked path ends equal to the target:
//! P takes T unless W already equals it (nothing is carried over), and the paths where
//! the index already equals the target are checked too, so a deleted or edited file
//! comes back. Untracked files stay; bytes that are not local stay not fetched.
//!
//! The target is recorded in `.dvx/CHECKOUT` before any file is touched, and the rules
//! above make a checkout cut short by a crash safe to run again without `--force`.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::Path;

use rayon::prelude::*;

use super::compare::{FileState, check_entry, hash_path, links_to_object, shares_object};
use super::real_dirs::{self, RealDirs};
use super::restore::{Existing, entry_for, write_entries};
use super::rm::prune_empty_dirs;
use super::tracked::item_of;
use super::{Error, Workspace, expand_to, link_rule, read_err, read_err_at, write_err};
use crate::atomic;
use crate::git::ignore_block;
use crate::hash::ObjectId;
use crate::history::commit::advance_head;
use crate::history::diff::{self, IndexSource, Item, TreeSource};
use crate::index::{CachedTree, Entry, Index, Kind, Stat};
use crate::object::{EntryKind, Signature};
use crate::path::RepoPath;
use crate::progress::Progress;
use crate::refs::{Expected, Head};
use crate::repo::{BranchChange, Repo, RepoLock};
use crate::stat::FileKind;
use crate::store::ObjectSource;

const MARKER: &str = "CHECKOUT";

/// Whether to write files whose bytes are local (both modes do) and how to record the
/// rest: `Lazy` keeps a directory with nothing local as one not-fetched entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckoutMode {
    Eager,
    Lazy,
}

/// What happens to HEAD once the files are in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadMove {
    /// Point HEAD at this branch (full ref name).
    Switch(String),
    /// Move (or create) this branch to the target, if it still has the `expected` value,
    /// then point HEAD at it: `checkout -b`, and following `dvx.lock` forward.
    SetBranch { branch: String, expected: Expected },
    /// Detach HEAD at the target.
    Detach,
    /// Move HEAD's branch (or detached HEAD) from its current commit to the target
    /// (fast-forward and merge).
    Advance,
}

#[derive(Debug, Clone)]
pub struct CheckoutOptions {
    pub target: ObjectId,
    pub head: HeadMove,
    pub mode: CheckoutMode,
    pub force: bool,
    pub who: Signature,
    /// For the reflog.
    pub message: String,
}

/// What a checkout did.
#[derive(Debug, Default)]
pub struct CheckoutReport {
    pub written: usize,
    pub removed: usize,
    /// Files already matching the target (only the index changed).
    pub unchanged: usize,
    /// Paths recorded as not fetched (file or whole directory).
    pub not_fetched: usize,
    /// Objects the source fetched into the local store for this checkout.
    pub fetched: usize,
    /// Paths left as they were because HEAD and the target agree there.
    pub carried: Vec<RepoPath>,
    pub gitignores_changed: Vec<std::path::PathBuf>,
}

/// Forget a `CHECKOUT` that names the commit HEAD is on: that checkout did all its work
/// (files, index, HEAD) and was cut short only before removing it, so nothing is left to
/// finish. Commands that find nothing to do (a merge that is up to date) call this, so
/// `status` stops reporting an interrupted checkout. Returns whether it removed one.
pub fn settle_finished_checkout(repo: &Repo, lock: &RepoLock) -> Result<bool, Error> {
    debug_assert!(lock.guards(repo), "the lock of this work tree");
    let Some(target) = interrupted_checkout(repo) else {
        return Ok(false);
    };
    if repo.refs().head_commit()? != Some(target) {
        return Ok(false);
    }
    let marker = repo.local_file(MARKER);
    atomic::remove_file(&marker).map_err(write_err(&marker))?;
    Ok(true)
}

/// The target of a checkout that did not finish in this work tree, if any.
pub fn interrupted_checkout(repo: &Repo) -> Option<ObjectId> {
    interrupted_checkout_in(repo.local_dir())
}

/// The target a checkout recorded in the work tree whose local state is `local_dir`
/// (its `.dvx/`) before touching files, if that checkout did not finish (gc keeps it).
pub fn interrupted_checkout_in(local_dir: &Path) -> Option<ObjectId> {
    fs::read_to_string(local_dir.join(MARKER))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// What to do at one path.
#[derive(Debug)]
enum Action {
    /// The index takes the target; the file already matches (or both are absent).
    Adopt(RepoPath, Option<Item>),
    /// Write the target (or delete the file when the target has none). `local`: the
    /// target's bytes were local when planned (else they are in the plan's absent ids).
    Update {
        path: RepoPath,
        item: Option<Item>,
        local: bool,
    },
    /// No file is there and the target's bytes were not local when planned: not
    /// fetched, unless a fetch brought them, and then written.
    Absent(RepoPath, Item),
    /// A directory the target has and nothing of which is local: one not-fetched entry.
    Collapse(RepoPath, Item),
    Carry(RepoPath),
}

impl Action {
    fn update(path: RepoPath, item: Option<Item>, objects: &dyn ObjectSource) -> Action {
        let local = item
            .as_ref()
            .is_some_and(|i| i.id.is_some_and(|id| objects.has(&id)));
        Action::Update { path, item, local }
    }

    /// The path and target id of a symlink this action may write.
    fn symlink_to_write(&self) -> Option<(&RepoPath, &ObjectId)> {
        let (path, item) = match self {
            Action::Absent(path, item) => (path, item),
            Action::Update {
                path,
                item: Some(item),
                ..
            } => (path, item),
            _ => return None,
        };
        match (&item.kind, &item.id) {
            (EntryKind::Symlink, Some(id)) => Some((path, id)),
            _ => None,
        }
    }

    /// A blob this action would write that is not local, with its size.
    fn absent_blob(&self) -> Option<(ObjectId, u64)> {
        match self {
            Action::Update {
                item: Some(item),
                local: false,
                ..
            }
            | Action::Absent(_, item)
                if !item.is_dir() =>
            {
                item.id.map(|id| (id, item.size))
            }
            _ => None,
        }
    }
}

/// A checkout decided but not yet done: what every differing path becomes, and which
/// blobs it would write that are not local. Made by [`plan_checkout`]; a caller may
/// inspect it, hand [`CheckoutPlan::absent`] to [`ObjectSource::fetch`], then give it
/// to [`apply_checkout`]. Bytes still absent then become not fetched.
#[derive(Debug)]
pub struct CheckoutPlan {
    options: CheckoutOptions,
    /// HEAD's commit when planned: HEAD moves from it.
    head: Option<ObjectId>,
    actions: Vec<Action>,
    root_changes: Vec<(RepoPath, bool)>,
    /// The target's directories the diff listed, which will match it afterwards.
    listed_new: Vec<(RepoPath, Item)>,
    /// Files (untracked, with `force`) standing where a directory of the target goes:
    /// removed before anything is written.
    in_the_way: Vec<RepoPath>,
    absent: Vec<ObjectId>,
    absent_bytes: u64,
}

impl CheckoutPlan {
    pub fn target(&self) -> ObjectId {
        self.options.target
    }

    pub fn mode(&self) -> CheckoutMode {
        self.options.mode
    }

    /// The blobs this checkout would write whose bytes are not local, each once. A
    /// directory a lazy checkout records whole as not fetched is not among them.
    pub fn absent(&self) -> &[ObjectId] {
        &self.absent
    }

    /// The size of the [`CheckoutPlan::absent`] blobs.
    pub fn absent_bytes(&self) -> u64 {
        self.absent_bytes
    }

    /// The paths whose file the checkout writes (or, without their bytes, records as
    /// not fetched) or removes.
    pub fn updated_paths(&self) -> Vec<&RepoPath> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Action::Update { path, .. } | Action::Absent(path, _) => Some(path),
                _ => None,
            })
            .collect()
    }
}

/// Switch the work tree, index and HEAD to `options.target`, with the bytes the local
/// store has, under the repository lock.
pub fn checkout(
    ws: &Workspace,
    lock: &RepoLock,
    options: &CheckoutOptions,
    progress: &dyn Progress,
) -> Result<CheckoutReport, Error> {
    let mut index = ws.load_index()?;
    switch(ws, lock, &mut index, options, ws.repo().store(), progress)
}

/// [`checkout`] for a caller that has the index loaded already, reading bytes through
/// `objects`: plan, fetch what is absent (eager mode only: a lazy checkout does no
/// network I/O, and what is absent becomes not fetched), apply.
pub fn switch(
    ws: &Workspace,
    lock: &RepoLock,
    index: &mut Index,
    options: &CheckoutOptions,
    objects: &dyn ObjectSource,
    progress: &dyn Progress,
) -> Result<CheckoutReport, Error> {
    let plan = plan_checkout(ws, index, options, objects)?;
    let mut fetched = 0;
    if plan.mode() == CheckoutMode::Eager && !plan.absent().is_empty() {
        let got = objects.fetch(plan.absent(), progress)?;
        if !got.fetched.is_empty() {
            ws.repo().flush_objects()?;
        }
        fetched = got.fetched.len();
    }
    let mut report = apply_checkout(ws, lock, index, plan, objects, progress)?;
    report.fetched = fetched;
    Ok(report)
}

/// Decide what a checkout of `options.target` does at every path where `index` differs
/// from it, and refuse (before anything is touched) if local changes would be lost.
/// Reads the work tree and the store; changes nothing. Whether bytes are local is
/// asked of `objects`.
pub fn plan_checkout(
    ws: &Workspace,
    index: &Index,
    options: &CheckoutOptions,
    objects: &dyn ObjectSource,
) -> Result<CheckoutPlan, Error> {
    let repo = ws.repo();
    let store = objects.store();
    // As in git, a branch another work tree has checked out is not checked out here too:
    // a commit in one would silently revert the other. (Staying on this work tree's own
    // branch is always fine.)
    if let HeadMove::Switch(branch) | HeadMove::SetBranch { branch, .. } = &options.head
        && repo.refs().read_head()? != Head::Branch(branch.clone())
    {
        repo.ensure_not_checked_out_elsewhere(branch, BranchChange::CheckOut)?;
    }
    let head = repo.refs().head_commit()?;
    let head_tree = match head {
        Some(id) => Some(store.read_commit(&id)?.tree),
        None => None,
    };
    let target_tree = store.read_commit(&options.target)?.tree;

    let out = diff::diff(
        &IndexSource { index, store },
        &TreeSource {
            store,
            tree: Some(target_tree),
        },
        &diff::Options {
            collapse_added: options.mode == CheckoutMode::Lazy,
            filter: Vec::new(),
        },
    )?;
    check_case_collisions(ws, &out.listed_new)?;

    let mut actions = Vec::new();
    let mut conflicts = Vec::new();
    let mut root_changes: Vec<(RepoPath, bool)> = Vec::new();
    for change in &out.changes {
        let (old, new) = (change.old.as_ref(), change.new.as_ref());
        if old.is_some_and(Item::is_dir) && new.is_some_and(Item::is_dir) {
            // Only the root flag differs.
            root_changes.push((change.path.clone(), new.is_some_and(|n| n.root)));
            continue;
        }
        if let Some(n) = new {
            if n.root {
                root_changes.push((change.path.clone(), true));
            }
        } else if old.is_some_and(|o| o.root) {
            root_changes.push((change.path.clone(), false));
        }
        if let Some(item) = new.filter(|n| n.is_dir()) {
            plan_added_dir(
                ws,
                objects,
                &change.path,
                item,
                &mut actions,
                &mut conflicts,
                options.force,
            )?;
            continue;
        }
        // A directory in HEAD where the target has a file is planned file by file (its
        // files are changes of their own); at this path HEAD has no file.
        let h = match head_tree {
            Some(t) => diff::lookup(store, t, &change.path)?.filter(|h| !h.is_dir()),
            None => None,
        };
        let planned = plan_path(
            ws,
            index,
            objects,
            &change.path,
            old,
            new,
            h.as_ref(),
            options.force,
        )?;
        match planned {
            Some(action) => actions.push(action),
            None => conflicts.push(change.path.clone()),
        }
    }
    if options.force {
        // The paths where the index already agrees with the target were not compared
        // above; their files may still have been edited or deleted.
        let listed: HashSet<&RepoPath> = out.changes.iter().map(|c| &c.path).collect();
        actions.extend(discarded_edits(ws, index, objects, &listed)?);
        actions.extend(interrupted_leftovers(ws, index, objects, target_tree)?);
    }
    let in_the_way = check_blocking_files(ws, &actions, &mut conflicts, options.force);
    if !conflicts.is_empty() {
        conflicts.sort();
        let shown: Vec<String> = conflicts.iter().take(10).map(|p| p.to_string()).collect();
        let more = conflicts.len().saturating_sub(10);
        return Err(Error::WouldOverwrite {
            count: conflicts.len(),
            list: if more > 0 {
                format!("{} and {more} more", shown.join(", "))
            } else {
                shown.join(", ")
            },
            paths: conflicts,
        });
    }
    let mut absent = Vec::new();
    let mut absent_bytes = 0;
    let mut seen = HashSet::new();
    for (id, size) in actions.iter().filter_map(Action::absent_blob) {
        if seen.insert(id) {
            absent.push(id);
            absent_bytes += size;
        }
    }
    Ok(CheckoutPlan {
        options: options.clone(),
        head,
        actions,
        root_changes,
        listed_new: out.listed_new,
        in_the_way,
        absent,
        absent_bytes,
    })
}

/// Carry out `plan` (made from this `index`, under the same hold of the lock): record
/// the target in `CHECKOUT`, write and remove files, then write the index and move HEAD.
/// Bytes the plan found absent are written if `objects` has them now, else recorded as
/// not fetched.
pub fn apply_checkout(
    ws: &Workspace,
    lock: &RepoLock,
    index: &mut Index,
    plan: CheckoutPlan,
    objects: &dyn ObjectSource,
    progress: &dyn Progress,
) -> Result<CheckoutReport, Error> {
    debug_assert!(lock.guards(ws.repo()), "the lock of this work tree");
    let repo = ws.repo();
    let store = objects.store();
    let root = ws.root();
    let CheckoutPlan {
        options,
        head,
        actions,
        root_changes,
        listed_new,
        in_the_way,
        ..
    } = plan;

    // The symlinks to write are judged before the marker or any file is written.
    link_rule::check_targets(
        store,
        repo.config().core.external_symlinks,
        actions.iter().filter_map(Action::symlink_to_write),
    )?;
    let marker = repo.local_file(MARKER);
    lock.temps()
        .write_durable(&marker, format!("{}\n", options.target).as_bytes())
        .map_err(write_err(&marker))?;
    for path in &in_the_way {
        let abs = path.to_fs_path(root);
        atomic::remove_file(&abs).map_err(write_err(&abs))?;
    }
    // Bytes the plan found absent may have been fetched since; asked of all at once.
    let absent_ids: Vec<ObjectId> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Absent(_, item) => item.id,
            _ => None,
        })
        .collect();
    let still_absent: HashSet<ObjectId> = objects.missing(&absent_ids).into_iter().collect();
    let mut report = CheckoutReport::default();
    let mut writes = Vec::new();
    let mut carried: HashSet<RepoPath> = HashSet::new();
    let mut real_dirs = RealDirs::new(root);
    for action in actions {
        match action {
            Action::Carry(path) => {
                carried.insert(path.clone());
                report.carried.push(path);
            }
            Action::Adopt(path, item) => {
                expand_to(index, store, &path)?;
                match item {
                    None => {
                        index.remove(&path);
                    }
                    Some(item) => {
                        let mut entry = entry_for(path.clone(), &item);
                        let abs = path.to_fs_path(root);
                        if real_dirs.lead_to(&path)
                            && let Ok(m) = fs::symlink_metadata(&abs)
                        {
                            entry.stat = Stat::from_metadata(&m);
                            entry.not_fetched = false;
                            // A file an interrupted checkout linked to its object.
                            entry.linked = entry.kind == Kind::File
                                && shares_object(&abs, &m, store, &entry.id);
                        }
                        index.upsert(entry);
                        report.unchanged += 1;
                    }
                }
            }
            Action::Absent(path, item) => {
                expand_to(index, store, &path)?;
                // Fetched since the plan, and still nothing in the way: written.
                let fetched = item.id.is_some_and(|id| !still_absent.contains(&id))
                    && real_dirs::lstat(root, &path).is_err();
                let entry = entry_for(path, &item);
                if fetched {
                    writes.push(entry);
                } else {
                    index.upsert(entry);
                    report.unchanged += 1;
                }
            }
            Action::Collapse(path, item) => {
                expand_to(index, store, &path)?;
                index.remove_under(&path);
                index.upsert(entry_for(path, &item));
                report.not_fetched += 1;
            }
            Action::Update { path, item, local } => {
                expand_to(index, store, &path)?;
                // Bytes absent when planned may have been fetched since.
                let local = local
                    || item
                        .as_ref()
                        .is_some_and(|i| i.id.is_some_and(|id| objects.has(&id)));
                if !local {
                    // No target bytes to write: the old file goes (it is clean or forced).
                    let abs = path.to_fs_path(root);
                    if real_dirs.lead_to(&path)
                        && fs::symlink_metadata(&abs).is_ok_and(|m| !m.is_dir())
                    {
                        atomic::remove_file(&abs).map_err(write_err(&abs))?;
                        prune_empty_dirs(root, &path);
                    }
                    index.remove_under(&path);
                    match item {
                        Some(item) => {
                            index.upsert(entry_for(path, &item));
                            report.not_fetched += 1;
                        }
                        None => report.removed += 1,
                    }
                } else if let Some(item) = item {
                    writes.push(entry_for(path, &item));
                }
            }
        }
    }
    // Planning compared every one of these with its target already.
    let written = write_entries(ws, index, writes, Existing::Stale, objects, progress)?;
    report.written = written.restored.len();
    report.unchanged += written.unchanged;
    report.not_fetched += written.not_fetched.len();

    for (path, is_root) in root_changes {
        if carried.contains(&path) {
            continue;
        }
        if is_root {
            index.add_root(path.clone());
            if ws.git().is_some()
                && !path.is_root()
                && let Some(f) = ignore_block::add(root, lock, &path).map_err(write_err(root))?
            {
                report.gitignores_changed.push(f);
            }
        } else {
            index.remove_root(&path);
        }
    }
    // Directories the checkout listed now match the target exactly (unless something was
    // carried over below them): cache their ids so the next commit or diff skips them.
    for (dir, item) in &listed_new {
        if let Some(id) = item.id
            && !carried.iter().any(|c| c.is_within(dir))
            && index
                .tree_entry_covering(dir)
                .is_none_or(|e| e.path == *dir)
        {
            let size = store.read_tree(&id)?.size();
            index.cache_tree(dir.clone(), CachedTree { id, size });
        }
    }
    ws.write_index(lock, index)?;
    move_head(repo, lock, head, &options)?;
    let _ = atomic::remove_file(&marker);
    Ok(report)
}

fn move_head(
    repo: &Repo,
    lock: &RepoLock,
    head: Option<ObjectId>,
    options: &CheckoutOptions,
) -> Result<(), Error> {
    let (who, message) = (&options.who, options.message.as_str());
    match &options.head {
        HeadMove::Switch(branch) => {
            repo.set_head(lock, &Head::Branch(branch.clone()), who, message)?
        }
        HeadMove::SetBranch { branch, expected } => {
            repo.update_ref(lock, branch, *expected, Some(options.target), who, message)?;
            repo.set_head(lock, &Head::Branch(branch.clone()), who, message)?;
        }
        HeadMove::Detach => repo.set_head(lock, &Head::Detached(options.target), who, message)?,
        HeadMove::Advance => {
            advance_head(repo, lock, head, options.target, who, message)?;
        }
    }
    Ok(())
}

/// A directory that only the target has (lazy mode): one not-fetched entry when none of
/// its bytes are local, else its files one by one.
fn plan_added_dir(
    ws: &Workspace,
    objects: &dyn ObjectSource,
    path: &RepoPath,
    item: &Item,
    actions: &mut Vec<Action>,
    conflicts: &mut Vec<RepoPath>,
    force: bool,
) -> Result<(), Error> {
    let tree = item.id.expect("stored items have ids");
    let files = diff::files_under(objects.store(), tree, &RepoPath::root())?;
    // Asked of all at once: in a fresh clone none is local, so every file is asked.
    let ids: Vec<ObjectId> = files.iter().filter_map(|(_, i)| i.id).collect();
    let any_local = objects.missing(&ids).len() < ids.len();
    // A tracked file the checkout already removes (it was planned first) is not in the
    // way of the directory that replaces it.
    let removed = actions
        .iter()
        .any(|a| matches!(a, Action::Update { path: p, item: None, .. } if p == path));
    let in_the_way =
        !removed && real_dirs::lstat(ws.root(), path).is_ok_and(|o| o.kind != FileKind::Dir);
    if in_the_way && !force {
        conflicts.push(path.clone());
        return Ok(());
    }
    if !any_local && !in_the_way {
        actions.push(Action::Collapse(path.clone(), item.clone()));
        return Ok(());
    }
    for (rel, file) in files {
        let full = path.join_path(&rel);
        // Nothing is tracked here yet: an untracked file in the way must equal the target.
        match untracked_matches(ws, &full, Some(&file))? {
            Some(true) => actions.push(Action::Adopt(full, Some(file))),
            Some(false) if !force => conflicts.push(full),
            _ => actions.push(Action::update(full, Some(file), objects)),
        }
    }
    Ok(())
}

/// For a path the index does not track: `None` if nothing is there, else whether what
/// is there equals `target`.
fn untracked_matches(
    ws: &Workspace,
    path: &RepoPath,
    target: Option<&Item>,
) -> Result<Option<bool>, Error> {
    let abs = path.to_fs_path(ws.root());
    let observed = match real_dirs::lstat(ws.root(), path) {
        Ok(o) if o.kind != FileKind::Dir => o,
        _ => return Ok(None),
    };
    let Some(t) = target else {
        return Ok(Some(false));
    };
    if observed.kind == FileKind::Other {
        // A fifo or socket is never the target's content (and must not be read).
        return Ok(Some(false));
    }
    if observed.kind == FileKind::Symlink && links_to_target(ws, path, t) {
        return Ok(Some(true));
    }
    let (id, _) = hash_path(&abs, observed.kind).map_err(read_err(&abs))?;
    let kind = if observed.kind == FileKind::Symlink {
        EntryKind::Symlink
    } else {
        EntryKind::File
    };
    Ok(Some(Some(id) == t.id && kind == t.kind))
}

/// Whether `path` is a symlink to the stored object of `target`, a file: what checkout
/// writes in symlink mode.
fn links_to_target(ws: &Workspace, path: &RepoPath, target: &Item) -> bool {
    target.kind == EntryKind::File
        && real_dirs::lstat(ws.root(), path).is_ok_and(|o| o.kind == FileKind::Symlink)
        && target
            .id
            .is_some_and(|id| links_to_object(&path.to_fs_path(ws.root()), ws.repo().store(), &id))
}

/// Decide what to do at a file-level path; `None` means a conflict. With `force` the
/// path always takes the target (there is no conflict, and nothing is carried over).
#[allow(clippy::too_many_arguments)]
fn plan_path(
    ws: &Workspace,
    index: &Index,
    objects: &dyn ObjectSource,
    path: &RepoPath,
    old: Option<&Item>,
    new: Option<&Item>,
    head: Option<&Item>,
    force: bool,
) -> Result<Option<Action>, Error> {
    let root = ws.root();
    let store = objects.store();
    // No file is here and the target's bytes are not local: the work tree holds what it
    // can of the target (until a fetch brings the bytes). Asked only where it matters.
    let mut absent_target = false;
    let same = |a: Option<&Item>, b: Option<&Item>| match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.same_content(b),
        _ => false,
    };
    // The work tree compared with the index and with the target.
    let (w_is_i, w_is_t) = match index.get(path).filter(|e| e.kind != Kind::Tree) {
        Some(entry) => {
            let state =
                check_entry(root, index, store, entry, None).map_err(read_err_at(root, path))?;
            match state {
                FileState::Clean | FileState::Restat(_) | FileState::Fetched(_) => {
                    (true, same(old, new))
                }
                FileState::NotFetched => (true, new.is_none()),
                // A deleted file loses no bytes (the index's are in the store), so, as in
                // git, it does not stop a checkout. Absent is also what the work tree
                // holds for a target whose bytes are not local, so a checkout killed
                // after deleting the old file can go on.
                FileState::Deleted => {
                    absent_target = new.is_some_and(|n| !n.id.is_some_and(|id| objects.has(&id)));
                    (true, new.is_none() || absent_target)
                }
                FileState::Modified {
                    id,
                    kind,
                    executable,
                    ..
                } => {
                    let now = Item {
                        name: String::new(),
                        kind: kind.into(),
                        executable,
                        root: false,
                        size: 0,
                        id: Some(id),
                    };
                    (false, same(Some(&now), new))
                }
                FileState::Corrupt => (false, false),
            }
        }
        // Not in the index, or inside a directory that is not fetched.
        None => {
            let under_tree = index.tree_entry_covering(path).is_some();
            match untracked_matches(ws, path, new)? {
                None => (true, new.is_none() || under_tree && same(old, new)),
                // A file here is untracked (or, below a not-fetched directory, bytes
                // the index has not recorded): it never counts as the index's version.
                Some(matches) => (false, matches),
            }
        }
    };
    // In symlink mode, a link to the target's object is the target file.
    let w_is_t = w_is_t || new.is_some_and(|n| links_to_target(ws, path, n));
    let nothing_here = old.is_none() && real_dirs::lstat(root, path).is_err();
    let action = if w_is_t {
        match new {
            // Nothing is there, as for bytes that are not local; if a fetch brings them
            // before the checkout is applied, they are written.
            Some(n) if absent_target && real_dirs::lstat(root, path).is_err() => {
                Action::Absent(path.clone(), n.clone())
            }
            _ => Action::Adopt(path.clone(), new.cloned()),
        }
    } else if force {
        // `git checkout -f`: local changes here, staged or not, are thrown away.
        Action::update(path.clone(), new.cloned(), objects)
    } else if same(head, new) {
        Action::Carry(path.clone())
    } else if nothing_here || (w_is_i && same(old, head)) {
        // Neither the index nor the work tree has anything here: no bytes can be lost
        // (a fresh work tree, or a deletion that was staged).
        Action::update(path.clone(), new.cloned(), objects)
    } else {
        return Ok(None);
    };
    Ok(Some(action))
}

/// For a forced checkout: the index entries that already equal the target (`listed`
/// holds the paths that differ) but whose files were edited or deleted, as updates back
/// to the target. Not-fetched entries whose bytes are still absent stay as they are.
fn discarded_edits(
    ws: &Workspace,
    index: &Index,
    objects: &dyn ObjectSource,
    listed: &HashSet<&RepoPath>,
) -> Result<Vec<Action>, Error> {
    let root = ws.root();
    let store = objects.store();
    let candidates: Vec<&Entry> = index
        .iter()
        .filter(|e| e.kind != Kind::Tree && !listed.contains(&e.path))
        .collect();
    let updates: Vec<Option<Action>> = candidates
        .into_par_iter()
        .map(|entry| {
            let state = check_entry(root, index, store, entry, None)
                .map_err(read_err_at(root, &entry.path))?;
            Ok(match state {
                FileState::Modified { .. } | FileState::Deleted => Some(Action::update(
                    entry.path.clone(),
                    Some(item_of(entry)),
                    objects,
                )),
                // The file is the damaged object itself: writing the object again would
                // only hide the damage (as `checkout -- <path>` refuses too).
                FileState::Corrupt => {
                    return Err(Error::Store(crate::store::Error::Corrupt {
                        id: entry.id,
                        reason: format!(
                            "'{}' is a hard link to it and was changed in place",
                            entry.path
                        ),
                    }));
                }
                FileState::Clean
                | FileState::Restat(_)
                | FileState::Fetched(_)
                | FileState::NotFetched => None,
            })
        })
        .collect::<Result<_, Error>>()?;
    Ok(updates.into_iter().flatten().collect())
}

/// For a forced checkout after one that was cut short (towards another target): the
/// files that one had already written at paths neither the index nor the new target
/// tracks (it records its files in the index only at its end). They hold bytes that are
/// in the store, so removing them loses nothing; left alone they would look like new
/// files of the user's. A file there with other bytes is the user's and stays.
fn interrupted_leftovers(
    ws: &Workspace,
    index: &Index,
    objects: &dyn ObjectSource,
    target_tree: ObjectId,
) -> Result<Vec<Action>, Error> {
    let store = objects.store();
    let Some(interrupted) = interrupted_checkout(ws.repo()) else {
        return Ok(Vec::new());
    };
    // An unreadable commit (gc'd meanwhile) wrote nothing this checkout can recognise.
    let Ok(commit) = store.read_commit(&interrupted) else {
        return Ok(Vec::new());
    };
    let interrupted_tree = TreeSource {
        store,
        tree: Some(commit.tree),
    };
    let file_level = diff::Options::default();
    let added = |old: &dyn diff::Source| -> Result<Vec<(RepoPath, Item)>, Error> {
        Ok(diff::diff(old, &interrupted_tree, &file_level)?
            .changes
            .into_iter()
            .filter(|c| c.old.is_none())
            .filter_map(|c| c.new.map(|n| (c.path, n)))
            .collect())
    };
    let not_in_target: HashSet<RepoPath> = added(&TreeSource {
        store,
        tree: Some(target_tree),
    })?
    .into_iter()
    .map(|(path, _)| path)
    .collect();
    let mut leftovers = Vec::new();
    for (path, item) in added(&IndexSource { index, store })? {
        if not_in_target.contains(&path)
            && index.tree_entry_covering(&path).is_none()
            && untracked_matches(ws, &path, Some(&item))? == Some(true)
        {
            leftovers.push(Action::update(path, None, objects));
        }
    }
    Ok(leftovers)
}

/// A file cannot be written where a directory with other files stands, nor below a path
/// that is a file the checkout does not remove. Returns the files in the way that a
/// forced checkout removes first (untracked files where a parent directory goes).
fn check_blocking_files(
    ws: &Workspace,
    actions: &[Action],
    conflicts: &mut Vec<RepoPath>,
    force: bool,
) -> Vec<RepoPath> {
    let root = ws.root();
    let removed: HashSet<&RepoPath> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Update {
                path, item: None, ..
            } => Some(path),
            Action::Update {
                path,
                item: Some(i),
                ..
            } if i.is_dir() => Some(path),
            _ => None,
        })
        .collect();
    let mut in_the_way = Vec::new();
    // Directories on the way, and whether each is a real one.
    let mut checked_dirs: HashMap<RepoPath, bool> = HashMap::new();
    for action in actions {
        let Action::Update {
            path,
            item: Some(item),
            ..
        } = action
        else {
            continue;
        };
        if item.is_dir() {
            continue;
        }
        // A directory where the file goes: everything in it must be going away.
        let abs = path.to_fs_path(root);
        if real_dirs::is_real_dir(root, path) {
            let blocked = walkdir::WalkDir::new(&abs)
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| !e.file_type().is_dir())
                .any(|e| {
                    e.path()
                        .strip_prefix(root)
                        .ok()
                        .and_then(|rel| RepoPath::from_relative(rel).ok())
                        .is_none_or(|p| !removed.contains(&p))
                });
            if blocked && !force {
                conflicts.push(path.clone());
            }
        }
        // A file or symlink where a parent directory goes. Only the highest counts: what
        // lies beyond it is not in the work tree, and is never looked at (a symlink may
        // lead out of the repository).
        for dir in path.ancestors().skip(1) {
            let real = match checked_dirs.get(&dir) {
                Some(&real) => real,
                None => {
                    let abs = dir.to_fs_path(root);
                    let real = match fs::symlink_metadata(&abs) {
                        Ok(m) if m.is_dir() => true,
                        Ok(_) if removed.contains(&dir) => false,
                        Ok(_) if force => {
                            in_the_way.push(dir.clone());
                            false
                        }
                        Ok(_) => {
                            conflicts.push(dir.clone());
                            false
                        }
                        Err(_) => false,
                    };
                    checked_dirs.insert(dir, real);
                    real
                }
            };
            if !real {
                break;
            }
        }
    }
    in_the_way
}

/// Refuse names that differ only in case when the file system cannot tell them apart.
fn check_case_collisions(ws: &Workspace, listed: &[(RepoPath, Item)]) -> Result<(), Error> {
    if !filesystem_is_case_insensitive(ws.repo()) {
        return Ok(());
    }
    let store = ws.repo().store();
    for (dir, item) in listed {
        let Some(id) = item.id else { continue };
        let tree = store.read_tree(&id)?;
        let mut seen: std::collections::HashMap<String, &str> = Default::default();
        for e in &tree.entries {
            if let Some(other) = seen.insert(e.name.to_lowercase(), &e.name) {
                return Err(Error::CaseCollision {
                    path: dir.join_unchecked(&e.name),
                    other: dir.join_unchecked(other),
                });
            }
        }
    }
    Ok(())
}

fn filesystem_is_case_insensitive(repo: &Repo) -> bool {
    let Ok(dir) = repo.temps().session() else {
        return false;
    };
    let probe = dir.join("CaseProbe");
    if atomic::write(&probe, b"").is_err() {
        return false;
    }
    let insensitive = dir.join("caseprobe").exists();
    let _ = atomic::remove_file(&probe);
    insensitive
}
