//! `dvx drop <paths>`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use dvx::lazy::drop;
use serde::Serialize;

use super::Ctx;
use super::render;
use super::transfer::JsonSourceTransfer;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The remote that must hold the bytes (default: `core.remote`, else `origin`, else
    /// the only one).
    #[arg(short, long, value_name = "NAME")]
    remote: Option<String>,
    /// Print what happened as JSON.
    #[arg(long)]
    json: bool,
    /// Paths or globs whose local bytes to free.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<PathBuf>,
}

#[derive(Serialize)]
struct JsonDrop {
    files: usize,
    deleted: Vec<String>,
    freed_objects: usize,
    freed_bytes: u64,
    kept: usize,
    transfer: JsonSourceTransfer,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let (ws, lock) = ctx.open_locked()?;
    let source = ctx.remote_named(&ws, args.remote.as_deref())?;
    let dropped = drop::drop(&ws, &lock, &ctx.cwd, &args.paths, &source)?;
    let freed_bytes: u64 = dropped.freed.iter().map(|(_, n)| n).sum();
    if args.json {
        let out = JsonDrop {
            files: dropped.files,
            deleted: dropped.deleted.iter().map(|p| p.to_string()).collect(),
            freed_objects: dropped.freed.len(),
            freed_bytes,
            kept: dropped.kept,
            transfer: JsonSourceTransfer::of(&source),
        };
        outln!("{}", serde_json::to_string_pretty(&out)?);
    } else if !ctx.quiet {
        outln!(
            "dropped {} ({} removed from the work tree); freed {} in {}; remote '{}' holds them (dvx pull brings them back)",
            render::plural(dropped.files, "file", "files"),
            dropped.deleted.len(),
            render::size(freed_bytes),
            render::plural(dropped.freed.len(), "object", "objects"),
            source.name()
        );
        if dropped.kept > 0 {
            // Another checked-out file with the same bytes, in this work tree or another.
            outln!(
                "kept {}: other checked-out files still use {}",
                render::plural(dropped.kept, "object", "objects"),
                if dropped.kept == 1 { "it" } else { "them" }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
