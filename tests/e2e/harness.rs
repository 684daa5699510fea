//! A sealed sandbox for running `dvx` and `git`.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use assert_cmd::assert::Assert;

/// The identity and clock every command sees.
pub const AUTHOR: &str = "Ada Tester <ada@example.com>";
pub const DATE: &str = "1700000000 +0000";

/// A temporary directory with its own HOME, holding one work tree at `root`.
pub struct Sandbox {
    _dir: tempfile::TempDir,
    pub home: PathBuf,
    pub root: PathBuf,
}

impl Sandbox {
    /// An empty directory (no git, no dvx).
    pub fn empty() -> Sandbox {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = fs::canonicalize(dir.path()).expect("canonical tempdir");
        let home = base.join("home");
        let root = base.join("work");
        fs::create_dir_all(&home).expect("mkdir home");
        fs::create_dir_all(&root).expect("mkdir work");
        Sandbox {
            _dir: dir,
            home,
            root,
        }
    }

    /// A git repository with one commit and a dvx repository at its top.
    pub fn git_and_dvx() -> Sandbox {
        let sb = Sandbox::git_only();
        sb.ok(&["init"]);
        sb.git(&["add", ".dvx/config.toml", ".dvx/.gitignore"]);
        sb.git(&["commit", "-q", "-m", "dvx init"]);
        sb
    }

    /// A git repository with one commit (a code file), no dvx.
    pub fn git_only() -> Sandbox {
        let sb = Sandbox::empty();
        sb.git(&["init", "-q", "-b", "main"]);
        sb.write("train.py", b"print('train')\n");
        sb.git(&["add", "train.py"]);
        sb.git(&["commit", "-q", "-m", "code"]);
        sb
    }

    /// dvx without git (`init --no-git`).
    pub fn dvx_only() -> Sandbox {
        let sb = Sandbox::empty();
        sb.ok(&["init", "--no-git"]);
        sb
    }

    pub fn seal(&self, cmd: &mut Command) {
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "Ada Tester")
            .env("GIT_AUTHOR_EMAIL", "ada@example.com")
            .env("GIT_COMMITTER_NAME", "Ada Tester")
            .env("GIT_COMMITTER_EMAIL", "ada@example.com")
            .env("GIT_AUTHOR_DATE", "1700000000 +0000")
            .env("GIT_COMMITTER_DATE", "1700000000 +0000")
            .env("DVX_AUTHOR", AUTHOR)
            .env("DVX_DATE", DATE)
            .env("DVX_LOCK_TIMEOUT", "1")
            .env("LANG", "C")
            .env("TZ", "UTC");
    }

    /// A `dvx` command run in `root`.
    pub fn dvx(&self) -> assert_cmd::Command {
        let mut std_cmd = Command::new(env!("CARGO_BIN_EXE_dvx"));
        self.seal(&mut std_cmd);
        std_cmd.current_dir(&self.root);
        assert_cmd::Command::from_std(std_cmd)
    }

    /// A plain `std` command for the dvx binary (for spawning and killing).
    pub fn dvx_std(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dvx"));
        self.seal(&mut cmd);
        cmd.current_dir(&self.root);
        cmd
    }

    /// Run dvx with `args`; assert success.
    pub fn ok(&self, args: &[&str]) -> Assert {
        self.dvx().args(args).assert().success()
    }

    /// Run dvx with `args`; return stdout as a string, asserting success.
    pub fn out(&self, args: &[&str]) -> String {
        self.out_dated(DATE, args)
    }

    /// Like [`Sandbox::out`], with the clock (`DVX_DATE`) at `date`.
    pub fn out_dated(&self, date: &str, args: &[&str]) -> String {
        let output = self
            .dvx()
            .env("DVX_DATE", date)
            .args(args)
            .output()
            .expect("run dvx");
        assert!(
            output.status.success(),
            "dvx {args:?} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8 stdout")
    }

    /// Run dvx with `args`, expecting failure with `code`; returns stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let output = self.dvx().args(args).output().expect("run dvx");
        assert_eq!(
            output.status.code(),
            Some(code),
            "dvx {args:?}: expected exit {code}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let stderr = String::from_utf8(output.stderr).expect("utf-8 stderr");
        assert!(!stderr.contains("panicked"), "dvx panicked: {stderr}");
        assert!(
            !stderr.contains("RUST_BACKTRACE"),
            "dvx printed a backtrace hint: {stderr}"
        );
        stderr
    }

    /// `dvx status --json`, parsed.
    pub fn status_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.out(&["status", "--json"])).expect("status --json is JSON")
    }

    /// Run git with `args` in `root`; assert success, return stdout.
    pub fn git(&self, args: &[&str]) -> String {
        self.git_in(&self.root, args)
    }

    /// Run git with `args` in `dir` (sealed like every command) and return its stdout.
    pub fn git_in(&self, dir: &Path, args: &[&str]) -> String {
        let mut cmd = Command::new("git");
        self.seal(&mut cmd);
        let output: Output = cmd.args(args).current_dir(dir).output().expect("run git");
        assert!(
            output.status.success(),
            "git {args:?} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// A plain `std` command for git in `root`, sealed like every command.
    pub fn git_std(&self) -> Command {
        let mut cmd = Command::new("git");
        self.seal(&mut cmd);
        cmd.current_dir(&self.root);
        cmd
    }

    /// Run git with `args` in `root` without asserting anything.
    pub fn git_raw(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new("git");
        self.seal(&mut cmd);
        cmd.args(args)
            .current_dir(&self.root)
            .output()
            .expect("run git")
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Write a file (creating directories), bypassing dvx.
    pub fn write(&self, rel: &str, bytes: &[u8]) {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).expect("mkdir");
        }
        dvx::atomic::write(&p, bytes).expect("write test file");
    }

    pub fn read(&self, rel: &str) -> Vec<u8> {
        fs::read(self.path(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.path(rel).symlink_metadata().is_ok()
    }

    /// Every file below `rel` (relative paths, sorted) with its bytes, skipping `.dvx`
    /// and `.git`.
    pub fn snapshot(&self, rel: &str) -> Vec<(String, Vec<u8>)> {
        let base = self.path(rel);
        let mut out = Vec::new();
        for entry in walkdir::WalkDir::new(&base).sort_by_file_name() {
            let entry = entry.expect("walk");
            let p = entry.path();
            let name = p
                .strip_prefix(&self.root)
                .expect("inside root")
                .to_string_lossy()
                .into_owned();
            if name.starts_with(".dvx") || name.starts_with(".git") || name.contains("/.git") {
                continue;
            }
            if entry.file_type().is_file() {
                out.push((name, fs::read(p).expect("read")));
            }
        }
        out
    }
}

/// Files and their bytes, sorted by path (what `Sandbox::snapshot` returns).
pub type Snapshot = Vec<(String, Vec<u8>)>;

/// An expected snapshot from literal paths and bytes.
pub fn snap(files: &[(&str, &[u8])]) -> Snapshot {
    let mut v: Snapshot = files
        .iter()
        .map(|(p, b)| ((*p).to_owned(), b.to_vec()))
        .collect();
    v.sort();
    v
}

/// Seconds since the epoch, now. gc compares object mtimes (real time) with the
/// `DVX_DATE` clock, so gc runs use clocks computed from this.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// A `DVX_DATE` far enough ahead that every object is old and every reflog entry expired.
pub fn far_future() -> String {
    (now() + 400 * 86_400).to_string()
}

/// Deterministic pseudo-random bytes (splitmix64), so tests need no data files.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// BLAKE3 of bytes as hex, as `b3sum` prints it.
pub fn b3(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// Assert that `path`'s text contains `needle`.
pub fn assert_contains(haystack: &str, needle: &str) {
    assert!(
        haystack.contains(needle),
        "expected to find {needle:?} in:\n{haystack}"
    );
}

/// The object path for an id in a repository's store.
pub fn object_path(root: &Path, hex: &str) -> PathBuf {
    root.join(".dvx/objects").join(&hex[..2]).join(&hex[2..])
}

impl Sandbox {
    /// Everything under `.dvx/`, one line per file or directory: path, and for files
    /// size, mtime (ns) and BLAKE3 of the bytes. For "changed nothing on disk" checks. The
    /// lock file is left out: it only anchors the kernel lock, and every writer (even one
    /// that then refuses) creates it and records its pid there.
    pub fn dvx_state(&self) -> Vec<String> {
        use std::os::unix::fs::MetadataExt;
        let base = self.path(".dvx");
        let mut out = Vec::new();
        for entry in walkdir::WalkDir::new(&base).sort_by_file_name() {
            let entry = entry.expect("walk .dvx");
            let name = entry
                .path()
                .strip_prefix(&self.root)
                .expect("inside root")
                .to_string_lossy()
                .into_owned();
            if name == ".dvx/lock" {
                continue;
            }
            let meta = entry.path().symlink_metadata().expect("lstat");
            if !meta.is_file() {
                out.push(name);
                continue;
            }
            let mtime = i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec());
            let bytes = fs::read(entry.path()).expect("read .dvx file");
            out.push(format!("{name} {} {mtime} {}", meta.len(), b3(&bytes)));
        }
        out
    }

    /// The object files in the local store (relative paths, sorted).
    pub fn objects(&self) -> Vec<String> {
        let mut out = Vec::new();
        for entry in walkdir::WalkDir::new(self.path(".dvx/objects")).sort_by_file_name() {
            let entry = entry.expect("walk objects");
            if entry.file_type().is_file() {
                let rel = entry
                    .path()
                    .strip_prefix(self.path(".dvx/objects"))
                    .expect("inside objects");
                out.push(rel.to_string_lossy().replace('/', ""));
            }
        }
        out
    }
}

/// Whether the tests run as root, for whom permission bits do not block reads or writes.
pub fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The `error:` and `hint:` lines of a failed command's stderr: exactly one of each, the
/// error first.
pub fn error_and_hint(stderr: &str) -> (String, String) {
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    let hints: Vec<&str> = stderr.lines().filter(|l| l.starts_with("hint:")).collect();
    assert_eq!(errors.len(), 1, "expected one error: line in:\n{stderr}");
    assert_eq!(hints.len(), 1, "expected one hint: line in:\n{stderr}");
    let first = stderr.lines().next().unwrap_or_default();
    assert!(first.starts_with("error:"), "error: comes first:\n{stderr}");
    (errors[0].to_owned(), hints[0].to_owned())
}
