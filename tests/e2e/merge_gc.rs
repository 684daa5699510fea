//! merge (fast-forward, three-way, conflicts, strategies), gc (roots, age, grace, dry
//! run) and damaged objects, through the real binary.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use dvx::object::{Encode, EntryKind, Tree};
use serde_json::Value;

use crate::harness::*;
use crate::history::{commit_at, head, log_ids, log_json, ls_json, objects, out_at, resolve};

// ---------------------------------------------------------------------------------------
// merge

#[test]
fn merge_fast_forwards_without_a_merge_commit() {
    let sb = Sandbox::dvx_only();
    sb.write("data/a", b"a\n");
    sb.ok(&["add", "data"]);
    let base = commit_at(&sb, 0, "base");
    sb.ok(&["checkout", "-b", "feat"]);
    sb.write("data/a", b"a on feat\n");
    sb.write("data/new/b", &bytes(1, 3000));
    sb.ok(&["add", "data"]);
    let f1 = commit_at(&sb, 10, "f1");
    sb.write("data/c", b"c\n");
    sb.ok(&["add", "data"]);
    let f2 = commit_at(&sb, 20, "f2");
    let feat = sb.snapshot("data");
    sb.ok(&["checkout", "main"]);
    assert_eq!(sb.snapshot("data"), snap(&[("data/a", b"a\n")]));

    let out = out_at(&sb, 30, &["merge", "feat"]);
    assert_contains(&out, "Fast-forward");
    assert_eq!(log_ids(&sb, &[]), [f2.clone(), f1, base]);
    assert_eq!(head(&sb).as_deref(), Some(f2.as_str()));
    assert_eq!(resolve(&sb, "main"), f2);
    assert_eq!(sb.snapshot("data"), feat);
    let st = sb.status_json();
    assert_eq!(st["branch"], "main");
    assert_eq!(st["clean"], true);
    // The branch's reflog records the move.
    let reflog = fs::read_to_string(sb.path(".dvx/logs/refs/heads/main")).expect("reflog");
    assert_contains(reflog.lines().last().expect("line"), "fast-forward");
}

/// base: data/a, data/b, data/c, data/d, data/sub/x, data/sub/y.
fn merge_base_commit(sb: &Sandbox) -> String {
    sb.write("data/a", b"a\n");
    sb.write("data/b", b"b\n");
    sb.write("data/c", b"c\n");
    sb.write("data/d", b"d\n");
    sb.write("data/sub/x", b"x\n");
    sb.write("data/sub/y", b"y\n");
    sb.ok(&["add", "data"]);
    commit_at(sb, 0, "base")
}

#[test]
fn merge_of_different_files_makes_a_merge_commit() {
    let sb = Sandbox::dvx_only();
    merge_base_commit(&sb);
    sb.ok(&["checkout", "-b", "feat"]);
    sb.write("data/b", b"b on feat\n");
    sb.write("data/e", b"e, new on feat\n");
    sb.write("data/d", b"d changed the same way\n");
    sb.write("data/sub/y", b"y on feat\n");
    sb.ok(&["add", "data"]);
    let theirs = commit_at(&sb, 10, "feat work");
    sb.ok(&["checkout", "main"]);
    sb.write("data/a", b"a on main\n");
    fs::remove_file(sb.path("data/c")).expect("rm");
    sb.write("data/d", b"d changed the same way\n");
    sb.write("data/sub/x", b"x on main\n");
    sb.ok(&["add", "data"]);
    let ours = commit_at(&sb, 20, "main work");

    let out = out_at(&sb, 30, &["merge", "feat"]);
    assert_contains(&out, "Merged as");
    let merged = head(&sb).expect("head");
    assert_ne!(merged, ours);
    let log = log_json(&sb, &["-n", "1"]);
    assert_eq!(log[0]["parents"], serde_json::json!([ours, theirs]));
    assert_eq!(log[0]["message"], "Merge feat into main\n");
    assert_eq!(log[0]["time"], 1_700_000_030);
    let want = snap(&[
        ("data/a", b"a on main\n"),
        ("data/b", b"b on feat\n"),
        ("data/d", b"d changed the same way\n"),
        ("data/e", b"e, new on feat\n"),
        ("data/sub/x", b"x on main\n"),
        ("data/sub/y", b"y on feat\n"),
    ]);
    assert_eq!(sb.snapshot("data"), want);
    let st = sb.status_json();
    assert_eq!(st["clean"], true);
    assert_eq!(st["branch"], "main");
    assert_eq!(
        resolve(&sb, "feat"),
        theirs,
        "the merged branch does not move"
    );
    assert_eq!(resolve(&sb, "HEAD^2"), theirs);
    // The merge commit's tree is what was written.
    sb.ok(&["checkout", "feat"]);
    sb.ok(&["checkout", "main"]);
    assert_eq!(sb.snapshot("data"), want);
    // Merging again, or merging an ancestor, changes nothing.
    for rev in ["feat", "HEAD~1", "main"] {
        let out = out_at(&sb, 40, &["merge", rev]);
        assert_contains(&out, "Already up to date");
        assert_eq!(head(&sb).as_deref(), Some(merged.as_str()));
    }
    sb.ok(&["fsck"]);
}

/// Two branches from the base that change data/a, data/sub/x and data/d (deleted on
/// main, modified on feat) differently; feat also changes data/b, main data/c.
fn conflicting_branches(sb: &Sandbox) -> (String, String) {
    merge_base_commit(sb);
    sb.ok(&["checkout", "-b", "feat"]);
    sb.write("data/a", b"a by feat\n");
    sb.write("data/sub/x", b"x by feat\n");
    sb.write("data/d", b"d by feat\n");
    sb.write("data/b", b"b by feat\n");
    sb.ok(&["add", "data"]);
    let theirs = commit_at(sb, 10, "feat");
    sb.ok(&["checkout", "main"]);
    sb.write("data/a", b"a by main\n");
    sb.write("data/sub/x", b"x by main\n");
    fs::remove_file(sb.path("data/d")).expect("rm");
    sb.write("data/c", b"c by main\n");
    sb.ok(&["add", "data"]);
    let ours = commit_at(sb, 20, "main");
    (ours, theirs)
}

#[test]
fn merge_conflict_is_refused_and_changes_nothing() {
    let sb = Sandbox::dvx_only();
    let (ours, _theirs) = conflicting_branches(&sb);
    let snap_before = sb.snapshot("data");
    let log_before = sb.out(&["log", "--json"]);
    let objects_before = objects(&sb);
    let status_before = sb.status_json();
    let reflog_before = fs::read(sb.path(".dvx/logs/refs/heads/main")).expect("reflog");

    let err = sb.fails(&["merge", "feat"], 1);
    assert_contains(&err, "3 path(s)");
    for path in ["data/a", "data/d", "data/sub/x"] {
        assert_contains(&err, path);
    }
    assert!(!err.contains("data/b"), "{err}");
    assert!(!err.contains("data/c"), "{err}");
    assert_contains(&err, "--strategy");

    assert_eq!(sb.snapshot("data"), snap_before);
    assert_eq!(sb.out(&["log", "--json"]), log_before);
    assert_eq!(
        objects(&sb),
        objects_before,
        "a refused merge writes no objects"
    );
    assert_eq!(sb.status_json(), status_before);
    assert_eq!(head(&sb).as_deref(), Some(ours.as_str()));
    assert_eq!(
        fs::read(sb.path(".dvx/logs/refs/heads/main")).expect("reflog"),
        reflog_before
    );
    assert!(!sb.exists(".dvx/CHECKOUT"));
}

#[test]
fn merge_strategy_ours_or_theirs_resolves_every_conflict() {
    let sb = Sandbox::dvx_only();
    let (ours, theirs) = conflicting_branches(&sb);
    sb.ok(&["branch", "main2"]);

    let out = out_at(&sb, 30, &["merge", "feat", "--strategy", "ours"]);
    assert_contains(&out, "resolved 3 conflicts");
    let log = log_json(&sb, &["-n", "1"]);
    assert_eq!(log[0]["parents"], serde_json::json!([ours, theirs]));
    assert_eq!(
        sb.snapshot("data"),
        snap(&[
            ("data/a", b"a by main\n"),
            ("data/b", b"b by feat\n"),
            ("data/c", b"c by main\n"),
            ("data/sub/x", b"x by main\n"),
            ("data/sub/y", b"y\n"),
        ])
    );
    assert_eq!(sb.status_json()["clean"], true);

    sb.ok(&["checkout", "main2"]);
    let out = out_at(&sb, 40, &["merge", "feat", "--strategy", "theirs"]);
    assert_contains(&out, "resolved 3 conflicts");
    assert_eq!(
        log_json(&sb, &["-n", "1"])[0]["parents"],
        serde_json::json!([ours, theirs])
    );
    assert_eq!(
        sb.snapshot("data"),
        snap(&[
            ("data/a", b"a by feat\n"),
            ("data/b", b"b by feat\n"),
            ("data/c", b"c by main\n"),
            ("data/d", b"d by feat\n"),
            ("data/sub/x", b"x by feat\n"),
            ("data/sub/y", b"y\n"),
        ])
    );
    assert_eq!(sb.status_json()["clean"], true);
    assert_eq!(resolve(&sb, "main2^2"), theirs);
    sb.ok(&["fsck"]);
}

#[test]
fn merge_refuses_to_overwrite_local_changes() {
    let sb = Sandbox::dvx_only();
    merge_base_commit(&sb);
    sb.ok(&["checkout", "-b", "feat"]);
    sb.write("data/b", b"b on feat\n");
    sb.ok(&["add", "data"]);
    commit_at(&sb, 10, "feat");
    sb.ok(&["checkout", "main"]);
    sb.write("data/a", b"a on main\n");
    sb.ok(&["add", "data"]);
    let ours = commit_at(&sb, 20, "main");
    sb.write("data/b", b"my unsaved edit\n");
    let err = sb.fails(&["merge", "feat"], 1);
    assert_contains(&err, "data/b");
    assert_eq!(sb.read("data/b"), b"my unsaved edit\n");
    assert_eq!(head(&sb).as_deref(), Some(ours.as_str()));
    assert_eq!(log_ids(&sb, &[]).len(), 2);
}

// ---------------------------------------------------------------------------------------
// gc

const DAY: i64 = 86_400;

fn date(secs: i64) -> String {
    format!("{secs} +0000")
}

/// Run dvx at an absolute clock; assert success; return stdout.
fn out_on(sb: &Sandbox, secs: i64, args: &[&str]) -> String {
    sb.out_dated(&date(secs), args)
}

/// `gc --json` at an absolute clock, parsed.
fn gc_at(sb: &Sandbox, secs: i64, extra: &[&str]) -> Value {
    let mut args = vec!["gc", "--json"];
    args.extend_from_slice(extra);
    serde_json::from_str(&out_on(sb, secs, &args)).expect("gc --json is JSON")
}

fn removed(report: &Value) -> BTreeSet<String> {
    report["removed"]
        .as_array()
        .expect("removed")
        .iter()
        .map(|v| v.as_str().expect("id").to_owned())
        .collect()
}

/// The tree ids of a commit: its root tree and every directory below (decoded with the
/// library, since the CLI names only the root).
fn trees_of(sb: &Sandbox, commit: &str) -> BTreeSet<String> {
    let root = log_json(sb, &["-n", "1", commit])[0]["tree"]
        .as_str()
        .expect("tree")
        .to_owned();
    let mut out = BTreeSet::new();
    let mut stack = vec![root];
    while let Some(id) = stack.pop() {
        let bytes = fs::read(object_path(&sb.root, &id)).expect("tree object");
        let tree = Tree::decode(&bytes).expect("valid tree");
        for e in &tree.entries {
            if e.kind == EntryKind::Dir {
                stack.push(e.id.to_hex());
            }
        }
        out.insert(id);
    }
    out
}

/// Check out each commit and record its data directory.
fn snapshots_of(sb: &Sandbox, commits: &[String]) -> BTreeMap<String, Snapshot> {
    commits
        .iter()
        .map(|c| {
            sb.ok(&["checkout", "--force", c]);
            (c.clone(), sb.snapshot("data"))
        })
        .collect()
}

/// A repository with one commit or object behind each kind of gc root, and some garbage.
struct GcScene {
    sb: Sandbox,
    /// Reachable from main, a kept branch, a tag, a detached HEAD.
    main: String,
    keep: String,
    tagged: String,
    detached: String,
    /// Staged but not committed.
    staged_blob: String,
    /// Reachable only from reflogs written at `recent_time` (a deleted branch's).
    recent: String,
    /// Unreachable, with old reflogs: junk (a deleted branch) and an orphaned blob.
    junk: String,
    orphan_blob: String,
    /// The clock of the recent reflog entries.
    recent_time: i64,
    /// Objects that belong to `junk` and `recent` alone.
    junk_objects: BTreeSet<String>,
    recent_objects: BTreeSet<String>,
}

fn gc_scene() -> GcScene {
    let sb = Sandbox::dvx_only();
    let recent_time = now() + 20 * DAY;
    sb.write("data/base", b"base\n");
    sb.ok(&["add", "data"]);
    let main = commit_at(&sb, 0, "main");

    sb.ok(&["checkout", "-b", "keep"]);
    sb.write("data/keep", b"only on keep\n");
    sb.ok(&["add", "data"]);
    let keep = commit_at(&sb, 10, "keep");

    sb.ok(&["checkout", "-b", "junk", "main"]);
    sb.write("data/junk/j", b"only on junk\n");
    sb.ok(&["add", "data"]);
    let junk = commit_at(&sb, 20, "junk");
    let mut junk_objects = trees_of(&sb, &junk);
    junk_objects.insert(junk.clone());
    junk_objects.insert(b3(b"only on junk\n"));
    sb.ok(&["checkout", "main"]);
    sb.ok(&["branch", "-D", "junk"]);

    // A branch made and deleted "recently" (20 days from now): its reflog keeps it.
    out_on(&sb, recent_time, &["checkout", "-b", "recent"]);
    sb.write("data/recent/r", b"only on recent\n");
    sb.ok(&["add", "data"]);
    let recent = {
        let out = out_on(&sb, recent_time, &["commit", "--json", "-m", "recent"]);
        let v: Value = serde_json::from_str(&out).expect("json");
        v["id"].as_str().expect("id").to_owned()
    };
    let mut recent_objects = trees_of(&sb, &recent);
    recent_objects.insert(recent.clone());
    recent_objects.insert(b3(b"only on recent\n"));
    out_on(&sb, recent_time, &["checkout", "main"]);
    out_on(&sb, recent_time, &["branch", "-D", "recent"]);

    // A tagged commit, then a commit only a detached HEAD names.
    sb.ok(&["checkout", &main]);
    sb.write("data/tagged", b"only on the tag\n");
    sb.ok(&["add", "data"]);
    let tagged = commit_at(&sb, 30, "tagged");
    sb.ok(&["tag", "v1"]);
    sb.write("data/detached", b"only on the detached HEAD\n");
    sb.ok(&["add", "data"]);
    let detached = commit_at(&sb, 40, "detached");

    // An orphaned blob (staged, then replaced) and a staged one.
    sb.write("data/staged", b"first version, orphaned\n");
    sb.ok(&["add", "data"]);
    sb.write("data/staged", b"second version, staged\n");
    sb.ok(&["add", "data"]);
    assert_eq!(sb.status_json()["branch"], Value::Null);

    GcScene {
        sb,
        main,
        keep,
        tagged,
        detached,
        staged_blob: b3(b"second version, staged\n"),
        recent,
        junk,
        orphan_blob: b3(b"first version, orphaned\n"),
        recent_time,
        junk_objects,
        recent_objects,
    }
}

#[test]
fn gc_deletes_only_old_unreachable_objects_and_keeps_every_root() {
    let s = gc_scene();
    let sb = &s.sb;
    let later = now() + 30 * DAY;
    let all = objects(sb);
    let mut garbage = s.junk_objects.clone();
    garbage.insert(s.orphan_blob.clone());
    assert!(garbage.is_subset(&all));
    assert_eq!(
        garbage.len(),
        6,
        "junk: commit, 3 trees, blob; plus the orphan"
    );

    // Objects younger than two hours stay. At the harness's clock (2023, before the
    // objects' mtimes) the junk branch's reflog is still fresh, so only the orphan is
    // unreachable; an hour from now the reflog has expired but the objects are young.
    for (clock, young) in [(1_700_000_000, 1), (now() + 3600, garbage.len())] {
        let report = gc_at(sb, clock, &[]);
        assert_eq!(report["removed"], serde_json::json!([]));
        assert_eq!(report["kept_young"], young);
        assert_eq!(objects(sb), all);
    }

    // A dry run reports what would go and deletes nothing.
    let report = gc_at(sb, later, &["--dry-run"]);
    assert_eq!(report["dry_run"], true);
    assert_eq!(removed(&report), garbage);
    assert_eq!(objects(sb), all);
    let text = out_on(sb, later, &["gc", "--dry-run"]);
    assert_contains(&text, &format!("would remove {}", s.junk));
    assert_contains(&text, "would free 6 objects");
    assert_eq!(objects(sb), all);

    let report = gc_at(sb, later, &[]);
    assert_eq!(removed(&report), garbage);
    assert_eq!(report["reachable"], all.len() - garbage.len());
    let left = objects(sb);
    assert_eq!(
        left,
        all.difference(&garbage).cloned().collect::<BTreeSet<_>>()
    );
    for kept in [
        &s.main,
        &s.keep,
        &s.tagged,
        &s.detached,
        &s.staged_blob,
        &s.recent,
    ] {
        assert!(left.contains(kept), "{kept} must survive gc");
    }
    assert!(s.recent_objects.is_subset(&left));
    // Idempotent.
    assert_eq!(gc_at(sb, later, &[])["removed"], serde_json::json!([]));
    sb.ok(&["fsck"]);
    assert_eq!(sb.status_json()["staged"][0]["path"], "data/staged");
}

#[test]
fn gc_keeps_deleted_branches_until_their_reflog_expires() {
    let s = gc_scene();
    let sb = &s.sb;
    let all = objects(sb);
    // Ten days after the recent reflog entries: inside the default 14-day grace, and
    // inside a 12-day one; outside a 5-day one.
    let later = s.recent_time + 10 * DAY;
    let report = gc_at(sb, later, &["--grace", "12"]);
    let mut old_garbage = s.junk_objects.clone();
    old_garbage.insert(s.orphan_blob.clone());
    assert_eq!(removed(&report), old_garbage);
    assert!(s.recent_objects.is_subset(&objects(sb)));
    let report = gc_at(sb, later, &["--grace", "5", "--dry-run"]);
    assert!(s.recent_objects.is_subset(&removed(&report)));
    let report = gc_at(sb, later, &["--grace", "5"]);
    assert_eq!(removed(&report), s.recent_objects);
    let left = objects(sb);
    assert!(left.is_disjoint(&s.recent_objects));
    for kept in [&s.main, &s.keep, &s.tagged, &s.detached, &s.staged_blob] {
        assert!(left.contains(kept));
    }
    assert!(all.is_superset(&left));
    sb.ok(&["fsck"]);
    let err = sb.fails(&["checkout", &s.recent], 1);
    assert_contains(&err, &s.recent[..4]);
}

#[test]
fn after_gc_fsck_passes_and_every_commit_checks_out_byte_identically() {
    let s = gc_scene();
    let sb = &s.sb;
    // Commit what is staged, so the check-outs below lose nothing.
    let last = commit_at(sb, 50, "staged");
    let mut commits: BTreeSet<String> = BTreeSet::new();
    for start in ["main", "keep", "v1", &last] {
        commits.extend(log_ids(sb, &[start]));
    }
    commits.insert(s.recent.clone());
    let commits: Vec<String> = commits.into_iter().collect();
    let before = snapshots_of(sb, &commits);
    sb.ok(&["checkout", &last]);

    gc_at(sb, now() + 30 * DAY, &[]);
    sb.ok(&["fsck"]);
    let fsck: Value = serde_json::from_str(&sb.out(&["fsck", "--json"])).expect("json");
    assert_eq!(fsck["ok"], true);
    assert_eq!(snapshots_of(sb, &commits), before);
    assert!(!objects(sb).contains(&s.junk));
}

#[test]
fn gc_keeps_data_pinned_by_git_history() {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/a", b"a\n");
    sb.ok(&["add", "data"]);
    commit_at(&sb, 0, "c0");
    sb.ok(&["checkout", "-b", "pinned"]);
    sb.write("data/p", b"pinned by git\n");
    sb.ok(&["add", "data"]);
    let pinned = commit_at(&sb, 10, "pinned");
    sb.git(&["add", "dvx.lock", ".gitignore"]);
    sb.git(&["commit", "-q", "-m", "pin the data"]);
    sb.ok(&["checkout", "main"]);
    sb.ok(&["branch", "-D", "pinned"]);
    // A branch nothing pins, deleted the same way, as a control.
    sb.ok(&["checkout", "-b", "loose"]);
    sb.write("data/l", b"pinned by nothing\n");
    sb.ok(&["add", "data"]);
    let loose = commit_at(&sb, 20, "loose");
    sb.ok(&["checkout", "main"]);
    sb.ok(&["branch", "-D", "loose"]);
    sb.write("data/b", b"b\n");
    sb.ok(&["add", "data"]);
    commit_at(&sb, 30, "c1");

    let report = gc_at(&sb, now() + 30 * DAY, &[]);
    let gone = removed(&report);
    assert!(gone.contains(&loose));
    assert!(gone.contains(&b3(b"pinned by nothing\n")));
    let left = objects(&sb);
    assert!(left.contains(&pinned));
    assert!(left.contains(&b3(b"pinned by git\n")));
    sb.ok(&["fsck"]);
    sb.ok(&["checkout", &pinned]);
    assert_eq!(sb.read("data/p"), b"pinned by git\n");
}

// ---------------------------------------------------------------------------------------
// damaged objects

/// Overwrite an object's bytes (objects are read-only; the rename replaces the file).
fn clobber(sb: &Sandbox, id: &str, bytes: &[u8]) {
    dvx::atomic::write(&object_path(&sb.root, id), bytes).expect("overwrite object");
}

#[test]
fn a_corrupt_tree_fails_the_commands_that_read_it_naming_its_id() {
    let sb = Sandbox::dvx_only();
    sb.write("data/a", b"a1\n");
    sb.write("data/sub/b", b"b\n");
    sb.ok(&["add", "data"]);
    let c1 = commit_at(&sb, 0, "c1");
    sb.write("data/a", b"a2\n");
    sb.ok(&["add", "data"]);
    let c2 = commit_at(&sb, 10, "c2");
    let tree = log_json(&sb, &["-n", "1", &c1])[0]["tree"]
        .as_str()
        .expect("tree")
        .to_owned();
    clobber(&sb, &tree, b"not a tree at all");
    let data = sb.snapshot("data");
    let objs = objects(&sb);

    for args in [
        &["ls", &c1][..],
        &["ls", &c1, "data/sub"],
        &["cat", "--rev", &c1, "data/a"],
        &["diff", &c1, &c2],
        &["diff", &c1],
        &["show", &c2],
        &["show", &c1],
        &["log", "--", "data/a"],
        &["checkout", &c1],
        &["checkout", &c1, "--", "data/a"],
        &["gc"],
    ] {
        let err = sb.fails(args, 1);
        assert_contains(&err, &tree);
        assert_contains(&err, "hint:");
    }
    // Nothing was changed by the failures.
    assert_eq!(sb.snapshot("data"), data);
    assert_eq!(head(&sb).as_deref(), Some(c2.as_str()));
    assert_eq!(objects(&sb), objs);
    // Commands that do not need it still work.
    sb.ok(&["log", "--oneline"]);
    sb.ok(&["status"]);
    assert_eq!(ls_json(&sb, &[]).len(), 2);
    // fsck names it, twice: bad bytes, and needed by c1.
    let out = sb.dvx().arg("fsck").output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_contains(&stdout, &format!("corrupt object {tree}"));
    assert_contains(&stdout, &format!("missing tree {tree}"));
    let fsck: Value = serde_json::from_str(
        &String::from_utf8(
            sb.dvx()
                .args(["fsck", "--json"])
                .output()
                .expect("run")
                .stdout,
        )
        .expect("utf-8"),
    )
    .expect("json");
    assert_eq!(fsck["ok"], false);
    assert_eq!(fsck["corrupt"][0]["id"], tree.as_str());
}

#[test]
fn a_corrupt_shared_subtree_is_reported_not_panicked_on() {
    let sb = Sandbox::dvx_only();
    sb.write("data/a", b"a1\n");
    sb.write("data/sub/b", b"b\n");
    sb.ok(&["add", "data"]);
    commit_at(&sb, 0, "c1");
    let sub = trees_of(&sb, "HEAD")
        .into_iter()
        .find(|t| {
            let bytes = fs::read(object_path(&sb.root, t)).expect("tree");
            let tree = Tree::decode(&bytes).expect("valid");
            tree.entries.len() == 1 && tree.entries[0].name == "b"
        })
        .expect("the tree of data/sub");
    // Empty, then truncated: both are damage.
    for bytes in [
        &b""[..],
        &fs::read(object_path(&sb.root, &sub)).expect("tree")[..10],
    ] {
        clobber(&sb, &sub, bytes);
        for args in [
            &["ls", "HEAD"][..],
            &["cat", "--rev", "HEAD", "data/sub/b"],
            &["fsck"],
        ] {
            let err = sb.fails(args, 1);
            assert!(
                err.contains(&sub) || args == ["fsck"],
                "{args:?} should name {sub}: {err}"
            );
        }
        let out = sb.dvx().arg("fsck").output().expect("run");
        assert_contains(&String::from_utf8_lossy(&out.stdout), &sub);
    }
}
