//! `dvx ls`

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use dvx::path::RepoPath;
use dvx::workspace::{self, resolve_path};
use serde::Serialize;

use super::{Ctx, render, rev};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// `[REV] [PATH]`: a revision (default: what is checked out) and a path to list.
    #[arg(num_args = 0..=2, value_name = "REV_OR_PATH")]
    args: Vec<String>,
    /// Print a JSON array.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct JsonFile {
    path: String,
    kind: &'static str,
    size: u64,
    id: String,
    executable: bool,
    /// The bytes are in the local store.
    local: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let ws = ctx.open()?;
    let (rev, path) = match args.args.as_slice() {
        [] => (None, None),
        [one] => match rev::resolve(ws.repo(), one) {
            Ok(id) => (Some(id), None),
            Err(_) => (None, Some(one.as_str())),
        },
        [rev, path, ..] => (Some(rev::resolve(ws.repo(), rev)?), Some(path.as_str())),
    };
    let filter = match path {
        Some(p) => resolve_path(ws.root(), &ctx.cwd, Path::new(p))?,
        None => RepoPath::root(),
    };
    let objects = ws.repo().store();
    let rows = match rev {
        Some(commit) => {
            let tree = objects.read_commit(&commit)?.tree;
            workspace::commit_files(objects, tree, &filter)?
        }
        None => workspace::tracked_files(&ws.load_index()?, objects, &[filter])?,
    };
    if args.json {
        let out: Vec<JsonFile> = rows
            .iter()
            .map(|r| JsonFile {
                path: r.path.to_string(),
                kind: r.item.kind.name(),
                size: r.item.size,
                id: r.item.id.map(|i| i.to_hex()).unwrap_or_default(),
                executable: r.item.executable,
                local: r.local,
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    for r in &rows {
        outln!(
            "{:>10}  {}  {}{}",
            render::size(r.item.size),
            r.item.id.map(|i| i.short()).unwrap_or_default(),
            render::quote_path(r.path.as_str()),
            if r.local { "" } else { "  (not fetched)" }
        );
    }
    Ok(ExitCode::SUCCESS)
}
