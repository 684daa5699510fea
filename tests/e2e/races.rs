//! Processes racing on one repository, no remote involved: writers serialise through
//! the repository lock or fail clearly naming it; two work trees sharing one store commit
//! at once and lose nothing; readers never see a torn ref, index or `dvx.lock`; gc in one
//! work tree never takes an object an `add` in another is about to reference.
//!
//! `DVX_SOAK=1` runs ten times the rounds.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::harness::*;

fn rounds(ci: usize) -> usize {
    if std::env::var_os("DVX_SOAK").is_some() {
        ci * 10
    } else {
        ci
    }
}

fn spawn(mut cmd: Command) -> Child {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn dvx")
}

fn in_dir(sb: &Sandbox, dir: &Path, args: &[&str]) -> Command {
    let mut cmd = sb.dvx_std();
    cmd.current_dir(dir).args(args);
    cmd
}

fn log_messages(sb: &Sandbox, dir: &Path, rev: &str) -> String {
    let out = in_dir(sb, dir, &["log", "--json", rev])
        .output()
        .expect("dvx log");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn fsck_passes(sb: &Sandbox, dir: &Path, at: &str) {
    let out = in_dir(sb, dir, &["fsck"]).output().expect("fsck");
    assert!(
        out.status.success(),
        "{at}: fsck in {}:\n{}{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn writers_in_one_repository_serialise_or_fail_naming_the_lock() {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/seed.txt", b"seed\n");
    sb.ok(&["-q", "add", "data"]);
    sb.ok(&["-q", "commit", "-m", "seed"]);
    let writers = 4;
    let (mut committed, mut refused) = (Vec::new(), 0);
    for round in 0..rounds(8) {
        for w in 0..writers {
            sb.write(
                &format!("data/w{w}/r{round}.bin"),
                &bytes((round * writers + w) as u64, 20_000),
            );
        }
        let children: Vec<(String, Child)> = (0..writers)
            .map(|w| {
                let message = format!("writer {w} round {round}");
                // Half wait for the lock, half give up at once: both outcomes are seen.
                let timeout = if w % 2 == 0 { "30" } else { "0" };
                let script = format!(
                    "{dvx} -q add data/w{w} && {dvx} -q commit --allow-empty -m '{message}'",
                    dvx = env!("CARGO_BIN_EXE_dvx")
                );
                let mut sh = Command::new("sh");
                sb.seal(&mut sh);
                sh.current_dir(&sb.root)
                    .env("DVX_LOCK_TIMEOUT", timeout)
                    .args(["-c", &script]);
                (message, spawn(sh))
            })
            .collect();
        for (message, child) in children {
            let out = child.wait_with_output().expect("wait");
            let stderr = String::from_utf8_lossy(&out.stderr);
            if out.status.success() {
                committed.push(message);
            } else {
                assert_eq!(out.status.code(), Some(1), "{message}: {stderr}");
                assert!(
                    stderr.contains("locked by another dvx process"),
                    "{message} failed, not for the lock:\n{stderr}"
                );
                assert!(stderr.contains("hint:"), "{message}: {stderr}");
                refused += 1;
            }
        }
        fsck_passes(&sb, &sb.root, &format!("round {round}"));
    }
    let log = log_messages(&sb, &sb.root, "HEAD");
    for message in &committed {
        assert!(log.contains(message.as_str()), "commit lost: {message}");
    }
    assert!(!committed.is_empty());
    eprintln!(
        "races: one repository: {} commits landed, {refused} writers refused by the lock",
        committed.len()
    );
}

#[test]
fn readers_never_see_a_torn_ref_index_or_pin() {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/a.txt", b"a\n");
    sb.ok(&["-q", "add", "data"]);
    sb.ok(&["-q", "commit", "-m", "v0"]);
    let done = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicUsize::new(0));
    let readers: Vec<_> = (0..2)
        .map(|r| {
            let (done, reads) = (done.clone(), reads.clone());
            let root = sb.root.clone();
            let mut status = sb.dvx_std();
            status.args(["status", "--json"]);
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    let head = std::fs::read_to_string(root.join(".dvx/refs/heads/main"))
                        .expect("the ref is always there");
                    assert!(
                        head.len() == 65
                            && head.ends_with('\n')
                            && head[..64].bytes().all(|b| b.is_ascii_hexdigit()),
                        "torn ref: {head:?}"
                    );
                    let pin = std::fs::read(root.join("dvx.lock")).expect("the pin");
                    dvx::git::pin::Pin::parse_bytes(&pin, "dvx.lock")
                        .unwrap_or_else(|e| panic!("torn dvx.lock ({e}): {pin:?}"));
                    dvx::index::Index::load(&root.join(".dvx"))
                        .unwrap_or_else(|e| panic!("torn index: {e}"));
                    if r == 0 {
                        let out = status.output().expect("status");
                        assert!(
                            out.status.success(),
                            "status beside a writer: {}",
                            String::from_utf8_lossy(&out.stderr)
                        );
                    }
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let n = rounds(15);
    for round in 1..=n {
        sb.write(
            &format!("data/r{}.bin", round % 4),
            &bytes(round as u64, 50_000),
        );
        sb.write("data/a.txt", format!("a{round}\n").as_bytes());
        sb.ok(&["-q", "add", "data"]);
        sb.ok(&["-q", "commit", "-m", &format!("v{round}")]);
        if round % 5 == 0 {
            sb.ok(&["-q", "checkout", "-q", "HEAD~2"]);
            sb.ok(&["-q", "checkout", "-q", "main"]);
        }
    }
    done.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().expect("a reader saw a torn file");
    }
    eprintln!(
        "races: readers: {} reads beside {n} writes, none torn",
        reads.load(Ordering::Relaxed)
    );
}

/// A linked git worktree `linked` beside the main one, sharing its store and refs.
fn main_and_linked() -> (Sandbox, PathBuf) {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/a.txt", b"a\n");
    sb.ok(&["-q", "add", "data"]);
    sb.ok(&["-q", "commit", "-m", "base", "--git-add"]);
    sb.git(&["commit", "-q", "-m", "pin base"]);
    let linked = sb.root.parent().expect("parent").join("linked");
    sb.git(&[
        "worktree",
        "add",
        "-q",
        "-b",
        "wt",
        linked.to_str().expect("utf-8"),
    ]);
    let out = in_dir(&sb, &linked, &["checkout", "-q", "-b", "side", "main"])
        .output()
        .expect("checkout");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (sb, linked)
}

#[test]
fn two_worktrees_sharing_a_store_commit_at_once_and_lose_nothing() {
    let (sb, linked) = main_and_linked();
    let n = rounds(10);
    let work = |dir: PathBuf, tag: &'static str| {
        let mut sh = Command::new("sh");
        sb.seal(&mut sh);
        let mut script = String::new();
        for round in 0..n {
            script.push_str(&format!(
                "mkdir -p data/{tag} && head -c {size} /dev/urandom > data/{tag}/r{round}.bin && \
                 {dvx} -q add data && {dvx} -q commit -m '{tag} {round}' || exit 1\n",
                size = 10_000 + round * 100,
                dvx = env!("CARGO_BIN_EXE_dvx")
            ));
        }
        sh.current_dir(dir)
            .env("DVX_LOCK_TIMEOUT", "30")
            .args(["-c", &script]);
        spawn(sh)
    };
    let a = work(sb.root.clone(), "main");
    let b = work(linked.clone(), "side");
    for (what, child) in [("main", a), ("linked", b)] {
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for (dir, branch, tag) in [(&sb.root, "main", "main"), (&linked, "side", "side")] {
        let log = log_messages(&sb, dir, branch);
        for round in 0..n {
            assert!(
                log.contains(&format!("{tag} {round}")),
                "{tag} {round} lost"
            );
        }
        fsck_passes(&sb, dir, tag);
    }
    eprintln!("races: two work trees: {} commits each, none lost", n);
}

/// Regression: an `add` reusing an old unreferenced object freshened it through a file
/// it had opened; a gc in another work tree that moved the object aside and judged it
/// old between that open and the freshening deleted it, and the add still counted it as
/// stored, so its index named a missing object.
#[test]
fn gc_beside_add_in_another_worktree_never_takes_what_add_references() {
    let (sb, linked) = main_and_linked();
    let files = 40;
    let (mut taken, mut kept) = (0, 0);
    for round in 0..rounds(6) {
        // Old, unreferenced objects in the shared store...
        let content = |i: usize| bytes((round * 1000 + i) as u64, 3_000);
        for i in 0..files {
            sb.write(&format!("scratch/f{i}.bin"), &content(i));
        }
        sb.ok(&["-q", "add", "scratch"]);
        sb.ok(&["-q", "reset", "--", "scratch"]);
        let three_hours_ago =
            std::time::SystemTime::now() - std::time::Duration::from_secs(3 * 3600);
        for i in 0..files {
            let path = object_path(&sb.root, &b3(&content(i)));
            let f = std::fs::File::open(&path).expect("object");
            f.set_modified(three_hours_ago).expect("age it");
        }
        // ...that an add in the linked work tree reuses while gc runs in the main one.
        let dir = linked.join(format!("data/round{round}"));
        std::fs::create_dir_all(&dir).expect("mkdir");
        for i in 0..files {
            std::fs::write(dir.join(format!("f{i}.bin")), content(i)).expect("write");
        }
        let add = spawn(in_dir(&sb, &linked, &["-q", "add", "data"]));
        let mut gc = in_dir(&sb, &sb.root, &["gc", "--json", "--grace", "0"]);
        gc.env("DVX_DATE", format!("{} +0000", now()));
        let gc = gc.output().expect("gc");
        assert!(
            gc.status.success(),
            "{}",
            String::from_utf8_lossy(&gc.stderr)
        );
        let add = add.wait_with_output().expect("add");
        assert!(
            add.status.success(),
            "{}",
            String::from_utf8_lossy(&add.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&gc.stdout).expect("gc --json");
        taken += report["removed"].as_array().expect("removed").len();
        kept += report["kept_young"].as_u64().expect("kept_young");
        fsck_passes(&sb, &linked, &format!("round {round}"));
        let out = in_dir(
            &sb,
            &linked,
            &["-q", "commit", "-m", &format!("round {round}")],
        )
        .output()
        .expect("commit");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::remove_dir_all(sb.path("scratch")).expect("rm scratch");
    }
    fsck_passes(&sb, &sb.root, "the end");
    eprintln!(
        "races: gc beside add: {} rounds, gc removed {taken} objects and kept {kept} young",
        rounds(6)
    );
}
