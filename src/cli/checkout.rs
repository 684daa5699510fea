//! `dvx checkout`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use dvx::git::pin::{self, Pin};
use dvx::hash::ObjectId;
use dvx::history::merge;
use dvx::refs::{self, Expected, HEADS};
use dvx::workspace::{self, CheckoutMode, CheckoutOptions, CheckoutReport, Workspace};

use serde::Serialize;

use super::hint::{self, Hinted};
use super::{Ctx, render, rev};

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
    let ws = ctx.open()?;
    let mode = if args.lazy {
        CheckoutMode::Lazy
    } else {
        CheckoutMode::Eager
    };
    if let Some(git_rev) = &args.git {
        let (target, branch) = pinned_target(&ws, git_rev)?;
        return switch_to_pin(ctx, &ws, target, branch, mode, args.force, args.json);
    }
    if !args.paths.is_empty() {
        let source = match &args.rev {
            Some(rev) => Some((rev::resolve(ws.repo(), rev)?, rev.as_str())),
            None => None,
        };
        return restore(ctx, &ws, &args.paths, source, args.json);
    }
    let rev = match (args.rev.as_deref(), &args.new_branch) {
        (Some(rev), _) => rev,
        (None, Some(name)) => {
            let head = ws.repo().refs().head_commit()?;
            return create_and_switch(ctx, &ws, name, head, mode, args.force, args.json);
        }
        // `git checkout -f`: throw the local changes away, staying where HEAD is.
        (None, None) if args.force => "HEAD",
        (None, None) => {
            return Err(Hinted::usage(
                "nothing to check out",
                "give a branch, tag or commit (dvx checkout main), or paths to restore (dvx checkout -- data/)",
            )
            .into());
        }
    };
    let target = match rev::resolve(ws.repo(), rev) {
        Ok(id) => id,
        // `dvx checkout data/x.csv`, as git allows, when it is a tracked path.
        Err(dvx::history::Error::UnknownRevision(_)) if is_tracked_path(ctx, &ws, rev) => {
            return restore(ctx, &ws, &[PathBuf::from(rev)], None, args.json);
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(name) = &args.new_branch {
        return create_and_switch(ctx, &ws, name, Some(target), mode, args.force, args.json);
    }
    let branch = format!("{HEADS}{rev}");
    // `checkout <name>` switches to the branch even when a tag of the same name (which
    // revisions resolve first) names another commit, as git does: the files must be the
    // branch's, not the tag's. `checkout HEAD` stays on the current branch.
    let current = match ws.repo().refs().read_head()? {
        refs::Head::Branch(b) if rev == "HEAD" || rev == "@" => Some(b),
        _ => None,
    };
    let (target, head) = match (current, ws.repo().refs().get(&branch)?) {
        (Some(current), _) => (target, workspace::HeadMove::Switch(current)),
        (None, Some(tip)) => (tip, workspace::HeadMove::Switch(branch)),
        (None, None) => (target, workspace::HeadMove::Detach),
    };
    let report = switch(
        ctx,
        &ws,
        target,
        head.clone(),
        mode,
        args.force,
        &format!("checkout: moving to {rev}"),
    )?;
    let pin_changed = super::pin::repin(&ws)?;
    announce(ctx, &ws, &head, target, &report, args.json, pin_changed)?;
    Ok(ExitCode::SUCCESS)
}

fn is_tracked_path(ctx: &Ctx, ws: &Workspace, arg: &str) -> bool {
    let Ok(path) = workspace::resolve_path(ws.root(), &ctx.cwd, std::path::Path::new(arg)) else {
        return false;
    };
    ws.load_index()
        .map(|index| index.has_under(&path) || index.tree_entry_covering(&path).is_some())
        .unwrap_or(false)
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
    paths: &[PathBuf],
    source: Option<(ObjectId, &str)>,
    json: bool,
) -> Result<ExitCode> {
    let bars = ctx.progress();
    let report = workspace::restore(ws, &ctx.cwd, paths, source, &bars)?;
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

pub(super) fn switch(
    ctx: &Ctx,
    ws: &Workspace,
    target: ObjectId,
    head: workspace::HeadMove,
    mode: CheckoutMode,
    force: bool,
    message: &str,
) -> Result<CheckoutReport> {
    let options = CheckoutOptions {
        target,
        head,
        mode,
        force,
        who: ctx.signature(ws).or_else(|_| fallback_signature())?,
        message: message.to_owned(),
    };
    let bars = ctx.progress();
    Ok(workspace::checkout(ws, &options, &bars)?)
}

/// Reflog entries of a checkout need an identity, but a checkout should not fail for
/// want of one.
fn fallback_signature() -> Result<dvx::object::Signature> {
    let (time, tz_minutes) = super::now()?;
    Ok(dvx::object::Signature {
        name: "dvx".into(),
        email: String::new(),
        time,
        tz_minutes,
    })
}

fn create_and_switch(
    ctx: &Ctx,
    ws: &Workspace,
    name: &str,
    at: Option<ObjectId>,
    mode: CheckoutMode,
    force: bool,
    json: bool,
) -> Result<ExitCode> {
    refs::validate_name(name, "branch")?;
    let full = format!("{HEADS}{name}");
    let Some(at) = at else {
        // No commits yet: as in git, the unborn branch just gets another name.
        let who = ctx.signature(ws).or_else(|_| fallback_signature())?;
        let _lock = ws.repo().lock()?;
        ws.repo()
            .ensure_not_checked_out_elsewhere(&full, dvx::repo::BranchChange::CheckOut)?;
        ws.repo().refs().set_head(
            &refs::Head::Branch(full),
            &who,
            "checkout: new unborn branch",
        )?;
        if !ctx.quiet {
            outln!("Switched to a new branch '{name}' (no commits yet)");
        }
        return Ok(ExitCode::SUCCESS);
    };
    if ws.repo().refs().get(&full)?.is_some() {
        return Err(Hinted::new(
            format!("a branch named '{name}' already exists"),
            format!("switch to it with `dvx checkout {name}`, or pick another name"),
        )
        .into());
    }
    let head = workspace::HeadMove::SetBranch {
        branch: full,
        expected: Expected::Absent,
    };
    let report = switch(
        ctx,
        ws,
        at,
        head.clone(),
        mode,
        force,
        &format!("checkout: moving to new branch {name}"),
    )?;
    let pin_changed = super::pin::repin(ws)?;
    announce(ctx, ws, &head, at, &report, json, pin_changed)?;
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

fn announce(
    ctx: &Ctx,
    ws: &Workspace,
    head: &workspace::HeadMove,
    target: ObjectId,
    r: &CheckoutReport,
    json: bool,
    pin_changed: bool,
) -> Result<()> {
    let branch = match head {
        workspace::HeadMove::Switch(b) | workspace::HeadMove::SetBranch { branch: b, .. } => {
            Some(b.trim_start_matches(HEADS))
        }
        _ => None,
    };
    if json {
        let out = JsonCheckout {
            head: target.to_hex(),
            branch,
            written: r.written,
            removed: r.removed,
            unchanged: r.unchanged,
            not_fetched: r.not_fetched,
            carried: r.carried.iter().map(|p| p.as_str()).collect(),
            pin_changed,
        };
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    if ctx.quiet {
        return Ok(());
    }
    let summary = ws.repo().store().read_commit(&target)?.summary().to_owned();
    match branch {
        Some(b) => outln!("Switched to branch '{b}'"),
        None => outln!("HEAD is now at {} {summary}", target.short()),
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
    super::pin::announce(ctx, ws, pin_changed)
}

/// The dvx commit (and branch) that `dvx.lock` pins at a git revision.
pub(super) fn pinned_target(ws: &Workspace, git_rev: &str) -> Result<(ObjectId, Option<String>)> {
    let Some(git) = ws.git() else {
        return Err(Hinted::new(
            "this repository has no git integration",
            "--git needs a dvx repository inside a git work tree (created without --no-git)",
        )
        .into());
    };
    let bytes = git.read_at(git_rev, pin::FILE_NAME)?.ok_or_else(|| {
        Hinted::new(
            format!("{git_rev} has no {}", pin::FILE_NAME),
            "that git commit was made before dvx pinned any data; pick a later one",
        )
    })?;
    let where_ = format!("{git_rev}:{}", pin::FILE_NAME);
    let text = String::from_utf8(bytes).with_context(|| format!("{where_} is not UTF-8"))?;
    let pin = Pin::parse(&text, &where_)?;
    if ws.repo().store().read_commit(&pin.commit).is_err() {
        return Err(Hinted::new(
            format!(
                "{where_} pins dvx commit {}, which is not in this repository",
                pin.commit.short()
            ),
            format!("{}, then run this again", hint::BRING_OBJECTS),
        )
        .into());
    }
    Ok((pin.commit, pin.branch))
}

/// Check out a pinned commit: on its branch when the branch is there or can fast-forward
/// to it, detached otherwise.
pub(super) fn switch_to_pin(
    ctx: &Ctx,
    ws: &Workspace,
    target: ObjectId,
    branch: Option<String>,
    mode: CheckoutMode,
    force: bool,
    json: bool,
) -> Result<ExitCode> {
    let head = match branch {
        Some(name) if refs::validate_name(&name, "branch").is_ok() => {
            let full = format!("{HEADS}{name}");
            let here = ws.repo().refs().read_head()? == refs::Head::Branch(full.clone());
            match ws.repo().refs().get(&full)? {
                // Another work tree is on that branch: this one follows the pin detached,
                // never onto (or moving) the other's branch.
                _ if !here && ws.repo().other_worktree_on(&full).is_some() => {
                    workspace::HeadMove::Detach
                }
                Some(tip) if tip == target => workspace::HeadMove::Switch(full),
                Some(tip) if merge::is_ancestor(ws.repo().store(), tip, target)? => {
                    workspace::HeadMove::SetBranch {
                        branch: full,
                        expected: Expected::Is(tip),
                    }
                }
                Some(_) => workspace::HeadMove::Detach,
                None => workspace::HeadMove::SetBranch {
                    branch: full,
                    expected: Expected::Absent,
                },
            }
        }
        _ => workspace::HeadMove::Detach,
    };
    let report = switch(
        ctx,
        ws,
        target,
        head.clone(),
        mode,
        force,
        "checkout: follow dvx.lock",
    )?;
    // Following the pin never rewrites it: `git checkout` must leave dvx.lock clean.
    announce(ctx, ws, &head, target, &report, json, false)?;
    Ok(ExitCode::SUCCESS)
}
