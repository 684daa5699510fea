//! Regression tests for what dvx tracks, and what `status`, `diff` and `rm` see of it.
//! Each test is named after the bug it pins down.

use std::fs;

use crate::harness::*;

fn changes(status: &serde_json::Value, list: &str) -> Vec<(String, String)> {
    status[list]
        .as_array()
        .expect("a list")
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

fn gitignore(sb: &Sandbox) -> String {
    if sb.exists(".gitignore") {
        String::from_utf8(sb.read(".gitignore")).expect("utf-8")
    } else {
        String::new()
    }
}

// ---------------------------------------------------------------------------------------
// `dvx add <empty dir>` adds a root that neither `dvx rm` nor `dvx rm --cached` removes

/// Regression: `dvx add` of an empty directory recorded a root (and a `.gitignore` line)
/// with nothing below it, which no commit can hold and `dvx rm` could not remove.
#[test]
fn add_refuses_an_empty_directory_instead_of_recording_a_root_rm_cannot_remove() {
    let sb = Sandbox::git_and_dvx();
    std::fs::create_dir_all(sb.path("empty")).expect("mkdir");
    sb.write("only-ignored/.DS_Store", b"x");
    sb.write(".dvxignore", b".DS_Store\n");
    sb.write("data/a.txt", b"a\n");
    let before = sb.dvx_state();
    for args in [
        &["add", "empty"][..],
        &["add", "only-ignored"],
        &["add", "data", "empty"],
    ] {
        let err = sb.fails(args, 1);
        let (error, hint) = error_and_hint(&err);
        assert_contains(&error, "has no files to track");
        assert_contains(&hint, "empty directories");
        assert_eq!(sb.dvx_state(), before, "{args:?} changed nothing");
        assert_eq!(gitignore(&sb), "", "{args:?} wrote no ignore line");
    }
}

/// Regression (the same bug, other side): a tracked directory whose files were all
/// deleted and re-added keeps its root; `dvx rm` and `dvx rm --cached` said it "did not
/// match any tracked path" and left the root and its `.gitignore` line for good.
#[test]
fn rm_removes_a_root_whose_files_were_all_deleted() {
    for cached in [false, true] {
        let sb = Sandbox::git_and_dvx();
        sb.write("data/a.txt", b"a\n");
        sb.ok(&["add", "data"]);
        sb.ok(&["commit", "-m", "data"]);
        std::fs::remove_file(sb.path("data/a.txt")).expect("rm");
        sb.ok(&["add", "data"]);
        assert_eq!(
            changes(&sb.status_json(), "staged"),
            pairs(&[("data/a.txt", "deleted")])
        );
        assert_contains(&gitignore(&sb), "/data");
        let mut args = vec!["rm", "--json", "data"];
        if cached {
            args.insert(1, "--cached");
        }
        let out: serde_json::Value = serde_json::from_str(&sb.out(&args)).expect("json");
        assert_eq!(out["untracked"], serde_json::json!(["data"]), "{out}");
        assert!(!gitignore(&sb).contains("/data"), "{}", gitignore(&sb));
        assert_contains(
            &sb.fails(&["rm", "data"], 1),
            "did not match any tracked path",
        );
        sb.ok(&["commit", "-m", "no data"]);
        assert_eq!(sb.status_json()["clean"], true);
    }
}

// ---------------------------------------------------------------------------------------
// `dvx add` takes over files it must not

/// Regression: `dvx add .gitignore` staged a git-tracked `.gitignore` and wrote
/// `/.gitignore` into dvx's own block, so git stopped seeing its own ignore rules; other
/// files git and dvx keep for themselves could be named the same way.
#[test]
fn add_never_tracks_ignore_files_dvx_lock_or_dvx_and_git_internals() {
    let sb = Sandbox::git_and_dvx();
    sb.write(".gitignore", b"*.pyc\n");
    sb.git(&["add", ".gitignore"]);
    sb.git(&["commit", "-q", "-m", "ignore rules"]);
    sb.write(".dvxignore", b"*.tmp\n");
    sb.write("data/a.csv", b"a\n");
    sb.write("data/.gitignore", b"*.log\n");
    sb.write("data/.git/config", b"[core]\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "data"]);
    let before = sb.dvx_state();
    let gitignore_before = gitignore(&sb);
    for path in [
        ".gitignore",
        ".dvxignore",
        "dvx.lock",
        "data/.gitignore",
        "data/.git/config",
        ".dvx/config.toml",
    ] {
        let err = sb.fails(&["add", path], 1);
        let (error, hint) = error_and_hint(&err);
        assert_contains(&error, path);
        assert_contains(&error, "never tracks");
        assert_contains(&hint, "add your data paths");
        assert_eq!(sb.dvx_state(), before, "adding {path} changed nothing");
        assert_eq!(gitignore(&sb), gitignore_before, "adding {path}");
    }
    let tracked = sb.out(&["ls"]);
    assert_eq!(tracked.lines().count(), 1, "{tracked}");
    assert_contains(&tracked, "data/a.csv");
    // git still sees its own files.
    assert!(
        !gitignore(&sb).lines().any(|l| l == "/.gitignore"),
        "{}",
        gitignore(&sb)
    );
    assert_eq!(sb.git(&["ls-files", ".gitignore"]), ".gitignore\n");
    assert_contains(
        &sb.git(&["status", "--porcelain", "--", ".dvxignore"]),
        "?? .dvxignore",
    );
}

/// Regression: in a git repository with nothing committed, `dvx add .` stored `dvx.lock`
/// as data, dropped dvx's `.gitignore` block (the top cannot be listed in it) and so
/// exposed the data to git.
#[test]
fn add_of_the_git_top_level_is_refused_and_keeps_the_data_ignored() {
    let sb = Sandbox::empty();
    sb.git(&["init", "-q", "-b", "main"]);
    sb.ok(&["init"]);
    sb.write("data/x.bin", &bytes(1, 100));
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "data"]);
    assert!(sb.exists("dvx.lock"));
    let before = sb.dvx_state();
    let gitignore_before = gitignore(&sb);
    for args in [&["add", "."][..], &["add", "data", "."]] {
        let err = sb.fails(args, 1);
        let (error, hint) = error_and_hint(&err);
        assert_contains(&error, "top of the git work tree");
        assert_contains(&hint, "dvx add data/");
        assert_eq!(sb.dvx_state(), before);
        assert_eq!(gitignore(&sb), gitignore_before);
    }
    // From a subdirectory `.` is that directory, which is fine.
    sb.dvx()
        .current_dir(sb.path("data"))
        .args(["add", "."])
        .assert()
        .success();
    let porcelain = sb.git(&["status", "--porcelain", "--untracked-files=all"]);
    assert!(
        !porcelain.contains("data/"),
        "git sees the data:\n{porcelain}"
    );
    assert_contains(&porcelain, "dvx.lock");
    let tracked = sb.out(&["ls"]);
    assert!(!tracked.contains("dvx.lock"), "{tracked}");
}

/// Regression: refusing `dvx add .` in a repository with code suggested
/// `git rm -r --cached .`, which would untrack all the code.
#[test]
fn refusing_to_add_code_never_suggests_untracking_it() {
    let sb = Sandbox::git_and_dvx();
    sb.write("src/model.py", b"import torch\n");
    sb.git(&["add", "src/model.py"]);
    sb.git(&["commit", "-q", "-m", "code"]);
    sb.write("src/weights.bin", &bytes(2, 100));
    let err = sb.fails(&["add", "."], 1);
    let (_, hint) = error_and_hint(&err);
    assert!(!hint.contains("git rm"), "{hint}");
    // A directory with code in it: the untracking is only suggested for data.
    let err = sb.fails(&["add", "src"], 1);
    let (error, hint) = error_and_hint(&err);
    assert_contains(&error, "src/model.py");
    assert_contains(&hint, "if it holds code, add only its data paths");
    sb.ok(&["add", "src/weights.bin"]);
    assert_eq!(
        sb.git(&["ls-files"]).lines().count(),
        4,
        "git keeps the code"
    );
}

/// In a repository without git, the top can be added; dvx's own files there are still
/// left out (a `dvx.lock` further down is just a file).
#[test]
fn adding_the_top_without_git_skips_dvx_lock_and_ignore_files() {
    let sb = Sandbox::dvx_only();
    sb.write("dvx.lock", b"format = 1\n");
    sb.write(".dvxignore", b"*.tmp\n");
    sb.write("data/dvx.lock", b"a data file\n");
    sb.write("data/a.tmp", b"ignored\n");
    sb.write("top.txt", b"top\n");
    sb.ok(&["add", "."]);
    let paths: Vec<String> = sb
        .out(&["ls"])
        .lines()
        .map(|l| l.rsplit("  ").next().expect("path").to_owned())
        .collect();
    assert_eq!(paths, ["data/dvx.lock", "top.txt"]);
}

// ---------------------------------------------------------------------------------------
// New files inside a not-fetched directory are invisible

/// Regression: after `checkout --lazy` left `top/d` as one not-fetched entry, a new file
/// written inside it was invisible to `status` ("nothing to commit") and to `dvx diff`,
/// while `dvx add` staged it. Files whose bytes match the tree were fetched by hand and
/// are not changes; files that differ from it are modified.
#[test]
fn new_files_inside_a_not_fetched_directory_are_listed_as_new() {
    let sb = Sandbox::dvx_only();
    sb.write("top/keep/k", b"k\n");
    sb.ok(&["add", "top"]);
    sb.ok(&["commit", "-m", "one"]);
    let d_files: [(&str, &[u8]); 3] = [
        ("top/d/a", b"a\n"),
        ("top/d/b", b"b\n"),
        ("top/d/sub/s", b"s\n"),
    ];
    for (path, content) in d_files {
        sb.write(path, content);
    }
    sb.ok(&["add", "top"]);
    sb.ok(&["commit", "-m", "two"]);
    sb.ok(&["checkout", "HEAD~1"]);
    // The bytes of top/d are not local (a clone that never fetched them).
    for (_, content) in d_files {
        std::fs::remove_file(object_path(&sb.root, &b3(content))).expect("rm object");
    }
    sb.ok(&["checkout", "--lazy", "main"]);
    assert_eq!(
        sb.status_json()["not_fetched"],
        serde_json::json!(["top/d"])
    );

    sb.write("top/d/new.txt", b"x\n");
    let status = sb.status_json();
    assert_eq!(
        changes(&status, "unstaged"),
        pairs(&[("top/d/new.txt", "new")])
    );
    assert_eq!(status["clean"], false);
    assert_contains(&sb.out(&["status"]), "new:      top/d/new.txt");
    assert_eq!(sb.out(&["diff"]), "A\ttop/d/new.txt\n");

    // Fetched by hand (the tree's bytes): not a change. Edited: modified.
    sb.write("top/d/a", b"a\n");
    sb.write("top/d/sub/s", b"edited\n");
    sb.write("top/d/sub/n", b"n\n");
    let before = sb.dvx_state();
    let expected = pairs(&[
        ("top/d/new.txt", "new"),
        ("top/d/sub/n", "new"),
        ("top/d/sub/s", "modified"),
    ]);
    assert_eq!(changes(&sb.status_json(), "unstaged"), expected);
    assert_eq!(sb.dvx_state(), before, "status wrote nothing");
    let narrowed: serde_json::Value =
        serde_json::from_str(&sb.out(&["status", "--json", "top/d/sub"])).expect("json");
    assert_eq!(
        changes(&narrowed, "unstaged"),
        pairs(&[("top/d/sub/n", "new"), ("top/d/sub/s", "modified")])
    );
    assert_eq!(
        sb.out(&["diff"]),
        "A\ttop/d/new.txt\nA\ttop/d/sub/n\nM\ttop/d/sub/s\n"
    );
    // add agrees, and afterwards nothing is left unstaged.
    sb.ok(&["add", "top"]);
    let status = sb.status_json();
    assert_eq!(
        changes(&status, "staged"),
        pairs(&[
            ("top/d/new.txt", "added"),
            ("top/d/sub/n", "added"),
            ("top/d/sub/s", "modified"),
        ])
    );
    assert_eq!(changes(&status, "unstaged"), vec![]);
    assert_eq!(status["not_fetched"], serde_json::json!(["top/d/b"]));
    assert_eq!(
        sb.out(&["diff", "--cached"]),
        "A\ttop/d/new.txt\nA\ttop/d/sub/n\nM\ttop/d/sub/s\n"
    );
}

/// Regression: a tracked file replaced by an empty directory was called `deleted` by
/// status, but `dvx add` of its parent kept it staged, so the deletion could not be
/// committed.
#[test]
fn add_stages_a_file_replaced_by_an_empty_directory_as_deleted() {
    let sb = Sandbox::dvx_only();
    sb.write("data/keep.txt", b"keep\n");
    sb.write("data/sub", b"a file for now\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "one"]);
    fs::remove_file(sb.path("data/sub")).expect("rm");
    fs::create_dir(sb.path("data/sub")).expect("mkdir");
    let status = sb.status_json();
    assert_eq!(
        changes(&status, "unstaged"),
        pairs(&[("data/sub", "deleted")])
    );
    sb.ok(&["add", "data"]);
    let status = sb.status_json();
    assert_eq!(
        changes(&status, "staged"),
        pairs(&[("data/sub", "deleted")])
    );
    assert_eq!(changes(&status, "unstaged"), pairs(&[]));
    sb.ok(&["commit", "-m", "two"]);
    assert_eq!(sb.out(&["ls", "--json"]).matches("\"path\"").count(), 1);
    assert!(sb.path("data/sub").is_dir(), "the directory stays");
}
