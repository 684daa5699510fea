//! The remote conformance suite: the same library-level scenarios against every kind of
//! remote that can run here, through a factory (as restic's backend tests do).
//!
//! Kinds: a local directory, and S3 through a real S3 protocol server in this process
//! (`s3_server`). GCS and Azure run when `DVX_TEST_GCS_URL` / `DVX_TEST_AZURE_URL` name
//! an emulator or a scratch bucket (with the usual `GOOGLE_*` / `AZURE_*` variables);
//! otherwise they are skipped, saying so.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::stream::BoxStream;
use object_store::path::Path as Key;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

use dvx::hash::ObjectId;
use dvx::progress::Silent;
use dvx::remote::pack_index::PackIndex;
use dvx::remote::{
    Backend, Credentials, Environment, IndexCache, RefKind, Remote, RemoteUrl, Settings,
    TransferOptions, backend, layout, refs, transfer,
};
use dvx::store::Store;
use dvx::workspace::Workspace;

use crate::harness::{Sandbox, assert_contains};
use crate::s3_server::S3Server;

/// One remote to run scenarios against: its raw store (to inspect and damage it) and
/// whatever keeps it alive.
struct Target {
    kind: &'static str,
    raw: Arc<dyn ObjectStore>,
    prefix: Vec<String>,
    shown: String,
    _keep: Box<dyn Any>,
}

impl Target {
    fn backend(&self, store: Arc<dyn ObjectStore>) -> Backend {
        Backend::from_store(store, &self.prefix, self.shown.clone())
    }

    fn remote(&self) -> Remote {
        Remote::with_backend(self.backend(Arc::clone(&self.raw))).expect("remote")
    }

    /// A remote whose requests are counted (and, optionally, whose puts start failing).
    fn instrumented(&self, fail_puts_after: Option<u64>) -> (Remote, Arc<Instrumented>) {
        let counting = Arc::new(Instrumented::new(Arc::clone(&self.raw), fail_puts_after));
        let remote = Remote::with_backend(self.backend(counting.clone())).expect("remote");
        (remote, counting)
    }

    fn key(&self, relative: &str) -> Key {
        self.backend(Arc::clone(&self.raw)).key(relative)
    }

    fn put_raw(&self, relative: &str, bytes: Vec<u8>) {
        run(self.raw.put(&self.key(relative), PutPayload::from(bytes))).expect("put raw");
    }

    fn get_raw(&self, relative: &str) -> Vec<u8> {
        run(async { self.raw.get(&self.key(relative)).await?.bytes().await })
            .expect("get raw")
            .to_vec()
    }

    fn list_raw(&self, relative: &str) -> Vec<String> {
        use futures_util::TryStreamExt;
        let backend = self.backend(Arc::clone(&self.raw));
        let metas: Vec<ObjectMeta> =
            run(self.raw.list(Some(&self.key(relative))).try_collect()).expect("list raw");
        let mut keys: Vec<String> = metas
            .iter()
            .filter_map(|m| backend.relative(&m.location))
            .collect();
        keys.sort();
        keys
    }
}

/// Raw requests run on the remote runtime, as the library's own do.
fn run<T>(f: impl std::future::Future<Output = T>) -> T {
    dvx::remote::block_on(f).expect("runtime")
}

fn open(
    url: &str,
    settings: &Settings,
    env: &Environment,
    keep: Box<dyn Any>,
    kind: &'static str,
) -> Target {
    let url = RemoteUrl::parse(url).expect("url");
    let backend =
        Backend::open(&url, settings, &Credentials::default(), env, true).expect("backend");
    Target {
        kind,
        raw: Arc::clone(backend.store()),
        prefix: url.prefix().to_vec(),
        shown: url.to_string(),
        _keep: keep,
    }
}

fn directory() -> Target {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("remote");
    open(
        path.to_str().expect("utf-8"),
        &Settings::default(),
        &Environment::new(),
        Box::new(dir),
        "directory",
    )
}

fn s3() -> Target {
    let server = S3Server::start();
    let url = server.url("team/data");
    let env = server.env();
    open(&url, &Settings::default(), &env, Box::new(server), "s3")
}

/// GCS or Azure from the environment (an emulator or a scratch bucket), if configured.
fn from_env(var: &str, kind: &'static str) -> Option<Target> {
    let Ok(url) = std::env::var(var) else {
        eprintln!("skipping the {kind} remote: {var} is not set");
        return None;
    };
    let env: Environment = std::env::vars().collect();
    let nonce = ObjectId::of(format!("{:?}", Instant::now()).as_bytes()).short();
    Some(open(
        &format!("{}/dvx-test-{nonce}", url.trim_end_matches('/')),
        &Settings::default(),
        &env,
        Box::new(()),
        kind,
    ))
}

/// Every kind of remote that can run here.
fn targets() -> Vec<Target> {
    let mut all = vec![directory(), s3()];
    all.extend(from_env("DVX_TEST_GCS_URL", "gcs"));
    all.extend(from_env("DVX_TEST_AZURE_URL", "azure"));
    all
}

/// Counts requests and bytes per kind of key, and can make puts fail after a number of
/// them (an interrupted upload).
#[derive(Debug)]
struct Instrumented {
    inner: Arc<dyn ObjectStore>,
    requests: AtomicU64,
    get_bytes: AtomicU64,
    pack_gets: AtomicU64,
    pack_get_bytes: AtomicU64,
    index_gets: AtomicU64,
    index_get_bytes: AtomicU64,
    puts: AtomicU64,
    fail_puts_after: Option<u64>,
    /// A rival push's ref file: put (create-if-absent) at the first key put under this
    /// prefix, just before that put, as a push that moved the ref between this push's
    /// read of it and its own move would have.
    rival: std::sync::Mutex<Option<(String, Vec<u8>)>>,
}

impl Instrumented {
    fn new(inner: Arc<dyn ObjectStore>, fail_puts_after: Option<u64>) -> Instrumented {
        Instrumented {
            inner,
            requests: AtomicU64::new(0),
            get_bytes: AtomicU64::new(0),
            pack_gets: AtomicU64::new(0),
            pack_get_bytes: AtomicU64::new(0),
            index_gets: AtomicU64::new(0),
            index_get_bytes: AtomicU64::new(0),
            puts: AtomicU64::new(0),
            fail_puts_after,
            rival: std::sync::Mutex::new(None),
        }
    }

    /// Let a rival's `bytes` land first at the first key put under `prefix`.
    fn with_rival(self, prefix: &Key, bytes: &[u8]) -> Instrumented {
        *self.rival.lock().expect("rival lock") = Some((format!("{prefix}/"), bytes.to_vec()));
        self
    }

    fn count(&self, counter: &AtomicU64) -> u64 {
        counter.load(Ordering::SeqCst)
    }
}

impl fmt::Display for Instrumented {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Instrumented({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for Instrumented {
    async fn put_opts(
        &self,
        location: &Key,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        let n = self.puts.fetch_add(1, Ordering::SeqCst);
        if self.fail_puts_after.is_some_and(|k| n >= k) {
            return Err(object_store::Error::Generic {
                store: "Instrumented",
                source: "the network went away".into(),
            });
        }
        let rival = {
            let mut rival = self.rival.lock().expect("rival lock");
            match &*rival {
                Some((prefix, _)) if location.as_ref().starts_with(prefix.as_str()) => rival.take(),
                _ => None,
            }
        };
        if let Some((_, bytes)) = rival {
            let create = PutOptions::from(object_store::PutMode::Create);
            self.inner
                .put_opts(location, PutPayload::from(bytes), create)
                .await?;
        }
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Key,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Key,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        let head = options.head;
        let result = self.inner.get_opts(location, options).await?;
        if !head {
            let n = result.range.end - result.range.start;
            self.get_bytes.fetch_add(n, Ordering::SeqCst);
            let name = location.as_ref();
            if name.ends_with(".pack") {
                self.pack_gets.fetch_add(1, Ordering::SeqCst);
                self.pack_get_bytes.fetch_add(n, Ordering::SeqCst);
            } else if name.ends_with(".idx") {
                self.index_gets.fetch_add(1, Ordering::SeqCst);
                self.index_get_bytes.fetch_add(n, Ordering::SeqCst);
            }
        }
        Ok(result)
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Key>>,
    ) -> BoxStream<'static, object_store::Result<Key>> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Key>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Key>) -> object_store::Result<ListResult> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Key,
        to: &Key,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.inner.copy_opts(from, to, options).await
    }
}

/// A scratch local store.
fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let objects = dir.path().join("objects");
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&objects).expect("mkdir");
    std::fs::create_dir_all(&tmp).expect("mkdir");
    (dir, Store::new(objects, tmp))
}

/// Deterministic incompressible bytes.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// `n` small objects of assorted sizes (some compressible) in `store`.
fn small_objects(store: &Store, n: usize, seed: u64) -> Vec<ObjectId> {
    (0..n)
        .map(|i| {
            let len = (i * 997 + seed as usize) % 9000;
            let bytes = if i % 3 == 0 {
                format!("row {i}\n").repeat(len / 8 + 1).into_bytes()
            } else {
                noise(seed + i as u64, len)
            };
            store.put_bytes(&bytes).expect("put")
        })
        .collect()
}

/// Small thresholds so packs, several frames and multiple packs appear with little data.
fn small_options() -> TransferOptions {
    TransferOptions {
        jobs: 8,
        large_threshold: 256 << 10,
        pack_size: 128 << 10,
        frame_size: 64 << 10,
    }
}

/// No temp file in the store's temp area (this process's session directory and its
/// lock are not temp files).
fn tmp_is_empty(store: &Store) -> bool {
    walkdir::WalkDir::new(store.tmp_dir())
        .into_iter()
        .map(|e| e.expect("walk tmp"))
        .filter(|e| e.file_type().is_file())
        .all(|e| dvx::atomic::TempArea::is_session_entry(&e.file_name().to_string_lossy()))
}

fn for_each_target(scenario: impl Fn(&Target)) {
    for target in targets() {
        eprintln!("remote kind: {}", target.kind);
        scenario(&target);
    }
}

#[test]
fn upload_then_download_round_trips_byte_for_byte() {
    for_each_target(|t| {
        let (_a, local) = store();
        let mut ids = small_objects(&local, 200, 1);
        let large = noise(99, (1 << 20) + 12345);
        let large_id = local.put_bytes(&large).expect("put large");
        ids.push(large_id);
        let remote = t.remote().with_options(small_options());
        remote.init(Some("main")).expect("init");
        let up = remote.upload(&local, &ids, &Silent).expect("upload");
        assert_eq!(up.objects, 201, "{}: {up:?}", t.kind);
        assert!(
            up.requests < 60,
            "{}: 200 small objects should be a few packs, not one request each: {up:?}",
            t.kind
        );

        let (_b, other) = store();
        let down = remote.download(&other, &ids, &Silent).expect("download");
        assert_eq!(down.objects, 201, "{}: {down:?}", t.kind);
        for id in &ids {
            assert_eq!(
                other.read(id).expect("read"),
                local.read(id).expect("read"),
                "{}",
                t.kind
            );
            other.verify(id).expect("verified");
        }
        assert!(tmp_is_empty(&other));

        // A byte range across frame boundaries, and inside a small object, without storing.
        let (bytes, stats) = remote
            .read_range(&large_id, 60_000, 200_000)
            .expect("range");
        assert_eq!(bytes, large[60_000..260_000], "{}", t.kind);
        assert!(
            stats.bytes < 400_000,
            "{}: read {} bytes for a 200 kB range",
            t.kind,
            stats.bytes
        );
        let small = ids[5];
        let (bytes, _) = remote.read_range(&small, 3, 10).expect("small range");
        let full = local.read(&small).expect("read");
        assert_eq!(
            bytes,
            full[3.min(full.len())..13.min(full.len())],
            "{}",
            t.kind
        );

        // Everything is there now: a second upload sends nothing.
        let again = remote.upload(&local, &ids, &Silent).expect("upload again");
        assert_eq!(
            (again.objects, again.skipped),
            (0, 201),
            "{}: {again:?}",
            t.kind
        );
    });
}

#[test]
fn empty_and_tiny_objects_survive_any_threshold() {
    for_each_target(|t| {
        let (_a, local) = store();
        let ids: Vec<ObjectId> = [&b""[..], b"x", &noise(1, 5000)]
            .iter()
            .map(|b| local.put_bytes(b).expect("put"))
            .collect();
        // Everything non-empty travels alone; an invalid frame size falls back to the
        // default.
        let remote = t.remote().with_options(TransferOptions {
            large_threshold: 0,
            frame_size: 1000,
            ..TransferOptions::default()
        });
        let up = remote.upload(&local, &ids, &Silent).expect("upload");
        assert_eq!(up.objects, 3, "{}: {up:?}", t.kind);
        assert_eq!(t.list_raw("objects").len(), 2, "{}", t.kind);
        let (_b, other) = store();
        remote.download(&other, &ids, &Silent).expect("download");
        for id in &ids {
            other.verify(id).expect("intact");
        }
        let (bytes, _) = remote
            .read_range(&ids[2], 4990, 100)
            .expect("range past the end");
        assert_eq!(bytes, noise(1, 5000)[4990..]);
    });
}

#[test]
fn a_large_object_travels_in_several_multipart_parts() {
    for_each_target(|t| {
        let (_a, local) = store();
        // Incompressible and over two 16 MiB parts, with the default 4 MiB frames.
        let large = noise(7, (33 << 20) + 5);
        let id = local.put_bytes(&large).expect("put");
        let remote = t.remote();
        let up = remote.upload(&local, &[id], &Silent).expect("upload");
        assert_eq!(up.objects, 1);
        assert!(
            up.requests >= 4,
            "{}: create, three parts, complete: {up:?}",
            t.kind
        );
        let (_b, other) = store();
        remote.download(&other, &[id], &Silent).expect("download");
        other.verify(&id).expect("intact");
        let (bytes, _) = remote.read_range(&id, (4 << 20) - 10, 20).expect("range");
        assert_eq!(bytes, large[(4 << 20) - 10..(4 << 20) + 10]);
    });
}

/// Regression: a fresh clone's pull of 20,000 small files made 4x N/1000 requests,
/// because each read of a pack stopped at 4 MiB. A whole pack of a few MiB is now one GET.
#[test]
fn pulling_a_whole_pack_reads_it_in_one_get() {
    for_each_target(|t| {
        let (_a, local) = store();
        // 600 objects of 10 kB (random, so zstd leaves them as they are): one pack of
        // about 6 MB, which took two GETs of at most 4 MiB.
        let ids: Vec<ObjectId> = (0..600)
            .map(|i| local.put_bytes(&noise(i, 10_000)).expect("put"))
            .collect();
        t.remote().upload(&local, &ids, &Silent).expect("upload");
        let (remote, counts) = t.instrumented(None);
        let (_b, other) = store();
        let stats = remote
            .download(&other, &ids, &Silent)
            .expect("download all");
        assert_eq!(stats.objects, 600, "{}: {stats:?}", t.kind);
        assert_eq!(counts.count(&counts.pack_gets), 1, "{}", t.kind);
        for id in &ids {
            other.verify(id).expect("intact");
        }
        assert!(tmp_is_empty(&other), "{}", t.kind);
    });
}

#[test]
fn downloading_one_packed_object_moves_only_its_bytes() {
    for_each_target(|t| {
        let (_a, local) = store();
        // 600 objects of 10 kB: one pack of about 6 MB, an index of about 32 kB.
        let ids: Vec<ObjectId> = (0..600)
            .map(|i| local.put_bytes(&noise(i, 10_000)).expect("put"))
            .collect();
        t.remote().upload(&local, &ids, &Silent).expect("upload");

        // No cache: list the packs, read the index's header and fan-out and the slice
        // for the id's first byte, then one ranged GET of exactly the entry.
        let cache_dir = tempfile::tempdir().expect("tempdir");
        let cache = IndexCache::new(cache_dir.path().join("packs"));
        let (remote, counts) = t.instrumented(None);
        let remote = remote.with_index_cache(cache.clone());
        let (_b, other) = store();
        let want = ids[42];
        let stats = remote
            .download(&other, &[want], &Silent)
            .expect("download one");
        assert_eq!(stats.objects, 1);
        other.verify(&want).expect("intact");
        assert!(!other.contains(&ids[41]) && !other.contains(&ids[43]));
        assert_eq!(counts.count(&counts.pack_gets), 1, "{}", t.kind);
        let pack_bytes = counts.count(&counts.pack_get_bytes);
        assert!(
            (10_000..10_200).contains(&pack_bytes),
            "{}: fetched {pack_bytes} bytes of the pack for one 10 kB object",
            t.kind
        );
        let index_bytes = counts.count(&counts.index_get_bytes);
        assert!(
            index_bytes < 1076 + 10 * 52,
            "{}: read {index_bytes} bytes of a 32 kB index to find one id",
            t.kind
        );
        assert_eq!(counts.count(&counts.requests), 4, "{}", t.kind);
        assert_eq!(stats.requests, 4, "{}: {stats:?}", t.kind);
        let (bytes, range_stats) = remote.read_range(&ids[3], 100, 50).expect("range");
        assert_eq!(bytes, local.read(&ids[3]).expect("read")[100..150]);
        assert_eq!(range_stats.requests, 4, "{}: {range_stats:?}", t.kind);

        // Indexes read whole are cached and kept: the next object is one GET.
        remote.load_indexes().expect("load indexes");
        assert!(
            cache_dir
                .path()
                .join("packs")
                .read_dir()
                .expect("cache")
                .next()
                .is_some()
        );
        let before = counts.count(&counts.requests);
        remote
            .download(&other, &[ids[7]], &Silent)
            .expect("download another");
        assert_eq!(counts.count(&counts.requests) - before, 1, "{}", t.kind);

        // Another remote over the same cache: a listing and the entry.
        let (fresh, fresh_counts) = t.instrumented(None);
        let fresh = fresh.with_index_cache(cache);
        fresh
            .download(&other, &[ids[8]], &Silent)
            .expect("download with the cache");
        assert_eq!(
            fresh_counts.count(&fresh_counts.index_gets),
            0,
            "{}",
            t.kind
        );
        assert_eq!(fresh_counts.count(&fresh_counts.requests), 2, "{}", t.kind);

        // Neighbours in one pack come in one GET.
        let before_gets = counts.count(&counts.pack_gets);
        remote
            .download(&other, &ids[50..60], &Silent)
            .expect("download ten");
        assert_eq!(
            counts.count(&counts.pack_gets) - before_gets,
            1,
            "{}",
            t.kind
        );
    });
}

#[test]
fn two_concurrent_ref_moves_from_the_same_seq_exactly_one_wins() {
    for_each_target(|t| {
        let remote = t.remote();
        remote
            .check_conditional_create()
            .expect("create-if-absent is enforced");
        assert!(
            t.list_raw("tmp").is_empty(),
            "{}: the probe cleans up",
            t.kind
        );
        remote.init(Some("main")).expect("init");
        let never = remote
            .read_ref(RefKind::Branch, "main")
            .expect("read an absent ref");
        assert_eq!((never.seq, never.target), (0, None), "{}", t.kind);
        assert!(remote.refs(RefKind::Branch).expect("list").is_empty());
        let c1 = ObjectId::of(b"commit 1");
        assert_eq!(
            remote
                .update_ref(RefKind::Branch, "main", 0, Some(&c1))
                .expect("create"),
            1
        );
        for round in 0..5u64 {
            let from = 1 + round;
            let barrier = Arc::new(Barrier::new(2));
            let results: Vec<_> = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..2u8)
                    .map(|who| {
                        let barrier = Arc::clone(&barrier);
                        let remote = t.remote();
                        scope.spawn(move || {
                            let target = ObjectId::of(&[who, round as u8]);
                            barrier.wait();
                            (
                                target,
                                remote.update_ref(RefKind::Branch, "main", from, Some(&target)),
                            )
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("thread"))
                    .collect()
            });
            let winners: Vec<_> = results.iter().filter(|(_, r)| r.is_ok()).collect();
            assert_eq!(winners.len(), 1, "{}: round {round}: {results:?}", t.kind);
            let loser = results.iter().find(|(_, r)| r.is_err()).expect("a loser");
            assert!(
                matches!(
                    loser.1,
                    Err(dvx::remote::Error::Refs(refs::Error::Moved { expected, found, .. }))
                        if expected == from && found == from + 1
                ),
                "{}: {:?}",
                t.kind,
                loser.1
            );
            let now = remote.read_ref(RefKind::Branch, "main").expect("read");
            assert_eq!(
                (now.seq, now.target),
                (from + 1, Some(winners[0].0)),
                "{}",
                t.kind
            );
        }

        // Tags and nested names list apart; deleting leaves a tombstone.
        let tag = ObjectId::of(b"tagged");
        remote
            .update_ref(RefKind::Tag, "v1", 0, Some(&tag))
            .expect("tag");
        remote
            .update_ref(RefKind::Branch, "feature/x", 0, Some(&c1))
            .expect("nested");
        let names = |kind| -> Vec<String> {
            remote
                .refs(kind)
                .expect("list")
                .into_iter()
                .map(|r| r.name)
                .collect()
        };
        assert_eq!(names(RefKind::Branch), vec!["feature/x", "main"]);
        assert_eq!(names(RefKind::Tag), vec!["v1"]);
        let x = remote.read_ref(RefKind::Branch, "feature/x").expect("read");
        remote
            .update_ref(RefKind::Branch, "feature/x", x.seq, None)
            .expect("delete");
        assert_eq!(names(RefKind::Branch), vec!["main"]);
        let gone = remote.read_ref(RefKind::Branch, "feature/x").expect("read");
        assert_eq!((gone.seq, gone.target), (2, None));
        assert!(
            t.list_raw("refs")
                .iter()
                .all(|k| k.rsplit('/').next().is_some_and(|s| s.len() == 20)),
            "{}: every ref key ends in a seq",
            t.kind
        );
        assert_eq!(
            remote
                .require_manifest()
                .expect("manifest")
                .default_branch
                .as_deref(),
            Some("main")
        );
    });
}

/// Upload a few objects and return (store, ids, large id) for damage scenarios.
fn uploaded(t: &Target) -> (tempfile::TempDir, Store, Vec<ObjectId>, ObjectId) {
    let (dir, local) = store();
    let mut ids = small_objects(&local, 40, 5);
    let large = local.put_bytes(&noise(3, 300_000)).expect("put large");
    ids.push(large);
    t.remote()
        .with_options(small_options())
        .upload(&local, &ids, &Silent)
        .expect("upload");
    (dir, local, ids, large)
}

/// The only pack and index on the remote (small_objects(40) fits in one 128 KiB pack
/// group only partly, so take the pack holding `id`).
fn pack_of(t: &Target, id: &ObjectId) -> (ObjectId, PackIndex) {
    for key in t.list_raw("packs") {
        if let Some((pack, layout::PackFile::Index)) = layout::parse_pack_key(&key) {
            let index = PackIndex::decode(&pack, &t.get_raw(&key)).expect("index");
            if index.lookup(id).is_some() {
                return (pack, index);
            }
        }
    }
    panic!("{}: no pack holds {id}", t.kind);
}

fn assert_named_and_clean(
    t: &Target,
    result: Result<dvx::remote::TransferStats, dvx::remote::Error>,
    id: &ObjectId,
    store: &Store,
) {
    let err = result.expect_err("damage must be detected");
    assert!(
        err.to_string().contains(&id.to_hex()),
        "{}: error does not name {id}: {err}",
        t.kind
    );
    assert!(
        !store.contains(id),
        "{}: a damaged object entered the store",
        t.kind
    );
    assert!(tmp_is_empty(store), "{}: temp files left", t.kind);
}

#[test]
fn damaged_remote_objects_are_detected_and_nothing_bad_is_stored() {
    for_each_target(|t| {
        // A flipped byte inside one packed object.
        let (_a, local, ids, _) = uploaded(t);
        let victim = *ids
            .iter()
            .find(|id| local.read(id).expect("read").len() > 1000)
            .expect("a sizeable one");
        let (pack, index) = pack_of(t, &victim);
        let entry = *index.lookup(&victim).expect("entry");
        let mut bytes = t.get_raw(&layout::pack_key(&pack));
        bytes[(entry.offset + u64::from(entry.length) - 5) as usize] ^= 0x20;
        t.put_raw(&layout::pack_key(&pack), bytes.clone());
        let (_b, fresh) = store();
        assert_named_and_clean(
            t,
            t.remote().download(&fresh, &[victim], &Silent),
            &victim,
            &fresh,
        );
        let (_r, err) = (
            0,
            t.remote()
                .read_range(&victim, 0, 10)
                .expect_err("range of a damaged object"),
        );
        assert!(err.to_string().contains(&victim.to_hex()), "{err}");

        // A lying index with a good checksum: two entries' places swapped.
        let (_a, local, ids, _) = uploaded(t);
        let first = ids[1];
        let (pack, index) = pack_of(t, &first);
        let other = index
            .entries()
            .iter()
            .find(|e| e.id != first)
            .copied()
            .expect("another entry");
        let mine = *index.lookup(&first).expect("entry");
        let forged: Vec<_> = index
            .entries()
            .iter()
            .map(|e| {
                if e.id == first {
                    dvx::remote::pack_index::Entry { id: first, ..other }
                } else if e.id == other.id {
                    dvx::remote::pack_index::Entry {
                        id: other.id,
                        ..mine
                    }
                } else {
                    *e
                }
            })
            .collect();
        let lie = PackIndex::new(pack, index.pack_len, forged);
        t.put_raw(&layout::index_key(&pack), lie.encode());
        let (_b, fresh) = store();
        assert_named_and_clean(
            t,
            t.remote().download(&fresh, &[first], &Silent),
            &first,
            &fresh,
        );
        drop(local);
        // The true index back: the next scenario lies in its own way.
        t.put_raw(&layout::index_key(&pack), index.encode());

        // A lying index that gives every object of a pack nearly the largest size a
        // packed object may have: the download fails naming one of them (it sets no
        // memory aside for the sum of the claims), and stores nothing.
        let (_a, _local, ids, _) = uploaded(t);
        let (pack, index) = pack_of(t, &ids[1]);
        let inflated: Vec<_> = index
            .entries()
            .iter()
            .map(|e| dvx::remote::pack_index::Entry {
                raw_size: dvx::remote::pack::MAX_PACKED_SIZE - 1,
                ..*e
            })
            .collect();
        let held: Vec<ObjectId> = inflated.iter().map(|e| e.id).collect();
        let lie = PackIndex::new(pack, index.pack_len, inflated);
        t.put_raw(&layout::index_key(&pack), lie.encode());
        let (_b, fresh) = store();
        let err = t
            .remote()
            .download(&fresh, &held, &Silent)
            .expect_err("inflated sizes");
        assert!(
            held.iter().any(|id| err.to_string().contains(&id.to_hex())),
            "{}: {err}",
            t.kind
        );
        let claimed = dvx::remote::pack::MAX_PACKED_SIZE - 1;
        assert_contains(&err.to_string(), &format!("expected {claimed}"));
        assert!(held.iter().all(|id| !fresh.contains(id)), "{}", t.kind);
        assert!(tmp_is_empty(&fresh), "{}: temp files left", t.kind);

        // A truncated pack: objects in its second half are named.
        let (_a, _local, ids, _) = uploaded(t);
        let (pack, index) = pack_of(t, &ids[2]);
        let last = *index
            .entries()
            .iter()
            .max_by_key(|e| e.offset)
            .expect("entries");
        let bytes = t.get_raw(&layout::pack_key(&pack));
        t.put_raw(
            &layout::pack_key(&pack),
            bytes[..(last.offset + 10) as usize].to_vec(),
        );
        let (_b, fresh) = store();
        assert_named_and_clean(
            t,
            t.remote().download(&fresh, &[last.id], &Silent),
            &last.id,
            &fresh,
        );

        // A flipped byte in a large object's frame, and in its seek table.
        let (_a, _local, _ids, large) = uploaded(t);
        let key = layout::large_key(&large);
        let good = t.get_raw(&key);
        let mut bad = good.clone();
        bad[100] ^= 1;
        t.put_raw(&key, bad);
        let (_b, fresh) = store();
        assert_named_and_clean(
            t,
            t.remote().download(&fresh, &[large], &Silent),
            &large,
            &fresh,
        );
        let mut bad = good.clone();
        let at = bad.len() - 30;
        bad[at] ^= 1;
        t.put_raw(&key, bad);
        assert_named_and_clean(
            t,
            t.remote().download(&fresh, &[large], &Silent),
            &large,
            &fresh,
        );
        t.put_raw(&key, good);
        t.remote()
            .download(&fresh, &[large], &Silent)
            .expect("repaired remote downloads");
        fresh.verify(&large).expect("intact");

        // An object the remote does not have at all.
        let absent = ObjectId::of(b"never uploaded");
        let err = t
            .remote()
            .download(&fresh, &[absent], &Silent)
            .expect_err("absent");
        assert!(
            matches!(err, dvx::remote::Error::Transfer(transfer::Error::NotOnRemote { id, .. }) if id == absent),
            "{err}"
        );
    });
}

#[test]
fn an_interrupted_upload_resumes_and_sends_only_the_rest() {
    for_each_target(|t| {
        let (_a, local) = store();
        // 60 objects of 10 kB in packs of ~20 objects: three packs.
        let ids: Vec<ObjectId> = (0..60)
            .map(|i| local.put_bytes(&noise(100 + i, 10_000)).expect("put"))
            .collect();
        let options = TransferOptions {
            jobs: 1,
            pack_size: 200_000,
            ..TransferOptions::default()
        };
        // Puts: pack 1, index 1, pack 2, then the network goes away.
        let (broken, _) = t.instrumented(Some(3));
        let broken = broken.with_options(options.clone());
        let err = broken
            .upload(&local, &ids, &Silent)
            .expect_err("interrupted");
        assert!(
            err.to_string().contains("network went away"),
            "{}: {err}",
            t.kind
        );

        let (remote, counts) = t.instrumented(None);
        let remote = remote.with_options(options);
        let resumed = remote.upload(&local, &ids, &Silent).expect("resume");
        assert_eq!(
            resumed.skipped, 20,
            "{}: the first pack was complete: {resumed:?}",
            t.kind
        );
        assert_eq!(resumed.objects, 40, "{}: {resumed:?}", t.kind);
        // Two packs and two indexes: nothing of the first pack again.
        assert_eq!(counts.count(&counts.puts), 4, "{}", t.kind);

        let (_b, other) = store();
        remote
            .download(&other, &ids, &Silent)
            .expect("download all");
        for id in &ids {
            other.verify(id).expect("intact");
        }
    });
}

#[test]
fn an_upload_of_an_object_neither_local_nor_remote_names_it_and_sends_nothing() {
    for_each_target(|t| {
        let (_a, local) = store();
        let mut ids = small_objects(&local, 5, 9);
        let ghost = ObjectId::of(b"not anywhere");
        ids.push(ghost);
        let (remote, counts) = t.instrumented(None);
        let err = remote.upload(&local, &ids, &Silent).expect_err("missing");
        assert!(
            err.to_string().contains(&ghost.to_hex()),
            "{}: {err}",
            t.kind
        );
        assert_eq!(
            counts.count(&counts.puts),
            0,
            "{}: nothing was sent",
            t.kind
        );
    });
}

#[test]
fn a_remote_written_by_a_newer_dvx_is_refused() {
    for_each_target(|t| {
        t.put_raw(layout::MANIFEST, b"format = 2\n".to_vec());
        let err = t.remote().require_manifest().expect_err("newer");
        // The hint (the CLI's) says to upgrade; the error says why.
        assert!(
            err.to_string()
                .contains("has format 2, but this dvx reads format 1"),
            "{err}"
        );
        let err = t.remote().init(None).expect_err("init does not overwrite");
        assert!(err.to_string().contains("format 2"), "{err}");
    });
    let empty = directory();
    assert!(matches!(
        empty.remote().require_manifest(),
        Err(dvx::remote::Error::NotInitialised { .. })
    ));
}

#[test]
fn wrong_credentials_fail_fast_with_a_typed_error_that_hides_the_secret() {
    let server = S3Server::start();
    let url = RemoteUrl::parse(&server.url("p")).expect("url");
    let env = server.env_with_secret("an-entirely-wrong-secret");
    let remote = Remote::open(
        &url,
        &Settings::default(),
        &Credentials::default(),
        &env,
        false,
    )
    .expect("open");
    let start = Instant::now();
    let err = remote.refs(RefKind::Branch).expect_err("wrong secret");
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "took {:?}",
        start.elapsed()
    );
    assert!(
        matches!(
            err,
            dvx::remote::Error::Refs(refs::Error::Backend(backend::Error::Denied { .. }))
        ),
        "{err:?}"
    );
    let text = format!("{err} {err:?}");
    assert!(!text.contains("an-entirely-wrong-secret"), "{text}");
    assert!(text.contains(&url.to_string()), "{text}");
    // The right secret works against the same server.
    let good = Remote::open(
        &url,
        &Settings::default(),
        &Credentials::default(),
        &server.env(),
        false,
    )
    .expect("open");
    assert!(good.refs(RefKind::Branch).expect("list").is_empty());
}

#[test]
fn s3_credentials_can_come_from_an_aws_profile() {
    let server = S3Server::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("credentials");
    dvx::atomic::write(
        &file,
        format!(
            "[default]\naws_access_key_id = AKIDWRONG\naws_secret_access_key = wrong\n[dvx]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            crate::s3_server::ACCESS_KEY,
            crate::s3_server::SECRET_KEY
        )
        .as_bytes(),
    )
    .expect("write credentials");
    let mut env = server.env();
    env.remove("AWS_ACCESS_KEY_ID");
    env.remove("AWS_SECRET_ACCESS_KEY");
    env.insert(
        "AWS_SHARED_CREDENTIALS_FILE".into(),
        file.display().to_string(),
    );
    let url = RemoteUrl::parse(&server.url("p")).expect("url");
    let open = |env: &Environment| {
        Remote::open(
            &url,
            &Settings::default(),
            &Credentials::default(),
            env,
            false,
        )
    };
    // The default profile holds wrong keys; the named one works.
    let err = open(&env)
        .expect("open")
        .refs(RefKind::Branch)
        .expect_err("default profile");
    assert!(
        matches!(
            err,
            dvx::remote::Error::Refs(refs::Error::Backend(backend::Error::Denied { .. }))
        ),
        "{err:?}"
    );
    env.insert("AWS_PROFILE".into(), "dvx".into());
    assert!(
        open(&env)
            .expect("open")
            .refs(RefKind::Branch)
            .expect("listed")
            .is_empty()
    );
    env.insert("AWS_PROFILE".into(), "absent".into());
    let err = open(&env).expect_err("no such profile");
    assert!(err.to_string().contains("'absent'"), "{err}");
}

fn unreachable_settings(endpoint: String) -> (RemoteUrl, Settings, Environment) {
    let url = RemoteUrl::parse("s3://bucket/p").expect("url");
    let settings = Settings {
        endpoint: Some(endpoint),
        allow_http: Some(true),
        region: Some("us-east-1".into()),
        ..Settings::default()
    };
    let env: Environment = BTreeMap::from([
        ("AWS_ACCESS_KEY_ID".to_owned(), "AKIDX".to_owned()),
        ("AWS_SECRET_ACCESS_KEY".to_owned(), "secretx".to_owned()),
    ]);
    (url, settings, env)
}

#[test]
fn a_refused_connection_fails_with_a_typed_error_after_bounded_retries() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let (url, settings, env) = unreachable_settings(format!("http://127.0.0.1:{port}"));
    let remote = Remote::open(&url, &settings, &Credentials::default(), &env, false).expect("open");
    let start = Instant::now();
    let err = remote.manifest().expect_err("unreachable");
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "took {:?}",
        start.elapsed()
    );
    assert!(
        matches!(
            err,
            dvx::remote::Error::Backend(backend::Error::Unreachable { .. })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("s3://bucket/p"), "{err}");
}

#[test]
fn a_silent_endpoint_times_out_within_a_minute() {
    // Accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let held = std::thread::spawn(move || {
        let mut open = Vec::new();
        listener.set_nonblocking(true).expect("nonblocking");
        let until = Instant::now() + Duration::from_secs(70);
        while Instant::now() < until {
            match listener.accept() {
                Ok((s, _)) => open.push(s),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
            if open.len() > 20 {
                break;
            }
        }
    });
    let (url, settings, env) = unreachable_settings(format!("http://{addr}"));
    let remote = Remote::open(&url, &settings, &Credentials::default(), &env, false).expect("open");
    let start = Instant::now();
    let err = remote.manifest().expect_err("silent");
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "took {:?}",
        start.elapsed()
    );
    assert!(
        matches!(
            err,
            dvx::remote::Error::Backend(backend::Error::Unreachable { .. })
        ),
        "{err:?}"
    );
    drop(held);
}

#[test]
fn cloud_urls_build_clients_without_touching_the_network() {
    let env: Environment = BTreeMap::from([
        ("GOOGLE_SERVICE_ACCOUNT_KEY".to_owned(), "{}".to_owned()),
        (
            "AZURE_STORAGE_ACCOUNT_NAME".to_owned(),
            "devstoreaccount1".to_owned(),
        ),
        ("AZURE_STORAGE_ACCOUNT_KEY".to_owned(), "a2V5".to_owned()),
    ]);
    let az = RemoteUrl::parse("az://container/team").expect("url");
    let remote = Remote::open(
        &az,
        &Settings::default(),
        &Credentials::default(),
        &env,
        false,
    )
    .expect("azure");
    assert_eq!(remote.url(), "az://container/team");
    assert!(!format!("{remote:?}").contains("a2V5"));
}

/// Two commits: the old one has `top` (a name) only below `data/`, the new one (its
/// child) at the top of its tree too, each time as a directory with one file. Returns
/// (old commit, new commit, every id: history first, the one blob last).
fn history_with(local: &Store, top: &str) -> (ObjectId, ObjectId, Vec<ObjectId>) {
    use dvx::object::{Commit, EntryKind, Signature, Tree, TreeEntry};
    let blob = local.put_bytes(b"inside\n").expect("blob");
    let entry = |name: &str, kind, id, size| TreeEntry {
        name: name.into(),
        kind,
        executable: false,
        root: false,
        size,
        id,
    };
    let sub = local
        .put(&Tree::from_unsorted(vec![entry(
            "f",
            EntryKind::File,
            blob,
            7,
        )]))
        .expect("sub");
    let deeper = local
        .put(&Tree::from_unsorted(vec![entry(
            top,
            EntryKind::Dir,
            sub,
            7,
        )]))
        .expect("deeper");
    let root = local
        .put(&Tree::from_unsorted(vec![
            entry("data", EntryKind::Dir, deeper, 7),
            entry(top, EntryKind::Dir, sub, 7),
        ]))
        .expect("root");
    let commit = |tree, parents: Vec<ObjectId>| Commit {
        tree,
        parents,
        author: Signature {
            name: "A".into(),
            email: "a@b".into(),
            time: 1_700_000_000,
            tz_minutes: 0,
        },
        message: "m\n".into(),
        git: None,
        runs: Vec::new(),
        extensions: Vec::new(),
    };
    let old_root = local
        .put(&Tree::from_unsorted(vec![entry(
            "data",
            EntryKind::Dir,
            deeper,
            7,
        )]))
        .expect("old root");
    let old = local.put(&commit(old_root, Vec::new())).expect("old");
    let new = local.put(&commit(root, vec![old])).expect("new");
    (old, new, vec![new, old, root, old_root, deeper, sub, blob])
}

/// `dvx fetch`'s flow into a fresh dvx repository from the target's remote; the
/// repository, to look at afterwards.
fn fetch_into(
    t: &Target,
) -> (
    Sandbox,
    Result<dvx::sync::fetch::FetchReport, dvx::sync::Error>,
) {
    use dvx::object::Signature;
    use dvx::sync::fetch::{self, FetchOptions};
    let sb = Sandbox::dvx_only();
    let result = {
        let ws = Workspace::open(&sb.root).expect("open");
        let lock = ws.repo().lock().expect("lock");
        let connected = dvx::sync::Connected {
            name: "origin".into(),
            remote: Arc::new(t.remote()),
        };
        let options = FetchOptions {
            force: false,
            who: Signature {
                name: "A".into(),
                email: "a@b".into(),
                time: 1_700_000_000,
                tz_minutes: 0,
            },
        };
        fetch::fetch(&ws, &lock, &connected, &options, &Silent)
    };
    (sb, result)
}

/// A push whose ref move comes second (another push moved the ref after this one read
/// it, while this one uploaded) is rejected at the move, naming where the ref is now;
/// the rival's value stands. Unlike the concurrent-push scenario, the rival lands in
/// that window every time, so this is the lost race and never the up-front refusal.
#[test]
fn a_push_that_loses_the_race_for_the_ref_is_rejected_and_the_rival_stands() {
    use dvx::sync::push::{self, PushRequest};
    for_each_target(|t| {
        let sb = Sandbox::dvx_only();
        sb.write("data/a", b"a\n");
        sb.out(&["add", "data"]);
        sb.out(&["commit", "-m", "a"]);
        let rival = ObjectId::of(b"a rival's commit");
        let refs_of_main = t.key("refs/heads/main");
        let raced = Arc::new(
            Instrumented::new(Arc::clone(&t.raw), None)
                .with_rival(&refs_of_main, format!("{}\n", rival.to_hex()).as_bytes()),
        );
        let connected = dvx::sync::Connected {
            name: "origin".into(),
            remote: Arc::new(Remote::with_backend(t.backend(raced.clone())).expect("remote")),
        };
        let ws = Workspace::open(&sb.root).expect("open");
        let err = push::push(&ws, &connected, &PushRequest::default(), &Silent)
            .expect_err("the rival moved the ref first");
        assert!(
            matches!(&err, dvx::sync::Error::Rejected { name, at, .. } if name == "main" && *at == Some(rival)),
            "[{}] {err}",
            t.kind
        );
        assert_contains(&err.to_string(), "the remote has commits you do not have");
        assert!(
            raced.rival.lock().expect("rival lock").is_none(),
            "[{}] the rival landed at this push's ref move",
            t.kind
        );
        assert!(
            !t.list_raw("packs").is_empty(),
            "[{}] the ref move came after the upload",
            t.kind
        );
        let at = t
            .remote()
            .read_ref(RefKind::Branch, "main")
            .expect("read ref");
        assert_eq!((at.seq, at.target), (1, Some(rival)), "[{}]", t.kind);
    });
}

/// Point the remote's branch `name` at `commit` (or delete it).
fn set_branch(remote: &Remote, name: &str, commit: Option<&ObjectId>) {
    let current = remote.read_ref(RefKind::Branch, name).expect("read ref");
    remote
        .update_ref(RefKind::Branch, name, current.seq, commit)
        .expect("move ref");
}

#[test]
fn history_is_fetched_whole_without_blobs_and_hostile_tree_names_are_refused() {
    for_each_target(|t| {
        let (_a, local) = store();
        let (_old, new, ids) = history_with(&local, "plain");
        let remote = t.remote();
        remote.init(None).expect("init");
        remote.upload(&local, &ids, &Silent).expect("upload");
        set_branch(&remote, "main", Some(&new));
        let (sb, fetched) = fetch_into(t);
        let report = fetched.expect("fetch");
        assert_eq!(
            report.stats.objects, 6,
            "[{}] 2 commits and 4 trees",
            t.kind
        );
        let fresh = Workspace::open(&sb.root).expect("open");
        let fresh = fresh.repo().store();
        for id in &ids[..6] {
            assert!(fresh.contains(id), "[{}] history object {id}", t.kind);
        }
        assert!(!fresh.contains(&ids[6]), "[{}] never a blob", t.kind);
        set_branch(&remote, "main", None);

        // Names dvx never writes: refused, naming the tree, wherever they are; no ref moves.
        for (hostile, why) in [
            (".git", "inside a .git directory"),
            (".dvx", "inside a .dvx directory"),
            (".gitignore", "an ignore file"),
        ] {
            let (_c, bad_local) = store();
            let (_, bad, bad_ids) = history_with(&bad_local, hostile);
            remote
                .upload(&bad_local, &bad_ids, &Silent)
                .expect("upload");
            set_branch(&remote, "bad", Some(&bad));
            let (sb, fetched) = fetch_into(t);
            let err = fetched.expect_err("hostile name");
            let text = err.to_string();
            assert!(
                matches!(&err, dvx::sync::Error::Remote(dvx::remote::Error::HostileTree { name, .. }) if name == hostile),
                "[{}] {text}",
                t.kind
            );
            assert!(text.contains(why), "{text}");
            let ws = Workspace::open(&sb.root).expect("open");
            assert!(ws.repo().refs().list("refs/").expect("refs").is_empty());
            set_branch(&remote, "bad", None);
        }
        // dvx.lock is git's pin at the top of the work tree, and fine below it.
        let (_e, pin_local) = store();
        let (deep_only, top_too, pin_ids) = history_with(&pin_local, "dvx.lock");
        remote
            .upload(&pin_local, &pin_ids, &Silent)
            .expect("upload");
        set_branch(&remote, "pin", Some(&deep_only));
        let (_sb, fetched) = fetch_into(t);
        fetched.expect("dvx.lock below the top is a name like any other");
        set_branch(&remote, "pin", Some(&top_too));
        let (_sb, fetched) = fetch_into(t);
        let err = fetched.expect_err("dvx.lock at the top");
        assert!(
            err.to_string().contains("the pin of the data version"),
            "{err}"
        );
    });
}

#[test]
fn objects_stream_without_being_stored_and_absent_ids_are_named() {
    use std::io::Read;
    for_each_target(|t| {
        let (_a, local) = store();
        let small = small_objects(&local, 20, 9);
        let big = noise(31, (3 << 20) + 12_345);
        let big_id = local.put_bytes(&big).expect("put");
        let remote = t.remote().with_options(TransferOptions {
            large_threshold: 1 << 20,
            frame_size: 1 << 20,
            ..TransferOptions::default()
        });
        remote.init(None).expect("init");
        let mut ids = small.clone();
        ids.push(big_id);
        remote.upload(&local, &ids, &Silent).expect("upload");

        let reader = t.remote();
        for id in [small[4], big_id] {
            let mut got = Vec::new();
            reader
                .open_object(&id)
                .expect("open")
                .read_to_end(&mut got)
                .expect("read");
            assert_eq!(ObjectId::of(&got), id, "[{}] streamed whole", t.kind);
        }
        assert!(reader.totals().requests > 0 && reader.totals().bytes > big.len() as u64 / 2);

        let nowhere = ObjectId::of(b"never pushed");
        let unsound = t
            .remote()
            .unsound(&[small[0], big_id, nowhere])
            .expect("unsound");
        assert_eq!(
            unsound,
            vec![(nowhere, dvx::remote::transfer::catalog::Doubt::Absent)],
            "[{}]",
            t.kind
        );
        let (_b, fresh) = store();
        let done = t
            .remote()
            .download_available(&fresh, &[small[1], nowhere], &Silent, None)
            .expect("download");
        assert_eq!(done.absent, vec![nowhere]);
        assert_eq!(done.stats.objects, 1);
        let size = fresh.read(&small[1]).expect("stored").len() as u64;
        assert_eq!(
            done.stored,
            vec![(small[1], size)],
            "what it stored, with its size"
        );
        assert!(fresh.contains(&small[1]) && !fresh.contains(&nowhere));
        let err = t
            .remote()
            .open_object(&nowhere)
            .map(|_| ())
            .expect_err("absent");
        assert!(err.to_string().contains("is not on remote"), "{err}");

        // A damaged frame is an error when the reader reaches it, never bytes.
        let key = layout::large_key(&big_id);
        let mut raw = t.get_raw(&key);
        let at = raw.len() / 2;
        raw[at] ^= 0xff;
        t.put_raw(&key, raw);
        let mut sink = Vec::new();
        let err = t
            .remote()
            .open_object(&big_id)
            .expect("the seek table is intact")
            .read_to_end(&mut sink)
            .expect_err("a damaged frame");
        assert!(err.to_string().contains(&big_id.to_hex()), "{err}");
    });
}
