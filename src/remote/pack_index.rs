//! Pack indexes (`packs/<pack id>.idx`): which objects a pack holds, and where.
//!
//! Owns: the byte encoding of a pack index and its strict decoding, and looking an id
//! up in one. Does not own the pack itself (`pack`) or fetching either (`transfer`).
//!
//! Layout (little-endian; see docs/format.md, "Pack index"):
//!
//! ```text
//! magic "DVXN" | version u32 | pack id [32] | pack length u64 | count u32
//! fan-out: 256 × u32 (fanout[b] = entries whose first id byte <= b)
//! entries: count × (id [32] | offset u64 | length u32 | raw size u32), ids ascending
//! checksum: BLAKE3 of every byte before it [32]
//! ```
//!
//! Entries are fixed width and the fan-out sits at a fixed offset, so a reader can find
//! one id with two ranged reads; dvx reads whole indexes (they are small) and caches
//! them. Invariants of a decoded index: the checksum matches, the pack id is the one the
//! index was fetched for, ids strictly ascend and agree with the fan-out, and every
//! entry lies inside the pack after its header without overlapping another.

use crate::hash::{ID_LEN, ObjectId};

pub const MAGIC: &[u8; 4] = b"DVXN";
pub const VERSION: u32 = 1;
/// Magic, version, pack id, pack length, count.
pub const HEADER_LEN: usize = 4 + 4 + ID_LEN + 8 + 4;
pub const FANOUT_LEN: usize = 256 * 4;
pub const ENTRY_LEN: usize = ID_LEN + 8 + 4 + 4;
const CHECKSUM_LEN: usize = 32;

/// Where one object lies in its pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub id: ObjectId,
    /// Offset of the entry (its id, then its zstd frame) from the start of the pack.
    pub offset: u64,
    /// Bytes of the entry: 32 for the id plus the frame.
    pub length: u32,
    /// Size of the object itself.
    pub raw_size: u32,
}

impl Entry {
    pub fn range(&self) -> std::ops::Range<u64> {
        self.offset..self.offset + u64::from(self.length)
    }
}

/// A decoded pack index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackIndex {
    pub pack: ObjectId,
    pub pack_len: u64,
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("pack index {pack} is too short ({len} bytes)")]
    Short { pack: ObjectId, len: usize },
    #[error("pack index {pack} does not start with DVXN")]
    Magic { pack: ObjectId },
    #[error(
        "pack index {pack} has version {version}; this dvx reads version {VERSION} (upgrade dvx)"
    )]
    Version { pack: ObjectId, version: u32 },
    #[error("pack index {pack} is damaged: its checksum does not match")]
    Checksum { pack: ObjectId },
    #[error("pack index {pack} names pack {found}")]
    WrongPack { pack: ObjectId, found: ObjectId },
    #[error("pack index {pack} is invalid: {reason}")]
    Invalid { pack: ObjectId, reason: String },
}

impl PackIndex {
    /// An index over `entries` (any order; duplicates are dropped) of a pack.
    pub fn new(pack: ObjectId, pack_len: u64, mut entries: Vec<Entry>) -> PackIndex {
        entries.sort_by_key(|a| a.id);
        entries.dedup_by(|a, b| a.id == b.id);
        PackIndex {
            pack,
            pack_len,
            entries,
        }
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn lookup(&self, id: &ObjectId) -> Option<&Entry> {
        self.entries
            .binary_search_by(|e| e.id.cmp(id))
            .ok()
            .map(|i| &self.entries[i])
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            HEADER_LEN + FANOUT_LEN + self.entries.len() * ENTRY_LEN + CHECKSUM_LEN,
        );
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(self.pack.as_bytes());
        out.extend_from_slice(&self.pack_len.to_le_bytes());
        out.extend_from_slice(&(self.entries.len() as u32).to_le_bytes());
        let mut fanout = [0u32; 256];
        for e in &self.entries {
            fanout[e.id.as_bytes()[0] as usize] += 1;
        }
        let mut running = 0u32;
        for count in fanout {
            running += count;
            out.extend_from_slice(&running.to_le_bytes());
        }
        for e in &self.entries {
            out.extend_from_slice(e.id.as_bytes());
            out.extend_from_slice(&e.offset.to_le_bytes());
            out.extend_from_slice(&e.length.to_le_bytes());
            out.extend_from_slice(&e.raw_size.to_le_bytes());
        }
        let checksum = blake3::hash(&out);
        out.extend_from_slice(checksum.as_bytes());
        out
    }

    /// Decode the index fetched as `packs/<pack>.idx`, checking everything the module
    /// docs promise. Never panics, whatever the bytes.
    pub fn decode(pack: &ObjectId, bytes: &[u8]) -> Result<PackIndex, DecodeError> {
        let pack = *pack;
        let invalid = |reason: String| DecodeError::Invalid { pack, reason };
        if bytes.len() < HEADER_LEN + FANOUT_LEN + CHECKSUM_LEN {
            return Err(DecodeError::Short {
                pack,
                len: bytes.len(),
            });
        }
        if &bytes[..4] != MAGIC {
            return Err(DecodeError::Magic { pack });
        }
        let version = u32_at(bytes, 4);
        if version != VERSION {
            return Err(DecodeError::Version { pack, version });
        }
        let (body, checksum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
        if blake3::hash(body).as_bytes() != checksum {
            return Err(DecodeError::Checksum { pack });
        }
        let found = ObjectId::from_bytes(id_at(bytes, 8));
        if found != pack {
            return Err(DecodeError::WrongPack { pack, found });
        }
        let pack_len = u64_at(bytes, 8 + ID_LEN);
        let count = u32_at(bytes, 8 + ID_LEN + 8) as usize;
        let expected = count
            .checked_mul(ENTRY_LEN)
            .and_then(|n| n.checked_add(HEADER_LEN + FANOUT_LEN + CHECKSUM_LEN));
        if expected != Some(bytes.len()) {
            return Err(invalid(format!(
                "{count} entries do not fit its {} bytes",
                bytes.len()
            )));
        }
        let entries_at = HEADER_LEN + FANOUT_LEN;
        let mut entries = Vec::with_capacity(count);
        for i in 0..count {
            let at = entries_at + i * ENTRY_LEN;
            entries.push(Entry {
                id: ObjectId::from_bytes(id_at(bytes, at)),
                offset: u64_at(bytes, at + ID_LEN),
                length: u32_at(bytes, at + ID_LEN + 8),
                raw_size: u32_at(bytes, at + ID_LEN + 12),
            });
        }
        // Ids strictly ascending, and the fan-out agrees with them.
        if entries.windows(2).any(|w| w[0].id >= w[1].id) {
            return Err(invalid("ids are not strictly ascending".into()));
        }
        let mut below = 0usize;
        for b in 0..256usize {
            while below < count && entries[below].id.as_bytes()[0] as usize <= b {
                below += 1;
            }
            if u32_at(bytes, HEADER_LEN + b * 4) as usize != below {
                return Err(invalid(format!("fan-out entry {b} is wrong")));
            }
        }
        // Entries inside the pack, after its header, not overlapping.
        let mut by_offset: Vec<&Entry> = entries.iter().collect();
        by_offset.sort_by_key(|e| e.offset);
        let mut end = super::pack::HEADER_LEN as u64;
        for e in by_offset {
            if e.offset < end {
                return Err(invalid(format!(
                    "entry {} overlaps another or the pack header",
                    e.id.short()
                )));
            }
            if (e.length as usize) < ID_LEN + super::pack::MIN_FRAME_LEN {
                return Err(invalid(format!("entry {} is too short", e.id.short())));
            }
            if e.raw_size >= super::pack::MAX_PACKED_SIZE || e.length > max_length(e.raw_size) {
                return Err(invalid(format!(
                    "entry {} is too large for its size",
                    e.id.short()
                )));
            }
            end = e.offset + u64::from(e.length);
            if end > pack_len {
                return Err(invalid(format!(
                    "entry {} lies past the end of the pack",
                    e.id.short()
                )));
            }
        }
        Ok(PackIndex {
            pack,
            pack_len,
            entries,
        })
    }
}

/// Bytes a ranged lookup reads first: the header and the fan-out.
pub const PREFIX_LEN: usize = HEADER_LEN + FANOUT_LEN;

/// An index's header and fan-out, read without the rest, for finding a few ids with
/// ranged reads. There is no checksum to check here (it covers the whole file): every
/// entry found is checked for plausibility, and what it points at is verified against
/// its id when read, as always.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FanOut {
    pub pack: ObjectId,
    pub pack_len: u64,
    count: u32,
    fanout: [u32; 256],
}

impl FanOut {
    /// Decode the first [`PREFIX_LEN`] bytes of `packs/<pack>.idx`, whose whole length
    /// (from the listing) is `file_len`.
    pub fn decode(pack: &ObjectId, prefix: &[u8], file_len: u64) -> Result<FanOut, DecodeError> {
        let pack = *pack;
        let invalid = |reason: String| DecodeError::Invalid { pack, reason };
        if prefix.len() != PREFIX_LEN {
            return Err(DecodeError::Short {
                pack,
                len: prefix.len(),
            });
        }
        if &prefix[..4] != MAGIC {
            return Err(DecodeError::Magic { pack });
        }
        let version = u32_at(prefix, 4);
        if version != VERSION {
            return Err(DecodeError::Version { pack, version });
        }
        let found = ObjectId::from_bytes(id_at(prefix, 8));
        if found != pack {
            return Err(DecodeError::WrongPack { pack, found });
        }
        let pack_len = u64_at(prefix, 8 + ID_LEN);
        let count = u32_at(prefix, 8 + ID_LEN + 8);
        let expected =
            (count as u64) * ENTRY_LEN as u64 + (HEADER_LEN + FANOUT_LEN + CHECKSUM_LEN) as u64;
        if expected != file_len {
            return Err(invalid(format!(
                "{count} entries do not fit its {file_len} bytes"
            )));
        }
        let mut fanout = [0u32; 256];
        let mut previous = 0;
        for (b, slot) in fanout.iter_mut().enumerate() {
            *slot = u32_at(prefix, HEADER_LEN + b * 4);
            if *slot < previous {
                return Err(invalid(format!(
                    "fan-out entry {b} is smaller than the one before"
                )));
            }
            previous = *slot;
        }
        if previous != count {
            return Err(invalid(
                "the fan-out does not end at the entry count".into(),
            ));
        }
        Ok(FanOut {
            pack,
            pack_len,
            count,
            fanout,
        })
    }

    /// The byte range, in the index file, of the entries whose ids start with `first`.
    pub fn slice(&self, first: u8) -> std::ops::Range<u64> {
        let lo = if first == 0 {
            0
        } else {
            self.fanout[first as usize - 1]
        };
        let hi = self.fanout[first as usize];
        let at = |i: u32| (HEADER_LEN + FANOUT_LEN) as u64 + u64::from(i) * ENTRY_LEN as u64;
        at(lo)..at(hi)
    }

    /// Find `id` in `bytes`, the [`Self::slice`] for its first byte.
    pub fn find(&self, id: &ObjectId, bytes: &[u8]) -> Result<Option<Entry>, DecodeError> {
        let pack = self.pack;
        let invalid = |reason: String| DecodeError::Invalid { pack, reason };
        let first = id.as_bytes()[0];
        let range = self.slice(first);
        if bytes.len() as u64 != range.end - range.start {
            return Err(DecodeError::Short {
                pack,
                len: bytes.len(),
            });
        }
        let entries: Vec<Entry> = bytes
            .chunks_exact(ENTRY_LEN)
            .map(|c| Entry {
                id: ObjectId::from_bytes(id_at(c, 0)),
                offset: u64_at(c, ID_LEN),
                length: u32_at(c, ID_LEN + 8),
                raw_size: u32_at(c, ID_LEN + 12),
            })
            .collect();
        if entries.iter().any(|e| e.id.as_bytes()[0] != first)
            || entries.windows(2).any(|w| w[0].id >= w[1].id)
        {
            return Err(invalid(format!(
                "the entries for ids starting {first:02x} are out of order"
            )));
        }
        let Ok(i) = entries.binary_search_by(|e| e.id.cmp(id)) else {
            return Ok(None);
        };
        let e = entries[i];
        if e.offset < super::pack::HEADER_LEN as u64
            || (e.length as usize) < ID_LEN + super::pack::MIN_FRAME_LEN
            || e.raw_size >= super::pack::MAX_PACKED_SIZE
            || e.length > max_length(e.raw_size)
            || e.offset
                .checked_add(u64::from(e.length))
                .is_none_or(|end| end > self.pack_len)
        {
            return Err(invalid(format!("entry {} is out of bounds", e.id.short())));
        }
        Ok(Some(e))
    }

    pub fn count(&self) -> u32 {
        self.count
    }
}

/// The longest entry an object of `raw_size` bytes can have: its id and zstd's bound on
/// a frame of that size. A longer one is a lie that would make a reader fetch more.
fn max_length(raw_size: u32) -> u32 {
    let bound = zstd::zstd_safe::compress_bound(raw_size as usize);
    u32::try_from(ID_LEN + bound).unwrap_or(u32::MAX)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn id_at(b: &[u8], at: usize) -> [u8; ID_LEN] {
    b[at..at + ID_LEN].try_into().expect("32 bytes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> PackIndex {
        let entries = (0u8..20)
            .map(|i| Entry {
                id: ObjectId::of(&[i]),
                offset: 8 + u64::from(i) * 100,
                length: 100,
                raw_size: 100 + u32::from(i) * 3,
            })
            .collect();
        PackIndex::new(ObjectId::of(b"pack"), 8 + 20 * 100, entries)
    }

    #[test]
    fn round_trip_and_lookup() {
        let idx = sample();
        let bytes = idx.encode();
        assert_eq!(bytes.len(), HEADER_LEN + FANOUT_LEN + 20 * ENTRY_LEN + 32);
        let back = PackIndex::decode(&idx.pack, &bytes).expect("decodes");
        assert_eq!(back, idx);
        let id = ObjectId::of(&[7]);
        assert_eq!(back.lookup(&id).map(|e| e.offset), Some(8 + 700));
        assert!(back.lookup(&ObjectId::of(b"absent")).is_none());
    }

    #[test]
    fn damage_is_named() {
        let idx = sample();
        let bytes = idx.encode();
        let mut flipped = bytes.clone();
        flipped[HEADER_LEN + FANOUT_LEN + 40] ^= 1;
        assert!(matches!(
            PackIndex::decode(&idx.pack, &flipped),
            Err(DecodeError::Checksum { .. })
        ));
        let other = ObjectId::of(b"other");
        let err = PackIndex::decode(&other, &bytes).expect_err("wrong pack");
        assert!(err.to_string().contains(&other.to_hex()), "{err}");
        assert!(matches!(
            PackIndex::decode(&idx.pack, &bytes[..100]),
            Err(DecodeError::Short { .. })
        ));
    }

    #[test]
    fn an_entry_longer_than_its_size_allows_is_refused() {
        let pack = ObjectId::of(b"pack");
        let long = Entry {
            id: ObjectId::of(b"x"),
            offset: 8,
            length: 1_000_000,
            raw_size: 10,
        };
        let idx = PackIndex::new(pack, 2_000_000, vec![long]);
        let bytes = idx.encode();
        let err = PackIndex::decode(&pack, &bytes).expect_err("too long");
        assert!(err.to_string().contains("too large for its size"), "{err}");
        let fan = FanOut::decode(&pack, &bytes[..PREFIX_LEN], bytes.len() as u64).expect("fan-out");
        let r = fan.slice(long.id.as_bytes()[0]);
        assert!(
            fan.find(&long.id, &bytes[r.start as usize..r.end as usize])
                .is_err()
        );
    }

    #[test]
    fn an_entry_past_the_pack_is_refused_even_with_a_good_checksum() {
        let mut idx = sample();
        idx.pack_len = 500;
        let err = PackIndex::decode(&idx.pack, &idx.encode()).expect_err("past the end");
        assert!(err.to_string().contains("past the end"), "{err}");
    }

    #[test]
    fn ranged_lookups_find_what_the_whole_index_finds() {
        let idx = sample();
        let bytes = idx.encode();
        let fan =
            FanOut::decode(&idx.pack, &bytes[..PREFIX_LEN], bytes.len() as u64).expect("fan-out");
        assert_eq!(fan.count(), 20);
        for i in 0u8..20 {
            let id = ObjectId::of(&[i]);
            let r = fan.slice(id.as_bytes()[0]);
            let found = fan
                .find(&id, &bytes[r.start as usize..r.end as usize])
                .expect("slice");
            assert_eq!(found.as_ref(), idx.lookup(&id));
        }
        let absent = ObjectId::of(b"absent");
        let r = fan.slice(absent.as_bytes()[0]);
        assert_eq!(
            fan.find(&absent, &bytes[r.start as usize..r.end as usize])
                .expect("slice"),
            None
        );
        assert!(FanOut::decode(&idx.pack, &bytes[..PREFIX_LEN], bytes.len() as u64 + 1).is_err());
        assert!(
            FanOut::decode(
                &ObjectId::of(b"other"),
                &bytes[..PREFIX_LEN],
                bytes.len() as u64
            )
            .is_err()
        );
    }

    proptest! {
        #[test]
        fn ranged_decoding_of_random_bytes_never_panics(
            prefix in proptest::collection::vec(any::<u8>(), PREFIX_LEN..=PREFIX_LEN),
            slice in proptest::collection::vec(any::<u8>(), 0..600),
            len in 0u64..100_000,
        ) {
            let pack = ObjectId::of(b"pack");
            if let Ok(fan) = FanOut::decode(&pack, &prefix, len) {
                let _ = fan.find(&ObjectId::of(b"x"), &slice);
            }
        }

        #[test]
        fn ranged_lookups_in_a_mutated_index_never_panic_nor_leave_the_pack(at in 0usize..2200, xor in 1u8..=255, probe in 0u8..20) {
            let idx = sample();
            let mut bytes = idx.encode();
            let at = at % bytes.len();
            bytes[at] ^= xor;
            if let Ok(fan) = FanOut::decode(&idx.pack, &bytes[..PREFIX_LEN], bytes.len() as u64) {
                let id = ObjectId::of(&[probe]);
                let r = fan.slice(id.as_bytes()[0]);
                if r.end <= bytes.len() as u64
                    && let Ok(Some(e)) = fan.find(&id, &bytes[r.start as usize..r.end as usize])
                {
                    prop_assert!(e.offset + u64::from(e.length) <= fan.pack_len);
                }
            }
        }

        #[test]
        fn decoding_random_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..3000)) {
            let _ = PackIndex::decode(&ObjectId::of(b"pack"), &bytes);
        }

        #[test]
        fn any_mutation_of_a_valid_index_is_an_error(at in 0usize..2000, xor in 1u8..=255) {
            let idx = sample();
            let mut bytes = idx.encode();
            let at = at % bytes.len();
            bytes[at] ^= xor;
            prop_assert!(PackIndex::decode(&idx.pack, &bytes).is_err());
        }

        #[test]
        fn truncations_are_errors(cut in 0usize..2000) {
            let idx = sample();
            let bytes = idx.encode();
            let cut = cut % bytes.len();
            prop_assert!(PackIndex::decode(&idx.pack, &bytes[..cut]).is_err());
        }
    }
}
