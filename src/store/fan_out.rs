//! What the store learns of one fan-out directory of loose objects (`objects/<xx>/`)
//! when it asks whether many objects are there ([`Store::missing`](super::Store::missing)).
//!
//! Owns: choosing between one listing of the directory and a `stat` per object asked,
//! from how many are asked and the directory's size. Invariant: an answer it gives for
//! an object is the one a `stat` of the object's file would give at that moment
//! (present when a file of that name is there), except that a directory that cannot be
//! listed whole is asked object by object.

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
    /// Too few objects asked to be worth a look at the directory, or a directory too
    /// large to list for them (or unreadable as a listing): each object is looked up.
    AskEach,
}

impl FanOut {
    /// Bytes of directory a listing may read per object asked. A listing reads about 70
    /// bytes of directory per name (ext4) at a tenth of a microsecond, a `stat` of an
    /// absent object costs a few microseconds.
    const LIST_BYTES_PER_LOOKUP: u64 = 2048;
    /// Names a listing may read per object asked, whatever the directory's size says
    /// (file systems other than ext4 give directories sizes of other meanings).
    const LIST_NAMES_PER_LOOKUP: usize = 32;
    /// Fewer objects asked than this are looked up one by one without a look at the
    /// directory: its `stat` alone would cost as much as theirs (a lazy pull of one file
    /// asks one object of its fan-out directory).
    const LOOK_AT_LEAST: usize = 4;

    /// Look at the directory `dir`, of which `asked` objects are asked.
    pub(super) fn read(dir: &Path, asked: usize) -> FanOut {
        if asked < Self::LOOK_AT_LEAST {
            return FanOut::AskEach;
        }
        let Ok(meta) = fs::metadata(dir) else {
            return FanOut::Absent;
        };
        if !meta.is_dir() {
            return FanOut::Absent;
        }
        if meta.len() > asked as u64 * Self::LIST_BYTES_PER_LOOKUP {
            return FanOut::AskEach;
        }
        let Ok(entries) = fs::read_dir(dir) else {
            return FanOut::AskEach;
        };
        let most = asked.saturating_mul(Self::LIST_NAMES_PER_LOOKUP);
        let mut names = HashSet::new();
        for entry in entries {
            // A name that cannot be read, or too many names: asked one by one instead.
            let Ok(entry) = entry else {
                return FanOut::AskEach;
            };
            if names.len() == most {
                return FanOut::AskEach;
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
        // Four asked of 200 names: more than a listing may read for them.
        for i in 40..200 {
            fs::write(dir.path().join(format!("{i:062x}")), b"x").expect("write");
        }
        assert!(matches!(FanOut::read(dir.path(), 4), FanOut::AskEach));
        // Too few asked to look at a directory, even one that is not there.
        assert!(matches!(
            FanOut::read(&dir.path().join("none"), 3),
            FanOut::AskEach
        ));
    }
}
