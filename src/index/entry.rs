//! One index entry and the stat data that lets `status` skip unchanged files.

use serde::{Deserialize, Serialize};

use crate::hash::ObjectId;
use crate::object::EntryKind;
use crate::path::RepoPath;
pub use crate::stat::Stat;

/// What an index entry describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    File,
    Symlink,
    /// A whole directory that is not fetched, recorded as its tree id (a lazy checkout
    /// keeps untouched directories this way, so its cost does not grow with their size).
    Tree,
}

/// The one conversion between the index's kinds and a tree entry's: a file is a file, a
/// symlink a symlink, and an unexpanded tree entry stands for a directory.
impl From<Kind> for EntryKind {
    fn from(kind: Kind) -> EntryKind {
        match kind {
            Kind::File => EntryKind::File,
            Kind::Symlink => EntryKind::Symlink,
            Kind::Tree => EntryKind::Dir,
        }
    }
}

impl From<EntryKind> for Kind {
    fn from(kind: EntryKind) -> Kind {
        match kind {
            EntryKind::File => Kind::File,
            EntryKind::Symlink => Kind::Symlink,
            EntryKind::Dir => Kind::Tree,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_convert_both_ways() {
        for kind in [Kind::File, Kind::Symlink, Kind::Tree] {
            assert_eq!(Kind::from(EntryKind::from(kind)), kind);
        }
        for kind in [EntryKind::File, EntryKind::Symlink, EntryKind::Dir] {
            assert_eq!(EntryKind::from(Kind::from(kind)), kind);
        }
        assert_eq!(EntryKind::from(Kind::Tree), EntryKind::Dir);
    }
}
