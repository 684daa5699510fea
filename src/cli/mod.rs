//! The command line: parsing, one module per command, and everything printed.
//!
//! Each command parses its arguments, opens the repository, calls a few library
//! functions and renders their reports as text or JSON. Only this module prints, reads
//! the environment (`DVX_AUTHOR`, `DVX_DATE`, `DVX_LOCK_TIMEOUT`, the variables `run
//! --env` records) or draws progress bars, and only it runs a user's command (`run`,
//! `reproduce --run`);
//! standard output is written only through [`output`] (`outln!`, `out!`).
//!
//! This is the one layer that takes the repository lock: a writing command takes it once,
//! before it reads anything ([`Ctx::open_locked`], [`Ctx::lock`]), and passes the guard to
//! the library functions it calls. Opening also follows a git branch switch that happened
//! since the last command ([`follow`]); read-only commands do so only when the lock is
//! free at that moment.

// First, so its macros are in scope in every command module.
#[macro_use]
mod output;

mod add;
mod branch;
mod cat;
mod checkout;
mod clone;
mod commit;
mod completion;
mod diff;
mod drop;
mod fetch;
mod follow;
mod fsck;
mod fsmonitor;
mod gc;
mod hint;
mod hooks;
mod init;
mod log;
mod ls;
mod merge;
mod pin;
mod pull;
mod push;
mod record;
mod remote;
mod render;
mod reproduce;
mod reset;
mod rev;
mod rm;
mod run;
mod runs;
mod show;
mod status;
mod tag;
mod trace;
mod transfer;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use dvx::object::Signature;
use dvx::remote::RemoteSource;
use dvx::repo::RepoLock;
use dvx::workspace::Workspace;

/// Version your data like code: a content-addressed store, dataset history and lazy
/// checkout inside a git repository.
#[derive(Debug, Parser)]
#[command(name = "dvx", version, propagate_version = true, max_term_width = 100)]
struct Cli {
    /// Run as if dvx was started in DIR.
    #[arg(short = 'C', global = true, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Print less: no progress bars and no summaries.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Worker threads for hashing and copying (default: all cores).
    #[arg(short = 'j', long = "jobs", global = true, value_name = "N")]
    jobs: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a dvx repository (at the git top level when inside git).
    Init(init::Args),
    /// Track files and directories: store their bytes and stage them.
    Add(add::Args),
    /// Show staged, unstaged, new and not-fetched paths.
    Status(status::Args),
    /// Stop tracking paths (and delete their files unless --cached).
    Rm(rm::Args),
    /// Unstage paths: the stage takes them from HEAD (or a revision); files are not touched.
    Reset(reset::Args),
    /// Record the stage as a new dataset version.
    Commit(commit::Args),
    /// Show the history of dataset versions.
    Log(log::Args),
    /// Show one commit: metadata and the files it changed.
    Show(show::Args),
    /// List the files of a commit (or of the index).
    Ls(ls::Args),
    /// Write a tracked file's bytes to standard output.
    Cat(cat::Args),
    /// Compare commits, the stage and the work tree.
    Diff(diff::Args),
    /// List, create, delete or rename branches.
    Branch(branch::Args),
    /// List, create or delete tags.
    Tag(tag::Args),
    /// Switch to a branch, tag or commit, or restore paths.
    Checkout(checkout::Args),
    /// Merge another branch or commit into the current one.
    Merge(merge::Args),
    /// Add, list, remove, rename remotes, and change their settings.
    Remote(remote::Args),
    /// Send commits and their data to a remote, then move its branches and tags.
    Push(push::Args),
    /// Bring a remote's branches, tags and history (never file contents).
    Fetch(fetch::Args),
    /// Fetch, merge and fetch every file's bytes; or bring in the bytes of some paths
    /// (or of a run's inputs).
    Pull(pull::Args),
    /// Create a repository (without git) from a remote and check out its default branch.
    Clone(clone::Args),
    /// Free local bytes that the remote holds; the files become not fetched.
    Drop(drop::Args),
    /// Run a command and record its lineage: deps, code, command, outs.
    Run(run::Args),
    /// Record the lineage of a run that happened elsewhere.
    Record(record::Args),
    /// List the recorded runs, newest first.
    Runs(runs::Args),
    /// Show the run that made a file, and the runs behind its inputs.
    Trace(trace::Args),
    /// Check out the exact inputs of the run that made a file; optionally rerun it.
    Reproduce(reproduce::Args),
    /// Delete local objects that nothing references.
    Gc(gc::Args),
    /// Verify every local object, the refs and the index.
    Fsck(fsck::Args),
    /// Start, stop or ask the file watcher `status` uses with `core.fsmonitor`.
    Fsmonitor(fsmonitor::Args),
    /// Install git hooks that keep data in step with git checkout, merge, rebase and push.
    InstallHooks(hooks::InstallArgs),
    /// Remove dvx's git hooks and restore the hooks that were there before.
    UninstallHooks(hooks::UninstallArgs),
    /// Print a shell completion script (bash, zsh or fish).
    Completion(completion::Args),
    /// Merge driver for dvx.lock, run by git (see `dvx install-hooks`).
    #[command(hide = true)]
    MergeDriver(merge::DriverArgs),
    /// The work of an installed git hook, run by git.
    #[command(hide = true)]
    Hook(hooks::HookArgs),
}

/// What every command gets: where it runs and how loudly.
pub struct Ctx {
    pub cwd: PathBuf,
    pub quiet: bool,
}

impl Ctx {
    /// Open the repository containing the working directory, for a command that only
    /// reads: a git branch switch since the last command is followed if the lock is free
    /// right now (never waiting for it).
    pub fn open(&self) -> Result<Workspace> {
        let ws = self.open_plain()?;
        if dvx::flow::follow::pending(&ws)?
            && let Ok(lock) = ws.repo().try_lock()
        {
            let who = self.reflog_signature(&ws)?;
            let followed = dvx::flow::follow::follow_git_branch(&ws, &lock, &who)?;
            follow::announce(self, &followed);
        }
        Ok(ws)
    }

    /// Open the repository without following git (the hooks and the merge driver, which
    /// git runs, and the commands whose flows follow it themselves).
    pub fn open_plain(&self) -> Result<Workspace> {
        let mut ws = Workspace::open(&self.cwd)?;
        if let Ok(secs) = std::env::var("DVX_LOCK_TIMEOUT")
            && let Ok(secs) = secs.parse::<f64>()
        {
            ws.repo_mut()
                .set_lock_timeout(Duration::from_secs_f64(secs.max(0.0)));
        }
        Ok(ws)
    }

    /// Open the repository for a command that writes: take the repository lock, then
    /// follow a git branch switch since the last command.
    pub fn open_locked(&self) -> Result<(Workspace, RepoLock)> {
        let ws = self.open_plain()?;
        let lock = self.lock_following(&ws)?;
        Ok((ws, lock))
    }

    /// Take the repository lock, then follow a git branch switch since the last command.
    pub fn lock_following(&self, ws: &Workspace) -> Result<RepoLock> {
        let lock = self.lock(ws)?;
        if dvx::flow::follow::pending(ws)? {
            let who = self.reflog_signature(ws)?;
            let followed = dvx::flow::follow::follow_git_branch(ws, &lock, &who)?;
            follow::announce(self, &followed);
        }
        Ok(lock)
    }

    /// Take the repository lock, waiting up to its timeout: once per writing command,
    /// before it reads what it will change.
    pub fn lock(&self, ws: &Workspace) -> Result<RepoLock> {
        Ok(ws.repo().lock()?)
    }

    /// The repository's default remote as a source of the bytes the local store lacks,
    /// when any remote is configured; `None` leaves commands to the local store alone.
    /// Nothing is sent until an object is missing.
    pub fn remote_source(&self, ws: &Workspace) -> Result<Option<RemoteSource>> {
        Ok(dvx::remote::source::configured(
            ws,
            &transfer::environment(),
        )?)
    }

    /// The source a command that checks files out (`checkout`, `merge`) writes from: the
    /// default remote when one is configured, so what is not local is fetched; none with
    /// `lazy`, which never goes to the network and so does not even read the remote's
    /// settings.
    pub fn checkout_source(&self, ws: &Workspace, lazy: bool) -> Result<Option<RemoteSource>> {
        if lazy {
            return Ok(None);
        }
        self.remote_source(ws)
    }

    /// Remote `name` (the default remote when `None`) as a source: for commands that
    /// cannot work without one (`pull`, `drop`, `fsck --remote`).
    pub fn remote_named(&self, ws: &Workspace, name: Option<&str>) -> Result<RemoteSource> {
        Ok(dvx::remote::source::open(
            ws,
            &transfer::environment(),
            name,
        )?)
    }

    /// Progress bars on a terminal, nothing on a pipe or with `-q`.
    pub fn progress(&self) -> render::Bars {
        render::Bars::new(!self.quiet && std::io::stderr().is_terminal())
    }

    /// Who signs reflog entries: [`Ctx::signature`], or the name `dvx` when no identity
    /// is configured (moving HEAD should not fail for want of one).
    pub fn reflog_signature(&self, ws: &Workspace) -> Result<Signature> {
        self.signature(ws).or_else(|_| {
            let (time, tz_minutes) = now()?;
            Ok(Signature {
                name: "dvx".into(),
                email: String::new(),
                time,
                tz_minutes,
            })
        })
    }

    /// Who is acting, and when: `DVX_AUTHOR` / `DVX_DATE`, then the repository's
    /// `[user]`, then git's `user.name` / `user.email`.
    pub fn signature(&self, ws: &Workspace) -> Result<Signature> {
        let (time, tz_minutes) = now()?;
        let (name, email) = if let Ok(author) = std::env::var("DVX_AUTHOR") {
            Signature::parse_identity(&author).with_context(|| {
                format!("DVX_AUTHOR='{author}' is not of the form 'Name <email>'")
            })?
        } else if let Some(name) = ws.repo().config().user.name.clone() {
            (
                name,
                ws.repo().config().user.email.clone().unwrap_or_default(),
            )
        } else if let Some(id) = ws.git().and_then(|g| g.identity()) {
            id
        } else {
            return Err(hint::Hinted::new(
                "no author identity is configured",
                "set DVX_AUTHOR='Name <email>', or `git config --global user.name` and user.email",
            )
            .into());
        };
        Ok(Signature {
            name,
            email,
            time,
            tz_minutes,
        })
    }
}

/// The current time and UTC offset, or `DVX_DATE` (`<unix seconds> [+hhmm]`).
pub fn now() -> Result<(i64, i16)> {
    if let Ok(date) = std::env::var("DVX_DATE") {
        let mut parts = date.split_whitespace();
        let secs = parts
            .next()
            .map(|s| s.trim_start_matches('@'))
            .and_then(|s| s.parse::<i64>().ok())
            .with_context(|| format!("DVX_DATE='{date}' is not '<unix seconds> [+hhmm]'"))?;
        let tz = match parts.next() {
            Some(tz) => dvx::refs::parse_tz(tz)
                .with_context(|| format!("DVX_DATE='{date}': bad offset '{tz}'"))?,
            None => 0,
        };
        return Ok((secs, tz));
    }
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    Ok((secs, render::local_offset_minutes(secs)))
}

/// glibc gives each worker thread its own heap, grows it a little at a time and hands
/// freed memory back at once: a status of 100k files made ~2,600 `mprotect` calls (and
/// as many page-table changes under the shared mmap lock) growing and trimming them. A
/// command lives for seconds, so grow in large steps and keep what was freed; pages
/// are still only resident once touched, so peak memory does not change.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: called before any thread exists; mallopt only sets allocator parameters.
    unsafe {
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
    }
}

pub fn main() -> ExitCode {
    // Rust ignores SIGPIPE, so `dvx log | head` would panic in println! once head exits.
    // End quietly instead, as git and other Unix tools do. Every write is atomic, so a
    // command ended this way leaves the repository as a crash would: consistent.
    #[cfg(unix)]
    // SAFETY: called before any thread exists; SIG_DFL is a valid disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    tune_allocator();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let printed = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    // Help and version go to standard output, which may be full too.
                    output::record(printed);
                    output::finish(ExitCode::SUCCESS)
                }
                _ => ExitCode::from(2),
            };
        }
    };
    if let Some(jobs) = cli.jobs {
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(jobs.max(1))
            .build_global();
    }
    let code = match run(cli) {
        Ok(code) => code,
        Err(err) => {
            hint::report(&err);
            ExitCode::from(hint::exit_code(&err))
        }
    };
    // Every temp file is renamed into place or dropped by now: remove this process's
    // (empty) temp directories, so the next command has nothing to sweep.
    dvx::atomic::close_sessions();
    output::finish(code)
}

fn run(cli: Cli) -> Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let cwd = match cli.dir {
        Some(dir) => {
            let dir = cwd.join(dir);
            if !dir.is_dir() {
                return Err(hint::Hinted::usage(
                    format!("-C {}: no such directory", dir.display()),
                    "give an existing directory to -C",
                )
                .into());
            }
            dir
        }
        None => cwd,
    };
    let ctx = Ctx {
        cwd,
        quiet: cli.quiet,
    };
    match cli.command {
        Command::Init(args) => init::run(&ctx, args),
        Command::Add(args) => add::run(&ctx, args),
        Command::Status(args) => status::run(&ctx, args),
        Command::Rm(args) => rm::run(&ctx, args),
        Command::Reset(args) => reset::run(&ctx, args),
        Command::Commit(args) => commit::run(&ctx, args),
        Command::Log(args) => log::run(&ctx, args),
        Command::Show(args) => show::run(&ctx, args),
        Command::Ls(args) => ls::run(&ctx, args),
        Command::Cat(args) => cat::run(&ctx, args),
        Command::Diff(args) => diff::run(&ctx, args),
        Command::Branch(args) => branch::run(&ctx, args),
        Command::Tag(args) => tag::run(&ctx, args),
        Command::Checkout(args) => checkout::run(&ctx, args),
        Command::Merge(args) => merge::run(&ctx, args),
        Command::Remote(args) => remote::run(&ctx, args),
        Command::Push(args) => push::run(&ctx, args),
        Command::Fetch(args) => fetch::run(&ctx, args),
        Command::Pull(args) => pull::run(&ctx, args),
        Command::Clone(args) => clone::run(&ctx, args),
        Command::Drop(args) => drop::run(&ctx, args),
        Command::Run(args) => run::run(&ctx, args),
        Command::Record(args) => record::run(&ctx, args),
        Command::Runs(args) => runs::run(&ctx, args),
        Command::Trace(args) => trace::run(&ctx, args),
        Command::Reproduce(args) => reproduce::run(&ctx, args),
        Command::Gc(args) => gc::run(&ctx, args),
        Command::Fsck(args) => fsck::run(&ctx, args),
        Command::Fsmonitor(args) => fsmonitor::run(&ctx, args),
        Command::InstallHooks(args) => hooks::install(&ctx, args),
        Command::UninstallHooks(args) => hooks::uninstall(&ctx, args),
        Command::Completion(args) => completion::run(args),
        Command::MergeDriver(args) => merge::driver(&ctx, args),
        Command::Hook(args) => hooks::run(&ctx, args),
    }
}
