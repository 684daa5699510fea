//! Comparing one index entry with the file in the work tree.
//!
//! The stat cache decides first: a file whose stat matches the entry, and is not racy, is
//! unchanged without being read. Anything else is re-hashed, so a tool that restores an
//! old mtime (`cp -p`, `rsync -t`, `tar`) is still caught through ctime and size, and a
//! touched-but-identical file is recognised as clean.

use std::fs;
use std::io;
use std::path::Path;

use super::real_dirs;
use crate::hash::{self, ObjectId};
use crate::index::{Entry, Index, Kind, Stat};
use crate::stat::{FileKind, Observed};
use crate::store::Store;

/// The state of one tracked path in the work tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
    /// Matches the entry; the stat data was trusted.
    Clean,
    /// Matches the entry, but its stat data changed (a writer may refresh it).
    Restat(Stat),
    /// The bytes are absent and the entry says they were never fetched.
    NotFetched,
    /// A not-fetched entry whose bytes are now present and correct.
    Fetched(Stat),
    /// Differs from the entry: new id, size, kind and executable bit.
    Modified {
        id: ObjectId,
        size: u64,
        kind: Kind,
        executable: bool,
        stat: Stat,
    },
    /// The path no longer exists (or is now a directory).
    Deleted,
    /// A hard-linked file whose shared object changed in place: the store is damaged.
    Corrupt,
}

impl FileState {
    /// Whether the path differs from the index.
    pub fn is_change(&self) -> bool {
        matches!(
            self,
            FileState::Modified { .. } | FileState::Deleted | FileState::Corrupt
        )
    }
}

/// The id and size of what is at `path` now: a symlink's target or a file's bytes.
pub fn hash_path(path: &Path, kind: FileKind) -> io::Result<(ObjectId, u64)> {
    if kind == FileKind::Symlink {
        let target = symlink_target_bytes(path)?;
        Ok((ObjectId::of(&target), target.len() as u64))
    } else {
        hash::hash_file(path)
    }
}

/// A symlink's target as raw bytes.
pub fn symlink_target_bytes(path: &Path) -> io::Result<Vec<u8>> {
    let target = fs::read_link(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Ok(target.as_os_str().as_bytes().to_vec())
    }
    #[cfg(not(unix))]
    {
        Ok(target.to_string_lossy().into_owned().into_bytes())
    }
}

/// Whether the file at `abs` is a symlink to the stored object `id`, as checkout writes
/// files in symlink mode (the link names the object's canonical path).
pub(super) fn links_to_object(abs: &Path, store: &Store, id: &ObjectId) -> bool {
    let Ok(target) = fs::read_link(abs) else {
        return false;
    };
    let object = store.path(id);
    target == object || fs::canonicalize(&object).is_ok_and(|c| c == target)
}

/// Whether the file at `abs` (whose lstat is `m`) shares the stored object `id`: a
/// symlink to it, or a hard link to its inode.
pub(super) fn shares_object(abs: &Path, m: &fs::Metadata, store: &Store, id: &ObjectId) -> bool {
    if m.file_type().is_symlink() {
        return links_to_object(abs, store, id);
    }
    let file = Stat::from_metadata(m);
    m.is_file()
        && file.ino != 0
        && store.metadata(id).is_some_and(|o| {
            let object = Stat::from_metadata(&o);
            object.ino == file.ino && object.dev == file.dev
        })
}

/// Whether the stat data recorded for `entry` still describes the file (racy entries
/// aside, which the caller checks).
pub(super) fn stat_matches(entry: &Entry, now: &Stat) -> bool {
    let old = &entry.stat;
    let same = old.size == now.size
        && old.mtime_ns == now.mtime_ns
        && old.ino == now.ino
        && old.dev == now.dev
        && old.mode == now.mode;
    // A hard link shares its inode with the object and with every other checkout of the
    // same object; linking another copy changes the shared ctime, so it cannot be used.
    same && (entry.linked || old.ctime_ns == now.ctime_ns)
}

/// Compare `entry` with the work tree under `root`. `observed` is the lstat of the path
/// when the caller already has it (from a walk); `None` means look it up.
pub fn check_entry(
    root: &Path,
    index: &Index,
    store: &Store,
    entry: &Entry,
    observed: Option<Observed>,
) -> io::Result<FileState> {
    if entry.kind == Kind::Tree {
        return Ok(FileState::NotFetched);
    }
    let observed = match observed {
        Some(o) => o,
        // Never through a symlinked directory: a file beyond one is not the work tree's.
        None => match real_dirs::lstat(root, &entry.path) {
            Ok(o) => o,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                return Ok(if entry.not_fetched {
                    FileState::NotFetched
                } else {
                    FileState::Deleted
                });
            }
            Err(e) => return Err(e),
        },
    };
    let kind = match observed.kind {
        FileKind::File => Kind::File,
        FileKind::Symlink => Kind::Symlink,
        // A directory (or a fifo) where the file was: the file is gone.
        FileKind::Dir | FileKind::Other => {
            return Ok(if entry.not_fetched {
                FileState::NotFetched
            } else {
                FileState::Deleted
            });
        }
    };
    let stat = observed.stat;
    let executable = kind == Kind::File && stat.is_executable();
    if !entry.not_fetched
        && kind == entry.kind
        && stat_matches(entry, &stat)
        && !index.is_racy(entry)
    {
        return Ok(FileState::Clean);
    }
    // Built only past the stat check: a clean file of a million costs no allocation.
    let abs = entry.path.to_fs_path(root);
    if entry.linked && entry.kind == Kind::File && kind == Kind::Symlink {
        // Symlink mode: the file is a link to its object. Pointing at the object is clean;
        // anything else counts as a changed file with the bytes it now points at.
        if links_to_object(&abs, store, &entry.id) {
            return Ok(FileState::Restat(stat));
        }
        let (id, size) = hash::hash_file(&abs)?;
        return Ok(FileState::Modified {
            id,
            size,
            kind: Kind::File,
            executable: false,
            stat,
        });
    }
    let (id, size) = hash_path(&abs, observed.kind)?;
    // In hard-link mode only the kind and bytes count: the object's mode is read-only.
    let same_mode = entry.linked || executable == entry.executable;
    if id == entry.id && kind == entry.kind && same_mode {
        return Ok(if entry.not_fetched {
            FileState::Fetched(stat)
        } else {
            FileState::Restat(stat)
        });
    }
    if entry.linked
        && kind == Kind::File
        && store.metadata(&entry.id).is_some_and(|m| {
            let object = Stat::from_metadata(&m);
            object.ino == stat.ino && object.dev == stat.dev
        })
    {
        return Ok(FileState::Corrupt);
    }
    Ok(FileState::Modified {
        id,
        size,
        kind,
        executable,
        stat,
    })
}
