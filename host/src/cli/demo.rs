//! `callwasm demo`: the router on its embedded default. Starts the simulated Asterisk in this
//! process, loads the shipped plugins (early-dial for tenant `demo`, hunt-group for tenant
//! `sales`), places a mix of generated calls (answered, busy, no answer, unavailable, early
//! media, the caller hanging up while the leg rings, a hunt group whose first member rings out),
//! prints each call's events and the plugins' commands as they happen, and a summary.

use super::EXIT_BAD_INPUT;
use callwasm::router::Router;
use callwasm::router::config::Config;
use callwasm::router::observe::{
    Observation, Observer, command_text, dial_status_name, event_text,
};
use callwasm::runtime as wit;
use callwasm::sim::{InboundCall, Sim, SimConfig};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Directory holding the shipped plugins' components (scripts/build-plugins puts them in
    /// <target>/wasm32-wasip2/plugin). Default: that directory under $CARGO_TARGET_DIR or
    /// ./target.
    #[arg(long)]
    plugins: Option<PathBuf>,
    /// Print only the summary.
    #[arg(long)]
    quiet: bool,
}

/// One generated call: who calls, what they dial, how long they stay.
struct Scripted {
    /// The Stasis application, which picks the tenant.
    app: &'static str,
    number: &'static str,
    exten: &'static str,
    hangup_after_ms: Option<u64>,
    what: &'static str,
}

const CALLS: &[Scripted] = &[
    Scripted {
        app: "demo",
        number: "5550101",
        exten: "alice",
        hangup_after_ms: Some(2500),
        what: "answers after 100 ms",
    },
    Scripted {
        app: "demo",
        number: "5550102",
        exten: "busy-bob",
        hangup_after_ms: None,
        what: "is busy",
    },
    Scripted {
        app: "demo",
        number: "5550103",
        exten: "noanswer-carol",
        hangup_after_ms: None,
        what: "rings until the 3 s dial timeout",
    },
    Scripted {
        app: "demo",
        number: "5550104",
        exten: "unavailable-dave",
        hangup_after_ms: None,
        what: "is unreachable",
    },
    Scripted {
        app: "demo",
        number: "5550105",
        exten: "noanswer-erin",
        hangup_after_ms: Some(1200),
        what: "rings; the caller gives up after 1.2 s",
    },
    Scripted {
        app: "demo",
        number: "5550106",
        exten: "early-frank",
        hangup_after_ms: Some(2000),
        what: "sends early media, answers after 200 ms",
    },
    Scripted {
        app: "sales",
        number: "5550107",
        exten: "sales",
        hangup_after_ms: Some(3500),
        what: "is the sales hunt group: noanswer-grace rings out after 1 s, then heidi answers",
    },
];

/// What became of a call, from what the plugin saw.
#[derive(Default)]
struct Story {
    caller: String,
    exten: String,
    answered: bool,
    settled: Option<String>,
    caller_left_first: bool,
    failed: Option<String>,
    ended: bool,
    events: u32,
    plugin_time: Duration,
}

impl Story {
    fn outcome(&self) -> String {
        if let Some(reason) = &self.failed {
            return format!("plugin failed ({reason})");
        }
        if self.answered {
            return "answered".into();
        }
        if self.caller_left_first {
            return "caller hung up while ringing".into();
        }
        match self.settled.as_deref() {
            Some("no-answer") => "no answer".into(),
            Some(s) => s.to_string(),
            None => "unfinished".into(),
        }
    }
}

fn default_plugins() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("wasm32-wasip2/plugin")
}

pub fn run(args: DemoArgs) -> ExitCode {
    let dir = args.plugins.unwrap_or_else(default_plugins);
    let plugin = dir.join("early_dial.wasm");
    let hunt = dir.join("hunt_group.wasm");
    for component in [&plugin, &hunt] {
        if !component.exists() {
            eprintln!(
                "error: {} is missing: build the shipped plugins first (scripts/build-plugins)",
                component.display()
            );
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    }
    let Some(runtime) = super::async_runtime() else {
        return ExitCode::FAILURE;
    };
    runtime.block_on(demo(plugin, hunt, args.quiet))
}

async fn demo(plugin: PathBuf, hunt: PathBuf, quiet: bool) -> ExitCode {
    // A busy channel lingers 1 s here (5 s on a real Asterisk) to keep the demo short.
    let sim_config = SimConfig {
        busy_hangup_after: Duration::from_secs(1),
        ..SimConfig::default()
    };
    let sim = match Sim::start(sim_config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot start the simulated Asterisk: {e}");
            return ExitCode::FAILURE;
        }
    };
    let text = format!(
        r#"
[servers.sim]
url = "{url}"
user = "asterisk"
password = "asterisk"

[tenants.demo]
apps = ["demo"]
plugin = {plugin:?}
endpoints = ["PJSIP/*"]
[tenants.demo.settings]
endpoint = "PJSIP/{{target}}"
caller_id_number = "5551000"
caller_id_name = "callwasm demo"
vars = "X_TENANT=demo"
dial_timeout = 3
prompt = "sound:vm-nobodyavail"

[tenants.sales]
apps = ["sales"]
plugin = {hunt:?}
endpoints = ["PJSIP/*"]
[tenants.sales.settings]
members = "PJSIP/noanswer-grace, PJSIP/heidi"
strategy = "sequential"
ring_timeout = 1
"#,
        url = sim.base_url(),
        plugin = plugin.display().to_string(),
        hunt = hunt.display().to_string(),
    );
    let mut config = match Config::parse(&text) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: the demo's own config: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The demo's calls are its own: their store goes with it.
    let store = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("error: no temporary directory for the demo's call store: {e}");
            return ExitCode::FAILURE;
        }
    };
    config.store = callwasm::store::StoreConfig::in_dir(store.path());
    let (observer, mut observations) = Observer::channel();
    let router = match Router::new(&config, observer) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    println!("callwasm demo");
    println!("  simulated Asterisk  {}", sim.base_url());
    println!("  tenant demo         {}", plugin.display());
    println!("  tenant sales        {}", hunt.display());
    println!(
        "  each line: seconds since start, the call's event -> the plugin's commands [its run time]"
    );
    println!();
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let serving = tokio::spawn(router.run(shutdown));
    let began = Instant::now();
    while !(sim.listening("demo") && sim.listening("sales")) {
        if began.elapsed() > Duration::from_secs(10) {
            eprintln!("error: the router did not connect to the simulated Asterisk");
            return ExitCode::FAILURE;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;

    let mut stories: BTreeMap<String, Story> = BTreeMap::new();
    let mut numbers: BTreeMap<String, usize> = BTreeMap::new(); // call id → script index
    let start = Instant::now();
    let mut placed = 0;
    let mut next_call = tokio::time::Instant::now();
    let deadline = start + Duration::from_secs(30);
    loop {
        if placed < CALLS.len() && tokio::time::Instant::now() >= next_call {
            let s = &CALLS[placed];
            let mut call = InboundCall::new(s.app, s.number, s.exten);
            call.caller_name = format!("Caller {}", placed + 1);
            call.args = vec![s.exten.into()];
            call.behaviour.hangup_after = s.hangup_after_ms.map(Duration::from_millis);
            sim.place_call(&call);
            if !quiet {
                println!(
                    "{:7.3} s  placing call {}: {} dials {} (who {})",
                    start.elapsed().as_secs_f64(),
                    placed + 1,
                    s.number,
                    s.exten,
                    s.what
                );
            }
            placed += 1;
            next_call += Duration::from_millis(300);
        }
        let ended = stories.values().filter(|s| s.ended).count();
        if placed == CALLS.len() && ended == CALLS.len() {
            break;
        }
        if Instant::now() > deadline {
            eprintln!(
                "error: the demo did not finish within 30 s: {} of {} calls still up",
                CALLS.len() - ended,
                CALLS.len()
            );
            let _ = stop.send(true);
            return ExitCode::FAILURE;
        }
        let wait = tokio::time::sleep_until(next_call);
        let observation = tokio::select! {
            o = observations.recv() => o,
            _ = wait, if placed < CALLS.len() => continue,
            _ = tokio::time::sleep(Duration::from_millis(200)) => continue,
        };
        let Some(observation) = observation else {
            break;
        };
        let t = start.elapsed().as_secs_f64();
        match observation {
            Observation::Opened {
                call, caller, args, ..
            } => {
                let index = numbers.len();
                numbers.insert(call.clone(), index);
                stories.insert(
                    call,
                    Story {
                        caller,
                        exten: args.first().cloned().unwrap_or_default(),
                        ..Story::default()
                    },
                );
            }
            Observation::Handled {
                call,
                event,
                commands,
                plugin_time,
            } => {
                let Some(story) = stories.get_mut(&call) else {
                    continue;
                };
                story.events += 1;
                story.plugin_time += plugin_time;
                match &event {
                    wit::Event::DialStatus(d) => match d.status {
                        wit::DialStatus::Answer => story.answered = true,
                        wit::DialStatus::Ringing | wit::DialStatus::Progress => {}
                        other => {
                            if story.settled.is_none() {
                                story.settled = Some(dial_status_name(other).to_string());
                            }
                        }
                    },
                    wit::Event::HungUp(h)
                        if h.channel == "caller" && !story.answered && story.settled.is_none() =>
                    {
                        story.caller_left_first = true;
                    }
                    _ => {}
                }
                if !quiet {
                    let n = numbers.get(&call).map_or(0, |i| i + 1);
                    let reply = match commands.is_empty() {
                        true => "(nothing)".to_string(),
                        false => commands
                            .iter()
                            .map(command_text)
                            .collect::<Vec<_>>()
                            .join("; "),
                    };
                    println!(
                        "{t:7.3} s  call {n} {:<22} -> {reply}   [{:.0} µs]",
                        event_text(&event),
                        plugin_time.as_secs_f64() * 1e6
                    );
                }
            }
            Observation::PluginFailed {
                call,
                event,
                reason,
            } => {
                if let Some(story) = stories.get_mut(&call) {
                    story.failed = Some(reason.clone());
                }
                if !quiet {
                    let n = numbers.get(&call).map_or(0, |i| i + 1);
                    println!(
                        "{t:7.3} s  call {n} {}: plugin failed: {reason}",
                        event_text(&event)
                    );
                }
            }
            // Timings: the demo watches everything, so these do not come.
            Observation::PluginTime { .. } | Observation::Dialed { .. } => {}
            Observation::Ended { call, duration, .. } => {
                if let Some(story) = stories.get_mut(&call) {
                    story.ended = true;
                }
                if !quiet {
                    let n = numbers.get(&call).map_or(0, |i| i + 1);
                    println!(
                        "{t:7.3} s  call {n} ended after {:.1} s",
                        duration.as_secs_f64()
                    );
                }
            }
        }
    }
    let _ = stop.send(true);
    let _ = serving.await;

    println!();
    println!("summary");
    let mut by_outcome: BTreeMap<String, usize> = BTreeMap::new();
    let (mut events, mut time) = (0u32, Duration::ZERO);
    let mut ordered: Vec<(&usize, &Story)> = numbers
        .iter()
        .filter_map(|(id, i)| stories.get(id).map(|s| (i, s)))
        .collect();
    ordered.sort_by_key(|(i, _)| **i);
    for (i, story) in ordered {
        println!(
            "  call {}  {} -> {:<17} {:<30} {} events, plugin {:.0} µs/event",
            i + 1,
            story.caller,
            story.exten,
            story.outcome(),
            story.events,
            story.plugin_time.as_secs_f64() * 1e6 / f64::from(story.events.max(1))
        );
        *by_outcome.entry(story.outcome()).or_default() += 1;
        events += story.events;
        time += story.plugin_time;
    }
    let ended = stories.values().filter(|s| s.ended).count();
    println!("calls: {placed} placed, {ended} ended");
    println!(
        "outcomes: {}",
        by_outcome
            .iter()
            .map(|(o, n)| format!("{o} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "plugin time per event: {:.0} µs mean over {events} events (fresh instance + handle{})",
        time.as_secs_f64() * 1e6 / f64::from(events.max(1)),
        if cfg!(debug_assertions) {
            "; a debug build: `cargo bench -p callwasm --bench plugin_dispatch` measures an optimised one"
        } else {
            ""
        }
    );
    println!(
        "left in the simulated Asterisk: {} channels, {} bridges",
        sim.channel_ids().len(),
        sim.bridge_ids().len()
    );
    ExitCode::SUCCESS
}
