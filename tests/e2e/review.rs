//! Regression tests from a review of the index, checkout and store invariants. Each test
//! is named after the bug it pins down.

use std::fs;

use crate::harness::*;

/// The commit id `rev` resolves to.
fn rev_id(sb: &Sandbox, rev: &str) -> String {
    let log: serde_json::Value =
        serde_json::from_str(&sb.out(&["log", "--json", "-n", "1", rev])).expect("json");
    log[0]["id"].as_str().expect("id").to_owned()
}

/// Regression: a checkout to a commit whose new bytes are not local deletes the old
/// file and records the path as not fetched. Killed after the deletion but before the
/// index was written, the re-run saw a tracked file missing from the work tree, called it
/// a local change and refused without `--force`.
#[test]
fn an_interrupted_checkout_to_absent_bytes_can_be_run_again() {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/a.bin", &bytes(1, 4000));
    sb.write("data/keep.txt", b"keep\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "one"]);
    let one = rev_id(&sb, "HEAD");
    sb.write("data/a.bin", &bytes(2, 4000));
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "two"]);
    let two = rev_id(&sb, "HEAD");
    sb.ok(&["checkout", &one]);
    // The bytes of the second version are not local (a clone that never fetched them).
    fs::remove_file(object_path(&sb.root, &b3(&bytes(2, 4000)))).expect("rm object");

    // What a checkout to `two` killed after its deletions leaves: the old file is gone,
    // the index, HEAD and CHECKOUT are as they were.
    sb.write(".dvx/CHECKOUT", format!("{two}\n").as_bytes());
    fs::remove_file(sb.path("data/a.bin")).expect("rm");

    sb.ok(&["checkout", &two]);
    let status = sb.status_json();
    assert_eq!(status["clean"], true, "{status}");
    assert!(!sb.exists(".dvx/CHECKOUT"));
    assert!(!sb.exists("data/a.bin"));
    assert_contains(&status["not_fetched"].to_string(), "data/a.bin");
}

/// Set `core.link` in the tracked config.
fn set_link(sb: &Sandbox, link: &str) {
    let config = String::from_utf8(sb.read(".dvx/config.toml")).expect("utf-8");
    let replaced = config.replace("link = \"reflink,copy\"", &format!("link = \"{link}\""));
    assert_ne!(replaced, config, "the config has a link line:\n{config}");
    sb.write(".dvx/config.toml", replaced.as_bytes());
}

/// Make `rel` a symlink to the stored object holding `content`, as checkout does in
/// symlink mode.
fn link_to_object(sb: &Sandbox, rel: &str, content: &[u8]) {
    let object = fs::canonicalize(object_path(&sb.root, &b3(content))).expect("object");
    let path = sb.path(rel);
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let _ = fs::remove_file(&path);
    std::os::unix::fs::symlink(object, &path).expect("symlink");
}

/// Regression: in symlink mode a checkout writes each file as a symlink to its object.
/// Killed before the index was written, the re-run hashed those links as symlinks (their
/// target path, not the object's bytes), so it called them local changes and refused
/// without `--force`; and a link it did adopt was recorded as an unlinked file, which
/// `status` then reported as modified.
#[test]
fn an_interrupted_symlink_mode_checkout_can_be_run_again() {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/a.bin", &bytes(1, 4000));
    sb.write("data/keep.txt", b"keep\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "one"]);
    let one = rev_id(&sb, "HEAD");
    sb.write("data/a.bin", &bytes(2, 4000));
    sb.write("data/new/x.bin", &bytes(3, 3000));
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "two"]);
    let two = rev_id(&sb, "HEAD");
    set_link(&sb, "symlink");
    sb.ok(&["checkout", &one]);
    assert!(!sb.exists("data/new"));

    // What a checkout to `two` killed after its writes leaves: every changed file is a
    // link to its new object; the index, HEAD and CHECKOUT are as they were.
    sb.write(".dvx/CHECKOUT", format!("{two}\n").as_bytes());
    link_to_object(&sb, "data/a.bin", &bytes(2, 4000));
    link_to_object(&sb, "data/new/x.bin", &bytes(3, 3000));

    sb.ok(&["checkout", &two]);
    assert!(!sb.exists(".dvx/CHECKOUT"));
    let status = sb.status_json();
    assert_eq!(status["clean"], true, "{status}");
    assert_eq!(sb.read("data/a.bin"), bytes(2, 4000));
    assert_eq!(sb.read("data/new/x.bin"), bytes(3, 3000));
    sb.ok(&["fsck"]);
}

/// The same, from a work tree whose files were added (not checked out as links).
#[test]
fn an_interrupted_symlink_mode_checkout_over_added_files_can_be_run_again() {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/a.bin", &bytes(1, 4000));
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "one"]);
    sb.write("data/a.bin", &bytes(2, 4000));
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "two"]);
    let two = rev_id(&sb, "HEAD");
    sb.ok(&["checkout", "-b", "old", "HEAD~1"]);
    // Back to the added bytes: the index has a plain (not linked) entry for a.bin.
    sb.write("data/a.bin", &bytes(1, 4000));
    sb.ok(&["add", "data"]);
    assert_eq!(sb.status_json()["clean"], true);
    set_link(&sb, "symlink");

    sb.write(".dvx/CHECKOUT", format!("{two}\n").as_bytes());
    link_to_object(&sb, "data/a.bin", &bytes(2, 4000));

    sb.ok(&["checkout", &two]);
    let status = sb.status_json();
    assert_eq!(status["clean"], true, "{status}");
    assert_eq!(sb.read("data/a.bin"), bytes(2, 4000));
}

/// Regression: a checkout deleted tracked files through a parent directory that had been
/// replaced by a symlink (data moved to another disk and linked back), removing files
/// outside the work tree. Writes below such a symlink were already refused.
#[test]
fn checkout_never_deletes_through_a_symlinked_directory() {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/sub/x.bin", &bytes(1, 3000));
    sb.write("data/keep.txt", b"keep\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "one"]);
    let one = rev_id(&sb, "HEAD");
    sb.ok(&["rm", "data/sub/x.bin"]);
    sb.ok(&["commit", "-m", "two"]);
    let two = rev_id(&sb, "HEAD");
    sb.ok(&["checkout", &one]);
    assert_eq!(sb.read("data/sub/x.bin"), bytes(1, 3000));

    // The directory moves elsewhere and is linked back.
    let outside = sb.home.join("elsewhere");
    fs::rename(sb.path("data/sub"), &outside).expect("move");
    std::os::unix::fs::symlink(&outside, sb.path("data/sub")).expect("symlink");

    // The files beyond the link are not the work tree's (they count as deleted), so the
    // checkout to a version without them succeeds and leaves the link alone.
    sb.ok(&["checkout", &two]);
    assert!(
        fs::symlink_metadata(sb.path("data/sub")).is_ok_and(|m| m.file_type().is_symlink()),
        "the user's symlink stays"
    );
    assert_eq!(
        fs::read(outside.join("x.bin")).expect("the file outside the work tree is kept"),
        bytes(1, 3000)
    );
}

/// The same for `dvx rm` of a directory above the symlink.
#[test]
fn rm_never_deletes_through_a_symlinked_directory() {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/sub/x.bin", &bytes(1, 3000));
    sb.write("data/y.bin", &bytes(2, 3000));
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "one"]);
    let outside = sb.home.join("elsewhere");
    fs::rename(sb.path("data/sub"), &outside).expect("move");
    std::os::unix::fs::symlink(&outside, sb.path("data/sub")).expect("symlink");

    sb.ok(&["rm", "data"]);
    assert!(!sb.exists("data/y.bin"));
    assert_eq!(
        fs::read(outside.join("x.bin")).expect("the file outside the work tree is kept"),
        bytes(1, 3000)
    );
}

/// Regression: gc walks git history for the commits `dvx.lock` pins, and a git error must
/// stop it before it deletes anything. But errors met while walking (a commit object
/// that cannot be read) were dropped, so the history behind it was never searched and
/// data pinned only there was deleted.
#[test]
fn gc_stops_when_git_history_cannot_be_walked() {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/base.txt", b"base\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "base"]);
    sb.ok(&["checkout", "-b", "experiment"]);
    sb.write("data/only-here.bin", &bytes(42, 10_000));
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "experiment data", "--git-add"]);
    sb.git(&["commit", "-q", "-m", "pin the experiment"]);
    // Nothing in dvx references the experiment any more: only that git commit pins it.
    sb.ok(&["checkout", "main"]);
    sb.ok(&["branch", "-D", "experiment"]);
    // Code moves on in git; the middle commit's object will be lost.
    sb.write("train.py", b"print('v2')\n");
    sb.git(&["commit", "-q", "-am", "middle"]);
    let middle = sb.git(&["rev-parse", "HEAD"]).trim().to_owned();
    sb.write("train.py", b"print('v3')\n");
    sb.git(&["commit", "-q", "-am", "top"]);
    let blob = object_path(&sb.root, &b3(&bytes(42, 10_000)));
    let gc = |sb: &Sandbox| {
        sb.dvx()
            .env("DVX_DATE", far_future())
            .args(["gc", "--grace", "0"])
            .output()
            .expect("run gc")
    };
    // With the history intact, the pin keeps the data.
    assert!(gc(&sb).status.success());
    assert!(blob.is_file(), "the pinned blob survives gc");

    let loose = sb.path(&format!(".git/objects/{}/{}", &middle[..2], &middle[2..]));
    fs::remove_file(&loose).expect("lose the middle commit");
    let out = gc(&sb);
    assert!(
        blob.is_file(),
        "data pinned behind an unreadable git commit survives gc: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!out.status.success(), "gc says it stopped");
}

/// Regression: in hard-link mode a file shares its object's inode, so writing into it
/// changes the stored object. `status` calls that `corrupt` ("damage to the store, not an
/// edit to commit"), but `dvx add` staged the new bytes as a modification and the next
/// commit recorded them, hiding the damage; and `dvx checkout -- <path>`, which status
/// suggests, linked the damaged object again and recorded the file as clean.
#[test]
fn add_and_restore_refuse_a_hardlinked_file_changed_in_place() {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::git_and_dvx();
    sb.write("data/small.txt", b"small\n");
    sb.write("data/other.txt", b"other\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "one"]);
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

    let before = sb.dvx_state();
    // Restoring it would link the damaged object again and call the file clean.
    let err = sb.fails(&["checkout", "--", "data/small.txt"], 1);
    assert_contains(&err, "corrupt");
    assert_eq!(sb.dvx_state(), before, "nothing restored");
    assert_contains(&sb.status_json()["unstaged"].to_string(), "corrupt");
    let err = sb.fails(&["add", "data"], 1);
    let (error, _) = error_and_hint(&err);
    assert_contains(&error, "data/small.txt");
    assert_contains(&error, &b3(b"small\n")[..10]);
    assert_eq!(sb.dvx_state(), before, "nothing staged");
    assert_eq!(sb.status_json()["staged"], serde_json::json!([]));
}

/// Regression: below a directory recorded as not fetched (lazy checkout), a checkout
/// that adds a file took an untracked file already at that path for the index's version
/// and overwrote it without `--force`. An untracked file in the way must equal the
/// target, as everywhere else.
#[test]
fn checkout_keeps_an_untracked_file_below_a_not_fetched_directory() {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/d/a.txt", b"a\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "a"]);
    let a = rev_id(&sb, "HEAD");
    sb.write("data/d/f.txt", b"theirs\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "b"]);
    let b = rev_id(&sb, "HEAD");
    sb.ok(&["rm", "data/d"]);
    sb.write("data/other.txt", b"other\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "e"]);
    // a.txt's bytes are not local, so a lazy checkout of `a` keeps data/d as one
    // not-fetched entry.
    fs::remove_file(object_path(&sb.root, &b3(b"a\n"))).expect("rm object");
    sb.ok(&["checkout", "--lazy", &a]);
    assert!(!sb.exists("data/d"));
    sb.write("data/d/f.txt", b"mine\n");

    let err = sb.fails(&["checkout", &b], 1);
    assert_contains(&err, "data/d/f.txt");
    assert_eq!(
        sb.read("data/d/f.txt"),
        b"mine\n",
        "the untracked file is kept"
    );
}

#[test]
fn an_unstaged_deletion_does_not_block_a_checkout_that_rewrites_the_file() {
    // As in git: the deleted file's bytes are in the store, so nothing is lost.
    let sb = Sandbox::dvx_only();
    sb.write("data/a.txt", b"one\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "one"]);
    sb.ok(&["branch", "first"]);
    sb.write("data/a.txt", b"two\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "two"]);
    std::fs::remove_file(sb.path("data/a.txt")).expect("delete");
    sb.ok(&["checkout", "first"]);
    assert_eq!(sb.read("data/a.txt"), b"one\n");
    assert_eq!(sb.status_json()["clean"], true);
}
