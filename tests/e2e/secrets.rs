//! Credentials never leak: with known fake keys in the environment (every provider dvx's
//! remotes read), a session of commands, successful and failing, with and without
//! `--json`, prints none of them, and none lands in any file dvx wrote (objects, index,
//! refs, reflogs, state, config, `dvx.lock`, `.gitignore`) or in anything git tracks.

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
        session.len(),
        FAKE_SECRETS.len()
    );
}
