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
    /// The lowest and highest run at each level: the spread the difference is read against.
    pub warn_range_us: (f64, f64),
    pub info_range_us: (f64, f64),
    /// `info` − `warn`, and as a share of `warn`.
    pub cost_us_per_call: f64,
    pub cost_percent: f64,
    /// What the `info` runs wrote, per completed call.
    pub bytes_per_call: f64,
    pub lines_per_call: f64,
    /// Every call of every run completed.
    pub all_completed: bool,
    /// The two lines alone: CPU µs per call to format and write a call's `call started` and
    /// `call ended` lines (with its span) to the file, over `lines_alone_calls` calls, with
    /// nothing else running. The end-to-end difference above is this plus noise.
    pub lines_alone_us_per_call: f64,
    pub lines_alone_calls: usize,
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
        let quiet = load::router_at(rate, calls, plugin, cache, false, load::STORE).await?;
        all_completed &= quiet.completed == calls;
        warn.push(quiet.cpu_us_per_call);

        switch(Some(&file))?;
        let logged = load::router_at(rate, calls, plugin, cache, false, load::STORE).await;
        // Put the log back before anything else can fail, so errors reach the terminal.
        switch(None)?;
        let logged = logged?;
        let written = std::fs::metadata(&file).map_or(0, |m| m.len());
        if written == 0 {
            return Err(format!("the info run wrote no log to {}", file.display()));
        }
        all_completed &= logged.completed == calls;
        info.push(logged.cpu_us_per_call);
        let written = std::fs::read(&file)
            .map_err(|e| format!("cannot read the log written to {}: {e}", file.display()))?;
        bytes += written.len();
        lines += written.iter().filter(|&&b| b == b'\n').count();
        logged_calls += logged.completed;
    }
    let alone_calls = calls * 4;
    let alone = lines_alone(switch, &file, alone_calls)?;
    let _ = std::fs::remove_file(&file);
    let range = |v: &[f64]| {
        let lowest = v.iter().copied().fold(f64::INFINITY, f64::min);
        (lowest, v.iter().copied().fold(f64::NEG_INFINITY, f64::max))
    };
    let (warn_range_us, info_range_us) = (range(&warn), range(&info));
    let (warn, info) = (median(&mut warn), median(&mut info));
    let per_call = |n: usize| n as f64 / logged_calls.max(1) as f64;
    Ok(LogFigure {
        offered_per_s: rate,
        calls_per_run: calls,
        runs,
        warn_cpu_us_per_call: warn,
        info_cpu_us_per_call: info,
        warn_range_us,
        info_range_us,
        cost_us_per_call: info - warn,
        cost_percent: (info - warn) / warn * 100.0,
        bytes_per_call: per_call(bytes),
        lines_per_call: per_call(lines),
        all_completed,
        lines_alone_us_per_call: alone.as_secs_f64() * 1e6 / alone_calls as f64,
        lines_alone_calls: alone_calls,
    })
}

/// The CPU of writing `calls` calls' two lines, as the router writes them, to `file`.
fn lines_alone(
    switch: &LogSwitch,
    file: &Path,
    calls: usize,
) -> Result<std::time::Duration, String> {
    use crate::router::call_log;
    let causes = [("caller".to_string(), 16), ("agent".to_string(), 16)];
    switch(Some(file))?;
    let before = super::sys::own_cpu();
    for n in 0..calls {
        let call = format!("bench.5f3a1c{n:x}");
        call_log::started(&call_log::Started {
            call: &call,
            tenant: "bench",
            app: "bench",
            caller: "5550100",
            extension: "agent",
            server: "sim",
        });
        let _inside = call_log::span(&call).entered();
        call_log::ended(&call_log::Ended {
            tenant: "bench",
            outcome: "completed",
            causes: &causes,
            legs_dialed: 1,
            duration: std::time::Duration::from_millis(312),
            plugin_time: std::time::Duration::from_micros(270),
        });
    }
    let cpu = super::sys::own_cpu().saturating_sub(before);
    switch(None)?;
    Ok(cpu)
}

fn median(figures: &mut [f64]) -> f64 {
    figures.sort_by(f64::total_cmp);
    match figures.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => figures[n / 2],
        n => (figures[n / 2 - 1] + figures[n / 2]) / 2.0,
    }
}
