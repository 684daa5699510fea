//! `dvx init`

use std::process::ExitCode;

use anyhow::Result;
use dvx::repo::{self, InitOutcome};
use dvx::workspace::init_root;

use super::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Create the repository here even inside a git work tree, without git integration
    /// (no dvx.lock, no .gitignore entries, no hooks).
    #[arg(long)]
    no_git: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let root = init_root(&ctx.cwd, args.no_git);
    let root = std::fs::canonicalize(&root).unwrap_or(root);
    let outcome = repo::init(&root, !args.no_git)?;
    if outcome != InitOutcome::AlreadyExists && !args.no_git {
        // Start on git's branch (and remember it), as every later command would.
        let ws = ctx.open_plain()?;
        drop(ctx.lock_following(&ws)?);
    }
    match outcome {
        InitOutcome::Created => {
            if !ctx.quiet {
                outln!(
                    "Initialized a dvx repository in {}",
                    root.join(repo::DVX_DIR).display()
                );
                if !args.no_git && dvx::git::discover(&root).is_some() {
                    outln!("Commit it with git: git add .dvx/config.toml .dvx/.gitignore");
                }
            }
        }
        InitOutcome::LocalStateCreated => {
            if !ctx.quiet {
                outln!(
                    "Set up local state for the existing dvx repository in {}",
                    root.display()
                );
            }
        }
        InitOutcome::AlreadyExists => {
            outln!(
                "A dvx repository already exists in {}; nothing changed",
                root.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
