//! What callwasm's `info` log costs a call: the seed flow at the reference rate, the router's
//! lines at `warn` (the bench's level: nothing per call) and at `info` (a line when a call
//! starts and one when it ends, written to a file as a service's redirected stderr is), in
//! alternating runs so that drift in the machine falls on both sides.

use super::load;
use serde::Serialize;
use std::path::Path;

/// Switches the process's log for this measurement: `Some(file)` writes callwasm's lines at
/// `info` (other crates at warn) to `file`; `None` puts back the filter and the writer the
/// command started with. The command line installs the log, so it hands the bench this switch.
pub type LogSwitch = dyn Fn(Option<&Path>) -> Result<(), String> + Send + Sync;

/// The router's CPU per call with its log at `warn` and at `info`.
#[derive(Debug, Clone, Serialize)]
pub struct LogFigure {
    pub offered_per_s: f64,
    pub calls_per_run: usize,
    /// Runs at each level (alternating, `warn` first).
    pub runs: usize,
    /// Median CPU µs per call of the runs at each level.
    pub warn_cpu_us_per_call: f64,
    pub info_cpu_us_per_call: f64,
    /// `info` − `warn`, and as a share of `warn`.
    pub cost_us_per_call: f64,
    pub cost_percent: f64,
    /// What the `info` runs wrote, per completed call.
    pub bytes_per_call: f64,
    pub lines_per_call: f64,
    /// Every call of every run completed.
    pub all_completed: bool,
}

/// Runs the seed flow `runs` times at each level and compares the medians.
pub async fn measure(
    switch: &LogSwitch,
    rate: f64,
    calls: usize,
    runs: usize,
    plugin: &Path,
    cache: &Path,
) -> Result<LogFigure, String> {
    let file = std::env::temp_dir().join(format!("callwasm-bench-{}.log", std::process::id()));
    let (mut warn, mut info) = (Vec::new(), Vec::new());
    let (mut bytes, mut lines, mut logged_calls) = (0usize, 0usize, 0usize);
    let mut all_completed = true;
    for _ in 0..runs {
        let quiet = load::router_at(rate, calls, plugin, cache, false).await?;
        all_completed &= quiet.completed == calls;
        warn.push(quiet.cpu_us_per_call);

        switch(Some(&file))?;
        let logged = load::router_at(rate, calls, plugin, cache, false).await;
        // Put the log back before anything else can fail, so errors reach the terminal.
        switch(None)?;
        let logged = logged?;
        all_completed &= logged.completed == calls;
        info.push(logged.cpu_us_per_call);
        let written = std::fs::read(&file)
            .map_err(|e| format!("cannot read the log written to {}: {e}", file.display()))?;
        bytes += written.len();
        lines += written.iter().filter(|&&b| b == b'\n').count();
        logged_calls += logged.completed;
    }
    let _ = std::fs::remove_file(&file);
    let (warn, info) = (median(&mut warn), median(&mut info));
    let per_call = |n: usize| n as f64 / logged_calls.max(1) as f64;
    Ok(LogFigure {
        offered_per_s: rate,
        calls_per_run: calls,
        runs,
        warn_cpu_us_per_call: warn,
        info_cpu_us_per_call: info,
        cost_us_per_call: info - warn,
        cost_percent: (info - warn) / warn * 100.0,
        bytes_per_call: per_call(bytes),
        lines_per_call: per_call(lines),
        all_completed,
    })
}

fn median(figures: &mut [f64]) -> f64 {
    figures.sort_by(f64::total_cmp);
    match figures.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => figures[n / 2],
        n => (figures[n / 2 - 1] + figures[n / 2]) / 2.0,
    }
}
