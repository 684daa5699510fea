//! `checkout --force`: as `git checkout -f`, every tracked path ends equal to the target
//! (deleted files come back, edits and staged changes are gone), untracked files stay,
//! and bytes that are not local stay not fetched.

use std::fs;

use crate::harness::*;
use crate::history::{commit_at, drop_object};

/// data/ at two commits: `one` (tagged) and `two` (main), which differ in data/a.txt only.
fn two_commits() -> Sandbox {
    let sb = Sandbox::dvx_only();
    sb.write("data/a.txt", b"a1\n");
    sb.write("data/sub/b.txt", b"b\n");
    sb.write("data/sub/c.bin", &bytes(7, 3000));
    sb.ok(&["add", "data"]);
    commit_at(&sb, 0, "one");
    sb.ok(&["tag", "one"]);
    sb.write("data/a.txt", b"a2\n");
    sb.ok(&["add", "data"]);
    commit_at(&sb, 10, "two");
    sb
}

fn at_two() -> Snapshot {
    snap(&[
        ("data/a.txt", b"a2\n"),
        ("data/sub/b.txt", b"b\n"),
        ("data/sub/c.bin", &bytes(7, 3000)),
    ])
}

fn staged_and_unstaged(sb: &Sandbox) -> (serde_json::Value, serde_json::Value) {
    let st = sb.status_json();
    (st["staged"].clone(), st["unstaged"].clone())
}

/// Regression: `rm -rf data; dvx checkout --force HEAD` wrote 0 files and data/ stayed
/// deleted, because only paths where the index differs from the target were looked at.
#[test]
fn checkout_force_brings_back_a_deleted_directory() {
    let sb = two_commits();
    fs::remove_dir_all(sb.path("data")).expect("rm -rf data");
    let out = sb.out(&["checkout", "--force", "HEAD"]);
    assert_contains(&out, "wrote 3 files");
    assert_eq!(sb.snapshot("data"), at_two());
    assert_eq!(sb.status_json()["clean"], true);

    // Lazily too: these bytes are local, so they are written.
    fs::remove_dir_all(sb.path("data/sub")).expect("rm -rf data/sub");
    sb.write("data/a.txt", b"edited\n");
    let out = sb.out(&["checkout", "--force", "--lazy", "HEAD"]);
    assert_contains(&out, "wrote 3 files");
    assert_eq!(sb.snapshot("data"), at_two());
    assert_eq!(sb.status_json()["clean"], true);
}

/// Regression: a file edited in the work tree that is the same in HEAD and the target
/// kept its edit after `checkout --force <target>` (it was carried over, as a checkout
/// without --force does).
#[test]
fn checkout_force_discards_an_edit_that_head_and_the_target_share() {
    let sb = two_commits();
    sb.write("data/sub/b.txt", b"edited\n");
    sb.write("data/a.txt", b"also edited\n");
    let out = sb.out(&["checkout", "--force", "one"]);
    assert!(!out.contains("kept local changes"), "{out}");
    assert_eq!(sb.read("data/sub/b.txt"), b"b\n");
    assert_eq!(sb.read("data/a.txt"), b"a1\n");
    assert_eq!(sb.status_json()["clean"], true);

    // Without --force the shared edit stays, as before.
    sb.write("data/sub/b.txt", b"edited\n");
    sb.ok(&["checkout", "main"]);
    assert_eq!(sb.read("data/sub/b.txt"), b"edited\n");
}

/// Regression: staged changes survived `checkout --force` onto HEAD. As in git, a staged
/// edit, a staged deletion and a staged new file (even one edited after staging) are all
/// thrown away; untracked files stay.
#[test]
fn checkout_force_discards_staged_changes_and_keeps_untracked_files() {
    let sb = two_commits();
    sb.write("data/a.txt", b"staged edit\n");
    sb.write("data/new.txt", b"staged new\n");
    sb.ok(&["add", "data"]);
    sb.write("data/new.txt", b"edited after staging\n");
    sb.ok(&["rm", "data/sub/c.bin"]);
    sb.write("data/sub/untracked.txt", b"mine\n");
    sb.write("outside.txt", b"not dvx's\n");
    let (staged, _) = staged_and_unstaged(&sb);
    assert_eq!(staged.as_array().map(Vec::len), Some(3), "{staged}");

    let out = sb.out(&["checkout", "--force", "HEAD"]);
    assert_contains(&out, "removed 1 file");
    let mut expected = at_two();
    expected.push(("data/sub/untracked.txt".into(), b"mine\n".to_vec()));
    expected.sort();
    assert_eq!(sb.snapshot("data"), expected);
    assert_eq!(sb.read("outside.txt"), b"not dvx's\n");
    let st = sb.status_json();
    assert_eq!(st["staged"], serde_json::json!([]));
    assert_eq!(
        st["unstaged"],
        serde_json::json!([{"path": "data/sub/untracked.txt", "status": "new"}])
    );
}

/// Regression: `dvx checkout --force` without a revision was a usage error; as in git it
/// means HEAD, staying on the current branch.
#[test]
fn checkout_force_without_a_revision_means_head() {
    let sb = two_commits();
    sb.write("data/a.txt", b"edited\n");
    fs::remove_file(sb.path("data/sub/b.txt")).expect("rm");
    let out = sb.out(&["checkout", "--force"]);
    assert_contains(&out, "Switched to branch 'main'");
    assert_contains(&out, "wrote 2 files");
    assert_eq!(sb.snapshot("data"), at_two());
    assert_eq!(sb.status_json()["branch"], "main");
    assert_eq!(sb.status_json()["clean"], true);
    // Without --force, a revision (or paths) is still required.
    let err = sb.fails(&["checkout"], 2);
    assert_contains(&err, "nothing to check out");
}

/// `checkout --force` never fetches and never fails for bytes that are not local: such
/// paths stay (or become) not fetched, in lazy and eager mode alike.
#[test]
fn checkout_force_leaves_bytes_that_are_not_local_not_fetched() {
    let sb = two_commits();
    sb.ok(&["checkout", "one"]);
    // a2's bytes are no longer local; a lazy checkout of main records a.txt not fetched.
    drop_object(&sb, &b3(b"a2\n"));
    sb.ok(&["checkout", "--lazy", "main"]);
    assert!(!sb.exists("data/a.txt"));
    for mode in ["--lazy", "--eager"] {
        fs::remove_file(sb.path("data/sub/b.txt")).expect("rm");
        sb.ok(&["checkout", "--force", mode]);
        assert_eq!(sb.read("data/sub/b.txt"), b"b\n", "{mode}");
        assert!(!sb.exists("data/a.txt"), "{mode}");
        let st = sb.status_json();
        assert_eq!(
            st["not_fetched"],
            serde_json::json!(["data/a.txt"]),
            "{mode}"
        );
        assert_eq!(st["clean"], true, "{mode}");
    }
    // A stray file at the not-fetched path is a local change to a tracked path: thrown
    // away, and the path is not fetched again.
    sb.write("data/a.txt", b"stray\n");
    sb.ok(&["checkout", "--force"]);
    assert!(!sb.exists("data/a.txt"));
    assert_eq!(
        sb.status_json()["not_fetched"],
        serde_json::json!(["data/a.txt"])
    );
}

/// A checkout cut short leaves its target in `.dvx/CHECKOUT` and files of that target in
/// the work tree that the index does not name yet. `checkout --force` back to HEAD must
/// leave HEAD's tree exactly: the rewritten files restored, the deleted ones back, and
/// the files only the interrupted target has gone (they are its bytes, in the store), while
/// an untracked file of the user's at such a path, with other bytes, stays.
#[test]
fn checkout_force_after_an_interrupted_checkout_leaves_head_exactly() {
    let sb = two_commits();
    sb.write("data/extra/x.txt", b"x\n");
    sb.write("data/extra/y.txt", b"y\n");
    sb.ok(&["add", "data"]);
    let three = commit_at(&sb, 20, "three");
    sb.ok(&["checkout", "one"]);
    let one = sb.snapshot("data");
    // What a checkout of `three` killed half way leaves: its target recorded, a.txt
    // rewritten, c.bin deleted, x.txt written; the index and HEAD still at `one`.
    dvx::atomic::write(&sb.path(".dvx/CHECKOUT"), format!("{three}\n").as_bytes()).expect("marker");
    sb.write("data/a.txt", b"a2\n");
    fs::remove_file(sb.path("data/sub/c.bin")).expect("rm");
    sb.write("data/extra/x.txt", b"x\n");
    sb.write("data/extra/y.txt", b"the user's own\n");
    assert_eq!(sb.status_json()["interrupted_checkout"], three.as_str());

    sb.ok(&["checkout", "--force"]);
    let mut expected = one.clone();
    expected.push(("data/extra/y.txt".into(), b"the user's own\n".to_vec()));
    expected.sort();
    assert_eq!(sb.snapshot("data"), expected);
    let st = sb.status_json();
    assert_eq!(st["interrupted_checkout"], serde_json::Value::Null);
    assert_eq!(st["staged"], serde_json::json!([]));
    assert_eq!(
        st["unstaged"],
        serde_json::json!([{"path": "data/extra/y.txt", "status": "new"}])
    );
}
