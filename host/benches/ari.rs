//! ARI client benchmark: events decoded per second (StasisStart-sized and
//! ChannelStateChange-sized, target ≥ 200,000/s on one core) and REST round trips per second
//! through the connection pool against the simulated Asterisk on loopback.
//! Run: `cargo bench -p callwasm --bench ari` (without `--bench` it is a quick smoke run).

use callwasm::ari::{Auth, Event, Rest, RestConfig};
use callwasm::sim::{Sim, SimConfig};
use std::time::{Duration, Instant};

fn full() -> bool {
    std::env::args().any(|a| a == "--bench")
}

const STASIS_START: &str = r#"{"type":"StasisStart","timestamp":"2026-11-01T10:00:00.123+0000","args":["alice","sales"],"channel":{"id":"1795667013.2","name":"PJSIP/sipp-00000001","state":"Ring","protocol_id":"3c2a8f9e@127.0.0.1","caller":{"name":"Alice","number":"5550100"},"connected":{"name":"","number":""},"accountcode":"","dialplan":{"context":"from-sipp","exten":"100","priority":1,"app_name":"Stasis","app_data":"router,alice,sales"},"creationtime":"2026-11-01T10:00:00.100+0000","language":"en"},"asterisk_id":"52:54:00:12:34:56","application":"router"}"#;

const STATE_CHANGE: &str = r#"{"type":"ChannelStateChange","timestamp":"2026-11-01T10:00:01.456+0000","channel":{"id":"1795667013.3","name":"PJSIP/alice-00000002","state":"Ringing","protocol_id":"","caller":{"name":"","number":""},"connected":{"name":"Sales","number":"5551000"},"accountcode":"","dialplan":{"context":"default","exten":"s","priority":1,"app_name":"AppDial2","app_data":"(Outgoing Line)"},"creationtime":"2026-11-01T10:00:00.200+0000","language":"en"},"asterisk_id":"52:54:00:12:34:56","application":"router"}"#;

fn decode_rate(name: &str, text: &str) {
    let n = if full() { 500_000 } else { 1_000 };
    let began = Instant::now();
    for _ in 0..n {
        let event: Event = serde_json::from_str(std::hint::black_box(text)).expect("decode");
        std::hint::black_box(event);
    }
    let elapsed = began.elapsed();
    println!(
        "decode {name:<20} ({} bytes): {:>9.0} events/s  ({:.2} µs each)   (target >= 200,000/s)",
        text.len(),
        n as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / n as f64
    );
}

fn main() {
    if !full() {
        println!("smoke run (no --bench): figures below are not measurements");
    }
    decode_rate("StasisStart", STASIS_START);
    decode_rate("ChannelStateChange", STATE_CHANGE);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio");
    runtime.block_on(async {
        let sim = Sim::start(SimConfig::default()).await.expect("sim");
        let rest = Rest::new(
            "bench",
            &RestConfig {
                base_url: sim.base_url(),
                auth: Auth::Basic {
                    user: "asterisk".into(),
                    password: "asterisk".into(),
                },
                pool_size: 8,
                timeout: Duration::from_secs(5),
            },
        )
        .expect("rest");
        rest.ping().await.expect("warm up");
        let per_task = if full() { 5_000 } else { 20 };
        let tasks = 16;
        let began = Instant::now();
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                let rest = rest.clone();
                tokio::spawn(async move {
                    for _ in 0..per_task {
                        rest.ping().await.expect("ping");
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.expect("task");
        }
        let elapsed = began.elapsed();
        let total = (tasks * per_task) as f64;
        println!(
            "REST round trips (GET /asterisk/ping, pool of 8, {tasks} concurrent callers, simulator in the same process on 2 worker threads): {:.0}/s",
            total / elapsed.as_secs_f64()
        );
    });
}
