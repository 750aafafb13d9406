//! The router end to end: the real router, the simulated Asterisk over loopback sockets and
//! real plugin components built from this repository.

#[path = "../host/tests/common/mod.rs"]
mod common;
mod support;

use callwasm::router::Router;
use callwasm::router::config::Config;
use callwasm::router::observe::{Observation, Observer};
use callwasm::runtime as wit;
use callwasm::sim::{InboundCall, Sim, SimConfig};
use std::time::{Duration, Instant};
use support::Rig;
use tokio::sync::watch;

fn sim_config() -> SimConfig {
    SimConfig {
        journal: true,
        busy_hangup_after: Duration::from_millis(300),
        ..SimConfig::default()
    }
}

const EARLY_DIAL: &str = r#"
[tenants.acme]
apps = ["router"]
plugin = "{early_dial}"
endpoints = ["PJSIP/*"]
[tenants.acme.settings]
caller_id_number = "5551000"
caller_id_name = "ACME"
vars = "X_TENANT=acme"
dial_timeout = 2
"#;

fn inbound(exten: &str) -> InboundCall {
    let mut call = InboundCall::new("router", "5550100", exten);
    call.caller_name = "Alice Caller".into();
    call.args = vec![exten.into()];
    call
}

/// Whether a channel the router created (a leg) is ringing.
fn a_leg_rings(sim: &Sim) -> bool {
    sim.channel_ids()
        .iter()
        .any(|id| id.starts_with("cw-") && sim.channel(id).is_some_and(|c| c.state == "Ringing"))
}

/// The journal's lines about one call's leg and bridge, in order.
fn flow_of(journal: &[String], caller: &str) -> Vec<String> {
    journal
        .iter()
        .filter(|l| l.contains("cw-") || l.contains(caller))
        .cloned()
        .collect()
}

#[tokio::test]
async fn the_seed_flow_from_one_reply() {
    let sim = Sim::start(sim_config()).await.expect("sim");
    let rig = Rig::start(sim, EARLY_DIAL).await;
    let caller = rig.sim.place_call(&inbound("alice"));
    rig.until(
        Duration::from_secs(30),
        "leg answered and caller up",
        |sim| sim.channel(&caller).is_some_and(|c| c.state == "Up"),
    )
    .await;
    let journal = rig.sim.journal();
    let lines = flow_of(&journal, &caller);
    let call = rig
        .table
        .calls()
        .first()
        .map(|(id, _)| id.clone())
        .expect("a live call");
    let leg = format!("cw-{call}-agent");
    let bridge = format!("cw-{call}-b1");
    assert_eq!(
        lines,
        vec![
            // The connected line and the plugin's set-var travel in the create's body.
            format!(
                "POST /channels/create?app=router&channelId={leg}&endpoint=PJSIP/alice variables: CONNECTEDLINE(name)=ACME, CONNECTEDLINE(num)=5551000, X_TENANT=acme"
            ),
            format!("POST /bridges?bridgeId={bridge}&type=mixing"),
            format!(
                "POST /bridges/{bridge}/addChannel?channel={caller},{leg}&inhibitConnectedLineUpdates=true"
            ),
            format!("POST /channels/{leg}/dial?timeout=2"),
            format!("POST /channels/{caller}/answer"),
        ]
    );
    // Both up, both in the bridge.
    let b = rig.sim.bridge(&bridge).expect("bridge exists");
    assert_eq!(b.channels, vec![caller.clone(), leg.clone()]);
    assert_eq!(rig.sim.channel(&leg).map(|c| c.state), Some("Up".into()));
    rig.stop().await;
}

#[tokio::test]
async fn the_caller_is_in_the_bridge_while_the_leg_rings() {
    let sim = Sim::start(sim_config()).await.expect("sim");
    let rig = Rig::start(sim, EARLY_DIAL).await;
    let caller = rig.sim.place_call(&inbound("noanswer-bob"));
    rig.until(Duration::from_secs(30), "leg ringing", a_leg_rings)
        .await;
    let bridges = rig.sim.bridge_ids();
    assert_eq!(bridges.len(), 1);
    let b = rig.sim.bridge(&bridges[0]).expect("bridge");
    assert_eq!(b.channels.len(), 2, "caller and ringing leg bridged early");
    assert!(b.channels.contains(&caller));
    rig.stop().await;
}

/// The DELETE of `id` in the journal, with its cause.
fn hangups_of(journal: &[String], id: &str) -> Vec<String> {
    let exact = format!("DELETE /channels/{id}");
    let with_query = format!("{exact}?");
    journal
        .iter()
        .filter(|l| **l == exact || l.starts_with(&with_query))
        .cloned()
        .collect()
}

const PASS_THROUGH: &str = r#"
[tenants.acme]
apps = ["router"]
plugin = "{early_dial}"
endpoints = ["PJSIP/*"]
[tenants.acme.settings]
dial_timeout = 2
"#;

#[tokio::test]
async fn caller_id_given_or_passed_through_reaches_the_legs_connected_line() {
    for (tenants, want, inhibit) in [
        (EARLY_DIAL, ("ACME", "5551000"), true),
        (PASS_THROUGH, ("Alice Caller", "5550100"), false),
    ] {
        let sim = Sim::start(sim_config()).await.expect("sim");
        let rig = Rig::start(sim, tenants).await;
        let caller = rig.sim.place_call(&inbound("noanswer-carol"));
        rig.until(Duration::from_secs(30), "leg ringing", a_leg_rings)
            .await;
        let leg = rig
            .sim
            .channel_ids()
            .into_iter()
            .find(|id| id.starts_with("cw-"))
            .expect("leg");
        let connected = rig.sim.channel(&leg).expect("leg").connected;
        assert_eq!(
            (connected.name.as_str(), connected.number.as_str()),
            want,
            "what the callee sees"
        );
        let journal = rig.sim.journal();
        let dial = journal
            .iter()
            .find(|l| l.contains("/dial"))
            .expect("dial sent");
        let add = journal
            .iter()
            .find(|l| l.contains("/addChannel"))
            .expect("addChannel sent");
        if inhibit {
            assert_eq!(dial, &format!("POST /channels/{leg}/dial?timeout=2"));
            assert!(add.ends_with("&inhibitConnectedLineUpdates=true"), "{add}");
        } else {
            assert_eq!(
                dial,
                &format!("POST /channels/{leg}/dial?caller={caller}&timeout=2")
            );
            assert!(!add.contains("inhibit"), "{add}");
        }
        rig.stop().await;
    }
}

#[tokio::test]
async fn busy_no_answer_and_unavailable_hang_the_caller_up_with_the_right_cause() {
    for (exten, cause) in [
        ("busy-bob", 17),
        ("noanswer-carol", 19),
        ("unavailable-dave", 20),
    ] {
        let sim = Sim::start(sim_config()).await.expect("sim");
        let rig = Rig::start(sim, EARLY_DIAL).await;
        let caller = rig.sim.place_call(&inbound(exten));
        rig.until(Duration::from_secs(30), "every channel gone", |sim| {
            sim.channel_ids().is_empty()
        })
        .await;
        let journal = rig.sim.journal();
        assert_eq!(
            hangups_of(&journal, &caller),
            vec![format!("DELETE /channels/{caller}?reason_code={cause}")],
            "{exten}"
        );
        rig.until(Duration::from_secs(30), "no bridge left", |sim| {
            sim.bridge_ids().is_empty()
        })
        .await;
        rig.until_no_calls(Duration::from_secs(30)).await;
        rig.stop().await;
    }
}

#[tokio::test]
async fn the_caller_hanging_up_while_the_leg_rings_ends_everything() {
    let sim = Sim::start(sim_config()).await.expect("sim");
    let rig = Rig::start(sim, EARLY_DIAL).await;
    let mut call = inbound("noanswer-erin");
    call.behaviour.hangup_after = Some(Duration::from_millis(500));
    let caller = rig.sim.place_call(&call);
    rig.until(
        Duration::from_secs(30),
        "every channel and bridge gone",
        |sim| sim.channel_ids().is_empty() && sim.bridge_ids().is_empty(),
    )
    .await;
    let journal = rig.sim.journal();
    let leg = journal
        .iter()
        .find_map(|l| l.split("channelId=").nth(1))
        .and_then(|rest| rest.split('&').next())
        .expect("leg created")
        .to_string();
    assert_eq!(
        hangups_of(&journal, &leg),
        vec![format!("DELETE /channels/{leg}?reason_code=16")]
    );
    assert!(
        hangups_of(&journal, &caller).is_empty(),
        "the caller hung up by itself"
    );
    let bridge = leg.replace("-agent", "-b1");
    assert!(
        journal.contains(&format!("DELETE /bridges/{bridge}")),
        "bridge destroyed: {journal:#?}"
    );
    rig.until_no_calls(Duration::from_secs(30)).await;
    rig.stop().await;
}

fn failures(observations: &[Observation]) -> Vec<(String, String)> {
    observations
        .iter()
        .filter_map(|o| match o {
            Observation::PluginFailed { call, reason, .. } => Some((call.clone(), reason.clone())),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_plugin_trapping_on_its_second_event_fails_only_its_call() {
    let tenants = format!(
        "{EARLY_DIAL}\n{}",
        r#"
[tenants.bad]
apps = ["bad"]
plugin = "{rogue}"
[tenants.bad.settings]
misbehave = "trap"
after = 1
[tenants.bad.on_failure]
action = "hangup"
cause = 41
"#
    );
    let sim = Sim::start(sim_config()).await.expect("sim");
    let mut rig = Rig::start(sim, &tenants).await;
    let mut callers = Vec::new();
    for n in 0..100 {
        let mut call = inbound("alice");
        call.caller_number = format!("55501{n:02}");
        call.behaviour.hangup_after = Some(Duration::from_millis(1500));
        callers.push(rig.sim.place_call(&call));
    }
    let mut bad = InboundCall::new("bad", "5559999", "s");
    bad.args = vec!["x".into()];
    let bad_caller = rig.sim.place_call(&bad);
    rig.until(Duration::from_secs(15), "every call over", |sim| {
        sim.channel_ids().is_empty() && sim.bridge_ids().is_empty()
    })
    .await;
    let journal = rig.sim.journal();
    // The rogue call: answered on its first event, trapped on the second (the state change of
    // that answer), hung up with the policy's cause.
    assert_eq!(
        journal
            .iter()
            .filter(|l| l.contains(&bad_caller))
            .cloned()
            .collect::<Vec<_>>(),
        vec![
            format!("POST /channels/{bad_caller}/answer"),
            format!("DELETE /channels/{bad_caller}?reason_code=41"),
        ]
    );
    // The hundred others: answered once their leg answered, never hung up by the router.
    for caller in &callers {
        assert!(
            journal.contains(&format!("POST /channels/{caller}/answer")),
            "{caller} answered"
        );
        assert!(
            hangups_of(&journal, caller).is_empty(),
            "{caller} hung up by itself: {:#?}",
            hangups_of(&journal, caller)
        );
    }
    // The last calls leave the table once their bridge's DELETE is answered.
    rig.until_no_calls(Duration::from_secs(30)).await;
    let failed = failures(&rig.drain());
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0].1.starts_with("trap: "),
        "the reason names the trap: {}",
        failed[0].1
    );
    rig.stop().await;
}

#[tokio::test]
async fn a_reply_naming_another_calls_handle_or_a_forbidden_endpoint_is_refused_unsent() {
    let tenants = format!(
        "{EARLY_DIAL}\n{}",
        r#"
[tenants.forger]
apps = ["forger"]
plugin = "{rogue}"
[tenants.forger.settings]
misbehave = "forge"
handle = "agent"

[tenants.roamer]
apps = ["roamer"]
plugin = "{rogue}"
endpoints = ["PJSIP/*"]
[tenants.roamer.settings]
misbehave = "create"
endpoint = "SIP/premium-rate"
"#
    );
    let sim = Sim::start(sim_config()).await.expect("sim");
    let mut rig = Rig::start(sim, &tenants).await;
    // A call of another tenant with a leg called "agent", ringing.
    let victim = rig.sim.place_call(&inbound("noanswer-frank"));
    rig.until(Duration::from_secs(30), "victim's leg ringing", a_leg_rings)
        .await;
    let before = rig.sim.journal().len();
    let mut forger = InboundCall::new("forger", "5558888", "s");
    forger.args = vec!["x".into()];
    let forger = rig.sim.place_call(&forger);
    let mut roamer = InboundCall::new("roamer", "5557777", "s");
    roamer.args = vec!["x".into()];
    let roamer = rig.sim.place_call(&roamer);
    rig.until(
        Duration::from_secs(30),
        "both refused calls hung up",
        |sim| sim.channel(&forger).is_none() && sim.channel(&roamer).is_none(),
    )
    .await;
    let journal = rig.sim.journal();
    // Nothing of either reply was sent: only the policy's hangups.
    let mut sent: Vec<String> = journal[before..]
        .iter()
        .filter(|l| !l.contains("cw-") || l.contains("/channels/create"))
        .filter(|l| !l.contains(&victim))
        .cloned()
        .collect();
    sent.sort();
    let mut want = vec![
        format!("DELETE /channels/{forger}?reason_code=41"),
        format!("DELETE /channels/{roamer}?reason_code=41"),
    ];
    want.sort();
    assert_eq!(sent, want);
    // The victim's leg is untouched, still ringing.
    assert!(a_leg_rings(&rig.sim), "the other call's leg still rings");
    let mut reasons: Vec<String> = failures(&rig.drain()).into_iter().map(|f| f.1).collect();
    reasons.sort();
    assert_eq!(
        reasons,
        vec![
            "reply refused: command 0 (create): endpoint \"SIP/premium-rate\" is not on the tenant's allow-list".to_string(),
            "reply refused: command 0 (hangup): no channel \"agent\" in this call".to_string(),
        ]
    );
    rig.stop().await;
}

#[tokio::test]
async fn failure_policies_continue_in_the_dialplan_or_fall_back_to_another_plugin() {
    let tenants = r#"
[tenants.cont]
apps = ["cont"]
plugin = "{rogue}"
[tenants.cont.settings]
misbehave = "error"
[tenants.cont.on_failure]
action = "continue"
context = "default"
extension = "operator"
priority = 1

[tenants.fall]
apps = ["fall"]
plugin = "{rogue}"
endpoints = ["PJSIP/*"]
[tenants.fall.settings]
misbehave = "trap"
dial_timeout = 2
[tenants.fall.on_failure]
action = "fallback"
plugin = "{early_dial}"
"#;
    let sim = Sim::start(sim_config()).await.expect("sim");
    let rig = Rig::start(sim, tenants).await;
    let mut c = InboundCall::new("cont", "5551111", "s");
    c.args = vec!["x".into()];
    let cont = rig.sim.place_call(&c);
    let mut f = InboundCall::new("fall", "5552222", "alice");
    f.args = vec!["alice".into()];
    let fall = rig.sim.place_call(&f);
    rig.until(Duration::from_secs(30), "fallback call answered", |sim| {
        sim.channel(&fall).is_some_and(|c| c.state == "Up")
    })
    .await;
    let journal = rig.sim.journal();
    assert!(
        journal.contains(&format!(
            "POST /channels/{cont}/continue?context=default&extension=operator&priority=1"
        )),
        "{journal:#?}"
    );
    // The fallback (early-dial) took the same `started` event and ran the seed flow.
    assert!(
        journal
            .iter()
            .any(|l| l.starts_with("POST /channels/create?app=fall") && l.contains("PJSIP/alice")),
        "{journal:#?}"
    );
    rig.stop().await;
}

fn rest_of(sim: &Sim) -> callwasm::ari::Rest {
    callwasm::ari::Rest::new(
        "sim",
        &callwasm::ari::RestConfig {
            base_url: sim.base_url(),
            auth: callwasm::ari::Auth::Basic {
                user: "asterisk".into(),
                password: "asterisk".into(),
            },
            pool_size: 4,
            timeout: Duration::from_secs(2),
        },
    )
    .expect("rest")
}

#[tokio::test]
async fn at_start_bridges_and_channels_of_dead_calls_are_removed_and_others_kept() {
    let sim = Sim::start(sim_config()).await.expect("sim");
    // What this router (instance "rig") left behind when it died mid-call, what another
    // router instance on the same Asterisk holds, and what belongs to someone else.
    let rest = rest_of(&sim);
    for bridge in ["cw-rig.dead01-b1", "cw-other.live01-b1", "conference-7"] {
        rest.create_bridge(bridge, "mixing").await.expect("bridge");
    }
    for leg in ["cw-rig.dead01-agent", "cw-other.live01-agent"] {
        rest.create_channel(&callwasm::ari::CreateChannel {
            endpoint: "PJSIP/bob",
            app: "router",
            channel_id: Some(leg),
            ..Default::default()
        })
        .await
        .expect("channel");
    }
    let rig = Rig::start(sim, EARLY_DIAL).await;
    rig.until(Duration::from_secs(30), "own orphans removed", |sim| {
        sim.bridge_ids() == vec!["conference-7".to_string(), "cw-other.live01-b1".to_string()]
            && sim.channel_ids() == vec!["cw-other.live01-agent".to_string()]
    })
    .await;
    let journal = rig.sim.journal();
    assert!(journal.contains(&"DELETE /bridges/cw-rig.dead01-b1".to_string()));
    assert!(journal.contains(&"DELETE /channels/cw-rig.dead01-agent?reason_code=16".to_string()));
    // Give a wrong cleanup the time to happen, then check it did not.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let journal = rig.sim.journal();
    assert!(
        !journal
            .iter()
            .any(|l| l.starts_with("DELETE")
                && (l.contains("conference-7") || l.contains("cw-other."))),
        "{journal:#?}"
    );
    rig.stop().await;
}

#[tokio::test]
async fn a_call_whose_channels_vanished_while_the_socket_was_down_ends_on_resync() {
    let sim = Sim::start(sim_config()).await.expect("sim");
    let rig = Rig::start(sim, EARLY_DIAL).await;
    let caller = rig.sim.place_call(&inbound("noanswer-gina"));
    rig.until(Duration::from_secs(30), "leg ringing", a_leg_rings)
        .await;
    assert_eq!(rig.table.len(), 1);
    // The socket drops and stays refused for a while; meanwhile the caller hangs up.
    rig.sim
        .faults(|f| f.refuse_until = Some(Instant::now() + Duration::from_millis(700)));
    rig.sim.drop_sockets();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(rig.sim.hang_up(&caller, 16));
    // After the reconnect, the resync shows the caller gone: the plugin hears it, hangs the
    // leg up, and the call ends with its bridge destroyed.
    rig.until(Duration::from_secs(10), "nothing left", |sim| {
        sim.channel_ids().is_empty() && sim.bridge_ids().is_empty()
    })
    .await;
    rig.until_no_calls(Duration::from_secs(30)).await;
    rig.stop().await;
}

#[test]
fn the_demo_runs_to_completion_and_its_summary_matches_the_calls_it_placed() {
    common::plugin_path("hunt-group");
    let plugins = common::plugin_path("early-dial")
        .parent()
        .expect("plugin dir")
        .to_path_buf();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_callwasm"))
        .arg("demo")
        .arg("--plugins")
        .arg(&plugins)
        .output()
        .expect("callwasm demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    // A short header: what runs where, and how to read the lines.
    assert_eq!(lines[0], "callwasm demo");
    assert!(lines[1].starts_with("  simulated Asterisk  http://127.0.0.1:"));
    assert_eq!(
        lines[2],
        format!(
            "  tenant demo         {}",
            plugins.join("early_dial.wasm").display()
        )
    );
    assert_eq!(
        lines[3],
        format!(
            "  tenant sales        {}",
            plugins.join("hunt_group.wasm").display()
        )
    );
    assert_eq!(
        lines[4],
        "  each line: seconds since start, the call's event -> the plugin's commands [its run time]"
    );
    let summary = lines
        .iter()
        .position(|l| *l == "summary")
        .expect("a summary");
    let calls: Vec<(String, String)> = lines[summary + 1..summary + 8]
        .iter()
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            // "call N  caller -> exten  outcome…  K events, plugin T µs/event"
            let exten = words[4].to_string();
            let outcome = words[5..words.len() - 5].join(" ");
            (exten, outcome)
        })
        .collect();
    assert_eq!(
        calls,
        vec![
            ("alice".to_string(), "answered".to_string()),
            ("busy-bob".into(), "busy".into()),
            ("noanswer-carol".into(), "no answer".into()),
            ("unavailable-dave".into(), "unavailable".into()),
            (
                "noanswer-erin".into(),
                "caller hung up while ringing".into()
            ),
            ("early-frank".into(), "answered".into()),
            ("sales".into(), "answered".into()),
        ]
    );
    assert_eq!(lines[summary + 8], "calls: 7 placed, 7 ended");
    assert_eq!(
        lines[summary + 9],
        "outcomes: answered 3, busy 1, caller hung up while ringing 1, no answer 1, unavailable 1"
    );
    assert!(lines[summary + 10].starts_with("plugin time per event: "));
    assert_eq!(
        lines[summary + 11],
        "left in the simulated Asterisk: 0 channels, 0 bridges"
    );
    // Each call's events and commands were printed as they happened.
    assert!(
        stdout.contains("call 1 started")
            && stdout.contains("create agent PJSIP/alice")
            && stdout.contains("create leg1 PJSIP/noanswer-grace")
            && stdout.contains("create leg2 PJSIP/heidi"),
        "{stdout}"
    );
}

#[test]
fn run_refuses_a_bad_config_naming_file_line_and_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("router.toml");
    std::fs::write(
        &path,
        "[servers.pbx1]\nurl = \"http://127.0.0.1:8088/ari\"\nuser = \"a\"\npassword = \"b\"\n\n[tenants.acme]\napps = \"acme\"\nplugin = \"x.wasm\"\n",
    )
    .expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_callwasm"))
        .arg("run")
        .arg("--config")
        .arg(&path)
        .output()
        .expect("callwasm run");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        format!(
            "error: {}: line 7, column 8, key `tenants.acme.apps`: invalid type: string \"acme\", expected a sequence",
            path.display()
        )
    );
    // A config that parses but names a plugin that is not there: refused before starting.
    std::fs::write(
        &path,
        "[servers.pbx1]\nurl = \"http://127.0.0.1:8088/ari\"\nuser = \"a\"\npassword = \"b\"\n\n[tenants.acme]\napps = [\"acme\"]\nplugin = \"missing.wasm\"\n",
    )
    .expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_callwasm"))
        .arg("run")
        .arg("--config")
        .arg(&path)
        .output()
        .expect("callwasm run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(&format!(
            "error: tenant acme: plugin {}: cannot read {}",
            dir.path().join("missing.wasm").display(),
            dir.path().join("missing.wasm").display()
        )),
        "{stderr}"
    );
}

#[test]
fn the_shipped_example_config_is_valid() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/router.toml");
    let config = Config::load(&path).expect("examples/router.toml is valid");
    let acme = &config.tenants["acme"];
    assert_eq!(acme.apps, vec!["acme".to_string()]);
    assert_eq!(
        config.admin.as_ref().map(|a| a.listen.to_string()),
        Some("127.0.0.1:8089".to_string())
    );
    assert!(!acme.migrate);
    assert_eq!(acme.rollback.first_calls, 20);
    let settings = callwasm::router::config::settings_map(&acme.settings).expect("settings");
    assert_eq!(
        settings.get("route.sales").map(String::as_str),
        Some("PJSIP/alice")
    );
    assert_eq!(settings.get("dial_timeout").map(String::as_str), Some("25"));
    assert_eq!(
        acme.on_failure,
        callwasm::router::config::FailurePolicy::Continue {
            context: "callwasm-fallback".into(),
            extension: Some("s".into()),
            priority: Some(1),
        }
    );
}

#[tokio::test]
async fn timers_are_kept_by_the_host_and_state_comes_back_with_every_event() {
    let tenants = r#"
[tenants.clock]
apps = ["clock"]
plugin = "{rogue}"
[tenants.clock.settings]
misbehave = "timer"
ms = 150
gap = 5000
"#;
    let sim = Sim::start(sim_config()).await.expect("sim");
    let rig = Rig::start(sim, tenants).await;
    let mut call = InboundCall::new("clock", "5553333", "s");
    call.args = vec!["x".into()];
    let began = Instant::now();
    let caller = rig.sim.place_call(&call);
    rig.until(Duration::from_secs(30), "caller hung up", |sim| {
        sim.channel(&caller).is_none()
    })
    .await;
    let elapsed = began.elapsed();
    // t1 at 150 ms cancels t2 (due 5 s later, it would hang up with 42) and starts t3 (50 ms):
    // t3 is the second timer event the plugin counted in its state, so the cause is 15 + 2.
    assert_eq!(
        hangups_of(&rig.sim.journal(), &caller),
        vec![format!("DELETE /channels/{caller}?reason_code=17")]
    );
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    rig.stop().await;
}

#[tokio::test]
async fn one_router_serves_several_asterisk_servers() {
    let a = Sim::start(sim_config()).await.expect("sim a");
    let b = Sim::start(sim_config()).await.expect("sim b");
    let text = format!(
        "[servers.a]\nurl = \"{}\"\nuser = \"asterisk\"\npassword = \"asterisk\"\n[servers.b]\nurl = \"{}\"\nuser = \"asterisk\"\npassword = \"asterisk\"\n{}",
        a.base_url(),
        b.base_url(),
        EARLY_DIAL.replace(
            "{early_dial}",
            &common::plugin_path("early-dial").display().to_string()
        )
    );
    let mut config = Config::parse(&text).expect("config");
    let store = tempfile::tempdir().expect("store dir");
    config.store = callwasm::store::StoreConfig::in_dir(store.path());
    let router = Router::new(&config, Observer::none()).expect("router");
    let (shutdown, rx) = watch::channel(false);
    let task = tokio::spawn(router.run(rx));
    let began = Instant::now();
    while !(a.listening("router") && b.listening("router")) {
        assert!(
            began.elapsed() < Duration::from_secs(10),
            "not subscribed on both"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let on_a = a.place_call(&inbound("alice"));
    let on_b = b.place_call(&inbound("bob"));
    let began = Instant::now();
    while !(a.channel(&on_a).is_some_and(|c| c.state == "Up")
        && b.channel(&on_b).is_some_and(|c| c.state == "Up"))
    {
        assert!(
            began.elapsed() < Duration::from_secs(30),
            "calls not answered on both"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Each server's leg was created on that server.
    assert!(
        a.journal()
            .iter()
            .any(|l| l.contains("endpoint=PJSIP/alice"))
    );
    assert!(!a.journal().iter().any(|l| l.contains("endpoint=PJSIP/bob")));
    assert!(b.journal().iter().any(|l| l.contains("endpoint=PJSIP/bob")));
    let _ = shutdown.send(true);
    let _ = task.await;
}

/// The benchmark's floor client must issue exactly the router's REST requests for the seed
/// flow, or the router-to-floor ratio means nothing: one call through each, journals compared.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bench_floor_sends_the_same_requests_as_the_router() {
    let settings: String = callwasm::bench::dispatch::early_dial_settings()
        .iter()
        .map(|(k, v)| format!("{k} = {}\n", toml::Value::from(v.as_str())))
        .collect();
    let tenants = format!(
        "[tenants.bench]\napps = [\"bench\"]\nplugin = \"{{early_dial}}\"\nendpoints = [\"PJSIP/*\"]\n[tenants.bench.settings]\n{settings}"
    );
    let call = || {
        let mut call = InboundCall::new("bench", "5550100", "agent");
        call.args = vec!["agent".into()];
        call.behaviour.hangup_after_answer = Some(Duration::from_millis(100));
        call
    };
    let all_gone = |sim: &Sim| sim.channel_ids().is_empty() && sim.bridge_ids().is_empty();
    // Only the call's own requests, with its ids made generic.
    let normalise = |journal: Vec<String>, caller: &str, leg: &str, bridge: &str| -> Vec<String> {
        journal
            .into_iter()
            .filter(|l| l.contains(caller) || l.contains(leg) || l.contains(bridge))
            .map(|l| {
                l.replace(bridge, "{bridge}")
                    .replace(leg, "{leg}")
                    .replace(caller, "{caller}")
            })
            .collect()
    };

    let sim = Sim::start(sim_config()).await.expect("sim");
    let rig = Rig::start(sim, &tenants).await;
    let caller = rig.sim.place_call(&call());
    rig.until(Duration::from_secs(10), "router's call over", all_gone)
        .await;
    let journal = rig.sim.journal();
    let leg = journal
        .iter()
        .find_map(|l| l.split("channelId=").nth(1))
        .and_then(|rest| rest.split('&').next())
        .expect("leg created")
        .to_string();
    let bridge = leg.replace("-agent", "-b1");
    let router = normalise(journal, &caller, &leg, &bridge);
    rig.stop().await;

    let sim = Sim::start(sim_config()).await.expect("sim");
    let (base, ws) = (
        sim.base_url(),
        sim.base_url()
            .trim_end_matches("/ari")
            .replacen("http://", "ws://", 1),
    );
    let floor = tokio::spawn(async move {
        callwasm::bench::floor::run(&base, &ws, "bench", 1, Duration::from_secs(10)).await
    });
    let began = Instant::now();
    while !sim.listening("bench") {
        assert!(
            began.elapsed() < Duration::from_secs(30),
            "floor never subscribed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let caller = sim.place_call(&call());
    let outcome = floor.await.expect("floor task").expect("floor ran");
    assert_eq!((outcome.completed, outcome.failed), (1, 0));
    let journal = sim.journal();
    let floor = normalise(
        journal,
        &caller,
        &format!("floor-{caller}"),
        &format!("floorb-{caller}"),
    );
    assert_eq!(floor, router);
    assert_eq!(router.len(), 7, "{router:#?}");
}

/// A create Asterisk refuses (500, allocation failed) stops the reply there: the set-var that
/// would have travelled in its body is not sent on its own, nor is anything after it; the
/// plugin hears `command-failed` for command 0 and hangs the caller up.
#[tokio::test]
async fn a_refused_create_takes_its_folded_set_vars_with_it() {
    let tenants = r#"
[tenants.acme]
apps = ["router"]
plugin = "{early_dial}"
endpoints = ["XYZ/*"]
[tenants.acme.settings]
endpoint = "XYZ/{target}"
caller_id_number = "5551000"
vars = "X_TENANT=acme"
"#;
    let sim = Sim::start(sim_config()).await.expect("sim");
    let mut rig = Rig::start(sim, tenants).await;
    let caller = rig.sim.place_call(&inbound("alice"));
    rig.until(Duration::from_secs(30), "caller hung up", |sim| {
        sim.channel(&caller).is_none()
    })
    .await;
    let journal = rig.sim.journal();
    let call = flow_of(&journal, &caller);
    let leg = call
        .first()
        .and_then(|l| l.split("channelId=").nth(1))
        .and_then(|rest| rest.split('&').next())
        .expect("create sent")
        .to_string();
    assert_eq!(
        call,
        vec![
            format!(
                "POST /channels/create?app=router&channelId={leg}&endpoint=XYZ/alice variables: CONNECTEDLINE(num)=5551000, X_TENANT=acme"
            ),
            format!("DELETE /channels/{caller}?reason_code=41"),
        ]
    );
    let failed: Vec<wit::Failure> = rig
        .drain()
        .into_iter()
        .filter_map(|o| match o {
            Observation::Handled {
                event: wit::Event::CommandFailed(f),
                ..
            } => Some(f),
            _ => None,
        })
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(
        (
            failed[0].index,
            failed[0].command.as_str(),
            failed[0].status
        ),
        (0, "create", 500)
    );
    rig.stop().await;
}

/// Whatever order Asterisk answers a create and announces the leg in (t4: the 200 first, the
/// leg not yet in the app, or the StasisStart first), the router adds the leg to the bridge
/// and dials it only once it is in the app: every call connects and nothing is refused.
#[tokio::test]
async fn the_seed_flow_waits_for_the_legs_entry_whatever_order_asterisk_answers_in() {
    use callwasm::sim::CreateOrder;
    for order in [
        CreateOrder::LateEntry,
        CreateOrder::ResponseFirst,
        CreateOrder::StasisStartFirst,
    ] {
        let sim = Sim::start(SimConfig {
            create_order: order,
            ..sim_config()
        })
        .await
        .expect("sim");
        let mut rig = Rig::start(sim, EARLY_DIAL).await;
        for _ in 0..5 {
            let mut call = inbound("alice");
            call.behaviour.hangup_after_answer = Some(Duration::from_millis(50));
            rig.sim.place_call(&call);
        }
        rig.until(Duration::from_secs(10), "all calls over", |sim| {
            sim.channel_ids().is_empty() && sim.bridge_ids().is_empty()
        })
        .await;
        rig.until_no_calls(Duration::from_secs(30)).await;
        let journal = rig.sim.journal();
        let adds: Vec<&String> = journal
            .iter()
            .filter(|l| l.contains("/addChannel"))
            .collect();
        assert_eq!(adds.len(), 5, "{order:?}: {journal:#?}");
        let failed: Vec<String> = rig
            .drain()
            .into_iter()
            .filter_map(|o| match o {
                Observation::Handled {
                    event: wit::Event::CommandFailed(f),
                    ..
                } => Some(format!("{} {} {}", f.command, f.status, f.message)),
                Observation::PluginFailed { reason, .. } => Some(reason),
                _ => None,
            })
            .collect();
        assert_eq!(failed, Vec::<String>::new(), "{order:?}");
        rig.stop().await;
    }
}

/// A caller already sitting in a tenant's app when the router starts (it entered while
/// another client held the app, whose socket then dropped) gets the failure policy within
/// about a second instead of silence; a channel in an app no tenant serves is left alone. A
/// call into an app no socket holds never enters it (Stasis() fails, as on Asterisk).
#[tokio::test]
async fn a_caller_left_in_the_app_with_no_call_gets_the_failure_policy() {
    let sim = Sim::start(sim_config()).await.expect("sim");
    let missed = sim.inbound_call("router", ("Carol", "5550300"), "100", &["100"]);
    assert!(sim.channel(&missed).is_none());
    assert_eq!(sim.refused_entries(), 1);
    let url = format!(
        "{}/events?app=router,someone-else&api_key=asterisk:asterisk",
        sim.base_url().replacen("http", "ws", 1)
    );
    let (holder, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("a client holding the apps");
    let stranded = sim.inbound_call("router", ("Alice", "5550100"), "100", &["100"]);
    let elsewhere = sim.inbound_call("someone-else", ("Bob", "5550200"), "200", &["200"]);
    drop(holder);
    let began = Instant::now();
    while sim.listening("router") {
        assert!(
            began.elapsed() < Duration::from_secs(30),
            "the holder's socket never closed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let tenants = EARLY_DIAL.replace(
        "[tenants.acme.settings]",
        "on_failure = { action = \"hangup\", cause = 34 }\n[tenants.acme.settings]",
    );
    let rig = Rig::start(sim, &tenants).await;
    rig.until(
        Duration::from_secs(30),
        "the stranded caller hung up",
        |sim| sim.channel(&stranded).is_none(),
    )
    .await;
    let journal = rig.sim.journal();
    assert!(
        journal.contains(&format!("DELETE /channels/{stranded}?reason_code=34")),
        "{journal:#?}"
    );
    assert!(rig.sim.channel(&elsewhere).is_some());
    assert_eq!(rig.table.len(), 0);
    rig.stop().await;
}

/// examples/sim.toml and examples/router.toml are a working pair: the simulator's generated
/// calls enter the app the router's tenant serves and are routed by its plugin (only the
/// listening addresses differ here, so the test runs beside anything on 8088/8089).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_configs_work_together() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let file = callwasm::sim::SimFile::load(&examples.join("sim.toml")).expect("sim.toml");
    let mut sim_config = file.config();
    sim_config.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    sim_config.journal = true;
    let sim = std::sync::Arc::new(Sim::start(sim_config).await.expect("sim"));
    // The example's plugin path needs the plugin built where CARGO_TARGET_DIR says.
    common::plugin_path("early-dial");
    let mut config = Config::load(&examples.join("router.toml")).expect("router.toml");
    config.admin = None;
    let store = tempfile::tempdir().expect("store dir");
    config.store = callwasm::store::StoreConfig::in_dir(store.path());
    for server in config.servers.values_mut() {
        server.url = sim.base_url();
    }
    let (observer, mut observations) = Observer::channel();
    let router = Router::new(&config, observer).expect("router");
    let (stop, shutdown) = watch::channel(false);
    let serving = tokio::spawn(router.run(shutdown));
    let mut placed = Vec::new();
    for traffic in &file.traffic {
        assert_eq!(
            traffic.app, "acme",
            "the simulator calls the app the router serves"
        );
        placed.push(sim.run_traffic(traffic).await.expect("traffic"));
    }
    let calls: usize = placed.iter().map(|p| p.channels.len()).sum();
    assert_eq!(calls, 12);
    let began = Instant::now();
    while !sim.channel_ids().is_empty() {
        assert!(began.elapsed() < Duration::from_secs(60), "calls still up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut opened = 0;
    let mut failed = Vec::new();
    while let Ok(o) = observations.try_recv() {
        match o {
            Observation::Opened { tenant, .. } => {
                assert_eq!(tenant, "acme");
                opened += 1;
            }
            Observation::PluginFailed { reason, .. } => failed.push(reason),
            _ => {}
        }
    }
    assert_eq!((opened, failed), (12, Vec::<String>::new()));
    // Each alice call was routed to PJSIP/alice, as the plugin's endpoint template says.
    let journal = sim.journal();
    let creates = journal
        .iter()
        .filter(|l| l.starts_with("POST /channels/create?") && l.contains("endpoint=PJSIP/alice"))
        .count();
    assert_eq!(creates, 10, "{journal:#?}");
    let _ = stop.send(true);
    let _ = serving.await;
}

/// `callwasm run` against an Asterisk that refuses the user, or a URL that is not ARI: it
/// stops at once with exit code 2 and says what to check, instead of retrying forever.
/// The last line `callwasm run` wrote before it stopped with exit code 2 (bad input).
fn stopped_with(out: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    stderr.lines().last().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_stops_on_a_wrong_password_or_a_url_that_is_not_ari() {
    let sim = Sim::start(SimConfig::default()).await.expect("sim");
    let plugin = common::plugin_path("early-dial");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("router.toml");
    let run = |url: String, password: &str, app: &str| {
        std::fs::write(
            &path,
            format!(
                "[servers.pbx1]\nurl = \"{url}\"\nuser = \"asterisk\"\npassword = \"{password}\"\n\n[tenants.acme]\napps = [\"{app}\"]\nplugin = {:?}\n",
                plugin.display().to_string()
            ),
        )
        .expect("write");
        let path = path.clone();
        let state = dir.path().to_path_buf();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_callwasm"))
                .arg("run")
                .arg("--config")
                .arg(&path)
                .env("STATE_DIRECTORY", state)
                .env_remove("CALLWASM_LOG")
                .output()
                .expect("callwasm run")
        })
    };
    let out = run(sim.base_url(), "wrong", "acme").await.expect("run");
    assert_eq!(
        stopped_with(&out),
        format!(
            "error: servers.pbx1: Asterisk at {} refused user \"asterisk\" (401): check the user and password in the router's config against ari.conf",
            sim.base_url()
        )
    );
    let not_ari = format!("http://{}/nothing", sim.addr());
    let out = run(not_ari.clone(), "asterisk", "acme").await.expect("run");
    assert_eq!(
        stopped_with(&out),
        format!(
            "error: servers.pbx1: {not_ari} is not an ARI base URL (GET /asterisk/info answered 404): it ends in /ari, and http.conf must enable the HTTP server and ari.conf ARI"
        )
    );
    // An application name Asterisk would refuse to register (res/ari/ari_websockets.c: longer
    // than 73 bytes) stops the router before it connects.
    let long_app = "a".repeat(74);
    let out = run(sim.base_url(), "asterisk", &long_app)
        .await
        .expect("run");
    assert_eq!(
        stopped_with(&out),
        format!(
            "error: {}: tenants.acme.apps: \"{long_app}\" is 74 bytes long; Asterisk registers Stasis application names of at most 73",
            path.display()
        )
    );
}

/// The versions a tenant loaded survive a restart in the call store: a router started on a
/// new plugin file still holds the old version (by its hash, not compiled until needed) and
/// can roll back to it; a router with `durable = false` keeps nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_outlive_a_restart_in_the_call_store() {
    let store = tempfile::tempdir().expect("store dir");
    let config = |plugin: &str| {
        let text = format!(
            "instance = \"kept\"\n[servers.pbx1]\nurl = \"http://127.0.0.1:9/ari\"\nuser = \"a\"\npassword = \"b\"\n\n[tenants.acme]\napps = [\"acme\"]\nplugin = {:?}\n",
            common::plugin_path(plugin).display().to_string()
        );
        let mut config = Config::parse(&text).expect("config");
        config.store = callwasm::store::StoreConfig::in_dir(store.path());
        config
    };
    let blue = {
        let router = Router::new(&config("swap-blue"), Observer::none()).expect("first router");
        router.tenants()["acme"].versions.live().hash.clone()
    }; // dropped: its store is closed and written
    let router = Router::new(&config("swap-green"), Observer::none()).expect("restarted router");
    let acme = router.tenants()["acme"].clone();
    let history: Vec<(String, bool)> = acme
        .versions
        .history()
        .iter()
        .map(|v| (v.label.clone().unwrap_or_default(), v.loaded()))
        .collect();
    assert_eq!(
        history,
        [
            ("swap_blue".to_string(), false),
            ("swap_green".to_string(), true)
        ]
    );
    let back = acme
        .rollback(&blue[..12])
        .expect("roll back to the kept version");
    assert_eq!(back.hash, blue);
    assert!(back.loaded());
    drop((acme, router));

    let mut memory = config("swap-green");
    memory.store = callwasm::store::StoreConfig::in_memory();
    let router = Router::new(&memory, Observer::none()).expect("router without a store");
    assert_eq!(router.tenants()["acme"].versions.history().len(), 1);
}

/// A router killed with SIGKILL while its calls ring is restarted on the same store and
/// carries them on: each leg answers into the call its router set up before the kill, no leg
/// is dialed twice, and when the callers hang up every channel and bridge is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_killed_mid_call_carries_its_calls_on_after_a_restart() {
    let mut config = sim_config();
    config.endpoints.insert(
        0,
        callwasm::sim::EndpointRule::new(
            "PJSIP/slow*",
            callwasm::sim::Behaviour::Answer {
                after: Duration::from_millis(2500),
            },
        ),
    );
    let sim = Sim::start(config).await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("router.toml");
    write_run_config(
        &path,
        &sim,
        &EARLY_DIAL.replace("dial_timeout = 2", "dial_timeout = 30"),
    );
    let log = dir.path().join("routers.log");
    let start = || RunningRouter::start(&path, dir.path(), &log);
    let mut first = start();
    wait_for("the first router listens", || sim.listening("router")).await;
    let mut callers = Vec::new();
    for n in 0..4 {
        let mut call = inbound(&format!("slow{n}"));
        // Hangs up once answered, whenever the restarted router gets to it (not on a clock
        // a slow restart could outrun).
        call.behaviour.hangup_after_answer = Some(Duration::from_millis(500));
        callers.push(sim.place_call(&call));
    }
    let dials = || {
        sim.journal()
            .iter()
            .filter(|r| r.starts_with("POST /channels/") && r.contains("/dial"))
            .count()
    };
    wait_for("every leg dialed", || dials() == 4).await;
    first.kill();
    let second = start();
    // The legs answer and the callers hang up while the second router drives the calls.
    wait_for("every channel and bridge gone", || {
        sim.channel_ids().is_empty() && sim.bridge_ids().is_empty()
    })
    .await;
    let journal = sim.journal();
    drop(second);
    let log = std::fs::read_to_string(&log).expect("the routers' log");
    assert_eq!(
        log.matches("call carried on after a restart").count(),
        4,
        "{log}"
    );
    assert_eq!(dials(), 4, "no leg dialed twice: {journal:#?}");
    for caller in &callers {
        // Each caller was answered (early-dial answers it when its leg answers) by the
        // second router, and hung up by the simulated phone, not by a failure policy.
        assert!(
            journal.contains(&format!("POST /channels/{caller}/answer")),
            "{caller} answered: {journal:#?}"
        );
        assert!(
            !journal
                .iter()
                .any(|r| r.starts_with(&format!("DELETE /channels/{caller}"))),
            "{caller} not hung up by the router: {journal:#?}"
        );
    }
    assert!(log.contains("outcome=\"completed\""), "{log}");
}

/// A router killed in the middle of a reply (its create sent, its dial not yet) is restarted
/// on the same store and finishes the reply: the leg is dialed, once, and the call goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_cut_by_a_kill_before_its_dial_is_finished_with_one_dial() {
    let sim = Sim::start(sim_config()).await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("router.toml");
    write_run_config(&path, &sim, EARLY_DIAL);
    let log = dir.path().join("routers.log");
    let start = || RunningRouter::start(&path, dir.path(), &log);
    let mut first = start();
    wait_for("the first router listens", || sim.listening("router")).await;
    // Asterisk answers slowly: the reply stops at its create for three seconds.
    sim.faults(|f| f.rest_delay = Duration::from_secs(3));
    let mut call = inbound("alice");
    call.behaviour.hangup_after_answer = Some(Duration::from_millis(300));
    let caller = sim.place_call(&call);
    let sent = |what: &str| sim.journal().iter().filter(|r| r.starts_with(what)).count();
    wait_for("the create sent", || sent("POST /channels/create") == 1).await;
    // The reply was queued for the store before its first command went out; wait until a
    // commit has put the call's row in the write-ahead log (the call id is in it as text),
    // rather than for a time a loaded machine could outlast.
    let call_id = sim
        .journal()
        .iter()
        .find_map(|r| r.split("channelId=cw-").nth(1))
        .and_then(|rest| rest.split("-agent").next())
        .map(String::from)
        .expect("the leg's id names the call");
    let wal = dir.path().join("r1.calls.db-wal");
    wait_for("the reply committed", || {
        std::fs::read(&wal).is_ok_and(|bytes| {
            bytes
                .windows(call_id.len())
                .any(|w| w == call_id.as_bytes())
        })
    })
    .await;
    first.kill();
    assert_eq!(sent("POST /channels/cw-"), 0, "no dial before the kill");
    sim.faults(|f| f.rest_delay = Duration::ZERO);
    let second = start();
    wait_for(
        "the caller answered and gone, and everything with it",
        || {
            sim.channel(&caller).is_none()
                && sim.channel_ids().is_empty()
                && sim.bridge_ids().is_empty()
        },
    )
    .await;
    let journal = sim.journal();
    drop(second);
    let log = std::fs::read_to_string(&log).expect("the routers' log");
    assert!(
        log.contains("finishing the reply a restart interrupted"),
        "{log}"
    );
    let dials: Vec<&String> = journal
        .iter()
        .filter(|r| r.starts_with("POST /channels/cw-") && r.contains("/dial"))
        .collect();
    assert_eq!(dials.len(), 1, "the leg dialed once: {journal:#?}");
    assert!(
        journal.contains(&format!("POST /channels/{caller}/answer")),
        "the call went on to its answer: {journal:#?}"
    );
}

/// Writes a `callwasm run` config at `path`: instance r1, the simulator as server pbx1, and
/// `tenants` (early-dial's path filled in).
fn write_run_config(path: &std::path::Path, sim: &Sim, tenants: &str) {
    std::fs::write(
        path,
        format!(
            "instance = \"r1\"\n[servers.pbx1]\nurl = \"{}\"\nuser = \"asterisk\"\npassword = \"asterisk\"\n{}",
            sim.base_url(),
            tenants.replace(
                "{early_dial}",
                &common::plugin_path("early-dial").display().to_string()
            )
        ),
    )
    .expect("write config");
}

/// `callwasm run` in its own process, appending its log to a file; killed (SIGKILL) when
/// dropped, so a failing test leaves no router running behind it.
struct RunningRouter(std::process::Child);

impl RunningRouter {
    fn start(config: &std::path::Path, state: &std::path::Path, log: &std::path::Path) -> Self {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("log file");
        RunningRouter(
            std::process::Command::new(env!("CARGO_BIN_EXE_callwasm"))
                .args(["run", "--config"])
                .arg(config)
                .env("STATE_DIRECTORY", state)
                .stdout(std::process::Stdio::null())
                .stderr(log)
                .spawn()
                .expect("callwasm run"),
        )
    }

    /// SIGKILL, and wait for it to be gone.
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for RunningRouter {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits until `done` holds, or fails naming `what` after 30 s.
async fn wait_for(what: &str, done: impl Fn() -> bool) {
    let began = Instant::now();
    while !done() {
        assert!(
            began.elapsed() < Duration::from_secs(30),
            "timed out: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
