//! Regression tests for ways the only copy of some bytes could be lost or damaged bytes
//! could spread. Each test is named after the bug it pins down.

use std::fs;

use crate::harness::*;

/// Overwrite a stored object with other bytes (objects are read-only; the rename
/// replaces the file), as a bad disk or a stray write would.
fn damage(sb: &Sandbox, id: &str, bytes: &[u8]) {
    dvx::atomic::write(&object_path(&sb.root, id), bytes).expect("overwrite object");
}

/// The same bytes with the last one flipped: same size, other content.
fn flipped(good: &[u8]) -> Vec<u8> {
    let mut bad = good.to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 0x20;
    bad
}

/// Names of dvx temp files left in a directory.
fn temp_files(sb: &Sandbox, dir: &str) -> Vec<String> {
    fs::read_dir(sb.path(dir))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".dvx-tmp-"))
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Corrupt objects spread silently

/// A small file and one large enough to be copied in chunks, committed.
fn two_sizes() -> (Sandbox, Vec<(&'static str, Vec<u8>)>) {
    let sb = Sandbox::git_and_dvx();
    let files = vec![
        ("data/small.txt", b"the only good copy\n".to_vec()),
        ("data/large.bin", bytes(7, 9 << 20)),
    ];
    for (path, content) in &files {
        sb.write(path, content);
    }
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "data"]);
    (sb, files)
}

/// Regression: an object overwritten with other bytes of the same size was printed by
/// `dvx cat` with exit 0.
#[test]
fn cat_refuses_an_object_damaged_at_the_same_size() {
    let (sb, files) = two_sizes();
    for (path, good) in &files {
        let id = b3(good);
        damage(&sb, &id, &flipped(good));
        for args in [&["cat", path][..], &["cat", "--rev", "HEAD", path]] {
            let output = sb.dvx().args(args).output().expect("run");
            assert_eq!(output.status.code(), Some(1), "{args:?}");
            assert!(output.stdout.is_empty(), "{args:?} printed damaged bytes");
            let stderr = String::from_utf8_lossy(&output.stderr);
            let (error, hint) = error_and_hint(&stderr);
            assert_contains(&error, &id);
            assert_contains(&error, path);
            assert_contains(&hint, "dvx fsck");
        }
    }
}

/// Regression: `dvx checkout -- <path>` wrote a damaged object's bytes into the work tree
/// (copy and reflink modes), after which `status` said "nothing to commit".
#[test]
fn checkout_does_not_write_a_damaged_object() {
    let (sb, files) = two_sizes();
    for (path, good) in &files {
        let id = b3(good);
        damage(&sb, &id, &flipped(good));
        fs::remove_file(sb.path(path)).expect("rm");
        let before = sb.dvx_state();
        let err = sb.fails(&["checkout", "--", path], 1);
        let (error, hint) = error_and_hint(&err);
        assert_contains(&error, &id);
        assert_contains(&error, path);
        assert_contains(&hint, "dvx add");
        assert!(!sb.exists(path), "{path} was written from a damaged object");
        assert_eq!(temp_files(&sb, "data"), Vec::<String>::new());
        assert_eq!(sb.dvx_state(), before, "the index did not change");
        let status = sb.status_json();
        assert_eq!(status["clean"], false, "{status}");
        assert_eq!(
            status["unstaged"],
            serde_json::json!([{ "path": path, "status": "deleted" }])
        );
        // Putting the good file back and adding it repairs the object.
        sb.write(path, good);
        sb.ok(&["add", "data"]);
        assert_eq!(fs::read(object_path(&sb.root, &id)).expect("object"), *good);
    }
    sb.ok(&["fsck"]);
    assert_eq!(sb.status_json()["clean"], true);
}

/// Regression: switching to a commit wrote a damaged object's bytes too; the checkout now
/// stops naming the object and the path, and the re-run after a repair completes.
#[test]
fn switching_commits_does_not_write_a_damaged_object() {
    let (sb, files) = two_sizes();
    let (path, good) = &files[0];
    let first = sb.status_json()["head"].as_str().expect("head").to_owned();
    sb.write(path, b"second version\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "second"]);
    let id = b3(good);
    damage(&sb, &id, &flipped(good));
    let err = sb.fails(&["checkout", &first], 1);
    assert_contains(&err, &id);
    assert_contains(&err, path);
    assert_eq!(sb.read(path), b"second version\n", "the old file is kept");
    assert_eq!(temp_files(&sb, "data"), Vec::<String>::new());
    assert_eq!(
        sb.status_json()["interrupted_checkout"],
        first.as_str(),
        "the checkout is reported as cut short"
    );
    // Adding a good copy (under another name) repairs the object; the re-run completes.
    sb.write("data/spare.txt", good);
    sb.ok(&["add", "data/spare.txt"]);
    sb.ok(&["rm", "--cached", "data/spare.txt"]);
    sb.ok(&["checkout", &first]);
    assert_eq!(sb.read(path), *good);
    assert_eq!(
        sb.status_json()["interrupted_checkout"],
        serde_json::Value::Null
    );
    sb.ok(&["fsck"]);
}

/// Regression: re-adding the correct original file did not repair an object damaged at
/// the same size (the store only compared sizes), so the damage stayed for good.
#[test]
fn adding_a_good_copy_repairs_an_object_damaged_at_the_same_size() {
    let (sb, files) = two_sizes();
    let (path, good) = &files[0];
    let id = b3(good);
    damage(&sb, &id, &flipped(good));
    assert_contains(&sb.fails(&["fsck"], 1), "fsck found 1 problem");
    // A second file with the same bytes, added later: the store already "has" them.
    sb.write("data/copy.txt", good);
    let out: serde_json::Value =
        serde_json::from_str(&sb.out(&["add", "--json", "data"])).expect("json");
    assert_eq!(out["objects_written"], 1, "{out}");
    assert_eq!(fs::read(object_path(&sb.root, &id)).expect("object"), *good);
    sb.ok(&["fsck"]);
    assert_eq!(sb.out(&["cat", path]).as_bytes(), &good[..]);
}

// ---------------------------------------------------------------------------------------
// dvx rm deletes the only copy

/// Regression: `dvx rm` deleted a file that was added but never committed, without `-f`;
/// the only copy was then an unreferenced object that gc removes after two hours.
#[test]
fn rm_refuses_to_delete_a_file_whose_bytes_no_commit_holds() {
    let sb = Sandbox::git_and_dvx();
    sb.write("fresh/results.csv", b"only copy\n");
    sb.ok(&["add", "fresh"]);
    let before = sb.dvx_state();
    for args in [&["rm", "fresh/results.csv"][..], &["rm", "fresh"]] {
        let err = sb.fails(args, 1);
        let (error, hint) = error_and_hint(&err);
        assert_contains(&error, "fresh/results.csv");
        assert_contains(&error, "staged");
        assert_eq!(
            hint,
            "hint: use --cached to keep the file, or -f to delete it"
        );
        assert_eq!(sb.read("fresh/results.csv"), b"only copy\n");
        assert_eq!(sb.dvx_state(), before, "{args:?} changed nothing");
    }
    // --cached keeps the file, so nothing is lost.
    sb.ok(&["rm", "--cached", "fresh/results.csv"]);
    assert_eq!(sb.read("fresh/results.csv"), b"only copy\n");

    // Once committed, the bytes are safe and rm deletes the file.
    sb.ok(&["add", "fresh"]);
    sb.ok(&["commit", "-m", "results"]);
    sb.ok(&["rm", "fresh/results.csv"]);
    assert!(!sb.exists("fresh/results.csv"));
    sb.ok(&["checkout", "HEAD", "--", "fresh"]);
    assert_eq!(sb.read("fresh/results.csv"), b"only copy\n");

    // A staged edit of a committed file is refused the same way; -f deletes it.
    sb.write("fresh/results.csv", b"second run\n");
    sb.ok(&["add", "fresh"]);
    let err = sb.fails(&["rm", "fresh/results.csv"], 1);
    assert_contains(&err, "use --cached to keep the file, or -f to delete it");
    assert_eq!(sb.read("fresh/results.csv"), b"second run\n");
    sb.ok(&["rm", "-f", "fresh/results.csv"]);
    assert!(!sb.exists("fresh/results.csv"));
}

/// Regression (the same bug, `--cached` side): untracking staged bytes that neither HEAD
/// nor the file holds any more (the file was edited again after `add`) dropped the last
/// reference to them, which `git rm --cached` refuses.
#[test]
fn rm_cached_refuses_staged_bytes_that_neither_head_nor_the_file_holds() {
    let sb = Sandbox::dvx_only();
    sb.write("data/a.txt", b"committed\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "one"]);
    sb.write("data/a.txt", b"staged\n");
    sb.ok(&["add", "data"]);
    sb.write("data/a.txt", b"edited after add\n");
    let before = sb.dvx_state();
    let err = sb.fails(&["rm", "--cached", "data/a.txt"], 1);
    let (error, hint) = error_and_hint(&err);
    assert_contains(&error, "data/a.txt");
    assert_contains(&error, "different from both the file and HEAD");
    assert_contains(&hint, "-f");
    assert_eq!(sb.dvx_state(), before);
    // Without --cached it is a file with changes not staged, refused as before.
    assert_contains(&sb.fails(&["rm", "data/a.txt"], 1), "local changes");
    // -f untracks it anyway, keeping the file.
    sb.ok(&["rm", "--cached", "-f", "data/a.txt"]);
    assert_eq!(sb.read("data/a.txt"), b"edited after add\n");
}

// ---------------------------------------------------------------------------------------
// fsck says "no problems" when referenced blobs were deleted

/// `dvx fsck --json`, expecting `code`.
fn fsck_json(sb: &Sandbox, code: i32) -> serde_json::Value {
    let out = sb.dvx().args(["fsck", "--json"]).output().expect("run");
    assert_eq!(out.status.code(), Some(code), "{out:?}");
    serde_json::from_slice(&out.stdout).expect("json")
}

/// The missing blobs of an fsck report: id -> (paths, via).
fn missing_blobs(report: &serde_json::Value) -> Vec<(String, Vec<String>, String)> {
    let mut out: Vec<_> = report["missing"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|m| m["kind"] == "blob")
        .map(|m| {
            let paths = m["paths"]
                .as_array()
                .expect("paths")
                .iter()
                .map(|p| p.as_str().expect("path").to_owned())
                .collect();
            (
                m["id"].as_str().expect("id").to_owned(),
                paths,
                m["via"].as_str().expect("via").to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Regression: `dvx fsck` said "no problems" when blobs that tags and branches reference
/// had been deleted from the store (only commits and trees were followed). With no
/// remote to fetch them from, they are lost data: listed with their paths, exit 1.
#[test]
fn fsck_reports_blobs_that_tags_and_branches_need_and_the_store_lacks() {
    let sb = Sandbox::dvx_only();
    sb.write("data/labels.csv", b"v1 labels\n");
    sb.write("data/copy.csv", b"v1 labels\n");
    sb.write("data/kept.csv", b"kept\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "v1"]);
    sb.ok(&["tag", "v1"]);
    sb.ok(&["checkout", "-b", "side"]);
    sb.write("data/side.csv", b"only on side\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "side"]);
    sb.ok(&["checkout", "main"]);
    sb.write("data/labels.csv", b"v2 labels\n");
    sb.write("data/copy.csv", b"v2 labels\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "v2"]);
    sb.ok(&["fsck"]);

    let only_tagged = b3(b"v1 labels\n");
    let only_side = b3(b"only on side\n");
    for id in [&only_tagged, &only_side] {
        fs::remove_file(object_path(&sb.root, id)).expect("delete the blob");
    }
    let report = fsck_json(&sb, 1);
    assert_eq!(report["ok"], false);
    let missing = missing_blobs(&report);
    let tag_commit = sb.out(&["log", "--oneline", "-n", "1", "v1"])[..10].to_owned();
    let side_commit = sb.out(&["log", "--oneline", "-n", "1", "side"])[..10].to_owned();
    let mut expected = vec![
        (
            only_tagged.clone(),
            vec!["data/copy.csv".to_owned(), "data/labels.csv".to_owned()],
            format!("commit {tag_commit} from refs/heads/main"),
        ),
        (
            only_side.clone(),
            vec!["data/side.csv".to_owned()],
            format!("commit {side_commit} from refs/heads/side"),
        ),
    ];
    expected.sort();
    assert_eq!(missing, expected);
    // The text form names the blob, its paths and the commit.
    let output = sb.dvx().arg("fsck").output().expect("run");
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_contains(
        &stdout,
        &format!(
            "missing blob {only_side} (needed by data/side.csv in commit {side_commit} from refs/heads/side): not in the local store"
        ),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_contains(&stderr, "fsck found 2 problem(s)");
    assert_contains(&stderr, "hint:");

    // A deleted branch still in its reflog (within gc's grace) needs its blobs too.
    sb.ok(&["branch", "-D", "side"]);
    let missing = missing_blobs(&fsck_json(&sb, 1));
    assert!(
        missing
            .iter()
            .any(|(id, _, via)| *id == only_side && via.contains("from reflog of")),
        "{missing:?}"
    );
}

/// Regression (the same bug, index side): a not-fetched index entry whose bytes are not
/// in the store was skipped, so the last record of data that exists nowhere passed.
#[test]
fn fsck_reports_a_not_fetched_index_entry_whose_bytes_exist_nowhere() {
    let sb = Sandbox::dvx_only();
    sb.write("data/keep.txt", b"keep\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "base"]);
    sb.ok(&["checkout", "-b", "tmp"]);
    let lost = bytes(1, 100);
    sb.write("data/a.bin", &lost);
    sb.ok(&["add", "data"]);
    let out: serde_json::Value =
        serde_json::from_str(&sb.out(&["commit", "--json", "-m", "a"])).expect("json");
    let tmp_commit = out["id"].as_str().expect("id").to_owned();
    sb.ok(&["checkout", "main"]);
    fs::remove_file(object_path(&sb.root, &b3(&lost))).expect("rm blob");
    // The bytes are not local, so the restored path is staged as not fetched.
    let restored: serde_json::Value =
        serde_json::from_str(&sb.out(&["checkout", "--json", "tmp", "--", "data/a.bin"]))
            .expect("json");
    assert_eq!(restored["not_fetched"], serde_json::json!(["data/a.bin"]));
    // Drop every other reference: the branch, and the commit its reflog names (as gc
    // does once a reflog entry expires).
    sb.ok(&["branch", "-D", "tmp"]);
    fs::remove_file(object_path(&sb.root, &tmp_commit)).expect("rm commit");
    let report = fsck_json(&sb, 1);
    assert_eq!(
        missing_blobs(&report),
        [(
            b3(&lost),
            vec!["data/a.bin".to_owned()],
            "the index".to_owned()
        )]
    );
    assert_eq!(
        report["missing"].as_array().map(Vec::len),
        Some(1),
        "{report}"
    );
    assert_eq!(report["corrupt"], serde_json::json!([]));
    assert_eq!(report["problems"], serde_json::json!([]));
}
