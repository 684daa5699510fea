//! A tour of dvx's main job, run for real in a temporary directory:
//!
//! `cargo run --release --example tour`
//!
//! It builds dvx and tells its main story end to end: a git repository with a tiny,
//! deterministic training script; a generated dataset versioned with dvx and pinned to
//! git commits; a training run recorded with `dvx run`; a data change and a retrain;
//! `git checkout` and `git merge` bringing the right data along; a push to a directory
//! remote; a fresh clone on "another machine" that checks out lazily, traces the first
//! model back to its data and code, and reproduces its training, fetching only the
//! files that training read. Every command is printed with its output, and every claim
//! the tour makes is checked: it exits non-zero if one fails.

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

/// The labels: 400 images in 4 classes; version 2 relabels every tenth image a cat.
fn labels(version: u32) -> String {
    let mut text = String::from("file,label\n");
    for i in 0..IMAGES {
        let label = if version > 1 && i % 10 == 0 {
            "cat"
        } else {
            ["cat", "dog", "bird", "fish"][(i % 4) as usize]
        };
        text.push_str(&format!("{},{label}\n", image(i)));
    }
    text
}

/// 400 images: the first 100 are the training split, the rest held out for evaluation.
const IMAGES: u32 = 400;
const TRAINING_IMAGES: u32 = 100;

/// Where image `i` lives in the dataset.
fn image(i: u32) -> String {
    let split = if i < TRAINING_IMAGES {
        "train"
    } else {
        "holdout"
    };
    format!("data/{split}/img{i:03}.bin")
}

/// A deterministic 4 KiB "image".
fn sample(i: u32) -> Vec<u8> {
    (0..4096u32)
        .map(|j| (i.wrapping_mul(2654435761).wrapping_add(j * 40503) >> 13) as u8)
        .collect()
}

/// The "training": POSIX shell only, deterministic, and it reads the training split
/// and the labels, never the held-out images. The "model" is a checksum of what it saw.
const TRAIN_SH: &str = r#"#!/bin/sh
# Train a (very small) classifier on data/train and data/labels.csv.
set -e
mkdir -p models
{
    echo "seen:"
    cksum data/train/*.bin
    echo "classes:"
    grep train/ data/labels.csv | cut -d, -f2 | sort | uniq -c | tr -s ' '
} > models/classifier.txt
echo "trained on $(ls data/train | wc -l | tr -d ' ') images"
"#;

/// How many objects the store of the repository at `repo` holds, loose or packed: what
/// `dvx fsck` checked (a pull keeps many small files as one local pack, so the store's
/// files are no count of its objects).
fn stored_objects(t: &Tour, repo: &Path) -> usize {
    t.run_in(repo, &t.dvx, &["fsck"])
        .lines()
        .find_map(|line| {
            line.strip_prefix("checked ")?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| fail("`dvx fsck` did not say how many objects it checked"))
}

fn main() -> ExitCode {
    if invoked_as_dvx() {
        return cli::main();
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let dvx = install_dvx(&dir.path().join("bin"));
    let parent = std::fs::canonicalize(dir.path()).expect("canonical path");
    let root = parent.join("project");
    std::fs::create_dir_all(&root).expect("mkdir");
    let t = Tour { dvx, root };

    section("A git repository with training code");
    t.write("train.sh", TRAIN_SH.as_bytes());
    t.git(&["init", "-q", "-b", "main"]);
    t.git(&["add", "train.sh"]);
    t.git(&["commit", "-q", "-m", "training code"]);

    section("dvx lives inside it");
    t.dvx(&["init"]);
    t.git(&["add", ".dvx/config.toml", ".dvx/.gitignore"]);
    t.git(&["commit", "-q", "-m", "use dvx for data"]);
    t.dvx(&["install-hooks"]);

    section("Version a dataset: dvx add, dvx commit, and pin it in git");
    for i in 0..IMAGES {
        t.write(&image(i), &sample(i));
    }
    t.write("data/labels.csv", labels(1).as_bytes());
    t.dvx(&["add", "data"]);
    t.dvx(&["status"]);
    t.dvx(&["commit", "-m", "400 images, first labels", "--git-add"]);
    t.git(&["commit", "-q", "-m", "data v1"]);
    let status = t.git(&["status", "--porcelain"]);
    t.check(
        "git never sees the data bytes (they are in .gitignore)",
        !status.contains("data/"),
    );

    section("Train, and record what the model was made from");
    t.dvx(&[
        "run",
        "-d",
        "data/train",
        "-d",
        "data/labels.csv",
        "-d",
        "train.sh",
        "-o",
        "models",
        "-m",
        "train on labels v1",
        "--",
        "sh",
        "train.sh",
    ]);
    let model_v1 = t.read("models/classifier.txt");
    t.git(&["add", "dvx.lock", ".gitignore"]);
    t.git(&["commit", "-q", "-m", "model v1"]);
    t.git(&["tag", "v1"]);
    t.dvx(&["tag", "v1"]);

    section("Relabel, and retrain on the new data");
    t.write("data/labels.csv", labels(2).as_bytes());
    t.dvx(&["status"]);
    t.dvx(&["diff", "--stat"]);
    t.dvx(&[
        "run",
        "--add-deps",
        "-d",
        "data/train",
        "-d",
        "data/labels.csv",
        "-d",
        "train.sh",
        "-o",
        "models",
        "-m",
        "retrain: every tenth image is a cat",
        "--",
        "sh",
        "train.sh",
    ]);
    t.git(&["add", "dvx.lock"]);
    t.git(&["commit", "-q", "-m", "model v2"]);
    t.check(
        "the retrained model differs from the first",
        t.read("models/classifier.txt") != model_v1,
    );
    t.dvx(&["runs"]);
    t.dvx(&["log", "--oneline"]);

    section("git checkout brings the data and the model back (the hooks follow dvx.lock)");
    t.git(&["checkout", "-q", "v1"]);
    t.check(
        "labels and model are version 1 again",
        t.read("data/labels.csv") == labels(1) && t.read("models/classifier.txt") == model_v1,
    );
    t.git(&["checkout", "-q", "main"]);
    t.check(
        "and version 2 on main",
        t.read("data/labels.csv") == labels(2),
    );

    section("Branches for data, and git merge merges the pinned data too");
    t.git(&["checkout", "-q", "-b", "notes"]);
    t.write("data/README.txt", b"images are 4 KiB each\n");
    t.dvx(&["add", "data/README.txt"]);
    t.dvx(&["commit", "-m", "describe the data", "--git-add"]);
    t.git(&["commit", "-q", "-m", "document the data"]);
    t.git(&["checkout", "-q", "main"]);
    t.check(
        "main does not have the note yet",
        !t.root.join("data/README.txt").exists(),
    );
    t.git(&["merge", "-q", "--no-edit", "notes"]);
    t.check(
        "after git merge the note is there",
        t.root.join("data/README.txt").exists(),
    );

    section("Share it: a directory remote; git push pushes the pinned data too");
    let remote = parent.join("shared-remote");
    let remote = remote.to_str().expect("utf-8 path");
    t.dvx(&["remote", "add", "origin", remote]);
    t.git(&["add", ".dvx/config.toml"]);
    t.git(&["commit", "-q", "-m", "share the data through a remote"]);
    let upstream = parent.join("upstream.git");
    let upstream = upstream.to_str().expect("utf-8 path");
    t.git(&["init", "-q", "--bare", "-b", "main", upstream]);
    t.git(&["remote", "add", "up", upstream]);
    t.git(&["push", "-q", "up", "main", "v1"]);
    t.dvx(&["push", "--all", "--tags"]);

    section("A fresh training node: git clone, then a lazy checkout (no bytes yet)");
    t.run_in(
        &parent,
        Path::new("git"),
        &["clone", "-q", upstream, "node"],
    );
    let node = parent.join("node");
    t.run_in(&node, &t.dvx, &["pull", "--lazy"]);
    t.run_in(&node, &t.dvx, &["status"]);
    let before = stored_objects(&t, &node);
    t.check(
        "the clone knows every version and holds no file bytes",
        !node.join("data/labels.csv").exists() && !node.join("models/classifier.txt").exists(),
    );
    t.check(
        "and git sees nothing to commit: the data is what the code pins",
        t.run_in(&node, Path::new("git"), &["status", "--porcelain"])
            .is_empty(),
    );

    section("What made the first model? dvx trace follows it back");
    let trace = t.run_in(
        &node,
        &t.dvx,
        &["trace", "models/classifier.txt", "--rev", "v1"],
    );
    t.check(
        "the trace names the command, the training data and the code",
        trace.contains("sh train.sh") && trace.contains("data/train") && trace.contains("train.sh"),
    );

    section("Reproduce its training data, run it again, and check the model");
    let json = t.run_in(
        &node,
        &t.dvx,
        &[
            "reproduce",
            "models/classifier.txt",
            "--rev",
            "v1",
            "--into",
            "../repro",
            "--run",
            "--check",
            "--json",
        ],
    );
    let report: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| fail(&format!("reproduce --json: {e}")));
    let fetched = stored_objects(&t, &node) - before;
    let dataset = (IMAGES + 1) as usize;
    println!(
        "  fetched {fetched} objects for {} inputs; the dataset has {dataset} files",
        report["inputs"]
    );
    t.check(
        "the rerun made the very same model",
        report["identical"] == serde_json::Value::Bool(true)
            && std::fs::read_to_string(parent.join("repro/models/classifier.txt"))
                .unwrap_or_default()
                == model_v1,
    );
    t.check(
        "only what the training read was fetched: 100 images and the labels, not the 300 held out",
        report["fetched"] == serde_json::json!(TRAINING_IMAGES + 1)
            && fetched == (TRAINING_IMAGES + 1) as usize,
    );
    t.check(
        "the held-out images were never downloaded",
        !parent.join("repro/data/holdout").exists() && !node.join("data/holdout").exists(),
    );

    section("A whole copy when one is wanted: dvx pull brings every byte");
    t.run_in(&node, &t.dvx, &["pull"]);
    t.check(
        "after dvx pull the node has the data and model of main",
        std::fs::read_to_string(node.join("data/labels.csv")).unwrap_or_default() == labels(2)
            && node.join("data/README.txt").exists(),
    );

    section("What changed, and a clean bill of health");
    t.dvx(&["diff", "--stat", "v1", "HEAD"]);
    t.dvx(&["fsck"]);
    t.run_in(&node, &t.dvx, &["fsck", "--remote"]);
    t.dvx(&["gc", "--dry-run"]);
    println!(
        "\nThe tour is over: every step above ran for real in {}.",
        parent.display()
    );
    ExitCode::SUCCESS
}
