//! Random sequences of writes, deletes, `add`, `checkout --` and `commit` on a few
//! paths, checked against a simple model after every step: the files on disk, and what
//! `status` reports as staged and unstaged.
//!
//! The key property: after `checkout -- data` every tracked file holds exactly the bytes
//! last added for it (never lose a byte), and right after `add` nothing is unstaged.
//! Rewrites often keep the size, within the same second as the index, so the racy-stat
//! rules are exercised too.

use std::collections::BTreeMap;
use std::fs;

use proptest::prelude::*;

use crate::harness::*;

const PATHS: [&str; 4] = [
    "data/a.bin",
    "data/b.bin",
    "data/sub/c.bin",
    "data/sub/d.bin",
];

#[derive(Debug, Clone)]
enum Op {
    /// Write `bytes(seed, len)` to a path (creating directories).
    Write {
        file: usize,
        seed: u64,
        len: usize,
    },
    /// Delete a file, if it is there.
    Delete(usize),
    Add,
    Checkout,
    Commit,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        // Few sizes and seeds: rewrites often keep the size, and sometimes the bytes.
        4 => (0..PATHS.len(), 0..6u64, prop_oneof![Just(0usize), Just(16), Just(5000)])
            .prop_map(|(file, seed, len)| Op::Write { file, seed, len }),
        2 => (0..PATHS.len()).prop_map(Op::Delete),
        3 => Just(Op::Add),
        2 => Just(Op::Checkout),
        1 => Just(Op::Commit),
    ]
}

/// What the repository should look like.
#[derive(Debug, Default)]
struct Model {
    /// Files on disk.
    work: BTreeMap<usize, Vec<u8>>,
    /// The index (what the last `add` saw).
    staged: BTreeMap<usize, Vec<u8>>,
    /// HEAD.
    committed: BTreeMap<usize, Vec<u8>>,
    /// data/ exists on disk (files are deleted, never directories).
    data_exists: bool,
    /// data/ is a tracked directory (after the first successful add).
    tracked: bool,
}

impl Model {
    fn unstaged(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (i, path) in PATHS.iter().enumerate() {
            let status = match (self.staged.get(&i), self.work.get(&i)) {
                (Some(_), None) => "deleted",
                (Some(s), Some(w)) if s != w => "modified",
                (None, Some(_)) if self.tracked => "new",
                _ => continue,
            };
            out.push(((*path).to_owned(), status.to_owned()));
        }
        out
    }

    fn staged(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (i, path) in PATHS.iter().enumerate() {
            let status = match (self.committed.get(&i), self.staged.get(&i)) {
                (None, Some(_)) => "added",
                (Some(_), None) => "deleted",
                (Some(c), Some(s)) if c != s => "modified",
                _ => continue,
            };
            out.push(((*path).to_owned(), status.to_owned()));
        }
        out
    }
}

fn changes(status: &serde_json::Value, list: &str) -> Vec<(String, String)> {
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

/// Run dvx; return whether it succeeded, asserting it never panics and that a failure
/// is a clean exit 1 with an error line.
fn run(sb: &Sandbox, args: &[&str]) -> bool {
    let out = sb.dvx().args(args).output().expect("run dvx");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "dvx {args:?}: {stderr}");
    if out.status.success() {
        return true;
    }
    assert_eq!(out.status.code(), Some(1), "dvx {args:?}: {stderr}");
    assert!(stderr.starts_with("error:"), "dvx {args:?}: {stderr}");
    false
}

fn check(sb: &Sandbox, model: &Model, step: usize, op: &Op) {
    for (i, path) in PATHS.iter().enumerate() {
        let on_disk = fs::read(sb.path(path)).ok();
        assert_eq!(
            on_disk.as_ref(),
            model.work.get(&i),
            "step {step} ({op:?}): bytes of {path}"
        );
    }
    let status = sb.status_json();
    assert_eq!(
        changes(&status, "unstaged"),
        model.unstaged(),
        "step {step} ({op:?}): unstaged"
    );
    assert_eq!(
        changes(&status, "staged"),
        model.staged(),
        "step {step} ({op:?}): staged"
    );
}

fn apply(sb: &Sandbox, model: &mut Model, op: &Op) {
    match *op {
        Op::Write { file, seed, len } => {
            let content = bytes(seed, len);
            sb.write(PATHS[file], &content);
            model.work.insert(file, content);
            model.data_exists = true;
        }
        Op::Delete(file) => {
            if model.work.remove(&file).is_some() {
                fs::remove_file(sb.path(PATHS[file])).expect("delete");
            }
        }
        Op::Add => {
            let ok = run(sb, &["add", "data"]);
            // A directory with no files to track is refused, unless adding it stages
            // the deletion of tracked files.
            let something = !model.work.is_empty() || !model.staged.is_empty();
            assert_eq!(
                ok,
                model.data_exists && something,
                "add data succeeds iff data/ exists and has files or tracked ones"
            );
            if ok {
                model.staged = model.work.clone();
                model.tracked = true;
            }
        }
        Op::Checkout => {
            let ok = run(sb, &["checkout", "--", "data"]);
            assert_eq!(
                ok,
                !model.staged.is_empty(),
                "checkout -- data succeeds iff something under data/ is tracked"
            );
            for (file, content) in &model.staged {
                model.work.insert(*file, content.clone());
            }
        }
        Op::Commit => {
            let ok = run(sb, &["commit", "-m", "step"]);
            assert_eq!(
                ok,
                model.staged != model.committed,
                "commit succeeds iff the stage differs from HEAD"
            );
            if ok {
                model.committed = model.staged.clone();
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 24,
        // Every step runs processes; keep shrinking bounded.
        max_shrink_iters: 200,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_operations_never_lose_a_byte(
        link in prop::sample::select(vec!["reflink,copy", "hardlink", "symlink"]),
        ops in proptest::collection::vec(op(), 1..20),
    ) {
        let sb = Sandbox::git_and_dvx();
        // Every way checkout can put files back (linked files share the store's inode).
        let config = String::from_utf8(sb.read(".dvx/config.toml")).expect("utf-8");
        let config = config.replace("link = \"reflink,copy\"", &format!("link = \"{link}\""));
        let wanted = format!("link = \"{link}\"");
        prop_assert!(config.contains(&wanted), "config sets core.link: {}", config);
        sb.write(".dvx/config.toml", config.as_bytes());
        let mut model = Model::default();
        for (step, op) in ops.iter().enumerate() {
            apply(&sb, &mut model, op);
            check(&sb, &model, step, op);
        }
    }
}
