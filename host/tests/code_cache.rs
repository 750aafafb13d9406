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

/// Over its cap, the cache evicts the least recently used entries: a hit counts as a use, and
/// the entry just written is always kept.
#[test]
fn over_its_cap_the_cache_evicts_the_least_recently_used() {
    let dir = tempfile::tempdir().expect("tempdir");
    let components: Vec<(&str, Vec<u8>)> = ["early-dial", "rogue", "swap-blue"]
        .into_iter()
        .map(|p| (p, std::fs::read(plugin_path(p)).expect("read")))
        .collect();
    // Sizes of the three compiled entries, from an uncapped cache.
    let sizes: Vec<u64> = {
        let scratch = tempfile::tempdir().expect("tempdir");
        let runtime = cached_runtime(scratch.path());
        components
            .iter()
            .map(|(name, bytes)| {
                let before: u64 = entries(scratch.path())
                    .iter()
                    .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
                    .sum();
                runtime.load(name, bytes).expect("load");
                let after: u64 = entries(scratch.path())
                    .iter()
                    .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
                    .sum();
                after - before
            })
            .collect()
    };
    // Room for all but the smallest entry: the third store must evict exactly one.
    let cap = sizes.iter().sum::<u64>() - sizes.iter().min().copied().unwrap_or(0) + 1;
    let capped = || {
        Runtime::new(RuntimeConfig {
            cache: Some(CodeCache::new(dir.path()).with_max_bytes(cap)),
            ..RuntimeConfig::default()
        })
        .expect("runtime")
    };
    let runtime = capped();
    let pause = || std::thread::sleep(std::time::Duration::from_millis(20));
    let (a, b, c) = (&components[0], &components[1], &components[2]);
    assert!(runtime.load(a.0, &a.1).expect("a").was_compiled());
    pause();
    assert!(runtime.load(b.0, &b.1).expect("b").was_compiled());
    pause();
    // A hit: `a` is now the most recently used.
    assert!(!runtime.load(a.0, &a.1).expect("a again").was_compiled());
    pause();
    assert!(runtime.load(c.0, &c.1).expect("c").was_compiled());
    assert_eq!(entries(dir.path()).len(), 2, "one entry evicted");
    // `b` went (least recently used); `a` and `c` are still served from the cache.
    let restarted = capped();
    assert!(!restarted.load(a.0, &a.1).expect("a").was_compiled());
    assert!(!restarted.load(c.0, &c.1).expect("c").was_compiled());
    assert!(restarted.load(b.0, &b.1).expect("b").was_compiled());
}
