//! `dvx.lock`: the dvx commit that the code at a git commit expects.
//!
//! A few lines of TOML at the top of the work tree, tracked by git, so that checking out
//! an old git commit can bring back the data it was made with. Stable and readable: the
//! same pin always renders to the same bytes.
//!
//! Owns the file's format and every way of reading it: in the work tree ([`Pin::read`]),
//! at a git revision ([`at_revision`], [`bytes_at`]), both sides of a git merge conflict
//! ([`conflict_sides`]), and the commits any version of the text names ([`pinned_by`]).
//! The work tree's file is written only under the repository lock ([`Pin::write`]).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::GitRepo;
use crate::hash::ObjectId;
use crate::repo::RepoLock;

pub const FILE_NAME: &str = "dvx.lock";
const FORMAT: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{where_} cannot be parsed: {message}")]
    Parse { where_: String, message: String },
    #[error("{where_} has format {found}, but this dvx reads format {FORMAT}")]
    NewerFormat { where_: String, found: u32 },
    #[error("{where_} is not UTF-8")]
    NotUtf8 { where_: String },
    #[error(transparent)]
    Git(#[from] super::Error),
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// A pinned data version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub commit: ObjectId,
    /// The dvx branch the commit was made on, if any.
    pub branch: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct PinFile {
    format: u32,
    commit: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    branch: Option<String>,
}

impl Pin {
    /// The file's text.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "# The dvx data version this code uses. Written by `dvx commit`; commit it with git.\n",
        );
        out.push_str(&format!(
            "format = {FORMAT}\ncommit = \"{}\"\n",
            self.commit
        ));
        if let Some(b) = &self.branch {
            out.push_str(&format!("branch = {}\n", toml::Value::String(b.clone())));
        }
        out
    }

    /// Parse the file's text; `where_` names it in errors (a path or `rev:dvx.lock`).
    pub fn parse(text: &str, where_: &str) -> Result<Pin, Error> {
        let parse_err = |message: String| Error::Parse {
            where_: where_.to_owned(),
            message,
        };
        if text.contains("\n<<<<<<<") || text.starts_with("<<<<<<<") {
            return Err(parse_err(
                "it has merge conflict markers (resolve with `dvx merge --git-conflict`)".into(),
            ));
        }
        let file: PinFile = toml::from_str(text).map_err(|e| parse_err(e.message().to_owned()))?;
        if file.format > FORMAT {
            return Err(Error::NewerFormat {
                where_: where_.to_owned(),
                found: file.format,
            });
        }
        let commit = file
            .commit
            .parse()
            .map_err(|_| parse_err(format!("'{}' is not a dvx commit id", file.commit)))?;
        Ok(Pin {
            commit,
            branch: file.branch,
        })
    }

    /// Parse the file's bytes; `where_` names it in errors.
    pub fn parse_bytes(bytes: &[u8], where_: &str) -> Result<Pin, Error> {
        let text = std::str::from_utf8(bytes).map_err(|_| Error::NotUtf8 {
            where_: where_.to_owned(),
        })?;
        Pin::parse(text, where_)
    }

    /// Read `dvx.lock` in the work tree; `None` when there is none.
    pub fn read(root: &Path) -> Result<Option<Pin>, Error> {
        let path = root.join(FILE_NAME);
        match fs::read_to_string(&path) {
            Ok(text) => Pin::parse(&text, FILE_NAME).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::Io { path, source }),
        }
    }

    /// Write `dvx.lock` in the work tree `root`, under the repository lock (always the
    /// last write of a command); returns whether its bytes changed.
    pub fn write(&self, root: &Path, lock: &RepoLock) -> Result<bool, Error> {
        let path = root.join(FILE_NAME);
        let text = self.render();
        if fs::read_to_string(&path).ok().as_deref() == Some(text.as_str()) {
            return Ok(false);
        }
        lock.temps()
            .write_durable(&path, text.as_bytes())
            .map_err(|source| Error::Io { path, source })?;
        Ok(true)
    }
}

/// The bytes of `dvx.lock` in git revision `rev`; `None` when that commit has none, and
/// for the null id (all zeros) or an empty name, which git hooks pass for "no commit".
pub fn bytes_at(git: &GitRepo, rev: &str) -> Result<Option<Vec<u8>>, super::Error> {
    if rev.is_empty() || rev.bytes().all(|b| b == b'0') {
        return Ok(None);
    }
    git.read_at(rev, FILE_NAME)
}

/// The pin `dvx.lock` holds in git revision `rev` (named `<rev>:dvx.lock` in errors);
/// `None` when that commit has no `dvx.lock`.
pub fn at_revision(git: &GitRepo, rev: &str) -> Result<Option<Pin>, Error> {
    match bytes_at(git, rev)? {
        Some(bytes) => Pin::parse_bytes(&bytes, &format!("{rev}:{FILE_NAME}")).map(Some),
        None => Ok(None),
    }
}

/// The commits a `dvx.lock` text pins: one, or both sides of a merge conflict committed
/// as is. A text that does not parse pins nothing.
pub fn pinned_by(text: &str) -> Vec<ObjectId> {
    if let Ok(p) = Pin::parse(text, FILE_NAME) {
        return vec![p.commit];
    }
    let Some((ours, theirs)) = parse_conflict(text) else {
        return Vec::new();
    };
    [ours, theirs]
        .iter()
        .filter_map(|side| Pin::parse(side, FILE_NAME).ok())
        .map(|p| p.commit)
        .collect()
}

/// The pins on both sides of a conflicted `dvx.lock`, ours first: from git's index
/// (stages 2 and 3) while a git merge is in progress, else from the conflict markers in
/// the work tree's file (`root`). `None` when the file has no conflict.
pub fn conflict_sides(git: &GitRepo, root: &Path) -> Result<Option<(Pin, Pin)>, Error> {
    if let (Ok(ours), Ok(theirs)) = (
        git.git(&["show", &format!(":2:{FILE_NAME}")]),
        git.git(&["show", &format!(":3:{FILE_NAME}")]),
    ) {
        return Ok(Some((
            Pin::parse(&ours, "dvx.lock (ours)")?,
            Pin::parse(&theirs, "dvx.lock (theirs)")?,
        )));
    }
    let path = root.join(FILE_NAME);
    let text = fs::read_to_string(&path).map_err(|source| Error::Io { path, source })?;
    let Some((ours, theirs)) = parse_conflict(&text) else {
        return Ok(None);
    };
    Ok(Some((
        Pin::parse(&ours, "dvx.lock (ours)")?,
        Pin::parse(&theirs, "dvx.lock (theirs)")?,
    )))
}

/// The two sides of a `dvx.lock` that git left with conflict markers.
pub fn parse_conflict(text: &str) -> Option<(String, String)> {
    let mut ours = String::new();
    let mut theirs = String::new();
    let mut state = 0;
    let mut saw = false;
    for line in text.lines() {
        if line.starts_with("<<<<<<<") {
            state = 1;
            saw = true;
            continue;
        }
        if line.starts_with("|||||||") && state == 1 {
            state = 3;
            continue;
        }
        if line.starts_with("=======") && (state == 1 || state == 3) {
            state = 2;
            continue;
        }
        if line.starts_with(">>>>>>>") && state == 2 {
            state = 0;
            continue;
        }
        let target = match state {
            0 => None,
            1 => Some(&mut ours),
            2 => Some(&mut theirs),
            _ => continue,
        };
        match target {
            Some(t) => {
                t.push_str(line);
                t.push('\n');
            }
            None => {
                ours.push_str(line);
                ours.push('\n');
                theirs.push_str(line);
                theirs.push('\n');
            }
        }
    }
    saw.then_some((ours, theirs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_is_stable() {
        let pin = Pin {
            commit: ObjectId::of(b"c"),
            branch: Some("main".into()),
        };
        let text = pin.render();
        assert_eq!(Pin::parse(&text, "dvx.lock").expect("parses"), pin);
        assert_eq!(text, pin.render());
        assert!(text.contains("commit = \""));
    }

    #[test]
    fn bad_files_are_named() {
        let err = Pin::parse("commit = 5", "v1:dvx.lock").expect_err("bad");
        assert!(err.to_string().starts_with("v1:dvx.lock"));
        let err = Pin::parse("format = 9\ncommit = \"x\"\n", "dvx.lock").expect_err("newer");
        assert!(matches!(err, Error::NewerFormat { found: 9, .. }));
    }

    #[test]
    fn splits_conflicts() {
        let a = Pin {
            commit: ObjectId::of(b"a"),
            branch: Some("main".into()),
        }
        .render();
        let b = Pin {
            commit: ObjectId::of(b"b"),
            branch: Some("main".into()),
        }
        .render();
        let (head, a_rest) = a.split_at(a.find("\ncommit").expect("line") + 1);
        let b_rest = &b[b.find("\ncommit").expect("line") + 1..];
        let (a_commit, tail) = a_rest.split_at(a_rest.find('\n').expect("nl") + 1);
        let b_commit = &b_rest[..b_rest.find('\n').expect("nl") + 1];
        let text =
            format!("{head}<<<<<<< HEAD\n{a_commit}=======\n{b_commit}>>>>>>> other\n{tail}");
        assert!(Pin::parse(&text, "dvx.lock").is_err());
        let (ours, theirs) = parse_conflict(&text).expect("conflict");
        assert_eq!(
            Pin::parse(&ours, "ours").expect("ours").commit,
            ObjectId::of(b"a")
        );
        assert_eq!(
            Pin::parse(&theirs, "theirs").expect("theirs").commit,
            ObjectId::of(b"b")
        );
        // Committed with its markers, the text pins both sides.
        assert_eq!(pinned_by(&text), [ObjectId::of(b"a"), ObjectId::of(b"b")]);
        assert_eq!(pinned_by(&a), [ObjectId::of(b"a")]);
        assert!(pinned_by("not toml at all [").is_empty());
    }

    #[test]
    fn bytes_that_are_not_utf8_are_named() {
        let err = Pin::parse_bytes(b"\xff\xfe", "v1:dvx.lock").expect_err("not utf-8");
        assert_eq!(err.to_string(), "v1:dvx.lock is not UTF-8");
    }
}
