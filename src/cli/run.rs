//! `dvx run`: check the deps, run a command, add its outs and commit them with a run
//! record.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus, Stdio};

use anyhow::Result;
use dvx::lineage::env_name;
use dvx::lineage::plan::{self, RunRequest};
use dvx::lineage::record::{self, Finished, Recorded, RunCommit};
use dvx::object::{EnvVar, Origin};
use dvx::workspace::Workspace;
use serde::Serialize;

use super::hint::Hinted;
use super::runs::{JsonArtifact, paths};
use super::{Ctx, now, render};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A file or directory the command reads: data dvx tracks, or code git tracks
    /// (repeatable).
    #[arg(short = 'd', long = "dep", value_name = "PATH")]
    deps: Vec<PathBuf>,
    /// A file or directory the command writes, added once it succeeds (repeatable).
    #[arg(short = 'o', long = "out", value_name = "PATH", required = true)]
    outs: Vec<PathBuf>,
    /// The commit message (default: `run: <command>`).
    #[arg(short, long)]
    message: Option<String>,
    /// Record this environment variable and its value (repeatable).
    #[arg(long = "env", value_name = "NAME")]
    env: Vec<String>,
    /// Add data deps that are new or changed to dvx first, instead of refusing them.
    #[arg(long)]
    add_deps: bool,
    /// Print the result as JSON (the command's standard output goes to standard error).
    #[arg(long)]
    json: bool,
    /// The command and its arguments, after `--` (run directly, without a shell).
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<String>,
}

/// A recorded run as `run --json` and `record --json` print it.
#[derive(Serialize)]
pub struct JsonRecorded {
    run: String,
    commit: String,
    branch: Option<String>,
    outs: Vec<JsonArtifact>,
    to_git_add: Vec<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let ws = ctx.open()?;
    // No identity or an empty message: refuse before the command runs, not after.
    ctx.signature(&ws)?;
    record::check_message(args.message.as_deref())?;
    // A refused name refuses the run before --add-deps adds anything.
    let env = read_env(&args.env)?;
    let bars = ctx.progress();
    if args.add_deps {
        let lock = ws.repo().lock()?;
        plan::add_deps(&ws, &lock, &ctx.cwd, &args.deps, &bars)?;
    }
    let request = RunRequest {
        deps: args.deps,
        outs: args.outs,
        command: args.command,
        env,
        origin: Origin::Ran,
    };
    let plan = plan::plan(&ws, &ctx.cwd, request)?;
    let (started, _) = now()?;
    let status = execute(&plan.command, &plan.work_dir(ws.root()), &[], args.json)?;
    let (ended, _) = now()?;
    if !status.success() {
        let touched = plan.outs_touched(&ws)?;
        eprintln!(
            "error: the command {}; nothing was recorded",
            describe_status(status)
        );
        if touched.is_empty() {
            eprintln!("hint: fix the command and run dvx run again");
        } else {
            let list: Vec<String> = touched.iter().map(|p| p.to_string()).collect();
            eprintln!(
                "hint: what it wrote stays on disk, not added: {}",
                list.join(" ")
            );
        }
        return Ok(exit_code(status));
    }
    let author = ctx.signature(&ws)?;
    let lock = ws.repo().lock()?;
    let done = record::record(
        &ws,
        &lock,
        &plan,
        Finished {
            started,
            ended,
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

/// Tell what was recorded and what git should commit (shared with `record`).
pub fn report(ctx: &Ctx, ws: &Workspace, done: &Recorded, json: bool) -> Result<ExitCode> {
    let mut to_add = Vec::new();
    if let Some(git) = ws.git() {
        to_add = git.files_to_stage()?;
    }
    if json {
        let out = JsonRecorded {
            run: done.run.to_hex(),
            commit: done.commit.id.to_hex(),
            branch: done.commit.branch.clone(),
            outs: done.record.outs.iter().map(JsonArtifact::new).collect(),
            to_git_add: to_add,
        };
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    if ctx.quiet {
        return Ok(ExitCode::SUCCESS);
    }
    let summary = ws
        .repo()
        .store()
        .read_commit(&done.commit.id)?
        .summary()
        .to_owned();
    outln!(
        "[{} {}] {summary}",
        done.commit.branch.as_deref().unwrap_or("detached HEAD"),
        done.commit.id.short()
    );
    let size: u64 = done.record.outs.iter().map(|o| o.size).sum();
    outln!(
        "recorded run {}: {} ({}) from {} and {}",
        done.run.short(),
        paths(&done.record.outs),
        render::size(size),
        render::plural(done.record.deps.len(), "data dep", "data deps"),
        render::plural(done.record.code.len(), "code file", "code files"),
    );
    if let Some(g) = &done.record.git
        && g.dirty
    {
        outln!(
            "note: the git work tree had uncommitted changes; the run records git {} as dirty",
            &g.hex()[..10]
        );
    }
    if !to_add.is_empty() {
        outln!(
            "pin this data version to the code with: git add {}",
            to_add.join(" ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The values of the variables to record, read now (`None`: not set). A name that is not
/// one, or names a credential, is refused before any value is read.
pub fn read_env(names: &[String]) -> Result<Vec<EnvVar>> {
    for name in names {
        env_name::check(name)?;
    }
    names
        .iter()
        .map(|name| {
            let value = match std::env::var(name) {
                Ok(v) => Some(v),
                Err(std::env::VarError::NotPresent) => None,
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(Hinted::new(
                        format!("the value of {name} is not valid UTF-8"),
                        "record only variables whose values are text",
                    )
                    .into());
                }
            };
            Ok(EnvVar {
                name: name.clone(),
                value,
            })
        })
        .collect()
}

/// Run `command` in `dir` with standard input, output and error passed through (output
/// to standard error when `output_to_stderr`, so standard output stays JSON), with
/// `env` set (or unset) on top of dvx's own environment.
pub fn execute(
    command: &[String],
    dir: &Path,
    env: &[EnvVar],
    output_to_stderr: bool,
) -> Result<ExitStatus> {
    let Some((program, args)) = command.split_first() else {
        return Err(Hinted::usage("no command to run", "give the command after --").into());
    };
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(dir);
    for var in env {
        match &var.value {
            Some(value) => cmd.env(&var.name, value),
            None => cmd.env_remove(&var.name),
        };
    }
    if output_to_stderr {
        cmd.stdout(Stdio::from(std::io::stderr()));
    }
    cmd.status().map_err(|e| {
        Hinted::new(
            format!("cannot run '{program}' in {}: {e}", dir.display()),
            "check that the program exists and is executable; commands run without a shell (use sh -c '...' for shell syntax)",
        )
        .into()
    })
}

/// `exited with code 3`, `was killed by signal 9`.
pub fn describe_status(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("was killed by signal {signal}");
        }
    }
    format!("exited with code {}", status.code().unwrap_or(1))
}

/// The exit code to pass on: the command's, or 128 + the signal that killed it (as
/// shells report it).
pub fn exit_code(status: ExitStatus) -> ExitCode {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return ExitCode::from((128 + signal).clamp(1, 255) as u8);
        }
    }
    let code = status.code().unwrap_or(1);
    ExitCode::from(if code == 0 {
        0
    } else {
        code.clamp(1, 255) as u8
    })
}
