//! The objects dvx stores, and their byte encodings.
//!
//! Owns: [`Tree`], [`Commit`] and [`RunRecord`] and the rules that make their encodings
//! canonical. A blob is a file's raw bytes and needs no code here. Does not own where objects live
//! (that is `store`).
//!
//! Every non-blob object is a 6-byte header (`DVXO`, kind, format version) followed by a
//! postcard body; the object id is BLAKE3 of header and body together. Decoding is strict:
//! wrong magic, unknown kind, newer version, trailing bytes, or any input that would not
//! re-encode to exactly the same bytes is an error, so one object has exactly one id.

mod commit;
mod run;
mod tree;

pub use commit::{Commit, Extension, GitHash, GitLink, Signature};
pub use run::{Artifact, CodeDep, EnvVar, GitBlob, Origin, RunRecord, shell_words};
pub use tree::{EntryKind, Tree, TreeEntry};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::hash::ObjectId;

/// First four bytes of every encoded tree, commit or run record.
pub const MAGIC: &[u8; 4] = b"DVXO";
/// The object format this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// Length of the header before the postcard body.
pub const HEADER_LEN: usize = 6;

/// What an encoded object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tree = 1,
    Commit = 2,
    /// A lineage run record.
    Run = 3,
}

impl Kind {
    fn from_byte(b: u8) -> Option<Kind> {
        match b {
            1 => Some(Kind::Tree),
            2 => Some(Kind::Commit),
            3 => Some(Kind::Run),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Tree => "tree",
            Kind::Commit => "commit",
            Kind::Run => "run record",
        }
    }
}

/// An encoded object that cannot be decoded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DecodeError {
    #[error("not a dvx object (bad header)")]
    BadHeader,
    #[error("is a {found}, expected a {expected}")]
    WrongKind {
        expected: &'static str,
        found: &'static str,
    },
    #[error("written by a newer dvx (object format {0}, this build reads {FORMAT_VERSION})")]
    NewerFormat(u8),
    #[error("malformed body: {0}")]
    Body(String),
    #[error("{0} trailing bytes after the body")]
    Trailing(usize),
    #[error("not in canonical form")]
    NotCanonical,
    #[error("invalid: {0}")]
    Invalid(String),
    /// A tree entry named `.git` or `.dvx` (in any case): never written by dvx, refused
    /// so a checkout can never write into git's or dvx's own directory.
    #[error("invalid: entry '{0}' names git's or dvx's own directory")]
    Reserved(String),
}

/// Peek at the header: which kind of object these bytes claim to be.
pub fn kind_of(bytes: &[u8]) -> Option<Kind> {
    if bytes.len() >= HEADER_LEN && &bytes[..4] == MAGIC {
        Kind::from_byte(bytes[4])
    } else {
        None
    }
}

/// Types with a canonical object encoding.
pub trait Encode: Serialize + DeserializeOwned {
    const KIND: Kind;

    /// Check the rules serde cannot express (ordering, uniqueness, valid names).
    fn validate(&self) -> Result<(), DecodeError>;

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(MAGIC);
        out.push(Self::KIND as u8);
        out.push(FORMAT_VERSION);
        postcard::to_io(self, &mut out).expect("encoding into a Vec cannot fail");
        out
    }

    fn id(&self) -> ObjectId {
        ObjectId::of(&self.encode())
    }

    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() < HEADER_LEN || &bytes[..4] != MAGIC {
            return Err(DecodeError::BadHeader);
        }
        let kind = Kind::from_byte(bytes[4]).ok_or(DecodeError::BadHeader)?;
        if kind != Self::KIND {
            return Err(DecodeError::WrongKind {
                expected: Self::KIND.name(),
                found: kind.name(),
            });
        }
        match bytes[5] {
            FORMAT_VERSION => {}
            v if v > FORMAT_VERSION => return Err(DecodeError::NewerFormat(v)),
            _ => return Err(DecodeError::BadHeader),
        }
        let (value, rest): (Self, &[u8]) = postcard::take_from_bytes(&bytes[HEADER_LEN..])
            .map_err(|e| DecodeError::Body(e.to_string()))?;
        if !rest.is_empty() {
            return Err(DecodeError::Trailing(rest.len()));
        }
        value.validate()?;
        if value.encode() != bytes {
            return Err(DecodeError::NotCanonical);
        }
        Ok(value)
    }
}
