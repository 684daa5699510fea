//! A faulty network between dvx and its S3 remote (tests/e2e/fault_proxy.rs): 500s, 503
//! SlowDown, connections dropped before a request arrives, responses cut half-way and
//! slow responses are retried with bounded backoff, and push, clone, fetch and pull
//! still move every byte, and drop, `pull <paths>` (ranged reads), `cat` from the remote
//! and `fsck --remote` give exact results; a push cut off by a network that dies part-way
//! fails clearly and, once the network is back, resumes without sending again what
//! arrived; with the network gone, drop, `pull <paths>`, `cat` and `fsck --remote` fail
//! clearly and change nothing local. (An
//! unreachable endpoint failing within a minute is `sync_errors`'.)
//!
//! `DVX_SOAK=1` runs more rounds.

use std::time::{Duration, Instant};

use crate::fault_proxy::{Fault, FaultProxy};
use crate::harness::*;
use crate::s3_server::S3Server;
use crate::sync::Peer;

/// A peer (without git) reaching `server` through `proxy`.
fn peer_through(server: &S3Server, proxy: &FaultProxy, sb: Sandbox) -> Peer {
    let mut env = server.env();
    env.insert("AWS_ENDPOINT_URL".into(), proxy.endpoint());
    Peer { sb, env }
}

fn files(seed: u64) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = (0..30)
        .map(|i| {
            (
                format!("data/d{}/f{i}.bin", i % 4),
                bytes(seed * 100 + i, 1000 + (i as usize * 997) % 20_000),
            )
        })
        .collect();
    // Over the large-object threshold: stored alone, in frames.
    out.push(("data/large.bin".into(), bytes(seed * 100 + 99, 9 << 20)));
    out
}

fn as_refs(files: &[(String, Vec<u8>)]) -> Vec<(&str, &[u8])> {
    files
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect()
}

/// Every third request faulted, cycling through every kind of fault.
fn every_third(n: usize) -> Fault {
    if n % 3 != 1 {
        return Fault::Pass;
    }
    match (n / 3) % 5 {
        0 => Fault::InternalError,
        1 => Fault::SlowDown,
        2 => Fault::Drop,
        3 => Fault::CutResponse,
        _ => Fault::Slow(Duration::from_millis(700)),
    }
}

#[test]
fn remote_faults_are_retried_and_every_byte_arrives() {
    let server = S3Server::start();
    let proxy = FaultProxy::start(server.addr.to_string(), Box::new(every_third));
    let url = server.url("team/data");
    let a = peer_through(&server, &proxy, Sandbox::dvx_only());
    // Set up without faults, then the faulty network for every transfer.
    proxy.set_schedule(Box::new(|_| Fault::Pass));
    a.ok(&["remote", "add", "origin", &url]);
    proxy.set_schedule(Box::new(every_third));
    let rounds = if std::env::var_os("DVX_SOAK").is_some() {
        6
    } else {
        2
    };
    let started = Instant::now();
    let first = files(1);
    a.commit("v1", &as_refs(&first));
    a.ok(&["push"]);
    let b = peer_through(&server, &proxy, Sandbox::empty());
    b.ok(&["clone", &url, "."]);
    assert_eq!(b.data(), a.data(), "the clone has every byte");
    for round in 2..2 + rounds {
        let next = files(round);
        a.commit(&format!("v{round}"), &as_refs(&next[..10]));
        a.ok(&["push"]);
        b.ok(&["fetch"]);
        b.ok(&["pull"]);
        assert_eq!(b.data(), a.data(), "round {round}: every byte arrived");
    }
    let fsck = b.run(&["fsck"]);
    assert!(
        fsck.status.success(),
        "{}",
        String::from_utf8_lossy(&fsck.stdout)
    );
    let injected = proxy.injected();
    for kind in [
        Fault::InternalError,
        Fault::SlowDown,
        Fault::Drop,
        Fault::CutResponse,
    ] {
        assert!(
            injected.get(&kind).copied().unwrap_or(0) > 0,
            "{kind:?} was injected: {injected:?}"
        );
    }
    eprintln!(
        "remote faults: {} requests, {} faults injected ({injected:?}), all retried, in {:?}",
        proxy.requests(),
        proxy.injected_total(),
        started.elapsed()
    );
}

#[test]
fn a_push_cut_off_by_the_network_resumes_once_it_is_back() {
    let server = S3Server::start();
    let proxy = FaultProxy::start(server.addr.to_string(), Box::new(|_| Fault::Pass));
    let url = server.url("team/data");
    let a = peer_through(&server, &proxy, Sandbox::dvx_only());
    a.ok(&["remote", "add", "origin", &url]);
    // Several packs, one at a time, and a large object.
    a.ok(&["remote", "set", "origin", "jobs", "1"]);
    let big: Vec<(String, Vec<u8>)> = (0..6)
        .map(|i| (format!("data/part{i}.bin"), bytes(500 + i, 12 << 20)))
        .chain(files(3))
        .collect();
    a.commit("big", &as_refs(&big));
    // The network dies for good once the first objects have arrived.
    let arrived = server.bucket_dir().join("team/data");
    let dead = std::sync::atomic::AtomicBool::new(false);
    proxy.set_schedule(Box::new(move |_| {
        // A whole pack (its index goes up last) or a whole large object.
        let some_up = walkdir::WalkDir::new(&arrived)
            .into_iter()
            .filter_map(Result::ok)
            .any(|e| {
                let name = e.file_name().to_string_lossy();
                let whole_object = name.len() == 62 && name.bytes().all(|b| b.is_ascii_hexdigit());
                e.file_type().is_file() && (name.ends_with(".idx") || whole_object)
            });
        if some_up {
            dead.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        if dead.load(std::sync::atomic::Ordering::Relaxed) {
            Fault::Drop
        } else {
            Fault::Pass
        }
    }));
    let started = Instant::now();
    let stderr = a.fails(&["push"], 1);
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(90),
        "a dead network fails the push within a bounded time: {took:?}"
    );
    let (error, hint) = error_and_hint(&stderr);
    assert!(
        error.contains("s3://"),
        "the error names the remote: {error}"
    );
    assert!(!hint.is_empty());
    // Nothing points at a partial upload.
    proxy.set_schedule(Box::new(|_| Fault::Pass));
    let c = peer_through(&server, &proxy, Sandbox::dvx_only());
    c.ok(&["remote", "add", "origin", &url]);
    let fetched = c.json(&["fetch", "--json"]);
    assert!(
        fetched["branches"].as_array().expect("list").is_empty(),
        "no ref moved: {fetched}"
    );
    // The network is back: the push resumes, skipping what arrived.
    let again = a.json(&["push", "--json"]);
    assert!(
        again["transfer"]["skipped"].as_u64().expect("number") > 0,
        "the resumed push skipped what was there: {again}"
    );
    let d = peer_through(&server, &proxy, Sandbox::empty());
    d.ok(&["clone", &url, "."]);
    assert_eq!(d.data(), a.data());
    eprintln!(
        "remote faults: a push cut off after {:?} ({} dropped requests) resumed",
        took,
        proxy.injected_total()
    );
}

/// Regression: a response cut off part-way (a connection dropped mid-listing or
/// mid-download) failed the whole command: object_store retries a request that fails
/// before its response starts, not a body that ends early. Such reads are now tried
/// again, with backoff.
#[test]
fn a_response_cut_off_part_way_is_read_again() {
    let server = S3Server::start();
    let proxy = FaultProxy::start(server.addr.to_string(), Box::new(|_| Fault::Pass));
    let url = server.url("team/data");
    let a = peer_through(&server, &proxy, Sandbox::dvx_only());
    a.ok(&["remote", "add", "origin", &url]);
    a.commit("v1", &as_refs(&files(4)));
    a.ok(&["push"]);
    // From now on every other response breaks off half-way.
    proxy.set_schedule(Box::new(|n| {
        if n % 2 == 0 {
            Fault::CutResponse
        } else {
            Fault::Pass
        }
    }));
    let b = peer_through(&server, &proxy, Sandbox::empty());
    b.ok(&["clone", &url, "."]);
    assert_eq!(b.data(), a.data());
    b.ok(&["fetch"]);
    b.ok(&["pull"]);
    assert!(proxy.injected_total() > 0);
}

/// Run `args` through `proxy`; return its output and how many faults the proxy injected
/// while it ran (so a scenario that saw none cannot pass unnoticed).
fn faulted(peer: &Peer, proxy: &FaultProxy, args: &[&str]) -> (std::process::Output, usize) {
    let before = proxy.injected_total();
    let out = peer.run(args);
    assert!(
        out.status.success(),
        "dvx {args:?} through faults:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, proxy.injected_total() - before)
}

/// The commands that read the remote piecemeal (drop asks the remote's catalog, `pull
/// <paths>` and `cat` read byte ranges of packs and large objects, `fsck --remote` reads
/// everything) retry the same faults and give exact results.
#[test]
fn drop_pull_of_paths_cat_and_fsck_remote_retry_faults_and_stay_exact() {
    let server = S3Server::start();
    let proxy = FaultProxy::start(server.addr.to_string(), Box::new(|_| Fault::Pass));
    let url = server.url("team/data");
    let a = peer_through(&server, &proxy, Sandbox::dvx_only());
    a.ok(&["remote", "add", "origin", &url]);
    let original = files(5);
    a.commit("v1", &as_refs(&original));
    a.ok(&["push"]);
    let whole = a.data();
    proxy.set_schedule(Box::new(every_third));
    let started = Instant::now();
    let mut seen = Vec::new();

    let (_, n) = faulted(&a, &proxy, &["drop", "data"]);
    seen.push(("drop", n));
    assert!(!a.sb.exists("data/large.bin"), "drop removed the files");
    // `cat` of a small file (a range of a pack) and of the large object, from the remote.
    for (path, want) in [
        ("data/d1/f5.bin", &original[5].1),
        ("data/large.bin", &original[30].1),
    ] {
        let (out, n) = faulted(&a, &proxy, &["cat", path]);
        assert!(out.stdout == *want, "cat {path} gives its exact bytes");
        seen.push(("cat", n));
    }
    assert!(
        !a.sb.exists("data/large.bin"),
        "cat brings nothing into the work tree"
    );
    // A file, a directory and a glob, then everything else.
    for paths in [
        &["data/d0/f4.bin"][..],
        &["data/d2"],
        &["data/**/f1*.bin"],
        &["data"],
    ] {
        let mut args = vec!["pull"];
        args.extend_from_slice(paths);
        let (_, n) = faulted(&a, &proxy, &args);
        seen.push(("pull <paths>", n));
    }
    assert_eq!(a.data(), whole, "every byte came back exact");
    a.ok(&["fsck"]);
    let (_, n) = faulted(&a, &proxy, &["fsck", "--remote"]);
    seen.push(("fsck --remote", n));
    let (out, n) = faulted(&a, &proxy, &["fsck", "--remote", "--json"]);
    seen.push(("fsck --remote --json", n));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["ok"], true, "{report}");
    for (what, n) in &seen {
        assert!(*n > 0, "{what} met no fault: {seen:?}");
    }
    eprintln!(
        "remote faults: drop, cat, pull <paths> and fsck --remote met {} faults ({:?}) in {} requests, all retried, in {:?}",
        seen.iter().map(|(_, n)| n).sum::<usize>(),
        proxy.injected(),
        proxy.requests(),
        started.elapsed()
    );
}

/// With the network gone for good, drop, `pull <paths>`, `cat` and `fsck --remote` fail
/// within a bounded time with one line naming the remote, and the local repository is
/// as it was: nothing dropped, nothing half pulled.
#[test]
fn drop_pull_of_paths_cat_and_fsck_remote_fail_clearly_on_a_dead_network() {
    let server = S3Server::start();
    let proxy = FaultProxy::start(server.addr.to_string(), Box::new(|_| Fault::Pass));
    let url = server.url("team/data");
    let a = peer_through(&server, &proxy, Sandbox::dvx_only());
    a.ok(&["remote", "add", "origin", &url]);
    let original = files(6);
    a.commit("v1", &as_refs(&original));
    a.ok(&["push"]);
    let whole = a.data();
    // Half the files dropped while the network works, so `pull` and `cat` need it.
    a.ok(&["drop", "data/d0", "data/large.bin"]);
    a.ok(&["status"]);
    proxy.set_schedule(Box::new(|_| Fault::Drop));
    for args in [
        &["drop", "data/d1"][..],
        &["pull", "data/d0"],
        &["pull", "data/large.bin"],
        &["pull", "data"],
        &["cat", "data/large.bin"],
        &["cat", "data/d0/f4.bin"],
        &["fsck", "--remote"],
        &["fsck", "--remote", "--json"],
    ] {
        let state = a.sb.dvx_state();
        let work = a.data();
        let started = Instant::now();
        let out = a.run(args);
        let took = started.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(1), "dvx {args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        let (error, hint) = error_and_hint(&stderr);
        assert!(
            error.contains("s3://"),
            "dvx {args:?}: the error names the remote: {error}"
        );
        assert!(hint.len() > "hint: ".len(), "{hint}");
        assert!(
            took < Duration::from_secs(90),
            "dvx {args:?} fails within a bounded time: {took:?}"
        );
        if args[0] == "cat" {
            assert!(out.stdout.is_empty(), "dvx {args:?} wrote no partial bytes");
        }
        assert_eq!(a.data(), work, "dvx {args:?} left the work tree as it was");
        assert_eq!(a.sb.dvx_state(), state, "dvx {args:?} left .dvx/ as it was");
    }
    // The network is back: everything completes.
    proxy.set_schedule(Box::new(|_| Fault::Pass));
    a.ok(&["pull", "data"]);
    assert_eq!(a.data(), whole, "every byte came back exact");
    a.ok(&["fsck", "--remote"]);
}

/// A network that dies part-way through `pull <paths>` (after the first, second, ...
/// request): the pull fails with one line naming the remote; every file in the work tree
/// is absent (as before) or whole and exact, never partial; `fsck` finds nothing wrong;
/// once the network is back the same pull completes with every byte.
#[test]
fn a_pull_of_paths_cut_off_part_way_leaves_whole_files_and_completes_later() {
    let server = S3Server::start();
    let proxy = FaultProxy::start(server.addr.to_string(), Box::new(|_| Fault::Pass));
    let url = server.url("team/data");
    let a = peer_through(&server, &proxy, Sandbox::dvx_only());
    a.ok(&["remote", "add", "origin", &url]);
    a.commit("v1", &as_refs(&files(7)));
    a.ok(&["push"]);
    let whole: std::collections::BTreeMap<String, Vec<u8>> = a.data().into_iter().collect();
    a.ok(&["drop", "data"]);
    let start = proxy.requests();
    a.ok(&["pull", "data"]);
    let needed = proxy.requests() - start;
    assert!(needed > 2, "a pull makes several requests: {needed}");
    let mut failed = 0;
    for cut in (1..needed).step_by((needed / 6).max(1)) {
        a.ok(&["drop", "data"]);
        let start = proxy.requests();
        proxy.set_schedule(Box::new(move |n| {
            if n >= start + cut {
                Fault::Drop
            } else {
                Fault::Pass
            }
        }));
        let out = a.run(&["pull", "data"]);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if !out.status.success() {
            failed += 1;
            assert_eq!(out.status.code(), Some(1), "{stderr}");
            let (error, _) = error_and_hint(&stderr);
            assert!(
                error.contains("s3://"),
                "the error names the remote: {error}"
            );
        }
        let present = if a.sb.exists("data") {
            a.data()
        } else {
            Vec::new()
        };
        for (path, bytes) in present {
            assert_eq!(
                Some(&bytes),
                whole.get(&path),
                "cut after {cut} requests: {path} is whole and exact"
            );
        }
        a.ok(&["fsck"]);
        proxy.set_schedule(Box::new(|_| Fault::Pass));
        a.ok(&["pull", "data"]);
        let now: std::collections::BTreeMap<String, Vec<u8>> = a.data().into_iter().collect();
        assert_eq!(now, whole, "cut after {cut} requests: the pull completes");
    }
    assert!(failed > 0, "the network died inside some pull");
    eprintln!(
        "remote faults: a pull of paths cut off at {failed} points of {needed} requests, each completed later"
    );
}
