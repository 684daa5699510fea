//! Symlinked directories: as in git, a path below a symlink is not in the work tree. It
//! is never read, hashed, judged equal to a target or deleted through the link, and a
//! checkout replaces the link with the directory the target has.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use crate::harness::*;
use crate::history::commit_at;

fn is_symlink_to(path: &Path, target: &Path) -> bool {
    fs::read_link(path).is_ok_and(|t| t == target)
}

fn is_real_dir(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
}

fn assert_clean(sb: &Sandbox) {
    let st = sb.status_json();
    assert_eq!(st["clean"], true, "{st}");
    assert_eq!(st["not_fetched"], serde_json::json!([]), "{st}");
}

/// Version A has data/cur/x.txt; version B has data/cur -> v1, a symlink to a sibling
/// directory with the same bytes. Returns (A, B); HEAD is at B.
fn directory_then_sibling_link(sb: &Sandbox) -> (String, String) {
    sb.write("data/cur/x.txt", b"x\n");
    sb.ok(&["add", "data"]);
    let a = commit_at(sb, 0, "A");
    fs::remove_dir_all(sb.path("data/cur")).expect("rm");
    sb.write("data/v1/x.txt", b"x\n");
    symlink("v1", sb.path("data/cur")).expect("symlink");
    sb.ok(&["add", "data"]);
    let b = commit_at(sb, 10, "B");
    (a, b)
}

/// Regression: checking out A over B's symlink read data/cur/x.txt through the link,
/// judged it equal to A's, skipped it, then deleted the link: data/cur was gone and
/// status called data/cur/x.txt "not fetched" although its bytes were local.
#[test]
fn checkout_replaces_a_symlinked_directory_with_the_directory() {
    let sb = Sandbox::dvx_only();
    let (a, b) = directory_then_sibling_link(&sb);
    let out = sb.out(&["checkout", &a]);
    assert_contains(&out, "wrote 1 file, removed 2 files");
    assert!(is_real_dir(&sb.path("data/cur")), "data/cur is a directory");
    assert_eq!(sb.snapshot("data"), snap(&[("data/cur/x.txt", b"x\n")]));
    assert_clean(&sb);

    // And back: the directory becomes the link again.
    sb.ok(&["checkout", &b]);
    assert!(is_symlink_to(&sb.path("data/cur"), Path::new("v1")));
    assert_eq!(sb.read("data/v1/x.txt"), b"x\n");
    assert_clean(&sb);
    sb.ok(&["checkout", "--lazy", &a]);
    assert!(is_real_dir(&sb.path("data/cur")));
    assert_clean(&sb);
}

/// Regression: with data/cur a symlink out of the repository (to other bytes), checkout
/// refused with "would overwrite local changes in data/cur/x.txt", a file it had read
/// through the link, and the `checkout -- <path>` it suggested failed as "outside the
/// repository". The files beyond the link are never touched.
#[test]
fn checkout_never_judges_a_path_through_a_symlink_out_of_the_repository() {
    for outside_bytes in [&b"x\n"[..], b"other bytes\n"] {
        let sb = Sandbox::dvx_only();
        allow_external_symlinks(&sb);
        let outside = sb.home.join("outside");
        fs::create_dir_all(&outside).expect("mkdir");
        dvx::atomic::write(&outside.join("x.txt"), outside_bytes).expect("write outside");
        sb.write("data/cur/x.txt", b"x\n");
        sb.ok(&["add", "data"]);
        let a = commit_at(&sb, 0, "A");
        fs::remove_dir_all(sb.path("data/cur")).expect("rm");
        symlink(&outside, sb.path("data/cur")).expect("symlink");
        sb.ok(&["add", "data"]);
        commit_at(&sb, 10, "B");

        let out = sb.out(&["checkout", &a]);
        assert_contains(&out, "wrote 1 file, removed 1 file");
        assert!(is_real_dir(&sb.path("data/cur")));
        assert_eq!(sb.snapshot("data"), snap(&[("data/cur/x.txt", b"x\n")]));
        assert_clean(&sb);
        assert_eq!(
            fs::read(outside.join("x.txt")).expect("outside"),
            outside_bytes
        );
        assert_eq!(fs::read_dir(&outside).expect("ls").count(), 1);
    }
}

/// A tracked directory the user replaced by a symlink (out of the repository, to a copy
/// with the same bytes): status calls its files deleted and the link new, as git does,
/// instead of judging the copy beyond the link clean; `checkout -- <path>` restores the
/// directory in place of the link, leaving the copy alone.
#[test]
fn status_and_restore_never_look_through_a_symlinked_directory() {
    let sb = Sandbox::dvx_only();
    sb.write("data/cur/x.txt", b"x\n");
    sb.write("data/cur/y.txt", b"y\n");
    sb.ok(&["add", "data"]);
    commit_at(&sb, 0, "A");
    let outside = sb.home.join("moved");
    fs::rename(sb.path("data/cur"), &outside).expect("move");
    symlink(&outside, sb.path("data/cur")).expect("symlink");

    let st = sb.status_json();
    assert_eq!(
        st["unstaged"],
        serde_json::json!([
            {"path": "data/cur", "status": "new"},
            {"path": "data/cur/x.txt", "status": "deleted"},
            {"path": "data/cur/y.txt", "status": "deleted"},
        ])
    );
    assert_eq!(
        sb.out(&["diff"]),
        "D\tdata/cur/x.txt\nD\tdata/cur/y.txt\nA\tdata/cur\n"
    );

    let out = sb.out(&["checkout", "--", "data/cur/x.txt"]);
    assert_contains(&out, "restored 1 file");
    assert!(
        is_real_dir(&sb.path("data/cur")),
        "the link became a directory"
    );
    assert_eq!(sb.snapshot("data"), snap(&[("data/cur/x.txt", b"x\n")]));
    sb.ok(&["checkout", "--", "data/cur"]);
    assert_clean(&sb);
    let moved = fs::read_dir(&outside).expect("ls").count();
    assert_eq!(moved, 2, "the moved copy is untouched");
    assert_eq!(fs::read(outside.join("x.txt")).expect("read"), b"x\n");

    // From a subdirectory, with an absolute path through the link: the same path.
    fs::remove_dir_all(sb.path("data/cur")).expect("rm");
    symlink(&outside, sb.path("data/cur")).expect("symlink");
    let abs = sb.path("data/cur/y.txt");
    sb.dvx()
        .current_dir(sb.path("data"))
        .args(["checkout", "--", abs.to_str().expect("utf-8"), "cur/x.txt"])
        .assert()
        .success();
    assert_clean(&sb);
    assert_eq!(fs::read_dir(&outside).expect("ls").count(), 2);
}

/// `rm` and `add` below a symlinked directory: `rm` untracks the files without reading
/// or deleting what lies beyond the link (edited bytes there are not a local change of
/// the work tree); `add` refuses, as git does ("beyond a symbolic link").
#[test]
fn rm_and_add_never_look_through_a_symlinked_directory() {
    let sb = Sandbox::dvx_only();
    allow_external_symlinks(&sb);
    sb.write("data/cur/x.txt", b"x\n");
    sb.write("data/keep.txt", b"keep\n");
    sb.ok(&["add", "data"]);
    commit_at(&sb, 0, "A");
    let outside = sb.home.join("outside");
    fs::create_dir_all(&outside).expect("mkdir");
    dvx::atomic::write(&outside.join("x.txt"), b"edited elsewhere\n").expect("write");
    fs::remove_dir_all(sb.path("data/cur")).expect("rm");
    symlink(&outside, sb.path("data/cur")).expect("symlink");

    let err = sb.fails(&["add", "data/cur/x.txt"], 1);
    let (error, hint) = error_and_hint(&err);
    assert_contains(
        &error,
        "'data/cur/x.txt' is beyond a symbolic link ('data/cur')",
    );
    assert_contains(&hint, "dvx add data/cur");

    let out = sb.out(&["rm", "data/cur/x.txt"]);
    assert_contains(&out, "deleted 0 files");
    assert_eq!(
        fs::read(outside.join("x.txt")).expect("kept"),
        b"edited elsewhere\n"
    );
    let st = sb.status_json();
    assert_eq!(
        st["staged"],
        serde_json::json!([{"path": "data/cur/x.txt", "status": "deleted"}])
    );
    // The link itself is an ordinary path: it can be tracked.
    sb.ok(&["add", "data/cur"]);
    assert_eq!(
        sb.status_json()["staged"],
        serde_json::json!([
            {"path": "data/cur/x.txt", "status": "deleted"},
            {"path": "data/cur", "status": "added"},
        ])
    );
}

/// A path that is a file, a symlink to a directory, or a directory in different commits:
/// every switch between them works without --force and leaves a clean work tree.
#[test]
fn checkout_switches_between_a_symlink_a_file_and_a_directory() {
    let sb = Sandbox::dvx_only();
    sb.write("data/v1/inner.txt", b"inner\n");
    sb.write("data/p", b"a file\n");
    sb.ok(&["add", "data"]);
    let file = commit_at(&sb, 0, "file");
    fs::remove_file(sb.path("data/p")).expect("rm");
    symlink("v1", sb.path("data/p")).expect("symlink");
    sb.ok(&["add", "data"]);
    let link = commit_at(&sb, 10, "link");
    fs::remove_file(sb.path("data/p")).expect("rm");
    sb.write("data/p/inner.txt", b"inner\n");
    sb.write("data/p/own.txt", b"own\n");
    sb.ok(&["add", "data"]);
    let dir = commit_at(&sb, 20, "dir");

    let check = |at: &str| {
        let p = sb.path("data/p");
        match at {
            "file" => assert_eq!(sb.read("data/p"), b"a file\n"),
            "link" => assert!(is_symlink_to(&p, Path::new("v1")), "link"),
            _ => {
                assert!(is_real_dir(&p), "dir");
                assert_eq!(sb.read("data/p/own.txt"), b"own\n");
            }
        }
        assert_eq!(sb.read("data/v1/inner.txt"), b"inner\n");
        assert_clean(&sb);
    };
    let commits = [("file", &file), ("link", &link), ("dir", &dir)];
    for (from, from_id) in commits {
        for (to, to_id) in commits {
            if from == to {
                continue;
            }
            for lazy in [false, true] {
                sb.ok(&["checkout", from_id]);
                check(from);
                let mut args = vec!["checkout", to_id.as_str()];
                if lazy {
                    args.push("--lazy");
                }
                sb.ok(&args);
                check(to);
            }
        }
    }
}

/// An untracked symlink where a new directory goes is in the way, as git says ("untracked
/// working tree files would be overwritten"): refused, nothing touched; `--force`
/// replaces the link (and only the link) with the directory.
#[test]
fn an_untracked_symlink_in_the_way_of_a_directory_needs_force() {
    let sb = Sandbox::dvx_only();
    sb.write("data/keep.txt", b"keep\n");
    sb.ok(&["add", "data"]);
    let base = commit_at(&sb, 0, "base");
    sb.write("data/d/x.txt", b"x\n");
    sb.ok(&["add", "data"]);
    let with_d = commit_at(&sb, 10, "d");
    sb.ok(&["checkout", &base]);
    let outside = sb.home.join("outside");
    fs::create_dir_all(&outside).expect("mkdir");
    dvx::atomic::write(&outside.join("x.txt"), b"x\n").expect("write");
    symlink(&outside, sb.path("data/d")).expect("symlink");

    let err = sb.fails(&["checkout", &with_d], 1);
    assert_contains(&err, "data/d");
    assert!(is_symlink_to(&sb.path("data/d"), &outside));

    sb.ok(&["checkout", "--force", &with_d]);
    assert!(is_real_dir(&sb.path("data/d")));
    assert_eq!(sb.read("data/d/x.txt"), b"x\n");
    assert_clean(&sb);
    assert_eq!(fs::read(outside.join("x.txt")).expect("kept"), b"x\n");
}

/// The user's side of the same: a tracked symlink replaced in the work tree by a real
/// directory (or a file) is a local change at the link's path, found without reading
/// through anything; a checkout that would overwrite it refuses, `--force` replaces it.
#[test]
fn a_tracked_symlink_replaced_in_the_work_tree_is_a_local_change() {
    let sb = Sandbox::dvx_only();
    sb.write("data/v1/inner.txt", b"inner\n");
    sb.write("data/p", b"a file\n");
    sb.ok(&["add", "data"]);
    let file = commit_at(&sb, 0, "file");
    fs::remove_file(sb.path("data/p")).expect("rm");
    symlink("v1", sb.path("data/p")).expect("symlink");
    sb.ok(&["add", "data"]);
    commit_at(&sb, 10, "link");

    // A real directory with a file of the user's where the link was.
    fs::remove_file(sb.path("data/p")).expect("rm link");
    sb.write("data/p/mine.txt", b"mine\n");
    assert_eq!(
        sb.status_json()["unstaged"],
        serde_json::json!([
            {"path": "data/p", "status": "deleted"},
            {"path": "data/p/mine.txt", "status": "new"},
        ])
    );
    let err = sb.fails(&["checkout", &file], 1);
    assert_contains(&err, "data/p");
    assert_eq!(sb.read("data/p/mine.txt"), b"mine\n");

    // A file where the link was: modified, and kept unless forced.
    fs::remove_dir_all(sb.path("data/p")).expect("rm dir");
    sb.write("data/p", b"edited\n");
    assert_eq!(
        sb.status_json()["unstaged"],
        serde_json::json!([{"path": "data/p", "status": "modified"}])
    );
    let err = sb.fails(&["checkout", &file], 1);
    assert_contains(&err, "data/p");
    assert_eq!(sb.read("data/p"), b"edited\n");
    sb.ok(&["checkout", "--force", &file]);
    assert_eq!(sb.read("data/p"), b"a file\n");
    assert_clean(&sb);
}

/// These tests version a link to a directory out of the repository on purpose.
fn allow_external_symlinks(sb: &Sandbox) {
    sb.write(
        ".dvx/config.local.toml",
        b"[core]\nexternal_symlinks = true\n",
    );
}
