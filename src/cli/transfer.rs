//! Rendering what a transfer cost (push, fetch, pull, clone, the pre-push hook): the
//! summary line and its JSON shape, and the environment handed to the remote layer.

use dvx::remote::{Environment, RemoteSource, TransferStats};
use serde::Serialize;

use super::render;

/// The process environment, for the remote layer (credentials and endpoints come from
/// `AWS_*`, `GOOGLE_*`, `AZURE_*`). The library never reads it itself.
pub fn environment() -> Environment {
    std::env::vars().collect()
}

/// `pushed 3 files (1.2 MiB) in 12 requests, 0.4 s, 3.0 MiB/s`.
pub fn summary(verb: &str, unit: (&str, &str), stats: &TransferStats) -> String {
    let secs = stats.elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        (stats.bytes as f64 / secs) as u64
    } else {
        0
    };
    format!(
        "{verb} {} ({}) in {}, {secs:.1} s, {}/s",
        render::plural(stats.objects as usize, unit.0, unit.1),
        render::size(stats.bytes),
        render::plural(stats.requests as usize, "request", "requests"),
        render::size(rate)
    )
}

/// A transfer in `--json` output.
#[derive(Serialize)]
pub struct JsonTransfer {
    /// Objects moved.
    pub objects: u64,
    /// Objects asked for that were there already.
    pub skipped: u64,
    /// Bytes over the wire.
    pub bytes: u64,
    pub requests: u64,
    pub seconds: f64,
}

impl From<&TransferStats> for JsonTransfer {
    fn from(s: &TransferStats) -> Self {
        JsonTransfer {
            objects: s.objects,
            skipped: s.skipped,
            bytes: s.bytes,
            requests: s.requests,
            seconds: s.elapsed.as_secs_f64(),
        }
    }
}

/// What a remote source cost (`pull <paths>`, `drop`, `fsck --remote`), for `--json`:
/// the remote, its URL, and the transfer.
#[derive(Serialize)]
pub struct JsonSourceTransfer {
    pub remote: String,
    pub url: String,
    #[serde(flatten)]
    pub stats: JsonTransfer,
}

impl JsonSourceTransfer {
    pub fn of(source: &RemoteSource) -> JsonSourceTransfer {
        JsonSourceTransfer {
            remote: source.name().to_owned(),
            url: source.url().to_owned(),
            stats: JsonTransfer::from(&source.stats()),
        }
    }
}
