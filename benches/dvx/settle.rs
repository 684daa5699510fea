//! Waiting, before timed steps that create many files, until the file system reuses the
//! inodes of removed files again.
//!
//! ext4 mounted without a journal does not hand out an inode freed in the last minute, or
//! in the last six while the block of the inode table holding it is dirty
//! (`recently_deleted` in the kernel's `fs/ext4/ialloc.c`), and every new inode of a
//! group scans past each such one. So for up to six minutes after many files were
//! removed near where new ones are made (a scenario's tree), creating files
//! costs several times the kernel time: a pull of 20k files into a fresh clone took
//! 2.1 s, half its samples in `recently_deleted`, against 0.57 s on a quiet machine. dvx's
//! remote rows are mostly such file creation while DVC's are mostly Python, so the
//! penalty decides whether they pass. With a journal ext4 skips the check, and other file
//! systems have no such rule: there is nothing to wait for.
//!
//! The harness counts from its own removals only. Removals made before it started (a
//! test suite's temporary repositories, under another directory) did not slow its
//! pushes and pulls in the runs measured here; what did, after a test suite, was the
//! host taking back the VM's memory, which priming handles (see `measure`).

use std::cell::Cell;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// ext4's longest window (60 s, plus 300 s while dirty) and a margin for clock ticks.
const EXT4_NO_JOURNAL_WINDOW: Duration = Duration::from_secs(60 + 300 + 10);

/// When this run last removed a tree, and how long removed inodes stay unused on the
/// file system holding the work directory.
pub struct Quiet {
    window: Duration,
    last_removal: Cell<Option<Instant>>,
}

impl Quiet {
    /// A tracker for a file system whose removed inodes stay unused for `window` (zero:
    /// reused at once); nothing removed yet.
    pub fn new(window: Duration) -> Quiet {
        Quiet {
            window,
            last_removal: Cell::new(None),
        }
    }

    /// Files were just removed.
    pub fn removed(&self) {
        self.last_removal.set(Some(Instant::now()));
    }

    /// How long until the last removal is older than the window.
    pub fn remaining(&self) -> Duration {
        self.last_removal.get().map_or(Duration::ZERO, |at| {
            self.window.saturating_sub(at.elapsed())
        })
    }
}

/// The window of the file system holding `dir`, and why: ext4 without a journal has
/// one; anything else, or a file system this cannot tell, has none.
pub fn window_of(dir: &Path) -> (Duration, Option<String>) {
    match journal_less_ext4(dir) {
        Some(device) => (
            EXT4_NO_JOURNAL_WINDOW,
            Some(format!("{device} is ext4 without a journal")),
        ),
        None => (Duration::ZERO, None),
    }
}

/// The kernel's name of the block device holding `dir` when it is ext4 mounted without
/// a journal. Every mounted ext4 file system has `/proc/fs/ext4/<device>`; one with a
/// journal also has `/proc/fs/jbd2/<device>-<journal inode>`.
fn journal_less_ext4(dir: &Path) -> Option<String> {
    let dev = fs::metadata(dir).ok()?.dev();
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    let uevent = fs::read_to_string(format!("/sys/dev/block/{major}:{minor}/uevent")).ok()?;
    let device = uevent
        .lines()
        .find_map(|line| line.strip_prefix("DEVNAME="))?
        .to_owned();
    if !Path::new("/proc/fs/ext4").join(&device).is_dir() {
        return None;
    }
    let journal_prefix = format!("{device}-");
    let journaled = fs::read_dir("/proc/fs/jbd2").is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(&journal_prefix))
    });
    (!journaled).then_some(device)
}
