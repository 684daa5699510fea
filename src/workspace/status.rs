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
use super::status_cache::{self, Cache};
use super::walk::{DirFiles, Found, Reach, walk_dirs};
use super::{Error, Workspace, expand_to, read_err, read_err_at, resolve_path};
use crate::git::pin::Pin;
use crate::hash::ObjectId;
use crate::history::diff::{self, IndexSource, TreeSource};
use crate::index::{self, Entry, Index, Kind, Stat};
use crate::path::RepoPath;
use crate::progress::{Progress, Unit};
use crate::refs::Head;
use crate::stat::{FileKind, Observed};

/// How a path changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// With `core.fsmonitor`: whether the file watcher narrowed what was looked at.
    pub fsmonitor: Option<WatchUse>,
}

impl Status {
    pub fn is_clean(&self) -> bool {
        self.staged.is_empty() && self.unstaged.is_empty()
    }
}

/// Where a status learns what changed since the last one: the file watcher of
/// `core.fsmonitor` (the CLI asks it, and starts it when needed).
pub trait ChangeSource {
    /// What may have changed below `roots` since `since` (a token from an earlier answer).
    fn changes(&self, since: Option<&str>, roots: &[RepoPath]) -> WatchAnswer;
}

/// A watcher's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchAnswer {
    /// These paths (files or directories) may have changed; nothing else did. `token`
    /// names this answer's "now".
    Paths { token: String, paths: Vec<RepoPath> },
    /// Everything must be looked at, and why. `token` names "now" when the watcher
    /// answered (a result computed after it can be remembered), `None` when it could
    /// not be asked.
    Full { token: Option<String>, why: String },
}

/// Whether a status used the file watcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchUse {
    /// Only the paths the watcher named were looked at.
    pub used: bool,
    /// Why every file was looked at instead.
    pub why_not: Option<String>,
    /// How many paths the watcher named.
    pub changed_paths: usize,
}

/// Compute the status, limited to `paths` (relative to `cwd`) when any are given.
pub fn status(
    ws: &Workspace,
    cwd: &Path,
    paths: &[PathBuf],
    progress: &dyn Progress,
) -> Result<Status, Error> {
    status_with(ws, cwd, paths, progress, None)
}

/// [`status`], asking `watcher` (when given) what changed since the last watcher-assisted
/// status, and looking only there when it can tell. A status narrowed to paths always
/// looks at them all.
pub fn status_with(
    ws: &Workspace,
    cwd: &Path,
    paths: &[PathBuf],
    progress: &dyn Progress,
    watcher: Option<&dyn ChangeSource>,
) -> Result<Status, Error> {
    let root = ws.root();
    let filter: Vec<RepoPath> = paths
        .iter()
        .map(|p| resolve_path(root, cwd, p))
        .collect::<Result<_, _>>()?;
    let Some(watcher) = watcher else {
        return scan(ws, &filter, progress, Watch::Off);
    };
    if !filter.is_empty() {
        let why = "the status was narrowed to paths".to_string();
        return scan(ws, &filter, progress, Watch::Skipped(why));
    }
    let dvx_dir = ws.repo().local_dir();
    let stamp = index::stamp(dvx_dir)?;
    let head_commit = ws.repo().refs().head_commit()?;
    let cache = status_cache::load(dvx_dir);
    let why = match &cache {
        None => "no earlier watcher-assisted status".to_string(),
        Some(c) if c.index != stamp => "the index changed".to_string(),
        Some(c) if c.head != head_commit => "HEAD moved".to_string(),
        Some(c) if c.git != ws.git().is_some() => "git integration changed".to_string(),
        Some(_) => String::new(),
    };
    let Some(cache) = cache.filter(|_| why.is_empty()) else {
        return scan(ws, &filter, progress, Watch::Ask(watcher, why));
    };
    match watcher.changes(Some(&cache.token), &cache.roots) {
        WatchAnswer::Paths { token, paths } => watched(ws, cache, token, paths, progress),
        WatchAnswer::Full { token, why } => scan(ws, &filter, progress, Watch::Have(token, why)),
    }
}

/// The paths a file watcher should watch for `status`: the index's roots.
pub fn watch_roots(ws: &Workspace) -> Result<Vec<RepoPath>, Error> {
    Ok(ws.load_index()?.roots().to_vec())
}

/// What a full scan does with the watcher.
enum Watch<'a> {
    /// No watcher.
    Off,
    /// A watcher, not used for this status (and not asked), with the reason.
    Skipped(String),
    /// Ask it for a token before looking (the reason no earlier result could be used).
    Ask(&'a dyn ChangeSource, String),
    /// It was asked already: its token, if it answered, and why it could not help.
    Have(Option<String>, String),
}

/// Look at every tracked file (narrowed to `filter`); with a watcher, remember the
/// result for the next status.
fn scan(
    ws: &Workspace,
    filter: &[RepoPath],
    progress: &dyn Progress,
    watch: Watch<'_>,
) -> Result<Status, Error> {
    let root = ws.root();
    let repo = ws.repo();
    let dvx_dir = repo.local_dir();
    let stamp = index::stamp(dvx_dir)?;
    let mut index = ws.load_index()?;
    let (token, why_not) = match watch {
        Watch::Off => (None, None),
        Watch::Skipped(why) => (None, Some(why)),
        Watch::Have(token, why) => (token, Some(why)),
        Watch::Ask(watcher, why) => match watcher.changes(None, index.roots()) {
            // Asked without a token, it must say "scan": only a failure to answer is news.
            WatchAnswer::Full {
                token: Some(token), ..
            } => (Some(token), Some(why)),
            WatchAnswer::Full {
                token: None,
                why: said,
            } => (None, Some(format!("{why}; {said}"))),
            WatchAnswer::Paths { token, .. } => (Some(token), Some(why)),
        },
    };
    let watch_use = why_not.map(|why| WatchUse {
        used: false,
        why_not: Some(why),
        changed_paths: 0,
    });
    // The result can be remembered only for the index it was computed against.
    let rememberable = token.is_some() && index::stamp(dvx_dir)? == stamp;
    let wanted = |p: &RepoPath| filter.is_empty() || filter.iter().any(|f| p.is_within(f));

    // Walk tracked directories once: it finds new files and gives the stat of tracked
    // ones (an lstat relative to the open directory is cheaper than one by full path).
    // Starts are disjoint and sorted.
    let mut dirs: Vec<DirFiles> = Vec::new();
    let mut skipped = Vec::new();
    for start in walk_starts(&index, root, filter) {
        let walked = walk_dirs(root, &start, ws.git().is_some())?;
        skipped.extend(walked.skipped);
        dirs.extend(walked.dirs);
    }
    let (pairs, new_files) = pair_with_walk(&index, &dirs, &wanted);
    drop(dirs);
    let judged = judge(ws, &index, pairs, new_files, progress)?;

    let head = repo.refs().read_head()?;
    let head_commit = repo.refs().head_commit()?;
    let staged = staged_changes(ws, &index, head_commit, filter)?;
    let not_ignored = not_ignored(ws, index.roots(), &wanted);
    let Judged {
        mut unstaged,
        not_fetched,
        refresh,
        below_not_fetched,
    } = judged;
    // After the staged diff, which profits from the index's cached trees as they are.
    if !below_not_fetched.is_empty() {
        unstaged.extend(changes_below_not_fetched(
            ws,
            &mut index,
            below_not_fetched,
        )?);
    }
    unstaged.sort_by(|a, b| a.path.cmp(&b.path));
    skipped.sort();
    let stale_stat = refresh.len();
    let wrote = !refresh.is_empty() && refresh_stat(ws, refresh);
    let status = Status {
        pin: pin_state(ws, head_commit),
        interrupted_checkout: interrupted_checkout(repo),
        head,
        head_commit,
        staged,
        unstaged,
        not_fetched,
        not_ignored,
        skipped,
        stale_stat,
        fsmonitor: watch_use,
    };
    if let Some(token) = token.filter(|_| rememberable && !wrote) {
        remember(ws, &status, token, stamp, index.roots().to_vec());
    }
    Ok(status)
}

/// Best effort: save what this status found for the next one (a cache; a failure only
/// costs the next status a full scan).
fn remember(
    ws: &Workspace,
    status: &Status,
    token: String,
    stamp: index::Stamp,
    roots: Vec<RepoPath>,
) {
    let cache = Cache {
        token,
        index: stamp,
        head: status.head_commit,
        git: ws.git().is_some(),
        roots,
        staged: status.staged.clone(),
        unstaged: status.unstaged.clone(),
        not_fetched: status.not_fetched.clone(),
        skipped: status.skipped.clone(),
    };
    let _ = status_cache::save(ws.repo().temps(), ws.repo().local_dir(), &cache);
}

/// The status from the last one's result and a fresh look at only the paths the watcher
/// named since then.
fn watched(
    ws: &Workspace,
    cache: Cache,
    token: String,
    changed: Vec<RepoPath>,
    progress: &dyn Progress,
) -> Result<Status, Error> {
    let repo = ws.repo();
    let root = ws.root();
    // Minimal: a path inside another named path is covered by it.
    let mut changed: Vec<RepoPath> = changed
        .into_iter()
        .filter(|p| cache.roots.iter().any(|r| p.is_within(r) || r.is_within(p)))
        .collect();
    changed.sort();
    let mut candidates: Vec<RepoPath> = Vec::new();
    for p in changed {
        if !candidates.last().is_some_and(|last| p.is_within(last)) {
            candidates.push(p);
        }
    }
    let watch_use = Some(WatchUse {
        used: true,
        why_not: None,
        changed_paths: candidates.len(),
    });
    let head = repo.refs().read_head()?;
    let head_commit = repo.refs().head_commit()?;
    let wanted = |_: &RepoPath| true;
    if candidates.is_empty() {
        let status = Status {
            pin: pin_state(ws, head_commit),
            interrupted_checkout: interrupted_checkout(repo),
            not_ignored: not_ignored(ws, &cache.roots, &wanted),
            head,
            head_commit,
            staged: cache.staged.clone(),
            unstaged: cache.unstaged.clone(),
            not_fetched: cache.not_fetched.clone(),
            skipped: cache.skipped.clone(),
            stale_stat: 0,
            fsmonitor: watch_use,
        };
        if token != cache.token {
            remember(ws, &status, token, cache.index, cache.roots);
        }
        return Ok(status);
    }

    let dvx_dir = repo.local_dir();
    let mut index = ws.load_index()?;
    if index::stamp(dvx_dir)? != cache.index {
        let why = "the index changed".to_string();
        return scan(ws, &[], progress, Watch::Have(Some(token), why));
    }
    let use_gitignore = ws.git().is_some();
    let affected = |p: &RepoPath| candidates.iter().any(|c| p.is_within(c));
    let mut pairs: Vec<(&Entry, Option<Observed>)> = Vec::new();
    let mut new_files: Vec<Found> = Vec::new();
    let mut skipped: Vec<RepoPath> = Vec::new();
    let mut reach = Reach::new(root, use_gitignore);
    // A candidate above a root (the root replaced) means that root is looked at whole.
    if candidates
        .iter()
        .any(|c| !cache.roots.iter().any(|r| c.is_within(r)))
    {
        let why = "a tracked root was replaced".to_string();
        return scan(ws, &[], progress, Watch::Have(Some(token), why));
    }
    for c in &candidates {
        pairs.extend(index.iter_under(c).map(|e| (e, None)));
        let Some(start) = cache.roots.iter().find(|r| c.is_within(r)) else {
            continue;
        };
        if !reach.reaches(start, c)? {
            continue;
        }
        match real_dirs::lstat(root, c) {
            Ok(o) if o.kind == FileKind::Dir => {
                let walked = walk_dirs(root, c, use_gitignore)?;
                skipped.extend(walked.skipped);
                for d in &walked.dirs {
                    for i in 0..d.len() {
                        let f = d.found(i);
                        if index.get(&f.path).is_none() {
                            new_files.push(f);
                        }
                    }
                }
            }
            Ok(o) if matches!(o.kind, FileKind::File | FileKind::Symlink) => {
                if index.get(c).is_none() {
                    new_files.push(Found {
                        path: c.clone(),
                        kind: o.kind,
                        stat: o.stat,
                    });
                }
            }
            Ok(_) => skipped.push(c.clone()),
            Err(_) => {}
        }
    }
    let judged = judge(ws, &index, pairs, new_files, progress)?;
    let Judged {
        unstaged: fresh,
        not_fetched: fresh_not_fetched,
        refresh,
        below_not_fetched,
    } = judged;
    let mut unstaged: Vec<Change> = cache
        .unstaged
        .iter()
        .filter(|c| !affected(&c.path))
        .cloned()
        .chain(fresh)
        .collect();
    if !below_not_fetched.is_empty() {
        unstaged.extend(changes_below_not_fetched(
            ws,
            &mut index,
            below_not_fetched,
        )?);
    }
    unstaged.sort_by(|a, b| a.path.cmp(&b.path));
    let mut not_fetched: Vec<RepoPath> = cache
        .not_fetched
        .iter()
        .filter(|p| !affected(p))
        .cloned()
        .chain(fresh_not_fetched)
        .collect();
    not_fetched.sort();
    skipped.extend(cache.skipped.iter().filter(|p| !affected(p)).cloned());
    skipped.sort();
    skipped.dedup();
    let stale_stat = refresh.len();
    let wrote = !refresh.is_empty() && refresh_stat(ws, refresh);
    let status = Status {
        pin: pin_state(ws, head_commit),
        interrupted_checkout: interrupted_checkout(repo),
        not_ignored: not_ignored(ws, &cache.roots, &wanted),
        head,
        head_commit,
        staged: cache.staged.clone(),
        unstaged,
        not_fetched,
        skipped,
        stale_stat,
        fsmonitor: watch_use,
    };
    if !wrote {
        remember(ws, &status, token, cache.index, cache.roots);
    } else {
        status_cache::clear(dvx_dir);
    }
    Ok(status)
}

/// What checking entries and new files found.
struct Judged {
    unstaged: Vec<Change>,
    not_fetched: Vec<RepoPath>,
    /// Entries whose content is unchanged but whose stat data is stale.
    refresh: Vec<(Entry, Stat)>,
    /// New-looking files below not-fetched directories: their stored trees decide.
    below_not_fetched: Vec<Found>,
}

/// Check each entry against what was seen at its path (in parallel), and sort the new
/// files from those below not-fetched directories.
fn judge(
    ws: &Workspace,
    index: &Index,
    pairs: Vec<(&Entry, Option<Observed>)>,
    new_files: Vec<Found>,
    progress: &dyn Progress,
) -> Result<Judged, Error> {
    let root = ws.root();
    let store = ws.repo().store();
    progress.start("checking", Some(pairs.len() as u64), Unit::Files);
    // Keep only what is not clean: at a million entries that is what fits in memory.
    let states: Vec<(&Entry, FileState)> = pairs
        .par_iter()
        .map(|(e, observed)| {
            let state = check_entry(root, index, store, e, *observed)
                .map_err(read_err_at(root, &e.path))?;
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
    let (below_not_fetched, new_files): (Vec<Found>, Vec<Found>) = new_files
        .into_iter()
        .partition(|f| index.tree_entry_covering(&f.path).is_some());
    unstaged.extend(new_files.into_iter().map(|f| Change {
        path: f.path,
        kind: ChangeKind::New,
        mode_changed: false,
    }));
    Ok(Judged {
        unstaged,
        not_fetched,
        refresh,
        below_not_fetched,
    })
}

/// Tracked roots (among the wanted ones) that git does not ignore.
fn not_ignored(
    ws: &Workspace,
    roots: &[RepoPath],
    wanted: &dyn Fn(&RepoPath) -> bool,
) -> Vec<RepoPath> {
    let root = ws.root();
    match ws.git() {
        Some(git) => roots
            .iter()
            .filter(|r| !r.is_root() && wanted(r))
            .filter(|r| {
                !git.is_ignored(r.as_str(), r.to_fs_path(root).is_dir())
                    .unwrap_or(true)
            })
            .cloned()
            .collect(),
        None => Vec::new(),
    }
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
/// Returns whether the index was (or may have been) written.
fn refresh_stat(ws: &Workspace, refresh: Vec<(Entry, Stat)>) -> bool {
    // The one place the library takes the lock itself: status never waits for it, and
    // only writes when nobody else is.
    let Ok(lock) = ws.repo().try_lock() else {
        return false;
    };
    let Ok(mut index) = ws.load_index() else {
        return false;
    };
    for (seen, stat) in refresh {
        if index.get(&seen.path) == Some(&seen) {
            let mut fresh = seen;
            fresh.stat = stat;
            fresh.not_fetched = false;
            index.refresh(fresh);
        }
    }
    let changed = index.is_changed();
    let _ = ws.write_index(&lock, &mut index);
    changed
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
