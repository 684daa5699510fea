//! The file watcher behind `core.fsmonitor`: a per-work-tree process that answers "what
//! changed since token T", so `status` can look at those paths instead of every file.
//!
//! Owns: the watcher process ([`daemon`]: inotify watches, the socket `.dvx/fsmonitor.sock`,
//! its idle timeout), the record of changes and its tokens ([`log`]), and the one-line
//! JSON protocol clients speak ([`protocol`]). Does not own what a status makes of the
//! answer (workspace), nor starting the process (the CLI spawns `dvx fsmonitor run`).
//!
//! Invariants: an answer is either a complete list of the paths that may have changed
//! since the token, or "scan everything" with the reason; never a list that could lack a
//! change. Whatever the watcher cannot vouch for (a restart, a queue overflow, ignore
//! rules that changed, a root it only just began to watch, the inotify limit) is a full
//! scan. Like git's fsmonitor it cannot see writes through a memory map, through a hard
//! link outside the watched directories, or on network file systems; it is off by
//! default.

#[cfg(target_os = "linux")]
pub mod daemon;
pub mod log;
#[cfg(unix)]
pub mod protocol;
#[cfg(target_os = "linux")]
mod watch;

use std::path::PathBuf;

/// What went wrong talking to, or running, the watcher.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the file watcher is not running")]
    NotRunning,
    #[error("a file watcher already runs for this work tree{}", pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    AlreadyRunning { pid: Option<u32> },
    #[error("the file watcher's socket {}", path.display())]
    Socket {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the file watcher answered something unexpected: {0}")]
    Protocol(String),
    #[error("the file watcher cannot watch: {0}")]
    Watch(String),
    #[error("no file watcher on this system (it needs Linux's inotify)")]
    Unsupported,
}
