//! Commits: one dataset version.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{DecodeError, Encode, Kind};
use crate::hash::ObjectId;

/// Who made a commit, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    pub name: String,
    pub email: String,
    /// Seconds since the Unix epoch.
    pub time: i64,
    /// The author's offset from UTC, in minutes.
    pub tz_minutes: i16,
}

impl Signature {
    /// Parse `Name <email>`.
    pub fn parse_identity(s: &str) -> Option<(String, String)> {
        let open = s.find('<')?;
        let close = s[open..].find('>')? + open;
        if s[close + 1..].trim().is_empty() {
            let name = s[..open].trim().to_owned();
            let email = s[open + 1..close].trim().to_owned();
            (!name.is_empty()).then_some((name, email))
        } else {
            None
        }
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} <{}>", self.name, self.email)
    }
}

/// Which hash function a git commit id uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GitHash {
    Sha1,
    Sha256,
}

impl GitHash {
    /// Bytes in an id of this kind.
    pub fn id_len(self) -> usize {
        match self {
            GitHash::Sha1 => 20,
            GitHash::Sha256 => 32,
        }
    }
}

/// The git commit the code was at when a dvx commit was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitLink {
    pub algorithm: GitHash,
    pub id: Vec<u8>,
    /// The git work tree had uncommitted changes.
    pub dirty: bool,
}

impl GitLink {
    pub fn hex(&self) -> String {
        self.id.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// A field added after format 1. Readers carry unknown extensions along; an unknown
/// critical one makes the commit unreadable, since ignoring it would misread the data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    pub key: String,
    pub critical: bool,
    pub value: Vec<u8>,
}

/// Extension keys this build understands (none yet).
const KNOWN_EXTENSIONS: &[&str] = &[];

/// A dataset version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    pub tree: ObjectId,
    pub parents: Vec<ObjectId>,
    pub author: Signature,
    pub message: String,
    pub git: Option<GitLink>,
    /// Run records (lineage) made in this commit, by id.
    pub runs: Vec<ObjectId>,
    /// Sorted by key, unique.
    pub extensions: Vec<Extension>,
}

impl Commit {
    /// The first line of the message.
    pub fn summary(&self) -> &str {
        self.message.lines().next().unwrap_or("")
    }
}

impl Encode for Commit {
    const KIND: Kind = Kind::Commit;

    fn validate(&self) -> Result<(), DecodeError> {
        for (i, p) in self.parents.iter().enumerate() {
            if self.parents[..i].contains(p) {
                return Err(DecodeError::Invalid(format!(
                    "parent {} listed twice",
                    p.short()
                )));
            }
        }
        if let Some(git) = &self.git
            && git.id.len() != git.algorithm.id_len()
        {
            return Err(DecodeError::Invalid(
                "git commit id has the wrong length".into(),
            ));
        }
        validate_extensions(&self.extensions)
    }
}

/// Extension keys strictly increasing, and none critical that this build does not know
/// (shared by every object kind that carries extensions).
pub(super) fn validate_extensions(extensions: &[Extension]) -> Result<(), DecodeError> {
    for (i, ext) in extensions.iter().enumerate() {
        if i > 0 && extensions[i - 1].key >= ext.key {
            return Err(DecodeError::Invalid(format!(
                "extensions out of order or duplicated at '{}'",
                ext.key
            )));
        }
        if ext.critical && !KNOWN_EXTENSIONS.contains(&ext.key.as_str()) {
            return Err(DecodeError::Invalid(format!(
                "needs a newer dvx: unknown critical extension '{}'",
                ext.key
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit() -> Commit {
        Commit {
            tree: ObjectId::of(b"tree"),
            parents: vec![ObjectId::of(b"p")],
            author: Signature {
                name: "A U Thor".into(),
                email: "a@example.com".into(),
                time: 1_700_000_000,
                tz_minutes: 60,
            },
            message: "first\n\nbody".into(),
            git: Some(GitLink {
                algorithm: GitHash::Sha1,
                id: vec![7; 20],
                dirty: true,
            }),
            runs: vec![],
            extensions: vec![Extension {
                key: "x-later".into(),
                critical: false,
                value: vec![1, 2],
            }],
        }
    }

    #[test]
    fn round_trips_and_carries_unknown_extensions() {
        let c = commit();
        let back = Commit::decode(&c.encode()).expect("decodes");
        assert_eq!(back, c);
        assert_eq!(back.summary(), "first");
    }

    #[test]
    fn refuses_unknown_critical_extension() {
        let mut c = commit();
        c.extensions[0].critical = true;
        assert!(matches!(
            Commit::decode(&c.encode()),
            Err(DecodeError::Invalid(_))
        ));
    }

    #[test]
    fn refuses_duplicate_parents_and_bad_git_ids() {
        let mut c = commit();
        c.parents.push(c.parents[0]);
        assert!(Commit::decode(&c.encode()).is_err());
        let mut c = commit();
        c.git.as_mut().expect("has git").id.pop();
        assert!(Commit::decode(&c.encode()).is_err());
    }

    #[test]
    fn parses_identities() {
        assert_eq!(
            Signature::parse_identity("Ann Lee <ann@x.org>"),
            Some(("Ann Lee".into(), "ann@x.org".into()))
        );
        assert_eq!(Signature::parse_identity("nobody"), None);
        assert_eq!(Signature::parse_identity("<a@b>"), None);
    }
}
