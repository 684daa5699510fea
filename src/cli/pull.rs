//! `dvx pull [remote]`: fetch, fast-forward or merge the current branch, then make every
//! path local (`--lazy`: leave the bytes where they are). The flow is
//! `dvx::sync::pull`; this file parses and renders.

use std::process::ExitCode;

use anyhow::Result;
use dvx::sync::pull::{self, PullOptions, PullReport};
use serde::Serialize;

use super::fetch::JsonFetch;
use super::transfer::{self, JsonTransfer};
use super::{Ctx, follow, merge, render};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The remote (default: the default remote).
    remote: Option<String>,
    /// Stop after the branch moved: bytes that are not local stay not fetched.
    #[arg(long)]
    lazy: bool,
    /// Print what happened as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let (ws, lock) = ctx.open_locked()?;
    let connected = dvx::sync::connect(&ws, args.remote.as_deref(), &transfer::environment())?;
    let identity = ctx.signature(&ws);
    let options = PullOptions {
        lazy: args.lazy,
        identity: identity.is_ok(),
        who: match identity {
            Ok(who) => who,
            Err(_) => ctx.reflog_signature(&ws)?,
        },
    };
    let bars = ctx.progress();
    let report = pull::pull(&ws, &lock, &connected, &options, &bars)?;
    drop(lock);
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&JsonPull::from(&report))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    super::fetch::print_text(ctx, &report.fetch);
    match &report.merge {
        Some(merged) => {
            follow::announce(ctx, &merged.followed);
            merge::report(ctx, &merged.outcome, false)?;
        }
        None => eprintln!(
            "note: remote {} has no branch '{}': nothing to merge (`dvx push` publishes it)",
            report.fetch.remote,
            report
                .upstream
                .split_once('/')
                .map_or(report.upstream.as_str(), |(_, b)| b)
        ),
    }
    if let Some(bytes) = &report.bytes {
        if !ctx.quiet && bytes.stats.objects > 0 {
            outln!(
                "{}",
                transfer::summary("downloaded", ("file", "files"), &bytes.stats)
            );
        }
        if !ctx.quiet && bytes.written > 0 {
            outln!(
                "wrote {} into the work tree",
                render::plural(bytes.written, "file", "files")
            );
        }
        for path in &bytes.kept {
            eprintln!(
                "warning: {} is not fetched, and a file of yours is in its place; it was left as it is",
                render::quote_path(path.as_str())
            );
        }
    }
    super::pin::announce(
        ctx,
        &ws,
        report.merge.as_ref().is_some_and(|m| m.pin_changed),
    )?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct JsonMerged {
    /// `up-to-date`, `fast-forward`, `merged`, or `no-upstream` (the remote has no
    /// branch of this name: nothing was merged).
    outcome: &'static str,
    head: Option<String>,
}

#[derive(Serialize)]
struct JsonBytes {
    written: usize,
    kept: Vec<String>,
    transfer: JsonTransfer,
}

#[derive(Serialize)]
struct JsonPull {
    upstream: String,
    fetch: JsonFetch,
    merge: JsonMerged,
    /// Null with --lazy.
    bytes: Option<JsonBytes>,
}

impl From<&PullReport> for JsonPull {
    fn from(r: &PullReport) -> Self {
        use dvx::flow::merge::MergeOutcome;
        let (outcome, head) = match r.merge.as_ref().map(|m| &m.outcome) {
            None => ("no-upstream", None),
            Some(MergeOutcome::UpToDate) => ("up-to-date", None),
            Some(MergeOutcome::FastForward(id, _)) => ("fast-forward", Some(id.to_hex())),
            Some(MergeOutcome::Merged { commit, .. }) => ("merged", Some(commit.to_hex())),
        };
        JsonPull {
            upstream: r.upstream.clone(),
            fetch: JsonFetch::from(&r.fetch),
            merge: JsonMerged { outcome, head },
            bytes: r.bytes.as_ref().map(|b| JsonBytes {
                written: b.written,
                kept: b.kept.iter().map(|p| p.to_string()).collect(),
                transfer: JsonTransfer::from(&b.stats),
            }),
        }
    }
}
