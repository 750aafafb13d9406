//! Durable calls under fire (issue 17): the simulated Asterisk places 200 calls/s of calls
//! lasting 2–10 s with mixed outcomes while the router is killed with SIGKILL five times and
//! restarted at once, or while Asterisk's side drops its sockets and refuses connections. Every
//! call must end the way its plugin (early-dial) and its parties decided, each leg dialed
//! once, nothing left in Asterisk; the test prints the table of what happened.
//!
//! The router runs as its own process (`callwasm run`) on a call store in a temporary
//! directory; the simulator runs in the test, its request journal and far-end hangups are the
//! evidence.

#[path = "../host/tests/common/mod.rs"]
mod common;
#[path = "support/under_fire.rs"]
mod under_fire;

use callwasm::sim::Sim;
use std::path::Path;
use std::time::{Duration, Instant};
use under_fire::*;

/// Calls placed per second, and for how long.
const RATE: u32 = 200;
const PLACING: Duration = Duration::from_secs(60);

/// The two tests run one at a time: each is a minute at 200 calls/s, and two at once on two
/// cores would test the machine, not the router.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Starts the router and waits until it holds the app.
async fn first_router(sim: &Sim, dir: &Path, config: &Path) -> RunningRouter {
    let router = start_router(dir, config, "0");
    let began = Instant::now();
    while !sim.listening("router") {
        assert!(
            began.elapsed() < Duration::from_secs(60),
            "the router never connected:\n{}",
            log_trouble(dir)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    router
}

/// Five moments over the minute of calls, one at random in each 11 s stretch.
fn five_moments(seed: u64) -> Vec<Duration> {
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x5eed);
    (0..5)
        .map(|i| Duration::from_millis(4_000 + i * 11_000 + rng.u64(0..9_000)))
        .collect()
}

/// Waits for every call to end, stops the router, judges the calls and prints the table.
async fn settle_and_judge(
    title: &str,
    sim: &Sim,
    mut router: RunningRouter,
    dir: tempfile::TempDir,
    placed: &[Placed],
    outages: &[Instant],
) -> Table {
    let settled = until_all_gone(sim, Duration::from_secs(120)).await;
    router.kill();
    let evidence = Evidence::read(sim);
    let (table, failures) = tally_settled(placed, &evidence, outages, sim_left(sim, settled));
    let dir = if failures.is_empty() {
        dir.path().to_path_buf()
    } else {
        dir.keep() // the router's logs, for whoever reads the failure
    };
    report(title, &table, &failures, &dir);
    table
}

/// The router is killed with SIGKILL five times at random moments over the minute of calls
/// and restarted at once each time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_survive_five_router_kills_in_a_minute_of_200_calls_per_second() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let sim = Sim::start(sim_config()).await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), &sim, "r1", "");
    let mut router = first_router(&sim, dir.path(), &config).await;
    let seed = fastrand::u64(..);
    let kills = five_moments(seed);
    println!("seed {seed}, kills at {kills:?}");
    let mut runs = 1;
    let mut restart_gaps = Vec::new();
    let mut outages = Vec::new();
    let placed = place_calls(&sim, seed, (RATE, PLACING), None, |elapsed| {
        if outages.len() < kills.len() && elapsed >= kills[outages.len()] {
            let killed = Instant::now();
            router.kill();
            outages.push(killed);
            router = start_router(dir.path(), &config, &runs.to_string());
            restart_gaps.push(killed.elapsed());
            runs += 1;
        }
    })
    .await;
    assert_eq!(outages.len(), kills.len(), "every kill happened");
    println!("each restarted after {restart_gaps:?}");
    for gap in &restart_gaps {
        assert!(
            *gap < Duration::from_secs(1),
            "restarted within 1 s: {gap:?}"
        );
    }
    let carried_on = log_count(dir.path(), "call carried on after a restart");
    let table = settle_and_judge("SIGKILL ×5", &sim, router, dir, &placed, &outages).await;
    println!("\"call carried on after a restart\" logged {carried_on} times");
    assert!(
        table.resumed > 0,
        "some calls were in progress across a kill"
    );
    assert!(carried_on > 0, "some calls were read back from the store");
}

/// Asterisk's side drops the event socket five times while the router keeps running: three
/// plain drops, and twice Asterisk refusing connections for a second after the drop (as while
/// it restarts its HTTP server). Calls in the app stay; new ones are refused while no socket
/// holds the app; the router reconnects, resyncs and carries its calls on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_survive_five_asterisk_socket_drops_in_a_minute_of_200_calls_per_second() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let sim = Sim::start(sim_config()).await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), &sim, "r1", "");
    let router = first_router(&sim, dir.path(), &config).await;
    let seed = fastrand::u64(..);
    let drops = five_moments(seed);
    println!("seed {seed}, drops at {drops:?}");
    let mut outages = Vec::new();
    let placed = place_calls(&sim, seed, (RATE, PLACING), None, |elapsed| {
        if outages.len() < drops.len() && elapsed >= drops[outages.len()] {
            if outages.len() % 2 == 1 {
                sim.faults(|f| f.refuse_until = Some(Instant::now() + Duration::from_secs(1)));
            }
            sim.drop_sockets();
            outages.push(Instant::now());
        }
    })
    .await;
    assert_eq!(outages.len(), drops.len(), "every drop happened");
    let reconnects = log_count(dir.path(), "event stream connected again");
    let table = settle_and_judge("socket drops ×5", &sim, router, dir, &placed, &outages).await;
    assert!(
        table.resumed > 0,
        "some calls were in progress across a drop"
    );
    assert!(
        reconnects >= 5,
        "the router reconnected after each drop: {reconnects}"
    );
}
