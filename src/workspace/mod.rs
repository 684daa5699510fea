//! The work tree: walking files, status, add, rm, restoring and checking out.
//!
//! Owns: turning the paths a user typed into repository paths, walking tracked
//! directories with the ignore rules, comparing files with the index, putting files into
//! the store (`add`) and back into the work tree (`checkout`, full or lazy), and setting
//! the stage from a commit without touching files (`reset`). Does not own
//! the commit graph (history) or git (git); it calls them.
//!
//! Invariants: untracked files are never modified or deleted; a file is replaced by a
//! temp file + rename, never written in place; objects are flushed before the index that
//! names them is written, and the index before any ref moves.

mod add;
mod changes;
mod checkout;
mod compare;
mod drop;
mod link_rule;
mod listing;
mod materialize;
mod on_arrival;
mod pathspec;
mod pull;
mod real_dirs;
mod reset;
mod resolve;
mod restore;
mod rm;
mod snapshot;
mod status;
mod status_cache;
mod tracked;
mod walk;

use std::path::{Path, PathBuf};

pub use add::{AddReport, add};
pub use changes::{Side, changes, content};
pub use checkout::{
    CheckoutMode, CheckoutOptions, CheckoutPlan, CheckoutReport, HeadMove, apply_checkout,
    checkout, interrupted_checkout, interrupted_checkout_in, plan_checkout,
    settle_finished_checkout, switch,
};
pub use compare::{FileState, check_entry, hash_path, symlink_target_bytes};
pub use drop::{DropPlan, Dropped, apply_drop, plan_drop, still_needed};
pub use materialize::Materializer;
pub use pathspec::Pathspec;
pub use pull::{PullReport, pull, pull_files, select};
pub use reset::{ResetReport, reset};
pub use resolve::resolve_path;
pub use restore::{RestoreReport, restore, restore_from};
pub use rm::{RmReport, rm};
pub use snapshot::worktree_index;
pub use status::{
    Change, ChangeKind, ChangeSource, PinState, Status, WatchAnswer, WatchUse, status, status_with,
    watch_roots,
};
pub use tracked::{TrackedFile, absent_files, commit_files, tracked_files, tracked_item};
pub use walk::{DirFiles, DirWalk, Found, Walk, never_tracked, walk, walk_dirs};

use crate::git::{self, GitRepo};
use crate::hash::ObjectId;
use crate::history;
use crate::index::{self, Index};
use crate::path::RepoPath;
use crate::repo::{self, Repo, RepoLock};
use crate::store;

/// What went wrong in a work-tree operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("'{}' does not exist", path.display())]
    NoSuchPath { path: PathBuf },
    #[error("'{}' is outside the repository at {}", path.display(), root.display())]
    OutsideRepo { path: PathBuf, root: PathBuf },
    #[error("'{}' is inside {inside}, which dvx never tracks", path.display())]
    Reserved { path: PathBuf, inside: &'static str },
    #[error("'{}' is {why}; dvx never tracks it", path.display())]
    NeverTracked { path: PathBuf, why: &'static str },
    #[error(
        "'{}' is the top of the git work tree: git cannot ignore it, so the data would end up in git beside the code",
        path.display()
    )]
    GitTopLevel { path: PathBuf },
    #[error("'{path}' is tracked by git ({examples}); dvx refuses to take it over")]
    TrackedByGit { path: RepoPath, examples: String },
    #[error("'{path}' cannot be tracked: {why}")]
    BadName { path: String, why: String },
    #[error("'{path}' is a symbolic link to '{target}', {why}")]
    OutsideSymlink {
        path: RepoPath,
        target: String,
        why: &'static str,
    },
    #[error("'{path}' is beyond a symbolic link ('{link}')")]
    BeyondSymlink { path: RepoPath, link: RepoPath },
    #[error("'{path}' did not match any tracked path")]
    NotTracked { path: RepoPath },
    #[error("'{path}' is neither in the stage nor in {rev}")]
    NotStagedOrCommitted { path: RepoPath, rev: String },
    #[error("'{path}' has no files to track")]
    NothingToTrack { path: RepoPath },
    #[error("'{path}' has local changes")]
    LocalChanges { path: RepoPath },
    #[error("'{path}' has changes staged in the index that HEAD's commit does not hold")]
    StagedNotCommitted { path: RepoPath },
    #[error("'{path}' has staged content different from both the file and HEAD's commit")]
    StagedDiffersFromFileAndHead { path: RepoPath },
    #[error("checkout would overwrite local changes in {count} path(s): {list}")]
    WouldOverwrite {
        count: usize,
        list: String,
        paths: Vec<RepoPath>,
    },
    #[error("{count} file(s) with other bytes stand where not-fetched files go: {list}")]
    InTheWay {
        count: usize,
        list: String,
        paths: Vec<RepoPath>,
    },
    #[error("{count} file(s) have changes that are not staged: {list}")]
    ChangesNotStaged { count: usize, list: String },
    #[error("'{spec}' did not match any tracked path")]
    NoMatch { spec: String },
    #[error("'{path}' needs object {id}, which is not in the local store")]
    MissingObject { path: RepoPath, id: ObjectId },
    #[error("'{path}' would collide with '{other}' on a case-insensitive file system")]
    CaseCollision { path: RepoPath, other: RepoPath },
    #[error("'{path}' cannot be written: {why}")]
    Unsafe { path: RepoPath, why: String },
    /// The stored bytes for `path` do not match their id; nothing was written there.
    #[error("'{path}' was not written")]
    NotWritten {
        path: RepoPath,
        #[source]
        source: store::Error,
    },
    #[error("cannot read '{}'", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write '{}'", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Repo(#[from] repo::Error),
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error(transparent)]
    Refs(#[from] crate::refs::Error),
    #[error(transparent)]
    Index(#[from] index::Error),
    #[error(transparent)]
    Git(#[from] git::Error),
    #[error(transparent)]
    Pin(#[from] git::pin::Error),
    #[error(transparent)]
    History(#[from] history::Error),
}

fn read_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Read {
        path: path.to_path_buf(),
        source,
    }
}

/// [`read_err`] for a tracked path, whose file-system path is made only on failure: a
/// million-file status must not allocate one per file just in case.
fn read_err_at<'a>(
    root: &'a Path,
    path: &'a RepoPath,
) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Read {
        path: path.to_fs_path(root),
        source,
    }
}

fn write_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Write {
        path: path.to_path_buf(),
        source,
    }
}

/// An open repository and, when it lives in one, its git work tree.
#[derive(Debug)]
pub struct Workspace {
    repo: Repo,
    git: Option<GitRepo>,
}

/// Where a repository would be created for `dvx init` run in `start`: the git top level
/// when inside a git work tree (unless `no_git`), else `start` itself.
pub fn init_root(start: &Path, no_git: bool) -> PathBuf {
    if !no_git && let Some(git) = git::discover(start) {
        return git.work_tree().to_path_buf();
    }
    start.to_path_buf()
}

impl Workspace {
    /// Open the repository containing `start`. In a linked git worktree the objects and
    /// refs of the main work tree are shared.
    pub fn open(start: &Path) -> Result<Workspace, Error> {
        let start = std::fs::canonicalize(start).map_err(read_err(start))?;
        let root = repo::find_root(&start).ok_or_else(|| repo::Error::NotARepo {
            start: start.clone(),
        })?;
        let mut git = git::discover(&root).filter(|g| g.work_tree() == root);
        let common = git
            .as_ref()
            .and_then(GitRepo::main_work_tree)
            .map(|main| main.join(repo::DVX_DIR))
            .filter(|dir| dir.join(repo::CONFIG_FILE).is_file());
        let repo = Repo::open(&root, common.as_deref())?;
        if !repo.config().core.git {
            git = None;
        }
        Ok(Workspace { repo, git })
    }

    pub fn repo(&self) -> &Repo {
        &self.repo
    }

    pub fn repo_mut(&mut self) -> &mut Repo {
        &mut self.repo
    }

    pub fn git(&self) -> Option<&GitRepo> {
        self.git.as_ref()
    }

    pub fn root(&self) -> &Path {
        self.repo.root()
    }

    /// Load this work tree's index.
    pub fn load_index(&self) -> Result<Index, Error> {
        Ok(Index::load(self.repo.local_dir())?)
    }

    /// Write the index, durably when the repository flushes, under the repository lock.
    pub fn write_index(&self, lock: &RepoLock, index: &mut Index) -> Result<(), Error> {
        debug_assert!(lock.guards(&self.repo), "the lock of another work tree");
        Ok(index.write(lock.temps(), self.repo.config().core.fsync)?)
    }
}

/// Whether `arg` (typed relative to `cwd`) names a tracked path: an index entry, a
/// directory with entries below it, or a path inside a directory that is not fetched.
/// (`dvx checkout <path>` restores it, as git allows, when it is no revision.)
pub fn is_tracked_path(ws: &Workspace, cwd: &Path, arg: &Path) -> bool {
    let Ok(path) = resolve_path(ws.root(), cwd, arg) else {
        return false;
    };
    ws.load_index()
        .map(|index| index.has_under(&path) || index.tree_entry_covering(&path).is_some())
        .unwrap_or(false)
}

/// Replace an unexpanded tree entry at `dir` by its children (files not fetched,
/// subdirectories as further tree entries), so a path below it can be changed.
pub fn expand_tree_entry(
    index: &mut Index,
    store: &store::Store,
    dir: &RepoPath,
) -> Result<(), Error> {
    let Some(entry) = index
        .get(dir)
        .filter(|e| e.kind == index::Kind::Tree)
        .cloned()
    else {
        return Ok(());
    };
    let tree = store.read_tree(&entry.id)?;
    index.remove(dir);
    for child in &tree.entries {
        let path = dir.join_unchecked(&child.name);
        if child.root {
            index.add_root(path.clone());
        }
        index.upsert(index::Entry::not_fetched(
            path,
            child.kind.into(),
            child.executable,
            child.id,
            child.size,
        ));
    }
    index.cache_tree(
        dir.clone(),
        index::CachedTree {
            id: entry.id,
            size: entry.size,
        },
    );
    Ok(())
}

/// Expand every tree entry on the way down to `path`, so `path` itself is an ordinary
/// entry (or absent).
pub fn expand_to(index: &mut Index, store: &store::Store, path: &RepoPath) -> Result<(), Error> {
    while let Some(cover) = index.tree_entry_covering(path).map(|e| e.path.clone()) {
        if cover == *path {
            break;
        }
        expand_tree_entry(index, store, &cover)?;
    }
    Ok(())
}
