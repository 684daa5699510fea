//! [`ObjectSource`]: the one seam through which dvx reads the bytes of objects.
//!
//! Owns: the trait, what each of its methods promises, and its implementation for the
//! local [`Store`]. Checkout, restore, `cat`, `ls` and `fsck` read through it; a
//! remote-backed source (the `remote` room) implements it by fetching missing ids into
//! the local store, and a future FUSE mount reads byte ranges through it. Does not own
//! which objects a command wants (history, workspace) or where a remote keeps them.
//!
//! Invariants: every byte a source hands out (`open`, `read_range`) has been hashed and
//! matches its id, so a damaged object is an error naming it and is never served; `has`
//! answers from the local store alone, with no network I/O, so a lazy checkout can plan
//! with it; `fetch` lets an object into the local store only after its bytes were
//! verified against its id. Errors name the object id.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Arc;

use super::{Error, ObjectFile, Store, VERIFY_IN_MEMORY, check_id, io_err, read_full};
use crate::hash::{self, ObjectId};
use crate::progress::Progress;

/// Where the bytes of objects come from.
///
/// Commands plan with [`ObjectSource::has`] (which ids are absent), hand the absent ids
/// to [`ObjectSource::fetch`] in one batch, and then write from [`ObjectSource::store`]:
/// hard links, symlinks and reflink clones need the object's own file, which is why a
/// source that reaches elsewhere brings objects into the local store rather than
/// streaming them past it. `cat` and a mount read through [`ObjectSource::open`] and
/// [`ObjectSource::read_range`] instead.
///
/// `Sync`: a checkout writes many files at once from one source.
pub trait ObjectSource: Sync {
    /// The local store: where fetched objects land and what checkout writes files from.
    fn store(&self) -> &Store;

    /// Whether the bytes of `id` are in the local store now. Never does network I/O
    /// (lazy checkout plans with it); what it says is absent, a path records as not
    /// fetched until something fetches it.
    fn has(&self, id: &ObjectId) -> bool;

    /// Those of `ids` whose bytes are not in the local store now, in their order: what
    /// [`ObjectSource::has`] says of each, asked of many at once (the store answers a
    /// fresh clone's twenty thousand with a listing of each fan-out directory, not a
    /// `stat` each). A source whose `has` is not the store's must override this too.
    fn missing(&self, ids: &[ObjectId]) -> Vec<ObjectId> {
        self.store().missing(ids)
    }

    /// A reader of the whole object, checked against `id` before its first byte is handed
    /// out. An object this source cannot provide is [`Error::Missing`].
    fn open(&self, id: &ObjectId) -> Result<Box<dyn Read + Send>, Error>;

    /// `len` bytes of `id` from byte `offset`, fewer where the object ends first (none at
    /// or past its end), checked against `id`.
    fn read_range(&self, id: &ObjectId, offset: u64, len: u64) -> Result<Vec<u8>, Error>;

    /// Bring `ids` into the local store, each verified before it enters. Ids already
    /// local are skipped; ids this source cannot provide are returned as `unavailable`
    /// (not an error: the caller decides whether their paths stay not fetched). The
    /// caller flushes the store once afterwards, before an index or ref names them.
    fn fetch(&self, ids: &[ObjectId], progress: &dyn Progress) -> Result<Fetched, Error>;

    /// [`ObjectSource::fetch`], telling `arrivals` of each object it stores, with the
    /// bytes it verified, once the object is in the local store: so a checkout can write
    /// its files from those bytes instead of reading each object back. An object not
    /// announced (all of them, for a source that announces none, as here by default) is
    /// in the store or unavailable as after `fetch`, and the caller writes it from the
    /// store.
    fn fetch_announcing(
        &self,
        ids: &[ObjectId],
        progress: &dyn Progress,
        arrivals: &Arc<dyn Arrivals>,
    ) -> Result<Fetched, Error> {
        let _ = arrivals;
        self.fetch(ids, progress)
    }

    /// Where this source brings absent objects from (a remote, as shown to people), or
    /// `None` when the local store is all it has: then an absent blob is lost data,
    /// otherwise it is only not local (`fsck`). Answered without network I/O.
    fn fetches_from(&self) -> Option<&str> {
        None
    }
}

/// Told of the objects an [`ObjectSource::fetch_announcing`] stores, as they arrive
/// (from any thread, in any order, each at most once).
pub trait Arrivals: Send + Sync {
    /// Object `id` is in the local store now, and `bytes` are exactly the bytes that were
    /// hashed and found to be `id` before they were stored.
    fn arrived(&self, id: &ObjectId, bytes: &[u8]);
}

/// What a [`ObjectSource::fetch`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// Objects this call put into the local store.
    pub fetched: Vec<ObjectId>,
    /// The bytes they hold.
    pub bytes: u64,
    /// Objects that were local already.
    pub already_local: usize,
    /// Objects this source cannot provide; they are still absent.
    pub unavailable: Vec<ObjectId>,
}

impl Fetched {
    /// Add what a later fetch of other ids did.
    pub fn absorb(&mut self, later: Fetched) {
        self.fetched.extend(later.fetched);
        self.bytes += later.bytes;
        self.already_local += later.already_local;
        self.unavailable.extend(later.unavailable);
    }
}

/// `ids` without repeats, in their first order (a plan may name one blob at many paths).
pub fn distinct(ids: &[ObjectId]) -> Vec<ObjectId> {
    let mut seen = HashSet::with_capacity(ids.len());
    ids.iter().copied().filter(|id| seen.insert(*id)).collect()
}

/// The local store is a source with nothing beyond itself: what it lacks, it cannot
/// fetch.
impl ObjectSource for Store {
    fn store(&self) -> &Store {
        self
    }

    fn has(&self, id: &ObjectId) -> bool {
        self.contains(id)
    }

    fn open(&self, id: &ObjectId) -> Result<Box<dyn Read + Send>, Error> {
        self.open_verified(id)
    }

    fn read_range(&self, id: &ObjectId, offset: u64, len: u64) -> Result<Vec<u8>, Error> {
        self.read_range_within(id, offset, len, VERIFY_IN_MEMORY)
    }

    fn fetch(&self, ids: &[ObjectId], _progress: &dyn Progress) -> Result<Fetched, Error> {
        let mut out = Fetched::default();
        for id in distinct(ids) {
            if self.contains(&id) {
                out.already_local += 1;
            } else {
                out.unavailable.push(id);
            }
        }
        Ok(out)
    }
}

impl Store {
    /// [`ObjectSource::read_range`] of the local store. An object up to `in_memory`
    /// bytes is read whole and checked; a larger one is hashed through the open file
    /// (all cores) and the range then read from that same file, which holds exactly the
    /// bytes hashed (objects are replaced by rename, never changed in place).
    fn read_range_within(
        &self,
        id: &ObjectId,
        offset: u64,
        len: u64,
        in_memory: u64,
    ) -> Result<Vec<u8>, Error> {
        let path = self.path(id);
        let whole = || -> Result<Vec<u8>, Error> {
            let bytes = self.read(id)?;
            let start = offset.min(bytes.len() as u64) as usize;
            let end = offset.saturating_add(len).min(bytes.len() as u64) as usize;
            Ok(bytes[start..end].to_vec())
        };
        let mut file = match Store::open(self, id)? {
            ObjectFile::Loose(file) => file,
            // Packed objects are small ones: read whole.
            ObjectFile::Packed(_) => return whole(),
        };
        let size = file.metadata().map_err(io_err(&path))?.len();
        if size <= in_memory {
            drop(file);
            return whole();
        }
        let (actual, hashed) = hash::hash_open_file(&mut file).map_err(io_err(&path))?;
        check_id(id, actual)?;
        let want = hashed.saturating_sub(offset).min(len);
        let mut out = vec![0u8; want as usize];
        read_at(&mut file, offset, &mut out).map_err(io_err(&path))?;
        Ok(out)
    }
}

/// Fill `buf` from `offset` of `file`; the bytes must be there (the caller sized `buf`
/// from the length it hashed).
fn read_at(file: &mut File, offset: u64, buf: &mut [u8]) -> io::Result<()> {
    if buf.is_empty() {
        return Ok(());
    }
    file.seek(SeekFrom::Start(offset))?;
    if read_full(file, buf)? != buf.len() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the object ended before the range",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atomic;
    use crate::progress::Silent;

    fn read_all(mut reader: Box<dyn Read + Send>) -> Vec<u8> {
        let mut out = Vec::new();
        reader.read_to_end(&mut out).expect("read");
        out
    }

    /// Replace an object's bytes in place of the read-only original (as a bad disk
    /// would), keeping its size.
    fn damage(store: &Store, id: &ObjectId) {
        let path = store.path(id);
        let mut bytes = std::fs::read(&path).expect("read");
        bytes[0] ^= 0xff;
        std::fs::remove_file(&path).expect("rm");
        atomic::write(&path, &bytes).expect("damaged copy");
    }

    fn patterned(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn the_local_store_has_opens_and_reads_ranges_of_its_objects() {
        let (_dir, store) = Store::scratch();
        let source: &dyn ObjectSource = &store;
        let bytes = patterned(10_000);
        let id = store.put_bytes(&bytes).expect("put");
        let absent = ObjectId::of(b"never stored");

        assert!(source.has(&id));
        assert!(!source.has(&absent));
        assert_eq!(read_all(source.open(&id).expect("open")), bytes);
        assert_eq!(source.read_range(&id, 0, 10).expect("range"), &bytes[..10]);
        assert_eq!(
            source
                .read_range(&id, 9_990, 100)
                .expect("range at the end"),
            &bytes[9_990..],
            "a range past the end is cut at the end"
        );
        assert!(
            source
                .read_range(&id, 10_000, 5)
                .expect("at the end")
                .is_empty()
        );
        assert!(
            source
                .read_range(&id, 20_000, 5)
                .expect("past the end")
                .is_empty()
        );
        assert!(matches!(source.open(&absent), Err(Error::Missing { id }) if id == absent));
        assert!(matches!(
            source.read_range(&absent, 0, 1),
            Err(Error::Missing { id }) if id == absent
        ));
    }

    #[test]
    fn ranges_of_large_objects_are_read_from_the_file_that_was_hashed() {
        let (_dir, store) = Store::scratch();
        let bytes = patterned(300_000);
        let id = store.put_bytes(&bytes).expect("put");
        // Treat it as large: hashed through the open file, then read by offset.
        for (offset, len) in [(0, 1), (123_456, 70_000), (299_999, 10), (300_000, 1)] {
            let got = store.read_range_within(&id, offset, len, 0).expect("range");
            let start = (offset as usize).min(bytes.len());
            let end = ((offset + len) as usize).min(bytes.len());
            assert_eq!(got, &bytes[start..end], "range {offset}+{len}");
        }
    }

    #[test]
    fn fetch_from_the_local_store_counts_local_ids_and_names_absent_ones() {
        let (_dir, store) = Store::scratch();
        let here = store.put_bytes(b"here").expect("put");
        let gone = ObjectId::of(b"gone");
        let fetched =
            ObjectSource::fetch(&store, &[here, gone, here, gone], &Silent).expect("fetch");
        assert_eq!(
            fetched,
            Fetched {
                fetched: Vec::new(),
                bytes: 0,
                already_local: 1,
                unavailable: vec![gone],
            }
        );
        assert!(!store.contains(&gone), "nothing appeared");
    }

    #[test]
    fn a_damaged_object_is_never_served_whole_or_in_part() {
        let (_dir, store) = Store::scratch();
        let source: &dyn ObjectSource = &store;
        let small = store.put_bytes(&patterned(5_000)).expect("put");
        let large = store.put_bytes(&patterned(200_000)).expect("put");
        damage(&store, &small);
        damage(&store, &large);
        let corrupt = |r: Result<(), Error>, id: ObjectId| matches!(r, Err(Error::Corrupt { id: named, .. }) if named == id);
        for id in [small, large] {
            assert!(corrupt(source.open(&id).map(|_| ()), id));
            // Even a range far from the damaged first byte.
            assert!(corrupt(source.read_range(&id, 4_000, 10).map(|_| ()), id));
            assert!(source.has(&id), "damage does not make an object absent");
        }
        assert!(corrupt(
            store.read_range_within(&large, 100_000, 10, 0).map(|_| ()),
            large
        ));
    }
}
