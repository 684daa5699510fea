//! Turning a path typed on the command line into a repository path.

use std::path::{Component, Path, PathBuf};

use super::Error;
use crate::path::RepoPath;
use crate::repo::DVX_DIR;

/// Resolve `arg` (relative to `cwd`, or absolute) to a path inside the repository at
/// `root` (canonical). The path need not exist. Symlinks in the final component are not
/// followed, so a tracked symlink stays a symlink.
pub fn resolve_path(root: &Path, cwd: &Path, arg: &Path) -> Result<RepoPath, Error> {
    let joined = if arg.is_absolute() {
        arg.to_path_buf()
    } else {
        cwd.join(arg)
    };
    let normal = normalize(&joined);
    // Canonicalize the deepest existing ancestor of the parent, so a symlinked cwd (or
    // /tmp on macOS) still lands inside the canonical root; the final component is kept
    // as written, so a tracked symlink stays a symlink.
    let mut tail = Vec::new();
    let mut existing = normal.clone();
    if let (Some(parent), Some(name)) = (normal.parent(), normal.file_name()) {
        tail.push(name.to_os_string());
        existing = parent.to_path_buf();
    }
    while !existing.exists() {
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                tail.push(name.to_os_string());
                existing = parent.to_path_buf();
            }
            _ => break,
        }
    }
    let mut full = std::fs::canonicalize(&existing).unwrap_or(existing);
    for name in tail.into_iter().rev() {
        full.push(name);
    }
    if !full.starts_with(root)
        && let Ok(canonical) = std::fs::canonicalize(&normal)
    {
        // The final component was itself a symlinked directory leading into the repo.
        full = canonical;
    }
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
