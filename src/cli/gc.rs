//! `dvx gc`

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use dvx::gc::{self, DEFAULT_GRACE, Options};
use serde::Serialize;

use super::{Ctx, render};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Report what would be deleted without deleting it.
    #[arg(long)]
    dry_run: bool,
    /// Keep commits reachable from reflog entries younger than this many days.
    #[arg(long, value_name = "DAYS", default_value_t = DEFAULT_GRACE.as_secs() / 86_400)]
    grace: u64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct JsonGc {
    dry_run: bool,
    removed: Vec<String>,
    freed_bytes: u64,
    kept_young: usize,
    reachable: usize,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let (ws, lock) = ctx.open_locked()?;
    let options = Options {
        dry_run: args.dry_run,
        grace: Duration::from_secs(args.grace * 86_400),
        now: super::now()?.0,
    };
    let report = gc::collect(ws.repo(), &lock, ws.git(), &options)?;
    if args.json {
        let out = JsonGc {
            dry_run: args.dry_run,
            removed: report.removed.iter().map(|(id, _)| id.to_hex()).collect(),
            freed_bytes: report.freed_bytes,
            kept_young: report.kept_young,
            reachable: report.reachable,
        };
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    if args.dry_run {
        for (id, size) in &report.removed {
            outln!("would remove {id} ({})", render::size(*size));
        }
    }
    if !ctx.quiet {
        outln!(
            "{} {} ({}); kept {} reachable{}",
            if args.dry_run { "would free" } else { "freed" },
            render::plural(report.removed.len(), "object", "objects"),
            render::size(report.freed_bytes),
            render::plural(report.reachable, "object", "objects"),
            if report.kept_young > 0 {
                format!(" and {} younger than two hours", report.kept_young)
            } else {
                String::new()
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}
