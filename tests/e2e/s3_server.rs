//! A real S3 protocol server inside the test process: s3s with its file-system backend
//! (s3s-fs), on 127.0.0.1 at a free port, with access keys required so every request's
//! signature is checked.
//!
//! Reused by every test that needs S3 (library scenarios and, later, the CLI's).
//! Two things differ from real S3 and are handled here, not papered over in dvx:
//! - s3s-fs checks `If-None-Match: *` and then writes, so two racing creates of one key
//!   could both succeed; real S3 decides atomically. The server runs conditional writes
//!   one at a time, which makes it atomic the way S3 is.
//! - s3s-fs 0.14.1 answers a HEAD or GET of a key that is also a "folder" (a prefix of
//!   other keys) with 500; S3 answers 404 (NoSuchKey), and the server does so. dvx's
//!   layout never makes a key a folder (DVC's existence checks do), and nothing here or
//!   in dvx treats a 500 as "absent".
//! - s3s-fs creates a bucket on the first PUT into it, and answers a GET in a bucket
//!   that does not exist with NoSuchKey; S3 answers NoSuchBucket (404) to both. The
//!   server answers requests for any bucket but its own so.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;

pub const ACCESS_KEY: &str = "AKIDDVXTEST";
pub const SECRET_KEY: &str = "dvx-test-secret-key-do-not-use";
pub const REGION: &str = "us-east-1";

/// A running server; stops when dropped.
pub struct S3Server {
    pub addr: SocketAddr,
    pub bucket: String,
    root: tempfile::TempDir,
    runtime: Option<tokio::runtime::Runtime>,
    /// Requests answered, and the bytes of the bodies sent back (their Content-Length):
    /// what clients cost the server, counted on its side of the wire.
    requests: Arc<AtomicU64>,
    bytes_sent: Arc<AtomicU64>,
}

impl S3Server {
    /// Start a server with one empty bucket, `bucket`.
    pub fn start() -> S3Server {
        S3Server::start_in(&std::env::temp_dir())
    }

    /// [`S3Server::start`], keeping the bucket's files below `dir` (a benchmark puts them
    /// on the file system it measures).
    pub fn start_in(dir: &std::path::Path) -> S3Server {
        let root = tempfile::tempdir_in(dir).expect("tempdir");
        let bucket = "dvx-test".to_owned();
        std::fs::create_dir_all(root.path().join(&bucket)).expect("bucket dir");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("s3-test-server")
            .enable_all()
            .build()
            .expect("runtime");
        let fs = s3s_fs::FileSystem::new(root.path()).expect("s3s-fs");
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = builder.build();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        let conditional = Arc::new(tokio::sync::Mutex::new(()));
        let requests = Arc::new(AtomicU64::new(0));
        let bytes_sent = Arc::new(AtomicU64::new(0));
        let (counted_requests, counted_bytes) = (Arc::clone(&requests), Arc::clone(&bytes_sent));
        let own_bucket = format!("/{bucket}");
        let files = root.path().to_path_buf();
        runtime.spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let service = service.clone();
                let conditional = Arc::clone(&conditional);
                let (requests, bytes_sent) =
                    (Arc::clone(&counted_requests), Arc::clone(&counted_bytes));
                let own_bucket = own_bucket.clone();
                let files = files.clone();
                tokio::spawn(async move {
                    let handler = service_fn(move |req: hyper::Request<Incoming>| {
                        let service = service.clone();
                        let conditional = Arc::clone(&conditional);
                        let (requests, bytes_sent) =
                            (Arc::clone(&requests), Arc::clone(&bytes_sent));
                        let own_bucket = own_bucket.clone();
                        let files = files.clone();
                        async move {
                            let path = req.uri().path();
                            if path != own_bucket && !path.starts_with(&format!("{own_bucket}/")) {
                                return Ok(no_such_bucket());
                            }
                            if is_folder_key(&files, path, req.method()) {
                                return Ok(no_such_key());
                            }
                            let req = req.map(s3s::Body::from);
                            // Conditional writes one at a time (see the module docs).
                            let resp = if req.headers().contains_key(hyper::header::IF_NONE_MATCH)
                                || req.headers().contains_key(hyper::header::IF_MATCH)
                            {
                                let _guard = conditional.lock().await;
                                service.call(req).await
                            } else {
                                service.call(req).await
                            };
                            requests.fetch_add(1, Ordering::SeqCst);
                            if let Ok(resp) = &resp {
                                let len = resp
                                    .headers()
                                    .get(hyper::header::CONTENT_LENGTH)
                                    .and_then(|v| v.to_str().ok())
                                    .and_then(|v| v.parse::<u64>().ok())
                                    .unwrap_or(0);
                                bytes_sent.fetch_add(len, Ordering::SeqCst);
                            }
                            resp
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(socket), handler)
                        .await;
                });
            }
        });
        S3Server {
            addr,
            bucket,
            root,
            runtime: Some(runtime),
            requests,
            bytes_sent,
        }
    }

    /// Requests answered so far, and the body bytes sent back with them.
    pub fn served(&self) -> (u64, u64) {
        (
            self.requests.load(Ordering::SeqCst),
            self.bytes_sent.load(Ordering::SeqCst),
        )
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `s3://<bucket>/<prefix>`.
    pub fn url(&self, prefix: &str) -> String {
        format!("s3://{}/{prefix}", self.bucket)
    }

    /// Leave the bucket's files in place when the server stops: a benchmark removes them
    /// with the rest of its tree, once removing files can no longer slow what it times.
    pub fn keep_files(&mut self) {
        self.root.disable_cleanup(true);
    }

    /// The directory that holds the bucket's objects (for inspecting what was stored).
    pub fn bucket_dir(&self) -> PathBuf {
        self.root.path().join(&self.bucket)
    }

    /// The environment a client needs to reach this server, as the AWS variables a
    /// user would set for MinIO and the like.
    pub fn env(&self) -> BTreeMap<String, String> {
        self.env_with_secret(SECRET_KEY)
    }

    /// The same environment with another secret key (wrong credentials).
    pub fn env_with_secret(&self, secret: &str) -> BTreeMap<String, String> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".to_owned()),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", secret.to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

/// S3's answer to a request for a bucket that does not exist.
/// A HEAD or GET of a key (`/<bucket>/<key>`, not a listing) that s3s-fs keeps as a
/// directory.
fn is_folder_key(files: &std::path::Path, path: &str, method: &hyper::Method) -> bool {
    let key = path.trim_start_matches('/');
    (method == hyper::Method::HEAD || method == hyper::Method::GET)
        && key.contains('/')
        && !key.ends_with('/')
        && !key.contains('%')
        && !key.split('/').any(|c| c == "..")
        && files.join(key).is_dir()
}

fn no_such_key() -> hyper::Response<s3s::Body> {
    hyper::Response::builder()
        .status(404)
        .header("content-type", "application/xml")
        .body(s3s::Body::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>".to_owned(),
        ))
        .expect("a valid response")
}

fn no_such_bucket() -> hyper::Response<s3s::Body> {
    hyper::Response::builder()
        .status(404)
        .header("content-type", "application/xml")
        .body(s3s::Body::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>".to_owned(),
        ))
        .expect("a valid response")
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
