//! `dvx branch`

use std::process::ExitCode;

use anyhow::Result;
use dvx::history::branch;
use dvx::refs::{HEADS, Head};
use dvx::workspace::Workspace;
use serde::Serialize;

use super::hint::Hinted;
use super::{Ctx, rev};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Delete the branch (refused if it is not merged into HEAD; -D forces).
    #[arg(short = 'd', long = "delete", conflicts_with_all = ["force_delete", "rename"])]
    delete: bool,
    /// Delete the branch even if it is not merged.
    #[arg(short = 'D', conflicts_with = "rename")]
    force_delete: bool,
    /// Rename: `-m OLD NEW`, or `-m NEW` for the current branch.
    #[arg(short = 'm', long = "move")]
    rename: bool,
    /// Create even if the name exists (moves the branch).
    #[arg(short, long)]
    force: bool,
    /// Print the list as JSON.
    #[arg(long)]
    json: bool,
    /// `NAME [REV]` to create, `NAME` to delete, `[OLD] NEW` to rename.
    #[arg(num_args = 0..=2, value_name = "NAME")]
    names: Vec<String>,
}

#[derive(Serialize)]
struct JsonBranch {
    name: String,
    commit: String,
    current: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let ws = if args.delete || args.force_delete || args.rename || !args.names.is_empty() {
        // Writers take the lock (and follow git) once their arguments are checked.
        ctx.open_plain()?
    } else {
        ctx.open()?
    };
    if args.delete || args.force_delete {
        let [name] = args.names.as_slice() else {
            return Err(Hinted::usage("give one branch to delete", "dvx branch -d <name>").into());
        };
        return delete(ctx, &ws, name, args.force_delete);
    }
    if args.rename {
        return rename(ctx, &ws, &args.names);
    }
    match args.names.as_slice() {
        [] => list(&ws, args.json),
        [name] => create(ctx, &ws, name, "HEAD", args.force),
        [name, rev, ..] => create(ctx, &ws, name, rev, args.force),
    }
}

fn list(ws: &Workspace, json: bool) -> Result<ExitCode> {
    let head = ws.repo().refs().read_head()?;
    let branches = ws.repo().refs().list(HEADS)?;
    let current = |full: &str| matches!(&head, Head::Branch(b) if b == full);
    if json {
        let out: Vec<JsonBranch> = branches
            .iter()
            .map(|(n, id)| JsonBranch {
                name: n.trim_start_matches(HEADS).to_owned(),
                commit: id.to_hex(),
                current: current(n),
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    if let Head::Detached(id) = head {
        outln!("* (HEAD detached at {})", id.short());
    }
    for (name, id) in &branches {
        let summary = ws
            .repo()
            .store()
            .read_commit(id)
            .map(|c| c.summary().to_owned())
            .unwrap_or_default();
        outln!(
            "{} {:<20} {} {summary}",
            if current(name) { "*" } else { " " },
            name.trim_start_matches(HEADS),
            id.short()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn create(ctx: &Ctx, ws: &Workspace, name: &str, rev: &str, force: bool) -> Result<ExitCode> {
    let target = rev::resolve(ws.repo(), rev)?;
    let who = ctx.signature(ws)?;
    let lock = ctx.lock_following(ws)?;
    branch::create(
        ws.repo(),
        &lock,
        name,
        target,
        force,
        &who,
        &format!("branch: created from {rev}"),
    )?;
    if !ctx.quiet {
        outln!("created branch {name} at {}", target.short());
    }
    Ok(ExitCode::SUCCESS)
}

fn delete(ctx: &Ctx, ws: &Workspace, name: &str, force: bool) -> Result<ExitCode> {
    let who = ctx.signature(ws)?;
    let lock = ctx.lock_following(ws)?;
    let tip = branch::delete(ws.repo(), &lock, name, force, &who)?;
    if !ctx.quiet {
        outln!("deleted branch {name} (was {})", tip.short());
    }
    Ok(ExitCode::SUCCESS)
}

fn rename(ctx: &Ctx, ws: &Workspace, names: &[String]) -> Result<ExitCode> {
    let (old, new) = match names {
        [new] => (None, new.clone()),
        [old, new] => (Some(old.clone()), new.clone()),
        _ => {
            return Err(Hinted::usage(
                "give the new name (and optionally the old one)",
                "dvx branch -m [<old>] <new>",
            )
            .into());
        }
    };
    // Follow git first: `branch -m NEW` renames the branch dvx is on after that.
    let lock = ctx.lock_following(ws)?;
    let old = match old {
        Some(old) => old,
        None => match ws.repo().refs().read_head()?.branch() {
            Some(current) => current.to_owned(),
            None => {
                return Err(Hinted::usage(
                    "HEAD is detached; name the branch to rename",
                    "dvx branch -m <old> <new>",
                )
                .into());
            }
        },
    };
    let who = ctx.signature(ws)?;
    branch::rename(ws.repo(), &lock, &old, &new, &who)?;
    if !ctx.quiet {
        outln!("renamed branch {old} to {new}");
    }
    Ok(ExitCode::SUCCESS)
}
