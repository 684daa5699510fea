//! Run settings, read from `DVX_BENCH_*` environment variables, and scenario selection.

use std::collections::BTreeSet;
use std::env;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::Result;

/// One thing the harness can measure; `DVX_BENCH_ONLY` names these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scenario {
    AddSmall,
    AddLarge,
    StatusNoop,
    Commit,
    RestoreAll,
    Checkout1pct,
    Memory,
    Log10k,
    Dvc,
    RemoteSmall,
    RemoteBulk,
    LazyOne,
    AddLink,
    Tiny,
}

impl Scenario {
    pub const ALL: [Scenario; 14] = [
        Scenario::AddSmall,
        Scenario::AddLarge,
        Scenario::StatusNoop,
        Scenario::Commit,
        Scenario::RestoreAll,
        Scenario::Checkout1pct,
        Scenario::Memory,
        Scenario::Log10k,
        Scenario::Dvc,
        Scenario::RemoteSmall,
        Scenario::RemoteBulk,
        Scenario::LazyOne,
        Scenario::AddLink,
        Scenario::Tiny,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::AddSmall => "add_small",
            Scenario::AddLarge => "add_large",
            Scenario::StatusNoop => "status_noop",
            Scenario::Commit => "commit",
            Scenario::RestoreAll => "restore_all",
            Scenario::Checkout1pct => "checkout_1pct",
            Scenario::Memory => "memory",
            Scenario::Log10k => "log_10k",
            Scenario::Dvc => "dvc",
            Scenario::RemoteSmall => "remote_small",
            Scenario::RemoteBulk => "remote_bulk",
            Scenario::LazyOne => "lazy_one",
            Scenario::AddLink => "add_link",
            Scenario::Tiny => "tiny",
        }
    }

    /// The remote scenarios, which generate datasets of their own.
    pub fn is_remote(self) -> bool {
        matches!(
            self,
            Scenario::RemoteSmall | Scenario::RemoteBulk | Scenario::LazyOne
        )
    }

    fn parse(name: &str) -> Option<Scenario> {
        // `full_checkout` is the target checked on the restore_all row.
        if name == "full_checkout" {
            return Some(Scenario::RestoreAll);
        }
        Scenario::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Scenarios whose state or numbers this one needs; they run first, as setup.
    fn needs(self) -> &'static [Scenario] {
        use Scenario::*;
        match self {
            AddSmall | AddLarge | Log10k | RemoteSmall | RemoteBulk | LazyOne | AddLink | Tiny => {
                &[]
            }
            Commit => &[AddSmall, AddLarge],
            // A no-op status is one of a clean, committed tree, as git's yardstick is.
            StatusNoop => &[AddSmall, AddLarge, Commit],
            RestoreAll | Dvc => &[AddSmall],
            Checkout1pct => &[Commit, RestoreAll],
            Memory => &[AddSmall, StatusNoop],
        }
    }
}

/// Which scenarios were asked for, and which must run (asked for plus their setup).
pub struct Selection {
    selected: BTreeSet<Scenario>,
    run: BTreeSet<Scenario>,
    /// `DVX_BENCH_ONLY` was given, so unnamed scenarios are silently left out.
    pub explicit: bool,
}

impl Selection {
    fn new(selected: BTreeSet<Scenario>, explicit: bool) -> Selection {
        let mut run = BTreeSet::new();
        let mut todo: Vec<Scenario> = selected.iter().copied().collect();
        while let Some(s) = todo.pop() {
            if run.insert(s) {
                todo.extend_from_slice(s.needs());
            }
        }
        Selection {
            selected,
            run,
            explicit,
        }
    }

    /// Report this scenario's rows.
    pub fn reports(&self, s: Scenario) -> bool {
        self.selected.contains(&s)
    }

    /// Run this scenario (reported or as setup for another).
    pub fn runs(&self, s: Scenario) -> bool {
        self.run.contains(&s)
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.selected.iter().map(|s| s.name()).collect()
    }
}

pub struct Config {
    /// Number of small files.
    pub files: usize,
    /// Number of large files.
    pub large: usize,
    /// Size of each large file in bytes.
    pub large_bytes: u64,
    pub seed: u64,
    /// Directory under which the work dir is created.
    pub base_dir: PathBuf,
    pub selection: Selection,
    /// Commits made for `log_10k`.
    pub log_commits: usize,
    /// Files pushed and pulled by `remote_small` and `remote_bulk`.
    pub remote_files: usize,
    /// Files of the commit `lazy_one` pulls one file from.
    pub lazy_files: usize,
    /// Tiny files of the `tiny` scenario (0: the scenario is off unless named).
    pub tiny: usize,
    pub json_path: PathBuf,
    pub keep: bool,
    /// MiB of memory primed before each timed command (see `measure`'s module doc).
    pub prime_mib: usize,
    /// Seconds to let pass after a removal before `remote_small` and `remote_bulk` (see
    /// `settle`); `None`: the file system's own window.
    pub settle_secs: Option<u64>,
    /// The dvx binary under test.
    pub dvx: PathBuf,
}

impl Config {
    pub fn from_env() -> Result<Config> {
        let target_tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let target_dir = target_tmp.parent().unwrap_or(target_tmp);
        Ok(Config {
            files: number("DVX_BENCH_FILES", 100_000)?,
            large: number("DVX_BENCH_LARGE", 2)?,
            large_bytes: number("DVX_BENCH_LARGE_BYTES", 1 << 30)?,
            seed: number("DVX_BENCH_SEED", 1)?,
            base_dir: path("DVX_BENCH_DIR", target_tmp),
            selection: selection()?,
            log_commits: number("DVX_BENCH_LOG_COMMITS", 10_000)?,
            remote_files: number("DVX_BENCH_REMOTE_FILES", 20_000)?,
            lazy_files: number("DVX_BENCH_LAZY_FILES", 100_000)?,
            tiny: number("DVX_BENCH_TINY", 0)?,
            json_path: path("DVX_BENCH_JSON", &target_dir.join("bench-results.json")),
            keep: flag("DVX_BENCH_KEEP"),
            prime_mib: number("DVX_BENCH_PRIME_MIB", default_prime_mib())?,
            settle_secs: optional_number("DVX_BENCH_SETTLE_SECS")?,
            dvx: path("DVX_BENCH_BIN", Path::new(env!("CARGO_BIN_EXE_dvx"))),
        })
    }
}

/// MiB primed before each timed command unless `DVX_BENCH_PRIME_MIB` says: 4 GiB, or half
/// the memory free when the run starts if that is less (1 GiB where `/proc/meminfo`
/// cannot be read), so that a small machine is not pushed into reclaim by the priming
/// alone; the datasets cached later can still be, and there a smaller setting is
/// better. 1 GiB was not enough on a VM whose host had taken back guest memory
/// after a test suite: 20k-file pushes took 0.52-0.61 s of system time after priming
/// 0 or 1 GiB and 0.22-0.27 s after 4 GiB (alternating, same minutes).
fn default_prime_mib() -> usize {
    const MOST: usize = 4096;
    let free_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            let line = info.lines().find(|l| l.starts_with("MemFree:"))?;
            line.split_whitespace().nth(1)?.parse::<usize>().ok()
        });
    free_kib.map_or(MOST / 4, |kib| MOST.min(kib / 1024 / 2))
}

fn var(name: &str) -> Option<String> {
    env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A number, or `default` when unset; `_` separators are allowed (`100_000`).
fn number<T: FromStr>(name: &str, default: T) -> Result<T> {
    Ok(optional_number(name)?.unwrap_or(default))
}

/// A number, or `None` when unset.
fn optional_number<T: FromStr>(name: &str) -> Result<Option<T>> {
    var(name)
        .map(|v| {
            v.trim()
                .replace('_', "")
                .parse()
                .map_err(|_| format!("{name}={v:?} is not a non-negative integer"))
        })
        .transpose()
}

fn path(name: &str, default: &Path) -> PathBuf {
    var(name).map_or_else(|| default.to_path_buf(), PathBuf::from)
}

fn flag(name: &str) -> bool {
    var(name).is_some_and(|v| matches!(v.trim(), "1" | "true" | "yes"))
}

/// `DVX_BENCH_ONLY` (a comma list) or everything; `log_10k` only when named or
/// `DVX_BENCH_LOG=1`, because it spawns dvx twice per commit; `tiny` only when named or
/// `DVX_BENCH_TINY` is set, because it writes a million files.
fn selection() -> Result<Selection> {
    let only = var("DVX_BENCH_ONLY");
    let mut selected = match &only {
        Some(list) => parse_list(list)?,
        None => Scenario::ALL
            .into_iter()
            .filter(|s| !matches!(s, Scenario::Log10k | Scenario::Tiny))
            .collect(),
    };
    if flag("DVX_BENCH_LOG") {
        selected.insert(Scenario::Log10k);
    }
    if var("DVX_BENCH_TINY").is_some_and(|v| v.trim() != "0") {
        selected.insert(Scenario::Tiny);
    }
    Ok(Selection::new(selected, only.is_some()))
}

fn parse_list(list: &str) -> Result<BTreeSet<Scenario>> {
    let names = list.split(',').map(str::trim).filter(|n| !n.is_empty());
    names
        .map(|n| {
            Scenario::parse(n).ok_or_else(|| {
                let valid: Vec<_> = Scenario::ALL.iter().map(|s| s.name()).collect();
                format!(
                    "DVX_BENCH_ONLY: unknown scenario {n:?}; valid: {}, full_checkout",
                    valid.join(", ")
                )
            })
        })
        .collect()
}
