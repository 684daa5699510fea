//! `dvx add`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use dvx::workspace;

use super::{Ctx, render};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files and directories to track (directories recursively).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let ws = ctx.open()?;
    let bars = ctx.progress();
    let report = workspace::add(&ws, &ctx.cwd, &args.paths, &bars)?;
    for path in &report.changed_while_adding {
        eprintln!(
            "warning: {path} changed while it was being read; it was not added (run dvx add again)"
        );
    }
    for path in &report.skipped {
        eprintln!("warning: {path} is not a regular file, symlink or directory; skipped");
    }
    if !ctx.quiet {
        let mut parts = Vec::new();
        if report.new_files > 0 {
            parts.push(format!("{} new", report.new_files));
        }
        if report.modified_files > 0 {
            parts.push(format!("{} modified", report.modified_files));
        }
        if report.removed_files > 0 {
            parts.push(format!("{} deleted", report.removed_files));
        }
        if report.unchanged_files > 0 {
            parts.push(format!("{} unchanged", report.unchanged_files));
        }
        let files = report.new_files + report.modified_files + report.unchanged_files;
        println!(
            "staged {}{}; stored {} in {}",
            render::plural(files, "file", "files"),
            if parts.is_empty() {
                String::new()
            } else {
                format!(" ({})", parts.join(", "))
            },
            render::size(report.bytes_written),
            render::plural(report.objects_written, "new object", "new objects"),
        );
        if !report.gitignores_changed.is_empty() {
            let files: Vec<String> = report
                .gitignores_changed
                .iter()
                .map(|p| p.strip_prefix(ws.root()).unwrap_or(p).display().to_string())
                .collect();
            println!(
                "git now ignores the data; commit that with: git add {}",
                files.join(" ")
            );
        }
    }
    Ok(if report.changed_while_adding.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
