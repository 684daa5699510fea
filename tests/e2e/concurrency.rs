//! Writers racing each other: the repository lock serialises them, and each writes
//! `dvx.lock` inside it, last, so the pin always names what HEAD is on.

use std::process::Stdio;

use crate::harness::*;

/// Rounds of racing processes: each round's pair lands in either order.
const ROUNDS: usize = 40;

/// The commit `dvx.lock` names.
fn pinned(sb: &Sandbox) -> String {
    let text = String::from_utf8(sb.read("dvx.lock")).expect("utf-8");
    text.lines()
        .find_map(|l| l.strip_prefix("commit = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or_else(|| panic!("no commit line in dvx.lock:\n{text}"))
        .to_owned()
}

/// Regression: `checkout` rewrote `dvx.lock` after it had released the repository lock,
/// so a `commit` that ran in between could leave the pin naming a commit HEAD was no
/// longer on.
#[test]
fn racing_checkout_and_commit_leave_dvx_lock_naming_head() {
    let sb = Sandbox::git_and_dvx();
    sb.write("data/a.txt", b"a\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "base"]);
    sb.ok(&["branch", "other"]);
    for round in 0..ROUNDS {
        let target = if round % 2 == 0 { "other" } else { "main" };
        let spawn = |args: &[&str]| {
            sb.dvx_std()
                // Long enough that the loser waits instead of failing.
                .env("DVX_LOCK_TIMEOUT", "60")
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn dvx")
        };
        let message = format!("round {round}");
        let checkout = spawn(&["checkout", "-q", target]);
        let commit = spawn(&["commit", "-q", "--allow-empty", "-m", &message]);
        for (what, child) in [("checkout", checkout), ("commit", commit)] {
            let out = child.wait_with_output().expect("wait for dvx");
            assert!(
                out.status.success(),
                "round {round}: {what} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let status = sb.status_json();
        let head = status["head"].as_str().expect("a commit").to_owned();
        assert_eq!(pinned(&sb), head, "round {round}: dvx.lock is not HEAD");
        assert_eq!(status["pin"]["state"], "matches", "round {round}");
    }
}
