//! A tour of dvx's main job, run for real in a temporary directory:
//!
//! `cargo run --release --example tour`
//!
//! It builds dvx, makes a git repository with some training code, versions a
//! generated dataset with dvx, pins each data version to a git commit, lets git hooks
//! bring the right data back on `git checkout` and `git merge`, shares the store with a
//! second git worktree, shares the data through a directory remote (a teammate's `git
//! clone` + `dvx pull`, and a lazy `dvx clone` without git), and checks the repository. Every command is printed with its
//! output, and every claim the tour makes is checked: it exits non-zero if one fails.

// The tour sets up its sandbox with plain `std::fs`; dvx's own writes go through
// `dvx::atomic`.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

#[path = "../src/cli/mod.rs"]
mod cli;

struct Tour {
    dvx: PathBuf,
    root: PathBuf,
}

impl Tour {
    /// Run a command in `dir`, print it and its output, and stop the tour if it fails.
    fn run_in(&self, dir: &Path, program: &Path, args: &[&str]) -> String {
        let name = program.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        println!("$ {name} {}", args.join(" "));
        let out = Command::new(program)
            .args(args)
            .current_dir(dir)
            .env("DVX_AUTHOR", "Tour Guide <guide@example.com>")
            .env("GIT_AUTHOR_NAME", "Tour Guide")
            .env("GIT_AUTHOR_EMAIL", "guide@example.com")
            .env("GIT_COMMITTER_NAME", "Tour Guide")
            .env("GIT_COMMITTER_EMAIL", "guide@example.com")
            .output()
            .unwrap_or_else(|e| fail(&format!("cannot run {name}: {e}")));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        for line in stdout
            .lines()
            .chain(String::from_utf8_lossy(&out.stderr).lines())
        {
            println!("    {line}");
        }
        if !out.status.success() {
            fail(&format!("`{name} {}` failed", args.join(" ")));
        }
        stdout
    }

    fn dvx(&self, args: &[&str]) -> String {
        self.run_in(&self.root, &self.dvx, args)
    }

    fn git(&self, args: &[&str]) -> String {
        self.run_in(&self.root, Path::new("git"), args)
    }

    fn write(&self, rel: &str, bytes: &[u8]) {
        let path = self.root.join(rel);
        std::fs::create_dir_all(path.parent().expect("files have a parent")).expect("mkdir");
        dvx::atomic::write(&path, bytes).expect("write a tour file");
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root.join(rel))
            .unwrap_or_else(|e| fail(&format!("cannot read {rel}: {e}")))
    }

    fn check(&self, what: &str, ok: bool) {
        if ok {
            println!("  ok: {what}\n");
        } else {
            fail(what);
        }
    }
}

fn fail(what: &str) -> ! {
    eprintln!("tour failed: {what}");
    std::process::exit(1);
}

fn section(title: &str) {
    println!("\n== {title}\n");
}

/// The tour carries dvx's command line inside it (the same source files the `dvx`
/// binary is built from), so `cargo run --example tour` compiles everything once instead
/// of building the binary a second time with other features. It puts a copy of itself
/// named `dvx` in `bin` and runs that copy, as a user runs dvx; git hooks run it too.
fn install_dvx(bin: &Path) -> PathBuf {
    let exe = std::env::current_exe()
        .unwrap_or_else(|e| fail(&format!("cannot find the tour's own path: {e}")));
    std::fs::create_dir_all(bin)
        .unwrap_or_else(|e| fail(&format!("cannot create {}: {e}", bin.display())));
    let dvx = bin.join("dvx");
    std::fs::copy(&exe, &dvx)
        .unwrap_or_else(|e| fail(&format!("cannot copy the tour to {}: {e}", dvx.display())));
    dvx
}

/// Whether this process is the tour's copy of dvx (see [`install_dvx`]).
fn invoked_as_dvx() -> bool {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.file_name().map(|n| n == "dvx"))
        .unwrap_or(false)
}

/// A small labelled image dataset: deterministic bytes, 200 samples in 4 classes.
fn labels(version: u32) -> String {
    let mut text = String::from("file,label\n");
    for i in 0..200u32 {
        let label = if version > 1 && i % 10 == 0 {
            "cat"
        } else {
            ["cat", "dog", "bird", "fish"][(i % 4) as usize]
        };
        text.push_str(&format!("img{i:03}.bin,{label}\n"));
    }
    text
}

fn sample(i: u32) -> Vec<u8> {
    (0..4096u32)
        .map(|j| (i.wrapping_mul(2654435761).wrapping_add(j * 40503) >> 13) as u8)
        .collect()
}

fn main() -> ExitCode {
    if invoked_as_dvx() {
        return cli::main();
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let dvx = install_dvx(&dir.path().join("bin"));
    let root = std::fs::canonicalize(dir.path())
        .expect("canonical path")
        .join("project");
    std::fs::create_dir_all(&root).expect("mkdir");
    let t = Tour { dvx, root };

    section("A git repository with training code");
    t.write("train.py", b"# trains a classifier on data/\n");
    t.git(&["init", "-q", "-b", "main"]);
    t.git(&["add", "train.py"]);
    t.git(&["commit", "-q", "-m", "training code"]);

    section("dvx lives inside it");
    t.dvx(&["init"]);
    t.git(&["add", ".dvx/config.toml", ".dvx/.gitignore"]);
    t.git(&["commit", "-q", "-m", "use dvx for data"]);
    t.dvx(&["install-hooks"]);

    section("Version a dataset: dvx add, dvx commit, and pin it in git");
    for i in 0..200 {
        t.write(&format!("data/images/img{i:03}.bin"), &sample(i));
    }
    t.write("data/labels.csv", labels(1).as_bytes());
    t.dvx(&["add", "data"]);
    t.dvx(&["status"]);
    t.dvx(&["commit", "-m", "200 images, first labels", "--git-add"]);
    t.git(&["commit", "-q", "-m", "train on labels v1"]);
    t.git(&["tag", "v1"]);
    t.dvx(&["tag", "v1"]);
    let status = t.git(&["status", "--porcelain"]);
    t.check(
        "git never sees the data bytes (they are in .gitignore)",
        !status.contains("data/"),
    );

    section("Relabel, commit a second version");
    t.write("data/labels.csv", labels(2).as_bytes());
    t.dvx(&["status"]);
    t.dvx(&["diff", "--content"]);
    t.dvx(&["add", "data"]);
    t.dvx(&[
        "commit",
        "-m",
        "relabel: every tenth image is a cat",
        "--git-add",
    ]);
    t.git(&["commit", "-q", "-m", "train on labels v2"]);
    t.dvx(&["log", "--oneline"]);

    section("git checkout brings the data back (the hooks follow dvx.lock)");
    t.git(&["checkout", "-q", "v1"]);
    t.check(
        "the labels are version 1 again",
        t.read("data/labels.csv") == labels(1),
    );
    t.git(&["checkout", "-q", "main"]);
    t.check(
        "and version 2 on main",
        t.read("data/labels.csv") == labels(2),
    );

    section("Branches for data, and git merge merges the pinned data too");
    t.git(&["checkout", "-q", "-b", "more-fish"]);
    t.check(
        "dvx follows git onto the new branch",
        t.dvx(&["status", "--json"])
            .contains("\"branch\": \"more-fish\""),
    );
    t.write("data/images/fish-extra.bin", &sample(9999));
    t.dvx(&["add", "data"]);
    t.dvx(&["commit", "-m", "one more fish", "--git-add"]);
    t.git(&["commit", "-q", "-m", "more fish"]);
    t.git(&["checkout", "-q", "main"]);
    t.check(
        "main does not have the extra fish",
        !t.root.join("data/images/fish-extra.bin").exists(),
    );
    t.write("data/README.txt", b"images are 4 KiB each\n");
    t.dvx(&["add", "data"]);
    t.dvx(&["commit", "-m", "describe the data", "--git-add"]);
    t.git(&["commit", "-q", "-m", "document data"]);
    t.git(&["merge", "-q", "--no-edit", "more-fish"]);
    t.check(
        "after git merge both changes are there",
        t.root.join("data/images/fish-extra.bin").exists()
            && t.root.join("data/README.txt").exists(),
    );
    t.dvx(&["log", "--oneline", "-n", "4"]);

    section("A second worktree checks out v1's data from the same store, lazily");
    let other = t.root.parent().expect("parent").join("experiment");
    t.git(&[
        "worktree",
        "add",
        "-q",
        other.to_str().expect("utf-8 path"),
        "v1",
    ]);
    t.run_in(&other, &t.dvx, &["checkout", "--git", "HEAD", "--lazy"]);
    let v1 = std::fs::read_to_string(other.join("data/labels.csv")).unwrap_or_default();
    t.check(
        "the worktree has v1's labels without copying the store",
        v1 == labels(1),
    );

    section("Share it: a remote, dvx push, and a teammate's git clone + dvx pull");
    let parent = t.root.parent().expect("parent").to_path_buf();
    let remote = parent.join("shared-remote");
    let remote = remote.to_str().expect("utf-8 path");
    t.dvx(&["remote", "add", "origin", remote]);
    t.git(&["add", ".dvx/config.toml"]);
    t.git(&["commit", "-q", "-m", "share the data through a remote"]);
    t.dvx(&["push"]);
    let upstream = parent.join("upstream.git");
    let upstream = upstream.to_str().expect("utf-8 path");
    t.git(&["init", "-q", "--bare", "-b", "main", upstream]);
    t.git(&["remote", "add", "up", upstream]);
    t.git(&["push", "-q", "up", "main"]);
    t.run_in(
        &parent,
        Path::new("git"),
        &["clone", "-q", upstream, "teammate"],
    );
    let teammate = parent.join("teammate");
    t.run_in(&teammate, &t.dvx, &["pull"]);
    let theirs = std::fs::read_to_string(teammate.join("data/labels.csv")).unwrap_or_default();
    t.check(
        "the teammate has the data the code pins, fetched from the remote",
        theirs == labels(2) && teammate.join("data/images/fish-extra.bin").exists(),
    );

    section("Without git: dvx clone --lazy, then dvx pull brings the bytes");
    t.run_in(&parent, &t.dvx, &["clone", "--lazy", remote, "lazy-copy"]);
    let lazy = parent.join("lazy-copy");
    t.run_in(&lazy, &t.dvx, &["status"]);
    t.check(
        "a lazy clone has the history and no file bytes",
        !lazy.join("data/labels.csv").exists(),
    );
    t.run_in(&lazy, &t.dvx, &["pull"]);
    t.check(
        "after dvx pull every file is there",
        std::fs::read_to_string(lazy.join("data/labels.csv")).unwrap_or_default() == labels(2),
    );

    section("What changed, and a clean bill of health");
    t.dvx(&["diff", "--stat", "v1", "HEAD"]);
    t.dvx(&["show", "--json", "HEAD~1"]);
    t.dvx(&["fsck"]);
    t.dvx(&["gc", "--dry-run"]);
    println!(
        "\nThe tour is over: every step above ran for real in {}.",
        t.root.display()
    );
    ExitCode::SUCCESS
}
