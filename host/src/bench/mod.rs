//! `callwasm bench`: what a call costs the router, measured side by side in one run and
//! published with the method (docs/benchmarks.md, JSON, an SVG plot).
//!
//! - plugin dispatch per shipped plugin and per language, fresh and warm, next to early-dial's
//!   decision compiled natively;
//! - the seed flow end to end at a ladder of offered rates: the simulated Asterisk in its own
//!   process places the calls; the router (this process, measured with getrusage) handles them,
//!   then the floor client does the same REST requests with nothing else;
//! - the router's memory with 10,000 calls in flight.
//!
//! Every figure is measured in the run; a run fails only when it could not measure.

pub mod dispatch;
pub mod floor;
pub mod load;
pub mod logging;
pub mod native;
pub mod report;
pub mod scale;
pub mod sys;

use dispatch::{DispatchFigure, NativeFigure, Subject};
use load::{MemoryFigure, RatePoint};
pub use logging::{LogFigure, LogSwitch};
use serde::Serialize;
use std::path::PathBuf;

/// What to measure and where the components are.
pub struct Options {
    /// The shipped plugins' components (early_dial.wasm, hunt_group.wasm).
    pub plugins: PathBuf,
    /// The Python and JavaScript examples' components (scripts/build-examples).
    pub examples: PathBuf,
    /// A short run (a few hundred calls) that checks the bench works; its figures are not
    /// measurements to publish.
    pub quick: bool,
    /// Offered rates (calls/s) instead of the default ladder.
    pub rates: Option<Vec<f64>>,
    /// The command line, for the report.
    pub command: String,
    /// Switches the log to a file at `info` for the logging-cost runs; without it they are
    /// skipped.
    pub log_switch: Option<Box<LogSwitch>>,
}

/// Everything one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub date: String,
    pub machine: String,
    pub command: String,
    pub quick: bool,
    pub dispatch: Vec<DispatchFigure>,
    pub native: NativeFigure,
    /// Router and floor at each offered rate.
    pub load: Vec<RatePoint>,
    /// The rate the per-call figures and ratios are read at.
    pub reference_rate: f64,
    pub memory: MemoryFigure,
    pub store: StoreCost,
    /// The router's CPU per call with its log at `info` against `warn` (None when the run had
    /// no log switch).
    pub logging: Option<LogFigure>,
    /// 1, 2 and 3 routers sharing a PostgreSQL (None when PostgreSQL is not installed: the
    /// reason is in `scale_skipped`).
    pub scale: Option<scale::ScaleFigure>,
    pub scale_skipped: Option<String>,
    pub targets: Vec<Target>,
}

/// A figure against its target.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub what: String,
    pub target: String,
    pub measured: String,
    pub met: bool,
}

/// The call store's cost: the router at one rate with the store on (the default), on with
/// `sync = "full"`, and off, alternating (so a busy machine weighs on all alike); each figure
/// over all the runs' calls.
#[derive(Debug, Clone, Serialize)]
pub struct StoreCost {
    pub rate: f64,
    pub calls_per_run: usize,
    pub runs: usize,
    pub cpu_on_us: f64,
    pub cpu_full_us: f64,
    pub cpu_off_us: f64,
    /// CPU of the store's own threads per call (writer, checkpoints), store on.
    pub store_threads_us: f64,
    pub p99_on_ms: f64,
    pub p99_full_ms: f64,
    pub p99_off_ms: f64,
    pub p50_on_ms: f64,
    pub p50_off_ms: f64,
}

impl StoreCost {
    /// CPU per call, store on against off.
    pub fn cpu_increase(&self) -> f64 {
        self.cpu_on_us / self.cpu_off_us.max(1e-9) - 1.0
    }
}

/// Measures [`StoreCost`]: `runs` rounds at `rate`, `calls` calls a run.
pub async fn measure_store(
    early_dial: &std::path::Path,
    cache: &std::path::Path,
    (rate, calls): (f64, usize),
    runs: usize,
    progress: &dyn Fn(&str),
) -> Result<StoreCost, String> {
    use crate::store::SyncMode;
    let (mut on, mut full, mut off) = (Vec::new(), Vec::new(), Vec::new());
    for run in 1..=runs {
        for (keep, what) in [
            (load::STORE, "store on (the default, sync normal)"),
            (load::Keep::Store(SyncMode::Full), "store on (sync full)"),
            (load::Keep::Memory, "store off"),
        ] {
            progress(&format!(
                "run {run}/{runs}, {what}: {calls} calls at {rate:.0} calls/s"
            ));
            let point = load::router_at(rate, calls, early_dial, cache, false, keep).await?;
            progress(&point_line(&point));
            match keep {
                load::STORE => on.push(point),
                load::Keep::Store(_) => full.push(point),
                load::Keep::Memory => off.push(point),
            }
        }
    }
    // Pooled over the runs: CPU over all their calls, latencies from all their calls (a
    // single run's p99 is its 25 slowest calls, and swung by ±1.5 ms between runs).
    let cpu = |points: &[RatePoint], f: fn(&RatePoint) -> f64| {
        let calls: usize = points.iter().map(|p| p.completed).sum();
        points
            .iter()
            .map(|p| f(p) * p.completed as f64)
            .sum::<f64>()
            / calls.max(1) as f64
    };
    let dial = |points: &[RatePoint], q: f64| {
        let mut all: Vec<f64> = points
            .iter()
            .flat_map(|p| p.dial_ms.iter().copied())
            .collect();
        all.sort_by(f64::total_cmp);
        if all.is_empty() {
            return f64::NAN;
        }
        all[((all.len() as f64 - 1.0) * q).round() as usize]
    };
    let cost = StoreCost {
        rate,
        calls_per_run: calls,
        runs,
        cpu_on_us: cpu(&on, |p| p.cpu_us_per_call),
        cpu_full_us: cpu(&full, |p| p.cpu_us_per_call),
        cpu_off_us: cpu(&off, |p| p.cpu_us_per_call),
        store_threads_us: cpu(&on, |p| p.store_cpu_us_per_call.unwrap_or(0.0)),
        p99_on_ms: dial(&on, 0.99),
        p99_full_ms: dial(&full, 0.99),
        p99_off_ms: dial(&off, 0.99),
        p50_on_ms: dial(&on, 0.5),
        p50_off_ms: dial(&off, 0.5),
    };
    progress(&format!(
        "all runs: CPU {:.0} µs/call on, {:.0} off ({:+.1}%); dial p99 {:.2} ms on, {:.2} off ({:+.2} ms)",
        cost.cpu_on_us,
        cost.cpu_off_us,
        cost.cpu_increase() * 100.0,
        cost.p99_on_ms,
        cost.p99_off_ms,
        cost.p99_on_ms - cost.p99_off_ms
    ));
    progress(&format!(
        "all runs with sync full: CPU {:.0} µs/call ({:+.1}%); dial p99 {:.2} ms ({:+.2} ms)",
        cost.cpu_full_us,
        (cost.cpu_full_us / cost.cpu_off_us.max(1e-9) - 1.0) * 100.0,
        cost.p99_full_ms,
        cost.p99_full_ms - cost.p99_off_ms
    ));
    Ok(cost)
}

/// `callwasm bench --store`: [`measure_store`] and the store's bytes per call in flight,
/// printed (for tuning `[store]` and checking a change; writes no report).
pub async fn store_cost(
    plugins: &std::path::Path,
    rate: f64,
    runs: usize,
    progress: &dyn Fn(&str),
) -> Result<(), String> {
    let cache = std::env::temp_dir().join(format!("callwasm-bench-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    let early_dial = plugins.join("early_dial.wasm");
    let calls = (rate * 5.0) as usize;
    measure_store(&early_dial, &cache, (rate, calls), runs, progress).await?;
    let memory = load::memory(10_000, &early_dial, &cache).await?;
    progress(&format!(
        "store with {} calls in flight: {:.0} bytes per call (database and log files)",
        memory.calls_in_flight, memory.store_bytes_per_call
    ));
    let _ = std::fs::remove_dir_all(&cache);
    Ok(())
}

/// Runs every measurement, reporting progress through `progress`.
pub async fn run(options: &Options, progress: &dyn Fn(&str)) -> Result<Report, String> {
    let (mut rates, seconds, held, events, log_runs) = if options.quick {
        (vec![200.0, 400.0], 1.0, 500, 50, 1)
    } else {
        (
            vec![250.0, 500.0, 1000.0, 1500.0, 2000.0],
            5.0,
            10_000,
            2_000,
            3,
        )
    };
    if let Some(chosen) = &options.rates {
        rates = chosen.clone();
    }
    // Per-call figures are read at 1,000 calls/s (the target's rate), or the nearest run.
    let reference_rate = rates
        .iter()
        .copied()
        .min_by(|a, b| (a - 1000.0).abs().total_cmp(&(b - 1000.0).abs()))
        .ok_or("no offered rate to run")?;
    // The store's cost is read at 500 calls/s, or the nearest run: a rate this 2-core machine
    // holds without the store, so that what is measured is the store and not a queue.
    let store_rate = rates
        .iter()
        .copied()
        .min_by(|a, b| (a - 500.0).abs().total_cmp(&(b - 500.0).abs()))
        .ok_or("no offered rate to run")?;
    let store_runs = if options.quick { 1 } else { 3 };
    let cache = std::env::temp_dir().join(format!("callwasm-bench-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    let early_dial = options.plugins.join("early_dial.wasm");
    let subjects = vec![
        Subject {
            plugin: "early-dial".into(),
            language: "Rust".into(),
            path: early_dial.clone(),
            settings: dispatch::early_dial_settings(),
            // create, set-var, bridge-create, bridge-add, dial
            commands: 5,
        },
        Subject {
            plugin: "hunt-group".into(),
            language: "Rust".into(),
            path: options.plugins.join("hunt_group.wasm"),
            settings: dispatch::hunt_group_settings(),
            commands: 4,
        },
        Subject {
            plugin: "hunt-group".into(),
            language: "Python".into(),
            path: options.examples.join("python_hunt_group.wasm"),
            settings: dispatch::hunt_group_settings(),
            commands: 4,
        },
        Subject {
            plugin: "hunt-group".into(),
            language: "JavaScript".into(),
            path: options.examples.join("js_hunt_group.wasm"),
            settings: dispatch::hunt_group_settings(),
            commands: 4,
        },
    ];
    // Memory, the store's cost, dispatch per subject and natively, three runs per rate, and
    // the logging runs.
    let steps =
        subjects.len() + 1 + rates.len() * 3 + 3 + usize::from(options.log_switch.is_some());
    let mut step = 0;
    let mut next = |what: String| {
        step += 1;
        progress(&format!("[{step}/{steps}] {what}"));
    };

    // Memory first: before anything else has grown the heap, so the growth is the calls'.
    next(format!("memory: the router with {held} calls in flight"));
    let memory = load::memory(held, &early_dial, &cache).await?;
    progress(&format!(
        "      {} calls in flight: {:.0} bytes per call",
        memory.calls_in_flight, memory.bytes_per_call
    ));
    // The store's cost next, in a process nothing has loaded yet: routers of the overloaded
    // runs below leave work behind (closing their stores) that weighs on what follows.
    next(format!(
        "the call store's cost: the router at {store_rate:.0} calls/s with the store on, on \
         with sync full, and off ({store_runs} runs each)"
    ));
    let store_calls = (store_rate * seconds) as usize;
    let store = measure_store(
        &early_dial,
        &cache,
        (store_rate, store_calls),
        store_runs,
        progress,
    )
    .await?;

    let runtime = dispatch::runtime(&cache)?;
    let mut figures = Vec::new();
    for subject in &subjects {
        next(format!(
            "dispatch: {} ({}), {events} events fresh and {events} warm",
            subject.plugin, subject.language
        ));
        let f = dispatch::measure(&runtime, subject, events)?;
        progress(&format!(
            "      fresh p50 {:.1} µs, warm p50 {:.1} µs",
            f.fresh_p50_us, f.reuse_p50_us
        ));
        figures.push(f);
    }
    next(format!("dispatch: early-dial natively, {events} events"));
    let native = dispatch::native(&runtime, &early_dial, &figures[0], events * 10)?;
    progress(&format!(
        "      native p50 {:.2} µs: WASM fresh {:.0}×, warm {:.0}×",
        native.native_p50_us, native.fresh_ratio, native.reuse_ratio
    ));
    drop(runtime);

    let mut load = Vec::new();
    for rate in &rates {
        let calls = (rate * seconds) as usize;
        for reuse in [false, true] {
            let mode = if reuse {
                "warm instances"
            } else {
                "fresh instances"
            };
            next(format!(
                "seed flow, router ({mode}), {rate:.0} calls/s offered ({calls} calls)"
            ));
            let point =
                load::router_at(*rate, calls, &early_dial, &cache, reuse, load::STORE).await?;
            progress(&point_line(&point));
            load.push(point);
        }
        next(format!(
            "seed flow, floor, {rate:.0} calls/s offered ({calls} calls)"
        ));
        let point = load::floor_at(*rate, calls).await?;
        progress(&point_line(&point));
        load.push(point);
    }

    let mut logging = None;
    if let Some(switch) = &options.log_switch {
        let calls = (reference_rate * seconds) as usize;
        next(format!(
            "logging: the router at {reference_rate:.0} calls/s, log at warn and at info \
             ({log_runs} runs each, {calls} calls)"
        ));
        let f = logging::measure(
            switch.as_ref(),
            reference_rate,
            calls,
            log_runs,
            &early_dial,
            &cache,
        )
        .await?;
        progress(&format!(
            "      warn {:.0} µs/call, info {:.0} µs/call: {:+.0} µs ({:+.1}%), {:.0} bytes and {:.1} lines per call",
            f.warn_cpu_us_per_call,
            f.info_cpu_us_per_call,
            f.cost_us_per_call,
            f.cost_percent,
            f.bytes_per_call,
            f.lines_per_call
        ));
        logging = Some(f);
    }
    // Scale-out last: its routers are processes of their own, and PostgreSQL runs beside them.
    let scale_rates = if options.quick {
        vec![300.0]
    } else {
        vec![300.0, 600.0, 900.0, 1200.0, 1500.0]
    };
    next(format!(
        "scale-out: 1, 2 and 3 routers sharing a PostgreSQL, {} calls/s offered",
        scale_rates
            .iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let (scale, scale_skipped) =
        match scale::measure(&early_dial, &cache, &scale_rates, progress).await {
            Ok(f) => (Some(f), None),
            Err(e) if e.contains("not installed") => {
                progress(&format!("      skipped: {e}"));
                (None, Some(e))
            }
            Err(e) => return Err(format!("scale-out: {e}")),
        };
    let _ = std::fs::remove_dir_all(&cache);

    let mut report = Report {
        date: today(),
        machine: sys::machine(),
        command: options.command.clone(),
        quick: options.quick,
        dispatch: figures,
        native,
        load,
        reference_rate,
        memory,
        store,
        logging,
        scale,
        scale_skipped,
        targets: Vec::new(),
    };
    report.targets = report::targets(&report)?;
    Ok(report)
}

fn point_line(p: &RatePoint) -> String {
    format!(
        "      {} of {} calls, {}; dial p50 {:.2} ms p99 {:.2} ms; CPU {:.0} µs/call{}{}; simulator {}",
        p.completed,
        p.calls,
        if p.kept_up { "kept up" } else { "FELL BEHIND" },
        p.dial_p50_ms,
        p.dial_p99_ms,
        p.cpu_us_per_call,
        p.plugin_cpu_us_per_call
            .map(|t| format!(" (plugin threads {t:.0} µs)"))
            .unwrap_or_default(),
        p.store_cpu_us_per_call
            .map(|t| format!(" (store threads {t:.0} µs)"))
            .unwrap_or_default(),
        p.sim_cpu_us_per_call
            .map(|t| format!("{t:.0} µs/call"))
            .unwrap_or_else(|| "?".into())
    )
}

/// Today's date (UTC), as YYYY-MM-DD.
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // Howard Hinnant's days-to-civil.
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
