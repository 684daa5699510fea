//! `dvx clone <url> <dir> [--lazy]`: a new repository (without git) from a remote.
//!
//! Owns: the target directory (new, or empty), the repository made in it, the remote
//! added as `origin` (the default), the fetch, and the checkout of the remote's default
//! branch: eager by default (its bytes downloaded first, then written), lazy with
//! `--lazy` (nothing downloaded; directories are recorded not fetched). In a git
//! repository the way in is `git clone` (the remote comes with `.dvx/config.toml`), then
//! `dvx pull`.
//!
//! Invariant: a clone that fails leaves nothing behind: [`Prepared`] removes what it
//! made unless the clone is [`Prepared::keep`]ed.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::Error;
use super::blobs;
use super::fetch::{self, FetchOptions, FetchReport};
use super::remotes::{self, Connected};
use crate::atomic;
use crate::hash::ObjectId;
use crate::object::Signature;
use crate::progress::Progress;
use crate::refs::{Expected, HEADS};
use crate::remote::{Environment, RemoteUrl, TransferStats};
use crate::repo::{self, CONFIG_FILE, ConfigFile, RepoLock};
use crate::workspace::{self, CheckoutMode, CheckoutOptions, CheckoutReport, HeadMove, Workspace};

/// The name the cloned-from remote gets.
pub const ORIGIN: &str = "origin";

/// A directory with a new, empty repository in it, removed again when dropped unless
/// kept.
#[derive(Debug)]
pub struct Prepared {
    dir: PathBuf,
    /// The directory was made by the clone (else it was there, empty).
    created: bool,
    /// The URL to record for `origin`: a relative directory made absolute.
    url: String,
    kept: bool,
}

impl Prepared {
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The clone succeeded: leave it.
    pub fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Prepared {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        // Best effort, as git does after a failed clone: what is left is only what
        // this clone made.
        if self.created {
            let _ = atomic::remove_dir_all(&self.dir);
        } else if let Ok(entries) = fs::read_dir(&self.dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                let _ = if path.is_dir() && !path.is_symlink() {
                    atomic::remove_dir_all(&path)
                } else {
                    atomic::remove_file(&path)
                };
            }
        }
    }
}

/// Make `dir` (relative to `cwd`; absent, or an empty directory) and a repository
/// without git in it.
pub fn prepare(cwd: &Path, url: &str, dir: &Path) -> Result<Prepared, Error> {
    let url = match RemoteUrl::parse(url)? {
        RemoteUrl::Directory(path) if path.is_relative() => remotes::normalize(&cwd.join(path))
            .to_string_lossy()
            .into_owned(),
        _ => url.trim().to_owned(),
    };
    let dir = cwd.join(dir);
    let created = match fs::read_dir(&dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(Error::CloneTarget {
                    path: dir,
                    why: "it exists and is not an empty directory",
                });
            }
            false
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            atomic::create_dir_all(&dir).map_err(|source| repo::Error::Io {
                path: dir.clone(),
                source,
            })?;
            true
        }
        Err(e) if e.kind() == io::ErrorKind::NotADirectory => {
            return Err(Error::CloneTarget {
                path: dir,
                why: "it exists and is not a directory",
            });
        }
        Err(source) => return Err(repo::Error::Io { path: dir, source }.into()),
    };
    let prepared = Prepared {
        dir: fs::canonicalize(&dir).unwrap_or(dir),
        created,
        url,
        kept: false,
    };
    repo::init(&prepared.dir, false)?;
    Ok(prepared)
}

/// How to clone.
#[derive(Debug, Clone)]
pub struct CloneOptions {
    pub lazy: bool,
    pub who: Signature,
}

/// What `dvx clone` did.
#[derive(Debug)]
pub struct CloneReport {
    pub fetch: FetchReport,
    /// The branch checked out and its commit; `None` for an empty remote.
    pub branch: Option<(String, ObjectId)>,
    pub checkout: Option<CheckoutReport>,
    /// The bytes downloaded before the checkout (none when lazy).
    pub bytes: TransferStats,
}

/// Fill the repository [`prepare`] made (open, under its lock): `origin`, fetch, check
/// out the remote's default branch.
pub fn populate(
    ws: &Workspace,
    lock: &RepoLock,
    url: &str,
    env: &Environment,
    options: &CloneOptions,
    progress: &dyn Progress,
) -> Result<CloneReport, Error> {
    let repo = ws.repo();
    let mut config = ConfigFile::load(&repo.local_file(CONFIG_FILE))?;
    config.set(&["remote", ORIGIN], "url", toml::Value::String(url.into()));
    config.set(&["core"], "remote", toml::Value::String(ORIGIN.into()));
    config.save(lock, false)?;
    let connected: Connected = remotes::connect(ws, Some(ORIGIN), env)?;
    let fetched = fetch::fetch(
        ws,
        lock,
        &connected,
        &FetchOptions {
            force: false,
            who: options.who.clone(),
        },
        progress,
    )?;
    let branches: Vec<(&str, ObjectId)> = fetched
        .branches
        .iter()
        .filter_map(|b| Some((b.name.as_str(), b.new?)))
        .collect();
    let pick = |name: &str| branches.iter().find(|(b, _)| *b == name).copied();
    let chosen = fetched
        .default_branch
        .as_deref()
        .and_then(pick)
        .or_else(|| pick(repo::DEFAULT_BRANCH))
        .or_else(|| branches.first().copied());
    let Some((branch, commit)) = chosen else {
        return Ok(CloneReport {
            fetch: fetched,
            branch: None,
            checkout: None,
            bytes: TransferStats::default(),
        });
    };
    let branch = branch.to_owned();
    let bytes = if options.lazy {
        TransferStats::default()
    } else {
        let files = blobs::absent_in_commit(repo, commit)?;
        blobs::download(repo, &connected, &files, progress)?
    };
    let checkout = workspace::checkout(
        ws,
        lock,
        &CheckoutOptions {
            target: commit,
            head: HeadMove::SetBranch {
                branch: format!("{HEADS}{branch}"),
                expected: Expected::Absent,
            },
            mode: if options.lazy {
                CheckoutMode::Lazy
            } else {
                CheckoutMode::Eager
            },
            force: false,
            who: options.who.clone(),
            message: format!("clone: from {}", connected.remote.url()),
        },
        progress,
    )?;
    Ok(CloneReport {
        fetch: fetched,
        branch: Some((branch, commit)),
        checkout: Some(checkout),
        bytes,
    })
}
