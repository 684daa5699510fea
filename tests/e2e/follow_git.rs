//! dvx's branches follow git's branch switches (`git checkout`, `git switch`), seen by
//! the next dvx command or by the post-checkout hook, without touching files; dvx's own
//! branch commands win between git's switches; a detached git, a rebase, a branch
//! checked out in another work tree, `core.follow_git_branch = false` and `--no-git`
//! repositories are handled as docs/cli.md says.

use std::path::Path;

use crate::harness::*;

/// `dvx args` in `dir`, which must succeed; returns stdout and stderr.
fn run_in(sb: &Sandbox, dir: &Path, args: &[&str]) -> (String, String) {
    let output = sb
        .dvx()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run dvx");
    let stderr = String::from_utf8(output.stderr).expect("utf-8");
    assert!(output.status.success(), "dvx {args:?}: {stderr}");
    (String::from_utf8(output.stdout).expect("utf-8"), stderr)
}

fn run(sb: &Sandbox, args: &[&str]) -> (String, String) {
    run_in(sb, &sb.root, args)
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).expect("json")
}

/// A git repository whose `main` pins dvx commit `base` (`data/a.txt`); returns its id.
fn pinned_main() -> (Sandbox, String) {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/a.txt", b"a\n");
    sb.ok(&["add", "data"]);
    let base = json(&sb.out(&["commit", "-m", "base", "--git-add", "--json"]))["id"]
        .as_str()
        .expect("id")
        .to_owned();
    sb.git(&["commit", "-q", "-m", "pin base"]);
    (sb, base)
}

/// The dvx branches: name -> commit.
fn branches(sb: &Sandbox) -> Vec<(String, String)> {
    json(&sb.out(&["branch", "--json"]))
        .as_array()
        .expect("list")
        .iter()
        .map(|b| {
            (
                b["name"].as_str().expect("name").to_owned(),
                b["commit"].as_str().expect("commit").to_owned(),
            )
        })
        .collect()
}

/// What `.dvx/HEAD` says, read without running dvx (which would follow git first).
fn dvx_head_file(sb: &Sandbox) -> String {
    String::from_utf8(sb.read(".dvx/HEAD")).expect("utf-8")
}

/// Regression: a `dvx commit` made after `git checkout -b feature` moved dvx's `main`.
#[test]
fn a_commit_after_git_checkout_b_lands_on_the_dvx_branch_of_that_name() {
    let (sb, base) = pinned_main();
    sb.git(&["checkout", "-q", "-b", "feature"]);
    sb.write("data/b.txt", b"b\n");
    let (_, stderr) = run(&sb, &["add", "data"]);
    assert_contains(
        &stderr,
        &format!(
            "dvx: now on branch 'feature', as git is (created at {})",
            &base[..10]
        ),
    );
    let commit = json(&sb.out(&["commit", "-m", "on feature", "--json"]));
    assert_eq!(commit["branch"], "feature");
    assert_eq!(commit["parent"], base.as_str());
    let feature = commit["id"].as_str().expect("id").to_owned();
    assert_eq!(
        branches(&sb),
        [("feature".into(), feature.clone()), ("main".into(), base)]
    );
    assert_contains(
        &String::from_utf8(sb.read("dvx.lock")).expect("utf-8"),
        "branch = \"feature\"",
    );
    assert_eq!(sb.status_json()["branch"], "feature");
}

#[test]
fn switching_git_back_goes_back_to_the_dvx_branch_without_touching_files() {
    let (sb, _) = pinned_main();
    sb.git(&["checkout", "-q", "-b", "feature"]);
    assert_eq!(sb.status_json()["branch"], "feature");
    // A local edit: following a branch switch never touches a file.
    sb.write("data/a.txt", b"edited\n");
    sb.git(&["checkout", "-q", "main"]);
    let status = sb.status_json();
    assert_eq!(status["branch"], "main");
    assert_eq!(sb.read("data/a.txt"), b"edited\n");
    assert_eq!(status["unstaged"][0]["path"], "data/a.txt");
    assert_eq!(status["staged"].as_array().map(Vec::len), Some(0));
    // `git switch` is a branch switch too.
    sb.git(&["switch", "-q", "feature"]);
    assert_eq!(sb.status_json()["branch"], "feature");
    assert_eq!(sb.read("data/a.txt"), b"edited\n");
}

#[test]
fn the_post_checkout_hook_follows_git_checkout_b() {
    let (sb, _) = pinned_main();
    sb.ok(&["install-hooks"]);
    let out = sb.git_raw(&["checkout", "-q", "-b", "feature"]);
    assert!(out.status.success());
    assert_contains(
        &String::from_utf8_lossy(&out.stderr),
        "dvx: now on branch 'feature', as git is",
    );
    // The hook did it; no dvx command has run since.
    assert_eq!(dvx_head_file(&sb), "ref: refs/heads/feature\n");
    // The habit from before dvx followed git still works: the branch is there already.
    let out = sb.out(&["checkout", "-b", "feature"]);
    assert_contains(&out, "Already on 'feature'");
}

#[test]
fn with_hooks_each_git_branch_brings_its_own_data_and_dvx_branch() {
    let (sb, base) = pinned_main();
    sb.ok(&["install-hooks"]);
    sb.git(&["checkout", "-q", "-b", "feature"]);
    sb.write("data/f.txt", b"feature\n");
    sb.ok(&["add", "data"]);
    let feature = json(&sb.out(&["commit", "-m", "feature data", "--git-add", "--json"]))["id"]
        .as_str()
        .expect("id")
        .to_owned();
    sb.git(&["commit", "-q", "-m", "pin feature data"]);
    sb.git(&["checkout", "-q", "main"]);
    assert_eq!(dvx_head_file(&sb), "ref: refs/heads/main\n");
    assert!(!sb.exists("data/f.txt"));
    assert_eq!(sb.status_json()["head"], base.as_str());
    sb.git(&["checkout", "-q", "feature"]);
    assert_eq!(dvx_head_file(&sb), "ref: refs/heads/feature\n");
    assert_eq!(sb.read("data/f.txt"), b"feature\n");
    let status = sb.status_json();
    assert_eq!(status["head"], feature.as_str());
    assert_eq!(status["clean"], true, "{status}");
    assert_eq!(status["pin"]["state"], "matches");
}

/// Without hooks the data stays where it was; dvx cannot be on `main` without main's
/// data, so it stays, says so, and commits wait until a checkout settles it.
#[test]
fn a_dvx_branch_at_another_commit_is_not_taken_and_commits_wait() {
    let (sb, base) = pinned_main();
    sb.git(&["checkout", "-q", "-b", "feature"]);
    sb.write("data/f.txt", b"feature\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "feature data", "--git-add"]);
    sb.git(&["commit", "-q", "-m", "pin feature data"]);
    let feature = json(&sb.out(&["log", "--json", "-n", "1"]))[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    sb.git(&["checkout", "-q", "main"]);
    let (_, stderr) = run(&sb, &["status"]);
    assert_contains(
        &stderr,
        &format!(
            "warning: git is on branch 'main', but dvx stays on branch 'feature': dvx's branch 'main' is at {}, and the work tree has {}",
            &base[..10],
            &feature[..10]
        ),
    );
    assert_contains(
        &stderr,
        "hint: `dvx checkout main` brings that branch's data",
    );
    // It keeps saying so, and a commit would land on a branch git is not on.
    assert_contains(&run(&sb, &["log", "--oneline"]).1, "but dvx stays on");
    let state = sb.dvx_state();
    let err = sb.fails(&["commit", "--allow-empty", "-m", "where?"], 1);
    let (error, hint) = error_and_hint(&err);
    assert_contains(
        &error,
        "git is on branch 'main', but dvx is on branch 'feature'",
    );
    assert_contains(&hint, "dvx checkout --git HEAD");
    assert_eq!(sb.dvx_state(), state, "a refused commit writes nothing");
    // Following the pin settles it: main's data, on dvx's main.
    let out = sb.out(&["checkout", "--git", "HEAD"]);
    assert_contains(&out, "Switched to branch 'main'");
    assert!(!sb.exists("data/f.txt"));
    let commit = json(&sb.out(&["commit", "--allow-empty", "-m", "on main", "--json"]));
    assert_eq!(commit["branch"], "main");
    assert_eq!(commit["parent"], base.as_str());
}

#[test]
fn explicit_dvx_branch_commands_win_until_git_switches_again() {
    let (sb, _) = pinned_main();
    sb.ok(&["checkout", "-b", "side"]);
    sb.write("data/s.txt", b"side\n");
    sb.ok(&["add", "data"]);
    let side = json(&sb.out(&["commit", "-m", "side", "--json"]));
    assert_eq!(
        side["branch"], "side",
        "git is still on main; dvx stays on side"
    );
    assert_eq!(sb.status_json()["branch"], "side");
    // The next git switch is followed again, from where dvx is.
    sb.git(&["checkout", "-q", "-b", "other"]);
    let status = sb.status_json();
    assert_eq!(status["branch"], "other");
    assert_eq!(status["head"], side["id"]);
}

#[test]
fn a_detached_git_head_keeps_the_dvx_branch() {
    let (sb, _) = pinned_main();
    sb.git(&["checkout", "-q", "--detach"]);
    sb.write("data/b.txt", b"b\n");
    sb.ok(&["add", "data"]);
    let commit = json(&sb.out(&["commit", "-m", "while git is detached", "--json"]));
    assert_eq!(commit["branch"], "main");
    // Back on a branch: that is a switch, to where dvx already is.
    sb.git(&["checkout", "-q", "main"]);
    let (_, stderr) = run(&sb, &["status"]);
    assert!(!stderr.contains("now on branch"), "{stderr}");
    assert_eq!(sb.status_json()["head"], commit["id"]);
}

/// git detaches HEAD while a rebase replays commits; its end is no branch switch, so a
/// dvx branch chosen explicitly before it stays.
#[test]
fn a_rebase_is_no_branch_switch() {
    let (sb, _) = pinned_main();
    sb.git(&["checkout", "-q", "-b", "topic"]);
    sb.write("train.py", b"print('topic')\n");
    sb.git(&["commit", "-q", "-a", "-m", "topic code"]);
    sb.write("other.py", b"x = 1\n");
    sb.git(&["add", "other.py"]);
    sb.git(&["commit", "-q", "-m", "more topic code"]);
    sb.ok(&["checkout", "-b", "mine"]);
    // The pin now names `mine`; git commits that before rebasing.
    sb.git(&["commit", "-q", "-a", "-m", "pin on mine"]);
    sb.git(&["config", "sequence.editor", "sed -i -e '1s/^pick/edit/'"]);
    sb.git(&["rebase", "-q", "-i", "HEAD~2"]);
    // Stopped in the middle: git is detached, and a rebase is in progress.
    assert_eq!(sb.status_json()["branch"], "mine");
    sb.git(&["rebase", "--continue"]);
    assert_eq!(sb.git(&["symbolic-ref", "--short", "HEAD"]).trim(), "topic");
    assert_eq!(sb.status_json()["branch"], "mine");
}

#[test]
fn leaving_detached_commits_behind_warns_as_git_does() {
    let (sb, base) = pinned_main();
    // Detached at a commit a branch keeps: leaving it says nothing.
    sb.ok(&["checkout", &base]);
    let (_, stderr) = run(&sb, &["checkout", "main"]);
    assert!(!stderr.contains("leaving"), "{stderr}");
    sb.ok(&["checkout", &base]);
    for n in 1..=2 {
        sb.write(&format!("data/d{n}.txt"), b"d\n");
        sb.ok(&["add", "data"]);
        sb.ok(&["commit", "-m", &format!("detached {n}")]);
    }
    let newest = json(&sb.out(&["log", "--json", "-n", "1"]))[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (_, stderr) = run(&sb, &["checkout", "main"]);
    assert_contains(
        &stderr,
        "warning: you are leaving 2 commits behind, not connected to any of your branches:",
    );
    assert_contains(&stderr, &format!("  {} detached 2\n", &newest[..10]));
    assert_contains(&stderr, "detached 1");
    assert_contains(
        &stderr,
        &format!("dvx branch <new-branch-name> {}", &newest[..10]),
    );
}

#[test]
fn following_is_off_with_core_follow_git_branch_false() {
    let (sb, base) = pinned_main();
    sb.write(
        ".dvx/config.local.toml",
        b"[core]\nfollow_git_branch = false\n",
    );
    sb.git(&["checkout", "-q", "-b", "feature"]);
    sb.write("data/b.txt", b"b\n");
    let (_, stderr) = run(&sb, &["add", "data"]);
    assert!(!stderr.contains("now on branch"), "{stderr}");
    let commit = json(&sb.out(&["commit", "-m", "b", "--json"]));
    assert_eq!(commit["branch"], "main");
    assert_eq!(commit["parent"], base.as_str());
}

#[test]
fn no_git_repositories_keep_their_explicit_branches() {
    let sb = Sandbox::git_only();
    sb.ok(&["init", "--no-git"]);
    sb.write("data/a.txt", b"a\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "a"]);
    sb.git(&["checkout", "-q", "-b", "feature"]);
    sb.write("data/b.txt", b"b\n");
    sb.ok(&["add", "data"]);
    assert_eq!(
        json(&sb.out(&["commit", "-m", "b", "--json"]))["branch"],
        "main"
    );
    assert!(!sb.exists(".dvx/GIT_BRANCH"));
}

#[test]
fn checkout_git_takes_gits_branch_over_the_pins() {
    let (sb, base) = pinned_main();
    // The pin names `main`; git is on `feature` now.
    sb.git(&["checkout", "-q", "-b", "feature"]);
    let out = sb.out(&["checkout", "--git", "HEAD"]);
    assert_contains(&out, "Switched to branch 'feature'");
    assert_eq!(
        branches(&sb),
        [("feature".into(), base.clone()), ("main".into(), base)]
    );
}

#[test]
fn linked_worktrees_follow_their_own_git_branch() {
    let (sb, _) = pinned_main();
    let linked = sb.root.parent().expect("parent").join("linked");
    sb.git(&[
        "worktree",
        "add",
        "-q",
        "-b",
        "topic",
        linked.to_str().expect("utf-8"),
    ]);
    let (out, _) = run_in(&sb, &linked, &["status", "--json"]);
    let status = json(&out);
    assert_eq!(status["branch"], "topic");
    assert_eq!(status["head"], serde_json::Value::Null, "no commit yet");
    // The main work tree stays on main.
    assert_eq!(sb.status_json()["branch"], "main");

    // A dvx branch another work tree has checked out is never taken.
    sb.ok(&["checkout", "-b", "taken"]);
    let other = sb.root.parent().expect("parent").join("other");
    sb.git(&[
        "worktree",
        "add",
        "-q",
        "-b",
        "taken",
        other.to_str().expect("utf-8"),
    ]);
    let (out, stderr) = run_in(&sb, &other, &["status", "--json"]);
    assert_contains(
        &stderr,
        &format!(
            "git is on branch 'taken', but dvx stays on branch 'worktree/other': dvx's branch 'taken' is checked out at {}",
            sb.root.display()
        ),
    );
    assert_ne!(json(&out)["branch"], "taken");
    assert_eq!(sb.status_json()["branch"], "taken");
}

#[test]
fn init_starts_on_gits_branch() {
    let sb = Sandbox::git_only();
    sb.git(&["checkout", "-q", "-b", "trunk"]);
    sb.ok(&["init"]);
    let status = sb.status_json();
    assert_eq!(status["branch"], "trunk");
    assert_eq!(status["head"], serde_json::Value::Null);
    sb.write("data/a.txt", b"a\n");
    sb.ok(&["add", "data"]);
    assert_eq!(
        json(&sb.out(&["commit", "-m", "a", "--json"]))["branch"],
        "trunk"
    );
    assert_eq!(branches(&sb).len(), 1, "no `main` was ever made");
}

#[test]
fn a_damaged_record_of_gits_branch_is_only_seen_again() {
    let (sb, base) = pinned_main();
    sb.write(".dvx/GIT_BRANCH", b"\xff\xfe not a record");
    let status = sb.status_json();
    assert_eq!(status["branch"], "main");
    assert_eq!(status["head"], base.as_str());
    assert_eq!(sb.read(".dvx/GIT_BRANCH"), b"ref: refs/heads/main\n");
}
