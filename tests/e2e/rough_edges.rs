//! Rough edges users hit: output that cannot be written, names that need quoting, git's
//! revision spellings, empty messages, mode changes, hints, and unstaging.

use std::fs;
use std::process::{Output, Stdio};

use crate::harness::*;

/// A dvx-only repository with one commit of a small data directory.
fn committed() -> Sandbox {
    let sb = Sandbox::dvx_only();
    sb.write("data/a.txt", b"alpha\n");
    sb.write("data/b.txt", b"beta\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "first"]);
    sb
}

/// Run dvx with standard output on `/dev/full`.
fn to_dev_full(sb: &Sandbox, args: &[&str]) -> Output {
    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("open /dev/full");
    sb.dvx_std()
        .args(args)
        .stdout(full)
        .stderr(Stdio::piped())
        .output()
        .expect("run dvx")
}

/// Run dvx with file descriptor 1 closed, as `dvx ... >&-` does.
fn with_stdout_closed(sb: &Sandbox, args: &[&str]) -> Output {
    use std::os::unix::process::CommandExt;
    let mut cmd = sb.dvx_std();
    cmd.args(args).stderr(Stdio::piped());
    // SAFETY: close(2) is async-signal-safe, as pre_exec requires.
    unsafe {
        cmd.pre_exec(|| {
            libc::close(1);
            Ok(())
        });
    }
    cmd.output().expect("run dvx")
}

/// The run failed with exit 1 and one `error:`/`hint:` pair naming standard output and
/// `reason`, without a panic.
fn assert_write_failure(out: &Output, args: &[&str], reason: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "dvx {args:?}: {stderr}");
    assert!(
        !stderr.contains("panicked"),
        "dvx {args:?} panicked: {stderr}"
    );
    let (error, _hint) = error_and_hint(&stderr);
    assert_contains(&error, "error: cannot write to standard output: ");
    assert_contains(&error, reason);
}

#[test]
fn cat_to_a_full_disk_or_a_closed_stdout_fails() {
    let sb = committed();
    let big = bytes(7, 300_000);
    sb.write("data/big.bin", &big);
    sb.ok(&["add", "data"]);
    for path in ["data/a.txt", "data/big.bin"] {
        let args = ["cat", path];
        assert_write_failure(&to_dev_full(&sb, &args), &args, "No space left on device");
        assert_write_failure(
            &with_stdout_closed(&sb, &args),
            &args,
            "Bad file descriptor",
        );
    }
    // A closed pipe stays quiet, as before.
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = sb
        .dvx_std()
        .args(["cat", "data/big.bin"])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("run");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Commands that print nothing do not care that standard output is closed.
    let out = with_stdout_closed(&sb, &["-q", "add", "data"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = sb
        .dvx()
        .args(["cat", "data/big.bin"])
        .output()
        .expect("run");
    assert!(out.status.success());
    assert_eq!(out.stdout, big);
}

#[test]
fn commands_writing_to_a_full_disk_fail_instead_of_panicking() {
    let sb = committed();
    sb.write("data/a.txt", b"changed\n");
    let commands: [&[&str]; 7] = [
        &["log"],
        &["log", "--json"],
        &["ls"],
        &["status"],
        &["status", "--json"],
        &["diff", "--json"],
        &["show"],
    ];
    for args in commands {
        assert_write_failure(&to_dev_full(&sb, args), args, "No space left on device");
        assert_write_failure(&with_stdout_closed(&sb, args), args, "Bad file descriptor");
    }
    let help = to_dev_full(&sb, &["--help"]);
    assert_eq!(help.status.code(), Some(1));
    // Writers do their work, then say that their report was lost.
    sb.ok(&["add", "data"]);
    let commit = to_dev_full(&sb, &["commit", "-m", "second"]);
    assert_write_failure(&commit, &["commit"], "No space left on device");
    assert_contains(&sb.out(&["log", "--oneline"]), "second");
}

/// File names that need quoting, with the bytes of each file.
const ODD_NAMES: [&str; 6] = [
    "new\nline",
    "tab\tname",
    "esc\u{1b}[31m",
    "q\"uote\\back",
    "caf\u{e9}",
    "trailing ",
];

#[test]
fn names_with_control_characters_are_quoted_as_git_quotes_them() {
    let sb = Sandbox::dvx_only();
    for (i, name) in ODD_NAMES.iter().enumerate() {
        sb.write(&format!("data/{name}"), format!("{i}\n").as_bytes());
    }
    sb.write("data/plain.txt", b"plain\n");
    sb.ok(&["add", "data"]);
    // git's own quoting of the same names (in a repository of their own).
    let git_dir = sb.home.join("quoting");
    fs::create_dir_all(&git_dir).expect("mkdir");
    let git_dir = git_dir.to_str().expect("utf-8");
    sb.git(&["init", "-q", git_dir]);
    for name in ODD_NAMES {
        dvx::atomic::write(&std::path::Path::new(git_dir).join(name), b"x").expect("write");
    }
    sb.git(&["-C", git_dir, "add", "."]);
    let mut expected: Vec<String> = sb
        .git(&["-C", git_dir, "ls-files"])
        .lines()
        .map(|l| match l.strip_prefix('"') {
            Some(quoted) => format!("\"data/{quoted}"),
            None if l.ends_with(' ') => format!("\"data/{l}\""), // git leaves it bare
            None => format!("data/{l}"),
        })
        .collect();
    expected.push("data/plain.txt".into());
    expected.sort();
    assert_contains(&expected.join("\n"), r#""data/new\nline""#);

    let status = sb.out(&["status"]);
    let mut staged: Vec<String> = status
        .lines()
        .filter_map(|l| l.strip_prefix("  added:    "))
        .map(str::to_owned)
        .collect();
    staged.sort();
    assert_eq!(staged, expected, "status:\n{status}");
    sb.ok(&["commit", "-m", "odd names"]);
    let mut listed: Vec<String> = sb
        .out(&["ls"])
        .lines()
        .map(|l| {
            l.trim_start()
                .splitn(3, "  ")
                .nth(2)
                .expect("path column")
                .to_owned()
        })
        .collect();
    listed.sort();
    assert_eq!(listed, expected);
    let show = sb.out(&["show"]);
    assert_contains(&show, "  added:    \"data/new\\nline\" (2 B)");
    assert!(!show.contains('\t') && !show.contains('\u{1b}'), "{show:?}");

    sb.write("data/new\nline", b"changed\n");
    sb.write("data/trailing ", b"changed too\n");
    assert_contains(&sb.out(&["status"]), "  modified: \"data/new\\nline\"\n");
    let diff = sb.out(&["diff"]);
    assert_eq!(diff, "M\t\"data/new\\nline\"\nM\t\"data/trailing \"\n");
    let stat = sb.out(&["diff", "--stat"]);
    assert_contains(&stat, " \"data/new\\nline\" | 2 B -> 8 B\n");
    let content = sb.out(&["diff", "--content"]);
    assert_contains(
        &content,
        "diff --dvx \"a/data/new\\nline\" \"b/data/new\\nline\"\n--- \"a/data/new\\nline\"\n+++ \"b/data/new\\nline\"\n",
    );
    // JSON keeps names exact.
    let json: serde_json::Value = serde_json::from_str(&sb.out(&["diff", "--json"])).expect("json");
    let paths: Vec<&str> = json
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|c| c["path"].as_str())
        .collect();
    assert_eq!(paths, ["data/new\nline", "data/trailing "]);
    let status = sb.status_json();
    assert_eq!(status["unstaged"][0]["path"], "data/new\nline");
    let ls: serde_json::Value = serde_json::from_str(&sb.out(&["ls", "--json"])).expect("json");
    assert!(
        ls.as_array()
            .expect("array")
            .iter()
            .any(|f| f["path"] == "data/esc\u{1b}[31m")
    );
}

/// The id of `rev`, as `log --json` prints it.
fn id_of(sb: &Sandbox, rev: &str) -> String {
    let log: serde_json::Value =
        serde_json::from_str(&sb.out(&["log", "--json", "-n", "1", rev])).expect("json");
    log[0]["id"].as_str().expect("id").to_owned()
}

#[test]
fn diff_accepts_git_range_spelling() {
    let sb = committed();
    sb.write("data/a.txt", b"second\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "second"]);
    sb.ok(&["checkout", "-q", "-b", "side", "HEAD~1"]);
    sb.write("data/side.txt", b"side\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "side"]);
    let two = sb.out(&["diff", "main~1", "main"]);
    assert_eq!(two, "M\tdata/a.txt\n");
    assert_eq!(sb.out(&["diff", "main~1..main"]), two);
    assert_eq!(
        sb.out(&["diff", "--json", "main~1..main"]),
        sb.out(&["diff", "--json", "main~1", "main"])
    );
    // An empty side is HEAD (here: side).
    assert_eq!(
        sb.out(&["diff", "main.."]),
        sb.out(&["diff", "main", "side"])
    );
    assert_eq!(
        sb.out(&["diff", "..main"]),
        sb.out(&["diff", "side", "main"])
    );
    // Three dots: from where the two histories meet.
    assert_eq!(sb.out(&["diff", "main...side"]), "A\tdata/side.txt\n");
    assert_eq!(sb.out(&["diff", "side...main"]), "M\tdata/a.txt\n");
    // Bad sides are named.
    let stderr = sb.fails(&["diff", "main..nope"], 1);
    assert_contains(&stderr, "unknown revision 'nope'");
    sb.fails(&["diff", "main..side", "main"], 2);
}

#[test]
fn commit_refuses_an_empty_message() {
    let sb = committed();
    sb.write("data/c.txt", b"c\n");
    sb.ok(&["add", "data"]);
    let state = sb.dvx_state();
    for message in ["", "  ", "\n\n \t\n"] {
        let stderr = sb.fails(&["commit", "-m", message], 1);
        let (error, hint) = error_and_hint(&stderr);
        assert_contains(&error, "empty commit message");
        assert_contains(&hint, "-m");
    }
    assert_eq!(sb.dvx_state(), state, "a refused commit writes nothing");
    sb.ok(&["commit", "-m", "x"]);
}

#[test]
fn a_ref_whose_name_is_also_an_id_prefix_warns() {
    let sb = committed();
    let first = id_of(&sb, "HEAD");
    sb.write("data/c.txt", b"c\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "second"]);
    // A tag named like the start of the first commit's id, on the second commit.
    let prefix = &first[..8];
    sb.ok(&["tag", prefix, "HEAD"]);
    let out = sb
        .dvx()
        .args(["log", "--oneline", "-n", "1", prefix])
        .output()
        .expect("run");
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_contains(&stdout, "second");
    assert_eq!(
        stderr,
        format!(
            "warning: refname '{prefix}' is ambiguous: tag {prefix}, commit {}; the ref is used (give more digits to name the commit)\n",
            &first[..10]
        )
    );
    // More digits name the commit, without a warning.
    let out = sb
        .dvx()
        .args(["log", "--oneline", "-n", "1", &first[..12]])
        .output()
        .expect("run");
    assert_contains(&String::from_utf8_lossy(&out.stdout), "first");
    assert!(out.stderr.is_empty());
    // A tag and a branch of one name: the warning names both.
    sb.ok(&["tag", "dup", "HEAD~1"]);
    sb.ok(&["branch", "dup"]);
    let out = sb.dvx().args(["show", "dup"]).output().expect("run");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "warning: refname 'dup' is ambiguous: tag dup, branch dup\n"
    );
    // Plain names warn about nothing.
    let out = sb.dvx().args(["show", "main"]).output().expect("run");
    assert!(out.stderr.is_empty());
}

fn set_mode(sb: &Sandbox, rel: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(sb.path(rel), fs::Permissions::from_mode(mode)).expect("chmod");
}

#[test]
fn a_mode_only_change_says_mode_changed() {
    let sb = Sandbox::dvx_only();
    sb.write("data/run.sh", b"echo hi\n\n");
    sb.write("data/other.txt", b"x\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "first"]);
    set_mode(&sb, "data/run.sh", 0o755);
    assert_contains(
        &sb.out(&["status"]),
        "Changes not staged (dvx add to stage, dvx checkout -- <path> to discard):\n  modified: data/run.sh (mode changed)\n",
    );
    assert_eq!(
        sb.out(&["diff"]),
        "M\tdata/run.sh (mode changed 100644 -> 100755)\n"
    );
    assert_eq!(
        sb.out(&["diff", "--stat"]),
        " data/run.sh | mode changed 100644 -> 100755\n 1 file changed: 0 added, 0 deleted, 1 modified, 0 renamed; 9 B -> 9 B\n"
    );
    assert_eq!(
        sb.out(&["diff", "--content"]),
        "diff --dvx a/data/run.sh b/data/run.sh\nold mode 100644\nnew mode 100755\n"
    );
    let json: serde_json::Value = serde_json::from_str(&sb.out(&["diff", "--json"])).expect("json");
    assert_eq!(json[0]["old_id"], json[0]["new_id"]);
    assert_eq!(json[0]["old_mode"], "100644");
    assert_eq!(json[0]["new_mode"], "100755");
    assert_eq!(sb.status_json()["unstaged"][0]["mode_changed"], true);

    sb.ok(&["add", "data"]);
    assert_contains(
        &sb.out(&["status"]),
        "Changes staged for commit (dvx commit; dvx reset -- <path> to unstage):\n  modified: data/run.sh (mode changed)\n",
    );
    assert_eq!(sb.status_json()["staged"][0]["mode_changed"], true);
    sb.ok(&["commit", "-m", "executable"]);
    assert_contains(
        &sb.out(&["show"]),
        "  modified: data/run.sh (9 B, mode changed 100644 -> 100755)\n",
    );
    // Bytes and mode together: both are said.
    sb.write("data/run.sh", b"echo bye\n");
    set_mode(&sb, "data/run.sh", 0o644);
    assert_contains(
        &sb.out(&["diff", "--stat"]),
        " data/run.sh | 9 B -> 9 B, mode changed 100755 -> 100644\n",
    );
    let content = sb.out(&["diff", "--content"]);
    assert_contains(
        &content,
        "old mode 100755\nnew mode 100644\n--- a/data/run.sh\n+++ b/data/run.sh\n",
    );
    // A plain edit says nothing about modes.
    set_mode(&sb, "data/run.sh", 0o755);
    assert_eq!(sb.out(&["diff"]), "M\tdata/run.sh\n");
    assert!(sb.out(&["diff", "--json"]).find("mode").is_none());
    assert_eq!(
        sb.status_json()["unstaged"][0],
        serde_json::json!({"path": "data/run.sh", "status": "modified"})
    );
}

/// The commands `dvx --help` lists.
fn listed_commands(sb: &Sandbox) -> Vec<String> {
    let help = sb.out(&["--help"]);
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

/// Every `dvx <word>` in `text` names a listed command (words that are not commands, as
/// in "dvx cannot fetch yet", are not followed by a command-like hint).
fn assert_names_only(text: &str, commands: &[String]) {
    for (i, _) in text.match_indices("dvx ") {
        let word: String = text[i + 4..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '-')
            .collect();
        if word == "cannot" {
            continue;
        }
        assert!(
            commands.contains(&word),
            "'dvx {word}' is not a command ({commands:?}):\n{text}"
        );
    }
}

#[test]
fn hints_about_missing_data_name_only_commands_that_exist() {
    let sb = Sandbox::git_and_dvx();
    let commands = listed_commands(&sb);
    assert!(commands.contains(&"checkout".to_owned()), "{commands:?}");
    for remote_command in ["remote", "push", "fetch", "pull", "clone"] {
        assert!(
            commands.contains(&remote_command.to_owned()),
            "{commands:?}"
        );
    }
    sb.write("data/a.txt", b"a\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "first", "--git-add"]);
    sb.git(&["commit", "-q", "-m", "pin"]);
    let mut stderrs = Vec::new();
    // `cat` of a file whose bytes left the local store, with no remote to fetch them:
    // the hint is to add one (`fetch` never brings file bytes).
    fs::remove_file(object_path(&sb.root, &b3(b"a\n"))).expect("remove object");
    let cat = sb.fails(&["cat", "data/a.txt"], 1);
    let (_, hint) = error_and_hint(&cat);
    assert_contains(&hint, "`dvx remote add <name> <url>`");
    assert_names_only(&cat, &commands);
    // A pin, in git, of a dvx commit made in another clone.
    let foreign = "ab".repeat(32);
    let pin = format!("format = 1\ncommit = \"{foreign}\"\n");
    sb.write("dvx.lock", pin.as_bytes());
    sb.git(&["commit", "-q", "-am", "foreign pin"]);
    stderrs.push(sb.fails(&["checkout", "--git", "HEAD"], 1));
    // pre-push of that commit.
    let head = sb.git(&["rev-parse", "HEAD"]);
    let out = sb
        .dvx()
        .args(["hook", "pre-push", "origin", "/nowhere"])
        .write_stdin(format!(
            "refs/heads/main {} refs/heads/main {}\n",
            head.trim(),
            "0".repeat(40)
        ))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    stderrs.push(String::from_utf8(out.stderr).expect("utf-8"));
    // A conflicted dvx.lock whose other side is not here.
    let mine = sb.git(&["show", "HEAD~1:dvx.lock"]);
    sb.write(
        "dvx.lock",
        format!("<<<<<<< ours\n{mine}=======\n{pin}>>>>>>> theirs\n").as_bytes(),
    );
    stderrs.push(sb.fails(&["merge", "--git-conflict"], 1));
    for stderr in &stderrs {
        let (_, hint) = error_and_hint(stderr);
        assert_contains(&hint, "`dvx fetch`");
        assert_names_only(stderr, &commands);
    }
}
