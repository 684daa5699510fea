//! Configured remotes: `dvx remote add`, `list`, `remove`, `rename`, `set`, and opening
//! one for a command.
//!
//! Owns: the `[remote.<name>]` tables of `.dvx/config.toml` (tracked: what the team
//! shares) and `.dvx/config.local.toml` (this machine's overrides and the only place
//! for credentials), `core.remote` (the default remote), and the remote-tracking refs
//! that go with a remote's name. Does not own what each setting means or how it reaches
//! the client (`remote::settings`, `remote::backend`).
//!
//! Invariants: a credential is never written into the tracked file, and never returned
//! in a report (only the names of the keys that hold one); `remote add` and a change of
//! URL contact the remote before the config changes (it must refuse a second create of
//! a key, and it becomes a dvx remote), so a failed add leaves the config as it was; only
//! an empty location becomes a dvx remote, and never a directory inside the work tree.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use super::Error;
use crate::hash::ObjectId;
use crate::object::Signature;
use crate::refs::{self, Expected, REMOTES};
use crate::remote::settings::{self, Environment, PLAIN_KEYS, SECRET_KEYS, remote_names};
use crate::remote::{IndexCache, Remote, RemoteUrl};
use crate::repo::{CONFIG_FILE, ConfigFile, LOCAL_CONFIG_FILE, Repo, RepoLock};
use crate::workspace::Workspace;

/// A configured remote, open for a command.
#[derive(Debug)]
pub struct Connected {
    /// Its name in the config (`origin`).
    pub name: String,
    /// Shared, so a remote-backed object source can read through the same connection.
    pub remote: Arc<Remote>,
}

/// Open remote `name`, or the default remote (`core.remote`, else `origin`, else the
/// only one). Nothing is sent yet.
pub fn connect(ws: &Workspace, name: Option<&str>, env: &Environment) -> Result<Connected, Error> {
    let repo = ws.repo();
    let (tracked, local) = repo.config_tables()?;
    let name = settings::choose_remote(name, &tracked, local.as_ref()).map_err(Error::from)?;
    let resolved = resolve(&name, &tracked, local.as_ref(), ws.root())?;
    resolved
        .check_endpoint()
        .map_err(crate::remote::Error::from)?;
    let remote = Remote::open(
        &resolved.url,
        &resolved.settings,
        &resolved.credentials,
        env,
        false,
    )?
    .with_index_cache(index_cache(repo));
    Ok(Connected {
        name,
        remote: Arc::new(remote),
    })
}

/// Split a command's arguments as `git push` and `git pull` take them, `[remote]
/// [rest...]`, except that a first argument that names no configured remote is not taken
/// for one (`dvx push v1` pushes tag `v1` to the default remote).
pub fn remote_and_rest(
    repo: &Repo,
    args: &[String],
) -> Result<(Option<String>, Vec<String>), Error> {
    let Some((first, rest)) = args.split_first() else {
        return Ok((None, Vec::new()));
    };
    let (tracked, local) = repo.config_tables()?;
    if remote_names(&tracked, local.as_ref()).contains(first) {
        Ok((Some(first.clone()), rest.to_vec()))
    } else {
        Ok((None, args.to_vec()))
    }
}

/// The default remote's name, if one is configured (for `status`'s upstream).
pub fn default_name(repo: &Repo) -> Result<Option<String>, Error> {
    let (tracked, local) = repo.config_tables()?;
    Ok(settings::default_remote(&tracked, local.as_ref()))
}

/// Where copies of remote pack indexes are kept (`.dvx/cache/packs/`).
pub fn index_cache(repo: &Repo) -> IndexCache {
    IndexCache::new(repo.common_dir().join("cache").join("packs"))
}

fn resolve(
    name: &str,
    tracked: &toml::Table,
    local: Option<&toml::Table>,
    top: &Path,
) -> Result<settings::Resolved, Error> {
    settings::resolve(name, tracked, local, top).map_err(|e| match e {
        settings::Error::NoSuchRemote { name } => Error::UnknownRemote {
            name,
            known: remote_names(tracked, local),
        },
        e => e.into(),
    })
}

/// One remote as `dvx remote list` shows it: no secret value, only where one is set.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteInfo {
    pub name: String,
    /// The URL as configured (a relative directory is relative to the work-tree top),
    /// masked (no user info or query).
    pub url: Option<String>,
    pub default: bool,
    /// Plain settings other than the URL (`endpoint`, `region`, `jobs`, ...), as
    /// configured, with their TOML types (`jobs = 8` is a number, `allow_http = true` a
    /// boolean); strings masked.
    pub settings: Vec<(String, toml::Value)>,
    /// Credential keys that hold a value, and whether that value sits in the tracked
    /// `config.toml` (where it must not be).
    pub credentials: Vec<(String, bool)>,
}

/// Every configured remote.
pub fn list(repo: &Repo) -> Result<Vec<RemoteInfo>, Error> {
    let (tracked, local) = repo.config_tables()?;
    let default = settings::default_remote(&tracked, local.as_ref());
    let table_of = |t: &toml::Table, name: &str| -> Option<toml::Table> {
        t.get("remote")?.as_table()?.get(name)?.as_table().cloned()
    };
    let mut out = Vec::new();
    for name in remote_names(&tracked, local.as_ref()) {
        let shared = table_of(&tracked, &name).unwrap_or_default();
        let private = local
            .as_ref()
            .and_then(|l| table_of(l, &name))
            .unwrap_or_default();
        let mut merged = shared.clone();
        merged.extend(private.clone());
        // A URL or endpoint written by hand may carry a password or a token: masked.
        // Numbers and booleans keep their type; anything else hand-written (a date, an
        // array) is shown as its text, masked like a string.
        let text = |v: &toml::Value| match v {
            toml::Value::String(s) => crate::remote::url::masked(s),
            other => crate::remote::url::masked(&other.to_string()),
        };
        let masked = |v: &toml::Value| match v {
            toml::Value::Integer(_) | toml::Value::Boolean(_) => v.clone(),
            other => toml::Value::String(text(other)),
        };
        let settings = PLAIN_KEYS
            .iter()
            .filter(|k| **k != "url")
            .filter_map(|k| merged.get(*k).map(|v| ((*k).to_owned(), masked(v))))
            .collect();
        let credentials = SECRET_KEYS
            .iter()
            .filter(|k| shared.contains_key(**k) || private.contains_key(**k))
            .map(|k| ((*k).to_owned(), shared.contains_key(*k)))
            .collect();
        out.push(RemoteInfo {
            url: merged.get("url").map(text),
            default: default.as_deref() == Some(name.as_str()),
            name,
            settings,
            credentials,
        });
    }
    Ok(out)
}

/// What `dvx remote add` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    pub name: String,
    /// The URL as written into the config.
    pub url: String,
    /// It is the default remote now.
    pub default: bool,
    /// The remote was empty and is a dvx remote now (`dvx-remote.toml` written).
    pub initialised: bool,
}

/// `dvx remote add <name> <url> [--default]`: check that the remote refuses a second
/// create (ref moves rely on it), make it a dvx remote if it is not one, then record it
/// in the tracked config. The first remote, or one added with `make_default`, becomes
/// the default (`core.remote`). A relative directory is taken relative to `cwd` and
/// recorded relative to the work-tree top.
pub fn add(
    ws: &Workspace,
    lock: &RepoLock,
    cwd: &Path,
    name: &str,
    url: &str,
    make_default: bool,
    env: &Environment,
) -> Result<Added, Error> {
    refs::validate_remote_name(name)?;
    let repo = ws.repo();
    let mut tracked = ConfigFile::load(&repo.local_file(CONFIG_FILE))?;
    let local = ConfigFile::load(&repo.local_file(LOCAL_CONFIG_FILE))?;
    let existing = remote_names(tracked.table(), Some(local.table()));
    if existing.iter().any(|n| n == name) {
        return Err(Error::RemoteExists(name.to_owned()));
    }
    let written = as_configured(url, cwd, ws.root())?;
    let parsed = RemoteUrl::parse(&written)?.resolved_against(ws.root());
    outside_work_tree(&parsed, ws.root())?;
    let remote = Remote::open(
        &parsed,
        &settings::Settings::default(),
        &settings::Credentials::default(),
        env,
        true,
    )?;
    let initialised = contact(&remote)?;
    tracked.set(
        &["remote", name],
        "url",
        toml::Value::String(written.clone()),
    );
    let default = make_default || existing.is_empty();
    if default {
        tracked.set(&["core"], "remote", toml::Value::String(name.to_owned()));
    }
    tracked.save(lock, false)?;
    Ok(Added {
        name: name.to_owned(),
        url: written,
        default,
        initialised,
    })
}

/// What `remote add` and a change of URL do on the remote, before the config changes:
/// refuse a location that holds other files (before the probe writes there), check
/// that a second create is refused, and make an empty location a dvx remote. Whether it
/// was made one now.
fn contact(remote: &Remote) -> Result<bool, Error> {
    let known = remote.manifest()?.is_some();
    if !known {
        remote.require_empty()?;
    }
    remote.check_conditional_create()?;
    // Emptiness was judged above, before the probe wrote there: one listing, not two.
    Ok(!known && remote.create_manifest(None)?.is_some())
}

/// Refuse a directory remote inside the work tree (`.dvx/` included, `.git/` not): its
/// files would show up as untracked files of the repository, and `dvx add .` would take
/// them in.
/// Symlinks are followed as far as the path exists, so a link into the work tree is
/// caught too.
fn outside_work_tree(url: &RemoteUrl, top: &Path) -> Result<(), Error> {
    let RemoteUrl::Directory(path) = url else {
        return Ok(());
    };
    let real = |p: &Path| -> PathBuf {
        let p = normalize(p);
        let mut existing = p.as_path();
        let mut rest = Vec::new();
        while !existing.exists() {
            match (existing.parent(), existing.file_name()) {
                (Some(parent), Some(name)) => {
                    rest.push(name.to_owned());
                    existing = parent;
                }
                _ => break,
            }
        }
        let mut out = std::fs::canonicalize(existing).unwrap_or_else(|_| existing.to_owned());
        out.extend(rest.iter().rev());
        out
    };
    // Inside git's own directory is out of both tools' sight: git lists nothing there
    // and dvx never walks it.
    let (path_real, top_real) = (real(path), real(top));
    if path_real.starts_with(&top_real) && !path_real.starts_with(top_real.join(".git")) {
        return Err(Error::RemoteInWorkTree { path: path.clone() });
    }
    Ok(())
}

/// The URL to record: a relative directory, typed relative to `cwd`, becomes relative
/// to `top`; anything else is kept as written (after checking that it parses).
fn as_configured(url: &str, cwd: &Path, top: &Path) -> Result<String, Error> {
    let url = url.trim();
    match RemoteUrl::parse(url)? {
        RemoteUrl::Directory(path) if path.is_relative() => {
            Ok(relative_to(&normalize(&cwd.join(path)), &normalize(top))
                .to_string_lossy()
                .into_owned())
        }
        _ => Ok(url.to_owned()),
    }
}

/// `path` with `.` and `..` resolved lexically (symlinks are not looked at: the config
/// names the path the user typed).
pub(super) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `to` as a path relative to the directory `from` (both absolute and normalized).
fn relative_to(to: &Path, from: &Path) -> PathBuf {
    let to: Vec<Component> = to.components().collect();
    let from: Vec<Component> = from.components().collect();
    let common = to.iter().zip(&from).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for c in &to[common..] {
        out.push(c);
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// What `dvx remote remove` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    pub name: String,
    /// Remote-tracking refs deleted with it.
    pub tracking_refs: usize,
    /// The tracked config changed (else only `config.local.toml` held the remote).
    pub tracked_changed: bool,
    /// When the removal changed which remote commands use by default (it was the
    /// default, or it leaves one remote): which one they use now, or why none, so the
    /// user learns it here rather than from the next push.
    pub default_after: Option<Result<String, settings::Unchosen>>,
}

/// The remote commands use when none is named (`dvx remote default`), or why none.
pub fn current_default(repo: &Repo) -> Result<String, Error> {
    let (tracked, local) = repo.config_tables()?;
    settings::choose_remote(None, &tracked, local.as_ref()).map_err(Error::from)
}

/// What [`set_default`] did.
#[derive(Debug)]
pub struct DefaultSet {
    /// The file written: `.dvx/config.toml`, or `.dvx/config.local.toml` with `local`.
    pub file: PathBuf,
    /// The tracked config changed.
    pub tracked_changed: bool,
    /// The default commands use now (or why none), which `config.local.toml` may decide
    /// rather than the file written.
    pub now: Result<String, settings::Unchosen>,
}

/// `dvx remote default <name>` (as `dvc remote default`): make `name` the remote commands
/// use when none is named, in the tracked config (the team's default) or, with `local`,
/// in `config.local.toml` (this machine's, which wins). `None` unsets it there.
pub fn set_default(
    ws: &Workspace,
    lock: &RepoLock,
    name: Option<&str>,
    local: bool,
) -> Result<DefaultSet, Error> {
    let repo = ws.repo();
    let mut tracked = ConfigFile::load(&repo.local_file(CONFIG_FILE))?;
    let mut private = ConfigFile::load(&repo.local_file(LOCAL_CONFIG_FILE))?;
    if let Some(name) = name {
        require(name, &tracked, &private)?;
    }
    let file = if local { &mut private } else { &mut tracked };
    let changed = match name {
        Some(name) if core_remote(file).as_deref() != Some(name) => {
            file.set(&["core"], "remote", toml::Value::String(name.to_owned()));
            true
        }
        Some(_) => false,
        None => file.remove_key(&["core"], "remote"),
    };
    if changed {
        file.save(lock, local)?;
    }
    Ok(DefaultSet {
        file: repo.local_file(if local {
            LOCAL_CONFIG_FILE
        } else {
            CONFIG_FILE
        }),
        tracked_changed: changed && !local,
        now: settings::choose_remote(None, tracked.table(), Some(private.table())),
    })
}

/// `dvx remote remove <name>`: its tables in both config files, `core.remote` if it
/// named it, and its remote-tracking refs. Nothing on the remote changes.
pub fn remove(
    ws: &Workspace,
    lock: &RepoLock,
    name: &str,
    who: &Signature,
) -> Result<Removed, Error> {
    let repo = ws.repo();
    let mut tracked = ConfigFile::load(&repo.local_file(CONFIG_FILE))?;
    let mut local = ConfigFile::load(&repo.local_file(LOCAL_CONFIG_FILE))?;
    require(name, &tracked, &local)?;
    let default_before = settings::default_remote(tracked.table(), Some(local.table()));
    let mut tracked_changed = tracked.remove_table(&["remote", name]);
    let mut local_changed = local.remove_table(&["remote", name]);
    for (file, changed) in [
        (&mut tracked, &mut tracked_changed),
        (&mut local, &mut local_changed),
    ] {
        if core_remote(file).as_deref() == Some(name) {
            file.remove_key(&["core"], "remote");
            *changed = true;
        }
    }
    if tracked_changed {
        tracked.save(lock, false)?;
    }
    if local_changed {
        local.save(lock, true)?;
    }
    let mut tracking_refs = 0;
    for (full, id) in repo.refs().list(&tracking_prefix(name))? {
        repo.update_ref(
            lock,
            &full,
            Expected::Is(id),
            None,
            who,
            &format!("remote: removed {name}"),
        )?;
        tracking_refs += 1;
    }
    let default_after = Some(settings::choose_remote(
        None,
        tracked.table(),
        Some(local.table()),
    ))
    .filter(|after| after.as_ref().ok() != default_before.as_ref());
    Ok(Removed {
        name: name.to_owned(),
        tracking_refs,
        tracked_changed,
        default_after,
    })
}

/// What `dvx remote rename` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renamed {
    pub tracking_refs: usize,
    pub tracked_changed: bool,
    /// The remote was the default by its old name (`origin`), and `core.remote` now
    /// keeps it the default under the new one.
    pub default_kept: bool,
}

/// `dvx remote rename <old> <new>`: the tables in both config files, `core.remote`, and
/// the remote-tracking refs (`refs/remotes/<old>/*` become `refs/remotes/<new>/*`).
pub fn rename(
    ws: &Workspace,
    lock: &RepoLock,
    old: &str,
    new: &str,
    who: &Signature,
) -> Result<Renamed, Error> {
    refs::validate_remote_name(new)?;
    let repo = ws.repo();
    let mut tracked = ConfigFile::load(&repo.local_file(CONFIG_FILE))?;
    let mut local = ConfigFile::load(&repo.local_file(LOCAL_CONFIG_FILE))?;
    require(old, &tracked, &local)?;
    if remote_names(tracked.table(), Some(local.table()))
        .iter()
        .any(|n| n == new)
    {
        return Err(Error::RemoteExists(new.to_owned()));
    }
    let default_before = settings::default_remote(tracked.table(), Some(local.table()));
    let mut tracked_changed = tracked.rename_table(&["remote", old], &["remote", new]);
    let mut local_changed = local.rename_table(&["remote", old], &["remote", new]);
    for (file, changed) in [
        (&mut tracked, &mut tracked_changed),
        (&mut local, &mut local_changed),
    ] {
        if core_remote(file).as_deref() == Some(old) {
            file.set(&["core"], "remote", toml::Value::String(new.to_owned()));
            *changed = true;
        }
    }
    // A default that came from the name (`origin` among several) would be lost with
    // it: the renamed remote stays the default, now by `core.remote`, in the file that
    // defines it.
    let default_after = settings::default_remote(tracked.table(), Some(local.table()));
    let default_kept =
        default_before.as_deref() == Some(old) && default_after.as_deref() != Some(new);
    if default_kept {
        let (file, changed) = if tracked.get_table(&["remote", new]).is_some() {
            (&mut tracked, &mut tracked_changed)
        } else {
            (&mut local, &mut local_changed)
        };
        file.set(&["core"], "remote", toml::Value::String(new.to_owned()));
        *changed = true;
    }
    // Refs first: if moving them fails, the config still names the old remote, which
    // still owns its refs.
    let message = format!("remote: renamed {old} to {new}");
    let mut tracking_refs = 0;
    let old_prefix = tracking_prefix(old);
    for (full, id) in repo.refs().list(&old_prefix)? {
        let branch = full.strip_prefix(&old_prefix).unwrap_or(&full);
        let moved = refs::remote_tracking(new, branch);
        repo.update_ref(lock, &moved, Expected::Absent, Some(id), who, &message)?;
        repo.update_ref(lock, &full, Expected::Is(id), None, who, &message)?;
        tracking_refs += 1;
    }
    if tracked_changed {
        tracked.save(lock, false)?;
    }
    if local_changed {
        local.save(lock, true)?;
    }
    Ok(Renamed {
        tracking_refs,
        tracked_changed,
        default_kept,
    })
}

/// What `dvx remote set` changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetReport {
    /// The file written.
    pub file: PathBuf,
    /// It was the tracked `config.toml` (to be committed with git).
    pub tracked: bool,
    /// A credential (its value is not repeated anywhere).
    pub secret: bool,
    /// The credential was in the tracked `config.toml` too, and was removed from it.
    pub moved_from_tracked: bool,
    /// A new URL named an empty location, which is a dvx remote now (as with `add`).
    pub initialised: bool,
}

/// `dvx remote set <name> <key> <value> [--local]` (as `dvc remote modify`): a plain
/// setting goes into the tracked config, or with `local` into `config.local.toml`; a
/// credential only with `local`. The value is checked as the setting will be read; a new
/// URL is contacted (as by `remote add`) before anything is written.
#[allow(clippy::too_many_arguments)]
pub fn set(
    ws: &Workspace,
    lock: &RepoLock,
    cwd: &Path,
    name: &str,
    key: &str,
    value: &str,
    local: bool,
    env: &Environment,
) -> Result<SetReport, Error> {
    let repo = ws.repo();
    let mut tracked = ConfigFile::load(&repo.local_file(CONFIG_FILE))?;
    let mut private = ConfigFile::load(&repo.local_file(LOCAL_CONFIG_FILE))?;
    require(name, &tracked, &private)?;
    let secret = SECRET_KEYS.contains(&key);
    if !secret && !PLAIN_KEYS.contains(&key) {
        return Err(Error::UnknownSetting {
            key: key.to_owned(),
        });
    }
    if secret && !local {
        return Err(Error::SecretNotLocal {
            remote: name.to_owned(),
            key: key.to_owned(),
        });
    }
    // A URL is what makes a tracked table a remote: setting it shares the remote.
    if !local
        && key != "url"
        && tracked.get_table(&["remote", name]).is_none()
        && private.get_table(&["remote", name]).is_some()
    {
        return Err(Error::RemoteOnlyLocal {
            remote: name.to_owned(),
            key: key.to_owned(),
        });
    }
    let bad = |why: String| Error::BadSetting {
        remote: name.to_owned(),
        key: key.to_owned(),
        value: if secret {
            "***".into()
        } else {
            crate::remote::url::masked(value)
        },
        why,
    };
    let typed = match key {
        "allow_http" => toml::Value::Boolean(
            settings::parse_bool(value).ok_or_else(|| bad("expected true or false".into()))?,
        ),
        "jobs" => toml::Value::Integer(
            value
                .trim()
                .parse::<i64>()
                .map_err(|_| bad("expected a whole number from 1 to 1024".into()))?,
        ),
        "url" => toml::Value::String(
            as_configured(value, cwd, ws.root()).map_err(|e| bad(e.to_string()))?,
        ),
        "endpoint" => {
            crate::remote::endpoint::check(value)
                .map_err(|why| bad(format!("it {}", why.describe())))?;
            toml::Value::String(value.trim().to_owned())
        }
        _ => toml::Value::String(value.to_owned()),
    };
    let file = if local { &mut private } else { &mut tracked };
    file.set(&["remote", name], key, typed);
    // A credential set locally moves out of the tracked file, if it was there: the way
    // to repair a config every other command refuses.
    let moved_from_tracked = secret && tracked.remove_key(&["remote", name], key);
    // Read back as every command will, so a bad value is refused now, not later (a
    // credential another remote left in the tracked file is that remote's problem).
    let resolved = resolve(
        name,
        &without_secrets(tracked.table()),
        Some(private.table()),
        ws.root(),
    )?;
    let mut initialised = false;
    if key == "url" {
        outside_work_tree(&resolved.url, ws.root())?;
        let remote = Remote::open(
            &resolved.url,
            &resolved.settings,
            &resolved.credentials,
            env,
            true,
        )?;
        initialised = contact(&remote)?;
    }
    let (file, path) = if local {
        (&private, repo.local_file(LOCAL_CONFIG_FILE))
    } else {
        (&tracked, repo.local_file(CONFIG_FILE))
    };
    file.save(lock, local)?;
    if moved_from_tracked {
        tracked.save(lock, false)?;
    }
    Ok(SetReport {
        file: path,
        tracked: !local || moved_from_tracked,
        secret,
        moved_from_tracked,
        initialised,
    })
}

/// `table` without any credential in its `[remote.*]` tables.
fn without_secrets(table: &toml::Table) -> toml::Table {
    let mut table = table.clone();
    if let Some(remotes) = table.get_mut("remote").and_then(toml::Value::as_table_mut) {
        for (_, remote) in remotes.iter_mut() {
            if let Some(remote) = remote.as_table_mut() {
                remote.retain(|key, _| !SECRET_KEYS.contains(&key));
            }
        }
    }
    table
}

fn require(name: &str, tracked: &ConfigFile, local: &ConfigFile) -> Result<(), Error> {
    let known = remote_names(tracked.table(), Some(local.table()));
    if known.iter().any(|n| n == name) {
        Ok(())
    } else {
        Err(Error::UnknownRemote {
            name: name.to_owned(),
            known,
        })
    }
}

fn core_remote(file: &ConfigFile) -> Option<String> {
    file.get_table(&["core"])?
        .get("remote")?
        .as_str()
        .map(str::to_owned)
}

/// `refs/remotes/<name>/`.
pub fn tracking_prefix(name: &str) -> String {
    format!("{REMOTES}{name}/")
}

/// The remote-tracking branches of remote `name`: (branch, commit).
pub fn tracking_branches(repo: &Repo, name: &str) -> Result<Vec<(String, ObjectId)>, Error> {
    let prefix = tracking_prefix(name);
    Ok(repo
        .refs()
        .list(&prefix)?
        .into_iter()
        .map(|(full, id)| (full[prefix.len()..].to_owned(), id))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_directories_are_recorded_from_the_top() {
        let top = Path::new("/home/ada/proj");
        assert_eq!(
            as_configured("../store", top, top).expect("valid"),
            "../store"
        );
        assert_eq!(
            as_configured("../../store", &top.join("data/sub"), top).expect("valid"),
            "store"
        );
        assert_eq!(
            as_configured("./r", &top.join("data"), top).expect("valid"),
            "data/r"
        );
        assert_eq!(
            as_configured("/srv/dvx", &top.join("data"), top).expect("valid"),
            "/srv/dvx"
        );
        assert_eq!(
            as_configured("s3://bucket/p", top, top).expect("valid"),
            "s3://bucket/p"
        );
        assert!(as_configured("ftp://x/y", top, top).is_err());
    }
}
