//! Object ids and hashing.
//!
//! An [`ObjectId`] is the BLAKE3 hash of an object's stored bytes. For a blob that is the
//! file's exact bytes, so `b3sum` and dvx agree. Large inputs are hashed with all cores
//! (BLAKE3's tree mode through rayon); small ones on the calling thread, since callers
//! hash many small files in parallel themselves.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Inputs at least this large are hashed with rayon; below it the thread hand-off costs
/// more than it saves.
pub const PARALLEL_THRESHOLD: usize = 1 << 20;

/// Length of an object id in bytes.
pub const ID_LEN: usize = 32;

/// The BLAKE3 hash of an object.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectId([u8; ID_LEN]);

/// A string that is not a full hexadecimal object id.
#[derive(Debug, Clone, thiserror::Error)]
#[error("'{0}' is not an object id (expected 64 hexadecimal digits)")]
pub struct ParseIdError(pub String);

impl ObjectId {
    pub const fn from_bytes(bytes: [u8; ID_LEN]) -> Self {
        ObjectId(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; ID_LEN] {
        &self.0
    }

    /// The id of exactly these bytes.
    pub fn of(bytes: &[u8]) -> Self {
        let mut hasher = blake3::Hasher::new();
        update(&mut hasher, bytes);
        ObjectId::from(hasher.finalize())
    }

    /// Full lowercase hex.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(ID_LEN * 2);
        for b in self.0 {
            s.push(HEX[(b >> 4) as usize] as char);
            s.push(HEX[(b & 15) as usize] as char);
        }
        s
    }

    /// The abbreviated form shown to people.
    pub fn short(&self) -> String {
        let mut s = self.to_hex();
        s.truncate(SHORT_LEN);
        s
    }
}

/// Hex digits in an abbreviated id.
pub const SHORT_LEN: usize = 10;

const HEX: &[u8; 16] = b"0123456789abcdef";

impl From<blake3::Hash> for ObjectId {
    fn from(h: blake3::Hash) -> Self {
        ObjectId(*h.as_bytes())
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({})", self.short())
    }
}

impl FromStr for ObjectId {
    type Err = ParseIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = s.as_bytes();
        if bytes.len() != ID_LEN * 2 {
            return Err(ParseIdError(s.to_owned()));
        }
        let mut out = [0u8; ID_LEN];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hi = hex_value(pair[0]).ok_or_else(|| ParseIdError(s.to_owned()))?;
            let lo = hex_value(pair[1]).ok_or_else(|| ParseIdError(s.to_owned()))?;
            out[i] = hi << 4 | lo;
        }
        Ok(ObjectId(out))
    }
}

/// True for a string that could be the beginning of an id (lowercase or uppercase hex).
pub fn is_hex_prefix(s: &str) -> bool {
    !s.is_empty() && s.len() <= ID_LEN * 2 && s.bytes().all(|b| hex_value(b).is_some())
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Feed `bytes` to `hasher`, with all cores when the chunk is large.
pub fn update(hasher: &mut blake3::Hasher, bytes: &[u8]) {
    if bytes.len() >= PARALLEL_THRESHOLD {
        hasher.update_rayon(bytes);
    } else {
        hasher.update(bytes);
    }
}

/// Hash a file's current bytes; returns the id and the number of bytes hashed.
///
/// Read in chunks, each large one hashed with all cores. Not memory-mapped: these are the
/// user's files, and one truncated by another process while mapped would kill dvx with
/// SIGBUS. Used to check whether a file still matches its recorded id (status, fsck);
/// `add` hashes while it copies instead, so that it stores exactly the bytes it hashed.
pub fn hash_file(path: &Path) -> io::Result<(ObjectId, u64)> {
    hash_open_file(&mut File::open(path)?)
}

/// [`hash_file`] for a file already open, read from its current position to the end.
pub fn hash_open_file(file: &mut File) -> io::Result<(ObjectId, u64)> {
    let len = file.metadata()?.len();
    hash_open_file_sized(file, len)
}

/// [`hash_open_file`] for a caller that already knows the file's size (from a stat it
/// took anyway): `len` only picks how to read, the hash covers whatever the file holds.
/// A small file (the common case when `add` takes thousands of them) costs two reads,
/// the second one seeing the end, and no allocation.
pub fn hash_open_file_sized(file: &mut File, len: u64) -> io::Result<(ObjectId, u64)> {
    let mut hasher = blake3::Hasher::new();
    let total = if (len as usize) < PARALLEL_THRESHOLD {
        // On this thread alone: a rayon join here could run another hash on this thread
        // while the buffer is borrowed.
        SMALL_FILE_BUF.with_borrow_mut(|buf| {
            hash_chunks(file, buf, |b| {
                hasher.update(b);
            })
        })?
    } else {
        let mut buf = vec![0u8; HASH_CHUNK];
        hash_chunks(file, &mut buf, |b| update(&mut hasher, b))?
    };
    Ok((hasher.finalize().into(), total))
}

thread_local! {
    /// The read buffer for files below [`PARALLEL_THRESHOLD`], one per thread, zeroed
    /// once: any such file fits in it whole.
    static SMALL_FILE_BUF: std::cell::RefCell<Vec<u8>> =
        std::cell::RefCell::new(vec![0u8; PARALLEL_THRESHOLD]);
}

/// Read `file` to its end in `buf`-sized rounds, handing each to `hash`; returns the
/// bytes read.
fn hash_chunks(file: &mut File, buf: &mut [u8], mut hash: impl FnMut(&[u8])) -> io::Result<u64> {
    let mut total = 0u64;
    loop {
        let mut filled = 0;
        while filled < buf.len() {
            match file.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        hash(&buf[..filled]);
        total += filled as u64;
        if filled < buf.len() {
            // The read that came back empty saw the end.
            return Ok(total);
        }
    }
}

/// Bytes read per round when hashing a large file.
const HASH_CHUNK: usize = 16 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let id = ObjectId::of(b"hello");
        let parsed: ObjectId = id.to_hex().parse().expect("own hex parses");
        assert_eq!(parsed, id);
        assert_eq!(id.short().len(), SHORT_LEN);
        assert!("xyz".parse::<ObjectId>().is_err());
        assert!(is_hex_prefix("abc"));
        assert!(!is_hex_prefix("abg"));
    }

    #[test]
    fn matches_b3sum_of_empty_input() {
        // b3sum of an empty file.
        assert_eq!(
            ObjectId::of(b"").to_hex(),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
    }

    #[test]
    fn file_hash_equals_bytes_hash() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        // Several read rounds, the last one partial.
        let data: Vec<u8> = (0..(2 * HASH_CHUNK + 3 * PARALLEL_THRESHOLD) as u32)
            .map(|i| (i % 251) as u8)
            .collect();
        crate::atomic::write(&path, &data).expect("write");
        let (id, n) = hash_file(&path).expect("hash");
        assert_eq!(n, data.len() as u64);
        assert_eq!(id, ObjectId::of(&data));
    }
}
