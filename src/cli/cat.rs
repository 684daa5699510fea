//! `dvx cat`

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use dvx::hash::ObjectId;
use dvx::history::diff;
use dvx::object::EntryKind;
use dvx::workspace::resolve_path;

use super::hint::{self, Hinted};
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
    let store = ws.repo().store();
    let path = resolve_path(ws.root(), &ctx.cwd, &args.path)?;
    let (id, kind) = match &args.rev {
        Some(rev) => {
            let commit = rev::resolve(ws.repo(), rev)?;
            let tree = store.read_commit(&commit)?.tree;
            let item = diff::lookup(store, tree, &path)?.ok_or_else(|| {
                dvx::history::Error::NoSuchPath {
                    path: path.to_string(),
                    rev: rev.clone(),
                }
            })?;
            (item.id.expect("stored items have ids"), item.kind)
        }
        None => {
            let index = ws.load_index()?;
            match index.tree_entry_covering(&path) {
                Some(cover) if cover.path != path => {
                    let rel = path
                        .strip_dir(&cover.path)
                        .expect("covered paths lie below");
                    let rel = dvx::path::RepoPath::new(rel)?;
                    let item = diff::lookup(store, cover.id, &rel)?
                        .ok_or_else(|| dvx::workspace::Error::NotTracked { path: path.clone() })?;
                    (item.id.expect("stored items have ids"), item.kind)
                }
                _ if index.get(&path).is_none() && index.has_under(&path) => {
                    // A directory of the index: no entry of its own, entries below.
                    (ObjectId::of(b""), EntryKind::Dir)
                }
                _ => {
                    let e = index
                        .get(&path)
                        .ok_or_else(|| dvx::workspace::Error::NotTracked { path: path.clone() })?;
                    let kind = match e.kind {
                        dvx::index::Kind::File => EntryKind::File,
                        dvx::index::Kind::Symlink => EntryKind::Symlink,
                        dvx::index::Kind::Tree => EntryKind::Dir,
                    };
                    (e.id, kind)
                }
            }
        }
    };
    if kind == EntryKind::Dir {
        return Err(Hinted::new(
            format!("'{path}' is a directory"),
            format!("list it with `dvx ls {path}`"),
        )
        .into());
    }
    // Checked against the id before anything is printed: a damaged object is an error
    // naming it and the path, and nothing reaches standard output.
    let mut file = store.open_verified(&id).map_err(|e| match e {
        dvx::store::Error::Missing { .. } => anyhow::Error::from(Hinted::new(
            format!(
                "the bytes of '{path}' ({}) are not in the local store",
                id.short()
            ),
            format!(
                "read the file in a clone that has its bytes, or {}",
                hint::BRING_OBJECTS
            ),
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
