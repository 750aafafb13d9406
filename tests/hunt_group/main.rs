//! The hunt group's scenario table (scenarios.toml) run against each language's build: Rust
//! (plugins/hunt-group), Python (examples/python-hunt-group, componentize-py) and JavaScript
//! (examples/js-hunt-group, jco). Each row runs end to end: a simulated Asterisk whose
//! endpoints behave as the row says, the real router with the component as the tenant's
//! plugin, and the REST requests the simulator received compared with the row's, exactly.

#[path = "../../host/tests/common/mod.rs"]
mod common;
#[path = "../support/mod.rs"]
mod support;

use callwasm::sim::{EndpointSpec, InboundCall, Sim, SimConfig};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};
use support::Rig;

/// One row of scenarios.toml (its header says what each field means).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    name: String,
    settings: BTreeMap<String, String>,
    endpoints: Vec<EndpointSpec>,
    #[serde(default)]
    caller_hangs_up_after_ms: Option<u64>,
    #[serde(default)]
    bridged: Option<String>,
    #[serde(default)]
    continues: bool,
    requests: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    scenario: Vec<Scenario>,
}

fn scenarios() -> Vec<Scenario> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/hunt_group/scenarios.toml");
    let text = std::fs::read_to_string(&path).expect("read scenarios.toml");
    let table: Table = toml::from_str(&text).expect("scenarios.toml parses");
    table.scenario
}

/// The tenant's config: the component and the row's settings.
fn tenant(plugin: &Path, settings: &BTreeMap<String, String>) -> String {
    let mut text = format!(
        "[tenants.acme]\napps = [\"router\"]\nplugin = {}\nendpoints = [\"PJSIP/*\"]\ncontexts = [\"default\"]\n\
         [tenants.acme.settings]\n",
        toml::Value::from(plugin.display().to_string())
    );
    for (key, value) in settings {
        text.push_str(&format!("{key} = {}\n", toml::Value::from(value.as_str())));
    }
    text
}

/// Runs one row against one build; returns what went wrong, if anything.
async fn run(scenario: &Scenario, plugin: &Path) -> Result<(), String> {
    let mut config = SimConfig {
        journal: true,
        busy_hangup_after: Duration::from_millis(300),
        ..SimConfig::default()
    };
    let rules: Vec<_> = scenario.endpoints.iter().map(EndpointSpec::rule).collect();
    config.endpoints.splice(0..0, rules);
    let sim = Sim::start(config).await.map_err(|e| format!("sim: {e}"))?;
    let rig = Rig::start(sim, &tenant(plugin, &scenario.settings)).await;
    let mut inbound = InboundCall::new("router", "5550100", "600");
    inbound.caller_name = "Alice Caller".into();
    if let Some(ms) = scenario.caller_hangs_up_after_ms {
        inbound.behaviour.hangup_after = Some(Duration::from_millis(ms));
    }
    let caller = rig.sim.place_call(&inbound);
    let call = wait_for(Duration::from_secs(30), || {
        rig.table.calls().first().map(|(id, _)| id.clone())
    })
    .await
    .ok_or("the router never opened the call")?;
    let leg = |handle: &str| format!("cw-{call}-{handle}");

    if let Some(winner) = &scenario.bridged {
        let want = vec![caller.clone(), leg(winner)];
        let bridged = wait_for(Duration::from_secs(10), || {
            let b = rig.sim.bridge(&leg("b1"))?;
            let up = rig.sim.channel(&caller).is_some_and(|c| c.state == "Up");
            let others_gone = rig
                .sim
                .channel_ids()
                .iter()
                .all(|id| *id == caller || *id == leg(winner));
            (up && others_gone && b.channels == want).then_some(())
        })
        .await;
        if bridged.is_none() {
            return Err(format!(
                "caller never bridged with {winner} alone: channels {:?}, bridge {:?}\n{:#?}",
                rig.sim.channel_ids(),
                rig.sim.bridge(&leg("b1")).map(|b| b.channels),
                rig.sim.journal()
            ));
        }
        rig.sim.hang_up(&caller, 16);
    }
    let ended = wait_for(Duration::from_secs(10), || {
        let channels = rig.sim.channel_ids();
        let channels_done = if scenario.continues {
            channels == vec![caller.clone()]
        } else {
            channels.is_empty()
        };
        (channels_done && rig.sim.bridge_ids().is_empty() && rig.table.is_empty()).then_some(())
    })
    .await;
    let journal: Vec<String> = rig
        .sim
        .journal()
        .into_iter()
        .filter(|l| l.contains("cw-") || l.contains(&caller))
        .collect();
    rig.stop().await;
    if ended.is_none() {
        return Err(format!(
            "the call never ended as it should (continues: {}); requests so far: {journal:#?}",
            scenario.continues
        ));
    }
    let want: Vec<String> = scenario
        .requests
        .iter()
        .map(|r| r.replace("{call}", &call).replace("{caller}", &caller))
        .collect();
    if journal != want {
        return Err(format!(
            "requests differ\n got: {journal:#?}\nwant: {want:#?}"
        ));
    }
    Ok(())
}

/// Polls `probe` every 10 ms until it gives a value or `limit` passes.
async fn wait_for<T>(limit: Duration, probe: impl Fn() -> Option<T>) -> Option<T> {
    let began = Instant::now();
    loop {
        if let Some(v) = probe() {
            return Some(v);
        }
        if began.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Every row against one language's build; all failures reported together.
async fn table_passes_for(language: &str) {
    let plugin = common::hunt_groups()
        .into_iter()
        .find(|(l, _)| *l == language)
        .map(|(_, p)| p)
        .expect("a build for the language");
    let mut failed = Vec::new();
    for scenario in scenarios() {
        if let Err(e) = run(&scenario, &plugin).await {
            failed.push(format!("{language}: {}: {e}", scenario.name));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scenario_table_passes_for_the_rust_build() {
    table_passes_for("rust").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scenario_table_passes_for_the_python_build() {
    table_passes_for("python").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scenario_table_passes_for_the_javascript_build() {
    table_passes_for("javascript").await;
}

#[test]
fn the_table_covers_what_the_hunt_group_must_show() {
    let names: Vec<String> = scenarios().into_iter().map(|s| s.name).collect();
    for must in [
        "sequential: the first rings out, the second answers",
        "parallel: one answers, the others are hung up",
        "parallel: all busy, the prompt, then hung up busy",
        "sequential: nobody answers, the prompt, then hung up no-answer",
        "parallel: the caller hangs up while the legs ring",
    ] {
        assert!(names.iter().any(|n| n == must), "missing row: {must}");
    }
}

/// The three builds keep the same state bytes, so a call can change language mid-hunt: it
/// starts on the Rust build, moves to the Python build at its next event after a swap, then to
/// the JavaScript build, and the hunt goes on as if one build had run it all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_moves_from_rust_to_python_to_javascript_mid_hunt() {
    let builds: BTreeMap<&str, std::path::PathBuf> = common::hunt_groups().into_iter().collect();
    // Compile every build into the code cache before the call's clock starts: under load the
    // Python component once took 24 s to compile, nearly the members' ring timeout. The
    // pushes below then only load compiled code; what the test shows is the move itself.
    {
        let runtime = callwasm::runtime::Runtime::new(callwasm::runtime::RuntimeConfig::default())
            .expect("runtime");
        for path in builds.values() {
            runtime.load_file(path).expect("the build compiles");
        }
    }
    let mut config = SimConfig {
        journal: true,
        ..SimConfig::default()
    };
    for (pattern, behaviour) in [
        ("PJSIP/alice", "ring-forever"),
        ("PJSIP/bob", "ring-forever"),
        ("PJSIP/carol", "answer"),
    ] {
        let spec: EndpointSpec = toml::from_str(&format!(
            "pattern = \"{pattern}\"\nbehaviour = \"{behaviour}\"\nafter_ms = 200"
        ))
        .expect("endpoint rule");
        config.endpoints.insert(0, spec.rule());
    }
    let sim = Sim::start(config).await.expect("sim");
    let mut settings = BTreeMap::new();
    settings.insert(
        "members".into(),
        "PJSIP/alice, PJSIP/bob, PJSIP/carol".into(),
    );
    settings.insert("ring_timeout".into(), "30".into());
    let tenants = tenant(&builds["rust"], &settings).replace(
        "contexts = [\"default\"]\n",
        "contexts = [\"default\"]\nmigrate = true\n",
    );
    let rig = Rig::start(sim, &tenants).await;
    let caller = rig
        .sim
        .place_call(&InboundCall::new("router", "5550100", "600"));
    let call = wait_for(Duration::from_secs(30), || {
        rig.table.calls().first().map(|(id, _)| id.clone())
    })
    .await
    .expect("call opened");
    let leg = |handle: &str| format!("cw-{call}-{handle}");
    let dialed = |handle: &str| {
        let line = format!(
            "POST /channels/{}/dial?caller={caller}&timeout=30",
            leg(handle)
        );
        move |sim: &Sim| sim.journal().contains(&line)
    };

    rig.until(Duration::from_secs(30), "leg1 dialed", dialed("leg1"))
        .await;
    for (language, next) in [("python", "leg2"), ("javascript", "leg3")] {
        let bytes = std::fs::read(&builds[language]).expect("component");
        let (status, answer) = support::admin(
            rig.admin,
            "PUT",
            &format!("/tenants/acme/plugin?label={language}"),
            Some(support::TOKEN),
            bytes,
        )
        .await;
        assert_eq!(status, 201, "{answer}");
        // The ringing member rings out: the next event goes to the new build.
        let ringing = if next == "leg2" { "leg1" } else { "leg2" };
        assert!(rig.sim.hang_up(&leg(ringing), 19), "{ringing} was ringing");
        rig.until(Duration::from_secs(10), "next member dialed", dialed(next))
            .await;
    }
    rig.until(
        Duration::from_secs(10),
        "caller bridged with carol",
        |sim| {
            sim.channel(&caller).is_some_and(|c| c.state == "Up")
                && sim
                    .bridge(&leg("b1"))
                    .is_some_and(|b| b.channels == vec![caller.clone(), leg("leg3")])
        },
    )
    .await;
    rig.sim.hang_up(&caller, 16);
    rig.until(Duration::from_secs(10), "everything gone", |sim| {
        sim.channel_ids().is_empty() && sim.bridge_ids().is_empty()
    })
    .await;

    let journal: Vec<String> = rig
        .sim
        .journal()
        .into_iter()
        .filter(|l| l.contains("cw-") || l.contains(&caller))
        .collect();
    let mut want = vec![format!("POST /bridges?bridgeId={}&type=mixing", leg("b1"))];
    for (n, member) in ["alice", "bob", "carol"].iter().enumerate() {
        let handle = format!("leg{}", n + 1);
        want.push(format!(
            "POST /channels/create?app=router&channelId={}&endpoint=PJSIP/{member}",
            leg(&handle)
        ));
        want.push(match n {
            0 => format!(
                "POST /bridges/{}/addChannel?channel={caller},{}",
                leg("b1"),
                leg(&handle)
            ),
            _ => format!(
                "POST /bridges/{}/addChannel?channel={}",
                leg("b1"),
                leg(&handle)
            ),
        });
        want.push(format!(
            "POST /channels/{}/dial?caller={caller}&timeout=30",
            leg(&handle)
        ));
    }
    want.push(format!("POST /channels/{caller}/answer"));
    want.push(format!("DELETE /channels/{}?reason_code=16", leg("leg3")));
    want.push(format!("DELETE /bridges/{}", leg("b1")));
    assert_eq!(journal, want);

    // Each version held the call once: Rust from the start, then Python, then JavaScript.
    let (_, tenant) = support::admin(
        rig.admin,
        "GET",
        "/tenants/acme",
        Some(support::TOKEN),
        vec![],
    )
    .await;
    let served: Vec<(String, u64)> = tenant["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| {
            (
                v["label"].as_str().unwrap_or_default().to_string(),
                v["served"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        served,
        vec![
            ("hunt_group".to_string(), 1),
            ("python".to_string(), 1),
            ("javascript".to_string(), 1)
        ],
        "{tenant}"
    );
    rig.stop().await;
}
