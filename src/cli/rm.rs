//! `dvx rm`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use dvx::workspace;
use serde::Serialize;

use super::{Ctx, render};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Keep the files in the work tree; only stop tracking them.
    #[arg(long)]
    cached: bool,
    /// Delete files even if they have changes not staged.
    #[arg(short, long)]
    force: bool,
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Print what was untracked as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct JsonRm {
    untracked: Vec<String>,
    deleted_files: usize,
    gitignores_changed: Vec<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let (ws, lock) = ctx.open_locked()?;
    let report = workspace::rm(&ws, &lock, &ctx.cwd, &args.paths, args.cached, args.force)?;
    if args.json {
        let out = JsonRm {
            untracked: report.untracked.iter().map(|p| p.to_string()).collect(),
            deleted_files: report.deleted_files,
            gitignores_changed: render::relative_all(ws.root(), &report.gitignores_changed),
        };
        outln!("{}", serde_json::to_string_pretty(&out)?);
    } else if !ctx.quiet {
        outln!(
            "untracked {}{}",
            render::plural(report.untracked.len(), "path", "paths"),
            if args.cached {
                String::new()
            } else {
                format!(
                    ", deleted {}",
                    render::plural(report.deleted_files, "file", "files")
                )
            }
        );
        if !report.gitignores_changed.is_empty() {
            outln!(
                "commit the ignore rules with: git add {}",
                render::relative_list(ws.root(), &report.gitignores_changed)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
