//! `dvx pull <paths or globs>...` and `dvx pull --for <path>`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use dvx::lazy::artifact::{self, InputsPulled};
use dvx::lazy::bootstrap::Bootstrapped;
use dvx::lazy::paths;
use dvx::path::RepoPath;
use dvx::remote::{RemoteSource, TransferStats};
use dvx::workspace::PullReport;
use serde::Serialize;

use super::hint::Hinted;
use super::render::{self, JsonTransfer};
use super::{Ctx, follow};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Bring in only the inputs of the run that made this file (as `dvx trace` finds
    /// it), at the versions the run read.
    #[arg(long = "for", value_name = "PATH", conflicts_with = "paths")]
    for_path: Option<PathBuf>,
    /// The remote to pull from (default: `core.remote`, else `origin`, else the only one).
    #[arg(short, long, value_name = "NAME")]
    remote: Option<String>,
    /// Print what happened as JSON.
    #[arg(long)]
    json: bool,
    /// Paths or globs (`'data/**/*.csv'`, quoted) of the checked-out commit whose bytes
    /// to bring into the work tree.
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
}

#[derive(Serialize)]
struct JsonBootstrap {
    commit: String,
    branch: Option<String>,
    commits: usize,
    trees: usize,
    runs: usize,
}

#[derive(Serialize)]
struct JsonFor {
    target: String,
    run: String,
    inputs: usize,
    other_version: Vec<String>,
}

#[derive(Serialize)]
struct JsonPull {
    written: Vec<String>,
    already: usize,
    unavailable: Vec<String>,
    fetched: usize,
    bootstrapped: Option<JsonBootstrap>,
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    for_run: Option<JsonFor>,
    transfer: JsonTransfer,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    if args.paths.is_empty() && args.for_path.is_none() {
        return Err(Hinted::usage(
            "nothing to pull",
            "give paths or globs of the checked-out commit (dvx pull data/train/), or a file whose run's inputs to pull (dvx pull --for models/model.pt)",
        )
        .into());
    }
    let (ws, lock) = ctx.open_locked()?;
    let source = ctx.remote_named(&ws, args.remote.as_deref())?;
    let who = ctx.reflog_signature(&ws)?;
    let bars = ctx.progress();
    let (bootstrapped, report, for_run) = match &args.for_path {
        Some(path) => {
            let pulled = artifact::pull_for(&ws, &lock, &ctx.cwd, path, &source, &who, &bars)?;
            let InputsPulled {
                bootstrapped,
                target,
                run,
                inputs,
                fetched: _,
                report,
                other_version,
            } = pulled;
            let for_run = JsonFor {
                target: target.to_string(),
                run: run.to_hex(),
                inputs,
                other_version: other_version.iter().map(RepoPath::to_string).collect(),
            };
            (bootstrapped, report, Some(for_run))
        }
        None => {
            let pulled =
                paths::pull_paths(&ws, &lock, &ctx.cwd, &args.paths, &source, &who, &bars)?;
            (pulled.bootstrapped, pulled.report, None)
        }
    };
    drop(lock);
    if let Some(b) = &bootstrapped {
        follow::announce(ctx, &b.switched.followed);
    }
    if args.json {
        let out = JsonPull {
            written: report.written.iter().map(RepoPath::to_string).collect(),
            already: report.already,
            unavailable: report.unavailable.iter().map(RepoPath::to_string).collect(),
            fetched: report.fetched.fetched.len(),
            bootstrapped: bootstrapped.as_deref().map(json_bootstrap),
            for_run,
            transfer: JsonTransfer::of(&source),
        };
        outln!("{}", serde_json::to_string_pretty(&out)?);
    } else if !ctx.quiet {
        if let Some(b) = &bootstrapped {
            describe_bootstrap(b);
        }
        if let Some(f) = &for_run {
            outln!(
                "run {} made {}: {}",
                &f.run[..10],
                render::quote_path(&f.target),
                render::plural(f.inputs, "input file", "input files")
            );
        }
        let history = bootstrapped
            .as_deref()
            .map(|b| b.history.stats.clone())
            .unwrap_or_default();
        describe(&report, &source, &source.stats().since(&history));
        if let Some(f) = &for_run
            && !f.other_version.is_empty()
        {
            outln!(
                "{} the checked-out commit has at another version (or not at all): their bytes are local now; `dvx reproduce {}` writes them",
                render::plural(f.other_version.len(), "input", "inputs"),
                render::quote_path(&f.target)
            );
        }
    }
    if let Some(first) = report.unavailable.first() {
        return Err(Hinted::new(
            format!(
                "remote '{}' does not have the bytes of {} (first: {}); they stay not fetched",
                source.name(),
                render::plural(report.unavailable.len(), "file", "files"),
                render::quote_path(first.as_str())
            ),
            "push them from the clone that made them, then pull again",
        )
        .into());
    }
    Ok(ExitCode::SUCCESS)
}

fn json_bootstrap(b: &Bootstrapped) -> JsonBootstrap {
    JsonBootstrap {
        commit: b.switched.target.to_hex(),
        branch: b.switched.branch.clone(),
        commits: b.history.commits,
        trees: b.history.trees,
        runs: b.history.runs,
    }
}

fn describe_bootstrap(b: &Bootstrapped) {
    let h = &b.history;
    let fetched = if h.commits + h.trees + h.runs > 0 {
        format!(
            "fetched its history ({}, {}, {}: {}); ",
            render::plural(h.commits, "commit", "commits"),
            render::plural(h.trees, "tree", "trees"),
            render::plural(h.runs, "run record", "run records"),
            render::transfer(&h.stats)
        )
    } else {
        String::new()
    };
    let on = match &b.switched.branch {
        Some(branch) => format!(" on branch '{branch}'"),
        None => String::new(),
    };
    outln!(
        "dvx.lock pins {}: {fetched}checked it out lazily{on}",
        b.switched.target.short()
    );
}

/// The pull's own line; `cost` is what it moved (a bootstrap's history aside).
fn describe(report: &PullReport, source: &RemoteSource, cost: &TransferStats) {
    let written: u64 = report.fetched.bytes;
    let mut line = format!(
        "pulled {}",
        render::plural(report.written.len(), "file", "files")
    );
    if !report.fetched.fetched.is_empty() {
        line.push_str(&format!(
            " ({} fetched from {}: {})",
            render::size(written),
            source.name(),
            render::transfer(cost)
        ));
    }
    if report.already > 0 {
        line.push_str(&format!("; {} already here", report.already));
    }
    outln!("{line}");
}
