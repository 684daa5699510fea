//! `dvx rm`: stop tracking paths, and delete their files unless `--cached`.

use std::fs;
use std::path::{Path, PathBuf};

use super::compare::check_entry;
use super::real_dirs::RealDirs;
use super::{Error, Workspace, expand_to, read_err, resolve_path, write_err};
use crate::git::ignore_block;
use crate::index::Kind;
use crate::path::RepoPath;
use crate::repo::RepoLock;

/// What `rm` did.
#[derive(Debug, Default)]
pub struct RmReport {
    /// Index entries removed (files, and unexpanded directories counted once).
    pub untracked: Vec<RepoPath>,
    /// Files deleted from the work tree.
    pub deleted_files: usize,
    /// `.gitignore` files changed.
    pub gitignores_changed: Vec<PathBuf>,
}

/// Untrack `paths` (relative to `cwd`). Without `cached`, their files are deleted too,
/// and a file with changes not staged is refused unless `force`.
pub fn rm(
    ws: &Workspace,
    lock: &RepoLock,
    cwd: &Path,
    paths: &[PathBuf],
    cached: bool,
    force: bool,
) -> Result<RmReport, Error> {
    let root = ws.root();
    let store = ws.repo().store();
    let mut index = ws.load_index()?;
    let mut targets = Vec::new();
    for arg in paths {
        let path = resolve_path(root, cwd, arg)?;
        expand_to(&mut index, store, &path)?;
        if !index.has_under(&path) {
            return Err(Error::NotTracked { path });
        }
        targets.push(path);
    }
    // Check every file before deleting any.
    if !cached && !force {
        for target in &targets {
            for e in index.iter_under(target) {
                let state = check_entry(root, &index, store, e, None)
                    .map_err(read_err(&e.path.to_fs_path(root)))?;
                if state.is_change() && !matches!(state, super::FileState::Deleted) {
                    return Err(Error::LocalChanges {
                        path: e.path.clone(),
                    });
                }
            }
        }
    }
    let mut report = RmReport::default();
    let mut real_dirs = RealDirs::new(root);
    for target in &targets {
        let entries: Vec<_> = index.iter_under(target).cloned().collect();
        for e in entries {
            if !cached && e.kind != Kind::Tree && !e.not_fetched && real_dirs.lead_to(&e.path) {
                let abs = e.path.to_fs_path(root);
                match fs::remove_file(&abs) {
                    Ok(()) => {
                        report.deleted_files += 1;
                        prune_empty_dirs(root, &e.path);
                    }
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                    Err(err) => return Err(write_err(&abs)(err)),
                }
            }
            index.remove(&e.path);
            report.untracked.push(e.path);
        }
        let roots: Vec<RepoPath> = index
            .roots()
            .iter()
            .filter(|r| r.is_within(target))
            .cloned()
            .collect();
        for r in roots {
            index.remove_root(&r);
            if ws.git().is_some()
                && !r.is_root()
                && let Some(file) = ignore_block::remove(root, lock, &r).map_err(write_err(root))?
                && !report.gitignores_changed.contains(&file)
            {
                report.gitignores_changed.push(file);
            }
        }
    }
    ws.write_index(lock, &mut index)?;
    Ok(report)
}

/// Remove the directories above `path` that are now empty, up to (not including) the
/// repository root. Directories with anything left in them stay.
pub(super) fn prune_empty_dirs(root: &Path, path: &RepoPath) {
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d.is_root() || fs::remove_dir(d.to_fs_path(root)).is_err() {
            break;
        }
        dir = d.parent();
    }
}
