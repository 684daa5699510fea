//! Packs (`packs/<pack id>.pack`): many small objects in one remote file.
//!
//! Owns: building a pack (each object compressed with zstd as a frame of its own,
//! behind its id) together with its [`PackIndex`], and decoding one entry read back with
//! a ranged GET. Does not own choosing which objects go in a pack or fetching
//! (`transfer`).
//!
//! Layout (see docs/format.md, "Packs"):
//!
//! ```text
//! magic "DVXP" | version u32 LE
//! entries: id [32] | zstd frame of the object's bytes      (repeated)
//! ```
//!
//! The pack id is BLAKE3 of the whole pack file. Invariants: a decoded entry is exactly
//! one zstd frame behind the id it was asked for, decompresses to exactly the size the
//! index gave, and hashes to that id; anything else is an error naming the object.
//! Decoding never panics and never allocates more than the index's size bound allows.

use std::cell::RefCell;
use std::thread::LocalKey;

use super::pack_index::{Entry, PackIndex};
use crate::hash::{ID_LEN, ObjectId};

pub const MAGIC: &[u8; 4] = b"DVXP";
pub const VERSION: u32 = 1;
pub const HEADER_LEN: usize = 8;
/// The smallest possible zstd frame (magic, frame header, one empty last block).
pub const MIN_FRAME_LEN: usize = 9;
/// Objects at or above this size are never packed: a reader refuses a larger entry, so
/// a lying index cannot make it allocate more.
pub const MAX_PACKED_SIZE: u32 = 64 << 20;
/// zstd level for packs and large objects: fast, and most of the gain on typical data.
pub const LEVEL: i32 = 3;

/// After this many objects in a row that zstd could not shrink, a pack stores objects
/// as they are (a zstd frame of raw blocks, [`stored_frame_into`]), compressing one in
/// [`PROBE_EVERY`] to notice when the data changes: photos, audio and already
/// compressed files cost zstd its whole search for matches (a sixth of a push's CPU
/// time) to come out the same size.
const INCOMPRESSIBLE_STREAK: u32 = 8;
/// While storing as is, one object in this many is still compressed, as a probe.
const PROBE_EVERY: usize = 16;
/// The largest object stored as is: a stored frame is one segment, its window the whole
/// object, and RFC 8878 asks decoders to accept windows of up to 8 MiB (larger objects
/// are compressed, as zstd frames with a window of their own).
const STORED_FRAME_MAX: usize = 8 << 20;

/// A pack being filled.
pub struct PackBuilder {
    bytes: Vec<u8>,
    entries: Vec<Entry>,
    /// Objects in a row, up to the last one compressed, that zstd could not shrink.
    incompressible: u32,
}

/// A finished pack and its index.
pub struct Pack {
    pub id: ObjectId,
    pub bytes: Vec<u8>,
    pub index: PackIndex,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("object {id} is too large to pack ({size} bytes)")]
    TooLarge { id: ObjectId, size: usize },
    #[error("cannot compress object {id}: {source}")]
    Compress {
        id: ObjectId,
        #[source]
        source: std::io::Error,
    },
    #[error("object {id} in pack {pack} is corrupt: {reason}")]
    Corrupt {
        id: ObjectId,
        pack: ObjectId,
        reason: String,
    },
}

impl Default for PackBuilder {
    fn default() -> Self {
        PackBuilder::new()
    }
}

impl PackBuilder {
    pub fn new() -> PackBuilder {
        PackBuilder::with_capacity(0, 0)
    }

    /// A builder with room for `count` objects of `raw` bytes in all, at worst (each
    /// compressed to at most its `ZSTD_COMPRESSBOUND`), so a pack of tens of MiB is not
    /// grown (and copied) a dozen times.
    pub fn with_capacity(count: usize, raw: usize) -> PackBuilder {
        let bound = raw + raw / 128 + count * (ID_LEN + 64);
        let mut bytes = Vec::with_capacity(HEADER_LEN + bound);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&VERSION.to_le_bytes());
        PackBuilder {
            bytes,
            entries: Vec::with_capacity(count),
            incompressible: 0,
        }
    }

    /// Bytes in the pack so far.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn count(&self) -> usize {
        self.entries.len()
    }

    /// Append an object (the caller has checked that `raw` hashes to `id`).
    pub fn add(&mut self, id: ObjectId, raw: &[u8]) -> Result<(), Error> {
        if raw.len() >= MAX_PACKED_SIZE as usize {
            return Err(Error::TooLarge {
                id,
                size: raw.len(),
            });
        }
        let offset = self.bytes.len() as u64;
        self.bytes.extend_from_slice(id.as_bytes());
        let probe = self.entries.len().is_multiple_of(PROBE_EVERY);
        let stored = raw.len() <= STORED_FRAME_MAX;
        let frame_len = if self.incompressible >= INCOMPRESSIBLE_STREAK && !probe && stored {
            stored_frame_into(raw, &mut self.bytes)
        } else {
            match compress_frame_into(raw, &mut self.bytes) {
                Ok(n) => {
                    // zstd stores what it cannot shrink in raw blocks, a few bytes larger.
                    if n >= raw.len() {
                        self.incompressible = self.incompressible.saturating_add(1);
                    } else {
                        self.incompressible = 0;
                    }
                    n
                }
                Err(source) => {
                    self.bytes.truncate(offset as usize);
                    return Err(Error::Compress { id, source });
                }
            }
        };
        self.entries.push(Entry {
            id,
            offset,
            length: (ID_LEN + frame_len) as u32,
            raw_size: raw.len() as u32,
        });
        Ok(())
    }

    pub fn finish(self) -> Pack {
        let id = ObjectId::of(&self.bytes);
        let index = PackIndex::new(id, self.bytes.len() as u64, self.entries);
        Pack {
            id,
            bytes: self.bytes,
            index,
        }
    }
}

/// Decode one entry from exactly its bytes (`entry.range()` of pack `pack`), checking
/// the id behind it, the frame, the size and the hash.
pub fn decode_entry(pack: &ObjectId, entry: &Entry, bytes: &[u8]) -> Result<Vec<u8>, Error> {
    let mut raw = Vec::new();
    decode_entry_into(pack, entry, bytes, &mut raw)?;
    Ok(raw)
}

/// [`decode_entry`], appending the object to `out` instead of allocating it: a download
/// decodes a run of many small objects into one buffer, one allocation per run instead
/// of one per object (a pull of 20k files, 838 MiB, touched about 15% fewer fresh pages
/// and peaked about 13% lower, in medians of 9-11 runs). On error `out` is as it was.
pub fn decode_entry_into(
    pack: &ObjectId,
    entry: &Entry,
    bytes: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let corrupt = |reason: String| Error::Corrupt {
        id: entry.id,
        pack: *pack,
        reason,
    };
    if bytes.len() != entry.length as usize || bytes.len() < ID_LEN + MIN_FRAME_LEN {
        return Err(corrupt(format!(
            "expected {} bytes, got {}",
            entry.length,
            bytes.len()
        )));
    }
    if entry.raw_size >= MAX_PACKED_SIZE {
        return Err(corrupt(
            "the index gives a size too large for a pack".into(),
        ));
    }
    let (id, frame) = bytes.split_at(ID_LEN);
    if id != entry.id.as_bytes() {
        return Err(corrupt(
            "the pack holds a different object at this offset".into(),
        ));
    }
    match zstd::zstd_safe::find_frame_compressed_size(frame) {
        Ok(n) if n == frame.len() => {}
        _ => return Err(corrupt("not exactly one zstd frame".into())),
    }
    let start = out.len();
    let judged = match decompress_frame_into(frame, entry.raw_size as usize, out) {
        Err(e) => Err(corrupt(format!("cannot decompress: {e}"))),
        Ok(n) if n != entry.raw_size as usize => Err(corrupt(format!(
            "decompressed to {n} bytes, expected {}",
            entry.raw_size
        ))),
        Ok(_) if ObjectId::of(&out[start..]) != entry.id => {
            Err(corrupt("content does not match its id".into()))
        }
        Ok(_) => Ok(()),
    };
    if judged.is_err() {
        out.truncate(start);
    }
    judged
}

/// One zstd frame of `raw` at [`LEVEL`], with this thread's compression context: making
/// a context per object (what `zstd::bulk::compress` does) was a fifth of a push's CPU
/// time for 20k small files.
pub(crate) fn compress_frame(raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut frame = Vec::new();
    compress_frame_into(raw, &mut frame)?;
    Ok(frame)
}

/// [`compress_frame`], appending the frame to `out` (no buffer of its own, no copy);
/// how many bytes it appended.
fn compress_frame_into(raw: &[u8], out: &mut Vec<u8>) -> std::io::Result<usize> {
    thread_local! {
        static CONTEXT: RefCell<Option<zstd::bulk::Compressor<'static>>> =
            const { RefCell::new(None) };
    }
    let start = out.len();
    out.reserve(zstd::zstd_safe::compress_bound(raw.len()));
    // A cursor at the end of `out` makes zstd write into its spare capacity.
    let mut cursor = std::io::Cursor::new(std::mem::take(out));
    cursor.set_position(start as u64);
    let result = with_thread_context(
        &CONTEXT,
        || zstd::bulk::Compressor::new(LEVEL),
        |c| c.compress_to_buffer(raw, &mut cursor),
    );
    *out = cursor.into_inner();
    result
}

/// The zstd frame magic number (RFC 8878, 3.1.1).
const ZSTD_MAGIC: u32 = 0xFD2F_B528;
/// The largest block a zstd frame may hold (RFC 8878, 3.1.1.2.3).
const ZSTD_MAX_BLOCK: usize = 128 << 10;

/// Append one zstd frame holding `raw` as it is, in raw blocks, to `out`; how many
/// bytes it appended. Any zstd decoder reads it back; it is what zstd itself writes for
/// bytes it cannot compress, without first searching them for matches. The header is a
/// single segment (the window is the whole content, so no window descriptor) with the
/// content size in four bytes (packed objects are under [`MAX_PACKED_SIZE`]), no
/// dictionary and no checksum (the object's id is its checksum).
fn stored_frame_into(raw: &[u8], out: &mut Vec<u8>) -> usize {
    let start = out.len();
    let size = u32::try_from(raw.len()).expect("packed objects are under 4 GiB");
    out.reserve(4 + 1 + 4 + 3 * (raw.len() / ZSTD_MAX_BLOCK + 1) + raw.len());
    out.extend_from_slice(&ZSTD_MAGIC.to_le_bytes());
    // Frame_Content_Size_flag 2 (four bytes), Single_Segment_flag set.
    out.push(0b1010_0000);
    out.extend_from_slice(&size.to_le_bytes());
    let mut blocks = raw.chunks(ZSTD_MAX_BLOCK).peekable();
    if blocks.peek().is_none() {
        // Empty content: one empty last block.
        out.extend_from_slice(&block_header(0, true));
    }
    while let Some(block) = blocks.next() {
        out.extend_from_slice(&block_header(block.len(), blocks.peek().is_none()));
        out.extend_from_slice(block);
    }
    out.len() - start
}

/// A raw block's three-byte header: Last_Block in bit 0, Block_Type 0 (raw) in bits 1-2,
/// the size in bits 3-23, little-endian.
fn block_header(len: usize, last: bool) -> [u8; 3] {
    let value = (len as u32) << 3 | u32::from(last);
    let bytes = value.to_le_bytes();
    [bytes[0], bytes[1], bytes[2]]
}

/// Decompress one zstd frame into at most `capacity` bytes, with this thread's
/// decompression context: making a context per object cost as much as decompressing a
/// small object (a pull of 20k small files spent 5% of its time allocating them).
pub(crate) fn decompress_frame(frame: &[u8], capacity: usize) -> std::io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    decompress_frame_into(frame, capacity, &mut raw)?;
    Ok(raw)
}

/// [`decompress_frame`], appending at most `capacity` bytes to `out`; how many it
/// appended. A frame that holds more is an error, and leaves `out` as it was.
fn decompress_frame_into(
    frame: &[u8],
    capacity: usize,
    out: &mut Vec<u8>,
) -> std::io::Result<usize> {
    thread_local! {
        static CONTEXT: RefCell<Option<zstd::bulk::Decompressor<'static>>> =
            const { RefCell::new(None) };
    }
    let start = out.len();
    out.reserve(capacity);
    // A cursor at the end of `out` makes zstd write into its spare capacity (no zeroing
    // first), and never past it.
    let mut cursor = std::io::Cursor::new(std::mem::take(out));
    cursor.set_position(start as u64);
    let result = with_thread_context(&CONTEXT, zstd::bulk::Decompressor::new, |c| {
        c.decompress_to_buffer(frame, &mut cursor)
    });
    *out = cursor.into_inner();
    match result {
        // `reserve` may have made more room than asked for, and zstd fills what it finds.
        Ok(n) if n > capacity => {
            out.truncate(start);
            Err(std::io::Error::other(format!(
                "the frame holds more than {capacity} bytes"
            )))
        }
        result => result,
    }
}

/// Run `use_it` with this thread's context in `slot`, made by `make` on first use.
fn with_thread_context<C: 'static, T>(
    slot: &'static LocalKey<RefCell<Option<C>>>,
    make: impl FnOnce() -> std::io::Result<C>,
    use_it: impl FnOnce(&mut C) -> std::io::Result<T>,
) -> std::io::Result<T> {
    slot.with(|slot| {
        let mut slot = slot.borrow_mut();
        let context = match slot.as_mut() {
            Some(context) => context,
            None => slot.insert(make()?),
        };
        use_it(context)
    })
}

/// Check a whole pack against its id (used when a pack is read whole).
pub fn verify_pack(pack: &ObjectId, bytes: &[u8]) -> bool {
    bytes.len() >= HEADER_LEN && &bytes[..4] == MAGIC && ObjectId::of(bytes) == *pack
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn objects() -> Vec<Vec<u8>> {
        vec![
            b"".to_vec(),
            b"hello".to_vec(),
            vec![7u8; 100_000],
            (0..5000u32).flat_map(|i| i.to_le_bytes()).collect(),
        ]
    }

    fn built() -> Pack {
        let mut b = PackBuilder::new();
        for o in objects() {
            b.add(ObjectId::of(&o), &o).expect("add");
        }
        b.finish()
    }

    /// Bytes zstd cannot shrink (a SplitMix64 stream).
    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut state = seed;
        (0..len)
            .map(|_| {
                state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                (z ^ (z >> 31)) as u8
            })
            .collect()
    }

    #[test]
    fn a_stored_frame_is_a_zstd_frame_any_decoder_reads_back() {
        for len in [
            0,
            1,
            255,
            256,
            ZSTD_MAX_BLOCK - 1,
            ZSTD_MAX_BLOCK,
            ZSTD_MAX_BLOCK + 1,
            300_000,
        ] {
            let raw = noise(len, len as u64);
            let mut frame = vec![0xAA];
            let n = stored_frame_into(&raw, &mut frame);
            assert_eq!(n, frame.len() - 1, "length of what was appended ({len})");
            let frame = &frame[1..];
            assert_eq!(
                zstd::zstd_safe::find_frame_compressed_size(frame).ok(),
                Some(frame.len()),
                "one whole frame ({len})"
            );
            assert_eq!(zstd::stream::decode_all(frame).expect("zstd reads it"), raw);
            assert_eq!(decompress_frame(frame, len).expect("decompress"), raw);
        }
    }

    #[test]
    fn a_pack_of_incompressible_objects_stores_them_and_still_probes() {
        let mut b = PackBuilder::new();
        let objects: Vec<Vec<u8>> = (0..64).map(|i| noise(4096, i)).collect();
        for o in &objects {
            b.add(ObjectId::of(o), o).expect("add");
        }
        // Then compressible data: a probe notices and compression resumes.
        let text: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; 4096]).collect();
        for o in &text {
            b.add(ObjectId::of(o), o).expect("add");
        }
        let pack = b.finish();
        let index = PackIndex::decode(&pack.id, &pack.index.encode()).expect("index");
        for o in objects.iter().chain(&text) {
            let e = index.lookup(&ObjectId::of(o)).expect("indexed");
            let r = e.range();
            let raw = decode_entry(&pack.id, e, &pack.bytes[r.start as usize..r.end as usize])
                .expect("decodes");
            assert_eq!(&raw, o);
        }
        let length = |o: &Vec<u8>| index.lookup(&ObjectId::of(o)).expect("indexed").length;
        // A stored frame: magic, descriptor, four-byte size, one block header (zstd's
        // own raw output has a two-byte size at this length).
        let stored_len = (ID_LEN + 4 + 1 + 4 + 3 + 4096) as u32;
        let stored = objects.iter().filter(|o| length(o) == stored_len).count();
        let at_least = 64 - 64 / PROBE_EVERY - INCOMPRESSIBLE_STREAK as usize;
        assert!(stored >= at_least, "{stored} of 64 stored as they are");
        let compressed = text.iter().filter(|o| length(o) < 200).count();
        assert_eq!(
            compressed,
            text.len(),
            "the first probe resumed compression"
        );
    }

    #[test]
    fn every_entry_reads_back_alone() {
        let pack = built();
        assert!(verify_pack(&pack.id, &pack.bytes));
        let index = PackIndex::decode(&pack.id, &pack.index.encode()).expect("index");
        for o in objects() {
            let e = index.lookup(&ObjectId::of(&o)).expect("indexed");
            let r = e.range();
            let raw = decode_entry(&pack.id, e, &pack.bytes[r.start as usize..r.end as usize])
                .expect("decodes");
            assert_eq!(raw, o);
        }
        // Compression works: 100k equal bytes take a few dozen.
        assert!(pack.bytes.len() < 30_000, "{}", pack.bytes.len());
    }

    #[test]
    fn a_flipped_byte_or_a_lying_entry_names_the_object() {
        let pack = built();
        let o = vec![7u8; 100_000];
        let id = ObjectId::of(&o);
        let e = *pack.index.lookup(&id).expect("indexed");
        let r = e.range().start as usize..e.range().end as usize;
        let mut bytes = pack.bytes[r.clone()].to_vec();
        let last = bytes.len() - 3;
        bytes[last] ^= 0x40;
        let err = decode_entry(&pack.id, &e, &bytes).expect_err("flipped");
        assert!(err.to_string().contains(&id.to_hex()), "{err}");
        let lying = Entry {
            raw_size: e.raw_size - 1,
            ..e
        };
        assert!(decode_entry(&pack.id, &lying, &pack.bytes[r.clone()]).is_err());
        let other = Entry {
            id: ObjectId::of(b"hello"),
            ..e
        };
        assert!(decode_entry(&pack.id, &other, &pack.bytes[r]).is_err());
        assert!(!verify_pack(&pack.id, &pack.bytes[..pack.bytes.len() - 1]));
    }

    #[test]
    fn entries_decode_one_after_another_into_one_buffer_and_a_bad_one_adds_nothing() {
        let pack = built();
        let mut out = b"kept".to_vec();
        let mut ends = Vec::new();
        for o in objects() {
            let e = *pack.index.lookup(&ObjectId::of(&o)).expect("indexed");
            let r = e.range().start as usize..e.range().end as usize;
            decode_entry_into(&pack.id, &e, &pack.bytes[r], &mut out).expect("decodes");
            ends.push(out.len());
        }
        let mut start = 4;
        for (o, end) in objects().iter().zip(ends) {
            assert_eq!(&out[start..end], &o[..]);
            start = end;
        }
        let whole = out.clone();
        let big = vec![7u8; 100_000];
        let e = *pack.index.lookup(&ObjectId::of(&big)).expect("indexed");
        let r = e.range().start as usize..e.range().end as usize;
        // Sizes that are short or long by a byte, and a frame with a flipped byte.
        for raw_size in [e.raw_size - 1, e.raw_size + 1] {
            let lying = Entry { raw_size, ..e };
            assert!(decode_entry_into(&pack.id, &lying, &pack.bytes[r.clone()], &mut out).is_err());
            assert_eq!(out, whole);
        }
        let mut flipped = pack.bytes[r.clone()].to_vec();
        let last = flipped.len() - 3;
        flipped[last] ^= 0x40;
        assert!(decode_entry_into(&pack.id, &e, &flipped, &mut out).is_err());
        assert_eq!(out, whole);
        // No spare room beyond the short size: zstd itself refuses, and nothing is added.
        let short = Entry {
            raw_size: e.raw_size - 1,
            ..e
        };
        let mut tight = Vec::with_capacity(4 + short.raw_size as usize);
        tight.extend_from_slice(b"kept");
        assert!(decode_entry_into(&pack.id, &short, &pack.bytes[r.clone()], &mut tight).is_err());
        assert_eq!(tight, b"kept");
        // `decompress_frame` never hands back more than it was allowed.
        let frame = &pack.bytes[r][ID_LEN..];
        assert!(decompress_frame(frame, 3).is_err());
        assert_eq!(decompress_frame(frame, big.len()).expect("fits"), big);
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_entry_bytes_never_panics(
            bytes in proptest::collection::vec(any::<u8>(), 0..400),
            raw_size in 0u32..100_000,
        ) {
            let entry = Entry { id: ObjectId::of(b"x"), offset: 8, length: bytes.len() as u32, raw_size };
            prop_assert!(decode_entry(&ObjectId::of(b"p"), &entry, &bytes).is_err());
        }

        #[test]
        fn mutated_entries_never_yield_other_bytes(at in 0usize..10_000, xor in 1u8..=255) {
            let pack = built();
            let o: Vec<u8> = (0..5000u32).flat_map(|i| i.to_le_bytes()).collect();
            let e = *pack.index.lookup(&ObjectId::of(&o)).expect("indexed");
            let mut bytes = pack.bytes[e.range().start as usize..e.range().end as usize].to_vec();
            let at = at % bytes.len();
            bytes[at] ^= xor;
            // Either an error or, if zstd happens to decode the damaged frame to the
            // same bytes, exactly the object: never anything else.
            if let Ok(raw) = decode_entry(&pack.id, &e, &bytes) {
                prop_assert_eq!(raw, o);
            }
        }
    }
}
