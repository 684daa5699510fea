//! `dvx clone <url> <dir> [--lazy]`: a repository without git, from a remote. (With git,
//! `git clone` brings the remote's settings in `.dvx/config.toml`; then `dvx pull`.)

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use dvx::sync::clone::{self, CloneOptions};

use super::{Ctx, render, transfer};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The remote: a directory, file:///path, s3://bucket/prefix, gs://… or az://….
    url: String,
    /// Where to create the repository (new, or an empty directory).
    #[arg(value_name = "DIR")]
    directory: PathBuf,
    /// Check out without fetching any bytes: files stay not fetched until pulled.
    #[arg(long)]
    lazy: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let prepared = clone::prepare(&ctx.cwd, &args.url, &args.directory)?;
    if !ctx.quiet {
        eprintln!("Cloning into '{}'...", args.directory.display());
    }
    let sub = Ctx {
        cwd: prepared.dir().to_path_buf(),
        quiet: ctx.quiet,
    };
    let (ws, lock) = sub.open_locked()?;
    let options = CloneOptions {
        lazy: args.lazy,
        who: sub.reflog_signature(&ws)?,
    };
    let bars = ctx.progress();
    let report = clone::populate(
        &ws,
        &lock,
        prepared.url(),
        &transfer::environment(),
        &options,
        &bars,
    )?;
    drop(lock);
    prepared.keep();
    if ctx.quiet {
        return Ok(ExitCode::SUCCESS);
    }
    super::fetch::print_text(ctx, &report.fetch);
    match (&report.branch, &report.checkout) {
        (Some((branch, commit)), Some(checkout)) => {
            outln!(
                "checked out branch '{branch}' at {}: wrote {}{}",
                commit.short(),
                render::plural(checkout.written, "file", "files"),
                if checkout.not_fetched > 0 {
                    format!(", {} not fetched", checkout.not_fetched)
                } else {
                    String::new()
                }
            );
            if report.bytes.objects > 0 {
                outln!(
                    "{}",
                    transfer::summary("downloaded", ("file", "files"), &report.bytes)
                );
            }
        }
        _ => eprintln!("warning: you appear to have cloned an empty remote"),
    }
    Ok(ExitCode::SUCCESS)
}
