//! Regression tests for what dvx tracks, and what `status`, `diff` and `rm` see of it.
//! Each test is named after the bug it pins down.

use crate::harness::*;

fn changes(status: &serde_json::Value, list: &str) -> Vec<(String, String)> {
    status[list]
        .as_array()
        .expect("a list")
        .iter()
        .map(|c| {
            (
                c["path"].as_str().expect("path").to_owned(),
                c["status"].as_str().expect("status").to_owned(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(p, s)| ((*p).to_owned(), (*s).to_owned()))
        .collect()
}

fn gitignore(sb: &Sandbox) -> String {
    if sb.exists(".gitignore") {
        String::from_utf8(sb.read(".gitignore")).expect("utf-8")
    } else {
        String::new()
    }
}

// ---------------------------------------------------------------------------------------
// `dvx add <empty dir>` adds a root that neither `dvx rm` nor `dvx rm --cached` removes

/// Regression: `dvx add` of an empty directory recorded a root (and a `.gitignore` line)
/// with nothing below it, which no commit can hold and `dvx rm` could not remove.
#[test]
fn add_refuses_an_empty_directory_instead_of_recording_a_root_rm_cannot_remove() {
    let sb = Sandbox::git_and_dvx();
    std::fs::create_dir_all(sb.path("empty")).expect("mkdir");
    sb.write("only-ignored/.DS_Store", b"x");
    sb.write(".dvxignore", b".DS_Store\n");
    sb.write("data/a.txt", b"a\n");
    let before = sb.dvx_state();
    for args in [
        &["add", "empty"][..],
        &["add", "only-ignored"],
        &["add", "data", "empty"],
    ] {
        let err = sb.fails(args, 1);
        let (error, hint) = error_and_hint(&err);
        assert_contains(&error, "has no files to track");
        assert_contains(&hint, "empty directories");
        assert_eq!(sb.dvx_state(), before, "{args:?} changed nothing");
        assert_eq!(gitignore(&sb), "", "{args:?} wrote no ignore line");
    }
}

/// Regression (the same bug, other side): a tracked directory whose files were all
/// deleted and re-added keeps its root; `dvx rm` and `dvx rm --cached` said it "did not
/// match any tracked path" and left the root and its `.gitignore` line for good.
#[test]
fn rm_removes_a_root_whose_files_were_all_deleted() {
    for cached in [false, true] {
        let sb = Sandbox::git_and_dvx();
        sb.write("data/a.txt", b"a\n");
        sb.ok(&["add", "data"]);
        sb.ok(&["commit", "-m", "data"]);
        std::fs::remove_file(sb.path("data/a.txt")).expect("rm");
        sb.ok(&["add", "data"]);
        assert_eq!(
            changes(&sb.status_json(), "staged"),
            pairs(&[("data/a.txt", "deleted")])
        );
        assert_contains(&gitignore(&sb), "/data");
        let mut args = vec!["rm", "--json", "data"];
        if cached {
            args.insert(1, "--cached");
        }
        let out: serde_json::Value = serde_json::from_str(&sb.out(&args)).expect("json");
        assert_eq!(out["untracked"], serde_json::json!(["data"]), "{out}");
        assert!(!gitignore(&sb).contains("/data"), "{}", gitignore(&sb));
        assert_contains(
            &sb.fails(&["rm", "data"], 1),
            "did not match any tracked path",
        );
        sb.ok(&["commit", "-m", "no data"]);
        assert_eq!(sb.status_json()["clean"], true);
    }
}
