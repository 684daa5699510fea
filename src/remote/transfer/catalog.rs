//! What a remote holds: where each packed object lies.
//!
//! Owns: listing a remote's pack indexes and reading them (from the local cache, whole,
//! or, for a few wanted ids, with ranged reads of the header, fan-out and one slice).
//! Large objects are not listed here: they are found by their key.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use futures_util::{StreamExt, TryStreamExt, stream};
use object_store::ObjectStoreExt;

use super::{Counters, Error, TransferStats, get_all, get_range};
use crate::hash::ObjectId;
use crate::remote::backend::Backend;
use crate::remote::index_cache::IndexCache;
use crate::remote::layout::{self, PackFile};
use crate::remote::pack_index::{self, Entry, FanOut, PackIndex};

/// Where each packed object of a remote lies, as far as it has been read.
#[derive(Debug, Default)]
pub struct RemoteIndex {
    objects: HashMap<ObjectId, (ObjectId, Entry)>,
    packs: usize,
    /// Packs whose index was not read whole (not cached, and a few ids were wanted):
    /// the pack and its index file's length.
    unread: Vec<(ObjectId, u64)>,
}

impl RemoteIndex {
    pub fn locate(&self, id: &ObjectId) -> Option<&(ObjectId, Entry)> {
        self.objects.get(id)
    }

    pub fn packed_objects(&self) -> usize {
        self.objects.len()
    }

    pub fn packs(&self) -> usize {
        self.packs
    }

    /// Whether every index has been read whole.
    pub fn is_complete(&self) -> bool {
        self.unread.is_empty()
    }
}

/// How much of each index `load_index` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Depth {
    /// Every index, whole (from the cache, else fetched and cached).
    Whole,
    /// Cached indexes whole; the others are only listed, for [`resolve`] to search
    /// with ranged reads.
    Cached,
}

/// At most this many wanted objects are looked up with ranged reads of indexes that are
/// not cached; more, and reading the indexes whole (and caching them) is cheaper.
pub const RANGED_LOOKUP_MAX: usize = 64;

/// List the remote's packs and read their indexes as `depth` says.
pub(crate) async fn load_index(
    backend: &Backend,
    cache: Option<&IndexCache>,
    jobs: usize,
    depth: Depth,
    counters: &Counters,
) -> Result<RemoteIndex, Error> {
    let prefix = backend.key(layout::PACKS);
    counters.request(0);
    let metas: Vec<_> = backend
        .retry_cut_reads(|| backend.store().list(Some(&prefix)).try_collect())
        .await
        .map_err(|e| backend.store_err(e))?;
    // A listing returns up to 1000 keys per request.
    counters
        .requests
        .fetch_add((metas.len() as u64) / 1000, Ordering::Relaxed);
    let packs: Vec<(ObjectId, u64)> = metas
        .iter()
        .filter_map(|m| {
            Some((
                layout::parse_pack_key(&backend.relative(&m.location)?)?,
                m.size,
            ))
        })
        .filter(|((_, kind), _)| *kind == PackFile::Index)
        .map(|((id, _), size)| (id, size))
        .collect();
    let loaded: Vec<Result<PackIndex, (ObjectId, u64)>> = stream::iter(packs)
        .map(|(pack, size)| async move {
            if let Some(index) = cache.and_then(|c| c.get(&pack)) {
                return Ok::<_, Error>(Ok(index));
            }
            if depth == Depth::Cached {
                return Ok(Err((pack, size)));
            }
            let bytes = get_all(backend, &layout::index_key(&pack), counters).await?;
            let index = PackIndex::decode(&pack, &bytes)?;
            if let Some(c) = cache {
                c.put(&pack, &bytes);
            }
            Ok(Ok(index))
        })
        .buffer_unordered(jobs)
        .try_collect()
        .await?;
    let mut index = RemoteIndex {
        packs: loaded.len(),
        ..RemoteIndex::default()
    };
    for pi in loaded {
        match pi {
            Ok(pi) => {
                for e in pi.entries() {
                    index.objects.entry(e.id).or_insert((pi.pack, *e));
                }
            }
            Err(unread) => index.unread.push(unread),
        }
    }
    Ok(index)
}

/// Find `ids` that `index` does not locate yet in the indexes it has not read, with
/// ranged reads: each index's header and fan-out, then the fan-out's slice for each
/// wanted id's first byte. What is found is added to `index`.
pub(crate) async fn resolve(
    backend: &Backend,
    index: &mut RemoteIndex,
    ids: &[ObjectId],
    jobs: usize,
    counters: &Counters,
) -> Result<(), Error> {
    let wanted: Vec<ObjectId> = ids
        .iter()
        .filter(|id| index.locate(id).is_none())
        .copied()
        .collect();
    if wanted.is_empty() || index.unread.is_empty() {
        return Ok(());
    }
    let wanted = &wanted;
    let found: Vec<Vec<(ObjectId, Entry)>> = stream::iter(index.unread.clone())
        .map(|(pack, size)| async move {
            let key = layout::index_key(&pack);
            let prefix = get_range(backend, &key, 0..pack_index::PREFIX_LEN as u64, counters)
                .await
                .map_err(Error::Backend)?;
            let fan = FanOut::decode(&pack, &prefix, size)?;
            let mut firsts: Vec<u8> = wanted.iter().map(|id| id.as_bytes()[0]).collect();
            firsts.sort_unstable();
            firsts.dedup();
            let mut found = Vec::new();
            for first in firsts {
                let range = fan.slice(first);
                if range.is_empty() {
                    continue;
                }
                let slice = get_range(backend, &key, range, counters)
                    .await
                    .map_err(Error::Backend)?;
                for id in wanted.iter().filter(|id| id.as_bytes()[0] == first) {
                    if let Some(e) = fan.find(id, &slice)? {
                        found.push((pack, e));
                    }
                }
            }
            Ok::<_, Error>(found)
        })
        .buffer_unordered(jobs)
        .try_collect()
        .await?;
    for (pack, e) in found.into_iter().flatten() {
        index.objects.entry(e.id).or_insert((pack, e));
    }
    Ok(())
}

/// Load the remote's index: whole (and cached) when `ids` is `None`, else only as much
/// as finding `ids` needs. Returns it and what reading it cost.
pub(crate) async fn index(
    backend: &Backend,
    cache: Option<&IndexCache>,
    jobs: usize,
    ids: Option<&[ObjectId]>,
) -> Result<(RemoteIndex, TransferStats), Error> {
    let start = std::time::Instant::now();
    let counters = Counters::default();
    let index = match ids {
        None => load_index(backend, cache, jobs, Depth::Whole, &counters).await?,
        Some(ids) => {
            let mut index = load_index(backend, cache, jobs, Depth::Cached, &counters).await?;
            resolve(backend, &mut index, ids, jobs, &counters).await?;
            index
        }
    };
    Ok((index, counters.stats(0, start)))
}

/// Why the remote cannot vouch for an object ([`unsound`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Doubt {
    /// The remote does not hold it at all.
    Absent,
    /// It lists it where the bytes are gone or damaged; says how.
    Damaged(String),
}

/// Which of `ids` the remote cannot vouch for, each with why: not held at all, or held
/// in a pack that is gone or shorter than its index says, or as a large object whose
/// seek table is missing or does not check out against its id and length. One HEAD per
/// pack involved and a seek-table read per large object; the packed bytes themselves
/// are not read (`fsck --remote` reads everything). For a command that frees the last
/// local copy: a remote that lists an object it has lost must not be believed.
pub(crate) async fn unsound(
    backend: &Backend,
    index: &RemoteIndex,
    ids: &[ObjectId],
    jobs: usize,
    counters: &Counters,
) -> Result<Vec<(ObjectId, Doubt)>, Error> {
    // The wanted ids of each pack, and the end the furthest of them reaches.
    let mut packs: HashMap<ObjectId, (u64, Vec<ObjectId>)> = HashMap::new();
    let mut alone = Vec::new();
    for id in ids {
        match index.locate(id) {
            Some((pack, entry)) => {
                let wanted = packs.entry(*pack).or_default();
                wanted.0 = wanted.0.max(entry.range().end);
                wanted.1.push(*id);
            }
            None => alone.push(*id),
        }
    }
    let packed = stream::iter(packs)
        .map(|(pack, (end, ids))| async move {
            counters.request(0);
            let key = backend.key(&layout::pack_key(&pack));
            let why = match backend.store().head(&key).await {
                Ok(meta) if meta.size >= end => return Ok(Vec::new()),
                Ok(meta) => format!(
                    "its pack {} holds {} bytes, fewer than its index names ({end})",
                    pack.short(),
                    meta.size
                ),
                Err(object_store::Error::NotFound { .. }) => {
                    format!("its pack {} is missing", pack.short())
                }
                Err(e) => return Err(Error::from(backend.store_err(e))),
            };
            let doubt = Doubt::Damaged(why);
            Ok(ids.into_iter().map(|id| (id, doubt.clone())).collect())
        })
        .buffer_unordered(jobs)
        .try_collect::<Vec<Vec<(ObjectId, Doubt)>>>();
    let large = stream::iter(alone)
        .map(|id| async move {
            match super::download::seek_table(backend, &id, counters).await {
                Ok(_) => Ok(None),
                Err(Error::NotOnRemote { .. }) => Ok(Some((id, Doubt::Absent))),
                Err(Error::Large(e)) => Ok(Some((id, Doubt::Damaged(e.to_string())))),
                Err(e) => Err(e),
            }
        })
        .buffer_unordered(jobs)
        .try_filter_map(|unsound| async move { Ok(unsound) })
        .try_collect::<Vec<(ObjectId, Doubt)>>();
    let (packed, large) = futures_util::future::try_join(packed, large).await?;
    let mut unsound: Vec<(ObjectId, Doubt)> = packed.into_iter().flatten().chain(large).collect();
    unsound.sort_unstable();
    Ok(unsound)
}
