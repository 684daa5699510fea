//! Everything about git.
//!
//! Owns: finding the git work tree and a linked worktree's main tree, the git commit the
//! code is at and whether it is dirty, the branch git is on, which paths git tracks or ignores, reading files at
//! any git revision, the hooks directory (honouring `core.hooksPath`), dvx's block in
//! `.gitignore` files ([`ignore_block`]), the pin file `dvx.lock` ([`pin`]) and the hooks
//! ([`hooks`]).
//!
//! Invariants: dvx never writes git objects or refs. It reads git with `gix`; where a
//! change must be staged it either says which `git add` to run or runs the `git` command
//! when asked to.

pub mod hooks;
pub mod ignore_block;
pub mod pin;

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::object::{GitBlob, GitHash, GitLink};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("git: {what}: {message}")]
    Gix { what: String, message: String },
    #[error("unknown git revision '{0}'")]
    UnknownRevision(String),
    #[error("`git {args}` failed: {message}")]
    Command { args: String, message: String },
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn gix_err<E: std::fmt::Display>(what: impl Into<String>) -> impl FnOnce(E) -> Error {
    let what = what.into();
    move |e| Error::Gix {
        what,
        message: e.to_string(),
    }
}

/// Where git's HEAD is in one work tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitHead {
    /// On a branch (its short name, without `refs/heads/`), which may have no commits yet.
    Branch(String),
    /// Detached at a commit, or on something that is not a branch.
    Detached,
}

/// A git work tree that holds (or will hold) a dvx repository.
pub struct GitRepo {
    repo: gix::Repository,
    work_tree: PathBuf,
}

impl std::fmt::Debug for GitRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitRepo")
            .field("work_tree", &self.work_tree)
            .finish()
    }
}

/// The git work tree containing `start`, if any. Bare repositories and a `start` inside
/// `.git/` count as none.
pub fn discover(start: &Path) -> Option<GitRepo> {
    let repo = gix::discover(start).ok()?;
    let work_tree = repo.workdir()?.to_path_buf();
    let work_tree = std::fs::canonicalize(&work_tree).unwrap_or(work_tree);
    Some(GitRepo { repo, work_tree })
}

impl GitRepo {
    /// The top directory of this work tree.
    pub fn work_tree(&self) -> &Path {
        &self.work_tree
    }

    /// For a linked worktree (`git worktree add`), the top of the main work tree, whose
    /// `.dvx/` holds the shared objects and refs. `None` for the main work tree, or when
    /// the main repository is bare.
    pub fn main_work_tree(&self) -> Option<PathBuf> {
        if self.repo.kind() != gix::repository::Kind::LinkedWorkTree {
            return None;
        }
        let main = self.repo.main_repo().ok()?;
        let dir = main.workdir()?.to_path_buf();
        Some(std::fs::canonicalize(&dir).unwrap_or(dir))
    }

    /// The hash function of this repository's object ids.
    pub fn object_hash(&self) -> GitHash {
        match self.repo.object_hash() {
            gix::hash::Kind::Sha1 => GitHash::Sha1,
            #[allow(unreachable_patterns)]
            _ => GitHash::Sha256,
        }
    }

    /// The git commit HEAD is at (`None` before the first git commit).
    pub fn head(&self) -> Option<GitLink> {
        let id = self.repo.head_id().ok()?.detach();
        Some(GitLink {
            algorithm: match id.kind() {
                gix::hash::Kind::Sha1 => GitHash::Sha1,
                #[allow(unreachable_patterns)]
                _ => GitHash::Sha256,
            },
            id: id.as_bytes().to_vec(),
            dirty: false,
        })
    }

    /// The branch git's HEAD is on in this work tree, or that it is detached.
    pub fn current_head(&self) -> Result<GitHead, Error> {
        let name = self
            .repo
            .head_name()
            .map_err(gix_err("reading git's HEAD"))?;
        Ok(
            match name
                .as_ref()
                .and_then(|n| n.as_bstr().strip_prefix(b"refs/heads/"))
            {
                Some(short) => GitHead::Branch(String::from_utf8_lossy(short).into_owned()),
                None => GitHead::Detached,
            },
        )
    }

    /// The git commit and whether tracked files differ from it, staged or not. Untracked
    /// files do not count, nor does dvx's data (git ignores it), nor `dvx.lock`: dvx
    /// rewrites it on every commit and checkout, so a changed pin says nothing about the
    /// code.
    pub fn head_with_dirtiness(&self) -> Result<Option<GitLink>, Error> {
        let Some(mut link) = self.head() else {
            return Ok(None);
        };
        link.dirty = self.code_is_dirty()?;
        Ok(Some(link))
    }

    /// Whether a tracked file other than `dvx.lock` differs between HEAD and the index,
    /// or between the index and the work tree (gix's `is_dirty`, minus the pin).
    fn code_is_dirty(&self) -> Result<bool, Error> {
        let is_pin = |path: &gix::bstr::BStr| path == pin::FILE_NAME.as_bytes();
        let what = "checking for local changes";
        let head_tree = self.repo.head_tree_id_or_empty().map_err(gix_err(what))?;
        let index = self.repo.index_or_empty().map_err(gix_err(what))?;
        let mut staged = false;
        self.repo
            .tree_index_status(
                &head_tree,
                &index,
                None,
                gix::status::tree_index::TrackRenames::Disabled,
                |change, _, _| {
                    if is_pin(change.location()) {
                        return Ok(std::ops::ControlFlow::Continue(()));
                    }
                    staged = true;
                    Ok(std::ops::ControlFlow::Break(()))
                },
            )
            .map_err(gix_err(what))?;
        if staged {
            return Ok(true);
        }
        let changes = self
            .repo
            .status(gix::progress::Discard)
            .map_err(gix_err(what))?
            .index_worktree_rewrites(None)
            .index_worktree_submodules(gix::status::Submodule::AsConfigured { check_dirty: true })
            .index_worktree_options_mut(|opts| opts.dirwalk_options = None)
            .into_index_worktree_iter(Vec::new())
            .map_err(gix_err(what))?;
        for change in changes {
            if !is_pin(change.map_err(gix_err(what))?.rela_path()) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Paths git tracks at or below `rel` (a `/`-separated path from the top; empty for
    /// everything), at most `limit` of them.
    pub fn tracked_under(&self, rel: &str, limit: usize) -> Result<Vec<String>, Error> {
        let index = self
            .repo
            .index_or_empty()
            .map_err(gix_err("reading the git index"))?;
        let mut out = Vec::new();
        for entry in index.entries() {
            let path = entry.path(&index);
            let Ok(path) = std::str::from_utf8(path) else {
                continue;
            };
            let inside = rel.is_empty()
                || path == rel
                || (path.len() > rel.len()
                    && path.starts_with(rel)
                    && path.as_bytes()[rel.len()] == b'/');
            if inside {
                out.push(path.to_owned());
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Whether git ignores `rel` (a path from the top), with every `.gitignore`, the
    /// repository's `info/exclude` and the user's global excludes applied.
    pub fn is_ignored(&self, rel: &str, is_dir: bool) -> Result<bool, Error> {
        let index = self
            .repo
            .index_or_empty()
            .map_err(gix_err("reading the git index"))?;
        let mut stack = self
            .repo
            .excludes(
                &index,
                None,
                gix::worktree::stack::state::ignore::Source::WorktreeThenIdMappingIfNotSkipped,
            )
            .map_err(gix_err("reading ignore rules"))?;
        let mode = is_dir.then_some(gix::index::entry::Mode::DIR);
        let platform = stack
            .at_entry(rel, mode)
            .map_err(gix_err(format!("checking whether {rel} is ignored")))?;
        Ok(platform.is_excluded())
    }

    /// The commit a git revision names.
    fn commit_at(&self, rev: &str) -> Result<gix::Commit<'_>, Error> {
        self.repo
            .rev_parse_single(rev)
            .map_err(|_| Error::UnknownRevision(rev.to_owned()))?
            .object()
            .map_err(gix_err(format!("reading {rev}")))?
            .peel_to_commit()
            .map_err(|_| Error::UnknownRevision(rev.to_owned()))
    }

    /// The bytes of `path` (from the top) in the tree of git revision `rev`; `None` when
    /// that commit has no such file.
    pub fn read_at(&self, rev: &str, path: &str) -> Result<Option<Vec<u8>>, Error> {
        let tree = self
            .commit_at(rev)?
            .tree()
            .map_err(gix_err(format!("reading the tree of {rev}")))?;
        let Some(entry) = tree
            .lookup_entry_by_path(path)
            .map_err(gix_err(format!("looking up {path} in {rev}")))?
        else {
            return Ok(None);
        };
        let object = entry
            .object()
            .map_err(gix_err(format!("reading {rev}:{path}")))?;
        Ok(Some(object.data.clone()))
    }

    /// Every commit reachable from HEAD or any git ref (gc keeps what their `dvx.lock`
    /// files pin).
    pub fn all_commits(&self) -> Result<Vec<String>, Error> {
        let platform = self
            .repo
            .references()
            .map_err(gix_err("listing git refs"))?;
        let mut tips = Vec::new();
        if let Ok(head) = self.commit_at("HEAD") {
            tips.push(head.id);
        }
        // Every error counts: gc relies on this list, and history it cannot read may pin
        // data (a missing commit hides every pin behind it).
        let failed = |what: &str| {
            let what = what.to_owned();
            move |e: &dyn std::fmt::Display| Error::Gix {
                what,
                message: e.to_string(),
            }
        };
        for reference in platform.all().map_err(gix_err("listing git refs"))? {
            let mut reference = reference.map_err(|e| failed("listing git refs")(&e))?;
            let name = reference.name().as_bstr().to_string();
            let id = reference
                .peel_to_id()
                .map_err(|e| failed(&format!("reading git ref {name}"))(&e))?;
            let object = id
                .object()
                .map_err(|e| failed(&format!("reading git ref {name}"))(&e))?;
            // Refs that do not lead to a commit (a tag of a blob, say) pin nothing.
            if let Ok(commit) = object.peel_to_commit() {
                tips.push(commit.id);
            }
        }
        let walk = self
            .repo
            .rev_walk(tips)
            .all()
            .map_err(gix_err("walking git history"))?;
        walk.map(|info| {
            info.map(|info| info.id.to_string())
                .map_err(|e| failed("walking git history")(&e))
        })
        .collect()
    }

    /// The hooks directory: `core.hooksPath` if set (relative to the work tree, as git
    /// does), else `hooks/` in the common git directory.
    pub fn hooks_dir(&self) -> PathBuf {
        let configured = self
            .repo
            .config_snapshot()
            .trusted_path("core.hooksPath")
            .ok()
            .flatten();
        match configured {
            Some(p) if p.is_absolute() => p,
            Some(p) => self.work_tree.join(p),
            None => self.repo.common_dir().join("hooks"),
        }
    }

    /// The git directory of this work tree (per-worktree for linked worktrees).
    pub fn git_dir(&self) -> &Path {
        self.repo.git_dir()
    }

    /// The git directory shared by all work trees (hooks, config, `info/`).
    pub fn common_dir(&self) -> &Path {
        self.repo.common_dir()
    }

    /// `user.name` and `user.email` from git's configuration.
    pub fn identity(&self) -> Option<(String, String)> {
        let config = self.repo.config_snapshot();
        let name = config.string("user.name")?.to_string();
        let email = config
            .string("user.email")
            .map(|e| e.to_string())
            .unwrap_or_default();
        Some((name, email))
    }

    /// Whether a rebase is in progress (hooks stay out of the way then).
    pub fn rebase_in_progress(&self) -> bool {
        let dir = self.repo.git_dir();
        dir.join("rebase-merge").exists() || dir.join("rebase-apply").exists()
    }

    /// Of the files dvx changes in git's view (`dvx.lock`, `.gitignore` files, the tracked
    /// files of `.dvx/`), those that differ from git's index: what to `git add`.
    pub fn files_to_stage(&self) -> Result<Vec<String>, Error> {
        let out = self.git(&[
            "status",
            "--porcelain=v1",
            "-z",
            "--untracked-files=all",
            "--",
            pin::FILE_NAME,
            ".dvx/config.toml",
            ".dvx/.gitignore",
            ":(glob)**/.gitignore",
        ])?;
        Ok(out
            .split('\0')
            .filter(|rec| rec.len() > 3)
            .map(|rec| rec[3..].to_owned())
            .collect())
    }

    /// `git add` these paths.
    pub fn stage(&self, paths: &[String]) -> Result<(), Error> {
        if paths.is_empty() {
            return Ok(());
        }
        let mut args = vec!["add", "--"];
        args.extend(paths.iter().map(String::as_str));
        self.git(&args).map(|_| ())
    }

    /// The commits a push of `tip` sends (hex, newest first): those reachable from `tip`
    /// and not from `old`, the remote ref's value before, when that commit is here;
    /// otherwise not from any remote-tracking ref (as git-lfs's pre-push hook reckons).
    pub fn commits_to_push(&self, tip: &str, old: Option<&str>) -> Result<Vec<String>, Error> {
        let old = old.filter(|o| {
            self.git(&["cat-file", "-e", &format!("{o}^{{commit}}")])
                .is_ok()
        });
        let mut args = vec!["rev-list", tip, "--not"];
        args.push(old.unwrap_or("--remotes"));
        Ok(self.git(&args)?.lines().map(str::to_owned).collect())
    }

    /// Run `git` in the work tree and return its standard output.
    pub fn git(&self, args: &[&str]) -> Result<String, Error> {
        run_git(&self.work_tree, args)
    }
}

/// The git blob id of `bytes` under `algorithm`, as `git hash-object --no-filters`
/// computes it (lineage records code deps this way).
pub fn blob_id(algorithm: GitHash, bytes: &[u8]) -> Result<GitBlob, Error> {
    let kind = match algorithm {
        GitHash::Sha1 => gix::hash::Kind::Sha1,
        GitHash::Sha256 => {
            return Err(Error::Gix {
                what: "hashing a blob".into(),
                message: "SHA-256 object ids are not supported by this build".into(),
            });
        }
    };
    let id = gix::objs::compute_hash(kind, gix::objs::Kind::Blob, bytes)
        .map_err(gix_err("hashing a blob"))?;
    Ok(GitBlob {
        algorithm,
        id: id.as_bytes().to_vec(),
    })
}

/// Run `git` in `dir` and return its standard output.
pub fn run_git(dir: &Path, args: &[&str]) -> Result<String, Error> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| Error::Command {
            args: args.join(" "),
            message: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(Error::Command {
            args: args.join(" "),
            message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
