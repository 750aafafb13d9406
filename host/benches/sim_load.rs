//! Simulated Asterisk load: places 10,000 inbound calls as fast as it can and keeps them up,
//! with a WebSocket client receiving every StasisStart. Prints calls placed per second (target
//! ≥ 2,000/s) and the process's CPU time per call (simulator plus the receiving client, read
//! from /proc/self/stat).
//! Run: `cargo bench -p callwasm --bench sim_load` (without `--bench` it is a quick smoke run).

use callwasm::sim::{InboundCall, Sim, SimConfig};
use futures_util::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// User + system CPU time of this process, from /proc/self/stat (clock ticks of 10 ms).
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let calls = if full { 10_000 } else { 200 };
    if !full {
        println!("smoke run (no --bench): figures below are not measurements");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio");
    runtime.block_on(async {
        let sim = Sim::start(SimConfig::default()).await.expect("sim");
        let url = format!("ws://{}/ari/events?app=load&api_key=asterisk:asterisk", sim.addr());
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("websocket");
        let received = Arc::new(AtomicUsize::new(0));
        let counter = received.clone();
        tokio::spawn(async move {
            while let Some(Ok(_)) = ws.next().await {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;

        let cpu_before = cpu_time();
        let began = Instant::now();
        for n in 0..calls {
            let mut call = InboundCall::new("load", &format!("555{n:07}"), "100");
            call.args = vec!["load".into()];
            sim.place_call(&call);
            if n % 100 == 99 {
                tokio::task::yield_now().await;
            }
        }
        while received.load(Ordering::Relaxed) < calls {
            tokio::time::sleep(Duration::from_millis(5)).await;
            assert!(began.elapsed() < Duration::from_secs(60), "events stopped arriving");
        }
        let elapsed = began.elapsed();
        let cpu = cpu_before.zip(cpu_time()).map(|(a, b)| b.saturating_sub(a));
        let held = sim.channel_ids().len();
        assert_eq!(held, calls, "every call is still up");
        println!(
            "{calls} calls placed and their StasisStart received in {:.0} ms: {:.0} calls/s (target >= 2,000/s)",
            elapsed.as_secs_f64() * 1e3,
            calls as f64 / elapsed.as_secs_f64()
        );
        println!("concurrent channels held: {held} (target 10,000)");
        match cpu {
            Some(cpu) => println!(
                "process CPU per call (simulator + receiving client): {:.1} µs",
                cpu.as_secs_f64() * 1e6 / calls as f64
            ),
            None => println!("process CPU per call: /proc/self/stat unreadable, not measured"),
        }
    });
}
