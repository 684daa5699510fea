//! `dvx commit`

use std::process::ExitCode;

use anyhow::Result;
use dvx::history::commit::{self, NewCommit};
use serde::Serialize;

use super::{Ctx, render};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The commit message.
    #[arg(short, long, required = true)]
    message: String,
    /// Commit even if nothing changed since HEAD.
    #[arg(long)]
    allow_empty: bool,
    /// Stage dvx.lock and the changed .gitignore files in git (`git add`).
    #[arg(long)]
    git_add: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct JsonCommit {
    id: String,
    tree: String,
    parent: Option<String>,
    branch: Option<String>,
    git_commit: Option<String>,
    git_dirty: Option<bool>,
    to_git_add: Vec<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let ws = ctx.open()?;
    let author = ctx.signature(&ws)?;
    let _lock = ws.repo().lock()?;
    let mut index = ws.load_index()?;
    // The code's state is read before dvx.lock changes it.
    let git = match ws.git() {
        Some(g) => g.head_with_dirtiness()?,
        None => None,
    };
    let new = NewCommit {
        message: args.message,
        author,
        allow_empty: args.allow_empty,
        git: git.clone(),
    };
    let done = commit::commit(ws.repo(), &mut index, new)?;
    // Last in the write order: objects, index, ref, then the pin.
    let mut to_add = Vec::new();
    if let Some(g) = ws.git() {
        super::pin::repin(&ws)?;
        to_add = g.files_to_stage()?;
        if args.git_add {
            g.stage(&to_add)?;
        }
    }
    if args.json {
        let out = JsonCommit {
            id: done.id.to_hex(),
            tree: done.tree.to_hex(),
            parent: done.parent.map(|p| p.to_hex()),
            branch: done.branch.clone(),
            git_commit: git.as_ref().map(|g| g.hex()),
            git_dirty: git.as_ref().map(|g| g.dirty),
            to_git_add: if args.git_add { Vec::new() } else { to_add },
        };
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    if !ctx.quiet {
        let summary = ws
            .repo()
            .store()
            .read_commit(&done.id)?
            .summary()
            .to_owned();
        outln!(
            "[{} {}] {summary}",
            done.branch.as_deref().unwrap_or("detached HEAD"),
            done.id.short()
        );
        outln!("{} of data", render::size(done.size));
        if let Some(g) = &git
            && g.dirty
        {
            outln!(
                "note: the git work tree has uncommitted changes; the commit records git {} as dirty",
                &g.hex()[..10]
            );
        }
        if !to_add.is_empty() {
            if args.git_add {
                outln!("staged in git: {}", to_add.join(" "));
            } else {
                outln!(
                    "pin this data version to the code with: git add {}",
                    to_add.join(" ")
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
