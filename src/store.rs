//! The local object store: `.dvx/objects/ab/cdef...`, and local packs in
//! `.dvx/objects/packs/` ([`packed`]).
//!
//! Owns: putting objects in (blobs from files, encoded trees and commits), reading them
//! back, checking them against their ids, listing and deleting them. Does not own which
//! objects are wanted (history, gc) or how files are written into the work tree
//! (workspace).
//!
//! Invariants: an object file's name is the BLAKE3 hash of its bytes; objects are written
//! to `tmp/` and renamed into place (a file adopted in a link mode, already whole and
//! read-only, is hard-linked straight to its name), so a crash leaves either no object
//! or a whole one;
//! object files are read-only, so a hard-linked or symlinked checkout cannot be edited
//! into corruption by accident; a blob is stored raw so checkout can reflink or hard-link
//! it. `add` stores exactly the bytes it hashed, and replaces a damaged object it meets
//! with them. Bytes handed out of the store (`read`, `open_verified`, `copy_verified`)
//! have been hashed and match their id: a damaged object is an error, never served.
//!
//! An object is loose (its own file) or packed (a range of a local pack that a download
//! wrote, see [`packed`]); readers do not see the difference, except that only a loose
//! object has a file of its own to clone or link ([`Store::unpack`] makes one).
//!
//! [`source`] holds [`ObjectSource`], the seam every reader of objects' bytes goes
//! through; the store is its local implementation.

mod fan_out;
pub mod packed;
pub mod source;

pub use source::{Arrivals, Fetched, ObjectSource};

use std::collections::HashSet;
use std::fs::{self, File, Metadata};
use std::io::{self, Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use rayon::prelude::*;

use fan_out::FanOut;
use packed::{PackSet, Packed};

use crate::atomic::{self, TempArea, TempFile, UnnamedFile};
use crate::hash::{self, ObjectId};
use crate::object::{Commit, DecodeError, Encode, Tree};
use crate::stat::Stat;

/// Reused objects older than this get a fresh mtime (see `has_intact`).
const FRESHEN_AFTER: std::time::Duration = std::time::Duration::from_secs(3600);

/// The mode of every object file: read-only for everyone (objects never change).
const OBJECT_MODE: u32 = 0o444;

/// Files at least this large are streamed in chunks; smaller ones are read whole.
const STREAM_THRESHOLD: u64 = 8 << 20;
const CHUNK: usize = 8 << 20;

/// Objects up to this size are read out whole and checked in memory (`open_verified`);
/// larger ones are checked in a first pass, so no byte is handed out before the check.
const VERIFY_IN_MEMORY: u64 = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("object {id} is not in the local store")]
    Missing { id: ObjectId },
    #[error("object {id} is corrupt: {reason}")]
    Corrupt { id: ObjectId, reason: String },
    #[error("{kind} {id} cannot be decoded")]
    Decode {
        id: ObjectId,
        kind: &'static str,
        #[source]
        source: DecodeError,
    },
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A source beyond the local store (a remote) could not deliver the object: it is
    /// unreachable, refuses access, or sent bytes that are not the object's.
    #[error("cannot fetch object {id} from {from}")]
    Fetch {
        id: ObjectId,
        from: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What `ingest` did with one file.
#[derive(Debug)]
pub enum Ingest {
    /// The file's bytes are in the store under `id`.
    Stored {
        id: ObjectId,
        size: u64,
        /// A new object was written (false: the store already had these bytes).
        new: bool,
        /// The file's stat after reading, equal to the one before in every field that
        /// a change of content would touch.
        stat: Stat,
    },
    /// The file changed while it was read; nothing was stored.
    Changed,
}

/// What `adopt` did with one file.
#[derive(Debug)]
pub enum Adopt {
    /// The file itself is now the object `id`: hard-linked into the store and read-only
    /// (so the work-tree file is read-only too). `stat` is its stat now.
    Linked { id: ObjectId, size: u64, stat: Stat },
    /// The store already had these bytes intact; the file was not touched. `stat` is its
    /// stat after reading.
    Known { id: ObjectId, size: u64, stat: Stat },
    /// The file changed while it was read; nothing was stored.
    Changed,
    /// The file cannot be hard-linked into the store (another file system, or one
    /// without hard links): the caller copies it instead, checking it against `stat`
    /// (its ctime may have moved since the caller's stat: its mode was changed and
    /// given back).
    Unlinkable { stat: Stat },
}

/// The local object store.
#[derive(Debug, Clone)]
pub struct Store {
    objects: PathBuf,
    temps: TempArea,
    /// Directories are made group-writable and setgid (`core.shared = "group"`), so
    /// every member of the group can add, replace and delete objects.
    group: bool,
    /// The local packs' indexes, read at first need and shared by every clone of this
    /// value (a download's workers add the packs they write).
    packs: Arc<RwLock<Option<PackSet>>>,
    /// Whether a download keeps runs of small objects as local packs (not when checkout
    /// hard-links or symlinks files to their objects, which needs loose objects).
    packs_downloads: bool,
}

/// Why [`Store::open_packed`] found nothing.
enum Miss {
    /// The table names no pack holding the object.
    Unknown,
    /// The table names a pack, and it is gone (another process rewrote it).
    Gone,
    Failed(Error),
}

impl Miss {
    fn into_error(self, id: &ObjectId) -> Error {
        match self {
            Miss::Unknown | Miss::Gone => Error::Missing { id: *id },
            Miss::Failed(e) => e,
        }
    }
}

/// An object opened for reading: its own file, or its range of a local pack.
#[derive(Debug)]
pub enum ObjectFile {
    Loose(File),
    Packed(io::Take<File>),
}

impl ObjectFile {
    /// The object's length in bytes, as stored.
    pub fn size(&self) -> io::Result<u64> {
        match self {
            ObjectFile::Loose(file) => Ok(file.metadata()?.len()),
            ObjectFile::Packed(range) => Ok(range.limit()),
        }
    }

    /// The object's own file, when it has one (to clone, or to hash where it stands).
    pub fn loose(&mut self) -> Option<&mut File> {
        match self {
            ObjectFile::Loose(file) => Some(file),
            ObjectFile::Packed(_) => None,
        }
    }
}

impl Read for ObjectFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ObjectFile::Loose(file) => file.read(buf),
            ObjectFile::Packed(range) => range.read(buf),
        }
    }
}

impl Store {
    /// An empty store in a new temporary directory (for unit tests of this and other
    /// modules); the directory lives as long as the returned guard.
    #[cfg(test)]
    pub(crate) fn scratch() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let objects = dir.path().join("objects");
        let tmp = dir.path().join("tmp");
        fs::create_dir_all(&objects).expect("mkdir");
        fs::create_dir_all(&tmp).expect("mkdir");
        (dir, Store::new(objects, tmp))
    }

    /// A store over `objects/`, writing temp files in `tmp/` (same file system).
    pub fn new(objects: PathBuf, tmp: PathBuf) -> Store {
        Store {
            objects,
            temps: TempArea::new(tmp),
            group: false,
            packs: Arc::default(),
            packs_downloads: true,
        }
    }

    /// The same store, told whether a download may keep small objects as local packs.
    pub fn packing_downloads(mut self, allowed: bool) -> Store {
        self.packs_downloads = allowed;
        self
    }

    /// Whether a download may keep small objects as local packs.
    pub fn packs_downloads(&self) -> bool {
        self.packs_downloads
    }

    /// The same store, shared with the group: directories it creates are group-writable
    /// and setgid (objects stay read-only for everyone: they never change).
    pub fn shared_with_group(mut self) -> Store {
        self.group = true;
        self
    }

    /// Create `objects/` and `tmp/` if they are absent (a store outside `.dvx/`, set by
    /// `core.store`), group-writable when shared.
    pub fn create_dirs(&self) -> Result<(), Error> {
        for dir in [self.objects.as_path(), self.temps.path()] {
            if !dir.is_dir() {
                atomic::create_dir_all(dir).map_err(io_err(dir))?;
            }
            self.share_dir(dir)?;
        }
        Ok(())
    }

    /// Make a directory of the store group-writable and setgid, when shared (a
    /// directory another user made is left alone: only its owner may change it).
    fn share_dir(&self, dir: &Path) -> Result<(), Error> {
        #[cfg(unix)]
        if self.group {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            let meta = fs::metadata(dir).map_err(io_err(dir))?;
            // SAFETY: geteuid has no preconditions and cannot fail.
            let mine = meta.uid() == unsafe { libc::geteuid() };
            let mode = meta.permissions().mode() & 0o7777;
            let wanted = mode | 0o2070;
            if mine && mode != wanted {
                atomic::set_permissions(dir, fs::Permissions::from_mode(wanted))
                    .map_err(io_err(dir))?;
            }
        }
        Ok(())
    }

    pub fn objects_dir(&self) -> &Path {
        &self.objects
    }

    pub fn tmp_dir(&self) -> &Path {
        self.temps.path()
    }

    /// The repository's temp area (`tmp/`, on the store's file system).
    pub fn temps(&self) -> &TempArea {
        &self.temps
    }

    /// Where the object with this id lives.
    pub fn path(&self, id: &ObjectId) -> PathBuf {
        self.fan_out_dir(id.as_bytes()[0]).join(&id.to_hex()[2..])
    }

    /// The directory of the loose objects whose ids start with `byte`.
    fn fan_out_dir(&self, byte: u8) -> PathBuf {
        self.objects.join(format!("{byte:02x}"))
    }

    pub fn contains(&self, id: &ObjectId) -> bool {
        self.path(id).exists() || self.with_packs(|set| set.contains(id))
    }

    /// Run `f` over the local packs' table, reading it first if this is the first need.
    fn with_packs<R>(&self, f: impl FnOnce(&PackSet) -> R) -> R {
        {
            let guard = self.packs.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(set) = guard.as_ref() {
                return f(set);
            }
        }
        self.with_packs_mut(|set| f(set))
    }

    /// Run `f` over the local packs' table to change it, reading it first if need be.
    fn with_packs_mut<R>(&self, f: impl FnOnce(&mut PackSet) -> R) -> R {
        let mut guard = self.packs.write().unwrap_or_else(PoisonError::into_inner);
        f(guard.get_or_insert_with(|| PackSet::load(&self.packs_dir())))
    }

    fn packs_dir(&self) -> PathBuf {
        self.objects.join(packed::DIR)
    }

    /// Where a packed object's bytes are; `None` for an object that is not packed.
    pub fn packed(&self, id: &ObjectId) -> Option<Packed> {
        self.with_packs(|set| set.find(id))
    }

    /// Local pack indexes that cannot be trusted, with why (`fsck` reports them).
    pub fn damaged_packs(&self) -> Vec<packed::Damaged> {
        self.with_packs(|set| set.damaged().to_vec())
    }

    /// The size of a stored object, loose or packed; `None` when absent.
    pub fn size(&self, id: &ObjectId) -> Option<u64> {
        match self.metadata(id) {
            Some(meta) => Some(meta.len()),
            None => self.packed(id).map(|p| p.len),
        }
    }

    /// Store objects a download decoded and hashed (each id with its bytes' range in
    /// `raw`; the caller found every range to hash to its id) as one local pack: the
    /// pack renamed into place, then its index, then the pack added to the table.
    pub(crate) fn put_packed(
        &self,
        raw: &[u8],
        objects: &[(ObjectId, Range<usize>)],
    ) -> Result<(), Error> {
        let encoded = packed::Encoded::new(objects);
        let dir = self.packs_dir();
        if !dir.is_dir() {
            atomic::create_dir_all(&dir).map_err(io_err(&dir))?;
            self.share_dir(&dir)?;
        }
        let pack = dir.join(format!("{}.pack", encoded.name));
        let index = dir.join(format!("{}.idx", encoded.name));
        // A pack or index already at its name (what a write cut short, or a rewrite
        // killed before it removed the old pack, left) is replaced: these bytes were
        // just checked, a leftover's were not, and a fresh modification time keeps gc
        // from taking the pack as old.
        let mut tmp = self.temp()?;
        tmp.write_all(packed::PACK_MAGIC)
            .and_then(|()| tmp.write_all(raw))
            .map_err(io_err(tmp.path()))?;
        make_read_only(&tmp)?;
        tmp.persist(&pack).map_err(io_err(&pack))?;
        let mut tmp = self.temp()?;
        tmp.write_all(&encoded.index).map_err(io_err(tmp.path()))?;
        make_read_only(&tmp)?;
        tmp.persist(&index).map_err(io_err(&index))?;
        self.with_packs_mut(|set| encoded.register(set, pack, index));
        Ok(())
    }

    /// Give a packed object a file of its own (for a checkout that hard-links, symlinks
    /// or clones files from their objects); the bytes are checked on the way. Nothing
    /// to do for an object that is loose already.
    pub fn unpack(&self, id: &ObjectId) -> Result<(), Error> {
        if self.metadata(id).is_some() {
            return Ok(());
        }
        let bytes = self.read(id)?;
        self.put_judged(id, &bytes, true)
    }

    /// Those of `ids` the store lacks, in their order. A pull into a fresh clone asks
    /// this of every file of a dataset before its first byte can be fetched, and on a
    /// virtual machine each failing `stat` costs microseconds: the packs' table is asked
    /// first (it is in memory, and a pulled dataset's blobs are packed), then each
    /// fan-out directory is looked at once ([`FanOut`]), and only the objects of large
    /// directories, or of one asked too few to be worth a look, are looked up one by
    /// one, on all cores.
    pub fn missing(&self, ids: &[ObjectId]) -> Vec<ObjectId> {
        let unpacked: Vec<ObjectId> =
            self.with_packs(|set| ids.iter().filter(|id| !set.contains(id)).copied().collect());
        let mut wanted = [0usize; 256];
        for id in &unpacked {
            wanted[usize::from(id.as_bytes()[0])] += 1;
        }
        let fan_outs: Vec<FanOut> = (0..=u8::MAX)
            .into_par_iter()
            .map(|byte| match wanted[usize::from(byte)] {
                0 => FanOut::Absent,
                asked => FanOut::read(&self.fan_out_dir(byte), asked),
            })
            .collect();
        unpacked
            .into_par_iter()
            .filter(|id| match &fan_outs[usize::from(id.as_bytes()[0])] {
                FanOut::Absent => true,
                FanOut::Listed(names) => !names.contains(&id.to_hex()[2..]),
                FanOut::AskEach => !self.path(id).exists(),
            })
            .collect()
    }

    /// Metadata of a stored object, `None` when absent.
    pub fn metadata(&self, id: &ObjectId) -> Option<Metadata> {
        fs::metadata(self.path(id)).ok()
    }

    /// The object's file, opened and not yet checked: for callers that check the bytes
    /// as they use them ([`Store::copy_verified`], [`Store::verify_opened`], an upload
    /// that hashes what it packs). Everyone else reads through [`ObjectSource::open`],
    /// which checks first.
    pub fn open(&self, id: &ObjectId) -> Result<ObjectFile, Error> {
        let path = self.path(id);
        match File::open(&path) {
            Ok(file) => Ok(ObjectFile::Loose(file)),
            Err(source) if source.kind() == io::ErrorKind::NotFound => {
                match self.open_packed(id) {
                    // Another process may have rewritten a pack since the table was read
                    // (its objects are in a new pack now): read the table again, once.
                    Err(Miss::Gone) => {
                        self.reload_packs();
                        self.open_packed(id).map_err(|miss| miss.into_error(id))
                    }
                    Err(Miss::Unknown) if self.reload_packs_if_stale() => {
                        self.open_packed(id).map_err(|miss| miss.into_error(id))
                    }
                    other => other.map_err(|miss| miss.into_error(id)),
                }
            }
            Err(source) => Err(Error::Io { path, source }),
        }
    }

    fn open_packed(&self, id: &ObjectId) -> Result<ObjectFile, Miss> {
        let Some(packed) = self.packed(id) else {
            return Err(Miss::Unknown);
        };
        packed
            .open()
            .map(ObjectFile::Packed)
            .map_err(|source| match source.kind() {
                io::ErrorKind::NotFound => Miss::Gone,
                _ => Miss::Failed(Error::Io {
                    path: packed.pack.to_path_buf(),
                    source,
                }),
            })
    }

    /// Read the packs' table again if their directory may have changed since it was
    /// read (see [`PackSet::is_stale`]); returns whether it did.
    fn reload_packs_if_stale(&self) -> bool {
        let dir = self.packs_dir();
        let stale = {
            let guard = self.packs.read().unwrap_or_else(PoisonError::into_inner);
            guard.as_ref().is_none_or(|set| set.is_stale(&dir))
        };
        if stale {
            self.reload_packs();
        }
        stale
    }

    fn reload_packs(&self) {
        let set = PackSet::load(&self.packs_dir());
        *self.packs.write().unwrap_or_else(PoisonError::into_inner) = Some(set);
    }

    /// An object's bytes, checked against its id (a damaged object is `Corrupt`).
    pub fn read(&self, id: &ObjectId) -> Result<Vec<u8>, Error> {
        let mut bytes = Vec::new();
        self.read_unchecked_into(id, &mut bytes)?;
        check_id(id, ObjectId::of(&bytes))?;
        Ok(bytes)
    }

    /// Append an object's bytes to `bytes`, not checked: for a caller that hashes them
    /// itself (an upload, which names damage its own way) and reuses one buffer.
    pub(crate) fn read_unchecked_into(
        &self,
        id: &ObjectId,
        bytes: &mut Vec<u8>,
    ) -> Result<(), Error> {
        self.open(id)?
            .read_to_end(bytes)
            .map_err(io_err(&self.path(id)))?;
        Ok(())
    }

    /// A reader of an object's bytes for copying them out (`dvx cat`), checked against
    /// the id before the first byte is handed out: small objects are read and checked in
    /// memory, larger ones are hashed in a first pass and then streamed.
    pub fn open_verified(&self, id: &ObjectId) -> Result<Box<dyn Read + Send>, Error> {
        self.open_verified_within(id, VERIFY_IN_MEMORY)
    }

    fn open_verified_within(
        &self,
        id: &ObjectId,
        in_memory: u64,
    ) -> Result<Box<dyn Read + Send>, Error> {
        let file = self.open(id)?;
        let path = self.path(id);
        let size = file.size().map_err(io_err(&path))?;
        if size <= in_memory || matches!(file, ObjectFile::Packed(_)) {
            drop(file);
            return Ok(Box::new(io::Cursor::new(self.read(id)?)));
        }
        self.verify(id)?;
        Ok(Box::new(file))
    }

    /// Copy object `id`, opened as `source` (see [`Store::open`]) and expected to hold
    /// `size` bytes, into `out` (a temp file the caller renames into place only on
    /// success, `out_path` naming it in errors), hashing the bytes as they are copied.
    /// Bytes that do not hash to `id` are `Corrupt`; what was written to `out` must then
    /// be thrown away. Returns the bytes copied.
    pub fn copy_verified(
        &self,
        id: &ObjectId,
        mut source: ObjectFile,
        size: u64,
        out: &mut TempFile,
        out_path: &Path,
    ) -> Result<u64, Error> {
        let path = self.path(id);
        // `size` only picks the way to copy; the hash checks what is really there.
        if size < STREAM_THRESHOLD {
            let mut bytes = Vec::with_capacity(size as usize + 1);
            source.read_to_end(&mut bytes).map_err(io_err(&path))?;
            check_id(id, ObjectId::of(&bytes))?;
            out.write_all(&bytes).map_err(io_err(out_path))?;
            return Ok(bytes.len() as u64);
        }
        let mut hasher = blake3::Hasher::new();
        let mut buf = vec![0u8; CHUNK];
        let mut total = 0u64;
        loop {
            let n = read_full(&mut source, &mut buf).map_err(io_err(&path))?;
            if n == 0 {
                break;
            }
            let chunk = &buf[..n];
            // As in `ingest_large`: hashing runs beside the write, so checking costs
            // little more than the copy.
            let (_, written) =
                rayon::join(|| hash::update(&mut hasher, chunk), || out.write_all(chunk));
            written.map_err(io_err(out_path))?;
            total += n as u64;
        }
        check_id(id, ObjectId::from(hasher.finalize()))?;
        Ok(total)
    }

    fn read_object<T: Encode>(&self, id: &ObjectId) -> Result<T, Error> {
        let bytes = self.read(id)?;
        T::decode(&bytes).map_err(|source| Error::Decode {
            id: *id,
            kind: T::KIND.name(),
            source,
        })
    }

    pub fn read_tree(&self, id: &ObjectId) -> Result<Tree, Error> {
        self.read_object(id)
    }

    pub fn read_commit(&self, id: &ObjectId) -> Result<Commit, Error> {
        self.read_object(id)
    }

    /// Store an encoded object (or any bytes) under their hash.
    pub fn put_bytes(&self, bytes: &[u8]) -> Result<ObjectId, Error> {
        let id = ObjectId::of(bytes);
        self.put_hashed(&id, bytes)?;
        Ok(id)
    }

    /// Store `bytes` as object `id`, which the caller has just found them to hash to (a
    /// download checks every object as it decodes it): [`Store::put_bytes`] without
    /// hashing them a second time. Never for bytes whose hash was not computed here and
    /// now: an object's name must be the hash of its bytes.
    pub(crate) fn put_hashed(&self, id: &ObjectId, bytes: &[u8]) -> Result<(), Error> {
        // One look: absent is the common case of a fetch, and then nothing needs checking.
        let absent = self.metadata(id).is_none();
        self.put_judged(id, bytes, absent)
    }

    /// [`Store::put_hashed`] for a download, which asks only for objects the store lacked
    /// a moment ago: no look first (installing never replaces an object that appeared
    /// meanwhile; that one is judged as `put_hashed` judges it).
    pub(crate) fn put_fetched(&self, id: &ObjectId, bytes: &[u8]) -> Result<(), Error> {
        self.put_judged(id, bytes, true)
    }

    /// Store `bytes` (hashed to `id` by the caller), `absent` saying whether the store
    /// lacked `id` when last looked at.
    fn put_judged(&self, id: &ObjectId, bytes: &[u8], absent: bool) -> Result<(), Error> {
        let size = bytes.len() as u64;
        if !absent && self.has_intact(id, size) {
            return Ok(());
        }
        if absent && self.put_unnamed(id, bytes)? {
            return Ok(());
        }
        let mut tmp = self.temp()?;
        tmp.write_all(bytes).map_err(io_err(tmp.path()))?;
        if absent {
            self.install_absent(tmp, id, size)?;
        } else {
            self.install(tmp, id, size)?;
        }
        Ok(())
    }

    /// Store `bytes` as the new object `id` through an unnamed file in its fan-out
    /// directory ([`UnnamedFile`]): no temp name, and the inode made where the object
    /// lives. `Ok(false)` when that cannot be done here, or when an object is at that
    /// name already: the caller then takes the temp area's way, which judges it.
    fn put_unnamed(&self, id: &ObjectId, bytes: &[u8]) -> Result<bool, Error> {
        let dest = self.path(id);
        let fanout = dest
            .parent()
            .expect("object paths have a fan-out directory");
        let exact = atomic::umask()
            .is_none_or(|mask| mask & OBJECT_MODE != 0)
            .then_some(OBJECT_MODE);
        let write = || UnnamedFile::write_new(fanout, OBJECT_MODE, exact, bytes, &dest);
        match write() {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                atomic::create_dir_all(fanout).map_err(io_err(fanout))?;
                self.share_dir(fanout)?;
                write()
            }
            other => other,
        }
        .map_err(io_err(&dest))
    }

    /// [`Store::install`] for an object just found absent: renamed into place unless
    /// something is there, without looking again first; a missing fan-out directory, or
    /// an object that appeared meanwhile (another writer's, or a damaged one), goes the
    /// way of `install`.
    fn install_absent(&self, tmp: TempFile, id: &ObjectId, size: u64) -> Result<bool, Error> {
        make_read_only(&tmp)?;
        let dest = self.path(id);
        match tmp.persist_new_or_keep(&dest) {
            Ok(()) => Ok(true),
            Err((e, tmp))
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::AlreadyExists
                ) =>
            {
                self.place(tmp, id, size)
            }
            Err((source, _)) => Err(Error::Io { path: dest, source }),
        }
    }

    pub fn put<T: Encode>(&self, value: &T) -> Result<ObjectId, Error> {
        self.put_bytes(&value.encode())
    }

    /// Copy a file into the store, hashing the bytes as they are copied, so what is stored
    /// is exactly what was hashed. `before` is the file's stat taken by the caller; if the
    /// file's stat differs after reading, nothing is stored.
    pub fn ingest(&self, path: &Path, before: &Stat) -> Result<Ingest, Error> {
        let mut file = File::open(path).map_err(io_err(path))?;
        if before.size < STREAM_THRESHOLD {
            self.ingest_small(path, &mut file, before)
        } else {
            self.ingest_large(path, &mut file, before)
        }
    }

    fn ingest_small(&self, path: &Path, file: &mut File, before: &Stat) -> Result<Ingest, Error> {
        let mut bytes = Vec::with_capacity(before.size as usize + 1);
        file.read_to_end(&mut bytes).map_err(io_err(path))?;
        let after = Stat::from_metadata(&file.metadata().map_err(io_err(path))?);
        if bytes.len() as u64 != before.size || !before.same_content_state(&after) {
            return Ok(Ingest::Changed);
        }
        let id = ObjectId::of(&bytes);
        let new = if self.has_intact(&id, bytes.len() as u64) {
            false
        } else {
            let mut tmp = self.temp()?;
            tmp.write_all(&bytes).map_err(io_err(tmp.path()))?;
            self.install(tmp, &id, bytes.len() as u64)?
        };
        Ok(Ingest::Stored {
            id,
            size: bytes.len() as u64,
            new,
            stat: after,
        })
    }

    fn ingest_large(&self, path: &Path, file: &mut File, before: &Stat) -> Result<Ingest, Error> {
        let mut tmp = self.temp()?;
        let mut hasher = blake3::Hasher::new();
        let mut buf = vec![0u8; CHUNK];
        let mut total = 0u64;
        loop {
            let n = read_full(file, &mut buf).map_err(io_err(path))?;
            if n == 0 {
                break;
            }
            let chunk = &buf[..n];
            // Hash and copy the same chunk at once; both run at memory speed and this
            // keeps a large add close to the cost of a plain copy.
            let (_, written) =
                rayon::join(|| hash::update(&mut hasher, chunk), || tmp.write_all(chunk));
            written.map_err(io_err(tmp.path()))?;
            total += n as u64;
        }
        let after = Stat::from_metadata(&file.metadata().map_err(io_err(path))?);
        if total != before.size || !before.same_content_state(&after) {
            return Ok(Ingest::Changed);
        }
        let id = ObjectId::from(hasher.finalize());
        let new = if self.has_intact(&id, total) {
            false
        } else {
            self.install(tmp, &id, total)?
        };
        Ok(Ingest::Stored {
            id,
            size: total,
            new,
            stat: after,
        })
    }

    /// Take a file into the store without copying its bytes: hash it (one read), then
    /// hard-link that very file into the store as the object and make it read-only, as
    /// DVC does when its cache type is a link. `before` is the caller's stat; if the file
    /// differs from it after reading, or is written before it is linked, nothing is
    /// stored. The caller turns the work-tree file into a link to the object where it is
    /// not one already ([`Adopt::Known`]).
    ///
    /// Made for thousands of small files, where system calls, not hashing, set the
    /// speed: the file is made read-only, then linked straight to its object's name (the
    /// open file itself, so the object is the very inode that was hashed). A link is
    /// atomic and never replaces anything, so an object that already exists answers
    /// `EEXIST` without being looked up first; only then is it checked (and freshened),
    /// and only a damaged one needs a temporary link, renamed over it. A fan-out
    /// directory is made when the first link into it finds it missing.
    pub fn adopt(&self, path: &Path, before: &Stat) -> Result<Adopt, Error> {
        let mut file = File::open(path).map_err(io_err(path))?;
        let (id, size) =
            hash::hash_open_file_sized(&mut file, before.size).map_err(io_err(path))?;
        let after = Stat::from_metadata(&file.metadata().map_err(io_err(path))?);
        if size != before.size || !before.same_content_state(&after) {
            return Ok(Adopt::Changed);
        }
        // Read-only first, so the object is never visible writable, not even after a
        // crash between the two steps. (A hard-linked checkout added again already is.)
        if after.mode & 0o7777 != 0o444
            && let Err(e) = set_mode_open(&file, path, 0o444)
        {
            return match e.kind() {
                // Not the file's owner: it cannot become a read-only object.
                io::ErrorKind::PermissionDenied => Ok(Adopt::Unlinkable { stat: after }),
                _ => Err(io_err(path)(e)),
            };
        }
        let dest = self.path(&id);
        match self.link_open(&file, path, &dest) {
            Ok(()) => self.adopted(&file, path, &dest, id, size, &after),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                self.adopt_existing(&file, path, id, size, &after)
            }
            Err(e) => not_adopted(&file, path, &after, io_err(&dest)(e)),
        }
    }

    /// The object `id` existed when `adopt` tried to link `file` as it. Intact (and now
    /// freshened): the file is given back as it was (`expected` holds its mode, size and
    /// mtime), for the caller to link to the object. Damaged, or taken by a gc since:
    /// `file` replaces it, through a temporary link renamed over it.
    fn adopt_existing(
        &self,
        file: &File,
        path: &Path,
        id: ObjectId,
        size: u64,
        expected: &Stat,
    ) -> Result<Adopt, Error> {
        if self.has_intact(&id, size) {
            return Ok(
                match give_back(file, path, expected).map_err(io_err(path))? {
                    Some(stat) => Adopt::Known { id, size, stat },
                    None => Adopt::Changed,
                },
            );
        }
        let tmp = self.temps.temp_path().map_err(io_err(self.temps.path()))?;
        if let Err(e) = atomic::link_open(file, path, &tmp, &self.temps) {
            return not_adopted(file, path, expected, io_err(&tmp)(e));
        }
        let dest = self.path(&id);
        if let Err(e) = atomic::rename(&tmp, &dest) {
            let _ = atomic::remove_file(&tmp);
            return not_adopted(file, path, expected, io_err(&dest)(e));
        }
        self.adopted(file, path, &dest, id, size, expected)
    }

    /// `file` was just linked as the object at `dest`: it is adopted if it was not
    /// written between the check after reading and the link (the link moves the ctime,
    /// so size and mtime tell; `expected` holds them). If it was, the object is taken
    /// back out of the store. An old file then enters the store young.
    fn adopted(
        &self,
        file: &File,
        path: &Path,
        dest: &Path,
        id: ObjectId,
        size: u64,
        expected: &Stat,
    ) -> Result<Adopt, Error> {
        let now = Stat::from_metadata(&file.metadata().map_err(io_err(path))?);
        if now.size != expected.size || now.mtime_ns != expected.mtime_ns {
            self.unlink_taken(dest, &now);
            // The file is the user's again, with its mode (its bytes are its own, changed).
            let _ = set_mode_open(file, path, expected.mode);
            return Ok(Adopt::Changed);
        }
        if is_old(now.mtime_ns) {
            return self.enter_young(file, path, dest, id, size, expected);
        }
        Ok(Adopt::Linked {
            id,
            size,
            stat: now,
        })
    }

    /// `file`, just linked as the object at `dest`, has its user's modification time,
    /// and gc takes an unreferenced object that looks old: a gc in another work tree
    /// could delete it before this add's index names it. So an old file is given a time
    /// of now (as a reused object is freshened, see [`Store::freshen`]), which touches
    /// the user's file, the object's other name, and is kept only if the object is still
    /// in place after that: a gc that moved it aside before judged it old and deletes it,
    /// and then it is linked again (a gc from now on sees it young and puts it back).
    fn enter_young(
        &self,
        file: &File,
        path: &Path,
        dest: &Path,
        id: ObjectId,
        size: u64,
        expected: &Stat,
    ) -> Result<Adopt, Error> {
        atomic::set_modified(file, path, std::time::SystemTime::now()).map_err(io_err(path))?;
        let young = Stat::from_metadata(&file.metadata().map_err(io_err(path))?);
        if dest.symlink_metadata().is_err() {
            // The file's mode and bytes are as hashed; only its time is now the new one.
            let expected = Stat {
                mode: expected.mode,
                ..young
            };
            return match self.link_open(file, path, dest) {
                Ok(()) => self.adopted(file, path, dest, id, size, &expected),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    self.adopt_existing(file, path, id, size, &expected)
                }
                Err(e) => not_adopted(file, path, &expected, io_err(dest)(e)),
            };
        }
        Ok(Adopt::Linked {
            id,
            size,
            stat: young,
        })
    }

    /// Remove the object at `dest` if it is the inode of `ours` (a file written while it
    /// was being adopted). Moved aside first, so an intact copy another writer put there
    /// meanwhile goes back, never lost. Best effort: what a failure leaves is a damaged
    /// object, which every reader detects and the next add of good bytes replaces.
    fn unlink_taken(&self, dest: &Path, ours: &Stat) {
        let Ok(aside) = self.temps.temp_path() else {
            return;
        };
        if atomic::rename(dest, &aside).is_err() {
            return;
        }
        let mine = fs::symlink_metadata(&aside).is_ok_and(|m| {
            let m = Stat::from_metadata(&m);
            m.ino == ours.ino && m.dev == ours.dev
        });
        if !mine {
            let _ = atomic::hard_link(&aside, dest);
        }
        let _ = atomic::remove_file(&aside);
    }

    /// Hard-link the open `file` (found at `path`) at `to` in the store, making `to`'s
    /// fan-out directory when this is its first object: once per directory, found
    /// missing by the link itself, so no other link pays a lookup for it. A link that
    /// fails again once the directory is there means the file itself is gone.
    fn link_open(&self, file: &File, path: &Path, to: &Path) -> io::Result<()> {
        match atomic::link_open(file, path, to, &self.temps) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // Made here, or by another link into it since this one failed: either
                // way the link is tried again.
                let fanout = to.parent().expect("object paths have a fan-out directory");
                atomic::create_dir_all(fanout)?;
                self.share_dir(fanout).map_err(io::Error::other)?;
                atomic::link_open(file, path, to, &self.temps)
            }
            linked => linked,
        }
    }

    /// The object a symlink with target `target` (as written) points at, if it points
    /// into this store at an intact object: such a link is one a symlink-mode `add` put
    /// in place of a user's file. The object is freshened, as a reused object is.
    pub fn linked_object(&self, target: &Path) -> Option<(ObjectId, u64)> {
        let name = target.file_name()?.to_str()?;
        let fanout = target.parent()?.file_name()?.to_str()?;
        let id: ObjectId = format!("{fanout}{name}").parse().ok()?;
        let path = self.path(&id);
        let points_here =
            target == path || fs::canonicalize(&path).is_ok_and(|canonical| canonical == target);
        if !points_here {
            return None;
        }
        let size = self.metadata(&id)?.len();
        self.has_intact(&id, size).then_some((id, size))
    }

    /// The store has this object intact: its size is right and its bytes hash to its id.
    /// An object damaged at rest (a bad disk, a stray write) is then replaced by the caller
    /// with the good bytes it has in hand, so adding a good copy of a file repairs the
    /// store. Reading the object costs less than writing it, which is what a new object
    /// costs, so re-adding known bytes never costs more than adding new ones.
    ///
    /// An object found this way is about to be referenced again, so it is freshened:
    /// gc never deletes an object younger than two hours, and without this a gc in
    /// another work tree could take an old, unreferenced object that an `add` here has
    /// just reused (git freshens reused objects for the same reason).
    fn has_intact(&self, id: &ObjectId, size: u64) -> bool {
        match self.metadata(id) {
            Some(m) if m.len() == size && self.verify(id).is_ok() => self.freshen(id, &m),
            _ => false,
        }
    }

    /// Set an object's mtime to now if it is older than an hour (rarely needed, and a
    /// hard-linked checkout shares the mtime, so it is not touched every time). Returns
    /// whether the object is still there: a gc may have taken it since it was looked at,
    /// and then the caller stores it again.
    fn freshen(&self, id: &ObjectId, metadata: &Metadata) -> bool {
        let now = std::time::SystemTime::now();
        let old = metadata
            .modified()
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age > FRESHEN_AFTER);
        if !old {
            return true;
        }
        let path = self.path(id);
        match File::open(&path) {
            // Best effort: an object that cannot be freshened (a read-only store) is at
            // worst collected by a gc racing this command, and `fsck` names it.
            Ok(file) => {
                let _ = atomic::set_modified(&file, &path, now);
                // A gc may have moved the object aside between the open and the new time,
                // judged it old and deleted it: the file then freshened is unlinked. Only
                // an object still in place after the freshening is kept (a gc that moves
                // it aside from now on sees it young and puts it back).
                path.symlink_metadata().is_ok()
            }
            Err(e) => e.kind() != io::ErrorKind::NotFound,
        }
    }

    /// A temp file for a new object, created read-only (its final mode, so most
    /// umasks need no `chmod` before it is installed; writing goes through the
    /// descriptor opened for writing).
    fn temp(&self) -> Result<TempFile, Error> {
        self.temps
            .temp_with_mode(OBJECT_MODE)
            .map_err(io_err(self.temps.path()))
    }

    /// Make a finished temp file the object `id`. Returns whether it was new.
    fn install(&self, tmp: TempFile, id: &ObjectId, size: u64) -> Result<bool, Error> {
        make_read_only(&tmp)?;
        self.place(tmp, id, size)
    }

    /// [`Store::install`] of a temp file already read-only.
    fn place(&self, tmp: TempFile, id: &ObjectId, size: u64) -> Result<bool, Error> {
        let dest = self.path(id);
        if let Some(existing) = self.metadata(id) {
            // A damaged copy is replaced with the good bytes; an intact one was installed
            // by another writer since `has_intact` looked.
            if existing.len() == size && self.verify(id).is_ok() {
                return Ok(false);
            }
            tmp.persist(&dest).map_err(io_err(&dest))?;
            return Ok(true);
        }
        let fanout = dest
            .parent()
            .expect("object paths have a fan-out directory");
        if !fanout.exists() {
            atomic::create_dir_all(fanout).map_err(io_err(fanout))?;
            self.share_dir(fanout)?;
        }
        tmp.persist_new(&dest).map_err(io_err(&dest))
    }

    /// Re-hash one object.
    pub fn verify(&self, id: &ObjectId) -> Result<(), Error> {
        let path = self.path(id);
        match hash::hash_file(&path) {
            Ok((actual, _)) => check_id(id, actual),
            Err(e) if e.kind() == io::ErrorKind::NotFound && self.packed(id).is_some() => {
                self.read(id).map(drop)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Error::Missing { id: *id }),
            Err(source) => Err(Error::Io { path, source }),
        }
    }

    /// Check that the file at `copy` (a copy of object `id` about to be renamed into the
    /// work tree) holds exactly the object's bytes.
    pub fn verify_copy(&self, id: &ObjectId, copy: &Path) -> Result<(), Error> {
        let (actual, _) = hash::hash_file(copy).map_err(io_err(copy))?;
        check_id(id, actual)
    }

    /// Check object `id` through `object`, the file opened by [`Store::open`] and not read
    /// yet: used for a reflink clone made from that open file, which holds exactly the
    /// blocks hashed here (objects are never changed in place, only replaced by rename).
    pub fn verify_opened(&self, id: &ObjectId, object: &mut File) -> Result<(), Error> {
        let (actual, _) = hash::hash_open_file(object).map_err(io_err(&self.path(id)))?;
        check_id(id, actual)
    }

    /// Every object id in the store (files whose names are not ids are skipped).
    pub fn list(&self) -> Result<Vec<ObjectId>, Error> {
        let mut ids = Vec::new();
        let top = match fs::read_dir(&self.objects) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(ids),
            Err(source) => {
                return Err(Error::Io {
                    path: self.objects.clone(),
                    source,
                });
            }
        };
        for fan in top {
            let fan = fan.map_err(io_err(&self.objects))?;
            let fan_name = fan.file_name();
            let Some(prefix) = fan_name.to_str().filter(|n| n.len() == 2) else {
                continue;
            };
            let dir = fan.path();
            for obj in fs::read_dir(&dir).map_err(io_err(&dir))? {
                let obj = obj.map_err(io_err(&dir))?;
                if let Some(rest) = obj.file_name().to_str()
                    && let Ok(id) = format!("{prefix}{rest}").parse::<ObjectId>()
                {
                    ids.push(id);
                }
            }
        }
        self.with_packs(|set| {
            if set.ids().next().is_some() {
                let loose: HashSet<ObjectId> = ids.iter().copied().collect();
                ids.extend(set.ids().filter(|id| !loose.contains(id)));
            }
        });
        Ok(ids)
    }

    /// Ids in the store that begin with `prefix` (hex, any case).
    pub fn find_prefix(&self, prefix: &str) -> Result<Vec<ObjectId>, Error> {
        let prefix = prefix.to_ascii_lowercase();
        if prefix.len() < 2 {
            return Ok(self
                .list()?
                .into_iter()
                .filter(|id| id.to_hex().starts_with(&prefix))
                .collect());
        }
        let dir = self.objects.join(&prefix[..2]);
        let mut out: Vec<ObjectId> = self.with_packs(|set| {
            set.ids()
                .filter(|id| id.to_hex().starts_with(&prefix))
                .copied()
                .collect()
        });
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                out.sort();
                return Ok(out);
            }
            Err(source) => return Err(Error::Io { path: dir, source }),
        };
        for obj in rd {
            let obj = obj.map_err(io_err(&dir))?;
            if let Some(rest) = obj.file_name().to_str()
                && rest.starts_with(&prefix[2..])
                && let Ok(id) = format!("{}{rest}", &prefix[..2]).parse::<ObjectId>()
            {
                out.push(id);
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Remove an object unless its modification time is young by `is_young` when it is
    /// already out of the way (an `add` elsewhere may reuse it and freshen it at any
    /// moment): it is renamed into this process's temp area first, then its time is
    /// checked; a young one goes back, the rest is deleted. An `add` whose freshening
    /// finds the object gone stores it again. Returns whether it was removed.
    pub fn remove_unless_young(
        &self,
        id: &ObjectId,
        is_young: &dyn Fn(io::Result<std::time::SystemTime>) -> bool,
    ) -> Result<bool, Error> {
        let path = self.path(id);
        let aside = self.temps.temp_path().map_err(io_err(self.temps.path()))?;
        match atomic::rename(&path, &aside) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(source) => return Err(Error::Io { path, source }),
        }
        let modified = fs::symlink_metadata(&aside).and_then(|m| m.modified());
        if is_young(modified) {
            // Freshened by a reuse between the caller's look and the rename: put it back
            // (unless the reuser, finding it gone, stored it again already).
            match atomic::hard_link(&aside, &path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(source) => return Err(Error::Io { path, source }),
            }
            let _ = atomic::remove_file(&aside);
            return Ok(false);
        }
        atomic::remove_file(&aside).map_err(io_err(&aside))?;
        Ok(true)
    }

    /// Remove the objects `ids`, loose and packed, each pack that held any rewritten
    /// without them (see [`Store::remove_packed`]); returns those removed, with their
    /// sizes.
    pub fn remove_all(&self, ids: &[ObjectId]) -> Result<Vec<(ObjectId, u64)>, Error> {
        let mut removed = Vec::new();
        let mut packed = HashSet::new();
        for id in ids {
            // Both copies go when an object is loose and packed too (a checkout that
            // hard-links unpacks one); it counts once.
            let in_pack = self.packed(id).is_some();
            if in_pack {
                packed.insert(*id);
            }
            if let Some(meta) = self.metadata(id) {
                self.remove(id)?;
                if !in_pack {
                    removed.push((*id, meta.len()));
                }
            }
        }
        removed.extend(self.remove_packed(&packed, &|_| false, false)?);
        Ok(removed)
    }

    /// Remove the packed copies of `ids`: each pack holding any of them is deleted when
    /// none of its objects stays, or else replaced by a new pack of those that stay
    /// (written and indexed first, then the old index and the old pack removed). A pack
    /// whose modification time `is_young` is kept whole. Returns the objects removed
    /// (with a `dry_run`, those that would be), with their sizes. An object also loose
    /// keeps that copy.
    pub fn remove_packed(
        &self,
        ids: &HashSet<ObjectId>,
        is_young: &dyn Fn(io::Result<std::time::SystemTime>) -> bool,
        dry_run: bool,
    ) -> Result<Vec<(ObjectId, u64)>, Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // Read afresh: another process may have rewritten packs since.
        self.reload_packs();
        let (doomed, mut kept) = self.with_packs(|set| packed::doomed(set, ids, is_young));
        let mut going = Vec::new();
        for pack in doomed {
            if !dry_run {
                if let packed::Rewrite::Keep(staying) = &pack.rewrite {
                    let (raw, ranges) = match packed::gather(&pack.pack, staying) {
                        Ok(gathered) => gathered,
                        // An object that stays is damaged: the pack is kept whole, so
                        // the damage stays where fsck finds it, and nothing of it goes.
                        Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                            kept.extend(pack.going.iter().map(|(id, _)| *id));
                            continue;
                        }
                        // Rewritten or removed by another process meanwhile.
                        Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                        Err(source) => {
                            return Err(Error::Io {
                                path: pack.pack.to_path_buf(),
                                source,
                            });
                        }
                    };
                    self.put_packed(&raw, &ranges)?;
                    // The new pack is on disk before the old one may go.
                    self.flush()?;
                }
                for file in [&pack.index, &*pack.pack] {
                    match atomic::remove_file(file) {
                        Err(e) if e.kind() != io::ErrorKind::NotFound => {
                            return Err(Error::Io {
                                path: file.to_path_buf(),
                                source: e,
                            });
                        }
                        _ => {}
                    }
                }
            }
            going.extend(pack.going);
        }
        if !dry_run {
            // The table is read again: packs went, and others took their objects.
            *self.packs.write().unwrap_or_else(PoisonError::into_inner) = None;
        }
        // An object in two packs goes with both and counts once; one a kept pack still
        // holds has not gone.
        let mut counted = HashSet::new();
        Ok(going
            .into_iter()
            .filter(|(id, _)| !kept.contains(id) && counted.insert(*id))
            .collect())
    }

    /// Local packs without an index, and indexes without a pack, whose modification
    /// time is not `is_young`: what a write cut short between a pack and its index left,
    /// or a removal between the old index and its pack (or a pack deleted by hand).
    /// Removed unless `dry_run`; returns how many.
    pub fn sweep_unindexed_packs(
        &self,
        is_young: &dyn Fn(io::Result<std::time::SystemTime>) -> bool,
        dry_run: bool,
    ) -> usize {
        let Ok(rd) = fs::read_dir(self.packs_dir()) else {
            return 0;
        };
        let mut swept = 0;
        for entry in rd.flatten() {
            let path = entry.path();
            let orphan = match path.extension().and_then(|x| x.to_str()) {
                Some("pack") => !path.with_extension("idx").exists(),
                // An index whose pack is gone names nothing that is here.
                Some("idx") => !path.with_extension("pack").exists(),
                _ => false,
            };
            if orphan && !is_young(entry.metadata().and_then(|m| m.modified())) {
                if !dry_run {
                    let _ = atomic::remove_file(&path);
                }
                swept += 1;
            }
        }
        swept
    }

    pub fn remove(&self, id: &ObjectId) -> Result<(), Error> {
        let path = self.path(id);
        match atomic::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(Error::Io { path, source }),
        }
    }

    /// Make every object written so far durable: one file-system flush for the whole
    /// batch, before any index or ref may point at them.
    pub fn flush(&self) -> Result<(), Error> {
        atomic::sync_filesystem(&self.objects).map_err(io_err(&self.objects))
    }
}

/// An object arriving in pieces from elsewhere (a remote): its bytes are hashed as they
/// are written to a temp file, and [`IncomingObject::finish`] installs them only if they
/// hash to the id they were announced under. Dropping it unfinished leaves nothing.
pub struct IncomingObject {
    id: ObjectId,
    tmp: TempFile,
    hasher: blake3::Hasher,
    size: u64,
}

impl Store {
    /// Start receiving the object `id`.
    pub fn incoming(&self, id: ObjectId) -> Result<IncomingObject, Error> {
        Ok(IncomingObject {
            id,
            tmp: self.temp()?,
            hasher: blake3::Hasher::new(),
            size: 0,
        })
    }
}

impl IncomingObject {
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        hash::update(&mut self.hasher, bytes);
        self.size += bytes.len() as u64;
        self.tmp.write_all(bytes).map_err(io_err(self.tmp.path()))
    }

    /// The bytes received so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Install the object if its bytes hash to its id (else [`Error::Corrupt`], and
    /// nothing enters the store). Returns whether it was new.
    pub fn finish(self, store: &Store) -> Result<bool, Error> {
        let actual = ObjectId::from(self.hasher.finalize());
        if actual != self.id {
            return Err(Error::Corrupt {
                id: self.id,
                reason: format!("received bytes hash to {}", actual.short()),
            });
        }
        if store.has_intact(&self.id, self.size) {
            return Ok(false);
        }
        store.install(self.tmp, &self.id, self.size)
    }
}

/// `Corrupt` unless bytes that hash to `actual` are the object `id`.
fn check_id(id: &ObjectId, actual: ObjectId) -> Result<(), Error> {
    if actual == *id {
        return Ok(());
    }
    Err(Error::Corrupt {
        id: *id,
        reason: format!("content hashes to {}", actual.short()),
    })
}

/// Read until `buf` is full or the reader ends.
pub(crate) fn read_full(file: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Give a new object's temp file the objects' mode, unless it was created with it
/// already (by [`Store::temp`], under a umask that takes no read bit away).
fn make_read_only(tmp: &TempFile) -> Result<(), Error> {
    if atomic::umask().is_none_or(|mask| mask & OBJECT_MODE != 0) {
        set_read_only(tmp).map_err(io_err(tmp.path()))?;
    }
    Ok(())
}

#[cfg(unix)]
fn set_read_only(tmp: &TempFile) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    tmp.set_permissions(fs::Permissions::from_mode(OBJECT_MODE))
}

/// Whether an object with this mtime is old enough to be freshened when it is reused.
fn is_old(mtime_ns: i64) -> bool {
    let now_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64);
    now_ns.saturating_sub(mtime_ns) > FRESHEN_AFTER.as_nanos() as i64
}

/// Set the mode of the open `file` (found at `path`).
#[cfg(unix)]
fn set_mode_open(file: &File, path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    atomic::set_file_permissions(file, path, fs::Permissions::from_mode(mode & 0o7777))
}

#[cfg(not(unix))]
fn set_mode_open(file: &File, path: &Path, mode: u32) -> io::Result<()> {
    let mut perm = file.metadata()?.permissions();
    perm.set_readonly(mode & 0o222 == 0);
    atomic::set_file_permissions(file, path, perm)
}

/// Give a file `adopt` made read-only back its mode from `expected`, and return its
/// stat now, or `None` if it was written meanwhile (its size or mtime moved).
fn give_back(file: &File, path: &Path, expected: &Stat) -> io::Result<Option<Stat>> {
    if expected.mode & 0o7777 != 0o444 {
        set_mode_open(file, path, expected.mode)?;
    }
    let now = Stat::from_metadata(&file.metadata()?);
    Ok((now.size == expected.size && now.mtime_ns == expected.mtime_ns).then_some(now))
}

/// `file`, which `adopt` made read-only, could not be linked into the store: it is given
/// back as it was. Another file system or a file with too many links is `Unlinkable`
/// (the caller copies it), a file removed or replaced meanwhile is `Changed`, anything
/// else is `error`.
fn not_adopted(file: &File, path: &Path, expected: &Stat, error: Error) -> Result<Adopt, Error> {
    let given_back = give_back(file, path, expected).map_err(io_err(path));
    let Error::Io { source, .. } = &error else {
        return Err(error);
    };
    match source.kind() {
        io::ErrorKind::CrossesDevices
        | io::ErrorKind::PermissionDenied
        | io::ErrorKind::TooManyLinks
        | io::ErrorKind::Unsupported => Ok(match given_back? {
            Some(stat) => Adopt::Unlinkable { stat },
            None => Adopt::Changed,
        }),
        io::ErrorKind::NotFound => Ok(Adopt::Changed),
        _ => Err(error),
    }
}

#[cfg(not(unix))]
fn set_read_only(tmp: &TempFile) -> io::Result<()> {
    let mut perm = tmp.file().metadata()?.permissions();
    perm.set_readonly(true);
    tmp.set_permissions(perm)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ingest_file(store: &Store, path: &Path) -> (ObjectId, bool) {
        let stat = Stat::from_metadata(&fs::metadata(path).expect("stat"));
        match store.ingest(path, &stat).expect("ingest") {
            Ingest::Stored { id, new, .. } => (id, new),
            Ingest::Changed => panic!("file did not change"),
        }
    }

    /// The names in this process's temp session of `store` (left-over temp files).
    fn session_names(store: &Store) -> Vec<std::ffi::OsString> {
        let session = store.temps().session().expect("session");
        fs::read_dir(session)
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect()
    }

    #[test]
    fn missing_names_what_is_neither_loose_nor_packed_in_the_order_asked() {
        let (_dir, store) = Store::scratch();
        let loose = ObjectId::of(b"loose");
        store.put_fetched(&loose, b"loose").expect("put");
        let raw = b"packed apacked b".to_vec();
        let (a, b) = (ObjectId::of(&raw[..8]), ObjectId::of(&raw[8..]));
        store
            .put_packed(&raw, &[(a, 0..8), (b, 8..16)])
            .expect("pack");
        // Absent beside the loose object (its fan-out directory exists), and absent where
        // no fan-out directory exists: four of each, so that both directories are looked
        // at rather than their objects one by one; one asked twice is answered twice.
        let with_hex = |hex: String| hex.parse::<ObjectId>().expect("id");
        let hex = loose.to_hex();
        let beside: Vec<ObjectId> = ["a", "b", "c", "d"]
            .iter()
            .filter(|last| !hex.ends_with(*last))
            .take(3)
            .map(|last| with_hex(format!("{}{last}", &hex[..63])))
            .collect();
        let other_byte = loose.as_bytes()[0].wrapping_add(1);
        let elsewhere: Vec<ObjectId> = ["0", "1", "2", "3"]
            .iter()
            .map(|last| with_hex(format!("{other_byte:02x}{}{last}", &hex[2..63])))
            .collect();
        assert!(!store.fan_out_dir(other_byte).exists());
        let asked = [
            elsewhere[0],
            a,
            beside[0],
            elsewhere[1],
            loose,
            beside[1],
            b,
            elsewhere[2],
            beside[2],
            elsewhere[3],
            elsewhere[0],
        ];
        let absent: Vec<ObjectId> = asked
            .iter()
            .filter(|id| ![a, b, loose].contains(id))
            .copied()
            .collect();
        assert_eq!(store.missing(&asked), absent);
        assert_eq!(store.missing(&[]), Vec::<ObjectId>::new());
        // One at a time: its directory is looked up object by object instead.
        for id in asked {
            assert_eq!(store.contains(&id), !store.missing(&[id]).contains(&id));
        }
    }

    #[test]
    fn a_fetched_object_is_installed_read_only_and_leaves_no_temp_file() {
        let (_dir, store) = Store::scratch();
        let bytes = b"fetched bytes".to_vec();
        let id = ObjectId::of(&bytes);
        store.put_fetched(&id, &bytes).expect("put");
        assert_eq!(store.read(&id).expect("read"), bytes);
        let meta = store.path(&id).metadata().expect("stat");
        assert!(meta.permissions().readonly());
        assert!(session_names(&store).is_empty(), "no temp file left");
        // Fetched again (a racing fetch stored it first): still one intact object.
        store.put_fetched(&id, &bytes).expect("put again");
        assert_eq!(store.list().expect("list"), vec![id]);
        assert!(session_names(&store).is_empty());
    }

    #[test]
    #[cfg(unix)]
    fn a_fetched_object_replaces_a_damaged_copy_and_keeps_an_intact_one() {
        use std::os::unix::fs::PermissionsExt;
        let (_dir, store) = Store::scratch();
        let bytes = b"the good bytes".to_vec();
        let id = ObjectId::of(&bytes);
        store.put_fetched(&id, &bytes).expect("put");
        let path = store.path(&id);
        let intact = path.metadata().expect("stat");
        store.put_fetched(&id, &bytes).expect("put intact");
        assert_eq!(
            path.metadata().expect("stat").modified().ok(),
            intact.modified().ok(),
            "an intact object is left as it is"
        );
        // Damage it at rest: a fetch that brings the good bytes repairs it.
        atomic::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
        atomic::write(&path, b"the bad bytes!").expect("damage");
        assert!(store.verify(&id).is_err());
        store.put_fetched(&id, &bytes).expect("put over damage");
        store.verify(&id).expect("repaired");
        assert!(session_names(&store).is_empty());
    }

    #[test]
    fn ingest_stores_once_and_read_back_is_identical() {
        let (dir, store) = Store::scratch();
        let small = dir.path().join("small");
        atomic::write(&small, b"hello").expect("write");
        let (id, new) = ingest_file(&store, &small);
        assert!(new);
        assert_eq!(id, ObjectId::of(b"hello"));
        let (id2, new2) = ingest_file(&store, &small);
        assert_eq!(id2, id);
        assert!(!new2);
        assert_eq!(store.read(&id).expect("read"), b"hello");
        store.verify(&id).expect("intact");
        assert!(
            store
                .path(&id)
                .metadata()
                .expect("stat")
                .permissions()
                .readonly()
        );
        assert_eq!(store.list().expect("list"), vec![id]);
        assert_eq!(
            store.find_prefix(&id.to_hex()[..6]).expect("prefix"),
            vec![id]
        );
    }

    #[test]
    fn large_files_stream_and_hash_like_b3sum() {
        let (dir, store) = Store::scratch();
        let big = dir.path().join("big");
        let data: Vec<u8> = (0..(STREAM_THRESHOLD as usize + 12345))
            .map(|i| (i * 7 % 256) as u8)
            .collect();
        atomic::write(&big, &data).expect("write");
        let (id, _) = ingest_file(&store, &big);
        assert_eq!(id, ObjectId::of(&data));
        assert_eq!(store.read(&id).expect("read"), data);
    }

    #[test]
    fn verify_names_corrupt_and_missing_objects() {
        let (_dir, store) = Store::scratch();
        let id = store.put_bytes(b"abc").expect("put");
        let path = store.path(&id);
        let mut perm = fs::metadata(&path).expect("stat").permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perm.set_readonly(false);
        fs::set_permissions(&path, perm).expect("chmod");
        atomic::write(&path, b"abd").expect("corrupt it");
        assert!(matches!(store.verify(&id), Err(Error::Corrupt { .. })));
        store.remove(&id).expect("rm");
        assert!(matches!(store.verify(&id), Err(Error::Missing { .. })));
        assert!(matches!(store.read_tree(&id), Err(Error::Missing { .. })));
    }

    /// A file `old` in `dir` holding `bytes`, last modified three hours ago: an object
    /// gc would judge old the moment it entered the store.
    fn old_file(dir: &Path, bytes: &[u8]) -> PathBuf {
        let path = dir.join("old");
        atomic::write(&path, bytes).expect("write");
        let three_hours_ago =
            std::time::SystemTime::now() - std::time::Duration::from_secs(3 * 3600);
        File::options()
            .write(true)
            .open(&path)
            .expect("open")
            .set_modified(three_hours_ago)
            .expect("age the file");
        path
    }

    #[test]
    fn a_reused_old_object_is_freshened_so_gc_keeps_it() {
        let (dir, store) = Store::scratch();
        let id = store.put_bytes(b"reused").expect("put");
        let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
        File::open(store.path(&id))
            .expect("open")
            .set_modified(two_hours_ago)
            .expect("age the object");
        let age = |store: &Store| {
            store
                .metadata(&id)
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.elapsed().ok())
                .expect("mtime")
        };
        assert!(age(&store) > std::time::Duration::from_secs(3600));
        let src = dir.path().join("src");
        atomic::write(&src, b"reused").expect("write");
        let (again, new) = ingest_file(&store, &src);
        assert_eq!(again, id);
        assert!(!new);
        assert!(
            age(&store) < std::time::Duration::from_secs(600),
            "reusing the object freshened it"
        );
    }

    /// Regression: in link mode the new object is the user's own file, with the user's
    /// modification time; an old file was an old object the moment it entered the store,
    /// so a gc in another work tree could delete it before the add's index named it.
    #[test]
    fn an_adopted_old_file_enters_the_store_young_so_gc_beside_add_keeps_it() {
        let (dir, store) = Store::scratch();
        let src = old_file(dir.path(), b"bytes of an old file");
        let stat = Stat::from_metadata(&fs::symlink_metadata(&src).expect("stat"));
        let Adopt::Linked { id, .. } = store.adopt(&src, &stat).expect("adopt") else {
            panic!("the file is linked into the store");
        };
        // gc's rule: nothing younger than two hours is deleted.
        let young = |modified: io::Result<std::time::SystemTime>| {
            modified
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age < std::time::Duration::from_secs(2 * 3600))
        };
        assert!(
            !store.remove_unless_young(&id, &young).expect("gc"),
            "a gc beside the add keeps the object it just adopted"
        );
        store.verify(&id).expect("the object is in place");
        assert_eq!(fs::read(&src).expect("read"), b"bytes of an old file");
    }

    /// Replace an object's bytes in place of the read-only original (as a bad disk or a
    /// stray write would).
    fn damage(store: &Store, id: &ObjectId, bytes: &[u8]) {
        let path = store.path(id);
        fs::remove_file(&path).expect("rm");
        atomic::write(&path, bytes).expect("damaged copy");
    }

    fn read_all(mut reader: Box<dyn Read + Send>) -> Vec<u8> {
        let mut out = Vec::new();
        reader.read_to_end(&mut out).expect("read");
        out
    }

    #[test]
    fn damaged_objects_are_never_read_out() {
        let (dir, store) = Store::scratch();
        let small = store.put_bytes(b"0123456789").expect("put");
        let big_bytes: Vec<u8> = (0..(STREAM_THRESHOLD as usize + 4321))
            .map(|i| (i * 13 % 256) as u8)
            .collect();
        let big = store.put_bytes(&big_bytes).expect("put");
        for (id, good) in [(small, &b"0123456789"[..]), (big, &big_bytes[..])] {
            // Intact: every way out hands over exactly the bytes.
            assert_eq!(store.read(&id).expect("read"), good);
            assert_eq!(read_all(store.open_verified(&id).expect("open")), good);
            assert_eq!(
                read_all(store.open_verified_within(&id, 0).expect("open")),
                good,
                "the hash-first path"
            );
            let mut out = TempFile::new_in(dir.path()).expect("out");
            let out_path = out.path().to_path_buf();
            let n = store
                .copy_verified(
                    &id,
                    store.open(&id).expect("open"),
                    good.len() as u64,
                    &mut out,
                    &out_path,
                )
                .expect("copy");
            assert_eq!(n, good.len() as u64);
            assert_eq!(fs::read(&out_path).expect("read"), good);
            store
                .verify_copy(&id, &out_path)
                .expect("the copy is intact");
            store
                .verify_opened(
                    &id,
                    store
                        .open(&id)
                        .expect("open")
                        .loose()
                        .expect("a loose object"),
                )
                .expect("the object is intact");

            // Same size, other bytes.
            let mut bad = good.to_vec();
            let last = bad.len() - 1;
            bad[last] ^= 1;
            damage(&store, &id, &bad);
            let corrupt = |r: Result<(), Error>| matches!(r, Err(Error::Corrupt { .. }));
            assert!(corrupt(store.read(&id).map(|_| ())));
            assert!(corrupt(store.open_verified(&id).map(|_| ())));
            assert!(corrupt(store.open_verified_within(&id, 0).map(|_| ())));
            let mut out = TempFile::new_in(dir.path()).expect("out");
            let out_path = out.path().to_path_buf();
            assert!(corrupt(
                store
                    .copy_verified(
                        &id,
                        store.open(&id).expect("open"),
                        good.len() as u64,
                        &mut out,
                        &out_path
                    )
                    .map(|_| ())
            ));
            assert!(corrupt(store.verify_copy(&id, &store.path(&id))));
            assert!(corrupt(
                store.verify_opened(
                    &id,
                    store
                        .open(&id)
                        .expect("open")
                        .loose()
                        .expect("a loose object")
                )
            ));
        }
    }

    #[test]
    fn adding_good_bytes_repairs_an_object_damaged_at_the_same_size() {
        let (dir, store) = Store::scratch();
        let id = store.put_bytes(b"tree bytes").expect("put");
        damage(&store, &id, b"TREE BYTES");
        assert_eq!(store.put_bytes(b"tree bytes").expect("put again"), id);
        store.verify(&id).expect("repaired by put");

        let src = dir.path().join("src");
        atomic::write(&src, b"file bytes").expect("write");
        let (id, _) = ingest_file(&store, &src);
        damage(&store, &id, b"FILE BYTES");
        let (again, new) = ingest_file(&store, &src);
        assert_eq!(again, id);
        assert!(new, "the good bytes were written");
        store.verify(&id).expect("repaired by ingest");
        assert!(
            store
                .path(&id)
                .metadata()
                .expect("stat")
                .permissions()
                .readonly()
        );
    }

    #[test]
    fn incoming_objects_enter_only_with_the_right_bytes() {
        let (_dir, store) = Store::scratch();
        let id = ObjectId::of(b"remote bytes");
        let mut wrong = store.incoming(id).expect("incoming");
        wrong.write(b"remote bytez").expect("write");
        assert!(matches!(wrong.finish(&store), Err(Error::Corrupt { .. })));
        assert!(!store.contains(&id));
        let session = store.temps().session().expect("session");
        assert_eq!(fs::read_dir(session).expect("tmp").count(), 0);
        let mut right = store.incoming(id).expect("incoming");
        right.write(b"remote ").expect("write");
        right.write(b"bytes").expect("write");
        assert!(right.finish(&store).expect("installed"));
        store.verify(&id).expect("intact");
    }

    #[test]
    fn a_truncated_object_is_replaced_by_a_good_copy() {
        let (dir, store) = Store::scratch();
        let id = store.put_bytes(b"0123456789").expect("put");
        let path = store.path(&id);
        fs::remove_file(&path).expect("rm");
        atomic::write(&path, b"01234").expect("truncated copy");
        let src = dir.path().join("src");
        atomic::write(&src, b"0123456789").expect("write");
        let (again, new) = ingest_file(&store, &src);
        assert_eq!(again, id);
        assert!(new);
        store.verify(&id).expect("repaired");
    }

    fn stat_of(path: &Path) -> Stat {
        Stat::from_metadata(&fs::symlink_metadata(path).expect("stat"))
    }

    #[cfg(unix)]
    fn mode_of(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).expect("stat").permissions().mode() & 0o7777
    }

    #[cfg(unix)]
    fn same_inode(a: &Path, b: &Path) -> bool {
        use std::os::unix::fs::MetadataExt;
        let (a, b) = (
            fs::metadata(a).expect("stat"),
            fs::metadata(b).expect("stat"),
        );
        (a.dev(), a.ino()) == (b.dev(), b.ino())
    }

    #[cfg(unix)]
    #[test]
    fn adopt_links_the_file_itself_as_its_read_only_object() {
        let (dir, store) = Store::scratch();
        let file = dir.path().join("file");
        atomic::write(&file, b"adopted bytes").expect("write");
        let before = stat_of(&file);
        let Adopt::Linked { id, size, stat } = store.adopt(&file, &before).expect("adopt") else {
            panic!("a new object is linked");
        };
        assert_eq!((id, size), (ObjectId::of(b"adopted bytes"), 13));
        assert!(same_inode(&file, &store.path(&id)), "no copy was made");
        assert_eq!(mode_of(&file), 0o444, "the file is the read-only object");
        assert_eq!(stat, stat_of(&file), "the stat after linking is the file's");
        store.verify(&id).expect("intact");
        assert_no_temps(&store);
    }

    #[cfg(unix)]
    #[test]
    fn adopt_of_bytes_the_store_has_intact_leaves_the_file_and_the_object_alone() {
        let (dir, store) = Store::scratch();
        let id = store.put_bytes(b"known bytes").expect("put");
        let object_before = stat_of(&store.path(&id));
        let file = dir.path().join("file");
        atomic::write(&file, b"known bytes").expect("write");
        let mode = mode_of(&file);
        let Adopt::Known {
            id: known, stat, ..
        } = store.adopt(&file, &stat_of(&file)).expect("adopt")
        else {
            panic!("the store has these bytes");
        };
        assert_eq!(known, id);
        assert!(!same_inode(&file, &store.path(&id)));
        assert_eq!(mode_of(&file), mode, "the file has its own mode back");
        assert_eq!(stat, stat_of(&file), "the stat to link it against");
        assert_eq!(stat_of(&store.path(&id)), object_before, "object untouched");
        assert_no_temps(&store);
    }

    #[cfg(unix)]
    #[test]
    fn adopt_replaces_a_damaged_object_with_the_file() {
        let (dir, store) = Store::scratch();
        let id = store.put_bytes(b"good bytes").expect("put");
        damage(&store, &id, b"GOOD BYTES");
        let file = dir.path().join("file");
        atomic::write(&file, b"good bytes").expect("write");
        let Adopt::Linked { id: linked, .. } = store.adopt(&file, &stat_of(&file)).expect("adopt")
        else {
            panic!("the damaged object is replaced by the file");
        };
        assert_eq!(linked, id);
        assert!(same_inode(&file, &store.path(&id)));
        assert_eq!(mode_of(&store.path(&id)), 0o444);
        store.verify(&id).expect("repaired");
        assert_no_temps(&store);
    }

    #[cfg(unix)]
    #[test]
    fn adopt_stores_nothing_for_a_file_changed_since_its_stat() {
        let (dir, store) = Store::scratch();
        let file = dir.path().join("file");
        atomic::write(&file, b"first").expect("write");
        let before = stat_of(&file);
        let mode = mode_of(&file);
        std::thread::sleep(std::time::Duration::from_millis(20));
        // Same size, other bytes: only the times tell.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&file)
            .and_then(|mut f| f.write_all(b"FIRST"))
            .expect("edit in place");
        assert!(matches!(
            store.adopt(&file, &before).expect("adopt"),
            Adopt::Changed
        ));
        assert_eq!(store.list().expect("list"), vec![]);
        assert_eq!(mode_of(&file), mode, "the file was not touched");
    }

    /// A write that lands after the check that follows reading, just before the link:
    /// the object made of the file is taken back out, and the file keeps its mode.
    #[cfg(unix)]
    #[test]
    fn a_file_written_while_it_is_linked_is_taken_back_out_of_the_store() {
        let (dir, store) = Store::scratch();
        let path = dir.path().join("file");
        atomic::write(&path, b"hashed bytes").expect("write");
        let mode = mode_of(&path);
        // Opened for writing before it turns read-only, as another program could have.
        let mut writer = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open");
        let file = File::open(&path).expect("open");
        let after = stat_of(&path);
        let id = ObjectId::of(b"hashed bytes");
        set_mode_open(&file, &path, 0o444).expect("chmod");
        let dest = store.path(&id);
        store.link_open(&file, &path, &dest).expect("link");
        std::thread::sleep(std::time::Duration::from_millis(20));
        writer.write_all(b"written!").expect("write");
        assert!(matches!(
            store
                .adopted(&file, &path, &dest, id, 12, &after)
                .expect("adopted"),
            Adopt::Changed
        ));
        assert!(
            !store.contains(&id),
            "no object holds bytes that are not its id's"
        );
        assert_eq!(mode_of(&path), mode, "the file has its mode back");
        assert_no_temps(&store);
    }

    /// A store on another file system than the file (here tmpfs): the file cannot be
    /// linked, is given back as it was, and can then be copied in against the stat
    /// `adopt` returns (its ctime moved when its mode was changed and given back).
    #[cfg(target_os = "linux")]
    #[test]
    fn adopt_gives_a_file_it_cannot_link_back_for_copying() {
        use std::os::unix::fs::MetadataExt;
        let Ok(shm) = tempfile::tempdir_in("/dev/shm") else {
            eprintln!("skipped: no /dev/shm to put a store on another file system");
            return;
        };
        let (dir, _) = Store::scratch();
        let device = |p: &Path| fs::metadata(p).expect("stat").dev();
        if device(shm.path()) == device(dir.path()) {
            eprintln!("skipped: /dev/shm is on the same file system as the temp dir");
            return;
        }
        let store = Store::new(shm.path().join("objects"), shm.path().join("tmp"));
        store.create_dirs().expect("dirs");
        // Its first object, so the fan-out directory is made on the way.
        let file = dir.path().join("file");
        atomic::write(&file, b"elsewhere").expect("write");
        let mode = mode_of(&file);
        let Adopt::Unlinkable { stat } = store.adopt(&file, &stat_of(&file)).expect("adopt") else {
            panic!("a file on another file system cannot be linked");
        };
        assert_eq!(mode_of(&file), mode, "given back with its own mode");
        assert_eq!(stat, stat_of(&file));
        let Ingest::Stored { id, new, .. } = store.ingest(&file, &stat).expect("ingest") else {
            panic!("the file did not change");
        };
        assert!(new);
        assert_eq!(store.read(&id).expect("read"), b"elsewhere");
        assert_no_temps(&store);
    }

    /// No temp file or link is left in this process's session of the store's temp area.
    fn assert_no_temps(store: &Store) {
        let session = store.temps().session().expect("session");
        let left: Vec<_> = fs::read_dir(session).expect("ls").flatten().collect();
        assert!(left.is_empty(), "{left:?}");
    }

    /// Where `/proc` is missing, the open file is linked through a temp link by path: the
    /// same outcomes (a new object linked, an intact one left alone, a damaged one
    /// replaced), and a file replaced at its path between the open and the link is not
    /// linked (the temp link names another inode).
    #[cfg(unix)]
    #[test]
    fn adopt_without_proc_links_through_a_checked_temp_link() {
        atomic::tests::without_proc_links(|| {
            let (dir, store) = Store::scratch();
            let file = dir.path().join("new");
            atomic::write(&file, b"linked by path").expect("write");
            let Adopt::Linked { id, .. } = store.adopt(&file, &stat_of(&file)).expect("adopt")
            else {
                panic!("a new object is linked");
            };
            assert!(same_inode(&file, &store.path(&id)));
            assert_eq!(mode_of(&file), 0o444);

            let known = dir.path().join("known");
            atomic::write(&known, b"linked by path").expect("write");
            let mode = mode_of(&known);
            let Adopt::Known { id: again, .. } =
                store.adopt(&known, &stat_of(&known)).expect("adopt")
            else {
                panic!("the store has these bytes");
            };
            assert_eq!(again, id);
            assert_eq!(mode_of(&known), mode);

            let damaged = store.put_bytes(b"damaged bytes").expect("put");
            damage(&store, &damaged, b"DAMAGED BYTES");
            let repair = dir.path().join("repair");
            atomic::write(&repair, b"damaged bytes").expect("write");
            let Adopt::Linked { id: repaired, .. } =
                store.adopt(&repair, &stat_of(&repair)).expect("adopt")
            else {
                panic!("the damaged object is replaced by the file");
            };
            assert_eq!(repaired, damaged);
            assert!(same_inode(&repair, &store.path(&damaged)));
            store.verify(&damaged).expect("repaired");

            // Opened and hashed, then another file renamed over its path.
            let path = dir.path().join("swapped");
            atomic::write(&path, b"opened bytes").expect("write");
            let opened = File::open(&path).expect("open");
            set_mode_open(&opened, &path, 0o444).expect("chmod");
            atomic::write(&path, b"other bytes!").expect("rename over it");
            let id = ObjectId::of(b"opened bytes");
            let linked = store.link_open(&opened, &path, &store.path(&id));
            assert_eq!(
                linked.expect_err("not linked").kind(),
                io::ErrorKind::NotFound
            );
            assert!(
                !store.contains(&id),
                "the other file did not become the object"
            );
            assert_no_temps(&store);
        });
    }

    /// A gc in another work tree that took the object between the link of an old file
    /// and its new time (it judged it old): the object is linked again, young.
    #[cfg(unix)]
    #[test]
    fn an_old_file_whose_object_a_gc_took_before_it_was_freshened_is_linked_again() {
        let (dir, store) = Store::scratch();
        let path = old_file(dir.path(), b"old bytes");
        let file = File::open(&path).expect("open");
        let after = stat_of(&path);
        set_mode_open(&file, &path, 0o444).expect("chmod");
        let id = ObjectId::of(b"old bytes");
        let dest = store.path(&id);
        store.link_open(&file, &path, &dest).expect("link");
        // What a gc does with an object it judges old.
        let young = |_: io::Result<std::time::SystemTime>| false;
        assert!(store.remove_unless_young(&id, &young).expect("gc"));
        let expected = Stat {
            mode: after.mode,
            ..stat_of(&path)
        };
        let Adopt::Linked { stat, .. } = store
            .enter_young(&file, &path, &dest, id, 9, &expected)
            .expect("enter young")
        else {
            panic!("the file is linked again");
        };
        assert!(
            same_inode(&path, &dest),
            "the object is back, the file itself"
        );
        assert_eq!(stat, stat_of(&path));
        assert!(!is_old(stat.mtime_ns), "and young");
        store.verify(&id).expect("intact");
    }

    /// Regression: two files whose objects share a fan-out directory not made yet,
    /// linked at once: the second link to fail found the directory the first had just
    /// made, took that to mean its own file was gone, and reported a file that nobody
    /// touched as changed while it was being read.
    #[cfg(unix)]
    #[test]
    fn files_linked_at_once_into_a_new_fan_out_directory_are_all_adopted() {
        // Contents whose objects share one fan-out directory.
        let mut same_fanout: Vec<Vec<u8>> = Vec::new();
        let mut i = 0u64;
        while same_fanout.len() < 8 {
            let bytes = format!("content {i}").into_bytes();
            if ObjectId::of(&bytes).to_hex().starts_with("00") {
                same_fanout.push(bytes);
            }
            i += 1;
        }
        for round in 0..40 {
            let (dir, store) = Store::scratch();
            let files: Vec<PathBuf> = same_fanout
                .iter()
                .enumerate()
                .map(|(n, bytes)| {
                    let path = dir.path().join(format!("f{n}"));
                    atomic::write(&path, bytes).expect("write");
                    path
                })
                .collect();
            let start = std::sync::Barrier::new(files.len());
            std::thread::scope(|scope| {
                for path in &files {
                    let (store, start) = (&store, &start);
                    scope.spawn(move || {
                        let stat = stat_of(path);
                        start.wait();
                        let adopted = store.adopt(path, &stat).expect("adopt");
                        assert!(
                            matches!(adopted, Adopt::Linked { .. }),
                            "round {round}: {} was not linked: {adopted:?}",
                            path.display()
                        );
                    });
                }
            });
        }
    }
}
