//! Crash at every point: each writing command is killed after its 1st file-system
//! operation, then after its 2nd, and so on through its last (the `failpoints` feature,
//! `DVX_FAILPOINTS=crash@N`), each time from the same starting repository. After every
//! crash:
//!
//! - no temp file is in the work tree, and every file there holds the bytes it had
//!   before the command or the bytes the command gives it, never anything else (so never
//!   half a file);
//! - `dvx fsck` passes, and every object that a ref reached before is still there;
//! - running the same command again completes (no stale lock stops it), and leaves the
//!   work tree, HEAD, the stage, the status and `dvx.lock` exactly as an uninterrupted
//!   run does (ids are reproducible: the clock and identity are fixed), with no temp file
//!   left in `.dvx/tmp/`.
//!
//! The same walk with `enospc@N` makes operation N fail with "no space left on device":
//! the command must stop with one clear error and hint (or, where the operation was best
//! effort, succeed), leave a repository fsck passes, and complete when run again.
//!
//! `DVX_SOAK=1` adds torn writes (`torn@N`: half of operation N's bytes, then death) and
//! makes the error walk visit every operation instead of every third.
//!
//! The remote scenarios use a directory remote; push, fetch and pull also run against
//! the in-process S3 server, at a few points (every point, and the error walk, in soak
//! mode).
//!
//! On top, for what fault injection cannot reach (writes inside libraries, timing between
//! threads), the same commands on a larger dataset are killed with SIGKILL after a random
//! delay, with the same checks (`DVX_KILL_SEED` replays a run; the seed is printed).
//! Those need no `failpoints` feature; the walks do.

#![cfg_attr(not(feature = "failpoints"), allow(dead_code))]

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::harness::*;
use crate::s3_server::S3Server;

/// How a walk ends a command at operation N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Crash,
    Torn,
    Enospc,
}

impl Fault {
    fn spec(self, n: usize) -> String {
        match self {
            Fault::Crash => format!("crash@{n}"),
            Fault::Torn => format!("torn@{n}"),
            Fault::Enospc => format!("enospc@{n}"),
        }
    }
}

/// What a scenario runs: dvx itself, or git (whose hooks run dvx).
#[derive(Debug, Clone)]
enum Runner {
    Dvx(Vec<String>),
    Git(Vec<String>),
}

/// One writing command, from one starting state.
struct Scenario {
    name: &'static str,
    /// Builds the starting state in a fresh git + dvx sandbox; returns the command.
    setup: fn(&Sandbox) -> Runner,
    /// Extra environment for the command (and its re-run).
    env: Vec<(&'static str, String)>,
    /// A re-run after a crash that came once the command's work was all done may fail
    /// with this message (as `git commit` says "nothing to commit"); the state must still
    /// be the finished one.
    done_already: Option<&'static str>,
    /// What completes the command after a crash, when not the command itself (git's
    /// hooks: `git checkout` to where git already is changes no pin, so the hook does
    /// nothing; the user runs what the hook runs).
    rerun: Option<&'static [&'static str]>,
    /// Running the command again is a new run of it (`dvx run` records one more run): the
    /// re-run may add a commit with the same files on top of the interrupted one's.
    repeats: bool,
    /// Files the user's command writes itself (`dvx run`'s command): a kill inside that
    /// command may leave them half written, as it would without dvx.
    own_outputs: &'static [&'static str],
    /// The scenario talks to the directory remote at [`REMOTE`]: after every fault the
    /// remote must hold no ref that points at a missing object.
    remote: bool,
    /// The command frees local bytes the remote holds (`drop`): an object a ref reached
    /// may leave the local store, if the remote has it.
    frees: bool,
}

/// A file in the work tree: bytes and executable bit, or a symlink's target.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    File(Vec<u8>, bool),
    Link(PathBuf),
}

/// Every file and symlink below the work tree's top, except inside `.git/` and `.dvx/`
/// (which dvx's and git's own checks cover).
fn picture(root: &Path) -> BTreeMap<String, Node> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = BTreeMap::new();
    let walk = walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            let name = e.file_name().to_string_lossy();
            e.depth() == 0 || !(e.depth() == 1 && (name == ".git" || name == ".dvx"))
        });
    for entry in walk {
        let entry = entry.expect("walk work tree");
        let rel = entry
            .path()
            .strip_prefix(root)
            .expect("inside")
            .to_string_lossy()
            .into_owned();
        let meta = entry.path().symlink_metadata().expect("lstat");
        if meta.file_type().is_symlink() {
            let target = fs::read_link(entry.path()).expect("readlink");
            out.insert(rel, Node::Link(target));
        } else if meta.is_file() {
            let exec = meta.permissions().mode() & 0o111 != 0;
            out.insert(rel, Node::File(fs::read(entry.path()).expect("read"), exec));
        }
    }
    out
}

/// What a finished command leaves, for comparing runs.
#[derive(Debug, PartialEq)]
struct Finished {
    files: BTreeMap<String, Node>,
    status: serde_json::Value,
    stage: serde_json::Value,
    log: String,
    fsck: (Option<i32>, String),
}

fn finished(sb: &Sandbox) -> Finished {
    Finished {
        files: picture(&sb.root),
        status: sb.status_json(),
        stage: serde_json::from_str(&sb.out(&["ls", "--json"])).expect("ls --json"),
        log: history(sb),
        fsck: fsck(sb),
    }
}

/// HEAD's history and the branches (no history at all before the first commit).
fn history(sb: &Sandbox) -> String {
    let log = sb.dvx().args(["log", "--oneline"]).output().expect("log");
    let log = if log.status.success() {
        String::from_utf8_lossy(&log.stdout).into_owned()
    } else {
        "(no commits)\n".to_owned()
    };
    log + &sb.out(&["branch", "--json"])
}

/// Object files (commits, trees, run records, local blobs) reachable from every ref, with
/// their ids.
fn committed_objects(root: &Path) -> BTreeMap<PathBuf, dvx::hash::ObjectId> {
    let repo = dvx::repo::Repo::open(root, None).expect("open repo");
    let store = repo.store();
    let mut marker = dvx::history::reach::Marker::new(store);
    for (name, id) in repo.refs().list("refs/").expect("refs") {
        marker.commit(id, &name);
    }
    let (reached, missing) = marker.finish();
    assert!(
        missing.is_empty(),
        "the starting state is damaged: {missing:?}"
    );
    let ids = reached
        .commits
        .iter()
        .chain(&reached.trees)
        .chain(&reached.runs)
        .chain(&reached.blobs);
    ids.map(|id| (store.path(id), *id))
        .filter(|(p, _)| p.exists())
        .collect()
}

/// Replace the work tree at `root` with a copy of `template` (times and modes kept, so
/// every copy looks alike to the stat cache).
fn restore(template: &Path, root: &Path) {
    if root.exists() {
        fs::remove_dir_all(root).expect("remove work tree");
    }
    let status = Command::new("cp")
        .arg("-a")
        .arg(template)
        .arg(root)
        .status()
        .expect("cp");
    assert!(status.success(), "cp -a failed");
}

fn command(sb: &Sandbox, scenario: &Scenario, runner: &Runner, failpoints: &str) -> Command {
    let mut cmd = match runner {
        Runner::Dvx(args) => {
            let mut c = sb.dvx_std();
            c.args(args);
            c
        }
        Runner::Git(args) => {
            let mut c = sb.git_std();
            c.args(args);
            c
        }
    };
    for (k, v) in &scenario.env {
        cmd.env(k, v);
    }
    if !failpoints.is_empty() {
        cmd.env("DVX_FAILPOINTS", failpoints);
    }
    cmd
}

fn run(sb: &Sandbox, scenario: &Scenario, runner: &Runner, failpoints: &str) -> Output {
    command(sb, scenario, runner, failpoints)
        .output()
        .expect("run command")
}

/// The operation a trace names as number `n` (for messages).
fn operation(stderr: &[u8], n: usize) -> String {
    let wanted = format!("failpoint {n} ");
    String::from_utf8_lossy(stderr)
        .lines()
        .find(|l| l.starts_with(&wanted))
        .map(|l| l["failpoint ".len()..].to_owned())
        .unwrap_or_else(|| format!("{n} (not traced)"))
}

/// Temp files anywhere in the work tree outside `.git/` and `.dvx/`.
fn temps_in_work_tree(root: &Path) -> Vec<String> {
    picture(root)
        .into_keys()
        .filter(|p| {
            p.rsplit('/')
                .next()
                .is_some_and(|n| n.starts_with(".dvx-tmp-"))
        })
        .collect()
}

/// Files left in `.dvx/tmp/` (session directories and their locks are gone too once
/// every process has ended and a writer swept).
fn left_in_tmp(root: &Path) -> Vec<String> {
    let tmp = root.join(".dvx/tmp");
    walkdir::WalkDir::new(&tmp)
        .min_depth(1)
        .into_iter()
        .map(|e| e.expect("walk tmp"))
        .map(|e| {
            e.path()
                .strip_prefix(&tmp)
                .expect("inside")
                .display()
                .to_string()
        })
        .collect()
}

/// Figures of one walk, for the report in docs/reliability.md.
#[derive(Debug, Default)]
struct Walked {
    /// Operations of an uninterrupted run.
    operations: usize,
    /// Points at which the command was stopped (crashed or failed).
    points: usize,
    /// Runs that finished before reaching their point (thread timing moved it).
    finished_early: usize,
    /// Injected failures the command reported as an error.
    reported: usize,
}

/// Walk `fault` over every operation of the scenario's command (every `stride`-th).
fn walk(scenario: &Scenario, fault: Fault, stride: usize) -> Walked {
    walk_with_stride(scenario, fault, &|_| stride)
}

/// [`walk`], the stride chosen from the number of operations.
fn walk_with_stride(scenario: &Scenario, fault: Fault, stride: &dyn Fn(usize) -> usize) -> Walked {
    let sb = Sandbox::git_and_dvx();
    let runner = (scenario.setup)(&sb);
    let template = sb.root.with_file_name("template");
    fs::rename(&sb.root, &template).expect("keep the template");
    restore(&template, &sb.root);
    let before = picture(&sb.root);
    let committed = committed_objects(&sb.root);
    // A starting state may hold known gaps (blobs a lazy clone never fetched): after a
    // crash, fsck must find exactly what it found before, nothing new.
    let fsck_before = fsck(&sb);

    // The uninterrupted run: what every interrupted one must end as.
    let reference = run(&sb, scenario, &runner, "trace");
    assert!(
        reference.status.success(),
        "{}: the command fails without faults:\n{}",
        scenario.name,
        String::from_utf8_lossy(&reference.stderr)
    );
    let operations = String::from_utf8_lossy(&reference.stderr)
        .lines()
        .filter(|l| l.starts_with("failpoint "))
        .count();
    assert!(operations > 0, "{}: no operation traced", scenario.name);
    let expected = finished(&sb);
    assert_eq!(
        left_in_tmp(&sb.root),
        Vec::<String>::new(),
        "{}: temp files after an uninterrupted run",
        scenario.name
    );

    let mut walked = Walked {
        operations,
        ..Walked::default()
    };
    for n in (1..=operations).step_by(stride(operations)) {
        restore(&template, &sb.root);
        let spec = format!("{},trace", fault.spec(n));
        let out = run(&sb, scenario, &runner, &spec);
        let at = format!(
            "{} ({} at operation {})",
            scenario.name,
            fault.spec(n),
            operation(&out.stderr, n)
        );
        let killed = out.status.signal() == Some(libc::SIGKILL);
        let hook_killed = matches!(runner, Runner::Git(_))
            && String::from_utf8_lossy(&out.stderr).contains("failpoint");
        match fault {
            Fault::Crash | Fault::Torn => {
                if !killed && out.status.success() && !hook_killed {
                    walked.finished_early += 1;
                }
            }
            Fault::Enospc => {
                let stderr = String::from_utf8_lossy(&out.stderr);
                assert!(!stderr.contains("panicked"), "{at}: panicked:\n{stderr}");
                if !out.status.success() {
                    walked.reported += 1;
                    if let Runner::Dvx(_) = runner {
                        assert_eq!(out.status.code(), Some(1), "{at}: exit code\n{stderr}");
                        let messages: String = stderr
                            .lines()
                            .filter(|l| !l.starts_with("failpoint "))
                            .map(|l| format!("{l}\n"))
                            .collect();
                        error_and_hint(&messages);
                    }
                }
            }
        }
        walked.points += 1;
        check_after_fault(
            &sb,
            &at,
            scenario,
            &before,
            &expected,
            &committed,
            &fsck_before,
        );

        complete_and_compare(&sb, scenario, &runner, &at, &expected);
    }
    eprintln!(
        "crash-walk {}{} {:?}: {} operations, {} points, {} finished early, {} reported",
        scenario.name,
        if ON_S3.get() { " (s3)" } else { "" },
        fault,
        walked.operations,
        walked.points,
        walked.finished_early,
        walked.reported
    );
    walked
}

/// The lock file git names when it finds one left behind ("Unable to create
/// '<path>.lock': File exists.").
fn git_stale_lock(stderr: &str) -> Option<PathBuf> {
    let (_, rest) = stderr.split_once("Unable to create '")?;
    let (path, _) = rest.split_once("': File exists")?;
    path.ends_with(".lock").then(|| PathBuf::from(path))
}

/// Run the command again after a fault: it completes (no stale lock, nothing half done in
/// the way) and ends exactly where an uninterrupted run ends (`expected`), with no temp
/// file left and, for a remote scenario, a sound remote.
fn complete_and_compare(
    sb: &Sandbox,
    scenario: &Scenario,
    runner: &Runner,
    at: &str,
    expected: &Finished,
) {
    // Run again: it completes (no stale lock, nothing half done in the way) and ends
    // exactly where an uninterrupted run ends.
    let rerun = match scenario.rerun {
        Some(args) => dvx(args),
        None => runner.clone(),
    };
    if let (Runner::Git(_), Some(_)) = (runner, scenario.rerun) {
        // A random kill may land in git itself, before it moved its HEAD: the user runs
        // the git command again first (a no-op when git had finished), then the hook's.
        let mut git_again = run(sb, scenario, runner, "");
        if !git_again.status.success()
            && let Some(stale_lock) = git_stale_lock(&String::from_utf8_lossy(&git_again.stderr))
        {
            // Git killed while it held one of its own locks (`index.lock`, `HEAD.lock`)
            // leaves it behind, and says to remove it once no git process runs (the whole
            // group is dead): as the user does.
            fs::remove_file(&stale_lock).expect("remove git's stale lock");
            git_again = run(sb, scenario, runner, "");
        }
        if let Runner::Git(args) = runner
            && !git_again.status.success()
            && String::from_utf8_lossy(&git_again.stderr).contains("would be overwritten")
        {
            // Git killed part-way through writing a file it tracks (`dvx.lock`) sees that
            // file as a local change: the user makes git finish what it started.
            let mut forced = args.clone();
            forced.insert(1, "-f".into());
            git_again = run(sb, scenario, &Runner::Git(forced), "");
        }
        assert!(
            git_again.status.success(),
            "{at}: git does not complete when run again:\n{}",
            String::from_utf8_lossy(&git_again.stderr)
        );
    }
    let again = run(sb, scenario, &rerun, "");
    if !again.status.success() {
        let stderr = String::from_utf8_lossy(&again.stderr);
        let done = scenario.done_already.is_some_and(|m| stderr.contains(m));
        assert!(
            done,
            "{at}: the command does not complete when run again:\n{stderr}"
        );
    }
    let mut now = finished(sb);
    if scenario.repeats {
        // One more run on top: the same files and stage, a newer HEAD and pin.
        now.status["head"] = expected.status["head"].clone();
        now.status["pin"]["pinned"] = expected.status["pin"]["pinned"].clone();
        now.log = expected.log.clone();
        if let (Some(Node::File(..)), Some(want)) =
            (now.files.get("dvx.lock"), expected.files.get("dvx.lock"))
        {
            now.files.insert("dvx.lock".into(), want.clone());
        }
    }
    if now != *expected {
        for (what, a, b) in [
            ("status", &now.status, &expected.status),
            ("stage", &now.stage, &expected.stage),
        ] {
            assert_eq!(a, b, "{at}: {what} after the re-run");
        }
        assert_eq!(now.log, expected.log, "{at}: history after the re-run");
        assert_eq!(now.fsck, expected.fsck, "{at}: fsck after the re-run");
        assert_eq!(
            now.files.keys().collect::<Vec<_>>(),
            expected.files.keys().collect::<Vec<_>>(),
            "{at}: files after the re-run"
        );
        for (path, node) in &now.files {
            assert!(
                expected.files.get(path) == Some(node),
                "{at}: {path} differs after the re-run"
            );
        }
    }
    assert_eq!(
        left_in_tmp(&sb.root),
        Vec::<String>::new(),
        "{at}: temp files left after the re-run"
    );
    if scenario.remote {
        check_remote(sb, &format!("{at}, after the re-run"));
    }
}

/// `dvx fsck`'s verdict: exit code and the problems it found (not how many objects it
/// checked, which a command changes).
fn fsck(sb: &Sandbox) -> (Option<i32>, String) {
    let out = sb.dvx().arg("fsck").output().expect("run fsck");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let problems = text
        .lines()
        .filter(|l| !l.starts_with("checked "))
        .map(|l| format!("{l}\n"))
        .collect();
    (out.status.code(), problems)
}

/// The checks that must hold the moment a command died (or failed) part-way, the
/// remote's included.
fn check_after_fault(
    sb: &Sandbox,
    at: &str,
    scenario: &Scenario,
    before: &BTreeMap<String, Node>,
    expected: &Finished,
    committed: &BTreeMap<PathBuf, dvx::hash::ObjectId>,
    fsck_before: &(Option<i32>, String),
) {
    let own_outputs = scenario.own_outputs;
    let after = &expected.files;
    let temps = temps_in_work_tree(&sb.root);
    assert!(
        temps.is_empty(),
        "{at}: temp files in the work tree: {temps:?}"
    );
    for (path, node) in picture(&sb.root) {
        if own_outputs.contains(&path.as_str()) {
            continue;
        }
        let known = before.get(&path) == Some(&node) || after.get(&path) == Some(&node);
        assert!(
            known,
            "{at}: {path} holds neither its old nor its new bytes: {node:?}"
        );
    }
    // fsck passes exactly as before the command or as after it. With a remote
    // configured, a blob that is not local is no problem (it is on the remote: a fetch,
    // a pull killed between its fetch and its download, a drop all leave such blobs), so
    // fsck must not report it as missing.
    let now = fsck(sb);
    assert!(
        now == *fsck_before || now == expected.fsck,
        "{at}: fsck finds new problems:\n{}\nbefore the command:\n{}",
        now.1,
        fsck_before.1
    );
    let lost: Vec<_> = committed
        .iter()
        .filter(|(p, _)| !p.exists())
        .map(|(_, id)| *id)
        .collect();
    if scenario.frees && !lost.is_empty() {
        let gone = open_remote(sb).missing(&lost).expect("ask the remote");
        assert!(
            gone.is_empty(),
            "{at}: objects freed locally that the remote lacks: {gone:?}"
        );
    } else {
        assert!(lost.is_empty(), "{at}: committed objects lost: {lost:?}");
    }
    if scenario.remote {
        check_remote(sb, at);
    }
}

// ---- scenarios -------------------------------------------------------------------

thread_local! {
    /// Extra files per dataset: none for the walks (every operation is visited, so few
    /// operations keep them fast), hundreds for random kills (so a command runs long
    /// enough for a kill to land inside it).
    static EXTRA_FILES: Cell<usize> = const { Cell::new(0) };
    /// Whether the remote scenarios use an S3 server (started by their setup, its bucket
    /// inside the work tree's `.git/` like [`REMOTE`], so restoring the work tree
    /// restores the bucket) instead of the directory remote.
    static ON_S3: Cell<bool> = const { Cell::new(false) };
    static S3: std::cell::RefCell<Option<S3Server>> = const { std::cell::RefCell::new(None) };
}

/// A small dataset: a few directories, an executable, a symlink; bytes depend on `seed`.
/// Plus [`EXTRA_FILES`] more, spread over directories.
fn dataset(sb: &Sandbox, seed: u64) {
    for i in 0..EXTRA_FILES.get() {
        let path = format!("data/bulk{:02}/f{i:04}.bin", i % 16);
        sb.write(
            &path,
            &bytes(seed * 1_000_000 + i as u64, 500 + (i * 37) % 4000),
        );
    }
    for (i, path) in [
        "data/a.csv",
        "data/b.csv",
        "data/sub/c.bin",
        "data/sub/d.bin",
        "data/sub/deep/e.txt",
        "data/other/f.txt",
    ]
    .iter()
    .enumerate()
    {
        sb.write(path, &bytes(seed * 100 + i as u64, 200 + i * 50));
    }
    sb.write("data/run.sh", b"#!/bin/sh\necho data\n");
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(sb.path("data/run.sh"), fs::Permissions::from_mode(0o755)).expect("chmod");
    let link = sb.path("data/link");
    if link.symlink_metadata().is_ok() {
        fs::remove_file(&link).expect("rm link");
    }
    std::os::unix::fs::symlink("a.csv", link).expect("symlink");
}

/// Changes on top of [`dataset`]: one file edited, one added, one deleted.
fn change(sb: &Sandbox, seed: u64) {
    sb.write("data/a.csv", &bytes(seed * 1000, 333));
    sb.write(
        &format!("data/new/n{seed}.txt"),
        &bytes(seed * 1000 + 1, 120),
    );
    fs::remove_file(sb.path("data/sub/d.bin")).expect("rm");
}

fn dvx(args: &[&str]) -> Runner {
    Runner::Dvx(args.iter().map(|s| (*s).to_owned()).collect())
}

/// main at v1, branch `other` at v2 (changed), HEAD on main with v1 checked out.
fn two_branches(sb: &Sandbox) {
    dataset(sb, 1);
    sb.ok(&["-q", "add", "data"]);
    sb.ok(&["-q", "commit", "-m", "v1"]);
    sb.ok(&["-q", "checkout", "-b", "other"]);
    change(sb, 2);
    sb.ok(&["-q", "add", "data"]);
    sb.ok(&["-q", "commit", "-m", "v2"]);
    sb.ok(&["-q", "checkout", "main"]);
}

fn scenario_add(sb: &Sandbox) -> Runner {
    dataset(sb, 1);
    sb.ok(&["-q", "add", "data"]);
    sb.ok(&["-q", "commit", "-m", "v1"]);
    change(sb, 2);
    dvx(&["add", "data"])
}

/// `add` in a link mode: each file becomes its read-only object (hard-linked into the
/// store), and in symlink mode a symlink to the object takes its place.
fn add_linked(sb: &Sandbox, link: &str) -> Runner {
    crate::add_links::set_link(sb, link);
    dataset(sb, 1);
    sb.ok(&["-q", "add", "data"]);
    sb.ok(&["-q", "commit", "-m", "v1"]);
    change(sb, 2);
    dvx(&["add", "data"])
}

fn scenario_add_hardlink(sb: &Sandbox) -> Runner {
    add_linked(sb, "hardlink")
}

fn scenario_add_symlink(sb: &Sandbox) -> Runner {
    add_linked(sb, "symlink")
}

fn scenario_add_large(sb: &Sandbox) -> Runner {
    sb.write("big/small.txt", b"small\n");
    // Over the 8 MiB threshold: streamed in chunks, hashed beside the write.
    sb.write("big/large.bin", &bytes(7, (8 << 20) + 4096));
    dvx(&["add", "big"])
}

fn scenario_commit(sb: &Sandbox) -> Runner {
    dataset(sb, 1);
    sb.ok(&["-q", "add", "data"]);
    sb.ok(&["-q", "commit", "-m", "v1"]);
    change(sb, 2);
    sb.ok(&["-q", "add", "data"]);
    dvx(&["commit", "-m", "v2"])
}

fn scenario_checkout(sb: &Sandbox) -> Runner {
    two_branches(sb);
    dvx(&["checkout", "other"])
}

fn scenario_checkout_lazy(sb: &Sandbox) -> Runner {
    two_branches(sb);
    // Bytes of `other`'s new directory are not local (as after a clone that never
    // fetched them): a lazy checkout records the directory as not fetched.
    let ls: serde_json::Value =
        serde_json::from_str(&sb.out(&["ls", "--json", "other", "data/new"])).expect("json");
    for f in ls.as_array().expect("list") {
        let hex = f["id"].as_str().expect("id");
        fs::remove_file(object_path(&sb.root, hex)).expect("drop object");
    }
    dvx(&["checkout", "--lazy", "other"])
}

fn scenario_checkout_force(sb: &Sandbox) -> Runner {
    two_branches(sb);
    // Local edits that a plain checkout would refuse to overwrite.
    sb.write("data/a.csv", b"edited locally\n");
    sb.write("data/sub/d.bin", b"also edited\n");
    dvx(&["checkout", "--force", "other"])
}

fn scenario_restore(sb: &Sandbox) -> Runner {
    dataset(sb, 1);
    sb.ok(&["-q", "add", "data"]);
    sb.ok(&["-q", "commit", "-m", "v1"]);
    fs::remove_dir_all(sb.path("data/sub")).expect("rm");
    sb.write("data/a.csv", b"edited\n");
    dvx(&["checkout", "--", "data"])
}

fn scenario_merge(sb: &Sandbox) -> Runner {
    two_branches(sb);
    // main moves on too, elsewhere: a three-way merge with a merge commit.
    sb.write("data/other/f.txt", b"main's version\n");
    sb.write("data/main-only.txt", b"main\n");
    sb.ok(&["-q", "add", "data"]);
    sb.ok(&["-q", "commit", "-m", "main moves"]);
    dvx(&["merge", "other"])
}

fn scenario_gc(sb: &Sandbox) -> Runner {
    two_branches(sb);
    sb.ok(&["-q", "branch", "-D", "other"]);
    // Something unreachable that is also absent from every tree.
    sb.write("data/tmp.bin", &bytes(99, 500));
    sb.ok(&["-q", "add", "data"]);
    sb.ok(&["-q", "reset", "--", "data/tmp.bin"]);
    dvx(&["gc", "--grace", "0"])
}

fn scenario_run(sb: &Sandbox) -> Runner {
    dataset(sb, 1);
    sb.ok(&["-q", "add", "data"]);
    sb.ok(&["-q", "commit", "-m", "v1"]);
    sb.write(
        "prepare.sh",
        b"cat data/a.csv data/b.csv > out/features.bin\n",
    );
    sb.git(&["add", "prepare.sh"]);
    sb.git(&["commit", "-q", "-m", "prepare"]);
    fs::create_dir_all(sb.path("out")).expect("mkdir");
    dvx(&[
        "run",
        "-d",
        "data",
        "-d",
        "prepare.sh",
        "-o",
        "out/features.bin",
        "--",
        "sh",
        "prepare.sh",
    ])
}

fn scenario_reset(sb: &Sandbox) -> Runner {
    dataset(sb, 1);
    sb.ok(&["-q", "add", "data"]);
    sb.ok(&["-q", "commit", "-m", "v1"]);
    change(sb, 2);
    sb.ok(&["-q", "add", "data"]);
    dvx(&["reset", "--", "data/sub", "data/new"])
}

fn scenario_rm(sb: &Sandbox) -> Runner {
    dataset(sb, 1);
    sb.ok(&["-q", "add", "data"]);
    sb.ok(&["-q", "commit", "-m", "v1"]);
    dvx(&["rm", "data/sub", "data/a.csv"])
}

fn scenario_hook_checkout(sb: &Sandbox) -> Runner {
    sb.ok(&["-q", "install-hooks", "--eager"]);
    dataset(sb, 1);
    sb.ok(&["-q", "add", "data"]);
    sb.ok(&["-q", "commit", "-m", "v1", "--git-add"]);
    sb.git(&["commit", "-q", "-m", "data v1"]);
    let v1 = sb.git(&["rev-parse", "HEAD"]).trim().to_owned();
    change(sb, 2);
    sb.ok(&["-q", "add", "data"]);
    sb.ok(&["-q", "commit", "-m", "v2", "--git-add"]);
    sb.git(&["commit", "-q", "-m", "data v2"]);
    // git checks out the old code; its post-checkout hook brings the old data.
    Runner::Git(vec!["checkout".into(), "-q".into(), v1])
}

/// The directory remote of the remote scenarios, relative to the work tree. It lies
/// inside `.git/` so that restoring the work tree's copy restores the remote with it, and
/// so that neither the work-tree picture nor git nor dvx sees it as a file.
const REMOTE: &str = ".git/dvx-test-remote";
/// Another clone of [`REMOTE`], which moves the remote on (for fetch and pull).
const PEER: &str = ".git/dvx-test-peer";

fn remote_url(sb: &Sandbox) -> String {
    if ON_S3.get() {
        let url = S3.with_borrow_mut(|server| {
            server
                .get_or_insert_with(|| S3Server::start_in(&sb.path(".git")))
                .url("team/data")
        });
        return url;
    }
    sb.path(REMOTE).to_string_lossy().into_owned()
}

/// What a dvx process needs in its environment to reach the remote: nothing for the
/// directory remote, the S3 server's endpoint and keys for S3.
fn remote_env() -> BTreeMap<String, String> {
    S3.with_borrow(|server| server.as_ref().map(S3Server::env).unwrap_or_default())
}

/// `remote add origin`, and for S3 the endpoint and keys recorded in the repository's
/// config (the keys in the local file), so every later command reaches it without an
/// environment, as the directory remote is reached.
fn add_origin(sb: &Sandbox) {
    let url = remote_url(sb);
    sb.dvx()
        .envs(remote_env())
        .args(["-q", "remote", "add", "origin", &url])
        .assert()
        .success();
    let env = remote_env();
    if let Some(endpoint) = env.get("AWS_ENDPOINT_URL") {
        for (key, value, local) in [
            ("endpoint", endpoint.as_str(), false),
            ("allow_http", "true", false),
            ("region", env["AWS_REGION"].as_str(), false),
            ("access_key_id", env["AWS_ACCESS_KEY_ID"].as_str(), true),
            (
                "secret_access_key",
                env["AWS_SECRET_ACCESS_KEY"].as_str(),
                true,
            ),
        ] {
            let mut args = vec!["-q", "remote", "set", "origin", key, value];
            if local {
                args.push("--local");
            }
            sb.ok(&args);
        }
    }
}

/// The remote, opened in this process.
fn open_remote(sb: &Sandbox) -> dvx::remote::Remote {
    let url = dvx::remote::RemoteUrl::parse(&remote_url(sb)).expect("url");
    dvx::remote::Remote::open(
        &url,
        &Default::default(),
        &Default::default(),
        &remote_env(),
        false,
    )
    .expect("open the remote")
}

/// The remote holds no ref pointing at a missing object: every commit, tree and run
/// record its refs reach is read from it in place (a ranged read through its pack
/// indexes, checked against the id, as `cat` reads an object), and every blob they name
/// is in its catalog. In this process and without a clone, so it is cheap enough to
/// follow every fault.
fn check_remote(sb: &Sandbox, at: &str) {
    use dvx::hash::ObjectId;
    use dvx::object::{Commit, Encode, EntryKind, RunRecord, Tree};
    use std::io::Read;

    #[derive(Clone, Copy, PartialEq)]
    enum What {
        Commit,
        Tree,
        Run,
        Blob,
    }
    let remote = open_remote(sb);
    // Every pack index read once, kept for the reads below.
    remote
        .load_indexes()
        .unwrap_or_else(|e| panic!("{at}: the remote's pack indexes cannot be read: {e}"));
    let mut todo: Vec<(ObjectId, What)> = Vec::new();
    for kind in [dvx::remote::RefKind::Branch, dvx::remote::RefKind::Tag] {
        let refs = remote
            .refs(kind)
            .unwrap_or_else(|e| panic!("{at}: the remote's refs cannot be read: {e}"));
        todo.extend(
            refs.iter()
                .filter_map(|r| r.target)
                .map(|c| (c, What::Commit)),
        );
    }
    let artifact = |a: &dvx::object::Artifact| match a.kind {
        EntryKind::Dir => (a.id, What::Tree),
        _ => (a.id, What::Blob),
    };
    let mut seen = BTreeSet::new();
    let mut blobs = Vec::new();
    while let Some((id, what)) = todo.pop() {
        if !seen.insert(id) {
            continue;
        }
        if what == What::Blob {
            blobs.push(id);
            continue;
        }
        let mut bytes = Vec::new();
        remote
            .open_object(&id)
            .unwrap_or_else(|e| panic!("{at}: the remote's refs reach {id}, which it lacks: {e}"))
            .read_to_end(&mut bytes)
            .unwrap_or_else(|e| panic!("{at}: {id} cannot be read from the remote: {e}"));
        match what {
            What::Commit => {
                let commit = Commit::decode(&bytes).expect("a commit");
                todo.push((commit.tree, What::Tree));
                todo.extend(commit.parents.iter().map(|p| (*p, What::Commit)));
                todo.extend(commit.runs.iter().map(|r| (*r, What::Run)));
            }
            What::Tree => {
                for e in Tree::decode(&bytes).expect("a tree").entries {
                    let next = if e.kind == EntryKind::Dir {
                        What::Tree
                    } else {
                        What::Blob
                    };
                    todo.push((e.id, next));
                }
            }
            What::Run => {
                let run = RunRecord::decode(&bytes).expect("a run record");
                todo.extend(run.deps.iter().chain(&run.outs).map(artifact));
            }
            What::Blob => unreachable!("handled above"),
        }
    }
    let missing = remote.missing(&blobs).expect("ask the remote");
    assert!(
        missing.is_empty(),
        "{at}: the remote's refs name blobs it does not hold: {missing:?}"
    );
}

/// v1 committed and pushed to [`REMOTE`].
fn pushed_v1(sb: &Sandbox) {
    dataset(sb, 1);
    sb.ok(&["-q", "add", "data"]);
    sb.ok(&["-q", "commit", "-m", "v1"]);
    add_origin(sb);
    sb.ok(&["-q", "push"]);
}

fn scenario_push(sb: &Sandbox) -> Runner {
    pushed_v1(sb);
    change(sb, 2);
    sb.ok(&["-q", "add", "data"]);
    sb.ok(&["-q", "commit", "-m", "v2"]);
    dvx(&["push"])
}

/// v1 pushed; another clone then pushes v2 on top.
fn remote_moved_on(sb: &Sandbox) {
    pushed_v1(sb);
    let peer = sb.path(PEER);
    sb.dvx()
        .envs(remote_env())
        .args([
            "-q",
            "clone",
            &remote_url(sb),
            peer.to_str().expect("utf-8"),
        ])
        .assert()
        .success();
    let in_peer = |args: &[&str]| {
        let out = sb
            .dvx()
            .envs(remote_env())
            .current_dir(&peer)
            .args(args)
            .output()
            .expect("dvx");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    fs::write(peer.join("data/a.csv"), bytes(7000, 700)).expect("write");
    fs::write(peer.join("data/peer.bin"), bytes(7001, 3000)).expect("write");
    in_peer(&["-q", "add", "data"]);
    in_peer(&["-q", "commit", "-m", "v2 from the peer"]);
    in_peer(&["-q", "push"]);
}

fn scenario_fetch(sb: &Sandbox) -> Runner {
    remote_moved_on(sb);
    dvx(&["fetch"])
}

fn scenario_pull(sb: &Sandbox) -> Runner {
    remote_moved_on(sb);
    dvx(&["pull"])
}

fn scenario_drop(sb: &Sandbox) -> Runner {
    pushed_v1(sb);
    dvx(&["drop", "data"])
}

/// v1 pushed, then every byte of `data/` dropped: the remote holds them, the work tree
/// has none.
fn pushed_and_dropped(sb: &Sandbox) {
    pushed_v1(sb);
    sb.ok(&["-q", "drop", "data"]);
}

/// v1 with 40 small files more, pushed, then every byte of `data/` dropped: a pull brings
/// the 40 back in one run of a remote pack, which it keeps as a local pack.
fn pushed_many_and_dropped(sb: &Sandbox) {
    dataset(sb, 1);
    for i in 0..40 {
        sb.write(&format!("data/many/f{i:02}.txt"), &bytes(8000 + i, 300));
    }
    sb.ok(&["-q", "add", "data"]);
    sb.ok(&["-q", "commit", "-m", "v1"]);
    add_origin(sb);
    sb.ok(&["-q", "push"]);
    sb.ok(&["-q", "drop", "data"]);
}

fn scenario_pull_into_a_pack(sb: &Sandbox) -> Runner {
    pushed_many_and_dropped(sb);
    dvx(&["pull"])
}

/// Dropping two files whose bytes are in a local pack rewrites the pack without them.
fn scenario_drop_from_a_pack(sb: &Sandbox) -> Runner {
    pushed_many_and_dropped(sb);
    sb.ok(&["-q", "pull"]);
    dvx(&["drop", "data/many/f03.txt", "data/many/f17.txt"])
}

fn scenario_pull_paths(sb: &Sandbox) -> Runner {
    pushed_and_dropped(sb);
    // A file, a directory and a glob (which, for the random kills, takes in the bulk).
    dvx(&["pull", "data/a.csv", "data/sub", "data/**/*.bin"])
}

fn scenario_pull_for(sb: &Sandbox) -> Runner {
    scenario_run(sb);
    let out = sb
        .dvx()
        .args([
            "-q",
            "run",
            "-d",
            "data",
            "-d",
            "prepare.sh",
            "-o",
            "out/features.bin",
            "--",
            "sh",
            "prepare.sh",
        ])
        .output()
        .expect("dvx run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    add_origin(sb);
    sb.ok(&["-q", "push"]);
    sb.ok(&["-q", "drop", "data", "out"]);
    dvx(&["pull", "--for", "out/features.bin"])
}

fn scenarios() -> Vec<Scenario> {
    let plain = |name, setup| Scenario {
        name,
        setup,
        env: Vec::new(),
        done_already: None,
        rerun: None,
        repeats: false,
        own_outputs: &[],
        remote: false,
        frees: false,
    };
    vec![
        plain("add", scenario_add),
        plain("add-large", scenario_add_large),
        plain("add-hardlink", scenario_add_hardlink),
        plain("add-symlink", scenario_add_symlink),
        Scenario {
            done_already: Some("nothing to commit"),
            ..plain("commit", scenario_commit)
        },
        plain("checkout", scenario_checkout),
        plain("checkout-lazy", scenario_checkout_lazy),
        plain("checkout-force", scenario_checkout_force),
        plain("restore", scenario_restore),
        plain("merge", scenario_merge),
        Scenario {
            // Every object is old enough to collect, every reflog entry expired.
            env: vec![("DVX_DATE", far_future())],
            ..plain("gc", scenario_gc)
        },
        Scenario {
            repeats: true,
            own_outputs: &["out/features.bin"],
            ..plain("run", scenario_run)
        },
        Scenario {
            // Killed after the stage was written: the paths are no longer staged.
            done_already: Some("is neither in the stage nor in HEAD"),
            ..plain("reset", scenario_reset)
        },
        Scenario {
            // Killed after the stage was written: as `git rm` run twice.
            done_already: Some("did not match any tracked path"),
            ..plain("rm", scenario_rm)
        },
        Scenario {
            rerun: Some(&["checkout", "--git", "HEAD"]),
            // Git writes the files it tracks itself, in place: a kill that lands in git
            // may leave them half written, as it would without dvx.
            own_outputs: &["dvx.lock", ".gitignore"],
            ..plain("hook-checkout", scenario_hook_checkout)
        },
        Scenario {
            remote: true,
            ..plain("push", scenario_push)
        },
        Scenario {
            remote: true,
            ..plain("fetch", scenario_fetch)
        },
        Scenario {
            remote: true,
            ..plain("pull", scenario_pull)
        },
        Scenario {
            remote: true,
            frees: true,
            ..plain("drop", scenario_drop)
        },
        Scenario {
            remote: true,
            ..plain("pull-paths", scenario_pull_paths)
        },
        Scenario {
            remote: true,
            ..plain("pull-pack", scenario_pull_into_a_pack)
        },
        Scenario {
            remote: true,
            frees: true,
            ..plain("drop-pack", scenario_drop_from_a_pack)
        },
        Scenario {
            remote: true,
            ..plain("pull-for", scenario_pull_for)
        },
    ]
}

fn scenario(name: &str) -> Scenario {
    scenarios()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no scenario {name}"))
}

fn soak() -> bool {
    std::env::var_os("DVX_SOAK").is_some()
}

/// splitmix64: reproducible random delays from a printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn kill_seed() -> u64 {
    std::env::var("DVX_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        })
}

/// Figures of one random-kill run.
#[derive(Debug, Default)]
struct Killed {
    rounds: usize,
    /// Kills that landed while the command ran (the rest came after it finished).
    inside: usize,
}

/// Kill the scenario's command (its whole process group: git, its hooks, `run`'s
/// command) after a random delay, `rounds` times, from the same starting state on a
/// larger dataset; after each kill the same checks as the walks.
fn kill_at_random(scenario: &Scenario, rounds: usize, seed: u64) -> Killed {
    EXTRA_FILES.set(300);
    let sb = Sandbox::git_and_dvx();
    let runner = (scenario.setup)(&sb);
    EXTRA_FILES.set(0);
    let template = sb.root.with_file_name("template");
    fs::rename(&sb.root, &template).expect("keep the template");
    restore(&template, &sb.root);
    let before = picture(&sb.root);
    let committed = committed_objects(&sb.root);
    let fsck_before = fsck(&sb);
    let started = Instant::now();
    let reference = run(&sb, scenario, &runner, "");
    let took = started.elapsed();
    assert!(
        reference.status.success(),
        "{}: the command fails:\n{}",
        scenario.name,
        String::from_utf8_lossy(&reference.stderr)
    );
    let expected = finished(&sb);
    let mut rng = Rng(seed ^ scenario.name.len() as u64);
    let mut killed = Killed::default();
    for round in 0..rounds {
        restore(&template, &sb.root);
        // Up to a little past the uninterrupted run's duration: some kills land after
        // the end, and those must pass too.
        let span = (took.as_micros() as u64 * 13 / 10).max(1);
        let delay = Duration::from_micros(rng.next() % span);
        let mut child = command(&sb, scenario, &runner, "")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("spawn");
        std::thread::sleep(delay);
        let running = child.try_wait().expect("poll").is_none();
        // SAFETY: kill(2) of the process group we just made; no memory is involved.
        unsafe {
            libc::kill(-(child.id() as i32), libc::SIGKILL);
        }
        child.wait().expect("reap");
        // Whatever else the group ran (a hook's dvx) is gone before anything is checked.
        while unsafe { libc::kill(-(child.id() as i32), 0) } == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        if running {
            killed.inside += 1;
        }
        killed.rounds += 1;
        let at = format!(
            "{} (killed after {delay:?}, round {round}, DVX_KILL_SEED={seed})",
            scenario.name
        );
        check_after_fault(
            &sb,
            &at,
            scenario,
            &before,
            &expected,
            &committed,
            &fsck_before,
        );
        complete_and_compare(&sb, scenario, &runner, &at, &expected);
    }
    eprintln!(
        "kill-walk {}: {} rounds, {} inside the command (seed {seed})",
        scenario.name, killed.rounds, killed.inside
    );
    killed
}

/// Crash at every point, then fail every third operation (every one, and torn writes
/// too, in soak mode).
fn exercise(name: &str) {
    let s = scenario(name);
    walk(&s, Fault::Crash, 1);
    walk(&s, Fault::Enospc, if soak() { 1 } else { 3 });
    if soak() {
        walk(&s, Fault::Torn, 1);
    }
}

#[test]
#[cfg(feature = "failpoints")]
fn crash_at_every_point_of_add() {
    exercise("add");
}

#[test]
#[cfg(feature = "failpoints")]
fn crash_at_every_point_of_add_of_a_large_file() {
    exercise("add-large");
}

/// Regression: in the link modes, `add` made its temp link beside the file in the work
/// tree, where a crash left it.
#[test]
#[cfg(feature = "failpoints")]
fn a_link_mode_add_killed_part_way_leaves_no_temp_link_in_the_work_tree() {
    exercise("add-hardlink");
    exercise("add-symlink");
}

#[test]
#[cfg(feature = "failpoints")]
fn crash_at_every_point_of_commit() {
    exercise("commit");
}

#[test]
#[cfg(feature = "failpoints")]
fn crash_at_every_point_of_checkout() {
    exercise("checkout");
}

#[test]
#[cfg(feature = "failpoints")]
fn crash_at_every_point_of_a_lazy_checkout() {
    exercise("checkout-lazy");
}

#[test]
#[cfg(feature = "failpoints")]
fn crash_at_every_point_of_a_forced_checkout() {
    exercise("checkout-force");
}

#[test]
#[cfg(feature = "failpoints")]
fn crash_at_every_point_of_a_restore() {
    exercise("restore");
}

#[test]
#[cfg(feature = "failpoints")]
fn crash_at_every_point_of_merge() {
    exercise("merge");
}

#[test]
#[cfg(feature = "failpoints")]
fn crash_at_every_point_of_gc() {
    exercise("gc");
}

#[test]
#[cfg(feature = "failpoints")]
fn crash_at_every_point_of_run() {
    exercise("run");
}

#[test]
#[cfg(feature = "failpoints")]
fn crash_at_every_point_of_reset() {
    exercise("reset");
}

#[test]
#[cfg(feature = "failpoints")]
fn crash_at_every_point_of_rm() {
    exercise("rm");
}

#[test]
#[cfg(feature = "failpoints")]
fn crash_at_every_point_of_the_hooks_checkout() {
    exercise("hook-checkout");
}

#[test]
#[cfg(feature = "failpoints")]
fn crash_at_every_point_of_push() {
    exercise("push");
}

#[test]
#[cfg(feature = "failpoints")]
fn crash_at_every_point_of_fetch() {
    exercise("fetch");
}

#[test]
#[cfg(feature = "failpoints")]
fn crash_at_every_point_of_drop() {
    exercise("drop");
}

#[test]
#[cfg(feature = "failpoints")]
fn crash_at_every_point_of_pull_of_paths() {
    exercise("pull-paths");
}

#[test]
#[cfg(feature = "failpoints")]
fn crash_at_every_point_of_a_pull_into_a_local_pack() {
    exercise("pull-pack");
}

#[test]
#[cfg(feature = "failpoints")]
fn crash_at_every_point_of_a_drop_that_rewrites_a_local_pack() {
    exercise("drop-pack");
}

#[test]
#[cfg(feature = "failpoints")]
fn crash_at_every_point_of_pull_for_a_run() {
    exercise("pull-for");
}

#[test]
#[cfg(feature = "failpoints")]
fn crash_at_every_point_of_pull() {
    exercise("pull");
}

/// The push, fetch and pull walks against the in-process S3 server instead of the
/// directory remote: the local side's operations are the same, but the remote's ref moves
/// (conditional writes), listings and reads go over HTTP. Every few operations here (the
/// directory walks visit all of them); every operation, with the error walk, in soak mode.
fn exercise_on_s3(name: &str, points: usize) {
    ON_S3.set(true);
    let s = scenario(name);
    let stride = |operations: usize| {
        if soak() {
            1
        } else {
            operations.div_ceil(points).max(1)
        }
    };
    let walked = walk_with_stride(&s, Fault::Crash, &stride);
    if soak() {
        // A new sandbox, so a new server: the old one's bucket went with its sandbox.
        S3.set(None);
        walk(&s, Fault::Enospc, 1);
    }
    assert!(
        walked.points >= points.min(walked.operations),
        "{name}: {walked:?}"
    );
}

#[test]
#[cfg(feature = "failpoints")]
fn crash_at_points_of_push_to_s3() {
    exercise_on_s3("push", 6);
}

#[test]
#[cfg(feature = "failpoints")]
fn crash_at_points_of_fetch_from_s3() {
    exercise_on_s3("fetch", 6);
}

#[test]
#[cfg(feature = "failpoints")]
fn crash_at_points_of_pull_from_s3() {
    exercise_on_s3("pull", 8);
}

// ---- regressions found by the walks ------------------------------------------------

/// Run `args` on a copy of the sandbox's repository, traced, to find the first operation
/// whose trace line (`<n> <op> <path>`) satisfies `at`; then kill `args` right after that
/// operation in the sandbox itself. Returns the trace line.
fn crash_where(sb: &Sandbox, args: &[&str], at: impl Fn(&str) -> bool) -> String {
    let template = sb.root.with_file_name("probe");
    restore(&sb.root, &template);
    let traced = sb
        .dvx_std()
        .args(args)
        .env("DVX_FAILPOINTS", "trace")
        .output()
        .expect("run traced");
    let line = String::from_utf8_lossy(&traced.stderr)
        .lines()
        .filter_map(|l| l.strip_prefix("failpoint "))
        .find(|l| at(l))
        .unwrap_or_else(|| panic!("no such operation in dvx {args:?}"))
        .to_owned();
    let n = line.split(' ').next().expect("a number").to_owned();
    restore(&template, &sb.root);
    fs::remove_dir_all(&template).expect("rm probe");
    let out = sb
        .dvx_std()
        .args(args)
        .env("DVX_FAILPOINTS", format!("crash@{n}"))
        .output()
        .expect("run");
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGKILL),
        "not killed at {line}"
    );
    line
}

fn pinned(sb: &Sandbox) -> String {
    let text = String::from_utf8(sb.read("dvx.lock")).expect("utf-8");
    text.lines()
        .find_map(|l| l.strip_prefix("commit = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .expect("a commit line")
        .to_owned()
}

/// Regression: `dvx commit` killed after moving the branch but before rewriting
/// `dvx.lock` left the pin naming the old commit, and running it again only said
/// "nothing to commit": the pin stayed behind for good.
#[test]
#[cfg(feature = "failpoints")]
fn commit_killed_before_repinning_repins_when_run_again() {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/a.txt", b"a\n");
    sb.ok(&["-q", "add", "data"]);
    sb.ok(&["-q", "commit", "-m", "v1"]);
    sb.write("data/a.txt", b"b\n");
    sb.ok(&["-q", "add", "data"]);
    crash_where(&sb, &["commit", "-m", "v2"], |l| {
        l.contains(" rename ") && l.ends_with("refs/heads/main")
    });
    let head = sb.status_json()["head"].as_str().expect("head").to_owned();
    assert_ne!(
        pinned(&sb),
        head,
        "the crash came between the branch and the pin"
    );

    let err = sb.fails(&["commit", "-m", "v2"], 1);
    assert_contains(&err, "nothing to commit");
    assert_eq!(pinned(&sb), head);
    assert_eq!(sb.status_json()["pin"]["state"], "matches");
}

/// Regression: `dvx merge` killed after moving HEAD but before removing `CHECKOUT`, run
/// again, said "Already up to date" and left `status` reporting an interrupted checkout
/// forever.
/// Regression: a symlink-mode `add` killed after putting the symlink to the object in
/// place of a file, before writing the index, left a link the next `add` recorded as a
/// symlink to the store (and gc would then take the object, the file's only bytes).
#[test]
#[cfg(feature = "failpoints")]
fn a_symlink_mode_add_killed_before_its_index_is_completed_by_the_next_add() {
    let sb = Sandbox::git_and_dvx();
    crate::add_links::set_link(&sb, "symlink");
    sb.write("data/a.bin", &bytes(5, 4000));
    crash_where(&sb, &["add", "data"], |l| {
        l.contains(" rename ") && l.ends_with("data/a.bin")
    });
    let target = fs::read_link(sb.path("data/a.bin")).expect("the symlink is in place");
    assert_eq!(fs::read(&target).expect("the object"), bytes(5, 4000));
    sb.ok(&["-q", "add", "data"]);
    let ls: serde_json::Value = serde_json::from_str(&sb.out(&["ls", "--json"])).expect("json");
    assert_eq!(ls[0]["kind"], "file", "{ls}");
    assert_eq!(ls[0]["size"], 4000, "{ls}");
    sb.ok(&["-q", "commit", "-m", "v1"]);
    sb.ok(&["-q", "gc", "--grace", "0"]);
    assert_eq!(
        fs::read(sb.path("data/a.bin")).expect("read"),
        bytes(5, 4000)
    );
    let (code, problems) = fsck(&sb);
    assert_eq!(code, Some(0), "{problems}");
}

#[test]
#[cfg(feature = "failpoints")]
fn merge_killed_after_moving_head_reports_no_interrupted_checkout_when_run_again() {
    let sb = Sandbox::git_and_dvx();
    two_branches(&sb);
    sb.write("data/main-only.txt", b"main\n");
    sb.ok(&["-q", "add", "data"]);
    sb.ok(&["-q", "commit", "-m", "main moves"]);
    crash_where(&sb, &["merge", "other"], |l| {
        l.contains(" rename ") && l.ends_with("refs/heads/main")
    });
    assert!(sb.status_json()["interrupted_checkout"].is_string());
    sb.ok(&["merge", "other"]);
    let status = sb.status_json();
    assert_eq!(status["interrupted_checkout"], serde_json::Value::Null);
    assert_eq!(status["clean"], true);
}

/// Regression: gc deleted unreachable objects in the store's listing order, so a gc
/// killed part-way could leave a commit (still named by an old reflog entry, which fsck
/// follows) whose tree or parent it had already taken: fsck then reported the store
/// damaged. Commits now go first, each before its parents.
#[test]
#[cfg(feature = "failpoints")]
fn gc_killed_after_any_deletion_leaves_a_store_fsck_passes() {
    let sb = Sandbox::git_and_dvx();
    two_branches(&sb);
    sb.ok(&["-q", "checkout", "-b", "third", "other"]);
    sb.write("data/third.txt", b"third\n");
    sb.ok(&["-q", "add", "data"]);
    sb.ok(&["-q", "commit", "-m", "v3"]);
    sb.ok(&["-q", "checkout", "main"]);
    sb.ok(&["-q", "branch", "-D", "other"]);
    sb.ok(&["-q", "branch", "-D", "third"]);
    let template = sb.root.with_file_name("template");
    restore(&sb.root, &template);
    let args = ["gc", "--grace", "0"];
    let traced = sb
        .dvx_std()
        .args(args)
        .env("DVX_DATE", far_future())
        .env("DVX_FAILPOINTS", "trace")
        .output()
        .expect("gc");
    // Every deletion: the rename that takes an object out of the store.
    let deletions: Vec<String> = String::from_utf8_lossy(&traced.stderr)
        .lines()
        .filter_map(|l| l.strip_prefix("failpoint "))
        .filter(|l| l.contains(" rename ") && l.contains("/.dvx/tmp/"))
        .map(|l| l.split(' ').next().expect("n").to_owned())
        .collect();
    assert!(deletions.len() >= 4, "gc deleted too little: {deletions:?}");
    for n in deletions {
        restore(&template, &sb.root);
        let out = sb
            .dvx_std()
            .args(args)
            .env("DVX_DATE", far_future())
            .env("DVX_FAILPOINTS", format!("crash@{n}"))
            .output()
            .expect("gc");
        assert_eq!(out.status.signal(), Some(libc::SIGKILL));
        sb.ok(&["fsck"]);
    }
}

/// Regression: a reflog record cut short (a crash or a full disk in the middle of the
/// append) had no newline, so the next move's record was glued to it and both were
/// lost to readers.
#[test]
#[cfg(feature = "failpoints")]
fn a_torn_reflog_record_costs_only_itself() {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/a.txt", b"a\n");
    sb.ok(&["-q", "add", "data"]);
    sb.ok(&["-q", "commit", "-m", "v1"]);
    let template = sb.root.with_file_name("template");
    restore(&sb.root, &template);
    let traced = sb
        .dvx_std()
        .args(["branch", "b1"])
        .env("DVX_FAILPOINTS", "trace")
        .output()
        .expect("branch");
    let n = String::from_utf8_lossy(&traced.stderr)
        .lines()
        .filter_map(|l| l.strip_prefix("failpoint "))
        .find(|l| l.contains(" append ") && l.ends_with("logs/refs/heads/b1"))
        .map(|l| l.split(' ').next().expect("n").to_owned())
        .expect("the reflog append");
    restore(&template, &sb.root);
    let out = sb
        .dvx_std()
        .args(["branch", "b1"])
        .env("DVX_FAILPOINTS", format!("torn@{n}"))
        .output()
        .expect("branch");
    assert_eq!(out.status.signal(), Some(libc::SIGKILL));
    let log = sb.path(".dvx/logs/refs/heads/b1");
    assert!(!fs::read(&log).expect("log").ends_with(b"\n"), "torn");
    // The next record lands on a line of its own and reads back.
    sb.ok(&["branch", "-f", "b1", "main"]);
    let text = String::from_utf8(fs::read(&log).expect("log")).expect("utf-8");
    let last = text.lines().last().expect("a line");
    assert!(
        last.starts_with(&"0".repeat(64)) || last.contains("branch"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(
        last.split('\t')
            .next()
            .is_some_and(|head| head.split(' ').count() >= 6),
        "the last record is whole: {last:?}"
    );
}

// ---- random kills ------------------------------------------------------------------

/// Rounds per scenario: a few in CI, many in soak mode.
fn kill_rounds() -> usize {
    if soak() { 60 } else { 6 }
}

/// Every scenario, killed at random moments (the same seed for all, printed).
#[test]
fn kill_9_at_random_moments_of_every_writing_command() {
    let seed = kill_seed();
    let mut total = Killed::default();
    for s in scenarios() {
        let k = kill_at_random(&s, kill_rounds(), seed);
        total.rounds += k.rounds;
        total.inside += k.inside;
    }
    eprintln!(
        "kill-walk total: {} rounds, {} inside a command (DVX_KILL_SEED={seed})",
        total.rounds, total.inside
    );
    assert!(
        total.inside * 2 >= total.rounds,
        "most kills should land inside a command: {total:?}"
    );
}
