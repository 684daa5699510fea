//! Putting a run's inputs back: exactly the files it read, at the versions it read.
//!
//! In steps, so that fetching from a remote can come between the first two without a
//! rewrite: [`plan`] finds the run and lists every input file and code dep (it reads
//! trees, commits and the run record, never a blob); [`ensure_local`] fetches the absent
//! ones among exactly [`Plan::wanted`] through an `ObjectSource` (a remote, or nothing
//! beyond the local store) and refuses those still absent; then [`write_into`] writes
//! them below a directory of their own, or
//! [`write_worktree`] checks them out in the work tree. [`check_outs`] compares what a
//! re-run wrote with the outs the run recorded.
//!
//! Code deps are git's: in the work tree they are left as they are (the plan says which
//! differ from the recorded git blobs); `write_into` copies the work tree's versions, so
//! the command can run there.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::catalog::Catalog;
use super::inputs::{code_blob_now, read_code};
use super::runs::Run;
use super::target::{self, Target};
use super::trace::{self, Input};
use super::{Error, list_paths, read_err, write_err};
use crate::atomic;
use crate::hash::ObjectId;
use crate::history::diff;
use crate::index::{self, Entry};
use crate::object::{EntryKind, GitBlob};
use crate::path::RepoPath;
use crate::progress::{Progress, Unit};
use crate::repo::{LinkKind, RepoLock};
use crate::stat::{FileKind, Observed};
use crate::store::{Fetched, ObjectSource};
use crate::workspace::{self, FileState, Materializer, Workspace, check_entry, hash_path, walk};

/// A code dep, and how the work tree's file compares with the recorded one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeInput {
    pub path: RepoPath,
    pub recorded: GitBlob,
    pub now: CodeNow,
}

/// The work tree's version of a code dep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeNow {
    /// The recorded bytes.
    Same,
    /// Other bytes, with this git blob id.
    Differs(GitBlob),
    /// No file there.
    Missing,
}

/// Everything a reproduction needs, computed before anything is read or written.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The file asked about.
    pub target: Target,
    /// The run that made it.
    pub run: Run,
    /// Every input file, sorted by path.
    pub inputs: Vec<Input>,
    pub code: Vec<CodeInput>,
}

impl Plan {
    /// The blob ids the inputs need, each once: what must be local before writing.
    pub fn wanted(&self) -> Vec<ObjectId> {
        let mut ids: Vec<ObjectId> = self.inputs.iter().map(|i| i.id).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Where the command runs below `base` (the work tree, or the `--into` directory).
    pub fn work_dir(&self, base: &Path) -> PathBuf {
        self.run.record.cwd.to_fs_path(base)
    }

    /// Code deps whose work-tree version is not the recorded one.
    pub fn code_changed(&self) -> Vec<&CodeInput> {
        self.code
            .iter()
            .filter(|c| c.now != CodeNow::Same)
            .collect()
    }
}

/// What writing the inputs did.
#[derive(Debug, Default)]
pub struct Written {
    /// Input files written, and those already there with the right bytes.
    pub written: usize,
    pub unchanged: usize,
    /// Code deps copied (`write_into` only).
    pub code_written: usize,
    /// Inputs whose bytes were not local after all (another process removed them).
    pub not_fetched: Vec<RepoPath>,
}

/// Find the run that made `path` (relative to `cwd`; as `rev` has it, or the work tree)
/// and list its inputs.
pub fn plan(
    ws: &Workspace,
    cwd: &Path,
    path: &Path,
    rev: Option<(ObjectId, &str)>,
) -> Result<Plan, Error> {
    let store = ws.repo().store();
    let target = target::resolve(ws, cwd, path, rev)?;
    let catalog = Catalog::open(ws.repo(), &target.scope)?;
    let run = trace::made_by(ws, &catalog, &target)?;
    let inputs = trace::input_files(store, &run.record)?;
    let mut code = Vec::new();
    for dep in &run.record.code {
        let now = match code_blob_now(ws.root(), &dep.path, dep.blob.algorithm)? {
            None => CodeNow::Missing,
            Some(blob) if blob == dep.blob => CodeNow::Same,
            Some(blob) => CodeNow::Differs(blob),
        };
        code.push(CodeInput {
            path: dep.path.clone(),
            recorded: dep.blob.clone(),
            now,
        });
    }
    Ok(Plan {
        target,
        run,
        inputs,
        code,
    })
}

/// Make the inputs' bytes local: the absent ones among [`Plan::wanted`] (and nothing
/// else) are fetched through `objects` in one batch, then input files whose bytes are
/// still absent are refused, naming them. The local store alone fetches nothing.
pub fn ensure_local(
    objects: &dyn ObjectSource,
    plan: &Plan,
    progress: &dyn Progress,
) -> Result<Fetched, Error> {
    let store = objects.store();
    let absent: Vec<ObjectId> = plan
        .wanted()
        .into_iter()
        .filter(|id| !objects.has(id))
        .collect();
    let mut fetched = Fetched::default();
    if !absent.is_empty() {
        fetched = objects.fetch(&absent, progress)?;
        if !fetched.fetched.is_empty() {
            store.flush()?;
        }
    }
    let absent: Vec<&Input> = plan
        .inputs
        .iter()
        .filter(|i| !store.contains(&i.id))
        .collect();
    if absent.is_empty() {
        return Ok(fetched);
    }
    let named: Vec<String> = absent
        .iter()
        .map(|i| format!("{} ({})", i.path, i.id.short()))
        .collect();
    let mut ids: Vec<ObjectId> = absent.iter().map(|i| i.id).collect();
    ids.sort_unstable();
    ids.dedup();
    Err(Error::InputsNotLocal {
        count: absent.len(),
        list: list_paths(&named),
        ids,
    })
}

/// Write the inputs below `dir` at their recorded paths (verified copies), and copy the
/// code deps from the work tree. Files already there with the right bytes are left;
/// anything else in the way is refused before a byte is written. The work tree is not
/// touched.
pub fn write_into(
    ws: &Workspace,
    plan: &Plan,
    dir: &Path,
    progress: &dyn Progress,
) -> Result<Written, Error> {
    let root = ws.root();
    let store = ws.repo().store();
    let dir = resolve_dir(dir)?;
    let why = if dir == root {
        Some("it is the work tree itself")
    } else if dir.starts_with(root.join(".dvx")) || dir.starts_with(root.join(".git")) {
        Some("it is inside .dvx/ or .git/")
    } else {
        None
    };
    if let Some(why) = why {
        return Err(Error::IntoNotAllowed { dir, why });
    }
    atomic::create_dir_all(&dir).map_err(write_err(&dir))?;
    let mut conflicts = Vec::new();
    let mut to_write = Vec::new();
    let mut report = Written::default();
    for input in &plan.inputs {
        match held_at(&dir, &input.path)? {
            None => to_write.push(input),
            Some((kind, id)) if kind == input.kind && id == input.id => report.unchanged += 1,
            Some(_) => conflicts.push(input.path.clone()),
        }
    }
    let mut code = Vec::new();
    for dep in &plan.code {
        let Some(bytes) = read_code(root, &dep.path)? else {
            continue;
        };
        match read_code(&dir, &dep.path)? {
            Some(there) if there == bytes => {}
            Some(_) => conflicts.push(dep.path.clone()),
            None if fs::symlink_metadata(dep.path.to_fs_path(&dir)).is_ok() => {
                conflicts.push(dep.path.clone())
            }
            None => code.push((dep, bytes)),
        }
    }
    if !conflicts.is_empty() {
        return Err(Error::IntoConflicts {
            dir,
            count: conflicts.len(),
            list: list_paths(&conflicts),
        });
    }

    // Copies only: a hard or symbolic link would hand the read-only store to whatever
    // the re-run does with its inputs.
    let materializer = Materializer::new(&dir, store, vec![LinkKind::Reflink, LinkKind::Copy])
        .external_symlinks(ws.repo().config().core.external_symlinks);
    let total: u64 = to_write.iter().map(|i| i.size).sum();
    progress.start("writing inputs", Some(total), Unit::Bytes);
    let outcomes: Vec<Option<RepoPath>> = to_write
        .par_iter()
        .map(|input| {
            let entry = Entry::not_fetched(
                input.path.clone(),
                index_kind(input.kind),
                input.executable,
                input.id,
                input.size,
            );
            let outcome = match materializer.write(&entry) {
                Ok(_) => None,
                Err(workspace::Error::Store(crate::store::Error::Missing { .. })) => {
                    Some(input.path.clone())
                }
                Err(e) => return Err(Error::from(e)),
            };
            progress.advance(input.size);
            Ok(outcome)
        })
        .collect::<Result<_, _>>()?;
    progress.finish();
    report.not_fetched = outcomes.into_iter().flatten().collect();
    report.written = to_write.len() - report.not_fetched.len();
    for (dep, bytes) in code {
        copy_code(root, &dir, &dep.path, &bytes)?;
        report.code_written += 1;
    }
    let work_dir = plan.work_dir(&dir);
    atomic::create_dir_all(&work_dir).map_err(write_err(&work_dir))?;
    if ws.repo().config().core.fsync {
        atomic::sync_filesystem(&dir).map_err(write_err(&dir))?;
    }
    Ok(report)
}

/// Check the inputs out in the work tree at their recorded versions (staged, as
/// `dvx checkout <commit> -- <paths>` stages them), refusing, before anything is
/// written, where local changes would be lost: a file that differs from both the index
/// and the input, unless index and HEAD agree and the file matches the index (or is
/// gone); an untracked file in the way. Files below a dep directory that the run did not
/// have are left alone.
pub fn write_worktree(
    ws: &Workspace,
    lock: &RepoLock,
    plan: &Plan,
    progress: &dyn Progress,
) -> Result<Written, Error> {
    let root = ws.root();
    let store = ws.repo().store();
    let commit = &plan.run.commit;
    let tree = store.read_commit(commit)?.tree;
    // The record's ids come from this commit's tree; restoring from it must write them.
    for dep in &plan.run.record.deps {
        let found = diff::lookup(store, tree, &dep.path)?.and_then(|item| item.id);
        if found != Some(dep.id) {
            return Err(Error::RecordMismatch {
                run: plan.run.id.short(),
                commit: commit.short(),
                path: dep.path.clone(),
                recorded: dep.id.short(),
                found: found.map_or_else(|| "nothing".into(), |id| id.short()),
            });
        }
    }
    let index = ws.load_index()?;
    let head_tree = match ws
        .repo()
        .refs()
        .head_commit()
        .map_err(crate::history::Error::from)?
    {
        Some(head) => Some(store.read_commit(&head)?.tree),
        None => None,
    };
    // HEAD's files below the deps, listed once (not one lookup per input file).
    let mut in_head: HashMap<RepoPath, diff::Item> = HashMap::new();
    if let Some(tree) = head_tree {
        for dep in &plan.run.record.deps {
            in_head.extend(diff::files_under(store, tree, &dep.path)?);
        }
    }
    let mut conflicts = Vec::new();
    for input in &plan.inputs {
        if !may_replace(ws, &index, in_head.get(&input.path), input)? {
            conflicts.push(input.path.clone());
        }
    }
    if !conflicts.is_empty() {
        return Err(Error::WouldOverwrite {
            count: conflicts.len(),
            list: list_paths(&conflicts),
        });
    }
    drop(index);
    let paths: Vec<PathBuf> = plan
        .run
        .record
        .deps
        .iter()
        .map(|d| PathBuf::from(d.path.as_str()))
        .collect();
    let label = commit.short();
    let restored = workspace::restore(ws, lock, root, &paths, Some((*commit, &label)), progress)?;
    Ok(Written {
        written: restored.restored.len(),
        unchanged: restored.unchanged,
        code_written: 0,
        not_fetched: restored.not_fetched,
    })
}

/// Whether the input's path in the work tree may take the input's bytes without losing
/// a local change (checkout's rule).
fn may_replace(
    ws: &Workspace,
    index: &index::Index,
    head: Option<&diff::Item>,
    input: &Input,
) -> Result<bool, Error> {
    let root = ws.root();
    let store = ws.repo().store();
    // Not fetched: nothing of it is in the work tree to lose.
    if index.tree_entry_covering(&input.path).is_some() {
        return Ok(true);
    }
    let entry = index.get(&input.path);
    let abs = input.path.to_fs_path(root);
    // What the work tree has: nothing, the index's version, or other bytes.
    let file = match entry {
        Some(e) => match check_entry(root, index, store, e, None).map_err(read_err(&abs))? {
            FileState::Clean | FileState::Restat(_) | FileState::Fetched(_) => {
                Some((entry_kind(e.kind), e.id))
            }
            FileState::Deleted | FileState::NotFetched => None,
            FileState::Modified { id, kind, .. } => Some((entry_kind(kind), id)),
            FileState::Corrupt => return Ok(false),
        },
        None => match Observed::lstat(&abs) {
            Ok(o) if o.kind == FileKind::Dir => return Ok(false),
            Ok(o) => Some((
                file_entry_kind(o.kind),
                hash_path(&abs, o.kind).map_err(read_err(&abs))?.0,
            )),
            Err(_) => None,
        },
    };
    if file == Some((input.kind, input.id)) {
        return Ok(true);
    }
    let matches_index = match (&file, entry) {
        (None, _) => true,
        (Some((kind, id)), Some(e)) => *kind == entry_kind(e.kind) && *id == e.id,
        (Some(_), None) => false,
    };
    let index_is_head = match (entry, head) {
        (None, None) => true,
        (Some(e), Some(h)) => {
            entry_kind(e.kind) == h.kind && Some(e.id) == h.id && e.executable == h.executable
        }
        _ => false,
    };
    Ok(matches_index && (index_is_head || (entry.is_none() && file.is_none())))
}

/// How one recorded out compares with what is on disk now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutCheck {
    pub path: RepoPath,
    pub kind: EntryKind,
    pub recorded: ObjectId,
    /// For a file out: the id of what is there now.
    pub now: Option<ObjectId>,
    /// Files whose bytes differ, that are gone, and that are new (for a directory: the
    /// files below it).
    pub modified: Vec<RepoPath>,
    pub missing: Vec<RepoPath>,
    pub new: Vec<RepoPath>,
}

impl OutCheck {
    pub fn identical(&self) -> bool {
        self.modified.is_empty() && self.missing.is_empty() && self.new.is_empty()
    }
}

/// Compare every recorded out with the files below `base` (the work tree, or the
/// `--into` directory), as `add` would walk them.
pub fn check_outs(ws: &Workspace, plan: &Plan, base: &Path) -> Result<Vec<OutCheck>, Error> {
    let store = ws.repo().store();
    let mut checks = Vec::new();
    for out in &plan.run.record.outs {
        let mut recorded: BTreeMap<RepoPath, (EntryKind, ObjectId)> = BTreeMap::new();
        if out.kind == EntryKind::Dir {
            for (below, item) in diff::files_under(store, out.id, &RepoPath::root())? {
                let id = item.id.expect("stored trees always have ids");
                recorded.insert(out.path.join_path(&below), (item.kind, id));
            }
        } else {
            recorded.insert(out.path.clone(), (out.kind, out.id));
        }
        let mut found: BTreeMap<RepoPath, (EntryKind, ObjectId)> = BTreeMap::new();
        if fs::symlink_metadata(out.path.to_fs_path(base)).is_ok() {
            let walked = walk(base, &out.path, ws.git().is_some())?;
            let hashed: Vec<(RepoPath, (EntryKind, ObjectId))> = walked
                .files
                .par_iter()
                .map(|f| {
                    let abs = f.path.to_fs_path(base);
                    let (id, _) = hash_path(&abs, f.kind).map_err(read_err(&abs))?;
                    Ok((f.path.clone(), (file_entry_kind(f.kind), id)))
                })
                .collect::<Result<_, Error>>()?;
            found.extend(hashed);
        }
        let mut check = OutCheck {
            path: out.path.clone(),
            kind: out.kind,
            recorded: out.id,
            now: None,
            modified: Vec::new(),
            missing: Vec::new(),
            new: Vec::new(),
        };
        if out.kind != EntryKind::Dir {
            check.now = found.get(&out.path).map(|(_, id)| *id);
        }
        for (path, want) in &recorded {
            match found.get(path) {
                None => check.missing.push(path.clone()),
                Some(have) if have != want => check.modified.push(path.clone()),
                Some(_) => {}
            }
        }
        check.new = found
            .keys()
            .filter(|p| !recorded.contains_key(*p))
            .cloned()
            .collect();
        checks.push(check);
    }
    Ok(checks)
}

/// `dir` with its longest existing prefix resolved (symlinks, `..`) and the rest as
/// written, so where it really is can be checked before anything is created.
fn resolve_dir(dir: &Path) -> Result<PathBuf, Error> {
    let mut existing = dir.to_path_buf();
    let mut rest = Vec::new();
    while !existing.exists() {
        match existing.file_name() {
            Some(name) => {
                rest.push(name.to_owned());
                existing.pop();
            }
            None => break,
        }
    }
    let mut out = fs::canonicalize(&existing).map_err(read_err(&existing))?;
    out.extend(rest.iter().rev());
    Ok(out)
}

/// What is at `path` below `dir` (kind and id), `None` when nothing is; a directory
/// counts as something in the way.
fn held_at(dir: &Path, path: &RepoPath) -> Result<Option<(EntryKind, ObjectId)>, Error> {
    let abs = path.to_fs_path(dir);
    match Observed::lstat(&abs) {
        Ok(o) if o.kind == FileKind::File || o.kind == FileKind::Symlink => {
            let (id, _) = hash_path(&abs, o.kind).map_err(read_err(&abs))?;
            Ok(Some((file_entry_kind(o.kind), id)))
        }
        Ok(_) => Ok(Some((EntryKind::Dir, ObjectId::of(&[])))),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(read_err(&abs)(e)),
    }
}

/// Copy a code dep's work-tree bytes to `dir`, keeping its executable bit (a symlink
/// stays a symlink).
fn copy_code(root: &Path, dir: &Path, path: &RepoPath, bytes: &[u8]) -> Result<(), Error> {
    let from = path.to_fs_path(root);
    let to = path.to_fs_path(dir);
    if let Some(parent) = to.parent() {
        atomic::create_dir_all(parent).map_err(write_err(parent))?;
    }
    let metadata = fs::symlink_metadata(&from).map_err(read_err(&from))?;
    if metadata.file_type().is_symlink() {
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let target = std::ffi::OsStr::from_bytes(bytes);
            return atomic::symlink(target, &to).map_err(write_err(&to));
        }
    }
    atomic::write_with_permissions(&to, bytes, metadata.permissions()).map_err(write_err(&to))
}

fn index_kind(kind: EntryKind) -> index::Kind {
    match kind {
        EntryKind::File => index::Kind::File,
        EntryKind::Symlink => index::Kind::Symlink,
        EntryKind::Dir => index::Kind::Tree,
    }
}

fn entry_kind(kind: index::Kind) -> EntryKind {
    match kind {
        index::Kind::File => EntryKind::File,
        index::Kind::Symlink => EntryKind::Symlink,
        index::Kind::Tree => EntryKind::Dir,
    }
}

fn file_entry_kind(kind: FileKind) -> EntryKind {
    if kind == FileKind::Symlink {
        EntryKind::Symlink
    } else {
        EntryKind::File
    }
}
