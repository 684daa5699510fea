//! `dvx reset [<rev>] -- <paths>`: unstaging, as `git restore --staged` does it, without
//! touching the work tree.

use std::fs;
use std::io::Write;

use crate::harness::*;

/// A dvx-only repository: `first` has data/a.txt and data/b.txt, `second` changes
/// data/a.txt.
fn two_commits() -> Sandbox {
    let sb = Sandbox::dvx_only();
    sb.write("data/a.txt", b"a1\n");
    sb.write("data/b.txt", b"b1\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "first"]);
    sb.write("data/a.txt", b"a2\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "second"]);
    sb
}

/// `{path: status}` pairs of a `status --json` list.
fn listed(status: &serde_json::Value, list: &str) -> Vec<(String, String)> {
    status[list]
        .as_array()
        .expect("list")
        .iter()
        .map(|c| {
            (
                c["path"].as_str().expect("path").to_owned(),
                c["status"].as_str().expect("status").to_owned(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(p, s)| ((*p).to_owned(), (*s).to_owned()))
        .collect()
}

/// mtime and bytes of a work-tree file, to show it was not touched.
fn fingerprint(sb: &Sandbox, rel: &str) -> (std::time::SystemTime, Vec<u8>) {
    let meta = fs::symlink_metadata(sb.path(rel)).expect("stat");
    (meta.modified().expect("mtime"), sb.read(rel))
}

#[test]
fn reset_unstages_paths_and_leaves_the_files_alone() {
    let sb = two_commits();
    sb.write("data/a.txt", b"a3\n");
    sb.write("data/new.txt", b"new\n");
    sb.ok(&["add", "data"]);
    let status = sb.status_json();
    assert_eq!(
        listed(&status, "staged"),
        pairs(&[("data/a.txt", "modified"), ("data/new.txt", "added")])
    );
    let (a, new) = (
        fingerprint(&sb, "data/a.txt"),
        fingerprint(&sb, "data/new.txt"),
    );
    let out = sb.out(&["reset", "--", "data/a.txt", "data/new.txt"]);
    assert_eq!(
        out,
        "unstaged 2 paths (1 now as in HEAD, 1 no longer tracked); the work tree was not touched\n"
    );
    assert_eq!(fingerprint(&sb, "data/a.txt"), a);
    assert_eq!(fingerprint(&sb, "data/new.txt"), new);
    // As after `git restore --staged`: the edit is unstaged, the new file untracked.
    let status = sb.status_json();
    assert!(listed(&status, "staged").is_empty(), "{status}");
    assert_eq!(
        listed(&status, "unstaged"),
        pairs(&[("data/a.txt", "modified"), ("data/new.txt", "new")])
    );
    // Nothing left to do; the path form works without `--`, as in git.
    assert_eq!(
        sb.out(&["reset", "data/a.txt"]),
        "nothing to reset: the stage already has HEAD's version of these paths\n"
    );
    // Re-adding stages the same again.
    sb.ok(&["add", "data"]);
    assert_eq!(listed(&sb.status_json(), "staged").len(), 2);
}

#[test]
fn reset_from_a_revision_stages_its_version() {
    let sb = two_commits();
    let before = fingerprint(&sb, "data/a.txt");
    let json: serde_json::Value =
        serde_json::from_str(&sb.out(&["reset", "--json", "HEAD~1", "--", "data"])).expect("json");
    assert_eq!(
        json,
        serde_json::json!({"rev": "HEAD~1", "updated": ["data/a.txt"], "removed": []})
    );
    assert_eq!(fingerprint(&sb, "data/a.txt"), before);
    let status = sb.status_json();
    assert_eq!(
        listed(&status, "staged"),
        pairs(&[("data/a.txt", "modified")])
    );
    assert_eq!(
        listed(&status, "unstaged"),
        pairs(&[("data/a.txt", "modified")])
    );
    // Committing now records the first version, as `git reset HEAD~1 -- f` + commit.
    sb.ok(&["commit", "-m", "back"]);
    assert_eq!(sb.out(&["cat", "--rev", "HEAD", "data/a.txt"]), "a1\n");
    assert_eq!(sb.read("data/a.txt"), b"a2\n");
}

#[test]
fn reset_of_a_path_the_revision_lacks_drops_it_from_the_stage() {
    let sb = two_commits();
    // A file added on its own is a root of its own.
    sb.write("model.bin", &bytes(3, 2000));
    sb.ok(&["add", "model.bin"]);
    sb.ok(&["reset", "--", "model.bin"]);
    assert_eq!(sb.read("model.bin"), bytes(3, 2000));
    assert!(!sb.out(&["ls"]).contains("model.bin"));
    assert_eq!(sb.status_json()["clean"], true, "no root flag left behind");
    // A deleted file comes back to the stage, and shows as deleted (as in git).
    sb.ok(&["rm", "data/b.txt"]);
    assert!(!sb.exists("data/b.txt"));
    sb.ok(&["reset", "--", "data/b.txt"]);
    let status = sb.status_json();
    assert!(listed(&status, "staged").is_empty(), "{status}");
    assert_eq!(
        listed(&status, "unstaged"),
        pairs(&[("data/b.txt", "deleted")])
    );
    sb.ok(&["checkout", "--", "data/b.txt"]);
    assert_eq!(sb.read("data/b.txt"), b"b1\n");
    assert_eq!(sb.status_json()["clean"], true);
}

#[test]
fn reset_names_unknown_paths_and_needs_paths() {
    let sb = two_commits();
    let state = sb.dvx_state();
    let stderr = sb.fails(&["reset", "--", "data/a.txt", "data/nope.txt"], 1);
    let (error, hint) = error_and_hint(&stderr);
    assert_eq!(
        error,
        "error: 'data/nope.txt' is neither in the stage nor in HEAD"
    );
    assert_contains(&hint, "dvx ls");
    let stderr = sb.fails(&["reset", "HEAD~1", "--", "nope"], 1);
    assert_contains(&stderr, "nor in HEAD~1");
    assert_eq!(sb.dvx_state(), state, "a refused reset changes nothing");
    // Without paths reset would have to move HEAD, which it never does.
    let stderr = sb.fails(&["reset"], 2);
    assert_contains(&stderr, "needs the paths");
    sb.fails(&["reset", "HEAD~1"], 2);
    sb.fails(&["reset", "nope", "--", "data"], 1);
    assert_eq!(sb.dvx_state(), state);
}

#[test]
fn reset_before_the_first_commit_empties_the_stage() {
    let sb = Sandbox::dvx_only();
    sb.write("data/a.txt", b"a\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["reset", "--", "."]);
    assert_eq!(sb.out(&["ls"]), "");
    assert_eq!(sb.read("data/a.txt"), b"a\n");
    sb.fails(&["commit", "-m", "x"], 1);
}

#[test]
fn reset_below_a_not_fetched_directory() {
    let sb = Sandbox::dvx_only();
    sb.write("data/keep.txt", b"keep\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "keep"]);
    sb.write("data/lazy/x.bin", &bytes(1, 3000));
    sb.write("data/lazy/y.bin", &bytes(2, 3000));
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "lazy v1"]);
    sb.write("data/lazy/x.bin", &bytes(3, 3000));
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "lazy v2"]);
    sb.ok(&["checkout", "-q", "HEAD~2"]);
    // The lazy files' bytes leave the store, as in a clone that never fetched them; a
    // lazy checkout then keeps data/lazy as one not-fetched entry.
    for seed in [1, 2, 3] {
        fs::remove_file(object_path(&sb.root, &b3(&bytes(seed, 3000)))).expect("remove");
    }
    sb.ok(&["checkout", "-q", "--lazy", "main"]);
    assert!(!sb.exists("data/lazy"));
    assert_eq!(
        sb.status_json()["not_fetched"],
        serde_json::json!(["data/lazy"])
    );

    sb.ok(&["reset", "HEAD~1", "--", "data/lazy/x.bin"]);
    let status = sb.status_json();
    assert_eq!(
        listed(&status, "staged"),
        pairs(&[("data/lazy/x.bin", "modified")])
    );
    assert!(
        listed(&status, "unstaged").is_empty(),
        "not fetched is not deleted: {status}"
    );
    assert_eq!(
        status["not_fetched"],
        serde_json::json!(["data/lazy/x.bin", "data/lazy/y.bin"])
    );
    assert!(!sb.exists("data/lazy"), "the work tree was not touched");
    sb.ok(&["reset", "--", "data/lazy"]);
    let status = sb.status_json();
    assert_eq!(status["clean"], true, "{status}");
}

#[test]
fn reset_waits_for_the_repository_lock() {
    let sb = two_commits();
    sb.write("data/a.txt", b"a3\n");
    sb.ok(&["add", "data"]);
    let lock = fs::File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(sb.path(".dvx/lock"))
        .expect("open lock");
    lock.lock().expect("take the lock");
    (&lock)
        .write_all(format!("{}\n", std::process::id()).as_bytes())
        .expect("write pid");
    let state = sb.dvx_state();
    let stderr = sb.fails(&["reset", "--", "data"], 1);
    let (error, _) = error_and_hint(&stderr);
    assert_contains(&error, "locked");
    assert_eq!(sb.dvx_state(), state);
    lock.unlock().expect("unlock");
    sb.ok(&["reset", "--", "data"]);
}
