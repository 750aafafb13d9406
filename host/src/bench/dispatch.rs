//! Plugin dispatch: what one event costs in the runtime, per shipped plugin and per language,
//! with a fresh instance per event (the default) and with a warm one, next to early-dial's
//! decision compiled natively into the router.

use super::native;
use crate::runtime::{
    Call, Channel, ChannelState, CodeCache, DialplanLocation, Event, InstanceMode, Invocation,
    Limits, Party, Plugin, Runtime, RuntimeConfig, Settings,
};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A component to measure and the settings its `started` is called with.
pub struct Subject {
    pub plugin: String,
    pub language: String,
    pub path: PathBuf,
    pub settings: Settings,
    /// Commands its reply to `started` must hold (checks the plugin really did its work).
    pub commands: usize,
}

/// One row of the dispatch table.
#[derive(Debug, Clone, Serialize)]
pub struct DispatchFigure {
    pub plugin: String,
    pub language: String,
    pub component_bytes: u64,
    pub events: usize,
    pub fresh_p50_us: f64,
    pub fresh_p99_us: f64,
    pub reuse_p50_us: f64,
    pub reuse_p99_us: f64,
}

/// early-dial's decision without WebAssembly, and the ratios to it.
#[derive(Debug, Clone, Serialize)]
pub struct NativeFigure {
    pub events: usize,
    pub native_p50_us: f64,
    pub native_p99_us: f64,
    /// early-dial fresh p50 / native p50.
    pub fresh_ratio: f64,
    /// early-dial reuse p50 / native p50.
    pub reuse_ratio: f64,
}

/// The settings the seed flow's tenant gives early-dial (caller ID, a variable, a timeout).
pub fn early_dial_settings() -> Settings {
    [
        ("caller_id_number", "5551000"),
        ("caller_id_name", "callwasm bench"),
        ("vars", "X_TENANT=bench"),
        ("dial_timeout", "30"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The hunt group's settings: two members, one after the other.
pub fn hunt_group_settings() -> Settings {
    [("members", "PJSIP/alice,PJSIP/bob"), ("ring_timeout", "15")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A call as it is when it starts: the caller ringing in, dialing `agent`.
pub fn started_call() -> Call {
    Call {
        id: "bench-1".into(),
        tenant: "bench".into(),
        args: vec!["agent".into()],
        channels: vec![Channel {
            handle: "caller".into(),
            name: "PJSIP/sipp-00000001".into(),
            state: ChannelState::Ring,
            caller: Party {
                name: "Alice".into(),
                number: "5550100".into(),
            },
            connected: Party {
                name: String::new(),
                number: String::new(),
            },
            dialplan: Some(DialplanLocation {
                context: "from-sipp".into(),
                extension: "agent".into(),
                priority: 1,
            }),
        }],
        bridges: vec![],
        state: vec![],
        now_ms: 1_700_000_000_000,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

/// p50 and p99 in µs of `events` calls of `f`, after a tenth as many to warm up.
fn time(events: usize, mut f: impl FnMut()) -> (f64, f64) {
    for _ in 0..events / 10 + 1 {
        f();
    }
    let mut times = Vec::with_capacity(events);
    for _ in 0..events {
        let t = Instant::now();
        f();
        times.push(t.elapsed());
    }
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.99))
}

fn handle(
    plugin: &Plugin,
    mode: InstanceMode,
    call: &Call,
    settings: &Arc<Settings>,
    limits: &Limits,
) -> Result<usize, String> {
    plugin
        .handle(Invocation {
            event: &Event::Started,
            call,
            settings: settings.clone(),
            tag: Arc::from("bench/bench-1"),
            limits,
            mode,
            slots: None,
        })
        .map(|r| r.commands.len())
        .map_err(|e| e.to_string())
}

/// Measures one subject: `events` `started` events fresh, then as many warm.
pub fn measure(
    runtime: &Runtime,
    subject: &Subject,
    events: usize,
) -> Result<DispatchFigure, String> {
    let bytes = std::fs::read(&subject.path)
        .map_err(|e| format!("cannot read {}: {e}", subject.path.display()))?;
    let plugin = runtime
        .load(&subject.plugin, &bytes)
        .map_err(|e| format!("{}: {e}", subject.path.display()))?;
    let call = started_call();
    let settings = Arc::new(subject.settings.clone());
    let limits = Limits::default();
    let mut failure = None;
    let mut run = |mode: InstanceMode| {
        time(events, || {
            match handle(&plugin, mode, &call, &settings, &limits) {
                Ok(n) if n == subject.commands => {}
                Ok(n) => {
                    failure = Some(format!(
                        "{} ({}): {n} commands, expected {}",
                        subject.plugin, subject.language, subject.commands
                    ))
                }
                Err(e) => failure = Some(format!("{} ({}): {e}", subject.plugin, subject.language)),
            }
        })
    };
    let (fresh_p50_us, fresh_p99_us) = run(InstanceMode::Fresh);
    let (reuse_p50_us, reuse_p99_us) = run(InstanceMode::Reuse { max_uses: u32::MAX });
    if let Some(f) = failure {
        return Err(f);
    }
    Ok(DispatchFigure {
        plugin: subject.plugin.clone(),
        language: subject.language.clone(),
        component_bytes: bytes.len() as u64,
        events,
        fresh_p50_us,
        fresh_p99_us,
        reuse_p50_us,
        reuse_p99_us,
    })
}

/// early-dial natively, checked to give the same commands as the component.
pub fn native(
    runtime: &Runtime,
    early_dial: &std::path::Path,
    figure: &DispatchFigure,
    events: usize,
) -> Result<NativeFigure, String> {
    let bytes = std::fs::read(early_dial)
        .map_err(|e| format!("cannot read {}: {e}", early_dial.display()))?;
    let plugin = runtime
        .load("early-dial", &bytes)
        .map_err(|e| e.to_string())?;
    let call = started_call();
    let settings = early_dial_settings();
    let wasm = plugin
        .handle(Invocation {
            event: &Event::Started,
            call: &call,
            settings: Arc::new(settings.clone()),
            tag: Arc::from("bench/bench-1"),
            limits: &Limits::default(),
            mode: InstanceMode::Fresh,
            slots: None,
        })
        .map_err(|e| e.to_string())?;
    let natively = native::early_dial_started(&call, &settings)?;
    if natively != wasm.commands {
        return Err(format!(
            "the native early-dial differs from the component: {natively:?} vs {:?}",
            wasm.commands
        ));
    }
    let (native_p50_us, native_p99_us) = time(events, || {
        std::hint::black_box(native::early_dial_started(
            std::hint::black_box(&call),
            std::hint::black_box(&settings),
        ))
        .ok();
    });
    Ok(NativeFigure {
        events,
        native_p50_us,
        native_p99_us,
        fresh_ratio: figure.fresh_p50_us / native_p50_us.max(1e-3),
        reuse_ratio: figure.reuse_p50_us / native_p50_us.max(1e-3),
    })
}

/// A runtime with its own empty code cache in `dir` (measures never depend on an old cache).
pub fn runtime(dir: &std::path::Path) -> Result<Runtime, String> {
    Runtime::new(RuntimeConfig {
        cache: Some(CodeCache::new(dir)),
        ..RuntimeConfig::default()
    })
    .map_err(|e| e.to_string())
}
