//! dvx's block in `.gitignore` files.
//!
//! Every path given to `dvx add` gets one anchored line (`/name`) in the `.gitignore` of
//! its parent directory, inside a block dvx marks and owns, so git never stores the bytes.
//! Lines outside the block are the user's and are never touched. Walks read
//! `.gitignore` files through [`user_lines`], which skips the block: otherwise a second
//! `dvx add data/` would find its own data ignored. The block changes only under the
//! repository lock (its guard is a parameter of every change).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::atomic;
use crate::path::RepoPath;
use crate::repo::RepoLock;

pub const BEGIN: &str = "# >>> dvx: tracked data, managed by dvx (do not edit) >>>";
pub const END: &str = "# <<< dvx <<<";

/// The lines of a `.gitignore` text that are not in dvx's block.
pub fn user_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut inside = false;
    text.lines().filter(move |line| {
        let trimmed = line.trim_end();
        if trimmed == BEGIN {
            inside = true;
            return false;
        }
        if trimmed == END && inside {
            inside = false;
            return false;
        }
        !inside
    })
}

/// The anchored, escaped pattern that matches exactly `name` in its directory.
fn pattern_for(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('/');
    for c in name.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\' | '!' | '#') {
            out.push('\\');
        }
        out.push(c);
    }
    // Trailing spaces are stripped by git unless escaped.
    if out.ends_with(' ') {
        out.pop();
        out.push_str("\\ ");
    }
    out
}

/// Split a `.gitignore` text into (before block, block lines, after block).
fn split(text: &str) -> (Vec<&str>, Vec<&str>, Vec<&str>) {
    let mut before = Vec::new();
    let mut block = Vec::new();
    let mut after = Vec::new();
    let mut state = 0;
    for line in text.lines() {
        match (state, line.trim_end()) {
            (0, l) if l == BEGIN => state = 1,
            (1, l) if l == END => state = 2,
            (0, _) => before.push(line),
            (1, _) => block.push(line),
            _ => after.push(line),
        }
    }
    (before, block, after)
}

fn render(before: &[&str], block: &[String], after: &[&str]) -> String {
    let mut out = String::new();
    for line in before {
        out.push_str(line);
        out.push('\n');
    }
    if !block.is_empty() {
        out.push_str(BEGIN);
        out.push('\n');
        for line in block {
            out.push_str(line);
            out.push('\n');
        }
        out.push_str(END);
        out.push('\n');
    }
    for line in after {
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn gitignore_for(root: &Path, path: &RepoPath) -> PathBuf {
    path.parent()
        .unwrap_or_else(RepoPath::root)
        .to_fs_path(root)
        .join(".gitignore")
}

fn read(file: &Path) -> io::Result<String> {
    match fs::read_to_string(file) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(e),
    }
}

/// Make sure `path` is listed in dvx's block of its directory's `.gitignore`. Returns the
/// file when it changed.
pub fn add(root: &Path, lock: &RepoLock, path: &RepoPath) -> io::Result<Option<PathBuf>> {
    let file = gitignore_for(root, path);
    let text = read(&file)?;
    let pattern = pattern_for(path.file_name());
    let (before, block, after) = split(&text);
    if block.iter().any(|l| l.trim_end() == pattern) {
        return Ok(None);
    }
    let mut lines: Vec<String> = block.iter().map(|l| l.to_string()).collect();
    lines.push(pattern);
    lines.sort();
    lock.temps()
        .write(&file, render(&before, &lines, &after).as_bytes())?;
    Ok(Some(file))
}

/// Remove `path` from dvx's block; the block (and a file that held nothing else) goes
/// away when empty. Returns the file when it changed.
pub fn remove(root: &Path, lock: &RepoLock, path: &RepoPath) -> io::Result<Option<PathBuf>> {
    let file = gitignore_for(root, path);
    let text = read(&file)?;
    let pattern = pattern_for(path.file_name());
    let (before, block, after) = split(&text);
    if !block.iter().any(|l| l.trim_end() == pattern) {
        return Ok(None);
    }
    let lines: Vec<String> = block
        .iter()
        .filter(|l| l.trim_end() != pattern)
        .map(|l| l.to_string())
        .collect();
    let rendered = render(&before, &lines, &after);
    if rendered.trim().is_empty() {
        atomic::remove_file(&file)?;
    } else {
        lock.temps().write(&file, rendered.as_bytes())?;
    }
    Ok(Some(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> RepoPath {
        RepoPath::new(s).expect("valid")
    }

    /// A repository in `dir`, and its lock held.
    fn locked(dir: &Path) -> RepoLock {
        crate::repo::init(dir, true).expect("init");
        crate::repo::Repo::open(dir, None)
            .expect("open")
            .lock()
            .expect("lock")
    }

    #[test]
    fn adds_once_keeps_user_lines_and_removes_cleanly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lock = locked(dir.path());
        let gi = dir.path().join(".gitignore");
        atomic::write(&gi, b"*.tmp\n").expect("write");
        assert_eq!(
            add(dir.path(), &lock, &p("data")).expect("add"),
            Some(gi.clone())
        );
        assert_eq!(add(dir.path(), &lock, &p("data")).expect("add"), None);
        add(dir.path(), &lock, &p("model.pt")).expect("add");
        let text = fs::read_to_string(&gi).expect("read");
        assert_eq!(text, format!("*.tmp\n{BEGIN}\n/data\n/model.pt\n{END}\n"));
        assert_eq!(user_lines(&text).collect::<Vec<_>>(), ["*.tmp"]);
        remove(dir.path(), &lock, &p("data")).expect("rm");
        remove(dir.path(), &lock, &p("model.pt")).expect("rm");
        assert_eq!(fs::read_to_string(&gi).expect("read"), "*.tmp\n");
    }

    #[test]
    fn nested_paths_use_their_own_directory_and_escape_globs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lock = locked(dir.path());
        fs::create_dir_all(dir.path().join("a/b")).expect("mkdir");
        add(dir.path(), &lock, &p("a/b/[x]*.bin")).expect("add");
        let text = fs::read_to_string(dir.path().join("a/b/.gitignore")).expect("read");
        assert!(text.contains("/\\[x\\]\\*.bin\n"), "{text}");
        remove(dir.path(), &lock, &p("a/b/[x]*.bin")).expect("rm");
        assert!(!dir.path().join("a/b/.gitignore").exists());
    }
}
