//! Telling the user that `dvx.lock` moved, and what to `git add`.
//!
//! Commands that move HEAD on the user's behalf (`commit`, `checkout <rev>`, `merge`)
//! re-point the pin (the library does, last, under the lock); this says so.

use anyhow::Result;
use dvx::workspace::Workspace;

use super::Ctx;

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
