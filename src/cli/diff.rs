//! `dvx diff`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use dvx::hash::ObjectId;
use dvx::history::diff::{self, FileChange, FileStatus, IndexSource, Source, TreeSource};
use dvx::history::revision;
use dvx::path::RepoPath;
use dvx::workspace::{self, Workspace, resolve_path};

use super::show::{JsonChange, status_name};
use super::{Ctx, render};

/// Files larger than this are summarised, not diffed line by line.
const CONTENT_LIMIT: u64 = 1 << 20;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Compare with the stage (index) instead of the work tree.
    #[arg(long)]
    cached: bool,
    /// Per-file size changes and a summary line.
    #[arg(long)]
    stat: bool,
    /// Print a JSON array of changes.
    #[arg(long, conflicts_with_all = ["stat", "content"])]
    json: bool,
    /// Unified line diffs of text files (binary files get a one-line summary).
    #[arg(long)]
    content: bool,
    /// `[REV [REV]]`: none compares HEAD with the work tree, one compares that revision
    /// with the work tree, two compare the revisions.
    #[arg(num_args = 0..=2, value_name = "REV")]
    revs: Vec<String>,
    /// Limit to these paths (after `--`).
    #[arg(last = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let ws = ctx.open()?;
    let repo = ws.repo();
    let store = repo.store();
    let filter: Vec<RepoPath> = args
        .paths
        .iter()
        .map(|p| resolve_path(ws.root(), &ctx.cwd, p))
        .collect::<Result<_, _>>()?;
    let tree_of = |rev: &str| -> Result<ObjectId> {
        let id = revision::resolve(repo, rev)?;
        Ok(store.read_commit(&id)?.tree)
    };
    let old_tree = match args.revs.first() {
        Some(r) => Some(tree_of(r)?),
        None => match repo.refs().head_commit()? {
            Some(h) => Some(store.read_commit(&h)?.tree),
            None => None,
        },
    };
    let old = TreeSource {
        store,
        tree: old_tree,
    };
    let options = diff::Options {
        collapse_added: false,
        filter: filter.clone(),
    };
    let (changes, worktree) = match args.revs.get(1) {
        Some(r) => {
            let new = TreeSource {
                store,
                tree: Some(tree_of(r)?),
            };
            (diff::diff(&old, &new, &options)?.changes, false)
        }
        None => {
            let index = if args.cached {
                ws.load_index()?
            } else {
                workspace::worktree_index(&ws, &filter)?
            };
            let new = IndexSource {
                index: &index,
                store,
            };
            (
                diff::diff(&old as &dyn Source, &new, &options)?.changes,
                !args.cached,
            )
        }
    };
    let changes = diff::file_changes(changes);
    if args.json {
        let out: Vec<JsonChange> = changes.iter().map(JsonChange::new).collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else if args.content {
        for c in &changes {
            print_content(&ws, c, worktree)?;
        }
    } else if args.stat {
        print_stat(&changes);
    } else {
        for c in &changes {
            let letter = match &c.status {
                FileStatus::Added => "A",
                FileStatus::Deleted => "D",
                FileStatus::Modified => "M",
                FileStatus::Renamed { .. } => "R",
            };
            match &c.status {
                FileStatus::Renamed { from } => println!("{letter}\t{from} -> {}", c.path),
                _ => println!("{letter}\t{}", c.path),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_stat(changes: &[FileChange]) {
    let width = changes
        .iter()
        .map(|c| c.path.as_str().len())
        .max()
        .unwrap_or(0)
        .min(60);
    let (mut added, mut deleted, mut modified, mut renamed) = (0, 0, 0, 0);
    let (mut before, mut after) = (0u64, 0u64);
    for c in changes {
        let old = c.old.as_ref().map(|i| i.size);
        let new = c.new.as_ref().map(|i| i.size);
        before += old.unwrap_or(0);
        after += new.unwrap_or(0);
        let what = match (&c.status, old, new) {
            (FileStatus::Added, _, Some(n)) => {
                added += 1;
                format!("+{}", render::size(n))
            }
            (FileStatus::Deleted, Some(o), _) => {
                deleted += 1;
                format!("-{}", render::size(o))
            }
            (FileStatus::Renamed { from }, _, _) => {
                renamed += 1;
                format!("renamed from {from}")
            }
            (_, o, n) => {
                modified += 1;
                format!(
                    "{} -> {}",
                    render::size(o.unwrap_or(0)),
                    render::size(n.unwrap_or(0))
                )
            }
        };
        println!(" {:<width$} | {what}", c.path.as_str());
    }
    println!(
        " {}: {added} added, {deleted} deleted, {modified} modified, {renamed} renamed; {} -> {}",
        render::plural(changes.len(), "file changed", "files changed"),
        render::size(before),
        render::size(after)
    );
}

/// The bytes behind an id: from the store (checked against the id, so a damaged object
/// is never shown), else from the work-tree file if it still has exactly those bytes.
fn load(ws: &Workspace, path: &RepoPath, id: ObjectId, worktree: bool) -> Option<Vec<u8>> {
    if let Ok(bytes) = ws.repo().store().read(&id) {
        return Some(bytes);
    }
    if worktree {
        let bytes = std::fs::read(path.to_fs_path(ws.root())).ok()?;
        if ObjectId::of(&bytes) == id {
            return Some(bytes);
        }
    }
    None
}

fn is_text(bytes: &[u8]) -> bool {
    !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok()
}

fn print_content(ws: &Workspace, c: &FileChange, worktree: bool) -> Result<()> {
    let old_path = match &c.status {
        FileStatus::Renamed { from } => from.clone(),
        _ => c.path.clone(),
    };
    println!("diff --dvx a/{old_path} b/{}", c.path);
    if let FileStatus::Renamed { .. } = c.status {
        println!("renamed, same bytes");
        return Ok(());
    }
    let side = |item: &Option<dvx::history::diff::Item>,
                path: &RepoPath,
                in_worktree: bool|
     -> Result<Option<Vec<u8>>, String> {
        match item {
            None => Ok(Some(Vec::new())),
            Some(i) if i.size > CONTENT_LIMIT => Err(format!(
                "{} (over the {} diff limit)",
                render::size(i.size),
                render::size(CONTENT_LIMIT)
            )),
            Some(i) => Ok(i.id.and_then(|id| load(ws, path, id, in_worktree))),
        }
    };
    let old = side(&c.old, &old_path, false);
    let new = side(&c.new, &c.path, worktree);
    let size = |item: &Option<dvx::history::diff::Item>| {
        item.as_ref()
            .map(|i| render::size(i.size))
            .unwrap_or_else(|| "nothing".into())
    };
    match (old, new) {
        (Ok(Some(a)), Ok(Some(b))) if is_text(&a) && is_text(&b) => {
            let (a, b) = (String::from_utf8_lossy(&a), String::from_utf8_lossy(&b));
            let diff = similar::TextDiff::from_lines(a.as_ref(), b.as_ref());
            let old_name = if c.old.is_some() {
                format!("a/{old_path}")
            } else {
                "/dev/null".into()
            };
            let new_name = if c.new.is_some() {
                format!("b/{}", c.path)
            } else {
                "/dev/null".into()
            };
            print!(
                "{}",
                diff.unified_diff()
                    .context_radius(3)
                    .header(&old_name, &new_name)
            );
        }
        (Ok(Some(_)), Ok(Some(_))) => {
            println!("binary files differ ({} -> {})", size(&c.old), size(&c.new))
        }
        (Err(why), _) | (_, Err(why)) => {
            println!("{} file too large to diff: {why}", status_name(&c.status))
        }
        _ => println!(
            "bytes not local ({} -> {}); fetch them to see the content",
            size(&c.old),
            size(&c.new)
        ),
    }
    Ok(())
}
