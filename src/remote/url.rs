//! Remote URLs: where a remote lives.
//!
//! Owns: parsing what a user writes after `dvx remote add <name>` into a [`RemoteUrl`]:
//! a local directory (a path or `file://`), `s3://bucket/prefix`, `gs://bucket/prefix` or
//! `az://container/prefix`. Does not own settings or credentials (`settings`) or
//! connecting (`backend`).
//!
//! Invariants: a parsed prefix has no empty, `.` or `..` component, so a key built under
//! it can never leave it; anything that is not one of the four forms is refused with an
//! error naming the URL as written, [`masked`]: a user-info part or a query (where a
//! password or a SAS token would sit) is never echoed. A path that starts like a URL
//! (`s3:/bucket`, `file:x`, `C:\x`) or with `~` is refused too: taken as a relative
//! directory it would quietly become a directory inside the work tree.

use std::fmt;
use std::path::{Path, PathBuf};

/// The kind of store a remote URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Directory,
    S3,
    Gcs,
    Azure,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Directory => "directory",
            Kind::S3 => "s3",
            Kind::Gcs => "gcs",
            Kind::Azure => "azure",
        }
    }
}

/// A parsed remote URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteUrl {
    /// A directory on a file system this machine mounts. Relative paths are kept as
    /// written; the caller resolves them (against the repository top) before connecting.
    Directory(PathBuf),
    /// `s3://bucket/prefix`: Amazon S3 or an S3-compatible store (custom endpoint).
    S3 { bucket: String, prefix: Vec<String> },
    /// `gs://bucket/prefix`: Google Cloud Storage.
    Gcs { bucket: String, prefix: Vec<String> },
    /// `az://container/prefix`: Azure Blob Storage (the account comes from settings).
    Azure {
        container: String,
        prefix: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("remote URL '{url}' is empty")]
    Empty { url: String },
    #[error(
        "remote URL '{url}' has an unsupported scheme '{scheme}' (expected a path, file://, s3://, gs:// or az://)"
    )]
    UnsupportedScheme { url: String, scheme: String },
    #[error("remote URL '{url}' names no {what}")]
    MissingBucket { url: String, what: &'static str },
    #[error("remote URL '{url}': '{name}' is not a valid {what} name")]
    BadBucket {
        url: String,
        name: String,
        what: &'static str,
    },
    #[error("remote URL '{url}': the prefix may not contain '{component}'")]
    BadPrefix { url: String, component: String },
    #[error("remote URL '{url}': file:// URLs must name a local absolute path (file:///path)")]
    BadFileUrl { url: String },
    #[error("remote URL '{url}' may not carry a query, fragment or user name")]
    Decorated { url: String },
    /// `s3:/bucket`, `file:data`, `C:\x`: a scheme-like start, but none of the URL forms.
    #[error("remote URL '{url}' starts with '{scheme}:' but is not one of the URL forms")]
    NotAUrl { url: String, scheme: String },
    /// `~/x` reached dvx unexpanded (quoted, or written into the config by hand).
    #[error("remote URL '{url}' starts with '~', which only a shell expands")]
    Tilde { url: String },
}

impl RemoteUrl {
    /// Parse a remote URL as a user wrote it.
    pub fn parse(written: &str) -> Result<RemoteUrl, Error> {
        // Errors echo the URL, but never a user-info part or a query: either can hold a
        // secret.
        let shown = masked(written);
        let url = shown.as_str();
        let trimmed = written.trim();
        if trimmed.is_empty() {
            return Err(Error::Empty { url: url.into() });
        }
        let Some((scheme, rest)) = trimmed.split_once("://") else {
            return parse_path(url, trimmed);
        };
        let lower = scheme.to_ascii_lowercase();
        match lower.as_str() {
            "file" => parse_file(url, rest),
            "s3" | "gs" | "az" => {
                if rest.contains(['?', '#', '@']) {
                    return Err(Error::Decorated { url: url.into() });
                }
                let (bucket, path) = rest.split_once('/').unwrap_or((rest, ""));
                let what = if lower == "az" { "container" } else { "bucket" };
                if bucket.is_empty() {
                    return Err(Error::MissingBucket {
                        url: url.into(),
                        what,
                    });
                }
                if !valid_bucket(bucket) {
                    return Err(Error::BadBucket {
                        url: url.into(),
                        name: bucket.into(),
                        what,
                    });
                }
                let prefix = parse_prefix(url, path)?;
                let bucket = bucket.to_owned();
                Ok(match lower.as_str() {
                    "s3" => RemoteUrl::S3 { bucket, prefix },
                    "gs" => RemoteUrl::Gcs { bucket, prefix },
                    _ => RemoteUrl::Azure {
                        container: bucket,
                        prefix,
                    },
                })
            }
            _ => Err(Error::UnsupportedScheme {
                url: url.into(),
                scheme: scheme.into(),
            }),
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            RemoteUrl::Directory(_) => Kind::Directory,
            RemoteUrl::S3 { .. } => Kind::S3,
            RemoteUrl::Gcs { .. } => Kind::Gcs,
            RemoteUrl::Azure { .. } => Kind::Azure,
        }
    }

    /// The key prefix inside the bucket or container (empty for a directory remote,
    /// whose path is the root of its store).
    pub fn prefix(&self) -> &[String] {
        match self {
            RemoteUrl::Directory(_) => &[],
            RemoteUrl::S3 { prefix, .. }
            | RemoteUrl::Gcs { prefix, .. }
            | RemoteUrl::Azure { prefix, .. } => prefix,
        }
    }

    /// A directory remote's path made absolute against `base` (the repository top, for
    /// a relative path written in the config); other URLs are returned unchanged. The
    /// leading `..` and `.` of the relative path are taken off `base` (the top is a real
    /// directory, so its parent is its last component's), so output names
    /// `/srv/store`, not `/srv/repo/../store`; later components are kept as written (a
    /// symlink among them decides where their `..` goes).
    pub fn resolved_against(&self, base: &Path) -> RemoteUrl {
        let RemoteUrl::Directory(p) = self else {
            return self.clone();
        };
        if !p.is_relative() {
            return self.clone();
        }
        let mut out = base.to_path_buf();
        let mut rest = p.components().peekable();
        while let Some(c) = rest.peek() {
            match c {
                std::path::Component::CurDir => {}
                // At the root `..` stays there, as the file system has it.
                std::path::Component::ParentDir => {
                    out.pop();
                }
                _ => break,
            }
            rest.next();
        }
        out.extend(rest);
        RemoteUrl::Directory(out)
    }
}

/// A local path as written. A relative path is recorded and used relative to the
/// work-tree top, so a mistyped URL (`s3:/bucket`) or an unexpanded `~` would become a
/// directory inside the repository: both are refused.
fn parse_path(url: &str, path: &str) -> Result<RemoteUrl, Error> {
    if path.starts_with('~') {
        return Err(Error::Tilde { url: url.into() });
    }
    if let Some(scheme) = scheme_like(path) {
        return Err(Error::NotAUrl {
            url: url.into(),
            scheme: scheme.into(),
        });
    }
    Ok(RemoteUrl::Directory(PathBuf::from(path)))
}

/// The `scheme` of a path that starts `scheme:` as a URL does (RFC 3986: a letter, then
/// letters, digits, `+`, `-` or `.`), before any `/`. A relative directory whose name
/// has a colon is still possible, written `./name:x`.
fn scheme_like(path: &str) -> Option<&str> {
    let (head, _) = path.split_once(':')?;
    let mut chars = head.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then_some(head)
}

fn parse_file(url: &str, rest: &str) -> Result<RemoteUrl, Error> {
    // file:///abs/path or file://localhost/abs/path; percent-escapes are not decoded
    // (a path with a literal '%' is written as a plain path instead).
    let path = rest.strip_prefix("localhost").unwrap_or(rest);
    if !path.starts_with('/') || path.contains(['?', '#']) {
        return Err(Error::BadFileUrl { url: url.into() });
    }
    Ok(RemoteUrl::Directory(PathBuf::from(path)))
}

fn parse_prefix(url: &str, path: &str) -> Result<Vec<String>, Error> {
    let mut prefix = Vec::new();
    for component in path.split('/') {
        match component {
            "" => {}
            "." | ".." => {
                return Err(Error::BadPrefix {
                    url: url.into(),
                    component: component.into(),
                });
            }
            c if c.chars().any(|ch| ch.is_control() || ch == '\\') => {
                return Err(Error::BadPrefix {
                    url: url.into(),
                    component: c.into(),
                });
            }
            c => prefix.push(c.to_owned()),
        }
    }
    Ok(prefix)
}

/// Bucket and container names: the characters every one of the three services allows
/// somewhere (each service has stricter rules of its own, which it enforces).
fn valid_bucket(name: &str) -> bool {
    name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !name.starts_with(['-', '.'])
}

impl fmt::Display for RemoteUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (scheme, bucket, prefix) = match self {
            RemoteUrl::Directory(p) => return write!(f, "{}", p.display()),
            RemoteUrl::S3 { bucket, prefix } => ("s3", bucket, prefix),
            RemoteUrl::Gcs { bucket, prefix } => ("gs", bucket, prefix),
            RemoteUrl::Azure { container, prefix } => ("az", container, prefix),
        };
        write!(f, "{scheme}://{bucket}")?;
        for c in prefix {
            write!(f, "/{c}")?;
        }
        Ok(())
    }
}

/// `written` as it may be shown: a user-info part (`scheme://user:password@host`) and a
/// query or fragment (`?sig=...`, where a SAS token travels) replaced by `***`. Every
/// URL or endpoint dvx echoes goes through this.
///
/// Everything up to the last `@` is hidden, not only what comes before the first `/`:
/// secret keys hold `/` (AWS's own example key does), so the host cannot be told from
/// the password. A path with an `@` in it is over-masked, which is harmless. The typo
/// form `s3:/…` (refused, but echoed in that error) is masked as a URL; a plain path is
/// shown as it is.
pub fn masked(written: &str) -> String {
    let Some((scheme, rest)) = split_scheme(written) else {
        return written.to_owned();
    };
    let (rest, hidden_tail) = match rest.find(['?', '#']) {
        Some(at) => (&rest[..at], Some(&rest[at..at + 1])),
        None => (rest, None),
    };
    let mut out = scheme.to_owned();
    match rest.rfind('@') {
        Some(at) => {
            out.push_str("***@");
            out.push_str(&rest[at + 1..]);
        }
        None => out.push_str(rest),
    }
    if let Some(mark) = hidden_tail {
        out.push_str(mark);
        out.push_str("***");
    }
    out
}

/// `written` split after its scheme (`s3://`, or a typo's `s3:`/`s3:/`), if it has one:
/// letters, digits, `+`, `-` or `.` (starting with a letter), then `:`. A Windows drive
/// letter (`C:`) counts too, which only over-masks.
fn split_scheme(written: &str) -> Option<(&str, &str)> {
    let colon = written.find(':')?;
    let name = &written[..colon];
    let is_scheme = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !is_scheme {
        return None;
    }
    let slashes = written[colon + 1..]
        .chars()
        .take_while(|c| *c == '/')
        .count();
    Some(written.split_at(colon + 1 + slashes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> RemoteUrl {
        RemoteUrl::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn local_paths_and_file_urls_are_directory_remotes() {
        assert_eq!(parse("/srv/dvx"), RemoteUrl::Directory("/srv/dvx".into()));
        assert_eq!(parse("../store"), RemoteUrl::Directory("../store".into()));
        assert_eq!(
            parse("file:///srv/dvx"),
            RemoteUrl::Directory("/srv/dvx".into())
        );
        assert_eq!(
            parse("file://localhost/srv/dvx"),
            RemoteUrl::Directory("/srv/dvx".into())
        );
        assert_eq!(parse("/srv/dvx").kind(), Kind::Directory);
        assert_eq!(
            parse("../store").resolved_against(Path::new("/repo")),
            RemoteUrl::Directory("/store".into())
        );
    }

    #[test]
    fn cloud_urls_split_bucket_and_prefix() {
        assert_eq!(
            parse("s3://my-bucket/team/data/"),
            RemoteUrl::S3 {
                bucket: "my-bucket".into(),
                prefix: vec!["team".into(), "data".into()]
            }
        );
        assert_eq!(
            parse("gs://b"),
            RemoteUrl::Gcs {
                bucket: "b".into(),
                prefix: vec![]
            }
        );
        assert_eq!(
            parse("az://container/x"),
            RemoteUrl::Azure {
                container: "container".into(),
                prefix: vec!["x".into()]
            }
        );
        assert_eq!(parse("S3://b//p//q").to_string(), "s3://b/p/q");
        assert_eq!(parse("az://c/p").kind(), Kind::Azure);
        assert_eq!(parse("gs://c/p").prefix(), ["p".to_string()]);
    }

    #[test]
    fn bad_urls_are_refused_naming_the_url() {
        for (url, needle) in [
            ("", "empty"),
            ("http://example.com/x", "unsupported scheme 'http'"),
            ("ftp://host/x", "unsupported scheme 'ftp'"),
            ("s3://", "names no bucket"),
            ("az:///x", "names no container"),
            ("s3://bu cket/x", "not a valid bucket name"),
            ("s3://b/../x", "may not contain '..'"),
            ("gs://b/./x", "may not contain '.'"),
            ("file://host/x", "file:// URLs must name"),
            ("file://relative", "file:// URLs must name"),
            ("s3://b/x?versionId=1", "query"),
        ] {
            let err = RemoteUrl::parse(url).expect_err(url).to_string();
            assert!(err.contains(needle), "{url}: {err}");
            assert!(err.contains(&format!("'{}'", masked(url))), "{url}: {err}");
        }
        let err = RemoteUrl::parse("s3://AKIDEXAMPLE:wJalrXUtnFEMI@b/x")
            .expect_err("user info")
            .to_string();
        assert!(err.contains("user name"), "{err}");
        assert!(
            !err.contains("wJalrXUtnFEMI") && !err.contains("AKIDEXAMPLE"),
            "{err}"
        );
        let err = RemoteUrl::parse("az://cont/p?sig=TOPSECRET")
            .expect_err("query")
            .to_string();
        assert!(err.contains("'az://cont/p?***'"), "{err}");
        assert!(!err.contains("TOPSECRET"), "{err}");
    }

    #[test]
    fn a_relative_directory_resolves_without_leading_dots() {
        let top = Path::new("/srv/repo");
        let resolved = |p: &str| parse(p).resolved_against(top);
        assert_eq!(
            resolved("../store"),
            RemoteUrl::Directory("/srv/store".into())
        );
        assert_eq!(
            resolved("./a/../b"),
            RemoteUrl::Directory("/srv/repo/a/../b".into())
        );
        assert_eq!(resolved("../../../x"), RemoteUrl::Directory("/x".into()));
        assert_eq!(resolved("/abs/p"), RemoteUrl::Directory("/abs/p".into()));
    }

    #[test]
    fn masked_hides_user_info_and_queries() {
        assert_eq!(masked("s3://AK:TOPSECRET@bkt/p"), "s3://***@bkt/p");
        assert_eq!(
            masked("http://u:pw@127.0.0.1:9/x?sig=s#f"),
            "http://***@127.0.0.1:9/x?***"
        );
        assert_eq!(masked("az://c/p#frag"), "az://c/p#***");
        // A secret with `/` in it (AWS's example key), and the refused typo form.
        assert_eq!(
            masked("s3://AKID:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY@bkt/p"),
            "s3://***@bkt/p"
        );
        assert_eq!(masked("s3:/AK:TOPSECRET@bkt/p"), "s3:/***@bkt/p");
        assert_eq!(masked("gs:x:se/cret@bkt"), "gs:***@bkt");
        // An `@` in a path is over-masked, never under-masked.
        assert_eq!(masked("https://h/a@b"), "https://***@b");
        assert_eq!(masked("/srv/dvx"), "/srv/dvx");
        assert_eq!(masked("/home/a@corp/d"), "/home/a@corp/d");
        assert_eq!(masked("../store"), "../store");
    }

    #[test]
    fn paths_that_look_like_urls_or_home_are_refused() {
        for (url, needle) in [
            ("s3:/bucket", "starts with 's3:'"),
            ("file:relative", "starts with 'file:'"),
            ("C:\\x", "starts with 'C:'"),
            ("gs:bucket", "starts with 'gs:'"),
            ("~/x", "starts with '~'"),
            ("~ada/x", "starts with '~'"),
        ] {
            let err = RemoteUrl::parse(url).expect_err(url).to_string();
            assert!(err.contains(needle), "{url}: {err}");
        }
        assert_eq!(parse("./a:b"), RemoteUrl::Directory("./a:b".into()));
        assert_eq!(parse("a/b:c"), RemoteUrl::Directory("a/b:c".into()));
        assert_eq!(parse("x~"), RemoteUrl::Directory("x~".into()));
    }
}
