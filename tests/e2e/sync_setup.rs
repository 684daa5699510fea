//! Setting remotes up and the ways in: `dvx remote` (config edits that keep comments,
//! the default remote, credentials only in `config.local.toml` and never printed), a
//! store shared by two clones (`core.store`, `core.shared`), the git way in (`git clone`
//! then `dvx pull`), and the pre-push hook against a real bare git upstream.

use std::os::unix::fs::PermissionsExt;

use crate::harness::{Sandbox, assert_contains, bytes, error_and_hint};
use crate::s3_server::{ACCESS_KEY, SECRET_KEY};
use crate::sync::{Peer, directory, s3};

/// `.dvx/config.toml`.
fn config(sb: &Sandbox) -> String {
    String::from_utf8(sb.read(".dvx/config.toml")).expect("utf-8")
}

#[test]
fn remotes_are_added_listed_set_renamed_and_removed() {
    let sb = Sandbox::git_and_dvx();
    let (one, two, three) = (directory(), directory(), directory());
    let added = sb.out(&["remote", "add", "origin", &one.url]);
    assert_contains(&added, "added remote 'origin'");
    assert_contains(&added, "the default remote");
    assert_contains(&added, "git add .dvx/config.toml");
    let text = config(&sb);
    // The comments dvx init wrote are still there.
    assert_contains(&text, "# dvx repository settings, shared through git.");
    assert_contains(&text, "# How checkout writes files");
    assert_contains(&text, "remote = \"origin\"");
    assert_contains(&text, &format!("[remote.origin]\nurl = \"{}\"\n", one.url));
    assert!(one.files.join("dvx-remote.toml").is_file());

    // A second remote is not the default, unless asked.
    let second = sb.out(&["remote", "add", "backup", &two.url]);
    assert!(!second.contains("default"), "{second}");
    sb.out(&["remote", "add", "third", &three.url, "--default"]);
    let list = sb.out(&["remote", "list"]);
    assert_eq!(
        list,
        format!(
            "backup\t{}\norigin\t{}\nthird\t{} (default)\n",
            two.url, one.url, three.url
        )
    );
    let err = sb.fails(&["remote", "add", "origin", &two.url], 1);
    assert_contains(
        &error_and_hint(&err).0,
        "a remote named 'origin' already exists",
    );
    let err = sb.fails(&["remote", "add", "a/b", &two.url], 1);
    assert_contains(&err, "'a/b' is not a valid remote name");

    // Settings: checked as they will be read; credentials only with --local.
    let before = config(&sb);
    sb.out(&["remote", "set", "origin", "region", "eu-west-1"]);
    assert_contains(&config(&sb), "region = \"eu-west-1\"");
    sb.out(&["remote", "set", "origin", "allow_http", "true"]);
    sb.out(&["remote", "set", "origin", "jobs", "8"]);
    let err = sb.fails(&["remote", "set", "origin", "jobs", "0"], 1);
    assert_contains(
        &err,
        "remote.origin.jobs must be a whole number from 1 to 1024",
    );
    let err = sb.fails(&["remote", "set", "origin", "colour", "red"], 1);
    assert_contains(&err, "'colour' is not a remote setting");
    let err = sb.fails(
        &[
            "remote",
            "set",
            "origin",
            "secret_access_key",
            "s3cr3t-value",
        ],
        1,
    );
    let (error, hint) = error_and_hint(&err);
    assert_contains(&error, "remote.origin.secret_access_key is a credential");
    assert_contains(&hint, "--local");
    assert!(!config(&sb).contains("s3cr3t-value"));
    assert_ne!(config(&sb), before);
    let set = sb.out(&[
        "remote",
        "set",
        "origin",
        "secret_access_key",
        "s3cr3t-value",
        "--local",
    ]);
    assert_contains(
        &set,
        ".dvx/config.local.toml (this machine only, never committed)",
    );
    let local = sb.path(".dvx/config.local.toml");
    let mode = std::fs::metadata(&local)
        .expect("local config")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "a file holding credentials is private");
    let list = sb.out(&["remote", "list"]);
    assert_contains(
        &list,
        "    region = eu-west-1\n    allow_http = true\n    jobs = 8\n    secret_access_key = ***\n",
    );
    let json: serde_json::Value =
        serde_json::from_str(&sb.out(&["remote", "list", "--json"])).expect("json");
    let origin = &json[1];
    assert_eq!(origin["name"], "origin");
    assert_eq!(origin["default"], false);
    assert_eq!(origin["settings"]["region"], "eu-west-1");
    // Numbers and booleans keep their types.
    assert_eq!(origin["settings"]["jobs"], 8);
    assert_eq!(origin["settings"]["allow_http"], true);
    assert_eq!(origin["credentials"]["secret_access_key"], "***");
    assert_eq!(json[2]["default"], true);

    // Rename takes the remote-tracking branches and the default along.
    sb.write("data/x", b"x");
    sb.out(&["add", "data"]);
    sb.out(&["commit", "-m", "x"]);
    sb.out(&["push", "third"]);
    sb.out(&["remote", "rename", "third", "upstream"]);
    assert_contains(
        &sb.out(&["log", "--oneline"]),
        "(HEAD -> main, upstream/main)",
    );
    assert_contains(&config(&sb), "remote = \"upstream\"");
    assert_contains(&sb.out(&["remote", "list"]), "upstream\t");
    assert_contains(
        &sb.out(&["status"]),
        "Your branch is up to date with 'upstream/main'.",
    );
    // Remove: both files, and the remote-tracking branches.
    sb.out(&["remote", "rename", "origin", "old"]);
    let local_text = String::from_utf8(sb.read(".dvx/config.local.toml")).expect("utf-8");
    assert_contains(&local_text, "[remote.old]");
    let removed = sb.out(&["remote", "remove", "upstream"]);
    assert_contains(
        &removed,
        "removed remote 'upstream' and its 1 remote-tracking branch",
    );
    // The default went with it, and two remain: none is guessed, and the user is told.
    assert_contains(
        &removed,
        "no remote is the default now (backup, old): make one the default with `dvx remote default <name>`",
    );
    assert!(!sb.out(&["log", "--oneline"]).contains("upstream/"));
    let removed = sb.out(&["remote", "remove", "old"]);
    assert_contains(&removed, "the default remote is now 'backup'");
    assert!(
        !String::from_utf8(sb.read(".dvx/config.local.toml"))
            .expect("utf-8")
            .contains("remote")
    );
    let err = sb.fails(&["remote", "remove", "old"], 1);
    assert_contains(
        &err,
        "no remote named 'old' is configured (configured: backup)",
    );
    // With one remote left, it is the default.
    assert_eq!(
        sb.out(&["remote", "list"]),
        format!("backup\t{} (default)\n", two.url)
    );
}

#[test]
fn a_relative_directory_is_recorded_from_the_top() {
    let sb = Sandbox::dvx_only();
    std::fs::create_dir_all(sb.path("sub/dir")).expect("mkdir");
    sb.dvx()
        .current_dir(sb.path("sub/dir"))
        .args(["remote", "add", "origin", "../../../shared"])
        .assert()
        .success();
    assert_contains(&config(&sb), "url = \"../shared\"");
    assert!(sb.root.join("../shared/dvx-remote.toml").is_file());
}

#[test]
fn credentials_are_never_printed_nor_put_in_tracked_files() {
    let remote = s3();
    let server = remote.server.as_ref().expect("s3");
    let wrong = "WRONG-secret-value-0123456789";
    let sb = Sandbox::git_and_dvx();
    let with_keys = |cmd: &mut assert_cmd::Command| {
        cmd.envs(server.env());
    };
    let mut add = sb.dvx();
    with_keys(&mut add);
    add.args(["remote", "add", "origin", &remote.url])
        .assert()
        .success();
    // From now on the keys come only from config.local.toml.
    let plain: Vec<(String, String)> = server
        .env()
        .into_iter()
        .filter(|(k, _)| !k.contains("KEY"))
        .collect();
    let mut outputs: Vec<String> = Vec::new();
    let mut run = |args: &[&str], succeed: bool| {
        let out = sb
            .dvx()
            .envs(plain.iter().cloned())
            .args(args)
            .output()
            .expect("run");
        assert_eq!(
            out.status.success(),
            succeed,
            "dvx {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        outputs.push(String::from_utf8_lossy(&out.stdout).into_owned());
        outputs.push(String::from_utf8_lossy(&out.stderr).into_owned());
    };
    run(
        &[
            "remote",
            "set",
            "origin",
            "access_key_id",
            ACCESS_KEY,
            "--local",
        ],
        true,
    );
    run(
        &[
            "remote",
            "set",
            "origin",
            "secret_access_key",
            SECRET_KEY,
            "--local",
        ],
        true,
    );
    sb.write("data/x.csv", b"1,2\n");
    run(&["add", "data"], true);
    run(&["commit", "-m", "data"], true);
    run(&["push"], true);
    run(&["push", "--json"], true);
    run(&["fetch", "--json"], true);
    run(&["pull", "--json"], true);
    run(&["status", "--json"], true);
    run(&["remote", "list"], true);
    run(&["remote", "list", "--json"], true);
    // A wrong secret fails, even with nothing new to push, and is not shown either.
    run(
        &[
            "remote",
            "set",
            "origin",
            "secret_access_key",
            wrong,
            "--local",
        ],
        true,
    );
    run(&["push"], false);
    run(&["fetch"], false);
    run(
        &["remote", "set", "origin", "secret_access_key", wrong],
        false,
    );
    let denied = outputs.iter().rev().nth(4).cloned().unwrap_or_default();
    assert_contains(&denied, "denied access");
    for text in &outputs {
        for secret in [SECRET_KEY, wrong, ACCESS_KEY] {
            assert!(!text.contains(secret), "{secret} printed in:\n{text}");
        }
    }
    // Neither in the files git tracks.
    for tracked in sb.git(&["ls-files"]).lines() {
        let bytes = std::fs::read(sb.path(tracked)).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        for secret in [SECRET_KEY, wrong] {
            assert!(!text.contains(secret), "{secret} in tracked {tracked}");
        }
    }
    for file in [".dvx/config.toml", "dvx.lock", ".gitignore"] {
        let text = String::from_utf8_lossy(&sb.read(file)).into_owned();
        assert!(
            !text.contains(SECRET_KEY) && !text.contains(wrong),
            "{file}"
        );
    }
    // A secret written into the tracked config by hand is refused, named by key only.
    let mut text = config(&sb);
    text.push_str(&format!("secret_access_key = \"{wrong}\"\n"));
    crate::harness::Sandbox::write(&sb, ".dvx/config.toml", text.as_bytes());
    let out = sb
        .dvx()
        .envs(plain.iter().cloned())
        .args(["fetch"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_contains(&stderr, "remote.origin.secret_access_key");
    assert!(!stderr.contains(wrong), "{stderr}");
    let list = sb.dvx().args(["remote", "list"]).output().expect("run");
    let shown =
        String::from_utf8_lossy(&list.stdout).into_owned() + &String::from_utf8_lossy(&list.stderr);
    assert!(!shown.contains(wrong), "{shown}");
    assert_contains(&shown, "is in the tracked .dvx/config.toml");
    // Setting it with --local is the repair: the key leaves the tracked file, with a
    // warning to change a credential that may have been shared, and fetch works again.
    let repair = sb
        .dvx()
        .envs(plain.iter().cloned())
        .args([
            "remote",
            "set",
            "origin",
            "secret_access_key",
            SECRET_KEY,
            "--local",
        ])
        .output()
        .expect("run");
    assert!(repair.status.success(), "{repair:?}");
    let warned = String::from_utf8_lossy(&repair.stderr);
    assert_contains(
        &warned,
        "removed remote.origin.secret_access_key from .dvx/config.toml",
    );
    assert!(
        !warned.contains(wrong) && !warned.contains(SECRET_KEY),
        "{warned}"
    );
    assert!(!config(&sb).contains(wrong), "{}", config(&sb));
    sb.dvx()
        .envs(plain.iter().cloned())
        .args(["fetch"])
        .assert()
        .success();
}

#[test]
fn two_clones_share_one_store() {
    let shared = tempfile::tempdir().expect("tempdir");
    let store = shared.path().join("cache");
    let local = format!(
        "[core]\nstore = \"{}\"\nshared = \"group\"\n",
        store.display()
    );
    let a = Sandbox::dvx_only();
    let b = Sandbox::dvx_only();
    for sb in [&a, &b] {
        sb.write(".dvx/config.local.toml", local.as_bytes());
    }
    a.write("data/big.bin", &bytes(4, 200_000));
    a.write("data/small.txt", b"small\n");
    a.out(&["add", "data"]);
    a.out(&["commit", "-m", "from a"]);
    let head: serde_json::Value =
        serde_json::from_str(&a.out(&["status", "--json"])).expect("json");
    let commit = head["head"].as_str().expect("commit").to_owned();
    // The objects went to the shared store, not into a's .dvx/.
    assert!(a.objects().is_empty());
    assert!(store.join("objects").is_dir());
    // b sees a's commit at once, with no remote and no copy.
    b.out(&["checkout", &commit]);
    assert_eq!(b.snapshot("data"), a.snapshot("data"));
    assert!(b.objects().is_empty());
    // Group-writable, setgid directories, so every member of the group can add objects.
    for dir in [store.join("objects"), store.join("tmp")] {
        let mode = std::fs::metadata(&dir).expect("dir").permissions().mode();
        assert_eq!(mode & 0o2070, 0o2070, "{}: {mode:o}", dir.display());
    }
    for fan in std::fs::read_dir(store.join("objects")).expect("objects") {
        let mode = fan
            .expect("entry")
            .metadata()
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o2070, 0o2070, "{mode:o}");
    }
    // gc cannot see the other clone's roots, so it refuses to delete anything.
    let err = a.fails(&["gc"], 1);
    let (error, _) = error_and_hint(&err);
    assert_contains(&error, "is shared with other clones (core.store)");
    // A value core.shared does not take is refused, naming it.
    b.write(".dvx/config.local.toml", b"[core]\nshared = \"world\"\n");
    let err = b.fails(&["status"], 1);
    assert_contains(&err, "core.shared: 'world' is not a valid value");
}

/// A git repository with dvx, a directory remote as `origin`, and a bare git upstream
/// `up`.
fn git_setup() -> (
    Sandbox,
    crate::sync::Remote,
    std::path::PathBuf,
    tempfile::TempDir,
) {
    let sb = Sandbox::git_and_dvx();
    let remote = directory();
    sb.out(&["remote", "add", "origin", &remote.url]);
    let bare_dir = tempfile::tempdir().expect("tempdir");
    let bare = bare_dir.path().join("up.git");
    sb.git(&[
        "init",
        "-q",
        "--bare",
        "-b",
        "main",
        &bare.to_string_lossy(),
    ]);
    sb.git(&["remote", "add", "up", &bare.to_string_lossy()]);
    (sb, remote, bare, bare_dir)
}

/// A git clone of `bare` in a new sandbox.
fn git_clone(bare: &std::path::Path) -> Sandbox {
    let other = Sandbox::empty();
    other.git_in(&other.root, &["clone", "-q", &bare.to_string_lossy(), "."]);
    other
}

#[test]
fn git_clone_then_dvx_pull_is_the_way_in() {
    let (sb, _remote, bare, _keep) = git_setup();
    sb.write("data/train/a.bin", &bytes(1, 5000));
    sb.write("data/labels.csv", b"a,1\n");
    sb.out(&["add", "data"]);
    sb.out(&["commit", "-m", "data", "--git-add"]);
    sb.git(&["add", ".dvx/config.toml", ".gitignore"]);
    sb.git(&["commit", "-q", "-m", "data and remote"]);
    sb.out(&["push"]);
    sb.git(&["push", "-q", "up", "main"]);

    let other = git_clone(&bare);
    let pulled = other.out(&["pull"]);
    assert_contains(&pulled, "dvx.lock pins");
    assert_contains(&pulled, "pulled 2 files");
    assert_eq!(other.snapshot("data"), sb.snapshot("data"));
    // The data is what the code pins; dvx.lock is left as git has it.
    assert_eq!(other.read("dvx.lock"), sb.read("dvx.lock"));
    assert!(other.git(&["status", "--porcelain"]).is_empty());

    // The data moves on without the code (a dvx commit pushed, no git commit): a fresh
    // clone of the code still gets the data the code pins, as with `dvc pull`.
    let pinned = sb.snapshot("data");
    sb.write("data/labels.csv", b"a,2\n");
    sb.out(&["add", "data"]);
    sb.out(&["commit", "-m", "relabel"]);
    sb.out(&["push"]);
    let late = git_clone(&bare);
    late.out(&["pull"]);
    assert_eq!(late.snapshot("data"), pinned);
    assert!(late.git(&["status", "--porcelain"]).is_empty());
    // Its status says the remote's branch is ahead, as git would.
    assert_contains(&late.out(&["status"]), "behind 'origin/main' by 1 commit");

    // `--lazy`: the pinned commit checked out, no bytes.
    let lazy = git_clone(&bare);
    let out = lazy.out(&["pull", "--lazy"]);
    assert_contains(&out, "checked it out lazily");
    assert!(!out.contains("pulled"), "{out}");
    let status: serde_json::Value =
        serde_json::from_str(&lazy.out(&["status", "--json"])).expect("JSON");
    assert_eq!(status["not_fetched"], serde_json::json!(["data"]));
    let json = git_clone(&bare);
    let report: serde_json::Value =
        serde_json::from_str(&json.out(&["pull", "--json"])).expect("JSON");
    assert_eq!(
        report["written"].as_array().map(Vec::len),
        Some(2),
        "{report}"
    );
    assert!(report["bootstrapped"]["commit"].is_string(), "{report}");
}

#[test]
fn a_fresh_clones_pull_of_a_pinned_commit_without_files_pulls_nothing() {
    let (sb, _remote, bare, _keep) = git_setup();
    sb.write("data/a.bin", &bytes(6, 100));
    sb.out(&["add", "data"]);
    sb.out(&["commit", "-m", "data", "--git-add"]);
    sb.out(&["rm", "data"]);
    sb.out(&["commit", "-m", "empty", "--git-add"]);
    sb.git(&["add", "-A"]);
    sb.git(&["commit", "-q", "-m", "no data"]);
    sb.out(&["push"]);
    sb.git(&["push", "-q", "up", "main"]);
    let other = git_clone(&bare);
    let out = other.out(&["pull"]);
    assert_contains(&out, "pulled 0 files");
    assert!(other.git(&["status", "--porcelain"]).is_empty());
}

#[test]
fn a_fresh_clones_pull_leaves_a_pin_made_on_another_branch_alone() {
    let (sb, _remote, bare, _keep) = git_setup();
    sb.out(&["install-hooks"]);
    sb.git(&["add", ".dvx/config.toml"]);
    sb.git(&["commit", "-q", "-m", "remote"]);
    // Data committed on a branch and fast-forwarded into main by git: the pin names
    // the commit and, as a hint, the branch it was made on.
    sb.git(&["checkout", "-q", "-b", "feature"]);
    sb.write("data/a.bin", &bytes(5, 3000));
    sb.out(&["add", "data"]);
    sb.out(&["commit", "-m", "data", "--git-add"]);
    sb.git(&["add", ".gitignore"]);
    sb.git(&["commit", "-q", "-m", "data"]);
    sb.git(&["checkout", "-q", "main"]);
    sb.git(&["merge", "-q", "--ff-only", "feature"]);
    assert_contains(
        &String::from_utf8_lossy(&sb.read("dvx.lock")),
        "branch = \"feature\"",
    );
    sb.out(&["push", "--all"]);
    sb.git(&["push", "-q", "up", "main"]);

    let other = git_clone(&bare);
    other.out(&["pull", "--lazy"]);
    // The pinned commit is checked out; git has nothing new to commit.
    assert_eq!(other.read("dvx.lock"), sb.read("dvx.lock"));
    assert!(other.git(&["status", "--porcelain"]).is_empty());
}

#[test]
fn pre_push_pushes_the_pinned_data_and_no_verify_skips_it() {
    let (sb, remote, bare, _keep) = git_setup();
    sb.out(&["install-hooks"]);
    sb.write("data/a.bin", &bytes(2, 4000));
    sb.out(&["add", "data"]);
    sb.out(&["commit", "-m", "data", "--git-add"]);
    sb.git(&["add", ".dvx/config.toml", ".gitignore"]);
    sb.git(&["commit", "-q", "-m", "with data"]);
    // No `dvx push`: git push alone sends the pinned data (no dvx branch moves).
    let pushed = sb.git_raw(&["push", "up", "main"]);
    let stderr = String::from_utf8_lossy(&pushed.stderr);
    assert!(pushed.status.success(), "{stderr}");
    assert_contains(&stderr, "(the data the pushed commits pin, to origin)");
    assert!(!remote.files.join("refs/heads").exists());

    // A fresh clone's plain pull needs no dvx branch on the remote: it follows the pin.
    let fresh = git_clone(&bare);
    fresh.out(&["pull"]);
    assert_eq!(fresh.snapshot("data"), sb.snapshot("data"));
    assert!(fresh.git(&["status", "--porcelain"]).is_empty());

    // A clone of the code finds the pinned data on the remote.
    let other = git_clone(&bare);
    other.out(&["fetch"]);
    other.out(&["checkout", "--git", "HEAD"]);
    let pulled = other.dvx().args(["pull"]).output().expect("run");
    assert!(
        pulled.status.success(),
        "{}",
        String::from_utf8_lossy(&pulled.stderr)
    );
    assert_contains(
        &String::from_utf8_lossy(&pulled.stderr),
        "remote origin has no branch 'main': nothing to merge",
    );
    assert_eq!(other.snapshot("data"), sb.snapshot("data"));

    // --no-verify skips the hook: the new pinned data stays here.
    sb.write("data/b.bin", &bytes(3, 4000));
    sb.out(&["add", "data"]);
    sb.out(&["commit", "-m", "more", "--git-add"]);
    sb.git(&["commit", "-q", "-m", "more data"]);
    let packs_before = std::fs::read_dir(remote.files.join("packs"))
        .expect("packs")
        .count();
    sb.git(&["push", "-q", "--no-verify", "up", "main"]);
    let packs_after = std::fs::read_dir(remote.files.join("packs"))
        .expect("packs")
        .count();
    assert_eq!(packs_before, packs_after);
    other.git(&["pull", "-q", "--ff-only"]);
    other.out(&["fetch"]);
    let err = other.fails(&["checkout", "--git", "HEAD"], 1);
    assert_contains(&err, "which is not in this repository");
    // The next push with the hook sends it.
    sb.git(&["commit", "-q", "--allow-empty", "-m", "again"]);
    let pushed = sb.git_raw(&["push", "up", "main"]);
    assert!(
        pushed.status.success(),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );
    other.git(&["pull", "-q", "--ff-only"]);
    other.out(&["fetch"]);
    other.out(&["checkout", "--git", "HEAD"]);
    other.out(&["pull"]);
    assert_eq!(other.snapshot("data"), sb.snapshot("data"));
}

/// Several remotes and none the default (the default one was removed): every command
/// that needs a remote says so and lists them, none picks one, and nothing changes; local
/// bytes are still read; a named remote still works; git's pre-push hook lets the push
/// through with a warning that no data went; `remote default` settles it.
#[test]
fn several_remotes_without_a_default_are_never_guessed() {
    let (sb, origin, _bare, _keep) = git_setup();
    let (b, c) = (directory(), directory());
    sb.out(&["remote", "add", "b", &b.url]);
    sb.out(&["remote", "add", "c", &c.url]);
    sb.write("data/a.bin", b"a");
    sb.out(&["add", "data"]);
    sb.out(&["commit", "-m", "data", "--git-add"]);
    sb.out(&["push"]);
    let removed = sb.out(&["remote", "remove", "origin"]);
    assert_contains(
        &removed,
        "no remote is the default now (b, c): make one the default with `dvx remote default <name>`",
    );
    assert!(
        !String::from_utf8(sb.read(".dvx/config.toml"))
            .expect("utf-8")
            .contains("remote = ")
    );
    sb.out(&["install-hooks"]);
    sb.git(&["add", "-A"]);
    sb.git(&["commit", "-q", "-m", "with data"]);
    let state = sb.dvx_state();
    let several = "error: several remotes are configured (b, c) and none is the default";
    for args in [&["push"][..], &["fetch"], &["pull"], &["remote", "default"]] {
        let (error, hint) = error_and_hint(&sb.fails(args, 1));
        assert_eq!(error, several, "{args:?}");
        assert_contains(&hint, "`dvx push <name>`");
        assert_contains(&hint, "`dvx remote default <name>`");
    }
    for args in [
        &["pull", "data/a.bin"][..],
        &["drop", "data/a.bin"],
        &["fsck", "--remote"],
    ] {
        let (error, hint) = error_and_hint(&sb.fails(args, 1));
        assert_eq!(error, several, "{args:?}");
        assert_contains(&hint, "--remote=<name>");
    }
    // Bytes that are here need no remote.
    assert_eq!(sb.out(&["cat", "--rev", "HEAD", "data/a.bin"]), "a");
    assert_contains(&sb.out(&["fsck"]), "no problems");
    // Both ways of naming a remote list the configured ones when the name is wrong.
    for args in [
        &["fetch", "nope"][..],
        &["pull", "-r", "nope", "data/a.bin"],
    ] {
        let (error, _) = error_and_hint(&sb.fails(args, 1));
        assert_eq!(
            error, "error: no remote named 'nope' is configured (configured: b, c)",
            "{args:?}"
        );
    }
    assert_eq!(sb.dvx_state(), state);
    let pushed = sb.git_raw(&["push", "up", "main"]);
    let stderr = String::from_utf8_lossy(&pushed.stderr);
    assert!(pushed.status.success(), "{stderr}");
    assert_contains(
        &stderr,
        "several remotes are configured (b, c) and none is the default: no dvx data was pushed",
    );
    assert!(!b.files.join("refs").join("heads").exists());
    // Naming one works as ever.
    sb.out(&["push", "b"]);
    assert!(b.files.join("refs").join("heads").exists());
    assert!(!c.files.join("refs").join("heads").exists());
    assert!(origin.files.join("refs").join("heads").exists());
    // `remote default` makes one the default: for the team, or on this machine only.
    assert_contains(
        &sb.out(&["remote", "default", "c"]),
        "the default remote is now 'c' (in .dvx/config.toml)",
    );
    assert_eq!(sb.out(&["remote", "default"]), "c\n");
    sb.out(&["remote", "default", "b", "--local"]);
    assert_contains(
        &sb.out(&["remote", "default", "c"]),
        "but .dvx/config.local.toml makes 'b' the default on this machine",
    );
    assert_eq!(sb.out(&["remote", "default"]), "b\n");
    sb.out(&["push"]);
    assert!(!c.files.join("refs").join("heads").exists());
    assert_contains(
        &sb.out(&["remote", "default", "--unset", "--local"]),
        "commands use 'c' when no remote is named",
    );
    sb.out(&["push"]);
    assert!(c.files.join("refs").join("heads").exists());
    let (error, _) = error_and_hint(&sb.fails(&["remote", "default", "nope"], 1));
    assert_eq!(
        error,
        "error: no remote named 'nope' is configured (configured: b, c)"
    );
    sb.fails(&["remote", "default", "--local"], 2);
    sb.fails(&["remote", "default", "b", "--unset"], 2);
}

#[test]
fn pre_push_refuses_pinned_data_that_is_nowhere() {
    let (sb, remote, _bare, _keep) = git_setup();
    sb.out(&["install-hooks"]);
    sb.write("data/a.bin", b"a");
    sb.out(&["add", "data"]);
    sb.out(&["commit", "-m", "data", "--git-add"]);
    sb.git(&["commit", "-q", "-m", "with data"]);
    // Pin a commit that exists nowhere.
    let fake = crate::harness::b3(b"no such commit");
    sb.write(
        "dvx.lock",
        format!("format = 1\ncommit = \"{fake}\"\nbranch = \"main\"\n").as_bytes(),
    );
    sb.git(&["commit", "-q", "-am", "bad pin"]);
    let pushed = sb.git_raw(&["push", "up", "main"]);
    assert!(!pushed.status.success());
    let stderr = String::from_utf8_lossy(&pushed.stderr);
    assert_contains(&stderr, "neither in this repository nor on remote");
    assert_contains(&stderr, &fake[..10]);
    assert!(!remote.files.join("refs").join("heads").exists());
}

#[test]
fn cloned_repositories_work_without_git_and_clone_into_an_empty_directory() {
    let remote = directory();
    let a = Peer::new(&remote);
    a.commit("one", &[("data/x", b"x")]);
    a.ok(&["push"]);
    let sb = Sandbox::empty();
    std::fs::create_dir_all(sb.path("empty")).expect("mkdir");
    sb.out(&["clone", &remote.url, "empty"]);
    assert_eq!(sb.read("empty/data/x"), b"x");
    let cfg = String::from_utf8(sb.read("empty/.dvx/config.toml")).expect("utf-8");
    assert_contains(&cfg, "git = false");
    assert_contains(&cfg, "[remote.origin]");
    // A relative URL is recorded absolute: the clone works wherever it is run from.
    let rel = Sandbox::empty();
    std::fs::create_dir_all(rel.path("here")).expect("mkdir");
    let parent = remote.files.parent().expect("parent");
    rel.dvx()
        .current_dir(parent)
        .args(["clone", "remote", &rel.path("cloned").to_string_lossy()])
        .assert()
        .success();
    let cfg = String::from_utf8(rel.read("cloned/.dvx/config.toml")).expect("utf-8");
    assert_contains(&cfg, &format!("url = \"{}\"", remote.url));
    rel.dvx()
        .current_dir(rel.path("cloned"))
        .args(["fetch"])
        .assert()
        .success();
}
