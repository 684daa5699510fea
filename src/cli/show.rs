//! `dvx show`

use std::process::ExitCode;

use anyhow::Result;
use dvx::history::diff::{self, FileStatus, TreeSource};
use serde::Serialize;

use super::log::{JsonCommit, decorations, print_commit};
use super::{Ctx, render, rev};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The commit to show (default HEAD).
    rev: Option<String>,
    /// Print JSON: the commit and its changed files.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
pub struct JsonChange {
    pub path: String,
    pub status: &'static str,
    pub from: Option<String>,
    pub old_id: Option<String>,
    pub new_id: Option<String>,
    pub old_size: Option<u64>,
    pub new_size: Option<u64>,
    /// git's mode numbers, only when the executable bit changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_mode: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_mode: Option<&'static str>,
}

impl JsonChange {
    pub fn new(c: &diff::FileChange) -> JsonChange {
        JsonChange {
            path: c.path.to_string(),
            status: status_name(&c.status),
            from: match &c.status {
                FileStatus::Renamed { from } => Some(from.to_string()),
                _ => None,
            },
            old_id: c.old.as_ref().and_then(|i| i.id).map(|i| i.to_hex()),
            new_id: c.new.as_ref().and_then(|i| i.id).map(|i| i.to_hex()),
            old_size: c.old.as_ref().map(|i| i.size),
            new_size: c.new.as_ref().map(|i| i.size),
            old_mode: c.mode_change().map(|(old, _)| render::git_mode(old)),
            new_mode: c.mode_change().map(|(_, new)| render::git_mode(new)),
        }
    }
}

pub fn status_name(s: &FileStatus) -> &'static str {
    match s {
        FileStatus::Added => "added",
        FileStatus::Deleted => "deleted",
        FileStatus::Modified => "modified",
        FileStatus::Renamed { .. } => "renamed",
    }
}

#[derive(Serialize)]
struct JsonShow {
    commit: JsonCommit,
    changes: Vec<JsonChange>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let ws = ctx.open()?;
    let repo = ws.repo();
    let store = repo.store();
    let id = rev::resolve(repo, args.rev.as_deref().unwrap_or("HEAD"))?;
    let commit = store.read_commit(&id)?;
    let parent_tree = match commit.parents.first() {
        Some(p) => Some(store.read_commit(p)?.tree),
        None => None,
    };
    let out = diff::diff(
        &TreeSource {
            store,
            tree: parent_tree,
        },
        &TreeSource {
            store,
            tree: Some(commit.tree),
        },
        &diff::Options::default(),
    )?;
    let changes = diff::file_changes(out.changes);
    let refs = decorations(repo)?.remove(&id).unwrap_or_default();
    if args.json {
        let show = JsonShow {
            commit: JsonCommit::new(id, &commit, refs),
            changes: changes.iter().map(JsonChange::new).collect(),
        };
        outln!("{}", serde_json::to_string_pretty(&show)?);
        return Ok(ExitCode::SUCCESS);
    }
    print_commit(id, &commit, &refs);
    outln!();
    for c in &changes {
        let size = c
            .new
            .as_ref()
            .or(c.old.as_ref())
            .map(|i| i.size)
            .unwrap_or(0);
        let mode = c.mode_change().map(render::mode_change);
        match &c.status {
            FileStatus::Renamed { from } => outln!(
                "  renamed:  {} -> {}{}",
                render::quote_path(from.as_str()),
                render::quote_path(c.path.as_str()),
                mode.map(|m| format!(" ({m})")).unwrap_or_default()
            ),
            s => outln!(
                "  {:<10}{} ({}{})",
                format!("{}:", status_name(s)),
                render::quote_path(c.path.as_str()),
                render::size(size),
                mode.map(|m| format!(", {m}")).unwrap_or_default()
            ),
        }
    }
    outln!(
        "{}",
        render::plural(changes.len(), "file changed", "files changed")
    );
    Ok(ExitCode::SUCCESS)
}
