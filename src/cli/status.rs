//! `dvx status`

use std::cell::Cell;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use dvx::refs::Head;
use dvx::sync::upstream::Tracking;
use dvx::workspace::{self, Change, ChangeSource, PinState, Status, WatchUse};
use serde::Serialize;

use super::{Ctx, fsmonitor, render};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print a JSON object instead of text (see docs/cli.md for its fields).
    #[arg(long)]
    json: bool,
    /// Look at every file even when `core.fsmonitor` is on (the file watcher is not
    /// asked).
    #[arg(long)]
    no_fsmonitor: bool,
    /// Limit the report to these paths.
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let ws = ctx.open()?;
    let bars = ctx.progress();
    let watcher = fsmonitor::Watcher {
        ws: &ws,
        warned: Cell::new(false),
    };
    let use_watcher = ws.repo().config().core.fsmonitor && !args.no_fsmonitor;
    let watcher = use_watcher.then_some(&watcher as &dyn ChangeSource);
    let status = workspace::status_with(&ws, &ctx.cwd, &args.paths, &bars, watcher)?;
    // Only a line of the report depends on it: a history that cannot be walked (damage
    // fsck reports) leaves it out rather than failing the status.
    let upstream = match dvx::sync::upstream::tracking(&ws) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("warning: cannot compare with the upstream branch: {e}");
            None
        }
    };
    if args.json {
        let mut json = JsonStatus::from(&status);
        json.upstream = upstream.as_ref().map(|t| JsonUpstream {
            name: &t.upstream,
            commit: t.upstream_commit.to_hex(),
            ahead: t.ahead,
            behind: t.behind,
        });
        outln!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print_text(&status, upstream.as_ref());
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct JsonChange<'a> {
    path: &'a str,
    status: &'static str,
    /// Only when true, so the shape of other changes stays as it was.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    mode_changed: bool,
}

#[derive(Serialize)]
struct JsonPin {
    state: &'static str,
    pinned: Option<String>,
    message: Option<String>,
}

/// The `--json` shape. Stable: fields are only ever added.
#[derive(Serialize)]
struct JsonStatus<'a> {
    branch: Option<&'a str>,
    head: Option<String>,
    clean: bool,
    staged: Vec<JsonChange<'a>>,
    unstaged: Vec<JsonChange<'a>>,
    not_fetched: Vec<&'a str>,
    not_ignored: Vec<&'a str>,
    pin: JsonPin,
    interrupted_checkout: Option<String>,
    upstream: Option<JsonUpstream<'a>>,
    /// With `core.fsmonitor` on: whether the file watcher was used; `null` when off.
    fsmonitor: Option<JsonWatch<'a>>,
}

/// The branch against its upstream (the default remote's branch of the same name).
#[derive(Serialize)]
struct JsonUpstream<'a> {
    name: &'a str,
    commit: String,
    ahead: usize,
    behind: usize,
}

#[derive(Serialize)]
struct JsonWatch<'a> {
    used: bool,
    /// Why every file was looked at instead.
    why_not: Option<&'a str>,
    /// How many paths the watcher named (when used).
    changed_paths: usize,
}

impl<'a> From<&'a WatchUse> for JsonWatch<'a> {
    fn from(w: &'a WatchUse) -> Self {
        JsonWatch {
            used: w.used,
            why_not: w.why_not.as_deref(),
            changed_paths: w.changed_paths,
        }
    }
}

fn changes(list: &[Change]) -> Vec<JsonChange<'_>> {
    list.iter()
        .map(|c| JsonChange {
            path: c.path.as_str(),
            status: c.kind.name(),
            mode_changed: c.mode_changed,
        })
        .collect()
}

impl<'a> From<&'a Status> for JsonStatus<'a> {
    fn from(s: &'a Status) -> Self {
        let pin = match &s.pin {
            PinState::NoGit => JsonPin {
                state: "no-git",
                pinned: None,
                message: None,
            },
            PinState::NoPin => JsonPin {
                state: "none",
                pinned: None,
                message: None,
            },
            PinState::Matches => JsonPin {
                state: "matches",
                pinned: s.head_commit.map(|c| c.to_hex()),
                message: None,
            },
            PinState::Differs { pinned, .. } => JsonPin {
                state: "differs",
                pinned: Some(pinned.to_hex()),
                message: None,
            },
            PinState::Unreadable(m) => JsonPin {
                state: "unreadable",
                pinned: None,
                message: Some(m.clone()),
            },
        };
        JsonStatus {
            branch: s.head.branch(),
            head: s.head_commit.map(|c| c.to_hex()),
            clean: s.is_clean(),
            staged: changes(&s.staged),
            unstaged: changes(&s.unstaged),
            not_fetched: s.not_fetched.iter().map(|p| p.as_str()).collect(),
            not_ignored: s.not_ignored.iter().map(|p| p.as_str()).collect(),
            pin,
            interrupted_checkout: s.interrupted_checkout.map(|c| c.to_hex()),
            upstream: None,
            fsmonitor: s.fsmonitor.as_ref().map(JsonWatch::from),
        }
    }
}

/// As `git status` says it.
fn print_upstream(t: &Tracking) {
    let commits = |n: usize| render::plural(n, "commit", "commits");
    let name = &t.upstream;
    match (t.ahead, t.behind) {
        (0, 0) => outln!("Your branch is up to date with '{name}'."),
        (ahead, 0) => {
            outln!("Your branch is ahead of '{name}' by {}.", commits(ahead));
            outln!("  (use \"dvx push\" to publish your local commits)");
        }
        (0, behind) => {
            outln!(
                "Your branch is behind '{name}' by {}, and can be fast-forwarded.",
                commits(behind)
            );
            outln!("  (use \"dvx pull\" to update your local branch)");
        }
        (ahead, behind) => {
            outln!("Your branch and '{name}' have diverged,");
            outln!("and have {ahead} and {behind} different commits each, respectively.");
            outln!("  (use \"dvx pull\" to merge the remote branch into yours)");
        }
    }
}

fn print_section(title: &str, list: &[Change]) {
    if list.is_empty() {
        return;
    }
    outln!("{title}");
    for c in list {
        outln!(
            "  {:<10}{}{}",
            format!("{}:", c.kind.name()),
            render::quote_path(c.path.as_str()),
            if c.mode_changed {
                " (mode changed)"
            } else {
                ""
            }
        );
    }
    outln!();
}

fn print_text(s: &Status, upstream: Option<&Tracking>) {
    match &s.head {
        Head::Branch(_) => outln!("On branch {}", s.head.branch().unwrap_or("?")),
        Head::Detached(id) => outln!("HEAD detached at {}", id.short()),
    }
    if let Some(t) = upstream {
        print_upstream(t);
    }
    if s.head_commit.is_none() {
        outln!("No commits yet");
    }
    outln!();
    if let Some(target) = s.interrupted_checkout {
        outln!(
            "A checkout of {} was interrupted; run `dvx checkout {}` to finish it.\n",
            target.short(),
            target.short()
        );
    }
    let (tracked_changes, new): (Vec<Change>, Vec<Change>) = s
        .unstaged
        .iter()
        .cloned()
        .partition(|c| c.kind != workspace::ChangeKind::New);
    print_section(
        "Changes staged for commit (dvx commit; dvx reset -- <path> to unstage):",
        &s.staged,
    );
    print_section(
        "Changes not staged (dvx add to stage, dvx checkout -- <path> to discard):",
        &tracked_changes,
    );
    print_section(
        "New files under tracked directories (dvx add to track):",
        &new,
    );
    if !s.not_fetched.is_empty() {
        outln!("Not fetched (tracked, bytes not in the work tree):");
        for p in s.not_fetched.iter().take(20) {
            outln!("  {}", render::quote_path(p.as_str()));
        }
        if s.not_fetched.len() > 20 {
            outln!("  ... and {} more", s.not_fetched.len() - 20);
        }
        outln!();
    }
    if s.is_clean() {
        outln!("nothing to commit, the work tree matches the stage");
    }
    for p in &s.not_ignored {
        let p = render::quote_path(p.as_str());
        eprintln!(
            "warning: git does not ignore the tracked path {p}; its bytes could be committed to git (`dvx add {p}` puts back its .gitignore entry)"
        );
    }
    match &s.pin {
        // A fresh `git clone`: nothing is checked out yet, and a pull starts from the pin.
        PinState::Differs { pinned, head: None } => eprintln!(
            "warning: dvx.lock pins {} but the data is at no commit\nhint: run `dvx pull` to check it out with its data (`dvx pull --lazy`: without the bytes)",
            pinned.short(),
        ),
        PinState::Differs {
            pinned,
            head: Some(head),
        } => eprintln!(
            "warning: dvx.lock pins {} but the data is at {}\nhint: run `dvx checkout --git HEAD` to follow the code (`dvx fetch` first if the commit is not here), or `dvx commit` to pin the current data",
            pinned.short(),
            head.short()
        ),
        PinState::Unreadable(m) => eprintln!("warning: {m}"),
        _ => {}
    }
}
