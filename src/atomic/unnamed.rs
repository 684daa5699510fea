//! A new file written without a name in the directory it is going to, then named.
//!
//! Owns: [`UnnamedFile`], Linux's `O_TMPFILE`. The file has no name until
//! [`UnnamedFile::name_new`] links it at its final path, never over anything already
//! there, so no reader, walk or crash ever sees it half-written, and a crash leaves
//! nothing behind to sweep: the kernel frees an inode that was never named.
//!
//! Why it exists besides the temp area: a temp file made in the one session directory
//! and renamed away takes that directory's lock twice (create, rename) against every
//! other writing thread, and its inode is allocated in that directory's block group, so
//! a pull of 20k files put 40k inodes in one group (ext4 then scans every recently freed
//! inode there for each new one). Made in its own destination directory, a new file
//! locks only that directory and its inode lands where `cp -r` would put it.
//!
//! Where this cannot be done (not Linux, no `/proc` to name the file by, a file system
//! without `O_TMPFILE`), [`UnnamedFile::new_in`] answers `Ok(None)` and the caller uses
//! the temp area as before.

use std::fs::{File, Permissions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{Op, op, write_op};

/// A file being written, with no name yet, in the directory that will hold it.
pub struct UnnamedFile {
    file: File,
    /// The directory it was made in (where it can be named), for errors and counting.
    dir: PathBuf,
}

impl UnnamedFile {
    /// An empty unnamed file in `dir`, created with `mode` less the umask (as `open(2)`
    /// gives it). `Ok(None)` where unnamed files cannot be made or named here; an error
    /// (`NotFound` for a missing `dir`) is one a named file would have met as well.
    pub fn new_in(dir: &Path, mode: u32) -> io::Result<Option<UnnamedFile>> {
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::fs::OpenOptionsExt;
            if !super::proc_fd::usable() {
                return Ok(None);
            }
            let opened = op(Op::Create, dir, || {
                std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .mode(mode)
                    .custom_flags(libc::O_TMPFILE)
                    .open(dir)
            });
            match opened {
                Ok(file) => Ok(Some(UnnamedFile {
                    file,
                    dir: dir.to_path_buf(),
                })),
                Err(e) if unsupported(&e) => Ok(None),
                Err(e) => Err(e),
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (dir, mode);
            Ok(None)
        }
    }

    /// Write `bytes` as the new file `to` in `dir`: made unnamed with `mode` less the
    /// umask (then set to `exact`, if given), written, and named once whole. `Ok(false)`
    /// when unnamed files cannot be made here, or when the file could not be named
    /// (something is at `to`, or naming through `/proc` was refused, as in a sandbox):
    /// the caller then writes it its other way, which judges what is there and meets any
    /// real error (a full disk) itself.
    pub fn write_new(
        dir: &Path,
        mode: u32,
        exact: Option<u32>,
        bytes: &[u8],
        to: &Path,
    ) -> io::Result<bool> {
        let Some(mut file) = UnnamedFile::new_in(dir, mode)? else {
            return Ok(false);
        };
        if let Some(exact) = exact {
            file.set_mode(exact)?;
        }
        file.write_all(bytes)?;
        Ok(file.name_new(to).is_ok())
    }

    /// Set the file's mode before it is named (unnamed files are made on Linux only, so
    /// this is a Unix mode).
    pub fn set_mode(&self, mode: u32) -> io::Result<()> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            op(Op::Chmod, &self.dir, || {
                self.file.set_permissions(Permissions::from_mode(mode))
            })
        }
        #[cfg(not(unix))]
        {
            let _ = mode;
            Ok(())
        }
    }

    /// Give the finished file its name `to` (in the directory it was made in), unless
    /// something is there already: then `AlreadyExists`, and the file stays unnamed (it
    /// is freed when dropped). Returns the open file, now named.
    pub fn name_new(self, to: &Path) -> io::Result<File> {
        debug_assert_eq!(
            to.parent(),
            Some(self.dir.as_path()),
            "named in its own directory"
        );
        #[cfg(target_os = "linux")]
        op(Op::Link, to, || super::proc_fd::link(&self.file, to))?;
        Ok(self.file)
    }
}

impl Write for UnnamedFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let file = &mut self.file;
        write_op(Op::Write, &self.dir, buf, |b| file.write(b))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Whether opening with `O_TMPFILE` failed because the file system or kernel cannot make
/// unnamed files (an old kernel sees a write-open of a directory: `EISDIR`).
#[cfg(target_os = "linux")]
fn unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// An unnamed file in `dir`, or `None` where this machine cannot make one (the test
    /// then has nothing to check).
    fn unnamed(dir: &Path) -> Option<UnnamedFile> {
        UnnamedFile::new_in(dir, 0o644).expect("open")
    }

    #[test]
    fn a_named_file_holds_its_bytes_and_nothing_was_visible_before() {
        let dir = tempfile::tempdir().expect("tempdir");
        let Some(mut file) = unnamed(dir.path()) else {
            return;
        };
        file.write_all(b"payload").expect("write");
        assert_eq!(
            std::fs::read_dir(dir.path()).expect("list").count(),
            0,
            "nothing has a name before it is named"
        );
        let to = dir.path().join("final");
        file.name_new(&to).expect("name");
        let mut bytes = Vec::new();
        File::open(&to)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .expect("read");
        assert_eq!(bytes, b"payload");
    }

    #[test]
    fn naming_over_an_existing_file_fails_and_leaves_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let to = dir.path().join("taken");
        std::fs::write(&to, b"theirs").expect("write");
        let Some(mut file) = unnamed(dir.path()) else {
            return;
        };
        file.write_all(b"mine").expect("write");
        let err = file.name_new(&to).expect_err("refused");
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&to).expect("read"), b"theirs");
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 1);
    }

    #[test]
    fn a_dropped_unnamed_file_leaves_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        if let Some(mut file) = unnamed(dir.path()) {
            file.write_all(b"gone").expect("write");
        }
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 0);
    }

    #[test]
    fn a_missing_directory_is_an_error_not_a_fallback() {
        let dir = tempfile::tempdir().expect("tempdir");
        match UnnamedFile::new_in(&dir.path().join("absent"), 0o644) {
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::NotFound),
            Ok(None) => {} // unnamed files unsupported here: the caller falls back
            Ok(Some(_)) => panic!("a file in a directory that does not exist"),
        }
    }
}
