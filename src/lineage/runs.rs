//! Runs as the history holds them: listing them, and walking one commit's ancestry.

use std::collections::HashMap;

use super::{Error, read_run};
use crate::hash::ObjectId;
use crate::history::log;
use crate::object::{RunRecord, Signature};
use crate::repo::Repo;
use crate::store::Store;

/// A run record and the commit that lists it.
#[derive(Debug, Clone)]
pub struct Run {
    pub id: ObjectId,
    pub record: RunRecord,
    /// The dvx commit listing the record (the data version the run's outs went into).
    pub commit: ObjectId,
    /// That commit's author and time.
    pub author: Signature,
}

impl Run {
    /// Read run `id` as listed by `commit`.
    pub fn load(store: &Store, id: ObjectId, commit: ObjectId) -> Result<Run, Error> {
        let author = store.read_commit(&commit)?.author;
        Ok(Run {
            id,
            record: read_run(store, &id)?,
            commit,
            author,
        })
    }
}

/// Every run recorded in the history of `starts` (default: every ref and HEAD), newest
/// commit first; runs of one commit in the order it lists them.
pub fn list(repo: &Repo, starts: Option<&[ObjectId]>) -> Result<Vec<Run>, Error> {
    let store = repo.store();
    let starts = match starts {
        Some(s) => s.to_vec(),
        None => every_tip(repo)?,
    };
    let mut out = Vec::new();
    for step in log::Walk::new(store, &starts)? {
        let (commit_id, commit) = step?;
        for run in &commit.runs {
            out.push(Run {
                id: *run,
                record: read_run(store, run)?,
                commit: commit_id,
                author: commit.author.clone(),
            });
        }
    }
    Ok(out)
}

/// The commits every ref and HEAD point at.
pub fn every_tip(repo: &Repo) -> Result<Vec<ObjectId>, Error> {
    let refs = repo.refs();
    let mut tips: Vec<ObjectId> = refs
        .list("refs/")
        .map_err(crate::history::Error::from)?
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    if let Some(head) = refs.head_commit().map_err(crate::history::Error::from)? {
        tips.push(head);
    }
    tips.sort();
    tips.dedup();
    Ok(tips)
}

/// The commits reachable from some starting commits, in the order a newest-first walk
/// meets them (a commit always after every descendant of it there), read only as far as
/// a question needs.
pub struct Ancestry<'a> {
    walk: log::Walk<'a>,
    order: HashMap<ObjectId, usize>,
    exhausted: bool,
}

impl<'a> Ancestry<'a> {
    pub fn new(store: &'a Store, starts: &[ObjectId]) -> Result<Ancestry<'a>, Error> {
        Ok(Ancestry {
            walk: log::Walk::new(store, starts)?,
            order: HashMap::new(),
            exhausted: false,
        })
    }

    /// Where `commit` comes in the walk; `None` when it is not reachable.
    pub fn position(&mut self, commit: &ObjectId) -> Result<Option<usize>, Error> {
        while !self.order.contains_key(commit) && !self.exhausted {
            match self.walk.next() {
                Some(step) => {
                    let (id, _) = step?;
                    let n = self.order.len();
                    self.order.insert(id, n);
                }
                None => self.exhausted = true,
            }
        }
        Ok(self.order.get(commit).copied())
    }
}
