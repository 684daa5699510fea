//! `dvx reset`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use dvx::history::{self, revision};
use dvx::workspace;
use serde::Serialize;

use super::hint::Hinted;
use super::{Ctx, render, rev};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Take the paths from this revision instead of HEAD.
    rev: Option<String>,
    /// The paths to unstage (after `--`); `.` for everything.
    #[arg(last = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Print what changed in the stage as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct JsonReset<'a> {
    rev: &'a str,
    updated: Vec<&'a str>,
    removed: Vec<&'a str>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let ws = ctx.open_plain()?;
    let (rev, paths) = match (args.rev, args.paths) {
        (rev, paths) if !paths.is_empty() => (rev, paths),
        // `dvx reset data/x`, as git allows, when it is not a revision.
        (Some(arg), _)
            if matches!(
                revision::resolve(ws.repo(), &arg),
                Err(history::Error::UnknownRevision(_))
            ) =>
        {
            (None, vec![PathBuf::from(arg)])
        }
        _ => {
            return Err(Hinted::usage(
                "dvx reset needs the paths to unstage",
                "dvx reset [<rev>] -- <path>... (`dvx reset -- .` for everything); it never moves HEAD",
            )
            .into());
        }
    };
    let lock = ctx.lock_following(&ws)?;
    let source = match &rev {
        Some(r) => Some((rev::resolve(ws.repo(), r)?, r.as_str())),
        None => None,
    };
    let report = workspace::reset(&ws, &lock, &ctx.cwd, &paths, source)?;
    let rev = rev.as_deref().unwrap_or("HEAD");
    if args.json {
        let out = JsonReset {
            rev,
            updated: report.updated.iter().map(|p| p.as_str()).collect(),
            removed: report.removed.iter().map(|p| p.as_str()).collect(),
        };
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    if ctx.quiet {
        return Ok(ExitCode::SUCCESS);
    }
    if report.updated.is_empty() && report.removed.is_empty() {
        outln!("nothing to reset: the stage already has {rev}'s version of these paths");
        return Ok(ExitCode::SUCCESS);
    }
    let mut parts = Vec::new();
    if !report.updated.is_empty() {
        parts.push(format!("{} now as in {rev}", report.updated.len()));
    }
    if !report.removed.is_empty() {
        parts.push(format!("{} no longer tracked", report.removed.len()));
    }
    outln!(
        "unstaged {} ({}); the work tree was not touched",
        render::plural(report.updated.len() + report.removed.len(), "path", "paths"),
        parts.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}
