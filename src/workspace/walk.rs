//! Walking what lies below a path given to `add` or `status`, with the ignore rules.
//!
//! Rules come from `.dvxignore` files and the user's lines of `.gitignore` files (dvx's own
//! block is skipped), in the directories from the repository root down. A rule applies
//! only to what lies *below* the path being walked: a rule that ignores the path itself or
//! one of its ancestors does not hide it, since data is meant to be ignored by git.
//! `.git/` and `.dvx/` are never entered, ignore files and the top-level `dvx.lock` are
//! never recorded (git tracks them), symlinks are reported as symlinks and never
//! followed, and files other than regular files and symlinks are skipped and reported.

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use rayon::prelude::*;

use super::listing::{Dir, TypeHint, child_path};
use super::real_dirs::RealDirs;
use super::{Error, read_err};
use crate::atomic::TEMP_PREFIX;
use crate::git::{ignore_block, pin};
use crate::path::{RepoPath, validate_name};
use crate::stat::{FileKind, Observed, Stat};

/// One file or symlink found, with what its lstat said (compact: a walk of a million
/// files holds a million of these).
#[derive(Debug, Clone)]
pub struct Found {
    pub path: RepoPath,
    pub kind: FileKind,
    pub stat: Stat,
}

impl Found {
    pub fn observed(&self) -> Observed {
        Observed {
            kind: self.kind,
            stat: self.stat,
        }
    }
}

/// What a walk found, sorted by path.
#[derive(Debug, Default)]
pub struct Walk {
    pub files: Vec<Found>,
    /// Paths skipped because they are not regular files, symlinks or directories.
    pub skipped: Vec<RepoPath>,
}

/// Rules from the root down to a directory, one matcher per directory that has any;
/// each level shares its parents'.
#[derive(Clone, Default)]
struct RuleStack(Vec<Arc<Gitignore>>);

impl RuleStack {
    /// This stack plus the rules of `dir`, reading only the ignore files `present` says
    /// the directory has (a walk knows from the listing, so it never opens a file that is
    /// not there).
    fn with_dir(
        &self,
        root: &Path,
        dir: &RepoPath,
        present: IgnoreFiles,
    ) -> Result<RuleStack, Error> {
        if !present.gitignore && !present.dvxignore {
            return Ok(self.clone());
        }
        let mut out = self.clone();
        if let Some(rules) = load_rules(root, dir, present)? {
            out.0.push(Arc::new(rules));
        }
        Ok(out)
    }

    /// The deepest directory with a rule about `abs` decides, as in git.
    fn is_ignored(&self, abs: &Path, is_dir: bool) -> bool {
        for matcher in self.0.iter().rev() {
            match matcher.matched(abs, is_dir) {
                Match::Ignore(_) => return true,
                Match::Whitelist(_) => return false,
                Match::None => {}
            }
        }
        false
    }
}

/// Which ignore files a directory has (and, for `.gitignore`, whether they count).
#[derive(Debug, Clone, Copy, Default)]
struct IgnoreFiles {
    gitignore: bool,
    dvxignore: bool,
}

impl IgnoreFiles {
    /// Unknown: try both (for the directories above a walk's start).
    fn maybe(use_gitignore: bool) -> IgnoreFiles {
        IgnoreFiles {
            gitignore: use_gitignore,
            dvxignore: true,
        }
    }
}

fn load_rules(
    root: &Path,
    dir: &RepoPath,
    present: IgnoreFiles,
) -> Result<Option<Gitignore>, Error> {
    let abs = dir.to_fs_path(root);
    let mut builder = GitignoreBuilder::new(&abs);
    let mut any = false;
    let mut add_file = |name: &str, skip_block: bool| -> Result<(), Error> {
        let file = abs.join(name);
        let text = match fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ) =>
            {
                return Ok(());
            }
            Err(e) => return Err(read_err(&file)(e)),
        };
        let lines: Box<dyn Iterator<Item = &str>> = if skip_block {
            Box::new(ignore_block::user_lines(&text))
        } else {
            Box::new(text.lines())
        };
        for line in lines {
            // A malformed glob is skipped, as git does.
            if builder.add_line(Some(file.clone()), line).is_ok() {
                any = true;
            }
        }
        Ok(())
    };
    if present.gitignore {
        add_file(".gitignore", true)?;
    }
    if present.dvxignore {
        add_file(".dvxignore", false)?;
    }
    if !any {
        return Ok(None);
    }
    let matcher = builder.build().map_err(|e| Error::BadName {
        path: abs.display().to_string(),
        why: format!("ignore rules: {e}"),
    })?;
    Ok(Some(matcher))
}

/// Names dvx never enters or records: git's and dvx's own directories, ignore files
/// (they belong to git, which tracks them), and dvx's temp files.
pub fn is_reserved(name: &str) -> bool {
    matches!(name, ".git" | ".dvx" | ".gitignore" | ".dvxignore") || name.starts_with(TEMP_PREFIX)
}

/// Why dvx never tracks `path`, if it is one of the paths a walk never records: anything
/// inside `.git/` or `.dvx/`, an ignore file, a dvx temp file, or the top-level
/// `dvx.lock` (the pin, which git tracks). These stay git's (or dvx's own) even when
/// named directly.
pub fn never_tracked(path: &RepoPath) -> Option<&'static str> {
    if path.as_str() == pin::FILE_NAME {
        return Some("the pin of the data version, which git tracks");
    }
    path.components().find_map(|name| match name {
        _ if name.eq_ignore_ascii_case(".git") => Some("inside a .git directory"),
        _ if name.eq_ignore_ascii_case(".dvx") => Some("inside a .dvx directory"),
        ".gitignore" | ".dvxignore" => Some("an ignore file, which git tracks"),
        _ if name.starts_with(TEMP_PREFIX) => Some("a dvx temp file"),
        _ => None,
    })
}

/// Whether walks reach paths: a walk of a start reaches a path at or below it unless a
/// name on the way is one walks never record, or is ignored by the rules above it. Each
/// directory's rules are read once.
pub struct Reach<'a> {
    root: &'a Path,
    use_gitignore: bool,
    rules: HashMap<RepoPath, RuleStack>,
}

impl<'a> Reach<'a> {
    pub fn new(root: &'a Path, use_gitignore: bool) -> Reach<'a> {
        Reach {
            root,
            use_gitignore,
            rules: HashMap::new(),
        }
    }

    /// The rules that apply to the names in `dir`: its own and those above it.
    fn rules_of(&mut self, dir: &RepoPath) -> Result<RuleStack, Error> {
        if let Some(rules) = self.rules.get(dir) {
            return Ok(rules.clone());
        }
        let above = match dir.parent() {
            Some(parent) => self.rules_of(&parent)?,
            None => RuleStack::default(),
        };
        let rules = above.with_dir(self.root, dir, IgnoreFiles::maybe(self.use_gitignore))?;
        self.rules.insert(dir.clone(), rules.clone());
        Ok(rules)
    }

    /// Whether a walk of `start` would find `path` (or, for a directory, enter it).
    pub fn reaches(&mut self, start: &RepoPath, path: &RepoPath) -> Result<bool, Error> {
        if !path.is_within(start) {
            return Ok(false);
        }
        let mut dir = start.clone();
        for name in path.strip_dir(start).unwrap_or("").split('/') {
            if name.is_empty() {
                continue;
            }
            if is_reserved(name) || (dir.is_root() && name == pin::FILE_NAME) {
                return Ok(false);
            }
            let child = dir.join_unchecked(name);
            let abs = child.to_fs_path(self.root);
            let is_dir = child != *path || fs::symlink_metadata(&abs).is_ok_and(|m| m.is_dir());
            let rules = self.rules_of(&dir)?;
            if !rules.0.is_empty() && rules.is_ignored(&abs, is_dir) {
                return Ok(false);
            }
            dir = child;
        }
        Ok(true)
    }
}

/// Walk `start` (a file, symlink or directory under `root`). `use_gitignore` applies the
/// user's `.gitignore` lines as well as `.dvxignore`.
pub fn walk(root: &Path, start: &RepoPath, use_gitignore: bool) -> Result<Walk, Error> {
    let abs = start.to_fs_path(root);
    let metadata = fs::symlink_metadata(&abs).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::NoSuchPath { path: abs.clone() },
        _ => read_err(&abs)(e),
    })?;
    // Found through a symlinked directory: what lies beyond is not the work tree's.
    if let Some(link) = RealDirs::new(root).first_not_real(start) {
        return Err(Error::BeyondSymlink {
            path: start.clone(),
            link,
        });
    }
    let mut walk = Walk::default();
    if !metadata.is_dir() {
        if metadata.is_file() || metadata.file_type().is_symlink() {
            let observed = Observed::of(&metadata);
            walk.files.push(Found {
                path: start.clone(),
                kind: observed.kind,
                stat: observed.stat,
            });
        } else {
            walk.skipped.push(start.clone());
        }
        return Ok(walk);
    }
    let dirs = walk_dirs(root, start, use_gitignore)?;
    walk.files
        .reserve(dirs.dirs.iter().map(DirFiles::len).sum());
    let mut next = 0;
    while next < dirs.dirs.len() {
        flatten(&dirs.dirs, &mut next, &mut walk.files);
    }
    walk.skipped = dirs.skipped;
    Ok(walk)
}

/// The files of one directory that a walk keeps, with their lstat, sorted by name. The
/// names share one buffer: a walk of a million files holds a million small records, not a
/// million paths.
#[derive(Debug)]
pub struct DirFiles {
    pub dir: RepoPath,
    names: String,
    files: Vec<FileRecord>,
}

#[derive(Debug, Clone, Copy)]
struct FileRecord {
    start: u32,
    len: u32,
    kind: FileKind,
    stat: Stat,
}

impl DirFiles {
    /// Room for `files` names of `bytes` bytes in all, so a directory's records are
    /// allocated once.
    fn with_capacity(dir: RepoPath, files: usize, bytes: usize) -> DirFiles {
        DirFiles {
            dir,
            names: String::with_capacity(bytes),
            files: Vec::with_capacity(files),
        }
    }

    fn push(&mut self, name: &str, observed: Observed) {
        let start = u32::try_from(self.names.len()).expect("a directory's names under 4 GiB");
        self.names.push_str(name);
        self.files.push(FileRecord {
            start,
            len: name.len() as u32,
            kind: observed.kind,
            stat: observed.stat,
        });
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The `i`th file's name.
    pub fn name(&self, i: usize) -> &str {
        let f = &self.files[i];
        &self.names[f.start as usize..(f.start + f.len) as usize]
    }

    /// What the `i`th file's lstat said.
    pub fn observed(&self, i: usize) -> Observed {
        let f = &self.files[i];
        Observed {
            kind: f.kind,
            stat: f.stat,
        }
    }

    /// The `i`th file as a [`Found`].
    pub fn found(&self, i: usize) -> Found {
        let observed = self.observed(i);
        Found {
            path: self.dir.join_unchecked(self.name(i)),
            kind: observed.kind,
            stat: observed.stat,
        }
    }
}

/// What a walk of a directory found, one [`DirFiles`] per directory walked (also those
/// without files), in path order of the directories (each before what lies below it).
#[derive(Debug, Default)]
pub struct DirWalk {
    pub dirs: Vec<DirFiles>,
    /// Paths skipped because they are not regular files, symlinks or directories.
    pub skipped: Vec<RepoPath>,
}

/// Walk the directory `start` (the caller has checked that it is a real directory of the
/// work tree, see [`RealDirs`]), keeping each directory's files apart.
pub fn walk_dirs(root: &Path, start: &RepoPath, use_gitignore: bool) -> Result<DirWalk, Error> {
    let abs = start.to_fs_path(root);
    let open = Dir::open(&abs).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::NoSuchPath { path: abs.clone() },
        _ => read_err(&abs)(e),
    })?;
    // Rules of the directories above `start` apply below it; `start`'s own are loaded by
    // the walk from its listing.
    let mut stack = RuleStack::default();
    for dir in start.ancestors() {
        stack = stack.with_dir(root, &dir, IgnoreFiles::maybe(use_gitignore))?;
    }
    let mut out = DirWalk::default();
    walk_dir(root, start, &open, &stack, use_gitignore, &mut out)?;
    out.skipped.sort();
    Ok(out)
}

/// The files of `dirs[*next]` and of the directories below it, in path order: each
/// subdirectory's files are spliced in at its name.
fn flatten(dirs: &[DirFiles], next: &mut usize, out: &mut Vec<Found>) {
    let here = &dirs[*next];
    *next += 1;
    let mut file = 0;
    while let Some(sub) = dirs.get(*next).filter(|d| d.dir.is_within(&here.dir)) {
        let name = sub.dir.file_name();
        while file < here.len() && here.name(file) < name {
            out.push(here.found(file));
            file += 1;
        }
        flatten(dirs, next, out);
    }
    out.extend((file..here.len()).map(|i| here.found(i)));
}

/// Walk one open directory into `out`: its [`DirFiles`], then each subdirectory's, in
/// name order. Subdirectories are walked in parallel.
fn walk_dir(
    root: &Path,
    dir: &RepoPath,
    open: &Dir,
    parent_rules: &RuleStack,
    use_gitignore: bool,
    out: &mut DirWalk,
) -> Result<(), Error> {
    let abs = dir.to_fs_path(root);
    let mut listing = open.list().map_err(read_err(&abs))?;
    let mut present = IgnoreFiles::default();
    for i in 0..listing.len() {
        match listing.name(i) {
            b".gitignore" => present.gitignore = use_gitignore,
            b".dvxignore" => present.dvxignore = true,
            _ => {}
        }
    }
    let rules = parent_rules.with_dir(root, dir, present)?;
    listing.sort();
    let mut files = DirFiles::with_capacity(dir.clone(), listing.len(), listing.bytes());
    let mut subdirs = Vec::new();
    for i in 0..listing.len() {
        let Ok(name) = std::str::from_utf8(listing.name(i)) else {
            return Err(Error::BadName {
                path: child_path(&abs, listing.name(i)).display().to_string(),
                why: "the name is not valid UTF-8".into(),
            });
        };
        if is_reserved(name) || (dir.is_root() && name == pin::FILE_NAME) {
            continue;
        }
        validate_name(name).map_err(|e| Error::BadName {
            path: abs.join(name).display().to_string(),
            why: e.to_string(),
        })?;
        let lstat = || {
            open.lstat(&listing, i)
                .map_err(|e| read_err(&abs.join(name))(e))
        };
        // The listing's type spares an lstat for directories; when the file system does
        // not say, the lstat decides.
        let (kind, mut observed) = match listing.hint(i) {
            TypeHint::Dir => (FileKind::Dir, None),
            TypeHint::File => (FileKind::File, None),
            TypeHint::Symlink => (FileKind::Symlink, None),
            TypeHint::Other => (FileKind::Other, None),
            TypeHint::Unknown => {
                let o = lstat()?;
                (o.kind, Some(o))
            }
        };
        let is_dir = kind == FileKind::Dir;
        if !rules.0.is_empty() && rules.is_ignored(&abs.join(name), is_dir) {
            continue;
        }
        match kind {
            FileKind::Dir => subdirs.push(i),
            FileKind::File | FileKind::Symlink => {
                let o = match observed.take() {
                    Some(o) => o,
                    None => lstat()?,
                };
                match o.kind {
                    FileKind::File | FileKind::Symlink => files.push(name, o),
                    // Replaced since it was listed: taken for what it is now.
                    FileKind::Dir => subdirs.push(i),
                    FileKind::Other => out.skipped.push(dir.join_unchecked(name)),
                }
            }
            FileKind::Other => out.skipped.push(dir.join_unchecked(name)),
        }
    }
    out.dirs.push(files);
    let nested = subdirs
        .par_iter()
        .map(|&i| {
            let name = std::str::from_utf8(listing.name(i)).expect("checked above");
            let sub = dir.join_unchecked(name);
            let child = open
                .open_child(&listing, i)
                .map_err(|e| read_err(&abs.join(name))(e))?;
            let mut below = DirWalk::default();
            walk_dir(root, &sub, &child, &rules, use_gitignore, &mut below)?;
            Ok(below)
        })
        .collect::<Result<Vec<DirWalk>, Error>>()?;
    for below in nested {
        out.dirs.extend(below.dirs);
        out.skipped.extend(below.skipped);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atomic;

    fn names(walk: &Walk) -> Vec<&str> {
        walk.files.iter().map(|f| f.path.as_str()).collect()
    }

    #[test]
    fn honours_ignore_files_below_the_start_but_not_the_start_itself() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        fs::create_dir_all(root.join("data/sub")).expect("mkdir");
        fs::create_dir_all(root.join("data/.git")).expect("mkdir");
        for f in [
            "data/a.csv",
            "data/b.tmp",
            "data/sub/c.csv",
            "data/sub/d.log",
            "data/.git/x",
        ] {
            atomic::write(&root.join(f), b"x").expect("write");
        }
        let gitignore = format!(
            "/data\n*.tmp\n{}\n/a.csv\n{}\n",
            ignore_block::BEGIN,
            ignore_block::END
        );
        atomic::write(&root.join(".gitignore"), gitignore.as_bytes()).expect("write");
        atomic::write(&root.join("data/sub/.dvxignore"), b"*.log\n").expect("write");
        atomic::write(
            &root.join("data/.gitignore"),
            format!("{}\n/a.csv\n{}\n", ignore_block::BEGIN, ignore_block::END).as_bytes(),
        )
        .expect("write");
        let start = RepoPath::new("data").expect("path");
        let walk = walk(root, &start, true).expect("walk");
        assert_eq!(names(&walk), ["data/a.csv", "data/sub/c.csv"]);
        // Without git rules, only .dvxignore applies.
        let walk2 = super::walk(root, &start, false).expect("walk");
        assert!(names(&walk2).contains(&"data/b.tmp"));
        assert!(!names(&walk2).contains(&"data/sub/d.log"));
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_recorded_not_followed_and_fifos_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        fs::create_dir_all(root.join("d")).expect("mkdir");
        std::os::unix::fs::symlink("/etc", root.join("d/etc")).expect("symlink");
        let fifo =
            std::ffi::CString::new(root.join("d/pipe").to_str().expect("utf8")).expect("cstr");
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        let walk = walk(root, &RepoPath::new("d").expect("p"), true).expect("walk");
        assert_eq!(names(&walk), ["d/etc"]);
        assert_eq!(walk.files[0].kind, FileKind::Symlink);
        assert_eq!(walk.skipped, [RepoPath::new("d/pipe").expect("p")]);
    }

    #[test]
    fn dvx_lock_is_skipped_only_at_the_top_and_reserved_paths_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        fs::create_dir_all(root.join("data")).expect("mkdir");
        for f in ["dvx.lock", "a.csv", "data/dvx.lock", "data/.gitignore"] {
            atomic::write(&root.join(f), b"x").expect("write");
        }
        let walk = walk(root, &RepoPath::root(), false).expect("walk");
        assert_eq!(names(&walk), ["a.csv", "data/dvx.lock"]);
        let path = |p: &str| RepoPath::new(p).expect("path");
        for reserved in [
            "dvx.lock",
            ".gitignore",
            "data/.dvxignore",
            "data/.git/config",
            "sub/.dvx/index",
        ] {
            assert!(never_tracked(&path(reserved)).is_some(), "{reserved}");
        }
        for data in ["data/dvx.lock", "a.gitignore", "data/x.csv"] {
            assert_eq!(never_tracked(&path(data)), None, "{data}");
        }
    }

    #[test]
    fn missing_start_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(matches!(
            walk(dir.path(), &RepoPath::new("nope").expect("p"), true),
            Err(Error::NoSuchPath { .. })
        ));
    }
}
