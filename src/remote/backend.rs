//! Connecting to a remote: an `object_store` client and the key prefix it works under.
//!
//! Owns: turning a [`RemoteUrl`] plus [`Settings`], [`Credentials`] and an
//! [`Environment`] into a [`Backend`]; the request policy (bounded retries with backoff,
//! timeouts) so an unreachable endpoint fails within a minute and never hangs; S3's
//! conditional put, without which a second create would silently overwrite; the check
//! that create-if-absent really refuses a second create.
//! Does not own the remote's layout (`layout`) or what is stored there.
//!
//! Every endpoint the client would use (a setting, an environment variable, an AWS
//! profile) is checked first (`endpoint`): a malformed one is an error naming where it
//! came from, never a value handed to the client.
//!
//! Precedence, lowest first: the environment (`AWS_*`, `GOOGLE_*`, `AZURE_*`, read the
//! way `object_store`'s `from_env` builders read the process environment), the remote's
//! settings, the credentials from `config.local.toml`, the URL (bucket and prefix).

use std::sync::{Arc, Once};
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, S3ConditionalPut};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path as Key;
use object_store::{
    BackoffConfig, ClientConfigKey, ObjectStore, ObjectStoreExt, PutMode, PutPayload, RetryConfig,
};

use super::aws_profile::{self, Profile};
use super::endpoint::{self, Problem};
use super::settings::{Credentials, Environment, Secret, Settings};
use super::url::{self, Kind, RemoteUrl};

/// Retries per request after the first try. With the backoff below, a dead endpoint
/// costs at most about [`RETRY_TIMEOUT`] plus one request timeout.
const MAX_RETRIES: usize = 4;
/// No retry starts later than this after the first try.
const RETRY_TIMEOUT: Duration = Duration::from_secs(20);
const INIT_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(4);
/// Establishing a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// One whole small request (a listing, a HEAD, a ref): a silent endpoint fails within a
/// minute, since every command starts with such requests.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// One whole request that moves bulk data (a pack, a part of a large object, a ranged
/// read of up to tens of MiB): long enough for such a request on a slow uplink
/// (16 MiB in 10 minutes is 28 KB/s), still bounded.
const BULK_REQUEST_TIMEOUT: Duration = Duration::from_secs(600);
/// How the names of the conditional-create probe's keys under `tmp/` begin.
const PROBE_PREFIX: &str = "probe-";

/// A connected remote: the store and the prefix every key lives under.
///
/// `Debug` shows only the URL: a client's own `Debug` may print its credentials.
#[derive(Clone)]
pub struct Backend {
    store: Arc<dyn ObjectStore>,
    /// The same store with a timeout sized for bulk data (the same client for a
    /// directory remote).
    bulk: Arc<dyn ObjectStore>,
    root: Key,
    shown: String,
    /// What kind of store it is (hints differ: an Azure remote has no AWS_ENDPOINT_URL).
    kind: Kind,
    /// A directory remote's directory (its emptiness is read from the file system).
    directory: Option<std::path::PathBuf>,
    /// Secret values this backend was given, scrubbed from every error message (a
    /// client's error may quote a request, and a SAS token travels in its URL).
    secrets: Arc<Vec<Secret>>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("url", &self.shown)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot set up remote {url}: {message}")]
    Build {
        url: String,
        kind: Kind,
        failure: Failure,
        message: String,
    },
    #[error("remote {url}: directory {path} does not exist")]
    NoDirectory { url: String, path: String },
    /// A directory remote's path is a file (or another non-directory).
    #[error("remote {url}: {path} is not a directory")]
    NotADirectory { url: String, path: String },
    /// An endpoint that is no `http(s)://host` URL, and where it came from.
    #[error("remote {url}: {from} '{value}' {}", why.describe())]
    BadEndpoint {
        url: String,
        from: EndpointFrom,
        /// Masked: no user info or query.
        value: String,
        why: Problem,
    },
    #[error(
        "remote {url} does not refuse a second create of the same key, so two pushes could overwrite each other"
    )]
    NoConditionalCreate { url: String },
    /// Connecting failed or timed out, after bounded retries.
    #[error("remote {url} is unreachable: {message}")]
    Unreachable {
        url: String,
        kind: Kind,
        message: String,
    },
    /// The store refused the credentials, or they lack a permission.
    #[error("remote {url} denied access (wrong or missing credentials?): {message}")]
    Denied { url: String, message: String },
    #[error("remote {url}: {message}")]
    Store {
        url: String,
        kind: Kind,
        failure: Failure,
        message: String,
    },
    #[error("remote {url}: {source}")]
    Profile {
        url: String,
        #[source]
        source: Box<aws_profile::Error>,
    },
}

/// Where an endpoint came from, as an error names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointFrom {
    /// The remote's `endpoint` setting.
    Setting,
    /// An environment variable (`AWS_ENDPOINT_URL`).
    Variable(String),
    /// `endpoint_url` of the AWS profile in use.
    Profile,
}

impl std::fmt::Display for EndpointFrom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EndpointFrom::Setting => f.write_str("the endpoint setting"),
            EndpointFrom::Variable(name) => write!(f, "the environment variable {name}"),
            EndpointFrom::Profile => f.write_str("endpoint_url of the AWS profile"),
        }
    }
}

/// What a failed request ran into, as far as the store's error tells: the hint depends
/// on it (a missing pack is damage, a 503 is a busy server, neither is a missing bucket).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The key (or the bucket) does not exist.
    NotFound,
    /// A range read past the object's end: it is shorter than its index says.
    BadRange,
    /// The server is overloaded or unavailable (503, SlowDown, ServerBusy), after retries.
    Busy,
    /// An `http://` endpoint while plain HTTP is not allowed.
    HttpRefused,
    /// No account name (Azure).
    NoAccount,
    Other,
}

impl Backend {
    /// A backend over an existing store (tests wrap stores to count requests).
    pub fn from_store(
        store: Arc<dyn ObjectStore>,
        prefix: &[String],
        shown: impl Into<String>,
    ) -> Backend {
        let shown = shown.into();
        Backend {
            bulk: Arc::clone(&store),
            store,
            root: Key::from_iter(prefix.iter().map(String::as_str)),
            kind: RemoteUrl::parse(&shown).map_or(Kind::Directory, |u| u.kind()),
            directory: None,
            shown,
            secrets: Arc::new(Vec::new()),
        }
    }

    /// Connect to `url`. Nothing is sent over the network here; the first request is.
    /// A directory remote must exist unless `create` is set (the first `remote add`).
    pub fn open(
        url: &RemoteUrl,
        settings: &Settings,
        credentials: &Credentials,
        env: &Environment,
        create: bool,
    ) -> Result<Backend, Error> {
        let shown = url.to_string();
        let profile = match url {
            RemoteUrl::S3 { .. } => aws_profile::load(env).map_err(|source| Error::Profile {
                url: shown.clone(),
                source: Box::new(source),
            })?,
            _ => None,
        };
        check_endpoints(&shown, url.kind(), settings, env, profile.as_ref())?;
        let secrets = secrets_of(credentials, env, profile.as_ref());
        let build_err = |e: object_store::Error| {
            let message = scrub(&e.to_string(), &secrets);
            Error::Build {
                url: shown.clone(),
                kind: url.kind(),
                failure: failure_of(&e, &message),
                message,
            }
        };
        let build = |timeout: Duration| -> Result<Arc<dyn ObjectStore>, Error> {
            Ok(match url {
                RemoteUrl::Directory(path) => {
                    Arc::new(LocalFileSystem::new_with_prefix(path).map_err(build_err)?)
                }
                RemoteUrl::S3 { bucket, .. } => Arc::new(
                    s3_builder(
                        bucket,
                        settings,
                        credentials,
                        env,
                        profile.as_ref(),
                        timeout,
                    )
                    .build()
                    .map_err(build_err)?,
                ),
                RemoteUrl::Gcs { bucket, .. } => Arc::new(
                    gcs_builder(bucket, settings, credentials, env, timeout)
                        .build()
                        .map_err(build_err)?,
                ),
                RemoteUrl::Azure { container, .. } => Arc::new(
                    azure_builder(container, settings, credentials, env, timeout)
                        .build()
                        .map_err(build_err)?,
                ),
            })
        };
        if let RemoteUrl::Directory(path) = url {
            // A file in the way is named as such, not as a failed mkdir ("File exists").
            if path.exists() && !path.is_dir() {
                return Err(Error::NotADirectory {
                    url: shown,
                    path: path.display().to_string(),
                });
            }
            if create {
                crate::atomic::create_dir_all(path).map_err(|e| Error::Build {
                    url: shown.clone(),
                    kind: Kind::Directory,
                    failure: Failure::Other,
                    message: format!("cannot create {}: {e}", path.display()),
                })?;
            }
            if !path.is_dir() {
                return Err(Error::NoDirectory {
                    url: shown,
                    path: path.display().to_string(),
                });
            }
        } else {
            install_tls_provider();
        }
        let store = build(REQUEST_TIMEOUT)?;
        let bulk = match url {
            RemoteUrl::Directory(_) => Arc::clone(&store),
            _ => build(BULK_REQUEST_TIMEOUT)?,
        };
        let mut backend = Backend::from_store(store, url.prefix(), shown);
        backend.kind = url.kind();
        if let RemoteUrl::Directory(path) = url {
            backend.directory = Some(path.clone());
        }
        backend.bulk = bulk;
        backend.secrets = Arc::new(secrets);
        Ok(backend)
    }

    /// The store, for small requests (listings, HEADs, refs, the manifest).
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The store, for requests that move bulk data (packs, indexes, large objects).
    pub fn bulk(&self) -> &Arc<dyn ObjectStore> {
        &self.bulk
    }

    /// The full key of a path relative to the remote's prefix (`packs/x.idx`).
    pub fn key(&self, relative: &str) -> Key {
        let mut key = self.root.clone();
        for part in relative.split('/').filter(|p| !p.is_empty()) {
            key = key.join(part);
        }
        key
    }

    /// A key relative to the remote's prefix, `None` for a key outside it.
    pub fn relative(&self, key: &Key) -> Option<String> {
        let parts: Vec<String> = key
            .prefix_match(&self.root)?
            .map(|p| p.as_ref().to_owned())
            .collect();
        Some(parts.join("/"))
    }

    /// How the remote is shown to people: its URL (which never holds a secret).
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Whether nothing lies under the remote's prefix but what dvx's own probe left
    /// when it was cut short (keys are listed until another turns up: the first one, but
    /// for such leftovers). A location becomes a dvx remote only when it is empty, so a
    /// mistyped URL never turns somebody's directory or bucket into one.
    pub async fn holds_nothing(&self) -> Result<bool, Error> {
        if let Some(dir) = &self.directory {
            return dir_holds_nothing(dir).map_err(|e| Error::Store {
                url: self.shown.clone(),
                kind: self.kind,
                failure: Failure::Other,
                message: format!("cannot list {}: {e}", dir.display()),
            });
        }
        use futures_util::StreamExt;
        let prefix = (!self.root.as_ref().is_empty()).then_some(&self.root);
        let mut listing = self.store.list(prefix);
        while let Some(item) = listing.next().await {
            let meta = item.map_err(|e| self.store_err(e))?;
            let left_by_probe = self
                .relative(&meta.location)
                .is_some_and(|r| r.strip_prefix("tmp/").is_some_and(is_probe_leftover));
            if !left_by_probe {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// A store error as one of ours: classified (unreachable, denied, what else went
    /// wrong) and with every secret scrubbed from its text.
    pub(crate) fn store_err(&self, source: object_store::Error) -> Error {
        let url = self.shown.clone();
        let kind = self.kind;
        let raw = scrub(&error_chain(&source), &self.secrets);
        let message = one_line(&raw);
        match source {
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. } => Error::Denied { url, message },
            _ if is_denied(&raw) => Error::Denied { url, message },
            _ if is_unreachable(&source) => Error::Unreachable { url, kind, message },
            _ => Error::Store {
                url,
                kind,
                failure: failure_of(&source, &raw),
                message,
            },
        }
    }

    /// Run a read (a listing, a GET and its body) again when its response was cut off
    /// part-way. object_store retries a request that fails before its response starts
    /// (a refused connection, a 5xx, 503 SlowDown), but a body that ends early (a
    /// connection dropped mid-listing, mid-download) comes back as an error: without
    /// this, one dropped connection failed a whole push or pull. Bounded, with backoff;
    /// a reachable endpoint answered, so this never stretches an unreachable remote's
    /// time to fail.
    pub(crate) async fn retry_cut_reads<T, F, Fut>(&self, op: F) -> Result<T, object_store::Error>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, object_store::Error>>,
    {
        let mut delay = INIT_BACKOFF;
        let mut tries = 0;
        loop {
            match op().await {
                Err(e) if tries < MAX_RETRIES && is_cut_off(&e) => {
                    tries += 1;
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(MAX_BACKOFF);
                }
                other => return other,
            }
        }
    }

    /// Check, once, that creating a key that exists is refused: ref moves depend on it.
    /// Writes and then deletes two probe keys under `tmp/`.
    pub async fn probe_conditional_create(&self, nonce: &str) -> Result<(), Error> {
        let key = self.key(&format!("tmp/{PROBE_PREFIX}{nonce}"));
        let create = || object_store::PutOptions::from(PutMode::Create);
        self.store
            .put_opts(&key, PutPayload::from_static(b"first\n"), create())
            .await
            .map_err(|e| self.store_err(e))?;
        let second = self
            .store
            .put_opts(&key, PutPayload::from_static(b"second\n"), create())
            .await;
        let _ = self.store.delete(&key).await;
        match second {
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => Ok(()),
            Ok(_) => Err(Error::NoConditionalCreate {
                url: self.shown.clone(),
            }),
            Err(e) => Err(self.store_err(e)),
        }
    }
}

/// Every endpoint the client of `kind` would use, checked before it sees one: the
/// remote's setting, the environment variables it reads, the AWS profile's.
fn check_endpoints(
    shown: &str,
    kind: Kind,
    settings: &Settings,
    env: &Environment,
    profile: Option<&Profile>,
) -> Result<(), Error> {
    if kind == Kind::Directory {
        return Ok(());
    }
    let mut candidates: Vec<(EndpointFrom, &str)> = Vec::new();
    if let Some(e) = &settings.endpoint {
        candidates.push((EndpointFrom::Setting, e));
    }
    for (name, value) in env {
        if endpoint::is_endpoint_variable(kind, name) {
            candidates.push((EndpointFrom::Variable(name.clone()), value));
        }
    }
    if let Some(e) = profile.and_then(|p| p.endpoint_url.as_deref()) {
        candidates.push((EndpointFrom::Profile, e));
    }
    for (from, value) in candidates {
        endpoint::check(value).map_err(|why| Error::BadEndpoint {
            url: shown.to_owned(),
            from,
            value: url::masked(value),
            why,
        })?;
    }
    Ok(())
}

/// Whether directory `dir` holds nothing dvx did not leave: an empty `tmp/` is what
/// the probe of a second create leaves behind (it deletes its files, not the folder),
/// so a retried `remote add` still finds the directory empty.
fn dir_holds_nothing(dir: &std::path::Path) -> std::io::Result<bool> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let only_probes = entry.file_name() == "tmp"
            && entry.file_type()?.is_dir()
            && dir_holds_only_probes(&entry.path())?;
        if !only_probes {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Whether the directory `tmp` holds nothing but files [`is_probe_leftover`] names.
fn dir_holds_only_probes(tmp: &std::path::Path) -> std::io::Result<bool> {
    for entry in std::fs::read_dir(tmp)? {
        let entry = entry?;
        let name = entry.file_name();
        if !(entry.file_type()?.is_file() && name.to_str().is_some_and(is_probe_leftover)) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A name under `tmp/` that [`Backend::probe_conditional_create`] writes
/// (`probe-<10 hex>`, from `Remote::check_conditional_create`'s nonce)
/// or a directory remote's staging file of it (`probe-<10 hex>#<n>`): left there only
/// when the probe was cut short, and no sign that someone else uses the location. Any
/// other name, a nested one included, is.
fn is_probe_leftover(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(PROBE_PREFIX) else {
        return false;
    };
    let (nonce, staging) = match rest.split_once('#') {
        Some((nonce, n)) => (nonce, Some(n)),
        None => (rest, None),
    };
    nonce.len() == crate::hash::SHORT_LEN
        && nonce
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        && staging.is_none_or(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// What a failed request's error says, from its variant and (object_store keeps HTTP
/// statuses in a private type) its text.
fn failure_of(source: &object_store::Error, text: &str) -> Failure {
    let has = |needles: &[&str]| needles.iter().any(|n| text.contains(n));
    if has(&["URL scheme is not allowed"]) {
        Failure::HttpRefused
    } else if has(&["Account must be specified"]) {
        Failure::NoAccount
    } else if has(&["Requested range", "InvalidRange", "status code: 416"]) {
        Failure::BadRange
    } else if matches!(source, object_store::Error::NotFound { .. }) {
        Failure::NotFound
    } else if has(&[
        "status code: 503",
        "SlowDown",
        "ServerBusy",
        "Service Unavailable",
    ]) {
        Failure::Busy
    } else {
        Failure::Other
    }
}

/// Every secret the client may see: the credentials, and environment values whose
/// names say they are secret.
fn secrets_of(
    credentials: &Credentials,
    env: &Environment,
    profile: Option<&Profile>,
) -> Vec<Secret> {
    let mut secrets: Vec<Secret> = [
        &credentials.access_key_id,
        &credentials.secret_access_key,
        &credentials.session_token,
        &credentials.service_account_key,
        &credentials.access_key,
        &credentials.sas_token,
    ]
    .into_iter()
    .flatten()
    .cloned()
    .collect();
    if let Some(p) = profile {
        secrets.extend(
            [&p.access_key_id, &p.secret_access_key, &p.session_token]
                .into_iter()
                .flatten()
                .cloned(),
        );
    }
    for (key, value) in env {
        let key = key.to_ascii_uppercase();
        let cloud =
            key.starts_with("AWS_") || key.starts_with("GOOGLE_") || key.starts_with("AZURE_");
        let secret = ["SECRET", "TOKEN", "KEY", "SAS", "PASSWORD"]
            .iter()
            .any(|w| key.contains(w));
        if cloud && secret {
            secrets.push(Secret::new(value.clone()));
        }
    }
    secrets
}

/// `text` with every secret of at least 4 characters replaced by `***`.
fn scrub(text: &str, secrets: &[Secret]) -> String {
    let mut text = text.to_owned();
    for s in secrets {
        if s.expose().len() >= 4 {
            text = text.replace(s.expose(), "***");
        }
    }
    text
}

/// An error and its sources, joined by ": ", repeated text dropped.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// Whether a failed request was refused for its credentials. object_store reports an
/// S3 403 as a generic error whose text carries the status and S3's error code (its
/// retry error type is private), so the text is what there is to go on.
fn is_denied(message: &str) -> bool {
    ["status code: 401", "status code: 403"]
        .iter()
        .any(|s| message.contains(s))
        || [
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "AccessDenied",
            "AuthenticationFailed",
        ]
        .iter()
        .any(|code| message.contains(&format!("<Code>{code}</Code>")))
}

/// A store's error text on one line, as errors are shown: an XML error body (S3,
/// Azure) is reduced to its code and message (`NoSuchBucket: The specified bucket does
/// not exist`).
fn one_line(message: &str) -> String {
    let mut text = message.to_owned();
    if let Some(at) = text.find("<?xml") {
        let body = text[at..].to_owned();
        let tag = |name: &str| {
            body.split(&format!("<{name}>"))
                .nth(1)
                .and_then(|rest| rest.split(&format!("</{name}>")).next())
                .map(str::to_owned)
        };
        let summary = match (tag("Code"), tag("Message")) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code,
            _ => "(an XML error body)".to_owned(),
        };
        text.truncate(at);
        text.push_str(&summary);
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether connecting failed or timed out (after the client's retries).
fn is_unreachable(e: &(dyn std::error::Error + 'static)) -> bool {
    use object_store::client::{HttpError, HttpErrorKind};
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(http) = s.downcast_ref::<HttpError>()
            && matches!(http.kind(), HttpErrorKind::Connect | HttpErrorKind::Timeout)
        {
            return true;
        }
        source = s.source();
    }
    false
}

/// reqwest is built without a TLS crypto provider of its own (that would be aws-lc-rs,
/// a C build); ring serves instead, installed once for the process.
/// A response that began and then broke off (its body ended early or failed to read).
fn is_cut_off(e: &object_store::Error) -> bool {
    if !matches!(e, object_store::Error::Generic { .. }) {
        return false;
    }
    let text = error_chain(e);
    !is_denied(&text) && text.contains("body")
}

fn install_tls_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // An error means another part of the process installed one first: fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

fn retry_config() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: INIT_BACKOFF,
            max_backoff: MAX_BACKOFF,
            base: 2.0,
        },
        max_retries: MAX_RETRIES,
        retry_timeout: RETRY_TIMEOUT,
    }
}

/// The client settings every kind shares, as `(key, value)` for the builders' config.
fn client_keys(timeout: Duration) -> [(ClientConfigKey, String); 2] {
    [
        (ClientConfigKey::ConnectTimeout, humantime(CONNECT_TIMEOUT)),
        (ClientConfigKey::Timeout, humantime(timeout)),
    ]
}

fn humantime(d: Duration) -> String {
    format!("{}s", d.as_secs())
}

/// Environment variables with `prefix`, lowercased as the builders' key parsers expect.
fn env_with_prefix<'a>(
    env: &'a Environment,
    prefix: &'a str,
) -> impl Iterator<Item = (String, &'a str)> + 'a {
    env.iter()
        .filter(move |(k, _)| k.starts_with(prefix))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str()))
}

pub(crate) fn s3_builder(
    bucket: &str,
    settings: &Settings,
    creds: &Credentials,
    env: &Environment,
    profile: Option<&Profile>,
    timeout: Duration,
) -> AmazonS3Builder {
    let mut b = AmazonS3Builder::new();
    for (key, value) in client_keys(timeout) {
        b = b.with_config(AmazonS3ConfigKey::Client(key), value);
    }
    // A shared-credentials profile is the weakest source: the environment and the
    // remote's settings override it, as they do for the AWS CLI.
    if let Some(p) = profile {
        if let (Some(id), Some(secret)) = (&p.access_key_id, &p.secret_access_key) {
            b = b
                .with_access_key_id(id.expose())
                .with_secret_access_key(secret.expose());
            if let Some(token) = &p.session_token {
                b = b.with_token(token.expose());
            }
        }
        if let Some(region) = &p.region {
            b = b.with_region(region);
        }
        if let Some(endpoint) = &p.endpoint_url {
            b = b.with_endpoint(endpoint);
        }
    }
    for (key, value) in env_with_prefix(env, "AWS_") {
        if let Ok(key) = key.parse::<AmazonS3ConfigKey>() {
            b = b.with_config(key, value);
        }
    }
    if let Some(endpoint) = &settings.endpoint {
        b = b.with_endpoint(endpoint);
    }
    if let Some(region) = &settings.region {
        b = b.with_region(region);
    }
    if let Some(allow) = settings.allow_http {
        b = b.with_allow_http(allow);
    }
    if let Some(s) = &creds.access_key_id {
        b = b.with_access_key_id(s.expose());
    }
    if let Some(s) = &creds.secret_access_key {
        b = b.with_secret_access_key(s.expose());
    }
    if let Some(s) = &creds.session_token {
        b = b.with_token(s.expose());
    }
    b.with_bucket_name(bucket)
        .with_conditional_put(S3ConditionalPut::ETagMatch)
        .with_retry(retry_config())
}

pub(crate) fn gcs_builder(
    bucket: &str,
    settings: &Settings,
    creds: &Credentials,
    env: &Environment,
    timeout: Duration,
) -> GoogleCloudStorageBuilder {
    let mut b = GoogleCloudStorageBuilder::new();
    for (key, value) in client_keys(timeout) {
        b = b.with_config(GoogleConfigKey::Client(key), value);
    }
    for (key, value) in env_with_prefix(env, "GOOGLE_") {
        if let Ok(key) = key.parse::<GoogleConfigKey>() {
            b = b.with_config(key, value);
        }
    }
    if let Some(endpoint) = &settings.endpoint {
        b = b.with_config(GoogleConfigKey::BaseUrl, endpoint);
    }
    if let Some(allow) = settings.allow_http {
        b = b.with_config(
            GoogleConfigKey::Client(ClientConfigKey::AllowHttp),
            allow.to_string(),
        );
    }
    if let Some(s) = &creds.service_account_key {
        b = b.with_service_account_key(s.expose());
    }
    b.with_bucket_name(bucket).with_retry(retry_config())
}

pub(crate) fn azure_builder(
    container: &str,
    settings: &Settings,
    creds: &Credentials,
    env: &Environment,
    timeout: Duration,
) -> MicrosoftAzureBuilder {
    let mut b = MicrosoftAzureBuilder::new();
    for (key, value) in client_keys(timeout) {
        b = b.with_config(AzureConfigKey::Client(key), value);
    }
    for (key, value) in env_with_prefix(env, "AZURE_") {
        if let Ok(key) = key.parse::<AzureConfigKey>() {
            b = b.with_config(key, value);
        }
    }
    if let Some(endpoint) = &settings.endpoint {
        b = b.with_config(AzureConfigKey::Endpoint, endpoint);
    }
    if let Some(allow) = settings.allow_http {
        b = b.with_allow_http(allow);
    }
    if let Some(account) = &settings.account {
        b = b.with_account(account);
    }
    if let Some(s) = &creds.access_key {
        b = b.with_access_key(s.expose());
    }
    if let Some(s) = &creds.sas_token {
        b = b.with_config(AzureConfigKey::SasKey, s.expose());
    }
    b.with_container_name(container).with_retry(retry_config())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_probes_own_names_are_leftovers() {
        for name in [
            "probe-0123456789",
            "probe-abcdef0123#1",
            "probe-abcdef0123#42",
        ] {
            assert!(is_probe_leftover(name), "{name}");
        }
        for name in [
            "probe-notes.txt",
            "probe-0123456789/nested",
            "probe-ABCDEF0123",
            "probe-0123456789#",
            "probe-0123456789#1a",
            "probe-012345678",
            "probe-",
            "results-0123456789",
        ] {
            assert!(!is_probe_leftover(name), "{name}");
        }
    }

    #[test]
    fn store_errors_are_shown_on_one_line() {
        let raw = "Error performing PUT http://h/b/k - Server returned non-2xx status code: 404 Not Found: <?xml version=\"1.0\"?>\n<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>";
        assert_eq!(
            one_line(raw),
            "Error performing PUT http://h/b/k - Server returned non-2xx status code: 404 Not Found: NoSuchBucket: The specified bucket does not exist"
        );
        assert_eq!(one_line("a\n  b"), "a b");
    }

    fn env(pairs: &[(&str, &str)]) -> Environment {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn s3_settings_override_the_environment_and_conditional_put_is_on() {
        let env = env(&[
            ("AWS_ENDPOINT_URL", "http://env.example:9000"),
            ("AWS_REGION", "us-east-2"),
            ("AWS_ACCESS_KEY_ID", "AKIDENV"),
            ("AWS_SECRET_ACCESS_KEY", "envsecret"),
            ("HOME", "/ignored"),
        ]);
        let settings = Settings {
            endpoint: Some("http://127.0.0.1:9000".into()),
            allow_http: Some(true),
            ..Settings::default()
        };
        let b = s3_builder(
            "bucket",
            &settings,
            &Credentials::default(),
            &env,
            None,
            REQUEST_TIMEOUT,
        );
        assert_eq!(
            b.get_config_value(&AmazonS3ConfigKey::Endpoint).as_deref(),
            Some("http://127.0.0.1:9000")
        );
        assert_eq!(
            b.get_config_value(&AmazonS3ConfigKey::Region).as_deref(),
            Some("us-east-2")
        );
        assert_eq!(
            b.get_config_value(&AmazonS3ConfigKey::AccessKeyId)
                .as_deref(),
            Some("AKIDENV")
        );
        assert_eq!(
            b.get_config_value(&AmazonS3ConfigKey::Bucket).as_deref(),
            Some("bucket")
        );
        assert_eq!(
            b.get_config_value(&AmazonS3ConfigKey::ConditionalPut)
                .as_deref(),
            Some("etag")
        );
        assert_eq!(
            b.get_config_value(&AmazonS3ConfigKey::Client(ClientConfigKey::AllowHttp))
                .as_deref(),
            Some("true")
        );
    }

    #[test]
    fn a_profile_is_the_weakest_source() {
        let profile = Profile {
            access_key_id: Some(Secret::new("AKIDPROFILE")),
            secret_access_key: Some(Secret::new("profilesecret")),
            region: Some("ap-south-1".into()),
            ..Profile::default()
        };
        let b = s3_builder(
            "b",
            &Settings::default(),
            &Credentials::default(),
            &Environment::new(),
            Some(&profile),
            REQUEST_TIMEOUT,
        );
        assert_eq!(
            b.get_config_value(&AmazonS3ConfigKey::AccessKeyId)
                .as_deref(),
            Some("AKIDPROFILE")
        );
        assert_eq!(
            b.get_config_value(&AmazonS3ConfigKey::Region).as_deref(),
            Some("ap-south-1")
        );
        let env = env(&[
            ("AWS_ACCESS_KEY_ID", "AKIDENV"),
            ("AWS_SECRET_ACCESS_KEY", "envsecret"),
        ]);
        let settings = Settings {
            region: Some("eu-north-1".into()),
            ..Settings::default()
        };
        let b = s3_builder(
            "b",
            &settings,
            &Credentials::default(),
            &env,
            Some(&profile),
            REQUEST_TIMEOUT,
        );
        assert_eq!(
            b.get_config_value(&AmazonS3ConfigKey::AccessKeyId)
                .as_deref(),
            Some("AKIDENV")
        );
        assert_eq!(
            b.get_config_value(&AmazonS3ConfigKey::Region).as_deref(),
            Some("eu-north-1")
        );
        let secrets = secrets_of(&Credentials::default(), &Environment::new(), Some(&profile));
        assert_eq!(scrub("key profilesecret", &secrets), "key ***");
    }

    #[test]
    fn small_and_bulk_requests_get_their_own_timeouts() {
        let b = s3_builder(
            "b",
            &Settings::default(),
            &Credentials::default(),
            &Environment::new(),
            None,
            BULK_REQUEST_TIMEOUT,
        );
        assert_eq!(
            b.get_config_value(&AmazonS3ConfigKey::Client(ClientConfigKey::Timeout))
                .as_deref(),
            Some("600s")
        );
        let b = s3_builder(
            "b",
            &Settings::default(),
            &Credentials::default(),
            &Environment::new(),
            None,
            REQUEST_TIMEOUT,
        );
        assert_eq!(
            b.get_config_value(&AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout))
                .as_deref(),
            Some("5s")
        );
    }

    #[test]
    fn local_credentials_win_over_the_environment() {
        let env = env(&[("AWS_ACCESS_KEY_ID", "AKIDENV")]);
        let creds = Credentials {
            access_key_id: Some(crate::remote::settings::Secret::new("AKIDLOCAL")),
            ..Credentials::default()
        };
        let b = s3_builder(
            "b",
            &Settings::default(),
            &creds,
            &env,
            None,
            REQUEST_TIMEOUT,
        );
        assert_eq!(
            b.get_config_value(&AmazonS3ConfigKey::AccessKeyId)
                .as_deref(),
            Some("AKIDLOCAL")
        );
    }

    #[test]
    fn gcs_and_azure_builders_take_their_settings() {
        let env = env(&[
            ("GOOGLE_SERVICE_ACCOUNT", "/keys/sa.json"),
            ("AZURE_STORAGE_ACCOUNT_NAME", "envacct"),
        ]);
        let settings = Settings {
            endpoint: Some("http://127.0.0.1:4443".into()),
            ..Settings::default()
        };
        let g = gcs_builder(
            "bkt",
            &settings,
            &Credentials::default(),
            &env,
            REQUEST_TIMEOUT,
        );
        assert_eq!(
            g.get_config_value(&GoogleConfigKey::Bucket).as_deref(),
            Some("bkt")
        );
        assert_eq!(
            g.get_config_value(&GoogleConfigKey::BaseUrl).as_deref(),
            Some("http://127.0.0.1:4443")
        );
        assert_eq!(
            g.get_config_value(&GoogleConfigKey::ServiceAccount)
                .as_deref(),
            Some("/keys/sa.json")
        );
        let a = azure_builder(
            "cont",
            &Settings {
                account: Some("acct".into()),
                ..Settings::default()
            },
            &Credentials::default(),
            &env,
            REQUEST_TIMEOUT,
        );
        assert_eq!(
            a.get_config_value(&AzureConfigKey::ContainerName)
                .as_deref(),
            Some("cont")
        );
        assert_eq!(
            a.get_config_value(&AzureConfigKey::AccountName).as_deref(),
            Some("acct")
        );
        let a = azure_builder(
            "cont",
            &Settings::default(),
            &Credentials::default(),
            &env,
            REQUEST_TIMEOUT,
        );
        assert_eq!(
            a.get_config_value(&AzureConfigKey::AccountName).as_deref(),
            Some("envacct")
        );
    }

    #[test]
    fn secrets_are_scrubbed_from_messages() {
        let env = env(&[
            ("AWS_SECRET_ACCESS_KEY", "envsecret"),
            ("AWS_REGION", "eu-west-1"),
        ]);
        let creds = Credentials {
            sas_token: Some(Secret::new("sv=2024&sig=abcdef")),
            ..Credentials::default()
        };
        let secrets = secrets_of(&creds, &env, None);
        let text = scrub(
            "GET https://a.blob/x?sv=2024&sig=abcdef failed; key envsecret; eu-west-1",
            &secrets,
        );
        assert_eq!(text, "GET https://a.blob/x?*** failed; key ***; eu-west-1");
    }

    #[test]
    fn failures_are_told_apart_for_their_hints() {
        let generic = |text: &str| object_store::Error::Generic {
            store: "S3",
            source: text.into(),
        };
        for (text, failure) in [
            (
                "HTTP error: builder error: URL scheme is not allowed",
                Failure::HttpRefused,
            ),
            (
                "Server returned non-2xx status code: 503 Service Unavailable: SlowDown",
                Failure::Busy,
            ),
            ("<Code>ServerBusy</Code>", Failure::Busy),
            ("Requested range was invalid", Failure::BadRange),
            (
                "Generic MicrosoftAzure error: Account must be specified",
                Failure::NoAccount,
            ),
            (
                "Server returned non-2xx status code: 500 Internal Server Error",
                Failure::Other,
            ),
        ] {
            let e = generic(text);
            assert_eq!(failure_of(&e, &error_chain(&e)), failure, "{text}");
        }
        let missing = object_store::Error::NotFound {
            path: "packs/x.pack".into(),
            source: "gone".into(),
        };
        assert_eq!(failure_of(&missing, "not found"), Failure::NotFound);
    }

    #[test]
    fn endpoints_from_every_source_are_checked_before_a_client_is_built() {
        let url = RemoteUrl::parse("s3://b/p").expect("url");
        let open = |settings: &Settings, env: &Environment| {
            Backend::open(&url, settings, &Credentials::default(), env, false)
        };
        let err = open(
            &Settings::default(),
            &env(&[("AWS_ENDPOINT_URL", "127.0.0.1:9000")]),
        )
        .expect_err("no scheme");
        assert!(
            matches!(&err, Error::BadEndpoint { from: EndpointFrom::Variable(v), .. } if v == "AWS_ENDPOINT_URL"),
            "{err}"
        );
        let settings = Settings {
            endpoint: Some("http://u:TOPSECRET@h:9".into()),
            ..Settings::default()
        };
        let err = open(&settings, &Environment::new()).expect_err("user info");
        assert!(!err.to_string().contains("TOPSECRET"), "{err}");
        assert!(matches!(
            err,
            Error::BadEndpoint {
                from: EndpointFrom::Setting,
                ..
            }
        ));
        let az = RemoteUrl::parse("az://c/p").expect("url");
        let err = Backend::open(
            &az,
            &Settings::default(),
            &Credentials::default(),
            &env(&[("AZURE_STORAGE_ENDPOINT", "notaurl")]),
            false,
        )
        .expect_err("azure endpoint");
        assert!(
            err.to_string().contains("AZURE_STORAGE_ENDPOINT 'notaurl'"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_directory_remote_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("absent");
        let url = RemoteUrl::Directory(path.clone());
        let err = Backend::open(
            &url,
            &Settings::default(),
            &Credentials::default(),
            &Environment::new(),
            false,
        )
        .expect_err("missing");
        assert!(matches!(err, Error::NoDirectory { .. }), "{err}");
        let b = Backend::open(
            &url,
            &Settings::default(),
            &Credentials::default(),
            &Environment::new(),
            true,
        )
        .expect("created");
        assert!(path.is_dir());
        assert_eq!(
            b.relative(&b.key("packs/x.idx")).as_deref(),
            Some("packs/x.idx")
        );
    }
}
