//! Every write dvx makes, and the repository lock.
//!
//! Owns: every operation that changes the file system (creating, writing, fsyncing,
//! renaming, removing, linking (an open file too, by its descriptor), chmod, mkdir,
//! touch), writing a file as a temp file followed by
//! a rename (so a reader or a crash sees the old bytes or the new bytes, never half of
//! them) or as an unnamed file named once whole ([`UnnamedFile`]), flushing to stable
//! storage, where temp files live ([`TempArea`]), and the kernel lock that serialises
//! writers.
//!
//! Invariants: nothing outside this module changes a file under `.dvx/` or in the work
//! tree (`clippy.toml` bans the `std::fs` calls that would); a temp file that is not
//! renamed into place is removed when dropped, and one a killed process left is removed
//! by the next command ([`TempArea::sweep`]). A kill -9 never leaves a stale lock,
//! because the lock is the kernel's and dies with the process.
//!
//! With the `failpoints` cargo feature (tests only; refused in release builds), every
//! operation here is counted and can be made to crash the process or fail
//! ([`failpoint`]): that is how the crash tests reach every point of every command.
//! Reading `DVX_FAILPOINTS` there is the one place the library reads the environment.

#![allow(clippy::disallowed_methods)]

#[cfg(feature = "failpoints")]
mod failpoint;
mod temp_area;
mod unnamed;

pub use temp_area::{TempArea, close_sessions};
pub use unnamed::UnnamedFile;

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// Prefix of every temp file dvx creates, so stray ones are recognisable.
pub const TEMP_PREFIX: &str = ".dvx-tmp-";

/// The kinds of file-system operation (counted by fault injection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "failpoints"), allow(dead_code))]
enum Op {
    Create,
    Write,
    Sync,
    Rename,
    Remove,
    Mkdir,
    Link,
    Chmod,
    Append,
    Touch,
}

/// Run `f`, one operation of kind `kind` on `path`: counted, and crashed or failed on as
/// planned, when fault injection is built in.
#[inline]
fn op<T>(kind: Op, path: &Path, f: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    #[cfg(feature = "failpoints")]
    {
        failpoint::run(kind, path, f)
    }
    #[cfg(not(feature = "failpoints"))]
    {
        let _ = (kind, path);
        f()
    }
}

/// The most bytes dvx hands the kernel in one `write` call. On Linux 6.18 with ext4, a
/// write of 2 MiB or more into the page cache ran about ten times slower than the same
/// bytes in writes of 1 MiB or less (0.5 s against 0.05 s for 160 MiB: the page cache
/// then works in 2 MiB folios and copies into them slowly); a write of half a MiB costs
/// no more system calls than matter.
pub const MAX_WRITE: usize = 512 << 10;

/// Like [`op`] for one `write` call of `buf` (a torn write writes a prefix of it); at
/// most [`MAX_WRITE`] bytes of it unless it is an append, which lands whole so records
/// never interleave. Callers loop (`write_all`) as for any short write.
#[inline]
fn write_op(
    kind: Op,
    path: &Path,
    buf: &[u8],
    write: impl FnOnce(&[u8]) -> io::Result<usize>,
) -> io::Result<usize> {
    let buf = match kind {
        Op::Append => buf,
        _ => &buf[..buf.len().min(MAX_WRITE)],
    };
    #[cfg(feature = "failpoints")]
    {
        failpoint::write(kind, path, buf, write)
    }
    #[cfg(not(feature = "failpoints"))]
    {
        let _ = (kind, path);
        write(buf)
    }
}

/// A file being written, not yet visible under its final name.
pub struct TempFile {
    inner: tempfile::NamedTempFile,
}

impl TempFile {
    /// Create an empty temp file in `dir` (which must be on the same file system as the
    /// final location, so the rename is atomic). For a repository's files, use
    /// [`TempArea::temp`], which keeps temp files out of the work tree.
    ///
    /// The file is created as any new file is (mode 0666 less the umask), not with the
    /// temp-file default of 0600, which would make `.gitignore`, `dvx.lock` and
    /// `.dvx/config.toml` unreadable to the rest of a team sharing the work tree.
    pub fn new_in(dir: &Path) -> io::Result<Self> {
        TempFile::new_in_with_mode(dir, 0o666)
    }

    /// Create an empty temp file in `dir` with `mode` less the umask (as `open(2)` gives
    /// it), so a file whose final mode that is needs no `chmod` afterwards.
    pub fn new_in_with_mode(dir: &Path, mode: u32) -> io::Result<Self> {
        op(Op::Create, dir, || {
            let mut builder = tempfile::Builder::new();
            builder.prefix(TEMP_PREFIX);
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                builder.permissions(fs::Permissions::from_mode(mode));
            }
            #[cfg(not(unix))]
            let _ = mode;
            let inner = builder.tempfile_in(dir)?;
            Ok(TempFile { inner })
        })
    }

    /// A temp file beside `path` that will replace it (see [`TempFile::take_mode_of`]).
    fn replacing(path: &Path) -> io::Result<Self> {
        let tmp = TempFile::new_in(parent_of(path))?;
        tmp.take_mode_of(path)?;
        Ok(tmp)
    }

    /// Give this file the mode of the file at `path` (a user's `.gitignore`, a git hook)
    /// if there is one, so replacing it keeps its mode.
    fn take_mode_of(&self, path: &Path) -> io::Result<()> {
        if let Ok(existing) = fs::symlink_metadata(path)
            && existing.is_file()
        {
            self.set_permissions(existing.permissions())?;
        }
        Ok(())
    }

    pub fn file(&self) -> &File {
        self.inner.as_file()
    }

    /// The open file, for reading it back or handing it to code that writes through
    /// [`Write`] on this temp file instead (writes made directly are not counted).
    pub fn file_mut(&mut self) -> &mut File {
        self.inner.as_file_mut()
    }

    pub fn path(&self) -> &Path {
        self.inner.path()
    }

    /// Set the mode of the temp file.
    pub fn set_permissions(&self, permissions: Permissions) -> io::Result<()> {
        op(Op::Chmod, self.path(), || {
            self.inner.as_file().set_permissions(permissions)
        })
    }

    /// Flush the bytes to stable storage before the rename makes them visible.
    pub fn sync(&self) -> io::Result<()> {
        op(Op::Sync, self.path(), || self.inner.as_file().sync_all())
    }

    /// Rename into place, replacing whatever is there.
    pub fn persist(self, to: &Path) -> io::Result<File> {
        self.persist_or_return(to).map_err(|(e, _)| e)
    }

    /// Rename into place; on failure, the error and the temp file (still whole).
    fn persist_or_return(self, to: &Path) -> Result<File, (io::Error, TempFile)> {
        let mut inner = Some(self.inner);
        let result = op(Op::Rename, to, || {
            let file = inner.take().expect("taken once");
            file.persist(to).map_err(|e| {
                inner = Some(e.file);
                e.error
            })
        });
        result.map_err(|e| {
            let inner = inner.expect("returned on failure, or the rename never ran");
            (e, TempFile { inner })
        })
    }

    /// Rename into place unless `to` exists; returns `Ok(false)` (and removes the temp
    /// file) when something is already there.
    pub fn persist_new(self, to: &Path) -> io::Result<bool> {
        self.persist_new_or_return(to).map_err(|(e, _)| e)
    }

    /// Rename into place unless `to` exists; on failure (`AlreadyExists` when something
    /// is there), the error and the temp file, still whole.
    pub fn persist_new_or_keep(self, to: &Path) -> Result<(), (io::Error, TempFile)> {
        let mut inner = Some(self.inner);
        let result = op(Op::Rename, to, || {
            let file = inner.take().expect("taken once");
            file.persist_noclobber(to).map(|_| ()).map_err(|e| {
                inner = Some(e.file);
                e.error
            })
        });
        result.map_err(|e| {
            let inner = inner.expect("returned on failure, or the rename never ran");
            (e, TempFile { inner })
        })
    }

    fn persist_new_or_return(self, to: &Path) -> Result<bool, (io::Error, TempFile)> {
        let mut inner = Some(self.inner);
        let result = op(Op::Rename, to, || {
            let file = inner.take().expect("taken once");
            match file.persist_noclobber(to) {
                Ok(_) => Ok(true),
                Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => Ok(false),
                Err(e) => {
                    inner = Some(e.file);
                    Err(e.error)
                }
            }
        });
        result.map_err(|e| {
            let inner = inner.expect("returned on failure, or the rename never ran");
            (e, TempFile { inner })
        })
    }
}

impl Write for TempFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let inner = &mut self.inner;
        let path = inner.path().to_path_buf();
        write_op(Op::Write, &path, buf, |b| inner.write(b))
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The process's file mode creation mask, read once; `None` where it cannot be read
/// without setting it (umask(2) both sets and returns it, which would race other
/// threads creating files).
pub fn umask() -> Option<u32> {
    static UMASK: std::sync::OnceLock<Option<u32>> = std::sync::OnceLock::new();
    *UMASK.get_or_init(|| {
        #[cfg(target_os = "linux")]
        if let Ok(status) = fs::read_to_string("/proc/self/status")
            && let Some(line) = status.lines().find(|l| l.starts_with("Umask:"))
            && let Ok(mask) = u32::from_str_radix(line["Umask:".len()..].trim(), 8)
        {
            return Some(mask);
        }
        None
    })
}

/// Replace `path` with `bytes` atomically (temp file in the same directory, then rename).
/// For files outside a repository's `.dvx/` and work tree (git's hooks, a directory
/// `reproduce --into` fills); a repository's own files go through [`TempArea::write`].
///
/// Survives a kill at any point; use [`write_durable`] when it must also survive power
/// loss.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp = TempFile::replacing(path)?;
    tmp.write_all(bytes)?;
    tmp.persist(path)?;
    Ok(())
}

/// Like [`write`], with the new file's mode set before it becomes visible (a git hook is
/// never seen without its executable bit).
pub fn write_with_permissions(
    path: &Path,
    bytes: &[u8],
    permissions: Permissions,
) -> io::Result<()> {
    let mut tmp = TempFile::new_in(parent_of(path))?;
    tmp.write_all(bytes)?;
    tmp.set_permissions(permissions)?;
    tmp.persist(path)?;
    Ok(())
}

/// Like [`write`], and fsyncs the file before the rename and the directory after it.
pub fn write_durable(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = parent_of(path);
    let mut tmp = TempFile::replacing(path)?;
    tmp.write_all(bytes)?;
    tmp.sync()?;
    tmp.persist(path)?;
    sync_dir(dir)
}

/// Like [`write`] for a file that holds secrets (`config.local.toml` with credentials):
/// a new file is readable and writable by its owner only (0600); an existing one keeps
/// its mode, which its owner chose.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp = TempFile::replacing(path)?;
    #[cfg(unix)]
    if fs::symlink_metadata(path).is_err() {
        use std::os::unix::fs::PermissionsExt;
        tmp.file()
            .set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    tmp.write_all(bytes)?;
    tmp.persist(path)?;
    Ok(())
}

/// Create `path` with `bytes` only if nothing is there yet; `Ok(false)` if it existed.
pub fn write_new(path: &Path, bytes: &[u8]) -> io::Result<bool> {
    let mut tmp = TempFile::new_in(parent_of(path))?;
    tmp.write_all(bytes)?;
    tmp.persist_new(path)
}

/// Append one record to a log file (reflogs). A single `write` to a file opened with
/// `O_APPEND` lands whole, so records never interleave. A crash or a full disk can leave
/// a record cut short, without its newline: the next append starts on a line of its own,
/// so the damage stays in that one record, which readers skip.
pub fn append(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = op(Op::Create, path, || {
        OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)
    })?;
    let len = file.metadata()?.len();
    let mut record = Vec::with_capacity(bytes.len() + 1);
    if len > 0 {
        let mut last = [0u8];
        file.seek(SeekFrom::Start(len - 1))?;
        file.read_exact(&mut last)?;
        if last[0] != b'\n' {
            record.push(b'\n');
        }
    }
    record.extend_from_slice(bytes);
    let mut rest = &record[..];
    while !rest.is_empty() {
        match write_op(Op::Append, path, rest, |b| file.write(b)) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => rest = &rest[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// fsync a directory, making the renames inside it durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    op(Op::Sync, dir, || File::open(dir)?.sync_all())
}

/// fsync an open file.
pub fn sync_file(file: &File, path: &Path) -> io::Result<()> {
    op(Op::Sync, path, || file.sync_all())
}

/// Flush every dirty page of the file system holding `path` (git's batch fsync idea: one
/// flush for a whole batch of objects instead of one per object).
#[cfg(target_os = "linux")]
pub fn sync_filesystem(path: &Path) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    op(Op::Sync, path, || {
        let dir = File::open(path)?;
        // SAFETY: syncfs only reads the descriptor, which `dir` keeps open for the call.
        let rc = unsafe { libc::syncfs(dir.as_raw_fd()) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    })
}

/// Without syncfs, fall back to a global sync, which flushes at least as much.
#[cfg(not(target_os = "linux"))]
pub fn sync_filesystem(path: &Path) -> io::Result<()> {
    op(Op::Sync, path, || {
        // SAFETY: sync(2) takes no arguments and cannot fail.
        unsafe { libc::sync() };
        Ok(())
    })
}

/// Rename `from` to `to`, replacing a file there.
pub fn rename(from: &Path, to: &Path) -> io::Result<()> {
    op(Op::Rename, to, || fs::rename(from, to))
}

/// Remove a file (or a symlink).
pub fn remove_file(path: &Path) -> io::Result<()> {
    op(Op::Remove, path, || fs::remove_file(path))
}

/// Remove an empty directory.
pub fn remove_dir(path: &Path) -> io::Result<()> {
    op(Op::Remove, path, || fs::remove_dir(path))
}

/// Remove a directory and everything in it (temp areas only: never the work tree).
pub fn remove_dir_all(path: &Path) -> io::Result<()> {
    op(Op::Remove, path, || fs::remove_dir_all(path))
}

/// Make one directory.
pub fn create_dir(path: &Path) -> io::Result<()> {
    op(Op::Mkdir, path, || fs::create_dir(path))
}

/// Make a directory and its missing parents (counted once, and only if anything is
/// missing).
pub fn create_dir_all(path: &Path) -> io::Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    op(Op::Mkdir, path, || fs::create_dir_all(path))
}

/// A hard link `link` to `original`.
pub fn hard_link(original: &Path, link: &Path) -> io::Result<()> {
    op(Op::Link, link, || fs::hard_link(original, link))
}

/// A hard link at `to` to the open `file`, which was opened at `path`: the very inode
/// that was opened (and read), even if something was renamed over `path` since. Like
/// [`hard_link`] it never replaces anything (`AlreadyExists`); a file no longer at
/// `path` fails with `NotFound`.
///
/// On Linux one `linkat` of the descriptor (or of `/proc/self/fd/N` on kernels before
/// 6.10). Elsewhere, or without `/proc`, a link by path made in this process's session
/// of `temps`, checked to be the opened inode, linked at `to` and removed (a crash leaves
/// only that temp link, which the next sweep takes).
pub fn link_open(file: &File, path: &Path, to: &Path, temps: &TempArea) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    if proc_fd::usable() {
        return op(Op::Link, to, || proc_fd::link(file, to));
    }
    link_open_by_path(file, path, to, temps)
}

/// [`link_open`] without `/proc`: through a temp link by path.
fn link_open_by_path(file: &File, path: &Path, to: &Path, temps: &TempArea) -> io::Result<()> {
    let tmp = temps.temp_path()?;
    hard_link(path, &tmp)?;
    let linked = same_inode(file, &tmp).and_then(|same| {
        if same {
            hard_link(&tmp, to)
        } else {
            Err(io::Error::new(
                io::ErrorKind::NotFound,
                "replaced by another file while being linked",
            ))
        }
    });
    let _ = remove_file(&tmp);
    linked
}

/// Whether the file at `path` is the open `file` (unknowable without inodes: assumed).
fn same_inode(file: &File, path: &Path) -> io::Result<bool> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let (open, named) = (file.metadata()?, fs::symlink_metadata(path)?);
        Ok((open.dev(), open.ino()) == (named.dev(), named.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        Ok(true)
    }
}

/// Linking an open file by its descriptor: by the descriptor itself where the kernel
/// allows it, else through `/proc/self/fd`.
#[cfg(target_os = "linux")]
mod proc_fd {
    use std::ffi::{CStr, CString};
    use std::fs::File;
    use std::io;
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Whether `/proc/self/fd` is there (looked at once per process).
    pub(super) fn usable() -> bool {
        #[cfg(test)]
        if super::tests::LINK_BY_PATH.get() {
            return false;
        }
        static USABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *USABLE.get_or_init(|| Path::new("/proc/self/fd").is_dir())
    }

    /// Whether `linkat(fd, "", .., AT_EMPTY_PATH)` links a descriptor this process
    /// opened: Linux 6.10 and later allow it without a capability, older kernels answer
    /// `ENOENT` (or `EPERM`) and every link then goes through `/proc`.
    static EMPTY_PATH_LINKS: AtomicBool = AtomicBool::new(true);

    /// Give the open `file` the name `to` (which must not exist).
    pub(super) fn link(file: &File, to: &Path) -> io::Result<()> {
        let to = CString::new(to.as_os_str().as_bytes())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        if !EMPTY_PATH_LINKS.load(Ordering::Relaxed) {
            return link_through_proc(file, &to);
        }
        // By the descriptor itself: no walk of `/proc/self/fd/<n>` for each file (a
        // pull of 20,000 small files names 20,000; the shortest link took 16 µs this way
        // against 18 µs through `/proc`).
        // SAFETY: both strings are NUL-terminated and outlive the call; the descriptor
        // stays open for it (`file` is borrowed).
        let linked = unsafe {
            libc::linkat(
                file.as_raw_fd(),
                c"".as_ptr(),
                libc::AT_FDCWD,
                to.as_ptr(),
                libc::AT_EMPTY_PATH,
            )
        };
        if linked == 0 {
            return Ok(());
        }
        let refused = io::Error::last_os_error();
        if !matches!(refused.raw_os_error(), Some(libc::ENOENT | libc::EPERM)) {
            return Err(refused);
        }
        // An older kernel, or a real ENOENT (no directory at `to`), which `/proc` meets
        // again: only a link `/proc` makes shows the kernel refused the empty path.
        link_through_proc(file, &to)?;
        EMPTY_PATH_LINKS.store(false, Ordering::Relaxed);
        Ok(())
    }

    pub(super) fn link_through_proc(file: &File, to: &CStr) -> io::Result<()> {
        let from = CString::new(format!("/proc/self/fd/{}", file.as_raw_fd()))
            .expect("a number has no NUL byte");
        // SAFETY: both strings are NUL-terminated and outlive the call; the descriptor
        // stays open for it (`file` is borrowed).
        let linked = unsafe {
            libc::linkat(
                libc::AT_FDCWD,
                from.as_ptr(),
                libc::AT_FDCWD,
                to.as_ptr(),
                libc::AT_SYMLINK_FOLLOW,
            )
        };
        if linked == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

/// A symlink at `at` holding `target` as written.
#[cfg(unix)]
pub fn symlink(target: &OsStr, at: &Path) -> io::Result<()> {
    op(Op::Link, at, || std::os::unix::fs::symlink(target, at))
}

#[cfg(not(unix))]
pub fn symlink(target: &OsStr, at: &Path) -> io::Result<()> {
    let _ = (target, at);
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "symlinks are not supported here",
    ))
}

/// A copy-on-write clone of the open file `from` at `to` (fails where the file system
/// cannot clone).
pub fn reflink(from: &File, to: &Path) -> io::Result<()> {
    op(Op::Link, to, || {
        reflink_copy::reflink_file_to_path(from, to)
    })
}

/// Set the mode of the file at `path` (not following a symlink's target: callers pass
/// files they made).
pub fn set_permissions(path: &Path, permissions: Permissions) -> io::Result<()> {
    op(Op::Chmod, path, || fs::set_permissions(path, permissions))
}

/// Set the mode of an open file.
pub fn set_file_permissions(file: &File, path: &Path, permissions: Permissions) -> io::Result<()> {
    op(Op::Chmod, path, || file.set_permissions(permissions))
}

/// Set an open file's modification time.
pub fn set_modified(file: &File, path: &Path, time: SystemTime) -> io::Result<()> {
    op(Op::Touch, path, || file.set_modified(time))
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The repository lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{path} is locked by another dvx process{}", holder.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    Busy { path: PathBuf, holder: Option<u32> },
    #[error("cannot open lock file {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// An exclusive kernel lock on a file, released when dropped (or when the process dies).
#[derive(Debug)]
pub struct Lock {
    file: File,
    path: PathBuf,
}

impl Lock {
    /// Take the lock, retrying until `timeout` has passed. The holder writes its pid into
    /// the file so a waiter can name it.
    pub fn acquire(path: &Path, timeout: Duration) -> Result<Lock, LockError> {
        let io_err = |source| LockError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io_err)?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(fs::TryLockError::WouldBlock) => {
                    if start.elapsed() >= timeout {
                        return Err(LockError::Busy {
                            path: path.to_path_buf(),
                            holder: read_pid(&mut file),
                        });
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(fs::TryLockError::Error(e)) => return Err(io_err(e)),
            }
        }
        // Best effort: the pid only improves the message another process may print.
        let pid = format!("{}\n", std::process::id());
        let _ = op(Op::Write, path, || {
            file.set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
            file.write_all(pid.as_bytes())
        });
        Ok(Lock {
            file,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Closing the descriptor releases the lock anyway; unlocking first keeps the
        // window in which a waiter reads a stale pid short.
        let _ = self.file.unlock();
    }
}

fn read_pid(file: &mut File) -> Option<u32> {
    let mut s = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut s).ok()?;
    s.trim().parse().ok()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    thread_local! {
        /// Set on a test's thread: [`link_open`] takes its path without `/proc` there.
        pub(crate) static LINK_BY_PATH: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    /// Run `f` with [`link_open`] linking by path, as where `/proc` is missing.
    pub(crate) fn without_proc_links<R>(f: impl FnOnce() -> R) -> R {
        LINK_BY_PATH.set(true);
        let result = f();
        LINK_BY_PATH.set(false);
        result
    }

    #[test]
    fn write_replaces_atomically_and_leaves_no_temp() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("f");
        write(&p, b"one").expect("write");
        write_durable(&p, b"two").expect("write");
        assert_eq!(fs::read(&p).expect("read"), b"two");
        assert!(!write_new(&p, b"three").expect("write_new"));
        assert_eq!(fs::read(&p).expect("read"), b"two");
        let names: Vec<_> = fs::read_dir(dir.path()).expect("ls").collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn a_write_hands_the_kernel_at_most_max_write_bytes_and_write_all_lands_them_all() {
        let dir = tempfile::tempdir().expect("tempdir");
        let big: Vec<u8> = (0..3 * MAX_WRITE + 5).map(|i| (i % 251) as u8).collect();
        let mut tmp = TempFile::new_in(dir.path()).expect("temp");
        assert_eq!(tmp.write(&big).expect("write"), MAX_WRITE);
        tmp.write_all(&big[MAX_WRITE..]).expect("write_all");
        let p = dir.path().join("big");
        tmp.persist(&p).expect("persist");
        assert_eq!(fs::read(&p).expect("read"), big);
        write(&p, &big[..MAX_WRITE + 1]).expect("write");
        assert_eq!(fs::read(&p).expect("read"), &big[..MAX_WRITE + 1]);
    }

    /// Both ways of naming an open unnamed file: by its descriptor (where the kernel
    /// allows it) and through `/proc` (older kernels); a name that is taken stays as it
    /// was, either way.
    #[cfg(target_os = "linux")]
    #[test]
    fn an_unnamed_file_is_named_by_its_descriptor_or_through_proc() {
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::fs::OpenOptionsExt;
        if !proc_fd::usable() {
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let unnamed = |bytes: &[u8]| {
            let mut file = OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_TMPFILE)
                .mode(0o644)
                .open(dir.path())
                .ok()?;
            file.write_all(bytes).expect("write");
            Some(file)
        };
        let Some(first) = unnamed(b"by descriptor") else {
            return; // no O_TMPFILE on this file system
        };
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        proc_fd::link(&first, &a).expect("link");
        let second = unnamed(b"through proc").expect("unnamed");
        let b_c = std::ffi::CString::new(b.as_os_str().as_bytes()).expect("path");
        proc_fd::link_through_proc(&second, &b_c).expect("link through proc");
        assert_eq!(fs::read(&a).expect("read"), b"by descriptor");
        assert_eq!(fs::read(&b).expect("read"), b"through proc");
        let third = unnamed(b"late").expect("unnamed");
        let taken = proc_fd::link(&third, &a).expect_err("a is taken");
        assert_eq!(taken.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&a).expect("read"), b"by descriptor");
    }

    /// Regression: files were written with the temp-file mode 0600, so a rewrite of a
    /// user's `.gitignore` made it private.
    #[cfg(unix)]
    #[test]
    fn writes_keep_the_mode_of_the_file_they_replace_and_new_files_follow_the_umask() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let mode = |p: &Path| fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        let umask = {
            let probe = dir.path().join("probe");
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&probe)
                .expect("create");
            0o666 & !mode(&probe)
        };
        let new = dir.path().join("new");
        write(&new, b"one").expect("write");
        assert_eq!(mode(&new), 0o666 & !umask);
        let durable = dir.path().join("durable");
        write_durable(&durable, b"one").expect("write");
        assert_eq!(mode(&durable), 0o666 & !umask);
        assert!(write_new(&dir.path().join("fresh"), b"x").expect("write_new"));
        assert_eq!(mode(&dir.path().join("fresh")), 0o666 & !umask);

        let kept = dir.path().join("kept");
        write(&kept, b"one").expect("write");
        fs::set_permissions(&kept, fs::Permissions::from_mode(0o640)).expect("chmod");
        write(&kept, b"two").expect("rewrite");
        assert_eq!(mode(&kept), 0o640);
        fs::set_permissions(&kept, fs::Permissions::from_mode(0o755)).expect("chmod");
        write_durable(&kept, b"three").expect("rewrite");
        assert_eq!(mode(&kept), 0o755);
        assert_eq!(fs::read(&kept).expect("read"), b"three");
    }

    #[test]
    fn second_lock_times_out_and_names_holder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("lock");
        let held = Lock::acquire(&p, Duration::from_secs(1)).expect("first lock");
        let err = Lock::acquire(&p, Duration::from_millis(50)).expect_err("busy");
        match err {
            LockError::Busy { holder, .. } => assert_eq!(holder, Some(std::process::id())),
            other => panic!("unexpected {other}"),
        }
        drop(held);
        Lock::acquire(&p, Duration::from_millis(50)).expect("free again");
    }
}
