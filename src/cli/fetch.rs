//! `dvx fetch`

use std::process::ExitCode;

use anyhow::Result;
use dvx::sync::fetch::{self, FetchOptions, FetchReport, TagOutcome};
use serde::Serialize;

use super::Ctx;
use super::hint::Hinted;
use super::transfer::{self, JsonTransfer};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The remote (default: the default remote).
    remote: Option<String>,
    /// Move local tags the remote has at another commit.
    #[arg(short, long)]
    force: bool,
    /// Print what happened as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let (ws, lock) = ctx.open_locked()?;
    let connected = dvx::sync::connect(&ws, args.remote.as_deref(), &transfer::environment())?;
    let options = FetchOptions {
        force: args.force,
        who: ctx.reflog_signature(&ws)?,
    };
    let bars = ctx.progress();
    let report = fetch::fetch(&ws, &lock, &connected, &options, &bars)?;
    drop(lock);
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&JsonFetch::from(&report))?
        );
    } else {
        print_refs(ctx, &report);
    }
    // As git: a tag the fetch could not update fails the fetch (the rest was fetched).
    let skipped = skipped_tags(&report);
    if skipped > 0 {
        return Err(Hinted::new(
            format!(
                "{} not updated: the remote has {} at another commit",
                super::render::plural(skipped, "local tag was", "local tags were"),
                if skipped == 1 { "it" } else { "them" }
            ),
            "`dvx fetch --force` moves local tags to where the remote has them; everything else was fetched",
        )
        .into());
    }
    Ok(ExitCode::SUCCESS)
}

fn skipped_tags(report: &FetchReport) -> usize {
    report
        .tags
        .iter()
        .filter(|t| t.outcome == TagOutcome::Skipped)
        .count()
}

/// What a fetch did, as git prints it (changed refs only), a note on skipped tags and the
/// summary: for `pull` and `clone`, which go on past a skipped tag.
pub fn print_text(ctx: &Ctx, report: &FetchReport) {
    print_refs(ctx, report);
    let skipped = skipped_tags(report);
    if skipped > 0 {
        eprintln!(
            "note: {} left where {} (the remote has {} at another commit); `dvx fetch --force` moves {}",
            super::render::plural(skipped, "local tag was", "local tags were"),
            if skipped == 1 { "it is" } else { "they are" },
            if skipped == 1 { "it" } else { "them" },
            if skipped == 1 { "it" } else { "them" },
        );
    }
}

/// The changed refs, as git prints them, and the summary line.
fn print_refs(ctx: &Ctx, report: &FetchReport) {
    let mut lines = Vec::new();
    for b in &report.branches {
        let tracking = format!("{}/{}", report.remote, b.name);
        match (b.old, b.new) {
            (None, Some(_)) => lines.push(format!(
                " * {:<17} {} -> {tracking}",
                "[new branch]", b.name
            )),
            (Some(old), Some(new)) if old != new => lines.push(format!(
                "   {}..{}  {} -> {tracking}",
                old.short(),
                new.short(),
                b.name
            )),
            (Some(_), None) => lines.push(format!(" - {:<17} (none) -> {tracking}", "[deleted]")),
            _ => {}
        }
    }
    for t in &report.tags {
        match t.outcome {
            TagOutcome::New => {
                lines.push(format!(" * {:<17} {} -> {}", "[new tag]", t.name, t.name))
            }
            TagOutcome::Moved => lines.push(format!(
                " t {:<17} {} -> {} (was {})",
                "[tag update]",
                t.name,
                t.name,
                t.local.map(|l| l.short()).unwrap_or_default()
            )),
            TagOutcome::Skipped => {
                lines.push(format!(
                    " ! {:<17} {} -> {}  (would clobber the local tag at {})",
                    "[rejected]",
                    t.name,
                    t.name,
                    t.local.map(|l| l.short()).unwrap_or_default()
                ));
            }
            TagOutcome::Same => {}
        }
    }
    if !lines.is_empty() && !ctx.quiet {
        outln!("From {}", report.url);
        for line in lines {
            outln!("{line}");
        }
    }
    if !ctx.quiet && report.stats.objects > 0 {
        outln!(
            "{}",
            transfer::summary("fetched", ("object", "objects"), &report.stats)
        );
    }
}

#[derive(Serialize)]
struct JsonBranch {
    name: String,
    tracking: String,
    old: Option<String>,
    new: Option<String>,
}

#[derive(Serialize)]
struct JsonTag {
    name: String,
    local: Option<String>,
    remote: String,
    outcome: &'static str,
}

#[derive(Serialize)]
pub struct JsonFetch {
    remote: String,
    url: String,
    branches: Vec<JsonBranch>,
    tags: Vec<JsonTag>,
    default_branch: Option<String>,
    transfer: JsonTransfer,
}

impl From<&FetchReport> for JsonFetch {
    fn from(r: &FetchReport) -> Self {
        JsonFetch {
            remote: r.remote.clone(),
            url: r.url.clone(),
            branches: r
                .branches
                .iter()
                .map(|b| JsonBranch {
                    name: b.name.clone(),
                    tracking: dvx::refs::remote_tracking(&r.remote, &b.name),
                    old: b.old.map(|i| i.to_hex()),
                    new: b.new.map(|i| i.to_hex()),
                })
                .collect(),
            tags: r
                .tags
                .iter()
                .map(|t| JsonTag {
                    name: t.name.clone(),
                    local: t.local.map(|i| i.to_hex()),
                    remote: t.remote.to_hex(),
                    outcome: t.outcome.name(),
                })
                .collect(),
            default_branch: r.default_branch.clone(),
            transfer: JsonTransfer::from(&r.stats),
        }
    }
}
