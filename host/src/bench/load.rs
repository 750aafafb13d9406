//! The seed flow end to end, at an offered rate: the simulated Asterisk in its own process
//! places the calls (so its CPU is its own), and either the router (this process, early-dial
//! plugin) or the floor client (this process, no plugin) handles them. Also the router's memory
//! with 10,000 calls in flight.

use super::dispatch::early_dial_settings;
use super::floor;
use super::sys;
use crate::router::Router;
use crate::router::config::Config;
use crate::router::observe::{Observation, Observer};
use serde::Serialize;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the seed flow's leg rings before answering (the simulator's default) plus how long
/// the caller stays after being answered: a call's length, for the "kept up" check.
const CALL_LENGTH: Duration = Duration::from_millis(250);

/// How long a run waits for its router to stop before it cuts it off.
const STOP_WAIT: Duration = Duration::from_secs(60);

/// What one run at one offered rate measured.
#[derive(Debug, Clone, Serialize)]
pub struct RatePoint {
    /// Who handled the calls: "router" or "floor".
    pub client: String,
    pub offered_per_s: f64,
    pub calls: usize,
    pub completed: usize,
    /// Calls taken in per second: completed calls over the span from the first dial to the last.
    pub taken_per_s: f64,
    /// Every call completed, the last within a second of the offered schedule.
    pub kept_up: bool,
    pub elapsed_s: f64,
    /// StasisStart read off the socket → first dial request sent, per call.
    pub dial_p50_ms: f64,
    pub dial_p99_ms: f64,
    pub dial_max_ms: f64,
    /// CPU (user + system, getrusage of this process: every thread) per completed call.
    pub cpu_us_per_call: f64,
    /// Plugin time per call (router only): wall time inside `handle`, fresh instance included.
    pub plugin_us_per_call: Option<f64>,
    /// CPU of the tenant's plugin threads per call (router only): instantiation, `handle`,
    /// and the hand-off, as the threads' own CPU clocks count it.
    pub plugin_cpu_us_per_call: Option<f64>,
    /// The simulator's CPU per completed call (its own process, /proc/<pid>/stat).
    pub sim_cpu_us_per_call: Option<f64>,
    /// CPU of the call store's threads per call (router with the store on): the writer's
    /// commits and the checkpoints. The rest of the store's cost (each call's image) is on
    /// the runtime's threads.
    pub store_cpu_us_per_call: Option<f64>,
    pub plugin_failures: usize,
    /// Every call's StasisStart→dial, in ms, sorted (to pool several runs' calls).
    #[serde(skip)]
    pub dial_ms: Vec<f64>,
}

/// The router's memory with calls in flight.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryFigure {
    pub calls_in_flight: usize,
    pub rss_before_bytes: u64,
    pub rss_with_calls_bytes: u64,
    pub bytes_per_call: f64,
    /// The call store's files (database and write-ahead log) over the calls in flight.
    pub store_bytes_per_call: f64,
}

/// The simulated Asterisk as a child process (`callwasm sim --config`), killed on drop.
pub struct SimProcess {
    child: Child,
    pub base_url: String,
    config: PathBuf,
}

impl SimProcess {
    /// Starts `callwasm sim` (this executable) with this text as its config.
    pub fn start(config_text: &str) -> Result<SimProcess, String> {
        let exe = std::env::current_exe().map_err(|e| format!("own executable: {e}"))?;
        SimProcess::start_with(&exe, config_text)
    }

    /// Starts `<exe> sim` with this text as its config (a bench binary names `callwasm`).
    pub fn start_with(exe: &Path, config_text: &str) -> Result<SimProcess, String> {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let config =
            std::env::temp_dir().join(format!("callwasm-bench-{}-{n}.toml", std::process::id()));
        std::fs::write(&config, config_text)
            .map_err(|e| format!("cannot write {}: {e}", config.display()))?;
        let mut child = Command::new(exe)
            .args(["sim", "--listen", "127.0.0.1:0", "--config"])
            .arg(&config)
            .env("CALLWASM_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start callwasm sim: {e}"))?;
        let stdout = child.stdout.take().ok_or("callwasm sim: no stdout")?;
        let mut lines = std::io::BufReader::new(stdout).lines();
        let first = match lines.next() {
            Some(Ok(line)) => line,
            _ => {
                let _ = child.kill();
                return Err("callwasm sim printed nothing".into());
            }
        };
        // Keep reading what it prints, so it never writes into a closed pipe.
        std::thread::spawn(move || lines.for_each(drop));
        let Some(base_url) = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .map(String::from)
        else {
            let _ = child.kill();
            return Err(format!("callwasm sim: no address in {first:?}"));
        };
        Ok(SimProcess {
            child,
            base_url,
            config,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `ws://host:port` of the simulator.
    pub fn ws_base(&self) -> String {
        self.base_url
            .trim_end_matches("/ari")
            .replacen("http://", "ws://", 1)
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.config);
    }
}

/// The simulator's config for the seed flow: `count` calls into app `bench` at `rate`, each
/// dialing `exten` (the leg's endpoint is `PJSIP/<exten>`); the caller hangs up 100 ms after
/// being answered.
pub fn traffic(rate: f64, count: usize, exten: &str, hangup_after_answer: bool) -> String {
    let mut text = format!(
        "[[traffic]]\napp = \"bench\"\nrate = {rate:.1}\ncount = {count}\nexten = \"{exten}\"\n"
    );
    if hangup_after_answer {
        text.push_str("hangup_after_answer_ms = 100\n");
    }
    text
}

/// How a run keeps its calls: in memory only, or in a call store synced this way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    Memory,
    Store(crate::store::SyncMode),
}

/// The default: a store whose log is synced within 20 ms of a commit.
pub const STORE: Keep = Keep::Store(crate::store::SyncMode::Normal);

/// The router's config for the bench: one tenant, early-dial, limits out of the way; a fresh
/// instance per event (the default) or warm ones (`reuse`).
fn router_config(
    sim: &SimProcess,
    plugin: &Path,
    cache: &Path,
    reuse: bool,
    keep: Keep,
) -> Result<Config, String> {
    let mut settings = String::new();
    for (k, v) in early_dial_settings() {
        settings.push_str(&format!("{k} = {}\n", toml::Value::from(v)));
    }
    let text = format!(
        "[runtime]\ncache_dir = {cache}\n\n\
         [servers.sim]\nurl = {url}\nuser = \"asterisk\"\npassword = \"asterisk\"\n\n\
                  [tenants.bench]\napps = [\"bench\"]\nplugin = {plugin}\nendpoints = [\"PJSIP/*\"]\n\
         instances = \"{instances}\"\n\
         [tenants.bench.limits]\nmax_calls = 50000\nmax_new_calls_per_second = 100000\n\
         [tenants.bench.settings]\n{settings}",
        cache = toml::Value::from(cache.display().to_string()),
        url = toml::Value::from(sim.base_url.clone()),
        plugin = toml::Value::from(plugin.display().to_string()),
        instances = if reuse { "reuse" } else { "fresh" },
    );
    let mut config = Config::parse(&text).map_err(|e| format!("the bench's router config: {e}"))?;
    // Each run its own store file: the last run's router may still hold its own.
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    config.store = match keep {
        Keep::Store(sync) => crate::store::StoreConfig {
            sync,
            ..crate::store::StoreConfig::in_dir(&cache.join(format!("store-{n}")))
        },
        Keep::Memory => crate::store::StoreConfig::in_memory(),
    };
    Ok(config)
}

fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3
}

/// What a run at one rate collected, before it is summarised.
struct Collected {
    completed: usize,
    /// When each call's first dial was sent, and how long after its StasisStart.
    dials: Vec<(Instant, Duration)>,
    elapsed: Duration,
    cpu: Duration,
    sim_cpu: Option<Duration>,
}

/// Latency and throughput figures from the dial times of a run.
fn summarize(client: &str, rate: f64, calls: usize, c: Collected) -> RatePoint {
    let Collected {
        completed,
        mut dials,
        elapsed,
        cpu,
        sim_cpu,
    } = c;
    dials.sort_by_key(|(at, _)| *at);
    let taken_per_s = match (dials.first(), dials.last()) {
        (Some(first), Some(last)) if dials.len() > 1 => {
            (dials.len() - 1) as f64 / last.0.duration_since(first.0).as_secs_f64().max(1e-9)
        }
        _ => 0.0,
    };
    let mut latencies: Vec<Duration> = dials.iter().map(|(_, d)| *d).collect();
    latencies.sort();
    let schedule = Duration::from_secs_f64(calls as f64 / rate) + CALL_LENGTH;
    let per_call = |d: Duration| d.as_secs_f64() * 1e6 / completed.max(1) as f64;
    RatePoint {
        client: client.into(),
        offered_per_s: rate,
        calls,
        completed,
        taken_per_s,
        kept_up: completed == calls && elapsed <= schedule + Duration::from_secs(1),
        elapsed_s: elapsed.as_secs_f64(),
        dial_p50_ms: percentile_ms(&latencies, 0.5),
        dial_p99_ms: percentile_ms(&latencies, 0.99),
        dial_max_ms: latencies.last().map_or(f64::NAN, |d| d.as_secs_f64() * 1e3),
        cpu_us_per_call: per_call(cpu),
        plugin_us_per_call: None,
        plugin_cpu_us_per_call: None,
        store_cpu_us_per_call: None,
        sim_cpu_us_per_call: sim_cpu.map(per_call),
        plugin_failures: 0,
        dial_ms: latencies.iter().map(|d| d.as_secs_f64() * 1e3).collect(),
    }
}

/// The router handles `calls` seed-flow calls offered at `rate`, its plugin on a fresh instance
/// per event or (`reuse`) on warm ones, its calls in the call store (the default) or (`!store`)
/// in memory only.
pub async fn router_at(
    rate: f64,
    calls: usize,
    plugin: &Path,
    cache: &Path,
    reuse: bool,
    keep: Keep,
) -> Result<RatePoint, String> {
    let sim = SimProcess::start(&traffic(rate, calls, "agent", true))?;
    let config = router_config(&sim, plugin, cache, reuse, keep)?;
    let store_dir = config
        .store
        .path
        .as_ref()
        .and_then(|p| p.parent())
        .map(Path::to_path_buf);
    let (observer, mut observations) = Observer::timings();
    let router = Router::new(&config, observer).map_err(|e| e.to_string())?;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let sim_before = sys::cpu_of(sim.pid());
    let cpu_before = sys::own_cpu();
    let plugin_before = sys::threads_cpu("plugin-bench");
    let store_before = sys::threads_cpu("call-store");
    let began = Instant::now();
    let serving = tokio::spawn(router.run(shutdown));

    let limit = Duration::from_secs_f64(calls as f64 / rate) + Duration::from_secs(20);
    let (mut ended, mut failures) = (0, 0);
    let mut dials = Vec::with_capacity(calls);
    let mut plugin_time = Duration::ZERO;
    while ended < calls {
        let left = limit.saturating_sub(began.elapsed());
        match tokio::time::timeout(left, observations.recv()).await {
            Ok(Some(Observation::Dialed { after, .. })) => dials.push((Instant::now(), after)),
            Ok(Some(Observation::PluginTime { plugin_time: t, .. })) => plugin_time += t,
            Ok(Some(Observation::PluginFailed { .. })) => failures += 1,
            Ok(Some(Observation::Ended { .. })) => ended += 1,
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    let elapsed = began.elapsed();
    let cpu = sys::own_cpu().saturating_sub(cpu_before);
    let plugin_cpu = sys::threads_cpu_since(&plugin_before, &sys::threads_cpu("plugin-bench"));
    let store_cpu = sys::threads_cpu_since(&store_before, &sys::threads_cpu("call-store"));
    let sim_cpu = sim_before
        .zip(sys::cpu_of(sim.pid()))
        .map(|(a, b)| b.saturating_sub(a));
    let _ = stop.send(true);
    // The router stops (finishing its calls' writes and closing its store) before the next
    // run starts: one still working weighs on the next run's figures. One that fell far
    // behind is cut off.
    let abort = serving.abort_handle();
    if tokio::time::timeout(STOP_WAIT, serving).await.is_err() {
        abort.abort();
    }
    drop(sim);
    if let Some(dir) = store_dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    let collected = Collected {
        completed: ended,
        dials,
        elapsed,
        cpu,
        sim_cpu,
    };
    let client = match (reuse, keep) {
        (true, _) => "router (reuse)",
        (false, STORE) => "router",
        (false, Keep::Store(_)) => "router (store sync full)",
        (false, Keep::Memory) => "router (store off)",
    };
    let mut point = summarize(client, rate, calls, collected);
    point.plugin_us_per_call = Some(plugin_time.as_secs_f64() * 1e6 / ended.max(1) as f64);
    point.plugin_cpu_us_per_call = Some(plugin_cpu.as_secs_f64() * 1e6 / ended.max(1) as f64);
    if keep != Keep::Memory {
        point.store_cpu_us_per_call = Some(store_cpu.as_secs_f64() * 1e6 / ended.max(1) as f64);
    }
    point.plugin_failures = failures;
    Ok(point)
}

/// The floor client handles the same calls, with the same REST requests, and nothing else.
pub async fn floor_at(rate: f64, calls: usize) -> Result<RatePoint, String> {
    let sim = SimProcess::start(&traffic(rate, calls, "agent", true))?;
    let sim_before = sys::cpu_of(sim.pid());
    let cpu_before = sys::own_cpu();
    let began = Instant::now();
    let limit = Duration::from_secs_f64(calls as f64 / rate) + Duration::from_secs(20);
    let outcome = floor::run(&sim.base_url, &sim.ws_base(), "bench", calls, limit).await?;
    let elapsed = began.elapsed();
    let cpu = sys::own_cpu().saturating_sub(cpu_before);
    let sim_cpu = sim_before
        .zip(sys::cpu_of(sim.pid()))
        .map(|(a, b)| b.saturating_sub(a));
    drop(sim);
    let collected = Collected {
        completed: outcome.completed,
        dials: outcome.dials,
        elapsed,
        cpu,
        sim_cpu,
    };
    Ok(summarize("floor", rate, calls, collected))
}

/// The router's resident memory before and with `calls` calls in flight (each caller in a
/// bridge with a leg that rings until well after the measurement).
pub async fn memory(calls: usize, plugin: &Path, cache: &Path) -> Result<MemoryFigure, String> {
    let sim = SimProcess::start(&traffic(2000.0, calls, "ringforever", false))?;
    let config = router_config(&sim, plugin, cache, false, STORE)?;
    let store_file = config.store.path.clone();
    let (observer, mut observations) = Observer::timings();
    let router = Router::new(&config, observer).map_err(|e| e.to_string())?;
    let table = router.table();
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let rss_before = sys::own_rss().ok_or("cannot read /proc/self/status")?;
    let serving = tokio::spawn(router.run(shutdown));
    let began = Instant::now();
    let mut dialed = 0;
    while dialed < calls {
        let left = Duration::from_secs(25).saturating_sub(began.elapsed());
        match tokio::time::timeout(left, observations.recv()).await {
            Ok(Some(Observation::Dialed { .. })) => dialed += 1,
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    // Let the ringing events of the last calls arrive and settle.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let in_flight = table.len();
    let rss_with = sys::own_rss().ok_or("cannot read /proc/self/status")?;
    // The database and its write-ahead log, as they stand with the calls in flight.
    let store_bytes: u64 = store_file.iter().fold(0, |sum, db| {
        let wal = db.with_extension("db-wal");
        sum + [db.as_path(), wal.as_path()]
            .iter()
            .filter_map(|f| std::fs::metadata(f).ok())
            .map(|m| m.len())
            .sum::<u64>()
    });
    let _ = stop.send(true);
    drop(sim);
    let abort = serving.abort_handle();
    if tokio::time::timeout(STOP_WAIT, serving).await.is_err() {
        abort.abort();
    }
    if let Some(dir) = store_file.as_ref().and_then(|f| f.parent()) {
        let _ = std::fs::remove_dir_all(dir);
    }
    if in_flight < calls {
        return Err(format!(
            "only {in_flight} of {calls} calls were in flight ({dialed} dialed)"
        ));
    }
    Ok(MemoryFigure {
        calls_in_flight: in_flight,
        rss_before_bytes: rss_before,
        rss_with_calls_bytes: rss_with,
        bytes_per_call: rss_with.saturating_sub(rss_before) as f64 / in_flight as f64,
        store_bytes_per_call: store_bytes as f64 / in_flight as f64,
    })
}
