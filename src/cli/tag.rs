//! `dvx tag`

use std::process::ExitCode;

use anyhow::Result;
use dvx::history::tag;
use serde::Serialize;

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
    if args.names.is_empty() {
        let ws = ctx.open()?;
        let tags = tag::list(ws.repo())?;
        if args.json {
            let out: Vec<JsonTag> = tags
                .into_iter()
                .map(|(name, id)| JsonTag {
                    name,
                    commit: id.to_hex(),
                })
                .collect();
            outln!("{}", serde_json::to_string_pretty(&out)?);
        } else {
            for (name, _) in tags {
                outln!("{name}");
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let ws = ctx.open_plain()?;
    let name = &args.names[0];
    let who = ctx.signature(&ws)?;
    if args.delete {
        let lock = ctx.lock_following(&ws)?;
        let id = tag::delete(ws.repo(), &lock, name, &who)?;
        if !ctx.quiet {
            outln!("deleted tag {name} (was {})", id.short());
        }
        return Ok(ExitCode::SUCCESS);
    }
    dvx::refs::validate_name(name, "tag")?;
    let rev = args.names.get(1).map(String::as_str).unwrap_or("HEAD");
    let target = rev::resolve(ws.repo(), rev)?;
    let lock = ctx.lock_following(&ws)?;
    tag::create(
        ws.repo(),
        &lock,
        name,
        target,
        args.force,
        &who,
        &format!("tag: {rev}"),
    )?;
    if !ctx.quiet {
        outln!("tagged {} as {name}", target.short());
    }
    Ok(ExitCode::SUCCESS)
}
