//! The index's two files and their encodings.
//!
//! `index` is the base: every entry, the tracked roots and the tree cache. `index.delta`
//! holds the entries changed since the base was written, plus the current roots and tree
//! cache, and names the base it applies to (by checksum). A command that changes a few
//! entries rewrites only the delta; when the delta grows past a fraction of the base, the
//! base is rewritten and the delta dropped. A delta whose base checksum does not match is
//! stale (a crash between writing a new base and removing the delta) and is ignored.
//!
//! Layout of both: 4-byte magic, u32 little-endian format version, postcard body, then the
//! 32-byte BLAKE3 hash of everything before it.

use serde::{Deserialize, Serialize};

use super::CachedTree;
use super::entry::Entry;
use crate::hash::{ID_LEN, ObjectId};
use crate::path::RepoPath;

pub const BASE_MAGIC: &[u8; 4] = b"DVXI";
pub const DELTA_MAGIC: &[u8; 4] = b"DVXD";
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, thiserror::Error)]
pub enum DecodeError {
    #[error("not an index file (bad magic)")]
    BadMagic,
    #[error("index format {0} is newer than this dvx reads ({VERSION})")]
    Newer(u32),
    #[error("checksum mismatch (file damaged)")]
    Checksum,
    #[error("malformed: {0}")]
    Body(String),
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Base {
    /// Bumped on every base write, so a rewritten base never matches an old delta even
    /// when its entries happen to be the same.
    pub generation: u64,
    pub entries: Vec<Entry>,
    pub roots: Vec<RepoPath>,
    pub trees: Vec<(RepoPath, CachedTree)>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Delta {
    /// Checksum of the base file this delta applies to.
    pub base: ObjectId,
    /// Upserts (`Some`) and removals (`None`), sorted by path.
    pub changes: Vec<(RepoPath, Option<Entry>)>,
    pub roots: Vec<RepoPath>,
    pub trees: Vec<(RepoPath, CachedTree)>,
}

/// Frame a body: magic, version, postcard, checksum. Returns the bytes and the checksum.
pub fn encode<T: Serialize>(magic: &[u8; 4], body: &T) -> (Vec<u8>, ObjectId) {
    // Sized exactly, so a large index is not copied through doubling buffers.
    let size = postcard::experimental::serialized_size(body).unwrap_or(1 << 16);
    let mut out = Vec::with_capacity(8 + size + ID_LEN);
    out.extend_from_slice(magic);
    out.extend_from_slice(&VERSION.to_le_bytes());
    postcard::to_io(body, &mut out).expect("encoding into a Vec cannot fail");
    let sum = checksum(&out);
    out.extend_from_slice(sum.as_bytes());
    (out, sum)
}

/// The checksum of a file's content: BLAKE3, on all cores for a large index (the same
/// hash either way).
fn checksum(content: &[u8]) -> ObjectId {
    if content.len() < 1 << 20 {
        return ObjectId::of(content);
    }
    let mut hasher = blake3::Hasher::new();
    hasher.update_rayon(content);
    ObjectId::from(hasher.finalize())
}

/// Check the frame (magic, version, checksum). Returns the checksum; the body is
/// `bytes[8..bytes.len() - 32]`.
pub fn check_frame(magic: &[u8; 4], bytes: &[u8]) -> Result<ObjectId, DecodeError> {
    if bytes.len() < 8 + ID_LEN || &bytes[..4] != magic {
        return Err(DecodeError::BadMagic);
    }
    let version = u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes"));
    if version > VERSION {
        return Err(DecodeError::Newer(version));
    }
    if version == 0 {
        return Err(DecodeError::BadMagic);
    }
    let (content, sum) = bytes.split_at(bytes.len() - ID_LEN);
    let expected = checksum(content);
    if expected.as_bytes().as_slice() != sum {
        return Err(DecodeError::Checksum);
    }
    Ok(expected)
}

/// Check the frame and decode the body. Returns the body and the file's checksum.
pub fn decode<T: for<'de> Deserialize<'de>>(
    magic: &[u8; 4],
    bytes: &[u8],
) -> Result<(T, ObjectId), DecodeError> {
    let expected = check_frame(magic, bytes)?;
    let content = &bytes[..bytes.len() - ID_LEN];
    let (body, rest) =
        postcard::take_from_bytes(&content[8..]).map_err(|e| DecodeError::Body(e.to_string()))?;
    if !rest.is_empty() {
        return Err(DecodeError::Body(format!("{} trailing bytes", rest.len())));
    }
    Ok((body, expected))
}
