//! `dvx record`: the lineage of a run that happened elsewhere (a cluster job, a
//! notebook): its outs are added as they are and committed with a run record.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use dvx::lineage::plan::{self, RunRequest};
use dvx::lineage::record::{self, Finished, RunCommit};
use dvx::object::Origin;

use super::run::{read_env, report};
use super::{Ctx, now};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A file or directory the run read: data dvx tracks, or code git tracks
    /// (repeatable).
    #[arg(short = 'd', long = "dep", value_name = "PATH")]
    deps: Vec<PathBuf>,
    /// A file or directory the run wrote, added as it is (repeatable).
    #[arg(short = 'o', long = "out", value_name = "PATH", required = true)]
    outs: Vec<PathBuf>,
    /// The commit message (default: `record: <command>`).
    #[arg(short, long)]
    message: Option<String>,
    /// The command line that ran, as a shell would run it (recorded as `sh -c
    /// <command>`, so `dvx reproduce --run` can run it again).
    #[arg(long, value_name = "COMMAND")]
    command: Option<String>,
    /// Record this environment variable and its value here (repeatable).
    #[arg(long = "env", value_name = "NAME")]
    env: Vec<String>,
    /// Add data deps that are new or changed to dvx first, instead of refusing them.
    #[arg(long)]
    add_deps: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let ws = ctx.open()?;
    let author = ctx.signature(&ws)?;
    // A refused name refuses the record before --add-deps adds anything.
    let env = read_env(&args.env)?;
    let bars = ctx.progress();
    let lock = ws.repo().lock()?;
    if args.add_deps {
        plan::add_deps(&ws, &lock, &ctx.cwd, &args.deps, &bars)?;
    }
    let command = match args.command {
        Some(line) => vec!["sh".to_owned(), "-c".to_owned(), line],
        None => Vec::new(),
    };
    let request = RunRequest {
        deps: args.deps,
        outs: args.outs,
        command,
        env,
        origin: Origin::Recorded,
    };
    let plan = plan::plan(&ws, &ctx.cwd, request)?;
    // The run's own times are not known here: it is recorded as ending when recorded.
    let (time, _) = now()?;
    let done = record::record(
        &ws,
        &lock,
        &plan,
        Finished {
            started: time,
            ended: time,
            exit_code: 0,
        },
        RunCommit {
            message: args.message,
            author,
        },
        &bars,
    )?;
    report(ctx, &ws, &done, args.json)
}
