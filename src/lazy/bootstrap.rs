//! A fresh clone's first pull: the history of the pinned commit, then a lazy checkout.
//!
//! A `git clone` brings `dvx.lock` and the remote's settings (`.dvx/config.toml`), and
//! no dvx history. A pull of some paths there first needs a checked-out commit: the one
//! `dvx.lock` pins. The remote is fetched as `dvx fetch` does it (`sync::fetch`: its
//! branches, tags and the pinned commit's history; never file contents) and the pinned
//! commit is checked out lazily, as `dvx checkout --git HEAD --lazy` would, so every
//! path is "not fetched" until something pulls it. A repository with a commit checked
//! out is left as it is. A plain `dvx pull` there makes every path of the pinned commit
//! local (see [`awaits_pin`]), as `git clone` + `dvc pull` does.

use super::Error;
use crate::flow::pin::switch_to_pin;
use crate::flow::{SwitchOptions, Switched};
use crate::git::pin::Pin;
use crate::object::Signature;
use crate::progress::Progress;
use crate::remote::RemoteSource;
use crate::repo::RepoLock;
use crate::store::ObjectSource;
use crate::sync::Connected;
use crate::sync::fetch::{self, FetchOptions, FetchReport};
use crate::workspace::{CheckoutMode, Workspace};

/// What bootstrapping did.
#[derive(Debug)]
pub struct Bootstrapped {
    /// The fetch that brought the pinned commit's history (`None` when it was local).
    pub fetched: Option<FetchReport>,
    /// The lazy checkout of the pinned commit.
    pub switched: Switched,
}

/// When no commit is checked out, fetch the history of the commit `dvx.lock` pins from
/// `source`'s remote (if it is not local) and check it out lazily; else nothing.
pub fn ensure_checked_out(
    ws: &Workspace,
    lock: &RepoLock,
    source: &RemoteSource,
    who: &Signature,
    progress: &dyn Progress,
) -> Result<Option<Box<Bootstrapped>>, Error> {
    let repo = ws.repo();
    if has_commit(ws)? {
        return Ok(None);
    }
    let Some(pin) = git_pin(ws)? else {
        return Err(Error::NothingCheckedOut);
    };
    let mut fetched = None;
    if !repo.store().contains(&pin.commit) {
        let connected = Connected {
            name: source.name().to_owned(),
            remote: source.remote()?,
        };
        let options = FetchOptions {
            force: false,
            who: who.clone(),
        };
        fetched = Some(fetch::fetch(ws, lock, &connected, &options, progress)?);
        if !source.has(&pin.commit) {
            return Err(Error::PinNotOnRemote {
                commit: pin.commit,
                remote: source.name().to_owned(),
            });
        }
    }
    let options = SwitchOptions {
        mode: CheckoutMode::Lazy,
        force: false,
        who: who.clone(),
        objects: source,
    };
    let switched = switch_to_pin(ws, lock, &pin, &options, progress)?;
    Ok(Some(Box::new(Bootstrapped { fetched, switched })))
}

/// Whether a pull starts from `dvx.lock`'s pin: no commit is checked out here and the
/// git work tree's `dvx.lock` pins one (a fresh `git clone`). Its data is then the
/// pinned commit's, as `git clone` + `dvc pull` gives the data the code names, not
/// whatever the remote's branch holds now.
pub fn awaits_pin(ws: &Workspace) -> Result<bool, Error> {
    Ok(!has_commit(ws)? && git_pin(ws)?.is_some())
}

fn has_commit(ws: &Workspace) -> Result<bool, Error> {
    let head = ws.repo().refs().head_commit();
    Ok(head.map_err(crate::history::Error::from)?.is_some())
}

/// What the git work tree's `dvx.lock` pins (`None` outside git or without one).
fn git_pin(ws: &Workspace) -> Result<Option<Pin>, Error> {
    Ok(match ws.git() {
        Some(_) => Pin::read(ws.root())?,
        None => None,
    })
}
