//! Moving objects between the local store and a remote.
//!
//! Owns: finding what the remote has (its pack indexes, through the local cache),
//! uploading (small objects packed, large ones alone and multipart), downloading (ranged
//! GETs of exactly the entries wanted, adjacent ones coalesced; large objects frame by
//! frame), reading a byte range without storing it, and counting what it cost. Does not
//! own which objects are wanted (reachability) or refs.
//!
//! Invariants:
//! - A pack is complete on the remote before its index is written, so an index never
//!   names a missing pack; a reader trusts only packs that have an index.
//! - Nothing enters the local store unverified: every packed object is re-hashed after
//!   decompression, every large frame is checked against its chaining value, and the
//!   whole object is hashed again on its way into the store.
//! - Uploading skips what the remote already has, so an interrupted upload resumes; an
//!   id that is neither local nor on the remote stops the upload before anything is sent.
//! - All async work runs on the caller's runtime (see `Remote`); blocking work (file
//!   reads, compression, store writes) runs on its blocking pool.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt, stream};
use object_store::{ObjectStoreExt, PutPayload, WriteMultipart};

use super::backend::{self, Backend};
use super::index_cache::IndexCache;
use super::large::{self, SeekTable};
use super::layout::{self, PackFile};
use super::pack::{self, PackBuilder};
use super::pack_index::{self, Entry, FanOut, PackIndex};
use crate::hash::ObjectId;
use crate::progress::{Progress, Unit};
use crate::store::{self, Store};

/// Concurrent requests: sized for network latency (each request mostly waits), not
/// for cores.
pub const DEFAULT_JOBS: usize = 24;
/// Objects at least this large travel alone; smaller ones in packs.
pub const DEFAULT_LARGE_THRESHOLD: u64 = 8 << 20;
/// Raw bytes of objects per pack: tens of MiB, so 100k small files are a few dozen
/// requests.
pub const DEFAULT_PACK_SIZE: u64 = 32 << 20;
/// Entries of one pack at most this far apart are fetched with one GET.
const COALESCE_GAP: u64 = 4 << 10;
/// One coalesced GET fetches at most this much (with `jobs` GETs in flight, this bounds
/// a download's memory: 24 × 4 MiB, twice over while decoding).
const MAX_RUN: u64 = 4 << 20;
/// Bytes read from the end of a large object to find its seek table (one GET covers
/// the table of objects up to about 7 GiB).
const TAIL_GUESS: u64 = 64 << 10;
/// Compressed bytes of a large object fetched per GET while downloading it.
const LARGE_BATCH: u64 = 32 << 20;
/// Multipart part size for large objects (S3 needs at least 5 MiB per part).
const PART_SIZE: usize = 16 << 20;
/// Parts of one large object in flight at once.
const PART_JOBS: usize = 2;

/// How a transfer runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub jobs: usize,
    pub large_threshold: u64,
    pub pack_size: u64,
    pub frame_size: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            jobs: DEFAULT_JOBS,
            large_threshold: DEFAULT_LARGE_THRESHOLD,
            pack_size: DEFAULT_PACK_SIZE,
            frame_size: large::DEFAULT_FRAME_SIZE,
        }
    }
}

impl Options {
    fn jobs(&self) -> usize {
        self.jobs.max(1)
    }

    /// Packs being built and sent at once: each holds up to `pack_size` in memory.
    fn pack_jobs(&self) -> usize {
        self.jobs().clamp(1, 4)
    }

    fn large_threshold(&self) -> u64 {
        self.large_threshold.min(u64::from(pack::MAX_PACKED_SIZE))
    }
}

/// What a transfer did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransferStats {
    /// Objects moved.
    pub objects: u64,
    /// Objects asked for that were already there (on the remote for an upload, local for
    /// a download).
    pub skipped: u64,
    /// Bytes sent or received over the wire (compressed, with pack and index overhead).
    pub bytes: u64,
    /// Requests made to the remote.
    pub requests: u64,
    pub elapsed: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "{count} object(s) are neither in the local store nor on remote {url}: {}",
        list(ids)
    )]
    Missing {
        url: String,
        count: usize,
        ids: Vec<ObjectId>,
    },
    #[error("object {id} is not on remote {url}")]
    NotOnRemote { url: String, id: ObjectId },
    #[error("cannot read object {id} from remote: {source}")]
    Unreadable {
        id: ObjectId,
        #[source]
        source: backend::Error,
    },
    #[error("object {id} on remote {url} is truncated (expected {expected} bytes, got {got})")]
    Truncated {
        url: String,
        id: ObjectId,
        expected: u64,
        got: u64,
    },
    #[error(transparent)]
    Pack(#[from] pack::Error),
    #[error(transparent)]
    PackIndex(#[from] pack_index::DecodeError),
    #[error(transparent)]
    Large(#[from] large::Error),
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error(transparent)]
    Backend(#[from] backend::Error),
    #[error("local object {id} is corrupt (its bytes hash to {actual}); not uploaded")]
    LocalCorrupt { id: ObjectId, actual: String },
    #[error("a transfer task failed: {0}")]
    Task(String),
}

fn list(ids: &[ObjectId]) -> String {
    let mut s: Vec<String> = ids.iter().take(5).map(ObjectId::to_hex).collect();
    if ids.len() > 5 {
        s.push("...".into());
    }
    s.join(", ")
}

/// Requests and bytes, counted from every task.
#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    bytes: AtomicU64,
    objects: AtomicU64,
}

impl Counters {
    fn request(&self, bytes: u64) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    fn stats(&self, skipped: u64, start: Instant) -> TransferStats {
        TransferStats {
            objects: self.objects.load(Ordering::Relaxed),
            skipped,
            bytes: self.bytes.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            elapsed: start.elapsed(),
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Task(e.to_string()))?
}

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
enum Depth {
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
async fn load_index(
    backend: &Backend,
    cache: Option<&IndexCache>,
    jobs: usize,
    depth: Depth,
    counters: &Counters,
) -> Result<RemoteIndex, Error> {
    let prefix = backend.key(layout::PACKS);
    counters.request(0);
    let metas: Vec<_> = backend
        .store()
        .list(Some(&prefix))
        .try_collect()
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
async fn resolve(
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

async fn get_all(backend: &Backend, relative: &str, counters: &Counters) -> Result<Bytes, Error> {
    let key = backend.key(relative);
    let bytes = async { backend.bulk().get(&key).await?.bytes().await }
        .await
        .map_err(|e| backend.store_err(e))?;
    counters.request(bytes.len() as u64);
    Ok(bytes)
}

/// Whether the remote holds the large object `id` (one HEAD).
async fn has_large(backend: &Backend, id: &ObjectId, counters: &Counters) -> Result<bool, Error> {
    counters.request(0);
    match backend
        .store()
        .head(&backend.key(&layout::large_key(id)))
        .await
    {
        Ok(_) => Ok(true),
        Err(object_store::Error::NotFound { .. }) => Ok(false),
        Err(e) => Err(backend.store_err(e).into()),
    }
}

/// Ids in first-seen order, without repeats.
fn unique(ids: &[ObjectId]) -> Vec<ObjectId> {
    let mut seen = HashSet::with_capacity(ids.len());
    ids.iter().copied().filter(|id| seen.insert(*id)).collect()
}

/// Upload `ids` from `store`, skipping what the remote has. Small objects go into packs
/// in the order given (callers list them by path, so a directory's files share packs).
pub async fn upload(
    backend: &Backend,
    store: &Store,
    ids: &[ObjectId],
    options: &Options,
    cache: Option<&IndexCache>,
    progress: &dyn Progress,
) -> Result<TransferStats, Error> {
    let start = Instant::now();
    let counters = Counters::default();
    let index = load_index(backend, cache, options.jobs(), Depth::Whole, &counters).await?;
    let mut skipped = 0u64;
    let mut small = Vec::new();
    let mut large = Vec::new();
    let mut not_local = Vec::new();
    for id in unique(ids) {
        if index.locate(&id).is_some() {
            skipped += 1;
            continue;
        }
        match store.metadata(&id) {
            Some(m) if m.len() >= options.large_threshold() => large.push((id, m.len())),
            Some(m) => small.push((id, m.len())),
            None => not_local.push(id),
        }
    }
    // Large objects the remote has, and objects only the remote has, are skipped; any
    // other absent object stops the upload before anything is sent.
    let candidates: Vec<ObjectId> = large
        .iter()
        .map(|(id, _)| *id)
        .chain(not_local.iter().copied())
        .collect();
    let present: HashSet<ObjectId> = stream::iter(candidates)
        .map(|id| {
            let counters = &counters;
            async move { Ok::<_, Error>((id, has_large(backend, &id, counters).await?)) }
        })
        .buffer_unordered(options.jobs())
        .try_filter_map(|(id, has)| async move { Ok(has.then_some(id)) })
        .try_collect()
        .await?;
    let missing: Vec<ObjectId> = not_local
        .into_iter()
        .filter(|id| !present.contains(id))
        .collect();
    if !missing.is_empty() {
        return Err(Error::Missing {
            url: backend.shown().into(),
            count: missing.len(),
            ids: missing,
        });
    }
    skipped += present.len() as u64;
    large.retain(|(id, _)| !present.contains(id));

    let total: u64 = small.iter().chain(&large).map(|(_, n)| n).sum();
    progress.start("uploading", Some(total), Unit::Bytes);
    let groups = pack_groups(&small, options.pack_size.max(1));
    let packs = stream::iter(groups)
        .map(|group| upload_pack(backend, store, group, cache, &counters, progress))
        .buffer_unordered(options.pack_jobs())
        .try_collect::<Vec<()>>();
    let larges = stream::iter(large)
        .map(|(id, size)| {
            upload_large(
                backend,
                store,
                id,
                size,
                options.frame_size,
                &counters,
                progress,
            )
        })
        .buffer_unordered(options.pack_jobs().min(2))
        .try_collect::<Vec<()>>();
    let result = futures_util::future::try_join(packs, larges).await;
    progress.finish();
    result?;
    Ok(counters.stats(skipped, start))
}

/// Split small objects into groups of about `pack_size` raw bytes, keeping their order.
fn pack_groups(small: &[(ObjectId, u64)], pack_size: u64) -> Vec<Vec<(ObjectId, u64)>> {
    let mut groups = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0u64;
    for &(id, size) in small {
        if !current.is_empty() && bytes + size > pack_size {
            groups.push(std::mem::take(&mut current));
            bytes = 0;
        }
        current.push((id, size));
        bytes += size;
    }
    if !current.is_empty() {
        groups.push(current);
    }
    groups
}

async fn upload_pack(
    backend: &Backend,
    store: &Store,
    group: Vec<(ObjectId, u64)>,
    cache: Option<&IndexCache>,
    counters: &Counters,
    progress: &dyn Progress,
) -> Result<(), Error> {
    let raw_total: u64 = group.iter().map(|(_, n)| n).sum();
    let local = store.clone();
    let built = blocking(move || {
        let mut builder = PackBuilder::new();
        for (id, _) in group {
            let bytes = local.read(&id)?;
            let actual = ObjectId::of(&bytes);
            if actual != id {
                return Err(Error::LocalCorrupt {
                    id,
                    actual: actual.short(),
                });
            }
            builder.add(id, &bytes)?;
        }
        Ok(builder.finish())
    })
    .await?;
    let count = built.index.entries().len() as u64;
    let index_bytes = built.index.encode();
    let pack_len = built.bytes.len() as u64;
    // The pack first, then its index: a reader trusts only packs that have an index.
    backend
        .bulk()
        .put(
            &backend.key(&layout::pack_key(&built.id)),
            PutPayload::from(built.bytes),
        )
        .await
        .map_err(|e| backend.store_err(e))?;
    counters.request(pack_len);
    backend
        .bulk()
        .put(
            &backend.key(&layout::index_key(&built.id)),
            PutPayload::from(index_bytes.clone()),
        )
        .await
        .map_err(|e| backend.store_err(e))?;
    counters.request(index_bytes.len() as u64);
    if let Some(c) = cache {
        c.put(&built.id, &index_bytes);
    }
    counters.objects.fetch_add(count, Ordering::Relaxed);
    progress.advance(raw_total);
    Ok(())
}

async fn upload_large(
    backend: &Backend,
    store: &Store,
    id: ObjectId,
    size: u64,
    frame_size: u32,
    counters: &Counters,
    progress: &dyn Progress,
) -> Result<(), Error> {
    let key = backend.key(&layout::large_key(&id));
    let upload = backend
        .bulk()
        .put_multipart(&key)
        .await
        .map_err(|e| backend.store_err(e))?;
    counters.request(0);
    let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
    match stream_large(store, id, size, frame_size, &mut writer, counters, progress).await {
        Ok(sent) => {
            writer.finish().await.map_err(|e| backend.store_err(e))?;
            counters.request(0);
            counters
                .requests
                .fetch_add(sent.div_ceil(PART_SIZE as u64), Ordering::Relaxed);
            counters.bytes.fetch_add(sent, Ordering::Relaxed);
            counters.objects.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        Err(e) => {
            let _ = writer.abort().await;
            Err(e)
        }
    }
}

/// Write a large object's header, frames and tail into `writer`; returns bytes written.
async fn stream_large(
    store: &Store,
    id: ObjectId,
    size: u64,
    frame_size: u32,
    writer: &mut WriteMultipart,
    counters: &Counters,
    progress: &dyn Progress,
) -> Result<u64, Error> {
    let _ = counters;
    let count = large::frame_count(size, frame_size);
    let mut file = Some(store.open(&id)?);
    let path = store.path(&id);
    let mut hasher = Some(blake3::Hasher::new());
    let header = large::header();
    writer.write(&header);
    let mut sent = header.len() as u64;
    let mut frames = Vec::with_capacity(count as usize);
    for i in 0..count {
        let mut f = file
            .take()
            .expect("the file is handed back after each frame");
        let mut h = hasher
            .take()
            .expect("the hasher is handed back after each frame");
        let p = path.clone();
        let (f, h, compressed, info, raw_len) = blocking(move || {
            let mut raw = vec![0u8; frame_size as usize];
            let n = read_full(&mut f, &mut raw)
                .map_err(|source| store::Error::Io { path: p, source })?;
            raw.truncate(n);
            crate::hash::update(&mut h, &raw);
            let (compressed, info) = large::encode_frame(&id, i, count, frame_size, &raw)?;
            Ok((f, h, compressed, info, n as u64))
        })
        .await?;
        let expected = (size - i * u64::from(frame_size)).min(u64::from(frame_size));
        if raw_len != expected {
            return Err(store::Error::Corrupt {
                id,
                reason: format!("changed size while being uploaded (frame {i})"),
            }
            .into());
        }
        file = Some(f);
        hasher = Some(h);
        writer
            .wait_for_capacity(PART_JOBS)
            .await
            .map_err(|e| store::Error::Io {
                path: path.clone(),
                source: std::io::Error::other(e),
            })?;
        writer.write(&compressed);
        sent += compressed.len() as u64;
        frames.push(info);
        progress.advance(raw_len);
    }
    let actual = ObjectId::from(hasher.take().expect("hasher").finalize());
    if actual != id {
        return Err(Error::LocalCorrupt {
            id,
            actual: actual.short(),
        });
    }
    let tail = SeekTable::new(size, frame_size, frames).encode_tail();
    writer.write(&tail);
    sent += tail.len() as u64;
    Ok(sent)
}

fn read_full(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Entries of one pack fetched with one GET.
struct Run {
    pack: ObjectId,
    range: Range<u64>,
    entries: Vec<Entry>,
}

/// Group entries by pack and coalesce neighbours into runs.
fn plan_runs(wanted: Vec<(ObjectId, Entry)>) -> Vec<Run> {
    let mut by_pack: HashMap<ObjectId, Vec<Entry>> = HashMap::new();
    for (pack, e) in wanted {
        by_pack.entry(pack).or_default().push(e);
    }
    let mut runs = Vec::new();
    for (pack, mut entries) in by_pack {
        entries.sort_by_key(|e| e.offset);
        let mut current: Option<Run> = None;
        for e in entries {
            let r = e.range();
            match &mut current {
                Some(run)
                    if r.start <= run.range.end + COALESCE_GAP
                        && r.end - run.range.start <= MAX_RUN =>
                {
                    run.range.end = run.range.end.max(r.end);
                    run.entries.push(e);
                }
                _ => {
                    runs.extend(current.take());
                    current = Some(Run {
                        pack,
                        range: r,
                        entries: vec![e],
                    });
                }
            }
        }
        runs.extend(current);
    }
    runs
}

/// Fetch `ids` into `store`, skipping those it has. The new objects are not flushed:
/// the caller flushes the store once (`Store::flush`) before an index or ref names them.
pub async fn download(
    backend: &Backend,
    store: &Store,
    ids: &[ObjectId],
    options: &Options,
    known: Option<&RemoteIndex>,
    cache: Option<&IndexCache>,
    progress: &dyn Progress,
) -> Result<TransferStats, Error> {
    let start = Instant::now();
    let counters = Counters::default();
    let mut skipped = 0u64;
    let mut need = Vec::new();
    for id in unique(ids) {
        if store.contains(&id) {
            skipped += 1;
        } else {
            need.push(id);
        }
    }
    let loaded;
    let index = match known {
        Some(index) if index.is_complete() => index,
        _ if need.is_empty() => {
            loaded = RemoteIndex::default();
            &loaded
        }
        _ => {
            // A lazy pull of a few files reads only the index slices it needs.
            let depth = if need.len() <= RANGED_LOOKUP_MAX {
                Depth::Cached
            } else {
                Depth::Whole
            };
            let mut fresh = load_index(backend, cache, options.jobs(), depth, &counters).await?;
            resolve(backend, &mut fresh, &need, options.jobs(), &counters).await?;
            loaded = fresh;
            &loaded
        }
    };
    let mut packed = Vec::new();
    let mut large = Vec::new();
    for id in need {
        match index.locate(&id) {
            Some(located) => packed.push(*located),
            None => large.push(id),
        }
    }
    progress.start(
        "downloading",
        Some((packed.len() + large.len()) as u64),
        Unit::Files,
    );
    let runs = stream::iter(plan_runs(packed))
        .map(|run| fetch_run(backend, store, run, &counters, progress))
        .buffer_unordered(options.jobs())
        .try_collect::<Vec<()>>();
    let larges = stream::iter(large)
        .map(|id| fetch_large(backend, store, id, &counters, progress))
        .buffer_unordered(options.pack_jobs().min(2))
        .try_collect::<Vec<()>>();
    let result = futures_util::future::try_join(runs, larges).await;
    progress.finish();
    result?;
    Ok(counters.stats(skipped, start))
}

async fn get_range(
    backend: &Backend,
    relative: &str,
    range: Range<u64>,
    counters: &Counters,
) -> Result<Bytes, backend::Error> {
    let bytes = backend
        .bulk()
        .get_range(&backend.key(relative), range)
        .await
        .map_err(|e| backend.store_err(e))?;
    counters.request(bytes.len() as u64);
    Ok(bytes)
}

async fn fetch_run(
    backend: &Backend,
    store: &Store,
    run: Run,
    counters: &Counters,
    progress: &dyn Progress,
) -> Result<(), Error> {
    let first = run.entries[0].id;
    let bytes = get_range(
        backend,
        &layout::pack_key(&run.pack),
        run.range.clone(),
        counters,
    )
    .await
    .map_err(|source| Error::Unreadable { id: first, source })?;
    let want = run.range.end - run.range.start;
    if bytes.len() as u64 != want {
        // Name the first object the short read cut off.
        let got_end = run.range.start + bytes.len() as u64;
        let id = run
            .entries
            .iter()
            .find(|e| e.range().end > got_end)
            .map_or(first, |e| e.id);
        return Err(Error::Truncated {
            url: backend.shown().into(),
            id,
            expected: want,
            got: bytes.len() as u64,
        });
    }
    let local = store.clone();
    let n = run.entries.len() as u64;
    blocking(move || {
        // Decode and verify every entry before storing any, so a damaged run stores
        // nothing.
        let mut raws = Vec::with_capacity(run.entries.len());
        for e in &run.entries {
            let at = (e.offset - run.range.start) as usize;
            let slice = &bytes[at..at + e.length as usize];
            raws.push(pack::decode_entry(&run.pack, e, slice)?);
        }
        for raw in raws {
            local.put_bytes(&raw)?;
        }
        Ok(())
    })
    .await?;
    counters.objects.fetch_add(n, Ordering::Relaxed);
    progress.advance(n);
    Ok(())
}

/// Read a large object's seek table: one HEAD for its length, one GET for its tail
/// (two if the table is larger than [`TAIL_GUESS`]).
async fn seek_table(
    backend: &Backend,
    id: &ObjectId,
    counters: &Counters,
) -> Result<SeekTable, Error> {
    let relative = layout::large_key(id);
    counters.request(0);
    let len = match backend.store().head(&backend.key(&relative)).await {
        Ok(meta) => meta.size,
        Err(object_store::Error::NotFound { .. }) => {
            return Err(Error::NotOnRemote {
                url: backend.shown().into(),
                id: *id,
            });
        }
        Err(e) => {
            return Err(Error::Unreadable {
                id: *id,
                source: backend.store_err(e),
            });
        }
    };
    let min = large::HEADER_LEN + large::FOOTER_LEN as u64;
    if len < min {
        return Err(large::Error::Corrupt {
            id: *id,
            reason: format!("{len} bytes is too short"),
        }
        .into());
    }
    let unreadable = |source| Error::Unreadable { id: *id, source };
    let mut tail = get_range(
        backend,
        &relative,
        len.saturating_sub(TAIL_GUESS).max(large::HEADER_LEN)..len,
        counters,
    )
    .await
    .map_err(unreadable)?;
    if tail.len() < large::FOOTER_LEN {
        return Err(large::Error::Corrupt {
            id: *id,
            reason: "short read of its footer".into(),
        }
        .into());
    }
    let need = SeekTable::tail_len(id, &tail[tail.len() - large::FOOTER_LEN..])? as u64;
    if need > tail.len() as u64 {
        if need > len - large::HEADER_LEN {
            return Err(large::Error::Corrupt {
                id: *id,
                reason: "its seek table is longer than the object".into(),
            }
            .into());
        }
        tail = get_range(backend, &relative, len - need..len, counters)
            .await
            .map_err(unreadable)?;
    }
    Ok(SeekTable::decode(id, &tail, len)?)
}

async fn fetch_large(
    backend: &Backend,
    store: &Store,
    id: ObjectId,
    counters: &Counters,
    progress: &dyn Progress,
) -> Result<(), Error> {
    let table = Arc::new(seek_table(backend, &id, counters).await?);
    let relative = layout::large_key(&id);
    let mut incoming = Some(store.incoming(id)?);
    let count = table.frames().len();
    let mut i = 0;
    while i < count {
        // Frames up to LARGE_BATCH compressed bytes per GET.
        let mut j = i + 1;
        while j < count
            && table.file_range_of(i..j + 1).end - table.file_range(i).start <= LARGE_BATCH
        {
            j += 1;
        }
        let range = table.file_range_of(i..j);
        let bytes = get_range(backend, &relative, range.clone(), counters)
            .await
            .map_err(|source| Error::Unreadable { id, source })?;
        if bytes.len() as u64 != range.end - range.start {
            return Err(Error::Truncated {
                url: backend.shown().into(),
                id,
                expected: range.end - range.start,
                got: bytes.len() as u64,
            });
        }
        let mut inc = incoming.take().expect("handed back after each batch");
        let t = Arc::clone(&table);
        let start = range.start;
        inc = blocking(move || {
            for k in i..j {
                let r = t.file_range(k);
                let raw = t.decode_frame(
                    &id,
                    k,
                    &bytes[(r.start - start) as usize..(r.end - start) as usize],
                )?;
                inc.write(&raw)?;
            }
            Ok(inc)
        })
        .await?;
        incoming = Some(inc);
        i = j;
    }
    let inc = incoming.take().expect("incoming");
    let local = store.clone();
    blocking(move || Ok(inc.finish(&local)?)).await?;
    counters.objects.fetch_add(1, Ordering::Relaxed);
    progress.advance(1);
    Ok(())
}

/// Read `len` bytes of object `id` from `offset` without storing it (clamped to the
/// object's end). Every byte returned was verified against the id.
pub async fn read_range(
    backend: &Backend,
    index: &RemoteIndex,
    id: &ObjectId,
    offset: u64,
    len: u64,
) -> Result<(Vec<u8>, TransferStats), Error> {
    let start = Instant::now();
    let counters = Counters::default();
    let want = offset..offset.saturating_add(len);
    let out = if let Some((pack, entry)) = index.locate(id).copied() {
        let bytes = get_range(backend, &layout::pack_key(&pack), entry.range(), &counters)
            .await
            .map_err(|source| Error::Unreadable { id: *id, source })?;
        if bytes.len() as u64 != u64::from(entry.length) {
            return Err(Error::Truncated {
                url: backend.shown().into(),
                id: *id,
                expected: entry.length.into(),
                got: bytes.len() as u64,
            });
        }
        let raw = blocking(move || Ok(pack::decode_entry(&pack, &entry, &bytes)?)).await?;
        let end = (want.end).min(raw.len() as u64) as usize;
        let begin = (want.start as usize).min(end);
        raw[begin..end].to_vec()
    } else {
        let table = Arc::new(seek_table(backend, id, &counters).await?);
        let frames = table.frames_for(want.clone());
        if frames.is_empty() {
            Vec::new()
        } else {
            let range = table.file_range_of(frames.clone());
            let bytes = get_range(backend, &layout::large_key(id), range.clone(), &counters)
                .await
                .map_err(|source| Error::Unreadable { id: *id, source })?;
            if bytes.len() as u64 != range.end - range.start {
                return Err(Error::Truncated {
                    url: backend.shown().into(),
                    id: *id,
                    expected: range.end - range.start,
                    got: bytes.len() as u64,
                });
            }
            let id = *id;
            blocking(move || {
                let mut out = Vec::new();
                for k in frames {
                    let r = table.file_range(k);
                    let raw = table.decode_frame(
                        &id,
                        k,
                        &bytes[(r.start - range.start) as usize..(r.end - range.start) as usize],
                    )?;
                    let fr = table.raw_range(k);
                    let lo = want.start.max(fr.start) - fr.start;
                    let hi = want.end.min(fr.end) - fr.start;
                    out.extend_from_slice(&raw[lo as usize..hi as usize]);
                }
                Ok(out)
            })
            .await?
        }
    };
    counters.objects.fetch_add(1, Ordering::Relaxed);
    Ok((out, counters.stats(0, start)))
}

/// Load the remote's index (exposed for the facade, which keeps one for range reads).
/// Load the remote's index: whole (and cached) when `ids` is `None`, else only as much
/// as finding `ids` needs. Returns it and the requests it cost.
pub(crate) async fn index(
    backend: &Backend,
    cache: Option<&IndexCache>,
    jobs: usize,
    ids: Option<&[ObjectId]>,
) -> Result<(RemoteIndex, u64), Error> {
    let counters = Counters::default();
    let index = match ids {
        None => load_index(backend, cache, jobs, Depth::Whole, &counters).await?,
        Some(ids) => {
            let mut index = load_index(backend, cache, jobs, Depth::Cached, &counters).await?;
            resolve(backend, &mut index, ids, jobs, &counters).await?;
            index
        }
    };
    Ok((index, counters.requests.load(Ordering::Relaxed)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u8, offset: u64, length: u32) -> Entry {
        Entry {
            id: ObjectId::of(&[n]),
            offset,
            length,
            raw_size: 1,
        }
    }

    #[test]
    fn neighbouring_entries_share_a_get_and_distant_ones_do_not() {
        let p = ObjectId::of(b"p");
        let runs = plan_runs(vec![
            (p, entry(1, 8, 100)),
            (p, entry(2, 108, 100)),
            (p, entry(3, 1_000_000, 100)),
        ]);
        let mut ranges: Vec<_> = runs
            .iter()
            .map(|r| (r.range.clone(), r.entries.len()))
            .collect();
        ranges.sort_by_key(|(r, _)| r.start);
        assert_eq!(ranges, vec![(8..208, 2), (1_000_000..1_000_100, 1)]);
    }

    #[test]
    fn packs_fill_up_to_their_size_in_order() {
        let ids: Vec<(ObjectId, u64)> = (0u8..10).map(|i| (ObjectId::of(&[i]), 40)).collect();
        let groups = pack_groups(&ids, 100);
        assert_eq!(
            groups.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![2, 2, 2, 2, 2]
        );
        assert_eq!(groups[0][0].0, ids[0].0);
    }
}
