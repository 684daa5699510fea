//! `add` in the hard-link and symlink link modes: the file is hashed, becomes the
//! (read-only) object, and no copy of its bytes is made; copy mode still copies.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use crate::harness::*;

/// Set `core.link` in the tracked config.
pub(crate) fn set_link(sb: &Sandbox, link: &str) {
    let config = String::from_utf8(sb.read(".dvx/config.toml")).expect("utf-8");
    let replaced = config.replace("link = \"reflink,copy\"", &format!("link = \"{link}\""));
    assert_ne!(replaced, config, "the config has a link line:\n{config}");
    sb.write(".dvx/config.toml", replaced.as_bytes());
}

fn data(sb: &Sandbox) -> Vec<(String, Vec<u8>)> {
    sb.write("data/big.bin", &bytes(1, 300_000));
    sb.write("data/small.txt", b"small\n");
    sb.write("data/sub/c.bin", &bytes(3, 5000));
    sb.snapshot("data")
}

#[test]
fn hardlink_add_makes_each_file_its_read_only_object_without_a_copy() {
    let sb = Sandbox::git_and_dvx();
    set_link(&sb, "hardlink");
    let expected = data(&sb);
    let inodes: Vec<u64> = expected
        .iter()
        .map(|(p, _)| fs::metadata(sb.path(p)).expect("stat").ino())
        .collect();
    sb.ok(&["add", "data"]);
    for ((path, content), ino) in expected.iter().zip(inodes) {
        let file = fs::metadata(sb.path(path)).expect("stat");
        let object = fs::metadata(object_path(&sb.root, &b3(content))).expect("object");
        assert_eq!(
            file.ino(),
            ino,
            "{path} is still the user's inode: nothing copied"
        );
        assert_eq!(
            (object.dev(), object.ino()),
            (file.dev(), ino),
            "{path} is the object"
        );
        assert_eq!(file.mode() & 0o222, 0, "{path} is read-only now");
        assert_eq!(&sb.read(path), content);
    }
    assert_eq!(sb.status_json()["unstaged"], serde_json::json!([]));
    sb.ok(&["commit", "-m", "linked"]);
    assert_eq!(sb.status_json()["clean"], true);
    sb.ok(&["fsck"]);
    // A second add finds nothing to do, and a replaced file is an ordinary edit.
    sb.ok(&["add", "data"]);
    fs::remove_file(sb.path("data/small.txt")).expect("rm");
    sb.write("data/small.txt", b"edited\n");
    assert_eq!(
        sb.status_json()["unstaged"],
        serde_json::json!([{"path": "data/small.txt", "status": "modified"}])
    );
    sb.ok(&["add", "data"]);
    let edited = fs::metadata(sb.path("data/small.txt")).expect("stat");
    let object = fs::metadata(object_path(&sb.root, &b3(b"edited\n"))).expect("object");
    assert_eq!(edited.ino(), object.ino());
    assert_eq!(sb.status_json()["clean"], false, "staged, not committed");
    assert_eq!(sb.status_json()["unstaged"], serde_json::json!([]));
}

#[test]
fn hardlink_add_of_bytes_the_store_has_links_the_file_to_the_existing_object() {
    let sb = Sandbox::git_and_dvx();
    set_link(&sb, "hardlink");
    sb.write("data/a.txt", b"same bytes\n");
    sb.ok(&["add", "data"]);
    sb.write("data/b.txt", b"same bytes\n");
    sb.ok(&["add", "data"]);
    let a = fs::metadata(sb.path("data/a.txt")).expect("stat");
    let b = fs::metadata(sb.path("data/b.txt")).expect("stat");
    let object = fs::metadata(object_path(&sb.root, &b3(b"same bytes\n"))).expect("object");
    assert_eq!(a.ino(), object.ino());
    assert_eq!(b.ino(), object.ino(), "the duplicate shares the one object");
    assert_eq!(sb.read("data/b.txt"), b"same bytes\n");
    assert_eq!(sb.status_json()["unstaged"], serde_json::json!([]));
}

#[test]
fn symlink_add_moves_the_file_into_the_store_and_links_to_it() {
    let sb = Sandbox::git_and_dvx();
    set_link(&sb, "symlink");
    let expected = data(&sb);
    let inodes: Vec<u64> = expected
        .iter()
        .map(|(p, _)| fs::metadata(sb.path(p)).expect("stat").ino())
        .collect();
    sb.ok(&["add", "data"]);
    for ((path, content), ino) in expected.iter().zip(inodes) {
        let object = fs::canonicalize(object_path(&sb.root, &b3(content))).expect("object");
        assert_eq!(fs::read_link(sb.path(path)).expect("a symlink"), object);
        assert_eq!(
            fs::metadata(&object).expect("stat").ino(),
            ino,
            "{path}'s bytes moved into the store, not copied"
        );
        assert_eq!(&sb.read(path), content);
    }
    assert_eq!(sb.status_json()["unstaged"], serde_json::json!([]));
    sb.ok(&["commit", "-m", "linked"]);
    sb.ok(&["fsck"]);
    sb.ok(&["add", "data"]);
    assert_eq!(sb.status_json()["clean"], true);
}

#[test]
fn link_modes_copy_executable_files_and_copy_mode_keeps_files_writable() {
    let sb = Sandbox::git_and_dvx();
    set_link(&sb, "hardlink");
    sb.write("data/run.sh", b"#!/bin/sh\necho hi\n");
    fs::set_permissions(sb.path("data/run.sh"), fs::Permissions::from_mode(0o755)).expect("chmod");
    sb.ok(&["add", "data"]);
    let run = fs::metadata(sb.path("data/run.sh")).expect("stat");
    let object = fs::metadata(object_path(&sb.root, &b3(b"#!/bin/sh\necho hi\n"))).expect("obj");
    assert_ne!(
        run.ino(),
        object.ino(),
        "an executable keeps its own mode: copied"
    );
    assert_eq!(run.mode() & 0o777, 0o755);

    let sb = Sandbox::git_and_dvx();
    sb.write("data/plain.txt", b"plain\n");
    sb.ok(&["add", "data"]);
    let plain = fs::metadata(sb.path("data/plain.txt")).expect("stat");
    let object = fs::metadata(object_path(&sb.root, &b3(b"plain\n"))).expect("object");
    assert_ne!(plain.ino(), object.ino(), "copy mode copies");
    assert_ne!(
        plain.mode() & 0o200,
        0,
        "and the user's file stays writable"
    );
}

/// Several files with the same bytes in one add, stored in parallel: one of them becomes
/// the object, every other one a link to it (whichever linked first).
#[test]
fn hardlink_add_of_files_with_the_same_bytes_in_one_add_shares_one_object() {
    for link in ["hardlink", "symlink"] {
        let sb = Sandbox::git_and_dvx();
        set_link(&sb, link);
        for i in 0..16 {
            sb.write(&format!("data/copy{i:02}.txt"), b"the same bytes\n");
            sb.write(
                &format!("data/own{i:02}.txt"),
                format!("own {i}\n").as_bytes(),
            );
        }
        sb.ok(&["add", "data"]);
        let object = object_path(&sb.root, &b3(b"the same bytes\n"));
        let object_ino = fs::metadata(&object).expect("object").ino();
        for i in 0..16 {
            let path = format!("data/copy{i:02}.txt");
            assert_eq!(
                fs::metadata(sb.path(&path)).expect("stat").ino(),
                object_ino,
                "{link}: {path} is (or points at) the one object"
            );
            assert_eq!(sb.read(&path), b"the same bytes\n");
        }
        assert_eq!(fs::metadata(&object).expect("object").mode() & 0o222, 0);
        assert_eq!(
            sb.status_json()["unstaged"],
            serde_json::json!([]),
            "{link}"
        );
        sb.ok(&["commit", "-m", "copies"]);
        assert_eq!(sb.status_json()["clean"], true, "{link}");
        sb.ok(&["fsck"]);
        let leftovers = fs::read_dir(sb.path(".dvx/tmp")).expect("tmp").count();
        assert_eq!(leftovers, 0, "{link}: no temporary link left behind");
    }
}

/// A damaged object is replaced by the file being added in hard-link mode, which then
/// is the object; an intact one is left alone and the file becomes a link to it.
#[test]
fn hardlink_add_repairs_a_damaged_object_and_reuses_an_intact_one() {
    let sb = Sandbox::git_and_dvx();
    // Copy mode first, so the objects are not the files.
    sb.write("keep/a.txt", b"bytes to repair\n");
    sb.write("keep/b.txt", b"bytes to reuse\n");
    sb.ok(&["add", "keep"]);
    set_link(&sb, "hardlink");
    let damaged = object_path(&sb.root, &b3(b"bytes to repair\n"));
    dvx::atomic::write(&damaged, b"BYTES TO REPAIR\n").expect("damage the object");
    let intact = object_path(&sb.root, &b3(b"bytes to reuse\n"));
    let intact_ino = fs::metadata(&intact).expect("object").ino();

    sb.write("data/a.txt", b"bytes to repair\n");
    sb.write("data/b.txt", b"bytes to reuse\n");
    let a_ino = fs::metadata(sb.path("data/a.txt")).expect("stat").ino();
    sb.ok(&["add", "data"]);
    assert_eq!(
        fs::metadata(&damaged).expect("object").ino(),
        a_ino,
        "the damaged object was replaced by the added file"
    );
    assert_eq!(fs::read(&damaged).expect("read"), b"bytes to repair\n");
    assert_eq!(fs::metadata(&intact).expect("object").ino(), intact_ino);
    assert_eq!(
        fs::metadata(sb.path("data/b.txt")).expect("stat").ino(),
        intact_ino,
        "the file is now a link to the intact object"
    );
    sb.ok(&["fsck"]);
}

/// A file that is already its object (hard-linked, read-only) but whose stat no longer
/// matches its entry is read again and found to be the object it shares: nothing moves.
#[test]
fn hardlink_add_of_a_touched_linked_file_keeps_it_the_object() {
    let sb = Sandbox::git_and_dvx();
    set_link(&sb, "hardlink");
    sb.write("data/a.txt", b"linked bytes\n");
    sb.ok(&["add", "data"]);
    let object = object_path(&sb.root, &b3(b"linked bytes\n"));
    let ino = fs::metadata(&object).expect("object").ino();
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    fs::File::open(sb.path("data/a.txt"))
        .expect("open")
        .set_modified(later)
        .expect("touch");
    sb.ok(&["add", "data"]);
    let file = fs::metadata(sb.path("data/a.txt")).expect("stat");
    assert_eq!(file.ino(), ino, "still the object");
    assert_eq!(file.mode() & 0o777, 0o444, "still read-only");
    assert_eq!(fs::metadata(&object).expect("object").ino(), ino);
    assert_eq!(sb.status_json()["unstaged"], serde_json::json!([]));
    sb.ok(&["fsck"]);
}
