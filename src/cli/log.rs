//! `dvx log`

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use dvx::hash::ObjectId;
use dvx::history::log::{Walk, touches};
use dvx::object::Commit;
use dvx::refs::{HEADS, Head, REMOTES, TAGS};
use dvx::repo::Repo;
use dvx::workspace::resolve_path;
use serde::Serialize;

use super::{Ctx, render, rev};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// One line per commit: short id, refs, summary.
    #[arg(long)]
    oneline: bool,
    /// Print a JSON array, newest first.
    #[arg(long, conflicts_with = "oneline")]
    json: bool,
    /// Show at most N commits.
    #[arg(short = 'n', long = "max-count", value_name = "N")]
    max_count: Option<usize>,
    /// Start from this revision (default HEAD).
    rev: Option<String>,
    /// Only commits that changed these paths (after `--`).
    #[arg(last = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

/// The commit as `--json` prints it (also used by `show --json`).
#[derive(Serialize)]
pub struct JsonCommit {
    pub id: String,
    pub tree: String,
    pub parents: Vec<String>,
    pub author: String,
    pub email: String,
    pub time: i64,
    pub tz: String,
    pub message: String,
    pub git_commit: Option<String>,
    pub git_dirty: Option<bool>,
    pub refs: Vec<String>,
}

impl JsonCommit {
    pub fn new(id: ObjectId, c: &Commit, refs: Vec<String>) -> JsonCommit {
        JsonCommit {
            id: id.to_hex(),
            tree: c.tree.to_hex(),
            parents: c.parents.iter().map(|p| p.to_hex()).collect(),
            author: c.author.name.clone(),
            email: c.author.email.clone(),
            time: c.author.time,
            tz: dvx::refs::format_tz(c.author.tz_minutes),
            message: c.message.clone(),
            git_commit: c.git.as_ref().map(|g| g.hex()),
            git_dirty: c.git.as_ref().map(|g| g.dirty),
            refs,
        }
    }
}

/// Branch, remote-tracking branch, tag and HEAD names by commit, for decorating output.
pub fn decorations(repo: &Repo) -> Result<HashMap<ObjectId, Vec<String>>> {
    let mut map: HashMap<ObjectId, Vec<String>> = HashMap::new();
    let head = repo.refs().read_head()?;
    if let Head::Detached(id) = head {
        map.entry(id).or_default().push("HEAD".into());
    }
    for (name, id) in repo.refs().list(HEADS)? {
        let short = name.trim_start_matches(HEADS).to_owned();
        let label = if matches!(&head, Head::Branch(b) if *b == name) {
            format!("HEAD -> {short}")
        } else {
            short
        };
        map.entry(id).or_default().push(label);
    }
    for (name, id) in repo.refs().list(REMOTES)? {
        map.entry(id)
            .or_default()
            .push(name.trim_start_matches(REMOTES).to_owned());
    }
    for (name, id) in repo.refs().list(TAGS)? {
        map.entry(id)
            .or_default()
            .push(format!("tag: {}", name.trim_start_matches(TAGS)));
    }
    for labels in map.values_mut() {
        // HEAD first, as git shows it.
        labels.sort_by_key(|l| !l.starts_with("HEAD"));
    }
    Ok(map)
}

/// The full text form of one commit (shared with `show`).
pub fn print_commit(id: ObjectId, c: &Commit, refs: &[String]) {
    let deco = if refs.is_empty() {
        String::new()
    } else {
        format!(" ({})", refs.join(", "))
    };
    outln!("commit {id}{deco}");
    if c.parents.len() > 1 {
        let short: Vec<String> = c.parents.iter().map(|p| p.short()).collect();
        outln!("Merge:  {}", short.join(" "));
    }
    outln!("Author: {}", c.author);
    outln!(
        "Date:   {}",
        render::date(c.author.time, c.author.tz_minutes)
    );
    if let Some(g) = &c.git {
        outln!(
            "Git:    {}{}",
            g.hex(),
            if g.dirty { " (dirty)" } else { "" }
        );
    }
    outln!();
    for line in c.message.lines() {
        outln!("    {line}");
    }
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let ws = ctx.open()?;
    let repo = ws.repo();
    let start = match &args.rev {
        Some(r) => rev::resolve(repo, r)?,
        None => rev::resolve(repo, "HEAD")?,
    };
    let paths: Vec<_> = args
        .paths
        .iter()
        .map(|p| resolve_path(ws.root(), &ctx.cwd, p))
        .collect::<Result<_, _>>()?;
    let deco = decorations(repo)?;
    let limit = args.max_count.unwrap_or(usize::MAX);
    let mut json = Vec::new();
    let mut shown = 0;
    let mut first = true;
    for step in Walk::new(repo.store(), &[start])? {
        if shown >= limit {
            break;
        }
        let (id, commit) = step?;
        if !paths.is_empty() && !touches(repo.store(), &commit, &paths)? {
            continue;
        }
        shown += 1;
        let refs = deco.get(&id).cloned().unwrap_or_default();
        if args.json {
            json.push(JsonCommit::new(id, &commit, refs));
        } else if args.oneline {
            let deco = if refs.is_empty() {
                String::new()
            } else {
                format!("({}) ", refs.join(", "))
            };
            outln!("{} {deco}{}", id.short(), commit.summary());
        } else {
            if !first {
                outln!();
            }
            print_commit(id, &commit, &refs);
        }
        first = false;
    }
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&json)?);
    }
    Ok(ExitCode::SUCCESS)
}
