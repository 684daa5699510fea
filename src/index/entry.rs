//! One index entry and the stat data that lets `status` skip unchanged files.

use std::fs::Metadata;

use serde::{Deserialize, Serialize};

use crate::hash::ObjectId;
use crate::path::RepoPath;

/// What an index entry describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    File,
    Symlink,
    /// A whole directory that is not fetched, recorded as its tree id (a lazy checkout
    /// keeps untouched directories this way, so its cost does not grow with their size).
    Tree,
}

/// The stat fields compared to decide whether a file may have changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stat {
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub dev: u64,
    pub ino: u64,
    pub mode: u32,
    pub size: u64,
}

impl Stat {
    #[cfg(unix)]
    pub fn from_metadata(m: &Metadata) -> Stat {
        use std::os::unix::fs::MetadataExt;
        Stat {
            mtime_ns: m.mtime() * 1_000_000_000 + m.mtime_nsec(),
            ctime_ns: m.ctime() * 1_000_000_000 + m.ctime_nsec(),
            dev: m.dev(),
            ino: m.ino(),
            mode: m.mode(),
            size: m.len(),
        }
    }

    #[cfg(not(unix))]
    pub fn from_metadata(m: &Metadata) -> Stat {
        let ns = |t: std::io::Result<std::time::SystemTime>| {
            t.ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_nanos() as i64)
                .unwrap_or(0)
        };
        Stat {
            mtime_ns: ns(m.modified()),
            ctime_ns: ns(m.created()),
            dev: 0,
            ino: 0,
            mode: if m.permissions().readonly() {
                0o444
            } else {
                0o644
            },
            size: m.len(),
        }
    }
}

/// One tracked path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub path: RepoPath,
    pub kind: Kind,
    pub executable: bool,
    /// Blob id (file, symlink target) or tree id ([`Kind::Tree`]).
    pub id: ObjectId,
    /// Bytes of the file, the link target, or everything below the tree.
    pub size: u64,
    /// Stat of the file when it was last known to match `id`; all zero when not fetched.
    pub stat: Stat,
    /// The bytes are not in the work tree (lazy checkout).
    pub not_fetched: bool,
    /// The work-tree file is a hard link or symlink to the stored object, so a change to
    /// its bytes is corruption of the store, not an edit to commit.
    pub linked: bool,
}

impl Entry {
    /// An entry for a path whose bytes are not in the work tree.
    pub fn not_fetched(
        path: RepoPath,
        kind: Kind,
        executable: bool,
        id: ObjectId,
        size: u64,
    ) -> Entry {
        Entry {
            path,
            kind,
            executable,
            id,
            size,
            stat: Stat::default(),
            not_fetched: true,
            linked: false,
        }
    }
}
