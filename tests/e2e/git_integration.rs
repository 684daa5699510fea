//! Git integration: dvx.lock, checkout --git, hooks, merge driver, worktrees.

use std::fs;

use crate::harness::*;

/// Three code commits tagged c1..c3, each pinning different data.
fn three_versions() -> Sandbox {
    let sb = Sandbox::git_and_dvx();
    for v in 1..=3u64 {
        sb.write("data/v.txt", format!("version {v}\n").as_bytes());
        sb.write(&format!("data/f{v}.bin"), &bytes(v, 5000));
        sb.ok(&["add", "data"]);
        sb.ok(&["commit", "-m", &format!("data v{v}"), "--git-add"]);
        sb.write("train.py", format!("print({v})\n").as_bytes());
        sb.git(&["add", "train.py"]);
        sb.git(&["commit", "-q", "-m", &format!("code v{v}")]);
        sb.git(&["tag", &format!("c{v}")]);
    }
    sb
}

fn data_at(v: u64) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = (1..=v)
        .map(|i| (format!("data/f{i}.bin"), bytes(i, 5000)))
        .collect();
    files.push(("data/v.txt".into(), format!("version {v}\n").into_bytes()));
    files.sort();
    files
}

#[test]
fn commit_writes_the_pin_and_records_the_git_commit() {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/a.csv", b"a,b\n1,2\n");
    sb.ok(&["add", "data"]);
    let git_head = sb.git(&["rev-parse", "HEAD"]).trim().to_owned();
    let out = sb.out(&["commit", "-m", "first", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(json["git_commit"], git_head.as_str());
    assert_eq!(json["git_dirty"], false);
    let to_add: Vec<&str> = json["to_git_add"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(to_add.contains(&"dvx.lock"), "{to_add:?}");
    assert!(to_add.contains(&".gitignore"), "{to_add:?}");
    let lock = String::from_utf8(sb.read("dvx.lock")).expect("utf8");
    assert_contains(
        &lock,
        &format!("commit = \"{}\"", json["id"].as_str().expect("id")),
    );
    assert_contains(&lock, "branch = \"main\"");
    // The log shows the git commit; a dirty work tree is recorded as such.
    assert_contains(&sb.out(&["log"]), &format!("Git:    {git_head}"));
    sb.write("train.py", b"changed\n");
    sb.write("data/b.csv", b"x\n");
    sb.ok(&["add", "data"]);
    let json: serde_json::Value =
        serde_json::from_str(&sb.out(&["commit", "-m", "second", "--json"])).expect("json");
    assert_eq!(json["git_dirty"], true);
    assert_contains(&sb.out(&["show"]), "(dirty)");
}

#[test]
fn git_add_flag_stages_the_pin_and_ignore_files() {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/a.csv", b"1\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "first", "--git-add"]);
    let staged = sb.git(&["diff", "--cached", "--name-only"]);
    assert_contains(&staged, "dvx.lock");
    assert_contains(&staged, ".gitignore");
    assert!(
        !staged.contains("data/"),
        "data must never reach git: {staged}"
    );
}

#[test]
fn checkout_git_brings_back_each_versions_bytes_without_touching_code() {
    let sb = three_versions();
    for v in [1u64, 3, 2] {
        sb.ok(&["checkout", "--git", &format!("c{v}")]);
        assert_eq!(sb.snapshot("data"), data_at(v), "data for c{v}");
        // The code stays at c3.
        assert_eq!(sb.read("train.py"), b"print(3)\n");
    }
}

#[test]
fn status_says_when_the_data_does_not_match_the_pin() {
    let sb = three_versions();
    sb.git(&["checkout", "-q", "c1"]);
    let status = sb.status_json();
    assert_eq!(status["pin"]["state"], "differs");
    let err = sb.dvx().arg("status").output().expect("run");
    assert_contains(
        &String::from_utf8_lossy(&err.stderr),
        "dvx checkout --git HEAD",
    );
    sb.ok(&["checkout", "--git", "HEAD"]);
    assert_eq!(sb.status_json()["pin"]["state"], "matches");
}

#[test]
fn hooks_follow_git_checkout_and_keep_existing_hooks() {
    let sb = three_versions();
    let hooks = sb.path(".git/hooks");
    fs::create_dir_all(&hooks).expect("hooks dir");
    // A hook the user already had: it must keep running.
    let marker = sb.home.join("user-hook-ran");
    let user_hook = format!("#!/bin/sh\necho ran >> '{}'\n", marker.display());
    dvx::atomic::write(&hooks.join("post-checkout"), user_hook.as_bytes()).expect("write hook");
    make_executable(&hooks.join("post-checkout"));

    sb.ok(&["install-hooks"]);
    // Idempotent.
    let again = sb.out(&["install-hooks"]);
    assert_contains(&again, "already installed");
    assert!(hooks.join("post-checkout.pre-dvx").is_file());

    sb.git(&["checkout", "-q", "c1"]);
    assert_eq!(sb.snapshot("data"), data_at(1));
    sb.git(&["checkout", "-q", "c2"]);
    assert_eq!(sb.snapshot("data"), data_at(2));
    sb.git(&["checkout", "-q", "main"]);
    assert_eq!(sb.snapshot("data"), data_at(3));
    let runs = fs::read_to_string(&marker).expect("user hook ran");
    assert_eq!(
        runs.lines().count(),
        3,
        "the user's hook runs on every checkout"
    );

    sb.ok(&["uninstall-hooks"]);
    assert_eq!(
        fs::read_to_string(hooks.join("post-checkout")).expect("restored"),
        user_hook
    );
    assert!(!hooks.join("post-merge").exists());
    assert!(!hooks.join("post-checkout.pre-dvx").exists());
    // Without hooks, git checkout leaves the data alone.
    sb.git(&["checkout", "-q", "c1"]);
    assert_eq!(sb.snapshot("data"), data_at(3));
}

#[test]
fn hooks_check_out_lazily_when_bytes_are_not_local() {
    let sb = three_versions();
    sb.ok(&["install-hooks"]);
    // At c1 the work tree has no f2.bin; then its bytes leave the local store, as in a
    // clone that never fetched them.
    sb.git(&["checkout", "-q", "c1"]);
    assert!(!sb.exists("data/f2.bin"));
    let object = object_path(&sb.root, &b3(&bytes(2, 5000)));
    fs::remove_file(&object).expect("remove object");
    sb.git(&["checkout", "-q", "c2"]);
    assert!(
        !sb.exists("data/f2.bin"),
        "bytes that are not local are not written"
    );
    assert_eq!(sb.read("data/v.txt"), b"version 2\n");
    let status = sb.status_json();
    let not_fetched: Vec<&str> = status["not_fetched"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(not_fetched, ["data/f2.bin"]);
    assert!(
        status["unstaged"].as_array().expect("list").is_empty(),
        "not fetched is never deleted: {status}"
    );
}

#[test]
fn hooks_skip_when_the_pin_did_not_change() {
    let sb = three_versions();
    sb.ok(&["install-hooks"]);
    // A new git branch at the same commit: same dvx.lock, nothing to do.
    sb.write("data/v.txt", b"local edit\n");
    sb.git(&["checkout", "-q", "-b", "other"]);
    assert_eq!(sb.read("data/v.txt"), b"local edit\n");
}

#[test]
fn a_failing_hook_says_so_and_leaves_the_data_as_it_was() {
    let sb = three_versions();
    sb.ok(&["install-hooks"]);
    sb.write("data/v.txt", b"precious local edit\n");
    let before = sb.snapshot("data");
    let out = sb.git_raw(&["checkout", "-q", "c1"]);
    assert!(!out.status.success(), "git reports the hook failure");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_contains(&stderr, "the data was left as it was");
    assert_contains(&stderr, "data/v.txt");
    assert_eq!(sb.snapshot("data"), before);
}

#[test]
fn git_merge_of_branches_that_changed_different_files_merges_the_data() {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/base.txt", b"base\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "base", "--git-add"]);
    sb.git(&["commit", "-q", "-m", "pin base"]);
    sb.ok(&["install-hooks"]);

    sb.git(&["checkout", "-q", "-b", "feature"]);
    sb.write("data/feature.txt", b"from feature\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "feature data", "--git-add"]);
    sb.git(&["commit", "-q", "-m", "feature"]);

    sb.git(&["checkout", "-q", "main"]);
    assert!(!sb.exists("data/feature.txt"));
    sb.write("data/main.txt", b"from main\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "main data", "--git-add"]);
    sb.git(&["commit", "-q", "-m", "main"]);

    sb.git(&["merge", "-q", "--no-edit", "feature"]);
    assert_eq!(
        sb.snapshot("data"),
        vec![
            ("data/base.txt".to_owned(), b"base\n".to_vec()),
            ("data/feature.txt".to_owned(), b"from feature\n".to_vec()),
            ("data/main.txt".to_owned(), b"from main\n".to_vec()),
        ]
    );
    // The merged pin names a dvx merge commit with both data commits as parents.
    let log: serde_json::Value =
        serde_json::from_str(&sb.out(&["log", "--json", "-n", "1"])).expect("json");
    assert_eq!(log[0]["parents"].as_array().map(Vec::len), Some(2));
    assert_eq!(sb.status_json()["pin"]["state"], "matches");
}

#[test]
fn a_conflicting_pin_is_resolved_with_one_command() {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/v.txt", b"base\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "base", "--git-add"]);
    sb.git(&["commit", "-q", "-m", "pin base"]);
    sb.ok(&["install-hooks"]);
    sb.git(&["checkout", "-q", "-b", "other"]);
    sb.write("data/v.txt", b"theirs\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "theirs", "--git-add"]);
    sb.git(&["commit", "-q", "-m", "theirs"]);
    sb.git(&["checkout", "-q", "main"]);
    sb.write("data/v.txt", b"ours\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "ours", "--git-add"]);
    sb.git(&["commit", "-q", "-m", "ours"]);

    let merge = sb.git_raw(&["merge", "--no-edit", "other"]);
    assert!(
        !merge.status.success(),
        "the same file changed on both sides is a conflict"
    );
    // Without a strategy dvx refuses and changes nothing.
    let err = sb.fails(&["merge", "--git-conflict"], 1);
    assert_contains(&err, "data/v.txt");
    assert_eq!(sb.read("data/v.txt"), b"ours\n");
    sb.ok(&["merge", "--git-conflict", "--strategy", "theirs"]);
    assert_eq!(sb.read("data/v.txt"), b"theirs\n");
    assert!(
        sb.git(&["diff", "--name-only", "--diff-filter=U"])
            .trim()
            .is_empty(),
        "dvx.lock is resolved and staged"
    );
    sb.git(&["commit", "-q", "--no-edit"]);
    assert_eq!(sb.status_json()["pin"]["state"], "matches");
}

#[test]
fn hooks_honour_core_hooks_path() {
    let sb = three_versions();
    sb.git(&["config", "core.hooksPath", "githooks"]);
    sb.ok(&["install-hooks"]);
    assert!(sb.path("githooks/post-checkout").is_file());
    assert!(!sb.path(".git/hooks/post-checkout").exists());
    sb.git(&["checkout", "-q", "c1"]);
    assert_eq!(sb.snapshot("data"), data_at(1));
}

#[test]
fn an_unwritable_hooks_dir_is_a_clear_error() {
    let sb = three_versions();
    // A file where the hooks directory should be: not writable as a directory, even for
    // root.
    sb.write("not-a-dir", b"x");
    sb.git(&["config", "core.hooksPath", "not-a-dir"]);
    let err = sb.fails(&["install-hooks"], 1);
    assert_contains(&err, "cannot install the git hooks");
    assert_contains(&err, "hint:");
}

#[test]
fn worktrees_share_the_store_and_keep_their_own_head() {
    let sb = three_versions();
    let wt = sb.root.parent().expect("parent").join("wt");
    sb.git(&["worktree", "add", "-q", wt.to_str().expect("utf8"), "c1"]);
    let mut in_wt = sb.dvx();
    in_wt
        .current_dir(&wt)
        .args(["checkout", "--git", "HEAD"])
        .assert()
        .success();
    assert_eq!(
        fs::read(wt.join("data/v.txt")).expect("read"),
        b"version 1\n"
    );
    // No objects were copied: the worktree's .dvx has no store of its own.
    assert!(!wt.join(".dvx/objects").exists());
    // The main work tree is untouched.
    assert_eq!(sb.snapshot("data"), data_at(3));
    // A commit in the worktree is visible from the main tree (shared refs and objects).
    dvx::atomic::write(&wt.join("data/wt.txt"), b"made in the worktree\n").expect("write");
    sb.dvx()
        .current_dir(&wt)
        .args(["add", "data"])
        .assert()
        .success();
    sb.dvx()
        .current_dir(&wt)
        .args(["checkout", "-b", "wt-branch"])
        .assert()
        .success();
    sb.dvx()
        .current_dir(&wt)
        .args(["commit", "-m", "from worktree"])
        .assert()
        .success();
    assert_contains(&sb.out(&["log", "--oneline", "wt-branch"]), "from worktree");
    // The main tree's HEAD did not move.
    assert_contains(&sb.out(&["status"]), "On branch main");
}

#[test]
fn works_from_subdirectories_and_with_a_git_file() {
    let sb = Sandbox::empty();
    let gitdir = sb.home.join("separate.git");
    sb.git(&[
        "init",
        "-q",
        "-b",
        "main",
        "--separate-git-dir",
        gitdir.to_str().expect("utf8"),
    ]);
    assert!(sb.path(".git").is_file());
    sb.write("train.py", b"x\n");
    sb.git(&["add", "train.py"]);
    sb.git(&["commit", "-q", "-m", "code"]);
    sb.write("sub/dir/keep", b"");
    sb.dvx()
        .current_dir(sb.path("sub/dir"))
        .arg("init")
        .assert()
        .success();
    assert!(
        sb.path(".dvx/config.toml").is_file(),
        "init goes to the git top level"
    );
    sb.write("data/a.txt", b"a\n");
    sb.dvx()
        .current_dir(sb.path("sub/dir"))
        .args(["add", "../../data"])
        .assert()
        .success();
    sb.dvx()
        .current_dir(sb.path("sub"))
        .args(["commit", "-m", "c"])
        .assert()
        .success();
    assert!(sb.exists("dvx.lock"));
}

#[test]
fn no_git_repositories_have_no_pins_and_no_hooks() {
    let sb = Sandbox::git_only();
    sb.ok(&["init", "--no-git"]);
    sb.write("data/a.txt", b"a\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "c"]);
    assert!(!sb.exists("dvx.lock"));
    assert!(!sb.exists(".gitignore"));
    assert_eq!(sb.status_json()["pin"]["state"], "no-git");
    let err = sb.fails(&["install-hooks"], 1);
    assert_contains(&err, "no git integration");
    let err = sb.fails(&["checkout", "--git", "HEAD"], 1);
    assert_contains(&err, "no git integration");
}

#[test]
fn bad_git_revisions_and_pins_are_named() {
    let sb = three_versions();
    let err = sb.fails(&["checkout", "--git", "no-such-rev"], 1);
    assert_contains(&err, "unknown git revision 'no-such-rev'");
    assert_contains(&err, "hint:");
    // The first git commit predates dvx.lock.
    let first = sb
        .git(&["rev-list", "--max-parents=0", "HEAD"])
        .trim()
        .to_owned();
    let err = sb.fails(&["checkout", "--git", &first], 1);
    assert_contains(&err, "has no dvx.lock");
    // An unparsable pin.
    sb.write("dvx.lock", b"this is = not [valid\n");
    sb.git(&["commit", "-q", "-am", "broken pin"]);
    let err = sb.fails(&["checkout", "--git", "HEAD"], 1);
    assert_contains(&err, "HEAD:dvx.lock cannot be parsed");
    // A pin naming a commit this repository does not have.
    let unknown = "ab".repeat(32);
    sb.write(
        "dvx.lock",
        format!("format = 1\ncommit = \"{unknown}\"\n").as_bytes(),
    );
    sb.git(&["commit", "-q", "-am", "foreign pin"]);
    let before = sb.snapshot("data");
    let err = sb.fails(&["checkout", "--git", "HEAD"], 1);
    assert_contains(&err, &unknown[..10]);
    assert_contains(&err, "then run `dvx fetch` here");
    assert_eq!(sb.snapshot("data"), before);
}

#[test]
fn pre_push_refuses_commits_whose_pinned_data_is_missing() {
    let sb = three_versions();
    let remote = sb.home.join("remote.git");
    sb.git(&["init", "-q", "--bare", remote.to_str().expect("utf8")]);
    sb.git(&["remote", "add", "origin", remote.to_str().expect("utf8")]);
    sb.ok(&["install-hooks"]);
    sb.git(&["push", "-q", "origin", "main"]);
    let unknown = "cd".repeat(32);
    sb.write(
        "dvx.lock",
        format!("format = 1\ncommit = \"{unknown}\"\n").as_bytes(),
    );
    sb.git(&["commit", "-q", "-am", "pin data nobody has"]);
    let out = sb.git_raw(&["push", "-q", "origin", "main"]);
    assert!(!out.status.success(), "the push must be refused");
    assert_contains(&String::from_utf8_lossy(&out.stderr), "push refused");
}

#[cfg(unix)]
fn make_executable(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn gc_keeps_data_that_only_an_old_git_commit_pins() {
    let sb = Sandbox::git_and_dvx();
    sb.ok(&["checkout", "-b", "experiment"]);
    sb.write("data/only-here.bin", &bytes(42, 10_000));
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "experiment data", "--git-add"]);
    sb.git(&["commit", "-q", "-m", "pin the experiment"]);
    let pinned_git = sb.git(&["rev-parse", "HEAD"]).trim().to_owned();
    // Nothing in dvx references it any more: the branch is gone, the reflog expired, the
    // stage and HEAD moved on.
    sb.ok(&["rm", "data/only-here.bin"]);
    sb.write("data/other.txt", b"other\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "moved on"]);
    sb.ok(&["checkout", "-b", "main2"]);
    sb.ok(&["branch", "-D", "experiment"]);
    let far_future = far_future();
    sb.dvx()
        .env("DVX_DATE", &far_future)
        .args(["gc", "--grace", "0"])
        .assert()
        .success();
    assert!(
        object_path(&sb.root, &b3(&bytes(42, 10_000))).is_file(),
        "the pinned blob survives gc"
    );
    sb.ok(&["fsck"]);
    sb.ok(&["checkout", "--git", &pinned_git]);
    assert_eq!(sb.read("data/only-here.bin"), bytes(42, 10_000));
}

#[test]
fn hooks_stay_out_of_the_way_during_a_rebase() {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/v.txt", b"base\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "base", "--git-add"]);
    sb.git(&["commit", "-q", "-m", "pin base"]);
    sb.git(&["checkout", "-q", "-b", "topic"]);
    sb.write("data/v.txt", b"topic\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "topic data", "--git-add"]);
    sb.git(&["commit", "-q", "-m", "pin topic"]);
    sb.git(&["checkout", "-q", "main"]);
    sb.ok(&["checkout", "--git", "HEAD"]);
    sb.write("other.txt", b"code change on main\n");
    sb.git(&["add", "other.txt"]);
    sb.git(&["commit", "-q", "-m", "code on main"]);
    sb.ok(&["install-hooks"]);
    sb.git(&["checkout", "-q", "topic"]);
    assert_eq!(
        sb.read("data/v.txt"),
        b"topic\n",
        "outside a rebase the hook follows the pin"
    );
    // Rebasing topic onto main checks out main's commit first; the hook must not switch
    // the data back and forth while git replays commits.
    let head_before = sb.out(&["log", "--json", "-n", "1"]);
    sb.git(&["rebase", "-q", "main"]);
    assert_eq!(sb.out(&["log", "--json", "-n", "1"]), head_before);
    assert_eq!(sb.read("data/v.txt"), b"topic\n");
}

#[test]
fn commands_that_move_head_repin_and_following_the_pin_does_not() {
    let sb = three_versions();
    // Following the pin leaves dvx.lock as git has it.
    sb.ok(&["checkout", "--git", "c1"]);
    assert!(
        sb.git(&["status", "--porcelain", "dvx.lock"])
            .trim()
            .is_empty()
    );
    // An explicit checkout moves the pin to what the work tree now has.
    let v1 = sb.out(&["log", "--json", "-n", "1"]);
    let v1: serde_json::Value = serde_json::from_str(&v1).expect("json");
    let json: serde_json::Value =
        serde_json::from_str(&sb.out(&["checkout", "main", "--json"])).expect("json");
    assert_eq!(
        json["pin_changed"], false,
        "main is what dvx.lock already pins"
    );
    let json: serde_json::Value =
        serde_json::from_str(&sb.out(&["checkout", v1[0]["id"].as_str().expect("id"), "--json"]))
            .expect("json");
    assert_eq!(json["pin_changed"], true);
    assert_contains(
        &String::from_utf8(sb.read("dvx.lock")).expect("utf8"),
        v1[0]["id"].as_str().expect("id"),
    );
    assert_eq!(sb.status_json()["pin"]["state"], "matches");
    // A merge commit is pinned too.
    sb.ok(&["checkout", "main"]);
    sb.ok(&["checkout", "-b", "side", "HEAD~1"]);
    sb.write("data/side.txt", b"side\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "side"]);
    sb.ok(&["checkout", "main"]);
    let merged: serde_json::Value =
        serde_json::from_str(&sb.out(&["merge", "side", "--json"])).expect("json");
    assert_eq!(merged["outcome"], "merged");
    assert_contains(
        &String::from_utf8(sb.read("dvx.lock")).expect("utf8"),
        merged["head"].as_str().expect("head"),
    );
}

#[test]
fn checkout_head_stays_on_the_branch() {
    let sb = three_versions();
    std::fs::remove_file(sb.path(".dvx/index")).expect("drop the index");
    let _ = std::fs::remove_file(sb.path(".dvx/index.delta"));
    sb.ok(&["checkout", "HEAD"]);
    assert_contains(&sb.out(&["status"]), "On branch main");
    assert_eq!(
        sb.status_json()["clean"],
        true,
        "the index is rebuilt from HEAD"
    );
}

#[test]
fn gc_runs_when_history_pins_data_this_clone_never_had() {
    let sb = three_versions();
    // A git commit pinning a dvx commit made elsewhere (never fetched here).
    let foreign = "ef".repeat(32);
    sb.write(
        "dvx.lock",
        format!("format = 1\ncommit = \"{foreign}\"\n").as_bytes(),
    );
    sb.git(&["commit", "-q", "-am", "pin data from another clone"]);
    // One blob nothing references: staged, then unstaged with the file kept.
    sb.write("data/stray.bin", &bytes(99, 4000));
    sb.ok(&["add", "data/stray.bin"]);
    sb.ok(&["rm", "--cached", "data/stray.bin"]);
    let gc = sb
        .dvx()
        .env("DVX_DATE", far_future())
        .args(["gc", "--grace", "0", "--json"])
        .assert()
        .success();
    let gc: serde_json::Value = serde_json::from_slice(&gc.get_output().stdout).expect("gc json");
    assert_eq!(
        gc["removed"],
        serde_json::json!([b3(&bytes(99, 4000))]),
        "only the unreferenced blob goes: {gc}"
    );
    for (path, content) in data_at(3).into_iter().chain(data_at(1)) {
        assert!(
            object_path(&sb.root, &b3(&content)).is_file(),
            "{path} of a pinned version survives gc"
        );
    }
    sb.ok(&["fsck"]);
    fs::remove_file(sb.path("data/stray.bin")).expect("rm the untracked file");
    sb.ok(&["checkout", "--git", "c1"]);
    assert!(sb.snapshot("data") == data_at(1), "v1's data is back");
}

#[test]
fn gc_keeps_both_sides_of_a_pin_committed_with_conflict_markers() {
    let sb = Sandbox::git_and_dvx();
    sb.ok(&["checkout", "-b", "left"]);
    sb.write("data/left.bin", &bytes(11, 3000));
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "left"]);
    let left = sb.out(&["log", "--json", "-n", "1"]);
    let left: serde_json::Value = serde_json::from_str(&left).expect("json");
    let left = left[0]["id"].as_str().expect("id").to_owned();
    // Someone committed dvx.lock with conflict markers still in it.
    let text = format!(
        "<<<<<<< ours\nformat = 1\ncommit = \"{left}\"\n=======\nformat = 1\ncommit = \"{}\"\n>>>>>>> theirs\n",
        "12".repeat(32)
    );
    sb.write("dvx.lock", text.as_bytes());
    sb.git(&["add", "dvx.lock"]);
    sb.git(&["commit", "-q", "-m", "oops, markers"]);
    sb.ok(&["rm", "data/left.bin"]);
    sb.write("data/other.txt", b"x\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "moved on"]);
    sb.ok(&["checkout", "-b", "elsewhere"]);
    sb.ok(&["branch", "-D", "left"]);
    let far_future = far_future();
    sb.dvx()
        .env("DVX_DATE", &far_future)
        .args(["gc", "--grace", "0"])
        .assert()
        .success();
    assert!(
        object_path(&sb.root, &b3(&bytes(11, 3000))).is_file(),
        "our side's data survives"
    );
}
