//! Checking the repository: every local object against its id, every commit and tree
//! reachable from a ref, and the index against the store.

use rayon::prelude::*;

use super::Error;
use super::reach::{Marker, Missing};
use crate::hash::ObjectId;
use crate::index::{Index, Kind};
use crate::progress::{Progress, Unit};
use crate::repo::Repo;
use crate::store;

/// What fsck found.
#[derive(Debug, Default)]
pub struct Report {
    pub objects_checked: usize,
    /// Objects whose bytes do not hash to their name.
    pub corrupt: Vec<(ObjectId, String)>,
    /// Commits and trees reachable from refs, and blobs the index needs, that are absent
    /// or cannot be decoded.
    pub missing: Vec<Missing>,
    /// Other damage: an unreadable ref or index.
    pub problems: Vec<String>,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.corrupt.is_empty() && self.missing.is_empty() && self.problems.is_empty()
    }
}

/// Check everything. Damage is reported, not returned as an error; an error means fsck
/// itself could not run.
pub fn fsck(repo: &Repo, progress: &dyn Progress) -> Result<Report, Error> {
    let store = repo.store();
    let mut report = Report::default();
    let ids = store.list()?;
    progress.start("checking objects", Some(ids.len() as u64), Unit::Files);
    let results: Vec<Option<(ObjectId, String)>> = ids
        .par_iter()
        .map(|id| {
            let outcome = match store.verify(id) {
                Ok(()) => None,
                Err(store::Error::Corrupt { reason, .. }) => Some((*id, reason)),
                Err(e) => Some((*id, e.to_string())),
            };
            progress.advance(1);
            outcome
        })
        .collect();
    progress.finish();
    report.objects_checked = ids.len();
    report.corrupt = results.into_iter().flatten().collect();

    let mut marker = Marker::new(store);
    match repo.refs().list("refs/") {
        Ok(refs) => {
            for (name, id) in refs {
                marker.commit(id, &name);
            }
        }
        Err(e) => report.problems.push(e.to_string()),
    }
    match repo.refs().head_commit() {
        Ok(Some(id)) => marker.commit(id, "HEAD"),
        Ok(None) => {}
        Err(e) => report.problems.push(e.to_string()),
    }
    match Index::load(repo.local_dir()) {
        Ok(index) => {
            for e in index.iter() {
                match e.kind {
                    Kind::Tree => marker.tree(e.id, &format!("index entry {}", e.path)),
                    _ if e.not_fetched => {}
                    _ if !store.contains(&e.id) => report.missing.push(Missing {
                        id: e.id,
                        kind: "blob",
                        via: format!("index entry {}", e.path),
                        problem: "not in the local store".into(),
                    }),
                    _ => {}
                }
            }
        }
        Err(e) => report.problems.push(e.to_string()),
    }
    report.missing.extend(marker.missing);
    Ok(report)
}
