//! The base file's entries, read lazily.
//!
//! A million entries decoded up front cost more than a command that touches a few of
//! them (`add` of one file, `commit`) should pay: hundreds of MiB of allocations. So the
//! file is mapped, one pass over its bytes finds where each entry starts and checks that
//! every field is well formed (so decoding one later cannot fail), and an entry is
//! decoded, with the others of its chunk, the first time it is asked for. Paths are
//! compared in place, so lookups and range queries decode only the chunks they return.
//! A command that goes through every entry (a full `status`) decodes them all at once,
//! on all cores.
//!
//! The file is never changed in place (it is replaced by rename), so the mapping holds
//! the bytes that were checksummed for as long as it lives.

use std::cmp::Ordering;
use std::sync::OnceLock;

use rayon::prelude::*;

use super::CachedTree;
use super::entry::Entry;
use super::file::{self, DecodeError};
use crate::hash::{ID_LEN, ObjectId};
use crate::path::{RepoPath, compare};

/// The bytes of a base file.
pub enum Bytes {
    Owned(Vec<u8>),
    #[cfg(unix)]
    Mapped(Mapped),
}

impl Bytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Owned(v) => v,
            #[cfg(unix)]
            Bytes::Mapped(m) => m.as_slice(),
        }
    }
}

/// A read-only private mapping of a whole file.
#[cfg(unix)]
pub struct Mapped {
    ptr: *mut libc::c_void,
    len: usize,
}

// SAFETY: the mapping is read-only and owned; sharing `&[u8]` views across threads is
// as safe as sharing a `Vec<u8>`.
#[cfg(unix)]
unsafe impl Send for Mapped {}
// SAFETY: as above; nothing mutates the mapping.
#[cfg(unix)]
unsafe impl Sync for Mapped {}

#[cfg(unix)]
impl Mapped {
    /// Map `len` bytes of `file` (`len` > 0).
    pub fn new(file: &std::fs::File, len: usize) -> std::io::Result<Mapped> {
        use std::os::fd::AsRawFd;
        // SAFETY: a fresh private read-only mapping of an open file; the kernel checks
        // the arguments.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Mapped { ptr, len })
    }

    fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` readable bytes for as long as `self` lives.
        unsafe { std::slice::from_raw_parts(self.ptr as *const u8, self.len) }
    }
}

#[cfg(unix)]
impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the mapping made in `new`, once.
        unsafe { libc::munmap(self.ptr, self.len) };
    }
}

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} bytes", self.as_slice().len())
    }
}

/// The base's entries, sorted by path.
#[derive(Debug, Default)]
pub enum Base {
    #[default]
    Empty,
    /// Entries in memory (a base built by this command).
    Owned(Vec<Entry>),
    /// Entries in a file's bytes, decoded on demand.
    Lazy(Lazy),
}

/// Entries per chunk of decoded entries. A chunk is decoded whole when one of its
/// entries is first asked for: a command that touches a few entries of a million (`add`
/// of one file) decodes a few chunks, and one that visits them all (a full `status`)
/// makes one allocation per chunk instead of one per entry.
const CHUNK: usize = 256;

/// The decoded entries of one chunk.
type Chunk = Box<[Entry]>;

#[derive(Debug)]
pub struct Lazy {
    bytes: Bytes,
    /// Where each entry starts in `bytes`.
    offsets: Vec<usize>,
    decoded: Vec<OnceLock<Chunk>>,
}

/// What one pass over a base file found.
pub struct Scanned {
    pub generation: u64,
    pub base: Base,
    pub roots: Vec<RepoPath>,
    pub trees: Vec<(RepoPath, CachedTree)>,
    /// The file's checksum.
    pub sum: ObjectId,
    /// Entries whose stat data makes them racy at the file's mtime.
    pub racy: Vec<usize>,
}

impl Base {
    pub fn len(&self) -> usize {
        match self {
            Base::Empty => 0,
            Base::Owned(v) => v.len(),
            Base::Lazy(l) => l.offsets.len(),
        }
    }

    /// The `i`th entry.
    pub fn entry(&self, i: usize) -> &Entry {
        match self {
            Base::Empty => panic!("entry {i} of an empty base"),
            Base::Owned(v) => &v[i],
            Base::Lazy(l) => l.entry(i),
        }
    }

    /// The `i`th entry's path, without decoding the entry.
    pub fn path(&self, i: usize) -> &str {
        match self {
            Base::Empty => panic!("entry {i} of an empty base"),
            Base::Owned(v) => v[i].path.as_str(),
            Base::Lazy(l) => l.path(i),
        }
    }

    /// The first position whose path does not satisfy `before` (paths are sorted and
    /// `before` holds for a prefix of them).
    pub fn partition_point(&self, before: impl Fn(&str) -> bool) -> usize {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if before(self.path(mid)) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Where `path` is, or where it would go.
    pub fn position(&self, path: &RepoPath) -> Result<usize, usize> {
        let at = self.partition_point(|p| compare(p, path.as_str()) == Ordering::Less);
        if at < self.len() && self.path(at) == path.as_str() {
            Ok(at)
        } else {
            Err(at)
        }
    }

    /// Decode every entry now, on all cores (for a command about to visit them all).
    pub fn decode_all(&self) {
        if let Base::Lazy(l) = self {
            (0..l.decoded.len()).into_par_iter().for_each(|c| {
                l.entry(c * CHUNK);
            });
        }
    }

    /// Every entry, owned (for folding changes into a new base).
    pub fn into_vec(self) -> Vec<Entry> {
        match self {
            Base::Empty => Vec::new(),
            Base::Owned(v) => v,
            Base::Lazy(l) => (0..l.offsets.len())
                .into_par_iter()
                .map(|i| match l.decoded[i / CHUNK].get() {
                    Some(chunk) => chunk[i % CHUNK].clone(),
                    None => l.decode(i),
                })
                .collect(),
        }
    }
}

impl Lazy {
    fn entry(&self, i: usize) -> &Entry {
        let first = i / CHUNK * CHUNK;
        let chunk = self.decoded[i / CHUNK].get_or_init(|| {
            let end = (first + CHUNK).min(self.offsets.len());
            (first..end).map(|j| self.decode(j)).collect()
        });
        &chunk[i - first]
    }

    fn decode(&self, i: usize) -> Entry {
        let (entry, _) =
            postcard::take_from_bytes::<Entry>(&self.bytes.as_slice()[self.offsets[i]..])
                .expect("every entry was checked when the index was loaded");
        entry
    }

    fn path(&self, i: usize) -> &str {
        let bytes = self.bytes.as_slice();
        let mut at = self.offsets[i];
        let len = varint(bytes, &mut at).expect("checked at load") as usize;
        std::str::from_utf8(&bytes[at..at + len]).expect("checked at load")
    }
}

/// Check a whole base file's frame, then one pass over its body: every entry's offset,
/// every field checked, the racy entries at `cutoff` (the file's mtime), then the roots
/// and the tree cache decoded.
pub fn scan(bytes: Bytes, cutoff: i64) -> Result<Scanned, DecodeError> {
    // The checksum and the pass over the entries run side by side; the pass is bounds
    // checked, so it is safe on damaged bytes, and its result counts only if the
    // checksum matches.
    let data = bytes.as_slice();
    if data.len() < 8 + ID_LEN {
        return Err(DecodeError::BadMagic);
    }
    let (start, end) = (8, data.len() - ID_LEN);
    let (sum, scanned) = rayon::join(
        || file::check_frame(file::BASE_MAGIC, data),
        || scan_body(&bytes, start, end, cutoff),
    );
    let sum = sum?;
    let (mut body, tail) = scanned?;
    let (roots, trees) = {
        let rest = &bytes.as_slice()[body.tail..end];
        let ((roots, trees), left): (Tail, _) =
            postcard::take_from_bytes(rest).map_err(|e| DecodeError::Body(e.to_string()))?;
        if !left.is_empty() {
            return Err(DecodeError::Body(format!("{} trailing bytes", left.len())));
        }
        (roots, trees)
    };
    let base = if tail.is_empty() {
        Base::Empty
    } else {
        let decoded = (0..tail.len().div_ceil(CHUNK))
            .map(|_| OnceLock::new())
            .collect();
        Base::Lazy(Lazy {
            bytes,
            offsets: tail,
            decoded,
        })
    };
    body.base = base;
    Ok(Scanned {
        generation: body.generation,
        base: body.base,
        roots,
        trees,
        sum,
        racy: body.racy,
    })
}

type Tail = (Vec<RepoPath>, Vec<(RepoPath, CachedTree)>);

/// What the pass over the entries found.
struct Body {
    generation: u64,
    base: Base,
    tail: usize,
    racy: Vec<usize>,
}

/// The pass over a body's entries (`bytes[start..end]`): the body and the offsets.
fn scan_body(
    bytes: &Bytes,
    start: usize,
    end: usize,
    cutoff: i64,
) -> Result<(Body, Vec<usize>), DecodeError> {
    let data = &bytes.as_slice()[..end];
    let bad = |what: &str| DecodeError::Body(format!("{what} at byte {start}"));
    let mut at = start;
    let generation = varint(data, &mut at).ok_or_else(|| bad("generation"))?;
    let count = varint(data, &mut at).ok_or_else(|| bad("entry count"))?;
    // Each entry takes at least 45 bytes: a count beyond that is damage, not a reason to
    // reserve gigabytes.
    if count > (data.len() / 45) as u64 + 1 {
        return Err(bad("entry count"));
    }
    let mut offsets = Vec::with_capacity(count as usize);
    let mut racy = Vec::new();
    let mut previous: Option<&str> = None;
    for i in 0..count as usize {
        offsets.push(at);
        let e = |what: &str| DecodeError::Body(format!("entry {i}: {what}"));
        let len = varint(data, &mut at).ok_or_else(|| e("path"))? as usize;
        let path = data.get(at..at + len).ok_or_else(|| e("path"))?;
        let path = std::str::from_utf8(path).map_err(|_| e("path is not UTF-8"))?;
        if !is_valid_path(path) {
            return Err(e("invalid path"));
        }
        if previous.is_some_and(|p| !sorts_before(p, path)) {
            return Err(e("paths out of order"));
        }
        previous = Some(path);
        at += len;
        let kind = *data.get(at).ok_or_else(|| e("kind"))?;
        if kind > 2 {
            return Err(e("kind"));
        }
        at += 1;
        flag(data, &mut at).ok_or_else(|| e("executable"))?;
        at += 32;
        varint(data, &mut at).ok_or_else(|| e("size"))?;
        let mtime = zigzag(varint(data, &mut at).ok_or_else(|| e("mtime"))?);
        varint(data, &mut at).ok_or_else(|| e("ctime"))?;
        varint(data, &mut at).ok_or_else(|| e("dev"))?;
        varint(data, &mut at).ok_or_else(|| e("ino"))?;
        let mode = varint(data, &mut at).ok_or_else(|| e("mode"))?;
        if mode > u64::from(u32::MAX) {
            return Err(e("mode"));
        }
        let stat_size = varint(data, &mut at).ok_or_else(|| e("stat size"))?;
        let not_fetched = flag(data, &mut at).ok_or_else(|| e("not fetched"))?;
        flag(data, &mut at).ok_or_else(|| e("linked"))?;
        if at > data.len() {
            return Err(e("truncated"));
        }
        if !not_fetched && stat_size != super::SMUDGED_SIZE && mtime >= cutoff {
            racy.push(i);
        }
    }
    let body = Body {
        generation,
        base: Base::Empty,
        tail: at,
        racy,
    };
    Ok((body, offsets))
}

/// What `RepoPath::new` accepts, checked without allocating: `/`-separated non-empty
/// components, none `.` or `..`, no NUL.
fn is_valid_path(path: &str) -> bool {
    let component_ok = |c: &[u8]| !c.is_empty() && c != b"." && c != b"..";
    let bytes = path.as_bytes();
    let mut start = 0;
    for (i, &c) in bytes.iter().enumerate() {
        if c == 0 {
            return false;
        }
        if c == b'/' {
            if !component_ok(&bytes[start..i]) {
                return false;
            }
            start = i + 1;
        }
    }
    component_ok(&bytes[start..])
}

/// `a` sorts strictly before `b` in path order (component-wise, bytewise: `/` counts as
/// lower than any other byte), found from the first byte where they differ.
fn sorts_before(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let same = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let key = |s: &[u8]| s.get(same).map(|&c| if c == b'/' { 0 } else { c });
    match (key(a), key(b)) {
        (Some(x), Some(y)) => x < y,
        (None, Some(_)) => true,
        _ => false,
    }
}

/// A postcard varint (LEB128, at most 10 bytes for a u64).
fn varint(data: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..70).step_by(7) {
        let byte = *data.get(*at)?;
        *at += 1;
        if shift == 63 && byte > 1 {
            return None;
        }
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn zigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// A postcard bool: exactly 0 or 1.
fn flag(data: &[u8], at: &mut usize) -> Option<bool> {
    let b = *data.get(*at)?;
    *at += 1;
    match b {
        0 => Some(false),
        1 => Some(true),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::{Kind, Stat};

    fn entry(path: &str, mtime: i64) -> Entry {
        Entry {
            path: RepoPath::new(path).expect("path"),
            kind: Kind::File,
            executable: false,
            id: ObjectId::of(path.as_bytes()),
            size: 3,
            stat: Stat {
                mtime_ns: mtime,
                ctime_ns: -5,
                dev: 1 << 40,
                ino: 77,
                mode: 0o100644,
                size: 3,
            },
            not_fetched: false,
            linked: true,
        }
    }

    #[test]
    fn scanning_finds_every_entry_and_decodes_them_like_postcard() {
        let entries = vec![entry("a/b", 5), entry("a.b", 100), entry("z", -1)];
        let file = super::super::file::Base {
            generation: 9,
            entries: entries.clone(),
            roots: vec![RepoPath::new("a").expect("p")],
            trees: vec![],
        };
        let (bytes, sum) = file::encode(file::BASE_MAGIC, &file);
        let scanned = scan(Bytes::Owned(bytes), 50).expect("scan");
        assert_eq!(scanned.generation, 9);
        assert_eq!(scanned.sum, sum);
        assert_eq!(scanned.roots, file.roots);
        assert_eq!(
            scanned.racy,
            vec![1],
            "only the entry at or after the cutoff"
        );
        let base = scanned.base;
        assert_eq!(base.len(), 3);
        for (i, e) in entries.iter().enumerate() {
            assert_eq!(base.path(i), e.path.as_str());
            assert_eq!(base.entry(i), e);
        }
        assert_eq!(base.position(&RepoPath::new("a.b").expect("p")), Ok(1));
        assert_eq!(base.position(&RepoPath::new("m").expect("p")), Err(2));
        base.decode_all();
        assert_eq!(base.into_vec(), entries);
    }

    #[test]
    fn the_scanner_checks_paths_and_order_as_repo_path_does() {
        for p in ["a", "a/b", "a.b", "dvx.lock", "x/y z/é"] {
            assert!(is_valid_path(p) && RepoPath::new(p).is_ok(), "{p}");
        }
        for p in ["", "/a", "a/", "a//b", ".", "a/../b", "a/./b", "a\0b"] {
            assert!(!is_valid_path(p), "{p:?}");
        }
        let sorted = ["a/b", "a.b", "a0", "ab", "b", "b/c/d", "b/cd"];
        for (i, a) in sorted.iter().enumerate() {
            for (j, b) in sorted.iter().enumerate() {
                assert_eq!(sorts_before(a, b), i < j, "{a} vs {b}");
                assert_eq!(sorts_before(a, b), compare(a, b) == Ordering::Less);
            }
        }
    }

    #[test]
    fn damaged_bodies_are_errors_not_panics() {
        let entries = vec![entry("a", 5), entry("b", 6)];
        let body = postcard::to_allocvec(&(1u64, &entries)).expect("encode");
        let whole = Bytes::Owned(body.clone());
        assert!(scan_body(&whole, 0, body.len(), 0).is_ok());
        for cut in 0..body.len() {
            let short = Bytes::Owned(body[..cut].to_vec());
            assert!(scan_body(&short, 0, cut, 0).is_err(), "cut at {cut}");
        }
        let swapped =
            postcard::to_allocvec(&(1u64, vec![entry("b", 5), entry("a", 6)])).expect("encode");
        let swapped_len = swapped.len();
        assert!(scan_body(&Bytes::Owned(swapped), 0, swapped_len, 0).is_err());
    }
}
