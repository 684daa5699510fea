//! Moving data between clones through a remote, with the real `dvx` binary: push, fetch,
//! pull, clone, remote-tracking branches, tags, the upstream in `status`, concurrent and
//! interrupted pushes. Every scenario runs against each kind of remote that can run here,
//! through a factory (as the conformance suite does): a local directory, and S3 through
//! the S3 protocol server in this process, reached as a user reaches MinIO (the AWS
//! environment variables).

use std::any::Any;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{Sandbox, Snapshot, assert_contains, bytes, error_and_hint};
use crate::s3_server::S3Server;

/// A remote the scenarios run against.
pub struct Remote {
    pub kind: &'static str,
    /// What `dvx remote add` and `dvx clone` are given.
    pub url: String,
    /// What a dvx process needs in its environment to reach it.
    pub env: BTreeMap<String, String>,
    /// Where its files lie on this machine (to inspect or damage them).
    pub files: PathBuf,
    /// The S3 server, for the scenarios that start another client against it.
    pub server: Option<S3Server>,
    _keep: Box<dyn Any>,
}

pub fn directory() -> Remote {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = std::fs::canonicalize(dir.path())
        .expect("canonical")
        .join("remote");
    Remote {
        kind: "directory",
        url: path.to_string_lossy().into_owned(),
        env: BTreeMap::new(),
        files: path,
        server: None,
        _keep: Box::new(dir),
    }
}

pub fn s3() -> Remote {
    let server = S3Server::start();
    Remote {
        kind: "s3",
        url: server.url("team/data"),
        env: server.env(),
        files: server.bucket_dir().join("team/data"),
        server: Some(server),
        _keep: Box::new(()),
    }
}

/// Every kind of remote that can run here.
pub fn kinds() -> [fn() -> Remote; 2] {
    [directory, s3]
}

/// A repository whose dvx commands reach a remote.
pub struct Peer {
    pub sb: Sandbox,
    pub env: BTreeMap<String, String>,
}

impl Peer {
    /// A new repository without git, with `remote` added as `origin`.
    pub fn new(remote: &Remote) -> Peer {
        let clone = Peer {
            sb: Sandbox::dvx_only(),
            env: remote.env.clone(),
        };
        clone.ok(&["remote", "add", "origin", &remote.url]);
        clone
    }

    /// `dvx clone` of `remote` (with `extra` flags) into a new sandbox.
    pub fn cloned(remote: &Remote, extra: &[&str]) -> Peer {
        let clone = Peer {
            sb: Sandbox::empty(),
            env: remote.env.clone(),
        };
        let mut args = vec!["clone", remote.url.as_str(), "."];
        args.extend_from_slice(extra);
        clone.ok(&args);
        clone
    }

    pub fn dvx(&self) -> assert_cmd::Command {
        let mut cmd = self.sb.dvx();
        cmd.envs(&self.env);
        cmd
    }

    pub fn std(&self) -> Command {
        let mut cmd = self.sb.dvx_std();
        cmd.envs(&self.env);
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.dvx().args(args).output().expect("run dvx")
    }

    /// Run dvx; assert success; return standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "dvx {args:?} failed:\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// Run dvx; assert exit `code`, one error line and one hint; return standard error.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(code),
            "dvx {args:?}: expected exit {code}\nstdout: {}\nstderr: {stderr}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        error_and_hint(&stderr);
        // One line of error, then the hint: a store's multi-line answer is not passed on.
        let lines: Vec<&str> = stderr.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.starts_with("error:"))
            .expect("error");
        assert!(
            lines.get(at + 1).is_some_and(|l| l.starts_with("hint:")),
            "the error takes one line:\n{stderr}"
        );
        if std::env::var_os("DVX_TEST_SHOW_ERRORS").is_some() {
            eprintln!("dvx {args:?}:\n{stderr}");
        }
        stderr
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).expect("JSON")
    }

    /// Write `files`, add `data`, commit.
    pub fn commit(&self, message: &str, files: &[(&str, &[u8])]) {
        for (path, content) in files {
            self.sb.write(path, content);
        }
        self.ok(&["add", "data"]);
        self.ok(&["commit", "-m", message]);
    }

    pub fn data(&self) -> Snapshot {
        self.sb.snapshot("data")
    }

    pub fn head(&self) -> String {
        self.json(&["status", "--json"])["head"]
            .as_str()
            .expect("a commit")
            .to_owned()
    }
}

/// Files of assorted kinds: nested, empty, executable-free bytes, one over the
/// large-object threshold when `large` (8 MiB).
fn dataset(seed: u64, large: bool) -> Vec<(String, Vec<u8>)> {
    let mut files = vec![
        ("data/labels.csv".to_owned(), b"cat,1\ndog,0\n".to_vec()),
        ("data/empty".to_owned(), Vec::new()),
        ("data/train/a.bin".to_owned(), bytes(seed, 3000)),
        ("data/train/b.bin".to_owned(), bytes(seed + 1, 70_000)),
        ("data/train/deep/c.txt".to_owned(), b"deep\n".to_vec()),
    ];
    if large {
        files.push((
            "data/model.pt".to_owned(),
            bytes(seed + 2, (8 << 20) + 12345),
        ));
    }
    files
}

fn as_refs(files: &[(String, Vec<u8>)]) -> Vec<(&str, &[u8])> {
    files
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect()
}

#[test]
fn push_clone_and_pull_move_every_byte() {
    for kind in kinds() {
        let remote = kind();
        let a = Peer::new(&remote);
        let first = dataset(1, true);
        a.commit("first", &as_refs(&first));
        let pushed = a.ok(&["push"]);
        assert_contains(&pushed, "[new branch]      main -> main");
        assert_contains(&pushed, "the remote's default branch is now 'main'");

        let b = Peer::cloned(&remote, &[]);
        assert_eq!(
            b.data(),
            a.data(),
            "{}: clone is byte for byte",
            remote.kind
        );
        assert_eq!(b.head(), a.head());
        assert!(
            b.json(&["status", "--json"])["not_fetched"]
                .as_array()
                .expect("list")
                .is_empty()
        );

        // A second commit: changed, added and deleted files.
        std::fs::remove_file(a.sb.path("data/train/deep/c.txt")).expect("rm");
        a.commit(
            "second",
            &[
                ("data/labels.csv", b"cat,1\ndog,0\nbird,1\n"),
                ("data/train/new.bin", &bytes(9, 5000)),
            ],
        );
        a.ok(&["push"]);
        let pulled = b.ok(&["pull"]);
        assert_contains(&pulled, "Fast-forward to");
        assert_eq!(b.data(), a.data(), "{}: pull is byte for byte", remote.kind);
        let log = b.ok(&["log", "--oneline"]);
        assert_contains(&log, "(HEAD -> main, origin/main) second");
        assert_contains(&log, "first");
        // `origin/main` is a revision everywhere.
        assert_eq!(
            b.ok(&["log", "--oneline", "-n", "1", "origin/main"]),
            b.ok(&["log", "--oneline", "-n", "1", "refs/remotes/origin/main"])
        );
        assert_eq!(
            b.ok(&["diff", "origin/main~1", "origin/main"])
                .lines()
                .count(),
            3
        );
        let fsck_ready = b.ok(&["fsck"]);
        assert_contains(&fsck_ready, "no problems");
    }
}

#[test]
fn fetch_brings_history_but_never_file_contents() {
    for kind in kinds() {
        let remote = kind();
        let a = Peer::new(&remote);
        a.commit("first", &as_refs(&dataset(3, false)));
        a.ok(&["push"]);
        let b = Peer::cloned(&remote, &["--lazy"]);
        a.commit("second", &[("data/more.bin", &bytes(77, 4000))]);
        a.ok(&["push"]);
        let objects_before = b.sb.objects().len();
        let fetched = b.json(&["fetch", "--json"]);
        assert_eq!(fetched["remote"], "origin");
        assert_eq!(fetched["branches"][0]["name"], "main");
        assert_eq!(
            fetched["branches"][0]["tracking"],
            "refs/remotes/origin/main"
        );
        assert_eq!(
            fetched["branches"][0]["new"].as_str(),
            Some(a.head().as_str())
        );
        // The new commit and its changed trees (the top and data/), never the blob.
        let new_objects = b.sb.objects().len() - objects_before;
        assert_eq!(new_objects, 3, "{}: commit + two trees", remote.kind);
        assert!(
            !b.sb
                .objects()
                .contains(&crate::harness::b3(&bytes(77, 4000)))
        );
        // The branch did not move; status says how far behind it is.
        let status = b.json(&["status", "--json"]);
        assert_eq!(status["upstream"]["name"], "origin/main");
        assert_eq!(status["upstream"]["behind"], 1);
        assert_eq!(status["upstream"]["ahead"], 0);
        assert_contains(
            &b.ok(&["status"]),
            "Your branch is behind 'origin/main' by 1 commit, and can be fast-forwarded.",
        );
        // Nothing new: a fetch reports nothing and moves nothing.
        let again = b.json(&["fetch", "--json"]);
        assert_eq!(again["transfer"]["objects"], 0);
    }
}

#[test]
fn merging_a_fetched_branch_brings_its_bytes_and_a_fast_forward_needs_no_author() {
    for kind in kinds() {
        let remote = kind();
        let a = Peer::new(&remote);
        a.commit("first", &[("data/one.bin", &bytes(1, 3000))]);
        a.ok(&["push"]);
        let b = Peer::cloned(&remote, &[]);
        a.commit("second", &[("data/two.bin", &bytes(2, 3000))]);
        a.ok(&["push"]);
        b.ok(&["fetch"]);
        // No identity anywhere: a fast-forward only moves HEAD, as with git.
        let anonymous_merge = || {
            b.dvx()
                .env_remove("DVX_AUTHOR")
                .args(["merge", "origin/main"])
                .output()
                .expect("run dvx")
        };
        let out = anonymous_merge();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}: {stdout}{}",
            remote.kind,
            String::from_utf8_lossy(&out.stderr)
        );
        // The result is checked out as an eager checkout is: from the remote.
        assert_contains(&stdout, "wrote 1 file, removed 0 files");
        assert_contains(&stdout, "fetched 1 object from origin");
        assert_eq!(b.sb.read("data/two.bin"), bytes(2, 3000));
        assert_eq!(
            b.json(&["status", "--json"])["not_fetched"],
            serde_json::json!([])
        );

        // A merge commit does need an author.
        a.commit("third", &[("data/three.bin", &bytes(3, 3000))]);
        a.ok(&["push"]);
        b.commit("mine", &[("data/mine.bin", &bytes(4, 3000))]);
        b.ok(&["fetch"]);
        let out = anonymous_merge();
        assert_eq!(out.status.code(), Some(1));
        assert_contains(
            &String::from_utf8_lossy(&out.stderr),
            "no author identity is configured",
        );
        let merged = b.ok(&["merge", "origin/main"]);
        assert_contains(&merged, "Merged as");
        assert_eq!(b.sb.read("data/three.bin"), bytes(3, 3000));

        // Local changes a merge would overwrite: refused as a merge, with no --force.
        a.commit("fourth", &[("data/one.bin", &bytes(5, 3000))]);
        a.ok(&["push"]);
        b.ok(&["fetch"]);
        b.sb.write("data/one.bin", b"edited here\n");
        let err = b.fails(&["merge", "origin/main"], 1);
        let (error, hint) = error_and_hint(&err);
        assert_contains(
            &error,
            "merge would overwrite local changes in 1 path(s): data/one.bin",
        );
        assert!(!hint.contains("--force"), "{hint}");
        assert_eq!(b.sb.read("data/one.bin"), b"edited here\n");

        // --lazy never goes to the network: what is not local becomes not fetched.
        b.ok(&["checkout", "--", "data/one.bin"]);
        let lazy = b.ok(&["merge", "--lazy", "origin/main"]);
        assert_contains(&lazy, "1 not fetched");
        assert!(!lazy.contains("fetched 1 object"), "{lazy}");
        assert_eq!(
            b.json(&["status", "--json"])["not_fetched"],
            serde_json::json!(["data/one.bin"])
        );

        // A pull stopped by the merge still says what its fetch brought, as git does.
        a.commit("sixth", &[("data/two.bin", &bytes(6, 3000))]);
        a.ok(&["push"]);
        b.sb.write("data/two.bin", b"mine\n");
        let out = b.run(&["pull"]);
        assert_eq!(out.status.code(), Some(1));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_contains(&stdout, "From ");
        assert_contains(&stdout, "main -> origin/main");
        let (error, _) = error_and_hint(&String::from_utf8_lossy(&out.stderr));
        assert_contains(&error, "merge would overwrite local changes");
    }
}

#[test]
fn status_says_ahead_behind_and_diverged() {
    for kind in kinds() {
        let remote = kind();
        let a = Peer::new(&remote);
        a.commit("base", &[("data/x", b"x")]);
        a.ok(&["push"]);
        let b = Peer::cloned(&remote, &[]);
        assert_contains(
            &b.ok(&["status"]),
            "Your branch is up to date with 'origin/main'.",
        );
        b.commit("mine", &[("data/b1", b"1")]);
        b.commit("mine too", &[("data/b2", b"2")]);
        let text = b.ok(&["status"]);
        assert_contains(&text, "Your branch is ahead of 'origin/main' by 2 commits.");
        assert_contains(&text, "(use \"dvx push\" to publish your local commits)");
        a.commit("theirs", &[("data/a1", b"a")]);
        a.ok(&["push"]);
        b.ok(&["fetch"]);
        let text = b.ok(&["status"]);
        assert_contains(&text, "Your branch and 'origin/main' have diverged,");
        assert_contains(
            &text,
            "and have 2 and 1 different commits each, respectively.",
        );
        let json = b.json(&["status", "--json"]);
        assert_eq!(json["upstream"]["ahead"], 2);
        assert_eq!(json["upstream"]["behind"], 1);
        // A push now is refused: the remote has a commit b lacks.
        let err = b.fails(&["push"], 1);
        let (error, hint) = error_and_hint(&err);
        assert_contains(&error, "the remote has commits you do not have");
        assert_contains(
            &hint,
            "run `dvx fetch origin` and merge (`dvx merge origin/main`, or `dvx pull origin`)",
        );
        // pull merges (a merge commit), then the push goes through.
        let pulled = b.ok(&["pull"]);
        assert_contains(&pulled, "Merged as");
        b.ok(&["push"]);
        assert_contains(
            &b.ok(&["status"]),
            "Your branch is up to date with 'origin/main'.",
        );
        a.ok(&["pull"]);
        assert_eq!(a.data(), b.data());
        // A branch with no upstream says nothing about one.
        b.ok(&["checkout", "-b", "solo"]);
        assert!(b.json(&["status", "--json"])["upstream"].is_null());
    }
}

/// Rounds of the push races: enough to catch an ordering that only sometimes goes wrong
/// while keeping the test to seconds per remote kind; `DVX_SOAK=1` runs the long count.
fn push_race_rounds(ci: usize, soak: usize) -> usize {
    if std::env::var_os("DVX_SOAK").is_some() {
        soak
    } else {
        ci
    }
}

/// `clones` clones of `remote` push at once, `rounds` times, each with a commit of its
/// own. Every round exactly one wins; each loser is told to fetch, fetches, merges the
/// remote branch and pushes (one after another, so each push lands); then everyone
/// catches up. At the end every commit any clone made is reachable from the remote's
/// branch, a fresh clone holds the same bytes, and `fsck --remote` passes. Returns the
/// wins of each clone.
fn push_race(remote: &Remote, clones: usize, rounds: usize) -> Vec<usize> {
    let first = Peer::new(remote);
    first.commit("base", &[("data/base", b"base")]);
    first.ok(&["push"]);
    let mut commits = vec![first.head()];
    let mut peers = vec![first];
    while peers.len() < clones {
        peers.push(Peer::cloned(remote, &[]));
    }
    let mut wins = vec![0; clones];
    for round in 0..rounds {
        for (i, p) in peers.iter().enumerate() {
            let name = format!("data/c{i}/r{round}");
            p.commit(
                &format!("clone {i} round {round}"),
                &[(&name, &bytes((i * 1000 + round) as u64, 2000))],
            );
            commits.push(p.head());
        }
        // Every push starts at the same moment: the processes are spawned only once all
        // the threads have reached the barrier.
        let barrier = std::sync::Barrier::new(clones);
        let outputs: Vec<Output> = std::thread::scope(|s| {
            let handles: Vec<_> = peers
                .iter()
                .map(|p| {
                    let barrier = &barrier;
                    s.spawn(move || {
                        let mut cmd = p.std();
                        cmd.arg("push")
                            .stdout(Stdio::piped())
                            .stderr(Stdio::piped());
                        barrier.wait();
                        cmd.spawn()
                            .expect("spawn push")
                            .wait_with_output()
                            .expect("wait")
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("push thread"))
                .collect()
        });
        let report = || {
            outputs
                .iter()
                .enumerate()
                .map(|(i, o)| format!("clone {i}: {}", String::from_utf8_lossy(&o.stderr)))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let winners: Vec<usize> = (0..clones)
            .filter(|&i| outputs[i].status.success())
            .collect();
        assert_eq!(
            winners.len(),
            1,
            "{}: round {round}: exactly one push wins\n{}",
            remote.kind,
            report()
        );
        wins[winners[0]] += 1;
        for (i, out) in outputs.iter().enumerate() {
            if i == winners[0] {
                continue;
            }
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{}", report());
            assert_contains(&stderr, "the remote has commits you do not have (it is at ");
            assert_contains(&stderr, "hint: run `dvx fetch origin` and merge");
            assert!(!stderr.contains("panicked"), "{stderr}");
        }
        // Each loser in turn fetches, merges and pushes; the merge is a commit of its own.
        for (i, p) in peers.iter().enumerate() {
            if i == winners[0] {
                continue;
            }
            p.ok(&["fetch"]);
            p.ok(&["merge", "origin/main"]);
            commits.push(p.head());
            p.ok(&["push"]);
        }
        for p in &peers {
            p.ok(&["pull"]);
        }
        let data = peers[0].data();
        for p in &peers[1..] {
            assert_eq!(p.data(), data, "{}: round {round}", remote.kind);
        }
    }
    let reader = &peers[0];
    reader.ok(&["fetch"]);
    let log = reader.json(&["log", "--json", "origin/main"]);
    let reachable: std::collections::BTreeSet<&str> = log
        .as_array()
        .expect("array")
        .iter()
        .map(|c| c["id"].as_str().expect("id"))
        .collect();
    for id in &commits {
        assert!(
            reachable.contains(id.as_str()),
            "{}: commit {id} is not reachable from the remote branch",
            remote.kind
        );
    }
    reader.ok(&["fsck", "--remote"]);
    let fresh = Peer::cloned(remote, &[]);
    assert_eq!(
        fresh.data(),
        reader.data(),
        "{}: no byte is lost",
        remote.kind
    );
    wins
}

#[test]
fn concurrent_pushes_one_wins_each_round_and_nothing_is_lost() {
    let rounds = push_race_rounds(10, 200);
    for kind in kinds() {
        let remote = kind();
        let start = Instant::now();
        let wins = push_race(&remote, 2, rounds);
        eprintln!(
            "races: two clones pushing to a {} remote: {rounds} rounds, wins {} and {}, {:.1} s",
            remote.kind,
            wins[0],
            wins[1],
            start.elapsed().as_secs_f64()
        );
    }
}

#[test]
fn three_clones_pushing_at_once_one_wins_and_nothing_is_lost() {
    let rounds = push_race_rounds(3, 30);
    for kind in kinds() {
        let remote = kind();
        let start = Instant::now();
        let wins = push_race(&remote, 3, rounds);
        eprintln!(
            "races: three clones pushing to a {} remote: {rounds} rounds, wins {wins:?}, {:.1} s",
            remote.kind,
            start.elapsed().as_secs_f64()
        );
    }
}

/// Wait until `dir` holds a file whose name ends with `suffix`, or `limit` passes.
fn wait_for(dir: &Path, suffix: &str, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(entries) = std::fs::read_dir(dir)
            && entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().ends_with(suffix))
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    false
}

#[test]
fn a_push_killed_mid_upload_resumes_and_completes() {
    for kind in kinds() {
        // Killing lands at a moment the test does not control; a try where the push had
        // not started its upload yet, or had finished it, is made again from scratch.
        let mut tries = 0;
        loop {
            tries += 1;
            assert!(
                tries <= 4,
                "{}: could not kill a push mid-upload",
                kind().kind
            );
            let remote = kind();
            let a = Peer::new(&remote);
            // One pack at a time, several packs (about 32 MiB each).
            a.ok(&["remote", "set", "origin", "jobs", "1"]);
            let files: Vec<(String, Vec<u8>)> = (0..24)
                .map(|i| (format!("data/part{i:02}.bin"), bytes(1000 + i, 4 << 20)))
                .collect();
            a.commit("big", &as_refs(&files));
            let mut child = a
                .std()
                .arg("push")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn");
            let started = wait_for(&remote.files.join("packs"), ".idx", Duration::from_secs(60));
            child.kill().expect("SIGKILL");
            child.wait().expect("reap");
            let refs_dir = remote.files.join("refs/heads/main");
            if !started || refs_dir.exists() {
                continue;
            }
            // Killed with some packs up and no ref moved: nothing points at a partial
            // upload, and the next push skips what is there.
            let b_empty = Peer {
                sb: Sandbox::dvx_only(),
                env: remote.env.clone(),
            };
            b_empty.ok(&["remote", "add", "origin", &remote.url]);
            let fetched = b_empty.json(&["fetch", "--json"]);
            assert!(fetched["branches"].as_array().expect("list").is_empty());
            let again = a.json(&["push", "--json"]);
            assert!(
                again["transfer"]["skipped"].as_u64().expect("number") > 0,
                "{}: the resumed push skipped what was there: {again}",
                remote.kind
            );
            assert_eq!(again["refs"][0]["outcome"], "created");
            let c = Peer::cloned(&remote, &[]);
            assert_eq!(c.data(), a.data(), "{}", remote.kind);
            break;
        }
    }
}

#[test]
fn tags_travel_and_never_move_without_force() {
    for kind in kinds() {
        let remote = kind();
        let a = Peer::new(&remote);
        a.commit("one", &[("data/x", b"1")]);
        a.ok(&["tag", "v1"]);
        a.commit("two", &[("data/x", b"2")]);
        a.ok(&["tag", "v2"]);
        a.ok(&["push"]);
        let pushed = a.ok(&["push", "--tags"]);
        assert_contains(&pushed, "[new tag]         v1 -> v1");
        let b = Peer::cloned(&remote, &[]);
        let tags = b.ok(&["tag"]);
        assert_eq!(tags, "v1\nv2\n");
        // b has its own v3 at another commit than the remote's.
        b.ok(&["tag", "v3", "HEAD~1"]);
        a.ok(&["tag", "v3"]);
        a.ok(&["push", "v3"]);
        // As git: the fetch fails (exit 1) for the tag it could not update.
        let out = b.run(&["fetch"]);
        assert_eq!(out.status.code(), Some(1));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_contains(&stdout, "[rejected]");
        let (error, hint) = error_and_hint(&stderr);
        assert_contains(&error, "1 local tag was not updated");
        assert_contains(&hint, "`dvx fetch --force` moves local tags");
        let v3 = |c: &Peer| c.ok(&["log", "--oneline", "-n", "1", "v3"]);
        assert_contains(&v3(&b), "one");
        // A pull goes on past it, with a note.
        let pulled = b.run(&["pull"]);
        assert!(pulled.status.success());
        assert_contains(
            &String::from_utf8_lossy(&pulled.stderr),
            "`dvx fetch --force` moves it",
        );
        let out = b.run(&["fetch", "--json"]);
        assert_eq!(out.status.code(), Some(1));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let t = json["tags"]
            .as_array()
            .expect("tags")
            .iter()
            .find(|t| t["name"] == "v3")
            .expect("v3")
            .clone();
        assert_eq!(t["outcome"], "skipped");
        b.ok(&["fetch", "--force"]);
        assert_eq!(v3(&b), v3(&a));
        // A tag never moves on the remote either.
        a.ok(&["tag", "-f", "v1", "HEAD"]);
        let err = a.fails(&["push", "v1"], 1);
        assert_contains(&err, "tags do not move");
    }
}

#[test]
fn clone_eager_and_lazy() {
    for kind in kinds() {
        let remote = kind();
        let a = Peer::new(&remote);
        let files = dataset(5, false);
        a.commit("first", &as_refs(&files));
        a.ok(&["push"]);
        let eager = Peer::cloned(&remote, &[]);
        assert_eq!(eager.data(), a.data());
        let lazy = Peer::cloned(&remote, &["--lazy"]);
        assert!(!lazy.sb.exists("data"), "{}: nothing written", remote.kind);
        let status = lazy.json(&["status", "--json"]);
        assert_eq!(status["not_fetched"], serde_json::json!(["data"]));
        assert_eq!(status["head"].as_str(), Some(a.head().as_str()));
        // `pull --lazy` moves the branch only; `pull` brings every byte.
        a.commit("second", &[("data/more", b"more")]);
        a.ok(&["push"]);
        lazy.ok(&["pull", "--lazy"]);
        assert_eq!(lazy.head(), a.head());
        assert!(!lazy.sb.exists("data/more"));
        let pulled = lazy.json(&["pull", "--json"]);
        assert_eq!(pulled["merge"]["outcome"], "up-to-date");
        assert!(pulled["bytes"]["written"].as_u64().expect("n") > 0);
        assert_eq!(lazy.data(), a.data());
        assert!(
            lazy.json(&["status", "--json"])["not_fetched"]
                .as_array()
                .expect("list")
                .is_empty()
        );
    }
}

#[test]
fn clone_refuses_a_directory_in_use_and_leaves_nothing_when_it_fails() {
    let remote = directory();
    let a = Peer::new(&remote);
    a.commit("first", &[("data/x", b"x")]);
    a.ok(&["push"]);
    let sb = Sandbox::empty();
    sb.write("taken/file", b"mine");
    let err = sb.fails(&["clone", &remote.url, "taken"], 1);
    assert_contains(&err, "is not an empty directory");
    assert_eq!(sb.read("taken/file"), b"mine");
    // A URL that is no dvx remote: the clone fails and leaves no directory behind.
    let err = sb.fails(&["clone", "/nonexistent/remote", "fresh"], 1);
    assert_contains(&err, "does not exist");
    assert!(!sb.exists("fresh"));
    let empty = tempfile::tempdir().expect("tempdir");
    let err = sb.fails(&["clone", &empty.path().to_string_lossy(), "fresh"], 1);
    assert_contains(&err, "is not a dvx remote");
    assert!(!sb.exists("fresh"));
}

#[test]
fn push_delete_all_and_named_refs() {
    for kind in kinds() {
        let remote = kind();
        let a = Peer::new(&remote);
        a.commit("one", &[("data/x", b"1")]);
        a.ok(&["branch", "feature"]);
        a.ok(&["tag", "v1"]);
        let out = a.json(&["push", "--all", "--tags", "--json"]);
        let names: Vec<(&str, &str)> = out["refs"]
            .as_array()
            .expect("refs")
            .iter()
            .map(|r| {
                (
                    r["kind"].as_str().expect("kind"),
                    r["name"].as_str().expect("name"),
                )
            })
            .collect();
        assert_eq!(
            names,
            [("branch", "feature"), ("branch", "main"), ("tag", "v1")]
        );
        assert_eq!(out["default_branch"], "main");
        let b = Peer::cloned(&remote, &[]);
        assert_contains(&b.ok(&["log", "--oneline"]), "origin/feature");
        let deleted = a.ok(&["push", "--delete", "feature"]);
        assert_contains(&deleted, "[deleted]         feature");
        let fetched = b.json(&["fetch", "--json"]);
        let gone = fetched["branches"]
            .as_array()
            .expect("branches")
            .iter()
            .find(|r| r["name"] == "feature")
            .expect("reported")
            .clone();
        assert!(gone["new"].is_null(), "{gone}");
        assert!(!b.ok(&["log", "--oneline"]).contains("origin/feature"));
        let err = a.fails(&["push", "--delete", "feature"], 1);
        assert_contains(&err, "no branch or tag named 'feature' on remote");
        // A branch can be pushed again after its deletion.
        a.ok(&["push", "feature"]);
        let err = a.fails(&["push", "nope"], 1);
        assert_contains(&err, "no branch or tag named 'nope'");
        // Deleting the remote's default branch says so and leaves it without one, so a
        // clone never looks for a branch that is gone; the next push of a branch sets it.
        let out = a.run(&["push", "--delete", "main"]);
        assert!(out.status.success());
        assert_contains(
            &String::from_utf8_lossy(&out.stderr),
            "warning: 'main' was the remote's default branch",
        );
        let manifest =
            std::fs::read_to_string(remote.files.join("dvx-remote.toml")).expect("manifest");
        assert!(!manifest.contains("default_branch"), "{manifest}");
        let c = Peer::cloned(&remote, &[]);
        assert_eq!(c.data(), a.data(), "{}", remote.kind);
        let out = a.json(&["push", "main", "--json"]);
        assert_eq!(out["default_branch"], "main");
    }
}

#[test]
fn pushing_bytes_that_are_nowhere_fails_naming_them_and_moves_nothing() {
    for kind in kinds() {
        let remote = kind();
        let a = Peer::new(&remote);
        a.commit(
            "one",
            &[("data/keep", b"keep"), ("data/lost.csv", b"gone soon")],
        );
        let lost = crate::harness::b3(b"gone soon");
        let object = crate::harness::object_path(&a.sb.root, &lost);
        std::fs::remove_file(&object).expect("remove the object");
        let err = a.fails(&["push"], 1);
        assert_contains(&err, "neither in the local store nor on remote");
        assert_contains(&err, "data/lost.csv");
        assert!(
            !remote.files.join("refs/heads").exists(),
            "{}: no ref moved",
            remote.kind
        );
    }
}

#[test]
fn a_symlink_leaving_the_work_tree_from_a_remote_is_refused_unless_the_clone_allows_it() {
    for kind in kinds() {
        let remote = kind();
        // The pushing repository versions a link to shared storage on purpose.
        let a = Peer::new(&remote);
        a.sb.write(
            ".dvx/config.local.toml",
            b"[core]\nexternal_symlinks = true\n",
        );
        std::fs::create_dir_all(a.sb.path("data")).expect("mkdir");
        std::os::unix::fs::symlink("/etc", a.sb.path("data/shared")).expect("symlink");
        a.commit("a link out", &[("data/a.txt", b"a\n")]);
        a.ok(&["push"]);

        // A clone that did not opt in gets the history, and no file of that commit.
        let b = Peer::cloned(&remote, &["--lazy"]);
        for args in [&["pull", "data"][..], &["pull"]] {
            let stderr = b.fails(args, 1);
            assert_contains(
                &stderr,
                "'data/shared' is a symbolic link to '/etc', an absolute path",
            );
            assert_contains(&stderr, "external_symlinks = true");
            assert!(
                b.sb.path("data/shared").symlink_metadata().is_err(),
                "{}: dvx {args:?} wrote the link",
                remote.kind
            );
            assert!(
                !b.sb.exists("data/a.txt"),
                "{}: dvx {args:?} wrote before refusing",
                remote.kind
            );
        }

        // Opting in, the same pull writes the link as recorded.
        b.sb.write(
            ".dvx/config.local.toml",
            b"[core]\nexternal_symlinks = true\n",
        );
        b.ok(&["pull"]);
        assert_eq!(
            std::fs::read_link(b.sb.path("data/shared")).expect("a link"),
            Path::new("/etc")
        );
        assert_eq!(b.sb.read("data/a.txt"), b"a\n");
    }
}
