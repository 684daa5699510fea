//! Recording a finished run: its outs are added and one commit holds them, the stage and
//! the run record.
//!
//! Order: check the deps again and the outs, add the outs, build the tree, take every dep
//! and out id from that tree (so the record names exactly what the commit holds), store
//! the record, then commit (objects, index, ref; the caller writes `dvx.lock` last). Any
//! refusal comes before the first write.

use std::path::PathBuf;

use super::Error;
use super::inputs;
use super::plan::RunPlan;
use crate::flow;
use crate::hash::ObjectId;
use crate::history::commit::{self, Committed, NewCommit};
use crate::history::{build, diff};
use crate::object::{Artifact, Origin, RunRecord, Signature};
use crate::path::RepoPath;
use crate::progress::Progress;
use crate::repo::RepoLock;
use crate::workspace::{self, AddReport, Workspace};

/// How the command ended (`dvx record`: when it was recorded, exit code 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finished {
    /// Seconds since the Unix epoch.
    pub started: i64,
    pub ended: i64,
    pub exit_code: i32,
}

/// The commit a run goes into.
#[derive(Debug, Clone)]
pub struct RunCommit {
    /// `None`: `run: <command>` (or `record: <command or outs>`).
    pub message: Option<String>,
    pub author: Signature,
}

/// What recording made.
#[derive(Debug)]
pub struct Recorded {
    pub run: ObjectId,
    pub record: RunRecord,
    pub commit: Committed,
    /// Adding the outs.
    pub added: AddReport,
    /// `dvx.lock` now names the new commit (it named another before).
    pub pin_changed: bool,
}

/// Record `plan`'s run, which ended as `finished`, in a new commit on HEAD.
pub fn record(
    ws: &Workspace,
    lock: &RepoLock,
    plan: &RunPlan,
    finished: Finished,
    into: RunCommit,
    progress: &dyn Progress,
) -> Result<Recorded, Error> {
    let root = ws.root();
    let store = ws.repo().store();
    check_message(into.message.as_deref())?;
    // A run commits on the current branch, as `dvx commit` does: after following a git
    // branch switch (refused when dvx cannot follow it).
    flow::follow::follow_or_refuse(ws, lock, &into.author).map_err(Box::new)?;
    inputs::check_unchanged(ws, &plan.deps)?;
    plan.check_outs_written(ws)?;
    let outs: Vec<PathBuf> = plan
        .outs
        .iter()
        .map(|o| PathBuf::from(o.path.as_str()))
        .collect();
    let added = workspace::add(ws, lock, root, &outs, progress)?;
    if let Some(path) = added.changed_while_adding.first() {
        let out = plan
            .outs
            .iter()
            .find(|o| path.is_within(&o.path))
            .map(|o| o.path.clone())
            .unwrap_or_else(|| path.clone());
        return Err(Error::OutChanged { path: out });
    }

    let mut index = ws.load_index()?;
    let tree = build::write_tree(&mut index, store)?;
    let deps = plan
        .deps
        .data
        .iter()
        .map(|d| artifact_at(ws, tree.id, &d.path))
        .collect::<Result<Vec<_>, _>>()?;
    let outs = plan
        .outs
        .iter()
        .map(|o| artifact_at(ws, tree.id, &o.path))
        .collect::<Result<Vec<_>, _>>()?;
    let record = RunRecord {
        command: plan.command.clone(),
        origin: plan.origin,
        cwd: plan.cwd.clone(),
        deps,
        code: plan.deps.code.clone(),
        outs,
        env: plan.env.clone(),
        exit_code: finished.exit_code,
        started: finished.started,
        ended: finished.ended,
        git: plan.git.clone(),
        extensions: Vec::new(),
    };
    record.validate_new().map_err(Error::InvalidRecord)?;
    let run = store.put(&record)?;
    // The commit records the code as it is now, as `dvx commit` does.
    let git = match ws.git() {
        Some(g) => g.head_with_dirtiness()?,
        None => None,
    };
    let message = into.message.unwrap_or_else(|| default_message(&record));
    let commit = commit::commit_with_runs(
        ws.repo(),
        lock,
        &mut index,
        NewCommit {
            message,
            author: into.author,
            // A rerun that wrote the same bytes changes no file, but is still a run.
            allow_empty: true,
            git,
        },
        vec![run],
    )?;
    // Last, under the lock: `dvx.lock` names the new commit.
    let pin_changed = flow::pin::repin(ws, lock).map_err(Box::new)?;
    Ok(Recorded {
        run,
        record,
        commit,
        added,
        pin_changed,
    })
}

/// Refuse a message that is empty once tidied, as `commit` does, before anything is
/// written (and, for `run`, before the command runs).
pub fn check_message(message: Option<&str>) -> Result<(), Error> {
    match message {
        Some(m) if commit::normalize_message(m).trim().is_empty() => {
            Err(crate::history::Error::EmptyMessage.into())
        }
        _ => Ok(()),
    }
}

/// `run: sh train.sh`, `record: python train.py`, `record: models/model.pt`.
fn default_message(record: &RunRecord) -> String {
    let verb = match record.origin {
        Origin::Ran => "run",
        Origin::Recorded => "record",
    };
    let what = if record.command.is_empty() {
        record
            .outs
            .iter()
            .map(|o| o.path.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        record.command_line()
    };
    format!("{verb}: {what}")
}

/// What the tree `tree` holds at `path`, as a dep or out.
fn artifact_at(ws: &Workspace, tree: ObjectId, path: &RepoPath) -> Result<Artifact, Error> {
    let item = diff::lookup(ws.repo().store(), tree, path)?.ok_or_else(|| {
        crate::history::Error::NoSuchPath {
            path: path.to_string(),
            rev: "the new commit".into(),
        }
    })?;
    Ok(Artifact {
        path: path.clone(),
        kind: item.kind,
        executable: item.executable,
        size: item.size,
        id: item.id.expect("stored trees always have ids"),
    })
}
