use super::*;

fn p(s: &str) -> RepoPath {
    RepoPath::new(s).expect("valid path")
}

fn file(path: &str, content: &str) -> Entry {
    Entry {
        path: p(path),
        kind: Kind::File,
        executable: false,
        id: ObjectId::of(content.as_bytes()),
        size: content.len() as u64,
        stat: Stat {
            mtime_ns: 1,
            size: content.len() as u64,
            ..Stat::default()
        },
        not_fetched: false,
        linked: false,
    }
}

/// Write the index, its temp files in a `tmp/` beside it.
fn save(index: &mut Index) -> Result<(), Error> {
    let temps = TempArea::new(index.dir.join("tmp"));
    index.write(&temps, false)
}

fn paths(index: &Index) -> Vec<String> {
    index.iter().map(|e| e.path.as_str().to_owned()).collect()
}

#[test]
fn overlay_and_base_merge_in_path_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut index = Index::load(dir.path()).expect("empty");
    for path in ["a/b", "a.b", "c", "a/c/d"] {
        index.upsert(file(path, path));
    }
    save(&mut index).expect("write");
    index.remove(&p("c"));
    index.upsert(file("b", "new"));
    index.upsert(file("a/b", "changed"));
    assert_eq!(paths(&index), ["a/b", "a/c/d", "a.b", "b"]);
    assert_eq!(index.len(), 4);
    assert_eq!(index.get(&p("a/b")).map(|e| e.size), Some(7));
    let a = p("a");
    let under: Vec<_> = index.iter_under(&a).map(|e| e.path.as_str()).collect();
    assert_eq!(under, ["a/b", "a/c/d"]);
    let children: Vec<String> = index
        .children(&RepoPath::root())
        .into_iter()
        .map(|c| match c {
            Child::Entry(e) => e.path.as_str().to_owned(),
            Child::Dir(d) => format!("{d}/"),
        })
        .collect();
    assert_eq!(children, ["a/", "a.b", "b"]);
}

#[test]
fn small_changes_write_only_the_delta_and_reload_identically() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut index = Index::load(dir.path()).expect("empty");
    for i in 0..100 {
        index.upsert(file(&format!("d/f{i:03}"), &i.to_string()));
    }
    index.add_root(p("d"));
    save(&mut index).expect("write base");
    let base_bytes = fs::read(dir.path().join(BASE_FILE)).expect("base");
    assert!(!dir.path().join(DELTA_FILE).exists());

    let mut index = Index::load(dir.path()).expect("load");
    index.upsert(file("d/f000", "changed"));
    index.remove(&p("d/f001"));
    save(&mut index).expect("write delta");
    assert_eq!(
        fs::read(dir.path().join(BASE_FILE)).expect("base"),
        base_bytes
    );
    assert!(dir.path().join(DELTA_FILE).exists());

    let again = Index::load(dir.path()).expect("reload");
    assert_eq!(again.len(), 99);
    assert_eq!(again.get(&p("d/f000")).map(|e| e.size), Some(7));
    assert!(again.get(&p("d/f001")).is_none());
    assert_eq!(again.roots(), [p("d")]);
    assert_eq!(paths(&again), paths(&index));
}

#[test]
fn a_stale_delta_is_ignored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut index = Index::load(dir.path()).expect("empty");
    index.upsert(file("x", "1"));
    save(&mut index).expect("base");
    index.upsert(file("x", "2"));
    save(&mut index).expect("delta");
    let stale = fs::read(dir.path().join(DELTA_FILE)).expect("delta");
    // Force a base rewrite holding x = 2, then put the old delta back as a crash would.
    let mut index = Index::load(dir.path()).expect("load");
    index.force_base = true;
    index.changed = true;
    save(&mut index).expect("rewrite base");
    atomic::write(&dir.path().join(DELTA_FILE), &stale).expect("restore delta");
    let mut index = Index::load(dir.path()).expect("load");
    index.upsert(file("x", "3"));
    index.force_base = true;
    save(&mut index).expect("base again");
    atomic::write(&dir.path().join(DELTA_FILE), &stale).expect("restore delta");
    let index = Index::load(dir.path()).expect("load");
    assert_eq!(index.get(&p("x")).map(|e| e.id), Some(ObjectId::of(b"3")));
}

#[test]
fn damage_is_reported_not_misread() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut index = Index::load(dir.path()).expect("empty");
    index.upsert(file("x", "1"));
    save(&mut index).expect("write");
    let path = dir.path().join(BASE_FILE);
    let mut bytes = fs::read(&path).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    atomic::write(&path, &bytes).expect("damage");
    assert!(matches!(
        Index::load(dir.path()),
        Err(Error::Corrupt { .. })
    ));
    atomic::write(&path, b"nonsense").expect("damage");
    assert!(matches!(
        Index::load(dir.path()),
        Err(Error::Corrupt { .. })
    ));
}

#[test]
fn roots_absorb_nested_roots() {
    let mut index = Index::default();
    assert!(index.add_root(p("data/a.csv")));
    assert!(index.add_root(p("models")));
    assert!(index.add_root(p("data")));
    assert_eq!(index.roots(), [p("data"), p("models")]);
    assert!(!index.add_root(p("data/sub")));
    assert_eq!(index.root_covering(&p("data/sub/x")), Some(&p("data")));
}

#[test]
fn tree_cache_is_dropped_on_change_below() {
    let mut index = Index::default();
    index.upsert(file("a/b/c", "1"));
    let cached = CachedTree {
        id: ObjectId::of(b"t"),
        size: 1,
    };
    index.cache_tree(RepoPath::root(), cached);
    index.cache_tree(p("a"), cached);
    index.cache_tree(p("a/b"), cached);
    index.cache_tree(p("z"), cached);
    index.upsert(file("a/b/d", "2"));
    assert!(index.cached_tree(&p("a/b")).is_none());
    assert!(index.cached_tree(&p("a")).is_none());
    assert!(index.cached_tree(&RepoPath::root()).is_none());
    assert!(index.cached_tree(&p("z")).is_some());
}

#[test]
fn unchanged_index_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut index = Index::load(dir.path()).expect("empty");
    index.upsert(file("x", "1"));
    save(&mut index).expect("write");
    let mut index = Index::load(dir.path()).expect("load");
    index.upsert(file("x", "1"));
    assert!(!index.is_changed());
    fs::remove_file(dir.path().join(BASE_FILE)).expect("rm");
    save(&mut index).expect("no-op write");
    assert!(!dir.path().join(BASE_FILE).exists());
}

/// Regression: a file that became a directory (or the reverse) kept its old entry next
/// to the new ones, and the next tree build dropped one side silently.
#[test]
fn a_path_is_a_file_or_a_directory_never_both() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut index = Index::load(dir.path()).expect("empty");
    for path in ["d/x", "d/k", "e/f/g", "e/f/h"] {
        index.upsert(file(path, path));
    }
    save(&mut index).expect("write");
    // File to directory: the file entry goes.
    index.upsert(file("d/x/y", "y"));
    // Directory to file: everything below goes.
    index.upsert(file("e/f", "f"));
    assert_eq!(paths(&index), ["d/k", "d/x/y", "e/f"]);
    assert_eq!(index.len(), 3);
    save(&mut index).expect("write");
    let reloaded = Index::load(dir.path()).expect("load");
    assert_eq!(paths(&reloaded), ["d/k", "d/x/y", "e/f"]);
}

/// Set a file's mtime to exactly `ns` nanoseconds since the epoch.
fn set_mtime(path: &Path, ns: i64) {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(ns as u64);
    fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(time))
        .expect("set mtime");
}

/// Whether `status` would trust `path`'s stat data as recorded with `stat` (and so skip
/// reading a file that still has that stat).
fn trusted(index: &Index, path: &str, stat: Stat) -> bool {
    let e = index.get(&p(path)).expect("entry");
    e.stat == stat && !index.is_racy(e)
}

/// Regression: an entry recorded in the same timestamp tick as the index file holding it
/// is racy (its file may have changed within that tick without a new mtime), but when a
/// later command rewrote the delta (or the base) for some other path, the entry moved to
/// a newer file and its stat data was trusted again: an edit made in that tick was never
/// seen. As git does, such entries are smudged when the file holding them is rewritten.
#[test]
fn a_racy_entry_stays_racy_when_the_index_is_rewritten() {
    const TICK: i64 = 1_700_000_000_000_000_000;
    for rewrite_base in [false, true] {
        let dir = tempfile::tempdir().expect("tempdir");
        // y is recorded in the tick in which the base is written, x in the tick in which
        // the delta is.
        let mut y = file("y", "2");
        y.stat.mtime_ns = TICK;
        let racy_stat = y.stat;
        let mut index = Index::load(dir.path()).expect("empty");
        index.upsert(file("base", "b"));
        index.upsert(y);
        save(&mut index).expect("base");
        set_mtime(&dir.path().join(BASE_FILE), TICK);
        let mut x = file("x", "1");
        x.stat.mtime_ns = TICK;
        let mut index = Index::load(dir.path()).expect("load");
        index.upsert(x);
        save(&mut index).expect("delta");
        set_mtime(&dir.path().join(DELTA_FILE), TICK);

        let mut index = Index::load(dir.path()).expect("load");
        assert!(!trusted(&index, "x", racy_stat));
        assert!(!trusted(&index, "y", racy_stat));
        // Another command changes something else; the files are written later than TICK.
        index.upsert(file("z", "3"));
        index.force_base = rewrite_base;
        save(&mut index).expect("rewrite");
        let again = Index::load(dir.path()).expect("reload");
        assert!(
            !trusted(&again, "x", racy_stat),
            "x trusted after a rewrite (base: {rewrite_base})"
        );
        assert!(
            !trusted(&again, "y", racy_stat),
            "y trusted after a rewrite (base: {rewrite_base})"
        );
        assert_eq!(again.get(&p("x")).map(|e| e.id), Some(ObjectId::of(b"1")));
    }
}

/// Regression: `load` read `index` and then `index.delta`. A writer that rewrote the base
/// and removed the delta in between left the reader with the old base and no delta: a
/// view missing changes made before the load began. gc reads other work trees' indexes
/// without their locks, so it could delete an object only a recent entry named.
#[test]
fn a_load_racing_a_base_rewrite_sees_every_earlier_change() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    let mut index = Index::load(&path).expect("empty");
    index.upsert(file("seed", "0"));
    save(&mut index).expect("base");
    let published = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (published, stop) = (published.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) && i < 20_000 {
                i += 1;
                // k_i reaches the index through the delta, then a base rewrite folds it.
                index.upsert(file(&format!("k{i}"), "x"));
                save(&mut index).expect("delta");
                published.store(i, Ordering::SeqCst);
                index.force_base = true;
                index.changed = true;
                save(&mut index).expect("base");
            }
        })
    };
    let start = std::time::Instant::now();
    let mut missing = None;
    while start.elapsed() < std::time::Duration::from_millis(400) {
        let i = published.load(Ordering::SeqCst);
        if i == 0 {
            continue;
        }
        let loaded = Index::load(&path).expect("a load during writes succeeds");
        if loaded.get(&p(&format!("k{i}"))).is_none() {
            missing = Some(i);
            break;
        }
    }
    stop.store(true, Ordering::SeqCst);
    writer.join().expect("writer");
    assert_eq!(
        missing, None,
        "a load missed an entry written before it began"
    );
}
