//! Plugin dispatch benchmark: what one event costs in the runtime.
//!
//! Prints the early-dial component's size, its compile time (cold) and load time (from the
//! compiled-code cache), and the median and p99 of one `started` event in `fresh` mode (new
//! store and instance per event, pooling allocator) and in `reuse` mode (warm instance).
//! Run: `cargo bench -p callwasm --bench plugin_dispatch` (without `--bench`, as under
//! `cargo test --all-targets`, it is a quick smoke run).

#[path = "../tests/common/mod.rs"]
mod common;

use callwasm::runtime::{CodeCache, Event, InstanceMode, Limits, Plugin, Runtime, RuntimeConfig};
use common::*;
use std::time::{Duration, Instant};

/// Events per measurement; `cargo test --all-targets` runs the bench without `--bench` as a
/// quick smoke run with far fewer.
fn events() -> usize {
    if std::env::args().any(|a| a == "--bench") {
        20_000
    } else {
        50
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn us(d: Duration) -> String {
    format!("{:.2} µs", d.as_secs_f64() * 1e6)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// Median, p99 and mean of `EVENTS` `started` events; `expect` commands in each reply.
fn dispatch(plugin: &Plugin, mode: InstanceMode, expect: usize) -> (Duration, Duration, Duration) {
    let call = call(&["alice"], vec![caller("100")]);
    let conf = settings(&[("caller_id_number", "5551000"), ("vars", "X_TENANT=acme")]);
    let limits = Limits::default();
    let events = events();
    for _ in 0..events / 10 {
        handle_in(plugin, mode, &Event::Started, &call, &conf, &limits).expect("warmup");
    }
    let mut times = Vec::with_capacity(events);
    for _ in 0..events {
        let t = Instant::now();
        let reply =
            handle_in(plugin, mode, &Event::Started, &call, &conf, &limits).expect("handle");
        times.push(t.elapsed());
        assert_eq!(reply.commands.len(), expect);
    }
    times.sort();
    let mean = times.iter().sum::<Duration>() / events as u32;
    (percentile(&times, 0.5), percentile(&times, 0.99), mean)
}

fn main() {
    if events() < 1000 {
        println!("smoke run (no --bench): figures below are not measurements");
    }
    let path = plugin_path("early-dial");
    let bytes = std::fs::read(&path).expect("read early-dial");
    println!(
        "early-dial component (profile `plugin`, opt-level s, LTO): {} bytes ({:.1} KiB)",
        bytes.len(),
        bytes.len() as f64 / 1024.0
    );

    // Cold compile: no cache.
    let cold = Runtime::new(RuntimeConfig {
        cache: None,
        ..RuntimeConfig::default()
    })
    .expect("runtime");
    let mut compiles = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let plugin = cold.load("early-dial", &bytes).expect("load");
        compiles.push(t.elapsed());
        assert!(plugin.was_compiled());
    }
    compiles.sort();
    println!(
        "compile (cold, no cache), median of 5:         {}",
        ms(compiles[2])
    );

    // Warm load: from the compiled-code cache.
    let dir = tempfile::tempdir().expect("tempdir");
    let cached = Runtime::new(RuntimeConfig {
        cache: Some(CodeCache::new(dir.path())),
        ..RuntimeConfig::default()
    })
    .expect("runtime");
    cached
        .load("early-dial", &bytes)
        .expect("first load fills the cache");
    let mut loads = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let plugin = cached.load("early-dial", &bytes).expect("load");
        loads.push(t.elapsed());
        assert!(!plugin.was_compiled());
    }
    loads.sort();
    println!(
        "load (from compiled-code cache), median of 5: {}",
        ms(loads[2])
    );

    let plugin = cold.load("early-dial", &bytes).expect("load");
    // create, set-var, bridge-create, bridge-add, dial
    report(
        "early-dial fresh (new store + instance + handle)",
        dispatch(&plugin, InstanceMode::Fresh, 5),
        "  (target: median <= 20 µs)",
    );
    report(
        "early-dial reuse (warm instance + handle)",
        dispatch(&plugin, InstanceMode::Reuse { max_uses: u32::MAX }, 5),
        "",
    );
    // The rogue test plugin, behaving, answers `started` with one command after two setting
    // look-ups: what the contract itself costs (copying the call in, the reply out).
    let trivial = cold.load_file(&plugin_path("rogue")).expect("load rogue");
    report(
        "trivial fresh (new store + instance + handle)",
        dispatch(&trivial, InstanceMode::Fresh, 1),
        "",
    );
    report(
        "trivial reuse (warm instance + handle)",
        dispatch(&trivial, InstanceMode::Reuse { max_uses: u32::MAX }, 1),
        "",
    );
}

fn report(what: &str, (p50, p99, mean): (Duration, Duration, Duration), target: &str) {
    println!(
        "{what:<50} {} events: median {}  p99 {}  mean {}{target}",
        events(),
        us(p50),
        us(p99),
        us(mean)
    );
}
