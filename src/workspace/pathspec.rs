//! Paths and globs as commands take them (`dvx pull data/**/*.csv`), as git's pathspecs
//! with glob magic read them.
//!
//! Owns: telling a literal path from a glob, resolving either against the working
//! directory, and matching repository paths. An argument without `*`, `?` or `[` is a
//! literal path (it names that path and everything below it). A glob is matched
//! component by component: `*` and `?` never cross a `/`, `[abc]`, `[a-z]` and `[!a]`
//! match one character, and a component that is exactly `**` matches any number of
//! directories (none included): `data/**/*.csv` is every `.csv` file at any depth below
//! `data/`. As in git, a path also matches when one of its directories does, so
//! `data/2024-*` takes whole directories. The components before the first one holding a
//! glob character are the glob's base, resolved like a literal path (relative to the
//! working directory, `..` allowed), so only what lies below it is ever looked at.

use std::path::{Path, PathBuf};

use super::{Error, resolve_path};
use crate::path::RepoPath;

/// One path or glob a command was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pathspec {
    /// As typed, for messages.
    pub text: String,
    /// The literal path, or the glob's base: nothing outside it matches.
    pub base: RepoPath,
    /// The glob's components below `base`; empty for a literal path.
    pattern: Vec<String>,
}

fn is_glob(component: &str) -> bool {
    component.contains(['*', '?', '['])
}

impl Pathspec {
    /// Read `arg` (typed relative to `cwd`) in the repository whose top is `root`.
    pub fn parse(root: &Path, cwd: &Path, arg: &Path) -> Result<Pathspec, Error> {
        let text = arg.to_str().ok_or_else(|| Error::BadName {
            path: arg.display().to_string(),
            why: "not valid UTF-8".into(),
        })?;
        let components: Vec<&str> = text.split('/').collect();
        let Some(first_glob) = components.iter().position(|c| is_glob(c)) else {
            return Ok(Pathspec {
                text: text.to_owned(),
                base: resolve_path(root, cwd, arg)?,
                pattern: Vec::new(),
            });
        };
        let base_text = components[..first_glob].join("/");
        let base_arg = if base_text.is_empty() && !text.starts_with('/') {
            PathBuf::from(".")
        } else if base_text.is_empty() {
            PathBuf::from("/")
        } else {
            PathBuf::from(&base_text)
        };
        let pattern: Vec<String> = components[first_glob..]
            .iter()
            .filter(|c| !c.is_empty())
            .map(|c| (*c).to_owned())
            .collect();
        Ok(Pathspec {
            text: text.to_owned(),
            base: resolve_path(root, cwd, &base_arg)?,
            pattern,
        })
    }

    pub fn is_glob(&self) -> bool {
        !self.pattern.is_empty()
    }

    /// Whether `path` (a file's path from the top) is selected: it is or lies below the
    /// literal path; or, for a glob, the glob matches it or one of its directories.
    pub fn matches(&self, path: &RepoPath) -> bool {
        let Some(rest) = below(path, &self.base) else {
            return false;
        };
        if self.pattern.is_empty() {
            return true;
        }
        let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
        (1..=parts.len()).any(|n| match_components(&self.pattern, &parts[..n]))
    }
}

/// `path` relative to `dir` ("" when equal), or `None` when it is not at or below it.
fn below<'a>(path: &'a RepoPath, dir: &RepoPath) -> Option<&'a str> {
    if path == dir {
        return Some("");
    }
    path.strip_dir(dir)
}

/// Whether glob components `pattern` match path components `parts` exactly.
fn match_components(pattern: &[String], parts: &[&str]) -> bool {
    match pattern.split_first() {
        None => parts.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=parts.len()).any(|skip| match_components(rest, &parts[skip..]))
        }
        Some((first, rest)) => match parts.split_first() {
            Some((part, more)) => {
                match_name(first.as_bytes(), part.as_bytes()) && match_components(rest, more)
            }
            None => false,
        },
    }
}

/// Whether one glob component matches one name (`*`, `?`, `[...]`; no `/` in either).
fn match_name(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|skip| match_name(rest, &name[skip..])),
        Some((b'?', rest)) => !name.is_empty() && match_name(rest, &name[1..]),
        Some((b'[', rest)) => match (name.first(), class(rest)) {
            (Some(&c), Some((set, after))) => set.matches(c) && match_name(after, &name[1..]),
            // An unclosed `[` is an ordinary character, as in git.
            (Some(&c), None) => c == b'[' && match_name(rest, &name[1..]),
            (None, _) => false,
        },
        Some((&p, rest)) => name.first() == Some(&p) && match_name(rest, &name[1..]),
    }
}

/// A `[...]` class: its members and the pattern after its `]`.
struct Class<'a> {
    negated: bool,
    body: &'a [u8],
}

impl Class<'_> {
    fn matches(&self, c: u8) -> bool {
        let mut i = 0;
        let mut hit = false;
        while i < self.body.len() {
            if i + 2 < self.body.len() && self.body[i + 1] == b'-' {
                hit |= (self.body[i]..=self.body[i + 2]).contains(&c);
                i += 3;
            } else {
                hit |= self.body[i] == c;
                i += 1;
            }
        }
        hit != self.negated
    }
}

/// The class starting after a `[`, and the pattern after its `]`; `None` when it is never
/// closed. A `]` first in the class is a member, as in git.
fn class(after_bracket: &[u8]) -> Option<(Class<'_>, &[u8])> {
    let (negated, start) = match after_bracket.first() {
        Some(b'!' | b'^') => (true, 1),
        _ => (false, 0),
    };
    let from = start + usize::from(after_bracket.get(start) == Some(&b']'));
    let close = from + after_bracket.get(from..)?.iter().position(|&b| b == b']')?;
    Some((
        Class {
            negated,
            body: &after_bracket[start..close],
        },
        &after_bracket[close + 1..],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> Pathspec {
        let root = Path::new("/repo");
        Pathspec::parse(root, root, Path::new(text)).expect("spec")
    }

    fn p(s: &str) -> RepoPath {
        RepoPath::new(s).expect("path")
    }

    #[test]
    fn literal_paths_take_themselves_and_what_lies_below() {
        let s = spec("data/train");
        assert!(!s.is_glob());
        assert!(s.matches(&p("data/train")));
        assert!(s.matches(&p("data/train/a.csv")));
        assert!(!s.matches(&p("data/training.csv")));
        assert!(!s.matches(&p("data")));
        // A name with glob characters escaped is not a thing: the literal is whole.
        assert!(spec(".").matches(&p("anything/at/all")));
    }

    #[test]
    fn stars_stay_within_a_component_and_double_stars_cross_directories() {
        let s = spec("data/**/*.csv");
        assert_eq!(s.base, p("data"));
        assert!(s.matches(&p("data/a.csv")), "** matches no directory too");
        assert!(s.matches(&p("data/x/y/b.csv")));
        assert!(!s.matches(&p("data/x/b.json")));
        assert!(!s.matches(&p("other/a.csv")));
        let one_level = spec("data/*.csv");
        assert!(one_level.matches(&p("data/a.csv")));
        assert!(
            !one_level.matches(&p("data/x/a.csv")),
            "* never crosses a /"
        );
        let q = spec("data/part-?.bin");
        assert!(q.matches(&p("data/part-1.bin")));
        assert!(!q.matches(&p("data/part-10.bin")));
    }

    #[test]
    fn a_directory_that_matches_takes_its_files() {
        let s = spec("data/2024-*");
        assert!(s.matches(&p("data/2024-01/a.csv")));
        assert!(!s.matches(&p("data/2023-12/a.csv")));
        let everything = spec("data/**");
        assert!(everything.matches(&p("data/a/b/c")));
    }

    #[test]
    fn classes_match_one_character() {
        let s = spec("d/[ab]*");
        assert!(s.matches(&p("d/apple")) && s.matches(&p("d/b")));
        assert!(!s.matches(&p("d/cherry")));
        let range = spec("d/x[0-2]");
        assert!(range.matches(&p("d/x1")) && !range.matches(&p("d/x3")));
        let negated = spec("d/[!a]*");
        assert!(negated.matches(&p("d/b")) && !negated.matches(&p("d/a")));
        let bracket_member = spec("d/[]]x");
        assert!(bracket_member.matches(&p("d/]x")));
        let unclosed = spec("d/[x");
        assert!(unclosed.matches(&p("d/[x")) && !unclosed.matches(&p("d/x")));
    }

    #[test]
    fn globs_are_relative_to_the_working_directory() {
        let root = Path::new("/repo");
        let s = Pathspec::parse(root, &root.join("data"), Path::new("*.csv")).expect("spec");
        assert_eq!(s.base, p("data"));
        assert!(s.matches(&p("data/a.csv")));
        let up =
            Pathspec::parse(root, &root.join("data"), Path::new("../models/*.pt")).expect("spec");
        assert_eq!(up.base, p("models"));
        assert!(up.matches(&p("models/m.pt")));
        assert!(matches!(
            Pathspec::parse(root, root, Path::new("../elsewhere/*")),
            Err(Error::OutsideRepo { .. })
        ));
    }
}
