//! Every decoder of an on-disk format fed random and mutated bytes: it returns an error
//! or a value, never panics, never hangs.
//!
//! Inputs are real encodings taken from a repository built by the real binary (trees,
//! commits, run records, the index and its delta, HEAD, refs, reflogs, config, state,
//! the checkout marker, `dvx.lock`), then mutated (bit flips, byte overwrites, cuts,
//! insertions, duplicated spans) or replaced by random bytes. The objects are decoded
//! in-process; the files are written into a copy of the repository and read back
//! through the library (`Repo::open`, `Index::load`, refs, reflogs, the pin), and a
//! sample of them through the binary, which must exit 0 or 1 with no panic.
//!
//! The remote formats (packs, pack indexes, large-object seek tables) have their own
//! proptests beside their decoders in `src/remote/`.
//!
//! `DVX_SOAK=1` multiplies the number of inputs by 20.

use std::fs;
use std::path::{Path, PathBuf};

use dvx::object::{Commit, Encode, RunRecord, Tree};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::harness::*;

fn cases(ci: u32) -> u32 {
    if std::env::var_os("DVX_SOAK").is_some() {
        ci * 20
    } else {
        ci
    }
}

/// A repository with every kind of object and state file: two commits, a branch, a tag,
/// a run record, an index with a delta, reflogs, the pin.
fn rich_repo() -> Sandbox {
    let sb = Sandbox::git_and_dvx();
    for i in 0..12 {
        sb.write(
            &format!("data/d{}/f{i}.bin", i % 3),
            &bytes(i, 100 + i as usize),
        );
    }
    sb.write("data/link", b"");
    fs::remove_file(sb.path("data/link")).expect("rm");
    std::os::unix::fs::symlink("d0/f0.bin", sb.path("data/link")).expect("symlink");
    sb.ok(&["-q", "add", "data"]);
    sb.ok(&["-q", "commit", "-m", "v1"]);
    sb.ok(&["-q", "branch", "side"]);
    sb.ok(&["-q", "tag", "v1"]);
    sb.write("prep.sh", b"cat data/d0/f0.bin > out.bin\n");
    sb.ok(&[
        "-q", "run", "-d", "data/d0", "-o", "out.bin", "--", "sh", "prep.sh",
    ]);
    // A small change after the commit: the index gets a delta.
    sb.write("data/d1/f1.bin", b"changed");
    sb.ok(&["-q", "add", "data/d1/f1.bin"]);
    sb
}

/// Every object file of the store, with its bytes.
fn objects(root: &Path) -> Vec<Vec<u8>> {
    walkdir::WalkDir::new(root.join(".dvx/objects"))
        .into_iter()
        .map(|e| e.expect("walk objects"))
        .filter(|e| e.file_type().is_file())
        .map(|e| fs::read(e.path()).expect("read object"))
        .collect()
}

/// One mutation of `seed`, chosen by `choice`.
fn mutate(seed: &[u8], choice: (u8, usize, usize, u8, Vec<u8>)) -> Vec<u8> {
    let (how, at, len, byte, extra) = choice;
    let mut out = seed.to_vec();
    if out.is_empty() {
        return extra;
    }
    let at = at % out.len();
    match how % 7 {
        0 => out[at] ^= 1 << (byte % 8),
        1 => out[at] = byte,
        2 => out.truncate(at),
        3 => {
            let end = (at + len % 16).min(out.len());
            out.drain(at..end);
        }
        4 => {
            out.splice(at..at, extra);
        }
        5 => {
            let end = (at + len % 32).min(out.len());
            let span = out[at..end].to_vec();
            out.splice(at..at, span);
        }
        _ => return extra,
    }
    out
}

fn mutation() -> impl Strategy<Value = (u8, usize, usize, u8, Vec<u8>)> {
    (
        any::<u8>(),
        any::<usize>(),
        any::<usize>(),
        any::<u8>(),
        proptest::collection::vec(any::<u8>(), 0..64),
    )
}

/// Decode `bytes` as each object kind; a value that decodes must encode back to them.
fn decode_all(bytes: &[u8]) {
    if let Ok(t) = Tree::decode(bytes) {
        assert_eq!(t.encode(), bytes, "a tree decodes from non-canonical bytes");
    }
    if let Ok(c) = Commit::decode(bytes) {
        assert_eq!(
            c.encode(),
            bytes,
            "a commit decodes from non-canonical bytes"
        );
    }
    if let Ok(r) = RunRecord::decode(bytes) {
        assert_eq!(
            r.encode(),
            bytes,
            "a run record decodes from non-canonical bytes"
        );
    }
}

#[test]
fn object_decoders_never_panic_on_random_or_mutated_bytes() {
    let sb = rich_repo();
    let seeds: Vec<Vec<u8>> = objects(&sb.root)
        .into_iter()
        .filter(|b| dvx::object::kind_of(b).is_some())
        .collect();
    let kinds: std::collections::BTreeSet<_> = seeds
        .iter()
        .filter_map(|b| dvx::object::kind_of(b).map(|k| k.name()))
        .collect();
    assert_eq!(
        kinds.len(),
        3,
        "a tree, a commit and a run record: {kinds:?}"
    );
    let n = seeds.len();
    let mut runner = TestRunner::new(Config {
        cases: cases(4000),
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&(0..n, mutation()), |(which, m)| {
            decode_all(&mutate(&seeds[which], m));
            Ok(())
        })
        .expect("mutated objects");
    let mut runner = TestRunner::new(Config {
        cases: cases(1000),
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&proptest::collection::vec(any::<u8>(), 0..512), |raw| {
            // Random bodies behind a valid header reach the postcard decoder.
            decode_all(&raw);
            for kind in 1..=3u8 {
                let mut framed = b"DVXO".to_vec();
                framed.extend([kind, 1]);
                framed.extend(&raw);
                decode_all(&framed);
            }
            Ok(())
        })
        .expect("random objects");
    eprintln!(
        "decoders: objects: {} mutated + {} random inputs ({} seeds)",
        cases(4000),
        cases(1000) * 4,
        n
    );
}

/// The state files worth damaging, relative to the work tree.
fn state_files(root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = [
        ".dvx/index",
        ".dvx/index.delta",
        ".dvx/HEAD",
        ".dvx/config.toml",
        ".dvx/state.toml",
        "dvx.lock",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    for dir in [".dvx/refs", ".dvx/logs"] {
        for e in walkdir::WalkDir::new(root.join(dir)) {
            let e = e.expect("walk");
            if e.file_type().is_file() {
                out.push(e.path().strip_prefix(root).expect("inside").to_path_buf());
            }
        }
    }
    for p in &out {
        assert!(root.join(p).is_file(), "{} exists", p.display());
    }
    out
}

/// Read everything a command reads first, through the library; errors are fine.
fn read_through_library(root: &Path) {
    let Ok(repo) = dvx::repo::Repo::open(root, None) else {
        return;
    };
    let _ = dvx::index::Index::load(repo.local_dir());
    let refs = repo.refs();
    let _ = refs.read_head();
    let _ = refs.head_commit();
    let _ = refs.list("");
    let _ = refs.all_reflogs();
    let _ = dvx::git::pin::Pin::read(root);
    let _ = dvx::workspace::interrupted_checkout_in(repo.local_dir());
}

#[test]
fn state_file_decoders_never_panic_on_random_or_mutated_bytes() {
    let sb = rich_repo();
    // The checkout marker exists only while a checkout runs: make one to damage too.
    let marker = sb.path(".dvx/CHECKOUT");
    let head = fs::read(sb.path(".dvx/refs/heads/main")).expect("main");
    fs::write(&marker, head).expect("marker");
    let mut files = state_files(&sb.root);
    files.push(PathBuf::from(".dvx/CHECKOUT"));
    let originals: Vec<Vec<u8>> = files
        .iter()
        .map(|p| fs::read(sb.root.join(p)).expect("read"))
        .collect();
    let n = files.len();
    let mut runner = TestRunner::new(Config {
        cases: cases(3000),
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&(0..n, mutation()), |(which, m)| {
            let path = sb.root.join(&files[which]);
            fs::write(&path, mutate(&originals[which], m)).expect("damage");
            read_through_library(&sb.root);
            fs::write(&path, &originals[which]).expect("restore");
            Ok(())
        })
        .expect("mutated state files");

    // A sample through the binary: exit 0 or 1, one error line, never a panic.
    let through_binary = cases(40);
    let mut runner = TestRunner::new(Config {
        cases: through_binary,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&(0..n, mutation()), |(which, m)| {
            let path = sb.root.join(&files[which]);
            let damaged = mutate(&originals[which], m);
            fs::write(&path, &damaged).expect("damage");
            for args in [&["status"][..], &["log"], &["fsck"]] {
                let out = sb.dvx().args(args).output().expect("run dvx");
                let stderr = String::from_utf8_lossy(&out.stderr);
                prop_assert!(
                    matches!(out.status.code(), Some(0 | 1)) && !stderr.contains("panicked"),
                    "dvx {args:?} with {} damaged ({damaged:?}): {:?}\n{stderr}",
                    files[which].display(),
                    out.status.code()
                );
            }
            fs::write(&path, &originals[which]).expect("restore");
            Ok(())
        })
        .expect("damaged state files through the binary");
    eprintln!(
        "decoders: state files: {} mutated inputs through the library, {} through the binary ({} files)",
        cases(3000),
        through_binary,
        n
    );
}
