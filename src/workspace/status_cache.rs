//! What the last watcher-assisted `status` found (`.dvx/fsmonitor-status`), so the next
//! one looks only at the paths the watcher says changed since.
//!
//! The cache holds the watcher's token, taken *before* that status looked at the work
//! tree, and the result: a change after the token is reported by the watcher next time,
//! a change before it was seen. It is valid only for the index it was computed against
//! (its [`Stamp`]), the HEAD commit the staged list compares with, and the same ignore
//! settings. It is a cache: missing, damaged, stale or from another format, it is
//! ignored and a full scan writes a new one; it may be deleted at any time.
//!
//! Layout: the index files' frame (format.md, "Index"): magic `DVXS`, u32 version 1,
//! postcard body [`Cache`], BLAKE3 checksum.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::status::Change;
use crate::atomic::{self, TempArea};
use crate::hash::ObjectId;
use crate::index::{Stamp, file};
use crate::path::RepoPath;

/// The cache's file name in the work tree's `.dvx/`.
pub const FILE: &str = "fsmonitor-status";
const MAGIC: &[u8; 4] = b"DVXS";

/// One status result and what it depends on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cache {
    /// The watcher's token from before the work tree was looked at.
    pub token: String,
    /// The index the result was computed against.
    pub index: Stamp,
    /// HEAD's commit then (the staged list compares with it).
    pub head: Option<ObjectId>,
    /// Whether `.gitignore` rules applied (git integration on).
    pub git: bool,
    /// The index's roots (what the watcher watches).
    pub roots: Vec<RepoPath>,
    pub staged: Vec<Change>,
    pub unstaged: Vec<Change>,
    pub not_fetched: Vec<RepoPath>,
    pub skipped: Vec<RepoPath>,
}

/// The cache in `dir`, if there is a readable one.
pub fn load(dir: &Path) -> Option<Cache> {
    let bytes = std::fs::read(dir.join(FILE)).ok()?;
    file::decode(MAGIC, &bytes).ok().map(|(cache, _)| cache)
}

/// Replace the cache in `dir` (a temp file in `temps`, renamed; not flushed: it is only
/// a cache).
pub fn save(temps: &TempArea, dir: &Path, cache: &Cache) -> std::io::Result<()> {
    let (bytes, _) = file::encode(MAGIC, cache);
    temps.write(&dir.join(FILE), &bytes)
}

/// Remove the cache (nothing may trust it any more).
pub fn clear(dir: &Path) {
    let _ = atomic::remove_file(&dir.join(FILE));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::ChangeKind;

    #[test]
    fn a_saved_cache_loads_back_and_a_damaged_one_is_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(load(dir.path()).is_none());
        let cache = Cache {
            token: "00000000000000ab:7".into(),
            index: Stamp::default(),
            head: None,
            git: true,
            roots: vec![RepoPath::new("data").expect("path")],
            staged: vec![],
            unstaged: vec![Change {
                path: RepoPath::new("data/a").expect("path"),
                kind: ChangeKind::Modified,
                mode_changed: false,
            }],
            not_fetched: vec![],
            skipped: vec![],
        };
        let temps = TempArea::new(dir.path().join("tmp"));
        atomic::create_dir(temps.path()).expect("mkdir");
        save(&temps, dir.path(), &cache).expect("save");
        let back = load(dir.path()).expect("load");
        assert_eq!(back.token, cache.token);
        assert_eq!(back.unstaged, cache.unstaged);
        let path = dir.path().join(FILE);
        let mut bytes = std::fs::read(&path).expect("read");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        atomic::write(&path, &bytes).expect("write");
        assert!(load(dir.path()).is_none(), "a damaged cache is ignored");
        clear(dir.path());
        assert!(!path.exists());
    }
}
