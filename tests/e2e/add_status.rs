//! init, add, status, rm.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::process::Command;

use crate::harness::*;

/// `(path, status)` pairs of a `status --json` list (`staged` or `unstaged`).
fn changes(status: &serde_json::Value, list: &str) -> Vec<(String, String)> {
    status[list]
        .as_array()
        .unwrap_or_else(|| panic!("{list} is a list: {status}"))
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

/// Paths git would show (untracked files listed one by one).
fn git_porcelain(sb: &Sandbox) -> String {
    sb.git(&["status", "--porcelain", "--untracked-files=all"])
}

#[test]
fn add_commit_status_round_trip() {
    let sb = Sandbox::git_and_dvx();
    let data = bytes(1, 70_000);
    sb.write("data/a.bin", &data);
    sb.write("data/sub/b.txt", b"hello\n");
    sb.ok(&["add", "data"]);
    // The object id is the b3sum of the file.
    assert!(object_path(&sb.root, &b3(&data)).is_file());
    let status = sb.status_json();
    assert_eq!(status["staged"].as_array().map(Vec::len), Some(2));
    sb.ok(&["commit", "-m", "first"]);
    let status = sb.status_json();
    assert_eq!(status["clean"], true);
}

// ---------------------------------------------------------------------------------------
// init

#[test]
fn init_in_a_git_subdirectory_creates_the_repository_at_the_top_level() {
    let sb = Sandbox::git_only();
    let deep = sb.path("src/deeper");
    fs::create_dir_all(&deep).expect("mkdir");
    sb.dvx().current_dir(&deep).arg("init").assert().success();
    assert!(!deep.join(".dvx").exists(), "not in the subdirectory");
    let config = fs::read_to_string(sb.path(".dvx/config.toml")).expect("config at the top");
    assert!(
        config.lines().any(|l| l.trim() == "format = 1"),
        "config names the format:\n{config}"
    );
    assert!(sb.path(".dvx/.gitignore").is_file());
    // Git sees exactly the two tracked files of .dvx/, nothing local.
    let porcelain = git_porcelain(&sb);
    let dvx_lines: Vec<&str> = porcelain.lines().filter(|l| l.contains(".dvx")).collect();
    assert_eq!(
        dvx_lines,
        ["?? .dvx/.gitignore", "?? .dvx/config.toml"],
        "{porcelain}"
    );

    // A second init, from anywhere in the work tree, says so and changes nothing.
    let config_bytes = sb.read(".dvx/config.toml");
    let before = sb.dvx_state();
    let out = sb
        .dvx()
        .current_dir(&deep)
        .arg("init")
        .output()
        .expect("run");
    assert!(out.status.success());
    assert_contains(&String::from_utf8_lossy(&out.stdout), "already exists");
    assert_eq!(sb.read(".dvx/config.toml"), config_bytes);
    assert_eq!(sb.dvx_state(), before);
    assert_contains(&sb.out(&["init"]), "already exists");
    assert_eq!(sb.dvx_state(), before);
}

#[test]
fn init_no_git_works_outside_git() {
    let sb = Sandbox::empty();
    sb.ok(&["init", "--no-git"]);
    let config = fs::read_to_string(sb.path(".dvx/config.toml")).expect("config");
    assert!(config.lines().any(|l| l.trim() == "format = 1"), "{config}");
    sb.write("data/a.txt", b"a\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "first"]);
    assert_eq!(sb.status_json()["clean"], true);
    // Without git there is nothing to ignore.
    assert!(!sb.exists(".gitignore"));
    assert_eq!(sb.status_json()["pin"]["state"], "no-git");
}

#[test]
fn a_fresh_git_clone_works_with_any_command() {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/a.txt", b"a\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "first"]);
    sb.git(&["add", ".gitignore", "dvx.lock"]);
    sb.git(&["commit", "-q", "-m", "pin"]);
    let clone = sb.root.parent().expect("parent").join("clone");
    sb.git(&["clone", "-q", ".", clone.to_str().expect("utf-8")]);
    // Only the tracked files of .dvx/ travel.
    let mut carried: Vec<String> = fs::read_dir(clone.join(".dvx"))
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    carried.sort();
    assert_eq!(carried, [".gitignore", "config.toml"]);

    let run = |args: &[&str]| {
        let out = sb
            .dvx()
            .current_dir(&clone)
            .args(args)
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !stderr.contains("not inside") && !stderr.contains("not initialised"),
            "dvx {args:?} in a fresh clone: {stderr}"
        );
        assert!(out.status.success(), "dvx {args:?}: {stderr}");
        String::from_utf8(out.stdout).expect("utf-8")
    };
    // The first command of each kind, read-only or writing, works.
    let status: serde_json::Value =
        serde_json::from_str(&run(&["status", "--json"])).expect("json");
    assert_eq!(status["branch"], "main");
    assert_eq!(status["clean"], true);
    run(&["fsck"]);
    dvx::atomic::write(&clone.join("more.txt"), b"more\n").expect("write");
    run(&["add", "more.txt"]);
    run(&["commit", "-m", "in the clone"]);
    assert_contains(&run(&["log"]), "in the clone");
    assert_contains(&run(&["init"]), "already exists");

    // `init` is also fine as the very first command of a clone.
    let clone2 = sb.root.parent().expect("parent").join("clone2");
    sb.git(&["clone", "-q", ".", clone2.to_str().expect("utf-8")]);
    let out = sb
        .dvx()
        .current_dir(&clone2)
        .arg("init")
        .output()
        .expect("run");
    assert!(out.status.success());
    let config_in_git = sb.read(".dvx/config.toml");
    assert_eq!(
        fs::read(clone2.join(".dvx/config.toml")).expect("read"),
        config_in_git,
        "init in a clone leaves the tracked config alone"
    );
    assert_contains(&String::from_utf8_lossy(&out.stdout), "existing");
}

// ---------------------------------------------------------------------------------------
// add

#[test]
fn add_tracks_directories_recursively_and_stores_identical_content_once() {
    let sb = Sandbox::git_and_dvx();
    let big = bytes(7, 200_000);
    sb.write("data/a.bin", &big);
    sb.write("data/sub/deep/copy.bin", &big);
    sb.write("data/sub/c.txt", b"c\n");
    sb.write("data/empty", b"");
    sb.ok(&["add", "data"]);

    let staged = changes(&sb.status_json(), "staged");
    assert_eq!(
        staged,
        pairs(&[
            ("data/a.bin", "added"),
            ("data/empty", "added"),
            ("data/sub/c.txt", "added"),
            ("data/sub/deep/copy.bin", "added"),
        ])
    );
    // Each object is named by the b3sum of the bytes and holds exactly them.
    for content in [&big[..], b"c\n", b""] {
        let object = object_path(&sb.root, &b3(content));
        assert_eq!(fs::read(&object).expect("object"), content);
    }
    // Two identical files, one object.
    let mut expected = vec![b3(&big), b3(b"c\n"), b3(b"")];
    expected.sort();
    assert_eq!(sb.objects(), expected);
    // `ls` reports the same ids.
    let ls: serde_json::Value = serde_json::from_str(&sb.out(&["ls", "--json"])).expect("json");
    let ids: Vec<(&str, &str)> = ls
        .as_array()
        .expect("list")
        .iter()
        .map(|f| {
            (
                f["path"].as_str().expect("p"),
                f["id"].as_str().expect("id"),
            )
        })
        .collect();
    let (hb, hc, he) = (b3(&big), b3(b"c\n"), b3(b""));
    assert_eq!(
        ids,
        [
            ("data/a.bin", hb.as_str()),
            ("data/empty", he.as_str()),
            ("data/sub/c.txt", hc.as_str()),
            ("data/sub/deep/copy.bin", hb.as_str()),
        ]
    );
}

#[test]
fn add_honours_ignore_rules_below_the_added_path_but_not_for_the_path_itself() {
    let sb = Sandbox::git_and_dvx();
    // The user's own rules: one hides the data directory itself from git (as people do
    // before they use dvx), one hides temp files anywhere.
    sb.write(".gitignore", b"/data/\n*.tmp\n");
    sb.write("data/.dvxignore", b"*.log\ncache/\n");
    sb.write("data/sub/.gitignore", b"scratch.bin\n");
    for f in [
        "data/keep.csv",
        "data/drop.tmp",
        "data/run.log",
        "data/cache/x.csv",
        "data/sub/keep.csv",
        "data/sub/scratch.bin",
        "data/sub/deeper/also.tmp",
        "data/sub/deeper/kept.bin",
    ] {
        sb.write(f, f.as_bytes());
    }
    sb.ok(&["add", "data"]);
    let staged: Vec<String> = changes(&sb.status_json(), "staged")
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(
        staged,
        [
            "data/keep.csv",
            "data/sub/deeper/kept.bin",
            "data/sub/keep.csv"
        ],
        "ignore files themselves and ignored files are not tracked"
    );
    // Ignored files are not "new" in status either.
    assert_eq!(changes(&sb.status_json(), "unstaged"), vec![]);
    // A file given by name is added even when a rule matches it.
    sb.ok(&["add", "data/drop.tmp"]);
    assert!(
        changes(&sb.status_json(), "staged").contains(&("data/drop.tmp".into(), "added".into()))
    );
    // The user's lines are kept as they were, above dvx's block.
    let gitignore = String::from_utf8(sb.read(".gitignore")).expect("utf-8");
    assert!(gitignore.starts_with("/data/\n*.tmp\n"), "{gitignore}");
}

#[test]
fn git_and_dvx_directories_are_never_tracked() {
    let sb = Sandbox::dvx_only();
    sb.write("data/a.txt", b"a");
    sb.write("data/.git/HEAD", b"ref: refs/heads/main\n");
    sb.write("data/nested/.dvx/config.toml", b"format = 1\n");
    sb.write("top.txt", b"top");
    // Adding the whole repository must skip .dvx/ (and any .git/).
    sb.ok(&["add", "."]);
    let staged: Vec<String> = changes(&sb.status_json(), "staged")
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(staged, ["data/a.txt", "top.txt"]);
    // Naming them directly is refused.
    for reserved in [".dvx", ".dvx/config.toml"] {
        let err = sb.fails(&["add", reserved], 1);
        assert_contains(&err, "never tracks");
    }
}

#[test]
fn tracked_paths_are_ignored_by_git_in_the_nearest_gitignore() {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/raw/a.bin", &bytes(1, 1000));
    sb.write("data/raw/b.bin", &bytes(2, 1000));
    sb.write("model.pt", &bytes(3, 1000));
    let out = sb.out(&["add", "data/raw", "model.pt"]);
    assert_contains(&out, "git add");
    let nested = String::from_utf8(sb.read("data/.gitignore")).expect("utf-8");
    assert!(
        nested.lines().any(|l| l == "/raw"),
        "data/raw is ignored next to it:\n{nested}"
    );
    let top = String::from_utf8(sb.read(".gitignore")).expect("utf-8");
    assert!(top.lines().any(|l| l == "/model.pt"), "{top}");
    assert!(!top.contains("raw"), "{top}");
    // Git sees the ignore files, never the data.
    let porcelain = git_porcelain(&sb);
    assert_eq!(
        porcelain, "?? .gitignore\n?? data/.gitignore\n",
        "git sees no data"
    );
    // And status has no warning about paths git does not ignore.
    assert_eq!(sb.status_json()["not_ignored"], serde_json::json!([]));
}

#[test]
fn adding_a_parent_directory_moves_the_ignore_entry_up() {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/raw/a.bin", b"a");
    sb.write("data/b.bin", b"b");
    sb.ok(&["add", "data/raw"]);
    assert!(sb.exists("data/.gitignore"));
    sb.ok(&["add", "data"]);
    // data/raw is inside data now: its own entry (and the file that held only it) goes.
    assert!(!sb.exists("data/.gitignore"));
    let top = String::from_utf8(sb.read(".gitignore")).expect("utf-8");
    assert!(top.lines().any(|l| l == "/data"), "{top}");
    assert_eq!(git_porcelain(&sb), "?? .gitignore\n");
}

/// Regression: once dvx's `.gitignore` entry was lost, adding the path again did not
/// put it back (only a new root got an entry), so the data stayed visible to git.
#[test]
fn status_warns_about_tracked_data_that_git_does_not_ignore() {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/a.bin", b"a");
    sb.ok(&["add", "data"]);
    // The user replaces .gitignore, dropping dvx's block.
    sb.write(".gitignore", b"*.tmp\n");
    assert_eq!(sb.status_json()["not_ignored"], serde_json::json!(["data"]));
    let out = sb.dvx().arg("status").output().expect("run");
    assert!(out.status.success());
    assert_contains(
        &String::from_utf8_lossy(&out.stderr),
        "warning: git does not ignore the tracked path data",
    );
    assert_contains(&String::from_utf8_lossy(&out.stderr), "dvx add data");
    // Adding again (the path or anything in it) puts the entry back.
    sb.ok(&["add", "data/a.bin"]);
    assert_eq!(sb.status_json()["not_ignored"], serde_json::json!([]));
    let text = String::from_utf8(sb.read(".gitignore")).expect("utf-8");
    assert!(text.starts_with("*.tmp\n"), "{text}");
    assert!(text.lines().any(|l| l == "/data"), "{text}");
    assert_eq!(git_porcelain(&sb), "?? .gitignore\n");
}

#[test]
fn files_tracked_by_git_are_refused_and_nothing_changes() {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/labels.csv", b"id,label\n");
    sb.git(&["add", "data/labels.csv"]);
    sb.git(&["commit", "-q", "-m", "labels in git"]);
    sb.write("data/images.bin", &bytes(1, 5000));
    let before = sb.dvx_state();
    let err = sb.fails(&["add", "data"], 1);
    let (error, hint) = error_and_hint(&err);
    assert_contains(&error, "tracked by git");
    assert_contains(&error, "data/labels.csv");
    assert_contains(&hint, "git rm -r --cached data");
    assert_eq!(sb.dvx_state(), before);
    assert!(!sb.exists(".gitignore"), "no ignore rule was written");
    assert!(sb.objects().is_empty());
    // The file itself too.
    sb.fails(&["add", "data/labels.csv"], 1);
    assert_eq!(sb.dvx_state(), before);
}

#[test]
fn add_prints_no_progress_on_a_pipe_and_nothing_at_all_with_quiet() {
    let sb = Sandbox::git_and_dvx();
    for i in 0..50 {
        sb.write(&format!("data/f{i}.bin"), &bytes(i, 20_000));
    }
    let out = sb.dvx().args(["add", "data"]).output().expect("run");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "",
        "no progress bars on a pipe"
    );
    assert_contains(&String::from_utf8_lossy(&out.stdout), "50 new");

    sb.write("data/more.bin", &bytes(99, 20_000));
    let out = sb.dvx().args(["-q", "add", "data"]).output().expect("run");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    assert_eq!(
        changes(&sb.status_json(), "staged").len(),
        51,
        "quiet still adds"
    );
}

#[test]
fn symlinks_are_recorded_as_symlinks_and_the_executable_bit_is_kept() {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/real.txt", b"real\n");
    sb.write("data/run.sh", b"#!/bin/sh\necho hi\n");
    fs::set_permissions(sb.path("data/run.sh"), fs::Permissions::from_mode(0o755)).expect("chmod");
    symlink("real.txt", sb.path("data/link")).expect("symlink");
    // A link to a directory outside the repository (allowed by the config) is recorded,
    // never followed.
    sb.write(
        ".dvx/config.local.toml",
        b"[core]\nexternal_symlinks = true\n",
    );
    symlink(&sb.home, sb.path("data/outside")).expect("symlink");
    sb.write("../home/secret.txt", b"not data\n");
    sb.ok(&["add", "data"]);

    let ls: serde_json::Value = serde_json::from_str(&sb.out(&["ls", "--json"])).expect("json");
    let rows: Vec<(&str, &str, bool, &str)> = ls
        .as_array()
        .expect("list")
        .iter()
        .map(|f| {
            (
                f["path"].as_str().expect("path"),
                f["kind"].as_str().expect("kind"),
                f["executable"].as_bool().expect("bool"),
                f["id"].as_str().expect("id"),
            )
        })
        .collect();
    let home = sb.home.to_str().expect("utf-8");
    let (link_id, outside_id) = (b3(b"real.txt"), b3(home.as_bytes()));
    let (real_id, run_id) = (b3(b"real\n"), b3(b"#!/bin/sh\necho hi\n"));
    assert_eq!(
        rows,
        [
            ("data/link", "symlink", false, link_id.as_str()),
            ("data/outside", "symlink", false, outside_id.as_str()),
            ("data/real.txt", "file", false, real_id.as_str()),
            ("data/run.sh", "file", true, run_id.as_str()),
        ],
        "a symlink's id is the hash of its target as written"
    );

    // Losing the executable bit is a change.
    fs::set_permissions(sb.path("data/run.sh"), fs::Permissions::from_mode(0o644)).expect("chmod");
    assert_eq!(
        changes(&sb.status_json(), "unstaged"),
        pairs(&[("data/run.sh", "modified")])
    );
    // Checking out puts back links as links and the bit.
    sb.ok(&["commit", "-m", "links"]);
    fs::remove_dir_all(sb.path("data")).expect("rm");
    sb.ok(&["checkout", "--", "data"]);
    assert_eq!(
        fs::read_link(sb.path("data/link")).expect("still a link"),
        std::path::Path::new("real.txt")
    );
    assert_eq!(
        fs::read_link(sb.path("data/outside")).expect("still a link"),
        sb.home
    );
    let mode = fs::metadata(sb.path("data/run.sh")).expect("stat").mode();
    assert_eq!(mode & 0o100, 0o100, "executable again: {mode:o}");
    assert_eq!(sb.status_json()["clean"], true);
}

#[test]
fn adding_the_same_files_twice_changes_nothing() {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/a.bin", &bytes(1, 10_000));
    sb.write("data/sub/b.bin", &bytes(2, 10_000));
    sb.ok(&["add", "data"]);
    let before = sb.dvx_state();
    let gitignore = sb.read(".gitignore");
    let out = sb.out(&["add", "data"]);
    assert_contains(&out, "2 unchanged");
    assert_contains(&out, "0 new objects");
    assert_eq!(
        sb.dvx_state(),
        before,
        "no index, object or ref was rewritten"
    );
    assert_eq!(sb.read(".gitignore"), gitignore);
    // The same after a commit.
    sb.ok(&["commit", "-m", "one"]);
    let before = sb.dvx_state();
    sb.ok(&["add", "data"]);
    sb.ok(&["add", "data/a.bin"]);
    assert_eq!(sb.dvx_state(), before);
    assert_eq!(sb.status_json()["clean"], true);
}

#[test]
fn re_adding_a_directory_stages_the_files_deleted_from_it() {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/a.bin", &bytes(1, 1000));
    sb.write("data/sub/b.bin", &bytes(2, 1000));
    sb.write("data/sub/c.bin", &bytes(3, 1000));
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "one"]);
    fs::remove_file(sb.path("data/sub/b.bin")).expect("rm");
    fs::remove_dir_all(sb.path("data/sub")).expect("rm");
    assert_eq!(
        changes(&sb.status_json(), "unstaged"),
        pairs(&[("data/sub/b.bin", "deleted"), ("data/sub/c.bin", "deleted")])
    );
    let out = sb.out(&["add", "data"]);
    assert_contains(&out, "2 deleted");
    let status = sb.status_json();
    assert_eq!(
        changes(&status, "staged"),
        pairs(&[("data/sub/b.bin", "deleted"), ("data/sub/c.bin", "deleted")])
    );
    assert_eq!(changes(&status, "unstaged"), vec![]);
    sb.ok(&["commit", "-m", "two"]);
    let ls = sb.out(&["ls"]);
    assert_contains(&ls, "data/a.bin");
    assert!(!ls.contains("data/sub"), "{ls}");
}

// ---------------------------------------------------------------------------------------
// status

/// data/ with three files, committed.
fn committed_three() -> Sandbox {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/a.txt", b"alpha\n");
    sb.write("data/b.txt", b"beta\n");
    sb.write("data/sub/c.txt", b"gamma\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "three files"]);
    sb
}

#[test]
fn status_lists_modified_deleted_and_new_files() {
    let sb = committed_three();
    assert_eq!(sb.status_json()["clean"], true);
    sb.write("data/a.txt", b"ALPHA, changed\n");
    fs::remove_file(sb.path("data/b.txt")).expect("rm");
    sb.write("data/sub/new.txt", b"new\n");
    let status = sb.status_json();
    assert_eq!(status["clean"], false);
    assert_eq!(changes(&status, "staged"), vec![]);
    assert_eq!(
        changes(&status, "unstaged"),
        pairs(&[
            ("data/a.txt", "modified"),
            ("data/b.txt", "deleted"),
            ("data/sub/new.txt", "new"),
        ])
    );
    let text = sb.out(&["status"]);
    assert_contains(&text, "Changes not staged");
    assert_contains(&text, "modified: data/a.txt");
    assert_contains(&text, "deleted:  data/b.txt");
    assert_contains(&text, "new:      data/sub/new.txt");
    // A file touched but not changed is clean.
    let _ = sb.read("data/sub/c.txt");
    Command::new("touch")
        .arg(sb.path("data/sub/c.txt"))
        .status()
        .expect("touch");
    assert!(
        !changes(&sb.status_json(), "unstaged")
            .contains(&("data/sub/c.txt".into(), "modified".into())),
        "same bytes, new mtime: unchanged"
    );
}

#[test]
fn status_json_has_a_stable_shape() {
    let sb = committed_three();
    sb.write("data/a.txt", b"ALPHA\n");
    sb.ok(&["add", "data/a.txt"]);
    sb.write("data/b.txt", b"BETA\n");
    sb.write("data/sub/new.txt", b"new\n");
    let json = sb.out(&["status", "--json"]);
    insta::assert_snapshot!(json.trim_end(), @r#"
    {
      "branch": "main",
      "head": "c49d96c5a31113afd4dbd08c9bf821c19b59038fef0ddfa876c46f4c746453da",
      "clean": false,
      "staged": [
        {
          "path": "data/a.txt",
          "status": "modified"
        }
      ],
      "unstaged": [
        {
          "path": "data/b.txt",
          "status": "modified"
        },
        {
          "path": "data/sub/new.txt",
          "status": "new"
        }
      ],
      "not_fetched": [],
      "not_ignored": [],
      "pin": {
        "state": "matches",
        "pinned": "c49d96c5a31113afd4dbd08c9bf821c19b59038fef0ddfa876c46f4c746453da",
        "message": null
      },
      "interrupted_checkout": null,
      "upstream": null,
      "fsmonitor": null
    }
    "#);
}

#[test]
fn a_no_op_status_writes_nothing() {
    let sb = committed_three();
    // Give the index a delta on top of its base, and some racy entries.
    sb.write("data/d.txt", b"delta\n");
    sb.ok(&["add", "data"]);
    sb.write("data/a.txt", b"changed\n");
    assert!(sb.exists(".dvx/index"));
    assert!(sb.exists(".dvx/index.delta"));
    let before = sb.dvx_state();
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["status", "data/sub"],
        &["ls"],
        &["log"],
        &["diff"],
    ] {
        sb.ok(args);
        assert_eq!(sb.dvx_state(), before, "dvx {args:?} wrote under .dvx/");
    }
}

/// Set a file's mtime (seconds since the epoch, nanoseconds zero), as `touch -d` does.
fn set_mtime(path: &std::path::Path, secs: i64) {
    let ok = Command::new("touch")
        .arg("-m")
        .arg("-d")
        .arg(format!("@{secs}"))
        .arg(path)
        .status()
        .expect("run touch")
        .success();
    assert!(ok, "touch -d failed");
}

#[test]
fn status_catches_a_same_size_rewrite_whose_mtime_was_restored() {
    use std::io::Write;
    let sb = Sandbox::git_and_dvx();
    let old = bytes(1, 4096);
    sb.write("data/a.bin", &old);
    sb.write("data/b.bin", b"untouched");
    // An old mtime, so the entry is not racy: only the stat data can catch the change.
    set_mtime(&sb.path("data/a.bin"), 1_600_000_000);
    set_mtime(&sb.path("data/b.bin"), 1_600_000_000);
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "one"]);
    assert_eq!(sb.status_json()["clean"], true);

    // Rewrite in place (same inode, same size), then put the old mtime back, as
    // `rsync -t` or `cp -p` would. Only the ctime tells. Repeat until the clock has
    // moved the ctime (file systems with coarse timestamps).
    let path = sb.path("data/a.bin");
    let ctime_before = fs::metadata(&path).expect("stat").ctime_nsec();
    let ctime_secs_before = fs::metadata(&path).expect("stat").ctime();
    let new = bytes(2, 4096);
    for _ in 0..100 {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open in place");
        f.write_all(&new).expect("rewrite");
        drop(f);
        set_mtime(&path, 1_600_000_000);
        let m = fs::metadata(&path).expect("stat");
        if (m.ctime(), m.ctime_nsec()) != (ctime_secs_before, ctime_before) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let m = fs::metadata(&path).expect("stat");
    assert_eq!(m.len(), 4096);
    assert_eq!(m.mtime(), 1_600_000_000);
    assert_eq!(
        changes(&sb.status_json(), "unstaged"),
        pairs(&[("data/a.bin", "modified")])
    );
    assert_contains(&sb.out(&["status"]), "modified: data/a.bin");
}

#[test]
fn status_paths_limit_the_report() {
    let sb = committed_three();
    sb.write("data/a.txt", b"changed\n");
    sb.write("data/sub/c.txt", b"changed\n");
    sb.write("data/sub/new.txt", b"new\n");
    sb.write("other/x.txt", b"x\n");
    sb.ok(&["add", "other"]);
    let only = |args: &[&str]| {
        let mut full = vec!["status", "--json"];
        full.extend_from_slice(args);
        let status: serde_json::Value =
            serde_json::from_str(&sb.out(&full)).expect("status --json");
        (changes(&status, "staged"), changes(&status, "unstaged"))
    };
    assert_eq!(
        only(&["data/sub"]),
        (
            vec![],
            pairs(&[("data/sub/c.txt", "modified"), ("data/sub/new.txt", "new")])
        )
    );
    assert_eq!(
        only(&["data/a.txt"]),
        (vec![], pairs(&[("data/a.txt", "modified")]))
    );
    assert_eq!(
        only(&["other"]),
        (pairs(&[("other/x.txt", "added")]), vec![])
    );
    assert_eq!(
        only(&["data/a.txt", "other"]),
        (
            pairs(&[("other/x.txt", "added")]),
            pairs(&[("data/a.txt", "modified")])
        )
    );
    // Relative to the working directory.
    let out = sb
        .dvx()
        .current_dir(sb.path("data/sub"))
        .args(["status", "--json", "."])
        .output()
        .expect("run");
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        changes(&status, "unstaged"),
        pairs(&[("data/sub/c.txt", "modified"), ("data/sub/new.txt", "new")])
    );
}

// ---------------------------------------------------------------------------------------
// rm

#[test]
fn rm_untracks_and_deletes() {
    let sb = committed_three();
    sb.ok(&["rm", "data/b.txt"]);
    assert!(!sb.exists("data/b.txt"));
    let status = sb.status_json();
    assert_eq!(
        changes(&status, "staged"),
        pairs(&[("data/b.txt", "deleted")])
    );
    assert_eq!(changes(&status, "unstaged"), vec![]);
    // Other files are untouched.
    assert_eq!(sb.read("data/a.txt"), b"alpha\n");
    // A file that is not tracked is refused.
    sb.write("data/loose.txt", b"loose\n");
    let err = sb.fails(&["rm", "data/loose.txt"], 1);
    assert_contains(&err, "did not match any tracked path");
    assert!(sb.exists("data/loose.txt"));
}

#[test]
fn rm_cached_keeps_the_file_which_then_shows_as_new() {
    let sb = committed_three();
    sb.ok(&["rm", "--cached", "data/a.txt"]);
    assert_eq!(sb.read("data/a.txt"), b"alpha\n");
    let status = sb.status_json();
    assert_eq!(
        changes(&status, "staged"),
        pairs(&[("data/a.txt", "deleted")])
    );
    assert_eq!(
        changes(&status, "unstaged"),
        pairs(&[("data/a.txt", "new")])
    );
}

#[test]
fn rm_refuses_a_locally_modified_file_without_force() {
    let sb = committed_three();
    sb.write("data/a.txt", b"precious edit\n");
    let before = sb.dvx_state();
    let err = sb.fails(&["rm", "data/a.txt"], 1);
    let (error, hint) = error_and_hint(&err);
    assert_contains(&error, "data/a.txt");
    assert_contains(&error, "local changes");
    assert_contains(&hint, "--force");
    assert_eq!(sb.read("data/a.txt"), b"precious edit\n");
    assert_eq!(sb.dvx_state(), before);
    // Also when it is one of many under a directory: nothing is deleted.
    sb.fails(&["rm", "data"], 1);
    assert!(sb.exists("data/b.txt"));
    assert_eq!(sb.dvx_state(), before);
    sb.ok(&["rm", "-f", "data/a.txt"]);
    assert!(!sb.exists("data/a.txt"));
}

#[test]
fn rm_removes_the_gitignore_line() {
    let sb = Sandbox::git_and_dvx();
    sb.write(".gitignore", b"*.tmp\n");
    sb.write("model.pt", b"weights");
    sb.write("data/a.txt", b"a");
    sb.ok(&["add", "model.pt", "data"]);
    let text = String::from_utf8(sb.read(".gitignore")).expect("utf-8");
    assert!(text.lines().any(|l| l == "/model.pt"), "{text}");
    assert!(text.lines().any(|l| l == "/data"), "{text}");
    // Never committed: only -f deletes it.
    sb.ok(&["rm", "-f", "model.pt"]);
    assert!(!sb.exists("model.pt"));
    let text = String::from_utf8(sb.read(".gitignore")).expect("utf-8");
    assert!(!text.contains("/model.pt"), "{text}");
    assert!(text.lines().any(|l| l == "/data"), "{text}");
    sb.ok(&["rm", "--cached", "data"]);
    assert_eq!(
        sb.read(".gitignore"),
        b"*.tmp\n",
        "only the user's lines are left"
    );
    // Now git would see the data again, and dvx no longer lists it.
    assert_contains(&git_porcelain(&sb), "data/a.txt");
    assert_eq!(changes(&sb.status_json(), "unstaged"), vec![]);
}

/// Regression: every file dvx wrote got the temp-file mode 0600, so `dvx add` made the
/// user's `.gitignore` private, and `.dvx/config.toml` and `dvx.lock` were unreadable to
/// the rest of a team sharing the work tree.
#[test]
fn files_dvx_writes_keep_their_mode_or_follow_the_umask() {
    let sb = Sandbox::git_only();
    let mode = |rel: &str| fs::metadata(sb.path(rel)).expect("stat").mode() & 0o777;
    let umask = {
        let probe = sb.home.join("umask-probe");
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&probe)
            .expect("create");
        0o666 & !(fs::metadata(&probe).expect("stat").mode() & 0o777)
    };
    sb.write(".gitignore", b"*.tmp\n");
    fs::set_permissions(sb.path(".gitignore"), fs::Permissions::from_mode(0o664)).expect("chmod");
    sb.ok(&["init"]);
    sb.write("data/a.txt", b"a\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "first"]);
    assert_contains(&String::from_utf8_lossy(&sb.read(".gitignore")), "/data");
    assert_eq!(mode(".gitignore"), 0o664, "the user's mode is kept");
    for created in [
        ".dvx/config.toml",
        ".dvx/.gitignore",
        "dvx.lock",
        ".dvx/index",
    ] {
        assert_eq!(mode(created), 0o666 & !umask, "{created}");
    }
}

#[test]
fn status_refreshes_stale_stat_data_once_then_writes_nothing() {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/a.bin", &bytes(7, 30_000));
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "c"]);
    // Same bytes, new inode and times: the stat data no longer matches.
    let content = sb.read("data/a.bin");
    std::fs::remove_file(sb.path("data/a.bin")).expect("rm");
    sb.write("data/a.bin", &content);
    let state = |sb: &Sandbox| {
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(sb.path(".dvx"))
            .expect("ls")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("index"))
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).expect("read"),
                )
            })
            .collect();
        files.sort();
        files
    };
    let before = state(&sb);
    assert_eq!(
        sb.status_json()["clean"],
        true,
        "identical content is not a change"
    );
    let refreshed = state(&sb);
    assert_ne!(
        before, refreshed,
        "status records the new stat data, as git does"
    );
    assert_eq!(sb.status_json()["clean"], true);
    assert_eq!(
        state(&sb),
        refreshed,
        "a status with nothing stale writes nothing"
    );
}

#[test]
fn add_and_rm_report_json_and_cat_names_directories() {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/a.txt", b"a\n");
    sb.write("data/b.txt", b"b\n");
    let json: serde_json::Value =
        serde_json::from_str(&sb.out(&["add", "data", "--json"])).expect("json");
    assert_eq!(json["new_files"], 2);
    assert_eq!(json["objects_written"], 2);
    assert_eq!(json["gitignores_changed"][0], ".gitignore");
    let err = sb.fails(&["cat", "data"], 1);
    assert_contains(&err, "'data' is a directory");
    let json: serde_json::Value =
        serde_json::from_str(&sb.out(&["rm", "--cached", "data/a.txt", "--json"])).expect("json");
    assert_eq!(json["untracked"][0], "data/a.txt");
    assert_eq!(json["deleted_files"], 0);
}
