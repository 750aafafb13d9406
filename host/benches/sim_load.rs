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
use futures_util::StreamExt;
use std::collections::HashMap;
use std::io::BufRead;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// User + system CPU time of a process, from /proc/<pid>/stat (clock ticks of 10 ms).
fn cpu_time(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

fn micros_per(cpu: Option<Duration>, calls: usize) -> String {
    match cpu {
        Some(cpu) => format!("{:.1} µs", cpu.as_secs_f64() * 1e6 / calls.max(1) as f64),
        None => "not measured (/proc unreadable)".into(),
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn socket(port: u16, app: &str) -> Ws {
    let url = format!("ws://127.0.0.1:{port}/ari/events?app={app}&api_key=asterisk:asterisk");
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
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("sim.toml");
    std::fs::write(
        &config,
        format!(
            "[[traffic]]\napp = \"hold\"\nrate = 1000000.0\ncount = {held}\n\n\
             [[traffic]]\napp = \"flow\"\nrate = {rate}\ncount = {flow_calls}\n"
        ),
    )
    .expect("write config");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_callwasm"))
        .args(["sim", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .env("CALLWASM_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("callwasm sim");
    let pid = child.id().to_string();
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a line").expect("utf-8");
    // Keep reading what the simulator prints, so it never writes into a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let port: u16 = first
        .rsplit_once(':')
        .and_then(|(_, p)| p.trim_end_matches("/ari").parse().ok())
        .unwrap_or_else(|| panic!("no port in {first:?}"));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio");
    runtime.block_on(async {
        // Part 1: calls held.
        let mut ws = socket(port, "hold").await;
        let sim_before = cpu_time(&pid);
        let began = Instant::now();
        let mut received = 0;
        while received < held {
            match tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
                Ok(Some(Ok(_))) => received += 1,
                other => panic!("events stopped after {received}: {other:?}"),
            }
        }
        let elapsed = began.elapsed();
        let sim_cpu = sim_before.zip(cpu_time(&pid)).map(|(a, b)| b.saturating_sub(a));
        let rest = Rest::new(
            "sim",
            &RestConfig {
                base_url: format!("http://127.0.0.1:{port}/ari"),
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
        let mut ws = socket(port, "flow").await;
        let sim_before = cpu_time(&pid);
        let client_before = cpu_time("self");
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
        let sim_cpu = sim_before.zip(cpu_time(&pid)).map(|(a, b)| b.saturating_sub(a));
        let client_cpu = client_before
            .zip(cpu_time("self"))
            .map(|(a, b)| b.saturating_sub(a));
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
    let _ = child.kill();
    let _ = child.wait();
}

/// create, bridge, addChannel, dial; on answer: hang up both and destroy the bridge.
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
    rest.add_channels(&bridge, &[caller, &leg], false).await?;
    rest.dial(&leg, Some(caller), Some(30)).await?;
    let _ = tokio::time::timeout(Duration::from_secs(10), answered).await;
    rest.hangup(caller, 16).await?;
    rest.hangup(&leg, 16).await?;
    rest.destroy_bridge(&bridge).await
}
