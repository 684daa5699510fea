//! add, status, rm.

use crate::harness::*;

#[test]
fn add_commit_status_round_trip() {
    let sb = Sandbox::git_and_dvx();
    let data = bytes(1, 70_000);
    sb.write("data/a.bin", &data);
    sb.write("data/sub/b.txt", b"hello\n");
    sb.ok(&["add", "data"]);
    // The object id is the b3sum of the file.
    assert!(object_path(&sb.root, &b3(&data)).is_file());
    let status = sb.status_json();
    assert_eq!(status["staged"].as_array().map(Vec::len), Some(2));
    sb.ok(&["commit", "-m", "first"]);
    let status = sb.status_json();
    assert_eq!(status["clean"], true);
}
