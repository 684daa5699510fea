//! What a revision string names.
//!
//! Accepted, as in git: a full or abbreviated (at least 4 hex digits) commit id, a branch
//! or tag name, a full ref name (`refs/heads/x`), `HEAD` (or `@`), and any of these
//! followed by `~N` (N-th first-parent ancestor) and `^N` (N-th parent; `^` is `^1`).
//! Names are looked up as git does: `refs/<name>`, then tags, branches, remotes. An
//! abbreviated id that matches several commits is an error listing them. A name that
//! also means something else (a tag and a branch of that name, or a ref whose name is
//! also the start of a commit id) resolves to the first ref, and the other meanings are
//! returned so the caller can warn, as git warns "refname 'x' is ambiguous".
//!
//! Two revisions in one argument, as `git diff` takes them ([`resolve_range`]): `A..B`,
//! and `A...B` (from the merge base of A and B). Ref names cannot contain `..`, so the
//! spelling is never ambiguous.

use super::Error;
use crate::hash::{self, ObjectId};
use crate::object::{self, Kind};
use crate::refs::{HEADS, REMOTES, TAGS};
use crate::repo::Repo;

/// Shortest abbreviation accepted.
pub const MIN_ABBREV: usize = 4;

/// A revision, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub id: ObjectId,
    /// Set when the name means more than one thing; the first meaning was used.
    pub ambiguous: Option<Ambiguous>,
}

/// A name with several meanings, the one used first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ambiguous {
    pub name: String,
    pub meanings: Vec<Meaning>,
}

/// One thing a name can mean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Meaning {
    /// A ref, by its full name (`refs/tags/v1`).
    Ref(String),
    /// A commit whose id starts with the name.
    Commit(ObjectId),
}

/// Resolve `spec` to a commit id.
pub fn resolve(repo: &Repo, spec: &str) -> Result<ObjectId, Error> {
    Ok(resolve_noting_ambiguity(repo, spec)?.id)
}

/// Resolve `spec` to a commit id, and say whether its name was ambiguous.
pub fn resolve_noting_ambiguity(repo: &Repo, spec: &str) -> Result<Resolved, Error> {
    let split = spec.find(['~', '^']).unwrap_or(spec.len());
    let (base, suffix) = spec.split_at(split);
    // The whole suffix is parsed before any commit is read, so a malformed one
    // (`HEAD~x`) is an unknown revision, not a misleading "no parent".
    let ops = parse_ops(suffix).ok_or_else(|| Error::UnknownRevision(spec.to_owned()))?;
    let Resolved { mut id, ambiguous } = resolve_base(repo, base, spec)?;
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
    Ok(Resolved { id, ambiguous })
}

/// `A..B` (A and B) or `A...B` (the merge base of A and B, and B), either side defaulting
/// to HEAD, resolved; `None` when `spec` names a single revision.
pub fn resolve_range(repo: &Repo, spec: &str) -> Result<Option<(Resolved, Resolved)>, Error> {
    let Some((from, to, symmetric)) = split_range(spec) else {
        return Ok(None);
    };
    let side = |s: &str| resolve_noting_ambiguity(repo, if s.is_empty() { "HEAD" } else { s });
    let (mut from, to) = (side(from)?, side(to)?);
    if symmetric {
        from.id = super::merge::merge_base(repo.store(), from.id, to.id)?
            .ok_or_else(|| Error::NoMergeBase(spec.to_owned()))?;
    }
    Ok(Some((from, to)))
}

/// The sides of `A..B` or `A...B`, and whether it was the three-dot form.
fn split_range(spec: &str) -> Option<(&str, &str, bool)> {
    if let Some((from, to)) = spec.split_once("...") {
        return Some((from, to, true));
    }
    spec.split_once("..").map(|(from, to)| (from, to, false))
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

fn resolve_base(repo: &Repo, base: &str, spec: &str) -> Result<Resolved, Error> {
    if base.is_empty() {
        return Err(Error::UnknownRevision(spec.to_owned()));
    }
    let refs = repo.refs();
    if base == "HEAD" || base == "@" {
        let id = refs.head_commit()?.ok_or(Error::NoCommits)?;
        return Ok(Resolved {
            id,
            ambiguous: None,
        });
    }
    let candidates = [
        base.to_owned(),
        format!("refs/{base}"),
        format!("{TAGS}{base}"),
        format!("{HEADS}{base}"),
        format!("{REMOTES}{base}"),
    ];
    // Every meaning is collected, in git's order, so an ambiguous name can be reported.
    let mut found: Vec<(Meaning, ObjectId)> = Vec::new();
    for name in candidates
        .iter()
        .skip(if base.starts_with("refs/") { 0 } else { 1 })
    {
        if crate::refs::validate_name(name, "ref").is_ok()
            && let Some(id) = refs.get(name)?
        {
            found.push((Meaning::Ref(name.clone()), id));
        }
    }
    let is_abbrev = base.len() >= MIN_ABBREV && hash::is_hex_prefix(base);
    let commits: Vec<ObjectId> = if is_abbrev {
        repo.store()
            .find_prefix(base)?
            .into_iter()
            .filter(|id| is_commit(repo, id))
            .collect()
    } else {
        Vec::new()
    };
    if found.is_empty() {
        return match commits.as_slice() {
            [] => Err(Error::UnknownRevision(spec.to_owned())),
            [id] => Ok(Resolved {
                id: *id,
                ambiguous: None,
            }),
            _ => Err(Error::Ambiguous {
                spec: spec.to_owned(),
                candidates: commits,
            }),
        };
    }
    let id = found[0].1;
    let mut meanings: Vec<Meaning> = found.into_iter().map(|(meaning, _)| meaning).collect();
    meanings.extend(commits.into_iter().map(Meaning::Commit));
    let ambiguous = (meanings.len() > 1).then(|| Ambiguous {
        name: base.to_owned(),
        meanings,
    });
    Ok(Resolved { id, ambiguous })
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

#[cfg(test)]
mod tests {
    use super::split_range;

    #[test]
    fn ranges_split_on_two_or_three_dots() {
        assert_eq!(split_range("a..b"), Some(("a", "b", false)));
        assert_eq!(split_range("a...b"), Some(("a", "b", true)));
        assert_eq!(split_range("main~2.."), Some(("main~2", "", false)));
        assert_eq!(split_range("..main"), Some(("", "main", false)));
        assert_eq!(split_range("main"), None);
        assert_eq!(split_range("v1.2"), None);
    }
}
