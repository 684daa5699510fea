//! `dvx status`: what differs between HEAD, the index and the work tree.
//!
//! A directory that is not fetched is one index entry, but files may appear below it (a
//! user writing a new file there, or fetching some by hand): its stored tree decides
//! what they are, as it does for `add` and `diff`. A path the tree lacks is new; a path
//! it has is either that file fetched by hand (not a change) or modified.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::checkout::interrupted_checkout;
use super::compare::{FileState, check_entry};
use super::real_dirs;
use super::walk::{DirFiles, Found, walk_dirs};
use super::{Error, Workspace, expand_to, read_err, resolve_path};
use crate::git::pin::Pin;
use crate::hash::ObjectId;
use crate::history::diff::{self, IndexSource, TreeSource};
use crate::index::{Entry, Index, Kind, Stat};
use crate::path::RepoPath;
use crate::progress::{Progress, Unit};
use crate::refs::Head;
use crate::stat::Observed;

/// How a path changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Staged: in the index, not in HEAD.
    Added,
    /// Staged (index differs from HEAD) or not (work tree differs from the index).
    Modified,
    /// Staged (removed from the index) or not (file gone from the work tree).
    Deleted,
    /// A file under a tracked directory that is not tracked yet.
    New,
    /// A hard-linked file whose object changed in place: store damage, not an edit.
    Corrupt,
}

impl ChangeKind {
    pub fn name(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Modified => "modified",
            ChangeKind::Deleted => "deleted",
            ChangeKind::New => "new",
            ChangeKind::Corrupt => "corrupt",
        }
    }
}

/// One changed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: RepoPath,
    pub kind: ChangeKind,
    /// A modified file whose executable bit changed (`chmod +x`), with or without its
    /// bytes.
    pub mode_changed: bool,
}

/// How the checked-out data relates to `dvx.lock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinState {
    /// No git integration.
    NoGit,
    /// There is no `dvx.lock` yet.
    NoPin,
    /// HEAD is the pinned commit.
    Matches,
    /// HEAD is not the pinned commit (for example after `git checkout` without hooks).
    Differs {
        pinned: ObjectId,
        head: Option<ObjectId>,
    },
    /// `dvx.lock` cannot be read.
    Unreadable(String),
}

/// The status of a work tree.
#[derive(Debug, Clone)]
pub struct Status {
    pub head: Head,
    pub head_commit: Option<ObjectId>,
    /// Index versus HEAD.
    pub staged: Vec<Change>,
    /// Work tree versus index.
    pub unstaged: Vec<Change>,
    /// Tracked paths whose bytes are not in the work tree (lazy checkout).
    pub not_fetched: Vec<RepoPath>,
    /// Tracked roots that git does not ignore (their bytes could end up in git).
    pub not_ignored: Vec<RepoPath>,
    pub pin: PinState,
    /// A checkout that was cut short, and its target.
    pub interrupted_checkout: Option<ObjectId>,
    /// Paths under tracked directories that are neither files nor directories.
    pub skipped: Vec<RepoPath>,
    /// Entries whose content is unchanged but whose stat data is stale (a writer may
    /// refresh them; status itself writes nothing).
    pub stale_stat: usize,
}

impl Status {
    pub fn is_clean(&self) -> bool {
        self.staged.is_empty() && self.unstaged.is_empty()
    }
}

/// Compute the status, limited to `paths` (relative to `cwd`) when any are given.
pub fn status(
    ws: &Workspace,
    cwd: &Path,
    paths: &[PathBuf],
    progress: &dyn Progress,
) -> Result<Status, Error> {
    let root = ws.root();
    let repo = ws.repo();
    let store = repo.store();
    let mut index = ws.load_index()?;
    let filter: Vec<RepoPath> = paths
        .iter()
        .map(|p| resolve_path(root, cwd, p))
        .collect::<Result<_, _>>()?;
    let wanted = |p: &RepoPath| filter.is_empty() || filter.iter().any(|f| p.is_within(f));

    // Walk tracked directories once: it finds new files and gives the stat of tracked
    // ones (an lstat relative to the open directory is cheaper than one by full path).
    // Starts are disjoint and sorted.
    let mut dirs: Vec<DirFiles> = Vec::new();
    let mut skipped = Vec::new();
    for start in walk_starts(&index, root, &filter) {
        let walked = walk_dirs(root, &start, ws.git().is_some())?;
        skipped.extend(walked.skipped);
        dirs.extend(walked.dirs);
    }
    let (pairs, new_files) = pair_with_walk(&index, &dirs, &wanted);
    drop(dirs);

    progress.start("checking", Some(pairs.len() as u64), Unit::Files);
    // Keep only what is not clean: at a million entries that is what fits in memory.
    let states: Vec<(&Entry, FileState)> = pairs
        .par_iter()
        .map(|(e, observed)| {
            let state = check_entry(root, &index, store, e, *observed)
                .map_err(read_err(&e.path.to_fs_path(root)))?;
            progress.advance(1);
            Ok::<_, Error>((state != FileState::Clean).then_some((*e, state)))
        })
        .filter_map(Result::transpose)
        .collect::<Result<_, _>>()?;
    drop(pairs);
    progress.finish();

    let mut unstaged = Vec::new();
    let mut not_fetched = Vec::new();
    let mut refresh = Vec::new();
    for (entry, state) in &states {
        let kind = match state {
            FileState::Clean => continue,
            FileState::Restat(stat) | FileState::Fetched(stat) => {
                refresh.push(((*entry).clone(), *stat));
                continue;
            }
            FileState::NotFetched => {
                not_fetched.push(entry.path.clone());
                continue;
            }
            FileState::Modified { .. } => ChangeKind::Modified,
            FileState::Deleted => ChangeKind::Deleted,
            FileState::Corrupt => ChangeKind::Corrupt,
        };
        unstaged.push(Change {
            path: entry.path.clone(),
            kind,
            mode_changed: mode_changed(entry, state),
        });
    }
    let stale_stat = refresh.len();
    let (below_not_fetched, new_files): (Vec<Found>, Vec<Found>) = new_files
        .into_iter()
        .partition(|f| index.tree_entry_covering(&f.path).is_some());
    unstaged.extend(new_files.into_iter().map(|f| Change {
        path: f.path,
        kind: ChangeKind::New,
        mode_changed: false,
    }));

    let head = repo.refs().read_head()?;
    let head_commit = repo.refs().head_commit()?;
    let staged = staged_changes(ws, &index, head_commit, &filter)?;
    let not_ignored = match ws.git() {
        Some(git) => index
            .roots()
            .iter()
            .filter(|r| !r.is_root() && wanted(r))
            .filter(|r| {
                !git.is_ignored(r.as_str(), r.to_fs_path(root).is_dir())
                    .unwrap_or(true)
            })
            .cloned()
            .collect(),
        None => Vec::new(),
    };
    // After the staged diff, which profits from the index's cached trees as they are.
    if !below_not_fetched.is_empty() {
        unstaged.extend(changes_below_not_fetched(
            ws,
            &mut index,
            below_not_fetched,
        )?);
    }
    unstaged.sort_by(|a, b| a.path.cmp(&b.path));
    let pin = pin_state(ws, head_commit);
    skipped.sort();
    if !refresh.is_empty() {
        refresh_stat(ws, refresh);
    }
    Ok(Status {
        head,
        head_commit,
        staged,
        unstaged,
        not_fetched,
        not_ignored,
        pin,
        interrupted_checkout: interrupted_checkout(repo),
        skipped,
        stale_stat,
    })
}

/// Pair each wanted entry with what the walk saw at its path (`None`: not seen, to be
/// looked up), and list what the walk saw that no entry claims: the new files. Entries
/// come in path order, so consecutive ones mostly share a directory, found once.
fn pair_with_walk<'a>(
    index: &'a Index,
    dirs: &[DirFiles],
    wanted: &dyn Fn(&RepoPath) -> bool,
) -> (Vec<(&'a Entry, Option<Observed>)>, Vec<Found>) {
    let by_dir: HashMap<&str, usize> = dirs
        .iter()
        .enumerate()
        .map(|(i, d)| (d.dir.as_str(), i))
        .collect();
    // Where each directory's files start in `claimed`.
    let mut offsets = Vec::with_capacity(dirs.len());
    let mut total = 0;
    for d in dirs {
        offsets.push(total);
        total += d.len();
    }
    let mut claimed = vec![false; total];
    // Within a directory, entries and files are both in name order: one cursor each.
    let mut cursors = vec![0usize; dirs.len()];
    let mut pairs = Vec::with_capacity(total);
    let mut last: Option<(&str, Option<usize>)> = None;
    for entry in index.iter().filter(|e| wanted(&e.path)) {
        let parent = entry.path.parent_str();
        let dir = match last {
            Some((p, d)) if p == parent => d,
            _ => {
                let d = by_dir.get(parent).copied();
                last = Some((parent, d));
                d
            }
        };
        let observed = dir.and_then(|d| {
            let (files, name) = (&dirs[d], entry.path.file_name());
            let cursor = &mut cursors[d];
            while *cursor < files.len() && files.name(*cursor) < name {
                *cursor += 1;
            }
            let i = Some(*cursor).filter(|&i| i < files.len() && files.name(i) == name)?;
            claimed[offsets[d] + i] = true;
            Some(files.observed(i))
        });
        pairs.push((entry, observed));
    }
    let mut new_files = Vec::new();
    for (d, dir) in dirs.iter().enumerate() {
        for i in 0..dir.len() {
            if !claimed[offsets[d] + i] {
                new_files.push(dir.found(i));
            }
        }
    }
    (pairs, new_files)
}

/// The changes among files found below not-fetched directory entries. Those entries are
/// expanded in this in-memory index only (status writes nothing), as `add` and `diff`
/// expand them: a file the stored tree does not have is new, one it has is compared with
/// it.
fn changes_below_not_fetched(
    ws: &Workspace,
    index: &mut Index,
    found: Vec<Found>,
) -> Result<Vec<Change>, Error> {
    let root = ws.root();
    let store = ws.repo().store();
    for f in &found {
        expand_to(index, store, &f.path)?;
    }
    let index = &*index;
    found
        .into_par_iter()
        .filter_map(|f| {
            let Some(entry) = index.get(&f.path) else {
                return Some(Ok(Change {
                    path: f.path,
                    kind: ChangeKind::New,
                    mode_changed: false,
                }));
            };
            match check_entry(root, index, store, entry, Some(f.observed())) {
                Ok(state) if state.is_change() => Some(Ok(Change {
                    mode_changed: mode_changed(entry, &state),
                    path: f.path,
                    kind: ChangeKind::Modified,
                })),
                // The bytes the tree records: fetched by hand.
                Ok(_) => None,
                Err(e) => Some(Err(read_err(&f.path.to_fs_path(root))(e))),
            }
        })
        .collect()
}

/// Whether a modified file's executable bit differs from its entry's. A linked file's
/// mode is the object's (read-only), not the user's.
fn mode_changed(entry: &Entry, state: &FileState) -> bool {
    match state {
        FileState::Modified {
            kind, executable, ..
        } => {
            !entry.linked
                && *kind == Kind::File
                && entry.kind == Kind::File
                && *executable != entry.executable
        }
        _ => false,
    }
}

/// Record new stat data for files whose content was unchanged, as git does, so the next
/// status need not read them again. Best effort: only when no writer holds the lock right
/// now, and only for entries no writer changed since they were read.
fn refresh_stat(ws: &Workspace, refresh: Vec<(Entry, Stat)>) {
    // The one place the library takes the lock itself: status never waits for it, and
    // only writes when nobody else is.
    let Ok(lock) = ws.repo().try_lock() else {
        return;
    };
    let Ok(mut index) = ws.load_index() else {
        return;
    };
    for (seen, stat) in refresh {
        if index.get(&seen.path) == Some(&seen) {
            let mut fresh = seen;
            fresh.stat = stat;
            fresh.not_fetched = false;
            index.refresh(fresh);
        }
    }
    let _ = ws.write_index(&lock, &mut index);
}

/// The directories to walk for new files: tracked directory roots, narrowed to the
/// filter.
fn walk_starts(index: &Index, root: &Path, filter: &[RepoPath]) -> Vec<RepoPath> {
    let mut starts = Vec::new();
    for r in index.roots() {
        // A root replaced by a symlink (or lying beyond one) has no files of its own to
        // find: its entries are checked one by one, as deleted.
        if !real_dirs::is_real_dir(root, r) {
            continue;
        }
        if filter.is_empty() {
            starts.push(r.clone());
            continue;
        }
        for f in filter {
            if f.is_within(r) {
                if real_dirs::is_real_dir(root, f) {
                    starts.push(f.clone());
                }
            } else if r.is_within(f) {
                starts.push(r.clone());
            }
        }
    }
    starts.sort();
    starts.dedup();
    // A start inside another start would be walked twice.
    let mut out: Vec<RepoPath> = Vec::new();
    for s in starts {
        if !out.iter().any(|o| s.is_within(o)) {
            out.push(s);
        }
    }
    out
}

/// Index versus HEAD, file by file.
fn staged_changes(
    ws: &Workspace,
    index: &Index,
    head: Option<ObjectId>,
    filter: &[RepoPath],
) -> Result<Vec<Change>, Error> {
    let store = ws.repo().store();
    let head_tree = match head {
        Some(id) => Some(store.read_commit(&id)?.tree),
        None => None,
    };
    let old = TreeSource {
        store,
        tree: head_tree,
    };
    let new = IndexSource { index, store };
    let options = diff::Options {
        collapse_added: false,
        filter: filter.to_vec(),
    };
    let out = diff::diff(&old, &new, &options).map_err(Error::History)?;
    Ok(out
        .changes
        .into_iter()
        // Both sides directories: only a root flag changed, not a file.
        .filter(|c| {
            !(c.old.as_ref().is_some_and(|i| i.is_dir())
                && c.new.as_ref().is_some_and(|i| i.is_dir()))
        })
        .map(|c| Change {
            kind: match (&c.old, &c.new) {
                (None, _) => ChangeKind::Added,
                (_, None) => ChangeKind::Deleted,
                _ => ChangeKind::Modified,
            },
            mode_changed: diff::mode_change(c.old.as_ref(), c.new.as_ref()).is_some(),
            path: c.path,
        })
        .collect())
}

fn pin_state(ws: &Workspace, head: Option<ObjectId>) -> PinState {
    if ws.git().is_none() {
        return PinState::NoGit;
    }
    match Pin::read(ws.root()) {
        Ok(None) => PinState::NoPin,
        Ok(Some(pin)) if Some(pin.commit) == head => PinState::Matches,
        Ok(Some(pin)) => PinState::Differs {
            pinned: pin.commit,
            head,
        },
        Err(e) => PinState::Unreadable(e.to_string()),
    }
}
