//! The watcher's record of what changed, and the tokens that name points in it.
//!
//! Pure bookkeeping, no system calls: the watcher feeds it paths and resets, clients ask
//! what changed since a token. A token is `<instance>:<seq>`: the instance changes with
//! every watcher process, so a token from another process (a restart, a change while
//! none was running) is never taken as a point in this one's record.
//!
//! Invariants: a query never gets a partial answer. Whatever the record cannot vouch for
//! (another instance, a token older than the last reset, a record grown past its cap) is
//! answered "scan everything", never with a shorter list of paths.

use std::collections::BTreeSet;

use crate::path::RepoPath;

/// Paths kept before the record resets itself (a full scan costs less than a list of
/// millions of paths, and the memory stays bounded).
pub const DEFAULT_CAP: usize = 200_000;

/// What changed since a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Since {
    /// The record cannot say: everything must be looked at. The reason is for people.
    Full(String),
    /// These paths (files or directories, sorted, each once) may have changed; nothing
    /// else did.
    Paths(Vec<RepoPath>),
}

/// The watcher's record.
#[derive(Debug)]
pub struct ChangeLog {
    instance: u64,
    /// Bumped for every recorded path and every reset.
    seq: u64,
    /// Tokens below this cannot be answered; why.
    floor: u64,
    floor_reason: String,
    changes: Vec<(u64, RepoPath)>,
    cap: usize,
}

impl ChangeLog {
    /// A new, empty record (tokens of other instances are answered with a full scan).
    pub fn new(instance: u64, cap: usize) -> ChangeLog {
        ChangeLog {
            instance,
            seq: 1,
            floor: 1,
            floor_reason: "the watcher has just started".into(),
            changes: Vec::new(),
            cap,
        }
    }

    /// The token for "now".
    pub fn token(&self) -> String {
        format!("{:016x}:{}", self.instance, self.seq)
    }

    /// `path` may have changed.
    pub fn record(&mut self, path: RepoPath) {
        if self.changes.len() >= self.cap {
            self.reset("more changes than the watcher keeps");
            return;
        }
        self.seq += 1;
        self.changes.push((self.seq, path));
    }

    /// Nothing before now can be vouched for (events were lost, rules changed).
    pub fn reset(&mut self, why: &str) {
        self.seq += 1;
        self.floor = self.seq;
        self.floor_reason = why.to_owned();
        self.changes.clear();
    }

    /// What changed since `token` (`None`: the client has none).
    pub fn since(&self, token: Option<&str>) -> Since {
        let Some(token) = token else {
            return Since::Full("no earlier token".into());
        };
        let Some((instance, seq)) = token
            .split_once(':')
            .and_then(|(i, s)| Some((u64::from_str_radix(i, 16).ok()?, s.parse::<u64>().ok()?)))
        else {
            return Since::Full("an unreadable token".into());
        };
        if instance != self.instance {
            return Since::Full("the token is from another watcher process".into());
        }
        if seq < self.floor {
            return Since::Full(self.floor_reason.clone());
        }
        if seq > self.seq {
            return Since::Full("a token from the future".into());
        }
        let start = self.changes.partition_point(|(s, _)| *s <= seq);
        let paths: BTreeSet<&RepoPath> = self.changes[start..].iter().map(|(_, p)| p).collect();
        Since::Paths(paths.into_iter().cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> RepoPath {
        RepoPath::new(s).expect("path")
    }

    #[test]
    fn answers_the_paths_recorded_after_a_token_each_once() {
        let mut log = ChangeLog::new(7, 10);
        assert!(matches!(log.since(None), Since::Full(_)));
        let first = log.token();
        log.reset("started watching data");
        assert!(
            matches!(log.since(Some(&first)), Since::Full(_)),
            "before a reset"
        );
        let t0 = log.token();
        assert_eq!(log.since(Some(&t0)), Since::Paths(vec![]));
        log.record(p("data/b"));
        log.record(p("data/a"));
        let t1 = log.token();
        log.record(p("data/b"));
        assert_eq!(
            log.since(Some(&t0)),
            Since::Paths(vec![p("data/a"), p("data/b")])
        );
        assert_eq!(log.since(Some(&t1)), Since::Paths(vec![p("data/b")]));
        assert_eq!(log.since(Some(&log.token())), Since::Paths(vec![]));
    }

    #[test]
    fn lost_events_other_instances_and_overflowing_records_mean_a_full_scan() {
        let mut log = ChangeLog::new(7, 3);
        log.reset("started");
        let t0 = log.token();
        log.reset("the kernel's event queue overflowed");
        assert_eq!(
            log.since(Some(&t0)),
            Since::Full("the kernel's event queue overflowed".into())
        );
        let t1 = log.token();
        assert_eq!(log.since(Some(&t1)), Since::Paths(vec![]));
        let other = ChangeLog::new(8, 3);
        assert!(matches!(other.since(Some(&t1)), Since::Full(_)));
        assert!(matches!(log.since(Some("junk")), Since::Full(_)));
        for name in ["a", "b", "c", "d"] {
            log.record(p(name));
        }
        assert!(
            matches!(log.since(Some(&t1)), Since::Full(_)),
            "past the cap"
        );
    }
}
