//! Downloading objects from a remote, and reading byte ranges without storing them.
//!
//! Owns: planning ranged GETs (entries of one pack coalesced), decoding and verifying
//! every entry before any is stored, reading large objects' seek tables and streaming
//! their frames, verified, into the store.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use futures_util::{StreamExt, TryStreamExt, stream};
use object_store::{GetOptions, GetResult, GetResultPayload, ObjectStore, ObjectStoreExt};
use tokio::sync::Semaphore;

use super::catalog::{Depth, RANGED_LOOKUP_MAX, RemoteIndex, load_index, resolve};
use super::{Counters, Error, Options, TransferStats, blocking, get_range, unique};
use crate::hash::ObjectId;
use crate::progress::{Progress, Unit};
use crate::remote::backend::Backend;
use crate::remote::index_cache::IndexCache;
use crate::remote::large::{self, SeekTable};
use crate::remote::layout;
use crate::remote::pack;
use crate::remote::pack_index::Entry;
use crate::store::{Arrivals, Store};

/// Entries of one pack at most this far apart are fetched with one GET.
const COALESCE_GAP: u64 = 4 << 10;
/// One coalesced GET fetches at most this much: half a pack of the default size, so a
/// pull of a whole dataset costs about two GETs per pack (a request costs as much as
/// megabytes of transfer on a remote across a network).
const MAX_RUN: u64 = 16 << 20;
/// Bytes of runs in flight (fetched, or being decoded) per transfer job: the download's
/// memory bound is `jobs` × this three times over while decoding (the bytes read, and
/// up to twice as many decoded), plus twice it in idle buffers kept for the next runs
/// ([`Buffers`]), whatever the size of the runs (24 jobs: 96 MiB, as many small runs at
/// once as fit, or six of [`MAX_RUN`]).
const IN_FLIGHT_PER_JOB: u64 = 4 << 20;
/// Bytes read from the end of a large object to find its seek table (one GET covers
/// the table of objects up to about 7 GiB).
const TAIL_GUESS: u64 = 64 << 10;
/// Compressed bytes of a large object fetched per GET while downloading it.
const LARGE_BATCH: u64 = 32 << 20;

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
/// An id the remote does not hold is an error ([`Error::NotOnRemote`]).
pub async fn download(
    backend: &Backend,
    store: &Store,
    ids: &[ObjectId],
    options: &Options,
    known: Option<&RemoteIndex>,
    cache: Option<&IndexCache>,
    progress: &dyn Progress,
) -> Result<TransferStats, Error> {
    let got =
        download_available(backend, store, ids, options, known, cache, progress, None).await?;
    match got.absent.first() {
        Some(id) => Err(Error::NotOnRemote {
            url: backend.shown().into(),
            id: *id,
        }),
        None => Ok(got.stats),
    }
}

/// What [`download_available`] did.
#[derive(Debug, Default)]
pub struct Downloaded {
    pub stats: TransferStats,
    /// The objects this download stored, with their sizes (so a caller need not look
    /// each up again in the store).
    pub stored: Vec<(ObjectId, u64)>,
    /// Ids the remote does not hold, each once.
    pub absent: Vec<ObjectId>,
}

/// [`download`], except that ids the remote does not hold are returned (each once)
/// instead of failing the batch: for a source that reports what it cannot provide.
/// `arrivals`, if given, is told of each packed object once it is stored, with the
/// bytes that were verified (large objects are not announced: the caller writes them
/// from the store).
#[allow(clippy::too_many_arguments)]
pub async fn download_available(
    backend: &Backend,
    store: &Store,
    ids: &[ObjectId],
    options: &Options,
    known: Option<&RemoteIndex>,
    cache: Option<&IndexCache>,
    progress: &dyn Progress,
    arrivals: Option<&Arc<dyn Arrivals>>,
) -> Result<Downloaded, Error> {
    let start = Instant::now();
    let counters = Counters::default();
    let wanted = unique(ids);
    let need = store.missing(&wanted);
    let skipped = (wanted.len() - need.len()) as u64;
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
    // Runs hold their bytes against a budget (in KiB), so a few large runs or many small
    // ones are in flight, never more bytes than the budget (a run larger than the
    // budget, with a tiny `jobs`, takes it all).
    let budget_kib = (options.jobs() as u64 * IN_FLIGHT_PER_JOB) >> 10;
    let budget = Semaphore::new(budget_kib as usize);
    let budget = &budget;
    let counted = &counters;
    // A run holds the buffer it read into and one it decodes into (up to twice its
    // bytes, see `fetch_run`); idle buffers kept for later runs are at most twice the
    // whole budget, as many as decoding alone holds.
    let buffers = &Buffers::holding_at_most(2 * (budget_kib << 10));
    let runs = stream::iter(plan_runs(packed))
        .map(|run| async move {
            let kib = (run.range.end - run.range.start)
                .div_ceil(1 << 10)
                .min(budget_kib);
            let _held = budget
                .acquire_many(kib as u32)
                .await
                .map_err(|e| Error::Task(e.to_string()))?;
            fetch_run(
                backend,
                store,
                run,
                counted,
                progress,
                arrivals.cloned(),
                buffers,
            )
            .await
        })
        .buffer_unordered(options.jobs())
        .try_collect::<Vec<Vec<(ObjectId, u64)>>>();
    // Not packed and not stored alone: the remote does not hold it.
    let larges = stream::iter(large)
        .map(|id| async move {
            match fetch_large(backend, store, id, counted, progress).await {
                Ok(size) => Ok(Ok((id, size))),
                Err(Error::NotOnRemote { .. }) => Ok(Err(id)),
                Err(e) => Err(e),
            }
        })
        .buffer_unordered(options.pack_jobs().min(2))
        .try_collect::<Vec<Result<(ObjectId, u64), ObjectId>>>();
    let result = futures_util::future::try_join(runs, larges).await;
    progress.finish();
    let (runs, larges) = result?;
    let mut stored: Vec<(ObjectId, u64)> = runs.into_iter().flatten().collect();
    let mut absent = Vec::new();
    for large in larges {
        match large {
            Ok(got) => stored.push(got),
            Err(id) => absent.push(id),
        }
    }
    Ok(Downloaded {
        stats: counters.stats(skipped, start),
        stored,
        absent,
    })
}

/// A run of at least this many objects is stored as one local pack; fewer (a lazy pull
/// of a few files) are stored one file each.
const LOCAL_PACK_MIN_OBJECTS: usize = 32;

/// Buffers handed from one run to the next: the one a run's GET is read into, and the
/// one it decodes into. Each is up to tens of MiB, and a fresh one each time is memory
/// the kernel maps, faults in and zeroes page by page (a seventh of the CPU time of a
/// pull of 20k small files for the decode buffers alone). The pool keeps at most a set
/// number of bytes of buffers (a buffer beyond that is freed), so what it holds between
/// runs stays within the download's memory bound.
#[derive(Clone)]
struct Buffers(Arc<Mutex<Pool>>);

struct Pool {
    free: Vec<Vec<u8>>,
    /// Capacity of the buffers in `free`, in bytes.
    held: usize,
    limit: usize,
}

impl Buffers {
    fn holding_at_most(limit: u64) -> Buffers {
        Buffers(Arc::new(Mutex::new(Pool {
            free: Vec::new(),
            held: 0,
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
        })))
    }

    /// An empty buffer with room for at least `want` bytes: the smallest idle one that
    /// has it, or else a new one. Never an idle one grown to fit: growing moves (copies)
    /// all of its room, and the room it grows into is as fresh as a new buffer's. When
    /// none fits, the largest idle one is freed, so runs larger than any before do not
    /// leave the pool holding buffers too small for them.
    fn take(&self, want: usize) -> Vec<u8> {
        let mut pool = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let fitting = (pool.free.iter().enumerate())
            .filter(|(_, b)| b.capacity() >= want)
            .min_by_key(|(_, b)| b.capacity())
            .map(|(at, _)| at);
        let largest = || {
            (pool.free.iter().enumerate())
                .max_by_key(|(_, b)| b.capacity())
                .map(|(at, _)| at)
        };
        let taken = fitting.or_else(largest).map(|at| pool.free.swap_remove(at));
        pool.held -= taken.as_ref().map_or(0, Vec::capacity);
        // Freed (if too small) outside the lock.
        drop(pool);
        match taken {
            Some(buffer) if buffer.capacity() >= want => buffer,
            _ => Vec::with_capacity(want),
        }
    }

    fn give_back(&self, mut buffer: Vec<u8>) {
        buffer.clear();
        let mut pool = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if pool.held + buffer.capacity() <= pool.limit {
            pool.held += buffer.capacity();
            pool.free.push(buffer);
        }
    }
}

/// [`get_range`] into `buffer` (emptied first; its room reused), which comes back
/// holding the bytes read: a pull reads runs of up to [`MAX_RUN`] one after another, and
/// a fresh buffer for each (as [`get_range`] makes) is memory the kernel maps, faults in
/// and zeroes page by page. A directory remote hands over its open file, read straight
/// into the buffer; other kinds stream their body into it. A range past the end of the
/// file comes back short, for the caller to judge.
async fn get_range_into(
    backend: &Backend,
    relative: &str,
    range: Range<u64>,
    counters: &Counters,
    buffer: Vec<u8>,
) -> Result<Vec<u8>, crate::remote::backend::Error> {
    let key = backend.key(relative);
    // Each try (a body cut off part-way is read again) fills the same buffer.
    let slot = Mutex::new(buffer);
    backend
        .retry_cut_reads(|| async {
            let slot = &slot;
            let options = GetOptions {
                range: Some(range.clone().into()),
                ..GetOptions::default()
            };
            let got = backend.bulk().get_opts(&key, options).await?;
            let mut buffer =
                std::mem::take(&mut *slot.lock().unwrap_or_else(PoisonError::into_inner));
            buffer.clear();
            let (buffer, read) = fill(got, buffer).await;
            *slot.lock().unwrap_or_else(PoisonError::into_inner) = buffer;
            read
        })
        .await
        .map_err(|e| backend.store_err(e))?;
    let bytes = slot.into_inner().unwrap_or_else(PoisonError::into_inner);
    counters.request(bytes.len() as u64);
    Ok(bytes)
}

/// Append the body of `got` to `buffer`; the buffer comes back whatever happened.
async fn fill(got: GetResult, mut buffer: Vec<u8>) -> (Vec<u8>, object_store::Result<()>) {
    let range = got.range.clone();
    let len = range.end - range.start;
    // Room for exactly the range (a pooled buffer may have it already): a file's
    // `read_to_end` then fills it without zeroing and ends without growing it.
    buffer.reserve_exact(usize::try_from(len).unwrap_or(0));
    match got.payload {
        GetResultPayload::File(mut file, _) => {
            let local_err =
                |e: Box<dyn std::error::Error + Send + Sync>| object_store::Error::Generic {
                    store: "LocalFileSystem",
                    source: e,
                };
            let read = tokio::task::spawn_blocking(move || {
                use std::io::{Read, Seek, SeekFrom};
                let read = file
                    .seek(SeekFrom::Start(range.start))
                    .and_then(|_| (&mut file).take(len).read_to_end(&mut buffer));
                (buffer, read)
            })
            .await;
            match read {
                Ok((buffer, read)) => (buffer, read.map(drop).map_err(|e| local_err(e.into()))),
                Err(e) => (Vec::new(), Err(local_err(e.into()))),
            }
        }
        GetResultPayload::Stream(mut body) => {
            while let Some(chunk) = body.next().await {
                match chunk {
                    Ok(chunk) => buffer.extend_from_slice(&chunk),
                    Err(e) => return (buffer, Err(e)),
                }
            }
            (buffer, Ok(()))
        }
    }
}

async fn fetch_run(
    backend: &Backend,
    store: &Store,
    run: Run,
    counters: &Counters,
    progress: &dyn Progress,
    arrivals: Option<Arc<dyn Arrivals>>,
    buffers: &Buffers,
) -> Result<Vec<(ObjectId, u64)>, Error> {
    let first = run.entries[0].id;
    let want = run.range.end - run.range.start;
    let bytes = get_range_into(
        backend,
        &layout::pack_key(&run.pack),
        run.range.clone(),
        counters,
        buffers.take(usize::try_from(want).unwrap_or(0)),
    )
    .await
    .map_err(|source| Error::Unreadable { id: first, source })?;
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
    let pool = buffers.clone();
    let stored = blocking(move || {
        // Decode and verify every entry before storing any, so a damaged run stores
        // nothing; all into one buffer, sized by the index but up front never beyond
        // twice the run's bytes or one packed object's largest size, whichever is more
        // (a lying index must not make it huge: past that it grows as entries decode,
        // and the first lie stops the decoding).
        let room: u64 = run
            .entries
            .iter()
            .map(|e| u64::from(e.raw_size.min(pack::MAX_PACKED_SIZE)))
            .sum();
        let cap = (2 * bytes.len() as u64).max(u64::from(pack::MAX_PACKED_SIZE));
        let mut raw = pool.take(room.min(cap) as usize);
        let mut ends = Vec::with_capacity(run.entries.len());
        for e in &run.entries {
            let at = (e.offset - run.range.start) as usize;
            let slice = &bytes[at..at + e.length as usize];
            pack::decode_entry_into(&run.pack, e, slice, &mut raw)?;
            ends.push(raw.len());
        }
        pool.give_back(bytes);
        let mut ranges = Vec::with_capacity(ends.len());
        let mut start = 0;
        for (e, end) in run.entries.iter().zip(ends) {
            ranges.push((e.id, start..end));
            start = end;
        }
        // `decode_entry_into` hashed every object's bytes and found them to be it. Many
        // small blobs go into the store as one local pack: one file, not one each.
        // Commits, trees and run records stay loose: gc deletes those in an order
        // (a commit before its tree and parents) that a pack removed whole would break.
        let (blobs, others): (Vec<_>, Vec<_>) = ranges
            .iter()
            .cloned()
            .partition(|(_, range)| crate::object::kind_of(&raw[range.clone()]).is_none());
        let loose = if local.packs_downloads() && blobs.len() >= LOCAL_PACK_MIN_OBJECTS {
            local.put_packed(&raw, &blobs)?;
            others
        } else {
            ranges.clone()
        };
        for (id, range) in &loose {
            local.put_fetched(id, &raw[range.clone()])?;
        }
        let mut stored = Vec::with_capacity(ranges.len());
        for (id, range) in ranges {
            let object = &raw[range];
            if let Some(arrivals) = &arrivals {
                arrivals.arrived(&id, object);
            }
            stored.push((id, object.len() as u64));
        }
        pool.give_back(raw);
        Ok(stored)
    })
    .await?;
    counters.objects.fetch_add(n, Ordering::Relaxed);
    progress.advance(n);
    Ok(stored)
}

/// Read a large object's seek table: one HEAD for its length, one GET for its tail
/// (two if the table is larger than [`TAIL_GUESS`]).
pub(crate) async fn seek_table(
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

/// The end of the batch of frames starting at `first` that one GET fetches: frames up
/// to [`LARGE_BATCH`] bytes, compressed and raw (at least one), so a batch held in
/// memory stays bounded however well the object compresses.
pub(crate) fn batch_end(table: &SeekTable, first: usize) -> usize {
    let count = table.frames().len();
    let raw_per_frame = u64::from(table.frame_size);
    let mut end = first + 1;
    while end < count
        && table.file_range_of(first..end + 1).end - table.file_range(first).start <= LARGE_BATCH
        && (end + 1 - first) as u64 * raw_per_frame <= LARGE_BATCH
    {
        end += 1;
    }
    end
}

/// The raw bytes of frames `frames` of large object `id`, fetched with one GET and each
/// frame checked against its chaining value (which the seek table, checked against the
/// id, vouches for).
pub(crate) async fn frames(
    backend: &Backend,
    id: ObjectId,
    table: Arc<SeekTable>,
    frames: Range<usize>,
    counters: &Counters,
) -> Result<Vec<u8>, Error> {
    if frames.is_empty() {
        return Ok(Vec::new());
    }
    let range = table.file_range_of(frames.clone());
    let bytes = get_range(backend, &layout::large_key(&id), range.clone(), counters)
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
    blocking(move || {
        let mut out = Vec::new();
        for k in frames {
            let r = table.file_range(k);
            let raw = table.decode_frame(
                &id,
                k,
                &bytes[(r.start - range.start) as usize..(r.end - range.start) as usize],
            )?;
            out.extend_from_slice(&raw);
        }
        Ok(out)
    })
    .await
}

async fn fetch_large(
    backend: &Backend,
    store: &Store,
    id: ObjectId,
    counters: &Counters,
    progress: &dyn Progress,
) -> Result<u64, Error> {
    let table = Arc::new(seek_table(backend, &id, counters).await?);
    let mut incoming = Some(store.incoming(id)?);
    let count = table.frames().len();
    let mut i = 0;
    while i < count {
        let j = batch_end(&table, i);
        let raw = frames(backend, id, Arc::clone(&table), i..j, counters).await?;
        let mut inc = incoming.take().expect("handed back after each batch");
        inc = blocking(move || {
            inc.write(&raw)?;
            Ok(inc)
        })
        .await?;
        incoming = Some(inc);
        i = j;
    }
    let inc = incoming.take().expect("incoming");
    let size = inc.size();
    let local = store.clone();
    blocking(move || Ok(inc.finish(&local)?)).await?;
    counters.objects.fetch_add(1, Ordering::Relaxed);
    progress.advance(1);
    Ok(size)
}

/// A packed object's bytes, read with one ranged GET of its entry and verified.
pub(crate) async fn packed(
    backend: &Backend,
    id: &ObjectId,
    pack: ObjectId,
    entry: Entry,
    counters: &Counters,
) -> Result<Vec<u8>, Error> {
    let bytes = get_range(backend, &layout::pack_key(&pack), entry.range(), counters)
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
    blocking(move || Ok(pack::decode_entry(&pack, &entry, &bytes)?)).await
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
        let raw = packed(backend, id, pack, entry, &counters).await?;
        let end = (want.end).min(raw.len() as u64) as usize;
        let begin = (want.start as usize).min(end);
        raw[begin..end].to_vec()
    } else {
        let table = Arc::new(seek_table(backend, id, &counters).await?);
        let covering = table.frames_for(want.clone());
        if covering.is_empty() {
            Vec::new()
        } else {
            let first = table.raw_range(covering.start).start;
            let raw = frames(backend, *id, Arc::clone(&table), covering, &counters).await?;
            let lo = (want.start - first) as usize;
            let hi = ((want.end.min(table.raw_size)) - first) as usize;
            raw[lo..hi].to_vec()
        }
    };
    counters.objects.fetch_add(1, Ordering::Relaxed);
    Ok((out, counters.stats(0, start)))
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
    fn a_buffer_comes_back_empty_with_its_room_within_the_pool_limit() {
        let buffers = Buffers::holding_at_most(10_000);
        let mut first = buffers.take(100);
        first.extend_from_slice(&[7; 4096]);
        let room = first.capacity();
        let other = buffers.clone();
        other.give_back(first);
        let again = buffers.take(100);
        assert!(again.is_empty(), "no bytes of the last run");
        assert_eq!(again.capacity(), room);
        assert_eq!(
            buffers.take(100).capacity(),
            100,
            "one buffer back, one handed out: the next is new"
        );
        // Two of 4 KiB fit the limit; a third, or one larger than the limit, is freed.
        for _ in 0..3 {
            buffers.give_back(Vec::with_capacity(4096));
        }
        buffers.give_back(Vec::with_capacity(20_000));
        let kept: Vec<usize> = (0..3).map(|_| buffers.take(0).capacity()).collect();
        assert_eq!(kept, vec![4096, 4096, 0]);
    }

    #[test]
    fn the_smallest_buffer_with_room_is_taken_and_none_is_grown() {
        let buffers = Buffers::holding_at_most(1 << 20);
        for room in [8_000, 2_000, 30_000, 4_000] {
            buffers.give_back(Vec::with_capacity(room));
        }
        assert_eq!(buffers.take(3_000).capacity(), 4_000);
        assert_eq!(buffers.take(3_000).capacity(), 8_000);
        // Nothing idle has room for 50 000 bytes: a new buffer, and the largest idle
        // one (30 000) is freed rather than kept too small.
        assert_eq!(buffers.take(50_000).capacity(), 50_000);
        let pool = buffers.0.lock().expect("pool");
        assert_eq!(
            pool.free.iter().map(Vec::capacity).collect::<Vec<_>>(),
            [2_000]
        );
        assert_eq!(pool.held, 2_000);
    }

    #[test]
    fn a_range_is_read_into_the_buffer_given_from_a_file_or_a_stream() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::create_dir_all(dir.path().join("packs")).expect("mkdir");
        std::fs::write(dir.path().join("packs/p.pack"), &bytes).expect("write");
        let on_disk: Arc<dyn ObjectStore> = Arc::new(
            object_store::local::LocalFileSystem::new_with_prefix(dir.path()).expect("local"),
        );
        let in_memory: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
        crate::remote::block_on(in_memory.put(
            &object_store::path::Path::from("packs/p.pack"),
            bytes.clone().into(),
        ))
        .expect("runtime")
        .expect("put");
        for (kind, store) in [("file", on_disk), ("stream", in_memory)] {
            let backend = Backend::from_store(store, &[], kind);
            let counters = Counters::default();
            let read = |range: Range<u64>, buffer: Vec<u8>| {
                crate::remote::block_on(get_range_into(
                    &backend,
                    "packs/p.pack",
                    range,
                    &counters,
                    buffer,
                ))
                .expect("runtime")
                .expect("read")
            };
            // A buffer with room and stale bytes: emptied, and its room used.
            let mut given = Vec::with_capacity(150_000);
            given.extend_from_slice(b"stale");
            let at = given.as_ptr();
            let got = read(1_000..121_000, given);
            assert_eq!(got, bytes[1_000..121_000], "{kind}");
            assert_eq!(got.as_ptr(), at, "{kind}: the buffer given, not a new one");
            // Past the end of the file: short, for the caller to judge.
            let got = read(190_000..250_000, got);
            assert_eq!(got, bytes[190_000..], "{kind}");
            assert_eq!(counters.requests.load(Ordering::Relaxed), 2, "{kind}");
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
}
