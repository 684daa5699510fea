//! Which runs made which objects: a local index from out ids to runs.
//!
//! A run record never names its commit (the commit names it), so finding the run that
//! made a blob means reading commits and their runs. `cache/runs-by-out` in the shared
//! `.dvx/` keeps what that found: every id an out holds (a file's blob, a directory's
//! tree, and every tree and blob below an out directory) with the run and commit that
//! made it, and the set of commits already read. Opening the catalog reads only the
//! commits that are new since, from every ref, HEAD and any commit asked about; the set
//! is closed under parents, so the walk stops at the first commit it knows. A missing,
//! damaged or newer file is rebuilt from the history. Writing it is best effort (a
//! read-only store still answers) and goes through a temp file and a rename, so two
//! writers at once leave one whole file; it is a cache, so no lock is taken.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::runs::{Ancestry, Run, every_tip};
use super::{Error, read_run};
use crate::atomic;
use crate::hash::ObjectId;
use crate::history::diff;
use crate::object::{EntryKind, RunRecord};
use crate::path::RepoPath;
use crate::repo::Repo;
use crate::store::Store;

/// The catalog's file, in the shared `.dvx/cache/`.
pub const FILE: &str = "runs-by-out";
const MAGIC: &[u8; 4] = b"DVXR";
const VERSION: u32 = 1;
const CHECKSUM_LEN: usize = 32;

/// One id an out holds, and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Made {
    /// A blob or tree id: an out itself, or anything below an out directory.
    pub id: ObjectId,
    pub run: ObjectId,
    /// The commit listing the run.
    pub commit: ObjectId,
    /// That commit's time (seconds since the epoch).
    pub time: i64,
}

/// What the file holds.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Body {
    /// Strictly increasing; with a commit, every ancestor of it.
    commits: Vec<ObjectId>,
    /// Strictly increasing.
    made: Vec<Made>,
}

/// The out ids of every run in the history, by id.
#[derive(Debug, Default)]
pub struct Catalog {
    body: Body,
}

impl Catalog {
    /// The catalog, brought up to date with every commit reachable from a ref, HEAD or
    /// `also` (the commits a question starts from).
    pub fn open(repo: &Repo, also: &[ObjectId]) -> Result<Catalog, Error> {
        let path = file_path(repo);
        let mut catalog = Catalog {
            body: std::fs::read(&path)
                .ok()
                .and_then(|bytes| decode(&bytes))
                .unwrap_or_default(),
        };
        let mut tips = every_tip(repo)?;
        tips.extend_from_slice(also);
        // A cache that cannot be written is rebuilt next time; the answer stands.
        if catalog.update(repo.store(), &tips)? {
            let _ = save(&path, &catalog.body);
        }
        Ok(catalog)
    }

    /// The runs whose outs hold `id`.
    pub fn made(&self, id: &ObjectId) -> &[Made] {
        let made = &self.body.made;
        let start = made.partition_point(|m| m.id < *id);
        let end = start + made[start..].partition_point(|m| m.id == *id);
        &made[start..end]
    }

    /// The run that made `id`, found at `path`, other than `exclude`. Of the runs whose
    /// outs hold it, those whose commit a newest-first walk of `ancestry` meets come
    /// first, in that order; then (bytes copied from another branch) the others whose
    /// commit is no later than `not_after`, newest first. Among them, a run that wrote
    /// the bytes at `path` itself wins; else one that did not also read them (a run that
    /// read and wrote the same bytes only copied them); else the first.
    pub fn producer(
        &self,
        store: &Store,
        id: &ObjectId,
        path: &RepoPath,
        ancestry: &mut Ancestry,
        not_after: Option<i64>,
        exclude: Option<ObjectId>,
    ) -> Result<Option<Run>, Error> {
        let mut reachable = Vec::new();
        let mut elsewhere = Vec::new();
        for made in self.made(id).iter().filter(|m| Some(m.run) != exclude) {
            match ancestry.position(&made.commit)? {
                Some(pos) => reachable.push((pos, *made)),
                None if not_after.is_none_or(|t| made.time <= t)
                    && store.contains(&made.commit) =>
                {
                    elsewhere.push(*made)
                }
                None => {}
            }
        }
        reachable.sort_by_key(|(pos, _)| *pos);
        elsewhere.sort_by_key(|m| std::cmp::Reverse((m.time, m.commit)));
        let ranked = reachable.into_iter().map(|(_, m)| m).chain(elsewhere);
        let mut best: Option<(u8, Run)> = None;
        for made in ranked {
            let run = Run::load(store, made.run, made.commit)?;
            let class = if wrote_at(store, &run.record, path, id)? {
                return Ok(Some(run));
            } else if reads(store, &run.record, id)? {
                2
            } else {
                1
            };
            if best.as_ref().is_none_or(|(b, _)| class < *b) {
                best = Some((class, run));
            }
        }
        Ok(best.map(|(_, run)| run))
    }

    /// Read the commits reachable from `tips` that are not in the catalog yet, with their
    /// runs. Returns whether anything was added.
    fn update(&mut self, store: &Store, tips: &[ObjectId]) -> Result<bool, Error> {
        let known: HashSet<ObjectId> = self.body.commits.iter().copied().collect();
        let mut seen = HashSet::new();
        let mut stack: Vec<ObjectId> = tips
            .iter()
            .filter(|t| !known.contains(t))
            .copied()
            .collect();
        let mut made = Vec::new();
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            let commit = store.read_commit(&id)?;
            for run in &commit.runs {
                let record = read_run(store, run)?;
                for out in &record.outs {
                    let entry = |held: ObjectId| Made {
                        id: held,
                        run: *run,
                        commit: id,
                        time: commit.author.time,
                    };
                    made.push(entry(out.id));
                    if out.kind == EntryKind::Dir {
                        for held in ids_below(store, out.id)? {
                            made.push(entry(held));
                        }
                    }
                }
            }
            stack.extend(commit.parents.iter().filter(|p| !known.contains(p)));
        }
        if seen.is_empty() {
            return Ok(false);
        }
        self.body.commits.extend(seen);
        self.body.commits.sort_unstable();
        self.body.made.extend(made);
        self.body.made.sort_unstable();
        self.body.made.dedup();
        Ok(true)
    }
}

/// Whether one of `record`'s outs holds `id` at `path` (the out itself, or a file below
/// an out directory).
fn wrote_at(
    store: &Store,
    record: &RunRecord,
    path: &RepoPath,
    id: &ObjectId,
) -> Result<bool, Error> {
    for out in &record.outs {
        if out.path == *path {
            return Ok(out.id == *id);
        }
        if out.kind == EntryKind::Dir
            && let Some(below) = path.strip_dir(&out.path)
        {
            let below = RepoPath::new(below).expect("the rest of a valid path is valid");
            let item = diff::lookup(store, out.id, &below)?;
            return Ok(item.and_then(|i| i.id) == Some(*id));
        }
    }
    Ok(false)
}

/// Whether `record`'s data deps hold `id` (as a dep, or anywhere below a dep directory).
fn reads(store: &Store, record: &RunRecord, id: &ObjectId) -> Result<bool, Error> {
    for dep in &record.deps {
        if dep.id == *id {
            return Ok(true);
        }
        if dep.kind == EntryKind::Dir && ids_below(store, dep.id)?.contains(id) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Every tree and blob id below tree `id` (each once).
fn ids_below(store: &Store, id: ObjectId) -> Result<Vec<ObjectId>, Error> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![id];
    while let Some(tree) = stack.pop() {
        for entry in store.read_tree(&tree)?.entries {
            if seen.insert(entry.id) {
                out.push(entry.id);
                if entry.kind == EntryKind::Dir {
                    stack.push(entry.id);
                }
            }
        }
    }
    Ok(out)
}

fn file_path(repo: &Repo) -> PathBuf {
    repo.common_dir().join("cache").join(FILE)
}

fn save(path: &Path, body: &Body) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        atomic::create_dir_all(dir)?;
    }
    atomic::write(path, &encode(body))
}

/// `DVXR`, version, postcard body, BLAKE3 of everything before.
fn encode(body: &Body) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    postcard::to_io(body, &mut out).expect("encoding into a Vec cannot fail");
    let sum = ObjectId::of(&out);
    out.extend_from_slice(sum.as_bytes());
    out
}

/// The body, or `None` for anything but a whole, checked file of this version.
fn decode(bytes: &[u8]) -> Option<Body> {
    if bytes.len() < 8 + CHECKSUM_LEN || &bytes[..4] != MAGIC {
        return None;
    }
    let (framed, sum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
    if ObjectId::of(framed).as_bytes() != sum || framed[4..8] != VERSION.to_le_bytes() {
        return None;
    }
    let (body, rest): (Body, &[u8]) = postcard::take_from_bytes(&framed[8..]).ok()?;
    let commits_increasing = body.commits.windows(2).all(|w| w[0] < w[1]);
    let made_increasing = body.made.windows(2).all(|w| w[0] < w[1]);
    (rest.is_empty() && commits_increasing && made_increasing).then_some(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn made(n: u8) -> Made {
        Made {
            id: ObjectId::of(&[n]),
            run: ObjectId::of(&[n, 1]),
            commit: ObjectId::of(&[n, 2]),
            time: i64::from(n),
        }
    }

    #[test]
    fn the_file_round_trips_and_damage_reads_as_absent() {
        let mut commits = vec![ObjectId::of(b"a"), ObjectId::of(b"b")];
        commits.sort();
        let (low, high) = (made(1).min(made(2)), made(1).max(made(2)));
        let body = Body {
            commits,
            made: vec![low, high],
        };
        let bytes = encode(&body);
        let back = decode(&bytes).expect("decodes");
        assert_eq!(back.commits, body.commits);
        assert_eq!(back.made, body.made);
        let catalog = Catalog { body: back };
        assert_eq!(catalog.made(&made(2).id), &[made(2)]);
        assert!(catalog.made(&ObjectId::of(b"none")).is_empty());

        let mut damaged = bytes.clone();
        damaged[10] ^= 1;
        assert!(decode(&damaged).is_none(), "a checksum mismatch");
        assert!(decode(&bytes[..20]).is_none(), "a short file");
        let mut newer = bytes[..bytes.len() - CHECKSUM_LEN].to_vec();
        newer[4] = 2;
        let sum = ObjectId::of(&newer);
        newer.extend_from_slice(sum.as_bytes());
        assert!(decode(&newer).is_none(), "a newer version");
        let unsorted = Body {
            commits: Vec::new(),
            made: vec![high, low],
        };
        assert!(decode(&encode(&unsorted)).is_none(), "entries out of order");
    }
}
