//! `dvx remote add | list | remove | rename | set`

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use dvx::remote::settings::Unchosen;
use dvx::sync::remotes;
use dvx::workspace::Workspace;
use serde::Serialize;

use super::{Ctx, transfer};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: RemoteCommand,
}

#[derive(Debug, Subcommand)]
enum RemoteCommand {
    /// Add a remote: a directory, file:///path, s3://bucket/prefix, gs://bucket/prefix or
    /// az://container/prefix. dvx checks that it refuses a second create of a file and
    /// makes it a dvx remote.
    Add {
        name: String,
        url: String,
        /// Make it the default remote (the first remote is the default anyway).
        #[arg(long)]
        default: bool,
    },
    /// List the remotes (credentials are shown as ***).
    List {
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a remote from the config, with its remote-tracking branches (the remote's
    /// contents are not touched).
    Remove { name: String },
    /// Rename a remote, with its remote-tracking branches.
    Rename { old: String, new: String },
    /// Print the default remote (the one commands use when none is named), or make NAME
    /// the default (as `dvc remote default`).
    #[command(group = clap::ArgGroup::new("change").args(["name", "unset"]))]
    Default {
        name: Option<String>,
        /// Unset the default (then `origin`, or the only remote, is the default).
        #[arg(long)]
        unset: bool,
        /// Write into .dvx/config.local.toml: this machine's default, which wins over the
        /// team's in .dvx/config.toml.
        #[arg(long, requires = "change")]
        local: bool,
    },
    /// Set one of a remote's settings (as `dvc remote modify`): url, endpoint, region,
    /// allow_http, account, jobs; credentials (access_key_id, secret_access_key,
    /// session_token, service_account_key, access_key, sas_token) only with --local.
    Set {
        name: String,
        key: String,
        value: String,
        /// Write into .dvx/config.local.toml (this machine only, never committed).
        #[arg(long)]
        local: bool,
    },
}

/// Said when `add` or a new URL made an empty location a dvx remote.
const INITIALISED: &str = "it was empty and is a dvx remote now";

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    match args.command {
        RemoteCommand::List { json } => list(ctx, json),
        RemoteCommand::Add { name, url, default } => {
            let (ws, lock) = ctx.open_locked()?;
            let added = remotes::add(
                &ws,
                &lock,
                &ctx.cwd,
                &name,
                &url,
                default,
                &transfer::environment(),
            )?;
            if !ctx.quiet {
                outln!(
                    "added remote '{}' ({}){}",
                    added.name,
                    added.url,
                    if added.default {
                        ", the default remote"
                    } else {
                        ""
                    }
                );
                if added.initialised {
                    outln!("{INITIALISED}");
                }
            }
            tracked_changed(ctx, &ws, true);
            Ok(ExitCode::SUCCESS)
        }
        RemoteCommand::Remove { name } => {
            let (ws, lock) = ctx.open_locked()?;
            let who = ctx.reflog_signature(&ws)?;
            let removed = remotes::remove(&ws, &lock, &name, &who)?;
            if !ctx.quiet {
                outln!(
                    "removed remote '{}'{}",
                    removed.name,
                    match removed.tracking_refs {
                        0 => String::new(),
                        n => format!(
                            " and its {}",
                            super::render::plural(
                                n,
                                "remote-tracking branch",
                                "remote-tracking branches"
                            )
                        ),
                    }
                );
                match &removed.default_after {
                    Some(Ok(name)) => outln!("the default remote is now '{name}'"),
                    Some(Err(Unchosen::NoDefault { names })) => outln!(
                        "no remote is the default now ({}): make one the default with `dvx remote default <name>`",
                        names.join(", ")
                    ),
                    Some(Err(Unchosen::NoRemote)) | None => {}
                }
            }
            tracked_changed(ctx, &ws, removed.tracked_changed);
            Ok(ExitCode::SUCCESS)
        }
        RemoteCommand::Rename { old, new } => {
            let (ws, lock) = ctx.open_locked()?;
            let who = ctx.reflog_signature(&ws)?;
            let renamed = remotes::rename(&ws, &lock, &old, &new, &who)?;
            if !ctx.quiet {
                outln!("renamed remote '{old}' to '{new}'");
                if renamed.default_kept {
                    outln!("'{new}' stays the default remote (core.remote = \"{new}\")");
                }
            }
            tracked_changed(ctx, &ws, renamed.tracked_changed);
            Ok(ExitCode::SUCCESS)
        }
        RemoteCommand::Default {
            name: None,
            unset: false,
            ..
        } => {
            let ws = ctx.open()?;
            outln!("{}", remotes::current_default(ws.repo())?);
            Ok(ExitCode::SUCCESS)
        }
        RemoteCommand::Default { name, local, .. } => {
            let (ws, lock) = ctx.open_locked()?;
            let set = remotes::set_default(&ws, &lock, name.as_deref(), local)?;
            if !ctx.quiet {
                let file = super::render::relative(ws.root(), &set.file);
                match (&name, &set.now) {
                    (Some(name), Ok(now)) if now == name => {
                        outln!("the default remote is now '{name}' (in {file})")
                    }
                    (Some(name), _) => outln!("set '{name}' as the default remote in {file}"),
                    (None, _) => outln!("unset the default remote in {file}"),
                }
                match (&name, &set.now) {
                    (Some(name), Ok(now)) if now != name => outln!(
                        "but .dvx/config.local.toml makes '{now}' the default on this machine"
                    ),
                    (None, Ok(now)) => outln!("commands use '{now}' when no remote is named"),
                    (None, Err(Unchosen::NoDefault { names })) => {
                        outln!("no remote is the default now ({})", names.join(", "))
                    }
                    _ => {}
                }
            }
            tracked_changed(ctx, &ws, set.tracked_changed);
            Ok(ExitCode::SUCCESS)
        }
        RemoteCommand::Set {
            name,
            key,
            value,
            local,
        } => {
            let (ws, lock) = ctx.open_locked()?;
            let set = remotes::set(
                &ws,
                &lock,
                &ctx.cwd,
                &name,
                &key,
                &value,
                local,
                &transfer::environment(),
            )?;
            if !ctx.quiet {
                outln!(
                    "set remote.{name}.{key} in {}{}",
                    super::render::relative(ws.root(), &set.file),
                    if local {
                        " (this machine only, never committed)"
                    } else {
                        ""
                    }
                );
                if set.initialised {
                    outln!("{INITIALISED}");
                }
            }
            if set.moved_from_tracked {
                eprintln!(
                    "warning: removed remote.{name}.{key} from .dvx/config.toml; if that file was ever committed or pushed, change the credential"
                );
            }
            tracked_changed(ctx, &ws, set.tracked);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Say which `git add` records a change to the tracked config.
fn tracked_changed(ctx: &Ctx, ws: &Workspace, changed: bool) {
    if changed && !ctx.quiet && ws.git().is_some() {
        outln!("share it with the team: git add .dvx/config.toml");
    }
}

#[derive(Serialize)]
struct JsonRemote {
    name: String,
    url: Option<String>,
    default: bool,
    /// Each setting as its TOML type: a number, a boolean or a string.
    settings: BTreeMap<String, toml::Value>,
    /// Credential keys that hold a value; the value is always `***`.
    credentials: BTreeMap<String, &'static str>,
}

fn list(ctx: &Ctx, json: bool) -> Result<ExitCode> {
    let ws = ctx.open()?;
    let all = remotes::list(ws.repo())?;
    if json {
        let out: Vec<JsonRemote> = all
            .iter()
            .map(|r| JsonRemote {
                name: r.name.clone(),
                url: r.url.clone(),
                default: r.default,
                settings: r.settings.iter().cloned().collect(),
                credentials: r
                    .credentials
                    .iter()
                    .map(|(k, _)| (k.clone(), "***"))
                    .collect(),
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for r in &all {
            outln!(
                "{}\t{}{}",
                r.name,
                r.url.as_deref().unwrap_or("(no url)"),
                if r.default { " (default)" } else { "" }
            );
            for (key, value) in &r.settings {
                match value {
                    toml::Value::String(text) => outln!("    {key} = {text}"),
                    other => outln!("    {key} = {other}"),
                }
            }
            for (key, _) in &r.credentials {
                outln!("    {key} = ***");
            }
        }
    }
    for r in &all {
        for (key, tracked) in &r.credentials {
            if *tracked {
                eprintln!(
                    "warning: remote.{}.{key} is in the tracked .dvx/config.toml, where git would share it; move it to .dvx/config.local.toml (dvx remote set {} {key} <value> --local)",
                    r.name, r.name
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
