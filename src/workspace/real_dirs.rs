//! Which paths are in the work tree: those whose every directory above is a real one.
//!
//! As git sees it, a path below a symlinked directory is "beyond a symbolic link" and not
//! in the work tree. A tracked directory replaced by a symlink (data moved elsewhere and
//! linked back, or a link to a sibling that holds the same bytes) leaves its tracked
//! files absent, not present through the link. So nothing below one is read, hashed,
//! judged equal to a target, or deleted: that would compare, or destroy, files that are
//! not the work tree's. The link itself is an ordinary path of the work tree.
//!
//! Owns [`RealDirs`] (directories checked once per command) and [`lstat`], the lstat of
//! a tracked path that never looks through a link. Does not own writing: the materializer
//! replaces a symlink where a directory goes.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::Path;

use crate::path::RepoPath;
use crate::stat::Observed;

/// The directories of the work tree known to be real directories (not symlinks or
/// files), so that deleting tracked files never reaches through a symlink to files
/// outside the work tree, and each directory is checked once.
pub(super) struct RealDirs<'a> {
    root: &'a Path,
    known: HashSet<RepoPath>,
}

impl<'a> RealDirs<'a> {
    pub(super) fn new(root: &'a Path) -> RealDirs<'a> {
        RealDirs {
            root,
            known: HashSet::new(),
        }
    }

    /// Whether every directory from the root down to `path`'s parent is a real directory.
    /// When one is a symlink (or missing, or a file), `path` is not in the work tree, as
    /// git sees it ("beyond a symbolic link"), and nothing may be deleted there.
    pub(super) fn lead_to(&mut self, path: &RepoPath) -> bool {
        self.first_not_real(path).is_none()
    }

    /// The highest directory above `path` that is not a real directory (a symlink, a
    /// file, or nothing), if any.
    pub(super) fn first_not_real(&mut self, path: &RepoPath) -> Option<RepoPath> {
        let parent = path.parent()?;
        for dir in parent
            .ancestors()
            .skip(1)
            .chain(std::iter::once(parent.clone()))
        {
            if dir.is_root() || self.known.contains(&dir) {
                continue;
            }
            match fs::symlink_metadata(dir.to_fs_path(self.root)) {
                Ok(m) if m.is_dir() => {
                    self.known.insert(dir);
                }
                _ => return Some(dir),
            }
        }
        None
    }
}

/// lstat `path` under `root` without looking through a symlinked directory: `NotFound`
/// when a directory above it is a symlink (or not a directory), whatever lies beyond.
pub fn lstat(root: &Path, path: &RepoPath) -> io::Result<Observed> {
    let observed = Observed::lstat(&path.to_fs_path(root))?;
    // Checked only once something was found, so an absent path (a deleted or not-fetched
    // file) still costs one lstat.
    if RealDirs::new(root).lead_to(path) {
        Ok(observed)
    } else {
        Err(io::ErrorKind::NotFound.into())
    }
}

/// Whether `path` is a real directory of the work tree (and so is everything above it).
pub fn is_real_dir(root: &Path, path: &RepoPath) -> bool {
    lstat(root, path).is_ok_and(|o| o.kind == crate::stat::FileKind::Dir)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::stat::FileKind;

    fn p(s: &str) -> RepoPath {
        RepoPath::new(s).expect("valid test path")
    }

    #[test]
    fn nothing_is_seen_through_a_symlinked_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        fs::create_dir_all(root.join("data/v1")).expect("mkdir");
        crate::atomic::write(&root.join("data/v1/x.txt"), b"x").expect("write");
        std::os::unix::fs::symlink("v1", root.join("data/cur")).expect("symlink");

        let real = lstat(root, &p("data/v1/x.txt")).expect("a real path");
        assert_eq!(real.kind, FileKind::File);
        let link = lstat(root, &p("data/cur")).expect("the link itself");
        assert_eq!(link.kind, FileKind::Symlink);
        let beyond = lstat(root, &p("data/cur/x.txt")).expect_err("beyond the link");
        assert_eq!(beyond.kind(), io::ErrorKind::NotFound);

        assert!(is_real_dir(root, &p("data/v1")));
        assert!(!is_real_dir(root, &p("data/cur")));
        assert_eq!(
            RealDirs::new(root).first_not_real(&p("data/cur/x.txt")),
            Some(p("data/cur"))
        );
        assert_eq!(
            RealDirs::new(root).first_not_real(&p("data/v1/x.txt")),
            None
        );
    }
}
