//! Tag rules: creating, moving and deleting tags.
//!
//! Owns what may happen to a tag, as git has it: names follow git's rules; a tag names
//! one commit and never moves unless forced; deleting needs the tag to exist. Does not
//! own how refs are stored (`refs`).
//!
//! Each function runs under the repository lock (its guard is a parameter); every ref
//! moves by compare-and-swap.

use super::Error;
use crate::hash::ObjectId;
use crate::object::Signature;
use crate::refs::{self, Expected, TAGS};
use crate::repo::{Repo, RepoLock};

fn full_name(name: &str) -> String {
    format!("{TAGS}{name}")
}

/// Tag `target` as `name`; with `force`, move an existing tag there.
pub fn create(
    repo: &Repo,
    lock: &RepoLock,
    name: &str,
    target: ObjectId,
    force: bool,
    who: &Signature,
    message: &str,
) -> Result<(), Error> {
    refs::validate_name(name, "tag")?;
    let full = full_name(name);
    let existing = repo.refs().get(&full)?;
    if let Some(at) = existing
        && !force
    {
        return Err(Error::TagExists {
            name: name.to_owned(),
            at,
        });
    }
    let expected = existing.map(Expected::Is).unwrap_or(Expected::Absent);
    repo.update_ref(lock, &full, expected, Some(target), who, message)?;
    Ok(())
}

/// Delete tag `name`; returns the commit it named.
pub fn delete(
    repo: &Repo,
    lock: &RepoLock,
    name: &str,
    who: &Signature,
) -> Result<ObjectId, Error> {
    let full = full_name(name);
    let Some(id) = repo.refs().get(&full)? else {
        return Err(Error::NoSuchTag(name.to_owned()));
    };
    repo.update_ref(lock, &full, Expected::Is(id), None, who, "tag: deleted")?;
    Ok(id)
}

/// Every tag, by short name, with the commit it names.
pub fn list(repo: &Repo) -> Result<Vec<(String, ObjectId)>, Error> {
    Ok(repo
        .refs()
        .list(TAGS)?
        .into_iter()
        .map(|(full, id)| (full.trim_start_matches(TAGS).to_owned(), id))
        .collect())
}
