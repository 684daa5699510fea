//! `dvx completion`: scripts that the shells really load and complete with.

use std::process::Command;

use crate::harness::Sandbox;

/// Run `script` in bash after loading dvx's completion, and return what it printed.
fn bash_with_completion(sb: &Sandbox, script: &str) -> String {
    let completion = sb.out(&["completion", "bash"]);
    let file = sb.path("dvx.bash");
    sb.write("dvx.bash", completion.as_bytes());
    let out = Command::new("bash")
        .arg("--norc")
        .arg("-c")
        .arg(format!("source '{}'\n{script}", file.display()))
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "bash failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn bash_completion_completes_commands_and_flags() {
    let sb = Sandbox::empty();
    let commands = bash_with_completion(
        &sb,
        "COMP_WORDS=(dvx ch); COMP_CWORD=1; _dvx dvx ch dvx; echo \"${COMPREPLY[@]}\"",
    );
    let words: Vec<&str> = commands.split_whitespace().collect();
    assert!(words.contains(&"checkout"), "{commands}");
    assert!(
        !words.contains(&"hook"),
        "hidden commands are not offered: {commands}"
    );
    let flags = bash_with_completion(
        &sb,
        "COMP_WORDS=(dvx checkout --la); COMP_CWORD=2; _dvx dvx --la checkout; echo \"${COMPREPLY[@]}\"",
    );
    assert_eq!(flags.trim(), "--lazy");
}

#[test]
fn zsh_and_fish_scripts_name_every_command() {
    let sb = Sandbox::empty();
    let zsh = sb.out(&["completion", "zsh"]);
    assert!(
        zsh.starts_with("#compdef dvx"),
        "{}",
        &zsh[..40.min(zsh.len())]
    );
    let fish = sb.out(&["completion", "fish"]);
    for command in ["add", "status", "commit", "checkout", "merge", "gc", "fsck"] {
        assert!(zsh.contains(&format!("'{command}:")), "zsh lacks {command}");
        assert!(
            fish.contains(&format!("-a \"{command}\"")),
            "fish lacks {command}"
        );
    }
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let sb = Sandbox::empty();
    let err = sb.fails(&["completion", "tcsh"], 2);
    assert!(err.contains("possible values: bash, zsh, fish"), "{err}");
}
