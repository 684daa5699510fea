//! History through the real binary: commit, log, show, ls, cat, revisions, diff,
//! branches and tags, checkout (full and lazy), and a model-based property test.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::MetadataExt;

use proptest::prelude::*;
use serde_json::Value;

use crate::harness::*;

// ---------------------------------------------------------------------------------------
// Helpers shared with `merge_gc`.

/// `DVX_DATE` for `t` seconds after the harness's fixed clock.
pub(crate) fn at(t: i64) -> String {
    format!("{} +0000", 1_700_000_000 + t)
}

/// Run dvx at clock `t` (see [`at`]); assert success; return stdout.
pub(crate) fn out_at(sb: &Sandbox, t: i64, args: &[&str]) -> String {
    sb.out_dated(&at(t), args)
}

/// `dvx commit --json -m msg` at clock `t`; returns the new commit id.
pub(crate) fn commit_at(sb: &Sandbox, t: i64, msg: &str) -> String {
    commit_args(sb, t, &["commit", "--json", "-m", msg])
}

/// `dvx commit --allow-empty --json -m msg` at clock `t`; returns the new commit id.
pub(crate) fn commit_empty_at(sb: &Sandbox, t: i64, msg: &str) -> String {
    commit_args(sb, t, &["commit", "--allow-empty", "--json", "-m", msg])
}

fn commit_args(sb: &Sandbox, t: i64, args: &[&str]) -> String {
    let v: Value = serde_json::from_str(&out_at(sb, t, args)).expect("commit --json is JSON");
    v["id"].as_str().expect("commit id").to_owned()
}

/// `dvx log --json [args]`, parsed.
pub(crate) fn log_json(sb: &Sandbox, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["log", "--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&sb.out(&all)).expect("log --json is JSON")
}

/// Commit ids of `log --json [args]`, newest first.
pub(crate) fn log_ids(sb: &Sandbox, args: &[&str]) -> Vec<String> {
    log_json(sb, args)
        .iter()
        .map(|c| c["id"].as_str().expect("id").to_owned())
        .collect()
}

/// What a revision resolves to (through `show --json`).
pub(crate) fn resolve(sb: &Sandbox, rev: &str) -> String {
    let v: Value = serde_json::from_str(&sb.out(&["show", "--json", rev])).expect("show --json");
    v["commit"]["id"].as_str().expect("id").to_owned()
}

/// The commit HEAD names (`status --json`).
pub(crate) fn head(sb: &Sandbox) -> Option<String> {
    sb.status_json()["head"].as_str().map(str::to_owned)
}

/// Every object file name (full hex id) in the store.
pub(crate) fn objects(sb: &Sandbox) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let base = sb.root.join(".dvx/objects");
    for fan in fs::read_dir(&base).expect("objects dir").flatten() {
        let prefix = fan.file_name().to_string_lossy().into_owned();
        if !fan.path().is_dir() {
            continue;
        }
        for obj in fs::read_dir(fan.path()).expect("fanout dir").flatten() {
            out.insert(format!("{prefix}{}", obj.file_name().to_string_lossy()));
        }
    }
    out
}

/// `ls --json [args]`: path -> entry.
pub(crate) fn ls_json(sb: &Sandbox, args: &[&str]) -> BTreeMap<String, Value> {
    let mut all = vec!["ls", "--json"];
    all.extend_from_slice(args);
    let v: Vec<Value> = serde_json::from_str(&sb.out(&all)).expect("ls --json is JSON");
    v.into_iter()
        .map(|e| (e["path"].as_str().expect("path").to_owned(), e))
        .collect()
}

/// Remove an object from the local store (as if its bytes were never fetched).
pub(crate) fn drop_object(sb: &Sandbox, id: &str) {
    let p = object_path(&sb.root, id);
    fs::remove_file(&p).unwrap_or_else(|e| panic!("remove {}: {e}", p.display()));
}

/// The lines of a file under the root (0 when absent).
fn line_count(sb: &Sandbox, rel: &str) -> usize {
    fs::read_to_string(sb.path(rel))
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------
// 1. commit

#[test]
fn commit_writes_one_tree_per_directory_and_only_trees_on_the_changed_path() {
    let sb = Sandbox::dvx_only();
    sb.write("data/a/x", b"x\n");
    sb.write("data/a/y", b"y\n");
    sb.write("data/b/z", b"z\n");
    sb.write("data/c/d/e", b"e\n");
    sb.write("top.csv", b"1,2\n");
    sb.ok(&["add", "data", "top.csv"]);
    let before = objects(&sb);
    let first = commit_at(&sb, 0, "first");
    let new: BTreeSet<_> = objects(&sb).difference(&before).cloned().collect();
    // Trees for root, data, data/a, data/b, data/c, data/c/d, plus the commit.
    assert_eq!(new.len(), 7, "new objects of the first commit: {new:?}");
    assert!(new.contains(&first));
    let tree = log_json(&sb, &["-n", "1"])[0]["tree"]
        .as_str()
        .expect("tree")
        .to_owned();
    assert!(new.contains(&tree));

    sb.write("data/c/d/e", b"e, changed\n");
    sb.ok(&["add", "data/c/d/e"]);
    let blob = b3(b"e, changed\n");
    assert!(objects(&sb).contains(&blob), "add stores the blob");
    let before = objects(&sb);
    let second = commit_at(&sb, 10, "second");
    let new: BTreeSet<_> = objects(&sb).difference(&before).cloned().collect();
    // Trees for data/c/d, data/c, data and the root, plus the commit: data/a and data/b
    // are reused.
    assert_eq!(new.len(), 5, "new objects of the second commit: {new:?}");
    assert!(new.contains(&second));
    let tree2 = log_json(&sb, &["-n", "1"])[0]["tree"]
        .as_str()
        .expect("tree")
        .to_owned();
    assert!(new.contains(&tree2));
    assert_eq!(
        ls_json(&sb, &["HEAD", "data/a"]),
        ls_json(&sb, &["HEAD~1", "data/a"])
    );
}

#[test]
fn commit_with_nothing_staged_fails_clearly_and_allow_empty_commits() {
    let sb = Sandbox::dvx_only();
    // Nothing at all yet.
    let err = sb.fails(&["commit", "-m", "nothing"], 1);
    assert_contains(&err, "nothing to commit");
    assert!(head(&sb).is_none());
    assert!(!sb.exists(".dvx/refs/heads/main"));

    sb.write("data/a", b"a\n");
    sb.ok(&["add", "data"]);
    let first = commit_at(&sb, 0, "first");
    let objs = objects(&sb);
    let reflog = line_count(&sb, ".dvx/logs/refs/heads/main");

    let err = sb.fails(&["commit", "-m", "again"], 1);
    assert_contains(&err, "nothing to commit");
    assert_contains(&err, "--allow-empty");
    assert_eq!(log_ids(&sb, &[]), std::slice::from_ref(&first));
    assert_eq!(objects(&sb), objs, "a refused commit writes no objects");
    assert_eq!(line_count(&sb, ".dvx/logs/refs/heads/main"), reflog);

    // Re-adding identical bytes is still nothing to commit.
    sb.ok(&["add", "data"]);
    sb.fails(&["commit", "-m", "again"], 1);

    let empty = commit_empty_at(&sb, 10, "empty");
    let log = log_json(&sb, &[]);
    assert_eq!(log.len(), 2);
    assert_eq!(log[0]["id"], empty.as_str());
    assert_eq!(log[0]["parents"][0], first.as_str());
    assert_eq!(
        log[0]["tree"], log[1]["tree"],
        "an empty commit keeps the tree"
    );
}

#[test]
fn commit_writes_objects_before_moving_the_ref_and_appends_the_reflog() {
    let sb = Sandbox::dvx_only();
    let reflog = ".dvx/logs/refs/heads/main";
    let mut ids = Vec::new();
    for i in 0..3u8 {
        sb.write("data/f", &[b'0' + i; 10]);
        sb.ok(&["add", "data"]);
        let id = commit_at(&sb, i64::from(i) * 60, &format!("c{i}"));
        ids.push(id.clone());
        assert_eq!(line_count(&sb, reflog), usize::from(i) + 1);
        let text = fs::read_to_string(sb.path(reflog)).expect("reflog");
        let last = text.lines().last().expect("a line");
        let old = if i == 0 {
            "0".repeat(64)
        } else {
            ids[usize::from(i) - 1].clone()
        };
        assert!(
            last.starts_with(&format!("{old} {id} ")),
            "reflog line: {last}"
        );
        assert_contains(last, &format!("c{i}"));
        assert_contains(last, AUTHOR);
        // The ref names a commit whose objects are all there, written no later than it.
        let ref_file = sb.path(".dvx/refs/heads/main");
        assert_eq!(
            fs::read_to_string(&ref_file).expect("ref").trim(),
            id.as_str()
        );
        let ref_time = fs::metadata(&ref_file)
            .expect("ref")
            .modified()
            .expect("mtime");
        let tree = log_json(&sb, &["-n", "1"])[0]["tree"]
            .as_str()
            .expect("tree")
            .to_owned();
        for obj in [&id, &tree, &b3(&[b'0' + i; 10])] {
            let m = fs::metadata(object_path(&sb.root, obj))
                .unwrap_or_else(|e| panic!("object {obj} missing: {e}"));
            assert!(m.modified().expect("mtime") <= ref_time);
        }
    }
    sb.ok(&["fsck"]);
}

#[test]
fn log_json_carries_author_and_time_from_the_environment() {
    let sb = Sandbox::dvx_only();
    sb.write("data/a", b"a\n");
    sb.ok(&["add", "data"]);
    sb.dvx()
        .env("DVX_AUTHOR", "Grace Hopper <grace@navy.mil>")
        .env("DVX_DATE", "1600000000 +0130")
        .args(["commit", "-m", "  first line  \n\nbody text  "])
        .assert()
        .success();
    let log = log_json(&sb, &[]);
    assert_eq!(log.len(), 1);
    let c = &log[0];
    assert_eq!(c["author"], "Grace Hopper");
    assert_eq!(c["email"], "grace@navy.mil");
    assert_eq!(c["time"], 1_600_000_000);
    assert_eq!(c["tz"], "+0130");
    assert_eq!(c["message"], "first line\n\nbody text\n");
    assert_eq!(c["parents"], serde_json::json!([]));
    assert_eq!(c["refs"], serde_json::json!(["HEAD -> main"]));
    let keys: BTreeSet<&str> = c
        .as_object()
        .expect("object")
        .keys()
        .map(|k| k.as_str())
        .collect();
    for k in [
        "id", "tree", "parents", "author", "email", "time", "tz", "message", "refs",
    ] {
        assert!(keys.contains(k), "log --json lacks {k}: {keys:?}");
    }
    let text = sb.out(&["log"]);
    assert_contains(&text, "Author: Grace Hopper <grace@navy.mil>");
    // 1600000000 is 2020-09-13 12:26:40 UTC.
    assert_contains(&text, "Date:   2020-09-13 13:56:40 +0130");
}

// ---------------------------------------------------------------------------------------
// 2. log, show, ls, cat

/// Four commits: a.txt, b.bin, sub/c; then a.txt changes; then sub/c is deleted and
/// d.txt added; then an empty commit. Returns the ids, oldest first.
fn four_commits(sb: &Sandbox) -> Vec<String> {
    sb.write("data/a.txt", b"alpha\n");
    sb.write("data/b.bin", &bytes(7, 5000));
    sb.write("data/sub/c", b"gamma\n");
    sb.ok(&["add", "data"]);
    let c1 = commit_at(sb, 0, "one: initial data");
    sb.write("data/a.txt", b"alpha\nbeta\n");
    sb.ok(&["add", "data"]);
    let c2 = commit_at(sb, 100, "two: extend a");
    fs::remove_file(sb.path("data/sub/c")).expect("rm");
    sb.write("data/d.txt", b"delta\n");
    sb.ok(&["add", "data"]);
    let c3 = commit_at(sb, 200, "three: drop c, add d");
    let c4 = commit_empty_at(sb, 300, "four: empty");
    vec![c1, c2, c3, c4]
}

#[test]
fn log_oneline_json_max_count_and_path_filter() {
    let sb = Sandbox::dvx_only();
    let ids = four_commits(&sb);
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(log_ids(&sb, &[]), newest_first);

    let oneline = sb.out(&["log", "--oneline"]);
    let lines: Vec<&str> = oneline.lines().collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(
        lines[0],
        format!("{} (HEAD -> main) four: empty", &ids[3][..10])
    );
    assert_eq!(lines[3], format!("{} one: initial data", &ids[0][..10]));

    assert_eq!(log_ids(&sb, &["-n", "2"]), newest_first[..2]);
    assert_eq!(sb.out(&["log", "--oneline", "-n", "1"]).lines().count(), 1);
    assert_eq!(log_ids(&sb, &["HEAD~2"]), newest_first[2..]);

    assert_eq!(
        log_ids(&sb, &["--", "data/a.txt"]),
        [ids[1].clone(), ids[0].clone()]
    );
    assert_eq!(
        log_ids(&sb, &["--", "data/sub"]),
        [ids[2].clone(), ids[0].clone()]
    );
    assert_eq!(log_ids(&sb, &["--", "data/d.txt"]), [ids[2].clone()]);
    assert_eq!(log_ids(&sb, &["--", "data/b.bin"]), [ids[0].clone()]);
    assert_eq!(
        log_ids(&sb, &["-n", "1", "--", "data/a.txt"]),
        [ids[1].clone()]
    );
    assert!(log_ids(&sb, &["--", "data/never"]).is_empty());

    let text = sb.out(&["log", "-n", "1", "HEAD~1"]);
    assert_contains(&text, &format!("commit {}", ids[2]));
    assert_contains(&text, "    three: drop c, add d");
}

#[test]
fn show_lists_the_files_a_commit_changed() {
    let sb = Sandbox::dvx_only();
    let ids = four_commits(&sb);
    let text = sb.out(&["show", &ids[2]]);
    assert_contains(&text, &format!("commit {}", ids[2]));
    assert_contains(&text, "three: drop c, add d");
    assert_contains(&text, "deleted:  data/sub/c");
    assert_contains(&text, "added:    data/d.txt");
    assert_contains(&text, "2 files changed");
    assert!(!text.contains("a.txt"), "{text}");

    let v: Value = serde_json::from_str(&sb.out(&["show", "--json", "HEAD~2"])).expect("json");
    assert_eq!(v["commit"]["id"], ids[1].as_str());
    let changes = v["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["path"], "data/a.txt");
    assert_eq!(changes[0]["status"], "modified");
    assert_eq!(changes[0]["old_id"], b3(b"alpha\n").as_str());
    assert_eq!(changes[0]["new_id"], b3(b"alpha\nbeta\n").as_str());

    // The first commit shows everything as added; the empty one shows nothing.
    let v: Value = serde_json::from_str(&sb.out(&["show", "--json", &ids[0]])).expect("json");
    let added: Vec<&str> = v["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            assert_eq!(c["status"], "added");
            c["path"].as_str().expect("path")
        })
        .collect();
    assert_eq!(added, ["data/a.txt", "data/b.bin", "data/sub/c"]);
    let text = sb.out(&["show"]);
    assert_contains(&text, "0 files changed");
}

#[test]
fn ls_shows_path_size_id_and_whether_the_bytes_are_local() {
    let sb = Sandbox::dvx_only();
    let ids = four_commits(&sb);
    let now = ls_json(&sb, &[]);
    assert_eq!(
        now.keys().collect::<Vec<_>>(),
        ["data/a.txt", "data/b.bin", "data/d.txt"]
    );
    let b = &now["data/b.bin"];
    assert_eq!(b["size"], 5000);
    assert_eq!(b["id"], b3(&bytes(7, 5000)).as_str());
    assert_eq!(b["local"], true);
    assert_eq!(b["kind"], "file");

    let old = ls_json(&sb, &[&ids[0]]);
    assert_eq!(
        old.keys().collect::<Vec<_>>(),
        ["data/a.txt", "data/b.bin", "data/sub/c"]
    );
    assert_eq!(old["data/a.txt"]["size"], 6);
    let sub = ls_json(&sb, &[&ids[0], "data/sub"]);
    assert_eq!(sub.keys().collect::<Vec<_>>(), ["data/sub/c"]);
    assert_eq!(sub["data/sub/c"]["id"], b3(b"gamma\n").as_str());

    // Text: size, short id, path; a blob that is not local is marked.
    drop_object(&sb, &b3(b"gamma\n"));
    let text = sb.out(&["ls", &ids[0], "data"]);
    let line = text
        .lines()
        .find(|l| l.contains("data/sub/c"))
        .expect("listed");
    assert_contains(line, "6 B");
    assert_contains(line, &b3(b"gamma\n")[..10]);
    assert_contains(line, "(not fetched)");
    let line = text
        .lines()
        .find(|l| l.contains("data/a.txt"))
        .expect("listed");
    assert!(!line.contains("not fetched"), "{line}");
    assert_eq!(ls_json(&sb, &[&ids[0]])["data/sub/c"]["local"], false);
}

#[test]
fn cat_rev_prints_old_bytes_exactly() {
    let sb = Sandbox::dvx_only();
    let ids = four_commits(&sb);
    let cat = |args: &[&str]| -> Vec<u8> {
        let o = sb.dvx().args(args).output().expect("run");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o.stdout
    };
    assert_eq!(cat(&["cat", "--rev", &ids[0], "data/a.txt"]), b"alpha\n");
    assert_eq!(
        cat(&["cat", "--rev", "HEAD", "data/a.txt"]),
        b"alpha\nbeta\n"
    );
    assert_eq!(cat(&["cat", "data/a.txt"]), b"alpha\nbeta\n");
    assert_eq!(cat(&["cat", "--rev", "HEAD~3", "data/sub/c"]), b"gamma\n");

    // Binary bytes (NULs, invalid UTF-8) pass through untouched, even when the work
    // tree holds something else.
    let old_bin = bytes(7, 5000);
    sb.write("data/b.bin", &bytes(8, 70_000));
    sb.ok(&["add", "data"]);
    commit_at(&sb, 400, "new binary");
    assert_eq!(cat(&["cat", "--rev", &ids[3], "data/b.bin"]), old_bin);
    assert_eq!(
        cat(&["cat", "--rev", "main", "data/b.bin"]),
        bytes(8, 70_000)
    );

    let err = sb.fails(&["cat", "--rev", "HEAD", "data/sub/c"], 1);
    assert_contains(&err, "data/sub/c");
    let err = sb.fails(&["cat", "--rev", &ids[0], "data/sub"], 1);
    assert_contains(&err, "directory");
}

// ---------------------------------------------------------------------------------------
// 3. revisions

#[test]
fn revisions_resolve_ids_prefixes_names_and_ancestry() {
    let sb = Sandbox::dvx_only();
    sb.write("data/f", b"0");
    sb.ok(&["add", "data"]);
    let c1 = commit_at(&sb, 0, "c1");
    sb.write("data/f", b"1");
    sb.ok(&["add", "data"]);
    let c2 = commit_at(&sb, 10, "c2");
    sb.ok(&["checkout", "-b", "side"]);
    sb.write("data/s", b"side");
    sb.ok(&["add", "data"]);
    let s1 = commit_at(&sb, 20, "s1");
    sb.ok(&["checkout", "main"]);
    sb.write("data/f", b"3");
    sb.ok(&["add", "data"]);
    let c3 = commit_at(&sb, 30, "c3");
    sb.write("data/f", b"4");
    sb.ok(&["add", "data"]);
    let c4 = commit_at(&sb, 40, "c4");
    out_at(&sb, 50, &["merge", "side"]);
    let m = head(&sb).expect("merged");
    assert_ne!(m, c4);
    sb.ok(&["tag", "v1", &c3]);
    sb.ok(&["tag", "merged"]);

    assert_eq!(resolve(&sb, &c2), c2);
    assert_eq!(resolve(&sb, &c2[..6]), c2);
    assert_eq!(resolve(&sb, &c2[..4]), c2);
    assert_eq!(resolve(&sb, &c2.to_uppercase()[..8]), c2);
    assert_eq!(resolve(&sb, "main"), m);
    assert_eq!(resolve(&sb, "side"), s1);
    assert_eq!(resolve(&sb, "refs/heads/side"), s1);
    assert_eq!(resolve(&sb, "v1"), c3);
    assert_eq!(resolve(&sb, "HEAD"), m);
    assert_eq!(resolve(&sb, "@"), m);
    assert_eq!(resolve(&sb, "HEAD^"), c4);
    assert_eq!(resolve(&sb, "HEAD^1"), c4);
    assert_eq!(resolve(&sb, "HEAD~1"), c4);
    assert_eq!(resolve(&sb, "HEAD~2"), c3);
    assert_eq!(resolve(&sb, "HEAD~3"), c2);
    assert_eq!(resolve(&sb, "HEAD~4"), c1);
    assert_eq!(resolve(&sb, "HEAD^^^"), c2);
    assert_eq!(resolve(&sb, "merged^2"), s1);
    assert_eq!(resolve(&sb, "HEAD^2"), s1);
    assert_eq!(resolve(&sb, "HEAD^2~1"), c2);
    assert_eq!(resolve(&sb, "HEAD^2^"), c2);
    assert_eq!(resolve(&sb, &format!("{}~2", &m[..6])), c3);
    assert_eq!(resolve(&sb, "v1~0"), c3);
    assert_eq!(resolve(&sb, "HEAD^0"), m);

    // Past the root, or a parent that is not there.
    let err = sb.fails(&["show", "HEAD~5"], 1);
    assert_contains(&err, "HEAD~5");
    assert_contains(&err, "hint:");
    let err = sb.fails(&["show", "HEAD^3"], 1);
    assert_contains(&err, "HEAD^3");
    sb.fails(&["show", "side^2"], 1);
}

#[test]
fn unknown_revisions_and_short_prefixes_are_rejected_with_a_hint() {
    let sb = Sandbox::dvx_only();
    sb.write("data/f", b"0");
    sb.ok(&["add", "data"]);
    let c1 = commit_at(&sb, 0, "c1");
    for spec in ["nope", "HEAD~x", "~1", &c1[..3], &c1[..1], "zzzzzz"] {
        for cmd in [&["show", spec][..], &["log", spec], &["checkout", spec]] {
            let err = sb.fails(cmd, 1);
            assert_contains(&err, &format!("unknown revision '{spec}'"));
            assert_contains(&err, "hint:");
        }
    }
    // A prefix that matches a tree or blob but no commit is not a commit.
    let tree = log_json(&sb, &[])[0]["tree"]
        .as_str()
        .expect("tree")
        .to_owned();
    let blob = b3(b"0");
    for id in [&tree, &blob] {
        if !c1.starts_with(&id[..6]) {
            let err = sb.fails(&["show", &id[..6]], 1);
            assert_contains(&err, &id[..6]);
        }
    }
    assert_eq!(head(&sb).as_deref(), Some(c1.as_str()));
}

/// Regression: `HEAD~x` on a root commit said "commit ... has no parent 1" because the
/// suffix was applied step by step before the malformed part was seen.
#[test]
fn malformed_revision_suffix_is_unknown_not_no_parent() {
    let sb = Sandbox::dvx_only();
    let c = commit_empty_at(&sb, 0, "root");
    for spec in ["HEAD~x", "HEAD^~x", "main~1x", "HEAD^-1", &format!("{c}~!")] {
        let err = sb.fails(&["show", spec], 1);
        assert_contains(&err, &format!("unknown revision '{spec}'"));
        assert!(!err.contains("no parent"), "{err}");
    }
    // A well-formed suffix past the root still says so.
    assert_contains(&sb.fails(&["show", "HEAD~1"], 1), "no parent");
}

#[test]
fn an_ambiguous_prefix_is_an_error_listing_the_candidates() {
    let sb = Sandbox::dvx_only();
    let mut by_prefix: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut collision = None;
    // Commit ids are deterministic (fixed author, clock and messages), so whether and
    // where a four-digit collision happens does not vary between runs (about 300
    // commits in; 1200 give better than 99.99% odds for any encoding).
    for i in 0..1200i64 {
        let id = commit_empty_at(&sb, i, &format!("commit {i}"));
        let list = by_prefix.entry(id[..4].to_owned()).or_default();
        list.push(id);
        if list.len() == 2 {
            collision = Some(list.clone());
            break;
        }
    }
    let Some(pair) = collision else {
        eprintln!("skipped: no four-digit collision among 1200 commit ids");
        return;
    };
    let prefix = &pair[0][..4];
    let err = sb.fails(&["show", prefix], 1);
    assert_contains(&err, "ambiguous");
    assert_contains(&err, prefix);
    for id in &pair {
        assert_contains(&err, &id[..10]);
    }
    assert_contains(&err, "hint:");
    sb.fails(&["log", prefix], 1);
    sb.fails(&["checkout", prefix], 1);
    sb.fails(&["branch", "x", prefix], 1);
    assert!(!branches(&sb).contains_key("x"));
    // One more digit than they share picks one.
    let common = pair[0]
        .bytes()
        .zip(pair[1].bytes())
        .take_while(|(a, b)| a == b)
        .count();
    for id in &pair {
        assert_eq!(resolve(&sb, &id[..common + 1]), *id);
    }

    // A blob sharing a commit's first four digits does not make the prefix ambiguous:
    // find bytes whose BLAKE3 starts that way (about 65536 tries), and store them.
    let commit = by_prefix
        .values()
        .find(|l| l.len() == 1)
        .map(|l| l[0].clone())
        .expect("a commit with a unique prefix");
    let content = (0u64..)
        .map(|n| format!("{n}\n"))
        .find(|c| b3(c.as_bytes())[..4] == commit[..4])
        .expect("some content hashes to the prefix");
    sb.write("data/twin", content.as_bytes());
    sb.ok(&["add", "data"]);
    assert!(object_path(&sb.root, &b3(content.as_bytes())).is_file());
    assert_eq!(resolve(&sb, &commit[..4]), commit);
    // And a prefix matching only that blob is no commit at all.
    let blob = b3(content.as_bytes());
    let shared = blob
        .bytes()
        .zip(commit.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    let blob_only = &blob[..shared + 1];
    let err = sb.fails(&["show", blob_only], 1);
    assert_contains(&err, &format!("unknown revision '{blob_only}'"));
}

// ---------------------------------------------------------------------------------------
// 4. diff

/// Two commits: the second modifies, deletes, renames (same bytes, new path) and adds.
fn diff_fixture(sb: &Sandbox) -> (String, String) {
    sb.write("data/keep.txt", b"keep\n");
    sb.write("data/mod.txt", b"one\ntwo\nthree\n");
    sb.write("data/del.txt", b"going away\n");
    sb.write("data/old.bin", &bytes(3, 3000));
    sb.write("data/pic.bin", &bytes(4, 2000));
    sb.ok(&["add", "data"]);
    let a = commit_at(sb, 0, "a");
    sb.write("data/mod.txt", b"one\nTWO\nthree\n");
    fs::remove_file(sb.path("data/del.txt")).expect("rm");
    fs::remove_file(sb.path("data/old.bin")).expect("rm");
    sb.write("data/moved/new.bin", &bytes(3, 3000));
    sb.write("data/add.txt", b"added\n");
    sb.write("data/pic.bin", &bytes(5, 2100));
    sb.ok(&["add", "data"]);
    let b = commit_at(sb, 10, "b");
    (a, b)
}

fn sorted_lines(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.lines().map(str::to_owned).collect();
    v.sort();
    v
}

#[test]
fn diff_between_commits_names_added_deleted_modified_and_renamed() {
    let sb = Sandbox::dvx_only();
    let (a, b) = diff_fixture(&sb);
    assert_eq!(
        sorted_lines(&sb.out(&["diff", &a, &b])),
        sorted_lines(
            "A\tdata/add.txt\nD\tdata/del.txt\nM\tdata/mod.txt\nM\tdata/pic.bin\n\
             R\tdata/old.bin -> data/moved/new.bin\n"
        )
    );
    // The other way round.
    assert_eq!(
        sorted_lines(&sb.out(&["diff", &b, &a])),
        sorted_lines(
            "D\tdata/add.txt\nA\tdata/del.txt\nM\tdata/mod.txt\nM\tdata/pic.bin\n\
             R\tdata/moved/new.bin -> data/old.bin\n"
        )
    );
    assert_eq!(sb.out(&["diff", &a, &a]), "");
    assert_eq!(sb.out(&["diff", "HEAD", "main"]), "");

    // --json: one object per file with a fixed set of fields.
    let v: Vec<Value> = serde_json::from_str(&sb.out(&["diff", "--json", &a, &b])).expect("json");
    let by_path: BTreeMap<&str, &Value> = v
        .iter()
        .map(|c| (c["path"].as_str().expect("path"), c))
        .collect();
    assert_eq!(
        by_path.keys().copied().collect::<Vec<_>>(),
        [
            "data/add.txt",
            "data/del.txt",
            "data/mod.txt",
            "data/moved/new.bin",
            "data/pic.bin"
        ]
    );
    for c in &v {
        let keys: BTreeSet<&str> = c
            .as_object()
            .expect("object")
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from([
                "path", "status", "from", "old_id", "new_id", "old_size", "new_size"
            ])
        );
    }
    let r = by_path["data/moved/new.bin"];
    assert_eq!(r["status"], "renamed");
    assert_eq!(r["from"], "data/old.bin");
    assert_eq!(r["old_id"], r["new_id"]);
    assert_eq!(r["new_size"], 3000);
    let m = by_path["data/mod.txt"];
    assert_eq!(m["status"], "modified");
    assert_eq!(m["old_id"], b3(b"one\ntwo\nthree\n").as_str());
    assert_eq!(m["new_id"], b3(b"one\nTWO\nthree\n").as_str());
    assert_eq!(m["from"], Value::Null);
    let d = by_path["data/del.txt"];
    assert_eq!(d["status"], "deleted");
    assert_eq!(d["new_id"], Value::Null);
    assert_eq!(d["old_size"], 11);
    let ad = by_path["data/add.txt"];
    assert_eq!(ad["status"], "added");
    assert_eq!(ad["old_id"], Value::Null);
    assert_eq!(ad["new_size"], 6);

    // --stat: one line per file and a summary.
    let stat = sb.out(&["diff", "--stat", &a, &b]);
    assert_eq!(stat.lines().count(), 6, "{stat}");
    assert!(
        stat.lines()
            .any(|l| l.contains("data/add.txt") && l.contains("+6 B"))
    );
    assert!(
        stat.lines()
            .any(|l| l.contains("data/del.txt") && l.contains("-11 B"))
    );
    assert!(
        stat.lines()
            .any(|l| l.contains("data/moved/new.bin") && l.contains("renamed from data/old.bin"))
    );
    assert_contains(
        &stat,
        "5 files changed: 1 added, 1 deleted, 2 modified, 1 renamed",
    );

    // -- path limits the comparison.
    assert_eq!(
        sb.out(&["diff", &a, &b, "--", "data/mod.txt"]),
        "M\tdata/mod.txt\n"
    );
    assert_eq!(
        sb.out(&["diff", &a, &b, "--", "data/mod.txt", "data/del.txt"]),
        "D\tdata/del.txt\nM\tdata/mod.txt\n"
    );
    assert_eq!(sb.out(&["diff", &a, &b, "--", "data/keep.txt"]), "");
    assert_eq!(
        sb.out(&["diff", &a, &b, "--", "data/moved"]),
        "A\tdata/moved/new.bin\n"
    );
}

#[test]
fn diff_content_shows_text_hunks_and_summarises_binary() {
    let sb = Sandbox::dvx_only();
    let (a, b) = diff_fixture(&sb);
    let out = sb.out(&["diff", "--content", &a, &b, "--", "data/mod.txt"]);
    assert_contains(&out, "--- a/data/mod.txt");
    assert_contains(&out, "+++ b/data/mod.txt");
    assert_contains(&out, "@@ -1,3 +1,3 @@");
    assert_contains(&out, "\n-two\n+TWO\n");
    assert_contains(&out, "\n one\n");

    let out = sb.out(&["diff", "--content", &a, &b, "--", "data/pic.bin"]);
    let body: Vec<&str> = out
        .lines()
        .filter(|l| !l.starts_with("diff --dvx"))
        .collect();
    assert_eq!(body.len(), 1, "one summary line for a binary file: {out}");
    assert_contains(body[0], "binary files differ");
    assert_contains(body[0], "2.0 KiB");

    let out = sb.out(&["diff", "--content", &a, &b, "--", "data/add.txt"]);
    assert_contains(&out, "--- /dev/null");
    assert_contains(&out, "+added");
    let out = sb.out(&["diff", "--content", &a, &b, "--", "data/del.txt"]);
    assert_contains(&out, "+++ /dev/null");
    assert_contains(&out, "-going away");

    // Against the work tree, the new side is read from the file.
    sb.write("data/keep.txt", b"keep\nmore\n");
    let out = sb.out(&["diff", "--content"]);
    assert_contains(&out, "+more");
}

#[test]
fn diff_commit_against_work_tree_and_stage() {
    let sb = Sandbox::dvx_only();
    let (a, _b) = diff_fixture(&sb);
    assert_eq!(sb.out(&["diff"]), "", "a clean tree has no diff");
    sb.write("data/keep.txt", b"edited\n");
    sb.write("data/mod.txt", b"staged\n");
    sb.ok(&["add", "data/mod.txt"]);
    fs::remove_file(sb.path("data/add.txt")).expect("rm");
    assert_eq!(
        sb.out(&["diff"]),
        "D\tdata/add.txt\nM\tdata/keep.txt\nM\tdata/mod.txt\n"
    );
    assert_eq!(sb.out(&["diff", "--cached"]), "M\tdata/mod.txt\n");
    assert_eq!(
        sb.out(&["diff", "--", "data/keep.txt"]),
        "M\tdata/keep.txt\n"
    );
    // One revision: that commit against the work tree.
    let lines = sorted_lines(&sb.out(&["diff", &a]));
    assert_eq!(
        lines,
        sorted_lines(
            "D\tdata/del.txt\nM\tdata/keep.txt\nM\tdata/mod.txt\nM\tdata/pic.bin\n\
             R\tdata/old.bin -> data/moved/new.bin\n"
        )
    );
    let v: Vec<Value> = serde_json::from_str(&sb.out(&["diff", "--json"])).expect("json");
    let keep = v
        .iter()
        .find(|c| c["path"] == "data/keep.txt")
        .expect("keep");
    assert_eq!(keep["new_id"], b3(b"edited\n").as_str());
    // Diff never changes anything.
    assert_eq!(sb.read("data/keep.txt"), b"edited\n");
    assert_eq!(sb.out(&["diff", "--cached"]), "M\tdata/mod.txt\n");
}

// ---------------------------------------------------------------------------------------
// 5. branches and tags

fn branches(sb: &Sandbox) -> BTreeMap<String, (String, bool)> {
    let v: Vec<Value> = serde_json::from_str(&sb.out(&["branch", "--json"])).expect("json");
    v.iter()
        .map(|b| {
            (
                b["name"].as_str().expect("name").to_owned(),
                (
                    b["commit"].as_str().expect("commit").to_owned(),
                    b["current"].as_bool().expect("current"),
                ),
            )
        })
        .collect()
}

fn tags(sb: &Sandbox) -> BTreeMap<String, String> {
    let v: Vec<Value> = serde_json::from_str(&sb.out(&["tag", "--json"])).expect("json");
    v.iter()
        .map(|t| {
            (
                t["name"].as_str().expect("name").to_owned(),
                t["commit"].as_str().expect("commit").to_owned(),
            )
        })
        .collect()
}

fn three_commits(sb: &Sandbox) -> Vec<String> {
    (0..3)
        .map(|i| {
            sb.write("data/f", format!("v{i}\n").as_bytes());
            sb.ok(&["add", "data"]);
            commit_at(sb, i * 10, &format!("c{i}"))
        })
        .collect()
}

#[test]
fn branch_create_list_delete_and_rename() {
    let sb = Sandbox::dvx_only();
    let ids = three_commits(&sb);
    sb.ok(&["branch", "old", "HEAD~2"]);
    sb.ok(&["branch", "feat", &ids[1][..8]]);
    sb.ok(&["branch", "here"]);
    let list = branches(&sb);
    assert_eq!(list["old"], (ids[0].clone(), false));
    assert_eq!(list["feat"], (ids[1].clone(), false));
    assert_eq!(list["here"], (ids[2].clone(), false));
    assert_eq!(list["main"], (ids[2].clone(), true));
    let text = sb.out(&["branch"]);
    let current: Vec<&str> = text.lines().filter(|l| l.starts_with('*')).collect();
    assert_eq!(current.len(), 1);
    assert_contains(current[0], "main");
    assert!(
        text.lines()
            .any(|l| l.starts_with("  feat") && l.contains(&ids[1][..10]))
    );

    // Existing names and bad names are refused.
    let err = sb.fails(&["branch", "feat"], 1);
    assert_contains(&err, "already exists");
    assert_eq!(branches(&sb)["feat"].0, ids[1]);
    sb.fails(&["branch", "bad..name"], 1);
    sb.fails(&["branch", "x", "nope"], 1);

    // Unmerged: refused without -D.
    sb.ok(&["checkout", "feat"]);
    sb.write("data/g", b"only on feat\n");
    sb.ok(&["add", "data"]);
    let f1 = commit_at(&sb, 100, "feat work");
    sb.ok(&["checkout", "main"]);
    let err = sb.fails(&["branch", "-d", "feat"], 1);
    assert_contains(&err, "not merged");
    assert_contains(&err, "-D");
    assert_eq!(branches(&sb)["feat"].0, f1);
    // Merged ones go with -d.
    sb.ok(&["branch", "-d", "old"]);
    assert!(!branches(&sb).contains_key("old"));
    sb.ok(&["branch", "-D", "feat"]);
    assert!(!branches(&sb).contains_key("feat"));
    sb.fails(&["branch", "-d", "feat"], 1);
    // The current branch cannot go, even forced.
    for flag in ["-d", "-D"] {
        let err = sb.fails(&["branch", flag, "main"], 1);
        assert_contains(&err, "current branch");
    }
    assert_eq!(branches(&sb)["main"], (ids[2].clone(), true));

    // Rename the current branch: HEAD follows.
    sb.ok(&["branch", "-m", "trunk"]);
    let list = branches(&sb);
    assert!(!list.contains_key("main"));
    assert_eq!(list["trunk"], (ids[2].clone(), true));
    assert_eq!(sb.status_json()["branch"], "trunk");
    sb.write("data/f", b"after rename\n");
    sb.ok(&["add", "data"]);
    let c = commit_at(&sb, 200, "on trunk");
    assert_eq!(branches(&sb)["trunk"].0, c);
    // Rename another branch; onto an existing name is refused.
    sb.ok(&["branch", "-m", "here", "there"]);
    let list = branches(&sb);
    assert_eq!(list["there"], (ids[2].clone(), false));
    assert!(!list.contains_key("here"));
    let err = sb.fails(&["branch", "-m", "there", "trunk"], 1);
    assert_contains(&err, "already exists");
    assert_eq!(branches(&sb), list);
}

#[test]
fn tags_are_created_listed_deleted_and_never_move() {
    let sb = Sandbox::dvx_only();
    let ids = three_commits(&sb);
    sb.ok(&["tag", "v1", "HEAD~2"]);
    sb.ok(&["tag", "v3"]);
    assert_eq!(
        tags(&sb),
        BTreeMap::from([
            ("v1".to_owned(), ids[0].clone()),
            ("v3".to_owned(), ids[2].clone())
        ])
    );
    assert_eq!(sb.out(&["tag"]), "v1\nv3\n");

    let err = sb.fails(&["tag", "v1", "HEAD"], 1);
    assert_contains(&err, "already exists");
    assert_contains(&err, "--force");
    assert_eq!(tags(&sb)["v1"], ids[0]);

    // New commits move branches, never tags; a commit on a checked-out tag detaches.
    sb.write("data/f", b"v3\n");
    sb.ok(&["add", "data"]);
    let c3 = commit_at(&sb, 100, "c3");
    assert_eq!(tags(&sb)["v3"], ids[2]);
    sb.ok(&["checkout", "v1"]);
    assert_eq!(sb.status_json()["branch"], Value::Null);
    let detached = commit_empty_at(&sb, 110, "on a tag");
    assert_eq!(tags(&sb)["v1"], ids[0]);
    assert_eq!(head(&sb).as_deref(), Some(detached.as_str()));
    assert_eq!(branches(&sb)["main"].0, c3);

    sb.ok(&["tag", "-f", "v1", "main"]);
    assert_eq!(tags(&sb)["v1"], c3);
    sb.ok(&["tag", "-d", "v3"]);
    assert!(!tags(&sb).contains_key("v3"));
    sb.fails(&["show", "v3"], 1);
    let err = sb.fails(&["tag", "-d", "v3"], 1);
    assert_contains(&err, "no tag");
}

// ---------------------------------------------------------------------------------------
// 6. checkout

#[test]
fn checkout_back_and_forth_is_byte_exact() {
    let sb = Sandbox::dvx_only();
    sb.write("data/a.bin", &bytes(1, 100_000));
    sb.write("data/sub/b.txt", b"b\n");
    sb.write("data/sub/deep/c", &bytes(2, 10));
    sb.ok(&["add", "data"]);
    let c1 = commit_at(&sb, 0, "c1");
    let s1 = sb.snapshot("data");

    sb.ok(&["checkout", "-b", "feat"]);
    sb.write("data/a.bin", &bytes(11, 90_000));
    fs::remove_dir_all(sb.path("data/sub/deep")).expect("rm");
    sb.write("data/new/x", b"x\n");
    sb.ok(&["add", "data"]);
    commit_at(&sb, 10, "f1");
    let s2 = sb.snapshot("data");

    sb.ok(&["checkout", "main"]);
    sb.write("data/sub/b.txt", b"b on main\n");
    sb.ok(&["add", "data"]);
    commit_at(&sb, 20, "m1");
    let s3 = sb.snapshot("data");

    for (rev, want, branch) in [
        ("feat", &s2, Some("feat")),
        (c1.as_str(), &s1, None),
        ("main", &s3, Some("main")),
        ("feat", &s2, Some("feat")),
        ("feat~1", &s1, None),
        ("main", &s3, Some("main")),
    ] {
        sb.ok(&["checkout", rev]);
        assert_eq!(&sb.snapshot("data"), want, "after checkout {rev}");
        let st = sb.status_json();
        assert_eq!(st["clean"], true, "clean after checkout {rev}: {st}");
        assert_eq!(st["branch"].as_str(), branch);
    }
    assert!(!sb.exists("data/new"), "directories the target lacks go");
    sb.ok(&["fsck"]);
}

#[test]
fn checkout_writes_only_differing_files_and_never_touches_untracked_ones() {
    let sb = Sandbox::dvx_only();
    sb.write("data/same.bin", &bytes(1, 50_000));
    sb.write("data/changes.txt", b"v1\n");
    sb.write("data/only1/x", b"x\n");
    sb.ok(&["add", "data"]);
    let c1 = commit_at(&sb, 0, "c1");
    sb.write("data/changes.txt", b"v2\n");
    fs::remove_dir_all(sb.path("data/only1")).expect("rm");
    sb.write("data/only2/y", b"y\n");
    sb.ok(&["add", "data"]);
    let c2 = commit_at(&sb, 10, "c2");

    // Untracked files: one in a tracked directory the target removes, one beside data.
    sb.ok(&["checkout", &c1]);
    sb.write("data/only1/untracked", b"mine\n");
    sb.write("data/untracked.txt", b"mine too\n");
    sb.write("notes.txt", b"outside\n");
    let meta = |rel: &str| fs::symlink_metadata(sb.path(rel)).expect("stat");
    let before = meta("data/same.bin");

    sb.ok(&["checkout", &c2]);
    let after = meta("data/same.bin");
    assert_eq!(
        (
            before.ino(),
            before.mtime(),
            before.mtime_nsec(),
            before.ctime(),
            before.ctime_nsec()
        ),
        (
            after.ino(),
            after.mtime(),
            after.mtime_nsec(),
            after.ctime(),
            after.ctime_nsec()
        ),
        "an unchanged file is not rewritten"
    );
    assert_eq!(sb.read("data/changes.txt"), b"v2\n");
    assert_eq!(sb.read("data/only2/y"), b"y\n");
    assert!(
        !sb.exists("data/only1/x"),
        "a tracked file the target lacks is removed"
    );
    assert_eq!(sb.read("data/only1/untracked"), b"mine\n");
    assert_eq!(sb.read("data/untracked.txt"), b"mine too\n");
    assert_eq!(sb.read("notes.txt"), b"outside\n");

    sb.ok(&["checkout", &c1]);
    let back = meta("data/same.bin");
    assert_eq!(
        (back.ino(), back.mtime_nsec()),
        (before.ino(), before.mtime_nsec())
    );
    assert_eq!(sb.read("data/changes.txt"), b"v1\n");
    assert!(!sb.exists("data/only2"));
    assert_eq!(sb.read("data/only1/x"), b"x\n");
    assert_eq!(sb.read("data/only1/untracked"), b"mine\n");
    assert_eq!(sb.read("data/untracked.txt"), b"mine too\n");
    let st = sb.status_json();
    let new: Vec<&str> = st["unstaged"]
        .as_array()
        .expect("unstaged")
        .iter()
        .filter(|c| c["status"] == "new")
        .map(|c| c["path"].as_str().expect("path"))
        .collect();
    assert_eq!(new, ["data/only1/untracked", "data/untracked.txt"]);
}

#[test]
fn checkout_refuses_to_lose_local_changes_unless_forced() {
    let sb = Sandbox::dvx_only();
    sb.write("data/a", b"a1\n");
    sb.write("data/b", b"b1\n");
    sb.write("data/c", b"c\n");
    sb.ok(&["add", "data"]);
    let c1 = commit_at(&sb, 0, "c1");
    sb.write("data/a", b"a2\n");
    sb.write("data/b", b"b2\n");
    sb.ok(&["add", "data"]);
    let c2 = commit_at(&sb, 10, "c2");

    // Unstaged and staged edits to files the checkout would change; an edit to a file
    // it would not change.
    sb.write("data/a", b"edited\n");
    sb.write("data/b", b"staged edit\n");
    sb.ok(&["add", "data/b"]);
    sb.write("data/c", b"c edited\n");
    let snap_before = sb.snapshot("data");
    let status_before = sb.status_json();
    let objs = objects(&sb);
    let err = sb.fails(&["checkout", &c1], 1);
    assert_contains(&err, "data/a");
    assert_contains(&err, "data/b");
    assert!(!err.contains("data/c"), "{err}");
    assert_contains(&err, "--force");
    assert_eq!(sb.snapshot("data"), snap_before);
    assert_eq!(sb.status_json(), status_before);
    assert_eq!(head(&sb).as_deref(), Some(c2.as_str()));
    assert_eq!(objects(&sb), objs);

    // A deleted tracked file loses no bytes (they are in the store): as in git, it does
    // not stop the checkout, which writes the target's version.
    sb.ok(&["checkout", "HEAD", "--", "data"]);
    assert_eq!(sb.status_json()["clean"], true);
    fs::remove_file(sb.path("data/a")).expect("rm");
    sb.ok(&["checkout", &c1]);
    assert_eq!(sb.read("data/a"), b"a1\n");
    sb.ok(&["checkout", &c2]);

    sb.write("data/a", b"edited again\n");
    sb.write("data/b", b"b edited\n");
    sb.write("data/c", b"c edited\n");
    sb.ok(&["checkout", "--force", &c1]);
    // --force discards every local change, as `git checkout -f`: also the edit to a
    // path the two commits agree on.
    assert_eq!(
        sb.snapshot("data"),
        snap(&[("data/a", b"a1\n"), ("data/b", b"b1\n"), ("data/c", b"c\n")])
    );
    assert_eq!(head(&sb).as_deref(), Some(c1.as_str()));
    assert_eq!(sb.status_json()["clean"], true);
}

#[test]
fn checkout_carries_changes_to_paths_the_switch_does_not_touch() {
    let sb = Sandbox::dvx_only();
    sb.write("data/a", b"a1\n");
    sb.write("data/c", b"c\n");
    sb.ok(&["add", "data"]);
    let c1 = commit_at(&sb, 0, "c1");
    sb.write("data/a", b"a2\n");
    sb.ok(&["add", "data"]);
    commit_at(&sb, 10, "c2");
    sb.write("data/c", b"c edited\n");
    sb.ok(&["checkout", &c1]);
    assert_eq!(sb.read("data/a"), b"a1\n");
    assert_eq!(sb.read("data/c"), b"c edited\n");
    let st = sb.status_json();
    assert_eq!(
        st["unstaged"],
        serde_json::json!([{"path": "data/c", "status": "modified"}])
    );
}

#[test]
fn checkout_rev_paths_restores_just_those_paths_and_keeps_head() {
    let sb = Sandbox::dvx_only();
    sb.write("data/a", b"a1\n");
    sb.write("data/b", b"b1\n");
    sb.write("data/dir/x", b"x1\n");
    sb.write("data/dir/y", b"y1\n");
    sb.ok(&["add", "data"]);
    let c1 = commit_at(&sb, 0, "c1");
    sb.write("data/a", b"a2\n");
    sb.write("data/b", b"b2\n");
    sb.write("data/dir/x", b"x2\n");
    fs::remove_file(sb.path("data/dir/y")).expect("rm");
    sb.ok(&["add", "data"]);
    let c2 = commit_at(&sb, 10, "c2");
    let reflog = line_count(&sb, ".dvx/logs/HEAD");

    sb.ok(&["checkout", &c1, "--", "data/a"]);
    assert_eq!(sb.read("data/a"), b"a1\n");
    assert_eq!(sb.read("data/b"), b"b2\n");
    assert_eq!(sb.read("data/dir/x"), b"x2\n");
    assert_eq!(head(&sb).as_deref(), Some(c2.as_str()));
    assert_eq!(sb.status_json()["branch"], "main");
    assert_eq!(line_count(&sb, ".dvx/logs/HEAD"), reflog);
    // As with git, the index takes the restored version.
    assert_eq!(sb.out(&["diff", "--cached"]), "M\tdata/a\n");

    sb.ok(&["checkout", "HEAD~1", "--", "data/dir"]);
    assert_eq!(sb.read("data/dir/x"), b"x1\n");
    assert_eq!(sb.read("data/dir/y"), b"y1\n");
    assert_eq!(sb.read("data/b"), b"b2\n");
    assert_eq!(head(&sb).as_deref(), Some(c2.as_str()));

    // Without a revision: back to the stage; a local edit is discarded.
    sb.write("data/b", b"scribble\n");
    sb.ok(&["checkout", "--", "data/b"]);
    assert_eq!(sb.read("data/b"), b"b2\n");

    let err = sb.fails(&["checkout", &c1, "--", "data/nope"], 1);
    assert_contains(&err, "data/nope");
    assert_eq!(head(&sb).as_deref(), Some(c2.as_str()));
}

/// Regression: with a tag and a branch both named `dup`, `checkout dup` put HEAD on the
/// branch but wrote the tag's files (revisions resolve tags first), leaving the tag's
/// version staged against the branch.
#[test]
fn checkout_prefers_the_branch_when_a_tag_has_the_same_name() {
    let sb = Sandbox::dvx_only();
    let ids = three_commits(&sb);
    sb.ok(&["tag", "dup", &ids[0]]);
    sb.ok(&["branch", "dup", &ids[1]]);
    sb.ok(&["checkout", "dup"]);
    let st = sb.status_json();
    assert_eq!(st["branch"], "dup");
    assert_eq!(st["head"], ids[1].as_str());
    assert_eq!(st["clean"], true, "{st}");
    assert_eq!(sb.read("data/f"), b"v1\n");
    // The tag is still reachable by its full name, and a revision still means the tag.
    sb.ok(&["checkout", "refs/tags/dup"]);
    assert_eq!(sb.read("data/f"), b"v0\n");
    assert_eq!(sb.status_json()["branch"], Value::Null);
    assert_eq!(resolve(&sb, "dup"), ids[0]);
}

#[test]
fn detached_head_is_shown_in_status() {
    let sb = Sandbox::dvx_only();
    let ids = three_commits(&sb);
    sb.ok(&["checkout", &ids[1][..7]]);
    let st = sb.status_json();
    assert_eq!(st["branch"], Value::Null);
    assert_eq!(st["head"], ids[1].as_str());
    assert_eq!(sb.read("data/f"), b"v1\n");
    let text = sb.out(&["status"]);
    assert_contains(&text, &format!("HEAD detached at {}", &ids[1][..10]));
    assert_contains(
        &sb.out(&["branch"]),
        &format!("* (HEAD detached at {}", &ids[1][..10]),
    );
    assert_contains(&sb.out(&["log", "--oneline", "-n", "1"]), "(HEAD)");
    // A commit on a detached HEAD moves HEAD only.
    let c = commit_empty_at(&sb, 100, "detached work");
    assert_eq!(head(&sb).as_deref(), Some(c.as_str()));
    assert_eq!(branches(&sb)["main"].0, ids[2]);
    sb.ok(&["checkout", "main"]);
    assert_eq!(sb.status_json()["branch"], "main");
    assert_eq!(sb.read("data/f"), b"v2\n");
}

/// Regression: `add` after a tracked file `x` was replaced by a directory `x/` kept the
/// entry of the file beside the new `x/y`; the commit then said "nothing to commit" and
/// the index listed `x` both as a file and as a directory.
#[test]
fn file_replaced_by_a_directory_is_committed() {
    let sb = Sandbox::dvx_only();
    sb.write("data/x", b"x as a file\n");
    sb.write("data/k", b"k\n");
    sb.ok(&["add", "data"]);
    commit_at(&sb, 0, "file");
    fs::remove_file(sb.path("data/x")).expect("rm");
    sb.write("data/x/y", b"y below x\n");
    sb.ok(&["add", "data"]);
    let st = sb.status_json();
    assert_eq!(
        st["staged"],
        serde_json::json!([
            {"path": "data/x", "status": "deleted"},
            {"path": "data/x/y", "status": "added"},
        ])
    );
    assert_eq!(st["unstaged"], serde_json::json!([]));
    commit_at(&sb, 10, "directory");
    assert_eq!(
        ls_json(&sb, &["HEAD"]).keys().collect::<Vec<_>>(),
        ["data/k", "data/x/y"]
    );
    assert_eq!(
        ls_json(&sb, &[]).keys().collect::<Vec<_>>(),
        ["data/k", "data/x/y"]
    );
    assert_eq!(
        sb.out(&["diff", "HEAD~1", "HEAD"]),
        "D\tdata/x\nA\tdata/x/y\n"
    );

    // And back: the directory becomes a file again.
    fs::remove_dir_all(sb.path("data/x")).expect("rm -r");
    sb.write("data/x", b"x as a file again\n");
    sb.ok(&["add", "data"]);
    commit_at(&sb, 20, "file again");
    assert_eq!(
        ls_json(&sb, &["HEAD"]).keys().collect::<Vec<_>>(),
        ["data/k", "data/x"]
    );
    assert_eq!(sb.status_json()["clean"], true);
    sb.ok(&["fsck"]);
}

/// Regression: checking out a commit with a file where HEAD has a directory (clean work
/// tree) was refused as "would overwrite local changes", because HEAD's directory was
/// compared with the file; a lazy checkout the other way found the tracked file "in the
/// way" of the directory replacing it.
#[test]
fn checkout_switches_a_path_between_file_and_directory() {
    let sb = Sandbox::dvx_only();
    sb.write("data/x", b"x as a file\n");
    sb.write("data/k", b"k\n");
    sb.ok(&["add", "data"]);
    let file = commit_at(&sb, 0, "file");
    let s_file = sb.snapshot("data");
    fs::remove_file(sb.path("data/x")).expect("rm");
    sb.write("data/x/y", b"y below x\n");
    sb.write("data/x/z/w", b"w\n");
    sb.ok(&["add", "data"]);
    let dir = commit_at(&sb, 10, "directory");
    let s_dir = sb.snapshot("data");

    for lazy in [false, true] {
        for (rev, want) in [(&file, &s_file), (&dir, &s_dir), (&file, &s_file)] {
            let mut args = vec!["checkout"];
            if lazy {
                args.push("--lazy");
            }
            args.push(rev);
            sb.ok(&args);
            assert_eq!(&sb.snapshot("data"), want, "checkout {args:?}");
            let st = sb.status_json();
            assert_eq!(st["clean"], true, "{args:?}: {st}");
            assert_eq!(st["not_fetched"], serde_json::json!([]));
        }
    }

    // Lazily, with the directory's bytes not local: it becomes one not-fetched entry.
    drop_object(&sb, &b3(b"y below x\n"));
    drop_object(&sb, &b3(b"w\n"));
    sb.ok(&["checkout", "--lazy", &dir]);
    assert_eq!(sb.snapshot("data"), snap(&[("data/k", b"k\n")]));
    let st = sb.status_json();
    assert_eq!(st["clean"], true);
    assert_eq!(st["not_fetched"], serde_json::json!(["data/x"]));
    sb.ok(&["checkout", &file]);
    assert_eq!(sb.snapshot("data"), s_file);
    assert_eq!(sb.status_json()["clean"], true);

    // A local edit to the file is still protected.
    sb.write("data/x", b"edited\n");
    let err = sb.fails(&["checkout", &dir], 1);
    assert_contains(&err, "data/x");
    assert_eq!(sb.read("data/x"), b"edited\n");
}

// ---------------------------------------------------------------------------------------
// 7. lazy checkout

#[test]
fn lazy_checkout_writes_only_local_bytes_and_reports_the_rest_as_not_fetched() {
    let sb = Sandbox::dvx_only();
    sb.write("data/keep/a", b"a1\n");
    sb.write("data/big/b1", b"b1 v1\n");
    sb.write("data/big/b2", b"b2\n");
    sb.write("data/top", b"top v1\n");
    sb.ok(&["add", "data"]);
    let c1 = commit_at(&sb, 0, "c1");
    sb.write("data/keep/a", b"a2\n");
    sb.write("data/big/b1", b"b1 v2\n");
    sb.write("data/top", b"top v2\n");
    sb.write("data/newdir/n1", &bytes(9, 4000));
    sb.write("data/newdir/inner/n2", b"n2\n");
    sb.ok(&["add", "data"]);
    let c2 = commit_at(&sb, 10, "c2");
    let full = ls_json(&sb, &[]);

    sb.ok(&["checkout", &c1]);
    // The bytes of these are "not local" from now on.
    for gone in [&b"b1 v2\n"[..], b"top v2\n", &bytes(9, 4000), b"n2\n"] {
        drop_object(&sb, &b3(gone));
    }
    let out = sb.out(&["checkout", "--lazy", "main"]);
    assert_contains(&out, "not fetched");
    assert_eq!(
        sb.snapshot("data"),
        snap(&[("data/big/b2", b"b2\n"), ("data/keep/a", b"a2\n")])
    );
    let st = sb.status_json();
    assert_eq!(st["branch"], "main");
    assert_eq!(st["head"], c2.as_str());
    assert_eq!(st["clean"], true, "{st}");
    assert_eq!(st["unstaged"], serde_json::json!([]));
    assert_eq!(st["staged"], serde_json::json!([]));
    // A directory with nothing local stays one entry.
    assert_eq!(
        st["not_fetched"],
        serde_json::json!(["data/big/b1", "data/newdir", "data/top"])
    );
    let text = sb.out(&["status"]);
    assert!(!text.contains("deleted"), "{text}");

    // ls lists every file, including those inside the unexpanded directory.
    let ls = ls_json(&sb, &[]);
    assert_eq!(
        ls.keys().collect::<Vec<_>>(),
        full.keys().collect::<Vec<_>>()
    );
    for (path, e) in &ls {
        assert_eq!(e["id"], full[path]["id"], "{path}");
        assert_eq!(e["size"], full[path]["size"], "{path}");
        let local = ![
            "data/big/b1",
            "data/top",
            "data/newdir/n1",
            "data/newdir/inner/n2",
        ]
        .contains(&path.as_str());
        assert_eq!(e["local"], local, "{path}");
    }
    assert_eq!(ls_json(&sb, &["data/newdir"]).len(), 2);
    assert!(
        sb.out(&["ls"])
            .lines()
            .any(|l| l.contains("data/newdir/inner/n2") && l.ends_with("(not fetched)"))
    );

    // Reading bytes that are not local fails clearly; a content diff says so.
    let err = sb.fails(&["cat", "data/top"], 1);
    assert_contains(&err, "not in the local store");
    assert_contains(&err, "hint:");
    let err = sb.fails(&["cat", "--rev", "main", "data/newdir/n1"], 1);
    assert_contains(&err, "data/newdir/n1");
    let out = sb.out(&["diff", "--content", &c1, "HEAD", "--", "data/top"]);
    assert_contains(&out, "bytes not local");

    // add, diff and commit treat not-fetched paths as unchanged.
    assert_eq!(sb.out(&["diff"]), "");
    assert_eq!(sb.out(&["diff", "--cached"]), "");
    assert_eq!(sb.out(&["diff", "HEAD"]), "");
    sb.ok(&["add", "data"]);
    assert_eq!(sb.status_json()["not_fetched"], st["not_fetched"]);
    let err = sb.fails(&["commit", "-m", "nothing"], 1);
    assert_contains(&err, "nothing to commit");
    sb.write("data/keep/a", b"a3\n");
    sb.ok(&["add", "data"]);
    assert_eq!(sb.out(&["diff", "--cached"]), "M\tdata/keep/a\n");
    commit_at(&sb, 20, "c3");
    assert_eq!(sb.out(&["diff", "HEAD~1", "HEAD"]), "M\tdata/keep/a\n");
    let after = ls_json(&sb, &["HEAD"]);
    for path in [
        "data/big/b1",
        "data/top",
        "data/newdir/n1",
        "data/newdir/inner/n2",
    ] {
        assert_eq!(
            after[path]["id"], full[path]["id"],
            "{path} kept in the new commit"
        );
    }
    assert_eq!(sb.status_json()["not_fetched"], st["not_fetched"]);
    // With no remote to fetch them from, the absent bytes are lost data, and fsck says
    // so, naming each with its paths.
    let fsck_missing = |sb: &Sandbox| {
        let out = sb.dvx().args(["fsck", "--json"]).output().expect("run");
        assert_eq!(out.status.code(), Some(1));
        let json: Value = serde_json::from_slice(&out.stdout).expect("json");
        let mut missing: Vec<(String, String)> = json["missing"]
            .as_array()
            .expect("list")
            .iter()
            .map(|m| {
                (
                    m["id"].as_str().expect("id").to_owned(),
                    m["paths"].to_string(),
                )
            })
            .collect();
        missing.sort();
        missing
    };
    let mut expected: Vec<(String, String)> = [
        (&b"b1 v2\n"[..], "data/big/b1"),
        (b"top v2\n", "data/top"),
        (&bytes(9, 4000), "data/newdir/n1"),
        (b"n2\n", "data/newdir/inner/n2"),
    ]
    .iter()
    .map(|(content, path)| (b3(content), serde_json::json!([path]).to_string()))
    .collect();
    expected.sort();
    assert_eq!(fsck_missing(&sb), expected);
    // gc copes with absent blobs and keeps everything reachable.
    let before = objects(&sb);
    let far = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 30 * 86_400;
    sb.dvx()
        .env("DVX_DATE", format!("{far} +0000"))
        .arg("gc")
        .assert()
        .success();
    assert_eq!(objects(&sb), before);
    assert_eq!(fsck_missing(&sb), expected);
}

#[test]
fn lazy_checkout_with_every_byte_local_is_a_full_checkout() {
    let sb = Sandbox::dvx_only();
    sb.write("data/a", b"a1\n");
    sb.ok(&["add", "data"]);
    let c1 = commit_at(&sb, 0, "c1");
    sb.write("data/a", b"a2\n");
    sb.write("data/d/b", b"b\n");
    sb.ok(&["add", "data"]);
    commit_at(&sb, 10, "c2");
    let s2 = sb.snapshot("data");
    sb.ok(&["checkout", "--lazy", &c1]);
    assert_eq!(sb.snapshot("data"), snap(&[("data/a", b"a1\n")]));
    sb.ok(&["checkout", "--lazy", "main"]);
    assert_eq!(sb.snapshot("data"), s2);
    let st = sb.status_json();
    assert_eq!(st["not_fetched"], serde_json::json!([]));
    assert_eq!(st["clean"], true);
}

// ---------------------------------------------------------------------------------------
// 10. a property test against a model

/// Some of these are files in one state and directories in another (`data/sub`,
/// `data/a`), so histories switch paths between the two.
const FILES: [&str; 8] = [
    "data/a",
    "data/b.bin",
    "data/sub/c",
    "data/sub/d",
    "data/sub/deep/e",
    "data/other/f",
    "data/sub",
    "data/a/z",
];
const BRANCHES: [&str; 3] = ["main", "b1", "b2"];

#[derive(Debug, Clone)]
enum Op {
    Write(usize, u64, usize),
    Remove(usize),
    Commit,
    Branch(usize),
    Checkout(usize),
    CheckoutOld(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..FILES.len(), any::<u64>(), 0usize..3000).prop_map(|(f, s, n)| Op::Write(f, s, n)),
        1 => (0..FILES.len()).prop_map(Op::Remove),
        2 => Just(Op::Commit),
        1 => (1..BRANCHES.len()).prop_map(Op::Branch),
        2 => (0..BRANCHES.len()).prop_map(Op::Checkout),
        1 => any::<usize>().prop_map(Op::CheckoutOld),
    ]
}

type Files = BTreeMap<String, Vec<u8>>;

/// What the repository should hold.
struct Model {
    /// Every commit's files, with its id.
    commits: Vec<(String, Files)>,
    branches: BTreeMap<String, usize>,
    /// The branch HEAD is on, or `None` when detached at `head`.
    on: Option<String>,
    head: usize,
    work: Files,
}

impl Model {
    fn snapshot(files: &Files) -> Snapshot {
        files.iter().map(|(p, b)| (p.clone(), b.clone())).collect()
    }
}

/// A snapshot as (path, length, BLAKE3): equal exactly when the bytes are, and short to
/// print when a case fails.
fn digest(s: &Snapshot) -> Vec<(String, usize, String)> {
    s.iter().map(|(p, b)| (p.clone(), b.len(), b3(b))).collect()
}

fn run_ops(ops: &[Op]) -> Result<(), TestCaseError> {
    let sb = Sandbox::dvx_only();
    // A file that is always there, so `add data` always has something to walk.
    sb.write("data/anchor", b"anchor\n");
    sb.ok(&["add", "data"]);
    let first = commit_at(&sb, 0, "start");
    let mut work = Files::new();
    work.insert("data/anchor".into(), b"anchor\n".to_vec());
    let mut m = Model {
        commits: vec![(first, work.clone())],
        branches: BTreeMap::from([("main".to_owned(), 0)]),
        on: Some("main".into()),
        head: 0,
        work,
    };
    let mut clock = 1;
    for op in ops {
        clock += 1;
        match op {
            Op::Write(f, seed, len) => {
                let path = FILES[*f];
                // Like a user would: whatever is in the way goes first (a directory at
                // the path, or a file where one of its parent directories must be).
                let abs = sb.path(path);
                if abs.is_dir() {
                    fs::remove_dir_all(&abs).expect("rm -r");
                }
                let below = format!("{path}/");
                m.work.retain(|p, _| !p.starts_with(&below));
                for (i, _) in path.match_indices('/') {
                    let parent = &path[..i];
                    if m.work.remove(parent).is_some() {
                        fs::remove_file(sb.path(parent)).expect("rm");
                    }
                }
                let data = bytes(*seed, *len);
                sb.write(path, &data);
                m.work.insert(path.to_owned(), data);
            }
            Op::Remove(f) => {
                if m.work.remove(FILES[*f]).is_some() {
                    fs::remove_file(sb.path(FILES[*f])).expect("rm");
                }
            }
            Op::Commit => commit_model(&sb, &mut m, clock)?,
            Op::Branch(b) => {
                let name = BRANCHES[*b];
                if m.branches.contains_key(name) {
                    sb.fails(&["branch", name], 1);
                } else {
                    sb.ok(&["branch", name]);
                    m.branches.insert(name.to_owned(), m.head);
                }
            }
            Op::Checkout(b) => {
                let name = BRANCHES[*b];
                if !m.branches.contains_key(name) {
                    sb.fails(&["checkout", name], 1);
                    continue;
                }
                commit_model(&sb, &mut m, clock)?;
                let target = m.branches[name];
                sb.ok(&["checkout", name]);
                m.on = Some(name.to_owned());
                m.head = target;
                m.work = m.commits[target].1.clone();
                check(&sb, &m)?;
            }
            Op::CheckoutOld(k) => {
                commit_model(&sb, &mut m, clock)?;
                let target = k % m.commits.len();
                let id = m.commits[target].0.clone();
                sb.ok(&["checkout", &id]);
                m.on = None;
                m.head = target;
                m.work = m.commits[target].1.clone();
                check(&sb, &m)?;
            }
        }
    }
    commit_model(&sb, &mut m, clock + 1)?;
    // Every commit still checks out exactly.
    for (id, files) in m.commits.clone() {
        sb.ok(&["checkout", &id]);
        prop_assert_eq!(
            digest(&sb.snapshot("data")),
            digest(&Model::snapshot(&files))
        );
    }
    for (name, &c) in &m.branches {
        prop_assert_eq!(resolve(&sb, name), m.commits[c].0.clone());
    }
    Ok(())
}

/// `add data` and commit; a commit with nothing changed must be refused.
fn commit_model(sb: &Sandbox, m: &mut Model, clock: i64) -> Result<(), TestCaseError> {
    sb.ok(&["add", "data"]);
    if m.work == m.commits[m.head].1 {
        sb.fails(&["commit", "-m", "nothing"], 1);
        prop_assert_eq!(head(sb), Some(m.commits[m.head].0.clone()));
        return Ok(());
    }
    let id = commit_at(sb, clock, &format!("at {clock}"));
    m.commits.push((id, m.work.clone()));
    m.head = m.commits.len() - 1;
    if let Some(b) = &m.on {
        m.branches.insert(b.clone(), m.head);
    }
    prop_assert_eq!(log_ids(sb, &["-n", "1"]), vec![m.commits[m.head].0.clone()]);
    Ok(())
}

fn check(sb: &Sandbox, m: &Model) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        digest(&sb.snapshot("data")),
        digest(&Model::snapshot(&m.work))
    );
    let st = sb.status_json();
    prop_assert_eq!(&st["clean"], &Value::Bool(true));
    prop_assert_eq!(st["head"].as_str(), Some(m.commits[m.head].0.as_str()));
    prop_assert_eq!(st["branch"].as_str(), m.on.as_deref());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn random_histories_check_out_exactly_like_the_model(
        ops in proptest::collection::vec(op(), 1..25)
    ) {
        run_ops(&ops)?;
    }
}
