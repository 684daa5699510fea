//! Revisions as commands take them: the library resolves, this warns on standard error
//! when a name was ambiguous (as git's "refname 'x' is ambiguous").

use dvx::hash::ObjectId;
use dvx::history::Error;
use dvx::history::revision::{self, Ambiguous, Meaning, Resolved};
use dvx::refs::{HEADS, REMOTES, TAGS};
use dvx::repo::Repo;

/// Resolve `spec` to a commit, warning if its name is ambiguous.
pub fn resolve(repo: &Repo, spec: &str) -> Result<ObjectId, Error> {
    let resolved = revision::resolve_noting_ambiguity(repo, spec)?;
    warn(&resolved);
    Ok(resolved.id)
}

/// Resolve `A..B` or `A...B` (see [`revision::resolve_range`]), warning as above.
pub fn resolve_range(repo: &Repo, spec: &str) -> Result<Option<(ObjectId, ObjectId)>, Error> {
    let Some((from, to)) = revision::resolve_range(repo, spec)? else {
        return Ok(None);
    };
    warn(&from);
    warn(&to);
    Ok(Some((from.id, to.id)))
}

fn warn(resolved: &Resolved) {
    if let Some(ambiguous) = &resolved.ambiguous {
        eprintln!("warning: {}", describe(ambiguous));
    }
}

/// `refname 'cafe' is ambiguous: branch cafe, commit cafe12…; …`. Which ref wins is not
/// said: revisions take the first, `checkout` a branch.
fn describe(a: &Ambiguous) -> String {
    let meanings: Vec<String> = a
        .meanings
        .iter()
        .map(|m| match m {
            Meaning::Ref(full) => {
                for (prefix, kind) in [(HEADS, "branch"), (TAGS, "tag"), (REMOTES, "remote branch")]
                {
                    if let Some(short) = full.strip_prefix(prefix) {
                        return format!("{kind} {short}");
                    }
                }
                format!("ref {full}")
            }
            Meaning::Commit(id) => format!("commit {}", id.short()),
        })
        .collect();
    let commits = a.meanings.iter().any(|m| matches!(m, Meaning::Commit(_)));
    format!(
        "refname '{}' is ambiguous: {}{}",
        a.name,
        meanings.join(", "),
        if commits {
            "; the ref is used (give more digits to name the commit)"
        } else {
            ""
        }
    )
}
