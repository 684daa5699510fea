//! Moving objects between the local store and a remote.
//!
//! Owns: finding what the remote has ([`catalog`]: its pack indexes, through the local
//! cache or with ranged reads), uploading ([`upload`]: small objects packed, large ones
//! alone and multipart), downloading and range reads ([`download`]: ranged GETs of
//! exactly the entries wanted, adjacent ones coalesced; large objects frame by frame),
//! and counting what it cost. Does not own which objects are wanted (reachability) or
//! refs.
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

pub mod catalog;
pub mod download;
pub mod upload;

use std::collections::HashSet;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use object_store::ObjectStoreExt;

use super::backend::{self, Backend};
use super::{large, pack, pack_index};
use crate::hash::ObjectId;
use crate::store;

pub use catalog::{RANGED_LOOKUP_MAX, RemoteIndex};
pub use download::{Downloaded, download, download_available, read_range};
pub use upload::upload;

/// Concurrent requests: sized for network latency (each request mostly waits), not
/// for cores.
pub const DEFAULT_JOBS: usize = 24;
/// Objects at least this large travel alone; smaller ones in packs.
pub const DEFAULT_LARGE_THRESHOLD: u64 = 8 << 20;
/// Raw bytes of objects per pack: tens of MiB, so 100k small files are a few dozen
/// requests.
pub const DEFAULT_PACK_SIZE: u64 = 32 << 20;

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
    pub(crate) fn jobs(&self) -> usize {
        self.jobs.max(1)
    }

    /// Packs being built and sent at once: each holds up to `pack_size` in memory.
    pub(crate) fn pack_jobs(&self) -> usize {
        self.jobs().clamp(1, 4)
    }

    /// The frame size if it is valid (a power of two, 1 KiB to 64 MiB), else the default.
    pub(crate) fn frame_size(&self) -> u32 {
        if large::valid_frame_size(self.frame_size) {
            self.frame_size
        } else {
            large::DEFAULT_FRAME_SIZE
        }
    }

    pub(crate) fn large_threshold(&self) -> u64 {
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

impl TransferStats {
    /// What was added to these totals since they were `earlier`.
    pub fn since(&self, earlier: &TransferStats) -> TransferStats {
        TransferStats {
            objects: self.objects.saturating_sub(earlier.objects),
            skipped: self.skipped.saturating_sub(earlier.skipped),
            bytes: self.bytes.saturating_sub(earlier.bytes),
            requests: self.requests.saturating_sub(earlier.requests),
            elapsed: self.elapsed.saturating_sub(earlier.elapsed),
        }
    }

    /// Add what another transfer cost.
    pub fn add(&mut self, other: &TransferStats) {
        self.objects += other.objects;
        self.skipped += other.skipped;
        self.bytes += other.bytes;
        self.requests += other.requests;
        self.elapsed += other.elapsed;
    }
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
pub(crate) struct Counters {
    pub(crate) requests: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) objects: AtomicU64,
}

impl Counters {
    pub(crate) fn request(&self, bytes: u64) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn stats(&self, skipped: u64, start: Instant) -> TransferStats {
        TransferStats {
            objects: self.objects.load(Ordering::Relaxed),
            skipped,
            bytes: self.bytes.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            elapsed: start.elapsed(),
        }
    }
}

pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Task(e.to_string()))?
}

pub(crate) async fn get_all(
    backend: &Backend,
    relative: &str,
    counters: &Counters,
) -> Result<Bytes, Error> {
    let key = backend.key(relative);
    let bytes = backend
        .retry_cut_reads(|| async { backend.bulk().get(&key).await?.bytes().await })
        .await
        .map_err(|e| backend.store_err(e))?;
    counters.request(bytes.len() as u64);
    Ok(bytes)
}

pub(crate) async fn get_range(
    backend: &Backend,
    relative: &str,
    range: Range<u64>,
    counters: &Counters,
) -> Result<Bytes, backend::Error> {
    let key = backend.key(relative);
    let bytes = backend
        .retry_cut_reads(|| backend.bulk().get_range(&key, range.clone()))
        .await
        .map_err(|e| backend.store_err(e))?;
    counters.request(bytes.len() as u64);
    Ok(bytes)
}

/// Ids in first-seen order, without repeats.
pub(crate) fn unique(ids: &[ObjectId]) -> Vec<ObjectId> {
    let mut seen = HashSet::with_capacity(ids.len());
    ids.iter().copied().filter(|id| seen.insert(*id)).collect()
}
