//! The remote scenarios, each on a dataset of its own:
//!
//! - `remote_small`: push and pull of many small files (1-16 KiB) to a directory remote
//!   and to the S3 protocol server the tests use (s3s + s3s-fs, started in this
//!   process), with the requests each took; DVC on the same data and the same kind of
//!   remote when `dvc` is on `PATH`. dvx's rows are the median of [`SMALL_ROUNDS`]
//!   rounds, each to a remote and into a clone of its own.
//! - `remote_bulk`: push and pull of many files of 1-81 KiB (~800 MiB at 20k files) to a
//!   directory remote, against `cp -r` + `sync` of the same bytes.
//! - `lazy_one`: in a clone of a commit of many files, the pull of one file: its time and
//!   the bytes it moved against the dataset's.
//!
//! The remote is added with `dvx remote add`, the push is the real `dvx push`, and every
//! pull is the real `dvx pull <paths>` in a fresh `git clone`, whose first pull also
//! fetches the remote's history (as `dvx fetch` does). Every write is followed by
//! `sync`, as for the other scenarios, and each pull is checked (files and bytes) before
//! its time counts. Each works in a directory of its own, removed when it is done, and
//! the two that create many files start once the file system has settled (see
//! `settle`).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use dvx::remote::Environment;
use serde_json::Value;

use crate::Result;
use crate::config::{Config, Scenario};
use crate::dataset::{self, Dataset, SMALL_DIR};
use crate::limits;
use crate::measure::{Measurement, Runner};
use crate::report::{Report, Row, Target, Unit};
use crate::s3_server::S3Server;

/// At least 10x faster than DVC on the same data and the same kind of remote.
const VS_DVC_MAX: f64 = 0.1;
/// About N/1000 requests for N small files: at most 3x N/1000.
const REQUESTS_VS_N_PER_1000_MAX: f64 = 3.0;
/// Push and pull of the bulk set within 2x of `cp -r` + `sync`.
const BULK_VS_CP_MAX: f64 = 2.0;
/// A lazy pull of one file: under a second, and under 1% of the dataset's bytes.
const LAZY_ONE_MAX_SECS: f64 = 1.0;
const LAZY_ONE_MAX_FRACTION: f64 = 0.01;

const KIB: u64 = 1024;
const SMALL_SIZES: (u64, u64) = (KIB, 16 * KIB);
const BULK_SIZES: (u64, u64) = (KIB, 81 * KIB);

/// Run the selected remote scenarios.
pub fn run(runner: &Runner, config: &Config, work: &Path, report: &mut Report) {
    // Whether a scenario settles first: the timed steps of `remote_small` and
    // `remote_bulk` create tens of thousands of files, and a file system still passing
    // over the inodes of files removed minutes ago would decide their rows (see
    // `settle`); those of `lazy_one` create a file or two.
    let scenarios: [(Scenario, RemoteScenario, bool); 3] = [
        (Scenario::RemoteSmall, small, true),
        (Scenario::RemoteBulk, bulk, true),
        (Scenario::LazyOne, lazy_one, false),
    ];
    for (scenario, f, settles) in scenarios {
        if !config.selection.runs(scenario) {
            continue;
        }
        let name = scenario.name();
        let dir = work.join(name);
        if settles {
            runner.settle(name);
        }
        let rows = fs::create_dir_all(&dir)
            .map_err(|e| format!("create {}: {e}", dir.display()))
            .and_then(|()| f(runner, config, &dir));
        match rows {
            Ok(rows) => rows.into_iter().for_each(|r| report.push(r)),
            Err(e) => report.push(Row::failed(name, e)),
        }
        // Removed as soon as the scenario is done, S3 bucket and all: keeping every
        // remote scenario's files to the end took 15 GB at 20k files, and the next
        // scenario that creates many files settles first instead.
        if let Err(e) = runner.remove(&dir) {
            println!("  warning: {e}");
        }
    }
}

type RemoteScenario = fn(&Runner, &Config, &Path) -> Result<Vec<Row>>;

/// Timed rounds of `remote_small`'s push and pull, each to a remote and into a clone
/// of its own; a row is their median. One run of a second or two is at the mercy of
/// what the disk is doing (writeback of earlier steps, inode allocation after many
/// deletions), and a second run against the same remote would push nothing. DVC's runs
/// take ten times as long, so a hiccup weighs a tenth as much there: it runs once.
const SMALL_ROUNDS: usize = 5;

/// A kind of remote to push to, one location of it per round, and what dvx (and DVC)
/// need to reach it.
struct Place {
    /// `dir` or `s3`.
    name: &'static str,
    /// One empty location per round; the first is the remote named `origin` (the
    /// default), round `r` pushes to the remote named [`round_remote`]`(r)`.
    urls: Vec<String>,
    env: Environment,
    server: Option<S3Server>,
}

impl Place {
    /// `rounds` directory remotes below `dir`.
    fn directory(dir: PathBuf, rounds: usize) -> Place {
        Place {
            name: "dir",
            urls: (0..rounds)
                .map(|r| dir.join(format!("r{r}")).to_string_lossy().into_owned())
                .collect(),
            env: Environment::new(),
            server: None,
        }
    }

    /// `rounds` prefixes of one bucket of an S3 server started for this place.
    fn s3(work: &Path, prefix: &str, rounds: usize) -> Place {
        let mut server = S3Server::start_in(work);
        // DVC's objects alone are tens of thousands of files: they go with the scenario's
        // directory, through the runner, which then knows to settle (see `run`).
        server.keep_files();
        Place {
            name: "s3",
            urls: (0..rounds)
                .map(|r| server.url(&format!("{prefix}-{r}")))
                .collect(),
            env: server.env(),
            server: Some(server),
        }
    }

    /// Requests the S3 server answered so far (`None` for a directory).
    fn served_requests(&self) -> Option<u64> {
        self.server.as_ref().map(|s| s.served().0)
    }
}

/// The remote that round `r` pushes to and pulls from: `origin` (the default) first.
fn round_remote(r: usize) -> String {
    match r {
        0 => "origin".to_owned(),
        _ => format!("r{r}"),
    }
}

/// A git repository at `repo` holding `data`, with dvx, the place's remotes configured
/// (in the tracked config, so a clone has them), the data committed and `dvx.lock` in
/// git.
fn origin(runner: &Runner, data: &Dataset, repo: &Path, place: &Place) -> Result<()> {
    fs::create_dir_all(repo).map_err(|e| format!("create {}: {e}", repo.display()))?;
    let mut cp = runner.command("cp", repo);
    cp.arg("-r").arg(data.small_dir()).arg(".");
    runner.run(cp)?;
    runner.run(runner.git(repo, &["init", "-q"]))?;
    runner.run(runner.dvx(repo, &["init"]))?;
    for (r, url) in place.urls.iter().enumerate() {
        let mut add = runner.dvx(repo, &["remote", "add", &round_remote(r), url]);
        add.envs(&place.env);
        runner.run(add)?;
    }
    let start = Instant::now();
    runner.run(runner.dvx(repo, &["add", SMALL_DIR]))?;
    runner.run(runner.dvx(repo, &["commit", "-m", "data"]))?;
    println!(
        "  setup: dvx add + commit of {} files in {:.1} s",
        data.small.len(),
        start.elapsed().as_secs_f64()
    );
    runner.run(runner.git(repo, &["add", "-A"]))?;
    runner.run(runner.git(repo, &["commit", "-q", "-m", "data"]))?;
    runner.sync()
}

/// Time `dvx push --json <remote>` + `sync` in `repo` (its branch, and every object it
/// reaches); the measurement (its seconds include the `sync`) and the JSON report.
fn push(
    runner: &Runner,
    label: &str,
    repo: &Path,
    place: &Place,
    remote: &str,
) -> Result<(Measurement, Value)> {
    dvx_json(runner, label, repo, place, "push", &[remote])
}

/// `git clone` of `origin` at `clone` (untimed).
fn clone(runner: &Runner, origin: &Path, clone: &Path) -> Result<()> {
    let parent = clone.parent().unwrap_or(Path::new("."));
    let mut git = runner.git(parent, &["clone", "-q"]);
    git.arg(origin).arg(clone);
    runner.run(git).map(|_| ())
}

/// Time `dvx pull --json <args>` + sync in `repo`; the measurement (its seconds include
/// the `sync`) and the JSON report.
fn pull(
    runner: &Runner,
    label: &str,
    repo: &Path,
    place: &Place,
    args: &[&str],
) -> Result<(Measurement, Value)> {
    dvx_json(runner, label, repo, place, "pull", args)
}

/// Time `dvx <verb> --json <args>` + `sync` in `repo`, reaching the place's remote, after
/// an untimed `sync`; the measurement (its seconds include the `sync`) and the JSON
/// report.
fn dvx_json(
    runner: &Runner,
    label: &str,
    repo: &Path,
    place: &Place,
    verb: &str,
    args: &[&str],
) -> Result<(Measurement, Value)> {
    let mut all = vec![verb, "--json"];
    all.extend_from_slice(args);
    let mut cmd = runner.dvx(repo, &all);
    cmd.envs(&place.env);
    runner.sync()?;
    let (m, out) = runner.measure_capture(label, cmd)?;
    let start = Instant::now();
    runner.sync()?;
    let json: Value = serde_json::from_str(&out)
        .map_err(|e| format!("`dvx {verb} --json` printed invalid JSON ({e}): {out:.200}"))?;
    let secs = m.secs + start.elapsed().as_secs_f64();
    Ok((Measurement { secs, ..m }, json))
}

fn transfer(json: &Value, field: &str) -> f64 {
    json["transfer"][field].as_f64().unwrap_or(f64::NAN)
}

/// `remote_small`: push and pull to a directory remote and the S3 server, and DVC.
fn small(runner: &Runner, config: &Config, work: &Path) -> Result<Vec<Row>> {
    let n = config.remote_files;
    let data = dataset::generate_sized(
        &work.join("remote-small-data"),
        config.seed,
        n,
        SMALL_SIZES,
        0,
        0,
    )?;
    runner.sync()?;
    println!(
        "  remote_small: {n} files, {:.1} MiB",
        data.small_bytes() as f64 / (1 << 20) as f64
    );
    // One copy of the same files, kept until the scenario is done (see
    // `limits::copy_kept`). A pull writes two copies (the store's and the work tree's,
    // unless the file system can clone), so this bounds what any pull can reach.
    let cp_dir = work.join("remote-small-cp");
    let cp = limits::copy_kept(runner, &data.small_dir(), &cp_dir)?;
    println!("  limit cp -r + sync (small)        {cp:>9.3} s");
    let dvc = dvc_version(runner, work);
    if dvc.is_none() {
        println!("  remote_small: dvc is not on PATH; no DVC comparison");
    }
    let mut rows = Vec::new();
    // The directory remote is a directory of its own: only an empty location becomes a
    // dvx remote, and `remote-small-dir` holds this place's repositories.
    let places = [
        Place::directory(work.join("remote-small-store"), SMALL_ROUNDS),
        Place::s3(work, "team/dvx", SMALL_ROUNDS),
    ];
    let mut pulls = Vec::new();
    for place in &places {
        let result = small_on(runner, &data, place, dvc.is_some(), work);
        match result {
            Ok((r, pull_secs)) => {
                rows.extend(r);
                pulls.push((place.name, pull_secs));
            }
            Err(e) => rows.push(Row::failed(&format!("remote_small ({})", place.name), e)),
        }
    }
    for (name, pull_secs) in pulls {
        rows.push(Row::secs(
            &format!("pull_small ({name}) vs one copy"),
            pull_secs,
            "cp -r + sync",
            Some(cp),
            Target::None,
        ));
    }
    Ok(rows)
}

fn small_on(
    runner: &Runner,
    data: &Dataset,
    place: &Place,
    with_dvc: bool,
    work: &Path,
) -> Result<(Vec<Row>, f64)> {
    let n = data.small.len();
    let per_thousand = (n as f64 / 1000.0).max(1.0);
    let base = work.join(format!("remote-small-{}", place.name));
    let repo = base.join("origin");
    origin(runner, data, &repo, place)?;
    let mut rounds = Vec::with_capacity(place.urls.len());
    for r in 0..place.urls.len() {
        let round = small_round(runner, data, place, &base, r)?;
        println!(
            "  remote_small ({}) round {}: push {}, pull {}",
            place.name,
            r + 1,
            timing(&round.push, round.push_requests),
            timing(&round.pull, round.pull_requests),
        );
        rounds.push(round);
    }
    let push_secs = median_of(&rounds, |r| r.push.secs);
    let pull_secs = median_of(&rounds, |r| r.pull.secs);
    // Every round moves the same objects; the most requests any took is the row.
    let most = |field: fn(&Round) -> f64| rounds.iter().map(field).fold(0.0, f64::max);
    let push_requests = most(|r| r.push_requests);
    let pull_requests = most(|r| r.pull_requests);
    println!(
        "  remote_small ({}): median of {}: push {push_secs:.2} s, pull {pull_secs:.2} s",
        place.name,
        rounds.len()
    );
    let (dvc_push, dvc_pull) = if with_dvc {
        match dvc_push_pull(runner, data, place, &base) {
            Ok(times) => (Some(times.0), Some(times.1)),
            Err(e) => {
                println!("  remote_small ({}): dvc FAILED: {e}", place.name);
                (None, None)
            }
        }
    } else {
        (None, None)
    };
    let vs_dvc = |dvc: Option<f64>| {
        if dvc.is_some() {
            Target::RatioAtMost(VS_DVC_MAX)
        } else {
            Target::None
        }
    };
    let name = place.name;
    let rows = vec![
        Row::secs(
            &format!("push_small ({name})"),
            push_secs,
            "dvc push + sync",
            dvc_push,
            vs_dvc(dvc_push),
        ),
        Row::secs(
            &format!("pull_small ({name})"),
            pull_secs,
            "dvc pull + sync",
            dvc_pull,
            vs_dvc(dvc_pull),
        ),
        Row::count(
            &format!("push_small requests ({name})"),
            push_requests,
            Unit::Requests,
            "N/1000",
            Some(per_thousand),
            Target::RatioAtMost(REQUESTS_VS_N_PER_1000_MAX),
        ),
        Row::count(
            &format!("pull_small requests ({name})"),
            pull_requests,
            Unit::Requests,
            "N/1000",
            Some(per_thousand),
            Target::RatioAtMost(REQUESTS_VS_N_PER_1000_MAX),
        ),
    ];
    Ok((rows, pull_secs))
}

/// What one round of `remote_small` took on one place.
struct Round {
    push: Measurement,
    pull: Measurement,
    push_requests: f64,
    pull_requests: f64,
}

/// Round `r`: push `repo` to the round's remote, then pull the whole dataset into a
/// fresh clone from it (checked file by file count and bytes). Requests are counted by
/// the S3 server itself when there is one (every request, listing and refs included),
/// else they are dvx's own count of its upload or pull.
fn small_round(
    runner: &Runner,
    data: &Dataset,
    place: &Place,
    base: &Path,
    r: usize,
) -> Result<Round> {
    let remote = round_remote(r);
    let repo = base.join("origin");
    let served = place.served_requests();
    let label = |verb: &str| format!("{verb}_small_{}_{}", place.name, r + 1);
    let (push_m, push_json) = push(runner, &label("push"), &repo, place, &remote)?;
    let push_served = place.served_requests().zip(served).map(|(b, a)| b - a);
    let cloned = base.join(format!("clone-{}", r + 1));
    clone(runner, &repo, &cloned)?;
    let served = place.served_requests();
    let (pull_m, pull_json) = pull(
        runner,
        &label("pull"),
        &cloned,
        place,
        &["--remote", &remote, SMALL_DIR],
    )?;
    let pull_served = place.served_requests().zip(served).map(|(b, a)| b - a);
    dataset::verify_tree(
        &cloned.join(SMALL_DIR),
        data.small.len(),
        data.small_bytes(),
    )?;
    Ok(Round {
        push: push_m,
        pull: pull_m,
        push_requests: push_served.map_or_else(|| transfer(&push_json, "requests"), |n| n as f64),
        pull_requests: pull_served.map_or_else(|| transfer(&pull_json, "requests"), |n| n as f64),
    })
}

/// `1.23 s (49 requests; cpu 0.40 user + 1.10 sys)`: a round's time, requests and where
/// its CPU went, so that a slow round shows whether the kernel worked harder or the disk
/// kept it waiting.
fn timing(m: &Measurement, requests: f64) -> String {
    format!("{:.2} s ({requests} requests; {})", m.secs, cpu(m))
}

/// `cpu 0.40 user + 1.10 sys`.
fn cpu(m: &Measurement) -> String {
    format!("cpu {:.2} user + {:.2} sys", m.user_secs, m.system_secs)
}

/// The median of `field` over `rounds` (the upper one of an even count).
fn median_of(rounds: &[Round], field: impl Fn(&Round) -> f64) -> f64 {
    let mut values: Vec<f64> = rounds.iter().map(field).collect();
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// `dvc --version`, if dvc runs.
fn dvc_version(runner: &Runner, work: &Path) -> Option<String> {
    let mut version = runner.command("dvc", work);
    version.arg("--version");
    runner.run(version).ok().map(|v| v.trim().to_owned())
}

/// DVC on the same data and the same kind of remote: `dvc push` + sync in its repository,
/// then `dvc pull` + sync in a fresh clone of it. Returns both times.
fn dvc_push_pull(
    runner: &Runner,
    data: &Dataset,
    place: &Place,
    base: &Path,
) -> Result<(f64, f64)> {
    let repo = base.join("dvc-origin");
    fs::create_dir_all(&repo).map_err(|e| format!("create {}: {e}", repo.display()))?;
    let mut cp = runner.command("cp", &repo);
    cp.arg("-r").arg(data.small_dir()).arg(".");
    runner.run(cp)?;
    runner.run(runner.git(&repo, &["init", "-q"]))?;
    let dvc = |dir: &Path, args: &[&str]| {
        let mut cmd = runner.command("dvc", dir);
        cmd.args(args).envs(&place.env);
        cmd
    };
    runner.run(dvc(&repo, &["init", "-q"]))?;
    let url = match &place.server {
        None => base.join("dvc-remote").to_string_lossy().into_owned(),
        Some(server) => server.url("team/dvc"),
    };
    runner.run(dvc(&repo, &["remote", "add", "-d", "origin", &url]))?;
    if let Some(server) = &place.server {
        runner.run(dvc(
            &repo,
            &[
                "remote",
                "modify",
                "origin",
                "endpointurl",
                &server.endpoint(),
            ],
        ))?;
        runner.run(dvc(
            &repo,
            &["remote", "modify", "origin", "region", "us-east-1"],
        ))?;
    }
    runner.run(dvc(&repo, &["add", "-q", SMALL_DIR]))?;
    runner.run(runner.git(&repo, &["add", "-A"]))?;
    runner.run(runner.git(&repo, &["commit", "-q", "-m", "data"]))?;
    let push = runner.measure_synced("dvc_push", dvc(&repo, &["push", "-q"]))?;
    let cloned = base.join("dvc-clone");
    clone(runner, &repo, &cloned)?;
    let pulled = runner.measure_synced("dvc_pull", dvc(&cloned, &["pull", "-q"]))?;
    dataset::verify_tree(
        &cloned.join(SMALL_DIR),
        data.small.len(),
        data.small_bytes(),
    )?;
    println!(
        "  remote_small ({}): dvc push {:.2} s ({}), dvc pull {:.2} s ({})",
        place.name,
        push.secs,
        cpu(&push),
        pulled.secs,
        cpu(&pulled),
    );
    Ok((push.secs, pulled.secs))
}

/// `remote_bulk`: push and pull of ~800 MiB to a directory remote, against cp -r + sync.
fn bulk(runner: &Runner, config: &Config, work: &Path) -> Result<Vec<Row>> {
    let n = config.remote_files;
    let data = dataset::generate_sized(
        &work.join("remote-bulk-data"),
        config.seed.wrapping_add(1),
        n,
        BULK_SIZES,
        0,
        0,
    )?;
    runner.sync()?;
    println!(
        "  remote_bulk: {n} files, {:.1} MiB",
        data.small_bytes() as f64 / (1 << 20) as f64
    );
    // Kept until the scenario is done, as in `remote_small`.
    let cp_dir = work.join("remote-bulk-cp");
    let cp = limits::copy_kept(runner, &data.small_dir(), &cp_dir)?;
    println!("  limit cp -r + sync (bulk)         {cp:>9.3} s");
    let base = work.join("remote-bulk");
    let place = Place::directory(base.join("remote"), 1);
    let repo = base.join("origin");
    origin(runner, &data, &repo, &place)?;
    let push_secs = push(runner, "push_bulk", &repo, &place, "origin")?.0.secs;
    let cloned = base.join("clone");
    clone(runner, &repo, &cloned)?;
    let pull_secs = pull(runner, "pull_bulk", &cloned, &place, &[SMALL_DIR])?
        .0
        .secs;
    dataset::verify_tree(&cloned.join(SMALL_DIR), n, data.small_bytes())?;
    let target = Target::RatioAtMost(BULK_VS_CP_MAX);
    Ok(vec![
        Row::secs(
            "push_bulk (dir)",
            push_secs,
            "cp -r + sync",
            Some(cp),
            target,
        ),
        Row::secs(
            "pull_bulk (dir)",
            pull_secs,
            "cp -r + sync",
            Some(cp),
            target,
        ),
    ])
}

/// `lazy_one`: pull one file of a commit of many files in a fresh clone (its history
/// first), then one more in that clone: time and bytes against the dataset's.
fn lazy_one(runner: &Runner, config: &Config, work: &Path) -> Result<Vec<Row>> {
    let n = config.lazy_files.max(2);
    let data = dataset::generate_sized(
        &work.join("lazy-data"),
        config.seed.wrapping_add(2),
        n,
        SMALL_SIZES,
        0,
        0,
    )?;
    runner.sync()?;
    let total = data.small_bytes() as f64;
    println!("  lazy_one: {n} files, {:.1} MiB", total / (1 << 20) as f64);
    let base = work.join("lazy");
    let place = Place::directory(base.join("remote"), 1);
    let repo = base.join("origin");
    origin(runner, &data, &repo, &place)?;
    let push_secs = push(runner, "push_lazy", &repo, &place, "origin")?.0.secs;
    println!("  lazy_one: pushed in {push_secs:.1} s");
    let cloned = base.join("clone");
    clone(runner, &repo, &cloned)?;
    let pick = |i: usize| data.small[i].rel.to_string_lossy().into_owned();
    let (first, second) = (pick(0), pick(n - 1));
    let (boot, boot_json) = pull(runner, "lazy_first", &cloned, &place, &[&first])?;
    let (one, one_json) = pull(runner, "lazy_one", &cloned, &place, &[&second])?;
    let (boot_secs, secs) = (boot.secs, one.secs);
    for rel in [&first, &second] {
        let want = fs::read(data.root.join(rel)).map_err(|e| format!("{rel}: {e}"))?;
        let got = fs::read(cloned.join(rel)).map_err(|e| format!("{rel}: {e}"))?;
        if want != got {
            return Err(format!("{rel} was not pulled byte for byte"));
        }
    }
    let fraction = Target::RatioAtMost(LAZY_ONE_MAX_FRACTION);
    Ok(vec![
        Row::secs(
            "lazy_one",
            secs,
            "-",
            None,
            Target::AtMost(LAZY_ONE_MAX_SECS),
        ),
        Row::count(
            "lazy_one bytes",
            transfer(&one_json, "bytes"),
            Unit::Bytes,
            "dataset",
            Some(total),
            fraction,
        ),
        Row::secs(
            "lazy_one (fresh clone)",
            boot_secs,
            "history + 1 file",
            None,
            Target::None,
        ),
        Row::count(
            "lazy_one bytes (fresh clone)",
            transfer(&boot_json, "bytes"),
            Unit::Bytes,
            "dataset",
            Some(total),
            Target::None,
        ),
    ])
}
