//! The commits a detached HEAD leaves behind when it moves away.
//!
//! git warns when a checkout leaves commits made on a detached HEAD that no branch, tag
//! or other ref reaches ("you are leaving 2 commits behind, not connected to any of your
//! branches"): they are kept only by the reflog until gc takes them. dvx warns the same
//! way; this finds them.

use std::collections::HashSet;

use super::Error;
use super::log::Walk;
use crate::hash::ObjectId;
use crate::repo::Repo;

/// The commits reachable from `old` (a detached HEAD's commit) and from no ref and not
/// from `new` (where HEAD goes), newest first. Empty when `old` is kept by something.
pub fn left_behind(
    repo: &Repo,
    old: ObjectId,
    new: Option<ObjectId>,
) -> Result<Vec<ObjectId>, Error> {
    if new == Some(old) {
        return Ok(Vec::new());
    }
    let store = repo.store();
    let mut tips: Vec<ObjectId> = repo
        .refs()
        .list("refs/")?
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    tips.extend(new);
    // Cheap first: most detached HEADs are an old commit of some branch.
    if tips.contains(&old) {
        return Ok(Vec::new());
    }
    // Most often `old` is an earlier commit of some branch: the walk from the refs stops
    // there (newest first, so it costs the commits made since, not the whole history).
    // Only commits really being abandoned cost a walk of everything the refs reach.
    let mut kept = HashSet::new();
    for step in Walk::new(store, &tips)? {
        let (id, _) = step?;
        if id == old {
            return Ok(Vec::new());
        }
        kept.insert(id);
    }
    let mut orphans = Vec::new();
    for step in Walk::new(store, &[old])? {
        let (id, _) = step?;
        if !kept.contains(&id) {
            orphans.push(id);
        }
    }
    Ok(orphans)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::{Commit, Signature, Tree};
    use crate::refs::{Expected, Head};

    fn commit_on(repo: &Repo, parents: &[ObjectId], time: i64) -> ObjectId {
        let tree = repo.store().put(&Tree::default()).expect("tree");
        repo.store()
            .put(&Commit {
                tree,
                parents: parents.to_vec(),
                author: who(time),
                message: format!("at {time}\n"),
                git: None,
                runs: Vec::new(),
                extensions: Vec::new(),
            })
            .expect("commit")
    }

    fn who(time: i64) -> Signature {
        Signature {
            name: "A".into(),
            email: "a@b".into(),
            time,
            tz_minutes: 0,
        }
    }

    #[test]
    fn finds_the_commits_only_a_detached_head_reached() {
        let (_d, repo) = Repo::scratch();
        let lock = repo.lock().expect("lock");
        let base = commit_on(&repo, &[], 1);
        repo.update_ref(
            &lock,
            "refs/heads/main",
            Expected::Absent,
            Some(base),
            &who(1),
            "x",
        )
        .expect("main");
        let one = commit_on(&repo, &[base], 2);
        let two = commit_on(&repo, &[one], 3);
        repo.set_head(&lock, &Head::Detached(two), &who(3), "x")
            .expect("detach");
        // Going back to main leaves both detached commits, newest first.
        assert_eq!(
            left_behind(&repo, two, Some(base)).expect("walk"),
            [two, one]
        );
        // Nothing is left when the new HEAD, or a ref, keeps them.
        assert!(left_behind(&repo, two, Some(two)).expect("walk").is_empty());
        let later = commit_on(&repo, &[two], 4);
        assert!(
            left_behind(&repo, two, Some(later))
                .expect("walk")
                .is_empty()
        );
        repo.update_ref(
            &lock,
            "refs/tags/kept",
            Expected::Absent,
            Some(one),
            &who(5),
            "x",
        )
        .expect("tag");
        assert_eq!(left_behind(&repo, two, Some(base)).expect("walk"), [two]);
        assert!(left_behind(&repo, base, None).expect("walk").is_empty());
    }
}
