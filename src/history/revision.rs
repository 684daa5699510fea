//! What a revision string names.
//!
//! Accepted, as in git: a full or abbreviated (at least 4 hex digits) commit id, a branch
//! or tag name, a full ref name (`refs/heads/x`), `HEAD` (or `@`), and any of these
//! followed by `~N` (N-th first-parent ancestor) and `^N` (N-th parent; `^` is `^1`).
//! Names are looked up as git does: `refs/<name>`, then tags, branches, remotes. An
//! abbreviated id that matches several commits is an error listing them.

use super::Error;
use crate::hash::{self, ObjectId};
use crate::object::{self, Kind};
use crate::refs::{HEADS, REMOTES, TAGS};
use crate::repo::Repo;

/// Shortest abbreviation accepted.
pub const MIN_ABBREV: usize = 4;

/// Resolve `spec` to a commit id.
pub fn resolve(repo: &Repo, spec: &str) -> Result<ObjectId, Error> {
    let split = spec.find(['~', '^']).unwrap_or(spec.len());
    let (base, suffix) = spec.split_at(split);
    // The whole suffix is parsed before any commit is read, so a malformed one
    // (`HEAD~x`) is an unknown revision, not a misleading "no parent".
    let ops = parse_ops(suffix).ok_or_else(|| Error::UnknownRevision(spec.to_owned()))?;
    let mut id = resolve_base(repo, base, spec)?;
    for (op, n) in ops {
        match op {
            b'~' => {
                for _ in 0..n {
                    id = parent(repo, id, 1, spec)?;
                }
            }
            _ => {
                if n > 0 {
                    id = parent(repo, id, n, spec)?;
                }
            }
        }
    }
    Ok(id)
}

/// `~N` and `^N` steps (a missing N is 1); `None` if the suffix is anything else.
fn parse_ops(mut ops: &str) -> Option<Vec<(u8, usize)>> {
    let mut out = Vec::new();
    while !ops.is_empty() {
        let op = ops.as_bytes()[0];
        if op != b'~' && op != b'^' {
            return None;
        }
        let digits_end = ops[1..]
            .find(|c: char| !c.is_ascii_digit())
            .map(|i| i + 1)
            .unwrap_or(ops.len());
        let n = if digits_end == 1 {
            1
        } else {
            ops[1..digits_end].parse().ok()?
        };
        out.push((op, n));
        ops = &ops[digits_end..];
    }
    Some(out)
}

fn parent(repo: &Repo, id: ObjectId, n: usize, spec: &str) -> Result<ObjectId, Error> {
    let commit = repo.store().read_commit(&id)?;
    commit.parents.get(n - 1).copied().ok_or(Error::NoParent {
        spec: spec.to_owned(),
        id,
        n,
    })
}

fn resolve_base(repo: &Repo, base: &str, spec: &str) -> Result<ObjectId, Error> {
    if base.is_empty() {
        return Err(Error::UnknownRevision(spec.to_owned()));
    }
    let refs = repo.refs();
    if base == "HEAD" || base == "@" {
        return refs.head_commit()?.ok_or(Error::NoCommits);
    }
    let candidates = [
        base.to_owned(),
        format!("refs/{base}"),
        format!("{TAGS}{base}"),
        format!("{HEADS}{base}"),
        format!("{REMOTES}{base}"),
    ];
    for name in candidates
        .iter()
        .skip(if base.starts_with("refs/") { 0 } else { 1 })
    {
        if crate::refs::validate_name(name, "ref").is_ok()
            && let Some(id) = refs.get(name)?
        {
            return Ok(id);
        }
    }
    if base.len() >= MIN_ABBREV && hash::is_hex_prefix(base) {
        let matches: Vec<ObjectId> = repo
            .store()
            .find_prefix(base)?
            .into_iter()
            .filter(|id| is_commit(repo, id))
            .collect();
        return match matches.len() {
            0 => Err(Error::UnknownRevision(spec.to_owned())),
            1 => Ok(matches[0]),
            _ => Err(Error::Ambiguous {
                spec: spec.to_owned(),
                candidates: matches,
            }),
        };
    }
    Err(Error::UnknownRevision(spec.to_owned()))
}

/// Whether the stored object is a commit (its header says so).
fn is_commit(repo: &Repo, id: &ObjectId) -> bool {
    use std::io::Read;
    let Ok(mut file) = repo.store().open(id) else {
        return false;
    };
    let mut header = [0u8; object::HEADER_LEN];
    file.read_exact(&mut header).is_ok() && object::kind_of(&header) == Some(Kind::Commit)
}
