//! The dvx scenarios, run against the real binary in fresh git repositories, and the
//! optional comparison with dvc.
//!
//! The main chain shares one repository, because each step starts from the state the
//! previous one leaves (add, then status, commit, restore, switch). A scenario asked for
//! alone still runs the steps it needs first, unreported. Every step fails soft: its
//! error becomes a FAILED row and the chain goes on.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::Result;
use crate::config::{Config, Scenario, Selection};
use crate::dataset::{self, Dataset, LARGE_DIR, SMALL_DIR};
use crate::limits::Limits;
use crate::measure::{Measurement, Runner};
use crate::report::{Report, Row, Target};

/// Targets, as ratios to the limit named in each row (see bench/README.md).
const ADD_SMALL_MAX: f64 = 2.0;
const ADD_LARGE_MAX: f64 = 1.5;
const STATUS_MAX: f64 = 1.0;
const FULL_CHECKOUT_MAX: f64 = 1.5;
const CHECKOUT_1PCT_MAX: f64 = 0.10;
const LOG_MAX_SECS: f64 = 0.5;
const MEMORY_MAX_KIB_PER_FILE: f64 = 1.0;
const ADD_LINK_MAX: f64 = 2.0;

/// The repository directory `dvx init` creates (it holds the store).
const DVX_DIR: &str = ".dvx";
/// The branch `dvx init` starts on.
const MAIN_BRANCH: &str = "main";

/// The dvx repository of the main chain and what its steps have measured so far.
struct Chain<'a> {
    runner: &'a Runner,
    dataset: &'a Dataset,
    limits: &'a Limits,
    repo: PathBuf,
    /// Bytes and files that successful adds put in the store.
    stored_bytes: u64,
    tracked_files: usize,
    add_small: Option<Measurement>,
    status: Option<Measurement>,
    restore_secs: Option<f64>,
    base_commit: Option<String>,
}

/// What later comparisons need from the chain.
#[derive(Default)]
pub struct ChainOutcome {
    pub add_small_secs: Option<f64>,
}

type Step<'a> = fn(&mut Chain<'a>) -> Result<Vec<Row>>;

/// Run the selected dvx scenarios (and their setup steps) in one repository.
pub fn dvx_chain(
    runner: &Runner,
    dataset: &Dataset,
    limits: &Limits,
    sel: &Selection,
    work: &Path,
    report: &mut Report,
) -> ChainOutcome {
    let steps: [(Scenario, Step); 7] = [
        (Scenario::AddSmall, Chain::add_small),
        (Scenario::AddLarge, Chain::add_large),
        (Scenario::Commit, Chain::commit),
        (Scenario::StatusNoop, Chain::status_noop),
        (Scenario::RestoreAll, Chain::restore_all),
        (Scenario::Checkout1pct, Chain::checkout_1pct),
        (Scenario::Memory, Chain::memory),
    ];
    if !steps.iter().any(|(s, _)| sel.runs(*s)) {
        return ChainOutcome::default();
    }
    let mut chain = Chain {
        runner,
        dataset,
        limits,
        repo: work.join("dvx-repo"),
        stored_bytes: 0,
        tracked_files: 0,
        add_small: None,
        status: None,
        restore_secs: None,
        base_commit: None,
    };
    if let Err(e) = chain.setup(sel.runs(Scenario::AddLarge)) {
        for (s, _) in steps.iter().filter(|(s, _)| sel.reports(*s)) {
            report.push(Row::failed(s.name(), format!("repository setup: {e}")));
        }
        return ChainOutcome::default();
    }
    for (scenario, step) in steps {
        if sel.runs(scenario) {
            record(report, sel, scenario, step(&mut chain));
        }
    }
    if let Err(e) = runner.remove(&chain.repo) {
        println!("  warning: {e}");
    }
    ChainOutcome {
        add_small_secs: chain.add_small.map(|m| m.secs),
    }
}

/// Report a step's rows, or its failure; a setup-only step just prints.
fn record(report: &mut Report, sel: &Selection, scenario: Scenario, result: Result<Vec<Row>>) {
    match (result, sel.reports(scenario)) {
        (Ok(rows), true) => rows.into_iter().for_each(|r| report.push(r)),
        (Ok(_), false) => println!("  {:<24} done (setup)", scenario.name()),
        (Err(e), true) => report.push(Row::failed(scenario.name(), e)),
        (Err(e), false) => println!("  {:<24} FAILED (setup): {e}", scenario.name()),
    }
}

impl Chain<'_> {
    /// A git repository holding a copy of the dataset, with `dvx init` run in it.
    fn setup(&self, with_large: bool) -> Result<()> {
        let repo = &self.repo;
        fs::create_dir_all(repo).map_err(|e| format!("create {}: {e}", repo.display()))?;
        copy_into(self.runner, &self.dataset.small_dir(), repo)?;
        if with_large {
            copy_into(self.runner, &self.dataset.large_dir(), repo)?;
        }
        self.runner.run(self.runner.git(repo, &["init", "-q"]))?;
        self.runner.run(self.runner.dvx(repo, &["init"]))?;
        self.runner.sync()
    }

    fn dvx(&self, args: &[&str]) -> std::process::Command {
        self.runner.dvx(&self.repo, args)
    }

    /// Time `dvx <args>` + sync, after reading the repository trees `inputs` into the
    /// page cache (as the limits do with theirs).
    fn timed(&self, label: &str, args: &[&str], inputs: &[&str]) -> Result<Measurement> {
        for input in inputs {
            dataset::warm(&self.repo.join(input))?;
        }
        self.runner.measure_synced(label, self.dvx(args))
    }

    /// `dvx add data/` + sync, against cp + sync (+ hash) of the same bytes.
    fn add_small(&mut self) -> Result<Vec<Row>> {
        let m = self.timed("add_small", &["add", "data/"], &[SMALL_DIR])?;
        self.expect_stored(self.dataset.small_bytes(), self.dataset.small.len())?;
        self.add_small = Some(m);
        let limits = self.limits;
        Ok(vec![
            Row::secs(
                "add_small",
                m.secs,
                "cp+sync+blake3",
                limits.cp_hash_small(),
                Target::RatioAtMost(ADD_SMALL_MAX),
            ),
            Row::secs(
                "add_small",
                m.secs,
                "cp+sync",
                limits.cp_small,
                Target::None,
            ),
        ])
    }

    /// `dvx add big/` + sync, against cp + sync.
    fn add_large(&mut self) -> Result<Vec<Row>> {
        let m = self.timed("add_large", &["add", "big/"], &[LARGE_DIR])?;
        self.expect_stored(self.dataset.large_bytes(), self.dataset.large.len())?;
        let cp = self.limits.cp_large;
        Ok(vec![Row::secs(
            "add_large",
            m.secs,
            "cp+sync",
            cp,
            Target::RatioAtMost(ADD_LARGE_MAX),
        )])
    }

    /// Check that an add really stored its bytes: the store must have grown to hold
    /// everything added so far (random bytes neither compress nor deduplicate).
    fn expect_stored(&mut self, bytes: u64, files: usize) -> Result<()> {
        let (_, stored) = dataset::tree_stats(&self.repo.join(DVX_DIR))?;
        if stored < self.stored_bytes + bytes {
            return Err(format!(
                "add exited 0 but .dvx/ holds {stored} bytes, expected at least {}",
                self.stored_bytes + bytes
            ));
        }
        self.stored_bytes += bytes;
        self.tracked_files += files;
        Ok(())
    }

    /// No-op `dvx status`, warm, median of 3, against `git status --porcelain`.
    fn status_noop(&mut self) -> Result<Vec<Row>> {
        let m = self
            .runner
            .median("status_noop", 7, || self.dvx(&["status"]))?;
        let json = self.runner.run(self.dvx(&["status", "--json"]))?;
        serde_json::from_str::<serde_json::Value>(&json)
            .map_err(|e| format!("`dvx status --json` printed invalid JSON ({e}): {json:.200}"))?;
        self.status = Some(m);
        let git = self.limits.git_status;
        Ok(vec![Row::secs(
            "status_noop",
            m.secs,
            "git status --porcelain",
            git,
            Target::RatioAtMost(STATUS_MAX),
        )])
    }

    /// `dvx commit -m base` (time only); remembers the commit for `checkout_1pct`.
    fn commit(&mut self) -> Result<Vec<Row>> {
        let (m, stdout) = self
            .runner
            .measure_capture("commit", self.dvx(&["commit", "-m", "base"]))?;
        self.base_commit = Some(self.head_commit(&stdout)?);
        Ok(vec![Row::secs("commit", m.secs, "-", None, Target::None)])
    }

    /// The newest commit's id from `dvx log --json`, or else the last hex word that
    /// `dvx commit` printed.
    fn head_commit(&self, commit_stdout: &str) -> Result<String> {
        let log = self.runner.run(self.dvx(&["log", "--json"]));
        let from_log = log.as_deref().ok().and_then(newest_id);
        let from_commit = || {
            commit_stdout
                .split(|c: char| !c.is_ascii_hexdigit())
                .rfind(|w| w.len() >= 7)
                .map(str::to_owned)
        };
        from_log.or_else(from_commit).ok_or_else(|| {
            let why = log
                .err()
                .unwrap_or_else(|| "no \"id\" in its output".into());
            format!("no commit id: `dvx log --json`: {why}; `dvx commit` printed {commit_stdout:?}")
        })
    }

    /// Delete `data/`, then `dvx checkout -- data` + sync, against cp + sync.
    fn restore_all(&mut self) -> Result<Vec<Row>> {
        let data = self.repo.join(SMALL_DIR);
        // Move the files aside rather than delete them: right after 100k deletions ext4
        // skips the freed inodes while it allocates new ones ("recently deleted"), which
        // slows any program creating files then, and the cp limit was measured without it.
        let aside = self.repo.join("restore-aside");
        std::fs::rename(&data, &aside)
            .map_err(|e| format!("moving {} aside: {e}", data.display()))?;
        let m = self.timed("restore_all", &["checkout", "--", SMALL_DIR], &[DVX_DIR])?;
        self.runner.remove(&aside)?;
        dataset::verify_tree(&data, self.dataset.small.len(), self.dataset.small_bytes())?;
        self.restore_secs = Some(m.secs);
        let cp = self.limits.cp_small;
        Ok(vec![Row::secs(
            "restore_all",
            m.secs,
            "cp+sync",
            cp,
            Target::RatioAtMost(FULL_CHECKOUT_MAX),
        )])
    }

    /// Commit a change to 1% of the small files, then switch to the base commit and back,
    /// each against the full restore.
    fn checkout_1pct(&mut self) -> Result<Vec<Row>> {
        let base = self
            .base_commit
            .clone()
            .ok_or("no base commit (the commit step failed)")?;
        let changes = dataset::modify_one_percent(&self.repo, self.dataset)?;
        self.runner.run(self.dvx(&["add", "data/"]))?;
        self.runner.run(self.dvx(&["commit", "-m", "change"]))?;
        let inputs = [DVX_DIR, SMALL_DIR];
        let to_base = self.timed("checkout_base", &["checkout", &base], &inputs)?;
        dataset::verify_changes(&self.repo, &changes, false)?;
        let to_main = self.timed("checkout_main", &["checkout", MAIN_BRANCH], &inputs)?;
        dataset::verify_changes(&self.repo, &changes, true)?;
        let full = self.restore_secs;
        let target = Target::RatioAtMost(CHECKOUT_1PCT_MAX);
        Ok(vec![
            Row::secs(
                "checkout_1pct (to base)",
                to_base.secs,
                "restore_all",
                full,
                target,
            ),
            Row::secs(
                "checkout_1pct (to main)",
                to_main.secs,
                "restore_all",
                full,
                target,
            ),
        ])
    }

    /// Peak RSS of `dvx add data/` and `dvx status` per file they handle.
    fn memory(&mut self) -> Result<Vec<Row>> {
        let add = self.add_small.ok_or("add_small did not succeed")?;
        let status = self.status.ok_or("status_noop did not succeed")?;
        let target = Target::AtMost(MEMORY_MAX_KIB_PER_FILE);
        Ok(vec![
            Row::memory(
                "memory add_small",
                add.peak_rss_kib,
                self.dataset.small.len(),
                target,
            ),
            Row::memory(
                "memory status",
                status.peak_rss_kib,
                self.tracked_files,
                target,
            ),
        ])
    }
}

/// The `"id"` of the first (newest) entry of a `dvx log --json` array.
fn newest_id(log_json: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(log_json).ok()?;
    Some(value.as_array()?.first()?.get("id")?.as_str()?.to_owned())
}

/// `cp -r src <dir>/` (untimed setup).
fn copy_into(runner: &Runner, src: &Path, dir: &Path) -> Result<()> {
    let mut cp = runner.command("cp", dir);
    cp.arg("-r").arg(src).arg(".");
    runner.run(cp).map(|_| ())
}

/// `dvc add data` on the same small files, if dvc is installed; the row's ratio is dvx's
/// add_small time over dvc's.
pub fn dvc(
    runner: &Runner,
    dataset: &Dataset,
    chain: &ChainOutcome,
    work: &Path,
    report: &mut Report,
) {
    let mut version = runner.command("dvc", work);
    version.arg("--version");
    if runner.run(version).is_err() {
        report.skip("dvc", "not installed");
        return;
    }
    let repo = work.join("dvc-repo");
    let row = match dvc_add(runner, dataset, &repo) {
        Err(e) => Row::failed("dvc add (small)", e),
        Ok(_) if chain.add_small_secs.is_none() => Row::failed(
            "dvc add (small)",
            "dvx add_small failed: nothing to compare".into(),
        ),
        Ok(dvc) => {
            let dvx = chain.add_small_secs.unwrap_or_default();
            Row::secs(
                "add_small vs dvc",
                dvx,
                "dvc add + sync",
                Some(dvc.secs),
                Target::None,
            )
        }
    };
    report.push(row);
    if let Err(e) = runner.remove(&repo) {
        println!("  warning: {e}");
    }
}

fn dvc_add(runner: &Runner, dataset: &Dataset, repo: &Path) -> Result<Measurement> {
    fs::create_dir_all(repo).map_err(|e| format!("create {}: {e}", repo.display()))?;
    copy_into(runner, &dataset.small_dir(), repo)?;
    runner.run(runner.git(repo, &["init", "-q"]))?;
    let mut init = runner.command("dvc", repo);
    init.args(["init", "-q"]);
    runner.run(init)?;
    let mut add = runner.command("dvc", repo);
    add.args(["add", "-q", SMALL_DIR]);
    dataset::warm(&repo.join(SMALL_DIR))?;
    runner.measure_synced("dvc_add", add)
}

/// `dvx add data` in hard-link mode (`core.link = "hardlink"`) on a copy of the small
/// files, in a repository of its own: each file is hashed and becomes its object, no
/// byte is copied, so the limit is hashing the same bytes (BLAKE3 on all cores, what
/// `b3sum` does).
pub fn add_link(
    runner: &Runner,
    dataset: &Dataset,
    limits: &Limits,
    work: &Path,
    report: &mut Report,
) {
    let repo = work.join("link-repo");
    // The issue's yardstick is `b3sum` over the same files: a process that walks them
    // and reads each once, as add does. Measured when it is installed, before add makes
    // the files read-only objects (the page cache is warm for both).
    let b3sum = b3sum_of(runner, &dataset.small_dir());
    let added = add_link_in(runner, dataset, &repo);
    match &added {
        Ok(m) => {
            report.push(Row::secs(
                "add_link (hardlink)",
                m.secs,
                "blake3",
                limits.hash_small,
                Target::RatioAtMost(ADD_LINK_MAX),
            ));
            if let Some(b3sum) = b3sum {
                report.push(Row::secs(
                    "add_link (hardlink) vs b3sum",
                    m.secs,
                    "b3sum",
                    Some(b3sum),
                    Target::RatioAtMost(ADD_LINK_MAX),
                ));
            }
        }
        Err(e) => report.push(Row::failed("add_link", e.clone())),
    }
    if let Err(e) = runner.remove(&repo) {
        println!("  warning: {e}");
    }
}

/// Seconds `b3sum` takes over every file below `dir` (`find | xargs b3sum`), the median of
/// 3 after a warm-up; `None` when `b3sum` is not installed.
fn b3sum_of(runner: &Runner, dir: &Path) -> Option<f64> {
    let mut version = runner.command("b3sum", dir);
    version.arg("--version");
    runner.run(version).ok()?;
    dataset::warm(dir).ok()?;
    let hash_all = || {
        let mut cmd = runner.command("sh", dir);
        cmd.args(["-c", "find . -type f -print0 | xargs -0 b3sum > /dev/null"]);
        cmd
    };
    runner.run(hash_all()).ok()?;
    runner.median("b3sum", 3, hash_all).ok().map(|m| m.secs)
}

fn add_link_in(runner: &Runner, dataset: &Dataset, repo: &Path) -> Result<Measurement> {
    fs::create_dir_all(repo).map_err(|e| format!("create {}: {e}", repo.display()))?;
    copy_into(runner, &dataset.small_dir(), repo)?;
    runner.run(runner.git(repo, &["init", "-q"]))?;
    runner.run(runner.dvx(repo, &["init"]))?;
    let config = repo.join(DVX_DIR).join("config.toml");
    let text = fs::read_to_string(&config).map_err(|e| format!("{}: {e}", config.display()))?;
    let linked = text.replace("link = \"reflink,copy\"", "link = \"hardlink\"");
    if linked == text {
        return Err(format!("no link line in {}", config.display()));
    }
    fs::write(&config, linked).map_err(|e| format!("{}: {e}", config.display()))?;
    runner.sync()?;
    dataset::warm(&repo.join(SMALL_DIR))?;
    let m = runner.measure_synced("add_link", runner.dvx(repo, &["add", "data/"]))?;
    // Every file must now be its object: the store holds the bytes, the work tree shares
    // them.
    let (_, stored) = dataset::tree_stats(&repo.join(DVX_DIR))?;
    if stored < dataset.small_bytes() {
        return Err(format!(
            "add exited 0 but .dvx/ holds {stored} bytes, expected at least {}",
            dataset.small_bytes()
        ));
    }
    Ok(m)
}

/// `dvx log --oneline` over `commits` commits made in a small repository of its own.
pub fn log(runner: &Runner, config: &Config, work: &Path, report: &mut Report) {
    if !config.selection.runs(Scenario::Log10k) {
        if !config.selection.explicit {
            report.skip(
                "log_10k",
                "set DVX_BENCH_LOG=1 to run (2 dvx runs per commit)",
            );
        }
        return;
    }
    let repo = work.join("log-repo");
    let row = build_history(runner, &repo, config.log_commits)
        .and_then(|()| time_log(runner, &repo, config.log_commits))
        .map_or_else(
            |e| Row::failed("log_10k", e),
            |secs| {
                let reference = format!("{} commits", config.log_commits);
                Row::secs(
                    "log_10k",
                    secs,
                    &reference,
                    None,
                    Target::AtMost(LOG_MAX_SECS),
                )
            },
        );
    report.push(row);
    if let Err(e) = runner.remove(&repo) {
        println!("  warning: {e}");
    }
}

/// `commits` commits, each changing one tiny file.
fn build_history(runner: &Runner, repo: &Path, commits: usize) -> Result<()> {
    fs::create_dir_all(repo).map_err(|e| format!("create {}: {e}", repo.display()))?;
    runner.run(runner.git(repo, &["init", "-q"]))?;
    runner.run(runner.dvx(repo, &["init"]))?;
    let file = repo.join("f");
    let start = Instant::now();
    for i in 0..commits {
        fs::write(&file, format!("{i}\n")).map_err(|e| format!("write {}: {e}", file.display()))?;
        runner.run(runner.dvx(repo, &["add", "f"]))?;
        runner.run(runner.dvx(repo, &["commit", "-m", &format!("commit {i}")]))?;
        if (i + 1) % 1000 == 0 {
            println!(
                "  log_10k: {} commits in {:.0} s",
                i + 1,
                start.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}

/// Warm median of 3 `dvx log --oneline > /dev/null`, after checking it lists every commit.
fn time_log(runner: &Runner, repo: &Path, commits: usize) -> Result<f64> {
    let lines = runner
        .run(runner.dvx(repo, &["log", "--oneline"]))?
        .lines()
        .count();
    if lines < commits {
        return Err(format!(
            "`dvx log --oneline` listed {lines} commits, expected {commits}"
        ));
    }
    Ok(runner
        .median("log", 3, || runner.dvx(repo, &["log", "--oneline"]))?
        .secs)
}
