//! The hunt group in each language, side by side: what choosing Python or JavaScript over Rust
//! costs in component size, compile time (cold), load time (from the compiled-code cache) and
//! time per event (fresh instance + handle, and a reused warm instance).
//!
//! Run: `cargo bench -p callwasm --bench plugin_languages`. The Python and JavaScript builds come
//! from scripts/build-examples (installed and built when missing). `CALLWASM_BENCH_EXTRA=
//! label=path.wasm,...` adds other builds of the same plugin to the table (how the JavaScript
//! engines were compared for docs/plugins.md); `CALLWASM_BENCH_ONLY=label` keeps one build.
//! Without `--bench` (as under `cargo test --all-targets`) it is a quick smoke run.

#[path = "../tests/common/mod.rs"]
mod common;

use callwasm::runtime::{
    CodeCache, Event, InstanceMode, Limits, Plugin, Runtime, RuntimeConfig, Settings,
};
use common::*;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn measuring() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// Events per mode and language.
fn events() -> usize {
    if measuring() { 3_000 } else { 20 }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn median_of(n: usize, mut f: impl FnMut() -> Duration) -> Duration {
    let mut times: Vec<Duration> = (0..n).map(|_| f()).collect();
    times.sort();
    times[n / 2]
}

/// Median and p99 of `started` for a two-member sequential hunt (bridge-create, create,
/// bridge-add, dial: four commands).
fn per_event(plugin: &Plugin, mode: InstanceMode, conf: &Arc<Settings>) -> (Duration, Duration) {
    let call = call(&[], vec![caller("600")]);
    let limits = Limits::default();
    let events = events();
    for _ in 0..events / 10 + 1 {
        handle_in(plugin, mode, &Event::Started, &call, conf, &limits).expect("warm-up");
    }
    let mut times = Vec::with_capacity(events);
    for _ in 0..events {
        let t = Instant::now();
        let reply = handle_in(plugin, mode, &Event::Started, &call, conf, &limits).expect("handle");
        times.push(t.elapsed());
        assert_eq!(reply.commands.len(), 4, "the hunt group's first reply");
    }
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.99))
}

fn main() {
    if !measuring() {
        println!("smoke run (no --bench): figures below are not measurements");
    }
    let mut builds: Vec<(String, PathBuf)> = hunt_groups()
        .into_iter()
        .map(|(l, p)| (l.to_string(), p))
        .collect();
    if let Ok(extra) = std::env::var("CALLWASM_BENCH_EXTRA") {
        for item in extra.split(',').filter(|s| !s.is_empty()) {
            let (label, path) = item
                .split_once('=')
                .expect("CALLWASM_BENCH_EXTRA items are label=path");
            builds.push((label.to_string(), PathBuf::from(path)));
        }
    }
    // CALLWASM_BENCH_ONLY=label keeps one build (to profile it alone).
    if let Ok(only) = std::env::var("CALLWASM_BENCH_ONLY") {
        builds.retain(|(label, _)| *label == only);
    }
    let conf = settings(&[("members", "PJSIP/alice,PJSIP/bob"), ("ring_timeout", "15")]);
    let compiles = if measuring() { 3 } else { 1 };

    println!(
        "{:<12} {:>10} {:>13} {:>12} {:>14} {:>12} {:>14} {:>12}",
        "build",
        "size",
        "compile",
        "cached load",
        "fresh p50",
        "fresh p99",
        "reuse p50",
        "reuse p99"
    );
    for (label, path) in &builds {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let cold = Runtime::new(RuntimeConfig {
            cache: None,
            ..RuntimeConfig::default()
        })
        .expect("runtime");
        let compile = median_of(compiles, || {
            let t = Instant::now();
            let plugin = cold.load(label, &bytes).expect("compile");
            assert!(plugin.was_compiled());
            t.elapsed()
        });
        let dir = tempfile::tempdir().expect("tempdir");
        let cached = Runtime::new(RuntimeConfig {
            cache: Some(CodeCache::new(dir.path())),
            ..RuntimeConfig::default()
        })
        .expect("runtime");
        cached
            .load(label, &bytes)
            .expect("first load fills the cache");
        let load = median_of(5, || {
            let t = Instant::now();
            let plugin = cached.load(label, &bytes).expect("cached load");
            assert!(!plugin.was_compiled(), "loaded from the cache");
            t.elapsed()
        });
        let plugin = cached.load(label, &bytes).expect("load");
        let (fresh50, fresh99) = per_event(&plugin, InstanceMode::Fresh, &conf);
        let (reuse50, reuse99) =
            per_event(&plugin, InstanceMode::Reuse { max_uses: u32::MAX }, &conf);
        println!(
            "{:<12} {:>7.2} MB {:>10.1} ms {:>9.1} ms {:>11.1} µs {:>9.1} µs {:>11.1} µs {:>9.1} µs",
            label,
            bytes.len() as f64 / 1e6,
            compile.as_secs_f64() * 1e3,
            load.as_secs_f64() * 1e3,
            fresh50.as_secs_f64() * 1e6,
            fresh99.as_secs_f64() * 1e6,
            reuse50.as_secs_f64() * 1e6,
            reuse99.as_secs_f64() * 1e6,
        );
    }
    println!(
        "({} events per mode; compile = median of {compiles} with no cache; cached load = median of 5)",
        events()
    );
}
