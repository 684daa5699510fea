//! "What made this file?": the run that made its bytes, that run's inputs, and the runs
//! that made those, back to data no run made.
//!
//! The run is found by the bytes' id, not by the path, so a checkpoint renamed or copied
//! elsewhere is still found. Of several runs that wrote the same bytes, one that wrote
//! them at the path asked about wins, else one that did not also read them; among
//! equals, the one met first walking history newest first from the revision asked about
//! (HEAD by default), then, for bytes copied from another branch, the newest run
//! anywhere (see [`Catalog::producer`]). An input's run is looked for before the run
//! that read it: in the history of that run's commit's parents first, then among runs
//! no newer than it, and never the run itself (a command that copies a file has an out
//! equal to its input). Each run appears once, however many paths lead to it.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::path::Path;

use super::Error;
use super::catalog::Catalog;
use super::runs::{Ancestry, Run};
use super::target::{self, Target};
use crate::hash::ObjectId;
use crate::history::diff;
use crate::object::{EntryKind, RunRecord};
use crate::path::RepoPath;
use crate::store::Store;
use crate::workspace::Workspace;

/// One input file of a run: a data dep, or a file of a dep directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub path: RepoPath,
    pub kind: EntryKind,
    pub executable: bool,
    pub size: u64,
    pub id: ObjectId,
    /// The dep it belongs to (itself, or the dep directory it lies in).
    pub dep: RepoPath,
    /// The run that made these bytes, when one did (and the trace looked).
    pub made_by: Option<ObjectId>,
}

/// One run in a trace.
#[derive(Debug, Clone)]
pub struct TracedRun {
    pub run: Run,
    /// 1 for the run that made the file, 2 for the runs that made its inputs, …
    pub depth: usize,
    pub inputs: Vec<Input>,
    /// Whether the inputs' runs were looked for (not past `--depth`).
    pub followed: bool,
}

/// The answer to "what made this file?".
#[derive(Debug, Clone)]
pub struct Trace {
    pub target: Target,
    /// The run that made the file first, then the runs behind it, breadth first.
    pub runs: Vec<TracedRun>,
}

/// Trace `path` (relative to `cwd`) as `rev` has it, or as the work tree has it now,
/// through at most `max_depth` levels of runs (all when `None`).
pub fn trace(
    ws: &Workspace,
    cwd: &Path,
    path: &Path,
    rev: Option<(ObjectId, &str)>,
    max_depth: Option<usize>,
) -> Result<Trace, Error> {
    let target = target::resolve(ws, cwd, path, rev)?;
    let store = ws.repo().store();
    let catalog = Catalog::open(ws.repo(), &target.scope)?;
    let first = made_by(ws, &catalog, &target)?;
    let mut runs = vec![TracedRun {
        run: first,
        depth: 1,
        inputs: Vec::new(),
        followed: false,
    }];
    let mut position: HashMap<ObjectId, usize> = HashMap::new();
    position.insert(runs[0].run.id, 0);
    let mut queue = VecDeque::from([0usize]);
    while let Some(i) = queue.pop_front() {
        let mut inputs = input_files(store, &runs[i].run.record)?;
        let depth = runs[i].depth;
        let follow = max_depth.is_none_or(|max| depth < max);
        if follow {
            let consumer = runs[i].run.clone();
            let parents = store.read_commit(&consumer.commit)?.parents;
            let mut ancestry = Ancestry::new(store, &parents)?;
            for input in &mut inputs {
                let Some(producer) = catalog.producer(
                    store,
                    &input.id,
                    &input.path,
                    &mut ancestry,
                    Some(consumer.author.time),
                    Some(consumer.id),
                )?
                else {
                    continue;
                };
                input.made_by = Some(producer.id);
                if let Entry::Vacant(slot) = position.entry(producer.id) {
                    slot.insert(runs.len());
                    queue.push_back(runs.len());
                    runs.push(TracedRun {
                        run: producer,
                        depth: depth + 1,
                        inputs: Vec::new(),
                        followed: false,
                    });
                }
            }
        }
        runs[i].inputs = inputs;
        runs[i].followed = follow;
    }
    Ok(Trace { target, runs })
}

/// The run that made `target`'s bytes; an error naming the path when no run did.
pub fn made_by(ws: &Workspace, catalog: &Catalog, target: &Target) -> Result<Run, Error> {
    let store = ws.repo().store();
    let mut ancestry = Ancestry::new(store, &target.scope)?;
    catalog
        .producer(store, &target.id, &target.path, &mut ancestry, None, None)?
        .ok_or_else(|| Error::NoRun {
            path: target.path.clone(),
            kind: if target.kind == EntryKind::Dir {
                "tree"
            } else {
                "blob"
            },
            id: target.id,
        })
}

/// Every input file of a run: its file deps, and the files of its dep directories.
pub fn input_files(store: &Store, record: &RunRecord) -> Result<Vec<Input>, Error> {
    let mut out = Vec::new();
    for dep in &record.deps {
        if dep.kind != EntryKind::Dir {
            out.push(Input {
                path: dep.path.clone(),
                kind: dep.kind,
                executable: dep.executable,
                size: dep.size,
                id: dep.id,
                dep: dep.path.clone(),
                made_by: None,
            });
            continue;
        }
        for (below, item) in diff::files_under(store, dep.id, &RepoPath::root())? {
            out.push(Input {
                path: dep.path.join_path(&below),
                kind: item.kind,
                executable: item.executable,
                size: item.size,
                id: item.id.expect("stored trees always have ids"),
                dep: dep.path.clone(),
                made_by: None,
            });
        }
    }
    // Overlapping deps (`-d data -d data/a.csv`) name a file once.
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out.dedup_by(|a, b| a.path == b.path);
    Ok(out)
}
