//! Repository-relative paths: validation and ordering.
//!
//! A [`RepoPath`] is a `/`-separated path relative to the work-tree root. The empty path is
//! the root itself. Every component is a valid [name](validate_name): non-empty UTF-8
//! without `/` or NUL, and not `.` or `..`.
//!
//! Paths order component by component, bytewise (`a/b` sorts before `a.b`, because the
//! component `a` sorts before `a.b`). The index, trees and diffs all use this order, so a
//! directory's contents are one contiguous run of the index and merge joins never see
//! phantom add/delete pairs.

use std::cmp::Ordering;
use std::fmt;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a name or path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("empty path component in '{0}'")]
    EmptyComponent(String),
    #[error("'{0}' is not allowed as a path component")]
    DotComponent(String),
    #[error("path '{0}' contains a NUL byte")]
    Nul(String),
    #[error("path '{0}' is not valid UTF-8")]
    NotUtf8(String),
    #[error("path '{0}' is outside the repository")]
    Outside(String),
}

/// Check one path component.
pub fn validate_name(name: &str) -> Result<(), Error> {
    if name.is_empty() {
        return Err(Error::EmptyComponent(name.to_owned()));
    }
    if name == "." || name == ".." {
        return Err(Error::DotComponent(name.to_owned()));
    }
    if name.contains('\0') {
        return Err(Error::Nul(name.to_owned()));
    }
    if name.contains('/') {
        return Err(Error::EmptyComponent(name.to_owned()));
    }
    Ok(())
}

/// Whether `name` is git's or dvx's own directory (`.git`, `.dvx`, in any case: on a
/// case-insensitive file system `.GIT` is `.git`). No tree holds such a name, and nothing
/// is ever written below one.
pub fn is_reserved_name(name: &str) -> bool {
    name.eq_ignore_ascii_case(".git") || name.eq_ignore_ascii_case(".dvx")
}

/// Compare two `/`-separated paths component by component, bytewise.
///
/// Equivalent to comparing with `/` replaced by a byte lower than any other, which is
/// valid because names never contain NUL.
pub fn compare(a: &str, b: &str) -> Ordering {
    let key = |c: u8| if c == b'/' { 0 } else { c };
    a.bytes().map(key).cmp(b.bytes().map(key))
}

/// A validated path relative to the repository root.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct RepoPath(String);

impl RepoPath {
    /// The repository root (the empty path).
    pub fn root() -> Self {
        RepoPath(String::new())
    }

    /// Parse and validate a `/`-separated relative path.
    pub fn new(path: &str) -> Result<Self, Error> {
        if path.is_empty() {
            return Ok(Self::root());
        }
        if path.contains('\0') {
            return Err(Error::Nul(path.to_owned()));
        }
        for component in path.split('/') {
            match component {
                "" => return Err(Error::EmptyComponent(path.to_owned())),
                "." | ".." => return Err(Error::DotComponent(path.to_owned())),
                _ => {}
            }
        }
        Ok(RepoPath(path.to_owned()))
    }

    /// Build a path from a file-system path relative to the root.
    pub fn from_relative(path: &Path) -> Result<Self, Error> {
        let mut out = String::new();
        for component in path.components() {
            match component {
                Component::Normal(name) => {
                    let name = name
                        .to_str()
                        .ok_or_else(|| Error::NotUtf8(path.display().to_string()))?;
                    validate_name(name)?;
                    if !out.is_empty() {
                        out.push('/');
                    }
                    out.push_str(name);
                }
                Component::CurDir => {}
                _ => return Err(Error::Outside(path.display().to_string())),
            }
        }
        Ok(RepoPath(out))
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// This path with one more component.
    pub fn join(&self, name: &str) -> Result<Self, Error> {
        validate_name(name)?;
        Ok(self.join_unchecked(name))
    }

    /// Join a name already known to be valid (it came from a decoded tree or a validated
    /// path).
    pub fn join_unchecked(&self, name: &str) -> Self {
        if self.0.is_empty() {
            RepoPath(name.to_owned())
        } else {
            let mut s = String::with_capacity(self.0.len() + 1 + name.len());
            s.push_str(&self.0);
            s.push('/');
            s.push_str(name);
            RepoPath(s)
        }
    }

    /// `rel` (relative to `self`) as a path from the root.
    pub fn join_path(&self, rel: &RepoPath) -> Self {
        if rel.is_root() {
            self.clone()
        } else {
            self.join_unchecked(rel.as_str())
        }
    }

    /// The parent directory as a string slice (empty for a top-level path and the root),
    /// for comparing parents without building paths.
    pub fn parent_str(&self) -> &str {
        self.0.rfind('/').map_or("", |i| &self.0[..i])
    }

    /// The parent directory; `None` for the root.
    pub fn parent(&self) -> Option<RepoPath> {
        if self.0.is_empty() {
            return None;
        }
        Some(match self.0.rfind('/') {
            Some(i) => RepoPath(self.0[..i].to_owned()),
            None => RepoPath::root(),
        })
    }

    /// The last component; empty for the root.
    pub fn file_name(&self) -> &str {
        match self.0.rfind('/') {
            Some(i) => &self.0[i + 1..],
            None => &self.0,
        }
    }

    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|c| !c.is_empty())
    }

    /// Every proper ancestor, from the root down (the root included, `self` excluded).
    pub fn ancestors(&self) -> impl Iterator<Item = RepoPath> + '_ {
        let ends = self.0.match_indices('/').map(|(i, _)| i);
        std::iter::once(RepoPath::root())
            .chain(ends.map(|i| RepoPath(self.0[..i].to_owned())))
            .take(if self.is_root() { 0 } else { usize::MAX })
    }

    /// True when `self` is `dir` or lies below it. Every path lies below the root.
    pub fn is_within(&self, dir: &RepoPath) -> bool {
        if dir.is_root() {
            return true;
        }
        self.0.len() >= dir.0.len()
            && self.0.starts_with(&dir.0)
            && (self.0.len() == dir.0.len() || self.0.as_bytes()[dir.0.len()] == b'/')
    }

    /// The part of `self` below `dir`, if `self` lies strictly below it.
    pub fn strip_dir(&self, dir: &RepoPath) -> Option<&str> {
        if dir.is_root() {
            return (!self.is_root()).then_some(self.0.as_str());
        }
        if self.0.len() > dir.0.len() + 1
            && self.0.starts_with(&dir.0)
            && self.0.as_bytes()[dir.0.len()] == b'/'
        {
            Some(&self.0[dir.0.len() + 1..])
        } else {
            None
        }
    }

    /// The file-system location of this path under `root`.
    pub fn to_fs_path(&self, root: &Path) -> PathBuf {
        let mut p = root.to_path_buf();
        for c in self.components() {
            p.push(c);
        }
        p
    }
}

impl Ord for RepoPath {
    fn cmp(&self, other: &Self) -> Ordering {
        compare(&self.0, &other.0)
    }
}

impl PartialOrd for RepoPath {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for RepoPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str(".")
        } else {
            f.write_str(&self.0)
        }
    }
}

impl fmt::Debug for RepoPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl Serialize for RepoPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RepoPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        RepoPath::new(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> RepoPath {
        RepoPath::new(s).expect("valid test path")
    }

    #[test]
    fn orders_component_wise() {
        assert!(p("a/b") < p("a.b"));
        assert!(p("a") < p("a/b"));
        assert!(p("a/b") < p("a0"));
        assert!(p("") < p("a"));
        assert_eq!(compare("x/y", "x/y"), Ordering::Equal);
    }

    #[test]
    fn refuses_bad_paths() {
        assert!(RepoPath::new("a//b").is_err());
        assert!(RepoPath::new("/a").is_err());
        assert!(RepoPath::new("a/").is_err());
        assert!(RepoPath::new("a/../b").is_err());
        assert!(RepoPath::new("./a").is_err());
        assert!(RepoPath::new("a\0b").is_err());
        assert!(validate_name("..").is_err());
        assert!(validate_name("").is_err());
    }

    #[test]
    fn navigates() {
        let x = p("a/b/c");
        assert_eq!(x.parent(), Some(p("a/b")));
        assert_eq!(x.parent_str(), "a/b");
        assert_eq!(p("a").parent_str(), "");
        assert_eq!(p("a").parent(), Some(RepoPath::root()));
        assert_eq!(RepoPath::root().parent(), None);
        assert_eq!(x.file_name(), "c");
        let anc: Vec<_> = x.ancestors().collect();
        assert_eq!(anc, vec![p(""), p("a"), p("a/b")]);
        assert_eq!(RepoPath::root().ancestors().count(), 0);
        assert!(x.is_within(&p("a")));
        assert!(x.is_within(&p("a/b/c")));
        assert!(!p("ab").is_within(&p("a")));
        assert_eq!(x.strip_dir(&p("a")), Some("b/c"));
        assert_eq!(x.strip_dir(&RepoPath::root()), Some("a/b/c"));
        assert_eq!(p("a").strip_dir(&p("a")), None);
    }

    #[test]
    fn converts_from_fs_paths() {
        assert_eq!(
            RepoPath::from_relative(Path::new("./a/b")).expect("valid"),
            p("a/b")
        );
        assert!(RepoPath::from_relative(Path::new("../a")).is_err());
    }
}
