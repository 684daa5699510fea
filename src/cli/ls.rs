//! `dvx ls`

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use dvx::history::diff::{self, Item};
use dvx::index::Kind;
use dvx::object::EntryKind;
use dvx::path::RepoPath;
use dvx::workspace::{Workspace, resolve_path};
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

struct Row {
    path: RepoPath,
    item: Item,
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
    let rows = match rev {
        Some(commit) => {
            let store = ws.repo().store();
            let tree = store.read_commit(&commit)?.tree;
            diff::files_under(store, tree, &filter)?
                .into_iter()
                .map(|(path, item)| Row {
                    local: item.id.is_some_and(|id| store.contains(&id)),
                    path,
                    item,
                })
                .collect()
        }
        None => index_rows(&ws, &filter)?,
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

/// Files of the index at or below `filter`, through unexpanded directories.
fn index_rows(ws: &Workspace, filter: &RepoPath) -> Result<Vec<Row>> {
    let index = ws.load_index()?;
    let store = ws.repo().store();
    let mut rows = Vec::new();
    let push_tree = |dir: &RepoPath, id, rows: &mut Vec<Row>| -> Result<()> {
        for (rel, item) in diff::files_under(store, id, &RepoPath::root())? {
            let path = dir.join_path(&rel);
            if path.is_within(filter) {
                let local = item.id.is_some_and(|id| store.contains(&id));
                rows.push(Row { path, item, local });
            }
        }
        Ok(())
    };
    if let Some(cover) = index.tree_entry_covering(filter) {
        push_tree(&cover.path.clone(), cover.id, &mut rows)?;
        return Ok(rows);
    }
    for e in index.iter_under(filter) {
        if e.kind == Kind::Tree {
            push_tree(&e.path, e.id, &mut rows)?;
            continue;
        }
        rows.push(Row {
            path: e.path.clone(),
            item: Item {
                name: e.path.file_name().to_owned(),
                kind: if e.kind == Kind::Symlink {
                    EntryKind::Symlink
                } else {
                    EntryKind::File
                },
                executable: e.executable,
                root: false,
                size: e.size,
                id: Some(e.id),
            },
            local: !e.not_fetched || store.contains(&e.id),
        });
    }
    Ok(rows)
}
