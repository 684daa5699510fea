//! The `dvx` command.

mod cli;

fn main() -> std::process::ExitCode {
    // Rust ignores SIGPIPE, so `dvx log | head` would panic in println! once head exits.
    // End quietly instead, as git and other Unix tools do. Every write is atomic, so a
    // command ended this way leaves the repository as a crash would: consistent.
    #[cfg(unix)]
    // SAFETY: called before any thread exists; SIG_DFL is a valid disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    cli::main()
}
