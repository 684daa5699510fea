//! Telling the user that dvx followed git onto a branch, or why it could not.

use dvx::flow::{Blocked, Following};

use super::Ctx;

/// A note when dvx went to git's branch (unless quiet); a warning, always, when it could
/// not.
pub fn announce(ctx: &Ctx, followed: &Following) {
    match followed {
        Following::Unchanged => {}
        Following::Switched { branch, created } => {
            if !ctx.quiet {
                let how = match created {
                    None => String::new(),
                    Some(Some(at)) => format!(" (created at {})", at.short()),
                    Some(None) => " (no commits yet)".to_owned(),
                };
                eprintln!("dvx: now on branch '{branch}', as git is{how}");
            }
        }
        Following::Blocked {
            git_branch,
            dvx_branch,
            why,
        } => {
            let here = match dvx_branch {
                Some(b) => format!("branch '{b}'"),
                None => "a detached HEAD".to_owned(),
            };
            eprintln!("warning: git is on branch '{git_branch}', but dvx stays on {here}: {why}");
            eprintln!("hint: {}", blocked_hint(why));
        }
    }
}

/// What to do when dvx cannot follow git onto a branch.
pub fn blocked_hint(why: &Blocked) -> String {
    match why {
        Blocked::AtAnotherCommit { branch, .. } => format!(
            "`dvx checkout {branch}` brings that branch's data, `dvx checkout --git HEAD` the data the code pins; until then dvx commit and dvx merge refuse"
        ),
        Blocked::CheckedOutElsewhere { worktree, .. } => format!(
            "switch that work tree to another branch (dvx -C {} checkout <other-branch>), or start a branch of your own here: dvx checkout -b <new-branch>",
            worktree.display()
        ),
        Blocked::InvalidName(_) => {
            "start a branch of your own here: dvx checkout -b <new-branch>".to_owned()
        }
    }
}
