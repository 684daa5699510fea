//! The pin and git history: `dvx.lock` never makes the code look dirty, and the data
//! follows the pin through `git rebase`, `git pull --rebase` and `git commit --amend`.

use crate::harness::*;

/// `dvx commit --json`, parsed.
fn commit_json(sb: &Sandbox, message: &str) -> serde_json::Value {
    serde_json::from_str(&sb.out(&["commit", "-m", message, "--json"])).expect("commit --json")
}

#[test]
fn commit_ignores_a_changed_dvx_lock_when_judging_git_dirtiness() {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/a.txt", b"a\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "first", "--git-add"]);
    sb.git(&["commit", "-q", "-m", "pin first"]);
    // A checkout rewrites dvx.lock; git now sees it modified, and nothing else.
    sb.ok(&["checkout", "-b", "other"]);
    assert_eq!(sb.git(&["status", "--porcelain"]), " M dvx.lock\n");
    sb.write("data/b.txt", b"b\n");
    sb.ok(&["add", "data"]);
    assert_eq!(commit_json(&sb, "second")["git_dirty"], false);
    // Staged in git, the pin still does not count.
    sb.git(&["add", "dvx.lock"]);
    sb.write("data/c.txt", b"c\n");
    sb.ok(&["add", "data"]);
    assert_eq!(commit_json(&sb, "third")["git_dirty"], false);
    assert!(!sb.out(&["log", "-n", "1"]).contains("(dirty)"));
    // A change to the code does, staged or not.
    sb.write("train.py", b"print('changed')\n");
    sb.write("data/d.txt", b"d\n");
    sb.ok(&["add", "data"]);
    assert_eq!(commit_json(&sb, "fourth")["git_dirty"], true);
    sb.git(&["add", "train.py"]);
    sb.write("data/e.txt", b"e\n");
    sb.ok(&["add", "data"]);
    assert_eq!(commit_json(&sb, "fifth")["git_dirty"], true);
}

/// A git repository whose `main` pins `data/v.txt` = "base", with hooks and the merge
/// driver installed.
fn pinned_base() -> Sandbox {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/v.txt", b"base\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "base", "--git-add"]);
    sb.git(&["commit", "-q", "-m", "pin base"]);
    sb.ok(&["install-hooks"]);
    sb
}

/// Files and bytes, as `Sandbox::snapshot` lists them.
fn files(list: &[(&str, &str)]) -> Snapshot {
    snap(
        &list
            .iter()
            .map(|(p, b)| (*p, b.as_bytes()))
            .collect::<Vec<_>>(),
    )
}

#[test]
fn install_hooks_installs_post_rewrite_and_chains_an_existing_one() {
    let sb = Sandbox::git_and_dvx();
    let hooks = sb.path(".git/hooks");
    std::fs::create_dir_all(&hooks).expect("hooks dir");
    let seen = sb.home.join("rewritten");
    let user_hook = format!(
        "#!/bin/sh\necho \"$1\" >> '{0}'\ncat >> '{0}'\n",
        seen.display()
    );
    dvx::atomic::write(&hooks.join("post-rewrite"), user_hook.as_bytes()).expect("hook");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        hooks.join("post-rewrite"),
        std::fs::Permissions::from_mode(0o755),
    )
    .expect("chmod");
    let out = sb.out(&["install-hooks"]);
    assert_contains(&out, "post-rewrite");
    assert_contains(&out, "kept your existing post-rewrite hook");
    sb.write("train.py", b"print('amended')\n");
    sb.git(&["commit", "-q", "-a", "--amend", "-m", "amended"]);
    // The earlier hook still gets its argument and the rewritten commits on stdin.
    let seen = std::fs::read_to_string(&seen).expect("the earlier hook ran");
    let head = sb.git(&["rev-parse", "HEAD"]);
    assert!(seen.starts_with("amend\n"), "{seen}");
    assert_contains(&seen, head.trim());
    let out = sb.out(&["uninstall-hooks"]);
    assert_contains(&out, "post-rewrite");
    assert_eq!(
        std::fs::read_to_string(hooks.join("post-rewrite")).expect("restored"),
        user_hook
    );
}

#[test]
fn git_rebase_brings_the_data_to_the_merged_pin() {
    let sb = pinned_base();
    sb.git(&["checkout", "-q", "-b", "topic"]);
    sb.write("data/topic.txt", b"topic\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "topic data", "--git-add"]);
    sb.git(&["commit", "-q", "-m", "pin topic data"]);
    sb.git(&["checkout", "-q", "main"]);
    assert!(!sb.exists("data/topic.txt"), "post-checkout followed main");
    sb.write("data/main.txt", b"main\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "main data", "--git-add"]);
    sb.git(&["commit", "-q", "-m", "pin main data"]);
    sb.git(&["checkout", "-q", "topic"]);
    assert!(!sb.exists("data/main.txt"));
    // Both sides changed dvx.lock: the merge driver merges the pins during the rebase,
    // and when the rebase ends the data follows the merged pin.
    sb.git(&["rebase", "-q", "main"]);
    assert_eq!(
        sb.snapshot("data"),
        files(&[
            ("data/main.txt", "main\n"),
            ("data/topic.txt", "topic\n"),
            ("data/v.txt", "base\n"),
        ])
    );
    let status = sb.status_json();
    assert_eq!(status["pin"]["state"], "matches", "{status}");
    assert_eq!(status["clean"], true, "{status}");
    assert!(sb.git(&["status", "--porcelain"]).trim().is_empty());
}

#[test]
fn git_rebase_onto_a_new_pin_brings_the_data_along() {
    let sb = pinned_base();
    sb.git(&["checkout", "-q", "-b", "topic"]);
    sb.write("train.py", b"print('topic code')\n");
    sb.git(&["commit", "-q", "-a", "-m", "topic code"]);
    sb.git(&["checkout", "-q", "main"]);
    sb.write("data/v.txt", b"new on main\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "main data", "--git-add"]);
    sb.git(&["commit", "-q", "-m", "pin main data"]);
    sb.git(&["checkout", "-q", "topic"]);
    assert_eq!(sb.read("data/v.txt"), b"base\n");
    // topic only changed code; replayed on main it pins main's data.
    sb.git(&["rebase", "-q", "main"]);
    assert_eq!(sb.read("data/v.txt"), b"new on main\n");
    assert_eq!(sb.status_json()["pin"]["state"], "matches");
    // A rebase that leaves the pin as it was leaves the data alone, local edits included.
    sb.git(&["checkout", "-q", "-b", "later"]);
    sb.write("train.py", b"print('later')\n");
    sb.git(&["commit", "-q", "-a", "-m", "later code"]);
    sb.git(&["checkout", "-q", "main"]);
    sb.write("other.py", b"x = 1\n");
    sb.git(&["add", "other.py"]);
    sb.git(&["commit", "-q", "-m", "more code"]);
    sb.git(&["checkout", "-q", "later"]);
    sb.write("data/v.txt", b"local edit\n");
    sb.git(&["rebase", "-q", "main"]);
    assert_eq!(sb.read("data/v.txt"), b"local edit\n");
}

#[test]
fn git_pull_rebase_brings_the_data_to_the_upstream_pin() {
    let sb = pinned_base();
    let upstream = sb.home.join("upstream.git");
    let upstream = upstream.to_str().expect("utf-8 path");
    sb.git(&["clone", "-q", "--bare", ".", upstream]);
    sb.git(&["remote", "add", "origin", upstream]);
    sb.git(&["fetch", "-q", "origin"]);
    sb.git(&["branch", "-q", "-u", "origin/main"]);
    // New data, committed to dvx here (so its bytes are local) on a dvx branch of its own,
    // and pinned by a colleague's clone, which pushes it.
    sb.ok(&["checkout", "-q", "-b", "upstream-data"]);
    sb.write("data/v.txt", b"upstream\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-q", "-m", "upstream data"]);
    let pin = sb.read("dvx.lock");
    sb.ok(&["checkout", "-q", "main"]);
    assert!(sb.git(&["status", "--porcelain"]).trim().is_empty());
    let clone = sb.home.join("colleague");
    let clone = clone.to_str().expect("utf-8 path");
    sb.git(&["clone", "-q", upstream, clone]);
    dvx::atomic::write(&std::path::Path::new(clone).join("dvx.lock"), &pin).expect("pin");
    sb.git(&["-C", clone, "commit", "-q", "-a", "-m", "pin upstream data"]);
    sb.git(&["-C", clone, "push", "-q", "origin", "main"]);
    // Here: a local code commit, so the pull has something to rebase.
    sb.write("train.py", b"print('local')\n");
    sb.git(&["commit", "-q", "-a", "-m", "local code"]);
    sb.git(&["pull", "-q", "--rebase"]);
    assert_eq!(sb.read("train.py"), b"print('local')\n");
    assert_eq!(sb.read("data/v.txt"), b"upstream\n");
    assert_eq!(sb.status_json()["pin"]["state"], "matches");

    // With nothing local to replay, `pull --rebase` fast-forwards; the data follows too.
    sb.git(&["push", "-q", "origin", "main"]);
    sb.ok(&["checkout", "-q", "-b", "newer-data"]);
    sb.write("data/v.txt", b"newer\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-q", "-m", "newer data"]);
    let pin = sb.read("dvx.lock");
    sb.ok(&["checkout", "-q", "upstream-data"]);
    assert!(sb.git(&["status", "--porcelain"]).trim().is_empty());
    sb.git(&["-C", clone, "pull", "-q", "--rebase"]);
    dvx::atomic::write(&std::path::Path::new(clone).join("dvx.lock"), &pin).expect("pin");
    sb.git(&["-C", clone, "commit", "-q", "-a", "-m", "pin newer data"]);
    sb.git(&["-C", clone, "push", "-q", "origin", "main"]);
    sb.git(&["pull", "-q", "--rebase"]);
    assert_eq!(sb.read("data/v.txt"), b"newer\n");
    assert_eq!(sb.status_json()["pin"]["state"], "matches");
}

#[test]
fn git_commit_amend_that_changes_the_pin_brings_the_data_along() {
    let sb = pinned_base();
    sb.write("data/v.txt", b"second\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "second", "--git-add"]);
    sb.write("train.py", b"print('second')\n");
    sb.git(&["commit", "-q", "-a", "-m", "pin second"]);
    // Take the first commit's pin into the last commit: the data follows the amend.
    sb.git(&["checkout", "HEAD~1", "--", "dvx.lock"]);
    assert_eq!(
        sb.read("data/v.txt"),
        b"second\n",
        "a file checkout is no switch"
    );
    sb.git(&["commit", "-q", "--amend", "--no-edit"]);
    assert_eq!(sb.read("data/v.txt"), b"base\n");
    assert_eq!(sb.status_json()["pin"]["state"], "matches");
    // An amend that leaves the pin alone leaves the data alone.
    sb.write("data/v.txt", b"local edit\n");
    sb.git(&["commit", "-q", "--amend", "-m", "reworded"]);
    assert_eq!(sb.read("data/v.txt"), b"local edit\n");
}

#[test]
fn an_amend_during_an_interactive_rebase_waits_for_the_rebase_to_end() {
    let sb = pinned_base();
    sb.write("data/v.txt", b"second\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "second", "--git-add"]);
    sb.write("train.py", b"print('second')\n");
    sb.git(&["commit", "-q", "-a", "-m", "pin second"]);
    sb.write("train.py", b"print('last')\n");
    sb.git(&["commit", "-q", "-a", "-m", "last code"]);
    // Stop at "pin second" and point it at the base data instead.
    sb.git(&["config", "sequence.editor", "sed -i -e '1s/^pick/edit/'"]);
    sb.git(&["rebase", "-q", "-i", "HEAD~2"]);
    sb.git(&["checkout", "HEAD~1", "--", "dvx.lock"]);
    sb.git(&["commit", "-q", "--amend", "--no-edit"]);
    assert_eq!(
        sb.read("data/v.txt"),
        b"second\n",
        "mid-rebase, the data stays put"
    );
    sb.git(&["rebase", "--continue"]);
    assert_eq!(
        sb.read("data/v.txt"),
        b"base\n",
        "the rebase's end follows the pin"
    );
    assert_eq!(sb.status_json()["pin"]["state"], "matches");
}
