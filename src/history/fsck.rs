//! Checking the repository: every local object against its id, every commit and tree
//! reachable from a ref, a reflog entry or the index, and that the blobs they name are
//! in the store.
//!
//! Only blobs may be absent from a repository (a lazy checkout, a partial fetch). With
//! no remote to fetch them from, an absent blob that a ref, a reflog entry or the index
//! needs is lost data: it is reported as missing with the paths that need it. When the
//! source fetches from a remote ([`ObjectSource::fetches_from`]), such blobs are only
//! "not local", which is no damage; whether the remote has them is `dvx fsck
//! --remote`'s job. Whether a blob is local is the [`ObjectSource`]'s answer: the listing of
//! the store that the object check makes anyway rules out every blob it holds, with no
//! extra I/O, and only a blob absent from it is asked about (it may have been stored
//! since the listing was taken, by an `add` running meanwhile).
//!
//! A reflog entry whose commit is gone is skipped: gc takes the commits of expired
//! reflog entries (`--grace`), whole, and that is not damage.

use rayon::prelude::*;

use super::Error;
use super::reach::{Marker, Missing};
use crate::hash::ObjectId;
use crate::index::{Index, Kind};
use crate::progress::{Progress, Unit};
use crate::repo::Repo;
use crate::store::{self, ObjectSource};

/// What fsck found.
#[derive(Debug, Default)]
pub struct Report {
    pub objects_checked: usize,
    /// Objects whose bytes do not hash to their name.
    pub corrupt: Vec<(ObjectId, String)>,
    /// Commits and trees reachable from refs, reflog entries and the index that are
    /// absent or cannot be decoded, and blobs they or the index need that are absent.
    pub missing: Vec<Missing>,
    /// Other damage: an unreadable ref or index.
    pub problems: Vec<String>,
    /// Blobs absent from the store that a remote may provide (only with a source that
    /// fetches from one): not damage.
    pub not_local: Vec<Missing>,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.corrupt.is_empty() && self.missing.is_empty() && self.problems.is_empty()
    }
}

/// Check everything, with `objects` saying which blobs are local (its store is the one
/// checked). Damage is reported, not returned as an error; an error means fsck itself
/// could not run.
pub fn fsck(
    repo: &Repo,
    objects: &dyn ObjectSource,
    progress: &dyn Progress,
) -> Result<Report, Error> {
    let store = objects.store();
    let mut report = Report::default();
    let mut ids = store.list()?;
    // Sorted, the listing answers "is this blob here?" for the reachability walk below.
    ids.sort_unstable();
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
    // A damaged pack index hides the objects it names: they show up below as missing,
    // and this says why.
    for damaged in store.damaged_packs() {
        report.problems.push(format!(
            "local pack index {} {}: its objects count as absent (`dvx pull` brings back \
             what a remote holds)",
            damaged.index.display(),
            damaged.reason
        ));
    }

    let mut marker = Marker::checking_blobs(store, &ids);
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
    match repo.refs().all_reflogs() {
        Ok(logs) => {
            for (name, log) in logs {
                let via = format!("reflog of {name}");
                for id in log.iter().flat_map(|e| [e.old, e.new]).flatten() {
                    if ids.binary_search(&id).is_ok() {
                        marker.commit(id, &via);
                    }
                }
            }
        }
        Err(e) => report.problems.push(e.to_string()),
    }
    match Index::load(repo.local_dir()) {
        Ok(index) => {
            for e in index.iter() {
                match e.kind {
                    Kind::Tree => {
                        let via = format!("index entry {}", e.path);
                        marker.tree_at(e.id, &via, &e.path, "the index");
                    }
                    // Fetched or not: without a remote, the store is the only place
                    // the bytes can come from.
                    Kind::File | Kind::Symlink => marker.blob_at(e.id, &e.path, "the index"),
                }
            }
        }
        Err(e) => report.problems.push(e.to_string()),
    }
    let (_, missing) = marker.finish();
    let remote = objects.fetches_from().is_some();
    for m in missing {
        match m.kind {
            "blob" if objects.has(&m.id) => {}
            "blob" if remote => report.not_local.push(Missing {
                problem: "not in the local store".into(),
                ..m
            }),
            _ => report.missing.push(m),
        }
    }
    Ok(report)
}
