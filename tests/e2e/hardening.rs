//! Regressions found while trying to break dvx (crashes, races, hostile input) that need
//! no fault injection to show.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::harness::*;

/// Regression: a hook was written, then made executable; killed in between, it stayed a
/// hook git ignores, and `install-hooks` run again called it unchanged.
#[test]
fn install_hooks_makes_a_hook_left_without_its_executable_bit_executable_again() {
    let sb = Sandbox::git_and_dvx();
    sb.ok(&["-q", "install-hooks"]);
    let hook = sb.path(".git/hooks/post-checkout");
    fs::set_permissions(&hook, fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = sb.out(&["install-hooks"]);
    let already = out
        .lines()
        .find(|l| l.starts_with("already installed:"))
        .unwrap_or_default();
    assert!(!already.contains("post-checkout"), "{out}");
    let mode = fs::metadata(&hook).expect("stat").permissions().mode();
    assert_eq!(mode & 0o111, 0o111, "executable again: {mode:o}");
    sb.ok(&["install-hooks"]);
    assert_eq!(
        fs::metadata(&hook).expect("stat").permissions().mode() & 0o777,
        0o755
    );
}
