//! `dvx checkout`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use dvx::flow::pin;
use dvx::flow::switch::{self, NewBranch, NotTaken, SwitchOptions, Switched};
use dvx::hash::ObjectId;
use dvx::remote::RemoteSource;
use dvx::repo::RepoLock;
use dvx::store::ObjectSource;
use dvx::workspace::{self, CheckoutMode, CheckoutReport, Workspace};

use serde::Serialize;

use super::hint::Hinted;
use super::{Ctx, follow, render, rev};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Never fetch (no network at all): write the files whose bytes are already local and
    /// record the rest as "not fetched" (a directory with nothing local stays one entry).
    /// Costs time in proportion to the files written, not to the dataset.
    #[arg(long, conflicts_with = "eager")]
    lazy: bool,
    /// Write every file (the default), fetching the bytes that are not local from the
    /// default remote when one is configured; what it lacks stays not fetched.
    #[arg(long)]
    eager: bool,
    /// Throw local changes away: every tracked path ends as the revision (default HEAD)
    /// has it; untracked files are kept.
    #[arg(short, long)]
    force: bool,
    /// Create this branch at the revision (default HEAD) and switch to it.
    #[arg(short = 'b', value_name = "NEW_BRANCH")]
    new_branch: Option<String>,
    /// Check out the data that dvx.lock pins at this git revision (the code is not
    /// changed).
    #[arg(long, value_name = "GIT_REV", conflicts_with = "rev")]
    git: Option<String>,
    /// Print what happened as JSON.
    #[arg(long)]
    json: bool,
    /// Branch, tag or commit to switch to (or, with paths, to restore them from).
    rev: Option<String>,
    /// Paths to restore (after `--`).
    #[arg(last = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let ws = ctx.open_plain()?;
    if args.git.is_none()
        && args.paths.is_empty()
        && args.rev.is_none()
        && args.new_branch.is_none()
        && !args.force
    {
        return Err(Hinted::usage(
            "nothing to check out",
            "give a branch, tag or commit (dvx checkout main), or paths to restore (dvx checkout -- data/)",
        )
        .into());
    }
    // Switching follows a git branch switch itself (quietly: the checkout settles what
    // it could not follow); restoring paths follows as every other command does.
    let restoring = args.git.is_none() && !args.paths.is_empty();
    let lock = if restoring {
        ctx.lock_following(&ws)?
    } else {
        ctx.lock(&ws)?
    };
    let remote = ctx.checkout_source(&ws, args.lazy)?;
    let objects = written_from(&remote, &ws);
    let options = || -> Result<SwitchOptions<'_>> {
        Ok(SwitchOptions {
            mode: if args.lazy {
                CheckoutMode::Lazy
            } else {
                CheckoutMode::Eager
            },
            force: args.force,
            who: ctx.reflog_signature(&ws)?,
            objects,
        })
    };
    let bars = ctx.progress();
    let done = |switched: &Switched| -> Result<ExitCode> {
        announce(ctx, &ws, switched, args.json)?;
        fetched_from(ctx, remote.as_ref(), switched.report.not_fetched, args.json);
        Ok(ExitCode::SUCCESS)
    };
    if let Some(git_rev) = &args.git {
        return done(&pin::checkout_git(&ws, &lock, git_rev, &options()?, &bars)?);
    }
    let restoring = Restoring {
        ws: &ws,
        lock: &lock,
        objects,
        remote: remote.as_ref(),
        json: args.json,
    };
    if !args.paths.is_empty() {
        let source = match &args.rev {
            Some(rev) => Some((rev::resolve(ws.repo(), rev)?, rev.as_str())),
            None => None,
        };
        return restore(ctx, &restoring, &args.paths, source);
    }
    let rev = match (args.rev.as_deref(), &args.new_branch) {
        (Some(rev), _) => rev,
        (None, Some(name)) => {
            let code = new_branch(ctx, &ws, &lock, name, None, &options()?, args.json)?;
            fetched_from(ctx, remote.as_ref(), 0, args.json);
            return Ok(code);
        }
        // `git checkout -f`: throw the local changes away, staying where HEAD is.
        (None, None) => "HEAD",
    };
    let target = match rev::resolve(ws.repo(), rev) {
        Ok(id) => id,
        // `dvx checkout data/x.csv`, as git allows, when it is a tracked path.
        Err(dvx::history::Error::UnknownRevision(_))
            if workspace::is_tracked_path(&ws, &ctx.cwd, std::path::Path::new(rev)) =>
        {
            return restore(ctx, &restoring, &[PathBuf::from(rev)], None);
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(name) = &args.new_branch {
        let code = new_branch(ctx, &ws, &lock, name, Some(target), &options()?, args.json)?;
        fetched_from(ctx, remote.as_ref(), 0, args.json);
        return Ok(code);
    }
    done(&switch::to_revision(
        &ws,
        &lock,
        rev,
        target,
        &options()?,
        &bars,
    )?)
}

/// What a checkout writes files from: `remote` (see [`Ctx::checkout_source`]), else the
/// local store.
pub(super) fn written_from<'a>(
    remote: &'a Option<RemoteSource>,
    ws: &'a Workspace,
) -> &'a dyn ObjectSource {
    match remote {
        Some(remote) => remote,
        None => ws.repo().store(),
    }
}

/// What a checkout did to the work tree: `wrote N files, removed M files[, K not
/// fetched]` (for `checkout`, and `merge`, which checks its result out).
pub(super) fn files_line(r: &CheckoutReport) -> String {
    let mut line = format!(
        "wrote {}, removed {}",
        render::plural(r.written, "file", "files"),
        render::plural(r.removed, "file", "files")
    );
    if r.not_fetched > 0 {
        line.push_str(&format!(", {} not fetched", r.not_fetched));
    }
    line
}

/// After a checkout that could fetch: what came from the remote (people only: the JSON
/// report counts it), and a warning for paths the remote could not provide either.
pub(super) fn fetched_from(
    ctx: &Ctx,
    remote: Option<&RemoteSource>,
    not_fetched: usize,
    json: bool,
) {
    let Some(remote) = remote else {
        return;
    };
    let stats = remote.stats();
    if stats.objects > 0 && !json && !ctx.quiet {
        outln!(
            "fetched {} from {}: {}",
            render::plural(stats.objects as usize, "object", "objects"),
            remote.name(),
            render::transfer(&stats)
        );
    }
    if not_fetched > 0 {
        eprintln!(
            "warning: {} stay not fetched: remote '{}' does not have their bytes either",
            render::plural(not_fetched, "path", "paths"),
            remote.name()
        );
    }
}

/// What a restore reads from and how it reports.
struct Restoring<'a> {
    ws: &'a Workspace,
    lock: &'a RepoLock,
    objects: &'a dyn ObjectSource,
    remote: Option<&'a RemoteSource>,
    json: bool,
}

#[derive(Serialize)]
struct JsonRestore<'a> {
    restored: Vec<&'a str>,
    unchanged: usize,
    not_fetched: Vec<&'a str>,
    fetched: usize,
}

fn restore(
    ctx: &Ctx,
    how: &Restoring<'_>,
    paths: &[PathBuf],
    source: Option<(ObjectId, &str)>,
) -> Result<ExitCode> {
    let bars = ctx.progress();
    let report = workspace::restore_from(
        how.ws,
        how.lock,
        &ctx.cwd,
        paths,
        source,
        how.objects,
        &bars,
    )?;
    if how.json {
        let out = JsonRestore {
            restored: report.restored.iter().map(|p| p.as_str()).collect(),
            unchanged: report.unchanged,
            not_fetched: report.not_fetched.iter().map(|p| p.as_str()).collect(),
            fetched: report.fetched,
        };
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    if !ctx.quiet {
        outln!(
            "restored {}{}",
            render::plural(report.restored.len(), "file", "files"),
            if report.unchanged > 0 {
                format!(" ({} already up to date)", report.unchanged)
            } else {
                String::new()
            }
        );
    }
    if let Some(remote) = how.remote {
        fetched_from(ctx, Some(remote), 0, false);
    }
    if !report.not_fetched.is_empty() {
        let whence = match how.remote {
            Some(remote) => format!(
                "neither the local store nor remote '{}' has their bytes",
                remote.name()
            ),
            None => "the bytes are not in the local store".to_owned(),
        };
        eprintln!(
            "warning: {} not restored: {whence} (first: {})",
            render::plural(report.not_fetched.len(), "file was", "files were"),
            render::quote_path(report.not_fetched[0].as_str())
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn new_branch(
    ctx: &Ctx,
    ws: &Workspace,
    lock: &RepoLock,
    name: &str,
    start: Option<ObjectId>,
    options: &SwitchOptions<'_>,
    json: bool,
) -> Result<ExitCode> {
    let bars = ctx.progress();
    match switch::to_new_branch(ws, lock, name, start, options, &bars)? {
        NewBranch::Unborn { followed } => {
            follow::announce(ctx, &followed);
            if !ctx.quiet {
                outln!("Switched to a new branch '{name}' (no commits yet)");
            }
        }
        NewBranch::AlreadyOn { followed, branch } => {
            follow::announce(ctx, &followed);
            if !ctx.quiet {
                outln!("Already on '{branch}'");
            }
        }
        NewBranch::Switched(switched) => announce(ctx, ws, &switched, json)?,
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct JsonCheckout<'a> {
    head: String,
    branch: Option<&'a str>,
    written: usize,
    removed: usize,
    unchanged: usize,
    not_fetched: usize,
    carried: Vec<&'a str>,
    pin_changed: bool,
    fetched: usize,
}

/// Render a switch: what moved and was written, then (on standard error) the branch
/// following, a branch a pin could not take, and commits left behind.
pub(super) fn announce(ctx: &Ctx, ws: &Workspace, s: &Switched, json: bool) -> Result<()> {
    follow::announce(ctx, &s.followed);
    let r = &s.report;
    if json {
        let out = JsonCheckout {
            head: s.target.to_hex(),
            branch: s.branch.as_deref(),
            written: r.written,
            removed: r.removed,
            unchanged: r.unchanged,
            not_fetched: r.not_fetched,
            carried: r.carried.iter().map(|p| p.as_str()).collect(),
            pin_changed: s.pin_changed,
            fetched: r.fetched,
        };
        outln!("{}", serde_json::to_string_pretty(&out)?);
    } else if !ctx.quiet {
        let summary = ws
            .repo()
            .store()
            .read_commit(&s.target)?
            .summary()
            .to_owned();
        match &s.branch {
            Some(b) => outln!("Switched to branch '{b}'"),
            None => outln!("HEAD is now at {} {summary}", s.target.short()),
        }
        outln!("{}", files_line(r));
        if !r.carried.is_empty() {
            outln!(
                "kept local changes in {}",
                render::plural(r.carried.len(), "path", "paths")
            );
        }
        super::pin::announce(ctx, ws, s.pin_changed)?;
    }
    if let Some(not_taken) = &s.branch_not_taken
        && !ctx.quiet
    {
        let why = match not_taken {
            NotTaken::Elsewhere { branch, tip } => format!(
                "branch '{branch}' is at {}, which does not lead to it",
                tip.short()
            ),
            NotTaken::CheckedOutElsewhere { branch, worktree } => {
                format!("branch '{branch}' is checked out at {}", worktree.display())
            }
        };
        eprintln!(
            "note: HEAD is detached at the pinned commit: {why}; commits made now belong to no branch until `dvx checkout -b <new-branch>`"
        );
    }
    left_behind(ws, &s.left_behind)
}

/// As git warns: commits only the old detached HEAD reached are kept by the reflog alone.
fn left_behind(ws: &Workspace, commits: &[ObjectId]) -> Result<()> {
    const SHOWN: usize = 4;
    let Some(newest) = commits.first() else {
        return Ok(());
    };
    eprintln!(
        "warning: you are leaving {} behind, not connected to any of your branches:\n",
        render::plural(commits.len(), "commit", "commits")
    );
    for id in commits.iter().take(SHOWN) {
        let summary = ws
            .repo()
            .store()
            .read_commit(id)
            .map(|c| c.summary().to_owned())
            .unwrap_or_default();
        eprintln!("  {} {summary}", id.short());
    }
    if commits.len() > SHOWN {
        eprintln!(" ... and {} more.", commits.len() - SHOWN);
    }
    eprintln!(
        "\nIf you want to keep {} by creating a new branch, this may be a good time\nto do so with:\n\n dvx branch <new-branch-name> {}\n",
        if commits.len() == 1 { "it" } else { "them" },
        newest.short()
    );
    Ok(())
}
