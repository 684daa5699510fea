//! Local packs: many small objects a download brought in, kept in one file.
//!
//! Owns: the local pack format (`objects/packs/<name>.pack` and `<name>.idx`, see
//! docs/format.md), writing a pack, loading every pack's index into one table, finding an
//! object's bytes in a pack, and rewriting packs without the objects that are to go.
//!
//! Why: a pull of 20,000 small files made 20,000 object files beside the 20,000 files it
//! wrote in the work tree, and on a file system without reflinks (ext4) each object file
//! cost as much as the work-tree file, so the pull took twice a plain copy. A download
//! has every object of a run of a remote pack decoded and hashed in one buffer; kept as
//! one local pack, that is one file instead of hundreds. Only blobs are packed: they
//! name nothing, so removing a pack whole never breaks gc's order for commits and trees.
//!
//! Invariants: a pack is renamed into place before its index, and the index last (each
//! over any leftover of its name: the same name is the same entries, and a leftover's
//! bytes were never checked), so an index names only bytes that are whole on disk;
//! packed bytes are stored raw (a read is a plain range, never decompressed) and are
//! hashed whenever they are handed out, as a loose object's are; an index that fails
//! its checksum, or points past the end of its pack, is set aside as damaged (its objects
//! count as absent; `fsck` names it), never trusted; removing objects writes, checks and
//! flushes a new pack of the rest before the old one goes, each pack's own entries say
//! where its objects are (the shared table may point into another copy), and a pack
//! holding a damaged object that stays is kept whole.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::hash::ObjectId;

/// The directory of local packs, inside `objects/` (its name is not a fan-out
/// directory's two hex digits, so listing loose objects passes over it).
pub const DIR: &str = "packs";

/// First bytes of a local pack; the objects follow, raw, back to back.
pub const PACK_MAGIC: &[u8; 8] = b"dvxpack1";
/// First bytes of a local pack index.
const INDEX_MAGIC: &[u8; 8] = b"dvxidx01";
/// Where a pack's objects start.
pub const PACK_HEADER_LEN: u64 = PACK_MAGIC.len() as u64;
/// One index entry: the id, then offset and length in the pack (u64, little-endian).
const ENTRY_LEN: usize = 32 + 8 + 8;
/// The index's checksum: BLAKE3 of every byte before it; its hex is the pack's name.
const CHECKSUM_LEN: usize = 32;

/// Objects with where each one's bytes lie in a buffer.
pub type ObjectRanges = Vec<(ObjectId, Range<usize>)>;

/// Where a packed object's bytes are.
#[derive(Debug, Clone)]
pub struct Packed {
    pub pack: Arc<Path>,
    pub offset: u64,
    pub len: u64,
}

impl Packed {
    /// The pack opened at the object's first byte, reading no further than its last.
    pub fn open(&self) -> io::Result<io::Take<File>> {
        let mut file = File::open(&self.pack)?;
        file.seek(SeekFrom::Start(self.offset))?;
        Ok(file.take(self.len))
    }
}

/// One pack on disk.
#[derive(Debug)]
struct PackFile {
    pack: Arc<Path>,
    index: PathBuf,
    /// Its own entries: id, offset and length in this pack (the table's slot for an id
    /// may point into another pack holding the same object).
    entries: Vec<(ObjectId, u64, u64)>,
}

/// An index set aside: why it cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damaged {
    pub index: PathBuf,
    pub reason: String,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    pack: u32,
    offset: u64,
    len: u64,
}

/// Every local pack's index, as one table.
#[derive(Debug, Default)]
pub struct PackSet {
    packs: Vec<PackFile>,
    slots: HashMap<ObjectId, Slot>,
    damaged: Vec<Damaged>,
    /// The directory's modification time when it was listed: another process that adds
    /// or removes a pack changes it, and a reader that misses an object reads the table
    /// again only then.
    listed_at: Option<SystemTime>,
    /// That time was too close to the listing to tell a later change from it (file
    /// times advance in coarse ticks): a miss reads the table again, at most every
    /// [`RECHECK_EVERY`].
    racy: bool,
    /// When the table was read, and when a miss last looked at the directory (in
    /// milliseconds since then): misses come by the hundred thousand in a lazy checkout,
    /// and each may not stat the directory, let alone read every index again.
    loaded: Option<Instant>,
    checked_ms: AtomicU64,
}

/// How often misses may look at the packs' directory for another process's changes.
const RECHECK_EVERY: Duration = Duration::from_millis(50);

impl PackSet {
    /// Read the indexes in `dir` (none when it is absent). An index that does not read or
    /// does not check is recorded as damaged and its objects left out.
    pub fn load(dir: &Path) -> PackSet {
        let listed_at = modified(dir);
        let racy = listed_at.is_some_and(|at| {
            SystemTime::now()
                .duration_since(at)
                .map_or(true, |age| age < Duration::from_secs(2))
        });
        let mut set = PackSet {
            listed_at,
            racy,
            loaded: Some(Instant::now()),
            // Read just now: the first look is due a while from now.
            checked_ms: AtomicU64::new(1),
            ..PackSet::default()
        };
        let entries = match fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return set,
            Err(e) => {
                set.damaged.push(Damaged {
                    index: dir.to_path_buf(),
                    reason: format!("cannot be listed: {e}"),
                });
                return set;
            }
        };
        let mut indexes: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "idx"))
            .collect();
        // Names are checksums: sorted, the table is the same whatever the listing order.
        indexes.sort();
        for index in indexes {
            let pack = index.with_extension("pack");
            match read_index(&index, &pack) {
                Ok(entries) => set.insert(pack, index, &entries),
                // Removed since the listing (a rewrite removes the index, then its pack):
                // not damage.
                Err(_) if !index.exists() => {}
                Err(reason) => set.damaged.push(Damaged { index, reason }),
            }
        }
        set
    }

    fn insert(&mut self, pack: PathBuf, index: PathBuf, entries: &[(ObjectId, u64, u64)]) {
        let no = self.packs.len() as u32;
        for &(id, offset, len) in entries {
            // An object in two packs is read from the first that was loaded.
            self.slots.entry(id).or_insert(Slot {
                pack: no,
                offset,
                len,
            });
        }
        self.packs.push(PackFile {
            pack: Arc::from(pack),
            index,
            entries: entries.to_vec(),
        });
    }

    pub fn find(&self, id: &ObjectId) -> Option<Packed> {
        let slot = self.slots.get(id)?;
        Some(Packed {
            pack: self.packs[slot.pack as usize].pack.clone(),
            offset: slot.offset,
            len: slot.len,
        })
    }

    pub fn contains(&self, id: &ObjectId) -> bool {
        self.slots.contains_key(id)
    }

    /// Every packed id, each once.
    pub fn ids(&self) -> impl Iterator<Item = &ObjectId> {
        self.slots.keys()
    }

    pub fn damaged(&self) -> &[Damaged] {
        &self.damaged
    }

    /// Whether `dir` may have changed since this table was read from it (packs were
    /// added or removed by someone): asked on a miss, and answered by looking at the
    /// directory at most every [`RECHECK_EVERY`] (`false` in between).
    pub fn is_stale(&self, dir: &Path) -> bool {
        let Some(loaded) = self.loaded else {
            return true;
        };
        let now = loaded.elapsed().as_millis() as u64;
        let last = self.checked_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) < RECHECK_EVERY.as_millis() as u64 {
            return false;
        }
        self.checked_ms.store(now.max(1), Ordering::Relaxed);
        self.racy || modified(dir) != self.listed_at
    }

    /// The packs holding any of `ids`: each pack's path, its index's, the ids it holds
    /// (all of them, not only those asked for).
    fn holding(&self, ids: &HashSet<ObjectId>) -> Vec<&PackFile> {
        self.packs
            .iter()
            .filter(|p| p.entries.iter().any(|e| ids.contains(&e.0)))
            .collect()
    }
}

fn modified(dir: &Path) -> Option<SystemTime> {
    fs::metadata(dir).and_then(|m| m.modified()).ok()
}

/// A pack and its index, encoded: the pack's bytes are `PACK_MAGIC` then `raw`; the
/// index names each of `objects` (ids with their ranges in `raw`) once.
pub struct Encoded {
    pub name: String,
    pub index: Vec<u8>,
    entries: Vec<(ObjectId, u64, u64)>,
}

impl Encoded {
    pub fn new(objects: &[(ObjectId, Range<usize>)]) -> Encoded {
        let mut entries: Vec<(ObjectId, u64, u64)> = objects
            .iter()
            .map(|(id, r)| {
                (
                    *id,
                    PACK_HEADER_LEN + r.start as u64,
                    (r.end - r.start) as u64,
                )
            })
            .collect();
        entries.sort_by_key(|e| e.0);
        entries.dedup_by(|a, b| a.0 == b.0);
        let mut index = Vec::with_capacity(16 + entries.len() * ENTRY_LEN + CHECKSUM_LEN);
        index.extend_from_slice(INDEX_MAGIC);
        index.extend_from_slice(&(entries.len() as u64).to_le_bytes());
        for (id, offset, len) in &entries {
            index.extend_from_slice(id.as_bytes());
            index.extend_from_slice(&offset.to_le_bytes());
            index.extend_from_slice(&len.to_le_bytes());
        }
        let checksum = blake3::hash(&index);
        index.extend_from_slice(checksum.as_bytes());
        Encoded {
            name: checksum.to_hex().to_string(),
            index,
            entries,
        }
    }

    /// Add this pack (now whole on disk at `pack`, its index at `index`) to `set`.
    pub fn register(&self, set: &mut PackSet, pack: PathBuf, index: PathBuf) {
        // The table may have been read after the pack was written, and hold it already.
        if !set.packs.iter().any(|p| *p.pack == *pack) {
            set.insert(pack, index, &self.entries);
        }
    }
}

/// An index's entries, checked: magic, length, checksum, ids in strictly rising order,
/// and every range inside the pack beside it.
fn read_index(index: &Path, pack: &Path) -> Result<Vec<(ObjectId, u64, u64)>, String> {
    let bytes = fs::read(index).map_err(|e| format!("cannot be read: {e}"))?;
    let pack_len = match fs::metadata(pack) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err("its pack is missing".into());
        }
        Err(e) => return Err(format!("its pack cannot be read: {e}")),
    };
    decode_index(&bytes, pack_len)
}

fn decode_index(bytes: &[u8], pack_len: u64) -> Result<Vec<(ObjectId, u64, u64)>, String> {
    if bytes.len() < 16 + CHECKSUM_LEN || &bytes[..8] != INDEX_MAGIC {
        return Err("is not a local pack index".into());
    }
    let (body, checksum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
    if blake3::hash(body).as_bytes() != checksum {
        return Err("fails its checksum".into());
    }
    let count = u64::from_le_bytes(body[8..16].try_into().expect("8 bytes"));
    let table = &body[16..];
    if count.checked_mul(ENTRY_LEN as u64) != Some(table.len() as u64) {
        return Err(format!(
            "says {count} objects but holds {} bytes",
            table.len()
        ));
    }
    let mut out: Vec<(ObjectId, u64, u64)> = Vec::with_capacity(count as usize);
    for entry in table.chunks_exact(ENTRY_LEN) {
        let id = ObjectId::from_bytes(entry[..32].try_into().expect("32 bytes"));
        let offset = u64::from_le_bytes(entry[32..40].try_into().expect("8 bytes"));
        let len = u64::from_le_bytes(entry[40..48].try_into().expect("8 bytes"));
        if out.last().is_some_and(|last| last.0 >= id) {
            return Err("its ids are out of order".into());
        }
        if offset < PACK_HEADER_LEN || offset.checked_add(len).is_none_or(|end| end > pack_len) {
            return Err(format!(
                "object {id} lies outside its pack ({pack_len} bytes)"
            ));
        }
        out.push((id, offset, len));
    }
    Ok(out)
}

/// What to do with one pack when some of its objects are to go.
pub enum Rewrite {
    /// None of its objects stays: delete it.
    Delete,
    /// Write a new pack of these objects (ranges in the old pack), then delete it.
    Keep(Vec<(ObjectId, u64, u64)>),
}

/// A pack holding objects that are to go, and what to do with it.
pub struct Doomed {
    pub pack: Arc<Path>,
    pub index: PathBuf,
    /// The objects that go, with their sizes.
    pub going: Vec<(ObjectId, u64)>,
    pub rewrite: Rewrite,
}

/// The packs of `set` holding any of `ids`, and for each what stays and what goes;
/// and those of `ids` that a pack for which `keep_whole` says yes (given its
/// modification time) holds: that pack is left out, so a copy of them stays.
pub fn doomed(
    set: &PackSet,
    ids: &HashSet<ObjectId>,
    keep_whole: &dyn Fn(io::Result<SystemTime>) -> bool,
) -> (Vec<Doomed>, HashSet<ObjectId>) {
    let mut out = Vec::new();
    let mut kept = HashSet::new();
    for file in set.holding(ids) {
        if keep_whole(fs::metadata(&file.pack).and_then(|m| m.modified())) {
            kept.extend(
                file.entries
                    .iter()
                    .map(|e| e.0)
                    .filter(|id| ids.contains(id)),
            );
            continue;
        }
        let mut going = Vec::new();
        let mut staying = Vec::new();
        for &(id, offset, len) in &file.entries {
            if ids.contains(&id) {
                going.push((id, len));
            } else {
                staying.push((id, offset, len));
            }
        }
        out.push(Doomed {
            pack: file.pack.clone(),
            index: file.index.clone(),
            going,
            rewrite: if staying.is_empty() {
                Rewrite::Delete
            } else {
                Rewrite::Keep(staying)
            },
        });
    }
    (out, kept)
}

/// The bytes of `objects` (ranges in the pack at `pack`), back to back, with each one's
/// range in the result: the body of a pack that keeps them. Each is checked against its
/// id: an object that does not hash to it is an `InvalidData` error naming it, and the
/// caller keeps the old pack whole (its damage stays where `fsck` finds it).
pub fn gather(
    pack: &Path,
    objects: &[(ObjectId, u64, u64)],
) -> io::Result<(Vec<u8>, ObjectRanges)> {
    let mut file = File::open(pack)?;
    // Ranges were checked to lie inside the pack, but a crafted index may overlap them.
    let total = objects
        .iter()
        .fold(0u64, |sum, o| sum.saturating_add(o.2))
        .min(file.metadata()?.len());
    let mut raw = Vec::with_capacity(total as usize);
    let mut ranges = Vec::with_capacity(objects.len());
    let mut sorted = objects.to_vec();
    // In pack order, so the old pack is read front to back.
    sorted.sort_by_key(|o| o.1);
    for (id, offset, len) in sorted {
        file.seek(SeekFrom::Start(offset))?;
        let start = raw.len();
        (&mut file).take(len).read_to_end(&mut raw)?;
        if (raw.len() - start) as u64 != len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the pack ends before object {id}"),
            ));
        }
        if ObjectId::of(&raw[start..]) != id {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("object {id} in it is damaged"),
            ));
        }
        ranges.push((id, start..raw.len()));
    }
    Ok((raw, ranges))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{self, ObjectSource, Store};

    fn id(n: u8) -> ObjectId {
        ObjectId::of(&[n])
    }

    #[test]
    fn an_index_reads_back_as_written() {
        let objects = vec![(id(1), 0..3), (id(2), 3..10), (id(1), 0..3)];
        let encoded = Encoded::new(&objects);
        let entries = decode_index(&encoded.index, PACK_HEADER_LEN + 10).expect("decodes");
        assert_eq!(entries.len(), 2, "a repeated id is indexed once");
        let mut want = vec![(id(1), 8, 3), (id(2), 11, 7)];
        want.sort_by_key(|e| e.0);
        assert_eq!(entries, want);
        assert_eq!(
            encoded.name,
            blake3::hash(&encoded.index[..encoded.index.len() - 32])
                .to_hex()
                .to_string()
        );
    }

    #[test]
    fn a_damaged_or_lying_index_is_refused() {
        let encoded = Encoded::new(&[(id(1), 0..3), (id(2), 3..10)]);
        let mut flipped = encoded.index.clone();
        flipped[20] ^= 1;
        assert_eq!(
            decode_index(&flipped, 100),
            Err("fails its checksum".into())
        );
        let short = decode_index(&encoded.index, PACK_HEADER_LEN + 9).expect_err("too short");
        assert!(short.contains("lies outside its pack"), "{short}");
        assert!(decode_index(b"not an index at all, no", 100).is_err());
    }

    /// Objects of 1-2 KiB, distinct, with their bytes back to back.
    fn objects(n: usize) -> (Vec<u8>, ObjectRanges, Vec<Vec<u8>>) {
        let mut raw = Vec::new();
        let mut ranges = Vec::new();
        let mut each = Vec::new();
        for i in 0..n {
            let bytes: Vec<u8> = (0..1000 + i * 17)
                .map(|j| ((i * 7 + j * 13) % 251) as u8)
                .collect();
            let start = raw.len();
            raw.extend_from_slice(&bytes);
            ranges.push((ObjectId::of(&bytes), start..raw.len()));
            each.push(bytes);
        }
        (raw, ranges, each)
    }

    fn pack_files(store: &Store) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(store.objects_dir().join(DIR))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Damage a read-only file of the store as a bad disk would: the bits of `mask` of
    /// byte `at` flipped (the file replaced, since it cannot be written).
    fn flip(path: &Path, at: usize, mask: u8) {
        let mut bytes = fs::read(path).expect("read");
        bytes[at] ^= mask;
        fs::remove_file(path).expect("rm");
        fs::write(path, &bytes).expect("write");
    }

    /// A store over the same directories that reads the pack table afresh, as the next
    /// command would.
    fn reopened(store: &Store) -> Store {
        Store::new(
            store.objects_dir().to_path_buf(),
            store.tmp_dir().to_path_buf(),
        )
    }

    #[test]
    fn a_packed_object_reads_as_a_loose_one_does() {
        let (_dir, store) = Store::scratch();
        let (raw, ranges, each) = objects(40);
        store.put_packed(&raw, &ranges).expect("pack");
        let files = pack_files(&store);
        assert_eq!(files.len(), 2, "one pack and its index: {files:?}");
        for view in [store.clone(), reopened(&store)] {
            let mut listed = view.list().expect("list");
            listed.sort();
            let mut want: Vec<ObjectId> = ranges.iter().map(|r| r.0).collect();
            want.sort();
            assert_eq!(listed, want, "each packed object listed once");
            for ((id, _), bytes) in ranges.iter().zip(&each) {
                assert!(view.contains(id) && !view.path(id).exists());
                assert_eq!(view.size(id), Some(bytes.len() as u64));
                assert_eq!(&view.read(id).expect("read"), bytes);
                view.verify(id).expect("verify");
                let mut opened = view.open(id).expect("open");
                assert_eq!(opened.size().expect("size"), bytes.len() as u64);
                assert!(opened.loose().is_none());
                let source: &dyn ObjectSource = &view;
                assert_eq!(source.read_range(id, 10, 5).expect("range"), &bytes[10..15]);
                let mut out = Vec::new();
                source
                    .open(id)
                    .expect("open")
                    .read_to_end(&mut out)
                    .expect("read");
                assert_eq!(&out, bytes);
                let hex = id.to_hex();
                assert_eq!(view.find_prefix(&hex[..6]).expect("prefix"), [*id]);
            }
        }
        // Stored loose as well, an object is listed once and read from its own file.
        let (id, range) = &ranges[3];
        store.put_bytes(&raw[range.clone()]).expect("loose");
        assert_eq!(store.list().expect("list").len(), 40);
        assert!(store.open(id).expect("open").loose().is_some());
    }

    #[test]
    fn removing_packed_objects_rewrites_their_pack_and_removes_an_emptied_one() {
        let (_dir, store) = Store::scratch();
        let (raw, ranges, each) = objects(40);
        store.put_packed(&raw, &ranges).expect("pack");
        let going: Vec<ObjectId> = ranges[..10].iter().map(|r| r.0).collect();
        let removed = store.remove_all(&going).expect("remove");
        assert_eq!(removed.len(), 10);
        assert!(removed.contains(&(going[0], each[0].len() as u64)));
        let before = pack_files(&store);
        assert_eq!(before.len(), 2, "the old pack was replaced: {before:?}");
        for view in [store.clone(), reopened(&store)] {
            for ((id, _), bytes) in ranges.iter().zip(&each) {
                if going.contains(id) {
                    assert!(!view.contains(id));
                    assert!(matches!(view.read(id), Err(store::Error::Missing { .. })));
                } else {
                    assert_eq!(&view.read(id).expect("kept"), bytes);
                }
            }
        }
        // A young pack is kept whole; a dry run removes nothing.
        let rest: HashSet<ObjectId> = ranges[10..].iter().map(|r| r.0).collect();
        assert!(
            store
                .remove_packed(&rest, &|_| true, false)
                .expect("young")
                .is_empty()
        );
        assert_eq!(
            store
                .remove_packed(&rest, &|_| false, true)
                .expect("dry")
                .len(),
            30
        );
        assert_eq!(pack_files(&store), before);
        // The last objects of a pack take it with them.
        assert_eq!(
            store
                .remove_packed(&rest, &|_| false, false)
                .expect("all")
                .len(),
            30
        );
        assert!(pack_files(&store).is_empty());
        assert!(reopened(&store).list().expect("list").is_empty());
    }

    #[test]
    fn a_damaged_index_hides_its_objects_and_is_reported() {
        let (_dir, store) = Store::scratch();
        let (raw, ranges, _) = objects(33);
        store.put_packed(&raw, &ranges).expect("pack");
        let dir = store.objects_dir().join(DIR);
        let index = fs::read_dir(&dir)
            .expect("packs")
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "idx"))
            .expect("an index");
        flip(&index, 30, 1);
        let fresh = reopened(&store);
        assert!(!fresh.contains(&ranges[0].0));
        let damaged = fresh.damaged_packs();
        assert_eq!(damaged.len(), 1);
        assert_eq!(damaged[0].index, index);
        assert_eq!(damaged[0].reason, "fails its checksum");
        // Its pack without the index is what a cut-short write leaves: swept when old.
        fs::remove_file(&index).expect("rm");
        assert_eq!(fresh.sweep_unindexed_packs(&|_| true, false), 0);
        assert_eq!(fresh.sweep_unindexed_packs(&|_| false, true), 1);
        assert_eq!(pack_files(&fresh).len(), 1);
        assert_eq!(fresh.sweep_unindexed_packs(&|_| false, false), 1);
        assert!(pack_files(&fresh).is_empty());
    }

    #[test]
    fn damaged_packed_bytes_are_never_served_and_unpack_gives_an_object_its_own_file() {
        let (_dir, store) = Store::scratch();
        let (raw, ranges, each) = objects(32);
        store.put_packed(&raw, &ranges).expect("pack");
        let (good, _) = &ranges[1];
        store.unpack(good).expect("unpack");
        assert!(store.path(good).exists());
        assert_eq!(fs::read(store.path(good)).expect("loose"), each[1]);

        let (bad, range) = &ranges[5];
        let pack = store.packed(bad).expect("packed").pack.to_path_buf();
        flip(&pack, PACK_HEADER_LEN as usize + range.start + 7, 0x40);
        assert!(matches!(store.read(bad), Err(store::Error::Corrupt { .. })));
        assert!(matches!(
            store.verify(bad),
            Err(store::Error::Corrupt { .. })
        ));
        assert!(store.open_verified(bad).is_err());
        assert!(store.unpack(bad).is_err());
        assert!(
            !store.path(bad).exists(),
            "damaged bytes never become an object"
        );
    }

    #[test]
    fn an_object_in_two_packs_is_removed_from_both_and_the_rest_stays_whole() {
        let (_dir, store) = Store::scratch();
        let (_, _, each) = objects(60);
        let pack_of = |from: usize, to: usize| {
            let mut raw = Vec::new();
            let mut ranges = Vec::new();
            // Each pack lays its objects out differently.
            for bytes in each[from..to].iter().rev() {
                let start = raw.len();
                raw.extend_from_slice(bytes);
                ranges.push((ObjectId::of(bytes), start..raw.len()));
            }
            store.put_packed(&raw, &ranges).expect("pack");
        };
        pack_of(0, 40);
        pack_of(20, 60);
        let id = |i: usize| ObjectId::of(&each[i]);
        // One only in the first pack, one in both.
        let removed = store.remove_all(&[id(3), id(25)]).expect("remove");
        assert_eq!(removed.len(), 2, "each counted once: {removed:?}");
        for view in [store.clone(), reopened(&store)] {
            assert!(!view.contains(&id(3)) && !view.contains(&id(25)));
            for (i, bytes) in each.iter().enumerate() {
                if i != 3 && i != 25 {
                    assert_eq!(&view.read(&id(i)).expect("kept"), bytes, "object {i}");
                }
            }
        }
    }

    #[test]
    fn a_pack_whose_staying_object_is_damaged_is_kept_whole() {
        let (_dir, store) = Store::scratch();
        let (raw, ranges, _) = objects(40);
        store.put_packed(&raw, &ranges).expect("pack");
        let (bad, range) = &ranges[10];
        let pack = store.packed(bad).expect("packed").pack.to_path_buf();
        flip(&pack, PACK_HEADER_LEN as usize + range.start, 1);
        let before = pack_files(&store);
        let (going, _) = &ranges[0];
        assert!(store.remove_all(&[*going]).expect("remove").is_empty());
        assert_eq!(pack_files(&store), before, "nothing rewritten");
        assert!(store.contains(going));
        assert!(matches!(store.read(bad), Err(store::Error::Corrupt { .. })));
    }

    #[test]
    fn a_reader_finds_objects_another_process_moved_to_a_new_pack() {
        let (_dir, store) = Store::scratch();
        let (raw, ranges, each) = objects(40);
        store.put_packed(&raw, &ranges).expect("pack");
        assert!(store.contains(&ranges[5].0), "the table is read");
        // Another process drops one object: the pack is rewritten under a new name.
        reopened(&store).remove_all(&[ranges[0].0]).expect("remove");
        assert_eq!(&store.read(&ranges[5].0).expect("found again"), &each[5]);
        assert!(matches!(
            store.read(&ranges[0].0),
            Err(store::Error::Missing { .. })
        ));
    }

    #[test]
    fn an_object_a_young_pack_also_holds_is_not_counted_removed() {
        let (_dir, store) = Store::scratch();
        let (raw, ranges, _) = objects(40);
        store.put_packed(&raw, &ranges).expect("old pack");
        let old = store
            .packed(&ranges[0].0)
            .expect("packed")
            .pack
            .to_path_buf();
        // Packs are read-only: made writable to set their time.
        let mut perms = fs::metadata(&old).expect("stat").permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        fs::set_permissions(&old, perms).expect("chmod");
        File::options()
            .write(true)
            .open(&old)
            .and_then(|f| f.set_modified(SystemTime::now() - Duration::from_secs(86_400)))
            .expect("a day old");
        // A young pack holding two of the same objects, laid out its own way.
        let mut young_raw = Vec::new();
        let mut young_ranges = Vec::new();
        for (id, range) in [&ranges[1], &ranges[0]] {
            let start = young_raw.len();
            young_raw.extend_from_slice(&raw[range.clone()]);
            young_ranges.push((*id, start..young_raw.len()));
        }
        store
            .put_packed(&young_raw, &young_ranges)
            .expect("young pack");
        let is_young = |modified: io::Result<SystemTime>| {
            modified.is_ok_and(|m| m > SystemTime::now() - Duration::from_secs(7_200))
        };
        let going: HashSet<ObjectId> = [ranges[0].0, ranges[2].0].into();
        let removed = store
            .remove_packed(&going, &is_young, false)
            .expect("remove");
        assert_eq!(
            removed.len(),
            1,
            "only the object no kept pack holds: {removed:?}"
        );
        assert_eq!(removed[0].0, ranges[2].0);
        assert!(store.contains(&ranges[0].0), "the young pack's copy stays");
        assert!(!store.contains(&ranges[2].0));
    }
}
