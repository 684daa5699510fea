//! Lineage: which data, code and command made a file, and putting those inputs back.
//!
//! Owns: planning a run (which deps are data dvx tracks and which are code git tracks,
//! checking them before the command starts: [`plan`]), recording a finished run as a run
//! record in a new commit ([`record`]), the local index from out ids to the runs that
//! made them ([`catalog`]), listing runs ([`runs`]), answering "what made this file?"
//! recursively ([`trace`]), and reproducing a run's inputs, re-running it and comparing
//! its outs ([`reproduce`]). Does not run commands (the CLI does, so output streams
//! through and the library never touches the terminal) and does not read the clock or
//! the environment (times and variable values are parameters).
//!
//! Invariants: deps are checked before a command runs and again before its run is
//! recorded, so a record never names bytes the command did not read; a failed command
//! records nothing; a run record's deps and outs are taken from the very tree the commit
//! listing it holds; reproducing computes every input first (a plan), then makes sure
//! the bytes are local, then writes, so fetching from a remote can come in between.

pub mod catalog;
pub mod env_name;
pub mod inputs;
pub mod plan;
pub mod record;
pub mod reproduce;
pub mod runs;
pub mod target;
pub mod trace;

use std::path::PathBuf;

use crate::hash::ObjectId;
use crate::object::{Encode, RunRecord};
use crate::path::RepoPath;
use crate::store::{self, Store};
use crate::{git, history, index, repo, workspace};

/// What went wrong in a lineage operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("dep '{path}' does not exist")]
    DepMissing { path: RepoPath },
    #[error("dep '{path}' is not tracked by git or by dvx")]
    DepNotTracked { path: RepoPath },
    #[error("dep '{path}' has changes that are not staged: {list}")]
    DepModified { path: RepoPath, list: String },
    #[error("dep '{path}' is not fetched: {list}")]
    DepNotFetched { path: RepoPath, list: String },
    #[error("dep '{path}' changed while the command ran; nothing was recorded")]
    DepChanged { path: RepoPath },
    #[error("out '{out}' is also a dep ('{dep}')")]
    OutIsDep { out: RepoPath, dep: RepoPath },
    #[error("out '{path}' is tracked by git ({examples})")]
    OutTrackedByGit { path: RepoPath, examples: String },
    #[error("out '{path}' cannot be tracked: {why}")]
    OutNotTrackable { path: RepoPath, why: String },
    #[error("the command did not write out '{path}'; nothing was recorded")]
    OutNotWritten { path: RepoPath },
    #[error("out '{path}' does not exist")]
    OutMissing { path: RepoPath },
    #[error("out '{path}' changed while it was being added; nothing was recorded")]
    OutChanged { path: RepoPath },
    #[error("'{name}' is not an environment variable name")]
    BadEnvName { name: String },
    #[error(
        "--env {name}: the name says it holds a credential, and a run record would keep its value in the history every remote receives"
    )]
    CredentialEnv { name: String },
    #[error("no recorded run made '{path}' ({kind} {})", id.short())]
    NoRun {
        path: RepoPath,
        kind: &'static str,
        id: ObjectId,
    },
    #[error("{count} input file(s) are not local: {list}")]
    InputsNotLocal {
        count: usize,
        list: String,
        ids: Vec<ObjectId>,
    },
    #[error("{count} path(s) in {} already hold other files: {list}", dir.display())]
    IntoConflicts {
        dir: PathBuf,
        count: usize,
        list: String,
    },
    #[error("cannot write the inputs into {}: {why}", dir.display())]
    IntoNotAllowed { dir: PathBuf, why: &'static str },
    #[error("reproduce would overwrite local changes in {count} path(s): {list}")]
    WouldOverwrite { count: usize, list: String },
    #[error("run {run} records '{path}' as {recorded}, but its commit {commit} holds {found}")]
    RecordMismatch {
        run: String,
        commit: String,
        path: RepoPath,
        recorded: String,
        found: String,
    },
    #[error("the run record would be invalid: {0}")]
    InvalidRecord(crate::object::DecodeError),
    #[error("run {} has no recorded command", .0.short())]
    NoCommand(ObjectId),
    #[error("cannot read '{}'", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write '{}'", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Workspace(#[from] workspace::Error),
    #[error(transparent)]
    History(#[from] history::Error),
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error(transparent)]
    Index(#[from] index::Error),
    #[error(transparent)]
    Repo(#[from] repo::Error),
    #[error(transparent)]
    Git(#[from] git::Error),
    #[error(transparent)]
    Flow(#[from] Box<crate::flow::Error>),
}

fn read_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Read {
        path: path.to_path_buf(),
        source,
    }
}

fn write_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Write {
        path: path.to_path_buf(),
        source,
    }
}

/// A run record read from the store and checked against its id.
pub fn read_run(store: &Store, id: &ObjectId) -> Result<RunRecord, store::Error> {
    let bytes = store.read(id)?;
    RunRecord::decode(&bytes).map_err(|source| store::Error::Decode {
        id: *id,
        kind: "run record",
        source,
    })
}

/// At most this many paths are named in one error message.
const LISTED: usize = 5;

/// `a, b, c` (and `and N more` past [`LISTED`]).
fn list_paths<T: std::fmt::Display>(items: &[T]) -> String {
    let mut text = items
        .iter()
        .take(LISTED)
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > LISTED {
        text.push_str(&format!(" and {} more", items.len() - LISTED));
    }
    text
}
