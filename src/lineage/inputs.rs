//! A run's deps: which are data dvx tracks and which are code git tracks, and whether
//! they may be recorded.
//!
//! A dep path may be both: dvx's part of it (the files at or below it in the index) is a
//! data dep, recorded later as the blob or tree the commit holds there; every file git
//! tracks at or below it is a code dep, recorded by the git blob id of the bytes in the
//! work tree (as `git hash-object --no-filters` computes it). A path neither tracks is
//! refused. Data must be there and unchanged: a dep with changes that are not staged, or
//! with bytes that are not fetched, is refused, since the record would name bytes the
//! command did not read. Staged changes are fine: the run's commit records them.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::{Error, list_paths, read_err};
use crate::git;
use crate::hash::ObjectId;
use crate::index::Index;
use crate::object::{CodeDep, GitBlob, GitHash};
use crate::path::RepoPath;
use crate::progress::Silent;
use crate::workspace::{self, Workspace, never_tracked};

/// One data dep, and what its index entries were when it was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDep {
    pub path: RepoPath,
    /// BLAKE3 over the paths, kinds, modes and ids of the index entries at or below it.
    fingerprint: ObjectId,
}

/// A run's deps, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deps {
    /// The dep paths as given (sorted, unique).
    pub given: Vec<RepoPath>,
    /// dvx's parts, sorted by path.
    pub data: Vec<DataDep>,
    /// git's files, sorted by path, unique.
    pub code: Vec<CodeDep>,
}

/// Classify and check `deps` (sorted, unique paths).
pub fn check(ws: &Workspace, deps: &[RepoPath]) -> Result<Deps, Error> {
    let root = ws.root();
    let index = ws.load_index()?;
    let mut data = Vec::new();
    let mut code = Vec::new();
    for dep in deps {
        let in_dvx = index.has_under(dep) || index.tree_entry_covering(dep).is_some();
        let git_files = match ws.git() {
            Some(git) => git
                .tracked_under(dep.as_str(), usize::MAX)?
                .into_iter()
                .filter_map(|p| RepoPath::new(&p).ok())
                // dvx's ignore blocks and the pin are git's bookkeeping, not code a
                // command reads.
                .filter(|p| never_tracked(p).is_none())
                .collect(),
            None => Vec::new(),
        };
        if !in_dvx && git_files.is_empty() {
            return Err(if fs::symlink_metadata(dep.to_fs_path(root)).is_ok() {
                Error::DepNotTracked { path: dep.clone() }
            } else {
                Error::DepMissing { path: dep.clone() }
            });
        }
        if in_dvx {
            if let Some(cover) = index.tree_entry_covering(dep) {
                return Err(Error::DepNotFetched {
                    path: dep.clone(),
                    list: cover.path.to_string(),
                });
            }
            data.push(dep.clone());
        }
        if let Some(git) = ws.git() {
            for file in git_files {
                code.push(code_dep(git.object_hash(), root, file)?);
            }
        }
    }
    code.sort_by(|a, b| a.path.cmp(&b.path));
    code.dedup_by(|a, b| a.path == b.path);
    if !data.is_empty() {
        check_clean(ws, &data)?;
    }
    let data = data
        .into_iter()
        .map(|path| DataDep {
            fingerprint: fingerprint(&index, &path),
            path,
        })
        .collect();
    Ok(Deps {
        given: deps.to_vec(),
        data,
        code,
    })
}

/// Check `deps` again after the command ran: the same data entries, nothing unstaged,
/// the same code bytes. Anything else means the record would not describe what the
/// command read.
pub fn check_unchanged(ws: &Workspace, before: &Deps) -> Result<(), Error> {
    let now = check(ws, &before.given).map_err(|e| match e {
        Error::DepModified { path, .. }
        | Error::DepMissing { path }
        | Error::DepNotFetched { path, .. }
        | Error::DepNotTracked { path } => Error::DepChanged { path },
        other => other,
    })?;
    if let Some(i) = first_difference(&before.data, &now.data) {
        let dep = before
            .data
            .get(i)
            .or(now.data.get(i))
            .expect("one side has it");
        return Err(Error::DepChanged {
            path: dep.path.clone(),
        });
    }
    if let Some(i) = first_difference(&before.code, &now.code) {
        let dep = before
            .code
            .get(i)
            .or(now.code.get(i))
            .expect("one side has it");
        return Err(Error::DepChanged {
            path: dep.path.clone(),
        });
    }
    Ok(())
}

/// The first position where two lists differ, if they do.
fn first_difference<T: PartialEq>(a: &[T], b: &[T]) -> Option<usize> {
    (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i))
}

/// No changes that are not staged at or below any of `deps`.
fn check_clean(ws: &Workspace, deps: &[RepoPath]) -> Result<(), Error> {
    let paths: Vec<PathBuf> = deps.iter().map(|d| PathBuf::from(d.as_str())).collect();
    let status = workspace::status(ws, ws.root(), &paths, &Silent)?;
    for dep in deps {
        let changes: Vec<String> = status
            .unstaged
            .iter()
            .filter(|c| c.path.is_within(dep))
            .map(|c| format!("{} {}", c.kind.name(), c.path))
            .collect();
        if !changes.is_empty() {
            return Err(Error::DepModified {
                path: dep.clone(),
                list: list_paths(&changes),
            });
        }
        let absent: Vec<&RepoPath> = status
            .not_fetched
            .iter()
            .filter(|p| p.is_within(dep) || dep.is_within(p))
            .collect();
        if !absent.is_empty() {
            return Err(Error::DepNotFetched {
                path: dep.clone(),
                list: list_paths(&absent),
            });
        }
    }
    Ok(())
}

/// What the index says is at or below `dep`: enough to see that nothing changed there.
fn fingerprint(index: &Index, dep: &RepoPath) -> ObjectId {
    let mut hasher = blake3::Hasher::new();
    for e in index.iter_under(dep) {
        hasher.update(e.path.as_str().as_bytes());
        hasher.update(&[0, e.kind as u8, u8::from(e.executable)]);
        hasher.update(e.id.as_bytes());
    }
    ObjectId::from(hasher.finalize())
}

/// A code dep: the git blob id of the bytes at `path` in the work tree.
fn code_dep(algorithm: GitHash, root: &Path, path: RepoPath) -> Result<CodeDep, Error> {
    let Some(bytes) = read_code(root, &path)? else {
        return Err(Error::DepMissing { path });
    };
    Ok(CodeDep {
        blob: git::blob_id(algorithm, &bytes)?,
        path,
    })
}

/// The git blob id the file at `path` has now (`None` when there is no file), for
/// comparing a code dep with what a run recorded.
pub fn code_blob_now(
    root: &Path,
    path: &RepoPath,
    algorithm: GitHash,
) -> Result<Option<GitBlob>, Error> {
    match read_code(root, path)? {
        Some(bytes) => Ok(Some(git::blob_id(algorithm, &bytes)?)),
        None => Ok(None),
    }
}

/// What git would store for `path`: a file's bytes or a symlink's target; `None` when
/// there is no file (or a directory) there.
pub fn read_code(root: &Path, path: &RepoPath) -> Result<Option<Vec<u8>>, Error> {
    let abs = path.to_fs_path(root);
    let metadata = match fs::symlink_metadata(&abs) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read_err(&abs)(e)),
    };
    if metadata.file_type().is_symlink() {
        return workspace::symlink_target_bytes(&abs)
            .map(Some)
            .map_err(read_err(&abs));
    }
    if !metadata.is_file() {
        return Ok(None);
    }
    fs::read(&abs).map(Some).map_err(read_err(&abs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atomic;

    /// Code deps carry the id git itself gives the bytes (checked against the real `git`
    /// binary), and the id docs/format.md's run record example states.
    #[test]
    fn code_deps_have_gits_blob_ids() {
        let bytes = b"cat data.csv data.csv > model.pt\n";
        let ours = git::blob_id(GitHash::Sha1, bytes).expect("hash").hex();
        assert_eq!(ours, "e9f66ad3f496c7fbf84c315dabee1434db4ab503");
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("train.sh");
        atomic::write(&file, bytes).expect("write");
        let out = std::process::Command::new("git")
            .args(["hash-object", "--no-filters"])
            .arg(&file)
            .output()
            .expect("run git");
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), ours);
        assert_eq!(
            read_code(dir.path(), &RepoPath::new("train.sh").expect("path"))
                .expect("read")
                .as_deref(),
            Some(&bytes[..])
        );
        assert_eq!(
            read_code(dir.path(), &RepoPath::new("absent").expect("path")).expect("read"),
            None
        );
    }
}
