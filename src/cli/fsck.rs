//! `dvx fsck`

use std::process::ExitCode;

use anyhow::Result;
use dvx::history::fsck;
use dvx::history::reach::Missing;
use dvx::lazy::check;
use dvx::store::ObjectSource;
use dvx::workspace::Workspace;
use serde::Serialize;

use super::Ctx;
use super::render;
use super::transfer::JsonSourceTransfer;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Check the default remote instead (or the one named with `--remote=NAME`): that it
    /// holds every object the local refs reach, and that its packs, pack indexes and
    /// large objects are sound (everything on it is read).
    #[arg(
        long,
        value_name = "NAME",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = ""
    )]
    remote: Option<String>,
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
    /// Blobs absent from the local store that the configured remote may provide.
    not_local: Vec<JsonProblem>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let ws = ctx.open()?;
    if let Some(name) = &args.remote {
        let name = Some(name.as_str()).filter(|n| !n.is_empty());
        return remote(ctx, &ws, name, args.json);
    }
    let bars = ctx.progress();
    // With a remote configured, absent blobs are only not local (nothing is sent).
    let remote = ctx.remote_source(&ws)?;
    let objects: &dyn ObjectSource = match &remote {
        Some(remote) => remote,
        None => ws.repo().store(),
    };
    let report = fsck::fsck(ws.repo(), objects, &bars)?;
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
            missing: report.missing.iter().map(json_missing).collect(),
            problems: report.problems.clone(),
            not_local: report.not_local.iter().map(json_missing).collect(),
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
            let not_local = match (&remote, report.not_local.len()) {
                (Some(remote), n) if n > 0 => format!(
                    "; {} not local (remote '{}' may have them: dvx pull, or dvx fsck --remote to check)",
                    render::plural(n, "blob is", "blobs are"),
                    remote.name()
                ),
                _ => String::new(),
            };
            outln!(
                "checked {} objects: no problems{not_local}",
                report.objects_checked
            );
        }
    } else {
        eprintln!(
            "error: fsck found {} problem(s)\nhint: restore the named objects from another copy of the repository (`dvx add` of a good copy of a named file also puts its bytes back); `dvx gc` never deletes reachable objects",
            report.corrupt.len() + report.missing.len() + report.problems.len()
        );
    }
    Ok(code)
}

fn json_missing(m: &Missing) -> JsonProblem {
    JsonProblem {
        id: m.id.to_hex(),
        kind: m.kind,
        problem: m.problem.clone(),
        via: Some(m.via.clone()),
        paths: m.paths.iter().map(|p| p.to_string()).collect(),
    }
}

#[derive(Serialize)]
struct JsonAbsent {
    id: String,
    kind: &'static str,
}

#[derive(Serialize)]
struct JsonRemoteFsck {
    ok: bool,
    remote: String,
    url: String,
    pack_indexes: usize,
    packs: usize,
    packed_objects: usize,
    large_objects: usize,
    bytes_checked: u64,
    leftover_packs: usize,
    wanted: usize,
    absent: Vec<JsonAbsent>,
    damaged: Vec<String>,
    transfer: JsonSourceTransfer,
}

/// `fsck --remote`: read and check everything on the remote, and that it holds what the
/// local refs reach.
fn remote(ctx: &Ctx, ws: &Workspace, name: Option<&str>, json: bool) -> Result<ExitCode> {
    let source = ctx.remote_named(ws, name)?;
    let bars = ctx.progress();
    let checked = check::check_remote(ws, &source, &bars)?;
    let r = &checked.report;
    let code = if checked.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    };
    if json {
        let out = JsonRemoteFsck {
            ok: checked.is_clean(),
            remote: source.name().to_owned(),
            url: source.url().to_owned(),
            pack_indexes: r.indexes,
            packs: r.packs,
            packed_objects: r.packed_objects,
            large_objects: r.large_objects,
            bytes_checked: r.bytes_checked,
            leftover_packs: r.leftover_packs,
            wanted: r.wanted,
            absent: checked
                .absent
                .iter()
                .map(|(kind, id)| JsonAbsent {
                    id: id.to_hex(),
                    kind,
                })
                .collect(),
            damaged: r.damaged.clone(),
            transfer: JsonSourceTransfer::of(&source),
        };
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(code);
    }
    for line in &r.damaged {
        outln!("damaged: {line}");
    }
    for (kind, id) in &checked.absent {
        outln!("not on remote: {kind} {id}");
    }
    if !ctx.quiet || !checked.is_clean() {
        outln!(
            "checked remote '{}' ({}): {}, {} ({} objects), {}; {} read ({})",
            source.name(),
            source.url(),
            render::plural(r.indexes, "pack index", "pack indexes"),
            render::plural(r.packs, "pack", "packs"),
            r.packed_objects,
            render::plural(r.large_objects, "large object", "large objects"),
            render::size(r.bytes_checked),
            render::transfer(&source.stats())
        );
        if r.leftover_packs > 0 {
            outln!(
                "{} without an index (left by an interrupted upload; ignored)",
                render::plural(r.leftover_packs, "pack", "packs")
            );
        }
        outln!(
            "{} that local refs reach: {}",
            render::plural(r.wanted, "object", "objects"),
            if checked.absent.is_empty() && r.damaged.is_empty() {
                "all on the remote".to_owned()
            } else if checked.absent.is_empty() {
                "all listed by the remote (some where it is damaged, above)".to_owned()
            } else {
                format!("{} missing from the remote", checked.absent.len())
            }
        );
    }
    if !checked.is_clean() {
        eprintln!(
            "error: remote '{}' has {} problem(s)\nhint: delete what is damaged from the remote (a pack with its .idx, a large object, a ref file), then run `dvx push --repair --all --tags` from a clone that has the objects: it sends whatever the remote lacks",
            source.name(),
            r.damaged.len() + checked.absent.len()
        );
    }
    Ok(code)
}
