//! A branch checked out in one work tree (main or linked) is protected from the others,
//! as git does ("checked out at <path>"): it cannot be deleted (even with -D), renamed,
//! force-moved or checked out there. A detached checkout of the same commit is fine.

use std::path::{Path, PathBuf};

use crate::harness::*;

/// A git repository with dvx data committed on `main` (the pin committed in git), and a
/// linked git worktree beside it whose dvx HEAD is on its own branch `wtbranch`.
fn main_and_linked() -> (Sandbox, PathBuf) {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/a.txt", b"a\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "data", "--git-add"]);
    sb.git(&["commit", "-q", "-m", "pin data"]);
    let linked = sb.root.parent().expect("parent").join("linked");
    sb.git(&[
        "worktree",
        "add",
        "-q",
        "-b",
        "wt",
        linked.to_str().expect("utf-8"),
    ]);
    in_dir(&sb, &linked, &["checkout", "-b", "wtbranch", "main"]);
    (sb, linked)
}

/// `dvx args` in `dir`, which must succeed; returns stdout.
fn in_dir(sb: &Sandbox, dir: &Path, args: &[&str]) -> String {
    let output = sb
        .dvx()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run dvx");
    assert!(
        output.status.success(),
        "dvx {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

/// `dvx args` in `dir`, which must fail with exit 1 naming `worktree`; returns stderr.
fn refused_in(sb: &Sandbox, dir: &Path, args: &[&str], worktree: &Path) -> String {
    let output = sb
        .dvx()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run dvx");
    let stderr = String::from_utf8(output.stderr).expect("utf-8");
    assert_eq!(output.status.code(), Some(1), "dvx {args:?}: {stderr}");
    let (error, hint) = error_and_hint(&stderr);
    assert_contains(
        &error,
        &format!("it is checked out at {}", worktree.display()),
    );
    assert_contains(&hint, &worktree.display().to_string());
    stderr
}

fn status_in(sb: &Sandbox, dir: &Path) -> serde_json::Value {
    serde_json::from_str(&in_dir(sb, dir, &["status", "--json"])).expect("json")
}

fn branches(sb: &Sandbox) -> serde_json::Value {
    serde_json::from_str(&sb.out(&["branch", "--json"])).expect("json")
}

/// Regression: with `wtbranch` checked out in a linked work tree, the main work tree
/// could `branch -D` it (leaving the other on a missing branch, every file "staged as
/// added"), `branch -m` it, and `checkout` it (two work trees on one branch, where a
/// commit in one silently reverts the other).
#[test]
fn a_branch_checked_out_in_a_linked_worktree_is_protected_from_the_main_one() {
    let (sb, linked) = main_and_linked();
    let before = branches(&sb);
    for args in [
        &["branch", "-d", "wtbranch"][..],
        &["branch", "-D", "wtbranch"],
        &["branch", "-m", "wtbranch", "renamed"],
        &["branch", "-f", "wtbranch", "HEAD"],
        &["checkout", "wtbranch"],
        &["checkout", "--force", "wtbranch"],
        &["checkout", "--lazy", "wtbranch"],
    ] {
        let err = refused_in(&sb, &sb.root, args, &linked);
        assert_contains(&err, "'wtbranch'");
    }
    assert_eq!(branches(&sb), before, "no ref moved");
    assert_eq!(sb.status_json()["branch"], "main");
    let st = status_in(&sb, &linked);
    assert_eq!(st["branch"], "wtbranch");
    assert_eq!(st["clean"], true, "{st}");

    // Its commit, detached, is fine; so is a branch of one's own from it.
    let tip = before
        .as_array()
        .expect("list")
        .iter()
        .find(|b| b["name"] == "wtbranch")
        .expect("wtbranch")["commit"]
        .as_str()
        .expect("id")
        .to_owned();
    sb.ok(&["checkout", &tip]);
    assert_eq!(sb.status_json()["branch"], serde_json::Value::Null);
    sb.ok(&["checkout", "-b", "mine", "wtbranch"]);
    assert_eq!(sb.status_json()["branch"], "mine");

    // Once the linked work tree is on another branch, wtbranch is free again.
    in_dir(&sb, &linked, &["checkout", "-b", "elsewhere"]);
    sb.ok(&["branch", "-m", "wtbranch", "renamed"]);
    sb.ok(&["checkout", "renamed"]);
    sb.ok(&["checkout", "mine"]);
    sb.ok(&["branch", "-D", "renamed"]);
}

/// The same from the other side: the main work tree's branch is protected from a linked
/// one, and a linked work tree's own branch can still be renamed there (HEAD follows).
#[test]
fn the_main_worktrees_branch_is_protected_from_a_linked_one() {
    let (sb, linked) = main_and_linked();
    for args in [
        &["branch", "-D", "main"][..],
        &["branch", "-m", "main", "trunk"],
        &["checkout", "main"],
    ] {
        refused_in(&sb, &linked, args, &sb.root);
    }
    in_dir(&sb, &linked, &["branch", "-m", "wt-renamed"]);
    assert_eq!(status_in(&sb, &linked)["branch"], "wt-renamed");

    // A fresh linked work tree starts on a branch of its own with no commits yet; that
    // name is taken too (creating it would give the work tree a history it never had).
    let fresh = sb.root.parent().expect("parent").join("fresh");
    sb.git(&[
        "worktree",
        "add",
        "-q",
        "-b",
        "fresh",
        fresh.to_str().expect("utf-8"),
    ]);
    let st = status_in(&sb, &fresh);
    let unborn = st["branch"].as_str().expect("on a branch").to_owned();
    assert_eq!(st["head"], serde_json::Value::Null);
    for args in [
        &["branch", unborn.as_str()][..],
        &["branch", "-m", "main", &unborn],
        &["checkout", "-b", &unborn],
    ] {
        refused_in(&sb, &sb.root, args, &fresh);
    }
}

/// Following the pin (`checkout --git`, as the hooks do) onto a branch another work tree
/// has checked out detaches HEAD at the pinned commit instead of taking that branch.
#[test]
fn following_the_pin_onto_a_branch_checked_out_elsewhere_detaches() {
    let (sb, linked) = main_and_linked();
    // The pin names `main`, at its tip; `main` is the main work tree's branch. With git
    // detached here, the pin's branch is the one a switch to the pin tries (on a git
    // branch, dvx would take git's branch instead).
    sb.git_in(&linked, &["checkout", "-q", "--detach"]);
    in_dir(&sb, &linked, &["checkout", "-b", "other"]);
    in_dir(&sb, &linked, &["branch", "-D", "wtbranch"]);
    let out = in_dir(&sb, &linked, &["checkout", "--git", "HEAD"]);
    assert_contains(&out, "HEAD is now at");
    let st = status_in(&sb, &linked);
    assert_eq!(st["branch"], serde_json::Value::Null);
    assert_eq!(st["head"], sb.status_json()["head"]);
    assert_eq!(sb.status_json()["branch"], "main");
}
