//! `dvx install-hooks`, `dvx uninstall-hooks`, and `dvx hook`, which the installed hooks
//! run.
//!
//! post-checkout, post-merge and post-rewrite check out the data that the new `dvx.lock`
//! pins (lazily unless installed with `--eager`), only when `dvx.lock` changed and never
//! in the middle of a rebase (post-rewrite after a rebase runs as the rebase ends, and
//! follows its result). pre-push refuses a push whose commits pin dvx commits that are
//! not in this repository. A hook that fails says so and leaves the data as it was:
//! checkout plans every path before it touches one.

use std::io::Read;
use std::process::ExitCode;

use anyhow::{Context, Result};
use dvx::git::pin::{self, Pin};
use dvx::git::{GitRepo, hooks};
use dvx::workspace::{CheckoutMode, Workspace};

use super::checkout::{pinned_target, switch_to_pin};
use super::hint::{self, Hinted};
use super::{Ctx, render};

#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// Hooks check out every file whose bytes are local, not only metadata.
    #[arg(long)]
    eager: bool,
    /// Do not register the merge driver for dvx.lock.
    #[arg(long)]
    no_merge_driver: bool,
}

#[derive(Debug, clap::Args)]
pub struct UninstallArgs {}

#[derive(Debug, clap::Args)]
pub struct HookArgs {
    /// post-checkout, post-merge, post-rewrite or pre-push.
    name: String,
    /// Check out fully instead of lazily.
    #[arg(long)]
    eager: bool,
    /// The arguments git passed to the hook.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

fn git_of(ws: &Workspace) -> Result<&GitRepo> {
    ws.git().ok_or_else(|| {
        Hinted::new(
            "this repository has no git integration",
            "hooks need a dvx repository inside a git work tree (created without --no-git)",
        )
        .into()
    })
}

pub fn install(ctx: &Ctx, args: InstallArgs) -> Result<ExitCode> {
    let ws = ctx.open()?;
    let git = git_of(&ws)?;
    let exe = std::env::current_exe().context("cannot find the dvx binary's own path")?;
    let exe = std::fs::canonicalize(&exe).unwrap_or(exe);
    let report = hooks::install(git, &exe, args.eager, !args.no_merge_driver).map_err(|e| {
        anyhow::Error::from(e).context(Hinted::new(
            "cannot install the git hooks",
            "check that the hooks directory (core.hooksPath or .git/hooks) is writable",
        ))
    })?;
    if !ctx.quiet {
        if !report.installed.is_empty() {
            outln!(
                "installed {} in {}",
                report.installed.join(", "),
                report.dir.display()
            );
        }
        if !report.unchanged.is_empty() {
            outln!("already installed: {}", report.unchanged.join(", "));
        }
        for hook in &report.chained {
            outln!(
                "kept your existing {hook} hook: it runs first, as {hook}{}",
                hooks::SAVED_SUFFIX
            );
        }
        if report.merge_driver {
            outln!("registered the dvx.lock merge driver (local git config and info/attributes)");
        }
        outln!(
            "git checkout, merge and rebase now bring the pinned data along ({})",
            if args.eager {
                "eager"
            } else {
                "lazy: only files whose bytes are local are written"
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn uninstall(ctx: &Ctx, _args: UninstallArgs) -> Result<ExitCode> {
    let ws = ctx.open()?;
    let git = git_of(&ws)?;
    let report = hooks::uninstall(git)?;
    if !ctx.quiet {
        if report.removed.is_empty() {
            outln!("no dvx hooks were installed in {}", report.dir.display());
        } else {
            outln!(
                "removed {} from {}",
                report.removed.join(", "),
                report.dir.display()
            );
        }
        if !report.restored.is_empty() {
            outln!("restored your earlier {}", report.restored.join(", "));
        }
        for hook in &report.foreign {
            outln!("left {hook} alone: it is not dvx's");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The bytes of `dvx.lock` at a git revision; `None` for the null id or no file.
fn pin_bytes(git: &GitRepo, rev: &str) -> Option<Vec<u8>> {
    if rev.is_empty() || rev.bytes().all(|b| b == b'0') {
        return None;
    }
    git.read_at(rev, pin::FILE_NAME).ok().flatten()
}

/// Whether git is replaying commits. `git pull --rebase` sets the reflog action
/// `pull --rebase` for all it does, including the plain fast-forward it makes when there
/// is nothing to replay, so only an action that starts with `rebase` counts.
fn in_rebase(git: &GitRepo) -> bool {
    git.rebase_in_progress()
        || std::env::var("GIT_REFLOG_ACTION").is_ok_and(|a| a.starts_with("rebase"))
}

pub fn run(ctx: &Ctx, args: HookArgs) -> Result<ExitCode> {
    let ws = ctx.open()?;
    let git = git_of(&ws)?;
    let lazy = !args.eager && ws.repo().config().checkout.lazy;
    let mode = if lazy {
        CheckoutMode::Lazy
    } else {
        CheckoutMode::Eager
    };
    match args.name.as_str() {
        "post-checkout" => {
            let [prev, new, flag, ..] = args.args.as_slice() else {
                return Err(Hinted::usage(
                    "post-checkout takes <prev> <new> <flag>",
                    "this command is run by git",
                )
                .into());
            };
            // Only branch checkouts (flag 1), not `git checkout -- file`; not mid-rebase.
            if flag != "1" || in_rebase(git) || pin_bytes(git, prev) == pin_bytes(git, new) {
                return Ok(ExitCode::SUCCESS);
            }
            follow(ctx, &ws, git, mode, "post-checkout")
        }
        "post-merge" => {
            let squash = args.args.first().map(String::as_str) == Some("1");
            if squash || in_rebase(git) || pin_bytes(git, "ORIG_HEAD") == pin_bytes(git, "HEAD") {
                return Ok(ExitCode::SUCCESS);
            }
            follow(ctx, &ws, git, mode, "post-merge")
        }
        "post-rewrite" => {
            let rebase = args.args.first().map(String::as_str) == Some("rebase");
            // git runs post-rewrite for a rebase just before it removes the rebase's state,
            // so only an amend can be "during a rebase" (one step of it: the rebase's own
            // post-rewrite follows the pin when it ends).
            if !rebase && in_rebase(git) {
                return Ok(ExitCode::SUCCESS);
            }
            let mut input = String::new();
            std::io::stdin()
                .read_to_string(&mut input)
                .context("cannot read the rewritten commits")?;
            let Some(head) = git.head().map(|h| h.hex()) else {
                return Ok(ExitCode::SUCCESS);
            };
            // The commit HEAD replaced; after a rebase whose last commit was dropped,
            // the branch's old tip.
            let before =
                rewritten_from(&input, &head).or_else(|| rebase.then(|| "ORIG_HEAD".to_owned()));
            if before.is_some_and(|b| pin_bytes(git, &b) == pin_bytes(git, &head)) {
                return Ok(ExitCode::SUCCESS);
            }
            follow(ctx, &ws, git, mode, "post-rewrite")
        }
        "pre-push" => pre_push(&ws, git),
        other => Err(Hinted::usage(
            format!("unknown hook '{other}'"),
            "dvx handles post-checkout, post-merge, post-rewrite and pre-push",
        )
        .into()),
    }
}

/// The commit that `new` replaced, from post-rewrite's input (`<old> <new> [<extra>]`
/// per line).
fn rewritten_from(input: &str, new: &str) -> Option<String> {
    input.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let old = fields.next()?;
        (fields.next()? == new).then(|| old.to_owned())
    })
}

/// Check out what `dvx.lock` pins at HEAD.
fn follow(
    ctx: &Ctx,
    ws: &Workspace,
    git: &GitRepo,
    mode: CheckoutMode,
    hook: &str,
) -> Result<ExitCode> {
    if pin_bytes(git, "HEAD").is_none() {
        if !ctx.quiet {
            eprintln!("dvx: this git commit has no dvx.lock; the data was left as it was");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let context = || {
        Hinted::new(
            format!("dvx {hook} hook: the data was left as it was"),
            "fix the problem below, then run `dvx checkout --git HEAD`",
        )
    };
    let (target, branch) = pinned_target(ws, "HEAD").map_err(|e| e.context(context()))?;
    if ws.repo().refs().head_commit()? == Some(target) {
        return Ok(ExitCode::SUCCESS);
    }
    switch_to_pin(ctx, ws, target, branch, mode, false, false).map_err(|e| e.context(context()))
}

/// Refuse to push git commits whose pinned data is not here (it could never be fetched).
fn pre_push(ws: &Workspace, git: &GitRepo) -> Result<ExitCode> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .context("cannot read the refs being pushed")?;
    let mut missing = Vec::new();
    for line in input.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [local_ref, local_sha, ..] = fields.as_slice() else {
            continue;
        };
        let Some(bytes) = pin_bytes(git, local_sha) else {
            continue;
        };
        let where_ = format!("{local_ref}:{}", pin::FILE_NAME);
        let text = String::from_utf8_lossy(&bytes);
        let pin = Pin::parse(&text, &where_)?;
        if ws.repo().store().read_commit(&pin.commit).is_err() {
            missing.push(format!("{where_} pins {}", pin.commit.short()));
        }
    }
    if missing.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    Err(Hinted::new(
        format!(
            "push refused: {} not in this repository ({})",
            render::plural(missing.len(), "pinned dvx commit is", "pinned dvx commits are"),
            missing.join(", ")
        ),
        format!(
            "the pushed code would name data this clone cannot provide; push from the clone that made those commits, or {}",
            hint::BRING_OBJECTS
        ),
    )
    .into())
}
