//! `dvx cat`

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use dvx::history::diff;
use dvx::store::ObjectSource;
use dvx::workspace::{self, resolve_path};

use super::hint::Hinted;
use super::{Ctx, output, rev};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Read the file as of this revision (default: what is checked out).
    #[arg(long, value_name = "REV")]
    rev: Option<String>,
    /// The tracked file to print.
    path: PathBuf,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let ws = ctx.open()?;
    let objects = ws.repo().store();
    let path = resolve_path(ws.root(), &ctx.cwd, &args.path)?;
    let item = match &args.rev {
        Some(rev) => {
            let commit = rev::resolve(ws.repo(), rev)?;
            let tree = objects.read_commit(&commit)?.tree;
            diff::lookup(objects, tree, &path)?.ok_or_else(|| dvx::history::Error::NoSuchPath {
                path: path.to_string(),
                rev: rev.clone(),
            })?
        }
        None => workspace::tracked_item(&ws.load_index()?, objects, &path)?,
    };
    if item.is_dir() {
        return Err(Hinted::new(
            format!("'{path}' is a directory"),
            format!("list it with `dvx ls {path}`"),
        )
        .into());
    }
    let id = item.id.expect("files have ids");
    // Bytes that are not local are read from the default remote, when one is
    // configured, and streamed without being stored: nothing is checked out.
    let remote = ctx.remote_source(&ws)?;
    let source: &dyn ObjectSource = match &remote {
        Some(remote) => remote,
        None => objects,
    };
    // Checked against the id before anything is printed: a damaged object is an error
    // naming it and the path, and nothing reaches standard output.
    let mut file = source.open(&id).map_err(|e| match e {
        dvx::store::Error::Missing { .. } => anyhow::Error::from(Hinted::new(
            format!(
                "the bytes of '{path}' ({}) are not in the local store",
                id.short()
            ),
            // With a remote configured the source would have fetched them: there is none.
            "no remote is configured to fetch them from: add the one that holds them (`dvx remote add <name> <url>`), or read the file in a clone that has its bytes",
        )),
        other => anyhow::Error::from(other).context(format!("cannot print '{path}'")),
    })?;
    match io::copy(&mut file, &mut output::Stdout) {
        Ok(_) => Ok(ExitCode::SUCCESS),
        // `main` reports a failure to write (quietly for a closed pipe).
        Err(_) if output::has_failed() => Ok(ExitCode::SUCCESS),
        Err(e) => Err(anyhow::Error::from(e).context(format!("cannot read the bytes of '{path}'"))),
    }
}
