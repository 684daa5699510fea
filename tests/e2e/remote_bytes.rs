//! The bytes half of remotes through the real binary, against a directory remote and
//! the in-process S3 server alike (`each_kind`): a fresh `git clone` pulls a few files
//! and moves only their bytes; `cat` streams bytes without storing them; an eager
//! checkout fetches what is absent and a lazy one sends nothing; `drop` frees what the
//! remote holds and refuses what it lacks; `fsck --remote` reads everything and finds
//! damage; `reproduce` and `pull --for` fetch only a run's inputs; and the error paths
//! (one line and a hint, exit 1, the repository unchanged).
//!
//! Pushing is done with the library, as `dvx push` does it (`Remote::upload`, then
//! `Remote::update_ref`): the test plays the clone that pushed.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use dvx::hash::ObjectId;
use dvx::history::reach;
use dvx::path::RepoPath;
use dvx::progress::Silent;
use dvx::remote::pack_index::PackIndex;
use dvx::remote::{Credentials, Environment, RefKind, RemoteUrl, Settings};
use dvx::workspace::{self, Workspace};
use serde_json::Value;

use crate::harness::*;
use crate::s3_server::S3Server;

/// A remote for one test, and how dvx reaches it.
struct Remote {
    kind: &'static str,
    /// What `[remote.origin] url` says.
    url: String,
    /// Variables every dvx command gets (the S3 endpoint and keys).
    env: Environment,
    /// Where the remote's files are on disk (to damage them on purpose).
    files: PathBuf,
    server: Option<S3Server>,
    _dir: tempfile::TempDir,
}

impl Remote {
    fn directory() -> Remote {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = std::fs::canonicalize(dir.path())
            .expect("canonical")
            .join("remote");
        Remote {
            kind: "directory",
            url: files.to_str().expect("utf-8").to_owned(),
            env: Environment::new(),
            files,
            server: None,
            _dir: dir,
        }
    }

    fn s3() -> Remote {
        let server = S3Server::start();
        Remote {
            kind: "s3",
            url: server.url("team/data"),
            env: server.env(),
            files: server.bucket_dir().join("team/data"),
            server: Some(server),
            _dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// Add `[remote.origin]` to the tracked config (as `dvx remote add` will).
    fn configure(&self, sb: &Sandbox) {
        let path = sb.path(".dvx/config.toml");
        let mut text = std::fs::read_to_string(&path).expect("config");
        text.push_str(&format!("\n[remote.origin]\nurl = \"{}\"\n", self.url));
        dvx::atomic::write(&path, text.as_bytes()).expect("write config");
    }

    fn cmd(&self, sb: &Sandbox, args: &[&str]) -> Output {
        sb.dvx()
            .envs(&self.env)
            .args(args)
            .output()
            .expect("run dvx")
    }

    /// Run dvx; assert success; stdout.
    fn ok(&self, sb: &Sandbox, args: &[&str]) -> String {
        let out = self.cmd(sb, args);
        assert!(
            out.status.success(),
            "[{}] dvx {args:?} failed:\n{}",
            self.kind,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// Run dvx's `--json` form; assert success; parse.
    fn json(&self, sb: &Sandbox, args: &[&str]) -> Value {
        let text = self.ok(sb, args);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
    }

    /// Run dvx expecting exit `code`; stderr (no panic, no backtrace).
    fn fails(&self, sb: &Sandbox, args: &[&str], code: i32) -> String {
        check_failure(self.kind, args, &self.cmd(sb, args), code)
    }

    /// Bytes of standard output of `dvx cat` (binary).
    fn cat(&self, sb: &Sandbox, args: &[&str]) -> Vec<u8> {
        let out = self.cmd(sb, args);
        assert!(
            out.status.success(),
            "[{}] dvx {args:?} failed:\n{}",
            self.kind,
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Run dvx while the remote cannot be reached: a directory remote moved away, the
    /// S3 endpoint replaced by a closed port.
    fn offline(&self, sb: &Sandbox, args: &[&str]) -> Output {
        match &self.server {
            None => {
                let aside = self.files.with_extension("away");
                std::fs::rename(&self.files, &aside).expect("move the remote away");
                let out = self.cmd(sb, args);
                std::fs::rename(&aside, &self.files).expect("move the remote back");
                out
            }
            Some(_) => sb
                .dvx()
                .envs(&self.env)
                .env("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
                .args(args)
                .output()
                .expect("run dvx"),
        }
    }

    /// Requests the S3 server answered and the bytes it sent (the directory remote has
    /// no server: `None`).
    fn served(&self) -> Option<(u64, u64)> {
        self.server.as_ref().map(S3Server::served)
    }

    /// Upload everything the branches of `sb` reach and move the remote's branches to
    /// them, as `dvx push --all` does: history first, then blobs in path order.
    fn push(&self, sb: &Sandbox) {
        let ws = Workspace::open(&sb.root).expect("open");
        let url = RemoteUrl::parse(&self.url).expect("url");
        let remote = dvx::remote::Remote::open(
            &url,
            &Settings::default(),
            &Credentials::default(),
            &self.env,
            true,
        )
        .expect("open remote");
        remote.init(Some("main")).expect("init remote");
        let store = ws.repo().store();
        let branches = ws.repo().refs().list("refs/heads/").expect("branches");
        let tips: Vec<ObjectId> = branches.iter().map(|(_, id)| *id).collect();
        let reached = reach::reachable(store, &tips, &[]).expect("reachable");
        let mut ids: Vec<ObjectId> = reached
            .commits
            .iter()
            .chain(&reached.runs)
            .chain(&reached.trees)
            .copied()
            .collect();
        for tip in &tips {
            let tree = store.read_commit(tip).expect("commit").tree;
            for file in workspace::commit_files(store, tree, &RepoPath::root()).expect("files") {
                ids.push(file.id());
            }
        }
        ids.extend(reached.blobs.iter().copied());
        ids.retain(|id| store.contains(id));
        remote.upload(store, &ids, &Silent).expect("upload");
        for (name, id) in branches {
            let name = name.strip_prefix("refs/heads/").expect("a branch");
            let current = remote.read_ref(RefKind::Branch, name).expect("read ref");
            remote
                .update_ref(RefKind::Branch, name, current.seq, Some(&id))
                .expect("move ref");
        }
    }
}

fn check_failure(kind: &str, args: &[&str], out: &Output, code: i32) -> String {
    assert_eq!(
        out.status.code(),
        Some(code),
        "[{kind}] dvx {args:?}: expected exit {code}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8(out.stderr.clone()).expect("utf-8 stderr");
    assert!(!stderr.contains("panicked"), "dvx panicked: {stderr}");
    assert!(!stderr.contains("RUST_BACKTRACE"), "backtrace: {stderr}");
    stderr
}

/// Run `test` against a directory remote, then against the S3 server.
fn each_kind(test: impl Fn(&Remote)) {
    for remote in [Remote::directory(), Remote::s3()] {
        eprintln!("remote kind: {}", remote.kind);
        test(&remote);
    }
}

/// Files of the pushed commit: 120 small incompressible files, a 9 MiB file (stored
/// alone on the remote, in frames) and a note.
fn many(i: usize) -> Vec<u8> {
    bytes(1000 + i as u64, 1000 + (i * 37) % 3000)
}

const BIG: usize = 9 << 20;

fn big() -> Vec<u8> {
    bytes(77, BIG)
}

/// A git repository with dvx, a remote configured (committed, so a clone has it), the
/// data committed and `dvx.lock` committed to git, pushed.
fn pushed(remote: &Remote) -> Sandbox {
    let sb = Sandbox::git_and_dvx();
    remote.configure(&sb);
    for i in 0..120 {
        sb.write(&format!("data/many/f{i:03}.csv"), &many(i));
    }
    sb.write("data/big.bin", &big());
    sb.write("data/notes.txt", b"notes\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "data"]);
    commit_to_git(&sb, "data v1");
    remote.push(&sb);
    sb
}

fn commit_to_git(sb: &Sandbox, message: &str) {
    sb.git(&["add", "-A"]);
    sb.git(&["commit", "-q", "-m", message]);
}

/// A `git clone` of `origin`'s work tree: dvx.lock and the remote's settings, no dvx
/// state.
fn clone_of(origin: &Sandbox) -> Sandbox {
    let sb = Sandbox::empty();
    sb.git(&["clone", "-q", origin.root.to_str().expect("utf-8"), "."]);
    sb
}

/// Strings of a JSON array.
fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().expect("string").to_owned())
        .collect()
}

/// `dvx ls --json`: whether each path's bytes are local.
fn local_paths(remote: &Remote, sb: &Sandbox) -> Vec<(String, bool)> {
    remote
        .json(sb, &["ls", "--json"])
        .as_array()
        .expect("array")
        .iter()
        .map(|f| {
            (
                f["path"].as_str().expect("path").to_owned(),
                f["local"].as_bool().expect("local"),
            )
        })
        .collect()
}

fn fetched_files(remote: &Remote, sb: &Sandbox) -> Vec<String> {
    local_paths(remote, sb)
        .into_iter()
        .filter(|(_, local)| *local)
        .map(|(p, _)| p)
        .collect()
}

#[test]
fn a_fresh_clone_pulls_a_few_files_and_moves_only_their_bytes() {
    each_kind(|r| {
        let origin = pushed(r);
        let clone = clone_of(&origin);
        // The first pull fetches the pinned commit's history and checks it out lazily.
        let out = r.ok(&clone, &["pull", "data/notes.txt"]);
        assert_contains(&out, "checked it out lazily");
        assert_eq!(clone.read("data/notes.txt"), b"notes\n");
        assert!(!clone.exists("data/big.bin") && !clone.exists("data/many"));
        assert_eq!(fetched_files(r, &clone), ["data/notes.txt"]);

        // Two files far apart in a directory of 120: their bytes, and only theirs.
        let served = r.served();
        let j = r.json(
            &clone,
            &["pull", "--json", "data/many/f003.csv", "data/many/f100.csv"],
        );
        assert_eq!(
            strings(&j["written"]),
            ["data/many/f003.csv", "data/many/f100.csv"]
        );
        assert_eq!(j["fetched"], 2);
        assert!(j["bootstrapped"].is_null(), "{j}");
        assert_eq!(clone.read("data/many/f003.csv"), many(3));
        assert_eq!(clone.read("data/many/f100.csv"), many(100));
        let wanted = (many(3).len() + many(100).len()) as u64;
        let moved = j["transfer"]["bytes"].as_u64().expect("bytes");
        let requests = j["transfer"]["requests"].as_u64().expect("requests");
        assert!(
            moved >= wanted && moved < wanted + 1024,
            "[{}] moved {moved} bytes for {wanted} bytes of files: {j}",
            r.kind
        );
        assert!(requests <= 4, "[{}] {requests} requests: {j}", r.kind);
        let dataset: u64 = (0..120).map(|i| many(i).len() as u64).sum::<u64>() + BIG as u64;
        assert!(moved * 100 < dataset, "well under 1% of the dataset");
        if let (Some((req0, bytes0)), Some((req1, bytes1))) = (served, r.served()) {
            // On the server's side of the wire, listing XML and headers included.
            assert!(req1 - req0 <= 4, "S3 requests: {}", req1 - req0);
            assert!(
                bytes1 - bytes0 < wanted + 8192,
                "S3 sent {} bytes for {wanted} bytes of files",
                bytes1 - bytes0
            );
        }
        // Recorded as fetched; their neighbours stay not fetched.
        let status = clone.status_json();
        let not_fetched = strings(&status["not_fetched"]);
        assert!(!not_fetched.contains(&"data/many/f003.csv".to_owned()));
        assert!(not_fetched.contains(&"data/many/f004.csv".to_owned()));
        assert!(not_fetched.contains(&"data/big.bin".to_owned()));
        assert_eq!(status["clean"], true, "{status}");

        // A glob, as git's pathspecs: f010 to f019.
        let j = r.json(&clone, &["pull", "--json", "data/many/f01*.csv"]);
        assert_eq!(strings(&j["written"]).len(), 10, "{j}");
        let mut expected: Vec<String> = ["data/many/f003.csv", "data/many/f100.csv"]
            .iter()
            .map(|s| (*s).to_owned())
            .chain((10..20).map(|i| format!("data/many/f{i:03}.csv")))
            .chain(["data/notes.txt".to_owned()])
            .collect();
        expected.sort();
        assert_eq!(fetched_files(r, &clone), expected);
        for i in 10..20 {
            assert_eq!(clone.read(&format!("data/many/f{i:03}.csv")), many(i));
        }
        // A second pull of the same paths has nothing to do.
        let j = r.json(&clone, &["pull", "--json", "data/many/f01*.csv"]);
        assert_eq!(j["already"], 10);
        assert_eq!(j["fetched"], 0);

        // The large object comes in frames, verified.
        r.ok(&clone, &["pull", "data/big.bin"]);
        assert!(clone.read("data/big.bin") == big(), "big.bin byte for byte");

        // fsck: absent blobs are only "not local" with a remote configured.
        let out = r.ok(&clone, &["fsck"]);
        assert_contains(&out, "no problems");
        assert_contains(&out, "not local");
        let j = r.json(&clone, &["fsck", "--json"]);
        assert_eq!(j["ok"], true);
        assert!(!j["not_local"].as_array().expect("array").is_empty());
    });
}

/// A pull writes the files it fetches as their bytes arrive, from the bytes it verified
/// (not read back from the store afterwards): they hold the right bytes and modes, one
/// blob at two paths makes both, the index records them clean, a file someone put in
/// place with the tracked bytes is only recorded, and in hard-link mode the files are
/// the store's objects.
#[test]
fn a_pull_writes_files_as_their_bytes_arrive_with_their_modes_and_records_them_clean() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    for link in ["reflink,copy", "hardlink"] {
        let r = Remote::directory();
        let origin = Sandbox::git_and_dvx();
        r.configure(&origin);
        for i in 0..40 {
            origin.write(&format!("data/many/f{i:03}.csv"), &many(i));
        }
        origin.write("data/same/a.bin", &many(7));
        origin.write("data/same/b.bin", &many(7));
        origin.write("data/run.sh", b"#!/bin/sh\necho hi\n");
        fs::set_permissions(
            origin.path("data/run.sh"),
            fs::Permissions::from_mode(0o755),
        )
        .expect("chmod");
        origin.ok(&["add", "data"]);
        origin.ok(&["commit", "-m", "data"]);
        commit_to_git(&origin, "data");
        r.push(&origin);

        let clone = clone_of(&origin);
        r.ok(&clone, &["pull", "data/many/f000.csv"]);
        if link != "reflink,copy" {
            crate::add_links::set_link(&clone, link);
        }
        // Someone put the tracked bytes where a not-fetched file goes.
        clone.write("data/many/f001.csv", &many(1));
        let j = r.json(&clone, &["pull", "--json", "data"]);
        let written = strings(&j["written"]);
        assert_eq!(written.len(), 38 + 3, "[{link}] {j}");
        assert!(
            written.windows(2).all(|w| w[0] < w[1]),
            "in path order: {j}"
        );
        assert!(!written.contains(&"data/many/f001.csv".to_owned()));
        assert_eq!(j["already"], 2, "[{link}] {j}");
        for i in 0..40 {
            assert_eq!(clone.read(&format!("data/many/f{i:03}.csv")), many(i));
        }
        assert_eq!(clone.read("data/same/a.bin"), many(7));
        assert_eq!(clone.read("data/same/b.bin"), many(7));
        let mode = |p: &str| {
            fs::metadata(clone.path(p))
                .expect("stat")
                .permissions()
                .mode()
        };
        assert_ne!(mode("data/run.sh") & 0o111, 0, "[{link}] executable kept");
        assert_eq!(mode("data/many/f002.csv") & 0o111, 0);
        let links = fs::metadata(clone.path("data/many/f002.csv"))
            .expect("stat")
            .nlink();
        if link == "hardlink" {
            assert_eq!(
                mode("data/many/f002.csv") & 0o222,
                0,
                "the read-only object"
            );
            assert!(links >= 2, "[{link}] the file is its object: {links} links");
        } else {
            assert_ne!(mode("data/many/f002.csv") & 0o200, 0, "a copy of its own");
            assert_eq!(links, 1, "[{link}] a copy of its own");
        }
        let status = clone.status_json();
        assert_eq!(status["clean"], true, "[{link}] {status}");
        assert!(strings(&status["not_fetched"]).is_empty(), "{status}");
        assert_contains(&r.ok(&clone, &["fsck"]), "no problems");
        // Nothing left to do, and nothing rewritten.
        let j = r.json(&clone, &["pull", "--json", "data"]);
        assert!(strings(&j["written"]).is_empty(), "{j}");
        assert_eq!(j["fetched"], 0, "{j}");
    }
}

#[test]
fn cat_streams_bytes_from_the_remote_without_storing_them() {
    each_kind(|r| {
        let origin = pushed(r);
        let clone = clone_of(&origin);
        r.ok(&clone, &["pull", "data/notes.txt"]);
        let objects = clone.objects();
        assert_eq!(r.cat(&clone, &["cat", "data/many/f007.csv"]), many(7));
        assert_eq!(
            r.cat(&clone, &["cat", "--rev", "HEAD", "data/many/f008.csv"]),
            many(8)
        );
        assert!(
            r.cat(&clone, &["cat", "data/big.bin"]) == big(),
            "the large object streams byte for byte"
        );
        assert_eq!(clone.objects(), objects, "nothing was stored");
        assert!(
            !clone.exists("data/many/f007.csv"),
            "nothing was checked out"
        );
        let not_fetched = strings(&clone.status_json()["not_fetched"]);
        assert!(not_fetched.iter().any(|p| p.starts_with("data/many")));
    });
}

#[test]
fn eager_checkout_and_restore_fetch_what_is_absent_and_lazy_checkout_sends_nothing() {
    each_kind(|r| {
        let origin = pushed(r);
        let one = origin.out(&["log", "--oneline", "-n", "1"])[..10].to_owned();
        for i in 0..5 {
            origin.write(
                &format!("data/many/f{i:03}.csv"),
                &bytes(5000 + i as u64, 777),
            );
        }
        origin.write("data/many/new.csv", b"new\n");
        origin.ok(&["add", "data"]);
        origin.ok(&["commit", "-m", "two"]);
        commit_to_git(&origin, "data v2");
        r.push(&origin);

        let clone = clone_of(&origin);
        r.ok(&clone, &["pull", "data/notes.txt"]);
        // Lazy: no network at all, even with the remote out of reach.
        let out = r.offline(&clone, &["checkout", "--lazy", &one]);
        check_failure(r.kind, &["checkout", "--lazy"], &out, 0);
        let status = clone.status_json();
        assert_eq!(status["clean"], true, "{status}");
        assert!(!clone.exists("data/many/f000.csv"));

        // Eager, offline: fails before touching anything.
        let state = clone.dvx_state();
        let out = r.offline(&clone, &["checkout", "main"]);
        let stderr = check_failure(r.kind, &["checkout", "main"], &out, 1);
        let (error, hint) = error_and_hint(&stderr);
        assert_contains(&error, "cannot fetch object");
        assert!(
            hint.contains("endpoint") || hint.contains("url"),
            "[{}] {hint}",
            r.kind
        );
        assert_eq!(clone.dvx_state(), state, "nothing changed");
        assert!(!clone.exists("data/many/new.csv"));

        // Eager: the changed files' bytes come from the remote, exactly those.
        let j = r.json(&clone, &["checkout", "--json", "main"]);
        assert_eq!(j["fetched"], 6, "{j}");
        assert_eq!(j["written"], 6, "{j}");
        assert_eq!(clone.read("data/many/new.csv"), b"new\n");
        assert_eq!(clone.read("data/many/f002.csv"), bytes(5002, 777));
        assert!(
            !clone.exists("data/many/f050.csv"),
            "unchanged paths stay not fetched"
        );

        // Restoring a directory fetches every absent file below it.
        let j = r.json(&clone, &["checkout", "--json", "--", "data/many"]);
        assert_eq!(j["fetched"], 115, "{j}");
        for i in 5..120 {
            assert_eq!(clone.read(&format!("data/many/f{i:03}.csv")), many(i));
        }
        let status = clone.status_json();
        assert_eq!(
            strings(&status["not_fetched"]),
            ["data/big.bin"],
            "{status}"
        );
    });
}

#[test]
fn drop_frees_the_bytes_the_remote_holds_and_refuses_what_it_lacks() {
    each_kind(|r| {
        let sb = pushed(r);
        let id = b3(&many(1));
        assert!(object_path(&sb.root, &id).exists());
        let j = r.json(&sb, &["drop", "--json", "data/many/f001.csv"]);
        assert_eq!(strings(&j["deleted"]), ["data/many/f001.csv"]);
        assert_eq!(j["freed_objects"], 1);
        assert_eq!(j["freed_bytes"], many(1).len());
        assert!(!sb.exists("data/many/f001.csv"));
        assert!(
            !object_path(&sb.root, &id).exists(),
            "the object left the store"
        );
        let status = sb.status_json();
        assert_eq!(strings(&status["not_fetched"]), ["data/many/f001.csv"]);
        assert_eq!(status["clean"], true);
        // A pull brings it back.
        r.ok(&sb, &["pull", "data/many/f001.csv"]);
        assert_eq!(sb.read("data/many/f001.csv"), many(1));

        // Two files with the same bytes: dropping one keeps the object for the other.
        sb.write("data/dup/a.txt", b"same bytes\n");
        sb.write("data/dup/b.txt", b"same bytes\n");
        sb.ok(&["add", "data/dup"]);
        sb.ok(&["commit", "-m", "dup"]);
        r.push(&sb);
        let dropped = r.ok(&sb, &["drop", "data/dup/a.txt"]);
        assert_contains(
            &dropped,
            "kept 1 object: other checked-out files still use it",
        );
        assert_eq!(sb.read("data/dup/b.txt"), b"same bytes\n");

        // Bytes only this clone has: refused, naming the file; nothing changes.
        sb.write("data/fresh.txt", b"not pushed\n");
        sb.ok(&["add", "data/fresh.txt"]);
        sb.ok(&["commit", "-m", "fresh"]);
        let state = sb.dvx_state();
        let stderr = r.fails(&sb, &["drop", "data/fresh.txt", "data/notes.txt"], 1);
        let (error, hint) = error_and_hint(&stderr);
        assert_contains(
            &error,
            "remote 'origin' does not have the bytes of 1 file(s): data/fresh.txt",
        );
        assert_contains(&hint, "push");
        assert_eq!(sb.dvx_state(), state);
        assert_eq!(sb.read("data/fresh.txt"), b"not pushed\n");
        assert_eq!(sb.read("data/notes.txt"), b"notes\n");

        // A change only the work tree holds: refused.
        sb.write("data/notes.txt", b"edited\n");
        let stderr = r.fails(&sb, &["drop", "data/notes.txt"], 1);
        let (error, _) = error_and_hint(&stderr);
        assert_contains(&error, "changes that are not staged: data/notes.txt");
        assert_eq!(sb.read("data/notes.txt"), b"edited\n");
        assert_eq!(sb.dvx_state(), state);
    });
}

#[test]
fn drop_refuses_when_the_remote_lists_bytes_it_has_lost() {
    each_kind(|r| {
        let sb = pushed(r);
        let state = sb.dvx_state();
        let refused = |path: &str, why: &str| {
            let stderr = r.fails(&sb, &["drop", path], 1);
            let (error, hint) = error_and_hint(&stderr);
            assert_contains(
                &error,
                &format!("remote 'origin' does not have the bytes of 1 file(s): {path} ({why}"),
            );
            assert_contains(&hint, "fsck --remote");
            assert_eq!(sb.dvx_state(), state, "nothing changed");
            assert!(sb.exists(path), "{path} stays");
        };
        // The pack cut short, its index intact: the index still lists the object.
        let pack = only_file(&r.files.join("packs"), ".pack", |p| {
            std::fs::metadata(p).expect("stat").len() > 100_000
        });
        let whole = std::fs::read(&pack).expect("read pack");
        dvx::atomic::write(&pack, &whole[..whole.len() / 2]).expect("cut");
        refused("data/many/f119.csv", "its pack");
        // The pack gone.
        std::fs::remove_file(&pack).expect("remove pack");
        refused("data/many/f001.csv", "its pack");
        let stderr = r.fails(&sb, &["drop", "data/many/f001.csv"], 1);
        assert_contains(&stderr, "is missing");
        // The large object cut short: its seek table no longer checks out.
        let large = only_file(&r.files.join("objects"), "", |p| {
            std::fs::metadata(p).expect("stat").len() > 1 << 20
        });
        let whole = std::fs::read(&large).expect("read large object");
        dvx::atomic::write(&large, &whole[..whole.len() - 100]).expect("cut");
        refused("data/big.bin", "");
        assert_eq!(sb.read("data/big.bin"), big());
    });
}

#[test]
fn fsck_remote_reads_everything_and_names_damage_and_absent_objects() {
    each_kind(|r| {
        let sb = pushed(r);
        let j = r.json(&sb, &["fsck", "--remote", "--json"]);
        assert_eq!(j["ok"], true, "{j}");
        assert_eq!(j["large_objects"], 1);
        assert_eq!(j["packs"], j["pack_indexes"]);
        assert!(j["packed_objects"].as_u64().expect("count") >= 122, "{j}");
        let out = r.ok(&sb, &["fsck", "--remote"]);
        assert_contains(&out, "all on the remote");

        // A commit not pushed: its commit, tree and blob are named.
        sb.write("data/later.txt", b"later\n");
        sb.ok(&["add", "data/later.txt"]);
        sb.ok(&["commit", "-m", "later"]);
        let out = r.cmd(&sb, &["fsck", "--remote", "--json"]);
        check_failure(r.kind, &["fsck", "--remote", "--json"], &out, 1);
        let j: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(j["ok"], false);
        let kinds: Vec<&str> = j["absent"]
            .as_array()
            .expect("array")
            .iter()
            .map(|a| a["kind"].as_str().expect("kind"))
            .collect();
        assert!(kinds.contains(&"commit") && kinds.contains(&"blob"), "{j}");
        assert!(j["absent"].to_string().contains(&b3(b"later\n")));
        r.push(&sb);
        r.ok(&sb, &["fsck", "--remote"]);

        // Damage: a byte of a pack, and a byte of the large object.
        let pack = only_file(&r.files.join("packs"), ".pack", |p| {
            std::fs::metadata(p).expect("stat").len() > 100_000
        });
        flip_byte(&pack, 5000);
        let large = only_file(&r.files.join("objects"), "", |_| true);
        flip_byte(&large, 1000);
        let out = r.cmd(&sb, &["fsck", "--remote"]);
        let stderr = check_failure(r.kind, &["fsck", "--remote"], &out, 1);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let pack_id = pack.file_stem().expect("stem").to_str().expect("utf-8");
        assert_contains(&stdout, &format!("damaged: pack {pack_id} is damaged"));
        assert_contains(&stdout, &format!("large object {}", b3(&big())));
        assert_contains(&stderr, "error: remote 'origin' has 2 problem(s)");
        assert_contains(&stderr, "dvx push --repair");

        // The repair the hint gives: delete what is damaged, push --repair. A plain push
        // trusts the remote's refs and sends nothing.
        std::fs::remove_file(&pack).expect("remove pack");
        std::fs::remove_file(pack.with_extension("idx")).expect("remove index");
        std::fs::remove_file(&large).expect("remove large object");
        let plain = r.json(&sb, &["push", "--json"]);
        assert_eq!(plain["transfer"]["objects"], 0, "{plain}");
        let out = r.cmd(&sb, &["fsck", "--remote"]);
        let stderr = check_failure(r.kind, &["fsck", "--remote"], &out, 1);
        assert_contains(&stderr, "problem(s)");
        let repaired = r.json(&sb, &["push", "--repair", "--json"]);
        assert!(
            repaired["transfer"]["objects"].as_u64() > Some(100),
            "{repaired}"
        );
        r.ok(&sb, &["fsck", "--remote"]);
        let clone = clone_of(&sb);
        r.ok(&clone, &["pull"]);
        assert_eq!(clone.read("data/big.bin"), big());
        assert_eq!(clone.read("data/many/f050.csv"), many(50));
    });
}

#[test]
fn fsck_remote_checks_the_remotes_own_refs() {
    each_kind(|r| {
        let sb = pushed(r);
        r.ok(&sb, &["fsck", "--remote"]);
        let ref_dir = r.files.join("refs/heads/main");
        let seq = only_file(&ref_dir, "", |_| true);
        let good = std::fs::read(&seq).expect("read ref");
        // A ref naming a commit the remote does not hold.
        dvx::atomic::write(&seq, format!("{}\n", b3(b"no such commit")).as_bytes())
            .expect("write ref");
        let out = r.cmd(&sb, &["fsck", "--remote"]);
        let stderr = check_failure(r.kind, &["fsck", "--remote"], &out, 1);
        assert_contains(
            &String::from_utf8_lossy(&out.stdout),
            "damaged: branch main points at commit",
        );
        assert_contains(&stderr, "has 1 problem(s)");
        // A ref file that does not read.
        dvx::atomic::write(&seq, b"garbage\n").expect("write ref");
        let out = r.cmd(&sb, &["fsck", "--remote"]);
        check_failure(r.kind, &["fsck", "--remote"], &out, 1);
        assert_contains(&String::from_utf8_lossy(&out.stdout), "is damaged");
        dvx::atomic::write(&seq, &good).expect("restore ref");
        r.ok(&sb, &["fsck", "--remote"]);
        // A damaged pack index is damage, and its pack is not taken for one left by an
        // interrupted upload.
        let index = only_file(&r.files.join("packs"), ".idx", |p| {
            std::fs::metadata(p).expect("stat").len() > 1000
        });
        flip_byte(&index, 100);
        let out = r.cmd(&sb, &["fsck", "--remote", "--json"]);
        check_failure(r.kind, &["fsck", "--remote", "--json"], &out, 1);
        let j: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(j["leftover_packs"], 0, "{j}");
        assert!(!j["damaged"].as_array().expect("damaged").is_empty(), "{j}");
    });
}

/// The only file below `dir` whose name ends with `suffix` and that `pick` accepts.
fn only_file(dir: &Path, suffix: &str, pick: impl Fn(&Path) -> bool) -> PathBuf {
    let found: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| p.to_string_lossy().ends_with(suffix) && pick(p))
        .collect();
    assert_eq!(found.len(), 1, "one file in {}: {found:?}", dir.display());
    found.into_iter().next().expect("one")
}

fn flip_byte(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).expect("read");
    bytes[at] ^= 0xff;
    let mut perms = std::fs::metadata(path).expect("stat").permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(path, perms).expect("chmod");
    dvx::atomic::write(path, &bytes).expect("write");
}

#[test]
fn a_damaged_remote_object_is_refused_by_name_and_nothing_bad_is_stored() {
    each_kind(|r| {
        let origin = pushed(r);
        let clone = clone_of(&origin);
        r.ok(&clone, &["pull", "data/notes.txt"]);
        let state = clone.dvx_state();
        let pack = only_file(&r.files.join("packs"), ".pack", |p| {
            std::fs::metadata(p).expect("stat").len() > 100_000
        });
        // Inside f050's frame, where the pack's index says it lies.
        let pack_id: ObjectId = pack
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("named by its id")
            .parse()
            .expect("an id");
        let index_bytes = std::fs::read(pack.with_extension("idx")).expect("read index");
        let index = PackIndex::decode(&pack_id, &index_bytes).expect("index");
        let id = ObjectId::of(&many(50));
        let entry = index.lookup(&id).expect("f050 is packed");
        flip_byte(&pack, entry.offset as usize + 32 + 200);
        let stderr = r.fails(&clone, &["pull", "data/many/f050.csv"], 1);
        let (error, hint) = error_and_hint(&stderr);
        assert_contains(&error, &id.to_hex());
        assert_contains(&hint, "damaged");
        assert_eq!(clone.dvx_state(), state, "nothing was stored or recorded");
        assert!(!clone.exists("data/many/f050.csv"));
        assert!(
            std::fs::read_dir(clone.path(".dvx/tmp"))
                .expect("tmp")
                .next()
                .is_none(),
            "no temp file left"
        );
    });
}

/// Files of the local packs' directory whose names end with `suffix`.
fn local_packs(sb: &Sandbox, suffix: &str) -> Vec<PathBuf> {
    match std::fs::read_dir(sb.path(".dvx/objects/packs")) {
        Ok(rd) => rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().ends_with(suffix))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The local pack holding `bytes`, and where they start in it.
fn packed_at(sb: &Sandbox, bytes: &[u8]) -> (PathBuf, usize) {
    local_packs(sb, ".pack")
        .into_iter()
        .find_map(|pack| {
            let held = std::fs::read(&pack).expect("read pack");
            let at = held.windows(bytes.len()).position(|w| w == bytes)?;
            Some((pack, at))
        })
        .expect("a local pack holds the bytes")
}

#[test]
fn a_pull_of_many_small_files_keeps_them_in_a_local_pack_every_command_reads() {
    each_kind(|r| {
        let origin = pushed(r);
        let clone = clone_of(&origin);
        r.ok(&clone, &["pull"]);
        assert!(
            !local_packs(&clone, ".idx").is_empty(),
            "the 120 small files came in as a local pack"
        );
        assert!(
            !object_path(&clone.root, &b3(&many(7))).exists(),
            "packed, not a file of its own"
        );
        assert!(
            object_path(&clone.root, &b3(&big())).exists(),
            "a large object is stored alone"
        );
        let head = &r.json(&clone, &["log", "--json", "-n", "1"])[0];
        for history in ["id", "tree"] {
            let id = head[history].as_str().expect("an id");
            assert!(
                object_path(&clone.root, id).exists(),
                "commits and trees stay loose ({history})"
            );
        }
        for i in [0, 7, 119] {
            assert_eq!(clone.read(&format!("data/many/f{i:03}.csv")), many(i));
        }
        assert_eq!(clone.status_json()["clean"], true);
        assert_contains(&r.ok(&clone, &["fsck"]), "no problems");

        // Read back out of the pack: `cat`, and a checkout of a deleted file.
        assert_eq!(r.cat(&clone, &["cat", "data/many/f007.csv"]), many(7));
        std::fs::remove_file(clone.path("data/many/f007.csv")).expect("rm");
        r.ok(&clone, &["checkout", "--", "data/many/f007.csv"]);
        assert_eq!(clone.read("data/many/f007.csv"), many(7));

        // `drop` frees packed bytes: the pack is rewritten without them, and the rest
        // still reads; a pull brings them back.
        let j = r.json(&clone, &["drop", "--json", "data/many/f008.csv"]);
        assert_eq!(j["freed_objects"], 1);
        assert_eq!(j["freed_bytes"], many(8).len());
        assert!(!clone.exists("data/many/f008.csv"));
        assert!(
            local_packs(&clone, ".pack")
                .iter()
                .all(|p| !std::fs::read(p)
                    .expect("read")
                    .windows(many(8).len())
                    .any(|w| w == many(8))),
            "no pack holds the dropped bytes"
        );
        assert_eq!(r.cat(&clone, &["cat", "data/many/f009.csv"]), many(9));
        r.ok(&clone, &["pull", "data/many/f008.csv"]);
        assert_eq!(clone.read("data/many/f008.csv"), many(8));
        assert_contains(&r.ok(&clone, &["fsck"]), "no problems");

        // A checkout that hard-links files gives a packed object its own file first.
        clone.write(".dvx/config.local.toml", b"[core]\nlink = \"hardlink\"\n");
        std::fs::remove_file(clone.path("data/many/f010.csv")).expect("rm");
        r.ok(&clone, &["checkout", "--", "data/many/f010.csv"]);
        assert_eq!(clone.read("data/many/f010.csv"), many(10));
        let object = object_path(&clone.root, &b3(&many(10)));
        assert!(object.exists(), "stored loose to be linked");
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            std::fs::metadata(clone.path("data/many/f010.csv"))
                .expect("stat")
                .ino(),
            std::fs::metadata(&object).expect("stat").ino(),
            "the file is a hard link to the object"
        );
        std::fs::remove_file(clone.path(".dvx/config.local.toml")).expect("rm");

        // Damaged packed bytes are found by fsck, named, and never served.
        let (pack, at) = packed_at(&clone, &many(11));
        flip_byte(&pack, at + 100);
        let fsck = r.cmd(&clone, &["fsck"]);
        assert_eq!(fsck.status.code(), Some(1), "fsck finds damage");
        let said = String::from_utf8_lossy(&fsck.stdout).into_owned()
            + &String::from_utf8_lossy(&fsck.stderr);
        assert_contains(&said, &b3(&many(11)));
        let cat = r.cmd(&clone, &["cat", "data/many/f011.csv"]);
        assert_eq!(cat.status.code(), Some(1));
        assert!(cat.stdout.is_empty(), "no damaged byte is served");
    });
}

#[test]
fn gc_deletes_a_local_pack_nothing_reaches_and_keeps_the_rest() {
    let r = Remote::directory();
    let origin = pushed(&r);
    // A branch git never pins, with 40 small files of its own.
    origin.ok(&["checkout", "-b", "extra"]);
    let extra = |i: usize| bytes(5000 + i as u64, 400);
    for i in 0..40 {
        origin.write(&format!("data/extra/e{i:02}.txt"), &extra(i));
    }
    origin.ok(&["add", "data/extra"]);
    origin.ok(&["commit", "-m", "extra"]);
    r.push(&origin);

    let clone = clone_of(&origin);
    r.ok(&clone, &["pull"]);
    let main_packs = local_packs(&clone, ".idx");
    r.ok(&clone, &["checkout", "origin/extra"]);
    assert_eq!(clone.read("data/extra/e05.txt"), extra(5));
    let extra_packs: Vec<PathBuf> = local_packs(&clone, ".idx")
        .into_iter()
        .filter(|p| !main_packs.contains(p))
        .collect();
    assert_eq!(
        extra_packs.len(),
        1,
        "the branch's files came as one local pack"
    );
    r.ok(&clone, &["checkout", "main"]);
    // Nothing reaches the branch's files once the remote's refs are gone and the
    // reflogs have expired.
    r.ok(&clone, &["remote", "remove", "origin"]);
    let later = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 400 * 24 * 3600;
    let report: Value =
        serde_json::from_str(&clone.out_dated(&format!("{later} +0000"), &["gc", "--json"]))
            .expect("gc --json");
    let removed = strings(&report["removed"]);
    assert!(removed.contains(&b3(&extra(5))), "{report}");
    assert!(!removed.contains(&b3(&many(5))), "{report}");
    assert!(!extra_packs[0].exists(), "the emptied pack is gone");
    assert!(main_packs.iter().all(|p| p.exists()), "the others stay");
    assert_eq!(clone.read("data/many/f005.csv"), many(5));
    assert_contains(&clone.out(&["fsck"]), "no problems");
    std::fs::remove_file(clone.path("data/many/f005.csv")).expect("rm");
    clone.ok(&["checkout", "--", "data/many/f005.csv"]);
    assert_eq!(clone.read("data/many/f005.csv"), many(5));
}

#[test]
fn a_clone_that_hard_links_its_files_keeps_downloads_loose() {
    let r = Remote::directory();
    let origin = pushed(&r);
    let clone = clone_of(&origin);
    clone.write(".dvx/config.local.toml", b"[core]\nlink = \"hardlink\"\n");
    r.ok(&clone, &["pull"]);
    assert!(local_packs(&clone, ".idx").is_empty(), "no local pack");
    assert!(object_path(&clone.root, &b3(&many(7))).exists());
    assert_eq!(clone.read("data/many/f007.csv"), many(7));
    assert_contains(&r.ok(&clone, &["fsck"]), "no problems");
}

/// Raw inputs, other data the run never reads, and a run that made `models/m.txt`.
fn with_a_run(remote: &Remote) -> Sandbox {
    let sb = Sandbox::git_and_dvx();
    remote.configure(&sb);
    sb.write("data/raw/a.csv", b"1,2\n");
    sb.write("data/raw/b.csv", b"3,4\n");
    for i in 0..30 {
        sb.write(&format!("data/other/o{i:02}.bin"), &bytes(300 + i, 2000));
    }
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "raw data"]);
    sb.ok(&[
        "run",
        "-d",
        "data/raw",
        "-o",
        "models/m.txt",
        "--",
        "sh",
        "-c",
        "mkdir -p models && cat data/raw/a.csv data/raw/b.csv > models/m.txt",
    ]);
    commit_to_git(&sb, "a run");
    remote.push(&sb);
    sb
}

#[test]
fn reproduce_and_pull_for_fetch_only_the_inputs_of_the_run() {
    each_kind(|r| {
        let origin = with_a_run(r);
        let clone = clone_of(&origin);
        r.ok(&clone, &["pull", "models/m.txt"]);
        assert_eq!(clone.read("models/m.txt"), b"1,2\n3,4\n");
        let objects = clone.objects().len();
        let into = tempfile::tempdir().expect("tempdir");
        let into_dir = into.path().to_str().expect("utf-8");
        let j = r.json(
            &clone,
            &["reproduce", "models/m.txt", "--into", into_dir, "--json"],
        );
        assert_eq!(j["inputs"], 2);
        assert_eq!(j["fetched"], 2, "exactly the run's inputs: {j}");
        assert_eq!(clone.objects().len(), objects + 2);
        assert_eq!(
            std::fs::read(into.path().join("data/raw/b.csv")).expect("b"),
            b"3,4\n"
        );
        assert!(
            local_paths(r, &clone)
                .iter()
                .filter(|(p, _)| p.starts_with("data/other"))
                .all(|(_, local)| !local),
            "nothing else came"
        );

        // pull --for in another clone: the inputs come into its work tree.
        let other = clone_of(&origin);
        let j = r.json(&other, &["pull", "--for", "models/m.txt", "--json"]);
        assert_eq!(j["for"]["inputs"], 2, "{j}");
        assert_eq!(j["fetched"], 0, "ensured local before writing: {j}");
        assert_eq!(
            strings(&j["written"]),
            ["data/raw/a.csv", "data/raw/b.csv"],
            "{j}"
        );
        assert!(strings(&j["for"]["other_version"]).is_empty());
        assert_eq!(other.read("data/raw/a.csv"), b"1,2\n");
        assert!(
            !other.exists("models/m.txt"),
            "the file itself is not an input"
        );
        assert_eq!(
            fetched_files(r, &other),
            ["data/raw/a.csv", "data/raw/b.csv"]
        );
    });
}

#[test]
fn without_a_remote_commands_that_need_one_say_how_to_configure_it() {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/a.txt", b"a\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "a"]);
    let state = sb.dvx_state();
    for args in [
        &["pull", "data/a.txt"][..],
        &["pull"],
        &["drop", "data/a.txt"],
        &["fsck", "--remote"],
    ] {
        let (error, hint) = error_and_hint(&sb.fails(args, 1));
        assert_eq!(error, "error: no remote is configured", "{args:?}");
        assert_contains(&hint, "dvx remote add <name> <url>");
    }
    let (error, hint) = error_and_hint(&sb.fails(&["pull", "-r", "nope", "data/a.txt"], 1));
    assert_eq!(
        error,
        "error: no remote named 'nope' is configured (none is)"
    );
    assert_contains(&hint, "dvx remote add");
    assert_eq!(sb.dvx_state(), state);
    // Usage: --lazy is for the pull without paths; --for takes no other paths.
    let (error, _) = error_and_hint(&sb.fails(&["pull", "--lazy", "data/a.txt"], 2));
    assert_contains(&error, "--lazy is for a pull without paths");
    let (error, _) = error_and_hint(&sb.fails(&["pull", "--for", "m.txt", "data/a.txt"], 2));
    assert_contains(&error, "--for takes no other paths");
    assert_eq!(sb.dvx_state(), state);
    // Plain fsck and checkout behave as without remotes.
    sb.ok(&["fsck"]);
    // Bytes that are not local, and no remote to fetch them from: the hint says so.
    let object = object_path(&sb.root, &b3(b"a\n"));
    std::fs::remove_file(&object).expect("remove the object");
    let (error, hint) = error_and_hint(&sb.fails(&["cat", "data/a.txt"], 1));
    assert_contains(&error, "the bytes of 'data/a.txt'");
    assert_contains(&hint, "no remote is configured to fetch them from");
}

#[test]
fn an_unusable_remote_fails_with_one_line_and_a_hint_and_changes_nothing() {
    // A directory remote that is not there.
    let r = Remote::directory();
    let origin = pushed(&r);
    let clone = clone_of(&origin);
    r.ok(&clone, &["status"]);
    let state = clone.dvx_state();
    std::fs::rename(&r.files, r.files.with_extension("gone")).expect("move away");
    let (error, hint) = error_and_hint(&r.fails(&clone, &["pull", "data/notes.txt"], 1));
    assert_contains(&error, "does not exist");
    assert_contains(&hint, "url");
    assert_eq!(clone.dvx_state(), state);
    std::fs::rename(r.files.with_extension("gone"), &r.files).expect("move back");

    // A remote written by a newer dvx.
    let manifest = r.files.join("dvx-remote.toml");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    dvx::atomic::write(
        &manifest,
        text.replace("format = 1", "format = 2").as_bytes(),
    )
    .expect("write");
    let (error, hint) = error_and_hint(&r.fails(&clone, &["pull", "data/notes.txt"], 1));
    assert_contains(&error, "has format 2");
    assert_contains(&hint, "upgrade dvx");
    assert_eq!(clone.dvx_state(), state);
    dvx::atomic::write(&manifest, text.as_bytes()).expect("write");

    // Wrong credentials for S3.
    let s3 = Remote::s3();
    let origin = pushed(&s3);
    let clone = clone_of(&origin);
    s3.ok(&clone, &["status"]);
    let state = clone.dvx_state();
    let server = s3.server.as_ref().expect("server");
    let out = clone
        .dvx()
        .envs(server.env_with_secret("wrong-secret"))
        .args(["pull", "data/notes.txt"])
        .output()
        .expect("run dvx");
    let stderr = check_failure("s3", &["pull"], &out, 1);
    let (error, hint) = error_and_hint(&stderr);
    assert_contains(&error, "denied access");
    assert!(!stderr.contains("wrong-secret"), "the secret never shows");
    assert_contains(&hint, "credentials");
    assert_eq!(clone.dvx_state(), state);
}

#[test]
fn a_remote_source_answers_has_locally_and_fetches_reads_and_reports_through_the_remote() {
    use dvx::store::ObjectSource;
    use std::io::Read;
    each_kind(|r| {
        let origin = pushed(r);
        let clone = clone_of(&origin);
        r.ok(&clone, &["pull", "data/notes.txt"]);
        let ws = Workspace::open(&clone.root).expect("open");
        let source = dvx::remote::source::open(&ws, &r.env, None).expect("source");
        assert_eq!(source.name(), "origin");
        assert_eq!(source.fetches_from(), Some(r.url.as_str()));
        let five = ObjectId::of(&many(5));
        let big_id = ObjectId::of(&big());
        // `has` is the local store's answer: nothing is sent, not even the manifest.
        assert!(!source.has(&five) && !source.has(&big_id));
        assert!(source.has(&ObjectId::of(b"notes\n")));
        assert_eq!(source.stats().requests, 0, "[{}] has sent nothing", r.kind);

        // Reads come from the remote and are not stored.
        assert_eq!(
            source.read_range(&five, 10, 20).expect("range"),
            &many(5)[10..30]
        );
        let mut whole = Vec::new();
        source
            .open(&big_id)
            .expect("open")
            .read_to_end(&mut whole)
            .expect("read");
        assert!(
            whole == big(),
            "[{}] the large object streams whole",
            r.kind
        );
        assert!(
            source
                .read_range(&big_id, (5 << 20) - 3, 6)
                .expect("across frames")
                == big()[(5 << 20) - 3..(5 << 20) + 3]
        );
        assert!(!ws.repo().store().contains(&five) && !ws.repo().store().contains(&big_id));

        // A fetch brings what the remote has and names what it lacks.
        let nowhere = ObjectId::of(b"never pushed");
        let fetched = source
            .fetch(&[five, nowhere, five], &Silent)
            .expect("fetch");
        assert_eq!(fetched.fetched, vec![five]);
        assert_eq!(fetched.unavailable, vec![nowhere]);
        assert_eq!(fetched.bytes, many(5).len() as u64);
        assert!(ws.repo().store().contains(&five));
        let again = source.fetch(&[five], &Silent).expect("again");
        assert_eq!((again.already_local, again.fetched.len()), (1, 0));
        assert!(source.stats().requests > 0 && source.stats().objects >= 3);

        // A named remote that is not configured is refused, naming it.
        let missing = dvx::remote::source::open(&ws, &r.env, Some("nope")).expect_err("unknown");
        assert!(
            matches!(missing, dvx::remote::Error::UnknownRemote { ref name, .. } if name == "nope")
        );
    });
}
