//! What the store learns of one fan-out directory of loose objects (`objects/<xx>/`)
//! when it asks whether many objects are there ([`Store::missing`](super::Store::missing)).
//!
//! Owns: choosing between one listing of the directory and a `stat` per object asked,
//! from the directory's size. Invariant: an answer it gives for an object is the one a
//! `stat` of the object's file would give at that moment (present when a file of that
//! name is there), except that a directory that cannot be listed whole is asked object
//! by object.

use std::collections::HashSet;
use std::fs;
use std::path::Path;

/// One fan-out directory, as [`FanOut::read`] found it.
pub(super) enum FanOut {
    /// Not there: it holds no object.
    Absent,
    /// Its names, read in one listing: a fresh clone's fan-out directories hold a commit
    /// or a tree or two each, and one listing costs less than a `stat` per object asked.
    Listed(HashSet<String>),
    /// Too large to list for the few objects asked (or unreadable as a listing): each
    /// object is looked up.
    Large,
}

impl FanOut {
    /// Bytes of directory a listing may read per object asked. A listing reads about 70
    /// bytes of directory per name (ext4) at a tenth of a microsecond, a `stat` of an
    /// absent object costs a few microseconds.
    const LIST_BYTES_PER_LOOKUP: u64 = 2048;
    /// Names a listing may read per object asked, whatever the directory's size says
    /// (file systems other than ext4 give directories sizes of other meanings).
    const LIST_NAMES_PER_LOOKUP: usize = 32;

    /// Look at the directory `dir`, of which `asked` objects are asked.
    pub(super) fn read(dir: &Path, asked: usize) -> FanOut {
        let Ok(meta) = fs::metadata(dir) else {
            return FanOut::Absent;
        };
        if !meta.is_dir() {
            return FanOut::Absent;
        }
        if meta.len() > asked as u64 * Self::LIST_BYTES_PER_LOOKUP {
            return FanOut::Large;
        }
        let Ok(entries) = fs::read_dir(dir) else {
            return FanOut::Large;
        };
        let most = asked.saturating_mul(Self::LIST_NAMES_PER_LOOKUP);
        let mut names = HashSet::new();
        for entry in entries {
            // A name that cannot be read, or too many names: asked one by one instead.
            let Ok(entry) = entry else {
                return FanOut::Large;
            };
            if names.len() == most {
                return FanOut::Large;
            }
            if let Ok(name) = entry.file_name().into_string() {
                names.insert(name);
            }
        }
        FanOut::Listed(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_is_listed_only_when_small_next_to_what_is_asked() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(matches!(
            FanOut::read(&dir.path().join("none"), 5),
            FanOut::Absent
        ));
        for i in 0..40 {
            fs::write(dir.path().join(format!("{i:062x}")), b"x").expect("write");
        }
        match FanOut::read(dir.path(), 40) {
            FanOut::Listed(names) => assert_eq!(names.len(), 40),
            _ => panic!("40 names for 40 asked are listed"),
        }
        // One asked of 40 names: more than a listing may read for it.
        assert!(matches!(FanOut::read(dir.path(), 1), FanOut::Large));
    }
}
