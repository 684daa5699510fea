//! Where things live on a remote, and the remote's own description of itself.
//!
//! Owns: every key name under the remote's prefix (see docs/format.md, "Remote
//! layout") and `dvx-remote.toml`, its format version and default branch. Does not own
//! what the files hold (`pack`, `pack_index`, `large`, `refs`).
//!
//! Invariant: no key is also a "folder" of other keys (`refs/heads/main` is never a
//! key; a ref's history lives under `refs/heads/main/<seq>`), because some S3-compatible
//! servers answer a HEAD or GET of such a key wrongly.

use crate::hash::ObjectId;

/// The remote's description, at the top of its prefix.
pub const MANIFEST: &str = "dvx-remote.toml";
/// The remote format this build reads and writes.
pub const FORMAT: u32 = 1;
pub const PACKS: &str = "packs";
pub const OBJECTS: &str = "objects";
pub const REFS: &str = "refs";

/// Which kind of file in `packs/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackFile {
    Pack,
    Index,
}

pub fn pack_key(id: &ObjectId) -> String {
    format!("{PACKS}/{}.pack", id.to_hex())
}

pub fn index_key(id: &ObjectId) -> String {
    format!("{PACKS}/{}.idx", id.to_hex())
}

/// `objects/ab/cdef...`, as in the local store.
pub fn large_key(id: &ObjectId) -> String {
    let hex = id.to_hex();
    format!("{OBJECTS}/{}/{}", &hex[..2], &hex[2..])
}

/// A key under `packs/` (relative to the prefix): which pack and which file.
pub fn parse_pack_key(relative: &str) -> Option<(ObjectId, PackFile)> {
    let name = relative.strip_prefix("packs/")?;
    let (hex, kind) = if let Some(hex) = name.strip_suffix(".pack") {
        (hex, PackFile::Pack)
    } else {
        (name.strip_suffix(".idx")?, PackFile::Index)
    };
    Some((hex.parse().ok()?, kind))
}

/// A key under `objects/` (relative to the prefix): the large object it holds.
pub fn parse_large_key(relative: &str) -> Option<ObjectId> {
    let rest = relative.strip_prefix("objects/")?;
    let (fan, tail) = rest.split_once('/')?;
    if fan.len() != 2 {
        return None;
    }
    format!("{fan}{tail}").parse().ok()
}

/// What `dvx-remote.toml` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub format: u32,
    /// The branch `dvx clone` checks out; none until the first push names one.
    pub default_branch: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("{MANIFEST} on remote {url} is not valid: {reason}")]
    Invalid { url: String, reason: String },
    #[error("remote {url} has format {found}, but this dvx reads format {FORMAT}")]
    Newer { url: String, found: u32 },
}

impl Manifest {
    pub fn new(default_branch: Option<String>) -> Manifest {
        Manifest {
            format: FORMAT,
            default_branch,
        }
    }

    pub fn encode(&self) -> String {
        let mut text = format!(
            "# dvx remote: see docs/format.md, \"Remote layout\"\nformat = {}\n",
            self.format
        );
        if let Some(b) = &self.default_branch {
            let mut table = toml::Table::new();
            table.insert("default_branch".into(), toml::Value::String(b.clone()));
            text.push_str(&toml::to_string(&table).expect("a string table serialises"));
        }
        text
    }

    /// Parse the manifest of remote `url`; a newer format is refused, never misread.
    pub fn decode(url: &str, bytes: &[u8]) -> Result<Manifest, ManifestError> {
        let invalid = |reason: String| ManifestError::Invalid {
            url: url.into(),
            reason,
        };
        let text = std::str::from_utf8(bytes).map_err(|_| invalid("not UTF-8".into()))?;
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| invalid(e.message().to_owned()))?;
        let format = match table.get("format") {
            Some(toml::Value::Integer(f)) if *f == i64::from(FORMAT) => FORMAT,
            Some(toml::Value::Integer(f)) if *f > i64::from(FORMAT) => {
                return Err(ManifestError::Newer {
                    url: url.into(),
                    found: u32::try_from(*f).unwrap_or(u32::MAX),
                });
            }
            Some(toml::Value::Integer(f)) => return Err(invalid(format!("format {f}"))),
            Some(other) => {
                return Err(invalid(format!("format is {other}, not a whole number")));
            }
            None => return Err(invalid("no format".into())),
        };
        let default_branch = match table.get("default_branch") {
            None => None,
            Some(toml::Value::String(b)) => Some(b.clone()),
            Some(_) => return Err(invalid("default_branch is not a string".into())),
        };
        Ok(Manifest {
            format,
            default_branch,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_back() {
        let id = ObjectId::of(b"x");
        assert_eq!(parse_pack_key(&pack_key(&id)), Some((id, PackFile::Pack)));
        assert_eq!(parse_pack_key(&index_key(&id)), Some((id, PackFile::Index)));
        assert_eq!(parse_large_key(&large_key(&id)), Some(id));
        assert!(large_key(&id).starts_with(&format!("objects/{}/", &id.to_hex()[..2])));
        assert_eq!(parse_pack_key("packs/zz.idx"), None);
        assert_eq!(parse_large_key("objects/abc"), None);
    }

    #[test]
    fn manifest_round_trips_and_refuses_newer_formats() {
        let m = Manifest::new(Some("main".into()));
        assert_eq!(Manifest::decode("r", m.encode().as_bytes()), Ok(m));
        let bare = Manifest::new(None);
        assert_eq!(Manifest::decode("r", bare.encode().as_bytes()), Ok(bare));
        let err = Manifest::decode("s3://b/p", b"format = 2\n").expect_err("newer");
        assert_eq!(
            err.to_string(),
            "remote s3://b/p has format 2, but this dvx reads format 1"
        );
        assert!(Manifest::decode("r", b"format = 0\n").is_err());
        let err = Manifest::decode("r", b"format = \"1\"\n").expect_err("a string");
        assert!(
            err.to_string()
                .ends_with("format is \"1\", not a whole number"),
            "{err}"
        );
        assert!(Manifest::decode("r", b"\xff").is_err());
    }
}
