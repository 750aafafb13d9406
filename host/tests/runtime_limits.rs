//! Misbehaving plugins, built from tests/plugins/rogue, are stopped with an error that names
//! the cause, and the engine goes on serving. How fast they are stopped is a figure of the
//! isolation bench, not a pass/fail bound here: on a busy machine any timer can be late.

mod common;

use callwasm::runtime::{Event, InstanceMode, Limits, PluginError, Runtime};
use common::*;
use std::time::{Duration, Instant};

/// A loop must be stopped by this deadline.
const DEADLINE: Duration = Duration::from_millis(100);

/// "Stopped, not left running": far beyond any deadline here, even on a loaded machine.
const FOREVER: Duration = Duration::from_secs(60);

fn limits() -> Limits {
    Limits {
        memory_bytes: 48 << 20,
        deadline: DEADLINE,
        ..Limits::default()
    }
}

/// For every misbehaviour but the loop: a deadline no busy machine reaches, so that only the
/// limit under test can stop the plugin (a memory bomb on a loaded machine can take longer than
/// 100 ms to reach its limit, and then the deadline would win the race).
fn patient() -> Limits {
    Limits {
        deadline: FOREVER,
        ..limits()
    }
}

/// Runs the rogue plugin told to `misbehave`, returns its error and how long it took.
fn misbehave(rt: &Runtime, mode: InstanceMode, how: &str) -> (PluginError, Duration) {
    let limits = if how == "loop" { limits() } else { patient() };
    let plugin = load(rt, "rogue");
    let started = Instant::now();
    let result = handle_in(
        &plugin,
        mode,
        &Event::Started,
        &call(&[], vec![caller("100")]),
        &settings(&[("misbehave", how)]),
        &limits,
    );
    let took = started.elapsed();
    (result.expect_err("the plugin must fail"), took)
}

/// The same engine still serves a well-behaved call.
fn still_serving(rt: &Runtime, mode: InstanceMode) {
    let plugin = load(rt, "early-dial");
    let reply = handle_in(
        &plugin,
        mode,
        &Event::Started,
        &call(&["alice"], vec![caller("100")]),
        &settings(&[]),
        &limits(),
    )
    .expect("a good call after a bad one");
    assert_eq!(
        reply.commands.len(),
        4,
        "create, bridge-create, bridge-add, dial"
    );
}

fn check(mode: InstanceMode) {
    let rt = runtime();
    let (err, _) = misbehave(&rt, mode, "trap");
    let PluginError::Trap { message } = &err else {
        panic!("trap: got {err:?}");
    };
    assert!(message.contains("unreachable"), "{message}");
    assert!(
        message.contains("rogue: told to trap"),
        "the panic message reaches the error: {message}"
    );
    still_serving(&rt, mode);

    let (err, took) = misbehave(&rt, mode, "loop");
    assert_eq!(
        err,
        PluginError::DeadlineExceeded(Duration::from_millis(100))
    );
    assert_eq!(
        err.to_string(),
        "deadline exceeded: still running after 100ms"
    );
    assert!(took >= DEADLINE, "stopped early: {took:?}");
    assert!(took < FOREVER, "the loop was left running: {took:?}");
    still_serving(&rt, mode);

    let (err, _) = misbehave(&rt, mode, "memory");
    assert_eq!(err, PluginError::MemoryLimit { limit: 48 << 20 });
    assert!(err.to_string().starts_with("memory limit"), "{err}");
    still_serving(&rt, mode);

    let (err, _) = misbehave(&rt, mode, "recursion");
    assert_eq!(err, PluginError::StackOverflow);
    still_serving(&rt, mode);

    let (err, _) = misbehave(&rt, mode, "flood");
    assert_eq!(
        err,
        PluginError::TooManyCommands {
            count: 100_000,
            limit: 1000
        }
    );
    assert_eq!(
        err.to_string(),
        "too many commands: 100000 in one reply, the limit is 1000"
    );
    still_serving(&rt, mode);

    let (err, _) = misbehave(&rt, mode, "error");
    assert_eq!(err, PluginError::Returned("rogue: told to fail".into()));
    still_serving(&rt, mode);
}

#[test]
fn misbehaving_plugins_are_contained_in_fresh_mode() {
    check(InstanceMode::Fresh);
}

#[test]
fn misbehaving_plugins_are_contained_in_reuse_mode() {
    check(InstanceMode::Reuse { max_uses: 1000 });
}

#[test]
fn a_reused_instance_that_failed_is_not_reused() {
    let rt = runtime();
    let plugin = load(&rt, "rogue");
    let mode = InstanceMode::Reuse { max_uses: 1000 };
    let c = call(&[], vec![caller("100")]);
    // The rogue plugin keeps nothing in memory, so a reused instance answers like a fresh
    // one; after a trap the next call must still answer normally.
    let good = settings(&[]);
    let bad = settings(&[("misbehave", "trap")]);
    let ok = handle_in(&plugin, mode, &Event::Started, &c, &good, &limits()).expect("ok");
    assert_eq!(ok.commands.len(), 1);
    handle_in(&plugin, mode, &Event::Started, &c, &bad, &limits()).expect_err("trap");
    let again = handle_in(&plugin, mode, &Event::Started, &c, &good, &limits()).expect("ok again");
    assert_eq!(again.commands, ok.commands);
}

#[test]
fn behaving_until_told_then_failing_on_a_later_event() {
    let rt = runtime();
    let plugin = load(&rt, "rogue");
    let conf = settings(&[("misbehave", "trap"), ("after", "1")]);
    let c = call(&[], vec![caller("100")]);
    let first = handle(&plugin, &Event::Started, &c, &conf).expect("first event behaves");
    let mut next = c.clone();
    next.state = first.state.expect("state");
    let err = handle(&plugin, &Event::Timer("t".into()), &next, &conf).expect_err("second traps");
    assert_eq!(err.kind(), "trap");
}
