//! `checkout -- <paths>` (restore from the index), link types, and fsck.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use crate::harness::*;

/// data/ with a large file, a small one and one in a subdirectory, added and committed.
fn dataset() -> (Sandbox, Vec<(String, Vec<u8>)>) {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/big.bin", &bytes(1, 300_000));
    sb.write("data/small.txt", b"small\n");
    sb.write("data/sub/c.bin", &bytes(3, 5000));
    sb.write("data/sub/deeper/d.bin", &bytes(4, 123));
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "dataset"]);
    let expected = sb.snapshot("data");
    (sb, expected)
}

/// Set `core.link` in the tracked config.
fn set_link(sb: &Sandbox, link: &str) {
    let config = String::from_utf8(sb.read(".dvx/config.toml")).expect("utf-8");
    let replaced = config.replace("link = \"reflink,copy\"", &format!("link = \"{link}\""));
    assert_ne!(replaced, config, "the config has a link line:\n{config}");
    sb.write(".dvx/config.toml", replaced.as_bytes());
}

fn unstaged(sb: &Sandbox) -> serde_json::Value {
    sb.status_json()["unstaged"].clone()
}

#[test]
fn checkout_restores_modified_and_deleted_files_byte_for_byte() {
    let (sb, expected) = dataset();
    sb.write("data/big.bin", &bytes(100, 300_000));
    sb.write("data/small.txt", b"SMALL\n");
    fs::remove_file(sb.path("data/sub/c.bin")).expect("rm");
    assert_eq!(
        unstaged(&sb).as_array().map(Vec::len),
        Some(3),
        "three changes before"
    );
    let out = sb.out(&["checkout", "--", "data/big.bin", "data/small.txt"]);
    assert_contains(&out, "restored 2 files");
    assert_eq!(sb.read("data/big.bin"), bytes(1, 300_000));
    assert_eq!(sb.read("data/small.txt"), b"small\n");
    assert!(!sb.exists("data/sub/c.bin"), "only the named paths");
    sb.ok(&["checkout", "--", "data/sub/c.bin"]);
    assert_eq!(sb.snapshot("data"), expected);
    assert_eq!(unstaged(&sb), serde_json::json!([]));
    assert_eq!(sb.status_json()["clean"], true);
}

#[test]
fn checkout_restores_a_whole_directory_and_keeps_untracked_files() {
    let (sb, expected) = dataset();
    fs::remove_dir_all(sb.path("data/sub")).expect("rm");
    sb.write("data/big.bin", b"scribbled over");
    sb.ok(&["checkout", "--", "data"]);
    assert_eq!(sb.snapshot("data"), expected);
    assert_eq!(sb.status_json()["clean"], true);

    // Everything gone, from a subdirectory, with a relative path.
    fs::remove_dir_all(sb.path("data")).expect("rm");
    fs::create_dir_all(sb.path("data")).expect("mkdir");
    sb.write("data/untracked.txt", b"mine\n");
    sb.dvx()
        .current_dir(sb.path("data"))
        .args(["checkout", "--", "."])
        .assert()
        .success();
    let mut with_untracked = expected.clone();
    with_untracked.push(("data/untracked.txt".into(), b"mine\n".to_vec()));
    with_untracked.sort();
    assert_eq!(sb.snapshot("data"), with_untracked);
    // Restoring what is already there writes nothing.
    let before = sb.dvx_state();
    let out = sb.out(&["checkout", "--", "data"]);
    assert_contains(&out, "restored 0 files");
    assert_eq!(sb.dvx_state(), before);
}

#[test]
fn checkout_restores_what_was_staged_not_what_was_committed() {
    let (sb, _) = dataset();
    sb.write("data/small.txt", b"staged version\n");
    sb.ok(&["add", "data"]);
    sb.write("data/small.txt", b"scratch\n");
    sb.ok(&["checkout", "--", "data/small.txt"]);
    assert_eq!(sb.read("data/small.txt"), b"staged version\n");
}

#[test]
fn hardlink_checkout_shares_the_read_only_object() {
    let (sb, expected) = dataset();
    set_link(&sb, "hardlink");
    fs::remove_dir_all(sb.path("data")).expect("rm");
    sb.ok(&["checkout", "--", "data"]);
    assert_eq!(sb.snapshot("data"), expected);
    for (path, content) in &expected {
        let file = fs::metadata(sb.path(path)).expect("stat");
        let object = fs::metadata(object_path(&sb.root, &b3(content))).expect("object");
        assert_eq!(
            (file.dev(), file.ino()),
            (object.dev(), object.ino()),
            "{path} is a hard link to its object"
        );
        assert_eq!(file.mode() & 0o222, 0, "{path} is read-only");
    }
    // The store cannot be corrupted through the work tree by accident.
    let write = fs::OpenOptions::new()
        .write(true)
        .open(sb.path("data/small.txt"));
    if running_as_root() {
        eprintln!(
            "skipping the permission-denied check: running as root, which may write read-only files"
        );
        drop(write);
    } else {
        let err = write.expect_err("writing into a hard-linked object fails");
        assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied);
    }
    assert_eq!(unstaged(&sb), serde_json::json!([]));
    assert_eq!(sb.status_json()["clean"], true);
    sb.ok(&["fsck"]);
    // Adding again sees no change, and a plain edit (replace the file) is a modification.
    sb.ok(&["add", "data"]);
    assert_eq!(sb.status_json()["clean"], true);
    fs::remove_file(sb.path("data/small.txt")).expect("rm link");
    sb.write("data/small.txt", b"edited\n");
    assert_eq!(
        unstaged(&sb),
        serde_json::json!([{"path": "data/small.txt", "status": "modified"}])
    );
}

#[test]
fn a_hardlinked_file_changed_in_place_is_reported_as_corruption() {
    let (sb, _) = dataset();
    set_link(&sb, "hardlink");
    fs::remove_file(sb.path("data/small.txt")).expect("rm");
    sb.ok(&["checkout", "--", "data/small.txt"]);
    let path = sb.path("data/small.txt");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open");
    f.write_all(b"SMALL\n").expect("write through the link");
    drop(f);
    assert_eq!(
        unstaged(&sb),
        serde_json::json!([{"path": "data/small.txt", "status": "corrupt"}]),
        "damage to the store, not an edit to commit"
    );
    let out = sb.dvx().arg("fsck").output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert_contains(&String::from_utf8_lossy(&out.stdout), &b3(b"small\n"));
}

#[test]
fn symlink_checkout_points_at_the_object() {
    let (sb, expected) = dataset();
    set_link(&sb, "symlink");
    fs::remove_dir_all(sb.path("data")).expect("rm");
    sb.ok(&["checkout", "--", "data"]);
    for (path, content) in &expected {
        let target = fs::read_link(sb.path(path)).expect("a symlink");
        let object = fs::canonicalize(object_path(&sb.root, &b3(content))).expect("object");
        assert_eq!(target, object, "{path} links to its object");
        assert_eq!(&sb.read(path), content);
        let mode = fs::metadata(sb.path(path)).expect("stat").mode();
        assert_eq!(mode & 0o222, 0, "{path}'s object is read-only");
    }
    assert_eq!(unstaged(&sb), serde_json::json!([]));
    assert_eq!(sb.status_json()["clean"], true);
    // Adding again records files (not links to the store).
    sb.ok(&["add", "data"]);
    assert_eq!(sb.status_json()["clean"], true);
    let ls: serde_json::Value = serde_json::from_str(&sb.out(&["ls", "--json"])).expect("json");
    assert!(
        ls.as_array()
            .expect("list")
            .iter()
            .all(|f| f["kind"] == "file"),
        "{ls}"
    );
    sb.ok(&["fsck"]);
}

#[test]
fn copy_checkout_gives_independent_files() {
    let (sb, expected) = dataset();
    set_link(&sb, "copy");
    fs::remove_dir_all(sb.path("data")).expect("rm");
    sb.ok(&["checkout", "--", "data"]);
    assert_eq!(sb.snapshot("data"), expected);
    for (path, content) in &expected {
        let file = fs::symlink_metadata(sb.path(path)).expect("stat");
        let object = fs::metadata(object_path(&sb.root, &b3(content))).expect("object");
        assert!(file.is_file());
        assert_ne!(file.ino(), object.ino(), "{path} is its own copy");
        assert_ne!(file.mode() & 0o200, 0, "{path} is writable");
    }
    // Editing a copy in place leaves the store intact.
    let mut f = fs::OpenOptions::new()
        .write(true)
        .open(sb.path("data/small.txt"))
        .expect("open");
    f.write_all(b"SMALL\n").expect("write");
    drop(f);
    assert_eq!(
        unstaged(&sb),
        serde_json::json!([{"path": "data/small.txt", "status": "modified"}])
    );
    sb.ok(&["fsck"]);
    sb.ok(&["checkout", "--", "data/small.txt"]);
    assert_eq!(sb.read("data/small.txt"), b"small\n");
}

/// Regression: a checkout killed mid-copy left its half-written `.dvx-tmp-*` file in the
/// work tree for good (walks skip the name, so nothing ever removed it).
#[test]
fn temp_files_left_by_a_killed_checkout_are_removed_by_the_next_one() {
    let (sb, expected) = dataset();
    sb.write("data/sub/.dvx-tmp-4242-0", b"half of c.b");
    sb.write("data/sub/.dvx-tmp-AbC123", b"half");
    fs::remove_file(sb.path("data/sub/c.bin")).expect("rm");
    // Temp names are not data: status does not list them.
    assert_eq!(
        unstaged(&sb),
        serde_json::json!([{"path": "data/sub/c.bin", "status": "deleted"}])
    );
    sb.ok(&["checkout", "--", "data"]);
    assert_eq!(sb.snapshot("data"), expected, "no temp file is left");
}

#[test]
fn checkout_of_an_untracked_path_is_refused() {
    let (sb, _) = dataset();
    sb.write("data/loose.txt", b"loose\n");
    let before = sb.dvx_state();
    let err = sb.fails(&["checkout", "--", "data/loose.txt"], 1);
    let (error, _hint) = error_and_hint(&err);
    assert_contains(&error, "data/loose.txt");
    assert_eq!(sb.read("data/loose.txt"), b"loose\n");
    assert_eq!(sb.dvx_state(), before);
}

// ---------------------------------------------------------------------------------------
// fsck

#[test]
fn fsck_passes_a_clean_repository() {
    let (sb, _) = dataset();
    let out = sb.out(&["fsck"]);
    assert_contains(&out, "no problems");
    let json: serde_json::Value = serde_json::from_str(&sb.out(&["fsck", "--json"])).expect("json");
    assert_eq!(json["ok"], true);
    // 4 blobs, 4 trees (data, data/sub, data/sub/deeper, the root), 1 commit.
    assert_eq!(json["objects_checked"], 9);
}

#[test]
fn fsck_names_a_corrupt_object() {
    let (sb, _) = dataset();
    let id = b3(b"small\n");
    let object = object_path(&sb.root, &id);
    fs::set_permissions(&object, fs::Permissions::from_mode(0o644)).expect("chmod +w");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .open(&object)
        .expect("open");
    f.write_all(b"SM").expect("overwrite two bytes");
    drop(f);
    let out = sb.dvx().arg("fsck").output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_contains(&stdout, &format!("corrupt object {id}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_contains(&stderr, "error:");
    assert_contains(&stderr, "hint:");
    let json = sb.dvx().args(["fsck", "--json"]).output().expect("run");
    assert_eq!(json.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    assert_eq!(json["ok"], false);
    assert_eq!(json["corrupt"][0]["id"], id.as_str());
}

#[test]
fn fsck_names_an_object_the_index_needs_that_is_missing() {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/a.bin", &bytes(1, 1000));
    sb.write("data/b.bin", &bytes(2, 1000));
    // Staged only: the index is the sole reference.
    sb.ok(&["add", "data"]);
    let id = b3(&bytes(2, 1000));
    fs::remove_file(object_path(&sb.root, &id)).expect("rm object");
    let out = sb.dvx().arg("fsck").output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_contains(&stdout, &id);
    assert_contains(&stdout, "data/b.bin");
}

#[test]
fn fsck_names_a_missing_tree_of_a_commit() {
    let (sb, expected) = dataset();
    let head = sb.status_json()["head"]
        .as_str()
        .expect("a commit")
        .to_owned();
    let blobs: Vec<String> = expected.iter().map(|(_, c)| b3(c)).collect();
    let trees: Vec<String> = sb
        .objects()
        .into_iter()
        .filter(|id| *id != head && !blobs.contains(id))
        .collect();
    assert_eq!(trees.len(), 4, "root, data, data/sub, data/sub/deeper");
    for tree in &trees {
        let object = object_path(&sb.root, tree);
        let saved = fs::read(&object).expect("read tree");
        fs::remove_file(&object).expect("rm tree");
        let out = sb.dvx().args(["fsck"]).output().expect("run");
        assert_eq!(out.status.code(), Some(1), "fsck misses tree {tree}");
        assert_contains(&String::from_utf8_lossy(&out.stdout), tree);
        sb.write(
            &format!(".dvx/objects/{}/{}", &tree[..2], &tree[2..]),
            &saved,
        );
    }
    sb.ok(&["fsck"]);
}

/// Regression: checkout failed with "a directory with other files is in the way" when
/// a file of the target goes where the user left only empty directories (found by the
/// random-history property test). Git removes such directories; so does dvx.
#[test]
fn checkout_fails_on_a_tree_of_empty_directories() {
    let sb = Sandbox::dvx_only();
    sb.write("data/anchor", b"anchor\n");
    sb.write("data/sub", b"s\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "one"]);
    fs::remove_file(sb.path("data/sub")).expect("rm");
    sb.write("data/sub/deep/e", b"e\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "two"]);
    fs::remove_file(sb.path("data/sub/deep/e")).expect("rm");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "three"]);
    assert!(sb.path("data/sub/deep").is_dir(), "rm left the directories");

    sb.ok(&["checkout", "HEAD~2"]);
    assert_eq!(
        sb.snapshot("data"),
        snap(&[("data/anchor", b"anchor\n"), ("data/sub", b"s\n")])
    );
    let status = sb.status_json();
    assert_eq!(status["unstaged"], serde_json::json!([]), "{status}");
    assert_eq!(status["staged"], serde_json::json!([]), "{status}");

    // A directory that still holds a file (an untracked one) is not removed: the
    // checkout is refused before anything is written.
    sb.ok(&["checkout", "main"]);
    fs::create_dir_all(sb.path("data/sub/deep")).expect("mkdir");
    sb.write("data/sub/deep/keep", b"mine\n");
    let err = sb.fails(&["checkout", "HEAD~2"], 1);
    assert_contains(&err, "data/sub");
    assert_eq!(sb.read("data/sub/deep/keep"), b"mine\n");
}
