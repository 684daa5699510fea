//! Writing stored objects into the work tree.
//!
//! This is the apply step of a checkout or restore, after the plan's absent ids were
//! fetched: it writes from the local store (the command's
//! [`ObjectSource::store`](crate::store::ObjectSource::store)), because reflink clones,
//! hard links and symlinks need the object's own file. An object still absent is
//! `store::Error::Missing` before anything is written, and the caller records the path
//! as not fetched.
//!
//! Each file is made as a temp file in the repository's temp area (`.dvx/tmp/`, see
//! [`TempArea`]) and renamed over its destination, so a reader or a crash sees the old
//! file or the new one, never half of one, and no temp file is ever visible in the work
//! tree. A file written from bytes a fetch just verified, where nothing stands, is made
//! unnamed in its own directory and named once whole ([`UnnamedFile`]) where the system
//! allows: the same guarantee without a temp name, and without every writing thread
//! taking the one session directory's lock. Only a directory on another file system than
//! `.dvx/tmp/` gets its temp files beside the destination, under the reserved temp name
//! that walks skip; the first write into such a directory removes any a killed dvx left
//! there. The link types are tried in the configured order: reflink (copy-on-write
//! clone), copy, hard link or symlink to the read-only object. A destination is never written through a
//! symlink: the rename replaces the link itself, and a parent directory that is a symlink
//! is replaced by a real directory (as git does; planning has already refused an
//! untracked one in the way unless forced). A parent that is a file is refused.
//!
//! Copies and clones are checked against the object's id before they are renamed into
//! place (a copy is hashed while it is made; a clone is made from the open object, which
//! is then hashed), so a damaged object never reaches the work tree: the temp file is
//! removed and the error names the object and the path. Hard links and symlinks share
//! the read-only object itself; there `fsck` (and `status`, which calls such a file
//! `corrupt`) is the check.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::{Error, link_rule, write_err};
use crate::atomic::{self, TEMP_PREFIX, TempArea, TempFile, UnnamedFile};
use crate::hash::ObjectId;
use crate::index::{Entry, Kind, Stat};
use crate::path::RepoPath;
use crate::repo::LinkKind;
use crate::store::{self, ObjectFile, Store};

/// Puts objects into the work tree, remembering what the file system supports.
pub struct Materializer {
    root: PathBuf,
    store: Store,
    links: Vec<LinkKind>,
    /// The process's umask, when it can be known (then a new file's mode needs no
    /// `chmod`).
    umask: Option<u32>,
    reflink_failed: AtomicBool,
    hardlink_failed: AtomicBool,
    /// Directories already checked to be real directories inside the root, and whether
    /// they are on the temp area's file system (else temp files go beside).
    safe_dirs: Mutex<HashMap<PathBuf, Spot>>,
    /// The device of the temp area's session, once known.
    temp_device: Option<u64>,
    counter: AtomicU64,
    /// `core.external_symlinks`: symlinks that leave the work tree may be written.
    external_symlinks: bool,
}

/// Where the temp files for one directory's writes are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spot {
    /// In the temp area, renamed across into the directory (same file system).
    TempArea,
    /// Beside the destination (the directory is on another file system).
    Beside,
}

impl Materializer {
    pub fn new(root: &Path, store: &Store, links: Vec<LinkKind>) -> Materializer {
        Materializer {
            root: root.to_path_buf(),
            store: store.clone(),
            links,
            umask: atomic::umask(),
            reflink_failed: AtomicBool::new(false),
            hardlink_failed: AtomicBool::new(false),
            safe_dirs: Mutex::new(HashMap::new()),
            temp_device: temp_device(store.temps()),
            counter: AtomicU64::new(0),
            external_symlinks: false,
        }
    }

    /// Write symlinks whose target leaves the work tree too (`core.external_symlinks`);
    /// by default they are refused (see `link_rule`).
    pub fn external_symlinks(mut self, allowed: bool) -> Self {
        self.external_symlinks = allowed;
        self
    }

    /// A fresh name for a temp link or clone that goes to `dir`.
    fn temp_path(&self, dir: &Path, spot: Spot) -> Result<PathBuf, Error> {
        if spot == Spot::TempArea {
            let temps = self.store.temps();
            return temps.temp_path().map_err(write_err(temps.path()));
        }
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        Ok(dir.join(format!("{TEMP_PREFIX}{}-{n}", std::process::id())))
    }

    /// A temp file for a copy that goes to `dir`, created with `base` (0o666, or 0o777
    /// for an executable) less the umask: a new file's mode, so it needs no `chmod`
    /// where the umask is known.
    fn temp_file(&self, dir: &Path, spot: Spot, base: u32) -> io::Result<TempFile> {
        let tmp = match spot {
            Spot::TempArea => self.store.temps().temp_with_mode(base)?,
            Spot::Beside => TempFile::new_in_with_mode(dir, base)?,
        };
        if self.umask.is_none() {
            set_file_mode(&tmp, base & !0o022)?;
        }
        Ok(tmp)
    }

    /// Make sure every directory from the root down to `dir` exists and is a real
    /// directory (a symlink, which would lead the write elsewhere, is replaced by one),
    /// and holds no temp file left by a killed dvx. Says where its temp files go.
    fn prepare_dir(&self, path: &RepoPath) -> Result<(PathBuf, Spot), Error> {
        if let Some(reserved) = path.components().find(|c| crate::path::is_reserved_name(c)) {
            // Never reached through a valid tree or index; the last line of defence
            // against writing into git's or dvx's own directory.
            return Err(Error::Unsafe {
                path: path.clone(),
                why: format!("'{reserved}' is git's or dvx's own directory"),
            });
        }
        let parent = path.parent().unwrap_or_else(RepoPath::root);
        let abs = parent.to_fs_path(&self.root);
        // Held while a directory is first prepared, so no other thread has a temp file in
        // it yet when stale ones are removed.
        let mut safe_dirs = self.safe_dirs.lock().expect("lock poisoned");
        if let Some(spot) = safe_dirs.get(&abs) {
            return Ok((abs, *spot));
        }
        let mut current = self.root.to_path_buf();
        for component in parent.components() {
            current.push(component);
            match fs::symlink_metadata(&current) {
                Ok(m) if m.is_dir() => {}
                // A symlink where a directory goes is replaced by the directory, as git
                // does: nothing is written through it, and removing the link loses no
                // bytes (what it points at is not the work tree's and stays as it is).
                Ok(m) if m.file_type().is_symlink() => {
                    atomic::remove_file(&current).map_err(write_err(&current))?;
                    atomic::create_dir(&current).map_err(write_err(&current))?;
                }
                Ok(_) => {
                    return Err(Error::Unsafe {
                        path: path.clone(),
                        why: format!("{} is a file, not a directory", current.display()),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => match atomic::create_dir(&current)
                {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists && current.is_dir() => {}
                    Err(e) => return Err(write_err(&current)(e)),
                },
                Err(e) => return Err(write_err(&current)(e)),
            }
        }
        remove_stale_temps(&abs);
        let spot = match (self.temp_device, device_of(&abs)) {
            (Some(temps), Some(here)) if temps == here => Spot::TempArea,
            _ => Spot::Beside,
        };
        safe_dirs.insert(abs.clone(), spot);
        Ok((abs, spot))
    }

    /// Write `entry`'s bytes at its path. Returns the stat of the new file and whether
    /// it shares the object's inode (hard link or symlink to the store). An object that
    /// is not in the store is `store::Error::Missing`, before anything is written or any
    /// directory made (callers record the path as not fetched).
    pub fn write(&self, entry: &Entry) -> Result<(Stat, bool), Error> {
        self.write_checked(entry).map_err(|e| match e {
            // Damaged bytes: say which path was left unwritten.
            Error::Store(source @ store::Error::Corrupt { .. }) => Error::NotWritten {
                path: entry.path.clone(),
                source,
            },
            other => other,
        })
    }

    fn write_checked(&self, entry: &Entry) -> Result<(Stat, bool), Error> {
        let mut source = Some(self.open_source(entry)?);
        self.write_at(entry, |dir, spot, dest| {
            let source = match source.take() {
                Some(source) => source,
                // A second try (a directory was in the way): the first consumed it.
                None => self.open_source(entry)?,
            };
            self.place(entry, source, dir, spot, dest)
        })
    }

    /// Write `entry`'s file from `bytes`, which the caller has just hashed and found to
    /// be the object `entry.id` (a fetch hands over the bytes it verified and stored):
    /// the file [`Materializer::write`] would make, without reading the object back and
    /// hashing it again. Where the configured link types make the file from the object's
    /// own file (a reflink clone, a hard link, a symlink), or for a symlink entry, it is
    /// made from the store as `write` makes it.
    pub fn write_verified(&self, entry: &Entry, bytes: &[u8]) -> Result<(Stat, bool), Error> {
        if entry.kind != Kind::File || !self.copies(entry.executable) {
            return self.write(entry);
        }
        if bytes.len() as u64 != entry.size {
            // As in `copy_object`: the bytes are the object's, the entry is wrong.
            return Err(Error::Write {
                path: entry.path.to_fs_path(&self.root),
                source: io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "object {} has {} bytes, not the {} recorded: run dvx fsck",
                        entry.id,
                        bytes.len(),
                        entry.size
                    ),
                ),
            });
        }
        let base = if entry.executable { 0o777 } else { 0o666 };
        self.write_at(entry, |dir, spot, dest| {
            if self.write_unnamed(dir, base, bytes, dest)? {
                return Ok(false);
            }
            let mut tmp = self.temp_file(dir, spot, base).map_err(write_err(dest))?;
            tmp.write_all(bytes).map_err(write_err(dest))?;
            tmp.persist(dest).map_err(write_err(dest))?;
            Ok(false)
        })
    }

    /// Write `bytes` as a new file at `dest` through an unnamed file in its directory
    /// `dir` ([`UnnamedFile`]: no temp name anywhere, and the inode made where the file
    /// lives, as `cp -r` makes it). `Ok(false)` when that cannot be done here or when
    /// something stands at `dest` (an unnamed file is never named over anything): the
    /// caller then writes it the temp area's way, which replaces what is there.
    fn write_unnamed(
        &self,
        dir: &Path,
        base: u32,
        bytes: &[u8],
        dest: &Path,
    ) -> Result<bool, Error> {
        let exact = self.umask.is_none().then_some(base & !0o022);
        UnnamedFile::write_new(dir, base, exact, bytes, dest).map_err(write_err(dest))
    }

    /// The link type a file of this kind is made with: the first configured one that
    /// applies (and has not failed on this file system), `copy` when none does. A
    /// reflink clone needs a file of the object's own (`clonable`: it is not packed).
    fn made_by(&self, executable: bool, clonable: bool) -> LinkKind {
        let applies = |link: &LinkKind| match link {
            LinkKind::Reflink => clonable && !self.reflink_failed.load(Ordering::Relaxed),
            LinkKind::Copy => true,
            LinkKind::Hardlink => !executable && !self.hardlink_failed.load(Ordering::Relaxed),
            LinkKind::Symlink => !executable,
        };
        self.links
            .iter()
            .copied()
            .find(applies)
            .unwrap_or(LinkKind::Copy)
    }

    /// Whether a file of this kind is made as a plain copy.
    fn copies(&self, executable: bool) -> bool {
        self.made_by(executable, true) == LinkKind::Copy
    }

    /// Whether a packed object would be hard-linked or symlinked to make a file of this
    /// kind (it then needs a file of its own first).
    fn links_to_object(&self, executable: bool) -> bool {
        matches!(
            self.made_by(executable, false),
            LinkKind::Hardlink | LinkKind::Symlink
        )
    }

    /// Make `entry`'s parent directories, then `place` its file (given the directory,
    /// where its temp file goes, and the destination; it returns whether the file shares
    /// the object's inode); returns the new file's stat and that answer.
    fn write_at(
        &self,
        entry: &Entry,
        mut place: impl FnMut(&Path, Spot, &Path) -> Result<bool, Error>,
    ) -> Result<(Stat, bool), Error> {
        let (dir, spot) = self.prepare_dir(&entry.path)?;
        let dest = entry.path.to_fs_path(&self.root);
        let linked = match place(&dir, spot, &dest) {
            // Empty directories where the file goes (left by removed files) are removed,
            // as git does; planning refused any holding a file. The common case pays
            // nothing for checking.
            Err(Error::Write { source, .. }) if is_directory_in_the_way(&source) => {
                remove_empty_dirs(&dest).map_err(|_| Error::Unsafe {
                    path: entry.path.clone(),
                    why: "a directory with other files is in the way".into(),
                })?;
                place(&dir, spot, &dest)?
            }
            other => other?,
        };
        let metadata = fs::symlink_metadata(&dest).map_err(write_err(&dest))?;
        Ok((Stat::from_metadata(&metadata), linked))
    }

    /// What `entry` is made from: the open object of a file, or a symlink's target
    /// (`read` checks it against the id). Opening is also the check that it is there.
    fn open_source(&self, entry: &Entry) -> Result<Source, Error> {
        Ok(match entry.kind {
            Kind::File => {
                let object = self.store.open(&entry.id)?;
                if matches!(object, ObjectFile::Packed(_)) && self.links_to_object(entry.executable)
                {
                    // A hard link or symlink needs the object's own file.
                    drop(object);
                    self.store.unpack(&entry.id)?;
                    Source::File(self.store.open(&entry.id)?)
                } else {
                    Source::File(object)
                }
            }
            Kind::Symlink => {
                let target = self.store.read(&entry.id)?;
                if !self.external_symlinks {
                    link_rule::check(&entry.path, &target)?;
                }
                Source::Symlink(target)
            }
            Kind::Tree => unreachable!("tree entries are expanded before materializing"),
        })
    }

    fn place(
        &self,
        entry: &Entry,
        source: Source,
        dir: &Path,
        spot: Spot,
        dest: &Path,
    ) -> Result<bool, Error> {
        match source {
            Source::Symlink(target) => {
                self.write_symlink(&target, dir, spot, dest)?;
                Ok(false)
            }
            Source::File(object) => self.write_file(
                &entry.id,
                object,
                entry.size,
                entry.executable,
                dir,
                spot,
                dest,
            ),
        }
    }

    fn write_symlink(
        &self,
        target: &[u8],
        dir: &Path,
        spot: Spot,
        dest: &Path,
    ) -> Result<(), Error> {
        let tmp = self.temp_path(dir, spot)?;
        make_symlink(target, &tmp).map_err(write_err(dest))?;
        rename(&tmp, dest)
    }

    #[allow(clippy::too_many_arguments)]
    fn write_file(
        &self,
        id: &ObjectId,
        mut source: ObjectFile,
        size: u64,
        executable: bool,
        dir: &Path,
        spot: Spot,
        dest: &Path,
    ) -> Result<bool, Error> {
        let object = self.store.path(id);
        let base = if executable { 0o777 } else { 0o666 };
        let mode = base & !self.umask.unwrap_or(0o022);
        for link in &self.links {
            match link {
                LinkKind::Reflink => {
                    if self.reflink_failed.load(Ordering::Relaxed) {
                        continue;
                    }
                    // A packed object has no file of its own to clone: it is copied.
                    let Some(object_file) = source.loose() else {
                        continue;
                    };
                    let tmp = self.temp_path(dir, spot)?;
                    if atomic::reflink(object_file, &tmp).is_err() {
                        let _ = atomic::remove_file(&tmp);
                        self.reflink_failed.store(true, Ordering::Relaxed);
                        continue;
                    }
                    // The clone shares the blocks of the object it was made from, damage
                    // included. Hashing that open object checks them; reading the clone
                    // back instead would read from disk what the object's cached pages
                    // already hold (on XFS that more than doubled a full restore).
                    let checked = self
                        .store
                        .verify_opened(id, object_file)
                        .map_err(Error::Store)
                        .and_then(|()| set_mode(&tmp, mode).map_err(write_err(dest)));
                    if let Err(e) = checked {
                        let _ = atomic::remove_file(&tmp);
                        return Err(e);
                    }
                    rename(&tmp, dest)?;
                    return Ok(false);
                }
                LinkKind::Copy => break,
                LinkKind::Hardlink => {
                    // The object is read-only and shared; an executable file needs its own
                    // mode, so it takes the next link type.
                    if executable || self.hardlink_failed.load(Ordering::Relaxed) {
                        continue;
                    }
                    let tmp = self.temp_path(dir, spot)?;
                    if atomic::hard_link(&object, &tmp).is_err() {
                        self.hardlink_failed.store(true, Ordering::Relaxed);
                        continue;
                    }
                    rename(&tmp, dest)?;
                    return Ok(true);
                }
                LinkKind::Symlink => {
                    if executable {
                        continue;
                    }
                    let tmp = self.temp_path(dir, spot)?;
                    let absolute = fs::canonicalize(&object).unwrap_or(object.clone());
                    make_symlink_path(&absolute, &tmp).map_err(write_err(dest))?;
                    rename(&tmp, dest)?;
                    return Ok(true);
                }
            }
        }
        // `copy`, or every other configured type failed or did not apply: a plain copy
        // always works.
        self.copy_object(id, source, size, dir, spot, dest, base)?;
        Ok(false)
    }

    /// Copy an object to `dest` through a temp file, hashing it on the way; the temp
    /// file is removed (dropped) unless the bytes are the object's.
    #[allow(clippy::too_many_arguments)]
    fn copy_object(
        &self,
        id: &ObjectId,
        source: ObjectFile,
        size: u64,
        dir: &Path,
        spot: Spot,
        dest: &Path,
        base: u32,
    ) -> Result<(), Error> {
        let mut tmp = self.temp_file(dir, spot, base).map_err(write_err(dest))?;
        let tmp_path = tmp.path().to_path_buf();
        let copied = self
            .store
            .copy_verified(id, source, size, &mut tmp, &tmp_path)?;
        if copied != size {
            // The object hashes right but is not what the entry records: a damaged tree
            // or index entry, not a damaged object.
            return Err(write_err(dest)(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("object {id} has {copied} bytes, not the {size} recorded: run dvx fsck"),
            )));
        }
        tmp.persist(dest).map_err(write_err(dest))?;
        Ok(())
    }
}

/// The bytes an entry is made from, taken out of the store before anything is written.
enum Source {
    File(ObjectFile),
    Symlink(Vec<u8>),
}

/// A rename or create failed because a directory stands at the destination.
fn is_directory_in_the_way(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::IsADirectory | io::ErrorKind::DirectoryNotEmpty
    ) || e.raw_os_error() == Some(libc::EISDIR)
        || e.raw_os_error() == Some(libc::ENOTEMPTY)
        || e.raw_os_error() == Some(libc::EEXIST)
}

/// Remove `dir` if it holds nothing but directories (at any depth), deepest first; if
/// anything else is in it, nothing is removed. Links are not followed.
fn remove_empty_dirs(dir: &Path) -> io::Result<()> {
    let mut dirs = Vec::new();
    for entry in walkdir::WalkDir::new(dir).contents_first(true) {
        let entry = entry.map_err(io::Error::other)?;
        if !entry.file_type().is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::DirectoryNotEmpty,
                format!("{} is not a directory", entry.path().display()),
            ));
        }
        dirs.push(entry.into_path());
    }
    for d in dirs {
        atomic::remove_dir(&d)?;
    }
    Ok(())
}

/// Remove the temp files a dvx killed mid-write left in `dir` (half-written copies that
/// would otherwise stay in the work tree for good). Only a holder of the repository lock
/// writes into the work tree, so any found now are stale. Best effort: one that cannot be
/// removed is harmless, since walks skip temp names.
fn remove_stale_temps(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let stale = entry
            .file_name()
            .to_str()
            .is_some_and(|name| name.starts_with(TEMP_PREFIX));
        if stale && entry.file_type().is_ok_and(|t| !t.is_dir()) {
            let _ = atomic::remove_file(&entry.path());
        }
    }
}

fn rename(tmp: &Path, dest: &Path) -> Result<(), Error> {
    atomic::rename(tmp, dest).map_err(|e| {
        let _ = atomic::remove_file(tmp);
        write_err(dest)(e)
    })
}

/// The device of the temp area's session, if it can be made.
#[cfg(unix)]
fn temp_device(temps: &TempArea) -> Option<u64> {
    temps.device().ok()
}

#[cfg(not(unix))]
fn temp_device(_temps: &TempArea) -> Option<u64> {
    None
}

#[cfg(unix)]
fn device_of(dir: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(dir).ok().map(|m| m.dev())
}

#[cfg(not(unix))]
fn device_of(_dir: &Path) -> Option<u64> {
    None
}

#[cfg(unix)]
fn make_symlink(target: &[u8], at: &Path) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    atomic::symlink(std::ffi::OsStr::from_bytes(target), at)
}

#[cfg(not(unix))]
fn make_symlink(target: &[u8], at: &Path) -> io::Result<()> {
    atomic::symlink(std::ffi::OsStr::new(&String::from_utf8_lossy(target)), at)
}

fn make_symlink_path(target: &Path, at: &Path) -> io::Result<()> {
    atomic::symlink(target.as_os_str(), at)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    atomic::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(path: &Path, _mode: u32) -> io::Result<()> {
    let mut p = fs::metadata(path)?.permissions();
    p.set_readonly(false);
    atomic::set_permissions(path, p)
}

#[cfg(unix)]
fn set_file_mode(tmp: &TempFile, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    tmp.set_permissions(fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_file_mode(tmp: &TempFile, _mode: u32) -> io::Result<()> {
    let mut p = tmp.file().metadata()?.permissions();
    p.set_readonly(false);
    tmp.set_permissions(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(unix)]
    fn only_a_tree_of_nothing_but_directories_is_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let empty = dir.path().join("empty");
        fs::create_dir_all(empty.join("deep/deeper")).expect("mkdir");
        fs::create_dir_all(empty.join("side")).expect("mkdir");
        remove_empty_dirs(&empty).expect("only directories");
        assert!(!empty.exists());

        let kept = dir.path().join("kept");
        fs::create_dir_all(kept.join("deep/deeper")).expect("mkdir");
        fs::create_dir_all(kept.join("a")).expect("mkdir");
        crate::atomic::write(&kept.join("deep/file"), b"mine").expect("write");
        assert!(remove_empty_dirs(&kept).is_err());
        assert!(kept.join("deep/file").exists(), "nothing was removed");
        assert!(kept.join("deep/deeper").is_dir() && kept.join("a").is_dir());

        // A symlink is not followed, and counts as something in the way.
        let linked = dir.path().join("linked");
        fs::create_dir_all(&linked).expect("mkdir");
        std::os::unix::fs::symlink(&empty, linked.join("link")).expect("symlink");
        assert!(remove_empty_dirs(&linked).is_err());
        assert!(linked.join("link").symlink_metadata().is_ok());
    }
}
