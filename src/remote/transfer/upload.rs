//! Uploading objects to a remote.
//!
//! Owns: deciding what the remote lacks, packing small objects (in the order given, so
//! a directory's files share packs) and sending each pack before its index, and
//! streaming large objects frame by frame into multipart uploads.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt, stream};
use object_store::{ObjectStoreExt, PutPayload, WriteMultipart};
use rayon::prelude::*;

use super::catalog::{Depth, load_index};
use super::{Counters, Error, Options, TransferStats, blocking, unique};
use crate::atomic::MAX_WRITE;
use crate::hash::ObjectId;
use crate::progress::{Progress, Unit};
use crate::remote::backend::Backend;
use crate::remote::index_cache::IndexCache;
use crate::remote::large::{self, SeekTable};
use crate::remote::layout;
use crate::remote::pack::PackBuilder;
use crate::store::{self, Store};

/// Multipart part size for large objects (S3 needs at least 5 MiB per part).
const PART_SIZE: usize = 16 << 20;
/// Parts of one large object in flight at once.
const PART_JOBS: usize = 2;

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
    let distinct = unique(ids);
    let unsent: Vec<ObjectId> = (distinct.iter())
        .filter(|id| index.locate(id).is_none())
        .copied()
        .collect();
    let mut skipped = (distinct.len() - unsent.len()) as u64;
    let mut small = Vec::new();
    let mut large = Vec::new();
    let mut not_local = Vec::new();
    // One `stat` per object, before the first pack can start: on all cores (20k of them
    // took about 30 ms on one).
    let sizes: Vec<(ObjectId, Option<u64>)> =
        unsent.par_iter().map(|id| (*id, store.size(id))).collect();
    for (id, size) in sizes {
        match size {
            // An empty object is always packed: a large object has at least one byte.
            Some(len) if len >= options.large_threshold() && len > 0 => large.push((id, len)),
            Some(len) => small.push((id, len)),
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
                options.frame_size(),
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

/// `bytes` as a payload of pieces of at most [`MAX_WRITE`] bytes (shared, not copied):
/// a directory remote writes each piece with a `write` call of its own, and one call of
/// a whole pack is many times slower (see [`MAX_WRITE`]). An HTTP remote sends the
/// pieces one after another in one request body, as it would the whole.
fn in_pieces(bytes: Vec<u8>) -> PutPayload {
    let bytes = Bytes::from(bytes);
    (0..bytes.len())
        .step_by(MAX_WRITE)
        .map(|at| bytes.slice(at..bytes.len().min(at + MAX_WRITE)))
        .collect()
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
        let mut builder = PackBuilder::with_capacity(group.len(), raw_total as usize);
        let mut bytes = Vec::new();
        for (id, size) in group {
            // Read unchecked and hashed here, once (`Store::read` would hash it too).
            bytes.clear();
            bytes.reserve(size as usize);
            local.read_unchecked_into(&id, &mut bytes)?;
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
            in_pieces(built.bytes),
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
    match stream_large(store, id, size, frame_size, &mut writer, progress).await {
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
    progress: &dyn Progress,
) -> Result<u64, Error> {
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
            let n = store::read_full(&mut f, &mut raw)
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
        // In pieces, as a pack: a directory remote writes each with a call of its own.
        for piece in compressed.chunks(MAX_WRITE) {
            writer.write(piece);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_pack_travels_in_pieces_of_at_most_one_write_that_add_up_to_it() {
        let bytes: Vec<u8> = (0..2 * MAX_WRITE + 7).map(|i| i as u8).collect();
        let payload = in_pieces(bytes.clone());
        let pieces: Vec<usize> = payload.iter().map(Bytes::len).collect();
        assert_eq!(pieces, vec![MAX_WRITE, MAX_WRITE, 7]);
        assert_eq!(Bytes::from(payload), Bytes::from(bytes));
        assert_eq!(in_pieces(Vec::new()).content_length(), 0);
    }
}
