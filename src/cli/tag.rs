//! `dvx tag`

use std::process::ExitCode;

use anyhow::Result;
use dvx::refs::{self, Expected, TAGS};
use serde::Serialize;

use super::hint::Hinted;
use super::{Ctx, rev};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Delete the tag.
    #[arg(short = 'd', long = "delete")]
    delete: bool,
    /// Move an existing tag (tags never move otherwise).
    #[arg(short, long)]
    force: bool,
    /// Print the list as JSON.
    #[arg(long)]
    json: bool,
    /// `NAME [REV]` to create, `NAME` to delete.
    #[arg(num_args = 0..=2, value_name = "NAME")]
    names: Vec<String>,
}

#[derive(Serialize)]
struct JsonTag {
    name: String,
    commit: String,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let ws = ctx.open()?;
    let refs = ws.repo().refs();
    if args.names.is_empty() {
        let tags = refs.list(TAGS)?;
        if args.json {
            let out: Vec<JsonTag> = tags
                .iter()
                .map(|(n, id)| JsonTag {
                    name: n.trim_start_matches(TAGS).to_owned(),
                    commit: id.to_hex(),
                })
                .collect();
            outln!("{}", serde_json::to_string_pretty(&out)?);
        } else {
            for (name, _) in tags {
                outln!("{}", name.trim_start_matches(TAGS));
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let name = &args.names[0];
    let full = format!("{TAGS}{name}");
    let who = ctx.signature(&ws)?;
    if args.delete {
        let _lock = ws.repo().lock()?;
        let Some(id) = refs.get(&full)? else {
            return Err(
                Hinted::new(format!("no tag named '{name}'"), "`dvx tag` lists tags").into(),
            );
        };
        refs.update(&full, Expected::Is(id), None, &who, "tag: deleted")?;
        if !ctx.quiet {
            outln!("deleted tag {name} (was {})", id.short());
        }
        return Ok(ExitCode::SUCCESS);
    }
    refs::validate_name(name, "tag")?;
    let rev = args.names.get(1).map(String::as_str).unwrap_or("HEAD");
    let target = rev::resolve(ws.repo(), rev)?;
    let _lock = ws.repo().lock()?;
    let existing = refs.get(&full)?;
    if let Some(old) = existing
        && !args.force
    {
        return Err(Hinted::new(
            format!("tag '{name}' already exists (at {})", old.short()),
            "tags do not move; pick another name, or pass --force to move it",
        )
        .into());
    }
    let expected = existing.map(Expected::Is).unwrap_or(Expected::Absent);
    refs.update(&full, expected, Some(target), &who, &format!("tag: {rev}"))?;
    if !ctx.quiet {
        outln!("tagged {} as {name}", target.short());
    }
    Ok(ExitCode::SUCCESS)
}
