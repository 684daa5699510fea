//! `dvx add`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use dvx::workspace;
use serde::Serialize;

use super::{Ctx, render};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files and directories to track (directories recursively).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Print what was staged as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct JsonAdd {
    new_files: usize,
    modified_files: usize,
    unchanged_files: usize,
    removed_files: usize,
    bytes_hashed: u64,
    objects_written: usize,
    bytes_written: u64,
    changed_while_adding: Vec<String>,
    skipped: Vec<String>,
    gitignores_changed: Vec<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let (ws, lock) = ctx.open_locked()?;
    let bars = ctx.progress();
    let report = workspace::add(&ws, &lock, &ctx.cwd, &args.paths, &bars)?;
    for path in &report.changed_while_adding {
        let path = render::quote_path(path.as_str());
        eprintln!(
            "warning: {path} changed while it was being read; it was not added (run dvx add again)"
        );
    }
    for path in &report.skipped {
        let path = render::quote_path(path.as_str());
        eprintln!("warning: {path} is not a regular file, symlink or directory; skipped");
    }
    if args.json {
        let out = JsonAdd {
            new_files: report.new_files,
            modified_files: report.modified_files,
            unchanged_files: report.unchanged_files,
            removed_files: report.removed_files,
            bytes_hashed: report.bytes_hashed,
            objects_written: report.objects_written,
            bytes_written: report.bytes_written,
            changed_while_adding: report
                .changed_while_adding
                .iter()
                .map(|p| p.to_string())
                .collect(),
            skipped: report.skipped.iter().map(|p| p.to_string()).collect(),
            gitignores_changed: render::relative_all(ws.root(), &report.gitignores_changed),
        };
        outln!("{}", serde_json::to_string_pretty(&out)?);
    } else if !ctx.quiet {
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
        outln!(
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
            outln!(
                "git now ignores the data; commit that with: git add {}",
                render::relative_list(ws.root(), &report.gitignores_changed)
            );
        }
    }
    Ok(if report.changed_while_adding.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
