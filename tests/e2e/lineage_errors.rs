//! Lineage's refusals: one `error:` line naming what and where, a `hint:`, exit code 1
//! (2 for usage), and nothing changed: no run recorded, `.dvx/` and the data as they were.

use std::fs;

use crate::harness::{Sandbox, assert_contains, error_and_hint};
use crate::lineage::{json, pipeline, prepare, train};

/// Run `args`, expecting exit `code`, one error line containing `needle` and a hint,
/// and no change under `.dvx/` or in the work tree. Returns the error line.
fn refused(sb: &Sandbox, args: &[&str], code: i32, needle: &str) -> String {
    // Let status record fresh stat data first, so only the command under test can write.
    sb.ok(&["status"]);
    let state = repository_state(sb);
    let files = sb.snapshot(".");
    let stderr = sb.fails(args, code);
    let (error, hint) = error_and_hint(&stderr);
    assert_contains(&error, needle);
    assert!(hint.len() > "hint: ".len(), "an empty hint: {hint}");
    assert_eq!(repository_state(sb), state, "dvx {args:?} changed .dvx/");
    assert_eq!(
        sb.snapshot("."),
        files,
        "dvx {args:?} changed the work tree"
    );
    error
}

/// `.dvx/` but its caches: looking for the run behind a file may bring the lineage index
/// (`cache/runs-by-out`) up to date, which changes no data and no history.
fn repository_state(sb: &Sandbox) -> Vec<String> {
    sb.dvx_state()
        .into_iter()
        .filter(|line| !line.starts_with(".dvx/cache"))
        .collect()
}

#[test]
fn a_dep_that_is_not_tracked_or_does_not_exist() {
    let sb = pipeline();
    sb.write("data/loose.csv", b"x\n");
    let error = refused(
        &sb,
        &[
            "run",
            "-d",
            "data/loose.csv",
            "-o",
            "o.txt",
            "--",
            "touch",
            "o.txt",
        ],
        1,
        "dep 'data/loose.csv' is not tracked by git or by dvx",
    );
    assert!(!error.contains("touch"));
    assert!(!sb.exists("o.txt"), "the command did not run");
    refused(
        &sb,
        &[
            "run",
            "-d",
            "data/nope.csv",
            "-o",
            "o.txt",
            "--",
            "touch",
            "o.txt",
        ],
        1,
        "dep 'data/nope.csv' does not exist",
    );
    refused(
        &sb,
        &["record", "-d", "data/loose.csv", "-o", "data/raw"],
        1,
        "data/loose.csv",
    );
}

#[test]
fn a_dep_with_changes_that_are_not_staged() {
    let sb = pipeline();
    sb.write("data/raw/a.csv", b"edited\n");
    refused(
        &sb,
        &[
            "run", "-d", "data/raw", "-o", "o.txt", "--", "touch", "o.txt",
        ],
        1,
        "dep 'data/raw' has changes that are not staged: modified data/raw/a.csv",
    );
    assert!(!sb.exists("o.txt"));
    // A new file under a dep directory counts too: the command would read it.
    sb.ok(&["checkout", "--", "data/raw"]);
    sb.write("data/raw/new.csv", b"new\n");
    refused(
        &sb,
        &[
            "run", "-d", "data/raw", "-o", "o.txt", "--", "touch", "o.txt",
        ],
        1,
        "new data/raw/new.csv",
    );
    // Staged changes are fine: the run's commit records them.
    sb.ok(&["add", "data/raw"]);
    sb.ok(&[
        "run", "-d", "data/raw", "-o", "o.txt", "--", "touch", "o.txt",
    ]);
    let run = &json(&sb, &["runs", "--json"])[0];
    let listed = json(&sb, &["ls", "HEAD", "data/raw", "--json"]);
    assert_eq!(
        listed.as_array().expect("ls").len(),
        3,
        "the staged file was committed"
    );
    assert_eq!(run["deps"][0]["path"], "data/raw");
}

#[test]
fn an_out_the_command_did_not_write() {
    let sb = pipeline();
    refused(
        &sb,
        &["run", "-d", "data/raw", "-o", "models/m.pt", "--", "true"],
        1,
        "the command did not write out 'models/m.pt'; nothing was recorded",
    );
    // An out that exists but that the command left alone is not written either.
    sb.write("models/old.pt", b"old\n");
    refused(
        &sb,
        &["run", "-d", "data/raw", "-o", "models/old.pt", "--", "true"],
        1,
        "did not write out 'models/old.pt'",
    );
    assert!(
        json(&sb, &["runs", "--json"])
            .as_array()
            .expect("runs")
            .is_empty()
    );
    // `record` takes outs as they are, but they must exist.
    refused(
        &sb,
        &["record", "-d", "data/raw", "-o", "models/none.pt"],
        1,
        "out 'models/none.pt' does not exist",
    );
}

#[test]
fn an_out_that_is_also_a_dep_or_belongs_to_git() {
    let sb = pipeline();
    for (out, needle) in [
        ("data/raw", "out 'data/raw' is also a dep ('data/raw')"),
        (
            "data/raw/a.csv",
            "out 'data/raw/a.csv' is also a dep ('data/raw')",
        ),
        ("data", "out 'data' is also a dep ('data/raw')"),
    ] {
        refused(
            &sb,
            &[
                "run",
                "-d",
                "data/raw",
                "-o",
                out,
                "--",
                "touch",
                "data/raw/x",
            ],
            1,
            needle,
        );
    }
    assert!(!sb.exists("data/raw/x"), "the command never ran");
    refused(
        &sb,
        &[
            "run", "-d", "data/raw", "-o", "train.py", "--", "touch", "train.py",
        ],
        1,
        "out 'train.py' is tracked by git (train.py)",
    );
    refused(
        &sb,
        &["run", "-d", "data/raw", "-o", ".", "--", "true"],
        1,
        "cannot be tracked: it is the top of the work tree",
    );
    refused(
        &sb,
        &[
            "run", "-d", "data/raw", "-o", "o", "--env", "A=B", "--", "true",
        ],
        1,
        "'A=B' is not an environment variable name",
    );
    refused(
        &sb,
        &[
            "run", "-d", "data/raw", "-o", "o.txt", "-m", " ", "--", "touch", "o.txt",
        ],
        1,
        "empty commit message",
    );
    assert!(!sb.exists("o.txt"), "refused before the command ran");
}

#[test]
fn a_path_with_no_recorded_run() {
    let sb = pipeline();
    let error = refused(
        &sb,
        &["trace", "data/raw/a.csv"],
        1,
        "no recorded run made 'data/raw/a.csv' (blob ",
    );
    assert!(!error.contains("dvx"));
    refused(
        &sb,
        &["reproduce", "data/raw/a.csv"],
        1,
        "no recorded run made 'data/raw/a.csv'",
    );
    refused(
        &sb,
        &["trace", "data/nope"],
        1,
        "'data/nope' does not exist",
    );
    refused(
        &sb,
        &["trace", "data/raw/a.csv", "--rev", "nope"],
        1,
        "unknown revision 'nope'",
    );
    refused(
        &sb,
        &["trace", "data/nope", "--rev", "HEAD"],
        1,
        "path 'data/nope' does not exist in HEAD",
    );
    // Usage: --check needs --run; a run needs outs and a command.
    sb.fails(&["reproduce", "data/raw/a.csv", "--check"], 2);
    sb.fails(&["run", "-d", "data/raw", "--", "true"], 2);
    sb.fails(&["run", "-o", "x"], 2);
}

#[test]
fn reproduce_refuses_to_overwrite_local_changes_or_files_in_the_way() {
    let sb = pipeline();
    prepare(&sb);
    train(&sb, "1");
    // Newer features, committed; the model is still the old one's.
    sb.write("data/raw/a.csv", b"9,9\n");
    sb.ok(&["add", "data/raw"]);
    sb.ok(&["commit", "-m", "newer"]);
    prepare(&sb);
    // An edit that would be lost.
    sb.write("data/features/all.csv", b"hand edited\n");
    let error = refused(
        &sb,
        &["reproduce", "models/model.pt"],
        1,
        "reproduce would overwrite local changes in 1 path(s): data/features/all.csv",
    );
    assert!(!error.contains("model.pt"));
    // With --into, the work tree does not matter; what is in the way there does.
    let into = sb.root.parent().expect("parent").join("occupied");
    fs::create_dir_all(into.join("data/features")).expect("mkdir");
    dvx::atomic::write(&into.join("data/features/all.csv"), b"someone else's\n").expect("write");
    let into_arg = into.to_str().expect("utf-8");
    refused(
        &sb,
        &["reproduce", "models/model.pt", "--into", into_arg],
        1,
        "1 path(s) in",
    );
    assert_eq!(
        fs::read(into.join("data/features/all.csv")).expect("read"),
        b"someone else's\n"
    );
    refused(
        &sb,
        &["reproduce", "models/model.pt", "--into", "."],
        1,
        "it is the work tree itself",
    );
    refused(
        &sb,
        &["reproduce", "models/model.pt", "--into", ".dvx/x"],
        1,
        "it is inside .dvx/ or .git/",
    );
    // Once the edit is gone, the work tree takes the run's inputs (staged).
    sb.ok(&["checkout", "--", "data/features"]);
    sb.ok(&["reproduce", "models/model.pt"]);
    assert_eq!(sb.read("data/features/all.csv"), b"1,2\n3,4\n");
    let status = sb.status_json();
    assert_eq!(
        status["staged"][0]["path"], "data/features/all.csv",
        "{status}"
    );
}

#[test]
fn a_dep_whose_bytes_are_not_fetched() {
    let sb = pipeline();
    sb.ok(&["branch", "one"]);
    sb.write("data/raw/a.csv", b"only on main\n");
    sb.ok(&["add", "data/raw"]);
    sb.ok(&["commit", "-m", "two"]);
    sb.ok(&["checkout", "one"]);
    // The newer bytes are no longer local: a lazy checkout leaves the file not fetched.
    let object = crate::harness::object_path(&sb.root, &crate::harness::b3(b"only on main\n"));
    fs::remove_file(object).expect("drop object");
    sb.ok(&["checkout", "--lazy", "main"]);
    assert!(!sb.exists("data/raw/a.csv"));
    refused(
        &sb,
        &[
            "run", "-d", "data/raw", "-o", "o.txt", "--", "touch", "o.txt",
        ],
        1,
        "dep 'data/raw' is not fetched: data/raw/a.csv",
    );
    assert!(!sb.exists("o.txt"));
}

#[test]
fn an_env_name_that_holds_a_credential_is_refused_and_nothing_is_recorded() {
    let sb = pipeline();
    for name in [
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AZURE_STORAGE_SAS_TOKEN",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "HF_TOKEN",
        "PGPASSWORD",
        "OPENAI_API_KEY",
    ] {
        let error = refused(
            &sb,
            &[
                "run", "-d", "data/raw", "-o", "o.txt", "--env", "SEED", "--env", name, "--",
                "touch", "o.txt",
            ],
            1,
            &format!("--env {name}: the name says it holds a credential"),
        );
        assert_contains(&error, "history every remote receives");
        assert!(
            !sb.exists("o.txt"),
            "{name}: refused before the command ran"
        );
    }
    // `record` refuses it too, and --add-deps adds nothing first.
    sb.write("data/new.csv", b"5,6\n");
    refused(
        &sb,
        &[
            "record",
            "--add-deps",
            "-d",
            "data/new.csv",
            "-o",
            "data/raw",
            "--env",
            "azure_client_secret",
        ],
        1,
        "--env azure_client_secret: the name says it holds a credential",
    );
    refused(
        &sb,
        &[
            "run",
            "--add-deps",
            "-d",
            "data/new.csv",
            "-o",
            "o.txt",
            "--env",
            "GITHUB_TOKEN",
            "--",
            "touch",
            "o.txt",
        ],
        1,
        "--env GITHUB_TOKEN",
    );
    // The value never shows, and a name that only contains a short word is recorded.
    let out = sb
        .dvx()
        .env("HF_TOKEN", "hf_not_really_a_token_1234")
        .args([
            "run", "-o", "o.txt", "--env", "HF_TOKEN", "--", "touch", "o.txt",
        ])
        .output()
        .expect("run dvx");
    assert_eq!(out.status.code(), Some(1));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains("hf_not_really"), "{all}");
    let out = sb
        .dvx()
        .env("TOKENIZERS_PARALLELISM", "false")
        .args([
            "run",
            "-o",
            "o.txt",
            "--env",
            "TOKENIZERS_PARALLELISM",
            "--json",
            "--",
            "touch",
            "o.txt",
        ])
        .output()
        .expect("run dvx");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = sb.out(&["trace", "o.txt"]);
    assert_contains(&shown, "TOKENIZERS_PARALLELISM=false");
}
