//! A remote-backed [`ObjectSource`]: the local store first, a remote for what it lacks.
//!
//! Owns: [`RemoteSource`] and opening "the default remote of this repository" (or a
//! named one) as a source for the commands ([`open`], [`configured`]). Does not own which
//! objects a command wants (checkout, restore, pull and reproduce plan that), nor moving
//! refs (push and fetch).
//!
//! Invariants:
//! - `has` answers from the local store alone: never network I/O, so a lazy checkout
//!   plans with it and nothing else.
//! - `fetch` brings absent ids into the local store through [`Remote::download`]'s
//!   checks (every packed object re-hashed, every large frame checked against its
//!   chaining value, the whole object hashed again before it is renamed into place);
//!   ids the remote does not hold come back as unavailable, not as an error.
//! - `open` and `read_range` read local bytes when the store has them, else read the
//!   remote without storing anything (ranged reads, verified before a byte is handed out).
//! - The remote is connected on first need, and its `dvx-remote.toml` checked then (a
//!   remote of a newer format is refused, never misread): a command that finds every byte
//!   local sends nothing at all.
//! - Errors name the object and the remote; secrets never appear in them.

use std::io::Read;
use std::sync::{Arc, Mutex};

use super::settings::{self, Environment, Resolved, remote_names};
use super::transfer::{self, TransferStats};
use super::{Error, IndexCache, Remote};
use crate::hash::ObjectId;
use crate::progress::Progress;
use crate::store::source::distinct;
use crate::store::{self, Arrivals, Fetched, ObjectSource, Store};
use crate::workspace::Workspace;

/// Where this repository keeps copies of remote pack indexes (shared by its work trees).
pub const INDEX_CACHE_DIR: &str = "cache/packs";

/// The local store, and a remote for the objects it lacks.
pub struct RemoteSource {
    store: Store,
    /// The remote's name in the configuration.
    name: String,
    /// How to connect on first need (`None`: made over a remote already open, or
    /// `undecided`).
    connect: Option<Connect>,
    /// Several remotes and none the default (their names): local bytes are read as
    /// ever, and asking for any other fails, saying so.
    undecided: Option<Vec<String>>,
    /// The remote's URL as shown to people.
    shown: String,
    /// Connected on first need.
    remote: Mutex<Option<Arc<Remote>>>,
}

/// What connecting to a configured remote takes.
struct Connect {
    resolved: Resolved,
    env: Environment,
    cache: IndexCache,
}

impl std::fmt::Debug for RemoteSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteSource")
            .field("remote", &self.name)
            .field("url", &self.shown)
            .finish_non_exhaustive()
    }
}

/// The remote `name` of the repository `ws` (its default remote when `None`) as a
/// source over the repository's store. Reads the configuration only: nothing is sent
/// until an object is missing. `env` is the process environment (credentials and
/// endpoints the configuration leaves out).
pub fn open(ws: &Workspace, env: &Environment, name: Option<&str>) -> Result<RemoteSource, Error> {
    let (tracked, local) = ws.repo().config_tables().map_err(Error::Config)?;
    let name = settings::choose_remote(name, &tracked, local.as_ref())?;
    open_named(ws, env, &name, &tracked, local.as_ref())
}

/// [`open`] of the remote `name`, with the configuration already read.
fn open_named(
    ws: &Workspace,
    env: &Environment,
    name: &str,
    tracked: &toml::Table,
    local: Option<&toml::Table>,
) -> Result<RemoteSource, Error> {
    let resolved = settings::resolve(name, tracked, local, ws.root()).map_err(|e| match e {
        settings::Error::NoSuchRemote { name } => Error::UnknownRemote {
            name,
            known: remote_names(tracked, local),
        },
        e => Error::Settings(e),
    })?;
    Ok(RemoteSource {
        store: ws.repo().store().clone(),
        shown: resolved.url.to_string(),
        name: resolved.name.clone(),
        connect: Some(Connect {
            resolved,
            env: env.clone(),
            cache: IndexCache::new(ws.repo().common_dir().join(INDEX_CACHE_DIR)),
        }),
        undecided: None,
        remote: Mutex::new(None),
    })
}

/// `remote` (open already, and named `name` in the configuration) as a source over
/// `store`: for flows that hold a connection (`sync`'s pull and clone), so their bytes
/// come in the one way every reader's do. Its format is the caller's to have checked.
pub fn over(store: &Store, name: &str, remote: Arc<Remote>) -> RemoteSource {
    RemoteSource {
        store: store.clone(),
        name: name.to_owned(),
        connect: None,
        undecided: None,
        shown: remote.url().to_owned(),
        remote: Mutex::new(Some(remote)),
    }
}

/// The default remote as a source when the repository has any remote configured, else
/// `None` (commands then read the local store alone, as without remotes). With several
/// remotes and none the default, a source that has only the local store's bytes and
/// fails, saying why, when any other is needed: `cat` of a local file or a plain `fsck`
/// must not fail for want of a default remote.
pub fn configured(ws: &Workspace, env: &Environment) -> Result<Option<RemoteSource>, Error> {
    let (tracked, local) = ws.repo().config_tables().map_err(Error::Config)?;
    if remote_names(&tracked, local.as_ref()).is_empty() {
        return Ok(None);
    }
    match settings::choose_remote(None, &tracked, local.as_ref()) {
        Ok(name) => open_named(ws, env, &name, &tracked, local.as_ref()).map(Some),
        Err(settings::Unchosen::NoRemote) => Ok(None),
        Err(settings::Unchosen::NoDefault { names }) => Ok(Some(RemoteSource {
            store: ws.repo().store().clone(),
            name: names.join(" or "),
            shown: names.join(" or "),
            connect: None,
            undecided: Some(names),
            remote: Mutex::new(None),
        })),
    }
}

impl RemoteSource {
    /// The remote's name in the configuration.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The remote's URL, as shown to people.
    pub fn url(&self) -> &str {
        &self.shown
    }

    /// The remote, connected (and its format checked) on first use.
    pub fn remote(&self) -> Result<Arc<Remote>, Error> {
        let mut slot = self.remote.lock().expect("remote lock");
        if let Some(remote) = slot.as_ref() {
            return Ok(Arc::clone(remote));
        }
        if let Some(names) = &self.undecided {
            return Err(Error::NoDefaultRemote {
                names: names.clone(),
            });
        }
        let c = self
            .connect
            .as_ref()
            .expect("a source made over an open remote holds it from the start");
        let r = &c.resolved;
        r.check_endpoint()?;
        let remote = Remote::open(&r.url, &r.settings, &r.credentials, &c.env, false)?
            .with_index_cache(c.cache.clone());
        remote.require_manifest()?;
        let remote = Arc::new(remote);
        *slot = Some(Arc::clone(&remote));
        Ok(remote)
    }

    /// What the requests made so far cost (nothing when the remote was never needed).
    pub fn stats(&self) -> TransferStats {
        self.remote
            .lock()
            .expect("remote lock")
            .as_ref()
            .map(|r| r.totals())
            .unwrap_or_default()
    }

    /// A remote error as the store's: a failure of the local store itself (a full disk)
    /// stays what it is; anything else is a fetch that failed, naming the object (the
    /// one the error names, else `first`) and the remote.
    fn fetch_err(&self, first: ObjectId, e: Error) -> store::Error {
        if let Error::Transfer(transfer::Error::Store(inner)) = e {
            return inner;
        }
        store::Error::Fetch {
            id: named_object(&e).unwrap_or(first),
            from: self.shown.clone(),
            source: Box::new(e),
        }
    }
}

/// The object a remote error is about, when it names one.
fn named_object(e: &Error) -> Option<ObjectId> {
    use super::{large, pack};
    let Error::Transfer(t) = e else {
        return None;
    };
    Some(match t {
        transfer::Error::NotOnRemote { id, .. }
        | transfer::Error::Unreadable { id, .. }
        | transfer::Error::Truncated { id, .. }
        | transfer::Error::Pack(pack::Error::Corrupt { id, .. })
        | transfer::Error::Large(large::Error::Corrupt { id, .. })
        | transfer::Error::Large(large::Error::Version { id, .. }) => *id,
        _ => return None,
    })
}

impl ObjectSource for RemoteSource {
    fn store(&self) -> &Store {
        &self.store
    }

    fn has(&self, id: &ObjectId) -> bool {
        self.store.contains(id)
    }

    fn open(&self, id: &ObjectId) -> Result<Box<dyn Read + Send>, store::Error> {
        if self.store.contains(id) {
            return self.store.open_verified(id);
        }
        self.remote()
            .and_then(|remote| remote.open_object(id))
            .map_err(|e| self.fetch_err(*id, e))
    }

    fn read_range(&self, id: &ObjectId, offset: u64, len: u64) -> Result<Vec<u8>, store::Error> {
        if self.store.contains(id) {
            return ObjectSource::read_range(&self.store, id, offset, len);
        }
        self.remote()
            .and_then(|remote| remote.read_range(id, offset, len))
            .map(|(bytes, _)| bytes)
            .map_err(|e| self.fetch_err(*id, e))
    }

    fn fetch(&self, ids: &[ObjectId], progress: &dyn Progress) -> Result<Fetched, store::Error> {
        self.fetch_to(ids, progress, None)
    }

    fn fetch_announcing(
        &self,
        ids: &[ObjectId],
        progress: &dyn Progress,
        arrivals: &Arc<dyn Arrivals>,
    ) -> Result<Fetched, store::Error> {
        self.fetch_to(ids, progress, Some(arrivals))
    }

    fn fetches_from(&self) -> Option<&str> {
        Some(&self.shown)
    }
}

impl RemoteSource {
    /// [`ObjectSource::fetch`], announcing packed objects to `arrivals` as they are
    /// stored.
    fn fetch_to(
        &self,
        ids: &[ObjectId],
        progress: &dyn Progress,
        arrivals: Option<&Arc<dyn Arrivals>>,
    ) -> Result<Fetched, store::Error> {
        let ids = distinct(ids);
        let Some(&first) = ids.first() else {
            return Ok(Fetched::default());
        };
        // The download skips what the store has (one look per id, there) and says what
        // it stored, so nothing is looked up twice.
        let done = self
            .remote()
            .and_then(|remote| remote.download_available(&self.store, &ids, progress, arrivals))
            .map_err(|e| self.fetch_err(first, e))?;
        Ok(Fetched {
            already_local: done.stats.skipped as usize,
            bytes: done.stored.iter().map(|(_, size)| size).sum(),
            fetched: done.stored.into_iter().map(|(id, _)| id).collect(),
            unavailable: done.absent,
        })
    }
}
