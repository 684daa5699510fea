//! Which symlink targets may enter a work tree.
//!
//! A symlink is data: dvx records its target as written and never reads or writes
//! through it (DESIGN.md "Paths"). But a link whose target leaves the work tree, or
//! points into git's or dvx's own directory, hands whoever follows it (the training job,
//! a `cp`, an editor) a place the data version does not own; and a tree fetched from a
//! remote is not to be trusted with that. So unless `core.external_symlinks = true`,
//! `add` does not record such a link, and no checkout, restore, pull or merge writes one:
//! the refusal comes before the command writes anything into the work tree.
//!
//! The judgement is lexical, on the target as written, from the link's own directory:
//! an absolute target leaves the tree, and so does one whose `..` climb above its top.
//! A link to another link inside the tree is safe because that link was judged by the
//! same rule when it was written; dvx never follows either.

use super::Error;
use crate::hash::ObjectId;
use crate::path::RepoPath;
use crate::store::{self, Store};

/// Refuse the first of these symlinks (path and the id of its target) whose target
/// leaves the work tree, unless `allowed`. Targets not in `store` are skipped: they
/// are not written either (the paths stay not fetched), and the writer checks again.
pub fn check_targets<'a>(
    store: &Store,
    allowed: bool,
    links: impl IntoIterator<Item = (&'a RepoPath, &'a ObjectId)>,
) -> Result<(), Error> {
    if allowed {
        return Ok(());
    }
    for (path, id) in links {
        match store.read(id) {
            Ok(target) => check(path, &target)?,
            Err(store::Error::Missing { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Refuse the symlink at `path` with `target` if it leaves the work tree.
pub fn check(path: &RepoPath, target: &[u8]) -> Result<(), Error> {
    match outside_reason(path, target) {
        None => Ok(()),
        Some(why) => Err(Error::OutsideSymlink {
            path: path.clone(),
            target: String::from_utf8_lossy(target).into_owned(),
            why,
        }),
    }
}

/// Why a symlink at `link` with `target` must not enter a work tree, or `None` when it
/// stays inside (and out of `.git` and `.dvx`).
pub fn outside_reason(link: &RepoPath, target: &[u8]) -> Option<&'static str> {
    if target.first() == Some(&b'/') {
        return Some("an absolute path");
    }
    // The directories from the top down to where the target points, resolved lexically.
    let mut at: Vec<&[u8]> = Vec::new();
    if let Some(dir) = link.as_str().rsplit_once('/').map(|(dir, _)| dir) {
        at.extend(dir.split('/').map(str::as_bytes));
    }
    for part in target.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                if at.pop().is_none() {
                    return Some("outside the repository");
                }
            }
            name => at.push(name),
        }
    }
    // `.GIT` is `.git` on a case-insensitive file system.
    match at.first() {
        Some(top) if top.eq_ignore_ascii_case(b".git") => Some("inside git's .git directory"),
        Some(top) if top.eq_ignore_ascii_case(b".dvx") => Some("inside dvx's .dvx directory"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(link: &str, target: &str) -> Option<&'static str> {
        outside_reason(&RepoPath::new(link).expect("valid"), target.as_bytes())
    }

    #[test]
    fn targets_inside_the_tree_are_allowed() {
        assert_eq!(reason("link", "file"), None);
        assert_eq!(reason("a/link", "../b/file"), None);
        assert_eq!(reason("a/b/link", "../../c"), None);
        assert_eq!(reason("a/link", "./x/../y"), None);
        assert_eq!(reason("a/link", ".."), None);
        assert_eq!(reason("link", "."), None);
        assert_eq!(reason("a/link", "x//y/"), None);
        // `.git` below the top is a name like any other.
        assert_eq!(reason("a/link", ".git/config"), None);
    }

    #[test]
    fn targets_leaving_the_tree_are_refused() {
        assert_eq!(reason("link", "/etc/passwd"), Some("an absolute path"));
        assert_eq!(reason("link", ".."), Some("outside the repository"));
        assert_eq!(reason("a/link", "../../x"), Some("outside the repository"));
        // Climbing out and back in by name is still out: the name above is not ours.
        assert_eq!(
            reason("a/link", "../../repo/a/x"),
            Some("outside the repository")
        );
        assert_eq!(reason("a/b/link", "x/../../../y"), None);
        assert_eq!(
            reason("a/b/link", "x/../../../../y"),
            Some("outside the repository")
        );
    }

    #[test]
    fn targets_in_git_or_dvx_state_are_refused() {
        assert_eq!(
            reason("link", ".git/hooks"),
            Some("inside git's .git directory")
        );
        assert_eq!(
            reason("a/link", "../.dvx/objects"),
            Some("inside dvx's .dvx directory")
        );
        assert_eq!(reason("link", ".GIT"), Some("inside git's .git directory"));
    }
}
