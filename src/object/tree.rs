//! Trees: one directory's sorted listing.

use serde::{Deserialize, Serialize};

use super::{DecodeError, Encode, Kind};
use crate::hash::ObjectId;
use crate::path::{is_reserved_name, validate_name};

/// What a tree entry names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EntryKind {
    /// A regular file; `id` is its blob.
    File,
    /// A directory; `id` is its tree.
    Dir,
    /// A symbolic link; `id` is the blob of its target, as written.
    Symlink,
}

impl EntryKind {
    pub fn name(self) -> &'static str {
        match self {
            EntryKind::File => "file",
            EntryKind::Dir => "dir",
            EntryKind::Symlink => "symlink",
        }
    }
}

/// One name in a directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TreeEntry {
    pub name: String,
    pub kind: EntryKind,
    /// The executable bit (files only).
    pub executable: bool,
    /// This path was given to `dvx add` as a unit: dvx keeps it in `.gitignore` and, for a
    /// directory, reports new files under it.
    pub root: bool,
    /// Bytes: the file, the symlink target, or every file below a directory.
    pub size: u64,
    pub id: ObjectId,
}

/// A directory listing, sorted bytewise by name, without duplicates or empty
/// directories.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tree {
    pub entries: Vec<TreeEntry>,
}

impl Tree {
    /// Build from entries in any order; the caller guarantees unique names.
    pub fn from_unsorted(mut entries: Vec<TreeEntry>) -> Tree {
        entries.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        Tree { entries }
    }

    pub fn get(&self, name: &str) -> Option<&TreeEntry> {
        self.entries
            .binary_search_by(|e| e.name.as_bytes().cmp(name.as_bytes()))
            .ok()
            .map(|i| &self.entries[i])
    }

    /// Total bytes of every file below this tree.
    pub fn size(&self) -> u64 {
        self.entries.iter().map(|e| e.size).sum()
    }
}

impl Encode for Tree {
    const KIND: Kind = Kind::Tree;

    fn validate(&self) -> Result<(), DecodeError> {
        for (i, e) in self.entries.iter().enumerate() {
            validate_name(&e.name)
                .map_err(|err| DecodeError::Invalid(format!("entry name: {err}")))?;
            // A tree is written out by checkout: a name that would land in git's or dvx's
            // own directory (hooks, config, objects) is never valid.
            if is_reserved_name(&e.name) {
                return Err(DecodeError::Reserved(e.name.clone()));
            }
            if i > 0 && self.entries[i - 1].name.as_bytes() >= e.name.as_bytes() {
                return Err(DecodeError::Invalid(format!(
                    "entries out of order or duplicated at '{}'",
                    e.name
                )));
            }
            if e.executable && e.kind != EntryKind::File {
                return Err(DecodeError::Invalid(format!(
                    "'{}' is a {} marked executable",
                    e.name,
                    e.kind.name()
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, kind: EntryKind) -> TreeEntry {
        TreeEntry {
            name: name.into(),
            kind,
            executable: false,
            root: false,
            size: 3,
            id: ObjectId::of(name.as_bytes()),
        }
    }

    #[test]
    fn round_trips_and_ids_are_stable() {
        let t = Tree::from_unsorted(vec![
            entry("b", EntryKind::File),
            entry("a", EntryKind::Dir),
        ]);
        let bytes = t.encode();
        let back = Tree::decode(&bytes).expect("decodes");
        assert_eq!(back, t);
        assert_eq!(back.id(), t.id());
        assert_eq!(t.get("a").map(|e| e.kind), Some(EntryKind::Dir));
        assert_eq!(t.size(), 6);
        // Pinned: this fails when the encoding changes, which is a format change
        // (docs/format.md and a new format version), never a refactor.
        assert_eq!(
            t.id().to_hex(),
            PINNED_ROUND_TRIP_ID,
            "the tree encoding changed"
        );
    }

    const PINNED_ROUND_TRIP_ID: &str =
        "36e7afdb9b2137ce74b7304bb3fd7319da6d4463c5eee40e1cc039c9813d6c84";

    /// Bytes written as whitespace-separated hex pairs (`44 56 58 4f`).
    fn hex_bytes(text: &str) -> Vec<u8> {
        text.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).expect("hex byte"))
            .collect()
    }

    /// The worked example in docs/format.md decodes, re-encodes to the same bytes and has
    /// the ids the document states; so does the empty tree.
    #[test]
    fn the_worked_example_in_format_md_holds() {
        let doc = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/format.md"));
        let example = &doc[doc.find("### Worked example").expect("worked example")..];
        let example = &example[..example.find("\n## ").expect("section end")];

        // The tree of sub/: the fenced hex block.
        let fenced = example.split("```").nth(1).expect("a fenced block");
        let sub_bytes = hex_bytes(fenced);
        assert_eq!(sub_bytes.len(), 50);
        let sub = Tree::decode(&sub_bytes).expect("sub/ decodes");
        assert_eq!(sub.encode(), sub_bytes);
        assert_eq!(
            ObjectId::of(&sub_bytes).to_hex(),
            "f62549ff6ecdc07057fe137ea121d3ec8c3df1eab8de77d0ce490902f79dd9d0"
        );
        assert!(example.contains(&ObjectId::of(&sub_bytes).to_hex()));

        // The root tree: the first column of the byte table.
        let root_bytes: Vec<u8> = example
            .lines()
            .filter_map(|line| line.strip_prefix("| `"))
            .filter_map(|rest| rest.split('`').next())
            .flat_map(hex_bytes)
            .collect();
        assert_eq!(root_bytes.len(), 91);
        let root = Tree::decode(&root_bytes).expect("the root tree decodes");
        assert_eq!(root.encode(), root_bytes);
        let root_id = ObjectId::of(&root_bytes).to_hex();
        assert_eq!(
            root_id,
            "1555431127fe08580d15f0bdd0bcdcf6a7c38cc66a4616427212264993b23c3b"
        );
        assert!(example.contains(&format!("`{root_id}`")));
        let run = root.get("run.sh").expect("run.sh");
        assert!(run.executable && run.root && run.kind == EntryKind::File);
        assert_eq!(run.id, ObjectId::of(b"#!/bin/sh\n"));
        let dir = root.get("sub").expect("sub");
        assert_eq!(
            (dir.kind, dir.size, dir.id),
            (EntryKind::Dir, 300, sub.id())
        );
        assert_eq!(sub.entries[0].id, ObjectId::of(&[0u8; 300]));

        // The empty tree, as stated above the example.
        let empty = Tree::default();
        assert_eq!(empty.encode(), [0x44, 0x56, 0x58, 0x4f, 0x01, 0x01, 0x00]);
        let empty_id = empty.id().to_hex();
        assert_eq!(
            empty_id,
            "9cd8d9755b12e73760ed9acedbb376b8e38166f9e71e58cebf54d187d71dbf8f"
        );
        assert!(doc.contains(&empty_id));
    }

    #[test]
    fn rejects_unsorted_duplicate_and_bad_names() {
        for entries in [
            vec![entry("b", EntryKind::File), entry("a", EntryKind::File)],
            vec![entry("a", EntryKind::File), entry("a", EntryKind::File)],
            vec![entry("..", EntryKind::File)],
            vec![entry("x/y", EntryKind::File)],
        ] {
            let bytes = Tree { entries }.encode();
            assert!(matches!(Tree::decode(&bytes), Err(DecodeError::Invalid(_))));
        }
    }

    #[test]
    fn rejects_trailing_bytes_and_wrong_kind() {
        let mut bytes = Tree::default().encode();
        bytes.push(0);
        assert!(matches!(
            Tree::decode(&bytes),
            Err(DecodeError::Trailing(1))
        ));
        bytes.pop();
        bytes[4] = Kind::Commit as u8;
        assert!(matches!(
            Tree::decode(&bytes),
            Err(DecodeError::WrongKind { .. })
        ));
        bytes[4] = Kind::Tree as u8;
        bytes[5] = 9;
        assert!(matches!(
            Tree::decode(&bytes),
            Err(DecodeError::NewerFormat(9))
        ));
    }

    #[test]
    fn rejects_non_canonical_varints() {
        // An empty tree is the header plus a zero-length vector (one byte 0x00). The same
        // length written as a two-byte varint must not decode to the same tree.
        let mut bytes = Tree::default().encode();
        assert_eq!(bytes.len(), super::super::HEADER_LEN + 1);
        bytes.pop();
        bytes.extend_from_slice(&[0x80, 0x00]);
        assert!(Tree::decode(&bytes).is_err());
    }
}
