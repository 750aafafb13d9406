//! The embedded call store on a real SQLite file: rows survive a reopen, the writer's group
//! commit keeps each call's latest row, and a store that cannot be used (held by another
//! router, corrupt, in a directory that cannot be written) is refused with its path and what
//! to do.

use callwasm::store::sqlite::Sqlite;
use callwasm::store::{Backend, CallRow, Store, StoreError, SyncMode, VersionRow};
use std::time::Duration;

fn row(call: &str, state: &[u8], record: &str) -> CallRow {
    CallRow {
        call_id: call.into(),
        instance: "r1".into(),
        server: "pbx".into(),
        tenant: "acme".into(),
        version: "ab12".into(),
        state: state.to_vec(),
        record: record.into(),
        written_ms: 1_700_000_000_000,
    }
}

#[tokio::test]
async fn rows_are_committed_in_groups_and_survive_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("calls.db");
    let store = Store::start(
        Box::new(Sqlite::open(&path, SyncMode::Full).expect("open")),
        path.display().to_string(),
    )
    .expect("start");
    // Three images of one call queued back to back: the last one is what is kept.
    store.put(row("r1.a1", b"one", "{\"n\":1}"));
    store.put(row("r1.a1", b"two", "{\"n\":2}"));
    let t = store.put(row("r1.a1", b"three", "{\"n\":3}"));
    store.put(row("r1.b2", b"", "{}"));
    store.remove("r1.b2");
    let mut other = row("r2.c3", b"x", "{}");
    other.instance = "r2".into();
    store.put(other);
    store.version(VersionRow {
        tenant: "acme".into(),
        hash: "ab12".into(),
        label: Some("v1".into()),
        component: vec![0, 97, 115, 109].into(),
        loaded_ms: 5,
    });
    let last = store.remove("r1.none");
    store
        .durable(last.max(t), Duration::from_secs(30))
        .await
        .expect("committed");
    store.close();
    drop(store);

    let mut reopened = Sqlite::open(&path, SyncMode::Full).expect("reopen");
    assert_eq!(
        reopened.calls("r1").expect("calls"),
        vec![row("r1.a1", b"three", "{\"n\":3}")]
    );
    assert_eq!(reopened.calls("r2").expect("calls").len(), 1);
    let versions = reopened.versions("acme").expect("versions");
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].label.as_deref(), Some("v1"));
    assert_eq!(&versions[0].component[..], &[0, 97, 115, 109]);
}

#[test]
fn a_store_another_router_holds_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("calls.db");
    let _first = Sqlite::open(&path, SyncMode::Full).expect("open");
    let second = Sqlite::open(&path, SyncMode::Full).err().expect("refused");
    assert_eq!(
        second,
        StoreError::Locked {
            path: path.display().to_string()
        }
    );
    assert!(
        second.to_string().contains("in use by another router"),
        "{second}"
    );
}

#[test]
fn a_corrupt_store_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("calls.db");
    let garbage = b"this is not a SQLite file, it only has its name".repeat(100);
    std::fs::write(&path, &garbage).expect("write");
    let e = Sqlite::open(&path, SyncMode::Full).err().expect("refused");
    assert!(matches!(e, StoreError::Corrupt { .. }), "{e:?}");
    assert!(e.to_string().contains("move it aside"), "{e}");
    assert!(e.to_string().contains(&path.display().to_string()), "{e}");
    assert_eq!(
        std::fs::read(&path).expect("read"),
        garbage,
        "left as it was"
    );
}

#[test]
fn a_store_that_cannot_be_written_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A regular file where the store's directory should be.
    let blocker = dir.path().join("state");
    std::fs::write(&blocker, b"").expect("write");
    let path = blocker.join("calls.db");
    let e = Sqlite::open(&path, SyncMode::Full).err().expect("refused");
    assert!(matches!(e, StoreError::CannotWrite { .. }), "{e:?}");
    assert!(e.to_string().contains(&path.display().to_string()), "{e}");
}
