//! `dvx runs`, and how a run is shown (also by `run`, `record`, `trace`, `reproduce`).

use std::process::ExitCode;

use anyhow::Result;
use dvx::lineage::runs::{self, Run};
use dvx::object::{Artifact, RunRecord};
use serde::Serialize;

use super::{Ctx, render, rev};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only runs in this revision's history (default: every branch, tag and HEAD).
    rev: Option<String>,
    /// Print a JSON array, newest first.
    #[arg(long)]
    json: bool,
}

/// A dep or out as `--json` prints it.
#[derive(Serialize)]
pub struct JsonArtifact {
    pub path: String,
    pub kind: &'static str,
    pub executable: bool,
    pub size: u64,
    pub id: String,
}

impl JsonArtifact {
    pub fn new(a: &Artifact) -> JsonArtifact {
        JsonArtifact {
            path: a.path.to_string(),
            kind: a.kind.name(),
            executable: a.executable,
            size: a.size,
            id: a.id.to_hex(),
        }
    }
}

#[derive(Serialize)]
pub struct JsonCode {
    pub path: String,
    pub git_blob: String,
}

#[derive(Serialize)]
pub struct JsonEnv {
    pub name: String,
    pub value: Option<String>,
}

/// A run as `--json` prints it.
#[derive(Serialize)]
pub struct JsonRun {
    pub id: String,
    /// The dvx commit listing the run, and that commit's time.
    pub commit: String,
    pub time: i64,
    pub origin: &'static str,
    pub command: Vec<String>,
    pub cwd: String,
    pub deps: Vec<JsonArtifact>,
    pub code: Vec<JsonCode>,
    pub outs: Vec<JsonArtifact>,
    pub env: Vec<JsonEnv>,
    pub exit_code: i32,
    pub started: i64,
    pub ended: i64,
    pub git_commit: Option<String>,
    pub git_dirty: Option<bool>,
}

impl JsonRun {
    pub fn new(run: &Run) -> JsonRun {
        let r = &run.record;
        JsonRun {
            id: run.id.to_hex(),
            commit: run.commit.to_hex(),
            time: run.author.time,
            origin: r.origin.name(),
            command: r.command.clone(),
            cwd: r.cwd.as_str().to_owned(),
            deps: r.deps.iter().map(JsonArtifact::new).collect(),
            code: r
                .code
                .iter()
                .map(|c| JsonCode {
                    path: c.path.to_string(),
                    git_blob: c.blob.hex(),
                })
                .collect(),
            outs: r.outs.iter().map(JsonArtifact::new).collect(),
            env: r
                .env
                .iter()
                .map(|v| JsonEnv {
                    name: v.name.clone(),
                    value: v.value.clone(),
                })
                .collect(),
            exit_code: r.exit_code,
            started: r.started,
            ended: r.ended,
            git_commit: r.git.as_ref().map(|g| g.hex()),
            git_dirty: r.git.as_ref().map(|g| g.dirty),
        }
    }
}

/// `sh train.sh`, `python train.py (recorded)`, `(command not recorded)`.
pub fn command(record: &RunRecord) -> String {
    let mut text = if record.command.is_empty() {
        "(command not recorded)".to_owned()
    } else {
        record.command_line()
    };
    if record.origin == dvx::object::Origin::Recorded && !record.command.is_empty() {
        text.push_str(" (recorded)");
    }
    text
}

/// `data commit 1a2b3c4d5e, git 28fff190ca (dirty), 2023-11-14 22:13:20 +0000`.
pub fn provenance(run: &Run) -> String {
    let git = match &run.record.git {
        Some(g) => format!(
            ", git {}{}",
            &g.hex()[..10],
            if g.dirty { " (dirty)" } else { "" }
        ),
        None => String::new(),
    };
    format!(
        "data commit {}{git}, {}",
        run.commit.short(),
        render::date(run.author.time, run.author.tz_minutes)
    )
}

/// Paths, quoted for people, space-separated.
pub fn paths(artifacts: &[Artifact]) -> String {
    artifacts
        .iter()
        .map(|a| render::quote_path(a.path.as_str()).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let ws = ctx.open()?;
    let starts = match &args.rev {
        Some(spec) => Some(vec![rev::resolve(ws.repo(), spec)?]),
        None => None,
    };
    let listed = runs::list(ws.repo(), starts.as_deref())?;
    if args.json {
        let out: Vec<JsonRun> = listed.iter().map(JsonRun::new).collect();
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    for run in &listed {
        outln!("{} {}", run.id.short(), command(&run.record));
        outln!("    outs: {}", paths(&run.record.outs));
        outln!("    {}", provenance(run));
    }
    if listed.is_empty() && !ctx.quiet {
        eprintln!("no runs recorded yet (dvx run and dvx record make them)");
    }
    Ok(ExitCode::SUCCESS)
}
