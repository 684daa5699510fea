//! The inotify watches of one work tree, and what each kernel event means for the
//! record of changes.
//!
//! Every directory below a tracked root is watched (never through a symlink, never inside
//! `.git/` or `.dvx/`), so a change to a file there is an event naming its directory and
//! name; each directory from the top of the work tree down to a root is watched too, for
//! the ignore files that decide what a walk sees and for a root being replaced. A new
//! directory is watched as soon as its event is read, before any later event (and so
//! before any cookie a client waits for); files made in it before the watch was added
//! are covered because the directory itself is recorded, and clients walk a recorded
//! directory whole.
//!
//! Invariants: anything the watches may have missed resets the record (a queue overflow,
//! changed ignore rules, a directory above a root moved), so a client is told to scan
//! everything rather than given a list that lacks a change.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};

use inotify::{Event, EventMask, WatchDescriptor, WatchMask, Watches};

use super::log::ChangeLog;
use crate::atomic::TEMP_PREFIX;
use crate::path::RepoPath;

/// What a watched directory is to the watcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// At or below a tracked root: every change in it is recorded.
    Tree,
    /// Above a root: only ignore files and the names leading to roots matter.
    Above,
    /// The directory clients drop cookies into.
    Cookies,
}

/// The watches and the map from each watch back to its directory.
pub struct Tree {
    watches: Watches,
    work_tree: PathBuf,
    by_wd: HashMap<i32, (RepoPath, Role)>,
    tree_dirs: BTreeMap<RepoPath, WatchDescriptor>,
    above: BTreeSet<RepoPath>,
    roots: BTreeSet<RepoPath>,
    /// Why not everything asked for is watched (the inotify limit), if so.
    pub problem: Option<String>,
}

/// Events that name a change in a tree directory.
const TREE_MASK: WatchMask = WatchMask::CREATE
    .union(WatchMask::DELETE)
    .union(WatchMask::MODIFY)
    .union(WatchMask::ATTRIB)
    .union(WatchMask::CLOSE_WRITE)
    .union(WatchMask::MOVED_FROM)
    .union(WatchMask::MOVED_TO)
    .union(WatchMask::DELETE_SELF)
    .union(WatchMask::MOVE_SELF)
    .union(WatchMask::ONLYDIR)
    .union(WatchMask::DONT_FOLLOW)
    .union(WatchMask::EXCL_UNLINK);

/// Cookies arrive by rename (`atomic::write`).
const COOKIE_MASK: WatchMask = WatchMask::MOVED_TO.union(WatchMask::ONLYDIR);

impl Tree {
    pub fn new(watches: Watches, work_tree: &Path) -> Tree {
        Tree {
            watches,
            work_tree: work_tree.to_path_buf(),
            by_wd: HashMap::new(),
            tree_dirs: BTreeMap::new(),
            above: BTreeSet::new(),
            roots: BTreeSet::new(),
            problem: None,
        }
    }

    /// Watch the directory clients drop cookies into.
    pub fn watch_cookies(&mut self, dir: &Path) -> io::Result<()> {
        let wd = self.watches.add(dir, COOKIE_MASK)?;
        self.by_wd.insert(
            wd.get_watch_descriptor_id(),
            (RepoPath::root(), Role::Cookies),
        );
        Ok(())
    }

    pub fn roots(&self) -> impl Iterator<Item = &RepoPath> {
        self.roots.iter()
    }

    pub fn watched_dirs(&self) -> usize {
        self.tree_dirs.len() + self.above.len()
    }

    /// Watch `root` and the directories above it. Returns false when it was watched
    /// already.
    pub fn add_root(&mut self, root: RepoPath) -> bool {
        if !self.roots.insert(root.clone()) {
            return false;
        }
        for dir in root.ancestors() {
            if !self.above.contains(&dir) && self.watch(&dir, Role::Above, TREE_MASK).is_ok() {
                self.above.insert(dir);
            }
        }
        self.add_tree(&root);
        true
    }

    /// Watch `dir` and every directory below it.
    fn add_tree(&mut self, dir: &RepoPath) {
        let mut todo = vec![dir.clone()];
        while let Some(dir) = todo.pop() {
            match self.watch(&dir, Role::Tree, TREE_MASK) {
                Ok(wd) => {
                    self.tree_dirs.insert(dir.clone(), wd);
                }
                // Gone, or not a directory (a symlink is never followed): nothing below.
                Err(_) if self.problem.is_none() => continue,
                Err(_) => return,
            }
            let Ok(listing) = std::fs::read_dir(dir.to_fs_path(&self.work_tree)) else {
                continue;
            };
            for entry in listing.flatten() {
                let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
                let name = entry.file_name();
                if let Some(name) = name.to_str().filter(|n| is_dir && !is_skipped(n)) {
                    todo.push(dir.join_unchecked(name));
                }
            }
        }
    }

    fn watch(
        &mut self,
        dir: &RepoPath,
        role: Role,
        mask: WatchMask,
    ) -> io::Result<WatchDescriptor> {
        let abs = dir.to_fs_path(&self.work_tree);
        match self.watches.add(&abs, mask) {
            Ok(wd) => {
                self.by_wd
                    .insert(wd.get_watch_descriptor_id(), (dir.clone(), role));
                Ok(wd)
            }
            Err(e) => {
                if e.raw_os_error() == Some(libc::ENOSPC) {
                    self.problem = Some(limit_message(self.watched_dirs()));
                }
                Err(e)
            }
        }
    }

    /// Stop watching `dir` and everything below it (it moved away or was deleted).
    fn remove_tree(&mut self, dir: &RepoPath) {
        let below: Vec<RepoPath> = self
            .tree_dirs
            .range(dir.clone()..)
            .take_while(|(p, _)| p.is_within(dir))
            .map(|(p, _)| p.clone())
            .collect();
        for p in below {
            if let Some(wd) = self.tree_dirs.remove(&p) {
                self.by_wd.remove(&wd.get_watch_descriptor_id());
                // Already gone with a deleted directory; that is fine.
                let _ = self.watches.remove(wd);
            }
        }
    }

    /// Apply one kernel event: record what may have changed, keep the watches in step,
    /// and note cookies.
    pub fn handle(
        &mut self,
        ev: &Event<&OsStr>,
        log: &mut ChangeLog,
        cookies: &mut HashSet<String>,
    ) {
        if ev.mask.contains(EventMask::Q_OVERFLOW) {
            log.reset("the kernel's inotify event queue overflowed");
            return;
        }
        let id = ev.wd.get_watch_descriptor_id();
        if ev.mask.contains(EventMask::IGNORED) {
            if let Some((dir, _)) = self.by_wd.remove(&id) {
                self.tree_dirs.remove(&dir);
            }
            return;
        }
        let Some((dir, role)) = self.by_wd.get(&id).cloned() else {
            return;
        };
        let name = ev.name.map(|n| n.to_str());
        match role {
            Role::Cookies => {
                if let Some(Some(name)) = name {
                    cookies.insert(name.to_owned());
                }
            }
            Role::Above => self.handle_above(&dir, name, log),
            Role::Tree => self.handle_tree(&dir, ev.mask, name, log),
        }
    }

    fn handle_above(&mut self, dir: &RepoPath, name: Option<Option<&str>>, log: &mut ChangeLog) {
        let Some(Some(name)) = name else {
            // The directory itself moved or went, or a name that is not UTF-8 (which no
            // root has): anything below may be elsewhere now.
            if name.is_none() {
                log.reset("a directory above a tracked root moved");
            }
            return;
        };
        if is_ignore_file(name) {
            log.reset("ignore rules changed");
            return;
        }
        let path = dir.join_unchecked(name);
        let replaced: Vec<RepoPath> = self
            .roots
            .iter()
            .filter(|r| r.is_within(&path))
            .cloned()
            .collect();
        for root in replaced {
            // Whatever stands there now is watched afresh and scanned whole.
            self.remove_tree(&root);
            self.add_tree(&root);
            log.record(root);
        }
    }

    fn handle_tree(
        &mut self,
        dir: &RepoPath,
        mask: EventMask,
        name: Option<Option<&str>>,
        log: &mut ChangeLog,
    ) {
        let name = match name {
            // An event on the watched directory itself: its parent's watch reports it
            // too, except for a root, whose parent may be above the roots.
            None => {
                if self.roots.contains(dir) {
                    log.record(dir.clone());
                }
                return;
            }
            // A name that is not UTF-8: the walk of the directory will say what it is.
            Some(None) => {
                log.record(dir.clone());
                return;
            }
            Some(Some(name)) => name,
        };
        if name.starts_with(TEMP_PREFIX) || name == ".git" || name == ".dvx" {
            return;
        }
        if is_ignore_file(name) {
            log.reset("ignore rules changed");
            return;
        }
        let path = dir.join_unchecked(name);
        if mask.contains(EventMask::ISDIR) {
            if mask.intersects(EventMask::DELETE | EventMask::MOVED_FROM) {
                self.remove_tree(&path);
            }
            if mask.intersects(EventMask::CREATE | EventMask::MOVED_TO) {
                self.add_tree(&path);
                if self.problem.is_some() {
                    log.reset("the inotify watch limit was reached");
                    return;
                }
            }
        }
        log.record(path);
    }
}

fn is_ignore_file(name: &str) -> bool {
    name == ".gitignore" || name == ".dvxignore"
}

/// Names never watched below a root: git's and dvx's own directories, dvx's temp files.
fn is_skipped(name: &str) -> bool {
    name == ".git" || name == ".dvx" || name.starts_with(TEMP_PREFIX)
}

/// What to tell a user whose inotify watch limit is too low.
pub fn limit_message(watched: usize) -> String {
    let limit = std::fs::read_to_string("/proc/sys/fs/inotify/max_user_watches")
        .ok()
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    format!(
        "the inotify watch limit is too low to watch every tracked directory \
         (fs.inotify.max_user_watches = {limit}, {watched} watched when it ran out); \
         raise it, e.g. `sudo sysctl fs.inotify.max_user_watches=1048576`"
    )
}
