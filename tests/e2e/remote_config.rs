//! Configuring remotes with bad input: endpoints that are no URLs (once a panic inside
//! the S3 client), URLs and endpoints carrying secrets (never echoed), locations that
//! hold other files (never taken over), URLs that look like typos (never a directory in
//! the work tree), and the hints each remote failure gets.

use crate::fault_proxy::{Fault, FaultProxy};
use crate::harness::{Sandbox, assert_contains, error_and_hint};
use crate::s3_server::S3Server;
use crate::sync::{Peer, Remote, directory, kinds, s3};

/// A repository (without git) with one commit, `data/a`, pushed to `remote` as origin.
fn pushed(remote: &Remote) -> Peer {
    let peer = Peer::new(remote);
    peer.commit("first", &[("data/a", b"a\n")]);
    peer.ok(&["push"]);
    peer
}

/// Run dvx in `sb` with `env` added; exit code, stdout, stderr.
fn run(sb: &Sandbox, env: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String, String) {
    let out = sb
        .dvx()
        .envs(env.iter().copied())
        .args(args)
        .output()
        .expect("run dvx");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Run dvx, expecting exit 1 with one error and one hint; (error, hint).
fn refused(sb: &Sandbox, env: &[(&str, &str)], args: &[&str]) -> (String, String) {
    let (code, stdout, stderr) = run(sb, env, args);
    assert_eq!(code, Some(1), "dvx {args:?}:\n{stdout}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    error_and_hint(&stderr)
}

fn config(sb: &Sandbox, file: &str) -> String {
    std::fs::read_to_string(sb.path(&format!(".dvx/{file}"))).unwrap_or_default()
}

/// Add `[remote.<name>]` with `lines` to the tracked config by hand (no contact).
fn hand_written(sb: &Sandbox, name: &str, lines: &str) {
    let mut text = config(sb, "config.toml");
    text.push_str(&format!("\n[remote.{name}]\n{lines}"));
    sb.write(".dvx/config.toml", text.as_bytes());
}

#[test]
fn a_bad_endpoint_never_stops_commands_that_read_local_bytes() {
    let sb = Sandbox::dvx_only();
    sb.write("data/a.txt", b"a\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "a"]);
    sb.ok(&["branch", "other"]);
    hand_written(
        &sb,
        "only",
        "url = \"s3://bkt/p\"\nendpoint = \"127.0.0.1:9000\"\n",
    );
    assert_eq!(sb.out(&["cat", "data/a.txt"]), "a\n");
    sb.ok(&["checkout", "other"]);
    sb.ok(&["fsck"]);
    // Contacting the remote names the setting and its file.
    let (error, _) = refused(&sb, &[], &["fetch"]);
    assert_contains(&error, "remote.only.endpoint in .dvx/config.toml");
}

#[test]
fn a_bad_remote_endpoint_is_refused_and_never_panics() {
    let sb = Sandbox::dvx_only();
    hand_written(&sb, "s3r", "url = \"s3://bkt/p\"\n");
    sb.ok(&["remote", "set", "s3r", "access_key_id", "AK", "--local"]);
    let before = config(&sb, "config.toml");
    for bad in ["127.0.0.1:9000", "notaurl", "ftp://x y", "ftp://host/x"] {
        let (error, hint) = refused(&sb, &[], &["remote", "set", "s3r", "endpoint", bad]);
        assert_contains(&error, "remote.s3r.endpoint");
        assert_contains(&hint, "http://127.0.0.1:9000");
    }
    assert_eq!(config(&sb, "config.toml"), before);

    // Written by hand: every command that opens the remote names the file.
    hand_written(
        &sb,
        "bad",
        "url = \"s3://bkt/q\"\nendpoint = \"127.0.0.1:9000\"\n",
    );
    let (error, hint) = refused(&sb, &[], &["fetch", "bad"]);
    assert_contains(
        &error,
        "remote.bad.endpoint in .dvx/config.toml: '127.0.0.1:9000' is not an absolute URL",
    );
    assert_contains(&hint, "dvx remote set bad endpoint <url>");

    // From the environment, for each kind of cloud remote, naming the variable.
    for (var, url) in [
        ("AWS_ENDPOINT_URL", "s3://bkt/other"),
        ("AWS_ENDPOINT", "s3://bkt/other"),
        ("GOOGLE_BASE_URL", "gs://bkt/other"),
        ("AZURE_STORAGE_ENDPOINT", "az://cont/other"),
    ] {
        let env = [
            (var, "127.0.0.1:9000"),
            ("AZURE_STORAGE_ACCOUNT_NAME", "acct"),
        ];
        let (error, hint) = refused(&sb, &env, &["remote", "add", "x", url]);
        assert_contains(
            &error,
            &format!("the environment variable {var} '127.0.0.1:9000'"),
        );
        assert_contains(&hint, &format!("fix or unset {var}"));
    }
    let env = [("AWS_ENDPOINT_URL", "127.0.0.1:9000")];
    let (error, _) = refused(&sb, &env, &["fetch", "s3r"]);
    assert_contains(&error, "AWS_ENDPOINT_URL");
    assert!(!config(&sb, "config.toml").contains("[remote.x]"));
}

#[test]
fn remote_urls_and_endpoints_never_echo_secrets() {
    let remote = directory();
    let peer = pushed(&remote);
    let sb = &peer.sb;
    let attempts: [&[&str]; 5] = [
        &["remote", "set", "origin", "url", "s3://AK:TOPSECRET@bkt/p"],
        &["remote", "add", "leak1", "s3://AK:TOPSECRET@bkt/p"],
        &["remote", "add", "leak2", "az://cont/p?sig=TOPSECRET"],
        &[
            "remote",
            "set",
            "origin",
            "endpoint",
            "http://u:TOPSECRET@127.0.0.1:9",
        ],
        &[
            "remote",
            "set",
            "origin",
            "endpoint",
            "https://h/?sig=TOPSECRET",
        ],
    ];
    for args in attempts {
        let (code, stdout, stderr) = run(sb, &[], args);
        assert_eq!(code, Some(1), "{args:?}: {stderr}");
        assert!(
            !stdout.contains("TOPSECRET") && !stderr.contains("TOPSECRET"),
            "{args:?}:\n{stdout}{stderr}"
        );
        assert_contains(&stderr, "***");
    }
    let (_, hint) = refused(
        sb,
        &[],
        &[
            "remote",
            "set",
            "origin",
            "endpoint",
            "http://u:TOPSECRET@127.0.0.1:9",
        ],
    );
    assert_contains(&hint, "--local");
    assert!(!config(sb, "config.toml").contains("TOPSECRET"));

    // Written by hand into a config: listed and reported masked.
    hand_written(
        sb,
        "hand",
        "url = \"s3://bkt/p\"\nendpoint = \"http://u:TOPSECRET@127.0.0.1:9/?sig=TOPSECRET\"\n",
    );
    for args in [
        &["remote", "list"][..],
        &["remote", "list", "--json"],
        &["fetch", "hand"],
    ] {
        let (_, stdout, stderr) = run(sb, &[], args);
        assert!(
            !stdout.contains("TOPSECRET") && !stderr.contains("TOPSECRET"),
            "{args:?}:\n{stdout}{stderr}"
        );
    }
    assert_contains(
        &sb_out(sb, &["remote", "list"]),
        "endpoint = http://***@127.0.0.1:9/?***",
    );
}

fn sb_out(sb: &Sandbox, args: &[&str]) -> String {
    let (code, stdout, stderr) = run(sb, &[], args);
    assert_eq!(code, Some(0), "{args:?}: {stderr}");
    stdout
}

#[test]
fn a_remote_location_holding_other_files_is_never_taken_over() {
    for kind in kinds() {
        let remote = kind();
        // Someone else's files where the remote would go.
        std::fs::create_dir_all(&remote.files).expect("mkdir");
        std::fs::write(remote.files.join("thesis.txt"), b"mine").expect("write");
        let peer = Peer {
            sb: Sandbox::dvx_only(),
            env: remote.env.clone(),
        };
        let before = config(&peer.sb, "config.toml");
        let err = peer.fails(&["remote", "add", "origin", &remote.url], 1);
        let (error, hint) = error_and_hint(&err);
        assert_contains(&error, "is not a dvx remote (it holds other files");
        assert_contains(&hint, "empty");
        assert_eq!(config(&peer.sb, "config.toml"), before, "{}", remote.kind);
        assert!(
            !remote.files.join("dvx-remote.toml").exists(),
            "{}",
            remote.kind
        );
        assert!(
            !remote.files.join("tmp").exists(),
            "the probe wrote there ({})",
            remote.kind
        );
        std::fs::remove_file(remote.files.join("thesis.txt")).expect("rm");

        // What a probe cut short leaves (its key, or a directory remote's staging file
        // of it) is dvx's own: the location still counts as empty.
        let tmp = remote.files.join("tmp");
        std::fs::create_dir_all(&tmp).expect("mkdir tmp");
        std::fs::write(tmp.join("probe-0a1b2c3d4e"), b"first\n").expect("write");
        if remote.kind == "directory" {
            std::fs::write(tmp.join("probe-0a1b2c3d4e#1"), b"fir").expect("write");
        }
        // Anything else there is someone's.
        std::fs::write(tmp.join("probe-notes.txt"), b"mine").expect("write");
        let err = peer.fails(&["remote", "add", "origin", &remote.url], 1);
        assert_contains(&err, "is not a dvx remote (it holds other files");
        std::fs::remove_file(tmp.join("probe-notes.txt")).expect("rm");
        peer.ok(&["remote", "add", "origin", &remote.url]);
        assert!(
            remote.files.join("dvx-remote.toml").exists(),
            "{}",
            remote.kind
        );
        peer.ok(&["remote", "remove", "origin"]);
        if remote.kind == "directory" {
            std::fs::remove_dir_all(&remote.files).expect("rm -r");
        } else {
            std::fs::remove_file(remote.files.join("dvx-remote.toml")).expect("rm manifest");
            std::fs::remove_dir_all(&tmp).expect("rm tmp");
        }

        // A dvx remote that lost its manifest still holds packs and refs: push refuses
        // rather than write a new manifest over the damage.
        let peer = pushed(&remote);
        std::fs::remove_file(remote.files.join("dvx-remote.toml")).expect("rm manifest");
        peer.commit("second", &[("data/b", b"b\n")]);
        let err = peer.fails(&["push"], 1);
        assert_contains(
            &error_and_hint(&err).0,
            "is not a dvx remote (it holds other files",
        );
        assert!(
            !remote.files.join("dvx-remote.toml").exists(),
            "{}",
            remote.kind
        );
    }
}

#[test]
fn remote_set_url_refuses_a_full_location_and_says_when_it_made_one() {
    let remote = directory();
    let peer = pushed(&remote);
    let full = tempfile::tempdir().expect("tempdir");
    std::fs::write(full.path().join("x"), b"x").expect("write");
    let before = config(&peer.sb, "config.toml");
    let err = peer.fails(
        &[
            "remote",
            "set",
            "origin",
            "url",
            &full.path().to_string_lossy(),
        ],
        1,
    );
    assert_contains(&error_and_hint(&err).0, "is not a dvx remote");
    assert_eq!(config(&peer.sb, "config.toml"), before);
    let fresh = tempfile::tempdir().expect("tempdir");
    let new = fresh.path().join("store");
    let out = peer.ok(&["remote", "set", "origin", "url", &new.to_string_lossy()]);
    assert_contains(&out, "it was empty and is a dvx remote now");
    assert!(new.join("dvx-remote.toml").is_file());
    // Back to the old one, a dvx remote already: nothing to say about it.
    let out = peer.ok(&["remote", "set", "origin", "url", &remote.url]);
    assert!(!out.contains("it was empty"), "{out}");
}

#[test]
fn remote_urls_that_look_like_typos_never_become_directories_in_the_work_tree() {
    let sb = Sandbox::git_and_dvx();
    let before = config(&sb, "config.toml");
    for (url, error_says, hint_says) in [
        ("s3:/bucket", "starts with 's3:'", "s3://bucket/prefix"),
        ("file:relative", "starts with 'file:'", "file:///path"),
        ("C:\\x", "starts with 'C:'", "./name"),
        ("~/x", "starts with '~'", "let the shell expand it"),
        (
            "./inside",
            "lies inside the work tree",
            "outside the work tree",
        ),
        (
            "data/store",
            "lies inside the work tree",
            "outside the work tree",
        ),
        (
            ".dvx/store",
            "lies inside the work tree",
            "outside the work tree",
        ),
        (".", "lies inside the work tree", "outside the work tree"),
    ] {
        let (error, hint) = refused(&sb, &[], &["remote", "add", "t", url]);
        assert_contains(&error, error_says);
        assert_contains(&hint, hint_says);
    }
    for left in [
        "s3:",
        "file:relative",
        "C:\\x",
        "~",
        "inside",
        "data",
        ".dvx/store",
    ] {
        assert!(!sb.exists(left), "{left} was created");
    }
    assert_eq!(config(&sb, "config.toml"), before);
    // Through a symlink that leads into the work tree, too.
    let outside = tempfile::tempdir().expect("tempdir");
    let link = outside.path().join("link");
    std::os::unix::fs::symlink(&sb.root, &link).expect("symlink");
    let (error, _) = refused(
        &sb,
        &[],
        &["remote", "add", "t", &link.join("store").to_string_lossy()],
    );
    assert_contains(&error, "lies inside the work tree");
    // A relative directory outside the work tree is fine, as is one with a colon.
    sb.ok(&["remote", "add", "ok", "./../colon:store"]);
    assert!(sb.root.join("../colon:store/dvx-remote.toml").is_file());
}

#[test]
fn an_invalid_remote_name_gets_a_hint_that_matches() {
    let remote = directory();
    let sb = Sandbox::dvx_only();
    let (error, hint) = refused(&sb, &[], &["remote", "add", "a/b", &remote.url]);
    assert_contains(&error, "it contains '/'");
    assert_contains(&hint, "without '/'");
    assert!(!hint.contains("and '/'"), "{hint}");
    let (_, hint) = refused(&sb, &[], &["remote", "add", "a..b", &remote.url]);
    assert!(!hint.contains("and '/'"), "{hint}");
}

#[test]
fn a_broken_local_remote_config_gets_a_hint_for_that_file() {
    let remote = directory();
    let peer = pushed(&remote);
    peer.sb
        .write(".dvx/config.local.toml", b"[remote.origin\nregion = 1\n");
    let err = peer.fails(&["remote", "list"], 1);
    let (error, hint) = error_and_hint(&err);
    assert_contains(&error, "config.local.toml");
    assert!(!hint.contains("git checkout"), "{hint}");
    assert_contains(&hint, "move it aside");
}

#[test]
fn remote_config_edits_keep_to_the_file_and_the_default() {
    let (one, two) = (directory(), directory());
    let sb = Sandbox::dvx_only();
    sb.ok(&["remote", "add", "origin", &one.url]);
    sb.ok(&["remote", "add", "backup", &two.url]);
    // origin is the default by its name only.
    sb.ok(&["remote", "default", "--unset"]);
    assert_eq!(sb_out(&sb, &["remote", "default"]), "origin\n");
    let out = sb_out(&sb, &["remote", "rename", "origin", "main-store"]);
    assert_contains(&out, "'main-store' stays the default remote");
    assert_eq!(sb_out(&sb, &["remote", "default"]), "main-store\n");
    assert_contains(&config(&sb, "config.toml"), "remote = \"main-store\"");

    // A remote of this machine only: a setting for it goes into its file, or nowhere.
    let private = directory();
    let text = format!("[remote.private]\nurl = \"{}\"\n", private.url);
    sb.write(".dvx/config.local.toml", text.as_bytes());
    let tracked = config(&sb, "config.toml");
    let (error, hint) = refused(&sb, &[], &["remote", "set", "private", "region", "x"]);
    assert_contains(&error, "defined only in .dvx/config.local.toml");
    assert_contains(&hint, "--local");
    assert_eq!(config(&sb, "config.toml"), tracked);
    sb.ok(&["remote", "set", "private", "region", "x", "--local"]);
    assert_contains(&config(&sb, "config.local.toml"), "region = \"x\"");
    // Its URL may go into the tracked file: that shares the remote.
    let shared = directory();
    sb.ok(&["remote", "set", "private", "url", &shared.url]);
    assert_contains(&config(&sb, "config.toml"), "[remote.private]");

    // Unsetting this machine's default leaves no empty table behind.
    sb.ok(&["remote", "default", "backup", "--local"]);
    sb.ok(&["remote", "default", "--unset", "--local"]);
    let local = config(&sb, "config.local.toml");
    assert!(!local.contains("[core]"), "{local}");
    assert_contains(&local, "[remote.private]");
}

#[test]
fn remote_failures_get_hints_that_fit_them() {
    // A pack gone from a directory remote: damage, not a missing bucket.
    let remote = directory();
    let a = pushed(&remote);
    a.ok(&["drop", "data"]);
    for entry in std::fs::read_dir(remote.files.join("packs")).expect("packs") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "pack") {
            std::fs::remove_file(path).expect("rm pack");
        }
    }
    for args in [&["pull", "data"][..], &["cat", "data/a"]] {
        let hint = error_and_hint(&a.fails(args, 1)).1;
        assert_contains(&hint, "dvx fsck --remote");
        assert!(!hint.contains("bucket"), "{hint}");
    }

    // A file where a directory remote would go.
    let sb = Sandbox::dvx_only();
    let file = tempfile::NamedTempFile::new().expect("file");
    let (error, hint) = refused(
        &sb,
        &[],
        &["remote", "add", "f", &file.path().to_string_lossy()],
    );
    assert_contains(&error, "is not a directory");
    assert_contains(&hint, "must be a directory");

    // Azure without an account, and unreachable.
    let (error, hint) = refused(&sb, &[], &["remote", "add", "az", "az://container"]);
    assert_contains(&error, "Account must be specified");
    assert_contains(&hint, "AZURE_STORAGE_ACCOUNT_NAME");
    let dead = dead_endpoint();
    let env = [
        ("AZURE_STORAGE_ACCOUNT_NAME", "acct"),
        ("AZURE_STORAGE_ACCOUNT_KEY", "a2V5"),
        ("AZURE_STORAGE_ENDPOINT", dead.as_str()),
        ("AZURE_ALLOW_HTTP", "true"),
    ];
    let (error, hint) = refused(&sb, &env, &["remote", "add", "az", "az://container"]);
    assert_contains(&error, "is unreachable");
    assert_contains(&hint, "AZURE_STORAGE_ENDPOINT");
    assert!(!hint.contains("AWS_"), "{hint}");

    // Plain http while it is not allowed.
    let remote = s3();
    let mut env: Vec<(&str, &str)> = remote
        .env
        .iter()
        .filter(|(k, _)| k.as_str() != "AWS_ALLOW_HTTP")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    env.push(("AWS_ALLOW_HTTP", "false"));
    let (_, hint) = refused(&sb, &env, &["remote", "add", "s3", &remote.url]);
    assert_contains(&hint, "allow_http true");
}

/// An http:// endpoint nothing listens on.
fn dead_endpoint() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    format!("http://127.0.0.1:{port}")
}

#[test]
fn a_remote_that_keeps_answering_503_gets_a_busy_hint() {
    let server = S3Server::start();
    let proxy = FaultProxy::start(server.addr.to_string(), Box::new(|_| Fault::Pass));
    let mut env = server.env();
    env.insert("AWS_ENDPOINT_URL".into(), proxy.endpoint());
    let a = Peer {
        sb: Sandbox::dvx_only(),
        env,
    };
    a.ok(&["remote", "add", "origin", &server.url("team/data")]);
    a.commit("first", &[("data/a", b"a\n")]);
    proxy.set_schedule(Box::new(|_| Fault::SlowDown));
    let (error, hint) = error_and_hint(&a.fails(&["push"], 1));
    assert_contains(&error, "503");
    assert_contains(&hint, "busy");
    assert!(!hint.contains("bucket"), "{hint}");
}
