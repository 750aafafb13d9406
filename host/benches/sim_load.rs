//! Simulated Asterisk under load, run as its own process (`callwasm sim`) so its CPU is
//! measured apart from the client driving it:
//! 1. 10,000 inbound calls placed as fast as the simulator can, all held at once; a WebSocket
//!    client receives every StasisStart.
//! 2. The seed flow at 2,000 calls/s: for each inbound call a minimal client (the router's
//!    REST client, no plugin, no call table) creates a leg, creates a bridge, adds caller and
//!    leg, dials; on the leg's answer (100 ms later) it hangs both up and destroys the bridge.
//!    Seven REST requests and about a dozen events per call, while the 10,000 calls of part 1
//!    are still held.
//!
//! Prints calls/s, the simulator's CPU per call and its share of a core (from
//! /proc/<pid>/stat), and the client's CPU apart.
//! Run: `cargo bench -p callwasm --bench sim_load` (without `--bench` it is a quick smoke run).

use callwasm::ari::{Auth, CreateChannel, Rest, RestConfig};
use callwasm::bench::load::SimProcess;
use callwasm::bench::sys::{cpu_of, own_cpu};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

fn micros_per(cpu: Option<Duration>, calls: usize) -> String {
    match cpu {
        Some(cpu) => format!("{:.1} µs", cpu.as_secs_f64() * 1e6 / calls.max(1) as f64),
        None => "not measured (/proc unreadable)".into(),
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn socket(ws_base: &str, app: &str) -> Ws {
    let url = format!("{ws_base}/ari/events?app={app}&api_key=asterisk:asterisk");
    tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket")
        .0
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (held, flow_calls, rate) = if full {
        (10_000, 10_000, 2_000.0)
    } else {
        (200, 200, 2_000.0)
    };
    if !full {
        println!("smoke run (no --bench): figures below are not measurements");
    }
    let sim = SimProcess::start_with(
        std::path::Path::new(env!("CARGO_BIN_EXE_callwasm")),
        &format!(
            "[[traffic]]\napp = \"hold\"\nrate = 1000000.0\ncount = {held}\n\n\
             [[traffic]]\napp = \"flow\"\nrate = {rate}\ncount = {flow_calls}\n"
        ),
    )
    .expect("callwasm sim");
    let pid = sim.pid();
    let ws_base = sim.ws_base();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio");
    runtime.block_on(async {
        // Part 1: calls held.
        let mut ws = socket(&ws_base, "hold").await;
        let sim_before = cpu_of(pid);
        let began = Instant::now();
        let mut received = 0;
        while received < held {
            match tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
                Ok(Some(Ok(_))) => received += 1,
                other => panic!("events stopped after {received}: {other:?}"),
            }
        }
        let elapsed = began.elapsed();
        let sim_cpu = sim_before.zip(cpu_of(pid)).map(|(a, b)| b.saturating_sub(a));
        let rest = Rest::new(
            "sim",
            &RestConfig {
                base_url: sim.base_url.clone(),
                auth: Auth::Basic {
                    user: "asterisk".into(),
                    password: "asterisk".into(),
                },
                pool_size: 64,
                timeout: Duration::from_secs(10),
            },
        )
        .expect("client");
        let channels = rest.list_channels().await.expect("list").len();
        assert_eq!(channels, held, "every call is still up");
        println!(
            "part 1: {held} inbound calls placed and their StasisStart received in {:.0} ms: {:.0} calls/s; {channels} channels held at once (target 10,000)",
            elapsed.as_secs_f64() * 1e3,
            held as f64 / elapsed.as_secs_f64()
        );
        println!("  simulator CPU per placed call: {}", micros_per(sim_cpu, held));

        // Part 2: the seed flow at the offered rate.
        let answered: Arc<Mutex<HashMap<String, oneshot::Sender<()>>>> = Arc::default();
        let done = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(AtomicUsize::new(0));
        let mut ws = socket(&ws_base, "flow").await;
        let sim_before = cpu_of(pid);
        let client_before = own_cpu();
        let began = Instant::now();
        let mut started = 0;
        while done.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) < flow_calls {
            // The last call can finish between two events: wake up now and then to see.
            let message = match tokio::time::timeout(Duration::from_millis(10), ws.next()).await {
                Ok(Some(Ok(m))) => m,
                Err(_) if began.elapsed() < Duration::from_secs(60) => continue,
                other => {
                    let apps = rest.get_application("flow").await;
                    panic!(
                        "events stopped: {other:?}; {started} calls started, {} done, {} failed; the simulator's app: {apps:?}",
                        done.load(Ordering::Relaxed),
                        failed.load(Ordering::Relaxed)
                    )
                }
            };
            let Ok(text) = message.to_text() else { continue };
            let Ok(event) = serde_json::from_str::<serde_json::Value>(text) else {
                continue;
            };
            match event["type"].as_str() {
                Some("StasisStart") if event["args"][0] == "100" => {
                    started += 1;
                    let caller = event["channel"]["id"].as_str().unwrap_or_default().to_string();
                    let (tx, rx) = oneshot::channel();
                    answered.lock().unwrap().insert(format!("leg-{caller}"), tx);
                    let (rest, done, failed) = (rest.clone(), done.clone(), failed.clone());
                    tokio::spawn(async move {
                        match seed_flow(&rest, &caller, rx).await {
                            Ok(()) => done.fetch_add(1, Ordering::Relaxed),
                            Err(e) => {
                                eprintln!("call {caller}: {e}");
                                failed.fetch_add(1, Ordering::Relaxed)
                            }
                        };
                    });
                }
                Some("Dial") if event["dialstatus"] == "ANSWER" => {
                    let leg = event["peer"]["id"].as_str().unwrap_or_default();
                    if let Some(tx) = answered.lock().unwrap().remove(leg) {
                        let _ = tx.send(());
                    }
                }
                _ => {}
            }
        }
        let elapsed = began.elapsed();
        let sim_cpu = sim_before.zip(cpu_of(pid)).map(|(a, b)| b.saturating_sub(a));
        let client_cpu = Some(own_cpu().saturating_sub(client_before));
        let completed = done.load(Ordering::Relaxed);
        // Kept up: the last call ended within half a second of the offered schedule (the
        // last call itself lasts 100 ms of ringing).
        let schedule = flow_calls as f64 / rate;
        println!(
            "part 2: seed flow offered at {rate:.0} calls/s: {completed} of {started} calls completed ({} failed) in {:.2} s against a {schedule:.2} s schedule: {} (target: keeps up with 2,000/s)",
            failed.load(Ordering::Relaxed),
            elapsed.as_secs_f64(),
            if elapsed.as_secs_f64() <= schedule + 0.5 { "kept up" } else { "FELL BEHIND" }
        );
        println!(
            "  simulator CPU per call: {} ({} of one core)",
            micros_per(sim_cpu, completed),
            sim_cpu.map_or("?".into(), |c| format!(
                "{:.0}%",
                c.as_secs_f64() * 100.0 / elapsed.as_secs_f64()
            ))
        );
        println!(
            "  driving client CPU per call (apart): {}",
            micros_per(client_cpu, completed)
        );
        assert_eq!(failed.load(Ordering::Relaxed), 0, "every call completed");
    });
    drop(sim);
}

/// create, bridge, addChannel, dial; on answer: hang up both and destroy the bridge. The
/// simulator, like Asterisk, may answer the create before the leg is in the app (ari-samples
/// t4): this load client does not follow events per leg, so it retries a refused add after a
/// few milliseconds, as the leg's StasisStart is by then on its way (the router waits for it).
async fn seed_flow(
    rest: &Rest,
    caller: &str,
    answered: oneshot::Receiver<()>,
) -> Result<(), callwasm::ari::AriError> {
    let leg = format!("leg-{caller}");
    let bridge = format!("bridge-{caller}");
    rest.create_channel(&CreateChannel {
        endpoint: "PJSIP/agent",
        app: "flow",
        channel_id: Some(&leg),
        originator: Some(caller),
        ..CreateChannel::default()
    })
    .await?;
    rest.create_bridge(&bridge, "mixing").await?;
    if let Err(e) = rest.add_channels(&bridge, &[caller, &leg], false).await {
        if e.status() != Some(422) {
            return Err(e);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        rest.add_channels(&bridge, &[caller, &leg], false).await?;
    }
    rest.dial(&leg, Some(caller), Some(30)).await?;
    let _ = tokio::time::timeout(Duration::from_secs(10), answered).await;
    rest.hangup(caller, 16).await?;
    rest.hangup(&leg, 16).await?;
    rest.destroy_bridge(&bridge).await
}
