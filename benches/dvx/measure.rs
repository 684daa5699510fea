//! Running commands: the environment every child gets, wall time, and per-command peak RSS
//! and CPU time.
//!
//! Each measured command runs under a wrapper: this same harness binary, re-executed with
//! [`WRAP_ENV`] set. The wrapper spawns the command, reaps it with `wait4(2)` and writes
//! the command's own wall time, `ru_maxrss` and user and system CPU time (which include
//! those of the children it waited for: git hooks, DVC's workers) to a file. The
//! indirection is needed for memory: a child's `ru_maxrss` includes the RSS of the
//! address space it `exec`ed from, which for a child spawned straight from the harness is
//! the harness itself (tens of MiB after hashing and generating data). The wrapper is a
//! fresh, small process, so the floor it adds is a few MiB; [`Runner::rss_floor_kib`]
//! measures it. The wrapper also takes its own time stamps, so its start-up is not in
//! the measured seconds.
//!
//! Right before it starts a timed command's wrapper, the harness primes memory: it
//! touches `DVX_BENCH_PRIME_MIB` MiB of memory and frees it, so the command's first page
//! allocations come from pages the machine has backed recently. (In the harness, not in
//! the wrapper: the command's peak RSS would include the wrapper's, primed memory and
//! all.) On a VM whose host backs guest memory lazily (and takes freed pages back), a
//! page the guest has not used for a while costs a fault in the host on first touch:
//! writing 1 GiB into the page cache took 2.6 s on fresh pages here and 0.2 s on pages
//! freed a moment before. Which pages a command got then decided its time more than its
//! own work did, and priming gives every timed command (dvx, DVC and `cp` alike) the
//! same start. How much to prime is the config's `default_prime_mib`: minutes after a
//! test suite, 1 GiB was not enough.

use std::env;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Instant;

use crate::Result;
use crate::settle::Quiet;

/// Author recorded by dvx and git in the benchmark repositories.
const AUTHOR_NAME: &str = "Bench";
const AUTHOR_EMAIL: &str = "bench@example.com";

/// Git settings for every child: no background gc or maintenance competing for the disk
/// during a measurement, and a fixed first branch name.
const GIT_CONFIG: [(&str, &str); 3] = [
    ("gc.auto", "0"),
    ("maintenance.auto", "false"),
    ("init.defaultBranch", "main"),
];

/// Set (to a report file path) when the harness binary runs as the measuring wrapper.
pub const WRAP_ENV: &str = "DVX_BENCH_WRAP";

/// One timed command (or command plus `sync`).
#[derive(Debug, Clone, Copy)]
pub struct Measurement {
    pub secs: f64,
    /// Peak resident set size of the measured process, KiB.
    pub peak_rss_kib: u64,
    /// CPU seconds the command (and the children it waited for) spent in user space and in
    /// the kernel. Beside the wall time they say where a slow run's time went: more CPU
    /// (kernel work such as inode allocation), or wall time well beyond the CPU time on
    /// this many cores (waiting on the disk).
    pub user_secs: f64,
    pub system_secs: f64,
}

pub struct Runner {
    logs: PathBuf,
    dvx: PathBuf,
    /// This binary, re-executed as the wrapper.
    exe: PathBuf,
    /// MiB of memory primed before each timed command (see the module doc).
    prime_mib: usize,
    /// When this run last removed a tree, for [`Runner::settle`].
    quiet: Quiet,
}

impl Runner {
    /// A runner whose children write their stderr under `logs`, whose timed commands
    /// each start after `prime_mib` MiB of memory were primed, and whose removals
    /// `quiet` times for [`Runner::settle`].
    pub fn new(logs: PathBuf, dvx: PathBuf, prime_mib: usize, quiet: Quiet) -> Result<Runner> {
        fs::create_dir_all(&logs).map_err(|e| format!("create {}: {e}", logs.display()))?;
        let exe = env::current_exe().map_err(|e| format!("locate the bench binary: {e}"))?;
        Ok(Runner {
            logs,
            dvx,
            exe,
            prime_mib,
            quiet,
        })
    }

    /// `program` run in `dir` with the benchmark environment.
    pub fn command(&self, program: impl AsRef<OsStr>, dir: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(dir)
            .env("DVX_AUTHOR", format!("{AUTHOR_NAME} <{AUTHOR_EMAIL}>"))
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", AUTHOR_NAME)
            .env("GIT_AUTHOR_EMAIL", AUTHOR_EMAIL)
            .env("GIT_COMMITTER_NAME", AUTHOR_NAME)
            .env("GIT_COMMITTER_EMAIL", AUTHOR_EMAIL)
            .env("GIT_CONFIG_COUNT", GIT_CONFIG.len().to_string())
            .env("DVC_NO_ANALYTICS", "1");
        for (i, (key, value)) in GIT_CONFIG.iter().enumerate() {
            cmd.env(format!("GIT_CONFIG_KEY_{i}"), key)
                .env(format!("GIT_CONFIG_VALUE_{i}"), value);
        }
        cmd
    }

    /// `dvx -q <args>` in `dir`.
    pub fn dvx(&self, dir: &Path, args: &[&str]) -> Command {
        let mut cmd = self.command(&self.dvx, dir);
        cmd.arg("-q").args(args);
        cmd
    }

    /// `git <args>` in `dir`.
    pub fn git(&self, dir: &Path, args: &[&str]) -> Command {
        let mut cmd = self.command("git", dir);
        cmd.args(args);
        cmd
    }

    /// Run untimed (setup); the command's stdout on success.
    pub fn run(&self, mut cmd: Command) -> Result<String> {
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{}: {e}", describe(&cmd)))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(failure(&cmd, out.status, &stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Time `cmd` with its stdout discarded; `label` names its stderr log.
    pub fn measure(&self, label: &str, cmd: Command) -> Result<Measurement> {
        self.measure_to(label, cmd, Stdio::null())
    }

    /// Time `cmd` and also return its stdout (written to a log file, read afterwards).
    pub fn measure_capture(&self, label: &str, cmd: Command) -> Result<(Measurement, String)> {
        let path = self.logs.join(format!("{label}.out"));
        let file = File::create(&path).map_err(|e| format!("create {}: {e}", path.display()))?;
        let m = self.measure_to(label, cmd, file.into())?;
        let out = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok((m, out))
    }

    /// Flush dirty pages untimed, then time `cmd` followed by `sync`, so the time covers
    /// getting the bytes to disk (dvx and cp alike), and nothing written earlier.
    pub fn measure_synced(&self, label: &str, cmd: Command) -> Result<Measurement> {
        self.sync()?;
        let m = self.measure(label, cmd)?;
        let start = Instant::now();
        self.sync()?;
        Ok(Measurement {
            secs: m.secs + start.elapsed().as_secs_f64(),
            ..m
        })
    }

    /// Run once untimed to warm caches, then the median of `n` timed runs (peak RSS is
    /// the maximum over the runs).
    pub fn median(&self, label: &str, n: usize, make: impl Fn() -> Command) -> Result<Measurement> {
        self.measure(label, make())?;
        let mut runs = (0..n)
            .map(|_| self.measure(label, make()))
            .collect::<Result<Vec<_>>>()?;
        let peak_rss_kib = runs.iter().map(|m| m.peak_rss_kib).max().unwrap_or(0);
        runs.sort_by(|a, b| a.secs.total_cmp(&b.secs));
        let middle = runs
            .get(n / 2)
            .copied()
            .ok_or_else(|| format!("{label}: no timed runs"))?;
        Ok(Measurement {
            peak_rss_kib,
            ..middle
        })
    }

    /// Delete a directory tree made by the harness, noting when for [`Runner::settle`].
    pub fn remove(&self, dir: &Path) -> Result<()> {
        let removed = fs::remove_dir_all(dir);
        self.quiet.removed();
        match removed {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(format!("remove {}: {e}", dir.display()))
            }
            _ => Ok(()),
        }
    }

    /// Before `what`, wait until no inode this run freed is still passed over by the file
    /// system (see `settle`); at once where there is no such window.
    pub fn settle(&self, what: &str) {
        let wait = self.quiet.remaining();
        if wait.is_zero() {
            return;
        }
        println!(
            "  settle: waiting {} s before {what}, for the file system to reuse the inodes \
             of files removed before (bench/README.md, \"Settling\")",
            wait.as_secs()
        );
        std::thread::sleep(wait);
    }

    /// `sync(1)`: flush every dirty page of every filesystem.
    pub fn sync(&self) -> Result<()> {
        self.run(Command::new("sync")).map(|_| ())
    }

    /// The peak RSS the wrapper reports for `true`: the floor under every memory number.
    pub fn rss_floor_kib(&self) -> Result<u64> {
        Ok(self
            .measure("rss-floor", Command::new("true"))?
            .peak_rss_kib)
    }

    fn measure_to(&self, label: &str, cmd: Command, stdout: Stdio) -> Result<Measurement> {
        let log = self.logs.join(format!("{label}.err"));
        let report = self.logs.join(format!("{label}.rusage"));
        let stderr = File::create(&log).map_err(|e| format!("create {}: {e}", log.display()))?;
        let mut wrapper = self.wrapped(&cmd, &report);
        wrapper.stdin(Stdio::null()).stdout(stdout).stderr(stderr);
        prime(self.prime_mib);
        let status = wrapper
            .status()
            .map_err(|e| format!("{}: {e}", describe(&cmd)))?;
        if !status.success() {
            let stderr = fs::read_to_string(&log).unwrap_or_default();
            return Err(failure(&cmd, status, &stderr));
        }
        let text = fs::read_to_string(&report).map_err(|e| format!("{}: {e}", report.display()))?;
        parse_report(&text)
            .ok_or_else(|| format!("{}: unreadable wrapper report {text:?}", report.display()))
    }

    /// `cmd` run under the wrapper, with the same directory and environment.
    fn wrapped(&self, cmd: &Command, report: &Path) -> Command {
        let mut wrapper = Command::new(&self.exe);
        wrapper
            .arg(cmd.get_program())
            .args(cmd.get_args())
            .env(WRAP_ENV, report);
        if let Some(dir) = cmd.get_current_dir() {
            wrapper.current_dir(dir);
        }
        for (key, value) in cmd.get_envs() {
            match value {
                Some(v) => wrapper.env(key, v),
                None => wrapper.env_remove(key),
            };
        }
        wrapper
    }
}

/// `"<secs> <peak KiB> <user secs> <system secs>"`, as the wrapper writes it.
fn parse_report(text: &str) -> Option<Measurement> {
    let mut words = text.split_whitespace();
    Some(Measurement {
        secs: words.next()?.parse().ok()?,
        peak_rss_kib: words.next()?.parse().ok()?,
        user_secs: words.next()?.parse().ok()?,
        system_secs: words.next()?.parse().ok()?,
    })
}

/// When this process is the wrapper (see the module doc): run the command in the
/// arguments, write its time and peak RSS to the file named by [`WRAP_ENV`], and return
/// the exit code to pass on. `None` when this process is the harness.
pub fn run_as_wrapper() -> Option<i32> {
    let report = env::var_os(WRAP_ENV)?;
    let mut args = env::args_os().skip(1);
    let Some(program) = args.next() else {
        eprintln!("dvx bench wrapper: no command given");
        return Some(127);
    };
    Some(wrap(&report, &program, args.collect()))
}

fn wrap(report: &OsStr, program: &OsStr, args: Vec<OsString>) -> i32 {
    let mut cmd = Command::new(program);
    cmd.args(args).env_remove(WRAP_ENV);
    let start = Instant::now();
    let (status, usage) = match spawn_and_reap(&mut cmd) {
        Ok(result) => result,
        Err(e) => {
            eprintln!("dvx bench wrapper: {}: {e}", describe(&cmd));
            return 127;
        }
    };
    let secs = start.elapsed().as_secs_f64();
    let line = format!(
        "{secs} {} {} {}\n",
        usage.peak_rss_kib, usage.user_secs, usage.system_secs
    );
    if let Err(e) = fs::write(report, line) {
        eprintln!(
            "dvx bench wrapper: write {}: {e}",
            Path::new(report).display()
        );
        return 127;
    }
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Touch `mib` MiB of memory a page at a time, then free it: the pages go back to the
/// kernel's free lists, where the next allocations (the wrapper's, then the command's)
/// find them.
fn prime(mib: usize) {
    const PAGE: usize = 4096;
    // Zeroed memory comes straight from the kernel, untouched until written.
    let mut memory = vec![0u8; mib << 20];
    for page in memory.chunks_mut(PAGE) {
        page[0] = 1;
    }
    std::hint::black_box(&memory);
}

/// What `wait4` says a reaped command used.
struct Usage {
    peak_rss_kib: u64,
    user_secs: f64,
    system_secs: f64,
}

/// Spawn `cmd`, reap it with `wait4`, and return its exit status and its own usage.
fn spawn_and_reap(cmd: &mut Command) -> std::io::Result<(ExitStatus, Usage)> {
    let child = cmd.spawn()?;
    let pid = libc::pid_t::try_from(child.id()).expect("a Linux pid fits in pid_t");
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is a plain C struct of integers; all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our unreaped child (std has not waited for it), and both
        // out-pointers point to live, writable locals of the right types.
        let reaped = unsafe { libc::wait4(pid, &raw mut status, 0, &raw mut usage) };
        if reaped == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    // The child is reaped; dropping the handle neither waits nor kills.
    drop(child);
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let used = Usage {
        peak_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0), // KiB on Linux
        user_secs: secs(usage.ru_utime),
        system_secs: secs(usage.ru_stime),
    };
    Ok((ExitStatus::from_raw(status), used))
}

fn describe(cmd: &Command) -> String {
    let mut parts = vec![cmd.get_program().to_string_lossy().into_owned()];
    parts.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    format!("`{}`", parts.join(" "))
}

/// An error for a command that exited unsuccessfully, with the end of its stderr.
fn failure(cmd: &Command, status: ExitStatus, stderr: &str) -> String {
    const KEEP: usize = 1500;
    let stderr = stderr.trim();
    let cut = stderr.len().saturating_sub(KEEP);
    let start = (cut..=stderr.len())
        .find(|&i| stderr.is_char_boundary(i))
        .unwrap_or(stderr.len());
    let dots = if start > 0 { "…" } else { "" };
    format!(
        "{} failed ({status}): {dots}{}",
        describe(cmd),
        &stderr[start..]
    )
}
