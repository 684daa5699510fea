//! `dvx rm`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use dvx::workspace;

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
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let ws = ctx.open()?;
    let report = workspace::rm(&ws, &ctx.cwd, &args.paths, args.cached, args.force)?;
    if !ctx.quiet {
        println!(
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
            let files: Vec<String> = report
                .gitignores_changed
                .iter()
                .map(|p| p.strip_prefix(ws.root()).unwrap_or(p).display().to_string())
                .collect();
            println!("commit the ignore rules with: git add {}", files.join(" "));
        }
    }
    Ok(ExitCode::SUCCESS)
}
