//! Reading one directory: its names, what kind each is, and the lstat of each file, all
//! relative to the open directory.
//!
//! Owns the system calls of a walk, nothing else (ignore rules, name checks and ordering
//! are the walk's). Why not `std::fs::read_dir`: it allocates two strings per name (the
//! entry's and `file_name()`'s) and a `PathBuf` per error path, which at a million files
//! cost more than the `lstat`s themselves. Here a directory's names live in one buffer,
//! each NUL-terminated (on Linux read with `getdents64` straight from the open
//! descriptor, without a `DIR` stream or a duplicate descriptor), and every `lstat` is an `fstatat` relative to the open directory
//! (one path component for the kernel to look up, never a symlink followed).
//!
//! Invariants: a [`Dir`] is opened without following a symlink at its last component
//! (`O_NOFOLLOW`), so a walk that only descends through [`Dir::open_child`] never leaves
//! the directories it was started in; names never contain `/` or NUL (the kernel's).

use std::io;
use std::path::{Path, PathBuf};

use crate::stat::{FileKind, Observed};

/// What the directory listing says a name is, before any `lstat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeHint {
    Dir,
    File,
    Symlink,
    Other,
    /// The file system does not say (`DT_UNKNOWN`): an `lstat` must tell.
    Unknown,
}

/// The names in one directory (`.` and `..` excluded), in one buffer.
#[derive(Debug, Default)]
pub struct Listing {
    /// Every name followed by a NUL byte.
    buf: Vec<u8>,
    names: Vec<Name>,
}

#[derive(Debug, Clone, Copy)]
struct Name {
    start: u32,
    len: u32,
    hint: TypeHint,
}

impl Listing {
    fn push(&mut self, name: &[u8], hint: TypeHint) {
        let start = u32::try_from(self.buf.len()).expect("a directory listing under 4 GiB");
        self.buf.extend_from_slice(name);
        self.buf.push(0);
        self.names.push(Name {
            start,
            len: name.len() as u32,
            hint,
        });
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// The bytes of all names together (with a NUL each).
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    /// The `i`th name's bytes (no NUL).
    pub fn name(&self, i: usize) -> &[u8] {
        let n = self.names[i];
        &self.buf[n.start as usize..(n.start + n.len) as usize]
    }

    pub fn hint(&self, i: usize) -> TypeHint {
        self.names[i].hint
    }

    /// The `i`th name with its NUL, for system calls.
    #[cfg(unix)]
    fn c_name(&self, i: usize) -> &std::ffi::CStr {
        let n = self.names[i];
        std::ffi::CStr::from_bytes_with_nul(
            &self.buf[n.start as usize..=(n.start + n.len) as usize],
        )
        .expect("each name is followed by exactly one NUL")
    }

    /// Sort by name, bytewise (within one directory, that is path order).
    pub fn sort(&mut self) {
        let buf = &self.buf;
        let bytes = |n: &Name| &buf[n.start as usize..(n.start + n.len) as usize];
        self.names.sort_unstable_by(|a, b| bytes(a).cmp(bytes(b)));
    }
}

/// An open directory.
#[derive(Debug)]
pub struct Dir {
    #[cfg(unix)]
    fd: std::os::fd::OwnedFd,
    #[cfg(not(unix))]
    path: PathBuf,
}

#[cfg(unix)]
mod sys {
    use std::ffi::CStr;
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

    use super::{Listing, TypeHint};
    use crate::stat::Stat;

    const OPEN_DIR: libc::c_int =
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;

    pub fn open_at(dir: RawFd, name: &CStr) -> io::Result<OwnedFd> {
        // SAFETY: `name` is NUL-terminated; `dir` is an open descriptor or AT_FDCWD.
        let fd = unsafe { libc::openat(dir, name.as_ptr(), OPEN_DIR) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just opened and is owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// The names in `dir`, read with `getdents64` straight into one buffer (no `DIR`
    /// stream, no duplicate descriptor).
    #[cfg(target_os = "linux")]
    pub fn list(dir: &OwnedFd) -> io::Result<Listing> {
        // linux_dirent64: d_ino u64, d_off i64, d_reclen u16, d_type u8, d_name[].
        const NAME_AT: usize = 19;
        let mut out = Listing::default();
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            // SAFETY: `buf` is writable for its length; `dir` is an open directory.
            let n = unsafe {
                libc::syscall(
                    libc::SYS_getdents64,
                    dir.as_raw_fd(),
                    buf.as_mut_ptr(),
                    buf.len(),
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if n == 0 {
                return Ok(out);
            }
            let mut at = 0usize;
            while at < n as usize {
                let reclen = u16::from_ne_bytes([buf[at + 16], buf[at + 17]]) as usize;
                let d_type = buf[at + 18];
                let name = &buf[at + NAME_AT..at + reclen];
                let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
                at += reclen;
                if name == b"." || name == b".." {
                    continue;
                }
                out.push(name, hint_of(d_type));
            }
        }
    }

    fn hint_of(d_type: u8) -> TypeHint {
        match d_type {
            libc::DT_DIR => TypeHint::Dir,
            libc::DT_REG => TypeHint::File,
            libc::DT_LNK => TypeHint::Symlink,
            libc::DT_UNKNOWN => TypeHint::Unknown,
            _ => TypeHint::Other,
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub fn list(dir: &OwnedFd) -> io::Result<Listing> {
        // `fdopendir` takes ownership of the descriptor it is given, and `closedir` closes
        // it: give it a duplicate, so `dir` stays open for the `fstatat`s that follow.
        // SAFETY: `dir` is an open descriptor.
        let dup = unsafe { libc::fcntl(dir.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
        if dup < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `dup` is an open directory descriptor that nothing else owns.
        let stream = unsafe { libc::fdopendir(dup) };
        if stream.is_null() {
            let e = io::Error::last_os_error();
            // SAFETY: fdopendir failed, so `dup` is still ours to close.
            unsafe { libc::close(dup) };
            return Err(e);
        }
        let mut out = Listing::default();
        let result = loop {
            // readdir reports errors only through errno, so clear it first.
            // SAFETY: errno is thread-local.
            unsafe { *libc::__errno_location() = 0 };
            // SAFETY: `stream` is an open DIR* used by this thread only.
            let entry = unsafe { libc::readdir64(stream) };
            if entry.is_null() {
                let e = io::Error::last_os_error();
                break if e.raw_os_error() == Some(0) {
                    Ok(())
                } else {
                    Err(e)
                };
            }
            // SAFETY: readdir returned a valid entry whose d_name is NUL-terminated; it
            // stays valid until the next readdir on this stream.
            let (name, d_type) = unsafe {
                let entry = &*entry;
                (
                    CStr::from_ptr(entry.d_name.as_ptr()).to_bytes(),
                    entry.d_type,
                )
            };
            if name == b"." || name == b".." {
                continue;
            }
            out.push(name, hint_of(d_type));
        };
        // SAFETY: `stream` is open; this also closes `dup`.
        unsafe { libc::closedir(stream) };
        result.map(|()| out)
    }

    pub fn lstat_at(dir: &OwnedFd, name: &CStr) -> io::Result<(libc::mode_t, Stat)> {
        // SAFETY: an all-zero `stat` is a valid value of this plain C struct.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: `name` is NUL-terminated, `dir` is open, `st` is a live out-pointer.
        let rc = unsafe {
            libc::fstatat(
                dir.as_raw_fd(),
                name.as_ptr(),
                &raw mut st,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((st.st_mode, Stat::from_raw(&st)))
    }
}

impl Dir {
    /// Open the directory at `path` (not through a symlink at its last component).
    pub fn open(path: &Path) -> io::Result<Dir> {
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let c = std::ffi::CString::new(path.as_os_str().as_bytes())
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in a path"))?;
            Ok(Dir {
                fd: sys::open_at(libc::AT_FDCWD, &c)?,
            })
        }
        #[cfg(not(unix))]
        {
            if !std::fs::symlink_metadata(path)?.is_dir() {
                return Err(io::Error::new(
                    io::ErrorKind::NotADirectory,
                    "not a directory",
                ));
            }
            Ok(Dir {
                path: path.to_path_buf(),
            })
        }
    }

    /// Open the subdirectory named by `listing`'s `i`th name.
    pub fn open_child(&self, listing: &Listing, i: usize) -> io::Result<Dir> {
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            Ok(Dir {
                fd: sys::open_at(self.fd.as_raw_fd(), listing.c_name(i))?,
            })
        }
        #[cfg(not(unix))]
        {
            Dir::open(&self.child_path(listing, i))
        }
    }

    /// Every name in the directory, unsorted.
    pub fn list(&self) -> io::Result<Listing> {
        #[cfg(unix)]
        {
            sys::list(&self.fd)
        }
        #[cfg(not(unix))]
        {
            let mut out = Listing::default();
            for entry in std::fs::read_dir(&self.path)? {
                let entry = entry?;
                let t = entry.file_type()?;
                let hint = if t.is_dir() {
                    TypeHint::Dir
                } else if t.is_file() {
                    TypeHint::File
                } else if t.is_symlink() {
                    TypeHint::Symlink
                } else {
                    TypeHint::Other
                };
                out.push(entry.file_name().to_string_lossy().as_bytes(), hint);
            }
            Ok(out)
        }
    }

    /// The lstat of `listing`'s `i`th name (a symlink is not followed).
    pub fn lstat(&self, listing: &Listing, i: usize) -> io::Result<Observed> {
        #[cfg(unix)]
        {
            let (mode, stat) = sys::lstat_at(&self.fd, listing.c_name(i))?;
            let kind = match mode & libc::S_IFMT {
                libc::S_IFDIR => FileKind::Dir,
                libc::S_IFREG => FileKind::File,
                libc::S_IFLNK => FileKind::Symlink,
                _ => FileKind::Other,
            };
            Ok(Observed { kind, stat })
        }
        #[cfg(not(unix))]
        {
            Observed::lstat(&self.child_path(listing, i))
        }
    }

    #[cfg(not(unix))]
    fn child_path(&self, listing: &Listing, i: usize) -> PathBuf {
        self.path
            .join(String::from_utf8_lossy(listing.name(i)).into_owned())
    }
}

/// `dir/name` as a file-system path, for error messages.
pub fn child_path(dir: &Path, name: &[u8]) -> PathBuf {
    dir.join(String::from_utf8_lossy(name).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atomic;

    #[test]
    fn lists_names_with_kinds_and_stats_them_like_std() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir(root.join("sub")).expect("mkdir");
        atomic::write(&root.join("b.bin"), b"12345").expect("write");
        #[cfg(unix)]
        std::os::unix::fs::symlink("b.bin", root.join("a-link")).expect("symlink");
        let open = Dir::open(root).expect("open");
        let mut listing = open.list().expect("list");
        listing.sort();
        let names: Vec<&[u8]> = (0..listing.len()).map(|i| listing.name(i)).collect();
        #[cfg(unix)]
        assert_eq!(names, [&b"a-link"[..], b"b.bin", b"sub"]);
        for i in 0..listing.len() {
            let seen = open.lstat(&listing, i).expect("lstat");
            let path = child_path(root, listing.name(i));
            assert_eq!(seen, Observed::lstat(&path).expect("std lstat"), "{path:?}");
            if listing.hint(i) != TypeHint::Unknown {
                let hinted = match listing.hint(i) {
                    TypeHint::Dir => FileKind::Dir,
                    TypeHint::File => FileKind::File,
                    TypeHint::Symlink => FileKind::Symlink,
                    _ => FileKind::Other,
                };
                assert_eq!(hinted, seen.kind);
            }
        }
        let sub = (0..listing.len())
            .find(|&i| listing.name(i) == b"sub")
            .expect("sub listed");
        assert!(
            open.open_child(&listing, sub)
                .expect("open sub")
                .list()
                .expect("list")
                .len()
                == 0
        );
    }

    #[test]
    fn lists_a_directory_larger_than_one_read_whole_and_once() {
        // 3000 names of ~60 bytes overflow the 32 KiB buffer of one getdents call several
        // times: every name must come back exactly once.
        let dir = tempfile::tempdir().expect("tempdir");
        let mut want: Vec<String> = (0..3000)
            .map(|i| format!("{i:05}-a-name-long-enough-to-fill-the-buffer-quickly.bin"))
            .collect();
        for name in &want {
            atomic::write(&dir.path().join(name), b"").expect("write");
        }
        let mut listing = Dir::open(dir.path()).expect("open").list().expect("list");
        listing.sort();
        let got: Vec<String> = (0..listing.len())
            .map(|i| String::from_utf8(listing.name(i).to_vec()).expect("utf-8"))
            .collect();
        want.sort();
        assert_eq!(got, want);
        assert!(
            (0..listing.len())
                .all(|i| matches!(listing.hint(i), TypeHint::File | TypeHint::Unknown))
        );
    }

    #[cfg(unix)]
    #[test]
    fn never_opens_a_directory_through_a_symlink() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("real")).expect("mkdir");
        std::os::unix::fs::symlink("real", dir.path().join("link")).expect("symlink");
        assert!(Dir::open(&dir.path().join("link")).is_err());
        let open = Dir::open(dir.path()).expect("open");
        let listing = open.list().expect("list");
        let link = (0..listing.len())
            .find(|&i| listing.name(i) == b"link")
            .expect("listed");
        assert!(open.open_child(&listing, link).is_err());
    }
}
