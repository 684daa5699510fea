//! Turning errors into one line of what went wrong, a hint, and an exit code.
//!
//! The library's errors say what and where; the hint (the next step to take) is chosen
//! here, from the most specific error in the chain.

use std::io;

use dvx::atomic::LockError;
use dvx::remote::{self, transfer};
use dvx::{flow, gc, git, history, index, lazy, lineage, refs, repo, store, sync, workspace};

/// How to get objects made in another clone, for hints about missing data: that clone
/// pushes them, this one fetches (history) or pulls (history and bytes).
pub const BRING_OBJECTS: &str = "push it from the clone that made it (dvx push), then run `dvx fetch` here (`dvx pull` also brings the files' bytes)";

/// How to add a remote, for hints (one wording wherever no remote is configured).
const ADD_REMOTE: &str = "add one with `dvx remote add <name> <url>`";
/// How to give a repository with several remotes a default.
const MAKE_DEFAULT: &str = "make one the default with `dvx remote default <name>`";

/// What to do after a remote ref moved under a push (one wording for "fetch first").
fn fetch_first(remote: &str, branch: &str) -> String {
    format!(
        "run `dvx fetch {remote}` and merge (`dvx merge {remote}/{branch}`, or `dvx pull {remote}`), then push again"
    )
}

/// An error raised by the CLI itself, with its hint.
#[derive(Debug)]
pub struct Hinted {
    message: String,
    hint: String,
    usage: bool,
}

impl Hinted {
    pub fn new(message: impl Into<String>, hint: impl Into<String>) -> Hinted {
        Hinted {
            message: message.into(),
            hint: hint.into(),
            usage: false,
        }
    }

    /// A mistake in how the command was called (exit code 2).
    pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> Hinted {
        Hinted {
            usage: true,
            ..Hinted::new(message, hint)
        }
    }
}

impl std::fmt::Display for Hinted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Hinted {}

/// Print `error: ...` and `hint: ...` to standard error.
pub fn report(err: &anyhow::Error) {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let text = cause.to_string();
        // Transparent wrappers repeat their source's text; print it once.
        if parts.last().is_none_or(|last| !last.ends_with(&text)) {
            parts.push(text);
        }
    }
    eprintln!("error: {}", parts.join(": "));
    if let Some(h) = hint(err) {
        eprintln!("hint: {h}");
    }
}

pub fn exit_code(err: &anyhow::Error) -> u8 {
    // Only the outermost error decides: a usage mistake is reported as such.
    match err.downcast_ref::<Hinted>() {
        Some(h) if h.usage => 2,
        _ => 1,
    }
}

fn hint(err: &anyhow::Error) -> Option<String> {
    // A hint attached with `.context(Hinted)` is found by downcasting the whole error.
    if let Some(h) = err.downcast_ref::<Hinted>() {
        return Some(h.hint.clone());
    }
    err.chain().find_map(|cause| {
        if let Some(h) = cause.downcast_ref::<Hinted>() {
            return Some(h.hint.clone());
        }
        if let Some(e) = cause.downcast_ref::<sync::Error>() {
            return sync_hint(e);
        }
        if let Some(e) = cause.downcast_ref::<lazy::Error>() {
            return lazy_hint(e);
        }
        if let Some(e) = cause.downcast_ref::<remote::Error>() {
            return remote_hint(e);
        }
        if let Some(e) = cause.downcast_ref::<lineage::Error>() {
            return lineage_hint(e);
        }
        if let Some(e) = cause.downcast_ref::<flow::Error>() {
            return flow_hint(e);
        }
        if let Some(e) = cause.downcast_ref::<workspace::Error>() {
            return workspace_hint(e);
        }
        if let Some(e) = cause.downcast_ref::<history::Error>() {
            return history_hint(e);
        }
        if let Some(e) = cause.downcast_ref::<gc::Error>() {
            return gc_hint(e);
        }
        if let Some(e) = cause.downcast_ref::<repo::Error>() {
            return repo_hint(e);
        }
        if let Some(e) = cause.downcast_ref::<store::Error>() {
            return store_hint(e);
        }
        if let Some(e) = cause.downcast_ref::<index::Error>() {
            return index_hint(e);
        }
        if let Some(e) = cause.downcast_ref::<refs::Error>() {
            return refs_hint(e);
        }
        if let Some(e) = cause.downcast_ref::<LockError>() {
            return lock_hint(e);
        }
        if let Some(e) = cause.downcast_ref::<git::Error>() {
            return git_hint(e);
        }
        if let Some(e) = cause.downcast_ref::<git::pin::Error>() {
            return pin_hint(e);
        }
        cause.downcast_ref::<io::Error>().and_then(io_hint)
    })
}

fn sync_hint(e: &sync::Error) -> Option<String> {
    use sync::Error as E;
    Some(match e {
        E::NoRemote => ADD_REMOTE.into(),
        E::NoDefaultRemote { .. } => {
            format!("name one (`dvx push <name>`, `dvx pull <name>`), or {MAKE_DEFAULT}")
        }
        E::UnknownRemote { known, .. } if known.is_empty() => ADD_REMOTE.into(),
        E::UnknownRemote { .. } => {
            "`dvx remote list` shows the remotes; `dvx remote add <name> <url>` adds one".into()
        }
        E::RemoteExists(name) => format!(
            "pick another name, or change its URL with `dvx remote set {name} url <url>`"
        ),
        E::UnknownSetting { .. } => "see `dvx remote set --help` for what each setting does".into(),
        E::SecretNotLocal { remote, key } => format!(
            "add --local: dvx remote set {remote} {key} <value> --local (or set it in the environment)"
        ),
        E::BadSetting { key, .. } if key == "endpoint" => format!("give {ENDPOINT_FORM} or https://s3.example.com; credentials go in with --local (dvx remote set <name> <key> <value> --local) or the environment"),
        E::BadSetting { key, .. } if key == "url" => URL_FORMS.into(),
        E::BadSetting { .. } => "give a value of the kind the setting takes".into(),
        E::RemoteInWorkTree { .. } => "choose a directory outside the work tree (such as ../<name>-store): inside it, the remote's files would show up as untracked files of the repository".into(),
        E::RemoteOnlyLocal { remote, key } => {
            format!("add --local: dvx remote set {remote} {key} <value> --local")
        }
        E::Rejected {
            kind, name, remote, ..
        } => match kind {
            remote::RefKind::Branch => fetch_first(remote, name),
            remote::RefKind::Tag => "run `dvx fetch` to see the remote's tags".into(),
        },
        E::TagMoved { .. } => {
            "tags never move on a remote; tag the commit under a new name and push that".into()
        }
        E::Detached {
            needed_by: sync::BranchFor::Push,
        } => {
            "name what to push (dvx push <remote> <branch or tag>), or check a branch out first (dvx checkout <branch>)".into()
        }
        E::Detached { .. } => "check a branch out first (dvx checkout <branch>)".into(),
        E::Unborn(_) => {
            "make the first commit with `dvx add <paths>` and `dvx commit -m <message>`".into()
        }
        E::NoSuchRef(_) => "`dvx branch` and `dvx tag` list what exists".into(),
        E::NotOnRemote { .. } => {
            "check the name; `dvx fetch` lists the remote's branches and tags".into()
        }
        // The hint is the cause's, next in the chain.
        E::AfterFetch { .. } => return None,
        E::FileNotOnRemote { .. } => {
            "push those files' data from the clone that has it (dvx push there), then pull again".into()
        }
        E::BytesMissing { .. } => {
            "push from the clone that has those files' bytes, or restore them there with `dvx add`; nothing was changed on the remote".into()
        }
        E::DanglingRef { .. } => {
            "the remote is damaged: push that branch again from a clone that has the commit; nothing was changed here".into()
        }
        E::NoUpstream { remote, .. } => format!(
            "publish the branch (dvx push {remote}), start from one the remote has (dvx checkout -b <branch> {remote}/<branch>), or in a git clone check out the data the code pins (dvx checkout --git HEAD); then pull again"
        ),
        E::NoIdentity => {
            "set DVX_AUTHOR='Name <email>', or `git config --global user.name` and user.email"
                .into()
        }
        E::CloneTarget { .. } => "choose a new directory, or an empty one".into(),
        E::PinnedNotAnywhere { .. } => format!(
            "the pushed code would name data nobody can fetch; {BRING_OBJECTS}, or skip this check with `git push --no-verify`"
        ),
        E::Remote(e) => return remote_hint(e),
        E::Flow(e) => return flow_hint(e),
        E::Workspace(e) => return workspace_hint(e),
        E::History(e) => return history_hint(e),
        E::Repo(e) => return repo_hint(e),
        E::Refs(e) => return refs_hint(e),
        E::Store(e) => return store_hint(e),
        E::Git(e) => return git_hint(e),
        E::Pin(e) => return pin_hint(e),
    })
}

fn remote_hint(e: &remote::Error) -> Option<String> {
    use remote::Error as E;
    use remote::settings::Error as S;
    Some(match e {
        E::Url(u) => url_hint(u),
        E::Settings(S::SecretInTracked { .. }) => "move them to .dvx/config.local.toml (dvx remote set <name> <key> <value> --local), remove them from .dvx/config.toml, and change those credentials if that file was ever committed".into(),
        E::Settings(S::NoSuchRemote { .. }) => "`dvx remote list` shows the remotes".into(),
        E::Settings(S::NoUrl { name }) => format!("give it one: dvx remote set {name} url <url>"),
        E::Settings(S::BadValue { remote, key, .. }) => {
            format!("fix it: dvx remote set {remote} {key} <value>")
        }
        E::Settings(S::Url(u)) => format!("{}; fix it: dvx remote set <name> url <url>", url_hint(u)),
        E::Settings(S::BadEndpoint { remote, file, .. }) => format!(
            "fix it: dvx remote set {remote} endpoint <url>{} ({ENDPOINT_FORM})",
            if file.ends_with("local.toml") { " --local" } else { "" }
        ),
        E::Backend(b) => backend_hint(b),
        E::Manifest(remote::layout::ManifestError::Newer { .. }) => {
            "upgrade dvx to use this remote".into()
        }
        E::Manifest(_) => "the remote's dvx-remote.toml is damaged; fix it by hand (docs/format.md, Remote layout)".into(),
        E::NotInitialised { .. } => "check the URL (`dvx remote list`); an empty remote becomes a dvx remote with `dvx push`".into(),
        E::NotADvxRemote { .. } => "only an empty location becomes a dvx remote: check the URL, or choose an empty directory, bucket or prefix; if it is a dvx remote whose dvx-remote.toml was deleted, restore that file (docs/format.md, Remote layout), then run `dvx fsck --remote`".into(),
        E::Refs(remote::refs::Error::Moved { .. }) => {
            "another push moved it first: run `dvx fetch`, merge what it brought, then try again".into()
        }
        E::Refs(remote::refs::Error::Corrupt { .. }) => {
            "the remote is damaged; fix or remove that ref file on the remote".into()
        }
        E::Refs(remote::refs::Error::Name(e)) => return refs_hint(e),
        E::Refs(remote::refs::Error::SeqLikeName { .. }) => {
            "pick a name with no component of 20 digits".into()
        }
        E::Refs(remote::refs::Error::Backend(b)) => backend_hint(b),
        E::Transfer(e) => return transfer_hint(e),
        E::Runtime(_) => "the system is short of threads or memory; try again".into(),
        E::NoRemote => ADD_REMOTE.into(),
        E::NoDefaultRemote { .. } => {
            format!("{MAKE_DEFAULT}, or name one with --remote=<name> where the command takes it")
        }
        E::UnknownRemote { known, .. } if known.is_empty() => ADD_REMOTE.into(),
        E::UnknownRemote { .. } => {
            "`dvx remote list` shows the remotes; `dvx remote add <name> <url>` adds one".into()
        }
        E::Config(e) => return repo_hint(e),
        E::HostileTree { .. } => {
            "dvx never writes such a path; check who writes to that remote (and run `dvx fsck --remote`)".into()
        }
    })
}

/// What an endpoint must be, for hints.
const ENDPOINT_FORM: &str = "an absolute URL such as http://127.0.0.1:9000";

/// The accepted forms of a remote URL, for hints.
const URL_FORMS: &str = "a remote is a directory (/srv/dvx, or ./relative), file:///path, s3://bucket/prefix, gs://bucket/prefix or az://container/prefix";

fn url_hint(e: &remote::url::Error) -> String {
    use remote::url::Error as U;
    match e {
        U::NotAUrl { .. } => {
            format!("{URL_FORMS}; a relative directory whose name has a colon is written ./name")
        }
        U::Tilde { .. } => {
            "let the shell expand it: write ~/path without quotes, or $HOME/path".into()
        }
        U::Decorated { .. } => format!(
            "{URL_FORMS}; credentials belong in .dvx/config.local.toml (dvx remote set <name> <key> <value> --local) or the environment"
        ),
        _ => URL_FORMS.into(),
    }
}

/// Where a kind of remote takes its endpoint, for hints about reaching it.
fn endpoint_settings(kind: remote::Kind) -> &'static str {
    match kind {
        remote::Kind::S3 => {
            "the endpoint (dvx remote set <name> endpoint <url>, or AWS_ENDPOINT_URL)"
        }
        remote::Kind::Gcs => {
            "the endpoint (dvx remote set <name> endpoint <url>, or GOOGLE_BASE_URL)"
        }
        remote::Kind::Azure => {
            "the account and endpoint (dvx remote set <name> account <account> or endpoint <url>, or AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ENDPOINT)"
        }
        remote::Kind::Directory => "that the directory's file system is mounted",
    }
}

/// Naming an Azure storage account, for hints.
const AZURE_ACCOUNT: &str = "name the storage account: AZURE_STORAGE_ACCOUNT_NAME=<account> in the environment, or `dvx remote set <name> account <account>` for a configured remote";

/// What a remote that answered oddly to a read of an object it should hold means.
const REMOTE_DAMAGED: &str = "the remote's copy is damaged, and nothing bad was stored; run `dvx fsck --remote` to list the damage";

fn backend_hint(e: &remote::backend::Error) -> String {
    use remote::Kind;
    use remote::backend::{EndpointFrom, Error as B, Failure as F};
    match e {
        B::Unreachable { kind, .. } => format!(
            "check the URL, {} and the network, then run the command again",
            endpoint_settings(*kind)
        ),
        B::Denied { .. } => "check the credentials: the AWS_*, GOOGLE_* or AZURE_* environment variables, your cloud profile, or `dvx remote set <name> <key> <value> --local`".into(),
        B::NoDirectory { .. } => "create the directory, or point the remote elsewhere (dvx remote set <name> url <path>)".into(),
        B::NotADirectory { .. } => "a directory remote must be a directory: choose another path, a new or empty directory".into(),
        B::BadEndpoint { from, .. } => match from {
            EndpointFrom::Setting => {
                format!("fix it: dvx remote set <name> endpoint <url> ({ENDPOINT_FORM})")
            }
            EndpointFrom::Variable(name) => format!(
                "fix or unset {name}: it must be {ENDPOINT_FORM}"
            ),
            EndpointFrom::Profile => format!(
                "fix endpoint_url in the AWS profile (~/.aws/config): it must be {ENDPOINT_FORM}"
            ),
        },
        B::NoConditionalCreate { .. } => "use a store that refuses a second create of a key (S3, GCS, Azure, a local directory, MinIO…)".into(),
        B::Build { failure: F::NoAccount, .. } | B::Store { failure: F::NoAccount, .. } => AZURE_ACCOUNT.into(),
        B::Build { .. } | B::Profile { .. } => {
            "check the remote's settings (`dvx remote list`) and the cloud environment variables".into()
        }
        B::Store { failure: F::HttpRefused, kind, .. } => format!(
            "the endpoint is plain http://: allow it with `dvx remote set <name> allow_http true`{}, or use https://",
            if *kind == Kind::S3 { " (or AWS_ALLOW_HTTP=true in the environment)" } else { "" }
        ),
        B::Store { failure: F::Busy, .. } => "the server is busy or unavailable (it kept answering 503 through the retries); wait a little, then run the command again".into(),
        B::Store { failure: F::BadRange, .. } => REMOTE_DAMAGED.into(),
        B::Store { kind: Kind::Directory, .. } => "check the remote's directory and its permissions (`dvx remote list` shows the URL)".into(),
        B::Store { .. } => "check that the bucket or container exists and that the URL names it (`dvx remote list`)".into(),
    }
}

/// A backend error met reading an object the remote's indexes name: a missing key or
/// a short object is damage there, not a missing bucket.
fn object_read_hint(e: &remote::backend::Error) -> String {
    use remote::backend::{Error as B, Failure as F};
    match e {
        B::Store {
            failure: F::NotFound | F::BadRange,
            ..
        } => REMOTE_DAMAGED.into(),
        other => backend_hint(other),
    }
}

fn flow_hint(e: &flow::Error) -> Option<String> {
    use flow::Error as E;
    Some(match e {
        E::NoGit { what } => format!(
            "use {what} in a dvx repository inside a git work tree (one created without --no-git)"
        ),
        E::NoPin { .. } => {
            "that git commit was made before dvx pinned any data; pick a later one".into()
        }
        E::PinnedCommitMissing { .. } => format!("{BRING_OBJECTS}, then run this again"),
        E::NoPinConflict => "use `dvx merge <rev>` to merge dvx branches; --git-conflict is for a conflicted dvx.lock after `git merge`".into(),
        E::NotAtOurPin { ours, .. } => {
            format!("check out our side first: dvx checkout {}", ours.short())
        }
        E::MergeConflicts { .. } => {
            "nothing was changed; resolve with --strategy ours or --strategy theirs, or change one side first".into()
        }
        E::MergeWouldOverwrite { .. } => {
            "commit them (dvx add + dvx commit) or discard them (dvx checkout -- <path>), then merge (or pull) again; the work tree was not changed".into()
        }
        E::NewBranchExists(name) => {
            format!("switch to it with `dvx checkout {name}`, or pick another name")
        }
        E::PushRefused { .. } => format!(
            "the pushed code would name data this clone cannot provide; push from the clone that made those commits, or {BRING_OBJECTS}"
        ),
        E::NotFollowed { why, .. } => super::follow::blocked_hint(why),
        E::NoIdentity => {
            "set DVX_AUTHOR='Name <email>', or `git config --global user.name` and user.email"
                .into()
        }
        E::Read { source, .. } | E::Write { source, .. } => return io_hint(source),
        E::Workspace(e) => return workspace_hint(e),
        E::History(e) => return history_hint(e),
        E::Git(e) => return git_hint(e),
        E::Pin(e) => return pin_hint(e),
        E::Repo(e) => return repo_hint(e),
        E::Refs(e) => return refs_hint(e),
        E::Store(e) => return store_hint(e),
    })
}

fn workspace_hint(e: &workspace::Error) -> Option<String> {
    use workspace::Error as E;
    Some(match e {
        E::NoSuchPath { .. } => "check the spelling; `dvx status` lists what is tracked".into(),
        E::OutsideRepo { root, .. } => format!("paths must lie inside {}", root.display()),
        E::Reserved { .. } => "dvx keeps its own state in .dvx/ and git's in .git/; add your data paths".into(),
        E::NeverTracked { .. } => {
            "add your data paths; .gitignore, .dvxignore, dvx.lock and .dvx/ stay with git".into()
        }
        E::GitTopLevel { .. } => {
            "add the data directories and files themselves (dvx add data/ models/), not the whole repository".into()
        }
        E::TrackedByGit { path, .. } => format!(
            "if '{path}' holds only data, untrack it in git first (git rm -r --cached {path}); if it holds code, add only its data paths"
        ),
        E::BadName { .. } => "rename the file, or exclude it with a .dvxignore rule".into(),
        E::OutsideSymlink { .. } => {
            "dvx keeps symlinks inside the work tree; to allow links that leave it, set `external_symlinks = true` under [core] in .dvx/config.toml".into()
        }
        E::BeyondSymlink { link, .. } => format!(
            "what lies beyond the symlink {link} is not in the work tree; add the link itself (dvx add {link}), or the directory it points to"
        ),
        E::NotTracked { .. } => "`dvx status` and `dvx ls` list tracked paths; `dvx add` tracks new ones".into(),
        E::NotStagedOrCommitted { rev, .. } => {
            format!("check the spelling; `dvx ls` lists the stage and `dvx ls {rev}` the commit")
        }
        E::NothingToTrack { .. } => {
            "dvx tracks files and symlinks, not empty directories (nor files its ignore rules leave out); add the directory once it holds files".into()
        }
        E::LocalChanges { .. } => "commit or restore the change first, or use --force to delete it anyway".into(),
        E::StagedNotCommitted { .. } => "use --cached to keep the file, or -f to delete it".into(),
        E::StagedDiffersFromFileAndHead { .. } => {
            "commit the staged version first, or use -f to untrack it anyway".into()
        }
        E::WouldOverwrite { .. } => {
            "commit them (dvx add + dvx commit) or discard them (dvx checkout -- <path>), or use --force".into()
        }
        E::ChangesNotStaged { .. } => {
            "commit the changes first (dvx add + dvx commit), or discard them (dvx checkout -- <path>)".into()
        }
        E::InTheWay { .. } => {
            "move those files aside (or `dvx add` them, if they are the new version), then run the command again".into()
        }
        E::NoMatch { .. } => {
            "`dvx ls` lists what is tracked; quote a glob so the shell does not expand it".into()
        }
        E::MissingObject { .. } => "the bytes are not local; run `dvx fsck` to check the store".into(),
        E::CaseCollision { .. } => "rename one of them in a new commit, or check out on a case-sensitive file system".into(),
        E::Unsafe { .. } => "move the file or symlink out of the way and run the command again".into(),
        E::NotWritten { .. } => {
            "the stored copy is damaged; `dvx add` a good copy of the file to repair it, and run `dvx fsck` to list other damage".into()
        }
        E::Read { source, .. } | E::Write { source, .. } => return io_hint(source),
        E::Repo(e) => return repo_hint(e),
        E::Store(e) => return store_hint(e),
        E::Refs(e) => return refs_hint(e),
        E::Index(e) => return index_hint(e),
        E::Git(e) => return git_hint(e),
        E::Pin(e) => return pin_hint(e),
        E::History(e) => return history_hint(e),
    })
}

fn lazy_hint(e: &lazy::Error) -> Option<String> {
    use lazy::Error as E;
    Some(match e {
        E::NothingCheckedOut => {
            "check out a commit first (dvx checkout <branch>), or pull in a git work tree whose dvx.lock pins one".into()
        }
        E::NotOnRemote { damage: None, .. } => {
            "push those files' data to the remote first, or drop only files it holds; nothing was changed".into()
        }
        E::NotOnRemote { .. } => {
            "the remote is damaged: `dvx fsck --remote` says where; nothing was changed".into()
        }
        E::PinNotOnRemote { .. } => {
            "push it from the clone that made it (`git push` there runs the pre-push hook, or `dvx push`), then pull again".into()
        }
        E::Remote(e) => return remote_hint(e),
        E::Sync(e) => return sync_hint(e),
        E::Workspace(e) => return workspace_hint(e),
        E::History(e) => return history_hint(e),
        E::Lineage(e) => return lineage_hint(e),
        E::Flow(e) => return flow_hint(e),
        E::Pin(e) => return pin_hint(e),
        E::Store(e) => return store_hint(e),
    })
}

fn transfer_hint(e: &transfer::Error) -> Option<String> {
    use transfer::Error as E;
    Some(match e {
        E::NotOnRemote { .. } | E::Missing { .. } => {
            "push it from the clone that has it, then run the command again".into()
        }
        E::Unreadable { source, .. } => object_read_hint(source),
        E::Truncated { .. } | E::Pack(_) | E::PackIndex(_) | E::Large(_) => REMOTE_DAMAGED.into(),
        E::Store(e) => return store_hint(e),
        E::Backend(e) => object_read_hint(e),
        E::LocalCorrupt { .. } => "run `dvx fsck` to list damaged objects".into(),
        E::Task(_) => return None,
    })
}

fn lineage_hint(e: &lineage::Error) -> Option<String> {
    use lineage::Error as E;
    Some(match e {
        E::DepMissing { .. } => {
            "check the spelling; paths are relative to the current directory".into()
        }
        E::DepNotTracked { path } => format!(
            "track data with `dvx add {path}` (or pass --add-deps), or code with `git add {path}`"
        ),
        E::DepModified { path, .. } => format!(
            "stage the changes with `dvx add {path}` (or pass --add-deps), or discard them with `dvx checkout -- {path}`"
        ),
        E::DepNotFetched { path, .. } => {
            format!("bring its bytes into the work tree first: dvx checkout -- {path}")
        }
        E::DepChanged { .. } => {
            "a run must not change what it reads; what it wrote stays on disk, not added".into()
        }
        E::OutIsDep { .. } => "write the outs to paths apart from the deps".into(),
        E::OutTrackedByGit { path, .. } => format!(
            "outs are data for dvx: untrack it in git first (git rm -r --cached {path}), or write elsewhere"
        ),
        E::OutNotTrackable { .. } => {
            "write outs to data paths (not .dvx/, .git/, an ignore file or dvx.lock)".into()
        }
        E::OutNotWritten { .. } => {
            "check that the command writes every -o path (relative to where dvx run started); what it wrote stays on disk, not added".into()
        }
        E::OutMissing { .. } => "check the spelling; the outs must exist".into(),
        E::OutChanged { .. } => {
            "something is still writing it; record the run once it is finished".into()
        }
        E::BadEnvName { .. } => {
            "give the variable's name only; its value is read from the environment".into()
        }
        E::CredentialEnv { .. } => {
            "leave it out: the command still sees it (`dvx run` passes on the whole environment); --env only records values, for settings that shape the result".into()
        }
        E::NoRun { .. } => {
            "`dvx runs` lists the recorded runs; make files with `dvx run`, or record how they were made with `dvx record`".into()
        }
        E::InputsNotLocal { .. } => BRING_OBJECTS.into(),
        E::IntoConflicts { .. } => "choose an empty directory, or remove those files".into(),
        E::IntoNotAllowed { .. } => {
            "choose a directory of its own (leave out --into to check the inputs out in the work tree)".into()
        }
        E::WouldOverwrite { .. } => {
            "commit them (dvx add + dvx commit) or discard them (dvx checkout -- <path>), or use --into <dir> to write the inputs elsewhere".into()
        }
        E::RecordMismatch { .. } => "run `dvx fsck` to check the store".into(),
        E::InvalidRecord(_) => "check the dep and out paths given".into(),
        E::NoCommand(_) => {
            "it was recorded without --command; run the command by hand in the directory the inputs went to".into()
        }
        E::Read { source, .. } | E::Write { source, .. } => return io_hint(source),
        E::Workspace(e) => return workspace_hint(e),
        E::History(e) => return history_hint(e),
        E::Store(e) => return store_hint(e),
        E::Index(e) => return index_hint(e),
        E::Repo(e) => return repo_hint(e),
        E::Git(e) => return git_hint(e),
        E::Flow(e) => return flow_hint(e),
    })
}

fn history_hint(e: &history::Error) -> Option<String> {
    use history::Error as E;
    Some(match e {
        E::UnknownRevision(_) => "`dvx branch`, `dvx tag` and `dvx log` list what exists".into(),
        E::Ambiguous { .. } => "give more digits of the commit id".into(),
        E::NotACommit(..) => "give a commit id, branch or tag".into(),
        E::NoCommits => {
            "make the first commit with `dvx add <paths>` and `dvx commit -m <message>`".into()
        }
        E::NoParent { .. } => "`dvx log` shows how far back history goes".into(),
        E::NoMergeBase(_) => "compare the two revisions directly: A..B instead of A...B".into(),
        E::EmptyMessage => "say what changed with -m <message>".into(),
        E::NothingToCommit(_) => {
            "stage changes with `dvx add <paths>` first, or pass --allow-empty".into()
        }
        E::NoSuchPath { .. } => "`dvx ls <rev>` lists the paths that revision has".into(),
        E::NoSuchBranch(_) => "`dvx branch` lists branches".into(),
        E::BranchExists(_) => {
            "pick another name (`dvx branch -f <name>` moves an existing branch)".into()
        }
        E::CurrentBranch { change, .. } => match change {
            repo::BranchChange::Delete => {
                "switch to another branch first (dvx checkout <branch>)".into()
            }
            _ => "use `dvx checkout` or `dvx merge` to move the branch you are on".into(),
        },
        E::NotMerged(name) => {
            format!("merge it first, or delete anyway with `dvx branch -D {name}`")
        }
        E::TagExists { .. } => {
            "tags do not move; pick another name, or pass --force to move it".into()
        }
        E::NoSuchTag(_) => "`dvx tag` lists tags".into(),
        E::Store(e) => return store_hint(e),
        E::Refs(e) => return refs_hint(e),
        E::Index(e) => return index_hint(e),
        E::Repo(e) => return repo_hint(e),
        E::Unreadable { .. } => {
            "run `dvx fsck` to list damaged or missing objects; restore them from a copy of the repository".into()
        }
    })
}

fn gc_hint(e: &gc::Error) -> Option<String> {
    use gc::Error as E;
    Some(match e {
        E::RootUnreadable { .. } => {
            "run `dvx fsck` to list damaged or missing objects; restore them from a copy of the repository, then run gc again".into()
        }
        E::SharedStore { .. } => {
            "run gc without core.store (in a clone with its own store), or delete the shared store when no clone needs it".into()
        }
        E::Store(e) => return store_hint(e),
        E::Refs(e) => return refs_hint(e),
        E::Index(e) => return index_hint(e),
        E::Git(e) => return git_hint(e),
    })
}

fn repo_hint(e: &repo::Error) -> Option<String> {
    use repo::Error as E;
    Some(match e {
        E::NotARepo { .. } => {
            "run `dvx init` to create one (inside git it goes to the top level)".into()
        }
        E::NewerFormat { .. } => "upgrade dvx to work with this repository".into(),
        // The local file is not tracked: git has no copy of it to restore.
        E::Config { path, .. } if path.ends_with(repo::LOCAL_CONFIG_FILE) => {
            "fix the file by hand, or move it aside (it holds only this machine's settings and credentials; the team's are in .dvx/config.toml)".into()
        }
        E::Config { .. } => {
            "fix the file by hand, or restore it with `git checkout -- .dvx/config.toml`".into()
        }
        E::BranchCheckedOut {
            branch,
            change,
            worktree,
        } => {
            let at = worktree.display();
            match change {
                repo::BranchChange::CheckOut => format!(
                    "work on it in {at}, or start a branch of your own from it here: dvx checkout -b <new-branch> {branch}"
                ),
                repo::BranchChange::Create => {
                    format!("pick another name, or make its first commit in {at}")
                }
                _ => format!(
                    "switch that work tree to another branch first: dvx -C {at} checkout <other-branch>"
                ),
            }
        }
        E::Lock(e) => return lock_hint(e),
        E::Refs(e) => return refs_hint(e),
        E::Io { source, .. } => return io_hint(source),
    })
}

fn store_hint(e: &store::Error) -> Option<String> {
    use store::Error as E;
    Some(match e {
        E::Missing { .. } => {
            "the object is not in the local store; `dvx fsck` checks what else is missing".into()
        }
        E::Corrupt { .. } | E::Decode { .. } => {
            "run `dvx fsck` to list damaged objects; restore them from a copy of the repository (`dvx add` of a good copy of a file repairs its object)"
                .into()
        }
        E::Io { source, .. } => return io_hint(source),
        E::Fetch { source, .. } => {
            if let Some(h) = source.downcast_ref::<remote::Error>().and_then(remote_hint) {
                return Some(h);
            }
            "check that the remote is reachable and holds the object, then run the command again".into()
        }
    })
}

fn index_hint(e: &index::Error) -> Option<String> {
    match e {
        index::Error::Corrupt { .. } => Some(
            "move .dvx/index and .dvx/index.delta aside, then run `dvx checkout HEAD` to rebuild the index from the last commit"
                .into(),
        ),
        index::Error::Io { source, .. } => io_hint(source),
    }
}

fn refs_hint(e: &refs::Error) -> Option<String> {
    use refs::Error as E;
    Some(match e {
        // A remote's name is one component (the directory of its remote-tracking
        // branches): '/' is the one character a branch may have and it may not.
        E::InvalidName {
            what: "remote",
            why,
            ..
        } if why.contains('/') => {
            "a remote name is one word: use letters, digits, '-', '_' and '.', without '/'".into()
        }
        E::InvalidName { what: "remote", .. } => {
            "use letters, digits, '-', '_' and '.' (not at the start), without '/'".into()
        }
        E::InvalidName { .. } => "use letters, digits, '-', '_', '.' and '/'".into(),
        E::Moved { .. } => "another dvx command moved it meanwhile; run the command again".into(),
        E::DirectoryConflict { .. } => "pick another name, or delete the branch in the way".into(),
        E::Corrupt { .. } => {
            "fix or remove the damaged ref file; `dvx fsck` checks the rest".into()
        }
        E::Lock(e) => return lock_hint(e),
        E::Io { source, .. } => return io_hint(source),
    })
}

fn lock_hint(e: &LockError) -> Option<String> {
    match e {
        LockError::Busy { .. } => {
            Some("another dvx command is writing to this repository; wait for it to finish and try again".into())
        }
        LockError::Io { source, .. } => io_hint(source),
    }
}

fn git_hint(e: &git::Error) -> Option<String> {
    Some(match e {
        git::Error::UnknownRevision(_) => "`git log --oneline` lists git revisions".into(),
        git::Error::Command { .. } => "run the git command by hand to see what is wrong".into(),
        git::Error::Gix { .. } => "check that `git status` works in this repository".into(),
        git::Error::Io { source, .. } => return io_hint(source),
    })
}

fn pin_hint(e: &git::pin::Error) -> Option<String> {
    Some(match e {
        git::pin::Error::Parse { .. } => {
            "fix dvx.lock, or take it from git: `git checkout -- dvx.lock` (after a conflict: `dvx merge --git-conflict`)".into()
        }
        git::pin::Error::NewerFormat { .. } => "upgrade dvx to read this dvx.lock".into(),
        git::pin::Error::NotUtf8 { .. } => {
            "dvx.lock is a small TOML file; fix it, or take it from git (`git checkout -- dvx.lock`)"
                .into()
        }
        git::pin::Error::Git(e) => return git_hint(e),
        git::pin::Error::Io { source, .. } => return io_hint(source),
    })
}

fn io_hint(e: &io::Error) -> Option<String> {
    match e.kind() {
        io::ErrorKind::PermissionDenied => {
            Some("check the permissions of the file and its directory".into())
        }
        io::ErrorKind::StorageFull => {
            Some("free some disk space and run the command again; nothing was lost".into())
        }
        io::ErrorKind::NotFound => Some("check that the path exists".into()),
        io::ErrorKind::ReadOnlyFilesystem => Some("the file system is read-only".into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use clap::CommandFactory;

    /// Words that follow "dvx " in messages without naming a command.
    const PROSE: &[&str] = &[
        "binary",
        "branches",
        "cannot",
        "command",
        "commits",
        "data",
        "directory",
        "handles",
        "hooks",
        "in",
        "is",
        "keeps",
        "local",
        "never",
        "object",
        "pinned",
        "process",
        "reads",
        "refuses",
        "remote",
        "repository",
        "temp",
        "stays",
        "to",
        "tracks",
        "will",
    ];

    fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("list source directory") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// Every `dvx <word>` in the code (messages and hints, of the CLI and the library)
    /// names a command that exists: a hint must never send users to one that does not.
    #[test]
    fn messages_name_only_commands_that_exist() {
        let commands: Vec<String> = super::super::Cli::command()
            .get_subcommands()
            .map(|c| c.get_name().to_owned())
            .collect();
        assert!(commands.iter().any(|c| c == "checkout"), "{commands:?}");
        let mut files = Vec::new();
        rust_files(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        let mut unknown = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(&file).expect("read source");
            for (n, line) in text.lines().enumerate() {
                if line.trim_start().starts_with("//") {
                    continue;
                }
                for (i, _) in line.match_indices("dvx ") {
                    let word: String = line[i + 4..]
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || *c == '-')
                        .collect();
                    // `dvx -C <dir> checkout` names a global option first.
                    let known = word.is_empty()
                        || word.starts_with('-')
                        || commands.contains(&word)
                        || PROSE.contains(&word.as_str());
                    if !known {
                        unknown.push(format!("{}:{}: dvx {word}", file.display(), n + 1));
                    }
                }
            }
        }
        assert!(
            unknown.is_empty(),
            "commands that do not exist: {unknown:#?}"
        );
    }
}
