//! Installing and removing the git hooks that keep data in step with code.
//!
//! Each hook is a short shell script that runs the hook that was there before (kept as
//! `<hook>.pre-dvx`) and then `dvx hook <name>`, where the real work happens; both get
//! the hook's arguments and, for hooks git feeds on standard input (pre-push,
//! post-rewrite), the same input. Installing
//! is idempotent; uninstalling removes dvx's scripts and puts the earlier hooks back.
//! `core.hooksPath` is honoured. The merge driver for `dvx.lock` is registered in the
//! repository's local config and `info/attributes`, never in tracked files.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::{Error, GitRepo};
use crate::atomic;

/// The hooks dvx installs.
pub const HOOKS: [&str; 4] = ["post-checkout", "post-merge", "post-rewrite", "pre-push"];
/// The line that marks a hook as dvx's.
pub const MARKER: &str = "# dvx-managed hook";
/// Suffix of a hook that was there before dvx's.
pub const SAVED_SUFFIX: &str = ".pre-dvx";
const ATTRIBUTE: &str = "dvx.lock merge=dvx";

/// What `install` did.
#[derive(Debug, Default)]
pub struct InstallReport {
    pub dir: PathBuf,
    /// Hooks written (new or updated).
    pub installed: Vec<&'static str>,
    /// Hooks already installed exactly so.
    pub unchanged: Vec<&'static str>,
    /// Existing hooks kept and chained (renamed to `<hook>.pre-dvx`).
    pub chained: Vec<&'static str>,
    pub merge_driver: bool,
}

/// What `uninstall` did.
#[derive(Debug, Default)]
pub struct UninstallReport {
    pub dir: PathBuf,
    pub removed: Vec<&'static str>,
    /// Earlier hooks put back in place.
    pub restored: Vec<&'static str>,
    /// Hooks that are not dvx's, left alone.
    pub foreign: Vec<&'static str>,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The script for one hook.
fn script(hook: &str, dvx: &Path, eager: bool) -> String {
    let dvx = quote(&dvx.display().to_string());
    let saved = format!("{hook}{SAVED_SUFFIX}");
    let mode = if eager { " --eager" } else { "" };
    let run_saved_and_dvx = if reads_stdin(hook) {
        // pre-push reads the refs being pushed on stdin, post-rewrite the rewritten
        // commits: both the saved hook and dvx need it.
        format!(
            "input=$(mktemp) || exit 1\n\
             cat > \"$input\"\n\
             if [ -x \"$hook_dir/{saved}\" ]; then\n    \
                 \"$hook_dir/{saved}\" \"$@\" < \"$input\" || {{ status=$?; rm -f \"$input\"; exit $status; }}\n\
             fi\n\
             \"$DVX\" hook {hook}{mode} \"$@\" < \"$input\"\n\
             status=$?\n\
             rm -f \"$input\"\n\
             exit $status\n"
        )
    } else {
        format!(
            "if [ -x \"$hook_dir/{saved}\" ]; then\n    \
                 \"$hook_dir/{saved}\" \"$@\" || exit $?\n\
             fi\n\
             exec \"$DVX\" hook {hook}{mode} \"$@\"\n"
        )
    };
    format!(
        "#!/bin/sh\n\
         {MARKER}: keeps dvx data in step with git (dvx install-hooks; remove with dvx uninstall-hooks).\n\
         # A hook that was here before runs first; it is kept as {saved}.\n\
         dvx_binary={dvx}\n\
         DVX=\"${{DVX:-$dvx_binary}}\"\n\
         command -v \"$DVX\" >/dev/null 2>&1 || DVX=dvx\n\
         hook_dir=$(dirname \"$0\")\n\
         {run_saved_and_dvx}"
    )
}

/// Whether git passes the hook data on standard input.
fn reads_stdin(hook: &str) -> bool {
    matches!(hook, "pre-push" | "post-rewrite")
}

fn is_ours(path: &Path) -> bool {
    fs::read_to_string(path).is_ok_and(|t| t.contains(MARKER))
}

/// Write a hook, executable from the moment it exists (a crash between writing it and a
/// chmod would leave a hook git ignores, and that an install run again calls unchanged).
#[cfg(unix)]
fn write_executable(path: &Path, text: &str) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    atomic::write_with_permissions(path, text.as_bytes(), fs::Permissions::from_mode(0o755))
}

#[cfg(not(unix))]
fn write_executable(path: &Path, text: &str) -> io::Result<()> {
    atomic::write(path, text.as_bytes())
}

/// Whether git would run the hook at `path` (it ignores one without the executable bit).
#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_path: &Path) -> bool {
    true
}

/// Install the hooks (and, with `merge_driver`, the `dvx.lock` merge driver). `dvx` is
/// the binary the hooks run.
pub fn install(
    git: &GitRepo,
    dvx: &Path,
    eager: bool,
    merge_driver: bool,
) -> Result<InstallReport, Error> {
    let dir = git.hooks_dir();
    atomic::create_dir_all(&dir).map_err(io_err(&dir))?;
    let mut report = InstallReport {
        dir: dir.clone(),
        ..InstallReport::default()
    };
    // Check first, so a refusal leaves every hook as it was.
    for hook in HOOKS {
        let path = dir.join(hook);
        let saved = dir.join(format!("{hook}{SAVED_SUFFIX}"));
        if path.exists() && !is_ours(&path) && saved.exists() {
            return Err(Error::Io {
                path: saved,
                source: io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!(
                        "both {hook} and {hook}{SAVED_SUFFIX} exist; dvx will not overwrite either"
                    ),
                ),
            });
        }
    }
    for hook in HOOKS {
        let path = dir.join(hook);
        let text = script(hook, dvx, eager);
        if fs::read_to_string(&path).ok().as_deref() == Some(text.as_str()) && is_executable(&path)
        {
            report.unchanged.push(hook);
            continue;
        }
        if path.exists() && !is_ours(&path) {
            let saved = dir.join(format!("{hook}{SAVED_SUFFIX}"));
            atomic::rename(&path, &saved).map_err(io_err(&path))?;
            report.chained.push(hook);
        }
        write_executable(&path, &text).map_err(io_err(&path))?;
        report.installed.push(hook);
    }
    if merge_driver {
        register_merge_driver(git, dvx)?;
        report.merge_driver = true;
    }
    Ok(report)
}

fn attributes_file(git: &GitRepo) -> PathBuf {
    git.common_dir().join("info").join("attributes")
}

fn register_merge_driver(git: &GitRepo, dvx: &Path) -> Result<(), Error> {
    git.git(&[
        "config",
        "merge.dvx.name",
        "dvx: merge the data versions two dvx.lock files pin",
    ])?;
    let driver = format!(
        "{} merge-driver %O %A %B",
        quote(&dvx.display().to_string())
    );
    git.git(&["config", "merge.dvx.driver", &driver])?;
    let path = attributes_file(git);
    let text = fs::read_to_string(&path).unwrap_or_default();
    if !text.lines().any(|l| l.trim() == ATTRIBUTE) {
        let parent = path.parent().expect("info/attributes has a parent");
        atomic::create_dir_all(parent).map_err(io_err(parent))?;
        let mut new = text;
        if !new.is_empty() && !new.ends_with('\n') {
            new.push('\n');
        }
        new.push_str(ATTRIBUTE);
        new.push('\n');
        atomic::write(&path, new.as_bytes()).map_err(io_err(&path))?;
    }
    Ok(())
}

fn unregister_merge_driver(git: &GitRepo) -> Result<(), Error> {
    // `--remove-section` fails when the section is absent, which is fine.
    let _ = git.git(&["config", "--remove-section", "merge.dvx"]);
    let path = attributes_file(git);
    if let Ok(text) = fs::read_to_string(&path)
        && text.lines().any(|l| l.trim() == ATTRIBUTE)
    {
        let kept: String = text
            .lines()
            .filter(|l| l.trim() != ATTRIBUTE)
            .map(|l| format!("{l}\n"))
            .collect();
        atomic::write(&path, kept.as_bytes()).map_err(io_err(&path))?;
    }
    Ok(())
}

/// Remove dvx's hooks and merge driver, and put earlier hooks back.
pub fn uninstall(git: &GitRepo) -> Result<UninstallReport, Error> {
    let dir = git.hooks_dir();
    let mut report = UninstallReport {
        dir: dir.clone(),
        ..UninstallReport::default()
    };
    for hook in HOOKS {
        let path = dir.join(hook);
        let saved = dir.join(format!("{hook}{SAVED_SUFFIX}"));
        if path.exists() && !is_ours(&path) {
            report.foreign.push(hook);
            continue;
        }
        if path.exists() {
            atomic::remove_file(&path).map_err(io_err(&path))?;
            report.removed.push(hook);
        }
        if saved.exists() {
            atomic::rename(&saved, &path).map_err(io_err(&saved))?;
            report.restored.push(hook);
        }
    }
    unregister_merge_driver(git)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_chain_the_saved_hook_and_quote_the_binary() {
        let s = script("post-checkout", Path::new("/opt/my dvx/dvx"), true);
        assert!(s.starts_with("#!/bin/sh\n"));
        assert!(s.contains(MARKER));
        assert!(s.contains("'/opt/my dvx/dvx'"));
        assert!(s.contains("post-checkout.pre-dvx"));
        assert!(s.contains("hook post-checkout --eager"));
        for hook in ["pre-push", "post-rewrite"] {
            let p = script(hook, Path::new("/bin/dvx"), false);
            assert!(p.contains(&format!("{hook}.pre-dvx\" \"$@\" < \"$input\"")));
            assert!(p.contains(&format!("hook {hook} \"$@\" < \"$input\"")));
        }
        assert_eq!(quote("it's"), r"'it'\''s'");
    }
}
