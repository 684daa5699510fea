//! `dvx commit`

use std::process::ExitCode;

use anyhow::Result;
use dvx::flow::commit::{self, CommitOptions};
use serde::Serialize;

use super::{Ctx, follow, render};

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
    let ws = ctx.open_plain()?;
    let author = ctx.signature(&ws)?;
    let lock = ctx.lock(&ws)?;
    let options = CommitOptions {
        message: args.message,
        author,
        allow_empty: args.allow_empty,
        git_add: args.git_add,
    };
    let report = commit::commit(&ws, &lock, options)?;
    follow::announce(ctx, &report.followed);
    let done = &report.committed;
    let git = &report.git;
    let to_add = &report.git_files;
    if args.json {
        let out = JsonCommit {
            id: done.id.to_hex(),
            tree: done.tree.to_hex(),
            parent: done.parent.map(|p| p.to_hex()),
            branch: done.branch.clone(),
            git_commit: git.as_ref().map(|g| g.hex()),
            git_dirty: git.as_ref().map(|g| g.dirty),
            to_git_add: if report.staged_in_git {
                Vec::new()
            } else {
                to_add.clone()
            },
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
        if let Some(g) = git
            && g.dirty
        {
            outln!(
                "note: the git work tree has uncommitted changes; the commit records git {} as dirty",
                &g.hex()[..10]
            );
        }
        if !to_add.is_empty() {
            if report.staged_in_git {
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
