//! Bad input to push, fetch, pull and clone: one line of error, a hint, exit 1, and the
//! local repository unchanged. Remote kinds as in `sync`.

use std::time::{Duration, Instant};

use crate::harness::{Sandbox, assert_contains, error_and_hint};
use crate::sync::{Peer, directory, kinds, s3};

/// `.dvx/` as `Sandbox::dvx_state` sees it, without the cache of remote pack indexes
/// (copies of what the remote holds, which a failed fetch may have read).
fn state(sb: &Sandbox) -> Vec<String> {
    sb.dvx_state()
        .into_iter()
        .filter(|l| !l.starts_with(".dvx/cache"))
        .collect()
}

#[test]
fn no_remote_and_unknown_remote() {
    let sb = Sandbox::dvx_only();
    sb.write("data/x", b"x");
    sb.out(&["add", "data"]);
    sb.out(&["commit", "-m", "x"]);
    let before = state(&sb);
    for args in [&["push"][..], &["fetch"], &["pull"]] {
        let err = sb.fails(args, 1);
        let (error, hint) = error_and_hint(&err);
        assert_eq!(error, "error: no remote is configured");
        assert_eq!(hint, "hint: add one with `dvx remote add <name> <url>`");
    }
    let remote = directory();
    sb.out(&["remote", "add", "origin", &remote.url]);
    let before_fetch = state(&sb);
    let err = sb.fails(&["fetch", "nope"], 1);
    let (error, hint) = error_and_hint(&err);
    assert_eq!(
        error,
        "error: no remote named 'nope' is configured (configured: origin)"
    );
    assert_contains(&hint, "dvx remote list");
    assert_eq!(state(&sb), before_fetch);
    assert_ne!(before, before_fetch);
}

#[test]
fn push_needs_a_branch_with_commits() {
    let remote = directory();
    let a = Peer::new(&remote);
    let err = a.fails(&["push"], 1);
    assert_contains(&err, "branch 'main' has no commits yet");
    a.commit("one", &[("data/x", b"1")]);
    a.commit("two", &[("data/x", b"2")]);
    a.ok(&["checkout", "HEAD~1"]);
    let err = a.fails(&["push"], 1);
    assert_contains(&err, "HEAD is detached: name the branch to push");
    let err = a.fails(&["pull"], 1);
    assert_contains(
        &err,
        "HEAD is detached: a pull moves the current branch, and there is none",
    );
}

#[test]
fn an_unreachable_endpoint_fails_within_a_minute() {
    let remote = s3();
    let a = Peer::new(&remote);
    a.commit("one", &[("data/x", b"1")]);
    let before = state(&a.sb);
    // Nothing listens on this port (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut dead = remote.env.clone();
    dead.insert(
        "AWS_ENDPOINT_URL".into(),
        format!("http://127.0.0.1:{port}"),
    );
    let b = Peer {
        sb: a.sb,
        env: dead,
    };
    for args in [&["push"][..], &["fetch"]] {
        let start = Instant::now();
        let err = b.fails(args, 1);
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{:?}",
            start.elapsed()
        );
        let (error, hint) = error_and_hint(&err);
        assert_contains(&error, "is unreachable");
        assert_contains(&hint, "check the URL, the endpoint");
    }
    assert_eq!(state(&b.sb), before);
}

#[test]
fn wrong_credentials_fail_even_when_nothing_is_new() {
    let remote = s3();
    let server = remote.server.as_ref().expect("s3");
    let a = Peer::new(&remote);
    a.commit("one", &[("data/x", b"1")]);
    a.ok(&["push"]);
    let before = state(&a.sb);
    let b = Peer {
        sb: a.sb,
        env: server.env_with_secret("not-the-secret"),
    };
    for args in [&["push"][..], &["fetch"], &["pull"]] {
        let err = b.fails(args, 1);
        let (error, hint) = error_and_hint(&err);
        assert_contains(&error, "denied access");
        assert_contains(&hint, "check the credentials");
    }
    assert_eq!(state(&b.sb), before);
}

#[test]
fn a_missing_bucket_is_named() {
    let remote = s3();
    let sb = Sandbox::dvx_only();
    let before = state(&sb);
    let out = sb
        .dvx()
        .envs(&remote.env)
        .args(["remote", "add", "origin", "s3://no-such-bucket/data"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let (error, hint) = error_and_hint(&stderr);
    assert_contains(&error, "s3://no-such-bucket/data");
    assert_contains(&error, "NoSuchBucket");
    assert_contains(&hint, "check that the bucket or container exists");
    assert_eq!(state(&sb), before);
}

#[test]
fn a_remote_of_a_newer_format_is_refused() {
    for kind in kinds() {
        let remote = kind();
        let a = Peer::new(&remote);
        a.commit("one", &[("data/x", b"1")]);
        a.ok(&["push"]);
        let b = Peer::cloned(&remote, &[]);
        dvx::atomic::write(&remote.files.join("dvx-remote.toml"), b"format = 2\n").expect("write");
        for clone in [&a, &b] {
            let before = state(&clone.sb);
            for args in [&["push"][..], &["fetch"], &["pull"]] {
                let err = clone.fails(args, 1);
                let (error, hint) = error_and_hint(&err);
                assert_contains(&error, "has format 2, but this dvx reads format 1");
                assert_eq!(hint, "hint: upgrade dvx to use this remote");
            }
            assert_eq!(state(&clone.sb), before);
        }
    }
}

#[test]
fn a_remote_ref_to_a_missing_commit_changes_nothing_here() {
    for kind in kinds() {
        let remote = kind();
        let a = Peer::new(&remote);
        a.commit("one", &[("data/x", b"1")]);
        a.ok(&["push"]);
        let b = Peer::cloned(&remote, &[]);
        let before = state(&b.sb);
        let data_before = b.data();
        // Someone's broken push: the branch moved to a commit that never arrived.
        let ghost = crate::harness::b3(b"a commit that never arrived");
        dvx::atomic::write(
            &remote.files.join("refs/heads/main/00000000000000000002"),
            format!("{ghost}\n").as_bytes(),
        )
        .expect("write ref");
        for args in [&["fetch"][..], &["pull"]] {
            let err = b.fails(args, 1);
            let (error, hint) = error_and_hint(&err);
            assert_contains(
                &error,
                &format!(
                    "branch main on remote {} points at commit {}",
                    remote.url,
                    &ghost[..10]
                ),
            );
            assert_contains(&hint, "the remote is damaged");
        }
        assert_eq!(state(&b.sb), before, "{}", remote.kind);
        assert_eq!(b.data(), data_before);
    }
}

#[test]
fn a_dvx_clone_of_a_damaged_remote_leaves_nothing() {
    let remote = directory();
    let a = Peer::new(&remote);
    a.commit("one", &[("data/x", b"1")]);
    a.ok(&["push"]);
    // Damage every pack: the clone fails naming an object, and leaves no directory.
    for entry in std::fs::read_dir(remote.files.join("packs")).expect("packs") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "pack") {
            let mut bytes = std::fs::read(&path).expect("read");
            let last = bytes.len() - 1;
            bytes[last] ^= 0xff;
            dvx::atomic::write(&path, &bytes).expect("write");
        }
    }
    let sb = Sandbox::empty();
    let err = sb.fails(&["clone", &remote.url, "copy"], 1);
    assert_contains(&err, "error:");
    assert!(!sb.exists("copy"));
}

#[test]
fn a_pull_that_needs_bytes_the_remote_lost_names_the_file() {
    let remote = directory();
    let a = Peer::new(&remote);
    a.commit("one", &[("data/x.csv", b"1,2\n"), ("data/y.csv", b"3,4\n")]);
    a.ok(&["push"]);
    let b = Peer::cloned(&remote, &["--lazy"]);
    for entry in std::fs::read_dir(remote.files.join("packs")).expect("packs") {
        std::fs::remove_file(entry.expect("entry").path()).expect("remove");
    }
    let err = b.fails(&["pull"], 1);
    let (error, hint) = error_and_hint(&err);
    assert_contains(&error, "data/x.csv (");
    assert_contains(&error, "is neither here nor on remote");
    assert_contains(&error, "nor are the bytes of 1 more file(s)");
    assert_contains(&hint, "dvx push");
    assert_eq!(
        b.json(&["status", "--json"])["not_fetched"],
        serde_json::json!(["data"])
    );
}
