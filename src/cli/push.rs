//! `dvx push`

use std::process::ExitCode;

use anyhow::Result;
use dvx::hash::ObjectId;
use dvx::remote::RefKind;
use dvx::sync::push::{self, Outcome, PushReport, PushRequest, Pushed};
use dvx::sync::remotes;
use serde::Serialize;

use super::Ctx;
use super::transfer::{self, JsonTransfer};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// `[REMOTE] [BRANCH or TAG...]`: the remote (default: the default remote), then what
    /// to push (default: the current branch). A first name that is no remote is a
    /// branch or tag.
    #[arg(value_name = "REMOTE or REF")]
    args: Vec<String>,
    /// Push every branch.
    #[arg(long)]
    all: bool,
    /// Push every tag.
    #[arg(long)]
    tags: bool,
    /// Delete this branch or tag on the remote (repeatable).
    #[arg(long, value_name = "REF", conflicts_with_all = ["all", "tags"])]
    delete: Vec<String>,
    /// Check every object the pushed refs reach against the remote, not only the new
    /// ones, and send what it lacks (after `dvx fsck --remote` found objects missing).
    #[arg(long, conflicts_with = "delete")]
    repair: bool,
    /// Print what happened as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let ws = ctx.open()?;
    let (remote, refs) = remotes::remote_and_rest(ws.repo(), &args.args)?;
    if !args.delete.is_empty() && !refs.is_empty() {
        return Err(super::hint::Hinted::usage(
            "--delete cannot be combined with branches or tags to push",
            "push and delete in two commands",
        )
        .into());
    }
    let connected = dvx::sync::connect(&ws, remote.as_deref(), &transfer::environment())?;
    let request = PushRequest {
        refs,
        all: args.all,
        tags: args.tags,
        delete: args.delete,
        repair: args.repair,
    };
    let bars = ctx.progress();
    let report = push::push(&ws, &connected, &request, &bars)?;
    // The remote moved: record it in the remote-tracking refs, under the lock.
    let lock = ctx.lock(&ws)?;
    push::record(&ws, &lock, &report, &ctx.reflog_signature(&ws)?)?;
    drop(lock);
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&JsonPush::from(&report))?
        );
    } else if !ctx.quiet {
        print_text(&report);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_text(report: &PushReport) {
    outln!("To {}", report.url);
    if report.refs.iter().all(|r| r.outcome == Outcome::UpToDate) {
        outln!("Everything up-to-date");
    }
    for r in report
        .refs
        .iter()
        .filter(|r| r.outcome != Outcome::UpToDate)
    {
        outln!("{}", line(r));
    }
    if let Some(branch) = &report.default_branch {
        outln!("the remote's default branch is now '{branch}' (dvx clone checks it out)");
    }
    if let Some(branch) = &report.default_deleted {
        eprintln!(
            "warning: '{branch}' was the remote's default branch (the one dvx clone checks out); it has none now, and the next branch pushed becomes it"
        );
    }
    if report.stats.objects > 0 {
        outln!(
            "{}",
            transfer::summary("pushed", ("object", "objects"), &report.stats)
        );
    }
}

/// One ref as git prints it after a push.
fn line(r: &Pushed) -> String {
    let new_kind = match r.kind {
        RefKind::Branch => "[new branch]",
        RefKind::Tag => "[new tag]",
    };
    match (r.outcome, r.old, r.new) {
        (Outcome::Deleted, _, _) => format!(" - {:<17} {}", "[deleted]", r.name),
        (Outcome::Updated, Some(old), Some(new)) => {
            format!(
                "   {}..{}  {} -> {}",
                old.short(),
                new.short(),
                r.name,
                r.name
            )
        }
        _ => format!(" * {new_kind:<17} {} -> {}", r.name, r.name),
    }
}

#[derive(Serialize)]
struct JsonRef {
    kind: &'static str,
    name: String,
    old: Option<String>,
    new: Option<String>,
    outcome: &'static str,
}

#[derive(Serialize)]
struct JsonPush {
    remote: String,
    url: String,
    refs: Vec<JsonRef>,
    default_branch: Option<String>,
    /// The remote's default branch when this push deleted it (it has none now).
    default_deleted: Option<String>,
    transfer: JsonTransfer,
}

fn hex(id: Option<ObjectId>) -> Option<String> {
    id.map(|i| i.to_hex())
}

impl From<&PushReport> for JsonPush {
    fn from(r: &PushReport) -> Self {
        JsonPush {
            remote: r.remote.clone(),
            url: r.url.clone(),
            refs: r
                .refs
                .iter()
                .map(|p| JsonRef {
                    kind: p.kind.what(),
                    name: p.name.clone(),
                    old: hex(p.old),
                    new: hex(p.new),
                    outcome: p.outcome.name(),
                })
                .collect(),
            default_branch: r.default_branch.clone(),
            default_deleted: r.default_deleted.clone(),
            transfer: JsonTransfer::from(&r.stats),
        }
    }
}
