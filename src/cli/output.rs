//! Standard output: everything the CLI prints for the user goes through here.
//!
//! `println!` panics when standard output cannot be written (`dvx log > /dev/full`), and
//! Rust's runtime turns a closed standard output (`dvx cat f >&-`) into a silent sink. So
//! every print in `cli` uses [`outln!`] or [`out!`] (or [`Stdout`] for raw bytes), which
//! write to standard output and remember the first error instead of panicking; later
//! prints are skipped. [`finish`], called once by `main`, flushes and turns that error
//! into `error: cannot write to standard output: <reason>` and exit code 1, as coreutils
//! do. A closed pipe is the exception: SIGPIPE has its default action (see `main.rs`), so
//! `dvx log | head` ends quietly, and an EPIPE that still gets here is not reported.
//!
//! Invariant: only this module writes to standard output.

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::hint::{self, Hinted};

/// The first error writing standard output; once set, nothing more is written.
static FAILED: Mutex<Option<io::Error>> = Mutex::new(None);

/// Whether the process started with file descriptor 1 closed.
static STARTED_CLOSED: AtomicBool = AtomicBool::new(false);

/// Runs before `main` and before Rust's runtime, which reopens a closed descriptor 1 on
/// `/dev/null` (so no file dvx opens can take its place) and thereby hides that it was
/// closed. Recorded here, the first write fails as it would on the closed descriptor.
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
#[used]
#[unsafe(link_section = ".init_array")]
static NOTE_CLOSED_STDOUT: extern "C" fn() = {
    extern "C" fn note_closed_stdout() {
        // SAFETY: F_GETFD on a descriptor number only queries the process's fd table.
        if unsafe { libc::fcntl(libc::STDOUT_FILENO, libc::F_GETFD) } == -1 {
            STARTED_CLOSED.store(true, Ordering::Relaxed);
        }
    }
    note_closed_stdout
};

/// `println!` for the CLI: writes a line to standard output, or records why it could not.
macro_rules! outln {
    () => {
        $crate::cli::output::write_fmt(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::output::write_fmt(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` for the CLI: writes to standard output, or records why it could not.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::output::write_fmt(format_args!($($arg)*))
    };
}

fn failed() -> std::sync::MutexGuard<'static, Option<io::Error>> {
    // A panic elsewhere while printing cannot leave the slot half-written.
    FAILED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Write through `write` unless an earlier write failed; record the first failure.
fn write_with(
    write: impl FnOnce(&mut io::StdoutLock<'static>) -> io::Result<()>,
) -> io::Result<()> {
    let mut failed = failed();
    if let Some(e) = failed.as_ref() {
        return Err(io::Error::new(e.kind(), e.to_string()));
    }
    let result = if STARTED_CLOSED.load(Ordering::Relaxed) {
        Err(io::Error::from_raw_os_error(libc::EBADF))
    } else {
        write(&mut io::stdout().lock())
    };
    if let Err(e) = &result {
        *failed = Some(io::Error::new(e.kind(), e.to_string()));
    }
    result
}

/// What [`outln!`] and [`out!`] call.
pub fn write_fmt(args: std::fmt::Arguments<'_>) {
    let _ = write_with(|out| out.write_fmt(args));
}

/// Standard output as a writer, for raw bytes (`dvx cat`). An error is recorded for
/// [`finish`] to report, and also returned, so a copy stops at once.
pub struct Stdout;

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        write_with(|out| out.write_all(buf)).map(|()| buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        write_with(|out| out.flush())
    }
}

/// Whether writing standard output has failed.
pub fn has_failed() -> bool {
    failed().is_some()
}

/// Record the outcome of a write to standard output made elsewhere (clap printing help).
/// With standard output closed from the start, that write went nowhere.
pub fn record(result: io::Result<()>) {
    let result = match result {
        Ok(()) if STARTED_CLOSED.load(Ordering::Relaxed) => {
            Err(io::Error::from_raw_os_error(libc::EBADF))
        }
        other => other,
    };
    if let Err(e) = result {
        failed().get_or_insert(e);
    }
}

/// Flush standard output and report a failure to write it. The command's own exit code
/// stands unless it succeeded, in which case a failure makes it 1.
pub fn finish(code: ExitCode) -> ExitCode {
    if !STARTED_CLOSED.load(Ordering::Relaxed)
        && let Err(e) = io::stdout().lock().flush()
    {
        failed().get_or_insert(e);
    }
    let Some(error) = failed().take() else {
        return code;
    };
    if error.kind() == io::ErrorKind::BrokenPipe {
        return code;
    }
    hint::report(&anyhow::Error::from(error).context(Hinted::new(
        "cannot write to standard output",
        "the command ran, but its output is incomplete; check where standard output goes (a full disk, a closed descriptor)",
    )));
    if code == ExitCode::SUCCESS {
        ExitCode::FAILURE
    } else {
        code
    }
}

#[cfg(test)]
mod tests {
    /// Every print in `cli` goes through this module: a `println!` would panic on a full
    /// disk again.
    #[test]
    fn the_cli_prints_only_through_outln_and_out() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cli");
        let mut offenders = Vec::new();
        for entry in std::fs::read_dir(&dir).expect("list src/cli") {
            let path = entry.expect("entry").path();
            if path.file_name().is_some_and(|n| n == "output.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read source");
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                // `print!(` and `println!(`, not `eprint!(` and `eprintln!(`.
                let prints = ["print!(", "println!("].iter().any(|mac| {
                    code.match_indices(mac)
                        .any(|(i, _)| !code[..i].ends_with(|c: char| c.is_alphanumeric()))
                });
                if prints {
                    offenders.push(format!("{}:{}", path.display(), n + 1));
                }
            }
        }
        assert!(offenders.is_empty(), "use outln!/out!: {offenders:?}");
    }
}
