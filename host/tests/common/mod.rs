//! Shared by the host's tests and benches: finds (and if needed builds) the plugin components
//! from this repository's sources, and makes the records the plugins are called with.
#![allow(dead_code)]

use callwasm::runtime::{
    Call, Channel, ChannelState, DialplanLocation, Event, InstanceMode, Invocation, Limits, Party,
    Plugin, PluginError, Reply, Runtime, RuntimeConfig, Settings,
};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"))
}

/// The component built from the workspace crate `package`, built first if it is missing or
/// stale (cargo decides; a fresh build is a no-op).
pub fn plugin_path(package: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap();
    if let Some(path) = built.get(package) {
        return path.clone();
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(workspace())
        .args([
            "build",
            "--profile",
            "plugin",
            "--target",
            "wasm32-wasip2",
            "-p",
            package,
        ])
        .status()
        .expect("run cargo to build a plugin");
    assert!(
        status.success(),
        "building plugin {package} failed (is the wasm32-wasip2 target installed? scripts/build-plugins installs it)"
    );
    let path = target_dir()
        .join("wasm32-wasip2/plugin")
        .join(format!("{}.wasm", package.replace('-', "_")));
    assert!(path.exists(), "{} missing after build", path.display());
    built.insert(package.to_string(), path.clone());
    path
}

/// A runtime without a disk cache, so tests never depend on what an earlier run left.
pub fn runtime() -> Runtime {
    Runtime::new(RuntimeConfig {
        cache: None,
        ..RuntimeConfig::default()
    })
    .expect("runtime")
}

pub fn load(runtime: &Runtime, package: &str) -> Plugin {
    runtime
        .load_file(&plugin_path(package))
        .unwrap_or_else(|e| panic!("load {package}: {e}"))
}

pub fn party(name: &str, number: &str) -> Party {
    Party {
        name: name.into(),
        number: number.into(),
    }
}

/// The inbound channel as it is when a call starts: ringing in, dialed `exten`.
pub fn caller(exten: &str) -> Channel {
    Channel {
        handle: "caller".into(),
        name: "PJSIP/sipp-00000001".into(),
        state: ChannelState::Ring,
        caller: party("Alice", "5550100"),
        connected: party("", ""),
        dialplan: Some(DialplanLocation {
            context: "from-sipp".into(),
            extension: exten.into(),
            priority: 1,
        }),
    }
}

/// The outgoing leg as the host reports it once created.
pub fn leg(handle: &str, state: ChannelState) -> Channel {
    Channel {
        handle: handle.into(),
        name: "PJSIP/alice-00000002".into(),
        state,
        caller: party("", ""),
        connected: party("", ""),
        dialplan: None,
    }
}

pub fn call(args: &[&str], channels: Vec<Channel>) -> Call {
    Call {
        id: "call-1".into(),
        tenant: "acme".into(),
        args: args.iter().map(|a| a.to_string()).collect(),
        channels,
        bridges: vec![],
        state: vec![],
        now_ms: 1_700_000_000_000,
    }
}

pub fn settings(pairs: &[(&str, &str)]) -> Arc<Settings> {
    Arc::new(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

/// One `handle` call in the given mode.
pub fn handle_in(
    plugin: &Plugin,
    mode: InstanceMode,
    event: &Event,
    call: &Call,
    settings: &Arc<Settings>,
    limits: &Limits,
) -> Result<Reply, PluginError> {
    plugin.handle(Invocation {
        event,
        call,
        settings: settings.clone(),
        tag: Arc::from("test/call-1"),
        limits,
        mode,
        slots: None,
    })
}

/// One `handle` call in `fresh` mode with default limits.
pub fn handle(
    plugin: &Plugin,
    event: &Event,
    call: &Call,
    settings: &Arc<Settings>,
) -> Result<Reply, PluginError> {
    handle_in(
        plugin,
        InstanceMode::Fresh,
        event,
        call,
        settings,
        &Limits::default(),
    )
}

/// The hunt group built from each language's sources: (language, component). The Rust one is
/// plugins/hunt-group; Python and JavaScript come from examples/ through scripts/build-examples
/// (which installs the pinned componentize-py and jco when missing and builds only what is
/// stale), run once per test process.
pub fn hunt_groups() -> Vec<(&'static str, PathBuf)> {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let status = Command::new(workspace().join("scripts/build-examples"))
            .current_dir(workspace())
            .env("CARGO_TARGET_DIR", target_dir())
            .status()
            .expect("run scripts/build-examples");
        assert!(status.success(), "scripts/build-examples failed");
    });
    let examples = target_dir().join("examples-wasm");
    vec![
        ("rust", plugin_path("hunt-group")),
        ("python", examples.join("python_hunt_group.wasm")),
        ("javascript", examples.join("js_hunt_group.wasm")),
    ]
}
