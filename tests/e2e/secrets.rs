//! Credentials never leak: with known fake keys in the environment (every provider dvx's
//! remotes read), a session of commands, successful and failing, with and without
//! `--json`, prints none of them, and none lands in any file dvx wrote (objects, index,
//! refs, reflogs, state, config, `dvx.lock`, `.gitignore`) or in anything git tracks.
//! A run told to record a credential's name with `--env` is refused.

use std::path::Path;

use crate::harness::*;

/// Fake credentials, each unlike anything else in a repository.
pub const FAKE_SECRETS: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "AKIAFAKEDVXTEST00001"),
    (
        "AWS_SECRET_ACCESS_KEY",
        "fakeDvxSecret/Key+0123456789abcdefghijklmn",
    ),
    ("AWS_SESSION_TOKEN", "FakeDvxSessionToken0123456789"),
    (
        "GOOGLE_SERVICE_ACCOUNT_KEY",
        "fake-dvx-gcs-private-key-0123456789",
    ),
    (
        "AZURE_STORAGE_ACCOUNT_KEY",
        "ZmFrZS1kdngtYXp1cmUta2V5LTAxMjM0NTY3ODk=",
    ),
    (
        "AZURE_STORAGE_SAS_TOKEN",
        "sv=2099-01-01&sig=fakeDvxSasSignature0123",
    ),
];

/// Every secret value found in `bytes`.
pub fn leaked_in(bytes: &[u8]) -> Vec<&'static str> {
    FAKE_SECRETS
        .iter()
        .filter(|(_, v)| bytes.windows(v.len()).any(|w| w == v.as_bytes()))
        .map(|(k, _)| *k)
        .collect()
}

/// Every file below `dir` (following nothing) that holds a secret.
pub fn leaks_below(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
    {
        if e.file_type().is_file()
            && let Ok(bytes) = std::fs::read(e.path())
        {
            for k in leaked_in(&bytes) {
                out.push(format!("{k} in {}", e.path().display()));
            }
        }
    }
    out
}

/// Run `args` with the fake secrets in the environment; return what leaked in its output.
pub fn run_and_scan(sb: &Sandbox, args: &[&str]) -> Vec<String> {
    let mut cmd = sb.dvx_std();
    for (k, v) in FAKE_SECRETS {
        cmd.env(k, v);
    }
    let out = cmd.args(args).output().expect("run dvx");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "dvx {args:?} panicked"
    );
    let mut leaks = Vec::new();
    for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        for k in leaked_in(bytes) {
            leaks.push(format!("{k} in the {stream} of dvx {args:?}"));
        }
    }
    leaks
}

#[test]
fn no_credential_reaches_output_or_any_file_dvx_writes() {
    let sb = Sandbox::git_and_dvx();
    sb.ok(&["-q", "install-hooks"]);
    sb.write("data/a.csv", b"a\n");
    sb.write("data/sub/b.bin", &bytes(1, 5000));
    sb.write("prep.sh", b"cat data/a.csv > out.bin\n");
    let session: &[&[&str]] = &[
        &["add", "data"],
        &["status"],
        &["status", "--json"],
        &["commit", "-m", "v1", "--git-add"],
        &[
            "run",
            "-d",
            "data/a.csv",
            "-o",
            "out.bin",
            "--",
            "sh",
            "prep.sh",
        ],
        &["log", "--json"],
        &["show", "HEAD"],
        &["trace", "out.bin"],
        &["trace", "out.bin", "--json"],
        &["ls", "--json"],
        &["diff", "HEAD~1"],
        &["branch", "side"],
        &["checkout", "side"],
        &["checkout", "main"],
        &["gc", "--json"],
        &["fsck"],
        &["config", "--list"],
        // Failures: their errors and hints.
        &["checkout", "no-such-branch"],
        &["add", "/etc/passwd"],
        &["cat", "data/missing"],
        &["push"],
        &["fetch"],
    ];
    let mut leaks = Vec::new();
    for args in session {
        leaks.extend(run_and_scan(&sb, args));
    }
    // A run or record told to keep a credential's value (`--env`) is refused before the
    // command runs: the value would travel in the run record to every remote.
    let sh = "cat data/a.csv > out2.bin";
    let credential_env: &[&[&str]] = &[
        &[
            "run",
            "-d",
            "data/a.csv",
            "-o",
            "out2.bin",
            "--env",
            "AWS_SECRET_ACCESS_KEY",
            "--",
            "sh",
            "-c",
            sh,
        ],
        &[
            "run",
            "--json",
            "-o",
            "out2.bin",
            "--env",
            "AWS_ACCESS_KEY_ID",
            "--env",
            "AWS_SESSION_TOKEN",
            "--",
            "sh",
            "-c",
            sh,
        ],
        &[
            "run",
            "-o",
            "out2.bin",
            "--env",
            "AZURE_STORAGE_ACCOUNT_KEY",
            "--",
            "sh",
            "-c",
            sh,
        ],
        &[
            "run",
            "-o",
            "out2.bin",
            "--env",
            "AZURE_STORAGE_SAS_TOKEN",
            "--",
            "sh",
            "-c",
            sh,
        ],
        &[
            "record",
            "-o",
            "out.bin",
            "--env",
            "GOOGLE_SERVICE_ACCOUNT_KEY",
        ],
        &[
            "record",
            "--json",
            "-o",
            "out.bin",
            "--env",
            "AWS_SECRET_ACCESS_KEY",
        ],
    ];
    let runs_before = sb.out(&["runs", "--json"]);
    for args in credential_env {
        leaks.extend(run_and_scan(&sb, args));
        let stderr = sb.fails(args, 1);
        assert_contains(&stderr, "the name says it holds a credential");
    }
    assert!(!sb.exists("out2.bin"), "no refused command ran");
    assert_eq!(
        sb.out(&["runs", "--json"]),
        runs_before,
        "nothing was recorded"
    );
    sb.git(&["add", "-A"]);
    sb.git(&["commit", "-q", "-m", "everything"]);
    leaks.extend(leaks_below(&sb.root));
    let tracked = sb.git(&["ls-files"]);
    assert!(
        tracked.contains("dvx.lock"),
        "the pin is tracked: {tracked}"
    );
    assert!(
        leaks.is_empty(),
        "credentials leaked:\n{}",
        leaks.join("\n")
    );
    eprintln!(
        "secrets: {} commands and every file of the repository scanned for {} keys, none found",
        session.len() + credential_env.len(),
        FAKE_SECRETS.len()
    );
}

/// The same over remotes: a session of remote commands against the S3 server with its
/// real test key, a wrong key and a key set with `remote set --local`, successes and
/// failures, plain and `--json`: no key reaches any output, any file of either clone,
/// anything git tracks, or the remote's own files.
#[test]
fn no_credential_reaches_remote_output_or_any_file() {
    use crate::s3_server::{S3Server, SECRET_KEY};
    const WRONG: &str = "dvx-wrong-secret-key-0123456789";
    const LOCAL_SECRET: &str = "dvx-local-config-secret-0123456789";
    let server = S3Server::start();
    let url = server.url("team/data");
    let sb = Sandbox::git_and_dvx();
    sb.write("data/a.csv", b"a\n");
    sb.write("data/big.bin", &bytes(3, 200_000));
    let secrets = [SECRET_KEY, WRONG, LOCAL_SECRET];
    let mut leaks = Vec::new();
    let mut session = 0;
    let mut scan =
        |who: &Sandbox, env: &std::collections::BTreeMap<String, String>, args: &[&str]| {
            let mut cmd = who.dvx_std();
            cmd.envs(env);
            let out = cmd.args(args).output().expect("run dvx");
            session += 1;
            for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
                for s in secrets {
                    if bytes.windows(s.len()).any(|w| w == s.as_bytes()) {
                        leaks.push(format!("{s} in the {stream} of dvx {args:?}"));
                    }
                }
            }
            out
        };
    let good = server.env();
    let wrong = server.env_with_secret(WRONG);
    let ok = |out: std::process::Output, what: &str| {
        assert!(
            out.status.success(),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    ok(
        scan(&sb, &good, &["remote", "add", "origin", &url]),
        "remote add",
    );
    ok(scan(&sb, &good, &["add", "data"]), "add");
    ok(
        scan(&sb, &good, &["commit", "-m", "v1", "--git-add"]),
        "commit",
    );
    ok(scan(&sb, &good, &["push"]), "push");
    ok(scan(&sb, &good, &["push", "--json"]), "push --json");
    ok(scan(&sb, &good, &["fetch", "--json"]), "fetch");
    ok(scan(&sb, &good, &["status", "--json"]), "status");
    ok(
        scan(&sb, &good, &["remote", "list", "--json"]),
        "remote list",
    );
    // Wrong credentials: the errors name the remote, never the key.
    for args in [&["push"][..], &["fetch"], &["pull"]] {
        let out = scan(&sb, &wrong, args);
        assert_eq!(out.status.code(), Some(1), "dvx {args:?} with a wrong key");
    }
    // A key kept in the local config: listed as ***, never printed, never tracked.
    ok(
        scan(
            &sb,
            &std::collections::BTreeMap::new(),
            &[
                "remote",
                "set",
                "--local",
                "origin",
                "secret_access_key",
                LOCAL_SECRET,
            ],
        ),
        "remote set --local",
    );
    ok(scan(&sb, &good, &["remote", "list"]), "remote list");
    ok(
        scan(&sb, &good, &["remote", "list", "--json"]),
        "remote list --json",
    );
    let out = scan(
        &sb,
        &std::collections::BTreeMap::new(),
        &["remote", "set", "origin", "secret_access_key", LOCAL_SECRET],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "a credential into the tracked config is refused"
    );
    // A second clone, through clone, pull and a lazy pull.
    let other = Sandbox::empty();
    ok(scan(&other, &good, &["clone", &url, "."]), "clone");
    ok(scan(&other, &good, &["pull"]), "pull");
    ok(scan(&other, &good, &["status"]), "status in the clone");
    // The bytes half: drop, `cat` and `pull <paths>` through the remote, `fsck --remote`,
    // with the right key and then with a wrong one (errors that name the remote only).
    ok(scan(&other, &good, &["drop", "data/big.bin"]), "drop");
    ok(scan(&other, &good, &["fsck"]), "fsck with a blob not local");
    ok(
        scan(&other, &good, &["cat", "data/big.bin"]),
        "cat from the remote",
    );
    ok(scan(&other, &good, &["fsck", "--remote"]), "fsck --remote");
    ok(
        scan(&other, &good, &["fsck", "--remote", "--json"]),
        "fsck --remote --json",
    );
    for args in [
        &["pull", "data/big.bin"][..],
        &["cat", "data/big.bin"],
        &["drop", "data/a.csv"],
        &["fsck", "--remote"],
    ] {
        let out = scan(&other, &wrong, args);
        assert_eq!(out.status.code(), Some(1), "dvx {args:?} with a wrong key");
    }
    ok(
        scan(&other, &good, &["pull", "--json", "data/big.bin"]),
        "pull <paths>",
    );
    ok(
        scan(&other, &good, &["drop", "--json", "data"]),
        "drop --json",
    );
    ok(scan(&other, &good, &["pull", "data"]), "pull <paths> again");
    sb.git(&["add", "-A"]);
    sb.git(&["commit", "-q", "-m", "everything"]);
    let tracked = sb.git(&["ls-files"]);
    let local_config = ".dvx/config.local.toml";
    assert!(
        !tracked.contains(local_config),
        "the local config is not tracked: {tracked}"
    );
    for dir in [&sb.root, &other.root, &server.bucket_dir()] {
        for e in walkdir::WalkDir::new(dir)
            .into_iter()
            .filter_map(Result::ok)
        {
            if !e.file_type().is_file() || e.path().ends_with(local_config) {
                continue;
            }
            let bytes = std::fs::read(e.path()).expect("read");
            for s in secrets {
                if bytes.windows(s.len()).any(|w| w == s.as_bytes()) {
                    leaks.push(format!("{s} in {}", e.path().display()));
                }
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "credentials leaked:\n{}",
        leaks.join("\n")
    );
    eprintln!(
        "secrets: {session} remote commands, two clones and the remote's files scanned for 3 keys, none found"
    );
}
