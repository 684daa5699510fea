//! `dvx checkout`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use dvx::flow::pin;
use dvx::flow::switch::{self, NewBranch, NotTaken, SwitchOptions, Switched};
use dvx::hash::ObjectId;
use dvx::repo::RepoLock;
use dvx::workspace::{self, CheckoutMode, Workspace};

use serde::Serialize;

use super::hint::Hinted;
use super::{Ctx, follow, render, rev};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Never fetch: write the files whose bytes are already local and record the rest as
    /// "not fetched" (a directory with nothing local stays one entry). Costs time in
    /// proportion to the files written, not to the dataset.
    #[arg(long, conflicts_with = "eager")]
    lazy: bool,
    /// Write every file (the default). Bytes that are not local are reported, and left
    /// not fetched until remotes can bring them.
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
    let options = || -> Result<SwitchOptions> {
        Ok(SwitchOptions {
            mode: if args.lazy {
                CheckoutMode::Lazy
            } else {
                CheckoutMode::Eager
            },
            force: args.force,
            who: ctx.reflog_signature(&ws)?,
        })
    };
    let bars = ctx.progress();
    if let Some(git_rev) = &args.git {
        let switched = pin::checkout_git(&ws, &lock, git_rev, &options()?, &bars)?;
        announce(ctx, &ws, &switched, args.json)?;
        return Ok(ExitCode::SUCCESS);
    }
    if !args.paths.is_empty() {
        let source = match &args.rev {
            Some(rev) => Some((rev::resolve(ws.repo(), rev)?, rev.as_str())),
            None => None,
        };
        return restore(ctx, &ws, &lock, &args.paths, source, args.json);
    }
    let rev = match (args.rev.as_deref(), &args.new_branch) {
        (Some(rev), _) => rev,
        (None, Some(name)) => {
            return new_branch(ctx, &ws, &lock, name, None, &options()?, args.json);
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
            return restore(ctx, &ws, &lock, &[PathBuf::from(rev)], None, args.json);
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(name) = &args.new_branch {
        return new_branch(ctx, &ws, &lock, name, Some(target), &options()?, args.json);
    }
    let switched = switch::to_revision(&ws, &lock, rev, target, &options()?, &bars)?;
    announce(ctx, &ws, &switched, args.json)?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct JsonRestore<'a> {
    restored: Vec<&'a str>,
    unchanged: usize,
    not_fetched: Vec<&'a str>,
}

fn restore(
    ctx: &Ctx,
    ws: &Workspace,
    lock: &RepoLock,
    paths: &[PathBuf],
    source: Option<(ObjectId, &str)>,
    json: bool,
) -> Result<ExitCode> {
    let bars = ctx.progress();
    let report = workspace::restore(ws, lock, &ctx.cwd, paths, source, &bars)?;
    if json {
        let out = JsonRestore {
            restored: report.restored.iter().map(|p| p.as_str()).collect(),
            unchanged: report.unchanged,
            not_fetched: report.not_fetched.iter().map(|p| p.as_str()).collect(),
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
    if !report.not_fetched.is_empty() {
        eprintln!(
            "warning: {} not restored: the bytes are not in the local store (first: {})",
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
    options: &SwitchOptions,
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
        outln!(
            "wrote {}, removed {}{}",
            render::plural(r.written, "file", "files"),
            render::plural(r.removed, "file", "files"),
            if r.not_fetched > 0 {
                format!(", {} not fetched", r.not_fetched)
            } else {
                String::new()
            }
        );
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
