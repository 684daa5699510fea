//! `dvx merge`, and the merge driver git runs for `dvx.lock`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use dvx::git::pin::{self, Pin};
use dvx::hash::ObjectId;
use dvx::history::merge::{Strategy, is_ancestor, merge_commits};
use dvx::object::Commit;
use dvx::workspace::{self, MergeOptions, MergeOutcome, Workspace};

use serde::Serialize;

use super::hint::{self, Hinted};
use super::{Ctx, render, rev};

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
    /// Print what happened as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let ws = ctx.open()?;
    let strategy = args.strategy.map(|s| match s {
        StrategyArg::Ours => Strategy::Ours,
        StrategyArg::Theirs => Strategy::Theirs,
    });
    if args.git_conflict {
        return git_conflict(ctx, &ws, strategy, args.message);
    }
    let rev = args
        .rev
        .expect("clap requires a revision without --git-conflict");
    let theirs = rev::resolve(ws.repo(), &rev)?;
    let outcome = merge(ctx, &ws, theirs, &rev, strategy, args.message)?;
    // A merge moves HEAD like a commit does: the pin follows.
    let pin_changed = super::pin::repin(&ws)?;
    report(ctx, &outcome, args.json)?;
    super::pin::announce(ctx, &ws, pin_changed && !args.json)?;
    Ok(ExitCode::SUCCESS)
}

fn merge(
    ctx: &Ctx,
    ws: &Workspace,
    theirs: ObjectId,
    name: &str,
    strategy: Option<Strategy>,
    message: Option<String>,
) -> Result<MergeOutcome> {
    let options = MergeOptions {
        theirs,
        name: name.to_owned(),
        strategy,
        message,
        who: ctx.signature(ws)?,
        git: match ws.git() {
            Some(g) => g.head_with_dirtiness()?,
            None => None,
        },
    };
    let bars = ctx.progress();
    Ok(workspace::merge(ws, &options, &bars)?)
}

#[derive(Serialize)]
struct JsonMerge {
    /// `up-to-date`, `fast-forward` or `merged`.
    outcome: &'static str,
    head: Option<String>,
    written: usize,
    removed: usize,
    resolved: Vec<String>,
}

fn report(ctx: &Ctx, outcome: &MergeOutcome, json: bool) -> Result<()> {
    if json {
        let out = match outcome {
            MergeOutcome::UpToDate => JsonMerge {
                outcome: "up-to-date",
                head: None,
                written: 0,
                removed: 0,
                resolved: Vec::new(),
            },
            MergeOutcome::FastForward(id, r) => JsonMerge {
                outcome: "fast-forward",
                head: Some(id.to_hex()),
                written: r.written,
                removed: r.removed,
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
            "Fast-forward to {}: wrote {}, removed {}",
            id.short(),
            render::plural(r.written, "file", "files"),
            render::plural(r.removed, "file", "files")
        ),
        MergeOutcome::Merged {
            commit,
            resolved,
            report,
        } => {
            outln!(
                "Merged as {}: wrote {}, removed {}",
                commit.short(),
                render::plural(report.written, "file", "files"),
                render::plural(report.removed, "file", "files")
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

/// The pins on both sides of a conflicted `dvx.lock`: from git's index (stages 2 and 3)
/// while the merge is in progress, else from the conflict markers in the file.
fn conflicted_pins(ws: &Workspace) -> Result<(Pin, Pin)> {
    if let Some(git) = ws.git()
        && let (Ok(ours), Ok(theirs)) = (
            git.git(&["show", &format!(":2:{}", pin::FILE_NAME)]),
            git.git(&["show", &format!(":3:{}", pin::FILE_NAME)]),
        )
    {
        return Ok((
            Pin::parse(&ours, "dvx.lock (ours)")?,
            Pin::parse(&theirs, "dvx.lock (theirs)")?,
        ));
    }
    let path = ws.root().join(pin::FILE_NAME);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let Some((ours, theirs)) = pin::parse_conflict(&text) else {
        return Err(Hinted::new(
            "dvx.lock has no merge conflict",
            "use `dvx merge <rev>` to merge dvx branches; --git-conflict is for a conflicted dvx.lock after `git merge`",
        )
        .into());
    };
    Ok((
        Pin::parse(&ours, "dvx.lock (ours)")?,
        Pin::parse(&theirs, "dvx.lock (theirs)")?,
    ))
}

fn git_conflict(
    ctx: &Ctx,
    ws: &Workspace,
    strategy: Option<Strategy>,
    message: Option<String>,
) -> Result<ExitCode> {
    let Some(git) = ws.git() else {
        return Err(Hinted::new(
            "this repository has no git integration",
            "--git-conflict needs git",
        )
        .into());
    };
    let (ours, theirs) = conflicted_pins(ws)?;
    for (side, p) in [("ours", &ours), ("theirs", &theirs)] {
        if ws.repo().store().read_commit(&p.commit).is_err() {
            return Err(Hinted::new(
                format!(
                    "dvx.lock ({side}) pins dvx commit {}, which is not in this repository",
                    p.commit.short()
                ),
                format!("{}, then run this again", hint::BRING_OBJECTS),
            )
            .into());
        }
    }
    let head = ws.repo().refs().head_commit()?;
    if head != Some(ours.commit) {
        return Err(Hinted::new(
            format!(
                "the data is at {}, not at the commit our side of dvx.lock pins ({})",
                head.map(|h| h.short())
                    .unwrap_or_else(|| "no commit".into()),
                ours.commit.short()
            ),
            format!(
                "check out our side first: dvx checkout {}",
                ours.commit.short()
            ),
        )
        .into());
    }
    let outcome = merge(
        ctx,
        ws,
        theirs.commit,
        &format!("dvx.lock of the other side ({})", theirs.commit.short()),
        strategy,
        message,
    )?;
    report(ctx, &outcome, false)?;
    let merged = ws
        .repo()
        .refs()
        .head_commit()?
        .expect("a merge leaves HEAD on a commit");
    Pin {
        commit: merged,
        branch: ws
            .repo()
            .refs()
            .read_head()?
            .branch()
            .map(str::to_owned)
            .or(ours.branch),
    }
    .write(ws.root())?;
    git.stage(&[pin::FILE_NAME.to_owned()])?;
    if !ctx.quiet {
        outln!(
            "dvx.lock now pins {}; it is staged, so `git commit` finishes the merge",
            merged.short()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Arguments git passes to a merge driver (`%O %A %B`).
#[derive(Debug, clap::Args)]
pub struct DriverArgs {
    /// The common ancestor's version.
    base: PathBuf,
    /// Ours; the result is written here.
    ours: PathBuf,
    /// Theirs.
    theirs: PathBuf,
}

/// Merge the dvx commits two versions of `dvx.lock` pin, without touching the work tree
/// (the post-merge hook checks the result out). Exit 1 leaves the conflict to the user.
pub fn driver(ctx: &Ctx, args: DriverArgs) -> Result<ExitCode> {
    let ws = ctx.open()?;
    let store = ws.repo().store();
    let read = |p: &PathBuf, side: &str| -> Result<Pin> {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
        Ok(Pin::parse(&text, &format!("dvx.lock ({side})"))?)
    };
    let (ours, theirs) = (read(&args.ours, "ours")?, read(&args.theirs, "theirs")?);
    // git passes the common ancestor's file; dvx finds the merge base in its own graph,
    // which knows more (several merges back), so it is not needed.
    let _ = &args.base;
    if ours.commit == theirs.commit {
        return Ok(ExitCode::SUCCESS);
    }
    if store.read_commit(&ours.commit).is_err() || store.read_commit(&theirs.commit).is_err() {
        eprintln!(
            "dvx: a pinned commit is not local; leaving dvx.lock conflicted ({}, then run `dvx merge --git-conflict`)",
            hint::BRING_OBJECTS
        );
        return Ok(ExitCode::FAILURE);
    }
    let result = if is_ancestor(store, theirs.commit, ours.commit)? {
        ours.commit
    } else if is_ancestor(store, ours.commit, theirs.commit)? {
        theirs.commit
    } else {
        let merged = merge_commits(store, ours.commit, theirs.commit, None, false)?;
        if !merged.conflicts.is_empty() {
            eprintln!(
                "dvx: the pinned data versions conflict in {}; resolve with `dvx merge --git-conflict --strategy ours|theirs`",
                render::plural(merged.conflicts.len(), "path", "paths")
            );
            // Leave both sides in the file, as git would for text.
            let text = format!(
                "<<<<<<< ours\n{}=======\n{}>>>>>>> theirs\n",
                ours.render(),
                theirs.render()
            );
            dvx::atomic::write(&args.ours, text.as_bytes())
                .with_context(|| format!("cannot write {}", args.ours.display()))?;
            return Ok(ExitCode::FAILURE);
        }
        let merged = merge_commits(store, ours.commit, theirs.commit, None, true)?;
        let commit = Commit {
            tree: merged.tree,
            parents: vec![ours.commit, theirs.commit],
            author: ctx.signature(&ws)?,
            message: "Merge pinned data versions (git merge of dvx.lock)\n".into(),
            git: None,
            runs: Vec::new(),
            extensions: Vec::new(),
        };
        let id = store.put(&commit)?;
        ws.repo().flush_objects()?;
        id
    };
    let pin = Pin {
        commit: result,
        branch: ours.branch.or(theirs.branch),
    };
    dvx::atomic::write(&args.ours, pin.render().as_bytes())
        .with_context(|| format!("cannot write {}", args.ours.display()))?;
    Ok(ExitCode::SUCCESS)
}
