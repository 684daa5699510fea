//! Lineage: `run`, `record`, `runs`, `trace` and `reproduce` through the real binary and
//! the real `git`, with small shell scripts as the "training" (deterministic, so a
//! re-run can be compared byte for byte).

use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::harness::{DATE, Sandbox, assert_contains, b3, far_future};

const PREPARE: &[u8] = b"mkdir -p data/features\ncat data/raw/*.csv > data/features/all.csv\n";
const TRAIN: &[u8] =
    b"mkdir -p models\n{ cat data/features/all.csv; echo \"seed=$SEED\"; } > models/model.pt\n";

/// A git repository with dvx, two committed scripts (prepare: raw -> features; train:
/// features -> model) and committed raw data.
pub fn pipeline() -> Sandbox {
    let sb = Sandbox::git_and_dvx();
    sb.write("prepare.sh", PREPARE);
    sb.write("train.sh", TRAIN);
    sb.git(&["add", "prepare.sh", "train.sh"]);
    sb.git(&["commit", "-q", "-m", "pipeline"]);
    sb.write("data/raw/a.csv", b"1,2\n");
    sb.write("data/raw/b.csv", b"3,4\n");
    sb.ok(&["add", "data/raw"]);
    sb.ok(&["commit", "-m", "raw data"]);
    sb
}

pub fn prepare(sb: &Sandbox) {
    sb.ok(&[
        "run",
        "-d",
        "data/raw",
        "-d",
        "prepare.sh",
        "-o",
        "data/features",
        "--",
        "sh",
        "prepare.sh",
    ]);
}

pub fn train(sb: &Sandbox, seed: &str) {
    sb.dvx()
        .env("SEED", seed)
        .args([
            "run",
            "-d",
            "data/features",
            "-d",
            "train.sh",
            "-o",
            "models/model.pt",
            "--env",
            "SEED",
            "--",
            "sh",
            "train.sh",
        ])
        .assert()
        .success();
}

pub fn json(sb: &Sandbox, args: &[&str]) -> Value {
    serde_json::from_str(&sb.out(args)).expect("valid JSON")
}

/// Commit what dvx asks git to commit (dvx.lock and the ignore files).
fn git_commit_all(sb: &Sandbox, message: &str) {
    sb.git(&["add", "-A"]);
    sb.git(&["commit", "-q", "-m", message]);
}

#[test]
fn run_records_deps_code_command_and_outs_in_a_commit() {
    let sb = pipeline();
    let out = sb
        .dvx()
        .args([
            "run",
            "-d",
            "data/raw",
            "-d",
            "prepare.sh",
            "-o",
            "data/features",
            "--",
            "sh",
            "prepare.sh",
        ])
        .output()
        .expect("run dvx");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_contains(&stdout, "run: sh prepare.sh");
    assert_contains(&stdout, "recorded run ");
    assert_eq!(sb.read("data/features/all.csv"), b"1,2\n3,4\n");

    // The outs are added and committed with the stage: nothing is left to commit.
    let status = sb.status_json();
    assert_eq!(status["clean"], true, "{status}");
    let log = json(&sb, &["log", "--json", "-n", "1"]);
    assert_eq!(log[0]["message"], "run: sh prepare.sh\n");

    let runs = json(&sb, &["runs", "--json"]);
    assert_eq!(runs.as_array().expect("array").len(), 1);
    let run = &runs[0];
    assert_eq!(run["commit"], log[0]["id"]);
    assert_eq!(run["origin"], "ran");
    assert_eq!(run["command"], serde_json::json!(["sh", "prepare.sh"]));
    assert_eq!(run["cwd"], "");
    assert_eq!(run["exit_code"], 0);
    let started: i64 = DATE.split(' ').next().expect("secs").parse().expect("int");
    assert_eq!(run["started"], started);
    assert_eq!(run["ended"], started);
    // The data dep is a directory: one tree id, not a list of files.
    assert_eq!(run["deps"].as_array().expect("deps").len(), 1);
    assert_eq!(run["deps"][0]["path"], "data/raw");
    assert_eq!(run["deps"][0]["kind"], "dir");
    let raw_tree = json(&sb, &["ls", "--json"]);
    assert!(raw_tree.as_array().expect("ls").len() >= 3);
    // The code dep carries git's own blob id for the bytes.
    let git_blob = sb.git(&["hash-object", "prepare.sh"]);
    assert_eq!(run["code"][0]["path"], "prepare.sh");
    assert_eq!(run["code"][0]["git_blob"], git_blob.trim());
    assert_eq!(run["outs"][0]["path"], "data/features");
    assert_eq!(run["outs"][0]["kind"], "dir");
    let head = sb.git(&["rev-parse", "HEAD"]);
    assert_eq!(run["git_commit"], head.trim());
    assert_eq!(run["git_dirty"], false);

    // The commit's tree holds the out, and `dvx.lock` pins the commit.
    let listed = sb.out(&["ls", "HEAD", "data/features"]);
    assert_contains(&listed, &b3(b"1,2\n3,4\n")[..10]);
    let pin = String::from_utf8(sb.read("dvx.lock")).expect("utf-8");
    assert_contains(&pin, log[0]["id"].as_str().expect("id"));
    // The ignore rules for the new out are there for git.
    assert!(
        sb.git(&["status", "--porcelain", "--ignored", "data/features"])
            .contains("!!")
    );
}

#[test]
fn trace_follows_two_chained_runs_to_the_raw_data() {
    let sb = pipeline();
    prepare(&sb);
    train(&sb, "7");
    let model = sb.read("models/model.pt");
    assert_eq!(model, b"1,2\n3,4\nseed=7\n");

    let trace = json(&sb, &["trace", "models/model.pt", "--json"]);
    assert_eq!(trace["path"], "models/model.pt");
    assert_eq!(trace["id"], b3(&model));
    let runs = trace["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 2, "{trace}");
    let (train_run, prepare_run) = (&runs[0], &runs[1]);
    assert_eq!(trace["made_by"], train_run["id"]);
    assert_eq!(train_run["command"], serde_json::json!(["sh", "train.sh"]));
    assert_eq!(train_run["depth"], 1);
    assert_eq!(
        train_run["env"],
        serde_json::json!([{"name": "SEED", "value": "7"}])
    );
    // The dep directory is expanded to its files, each with its id and its maker.
    let inputs = train_run["inputs"].as_array().expect("inputs");
    assert_eq!(inputs.len(), 1);
    assert_eq!(inputs[0]["path"], "data/features/all.csv");
    assert_eq!(inputs[0]["dep"], "data/features");
    assert_eq!(inputs[0]["id"], b3(b"1,2\n3,4\n"));
    assert_eq!(inputs[0]["made_by"], prepare_run["id"]);
    assert_eq!(prepare_run["depth"], 2);
    let raw: Vec<(&str, &str)> = prepare_run["inputs"]
        .as_array()
        .expect("inputs")
        .iter()
        .map(|i| {
            assert!(i["made_by"].is_null(), "raw data was made by no run");
            (
                i["path"].as_str().expect("path"),
                i["id"].as_str().expect("id"),
            )
        })
        .collect();
    let (a, b) = (b3(b"1,2\n"), b3(b"3,4\n"));
    assert_eq!(
        raw,
        [
            ("data/raw/a.csv", a.as_str()),
            ("data/raw/b.csv", b.as_str())
        ]
    );

    // The text form names the same runs, inputs and links.
    let text = sb.out(&["trace", "models/model.pt"]);
    let train_id = &train_run["id"].as_str().expect("id")[..10];
    let prepare_id = &prepare_run["id"].as_str().expect("id")[..10];
    assert_contains(&text, &format!("run {train_id}: sh train.sh"));
    assert_contains(
        &text,
        &format!("data/features/all.csv  <- run {prepare_id}"),
    );
    assert_contains(&text, &format!("run {prepare_id}: sh prepare.sh"));
    assert_contains(&text, "environment: SEED=7");

    // --depth 1 stops at the run that made the file.
    let shallow = json(&sb, &["trace", "models/model.pt", "--depth", "1", "--json"]);
    assert_eq!(shallow["runs"].as_array().expect("runs").len(), 1);
    assert_eq!(shallow["runs"][0]["followed"], false);
    assert!(shallow["runs"][0]["inputs"][0]["made_by"].is_null());
    sb.fails(&["trace", "models/model.pt", "--depth", "0"], 2);

    // `runs` lists both, newest first.
    let runs = json(&sb, &["runs", "--json"]);
    let ids: Vec<&Value> = runs
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| &r["id"])
        .collect();
    assert_eq!(ids, [&train_run["id"], &prepare_run["id"]]);
    let text = sb.out(&["runs"]);
    assert!(text.find(train_id) < text.find(prepare_id), "{text}");
    assert_contains(&text, "outs: models/model.pt");
}

#[test]
fn trace_finds_a_checkpoint_copied_under_another_name() {
    let sb = pipeline();
    prepare(&sb);
    train(&sb, "1");
    let trained = json(&sb, &["trace", "models/model.pt", "--json"]);
    let made_by = &trained["made_by"];

    // An untracked copy is hashed and found by its bytes.
    fs::copy(sb.path("models/model.pt"), sb.path("best.pt")).expect("copy");
    let copy = json(&sb, &["trace", "best.pt", "--json", "--depth", "1"]);
    assert_eq!(&copy["made_by"], made_by);
    assert_eq!(copy["path"], "best.pt");

    // So is a copy tracked elsewhere and committed, also as that revision has it, and
    // once it is no longer in the work tree at all.
    sb.write("release/final.pt", &sb.read("models/model.pt"));
    sb.ok(&["add", "release"]);
    sb.ok(&["commit", "-m", "release"]);
    let tracked = json(&sb, &["trace", "release/final.pt", "--json"]);
    assert_eq!(&tracked["made_by"], made_by);
    assert_eq!(tracked["runs"].as_array().expect("runs").len(), 2);
    fs::remove_dir_all(sb.path("release")).expect("rm");
    fs::remove_file(sb.path("best.pt")).expect("rm");
    let at_rev = json(
        &sb,
        &["trace", "release/final.pt", "--rev", "HEAD", "--json"],
    );
    assert_eq!(&at_rev["made_by"], made_by);

    // A file inside an out directory is found through that directory's out.
    let features = json(&sb, &["trace", "data/features/all.csv", "--json"]);
    assert_eq!(features["runs"][0]["command"][1], "prepare.sh");
    // And the out directory itself, by its tree id.
    let dir = json(&sb, &["trace", "data/features", "--json"]);
    assert_eq!(dir["kind"], "dir");
    assert_eq!(dir["made_by"], features["made_by"]);
}

#[test]
fn record_adds_the_outs_of_a_run_made_elsewhere() {
    let sb = pipeline();
    // The "cluster job" ran elsewhere; its output is copied in.
    sb.write("models/cluster.pt", b"weights from the cluster\n");
    sb.write("logs/cluster.txt", b"epoch 1\n");
    let out = sb.out(&[
        "record",
        "-d",
        "data/raw",
        "-d",
        "train.py",
        "-o",
        "models/cluster.pt",
        "-o",
        "logs/cluster.txt",
        "-m",
        "cluster run 42",
        "--command",
        "python train.py --epochs 1",
    ]);
    assert_contains(&out, "cluster run 42");
    assert_eq!(sb.status_json()["clean"], true);
    let runs = json(&sb, &["runs", "--json"]);
    let run = &runs[0];
    assert_eq!(run["origin"], "recorded");
    assert_eq!(
        run["command"],
        serde_json::json!(["sh", "-c", "python train.py --epochs 1"])
    );
    let outs: Vec<&str> = run["outs"]
        .as_array()
        .expect("outs")
        .iter()
        .map(|o| o["path"].as_str().expect("path"))
        .collect();
    assert_eq!(outs, ["logs/cluster.txt", "models/cluster.pt"]);
    assert_eq!(run["code"][0]["path"], "train.py");

    let trace = sb.out(&["trace", "models/cluster.pt"]);
    assert_contains(&trace, "sh -c 'python train.py --epochs 1' (recorded)");
    assert_contains(&trace, "data/raw/a.csv");

    // Without a command: recorded, but there is nothing to run again.
    sb.write("models/notebook.pt", b"from a notebook\n");
    sb.ok(&["record", "-d", "data/raw", "-o", "models/notebook.pt"]);
    let log = json(&sb, &["log", "--json", "-n", "1"]);
    assert_eq!(log[0]["message"], "record: models/notebook.pt\n");
    let stderr = sb.fails(
        &[
            "reproduce",
            "models/notebook.pt",
            "--into",
            "../repro",
            "--run",
        ],
        1,
    );
    assert_contains(&stderr, "has no recorded command");
    // The inputs were still written there.
    assert_eq!(
        fs::read(sb.root.join("../repro/data/raw/a.csv")).expect("input"),
        b"1,2\n"
    );
}

#[test]
fn run_in_a_subdirectory_records_where_it_ran() {
    let sb = pipeline();
    sb.write(
        "src/make.sh",
        b"mkdir -p ../out\ncat ../data/raw/a.csv ../data/raw/a.csv > ../out/double.csv\n",
    );
    sb.git(&["add", "src/make.sh"]);
    sb.git(&["commit", "-q", "-m", "make"]);
    sb.dvx()
        .current_dir(sb.path("src"))
        .args([
            "run",
            "-d",
            "../data/raw/a.csv",
            "-d",
            "make.sh",
            "-o",
            "../out/double.csv",
            "--",
            "sh",
            "make.sh",
        ])
        .assert()
        .success();
    let run = &json(&sb, &["runs", "--json"])[0];
    assert_eq!(run["cwd"], "src");
    assert_eq!(run["deps"][0]["path"], "data/raw/a.csv");
    assert_eq!(run["code"][0]["path"], "src/make.sh");
    assert_eq!(run["outs"][0]["path"], "out/double.csv");

    // Re-run elsewhere, it runs in that directory's src/.
    let into = sb.root.parent().expect("parent").join("sub-repro");
    let out = sb.out(&[
        "reproduce",
        "out/double.csv",
        "--into",
        into.to_str().expect("utf-8"),
        "--run",
        "--check",
    ]);
    assert_contains(&out, "identical");
    assert_eq!(
        fs::read(into.join("out/double.csv")).expect("out"),
        b"1,2\n1,2\n"
    );
    assert_eq!(
        fs::read(into.join("src/make.sh")).expect("code"),
        sb.read("src/make.sh")
    );
}

#[test]
fn add_deps_tracks_new_data_before_the_run() {
    let sb = pipeline();
    sb.write("extra/labels.csv", b"cat\n");
    let stderr = sb.fails(
        &[
            "run",
            "-d",
            "extra",
            "-o",
            "n.txt",
            "--",
            "sh",
            "-c",
            "wc -l < extra/labels.csv > n.txt",
        ],
        1,
    );
    assert_contains(&stderr, "dep 'extra' is not tracked");
    sb.ok(&[
        "run",
        "--add-deps",
        "-d",
        "extra",
        "-o",
        "n.txt",
        "--",
        "sh",
        "-c",
        "wc -l < extra/labels.csv > n.txt",
    ]);
    let run = &json(&sb, &["runs", "--json"])[0];
    assert_eq!(run["deps"][0]["path"], "extra");
    assert_eq!(sb.status_json()["clean"], true);
    // A modified data dep is staged again.
    sb.write("extra/labels.csv", b"cat\ndog\n");
    sb.ok(&[
        "run",
        "--add-deps",
        "-d",
        "extra",
        "-o",
        "n.txt",
        "--",
        "sh",
        "-c",
        "wc -l < extra/labels.csv > n.txt",
    ]);
    let trace = json(&sb, &["trace", "n.txt", "--json"]);
    assert_eq!(trace["runs"][0]["inputs"][0]["id"], b3(b"cat\ndog\n"));
}

#[test]
fn a_failed_command_records_nothing_and_passes_its_exit_code_on() {
    let sb = pipeline();
    let state = sb.dvx_state();
    let output = sb
        .dvx()
        .args([
            "run",
            "-d",
            "data/raw",
            "-o",
            "models/m.pt",
            "--",
            "sh",
            "-c",
            "mkdir -p models; echo half > models/m.pt; echo oops >&2; exit 3",
        ])
        .output()
        .expect("run dvx");
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_contains(&stderr, "oops");
    assert_contains(
        &stderr,
        "error: the command exited with code 3; nothing was recorded",
    );
    assert_contains(
        &stderr,
        "hint: what it wrote stays on disk, not added: models/m.pt",
    );
    assert_eq!(sb.dvx_state(), state, "nothing in .dvx/ changed");
    assert_eq!(sb.read("models/m.pt"), b"half\n");
    assert!(
        json(&sb, &["runs", "--json"])
            .as_array()
            .expect("runs")
            .is_empty()
    );
    // The out was not added: git is not told to ignore it.
    assert!(!sb.exists("models/.gitignore"));
    let ignores = fs::read_to_string(sb.path(".gitignore")).unwrap_or_default();
    assert!(!ignores.contains("models"), "{ignores}");
}

#[test]
fn gc_keeps_everything_run_records_reference() {
    let sb = pipeline();
    prepare(&sb);
    train(&sb, "3");
    let trace = json(&sb, &["trace", "models/model.pt", "--json"]);
    // Move on: new data, then forget every reflog so only refs and runs keep objects.
    sb.write("data/raw/a.csv", b"9,9\n");
    sb.ok(&["add", "data/raw"]);
    sb.ok(&["commit", "-m", "newer"]);
    sb.ok(&["gc", "--grace", "0"]);
    sb.dvx()
        .env("DVX_DATE", far_future())
        .args(["gc", "--grace", "0"])
        .assert()
        .success();
    for run in trace["runs"].as_array().expect("runs") {
        let id = run["id"].as_str().expect("id");
        assert!(
            crate::harness::object_path(&sb.root, id).is_file(),
            "run record {id} kept"
        );
        for input in run["inputs"].as_array().expect("inputs") {
            let id = input["id"].as_str().expect("id");
            assert!(
                crate::harness::object_path(&sb.root, id).is_file(),
                "input {id} kept"
            );
        }
        for out in run["outs"].as_array().expect("outs") {
            let id = out["id"].as_str().expect("id");
            assert!(
                crate::harness::object_path(&sb.root, id).is_file(),
                "out {id} kept"
            );
        }
    }
    assert_contains(&sb.out(&["fsck"]), "no problems");
    let into = sb.root.parent().expect("parent").join("after-gc");
    let out = sb.out(&[
        "reproduce",
        "models/model.pt",
        "--rev",
        "HEAD~1",
        "--into",
        into.to_str().expect("utf-8"),
    ]);
    assert_contains(&out, "1 written");
    assert_eq!(
        fs::read(into.join("data/features/all.csv")).expect("input"),
        b"1,2\n3,4\n"
    );
}

/// The story of the issue, as far as it needs no remote: a model trained on v1 data, the
/// data moves on and the model is retrained, then the v1 model's exact inputs come back
/// (byte-identical) in a separate directory and in the work tree, its run is repeated
/// and compared, and a fresh `git clone` given the store's objects does the same, while
/// one lacking the input blobs names exactly the missing inputs.
#[test]
fn the_reproduction_story_end_to_end() {
    let sb = pipeline();
    prepare(&sb);
    train(&sb, "42");
    git_commit_all(&sb, "model v1");
    sb.git(&["tag", "v1"]);
    let v1_model = sb.read("models/model.pt");
    let v1_features = sb.read("data/features/all.csv");

    // New data, new features, new model.
    sb.write("data/raw/b.csv", b"5,6\n");
    sb.write("data/raw/c.csv", b"7,8\n");
    sb.ok(&["add", "data/raw"]);
    sb.ok(&["commit", "-m", "more data"]);
    prepare(&sb);
    train(&sb, "42");
    git_commit_all(&sb, "model v2");
    assert_ne!(sb.read("models/model.pt"), v1_model);

    // Back to v1's code; its dvx.lock brings v1's data.
    sb.git(&["checkout", "-q", "v1"]);
    sb.ok(&["checkout", "--git", "HEAD"]);
    assert_eq!(sb.read("models/model.pt"), v1_model);
    let trace = json(&sb, &["trace", "models/model.pt", "--json"]);
    assert_eq!(trace["id"], b3(&v1_model));

    // Into a separate directory: exactly the inputs, byte-identical, work tree untouched.
    let before = sb.snapshot(".");
    let into = sb.root.parent().expect("parent").join("repro-v1");
    let out = sb.out(&[
        "reproduce",
        "models/model.pt",
        "--into",
        into.to_str().expect("utf-8"),
        "--run",
        "--check",
    ]);
    assert_contains(&out, "identical: the outs match the recorded ones");
    assert_eq!(
        fs::read(into.join("data/features/all.csv")).expect("in"),
        v1_features
    );
    assert_eq!(
        fs::read(into.join("models/model.pt")).expect("out"),
        v1_model
    );
    assert_eq!(
        files_below(&into),
        ["data/features/all.csv", "models/model.pt", "train.sh"]
    );
    assert_eq!(sb.snapshot("."), before, "the work tree was left alone");

    // One level further back: the raw data of v1, byte-identical.
    let raw_into = sb.root.parent().expect("parent").join("repro-raw");
    sb.ok(&[
        "reproduce",
        "data/features/all.csv",
        "--into",
        raw_into.to_str().expect("utf-8"),
    ]);
    assert_eq!(
        fs::read(raw_into.join("data/raw/a.csv")).expect("a"),
        b"1,2\n"
    );
    assert_eq!(
        fs::read(raw_into.join("data/raw/b.csv")).expect("b"),
        b"3,4\n"
    );
    assert!(
        !raw_into.join("data/raw/c.csv").exists(),
        "v2's file is not an input of v1"
    );

    // In the work tree, from v2's checkout: the inputs come back at v1's versions.
    sb.git(&["checkout", "-q", "main"]);
    sb.ok(&["checkout", "--git", "HEAD"]);
    let v1_rev = trace["runs"][0]["commit"]
        .as_str()
        .expect("commit")
        .to_owned();
    let out = sb.out(&[
        "reproduce",
        "models/model.pt",
        "--rev",
        &v1_rev,
        "--run",
        "--check",
    ]);
    assert_contains(&out, "in the work tree");
    assert_contains(&out, "identical");
    assert_eq!(sb.read("data/features/all.csv"), v1_features);
    assert_eq!(sb.read("models/model.pt"), v1_model);

    // A fresh clone holding the store's objects (what a fetch will bring) reproduces v1.
    sb.ok(&["checkout", "--force", "HEAD"]);
    let clone = sb.root.parent().expect("parent").join("clone");
    sb.git_in(
        sb.root.parent().expect("parent"),
        &["clone", "-q", sb.root.to_str().expect("utf-8"), "clone"],
    );
    sb.git_in(&clone, &["checkout", "-q", "v1"]);
    copy_objects(&sb.root, &clone, &[]);
    let in_clone = |args: &[&str]| {
        sb.dvx().current_dir(&clone).args(args).assert().success();
    };
    in_clone(&["checkout", "--git", "HEAD", "--lazy"]);
    let clone_into = sb.root.parent().expect("parent").join("clone-repro");
    in_clone(&[
        "reproduce",
        "models/model.pt",
        "--into",
        clone_into.to_str().expect("utf-8"),
        "--run",
        "--check",
    ]);
    assert_eq!(
        fs::read(clone_into.join("data/features/all.csv")).expect("in"),
        v1_features
    );

    // A clone without the inputs' bytes names them, and writes nothing.
    let bare = sb.root.parent().expect("parent").join("clone-bare");
    sb.git_in(
        sb.root.parent().expect("parent"),
        &[
            "clone",
            "-q",
            sb.root.to_str().expect("utf-8"),
            "clone-bare",
        ],
    );
    sb.git_in(&bare, &["checkout", "-q", "v1"]);
    let input = trace["runs"][0]["inputs"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    copy_objects(&sb.root, &bare, &[input.as_str()]);
    sb.dvx()
        .current_dir(&bare)
        .args(["checkout", "--git", "HEAD", "--lazy"])
        .assert()
        .success();
    let bare_into = sb.root.parent().expect("parent").join("bare-repro");
    let output = sb
        .dvx()
        .current_dir(&bare)
        .args([
            "reproduce",
            "models/model.pt",
            "--into",
            bare_into.to_str().expect("utf-8"),
        ])
        .output()
        .expect("run dvx");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_contains(
        &stderr,
        &format!(
            "error: 1 input file(s) are not local: data/features/all.csv ({})",
            &input[..10]
        ),
    );
    assert!(!bare_into.exists(), "nothing was written");
}

/// Copy every object of `from`'s store into `to`'s, except `skip` (ids in hex).
fn copy_objects(from: &Path, to: &Path, skip: &[&str]) {
    let src = from.join(".dvx/objects");
    for entry in walkdir::WalkDir::new(&src) {
        let entry = entry.expect("walk");
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry.path().strip_prefix(&src).expect("inside");
        let hex = rel.to_string_lossy().replace('/', "");
        if skip.contains(&hex.as_str()) {
            continue;
        }
        let dest = to.join(".dvx/objects").join(rel);
        fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
        fs::copy(entry.path(), &dest).expect("copy object");
    }
}

/// Files below `dir`, relative and sorted.
fn files_below(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.expect("walk"))
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            e.path()
                .strip_prefix(dir)
                .expect("inside")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    out.sort();
    out
}

#[test]
fn reproduce_check_says_identical_or_different_and_names_changed_code() {
    let sb = pipeline();
    prepare(&sb);
    train(&sb, "5");
    let parent = sb.root.parent().expect("parent").to_path_buf();

    // Deterministic and unchanged: identical, exit 0, with the recorded SEED.
    let same = parent.join("same");
    let output = sb
        .dvx()
        .env_remove("SEED")
        .args(["reproduce", "models/model.pt", "--run", "--check", "--into"])
        .arg(&same)
        .output()
        .expect("run dvx");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_contains(
        &String::from_utf8_lossy(&output.stdout),
        "identical: models/model.pt",
    );
    assert_eq!(
        fs::read(same.join("models/model.pt")).expect("out"),
        sb.read("models/model.pt")
    );
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // The training code changed since: the warning names it, the outs differ, exit 1.
    sb.write(
        "train.sh",
        b"mkdir -p models\necho changed > models/model.pt\n",
    );
    let changed = parent.join("changed");
    let output = sb
        .dvx()
        .args(["reproduce", "models/model.pt", "--run", "--check", "--into"])
        .arg(&changed)
        .output()
        .expect("run dvx");
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let recorded = sb.git(&["rev-parse", "HEAD:train.sh"]);
    assert_contains(
        &stderr,
        &format!(
            "warning: code differs from the run's: train.sh (recorded git blob {}",
            &recorded[..10]
        ),
    );
    assert_contains(&stderr, "hint: git checkout ");
    assert_contains(&stdout, "different: models/model.pt (recorded ");
    assert_contains(
        &stdout,
        "different: the outs do not match the recorded ones",
    );

    // A directory out compares file by file; --json says the same.
    sb.write(
        "prepare.sh",
        b"mkdir -p data/features\necho other > data/features/all.csv\n",
    );
    let dir = parent.join("dir");
    let output = sb
        .dvx()
        .args([
            "reproduce",
            "data/features/all.csv",
            "--run",
            "--check",
            "--json",
            "--into",
        ])
        .arg(&dir)
        .output()
        .expect("run dvx");
    assert_eq!(output.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    assert_eq!(report["identical"], false);
    assert_eq!(report["outs"][0]["path"], "data/features");
    assert_eq!(
        report["outs"][0]["modified"],
        serde_json::json!(["data/features/all.csv"])
    );
    assert_eq!(report["code_changed"][0]["path"], "prepare.sh");
    assert_eq!(report["exit_code"], 0);
}

#[test]
fn run_json_keeps_standard_output_for_json() {
    let sb = pipeline();
    let output = sb
        .dvx()
        .args([
            "run",
            "--json",
            "-d",
            "data/raw",
            "-o",
            "count.txt",
            "--",
            "sh",
            "-c",
            "echo chatter; ls data/raw | wc -l > count.txt",
        ])
        .output()
        .expect("run dvx");
    assert!(output.status.success());
    let report: Value = serde_json::from_slice(&output.stdout).expect("only JSON on stdout");
    assert_contains(&String::from_utf8_lossy(&output.stderr), "chatter");
    let runs = json(&sb, &["runs", "--json"]);
    assert_eq!(report["run"], runs[0]["id"]);
    assert_eq!(report["commit"], runs[0]["commit"]);
    assert_eq!(report["branch"], "main");
    assert_eq!(report["outs"][0]["path"], "count.txt");
    let to_add: Vec<&str> = report["to_git_add"]
        .as_array()
        .expect("to_git_add")
        .iter()
        .map(|v| v.as_str().expect("path"))
        .collect();
    assert!(
        to_add.contains(&".gitignore") && to_add.contains(&"dvx.lock"),
        "{to_add:?}"
    );
}

#[test]
fn the_lineage_index_is_a_cache_that_follows_new_runs() {
    let sb = pipeline();
    prepare(&sb);
    train(&sb, "1");
    let first = json(&sb, &["trace", "models/model.pt", "--json"]);
    let cache = sb.path(".dvx/cache/runs-by-out");
    assert!(cache.is_file(), "trace keeps its index");

    // A newer run is found: the index reads the commits made since.
    train(&sb, "2");
    let second = json(&sb, &["trace", "models/model.pt", "--json"]);
    assert_ne!(second["made_by"], first["made_by"]);
    assert_eq!(second["runs"][0]["env"][0]["value"], "2");
    // The old model's bytes still lead to the old run.
    let old = json(
        &sb,
        &["trace", "models/model.pt", "--rev", "HEAD~1", "--json"],
    );
    assert_eq!(old["made_by"], first["made_by"]);

    // Damaged or gone, it is rebuilt, with the same answers.
    let mut bytes = fs::read(&cache).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    dvx::atomic::write(&cache, &bytes).expect("damage");
    assert_eq!(json(&sb, &["trace", "models/model.pt", "--json"]), second);
    fs::remove_file(&cache).expect("rm");
    assert_eq!(json(&sb, &["trace", "models/model.pt", "--json"]), second);
    assert!(cache.is_file());
}

#[test]
fn large_checkpoints_in_a_directory_out() {
    let sb = pipeline();
    // Over the 8 MiB line where add and checkout stream instead of reading whole.
    let big = crate::harness::bytes(7, 9 << 20);
    sb.write("data/big/shard.bin", &big);
    sb.ok(&["add", "data/big"]);
    sb.ok(&["commit", "-m", "big"]);
    sb.ok(&[
        "run", "-d", "data/big", "-o", "ckpt", "--", "sh", "-c",
        "mkdir -p ckpt && cat data/big/shard.bin data/big/shard.bin > ckpt/e1.pt && cp data/big/shard.bin ckpt/e2.pt",
    ]);
    let run = &json(&sb, &["runs", "--json"])[0];
    assert_eq!(run["outs"][0]["path"], "ckpt");
    assert_eq!(run["outs"][0]["kind"], "dir");
    assert_eq!(run["outs"][0]["size"], 3 * (9 << 20));
    // Each checkpoint leads to the run, also the one equal to its input.
    for file in ["ckpt/e1.pt", "ckpt/e2.pt"] {
        let trace = json(&sb, &["trace", file, "--json"]);
        assert_eq!(trace["made_by"], run["id"], "{file}");
    }
    let into = sb.root.parent().expect("parent").join("big-repro");
    let out = sb.out(&[
        "reproduce",
        "ckpt/e1.pt",
        "--into",
        into.to_str().expect("utf-8"),
        "--run",
        "--check",
    ]);
    assert_contains(&out, "identical: ckpt (");
    assert_eq!(
        fs::read(into.join("data/big/shard.bin")).expect("input"),
        big
    );
    assert_eq!(fs::read(into.join("ckpt/e2.pt")).expect("out"), big);
}

/// When several runs wrote the same bytes, the one that wrote them at the path asked
/// about wins; for a path no run wrote, a run that only copied its input does not.
#[test]
fn a_run_that_copies_its_input_is_not_taken_for_the_maker_of_those_bytes() {
    let sb = pipeline();
    prepare(&sb);
    sb.ok(&[
        "run",
        "-d",
        "data/features",
        "-o",
        "models/copy.pt",
        "--",
        "sh",
        "-c",
        "mkdir -p models && cp data/features/all.csv models/copy.pt",
    ]);
    let made_by = |path: &str| {
        let trace = json(&sb, &["trace", path, "--json", "--depth", "1"]);
        trace["runs"][0]["command"]
            .as_array()
            .expect("command")
            .last()
            .and_then(Value::as_str)
            .expect("last argument")
            .to_owned()
    };
    assert_eq!(made_by("data/features/all.csv"), "prepare.sh");
    assert_eq!(
        made_by("models/copy.pt"),
        "mkdir -p models && cp data/features/all.csv models/copy.pt"
    );
    fs::copy(sb.path("models/copy.pt"), sb.path("elsewhere.csv")).expect("copy");
    assert_eq!(made_by("elsewhere.csv"), "prepare.sh");
    // The copy run's own input leads back to prepare, not to itself.
    let trace = json(&sb, &["trace", "models/copy.pt", "--json"]);
    assert_eq!(trace["runs"].as_array().expect("runs").len(), 2);
    assert_eq!(
        trace["runs"][0]["inputs"][0]["made_by"],
        trace["runs"][1]["id"]
    );
}
