//! Hot swap latency: time from uploading early-dial through the admin API to the first call it
//! serves, with a cold compiled-code cache (the upload compiles) and a warm one (a restarted
//! router finds the compiled code on disk). The router starts on another plugin (swap-blue),
//! and calls arrive every 2 ms throughout, so "first call served" measures the swap, not the
//! wait for a call.
//! Run: `cargo bench -p callwasm --bench hot_swap` (without `--bench` it is a quick smoke run).

#[path = "../tests/common/mod.rs"]
mod common;

use callwasm::admin::Admin;
use callwasm::router::Router;
use callwasm::router::config::Config;
use callwasm::router::observe::{Observation, Observer};
use callwasm::runtime::Command;
use callwasm::sim::{InboundCall, Sim, SimConfig};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

const TOKEN: &str = "bench-operator-token-0123456789";

struct Run {
    upload: Duration,
    first_call: Duration,
}

async fn one_run(cache: &Path) -> Run {
    let sim = Sim::start(SimConfig::default()).await.expect("sim");
    let text = format!(
        "[runtime]\ncache_dir = {:?}\n[servers.sim]\nurl = \"{}\"\nuser = \"asterisk\"\npassword = \"asterisk\"\n[tenants.t]\napps = [\"t\"]\nplugin = {:?}\nendpoints = [\"PJSIP/*\"]\n",
        cache.display().to_string(),
        sim.base_url(),
        common::plugin_path("swap-blue").display().to_string()
    );
    let mut config = Config::parse(&text).expect("config");
    let store = tempfile::tempdir().expect("store dir");
    config.store = callwasm::store::StoreConfig::in_dir(store.path());
    let (observer, mut observations) = Observer::channel();
    let router = Router::new(&config, observer).expect("router");
    let admin = Admin::bind(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        TOKEN,
        router.tenants(),
        router.table(),
    )
    .await
    .expect("admin");
    let addr = admin.addr().expect("addr");
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    tokio::spawn(admin.serve(shutdown.clone()));
    tokio::spawn(router.run(shutdown));
    while !sim.listening("t") {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Calls keep arriving, one every 2 ms.
    let sim = std::sync::Arc::new(sim);
    {
        let stop = stop.subscribe();
        let s = sim.clone();
        tokio::spawn(async move {
            let mut n = 0u64;
            while !*stop.borrow() {
                let mut call = InboundCall::new("t", &format!("555{n:07}"), "alice");
                call.args = vec!["alice".into()];
                call.behaviour.hangup_after = Some(Duration::from_millis(300));
                s.place_call(&call);
                n += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        });
    }
    let bytes = std::fs::read(common::plugin_path("early-dial")).expect("early-dial");
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let request = hyper::Request::builder()
        .method("PUT")
        .uri(format!("http://{addr}/tenants/t/plugin?label=early-dial"))
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Full::new(Bytes::from(bytes)))
        .expect("request");
    while observations.try_recv().is_ok() {}
    let began = Instant::now();
    let response = client.request(request).await.expect("upload");
    let upload = began.elapsed();
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    // The first reply that creates a leg is early-dial's (swap-blue never creates one).
    let first_call = loop {
        match tokio::time::timeout(Duration::from_secs(10), observations.recv()).await {
            Ok(Some(Observation::Handled { commands, .. }))
                if commands.iter().any(|c| matches!(c, Command::Create(_))) =>
            {
                break began.elapsed();
            }
            Ok(Some(_)) => {}
            other => panic!("no call served by the new version: {other:?}"),
        }
    };
    let _ = stop.send(true);
    Run { upload, first_call }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    if !full {
        println!("smoke run (no --bench): figures below are not measurements");
    }
    let rounds = if full { 5 } else { 1 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio");
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    for _ in 0..rounds {
        let cache = tempfile::tempdir().expect("cache dir");
        cold.push(runtime.block_on(one_run(cache.path())));
        warm.push(runtime.block_on(one_run(cache.path())));
    }
    let report = |name: &str, runs: &[Run]| {
        let mut upload: Vec<f64> = runs.iter().map(|r| r.upload.as_secs_f64() * 1e3).collect();
        let mut first: Vec<f64> = runs
            .iter()
            .map(|r| r.first_call.as_secs_f64() * 1e3)
            .collect();
        upload.sort_by(f64::total_cmp);
        first.sort_by(f64::total_cmp);
        println!(
            "{name}: upload answered (compile or cache load + smoke call + swap) median {:.1} ms [{:.1}–{:.1}]; first call served by the new version median {:.1} ms [{:.1}–{:.1}] after the upload began ({} runs)",
            upload[upload.len() / 2],
            upload[0],
            upload[upload.len() - 1],
            first[first.len() / 2],
            first[0],
            first[first.len() - 1],
            runs.len()
        );
    };
    report("cold cache (compiles)", &cold);
    report("warm cache (restarted router)", &warm);
}
