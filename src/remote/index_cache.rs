//! A local cache of remote pack indexes, so a lazy pull does not download every index
//! again each time.
//!
//! Owns: `<cache dir>/<pack id>.idx` files (the repository puts the directory at
//! `.dvx/cache/packs/`). An index is named by the id of the pack it describes, which is
//! the hash of that pack's bytes, so the same file serves every remote holding that
//! pack. Entries are verified on every read (checksum and pack id, as when fetched); a
//! damaged entry is deleted and fetched again, never trusted. Writes go through
//! `atomic` (temp file + rename); a crash leaves a whole file or none.

use std::path::{Path, PathBuf};

use super::pack_index::PackIndex;
use crate::atomic;
use crate::hash::ObjectId;

#[derive(Debug, Clone)]
pub struct IndexCache {
    dir: PathBuf,
}

impl IndexCache {
    pub fn new(dir: impl Into<PathBuf>) -> IndexCache {
        IndexCache { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, pack: &ObjectId) -> PathBuf {
        self.dir.join(format!("{}.idx", pack.to_hex()))
    }

    /// The cached index of `pack`, if present and intact.
    pub fn get(&self, pack: &ObjectId) -> Option<PackIndex> {
        let path = self.path(pack);
        let bytes = std::fs::read(&path).ok()?;
        match PackIndex::decode(pack, &bytes) {
            Ok(index) => Some(index),
            Err(_) => {
                // Damaged (a disk error, a hand edit): drop it and fetch it again.
                let _ = atomic::remove_file(&path);
                None
            }
        }
    }

    /// Remember an index that was just fetched and verified (or just written).
    /// Best effort: a cache that cannot be written only costs a download next time.
    pub fn put(&self, pack: &ObjectId, bytes: &[u8]) {
        if atomic::create_dir_all(&self.dir).is_ok() {
            let _ = atomic::write(&self.path(pack), bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::pack_index::Entry;

    #[test]
    fn cached_indexes_are_verified_on_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = IndexCache::new(dir.path().join("packs"));
        let pack = ObjectId::of(b"pack");
        let idx = PackIndex::new(
            pack,
            100,
            vec![Entry {
                id: ObjectId::of(b"a"),
                offset: 8,
                length: 50,
                raw_size: 1,
            }],
        );
        assert!(cache.get(&pack).is_none());
        cache.put(&pack, &idx.encode());
        assert_eq!(cache.get(&pack), Some(idx.clone()));
        let mut bad = idx.encode();
        bad[60] ^= 1;
        cache.put(&pack, &bad);
        assert!(cache.get(&pack).is_none());
        assert!(!cache.path(&pack).exists(), "a damaged entry is dropped");
    }
}
