//! The watcher process: one per work tree, serving `.dvx/fsmonitor.sock`.
//!
//! One thread reads inotify events into the record ([`ChangeLog`]) through [`Tree`];
//! the main thread answers clients one at a time. Before answering "what changed since
//! T" it drops a cookie file into a watched directory and waits until the event thread
//! has read that cookie's event: inotify queues a process's events in order, so every
//! change made before the question is in the record by then.
//!
//! Invariants: at most one watcher per work tree (a kernel lock on
//! `.dvx/fsmonitor-lock`, which dies with the process); the socket is removed only by the
//! process holding that lock; a watcher that cannot vouch for its record (the event
//! thread failed, the watch limit was hit) answers every question with "scan
//! everything". It exits after `idle_timeout` without a request, when asked to, or when
//! its work tree's `.dvx/` is gone.

use std::collections::HashSet;
use std::io::BufReader;
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::Error;
use super::log::{ChangeLog, DEFAULT_CAP, Since};
use super::protocol::{self, Changes, Request, Response, WatcherStatus};
use super::watch::Tree;
use crate::atomic;
use crate::path::RepoPath;

/// The lock file that keeps a second watcher of the same work tree from starting.
pub const LOCK_FILE: &str = "fsmonitor-lock";
/// Where clients' cookies are dropped.
const COOKIE_DIR: &str = "fsmonitor-cookies";
/// How long an answer waits for its cookie's event before giving up (full scan).
const COOKIE_WAIT: Duration = Duration::from_secs(2);

/// What a watcher needs to know.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The top of the work tree.
    pub work_tree: PathBuf,
    /// The work tree's `.dvx/` (local state: socket, lock, cookies).
    pub dvx_dir: PathBuf,
    /// Exit after this long without a request.
    pub idle_timeout: Duration,
}

struct State {
    log: ChangeLog,
    tree: Tree,
    cookies: HashSet<String>,
    /// The event thread stopped: nothing can be vouched for any more.
    broken: Option<String>,
}

struct Shared {
    state: Mutex<State>,
    seen: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves a record nobody can trust; the answers
        // then say so (`broken`), so the poisoned state is still safe to read.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Run the watcher until it is stopped, idle or its work tree is gone.
pub fn run(settings: &Settings) -> Result<(), Error> {
    let lock_path = settings.dvx_dir.join(LOCK_FILE);
    let _lock = atomic::Lock::acquire(&lock_path, Duration::ZERO).map_err(|e| match e {
        atomic::LockError::Busy { holder, .. } => Error::AlreadyRunning { pid: holder },
        atomic::LockError::Io { path, source } => Error::Socket { path, source },
    })?;
    let socket = protocol::socket_path(&settings.dvx_dir);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Socket { path, source }
    };
    match atomic::remove_file(&socket) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&socket)(e)),
        _ => {}
    }
    // Binding creates the socket file itself, so it cannot be made aside and renamed
    // into place; it holds no data, and a watcher killed before removing it leaves one
    // that the next watcher, holding the lock, removes above.
    let listener = UnixListener::bind(&socket).map_err(io(&socket))?;
    let cookies = settings.dvx_dir.join(COOKIE_DIR);
    let _ = atomic::remove_dir_all(&cookies);
    atomic::create_dir_all(&cookies).map_err(io(&cookies))?;

    let mut inotify = inotify::Inotify::init().map_err(io(&settings.dvx_dir))?;
    let mut tree = Tree::new(inotify.watches(), &settings.work_tree);
    tree.watch_cookies(&cookies).map_err(io(&cookies))?;
    let instance = (u64::from(std::process::id()) << 32)
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            log: ChangeLog::new(instance, DEFAULT_CAP),
            tree,
            cookies: HashSet::new(),
            broken: None,
        }),
        seen: Condvar::new(),
    });
    let events = Arc::clone(&shared);
    std::thread::spawn(move || read_events(&mut inotify, &events));

    let served = serve(&listener, settings, &shared, &cookies);
    // Only the lock's holder removes the socket, and it still holds it here.
    let _ = atomic::remove_file(&socket);
    let _ = atomic::remove_dir_all(&cookies);
    served
}

/// The event thread: read and apply events until reading fails.
fn read_events(inotify: &mut inotify::Inotify, shared: &Shared) {
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let events = match inotify.read_events_blocking(&mut buffer) {
            Ok(events) => events,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                shared.lock().broken = Some(format!("reading inotify events failed: {e}"));
                shared.seen.notify_all();
                return;
            }
        };
        let mut state = shared.lock();
        let State {
            log, tree, cookies, ..
        } = &mut *state;
        for event in events {
            tree.handle(&event, log, cookies);
        }
        drop(state);
        shared.seen.notify_all();
    }
}

/// Answer clients until stopped, idle, or the work tree is gone.
fn serve(
    listener: &UnixListener,
    settings: &Settings,
    shared: &Shared,
    cookies: &Path,
) -> Result<(), Error> {
    let socket = protocol::socket_path(&settings.dvx_dir);
    let mut last_request = Instant::now();
    let mut cookie_seq = 0u64;
    loop {
        if last_request.elapsed() >= settings.idle_timeout || !socket.exists() {
            return Ok(());
        }
        if !readable(listener, Duration::from_millis(500)) {
            continue;
        }
        let Ok((stream, _)) = listener.accept() else {
            continue;
        };
        last_request = Instant::now();
        if answer(stream, settings, shared, cookies, &mut cookie_seq) {
            return Ok(());
        }
    }
}

/// Wait up to `timeout` for a connection.
fn readable(listener: &UnixListener, timeout: Duration) -> bool {
    let mut fds = libc::pollfd {
        fd: listener.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, for the duration of the call.
    let n = unsafe { libc::poll(&raw mut fds, 1, timeout.as_millis() as libc::c_int) };
    n > 0 && fds.revents & libc::POLLIN != 0
}

/// Read one request and answer it. Returns whether the watcher should stop.
fn answer(
    stream: UnixStream,
    settings: &Settings,
    shared: &Shared,
    cookies: &Path,
    cookie_seq: &mut u64,
) -> bool {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    let Ok(mut writer) = stream.try_clone() else {
        return false;
    };
    let request = match protocol::read_line::<Request, _>(&mut BufReader::new(stream)) {
        Ok(Some(r)) => r,
        Ok(None) => return false,
        Err(e) => {
            let _ = protocol::write_line(
                &mut writer,
                &Response::Error {
                    message: format!("bad request: {e}"),
                },
            );
            return false;
        }
    };
    let (response, stop) = match request {
        Request::Changes { since, roots } => {
            *cookie_seq += 1;
            let changes = changes(shared, cookies, *cookie_seq, since.as_deref(), &roots);
            (Response::Changes(changes), false)
        }
        Request::Status => {
            let state = shared.lock();
            let status = WatcherStatus {
                pid: std::process::id(),
                work_tree: settings.work_tree.display().to_string(),
                roots: state.tree.roots().map(|r| r.as_str().to_owned()).collect(),
                watched_dirs: state.tree.watched_dirs(),
                token: state.log.token(),
                idle_timeout_secs: settings.idle_timeout.as_secs(),
                problem: state.broken.clone().or_else(|| state.tree.problem.clone()),
            };
            (Response::Status(status), false)
        }
        Request::Stop => (Response::Stopping, true),
    };
    let _ = protocol::write_line(&mut writer, &response);
    stop
}

/// What changed below `roots` since `since`, after every earlier event has been read.
fn changes(
    shared: &Shared,
    cookies: &Path,
    seq: u64,
    since: Option<&str>,
    roots: &[String],
) -> Changes {
    let full = |state: &State, why: String| Changes {
        token: state.log.token(),
        full: Some(why),
        paths: Vec::new(),
        problem: None,
    };
    {
        let mut state = shared.lock();
        let mut added = Vec::new();
        for root in roots {
            let Ok(root) = RepoPath::new(root) else {
                return full(&state, format!("'{root}' is not a repository path"));
            };
            if state.tree.add_root(root.clone()) {
                added.push(root);
            }
        }
        if !added.is_empty() {
            let names: Vec<&str> = added.iter().map(RepoPath::as_str).collect();
            state
                .log
                .reset(&format!("started watching {}", names.join(", ")));
        }
    }
    let name = seq.to_string();
    if let Err(e) = atomic::write(&cookies.join(&name), b"") {
        return full(&shared.lock(), format!("cannot write a cookie: {e}"));
    }
    let deadline = Instant::now() + COOKIE_WAIT;
    let mut state = shared.lock();
    while !state.cookies.contains(&name) && state.broken.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let _ = atomic::remove_file(&cookies.join(&name));
            return full(&state, "the watcher did not see its cookie in time".into());
        }
        state = match shared.seen.wait_timeout(state, left) {
            Ok((s, _)) => s,
            Err(e) => e.into_inner().0,
        };
    }
    state.cookies.remove(&name);
    let _ = atomic::remove_file(&cookies.join(&name));
    if let Some(why) = state.broken.clone().or_else(|| state.tree.problem.clone()) {
        return Changes {
            problem: Some(why.clone()),
            ..full(&state, why)
        };
    }
    match state.log.since(since) {
        Since::Full(why) => full(&state, why),
        Since::Paths(paths) => Changes {
            token: state.log.token(),
            full: None,
            paths: paths.into_iter().map(|p| p.as_str().to_owned()).collect(),
            problem: None,
        },
    }
}
