//! `dvx merge`, and the merge driver git runs for `dvx.lock`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use dvx::flow::merge::{self, DriverOutcome, MergeOptions, MergeOutcome};
use dvx::history::merge::Strategy;

use serde::Serialize;

use super::hint;
use super::{Ctx, follow, render, rev};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum StrategyArg {
    Ours,
    Theirs,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The branch, tag or commit to merge into the current branch.
    #[arg(required_unless_present = "git_conflict")]
    rev: Option<String>,
    /// Resolve every conflicting path one way.
    #[arg(long, value_enum)]
    strategy: Option<StrategyArg>,
    /// The merge commit's message.
    #[arg(short, long)]
    message: Option<String>,
    /// Resolve a git merge conflict in dvx.lock: merge the two pinned dvx commits and
    /// rewrite dvx.lock (then `git commit` finishes the git merge).
    #[arg(long, conflicts_with = "rev")]
    git_conflict: bool,
    /// Check the result out from local bytes only, never the network: files whose bytes
    /// are not local become not fetched (as with `checkout --lazy`).
    #[arg(long, conflicts_with = "git_conflict")]
    lazy: bool,
    /// Print what happened as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let ws = ctx.open_plain()?;
    let strategy = args.strategy.map(|s| match s {
        StrategyArg::Ours => Strategy::Ours,
        StrategyArg::Theirs => Strategy::Theirs,
    });
    let bars = ctx.progress();
    if args.git_conflict {
        let who = ctx.signature(&ws)?;
        let lock = ctx.lock(&ws)?;
        let done = merge::resolve_git_conflict(&ws, &lock, strategy, args.message, &who, &bars)?;
        follow::announce(ctx, &done.followed);
        report(ctx, &done.outcome, false)?;
        if !ctx.quiet {
            outln!(
                "dvx.lock now pins {}; it is staged, so `git commit` finishes the merge",
                done.pinned.short()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let rev = args
        .rev
        .expect("clap requires a revision without --git-conflict");
    let theirs = rev::resolve(ws.repo(), &rev)?;
    let lock = ctx.lock(&ws)?;
    // As with git, only a merge commit needs an author; a fast-forward moves HEAD.
    let who = match ctx.signature(&ws) {
        Ok(who) => who,
        Err(e) if merge::makes_commit(ws.repo(), theirs)? => return Err(e),
        Err(_) => ctx.reflog_signature(&ws)?,
    };
    let options = MergeOptions {
        theirs,
        name: rev,
        strategy,
        message: args.message,
        who,
    };
    // The result is checked out as an eager checkout is: what is not local comes from
    // the default remote, when one is configured (`--lazy`: never).
    let remote = ctx.checkout_source(&ws, args.lazy)?;
    let objects = super::checkout::written_from(&remote, &ws);
    let done = merge::merge(&ws, &lock, &options, objects, &bars)?;
    follow::announce(ctx, &done.followed);
    report(ctx, &done.outcome, args.json)?;
    let not_fetched = match &done.outcome {
        MergeOutcome::UpToDate => 0,
        MergeOutcome::FastForward(_, r) | MergeOutcome::Merged { report: r, .. } => r.not_fetched,
    };
    super::checkout::fetched_from(ctx, remote.as_ref(), not_fetched, args.json);
    super::pin::announce(ctx, &ws, done.pin_changed && !args.json)?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct JsonMerge {
    /// `up-to-date`, `fast-forward` or `merged`.
    outcome: &'static str,
    head: Option<String>,
    written: usize,
    removed: usize,
    /// Paths recorded as not fetched: their bytes are neither local nor on the remote.
    not_fetched: usize,
    resolved: Vec<String>,
}

pub fn report(ctx: &Ctx, outcome: &MergeOutcome, json: bool) -> Result<()> {
    if json {
        let out = match outcome {
            MergeOutcome::UpToDate => JsonMerge {
                outcome: "up-to-date",
                head: None,
                written: 0,
                removed: 0,
                not_fetched: 0,
                resolved: Vec::new(),
            },
            MergeOutcome::FastForward(id, r) => JsonMerge {
                outcome: "fast-forward",
                head: Some(id.to_hex()),
                written: r.written,
                removed: r.removed,
                not_fetched: r.not_fetched,
                resolved: Vec::new(),
            },
            MergeOutcome::Merged {
                commit,
                resolved,
                report,
            } => JsonMerge {
                outcome: "merged",
                head: Some(commit.to_hex()),
                written: report.written,
                removed: report.removed,
                not_fetched: report.not_fetched,
                resolved: resolved.iter().map(|p| p.to_string()).collect(),
            },
        };
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    if ctx.quiet {
        return Ok(());
    }
    match outcome {
        MergeOutcome::UpToDate => outln!("Already up to date."),
        MergeOutcome::FastForward(id, r) => outln!(
            "Fast-forward to {}: {}",
            id.short(),
            super::checkout::files_line(r)
        ),
        MergeOutcome::Merged {
            commit,
            resolved,
            report,
        } => {
            outln!(
                "Merged as {}: {}",
                commit.short(),
                super::checkout::files_line(report)
            );
            if !resolved.is_empty() {
                outln!(
                    "resolved {} by strategy",
                    render::plural(resolved.len(), "conflict", "conflicts")
                );
            }
        }
    }
    Ok(())
}

/// Arguments git passes to a merge driver (`%O %A %B`).
#[derive(Debug, clap::Args)]
pub struct DriverArgs {
    /// The common ancestor's version (unused: dvx finds the merge base in its own graph,
    /// which knows more, several merges back).
    base: PathBuf,
    /// Ours; the result is written here.
    ours: PathBuf,
    /// Theirs.
    theirs: PathBuf,
}

/// Merge the dvx commits two versions of `dvx.lock` pin, without touching the work tree
/// (the post-merge hook checks the result out). Exit 1 leaves the conflict to the user.
pub fn driver(ctx: &Ctx, args: DriverArgs) -> Result<ExitCode> {
    // Git runs this in the middle of its merge: no lock, and no following.
    let ws = ctx.open_plain()?;
    let who = ctx.signature(&ws).ok();
    match merge::merge_driver(&ws, &args.ours, &args.theirs, who.as_ref())? {
        DriverOutcome::Same | DriverOutcome::Merged(_) => Ok(ExitCode::SUCCESS),
        DriverOutcome::NotLocal => {
            eprintln!(
                "dvx: a pinned commit is not local; leaving dvx.lock conflicted ({}, then run `dvx merge --git-conflict`)",
                hint::BRING_OBJECTS
            );
            Ok(ExitCode::FAILURE)
        }
        DriverOutcome::Conflicts(n) => {
            eprintln!(
                "dvx: the pinned data versions conflict in {}; resolve with `dvx merge --git-conflict --strategy ours|theirs`",
                render::plural(n, "path", "paths")
            );
            Ok(ExitCode::FAILURE)
        }
    }
}
