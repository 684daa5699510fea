//! `.dvx/config.toml` (tracked) and `.dvx/config.local.toml` (never committed).
//!
//! The local file is laid over the tracked one, table by table, so a machine can
//! override a setting without touching what the team shares. Unknown keys are kept out of
//! the typed view but never rejected, so an older dvx can read a newer config of the same
//! format.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The repository format this build reads and writes.
pub const FORMAT: u32 = 1;

/// How checkout puts a stored object into the work tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// Copy-on-write clone: instant, independent file (btrfs, XFS, APFS).
    Reflink,
    /// A plain copy.
    Copy,
    /// A hard link to the (read-only) object: no extra space, file is read-only.
    Hardlink,
    /// A symbolic link to the object: no extra space, file is read-only.
    Symlink,
}

impl LinkKind {
    pub fn name(self) -> &'static str {
        match self {
            LinkKind::Reflink => "reflink",
            LinkKind::Copy => "copy",
            LinkKind::Hardlink => "hardlink",
            LinkKind::Symlink => "symlink",
        }
    }

    /// Parse a comma-separated preference list such as `reflink,copy`.
    pub fn parse_list(s: &str) -> Result<Vec<LinkKind>, String> {
        let kinds = s
            .split(',')
            .map(|k| match k.trim() {
                "reflink" => Ok(LinkKind::Reflink),
                "copy" => Ok(LinkKind::Copy),
                "hardlink" => Ok(LinkKind::Hardlink),
                "symlink" => Ok(LinkKind::Symlink),
                other => Err(format!(
                    "unknown link type '{other}' (expected reflink, copy, hardlink or symlink)"
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if kinds.is_empty() {
            return Err("no link type given".into());
        }
        Ok(kinds)
    }
}

/// The typed view of the merged configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    pub format: u32,
    #[serde(default)]
    pub core: Core,
    #[serde(default)]
    pub user: User,
    #[serde(default)]
    pub checkout: Checkout,
    /// `[remote.<name>]` tables, kept raw: `remote::settings` reads them (and knows
    /// which keys are secrets, allowed only in `config.local.toml`).
    #[serde(default)]
    pub remote: BTreeMap<String, toml::Table>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Core {
    /// Link types to try in order, e.g. `reflink,copy`.
    #[serde(default = "default_link")]
    pub link: String,
    /// Seconds a writer waits for the repository lock before giving up.
    #[serde(default = "default_lock_timeout")]
    pub lock_timeout: f64,
    /// Flush objects, the index and refs to stable storage (power-loss safety).
    #[serde(default = "yes")]
    pub fsync: bool,
    /// Integrate with the enclosing git repository (`dvx init --no-git` sets false).
    #[serde(default = "yes")]
    pub git: bool,
    /// The remote `push`, `fetch` and `pull` use when none is named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    /// dvx's current branch follows git's branch switches (`git checkout`, `git switch`).
    #[serde(default = "yes")]
    pub follow_git_branch: bool,
    /// Where the object store lives when it is not `.dvx/` (a directory several clones
    /// on one machine share, as DVC's shared cache); relative to the work-tree top.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    /// `group`: the store's directories are group-writable (and setgid), so every
    /// member of the group can add and remove objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared: Option<String>,
    /// `status` asks a file watcher what changed instead of looking at every file.
    #[serde(default)]
    pub fsmonitor: bool,
    /// Seconds the file watcher waits for a request before it exits.
    #[serde(default = "default_fsmonitor_idle_timeout")]
    pub fsmonitor_idle_timeout: f64,
    /// Symlinks whose target leaves the work tree (or points into `.git` or `.dvx`) may
    /// be added and checked out; off, they are refused (see `workspace::link_rule`).
    #[serde(default)]
    pub external_symlinks: bool,
}

impl Core {
    /// Whether the store is shared with the group (`core.shared = "group"`). Checked when
    /// the config is read: any other value is refused.
    pub fn shared_with_group(&self) -> bool {
        self.shared.as_deref() == Some(SHARED_GROUP)
    }
}

/// The one value `core.shared` takes.
pub const SHARED_GROUP: &str = "group";

impl Default for Core {
    fn default() -> Self {
        Core {
            link: default_link(),
            lock_timeout: default_lock_timeout(),
            fsync: true,
            git: true,
            remote: None,
            follow_git_branch: true,
            store: None,
            shared: None,
            fsmonitor: false,
            fsmonitor_idle_timeout: default_fsmonitor_idle_timeout(),
            external_symlinks: false,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct User {
    pub name: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Checkout {
    /// Default for checkouts made by git hooks: only metadata, no file bytes fetched.
    #[serde(default = "yes")]
    pub lazy: bool,
}

impl Default for Checkout {
    fn default() -> Self {
        Checkout { lazy: true }
    }
}

fn default_fsmonitor_idle_timeout() -> f64 {
    3600.0
}

fn default_link() -> String {
    "reflink,copy".into()
}

fn default_lock_timeout() -> f64 {
    5.0
}

fn yes() -> bool {
    true
}

/// The tracked config written by `dvx init`.
pub fn initial_text(git: bool) -> String {
    let mut text = format!(
        "# dvx repository settings, shared through git.\n\
         # Machine-specific overrides belong in config.local.toml (not committed).\n\
         format = {FORMAT}\n\
         \n\
         [core]\n\
         # How checkout writes files: reflink, copy, hardlink or symlink, tried in order.\n\
         link = \"reflink,copy\"\n"
    );
    if !git {
        text.push_str("# Created with --no-git: no dvx.lock pins, no .gitignore entries, no hooks.\ngit = false\n");
    }
    text
}

/// Lay `over` onto `base`, recursing into tables.
pub fn merge_tables(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge_tables(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_config_parses_with_defaults() {
        let table: toml::Table = initial_text(true).parse().expect("valid toml");
        let config: Config = table.try_into().expect("typed");
        assert_eq!(config.format, FORMAT);
        assert_eq!(
            LinkKind::parse_list(&config.core.link).expect("valid"),
            vec![LinkKind::Reflink, LinkKind::Copy]
        );
        assert!(config.checkout.lazy);
    }

    #[test]
    fn local_overrides_win_table_by_table() {
        let mut base: toml::Table = "format = 1\n[core]\nlink = \"copy\"\nfsync = true\n"
            .parse()
            .expect("toml");
        let over: toml::Table = "[core]\nfsync = false\n".parse().expect("toml");
        merge_tables(&mut base, over);
        let config: Config = base.try_into().expect("typed");
        assert_eq!(config.core.link, "copy");
        assert!(!config.core.fsync);
    }

    #[test]
    fn remote_tables_and_the_default_remote_are_read() {
        let mut base: toml::Table =
            "format = 1\n[core]\nremote = \"origin\"\n[remote.origin]\nurl = \"s3://b/p\"\nregion = \"eu-west-1\"\n"
                .parse()
                .expect("toml");
        let local: toml::Table = "[remote.origin]\nsecret_access_key = \"s\"\n"
            .parse()
            .expect("toml");
        merge_tables(&mut base, local);
        let config: Config = base.try_into().expect("typed");
        assert_eq!(config.core.remote.as_deref(), Some("origin"));
        let origin = &config.remote["origin"];
        assert_eq!(
            origin.get("url").and_then(toml::Value::as_str),
            Some("s3://b/p")
        );
        assert!(origin.contains_key("secret_access_key"));
        let plain: Config =
            toml::Table::from_iter([("format".to_owned(), toml::Value::Integer(1))])
                .try_into()
                .expect("typed");
        assert!(plain.remote.is_empty() && plain.core.remote.is_none());
    }

    #[test]
    fn link_lists_are_checked() {
        assert!(LinkKind::parse_list("reflink,zip").is_err());
        assert_eq!(
            LinkKind::parse_list("hardlink").expect("valid"),
            vec![LinkKind::Hardlink]
        );
    }
}
