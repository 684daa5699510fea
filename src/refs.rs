//! Refs: HEAD, branches, tags and their reflogs.
//!
//! Owns: reading and moving `HEAD` and `refs/{heads,tags,remotes}/…`, and appending every
//! move to a reflog (`logs/…`). Does not own what a revision string means (history), nor
//! the repository lock: moving is crate-internal, and outside the crate refs move through
//! `Repo::update_ref` and `Repo::set_head`, which take the lock's guard.
//!
//! Invariants: a ref file holds one full hex id and a newline; it is replaced by a temp
//! file and a rename, never written in place. Every move is a compare-and-swap on the old
//! value, made under a kernel lock shared by every work tree of the repository
//! (`refs-lock` in the shared directory), so two writers can never both succeed from the
//! same old value. `HEAD` and its reflog belong to one work tree; everything else is
//! shared.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::atomic::{self, Lock, LockError, TempArea};
use crate::hash::ObjectId;
use crate::object::Signature;

pub const HEADS: &str = "refs/heads/";
pub const TAGS: &str = "refs/tags/";
pub const REMOTES: &str = "refs/remotes/";

/// The all-zero id written in reflogs for "no value".
const NULL_HEX: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How long a ref update waits for another one by default.
const REF_LOCK_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("'{name}' is not a valid {what} name: {why}")]
    InvalidName {
        name: String,
        what: &'static str,
        why: &'static str,
    },
    #[error("{name} moved while this command ran (expected {expected}, found {found})")]
    Moved {
        name: String,
        expected: String,
        found: String,
    },
    #[error("{name} cannot be created because {blocker} exists")]
    DirectoryConflict { name: String, blocker: String },
    #[error("{} is damaged: {why}", path.display())]
    Corrupt { path: PathBuf, why: String },
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What HEAD points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Head {
    /// A branch (full ref name, `refs/heads/<name>`), which may not exist yet.
    Branch(String),
    /// A commit, detached from any branch.
    Detached(ObjectId),
}

impl Head {
    /// The branch's short name, if HEAD is on one.
    pub fn branch(&self) -> Option<&str> {
        match self {
            Head::Branch(full) => full.strip_prefix(HEADS),
            Head::Detached(_) => None,
        }
    }
}

/// The value a ref must have for an update to go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    Any,
    Absent,
    Is(ObjectId),
}

/// One line of a reflog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReflogEntry {
    pub old: Option<ObjectId>,
    pub new: Option<ObjectId>,
    pub who: Signature,
    pub message: String,
}

/// Check a branch or tag name (the part after `refs/heads/` or `refs/tags/`), following
/// git's rules so names that work in git work here.
pub fn validate_name(name: &str, what: &'static str) -> Result<(), Error> {
    let bad = |why| Error::InvalidName {
        name: name.to_owned(),
        what,
        why,
    };
    if name.is_empty() {
        return Err(bad("it is empty"));
    }
    if name == "HEAD" || name == "@" {
        return Err(bad("it is reserved"));
    }
    if name.starts_with('-') {
        return Err(bad("it starts with '-'"));
    }
    if name.contains("..") || name.contains("@{") || name.contains("//") {
        return Err(bad("it contains '..', '@{' or '//'"));
    }
    if name.ends_with('/') || name.ends_with('.') {
        return Err(bad("it ends with '/' or '.'"));
    }
    if name
        .bytes()
        .any(|b| b < 0x20 || b == 0x7f || b" ~^:?*[\\".contains(&b))
    {
        return Err(bad(
            "it contains a space, a control character or one of ~^:?*[\\",
        ));
    }
    for component in name.split('/') {
        if component.starts_with('.') || component.ends_with(".lock") {
            return Err(bad("a component starts with '.' or ends with '.lock'"));
        }
    }
    Ok(())
}

/// Check a remote's name (`origin`): one component of a ref name, since it is the
/// directory of its remote-tracking branches, `refs/remotes/<remote>/<branch>`.
pub fn validate_remote_name(name: &str) -> Result<(), Error> {
    validate_name(name, "remote")?;
    if name.contains('/') {
        return Err(Error::InvalidName {
            name: name.to_owned(),
            what: "remote",
            why: "it contains '/'",
        });
    }
    Ok(())
}

/// The remote-tracking ref of `branch` on `remote`: `refs/remotes/<remote>/<branch>`.
pub fn remote_tracking(remote: &str, branch: &str) -> String {
    format!("{REMOTES}{remote}/{branch}")
}

/// HEAD, refs and reflogs of one work tree.
#[derive(Debug, Clone)]
pub struct Refs {
    /// Shared: `refs/`, `logs/refs/`, `refs-lock`.
    common: PathBuf,
    /// This work tree's: `HEAD`, `logs/HEAD`.
    local: PathBuf,
    lock_timeout: Duration,
    temps: TempArea,
}

impl Refs {
    pub fn new(common: PathBuf, local: PathBuf) -> Refs {
        Refs {
            temps: TempArea::new(common.join("tmp")),
            common,
            local,
            lock_timeout: REF_LOCK_TIMEOUT,
        }
    }

    /// Wait at most `timeout` for a concurrent ref update.
    pub fn set_lock_timeout(&mut self, timeout: Duration) {
        self.lock_timeout = timeout;
    }

    fn ref_path(&self, name: &str) -> PathBuf {
        self.common.join(name)
    }

    fn log_path(&self, name: &str) -> PathBuf {
        if name == "HEAD" {
            self.local.join("logs").join("HEAD")
        } else {
            self.common.join("logs").join(name)
        }
    }

    fn head_path(&self) -> PathBuf {
        self.local.join("HEAD")
    }

    /// Create a HEAD pointing at `branch` if there is none (a fresh repository or clone).
    pub(crate) fn init_head(&self, branch: &str) -> Result<(), Error> {
        let path = self.head_path();
        self.temps
            .write_new(&path, format!("ref: {HEADS}{branch}\n").as_bytes())
            .map(|_| ())
            .map_err(io_err(&path))
    }

    pub fn read_head(&self) -> Result<Head, Error> {
        let path = self.head_path();
        let text = fs::read_to_string(&path).map_err(io_err(&path))?;
        let text = text.trim_end_matches('\n');
        if let Some(target) = text.strip_prefix("ref: ") {
            if target.starts_with(HEADS) {
                return Ok(Head::Branch(target.to_owned()));
            }
        } else if let Ok(id) = text.parse() {
            return Ok(Head::Detached(id));
        }
        Err(Error::Corrupt {
            path,
            why: "expected 'ref: refs/heads/<branch>' or a commit id".into(),
        })
    }

    /// The commit HEAD resolves to; `None` on a branch with no commits yet.
    pub fn head_commit(&self) -> Result<Option<ObjectId>, Error> {
        match self.read_head()? {
            Head::Detached(id) => Ok(Some(id)),
            Head::Branch(name) => self.get(&name),
        }
    }

    /// Point HEAD somewhere else, logging the move in HEAD's reflog. Outside this crate
    /// HEAD moves through `Repo::set_head`, which takes the repository lock's guard.
    pub(crate) fn set_head(
        &self,
        head: &Head,
        who: &Signature,
        message: &str,
    ) -> Result<(), Error> {
        let _lock = self.lock()?;
        let old = self.head_commit().ok().flatten();
        let (text, new) = match head {
            Head::Branch(name) => (format!("ref: {name}\n"), self.get(name)?),
            Head::Detached(id) => (format!("{id}\n"), Some(*id)),
        };
        let path = self.head_path();
        self.temps
            .write_durable(&path, text.as_bytes())
            .map_err(io_err(&path))?;
        self.append_log("HEAD", old, new, who, message)
    }

    /// The id a full ref name points at.
    pub fn get(&self, name: &str) -> Result<Option<ObjectId>, Error> {
        let path = self.ref_path(name);
        match fs::read_to_string(&path) {
            Ok(text) => text
                .trim_end_matches('\n')
                .parse()
                .map(Some)
                .map_err(|_| Error::Corrupt {
                    path,
                    why: "expected a commit id".into(),
                }),
            // `refs/heads/a` is a directory when `a/b` exists; `a/b` cannot exist when the
            // file `a` does. Either way there is no ref by this name.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound
                        | io::ErrorKind::NotADirectory
                        | io::ErrorKind::IsADirectory
                ) =>
            {
                Ok(None)
            }
            Err(source) => Err(Error::Io { path, source }),
        }
    }

    /// Move (or with `new == None`, delete) a ref, if it still has the `expected` value.
    /// When HEAD is on this branch, HEAD's reflog records the move too. Outside this
    /// crate refs move through `Repo::update_ref`, which takes the repository lock's
    /// guard.
    pub(crate) fn update(
        &self,
        name: &str,
        expected: Expected,
        new: Option<ObjectId>,
        who: &Signature,
        message: &str,
    ) -> Result<(), Error> {
        let _lock = self.lock()?;
        let current = self.get(name)?;
        let ok = match expected {
            Expected::Any => true,
            Expected::Absent => current.is_none(),
            Expected::Is(id) => current == Some(id),
        };
        if !ok {
            let show =
                |v: Option<ObjectId>| v.map(|id| id.short()).unwrap_or_else(|| "nothing".into());
            return Err(Error::Moved {
                name: name.to_owned(),
                expected: match expected {
                    Expected::Is(id) => id.short(),
                    _ => "nothing".into(),
                },
                found: show(current),
            });
        }
        let path = self.ref_path(name);
        match new {
            Some(id) => {
                self.make_parent_dirs(name, &path)?;
                self.temps
                    .write_durable(&path, format!("{id}\n").as_bytes())
                    .map_err(io_err(&path))?;
            }
            None => match atomic::remove_file(&path) {
                Ok(()) => {
                    self.prune_empty_parents(&path);
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => return Err(Error::Io { path, source }),
            },
        }
        self.append_log(name, current, new, who, message)?;
        if matches!(self.read_head(), Ok(Head::Branch(ref b)) if b == name) {
            self.append_log("HEAD", current, new, who, message)?;
        }
        Ok(())
    }

    fn make_parent_dirs(&self, name: &str, path: &Path) -> Result<(), Error> {
        let parent = path.parent().expect("ref paths have a parent");
        if let Err(source) = atomic::create_dir_all(parent) {
            // A file standing where a directory is needed: another ref is in the way.
            let mut blocker = parent.to_path_buf();
            while !blocker.is_file() && blocker.pop() {}
            if blocker.is_file()
                && let Ok(rel) = blocker.strip_prefix(&self.common)
            {
                return Err(Error::DirectoryConflict {
                    name: name.to_owned(),
                    blocker: rel.to_string_lossy().into_owned(),
                });
            }
            return Err(Error::Io {
                path: parent.to_path_buf(),
                source,
            });
        }
        if path.is_dir() {
            return Err(Error::DirectoryConflict {
                name: name.to_owned(),
                blocker: format!("{name}/…"),
            });
        }
        Ok(())
    }

    /// Remove directories left empty by deleting `a/b` style refs, up to `refs/<kind>/`.
    fn prune_empty_parents(&self, path: &Path) {
        let stop = self.common.join("refs");
        let mut dir = path.parent();
        while let Some(d) = dir {
            if d.parent() == Some(stop.as_path()) || d == stop || atomic::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
    }

    /// Every ref under `prefix` (for example `refs/heads/`), sorted by name.
    pub fn list(&self, prefix: &str) -> Result<Vec<(String, ObjectId)>, Error> {
        let mut out = Vec::new();
        let dir = self.common.join(prefix.trim_end_matches('/'));
        self.collect(&dir, prefix.trim_end_matches('/'), &mut out)?;
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    fn collect(
        &self,
        dir: &Path,
        name: &str,
        out: &mut Vec<(String, ObjectId)>,
    ) -> Result<(), Error> {
        let rd = match fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(Error::Io {
                    path: dir.to_path_buf(),
                    source,
                });
            }
        };
        for entry in rd {
            let entry = entry.map_err(io_err(dir))?;
            let Some(file_name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if file_name.starts_with(atomic::TEMP_PREFIX) {
                continue;
            }
            let full = format!("{name}/{file_name}");
            let path = entry.path();
            if path.is_dir() {
                self.collect(&path, &full, out)?;
            } else if let Some(id) = self.get(&full)? {
                out.push((full, id));
            }
        }
        Ok(())
    }

    /// A ref's reflog, oldest first. Empty when there is none.
    pub fn reflog(&self, name: &str) -> Result<Vec<ReflogEntry>, Error> {
        let path = self.log_path(name);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(Error::Io { path, source }),
        };
        // A line cut short by a crash is skipped, not fatal: the ref itself is the truth.
        Ok(text.lines().filter_map(parse_log_line).collect())
    }

    /// Every reflog in the repository: shared ones and this work tree's HEAD log.
    pub fn all_reflogs(&self) -> Result<Vec<(String, Vec<ReflogEntry>)>, Error> {
        let mut names = vec!["HEAD".to_owned()];
        let logs = self.common.join("logs");
        let mut stack = vec![logs.join("refs")];
        while let Some(dir) = stack.pop() {
            let Ok(rd) = fs::read_dir(&dir) else { continue };
            for entry in rd.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if let Ok(rel) = path.strip_prefix(&logs)
                    && let Some(s) = rel.to_str()
                {
                    names.push(s.replace(std::path::MAIN_SEPARATOR, "/"));
                }
            }
        }
        names
            .into_iter()
            .map(|n| self.reflog(&n).map(|log| (n, log)))
            .collect()
    }

    fn append_log(
        &self,
        name: &str,
        old: Option<ObjectId>,
        new: Option<ObjectId>,
        who: &Signature,
        message: &str,
    ) -> Result<(), Error> {
        let path = self.log_path(name);
        let parent = path.parent().expect("log paths have a parent");
        atomic::create_dir_all(parent).map_err(io_err(parent))?;
        let hex = |v: Option<ObjectId>| v.map(|id| id.to_hex()).unwrap_or_else(|| NULL_HEX.into());
        let message: String = message
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .filter(|c| *c != '\t')
            .collect();
        let line = format!(
            "{} {} {} <{}> {} {}\t{}\n",
            hex(old),
            hex(new),
            who.name,
            who.email,
            who.time,
            format_tz(who.tz_minutes),
            message
        );
        atomic::append(&path, line.as_bytes()).map_err(io_err(&path))
    }

    fn lock(&self) -> Result<Lock, Error> {
        Ok(Lock::acquire(
            &self.common.join("refs-lock"),
            self.lock_timeout,
        )?)
    }
}

/// `+hhmm` / `-hhmm`.
pub fn format_tz(minutes: i16) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let m = minutes.unsigned_abs();
    format!("{sign}{:02}{:02}", m / 60, m % 60)
}

/// Parse `+hhmm` / `-hhmm` into minutes.
pub fn parse_tz(s: &str) -> Option<i16> {
    let (sign, digits) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i16 = digits[..2].parse().ok()?;
    let m: i16 = digits[2..].parse().ok()?;
    Some(sign * (h * 60 + m))
}

fn parse_log_line(line: &str) -> Option<ReflogEntry> {
    let (head, message) = line.split_once('\t')?;
    let old_hex = head.get(..64)?;
    let new_hex = head.get(65..129)?;
    let ident = head.get(130..)?;
    let parse = |h: &str| -> Option<Option<ObjectId>> {
        if h == NULL_HEX {
            Some(None)
        } else {
            h.parse().ok().map(Some)
        }
    };
    let close = ident.rfind('>')?;
    let (name, email) = Signature::parse_identity(&ident[..=close])?;
    let mut rest = ident[close + 1..].split_whitespace();
    let time = rest.next()?.parse().ok()?;
    let tz_minutes = parse_tz(rest.next()?)?;
    Some(ReflogEntry {
        old: parse(old_hex)?,
        new: parse(new_hex)?,
        who: Signature {
            name,
            email,
            time,
            tz_minutes,
        },
        message: message.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who() -> Signature {
        Signature {
            name: "T Ester".into(),
            email: "t@example.com".into(),
            time: 1_700_000_000,
            tz_minutes: -90,
        }
    }

    fn refs() -> (tempfile::TempDir, Refs) {
        let dir = tempfile::tempdir().expect("tempdir");
        let refs = Refs::new(dir.path().to_path_buf(), dir.path().to_path_buf());
        refs.init_head("main").expect("head");
        (dir, refs)
    }

    #[test]
    fn compare_and_swap_and_reflog() {
        let (_d, refs) = refs();
        let a = ObjectId::of(b"a");
        let b = ObjectId::of(b"b");
        assert_eq!(refs.head_commit().expect("head"), None);
        refs.update(
            "refs/heads/main",
            Expected::Absent,
            Some(a),
            &who(),
            "commit: one",
        )
        .expect("create");
        assert!(matches!(
            refs.update("refs/heads/main", Expected::Absent, Some(b), &who(), "x"),
            Err(Error::Moved { .. })
        ));
        refs.update(
            "refs/heads/main",
            Expected::Is(a),
            Some(b),
            &who(),
            "commit: two",
        )
        .expect("move");
        assert_eq!(refs.head_commit().expect("head"), Some(b));
        let log = refs.reflog("refs/heads/main").expect("log");
        assert_eq!(log.len(), 2);
        assert_eq!(log[1].old, Some(a));
        assert_eq!(log[1].new, Some(b));
        assert_eq!(log[1].who, who());
        assert_eq!(log[1].message, "commit: two");
        assert_eq!(refs.reflog("HEAD").expect("head log").len(), 2);
    }

    /// Regression: `refs-lock` was always waited for with the built-in 5 s, whatever
    /// `core.lock_timeout` or `DVX_LOCK_TIMEOUT` said.
    #[test]
    fn a_ref_update_waits_only_as_long_as_configured() {
        let (d, mut refs) = refs();
        refs.set_lock_timeout(Duration::from_millis(50));
        let _held = Lock::acquire(&d.path().join("refs-lock"), Duration::ZERO).expect("lock");
        let start = std::time::Instant::now();
        let result = refs.update(
            "refs/heads/main",
            Expected::Any,
            Some(ObjectId::of(b"a")),
            &who(),
            "x",
        );
        assert!(matches!(result, Err(Error::Lock(LockError::Busy { .. }))));
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "waited {:?}",
            start.elapsed()
        );
    }

    #[test]
    fn lists_nested_names_and_detects_directory_conflicts() {
        let (_d, refs) = refs();
        let a = ObjectId::of(b"a");
        refs.update(
            "refs/heads/feature/x",
            Expected::Absent,
            Some(a),
            &who(),
            "b",
        )
        .expect("nested");
        refs.update("refs/heads/main", Expected::Absent, Some(a), &who(), "b")
            .expect("main");
        let names: Vec<_> = refs
            .list(HEADS)
            .expect("list")
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, vec!["refs/heads/feature/x", "refs/heads/main"]);
        assert!(matches!(
            refs.update("refs/heads/feature", Expected::Absent, Some(a), &who(), "b"),
            Err(Error::DirectoryConflict { .. })
        ));
        assert!(matches!(
            refs.update(
                "refs/heads/main/sub",
                Expected::Absent,
                Some(a),
                &who(),
                "b"
            ),
            Err(Error::DirectoryConflict { .. })
        ));
        refs.update(
            "refs/heads/feature/x",
            Expected::Is(a),
            None,
            &who(),
            "delete",
        )
        .expect("delete");
        assert_eq!(refs.get("refs/heads/feature/x").expect("get"), None);
        // The reflog outlives the branch (gc grace).
        assert_eq!(refs.reflog("refs/heads/feature/x").expect("log").len(), 2);
    }

    #[test]
    fn validates_names_like_git() {
        for bad in [
            "", "a..b", "a b", "a~1", "-x", "a/", ".hidden", "x.lock", "HEAD", "a//b",
        ] {
            assert!(
                validate_name(bad, "branch").is_err(),
                "{bad:?} should be refused"
            );
        }
        for good in ["main", "feature/x", "v1.2", "release-2026"] {
            validate_name(good, "branch").expect(good);
        }
    }

    #[test]
    fn timezones_round_trip() {
        for m in [0, 60, -90, 330, -720] {
            assert_eq!(parse_tz(&format_tz(m)), Some(m));
        }
    }
}
