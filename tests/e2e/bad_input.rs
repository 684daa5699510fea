//! Bad input: every refusal exits with the right code, says what and where in one
//! `error:` line with a `hint:`, never panics, and leaves the repository as it was.

use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

use crate::harness::*;

/// A repository with one committed and one staged file, so the index has a base and a
/// delta and the store is not empty.
fn repo() -> Sandbox {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/a.txt", b"a\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "first"]);
    sb.write("data/b.txt", b"b\n");
    sb.ok(&["add", "data"]);
    sb
}

/// Run `args`, expecting exit `code`, one error line naming `needle` and a hint, and no
/// change under `.dvx/` or in `data/`. Returns the error line.
fn refused(sb: &Sandbox, args: &[&str], code: i32, needle: &str) -> String {
    let state = sb.dvx_state();
    let data = sb.snapshot("data");
    let stderr = sb.fails(args, code);
    let (error, _hint) = error_and_hint(&stderr);
    assert_contains(&error, needle);
    assert_eq!(sb.dvx_state(), state, "dvx {args:?} changed .dvx/");
    assert_eq!(sb.snapshot("data"), data, "dvx {args:?} changed data/");
    error
}

#[test]
fn a_path_that_does_not_exist() {
    let sb = repo();
    let error = refused(&sb, &["add", "data/nope.csv"], 1, "data/nope.csv");
    assert_contains(&error, "does not exist");
    // One bad path among good ones: nothing at all is added.
    sb.write("data/c.txt", b"c\n");
    refused(&sb, &["add", "data/c.txt", "nope"], 1, "nope");
    refused(&sb, &["rm", "data/nope.csv"], 1, "data/nope.csv");
    refused(
        &sb,
        &["checkout", "--", "data/nope.csv"],
        1,
        "data/nope.csv",
    );
}

#[test]
fn a_path_outside_the_repository() {
    let sb = repo();
    let outside = sb.root.parent().expect("parent").join("x");
    write_at(&outside, b"outside\n");
    let error = refused(&sb, &["add", "../x"], 1, "../x");
    assert_contains(&error, "outside the repository");
    let abs = sb.home.join("abs.txt");
    write_at(&abs, b"outside\n");
    let abs_str = abs.to_str().expect("utf-8");
    refused(&sb, &["add", abs_str], 1, abs_str);
    refused(&sb, &["add", "/tmp"], 1, "outside the repository");
    refused(&sb, &["status", "../x"], 1, "outside the repository");
    refused(&sb, &["rm", abs_str], 1, "outside the repository");
    refused(
        &sb,
        &["checkout", "--", "../x"],
        1,
        "outside the repository",
    );
    // Climbing out through a tracked directory is still outside.
    refused(&sb, &["add", "data/../../x"], 1, "outside the repository");
}

#[test]
fn outside_any_dvx_repository() {
    for sb in [Sandbox::empty(), Sandbox::git_only()] {
        sb.write("data/a.txt", b"a\n");
        for args in [
            &["status"][..],
            &["add", "data"],
            &["commit", "-m", "x"],
            &["log"],
            &["fsck"],
            &["checkout", "--", "data"],
        ] {
            let stderr = sb.fails(args, 1);
            let (error, hint) = error_and_hint(&stderr);
            assert_contains(&error, "not inside a dvx repository");
            assert_contains(&hint, "dvx init");
            assert!(!sb.exists(".dvx"), "dvx {args:?} created .dvx");
        }
    }
}

#[test]
fn an_unreadable_file() {
    let sb = repo();
    sb.write("data/secret.bin", b"secret");
    fs::set_permissions(
        sb.path("data/secret.bin"),
        fs::Permissions::from_mode(0o000),
    )
    .expect("chmod 000");
    if running_as_root() {
        eprintln!("skipping the unreadable-file check: root reads files whatever their mode");
        return;
    }
    let error = refused(&sb, &["add", "data"], 1, "data/secret.bin");
    assert_contains(&error, "ermission denied");
}

#[test]
fn a_repository_of_a_newer_format() {
    let sb = repo();
    let config = String::from_utf8(sb.read(".dvx/config.toml")).expect("utf-8");
    sb.write(
        ".dvx/config.toml",
        config.replace("format = 1", "format = 2").as_bytes(),
    );
    for args in [
        &["status"][..],
        &["add", "data"],
        &["commit", "-m", "x"],
        &["fsck"],
        &["checkout", "--", "data"],
        &["init"],
    ] {
        let error = refused(&sb, args, 1, "format 2");
        assert_contains(&error, "config.toml");
        let stderr = sb.fails(args, 1);
        assert_contains(&stderr, "hint: upgrade dvx");
    }
}

#[test]
fn a_corrupt_index() {
    let sb = repo();
    let mut index = sb.read(".dvx/index");
    let middle = index.len() / 2;
    index[middle] ^= 0xff;
    index[middle + 1] ^= 0x55;
    sb.write(".dvx/index", &index);
    for args in [
        &["status"][..],
        &["add", "data"],
        &["commit", "-m", "x"],
        &["rm", "data/a.txt"],
        &["checkout", "--", "data"],
    ] {
        let error = refused(&sb, args, 1, ".dvx/index");
        assert_contains(&error, "damaged");
    }
    // fsck reports it as damage rather than failing to run.
    let out = sb.dvx().arg("fsck").output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert_contains(&String::from_utf8_lossy(&out.stdout), "index");
}

#[test]
fn a_truncated_index_delta() {
    let sb = repo();
    assert!(sb.exists(".dvx/index.delta"));
    let delta = sb.read(".dvx/index.delta");
    sb.write(".dvx/index.delta", &delta[..delta.len() / 2]);
    refused(&sb, &["status"], 1, ".dvx/index.delta");
    refused(&sb, &["add", "data"], 1, ".dvx/index.delta");
}

#[test]
fn unknown_subcommands_and_flags_are_usage_errors() {
    let sb = repo();
    for args in [
        &["frobnicate"][..],
        &["status", "--frobnicate"],
        &["add"],
        &["add", "--bogus", "data"],
        &["-C", "no/such/dir", "status"],
    ] {
        let state = sb.dvx_state();
        let stderr = sb.fails(args, 2);
        let errors = stderr.lines().filter(|l| l.starts_with("error:")).count();
        assert_eq!(errors, 1, "one error line for {args:?}:\n{stderr}");
        assert!(
            stderr.contains("--help") || stderr.contains("hint:"),
            "dvx {args:?} says what to do next:\n{stderr}"
        );
        assert_eq!(sb.dvx_state(), state);
    }
}

#[test]
fn adding_anything_inside_dvx_or_git_is_refused() {
    let sb = repo();
    refused(&sb, &["add", ".dvx"], 1, ".dvx");
    refused(&sb, &["add", ".dvx/objects"], 1, ".dvx");
    refused(&sb, &["add", ".git"], 1, ".git");
    refused(&sb, &["add", "./.dvx/../.dvx/HEAD"], 1, ".dvx");
    // From inside .dvx/ itself.
    let state = sb.dvx_state();
    let out = sb
        .dvx()
        .current_dir(sb.path(".dvx/objects"))
        .args(["add", "."])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let (error, _) = error_and_hint(&String::from_utf8_lossy(&out.stderr));
    assert_contains(&error, ".dvx");
    assert_eq!(sb.dvx_state(), state);
}

#[test]
fn a_name_that_is_not_utf8_is_named_and_refused() {
    use std::os::unix::ffi::OsStrExt;
    let sb = repo();
    let name = std::ffi::OsStr::from_bytes(b"data/bad-\xff-name");
    let path = sb.root.join(name);
    write_at(&path, b"bytes");
    let error = refused(&sb, &["add", "data"], 1, "bad-");
    assert_contains(&error, "UTF-8");
}

#[test]
fn a_writer_waits_for_the_lock_then_fails_naming_it_while_readers_go_on() {
    let sb = repo();
    sb.write("data/c.txt", b"c\n");
    let lock = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(sb.path(".dvx/lock"))
        .expect("open lock");
    lock.lock().expect("take the lock");
    // As a dvx holder does, record who holds it.
    (&lock)
        .write_all(format!("{}\n", std::process::id()).as_bytes())
        .expect("write pid");
    let state = sb.dvx_state();
    for args in [
        &["add", "data"][..],
        &["commit", "-m", "x"],
        &["rm", "data/a.txt"],
        &["checkout", "--", "data"],
    ] {
        let stderr = sb.fails(args, 1);
        let (error, hint) = error_and_hint(&stderr);
        assert_contains(&error, ".dvx/lock");
        assert_contains(&error, "locked");
        assert_contains(&error, &format!("pid {}", std::process::id()));
        assert_contains(&hint, "another dvx command");
    }
    assert_eq!(sb.dvx_state(), state, "refused writers changed nothing");
    // Readers take no lock.
    assert_contains(&sb.out(&["status"]), "new:      data/c.txt");
    assert_contains(&sb.out(&["log"]), "first");
    sb.ok(&["ls"]);
    sb.ok(&["fsck"]);
    lock.unlock().expect("unlock");
    drop(lock);
    sb.ok(&["add", "data"]);
}

#[test]
fn a_closed_stdout_is_not_a_panic() {
    let sb = repo();
    for i in 0..200 {
        sb.write(&format!("data/many/f{i:03}.txt"), b"x");
    }
    for args in [&["status"][..], &["log"], &["ls"], &["status", "--json"]] {
        // The reading end is closed before dvx writes its first byte.
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let out = sb
            .dvx_std()
            .args(args)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
            "dvx {args:?} | (closed): {stderr}"
        );
        assert_ne!(out.status.code(), Some(101), "dvx {args:?} panicked");
    }
}

/// Write a file anywhere (the harness writes inside the work tree).
fn write_at(path: &std::path::Path, bytes: &[u8]) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("mkdir");
    }
    dvx::atomic::write(path, bytes).expect("write");
}
