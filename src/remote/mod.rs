//! Remotes: where dvx pushes objects and refs and fetches them from, with no server.
//!
//! Owns: the remote abstraction over `object_store` (directory, S3 and S3-compatible,
//! GCS, Azure), the remote layout (packs, large objects, refs, `dvx-remote.toml`),
//! transfers, and the tokio runtime they run on. The rest of dvx is synchronous: it
//! uses a remote through [`Remote`], whose methods block. Does not own reachability
//! (which objects a push needs), checkout, or the CLI's commands.
//!
//! Rooms: [`url`] (what a remote URL names), [`settings`] (per-remote settings and
//! credentials; secrets never shown), [`endpoint`] (which endpoint URLs a client may be
//! given), [`aws_profile`] (AWS shared credentials files), [`backend`] (the client, retries and timeouts),
//! [`layout`] (key names, the manifest), [`pack`] and [`pack_index`] (small objects),
//! [`large`] (large objects with a seek table), [`refs`] (branches and tags),
//! [`transfer`] (its [`transfer::catalog`] finds what the remote holds, then
//! [`transfer::upload`], [`transfer::download`] and range reads), [`index_cache`] (local
//! copies of pack indexes), [`reader`] (a whole object streamed without storing it),
//! [`source`] (the remote-backed `ObjectSource`, opened from a repository's
//! configuration), [`metadata`] (fetching history: commits, trees, run records) and
//! [`check`] (reading and verifying everything a remote holds).
//!
//! Invariants (docs/format.md, "Remotes"): objects before the indexes that name them,
//! indexes before refs; a ref moves only by create-if-absent of its next number; nothing
//! fetched enters the local store before it is verified against its id.

pub mod aws_profile;
pub mod backend;
pub mod check;
pub mod endpoint;
pub mod index_cache;
pub mod large;
pub mod layout;
pub mod pack;
pub mod pack_index;
pub mod reader;
pub mod refs;
pub mod settings;
pub mod source;
pub mod transfer;
pub mod url;

use std::sync::{Arc, Mutex};

use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};

pub use backend::Backend;
pub use index_cache::IndexCache;
pub use layout::Manifest;
pub use refs::{RefKind, RemoteRef};
pub use settings::{Credentials, Environment, Secret, Settings};
pub use source::RemoteSource;
pub use transfer::{Options as TransferOptions, TransferStats};
pub use url::{Kind, RemoteUrl};

use crate::hash::ObjectId;
use crate::progress::Progress;
use crate::store::{Arrivals, Store};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Url(#[from] url::Error),
    #[error(transparent)]
    Settings(#[from] settings::Error),
    #[error(transparent)]
    Backend(#[from] backend::Error),
    #[error(transparent)]
    Manifest(#[from] layout::ManifestError),
    #[error(
        "remote {url} is not a dvx remote yet (it has no {})",
        layout::MANIFEST
    )]
    NotInitialised { url: String },
    /// A location with no manifest that is not empty: never taken over.
    #[error(
        "remote {url} is not a dvx remote (it holds other files, and no {})",
        layout::MANIFEST
    )]
    NotADvxRemote { url: String },
    #[error(transparent)]
    Refs(#[from] refs::Error),
    #[error(transparent)]
    Transfer(#[from] transfer::Error),
    #[error("cannot start the remote runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("no remote is configured")]
    NoRemote,
    #[error("several remotes are configured ({}) and none is the default", names.join(", "))]
    NoDefaultRemote { names: Vec<String> },
    #[error(
        "no remote named '{name}' is configured{}",
        settings::configured_list(known)
    )]
    UnknownRemote { name: String, known: Vec<String> },
    #[error(transparent)]
    Config(crate::repo::Error),
    #[error("tree {tree} from remote {url} names '{name}', {why}; nothing of it was used")]
    HostileTree {
        url: String,
        tree: ObjectId,
        name: String,
        why: &'static str,
    },
}

/// The runtime every remote's work runs on, made on first use. One for the process:
/// an HTTP client's pooled connections belong to the runtime that opened them, so a
/// client shared by two remotes must not outlive either's runtime.
fn runtime() -> Result<&'static tokio::runtime::Runtime, Error> {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("dvx-remote")
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    // A racing first use may have won; its runtime serves and this one is dropped.
    Ok(RUNTIME.get_or_init(|| rt))
}

/// Run `future` to completion on the remote runtime (for callers holding a
/// [`Backend`] directly, such as tests inspecting a remote).
pub fn block_on<F: std::future::Future>(future: F) -> Result<F::Output, Error> {
    Ok(runtime()?.block_on(future))
}

/// An open remote. Every method blocks until its work is done.
pub struct Remote {
    runtime: &'static tokio::runtime::Runtime,
    backend: Backend,
    options: TransferOptions,
    cache: Option<IndexCache>,
    /// The remote's pack index as last loaded, for range reads (a mount reads many).
    index: Mutex<Option<Arc<transfer::RemoteIndex>>>,
    /// What every request through this remote cost so far (see [`Remote::totals`]).
    tally: Arc<Mutex<TransferStats>>,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("url", &self.backend.shown())
            .finish_non_exhaustive()
    }
}

/// Why no remote was chosen, as this module's error.
impl From<settings::Unchosen> for Error {
    fn from(e: settings::Unchosen) -> Error {
        match e {
            settings::Unchosen::NoRemote => Error::NoRemote,
            settings::Unchosen::NoDefault { names } => Error::NoDefaultRemote { names },
        }
    }
}

impl Remote {
    /// Connect to `url` (nothing is sent yet). `create` creates a directory remote's
    /// directory (for `remote add`); otherwise a missing one is an error.
    pub fn open(
        url: &RemoteUrl,
        settings: &Settings,
        credentials: &Credentials,
        env: &Environment,
        create: bool,
    ) -> Result<Remote, Error> {
        let backend = Backend::open(url, settings, credentials, env, create)?;
        let mut remote = Remote::with_backend(backend)?;
        if let Some(jobs) = settings.jobs {
            remote.options.jobs = jobs;
        }
        Ok(remote)
    }

    /// A remote over an existing backend (tests wrap stores to count requests).
    pub fn with_backend(backend: Backend) -> Result<Remote, Error> {
        Ok(Remote {
            runtime: runtime()?,
            backend,
            options: TransferOptions::default(),
            cache: None,
            index: Mutex::new(None),
            tally: Arc::new(Mutex::new(TransferStats::default())),
        })
    }

    /// Keep copies of the remote's pack indexes in `cache` (`.dvx/cache/packs/`).
    pub fn with_index_cache(mut self, cache: IndexCache) -> Remote {
        self.cache = Some(cache);
        self
    }

    pub fn with_options(mut self, options: TransferOptions) -> Remote {
        self.options = options;
        self
    }

    pub fn options(&self) -> &TransferOptions {
        &self.options
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// The remote's URL as shown to people.
    pub fn url(&self) -> &str {
        self.backend.shown()
    }

    /// Check that the remote refuses a second create of a key (`remote add` runs this
    /// once): without it two pushes could overwrite each other's refs.
    pub fn check_conditional_create(&self) -> Result<(), Error> {
        let nonce = ObjectId::of(
            format!("{:?}{}", std::time::SystemTime::now(), std::process::id()).as_bytes(),
        )
        .short();
        Ok(self
            .runtime
            .block_on(self.backend.probe_conditional_create(&nonce))?)
    }

    /// `dvx-remote.toml`, or `None` for an empty remote.
    pub fn manifest(&self) -> Result<Option<Manifest>, Error> {
        let start = std::time::Instant::now();
        let got = self.runtime.block_on(async {
            let key = self.backend.key(layout::MANIFEST);
            self.backend
                .retry_cut_reads(|| async { self.backend.store().get(&key).await?.bytes().await })
                .await
        });
        self.record(&TransferStats {
            requests: 1,
            bytes: got.as_ref().map_or(0, |b| b.len() as u64),
            elapsed: start.elapsed(),
            ..TransferStats::default()
        });
        match got {
            Ok(bytes) => Ok(Some(Manifest::decode(self.url(), &bytes)?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.backend.store_err(e).into()),
        }
    }

    /// The manifest of a remote that must already be a dvx remote.
    pub fn require_manifest(&self) -> Result<Manifest, Error> {
        self.manifest()?.ok_or_else(|| Error::NotInitialised {
            url: self.url().into(),
        })
    }

    /// For a caller that found no manifest just now: make the location a dvx remote if it
    /// is empty, and say whether it was made one now. A location that holds anything
    /// (someone else's files, or a dvx remote whose `dvx-remote.toml` was deleted) is
    /// refused: writing a manifest there would take it over, or paper over the damage.
    pub fn init_if_empty(&self) -> Result<(Manifest, bool), Error> {
        self.require_empty()?;
        match self.create_manifest(None)? {
            Some(manifest) => Ok((manifest, true)),
            None => Ok((self.require_manifest()?, false)),
        }
    }

    /// Refuse a location that holds anything, unless a manifest appeared meanwhile (a
    /// first push racing this one made it a dvx remote).
    pub fn require_empty(&self) -> Result<(), Error> {
        if self.runtime.block_on(self.backend.holds_nothing())? || self.manifest()?.is_some() {
            return Ok(());
        }
        Err(Error::NotADvxRemote {
            url: self.url().into(),
        })
    }

    /// Make this a dvx remote if it is not one yet (create-if-absent, so two first
    /// pushes agree); returns the manifest now in force.
    pub fn init(&self, default_branch: Option<&str>) -> Result<Manifest, Error> {
        match self.create_manifest(default_branch)? {
            Some(manifest) => Ok(manifest),
            None => self.require_manifest(),
        }
    }

    /// Write `dvx-remote.toml` if absent: the manifest written, or `None` when one was
    /// there already.
    pub(crate) fn create_manifest(
        &self,
        default_branch: Option<&str>,
    ) -> Result<Option<Manifest>, Error> {
        let manifest = Manifest::new(default_branch.map(str::to_owned));
        let created = self.runtime.block_on(async {
            let key = self.backend.key(layout::MANIFEST);
            let put = self
                .backend
                .store()
                .put_opts(
                    &key,
                    PutPayload::from(manifest.encode().into_bytes()),
                    PutOptions::from(PutMode::Create),
                )
                .await;
            match put {
                Ok(_) => Ok(true),
                Err(object_store::Error::AlreadyExists { .. })
                | Err(object_store::Error::Precondition { .. }) => Ok(false),
                Err(e) => Err(self.backend.store_err(e)),
            }
        })?;
        Ok(created.then_some(manifest))
    }

    /// Record the branch `dvx clone` checks out.
    pub fn set_default_branch(&self, branch: Option<&str>) -> Result<Manifest, Error> {
        let mut manifest = self.require_manifest()?;
        manifest.default_branch = branch.map(str::to_owned);
        self.runtime.block_on(async {
            self.backend
                .store()
                .put(
                    &self.backend.key(layout::MANIFEST),
                    PutPayload::from(manifest.encode().into_bytes()),
                )
                .await
                .map_err(|e| self.backend.store_err(e))
        })?;
        Ok(manifest)
    }

    /// Every live branch or tag on the remote.
    pub fn refs(&self, kind: RefKind) -> Result<Vec<RemoteRef>, Error> {
        Ok(self.runtime.block_on(refs::list(&self.backend, kind))?)
    }

    pub fn read_ref(&self, kind: RefKind, name: &str) -> Result<RemoteRef, Error> {
        Ok(self
            .runtime
            .block_on(refs::read(&self.backend, kind, name))?)
    }

    /// Move a ref from the seq it was read at; see [`refs::update`].
    pub fn update_ref(
        &self,
        kind: RefKind,
        name: &str,
        from: u64,
        to: Option<&ObjectId>,
    ) -> Result<u64, Error> {
        Ok(self
            .runtime
            .block_on(refs::update(&self.backend, kind, name, from, to))?)
    }

    /// Upload `ids` from `store`, skipping what the remote has.
    pub fn upload(
        &self,
        store: &Store,
        ids: &[ObjectId],
        progress: &dyn Progress,
    ) -> Result<TransferStats, Error> {
        let stats = self.runtime.block_on(transfer::upload(
            &self.backend,
            store,
            ids,
            &self.options,
            self.cache.as_ref(),
            progress,
        ));
        self.record_result(&stats);
        let stats = stats?;
        // What the remote holds changed.
        *self.index.lock().expect("index lock") = None;
        Ok(stats)
    }

    /// Fetch `ids` into `store` (each verified before it enters), skipping those it has.
    /// A few ids are found with ranged reads of the pack indexes that are not cached;
    /// many, by reading (and caching) them whole. The caller flushes the store after.
    /// An id the remote does not hold is an error.
    pub fn download(
        &self,
        store: &Store,
        ids: &[ObjectId],
        progress: &dyn Progress,
    ) -> Result<TransferStats, Error> {
        let known = self.index.lock().expect("index lock").clone();
        let stats = self.runtime.block_on(transfer::download(
            &self.backend,
            store,
            ids,
            &self.options,
            known.as_deref(),
            self.cache.as_ref(),
            progress,
        ));
        self.record_result(&stats);
        Ok(stats?)
    }

    /// [`Remote::download`], except that ids the remote does not hold are returned
    /// instead of failing (what a source reports as unavailable), with the objects
    /// stored; `arrivals` (if given) is told of each packed object as it is stored, with
    /// the bytes that were verified.
    pub fn download_available(
        &self,
        store: &Store,
        ids: &[ObjectId],
        progress: &dyn Progress,
        arrivals: Option<&Arc<dyn Arrivals>>,
    ) -> Result<transfer::Downloaded, Error> {
        let known = self.index.lock().expect("index lock").clone();
        let got = self.runtime.block_on(transfer::download_available(
            &self.backend,
            store,
            ids,
            &self.options,
            known.as_deref(),
            self.cache.as_ref(),
            progress,
            arrivals,
        ));
        if let Ok(done) = &got {
            self.record(&done.stats);
        }
        Ok(got?)
    }

    /// Which of `ids` the remote cannot vouch for, each with why (see
    /// [`transfer::catalog::unsound`]): absent, or listed in a pack that is gone or short,
    /// or a large object whose seek table is missing or damaged.
    pub fn unsound(
        &self,
        ids: &[ObjectId],
    ) -> Result<Vec<(ObjectId, transfer::catalog::Doubt)>, Error> {
        let ids = transfer::unique(ids);
        let index = self.index_for(&ids)?;
        let start = std::time::Instant::now();
        let counters = transfer::Counters::default();
        let unsound = self.runtime.block_on(transfer::catalog::unsound(
            &self.backend,
            &index,
            &ids,
            self.options.jobs.max(1),
            &counters,
        ));
        self.record(&counters.stats(0, start));
        Ok(unsound?)
    }

    /// The remote's index, as far as finding `ids` needs: the one kept, if it is
    /// complete or locates them all; else whole for many ids, ranged reads for a few.
    fn index_for(&self, ids: &[ObjectId]) -> Result<Arc<transfer::RemoteIndex>, Error> {
        let kept = self.index.lock().expect("index lock").clone();
        if let Some(index) = kept
            && (index.is_complete() || ids.iter().all(|id| index.locate(id).is_some()))
        {
            return Ok(index);
        }
        let wanted = (ids.len() <= transfer::RANGED_LOOKUP_MAX).then_some(ids);
        let (index, stats) = self.runtime.block_on(transfer::catalog::index(
            &self.backend,
            self.cache.as_ref(),
            self.options.jobs.max(1),
            wanted,
        ))?;
        self.record(&stats);
        let index = Arc::new(index);
        if index.is_complete() {
            *self.index.lock().expect("index lock") = Some(Arc::clone(&index));
        }
        Ok(index)
    }

    /// What every request made through this remote has cost so far: requests, bytes
    /// over the wire, objects moved.
    pub fn totals(&self) -> TransferStats {
        self.tally.lock().expect("tally lock").clone()
    }

    fn record(&self, stats: &TransferStats) {
        self.tally.lock().expect("tally lock").add(stats);
    }

    fn record_result<E>(&self, stats: &Result<TransferStats, E>) {
        if let Ok(stats) = stats {
            self.record(stats);
        }
    }

    /// Read every pack index whole (into the cache, if there is one) and keep it for the
    /// range reads and downloads that follow (a mount, a `dvx fetch`). Returns the number
    /// of packed objects the remote holds.
    pub fn load_indexes(&self) -> Result<usize, Error> {
        let (index, stats) = self.runtime.block_on(transfer::catalog::index(
            &self.backend,
            self.cache.as_ref(),
            self.options.jobs.max(1),
            None,
        ))?;
        self.record(&stats);
        let count = index.packed_objects();
        *self.index.lock().expect("index lock") = Some(Arc::new(index));
        Ok(count)
    }

    /// Which of `ids` the remote holds neither packed nor as a large object (a ref that
    /// points at a commit the remote lacks is checked this way before anything is
    /// fetched). Uses the indexes kept by [`Self::load_indexes`], else finds the ids with
    /// ranged reads of the indexes; one HEAD per id that no index names.
    pub fn missing(&self, ids: &[ObjectId]) -> Result<Vec<ObjectId>, Error> {
        let kept = self.index.lock().expect("index lock").clone();
        let index = match kept {
            Some(index) if index.is_complete() => index,
            _ => Arc::new(
                self.runtime
                    .block_on(transfer::catalog::index(
                        &self.backend,
                        self.cache.as_ref(),
                        self.options.jobs.max(1),
                        Some(ids),
                    ))?
                    .0,
            ),
        };
        let unpacked: Vec<ObjectId> = ids
            .iter()
            .filter(|id| index.locate(id).is_none())
            .copied()
            .collect();
        Ok(self.runtime.block_on(async {
            let mut missing = Vec::new();
            for id in unpacked {
                let key = self.backend.key(&layout::large_key(&id));
                match self.backend.store().head(&key).await {
                    Ok(_) => {}
                    Err(object_store::Error::NotFound { .. }) => missing.push(id),
                    Err(e) => return Err(self.backend.store_err(e)),
                }
            }
            Ok(missing)
        })?)
    }

    /// Read `len` bytes of `id` from `offset` without storing them (for `cat` and a
    /// mount), verified against the id. Uses the indexes kept by [`Self::load_indexes`],
    /// else finds the id with ranged reads of the indexes.
    pub fn read_range(
        &self,
        id: &ObjectId,
        offset: u64,
        len: u64,
    ) -> Result<(Vec<u8>, TransferStats), Error> {
        let kept = self.index.lock().expect("index lock").clone();
        let (index, mut lookup) = match kept {
            Some(index) if index.is_complete() || index.locate(id).is_some() => {
                (index, TransferStats::default())
            }
            _ => {
                let (index, stats) = self.runtime.block_on(transfer::catalog::index(
                    &self.backend,
                    self.cache.as_ref(),
                    self.options.jobs.max(1),
                    Some(std::slice::from_ref(id)),
                ))?;
                (Arc::new(index), stats)
            }
        };
        let (bytes, stats) =
            self.runtime
                .block_on(transfer::read_range(&self.backend, &index, id, offset, len))?;
        lookup.add(&stats);
        self.record(&lookup);
        Ok((bytes, lookup))
    }

    /// Read everything the remote holds and check it (see [`check`]), and whether it
    /// holds every id of `wanted`. Writes nothing.
    pub fn check(
        &self,
        wanted: &[ObjectId],
        progress: &dyn Progress,
    ) -> Result<check::Report, Error> {
        let report =
            self.runtime
                .block_on(check::check(&self.backend, wanted, &self.options, progress))?;
        self.record(&report.stats);
        Ok(report)
    }

    /// A reader of the whole object `id`, without storing it (for `cat`): a packed
    /// object is read with one ranged GET and checked before its first byte is handed
    /// out; a large one is streamed frame batch by frame batch, each frame checked
    /// against the seek table, which was checked against the id first. An id the remote
    /// does not hold is [`transfer::Error::NotOnRemote`].
    pub fn open_object(&self, id: &ObjectId) -> Result<Box<dyn std::io::Read + Send>, Error> {
        let index = self.index_for(std::slice::from_ref(id))?;
        let start = std::time::Instant::now();
        let counters = transfer::Counters::default();
        let opened = self.runtime.block_on(async {
            match index.locate(id).copied() {
                Some((pack, entry)) => {
                    let raw = transfer::download::packed(&self.backend, id, pack, entry, &counters)
                        .await?;
                    Ok::<_, transfer::Error>(reader::ObjectReader::whole(raw))
                }
                None => {
                    let table =
                        transfer::download::seek_table(&self.backend, id, &counters).await?;
                    Ok(reader::ObjectReader::large(
                        self.runtime,
                        self.backend.clone(),
                        *id,
                        table,
                        Arc::clone(&self.tally),
                    ))
                }
            }
        });
        let mut stats = counters.stats(0, start);
        if opened.is_ok() {
            stats.objects = 1;
        }
        self.record(&stats);
        Ok(Box::new(opened?))
    }
}
