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
