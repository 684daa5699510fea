//! Writing work-tree files from the bytes a fetch brings in, as each object arrives.
//!
//! Owns: [`WriteOnArrival`], the [`Arrivals`] a pull hands to its source's
//! [`fetch_announcing`](crate::store::ObjectSource::fetch_announcing). Each object that
//! arrives is written at the paths waiting for it, from the very bytes the fetch hashed
//! and stored, through the [`Materializer`] (a temp file in the temp area, renamed into
//! place, as every work-tree write is), so a pull of many small files does not read each
//! object back from the store and hash it a second time. Does not own which paths wait
//! (the pull plans that: files whose bytes are absent and where no file stands) nor the
//! index (the caller records what was written, after the flush).
//!
//! Invariants: a path is written only from bytes that were hashed to its id and are in
//! the local store already; nothing is written for an object that does not arrive (the
//! caller writes those from the store, or records them not fetched); after the first
//! write that fails nothing more is written, and that error is what the caller gets.

use std::collections::HashMap;
use std::sync::Mutex;

use super::materialize::Materializer;
use super::{Error, Workspace};
use crate::hash::ObjectId;
use crate::index::Entry;
use crate::store::Arrivals;

/// Writes the files waiting for objects as a fetch brings those objects in.
pub(super) struct WriteOnArrival {
    materializer: Materializer,
    /// The entries waiting for each object (one blob may be at many paths).
    waiting: HashMap<ObjectId, Vec<Entry>>,
    outcome: Mutex<Outcome>,
}

#[derive(Default)]
struct Outcome {
    /// Entries written: their stat recorded, fetched.
    written: Vec<Entry>,
    /// Objects whose entries were written.
    arrived: Vec<ObjectId>,
    /// The first write that failed.
    failed: Option<Error>,
}

/// What [`WriteOnArrival::finish`] hands back.
pub(super) struct Written {
    /// Entries written, with the stat of their new files.
    pub written: Vec<Entry>,
    /// Entries whose objects did not arrive: still waiting, as they were given.
    pub waiting: Vec<Entry>,
}

impl WriteOnArrival {
    /// Files of `ws` at `entries` (file entries whose bytes are about to be fetched, with
    /// nothing standing at their paths) to write as their objects arrive.
    pub(super) fn new(ws: &Workspace, entries: Vec<Entry>) -> WriteOnArrival {
        let mut waiting: HashMap<ObjectId, Vec<Entry>> = HashMap::with_capacity(entries.len());
        for entry in entries {
            waiting.entry(entry.id).or_default().push(entry);
        }
        WriteOnArrival {
            materializer: Materializer::new(ws.root(), ws.repo().store(), ws.repo().link_kinds()),
            waiting,
            outcome: Mutex::new(Outcome::default()),
        }
    }

    /// What was written and what still waits, once the fetch has returned; the error of
    /// the first write that failed, if one did.
    pub(super) fn finish(&self) -> Result<Written, Error> {
        let outcome = std::mem::take(&mut *self.outcome.lock().expect("outcome lock"));
        if let Some(e) = outcome.failed {
            return Err(e);
        }
        let arrived: std::collections::HashSet<ObjectId> = outcome.arrived.into_iter().collect();
        let waiting = self
            .waiting
            .iter()
            .filter(|(id, _)| !arrived.contains(id))
            .flat_map(|(_, entries)| entries.iter().cloned())
            .collect();
        Ok(Written {
            written: outcome.written,
            waiting,
        })
    }
}

impl Arrivals for WriteOnArrival {
    fn arrived(&self, id: &ObjectId, bytes: &[u8]) {
        let Some(entries) = self.waiting.get(id) else {
            return;
        };
        if self.outcome.lock().expect("outcome lock").failed.is_some() {
            return;
        }
        let mut written = Vec::with_capacity(entries.len());
        for entry in entries {
            match self.materializer.write_verified(entry, bytes) {
                Ok((stat, linked)) => {
                    let mut entry = entry.clone();
                    entry.stat = stat;
                    entry.linked = linked;
                    entry.not_fetched = false;
                    written.push(entry);
                }
                Err(e) => {
                    let mut outcome = self.outcome.lock().expect("outcome lock");
                    outcome.failed.get_or_insert(e);
                    // The paths written before the failure hold the right bytes; the
                    // caller fails, and a later pull finds them and records them.
                    return;
                }
            }
        }
        let mut outcome = self.outcome.lock().expect("outcome lock");
        outcome.written.extend(written);
        outcome.arrived.push(*id);
    }
}
