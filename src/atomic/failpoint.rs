//! Fault injection for the crash and I/O-error tests: the `failpoints` cargo feature.
//!
//! Owns: counting every file-system operation [`super`] performs (create, write, fsync,
//! rename, remove, mkdir, link, chmod, append, touch) and, when `DVX_FAILPOINTS` asks
//! for it, ending the process at the Nth one or making it fail. The feature is off by
//! default and refused in release builds (`lib.rs`), so no shipped binary contains it.
//!
//! `DVX_FAILPOINTS` is read once, here, and only in builds with the feature: the one place
//! the library reads the environment (everything else the CLI passes in). Its value is a
//! comma-separated list of:
//!
//! - `crash@N`: operation N is carried out, then the process is killed (SIGKILL to
//!   itself: no destructor, no flush, as `kill -9` or a power cut would leave it);
//! - `torn@N`: if operation N writes bytes, only the first half is written, then the
//!   process is killed (otherwise as `crash@N`);
//! - `enospc@N` / `eio@N`: operation N is not carried out and fails with "no space left
//!   on device" / an I/O error; `enospc@N+` fails every operation from N on that adds
//!   bytes or names (a disk that stays full: removals still work);
//! - `trace`: every operation is printed to standard error as `failpoint <n> <op>
//!   <path>`, so a test can say which operation a crash point was.
//!
//! Operations are numbered from 1 in the order they start; with several threads the
//! numbering follows whichever starts first.

use std::io;
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use super::Op;

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Write => "write",
            Op::Sync => "fsync",
            Op::Rename => "rename",
            Op::Remove => "remove",
            Op::Mkdir => "mkdir",
            Op::Link => "link",
            Op::Chmod => "chmod",
            Op::Append => "append",
            Op::Touch => "touch",
        }
    }

    /// Whether the operation needs free space (a full disk refuses it).
    fn adds(self) -> bool {
        !matches!(self, Op::Remove | Op::Sync)
    }
}

#[derive(Debug, Default)]
struct Plan {
    crash: Option<u64>,
    torn: Option<u64>,
    /// (first operation, every one after it too, raw OS error).
    error: Option<(u64, bool, i32)>,
    trace: bool,
}

fn plan() -> &'static Plan {
    static PLAN: OnceLock<Plan> = OnceLock::new();
    PLAN.get_or_init(|| {
        let mut plan = Plan::default();
        let Ok(spec) = std::env::var("DVX_FAILPOINTS") else {
            return plan;
        };
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if item == "trace" {
                plan.trace = true;
                continue;
            }
            let Some((action, at)) = item.split_once('@') else {
                continue;
            };
            let (at, sticky) = match at.strip_suffix('+') {
                Some(n) => (n, true),
                None => (at, false),
            };
            let Ok(n) = at.parse::<u64>() else { continue };
            match action {
                "crash" => plan.crash = Some(n),
                "torn" => plan.torn = Some(n),
                "enospc" => plan.error = Some((n, sticky, libc::ENOSPC)),
                "eio" => plan.error = Some((n, sticky, libc::EIO)),
                _ => {}
            }
        }
        plan
    })
}

static COUNT: AtomicU64 = AtomicU64::new(0);

/// What to do about the operation about to start.
enum Fate {
    Proceed,
    /// Carry it out, then die.
    CrashAfter,
    /// Write half of its bytes, then die.
    Tear,
    Fail(i32),
}

fn fate(op: Op, path: &Path) -> Fate {
    let plan = plan();
    if plan.crash.is_none() && plan.torn.is_none() && plan.error.is_none() && !plan.trace {
        return Fate::Proceed;
    }
    let n = COUNT.fetch_add(1, Ordering::SeqCst) + 1;
    if plan.trace {
        eprintln!("failpoint {n} {} {}", op.name(), path.display());
    }
    if let Some((at, sticky, errno)) = plan.error
        && (n == at || (sticky && n > at && op.adds()))
    {
        return Fate::Fail(errno);
    }
    if plan.torn == Some(n) {
        return Fate::Tear;
    }
    if plan.crash == Some(n) {
        return Fate::CrashAfter;
    }
    Fate::Proceed
}

/// Kill this process the way `kill -9` does.
fn die() -> ! {
    // SAFETY: kill(2) on our own pid with a valid signal number has no preconditions.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    std::process::abort()
}

fn injected(errno: i32) -> io::Error {
    io::Error::from_raw_os_error(errno)
}

/// Run one operation on `path` under the plan.
pub(crate) fn run<T>(op: Op, path: &Path, f: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    match fate(op, path) {
        Fate::Proceed => f(),
        Fate::Fail(errno) => Err(injected(errno)),
        Fate::CrashAfter | Fate::Tear => {
            let _ = f();
            die()
        }
    }
}

/// Run one write of `buf` on `path` under the plan (`write` writes some prefix of the
/// bytes it is given and says how many, as `io::Write::write` does).
pub(crate) fn write(
    op: Op,
    path: &Path,
    buf: &[u8],
    write: impl FnOnce(&[u8]) -> io::Result<usize>,
) -> io::Result<usize> {
    match fate(op, path) {
        Fate::Proceed => write(buf),
        Fate::Fail(errno) => Err(injected(errno)),
        Fate::CrashAfter => {
            let _ = write(buf);
            die()
        }
        Fate::Tear => {
            let _ = write(&buf[..buf.len() / 2]);
            die()
        }
    }
}
