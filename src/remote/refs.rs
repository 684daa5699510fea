//! Refs on a remote: branches and tags as append-only histories of numbered files.
//!
//! Owns: listing a remote's branches and tags, reading one (its highest sequence
//! number), moving one by creating the next number with create-if-absent, and deleting
//! one with a tombstone. Does not own deciding whether a move is a fast-forward (that
//! is history's job, done before calling [`update`]).
//!
//! Layout: `refs/heads/<name>/<seq>` and `refs/tags/<name>/<seq>`, `<seq>` a decimal
//! number zero-padded to 20 digits (so names sort as numbers and `refs/heads/main` is
//! never itself a key). Each file holds 64 hex digits and a newline (the commit), or
//! `deleted` and a newline (a tombstone). The highest seq is the ref's value.
//!
//! Invariants: a ref moves only by creating `<seq + 1>` where `<seq>` is the value the
//! mover read, with `PutMode::Create`: of two movers from the same seq exactly one
//! succeeds, and the other gets [`Error::Moved`], never a silent overwrite. Files are
//! never rewritten or deleted by a move.

use std::collections::BTreeMap;

use futures_util::TryStreamExt;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};

use super::backend::{self, Backend};
use crate::hash::ObjectId;

/// Digits in a sequence number (u64::MAX has 20).
pub const SEQ_WIDTH: usize = 20;
const TOMBSTONE: &str = "deleted\n";

/// Branches or tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RefKind {
    Branch,
    Tag,
}

impl RefKind {
    fn dir(self) -> &'static str {
        match self {
            RefKind::Branch => "refs/heads",
            RefKind::Tag => "refs/tags",
        }
    }

    /// `branch` or `tag`, as messages name it.
    pub fn what(self) -> &'static str {
        match self {
            RefKind::Branch => "branch",
            RefKind::Tag => "tag",
        }
    }
}

/// A ref's current state on the remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteRef {
    pub kind: RefKind,
    pub name: String,
    /// The highest sequence number; 0 if the ref has never existed.
    pub seq: u64,
    /// The commit, or `None` for a deleted (or never created) ref.
    pub target: Option<ObjectId>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Name(#[from] crate::refs::Error),
    #[error(
        "'{name}' is not a valid remote {what} name: a component of 20 digits would be read as a sequence number"
    )]
    SeqLikeName { name: String, what: &'static str },
    /// Someone else moved the ref since it was read: the caller must fetch and merge.
    #[error(
        "{what} {name} on remote {url} has moved (it is at {found}, this push started from {expected})"
    )]
    Moved {
        url: String,
        what: &'static str,
        name: String,
        expected: u64,
        found: u64,
    },
    #[error("ref file {key} on remote {url} is damaged: {reason}")]
    Corrupt {
        url: String,
        key: String,
        reason: String,
    },
    #[error(transparent)]
    Backend(#[from] backend::Error),
}

fn check_name(kind: RefKind, name: &str) -> Result<(), Error> {
    crate::refs::validate_name(name, kind.what())?;
    if name.split('/').any(is_seq) {
        return Err(Error::SeqLikeName {
            name: name.into(),
            what: kind.what(),
        });
    }
    Ok(())
}

fn is_seq(s: &str) -> bool {
    s.len() == SEQ_WIDTH && s.bytes().all(|b| b.is_ascii_digit())
}

fn seq_key(kind: RefKind, name: &str, seq: u64) -> String {
    format!("{}/{name}/{seq:0width$}", kind.dir(), width = SEQ_WIDTH)
}

/// Every ref of `kind` and its highest seq, tombstones included.
pub async fn list_seqs(backend: &Backend, kind: RefKind) -> Result<BTreeMap<String, u64>, Error> {
    let prefix = backend.key(kind.dir());
    let metas: Vec<_> = backend
        .retry_cut_reads(|| backend.store().list(Some(&prefix)).try_collect())
        .await
        .map_err(|e| backend.store_err(e))?;
    let mut seqs = BTreeMap::new();
    let dir = format!("{}/", kind.dir());
    for meta in metas {
        let Some(relative) = backend.relative(&meta.location) else {
            continue;
        };
        let Some(rest) = relative.strip_prefix(&dir) else {
            continue;
        };
        // Keys that are not `<name>/<seq>` are someone else's; ignore them.
        let Some((name, seq)) = rest.rsplit_once('/') else {
            continue;
        };
        if !is_seq(seq) || check_name(kind, name).is_err() {
            continue;
        }
        let Ok(seq) = seq.parse::<u64>() else {
            continue;
        };
        let highest = seqs.entry(name.to_owned()).or_insert(0);
        *highest = (*highest).max(seq);
    }
    Ok(seqs)
}

/// Every live (not deleted) ref of `kind`, with its target.
pub async fn list(backend: &Backend, kind: RefKind) -> Result<Vec<RemoteRef>, Error> {
    let mut refs = Vec::new();
    for (name, seq) in list_seqs(backend, kind).await? {
        let target = read_seq(backend, kind, &name, seq).await?;
        if target.is_some() {
            refs.push(RemoteRef {
                kind,
                name,
                seq,
                target,
            });
        }
    }
    Ok(refs)
}

/// One ref's current state (seq 0 and no target if it has never existed).
pub async fn read(backend: &Backend, kind: RefKind, name: &str) -> Result<RemoteRef, Error> {
    check_name(kind, name)?;
    let prefix = backend.key(&format!("{}/{name}", kind.dir()));
    // Only the ref's own seq files: a ref `a` must not see the files of `a/b`.
    let listing = backend
        .retry_cut_reads(|| backend.store().list_with_delimiter(Some(&prefix)))
        .await
        .map_err(|e| backend.store_err(e))?;
    let seq = listing
        .objects
        .iter()
        .filter_map(|m| m.location.filename())
        .filter(|f| is_seq(f))
        .filter_map(|f| f.parse::<u64>().ok())
        .max()
        .unwrap_or(0);
    let target = if seq == 0 {
        None
    } else {
        read_seq(backend, kind, name, seq).await?
    };
    Ok(RemoteRef {
        kind,
        name: name.into(),
        seq,
        target,
    })
}

async fn read_seq(
    backend: &Backend,
    kind: RefKind,
    name: &str,
    seq: u64,
) -> Result<Option<ObjectId>, Error> {
    let relative = seq_key(kind, name, seq);
    let key = backend.key(&relative);
    let bytes = backend
        .retry_cut_reads(|| async { backend.store().get(&key).await?.bytes().await })
        .await
        .map_err(|e| backend.store_err(e))?;
    parse(&bytes).ok_or_else(|| Error::Corrupt {
        url: backend.shown().into(),
        key: relative,
        reason: "expected 64 hex digits or 'deleted', and a newline".into(),
    })
}

fn parse(bytes: &[u8]) -> Option<Option<ObjectId>> {
    let text = std::str::from_utf8(bytes).ok()?;
    if text == TOMBSTONE {
        return Some(None);
    }
    let hex = text.strip_suffix('\n')?;
    hex.parse().ok().map(Some)
}

/// Move ref `name` from `from` (the seq the caller read, 0 if absent) to `to` (`None`
/// deletes it). Returns the new seq. Losing a race is [`Error::Moved`].
pub async fn update(
    backend: &Backend,
    kind: RefKind,
    name: &str,
    from: u64,
    to: Option<&ObjectId>,
) -> Result<u64, Error> {
    check_name(kind, name)?;
    let seq = from + 1;
    let body = match to {
        Some(id) => format!("{}\n", id.to_hex()),
        None => TOMBSTONE.to_owned(),
    };
    let key = backend.key(&seq_key(kind, name, seq));
    let result = backend
        .store()
        .put_opts(
            &key,
            PutPayload::from(body.into_bytes()),
            PutOptions::from(PutMode::Create),
        )
        .await;
    match result {
        Ok(_) => Ok(seq),
        Err(object_store::Error::AlreadyExists { .. })
        | Err(object_store::Error::Precondition { .. }) => {
            // The client retries a create whose answer was lost (a connection dropped
            // after the server stored it): the retry then finds our own file. A seq
            // holding exactly the value we wrote is our move, not a lost race.
            if let Ok(there) = read_seq(backend, kind, name, seq).await
                && there.as_ref() == to
            {
                return Ok(seq);
            }
            let found = read(backend, kind, name)
                .await
                .map(|r| r.seq)
                .unwrap_or(seq);
            Err(Error::Moved {
                url: backend.shown().into(),
                what: kind.what(),
                name: name.into(),
                expected: from,
                found,
            })
        }
        Err(e) => Err(backend.store_err(e).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_keys_are_fixed_width_and_names_cannot_look_like_seqs() {
        assert_eq!(
            seq_key(RefKind::Branch, "main", 7),
            "refs/heads/main/00000000000000000007"
        );
        assert_eq!(
            seq_key(RefKind::Tag, "v1", u64::MAX),
            "refs/tags/v1/18446744073709551615"
        );
        assert!(check_name(RefKind::Branch, "feature/x").is_ok());
        assert!(check_name(RefKind::Branch, "a/00000000000000000001").is_err());
        assert!(check_name(RefKind::Branch, "..").is_err());
    }

    /// Regression: a ref move whose create landed but whose answer was lost (a dropped
    /// connection; the client retried and found the file) was reported as a lost race,
    /// so a push that had succeeded said "the remote has commits you do not have".
    #[test]
    fn a_ref_move_whose_answer_was_lost_is_not_a_lost_race() {
        let store: std::sync::Arc<dyn object_store::ObjectStore> =
            std::sync::Arc::new(object_store::memory::InMemory::new());
        let backend = Backend::from_store(store, &[], "memory");
        let mine = ObjectId::of(b"mine");
        let theirs = ObjectId::of(b"theirs");
        let run = |from: u64, to: Option<&ObjectId>| {
            crate::remote::block_on(update(&backend, RefKind::Branch, "main", from, to))
                .expect("runtime")
        };
        assert_eq!(run(0, Some(&mine)).expect("first move"), 1);
        // The same move again from seq 0: the file at seq 1 is ours.
        assert_eq!(run(0, Some(&mine)).expect("ours"), 1);
        // Another value from seq 0 lost the race.
        assert!(matches!(run(0, Some(&theirs)), Err(Error::Moved { .. })));
        // A delete that landed is ours too.
        assert_eq!(run(1, None).expect("delete"), 2);
        assert_eq!(run(1, None).expect("delete again"), 2);
    }

    #[test]
    fn ref_files_parse_strictly() {
        let id = ObjectId::of(b"c");
        assert_eq!(
            parse(format!("{}\n", id.to_hex()).as_bytes()),
            Some(Some(id))
        );
        assert_eq!(parse(b"deleted\n"), Some(None));
        assert_eq!(parse(id.to_hex().as_bytes()), None);
        assert_eq!(parse(b"deleted"), None);
        assert_eq!(parse(b"\xff\n"), None);
    }
}
