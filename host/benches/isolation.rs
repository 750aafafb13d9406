//! Isolation in time: a well-behaved tenant's latency from an event to its first command,
//! alone and beside a tenant whose plugin loops until its deadline on every call. Measured at
//! the simulated Asterisk: from the moment it announces a call (StasisStart) to the moment it
//! receives the router's first request for it (the good plugin's `answer`).
//! Target: p99 beside the bad tenant within 1.5× of p99 alone.
//! Run: `cargo bench -p callwasm --bench isolation` (without `--bench` it is a quick smoke run).

#[path = "../tests/common/mod.rs"]
mod common;

use callwasm::router::Router;
use callwasm::router::config::Config;
use callwasm::router::observe::Observer;
use callwasm::sim::{InboundCall, Sim, SimConfig};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Good calls per second, and for how long.
const RATE: u64 = 100;
/// Bad calls per second (each burns a full 100 ms deadline of plugin time).
const BAD_RATE: u64 = 10;

async fn run(with_bad: bool, seconds: u64) -> Vec<Duration> {
    let sim = Sim::start(SimConfig {
        journal: true,
        ..SimConfig::default()
    })
    .await
    .expect("sim");
    let mut text = format!(
        "[servers.sim]\nurl = \"{}\"\nuser = \"asterisk\"\npassword = \"asterisk\"\n[tenants.good]\napps = [\"good\"]\nplugin = {:?}\n[tenants.good.settings]\nhold_ms = 200\n",
        sim.base_url(),
        common::plugin_path("swap-blue").display().to_string()
    );
    if with_bad {
        text.push_str(&format!(
            "[tenants.bad]\napps = [\"bad\"]\nplugin = {:?}\n[tenants.bad.settings]\nmisbehave = \"loop\"\n",
            common::plugin_path("rogue").display().to_string()
        ));
    }
    let mut config = Config::parse(&text).expect("config");
    let store = tempfile::tempdir().expect("store dir");
    config.store = callwasm::store::StoreConfig::in_dir(store.path());
    let router = Router::new(&config, Observer::none()).expect("router");
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    tokio::spawn(router.run(shutdown));
    while !sim.listening("good") || (with_bad && !sim.listening("bad")) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut placed: HashMap<String, Instant> = HashMap::new();
    let began = Instant::now();
    let total = RATE * seconds;
    let every_bad = RATE / BAD_RATE;
    for n in 0..total {
        let due = began + Duration::from_micros(n * 1_000_000 / RATE);
        tokio::time::sleep_until(due.into()).await;
        if with_bad && n % every_bad == 0 {
            let mut bad = InboundCall::new("bad", "5559999", "s");
            bad.args = vec!["s".into()];
            bad.behaviour.hangup_after = Some(Duration::from_secs(1));
            sim.place_call(&bad);
        }
        let mut call = InboundCall::new("good", &format!("555{n:07}"), "s");
        call.args = vec!["s".into()];
        let at = Instant::now();
        let id = sim.place_call(&call);
        placed.insert(id, at);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut latencies = Vec::new();
    for (at, line) in sim.journal_timed() {
        if let Some(id) = line
            .strip_prefix("POST /channels/")
            .and_then(|r| r.strip_suffix("/answer"))
            && let Some(start) = placed.remove(id)
        {
            latencies.push(at.duration_since(start));
        }
    }
    let _ = stop.send(true);
    assert!(
        placed.is_empty(),
        "{} good calls never answered",
        placed.len()
    );
    latencies.sort();
    latencies
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    if !full {
        println!("smoke run (no --bench): figures below are not measurements");
    }
    let seconds = if full { 20 } else { 1 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio");
    let alone = runtime.block_on(run(false, seconds));
    let beside = runtime.block_on(run(true, seconds));
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "good tenant alone ({RATE} calls/s, {} calls): event to first command p50 {:.2} ms, p99 {:.2} ms",
        alone.len(),
        ms(pct(&alone, 0.5)),
        ms(pct(&alone, 0.99))
    );
    println!(
        "beside a tenant looping to its 100 ms deadline on every call ({BAD_RATE} calls/s): p50 {:.2} ms, p99 {:.2} ms",
        ms(pct(&beside, 0.5)),
        ms(pct(&beside, 0.99))
    );
    let ratio = ms(pct(&beside, 0.99)) / ms(pct(&alone, 0.99));
    println!(
        "p99 beside / alone: {ratio:.2}× (target ≤ 1.5×){}",
        if ratio <= 1.5 { "" } else { "  MISSED" }
    );
}
