//! Hostile work trees: symlink loops, FIFOs, sockets, unreadable files and files that
//! change while dvx reads them. Each gets a named error or an exact record, never a hang:
//! every command here runs under a deadline and is killed (and the test failed) past it.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::harness::*;

/// Run `cmd` to its end, or fail the test if it takes longer than `limit`.
fn within(mut cmd: Command, limit: Duration, what: &str) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn dvx");
    let started = Instant::now();
    loop {
        if child.try_wait().expect("poll").is_some() {
            return child.wait_with_output().expect("collect output");
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} hangs (killed after {limit:?})");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn run(sb: &Sandbox, args: &[&str]) -> Output {
    let mut cmd = sb.dvx_std();
    cmd.args(args);
    within(cmd, Duration::from_secs(20), &format!("dvx {args:?}"))
}

fn mkfifo(path: &std::path::Path) {
    let c = std::ffi::CString::new(path.to_str().expect("utf-8")).expect("cstr");
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
}

fn stage(sb: &Sandbox) -> serde_json::Value {
    serde_json::from_str(&sb.out(&["ls", "--json"])).expect("ls --json")
}

fn staged_paths(sb: &Sandbox) -> Vec<String> {
    let text = stage(sb).to_string();
    let mut out = Vec::new();
    for p in ["loop", "ping", "pong", "up", "pipe", "sock", "a.csv"] {
        if text.contains(&format!("data/{p}\"")) || text.contains(&format!("/{p}\"")) {
            out.push(p.to_owned());
        }
    }
    out
}

#[test]
fn symlink_loops_are_recorded_as_links_and_checked_out_exactly() {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/a.csv", b"a\n");
    symlink("loop", sb.path("data/loop")).expect("self loop");
    symlink("pong", sb.path("data/ping")).expect("ping");
    symlink("ping", sb.path("data/pong")).expect("pong");
    fs::create_dir_all(sb.path("data/d")).expect("mkdir");
    symlink("..", sb.path("data/d/up")).expect("dir loop");
    for args in [
        &["add", "data"][..],
        &["status"],
        &["commit", "-m", "loops"],
    ] {
        let out = run(&sb, args);
        assert!(
            out.status.success(),
            "dvx {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(staged_paths(&sb), ["loop", "ping", "pong", "up", "a.csv"]);
    fs::remove_dir_all(sb.path("data")).expect("rm data");
    let out = run(&sb, &["checkout", "--", "data"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (link, target) in [
        ("data/loop", "loop"),
        ("data/ping", "pong"),
        ("data/pong", "ping"),
        ("data/d/up", ".."),
    ] {
        assert_eq!(
            fs::read_link(sb.path(link)).expect("a link again"),
            std::path::PathBuf::from(target)
        );
    }
    let out = run(&sb, &["fsck"]);
    assert!(out.status.success());
}

#[test]
fn fifos_and_sockets_are_skipped_by_a_walk_and_refused_by_name() {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/a.csv", b"a\n");
    mkfifo(&sb.path("data/pipe"));
    let _listener =
        std::os::unix::net::UnixListener::bind(sb.path("data/sock")).expect("bind socket");
    // A walk records the regular file and skips the others, saying so; it never opens a
    // FIFO (which would block until a writer came).
    let out = run(&sb, &["add", "data"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(staged_paths(&sb), ["a.csv"]);
    let out = run(&sb, &["status"]);
    assert!(out.status.success());
    // Named on their own, they are refused, naming them.
    for special in ["data/pipe", "data/sock"] {
        let out = run(&sb, &["add", special]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "dvx add {special}: {stderr}");
        let (error, hint) = error_and_hint(&stderr);
        assert_contains(&error, special);
        assert!(!hint.is_empty(), "a hint: {stderr}");
    }
    // Run's deps and outs: a FIFO out is refused, not read forever.
    let out = run(
        &sb,
        &["run", "-d", "data/a.csv", "-o", "data/pipe", "--", "true"],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// As root every file is readable, so the unreadable file is read by dvx running as an
/// unprivileged user (the sandbox handed over to it).
#[test]
fn an_unreadable_file_is_named_and_the_rest_is_added() {
    let sb = Sandbox::dvx_only();
    sb.write("data/a.csv", b"a\n");
    sb.write("data/secret.bin", b"secret");
    fs::set_permissions(
        sb.path("data/secret.bin"),
        fs::Permissions::from_mode(0o000),
    )
    .expect("chmod 000");
    let mut cmd = sb.dvx_std();
    if running_as_root() {
        const NOBODY: u32 = 65534;
        let top = sb.root.parent().expect("sandbox dir");
        for e in walkdir::WalkDir::new(top) {
            let e = e.expect("walk sandbox");
            std::os::unix::fs::lchown(e.path(), Some(NOBODY), Some(NOBODY)).expect("chown");
        }
        std::os::unix::fs::chown(sb.path("data/secret.bin"), Some(0), Some(0)).expect("chown");
        // The unprivileged user must reach the binary and the sandbox: a checkout under a
        // private directory (root's home, a 0700 temp dir) hides them from it.
        let mut probe = sb.dvx_std();
        probe.uid(NOBODY).gid(NOBODY).arg("--version");
        if !probe.output().is_ok_and(|o| o.status.success()) {
            eprintln!("skipped: user {NOBODY} cannot run dvx here (a parent directory is private)");
            return;
        }
        cmd.uid(NOBODY).gid(NOBODY);
    }
    cmd.args(["add", "data"]);
    let out = within(cmd, Duration::from_secs(20), "dvx add");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let (error, hint) = error_and_hint(&stderr);
    assert_contains(&error, "data/secret.bin");
    assert_contains(&error, "ermission denied");
    assert!(!hint.is_empty(), "{stderr}");
    assert!(!stderr.contains("panicked"));
}

#[test]
fn a_file_changing_while_add_reads_it_is_stored_exactly_or_not_at_all() {
    let sb = Sandbox::dvx_only();
    let path = sb.path("data/growing.bin");
    sb.write("data/growing.bin", b"");
    // The writer truncates and rewrites the file with one of these versions, chunk by
    // chunk: every state the file passes through is a prefix of one of them. A record
    // must be such a state (the file as it was at one moment), never a mix of two.
    let versions: Vec<Vec<u8>> = (0..4u64)
        .map(|i| bytes(i, 6_000_000 + i as usize * 1_000_003))
        .collect();
    let states = versions.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let path = path.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let v = &versions[i % versions.len()];
                let mut f = fs::File::create(&path).expect("rewrite in place");
                for chunk in v.chunks(256 * 1024) {
                    f.write_all(chunk).expect("write");
                }
                i += 1;
            }
        })
    };
    let (mut recorded, mut refused) = (0, 0);
    for _ in 0..15 {
        let out = run(&sb, &["add", "data"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("changed while it was being read") {
            assert!(matches!(out.status.code(), Some(0 | 1)), "{stderr}");
            assert_contains(&stderr, "data/growing.bin");
            refused += 1;
            continue;
        }
        assert!(out.status.success(), "{stderr}");
        let staged = stage(&sb);
        let entry = &staged.as_array().expect("ls --json is a list")[0];
        let size = entry["size"].as_u64().expect("size") as usize;
        let id = entry["id"].as_str().expect("id");
        let a_state = states
            .iter()
            .any(|v| v.len() >= size && b3(&v[..size]) == id);
        assert!(
            a_state,
            "the stage names bytes the file never held: {entry}"
        );
        recorded += 1;
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer");
    let out = run(&sb, &["fsck"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    eprintln!("changing file: {recorded} exact records, {refused} refused as changing");
}
