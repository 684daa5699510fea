//! `dvx merge` merges file by file, never per directory, and agrees with `git merge`:
//! a directory deleted on one side and changed on the other conflicts only at the files
//! changed on one side and deleted on the other. The property test runs the same three
//! versions through `dvx merge` and the real `git merge-tree`, and compares.

use std::collections::BTreeMap;
use std::fs;

use proptest::prelude::*;

use crate::harness::*;
use crate::history::commit_empty_at;

/// `top/d/a`, `top/d/b` and `top/keep.txt`, committed on main; `side` branches off it.
fn base_with_a_directory() -> Sandbox {
    let sb = Sandbox::dvx_only();
    sb.write("top/d/a.txt", b"a\n");
    sb.write("top/d/b.txt", b"b\n");
    sb.write("top/keep.txt", b"keep\n");
    sb.ok(&["add", "top"]);
    commit_empty_at(&sb, 0, "base");
    sb.ok(&["branch", "side"]);
    sb
}

/// Regression: one side deleting every file in top/d and the other adding top/d/new.txt
/// stopped with "changed on both sides: top/d", and `--strategy theirs` brought the
/// deleted files back. git merges cleanly and keeps only top/d/new.txt.
#[test]
fn merge_of_a_deleted_directory_and_a_file_added_to_it_is_clean() {
    let sb = base_with_a_directory();
    sb.ok(&["checkout", "side"]);
    sb.write("top/d/new.txt", b"new\n");
    sb.ok(&["add", "top"]);
    commit_empty_at(&sb, 10, "add new.txt");
    sb.ok(&["checkout", "main"]);
    sb.ok(&["rm", "top/d/a.txt", "top/d/b.txt"]);
    commit_empty_at(&sb, 20, "delete top/d");

    let out = sb.out(&["merge", "side"]);
    assert_contains(&out, "Merged as");
    assert!(!out.contains("resolved"), "{out}");
    assert_eq!(
        sb.snapshot("top"),
        snap(&[("top/d/new.txt", b"new\n"), ("top/keep.txt", b"keep\n")])
    );
    assert_eq!(sb.status_json()["clean"], true);
}

/// The deleted directory's file that the other side changed is the one conflict, not the
/// directory; each strategy resolves just that file.
#[test]
fn merge_conflicts_at_the_file_changed_on_one_side_and_deleted_on_the_other() {
    let sb = base_with_a_directory();
    sb.ok(&["checkout", "side"]);
    sb.write("top/d/a.txt", b"a changed\n");
    sb.write("top/d/new.txt", b"new\n");
    sb.ok(&["add", "top"]);
    commit_empty_at(&sb, 10, "change a, add new");
    sb.ok(&["checkout", "main"]);
    sb.ok(&["rm", "top/d"]);
    commit_empty_at(&sb, 20, "delete top/d");
    sb.ok(&["branch", "before-merge"]);

    let err = sb.fails(&["merge", "side"], 1);
    assert_contains(
        &err,
        "merge stopped: 1 path(s) changed on both sides: top/d/a.txt\n",
    );

    let out = sb.out(&["merge", "side", "--strategy", "theirs"]);
    assert_contains(&out, "resolved 1 conflict by strategy");
    assert_eq!(
        sb.snapshot("top"),
        snap(&[
            ("top/d/a.txt", b"a changed\n"),
            ("top/d/new.txt", b"new\n"),
            ("top/keep.txt", b"keep\n"),
        ])
    );

    sb.ok(&["checkout", "-b", "ours-side", "before-merge"]);
    sb.ok(&["merge", "side", "--strategy", "ours"]);
    assert_eq!(
        sb.snapshot("top"),
        snap(&[("top/d/new.txt", b"new\n"), ("top/keep.txt", b"keep\n")])
    );
    assert_eq!(sb.status_json()["clean"], true);
}

// ---------------------------------------------------------------------------------------
// The same merges through git.

/// Paths the versions may hold. No path is a directory of another, so git never has a
/// file/directory conflict (which it resolves by renaming files): the table test in
/// `history::merge` covers those.
const PATHS: [&str; 6] = [
    "data/a",
    "data/d/x",
    "data/d/y",
    "data/d/e/z",
    "data/f/w",
    "data/f/v",
];

/// One version: the content number of each path, `None` where it is absent.
type Version = [Option<u8>; PATHS.len()];

/// Bytes no other path ever holds: git would otherwise pair a deletion with an addition
/// of the same bytes as a rename (`merge-tree` detects them even with `-X no-renames`),
/// and dvx's merge pairs no renames.
fn content(path: &str, n: u8) -> Vec<u8> {
    format!("{path} version {n}\n").into_bytes()
}

fn version() -> impl Strategy<Value = Version> {
    proptest::array::uniform6(proptest::option::weighted(0.75, 0..3u8))
}

/// A side: the base with some paths changed, and maybe a whole directory deleted.
fn side(base: Version) -> impl Strategy<Value = Version> {
    (
        proptest::array::uniform6(proptest::option::weighted(
            0.4,
            proptest::option::weighted(0.6, 0..4u8),
        )),
        prop::sample::select(vec![None, None, Some("data/d/"), Some("data/f/")]),
    )
        .prop_map(move |(changes, drop_dir)| {
            let mut v = base;
            for (i, change) in changes.into_iter().enumerate() {
                if let Some(new) = change {
                    v[i] = new;
                }
                if drop_dir.is_some_and(|d| PATHS[i].starts_with(d)) {
                    v[i] = None;
                }
            }
            v
        })
}

fn versions() -> impl Strategy<Value = (Version, Version, Version)> {
    version().prop_flat_map(|base| (Just(base), side(base), side(base)))
}

/// Make the work tree hold `v` (plus `data/keep`, so data/ always exists).
fn write_version(sb: &Sandbox, v: &Version) {
    sb.write("data/keep", b"keep\n");
    for (path, c) in PATHS.iter().zip(v) {
        match c {
            Some(n) => sb.write(path, &content(path, *n)),
            None => {
                let _ = fs::remove_file(sb.path(path));
            }
        }
    }
}

/// What a merge gives: the merged files, or the conflicting paths.
#[derive(Debug, PartialEq, Eq)]
enum Merged {
    Clean(BTreeMap<String, Vec<u8>>),
    Conflicts(Vec<String>),
}

fn dvx_merge(base: &Version, ours: &Version, theirs: &Version) -> Merged {
    let sb = Sandbox::dvx_only();
    write_version(&sb, base);
    sb.ok(&["add", "data"]);
    commit_empty_at(&sb, 0, "base");
    sb.ok(&["checkout", "-b", "side"]);
    write_version(&sb, theirs);
    sb.ok(&["add", "data"]);
    commit_empty_at(&sb, 10, "theirs");
    sb.ok(&["checkout", "main"]);
    write_version(&sb, ours);
    sb.ok(&["add", "data"]);
    commit_empty_at(&sb, 20, "ours");
    let output = sb.dvx().args(["merge", "side"]).output().expect("run dvx");
    if output.status.success() {
        return Merged::Clean(sb.snapshot("data").into_iter().collect());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let list = stderr
        .lines()
        .find_map(|l| {
            l.split_once("changed on both sides: ")
                .map(|(_, list)| list)
        })
        .unwrap_or_else(|| panic!("dvx merge failed otherwise:\n{stderr}"));
    Merged::Conflicts(list.split(", ").map(str::to_owned).collect())
}

fn git_merge(base: &Version, ours: &Version, theirs: &Version) -> Merged {
    let sb = Sandbox::empty();
    sb.git(&["init", "-q", "-b", "main"]);
    let commit = |v: &Version, msg: &str| {
        write_version(&sb, v);
        sb.git(&["add", "-A"]);
        sb.git(&["commit", "-q", "--allow-empty", "-m", msg]);
    };
    commit(base, "base");
    sb.git(&["checkout", "-q", "-b", "side"]);
    commit(theirs, "theirs");
    sb.git(&["checkout", "-q", "main"]);
    commit(ours, "ours");
    let output = sb.git_raw(&[
        "merge-tree",
        "--write-tree",
        "--name-only",
        "--no-messages",
        "main",
        "side",
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut lines = stdout.lines();
    let tree = lines.next().expect("merge-tree prints the tree").to_owned();
    match output.status.code() {
        Some(0) => {
            let listing = sb.git(&["ls-tree", "-r", "--name-only", &tree]);
            let files = listing
                .lines()
                .map(|path| {
                    let bytes = sb.git(&["cat-file", "blob", &format!("{tree}:{path}")]);
                    (path.to_owned(), bytes.into_bytes())
                })
                .collect();
            Merged::Clean(files)
        }
        Some(1) => {
            let mut conflicts: Vec<String> = lines
                .take_while(|l| !l.is_empty())
                .map(str::to_owned)
                .collect();
            conflicts.dedup();
            Merged::Conflicts(conflicts)
        }
        other => panic!(
            "git merge-tree exited {other:?}:\n{}",
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 24,
        // Every case runs a few dozen processes; keep shrinking bounded.
        max_shrink_iters: 100,
        ..ProptestConfig::default()
    })]

    #[test]
    fn merge_agrees_with_git_file_by_file((base, ours, theirs) in versions()) {
        prop_assert_eq!(
            dvx_merge(&base, &ours, &theirs),
            git_merge(&base, &ours, &theirs),
            "base {:?}, ours {:?}, theirs {:?}",
            base,
            ours,
            theirs
        );
    }
}
