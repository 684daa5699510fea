//! `dvx trace`: what made this file, and what made its inputs.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use dvx::lineage::trace::{self, Input, TracedRun};
use serde::Serialize;

use super::runs::{JsonRun, command, provenance};
use super::{Ctx, render, rev};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The file (or directory) to trace.
    path: PathBuf,
    /// Trace the path as this revision has it (default: the bytes in the work tree).
    #[arg(long, value_name = "REV")]
    rev: Option<String>,
    /// Follow at most N levels of runs (1: only the run that made the file).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    depth: Option<u32>,
    /// Print the trace as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct JsonInput {
    path: String,
    kind: &'static str,
    executable: bool,
    size: u64,
    id: String,
    dep: String,
    made_by: Option<String>,
}

impl JsonInput {
    fn new(i: &Input) -> JsonInput {
        JsonInput {
            path: i.path.to_string(),
            kind: i.kind.name(),
            executable: i.executable,
            size: i.size,
            id: i.id.to_hex(),
            dep: i.dep.to_string(),
            made_by: i.made_by.map(|id| id.to_hex()),
        }
    }
}

#[derive(Serialize)]
struct JsonTracedRun {
    #[serde(flatten)]
    run: JsonRun,
    depth: usize,
    inputs: Vec<JsonInput>,
    followed: bool,
}

#[derive(Serialize)]
struct JsonTrace {
    path: String,
    kind: &'static str,
    id: String,
    size: u64,
    made_by: String,
    runs: Vec<JsonTracedRun>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let ws = ctx.open()?;
    let rev = match &args.rev {
        Some(spec) => Some((rev::resolve(ws.repo(), spec)?, spec.as_str())),
        None => None,
    };
    let depth = args.depth.map(|d| d as usize);
    let traced = trace::trace(&ws, &ctx.cwd, &args.path, rev, depth)?;
    if args.json {
        let out = JsonTrace {
            path: traced.target.path.to_string(),
            kind: traced.target.kind.name(),
            id: traced.target.id.to_hex(),
            size: traced.target.size,
            made_by: traced.runs[0].run.id.to_hex(),
            runs: traced
                .runs
                .iter()
                .map(|r| JsonTracedRun {
                    run: JsonRun::new(&r.run),
                    depth: r.depth,
                    inputs: r.inputs.iter().map(JsonInput::new).collect(),
                    followed: r.followed,
                })
                .collect(),
        };
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    let target = &traced.target;
    outln!(
        "{} ({} {}, {})",
        render::quote_path(target.path.as_str()),
        if target.kind == dvx::object::EntryKind::Dir {
            "tree"
        } else {
            "blob"
        },
        target.id.short(),
        render::size(target.size)
    );
    for r in &traced.runs {
        outln!();
        print_run(r);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_run(r: &TracedRun) {
    let record = &r.run.record;
    outln!("run {}: {}", r.run.id.short(), command(record));
    outln!("  {}", provenance(&r.run));
    if !record.cwd.is_root() {
        outln!("  in {}/", render::quote_path(record.cwd.as_str()));
    }
    if !r.inputs.is_empty() {
        outln!("  inputs:");
        for input in &r.inputs {
            let made = match input.made_by {
                Some(id) => format!("  <- run {}", id.short()),
                None => String::new(),
            };
            outln!(
                "    {}  {:>9}  {}{made}",
                input.id.short(),
                render::size(input.size),
                render::quote_path(input.path.as_str())
            );
        }
    }
    if !record.code.is_empty() {
        outln!("  code (git blobs):");
        for code in &record.code {
            outln!(
                "    {}  {}",
                code.blob.short(),
                render::quote_path(code.path.as_str())
            );
        }
    }
    if !record.env.is_empty() {
        let vars: Vec<String> = record
            .env
            .iter()
            .map(|v| match &v.value {
                Some(value) => format!("{}={value}", v.name),
                None => format!("{} (unset)", v.name),
            })
            .collect();
        outln!("  environment: {}", vars.join(" "));
    }
    outln!("  outs:");
    for out in &record.outs {
        outln!(
            "    {}  {:>9}  {}{}",
            out.id.short(),
            render::size(out.size),
            render::quote_path(out.path.as_str()),
            if out.kind == dvx::object::EntryKind::Dir {
                "/"
            } else {
                ""
            }
        );
    }
    if !r.followed && r.inputs.iter().any(|i| i.made_by.is_none()) {
        outln!("  (runs behind its inputs not followed: --depth)");
    }
}
