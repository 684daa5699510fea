//! `dvx branch`

use std::process::ExitCode;

use anyhow::Result;
use dvx::history::merge;
use dvx::refs::{self, Expected, HEADS, Head};
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
    let ws = ctx.open()?;
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
    refs::validate_name(name, "branch")?;
    let target = rev::resolve(ws.repo(), rev)?;
    let full = format!("{HEADS}{name}");
    let who = ctx.signature(ws)?;
    let _lock = ws.repo().lock()?;
    let existing = ws.repo().refs().get(&full)?;
    if existing.is_some() && !force {
        return Err(Hinted::new(
            format!("a branch named '{name}' already exists"),
            "pick another name, or pass --force to move it",
        )
        .into());
    }
    if force && matches!(ws.repo().refs().read_head()?, Head::Branch(b) if b == full) {
        return Err(Hinted::new(
            format!("cannot move the current branch '{name}' with --force"),
            "use `dvx checkout` or `dvx merge` to move the branch you are on",
        )
        .into());
    }
    let expected = existing.map(Expected::Is).unwrap_or(Expected::Absent);
    ws.repo().refs().update(
        &full,
        expected,
        Some(target),
        &who,
        &format!("branch: created from {rev}"),
    )?;
    if !ctx.quiet {
        outln!("created branch {name} at {}", target.short());
    }
    Ok(ExitCode::SUCCESS)
}

fn delete(ctx: &Ctx, ws: &Workspace, name: &str, force: bool) -> Result<ExitCode> {
    let full = format!("{HEADS}{name}");
    let who = ctx.signature(ws)?;
    let _lock = ws.repo().lock()?;
    let refs = ws.repo().refs();
    let Some(tip) = refs.get(&full)? else {
        return Err(Hinted::new(
            format!("no branch named '{name}'"),
            "`dvx branch` lists branches",
        )
        .into());
    };
    if matches!(refs.read_head()?, Head::Branch(b) if b == full) {
        return Err(Hinted::new(
            format!("cannot delete the current branch '{name}'"),
            "switch to another branch first (dvx checkout <branch>)",
        )
        .into());
    }
    if !force {
        let merged = match refs.head_commit()? {
            Some(head) => merge::is_ancestor(ws.repo().store(), tip, head)?,
            None => false,
        };
        if !merged {
            return Err(Hinted::new(
                format!("branch '{name}' is not merged into HEAD; deleting it could lose commits"),
                format!("merge it first, or delete anyway with `dvx branch -D {name}`"),
            )
            .into());
        }
    }
    refs.update(&full, Expected::Is(tip), None, &who, "branch: deleted")?;
    if !ctx.quiet {
        outln!("deleted branch {name} (was {})", tip.short());
    }
    Ok(ExitCode::SUCCESS)
}

fn rename(ctx: &Ctx, ws: &Workspace, names: &[String]) -> Result<ExitCode> {
    let refs = ws.repo().refs();
    let head = refs.read_head()?;
    let (old, new) = match names {
        [new] => match head.branch() {
            Some(current) => (current.to_owned(), new.clone()),
            None => {
                return Err(Hinted::usage(
                    "HEAD is detached; name the branch to rename",
                    "dvx branch -m <old> <new>",
                )
                .into());
            }
        },
        [old, new] => (old.clone(), new.clone()),
        _ => {
            return Err(Hinted::usage(
                "give the new name (and optionally the old one)",
                "dvx branch -m [<old>] <new>",
            )
            .into());
        }
    };
    refs::validate_name(&new, "branch")?;
    let (old_full, new_full) = (format!("{HEADS}{old}"), format!("{HEADS}{new}"));
    let who = ctx.signature(ws)?;
    let _lock = ws.repo().lock()?;
    let Some(tip) = refs.get(&old_full)? else {
        return Err(Hinted::new(
            format!("no branch named '{old}'"),
            "`dvx branch` lists branches",
        )
        .into());
    };
    if refs.get(&new_full)?.is_some() {
        return Err(Hinted::new(
            format!("a branch named '{new}' already exists"),
            "pick another name",
        )
        .into());
    }
    let message = format!("branch: renamed {old} to {new}");
    refs.update(&new_full, Expected::Absent, Some(tip), &who, &message)?;
    if matches!(&head, Head::Branch(b) if *b == old_full) {
        refs.set_head(&Head::Branch(new_full.clone()), &who, &message)?;
    }
    refs.update(&old_full, Expected::Is(tip), None, &who, &message)?;
    if !ctx.quiet {
        outln!("renamed branch {old} to {new}");
    }
    Ok(ExitCode::SUCCESS)
}
