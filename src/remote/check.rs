//! `dvx fsck --remote`: is a remote sound, and does it hold what the local refs need?
//!
//! Owns: reading everything a remote holds and checking it as a reader would, and
//! comparing what it holds with a list of wanted ids. Every pack index is read whole
//! (its checksum, pack id, fan-out and entries checked); every pack is read whole and
//! hashed against its id (the id is the BLAKE3 of its bytes, the only checksum a pack
//! has), its length compared with the listing and the index, and every entry decoded
//! and re-hashed; every large object's seek table is read and checked against its id,
//! then every frame read and checked against its chaining value. A pack without an index
//! is left over from an interrupted upload: noted, not damage. Nothing is written,
//! locally or on the remote. Does not decide which ids are wanted (the caller walks
//! its refs).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use futures_util::{StreamExt, TryStreamExt, stream};

use super::backend::{self, Backend};
use super::layout::{self, PackFile};
use super::pack;
use super::pack_index::PackIndex;
use super::transfer::{self, Counters, Error, Options, TransferStats, blocking, get_all};
use crate::hash::ObjectId;
use crate::progress::{Progress, Unit};

/// What a check of a remote found.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// Pack indexes read and checked.
    pub indexes: usize,
    /// Packs read whole and hashed, and the objects decoded and re-hashed in them.
    pub packs: usize,
    pub packed_objects: usize,
    /// Large objects whose seek table and every frame were checked.
    pub large_objects: usize,
    /// Bytes of packs and large objects read.
    pub bytes_checked: u64,
    /// Packs without an index: left over from an interrupted upload (not damage).
    pub leftover_packs: usize,
    /// Ids asked about, and those the remote does not hold (sorted).
    pub wanted: usize,
    pub absent: Vec<ObjectId>,
    /// Damage, one line each, naming the file or object.
    pub damaged: Vec<String>,
    pub stats: TransferStats,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.absent.is_empty() && self.damaged.is_empty()
    }
}

/// Check everything the remote holds, and that it holds every id of `wanted`.
pub async fn check(
    backend: &Backend,
    wanted: &[ObjectId],
    options: &Options,
    progress: &dyn Progress,
) -> Result<Report, Error> {
    let start = Instant::now();
    let counters = Counters::default();
    let mut report = Report::default();
    let packs = list(backend, layout::PACKS, &counters).await?;
    let mut indexes: Vec<(ObjectId, u64)> = Vec::new();
    let mut pack_sizes: HashMap<ObjectId, u64> = HashMap::new();
    for (relative, size) in &packs {
        match layout::parse_pack_key(relative) {
            Some((id, PackFile::Index)) => indexes.push((id, *size)),
            Some((id, PackFile::Pack)) => {
                pack_sizes.insert(id, *size);
            }
            None => {}
        }
    }
    let larges: Vec<(ObjectId, u64)> = list(backend, layout::OBJECTS, &counters)
        .await?
        .into_iter()
        .filter_map(|(relative, size)| Some((layout::parse_large_key(&relative)?, size)))
        .collect();
    let total = pack_sizes.values().sum::<u64>() + larges.iter().map(|(_, n)| n).sum::<u64>();
    progress.start("checking remote", Some(total), Unit::Bytes);

    // Indexes first: which packs are trusted, and what they hold.
    let read: Vec<(ObjectId, Result<PackIndex, String>)> = stream::iter(indexes)
        .map(|(pack, _)| {
            let counters = &counters;
            async move {
                let got = match get_all(backend, &layout::index_key(&pack), counters).await {
                    Ok(bytes) => PackIndex::decode(&pack, &bytes).map_err(|e| e.to_string()),
                    Err(e) if is_damage(&e) => Err(format!("pack index {pack}: {e}")),
                    Err(e) => return Err(e),
                };
                Ok((pack, got))
            }
        })
        .buffer_unordered(options.jobs())
        .try_collect()
        .await?;
    let mut held: HashSet<ObjectId> = HashSet::new();
    let mut to_read = Vec::new();
    for (pack, got) in read {
        report.indexes += 1;
        let index = match got {
            Ok(index) => index,
            Err(why) => {
                report.damaged.push(why);
                // Its pack has an index, a damaged one: not left by an interrupted upload.
                pack_sizes.remove(&pack);
                continue;
            }
        };
        match pack_sizes.remove(&pack) {
            None => report
                .damaged
                .push(format!("pack {pack} is missing, but its index names it")),
            Some(size) if size != index.pack_len => report.damaged.push(format!(
                "pack {pack} is {size} bytes, its index says {}",
                index.pack_len
            )),
            Some(_) => {
                held.extend(index.entries().iter().map(|e| e.id));
                to_read.push(index);
            }
        }
    }
    report.leftover_packs = pack_sizes.len();

    // Every trusted pack, whole: its id, then every entry.
    let packs_checked: Vec<(usize, u64, Vec<String>)> = stream::iter(to_read)
        .map(|index| {
            let counters = &counters;
            async move {
                let pack = index.pack;
                let bytes = match get_all(backend, &layout::pack_key(&pack), counters).await {
                    Ok(bytes) => bytes,
                    Err(e) if is_damage(&e) => {
                        return Ok((0, 0, vec![format!("pack {pack}: {e}")]));
                    }
                    Err(e) => return Err(e),
                };
                let len = bytes.len() as u64;
                let found = blocking(move || Ok(check_pack(&index, &bytes))).await?;
                progress.advance(len);
                Ok::<_, Error>((found.0, len, found.1))
            }
        })
        .buffer_unordered(options.pack_jobs())
        .try_collect()
        .await?;
    for (objects, bytes, damage) in packs_checked {
        report.packs += 1;
        report.packed_objects += objects;
        report.bytes_checked += bytes;
        report.damaged.extend(damage);
    }

    // Every large object: its seek table against its id, then every frame.
    let larges_checked: Vec<(ObjectId, u64, Option<String>)> = stream::iter(larges.clone())
        .map(|(id, size)| {
            let counters = &counters;
            async move {
                let damage = match check_large(backend, id, counters).await {
                    Ok(()) => None,
                    Err(e) if is_damage(&e) => Some(e.to_string()),
                    Err(e) => return Err(e),
                };
                progress.advance(size);
                Ok((id, size, damage))
            }
        })
        .buffer_unordered(options.pack_jobs().min(2))
        .try_collect()
        .await?;
    // Held, damaged or not: damage is reported as damage, not also as absence (as for
    // the objects of a damaged pack its index lists).
    for (id, size, damage) in larges_checked {
        report.large_objects += 1;
        report.bytes_checked += size;
        report.damaged.extend(damage);
        held.insert(id);
    }
    progress.finish();

    let wanted = transfer::unique(wanted);
    report.wanted = wanted.len();
    report.absent = wanted.into_iter().filter(|id| !held.contains(id)).collect();
    report.absent.sort_unstable();
    report.damaged.sort();
    report.stats = counters.stats(0, start);
    Ok(report)
}

/// Whether a failed read means the remote's data is bad (reported, and the check goes
/// on) rather than that the remote cannot be used (unreachable, access denied: the
/// check stops with that error).
fn is_damage(e: &Error) -> bool {
    match e {
        Error::Backend(b) | Error::Unreadable { source: b, .. } => {
            matches!(b, backend::Error::Store { .. })
        }
        Error::Truncated { .. }
        | Error::NotOnRemote { .. }
        | Error::Pack(_)
        | Error::PackIndex(_)
        | Error::Large(_) => true,
        _ => false,
    }
}

/// Every key below `dir` (relative to the prefix) with its size: one listing.
async fn list(
    backend: &Backend,
    dir: &str,
    counters: &Counters,
) -> Result<Vec<(String, u64)>, Error> {
    counters.request(0);
    let prefix = backend.key(dir);
    let metas: Vec<_> = backend
        .retry_cut_reads(|| backend.store().list(Some(&prefix)).try_collect())
        .await
        .map_err(|e| backend.store_err(e))?;
    counters
        .requests
        .fetch_add((metas.len() as u64) / 1000, Ordering::Relaxed);
    Ok(metas
        .into_iter()
        .filter_map(|m| Some((backend.relative(&m.location)?, m.size)))
        .collect())
}

/// Check one pack's bytes against its id and every entry its index names: the count of
/// good objects, and the damage found.
fn check_pack(index: &PackIndex, bytes: &[u8]) -> (usize, Vec<String>) {
    let pack = index.pack;
    if ObjectId::of(bytes) != pack {
        return (
            0,
            vec![format!(
                "pack {pack} is damaged: its bytes do not hash to its id"
            )],
        );
    }
    let mut good = 0;
    let mut damage = Vec::new();
    for entry in index.entries() {
        let range = entry.range();
        let slice = usize::try_from(range.start)
            .ok()
            .zip(usize::try_from(range.end).ok())
            .and_then(|(a, b)| bytes.get(a..b));
        let Some(slice) = slice else {
            damage.push(format!(
                "object {} in pack {pack}: the index points past the pack's end",
                entry.id
            ));
            continue;
        };
        match pack::decode_entry(&pack, entry, slice) {
            Ok(_) => good += 1,
            Err(e) => damage.push(e.to_string()),
        }
    }
    (good, damage)
}

/// Read a large object's seek table (checked against its id) and every frame (each
/// checked against its chaining value), a batch at a time.
async fn check_large(backend: &Backend, id: ObjectId, counters: &Counters) -> Result<(), Error> {
    let table = Arc::new(transfer::download::seek_table(backend, &id, counters).await?);
    let count = table.frames().len();
    let mut i = 0;
    while i < count {
        let j = transfer::download::batch_end(&table, i);
        transfer::download::frames(backend, id, Arc::clone(&table), i..j, counters).await?;
        i = j;
    }
    Ok(())
}
