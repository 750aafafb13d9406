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

use callwasm::bench::dispatch;
use callwasm::runtime::{CodeCache, Runtime, RuntimeConfig};
use common::*;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn measuring() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// Events per mode and language.
fn events() -> usize {
    if measuring() { 3_000 } else { 20 }
}

fn median_of(n: usize, mut f: impl FnMut() -> Duration) -> Duration {
    let mut times: Vec<Duration> = (0..n).map(|_| f()).collect();
    times.sort();
    times[n / 2]
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
        // A two-member sequential hunt: bridge-create, create, bridge-add, dial.
        let figure = dispatch::measure(
            &cached,
            &dispatch::Subject {
                plugin: "hunt-group".into(),
                language: label.clone(),
                path: path.clone(),
                settings: dispatch::hunt_group_settings(),
                commands: 4,
            },
            events(),
        )
        .expect("per-event figures");
        println!(
            "{:<12} {:>7.2} MB {:>10.1} ms {:>9.1} ms {:>11.1} µs {:>9.1} µs {:>11.1} µs {:>9.1} µs",
            label,
            bytes.len() as f64 / 1e6,
            compile.as_secs_f64() * 1e3,
            load.as_secs_f64() * 1e3,
            figure.fresh_p50_us,
            figure.fresh_p99_us,
            figure.reuse_p50_us,
            figure.reuse_p99_us,
        );
    }
    println!(
        "({} events per mode; compile = median of {compiles} with no cache; cached load = median of 5)",
        events()
    );
}
