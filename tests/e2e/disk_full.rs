//! A really full disk: the repository lives on a small tmpfs. `add`, `commit` and
//! `checkout` that run out of space stop with one clear line naming what could not be
//! written and a hint, exit 1, leave a repository `fsck` passes, and once space is freed
//! the next command cleans every temp file and completes.
//!
//! Mounting needs root (the tests run as root here); elsewhere these tests print why
//! they skip. Injected write errors at every operation are the `failpoints` walks'
//! (tests/e2e/crash_points.rs).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::*;

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Result<Tmpfs, String> {
        if !running_as_root() {
            return Err("not root".into());
        }
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A dvx repository (no git) on a tmpfs of `size`, or why not.
fn repo_on_small_disk(size: &str) -> Option<(Sandbox, Tmpfs)> {
    let sb = Sandbox::empty();
    match Tmpfs::mount(&sb.root, size) {
        Ok(mount) => {
            sb.ok(&["init", "--no-git"]);
            Some((sb, mount))
        }
        Err(why) => {
            eprintln!("skipping the disk-full test: {why}");
            None
        }
    }
}

/// Files left in `.dvx/tmp` (the per-process session directories hold them).
fn temp_files(root: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(root.join(".dvx/tmp"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| !e.file_type().is_dir())
        .map(|e| e.path().to_path_buf())
        .collect()
}

fn assert_clear_failure(sb: &Sandbox, args: &[&str]) {
    let out = sb.dvx().args(args).output().expect("run dvx");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "dvx {args:?} on a full disk:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let (error, hint) = error_and_hint(&stderr);
    assert_contains(&error, "No space left on device");
    assert!(!hint.is_empty(), "dvx {args:?}: a hint: {stderr}");
}

fn fsck_passes(sb: &Sandbox) {
    let out = sb.dvx().arg("fsck").output().expect("run fsck");
    assert!(
        out.status.success(),
        "fsck after a full disk:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn add_on_a_full_disk_stops_clearly_and_the_next_add_cleans_up() {
    let Some((sb, _mount)) = repo_on_small_disk("3m") else {
        return;
    };
    sb.write("data/small.csv", b"small\n");
    sb.ok(&["-q", "add", "data"]);
    sb.ok(&["-q", "commit", "-m", "v1"]);
    // 2 MiB of data plus its 2 MiB copy in the store does not fit in 3 MiB.
    for i in 0..8 {
        sb.write(&format!("data/big/f{i}.bin"), &bytes(i, 256 * 1024));
    }
    let before_stage = sb.out(&["ls", "--json"]);
    assert_clear_failure(&sb, &["add", "data"]);
    assert_eq!(
        sb.out(&["ls", "--json"]),
        before_stage,
        "the stage is unchanged"
    );
    fsck_passes(&sb);
    // Space comes back: the next add completes and nothing temporary is left.
    for i in 4..8 {
        fs::remove_file(sb.path(&format!("data/big/f{i}.bin"))).expect("free space");
    }
    sb.ok(&["-q", "add", "data"]);
    sb.ok(&["-q", "commit", "-m", "v2"]);
    assert_eq!(temp_files(&sb.root), Vec::<PathBuf>::new());
    fsck_passes(&sb);
    assert_eq!(sb.read("data/small.csv"), b"small\n");
}

#[test]
fn checkout_on_a_full_disk_stops_clearly_and_completes_once_space_is_back() {
    let Some((sb, _mount)) = repo_on_small_disk("4m") else {
        return;
    };
    for i in 0..6 {
        sb.write(&format!("data/f{i}.bin"), &bytes(i, 200 * 1024));
    }
    sb.write("data/z.csv", b"z\n");
    sb.ok(&["-q", "add", "data"]);
    sb.ok(&["-q", "commit", "-m", "v1"]);
    // Copies, not links, so the checkout needs space of its own.
    let config = String::from_utf8(sb.read(".dvx/config.toml")).expect("utf-8");
    if !config.contains("link") {
        fs::write(
            sb.path(".dvx/config.local.toml"),
            "[core]\nlink = \"copy\"\n",
        )
        .expect("local config");
    }
    fs::remove_dir_all(sb.path("data")).expect("rm data");
    // Fill what is left of the disk.
    let filler = sb.root.join("filler");
    let _ = fs::write(&filler, vec![0u8; 4 * 1024 * 1024]);
    assert_clear_failure(&sb, &["checkout", "--force", "--", "data"]);
    fsck_passes(&sb);
    let temps = temp_files(&sb.root);
    fs::remove_file(&filler).expect("free space");
    sb.ok(&["-q", "checkout", "--", "data"]);
    for i in 0..6 {
        assert_eq!(sb.read(&format!("data/f{i}.bin")), bytes(i, 200 * 1024));
    }
    assert_eq!(
        temp_files(&sb.root),
        Vec::<PathBuf>::new(),
        "the next command removed the temp files a failed one left: {temps:?}"
    );
    fsck_passes(&sb);
}
