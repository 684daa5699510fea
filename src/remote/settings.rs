//! Per-remote settings and credentials, and where each may come from.
//!
//! Owns: the settings a remote's `[remote.<name>]` table may hold, which of them are
//! secrets, and how the environment (passed in as a map, never read here) fills in what
//! the config leaves out. Does not own reading config files (`repo::config`) or building
//! clients (`backend`).
//!
//! Invariants: a secret is held in a [`Secret`], whose `Debug` and `Display` print
//! `***`, so no error message, log line or `{:?}` ever shows one. Secrets are accepted
//! from the environment and from `config.local.toml` only; [`tracked_secrets`] finds
//! any that were written into the tracked `config.toml` so the caller can refuse them.

use std::collections::BTreeMap;
use std::fmt;

use super::url::RemoteUrl;

/// The process environment as the caller chooses to pass it (the CLI passes
/// `std::env::vars()`; tests pass a map of their own). The library never reads the
/// environment itself.
pub type Environment = BTreeMap<String, String>;

/// A value that must never be shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for handing to a client library. Never format it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Keys of a `[remote.<name>]` table that are not secret (tracked config may hold them).
pub const PLAIN_KEYS: &[&str] = &["url", "endpoint", "region", "allow_http", "account", "jobs"];

/// Keys of a `[remote.<name>]` table that are secrets: `config.local.toml` only.
pub const SECRET_KEYS: &[&str] = &[
    "access_key_id",
    "secret_access_key",
    "session_token",
    "service_account_key",
    "access_key",
    "sas_token",
];

/// The non-secret settings of one remote (from its config table; tracked or local).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// S3: the endpoint URL (MinIO, Ceph, R2...). GCS: the base URL. Azure: the blob
    /// endpoint.
    pub endpoint: Option<String>,
    /// S3: the region.
    pub region: Option<String>,
    /// Allow plain `http://` endpoints (S3-compatible servers, emulators).
    pub allow_http: Option<bool>,
    /// Azure: the storage account.
    pub account: Option<String>,
    /// Concurrent requests for transfers (`remote.<name>.jobs`).
    pub jobs: Option<usize>,
}

/// Credentials for one remote, from `config.local.toml`. Anything absent here comes
/// from the environment or the provider chain of the store's client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// S3.
    pub access_key_id: Option<Secret>,
    pub secret_access_key: Option<Secret>,
    pub session_token: Option<Secret>,
    /// GCS: a service account key (JSON).
    pub service_account_key: Option<Secret>,
    /// Azure: a storage account key, or a SAS token.
    pub access_key: Option<Secret>,
    pub sas_token: Option<Secret>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("remote.{remote}.{key} must be {expected}")]
    BadValue {
        remote: String,
        key: String,
        expected: &'static str,
    },
    #[error("no remote named '{name}' is configured")]
    NoSuchRemote { name: String },
    #[error("remote '{name}' has no url")]
    NoUrl { name: String },
    #[error("secrets in the tracked .dvx/config.toml would be shared through git: {}", keys.join(", "))]
    SecretInTracked { keys: Vec<String> },
    /// An `endpoint` that is no endpoint (`file` is the config file that set it).
    #[error("remote.{remote}.endpoint in {file}: '{value}' {}", why.describe())]
    BadEndpoint {
        remote: String,
        file: &'static str,
        /// Masked: no user info or query.
        value: String,
        why: super::endpoint::Problem,
    },
    #[error(transparent)]
    Url(#[from] super::url::Error),
}

/// Everything needed to open one configured remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub name: String,
    /// A directory remote's relative path is already resolved against the work tree.
    pub url: RemoteUrl,
    pub settings: Settings,
    pub credentials: Credentials,
    /// The configuration file the `endpoint` setting came from, for its error.
    pub endpoint_file: &'static str,
}

impl Resolved {
    /// Check the `endpoint` setting, naming its file: before a connection is made, not
    /// when the settings are read (a command that reads only local bytes must not fail
    /// for a remote it never contacts).
    pub fn check_endpoint(&self) -> Result<(), Error> {
        let Some(endpoint) = &self.settings.endpoint else {
            return Ok(());
        };
        super::endpoint::check(endpoint).map_err(|why| Error::BadEndpoint {
            remote: self.name.clone(),
            file: self.endpoint_file,
            value: super::url::masked(endpoint),
            why,
        })
    }
}

/// Resolve remote `name` from the whole tracked `config.toml` table and the whole
/// `config.local.toml` table (if any): its `[remote.<name>]` table with the local one
/// laid over it, its URL (a relative directory resolved against `top`, the work-tree
/// top), its settings, and its credentials, which only the local file may hold. Any
/// secret in the tracked file is refused, naming it, whichever remote it belongs to.
pub fn resolve(
    name: &str,
    tracked: &toml::Table,
    local: Option<&toml::Table>,
    top: &std::path::Path,
) -> Result<Resolved, Error> {
    let secrets = tracked_secrets(tracked);
    if !secrets.is_empty() {
        return Err(Error::SecretInTracked { keys: secrets });
    }
    let table_of = |t: &toml::Table| -> Option<toml::Table> {
        t.get("remote")?.as_table()?.get(name)?.as_table().cloned()
    };
    let shared = table_of(tracked);
    let private = local.and_then(table_of);
    let mut merged = match (shared, &private) {
        (None, None) => return Err(Error::NoSuchRemote { name: name.into() }),
        (shared, _) => shared.unwrap_or_default(),
    };
    if let Some(private) = &private {
        for (k, v) in private {
            merged.insert(k.clone(), v.clone());
        }
    }
    let url = match merged.get("url") {
        Some(toml::Value::String(u)) => RemoteUrl::parse(u)?.resolved_against(top),
        Some(_) => {
            return Err(Error::BadValue {
                remote: name.into(),
                key: "url".into(),
                expected: "a string",
            });
        }
        None => return Err(Error::NoUrl { name: name.into() }),
    };
    let settings = Settings::from_table(name, &merged)?;
    Ok(Resolved {
        name: name.into(),
        url,
        settings,
        endpoint_file: if private.as_ref().is_some_and(|p| p.contains_key("endpoint")) {
            ".dvx/config.local.toml"
        } else {
            ".dvx/config.toml"
        },
        credentials: match &private {
            Some(p) => Credentials::from_local_table(name, p)?,
            None => Credentials::default(),
        },
    })
}

/// Every remote named in either configuration file, sorted, each once.
pub fn remote_names(tracked: &toml::Table, local: Option<&toml::Table>) -> Vec<String> {
    let mut names: Vec<String> = [Some(tracked), local]
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("remote")?.as_table())
        .flat_map(|r| r.keys().cloned())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Why a command that named no remote has none to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unchosen {
    /// No remote is configured at all.
    NoRemote,
    /// Several are (these, sorted) and none is the default.
    NoDefault { names: Vec<String> },
}

/// The remote a command uses: `named` when the user named one (whether it exists is
/// [`resolve`]'s to say), else the [`default_remote`]. One rule for every command, so
/// `push` and `pull <paths>` never disagree about which remote, or about why there is
/// none.
pub fn choose_remote(
    named: Option<&str>,
    tracked: &toml::Table,
    local: Option<&toml::Table>,
) -> Result<String, Unchosen> {
    if let Some(name) = named {
        return Ok(name.to_owned());
    }
    default_remote(tracked, local).ok_or_else(|| {
        let names = remote_names(tracked, local);
        if names.is_empty() {
            Unchosen::NoRemote
        } else {
            Unchosen::NoDefault { names }
        }
    })
}

/// How an unknown remote's error lists the configured ones: " (configured: a, b)", or
/// " (none is)".
pub fn configured_list(known: &[String]) -> String {
    if known.is_empty() {
        " (none is)".into()
    } else {
        format!(" (configured: {})", known.join(", "))
    }
}

/// The remote a command uses when none is named: `core.remote` (the local file wins),
/// else `origin` if it exists, else the only remote if there is exactly one.
pub fn default_remote(tracked: &toml::Table, local: Option<&toml::Table>) -> Option<String> {
    let core_remote = |t: &toml::Table| -> Option<String> {
        Some(
            t.get("core")?
                .as_table()?
                .get("remote")?
                .as_str()?
                .to_owned(),
        )
    };
    if let Some(name) = local.and_then(core_remote).or_else(|| core_remote(tracked)) {
        return Some(name);
    }
    let names = remote_names(tracked, local);
    if names.iter().any(|n| n == "origin") {
        return Some("origin".into());
    }
    match names.as_slice() {
        [only] => Some(only.clone()),
        _ => None,
    }
}

impl Settings {
    /// Read the plain settings from a `[remote.<name>]` table (the merged view).
    /// Unknown keys are ignored (a newer dvx may know them); secrets are not read here.
    pub fn from_table(remote: &str, table: &toml::Table) -> Result<Settings, Error> {
        let bad = |key: &str, expected| Error::BadValue {
            remote: remote.into(),
            key: key.into(),
            expected,
        };
        let string = |key: &str| -> Result<Option<String>, Error> {
            match table.get(key) {
                None => Ok(None),
                Some(toml::Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(bad(key, "a string")),
            }
        };
        let allow_http = match table.get("allow_http") {
            None => None,
            Some(toml::Value::Boolean(b)) => Some(*b),
            Some(toml::Value::String(s)) => {
                Some(parse_bool(s).ok_or_else(|| bad("allow_http", "true or false"))?)
            }
            Some(_) => return Err(bad("allow_http", "true or false")),
        };
        let jobs = match table.get("jobs") {
            None => None,
            Some(toml::Value::Integer(n)) if (1..=1024).contains(n) => Some(*n as usize),
            Some(_) => return Err(bad("jobs", "a whole number from 1 to 1024")),
        };
        Ok(Settings {
            endpoint: string("endpoint")?,
            region: string("region")?,
            allow_http,
            account: string("account")?,
            jobs,
        })
    }
}

impl Credentials {
    /// Read the secrets of a `[remote.<name>]` table of `config.local.toml`.
    pub fn from_local_table(remote: &str, table: &toml::Table) -> Result<Credentials, Error> {
        let secret = |key: &str| -> Result<Option<Secret>, Error> {
            match table.get(key) {
                None => Ok(None),
                Some(toml::Value::String(s)) => Ok(Some(Secret::new(s.clone()))),
                Some(_) => Err(Error::BadValue {
                    remote: remote.into(),
                    key: key.into(),
                    expected: "a string",
                }),
            }
        };
        Ok(Credentials {
            access_key_id: secret("access_key_id")?,
            secret_access_key: secret("secret_access_key")?,
            session_token: secret("session_token")?,
            service_account_key: secret("service_account_key")?,
            access_key: secret("access_key")?,
            sas_token: secret("sas_token")?,
        })
    }
}

/// Secret keys found in the tracked `config.toml` (its whole table), as
/// `remote.<name>.<key>`: credentials must never be shared through git, so the caller
/// refuses to use such a config and names these keys.
pub fn tracked_secrets(tracked: &toml::Table) -> Vec<String> {
    let mut found = Vec::new();
    if let Some(toml::Value::Table(remotes)) = tracked.get("remote") {
        for (name, table) in remotes {
            if let toml::Value::Table(table) = table {
                for key in SECRET_KEYS {
                    if table.contains_key(*key) {
                        found.push(format!("remote.{name}.{key}"));
                    }
                }
            }
        }
    }
    found
}

pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show_in_debug_or_display() {
        let creds = Credentials {
            secret_access_key: Some(Secret::new("wJalrXUtnFEMI/K7MDENG")),
            access_key: Some(Secret::new("azure-key-123")),
            ..Credentials::default()
        };
        let shown = format!("{creds:?} {}", Secret::new("wJalrXUtnFEMI/K7MDENG"));
        assert!(!shown.contains("wJalrXUtnFEMI"), "{shown}");
        assert!(!shown.contains("azure-key-123"), "{shown}");
        assert!(shown.contains("***"));
    }

    #[test]
    fn settings_and_credentials_come_from_their_tables() {
        let table: toml::Table = r#"
            url = "s3://b/p"
            endpoint = "http://127.0.0.1:9000"
            region = "eu-west-1"
            allow_http = true
            jobs = 8
            secret_access_key = "s"
            access_key_id = "a"
        "#
        .parse()
        .expect("toml");
        let settings = Settings::from_table("origin", &table).expect("valid");
        assert_eq!(settings.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(settings.region.as_deref(), Some("eu-west-1"));
        assert_eq!(settings.allow_http, Some(true));
        assert_eq!(settings.jobs, Some(8));
        let creds = Credentials::from_local_table("origin", &table).expect("valid");
        assert_eq!(
            creds
                .secret_access_key
                .map(|s| s.expose().to_owned())
                .as_deref(),
            Some("s")
        );
        let bad: toml::Table = "jobs = 0\n".parse().expect("toml");
        let err = Settings::from_table("origin", &bad).expect_err("jobs 0");
        assert_eq!(
            err.to_string(),
            "remote.origin.jobs must be a whole number from 1 to 1024"
        );
    }

    #[test]
    fn a_remote_resolves_from_both_files_and_secrets_stay_local() {
        let tracked: toml::Table = "format = 1\n[remote.origin]\nurl = \"../store\"\njobs = 4\n[remote.s3]\nurl = \"s3://b/p\"\n"
            .parse()
            .expect("toml");
        let local: toml::Table = "[remote.s3]\nregion = \"eu-west-1\"\nsecret_access_key = \"sk\"\n[core]\nremote = \"s3\"\n"
            .parse()
            .expect("toml");
        let top = std::path::Path::new("/repo");
        let origin = resolve("origin", &tracked, Some(&local), top).expect("origin");
        assert_eq!(origin.url, RemoteUrl::Directory("/store".into()));
        assert_eq!(origin.settings.jobs, Some(4));
        let s3 = resolve("s3", &tracked, Some(&local), top).expect("s3");
        assert_eq!(s3.settings.region.as_deref(), Some("eu-west-1"));
        assert_eq!(s3.credentials.secret_access_key, Some(Secret::new("sk")));
        assert_eq!(
            default_remote(&tracked, Some(&local)).as_deref(),
            Some("s3")
        );
        assert_eq!(default_remote(&tracked, None).as_deref(), Some("origin"));
        assert!(matches!(
            resolve("nope", &tracked, Some(&local), top),
            Err(Error::NoSuchRemote { .. })
        ));

        let leaky: toml::Table =
            "[remote.s3]\nurl = \"s3://b\"\naccess_key_id = \"a\"\nsecret_access_key = \"s\"\n"
                .parse()
                .expect("toml");
        let err = resolve("s3", &leaky, None, top).expect_err("secret in tracked");
        assert_eq!(
            err.to_string(),
            "secrets in the tracked .dvx/config.toml would be shared through git: remote.s3.access_key_id, remote.s3.secret_access_key"
        );
        let bad_endpoint: toml::Table =
            "[remote.s3]\nurl = \"s3://b\"\nendpoint = \"127.0.0.1:9000\"\n"
                .parse()
                .expect("toml");
        // Resolving reads local settings only; the endpoint is checked before connecting.
        let resolved = resolve("s3", &bad_endpoint, None, top).expect("resolves");
        let err = resolved.check_endpoint().expect_err("no scheme");
        assert!(
            err.to_string().starts_with(
                "remote.s3.endpoint in .dvx/config.toml: '127.0.0.1:9000' is not an absolute URL"
            ),
            "{err}"
        );
        let leaky_endpoint: toml::Table = "[remote.s3]\nendpoint = \"http://u:TOPSECRET@h:9\"\n"
            .parse()
            .expect("toml");
        let resolved = resolve("s3", &tracked, Some(&leaky_endpoint), top).expect("resolves");
        let err = resolved.check_endpoint().expect_err("userinfo");
        assert!(
            err.to_string()
                .contains("in .dvx/config.local.toml: 'http://***@h:9'"),
            "{err}"
        );
        assert!(!err.to_string().contains("TOPSECRET"), "{err}");
        let no_url: toml::Table = "[remote.x]\nregion = \"r\"\n".parse().expect("toml");
        assert!(matches!(
            resolve("x", &no_url, None, top),
            Err(Error::NoUrl { .. })
        ));
        let lonely: toml::Table = "[remote.backup]\nurl = \"/b\"\n".parse().expect("toml");
        assert_eq!(default_remote(&lonely, None).as_deref(), Some("backup"));
        assert_eq!(default_remote(&toml::Table::new(), None), None);
    }

    #[test]
    fn a_remote_is_chosen_by_name_or_default_and_never_guessed_among_several() {
        let two: toml::Table = "[remote.b]\nurl = \"/b\"\n[remote.a]\nurl = \"/a\"\n"
            .parse()
            .expect("toml");
        assert_eq!(choose_remote(Some("b"), &two, None).as_deref(), Ok("b"));
        assert_eq!(
            choose_remote(None, &two, None),
            Err(Unchosen::NoDefault {
                names: vec!["a".into(), "b".into()]
            })
        );
        let local: toml::Table = "[core]\nremote = \"b\"\n".parse().expect("toml");
        assert_eq!(choose_remote(None, &two, Some(&local)).as_deref(), Ok("b"));
        assert_eq!(
            choose_remote(None, &toml::Table::new(), None),
            Err(Unchosen::NoRemote)
        );
        assert_eq!(
            configured_list(&["a".into(), "b".into()]),
            " (configured: a, b)"
        );
        assert_eq!(configured_list(&[]), " (none is)");
    }

    #[test]
    fn secrets_in_tracked_config_are_found() {
        let tracked: toml::Table = "format = 1\n[remote.origin]\nurl = \"s3://b\"\nsecret_access_key = \"x\"\n[remote.backup]\nurl = \"/srv\"\n"
            .parse()
            .expect("toml");
        assert_eq!(
            tracked_secrets(&tracked),
            vec!["remote.origin.secret_access_key"]
        );
    }
}
