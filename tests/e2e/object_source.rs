//! The bytes seam, through the library: checkout and restore plan, fetch the absent ids
//! through an `ObjectSource`, then apply.
//!
//! The source here is a real second object store on disk (another clone's, as a remote
//! would be): fetching copies an object from it into the repository's store through
//! `Store::incoming`, which lets the bytes in only if they hash to the id. The repository
//! itself is made and checked with the real `dvx` binary.

use std::collections::HashSet;
use std::io::Read;
use std::path::Path;
use std::sync::Mutex;

use dvx::hash::ObjectId;
use dvx::history::reach;
use dvx::object::Signature;
use dvx::progress::{Progress, Silent};
use dvx::store::{self, Fetched, ObjectSource, Store};
use dvx::workspace::{self, CheckoutMode, CheckoutOptions, HeadMove, Workspace};

use crate::harness::*;
use crate::history::resolve;

/// Objects come from the local store, else from `other` (copied in, verified).
struct SecondStore {
    local: Store,
    other: Store,
    /// Every id this source was asked to fetch, in order (to see that lazy mode asks for
    /// nothing).
    asked: Mutex<Vec<ObjectId>>,
}

impl SecondStore {
    fn new(local: &Store, other: &Store) -> SecondStore {
        SecondStore {
            local: local.clone(),
            other: other.clone(),
            asked: Mutex::new(Vec::new()),
        }
    }

    fn asked(&self) -> Vec<ObjectId> {
        self.asked.lock().expect("lock").clone()
    }

    /// Copy one object from `other` into the local store; `false` when `other` lacks it.
    fn copy_in(&self, id: &ObjectId) -> Result<bool, store::Error> {
        let mut file = match self.other.open(id) {
            Ok(file) => file,
            Err(store::Error::Missing { .. }) => return Ok(false),
            Err(e) => return Err(e),
        };
        let mut incoming = self.local.incoming(*id)?;
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = file.read(&mut buf).map_err(|source| store::Error::Fetch {
                id: *id,
                from: self.other.objects_dir().display().to_string(),
                source: Box::new(source),
            })?;
            if n == 0 {
                break;
            }
            incoming.write(&buf[..n])?;
        }
        incoming.finish(&self.local)?;
        Ok(true)
    }
}

impl ObjectSource for SecondStore {
    fn store(&self) -> &Store {
        &self.local
    }

    fn has(&self, id: &ObjectId) -> bool {
        self.local.contains(id)
    }

    /// Fetch on read, as a lazy mount would.
    fn open(&self, id: &ObjectId) -> Result<Box<dyn Read + Send>, store::Error> {
        if !self.local.contains(id) && !self.copy_in(id)? {
            return Err(store::Error::Missing { id: *id });
        }
        ObjectSource::open(&self.local, id)
    }

    fn read_range(&self, id: &ObjectId, offset: u64, len: u64) -> Result<Vec<u8>, store::Error> {
        ObjectSource::read_range(&self.other, id, offset, len)
    }

    fn fetch(&self, ids: &[ObjectId], progress: &dyn Progress) -> Result<Fetched, store::Error> {
        self.asked.lock().expect("lock").extend_from_slice(ids);
        let mut out = Fetched::default();
        progress.start(
            "fetching",
            Some(ids.len() as u64),
            dvx::progress::Unit::Files,
        );
        for id in store::source::distinct(ids) {
            if self.local.contains(&id) {
                out.already_local += 1;
            } else if self.copy_in(&id)? {
                out.bytes += self.local.metadata(&id).map(|m| m.len()).unwrap_or(0);
                out.fetched.push(id);
            } else {
                out.unavailable.push(id);
            }
            progress.advance(1);
        }
        progress.finish();
        Ok(out)
    }
}

fn who() -> Signature {
    Signature {
        name: "Ada Tester".into(),
        email: "ada@example.com".into(),
        time: 1_700_000_000,
        tz_minutes: 0,
    }
}

fn options(target: &str, mode: CheckoutMode) -> CheckoutOptions {
    CheckoutOptions {
        target: target.parse().expect("commit id"),
        head: HeadMove::Detach,
        mode,
        force: false,
        who: who(),
        message: "checkout through a second store".into(),
    }
}

/// Files of two commits: `one` has data/keep, data/big and data/sub/x; `two` changes
/// data/big and adds data/new, data/sub/y and a symlink. The work tree is checked out at
/// `one`; returns (one, two).
fn two_commits(sb: &Sandbox) -> (String, String) {
    sb.write("data/keep", b"kept in both\n");
    sb.write("data/big", &bytes(1, 300_000));
    sb.write("data/sub/x", b"x\n");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "one"]);
    let one = resolve(sb, "HEAD");
    sb.write("data/big", &bytes(2, 300_000));
    sb.write("data/new", b"new in two\n");
    sb.write("data/sub/y", &bytes(3, 5000));
    std::os::unix::fs::symlink("keep", sb.path("data/link")).expect("symlink");
    sb.ok(&["add", "data"]);
    sb.ok(&["commit", "-m", "two"]);
    let two = resolve(sb, "HEAD");
    sb.ok(&["checkout", &one]);
    (one, two)
}

/// Move the blobs that `two` has and `one` lacks out of the repository's store into a
/// new store (the other clone's); returns that store and the moved ids.
fn move_new_blobs(ws: &Workspace, dir: &Path, one: &str, two: &str) -> (Store, HashSet<ObjectId>) {
    let local = ws.repo().store();
    let other = Store::new(dir.join("objects"), dir.join("tmp"));
    std::fs::create_dir_all(dir.join("objects")).expect("mkdir");
    std::fs::create_dir_all(dir.join("tmp")).expect("mkdir");
    let lacks = reach::reachable(
        local,
        &[two.parse().expect("id")],
        &[one.parse().expect("id")],
    )
    .expect("reachable");
    for id in &lacks.blobs {
        other
            .put_bytes(&local.read(id).expect("read"))
            .expect("put");
        local.remove(id).expect("remove");
    }
    assert_eq!(
        lacks.blobs.len(),
        4,
        "big, new, sub/y and the link's target"
    );
    (other, lacks.blobs)
}

fn assert_files_of_two(sb: &Sandbox) {
    assert_eq!(sb.read("data/keep"), b"kept in both\n");
    assert_eq!(sb.read("data/big"), bytes(2, 300_000));
    assert_eq!(sb.read("data/new"), b"new in two\n");
    assert_eq!(sb.read("data/sub/y"), bytes(3, 5000));
    assert_eq!(
        std::fs::read_link(sb.path("data/link")).expect("link"),
        Path::new("keep")
    );
}

#[test]
fn a_plan_lists_the_absent_ids_and_applying_after_a_fetch_writes_them() {
    let sb = Sandbox::dvx_only();
    let (one, two) = two_commits(&sb);
    let ws = Workspace::open(&sb.root).expect("open");
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let (other, moved) = move_new_blobs(&ws, elsewhere.path(), &one, &two);
    let source = SecondStore::new(ws.repo().store(), &other);
    // A file deleted from the work tree is clean (its bytes are stored); with the
    // target's bytes absent, no file is what the target looks like until they come.
    std::fs::remove_file(sb.path("data/big")).expect("rm");

    let lock = ws.repo().lock().expect("lock");
    let mut index = ws.load_index().expect("index");
    let plan = workspace::plan_checkout(&ws, &index, &options(&two, CheckoutMode::Eager), &source)
        .expect("plan");
    let absent: HashSet<ObjectId> = plan.absent().iter().copied().collect();
    assert_eq!(
        absent, moved,
        "the plan names exactly the blobs that are not local"
    );
    assert_eq!(plan.absent().len(), moved.len(), "each once");
    assert_eq!(
        plan.absent_bytes(),
        300_000 + 11 + 5000 + 4,
        "their sizes add up"
    );
    let mut updated: Vec<&str> = plan.updated_paths().iter().map(|p| p.as_str()).collect();
    updated.sort();
    assert_eq!(updated, ["data/big", "data/link", "data/new", "data/sub/y"]);
    // Planning touched nothing.
    assert!(!sb.exists("data/big") && !sb.exists("data/new"));
    assert_eq!(sb.read("data/sub/x"), b"x\n");

    let fetched = source.fetch(plan.absent(), &Silent).expect("fetch");
    assert_eq!(fetched.fetched.len(), 4);
    assert!(fetched.unavailable.is_empty());
    let report =
        workspace::apply_checkout(&ws, &lock, &mut index, plan, &source, &Silent).expect("apply");
    drop(lock);
    assert_eq!(report.written, 4);
    assert_eq!(report.not_fetched, 0);
    assert_files_of_two(&sb);
    let status = sb.status_json();
    assert_eq!(status["clean"], true, "{status}");
    assert_eq!(status["head"], two.as_str());
    sb.ok(&["fsck"]);
}

#[test]
fn with_only_the_local_store_absent_bytes_become_not_fetched_and_a_restore_fetches_them() {
    let sb = Sandbox::dvx_only();
    let (one, two) = two_commits(&sb);
    let ws = Workspace::open(&sb.root).expect("open");
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let (other, _moved) = move_new_blobs(&ws, elsewhere.path(), &one, &two);

    // The local store as the source: as the CLI does, absent bytes stay absent.
    let lock = ws.repo().lock().expect("lock");
    let report = workspace::checkout(&ws, &lock, &options(&two, CheckoutMode::Eager), &Silent)
        .expect("checkout");
    drop(lock);
    assert_eq!(report.fetched, 0);
    assert_eq!(report.not_fetched, 4);
    assert!(!sb.exists("data/new") && !sb.exists("data/big"));
    let status = sb.status_json();
    let mut not_fetched: Vec<&str> = status["not_fetched"]
        .as_array()
        .expect("list")
        .iter()
        .map(|p| p.as_str().expect("path"))
        .collect();
    not_fetched.sort();
    assert_eq!(
        not_fetched,
        ["data/big", "data/link", "data/new", "data/sub/y"]
    );
    let index = ws.load_index().expect("index");
    let absent = workspace::absent_files(
        &index,
        ws.repo().store(),
        &[dvx::path::RepoPath::new("data").expect("path")],
    )
    .expect("absent");
    assert_eq!(absent.len(), 4, "the query finds what a pull would fetch");

    // A restore of data/ through the second store fetches them and writes them.
    let source = SecondStore::new(ws.repo().store(), &other);
    let lock = ws.repo().lock().expect("lock");
    let restored = workspace::restore_from(
        &ws,
        &lock,
        &sb.root,
        &[std::path::PathBuf::from("data")],
        None,
        &source,
        &Silent,
    )
    .expect("restore");
    drop(lock);
    assert_eq!(restored.restored.len(), 4);
    assert!(restored.not_fetched.is_empty());
    assert_eq!(
        source.asked().len(),
        4,
        "only the absent ids were asked for"
    );
    assert_files_of_two(&sb);
    assert_eq!(sb.status_json()["clean"], true);
}

#[test]
fn a_lazy_switch_fetches_nothing_and_an_eager_one_fetches_what_it_writes() {
    let sb = Sandbox::dvx_only();
    let (one, two) = two_commits(&sb);
    let ws = Workspace::open(&sb.root).expect("open");
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let (other, moved) = move_new_blobs(&ws, elsewhere.path(), &one, &two);
    let source = SecondStore::new(ws.repo().store(), &other);

    let lock = ws.repo().lock().expect("lock");
    let mut index = ws.load_index().expect("index");
    let lazy = workspace::switch(
        &ws,
        &lock,
        &mut index,
        &options(&two, CheckoutMode::Lazy),
        &source,
        &Silent,
    )
    .expect("lazy checkout");
    assert!(source.asked().is_empty(), "lazy mode goes to no source");
    assert_eq!(lazy.fetched, 0);
    assert_eq!(lazy.not_fetched, 4);
    assert!(moved.iter().all(|id| !ws.repo().store().contains(id)));

    let back = workspace::switch(
        &ws,
        &lock,
        &mut index,
        &options(&one, CheckoutMode::Eager),
        &source,
        &Silent,
    )
    .expect("back to one");
    assert_eq!(back.fetched, 0, "one's bytes are all local");
    let eager = workspace::switch(
        &ws,
        &lock,
        &mut index,
        &options(&two, CheckoutMode::Eager),
        &source,
        &Silent,
    )
    .expect("eager checkout");
    drop(lock);
    assert_eq!(eager.fetched, 4);
    assert_eq!(eager.not_fetched, 0);
    assert_files_of_two(&sb);
    assert_eq!(sb.status_json()["clean"], true);
}

#[test]
fn bytes_the_source_lacks_stay_not_fetched_and_damaged_ones_never_enter() {
    let sb = Sandbox::dvx_only();
    let (one, two) = two_commits(&sb);
    let ws = Workspace::open(&sb.root).expect("open");
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let (other, _) = move_new_blobs(&ws, elsewhere.path(), &one, &two);
    let new: ObjectId = ObjectId::of(b"new in two\n");
    let big: ObjectId = ObjectId::of(&bytes(2, 300_000));
    other.remove(&new).expect("lost everywhere");
    let source = SecondStore::new(ws.repo().store(), &other);

    // What neither store has becomes not fetched, as with the local store alone.
    let lock = ws.repo().lock().expect("lock");
    let mut index = ws.load_index().expect("index");
    let report = workspace::switch(
        &ws,
        &lock,
        &mut index,
        &options(&two, CheckoutMode::Eager),
        &source,
        &Silent,
    )
    .expect("checkout");
    assert_eq!(report.fetched, 3);
    assert_eq!(report.not_fetched, 1);
    assert!(!sb.exists("data/new"));
    assert_eq!(sb.read("data/big"), bytes(2, 300_000));

    // An object damaged in the other store is an error naming it; nothing enters.
    ws.repo()
        .store()
        .remove(&big)
        .expect("make it absent again");
    let path = other.path(&big);
    let mut damaged = std::fs::read(&path).expect("read");
    damaged[1000] ^= 1;
    std::fs::remove_file(&path).expect("rm");
    dvx::atomic::write(&path, &damaged).expect("damage");
    match source.fetch(&[big], &Silent) {
        Err(store::Error::Corrupt { id, .. }) => assert_eq!(id, big),
        other => panic!("expected the damaged object to be refused: {other:?}"),
    }
    assert!(!ws.repo().store().contains(&big));
    match source.open(&big) {
        Err(store::Error::Corrupt { id, .. }) => assert_eq!(id, big),
        other => panic!(
            "expected the damaged object to be refused: {:?}",
            other.map(|_| ())
        ),
    }
    drop(lock);
}
