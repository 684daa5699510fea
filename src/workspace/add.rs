//! `dvx add`: put files into the store and stage them.

use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::compare::{stat_matches, symlink_target_bytes};
use super::real_dirs;
use super::walk::{Found, never_tracked, walk};
use super::{Error, Workspace, expand_to, link_rule, read_err, resolve_path, write_err};
use crate::atomic;
use crate::git::ignore_block;
use crate::hash::ObjectId;
use crate::index::{Entry, Index, Kind};
use crate::path::RepoPath;
use crate::progress::{Progress, Unit};
use crate::repo::LinkKind;
use crate::repo::RepoLock;
use crate::stat::{FileKind, Stat};
use crate::store::{self, Adopt, Ingest, Store};

/// Files stored per round before their entries are staged.
const STAGE_CHUNK: usize = 4096;

/// What `add` did.
#[derive(Debug, Default)]
pub struct AddReport {
    /// Files tracked for the first time.
    pub new_files: usize,
    /// Tracked files whose content changed.
    pub modified_files: usize,
    /// Files whose index entry already matched.
    pub unchanged_files: usize,
    /// Tracked files under an added directory that no longer exist (staged as deleted).
    pub removed_files: usize,
    /// Bytes read and hashed.
    pub bytes_hashed: u64,
    /// New objects written to the store, and their bytes.
    pub objects_written: usize,
    pub bytes_written: u64,
    /// Files that changed while being read; nothing was stored for them.
    pub changed_while_adding: Vec<RepoPath>,
    /// Paths skipped because they are neither files, symlinks nor directories.
    pub skipped: Vec<RepoPath>,
    /// `.gitignore` files dvx changed (to be committed with git).
    pub gitignores_changed: Vec<PathBuf>,
}

/// The result of storing one file.
enum Stored {
    Entry { entry: Entry, new_object: bool },
    Changed(RepoPath),
}

/// Track `paths` (relative to `cwd`): hash and store every file, stage the result.
pub fn add(
    ws: &Workspace,
    lock: &RepoLock,
    cwd: &Path,
    paths: &[PathBuf],
    progress: &dyn Progress,
) -> Result<AddReport, Error> {
    let root = ws.root();
    let store = ws.repo().store();
    let mut index = ws.load_index()?;
    let mut report = AddReport::default();

    // Check everything before changing anything.
    let mut targets = Vec::new();
    for arg in paths {
        let path = resolve_path(root, cwd, arg)?;
        if let Some(why) = never_tracked(&path) {
            return Err(Error::NeverTracked {
                path: arg.clone(),
                why,
            });
        }
        let abs = path.to_fs_path(root);
        if fs::symlink_metadata(&abs).is_err() {
            return Err(Error::NoSuchPath { path: arg.clone() });
        }
        if let Some(git) = ws.git() {
            // The top is where the code, `.gitignore` and `dvx.lock` live; a root there
            // could not be listed in any `.gitignore`.
            if path.is_root() {
                return Err(Error::GitTopLevel { path: arg.clone() });
            }
            // Files a walk never records (ignore files below the path) are no conflict.
            let tracked: Vec<String> = git
                .tracked_under(path.as_str(), 64)?
                .into_iter()
                .filter(|p| RepoPath::new(p).is_ok_and(|p| never_tracked(&p).is_none()))
                .take(3)
                .collect();
            if !tracked.is_empty() {
                return Err(Error::TrackedByGit {
                    path,
                    examples: tracked.join(", "),
                });
            }
        }
        if !targets.contains(&path) {
            targets.push(path);
        }
    }
    let mut found = Vec::new();
    for target in &targets {
        let walked = walk(root, target, ws.git().is_some())?;
        // Trees hold no empty directories, so such a root could never be committed, and
        // nothing would be tracked to show for it. (A tracked directory emptied on disk
        // is different: adding it stages the deletions.)
        if walked.files.is_empty() && !index.has_under(target) {
            return Err(Error::NothingToTrack {
                path: target.clone(),
            });
        }
        found.extend(walked.files);
        report.skipped.extend(walked.skipped);
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    found.dedup_by(|a, b| a.path == b.path);

    // Skip files whose stat still matches their entry.
    let mut work = Vec::new();
    for f in &found {
        // A tracked path never lies below an unexpanded tree, so only new ones need this.
        if index.get(&f.path).is_none() {
            expand_to(&mut index, store, &f.path)?;
        }
        match index.get(&f.path) {
            Some(entry) if is_unchanged(root, &index, store, entry, f) => {
                report.unchanged_files += 1
            }
            Some(entry) if is_damaged_link(store, entry, f) => {
                return Err(Error::Store(store::Error::Corrupt {
                    id: entry.id,
                    reason: format!(
                        "'{}' is a hard link to it and was changed in place: damage to \
                         the store, which dvx add does not record as an edit",
                        f.path
                    ),
                }));
            }
            _ => work.push(f),
        }
    }

    // Before anything is stored: a link that leaves the work tree would be refused by
    // every checkout of the commit.
    if !ws.repo().config().core.external_symlinks {
        for f in work.iter().filter(|f| f.kind == FileKind::Symlink) {
            let abs = f.path.to_fs_path(root);
            let target = fs::read_link(&abs).map_err(read_err(&abs))?;
            // A link into the store is the file a symlink-mode add put there.
            if store.linked_object(&target).is_none() {
                link_rule::check(&f.path, target.as_os_str().as_encoded_bytes())?;
            }
        }
    }

    let linking = Linking::of(store, &ws.repo().link_kinds());
    let total: u64 = work.iter().map(|f| f.stat.size).sum();
    progress.start("adding", Some(total), Unit::Bytes);
    let mut any_new = false;
    // In chunks, so the results waiting to be staged stay few however many files there are.
    for chunk in work.chunks(STAGE_CHUNK) {
        let stored: Vec<Stored> = chunk
            .par_iter()
            .map(|f| {
                let result = store_one(root, store, &linking, f);
                progress.advance(f.stat.size);
                result
            })
            .collect::<Result<_, _>>()?;
        for s in stored {
            match s {
                Stored::Changed(path) => report.changed_while_adding.push(path),
                Stored::Entry { entry, new_object } => {
                    if new_object {
                        any_new = true;
                        report.objects_written += 1;
                        report.bytes_written += entry.size;
                    }
                    match index.get(&entry.path) {
                        None => report.new_files += 1,
                        Some(old)
                            if old.id == entry.id
                                && old.kind == entry.kind
                                && old.executable == entry.executable =>
                        {
                            report.unchanged_files += 1
                        }
                        Some(_) => report.modified_files += 1,
                    }
                    index.upsert(entry);
                }
            }
        }
    }
    progress.finish();
    report.bytes_hashed = total;
    // Objects reach stable storage before the index that names them is written.
    if any_new {
        ws.repo().flush_objects()?;
    }

    for target in &targets {
        report.removed_files += stage_deletions(&mut index, root, target, &found);
    }
    for target in &targets {
        track_root(ws, lock, &mut index, target, &mut report)?;
    }
    ws.write_index(lock, &mut index)?;
    Ok(report)
}

/// Whether a found file still matches its entry without reading it.
fn is_unchanged(root: &Path, index: &Index, store: &Store, entry: &Entry, f: &Found) -> bool {
    if entry.not_fetched || entry.kind == Kind::Tree {
        return false;
    }
    let is_link = f.kind == FileKind::Symlink;
    if entry.linked && entry.kind == Kind::File && is_link {
        // Symlink mode: a link still pointing at its object is the unchanged file.
        return fs::read_link(f.path.to_fs_path(root)).ok() == Some(store.path(&entry.id));
    }
    let kind = if is_link { Kind::Symlink } else { Kind::File };
    kind == entry.kind && stat_matches(entry, &f.stat) && !index.is_racy(entry)
}

/// Whether `f` is a hard link to its entry's object whose bytes no longer match the
/// object's id: the store is damaged (status says `corrupt`), and the bytes are not an
/// edit to stage.
fn is_damaged_link(store: &Store, entry: &Entry, f: &Found) -> bool {
    entry.linked
        && entry.kind == Kind::File
        && f.kind == FileKind::File
        && store.metadata(&entry.id).is_some_and(|m| {
            let object = Stat::from_metadata(&m);
            object.ino == f.stat.ino && object.dev == f.stat.dev
        })
        && matches!(store.verify(&entry.id), Err(store::Error::Corrupt { .. }))
}

/// How `add` puts a file's bytes into the store: the first type of `core.link` decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StoreMode {
    /// Copy the bytes (the user's file stays as it is, writable).
    Copy,
    /// The file itself becomes the (read-only) object, hard-linked into the store.
    Hardlink,
    /// The file moves into the store (read-only) and a symlink to it takes its place.
    Symlink,
}

/// The store mode, and what the link modes look up once per `add` rather than once per
/// file (small files are many, and their system calls, not their hashing, set the pace).
struct Linking {
    mode: StoreMode,
    /// The device of the store's objects: a file on another one cannot be linked into
    /// it, and is copied without trying (`None`: unknown, every file tries).
    device: Option<u64>,
    /// The store's objects directory without symlinks, which symlinks to objects name.
    objects: PathBuf,
}

impl Linking {
    fn of(store: &Store, kinds: &[LinkKind]) -> Linking {
        let mode = match kinds.first() {
            Some(LinkKind::Hardlink) => StoreMode::Hardlink,
            Some(LinkKind::Symlink) => StoreMode::Symlink,
            _ => StoreMode::Copy,
        };
        let objects = store.objects_dir();
        if mode == StoreMode::Copy {
            return Linking {
                mode,
                device: None,
                objects: objects.to_path_buf(),
            };
        }
        Linking {
            mode,
            device: fs::metadata(objects)
                .ok()
                .map(|m| Stat::from_metadata(&m).dev),
            objects: fs::canonicalize(objects).unwrap_or_else(|_| objects.to_path_buf()),
        }
    }

    /// Where a symlink to the object `id` points.
    fn symlink_target(&self, store: &Store, id: &ObjectId) -> PathBuf {
        let object = store.path(id);
        let within = object
            .strip_prefix(store.objects_dir())
            .expect("an object's path lies in the objects directory");
        self.objects.join(within)
    }
}

fn store_one(root: &Path, store: &Store, linking: &Linking, f: &Found) -> Result<Stored, Error> {
    let abs = f.path.to_fs_path(root);
    let mut stat = f.stat;
    // An executable file keeps its own mode, which a shared read-only object cannot
    // give it: it is copied, as checkout copies it. So is a file on another device.
    if linking.mode != StoreMode::Copy
        && f.kind == FileKind::File
        && !f.stat.is_executable()
        && linking.device.is_none_or(|dev| dev == f.stat.dev)
    {
        match store_linked(store, linking, f, &abs)? {
            Linked::Stored(stored) => return Ok(stored),
            Linked::Copy(now) => stat = now,
        }
    }
    if f.kind == FileKind::Symlink
        && let Ok(target) = fs::read_link(&abs)
        && let Some((id, size)) = store.linked_object(&target)
    {
        // A symlink into the store is one a symlink-mode add put in place of the user's
        // file (an add killed before writing the index leaves it unrecorded): it stands
        // for the file whose bytes are that object, never for a link to record (whose
        // object gc would then take from under it).
        return Ok(Stored::Entry {
            entry: Entry {
                path: f.path.clone(),
                kind: Kind::File,
                executable: false,
                id,
                size,
                stat: f.stat,
                not_fetched: false,
                linked: true,
            },
            new_object: false,
        });
    }
    if f.kind == FileKind::Symlink {
        let target = symlink_target_bytes(&abs).map_err(read_err(&abs))?;
        let new_object = !store.contains(&ObjectId::of(&target));
        let id = store.put_bytes(&target)?;
        return Ok(Stored::Entry {
            entry: Entry {
                path: f.path.clone(),
                kind: Kind::Symlink,
                executable: false,
                id,
                size: target.len() as u64,
                stat: f.stat,
                not_fetched: false,
                linked: false,
            },
            new_object,
        });
    }
    match store.ingest(&abs, &stat)? {
        Ingest::Changed => Ok(Stored::Changed(f.path.clone())),
        Ingest::Stored {
            id,
            size,
            new,
            stat,
        } => Ok(Stored::Entry {
            entry: Entry {
                path: f.path.clone(),
                kind: Kind::File,
                executable: stat.is_executable(),
                id,
                size,
                stat,
                not_fetched: false,
                linked: false,
            },
            new_object: new,
        }),
    }
}

/// What came of storing a file by linking it.
enum Linked {
    Stored(Stored),
    /// It cannot be linked into the store: copy it, checking it against this stat.
    Copy(Stat),
}

/// Store `f` without copying its bytes, leaving the work-tree file a hard link or
/// symlink to its object.
fn store_linked(store: &Store, linking: &Linking, f: &Found, abs: &Path) -> Result<Linked, Error> {
    let changed = || Ok(Linked::Stored(Stored::Changed(f.path.clone())));
    let (id, size, new_object, stat) = match store.adopt(abs, &f.stat)? {
        Adopt::Unlinkable { stat } => return Ok(Linked::Copy(stat)),
        Adopt::Changed => return changed(),
        // The file is the object now: in hard-link mode nothing is left to do, and its
        // stat after linking is the entry's.
        Adopt::Linked { id, size, stat } if linking.mode == StoreMode::Hardlink => {
            (id, size, true, Some(stat))
        }
        // The file is the object, so putting a symlink in its place loses nothing.
        Adopt::Linked { id, size, stat } => {
            if !link_in_place(store, linking, &id, abs, &stat)? {
                return changed();
            }
            (id, size, true, None)
        }
        Adopt::Known { id, size, stat } => {
            let shared = store.metadata(&id).is_some_and(|o| {
                let o = Stat::from_metadata(&o);
                linking.mode == StoreMode::Hardlink && o.ino == stat.ino && o.dev == stat.dev
            });
            if !shared && !link_in_place(store, linking, &id, abs, &stat)? {
                return changed();
            }
            (id, size, false, None)
        }
    };
    let stat = match stat {
        Some(stat) => stat,
        // What is at the path now: the link (or the file, when it already shared the
        // object's inode).
        None => Stat::from_metadata(&fs::symlink_metadata(abs).map_err(read_err(abs))?),
    };
    Ok(Linked::Stored(Stored::Entry {
        entry: Entry {
            path: f.path.clone(),
            kind: Kind::File,
            executable: false,
            id,
            size,
            stat,
            not_fetched: false,
            linked: true,
        },
        new_object,
    }))
}

/// Replace the file at `abs` by a hard link or symlink to the object `id`, if it still
/// has the stat `expected` (its bytes are the object's): a temp link in the temp area
/// (beside it only on another file system), renamed over it. Returns false, changing
/// nothing, when the file changed meanwhile.
fn link_in_place(
    store: &Store,
    linking: &Linking,
    id: &ObjectId,
    abs: &Path,
    expected: &Stat,
) -> Result<bool, Error> {
    let temps = store.temps();
    let tmp = temps.link_path_for(abs).map_err(write_err(temps.path()))?;
    let made = match linking.mode {
        StoreMode::Hardlink => atomic::hard_link(&store.path(id), &tmp),
        _ => atomic::symlink(linking.symlink_target(store, id).as_os_str(), &tmp),
    };
    made.map_err(write_err(abs))?;
    // The user's bytes are replaced only if they are still the ones hashed.
    let unchanged = fs::symlink_metadata(abs).is_ok_and(|m| Stat::from_metadata(&m) == *expected);
    if !unchanged {
        let _ = atomic::remove_file(&tmp);
        return Ok(false);
    }
    if let Err(e) = atomic::rename(&tmp, abs) {
        let _ = atomic::remove_file(&tmp);
        return Err(write_err(abs)(e));
    }
    Ok(true)
}

/// Under an added directory, entries whose files are gone are staged as deleted. Entries
/// not fetched stay (add treats them as unchanged), and so do files that still exist but
/// were not walked (now ignored, or not regular files).
fn stage_deletions(index: &mut Index, root: &Path, target: &RepoPath, found: &[Found]) -> usize {
    // `found` is sorted by path.
    let seen = |path: &RepoPath| found.binary_search_by(|f| f.path.cmp(path)).is_ok();
    let gone: Vec<RepoPath> = index
        .iter_under(target)
        .filter(|e| !e.not_fetched && e.kind != Kind::Tree && !seen(&e.path))
        // Gone, or replaced by a directory the walk found no files in (files in one
        // would be new entries that replace this one).
        .filter(|e| !real_dirs::lstat(root, &e.path).is_ok_and(|o| o.kind != FileKind::Dir))
        .map(|e| e.path.clone())
        .collect();
    for path in &gone {
        index.remove(path);
    }
    gone.len()
}

/// Record `target` as a root and keep git ignoring it.
fn track_root(
    ws: &Workspace,
    lock: &RepoLock,
    index: &mut Index,
    target: &RepoPath,
    report: &mut AddReport,
) -> Result<(), Error> {
    let absorbed: Vec<RepoPath> = index
        .roots()
        .iter()
        .filter(|r| r.is_within(target) && *r != target)
        .cloned()
        .collect();
    let added = index.add_root(target.clone());
    if ws.git().is_none() {
        return Ok(());
    }
    let root = ws.root();
    let mut changed = Vec::new();
    // The root's entry is checked on every add, not only when the root is new: if it was
    // lost (a rewritten or merged `.gitignore`), adding again puts it back, as status's
    // warning suggests. An entry that is there is not rewritten.
    let covering = index.root_covering(target).cloned();
    if let Some(covering) = covering.filter(|r| !r.is_root()) {
        changed.push(ignore_block::add(root, lock, &covering).map_err(write_err(root))?);
    }
    if added {
        for nested in &absorbed {
            changed.push(ignore_block::remove(root, lock, nested).map_err(write_err(root))?);
        }
    }
    for file in changed.into_iter().flatten() {
        if !report.gitignores_changed.contains(&file) {
            report.gitignores_changed.push(file);
        }
    }
    Ok(())
}
