//! `dvx diff`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use dvx::history::diff::{FileChange, FileStatus};
use dvx::path::RepoPath;
use dvx::workspace::{self, Side, Workspace, resolve_path};

use super::hint::Hinted;
use super::show::{JsonChange, status_name};
use super::{Ctx, render, rev};

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
    /// with the work tree, two (or `REV..REV`) compare the revisions; `A...B` compares
    /// the merge base of A and B with B.
    #[arg(num_args = 0..=2, value_name = "REV")]
    revs: Vec<String>,
    /// Limit to these paths (after `--`).
    #[arg(last = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let ws = ctx.open()?;
    let repo = ws.repo();
    let filter: Vec<RepoPath> = args
        .paths
        .iter()
        .map(|p| resolve_path(ws.root(), &ctx.cwd, p))
        .collect::<Result<_, _>>()?;
    let (old_commit, new_commit) = match args.revs.as_slice() {
        [] => (repo.refs().head_commit()?, None),
        // `A..B` and `A...B`, as git spells two revisions in one.
        [one] => match rev::resolve_range(repo, one)? {
            Some((from, to)) => (Some(from), Some(to)),
            None => (Some(rev::resolve(repo, one)?), None),
        },
        [a, b, ..] => {
            if a.contains("..") || b.contains("..") {
                return Err(Hinted::usage(
                    format!(
                        "cannot compare '{a}' with '{b}': give A..B or two revisions, not both"
                    ),
                    "dvx diff A B (or dvx diff A..B)",
                )
                .into());
            }
            (Some(rev::resolve(repo, a)?), Some(rev::resolve(repo, b)?))
        }
    };
    let new = match new_commit {
        Some(commit) => Side::Commit(commit),
        None if args.cached => Side::Stage,
        None => Side::WorkTree,
    };
    let worktree = new == Side::WorkTree;
    let changes = workspace::changes(&ws, old_commit, new, &filter)?;
    if args.json {
        let out: Vec<JsonChange> = changes.iter().map(JsonChange::new).collect();
        outln!("{}", serde_json::to_string_pretty(&out)?);
    } else if args.content {
        for c in &changes {
            print_content(&ws, c, worktree)?;
        }
    } else if args.stat {
        print_stat(&changes);
    } else {
        for c in &changes {
            let mode = c
                .mode_change()
                .map(|m| format!(" ({})", render::mode_change(m)))
                .unwrap_or_default();
            let letter = match &c.status {
                FileStatus::Added => "A",
                FileStatus::Deleted => "D",
                FileStatus::Modified => "M",
                FileStatus::Renamed { .. } => "R",
            };
            match &c.status {
                FileStatus::Renamed { from } => outln!(
                    "{letter}\t{} -> {}{mode}",
                    render::quote_path(from.as_str()),
                    render::quote_path(c.path.as_str())
                ),
                _ => outln!("{letter}\t{}{mode}", render::quote_path(c.path.as_str())),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_stat(changes: &[FileChange]) {
    let width = changes
        .iter()
        .map(|c| render::quote_path(c.path.as_str()).chars().count())
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
                format!("renamed from {}", render::quote_path(from.as_str()))
            }
            (_, o, n) => {
                modified += 1;
                if c.content_changed() {
                    format!(
                        "{} -> {}",
                        render::size(o.unwrap_or(0)),
                        render::size(n.unwrap_or(0))
                    )
                } else {
                    String::new()
                }
            }
        };
        // `chmod +x`: the mode alone, or the mode after the sizes.
        let what = match c.mode_change().map(render::mode_change) {
            Some(mode) if what.is_empty() => mode,
            Some(mode) => format!("{what}, {mode}"),
            None => what,
        };
        outln!(
            " {:<width$} | {what}",
            render::quote_path(c.path.as_str()).as_ref()
        );
    }
    outln!(
        " {}: {added} added, {deleted} deleted, {modified} modified, {renamed} renamed; {} -> {}",
        render::plural(changes.len(), "file changed", "files changed"),
        render::size(before),
        render::size(after)
    );
}

fn is_text(bytes: &[u8]) -> bool {
    !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok()
}

fn print_content(ws: &Workspace, c: &FileChange, worktree: bool) -> Result<()> {
    let old_path = match &c.status {
        FileStatus::Renamed { from } => from.clone(),
        _ => c.path.clone(),
    };
    let (a_name, b_name) = (format!("a/{old_path}"), format!("b/{}", c.path));
    outln!(
        "diff --dvx {} {}",
        render::quote_path(&a_name),
        render::quote_path(&b_name)
    );
    if let Some((old, new)) = c.mode_change() {
        // git's extended header lines.
        outln!("old mode {}", render::git_mode(old));
        outln!("new mode {}", render::git_mode(new));
    }
    if let FileStatus::Renamed { .. } = c.status {
        outln!("renamed, same bytes");
        return Ok(());
    }
    if !c.content_changed() {
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
            Some(i) => {
                Ok(i.id.and_then(|id| workspace::content(ws, path, id, in_worktree)))
            }
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
                render::quote_path(&a_name)
            } else {
                "/dev/null".into()
            };
            let new_name = if c.new.is_some() {
                render::quote_path(&b_name)
            } else {
                "/dev/null".into()
            };
            out!(
                "{}",
                diff.unified_diff()
                    .context_radius(3)
                    .header(&old_name, &new_name)
            );
        }
        (Ok(Some(_)), Ok(Some(_))) => {
            outln!("binary files differ ({} -> {})", size(&c.old), size(&c.new))
        }
        (Err(why), _) | (_, Err(why)) => {
            outln!("{} file too large to diff: {why}", status_name(&c.status))
        }
        _ => outln!(
            "bytes not local ({} -> {}); fetch them to see the content",
            size(&c.old),
            size(&c.new)
        ),
    }
    Ok(())
}
