//! Hostile tree entries (as a damaged store or a lying remote could hold them) are
//! refused before anything is written: checkout, a lazy checkout, a restore and a merge
//! of a commit whose tree names `..`, `.dvx`, `.git`, a name with `/` or NUL, an empty
//! name or a duplicate leave the work tree, HEAD, the index and `dvx.lock` exactly as
//! they were, fail with exit 1 naming the object, and `fsck` names it too.
//!
//! A symlink whose target leaves the work tree (absolute, `..` above the top) or points
//! into `.git` or `.dvx` is refused the same way, and by `add`, unless the repository
//! opts in with `core.external_symlinks = true`. With it, such a link is checked out as
//! written; what must never happen is a write *through* it. That is shown here too: a
//! later commit with a file below the link's name lands inside the work tree, and the
//! outside stays untouched.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use dvx::hash::ObjectId;
use dvx::object::{Commit, Encode, EntryKind, Tree, TreeEntry};

use crate::harness::*;

/// Every file, symlink and directory below the work tree's top, except `.git/`, with what
/// it holds; plus the dvx state a refused command must not touch.
fn picture(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(root).sort_by_file_name() {
        let e = e.expect("walk");
        let rel = e
            .path()
            .strip_prefix(root)
            .expect("inside")
            .to_string_lossy()
            .into_owned();
        // The lock file exists once any command has locked; it holds nothing.
        if rel.starts_with(".git") || rel.starts_with(".dvx/tmp") || rel == ".dvx/lock" {
            continue;
        }
        let ft = e.file_type();
        let content = if ft.is_symlink() {
            fs::read_link(e.path())
                .expect("readlink")
                .into_os_string()
                .into_encoded_bytes()
        } else if ft.is_file() {
            // Objects are many and immutable; a new one is an addition, seen by name.
            if rel.starts_with(".dvx/objects") {
                Vec::new()
            } else {
                fs::read(e.path()).expect("read")
            }
        } else {
            b"<dir>".to_vec()
        };
        out.insert(rel, content);
    }
    out
}

fn store(root: &Path, bytes: &[u8]) -> ObjectId {
    let id = ObjectId::of(bytes);
    let path = object_path(root, &id.to_string());
    fs::create_dir_all(path.parent().expect("fan-out dir")).expect("mkdir");
    fs::write(&path, bytes).expect("write object");
    id
}

fn entry(name: &str, kind: EntryKind, id: ObjectId) -> TreeEntry {
    TreeEntry {
        name: name.to_owned(),
        kind,
        executable: false,
        root: false,
        size: 1,
        id,
    }
}

/// A repository at `v1` (data/a.txt), and a branch `evil` whose commit's tree holds a
/// well-formed `data/ok.txt` beside `bad` (at the top of the tree or inside `data/`).
fn repo_with_evil_branch(bad: TreeEntry, nested: bool) -> Sandbox {
    repo_with_evil_branch_in(Sandbox::git_and_dvx(), bad, nested)
}

fn repo_with_evil_branch_in(sb: Sandbox, bad: TreeEntry, nested: bool) -> Sandbox {
    sb.write("data/a.txt", b"a\n");
    sb.ok(&["-q", "add", "data"]);
    sb.ok(&["-q", "commit", "-m", "v1"]);
    let head_hex = fs::read_to_string(sb.path(".dvx/refs/heads/main")).expect("main");
    let head: ObjectId = head_hex.trim().parse().expect("id");
    let good = store(&sb.root, b"fine\n");
    let mut data = vec![entry("ok.txt", EntryKind::File, good)];
    if nested {
        data.push(bad.clone());
        data.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    }
    let data_tree = Tree { entries: data }.encode();
    let data_id = store(&sb.root, &data_tree);
    let mut top = vec![TreeEntry {
        root: true,
        ..entry("data", EntryKind::Dir, data_id)
    }];
    if !nested {
        top.push(bad);
    }
    top.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    let top_id = store(&sb.root, &Tree { entries: top }.encode());
    let parent_bytes = fs::read(object_path(&sb.root, &head.to_string())).expect("commit");
    let parent = Commit::decode(&parent_bytes).expect("decode head");
    let evil = Commit {
        tree: top_id,
        parents: vec![head],
        message: "evil".into(),
        runs: Vec::new(),
        ..parent
    };
    let evil_id = store(&sb.root, &evil.encode());
    fs::write(sb.path(".dvx/refs/heads/evil"), format!("{evil_id}\n")).expect("ref");
    sb
}

fn hostile_entries() -> Vec<(&'static str, TreeEntry, bool)> {
    let blob = ObjectId::of(b"x\n");
    let file = |name: &str| entry(name, EntryKind::File, blob);
    vec![
        ("dot-dot", file(".."), true),
        ("dot", file("."), true),
        ("empty name", file(""), true),
        ("absolute", file("/etc/passwd"), true),
        ("slash", file("a/../../b"), true),
        ("nul", file("a\0b"), true),
        ("dvx dir", file(".dvx"), false),
        ("git dir", entry(".git", EntryKind::Dir, blob), false),
        ("nested git dir", entry(".git", EntryKind::Dir, blob), true),
        ("duplicate", file("ok.txt"), true),
    ]
}

#[test]
fn hostile_tree_entries_are_refused_before_anything_is_written() {
    let mut refused = 0;
    for (what, bad, nested) in hostile_entries() {
        for args in [
            &["checkout", "evil"][..],
            &["checkout", "--lazy", "evil"],
            &["checkout", "evil", "--", "data"],
            &["merge", "evil"],
        ] {
            let sb = repo_with_evil_branch(bad.clone(), nested);
            // The duplicate's blob must exist for it to be a pure naming problem.
            store(&sb.root, b"x\n");
            assert_refused_untouched(&sb, what, args, &["tree", "corrupt"]);
            refused += 1;
        }
        let sb = repo_with_evil_branch(bad, nested);
        let out = sb.dvx().arg("fsck").output().expect("run fsck");
        let fsck = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{what}: fsck fails: {fsck}");
        assert!(fsck.contains("tree"), "{what}: fsck names the tree: {fsck}");
    }
    eprintln!("hostile trees: {refused} commands refused, nothing written");
}

/// `dvx args` fails with exit 1, its error names one of `names`, and the work tree, HEAD,
/// the index and `dvx.lock` are exactly as before.
fn assert_refused_untouched(sb: &Sandbox, what: &str, args: &[&str], names: &[&str]) {
    let before = picture(&sb.root);
    let out = sb.dvx().args(args).output().expect("run dvx");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{what}: dvx {args:?} must fail:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    assert!(
        names.iter().any(|n| stderr.contains(n)),
        "{what}: dvx {args:?} names the cause ({names:?}):\n{stderr}"
    );
    let after = picture(&sb.root);
    let changed: Vec<_> = after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(v))
        .map(|(k, _)| k.clone())
        .chain(before.keys().filter(|k| !after.contains_key(*k)).cloned())
        .collect();
    assert!(
        changed.is_empty(),
        "{what}: dvx {args:?} wrote {changed:?} before refusing"
    );
    assert!(!sb.root.join("../b").exists(), "{what}: wrote outside");
}

/// Symlinks in a tree (as a remote could serve them) whose targets leave the work tree.
fn leaving_links() -> Vec<(&'static str, &'static str, bool)> {
    vec![
        ("absolute", "/etc", false),
        ("absolute, nested", "/tmp/elsewhere", true),
        ("above the top", "..", false),
        ("above the top, nested", "../../outside", true),
        ("into .git", ".git/hooks", false),
        ("into .dvx, nested", "../.dvx/objects", true),
    ]
}

#[test]
fn symlinks_leaving_the_work_tree_in_a_tree_are_refused_before_anything_is_written() {
    let mut refused = 0;
    for (what, target, nested) in leaving_links() {
        let link_path = if nested { "data/link" } else { "link" };
        for args in [
            &["checkout", "evil"][..],
            &["checkout", "--force", "evil"],
            &["checkout", "evil", "--", link_path],
            &["merge", "evil"],
        ] {
            let sb = Sandbox::git_and_dvx();
            let id = store(&sb.root, target.as_bytes());
            let sb = repo_with_evil_branch_in(sb, entry("link", EntryKind::Symlink, id), nested);
            assert_refused_untouched(&sb, what, args, &["symbolic link"]);
            refused += 1;
        }
    }
    eprintln!("links leaving the work tree: {refused} commands refused, nothing written");
}

#[test]
fn add_refuses_a_symlink_that_leaves_the_work_tree_and_stages_nothing() {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/a.txt", b"a\n");
    std::os::unix::fs::symlink("/etc", sb.path("data/etc")).expect("symlink");
    std::os::unix::fs::symlink("../../x", sb.path("data/up")).expect("symlink");
    let stderr = sb.fails(&["add", "data"], 1);
    let (error, hint) = error_and_hint(&stderr);
    assert_contains(
        &error,
        "'data/etc' is a symbolic link to '/etc', an absolute path",
    );
    assert_contains(&hint, "external_symlinks = true");
    assert_eq!(sb.out(&["ls"]), "", "nothing was staged");
    // A link inside the work tree is data like any file.
    fs::remove_file(sb.path("data/etc")).expect("rm");
    fs::remove_file(sb.path("data/up")).expect("rm");
    std::os::unix::fs::symlink("a.txt", sb.path("data/alias")).expect("symlink");
    sb.ok(&["-q", "add", "data"]);
    assert_contains(&sb.out(&["ls"]), "data/alias");
}

#[test]
fn a_symlink_out_of_the_repository_is_never_written_through() {
    let sb = Sandbox::git_and_dvx();
    sb.write(
        ".dvx/config.local.toml",
        b"[core]\nexternal_symlinks = true\n",
    );
    let outside = sb.root.with_file_name("outside");
    fs::create_dir_all(&outside).expect("mkdir outside");
    sb.write("data/a.txt", b"a\n");
    std::os::unix::fs::symlink(&outside, sb.path("data/escape")).expect("symlink");
    sb.ok(&["-q", "add", "data"]);
    sb.ok(&["-q", "commit", "-m", "a link out"]);
    sb.ok(&["-q", "branch", "with-link"]);
    // On another branch the same name is a directory with a file in it.
    fs::remove_file(sb.path("data/escape")).expect("rm link");
    sb.write("data/escape/planted.txt", b"planted\n");
    sb.ok(&["-q", "add", "data"]);
    sb.ok(&["-q", "commit", "-m", "a directory"]);
    sb.ok(&["-q", "checkout", "with-link"]);
    assert!(
        sb.path("data/escape")
            .symlink_metadata()
            .expect("lstat")
            .file_type()
            .is_symlink(),
        "the link is checked out as a link"
    );
    sb.ok(&["-q", "checkout", "main"]);
    assert_eq!(sb.read("data/escape/planted.txt"), b"planted\n");
    assert!(
        !outside.join("planted.txt").exists(),
        "checkout wrote through a symlink out of the repository"
    );
    // A restore of the file alone, with the link back in its place, does the same.
    fs::remove_dir_all(sb.path("data/escape")).expect("rm dir");
    std::os::unix::fs::symlink(&outside, sb.path("data/escape")).expect("symlink");
    let _ = sb
        .dvx()
        .args(["checkout", "--force", "--", "data/escape/planted.txt"])
        .output()
        .expect("run dvx");
    assert!(
        !outside.join("planted.txt").exists(),
        "a restore wrote through a symlink out of the repository"
    );
    assert_eq!(
        fs::read_dir(&outside).expect("ls outside").count(),
        0,
        "nothing was written outside"
    );
}
