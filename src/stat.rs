//! What a file's metadata says about whether its content may have changed.
//!
//! Owns [`Stat`], the handful of fields git compares (size, mtime and ctime in
//! nanoseconds, device, inode, mode): the index keeps one per entry so `status` can skip
//! unchanged files, and `add` compares the stat taken before and after reading a file to
//! be sure it stored exactly the bytes it hashed. Smaller than `std::fs::Metadata`, which
//! matters when a walk holds one per file of a million.

use std::fs::Metadata;

use serde::{Deserialize, Serialize};

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

    /// From a raw `stat` (a walk's `fstatat`): the same fields `from_metadata` takes.
    #[cfg(unix)]
    pub fn from_raw(st: &libc::stat) -> Stat {
        Stat {
            mtime_ns: st.st_mtime * 1_000_000_000 + st.st_mtime_nsec,
            ctime_ns: st.st_ctime * 1_000_000_000 + st.st_ctime_nsec,
            dev: st.st_dev,
            ino: st.st_ino,
            mode: st.st_mode,
            size: st.st_size as u64,
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

    /// The owner's executable bit (what git records).
    pub fn is_executable(&self) -> bool {
        self.mode & 0o100 != 0
    }

    /// Nothing that a change of content would touch differs: size, times, inode, device.
    pub fn same_content_state(&self, other: &Stat) -> bool {
        self.size == other.size
            && self.mtime_ns == other.mtime_ns
            && self.ctime_ns == other.ctime_ns
            && self.ino == other.ino
            && self.dev == other.dev
    }
}

/// What kind of thing a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    File,
    Symlink,
    Dir,
    /// A fifo, socket or device: never tracked.
    Other,
}

impl FileKind {
    pub fn of(m: &Metadata) -> FileKind {
        let t = m.file_type();
        if t.is_symlink() {
            FileKind::Symlink
        } else if t.is_dir() {
            FileKind::Dir
        } else if t.is_file() {
            FileKind::File
        } else {
            FileKind::Other
        }
    }
}

/// A path's kind and stat, read together from one lstat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observed {
    pub kind: FileKind,
    pub stat: Stat,
}

impl Observed {
    pub fn of(m: &Metadata) -> Observed {
        Observed {
            kind: FileKind::of(m),
            stat: Stat::from_metadata(m),
        }
    }

    /// lstat a path (symlinks are not followed).
    pub fn lstat(path: &std::path::Path) -> std::io::Result<Observed> {
        std::fs::symlink_metadata(path).map(|m| Observed::of(&m))
    }
}
