//! `dvx install-hooks`, `dvx uninstall-hooks`, and `dvx hook`, which the installed hooks
//! run (what each hook does is `dvx::flow::hooks`). A hook that fails says so and leaves
//! the data as it was.

use std::io::Read;
use std::process::ExitCode;

use anyhow::{Context, Result};
use dvx::flow::hooks::{self as flow_hooks, HookOptions, HookOutcome, HookReport};
use dvx::flow::switch::SwitchOptions;
use dvx::git::{GitRepo, hooks};
use dvx::store::ObjectSource;
use dvx::workspace::{CheckoutMode, Workspace};

use super::hint::Hinted;
use super::{Ctx, follow};

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
    let ws = ctx.open_plain()?;
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
    let ws = ctx.open_plain()?;
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

pub fn run(ctx: &Ctx, args: HookArgs) -> Result<ExitCode> {
    let ws = ctx.open_plain()?;
    git_of(&ws)?;
    let reflog_action = std::env::var("GIT_REFLOG_ACTION").ok();
    let reflog_action = reflog_action.as_deref();
    let name = args.name.as_str();
    if name == "pre-push" {
        let mut input = String::new();
        std::io::stdin()
            .read_to_string(&mut input)
            .context("cannot read the refs being pushed")?;
        return pre_push(ctx, &ws, &input);
    }
    if !matches!(name, "post-checkout" | "post-merge" | "post-rewrite") {
        return Err(Hinted::usage(
            format!("unknown hook '{name}'"),
            "dvx handles post-checkout, post-merge, post-rewrite and pre-push",
        )
        .into());
    }
    let lazy = !args.eager && ws.repo().config().checkout.lazy;
    // Eager hooks fetch what is not local from the default remote, as `checkout` does;
    // lazy ones never go to the network.
    let remote = if lazy { None } else { ctx.remote_source(&ws)? };
    let objects: &dyn ObjectSource = match &remote {
        Some(remote) => remote,
        None => ws.repo().store(),
    };
    let options = HookOptions {
        switch: SwitchOptions {
            mode: if lazy {
                CheckoutMode::Lazy
            } else {
                CheckoutMode::Eager
            },
            force: false,
            who: ctx.reflog_signature(&ws)?,
            objects,
        },
        reflog_action,
    };
    let bars = ctx.progress();
    let failed = || {
        Hinted::new(
            format!("dvx {name} hook: the data was left as it was"),
            "fix the problem below, then run `dvx checkout --git HEAD`",
        )
    };
    let report = match name {
        "post-checkout" => {
            let [prev, new, flag, ..] = args.args.as_slice() else {
                return Err(Hinted::usage(
                    "post-checkout takes <prev> <new> <flag>",
                    "this command is run by git",
                )
                .into());
            };
            let branch_checkout = flag == "1";
            ctx.lock(&ws).and_then(|lock| {
                Ok(flow_hooks::post_checkout(
                    &ws,
                    &lock,
                    prev,
                    new,
                    branch_checkout,
                    &options,
                    &bars,
                )?)
            })
        }
        "post-merge" => {
            let squash = args.args.first().map(String::as_str) == Some("1");
            ctx.lock(&ws)
                .and_then(|lock| Ok(flow_hooks::post_merge(&ws, &lock, squash, &options, &bars)?))
        }
        _ => {
            let rebase = args.args.first().map(String::as_str) == Some("rebase");
            let mut input = String::new();
            std::io::stdin()
                .read_to_string(&mut input)
                .context("cannot read the rewritten commits")?;
            ctx.lock(&ws).and_then(|lock| {
                Ok(flow_hooks::post_rewrite(
                    &ws, &lock, rebase, &input, &options, &bars,
                )?)
            })
        }
    };
    let report: HookReport = report.map_err(|e| e.context(failed()))?;
    follow::announce(ctx, &report.followed);
    match &report.outcome {
        HookOutcome::Skipped | HookOutcome::AtPin => {}
        HookOutcome::NoPin => {
            if !ctx.quiet {
                eprintln!("dvx: this git commit has no dvx.lock; the data was left as it was");
            }
        }
        HookOutcome::Switched(switched) => super::checkout::announce(ctx, &ws, switched, false)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// pre-push: with a default remote, push the data the pushed commits pin (as git-lfs
/// does); without one, refuse a push whose pinned data is not here. With several remotes
/// and none the default, the same as without one, and a warning that no data was sent:
/// a hook that refused every `git push` (branch deletions too) would be worse.
fn pre_push(ctx: &Ctx, ws: &Workspace, input: &str) -> Result<ExitCode> {
    let connected = match dvx::sync::connect(ws, None, &super::transfer::environment()) {
        Ok(connected) => Some(connected),
        Err(dvx::sync::Error::NoRemote) => None,
        Err(dvx::sync::Error::NoDefaultRemote { names }) => {
            eprintln!(
                "warning: several remotes are configured ({}) and none is the default: no dvx data was pushed (make one the default with `dvx remote default <name>`, or run `dvx push <name>`)",
                names.join(", ")
            );
            None
        }
        Err(e) => return Err(e.into()),
    };
    let bars = ctx.progress();
    let report = dvx::sync::pre_push::pre_push(ws, connected.as_ref(), input, &bars)?;
    if let Some(remote) = &report.remote
        && report.stats.objects > 0
        && !ctx.quiet
    {
        eprintln!(
            "dvx: {} (the data the pushed commits pin, to {remote})",
            super::transfer::summary("pushed", ("object", "objects"), &report.stats)
        );
    }
    Ok(ExitCode::SUCCESS)
}
