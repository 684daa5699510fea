//! Large objects (`objects/ab/cdef...`): one object alone, as independent zstd frames
//! with a seek table, so any byte range can be read and verified without the rest.
//!
//! Owns: the encoding of a large object (frames, seek table, footer), splitting an
//! object into frames, and decoding and verifying frames read back. Does not own the
//! upload or download itself (`transfer`).
//!
//! Layout (see docs/format.md, "Large objects"):
//!
//! ```text
//! magic "DVXL" | version u32 LE                                 header, 8 bytes
//! frame 0 | frame 1 | ...   zstd frames of `frame size` raw bytes each (last: the rest)
//! seek table: count × (compressed length u32 LE | chaining value [32])
//! footer: raw size u64 | frame size u32 | count u32 | version u32 | magic "DVXL"
//! ```
//!
//! The frame size is a power of two of at least 1 KiB, so each frame is a whole
//! subtree of BLAKE3's tree over the object: its *chaining value* (the value BLAKE3's
//! tree mode computes for that subtree) is in the seek table, and the chaining values
//! combine to the object's id. A reader checks that once per seek table and then checks
//! every frame it decompresses against its chaining value, so a range read is verified
//! against the id without reading the rest (as a bao outboard would, one level up).
//! With a single frame, the "chaining value" is the id itself.

use std::ops::Range;

use blake3::hazmat::{self, HasherExt, Mode};

use crate::hash::ObjectId;

pub const MAGIC: &[u8; 4] = b"DVXL";
pub const VERSION: u32 = 1;
pub const HEADER_LEN: u64 = 8;
pub const FOOTER_LEN: usize = 8 + 4 + 4 + 4 + 4;
pub const TABLE_ENTRY_LEN: usize = 4 + 32;
/// Raw bytes per frame: large enough to compress well and keep the seek table small
/// (10 GiB is 2560 frames, 90 KiB of table), small enough for a range read to be cheap.
pub const DEFAULT_FRAME_SIZE: u32 = 4 << 20;
const MIN_FRAME_SIZE: u32 = 1 << 10;
const MAX_FRAME_SIZE: u32 = 64 << 20;

/// One frame's entry in the seek table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameInfo {
    pub compressed_len: u32,
    pub chaining_value: [u8; 32],
}

/// A large object's seek table, verified against its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeekTable {
    pub raw_size: u64,
    pub frame_size: u32,
    frames: Vec<FrameInfo>,
    /// Offset of each frame in the object file, plus the end of the last one.
    offsets: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("large object {id} is corrupt: {reason}")]
    Corrupt { id: ObjectId, reason: String },
    #[error(
        "large object {id} has version {version}; this dvx reads version {VERSION} (upgrade dvx)"
    )]
    Version { id: ObjectId, version: u32 },
    #[error("cannot compress object {id}: {reason}")]
    Compress { id: ObjectId, reason: String },
}

/// Whether a frame size is one the format allows.
pub fn valid_frame_size(frame_size: u32) -> bool {
    frame_size.is_power_of_two() && (MIN_FRAME_SIZE..=MAX_FRAME_SIZE).contains(&frame_size)
}

/// Number of frames for an object of `raw_size` bytes.
pub fn frame_count(raw_size: u64, frame_size: u32) -> u64 {
    raw_size.div_ceil(u64::from(frame_size)).max(1)
}

/// The header every large object starts with.
pub fn header() -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h[..4].copy_from_slice(MAGIC);
    h[4..].copy_from_slice(&VERSION.to_le_bytes());
    h
}

/// Compress frame `index` of an object split into `count` frames and compute its
/// chaining value.
pub fn encode_frame(
    id: &ObjectId,
    index: u64,
    count: u64,
    frame_size: u32,
    raw: &[u8],
) -> Result<(Vec<u8>, FrameInfo), Error> {
    let compressed = super::pack::compress_frame(raw).map_err(|e| Error::Compress {
        id: *id,
        reason: e.to_string(),
    })?;
    let info = FrameInfo {
        compressed_len: compressed.len() as u32,
        chaining_value: chaining_value(index, count, frame_size, raw),
    };
    Ok((compressed, info))
}

fn chaining_value(index: u64, count: u64, frame_size: u32, raw: &[u8]) -> [u8; 32] {
    if count == 1 {
        return *blake3::hash(raw).as_bytes();
    }
    let mut hasher = blake3::Hasher::new();
    hasher.set_input_offset(index * u64::from(frame_size));
    hasher.update(raw);
    hasher.finalize_non_root()
}

/// Combine frame chaining values into the root hash, following BLAKE3's tree: the left
/// subtree holds the largest power of two of frames that is less than all of them.
fn root(cvs: &[[u8; 32]]) -> [u8; 32] {
    fn subtree(cvs: &[[u8; 32]]) -> hazmat::ChainingValue {
        if cvs.len() == 1 {
            return cvs[0];
        }
        let split = left_len(cvs.len());
        hazmat::merge_subtrees_non_root(
            &subtree(&cvs[..split]),
            &subtree(&cvs[split..]),
            Mode::Hash,
        )
    }
    if cvs.len() == 1 {
        return cvs[0];
    }
    let split = left_len(cvs.len());
    *hazmat::merge_subtrees_root(&subtree(&cvs[..split]), &subtree(&cvs[split..]), Mode::Hash)
        .as_bytes()
}

fn left_len(n: usize) -> usize {
    // Largest power of two strictly less than n (n >= 2).
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

impl SeekTable {
    pub fn new(raw_size: u64, frame_size: u32, frames: Vec<FrameInfo>) -> SeekTable {
        let mut offsets = Vec::with_capacity(frames.len() + 1);
        let mut at = HEADER_LEN;
        for f in &frames {
            offsets.push(at);
            at += u64::from(f.compressed_len);
        }
        offsets.push(at);
        SeekTable {
            raw_size,
            frame_size,
            frames,
            offsets,
        }
    }

    pub fn frames(&self) -> &[FrameInfo] {
        &self.frames
    }

    /// The seek table and footer, written after the last frame.
    pub fn encode_tail(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.frames.len() * TABLE_ENTRY_LEN + FOOTER_LEN);
        for f in &self.frames {
            out.extend_from_slice(&f.compressed_len.to_le_bytes());
            out.extend_from_slice(&f.chaining_value);
        }
        out.extend_from_slice(&self.raw_size.to_le_bytes());
        out.extend_from_slice(&self.frame_size.to_le_bytes());
        out.extend_from_slice(&(self.frames.len() as u32).to_le_bytes());
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(MAGIC);
        out
    }

    /// Bytes of seek table and footer that the footer announces, from the last
    /// [`FOOTER_LEN`] bytes of the object.
    pub fn tail_len(id: &ObjectId, footer: &[u8]) -> Result<usize, Error> {
        let (_, _, count) = parse_footer(id, footer)?;
        Ok(count as usize * TABLE_ENTRY_LEN + FOOTER_LEN)
    }

    /// Decode the seek table from the object's last bytes (`tail`, at least
    /// [`Self::tail_len`] of them) and check it against the id and the object's length.
    pub fn decode(id: &ObjectId, tail: &[u8], object_len: u64) -> Result<SeekTable, Error> {
        let corrupt = |reason: String| Error::Corrupt { id: *id, reason };
        if tail.len() < FOOTER_LEN {
            return Err(corrupt("too short for a footer".into()));
        }
        let footer = &tail[tail.len() - FOOTER_LEN..];
        let (raw_size, frame_size, count) = parse_footer(id, footer)?;
        let table_len = count as usize * TABLE_ENTRY_LEN;
        if tail.len() < table_len + FOOTER_LEN {
            return Err(corrupt("the seek table was not read whole".into()));
        }
        let table = &tail[tail.len() - FOOTER_LEN - table_len..tail.len() - FOOTER_LEN];
        let frames: Vec<FrameInfo> = table
            .chunks_exact(TABLE_ENTRY_LEN)
            .map(|c| FrameInfo {
                compressed_len: u32::from_le_bytes(c[..4].try_into().expect("4 bytes")),
                chaining_value: c[4..].try_into().expect("32 bytes"),
            })
            .collect();
        // A frame is at least the smallest zstd frame and at most zstd's bound for the
        // frame size, so a lying table cannot make a reader fetch more than a frame.
        let most = zstd::zstd_safe::compress_bound(frame_size as usize);
        if frames.iter().any(|f| {
            let n = f.compressed_len as usize;
            n < super::pack::MIN_FRAME_LEN || n > most
        }) {
            return Err(corrupt("a frame's compressed length is impossible".into()));
        }
        let st = SeekTable::new(raw_size, frame_size, frames);
        let expected_len = st.offsets[st.frames.len()] + (table_len + FOOTER_LEN) as u64;
        if expected_len != object_len {
            return Err(corrupt(format!(
                "the seek table describes {expected_len} bytes, the object has {object_len}"
            )));
        }
        let cvs: Vec<[u8; 32]> = st.frames.iter().map(|f| f.chaining_value).collect();
        if root(&cvs) != *id.as_bytes() {
            return Err(corrupt(
                "the seek table does not hash to the object id".into(),
            ));
        }
        Ok(st)
    }

    /// Raw byte range of frame `i`.
    pub fn raw_range(&self, i: usize) -> Range<u64> {
        let start = i as u64 * u64::from(self.frame_size);
        start..(start + u64::from(self.frame_size)).min(self.raw_size)
    }

    /// Byte range of frame `i` (or of frames `i..j` with [`Self::file_range_of`]) in
    /// the object file.
    pub fn file_range(&self, i: usize) -> Range<u64> {
        self.offsets[i]..self.offsets[i + 1]
    }

    pub fn file_range_of(&self, frames: Range<usize>) -> Range<u64> {
        self.offsets[frames.start]..self.offsets[frames.end]
    }

    /// Frames holding raw bytes `range` (clamped to the object).
    pub fn frames_for(&self, range: Range<u64>) -> Range<usize> {
        let end = range.end.min(self.raw_size);
        if range.start >= end {
            return 0..0;
        }
        let f = u64::from(self.frame_size);
        (range.start / f) as usize..end.div_ceil(f) as usize
    }

    /// Decompress frame `i` from exactly its bytes and verify it.
    pub fn decode_frame(
        &self,
        id: &ObjectId,
        i: usize,
        compressed: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let corrupt = |reason: String| Error::Corrupt {
            id: *id,
            reason: format!("frame {i}: {reason}"),
        };
        let expected = self.raw_range(i);
        let expected_len = (expected.end - expected.start) as usize;
        match zstd::zstd_safe::find_frame_compressed_size(compressed) {
            Ok(n) if n == compressed.len() => {}
            _ => return Err(corrupt("not exactly one zstd frame".into())),
        }
        let raw = super::pack::decompress_frame(compressed, expected_len)
            .map_err(|e| corrupt(format!("cannot decompress: {e}")))?;
        if raw.len() != expected_len {
            return Err(corrupt(format!(
                "{} bytes, expected {expected_len}",
                raw.len()
            )));
        }
        let cv = chaining_value(i as u64, self.frames.len() as u64, self.frame_size, &raw);
        if cv != self.frames[i].chaining_value {
            return Err(corrupt("content does not match the object id".into()));
        }
        Ok(raw)
    }
}

fn parse_footer(id: &ObjectId, footer: &[u8]) -> Result<(u64, u32, u32), Error> {
    let corrupt = |reason: &str| Error::Corrupt {
        id: *id,
        reason: reason.into(),
    };
    if footer.len() != FOOTER_LEN || &footer[FOOTER_LEN - 4..] != MAGIC {
        return Err(corrupt("no footer"));
    }
    let u32_at = |at: usize| u32::from_le_bytes(footer[at..at + 4].try_into().expect("4 bytes"));
    let version = u32_at(16);
    if version != VERSION {
        return Err(Error::Version { id: *id, version });
    }
    let raw_size = u64::from_le_bytes(footer[..8].try_into().expect("8 bytes"));
    let frame_size = u32_at(8);
    let count = u32_at(12);
    if !valid_frame_size(frame_size) {
        return Err(corrupt("bad frame size"));
    }
    if raw_size == 0 || u64::from(count) != frame_count(raw_size, frame_size) {
        return Err(corrupt("frame count does not match the size"));
    }
    Ok((raw_size, frame_size, count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Encode a whole object in memory the way an upload streams it.
    fn encode(raw: &[u8], frame_size: u32) -> (ObjectId, Vec<u8>) {
        let id = ObjectId::of(raw);
        let count = frame_count(raw.len() as u64, frame_size);
        let mut out = header().to_vec();
        let mut frames = Vec::new();
        for (i, chunk) in raw.chunks(frame_size as usize).enumerate() {
            let (c, info) =
                encode_frame(&id, i as u64, count, frame_size, chunk).expect("compress");
            out.extend_from_slice(&c);
            frames.push(info);
        }
        out.extend_from_slice(&SeekTable::new(raw.len() as u64, frame_size, frames).encode_tail());
        (id, out)
    }

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| ((i * 31) ^ (i >> 7)) as u8).collect()
    }

    fn read_range(id: &ObjectId, file: &[u8], range: Range<u64>) -> Result<Vec<u8>, Error> {
        let st = SeekTable::decode(
            id,
            &file[file.len().saturating_sub(1 << 16)..],
            file.len() as u64,
        )?;
        let mut out = Vec::new();
        for i in st.frames_for(range.clone()) {
            let r = st.file_range(i);
            let raw = st.decode_frame(id, i, &file[r.start as usize..r.end as usize])?;
            let fr = st.raw_range(i);
            let lo = range.start.max(fr.start) - fr.start;
            let hi = range.end.min(fr.end) - fr.start;
            out.extend_from_slice(&raw[lo as usize..hi as usize]);
        }
        Ok(out)
    }

    #[test]
    fn chaining_values_combine_to_the_blake3_hash() {
        // 1, 2, 3, 4, 5 and 7 frames, the last full or partial.
        for len in [1024usize, 1500, 2048, 3000, 4096, 5 * 1024 - 1, 7 * 1024] {
            let raw = data(len);
            let (id, file) = encode(&raw, 1024);
            let st = SeekTable::decode(&id, &file, file.len() as u64)
                .unwrap_or_else(|e| panic!("{len}: {e}"));
            assert_eq!(st.frames().len() as u64, frame_count(len as u64, 1024));
            assert_eq!(read_range(&id, &file, 0..len as u64).expect("whole"), raw);
        }
    }

    #[test]
    fn any_range_reads_back() {
        let raw = data(10_000);
        let (id, file) = encode(&raw, 1024);
        for (a, b) in [
            (0, 1),
            (1023, 1025),
            (5000, 9999),
            (9999, 10_000),
            (0, 10_000),
            (3000, 3000),
        ] {
            assert_eq!(
                read_range(&id, &file, a..b).expect("range"),
                raw[a as usize..b as usize]
            );
        }
    }

    #[test]
    fn damage_is_caught_and_names_the_object() {
        let raw = data(5000);
        let (id, file) = encode(&raw, 1024);
        let mut bad = file.clone();
        bad[20] ^= 1; // inside frame 0
        let err = read_range(&id, &bad, 0..100).expect_err("flipped frame");
        assert!(err.to_string().contains(&id.to_hex()), "{err}");
        assert_eq!(
            read_range(&id, &bad, 4000..5000).expect("other frames fine"),
            raw[4000..5000]
        );
        let other = ObjectId::of(b"other");
        assert!(SeekTable::decode(&other, &file, file.len() as u64).is_err());
        assert!(SeekTable::decode(&id, &file[..file.len() - 1], file.len() as u64 - 1).is_err());
        assert!(SeekTable::decode(&id, &file, file.len() as u64 + 1).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_tails_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..500), len in 0u64..1_000_000) {
            let _ = SeekTable::decode(&ObjectId::of(b"x"), &tail, len);
        }

        #[test]
        fn mutated_objects_never_read_back_wrong(at in 0usize..100_000, xor in 1u8..=255) {
            let raw = data(6000);
            let (id, mut file) = encode(&raw, 1024);
            let at = at % file.len();
            file[at] ^= xor;
            if let Ok(got) = read_range(&id, &file, 0..6000) {
                prop_assert_eq!(got, raw);
            }
        }
    }
}
