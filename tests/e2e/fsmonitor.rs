//! `core.fsmonitor`: status asks a file watcher what changed. The property: whatever
//! happens to the work tree (edits, deletions, renames of files and directories, mode
//! and time changes, ignore rules, adds, commits, checkouts, the watcher stopped and
//! restarted with changes in between), a watcher-assisted status says exactly what a full
//! scan says.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use proptest::prelude::*;

use crate::harness::*;

/// A git + dvx sandbox with the watcher on (a short idle timeout, so a watcher a failed
/// test leaves behind goes away by itself; it also exits when its `.dvx/` is deleted).
fn watched_sandbox() -> Sandbox {
    let sb = Sandbox::git_and_dvx();
    sb.write(
        ".dvx/config.local.toml",
        b"[core]\nfsmonitor = true\nfsmonitor_idle_timeout = 30\n",
    );
    sb
}

/// Stops the sandbox's watcher when dropped (also when a test fails).
struct StopWatcher<'a>(&'a Sandbox);

impl Drop for StopWatcher<'_> {
    fn drop(&mut self) {
        let _ = self.0.dvx().args(["-q", "fsmonitor", "stop"]).output();
    }
}

fn status(sb: &Sandbox, extra: &[&str]) -> serde_json::Value {
    let out = sb
        .dvx()
        .args(["status", "--json"])
        .args(extra)
        .output()
        .expect("run dvx");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "dvx status {extra:?}: {stderr}");
    serde_json::from_slice(&out.stdout).expect("json")
}

/// What a status reports, without the fields that say how it was computed.
fn report(status: &serde_json::Value) -> serde_json::Value {
    let mut status = status.clone();
    status
        .as_object_mut()
        .expect("an object")
        .remove("fsmonitor");
    status
}

const FILES: [&str; 6] = [
    "data/a.bin",
    "data/b.tmp",
    "data/sub/c.bin",
    "data/sub/deeper/d.bin",
    "data/new/e.bin",
    "data/new/f.bin",
];

const DIRS: [&str; 3] = ["data/sub", "data/new", "data/sub/deeper"];

#[derive(Debug, Clone)]
enum Op {
    Write {
        file: usize,
        seed: u64,
        len: usize,
    },
    Delete(usize),
    RemoveDir(usize),
    RenameFile(usize, usize),
    /// Rename a directory to `<dir>-moved`, or back.
    RenameDir(usize),
    /// Same bytes, new mtime.
    Touch(usize),
    ToggleExecutable(usize),
    /// Write or remove `data/.dvxignore` ignoring `*.tmp`.
    ToggleIgnore,
    Add,
    Commit,
    Checkout,
    StopWatcher,
}

fn op() -> impl Strategy<Value = Op> {
    let file = 0..FILES.len();
    prop_oneof![
        6 => (file.clone(), 0..4u64, prop_oneof![Just(0usize), Just(9), Just(3000)])
            .prop_map(|(file, seed, len)| Op::Write { file, seed, len }),
        2 => file.clone().prop_map(Op::Delete),
        1 => (0..DIRS.len()).prop_map(Op::RemoveDir),
        1 => (file.clone(), file.clone()).prop_map(|(a, b)| Op::RenameFile(a, b)),
        1 => (0..DIRS.len()).prop_map(Op::RenameDir),
        1 => file.clone().prop_map(Op::Touch),
        1 => file.prop_map(Op::ToggleExecutable),
        1 => Just(Op::ToggleIgnore),
        2 => Just(Op::Add),
        1 => Just(Op::Commit),
        1 => Just(Op::Checkout),
        1 => Just(Op::StopWatcher),
    ]
}

fn apply(sb: &Sandbox, op: &Op) {
    let path = |rel: &str| sb.path(rel);
    match op {
        Op::Write { file, seed, len } => {
            let target = path(FILES[*file]);
            // Replace, never write in place: a checkout may have linked the file.
            let _ = fs::remove_file(&target);
            sb.write(FILES[*file], &bytes(*seed, *len));
        }
        Op::Delete(file) => {
            let _ = fs::remove_file(path(FILES[*file]));
        }
        Op::RemoveDir(dir) => {
            let _ = fs::remove_dir_all(path(DIRS[*dir]));
        }
        Op::RenameFile(a, b) => {
            let to = path(FILES[*b]);
            if let Some(parent) = to.parent() {
                let _ = fs::create_dir_all(parent);
            }
            let _ = fs::rename(path(FILES[*a]), to);
        }
        Op::RenameDir(dir) => {
            let (from, to) = (path(DIRS[*dir]), path(&format!("{}-moved", DIRS[*dir])));
            if fs::rename(&from, &to).is_err() {
                let _ = fs::rename(&to, &from);
            }
        }
        Op::Touch(file) => {
            if let Ok(f) = fs::File::open(path(FILES[*file])) {
                let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
                let _ = f.set_modified(later);
            }
        }
        Op::ToggleExecutable(file) => {
            let target = path(FILES[*file]);
            if let Ok(m) = fs::symlink_metadata(&target) {
                let mode = m.permissions().mode() ^ 0o100;
                let _ = fs::set_permissions(&target, fs::Permissions::from_mode(mode));
            }
        }
        Op::ToggleIgnore => {
            let ignore = path("data/.dvxignore");
            if fs::remove_file(&ignore).is_err() && path("data").is_dir() {
                sb.write("data/.dvxignore", b"*.tmp\n");
            }
        }
        Op::Add => {
            let _ = sb.dvx().args(["add", "data"]).output();
        }
        Op::Commit => {
            let _ = sb.dvx().args(["commit", "-m", "step"]).output();
        }
        Op::Checkout => {
            let _ = sb.dvx().args(["checkout", "--", "data"]).output();
        }
        Op::StopWatcher => {
            sb.ok(&["-q", "fsmonitor", "stop"]);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 12,
        max_shrink_iters: 100,
        ..ProptestConfig::default()
    })]

    #[test]
    fn watcher_assisted_status_matches_a_full_scan(ops in proptest::collection::vec(op(), 1..18)) {
        let sb = watched_sandbox();
        let _stop = StopWatcher(&sb);
        sb.write("data/a.bin", b"first\n");
        sb.ok(&["add", "data"]);
        let mut used = 0;
        for (step, op) in ops.iter().enumerate() {
            apply(&sb, op);
            // The first may have to scan (the index changed, the watcher restarted); the
            // second, with nothing changed in between, is answered from the watcher.
            let first = status(&sb, &[]);
            let second = status(&sb, &[]);
            let full = status(&sb, &["--no-fsmonitor"]);
            prop_assert_eq!(report(&first), report(&full), "step {} ({:?})", step, op);
            prop_assert_eq!(report(&second), report(&full), "step {} ({:?}), again", step, op);
            prop_assert_eq!(&full["fsmonitor"], &serde_json::Value::Null);
            if second["fsmonitor"]["used"] == true && !matches!(op, Op::Touch(_)) {
                used += 1;
            }
        }
        // The property is not vacuous: the watcher answered most of the other steps. It
        // may not right after a touch, when status refreshed the index's stat data, so
        // touches count neither way (a run of touches alone asks nothing of it: the
        // reports above still had to agree).
        let counted = ops.iter().filter(|op| !matches!(op, Op::Touch(_))).count();
        prop_assert!(used * 2 >= counted, "the watcher was used in {} of {} steps that are not touches", used, counted);
    }
}

#[test]
fn a_no_op_status_with_the_watcher_reads_nothing_and_edits_are_seen() {
    let sb = watched_sandbox();
    let _stop = StopWatcher(&sb);
    sb.write("data/a.bin", b"a\n");
    sb.write("data/sub/b.bin", b"b\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "base"]);
    let first = status(&sb, &[]);
    assert_eq!(first["fsmonitor"]["used"], false, "nothing remembered yet");
    assert_eq!(first["clean"], true);
    let second = status(&sb, &[]);
    assert_eq!(second["fsmonitor"]["used"], true);
    assert_eq!(second["fsmonitor"]["changed_paths"], 0);
    assert_eq!(second["clean"], true);

    sb.write("data/sub/b.bin", b"edited\n");
    sb.write("data/sub/new.bin", b"new\n");
    let edited = status(&sb, &[]);
    assert_eq!(edited["fsmonitor"]["used"], true);
    assert_eq!(
        edited["unstaged"],
        serde_json::json!([
            {"path": "data/sub/b.bin", "status": "modified"},
            {"path": "data/sub/new.bin", "status": "new"},
        ])
    );
    // Remembered: asked again, the watcher names nothing new and the answer stands.
    let again = status(&sb, &[]);
    assert_eq!(again["fsmonitor"]["changed_paths"], 0);
    assert_eq!(again["unstaged"], edited["unstaged"]);
    // add changes the index: the next status scans, and then the watcher helps again.
    sb.ok(&["add", "data"]);
    let after_add = status(&sb, &[]);
    assert_eq!(after_add["fsmonitor"]["used"], false);
    assert_eq!(after_add["fsmonitor"]["why_not"], "the index changed");
    assert_eq!(after_add["unstaged"], serde_json::json!([]));
    assert_eq!(status(&sb, &[])["fsmonitor"]["used"], true);
}

#[test]
fn a_change_made_while_the_watcher_was_stopped_is_seen_by_a_full_scan() {
    let sb = watched_sandbox();
    let _stop = StopWatcher(&sb);
    sb.write("data/a.bin", b"a\n");
    sb.ok(&["add", "data"]);
    status(&sb, &[]);
    assert_eq!(status(&sb, &[])["fsmonitor"]["used"], true);
    assert_contains(&sb.out(&["fsmonitor", "stop"]), "file watcher stopped");
    sb.write("data/a.bin", b"changed while nobody watched\n");
    let after = status(&sb, &[]);
    assert_eq!(after["fsmonitor"]["used"], false);
    assert_contains(
        after["fsmonitor"]["why_not"].as_str().expect("a reason"),
        "not running",
    );
    assert_eq!(
        after["unstaged"],
        serde_json::json!([{"path": "data/a.bin", "status": "modified"}])
    );
    // status started it again, and it helps from the next status on.
    let next = status(&sb, &[]);
    assert_eq!(next["fsmonitor"]["used"], true);
    assert_eq!(next["unstaged"], after["unstaged"]);
}

#[test]
fn fsmonitor_start_status_and_stop() {
    let sb = watched_sandbox();
    let _stop = StopWatcher(&sb);
    sb.write("data/sub/a.bin", b"a\n");
    sb.ok(&["add", "data"]);
    assert_contains(
        &sb.out(&["fsmonitor", "status"]),
        "no file watcher is running",
    );
    let started = sb.out(&["fsmonitor", "start"]);
    assert_contains(&started, "file watcher running (pid ");
    assert_contains(&started, "watching 3 directories");
    // Starting again finds the running one.
    assert_contains(&sb.out(&["fsmonitor", "start"]), "file watcher running");
    let json: serde_json::Value =
        serde_json::from_str(&sb.out(&["fsmonitor", "status", "--json"])).expect("json");
    assert_eq!(json["enabled"], true);
    assert_eq!(json["running"], true);
    assert_eq!(json["watcher"]["roots"], serde_json::json!(["data"]));
    assert_eq!(json["watcher"]["problem"], serde_json::Value::Null);
    assert_contains(&sb.out(&["fsmonitor", "stop"]), "file watcher stopped");
    assert_contains(
        &sb.out(&["fsmonitor", "stop"]),
        "no file watcher is running",
    );
    assert!(
        !sb.path(".dvx/fsmonitor.sock").exists(),
        "the socket is removed"
    );
}

#[test]
fn status_json_has_no_watcher_when_fsmonitor_is_off() {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/a.bin", b"a\n");
    sb.ok(&["add", "data"]);
    assert_eq!(sb.status_json()["fsmonitor"], serde_json::Value::Null);
    assert!(
        !sb.path(".dvx/fsmonitor.sock").exists(),
        "no watcher was started"
    );
}
