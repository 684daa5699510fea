//! Finding, creating and opening a dvx repository.
//!
//! Owns: the `.dvx/` layout, the repository format check, the merged configuration, the
//! local state a fresh `git clone` lacks, the registry of linked work trees (and so which
//! work tree has a branch checked out), and the repository lock. Does not own anything
//! git-specific (finding the git top level or a linked worktree's main tree is `git`'s
//! job; it passes the result in).
//!
//! Invariants: a repository whose `format` (tracked) or local-state format is newer than
//! this build is refused before anything is read or written. A `.dvx/` without local
//! state is a fresh clone, not an error: opening it creates that state.

pub mod config;
pub mod config_file;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::atomic::{self, Lock, LockError, TempArea};
use crate::hash::ObjectId;
use crate::object::Signature;
use crate::refs::{Expected, Head, Refs};
use crate::store::Store;

pub use config::{Config, LinkKind};
pub use config_file::ConfigFile;

/// Name of the repository directory.
pub const DVX_DIR: &str = ".dvx";
/// The tracked configuration file inside `.dvx/`.
pub const CONFIG_FILE: &str = "config.toml";
/// Local overrides, never committed.
pub const LOCAL_CONFIG_FILE: &str = "config.local.toml";
/// Local-state format marker.
const STATE_FILE: &str = "state.toml";
/// The local-state format this build reads and writes.
const STATE_FORMAT: u32 = 1;
/// The branch a new repository starts on.
pub const DEFAULT_BRANCH: &str = "main";

/// What `.dvx/.gitignore` says: everything in `.dvx/` is local except the tracked files.
const DVX_GITIGNORE: &str = "# dvx: everything in .dvx/ is local except these tracked files\n\
/*\n\
!/.gitignore\n\
!/config.toml\n";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not inside a dvx repository (searched from {} upwards)", start.display())]
    NotARepo { start: PathBuf },
    #[error("{} has format {found}, but this dvx reads format {supported}", path.display())]
    NewerFormat {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("{} is invalid: {message}", path.display())]
    Config { path: PathBuf, message: String },
    #[error("cannot {} branch '{branch}': it is checked out at {}", change.verb(), worktree.display())]
    BranchCheckedOut {
        branch: String,
        change: BranchChange,
        worktree: PathBuf,
    },
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Refs(#[from] crate::refs::Error),
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// What a command would do to a branch (for the error when another work tree has it
/// checked out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BranchChange {
    Create,
    Move,
    Delete,
    Rename,
    CheckOut,
}

impl BranchChange {
    pub fn verb(self) -> &'static str {
        match self {
            BranchChange::Create => "create",
            BranchChange::Move => "move",
            BranchChange::Delete => "delete",
            BranchChange::Rename => "rename",
            BranchChange::CheckOut => "check out",
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The nearest directory at or above `start` that holds `.dvx/config.toml`.
pub fn find_root(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| dir.join(DVX_DIR).join(CONFIG_FILE).is_file())
        .map(Path::to_path_buf)
}

/// What `init` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitOutcome {
    /// A new repository.
    Created,
    /// `.dvx/config.toml` was there (a fresh clone) and only local state was created.
    LocalStateCreated,
    /// Everything was already there; nothing changed.
    AlreadyExists,
}

/// Create a repository at `root` (which must exist), or the local state of a cloned one.
pub fn init(root: &Path, git: bool) -> Result<InitOutcome, Error> {
    let dvx = root.join(DVX_DIR);
    let config = dvx.join(CONFIG_FILE);
    let outcome = if config.is_file() {
        read_config(&dvx)?;
        if has_local_state(&dvx) {
            return Ok(InitOutcome::AlreadyExists);
        }
        InitOutcome::LocalStateCreated
    } else {
        atomic::create_dir_all(&dvx).map_err(io_err(&dvx))?;
        let gitignore = dvx.join(".gitignore");
        if !gitignore.exists() {
            atomic::write(&gitignore, DVX_GITIGNORE.as_bytes()).map_err(io_err(&gitignore))?;
        }
        // The config goes last: its presence is what makes this a repository.
        atomic::write_durable(&config, config::initial_text(git).as_bytes())
            .map_err(io_err(&config))?;
        InitOutcome::Created
    };
    create_local_state(&dvx, &dvx)?;
    Ok(outcome)
}

fn has_local_state(local: &Path) -> bool {
    local.join(STATE_FILE).is_file() && local.join("HEAD").is_file()
}

/// Create whatever local state is missing. Safe to run concurrently and repeatedly: every
/// step is create-if-absent.
fn create_local_state(local: &Path, common: &Path) -> Result<(), Error> {
    for dir in ["objects", "tmp", "refs/heads", "refs/tags", "logs"] {
        let d = common.join(dir);
        atomic::create_dir_all(&d).map_err(io_err(&d))?;
    }
    for dvx in [common, local] {
        let branch = if dvx == local && local != common {
            worktree_branch(local)
        } else {
            DEFAULT_BRANCH.to_owned()
        };
        Refs::new(common.to_path_buf(), dvx.to_path_buf()).init_head(&branch)?;
        let state = dvx.join(STATE_FILE);
        TempArea::new(common.join("tmp"))
            .write_new(
                &state,
                format!("# dvx local state\nformat = {STATE_FORMAT}\n").as_bytes(),
            )
            .map_err(io_err(&state))?;
        if dvx == local {
            break;
        }
    }
    Ok(())
}

/// A linked work tree starts on a branch of its own that does not exist yet, so its
/// first commit cannot move a branch another work tree has checked out.
fn worktree_branch(local: &Path) -> String {
    let name: String = local
        .parent()
        .and_then(Path::file_name)
        .and_then(|n| n.to_str())
        .unwrap_or("linked")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let branch = format!("worktree/{}", name.trim_matches('-'));
    if crate::refs::validate_name(&branch, "branch").is_ok() {
        branch
    } else {
        "worktree/linked".to_owned()
    }
}

fn read_toml(path: &Path) -> Result<Option<toml::Table>, Error> {
    match fs::read_to_string(path) {
        Ok(text) => text
            .parse::<toml::Table>()
            .map(Some)
            .map_err(|e| Error::Config {
                path: path.to_path_buf(),
                message: e.message().to_owned(),
            }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn check_format(path: &Path, table: &toml::Table, supported: u32) -> Result<(), Error> {
    match table.get("format").and_then(toml::Value::as_integer) {
        Some(found) if found == i64::from(supported) => Ok(()),
        Some(found) if found > i64::from(supported) => Err(Error::NewerFormat {
            path: path.to_path_buf(),
            found: u32::try_from(found).unwrap_or(u32::MAX),
            supported,
        }),
        Some(found) => Err(Error::Config {
            path: path.to_path_buf(),
            message: format!("unknown format {found}"),
        }),
        None => Err(Error::Config {
            path: path.to_path_buf(),
            message: "missing 'format'".into(),
        }),
    }
}

/// Read and merge `config.toml` and `config.local.toml`.
fn read_config(dvx: &Path) -> Result<Config, Error> {
    let path = dvx.join(CONFIG_FILE);
    let mut table = read_toml(&path)?.ok_or_else(|| Error::Io {
        path: path.clone(),
        source: io::ErrorKind::NotFound.into(),
    })?;
    check_format(&path, &table, config::FORMAT)?;
    let local_path = dvx.join(LOCAL_CONFIG_FILE);
    // After merging, a bad value may come from either file: name both.
    let blame = match read_toml(&local_path)? {
        Some(local) => {
            config::merge_tables(&mut table, local);
            PathBuf::from(format!(
                "{} (with {})",
                path.display(),
                local_path.display()
            ))
        }
        None => path.clone(),
    };
    let config: Config = table
        .try_into()
        .map_err(|e: toml::de::Error| Error::Config {
            path: blame.clone(),
            message: e.message().to_owned(),
        })?;
    LinkKind::parse_list(&config.core.link).map_err(|message| Error::Config {
        path: blame.clone(),
        message: format!("core.link: {message}"),
    })?;
    if let Some(shared) = &config.core.shared
        && shared != config::SHARED_GROUP
    {
        return Err(Error::Config {
            path: blame,
            message: format!(
                "core.shared: '{shared}' is not a valid value (expected \"{}\")",
                config::SHARED_GROUP
            ),
        });
    }
    Ok(config)
}

/// An open repository.
#[derive(Debug, Clone)]
pub struct Repo {
    root: PathBuf,
    local: PathBuf,
    common: PathBuf,
    config: Config,
    store: Store,
    refs: Refs,
    lock_timeout: Duration,
}

impl Repo {
    /// A new repository (without git integration) in a temporary directory, for tests.
    #[cfg(test)]
    pub(crate) fn scratch() -> (tempfile::TempDir, Repo) {
        let dir = tempfile::tempdir().expect("tempdir");
        init(dir.path(), false).expect("init");
        let repo = Repo::open(dir.path(), None).expect("open");
        (dir, repo)
    }

    /// Open the repository whose work tree is `root`. `common` is the `.dvx/` of the main
    /// work tree when `root` is a linked git worktree (objects, refs and logs are shared);
    /// `None` means this work tree's own `.dvx/`.
    pub fn open(root: &Path, common: Option<&Path>) -> Result<Repo, Error> {
        let local = root.join(DVX_DIR);
        let common = common
            .map(Path::to_path_buf)
            .unwrap_or_else(|| local.clone());
        let config = read_config(&local)?;
        for dvx in [&local, &common] {
            let state = dvx.join(STATE_FILE);
            if let Some(table) = read_toml(&state)? {
                check_format(&state, &table, STATE_FORMAT)?;
            }
        }
        if !has_local_state(&local) || !has_local_state(&common) {
            create_local_state(&local, &common)?;
        }
        if local != common {
            register_worktree(&local, &common)?;
        }
        let store = open_store(root, &common, &config)?;
        let lock_timeout = Duration::from_secs_f64(config.core.lock_timeout.max(0.0));
        let mut refs = Refs::new(common.clone(), local.clone());
        refs.set_lock_timeout(lock_timeout);
        Ok(Repo {
            root: root.to_path_buf(),
            local,
            common,
            config,
            store,
            refs,
            lock_timeout,
        })
    }

    /// The work tree's top directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// This work tree's `.dvx/` (HEAD, index, lock).
    pub fn local_dir(&self) -> &Path {
        &self.local
    }

    /// The shared `.dvx/` (objects, refs, logs).
    pub fn common_dir(&self) -> &Path {
        &self.common
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// HEAD, branches and tags, for reading; they move only through [`Repo::update_ref`]
    /// and [`Repo::set_head`], which take the lock guard.
    pub fn refs(&self) -> &Refs {
        &self.refs
    }

    /// Move (or with `new == None`, delete) a ref by compare-and-swap from `expected`,
    /// logging the move in its reflog. The caller holds this work tree's repository lock.
    pub fn update_ref(
        &self,
        lock: &RepoLock,
        name: &str,
        expected: Expected,
        new: Option<ObjectId>,
        who: &Signature,
        message: &str,
    ) -> Result<(), crate::refs::Error> {
        debug_assert!(lock.guards(self), "the lock of another work tree");
        self.refs.update(name, expected, new, who, message)
    }

    /// Point HEAD at a branch or a commit, logging the move. The caller holds this work
    /// tree's repository lock.
    pub fn set_head(
        &self,
        lock: &RepoLock,
        head: &Head,
        who: &Signature,
        message: &str,
    ) -> Result<(), crate::refs::Error> {
        debug_assert!(lock.guards(self), "the lock of another work tree");
        self.refs.set_head(head, who, message)
    }

    /// Link types checkout tries, in order (validated when the config was read).
    pub fn link_kinds(&self) -> Vec<LinkKind> {
        LinkKind::parse_list(&self.config.core.link).expect("validated in read_config")
    }

    /// Override how long a writer waits for the lock.
    pub fn set_lock_timeout(&mut self, timeout: Duration) {
        self.lock_timeout = timeout;
        self.refs.set_lock_timeout(timeout);
    }

    /// Take the repository lock; every writing command holds it for its whole run.
    pub fn lock(&self) -> Result<RepoLock, Error> {
        self.lock_within(self.lock_timeout)
    }

    /// Take the repository lock only if it is free right now.
    pub fn try_lock(&self) -> Result<RepoLock, Error> {
        self.lock_within(Duration::ZERO)
    }

    fn lock_within(&self, timeout: Duration) -> Result<RepoLock, Error> {
        let lock = Lock::acquire(&self.local.join("lock"), timeout)?;
        // A writer cleans up after killed ones: their temp files are garbage now. Best
        // effort: what cannot be removed now is tried again next time.
        let temps = self.store.temps().clone();
        let _ = temps.sweep();
        Ok(RepoLock {
            _lock: lock,
            local: self.local.clone(),
            temps,
        })
    }

    /// Where this repository's temp files live.
    pub fn temps(&self) -> &TempArea {
        self.store.temps()
    }

    /// The path of a file in this work tree's local state.
    pub fn local_file(&self, name: &str) -> PathBuf {
        self.local.join(name)
    }

    /// Whether the object store lives outside this repository (`core.store`), where other
    /// clones may keep objects this one cannot see the roots of.
    pub fn store_is_shared(&self) -> bool {
        self.config.core.store.is_some()
    }

    /// The tracked `config.toml` and, if there is one, `config.local.toml`, each as its
    /// own table (remote settings need to know which file a key came from: credentials
    /// are allowed only in the local one).
    pub fn config_tables(&self) -> Result<(toml::Table, Option<toml::Table>), Error> {
        let path = self.local.join(CONFIG_FILE);
        let tracked = read_toml(&path)?.ok_or_else(|| Error::Io {
            path: path.clone(),
            source: io::ErrorKind::NotFound.into(),
        })?;
        let local = read_toml(&self.local.join(LOCAL_CONFIG_FILE))?;
        Ok((tracked, local))
    }

    /// Flush new objects to stable storage, if configured to.
    pub fn flush_objects(&self) -> Result<(), crate::store::Error> {
        if self.config.core.fsync {
            self.store.flush()?;
        }
        Ok(())
    }

    /// Flush files written into the work tree to stable storage, if configured to: one
    /// flush of the file system for a whole checkout, before the index records them.
    pub fn flush_worktree(&self) -> std::io::Result<()> {
        if self.config.core.fsync {
            atomic::sync_filesystem(&self.root)?;
        }
        Ok(())
    }

    /// The other work tree (main or linked) whose HEAD is on `branch` (a full ref name,
    /// which need not exist yet), named by its top directory; `None` when no other work
    /// tree has it checked out. As in git, such a branch is not deleted, renamed, moved or
    /// checked out here: its work tree would be left on a missing branch, or two work
    /// trees on one branch, where a commit in one silently reverts the other. A work tree
    /// whose HEAD cannot be read has no branch checked out.
    pub fn other_worktree_on(&self, branch: &str) -> Option<PathBuf> {
        self.worktree_dirs()
            .into_iter()
            .filter(|dir| *dir != self.local)
            .find(|dir| {
                let refs = Refs::new(self.common.clone(), dir.clone());
                matches!(refs.read_head(), Ok(Head::Branch(b)) if b == branch)
            })
            .map(|dir| dir.parent().map(Path::to_path_buf).unwrap_or(dir))
    }

    /// Refuse to `change` a branch that another work tree has checked out.
    pub fn ensure_not_checked_out_elsewhere(
        &self,
        branch: &str,
        change: BranchChange,
    ) -> Result<(), Error> {
        match self.other_worktree_on(branch) {
            Some(worktree) => Err(Error::BranchCheckedOut {
                branch: branch
                    .strip_prefix(crate::refs::HEADS)
                    .unwrap_or(branch)
                    .to_owned(),
                change,
                worktree,
            }),
            None => Ok(()),
        }
    }

    /// The `.dvx/` directories of every work tree sharing this store (this one included),
    /// for gc's roots.
    pub fn worktree_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = vec![self.common.clone()];
        if self.local != self.common {
            dirs.push(self.local.clone());
        }
        let registry = self.common.join("worktrees");
        if let Ok(rd) = fs::read_dir(registry) {
            for entry in rd.flatten() {
                if let Ok(text) = fs::read_to_string(entry.path()) {
                    let dir = PathBuf::from(text.trim_end_matches('\n'));
                    if dir.join("HEAD").is_file() && !dirs.contains(&dir) {
                        dirs.push(dir);
                    }
                }
            }
        }
        dirs
    }
}

/// Proof that this work tree's repository lock is held, for as long as it lives.
///
/// Every library function that writes repository state takes a `&RepoLock`, so a write
/// without the lock does not compile; the lock is taken once, by the caller that starts
/// a writing command, and passed down. Dropping it releases the lock.
#[derive(Debug)]
pub struct RepoLock {
    _lock: Lock,
    local: PathBuf,
    temps: TempArea,
}

impl RepoLock {
    /// The repository's temp area, for the writes this guard allows: every file written
    /// under it goes through a temp file there, so none is ever seen half written.
    pub fn temps(&self) -> &TempArea {
        &self.temps
    }

    /// Whether this guard is the lock of `repo`'s work tree (a guard from another work
    /// tree proves nothing here).
    pub fn guards(&self, repo: &Repo) -> bool {
        self.local == repo.local
    }
}

/// The object store: `objects/` and `tmp/` of the shared `.dvx/`, or of `core.store`
/// (relative to the main work tree's top), created if absent; group-writable with
/// `core.shared = "group"`.
fn open_store(root: &Path, common: &Path, config: &Config) -> Result<Store, Error> {
    // A relative store is relative to the main work tree's top, so every linked work
    // tree of the repository finds the same one.
    let dir = match &config.core.store {
        Some(dir) => common.parent().unwrap_or(root).join(dir),
        None => common.to_path_buf(),
    };
    // Checkout makes hard links and symlinks from loose objects only: where those are
    // how files are made, downloads store objects loose.
    let links = LinkKind::parse_list(&config.core.link).unwrap_or_default();
    let links_to_objects = links
        .iter()
        .find(|kind| **kind != LinkKind::Reflink)
        .is_some_and(|kind| matches!(kind, LinkKind::Hardlink | LinkKind::Symlink));
    let mut store =
        Store::new(dir.join("objects"), dir.join("tmp")).packing_downloads(!links_to_objects);
    if config.core.shared_with_group() {
        store = store.shared_with_group();
    }
    if config.core.store.is_some() || config.core.shared_with_group() {
        store.create_dirs().map_err(|e| match e {
            crate::store::Error::Io { path, source } => Error::Io { path, source },
            other => Error::Io {
                path: dir.clone(),
                source: io::Error::other(other.to_string()),
            },
        })?;
    }
    Ok(store)
}

/// Record a linked work tree in the shared directory so gc can find its HEAD and index.
fn register_worktree(local: &Path, common: &Path) -> Result<(), Error> {
    let registry = common.join("worktrees");
    let text = format!("{}\n", local.display());
    let name = crate::hash::ObjectId::of(text.as_bytes()).short();
    let path = registry.join(name);
    if fs::read_to_string(&path).ok().as_deref() == Some(text.as_str()) {
        return Ok(());
    }
    atomic::create_dir_all(&registry).map_err(io_err(&registry))?;
    TempArea::new(common.join("tmp"))
        .write(&path, text.as_bytes())
        .map_err(io_err(&path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_twice_changes_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(init(dir.path(), true).expect("init"), InitOutcome::Created);
        let config_before = fs::read(dir.path().join(".dvx/config.toml")).expect("read");
        assert_eq!(
            init(dir.path(), true).expect("init"),
            InitOutcome::AlreadyExists
        );
        assert_eq!(
            fs::read(dir.path().join(".dvx/config.toml")).expect("read"),
            config_before
        );
        let repo = Repo::open(dir.path(), None).expect("open");
        assert_eq!(repo.refs().head_commit().expect("head"), None);
        assert_eq!(
            find_root(&dir.path().join("a/b")),
            Some(dir.path().to_path_buf())
        );
    }

    #[test]
    fn fresh_clone_gets_local_state() {
        let dir = tempfile::tempdir().expect("tempdir");
        init(dir.path(), true).expect("init");
        // Keep only what git would carry.
        let dvx = dir.path().join(DVX_DIR);
        for entry in fs::read_dir(&dvx).expect("ls") {
            let entry = entry.expect("entry");
            let name = entry.file_name();
            if name != ".gitignore" && name != "config.toml" {
                let p = entry.path();
                if p.is_dir() {
                    fs::remove_dir_all(p).expect("rm");
                } else {
                    fs::remove_file(p).expect("rm");
                }
            }
        }
        let repo = Repo::open(dir.path(), None).expect("open clone");
        assert!(repo.store().objects_dir().is_dir());
        assert_eq!(
            init(dir.path(), true).expect("init"),
            InitOutcome::AlreadyExists
        );
    }

    #[test]
    fn finds_the_other_work_tree_on_a_branch() {
        let dir = tempfile::tempdir().expect("tempdir");
        let main = dir.path().join("main");
        let linked = dir.path().join("linked");
        for d in [&main, &linked] {
            fs::create_dir_all(d).expect("mkdir");
        }
        init(&main, true).expect("init");
        fs::create_dir_all(linked.join(DVX_DIR)).expect("mkdir");
        fs::copy(
            main.join(DVX_DIR).join(CONFIG_FILE),
            linked.join(DVX_DIR).join(CONFIG_FILE),
        )
        .expect("copy config");
        let main_repo = Repo::open(&main, None).expect("open main");
        let linked_repo = Repo::open(&linked, Some(&main.join(DVX_DIR))).expect("open linked");
        // A linked work tree starts on a branch of its own, not yet created.
        let Head::Branch(own) = linked_repo.refs().read_head().expect("head") else {
            panic!("a linked work tree starts on a branch");
        };
        assert_eq!(main_repo.other_worktree_on(&own), Some(linked.clone()));
        assert_eq!(
            linked_repo.other_worktree_on("refs/heads/main"),
            Some(main.clone())
        );
        // Its own branch is not "elsewhere"; a branch nobody is on is nowhere.
        assert_eq!(main_repo.other_worktree_on("refs/heads/main"), None);
        assert_eq!(linked_repo.other_worktree_on(&own), None);
        assert_eq!(main_repo.other_worktree_on("refs/heads/free"), None);
        assert!(matches!(
            main_repo.ensure_not_checked_out_elsewhere(&own, BranchChange::Delete),
            Err(Error::BranchCheckedOut { worktree, change: BranchChange::Delete, .. })
                if worktree == linked
        ));
        // A removed work tree (its .dvx gone) has nothing checked out.
        fs::remove_dir_all(&linked).expect("rm");
        assert_eq!(main_repo.other_worktree_on(&own), None);
    }

    #[test]
    fn newer_format_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        init(dir.path(), true).expect("init");
        let config = dir.path().join(".dvx/config.toml");
        atomic::write(&config, b"format = 2\n").expect("write");
        assert!(matches!(
            Repo::open(dir.path(), None),
            Err(Error::NewerFormat { found: 2, .. })
        ));
    }
}
