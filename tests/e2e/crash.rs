//! kill -9 in the middle of a command: the repository stays one that `fsck` passes,
//! the command can be run again, and no file is ever left half written.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use crate::harness::*;

/// Files per dataset: enough that `add` and `checkout` take a few hundred ms.
const FILES: usize = 1000;

/// Kill delays (ms), spread from "before it starts" to "about when it ends". Whether a
/// kill lands early, late or after the end, the checks below must hold.
const DELAYS_MS: [u64; 4] = [0, 40, 120, 300];

/// Write a dataset whose bytes depend on `seed`; returns path -> bytes.
fn write_dataset(sb: &Sandbox, seed: u64) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for i in 0..FILES {
        let path = format!("data/d{:02}/f{i:04}.bin", i % 20);
        let content = bytes(seed * 1_000_000 + i as u64, 1000 + (i * 37) % 3000);
        sb.write(&path, &content);
        files.insert(path, content);
    }
    files
}

/// Start `dvx args`, kill it (SIGKILL) after `delay_ms`, reap it.
fn run_and_kill(sb: &Sandbox, args: &[&str], delay_ms: u64) {
    let mut child = sb
        .dvx_std()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn dvx");
    std::thread::sleep(Duration::from_millis(delay_ms));
    // Child::kill sends SIGKILL; it fails only if the child was already reaped.
    let _ = child.kill();
    child.wait().expect("reap dvx");
}

/// Statuses of a `status --json` list.
fn statuses(status: &serde_json::Value, list: &str) -> Vec<(String, String)> {
    status[list]
        .as_array()
        .expect("list")
        .iter()
        .map(|c| {
            (
                c["path"].as_str().expect("path").to_owned(),
                c["status"].as_str().expect("status").to_owned(),
            )
        })
        .collect()
}

/// Every regular file below data/, whatever its name (temp files included).
fn files_on_disk(sb: &Sandbox) -> BTreeMap<String, Vec<u8>> {
    if !sb.exists("data") {
        return BTreeMap::new();
    }
    sb.snapshot("data").into_iter().collect()
}

/// The index's files and their ids, from `ls --json` (what is checked out).
fn index_ids(sb: &Sandbox) -> BTreeMap<String, String> {
    let ls: serde_json::Value = serde_json::from_str(&sb.out(&["ls", "--json"])).expect("json");
    ls.as_array()
        .expect("list")
        .iter()
        .map(|f| {
            (
                f["path"].as_str().expect("path").to_owned(),
                f["id"].as_str().expect("id").to_owned(),
            )
        })
        .collect()
}

#[test]
fn kill_9_during_add_leaves_a_repository_that_fsck_passes_and_add_completes() {
    let sb = Sandbox::git_and_dvx();
    for (round, &delay) in DELAYS_MS.iter().enumerate() {
        // New bytes every round, so add has objects to write when it is killed.
        let files = write_dataset(&sb, round as u64 + 1);
        run_and_kill(&sb, &["add", "data"], delay);

        sb.ok(&["fsck"]);
        // Whatever the index holds now is consistent: nothing is corrupt, and an entry
        // that is staged has its bytes in the store (fsck checked that).
        let status = sb.status_json();
        let unstaged = statuses(&status, "unstaged");
        assert!(
            unstaged.iter().all(|(_, s)| s != "corrupt"),
            "round {round}: {unstaged:?}"
        );

        // Run again: it completes and everything is staged with the right ids.
        sb.ok(&["add", "data"]);
        let status = sb.status_json();
        assert_eq!(
            statuses(&status, "unstaged"),
            vec![],
            "round {round} (killed after {delay} ms)"
        );
        let ids = index_ids(&sb);
        assert_eq!(ids.len(), FILES);
        for (path, content) in &files {
            assert_eq!(ids.get(path), Some(&b3(content)), "round {round}: {path}");
        }
        sb.ok(&["fsck"]);
        if round % 2 == 1 {
            sb.ok(&["commit", "-m", &format!("round {round}")]);
        }
    }
}

#[test]
fn kill_9_during_checkout_leaves_whole_files_or_none_and_checkout_completes() {
    let sb = Sandbox::git_and_dvx();
    let files = write_dataset(&sb, 42);
    sb.ok(&["-q", "add", "data"]);
    sb.ok(&["-q", "commit", "-m", "dataset"]);
    for (round, &delay) in DELAYS_MS.iter().enumerate() {
        std::fs::remove_dir_all(sb.path("data")).expect("rm data");
        run_and_kill(&sb, &["checkout", "--", "data"], delay);

        // Every file on disk under a tracked name is complete. (A killed write leaves its
        // temp file, under a name dvx reserves; the next checkout removes it.)
        for (path, content) in files_on_disk(&sb) {
            if path
                .rsplit('/')
                .next()
                .is_some_and(|n| n.starts_with(".dvx-tmp-"))
            {
                continue;
            }
            assert_eq!(
                files.get(&path).map(|c| b3(c)),
                Some(b3(&content)),
                "round {round} (killed after {delay} ms): {path} is not a whole tracked file"
            );
        }
        sb.ok(&["fsck"]);
        // Missing files are deleted, never modified or corrupt.
        let unstaged = statuses(&sb.status_json(), "unstaged");
        assert!(
            unstaged.iter().all(|(_, s)| s == "deleted"),
            "round {round}: {unstaged:?}"
        );

        sb.ok(&["checkout", "--", "data"]);
        assert_eq!(
            files_on_disk(&sb),
            files,
            "round {round}: complete again, and no temp file left"
        );
        assert_eq!(sb.status_json()["clean"], true, "round {round}");
    }
}
