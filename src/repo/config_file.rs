//! Editing `.dvx/config.toml` and `.dvx/config.local.toml` as people wrote them.
//!
//! Owns: setting and removing one key of a table, removing and renaming a table, and
//! writing the file back, keeping every comment and line the edit does not touch (as `git
//! config` does). Does not own what the keys mean (`config`, `remote::settings`) or when
//! an edit is allowed (the caller, which holds the repository lock).
//!
//! Invariant: the file written always parses to exactly the table the edit asks for. An
//! edit is made on the lines of the file where its layout is the plain one (a
//! `[remote.origin]` header followed by `key = value` lines); the result is parsed and
//! compared with the expected table, and when they differ (a layout with dotted keys or
//! inline tables) the whole file is written out from the table instead, losing its
//! comments but never a setting.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::{Error, RepoLock};
use crate::atomic;

/// One config file, loaded for editing.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    path: PathBuf,
    text: String,
    table: toml::Table,
}

/// A table's place in the file: `["remote", "origin"]` is `[remote.origin]`.
pub type TablePath<'a> = &'a [&'a str];

impl ConfigFile {
    /// Load `path`; a missing file is an empty one (written on [`ConfigFile::save`]).
    pub fn load(path: &Path) -> Result<ConfigFile, Error> {
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(Error::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let table = parse(path, &text)?;
        Ok(ConfigFile {
            path: path.to_path_buf(),
            text,
            table,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's settings as they are now (edits included).
    pub fn table(&self) -> &toml::Table {
        &self.table
    }

    /// The table at `path`, if the file has one.
    pub fn get_table(&self, path: TablePath) -> Option<&toml::Table> {
        let mut table = &self.table;
        for part in path {
            table = table.get(*part)?.as_table()?;
        }
        Some(table)
    }

    /// Set `key` of the table at `path` (created if absent) to `value`.
    pub fn set(&mut self, path: TablePath, key: &str, value: toml::Value) {
        let mut expected = self.table.clone();
        table_mut(&mut expected, path).insert(key.to_owned(), value.clone());
        let line = key_line(key, &value);
        let mut lines = Lines::of(&self.text);
        match lines.section(path) {
            Some(section) => match lines.key_in(&section, key) {
                Some(at) => lines.lines[at] = line,
                None => lines.lines.insert(lines.insert_point(&section), line),
            },
            None => lines.append_section(path, vec![line]),
        }
        self.apply(lines.text(), expected);
    }

    /// Remove `key` from the table at `path`; whether it was there. A table left empty
    /// (`[core]` once `remote` is unset) goes too: an empty header says nothing and
    /// only invites the question what was there.
    pub fn remove_key(&mut self, path: TablePath, key: &str) -> bool {
        let mut expected = self.table.clone();
        let removed = match table_at_mut(&mut expected, path) {
            Some(table) => table.remove(key).is_some(),
            None => false,
        };
        if !removed {
            return false;
        }
        prune_empty(&mut expected, path);
        let mut lines = Lines::of(&self.text);
        if let Some(section) = lines.section(path)
            && let Some(at) = lines.key_in(&section, key)
        {
            lines.lines.remove(at);
            let left_empty = (section.header + 1..section.end - 1).all(|i| {
                lines.lines[i].trim().is_empty() || lines.lines[i].trim().starts_with('#')
            });
            if left_empty && table_at_mut(&mut expected, path).is_none() {
                lines.remove_section(&Section {
                    header: section.header,
                    end: section.end - 1,
                });
            }
        }
        self.apply(lines.text(), expected);
        true
    }

    /// Remove the table at `path` and everything in it; whether it was there. A parent
    /// table left empty (`[remote]` once its last remote is gone) is removed too.
    pub fn remove_table(&mut self, path: TablePath) -> bool {
        let Some((last, parent)) = path.split_last() else {
            return false;
        };
        let mut expected = self.table.clone();
        let removed = match table_at_mut(&mut expected, parent) {
            Some(table) => table.remove(*last).is_some(),
            None => false,
        };
        if !removed {
            return false;
        }
        prune_empty(&mut expected, parent);
        let mut lines = Lines::of(&self.text);
        if let Some(section) = lines.section(path) {
            lines.remove_section(&section);
        }
        self.apply(lines.text(), expected);
        true
    }

    /// Move the table at `from` to `to` (which must not exist); whether `from` was there.
    pub fn rename_table(&mut self, from: TablePath, to: TablePath) -> bool {
        let (Some((from_last, from_parent)), Some((to_last, to_parent))) =
            (from.split_last(), to.split_last())
        else {
            return false;
        };
        let mut expected = self.table.clone();
        let Some(moved) =
            table_at_mut(&mut expected, from_parent).and_then(|t| t.remove(*from_last))
        else {
            return false;
        };
        prune_empty(&mut expected, from_parent);
        table_mut(&mut expected, to_parent).insert((*to_last).to_owned(), moved);
        let mut lines = Lines::of(&self.text);
        if let Some(section) = lines.section(from) {
            lines.lines[section.header] = header_line(to);
        }
        self.apply(lines.text(), expected);
        true
    }

    /// Write the file back (temp file and rename) under the repository lock. `private`
    /// makes a new file readable by its owner only: it holds credentials.
    pub fn save(&self, _lock: &RepoLock, private: bool) -> Result<(), Error> {
        let io_err = |source| Error::Io {
            path: self.path.clone(),
            source,
        };
        if private {
            atomic::write_private(&self.path, self.text.as_bytes()).map_err(io_err)
        } else {
            atomic::write(&self.path, self.text.as_bytes()).map_err(io_err)
        }
    }

    /// Take the edited text if it says exactly `expected`, else write `expected` out.
    fn apply(&mut self, edited: String, expected: toml::Table) {
        self.text = match edited.parse::<toml::Table>() {
            Ok(table) if table == expected => edited,
            _ => toml::to_string(&expected).expect("a table parsed from TOML serialises"),
        };
        self.table = expected;
    }
}

fn parse(path: &Path, text: &str) -> Result<toml::Table, Error> {
    text.parse::<toml::Table>().map_err(|e| Error::Config {
        path: path.to_path_buf(),
        message: e.message().to_owned(),
    })
}

/// The table at `path`, created (with its parents) if absent. A non-table value in the
/// way is replaced: the caller edits tables it owns.
fn table_mut<'t>(table: &'t mut toml::Table, path: TablePath) -> &'t mut toml::Table {
    let mut table = table;
    for part in path {
        let entry = table
            .entry((*part).to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        table = entry.as_table_mut().expect("made a table above");
    }
    table
}

fn table_at_mut<'t>(table: &'t mut toml::Table, path: TablePath) -> Option<&'t mut toml::Table> {
    let mut table = table;
    for part in path {
        table = table.get_mut(*part)?.as_table_mut()?;
    }
    Some(table)
}

/// Remove the tables along `path` that are left empty, innermost first.
fn prune_empty(table: &mut toml::Table, path: TablePath) {
    for depth in (1..=path.len()).rev() {
        let (last, parent) = path[..depth].split_last().expect("depth is at least 1");
        if let Some(parent) = table_at_mut(table, parent)
            && parent
                .get(*last)
                .and_then(toml::Value::as_table)
                .is_some_and(toml::Table::is_empty)
        {
            parent.remove(*last);
        }
    }
}

/// `key = value`, the key quoted if it must be.
fn key_line(key: &str, value: &toml::Value) -> String {
    let mut one = toml::Table::new();
    one.insert(key.to_owned(), value.clone());
    toml::to_string(&one)
        .expect("a single value serialises")
        .trim_end()
        .to_owned()
}

/// `[remote.origin]`, each part quoted if it must be.
fn header_line(path: TablePath) -> String {
    let mut table = toml::Table::new();
    table_mut(&mut table, path);
    toml::to_string(&table)
        .expect("nested tables serialise")
        .lines()
        .find(|l| l.starts_with('['))
        .expect("a nested table has a header")
        .to_owned()
}

/// A run of lines under one header.
struct Section {
    header: usize,
    /// One past the last line before the next header (or the end).
    end: usize,
}

/// The file as lines, to edit in place.
struct Lines {
    lines: Vec<String>,
}

impl Lines {
    fn of(text: &str) -> Lines {
        Lines {
            lines: text.lines().map(str::to_owned).collect(),
        }
    }

    fn text(&self) -> String {
        let mut text = self.lines.join("\n");
        if !text.is_empty() {
            text.push('\n');
        }
        text
    }

    /// The table path a header line opens (`None` for other lines and `[[arrays]]`).
    fn header_path(line: &str) -> Option<Vec<String>> {
        let trimmed = line.trim_start();
        if !trimmed.starts_with('[') || trimmed.starts_with("[[") {
            return None;
        }
        let mut table: toml::Table = trimmed.parse().ok()?;
        let mut path = Vec::new();
        loop {
            if table.len() != 1 {
                return (table.is_empty() && !path.is_empty()).then_some(path);
            }
            let (key, value) = table.into_iter().next().expect("one entry");
            let toml::Value::Table(inner) = value else {
                return None;
            };
            path.push(key);
            table = inner;
        }
    }

    fn is_header(line: &str) -> bool {
        line.trim_start().starts_with('[')
    }

    fn section(&self, path: TablePath) -> Option<Section> {
        let header = self.lines.iter().position(|line| {
            Lines::header_path(line)
                .is_some_and(|p| p.iter().map(String::as_str).eq(path.iter().copied()))
        })?;
        let end = self.lines[header + 1..]
            .iter()
            .position(|l| Lines::is_header(l))
            .map_or(self.lines.len(), |i| header + 1 + i);
        Some(Section { header, end })
    }

    /// The line of `section` that sets `key` (alone on its line).
    fn key_in(&self, section: &Section, key: &str) -> Option<usize> {
        (section.header + 1..section.end).find(|&i| {
            self.lines[i]
                .parse::<toml::Table>()
                .is_ok_and(|t| t.len() == 1 && t.get(key).is_some_and(|v| !v.is_table()))
        })
    }

    /// Where a new key goes: after the section's last non-blank line that is not a
    /// comment introducing the next section.
    fn insert_point(&self, section: &Section) -> usize {
        let mut at = section.end;
        while at > section.header + 1 {
            let line = self.lines[at - 1].trim();
            if line.is_empty() || line.starts_with('#') {
                at -= 1;
            } else {
                break;
            }
        }
        at
    }

    fn append_section(&mut self, path: TablePath, body: Vec<String>) {
        if self.lines.last().is_some_and(|l| !l.trim().is_empty()) {
            self.lines.push(String::new());
        }
        self.lines.push(header_line(path));
        self.lines.extend(body);
    }

    fn remove_section(&mut self, section: &Section) {
        let end = self.insert_point(section).max(section.header + 1);
        self.lines.drain(section.header..end);
        // Leave one blank line between what was before and what comes after.
        let at = section.header;
        // (None at all at the top of the file.)
        while at < self.lines.len()
            && self.lines[at].trim().is_empty()
            && (at == 0 || self.lines[at - 1].trim().is_empty())
        {
            self.lines.remove(at);
        }
        while self.lines.last().is_some_and(|l| l.trim().is_empty()) {
            self.lines.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> ConfigFile {
        ConfigFile {
            path: PathBuf::from("config.toml"),
            text: text.to_owned(),
            table: text.parse().expect("toml"),
        }
    }

    fn s(v: &str) -> toml::Value {
        toml::Value::String(v.to_owned())
    }

    const INIT: &str = "# dvx repository settings, shared through git.\nformat = 1\n\n[core]\n# How checkout writes files.\nlink = \"reflink,copy\"\n";

    #[test]
    fn adding_a_table_keeps_every_comment() {
        let mut f = file(INIT);
        f.set(&["remote", "origin"], "url", s("s3://b/p"));
        f.set(&["core"], "remote", s("origin"));
        assert_eq!(
            f.text,
            "# dvx repository settings, shared through git.\nformat = 1\n\n[core]\n# How checkout writes files.\nlink = \"reflink,copy\"\nremote = \"origin\"\n\n[remote.origin]\nurl = \"s3://b/p\"\n"
        );
        f.set(&["remote", "origin"], "url", s("/srv/data"));
        f.set(&["remote", "origin"], "jobs", toml::Value::Integer(8));
        assert!(
            f.text
                .contains("[remote.origin]\nurl = \"/srv/data\"\njobs = 8\n"),
            "{}",
            f.text
        );
    }

    #[test]
    fn removing_and_renaming_tables_touch_only_their_lines() {
        let mut f = file(INIT);
        f.set(&["remote", "origin"], "url", s("/a"));
        f.set(&["remote", "backup"], "url", s("/b"));
        assert!(f.rename_table(&["remote", "origin"], &["remote", "upstream"]));
        assert!(
            f.text.contains("[remote.upstream]\nurl = \"/a\"\n"),
            "{}",
            f.text
        );
        assert!(f.remove_table(&["remote", "upstream"]));
        assert!(!f.remove_table(&["remote", "upstream"]));
        // The last key gone, its table goes with it.
        assert!(f.remove_key(&["remote", "backup"], "url"));
        assert!(!f.remove_table(&["remote", "backup"]));
        assert_eq!(f.text, INIT);
        assert!(f.table().get("remote").is_none());
    }

    #[test]
    fn unsetting_the_last_key_leaves_no_empty_table() {
        let mut f = file("[core]\nremote = \"origin\"\n");
        assert!(f.remove_key(&["core"], "remote"));
        assert_eq!(f.text, "");
        assert!(f.table().is_empty());
        let mut f = file("[core]\nremote = \"b\"\n\n[remote.b]\nregion = \"r\"\n");
        assert!(f.remove_key(&["core"], "remote"));
        assert_eq!(f.text, "[remote.b]\nregion = \"r\"\n");
        let mut f = file(INIT);
        f.set(&["core"], "remote", s("origin"));
        assert!(f.remove_key(&["core"], "remote"));
        assert_eq!(f.text, INIT);
    }

    #[test]
    fn an_unusual_layout_is_rewritten_from_the_table() {
        // Dotted keys: the line edit cannot find the table, so the file is rewritten and
        // still says exactly what was asked.
        let mut f = file("format = 1\nremote.origin.url = \"/a\"\n");
        f.set(&["remote", "origin"], "jobs", toml::Value::Integer(2));
        let table: toml::Table = f.text.parse().expect("valid");
        assert_eq!(table, *f.table());
        assert_eq!(
            f.get_table(&["remote", "origin"])
                .and_then(|t| t.get("jobs")),
            Some(&toml::Value::Integer(2))
        );
        let mut quoted = file(INIT);
        quoted.set(&["remote", "my.remote"], "url", s("/x"));
        assert!(
            quoted.text.contains("[remote.\"my.remote\"]"),
            "{}",
            quoted.text
        );
        assert!(quoted.remove_table(&["remote", "my.remote"]));
        assert_eq!(quoted.text, INIT);
    }
}
