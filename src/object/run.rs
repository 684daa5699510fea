//! Run records: how a set of files was made (lineage).
//!
//! A run record names the command line, the working directory, the data deps and the outs
//! (each a blob or, for a directory, a tree id: a run over 100k input files is one id per
//! dep, not a list), the code deps git tracks (with their git blob ids), the environment
//! variables the user named, the exit code, the start and end time and the git commit the
//! code was at. It never names the dvx commit that holds it: the commit names the record
//! (`Commit::runs`), so the record can be written before the commit.
//!
//! Invariants (checked on decode, and by [`RunRecord::validate_new`] before one is
//! written): dep, code and out paths are valid, not the top, each list strictly
//! increasing in path order; no out lies at or below a dep or code dep, nor a dep or code
//! dep below an out; only files are executable; git ids have their algorithm's length;
//! environment names are strictly increasing, non-empty and without `=` or NUL.

use serde::{Deserialize, Serialize};

use super::commit::validate_extensions;
use super::{DecodeError, Encode, EntryKind, Extension, GitHash, GitLink, Kind};
use crate::hash::ObjectId;
use crate::path::RepoPath;

/// Who ran the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Origin {
    /// `dvx run` ran it and saw it succeed.
    Ran,
    /// It ran elsewhere (a cluster job, a notebook); `dvx record` recorded it.
    Recorded,
}

impl Origin {
    pub fn name(self) -> &'static str {
        match self {
            Origin::Ran => "ran",
            Origin::Recorded => "recorded",
        }
    }
}

/// A data dep or an out: a path and what it held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// From the top of the work tree; never the top itself.
    pub path: RepoPath,
    /// File, directory (`id` is its tree) or symlink (`id` is the blob of its target).
    pub kind: EntryKind,
    /// The executable bit (files only).
    pub executable: bool,
    /// Bytes: the file, the symlink target, or every file below a directory.
    pub size: u64,
    pub id: ObjectId,
}

/// A git object id, with the hash function that made it (SHA-256 git repositories work).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitBlob {
    pub algorithm: GitHash,
    pub id: Vec<u8>,
}

impl GitBlob {
    pub fn hex(&self) -> String {
        self.id.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The abbreviated form shown to people.
    pub fn short(&self) -> String {
        let mut hex = self.hex();
        hex.truncate(crate::hash::SHORT_LEN);
        hex
    }
}

/// A code dep: a file git tracks (a script, a params file), by its git blob id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeDep {
    pub path: RepoPath,
    pub blob: GitBlob,
}

/// An environment variable the user asked to record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvVar {
    pub name: String,
    /// `None`: the variable was not set.
    pub value: Option<String>,
}

/// One run: what went in, what came out, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The command line, one string per argument (no shell in between); empty when the
    /// command is not known (`dvx record` without `--command`).
    pub command: Vec<String>,
    pub origin: Origin,
    /// Where the command ran, from the top of the work tree (the top is the empty path),
    /// so a clone elsewhere runs it in the same place.
    pub cwd: RepoPath,
    /// Data deps dvx tracks, sorted by path.
    pub deps: Vec<Artifact>,
    /// Code deps git tracks, one per file, sorted by path.
    pub code: Vec<CodeDep>,
    /// What the command wrote, sorted by path.
    pub outs: Vec<Artifact>,
    /// Sorted by name.
    pub env: Vec<EnvVar>,
    pub exit_code: i32,
    /// Seconds since the Unix epoch.
    pub started: i64,
    pub ended: i64,
    /// The git commit the code was at when the command started, and whether git's work
    /// tree had uncommitted changes.
    pub git: Option<GitLink>,
    /// Sorted by key, unique (as in commits).
    pub extensions: Vec<Extension>,
}

impl RunRecord {
    /// The command as a shell would need it typed (`sh train.sh --lr '0.1 0.2'`).
    pub fn command_line(&self) -> String {
        shell_words(&self.command)
    }

    /// Check a record about to be written, so a writer can never store one that readers
    /// would refuse.
    pub fn validate_new(&self) -> Result<(), DecodeError> {
        self.validate()
    }
}

/// Arguments joined with spaces, each quoted for a POSIX shell when it needs it.
pub fn shell_words(args: &[String]) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    args.iter()
        .map(|arg| {
            if !arg.is_empty() && arg.chars().all(plain) {
                arg.clone()
            } else {
                format!("'{}'", arg.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn invalid(message: String) -> DecodeError {
    DecodeError::Invalid(message)
}

/// Paths strictly increasing (component-wise), none the top.
fn check_paths<'a>(
    what: &str,
    paths: impl Iterator<Item = &'a RepoPath>,
) -> Result<(), DecodeError> {
    let mut previous: Option<&RepoPath> = None;
    for path in paths {
        if path.is_root() {
            return Err(invalid(format!("a {what} names the top of the work tree")));
        }
        // Reproducing writes deps where the record names them.
        if path.components().any(crate::path::is_reserved_name) {
            return Err(invalid(format!(
                "{what} '{path}' lies in git's or dvx's own directory"
            )));
        }
        if previous.is_some_and(|p| p >= path) {
            return Err(invalid(format!(
                "{what}s out of order or duplicated at '{path}'"
            )));
        }
        previous = Some(path);
    }
    Ok(())
}

fn check_artifacts(what: &str, artifacts: &[Artifact]) -> Result<(), DecodeError> {
    check_paths(what, artifacts.iter().map(|a| &a.path))?;
    if let Some(a) = artifacts
        .iter()
        .find(|a| a.executable && a.kind != EntryKind::File)
    {
        return Err(invalid(format!(
            "{what} '{}' is a {} marked executable",
            a.path,
            a.kind.name()
        )));
    }
    Ok(())
}

fn check_git_id(what: &str, algorithm: GitHash, id: &[u8]) -> Result<(), DecodeError> {
    if id.len() == algorithm.id_len() {
        Ok(())
    } else {
        Err(invalid(format!("{what} has the wrong length")))
    }
}

impl Encode for RunRecord {
    const KIND: Kind = Kind::Run;

    fn validate(&self) -> Result<(), DecodeError> {
        if self.command.iter().any(|arg| arg.contains('\0')) {
            return Err(invalid("a command argument holds a NUL byte".into()));
        }
        check_artifacts("dep", &self.deps)?;
        check_artifacts("out", &self.outs)?;
        check_paths("code dep", self.code.iter().map(|c| &c.path))?;
        for code in &self.code {
            check_git_id(
                &format!("the git blob id of '{}'", code.path),
                code.blob.algorithm,
                &code.blob.id,
            )?;
        }
        let inputs = self
            .deps
            .iter()
            .map(|d| &d.path)
            .chain(self.code.iter().map(|c| &c.path));
        for input in inputs {
            if let Some(out) = self
                .outs
                .iter()
                .find(|o| o.path.is_within(input) || input.is_within(&o.path))
            {
                return Err(invalid(format!(
                    "out '{}' overlaps dep '{input}'",
                    out.path
                )));
            }
        }
        for (i, var) in self.env.iter().enumerate() {
            if var.name.is_empty() || var.name.contains(['=', '\0']) {
                return Err(invalid(format!(
                    "'{}' is not an environment variable name",
                    var.name
                )));
            }
            if var.value.as_ref().is_some_and(|v| v.contains('\0')) {
                return Err(invalid(format!(
                    "the value of {} holds a NUL byte",
                    var.name
                )));
            }
            if i > 0 && self.env[i - 1].name.as_bytes() >= var.name.as_bytes() {
                return Err(invalid(format!(
                    "environment variables out of order or duplicated at '{}'",
                    var.name
                )));
            }
        }
        if let Some(git) = &self.git {
            check_git_id("the git commit id", git.algorithm, &git.id)?;
        }
        validate_extensions(&self.extensions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(s: &str) -> RepoPath {
        RepoPath::new(s).expect("valid test path")
    }

    fn file(p: &str, bytes: &[u8]) -> Artifact {
        Artifact {
            path: path(p),
            kind: EntryKind::File,
            executable: false,
            size: bytes.len() as u64,
            id: ObjectId::of(bytes),
        }
    }

    fn record() -> RunRecord {
        RunRecord {
            command: vec!["sh".into(), "train.sh".into()],
            origin: Origin::Ran,
            cwd: RepoPath::root(),
            deps: vec![file("data/a.csv", b"a"), file("data/b.csv", b"b")],
            code: vec![CodeDep {
                path: path("train.sh"),
                blob: GitBlob {
                    algorithm: GitHash::Sha1,
                    id: vec![9; 20],
                },
            }],
            outs: vec![file("model.pt", b"ab")],
            env: vec![EnvVar {
                name: "SEED".into(),
                value: Some("1".into()),
            }],
            exit_code: 0,
            started: 1_700_000_000,
            ended: 1_700_000_060,
            git: None,
            extensions: vec![],
        }
    }

    /// Bytes written as whitespace-separated hex pairs (`44 56 58 4f`).
    fn hex_bytes(text: &str) -> Vec<u8> {
        text.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).expect("hex byte"))
            .collect()
    }

    #[test]
    fn round_trips() {
        let r = record();
        let back = RunRecord::decode(&r.encode()).expect("decodes");
        assert_eq!(back, r);
        assert_eq!(back.command_line(), "sh train.sh");
    }

    /// The worked example in docs/format.md decodes, re-encodes to the same bytes, means
    /// what the document says, and has the id it states.
    #[test]
    fn the_worked_example_in_format_md_holds() {
        let doc = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/format.md"));
        let start = doc
            .find("#### Example: a run record")
            .expect("run record example");
        let example = &doc[start..];
        let example = &example[..example.find("\n### ").expect("section end")];
        let bytes: Vec<u8> = example
            .lines()
            .filter_map(|line| line.strip_prefix("| `"))
            .filter_map(|rest| rest.split('`').next())
            .flat_map(hex_bytes)
            .collect();
        let run = RunRecord::decode(&bytes).expect("the example decodes");
        assert_eq!(run.encode(), bytes);
        assert_eq!(run.command, ["sh", "train.sh"]);
        assert_eq!(run.origin, Origin::Ran);
        assert!(run.cwd.is_root());
        assert_eq!(run.deps.len(), 1);
        assert_eq!(run.deps[0].path.as_str(), "data.csv");
        assert_eq!(run.deps[0].id, ObjectId::of(b"1,2\n"));
        assert_eq!(run.code[0].path.as_str(), "train.sh");
        assert_eq!(
            run.code[0].blob.hex(),
            "e9f66ad3f496c7fbf84c315dabee1434db4ab503"
        );
        assert_eq!(run.outs[0].path.as_str(), "model.pt");
        assert_eq!(run.outs[0].id, ObjectId::of(b"1,2\n1,2\n"));
        assert_eq!(
            run.env,
            vec![EnvVar {
                name: "SEED".into(),
                value: Some("7".into())
            }]
        );
        assert_eq!(
            (run.started, run.ended, run.exit_code),
            (1_700_000_000, 1_700_000_000, 0)
        );
        let git = run.git.as_ref().expect("a git commit");
        assert_eq!(git.hex(), "28fff190ca6ee6ea2eacf34bebd8dd414af8b9c6");
        assert!(!git.dirty);
        assert_eq!(bytes.len(), 188);
        let id = ObjectId::of(&bytes).to_hex();
        assert_eq!(
            id,
            "b439222f35515b1cf08d9afb676a4832baec0f82128838c8390496b00ae67bd7"
        );
        assert!(
            example.contains(&format!("`{id}`")),
            "the example states id {id}"
        );
    }

    #[test]
    fn refuses_unsorted_overlapping_and_bad_fields() {
        let mut cases = Vec::new();
        let mut r = record();
        r.deps.reverse();
        cases.push(r);
        let mut r = record();
        r.deps.push(file("data/b.csv", b"b"));
        cases.push(r);
        let mut r = record();
        r.outs = vec![file("data/a.csv/x", b"x")];
        cases.push(r);
        let mut r = record();
        r.outs = vec![file("data", b"x")];
        cases.push(r);
        let mut r = record();
        r.outs = vec![file("train.sh", b"x")];
        cases.push(r);
        let mut r = record();
        r.outs[0].kind = EntryKind::Dir;
        r.outs[0].executable = true;
        cases.push(r);
        let mut r = record();
        r.code[0].blob.id.pop();
        cases.push(r);
        let mut r = record();
        r.env.push(EnvVar {
            name: "A".into(),
            value: None,
        });
        cases.push(r);
        let mut r = record();
        r.env[0].name = "A=B".into();
        cases.push(r);
        let mut r = record();
        r.outs = vec![Artifact {
            path: RepoPath::root(),
            ..file("x", b"x")
        }];
        cases.push(r);
        let mut r = record();
        r.extensions = vec![Extension {
            key: "x-future".into(),
            critical: true,
            value: vec![],
        }];
        cases.push(r);
        for (i, r) in cases.into_iter().enumerate() {
            assert!(
                matches!(RunRecord::decode(&r.encode()), Err(DecodeError::Invalid(_))),
                "case {i} should be refused"
            );
            assert!(r.validate_new().is_err(), "case {i} should be refused");
        }
    }

    #[test]
    fn refuses_other_kinds_and_trailing_bytes() {
        let mut bytes = record().encode();
        bytes.push(0);
        assert!(matches!(
            RunRecord::decode(&bytes),
            Err(DecodeError::Trailing(1))
        ));
        bytes.pop();
        bytes[4] = Kind::Commit as u8;
        assert!(matches!(
            RunRecord::decode(&bytes),
            Err(DecodeError::WrongKind { .. })
        ));
    }

    #[test]
    fn quotes_command_lines_for_a_shell() {
        let words = |w: &[&str]| shell_words(&w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            words(&["python", "train.py", "--lr=0.1"]),
            "python train.py --lr=0.1"
        );
        assert_eq!(
            words(&["echo", "a b", "", "it's"]),
            r"echo 'a b' '' 'it'\''s'"
        );
    }
}
