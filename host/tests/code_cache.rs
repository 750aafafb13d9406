//! The compiled-code cache: a second load of the same component, even by a new runtime (a
//! restart), does not compile again; a damaged entry is compiled again, not an error.

mod common;

use callwasm::runtime::{CodeCache, Event, Runtime, RuntimeConfig};
use common::*;

fn cached_runtime(dir: &std::path::Path) -> Runtime {
    Runtime::new(RuntimeConfig {
        cache: Some(CodeCache::new(dir)),
        ..RuntimeConfig::default()
    })
    .expect("runtime")
}

fn entries(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn a_restart_loads_compiled_code_from_the_cache() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = std::fs::read(plugin_path("early-dial")).expect("read");

    let first = cached_runtime(dir.path())
        .load("early-dial", &bytes)
        .expect("load");
    assert!(first.was_compiled());
    let files = entries(dir.path());
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with(&first.info().hash),
        "keyed by content hash: {name}"
    );
    assert!(name.ends_with(".cwasm"), "{name}");

    // A new runtime, as after a restart.
    let again = cached_runtime(dir.path())
        .load("early-dial", &bytes)
        .expect("load");
    assert!(!again.was_compiled(), "loaded from the cache");
    let reply = handle(
        &again,
        &Event::Started,
        &call(&["alice"], vec![caller("100")]),
        &settings(&[]),
    )
    .expect("the cached plugin serves");
    assert_eq!(reply.commands.len(), 4);
}

#[test]
fn a_damaged_cache_entry_is_compiled_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = std::fs::read(plugin_path("early-dial")).expect("read");
    cached_runtime(dir.path())
        .load("early-dial", &bytes)
        .expect("load");
    let entry = entries(dir.path()).remove(0);
    std::fs::write(&entry, b"not compiled code").expect("damage");

    let plugin = cached_runtime(dir.path())
        .load("early-dial", &bytes)
        .expect("load");
    assert!(plugin.was_compiled(), "compiled again");
    let healed = cached_runtime(dir.path())
        .load("early-dial", &bytes)
        .expect("load");
    assert!(!healed.was_compiled(), "the entry was rewritten");
}
