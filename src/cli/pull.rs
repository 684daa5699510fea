//! `dvx pull`: without paths, fetch, fast-forward or merge the current branch, then make
//! every path local (`--lazy`: leave the bytes where they are; the flow is
//! `dvx::sync::pull`), except in a fresh git clone, where the commit `dvx.lock` pins is
//! checked out and pulled whole (`dvx::lazy::paths::pull_pinned`); with paths or globs,
//! bring in the bytes of just those paths (`dvx::lazy::paths`); with `--for <path>`, the
//! bytes of the inputs of the run that made it (`dvx::lazy::artifact`). This file parses,
//! picks the flow, and renders.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use dvx::lazy::artifact::{self, InputsPulled};
use dvx::lazy::bootstrap::Bootstrapped;
use dvx::lazy::paths;
use dvx::path::RepoPath;
use dvx::remote::{RemoteSource, TransferStats};
use dvx::repo::RepoLock;
use dvx::sync::pull::{self, PullOptions, PullReport};
use dvx::workspace::{self, Workspace};
use serde::Serialize;

use super::fetch::JsonFetch;
use super::hint::Hinted;
use super::transfer::{self, JsonSourceTransfer, JsonTransfer};
use super::{Ctx, follow, merge, render};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// `[remote] [paths or globs...]`. A first word that names a configured remote is
    /// the remote (as with `git pull`); write `./<name>` for a path of that name. Paths
    /// or globs (`'data/**/*.csv'`, quoted) of the checked-out commit: only their bytes
    /// are brought in. Without paths: fetch, merge, and make every path local.
    #[arg(value_name = "REMOTE|PATH")]
    args: Vec<String>,
    /// The remote to pull from (default: `core.remote`, else `origin`, else the only
    /// one); every word after it is then a path.
    #[arg(short, long, value_name = "NAME")]
    remote: Option<String>,
    /// Bring in only the inputs of the run that made this file (as `dvx trace` finds
    /// it), at the versions the run read.
    #[arg(long = "for", value_name = "PATH", conflicts_with = "lazy")]
    for_path: Option<PathBuf>,
    /// Without paths: stop after the branch moved; bytes that are not local stay not
    /// fetched.
    #[arg(long)]
    lazy: bool,
    /// Print what happened as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let (ws, lock) = ctx.open_locked()?;
    let (remote, rest) = match &args.remote {
        Some(name) => (Some(name.clone()), args.args.clone()),
        None => dvx::sync::remotes::remote_and_rest(ws.repo(), &args.args)?,
    };
    let paths: Vec<PathBuf> = rest.iter().map(PathBuf::from).collect();
    if args.for_path.is_some() && !paths.is_empty() {
        return Err(Hinted::usage(
            "--for takes no other paths",
            "pull the run's inputs (dvx pull --for models/model.pt) and the paths (dvx pull data/) in two commands",
        )
        .into());
    }
    if args.lazy && !paths.is_empty() {
        return Err(Hinted::usage(
            "--lazy is for a pull without paths",
            "`dvx pull --lazy` moves the branch and fetches no bytes; `dvx pull <paths>` brings the bytes of those paths only",
        )
        .into());
    }
    if paths.is_empty() && args.for_path.is_none() {
        // A fresh `git clone`: the data is what dvx.lock pins, not the remote's branch
        // (which may have moved on without the code).
        if dvx::lazy::bootstrap::awaits_pin(&ws)? {
            return path_pull(ctx, &ws, lock, remote.as_deref(), &[], &args);
        }
        sync_pull(ctx, &ws, lock, remote.as_deref(), &args)
    } else {
        path_pull(ctx, &ws, lock, remote.as_deref(), &paths, &args)
    }
}

/// `dvx pull [remote]`: the sync flow.
fn sync_pull(
    ctx: &Ctx,
    ws: &Workspace,
    lock: RepoLock,
    remote: Option<&str>,
    args: &Args,
) -> Result<ExitCode> {
    let connected = dvx::sync::connect(ws, remote, &transfer::environment())?;
    let identity = ctx.signature(ws);
    let options = PullOptions {
        lazy: args.lazy,
        identity: identity.is_ok(),
        who: match identity {
            Ok(who) => who,
            Err(_) => ctx.reflog_signature(ws)?,
        },
    };
    let bars = ctx.progress();
    let report = match pull::pull(ws, &lock, &connected, &options, &bars) {
        Ok(report) => report,
        Err(dvx::sync::Error::AfterFetch { fetched, source }) => {
            // What the fetch brought first, then why the pull stopped (as git does).
            if !args.json {
                super::fetch::print_text(ctx, &fetched);
            }
            return Err((*source).into());
        }
        Err(e) => return Err(e.into()),
    };
    drop(lock);
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&JsonSyncPull::from(&report))?
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
        ws,
        report.merge.as_ref().is_some_and(|m| m.pin_changed),
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `dvx pull <paths>`, `dvx pull --for <path>`, and a fresh git clone's `dvx pull
/// [--lazy]` (no paths: every path of the pinned commit): the bytes of some paths.
fn path_pull(
    ctx: &Ctx,
    ws: &Workspace,
    lock: RepoLock,
    remote: Option<&str>,
    paths: &[PathBuf],
    args: &Args,
) -> Result<ExitCode> {
    let source = ctx.remote_named(ws, remote)?;
    let who = ctx.reflog_signature(ws)?;
    let bars = ctx.progress();
    let (bootstrapped, report, for_run) = match &args.for_path {
        Some(path) => {
            let pulled = artifact::pull_for(ws, &lock, &ctx.cwd, path, &source, &who, &bars)?;
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
        None if paths.is_empty() => {
            let pulled = paths::pull_pinned(ws, &lock, &source, &who, args.lazy, &bars)?;
            (pulled.bootstrapped, pulled.report, None)
        }
        None => {
            let pulled = paths::pull_paths(ws, &lock, &ctx.cwd, paths, &source, &who, &bars)?;
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
            transfer: JsonSourceTransfer::of(&source),
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
            .and_then(|b| b.fetched.as_ref())
            .map(|f| f.stats.clone())
            .unwrap_or_default();
        // `--lazy` (a fresh clone's) brought no bytes: the bootstrap line says it all.
        if !args.lazy {
            describe(&report, &source, &source.stats().since(&history));
        }
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
        fetch: b.fetched.as_ref().map(JsonFetch::from),
    }
}

fn describe_bootstrap(b: &Bootstrapped) {
    let fetched = match &b.fetched {
        Some(f) => format!(
            "fetched its history from {} ({}: commits, trees and run records; {}); ",
            f.remote,
            render::plural(f.stats.objects as usize, "object", "objects"),
            render::transfer(&f.stats)
        ),
        None => String::new(),
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
fn describe(report: &workspace::PullReport, source: &RemoteSource, cost: &TransferStats) {
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
struct JsonSyncPull {
    upstream: String,
    fetch: JsonFetch,
    merge: JsonMerged,
    /// Null with --lazy.
    bytes: Option<JsonBytes>,
}

impl From<&PullReport> for JsonSyncPull {
    fn from(r: &PullReport) -> Self {
        use dvx::flow::merge::MergeOutcome;
        let (outcome, head) = match r.merge.as_ref().map(|m| &m.outcome) {
            None => ("no-upstream", None),
            Some(MergeOutcome::UpToDate) => ("up-to-date", None),
            Some(MergeOutcome::FastForward(id, _)) => ("fast-forward", Some(id.to_hex())),
            Some(MergeOutcome::Merged { commit, .. }) => ("merged", Some(commit.to_hex())),
        };
        JsonSyncPull {
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

#[derive(Serialize)]
struct JsonBootstrap {
    commit: String,
    branch: Option<String>,
    /// The fetch that brought the pinned commit's history (null when it was local).
    fetch: Option<JsonFetch>,
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
    transfer: JsonSourceTransfer,
}
