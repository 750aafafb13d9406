//! The call store in a real PostgreSQL: a throwaway cluster (initdb + pg_ctl in a temporary
//! directory, on a free loopback port) started for each test and removed afterwards.
//! The same checks as the embedded store's: rows survive a reopen, a second router with the
//! same name is refused, an unreachable database is named without its password.
//!
//! Needs Debian's `postgresql` package (scripts/test installs it when missing).

use callwasm::store::postgres::Postgres;
use callwasm::store::throwaway::ThrowawayPostgres;
use callwasm::store::{Backend, CallRow, Store, StoreConfig, StoreError, VersionRow};
use std::path::Path;
use std::time::Duration;

/// The throwaway cluster of one test.
fn cluster() -> ThrowawayPostgres {
    ThrowawayPostgres::start().expect("a throwaway PostgreSQL")
}

fn socket_url(dir: &Path) -> String {
    format!("host={} user=callwasm dbname=postgres", dir.display())
}

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
    let pg = cluster();
    let store = Store::start(
        Box::new(Postgres::open(&pg.url(), "r1").expect("open")),
        pg.url(),
    )
    .expect("start");
    store.put(row("r1.a1", b"one", "{\"n\":1}"));
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

    // The schema is migrated once: a second open finds it and runs nothing.
    let mut reopened = Postgres::open(&pg.url(), "r1").expect("reopen");
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
fn a_second_router_with_the_same_name_is_refused_and_another_is_not() {
    let pg = cluster();
    let first = Postgres::open(&pg.url(), "r1").expect("open");
    let second = Postgres::open(&pg.url(), "r1").err().expect("refused");
    assert!(matches!(second, StoreError::Locked { .. }), "{second:?}");
    assert!(
        second.to_string().contains("in use by another router"),
        "{second}"
    );
    Postgres::open(&pg.url(), "r2").expect("another router's name");
    // The lock goes with the connection.
    drop(first);
    Postgres::open(&pg.url(), "r1").expect("free again");
}

#[test]
fn an_unreachable_database_is_named_without_its_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("{} password=s3cret", socket_url(dir.path()));
    let config = StoreConfig {
        url: Some(url),
        ..StoreConfig::default()
    };
    let e = config.open("r1").err().expect("refused");
    assert!(matches!(e, StoreError::CannotWrite { .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.contains("password=***"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
    assert!(text.contains("check [store] url"), "{text}");
}
