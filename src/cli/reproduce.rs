//! `dvx reproduce`: put back exactly the inputs of the run that made a file, optionally
//! run it again and compare its outs with the recorded ones.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use dvx::lineage::reproduce::{self, CodeNow, OutCheck, Plan, Written};
use dvx::store::ObjectSource;
use serde::Serialize;

use super::run::{describe_status, execute, exit_code};
use super::{Ctx, render, rev};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The file whose run to reproduce.
    path: PathBuf,
    /// Take the file as this revision has it (default: the bytes in the work tree).
    #[arg(long, value_name = "REV")]
    rev: Option<String>,
    /// Write the inputs (and the code deps) below DIR instead of the work tree.
    #[arg(long, value_name = "DIR")]
    into: Option<PathBuf>,
    /// Run the recorded command again, where the inputs were written.
    #[arg(long)]
    run: bool,
    /// After --run, compare the outs with the recorded ones (exit 1 when different).
    #[arg(long, requires = "run")]
    check: bool,
    /// Print the result as JSON (the command's standard output goes to standard error).
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct JsonCodeChange {
    path: String,
    recorded: String,
    now: Option<String>,
}

#[derive(Serialize)]
struct JsonOutCheck {
    path: String,
    recorded: String,
    now: Option<String>,
    identical: bool,
    modified: Vec<String>,
    missing: Vec<String>,
    new: Vec<String>,
}

#[derive(Serialize)]
struct JsonReproduce {
    run: String,
    commit: String,
    into: Option<String>,
    inputs: usize,
    /// Input objects fetched from the remote.
    fetched: usize,
    written: usize,
    unchanged: usize,
    code_changed: Vec<JsonCodeChange>,
    exit_code: Option<i32>,
    outs: Option<Vec<JsonOutCheck>>,
    identical: Option<bool>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let ws = ctx.open()?;
    let bars = ctx.progress();
    let rev = match &args.rev {
        Some(spec) => Some((rev::resolve(ws.repo(), spec)?, spec.as_str())),
        None => None,
    };
    let plan = reproduce::plan(&ws, &ctx.cwd, &args.path, rev)?;
    // The inputs whose bytes are not local, and nothing else, come from the default
    // remote when one is configured.
    let remote = ctx.remote_source(&ws)?;
    let objects: &dyn ObjectSource = match &remote {
        Some(remote) => remote,
        None => ws.repo().store(),
    };
    let fetched = reproduce::ensure_local(objects, &plan, &bars)?;
    if let Some(remote) = &remote
        && !fetched.fetched.is_empty()
        && !args.json
        && !ctx.quiet
    {
        outln!(
            "fetched {} from {}: {}",
            render::plural(fetched.fetched.len(), "input", "inputs"),
            remote.name(),
            render::transfer(&remote.stats())
        );
    }
    let (base, written) = match &args.into {
        Some(dir) => {
            let dir = ctx.cwd.join(dir);
            let written = reproduce::write_into(&ws, &plan, &dir, &bars)?;
            let dir = dir
                .canonicalize()
                .with_context(|| format!("cannot read {}", dir.display()))?;
            (dir, written)
        }
        None => {
            let lock = ws.repo().lock()?;
            let written = reproduce::write_worktree(&ws, &lock, &plan, &bars)?;
            (ws.root().to_path_buf(), written)
        }
    };
    let into = args.into.as_ref().map(|_| base.display().to_string());
    if !args.json && !ctx.quiet {
        describe_written(&plan, &written, into.as_deref());
    }
    warn_code(&plan);
    for path in &written.not_fetched {
        eprintln!("warning: {path}: its bytes are no longer in the local store; not written");
    }

    let mut json = JsonReproduce {
        run: plan.run.id.to_hex(),
        commit: plan.run.commit.to_hex(),
        into,
        inputs: plan.inputs.len(),
        fetched: fetched.fetched.len(),
        written: written.written,
        unchanged: written.unchanged,
        code_changed: plan
            .code_changed()
            .into_iter()
            .map(|c| JsonCodeChange {
                path: c.path.to_string(),
                recorded: c.recorded.hex(),
                now: match &c.now {
                    CodeNow::Differs(blob) => Some(blob.hex()),
                    _ => None,
                },
            })
            .collect(),
        exit_code: None,
        outs: None,
        identical: None,
    };
    let mut code = ExitCode::SUCCESS;
    if args.run {
        let record = &plan.run.record;
        if record.command.is_empty() {
            return Err(dvx::lineage::Error::NoCommand(plan.run.id).into());
        }
        let dir = plan.work_dir(&base);
        if !args.json && !ctx.quiet {
            outln!("running in {}: {}", dir.display(), record.command_line());
        }
        let status = execute(&record.command, &dir, &record.env, args.json)?;
        json.exit_code = Some(status.code().unwrap_or(-1));
        if !status.success() {
            eprintln!("error: the command {}", describe_status(status));
            eprintln!(
                "hint: the inputs stay where they were written; fix the command or the code and run it again"
            );
            if args.json {
                outln!("{}", serde_json::to_string_pretty(&json)?);
            }
            return Ok(exit_code(status));
        }
        if args.check {
            let checks = reproduce::check_outs(&ws, &plan, &base)?;
            let identical = checks.iter().all(OutCheck::identical);
            if !args.json {
                for check in &checks {
                    describe_check(check);
                }
                outln!(
                    "{}",
                    if identical {
                        "identical: the outs match the recorded ones"
                    } else {
                        "different: the outs do not match the recorded ones"
                    }
                );
            }
            json.identical = Some(identical);
            json.outs = Some(checks.iter().map(json_check).collect());
            if !identical {
                code = ExitCode::FAILURE;
            }
        }
    }
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&json)?);
    }
    Ok(code)
}

fn describe_written(plan: &Plan, written: &Written, into: Option<&str>) {
    let record = &plan.run.record;
    outln!(
        "run {} made {}: {}",
        plan.run.id.short(),
        render::quote_path(plan.target.path.as_str()),
        super::runs::command(record)
    );
    let place = match into {
        Some(dir) => format!("into {dir}"),
        None => "in the work tree".to_owned(),
    };
    let mut line = format!(
        "checked out {} {place} at their recorded versions: {} written, {} already there",
        render::plural(plan.inputs.len(), "input file", "input files"),
        written.written,
        written.unchanged
    );
    if written.code_written > 0 {
        line.push_str(&format!(
            "; copied {}",
            render::plural(written.code_written, "code file", "code files")
        ));
    }
    outln!("{line}");
}

/// Name the code deps whose work-tree version is not the one the run used.
fn warn_code(plan: &Plan) {
    let changed = plan.code_changed();
    if changed.is_empty() {
        return;
    }
    for c in &changed {
        let path = render::quote_path(c.path.as_str());
        match &c.now {
            CodeNow::Differs(blob) => eprintln!(
                "warning: code differs from the run's: {path} (recorded git blob {}, now {})",
                c.recorded.short(),
                blob.short()
            ),
            _ => eprintln!(
                "warning: code the run used is missing: {path} (recorded git blob {})",
                c.recorded.short()
            ),
        }
    }
    if let Some(git) = &plan.run.record.git {
        let paths: Vec<String> = changed.iter().map(|c| c.path.to_string()).collect();
        eprintln!(
            "hint: git checkout {} -- {} brings back the recorded code",
            &git.hex()[..10],
            paths.join(" ")
        );
    }
}

fn describe_check(check: &OutCheck) {
    let path = render::quote_path(check.path.as_str());
    if check.identical() {
        outln!("  identical: {path} ({})", check.recorded.short());
        return;
    }
    match check.now {
        Some(now) if check.kind != dvx::object::EntryKind::Dir => outln!(
            "  different: {path} (recorded {}, now {})",
            check.recorded.short(),
            now.short()
        ),
        _ => {
            let mut parts = Vec::new();
            for (n, what) in [
                (check.modified.len(), "modified"),
                (check.missing.len(), "missing"),
                (check.new.len(), "new"),
            ] {
                if n > 0 {
                    parts.push(format!("{n} {what}"));
                }
            }
            outln!("  different: {path} ({})", parts.join(", "));
            for p in check
                .modified
                .iter()
                .chain(&check.missing)
                .chain(&check.new)
            {
                outln!("    {}", render::quote_path(p.as_str()));
            }
        }
    }
}

fn json_check(check: &OutCheck) -> JsonOutCheck {
    let strings = |v: &[dvx::path::RepoPath]| v.iter().map(|p| p.to_string()).collect();
    JsonOutCheck {
        path: check.path.to_string(),
        recorded: check.recorded.to_hex(),
        now: check.now.map(|id| id.to_hex()),
        identical: check.identical(),
        modified: strings(&check.modified),
        missing: strings(&check.missing),
        new: strings(&check.new),
    }
}
