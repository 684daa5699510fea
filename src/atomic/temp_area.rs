//! Where a repository's temp files live: `<shared .dvx>/tmp/`, one directory per process.
//!
//! Owns: this process's *session* directory in a repository's `tmp/`, the temp files made
//! in it and their renaming into place, and removing what killed processes left there.
//!
//! Every temp file dvx makes for a repository (an object on its way into the store, a
//! new version of a ref, the index, `CHECKOUT`, `dvx.lock` or a `.gitignore`, a file on
//! its way into the work tree) is created in the session directory `tmp/<pid>-<tag>/` and
//! renamed into place, so none is ever visible in the work tree, even for an instant.
//! Only when the destination lies on another file system, where a rename cannot reach, is
//! the temp file made beside it instead, under the reserved [`TEMP_PREFIX`] name that
//! walks skip and the next write into that directory removes. A new object a download
//! stores, and a new file a pull writes where nothing stands, need no temp name at all
//! where the system can make unnamed files: they are made unnamed in their own directory
//! and named once whole ([`super::UnnamedFile`]), and a crash leaves nothing of them.
//!
//! Invariants: a session belongs to the process holding the kernel lock on
//! `tmp/<pid>-<tag>.lock`; the lock dies with the process (kill -9 included), so
//! [`TempArea::sweep`] removes exactly the sessions of processes that are gone and never
//! one in use. A lock file becomes visible already locked (it is made under another name,
//! locked, then renamed), its directory is made after it and removed before it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Op, TEMP_PREFIX, TempFile, op, parent_of, sync_dir};

/// A repository's temp area (`tmp/` in the shared `.dvx/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TempArea {
    dir: PathBuf,
}

/// This process's session in one temp area, alive until [`close_sessions`] (or exit).
struct Session {
    area: PathBuf,
    dir: PathBuf,
    lock: PathBuf,
    _held: File,
}

/// Sessions this process holds, by temp area.
static SESSIONS: Mutex<Vec<Session>> = Mutex::new(Vec::new());

/// Makes temp names unique within the process.
static COUNTER: AtomicU64 = AtomicU64::new(0);

const LOCK_SUFFIX: &str = ".lock";
const NEW_LOCK_SUFFIX: &str = ".lock.new";

impl TempArea {
    pub fn new(dir: PathBuf) -> TempArea {
        TempArea { dir }
    }

    /// The temp area itself (`tmp/`).
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// This process's session directory, made (after a sweep) on first use.
    pub fn session(&self) -> io::Result<PathBuf> {
        let mut sessions = SESSIONS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = sessions.iter().find(|s| s.area == self.dir) {
            return Ok(s.dir.clone());
        }
        let _ = self.sweep();
        let session = self.open_session()?;
        let dir = session.dir.clone();
        sessions.push(session);
        Ok(dir)
    }

    /// Forget this area's session (its directory vanished: someone removed `tmp/`), so
    /// the next call makes a new one.
    fn forget_session(&self) {
        let mut sessions = SESSIONS.lock().unwrap_or_else(|e| e.into_inner());
        sessions.retain(|s| s.area != self.dir);
    }

    fn open_session(&self) -> io::Result<Session> {
        super::create_dir_all(&self.dir)?;
        let mut last = None;
        for _ in 0..4 {
            let name = session_name();
            let lock = self.dir.join(format!("{name}{LOCK_SUFFIX}"));
            let new = self.dir.join(format!(".{name}{NEW_LOCK_SUFFIX}"));
            let held = op(Op::Create, &new, || {
                OpenOptions::new().write(true).create_new(true).open(&new)
            })?;
            if held.try_lock().is_err() {
                // A sweeper took the lock of the file it saw unlocked; try another name.
                let _ = super::remove_file(&new);
                continue;
            }
            // A sweeper may have removed the file between its creation and the lock: the
            // rename then fails, and another name is tried.
            match super::rename(&new, &lock) {
                Ok(()) => {}
                Err(e) => {
                    last = Some(e);
                    continue;
                }
            }
            let dir = self.dir.join(&name);
            super::create_dir(&dir)?;
            return Ok(Session {
                area: self.dir.clone(),
                dir,
                lock,
                _held: held,
            });
        }
        Err(last.unwrap_or_else(|| io::Error::other("cannot start a temp session")))
    }

    /// An empty temp file in this process's session.
    pub fn temp(&self) -> io::Result<TempFile> {
        self.temp_with_mode(0o666)
    }

    /// An empty temp file in this process's session, created with `mode` less the umask
    /// (see [`TempFile::new_in_with_mode`]).
    pub fn temp_with_mode(&self, mode: u32) -> io::Result<TempFile> {
        match TempFile::new_in_with_mode(&self.session()?, mode) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.forget_session();
                TempFile::new_in_with_mode(&self.session()?, mode)
            }
            other => other,
        }
    }

    /// A fresh name in this process's session, for a temp that is not a plain file (a
    /// hard link, a symlink, a reflink clone) and is renamed into place.
    pub fn temp_path(&self) -> io::Result<PathBuf> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        Ok(self.session()?.join(format!("{TEMP_PREFIX}link-{n}")))
    }

    /// A fresh name for a temp link (a hard link or a symlink) that will be renamed to
    /// `dest`: in this process's session when that shares `dest`'s file system, else
    /// beside `dest` under the reserved prefix (walks skip it, the next write into that
    /// directory removes it).
    pub fn link_path_for(&self, dest: &Path) -> io::Result<PathBuf> {
        let dir = parent_of(dest);
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            if fs::metadata(dir)?.dev() != self.device()? {
                let n = COUNTER.fetch_add(1, Ordering::Relaxed);
                let pid = std::process::id();
                return Ok(dir.join(format!("{TEMP_PREFIX}link-{pid}-{n}")));
            }
        }
        let _ = dir;
        self.temp_path()
    }

    /// The device of this process's session (a rename reaches only the same device).
    #[cfg(unix)]
    pub fn device(&self) -> io::Result<u64> {
        use std::os::unix::fs::MetadataExt;
        Ok(fs::metadata(self.session()?)?.dev())
    }

    /// A temp file in the session that will replace `path`: it takes the mode of the file
    /// it replaces, if there is one.
    fn temp_replacing(&self, path: &Path) -> io::Result<TempFile> {
        let tmp = self.temp()?;
        tmp.take_mode_of(path)?;
        Ok(tmp)
    }

    /// Replace `path` with `bytes` atomically: a temp file in the session, renamed over
    /// it. Survives a kill at any point; [`TempArea::write_durable`] also power loss.
    pub fn write(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut tmp = self.temp_replacing(path)?;
        tmp.write_all(bytes)?;
        self.persist(tmp, path, false)
    }

    /// Like [`TempArea::write`], and fsyncs the file before the rename and the directory
    /// after it.
    pub fn write_durable(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut tmp = self.temp_replacing(path)?;
        tmp.write_all(bytes)?;
        tmp.sync()?;
        self.persist(tmp, path, true)?;
        sync_dir(parent_of(path))
    }

    /// Create `path` with `bytes` only if nothing is there yet; `Ok(false)` if it was.
    pub fn write_new(&self, path: &Path, bytes: &[u8]) -> io::Result<bool> {
        let mut tmp = self.temp()?;
        tmp.write_all(bytes)?;
        match tmp.persist_new_or_return(path) {
            Ok(created) => Ok(created),
            Err((e, tmp)) if crosses_devices(&e) => {
                let beside = copy_beside(tmp, path, false)?;
                beside.persist_new(path)
            }
            Err((e, _)) => Err(e),
        }
    }

    /// Rename a finished temp file of this area over `dest`; across file systems, its
    /// bytes are copied to a temp file beside `dest` first (fsynced when `durable`).
    pub fn persist(&self, tmp: TempFile, dest: &Path, durable: bool) -> io::Result<()> {
        match tmp.persist_or_return(dest) {
            Ok(_) => Ok(()),
            Err((e, tmp)) if crosses_devices(&e) => {
                copy_beside(tmp, dest, durable)?.persist(dest).map(|_| ())
            }
            Err((e, _)) => Err(e),
        }
    }

    /// Whether `name`, in a temp area, belongs to a session (its directory, its lock, or
    /// a lock being made): only [`TempArea::sweep`] removes those, by their locks, never
    /// by age (a session may be older than any age limit and still be in use).
    pub fn is_session_entry(name: &str) -> bool {
        let stem = name
            .strip_suffix(LOCK_SUFFIX)
            .or_else(|| {
                name.strip_prefix('.')
                    .and_then(|n| n.strip_suffix(NEW_LOCK_SUFFIX))
            })
            .unwrap_or(name);
        is_session_name(stem)
    }

    /// Remove what killed processes left here: every session whose lock is free, a lock
    /// file that was never renamed into place, a session directory without its lock.
    /// Returns how many were removed. Best effort per entry: one that cannot be removed
    /// now is tried again by the next sweep.
    pub fn sweep(&self) -> io::Result<usize> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut removed = 0;
        for entry in entries.flatten() {
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let path = entry.path();
            if let Some(stem) = name.strip_suffix(LOCK_SUFFIX)
                && is_session_name(stem)
            {
                let Some(_dead) = lock_if_free(&path) else {
                    continue;
                };
                // Holding the dead session's lock: no one else sweeps it meanwhile.
                match super::remove_dir_all(&self.dir.join(stem)) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(_) => continue,
                }
                if super::remove_file(&path).is_ok() {
                    removed += 1;
                }
            } else if let Some(stem) = name
                .strip_prefix('.')
                .and_then(|n| n.strip_suffix(NEW_LOCK_SUFFIX))
                && is_session_name(stem)
            {
                if lock_if_free(&path).is_some() && super::remove_file(&path).is_ok() {
                    removed += 1;
                }
            } else if is_session_name(&name)
                && entry.file_type().is_ok_and(|t| t.is_dir())
                && !self.dir.join(format!("{name}{LOCK_SUFFIX}")).exists()
                && super::remove_dir_all(&path).is_ok()
            {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

impl TempArea {
    /// Remove this process's session here, if it has one (see [`close_sessions`]).
    pub fn close(&self) {
        let mut sessions = SESSIONS.lock().unwrap_or_else(|e| e.into_inner());
        let (mine, others) = std::mem::take(&mut *sessions)
            .into_iter()
            .partition(|s| s.area == self.dir);
        *sessions = others;
        drop(sessions);
        remove_sessions(mine);
    }
}

/// Remove this process's sessions (their temp files are all gone or unwanted by now):
/// the CLI calls this as a command ends, so no empty session is left for the next one.
pub fn close_sessions() {
    let sessions = std::mem::take(&mut *SESSIONS.lock().unwrap_or_else(|e| e.into_inner()));
    remove_sessions(sessions);
}

fn remove_sessions(sessions: Vec<Session>) {
    for session in sessions {
        let _ = super::remove_dir_all(&session.dir);
        let _ = super::remove_file(&session.lock);
    }
}

/// `<pid>-<8 hex digits>`: unique enough within one `tmp/` (the pid alone is not, across
/// pid namespaces, nor after a reuse).
fn session_name() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut seed = Vec::new();
    seed.extend_from_slice(&nanos.to_le_bytes());
    seed.extend_from_slice(&n.to_le_bytes());
    seed.extend_from_slice(&std::process::id().to_le_bytes());
    let tag = blake3::hash(&seed);
    let tag = u32::from_le_bytes(tag.as_bytes()[..4].try_into().expect("4 bytes"));
    format!("{}-{tag:08x}", std::process::id())
}

fn is_session_name(name: &str) -> bool {
    let Some((pid, tag)) = name.split_once('-') else {
        return false;
    };
    !pid.is_empty()
        && pid.bytes().all(|b| b.is_ascii_digit())
        && tag.len() == 8
        && tag.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The file at `path`, locked, if no process holds its lock.
fn lock_if_free(path: &Path) -> Option<File> {
    let file = OpenOptions::new().read(true).open(path).ok()?;
    file.try_lock().ok()?;
    Some(file)
}

fn crosses_devices(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::CrossesDevices || e.raw_os_error() == Some(libc::EXDEV)
}

/// A copy of `tmp`'s bytes and mode in a temp file beside `dest` (on `dest`'s file
/// system), fsynced when `durable`.
fn copy_beside(mut tmp: TempFile, dest: &Path, durable: bool) -> io::Result<TempFile> {
    let mut beside = TempFile::new_in(parent_of(dest))?;
    let permissions = tmp.file().metadata()?.permissions();
    beside.set_permissions(permissions)?;
    tmp.file_mut().seek(io::SeekFrom::Start(0))?;
    io::copy(tmp.file_mut(), &mut beside)?;
    if durable {
        beside.sync()?;
    }
    Ok(beside)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temps_live_in_a_session_that_a_sweep_keeps_while_alive_and_close_removes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let area = TempArea::new(dir.path().join("tmp"));
        let mut tmp = area.temp().expect("temp");
        tmp.write_all(b"x").expect("write");
        let session = area.session().expect("session");
        assert_eq!(tmp.path().parent(), Some(session.as_path()));
        assert_eq!(area.sweep().expect("sweep"), 0, "a live session stays");
        assert!(session.is_dir());

        let dest = dir.path().join("dest");
        area.write_durable(&dest, b"bytes").expect("write");
        assert_eq!(fs::read(&dest).expect("read"), b"bytes");
        assert!(!area.write_new(&dest, b"other").expect("write_new"));
        assert_eq!(fs::read(&dest).expect("read"), b"bytes");
        drop(tmp);
        area.close();
        assert!(!session.exists());
        let left: Vec<_> = fs::read_dir(area.path()).expect("ls").flatten().collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn a_sweep_removes_a_dead_session_and_its_half_written_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tmp = dir.path().join("tmp");
        fs::create_dir_all(tmp.join("4242-0badcafe")).expect("mkdir");
        super::super::write(&tmp.join("4242-0badcafe/.dvx-tmp-x"), b"half").expect("write");
        // Its lock file exists and nobody holds it: the process is gone.
        super::super::write(&tmp.join("4242-0badcafe.lock"), b"").expect("write");
        // A session directory whose lock a sweep already removed, a lock never renamed.
        fs::create_dir_all(tmp.join("17-00000001")).expect("mkdir");
        super::super::write(&tmp.join(".18-00000002.lock.new"), b"").expect("write");
        // Not ours: left alone.
        super::super::write(&tmp.join("other"), b"").expect("write");
        let area = TempArea::new(tmp.clone());
        assert_eq!(area.sweep().expect("sweep"), 3);
        let mut left: Vec<String> = fs::read_dir(&tmp)
            .expect("ls")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["other"]);
    }

    #[test]
    fn a_held_lock_keeps_its_session() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tmp = dir.path().join("tmp");
        fs::create_dir_all(tmp.join("99-12345678")).expect("mkdir");
        super::super::write(&tmp.join("99-12345678.lock"), b"").expect("write");
        let held = File::open(tmp.join("99-12345678.lock")).expect("open");
        held.try_lock().expect("lock");
        assert_eq!(TempArea::new(tmp.clone()).sweep().expect("sweep"), 0);
        assert!(tmp.join("99-12345678").is_dir());
        drop(held);
        assert_eq!(TempArea::new(tmp.clone()).sweep().expect("sweep"), 1);
        assert!(!tmp.join("99-12345678").exists());
    }
}
