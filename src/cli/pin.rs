//! Keeping `dvx.lock` on the data version the work tree has.
//!
//! Commands that move HEAD on the user's behalf (`commit`, `checkout <rev>`, `merge`)
//! re-point the pin, so `dvx.lock` always names what `git commit` should record. A
//! checkout made to follow the pin (`checkout --git`, the hooks) never rewrites it.

use anyhow::Result;
use dvx::git::pin::Pin;
use dvx::workspace::Workspace;

use super::Ctx;

/// Write `dvx.lock` for HEAD's commit and branch. Returns whether the file changed;
/// `false` without git integration or without a commit.
pub fn repin(ws: &Workspace) -> Result<bool> {
    if ws.git().is_none() {
        return Ok(false);
    }
    let refs = ws.repo().refs();
    let Some(commit) = refs.head_commit()? else {
        return Ok(false);
    };
    let branch = refs.read_head()?.branch().map(str::to_owned);
    Ok(Pin { commit, branch }.write(ws.root())?)
}

/// Tell the user the pin moved (and what to stage), unless quiet.
pub fn announce(ctx: &Ctx, ws: &Workspace, changed: bool) -> Result<()> {
    if !changed || ctx.quiet {
        return Ok(());
    }
    let files = match ws.git() {
        Some(git) => git.files_to_stage()?,
        None => return Ok(()),
    };
    if !files.is_empty() {
        outln!(
            "dvx.lock now pins this data; record it with: git add {}",
            files.join(" ")
        );
    }
    Ok(())
}
