//! The fixture scripts run for real, and what fixtures/README.md says they make holds:
//! the ids in its tables, a clean repository, and each documented damage reported as
//! documented.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::harness::Sandbox;

const README: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/README.md"));

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn run_script(name: &str, args: &[&Path], extra: &[&str]) -> Output {
    let out = Command::new("sh")
        .arg(script(name))
        .args(args)
        .arg(env!("CARGO_BIN_EXE_dvx"))
        .args(extra)
        .output()
        .expect("run a fixture script");
    assert!(
        out.status.success(),
        "{name} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Every 40- or 64-digit hex id in backticks in the README's table row whose second
/// column is `message` (optionally followed by a parenthesised note).
fn ids_in_row(message: &str) -> Vec<String> {
    let row = README
        .lines()
        .find(|l| {
            l.starts_with('|')
                && l.split('|').nth(2).map(str::trim).is_some_and(|cell| {
                    cell == message || cell.starts_with(&format!("{message} ("))
                })
        })
        .unwrap_or_else(|| panic!("fixtures/README.md has no row for '{message}'"));
    row.split('`')
        .skip(1)
        .step_by(2)
        .filter(|cell| {
            (cell.len() == 40 || cell.len() == 64) && cell.bytes().all(|b| b.is_ascii_hexdigit())
        })
        .map(str::to_owned)
        .collect()
}

fn golden(sb: &Sandbox) -> PathBuf {
    let out = sb.root.join("golden");
    run_script("make-golden-repo.sh", &[&out], &[]);
    out
}

#[test]
fn the_golden_repository_has_the_documented_ids() {
    let sb = Sandbox::empty();
    let repo = golden(&sb);
    let dvx = |args: &[&str]| {
        let out = sb
            .dvx_std()
            .current_dir(&repo)
            .args(args)
            .output()
            .expect("dvx");
        assert!(
            out.status.success(),
            "dvx {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let git = |args: &[&str]| sb.git_in(&repo, args);

    for (message, refs) in [
        ("first data", vec!["v1", "experiment"]),
        ("relabel: add birds", vec!["main", "HEAD"]),
    ] {
        let ids = ids_in_row(message);
        let (commit, tree) = (&ids[0], &ids[1]);
        for r in refs {
            let show: serde_json::Value =
                serde_json::from_str(&dvx(&["show", "--json", r])).expect("show json");
            assert_eq!(show["commit"]["id"].as_str(), Some(commit.as_str()), "{r}");
            assert_eq!(show["commit"]["tree"].as_str(), Some(tree.as_str()), "{r}");
        }
    }
    let git_log = git(&["log", "--format=%H %s", "main"]);
    for message in ["code", "dvx init", "train on data v1", "train on data v2"] {
        let id = &ids_in_row(message)[0];
        assert!(
            git_log.lines().any(|l| l == format!("{id} {message}")),
            "git commit '{message}' is not {id}:\n{git_log}"
        );
    }
    assert_eq!(git(&["status", "--porcelain"]), "");
    assert!(dvx(&["status"]).contains("nothing to commit"));
    dvx(&["fsck"]);
}

#[test]
fn each_documented_damage_is_reported_as_documented() {
    let sb = Sandbox::empty();
    let pristine = golden(&sb);
    for (damage, expect) in [
        ("flip-blob", "corrupt object"),
        ("remove-tree", "missing tree"),
        ("truncate-index", "checksum mismatch"),
    ] {
        let repo = sb.root.join(damage);
        let copied = Command::new("cp")
            .arg("-a")
            .arg(&pristine)
            .arg(&repo)
            .status()
            .expect("cp");
        assert!(copied.success());
        let said = run_script("make-damaged-repo.sh", &[&repo], &[damage]);
        assert!(String::from_utf8_lossy(&said.stdout).starts_with(&format!("{damage}: ")));
        let fsck = sb
            .dvx_std()
            .current_dir(&repo)
            .arg("fsck")
            .output()
            .expect("fsck");
        assert_eq!(fsck.status.code(), Some(1), "{damage}: fsck exits 1");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&fsck.stdout),
            String::from_utf8_lossy(&fsck.stderr)
        );
        assert!(text.contains(expect), "{damage}: {text}");
    }
}
