//! Planning a run: everything checked before the command starts.
//!
//! `dvx run` plans without the repository lock (a training run may take hours, and other
//! dvx commands must not wait for it), runs the command, then records under the lock,
//! checking the deps again. `dvx record` plans and records under one lock.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::env_name;
use super::inputs::{self, Deps};
use super::{Error, read_err};
use crate::hash::ObjectId;
use crate::object::{EnvVar, GitLink, Origin};
use crate::path::RepoPath;
use crate::progress::Progress;
use crate::repo::RepoLock;
use crate::workspace::{self, AddReport, Workspace, never_tracked, resolve_path, walk};

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// Dep paths, relative to the working directory.
    pub deps: Vec<PathBuf>,
    /// Out paths, relative to the working directory.
    pub outs: Vec<PathBuf>,
    /// The command line; empty when not known (`record` without `--command`).
    pub command: Vec<String>,
    /// The variables to record, with the values the caller read.
    pub env: Vec<EnvVar>,
    pub origin: Origin,
}

/// One out, and how it looked before the command ran.
#[derive(Debug, Clone)]
pub struct PlannedOut {
    pub path: RepoPath,
    /// A fingerprint of the stat data of every file at or below it; `None` when absent.
    before: Option<ObjectId>,
}

/// A checked run, ready for its command to run.
#[derive(Debug, Clone)]
pub struct RunPlan {
    pub origin: Origin,
    pub command: Vec<String>,
    /// The working directory, from the top of the work tree.
    pub cwd: RepoPath,
    /// Sorted by name, unique.
    pub env: Vec<EnvVar>,
    pub deps: Deps,
    /// Sorted by path, unique.
    pub outs: Vec<PlannedOut>,
    /// The git commit the code is at, and whether git's work tree is dirty.
    pub git: Option<GitLink>,
}

impl RunPlan {
    /// Where the command runs: the top of the work tree plus the recorded directory.
    pub fn work_dir(&self, root: &Path) -> PathBuf {
        self.cwd.to_fs_path(root)
    }

    /// The outs whose files differ from before the command ran (what a failed command
    /// left behind).
    pub fn outs_touched(&self, ws: &Workspace) -> Result<Vec<RepoPath>, Error> {
        let mut touched = Vec::new();
        for out in &self.outs {
            if out_state(ws, &out.path)? != out.before {
                touched.push(out.path.clone());
            }
        }
        Ok(touched)
    }

    /// Refuse outs the command did not write: absent, or with every file as it was.
    pub(super) fn check_outs_written(&self, ws: &Workspace) -> Result<(), Error> {
        for out in &self.outs {
            let now = out_state(ws, &out.path)?;
            match self.origin {
                Origin::Ran if now.is_none() || now == out.before => {
                    return Err(Error::OutNotWritten {
                        path: out.path.clone(),
                    });
                }
                Origin::Recorded if now.is_none() => {
                    return Err(Error::OutMissing {
                        path: out.path.clone(),
                    });
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Check a run before its command runs: the deps are tracked, fetched and without
/// unstaged changes (a data dep) or tracked by git (a code dep); the outs are not deps,
/// not git's, and could be tracked; the environment names are valid and name no
/// credential. For `Origin::Ran` the outs' current state is noted, so an out the command
/// does not write is caught.
pub fn plan(ws: &Workspace, cwd: &Path, request: RunRequest) -> Result<RunPlan, Error> {
    let root = ws.root();
    let work_dir = resolve_path(root, cwd, Path::new("."))?;
    let deps = resolve_all(root, cwd, &request.deps)?;
    let outs = resolve_all(root, cwd, &request.outs)?;
    for out in &outs {
        if out.is_root() {
            return Err(Error::OutNotTrackable {
                path: out.clone(),
                why: "it is the top of the work tree".into(),
            });
        }
        if let Some(why) = never_tracked(out) {
            return Err(Error::OutNotTrackable {
                path: out.clone(),
                why: why.into(),
            });
        }
        if let Some(dep) = deps.iter().find(|d| out.is_within(d) || d.is_within(out)) {
            return Err(Error::OutIsDep {
                out: out.clone(),
                dep: dep.clone(),
            });
        }
        if let Some(git) = ws.git() {
            let tracked = git.tracked_under(out.as_str(), 3)?;
            if !tracked.is_empty() {
                return Err(Error::OutTrackedByGit {
                    path: out.clone(),
                    examples: tracked.join(", "),
                });
            }
        }
    }
    let mut env = request.env;
    for var in &env {
        env_name::check(&var.name)?;
    }
    env.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    env.dedup_by(|a, b| a.name == b.name);
    let deps = inputs::check(ws, &deps)?;
    let mut planned = Vec::new();
    for path in outs {
        let before = match request.origin {
            Origin::Ran => out_state(ws, &path)?,
            Origin::Recorded => None,
        };
        planned.push(PlannedOut { path, before });
    }
    let git = match ws.git() {
        Some(g) => g.head_with_dirtiness()?,
        None => None,
    };
    let plan = RunPlan {
        origin: request.origin,
        command: request.command,
        cwd: work_dir,
        env,
        deps,
        outs: planned,
        git,
    };
    if plan.origin == Origin::Recorded {
        plan.check_outs_written(ws)?;
    }
    Ok(plan)
}

/// `dvx run --add-deps`: add the deps git does not track to dvx (stored and staged;
/// unchanged files cost a stat each), so that planning finds them tracked and clean.
pub fn add_deps(
    ws: &Workspace,
    lock: &RepoLock,
    cwd: &Path,
    deps: &[PathBuf],
    progress: &dyn Progress,
) -> Result<Option<AddReport>, Error> {
    let root = ws.root();
    let mut to_add = Vec::new();
    for dep in resolve_all(root, cwd, deps)? {
        let is_code = match ws.git() {
            Some(git) => !git.tracked_under(dep.as_str(), 1)?.is_empty(),
            None => false,
        };
        if !is_code && fs::symlink_metadata(dep.to_fs_path(root)).is_ok() {
            to_add.push(PathBuf::from(dep.as_str()));
        }
    }
    if to_add.is_empty() {
        return Ok(None);
    }
    Ok(Some(workspace::add(ws, lock, root, &to_add, progress)?))
}

/// Paths typed by the user, as repository paths, sorted and unique.
fn resolve_all(root: &Path, cwd: &Path, paths: &[PathBuf]) -> Result<Vec<RepoPath>, Error> {
    let mut out = paths
        .iter()
        .map(|p| resolve_path(root, cwd, p))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort();
    out.dedup();
    Ok(out)
}

/// A fingerprint of the stat data of every file at or below `path` (as `add` would walk
/// it); `None` when nothing is there. Any write changes a file's mtime, ctime or inode,
/// so a changed fingerprint means the command wrote there.
fn out_state(ws: &Workspace, path: &RepoPath) -> Result<Option<ObjectId>, Error> {
    let root = ws.root();
    let abs = path.to_fs_path(root);
    match fs::symlink_metadata(&abs) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read_err(&abs)(e)),
    }
    let walked = walk(root, path, ws.git().is_some())?;
    let mut hasher = blake3::Hasher::new();
    for f in &walked.files {
        let s = &f.stat;
        hasher.update(f.path.as_str().as_bytes());
        hasher.update(&[0, f.kind as u8]);
        for n in [s.mtime_ns, s.ctime_ns] {
            hasher.update(&n.to_le_bytes());
        }
        for n in [s.dev, s.ino, s.size, u64::from(s.mode)] {
            hasher.update(&n.to_le_bytes());
        }
    }
    Ok(Some(ObjectId::from(hasher.finalize())))
}
