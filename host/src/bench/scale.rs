//! Scale-out's figures: the calls a second that 1, 2 and 3 routers (each a `callwasm run`
//! process sharing a throwaway PostgreSQL, [`crate::store::throwaway`]) sustain against one
//! simulated Asterisk (in this process) offering every call by StasisBroadcast, and what a
//! call costs each part: the routers, PostgreSQL and the simulator. Then one router's CPU per
//! call with the shared store against the same router on its embedded store.
//!
//! A rate is sustained when every call was answered (the seed flow: claim, create, bridge,
//! dial, the agent answers, the caller is answered and hangs up 100 ms later) and Asterisk was
//! empty again within two seconds of the last call's schedule.

use super::dispatch::early_dial_settings;
use super::sys;
use crate::sim::{BroadcastOffer, InboundCall, Sim, SimConfig};
use crate::store::throwaway::ThrowawayPostgres;
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One run: `routers` routers at an offered rate.
#[derive(Debug, Clone, Serialize)]
pub struct ScalePoint {
    pub routers: usize,
    /// `shared` (PostgreSQL, claims) or `embedded` (one router, its own SQLite file, calls
    /// entering its app directly).
    pub store: String,
    pub offered_per_s: f64,
    pub calls: usize,
    pub answered: usize,
    pub kept_up: bool,
    /// From the call's placing to the router's answer of the caller (claim included).
    pub answer_p50_ms: f64,
    pub answer_p99_ms: f64,
    pub router_cpu_us_per_call: f64,
    pub postgres_cpu_us_per_call: f64,
    pub sim_cpu_us_per_call: f64,
}

impl ScalePoint {
    /// The CPU a call cost the whole machine: routers, PostgreSQL and the simulator.
    pub fn total_cpu_us_per_call(&self) -> f64 {
        self.router_cpu_us_per_call + self.postgres_cpu_us_per_call + self.sim_cpu_us_per_call
    }
}

/// Every run of the scale-out bench.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleFigure {
    pub points: Vec<ScalePoint>,
    /// The highest offered rate each number of routers sustained.
    pub sustained: Vec<(usize, f64)>,
}

/// A `callwasm run` child, killed on drop.
struct RouterProcess(Child);

impl Drop for RouterProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// How long each rate is offered.
const PLACING: Duration = Duration::from_secs(6);

/// The slowest answer (99th percentile, from placing) a sustained rate allows: the agent's
/// 100 ms of ringing plus 150 ms.
pub const ANSWER_P99_MAX_MS: f64 = 250.0;

/// Runs the ladder of `rates` for 1, 2 and 3 routers, and the embedded store's run at the
/// first rate.
pub async fn measure(
    plugin: &Path,
    cache: &Path,
    rates: &[f64],
    progress: &dyn Fn(&str),
) -> Result<ScaleFigure, String> {
    let pg = ThrowawayPostgres::start()?;
    let postmaster = postmaster_pid(pg.dir())?;
    let mut points = Vec::new();
    for routers in 1..=3 {
        let sim = Sim::start(sim_config()).await.map_err(|e| e.to_string())?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut running = Vec::new();
        for n in 1..=routers {
            let store = format!(
                "[store]\nurl = {}\n[cluster]\n",
                toml::Value::from(pg.url())
            );
            running.push(start_router(&sim, dir.path(), plugin, cache, n, &store)?);
            wait_for(&sim, &format!("bench@r{n}.")).await?;
        }
        for &rate in rates {
            let point = run_at(&sim, &running, Some(postmaster), routers, rate, "shared").await;
            progress(&describe(&point));
            let kept_up = point.kept_up;
            points.push(point);
            if !kept_up {
                break; // higher rates fall further behind
            }
        }
    }
    // The embedded store, one router, at the first rate.
    let sim = Sim::start(sim_config()).await.map_err(|e| e.to_string())?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let store = format!(
        "[store]\npath = {}\n",
        toml::Value::from(dir.path().join("calls.db").display().to_string())
    );
    let router = start_router(&sim, dir.path(), plugin, cache, 1, &store)?;
    wait_for(&sim, "bench").await?;
    let rate = rates.first().copied().unwrap_or(300.0);
    let point = run_at(&sim, &[router], None, 1, rate, "embedded").await;
    progress(&describe(&point));
    points.push(point);
    let sustained = (1..=3)
        .map(|n| {
            let best = points
                .iter()
                .filter(|p| p.routers == n && p.store == "shared" && p.kept_up)
                .map(|p| p.offered_per_s)
                .fold(0.0, f64::max);
            (n, best)
        })
        .collect();
    Ok(ScaleFigure { points, sustained })
}

fn describe(p: &ScalePoint) -> String {
    format!(
        "      {} router(s), {} store, {:.0} calls/s: {}/{} answered{}, answer p50 {:.1} ms p99 {:.1} ms; CPU per call: routers {:.0} µs, PostgreSQL {:.0} µs, simulator {:.0} µs",
        p.routers,
        p.store,
        p.offered_per_s,
        p.answered,
        p.calls,
        if p.kept_up { "" } else { " (fell behind)" },
        p.answer_p50_ms,
        p.answer_p99_ms,
        p.router_cpu_us_per_call,
        p.postgres_cpu_us_per_call,
        p.sim_cpu_us_per_call
    )
}

fn sim_config() -> SimConfig {
    SimConfig {
        journal: true,
        ..SimConfig::default()
    }
}

/// Starts router `r<n>` with early-dial for tenant `bench` and `store` (its `[store]` and
/// maybe `[cluster]` sections).
fn start_router(
    sim: &Sim,
    dir: &Path,
    plugin: &Path,
    cache: &Path,
    n: usize,
    store: &str,
) -> Result<RouterProcess, String> {
    let mut settings = String::new();
    for (k, v) in early_dial_settings() {
        settings.push_str(&format!("{k} = {}\n", toml::Value::from(v)));
    }
    let text = format!(
        "instance = \"r{n}\"\n{store}\n[runtime]\ncache_dir = {cache}\n\n\
         [servers.sim]\nurl = {url}\nuser = \"asterisk\"\npassword = \"asterisk\"\n\n\
         [tenants.bench]\napps = [\"bench\"]\nplugin = {plugin}\nendpoints = [\"PJSIP/*\"]\n\
         [tenants.bench.limits]\nmax_calls = 50000\nmax_new_calls_per_second = 100000\n\
         [tenants.bench.settings]\n{settings}",
        cache = toml::Value::from(cache.display().to_string()),
        url = toml::Value::from(sim.base_url()),
        plugin = toml::Value::from(plugin.display().to_string()),
    );
    let config = dir.join(format!("r{n}.toml"));
    std::fs::write(&config, text).map_err(|e| format!("{}: {e}", config.display()))?;
    let exe = std::env::current_exe().map_err(|e| format!("own executable: {e}"))?;
    let log = std::fs::File::create(dir.join(format!("r{n}.log"))).map_err(|e| e.to_string())?;
    Command::new(exe)
        .args(["run", "--config"])
        .arg(&config)
        .env("CALLWASM_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map(RouterProcess)
        .map_err(|e| format!("cannot start callwasm run: {e}"))
}

/// Waits until an app whose name starts with `prefix` is connected.
async fn wait_for(sim: &Sim, prefix: &str) -> Result<(), String> {
    let began = Instant::now();
    while !sim.listening_apps().iter().any(|a| a.starts_with(prefix)) {
        if began.elapsed() > Duration::from_secs(60) {
            return Err(format!("no router connected an app {prefix}… within 60 s"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// The postmaster's pid (the first line of postmaster.pid): its children are the sessions.
fn postmaster_pid(dir: &Path) -> Result<u32, String> {
    let file = dir.join("data/postmaster.pid");
    std::fs::read_to_string(&file)
        .ok()
        .and_then(|t| t.lines().next()?.trim().parse().ok())
        .ok_or_else(|| format!("cannot read {}", file.display()))
}

/// CPU of `pid` and its children (PostgreSQL's sessions and helpers).
fn cpu_with_children(pid: u32) -> Duration {
    let mut total = sys::cpu_of(pid).unwrap_or_default();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return total;
    };
    for entry in procs.flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let parent = std::fs::read_to_string(format!("/proc/{child}/stat"))
            .ok()
            .and_then(|s| {
                let fields: Vec<String> = s
                    .rsplit_once(')')?
                    .1
                    .split_whitespace()
                    .map(String::from)
                    .collect();
                fields.get(1)?.parse::<u32>().ok()
            });
        if parent == Some(pid) {
            total += sys::cpu_of(child).unwrap_or_default();
        }
    }
    total
}

/// Offers `rate` calls a second for [`PLACING`] and waits for Asterisk to empty.
async fn run_at(
    sim: &Sim,
    routers: &[RouterProcess],
    postmaster: Option<u32>,
    n: usize,
    rate: f64,
    store: &str,
) -> ScalePoint {
    let router_cpu = || -> Duration { routers.iter().filter_map(|r| sys::cpu_of(r.0.id())).sum() };
    let pg_cpu = || postmaster.map(cpu_with_children).unwrap_or_default();
    let (routers_before, pg_before, sim_before) = (router_cpu(), pg_cpu(), sys::own_cpu());
    let journal_from = sim.journal_timed().len();
    let offer = (store == "shared").then(|| BroadcastOffer {
        timeout: Duration::from_secs(3),
        filter: "^bench@".into(),
        notify_claimed: false,
    });
    let calls = (rate * PLACING.as_secs_f64()) as usize;
    let began = Instant::now();
    let mut placed: HashMap<String, Instant> = HashMap::with_capacity(calls);
    for n in 0..calls {
        let due = began + Duration::from_secs_f64(n as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        let mut call = InboundCall::new("bench", "5550100", "agent");
        call.args = vec!["agent".into()];
        call.behaviour.hangup_after_answer = Some(Duration::from_millis(100));
        call.broadcast = offer.clone();
        placed.insert(sim.place_call(&call), Instant::now());
    }
    let schedule = PLACING + Duration::from_secs(2);
    let mut drained = false;
    while began.elapsed() < schedule + Duration::from_secs(10) {
        if sim.channel_ids().is_empty() {
            drained = began.elapsed() <= schedule;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let per_call = |d: Duration| d.as_secs_f64() * 1e6 / calls.max(1) as f64;
    let (routers_cpu, pg_cpu, sim_cpu) = (
        router_cpu().saturating_sub(routers_before),
        pg_cpu().saturating_sub(pg_before),
        sys::own_cpu().saturating_sub(sim_before),
    );
    let mut answers: Vec<Duration> = sim.journal_timed()[journal_from..]
        .iter()
        .filter_map(|(at, line)| {
            let id = line
                .strip_prefix("POST /channels/")?
                .strip_suffix("/answer")?;
            Some(at.saturating_duration_since(*placed.get(id)?))
        })
        .collect();
    answers.sort();
    let pct = |p: f64| {
        answers
            .get(((answers.len() as f64 - 1.0) * p).round() as usize)
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
    };
    ScalePoint {
        routers: n,
        store: store.into(),
        offered_per_s: rate,
        calls,
        answered: answers.len(),
        kept_up: drained && answers.len() == calls && pct(0.99) <= ANSWER_P99_MAX_MS,
        answer_p50_ms: pct(0.5),
        answer_p99_ms: pct(0.99),
        router_cpu_us_per_call: per_call(routers_cpu),
        postgres_cpu_us_per_call: per_call(pg_cpu),
        sim_cpu_us_per_call: per_call(sim_cpu),
    }
}

/// Where the bench keeps its scale-out routers' files (for a failure's logs).
pub fn cache_dir() -> PathBuf {
    std::env::temp_dir().join(format!("callwasm-bench-scale-{}", std::process::id()))
}
