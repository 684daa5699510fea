//! `dvx pull --for <path>`: the inputs of the run that made a file, and nothing else.
//!
//! The run is the one behind the file's bytes (lineage, as `dvx trace` finds it); its
//! input files are listed from the run's commit (trees only), their absent bytes fetched
//! from the remote in one batch, and those whose version is the one checked out (the
//! work tree's path holds the same id) written into the work tree. Inputs the checked-out
//! commit has at another version (or not at all) are left in the local store, where `dvx
//! reproduce` writes them from without the network. In a fresh clone the pinned commit's
//! history is fetched and checked out lazily first.

use std::collections::HashMap;
use std::path::Path;

use super::Error;
use super::bootstrap::{Bootstrapped, ensure_checked_out};
use crate::hash::ObjectId;
use crate::lineage::reproduce;
use crate::object::Signature;
use crate::path::RepoPath;
use crate::progress::Progress;
use crate::remote::RemoteSource;
use crate::repo::RepoLock;
use crate::store::Fetched;
use crate::workspace::{self, PullReport, Workspace};

/// What a pull of a run's inputs did.
#[derive(Debug)]
pub struct InputsPulled {
    pub bootstrapped: Option<Box<Bootstrapped>>,
    /// The file asked about, and the run that made it.
    pub target: RepoPath,
    pub run: ObjectId,
    /// The run's input files.
    pub inputs: usize,
    /// What fetching the inputs' absent bytes did.
    pub fetched: Fetched,
    /// The inputs written into the work tree (the checked-out version).
    pub report: PullReport,
    /// Inputs whose checked-out version differs from the run's (or that the checked-out
    /// commit lacks): their bytes are local now, not in the work tree.
    pub other_version: Vec<RepoPath>,
}

/// Fetch the inputs of the run that made `path` (relative to `cwd`) from `source`, and
/// write those the work tree tracks at the run's version.
pub fn pull_for(
    ws: &Workspace,
    lock: &RepoLock,
    cwd: &Path,
    path: &Path,
    source: &RemoteSource,
    who: &Signature,
    progress: &dyn Progress,
) -> Result<InputsPulled, Error> {
    let bootstrapped = ensure_checked_out(ws, lock, source, who, progress)?;
    let plan = reproduce::plan(ws, cwd, path, None)?;
    let fetched = reproduce::ensure_local(source, &plan, progress)?;
    let recorded: HashMap<&RepoPath, ObjectId> =
        plan.inputs.iter().map(|i| (&i.path, i.id)).collect();
    let index = ws.load_index()?;
    let paths: Vec<RepoPath> = plan.inputs.iter().map(|i| i.path.clone()).collect();
    let tracked = workspace::tracked_files(&index, source, &paths)?;
    let mut same = Vec::new();
    let mut other_version: Vec<RepoPath> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for file in tracked {
        // `tracked_files` lists what lies below a path too; only the inputs count.
        let Some(id) = recorded.get(&file.path) else {
            continue;
        };
        seen.insert(file.path.clone());
        if *id == file.id() {
            same.push(file);
        } else {
            other_version.push(file.path);
        }
    }
    other_version.extend(paths.into_iter().filter(|p| !seen.contains(p)));
    other_version.sort();
    let report = workspace::pull_files(ws, lock, index, same, source, progress)?;
    Ok(InputsPulled {
        bootstrapped,
        target: plan.target.path.clone(),
        run: plan.run.id,
        inputs: plan.inputs.len(),
        fetched,
        report,
        other_version,
    })
}
