//! `dvx fsmonitor start|stop|status` (and the hidden `run`: the watcher itself), and the
//! watcher as `status` asks it, started on demand.

use std::cell::Cell;
use std::path::Path;
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Subcommand;
use dvx::fsmonitor::protocol::{self, Request, Response, WatcherStatus};
use dvx::fsmonitor::{self, Error};
use dvx::path::RepoPath;
use dvx::workspace::{self, ChangeSource, WatchAnswer, Workspace};

use super::Ctx;
use super::hint::Hinted;

/// How long a request may take (an answer waits up to 2 s for its cookie).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a start waits for the new watcher to answer.
const START_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Start this work tree's file watcher in the background (if it is not running).
    Start,
    /// Stop this work tree's file watcher.
    Stop,
    /// Say whether the file watcher runs, what it watches, and any problem.
    Status {
        /// Print a JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run the file watcher in the foreground (what `start` runs in the background).
    #[command(hide = true)]
    Run,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let ws = ctx.open_plain()?;
    let dvx_dir = ws.repo().local_dir().to_path_buf();
    match args.action {
        Action::Run => {
            serve(&ws)?;
        }
        Action::Start => {
            let status = ensure_started(&ws)?;
            watch_roots(&ws)?;
            let status = watcher_status(&dvx_dir)?.unwrap_or(status);
            if let Some(problem) = status.problem {
                return Err(Hinted::new(
                    format!("the file watcher cannot watch this work tree: {problem}"),
                    "until then `dvx status` looks at every file; `dvx fsmonitor stop` stops the watcher",
                )
                .into());
            }
            if !ctx.quiet {
                outln!(
                    "file watcher running (pid {}), watching {} directories",
                    status.pid,
                    status.watched_dirs
                );
            }
        }
        Action::Stop => match protocol::request(&dvx_dir, &Request::Stop, REQUEST_TIMEOUT) {
            Ok(_) => {
                if !ctx.quiet {
                    outln!("file watcher stopped");
                }
            }
            Err(Error::NotRunning) => {
                if !ctx.quiet {
                    outln!("no file watcher is running");
                }
            }
            Err(e) => return Err(e.into()),
        },
        Action::Status { json } => {
            let status = watcher_status(&dvx_dir)?;
            let enabled = ws.repo().config().core.fsmonitor;
            if json {
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "enabled": enabled,
                        "running": status.is_some(),
                        "watcher": status,
                    }))?
                );
            } else {
                match status {
                    None => outln!("no file watcher is running"),
                    Some(s) => {
                        outln!("file watcher running (pid {})", s.pid);
                        outln!("  roots:        {}", s.roots.join(", "));
                        outln!("  directories:  {}", s.watched_dirs);
                        outln!("  idle timeout: {} s", s.idle_timeout_secs);
                        if let Some(problem) = s.problem {
                            outln!("  problem:      {problem}");
                        }
                    }
                }
                if !enabled {
                    outln!("core.fsmonitor is off: dvx status does not ask it");
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The watcher itself, until it stops or idles out.
fn serve(ws: &Workspace) -> Result<()> {
    #[cfg(target_os = "linux")]
    {
        let secs = ws.repo().config().core.fsmonitor_idle_timeout;
        let secs = if secs.is_finite() {
            secs.clamp(1.0, 365.0 * 86400.0)
        } else {
            3600.0
        };
        let settings = fsmonitor::daemon::Settings {
            work_tree: ws.root().to_path_buf(),
            dvx_dir: ws.repo().local_dir().to_path_buf(),
            idle_timeout: Duration::from_secs_f64(secs),
        };
        Ok(fsmonitor::daemon::run(&settings)?)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = ws;
        Err(Error::Unsupported.into())
    }
}

/// What the running watcher says about itself; `None` when none runs.
fn watcher_status(dvx_dir: &Path) -> Result<Option<WatcherStatus>> {
    match protocol::request(dvx_dir, &Request::Status, REQUEST_TIMEOUT) {
        Ok(Response::Status(s)) => Ok(Some(s)),
        Ok(other) => Err(Error::Protocol(format!("{other:?}")).into()),
        Err(Error::NotRunning) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Start the watcher in the background unless one runs, and wait until it answers.
fn ensure_started(ws: &Workspace) -> Result<WatcherStatus> {
    let dvx_dir = ws.repo().local_dir();
    if let Some(status) = watcher_status(dvx_dir)? {
        return Ok(status);
    }
    let exe = std::env::current_exe()?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("-C")
        .arg(ws.root())
        .args(["-q", "fsmonitor", "run"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // Its own process group: a Ctrl-C meant for the command that started it does not
    // stop it.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn()?;
    let start = Instant::now();
    loop {
        if let Some(status) = watcher_status(dvx_dir)? {
            return Ok(status);
        }
        if let Ok(Some(exit)) = child.try_wait() {
            // Another start may have won the race: its watcher is as good.
            if let Some(status) = watcher_status(dvx_dir)? {
                return Ok(status);
            }
            anyhow::bail!("the file watcher exited at once ({exit})");
        }
        if start.elapsed() > START_TIMEOUT {
            anyhow::bail!("the file watcher did not answer within {START_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Have the watcher watch this work tree's roots (what `status` asks it about).
fn watch_roots(ws: &Workspace) -> Result<()> {
    let roots = workspace::watch_roots(ws)?;
    let request = Request::Changes {
        since: None,
        roots: roots.iter().map(|r| r.as_str().to_owned()).collect(),
    };
    protocol::request(ws.repo().local_dir(), &request, REQUEST_TIMEOUT)?;
    Ok(())
}

/// The watcher as `status` asks it: started when it is not running, and a warning (once)
/// when it reports a problem.
pub struct Watcher<'a> {
    pub ws: &'a Workspace,
    pub warned: Cell<bool>,
}

impl Watcher<'_> {
    fn ask(&self, since: Option<&str>, roots: &[RepoPath]) -> Result<Response, Error> {
        let request = Request::Changes {
            since: since.map(str::to_owned),
            roots: roots.iter().map(|r| r.as_str().to_owned()).collect(),
        };
        protocol::request(self.ws.repo().local_dir(), &request, REQUEST_TIMEOUT)
    }
}

impl ChangeSource for Watcher<'_> {
    fn changes(&self, since: Option<&str>, roots: &[RepoPath]) -> WatchAnswer {
        let mut answer = self.ask(since, roots);
        let mut started = false;
        if matches!(answer, Err(Error::NotRunning)) {
            if let Err(e) = ensure_started(self.ws) {
                return WatchAnswer::Full {
                    token: None,
                    why: format!("the file watcher could not be started: {e:#}"),
                };
            }
            started = true;
            answer = self.ask(since, roots);
        }
        let changes = match answer {
            Ok(Response::Changes(c)) => c,
            Ok(other) => {
                return WatchAnswer::Full {
                    token: None,
                    why: format!("the file watcher answered {other:?}"),
                };
            }
            Err(e) => {
                return WatchAnswer::Full {
                    token: None,
                    why: e.to_string(),
                };
            }
        };
        if let Some(problem) = &changes.problem
            && !self.warned.replace(true)
        {
            eprintln!("warning: the file watcher cannot help: {problem}");
        }
        if let Some(why) = changes.full {
            let why = if started {
                format!("the file watcher was not running (started it); {why}")
            } else {
                why
            };
            return WatchAnswer::Full {
                token: Some(changes.token),
                why,
            };
        }
        let paths: Option<Vec<RepoPath>> = changes
            .paths
            .iter()
            .map(|p| RepoPath::new(p).ok())
            .collect();
        match paths {
            Some(paths) => WatchAnswer::Paths {
                token: changes.token,
                paths,
            },
            None => WatchAnswer::Full {
                token: None,
                why: "the file watcher named a path that is not a repository path".into(),
            },
        }
    }
}
