//! Hot swap end to end: new plugin versions go live through the admin API and the watched
//! plugin directory without dropping a call; bad versions are rejected or rolled back.

#[path = "../host/tests/common/mod.rs"]
mod common;
mod support;

use callwasm::sim::{InboundCall, Sim, SimConfig};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use support::{Rig, TOKEN, admin};

fn component(package: &str) -> Vec<u8> {
    std::fs::read(common::plugin_path(package)).expect("component")
}

/// Uploads `package`'s component as tenant `swap`'s version `label` (with `token`, if any);
/// the admin API's status and answer.
async fn push(
    rig: &Rig,
    label: &str,
    package: &str,
    token: Option<&str>,
) -> (u16, serde_json::Value) {
    admin(
        rig.admin,
        "PUT",
        &format!("/tenants/swap/plugin?label={label}"),
        token,
        component(package),
    )
    .await
}

const SWAP: &str = r#"
[tenants.swap]
apps = ["swap"]
plugin = "{swap_blue}"
[tenants.swap.settings]
hold_ms = 300
[tenants.swap.rollback]
first_calls = 4
max_failure_rate = 0.25
"#;

fn sim_config() -> SimConfig {
    SimConfig {
        journal: true,
        ..SimConfig::default()
    }
}

fn call(n: u64) -> InboundCall {
    let mut call = InboundCall::new("swap", &format!("555{n:07}"), "s");
    call.args = vec!["s".into()];
    call
}

/// Per caller channel: the X_VERSION values its replies set, and the hangup causes sent.
fn per_call(journal: &[String]) -> BTreeMap<String, (Vec<String>, Vec<String>)> {
    let mut calls: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for line in journal {
        if let Some(rest) = line.strip_prefix("POST /channels/")
            && let Some((id, query)) = rest.split_once("/variable?")
            && let Some(value) = query
                .strip_prefix("value=")
                .and_then(|q| q.strip_suffix("&variable=X_VERSION"))
        {
            calls
                .entry(id.to_string())
                .or_default()
                .0
                .push(value.to_string());
        }
        if let Some(rest) = line.strip_prefix("DELETE /channels/")
            && let Some((id, cause)) = rest.split_once("?reason_code=")
        {
            calls
                .entry(id.to_string())
                .or_default()
                .1
                .push(cause.to_string());
        }
    }
    calls
}

async fn tenant(rig: &Rig) -> serde_json::Value {
    let (status, t) = admin(rig.admin, "GET", "/tenants/swap", Some(TOKEN), vec![]).await;
    assert_eq!(status, 200, "{t}");
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_swaps_under_200_calls_per_second_drop_nothing() {
    let sim = Sim::start(sim_config()).await.expect("sim");
    let rig = Rig::start(sim, SWAP).await;
    let blue = component("swap-blue");
    let green = component("swap-green");
    let rate: u64 = 200;
    // Sixty swaps, one every 500 ms, alternating green and blue; calls flow at 200/s for as
    // long as the swapping takes. What must hold is that every swap took effect and no call
    // was dropped, however long a loaded machine takes over it.
    let wanted = 60;
    let addr = rig.admin;
    let swapper = tokio::spawn(async move {
        for swap in 0..wanted {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let (body, label) = if swap % 2 == 0 {
                (green.clone(), "green")
            } else {
                (blue.clone(), "blue")
            };
            let (status, v) = admin(
                addr,
                "PUT",
                &format!("/tenants/swap/plugin?label={label}"),
                Some(TOKEN),
                body,
            )
            .await;
            assert_eq!(status, 201, "swap {swap}: {v}");
        }
        wanted
    });
    // 200 calls/s, paced against the clock, until the last swap.
    let began = Instant::now();
    let mut total: u64 = 0;
    while !swapper.is_finished() {
        let due = began + Duration::from_micros(total * 1_000_000 / rate);
        tokio::time::sleep_until(due.into()).await;
        rig.sim.place_call(&call(total));
        total += 1;
    }
    let swaps = swapper.await.expect("swapper");
    assert_eq!(swaps, wanted, "every swap took effect");
    rig.until(Duration::from_secs(30), "every call over", |sim| {
        sim.channel_ids().is_empty()
    })
    .await;

    let calls = per_call(&rig.sim.journal());
    assert_eq!(calls.len() as u64, total, "every call reached the plugin");
    let mut by_version: BTreeMap<String, u64> = BTreeMap::new();
    for (caller, (versions, causes)) in &calls {
        // Started and the timer: two replies, one version.
        assert_eq!(versions.len(), 2, "{caller}: {versions:?}");
        assert_eq!(
            versions[0], versions[1],
            "{caller} changed version mid-call"
        );
        // Hung up by its plugin with 16: no failure policy anywhere.
        assert_eq!(causes, &vec!["16".to_string()], "{caller}");
        *by_version.entry(versions[0].clone()).or_default() += 1;
    }
    assert_eq!(
        by_version.len(),
        2,
        "both versions served calls: {by_version:?}"
    );
    // Once the calls are over no version holds any, and only the live one is loaded.
    let began = Instant::now();
    loop {
        let t = tenant(&rig).await;
        let versions = t["versions"].as_array().cloned().unwrap_or_default();
        let holding: u64 = versions
            .iter()
            .map(|v| v["calls"].as_u64().unwrap_or(0))
            .sum();
        let loaded: Vec<_> = versions.iter().filter(|v| v["loaded"] == true).collect();
        if holding == 0 {
            assert_eq!(loaded.len(), 1, "{t}");
            assert_eq!(loaded[0]["live"], true, "{t}");
            assert_eq!(t["counters"]["plugin_failures"], 0, "{t}");
            break;
        }
        assert!(
            began.elapsed() < Duration::from_secs(30),
            "versions still hold calls: {t}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("{total} calls, {swaps} swaps, calls per version: {by_version:?}");
    rig.stop().await;
}

#[tokio::test]
async fn a_version_that_traps_on_started_is_rejected_at_the_smoke_call() {
    let sim = Sim::start(sim_config()).await.expect("sim");
    let rig = Rig::start(sim, SWAP).await;
    let (status, body) = push(&rig, "red", "swap-red", Some(TOKEN)).await;
    assert_eq!(status, 422);
    let reason = body["error"].as_str().unwrap_or_default();
    assert!(
        reason
            .starts_with("version rejected: smoke call on a canned `started` event failed: trap: ")
            && reason.contains("red: broken on started"),
        "{reason}"
    );
    let t = tenant(&rig).await;
    assert_eq!(t["live"], "swap_blue", "{t}");
    assert_eq!(
        t["versions"].as_array().map(Vec::len),
        Some(1),
        "never kept: {t}"
    );
    // Calls go on with the live version.
    let caller = rig.sim.place_call(&call(1));
    rig.until(Duration::from_secs(30), "call over", |sim| {
        sim.channel(&caller).is_none()
    })
    .await;
    let calls = per_call(&rig.sim.journal());
    assert_eq!(calls[&caller].0, vec!["blue", "blue"]);
    rig.stop().await;
}

#[tokio::test]
async fn a_version_failing_on_later_events_is_rolled_back_automatically() {
    let sim = Sim::start(sim_config()).await.expect("sim");
    let rig = Rig::start(sim, SWAP).await;
    let (status, v) = push(&rig, "amber", "swap-amber", Some(TOKEN)).await;
    assert_eq!(status, 201, "amber passes the smoke call: {v}");
    // One call at a time until the rollback: amber answers, then traps on the next event.
    let mut served = Vec::new();
    for n in 0..6 {
        let caller = rig.sim.place_call(&call(n));
        rig.until(Duration::from_secs(30), "call over", |sim| {
            sim.channel(&caller).is_none()
        })
        .await;
        served.push(caller);
    }
    let calls = per_call(&rig.sim.journal());
    // Two failed calls of its first four cross 25%: amber is rolled back after the second.
    assert_eq!(
        calls[&served[0]],
        (vec!["amber".to_string()], vec!["41".to_string()])
    );
    assert_eq!(
        calls[&served[1]],
        (vec!["amber".to_string()], vec!["41".to_string()])
    );
    for caller in &served[2..] {
        assert_eq!(
            calls[caller],
            (
                vec!["blue".to_string(), "blue".into()],
                vec!["16".to_string()]
            ),
            "{caller}"
        );
    }
    let t = tenant(&rig).await;
    assert_eq!(t["live"], "swap_blue", "{t}");
    assert_eq!(
        t["last_rollback"],
        "version amber rolled back: the plugin failed in 2 of its first 4 calls (at most 25% allowed)"
    );
    rig.stop().await;
}

#[tokio::test]
async fn rollback_by_label_and_the_admin_token_is_required() {
    let sim = Sim::start(sim_config()).await.expect("sim");
    let rig = Rig::start(sim, SWAP).await;
    for (token, what) in [
        (None, "no token"),
        (Some("wrong-token-wrong-token"), "a wrong token"),
    ] {
        let (status, body) = admin(rig.admin, "GET", "/tenants", token, vec![]).await;
        assert_eq!(
            (status, body),
            (
                401,
                serde_json::json!({"error": "a valid token is required"})
            ),
            "{what}"
        );
    }
    let (status, _) = push(&rig, "green", "swap-green", None).await;
    assert_eq!(status, 401, "an upload without a token changes nothing");
    assert_eq!(tenant(&rig).await["live"], "swap_blue");

    let (status, _) = push(&rig, "green", "swap-green", Some(TOKEN)).await;
    assert_eq!(status, 201);
    assert_eq!(tenant(&rig).await["live"], "green");
    let (status, v) = admin(
        rig.admin,
        "POST",
        "/tenants/swap/rollback?to=swap_blue",
        Some(TOKEN),
        vec![],
    )
    .await;
    assert_eq!((status, v["name"].as_str()), (200, Some("swap_blue")));
    assert_eq!(tenant(&rig).await["live"], "swap_blue");
    let (status, body) = admin(
        rig.admin,
        "POST",
        "/tenants/swap/rollback?to=purple",
        Some(TOKEN),
        vec![],
    )
    .await;
    assert_eq!(
        (status, body),
        (
            404,
            serde_json::json!({"error": "no kept version named \"purple\""})
        )
    );
    rig.stop().await;
}

#[tokio::test]
async fn a_version_renamed_into_the_watched_directory_goes_live() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!(
        "[tenants.swap]\napps = [\"swap\"]\nplugin = \"{{swap_blue}}\"\nwatch = {:?}\n[tenants.swap.settings]\nhold_ms = 300\n",
        dir.path().display().to_string()
    );
    let sim = Sim::start(sim_config()).await.expect("sim");
    let rig = Rig::start(sim, &config).await;
    // Written under a hidden name, then renamed into place.
    let staging = dir.path().join(".incoming");
    std::fs::write(&staging, component("swap-green")).expect("write");
    std::fs::rename(&staging, dir.path().join("green-v2.wasm")).expect("rename");
    let began = Instant::now();
    while tenant(&rig).await["live"] != "green-v2" {
        assert!(
            began.elapsed() < Duration::from_secs(10),
            "{}",
            tenant(&rig).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let caller = rig.sim.place_call(&call(7));
    rig.until(Duration::from_secs(30), "call over", |sim| {
        sim.channel(&caller).is_none()
    })
    .await;
    assert_eq!(
        per_call(&rig.sim.journal())[&caller].0,
        vec!["green", "green"]
    );
    rig.stop().await;
}

#[tokio::test]
async fn a_migrating_tenant_moves_calls_to_the_new_version_at_their_next_event() {
    let tenants = "[tenants.swap]\napps = [\"swap\"]\nplugin = \"{swap_blue}\"\nmigrate = true\n[tenants.swap.settings]\nhold_ms = 4000\n";
    let sim = Sim::start(sim_config()).await.expect("sim");
    let rig = Rig::start(sim, tenants).await;
    let caller = rig.sim.place_call(&call(1));
    rig.until(Duration::from_secs(30), "answered", |sim| {
        sim.channel(&caller).is_some_and(|c| c.state == "Up")
    })
    .await;
    let (status, _) = push(&rig, "green", "swap-green", Some(TOKEN)).await;
    assert_eq!(status, 201);
    // The timer runs 4 s: room for the upload to compile green on an empty code cache.
    rig.until(Duration::from_secs(15), "call over", |sim| {
        sim.channel(&caller).is_none()
    })
    .await;
    // Started on blue; the timer, after the swap, on green.
    assert_eq!(
        per_call(&rig.sim.journal())[&caller].0,
        vec!["blue", "green"]
    );
    rig.stop().await;
}

/// Runs `callwasm` against the rig's admin API, on a blocking thread (the API is served by
/// this test's runtime).
async fn cli(rig: &Rig, args: &[&str]) -> std::process::Output {
    let admin = format!("http://{}", rig.admin);
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_callwasm"))
            .args(&args)
            .env("CALLWASM_ADMIN", admin)
            .env("CALLWASM_ADMIN_TOKEN", TOKEN)
            .output()
            .expect("callwasm")
    })
    .await
    .expect("cli thread")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plugin_push_and_rollback_commands_drive_the_admin_api() {
    let sim = Sim::start(sim_config()).await.expect("sim");
    let rig = Rig::start(sim, SWAP).await;
    let green = common::plugin_path("swap-green");
    let green = green.to_str().expect("utf-8 path");
    let push = cli(
        &rig,
        &[
            "plugin", "push", green, "--tenant", "swap", "--label", "green",
        ],
    )
    .await;
    assert_eq!(
        push.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&push.stderr)
    );
    let printed = String::from_utf8_lossy(&push.stdout);
    assert!(printed.starts_with("swap: version green ("), "{printed}");
    assert_eq!(tenant(&rig).await["live"], "green");

    // The same bytes under another label: still version green, and the CLI says why.
    let again = cli(
        &rig,
        &[
            "plugin", "push", green, "--tenant", "swap", "--label", "teal",
        ],
    )
    .await;
    assert_eq!(again.status.code(), Some(0));
    let printed = String::from_utf8_lossy(&again.stdout);
    assert_eq!(
        printed.lines().nth(1),
        Some(
            "note: these bytes are already kept as version green; the label \"teal\" was not applied"
        ),
        "{printed}"
    );
    assert_eq!(tenant(&rig).await["live"], "green");

    let back = cli(
        &rig,
        &[
            "plugin",
            "rollback",
            "--tenant",
            "swap",
            "--to",
            "swap_blue",
        ],
    )
    .await;
    assert_eq!(back.status.code(), Some(0));
    assert_eq!(tenant(&rig).await["live"], "swap_blue");

    let red = common::plugin_path("swap-red");
    let rejected = cli(
        &rig,
        &[
            "plugin",
            "push",
            red.to_str().expect("utf-8"),
            "--tenant",
            "swap",
        ],
    )
    .await;
    assert_eq!(rejected.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&rejected.stderr);
    assert!(
        stderr.starts_with("error: HTTP 422: version rejected: smoke call on a canned `started` event failed: trap: "),
        "{stderr}"
    );
    let listed = cli(&rig, &["plugin", "versions", "--tenant", "swap"]).await;
    let listed = String::from_utf8_lossy(&listed.stdout);
    let live: Vec<&str> = listed.lines().filter(|l| l.starts_with('*')).collect();
    assert_eq!(live.len(), 1, "{listed}");
    assert!(live[0].starts_with("* swap_blue "), "{listed}");

    // An admin address nobody listens on: the error says what to check.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let nobody = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let unreachable = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_callwasm"))
            .args(["plugin", "versions", "--tenant", "swap", "--admin", &nobody])
            .env("CALLWASM_ADMIN_TOKEN", TOKEN)
            .output()
            .expect("callwasm")
    })
    .await
    .expect("cli thread");
    assert_eq!(unreachable.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&unreachable.stderr);
    assert!(
        stderr.starts_with("error: cannot reach the admin API at http://127.0.0.1:")
            && stderr.contains("Connection refused")
            && stderr.trim_end().ends_with(
                "is `callwasm run` running with an [admin] section whose listen address this is? Point --admin (or CALLWASM_ADMIN) at it"
            ),
        "{stderr}"
    );
    rig.stop().await;
}
