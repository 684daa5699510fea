//! `dvx fsck`

use std::process::ExitCode;

use anyhow::Result;
use dvx::history::fsck;
use serde::Serialize;

use super::{Ctx, render};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct JsonProblem {
    id: String,
    kind: &'static str,
    problem: String,
    via: Option<String>,
    /// For a missing blob, the paths that need it.
    paths: Vec<String>,
}

#[derive(Serialize)]
struct JsonFsck {
    ok: bool,
    objects_checked: usize,
    corrupt: Vec<JsonProblem>,
    missing: Vec<JsonProblem>,
    problems: Vec<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let ws = ctx.open()?;
    let bars = ctx.progress();
    let report = fsck::fsck(ws.repo(), ws.repo().store(), &bars)?;
    let code = if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    };
    if args.json {
        let out = JsonFsck {
            ok: report.is_clean(),
            objects_checked: report.objects_checked,
            corrupt: report
                .corrupt
                .iter()
                .map(|(id, why)| JsonProblem {
                    id: id.to_hex(),
                    kind: "object",
                    problem: why.clone(),
                    via: None,
                    paths: Vec::new(),
                })
                .collect(),
            missing: report
                .missing
                .iter()
                .map(|m| JsonProblem {
                    id: m.id.to_hex(),
                    kind: m.kind,
                    problem: m.problem.clone(),
                    via: Some(m.via.clone()),
                    paths: m.paths.iter().map(|p| p.to_string()).collect(),
                })
                .collect(),
            problems: report.problems.clone(),
        };
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(code);
    }
    for (id, why) in &report.corrupt {
        outln!("corrupt object {id}: {why}");
    }
    for m in &report.missing {
        let needed_by = if m.paths.is_empty() {
            m.via.clone()
        } else {
            let paths: Vec<_> = m
                .paths
                .iter()
                .map(|p| render::quote_path(p.as_str()))
                .collect();
            format!("{} in {}", paths.join(", "), m.via)
        };
        outln!(
            "missing {} {} (needed by {needed_by}): {}",
            m.kind,
            m.id,
            m.problem
        );
    }
    for p in &report.problems {
        outln!("damaged: {p}");
    }
    if report.is_clean() {
        if !ctx.quiet {
            outln!("checked {} objects: no problems", report.objects_checked);
        }
    } else {
        eprintln!(
            "error: fsck found {} problem(s)\nhint: restore the named objects from another copy of the repository (`dvx add` of a good copy of a named file also puts its bytes back); `dvx gc` never deletes reachable objects",
            report.corrupt.len() + report.missing.len() + report.problems.len()
        );
    }
    Ok(code)
}
