//! Progress reporting from long operations, without printing.
//!
//! Library functions take a `&dyn Progress` and tell it what they are doing; the CLI
//! implements it with progress bars on a terminal and nothing on a pipe. Implementations
//! must be cheap and thread-safe: `advance` is called from worker threads per file.

/// Receives progress from a long operation.
pub trait Progress: Sync {
    /// A new phase begins: `what` names it ("hashing", "checking out"); `total` is the
    /// number of units (files or bytes, as `unit` says) when known.
    fn start(&self, what: &str, total: Option<u64>, unit: Unit) {
        let _ = (what, total, unit);
    }

    /// `n` more units are done.
    fn advance(&self, n: u64) {
        let _ = n;
    }

    /// The current phase is over.
    fn finish(&self) {}
}

/// What a phase counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Files,
    Bytes,
}

/// Reports nothing.
pub struct Silent;

impl Progress for Silent {}
