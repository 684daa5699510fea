//! Turning a path typed on the command line into a repository path.

use std::path::{Component, Path, PathBuf};

use super::Error;
use crate::path::RepoPath;
use crate::repo::DVX_DIR;

/// Resolve `arg` (relative to `cwd`, or absolute) to a path inside the repository at
/// `root` (canonical). The path need not exist.
///
/// Inside the repository the path is taken as written, as git does: `..` is resolved
/// lexically and no symlink is followed, neither in the final component (a tracked
/// symlink stays a symlink) nor on the way (a tracked directory replaced by a link out
/// of the repository is still that directory's path, not "outside the repository").
/// Only the part that leads into the repository is resolved: a cwd reached through
/// symlinks, /tmp on macOS, a link elsewhere that points into the repository.
pub fn resolve_path(root: &Path, cwd: &Path, arg: &Path) -> Result<RepoPath, Error> {
    let joined = if arg.is_absolute() {
        arg.to_path_buf()
    } else {
        // Where the user is, as the kernel sees it (as after `cd`, or git's `-C`).
        std::fs::canonicalize(cwd)
            .unwrap_or_else(|_| cwd.to_path_buf())
            .join(arg)
    };
    let normal = normalize(&joined);
    let full = if normal.starts_with(root) {
        normal
    } else {
        enter_root(root, &normal)
    };
    let rel = full.strip_prefix(root).map_err(|_| Error::OutsideRepo {
        path: arg.to_path_buf(),
        root: root.to_path_buf(),
    })?;
    if let Some(Component::Normal(first)) = rel.components().next() {
        if first == DVX_DIR {
            return Err(Error::Reserved {
                path: arg.to_path_buf(),
                inside: ".dvx/",
            });
        }
        if first == ".git" {
            return Err(Error::Reserved {
                path: arg.to_path_buf(),
                inside: ".git/",
            });
        }
    }
    RepoPath::from_relative(rel).map_err(|e| Error::BadName {
        path: arg.display().to_string(),
        why: e.to_string(),
    })
}

/// `path`, which does not lie lexically below `root`, with its shortest prefix whose real
/// location is inside `root` replaced by that location; the rest is kept as written.
/// Unchanged when no prefix leads inside.
fn enter_root(root: &Path, path: &Path) -> PathBuf {
    let mut prefix = PathBuf::new();
    let mut components = path.components();
    while let Some(component) = components.next() {
        prefix.push(component);
        if let Ok(real) = std::fs::canonicalize(&prefix)
            && real.starts_with(root)
        {
            let rest = components.as_path();
            return if rest.as_os_str().is_empty() {
                real
            } else {
                real.join(rest)
            };
        }
    }
    path.to_path_buf()
}

/// Remove `.` and resolve `..` lexically.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_relative_absolute_and_refuses_outside() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = std::fs::canonicalize(dir.path()).expect("canon");
        std::fs::create_dir_all(root.join("data/sub")).expect("mkdir");
        let sub = root.join("data/sub");
        assert_eq!(
            resolve_path(&root, &sub, Path::new("x.csv"))
                .expect("ok")
                .as_str(),
            "data/sub/x.csv"
        );
        assert_eq!(
            resolve_path(&root, &sub, Path::new("../.."))
                .expect("ok")
                .as_str(),
            ""
        );
        assert_eq!(
            resolve_path(&root, &root, &root.join("data"))
                .expect("ok")
                .as_str(),
            "data"
        );
        assert!(matches!(
            resolve_path(&root, &root, Path::new("../elsewhere")),
            Err(Error::OutsideRepo { .. })
        ));
        assert!(matches!(
            resolve_path(&root, &root, Path::new(".dvx/objects")),
            Err(Error::Reserved { .. })
        ));
    }

    /// Regression: below a tracked directory replaced by a symlink out of the
    /// repository, a path was resolved through the link and called "outside the
    /// repository"; one below a link to a sibling became the sibling's path.
    #[cfg(unix)]
    #[test]
    fn symlinked_directories_inside_the_repository_are_not_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = std::fs::canonicalize(dir.path()).expect("canon");
        let root = base.join("repo");
        std::fs::create_dir_all(root.join("data/v1")).expect("mkdir");
        std::fs::create_dir_all(base.join("outside")).expect("mkdir");
        std::os::unix::fs::symlink("v1", root.join("data/cur")).expect("symlink");
        std::os::unix::fs::symlink(base.join("outside"), root.join("data/out")).expect("symlink");
        for (arg, expected) in [
            ("data/cur/x.txt", "data/cur/x.txt"),
            ("data/out/x.txt", "data/out/x.txt"),
            ("data/out/../v1", "data/v1"),
        ] {
            assert_eq!(
                resolve_path(&root, &root, Path::new(arg))
                    .expect("inside")
                    .as_str(),
                expected
            );
        }
        // A cwd reached through a link from outside the repository still resolves.
        std::os::unix::fs::symlink(&root, base.join("repo-link")).expect("symlink");
        assert_eq!(
            resolve_path(&root, &base.join("repo-link/data"), Path::new("cur/x.txt"))
                .expect("inside")
                .as_str(),
            "data/cur/x.txt"
        );
        assert_eq!(
            resolve_path(&root, &base, Path::new("repo-link/data/out/x.txt"))
                .expect("inside")
                .as_str(),
            "data/out/x.txt"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_argument_is_not_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = std::fs::canonicalize(dir.path()).expect("canon");
        std::os::unix::fs::symlink("/etc", root.join("link")).expect("symlink");
        assert_eq!(
            resolve_path(&root, &root, Path::new("link"))
                .expect("ok")
                .as_str(),
            "link"
        );
    }
}
