//! Every write dvx makes, and the repository lock.
//!
//! Owns: writing a file as a temp file in the same directory followed by a rename (so a
//! reader or a crash sees the old bytes or the new bytes, never half of them), flushing
//! to stable storage, and the kernel lock that serialises writers.
//!
//! Invariants: nothing outside this module creates or truncates a file under `.dvx/` or
//! in the work tree; a temp file that is not renamed into place is removed when dropped.
//! A kill -9 never leaves a stale lock, because the lock is the kernel's and dies with
//! the process.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Prefix of every temp file dvx creates, so stray ones are recognisable.
pub const TEMP_PREFIX: &str = ".dvx-tmp-";

/// A file being written, not yet visible under its final name.
pub struct TempFile {
    inner: tempfile::NamedTempFile,
}

impl TempFile {
    /// Create an empty temp file in `dir` (which must be on the same file system as the
    /// final location, so the rename is atomic).
    ///
    /// The file is created as any new file is (mode 0666 less the umask), not with the
    /// temp-file default of 0600, which would make `.gitignore`, `dvx.lock` and
    /// `.dvx/config.toml` unreadable to the rest of a team sharing the work tree.
    pub fn new_in(dir: &Path) -> io::Result<Self> {
        let mut builder = tempfile::Builder::new();
        builder.prefix(TEMP_PREFIX);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(fs::Permissions::from_mode(0o666));
        }
        let inner = builder.tempfile_in(dir)?;
        Ok(TempFile { inner })
    }

    /// A temp file that will replace `path`: it takes the mode of the file it replaces (a
    /// user's `.gitignore`, a git hook), if there is one.
    fn replacing(path: &Path) -> io::Result<Self> {
        let tmp = TempFile::new_in(parent_of(path))?;
        if let Ok(existing) = fs::symlink_metadata(path)
            && existing.is_file()
        {
            tmp.file().set_permissions(existing.permissions())?;
        }
        Ok(tmp)
    }

    pub fn file(&self) -> &File {
        self.inner.as_file()
    }

    pub fn file_mut(&mut self) -> &mut File {
        self.inner.as_file_mut()
    }

    pub fn path(&self) -> &Path {
        self.inner.path()
    }

    /// Flush the bytes to stable storage before the rename makes them visible.
    pub fn sync(&self) -> io::Result<()> {
        self.inner.as_file().sync_all()
    }

    /// Rename into place, replacing whatever is there.
    pub fn persist(self, to: &Path) -> io::Result<File> {
        self.inner.persist(to).map_err(|e| e.error)
    }

    /// Rename into place unless `to` exists; returns `Ok(false)` (and removes the temp
    /// file) when something is already there.
    pub fn persist_new(self, to: &Path) -> io::Result<bool> {
        match self.inner.persist_noclobber(to) {
            Ok(_) => Ok(true),
            Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e.error),
        }
    }
}

impl Write for TempFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Replace `path` with `bytes` atomically (temp file in the same directory, then rename).
///
/// Survives a kill at any point; use [`write_durable`] when it must also survive power
/// loss.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp = TempFile::replacing(path)?;
    tmp.write_all(bytes)?;
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
/// `O_APPEND` lands whole; a crash can at worst lose the line, never split it into another.
pub fn append(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(bytes)
}

/// fsync a directory, making the renames inside it durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Flush every dirty page of the file system holding `path` (git's batch fsync idea: one
/// flush for a whole batch of objects instead of one per object).
#[cfg(target_os = "linux")]
pub fn sync_filesystem(path: &Path) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let dir = File::open(path)?;
    // SAFETY: syncfs only reads the descriptor, which `dir` keeps open for the call.
    let rc = unsafe { libc::syncfs(dir.as_raw_fd()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Without syncfs, fall back to a global sync, which flushes at least as much.
#[cfg(not(target_os = "linux"))]
pub fn sync_filesystem(_path: &Path) -> io::Result<()> {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
    Ok(())
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
        let _ = file
            .set_len(0)
            .and_then(|_| file.seek(SeekFrom::Start(0)))
            .and_then(|_| writeln!(file, "{}", std::process::id()));
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
mod tests {
    use super::*;

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
